/*
 * ucs-stream: a full-duplex byte-exact stream through the socket API between
 * two stack instances. Each side sends BYTES of a known pattern while reading
 * and checking BYTES from the other, with non-blocking sockets and epoll.
 *
 *   ucs-stream --config FILE (--listen PORT | --connect ADDR,PORT) --bytes N
 *              [--one-way] [--keepalive SECONDS] [--timeout SECONDS]
 *
 * With --one-way (given to both sides) only the connecting side sends.
 * Prints "ready" when listening, "transferring" once 1 MiB has arrived, then
 *   "stream sent=N received=N ok|FAILED partial_writes=K seconds=S gbit_per_s=G [error=ENAME]"
 * (error: what a failed send or receive said), then what the port's fault
 * key injected and what the stack still holds once the socket is closed:
 *   "faults dropped=N reordered=N duplicated=N corrupted=N ip_checksum_errors=N tcp_checksum_errors=N ..."
 *   "offload tso_frames=N lro_frames=N rx_oversize=N"
 *   "leaks tcp_pcbs=N tcp_segs=N mbufs_in_use=N tx_backlog=N"
 * mbufs_in_use counts mbufs held beyond those in use before the connection
 * and those waiting in the TX backlog (freed when the port closes).
 * --keepalive sets SO_KEEPALIVE with TCP_KEEPIDLE and TCP_KEEPINTVL of SECONDS
 * and TCP_KEEPCNT of 2, so a vanished peer ends the stream with ETIMEDOUT.
 */
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "tool_args.h"

#include "lwip/memp.h"
#include "lwip/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERIOD 65521u /* prime: the pattern never lines up with segment sizes */
#define CHUNK 65536
#define PROGRESS_BYTES (1u << 20)
#define LINGER_SECONDS 5

static uint8_t pattern[PERIOD + CHUNK];

static int open_connection(int port, char *peer)
{
    if (port) {
        struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        int l = ucs_socket(AF_INET6, SOCK_STREAM, 0), c;
        if (ucs_bind(l, (struct sockaddr *)&any, sizeof(any)) != 0 || ucs_listen(l, 4) != 0)
            return -1;
        printf("ready\n");
        c = ucs_accept(l, NULL, NULL);
        ucs_close(l);
        return c;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    double deadline = tool_now() + 30;
    if (tool_parse_peer(peer, &ss, &len) != 0)
        return -1;
    for (;;) {
        int fd = ucs_socket(ss.ss_family, SOCK_STREAM, 0);
        if (ucs_connect(fd, (struct sockaddr *)&ss, len) == 0)
            return fd;
        ucs_close(fd);
        if (tool_now() > deadline)
            return -1;
    }
}

static int set_keepalive(int fd, int seconds)
{
    int on = 1, count = 2;
    return ucs_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) ||
                   ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof(seconds)) ||
                   ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &seconds, sizeof(seconds)) ||
                   ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count))
               ? -1
               : 0;
}

/* Mbufs taken from the port's pools and not waiting in the TX backlog. */
static int64_t mbufs_held(struct ucs_stack *stack)
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(stack, &s);
    return (int64_t)s.mbufs_total - s.mbufs_free - s.tx_backlog_now;
}

/* Bytes (and a FIN) written and not yet acknowledged. */
static int unacked(int fd)
{
    int outq = 0;
    return ucs_ioctl(fd, SIOCOUTQ, &outq) == 0 ? outq : 0;
}

/* Keeps the stack running until the peer has acknowledged our FIN, so a lost
 * FIN is sent again; bounded, as the peer may be gone once it has ours. */
static void linger_for_fin(struct ucs_stack *stack, int fd, double deadline)
{
    if (deadline > tool_now() + LINGER_SECONDS)
        deadline = tool_now() + LINGER_SECONDS;
    while (unacked(fd) > 0 && tool_now() < deadline)
        ucs_stack_poll(stack);
}

