/*
 * ucs-conns: many concurrent TCP connections between two stack instances,
 * each established, exercised with one request/response and closed, with
 * counts, memory per idle connection and what is left at the end.
 *
 *   ucs-conns --config FILE --serve PORT --ports K --expect N
 *   ucs-conns --config FILE --connect ADDR,PORT --ports K --count N [--window W]
 *   ucs-conns --config FILE --serve PORT --expect N --server-closes
 *   ucs-conns --config FILE --connect ADDR,PORT --count N --sequential [--source-ports K]
 *
 * The server listens on ports PORT..PORT+K-1 (more than 32,768 connections
 * from one client address need several server ports); client connection i
 * goes to PORT + i % K. At most W connects, requests or closes are in flight
 * at a time (default 200 per server port, well within a listener's SYN queue
 * and its 4,096-connection accept queue). Lines, in order:
 *   server: "ready", "idle conns=N ...", "drained ...", then at the end "stats ..."
 *   client: "established n=N seconds=S conn_per_s=R peer_creds=N", "idle conns=N ...",
 *           "exercised n=N ok=N seconds=S", "closed n=N eofs=N seconds=S",
 *           then, once its standard input closes, "stats ..."
 * With --sequential the client opens one connection at a time (connect,
 * request, answer, the server's close, close) N times, on port PORT only,
 * and says "sequential n=N ok=N failed=F seconds=S conn_per_s=R rto=T";
 * the server, with --server-closes, closes each connection once it has
 * answered, so its side holds the TIME-WAIT pcbs and the client's ports come
 * round again while their 4-tuples are still in TIME-WAIT there (after
 * 32,768 connections, or after K with --source-ports K: connection i is then
 * bound to port 40000 + i % K); its "drained" line then comes when all N
 * are closed.
 * The request is 32 bytes (magic, index, nonce, index ^ nonce); the answer is
 * the request with every bit flipped. Both sides check every byte.
 */
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "tool_args.h"

#include "drive.h"

#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "tcp_pcb_index.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAGIC 0x314e4e4f43534355ull /* "UCSCONN1" */
#define MSG 32
#define MAX_EVENTS 512

struct conn {
    int fd;
    uint8_t got;    /* bytes of the current message received */
    uint8_t unsent; /* server: bytes of the answer TCP has not taken yet */
    uint8_t buf[MSG];
};

struct mem_snap {
    double libc, lwip_heap, pools, rss, mbufs_free;
};

static struct conn *conns;
static uint32_t nconns;

