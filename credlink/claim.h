/*
 * A credential as its owner states it, in a fixed-size form that can sit in
 * memory shared with a peer: local sockets put one per side in their shared
 * memory, and each entry of the credential table (cred_table.c) is one. A
 * claim read back is believed only as far as the kernel vouches for its
 * writer (attested.h), by one rule for TCP across a link and local sockets
 * alike (ucs_cred_claim_resolve).
 */
#ifndef UCS_CREDLINK_CLAIM_H
#define UCS_CREDLINK_CLAIM_H

#include "attested.h"
#include "cred.h"

#include <stdint.h>
#include <sys/types.h>

#define UCS_CRED_TABLE_GROUPS 1024 /* a credential with more groups is not published */

/* What resolving a claim, or a reference to one in a table, found. */
enum ucs_cred_verdict {
    UCS_CRED_OK,
    UCS_CRED_STALE,      /* no such table, slot or generation */
    UCS_CRED_UNTRUSTED,  /* the process that made the table could not hold that identity */
    UCS_CRED_UNATTESTED, /* not the process attested at the link's other end, or it is gone */
};

struct ucs_cred_claim {
    uint32_t pid, ruid, euid, suid, rgid, egid, sgid, ngroups;
    uint32_t groups[UCS_CRED_TABLE_GROUPS];
    char label[UCS_CRED_LABEL_MAX];
};

/* Fills claim from cred; -1 when cred has more groups than a claim holds. */
int ucs_cred_claim_write(struct ucs_cred_claim *claim, const struct ucs_cred *cred);

/* Turns a private copy of a claim into a credential (a new reference) as it
 * stands, vouching for nothing. UCS_CRED_STALE when the claim is malformed
 * (too many groups, no pid, an unterminated label) or memory is short. */
enum ucs_cred_verdict ucs_cred_claim_decode(const struct ucs_cred_claim *copy, struct ucs_cred **out);

/* Turns a private copy of a peer's claim into a credential (a new reference,
 * holding the peer's pidfd), given what the kernel attests about the peer:
 * - the pid must be the peer's;
 * - a peer none of whose three uids is 0 (in a reading the caller keeps
 *   fresh) must hold each claimed uid among its three uids, each claimed gid
 *   among its three gids, and exactly its groups; a root peer may claim any
 *   ids and groups (root can become anyone);
 * - the label is the kernel's: a claimed label other than the one the kernel
 *   gives is not believed from a non-root peer and dropped from a root one's
 *   claim, and where the kernel gives none the credential has none.
 * UCS_CRED_STALE: the claim is malformed; UCS_CRED_UNTRUSTED: the peer could
 * not hold it. */
enum ucs_cred_verdict ucs_cred_claim_resolve(const struct ucs_cred_claim *copy, const struct ucs_attested *kernel,
                                             struct ucs_cred **out);

#endif
