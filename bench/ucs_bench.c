/*
 * ucstack-bench: ucstack and the Linux kernel side by side, in one invocation.
 *
 *   ucstack-bench [--quick] [--json PATH] [--plot DIR] [--only LIST] [--huge]
 *                 [--server-core N] [--client-core N] [--busy-client]
 *
 * The orchestrator (this process) runs no benchmark itself: for each scenario
 * it starts a server and then a client, each this same executable with
 * --role, each pinned to its own core, reads one "result" line from each,
 * stops them by PID and removes what they left (DPDK's runtime directory, the
 * credential table, the cable's socket). Ratios are named so that above 1
 * means ucstack is better. Progress goes to stderr, the table to stdout.
 */
#include "bench.h"

#include "lwip/init.h"

#include <ucstack/stack.h>

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_DPDK_PKG_VERSION
#define BENCH_DPDK_PKG_VERSION "unknown"
#endif

/* ------------------------------------------------------------------ sizes */

struct sizes {
    uint64_t rr_count, rr_warm;
    uint64_t bulk_bytes, bulk_warm;
    uint64_t conn_count, conn_warm;
    uint64_t cred_calls;
    int cred_batches;
    uint64_t raw_count, raw_warm, raw_bytes;
    unsigned timeout_s;
    uint64_t conc_count, conc_warm; /* transactions over CONC_CONNS connections */
};

static const struct sizes full_sizes = {
    100000, 10000, 4ull << 30, 256ull << 20, 100000, 1000, 1000000, 5, 100000, 10000, 4ull << 30, 300, 1000000, 100000,
};
static const struct sizes quick_sizes = {
    20000, 2000, 256ull << 20, 16ull << 20, 5000, 500, 200000, 5, 20000, 2000, 256ull << 20, 40, 100000, 20000,
};

/* ---------------------------------------------------------------- records */

enum {
    R_RAW,
    R_RR_UCS,
    R_RR_INPROC,
    R_RR_KTCP,
    R_RR_KUNIX,
    R_BULK_UCS,
    R_BULK_KTCP,
    R_BULK_KUNIX,
    R_CONN_UCS,
    R_CONN_UCS_NOCRED,
    R_CONN_KTCP,
    R_CONC_UCS,
    R_CONC_KTCP,
    N_REC
};

struct rec {
    const char *scenario;  /* rr, bulk, conn, raw */
    const char *transport; /* for the records */
    const char *side;      /* ucstack, kernel, raw */
    const char *what;      /* for people */
    bool ran, ok;
    char err[1024];
    char server[2048], client[2048];
    double seconds;
    double others_cores; /* CPU the rest of the machine used during the run, in cores */
    int attempts;
    char first_err[1024]; /* why the first attempt failed, when a retry passed */
};

static struct rec recs[N_REC] = {
    [R_RAW] = {"raw", "raw-dpdk-virtio", "raw", "raw DPDK frames, virtio cable, 2 processes", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_RR_UCS] = {"rr", "ucstack-virtio", "ucstack", "ucstack, virtio cable, 2 processes", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_RR_INPROC] = {"rr", "ucstack-loopback-1proc", "ucstack", "ucstack, 127.0.0.1, 1 process", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_RR_KTCP] = {"rr", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1, 2 processes", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_RR_KUNIX] = {"rr", "kernel-unix", "kernel", "kernel AF_UNIX stream, 2 processes", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_BULK_UCS] = {"bulk", "ucstack-virtio", "ucstack", "ucstack, virtio cable", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_BULK_KTCP] = {"bulk", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_BULK_KUNIX] = {"bulk", "kernel-unix", "kernel", "kernel AF_UNIX stream", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_CONN_UCS] = {"conn", "ucstack-virtio", "ucstack", "ucstack, virtio cable, credentials on", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_CONN_UCS_NOCRED] = {"conn", "ucstack-virtio-nocred", "ucstack", "ucstack, virtio cable, credentials off", 0, 0,
                           "", "", "", 0, 0, 0, ""},
    [R_CONN_KTCP] = {"conn", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1", 0, 0, "", "", "", 0, 0, 0, ""},
    [R_CONC_UCS] = {"conc", "ucstack-virtio", "ucstack", "ucstack, 10k connections, virtio cable", 0, 0, "", "", "", 0, 0,
                    0, ""},
    [R_CONC_KTCP] = {"conc", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1, 10k connections", 0, 0, "", "", "",
                     0, 0, 0, ""},
};

/* The value of key=... in a "k=v k=v" line, or NAN. */
static double kv(const char *line, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, key, klen) && p[klen] == '=')
            return strtod(p + klen + 1, NULL);
        while (*p && *p != ' ')
            p++;
    }
    return NAN;
}

/* A figure of a record that ran: the client's, else the server's. */
static double fig(int r, const char *key)
{
    double v;
    if (!recs[r].ran || !recs[r].ok)
        return NAN;
    v = kv(recs[r].client, key);
    return isnan(v) ? kv(recs[r].server, key) : v;
}

static void rec_fail(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_fail(struct rec *r, const char *fmt, ...)
{
    va_list ap;
    if (!r->ok)
        return; /* the first failure is the one that counts */
    r->ok = false;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
}

/* --------------------------------------------------------------- children */

static char self_exe[PATH_MAX];
static char run_dir[256];
static int server_core = 0, client_core = 1;
static bool busy_client;
static const struct sizes *sz;

struct child {
    const char *name;
    pid_t pid;
    int fd;
    char buf[8192];
    size_t len;
    bool eof, ready, reaped, killed;
    double cpu_s; /* user + system time it used */
    int status;
    char ready_line[512], result[2048], fail[1024];
    char errpath[PATH_MAX];
    char prefix[64];
};

/* The children of the run in progress, for a SIGINT or SIGTERM to stop. */
static struct child *volatile active[2];
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    stop_requested = sig;
    for (int i = 0; i < 2; i++) {
        struct child *ch = active[i];
        if (ch && ch->pid > 0 && !ch->reaped)
            kill(ch->pid, SIGKILL);
    }
}

struct argv_builder {
    char *argv[64];
    char store[64][PATH_MAX];
    int n;
};

static void arg(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct argv_builder *b, const char *fmt, ...)
{
    va_list ap;
    if (b->n >= 63)
        return;
    va_start(ap, fmt);
    vsnprintf(b->store[b->n], sizeof(b->store[b->n]), fmt, ap);
    va_end(ap);
    b->argv[b->n] = b->store[b->n];
    b->argv[++b->n] = NULL;
}