static void mem_snap(struct mem_snap *m)
{
    struct ucs_stack_stats s;
    struct mallinfo2 mi = mallinfo2();
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    m->libc = (double)(mi.uordblks + mi.hblkhd);
    m->lwip_heap = (double)lwip_stats.mem.used;
    m->pools = 0;
    for (int i = 0; i < MEMP_MAX; i++)
        m->pools += (double)memp_pools[i]->stats->used * memp_pools[i]->size;
    m->rss = (double)resident * (double)sysconf(_SC_PAGESIZE);
    ucs_stack_get_stats(ucs_stack_current(), &s);
    m->mbufs_free = s.mbufs_free;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define TIMER_PASSES 21

/* What N idle connections cost over the baseline, per connection, and what
 * a pass of each of lwIP's TCP timers takes with them: the first pass (it
 * still finds the connections that just went quiet) and the median of the
 * next TIMER_PASSES - 1, with the pcbs they visited per pass. */
static void print_idle(const struct mem_snap *base, uint32_t n)
{
    struct mem_snap now;
    struct ucs_stack_stats st;
    double fast[TIMER_PASSES], slow[TIMER_PASSES];
    uint64_t visits_first = 0, visits_rest = 0;
    for (int i = 0; i < TIMER_PASSES; i++) {
        ucs_stack_get_stats(ucs_stack_current(), &st);
        uint64_t v0 = st.tcp_timer_visits;
        double t0 = tool_now();
        tcp_fasttmr();
        fast[i] = tool_now() - t0;
        t0 = tool_now();
        tcp_slowtmr();
        slow[i] = tool_now() - t0;
        ucs_stack_get_stats(ucs_stack_current(), &st);
        *(i == 0 ? &visits_first : &visits_rest) += st.tcp_timer_visits - v0;
    }
    qsort(fast + 1, TIMER_PASSES - 1, sizeof(double), compare_doubles);
    qsort(slow + 1, TIMER_PASSES - 1, sizeof(double), compare_doubles);
    mem_snap(&now);
    double libc = (now.libc - base->libc) / n, heap = (now.lwip_heap - base->lwip_heap) / n;
    double pools = (now.pools - base->pools) / n;
    printf("idle conns=%u bytes_per_conn=%.0f lwip_pools=%.0f lwip_heap=%.0f libc_heap=%.0f rss_delta=%.0f "
           "tcp_pcb_size=%zu fasttmr_us=%.0f slowtmr_us=%.0f fasttmr_median_us=%.1f slowtmr_median_us=%.1f "
           "timer_visits_first=%llu timer_visits_per_pass=%.1f\n",
           n, libc + heap + pools, pools, heap, libc, (now.rss - base->rss) / n, sizeof(struct tcp_pcb), fast[0] * 1e6,
           slow[0] * 1e6, fast[TIMER_PASSES / 2] * 1e6, slow[TIMER_PASSES / 2] * 1e6, (unsigned long long)visits_first,
           (double)visits_rest / (TIMER_PASSES - 1));
}

static uint32_t count_list(struct tcp_pcb *pcb)
{
    uint32_t n = 0;
    for (; pcb; pcb = pcb->next)
        n++;
    return n;
}

static void print_stats(struct ucs_stack *stack, const struct mem_snap *base, uint32_t open_sockets)
{
    struct ucs_stack_stats s;
    struct ucs_tcp_index_stats ix;
    struct mem_snap now;

    ucs_stack_get_stats(stack, &s);
    ucs_tcp_index_get_stats(&ix);
    mem_snap(&now);
    printf("stats active=%u time_wait=%u pcbs_used=%u sockets_open=%u lwip_heap_delta=%.0f mbufs_free_delta=%.0f "
           "tcp_drops=%llu ip_drops=%llu index_lookups=%llu index_compared=%llu tcp_seg_exhausted=%u tw_reopened=%llu "
           "tw_old_syn=%llu tw_paws_syn=%llu rto=%llu\n",
           count_list(tcp_active_pcbs), count_list(tcp_tw_pcbs), (unsigned)memp_pools[MEMP_TCP_PCB]->stats->used,
           open_sockets, now.lwip_heap - base->lwip_heap, now.mbufs_free - base->mbufs_free,
           (unsigned long long)s.tcp_drops, (unsigned long long)s.ip_drops, (unsigned long long)ix.lookups,
           (unsigned long long)ix.compared, (unsigned)memp_pools[MEMP_TCP_SEG]->stats->err,
           (unsigned long long)s.tcp_timewait_reopened, (unsigned long long)s.tcp_timewait_old_syn,
           (unsigned long long)s.tcp_timewait_paws_syn, (unsigned long long)s.tcp_rto);
}

/* Whether the peer's credential came with the connection. */
static bool has_peer_cred(int fd)
{
    ucred_t *uc = NULL;
    bool ok = getpeerucred(fd, &uc) == 0 && ucred_getpid(uc) > 0;
    ucred_free(uc);
    return ok;
}

static bool stdin_closed(void)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    char buf[64];
    return poll(&pfd, 1, 0) > 0 && read(0, buf, sizeof(buf)) <= 0;
}

static void wait_stdin_closed(struct ucs_stack *stack)
{
    for (unsigned n = 1;; n++) {
        ucs_stack_poll(stack);
        if ((n & 4095) == 0 && stdin_closed())
            return;
    }
}

/* Reads what has arrived into c's buffer: 1 when a whole message is there,
 * 0 when not yet, -1 at end of stream, -2 on error. */
static int read_msg(struct conn *c)
{
    while (c->got < MSG) {
        ssize_t n = ucs_recv(c->fd, c->buf + c->got, MSG - c->got, 0);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN ? 0 : -2;
        c->got = (uint8_t)(c->got + n);
    }
    c->got = 0;
    return 1;
}

/* Sends what is left of c's answer: 1 when all of it went, 0 when TCP cannot
 * take it yet (back-pressure: wait for EPOLLOUT), -1 on error. */
static int send_answer(struct conn *c)
{
    while (c->unsent) {
        ssize_t n = ucs_send(c->fd, c->buf + MSG - c->unsent, c->unsent, 0);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->unsent = (uint8_t)(c->unsent - n);
    }
    return 1;
}

