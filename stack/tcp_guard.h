/* What lwIP must never see of a TCP segment: input that trips its assertions
 * (any peer could abort the process), and the blind in-window attacks of
 * RFC 5961 (RST, SYN and ACK validation, with challenge ACKs). */
#ifndef UCS_TCP_GUARD_H
#define UCS_TCP_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_pcb;
struct tcp_hdr;

/* Segments smaller than this MSS or SYN window are refused: lwIP asserts when
 * its options (12 bytes of timestamps) do not fit in a segment. */
#define UCS_TCP_MIN_PEER_MSS 64
#define UCS_TCP_MIN_SYN_WND 128
/* At most one challenge ACK per connection in this many ms (RFC 5961 section 7,
 * per connection as Linux does, so that no global counter leaks state). */
#define UCS_TCP_CHALLENGE_INTERVAL_MS 500

struct ucs_tcp_guard_stats {
    uint64_t far_seq;          /* 2^30 or more from rcv_nxt: no window holds them */
    uint64_t tiny_mss;         /* SYNs with an MSS or window lwIP cannot handle */
    uint64_t rst_in_window;    /* RST not at rcv_nxt but inside the window: challenged */
    uint64_t rst_out_of_window;
    uint64_t syn_synchronized; /* SYN on a synchronized connection: challenged */
    uint64_t ack_unacceptable; /* ACK outside [SND.UNA - MAX.SND.WND, SND.NXT]: challenged */
    uint64_t challenge_acks;   /* sent */
    uint64_t challenge_limited;/* not sent: the connection had one too recently */
    uint64_t seq_unacceptable; /* ACK-only, outside the receive window: ACKed (RFC 9293 3.10.7.4) */
    uint64_t paws;             /* a TSval older than TS.Recent (RFC 7323 5): ACKed */
    uint64_t syn_fin;          /* SYN with FIN: nobody sends it but a scanner (Linux drops it too) */
};

/* Whether the segment, with len bytes of data, must be dropped; lwIP has made
 * hdr host order. Sends the challenge ACK itself when one is due. */
bool ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                         const uint8_t *opt2, uint16_t len);
void ucs_tcp_guard_get_stats(struct ucs_tcp_guard_stats *stats);

#endif
