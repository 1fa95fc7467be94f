/* The functions lwIP calls through its hooks (named in lwipopts.h). */
#ifndef UCS_LWIP_HOOKS_H
#define UCS_LWIP_HOOKS_H

#include "lwip/err.h"
#include <stdbool.h>
#include "lwip/ip_addr.h"

struct tcp_pcb;
struct tcp_pcb_listen;
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
/* stack/tcp_timewait.c (patch 0006): whether a SYN for this TIME-WAIT pcb
 * opens a new connection (RFC 6191); if so, the ISN the listener then asks
 * the ISN hook for. */
int ucs_tcp_timewait_reopens(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                             const u8_t *opt2);
bool ucs_tcp_timewait_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port,
                          u32_t *isn);
/* stack/syn_cookie.c (patch 0007): whether a SYN joins the listener's SYN
 * queue (else a cookie answered it, or it is dropped); whether an ACK to a
 * listener carries a cookie (1: taken; *pcb is the new connection in
 * SYN_RCVD, or NULL when dropped); whether a half-open connection may
 * become established (its listener's accept queue has room). */
int ucs_syn_admit(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                  const u8_t *opt2);
int ucs_syn_cookie_ack(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                       const u8_t *opt2, struct tcp_pcb **pcb);
int ucs_syn_may_establish(struct tcp_pcb *pcb);
/* stack/ip4_id.c: the IPv4 ID of a packet to dest (patch 0010). */
u16_t ucs_ip4_id(const ip4_addr_t *dest, u8_t proto);
/* stack/pmtu.c: the path MTU to dest, at most the link's (patch 0011). */
u16_t ucs_pmtu4(const ip4_addr_t *dest, u16_t link_mtu);
u16_t ucs_pmtu6(const ip6_addr_t *dest, u16_t link_mtu);
/* ip_input.c: handed to what the layer above registered (ip_input.h). */
int ucs_hook_ip4_input(struct pbuf *p, struct netif *inp);
int ucs_hook_ip6_input(struct pbuf *p, struct netif *inp);

#endif
