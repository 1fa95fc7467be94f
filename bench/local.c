/*
 * The local-sockets scenario: ucstack's local stream sockets against kernel
 * AF_UNIX stream sockets, the same code on both (only the calls differ), two
 * processes forked from the orchestrator (no DPDK in either), the server
 * pinned to one core and the client to another, stopped by PID.
 *
 *   rr:   64-byte request/response, blocking calls, latency per round trip
 *   bulk: one-way stream in 64 KiB writes, the server's byte count checked
 *
 * The client also reports its voluntary context switches per message: the
 * times it slept in the kernel (local sockets sleep only when idle).
 */
#include "local.h"

#include "bench.h"

#include <ucstack/socket.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define RR_SIZE 64
#define BULK_CHUNK (64 * 1024)
#define RUN_TIMEOUT_MS 120000

static const struct netops apis[2] = {
    {.socket = ucs_socket,
     .bind = ucs_bind,
     .listen = ucs_listen,
     .accept = ucs_accept,
     .connect = ucs_connect,
     .send = ucs_send,
     .recv = ucs_recv,
     .shutdown = ucs_shutdown,
     .close = ucs_close},
    {.socket = socket,
     .bind = bind,
     .listen = listen,
     .accept = accept,
     .connect = connect,
     .send = send,
     .recv = recv,
     .shutdown = shutdown,
     .close = close},
};
static const char *const api_names[2] = {"ucstack-local", "kernel-unix"};

enum { RR, BULK, NMODES };
static const char *const mode_names[NMODES] = {"rr", "bulk"};

struct local_rec {
    bool ran, ok;
    char result[512]; /* the client's "k=v ..." line, or why it failed */
};
static struct local_rec recs[BENCH_MAX_ROUNDS][NMODES][2];
static int nrounds;

struct sizes {
    uint64_t rr_count, rr_warm, bulk_bytes, bulk_warm;
};
static struct sizes sz;

static void die(int out, const char *what)
{
    dprintf(out, "fail %s: %s\n", what, strerror(errno));
    _exit(1);
}

static void full_recv(const struct netops *api, int fd, char *buf, size_t len, int out)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = api->recv(fd, buf + got, len - got, 0);
        if (n <= 0)
            die(out, "recv");
        got += (size_t)n;
    }
}

