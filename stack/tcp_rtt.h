/* Round-trip time samples, the retransmission timeout and the tail loss
 * probe's timeout for lwIP's TCP (stack/patches/0004 calls the functions
 * declared in lwip/priv/tcp_priv.h); here only what the stack reports. */
#ifndef UCS_TCP_RTT_H
#define UCS_TCP_RTT_H

#include <stdint.h>

struct ucs_tcp_rtt_stats {
    uint64_t ts_samples;    /* from the TSecr of an ACK of new data (RFC 7323) */
    uint64_t timed_samples; /* from the one timed segment, when no timestamps */
};
void ucs_tcp_rtt_get_stats(struct ucs_tcp_rtt_stats *out);

#endif
