/*
 * ucstack-bench's concurrency scenario (--mode=conc): CONC_CONNS connections
 * held open at once, each doing 64-byte request/response in a closed loop (one
 * request outstanding per connection), over ucstack (ucs_* calls, epoll, the
 * virtio cable) and over the kernel (libc calls, epoll, TCP loopback) through
 * one table of calls. The client times each transaction from its request to
 * its whole answer; the first `warm` transactions are not measured. Both ends
 * check every byte and count connections.
 */
#include "node.h"
#include "roles.h"

#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "drive.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG 64
#define MAX_EVENTS 512
/* Connects in flight: lwIP keeps at most 255 unaccepted connections per listener. */
#define CONNECT_WINDOW 200
#define STALL_NS 30000000000ull
#define LISTENER UINT64_MAX

struct conc_ops {
    int (*socket)(int, int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recv)(int, void *, size_t, int);
    int (*shutdown)(int, int);
    int (*close)(int);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*epoll_create1)(int);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*epoll_wait)(int, struct epoll_event *, int, int);
    int wait_ms; /* the kernel sleeps in epoll_wait; ucstack's wait runs the stack once */
};

static ssize_t k_send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags | MSG_NOSIGNAL);
}

static const struct conc_ops kernel_ops = {socket,     bind,          listen,    connect,    accept4,
                                           k_send,     recv,          shutdown,  close,      setsockopt,
                                           getsockopt, epoll_create1, epoll_ctl, epoll_wait, 100};
static const struct conc_ops ucs_ops = {
    ucs_socket,     ucs_bind,          ucs_listen,    ucs_connect,    ucs_accept4,
    ucs_send,       ucs_recv,          ucs_shutdown,  ucs_close,      ucs_setsockopt,
    ucs_getsockopt, ucs_epoll_create1, ucs_epoll_ctl, ucs_epoll_wait, 0};

struct conn {
    int fd;
    uint8_t got;
    uint32_t seq;
    uint64_t sent_ns;
    uint8_t buf[MSG];
};

/* Connection c's message number seq: both numbers, then bytes derived from them. */
static void stamp(uint8_t *m, uint32_t c, uint32_t seq)
{
    uint64_t id = (uint64_t)c << 32 | seq;
    memcpy(m, &id, sizeof(id));
    for (int k = 8; k < MSG; k++)
        m[k] = (uint8_t)(id * 31 + (uint64_t)k);
}

static bool well_formed(const uint8_t *m)
{
    uint8_t want[MSG];
    uint64_t id;
    memcpy(&id, m, sizeof(id));
    stamp(want, (uint32_t)(id >> 32), (uint32_t)id);
    return memcmp(m, want, MSG) == 0;
}

/* Reads into c's buffer: 1 when a whole message is there, 0 not yet, -1 at end of stream. */
static int read_msg(const struct conc_ops *o, struct conn *c)
{
    while (c->got < MSG) {
        ssize_t n = o->recv(c->fd, c->buf + c->got, MSG - c->got, 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            bench_fail("recv: %s", strerror(errno));
        }
        c->got = (uint8_t)(c->got + n);
    }
    c->got = 0;
    return 1;
}

static void send_msg(const struct conc_ops *o, int fd, const uint8_t *m)
{
    if (o->send(fd, m, MSG, 0) != MSG)
        bench_fail("send: %s", errno ? strerror(errno) : "short");
}

