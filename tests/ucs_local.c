/*
 * ucs-local: one end of a local stream connection, for tests that need two
 * processes (and two users). --kernel runs the same steps on kernel AF_UNIX
 * sockets, so a test can compare the two.
 *
 *   ucs-local --listen PATH [--drop UID:GID[:G1,...]] [--mode echo|sink] [--kernel]
 *   ucs-local --connect PATH [--mode echo|stream|hold] [--kernel]
 *
 * The listener creates, binds and listens, prints "ready", and only then drops
 * to --drop's identity (real and effective: its saved uid stays 0, so it may
 * still vouch for its root creation-time credential). Both print "self ..."
 * and "peer ..." lines (what getpeerucred() says). Modes: echo (the connector sends 1 MiB and checks it
 * comes back), sink (the listener reads until EOF or an error and prints
 * "end ..."), stream (the connector writes until it fails), hold (the
 * connector writes 4 KiB, prints "held" and waits to be killed, reading
 * nothing). A failed call prints "NAME failed errno=ERRNO" and exits 3.
 */
#include <ucred.h>
#include <ucstack/socket.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <unistd.h>

#define CHUNK 4096
#define ECHO_BYTES (1u << 20)
#define MAX_GROUPS 64

struct api {
    int (*socket)(int, int, int);
    int (*bind)(int, const struct sockaddr *, socklen_t);
    int (*listen)(int, int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*recv)(int, void *, size_t, int);
    int (*shutdown)(int, int);
    int (*close)(int);
};

static const struct api ucs = {ucs_socket, ucs_bind, ucs_listen,   ucs_accept, ucs_connect,
                               ucs_send,   ucs_recv, ucs_shutdown, ucs_close};
static const struct api kernel = {socket, bind, listen, accept, connect, send, recv, shutdown, close};
static const struct api *api = &ucs;

static int failed(const char *call)
{
    printf("%s failed errno=%s\n", call, strerrorname_np(errno));
    return 3;
}

static void print_cred(const char *who, const ucred_t *uc)
{
    const gid_t *groups;
    int n = ucred_getgroups(uc, &groups);

    printf("%s pid=%d ruid=%d euid=%d suid=%d rgid=%d egid=%d sgid=%d groups=", who, (int)ucred_getpid(uc),
           (int)ucred_getruid(uc), (int)ucred_geteuid(uc), (int)ucred_getsuid(uc), (int)ucred_getrgid(uc),
           (int)ucred_getegid(uc), (int)ucred_getsgid(uc));
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)groups[i]);
    printf("\n");
}

static int report(const char *who, int fd)
{
    ucred_t *uc = fd < 0 ? ucred_get(P_MYID) : NULL;
    if (fd >= 0 && getpeerucred(fd, &uc) != 0)
        return failed("getpeerucred");
    if (!uc)
        return failed("ucred_get");
    print_cred(who, uc);
    ucred_free(uc);
    return 0;
}