static void flip(uint8_t *msg)
{
    for (int i = 0; i < MSG; i++)
        msg[i] = (uint8_t)~msg[i];
}

static int serve(struct ucs_stack *stack, int port, int nports, uint32_t expect, bool server_closes)
{
    struct epoll_event evs[MAX_EVENTS];
    struct mem_snap base;
    uint32_t accepted = 0, served = 0, closed = 0, bad = 0, open = 0, creds = 0;
    bool idle_said = false, drained_said = false;
    int ep = ucs_epoll_create1(0);

    nconns = expect + (uint32_t)nports + 64;
    conns = calloc(nconns, sizeof(*conns));
    for (int i = 0; i < nports; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(port + i))};
        int l = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)l | 1ull << 63};
        if (ucs_bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || ucs_listen(l, 4096) != 0 ||
            ucs_epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) != 0) {
            printf("serve FAILED to listen on port %d: %s\n", port + i, strerror(errno));
            return 1;
        }
    }
    mem_snap(&base);
    printf("ready\n");
    for (unsigned iter = 1;; iter++) {
        int n = ucs_epoll_wait(ep, evs, MAX_EVENTS, 0);
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            if (d >> 63) {
                int fd;
                while ((fd = ucs_accept4((int)(d & 0x7fffffff), NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    uint32_t slot = (uint32_t)(fd - UCS_FD_BASE);
                    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = slot};
                    if (slot >= nconns || ucs_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        bad++;
                        ucs_close(fd);
                        continue;
                    }
                    conns[slot] = (struct conn){.fd = fd};
                    creds += has_peer_cred(fd);
                    accepted++;
                    open++;
                }
                continue;
            }
            struct conn *c = &conns[d];
            struct epoll_event in = {.events = EPOLLIN, .data.u64 = d}, out = {.events = EPOLLOUT, .data.u64 = d};
            int r = 0, s = 1;
            if (c->unsent) {
                if ((s = send_answer(c)) == 0)
                    continue;
                served += s > 0;
                bad += s < 0;
                ucs_epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &in);
            }
            while ((r = read_msg(c)) == 1) {
                uint64_t w[4];
                memcpy(w, c->buf, MSG);
                if (w[0] != MAGIC || w[3] != (w[1] ^ w[2])) {
                    bad++;
                    continue;
                }
                flip(c->buf);
                c->unsent = MSG;
                if ((s = send_answer(c)) == 0) {
                    ucs_epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &out);
                    break;
                }
                served += s > 0;
                bad += s < 0;
                if (s > 0 && server_closes) {
                    r = -1;
                    break;
                }
            }
            if (r < 0) {
                bad += r == -2;
                ucs_close(c->fd);
                c->fd = -1;
                closed++;
                open--;
            }
        }
        if (!idle_said && accepted == expect) {
            print_idle(&base, expect);
            idle_said = true;
        }
        if (!drained_said && closed == expect) {
            struct ucs_tcp_index_stats ix;
            ucs_tcp_index_get_stats(&ix);
            if (ix.indexed == 0 || server_closes) {
                printf("drained accepted=%u served=%u closed=%u bad=%u peer_creds=%u\n", accepted, served, closed, bad,
                       creds);
                drained_said = true;
            }
        }
        if ((iter & 4095) == 0 && stdin_closed())
            break;
    }
    print_stats(stack, &base, open);
    return bad ? 1 : 0;
}

struct target {
    struct sockaddr_storage ss;
    socklen_t len;
};