static void print_counts(struct ucs_stack *stack, int64_t mbufs_before)
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(stack, &s);
    printf("faults dropped=%llu reordered=%llu duplicated=%llu corrupted=%llu ip_checksum_errors=%llu "
           "tcp_checksum_errors=%llu ip_drops=%llu tcp_drops=%llu\n",
           (unsigned long long)s.fault_dropped, (unsigned long long)s.fault_reordered,
           (unsigned long long)s.fault_duplicated, (unsigned long long)s.fault_corrupted,
           (unsigned long long)s.ip_checksum_errors, (unsigned long long)s.tcp_checksum_errors,
           (unsigned long long)s.ip_drops, (unsigned long long)s.tcp_drops);
    printf("recovery rto=%llu fast_recoveries=%llu sack_rexmits=%llu tail_loss_probes=%llu sack_blocks=%llu "
           "sack_ignored=%llu\n",
           (unsigned long long)s.tcp_rto, (unsigned long long)s.tcp_fast_recoveries,
           (unsigned long long)s.tcp_sack_rexmits, (unsigned long long)s.tcp_tail_loss_probes,
           (unsigned long long)s.tcp_sack_blocks, (unsigned long long)s.tcp_sack_ignored);
    printf("offload tso_frames=%llu lro_frames=%llu rx_oversize=%llu\n", (unsigned long long)s.tx_tso_frames,
           (unsigned long long)s.rx_lro_frames, (unsigned long long)s.rx_oversize);
    printf("leaks tcp_pcbs=%u tcp_segs=%u mbufs_in_use=%lld tx_backlog=%u\n", s.tcp_pcbs,
           (unsigned)lwip_stats.memp[MEMP_TCP_SEG]->used, (long long)(mbufs_held(stack) - mbufs_before),
           s.tx_backlog_now);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},  {"listen", required_argument, NULL, 'l'},
        {"connect", required_argument, NULL, 'C'}, {"bytes", required_argument, NULL, 'b'},
        {"one-way", no_argument, NULL, 'o'},       {"keepalive", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
    const char *config = NULL;
    char *peer = NULL, err[256];
    int port = 0, opt, fd, ep, keepalive = 0, timeout_s = 300, error = 0;
    int64_t mbufs_before;
    uint64_t bytes = 0, sent = 0, received = 0, partial = 0, to_send, to_receive;
    struct ucs_config cfg;
    struct ucs_stack *stack;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    bool ok = true, eof = false, shut = false, one_way = false;
    double start, deadline;
    uint8_t buf[CHUNK];

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'l': port = atoi(optarg); break;
        case 'C': peer = optarg; break;
        case 'b': bytes = tool_parse_size(optarg); break;
        case 'o': one_way = true; break;
        case 'k': keepalive = atoi(optarg); break;
        case 't': timeout_s = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!config || !bytes || (!port == !peer)) {
        fprintf(stderr,
                "usage: ucs-stream --config FILE (--listen PORT | --connect ADDR,PORT) --bytes N [--one-way]\n");
        return 2;
    }
    for (uint32_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(((i % PERIOD) * 2654435761u) >> 24);
    if (ucs_config_load(config, &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "ucs-stream: %s\n", err);
        return 2;
    }
    mbufs_before = mbufs_held(stack);
    deadline = tool_now() + 30;
    while (peer && !ucs_stack_links_up(stack) && tool_now() < deadline)
        ucs_stack_poll(stack);
    fd = open_connection(port, peer);
    if (fd < 0) {
        printf("stream FAILED to connect: %s\n", strerror(errno));
        return 1;
    }
    ucs_fcntl(fd, F_SETFL, O_NONBLOCK);
    if (keepalive && set_keepalive(fd, keepalive) != 0) {
        printf("stream FAILED to set keepalive: %s\n", strerror(errno));
        return 1;
    }
    ep = ucs_epoll_create1(0);
    ucs_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    start = tool_now();
    deadline = start + timeout_s;
    to_send = one_way && port ? 0 : bytes;
    to_receive = one_way && peer ? 0 : bytes;
    while ((!shut || received < to_receive || !eof) && !error && tool_now() < deadline) {
        struct epoll_event out;
        if (ucs_epoll_wait(ep, &out, 1, 100) <= 0)
            continue;
        while (sent < to_send) {
            size_t want = to_send - sent < CHUNK ? (size_t)(to_send - sent) : CHUNK;
            ssize_t n = ucs_send(fd, pattern + sent % PERIOD, want, 0);
            if (n < 0) {
                if (errno != EAGAIN)
                    error = errno;
                break;
            }
            partial += (size_t)n < want;
            sent += (uint64_t)n;
        }
        /* The FIN goes once every byte is acknowledged: a peer that sees it
         * may exit knowing nothing it acknowledged needs it any more. */
        if (sent == to_send && !shut && unacked(fd) == 0)
            shut = ucs_shutdown(fd, SHUT_WR) == 0;
        for (;;) {
            ssize_t n = ucs_recv(fd, buf, sizeof(buf), 0);
            if (n == 0)
                eof = true;
            if (n < 0 && errno != EAGAIN)
                error = errno;
            if (n <= 0)
                break;
            if (received < PROGRESS_BYTES && received + (uint64_t)n >= PROGRESS_BYTES)
                printf("transferring\n");
            if (received + (uint64_t)n > to_receive || memcmp(buf, pattern + received % PERIOD, (size_t)n) != 0)
                ok = false;
            received += (uint64_t)n;
        }
    }
    ok = ok && shut && received == to_receive && eof;
    {
        double secs = tool_now() - start;
        printf("stream sent=%llu received=%llu %s partial_writes=%llu seconds=%.3f gbit_per_s=%.2f%s%s\n",
               (unsigned long long)sent, (unsigned long long)received, ok ? "ok" : "FAILED",
               (unsigned long long)partial, secs, secs > 0 ? 8.0 * (double)received / secs / 1e9 : 0.0,
               error ? " error=" : "", error ? strerrorname_np(error) : "");
    }
    if (ok)
        linger_for_fin(stack, fd, deadline);
    ucs_close(fd);
    ucs_close(ep);
    for (int i = 0; i < 1000; i++)
        ucs_stack_poll(stack);
    print_counts(stack, mbufs_before);

    ucs_stack_destroy(stack);
    return ok ? 0 : 1;
}
