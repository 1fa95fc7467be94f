/*
 * A ucstack instance: lwIP run to completion over DPDK ports, one per process.
 * The thread that creates it is the only one that may poll it or use its sockets.
 */
#ifndef UCSTACK_STACK_H
#define UCSTACK_STACK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCS_MAX_PORTS 4

struct ucs_port_config {
    char devargs[256];      /* PCI address or vdev string */
    bool has_ipv4, has_ipv6, has_gateway;
    struct in_addr ipv4;
    uint8_t ipv4_prefix;
    struct in6_addr ipv6;
    uint8_t ipv6_prefix;
    struct in_addr gateway;
    uint16_t mtu;           /* 0: the port's own */
    uint32_t rx_mbufs;      /* receive buffers (0: 16,383) */
    bool host_local;        /* a link to another ucstack instance on this machine */
    /* The AF_UNIX socket where a host-local link's two ends attest each other
     * ("" none: the link then carries no credentials); this end listens on it
     * or connects to it. */
    char attest_path[108];
    bool attest_listen;
    /* The "fault" key as written ("" none): faults injected into what the
     * port receives, a test's tool (ucstack.conf(5)); ucs_config_parse checks
     * it, the port applies it. */
    char fault[128];
    /* Where this port's frames are written as pcapng, both directions, from
     * creation on ("" none); telemetry's /ucstack/capture stops and restarts
     * it. */
    char capture_path[256];
    /* 64 KiB TCP frames (TSO out, LRO in) off, where the port could carry them. */
    bool no_tso;
};

struct ucs_config {
    char eal_args[512];     /* DPDK EAL arguments, whitespace separated */
    /* Answer /ucstack/ commands on DPDK's telemetry socket (the EAL must not
     * be given --no-telemetry). */
    bool telemetry;
    /* How long a path MTU learnt from ICMP lasts, in seconds (0: Linux's
     * net.ipv4.route.mtu_expires, 600). */
    unsigned pmtu_expires_s;
    unsigned nports;
    struct ucs_port_config ports[UCS_MAX_PORTS];
};

/*
 * Parses "key = value" lines ('#' starts a comment). Keys: eal, telemetry
 * (yes or no), pmtu_expires (seconds), port, ipv4, ipv6, gateway, mtu, rx_mbufs, host_local, attest
 * ("listen PATH" or "connect PATH"), fault, capture (a pcapng file). Each
 * "port" line starts a new port; the keys after it describe that port.
 * "fault = loss=0.01,reorder=1%,dup=0.001,corrupt=0.001,seed=42,delay=50ms"
 * injects faults into what the port receives (any subset; a rate is a
 * fraction or a percentage; delay holds each frame that many milliseconds).
 * Returns 0, or -1 with a message naming the line in err.
 */
int ucs_config_parse(const char *text, struct ucs_config *cfg, char *err, size_t errlen);
int ucs_config_load(const char *path, struct ucs_config *cfg, char *err, size_t errlen);

struct ucs_stack;

struct ucs_stack *ucs_stack_create(const struct ucs_config *cfg, char *err, size_t errlen);
/* One run-to-completion step: receive, protocol input, timers, loopback, transmit. */
void ucs_stack_poll(struct ucs_stack *stack);
bool ucs_stack_links_up(const struct ucs_stack *stack);
/* The process's instance (NULL before ucs_stack_create), and whether the
 * calling thread is the one that created it and so may poll it. */
struct ucs_stack *ucs_stack_current(void);
bool ucs_stack_owned_by_caller(void);
/* Stops and closes the ports. lwIP itself lives until the process exits. */
void ucs_stack_destroy(struct ucs_stack *stack);