static void server(const struct netops *api, const char *path, int mode, int core, int out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    static char buf[BULK_CHUNK];
    uint64_t total = 0;
    int l, c;
    ssize_t n;

    if (strlen(path) >= sizeof(sun.sun_path))
        die(out, "path too long");
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (bench_pin(core) != 0)
        die(out, "pin");
    if ((l = api->socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || api->bind(l, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        api->listen(l, 4) != 0)
        die(out, "listen");
    dprintf(out, "ready\n");
    if ((c = api->accept(l, NULL, NULL)) < 0)
        die(out, "accept");
    if (mode == RR) {
        for (;;) {
            if ((n = api->recv(c, buf, RR_SIZE, MSG_WAITALL)) == 0)
                break;
            if (n != RR_SIZE || api->send(c, buf, RR_SIZE, 0) != RR_SIZE)
                die(out, "echo");
        }
    } else {
        while ((n = api->recv(c, buf, sizeof(buf), 0)) > 0)
            total += (uint64_t)n;
        if (n < 0 || api->send(c, &total, sizeof(total), 0) != sizeof(total))
            die(out, "count");
    }
    api->close(c);
    api->close(l);
    _exit(0);
}

static long sleeps(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

static void client(const struct netops *api, const char *path, int mode, int core, int out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    static char buf[BULK_CHUNK];
    char line[256];
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path))
        die(out, "path too long");
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (bench_pin(core) != 0)
        die(out, "pin");
    if ((fd = api->socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || api->connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
        die(out, "connect");
    if (mode == RR) {
        uint32_t *ns = malloc(sz.rr_count * sizeof(*ns));
        struct lat_summary s;
        long before = 0;
        if (!ns)
            die(out, "malloc");
        for (uint64_t i = 0; i < sz.rr_warm + sz.rr_count; i++) {
            uint64_t t = bench_now_ns();
            if (i == sz.rr_warm)
                before = sleeps();
            memcpy(buf, &i, sizeof(i));
            if (api->send(fd, buf, RR_SIZE, 0) != RR_SIZE)
                die(out, "send");
            full_recv(api, fd, buf, RR_SIZE, out);
            if (memcmp(buf, &i, sizeof(i)) != 0) {
                dprintf(out, "fail echo mismatch at %llu\n", (unsigned long long)i);
                _exit(1);
            }
            if (i >= sz.rr_warm)
                ns[i - sz.rr_warm] = (uint32_t)(bench_now_ns() - t);
        }
        bench_lat_summarize(ns, sz.rr_count, &s);
        bench_lat_format(&s, line, sizeof(line));
        dprintf(out, "result %s sleeps_per_rt=%.4f\n", line, (double)(sleeps() - before) / (double)sz.rr_count);
    } else {
        uint64_t sent = 0, total = sz.bulk_warm + sz.bulk_bytes, t = 0, counted = 0;
        long before = 0;
        memset(buf, 0x5a, sizeof(buf));
        while (sent < total) {
            size_t len = total - sent < sizeof(buf) ? (size_t)(total - sent) : sizeof(buf);
            ssize_t n;
            if (sent >= sz.bulk_warm && !t) {
                t = bench_now_ns();
                before = sleeps();
            }
            if ((n = api->send(fd, buf, len, 0)) <= 0)
                die(out, "send");
            sent += (uint64_t)n;
        }
        api->shutdown(fd, SHUT_WR);
        full_recv(api, fd, (char *)&counted, sizeof(counted), out);
        t = bench_now_ns() - t;
        if (counted != total) {
            dprintf(out, "fail the server counted %llu bytes of %llu\n", (unsigned long long)counted,
                    (unsigned long long)total);
            _exit(1);
        }
        dprintf(out, "result gbit_s=%.3f bytes=%llu sleeps_per_write=%.4f\n", (double)sz.bulk_bytes * 8 / (double)t,
                (unsigned long long)sz.bulk_bytes, (double)(sleeps() - before) / (double)(sz.bulk_bytes / BULK_CHUNK));
    }
    api->close(fd);
    _exit(0);
}

/* A child running fn, its stdout the write end of a pipe the parent reads lines from. */
static pid_t start(void (*fn)(const struct netops *, const char *, int, int, int), const struct netops *api,
                   const char *path, int mode, int core, FILE **from)
{
    int p[2];
    pid_t pid;
    if (pipe(p) != 0)
        return -1;
    if ((pid = fork()) == 0) {
        close(p[0]);
        fn(api, path, mode, core, p[1]);
    }
    close(p[1]);
    *from = fdopen(p[0], "r");
    return pid;
}

/* The child's next line, within the run's time; false when it ended or took too long. */
static bool next_line(FILE *from, char *line, size_t len)
{
    struct pollfd p = {fileno(from), POLLIN, 0};
    if (poll(&p, 1, RUN_TIMEOUT_MS) != 1 || !fgets(line, (int)len, from))
        return false;
    line[strcspn(line, "\n")] = '\0';
    return true;
}

static void stop(pid_t pid)
{
    int status;
    if (pid <= 0)
        return;
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
}

static void run(int round, int mode, int side, const char *run_dir, int server_core, int client_core)
{
    struct local_rec *r = &recs[round][mode][side];
    char path[256], line[512] = "";
    FILE *sf = NULL, *cf = NULL;
    pid_t spid, cpid = -1;

    snprintf(path, sizeof(path), "%s/local-%s-%s.sock", run_dir, mode_names[mode], api_names[side]);
    r->ran = true;
    fprintf(stderr, "[local] round %d %-4s %-14s ", round + 1, mode_names[mode], api_names[side]);
    spid = start(server, &apis[side], path, mode, server_core, &sf);
    if (spid > 0 && next_line(sf, line, sizeof(line)) && !strcmp(line, "ready")) {
        cpid = start(client, &apis[side], path, mode, client_core, &cf);
        if (cpid > 0 && next_line(cf, line, sizeof(line)) && !strncmp(line, "result ", 7)) {
            r->ok = true;
            snprintf(r->result, sizeof(r->result), "%s", line + 7);
        }
    }
    if (!r->ok)
        snprintf(r->result, sizeof(r->result), "%s", line[0] ? line : "no answer");
    /* The server ends when the client has closed: its pipe then reads EOF, or a failure. */
    if (r->ok && next_line(sf, line, sizeof(line))) {
        r->ok = false;
        snprintf(r->result, sizeof(r->result), "the server: %s", line);
    }
    stop(cpid);
    stop(spid);
    if (sf)
        fclose(sf);
    if (cf)
        fclose(cf);
    unlink(path);
    fprintf(stderr, "%s\n", r->ok ? "ok" : r->result);
}

static double kv_of(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key) + 1, NULL) : NAN;
}

/* The median of the rounds of one mode and side, and their spread (min, max: NULL if not wanted). */
static double value_spread(int mode, int side, const char *key, double *min, double *max);

struct which {
    int mode, side;
};

/* value_spread as json_figures asks for it. */
static double figure_of(const char *key, double *min, double *max, void *arg)
{
    const struct which *w = arg;
    return value_spread(w->mode, w->side, key, min, max);
}

static double value_spread(int mode, int side, const char *key, double *min, double *max)
{
    double v[BENCH_MAX_ROUNDS];
    int n = 0;
    if (min)
        *min = NAN;
    if (max)
        *max = NAN;
    for (int i = 0; i < nrounds; i++) {
        if (!recs[i][mode][side].ok)
            return NAN; /* a failed round fails the figure */
        v[n] = kv_of(recs[i][mode][side].result, key);
        if (min && (isnan(*min) || v[n] < *min))
            *min = v[n];
        if (max && (isnan(*max) || v[n] > *max))
            *max = v[n];
        n++;
    }
    return n ? bench_median(v, n) : NAN;
}

static double value(int mode, int side, const char *key)
{
    return value_spread(mode, side, key, NULL, NULL);
}

int local_bench_run(const char *run_dir, bool quick, int rounds, int server_core, int client_core, int *runs)
{
    struct sizes full = {200000, 20000, 2ull << 30, 256ull << 20}, small = {20000, 2000, 512ull << 20, 64ull << 20};
    int failed = 0;

    sz = quick ? small : full;
    nrounds = rounds < BENCH_MAX_ROUNDS ? rounds : BENCH_MAX_ROUNDS;
    for (int round = 0; round < nrounds; round++)
        for (int mode = 0; mode < NMODES; mode++)
            for (int side = 0; side < 2; side++) {
                run(round, mode, side, run_dir, server_core, client_core);
                failed += !recs[round][mode][side].ok;
            }
    *runs = nrounds * NMODES * 2;
    return failed;
}

/* A cell: the median, and the spread when there are rounds to spread. */
static void figure(char *out, size_t len, int mode, int side, const char *key, const char *fmt)
{
    double mn, mx, v = value_spread(mode, side, key, &mn, &mx);
    if (nrounds < 2)
        mn = mx = NAN;
    if (!recs[0][mode][side].ok && recs[0][mode][side].ran)
        snprintf(out, len, "FAILED");
    else
        fmt_figure(out, len, v, mn, mx, fmt, "");
}

bool local_bench_table(struct table *t, int rounds)
{
    static const char *header[] = {"figure", "ucstack-local", "kernel-unix", "ratio"};
    static const struct {
        const char *name, *key, *fmt, *ratio;
        int mode;
        bool kernel_over_ucs;
    } rows[] = {{"RR 64 B p50 (ns)", "p50_ns", "%.0f", "x faster (kernel/ucs)", RR, true},
                {"RR 64 B p99 (ns)", "p99_ns", "%.0f", "x faster (kernel/ucs)", RR, true},
                {"bulk (Gbit/s)", "gbit_s", "%.2f", "x (ucs/kernel)", BULK, false},
                {"client sleeps per RR", "sleeps_per_rt", "%.4f", NULL, RR, false}};
    (void)rounds;
    if (!recs[0][RR][0].ran && !recs[0][BULK][0].ran)
        return false;
    table_init(t, "local_table", 4, header);
    snprintf(t->title, sizeof(t->title),
             "Local sockets (ucstack-local vs kernel AF_UNIX stream, 2 processes, blocking calls; median of %d "
             "round%s (min-max)):",
             nrounds, nrounds == 1 ? "" : "s");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char u[CELL], k[CELL], r[CELL];
        double uv = value(rows[i].mode, 0, rows[i].key), kv = value(rows[i].mode, 1, rows[i].key);
        const char *cells[] = {rows[i].name, u, k, r};
        figure(u, sizeof(u), rows[i].mode, 0, rows[i].key, rows[i].fmt);
        figure(k, sizeof(k), rows[i].mode, 1, rows[i].key, rows[i].fmt);
        if (!rows[i].ratio)
            snprintf(r, sizeof(r), "kernel sleeps in recv");
        else if (isnan(uv) || isnan(kv))
            snprintf(r, sizeof(r), "-");
        else
            snprintf(r, sizeof(r), "%.2f%s", rows[i].kernel_over_ucs ? kv / uv : uv / kv, rows[i].ratio);
        table_row(t, cells);
    }
    return true;
}