static int spawn(struct child *ch, struct argv_builder *b)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    ch->pid = fork();
    if (ch->pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (ch->pid == 0) {
        int e = open(ch->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(p[1], 1);
        if (e >= 0)
            dup2(e, 2);
        execv(self_exe, b->argv);
        _exit(127);
    }
    close(p[1]);
    ch->fd = p[0];
    return 0;
}

static void take_line(struct child *ch, char *line)
{
    if (!strncmp(line, "ready", 5)) {
        ch->ready = true;
        snprintf(ch->ready_line, sizeof(ch->ready_line), "%s", line + 5);
    } else if (!strncmp(line, "result ", 7)) {
        snprintf(ch->result, sizeof(ch->result), "%s", line + 7);
    } else if (!strncmp(line, "fail ", 5)) {
        snprintf(ch->fail, sizeof(ch->fail), "%s", line + 5);
    }
}

/* Reads what the child wrote; false at end of file. */
static bool pump(struct child *ch)
{
    ssize_t r;
    char *nl;
    if (ch->eof)
        return false;
    r = read(ch->fd, ch->buf + ch->len, sizeof(ch->buf) - 1 - ch->len);
    if (r <= 0) {
        if (r < 0 && errno == EINTR)
            return true;
        ch->eof = true;
        close(ch->fd);
        return false;
    }
    ch->len += (size_t)r;
    ch->buf[ch->len] = '\0';
    while ((nl = strchr(ch->buf, '\n'))) {
        *nl = '\0';
        take_line(ch, ch->buf);
        memmove(ch->buf, nl + 1, ch->len - (size_t)(nl + 1 - ch->buf) + 1);
        ch->len -= (size_t)(nl + 1 - ch->buf);
    }
    if (ch->len == sizeof(ch->buf) - 1)
        ch->len = 0; /* a line too long to be ours */
    return true;
}

static void reap(struct child *ch, unsigned grace_ms);

/* Waits until every child closed its output, or the deadline; until==ready: until the first is ready. */
static bool wait_children(struct child **chs, int n, uint64_t deadline, bool until_ready)
{
    for (;;) {
        struct pollfd pfd[4];
        int k = 0, map[4];
        uint64_t now = bench_now_ns();
        if (until_ready && (chs[0]->ready || chs[0]->eof))
            return chs[0]->ready;
        for (int i = 0; i < n; i++) {
            if (!chs[i]->eof) {
                pfd[k].fd = chs[i]->fd;
                pfd[k].events = POLLIN;
                map[k++] = i;
            }
        }
        if (k == 0)
            return true;
        if (now >= deadline)
            return false;
        if (poll(pfd, (nfds_t)k, (int)((deadline - now) / 1000000 + 1)) < 0 && errno != EINTR)
            return false;
        for (int i = 0; i < k; i++) {
            struct child *ch = chs[map[i]];
            if (!pfd[i].revents || pump(ch))
                continue;
            /* It closed its output: it is exiting. If it failed, its peer
             * would only wait for it: stop the peer now, by PID. */
            reap(ch, 2000);
            if (ch->fail[0] || ch->status != 0) {
                for (int o = 0; o < n; o++) {
                    if (chs[o] != ch && chs[o]->pid > 0)
                        reap(chs[o], 0);
                }
            }
        }
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Stops a child by PID if it still runs, and removes what it leaves behind. */
static void reap(struct child *ch, unsigned grace_ms)
{
    char path[PATH_MAX];
    if (ch->pid <= 0 || ch->reaped)
        return;
    for (unsigned waited = 0;; waited += 10) {
        struct rusage ru;
        pid_t r = wait4(ch->pid, &ch->status, WNOHANG, &ru);
        if (r == ch->pid)
            ch->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                        ru.ru_stime.tv_usec / 1e6;
        if (r == ch->pid)
            break;
        if (r < 0) {
            ch->status = -1;
            break;
        }
        if (waited >= grace_ms) {
            ch->killed = true;
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, &ch->status, 0);
            ch->cpu_s = NAN;
            break;
        }
        usleep(10000);
    }
    ch->reaped = true;
    if (!ch->eof) {
        close(ch->fd);
        ch->eof = true;
    }
    if (ch->prefix[0]) {
        snprintf(path, sizeof(path), "/var/run/dpdk/%s", ch->prefix);
        nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        /* With hugepages and --huge-unlink there are no files left; a child killed early may leave one. */
        snprintf(path, sizeof(path), "%s/%smap_0", bench_huge_dir ? bench_huge_dir : "/dev/hugepages", ch->prefix);
        unlink(path);
    }
    snprintf(path, sizeof(path), "/dev/shm/ucstack-cred-%d", (int)ch->pid);
    unlink(path);
}

/* The telling line of a child's stderr, for a failure message: an assertion
 * if there is one, else the last line before any backtrace. */
static void err_tail(const struct child *ch, char *out, size_t len)
{
    char line[512] = "", last[512] = "", key[512] = "";
    FILE *f = fopen(ch->errpath, "r");
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "ucstack-bench: crashed", 22))
            break;
        if (strstr(line, "assertion") && !key[0])
            snprintf(key, sizeof(key), "%s", line);
        if (line[0])
            snprintf(last, sizeof(last), "%s", line);
    }
    fclose(f);
    if (key[0] || last[0])
        snprintf(out, len, " (stderr: %s)", key[0] ? key : last);
}

static void judge(struct rec *r, struct child *ch)
{
    char tail[600];
    if (!ch || ch->pid <= 0)
        return;
    if (ch->fail[0]) {
        rec_fail(r, "%s: %s", ch->name, ch->fail);
        return;
    }
    err_tail(ch, tail, sizeof(tail));
    if (ch->status == -1)
        rec_fail(r, "%s: lost", ch->name);
    else if (WIFSIGNALED(ch->status))
        rec_fail(r, "%s: %s by signal %d%s", ch->name, ch->killed ? "stopped (by us)" : "killed",
                 WTERMSIG(ch->status), tail);
    else if (WEXITSTATUS(ch->status) != 0)
        rec_fail(r, "%s: exit status %d%s", ch->name, WEXITSTATUS(ch->status), tail);
    else if (!ch->result[0])
        rec_fail(r, "%s: no result%s", ch->name, tail);
}

/* Busy CPU seconds of the whole machine so far, from /proc/stat: user, nice
 * and system time only. Interrupt and softirq time is left out: the kernel
 * runs do their loopback work there, outside their processes' own accounting. */
static double machine_busy_s(void)
{
    unsigned long long user, nice, sys, idle, iowait, irq, softirq;
    double v = NAN;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return NAN;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq, &softirq) == 7)
        v = (double)(user + nice + sys) / (double)sysconf(_SC_CLK_TCK);
    fclose(f);
    return v;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

struct job {
    const char *server_role, *client_role; /* server_role NULL: one process */
    const char *mode, *family;
    bool dpdk, nocred;
    uint64_t count, warm, bytes, calls;
};

static void common_args(struct argv_builder *b, const struct job *j, const char *role, int core, const char *prefix,
                        const char *path)
{
    arg(b, "ucstack-bench");
    arg(b, "--role");
    arg(b, "%s", role);
    arg(b, "--mode=%s", j->mode);
    arg(b, "--family=%s", j->family ? j->family : "tcp");
    arg(b, "--core=%d", core);
    arg(b, "--prefix=%s", prefix);
    arg(b, "--path=%s", path);
    arg(b, "--count=%llu", (unsigned long long)j->count);
    arg(b, "--warm=%llu", (unsigned long long)j->warm);
    arg(b, "--bytes=%llu", (unsigned long long)j->bytes);
    if (j->nocred)
        arg(b, "--nocred");
    if (bench_use_hugepages)
        arg(b, "--huge");
    if (bench_huge_dir)
        arg(b, "--huge-dir=%s", bench_huge_dir);
}

