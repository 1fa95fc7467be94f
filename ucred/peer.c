/*
 * getpeerucred(): the credential of the process at the other end of a
 * connection. Descriptors a provider registered (libucstack's: provider.h)
 * ask it, and it holds the peer's credential in the connection's own memory;
 * kernel descriptors ask the kernel.
 */
#include "attested.h"
#include "provider.h"
#include "ucred_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

#define FEW_GROUPS 64

/* No system call at all on this path: the credential is copied from the
 * connection. (ucred_store allocates when *ucp is NULL, and closes a pidfd an
 * earlier kernel answer left in a reused ucred_t.) */
static int provided_peer(ucs_ucred_peer_fn provider, int fd, ucred_t **ucp)
{
    const struct ucs_cred *peer;
    int rc = provider(fd, &peer);

    if (rc != 0) {
        errno = -rc;
        return -1;
    }
    return ucred_store(ucp, peer, -1);
}

static int int_option(int fd, int name, int *value)
{
    socklen_t len = sizeof(*value);
    return getsockopt(fd, SOL_SOCKET, name, value, &len);
}

/* The AF_UNIX descriptor is a connected stream or seqpacket socket; anything
 * else fails with the errno getpeerucred() documents. */
static int check_connected_local_stream(int fd)
{
    int type, listening;

    if (int_option(fd, SO_TYPE, &type) != 0 || (type != SOCK_STREAM && type != SOCK_SEQPACKET)) {
        errno = ENOTSUP;
        return -1;
    }
    /* A listening AF_UNIX socket answers SO_PEERCRED with its own creator. */
    if (int_option(fd, SO_ACCEPTCONN, &listening) != 0 || listening) {
        errno = ENOTCONN;
        return -1;
    }
    return 0;
}

/* Linux's SO_PEERCRED tells only the effective ids, taken when the peer
 * connected (or created the pair): they stand for the real and saved ones too.
 * An unconnected socket answers pid 0, uid -1: "nothing", not an error. */
static int peer_ids(int fd, struct ucs_cred *cred)
{
    struct ucred kernel;
    socklen_t len = sizeof(kernel);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &kernel, &len) != 0)
        return -1;
    if (kernel.pid == 0) {
        errno = ENOTCONN;
        return -1;
    }
    cred->pid = kernel.pid;
    cred->ruid = cred->euid = cred->suid = kernel.uid;
    cred->rgid = cred->egid = cred->sgid = kernel.gid;
    return 0;
}

/* -1 when the kernel predates SO_PEERPIDFD (6.5) or the peer has been reaped. */
static int peer_pidfd(int fd, int *pidfd)
{
    if (int_option(fd, SO_PEERPIDFD, pidfd) == 0)
        return 0;
    *pidfd = -1;
    return errno == ENOPROTOOPT || errno == ESRCH || errno == EINVAL ? 0 : -1;
}

static int local_peer(int fd, ucred_t **ucp)
{
    gid_t few[FEW_GROUPS];
    struct ucs_cred cred = { .groups = NULL };
    int pidfd = -1, rc = -1, err;
    bool labelled;

    if (check_connected_local_stream(fd) == 0 && peer_ids(fd, &cred) == 0 &&
        ucs_socket_peer_groups(fd, few, FEW_GROUPS, &cred.groups, &cred.ngroups) == 0 &&
        ucs_socket_peer_label(fd, cred.label, &labelled) == 0 && peer_pidfd(fd, &pidfd) == 0)
        rc = ucred_store(ucp, &cred, pidfd);
    err = errno;
    if (rc != 0 && pidfd >= 0)
        close(pidfd);
    if (cred.groups != few)
        free(cred.groups);
    errno = err;
    return rc;
}

/* The kernel knows the peer of a local stream socket, and of a TCP socket
 * whose peer is on this host (kernel_tcp.c). */
static int kernel_peer(int fd, ucred_t **ucp)
{
    int domain;

    if (int_option(fd, SO_DOMAIN, &domain) != 0) {
        if (errno == ENOTSOCK)
            errno = ENOTSUP;
        return -1;
    }
    if (domain == AF_INET || domain == AF_INET6)
        return ucred_tcp_peer(fd, domain, ucp);
    if (domain != AF_UNIX) {
        errno = ENOTSUP;
        return -1;
    }
    return local_peer(fd, ucp);
}

int getpeerucred(int fd, ucred_t **ucp)
{
    ucs_ucred_peer_fn provider;

    if (ucp == NULL || (*ucp != NULL && !ucred_registry_contains(*ucp))) {
        errno = EFAULT;
        return -1;
    }
    provider = ucred_provider_of(fd);
    return provider ? provided_peer(provider, fd, ucp) : kernel_peer(fd, ucp);
}
