/*
 * A listener's SYN queue, its accept queue, and SYN cookies (RFC 4987), as
 * Linux keeps them. lwIP 2.1.3 counted half-open connections against the
 * listen backlog and kept each for its 20 s SYN_RCVD time-out, so a backlog's
 * worth of spoofed SYNs shut the listener; patch 0007 calls in here instead.
 *
 * - The SYN queue: half-open connections (SYN_RCVD), lwIP's accepts_pending
 *   (16 bits since patch 0007). It holds max(backlog, UCS_SYN_QUEUE_MIN).
 * - The accept queue: established connections not accept()ed yet, as the
 *   socket layer reports them (ucs_syn_set_accept_queued); full at the
 *   backlog. While it is full, SYNs are dropped and so is the ACK that would
 *   complete a half-open connection, which stays half-open and completes on
 *   a later ACK (as Linux does; lwIP reset it).
 * - Beyond a full SYN queue, a SYN from a link that is not host-local gets a
 *   SYN-ACK whose sequence number is a cookie, and no state is kept; the ACK
 *   that returns it opens the connection. The cookie (as Linux's
 *   tcp_syncookies.c) is H1(4-tuple) + the peer's ISN + minute << 24 +
 *   (H2(4-tuple, minute) + MSS index) mod 2^24, H keyed SipHash with a boot
 *   secret; the ACK is checked for the 4-tuple (through H), the age (at most
 *   2 minutes) and the MSS index. With timestamps, the peer's window scale
 *   and SACK-permitted ride in the low 6 bits of our TSval and come back in
 *   its TSecr; without them the connection has neither, as on Linux. A
 *   host-local link (attested peers only) gets a large SYN queue instead: a
 *   cookie cannot carry the SYN's credential option.
 */
#include "syn_cookie.h"

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"
#include "links.h"
#include "tuple_hash.h"
#include "tcp_seg_options.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define MINUTE_MS 60000u
/* Our TSval's low bits: the peer's window scale (0xf: none) and SACK. */
#define TS_OPT_MASK 0x3fu
#define TS_OPT_WSCALE 0x0fu
#define TS_OPT_SACK 0x10u

/* The MSS a cookie can say, as Linux's IPv4 table. */
static const u16_t mss_table[] = {536, 1300, 1440, 1460};

static struct ucs_syn_stats stats;
static uint8_t key[16];
static bool key_ready;
static bool cookies_out;
static u32_t last_cookie_ms;

void ucs_syn_get_stats(struct ucs_syn_stats *out)
{
    *out = stats;
}

void ucs_syn_set_accept_queued(struct tcp_pcb *lpcb, unsigned queued)
{
    ((struct tcp_pcb_listen *)lpcb)->ucs_accept_queued = (u16_t)LWIP_MIN(queued, 0xffffu);
}

static bool accept_queue_full(const struct tcp_pcb_listen *lpcb)
{
    return lpcb->ucs_accept_queued >= lpcb->backlog;
}

/* H(4-tuple of the segment being input, word); hdr is host order. */
static u32_t hash(const struct tcp_hdr *hdr, u32_t word)
{
    return (u32_t)ucs_tuple_hash(key, &key_ready, ip_current_src_addr(), hdr->src, ip_current_dest_addr(), hdr->dest,
                                 &word, sizeof(word));
}

/* Minutes of sys_now()'s clock, counted in 64 bits: sys_now() wraps every
 * 49.7 days, not at a whole minute, and a cookie made just before the wrap
 * would have been refused as 98 minutes old just after it. */
static u32_t minute_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (u32_t)(now.tv_sec / 60);
}

static u32_t make_cookie(const struct tcp_hdr *syn, u32_t mss_index)
{
    u32_t minute = minute_now();
    return hash(syn, 0xffffffffu) + syn->seqno + (minute << COOKIE_BITS) +
           ((hash(syn, minute) + mss_index) & COOKIE_MASK);
}

/* The MSS index the cookie says, or -1 when it is not ours, or too old. */
static int check_cookie(const struct tcp_hdr *ack)
{
    u32_t minute = minute_now();
    u32_t c = (ack->ackno - 1) - hash(ack, 0xffffffffu) - (ack->seqno - 1);
    u32_t age = (minute - (c >> COOKIE_BITS)) & (0xffffffffu >> COOKIE_BITS);
    u32_t index;

    if (age >= UCS_SYN_COOKIE_MAX_AGE_MIN)
        return -1;
    index = (c - hash(ack, minute - age)) & COOKIE_MASK;
    return index < LWIP_ARRAYSIZE(mss_table) ? (int)index : -1;
}

