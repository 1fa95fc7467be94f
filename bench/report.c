/* ucstack-bench's report (report.h). */
#include "report.h"

#include "json.h"
#include "local.h"
#include "roles.h"
#include "scenarios.h"
#include "table.h"

#include "bench.h"

#include "lwip/init.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_DPDK_PKG_VERSION
#define BENCH_DPDK_PKG_VERSION "unknown"
#endif

/* --------------------------------------------------------------- machine */

static char cpu_model[256] = "unknown";
static long ncores;
static char kernel_release[128] = "unknown";
static double load_at_start = NAN;

void report_machine(void)
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
    if ((f = fopen("/proc/loadavg", "r"))) {
        if (fscanf(f, "%lf", &load_at_start) != 1)
            load_at_start = NAN;
        fclose(f);
    }
    ncores = sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        snprintf(kernel_release, sizeof(kernel_release), "%s", u.release);
}

long report_cores(void)
{
    return ncores;
}

const char *report_dpdk_number(void)
{
    const char *v = bench_dpdk_version();
    return strncmp(v, "DPDK ", 5) ? v : v + 5;
}

/* ---------------------------------------------------------------- table */

static double ratio(double num, double den)
{
    return isnan(num) || isnan(den) || den == 0 ? NAN : num / den;
}

/* One table cell: a record's median (and spread) divided by scale, or what went wrong instead. */
static void cell(char *out, size_t len, int r, const char *key, double scale, const char *fmt, const char *unit)
{
    double mn, mx;
    if (!recs[r].ran) {
        snprintf(out, len, "not run");
    } else if (!recs[r].ok) {
        snprintf(out, len, "FAILED [%s]", recs[r].transport);
    } else {
        if (!fig_spread(r, key, &mn, &mx))
            mn = mx = NAN;
        fmt_figure(out, len, fig(r, key) / scale, mn / scale, mx / scale, fmt, unit);
    }
}

static void num(char *out, size_t len, double v, const char *fmt)
{
    fmt_figure(out, len, v, NAN, NAN, fmt, "");
}

static void row(struct table *t, const char *scenario, const char *transport, const char *u, const char *k,
                const char *ratio_s, const char *cable)
{
    const char *cells[] = {scenario, transport, u, k, ratio_s, cable};
    table_row(t, cells);
}

static void rr_rows(struct table *t, int r, const char *label, bool cable)
{
    static const char *keys[] = {"p50_ns", "p99_ns", "p999_ns"};
    static const char *names[] = {"RR 64 B, RTT p50", "RR 64 B, RTT p99", "RR 64 B, RTT p99.9"};
    for (int i = 0; i < 3; i++) {
        char u[CELL], k[CELL], kt[64], ku[64], rs[64], rt[16], ru[16], c[16];
        double v = fig(r, keys[i]);
        cell(u, sizeof(u), r, keys[i], 1e3, "%.2f", " us");
        cell(kt, sizeof(kt), R_RR_KTCP, keys[i], 1e3, "%.2f", "");
        cell(ku, sizeof(ku), R_RR_KUNIX, keys[i], 1e3, "%.2f", "");
        snprintf(k, sizeof(k), "TCP %s / unix %s us", kt, ku);
        num(rt, sizeof(rt), ratio(fig(R_RR_KTCP, keys[i]), v), "%.1f");
        num(ru, sizeof(ru), ratio(fig(R_RR_KUNIX, keys[i]), v), "%.1f");
        snprintf(rs, sizeof(rs), "%s / %s", rt, ru);
        if (cable)
            num(c, sizeof(c), ratio(fig(R_RAW, keys[i]), v), "%.2f");
        else
            snprintf(c, sizeof(c), "n/a");
        row(t, names[i], label, u, k, rs, c);
    }
}

