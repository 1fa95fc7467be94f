/*
 * Local stream sockets: each has a kernel AF_UNIX stream socket beside it. The
 * kernel owns the names (a path's permissions, EADDRINUSE, ENOENT,
 * ECONNREFUSED, stale names, the abstract namespace), sets connections up and
 * attests who is at each end; then the bytes go through shared rings
 * (local_ring.c) and the kernel socket only rings the doorbell of a peer that
 * sleeps and tells, by closing, that a peer is gone.
 */
#include "local.h"

#include <ucstack/stack.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPTQ_MAX 4096

/* Linux 6.16's; older headers lack it, older kernels refuse it. */
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

static int new_kernel_socket(void)
{
    return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* Only the offer carries a descriptor. Any other a peer sends would be closed
 * by whoever reads or closes the kernel socket (this process's poll step), and
 * a descriptor's last close can wait on what the peer chose (a lingering
 * socket, a file whose flush its owner answers). The kernel refuses them to
 * the sender (EPERM). Not on listeners: accepted sockets inherit it. */
void local_refuse_descriptors(int kfd)
{
    static const int no = 0;
    (void)setsockopt(kfd, SOL_SOCKET, SO_PASSRIGHTS, &no, sizeof(no));
}

/* A socket lingering (SO_LINGER) over data that cannot leave would make its
 * last close wait as long as the peer set: it is reset instead. Not a socket,
 * the option is refused. */
void local_close_foreign(int fd)
{
    struct linger reset = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    close(fd);
}

/* Descriptors sent before the kernel socket refused them (those queued behind
 * the offer), or on kernels that cannot refuse them. */
ssize_t local_recv_kernel(int kfd, void *buf, size_t len)
{
    struct iovec iov = {buf, len};
    union {
        char buf[CMSG_SPACE(LOCAL_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(kfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    for (struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
            local_close_foreign(fd);
        }
    }
    return n;
}

/* What is queued when a kernel socket is closed is released in this thread,
 * descriptors included: they are read out first, as many as a peer can queue
 * (its send buffer, a few hundred messages), then closed without waiting. */
void local_close_kernel(int kfd)
{
    static char sink[65536];
    for (int i = 0; i < LOCAL_CLOSE_READS && local_recv_kernel(kfd, sink, sizeof(sink)) > 0; i++)
        ;
    close(kfd);
}

static int local_sock_open(struct ucs_sock *s)
{
    s->u.local.state = LOCAL_S_NEW;
    s->u.local.kfd = new_kernel_socket();
    return s->u.local.kfd < 0 ? -1 : 0;
}

static void local_sock_close(struct ucs_sock *s)
{
    struct local_end *e = &s->u.local.end;

    if (s->u.local.state == LOCAL_S_LISTEN) {
        while (s->u.local.acceptq_len) {
            struct ucs_sock *c = s->u.local.acceptq[s->u.local.acceptq_head];
            s->u.local.acceptq_head = (s->u.local.acceptq_head + 1) % s->u.local.acceptq_cap;
            s->u.local.acceptq_len--;
            local_sock_close(c);
            sock_free(c);
        }
        while (s->u.local.npending)
            local_close_kernel(s->u.local.pending[--s->u.local.npending].kfd);
        local_listener_remove(s);
        free(s->u.local.acceptq);
        free(s->u.local.pending);
    } else if (s->u.local.state == LOCAL_S_CONNECTED) {
        if (!s->u.local.broken) {
            __atomic_store_n(&e->rx->consumer_state, LOCAL_CLOSED, __ATOMIC_RELEASE);
            __atomic_store_n(&e->tx->fin, 1, __ATOMIC_RELEASE);
        }
        local_live_remove(s);
        local_unmap(s);
    }
    if (s->u.local.state == LOCAL_S_LISTEN)
        close(s->u.local.kfd);
    else
        local_close_kernel(s->u.local.kfd);
}

int ucs_socketpair(int domain, int type, int protocol, int sv[2])
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), k[2], err;
    struct ucs_sock *a = NULL, *b = NULL;
    struct ucs_cred *cred;

    if (sock_check_thread() != 0)
        return -1;
    if (!sv)
        return sock_fail(EFAULT);
    if (domain != AF_UNIX)
        return sock_fail(domain == AF_INET || domain == AF_INET6 ? EOPNOTSUPP : EAFNOSUPPORT);
    if (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf))
        return sock_fail(EINVAL);
    if (protocol != 0 && protocol != PF_UNIX)
        return sock_fail(EPROTONOSUPPORT);
    if (base != SOCK_STREAM)
        return sock_fail(ESOCKTNOSUPPORT);
    if (!(cred = ucs_cred_capture()))
        return sock_fail(ENOMEM);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, k) != 0) {
        err = errno;
        ucs_cred_release(cred);
        return sock_fail(err);
    }
    local_refuse_descriptors(k[0]);
    local_refuse_descriptors(k[1]);
    if (!(a = sock_alloc(&local_ops)) || !(b = sock_alloc(&local_ops)) || local_pair_setup(a, b, k) != 0 ||
        local_watch(k[0], LOCAL_WATCH_CONN, a->fd) != 0 || local_watch(k[1], LOCAL_WATCH_CONN, b->fd) != 0) {
        err = errno;
        for (struct ucs_sock *s = a; s; s = s == a ? b : NULL) {
            if (s->u.local.state == LOCAL_S_CONNECTED) {
                local_live_remove(s);
                local_unmap(s);
            }
            sock_free(s);
        }
        close(k[0]);
        close(k[1]);
        ucs_cred_release(cred);
        return sock_fail(err);
    }
    /* Either side of a pair sees the other's creator: the same credential. */
    a->creds.cred = cred;
    b->creds.cred = ucs_cred_hold(cred);
    a->creds.peer_cred = ucs_cred_hold(cred);
    b->creds.peer_cred = ucs_cred_hold(cred);
    for (struct ucs_sock *s = a; s; s = s == a ? b : NULL) {
        s->family = AF_UNIX;
        s->nonblock = type & SOCK_NONBLOCK;
        s->cloexec = type & SOCK_CLOEXEC;
        s->rcvbuf = s->sndbuf = 2 * 212992;
    }
    sv[0] = a->fd;
    sv[1] = b->fd;
    return 0;
}

