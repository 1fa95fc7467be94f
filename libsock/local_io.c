/* Moving bytes on a local connection: send and recv through the shared rings,
 * with EOF, EPIPE and ECONNRESET as a Linux AF_UNIX stream socket gives them. */
#include "local.h"

#include <ucstack/stack.h>

#include <signal.h>
#include <sys/socket.h>

bool local_rcv_shut(struct ucs_sock *s)
{
    return s->u.local.rd_shut || s->u.local.peer_gone || __atomic_load_n(&s->u.local.end.rx->fin, __ATOMIC_ACQUIRE);
}

bool local_snd_shut(struct ucs_sock *s)
{
    return s->u.local.wr_shut || s->u.local.peer_gone ||
           __atomic_load_n(&s->u.local.end.tx->consumer_state, __ATOMIC_ACQUIRE) != LOCAL_OPEN;
}

void local_peer_left(struct ucs_sock *s)
{
    if (s->u.local.peer_gone)
        return;
    s->u.local.peer_gone = true;
    local_unwatch(s->u.local.kfd); /* its end of file would wake every sleep */
    /* Linux resets the survivor when the closing end left bytes unread. */
    if (!s->u.local.broken && local_ring_unread_by_peer(&s->u.local.end) > 0)
        s->so_error = ECONNRESET;
    sock_wake(s);
}

void local_break(struct ucs_sock *s)
{
    s->u.local.broken = true;
    if (!s->u.local.peer_gone)
        local_unwatch(s->u.local.kfd);
    s->u.local.peer_gone = true;
    s->so_error = ECONNRESET;
    sock_wake(s);
}

/* An orderly close shows in the rings before the kernel socket says so. */
static void observe_peer(struct ucs_sock *s)
{
    if (!s->u.local.peer_gone && __atomic_load_n(&s->u.local.end.tx->consumer_state, __ATOMIC_ACQUIRE) == LOCAL_CLOSED)
        local_peer_left(s);
}

static int take_error(struct ucs_sock *s)
{
    int err = s->so_error;
    s->so_error = 0;
    return err;
}

static bool can_recv(struct ucs_sock *s)
{
    observe_peer(s);
    return s->u.local.broken || local_ring_readable(&s->u.local.end) != 0 || s->so_error || local_rcv_shut(s);
}

static bool can_send(struct ucs_sock *s)
{
    observe_peer(s);
    return s->u.local.broken || local_ring_writable(&s->u.local.end) != 0 || local_snd_shut(s);
}

ssize_t local_send(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, const struct sockaddr *to,
                   socklen_t tolen)
{
    struct local_end *e = &s->u.local.end;
    size_t total = iov_total(iov, iovcnt), done = 0;
    bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = 0;

    if (to && tolen)
        return sock_fail(s->u.local.state == LOCAL_S_CONNECTED ? EISCONN : EOPNOTSUPP);
    if (flags & MSG_OOB)
        return sock_fail(EOPNOTSUPP);
    if (s->u.local.state != LOCAL_S_CONNECTED)
        return sock_fail(ENOTCONN);
    for (;;) {
        int64_t room;
        observe_peer(s);
        if (s->u.local.broken && s->so_error)
            return done ? (ssize_t)done : sock_fail(take_error(s));
        if (local_snd_shut(s)) {
            if (done)
                return (ssize_t)done;
            if (!(flags & MSG_NOSIGNAL))
                raise(SIGPIPE);
            return sock_fail(EPIPE);
        }
        if ((room = local_ring_writable(e)) < 0) {
            local_break(s);
            continue;
        }
        if (room > 0 && done < total) {
            size_t n = total - done < (size_t)room ? total - done : (size_t)room;
            if (local_ring_write(e, iov, iovcnt, done, n))
                local_doorbell(s);
            done += n;
            if (done == total)
                return (ssize_t)done;
            continue;
        }
        if (total == 0)
            return 0;
        if (nonblock) {
            local_check_if_due(s);
            if (local_snd_shut(s))
                continue;
            return done ? (ssize_t)done : sock_fail(EAGAIN);
        }
        if (!deadline)
            deadline = sock_deadline(&s->sndtimeo);
        if (sock_wait(s, can_send, &e->tx->producer_waiting, deadline))
            return done ? (ssize_t)done : sock_fail(EAGAIN);
    }
}

