/*
 * A captured process credential, shared by the sockets that carry it. This is
 * the private seam between ucred/ (which captures and hands them out) and
 * the layers above (which attach them to sockets and send them across links:
 * provider.h). Nothing here knows lwIP.
 */
#ifndef UCS_UCRED_CRED_H
#define UCS_UCRED_CRED_H

#include <stdint.h>
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
    /* Where cred_table.c published it for peers to read (gen 0: not yet). */
    uint16_t table_slot;
    uint32_t table_gen;
};

/* The calling process's credential, now. NULL with errno ENOMEM/EAGAIN. */
struct ucs_cred *ucs_cred_capture(void);
struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred);
void ucs_cred_release(struct ucs_cred *cred);

#endif
