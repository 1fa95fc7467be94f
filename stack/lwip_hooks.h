/* The functions lwIP calls through its hooks (named in lwipopts.h). */
#ifndef UCS_LWIP_HOOKS_H
#define UCS_LWIP_HOOKS_H

#include "lwip/err.h"
#include "lwip/ip_addr.h"

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
struct netif;

u32_t ucs_hook_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port);
err_t ucs_hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p);
u8_t ucs_hook_tcp_optlen(const struct tcp_pcb *pcb, u8_t internal_len);
u32_t *ucs_hook_tcp_addopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts);
struct netif *ucs_hook_ip4_route(const ip4_addr_t *src, const ip4_addr_t *dest);
struct netif *ucs_hook_ip6_route(const ip6_addr_t *src, const ip6_addr_t *dest);
/* stack/ip4_id.c: the IPv4 ID of a packet to dest (patch 0010). */
u16_t ucs_ip4_id(const ip4_addr_t *dest, u8_t proto);
/* libsock/icmp_errors.c: ICMP port unreachable for connected UDP sockets. */
int ucs_hook_ip4_input(struct pbuf *p, struct netif *inp);
int ucs_hook_ip6_input(struct pbuf *p, struct netif *inp);
/* ICMPv6 packet too big for TCP (RFC 8201), believed only when it quotes a
 * segment in flight (RFC 5927): connections whose MSS it lowered, and those
 * refused (dropped before lwIP caches their MTU). */
struct ucs_icmp_stats {
    u64_t tcp_mss_lowered, ptb_refused;
};
void ucs_icmp_get_stats(struct ucs_icmp_stats *out);

#endif
