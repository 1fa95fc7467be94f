/*
 * ucs-stream: a full-duplex byte-exact stream through the socket API between
 * two stack instances. Each side sends BYTES of a known pattern while reading
 * and checking BYTES from the other, with non-blocking sockets and epoll.
 *
 *   ucs-stream --config FILE (--listen PORT | --connect ADDR,PORT) --bytes N
 *
 * Prints "ready" when listening, then
 *   "stream sent=N received=N ok|FAILED partial_writes=K seconds=S gbit_per_s=G"
 */
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "tool_args.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERIOD 65521u /* prime: the pattern never lines up with segment sizes */
#define CHUNK 65536

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

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"connect", required_argument, NULL, 'C'},
                                         {"bytes", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    char *peer = NULL, err[256];
    int port = 0, opt, fd, ep;
    uint64_t bytes = 0, sent = 0, received = 0, partial = 0;
    struct ucs_config cfg;
    struct ucs_stack *stack;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    bool ok = true, eof = false;
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
        default: return 2;
        }
    }
    if (!config || !bytes || (!port == !peer)) {
        fprintf(stderr, "usage: ucs-stream --config FILE (--listen PORT | --connect ADDR,PORT) --bytes N\n");
        return 2;
    }
    for (uint32_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(((i % PERIOD) * 2654435761u) >> 24);
    if (ucs_config_load(config, &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "ucs-stream: %s\n", err);
        return 2;
    }
    deadline = tool_now() + 30;
    while (peer && !ucs_stack_links_up(stack) && tool_now() < deadline)
        ucs_stack_poll(stack);
    fd = open_connection(port, peer);
    if (fd < 0) {
        printf("stream FAILED to connect: %s\n", strerror(errno));
        return 1;
    }
    ucs_fcntl(fd, F_SETFL, O_NONBLOCK);
    ep = ucs_epoll_create1(0);
    ucs_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    start = tool_now();
    deadline = start + 300;
    while ((sent < bytes || received < bytes || !eof) && tool_now() < deadline) {
        struct epoll_event out;
        if (ucs_epoll_wait(ep, &out, 1, 100) <= 0)
            continue;
        while (sent < bytes) {
            size_t want = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
            ssize_t n = ucs_send(fd, pattern + sent % PERIOD, want, 0);
            if (n < 0)
                break;
            partial += (size_t)n < want;
            sent += (uint64_t)n;
            if (sent == bytes)
                ucs_shutdown(fd, SHUT_WR);
        }
        for (;;) {
            ssize_t n = ucs_recv(fd, buf, sizeof(buf), 0);
            if (n == 0)
                eof = true;
            if (n <= 0)
                break;
            if (received + (uint64_t)n > bytes || memcmp(buf, pattern + received % PERIOD, (size_t)n) != 0)
                ok = false;
            received += (uint64_t)n;
        }
    }
    ok = ok && sent == bytes && received == bytes && eof;
    {
        double secs = tool_now() - start;
        printf("stream sent=%llu received=%llu %s partial_writes=%llu seconds=%.3f gbit_per_s=%.2f\n",
               (unsigned long long)sent, (unsigned long long)received, ok ? "ok" : "FAILED",
               (unsigned long long)partial, secs, secs > 0 ? 8.0 * (double)received / secs / 1e9 : 0.0);
    }
    ucs_close(fd);
    ucs_close(ep);
    for (int i = 0; i < 1000; i++)
        ucs_stack_poll(stack);
    ucs_stack_destroy(stack);
    return ok ? 0 : 1;
}