static void nodelay(const struct conc_ops *o, int fd)
{
    int one = 1;
    if (o->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        bench_fail("TCP_NODELAY: %s", strerror(errno));
}

/* Waits for events, failing after STALL_NS without any. */
static int wait_events(const struct conc_ops *o, int ep, struct epoll_event *evs)
{
    uint64_t deadline = bench_now_ns() + STALL_NS;
    for (;;) {
        int n = o->epoll_wait(ep, evs, MAX_EVENTS, o->wait_ms);
        if (n > 0)
            return n;
        if (n < 0 && errno != EINTR)
            bench_fail("epoll_wait: %s", strerror(errno));
        if (bench_now_ns() > deadline)
            bench_fail("no progress in %llu s", STALL_NS / 1000000000ull);
    }
}

static void serve(const struct conc_ops *o, int l, char *out, size_t outlen)
{
    struct epoll_event evs[MAX_EVENTS], ev = {.events = EPOLLIN, .data.u64 = LISTENER};
    struct conn *conns = calloc(CONC_CONNS, sizeof(*conns));
    uint64_t served = 0;
    uint32_t accepted = 0, closed = 0;
    int ep = o->epoll_create1(0);

    if (!conns || ep < 0 || o->epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) != 0)
        bench_fail("epoll: %s", strerror(errno));
    while (closed < CONC_CONNS) {
        int n = wait_events(o, ep, evs);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == LISTENER) {
                int fd;
                while ((fd = o->accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (accepted == CONC_CONNS)
                        bench_fail("more than %u connections", CONC_CONNS);
                    nodelay(o, fd);
                    conns[accepted].fd = fd;
                    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = accepted++};
                    if (o->epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                        bench_fail("epoll_ctl: %s", strerror(errno));
                }
                continue;
            }
            struct conn *c = &conns[evs[i].data.u64];
            int r;
            while ((r = read_msg(o, c)) == 1) {
                if (!well_formed(c->buf))
                    bench_fail("a request arrived damaged");
                send_msg(o, c->fd, c->buf);
                served++;
            }
            if (r < 0) {
                o->close(c->fd);
                closed++;
            }
        }
    }
    snprintf(out, outlen, "accepted=%u served=%llu closed=%u", accepted, (unsigned long long)served, closed);
    free(conns);
    o->close(ep);
}

static void start_request(const struct conc_ops *o, struct conn *conns, uint32_t c)
{
    uint8_t m[MSG];
    stamp(m, c, conns[c].seq);
    conns[c].sent_ns = bench_now_ns();
    send_msg(o, conns[c].fd, m);
}

static void client(const struct conc_ops *o, const struct sockaddr *sa, socklen_t len, const struct role_args *a,
                   char *out, size_t outlen)
{
    struct epoll_event evs[MAX_EVENTS];
    struct conn *conns = calloc(CONC_CONNS, sizeof(*conns));
    uint64_t total = a->warm + a->count, issued = 0, done = 0, t0, t_start = 0, t_end;
    uint32_t *lat = calloc(a->count ? a->count : 1, sizeof(*lat));
    uint32_t started = 0, established = 0, eofs = 0;
    struct lat_summary s;
    char lats[256];
    int ep = o->epoll_create1(0);

    if (!conns || !lat || ep < 0)
        bench_fail("out of memory");
    /* Open every connection, CONNECT_WINDOW at a time. */
    t0 = bench_now_ns();
    while (established < CONC_CONNS) {
        while (started < CONC_CONNS && started - established < CONNECT_WINDOW) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = started};
            int fd = o->socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0 || (o->connect(fd, sa, len) != 0 && errno != EINPROGRESS) ||
                o->epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                bench_fail("connection %u: %s", started, strerror(errno));
            conns[started++].fd = fd;
        }
        int n = wait_events(o, ep, evs);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[i].data.u64};
            int err = 0;
            socklen_t elen = sizeof(err);
            if (o->getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err)
                bench_fail("connection %llu: %s", (unsigned long long)evs[i].data.u64, strerror(err ? err : errno));
            nodelay(o, c->fd);
            if (o->epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
                bench_fail("epoll_ctl: %s", strerror(errno));
            established++;
        }
    }
    double connect_s = (double)(bench_now_ns() - t0) / 1e9;
    fprintf(stderr, "client: %u connections in %.2f s\n", established, connect_s);

    /* One request outstanding on every connection until total have been answered. */
    for (uint32_t c = 0; c < CONC_CONNS && issued < total; c++, issued++)
        start_request(o, conns, c);
    if (a->warm == 0)
        t_start = bench_now_ns();
    while (done < total) {
        int n = wait_events(o, ep, evs);
        for (int i = 0; i < n; i++) {
            uint32_t ci = (uint32_t)evs[i].data.u64;
            struct conn *c = &conns[ci];
            uint8_t want[MSG];
            int r = read_msg(o, c);
            if (r == 0)
                continue;
            uint64_t now = bench_now_ns();
            stamp(want, ci, c->seq);
            if (r < 0 || memcmp(c->buf, want, MSG) != 0)
                bench_fail("connection %u: %s", ci, r < 0 ? "closed by the server" : "a damaged answer");
            if (done >= a->warm) {
                uint64_t d = now - c->sent_ns;
                lat[done - a->warm] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
            }
            if (++done == a->warm)
                t_start = now;
            c->seq++;
            if (issued < total) {
                start_request(o, conns, ci);
                issued++;
            }
        }
    }
    t_end = bench_now_ns();

    /* Close: our FIN, then the server's. */
    for (uint32_t c = 0; c < CONC_CONNS; c++)
        if (o->shutdown(conns[c].fd, SHUT_WR) != 0)
            bench_fail("shutdown: %s", strerror(errno));
    while (eofs < CONC_CONNS) {
        int n = wait_events(o, ep, evs);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            int r = read_msg(o, c);
            if (r == 0)
                continue;
            if (r > 0)
                bench_fail("bytes after the last answer");
            o->close(c->fd);
            eofs++;
        }
    }
    bench_lat_summarize(lat, a->count, &s);
    bench_lat_format(&s, lats, sizeof(lats));
    snprintf(out, outlen, "conns=%u transactions=%llu tps=%.0f connect_s=%.3f closed=%u %s", established,
             (unsigned long long)a->count, (double)a->count * 1e9 / (double)(t_end - t_start), connect_s, eofs, lats);
    free(lat);
    free(conns);
    o->close(ep);
}

