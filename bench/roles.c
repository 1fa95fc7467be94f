/*
 * The child roles of ucstack-bench: one process each, pinned to one core. The
 * same request/response, bulk and connection-rate code runs over ucstack
 * (ucs_* calls) and over the kernel (libc calls) through a table of calls.
 */
#include "node.h"
#include "roles.h"

#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MSG 64
#define BULK_CHUNK (256 * 1024)
#define PATTERN_PERIOD 4093 /* a prime: a segment landing at the wrong offset shows */
/* The busy-poll flavour of ucs_recv: non-blocking calls, the stack run between them. */
static ssize_t ucs_recv_busy(int fd, void *buf, size_t len, int flags)
{
    for (;;) {
        ssize_t r = ucs_recv(fd, buf, len, flags | MSG_DONTWAIT);
        if (r >= 0 || errno != EAGAIN)
            return r;
        node_poll();
    }
}

static ssize_t k_send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags | MSG_NOSIGNAL);
}

static const struct netops kernel_tcp = {true, socket, bind, listen, accept, connect, k_send, recv, shutdown, close,
                                         setsockopt};
static const struct netops kernel_unix = {false, socket, bind, listen, accept, connect, k_send, recv, shutdown, close,
                                          setsockopt};
static struct netops ucs_ops = {true, ucs_socket, ucs_bind, ucs_listen, ucs_accept, ucs_connect, ucs_send,
                                ucs_recv, ucs_shutdown, ucs_close, ucs_setsockopt};

