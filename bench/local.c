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
static struct local_rec recs[NMODES][2];

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

static void run(int mode, int side, const char *run_dir, int server_core, int client_core)
{
    struct local_rec *r = &recs[mode][side];
    char path[256], line[512] = "";
    FILE *sf = NULL, *cf = NULL;
    pid_t spid, cpid = -1;

    snprintf(path, sizeof(path), "%s/local-%s-%s.sock", run_dir, mode_names[mode], api_names[side]);
    r->ran = true;
    fprintf(stderr, "[local] %-4s %-14s ", mode_names[mode], api_names[side]);
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

static double value(int mode, int side, const char *key)
{
    const char *p;
    if (!recs[mode][side].ok || !(p = strstr(recs[mode][side].result, key)))
        return NAN;
    return strtod(p + strlen(key) + 1, NULL);
}

int local_bench_run(const char *run_dir, bool quick, int server_core, int client_core, int *runs)
{
    struct sizes full = {200000, 20000, 2ull << 30, 256ull << 20}, small = {20000, 2000, 512ull << 20, 64ull << 20};
    int failed = 0;

    sz = quick ? small : full;
    for (int mode = 0; mode < NMODES; mode++)
        for (int side = 0; side < 2; side++) {
            run(mode, side, run_dir, server_core, client_core);
            failed += !recs[mode][side].ok;
        }
    *runs = NMODES * 2;
    return failed;
}

void local_bench_print(void)
{
    double up50 = value(RR, 0, "p50_ns"), kp50 = value(RR, 1, "p50_ns");
    double up99 = value(RR, 0, "p99_ns"), kp99 = value(RR, 1, "p99_ns");
    double ug = value(BULK, 0, "gbit_s"), kg = value(BULK, 1, "gbit_s");

    if (!recs[RR][0].ran && !recs[BULK][0].ran)
        return;
    printf("\nLocal sockets (ucstack-local vs kernel AF_UNIX stream, 2 processes, blocking calls):\n");
    printf("| %-22s | %-13s | %-13s | %-28s |\n", "figure", "ucstack-local", "kernel-unix", "ratio");
    printf("| %-22s | %13.0f | %13.0f | %7.2fx faster (kernel/ucs) |\n", "RR 64 B p50 (ns)", up50, kp50, kp50 / up50);
    printf("| %-22s | %13.0f | %13.0f | %7.2fx faster (kernel/ucs) |\n", "RR 64 B p99 (ns)", up99, kp99, kp99 / up99);
    printf("| %-22s | %13.2f | %13.2f | %7.2fx (ucs/kernel)        |\n", "bulk (Gbit/s)", ug, kg, ug / kg);
    printf("| %-22s | %13.4f | %13.4f | %-28s |\n", "client sleeps per RR", value(RR, 0, "sleeps_per_rt"),
           value(RR, 1, "sleeps_per_rt"), "kernel sleeps in recv");
}

static void json_number(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "null");
    else
        fprintf(f, "%.6g", v);
}

void local_bench_json(FILE *f)
{
    for (int mode = 0; mode < NMODES; mode++)
        for (int side = 0; side < 2; side++) {
            struct local_rec *r = &recs[mode][side];
            fprintf(f,
                    "    {\"scenario\": \"local-sockets\", \"mode\": \"%s\", \"transport\": \"%s\", \"side\": \"%s\", ",
                    mode_names[mode], api_names[side], side ? "kernel" : "ucstack");
            fprintf(f, "\"status\": \"%s\", \"result\": \"%s\"",
                    !r->ran ? "not run"
                    : r->ok ? "ok"
                            : "failed",
                    r->ran ? r->result : "");
            if (side == 0 && mode == RR) {
                fprintf(f, ", \"ratio_vs_kernel\": {\"p50_latency\": ");
                json_number(f, value(RR, 1, "p50_ns") / value(RR, 0, "p50_ns"));
                fprintf(f, ", \"p99_latency\": ");
                json_number(f, value(RR, 1, "p99_ns") / value(RR, 0, "p99_ns"));
                fprintf(f, "}");
            } else if (side == 0) {
                fprintf(f, ", \"ratio_vs_kernel\": {\"throughput\": ");
                json_number(f, value(BULK, 0, "gbit_s") / value(BULK, 1, "gbit_s"));
                fprintf(f, "}");
            }
            fprintf(f, "}%s\n", mode == NMODES - 1 && side == 1 ? "" : ",");
        }
}
