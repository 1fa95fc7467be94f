/*
 * What the kernel attests about the process at the other end of a kernel
 * AF_UNIX socket: its pid and a pidfd (so that a later process with the same
 * pid is never taken for it), its supplementary groups (SO_PEERGROUPS), its
 * security label (SO_PEERSEC: none when the kernel gives none), and its real,
 * effective and saved uids and gids as they are now (PIDFD_GET_INFO through the
 * pidfd; /proc under the pidfd on kernels before 6.13). A claim a peer makes
 * is believed only within this (claim.h).
 */
#ifndef UCS_UCRED_ATTESTED_H
#define UCS_UCRED_ATTESTED_H

#include "cred.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* How old a reading of a peer's ids may be and still judge a claim, in ms.
 * A peer that gives up root is held to its new ids at most this long (plus
 * one tick of the coarse clock, 4 ms at most) after it did: see
 * docs/credentials.md. */
#define UCS_ATTESTED_FRESH_MS 10
/* How often a timer reads them again while claims come (credlink/cred_option.c),
 * so that a claim finds a reading younger than UCS_ATTESTED_FRESH_MS and no
 * connection waits for one. */
#define UCS_ATTESTED_REFRESH_MS (UCS_ATTESTED_FRESH_MS / 2)

/* A pidfd shared by the attestation and every credential resolved through it:
 * handing it to a ucred_t takes a reference, not a dup() (no system call per
 * getpeerucred()). Closed when the last holder lets go, on any thread. */
struct ucs_pidfd {
    uint32_t refs;
    int fd;
};
struct ucs_pidfd *ucs_pidfd_hold(struct ucs_pidfd *p);
void ucs_pidfd_release(struct ucs_pidfd *p);

struct ucs_attested {
    pid_t pid;
    struct ucs_pidfd *pidfd;
    uid_t uids[3]; /* real, effective, saved: the last live reading */
    gid_t gids[3];
    uint64_t read_ms; /* when they were read (coarse monotonic clock) */
    uint32_t ids_gen; /* bumped when a reading finds other ids: a judgement made with them stands until then */
    uint32_t ngroups;
    gid_t *groups; /* owned */
    bool labelled;
    char label[UCS_CRED_LABEL_MAX];
};

/* Fills *k from what the kernel says about fd's peer, and reads its ids live.
 * 0, or -1 with errno (ESRCH: the peer has exited; ENOTCONN). */
int ucs_attested_of_socket(int fd, struct ucs_attested *k);
/* Lets go of what *k holds (its groups and pidfd). */
void ucs_attested_clear(struct ucs_attested *k);
/* Reads the ids again when the reading is older than UCS_ATTESTED_FRESH_MS.
 * false when the process has exited or cannot be read. */
bool ucs_attested_fresh(struct ucs_attested *k);
/* Reads the ids again when the reading is UCS_ATTESTED_REFRESH_MS old (the
 * timer's side); when that fails (the process exited), the next
 * ucs_attested_fresh() reads again, and fails too. */
void ucs_attested_refresh(struct ucs_attested *k);
/* Whether the process may take on any identity: any of its three uids is 0. */
bool ucs_attested_root(const struct ucs_attested *k);

/* SO_PEERGROUPS into few when they fit, else into an array allocated to the
 * size the kernel asks for (*groups, freed by the caller when it is not few). */
int ucs_socket_peer_groups(int fd, gid_t *few, uint32_t nfew, gid_t **groups, uint32_t *ngroups);
/* SO_PEERSEC; *labelled false (label "") when the kernel gives none, or one
 * too long to hold whole. */
int ucs_socket_peer_label(int fd, char label[UCS_CRED_LABEL_MAX], bool *labelled);

#endif