static int send_all(const struct netops *o, int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = o->send(fd, (const char *)buf + done, len - done, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

/* len bytes, or 0 at a clean end of stream before any, or -1. */
static ssize_t recv_all(const struct netops *o, int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = o->recv(fd, (char *)buf + done, len - done, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            if (done == 0)
                return 0;
            errno = EPIPE;
            return -1;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

#define STALL_S 30

static const char *why(void)
{
    return errno == EAGAIN ? "no progress in 30 s" : strerror(errno);
}

/* Send and receive timeouts: a peer that went away makes a call fail (EAGAIN)
 * rather than wait for ever. */
static void timeouts(const struct netops *o, int fd)
{
    struct timeval tv = {STALL_S, 0};
    if (o->setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        o->setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
        bench_fail("SO_RCVTIMEO/SO_SNDTIMEO: %s", strerror(errno));
}

static void nodelay(const struct netops *o, int fd)
{
    int one = 1;
    if (o->tcp && o->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
        bench_fail("TCP_NODELAY: %s", strerror(errno));
    timeouts(o, fd);
}

static uint8_t *pattern(void)
{
    static uint8_t *p;
    if (!p) {
        p = malloc(BULK_CHUNK + PATTERN_PERIOD);
        if (!p)
            bench_fail("out of memory");
        for (size_t i = 0; i < BULK_CHUNK + PATTERN_PERIOD; i++)
            p[i] = (uint8_t)((i % PATTERN_PERIOD) * 131 + 7);
    }
    return p;
}

/* A 64-byte message that differs every time: the counter, then a pattern. */
static void stamp(uint8_t *m, uint64_t i)
{
    memcpy(m, &i, sizeof(i));
    for (int k = 8; k < MSG; k++)
        m[k] = (uint8_t)(i * 31 + (uint64_t)k);
}

/* --- servers: one connection at a time, as the client makes them --- */

static void serve_rr(const struct netops *o, int l, char *out, size_t outlen)
{
    uint8_t m[MSG];
    uint64_t n = 0;
    int c = o->accept(l, NULL, NULL);
    if (c < 0)
        bench_fail("accept: %s", why());
    fprintf(stderr, "server: accepted\n");
    nodelay(o, c);
    for (;;) {
        ssize_t r = recv_all(o, c, m, MSG);
        if (r == 0)
            break;
        if (r < 0)
            bench_fail("recv after %llu round trips: %s", (unsigned long long)n, why());
        if (send_all(o, c, m, MSG) != 0)
            bench_fail("send after %llu round trips: %s", (unsigned long long)n, why());
        n++;
    }
    o->close(c);
    snprintf(out, outlen, "served=%llu", (unsigned long long)n);
}

static void serve_bulk(const struct netops *o, int l, const struct role_args *a, char *out, size_t outlen)
{
    uint64_t total = a->warm + a->bytes, off = 0, start_off = 0, t_start = 0, t_end = 0;
    const uint8_t *pat = pattern();
    uint8_t *buf = malloc(BULK_CHUNK), end;
    int c = o->accept(l, NULL, NULL);

    if (!buf)
        bench_fail("out of memory");
    if (c < 0)
        bench_fail("accept: %s", why());
    timeouts(o, c);
    while (off < total) {
        size_t want = total - off > BULK_CHUNK ? BULK_CHUNK : (size_t)(total - off);
        ssize_t r = o->recv(c, buf, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            bench_fail("stream ended after %llu of %llu bytes: %s", (unsigned long long)off,
                       (unsigned long long)total, r ? why() : "end of stream");
        if (memcmp(buf, pat + off % PATTERN_PERIOD, (size_t)r) != 0)
            bench_fail("bytes %llu..%llu are not what was sent", (unsigned long long)off,
                       (unsigned long long)(off + (uint64_t)r));
        off += (uint64_t)r;
        if (!t_start && off >= a->warm) {
            t_start = bench_now_ns();
            start_off = off;
        }
    }
    t_end = bench_now_ns();
    if (o->recv(c, &end, 1, 0) != 0)
        bench_fail("more bytes than the %llu sent, or no end of stream", (unsigned long long)total);
    if (send_all(o, c, &off, sizeof(off)) != 0)
        bench_fail("send: %s", why());
    o->close(c);
    free(buf);
    {
        double secs = (double)(t_end - t_start) / 1e9, b = (double)(off - start_off);
        snprintf(out, outlen, "bytes=%.0f seconds=%.6f gbps=%.4f received=%llu", b, secs, b * 8 / secs / 1e9,
                 (unsigned long long)off);
    }
}

static void serve_conn(const struct netops *o, int l, const struct role_args *a, char *out, size_t outlen)
{
    uint64_t total = a->warm + a->count, n;
    uint8_t m[MSG];

    for (n = 0; n < total; n++) {
        int c = o->accept(l, NULL, NULL);
        if (c < 0)
            bench_fail("accept %llu: %s", (unsigned long long)n, why());
        nodelay(o, c);
        if (recv_all(o, c, m, MSG) != MSG)
            bench_fail("connection %llu: no request (%s)", (unsigned long long)n, why());
        if (send_all(o, c, m, MSG) != 0)
            bench_fail("connection %llu: send: %s", (unsigned long long)n, why());
        /* Until the client's close (a reset: it lingers zero seconds). */
        while (o->recv(c, m, sizeof(m), 0) > 0)
            ;
        o->close(c);
    }
    snprintf(out, outlen, "served=%llu", (unsigned long long)n);
}

/* --- clients --- */

static int connect_retry(const struct netops *o, int family, const struct sockaddr *sa, socklen_t len, bool retry)
{
    uint64_t deadline = bench_now_ns() + 30000000000ull;
    for (;;) {
        int fd = o->socket(family, SOCK_STREAM, 0);
        if (fd < 0)
            bench_fail("socket: %s", why());
        if (o->connect(fd, sa, len) == 0)
            return fd;
        if (!retry || bench_now_ns() > deadline)
            bench_fail("connect: %s", why());
        o->close(fd);
        usleep(1000);
    }
}

static void client_rr(const struct netops *o, int fd, const struct role_args *a, char *out, size_t outlen)
{
    uint64_t total = a->warm + a->count;
    uint32_t *samples = calloc(a->count ? a->count : 1, sizeof(*samples));
    uint8_t req[MSG], resp[MSG];
    struct lat_summary s;

    if (!samples)
        bench_fail("out of memory");
    nodelay(o, fd);
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0, t1;
        stamp(req, i);
        t0 = bench_now_ns();
        if (send_all(o, fd, req, MSG) != 0)
            bench_fail("round trip %llu: send: %s", (unsigned long long)i, why());
        if (recv_all(o, fd, resp, MSG) != MSG)
            bench_fail("round trip %llu: recv: %s", (unsigned long long)i, why());
        t1 = bench_now_ns();
        if (memcmp(req, resp, MSG) != 0)
            bench_fail("round trip %llu: the answer is not the request", (unsigned long long)i);
        if (i >= a->warm)
            samples[i - a->warm] = (uint32_t)(t1 - t0);
    }
    fprintf(stderr, "client: %llu round trips done\n", (unsigned long long)total);
    bench_lat_summarize(samples, a->count, &s);
    bench_lat_format(&s, out, outlen);
    free(samples);
}

static void client_bulk(const struct netops *o, int fd, const struct role_args *a, char *out, size_t outlen)
{
    uint64_t total = a->warm + a->bytes, off = 0, got = 0;
    const uint8_t *pat = pattern();
    uint64_t t0 = bench_now_ns();

    timeouts(o, fd);
    while (off < total) {
        size_t n = total - off > BULK_CHUNK ? BULK_CHUNK : (size_t)(total - off);
        ssize_t r = o->send(fd, pat + off % PATTERN_PERIOD, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            bench_fail("send at byte %llu: %s", (unsigned long long)off, why());
        off += (uint64_t)r;
    }
    if (o->shutdown(fd, SHUT_WR) != 0)
        bench_fail("shutdown: %s", why());
    if (recv_all(o, fd, &got, sizeof(got)) != sizeof(got))
        bench_fail("no receipt from the receiver: %s", why());
    if (got != total)
        bench_fail("the receiver counted %llu bytes of %llu", (unsigned long long)got, (unsigned long long)total);
    snprintf(out, outlen, "sent=%llu sender_seconds=%.6f", (unsigned long long)off,
             (double)(bench_now_ns() - t0) / 1e9);
}

static void client_conn(const struct netops *o, int family, const struct sockaddr *sa, socklen_t len,
                        const struct role_args *a, char *out, size_t outlen)
{
    uint64_t total = a->warm + a->count, t_start = 0;
    struct linger lg = {1, 0};
    uint8_t req[MSG], resp[MSG];

    for (uint64_t i = 0; i < total; i++) {
        int fd;
        if (i == a->warm)
            t_start = bench_now_ns();
        fd = connect_retry(o, family, sa, len, i == 0);
        nodelay(o, fd);
        stamp(req, i);
        if (send_all(o, fd, req, MSG) != 0)
            bench_fail("connection %llu: send: %s", (unsigned long long)i, why());
        if (recv_all(o, fd, resp, MSG) != MSG)
            bench_fail("connection %llu: recv: %s", (unsigned long long)i, why());
        if (memcmp(req, resp, MSG) != 0)
            bench_fail("connection %llu: the answer is not the request", (unsigned long long)i);
        /* The client closes first, with a reset: no TIME_WAIT on either stack. */
        if (o->setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
            bench_fail("SO_LINGER: %s", why());
        if (o->close(fd) != 0)
            bench_fail("connection %llu: close: %s", (unsigned long long)i, why());
    }
    {
        double secs = (double)(bench_now_ns() - t_start) / 1e9;
        snprintf(out, outlen, "conns=%llu seconds=%.6f conn_per_s=%.1f us_per_conn=%.3f",
                 (unsigned long long)a->count, secs, (double)a->count / secs, secs * 1e6 / (double)a->count);
    }
}

/* --- reading the peer's credentials --- */

static double batch_median(int batches, uint64_t calls, int (*one)(int, void *), int fd, void *ctx)
{
    double v[64];
    if (batches > 64)
        batches = 64;
    for (int b = 0; b < batches; b++) {
        uint64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < calls; i++) {
            if (one(fd, ctx) != 0)
                bench_fail("credential read %llu failed: %s", (unsigned long long)i, why());
        }
        v[b] = (double)(bench_now_ns() - t0) / (double)calls;
    }
    return bench_median(v, batches);
}

static int one_getpeerucred(int fd, void *ctx)
{
    return getpeerucred(fd, (ucred_t **)ctx);
}

static int one_so_peercred(int fd, void *ctx)
{
    socklen_t len = sizeof(struct ucred);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ctx, &len);
}

static void cred_bench(int fd, bool stack_fd, const struct role_args *a, char *out, size_t outlen)
{
    ucred_t *uc = NULL;
    size_t used = strlen(out);

    if (!a->calls)
        return;
    if (getpeerucred(fd, &uc) != 0)
        bench_fail("getpeerucred: %s", why());
    if (a->peer_pid && ucred_getpid(uc) != a->peer_pid)
        bench_fail("getpeerucred says pid %d, the peer is %ld", (int)ucred_getpid(uc), a->peer_pid);
    if (stack_fd) {
        double ns = batch_median(a->batches, a->calls, one_getpeerucred, fd, &uc);
        snprintf(out + used, outlen - used, " cred_ns=%.2f cred_calls=%llu cred_batches=%d", ns,
                 (unsigned long long)a->calls, a->batches);
    } else {
        struct ucred kc;
        double ns, ucred_ns;
        if (one_so_peercred(fd, &kc) != 0 || kc.pid != a->peer_pid)
            bench_fail("SO_PEERCRED: %s (pid %d, the peer is %ld)", why(), (int)kc.pid, a->peer_pid);
        ns = batch_median(a->batches, a->calls, one_so_peercred, fd, &kc);
        /* getpeerucred() on a kernel socket asks the kernel several things: fewer calls. */
        ucred_ns = batch_median(a->batches, a->calls / 20 + 1, one_getpeerucred, fd, &uc);
        snprintf(out + used, outlen - used, " cred_ns=%.2f kernel_getpeerucred_ns=%.2f cred_calls=%llu cred_batches=%d",
                 ns, ucred_ns, (unsigned long long)a->calls, a->batches);
    }
    ucred_free(uc);
}

/* --- ucstack roles --- */

/* An orderly end: our FIN, then the peer's, so each side knows the other is done. */
static void close_orderly(const struct netops *o, int fd)
{
    char b[64];
    /* Already shut (bulk), or the peer's FIN already came: the kernel says ENOTCONN. */
    if (o->shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN)
        bench_fail("shutdown: %s", strerror(errno));
    for (;;) {
        ssize_t r = o->recv(fd, b, sizeof(b), 0);
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            bench_fail("waiting for the peer's FIN: %s", why());
        if (r > 0)
            bench_fail("unexpected bytes after the last answer");
    }
    o->close(fd);
}

static void cred_stats(char *out, size_t outlen)
{
    struct ucs_cred_option_stats cs;
    size_t used = strlen(out);
    ucs_get_cred_option_stats(&cs);
    snprintf(out + used, outlen - used, " credopt_sent=%llu credopt_received=%llu", (unsigned long long)cs.sent,
             (unsigned long long)cs.received);
}

static int ucs_server(const struct role_args *a)
{
    char out[512];
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    int l;

    node_start_cable(a, true);
    l = ucs_socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || ucs_bind(l, (struct sockaddr *)&any, sizeof(any)) != 0 || ucs_listen(l, 128) != 0)
        bench_fail("listen: %s", why());
    timeouts(&ucs_ops, l);
    bench_ready("pid=%ld port=%d", (long)getpid(), a->port);
    fprintf(stderr, "server: listening\n");
    if (!strcmp(a->mode, "rr"))
        serve_rr(&ucs_ops, l, out, sizeof(out));
    else if (!strcmp(a->mode, "bulk"))
        serve_bulk(&ucs_ops, l, a, out, sizeof(out));
    else
        serve_conn(&ucs_ops, l, a, out, sizeof(out));
    cred_stats(out, sizeof(out));
    ucs_close(l);
    node_finish(0);
    bench_result("%s", out);
    return 0;
}

static int ucs_client(const struct role_args *a)
{
    char out[768];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    int fd;

    inet_pton(AF_INET, BENCH_SERVER_IP, &sa.sin_addr);
    node_start_cable(a, false);
    if (a->busy)
        ucs_ops.recv = ucs_recv_busy;
    out[0] = '\0';
    if (!strcmp(a->mode, "conn")) {
        client_conn(&ucs_ops, AF_INET, (struct sockaddr *)&sa, sizeof(sa), a, out, sizeof(out));
    } else {
        fd = connect_retry(&ucs_ops, AF_INET, (struct sockaddr *)&sa, sizeof(sa), true);
        fprintf(stderr, "client: connected\n");
        if (!strcmp(a->mode, "rr")) {
            client_rr(&ucs_ops, fd, a, out, sizeof(out));
            cred_bench(fd, true, a, out, sizeof(out));
        } else {
            client_bulk(&ucs_ops, fd, a, out, sizeof(out));
        }
        close_orderly(&ucs_ops, fd);
    }
    cred_stats(out, sizeof(out));
    node_finish(a->peer_pid);
    bench_result("%s", out);
    return 0;
}

/* Client and server in one process and one thread, over 127.0.0.1: every call
 * non-blocking, the stack run by ucs_stack_poll() while waiting. */
static void poll_recv(int fd, uint8_t *buf, size_t len, uint64_t i)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = ucs_recv(fd, buf + got, len - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || errno != EAGAIN)
            bench_fail("round trip %llu: recv: %s", (unsigned long long)i, r ? why() : "end of stream");
        node_poll();
    }
}

static void poll_send(int fd, const uint8_t *buf, size_t len, uint64_t i)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = ucs_send(fd, buf + done, len - done, 0);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0 || errno != EAGAIN)
            bench_fail("round trip %llu: send: %s", (unsigned long long)i, why());
        node_poll();
    }
}