static int listener(const struct conc_ops *o, const struct sockaddr *sa, socklen_t len)
{
    int one = 1, l = o->socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (l < 0 || o->setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 || o->bind(l, sa, len) != 0 ||
        o->listen(l, 4096) != 0)
        bench_fail("listen: %s", strerror(errno));
    return l;
}

/* The kernel roles keep CONC_CONNS descriptors open. */
static void enough_descriptors(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < CONC_CONNS + 64)
        bench_fail("RLIMIT_NOFILE allows fewer than %u descriptors", CONC_CONNS + 64);
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        bench_fail("setrlimit: %s", strerror(errno));
}

int conc_role_main(const struct role_args *a)
{
    bool kernel = !strncmp(a->role, "k-", 2), server = strstr(a->role, "server") != NULL;
    const struct conc_ops *o = kernel ? &kernel_ops : &ucs_ops;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    socklen_t len = sizeof(sa);
    char out[768];

    if (kernel) {
        enough_descriptors();
        if (bench_pin(a->core) != 0)
            bench_fail("cannot pin to core %d: %s", a->core, strerror(errno));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        struct ucs_stack *st = node_start_cable(a, server);
        if (!server) {
            inet_pton(AF_INET, BENCH_SERVER_IP, &sa.sin_addr);
            /* Neighbours resolved both ways first: a SYN held up by ARP costs lwIP's 3 s retransmission. */
            struct sockaddr_storage dst = {0};
            memcpy(&dst, &sa, sizeof(sa));
            if (ucs_drive_ping(st, &dst, 5000) < 0)
                bench_fail("no answer to a ping across the cable");
        }
    }
    if (server) {
        int l = listener(o, (struct sockaddr *)&sa, len);
        if (kernel && getsockname(l, (struct sockaddr *)&sa, &len) != 0)
            bench_fail("getsockname: %s", strerror(errno));
        bench_ready("pid=%ld port=%d", (long)getpid(), kernel ? ntohs(sa.sin_port) : a->port);
        serve(o, l, out, sizeof(out));
        o->close(l);
    } else {
        client(o, (struct sockaddr *)&sa, len, a, out, sizeof(out));
    }
    if (!kernel)
        node_finish(server ? 0 : a->peer_pid);
    bench_result("%s", out);
    return 0;
}