static int kernel_result(int rc)
{
    return rc == 0 ? 0 : -1; /* errno is the kernel's */
}

static int local_bind(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    return kernel_result(bind(s->u.local.kfd, addr, len));
}

static int local_listen(struct ucs_sock *s, int backlog)
{
    int n = backlog <= 0 ? 1 : backlog > ACCEPTQ_MAX ? ACCEPTQ_MAX : backlog;

    if (s->u.local.state == LOCAL_S_CONNECTED)
        return sock_fail(EINVAL);
    if (listen(s->u.local.kfd, backlog) != 0)
        return -1;
    if (s->u.local.state == LOCAL_S_LISTEN)
        return 0;
    s->u.local.acceptq = calloc((size_t)(n + LOCAL_PENDING_MAX), sizeof(*s->u.local.acceptq));
    s->u.local.pending = calloc(LOCAL_PENDING_MAX, sizeof(*s->u.local.pending));
    if (!s->u.local.acceptq || !s->u.local.pending || local_watch(s->u.local.kfd, LOCAL_WATCH_LISTENER, s->fd) != 0) {
        free(s->u.local.acceptq);
        free(s->u.local.pending);
        s->u.local.acceptq = NULL;
        s->u.local.pending = NULL;
        return sock_fail(ENOBUFS);
    }
    s->u.local.backlog = n;
    s->u.local.acceptq_cap = n + LOCAL_PENDING_MAX;
    s->u.local.state = LOCAL_S_LISTEN;
    local_listener_add(s);
    return 0;
}

static bool can_accept(struct ucs_sock *s)
{
    return s->u.local.acceptq_len > 0;
}