static int ucs_inproc(const struct role_args *a)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    uint64_t total = a->warm + a->count, deadline;
    uint32_t *samples = calloc(a->count ? a->count : 1, sizeof(*samples));
    uint8_t req[MSG], got[MSG], resp[MSG];
    struct lat_summary s;
    char out[512];
    int l, c, srv = -1, one = 1;

    if (!samples)
        bench_fail("out of memory");
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    node_start(a, "net_ring0", "198.18.7.1");
    l = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    c = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (l < 0 || c < 0 || ucs_bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || ucs_listen(l, 8) != 0)
        bench_fail("listen: %s", why());
    if (ucs_connect(c, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        bench_fail("connect: %s", why());
    deadline = bench_now_ns() + 10000000000ull;
    while (srv < 0) {
        node_poll();
        srv = ucs_accept4(l, NULL, NULL, SOCK_NONBLOCK);
        if (srv < 0 && (errno != EAGAIN || bench_now_ns() > deadline))
            bench_fail("accept: %s", why());
    }
    ucs_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ucs_setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bench_ready("pid=%ld", (long)getpid());
    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0, t1;
        stamp(req, i);
        t0 = bench_now_ns();
        poll_send(c, req, MSG, i);
        poll_recv(srv, got, MSG, i);
        poll_send(srv, got, MSG, i);
        poll_recv(c, resp, MSG, i);
        t1 = bench_now_ns();
        if (memcmp(req, resp, MSG) != 0)
            bench_fail("round trip %llu: the answer is not the request", (unsigned long long)i);
        if (i >= a->warm)
            samples[i - a->warm] = (uint32_t)(t1 - t0);
    }
    bench_lat_summarize(samples, a->count, &s);
    bench_lat_format(&s, out, sizeof(out));
    free(samples);
    ucs_close(c);
    ucs_close(srv);
    ucs_close(l);
    node_finish(0);
    bench_result("%s served=%llu", out, (unsigned long long)total);
    return 0;
}

