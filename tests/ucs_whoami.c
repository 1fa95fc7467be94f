/*
 * ucs-whoami: one side of a TCP connection between two stack instances, each
 * printing what getpeerucred() says about the other.
 *
 *   ucs-whoami --config FILE --listen PORT [--drop UID:GID[:G1,G2,...]] [--accept N]
 *   ucs-whoami --config FILE --connect ADDR,PORT [--lie LIE[,LIE...]] [--link-timeout S]
 *
 * The listener creates its socket first and only then drops to --drop's
 * identity (real and effective; the saved uid stays 0, so it may still become
 * root and vouch for its root creation-time credential), so its peer must
 * still see the creation-time credential. Prints "ready" when listening, then
 * "self ..." and, for each of N connections, "peer ..." and "credstats ..."
 * lines. A credential line ends with pidfd=PID, the process its pidfd refers
 * to (- when it has none).
 *
 * --lie makes a stack built to lie (tests/cred_forge.h): after one honest
 * connection, for each LIE (root, egid, groups, label) it rewrites its own
 * credential's claim in its own table and connects again, printing
 * "lying LIE". A connector whose links do not come up in time prints "link
 * down" and the attestation counters, and exits 3.
 */
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "cred_forge.h"
#include "tool_args.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_GROUPS 64

/* The pid the pidfd refers to, as the kernel shows it: -1 when none. */
static int pidfd_pid(int pidfd)
{
    char path[64], line[128];
    FILE *f;
    int pid = -1;

    if (pidfd < 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
    if (!(f = fopen(path, "re")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Pid: %d", &pid) == 1)
            break;
    fclose(f);
    return pid;
}

static void print_cred(const char *who, const ucred_t *uc)
{
    const gid_t *groups;
    int n = ucred_getgroups(uc, &groups);
    const char *label = ucred_getlabel(uc);
    int pidfd = pidfd_pid(ucred_getpidfd(uc));

    printf("%s pid=%d ruid=%d euid=%d suid=%d rgid=%d egid=%d sgid=%d groups=", who, (int)ucred_getpid(uc),
           (int)ucred_getruid(uc), (int)ucred_geteuid(uc), (int)ucred_getsuid(uc), (int)ucred_getrgid(uc),
           (int)ucred_getegid(uc), (int)ucred_getsgid(uc));
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)groups[i]);
    printf(" label=%s pidfd=", label ? label : "-");
    if (pidfd < 0)
        printf("-\n");
    else
        printf("%d\n", pidfd);
}

static void report_counters(void)
{
    struct ucs_cred_option_stats o;
    struct ucs_stack_stats st;

    ucs_get_cred_option_stats(&o);
    printf("credstats sent=%llu received=%llu ignored_foreign_link=%llu untrusted=%llu unresolved=%llu "
           "unattested=%llu\n",
           (unsigned long long)o.sent, (unsigned long long)o.received, (unsigned long long)o.ignored_foreign_link,
           (unsigned long long)o.untrusted, (unsigned long long)o.unresolved, (unsigned long long)o.unattested);
    ucs_stack_get_stats(ucs_stack_current(), &st);
    printf("attest attested=%llu lost=%llu foreign_nonce=%llu malformed=%llu dropped_frames=%llu\n",
           (unsigned long long)st.attest_attested, (unsigned long long)st.attest_lost,
           (unsigned long long)st.attest_foreign_nonce, (unsigned long long)st.attest_malformed,
           (unsigned long long)st.attest_dropped_frames);
}

static int report_peer(int fd, pid_t *pid)
{
    ucred_t *uc = NULL;
    if (getpeerucred(fd, &uc) != 0) {
        printf("peer unknown: %s\n", strerror(errno));
        return 1;
    }
    print_cred("peer", uc);
    if (pid)
        *pid = ucred_getpid(uc);
    ucred_free(uc);
    return 0;
}

static int report_self(void)
{
    ucred_t *uc = ucred_get(P_MYID);
    if (!uc) {
        printf("self unknown: %s\n", strerror(errno));
        return 1;
    }
    print_cred("self", uc);
    ucred_free(uc);
    return 0;
}

/* "UID:GID[:G1,G2,...]": groups first, then gid, then uid, as privileges allow. */
static int drop_to(const char *spec)
{
    gid_t groups[MAX_GROUPS];
    size_t n = 0;
    unsigned uid, gid;
    const char *rest;
    int used = 0;

    if (sscanf(spec, "%u:%u%n", &uid, &gid, &used) != 2)
        return -1;
    rest = spec + used;
    if (*rest == ':') {
        for (char *p = (char *)rest + 1; *p && n < MAX_GROUPS;) {
            groups[n++] = (gid_t)strtoul(p, &p, 10);
            if (*p == ',')
                p++;
        }
    }
    if (setgroups(n, groups) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, 0) != 0)
        return -1;
    return 0;
}