static int run_seq;
static double wait_quiet_s; /* --wait-quiet: how long to wait for the rest of the machine to go quiet */
#define BUSY_CORES 0.15 /* more than this much CPU used by others during a run: say so */

/* How many cores the rest of the machine keeps busy, over a short look. */
static double others_now(double secs)
{
    double busy0 = machine_busy_s(), self0 = self_cpu_s();
    usleep((useconds_t)(secs * 1e6));
    return (machine_busy_s() - busy0 - (self_cpu_s() - self0)) / secs;
}

/* Waits (at most --wait-quiet seconds) until others use less than BUSY_CORES. */
static void wait_for_quiet(void)
{
    uint64_t t0 = bench_now_ns();
    bool said = false;
    double busy;
    if (wait_quiet_s <= 0)
        return;
    while (!stop_requested && (busy = others_now(0.5)) > BUSY_CORES) {
        if ((double)(bench_now_ns() - t0) / 1e9 > wait_quiet_s) {
            fprintf(stderr, "(still %.2f cores busy after %.0f s: running anyway) ", busy, wait_quiet_s);
            return;
        }
        if (!said)
            fprintf(stderr, "(waiting for the machine to go quiet: %.2f cores busy) ", busy);
        said = true;
    }
}

static void run_job(struct rec *r, const struct job *j)
{
    struct child srv, cli;
    struct child *both[2] = {&cli, &srv};
    struct argv_builder b;
    char path[PATH_MAX];
    uint64_t t0, deadline;
    double busy0, self0;
    int seq = ++run_seq;
    bool two = j->server_role != NULL;

    wait_for_quiet();
    t0 = bench_now_ns();
    deadline = t0 + (uint64_t)sz->timeout_s * 1000000000ull;
    busy0 = machine_busy_s();
    self0 = self_cpu_s();

    memset(&srv, 0, sizeof(srv));
    memset(&cli, 0, sizeof(cli));
    r->ran = true;
    r->ok = true;
    r->err[0] = r->client[0] = r->server[0] = '\0';
    srv.name = "server";
    cli.name = two ? "client" : "process";
    snprintf(path, sizeof(path), "%s/s%d.sock", run_dir, seq);
    snprintf(srv.errpath, sizeof(srv.errpath), "%s/run%d-server.err", run_dir, seq);
    snprintf(cli.errpath, sizeof(cli.errpath), "%s/run%d-client.err", run_dir, seq);
    if (j->dpdk) {
        snprintf(srv.prefix, sizeof(srv.prefix), "ucs-bench-%d-%d-s", (int)getpid(), seq);
        snprintf(cli.prefix, sizeof(cli.prefix), "ucs-bench-%d-%d-c", (int)getpid(), seq);
    }

    if (two) {
        memset(&b, 0, sizeof(b));
        common_args(&b, j, j->server_role, server_core, srv.prefix, path);
        /* The kernel's listener takes a free port and says which; ucstack's has the stack to itself. */
        arg(&b, "--port=%d", strncmp(j->server_role, "k-", 2) ? 5000 : 0);
        if (spawn(&srv, &b) != 0) {
            rec_fail(r, "cannot start the server: %s", strerror(errno));
            goto out;
        }
        active[1] = &srv;
        /* The vhost side's socket (or the kernel's listener) exists before the client starts. */
        if (!wait_children((struct child *[]){&srv}, 1, bench_now_ns() + 30000000000ull, true)) {
            reap(&srv, 0);
            judge(r, &srv);
            rec_fail(r, "the server did not get ready");
            goto out;
        }
    }
    memset(&b, 0, sizeof(b));
    common_args(&b, j, j->client_role, client_core, cli.prefix, path);
    if (two) {
        double port = kv(srv.ready_line, "port"), pid = kv(srv.ready_line, "pid");
        arg(&b, "--port=%d", isnan(port) ? 5000 : (int)port);
        arg(&b, "--peer-pid=%ld", isnan(pid) ? 0L : (long)pid);
    } else {
        arg(&b, "--port=5000");
    }
    if (j->calls) {
        arg(&b, "--calls=%llu", (unsigned long long)j->calls);
        arg(&b, "--batches=%d", sz->cred_batches);
    }
    if (busy_client)
        arg(&b, "--busy");
    if (spawn(&cli, &b) != 0) {
        rec_fail(r, "cannot start the client: %s", strerror(errno));
        reap(&srv, 0);
        goto out;
    }
    active[0] = &cli;
    if (!wait_children(both, two ? 2 : 1, deadline, false)) {
        char ts[600], tc[600];
        err_tail(&srv, ts, sizeof(ts));
        err_tail(&cli, tc, sizeof(tc));
        rec_fail(r, "timed out after %u s; still running:%s%s%s%s", sz->timeout_s, two && !srv.eof ? " server" : "",
                 two && !srv.eof ? ts : "", !cli.eof ? " client" : "", !cli.eof ? tc : "");
    }
    /* Stopped by PID: whoever has not exited on its own within the grace time. */
    reap(&cli, r->ok ? 5000 : 0);
    reap(&srv, r->ok ? 5000 : 0);
    /* A child that said why it failed speaks first; one stopped for it, after. */
    if (srv.fail[0] || (cli.killed && !srv.killed))
        judge(r, &srv);
    judge(r, &cli);
    judge(r, &srv);
    snprintf(r->client, sizeof(r->client), "%s", cli.result);
    snprintf(r->server, sizeof(r->server), "%s", srv.result);
out:
    active[0] = active[1] = NULL;
    if (stop_requested)
        rec_fail(r, "interrupted (signal %d)", (int)stop_requested);
    unlink(path);
    if (r->ok) {
        unlink(srv.errpath);
        unlink(cli.errpath);
    }
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    /* Whatever else ran on the machine meanwhile: busy time not ours. Loopback
     * softirq work done outside our processes' accounting lands here too, so
     * only a large figure means the machine was not ours. */
    {
        double others = machine_busy_s() - busy0 - (self_cpu_s() - self0) - (isnan(srv.cpu_s) ? 0 : srv.cpu_s) -
                        (isnan(cli.cpu_s) ? 0 : cli.cpu_s);
        r->others_cores = others > 0 ? others / r->seconds : 0;
    }
}

/* ------------------------------------------------------------- scenarios */

static int nsteps, step;

static void progress_start(int r)
{
    fprintf(stderr, "[%2d/%d] %-5s %-42s ", ++step, nsteps, recs[r].scenario, recs[r].what);
    fflush(stderr);
}