ssize_t local_recv(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags, struct sockaddr *from,
                   socklen_t *fromlen)
{
    struct local_end *e = &s->u.local.end;
    size_t want = iov_total(iov, iovcnt), done = 0;
    bool nonblock = s->nonblock || (flags & MSG_DONTWAIT), peek = flags & MSG_PEEK;
    bool waitall = (flags & MSG_WAITALL) && !peek, empty;
    uint64_t deadline = 0;

    if (s->u.local.state != LOCAL_S_CONNECTED)
        return sock_fail(EINVAL);
    if (flags & MSG_OOB)
        return sock_fail(EOPNOTSUPP);
    if (from && fromlen && getpeername(s->u.local.kfd, from, fromlen) != 0)
        *fromlen = 0;
    for (;;) {
        int64_t avail = s->u.local.broken ? 0 : local_ring_readable(e);
        if (avail < 0) {
            local_break(s);
            avail = 0;
        }
        if (avail > 0 && done < want) {
            size_t n = want - done < (size_t)avail ? want - done : (size_t)avail;
            if (local_ring_read(e, iov, iovcnt, done, n, peek))
                local_doorbell(s);
            done += n;
            if (!waitall || done == want)
                return (ssize_t)done;
            continue;
        }
        if (want == 0)
            return 0;
        observe_peer(s);
        empty = s->u.local.broken || local_ring_readable(e) == 0;
        if (s->so_error && empty)
            return done ? (ssize_t)done : sock_fail(take_error(s));
        if (local_rcv_shut(s) && empty)
            return (ssize_t)done;
        if (nonblock) {
            local_check_if_due(s);
            if (s->u.local.peer_gone)
                continue;
            return done ? (ssize_t)done : sock_fail(EAGAIN);
        }
        if (!deadline)
            deadline = sock_deadline(&s->rcvtimeo);
        if (sock_wait(s, can_recv, &e->rx->consumer_waiting, deadline))
            return done ? (ssize_t)done : sock_fail(EAGAIN);
    }
}

int local_sock_fionread(struct ucs_sock *s, int *n)
{
    int64_t avail;
    if (s->u.local.state == LOCAL_S_LISTEN)
        return sock_fail(EINVAL);
    avail = s->u.local.state == LOCAL_S_CONNECTED && !s->u.local.broken ? local_ring_readable(&s->u.local.end) : 0;
    *n = avail > 0 ? (int)avail : 0;
    return 0;
}

uint32_t local_sock_events(struct ucs_sock *s)
{
    struct local_end *e = &s->u.local.end;
    uint32_t m = 0;
    bool rcv, snd;

    if (s->u.local.state == LOCAL_S_LISTEN)
        return s->u.local.acceptq_len ? EPOLLIN | EPOLLRDNORM : 0;
    if (s->u.local.state == LOCAL_S_NEW)
        return EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND | EPOLLHUP |
               (s->u.local.rd_shut ? EPOLLIN | EPOLLRDNORM | EPOLLRDHUP : 0);
    observe_peer(s);
    rcv = local_rcv_shut(s);
    snd = local_snd_shut(s);
    if (s->so_error)
        m |= EPOLLERR;
    if (rcv && snd)
        m |= EPOLLHUP;
    if (rcv)
        m |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
    if (!s->u.local.broken && local_ring_readable(e) != 0)
        m |= EPOLLIN | EPOLLRDNORM;
    if (snd || s->u.local.broken || local_ring_writable(e) != 0)
        m |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
    return m;
}
