/*
 * A TCP echo client on ucstack's socket API: sends BYTES to each server,
 * checks every byte that comes back, and asks getpeerucred() who answered.
 * Then it holds its connections open until its standard input closes, so an
 * operator can look at them (ucstack-ss).
 *
 *   echo-client CONFIG BYTES[K|M|G] ADDR,PORT...
 *
 * Prints "link up", then for each server
 *   echo ADDR PORT ok bytes=N seconds=S gbit_s=G peer pid=P euid=U egid=G
 * (or "echo ADDR PORT FAILED: why"), then "holding". Exit status 0 when every
 * echo succeeded.
 */
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8
#define CHUNK 65536

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The byte at offset i of the stream: a pattern a lost or shifted byte breaks. */
static unsigned char pattern(uint64_t i)
{
    return (unsigned char)(i * 131 + (i >> 16));
}

/* "65536", "64K", "256M", "1G". */
static uint64_t parse_bytes(const char *text)
{
    char *end;
    uint64_t n = strtoull(text, &end, 10);
    switch (*end) {
    case 'K':
        return n << 10;
    case 'M':
        return n << 20;
    case 'G':
        return n << 30;
    default:
        return *end ? 0 : n;
    }
}

static int parse_server(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
    char addr[64];
    const char *comma = strrchr(arg, ',');
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    if (!comma || (size_t)(comma - arg) >= sizeof(addr))
        return -1;
    memcpy(addr, arg, (size_t)(comma - arg));
    addr[comma - arg] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)atoi(comma + 1));
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)atoi(comma + 1));
        *len = sizeof(*v6);
    } else {
        return -1;
    }
    return 0;
}

/* Sends bytes and reads them back at once, so neither side's buffers fill. */
static const char *echo(int fd, uint64_t bytes)
{
    static unsigned char out[CHUNK], in[CHUNK];
    uint64_t sent = 0, got = 0;

    while (got < bytes) {
        struct pollfd p = {fd, POLLIN | (sent < bytes ? POLLOUT : 0), 0};
        if (ucs_poll(&p, 1, 10000) <= 0)
            return "no progress for 10 s";
        if (p.revents & (POLLERR | POLLHUP))
            return "connection lost";
        if (sent < bytes && (p.revents & POLLOUT)) {
            size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
            for (size_t i = 0; i < n; i++)
                out[i] = pattern(sent + i);
            ssize_t w = ucs_send(fd, out, n, 0);
            if (w < 0 && errno != EAGAIN)
                return strerror(errno);
            sent += w > 0 ? (uint64_t)w : 0;
        }
        ssize_t r = ucs_recv(fd, in, sizeof(in), 0);
        if (r == 0)
            return "closed by the server";
        if (r < 0 && errno != EAGAIN)
            return strerror(errno);
        for (ssize_t i = 0; i < r; i++)
            if (in[i] != pattern(got + (uint64_t)i))
                return "a byte came back wrong";
        got += r > 0 ? (uint64_t)r : 0;
    }
    return NULL;
}

static int run_one(const char *arg, uint64_t bytes, int *fd_out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ucred_t *uc = NULL;
    const char *why;
    double t0;
    int fd;

    if (parse_server(arg, &ss, &len) != 0) {
        printf("echo %s FAILED: not ADDR,PORT\n", arg);
        return 1;
    }
    fd = ucs_socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || ucs_connect(fd, (struct sockaddr *)&ss, len) != 0) {
        printf("echo %s FAILED: connect: %s\n", arg, strerror(errno));
        return 1;
    }
    ucs_fcntl(fd, F_SETFL, O_NONBLOCK);
    t0 = now();
    if ((why = echo(fd, bytes))) {
        printf("echo %s FAILED: %s\n", arg, why);
        return 1;
    }
    double s = now() - t0;
    printf("echo %s ok bytes=%llu seconds=%.3f gbit_s=%.2f", arg, (unsigned long long)bytes, s,
           (double)bytes * 8 / s / 1e9);
    if (getpeerucred(fd, &uc) == 0)
        printf(" peer pid=%d euid=%d egid=%d\n", (int)ucred_getpid(uc), (int)ucred_geteuid(uc), (int)ucred_getegid(uc));
    else
        printf(" peer unknown: %s\n", strerror(errno));
    ucred_free(uc);
    *fd_out = fd;
    return 0;
}

int main(int argc, char **argv)
{
    struct ucs_config cfg;
    struct ucs_stack *stack;
    int fds[MAX_SERVERS], nfds = 0, rc = 0;
    uint64_t bytes;
    char err[256];
    double deadline;

    if (argc < 4 || argc - 3 > MAX_SERVERS || !(bytes = parse_bytes(argv[2]))) {
        fprintf(stderr, "usage: %s CONFIG BYTES[K|M|G] ADDR,PORT... (at most %d)\n", argv[0], MAX_SERVERS);
        return 2;
    }
    if (ucs_config_load(argv[1], &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "echo-client: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* A host-local link comes up once both ends attested each other. */
    deadline = now() + 30;
    while (!ucs_stack_links_up(stack) && now() < deadline)
        ucs_stack_poll(stack);
    if (!ucs_stack_links_up(stack)) {
        printf("link down after 30 s\n");
        ucs_stack_destroy(stack);
        return 3;
    }
    printf("link up\n");
    fflush(stdout);
    for (int i = 3; i < argc; i++) {
        int fd = -1;
        rc |= run_one(argv[i], bytes, &fd);
        if (fd >= 0)
            fds[nfds++] = fd;
        fflush(stdout);
    }
    printf("holding\n");
    fflush(stdout);
    /* The stack must keep running to answer for the held connections. */
    for (;;) {
        struct pollfd in = {0, POLLIN, 0};
        char buf[256];
        if (poll(&in, 1, 0) == 1 && read(0, buf, sizeof(buf)) <= 0)
            break;
        ucs_stack_poll(stack);
    }
    /* Our FIN, then the server's, so its side is gone too before our stack is. */
    for (int i = 0; i < nfds; i++) {
        char buf[4096];
        struct pollfd p = {fds[i], POLLIN, 0};
        ucs_shutdown(fds[i], SHUT_WR);
        while (ucs_poll(&p, 1, 1000) == 1 && ucs_recv(fds[i], buf, sizeof(buf), 0) > 0)
            ;
        ucs_close(fds[i]);
    }
    ucs_stack_destroy(stack);
    return rc;
}