static void build_table(struct table *t, const struct report_options *o)
{
    static const char *header[] = {"scenario", "transport", "ucstack", "kernel", "ratio", "of cable"};
    char u[CELL], k[CELL], rs[CELL], c[160], a[64], b2[64];
    double on, off;

    table_init(t, "table", 6, header);
    snprintf(t->title, sizeof(t->title),
             "ucstack-bench (%s mode, %d round%s): ucstack vs the Linux kernel on %s, %ld cores; DPDK %s, lwIP %s\n"
             "server on core %d, client on core %d; DPDK %s; each figure the median of its rounds (min-max); "
             "ratio > 1: ucstack better; \"of cable\": ucstack as a fraction of raw DPDK frames on the same cable",
             o->quick ? "quick" : "full", o->rounds, o->rounds == 1 ? "" : "s", cpu_model, ncores, report_dpdk_number(),
             LWIP_VERSION_STRING, runner.server_core, runner.client_core,
             bench_use_hugepages ? "with hugepages (--single-file-segments)" : "hugepage-free (--no-huge)");
    rr_rows(t, R_RR_UCS, "virtio cable, 2 processes", true);
    rr_rows(t, R_RR_INPROC, "127.0.0.1, 1 process, 1 thread", false);

    cell(u, sizeof(u), R_BULK_UCS, "gbps", 1, "%.2f", " Gbit/s");
    cell(a, sizeof(a), R_BULK_KTCP, "gbps", 1, "%.2f", "");
    cell(b2, sizeof(b2), R_BULK_KUNIX, "gbps", 1, "%.2f", "");
    snprintf(k, sizeof(k), "TCP %s / unix %s Gb/s", a, b2);
    num(a, sizeof(a), ratio(fig(R_BULK_UCS, "gbps"), fig(R_BULK_KTCP, "gbps")), "%.2f");
    num(b2, sizeof(b2), ratio(fig(R_BULK_UCS, "gbps"), fig(R_BULK_KUNIX, "gbps")), "%.2f");
    snprintf(rs, sizeof(rs), "%s / %s", a, b2);
    /* Of the raw stream in 1514 B frames and in 64 KiB frames (what TSO sends). */
    num(a, sizeof(a), ratio(fig(R_BULK_UCS, "gbps"), fig(R_RAW, "gbps")), "%.2f");
    num(b2, sizeof(b2), ratio(fig(R_BULK_UCS, "gbps"), fig(R_RAW, "gbps_64k")), "%.2f");
    snprintf(c, sizeof(c), "%s / %s", a, b2);
    row(t, "bulk, 1 connection", "virtio cable, 2 processes", u, k, rs, c);

    for (int r = R_CONN_UCS; r <= R_CONN_UCS_NOCRED; r++) {
        cell(u, sizeof(u), r, "conn_per_s", 1, "%.0f", " conn/s");
        cell(a, sizeof(a), R_CONN_KTCP, "conn_per_s", 1, "%.0f", "");
        snprintf(k, sizeof(k), "TCP %s conn/s", a);
        num(rs, sizeof(rs), ratio(fig(r, "conn_per_s"), fig(R_CONN_KTCP, "conn_per_s")), "%.2f");
        row(t, r == R_CONN_UCS ? "connect+RR+close, cred on" : "connect+RR+close, cred off",
            "virtio cable, 2 processes", u, k, rs, "n/a");
    }
    /* Derived from the two medians: no spread of its own. */
    on = fig(R_CONN_UCS, "us_per_conn");
    off = fig(R_CONN_UCS_NOCRED, "us_per_conn");
    num(a, sizeof(a), on - off, "%+.2f us");
    num(b2, sizeof(b2), ratio(fig(R_CONN_UCS, "conn_per_s"), fig(R_CONN_UCS_NOCRED, "conn_per_s")), "%.3f");
    snprintf(u, sizeof(u), "%s/conn", a);
    snprintf(rs, sizeof(rs), "on/off %s", b2);
    row(t, "price of credentials", "conn rate, option on vs off", u, "-", rs, "n/a");

    cell(u, sizeof(u), R_RR_UCS, "cred_ns", 1, "%.1f", " ns");
    cell(a, sizeof(a), R_RR_KUNIX, "cred_ns", 1, "%.1f", " ns");
    snprintf(k, sizeof(k), "SO_PEERCRED unix %s", a);
    num(rs, sizeof(rs), ratio(fig(R_RR_KUNIX, "cred_ns"), fig(R_RR_UCS, "cred_ns")), "%.1f");
    row(t, "read peer's credentials", "getpeerucred(), reused ucred_t", u, k, rs, "n/a");
    cell(a, sizeof(a), R_RR_KUNIX, "kernel_getpeerucred_ns", 1, "%.1f", " ns");
    snprintf(k, sizeof(k), "getpeerucred() unix %s", a);
    row(t, "read peer's credentials", "(reference: on a kernel socket)", "-", k, "-", "n/a");

    cell(u, sizeof(u), R_RAW, "p50_ns", 1e3, "%.2f", " us");
    cell(a, sizeof(a), R_RAW, "p99_ns", 1e3, "%.2f", " us");
    snprintf(k, sizeof(k), "p99 %s", a);
    row(t, "limit: raw 64 B ping-pong", "raw DPDK frames, virtio, p50", u, k, "-", "1.00");
    cell(u, sizeof(u), R_RAW, "gbps", 1, "%.2f", " Gbit/s");
    cell(a, sizeof(a), R_RAW, "mpps", 1, "%.2f", " Mpps");
    snprintf(k, sizeof(k), "1514 B frames, %s", a);
    row(t, "limit: raw stream", "raw DPDK frames, virtio", u, k, "-", "1.00");
    cell(u, sizeof(u), R_RAW, "gbps_64k", 1, "%.2f", " Gbit/s");
    row(t, "limit: raw stream, 64 KiB", "raw DPDK frames, virtio", u, "64,014 B frames, by reference", "-", "1.00");
    cell(u, sizeof(u), R_CONC_UCS, "tps", 1, "%.0f", " tx/s");
    cell(a, sizeof(a), R_CONC_KTCP, "tps", 1, "%.0f", "");
    snprintf(k, sizeof(k), "TCP %s tx/s", a);
    num(rs, sizeof(rs), ratio(fig(R_CONC_UCS, "tps"), fig(R_CONC_KTCP, "tps")), "%.2f");
    row(t, "10k conns RR 64 B, rate", "virtio cable, 2 processes", u, k, rs, "n/a");
    cell(u, sizeof(u), R_CONC_UCS, "p99_ns", 1e3, "%.1f", " us");
    cell(a, sizeof(a), R_CONC_KTCP, "p99_ns", 1e3, "%.1f", "");
    snprintf(k, sizeof(k), "TCP %s us", a);
    num(rs, sizeof(rs), ratio(fig(R_CONC_KTCP, "p99_ns"), fig(R_CONC_UCS, "p99_ns")), "%.2f");
    row(t, "10k conns RR 64 B, p99", "virtio cable, 2 processes", u, k, rs, "n/a");
    row(t, "local sockets", "see the table below", "-", "-", "-", "-");

    if (o->rounds < BENCH_DEFAULT_ROUNDS)
        table_note(t, "FEW ROUNDS: %d round%s (--rounds %d), not the median of %d: the figures are not comparable",
                   o->rounds, o->rounds == 1 ? "" : "s", o->rounds, BENCH_DEFAULT_ROUNDS);
    for (int r = 0; r < N_REC; r++) {
        if (recs[r].ran && !recs[r].ok)
            table_note(t, "FAILED %s %s: %s", recs[r].scenario, recs[r].transport, recs[r].err);
    }
    for (int r = 0; r < N_REC; r++) {
        for (int i = 0; i < recs[r].rounds; i++) {
            const struct round *rd = &recs[r].round[i];
            if (rd->first_err[0])
                table_note(t,
                           "FLAKY: %s %s failed on its first attempt in round %d (%s); that round's figures are "
                           "from attempt %d",
                           recs[r].scenario, recs[r].transport, i + 1, rd->first_err, rd->attempts);
        }
    }
    for (int r = 0; r < N_REC; r++) {
        if (recs[r].ran && rec_others(r) > BUSY_CORES)
            table_note(t,
                       "NOT QUIET: during %s %s the rest of the machine used up to %.2f cores: its figures are "
                       "suspect",
                       recs[r].scenario, recs[r].transport, rec_others(r));
    }
    table_note(t, "connect+RR+close: the client closes first with SO_LINGER {1, 0} (a reset), on both stacks: "
                  "no TIME_WAIT, no ephemeral-port exhaustion.");
}