static void progress_end(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress_end(int r, const char *fmt, ...)
{
    va_list ap;
    if (!recs[r].ok) {
        fprintf(stderr, "FAILED (%.1f s): %s\n", recs[r].seconds, recs[r].err);
        return;
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%.1f s)", recs[r].seconds);
    if (recs[r].others_cores > BUSY_CORES)
        fprintf(stderr, " [the rest of the machine used %.2f cores meanwhile]", recs[r].others_cores);
    fprintf(stderr, "\n");
}

static void check_count(int r, const char *key, uint64_t want)
{
    double v = kv(recs[r].server[0] ? recs[r].server : recs[r].client, key);
    if (recs[r].ok && v != (double)want)
        rec_fail(&recs[r], "the server counted %s=%.0f, the client made %llu", key, v, (unsigned long long)want);
}

static int retries = 1;

/* Runs a job, checks what it reported, and runs it once more if it failed
 * (--retries): a failure that a retry cured is still reported, as flaky. */
static void attempt(int r, const struct job *j, void (*check)(int r, const struct job *j))
{
    for (int a = 0;; a++) {
        run_job(&recs[r], j);
        if (recs[r].ok && check)
            check(r, j);
        recs[r].attempts = a + 1;
        if (recs[r].ok || a >= retries || stop_requested)
            break;
        if (a == 0)
            memcpy(recs[r].first_err, recs[r].err, sizeof(recs[r].first_err));
        fprintf(stderr, "failed (%s), again: ", recs[r].err);
    }
}

static void check_rr(int r, const struct job *j)
{
    check_count(r, "served", j->count + j->warm);
}

static void check_bulk(int r, const struct job *j)
{
    check_count(r, "received", j->bytes + j->warm);
}

static void check_conn(int r, const struct job *j)
{
    uint64_t total = j->count + j->warm;
    check_count(r, "served", total);
    if (recs[r].ok && j->dpdk) {
        /* The option must flow when on (every SYN and SYN-ACK) and never when off. */
        double cs = kv(recs[r].client, "credopt_sent"), cr = kv(recs[r].client, "credopt_received");
        double ss = kv(recs[r].server, "credopt_sent"), sr = kv(recs[r].server, "credopt_received");
        if (!j->nocred && (cs < (double)total || cr < (double)total || ss < (double)total || sr < (double)total))
            rec_fail(&recs[r], "the credential option did not flow on every connection (client sent %.0f received "
                               "%.0f, server sent %.0f received %.0f, %llu connections)",
                     cs, cr, ss, sr, (unsigned long long)total);
        if (j->nocred && (cs != 0 || ss != 0))
            rec_fail(&recs[r], "credentials off, yet the option was sent (client %.0f, server %.0f)", cs, ss);
    }
}

static void do_raw(void)
{
    if (stop_requested)
        return;
    struct job j = {"raw-server", "raw-client", "raw", NULL, true, false, sz->raw_count, sz->raw_warm, sz->raw_bytes, 0};
    progress_start(R_RAW);
    attempt(R_RAW, &j, NULL);
    progress_end(R_RAW, "ping-pong p50 %.2f us p99 %.2f us, stream %.2f Gbit/s", fig(R_RAW, "p50_ns") / 1e3,
                 fig(R_RAW, "p99_ns") / 1e3, fig(R_RAW, "gbps"));
}

static void do_rr(int r, const char *srole, const char *crole, const char *family, bool dpdk, bool cred)
{
    if (stop_requested)
        return;
    struct job j = {srole, crole, "rr", family, dpdk, false, sz->rr_count, sz->rr_warm, 0, cred ? sz->cred_calls : 0};
    progress_start(r);
    attempt(r, &j, check_rr);
    progress_end(r, "p50 %.2f us p99 %.2f us p99.9 %.2f us", fig(r, "p50_ns") / 1e3, fig(r, "p99_ns") / 1e3,
                 fig(r, "p999_ns") / 1e3);
}

static void do_bulk(int r, const char *srole, const char *crole, const char *family, bool dpdk)
{
    if (stop_requested)
        return;
    struct job j = {srole, crole, "bulk", family, dpdk, false, 0, sz->bulk_warm, sz->bulk_bytes, 0};
    progress_start(r);
    attempt(r, &j, check_bulk);
    progress_end(r, "%.2f Gbit/s", fig(r, "gbps"));
}

static void do_conn(int r, const char *srole, const char *crole, bool dpdk, bool nocred)
{
    if (stop_requested)
        return;
    struct job j = {srole, crole, "conn", "tcp", dpdk, nocred, sz->conn_count, sz->conn_warm, 0, 0};
    progress_start(r);
    attempt(r, &j, check_conn);
    progress_end(r, "%.0f conn/s", fig(r, "conn_per_s"));
}

static void check_conc(int r, const struct job *j)
{
    check_count(r, "served", j->count + j->warm);
    check_count(r, "accepted", CONC_CONNS);
    check_count(r, "closed", CONC_CONNS);
    if (recs[r].ok && (kv(recs[r].client, "conns") != CONC_CONNS || kv(recs[r].client, "closed") != CONC_CONNS))
        rec_fail(&recs[r], "the client held %.0f connections and closed %.0f, not %u", kv(recs[r].client, "conns"),
                 kv(recs[r].client, "closed"), CONC_CONNS);
}

static void do_conc(int r, const char *srole, const char *crole, bool dpdk)
{
    if (stop_requested)
        return;
    struct job j = {srole, crole, "conc", "tcp", dpdk, false, sz->conc_count, sz->conc_warm, 0, 0};
    progress_start(r);
    attempt(r, &j, check_conc);
    progress_end(r, "%.0f transactions/s p99 %.1f us (connect %.2f s)", fig(r, "tps"), fig(r, "p99_ns") / 1e3,
                 fig(r, "connect_s"));
}

/* ---------------------------------------------------------------- output */

static char cpu_model[256] = "unknown";
static long ncores;
static char kernel_release[128] = "unknown";

static void machine(void)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    struct utsname u;
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(cpu_model, sizeof(cpu_model), "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    ncores = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        snprintf(kernel_release, sizeof(kernel_release), "%s", u.release);
}

static double ratio(double num, double den)
{
    return isnan(num) || isnan(den) || den == 0 ? NAN : num / den;
}

/* One table cell: a number, or what went wrong instead. */
static void cell(char *out, size_t len, int r, double v, const char *fmt)
{
    if (!recs[r].ran)
        snprintf(out, len, "not run");
    else if (!recs[r].ok)
        snprintf(out, len, "FAILED [%s]", recs[r].transport);
    else if (isnan(v))
        snprintf(out, len, "-");
    else
        snprintf(out, len, fmt, v);
}

static void num(char *out, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(out, len, "-");
    else
        snprintf(out, len, fmt, v);
}

static void row(const char *scenario, const char *transport, const char *u, const char *k, const char *ratio_s,
                const char *cable)
{
    printf("| %-26s | %-31s | %-17s | %-31s | %-15s | %-8s |\n", scenario, transport, u, k, ratio_s, cable);
}

static void rr_rows(int r, const char *label, bool cable)
{
    static const char *keys[] = {"p50_ns", "p99_ns", "p999_ns"};
    static const char *names[] = {"RR 64 B, RTT p50", "RR 64 B, RTT p99", "RR 64 B, RTT p99.9"};
    for (int i = 0; i < 3; i++) {
        char u[64], k[96], kt[32], ku[32], rs[64], rt[16], ru[16], c[16];
        double v = fig(r, keys[i]);
        cell(u, sizeof(u), r, v / 1e3, "%.2f us");
        cell(kt, sizeof(kt), R_RR_KTCP, fig(R_RR_KTCP, keys[i]) / 1e3, "%.2f");
        cell(ku, sizeof(ku), R_RR_KUNIX, fig(R_RR_KUNIX, keys[i]) / 1e3, "%.2f");
        snprintf(k, sizeof(k), "TCP %s / unix %s us", kt, ku);
        num(rt, sizeof(rt), ratio(fig(R_RR_KTCP, keys[i]), v), "%.1f");
        num(ru, sizeof(ru), ratio(fig(R_RR_KUNIX, keys[i]), v), "%.1f");
        snprintf(rs, sizeof(rs), "%s / %s", rt, ru);
        if (cable)
            num(c, sizeof(c), ratio(fig(R_RAW, keys[i]), v), "%.2f");
        else
            snprintf(c, sizeof(c), "n/a");
        row(names[i], label, u, k, rs, c);
    }
}

/* rte_version() says "DPDK 22.11.x": the number alone. */
static const char *dpdk_number(void)
{
    const char *v = bench_dpdk_version();
    return strncmp(v, "DPDK ", 5) ? v : v + 5;
}

static void print_table(bool quick)
{
    char u[96], k[128], rs[96], c[32], a[32], b2[32];
    double on, off;

    printf("\nucstack-bench (%s mode): ucstack vs the Linux kernel on %s, %ld cores; DPDK %s, lwIP %s\n",
           quick ? "quick" : "full", cpu_model, ncores, dpdk_number(), LWIP_VERSION_STRING);
    printf("server on core %d, client on core %d; DPDK %s; ratio > 1: ucstack better; "
           "\"of cable\": ucstack as a fraction of raw DPDK frames on the same cable\n\n",
           server_core, client_core,
           bench_use_hugepages ? "with hugepages (--single-file-segments)" : "hugepage-free (--no-huge)");
    row("scenario", "transport", "ucstack", "kernel", "ratio", "of cable");
    printf("|----------------------------|---------------------------------|-------------------|"
           "---------------------------------|-----------------|----------|\n");
    rr_rows(R_RR_UCS, "virtio cable, 2 processes", true);
    rr_rows(R_RR_INPROC, "127.0.0.1, 1 process, 1 thread", false);

    cell(u, sizeof(u), R_BULK_UCS, fig(R_BULK_UCS, "gbps"), "%.2f Gbit/s");
    cell(a, sizeof(a), R_BULK_KTCP, fig(R_BULK_KTCP, "gbps"), "%.2f");
    cell(b2, sizeof(b2), R_BULK_KUNIX, fig(R_BULK_KUNIX, "gbps"), "%.2f");
    snprintf(k, sizeof(k), "TCP %s / unix %s Gb/s", a, b2);
    num(a, sizeof(a), ratio(fig(R_BULK_UCS, "gbps"), fig(R_BULK_KTCP, "gbps")), "%.2f");
    num(b2, sizeof(b2), ratio(fig(R_BULK_UCS, "gbps"), fig(R_BULK_KUNIX, "gbps")), "%.2f");
    snprintf(rs, sizeof(rs), "%s / %s", a, b2);
    num(c, sizeof(c), ratio(fig(R_BULK_UCS, "gbps"), fig(R_RAW, "gbps")), "%.2f");
    row("bulk, 1 connection", "virtio cable, 2 processes", u, k, rs, c);

    for (int r = R_CONN_UCS; r <= R_CONN_UCS_NOCRED; r++) {
        cell(u, sizeof(u), r, fig(r, "conn_per_s"), "%.0f conn/s");
        cell(a, sizeof(a), R_CONN_KTCP, fig(R_CONN_KTCP, "conn_per_s"), "%.0f");
        snprintf(k, sizeof(k), "TCP %s conn/s", a);
        num(rs, sizeof(rs), ratio(fig(r, "conn_per_s"), fig(R_CONN_KTCP, "conn_per_s")), "%.2f");
        row(r == R_CONN_UCS ? "connect+RR+close, cred on" : "connect+RR+close, cred off", "virtio cable, 2 processes",
            u, k, rs, "n/a");
    }
    on = fig(R_CONN_UCS, "us_per_conn");
    off = fig(R_CONN_UCS_NOCRED, "us_per_conn");
    num(a, sizeof(a), on - off, "%+.2f us");
    num(b2, sizeof(b2), ratio(fig(R_CONN_UCS, "conn_per_s"), fig(R_CONN_UCS_NOCRED, "conn_per_s")), "%.3f");
    snprintf(u, sizeof(u), "%s/conn", a);
    snprintf(rs, sizeof(rs), "on/off %s", b2);
    row("price of credentials", "conn rate, option on vs off", u, "-", rs, "n/a");

    cell(u, sizeof(u), R_RR_UCS, fig(R_RR_UCS, "cred_ns"), "%.1f ns");
    cell(a, sizeof(a), R_RR_KUNIX, fig(R_RR_KUNIX, "cred_ns"), "%.1f ns");
    snprintf(k, sizeof(k), "SO_PEERCRED unix %s", a);
    num(rs, sizeof(rs), ratio(fig(R_RR_KUNIX, "cred_ns"), fig(R_RR_UCS, "cred_ns")), "%.1f");
    row("read peer's credentials", "getpeerucred(), reused ucred_t", u, k, rs, "n/a");
    cell(a, sizeof(a), R_RR_KUNIX, fig(R_RR_KUNIX, "kernel_getpeerucred_ns"), "%.1f ns");
    snprintf(k, sizeof(k), "getpeerucred() unix %s", a);
    row("read peer's credentials", "(reference: on a kernel socket)", "-", k, "-", "n/a");

    cell(u, sizeof(u), R_RAW, fig(R_RAW, "p50_ns") / 1e3, "%.2f us");
    cell(a, sizeof(a), R_RAW, fig(R_RAW, "p99_ns") / 1e3, "%.2f us");
    snprintf(k, sizeof(k), "p99 %s", a);
    row("limit: raw 64 B ping-pong", "raw DPDK frames, virtio, p50", u, k, "-", "1.00");
    cell(u, sizeof(u), R_RAW, fig(R_RAW, "gbps"), "%.2f Gbit/s");
    cell(a, sizeof(a), R_RAW, fig(R_RAW, "mpps"), "%.2f Mpps");
    snprintf(k, sizeof(k), "1514 B frames, %s", a);
    row("limit: raw stream", "raw DPDK frames, virtio", u, k, "-", "1.00");
    cell(u, sizeof(u), R_CONC_UCS, fig(R_CONC_UCS, "tps"), "%.0f tx/s");
    cell(a, sizeof(a), R_CONC_KTCP, fig(R_CONC_KTCP, "tps"), "%.0f");
    snprintf(k, sizeof(k), "TCP %s tx/s", a);
    num(rs, sizeof(rs), ratio(fig(R_CONC_UCS, "tps"), fig(R_CONC_KTCP, "tps")), "%.2f");
    row("10k conns RR 64 B, rate", "virtio cable, 2 processes", u, k, rs, "n/a");
    cell(u, sizeof(u), R_CONC_UCS, fig(R_CONC_UCS, "p99_ns") / 1e3, "%.1f us");
    cell(a, sizeof(a), R_CONC_KTCP, fig(R_CONC_KTCP, "p99_ns") / 1e3, "%.1f");
    snprintf(k, sizeof(k), "TCP %s us", a);
    num(rs, sizeof(rs), ratio(fig(R_CONC_KTCP, "p99_ns"), fig(R_CONC_UCS, "p99_ns")), "%.2f");
    row("10k conns RR 64 B, p99", "virtio cable, 2 processes", u, k, rs, "n/a");
    row("local sockets", "see the table below", "-", "-", "-", "-");

    for (int r = 0; r < N_REC; r++) {
        if (recs[r].ran && !recs[r].ok)
            printf("\nFAILED %s %s: %s", recs[r].scenario, recs[r].transport, recs[r].err);
    }
    for (int r = 0; r < N_REC; r++) {
        if (recs[r].ran && recs[r].first_err[0])
            printf("\nFLAKY: %s %s failed on its first attempt (%s); the figures are from attempt %d",
                   recs[r].scenario, recs[r].transport, recs[r].first_err, recs[r].attempts);
    }
    for (int r = 0; r < N_REC; r++) {
        if (recs[r].ran && recs[r].others_cores > BUSY_CORES)
            printf("\nNOT QUIET: during %s %s the rest of the machine used %.2f cores: its figures are suspect",
                   recs[r].scenario, recs[r].transport, recs[r].others_cores);
    }
    printf("\nconnect+RR+close: the client closes first with SO_LINGER {1, 0} (a reset), on both stacks: "
           "no TIME_WAIT, no ephemeral-port exhaustion.\n");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.12g", v);
}

/* "k=v k=v" as a JSON object of numbers. */
static void json_kv(FILE *f, const char *line)
{
    bool first = true;
    fputc('{', f);
    for (const char *p = line; *p;) {
        const char *eq, *end;
        while (*p == ' ')
            p++;
        end = p + strcspn(p, " ");
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            fprintf(f, "%s\"%.*s\": ", first ? "" : ", ", (int)(eq - p), p);
            json_num(f, strtod(eq + 1, NULL));
            first = false;
        }
        p = end;
    }
    fputc('}', f);
}

