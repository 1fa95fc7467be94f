/* Building the telemetry snapshot on the stack thread, a slice per poll step. */
#include "telemetry.h"

#include "dpdk_telemetry.h"
#include "netif_port.h"

#include <stdio.h>
#include <string.h>
#include <ucstack/stack.h>

/* Table slots visited per poll step: 10 to 20 µs on the loaded 2-core VM,
 * so listing 100,000 connections spreads over about 2,000 steps instead of
 * stalling one (docs/observability.md). */
#define SOCKETS_PER_STEP 64

/* clang-format breaks these macros apart. */
// clang-format off
#define U64(f) {#f, offsetof(struct ucs_stack_stats, f), sizeof(uint64_t)}
#define U32(f) {#f, offsetof(struct ucs_stack_stats, f), sizeof(uint32_t)}
static const struct {
    const char *name;
    size_t offset, size;
} stat_fields[] = {
    U64(rx_frames), U64(tx_frames), U64(tx_backlogged), U64(tx_alloc_failed), U32(mbufs_total), U32(mbufs_free),
    U32(tx_backlog_now), U64(ip_drops), U64(tcp_drops), U64(tcp_checksum_errors), U64(tcpopt_malformed),
    U64(tcpopt_unknown), U64(tcpopt_delivered), U64(tcpopt_sent), U64(tcpopt_withheld), U64(tcpopt_overrun_refused),
    U64(tcp_far_seq), U64(tcp_tiny_mss), U64(tcp_rst_in_window), U64(tcp_rst_out_of_window),
    U64(tcp_syn_synchronized), U64(tcp_ack_unacceptable), U64(tcp_challenge_acks), U64(tcp_challenge_limited),
    U64(attest_attested), U64(attest_lost), U64(attest_foreign_nonce), U64(attest_malformed),
    U64(attest_dropped_frames), U64(fault_dropped), U64(fault_reordered), U64(fault_duplicated),
    U64(fault_corrupted), U64(ip_checksum_errors), U64(tcp_rto), U64(tcp_fast_recoveries), U64(tcp_sack_rexmits),
    U64(tcp_tail_loss_probes), U64(tcp_sack_blocks), U64(tcp_sack_ignored), U32(tcp_pcbs), U32(tcp_timer_due),
    U64(tcp_timer_visits), U64(tcp_timewait_reopened), U64(tcp_timewait_old_syn), U64(tcp_timewait_paws_syn),
    U64(tcp_syn_cookies_sent), U64(tcp_syn_cookies_accepted), U64(tcp_syn_cookies_rejected), U64(tcp_syn_queue_full),
    U64(tcp_accept_queue_full), U64(rx_pressure), U64(rx_ooseq_shed), U64(rx_copied), U64(tcp_seq_unacceptable),
    U64(tcp_paws_rejected), U64(tcp_syn_fin), U64(fault_delayed), U64(fault_delay_dropped), U64(tcp_rtt_ts_samples),
    U64(tcp_rtt_timed_samples), U64(tcp_pmtu_lowered), U64(icmp_ptb_refused), U64(pmtu_learnt), U64(pmtu_evicted),
    U64(pmtu_expired), U64(tcp_pmtu_split), U64(tx_tso_frames), U64(rx_lro_frames), U64(rx_oversize),
};
// clang-format on
/* 65 counters of 64 bits, 5 of 32 (and 4 bytes of padding after the first
 * three), numa_node and cpu: a counter added to ucs_stack_stats must be added
 * here too, or /ucstack/stats would silently lack it. */
_Static_assert(sizeof(struct ucs_stack_stats) == 65 * 8 + 5 * 4 + 4 + 2 * sizeof(int),
               "ucs_stack_stats changed: list its counters in stat_fields, then update this size");
/* Room for the counters the layers above add (the credential option's). */
_Static_assert(sizeof(stat_fields) / sizeof(stat_fields[0]) + 16 <= UCS_TEL_MAX_STATS, "too many counters");

