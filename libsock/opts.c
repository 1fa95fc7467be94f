/* setsockopt/getsockopt: the options every socket has; the rest go to its kind. */
#include "sock.h"

#include <netinet/in.h>
#include <string.h>

#define SOCK_MIN_RCVBUF 2304
#define SOCK_MIN_SNDBUF 4608

static struct ucs_sock *opt_sock(int fd)
{
    struct ucs_sock *s = sock_get(fd);
    if (s && !sock_is_socket(s)) {
        errno = ENOTSOCK;
        return NULL;
    }
    return s;
}

static int set_timeout(struct timeval *tv, const void *val, socklen_t len)
{
    struct timeval in;
    if (len < (socklen_t)sizeof(in))
        return sock_fail(EINVAL);
    memcpy(&in, val, sizeof(in));
    if (in.tv_usec < 0 || in.tv_usec >= 1000000)
        return sock_fail(EDOM);
    if (in.tv_sec < 0)
        in.tv_sec = in.tv_usec = 0;
    *tv = in;
    return 0;
}

int ucs_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct ucs_sock *s = opt_sock(fd);
    int v = 0;

    if (!s)
        return -1;
    if (!val && len)
        return sock_fail(EFAULT);
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))
        return set_timeout(name == SO_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo, val, len);
    if (level == SOL_SOCKET && name == SO_LINGER) {
        if (len < (socklen_t)sizeof(struct linger))
            return sock_fail(EINVAL);
        memcpy(&s->linger, val, sizeof(s->linger));
        return 0;
    }
    if (len < (socklen_t)sizeof(int))
        return sock_fail(EINVAL);
    memcpy(&v, val, sizeof(v));
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_RCVBUF: /* Linux stores twice the value asked for, with a floor */
            s->rcvbuf = v > SOCK_MIN_RCVBUF / 2 ? 2 * v : SOCK_MIN_RCVBUF;
            return 0;
        case SO_SNDBUF:
            s->sndbuf = v > SOCK_MIN_SNDBUF / 2 ? 2 * v : SOCK_MIN_SNDBUF;
            return 0;
        case SO_TYPE:
        case SO_DOMAIN:
        case SO_PROTOCOL:
        case SO_ERROR:
        case SO_ACCEPTCONN: return sock_fail(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
        if (s->family != AF_INET6)
            return sock_fail(ENOPROTOOPT);
        s->v6only = v != 0;
        return 0;
    }
    return s->ops->setopt(s, level, name, val, len);
}

int ucs_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct ucs_sock *s = opt_sock(fd);
    int v;

    if (!s)
        return -1;
    if (!val || !len)
        return sock_fail(EFAULT);
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == SO_LINGER)) {
        const void *src = name == SO_RCVTIMEO ? (const void *)&s->rcvtimeo
                          : name == SO_SNDTIMEO ? (const void *)&s->sndtimeo : (const void *)&s->linger;
        socklen_t size = name == SO_LINGER ? sizeof(struct linger) : sizeof(struct timeval);
        if (*len < size)
            return sock_fail(EINVAL);
        memcpy(val, src, size);
        *len = size;
        return 0;
    }
    if (level == SOL_SOCKET && name == SO_RCVBUF)
        v = s->rcvbuf;
    else if (level == SOL_SOCKET && name == SO_SNDBUF)
        v = s->sndbuf;
    else if (level == SOL_SOCKET && name == SO_ERROR) {
        v = s->so_error;
        s->so_error = 0;
    } else if (level == SOL_SOCKET && name == SO_TYPE)
        v = s->ops->type;
    else if (level == SOL_SOCKET && name == SO_DOMAIN)
        v = s->family;
    else if (level == SOL_SOCKET && name == SO_PROTOCOL)
        v = s->ops->so_protocol;
    else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && s->family == AF_INET6)
        v = s->v6only;
    else
        return s->ops->getopt(s, level, name, val, len);
    if (*len < (socklen_t)sizeof(int))
        return sock_fail(EINVAL);
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}
