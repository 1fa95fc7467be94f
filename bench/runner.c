/* ucstack-bench's runner (runner.h). */
#include "runner.h"

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <sys/wait.h>
#include <unistd.h>

struct runner_config runner = {.server_core = 0, .client_core = 1, .timeout_s = 300};

static char self_exe[PATH_MAX];
static char run_dir[256];

/* The value of key=... in a "k=v k=v" line, or NAN. */
double kv(const char *line, const char *key)
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

void run_fail(struct run *r, const char *fmt, ...)
{
    va_list ap;
    if (!r->ok)
        return; /* the first failure is the one that counts */
    r->ok = false;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
}

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

static void judge(struct run *r, struct child *ch)
{
    char tail[600];
    if (!ch || ch->pid <= 0)
        return;
    if (ch->fail[0]) {
        run_fail(r, "%s: %s", ch->name, ch->fail);
        return;
    }
    err_tail(ch, tail, sizeof(tail));
    if (ch->status == -1)
        run_fail(r, "%s: lost", ch->name);
    else if (WIFSIGNALED(ch->status))
        run_fail(r, "%s: %s by signal %d%s", ch->name, ch->killed ? "stopped (by us)" : "killed", WTERMSIG(ch->status),
                 tail);
    else if (WEXITSTATUS(ch->status) != 0)
        run_fail(r, "%s: exit status %d%s", ch->name, WEXITSTATUS(ch->status), tail);
    else if (!ch->result[0])
        run_fail(r, "%s: no result%s", ch->name, tail);
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
    if (runner.wait_quiet_s <= 0)
        return;
    while (!stop_requested && (busy = others_now(0.5)) > BUSY_CORES) {
        if ((double)(bench_now_ns() - t0) / 1e9 > runner.wait_quiet_s) {
            fprintf(stderr, "(still %.2f cores busy after %.0f s: running anyway) ", busy, runner.wait_quiet_s);
            return;
        }
        if (!said)
            fprintf(stderr, "(waiting for the machine to go quiet: %.2f cores busy) ", busy);
        said = true;
    }
}

void runner_run(struct run *r, const struct job *j)
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
    deadline = t0 + (uint64_t)runner.timeout_s * 1000000000ull;
    busy0 = machine_busy_s();
    self0 = self_cpu_s();

    memset(&srv, 0, sizeof(srv));
    memset(&cli, 0, sizeof(cli));
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
        common_args(&b, j, j->server_role, runner.server_core, srv.prefix, path);
        /* The kernel's listener takes a free port and says which; ucstack's has the stack to itself. */
        arg(&b, "--port=%d", strncmp(j->server_role, "k-", 2) ? 5000 : 0);
        if (spawn(&srv, &b) != 0) {
            run_fail(r, "cannot start the server: %s", strerror(errno));
            goto out;
        }
        active[1] = &srv;
        /* The vhost side's socket (or the kernel's listener) exists before the client starts. */
        if (!wait_children((struct child *[]){&srv}, 1, bench_now_ns() + 30000000000ull, true)) {
            reap(&srv, 0);
            judge(r, &srv);
            run_fail(r, "the server did not get ready");
            goto out;
        }
    }
    memset(&b, 0, sizeof(b));
    common_args(&b, j, j->client_role, runner.client_core, cli.prefix, path);
    if (two) {
        double port = kv(srv.ready_line, "port"), pid = kv(srv.ready_line, "pid");
        arg(&b, "--port=%d", isnan(port) ? 5000 : (int)port);
        arg(&b, "--peer-pid=%ld", isnan(pid) ? 0L : (long)pid);
    } else {
        arg(&b, "--port=5000");
    }
    if (j->calls) {
        arg(&b, "--calls=%llu", (unsigned long long)j->calls);
        arg(&b, "--batches=%d", j->batches);
    }
    if (runner.busy_client)
        arg(&b, "--busy");
    if (spawn(&cli, &b) != 0) {
        run_fail(r, "cannot start the client: %s", strerror(errno));
        reap(&srv, 0);
        goto out;
    }
    active[0] = &cli;
    if (!wait_children(both, two ? 2 : 1, deadline, false)) {
        char ts[600], tc[600];
        err_tail(&srv, ts, sizeof(ts));
        err_tail(&cli, tc, sizeof(tc));
        run_fail(r, "timed out after %u s; still running:%s%s%s%s", runner.timeout_s, two && !srv.eof ? " server" : "",
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
        run_fail(r, "interrupted (signal %d)", (int)stop_requested);
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

int runner_stopped(void)
{
    return (int)stop_requested;
}

const char *runner_dir(void)
{
    return run_dir;
}

int runner_init(void)
{
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (n <= 0) {
        perror("ucstack-bench: /proc/self/exe");
        return -1;
    }
    self_exe[n] = '\0';
    snprintf(run_dir, sizeof(run_dir), "/tmp/ucstack-bench-XXXXXX");
    if (!mkdtemp(run_dir)) {
        perror("ucstack-bench: mkdtemp");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    return 0;
}

void runner_done(bool keep)
{
    if (keep)
        fprintf(stderr, "ucstack-bench: the failed runs' stderr is kept in %s\n", run_dir);
    else
        nftw(run_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