void local_bench_json(struct json *j)
{
    for (int mode = 0; mode < NMODES; mode++)
        for (int side = 0; side < 2; side++) {
            struct local_rec *r = &recs[0][mode][side];
            bool ok = r->ran;
            for (int i = 0; i < nrounds; i++)
                ok = ok && recs[i][mode][side].ok;
            json_obj(j, NULL);
            json_str(j, "scenario", "local-sockets");
            json_str(j, "mode", mode_names[mode]);
            json_str(j, "transport", api_names[side]);
            json_str(j, "side", side ? "kernel" : "ucstack");
            json_str(j, "status", !r->ran ? "not run" : ok ? "ok" : "failed");
            json_int(j, "rounds", r->ran ? nrounds : 0);
            /* The medians of the rounds, with the keys of the first round's line. */
            json_obj(j, "figures");
            if (r->ok) {
                struct which w = {mode, side};
                json_figures(j, r->result, figure_of, &w);
            }
            json_close(j);
            json_arr(j, "per_round");
            for (int i = 0; i < (r->ran ? nrounds : 0); i++) {
                json_obj(j, NULL);
                json_str(j, "status", recs[i][mode][side].ok ? "ok" : "failed");
                if (recs[i][mode][side].ok)
                    json_kv_line(j, "client", recs[i][mode][side].result);
                else
                    json_str(j, "error", recs[i][mode][side].result);
                json_close(j);
            }
            json_close(j);
            if (side == 0 && mode == RR) {
                json_obj(j, "ratio_vs_kernel");
                json_num(j, "p50_latency", value(RR, 1, "p50_ns") / value(RR, 0, "p50_ns"));
                json_num(j, "p99_latency", value(RR, 1, "p99_ns") / value(RR, 0, "p99_ns"));
                json_close(j);
            } else if (side == 0) {
                json_obj(j, "ratio_vs_kernel");
                json_num(j, "throughput", value(BULK, 0, "gbit_s") / value(BULK, 1, "gbit_s"));
                json_close(j);
            }
            json_close(j);
        }
}
