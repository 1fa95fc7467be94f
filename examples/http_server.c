/*
 * A small HTTP/1.1 server on ucstack: keep-alive, pipelined requests, one
 * fixed page. Enough for curl and wrk.
 *
 *   http-server CONFIG PORT
 */
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EVENTS 256
#define MAX_CONNS 65536
#define REQ_MAX 8192

static const char body[] = "<!doctype html><title>ucstack</title><p>Hello from ucstack.</p>\n";

struct conn {
    char req[REQ_MAX];
    size_t len;
};

static struct conn *conns[MAX_CONNS];
static volatile sig_atomic_t stopping;
static unsigned long long served;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void drop(int fd)
{
    int i = fd - UCS_FD_BASE;
    free(conns[i]);
    conns[i] = NULL;
    ucs_close(fd);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = ucs_send(fd, p, n, 0);
        if (w < 0) {
            struct pollfd pf = {fd, POLLOUT, 0};
            if (errno != EAGAIN || ucs_poll(&pf, 1, 5000) <= 0)
                return -1;
            continue;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Answers every complete request in the buffer; returns -1 to close. */
static int answer(int fd, struct conn *c)
{
    char *req = c->req, *end;
    while ((end = memmem(req, c->len, "\r\n\r\n", 4))) {
        size_t used = (size_t)(end + 4 - req);
        char head[256];
        bool close_after = memmem(req, used, "Connection: close", 17) != NULL || memmem(req, used, "HTTP/1.0", 8) != NULL;
        bool get = strncmp(c->req, "GET ", 4) == 0 || strncmp(c->req, "HEAD ", 5) == 0;
        int hl;
        if (!get) {
            hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            send_all(fd, head, (size_t)hl);
            return -1;
        }
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\nServer: ucstack\r\n%s\r\n",
                      sizeof(body) - 1, close_after ? "Connection: close\r\n" : "");
        if (send_all(fd, head, (size_t)hl) != 0 ||
            (c->req[0] == 'G' && send_all(fd, body, sizeof(body) - 1) != 0))
            return -1;
        served++;
        memmove(c->req, c->req + used, c->len - used);
        c->len -= used;
        if (close_after)
            return -1;
    }
    return c->len == REQ_MAX ? -1 : 0;
}

static void readable(int fd)
{
    struct conn *c = conns[fd - UCS_FD_BASE];
    if (!c)
        return;
    for (;;) {
        ssize_t n = ucs_recv(fd, c->req + c->len, REQ_MAX - c->len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            drop(fd);
            return;
        }
        if (n < 0)
            return;
        c->len += (size_t)n;
        if (answer(fd, c) != 0) {
            drop(fd);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    struct ucs_config cfg;
    struct ucs_stack *stack;
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6};
    struct epoll_event ev = {.events = EPOLLIN}, events[MAX_EVENTS];
    char err[256];
    int l, ep, one = 1;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG PORT\n", argv[0]);
        return 2;
    }
    if (ucs_config_load(argv[1], &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "http-server: %s\n", err);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    addr.sin6_port = htons((uint16_t)atoi(argv[2]));
    l = ucs_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ucs_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ucs_bind(l, (struct sockaddr *)&addr, sizeof(addr)) != 0 || ucs_listen(l, 1024) != 0) {
        fprintf(stderr, "http-server: cannot listen: %s\n", strerror(errno));
        return 2;
    }
    ep = ucs_epoll_create1(0);
    ev.data.fd = l;
    ucs_epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    printf("listening on port %s\n", argv[2]);
    fflush(stdout);
    while (!stopping) {
        int n = ucs_epoll_wait(ep, events, MAX_EVENTS, 100);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd != l) {
                readable(fd);
                continue;
            }
            for (int c; (c = ucs_accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
                struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                if (c - UCS_FD_BASE >= MAX_CONNS || !(conns[c - UCS_FD_BASE] = calloc(1, sizeof(struct conn)))) {
                    ucs_close(c);
                    continue;
                }
                ucs_setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                ucs_epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
            }
        }
    }
    printf("served %llu requests\n", served);
    ucs_close(ep);
    ucs_close(l);
    ucs_stack_destroy(stack);
    return 0;
}