static struct table main_table, local_table;

void report_print(const struct report_options *o)
{
    build_table(&main_table, o);
    table_print(&main_table);
    if (local_bench_table(&local_table, o->rounds))
        table_print(&local_table);
}

/* ----------------------------------------------------------------- JSON */

struct which {
    int r;
    bool client;
};

/* fig_side as json_figures asks for it. */
static double figure_of(const char *key, double *min, double *max, void *arg)
{
    const struct which *w = arg;
    return fig_side(w->r, w->client, key, min, max);
}

/* A record's "k=v" figures, for the client's or the server's line: each key's median over the rounds, and its
 * spread. */
static void json_side(struct json *j, int r, bool client)
{
    const char *line = "";
    struct which w = {r, client};
    for (int i = 0; i < recs[r].rounds && !line[0]; i++)
        if (recs[r].round[i].run.ok)
            line = client ? recs[r].round[i].run.client : recs[r].round[i].run.server;
    if (!recs[r].ok)
        line = "";
    json_obj(j, client ? "client" : "server");
    json_figures(j, line, figure_of, &w);
    json_close(j);
}

static void json_ratios(struct json *j, int r)
{
    json_obj(j, "ratio_vs_kernel");
    if (r == R_RR_UCS || r == R_RR_INPROC) {
        static const char *keys[] = {"p50_ns", "p99_ns", "p999_ns"};
        static const char *names[] = {"p50", "p99", "p99_9"};
        char n[64];
        for (int i = 0; i < 3; i++) {
            snprintf(n, sizeof(n), "kernel-tcp-loopback_%s", names[i]);
            json_num(j, n, ratio(fig(R_RR_KTCP, keys[i]), fig(r, keys[i])));
            snprintf(n, sizeof(n), "kernel-unix_%s", names[i]);
            json_num(j, n, ratio(fig(R_RR_KUNIX, keys[i]), fig(r, keys[i])));
        }
        if (r == R_RR_UCS)
            json_num(j, "credential_read_vs_so_peercred", ratio(fig(R_RR_KUNIX, "cred_ns"), fig(r, "cred_ns")));
        json_close(j);
        json_obj(j, "fraction_of_cable");
        if (r == R_RR_UCS) {
            for (int i = 0; i < 3; i++)
                json_num(j, names[i], ratio(fig(R_RAW, keys[i]), fig(r, keys[i])));
        }
    } else if (r == R_BULK_UCS) {
        json_num(j, "kernel-tcp-loopback", ratio(fig(r, "gbps"), fig(R_BULK_KTCP, "gbps")));
        json_num(j, "kernel-unix", ratio(fig(r, "gbps"), fig(R_BULK_KUNIX, "gbps")));
        json_close(j);
        json_obj(j, "fraction_of_cable");
        json_num(j, "gbps", ratio(fig(r, "gbps"), fig(R_RAW, "gbps")));
        json_num(j, "gbps_64k", ratio(fig(r, "gbps"), fig(R_RAW, "gbps_64k")));
    } else if (r == R_CONN_UCS || r == R_CONN_UCS_NOCRED) {
        json_num(j, "kernel-tcp-loopback", ratio(fig(r, "conn_per_s"), fig(R_CONN_KTCP, "conn_per_s")));
        if (r == R_CONN_UCS) {
            json_num(j, "credentials_on_over_off", ratio(fig(r, "conn_per_s"), fig(R_CONN_UCS_NOCRED, "conn_per_s")));
            json_num(j, "credentials_cost_us_per_conn", fig(r, "us_per_conn") - fig(R_CONN_UCS_NOCRED, "us_per_conn"));
        }
    } else if (r == R_CONC_UCS) {
        json_num(j, "kernel-tcp-loopback_tps", ratio(fig(r, "tps"), fig(R_CONC_KTCP, "tps")));
        json_num(j, "kernel-tcp-loopback_p99", ratio(fig(R_CONC_KTCP, "p99_ns"), fig(r, "p99_ns")));
    }
    json_close(j);
}