static int drop_to(const char *spec)
{
    gid_t groups[MAX_GROUPS];
    unsigned uid, gid;
    size_t n = 0;
    int used = 0;

    if (sscanf(spec, "%u:%u%n", &uid, &gid, &used) != 2)
        return -1;
    for (char *p = (char *)spec + used; *p == ':' || (*p == ',' && n > 0);) {
        groups[n++] = (gid_t)strtoul(p + 1, &p, 10);
        if (n == MAX_GROUPS)
            break;
    }
    return setgroups(n, groups) || setresgid(gid, gid, gid) || setresuid(uid, uid, 0) ? -1 : 0;
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static int serve(const struct sockaddr_un *sun, const char *drop, const char *mode)
{
    int l = api->socket(AF_UNIX, SOCK_STREAM, 0), c;
    char buf[CHUNK];
    ssize_t n;
    size_t total = 0;

    if (l < 0)
        return failed("socket");
    if (api->bind(l, (const struct sockaddr *)sun, sizeof(*sun)) != 0)
        return failed("bind");
    if (api->listen(l, 8) != 0)
        return failed("listen");
    printf("ready\n");
    if (drop && drop_to(drop) != 0)
        return failed("drop");
    if (report("self", -1))
        return 3;
    if ((c = api->accept(l, NULL, NULL)) < 0)
        return failed("accept");
    if (report("peer", c))
        return 3;
    while ((n = api->recv(c, buf, sizeof(buf), 0)) > 0) {
        total += (size_t)n;
        if (!strcmp(mode, "echo") && api->send(c, buf, (size_t)n, MSG_NOSIGNAL) != n)
            return failed("send");
    }
    printf("end n=%zd errno=%s bytes=%zu\n", n, n < 0 ? strerrorname_np(errno) : "0", total);
    api->close(c);
    api->close(l);
    return 0;
}

static int echo(int fd)
{
    unsigned char out[CHUNK], in[CHUNK];
    for (size_t off = 0; off < ECHO_BYTES; off += CHUNK) {
        for (size_t i = 0; i < CHUNK; i++)
            out[i] = pattern(off + i);
        if (api->send(fd, out, CHUNK, MSG_NOSIGNAL) != CHUNK)
            return failed("send");
        for (size_t got = 0; got < CHUNK;) {
            ssize_t n = api->recv(fd, in + got, CHUNK - got, 0);
            if (n <= 0)
                return failed("recv");
            got += (size_t)n;
        }
        if (memcmp(in, out, CHUNK) != 0) {
            printf("echo mismatch at %zu\n", off);
            return 3;
        }
    }
    api->shutdown(fd, SHUT_WR);
    if (api->recv(fd, in, sizeof(in), 0) != 0)
        return failed("recv at EOF");
    printf("echo ok\n");
    return 0;
}

static int connect_to(const struct sockaddr_un *sun, const char *mode)
{
    int fd = api->socket(AF_UNIX, SOCK_STREAM, 0);
    char buf[CHUNK];

    memset(buf, 'x', sizeof(buf));
    if (fd < 0)
        return failed("socket");
    if (report("self", -1))
        return 3;
    if (api->connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) != 0)
        return failed("connect");
    if (report("peer", fd))
        return 3;
    if (!strcmp(mode, "echo"))
        return echo(fd);
    if (!strcmp(mode, "hold")) {
        if (api->send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf))
            return failed("send");
        printf("held\n");
        for (;;)
            pause();
    }
    printf("streaming\n");
    for (;;)
        if (api->send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
            return failed("send");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"connect", required_argument, NULL, 'c'},
        {"drop", required_argument, NULL, 'd'},   {"mode", required_argument, NULL, 'm'},
        {"kernel", no_argument, NULL, 'k'},       {NULL, 0, NULL, 0}};
    const char *listen_path = NULL, *connect_path = NULL, *drop = NULL, *mode = NULL;
    int rc;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen_path = optarg;
            break;
        case 'c':
            connect_path = optarg;
            break;
        case 'd':
            drop = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'k':
            api = &kernel;
            break;
        default:
            return 2;
        }
    }
    if (!listen_path == !connect_path || strlen(listen_path ? listen_path : connect_path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "usage: ucs-local (--listen PATH [--drop UID:GID[:G,...]] | --connect PATH) [--mode M] "
                        "[--kernel]\n");
        return 2;
    }
    strcpy(sun.sun_path, listen_path ? listen_path : connect_path);
    rc = listen_path ? serve(&sun, drop, mode ? mode : "echo") : connect_to(&sun, mode ? mode : "echo");
    /* Root again (the saved uid allows it), so that the sanitized tree's leak
     * check, which ptraces this process, may (the id changes made it
     * undumpable). */
    if (drop && (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 1) != 0))
        rc = rc ? rc : 2;
    return rc;
}
