/*
 * ucstack-bench: ucstack and the Linux kernel side by side, in one invocation.
 *
 *   ucstack-bench [--quick] [--rounds N] [--json PATH] [--plot DIR] [--only LIST] [--huge]
 *                 [--server-core N] [--client-core N] [--busy-client]
 *
 * The orchestrator (this process) runs no benchmark itself: scenarios.c says
 * what to run, runner.c starts each run's server and client (this same
 * executable with --role, dispatched below to the role's file), report.c
 * prints and writes the figures. Progress goes to stderr, the tables to stdout.
 */
#include "bench.h"
#include "local.h"
#include "report.h"
#include "roles.h"
#include "runner.h"
#include "scenarios.h"

#include "lwip/init.h"

#include <execinfo.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A child that crashes (an lwIP assertion aborts) leaves its stack on stderr. */
static void on_crash(int sig)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    static const char msg[] = "ucstack-bench: crashed; backtrace:\n";
    if (write(2, msg, sizeof(msg) - 1) < 0)
        _exit(128 + sig);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int role_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, NULL, 'r'},  {"mode", required_argument, NULL, 'm'},
        {"family", required_argument, NULL, 'f'}, {"prefix", required_argument, NULL, 'x'},
        {"path", required_argument, NULL, 'p'},  {"core", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'P'},  {"count", required_argument, NULL, 'n'},
        {"warm", required_argument, NULL, 'w'},  {"bytes", required_argument, NULL, 'b'},
        {"calls", required_argument, NULL, 'C'}, {"batches", required_argument, NULL, 'B'},
        {"nocred", no_argument, NULL, 'N'},      {"busy", no_argument, NULL, 'y'},
        {"peer-pid", required_argument, NULL, 'i'}, {"huge", no_argument, NULL, 'H'},
        {"huge-dir", required_argument, NULL, 'D'}, {NULL, 0, NULL, 0}};
    struct role_args a = {.role = "", .mode = "rr", .family = "tcp", .prefix = "", .path = "", .port = 5000,
                          .batches = 5};
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGPIPE, SIG_IGN);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'r': a.role = optarg; break;
        case 'm': a.mode = optarg; break;
        case 'f': a.family = optarg; break;
        case 'x': a.prefix = optarg; break;
        case 'p': a.path = optarg; break;
        case 'c': a.core = atoi(optarg); break;
        case 'P': a.port = atoi(optarg); break;
        case 'n': a.count = strtoull(optarg, NULL, 10); break;
        case 'w': a.warm = strtoull(optarg, NULL, 10); break;
        case 'b': a.bytes = strtoull(optarg, NULL, 10); break;
        case 'C': a.calls = strtoull(optarg, NULL, 10); break;
        case 'B': a.batches = atoi(optarg); break;
        case 'N': a.nocred = true; break;
        case 'y': a.busy = true; break;
        case 'i': a.peer_pid = atol(optarg); break;
        case 'H': bench_use_hugepages = true; break;
        case 'D': bench_huge_dir = optarg; break;
        default: bench_fail("bad role arguments");
        }
    }
    if (!strcmp(a.mode, "conc"))
        return conc_role_main(&a);
    if (!strncmp(a.role, "raw-", 4))
        return raw_role_main(&a);
    return roles_main(&a);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ucstack-bench [--quick] [--rounds N] [--json PATH] [--plot DIR]\n"
            "                     [--only raw,rr,bulk,conn,conc,local] [--server-core N] [--client-core N]\n"
            "                     [--busy-client] [--huge] [--huge-dir DIR] [--retries N] [--wait-quiet SECONDS]\n"
            "  --quick        small sizes: the whole suite in about a minute\n"
            "  --rounds N     run every scenario N times, ucstack and kernel in turn; figures are the medians,\n"
            "                 with the spread (min-max) beside them (default %d, at most %d)\n"
            "  --json PATH    write the records there (scripts/bench-readme.py puts its table into README.md)\n"
            "  --plot DIR     PNGs with gnuplot, if it is installed\n"
            "  --busy-client  ucstack RR client: non-blocking ucs_recv + ucs_stack_poll, not blocking calls\n"
            "  --huge         run DPDK on hugepages (--single-file-segments), not --no-huge\n"
            "  --huge-dir DIR the same, on the hugetlbfs mounted at DIR\n"
            "  --retries N    run a failed round again up to N times (default 1); the failure is still reported\n"
            "  --wait-quiet S before each run, wait up to S seconds for the rest of the machine to go idle\n",
            BENCH_DEFAULT_ROUNDS, BENCH_MAX_ROUNDS);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"rounds", required_argument, NULL, 'n'},
                                         {"json", required_argument, NULL, 'j'},
                                         {"plot", required_argument, NULL, 'p'},
                                         {"only", required_argument, NULL, 'o'},
                                         {"server-core", required_argument, NULL, 's'},
                                         {"client-core", required_argument, NULL, 'c'},
                                         {"busy-client", no_argument, NULL, 'b'},
                                         {"huge", no_argument, NULL, 'H'},
                                         {"huge-dir", required_argument, NULL, 'D'},
                                         {"retries", required_argument, NULL, 'R'},
                                         {"wait-quiet", required_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct scenario_options so = {.rounds = BENCH_DEFAULT_ROUNDS, .retries = 1};
    struct report_options ro;
    const char *json = NULL, *plot = NULL;
    uint64_t t0 = bench_now_ns();
    int opt, failed = 0, local_runs = 0;

    if (argc > 1 && !strcmp(argv[1], "--role"))
        return role_main(argc, argv);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'q': so.quick = true; break;
        case 'n': so.rounds = atoi(optarg); break;
        case 'j': json = optarg; break;
        case 'p': plot = optarg; break;
        case 'o': so.only = optarg; break;
        case 's': runner.server_core = atoi(optarg); break;
        case 'c': runner.client_core = atoi(optarg); break;
        case 'b': runner.busy_client = true; break;
        case 'H': bench_use_hugepages = true; break;
        case 'D': bench_use_hugepages = true; bench_huge_dir = optarg; break;
        case 'R': so.retries = atoi(optarg); break;
        case 'W': runner.wait_quiet_s = atof(optarg); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (so.rounds < 1 || so.rounds > BENCH_MAX_ROUNDS) {
        fprintf(stderr, "ucstack-bench: --rounds takes 1 to %d\n", BENCH_MAX_ROUNDS);
        return 2;
    }
    ro = (struct report_options){so.quick, so.rounds, so.retries, runner.wait_quiet_s};
    report_machine();
    if (runner.server_core == runner.client_core || runner.server_core >= report_cores() ||
        runner.client_core >= report_cores())
        fprintf(stderr, "ucstack-bench: warning: server core %d, client core %d on a %ld-core machine: "
                        "busy-polling processes will share a core\n",
                runner.server_core, runner.client_core, report_cores());
    if (runner_init() != 0)
        return 1;
    fprintf(stderr, "ucstack-bench: %s mode, %d round%s, %s; server core %d, client core %d; DPDK %s, lwIP %s\n",
            so.quick ? "quick" : "full", so.rounds, so.rounds == 1 ? "" : "s",
            bench_use_hugepages ? "DPDK on hugepages (--single-file-segments)"
                                : "DPDK in hugepage-free mode (--no-huge: virtio-user/vhost-user share file-backed "
                                  "memory, no root or reserved pages needed)",
            runner.server_core, runner.client_core, report_dpdk_number(), LWIP_VERSION_STRING);
    if (so.rounds < BENCH_DEFAULT_ROUNDS)
        fprintf(stderr, "ucstack-bench: %d round%s only: the figures are not medians of %d rounds\n", so.rounds,
                so.rounds == 1 ? "" : "s", BENCH_DEFAULT_ROUNDS);

    failed += scenarios_run(&so);
    if (scenario_wanted(so.only, "local") && !runner_stopped())
        failed += local_bench_run(runner_dir(), so.quick, so.rounds, runner.server_core, runner.client_core,
                                  &local_runs);
    report_print(&ro);
    fflush(stdout);
    if (json)
        report_json(json, &ro);
    if (plot)
        report_plots(plot);
    runner_done(failed != 0);
    fprintf(stderr, "ucstack-bench: %d of %d runs failed; %.1f s in all\n", failed, scenarios_runs() + local_runs,
            (double)(bench_now_ns() - t0) / 1e9);
    if (runner_stopped()) {
        fprintf(stderr, "ucstack-bench: stopped by signal %d\n", runner_stopped());
        return 128 + runner_stopped();
    }
    return failed ? 1 : 0;
}
