/*
 * A credential as its owner states it, in a fixed-size form that can sit in
 * memory shared with a peer: local sockets put one per side in their shared
 * memory, and each entry of the credential table (cred_table.c) is one. A
 * claim read back is believed only as far as the kernel vouches for its
 * writer: the rule of the credential table (root may claim any identity;
 * anyone else only its own uid, as real, effective and saved uid, and its own
 * pid).
 */
#ifndef UCS_UCRED_CLAIM_H
#define UCS_UCRED_CLAIM_H

#include "cred.h"
#include "cred_table.h"

#include <stdint.h>
#include <sys/types.h>

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

/* Turns a private copy of a peer's claim into a credential (a new reference),
 * given what the kernel attests about the peer (SO_PEERCRED). UCS_CRED_STALE:
 * the claim is malformed; UCS_CRED_UNTRUSTED: the peer could not hold it. */
enum ucs_cred_verdict ucs_cred_claim_resolve(const struct ucs_cred_claim *copy, pid_t kernel_pid, uid_t kernel_uid,
                                             struct ucs_cred **out);

#endif
