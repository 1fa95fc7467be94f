/*
 * ucs-node: one stack instance in one process, driven from the command line.
 * The two-process tests and the demo start two of these joined by a cable.
 *
 *   ucs-node --config FILE [--serve PORT] [--ping ADDR]... [--echo ADDR,PORT,BYTES]...
 *            [--timeout SECONDS] [--wait-go]
 *
 * It prints "ready" once its ports are open, "link up" once they are up, then
 * one line per ping and echo (with --wait-go, only after reading a line from
 * standard input, so a test can set up the far side first). With --serve it keeps serving until its standard
 * input closes. Exit status: 0 when everything asked for succeeded.
 */
#include <ucstack/stack.h>

#include "tool_args.h"

#include "drive.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_JOBS 8

struct job {
    char addr[64];
    uint16_t port;
    uint64_t bytes;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* "ADDR,PORT,BYTES"; ADDR may be IPv6, so the fields are split from the right. */
static int parse_echo(char *arg, struct job *job)
{
    char *bytes = strrchr(arg, ','), *port;
    if (!bytes)
        return -1;
    *bytes++ = '\0';
    port = strrchr(arg, ',');
    if (!port)
        return -1;
    *port++ = '\0';
    snprintf(job->addr, sizeof(job->addr), "%s", arg);
    job->port = (uint16_t)atoi(port);
    job->bytes = tool_parse_size(bytes);
    return job->port && job->bytes ? 0 : -1;
}

static bool stdin_closed(void)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    char buf[64];
    if (poll(&pfd, 1, 0) <= 0)
        return false;
    return read(0, buf, sizeof(buf)) <= 0;
}

/* Keeps the stack polled while waiting for a line on standard input. */
static bool wait_for_go(struct ucs_stack *stack)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    char buf[64];
    unsigned n = 0;
    while (!stop_requested) {
        ucs_stack_poll(stack);
        if ((++n & 4095) == 0 && poll(&pfd, 1, 0) == 1)
            return read(0, buf, sizeof(buf)) > 0;
    }
    return false;
}

static void print_stats(struct ucs_stack *stack)
{
    struct ucs_stack_stats s;
    struct ucs_echo_server_stats es;
    ucs_stack_get_stats(stack, &s);
    ucs_drive_echo_server_stats(&es);
    printf("stats rx_frames=%llu tx_frames=%llu tx_backlogged=%llu tx_alloc_failed=%llu ip_drops=%llu "
           "tcp_drops=%llu accepted=%llu echoed=%llu numa_node=%d cpu=%d\n",
           (unsigned long long)s.rx_frames, (unsigned long long)s.tx_frames, (unsigned long long)s.tx_backlogged,
           (unsigned long long)s.tx_alloc_failed, (unsigned long long)s.ip_drops, (unsigned long long)s.tcp_drops,
           (unsigned long long)es.accepted, (unsigned long long)es.bytes, s.numa_node, s.cpu);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"serve", required_argument, NULL, 's'},
        {"ping", required_argument, NULL, 'p'},   {"echo", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'}, {"wait-go", no_argument, NULL, 'g'},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    char *pings[MAX_JOBS];
    struct job echoes[MAX_JOBS];
    unsigned npings = 0, nechoes = 0, timeout_s = 60;
    int serve = 0, opt, failures = 0;
    bool wait_go = false;
    struct ucs_config cfg;
    struct ucs_stack *stack;
    char err[256];
    double deadline;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 's': serve = atoi(optarg); break;
        case 'p':
            if (npings < MAX_JOBS)
                pings[npings++] = optarg;
            break;
        case 'e':
            if (nechoes == MAX_JOBS || parse_echo(optarg, &echoes[nechoes]) != 0) {
                fprintf(stderr, "ucs-node: --echo wants ADDR,PORT,BYTES\n");
                return 2;
            }
            nechoes++;
            break;
        case 't': timeout_s = (unsigned)atoi(optarg); break;
        case 'g': wait_go = true; break;
        default: return 2;
        }
    }
    if (!config_path) {
        fprintf(stderr, "ucs-node: --config FILE is required\n");
        return 2;
    }
    if (ucs_config_load(config_path, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "ucs-node: %s\n", err);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    stack = ucs_stack_create(&cfg, err, sizeof(err));
    if (!stack) {
        fprintf(stderr, "ucs-node: %s\n", err);
        return 2;
    }
    if (serve && ucs_drive_echo_server((uint16_t)serve) != 0) {
        fprintf(stderr, "ucs-node: cannot listen on port %d\n", serve);
        ucs_stack_destroy(stack);
        return 2;
    }
    printf("ready\n");

    deadline = tool_now() + timeout_s;
    while (!ucs_stack_links_up(stack) && tool_now() < deadline && !stop_requested)
        ucs_stack_poll(stack);
    if (!ucs_stack_links_up(stack)) {
        printf("link down: gave up after %u s\n", timeout_s);
        ucs_stack_destroy(stack);
        return 1;
    }
    printf("link up\n");
    if (wait_go && !wait_for_go(stack))
        failures++;

    for (unsigned i = 0; i < npings; i++) {
        struct sockaddr_storage dst;
        long rtt = ucs_drive_addr(pings[i], 0, &dst) ? -1 : ucs_drive_ping(stack, &dst, 5000);
        if (rtt < 0)
            failures++;
        printf("ping %s %s rtt_us=%ld\n", pings[i], rtt < 0 ? "FAILED" : "ok", rtt);
    }
    for (unsigned i = 0; i < nechoes; i++) {
        struct sockaddr_storage dst;
        struct ucs_echo_result res = {0};
        if (ucs_drive_addr(echoes[i].addr, echoes[i].port, &dst) != 0)
            snprintf(res.error, sizeof(res.error), "bad address");
        else
            ucs_drive_echo(stack, &dst, echoes[i].bytes, timeout_s * 1000u, &res);
        if (!res.ok)
            failures++;
        printf("echo %s port=%u bytes=%llu %s seconds=%.3f gbit_per_s=%.2f %s\n", echoes[i].addr, echoes[i].port,
               (unsigned long long)res.bytes, res.ok ? "ok" : "FAILED", res.seconds,
               res.seconds > 0 ? 8.0 * (double)res.bytes / res.seconds / 1e9 : 0.0, res.error);
    }

    if (serve) {
        unsigned n = 0;
        while (!stop_requested) {
            ucs_stack_poll(stack);
            /* Checking stdin costs a system call: do it once per 4096 polls. */
            if ((++n & 4095) == 0 && stdin_closed())
                break;
        }
    }
    print_stats(stack);
    ucs_stack_destroy(stack);
    return failures ? 1 : 0;
}
