/* One ucstack instance per process: ports, lwIP, and the run-to-completion step. */
#include <ucstack/stack.h>

#include "lwip/init.h"
#include "lwip/mem.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "ip_input.h"
#include "pmtu.h"
#include "netif_port.h"
#include "lwip_hooks.h"
#include "tcp_guard.h"
#include "tcp_options.h"
#include "tcp_rtt.h"
#include "tcp_timer_list.h"
#include "tcp_timewait.h"
#include "syn_cookie.h"
#include "rx_pressure.h"
#include "telemetry.h"
#include "link_creds.h"
#include "step_clock.h"

#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINK_CHECK_MS 100

unsigned char *ucs_ram_heap;
static struct ucs_stack *current;
static __thread bool owner_thread;
/* A process has one instance (lwIP cannot be torn down). DPDK's EAL and lwIP
 * start once per process (rte_eal_init refuses a second call, even after
 * rte_eal_cleanup): a creation that fails keeps them, and the heap, for the
 * next attempt; only one that succeeds uses the process's instance up. */
static bool created, eal_started, lwip_started;

struct ucs_stack {
    unsigned nports;
    struct ucs_port *raw_ports[UCS_MAX_PORTS];
    struct port_netif *ports[UCS_MAX_PORTS];
    bool links_up;
    int numa_node, cpu;
};

static void check_links(void *arg)
{
    struct ucs_stack *s = arg;
    bool all = true;
    for (unsigned i = 0; i < s->nports; i++)
        all &= port_netif_check_link(s->ports[i]);
    s->links_up = all;
    sys_timeout(LINK_CHECK_MS, check_links, s);
}

/* The node the first port sits on, else the node of the CPU we run on. */
static int stack_node(struct ucs_port *first)
{
    struct ucs_port_info info;
    if (numa_available() < 0)
        return -1;
    ucs_port_get_info(first, &info);
    if (info.numa_node >= 0)
        return info.numa_node;
    return numa_node_of_cpu(sched_getcpu());
}

/* Pins the polling thread to the first CPU it may use on that node. */
static int pin_to_node(int node)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed) || (node >= 0 && numa_node_of_cpu(cpu) != node))
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        return sched_setaffinity(0, sizeof(one), &one) == 0 ? cpu : -1;
    }
    return -1;
}

/* lwIP's heap, on the port's node before lwIP first touches it. lwIP cannot be
 * torn down, so the heap is never freed: it lives as long as the process. */
static int heap_alloc(int node)
{
    size_t size = MEM_SIZE + 4096;
    ucs_ram_heap = port_netif_heap(size, node);
    if (!ucs_ram_heap)
        ucs_ram_heap = node >= 0 ? numa_alloc_onnode(size, node) : malloc(size);
    return ucs_ram_heap ? 0 : -1;
}

static void close_ports(struct ucs_stack *s)
{
    for (unsigned i = 0; i < UCS_MAX_PORTS; i++) {
        if (s->ports[i])
            port_netif_close(s->ports[i]);
        else if (s->raw_ports[i])
            ucs_port_close(s->raw_ports[i]);
        s->ports[i] = NULL;
        s->raw_ports[i] = NULL;
    }
}

struct ucs_stack *ucs_stack_create(const struct ucs_config *cfg, char *err, size_t errlen)
{
    struct ucs_stack *s;