static int serve(int port, const char *drop, int accepts)
{
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    int l = ucs_socket(AF_INET6, SOCK_STREAM, 0), c, rc = 0;
    char buf[16];

    if (l < 0 || ucs_bind(l, (struct sockaddr *)&any, sizeof(any)) != 0 || ucs_listen(l, 8) != 0) {
        printf("listen failed: %s\n", strerror(errno));
        return 2;
    }
    if (drop && drop_to(drop) != 0) {
        printf("cannot drop to %s: %s\n", drop, strerror(errno));
        return 2;
    }
    report_self();
    printf("ready\n");
    while (accepts-- > 0) {
        c = ucs_accept(l, NULL, NULL);
        if (c < 0) {
            printf("accept failed: %s\n", strerror(errno));
            return 2;
        }
        rc |= report_peer(c, NULL);
        report_counters();
        /* Wait for the client's close, so it has read our credential first. */
        while (ucs_recv(c, buf, sizeof(buf), 0) > 0)
            ;
        ucs_close(c);
    }
    ucs_close(l);
    return rc;
}

static int connect_once(const struct sockaddr_storage *ss, socklen_t len, double deadline, pid_t *peer_pid)
{
    char buf[16];
    int fd, rc;

    for (;;) {
        fd = ucs_socket(ss->ss_family, SOCK_STREAM, 0);
        if (ucs_connect(fd, (const struct sockaddr *)ss, len) == 0)
            break;
        ucs_close(fd);
        if (tool_now() > deadline) {
            printf("connect failed: %s\n", strerror(errno));
            return 2;
        }
    }
    rc = report_peer(fd, peer_pid);
    /* Close in step with the server: our FIN, then wait for its FIN, so both
     * ends are done before either stack goes away. */
    ucs_shutdown(fd, SHUT_WR);
    while (ucs_recv(fd, buf, sizeof(buf), 0) > 0)
        ;
    ucs_close(fd);
    return rc;
}

static int connect_to(char *peer, unsigned timeout_s, char *lies)
{
    struct sockaddr_storage ss;
    socklen_t len;
    double deadline = tool_now() + timeout_s;
    pid_t server = 0;
    int rc;

    if (tool_parse_peer(peer, &ss, &len) != 0) {
        printf("bad --connect %s\n", peer);
        return 2;
    }
    report_self();
    rc = connect_once(&ss, len, deadline, &server);
    for (char *lie = lies ? strtok(lies, ",") : NULL; lie && rc == 0; lie = strtok(NULL, ",")) {
        if (cred_forge(lie) <= 0) {
            printf("cannot lie %s: no claim of mine in my table\n", lie);
            return 2;
        }
        printf("lying %s\n", lie);
        /* The peer's verdict is its own to report: ours shows nothing of it. */
        connect_once(&ss, len, deadline, NULL);
    }
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},       {"listen", required_argument, NULL, 'l'},
        {"connect", required_argument, NULL, 'C'},      {"drop", required_argument, NULL, 'd'},
        {"accept", required_argument, NULL, 'a'},       {"lie", required_argument, NULL, 'L'},
        {"link-timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
    const char *config = NULL, *drop = NULL;
    char *peer = NULL, *lies = NULL;
    int port = 0, accepts = 1, link_timeout = 30, opt, rc;
    struct ucs_config cfg;
    struct ucs_stack *stack;
    char err[256];
    double deadline;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* DPDK's vhost-user messages go over a unix socket the peer may have closed. */
    signal(SIGPIPE, SIG_IGN);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'l': port = atoi(optarg); break;
        case 'C': peer = optarg; break;
        case 'd': drop = optarg; break;
        case 'a': accepts = atoi(optarg); break;
        case 'L': lies = optarg; break;
        case 't': link_timeout = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!config || (!port == !peer)) {
        fprintf(stderr, "usage: ucs-whoami --config FILE (--listen PORT [--drop UID:GID[:G,...]] [--accept N] | "
                        "--connect ADDR,PORT [--lie LIE,...] [--link-timeout S])\n");
        return 2;
    }
    if (ucs_config_load(config, &cfg, err, sizeof(err)) != 0 || !(stack = ucs_stack_create(&cfg, err, sizeof(err)))) {
        fprintf(stderr, "ucs-whoami: %s\n", err);
        return 2;
    }
    /* A vhost-user port comes up only when its peer connects, so only the
     * connecting side waits for the link. */
    deadline = tool_now() + link_timeout;
    while (peer && !ucs_stack_links_up(stack) && tool_now() < deadline)
        ucs_stack_poll(stack);
    if (peer && !ucs_stack_links_up(stack)) {
        printf("link down\n");
        report_counters();
        rc = 3;
    } else {
        rc = port ? serve(port, drop, accepts) : connect_to(peer, 30, lies);
    }
    /* Let the last segments (FIN, ACK) leave before the port closes. */
    for (int i = 0; i < 1000; i++)
        ucs_stack_poll(stack);
    ucs_stack_destroy(stack);
    /* Root again (the saved uid allows it), so that the sanitized tree's leak
     * check, which ptraces this process, may (the id changes made it
     * undumpable). */
    if (drop && (setresuid(0, 0, 0) != 0 || setresgid(0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 1) != 0))
        rc = rc ? rc : 2;
    return rc;
}