static void put32(u8_t *p, u32_t v)
{
    v = lwip_htonl(v);
    memcpy(p, &v, 4);
}

/* The SYN-ACK of a cookie: built here, since no pcb exists to send it. */
static void send_cookie(const struct tcp_hdr *syn, const struct ucs_tcp_seg_opts *o, u32_t cookie, u16_t mss)
{
    const ip_addr_t *src = ip_current_dest_addr(), *dst = ip_current_src_addr();
    bool ts = LWIP_TCP_TIMESTAMPS && o->has_ts;
    /* without timestamps nothing would remember window scale or SACK: not
     * offered (as Linux) */
    u16_t optlen = (u16_t)(4 + (ts ? 12 : 0) + (ts && o->has_wscale ? 4 : 0));
    struct netif *netif = ip_route(src, dst);
    struct pbuf *p;
    struct tcp_hdr *h;
    u8_t *opt;

    if (!netif)
        return;
    p = pbuf_alloc(PBUF_IP, (u16_t)(TCP_HLEN + optlen), PBUF_RAM);
    if (!p)
        return;
    h = (struct tcp_hdr *)p->payload;
    memset(h, 0, TCP_HLEN);
    h->src = lwip_htons(syn->dest);
    h->dest = lwip_htons(syn->src);
    h->seqno = lwip_htonl(cookie);
    h->ackno = lwip_htonl(syn->seqno + 1);
    TCPH_HDRLEN_FLAGS_SET(h, (TCP_HLEN + optlen) / 4, TCP_SYN | TCP_ACK);
    h->wnd = lwip_htons((u16_t)LWIP_MIN(TCP_WND, 0xffff));
    opt = (u8_t *)(h + 1);
    *opt++ = LWIP_TCP_OPT_MSS;
    *opt++ = LWIP_TCP_OPT_LEN_MSS;
    *opt++ = (u8_t)(mss >> 8);
    *opt++ = (u8_t)mss;
    if (ts) {
        /* TSval as lwIP's clock says (its later TSvals never go below it),
         * with the options in its low bits */
        u32_t now = sys_now();
        u32_t tsval = (now & ~TS_OPT_MASK) | (o->has_wscale ? LWIP_MIN(o->wscale, 14) : TS_OPT_WSCALE) |
                      (o->sack_permitted ? TS_OPT_SACK : 0);
        if (tsval > now)
            tsval -= TS_OPT_MASK + 1;
        if (o->sack_permitted) {
            *opt++ = LWIP_TCP_OPT_SACK_PERM;
            *opt++ = LWIP_TCP_OPT_LEN_SACK_PERM;
        } else {
            *opt++ = LWIP_TCP_OPT_NOP;
            *opt++ = LWIP_TCP_OPT_NOP;
        }
        *opt++ = LWIP_TCP_OPT_TS;
        *opt++ = LWIP_TCP_OPT_LEN_TS;
        put32(opt, tsval);
        put32(opt + 4, o->tsval);
        opt += 8;
        if (o->has_wscale) {
            *opt++ = LWIP_TCP_OPT_NOP;
            *opt++ = LWIP_TCP_OPT_WS;
            *opt++ = LWIP_TCP_OPT_LEN_WS;
            *opt++ = TCP_RCV_SCALE;
        }
    }
#if CHECKSUM_GEN_TCP
    IF__NETIF_CHECKSUM_ENABLED(netif, NETIF_CHECKSUM_GEN_TCP)
    {
        h->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, p->tot_len, src, dst);
    }
#endif
    if (ip_output_if(p, src, dst, TCP_TTL, 0, IP_PROTO_TCP, netif) == ERR_OK) {
        stats.cookies_sent++;
        cookies_out = true;
        last_cookie_ms = sys_now();
    }
    pbuf_free(p);
}

int ucs_syn_admit(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, const u8_t *opt2)
{
    bool local = ucs_netif_is_host_local(ip_current_input_netif());
    u16_t limit = local ? UCS_SYN_QUEUE_HOST_LOCAL : LWIP_MAX(lpcb->backlog, UCS_SYN_QUEUE_MIN);
    struct ucs_tcp_seg_opts o;
    int index = 0;

    if (accept_queue_full(lpcb)) {
        stats.accept_queue_full++;
        return 0;
    }
    if (lpcb->accepts_pending < limit)
        return 1;
    if (local) {
        stats.syn_queue_full++;
        return 0;
    }
    if (!ucs_tcp_seg_opts_parse(hdr, optlen, opt1len, opt2, &o))
        return 0;
    /* the largest MSS of the table the peer can take (536 without an option) */
    for (size_t i = 0; i < LWIP_ARRAYSIZE(mss_table); i++)
        if (o.has_mss && mss_table[i] <= o.mss)
            index = (int)i;
    send_cookie(hdr, &o, make_cookie(hdr, (u32_t)index),
                tcp_eff_send_mss(TCP_MSS, ip_current_dest_addr(), ip_current_src_addr()));
    return 0;
}

