/*
 * The socket API applications call: POSIX calls under a ucs_ prefix, with the
 * behaviour and errno Linux gives. Stack descriptors start at UCS_FD_BASE, far
 * above any kernel descriptor, so a program can hold both and tell them apart.
 *
 * Threading: a process has one stack instance; the thread that created it (with
 * ucs_stack_create) owns it, and only that thread may call these functions. A
 * call from another thread fails with EPERM and changes nothing. Blocking calls
 * keep the stack running (they poll it) while they wait; non-blocking calls
 * never wait and do not run the stack: an application's event loop does, through
 * ucs_epoll_wait(), ucs_poll() or ucs_stack_poll().
 */
#ifndef UCSTACK_SOCKET_H
#define UCSTACK_SOCKET_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCS_FD_BASE 0x40000000
#define UCS_FD_MAX (UCS_FD_BASE + (1 << 24))

/* True when fd is a ucstack descriptor (not necessarily an open one). */
static inline bool ucs_is_stack_fd(int fd)
{
    return fd >= UCS_FD_BASE && fd < UCS_FD_MAX;
}

/* Local sockets (docs/local-sockets.md): stream sockets between processes on
 * this host, named like AF_UNIX ones (struct sockaddr_un: a path, or an
 * abstract name starting with a NUL byte). The kernel sets the connection up
 * and attests who is at each end; data then moves through memory shared by the
 * two ends, without a system call per message. */
#define UCS_AF_LOCAL AF_UNIX

int ucs_socket(int domain, int type, int protocol);
/* A connected pair of local stream sockets (domain UCS_AF_LOCAL, type SOCK_STREAM). */
int ucs_socketpair(int domain, int type, int protocol, int sv[2]);
int ucs_bind(int fd, const struct sockaddr *addr, socklen_t len);
int ucs_listen(int fd, int backlog);
int ucs_accept(int fd, struct sockaddr *addr, socklen_t *len);
int ucs_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int ucs_connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t ucs_send(int fd, const void *buf, size_t len, int flags);
ssize_t ucs_recv(int fd, void *buf, size_t len, int flags);
ssize_t ucs_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen);
ssize_t ucs_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen);
ssize_t ucs_read(int fd, void *buf, size_t len);
ssize_t ucs_write(int fd, const void *buf, size_t len);
ssize_t ucs_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ucs_writev(int fd, const struct iovec *iov, int iovcnt);
int ucs_shutdown(int fd, int how);
int ucs_close(int fd);
int ucs_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int ucs_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int ucs_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int ucs_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int ucs_fcntl(int fd, int cmd, ... /* int arg */);
int ucs_ioctl(int fd, unsigned long request, ... /* int *arg */);
/* Stack and kernel descriptors may be mixed in one call. */
int ucs_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);

int ucs_epoll_create(int size);
int ucs_epoll_create1(int flags);
int ucs_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
/* Runs the stack until an event is ready or timeout_ms passes (-1: forever, 0: one step). */
int ucs_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout_ms);

/* The credential TCP option (see docs/credentials.md): what this process's
 * stack sent and received, and what it refused to believe. */
struct ucs_cred_option_stats {
    uint64_t sent, received;
    uint64_t ignored_foreign_link; /* arrived on a port that is not an attested host-local link */
    uint64_t malformed;            /* wrong length or version */
    uint64_t untrusted;            /* claims outside what the kernel says of the process that made them */
    uint64_t unresolved;           /* no such table, slot or generation */
    uint64_t unattested;           /* not what the process attested at the link's other end may claim */
    uint64_t local_untrusted;      /* local-socket claims the kernel did not vouch for */
};
void ucs_get_cred_option_stats(struct ucs_cred_option_stats *stats);
/* Local sockets (see docs/local-sockets.md): kernel connections this process's
 * listeners let go before they became connections, and blocking connects that
 * returned before the listener's process took the connection. */
struct ucs_local_stats {
    uint64_t offers_taken;     /* connections set up */
    uint64_t offers_refused;   /* not one sealed memfd of the right size and magic, or closed first */
    uint64_t offers_expired;   /* no offer within 1 s of the kernel connection being taken */
    uint64_t offers_evicted;   /* the oldest awaited offer, dropped for a new kernel connection */
    uint64_t connects_untaken; /* blocking connects that returned before the listener's process took them */
};
void ucs_get_local_stats(struct ucs_local_stats *stats);
/* Whether this process's connections carry the credential option (default on).
 * Off, peers learn nothing: getpeerucred() on stack sockets gives EINVAL. */
void ucs_set_cred_option(bool on);

#ifdef __cplusplus
}
#endif

#endif