static int local_accept(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct ucs_sock *c;

    if (s->u.local.state != LOCAL_S_LISTEN || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
        return sock_fail(EINVAL);
    local_listener_service(s);
    if (!can_accept(s)) {
        if (s->nonblock)
            return sock_fail(EAGAIN);
        if (sock_wait(s, can_accept, NULL, sock_deadline(&s->rcvtimeo)))
            return sock_fail(EAGAIN);
    }
    c = s->u.local.acceptq[s->u.local.acceptq_head];
    s->u.local.acceptq_head = (s->u.local.acceptq_head + 1) % s->u.local.acceptq_cap;
    s->u.local.acceptq_len--;
    c->nonblock = flags & SOCK_NONBLOCK;
    c->cloexec = flags & SOCK_CLOEXEC;
    if (addr && getpeername(c->u.local.kfd, addr, len) != 0)
        *len = 0;
    local_listener_service(s); /* there is room again for connections the kernel holds */
    return c->fd;
}

static bool acked_or_gone(struct ucs_sock *s)
{
    return local_check_ack(s) || s->u.local.peer_gone;
}

/* The kernel connection is made but the offer could not be: start afresh. */
static int restart_kernel_socket(struct ucs_sock *s)
{
    int err = errno, k = new_kernel_socket();
    if (k >= 0) {
        local_close_kernel(s->u.local.kfd);
        s->u.local.kfd = k;
    }
    return sock_fail(err);
}

static int kernel_connect(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    uint64_t deadline = sock_deadline(&s->sndtimeo);

    /* EAGAIN: the listener's backlog is full; a blocking connect waits, as
     * AF_UNIX's does, until SO_SNDTIMEO. Without a stack instance to keep
     * polling it sleeps a millisecond a try (the kernel tells no one when
     * there is room). */
    while (connect(s->u.local.kfd, addr, len) != 0) {
        if (errno != EAGAIN || s->nonblock)
            return -1;
        if (sock_now_ms() >= deadline)
            return sock_fail(EAGAIN);
        sock_poll_stack();
        if (!ucs_stack_current())
            local_kernel_events(1);
    }
    return 0;
}

static int local_connect(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    struct ucs_cred *cred;
    uint64_t deadline;

    if (s->u.local.state == LOCAL_S_LISTEN)
        return sock_fail(EINVAL);
    if (s->u.local.state == LOCAL_S_CONNECTED)
        return kernel_result(connect(s->u.local.kfd, addr, len)); /* the kernel's EISCONN, or its ENOENT first */
    if (kernel_connect(s, addr, len) != 0)
        return -1;
    local_refuse_descriptors(s->u.local.kfd);
    /* The connector's credential is the caller's at connect(), not the creator's. */
    if (!(cred = ucs_cred_capture()))
        return restart_kernel_socket(s);
    ucs_cred_release(s->creds.cred);
    s->creds.cred = cred;
    if (local_offer(s) != 0) {
        if (errno == EPIPE || errno == ECONNRESET)
            errno = ECONNREFUSED; /* the listener dropped the kernel connection first */
        return restart_kernel_socket(s);
    }
    if (local_watch(s->u.local.kfd, LOCAL_WATCH_CONN, s->fd) != 0) {
        local_unmap(s);
        return restart_kernel_socket(s);
    }
    s->u.local.state = LOCAL_S_CONNECTED;
    local_live_add(s);
    /* Like Linux, a non-blocking connect is done at once: bytes may be sent
     * before the listener's process takes the connection. A blocking one
     * waits a while for the listener's credential, but a listener that never
     * takes the connection cannot hold it: it then returns as AF_UNIX's does
     * once its connection is queued, and getpeerucred() says ENOTCONN until
     * the listener's process takes it. */
    if (s->nonblock)
        return 0;
    deadline = sock_now_ms() + LOCAL_CONNECT_WAIT_MS;
    if (sock_deadline(&s->sndtimeo) < deadline)
        deadline = sock_deadline(&s->sndtimeo);
    if (sock_wait(s, acked_or_gone, NULL, deadline)) {
        local_stats.connects_untaken++;
        return 0;
    }
    return s->u.local.acked ? 0 : sock_fail(ECONNREFUSED);
}

static int local_shutdown(struct ucs_sock *s, int how)
{
    struct local_end *e = &s->u.local.end;

    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return sock_fail(EINVAL);
    if (s->u.local.state == LOCAL_S_NEW) { /* Linux keeps it, for this end only, past a later connect */
        s->u.local.rd_shut |= how != SHUT_WR;
        s->u.local.wr_shut |= how != SHUT_RD;
        return 0;
    }
    if (s->u.local.state != LOCAL_S_CONNECTED || s->u.local.broken)
        return 0;
    if (how != SHUT_WR && !s->u.local.rd_shut) {
        s->u.local.rd_shut = true;
        __atomic_store_n(&e->rx->consumer_state, LOCAL_SHUT_RD, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&e->rx->producer_waiting, __ATOMIC_RELAXED))
            local_doorbell(s);
    }
    if (how != SHUT_RD && !s->u.local.wr_shut) {
        s->u.local.wr_shut = true;
        __atomic_store_n(&e->tx->fin, 1, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&e->tx->consumer_waiting, __ATOMIC_RELAXED))
            local_doorbell(s);
    }
    sock_wake(s);
    return 0;
}

static int local_getname(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, bool peer)
{
    return kernel_result(peer ? getpeername(s->u.local.kfd, addr, len) : getsockname(s->u.local.kfd, addr, len));
}

/* Options beyond the common ones are the kernel socket's (SO_PEERCRED, SO_PASSCRED, ...). */
static int local_setopt(struct ucs_sock *s, int level, int name, const void *val, socklen_t len)
{
    return kernel_result(setsockopt(s->u.local.kfd, level, name, val, len));
}

static int local_getopt(struct ucs_sock *s, int level, int name, void *val, socklen_t *len)
{
    return kernel_result(getsockopt(s->u.local.kfd, level, name, val, len));
}

static int local_peer_ready(struct ucs_sock *s)
{
    return s->u.local.state == LOCAL_S_CONNECTED && local_check_ack(s) ? 0 : -ENOTCONN;
}

const struct sock_ops local_ops = {
    .families = {AF_UNIX},
    .type = SOCK_STREAM,
    .protocol = PF_UNIX,
    .so_protocol = 0,
    .in_stack = false,
    .open = local_sock_open,
    .close = local_sock_close,
    .events = local_sock_events,
    .fionread = local_sock_fionread,
    .peer_ready = local_peer_ready,
    .poll = local_poll,
    .sleep = local_kernel_events,
    .bind = local_bind,
    .listen = local_listen,
    .accept = local_accept,
    .connect = local_connect,
    .send = local_send,
    .recv = local_recv,
    .shutdown = local_shutdown,
    .getname = local_getname,
    .setopt = local_setopt,
    .getopt = local_getopt,
};