static const char *status(int r)
{
    return !recs[r].ran ? "not run" : recs[r].ok ? "ok" : "failed";
}

static void json_record(struct json *j, int r)
{
    const struct rec *rec = &recs[r];
    json_obj(j, NULL);
    json_str(j, "scenario", rec->scenario);
    json_str(j, "transport", rec->transport);
    json_str(j, "side", rec->side);
    json_str(j, "description", rec->what);
    json_str(j, "status", status(r));
    json_str(j, "error", rec->ran && !rec->ok ? rec->err : NULL);
    json_int(j, "rounds", rec->rounds);
    json_num(j, "seconds", rec_seconds(r));
    json_num(j, "others_cpu_cores", rec_others(r));
    json_side(j, r, true);
    json_side(j, r, false);
    if (!strcmp(rec->side, "ucstack"))
        json_ratios(j, r);
    json_arr(j, "per_round");
    for (int i = 0; i < rec->rounds; i++) {
        const struct round *rd = &rec->round[i];
        json_obj(j, NULL);
        json_str(j, "status", rd->run.ok ? "ok" : "failed");
        json_str(j, "error", rd->run.ok ? NULL : rd->run.err);
        json_int(j, "attempts", rd->attempts);
        json_str(j, "first_attempt_error", rd->first_err[0] ? rd->first_err : NULL);
        json_num(j, "seconds", rd->run.seconds);
        json_num(j, "others_cpu_cores", rd->run.others_cores);
        json_kv_line(j, "client", rd->run.ok ? rd->run.client : "");
        json_kv_line(j, "server", rd->run.ok ? rd->run.server : "");
        json_close(j);
    }
    json_close(j);
    json_close(j);
}

