/* Path MTUs per destination (stack/pmtu.c), and what a lowered one does to a
 * TCP connection (stack/tcp_resegment.c). lwIP asks the cache through its
 * hooks (ucs_pmtu4, ucs_pmtu6: lwip_hooks.h, patch 0011). */
#ifndef UCS_STACK_PMTU_H
#define UCS_STACK_PMTU_H

#include "lwip/ip_addr.h"

#include <stdbool.h>
#include <stdint.h>

struct tcp_pcb;

/* Linux's net.ipv4.route.mtu_expires: 10 minutes. */
#define UCS_PMTU_EXPIRES_MS 600000u

/* How long a learnt path MTU lasts, from the ICMP error that lowered it. */
void ucs_pmtu_set_expiry(uint32_t ms);
/* The path to dest carries mtu bytes: false, and nothing learnt, when mtu
 * is below what every path of the family carries (IPv4: Linux's
 * min_pmtu, 552; IPv6: 1280, RFC 8200 5). A larger MTU than the one known
 * changes nothing (as Linux: only a new entry or an expiry raises it). */
bool ucs_pmtu_learn(const ip_addr_t *dest, uint32_t mtu);

/* The path MTU to dest: link_mtu, or less if a lower one was learnt. */
uint16_t ucs_pmtu_path(const ip_addr_t *dest, uint16_t link_mtu);

struct ucs_pmtu_stats {
    uint64_t learnt, evicted, expired, refused;
    uint64_t tcp_segments_split; /* tcp_resegment.c */
};
struct ucs_pmtu_stats *ucs_pmtu_stats(void);

/* The connection's MSS is lowered to mss (if below it) and the segments it
 * holds at the old size, unsent or awaiting their ACK, are split to fit:
 * TCP never leaves it to IP fragmentation (RFC 8201 5.4 for IPv6; DF is on
 * over IPv4). */
void ucs_tcp_resegment(struct tcp_pcb *pcb, uint16_t mss);

#endif