/* --- kernel roles --- */

static socklen_t kernel_addr(const struct role_args *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (!strcmp(a->family, "unix")) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", a->path);
        return sizeof(*un);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)a->port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof(*in);
    }
}

static int k_server(const struct role_args *a)
{
    const struct netops *o = strcmp(a->family, "unix") ? &kernel_tcp : &kernel_unix;
    struct sockaddr_storage ss;
    socklen_t len = kernel_addr(a, &ss);
    char out[512];
    int l, one = 1;

    if (bench_pin(a->core) != 0)
        bench_fail("cannot pin to core %d: %s", a->core, why());
    l = socket(ss.ss_family, SOCK_STREAM, 0);
    if (l < 0)
        bench_fail("socket: %s", why());
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (struct sockaddr *)&ss, len) != 0 || listen(l, 128) != 0)
        bench_fail("listen: %s", why());
    timeouts(o, l);
    if (getsockname(l, (struct sockaddr *)&ss, &len) != 0)
        bench_fail("getsockname: %s", why());
    bench_ready("pid=%ld port=%d", (long)getpid(),
                ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : 0);
    if (!strcmp(a->mode, "rr"))
        serve_rr(o, l, out, sizeof(out));
    else if (!strcmp(a->mode, "bulk"))
        serve_bulk(o, l, a, out, sizeof(out));
    else
        serve_conn(o, l, a, out, sizeof(out));
    close(l);
    bench_result("%s", out);
    return 0;
}

