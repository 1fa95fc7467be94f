/*
 * ucs-whoami: one side of a TCP connection between two stack instances, each
 * printing what getpeerucred() says about the other.
 *
 *   ucs-whoami --config FILE --listen PORT [--drop UID:GID[:G1,G2,...]] [--accept N]
 *   ucs-whoami --config FILE --connect ADDR,PORT [--lie] [--link-timeout S]
 *
 * The listener creates its socket first and only then drops to --drop's
 * identity, so its peer must still see the creation-time credential. Prints
 * "ready" when listening, then "self ..." and, for each of N connections,
 * "peer ..." and "credstats ..." lines.
 *
 * --lie makes a stack built to lie: after one honest connection it finds a
 * root credential in the listener's table (which any local process may read)
 * and connects again with an option that names it instead of its own.
 * A connector whose links do not come up in time prints "link down" and the
 * attestation counters, and exits 3.
 */
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include "tool_args.h"
#include "../ucred/cred_table.h"
#include "../ucred/ucred_testing.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS 64

static void print_cred(const char *who, const ucred_t *uc)
{
    const gid_t *groups;
    int n = ucred_getgroups(uc, &groups);
    const char *label = ucred_getlabel(uc);

    printf("%s pid=%d ruid=%d euid=%d suid=%d rgid=%d egid=%d sgid=%d groups=", who, (int)ucred_getpid(uc),
           (int)ucred_getruid(uc), (int)ucred_geteuid(uc), (int)ucred_getsuid(uc), (int)ucred_getrgid(uc),
           (int)ucred_getegid(uc), (int)ucred_getsgid(uc));
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)groups[i]);
    printf(" label=%s\n", label ? label : "-");
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
    if (setgroups(n, groups) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
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

static int connect_to(char *peer, unsigned timeout_s, bool lie)
{
    struct sockaddr_storage ss;
    struct ucs_cred_ref ref;
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
    if (!lie || rc != 0)
        return rc;
    if (ucs_cred_table_testing_find(server, 0, &ref) != 0) {
        printf("no root credential in the table of %d\n", (int)server);
        return 2;
    }
    printf("lying pid=%d slot=%u gen=%u\n", (int)ref.pid, (unsigned)ref.slot, (unsigned)ref.gen);
    ucs_cred_table_testing_forge(&ref);
    return connect_once(&ss, len, deadline, NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},       {"listen", required_argument, NULL, 'l'},
        {"connect", required_argument, NULL, 'C'},      {"drop", required_argument, NULL, 'd'},
        {"accept", required_argument, NULL, 'a'},       {"lie", no_argument, NULL, 'L'},
        {"link-timeout", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
    const char *config = NULL, *drop = NULL;
    char *peer = NULL;
    int port = 0, accepts = 1, link_timeout = 30, opt, rc;
    bool lie = false;
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
        case 'L': lie = true; break;
        case 't': link_timeout = atoi(optarg); break;
        default: return 2;
        }
    }
    if (!config || (!port == !peer)) {
        fprintf(stderr, "usage: ucs-whoami --config FILE (--listen PORT [--drop UID:GID[:G,...]] [--accept N] | "
                        "--connect ADDR,PORT [--lie] [--link-timeout S])\n");
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
        rc = port ? serve(port, drop, accepts) : connect_to(peer, 30, lie);
    }
    /* Let the last segments (FIN, ACK) leave before the port closes. */
    for (int i = 0; i < 1000; i++)
        ucs_stack_poll(stack);
    ucs_stack_destroy(stack);
    return rc;
}
