/*
 * ICMP and ICMPv6 "port unreachable" for connected UDP sockets: Linux reports
 * ECONNREFUSED on the next call, and lwIP 2.1.3 hands ICMP errors to nobody.
 * ICMP "fragmentation needed" and ICMPv6 "packet too big" for TCP (RFC 1191,
 * RFC 8201): lwIP ignored the first and cached any MTU the second gave, for
 * ever; here one quoting a segment of a connection that is in flight (RFC
 * 5927) goes to the path MTU cache (stack/pmtu.c) and lowers the segment
 * size of the connections to that destination, and any other is dropped and
 * counted. The
 * IP input hooks see every packet before lwIP validates it, so everything read
 * here is bounds-checked and checksummed before it is believed (except on the
 * loopback netif, where lwIP computes no checksums and packets are our own).
 */
#include "sock.h"
#include "udp.h"

#include "icmp_errors.h"
#include "ip_input.h"
#include "route.h"
#include "pmtu.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/icmp6.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/udp.h"

#include <string.h>

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP6_DEST_UNREACH 1
#define ICMP6_PORT_UNREACH 4
#define ICMP6_PACKET_TOO_BIG 2

/* One's-complement sum of len bytes of p from offset, as 16-bit big-endian words. */
static uint32_t sum_pbuf(const struct pbuf *p, uint16_t offset, uint16_t len)
{
    uint8_t buf[256];
    uint32_t sum = 0;
    bool odd = false;
    uint8_t carry = 0;

    while (len) {
        uint16_t n = len < sizeof(buf) ? len : sizeof(buf);
        if (pbuf_copy_partial(p, buf, n, offset) != n)
            return UINT32_MAX;
        for (uint16_t i = 0; i < n; i++) {
            if (odd)
                sum += (uint32_t)(carry << 8 | buf[i]);
            else
                carry = buf[i];
            odd = !odd;
        }
        offset = (uint16_t)(offset + n);
        len = (uint16_t)(len - n);
    }
    if (odd)
        sum += (uint32_t)carry << 8;
    return sum;
}

