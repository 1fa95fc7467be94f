/*
 * ucred_get(): a process's credential. The caller's comes from the system
 * calls that tell it; another process's from /proc/<pid>/status, read while a
 * pidfd pins the process, so a pid reused meanwhile is never reported as the
 * process that had it.
 */
#include "ucred_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

/* Whether the process behind pidfd still holds its pid: a zombie does, a
 * reaped process does not. EPERM says it exists but we may not signal it. */
static bool still_there(int pidfd)
{
    return pidfd_send_signal(pidfd, 0, NULL, 0) == 0 || errno != ESRCH;
}

/* The caller needs no pin against pid reuse, so it goes without a pidfd where
 * the kernel has no pidfd_open() (ENOSYS) or a seccomp filter refuses it (EPERM). */
static ucred_t *ucred_of_caller(void)
{
    ucred_t *uc = NULL;
    struct ucs_cred *cred = ucs_cred_capture();
    int pidfd, err;

    if (cred == NULL)
        return NULL;
    pidfd = pidfd_open(cred->pid, 0);
    if (pidfd >= 0 || errno == ENOSYS || errno == EPERM) {
        if (ucred_store(&uc, cred, pidfd) != 0 && pidfd >= 0) {
            err = errno;
            close(pidfd);
            errno = err;
        }
    }
    ucs_cred_release(cred);
    return uc;
}

/* "Uid:\t<real>\t<effective>\t<saved>\t<filesystem>", likewise "Gid:". */
static void parse_ids(const char *text, unsigned *real, unsigned *effective, unsigned *saved)
{
    unsigned r, e, s;

    if (sscanf(text, "%u %u %u", &r, &e, &s) == 3) {
        *real = r;
        *effective = e;
        *saved = s;
    }
}

/* "Groups:\t<gid> <gid> ... " (empty when there are none). */
static int parse_groups(const char *text, ucred_t *uc)
{
    size_t n = 0;
    char *end;

    for (;;) {
        unsigned long gid = strtoul(text, &end, 10);
        if (end == text)
            break;
        if (n == ucred_groups_max()) {
            errno = ENOMEM;
            return -1;
        }
        uc->groups[n++] = (gid_t)gid;
        text = end;
    }
    uc->ngroups = (int)n;
    return 0;
}

static int parse_status(FILE *status, ucred_t *uc)
{
    char *line = NULL;
    size_t size = 0;
    int rc = 0;

    while (rc == 0 && getline(&line, &size, status) > 0) {
        if (strncmp(line, "Uid:", 4) == 0)
            parse_ids(line + 4, &uc->ruid, &uc->euid, &uc->suid);
        else if (strncmp(line, "Gid:", 4) == 0)
            parse_ids(line + 4, &uc->rgid, &uc->egid, &uc->sgid);
        else if (strncmp(line, "Groups:", 7) == 0)
            rc = parse_groups(line + 7, uc);
    }
    free(line);
    return rc;
}

/* Fills uc from /proc while pidfd pins pid. A /proc entry that has vanished
 * though the process has not is one we may not see (hidepid): EACCES. */
static int read_proc(pid_t pid, int pidfd, ucred_t *uc)
{
    char path[64];
    FILE *status;
    int rc;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    status = fopen(path, "re");
    if (status == NULL) {
        if (errno == ENOENT)
            errno = still_there(pidfd) ? EACCES : ESRCH;
        return -1;
    }
    rc = parse_status(status, uc);
    fclose(status);
    if (rc != 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/attr/current", (int)pid);
    ucred_read_label(path, uc->label);
    if (!still_there(pidfd)) {
        errno = ESRCH;
        return -1;
    }
    uc->pid = pid;
    return 0;
}

static ucred_t *ucred_of_process(pid_t pid)
{
    ucred_t *uc;
    int pidfd = pidfd_open(pid, 0), err;

    /* pidfd_open() refuses a thread that does not lead its process: not a pid. */
    if (pidfd < 0) {
        if (errno == EINVAL)
            errno = ESRCH;
        return NULL;
    }
    uc = ucred_alloc();
    if (uc != NULL && read_proc(pid, pidfd, uc) == 0) {
        uc->pidfd = pidfd;
        return uc;
    }
    err = errno;
    ucred_free(uc);
    close(pidfd);
    errno = err;
    return NULL;
}

ucred_t *ucred_get(pid_t pid)
{
    if (pid == P_MYID)
        return ucred_of_caller();
    if (pid < 0) {
        errno = EINVAL;
        return NULL;
    }
    return ucred_of_process(pid);
}