static int k_client(const struct role_args *a)
{
    const struct netops *o = strcmp(a->family, "unix") ? &kernel_tcp : &kernel_unix;
    struct sockaddr_storage ss;
    socklen_t len = kernel_addr(a, &ss);
    char out[768];
    int fd;

    if (bench_pin(a->core) != 0)
        bench_fail("cannot pin to core %d: %s", a->core, why());
    out[0] = '\0';
    if (!strcmp(a->mode, "conn")) {
        client_conn(o, ss.ss_family, (struct sockaddr *)&ss, len, a, out, sizeof(out));
    } else {
        fd = connect_retry(o, ss.ss_family, (struct sockaddr *)&ss, len, true);
        if (!strcmp(a->mode, "rr")) {
            client_rr(o, fd, a, out, sizeof(out));
            if (ss.ss_family == AF_UNIX)
                cred_bench(fd, false, a, out, sizeof(out));
        } else {
            client_bulk(o, fd, a, out, sizeof(out));
        }
        close_orderly(o, fd);
    }
    bench_result("%s", out);
    return 0;
}

int roles_main(const struct role_args *a)
{
    if (!strcmp(a->role, "ucs-server"))
        return ucs_server(a);
    if (!strcmp(a->role, "ucs-client"))
        return ucs_client(a);
    if (!strcmp(a->role, "ucs-inproc"))
        return ucs_inproc(a);
    if (!strcmp(a->role, "k-server"))
        return k_server(a);
    if (!strcmp(a->role, "k-client"))
        return k_client(a);
    bench_fail("no role %s", a->role);
}