static void json_ratio(FILE *f, const char *name, double v, bool *first)
{
    fprintf(f, "%s\"%s\": ", *first ? "" : ", ", name);
    json_num(f, v);
    *first = false;
}

static void json_ratios(FILE *f, int r)
{
    bool first = true;
    fprintf(f, ", \"ratio_vs_kernel\": {");
    if (r == R_RR_UCS || r == R_RR_INPROC) {
        static const char *keys[] = {"p50_ns", "p99_ns", "p999_ns"};
        static const char *names[] = {"p50", "p99", "p99_9"};
        char n[64];
        for (int i = 0; i < 3; i++) {
            snprintf(n, sizeof(n), "kernel-tcp-loopback_%s", names[i]);
            json_ratio(f, n, ratio(fig(R_RR_KTCP, keys[i]), fig(r, keys[i])), &first);
            snprintf(n, sizeof(n), "kernel-unix_%s", names[i]);
            json_ratio(f, n, ratio(fig(R_RR_KUNIX, keys[i]), fig(r, keys[i])), &first);
        }
        if (r == R_RR_UCS)
            json_ratio(f, "credential_read_vs_so_peercred", ratio(fig(R_RR_KUNIX, "cred_ns"), fig(r, "cred_ns")),
                       &first);
        fprintf(f, "}, \"fraction_of_cable\": {");
        first = true;
        if (r == R_RR_UCS) {
            for (int i = 0; i < 3; i++)
                json_ratio(f, names[i], ratio(fig(R_RAW, keys[i]), fig(r, keys[i])), &first);
        }
    } else if (r == R_BULK_UCS) {
        json_ratio(f, "kernel-tcp-loopback", ratio(fig(r, "gbps"), fig(R_BULK_KTCP, "gbps")), &first);
        json_ratio(f, "kernel-unix", ratio(fig(r, "gbps"), fig(R_BULK_KUNIX, "gbps")), &first);
        fprintf(f, "}, \"fraction_of_cable\": {");
        first = true;
        json_ratio(f, "gbps", ratio(fig(r, "gbps"), fig(R_RAW, "gbps")), &first);
    } else if (r == R_CONN_UCS || r == R_CONN_UCS_NOCRED) {
        json_ratio(f, "kernel-tcp-loopback", ratio(fig(r, "conn_per_s"), fig(R_CONN_KTCP, "conn_per_s")), &first);
        if (r == R_CONN_UCS) {
            json_ratio(f, "credentials_on_over_off", ratio(fig(r, "conn_per_s"), fig(R_CONN_UCS_NOCRED, "conn_per_s")),
                       &first);
            json_ratio(f, "credentials_cost_us_per_conn",
                       fig(r, "us_per_conn") - fig(R_CONN_UCS_NOCRED, "us_per_conn"), &first);
        }
    } else if (r == R_CONC_UCS) {
        json_ratio(f, "kernel-tcp-loopback_tps", ratio(fig(r, "tps"), fig(R_CONC_KTCP, "tps")), &first);
        json_ratio(f, "kernel-tcp-loopback_p99", ratio(fig(R_CONC_KTCP, "p99_ns"), fig(r, "p99_ns")), &first);
    }
    fputc('}', f);
}