struct ucs_stack_stats {
    uint64_t rx_frames, tx_frames, tx_backlogged, tx_alloc_failed;
    uint32_t mbufs_total, mbufs_free, tx_backlog_now;
    uint64_t ip_drops, tcp_drops, tcp_checksum_errors;
    uint64_t tcpopt_malformed, tcpopt_unknown, tcpopt_delivered, tcpopt_sent;
    /* Room a SYN reserved for an option its handler declined to fill when the
     * SYN was (re)sent (sent as NOPs); writes refused for not fitting. */
    uint64_t tcpopt_withheld, tcpopt_overrun_refused;
    /* TCP segments refused before lwIP saw them: sequence numbers no window
     * holds, SYNs with an MSS or window below 64 or 128 bytes, and RFC 5961's
     * blind in-window attacks (RST not at the expected sequence number, SYN on
     * a synchronized connection, ACK of data never sent). The latter get a
     * challenge ACK, at most one per connection every 500 ms. */
    uint64_t tcp_far_seq, tcp_tiny_mss, tcp_rst_in_window, tcp_rst_out_of_window, tcp_syn_synchronized,
        tcp_ack_unacceptable, tcp_challenge_acks, tcp_challenge_limited;
    /* Also refused there: ACK-only segments outside the receive window (RFC
     * 9293 3.10.7.4) and segments failing PAWS (RFC 7323), both answered with
     * an ACK as limited as a challenge ACK, and SYNs with FIN (never answered). */
    uint64_t tcp_seq_unacceptable, tcp_paws_rejected, tcp_syn_fin;
    /* Host-local link attestation: peers attested and lost, cable echoes of a
     * nonce this instance did not give out, malformed attestation messages, and
     * frames dropped because they came before the attestation. */
    uint64_t attest_attested, attest_lost, attest_foreign_nonce, attest_malformed, attest_dropped_frames;
    /* Injected by the ports' "fault" key, and the IPv4 header checksum failures
     * that, with tcp_checksum_errors, show corrupted frames were caught. */
    uint64_t fault_dropped, fault_reordered, fault_duplicated, fault_corrupted;
    /* Frames the delay held, and those it dropped because its queue was full
     * (UCS_FAULT_DELAY_MAX frames: a router's tail drop). */
    uint64_t fault_delayed, fault_delay_dropped;
    uint64_t ip_checksum_errors;
    /* Loss recovery: retransmission timeouts, fast recoveries (on three
     * duplicate ACKs or on SACKs), segments resent because the peer's SACK
     * blocks showed them lost, tail loss probes, SACK blocks used, and SACK
     * blocks ignored (outside the unacknowledged data: D-SACKs, or bogus;
     * malformed SACK options). */
    uint64_t tcp_rto, tcp_fast_recoveries, tcp_sack_rexmits, tcp_tail_loss_probes, tcp_sack_blocks,
        tcp_sack_ignored;
    /* Round-trip time samples: from echoed timestamps (RFC 7323), and from
     * the one timed segment of connections without them. */
    uint64_t tcp_rtt_ts_samples, tcp_rtt_timed_samples;
    /* ICMP fragmentation needed and ICMPv6 packet too big for TCP: those
     * that lowered a connection's segment size, and those refused (quoting
     * no segment in flight, or an MTU below IPv4's 552 or IPv6's 1280). */
    uint64_t tcp_pmtu_lowered, icmp_ptb_refused;
    /* The path MTU cache (stack/pmtu.c): destinations learnt, entries
     * evicted for others (a bounded cache) and expired; segments queued at
     * the old size that a lowered MTU split (never IP fragments). */
    uint64_t pmtu_learnt, pmtu_evicted, pmtu_expired, tcp_pmtu_split;
    /* 64 KiB TCP frames (port key tso): sent to be cut at the MSS, received
     * put together from several segments, and received frames dropped for
     * being longer than 65,535 bytes or 64 mbufs. */
    uint64_t tx_tso_frames, rx_lro_frames, rx_oversize;
    uint32_t tcp_pcbs; /* connections lwIP holds in any state */
    /* lwIP's TCP timers visit only connections with timer work (the due
     * list): how many are on it now, and how many visits the timers made
     * (active connections and TIME-WAIT ones, all passes so far). */
    uint32_t tcp_timer_due;
    uint64_t tcp_timer_visits;
    /* A SYN for a 4-tuple in TIME-WAIT: opened a new connection at once
     * (RFC 6191), or refused as a possible old duplicate (neither its
     * sequence number nor its timestamp newer; or its timestamp older: PAWS). */
    uint64_t tcp_timewait_reopened, tcp_timewait_old_syn, tcp_timewait_paws_syn;
    /* Listeners: SYN-ACKs sent with a SYN cookie (the SYN queue was full),
     * ACKs whose cookie opened a connection, ACKs with no valid cookie while
     * cookies were out (reset, as any stray ACK); SYNs dropped because a
     * host-local link's SYN queue was full; SYNs and final ACKs dropped
     * because the accept queue was full. */
    uint64_t tcp_syn_cookies_sent, tcp_syn_cookies_accepted, tcp_syn_cookies_rejected, tcp_syn_queue_full,
        tcp_accept_queue_full;
    /* Receive buffers running short (fewer than 1/8 of a port's free):
     * times it happened, out-of-order segments dropped to free them, and
     * in-order data copied out of them into the heap while it lasted. */
    uint64_t rx_pressure, rx_ooseq_shed, rx_copied;
    int numa_node, cpu;
};
void ucs_stack_get_stats(const struct ucs_stack *stack, struct ucs_stack_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
