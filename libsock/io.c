/* The public calls: argument checks and dispatch to the socket's kind. */
#include "sock.h"

#include <string.h>

/* The socket for fd when it is a socket: epoll descriptors are not. */
static struct ucs_sock *sock_of(int fd, const struct sock_ops **ops)
{
    struct ucs_sock *s = sock_get(fd);
    if (!s)
        return NULL;
    if (!sock_is_socket(s)) {
        errno = ENOTSOCK;
        return NULL;
    }
    *ops = s->ops;
    return s;
}

int ucs_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    return s ? ops->bind(s, addr, len) : -1;
}

int ucs_listen(int fd, int backlog)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    return ops->listen ? ops->listen(s, backlog) : sock_fail(EOPNOTSUPP);
}

int ucs_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    if (addr && !len)
        return sock_fail(EFAULT);
    return ops->accept ? ops->accept(s, addr, len, flags) : sock_fail(EOPNOTSUPP);
}

int ucs_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return ucs_accept4(fd, addr, len, 0);
}

int ucs_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    return s ? ops->connect(s, addr, len) : -1;
}

ssize_t ucs_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    struct iovec iov = {(void *)buf, len};
    if (!s)
        return -1;
    if (len && !buf)
        return sock_fail(EFAULT);
    return ops->send(s, &iov, 1, flags, to, tolen);
}

ssize_t ucs_send(int fd, const void *buf, size_t len, int flags)
{
    return ucs_sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t ucs_write(int fd, const void *buf, size_t len)
{
    return ucs_sendto(fd, buf, len, 0, NULL, 0);
}

ssize_t ucs_writev(int fd, const struct iovec *iov, int iovcnt)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return sock_fail(EINVAL);
    return ops->send(s, iov, iovcnt, 0, NULL, 0);
}

ssize_t ucs_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    struct iovec iov = {buf, len};
    if (!s)
        return -1;
    if (len && !buf)
        return sock_fail(EFAULT);
    return ops->recv(s, &iov, 1, flags, from, fromlen);
}

ssize_t ucs_recv(int fd, void *buf, size_t len, int flags)
{
    return ucs_recvfrom(fd, buf, len, flags, NULL, NULL);
}

ssize_t ucs_read(int fd, void *buf, size_t len)
{
    return ucs_recvfrom(fd, buf, len, 0, NULL, NULL);
}

ssize_t ucs_readv(int fd, const struct iovec *iov, int iovcnt)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return sock_fail(EINVAL);
    return ops->recv(s, iov, iovcnt, 0, NULL, NULL);
}

int ucs_shutdown(int fd, int how)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    return s ? ops->shutdown(s, how) : -1;
}

int ucs_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    if (!addr || !len)
        return sock_fail(EFAULT);
    return ops->getname(s, addr, len, false);
}

int ucs_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    const struct sock_ops *ops;
    struct ucs_sock *s = sock_of(fd, &ops);
    if (!s)
        return -1;
    if (!addr || !len)
        return sock_fail(EFAULT);
    return ops->getname(s, addr, len, true);
}