static void write_json(const char *path, bool quick)
{
    FILE *f = fopen(path, "w");
    time_t now = time(NULL);
    char date[64];
    if (!f) {
        fprintf(stderr, "ucstack-bench: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\n  \"tool\": \"ucstack-bench\",\n  \"mode\": \"%s\",\n  \"date\": \"%s\",\n", quick ? "quick" : "full",
            date);
    fprintf(f, "  \"machine\": {\"cpu_model\": ");
    json_str(f, cpu_model);
    fprintf(f, ", \"cores\": %ld, \"kernel\": ", ncores);
    json_str(f, kernel_release);
    fprintf(f, "},\n  \"dpdk_version\": ");
    json_str(f, bench_dpdk_version());
    fprintf(f, ",\n  \"dpdk_pkgconfig_version\": \"%s\",\n  \"lwip_version\": \"%s\",\n", BENCH_DPDK_PKG_VERSION,
            LWIP_VERSION_STRING);
    fprintf(f, "  \"hugepages\": %s,\n  \"cores_used\": {\"server\": %d, \"client\": %d},\n",
            bench_use_hugepages ? "true" : "false", server_core, client_core);
    fprintf(f, "  \"ucstack_rr_client\": \"%s\",\n",
            busy_client ? "busy-poll non-blocking ucs_recv + ucs_stack_poll" : "blocking ucs_send/ucs_recv");
    fprintf(f, "  \"conn_close\": \"client closes first with SO_LINGER {1,0} (reset), both stacks\",\n");
    fprintf(f, "  \"retries\": %d,\n  \"wait_quiet_seconds\": %g,\n", retries, wait_quiet_s);
    fprintf(f, "  \"sizes\": {\"rr_round_trips\": %llu, \"rr_warmup\": %llu, \"bulk_bytes\": %llu, \"bulk_warmup_bytes\": "
               "%llu, \"connections\": %llu, \"conn_warmup\": %llu, \"cred_calls_per_batch\": %llu, \"cred_batches\": %d, "
               "\"raw_pings\": %llu, \"raw_stream_bytes\": %llu, \"conc_connections\": %u, \"conc_transactions\": %llu, "
               "\"conc_warmup\": %llu},\n",
            (unsigned long long)sz->rr_count, (unsigned long long)sz->rr_warm, (unsigned long long)sz->bulk_bytes,
            (unsigned long long)sz->bulk_warm, (unsigned long long)sz->conn_count, (unsigned long long)sz->conn_warm,
            (unsigned long long)sz->cred_calls, sz->cred_batches, (unsigned long long)sz->raw_count,
            (unsigned long long)sz->raw_bytes, CONC_CONNS, (unsigned long long)sz->conc_count,
            (unsigned long long)sz->conc_warm);
    fprintf(f, "  \"records\": [\n");
    for (int r = 0; r < N_REC; r++) {
        fprintf(f, "    {\"scenario\": \"%s\", \"transport\": \"%s\", \"side\": \"%s\", \"description\": ",
                recs[r].scenario, recs[r].transport, recs[r].side);
        json_str(f, recs[r].what);
        fprintf(f, ", \"status\": \"%s\", \"error\": ", !recs[r].ran ? "not run" : recs[r].ok ? "ok" : "failed");
        if (recs[r].ran && !recs[r].ok)
            json_str(f, recs[r].err);
        else
            fprintf(f, "null");
        fprintf(f, ", \"attempts\": %d, \"first_attempt_error\": ", recs[r].attempts);
        if (recs[r].first_err[0])
            json_str(f, recs[r].first_err);
        else
            fprintf(f, "null");
        fprintf(f, ", \"seconds\": %.2f, \"others_cpu_cores\": %.3f, \"client\": ", recs[r].seconds,
                recs[r].others_cores);
        json_kv(f, recs[r].ok ? recs[r].client : "");
        fprintf(f, ", \"server\": ");
        json_kv(f, recs[r].ok ? recs[r].server : "");
        if (!strcmp(recs[r].side, "ucstack"))
            json_ratios(f, r);
        fprintf(f, "},\n");
    }
    /* Scenario 4 as its own record, from the request/response runs' connections. */
    fprintf(f, "    {\"scenario\": \"cred\", \"transport\": \"ucstack-virtio\", \"side\": \"ucstack\", \"description\": "
               "\"getpeerucred() with a reused ucred_t on a connected ucstack socket\", \"status\": \"%s\", \"figures\": "
               "{\"ns_per_call\": ",
            recs[R_RR_UCS].ok ? "ok" : "failed");
    json_num(f, fig(R_RR_UCS, "cred_ns"));
    fprintf(f, "}, \"ratio_vs_kernel\": {\"kernel-unix-so_peercred\": ");
    json_num(f, ratio(fig(R_RR_KUNIX, "cred_ns"), fig(R_RR_UCS, "cred_ns")));
    fprintf(f, "}},\n    {\"scenario\": \"cred\", \"transport\": \"kernel-unix\", \"side\": \"kernel\", \"description\": "
               "\"getsockopt(SO_PEERCRED) on a connected AF_UNIX socket\", \"status\": \"%s\", \"figures\": "
               "{\"ns_per_call\": ",
            recs[R_RR_KUNIX].ok ? "ok" : "failed");
    json_num(f, fig(R_RR_KUNIX, "cred_ns"));
    fprintf(f, ", \"getpeerucred_ns_per_call\": ");
    json_num(f, fig(R_RR_KUNIX, "kernel_getpeerucred_ns"));
    fprintf(f, "}},\n");
    local_bench_json(f);
    fprintf(f, "  ]\n}\n");
    fclose(f);
    fprintf(stderr, "ucstack-bench: wrote %s\n", path);
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    if (!path)
        return false;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p += n;
        if (*p == ':')
            p++;
    }
    return false;
}

