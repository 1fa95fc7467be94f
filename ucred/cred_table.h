/*
 * The credential table: each stack instance publishes the credentials its
 * sockets carry in a shared-memory file, /dev/shm/ucstack-cred-<pid>, owned by
 * the instance's user and readable by its peers on the host. A TCP option then
 * needs to carry only (pid, slot, generation); the peer reads the whole
 * credential, group list and label included, from the table. The file's owner
 * is attested by the kernel, and a table can only be trusted for identities its
 * owner could hold (root's for any).
 */
#ifndef UCS_UCRED_CRED_TABLE_H
#define UCS_UCRED_CRED_TABLE_H

#include "cred.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define UCS_CRED_TABLE_GROUPS 1024 /* a credential with more groups is not published */

struct ucs_cred_ref {
    pid_t pid;
    uint16_t slot;
    uint32_t gen;
};

/* Creates this process's table (replacing a stale one of a dead process with
 * our pid). Returns 0 or a negative errno. */
int ucs_cred_table_open(void);
void ucs_cred_table_close(void);

/* Publishes cred (once; later calls return the same reference). Returns 0, or
 * -1 when the table is full, absent, or the credential too large to publish. */
int ucs_cred_table_publish(struct ucs_cred *cred, struct ucs_cred_ref *ref);
/* Withdraws cred from the table: readers holding its old reference get nothing. */
void ucs_cred_table_withdraw(struct ucs_cred *cred);

enum ucs_cred_verdict {
    UCS_CRED_OK,
    UCS_CRED_STALE,      /* no such table, slot or generation */
    UCS_CRED_UNTRUSTED,  /* the table's owner could not hold that identity */
    UCS_CRED_UNATTESTED, /* not the process attested at the link's other end */
};
/* Resolves ref to a credential (a new reference the caller releases). */
enum ucs_cred_verdict ucs_cred_table_resolve(const struct ucs_cred_ref *ref, struct ucs_cred **out);

struct ucs_attest_peer;
/* The same, for a reference that came across a link whose other end the kernel
 * attested (ucred/attest.h): believed only when peer could vouch for it, and
 * only while it is alive. A NULL peer (the link is not attested) vouches for
 * nothing. The peer's own table stays open in peer (table_fd) for the next
 * reference, until the attestation ends. */
enum ucs_cred_verdict ucs_cred_table_resolve_from(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                  struct ucs_cred **out);

#endif