    if (ucs_stack_telemetry_check(cfg, err, errlen) != 0) {
        errno = EINVAL;
        return NULL;
    }
    if (created) {
        snprintf(err, errlen, "a process has one stack instance, and it was created already");
        errno = EBUSY;
        return NULL;
    }
    if (cfg->nports == 0 || cfg->nports > UCS_MAX_PORTS) {
        snprintf(err, errlen, "a stack needs 1 to %d ports", UCS_MAX_PORTS);
        errno = EINVAL;
        return NULL;
    }
    if (!eal_started && ucs_dpdk_init(cfg->eal_args, err, errlen) != 0)
        return NULL;
    eal_started = true;
    s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < cfg->nports; i++) {
        s->raw_ports[i] = port_netif_open_port(&cfg->ports[i], err, errlen);
        if (!s->raw_ports[i])
            goto fail;
    }
    s->nports = cfg->nports;
    s->numa_node = stack_node(s->raw_ports[0]);
    s->cpu = pin_to_node(s->numa_node);
    if (!ucs_ram_heap && heap_alloc(s->numa_node) != 0) {
        snprintf(err, errlen, "cannot allocate the %u-byte stack heap", (unsigned)MEM_SIZE);
        goto fail;
    }
    if (!lwip_started)
        lwip_init();
    ucs_pmtu_set_expiry(cfg->pmtu_expires_s ? cfg->pmtu_expires_s * 1000u : UCS_PMTU_EXPIRES_MS);
    lwip_started = true;
    for (unsigned i = 0; i < s->nports; i++) {
        s->ports[i] = port_netif_attach(s->raw_ports[i], &cfg->ports[i], err, errlen);
        if (!s->ports[i])
            goto fail;
    }
    /* Peers read the credentials our sockets carry from this table (this
     * thread holds its liveness mark); without it connections still work,
     * with the peer's credentials unknown. */
    if (ucs_link_creds() && ucs_link_creds()->table_open() != 0)
        fprintf(stderr, "ucstack: no credential table: peers will not learn credentials\n");
    if (ucs_stack_telemetry_start(cfg, err, errlen) != 0)
        goto fail;
    check_links(s);
    current = s;
    owner_thread = true;
    created = true;
    return s;
fail:
    close_ports(s);
    free(s);
    return NULL;
}

/* One clock reading per step. TX is flushed twice: first what the
 * application wrote since the last step (a request leaves before the RX burst,
 * not after it), then what RX, the timers and the loopback queued. A flush with
 * nothing queued is one comparison; writes never flush. */
void ucs_stack_poll(struct ucs_stack *s)
{
    const struct ucs_link_creds *creds = ucs_link_creds();

    ucs_step_clock_begin();
    for (unsigned i = 0; i < s->nports; i++)
        port_netif_tx_flush(s->ports[i]);
    for (unsigned i = 0; i < s->nports; i++)
        port_netif_rx(s->ports[i]);
    sys_check_timeouts();
    netif_poll_all();
    for (unsigned i = 0; i < s->nports; i++)
        port_netif_tx_flush(s->ports[i]);
    ucs_stack_telemetry_step(s, s->ports, s->nports);
    if (creds)
        creds->table_reap(); /* credentials other threads let go of */
    ucs_step_clock_end();
}

struct ucs_stack *ucs_stack_current(void)
{
    return current;
}

bool ucs_stack_owned_by_caller(void)
{
    return owner_thread && current;
}

bool ucs_stack_links_up(const struct ucs_stack *s)
{
    return s->links_up;
}

void ucs_stack_destroy(struct ucs_stack *s)
{
    if (!s)
        return;
    sys_untimeout(check_links, s);
    ucs_stack_telemetry_stop();
    close_ports(s);
    if (current == s)
        current = NULL;
    if (ucs_link_creds())
        ucs_link_creds()->table_close();
    free(s);
    ucs_dpdk_cleanup();
}