static int client(struct ucs_stack *stack, struct target *t, int nports, uint32_t count, uint32_t window)
{
    struct epoll_event evs[MAX_EVENTS];
    struct mem_snap base;
    uint32_t started = 0, established = 0, failed = 0, inflight = 0, ok = 0, bad = 0, eofs = 0, creds = 0;
    uint64_t nonce = ((uint64_t)getpid() << 32) ^ (uint64_t)(tool_now() * 1e6);
    int ep = ucs_epoll_create1(0);
    double t0;

    conns = calloc(count, sizeof(*conns));
    nconns = count;
    /* Neighbours resolved both ways before anything is timed. */
    if (ucs_drive_ping(stack, &t[0].ss, 5000) < 0) {
        printf("ping FAILED\n");
        return 1;
    }
    mem_snap(&base);

    /* Establish: non-blocking connects, at most window at a time. */
    t0 = tool_now();
    while (established + failed < count) {
        while (inflight < window && started < count) {
            struct target *dst = &t[started % (uint32_t)nports];
            int fd = ucs_socket(dst->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = started};
            conns[started] = (struct conn){.fd = fd};
            if (fd < 0 || (ucs_connect(fd, (struct sockaddr *)&dst->ss, dst->len) != 0 && errno != EINPROGRESS) ||
                ucs_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                printf("connect %u FAILED: %s\n", started, strerror(errno));
                return 1;
            }
            started++;
            inflight++;
        }
        int n = ucs_epoll_wait(ep, evs, MAX_EVENTS, 0);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[i].data.u64};
            int err = 0;
            socklen_t len = sizeof(err);
            ucs_getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                if (!failed++)
                    printf("connect %llu FAILED: %s\n", (unsigned long long)evs[i].data.u64, strerror(err));
                ev.events = 0;
            } else {
                established++;
                creds += has_peer_cred(c->fd);
            }
            inflight--;
            ucs_epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }
    double secs = tool_now() - t0;
    printf("established n=%u failed=%u seconds=%.3f conn_per_s=%.0f peer_creds=%u\n", established, failed, secs,
           secs > 0 ? established / secs : 0.0, creds);
    if (failed)
        return 1;
    print_idle(&base, count);

    /* Exercise: one request/response on each, at most window at a time. */
    t0 = tool_now();
    for (uint32_t next = 0, done = 0; done < count;) {
        while (next < count && next - done < window) {
            uint64_t w[4] = {MAGIC, next, nonce, next ^ nonce};
            if (ucs_send(conns[next].fd, w, MSG, 0) != MSG)
                bad++;
            next++;
        }
        int n = ucs_epoll_wait(ep, evs, MAX_EVENTS, 0);
        for (int i = 0; i < n; i++) {
            uint64_t idx = evs[i].data.u64;
            int r = read_msg(&conns[idx]);
            if (r == 0)
                continue;
            uint64_t w[4] = {MAGIC, idx, nonce, idx ^ nonce};
            flip((uint8_t *)w);
            if (r == 1 && memcmp(w, conns[idx].buf, MSG) == 0)
                ok++;
            else
                bad++;
            done++;
        }
        if (bad) {
            printf("exercised FAILED: %u bad answers\n", bad);
            return 1;
        }
    }
    printf("exercised n=%u ok=%u seconds=%.3f\n", count, ok, tool_now() - t0);

    /* Close: shut down writing, wait for the server's close, then close. */
    t0 = tool_now();
    for (uint32_t next = 0; eofs < count;) {
        while (next < count && next - eofs < window)
            if (ucs_shutdown(conns[next++].fd, SHUT_WR) != 0)
                bad++;
        int n = ucs_epoll_wait(ep, evs, MAX_EVENTS, 0);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            int r = read_msg(c);
            if (r == 0)
                continue;
            bad += r != -1;
            ucs_close(c->fd);
            c->fd = -1;
            eofs++;
        }
        if (bad) {
            printf("closed FAILED: %u errors\n", bad);
            return 1;
        }
    }
    printf("closed n=%u eofs=%u seconds=%.3f\n", count, eofs, tool_now() - t0);
    ucs_close(ep);
    wait_stdin_closed(stack);
    print_stats(stack, &base, 0);
    return 0;
}

/* One connection at a time: connect, request, answer, the server's close,
 * close. The socket is blocking: each call runs the stack while it waits. */