static bool running;
static ucs_sock_lister_fn lister;
static ucs_counters_fn counters;
static struct ucs_tel_snapshot *building;
static int cursor;

int ucs_stack_telemetry_check(const struct ucs_config *cfg, char *err, size_t errlen)
{
    /* DPDK would register the commands and open no socket to answer them. */
    if (cfg->telemetry && strstr(cfg->eal_args, "--no-telemetry")) {
        snprintf(err, errlen, "telemetry = yes, but the eal line says --no-telemetry");
        return -1;
    }
    return 0;
}

int ucs_stack_telemetry_start(const struct ucs_config *cfg, char *err, size_t errlen)
{
    if (!cfg->telemetry)
        return 0;
    if (ucs_tel_start(err, errlen) != 0)
        return -1;
    building = NULL;
    running = true;
    return 0;
}

void ucs_stack_telemetry_stop(void)
{
    if (running)
        ucs_tel_stop();
    running = false;
}

static void fill_stats(const struct ucs_stack *s, struct ucs_tel_snapshot *snap)
{
    struct ucs_stack_stats st;

    ucs_stack_get_stats(s, &st);
    for (size_t i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++) {
        const char *p = (const char *)&st + stat_fields[i].offset;
        uint64_t v;
        if (stat_fields[i].size == sizeof(uint64_t)) {
            memcpy(&v, p, sizeof(v));
        } else {
            uint32_t v32;
            memcpy(&v32, p, sizeof(v32));
            v = v32;
        }
        snap->stats[snap->nstats].name = stat_fields[i].name;
        snap->stats[snap->nstats++].value = v;
    }
    if (counters)
        counters();
}

static void fill_ports(struct ucs_tel_snapshot *snap, struct port_netif *const *ports, unsigned n)
{
    for (unsigned i = 0; i < n && i < UCS_TEL_MAX_PORTS; i++) {
        struct ucs_tel_port *t = &snap->ports[snap->nports++];
        t->port = port_netif_port(ports[i]);
        ucs_port_get_info(t->port, &t->info);
        ucs_port_get_stats(t->port, &t->stats);
        t->link_up = ucs_port_link_up(t->port);
    }
}

void ucs_stack_telemetry_lister(ucs_sock_lister_fn fn)
{
    lister = fn;
}

void ucs_stack_telemetry_counters(ucs_counters_fn fn)
{
    counters = fn;
}

void ucs_stack_telemetry_add_stat(const char *name, uint64_t value)
{
    if (building->nstats == UCS_TEL_MAX_STATS)
        return;
    building->stats[building->nstats].name = name;
    building->stats[building->nstats++].value = value;
}

void ucs_stack_telemetry_add_socket(const struct ucs_sock_view *v)
{
    struct ucs_tel_socket *t = ucs_tel_add_socket(building);

    if (!t)
        return;
    t->fd = v->fd;
    t->peer_pid = v->peer_pid;
    t->peer_uid = v->peer_uid;
    t->send_q = v->send_q;
    t->recv_q = v->recv_q;
    t->lport = v->lport;
    t->rport = v->rport;
    t->family = v->family;
    t->cred_known = v->cred_known;
    t->proto = v->proto;
    t->state = v->state;
    memcpy(t->laddr, v->laddr, sizeof(t->laddr));
    memcpy(t->raddr, v->raddr, sizeof(t->raddr));
}

void ucs_stack_telemetry_step(const struct ucs_stack *s, struct port_netif *const *ports, unsigned nports)
{
    if (!running)
        return;
    if (!building) {
        if (!ucs_tel_requested())
            return;
        building = ucs_tel_begin();
        cursor = 0;
        fill_stats(s, building);
        fill_ports(building, ports, nports);
    }
    building->steps++;
    if (cursor >= 0)
        cursor = lister ? lister(cursor, SOCKETS_PER_STEP) : -1;
    if (cursor < 0 && ucs_tel_publish())
        building = NULL;
}
