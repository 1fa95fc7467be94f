/*
 * A TCP echo server on ucstack's socket API, written the way a kernel-socket
 * server would be: non-blocking sockets and an epoll loop. For each
 * connection it prints who is on the other end, as getpeerucred() says.
 *
 *   echo-server CONFIG PORT
 */
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 64

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Echoes what is readable; a short write keeps the rest for later would need a
 * buffer per connection, so this server reads only what it can write now. */
static void echo(int fd)
{
    char buf[16384];
    for (;;) {
        ssize_t n = ucs_recv(fd, buf, sizeof(buf), 0), off = 0;
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            ucs_close(fd);
            return;
        }
        if (n < 0)
            return;
        while (off < n) {
            ssize_t w = ucs_send(fd, buf + off, (size_t)(n - off), 0);
            if (w < 0) {
                if (errno == EAGAIN) {
                    /* Wait for room: the stack runs inside the poll. */
                    struct pollfd p = {fd, POLLOUT, 0};
                    ucs_poll(&p, 1, 1000);
                    continue;
                }
                ucs_close(fd);
                return;
            }
            off += w;
        }
    }
}

static void say_who(int fd)
{
    struct sockaddr_storage a = {.ss_family = AF_UNSPEC};
    socklen_t len = sizeof(a);
    char ip[INET6_ADDRSTRLEN] = "?";
    ucred_t *uc = NULL;

    ucs_getpeername(fd, (struct sockaddr *)&a, &len);
    if (a.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a)->sin6_addr, ip, sizeof(ip));
    else if (a.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&a)->sin_addr, ip, sizeof(ip));
    if (getpeerucred(fd, &uc) == 0)
        printf("connection from %s: pid=%d euid=%d egid=%d\n", ip, (int)ucred_getpid(uc), (int)ucred_geteuid(uc),
               (int)ucred_getegid(uc));
    else
        printf("connection from %s: credential unknown (%s)\n", ip, strerror(errno));
    ucred_free(uc);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct ucs_config cfg;
    struct ucs_stack *stack;
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6};
    struct epoll_event ev = {.events = EPOLLIN}, events[MAX_EVENTS];
    char err[256];
    int l, ep;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG PORT\n", argv[0]);
        return 2;
    }
    if (ucs_config_load(argv[1], &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "echo-server: %s\n", err);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    addr.sin6_port = htons((uint16_t)atoi(argv[2]));
    l = ucs_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (ucs_bind(l, (struct sockaddr *)&addr, sizeof(addr)) != 0 || ucs_listen(l, 128) != 0) {
        fprintf(stderr, "echo-server: cannot listen: %s\n", strerror(errno));
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
                echo(fd);
                continue;
            }
            for (int c; (c = ucs_accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
                struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                say_who(c);
                ucs_epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
            }
        }
    }
    ucs_close(ep);
    ucs_close(l);
    ucs_stack_destroy(stack);
    return 0;
}