static int sequential(struct ucs_stack *stack, struct target *t, uint32_t count, uint32_t source_ports)
{
    uint64_t nonce = ((uint64_t)getpid() << 32) ^ (uint64_t)(tool_now() * 1e6);
    uint32_t ok = 0, failed = 0;
    struct ucs_stack_stats before, after;
    struct timeval tv = {10, 0};

    if (ucs_drive_ping(stack, &t->ss, 5000) < 0) {
        printf("ping FAILED\n");
        return 1;
    }
    ucs_stack_get_stats(stack, &before);
    double t0 = tool_now();
    /* past 10 failures (each waits up to 10 s) the answer is known */
    for (uint32_t i = 0; i < count && failed <= 10; i++) {
        struct conn c = {.fd = ucs_socket(t->ss.ss_family, SOCK_STREAM, 0)};
        uint64_t w[4] = {MAGIC, i, nonce, i ^ nonce};
        char eof;
        ucs_setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ucs_setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (source_ports) {
            struct sockaddr_storage from = t->ss;
            int one = 1;
            /* sin_port and sin6_port sit at the same offset; the address: any */
            if (from.ss_family == AF_INET)
                ((struct sockaddr_in *)&from)->sin_addr.s_addr = INADDR_ANY;
            else
                ((struct sockaddr_in6 *)&from)->sin6_addr = in6addr_any;
            ((struct sockaddr_in *)&from)->sin_port = htons((uint16_t)(40000 + i % source_ports));
            ucs_setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (ucs_bind(c.fd, (struct sockaddr *)&from, t->len) != 0) {
                if (!failed++)
                    printf("bind %u FAILED: %s\n", i, strerror(errno));
                ucs_close(c.fd);
                continue;
            }
        }
        if (ucs_connect(c.fd, (struct sockaddr *)&t->ss, t->len) != 0 || ucs_send(c.fd, w, MSG, 0) != MSG) {
            if (!failed++)
                printf("connection %u FAILED: %s\n", i, strerror(errno));
            ucs_close(c.fd);
            continue;
        }
        int r = read_msg(&c); /* blocking: 0 only when SO_RCVTIMEO passed */
        flip((uint8_t *)w);
        if (r == 1 && memcmp(w, c.buf, MSG) == 0 && ucs_recv(c.fd, &eof, 1, 0) == 0) {
            ok++;
        } else if (!failed++) {
            printf("connection %u FAILED: answer %d, %s\n", i, r, strerror(errno));
        }
        ucs_close(c.fd);
    }
    double secs = tool_now() - t0;
    ucs_stack_get_stats(stack, &after);
    printf("sequential n=%u ok=%u failed=%u seconds=%.3f conn_per_s=%.0f rto=%llu\n", count, ok, failed, secs,
           secs > 0 ? ok / secs : 0.0, (unsigned long long)(after.tcp_rto - before.tcp_rto));
    wait_stdin_closed(stack);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"serve", required_argument, NULL, 's'},
                                         {"connect", required_argument, NULL, 'C'},
                                         {"ports", required_argument, NULL, 'k'},
                                         {"expect", required_argument, NULL, 'e'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"window", required_argument, NULL, 'w'},
                                         {"sequential", no_argument, NULL, 'S'},
                                         {"server-closes", no_argument, NULL, 'X'},
                                         {"source-ports", required_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    uint32_t source_ports = 0;
    bool seq = false, server_closes = false;
    const char *config = NULL;
    char *peer = NULL, err[256];
    int port = 0, nports = 1, opt, rc;
    uint32_t count = 0, window = 0;
    struct ucs_config cfg;
    struct ucs_stack *stack;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 's':
            port = atoi(optarg);
            break;
        case 'C':
            peer = optarg;
            break;
        case 'k':
            nports = atoi(optarg);
            break;
        case 'e':
        case 'n':
            count = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            window = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'S':
            seq = true;
            break;
        case 'X':
            server_closes = true;
            break;
        case 'P':
            source_ports = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        default:
            return 2;
        }
    }
    if (!window)
        window = 200 * (uint32_t)nports;
    if (!config || !count || nports < 1 || nports > 64 || (!port == !peer)) {
        fprintf(stderr, "usage: ucs-conns --config FILE (--serve PORT --expect N [--server-closes] | --connect "
                        "ADDR,PORT --count N [--window W | --sequential]) [--ports K]\n");
        return 2;
    }
    if (ucs_config_load(config, &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "ucs-conns: %s\n", err);
        return 2;
    }
    if (port) {
        rc = serve(stack, port, nports, count, server_closes);
    } else {
        struct target t[64];
        double deadline = tool_now() + 30;
        if (tool_parse_peer(peer, &t[0].ss, &t[0].len) != 0) {
            fprintf(stderr, "ucs-conns: --connect wants ADDR,PORT\n");
            return 2;
        }
        for (int i = 1; i < nports; i++) {
            t[i] = t[0];
            /* sin_port and sin6_port sit at the same offset */
            ((struct sockaddr_in *)&t[i].ss)->sin_port =
                htons((uint16_t)(ntohs(((struct sockaddr_in *)&t[0].ss)->sin_port) + i));
        }
        while (!ucs_stack_links_up(stack) && tool_now() < deadline)
            ucs_stack_poll(stack);
        rc = seq ? sequential(stack, t, count, source_ports) : client(stack, t, nports, count, window);
    }
    ucs_stack_destroy(stack);
    free(conns);
    return rc;
}