/* A figure with its spread, as {"median", "min", "max"}. */
static void json_spread(struct json *j, const char *key, int r, const char *fig_key)
{
    double mn, mx;
    bool spread = fig_spread(r, fig_key, &mn, &mx);
    json_obj(j, key);
    json_num(j, "median", fig(r, fig_key));
    json_num(j, "min", spread ? mn : fig(r, fig_key));
    json_num(j, "max", spread ? mx : fig(r, fig_key));
    json_close(j);
}

/* Scenario 4 as its own records, from the request/response runs' connections. */
static void json_cred_records(struct json *j)
{
    json_obj(j, NULL);
    json_str(j, "scenario", "cred");
    json_str(j, "transport", "ucstack-virtio");
    json_str(j, "side", "ucstack");
    json_str(j, "description", "getpeerucred() with a reused ucred_t on a connected ucstack socket");
    json_str(j, "status", recs[R_RR_UCS].ok ? "ok" : "failed");
    json_obj(j, "figures");
    json_num(j, "ns_per_call", fig(R_RR_UCS, "cred_ns"));
    json_close(j);
    json_obj(j, "spread");
    json_spread(j, "ns_per_call", R_RR_UCS, "cred_ns");
    json_close(j);
    json_obj(j, "ratio_vs_kernel");
    json_num(j, "kernel-unix-so_peercred", ratio(fig(R_RR_KUNIX, "cred_ns"), fig(R_RR_UCS, "cred_ns")));
    json_close(j);
    json_close(j);

    json_obj(j, NULL);
    json_str(j, "scenario", "cred");
    json_str(j, "transport", "kernel-unix");
    json_str(j, "side", "kernel");
    json_str(j, "description", "getsockopt(SO_PEERCRED) on a connected AF_UNIX socket");
    json_str(j, "status", recs[R_RR_KUNIX].ok ? "ok" : "failed");
    json_obj(j, "figures");
    json_num(j, "ns_per_call", fig(R_RR_KUNIX, "cred_ns"));
    json_num(j, "getpeerucred_ns_per_call", fig(R_RR_KUNIX, "kernel_getpeerucred_ns"));
    json_close(j);
    json_obj(j, "spread");
    json_spread(j, "ns_per_call", R_RR_KUNIX, "cred_ns");
    json_spread(j, "getpeerucred_ns_per_call", R_RR_KUNIX, "kernel_getpeerucred_ns");
    json_close(j);
    json_close(j);
}

