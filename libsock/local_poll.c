/* The kernel side of local sockets at run time: one kernel epoll instance
 * watches every kernel socket (listeners, connections awaiting their offer,
 * connections), looked at on a timer or when a blocking call sleeps; and the
 * poll step that wakes ucstack's epoll when a watched ring changes. */
#include "local.h"

#include <poll.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 64
#define DRAIN_ROUNDS 16

static int kep = -1;
static struct ucs_sock *live;
static uint64_t next_check_ns;

struct ucs_local_stats local_stats;

void ucs_get_local_stats(struct ucs_local_stats *stats)
{
    *stats = local_stats;
}

/* The tag: what, the socket's index in the descriptor table (below 2^24) and
 * the kernel socket. */
static struct epoll_event watch_event(int kfd, enum local_watch what, int ucs_fd)
{
    /* Listeners edge-triggered: one that stopped taking connections (its queue
     * full, or its share of a poll step taken) is served again when the
     * application accepts, or when another connection comes. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (what == LOCAL_WATCH_LISTENER ? EPOLLET : 0)};
    ev.data.u64 = (uint64_t)what << 56 | (uint64_t)(ucs_fd - UCS_FD_BASE) << 32 | (uint32_t)kfd;
    return ev;
}

int local_watch(int kfd, enum local_watch what, int ucs_fd)
{
    struct epoll_event ev = watch_event(kfd, what, ucs_fd);
    if (kep < 0 && (kep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -1;
    return epoll_ctl(kep, EPOLL_CTL_ADD, kfd, &ev);
}

int local_rewatch(int kfd, enum local_watch what, int ucs_fd)
{
    struct epoll_event ev = watch_event(kfd, what, ucs_fd);
    return epoll_ctl(kep, EPOLL_CTL_MOD, kfd, &ev);
}

void local_unwatch(int kfd)
{
    epoll_ctl(kep, EPOLL_CTL_DEL, kfd, NULL);
}

void local_kernel_events(int timeout_ms)
{
    struct epoll_event ev[EVENTS_PER_WAIT];
    int n;

    if (kep < 0) { /* no kernel socket to watch yet: only the wait */
        if (timeout_ms > 0)
            poll(NULL, 0, timeout_ms);
        return;
    }
    n = epoll_wait(kep, ev, EVENTS_PER_WAIT, timeout_ms);
    for (int i = 0; i < n; i++) {
        enum local_watch what = (enum local_watch)(ev[i].data.u64 >> 56);
        struct ucs_sock *s = sock_lookup(UCS_FD_BASE + (int)(ev[i].data.u64 >> 32 & 0xffffff));
        int kfd = (int)(uint32_t)ev[i].data.u64;
        if (!s || s->ops != &local_ops)
            continue;
        if (what == LOCAL_WATCH_LISTENER && s->u.local.state == LOCAL_S_LISTEN)
            local_listener_service(s);
        else if (what == LOCAL_WATCH_PENDING && s->u.local.state == LOCAL_S_LISTEN)
            local_pending_ready(s, kfd);
        else if (what == LOCAL_WATCH_CONN && s->u.local.state == LOCAL_S_CONNECTED)
            local_drain(s);
    }
}

void local_doorbell(struct ucs_sock *s)
{
    static const char bell = 0;
    (void)!send(s->u.local.kfd, &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void local_drain(struct ucs_sock *s)
{
    char buf[256];

    if (!s->u.local.acked)
        local_check_ack(s);
    for (int i = 0; i < DRAIN_ROUNDS; i++) {
        ssize_t n = local_recv_kernel(s->u.local.kfd, buf, sizeof(buf));
        if (n > 0)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            local_peer_left(s);
        break;
    }
    sock_wake(s);
}

void local_check_if_due(struct ucs_sock *s)
{
    uint64_t now = sock_now_ns();
    if (now < s->u.local.next_check_ns)
        return;
    s->u.local.next_check_ns = now + LOCAL_CHECK_NS;
    local_drain(s);
}

void local_live_add(struct ucs_sock *s)
{
    s->u.local.prev_live = NULL;
    s->u.local.next_live = live;
    if (live)
        live->u.local.prev_live = s;
    live = s;
}

void local_live_remove(struct ucs_sock *s)
{
    if (s->u.local.prev_live)
        s->u.local.prev_live->u.local.next_live = s->u.local.next_live;
    else if (live == s)
        live = s->u.local.next_live;
    if (s->u.local.next_live)
        s->u.local.next_live->u.local.prev_live = s->u.local.prev_live;
    s->u.local.next_live = s->u.local.prev_live = NULL;
}

/* Wakes the epoll registrations of a connection whose rings moved. */
static void look_at_rings(struct ucs_sock *s)
{
    struct local_end *e = &s->u.local.end;
    uint64_t now[3];

    if (s->u.local.broken)
        return;
    now[0] = __atomic_load_n(&e->rx->head, __ATOMIC_RELAXED);
    now[1] = __atomic_load_n(&e->tx->tail, __ATOMIC_RELAXED);
    now[2] = (uint64_t)__atomic_load_n(&e->rx->fin, __ATOMIC_RELAXED) << 32 |
             __atomic_load_n(&e->tx->consumer_state, __ATOMIC_RELAXED);
    if (now[0] != s->u.local.seen[0] || now[1] != s->u.local.seen[1] || now[2] != s->u.local.seen[2]) {
        s->u.local.seen[0] = now[0];
        s->u.local.seen[1] = now[1];
        s->u.local.seen[2] = now[2];
        sock_wake(s);
    }
}

void local_poll(void)
{
    uint64_t now;

    if (kep < 0)
        return;
    for (struct ucs_sock *s = live; s; s = s->u.local.next_live)
        if (s->epitems)
            look_at_rings(s);
    now = sock_now_ns();
    local_expire_offers(now);
    if (now >= next_check_ns) {
        next_check_ns = now + LOCAL_CHECK_NS;
        local_kernel_events(0);
    }
}