static bool sum_is_zero(uint32_t sum)
{
    if (sum == UINT32_MAX)
        return false;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

/* The connected UDP socket that sent local_port -> remote:remote_port. */
static void refuse(const ip_addr_t *remote, uint16_t local_port, uint16_t remote_port)
{
    for (struct udp_pcb *pcb = udp_pcbs; pcb; pcb = pcb->next) {
        if ((pcb->flags & UDP_FLAGS_CONNECTED) && pcb->local_port == local_port &&
            pcb->remote_port == remote_port && ip_addr_cmp_zoneless(&pcb->remote_ip, remote))
            udp_sock_refused(pcb->recv_arg, pcb->recv);
    }
}

/* An ICMP error saying the path from local to remote carries mtu bytes
 * (headers of hlen), quoting TCP header tcp: true if it is to be believed.
 * Then the path cache learns it (which refuses an MTU below the family's
 * minimum) and, as on Linux, where the route carries it, every connection
 * to remote gets the lower segment size, its queued segments split. */
static bool path_mtu(const ip_addr_t *local, const ip_addr_t *remote, const uint8_t *tcp, uint32_t mtu, uint16_t hlen)
{
    uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
    struct tcp_pcb *pcb = ucs_tcp_pcb_find(local, (u16_t)(tcp[0] << 8 | tcp[1]), remote, (u16_t)(tcp[2] << 8 | tcp[3]));
    u16_t mss;

    if (!pcb || pcb->state < SYN_RCVD || pcb->state == TIME_WAIT ||
        !(TCP_SEQ_GEQ(seq, pcb->lastack) && TCP_SEQ_LEQ(seq, pcb->snd_nxt)) || !ucs_pmtu_learn(remote, mtu))
        return false;
    mss = (u16_t)(ucs_pmtu_path(remote, (u16_t)mtu) - hlen - TCP_HLEN);
    if (mss < pcb->mss)
        ucs_icmp_stats()->tcp_mss_lowered++;
    for (struct tcp_pcb *other = tcp_active_pcbs; other; other = other->next)
        if (ip_addr_cmp_zoneless(&other->remote_ip, remote))
            ucs_tcp_resegment(other, mss);
    return true;
}

/* A packet too big quoting TCP (a smaller MTU than IPv6's 1280, RFC 8200 5,
 * is a lie: the cache refuses it). */
static bool packet_too_big(const uint8_t *icmp, const uint8_t *inner, const uint8_t *tcp)
{
    ip_addr_t local, remote;
    uint32_t mtu = (uint32_t)icmp[4] << 24 | (uint32_t)icmp[5] << 16 | (uint32_t)icmp[6] << 8 | icmp[7];

    IP_ADDR6(&local, 0, 0, 0, 0);
    IP_ADDR6(&remote, 0, 0, 0, 0);
    memcpy(ip_2_ip6(&local)->addr, inner + 8, 16);
    memcpy(ip_2_ip6(&remote)->addr, inner + 24, 16);
    ip6_addr_clear_zone(ip_2_ip6(&local));
    ip6_addr_clear_zone(ip_2_ip6(&remote));
    return path_mtu(&local, &remote, tcp, mtu, IP6_HLEN);
}

static int icmp4_seen(struct pbuf *p, struct netif *inp)
{
    uint8_t h[IP_HLEN_MAX + 8 + IP_HLEN_MAX + 8];
    uint16_t ihl, total, inner_ihl;
    ip_addr_t remote;
    const uint8_t *icmp, *inner, *udp;

    if (p->len < IP_HLEN || ((const uint8_t *)p->payload)[9] != IP_PROTO_ICMP)
        return 0;
    if (pbuf_copy_partial(p, h, IP_HLEN, 0) != IP_HLEN)
        return 0;
    ihl = (uint16_t)((h[0] & 0x0f) * 4);
    total = (uint16_t)(h[2] << 8 | h[3]);
    if (ihl < IP_HLEN || total > p->tot_len || total < ihl + 8 + IP_HLEN + 8 || (h[6] & 0x3f) || h[7])
        return 0;
    if (pbuf_copy_partial(p, h, (uint16_t)(ihl + 8 + IP_HLEN), 0) != ihl + 8 + IP_HLEN)
        return 0;
    icmp = h + ihl;
    if (icmp[0] != ICMP_DEST_UNREACH || (icmp[1] != ICMP_PORT_UNREACH && icmp[1] != ICMP_FRAG_NEEDED))
        return 0;
    inner = icmp + 8;
    inner_ihl = (uint16_t)((inner[0] & 0x0f) * 4);
    if (inner_ihl < IP_HLEN || inner[9] != (icmp[1] == ICMP_FRAG_NEEDED ? IP_PROTO_TCP : IP_PROTO_UDP) ||
        total < ihl + 8 + inner_ihl + 8)
        return 0;
    if (inp != ucs_loop_netif() &&
        (!sum_is_zero(sum_pbuf(p, 0, ihl)) || !sum_is_zero(sum_pbuf(p, ihl, (uint16_t)(total - ihl)))))
        return 0;
    if (pbuf_copy_partial(p, h, (uint16_t)(ihl + 8 + inner_ihl + 8), 0) != ihl + 8 + inner_ihl + 8)
        return 0;
    inner = h + ihl + 8;
    udp = inner + inner_ihl;
    IP_ADDR4(&remote, inner[16], inner[17], inner[18], inner[19]);
    if (icmp[1] == ICMP_FRAG_NEEDED) {
        /* RFC 1191: our TCP sets DF (patch 0010); lwIP ignores the answer. */
        ip_addr_t local;
        IP_ADDR4(&local, inner[12], inner[13], inner[14], inner[15]);
        if (!path_mtu(&local, &remote, udp, (uint32_t)(icmp[6] << 8 | icmp[7]), IP_HLEN))
            ucs_icmp_stats()->ptb_refused++;
        return 0;
    }
    refuse(&remote, (uint16_t)(udp[0] << 8 | udp[1]), (uint16_t)(udp[2] << 8 | udp[3]));
    return 0;
}

static int icmp6_seen(struct pbuf *p, struct netif *inp)
{
    uint8_t h[IP6_HLEN + 8 + IP6_HLEN + 8];
    uint16_t plen;
    uint32_t sum;
    ip_addr_t remote;
    const uint8_t *icmp, *inner, *udp;

    if (p->len < IP6_HLEN || ((const uint8_t *)p->payload)[6] != IP6_NEXTH_ICMP6)
        return 0;
    if (pbuf_copy_partial(p, h, sizeof(h), 0) != sizeof(h))
        return 0;
    plen = (uint16_t)(h[4] << 8 | h[5]);
    icmp = h + IP6_HLEN;
    inner = icmp + 8;
    udp = inner + IP6_HLEN;
    if (plen < 8 + IP6_HLEN + 8 || plen > p->tot_len - IP6_HLEN)
        return 0;
    if (!(icmp[0] == ICMP6_PACKET_TOO_BIG && inner[6] == IP6_NEXTH_TCP) &&
        (icmp[0] != ICMP6_DEST_UNREACH || icmp[1] != ICMP6_PORT_UNREACH || inner[6] != IP6_NEXTH_UDP))
        return 0;
    /* The checksum covers a pseudo-header: both addresses, the length, the next header. */
    if (inp != ucs_loop_netif()) {
        uint32_t body = sum_pbuf(p, IP6_HLEN, plen);
        sum = sum_pbuf(p, 8, 32);
        if (sum == UINT32_MAX || body == UINT32_MAX || !sum_is_zero(sum + plen + IP6_NEXTH_ICMP6 + body))
            return 0;
    }
    if (icmp[0] == ICMP6_PACKET_TOO_BIG) {
        /* Never to lwIP, whose destination cache would keep any MTU for
           ever (a tiny one fragments everything to that peer): the path
           cache has what was believed. */
        if (!packet_too_big(icmp, inner, udp))
            ucs_icmp_stats()->ptb_refused++;
        pbuf_free(p);
        return 1;
    }
    IP_ADDR6(&remote, 0, 0, 0, 0);
    memcpy(ip_2_ip6(&remote)->addr, inner + 24, 16);
    ip6_addr_clear_zone(ip_2_ip6(&remote));
    refuse(&remote, (uint16_t)(udp[0] << 8 | udp[1]), (uint16_t)(udp[2] << 8 | udp[3]));
    return 0;
}

void icmp_errors_init(void)
{
    ucs_ip_input_observe(icmp4_seen, icmp6_seen);
}