void ucs_stack_get_stats(const struct ucs_stack *s, struct ucs_stack_stats *out)
{
    struct ucs_tcpopt_stats opt;
    struct ucs_tcp_guard_stats guard;
    struct ucs_tcp_timer_stats timers;
    struct ucs_tcp_timewait_stats tw;
    struct ucs_syn_stats syn;
    struct ucs_rx_pressure_stats rxp;
    struct ucs_tcp_rtt_stats rtt;
    struct ucs_attest_stats as;
    uint64_t dropped;

    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < s->nports; i++) {
        struct ucs_port_stats ps;
        ucs_port_get_stats(port_netif_port(s->ports[i]), &ps);
        out->rx_frames += ps.rx_frames;
        out->tx_frames += ps.tx_frames;
        out->tx_backlogged += ps.tx_backlogged;
        out->tx_alloc_failed += ps.tx_alloc_failed;
        out->tx_tso_frames += ps.tx_tso_frames;
        out->rx_lro_frames += ps.rx_lro_frames;
        out->rx_oversize += ps.rx_oversize;
        out->mbufs_total += ps.mbufs_total;
        out->mbufs_free += ps.mbufs_free;
        out->tx_backlog_now += ps.tx_backlog_now;
        port_netif_attest_stats(s->ports[i], &as, &dropped);
        out->attest_attested += as.attested;
        out->attest_lost += as.lost;
        out->attest_foreign_nonce += as.foreign_nonce;
        out->attest_malformed += as.malformed;
        out->attest_dropped_frames += dropped;
        out->fault_dropped += ps.faults.dropped;
        out->fault_reordered += ps.faults.reordered;
        out->fault_duplicated += ps.faults.duplicated;
        out->fault_corrupted += ps.faults.corrupted;
        out->fault_delayed += ps.faults.delayed;
        out->fault_delay_dropped += ps.faults.delay_dropped;
    }
    out->ip_drops = lwip_stats.ip.drop + lwip_stats.ip6.drop;
    out->tcp_drops = lwip_stats.tcp.drop;
    out->tcp_checksum_errors = lwip_stats.tcp.chkerr;
    out->ip_checksum_errors = lwip_stats.ip.chkerr;
    out->tcp_pcbs = lwip_stats.memp[MEMP_TCP_PCB]->used;
    out->tcp_rto = tcp_recovery_stats.rto;
    out->tcp_fast_recoveries = tcp_recovery_stats.fast_recoveries;
    out->tcp_sack_rexmits = tcp_recovery_stats.sack_rexmits;
    out->tcp_tail_loss_probes = tcp_recovery_stats.tail_loss_probes;
    out->tcp_sack_blocks = tcp_recovery_stats.sack_blocks;
    out->tcp_sack_ignored = tcp_recovery_stats.sack_ignored;
    out->tcp_pmtu_lowered = ucs_icmp_stats()->tcp_mss_lowered;
    out->icmp_ptb_refused = ucs_icmp_stats()->ptb_refused;
    out->pmtu_learnt = ucs_pmtu_stats()->learnt;
    out->pmtu_evicted = ucs_pmtu_stats()->evicted;
    out->pmtu_expired = ucs_pmtu_stats()->expired;
    out->tcp_pmtu_split = ucs_pmtu_stats()->tcp_segments_split;
    ucs_tcp_rtt_get_stats(&rtt);
    out->tcp_rtt_ts_samples = rtt.ts_samples;
    out->tcp_rtt_timed_samples = rtt.timed_samples;
    ucs_tcp_timer_get_stats(&timers);
    out->tcp_timer_due = (uint32_t)timers.due;
    out->tcp_timer_visits = timers.visits + timers.timewait_visits;
    ucs_tcp_timewait_get_stats(&tw);
    out->tcp_timewait_reopened = tw.reopened;
    out->tcp_timewait_old_syn = tw.old_syn;
    out->tcp_timewait_paws_syn = tw.paws_syn;
    ucs_syn_get_stats(&syn);
    out->tcp_syn_cookies_sent = syn.cookies_sent;
    out->tcp_syn_cookies_accepted = syn.cookies_accepted;
    out->tcp_syn_cookies_rejected = syn.cookies_rejected;
    out->tcp_syn_queue_full = syn.syn_queue_full;
    out->tcp_accept_queue_full = syn.accept_queue_full;
    ucs_rx_pressure_get_stats(&rxp);
    out->rx_pressure = rxp.events;
    out->rx_ooseq_shed = rxp.ooseq_shed;
    out->rx_copied = rxp.copied;
    ucs_tcpopt_get_stats(&opt);
    out->tcpopt_malformed = opt.malformed;
    out->tcpopt_unknown = opt.unknown_exid;
    out->tcpopt_delivered = opt.delivered;
    out->tcpopt_sent = opt.sent;
    out->tcpopt_withheld = opt.withheld;
    out->tcpopt_overrun_refused = opt.overrun_refused;
    ucs_tcp_guard_get_stats(&guard);
    out->tcp_far_seq = guard.far_seq;
    out->tcp_tiny_mss = guard.tiny_mss;
    out->tcp_rst_in_window = guard.rst_in_window;
    out->tcp_rst_out_of_window = guard.rst_out_of_window;
    out->tcp_syn_synchronized = guard.syn_synchronized;
    out->tcp_ack_unacceptable = guard.ack_unacceptable;
    out->tcp_challenge_acks = guard.challenge_acks;
    out->tcp_challenge_limited = guard.challenge_limited;
    out->tcp_seq_unacceptable = guard.seq_unacceptable;
    out->tcp_paws_rejected = guard.paws;
    out->tcp_syn_fin = guard.syn_fin;
    out->numa_node = s->numa_node;
    out->cpu = s->cpu;
}
