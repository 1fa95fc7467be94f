/* ucstack-bench's scenarios (scenarios.h). */
#include "scenarios.h"

#include "bench.h"
#include "roles.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct sizes full_sizes = {
    100000, 10000, 4ull << 30, 256ull << 20, 100000, 1000, 1000000, 5, 100000, 10000, 4ull << 30, 300, 1000000, 100000,
};
static const struct sizes quick_sizes = {
    20000, 2000, 256ull << 20, 16ull << 20, 5000, 500, 200000, 5, 20000, 2000, 256ull << 20, 40, 100000, 20000,
};
const struct sizes *sz = &full_sizes;

#define REC(s, t, d, w)                                                                                                \
    {                                                                                                                  \
        .scenario = s, .transport = t, .side = d, .what = w                                                            \
    }
struct rec recs[N_REC] = {
    [R_RAW] = REC("raw", "raw-dpdk-virtio", "raw", "raw DPDK frames, virtio cable, 2 processes"),
    [R_RR_UCS] = REC("rr", "ucstack-virtio", "ucstack", "ucstack, virtio cable, 2 processes"),
    [R_RR_INPROC] = REC("rr", "ucstack-loopback-1proc", "ucstack", "ucstack, 127.0.0.1, 1 process"),
    [R_RR_KTCP] = REC("rr", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1, 2 processes"),
    [R_RR_KUNIX] = REC("rr", "kernel-unix", "kernel", "kernel AF_UNIX stream, 2 processes"),
    [R_BULK_UCS] = REC("bulk", "ucstack-virtio", "ucstack", "ucstack, virtio cable"),
    [R_BULK_KTCP] = REC("bulk", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1"),
    [R_BULK_KUNIX] = REC("bulk", "kernel-unix", "kernel", "kernel AF_UNIX stream"),
    [R_CONN_UCS] = REC("conn", "ucstack-virtio", "ucstack", "ucstack, virtio cable, credentials on"),
    [R_CONN_UCS_NOCRED] = REC("conn", "ucstack-virtio-nocred", "ucstack", "ucstack, virtio cable, credentials off"),
    [R_CONN_KTCP] = REC("conn", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1"),
    [R_CONC_UCS] = REC("conc", "ucstack-virtio", "ucstack", "ucstack, 10k connections, virtio cable"),
    [R_CONC_KTCP] = REC("conc", "kernel-tcp-loopback", "kernel", "kernel TCP 127.0.0.1, 10k connections"),
};

/* ------------------------------------------------------------- figures */

double fig_side(int r, bool client, const char *key, double *min, double *max)
{
    double v[BENCH_MAX_ROUNDS];
    int n = 0;
    for (int i = 0; i < recs[r].rounds; i++) {
        const struct run *run = &recs[r].round[i].run;
        double x = kv(client ? run->client : run->server, key);
        if (run->ok && !isnan(x))
            v[n++] = x;
    }
    if (min)
        *min = NAN;
    if (max)
        *max = NAN;
    if (!recs[r].ran || !recs[r].ok || n == 0)
        return NAN;
    for (int i = 0; i < n; i++) {
        if (min && (isnan(*min) || v[i] < *min))
            *min = v[i];
        if (max && (isnan(*max) || v[i] > *max))
            *max = v[i];
    }
    return bench_median(v, n);
}

double fig(int r, const char *key)
{
    double v = fig_side(r, true, key, NULL, NULL);
    return isnan(v) ? fig_side(r, false, key, NULL, NULL) : v;
}

bool fig_spread(int r, const char *key, double *min, double *max)
{
    double v = fig_side(r, true, key, min, max);
    if (isnan(v))
        v = fig_side(r, false, key, min, max);
    return !isnan(v) && recs[r].rounds > 1;
}

double rec_others(int r)
{
    double most = 0;
    for (int i = 0; i < recs[r].rounds; i++)
        if (recs[r].round[i].run.others_cores > most)
            most = recs[r].round[i].run.others_cores;
    return most;
}

double rec_seconds(int r)
{
    double s = 0;
    for (int i = 0; i < recs[r].rounds; i++)
        s += recs[r].round[i].run.seconds;
    return s;
}

/* ------------------------------------------------------------- progress */

static int nsteps, step, nrounds;

static void progress_start(int r)
{
    fprintf(stderr, "[%2d/%d] %-5s %-42s ", ++step, nsteps, recs[r].scenario, recs[r].what);
    fflush(stderr);
}

static void progress_end(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress_end(int r, const char *fmt, ...)
{
    const struct run *run = &recs[r].round[recs[r].rounds - 1].run;
    va_list ap;
    if (!run->ok) {
        fprintf(stderr, "FAILED (%.1f s): %s\n", run->seconds, run->err);
        return;
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%.1f s)", run->seconds);
    if (run->others_cores > BUSY_CORES)
        fprintf(stderr, " [the rest of the machine used %.2f cores meanwhile]", run->others_cores);
    fprintf(stderr, "\n");
}

/* The figure of the round just run (progress lines show each round's own). */
static double last(int r, const char *key)
{
    const struct run *run = &recs[r].round[recs[r].rounds - 1].run;
    double v = kv(run->client, key);
    return isnan(v) ? kv(run->server, key) : v;
}

/* --------------------------------------------------------------- checks */

static void check_count(struct run *run, const char *key, uint64_t want)
{
    double v = kv(run->server[0] ? run->server : run->client, key);
    if (run->ok && v != (double)want)
        run_fail(run, "the server counted %s=%.0f, the client made %llu", key, v, (unsigned long long)want);
}

static void check_rr(struct run *run, const struct job *j)
{
    check_count(run, "served", j->count + j->warm);
}

static void check_bulk(struct run *run, const struct job *j)
{
    check_count(run, "received", j->bytes + j->warm);
}

static void check_conn(struct run *run, const struct job *j)
{
    uint64_t total = j->count + j->warm;
    check_count(run, "served", total);
    if (run->ok && j->dpdk) {
        /* The option must flow when on (every SYN and SYN-ACK) and never when off. */
        double cs = kv(run->client, "credopt_sent"), cr = kv(run->client, "credopt_received");
        double ss = kv(run->server, "credopt_sent"), sr = kv(run->server, "credopt_received");
        if (!j->nocred && (cs < (double)total || cr < (double)total || ss < (double)total || sr < (double)total))
            run_fail(run,
                     "the credential option did not flow on every connection (client sent %.0f received "
                     "%.0f, server sent %.0f received %.0f, %llu connections)",
                     cs, cr, ss, sr, (unsigned long long)total);
        if (j->nocred && (cs != 0 || ss != 0))
            run_fail(run, "credentials off, yet the option was sent (client %.0f, server %.0f)", cs, ss);
    }
}

static void check_conc(struct run *run, const struct job *j)
{
    check_count(run, "served", j->count + j->warm);
    check_count(run, "accepted", CONC_CONNS);
    check_count(run, "closed", CONC_CONNS);
    if (run->ok && (kv(run->client, "conns") != CONC_CONNS || kv(run->client, "closed") != CONC_CONNS))
        run_fail(run, "the client held %.0f connections and closed %.0f, not %u", kv(run->client, "conns"),
                 kv(run->client, "closed"), CONC_CONNS);
}

static int retries = 1;

/* Runs one round of a record's job, checks what it reported, and runs it once
 * more if it failed (--retries): a failure that a retry cured is still
 * reported, as flaky. A round that fails fails the record. */
static void attempt(int r, const struct job *j, void (*check)(struct run *run, const struct job *j))
{
    struct rec *rec = &recs[r];
    struct round *rd = &rec->round[rec->rounds++];
    if (!rec->ran)
        rec->ok = true;
    rec->ran = true;
    for (int a = 0;; a++) {
        runner_run(&rd->run, j);
        if (rd->run.ok && check)
            check(&rd->run, j);
        rd->attempts = a + 1;
        if (rd->run.ok || a >= retries || runner_stopped())
            break;
        if (a == 0)
            memcpy(rd->first_err, rd->run.err, sizeof(rd->first_err));
        fprintf(stderr, "failed (%s), again: ", rd->run.err);
    }
    if (!rd->run.ok && rec->ok) {
        char err[sizeof(rd->run.err)];
        memcpy(err, rd->run.err, sizeof(err));
        rec->ok = false;
        if (nrounds > 1)
            snprintf(rec->err, sizeof(rec->err), "round %d: %.1000s", rec->rounds, err);
        else
            snprintf(rec->err, sizeof(rec->err), "%s", err);
    }
}

/* ------------------------------------------------------------ scenarios */

static void do_raw(void)
{
    struct job j = {"raw-server",  "raw-client", "raw",         NULL, true, false,
                    sz->raw_count, sz->raw_warm, sz->raw_bytes, 0,    0};
    progress_start(R_RAW);
    attempt(R_RAW, &j, NULL);
    progress_end(R_RAW, "ping-pong p50 %.2f us p99 %.2f us, stream %.2f Gbit/s", last(R_RAW, "p50_ns") / 1e3,
                 last(R_RAW, "p99_ns") / 1e3, last(R_RAW, "gbps"));
}

static void do_rr(int r, const char *srole, const char *crole, const char *family, bool dpdk, bool cred)
{
    struct job j = {srole,           crole,        "rr",        family, dpdk,
                    false,           sz->rr_count, sz->rr_warm, 0,      cred ? sz->cred_calls : 0,
                    sz->cred_batches};
    progress_start(r);
    attempt(r, &j, check_rr);
    progress_end(r, "p50 %.2f us p99 %.2f us p99.9 %.2f us", last(r, "p50_ns") / 1e3, last(r, "p99_ns") / 1e3,
                 last(r, "p999_ns") / 1e3);
}

static void do_bulk(int r, const char *srole, const char *crole, const char *family, bool dpdk)
{
    struct job j = {srole, crole, "bulk", family, dpdk, false, 0, sz->bulk_warm, sz->bulk_bytes, 0, 0};
    progress_start(r);
    attempt(r, &j, check_bulk);
    progress_end(r, "%.2f Gbit/s", last(r, "gbps"));
}

static void do_conn(int r, const char *srole, const char *crole, bool dpdk, bool nocred)
{
    struct job j = {srole, crole, "conn", "tcp", dpdk, nocred, sz->conn_count, sz->conn_warm, 0, 0, 0};
    progress_start(r);
    attempt(r, &j, check_conn);
    progress_end(r, "%.0f conn/s", last(r, "conn_per_s"));
}

static void do_conc(int r, const char *srole, const char *crole, bool dpdk)
{
    struct job j = {srole, crole, "conc", "tcp", dpdk, false, sz->conc_count, sz->conc_warm, 0, 0, 0};
    progress_start(r);
    attempt(r, &j, check_conc);
    progress_end(r, "%.0f transactions/s p99 %.1f us (connect %.2f s)", last(r, "tps"), last(r, "p99_ns") / 1e3,
                 last(r, "connect_s"));
}

bool scenario_wanted(const char *only, const char *what)
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

/* One round: every wanted scenario once, ucstack's runs and the kernel's in turn. */
static void one_round(const char *only)
{
    if (scenario_wanted(only, "raw") && !runner_stopped())
        do_raw();
    if (scenario_wanted(only, "rr")) {
        static const struct {
            int r;
            const char *s, *c, *family;
            bool dpdk, cred;
        } rr[] = {{R_RR_UCS, "ucs-server", "ucs-client", NULL, true, true},
                  {R_RR_INPROC, NULL, "ucs-inproc", NULL, true, false},
                  {R_RR_KTCP, "k-server", "k-client", "tcp", false, false},
                  {R_RR_KUNIX, "k-server", "k-client", "unix", false, true}};
        for (size_t i = 0; i < sizeof(rr) / sizeof(rr[0]) && !runner_stopped(); i++)
            do_rr(rr[i].r, rr[i].s, rr[i].c, rr[i].family, rr[i].dpdk, rr[i].cred);
    }
    if (scenario_wanted(only, "bulk")) {
        if (!runner_stopped())
            do_bulk(R_BULK_UCS, "ucs-server", "ucs-client", NULL, true);
        if (!runner_stopped())
            do_bulk(R_BULK_KTCP, "k-server", "k-client", "tcp", false);
        if (!runner_stopped())
            do_bulk(R_BULK_KUNIX, "k-server", "k-client", "unix", false);
    }
    if (scenario_wanted(only, "conn")) {
        if (!runner_stopped())
            do_conn(R_CONN_UCS, "ucs-server", "ucs-client", true, false);
        if (!runner_stopped())
            do_conn(R_CONN_UCS_NOCRED, "ucs-server", "ucs-client", true, true);
        if (!runner_stopped())
            do_conn(R_CONN_KTCP, "k-server", "k-client", false, false);
    }
    if (scenario_wanted(only, "conc")) {
        if (!runner_stopped())
            do_conc(R_CONC_UCS, "ucs-server", "ucs-client", true);
        if (!runner_stopped())
            do_conc(R_CONC_KTCP, "k-server", "k-client", false);
    }
}

int scenarios_run(const struct scenario_options *o)
{
    int failed = 0;
    sz = o->quick ? &quick_sizes : &full_sizes;
    runner.timeout_s = sz->timeout_s;
    retries = o->retries;
    nrounds = o->rounds;
    nsteps = o->rounds * ((scenario_wanted(o->only, "raw") ? 1 : 0) + (scenario_wanted(o->only, "rr") ? 4 : 0) +
                          (scenario_wanted(o->only, "bulk") ? 3 : 0) + (scenario_wanted(o->only, "conn") ? 3 : 0) +
                          (scenario_wanted(o->only, "conc") ? 2 : 0));
    for (int i = 0; i < o->rounds && !runner_stopped(); i++) {
        if (o->rounds > 1 && nsteps)
            fprintf(stderr, "ucstack-bench: round %d of %d\n", i + 1, o->rounds);
        one_round(o->only);
    }
    for (int r = 0; r < N_REC; r++)
        for (int i = 0; i < recs[r].rounds; i++)
            failed += !recs[r].round[i].run.ok;
    return failed;
}

int scenarios_runs(void)
{
    return step;
}
