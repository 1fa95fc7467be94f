/* What looks at each IP packet before lwIP does (lwIP's IP input hooks): the
 * layer above registers it, so the stack calls nothing above itself. */
#ifndef UCS_STACK_IP_INPUT_H
#define UCS_STACK_IP_INPUT_H

struct pbuf;
struct netif;

#include <stdint.h>

/* Looks at p: returns 0 and lwIP goes on, or 1 having freed p (dropped). */
typedef int (*ucs_ip_input_fn)(struct pbuf *p, struct netif *inp);

/* From now on, IPv4 packets go past v4 and IPv6 packets past v6 first. */
void ucs_ip_input_observe(ucs_ip_input_fn v4, ucs_ip_input_fn v6);

/* ICMP "fragmentation needed" and ICMPv6 "packet too big" for TCP (RFC 1191,
 * RFC 8201), believed only when they quote a segment in flight (RFC 5927):
 * connections whose MSS they lowered, and those refused. The observer counts
 * them here, where ucs_stack_get_stats() reads them. */
struct ucs_icmp_stats {
    uint64_t tcp_mss_lowered, ptb_refused;
};
struct ucs_icmp_stats *ucs_icmp_stats(void);

#endif
