/*
 * A captured process credential, shared by the sockets that carry it. This is
 * the private seam between ucred/ (which captures and hands them out) and
 * the layers above (which attach them to sockets and send them across links:
 * provider.h). Nothing here knows lwIP.
 */
#ifndef UCS_UCRED_CRED_H
#define UCS_UCRED_CRED_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define UCS_CRED_LABEL_MAX 256

struct ucs_cred {
    uint32_t refs;
    pid_t pid;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    uint32_t ngroups;
    gid_t *groups;                  /* ngroups entries, owned */
    char label[UCS_CRED_LABEL_MAX]; /* security label, "" when the process has none */
    /* A peer's credential: a pidfd of the process the kernel attested (NULL
     * for our own). */
    struct ucs_pidfd *pidfd;
    /* Where cred_table.c published it for peers to read (gen 0: not yet;
     * read and cleared atomically: a release may run on any thread). */
    uint16_t table_slot;
    uint32_t table_gen;
    struct ucs_cred *next_dead; /* on cred_table.c's list of entries to withdraw */
};

/* Copies what a credential states (pid, ids, groups, label) from one of its
 * forms to another: struct ucs_cred, a ucred_t (ucred.c), a claim
 * (credlink/claim.c). The one list of its fields; to must have room for
 * from's groups. */
#define UCS_CRED_COPY(to, from)                                                                                        \
    do {                                                                                                               \
        (to)->pid = (from)->pid;                                                                                       \
        (to)->ruid = (from)->ruid;                                                                                     \
        (to)->euid = (from)->euid;                                                                                     \
        (to)->suid = (from)->suid;                                                                                     \
        (to)->rgid = (from)->rgid;                                                                                     \
        (to)->egid = (from)->egid;                                                                                     \
        (to)->sgid = (from)->sgid;                                                                                     \
        (to)->ngroups = (from)->ngroups;                                                                               \
        if ((from)->ngroups)                                                                                           \
            memcpy((to)->groups, (from)->groups, (from)->ngroups * sizeof(gid_t));                                     \
        memcpy((to)->label, (from)->label, sizeof((to)->label));                                                       \
    } while (0)

/* The calling process's credential. Shared with the last capture while no
 * set*id() or setgroups() call went through libc since (capture.c): no system
 * call then. NULL with errno ENOMEM/EAGAIN. */
struct ucs_cred *ucs_cred_capture(void);
struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred);
/* A new reference unless the last one is gone already (then NULL). */
struct ucs_cred *ucs_cred_hold_live(struct ucs_cred *cred);
/* Any thread may drop the last reference: a published credential is then
 * withdrawn from the table by the stack's own thread (cred_table.h). */
void ucs_cred_release(struct ucs_cred *cred);
/* Frees a credential no one holds any more. */
void ucs_cred_free(struct ucs_cred *cred);
/* getpid(), without a system call after the first (capture.c). */
pid_t ucs_cred_own_pid(void);

#endif
