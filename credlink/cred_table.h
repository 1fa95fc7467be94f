/*
 * The credential table: each stack instance publishes the credentials its
 * sockets carry in memory it makes (a sealed memfd) and hands to the process
 * attested at the other end of each host-local link, over the attestation
 * socket (attest.c). A TCP option then needs to carry only (pid, slot,
 * generation); the peer reads the whole credential, group list and label
 * included, from the table it was handed, and believes it only within what the
 * kernel attests about the process that handed it (claim.h). No table is ever
 * found by a name.
 */
#ifndef UCS_CREDLINK_CRED_TABLE_H
#define UCS_CREDLINK_CRED_TABLE_H

#include "claim.h" /* a table entry is a claim; enum ucs_cred_verdict */
#include "cred.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ucs_cred_ref {
    pid_t pid;
    uint16_t slot;
    uint32_t gen;
};

/* Creates this process's table. The calling thread holds its liveness mark
 * (a robust mutex in the table) for the table's life: it must be the stack's
 * thread, and outlive it (when it exits, peers stop believing the table).
 * Returns 0 or a negative errno. */
int ucs_cred_table_open(void);
/* Withdraws every entry and lets the table go (on the thread that opened it,
 * which then unmaps it; on another, the mapping stays, unused). */
void ucs_cred_table_close(void);
/* The table's memfd, to hand to a peer; -1 when there is none. */
int ucs_cred_table_fd(void);

/* Publishes cred (once; later calls return the same reference). Returns 0, or
 * -1 when the table is full, absent, or the credential too large to publish.
 * The stack's thread only. */
int ucs_cred_table_publish(struct ucs_cred *cred, struct ucs_cred_ref *ref);
/* The release hook (ucred/provider.h): a published credential whose last
 * reference went (on any thread) is taken, to be withdrawn and freed at the
 * next ucs_cred_table_reap(); false for one never published. Lock-free. */
bool ucs_cred_table_defer(struct ucs_cred *cred);
/* Withdraws and frees what was deferred. The stack's thread, each poll step. */
void ucs_cred_table_reap(void);

/* Resolves a reference to our own table (the loopback path) to the credential
 * object itself (a new reference the caller releases). */
enum ucs_cred_verdict ucs_cred_table_resolve(const struct ucs_cred_ref *ref, struct ucs_cred **out);

/* A peer's table, mapped read-only from the descriptor it handed over. */
struct ucs_peer_table;
/* Takes a descriptor a peer handed over (closing it): NULL unless it is a
 * memfd of a table's exact size, sealed so that no one can shrink, grow or
 * newly map it writable, whose header names pid. Mapping it is safe: sealed
 * against shrinking, it cannot SIGBUS us. */
struct ucs_peer_table *ucs_peer_table_adopt(int fd, pid_t pid);
void ucs_peer_table_close(struct ucs_peer_table *t);

struct ucs_attest_peer;
/* Resolves a reference that came across a link whose other end the kernel
 * attested (credlink/attest.h), in the table that process handed over, judged
 * by what the kernel says of it (its ids read live, at most
 * UCS_ATTESTED_FRESH_MS old). A NULL peer (the link is not attested)
 * vouches for nothing; nor does a table whose maker has exited (its liveness
 * mark, read in memory: no system call). */
enum ucs_cred_verdict ucs_cred_table_resolve_from(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                  struct ucs_cred **out);

#endif