void report_json(const char *path, const struct report_options *o)
{
    FILE *f = fopen(path, "w");
    time_t now = time(NULL);
    char date[64];
    struct json j;
    if (!f) {
        fprintf(stderr, "ucstack-bench: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_begin(&j, f);
    json_str(&j, "tool", "ucstack-bench");
    json_str(&j, "mode", o->quick ? "quick" : "full");
    json_str(&j, "date", date);
    json_int(&j, "rounds", o->rounds);
    json_str(&j, "rounds_order", "every scenario once per round, in the same order: ucstack and kernel alternate");
    json_obj(&j, "machine");
    json_str(&j, "cpu_model", cpu_model);
    json_int(&j, "cores", ncores);
    json_str(&j, "kernel", kernel_release);
    json_num(&j, "load_average_at_start", load_at_start);
    json_close(&j);
    json_str(&j, "dpdk_version", bench_dpdk_version());
    json_str(&j, "dpdk_pkgconfig_version", BENCH_DPDK_PKG_VERSION);
    json_str(&j, "lwip_version", LWIP_VERSION_STRING);
    json_bool(&j, "hugepages", bench_use_hugepages);
    json_obj(&j, "cores_used");
    json_int(&j, "server", runner.server_core);
    json_int(&j, "client", runner.client_core);
    json_close(&j);
    json_str(&j, "ucstack_rr_client",
             runner.busy_client ? "busy-poll non-blocking ucs_recv + ucs_stack_poll" : "blocking ucs_send/ucs_recv");
    json_str(&j, "conn_close", "client closes first with SO_LINGER {1,0} (reset), both stacks");
    json_int(&j, "retries", o->retries);
    json_num(&j, "wait_quiet_seconds", o->wait_quiet_s);
    json_obj(&j, "sizes");
    json_int(&j, "rr_round_trips", (long long)sz->rr_count);
    json_int(&j, "rr_warmup", (long long)sz->rr_warm);
    json_int(&j, "bulk_bytes", (long long)sz->bulk_bytes);
    json_int(&j, "bulk_warmup_bytes", (long long)sz->bulk_warm);
    json_int(&j, "connections", (long long)sz->conn_count);
    json_int(&j, "conn_warmup", (long long)sz->conn_warm);
    json_int(&j, "cred_calls_per_batch", (long long)sz->cred_calls);
    json_int(&j, "cred_batches", sz->cred_batches);
    json_int(&j, "raw_pings", (long long)sz->raw_count);
    json_int(&j, "raw_stream_bytes", (long long)sz->raw_bytes);
    json_int(&j, "conc_connections", CONC_CONNS);
    json_int(&j, "conc_transactions", (long long)sz->conc_count);
    json_int(&j, "conc_warmup", (long long)sz->conc_warm);
    json_close(&j);
    json_obj(&j, "tables");
    build_table(&main_table, o);
    table_json(&main_table, &j);
    if (local_bench_table(&local_table, o->rounds))
        table_json(&local_table, &j);
    json_close(&j);
    json_arr(&j, "records");
    for (int r = 0; r < N_REC; r++)
        json_record(&j, r);
    json_cred_records(&j);
    local_bench_json(&j);
    json_close(&j);
    json_end(&j);
    if (fclose(f) != 0)
        fprintf(stderr, "ucstack-bench: cannot write %s: %s\n", path, strerror(errno));
    else
        fprintf(stderr, "ucstack-bench: wrote %s\n", path);
}

/* ---------------------------------------------------------------- plots */
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

void report_plots(const char *dir)
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