static void plot_bars(FILE *gp, const char *dir, const char *name, const char *title, const char *ylabel,
                      const char *dat, bool logscale)
{
    fprintf(gp, "set output '%s/%s.png'\nset title '%s'\nset ylabel '%s'\n%s\n", dir, name, title, ylabel,
            logscale ? "set logscale y" : "unset logscale y");
    fprintf(gp, "plot '%s/%s' using 2:xtic(1) title columnheader(2)%s\n", dir, dat,
            strstr(name, "rtt") ? ", '' using 3 title columnheader(3), '' using 4 title columnheader(4)" : "");
}

static void write_plots(const char *dir)
{
    char path[PATH_MAX];
    FILE *f, *gp;
    static const int rr[] = {R_RAW, R_RR_UCS, R_RR_INPROC, R_RR_KTCP, R_RR_KUNIX};
    static const char *rr_names[] = {"raw-DPDK", "ucstack-virtio", "ucstack-1proc", "kernel-TCP", "kernel-unix"};

    if (!in_path("gnuplot")) {
        fprintf(stderr, "ucstack-bench: gnuplot is not installed: no plots written (apt-get install gnuplot-nox)\n");
        return;
    }
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/rtt.dat", dir);
    if (!(f = fopen(path, "w")))
        goto fail;
    fprintf(f, "transport p50 p99 p99.9\n");
    for (int i = 0; i < 5; i++)
        fprintf(f, "%s %g %g %g\n", rr_names[i], fig(rr[i], "p50_ns") / 1e3, fig(rr[i], "p99_ns") / 1e3,
                fig(rr[i], "p999_ns") / 1e3);
    fclose(f);
    snprintf(path, sizeof(path), "%s/bulk.dat", dir);
    if (!(f = fopen(path, "w")))
        goto fail;
    fprintf(f, "transport Gbit/s\nraw-DPDK %g\nucstack-virtio %g\nkernel-TCP %g\nkernel-unix %g\n", fig(R_RAW, "gbps"),
            fig(R_BULK_UCS, "gbps"), fig(R_BULK_KTCP, "gbps"), fig(R_BULK_KUNIX, "gbps"));
    fclose(f);
    snprintf(path, sizeof(path), "%s/conn.dat", dir);
    if (!(f = fopen(path, "w")))
        goto fail;
    fprintf(f, "transport conn/s\nucstack-cred-on %g\nucstack-cred-off %g\nkernel-TCP %g\n",
            fig(R_CONN_UCS, "conn_per_s"), fig(R_CONN_UCS_NOCRED, "conn_per_s"), fig(R_CONN_KTCP, "conn_per_s"));
    fclose(f);
    snprintf(path, sizeof(path), "%s/cred.dat", dir);
    if (!(f = fopen(path, "w")))
        goto fail;
    fprintf(f, "call ns\ngetpeerucred(ucstack) %g\nSO_PEERCRED(unix) %g\ngetpeerucred(unix) %g\n",
            fig(R_RR_UCS, "cred_ns"), fig(R_RR_KUNIX, "cred_ns"), fig(R_RR_KUNIX, "kernel_getpeerucred_ns"));
    fclose(f);
    snprintf(path, sizeof(path), "%s/plots.gp", dir);
    if (!(gp = fopen(path, "w")))
        goto fail;
    fprintf(gp, "set terminal pngcairo size 900,500 noenhanced\nset style data histograms\n"
                "set style histogram clustered gap 1\nset style fill solid 0.8 border -1\nset key top left\n"
                "set grid ytics\nset yrange [*:*]\n");
    plot_bars(gp, dir, "rtt", "64-byte request/response round trip (lower is better)", "microseconds", "rtt.dat", true);
    plot_bars(gp, dir, "bulk", "one connection, one way (higher is better)", "Gbit/s", "bulk.dat", false);
    plot_bars(gp, dir, "conn", "connect + 64 B RR + close (higher is better)", "connections/s", "conn.dat", false);
    plot_bars(gp, dir, "cred", "reading the peer credentials (lower is better)", "ns per call", "cred.dat", true);
    fclose(gp);
    {
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", path);
        if (system(cmd) != 0)
            fprintf(stderr, "ucstack-bench: gnuplot failed: no plots\n");
        else
            fprintf(stderr, "ucstack-bench: plots in %s (rtt.png, bulk.png, conn.png, cred.png)\n", dir);
    }
    return;
fail:
    fprintf(stderr, "ucstack-bench: cannot write %s: %s\n", path, strerror(errno));
}

