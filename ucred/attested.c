/* What the kernel says about a peer process (attested.h). */
/* memfd_create(), the seals, struct ucred; meson defines it, the fuzz build does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "attested.h"
#include "ucred_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* Linux 6.13's <linux/pidfd.h>; the headers here predate it. */
struct ucs_pidfd_info {
    uint64_t mask, cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid, spare0;
};
#define UCS_PIDFD_GET_INFO _IOWR(0xFF, 11, struct ucs_pidfd_info)
#define UCS_PIDFD_INFO_CREDS (1ull << 1)

#define FEW_GROUPS 64

struct ucs_pidfd *ucs_pidfd_hold(struct ucs_pidfd *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
    return p;
}

void ucs_pidfd_release(struct ucs_pidfd *p)
{
    if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    close(p->fd);
    free(p);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* the vDSO: no system call */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether the process behind the pidfd has exited (a zombie has). */
static bool exited(const struct ucs_attested *k)
{
    struct pollfd p = {.fd = k->pidfd->fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

/* The ids from /proc (ucred_get() reads them under a pidfd of its own); the
 * process read is ours only if ours is still alive after (the caller checks). */
static int read_ids_proc(pid_t pid, uid_t uids[3], gid_t gids[3])
{
    ucred_t *uc = ucred_get(pid);
    int rc = -1;

    if (uc) {
        uids[0] = uc->ruid, uids[1] = uc->euid, uids[2] = uc->suid;
        gids[0] = uc->rgid, gids[1] = uc->egid, gids[2] = uc->sgid;
        rc = 0;
    }
    ucred_free(uc);
    return rc;
}

/* A new reading, kept only whole: k's ids change only with ids_gen. */
static int read_ids(struct ucs_attested *k)
{
    struct ucs_pidfd_info info = {.mask = UCS_PIDFD_INFO_CREDS};
    uid_t uids[3];
    gid_t gids[3];

    if (ioctl(k->pidfd->fd, UCS_PIDFD_GET_INFO, &info) != 0) {
        if (errno != ENOTTY && errno != EINVAL)
            return -1; /* ESRCH: reaped */
        if (read_ids_proc(k->pid, uids, gids) != 0)
            return -1;
    } else if (!(info.mask & UCS_PIDFD_INFO_CREDS)) {
        errno = ESRCH;
        return -1;
    } else {
        uids[0] = info.ruid, uids[1] = info.euid, uids[2] = info.suid;
        gids[0] = info.rgid, gids[1] = info.egid, gids[2] = info.sgid;
    }
    /* The kernel still answers for a zombie: an exited process vouches for nothing. */
    if (exited(k)) {
        errno = ESRCH;
        return -1;
    }
    if (memcmp(uids, k->uids, sizeof(uids)) || memcmp(gids, k->gids, sizeof(gids))) {
        memcpy(k->uids, uids, sizeof(uids));
        memcpy(k->gids, gids, sizeof(gids));
        k->ids_gen++;
    }
    k->read_ms = now_ms();
    return 0;
}

bool ucs_attested_fresh(struct ucs_attested *k)
{
    return now_ms() <= k->read_ms + UCS_ATTESTED_FRESH_MS || read_ids(k) == 0;
}

void ucs_attested_refresh(struct ucs_attested *k)
{
    if (now_ms() >= k->read_ms + UCS_ATTESTED_REFRESH_MS && read_ids(k) != 0)
        k->read_ms = 0;
}

bool ucs_attested_root(const struct ucs_attested *k)
{
    return k->uids[0] == 0 || k->uids[1] == 0 || k->uids[2] == 0;
}

int ucs_socket_peer_groups(int fd, gid_t *few, uint32_t nfew, gid_t **groups, uint32_t *ngroups)
{
    socklen_t len = nfew * sizeof(gid_t);

    *groups = few;
    while (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, *groups, &len) != 0) {
        if (errno != ERANGE)
            return -1;
        if (*groups != few)
            free(*groups);
        if (!(*groups = ucred_mem_alloc(len)))
            return -1;
    }
    *ngroups = len / sizeof(gid_t);
    return 0;
}

int ucs_socket_peer_label(int fd, char label[UCS_CRED_LABEL_MAX], bool *labelled)
{
    socklen_t len = UCS_CRED_LABEL_MAX - 1;

    *labelled = false;
    label[0] = '\0';
    if (getsockopt(fd, SOL_SOCKET, SO_PEERSEC, label, &len) != 0) {
        label[0] = '\0';
        return errno == ENOPROTOOPT || errno == ERANGE ? 0 : -1;
    }
    while (len > 0 && label[len - 1] == '\0')
        len--;
    label[len] = '\0';
    *labelled = len > 0;
    return 0;
}

/* The pidfd of the socket's peer (Linux 6.5); before, pidfd_open() on its pid
 * while it still holds the socket. */
static int peer_pidfd(int fd, pid_t pid)
{
    socklen_t len = sizeof(int);
    int pidfd = -1;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0 && (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLRDHUP)))) {
            close(pidfd);
            errno = ESRCH;
            return -1;
        }
    }
    return pidfd;
}

/* The groups, in an array of exactly their number owned by k (NULL for none). */
static int keep_peer_groups(int fd, struct ucs_attested *k)
{
    gid_t few[FEW_GROUPS], *groups;

    if (ucs_socket_peer_groups(fd, few, FEW_GROUPS, &groups, &k->ngroups) != 0)
        return -1;
    if (groups != few) {
        k->groups = groups;
        return 0;
    }
    if (k->ngroups && !(k->groups = ucred_mem_alloc(k->ngroups * sizeof(gid_t))))
        return -1;
    if (k->ngroups)
        memcpy(k->groups, few, k->ngroups * sizeof(gid_t));
    return 0;
}

int ucs_attested_of_socket(int fd, struct ucs_attested *k)
{
    struct ucred uc;
    socklen_t len = sizeof(uc);
    int pidfd, err;

    memset(k, 0, sizeof(*k));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0)
        return -1;
    if (uc.pid <= 0) {
        errno = ENOTCONN;
        return -1;
    }
    k->pid = uc.pid;
    if (keep_peer_groups(fd, k) != 0 || ucs_socket_peer_label(fd, k->label, &k->labelled) != 0)
        goto fail;
    if ((pidfd = peer_pidfd(fd, uc.pid)) < 0)
        goto fail;
    if (!(k->pidfd = ucred_mem_alloc(sizeof(*k->pidfd)))) {
        close(pidfd);
        goto fail;
    }
    k->pidfd->refs = 1;
    k->pidfd->fd = pidfd;
    if (read_ids(k) != 0)
        goto fail;
    return 0;
fail:
    err = errno;
    ucs_attested_clear(k);
    errno = err;
    return -1;
}

void ucs_attested_clear(struct ucs_attested *k)
{
    free(k->groups);
    ucs_pidfd_release(k->pidfd);
    memset(k, 0, sizeof(*k));
}