int ucs_syn_cookie_ack(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                       const u8_t *opt2, struct tcp_pcb **out)
{
    struct ucs_tcp_seg_opts o;
    struct tcp_pcb *npcb;
    int index;

    if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_RST | TCP_ACK)) != TCP_ACK || !cookies_out)
        return 0;
    /* Only while cookies may still be out: otherwise nothing is checked and
     * an ACK to a listener is reset as before. */
    if (sys_now() - last_cookie_ms >= UCS_SYN_COOKIE_MAX_AGE_MIN * MINUTE_MS) {
        cookies_out = false;
        return 0;
    }
    index = check_cookie(hdr);
    if (index < 0 || !ucs_tcp_seg_opts_parse(hdr, optlen, opt1len, opt2, &o)) {
        stats.cookies_rejected++;
        return 0;
    }
    if (accept_queue_full(lpcb)) {
        /* dropped: the peer sends it again (with its data) */
        stats.accept_queue_full++;
        return 1;
    }
    npcb = tcp_alloc(lpcb->prio);
    if (!npcb) {
        TCP_STATS_INC(tcp.memerr);
        return 1;
    }
    /* As tcp_listen_input sets up a pcb for a SYN, and as its SYN-ACK left it. */
    lpcb->accepts_pending++;
    tcp_set_flags(npcb, TF_BACKLOGPEND);
    ip_addr_copy(npcb->local_ip, *ip_current_dest_addr());
    ip_addr_copy(npcb->remote_ip, *ip_current_src_addr());
    npcb->local_port = lpcb->local_port;
    npcb->remote_port = hdr->src;
    npcb->state = SYN_RCVD;
    npcb->rcv_nxt = hdr->seqno;
    npcb->rcv_ann_right_edge = npcb->rcv_nxt;
    npcb->lastack = hdr->ackno - 1;
    npcb->snd_wl2 = npcb->lastack;
    npcb->snd_nxt = hdr->ackno;
    npcb->snd_lbb = hdr->ackno;
    npcb->snd_wl1 = hdr->seqno - 2; /* forces the window update */
    npcb->callback_arg = lpcb->callback_arg;
    npcb->listener = lpcb;
    npcb->so_options = lpcb->so_options & SOF_INHERITED;
    npcb->netif_idx = lpcb->netif_idx;
    npcb->mss = tcp_eff_send_mss(mss_table[index], &npcb->local_ip, &npcb->remote_ip);
#if LWIP_TCP_TIMESTAMPS
    if (o.has_ts && o.tsecr) {
        u32_t bits = o.tsecr & TS_OPT_MASK;
        tcp_set_flags(npcb, TF_TIMESTAMP);
        npcb->ts_recent = o.tsval;
        npcb->ts_lastacksent = npcb->rcv_nxt;
        if (bits & TS_OPT_SACK)
            tcp_set_flags(npcb, TF_SACK);
#if LWIP_WND_SCALE
        if ((bits & TS_OPT_WSCALE) != TS_OPT_WSCALE) {
            npcb->snd_scale = (u8_t)(bits & TS_OPT_WSCALE);
            npcb->rcv_scale = TCP_RCV_SCALE;
            tcp_set_flags(npcb, TF_WND_SCALE);
            npcb->rcv_wnd = npcb->rcv_ann_wnd = TCP_WND;
        }
#endif
    }
#endif
    npcb->snd_wnd = SND_WND_SCALE(npcb, hdr->wnd);
    npcb->snd_wnd_max = npcb->snd_wnd;
    TCP_REG_ACTIVE(npcb);
    if (tcp_ext_arg_invoke_callbacks_passive_open(lpcb, npcb) != ERR_OK) {
        tcp_abandon(npcb, 0);
        return 1;
    }
    stats.cookies_accepted++;
    *out = npcb;
    return 1;
}

int ucs_syn_may_establish(struct tcp_pcb *pcb)
{
    if (!pcb->listener || !accept_queue_full(pcb->listener))
        return 1;
    stats.accept_queue_full++;
    return 0;
}