/* ------------------------------------------------------------------ main */

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
    return bench_role_main(&a);
}

static bool wanted(const char *only, const char *what)
{
    size_t n = strlen(what);
    if (!only)
        return true;
    for (const char *p = only; (p = strstr(p, what)); p += n) {
        if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ucstack-bench [--quick] [--json PATH] [--plot DIR] [--only raw,rr,bulk,conn,conc,local]\n"
            "                     [--server-core N] [--client-core N] [--busy-client] [--huge] [--huge-dir DIR]\n"
            "                     [--retries N] [--wait-quiet SECONDS]\n"
            "  --quick        small sizes: the whole suite in under a minute\n"
            "  --json PATH    write the records there\n"
            "  --plot DIR     PNGs with gnuplot, if it is installed\n"
            "  --busy-client  ucstack RR client: non-blocking ucs_recv + ucs_stack_poll, not blocking calls\n"
            "  --huge         run DPDK on hugepages (--single-file-segments), not --no-huge\n"
            "  --huge-dir DIR the same, on the hugetlbfs mounted at DIR\n"
            "  --retries N    run a failed scenario again up to N times (default 1); the failure is still reported\n"
            "  --wait-quiet S before each run, wait up to S seconds for the rest of the machine to go idle\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
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
    const char *json = NULL, *plot = NULL, *only = NULL;
    bool quick = false;
    uint64_t t0 = bench_now_ns();
    ssize_t n;
    int opt, failed = 0, local_runs = 0;

    if (argc > 1 && !strcmp(argv[1], "--role"))
        return role_main(argc, argv);
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'q': quick = true; break;
        case 'j': json = optarg; break;
        case 'p': plot = optarg; break;
        case 'o': only = optarg; break;
        case 's': server_core = atoi(optarg); break;
        case 'c': client_core = atoi(optarg); break;
        case 'b': busy_client = true; break;
        case 'H': bench_use_hugepages = true; break;
        case 'D': bench_use_hugepages = true; bench_huge_dir = optarg; break;
        case 'R': retries = atoi(optarg); break;
        case 'W': wait_quiet_s = atof(optarg); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    sz = quick ? &quick_sizes : &full_sizes;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    machine();
    if (server_core == client_core || server_core >= ncores || client_core >= ncores)
        fprintf(stderr, "ucstack-bench: warning: server core %d, client core %d on a %ld-core machine: "
                        "busy-polling processes will share a core\n", server_core, client_core, ncores);
    n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0) {
        perror("ucstack-bench: /proc/self/exe");
        return 1;
    }
    self_exe[n] = '\0';
    snprintf(run_dir, sizeof(run_dir), "/tmp/ucstack-bench-XXXXXX");
    if (!mkdtemp(run_dir)) {
        perror("ucstack-bench: mkdtemp");
        return 1;
    }
    fprintf(stderr, "ucstack-bench: %s mode, %s; server core %d, client core %d; DPDK %s, lwIP %s\n",
            quick ? "quick" : "full",
            bench_use_hugepages ? "DPDK on hugepages (--single-file-segments)"
                                : "DPDK in hugepage-free mode (--no-huge: virtio-user/vhost-user share file-backed "
                                  "memory, no root or reserved pages needed)",
            server_core, client_core, dpdk_number(), LWIP_VERSION_STRING);

    nsteps = (wanted(only, "raw") ? 1 : 0) + (wanted(only, "rr") ? 4 : 0) + (wanted(only, "bulk") ? 3 : 0) +
             (wanted(only, "conn") ? 3 : 0) + (wanted(only, "conc") ? 2 : 0);
    if (wanted(only, "raw"))
        do_raw();
    if (wanted(only, "rr")) {
        do_rr(R_RR_UCS, "ucs-server", "ucs-client", NULL, true, true);
        do_rr(R_RR_INPROC, NULL, "ucs-inproc", NULL, true, false);
        do_rr(R_RR_KTCP, "k-server", "k-client", "tcp", false, false);
        do_rr(R_RR_KUNIX, "k-server", "k-client", "unix", false, true);
    }
    if (wanted(only, "bulk")) {
        do_bulk(R_BULK_UCS, "ucs-server", "ucs-client", NULL, true);
        do_bulk(R_BULK_KTCP, "k-server", "k-client", "tcp", false);
        do_bulk(R_BULK_KUNIX, "k-server", "k-client", "unix", false);
    }
    if (wanted(only, "conn")) {
        do_conn(R_CONN_UCS, "ucs-server", "ucs-client", true, false);
        do_conn(R_CONN_UCS_NOCRED, "ucs-server", "ucs-client", true, true);
        do_conn(R_CONN_KTCP, "k-server", "k-client", false, false);
    }
    if (wanted(only, "conc")) {
        do_conc(R_CONC_UCS, "ucs-server", "ucs-client", true);
        do_conc(R_CONC_KTCP, "k-server", "k-client", false);
    }
    if (wanted(only, "local"))
        failed += local_bench_run(run_dir, quick, server_core, client_core, &local_runs);
    print_table(quick);
    local_bench_print();
    fflush(stdout);
    if (json)
        write_json(json, quick);
    if (plot)
        write_plots(plot);
    for (int r = 0; r < N_REC; r++)
        failed += recs[r].ran && !recs[r].ok;
    if (failed)
        fprintf(stderr, "ucstack-bench: the failed runs' stderr is kept in %s\n", run_dir);
    else
        nftw(run_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    fprintf(stderr, "ucstack-bench: %d of %d runs failed; %.1f s in all\n", failed, step + local_runs,
            (double)(bench_now_ns() - t0) / 1e9);
    if (stop_requested) {
        fprintf(stderr, "ucstack-bench: stopped by signal %d\n", (int)stop_requested);
        return 128 + stop_requested;
    }
    return failed ? 1 : 0;
}
