#include "tcp_guard.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"
#include "tcp_opt_walk.h"
#include "tcp_options.h"

#include <string.h>

static struct ucs_tcp_guard_stats stats;
static u8_t challenge_slot = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

void ucs_tcp_guard_get_stats(struct ucs_tcp_guard_stats *out)
{
    *out = stats;
}

struct ts_walk {
    u32_t val;
    bool found;
};

static bool take_ts(const uint8_t *o, uint8_t len, void *arg)
{
    struct ts_walk *w = arg;

    if (o[0] != LWIP_TCP_OPT_TS)
        return true;
    if (len == LWIP_TCP_OPT_LEN_TS) {
        w->val = (u32_t)o[2] << 24 | (u32_t)o[3] << 16 | (u32_t)o[4] << 8 | o[5];
        w->found = true;
    }
    return false;
}

/* The TSval of a well-formed timestamps option (false: none), found as lwIP
 * finds it: the first timestamps option, in a block well formed up to it. */
static bool tsval(const u8_t *b, u16_t optlen, u32_t *val)
{
    struct ts_walk w = {0, false};

    if (ucs_tcpopt_walk(b, optlen, take_ts, &w) == UCS_TCPOPT_MALFORMED || !w.found)
        return false;
    *val = w.val;
    return true;
}

static bool take_mss(const uint8_t *o, uint8_t len, void *arg)
{
    u16_t *mss = arg;

    if (o[0] == LWIP_TCP_OPT_MSS && len >= 4) {
        u16_t m = (u16_t)(o[2] << 8 | o[3]);
        if (!*mss || m < *mss)
            *mss = m;
    }
    return true;
}

/* The smallest MSS option (0: none). A malformed option stops the walk: lwIP
 * stops there too. */
static u16_t smallest_mss(const u8_t *b, u16_t optlen)
{
    u16_t mss = 0;

    ucs_tcpopt_walk(b, optlen, take_mss, &mss);
    return mss;
}

static void challenge(struct tcp_pcb *pcb)
{
    u32_t now = sys_now();
    uintptr_t last;

    if (challenge_slot == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
        challenge_slot = tcp_ext_arg_alloc_id();
    /* The slot holds 1 + the time of the last challenge, 0 before the first. */
    last = (uintptr_t)tcp_ext_arg_get(pcb, challenge_slot);
    if (last && (u32_t)(now - (u32_t)(last - 1)) < UCS_TCP_CHALLENGE_INTERVAL_MS) {
        stats.challenge_limited++;
        return;
    }
    tcp_ext_arg_set(pcb, challenge_slot, (void *)((uintptr_t)now + 1));
    stats.challenge_acks++;
    tcp_send_empty_ack(pcb);
}

static bool synchronized(const struct tcp_pcb *pcb)
{
    return pcb->state >= ESTABLISHED && pcb->state <= LAST_ACK;
}

/* RFC 9293 3.10.7.4's acceptability of a segment without data, SYN or FIN:
 * RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND (the window last advertised), or
 * SEG.SEQ = RCV.NXT when that window is zero. */
static bool empty_acceptable(const struct tcp_pcb *pcb, u32_t seq)
{
    if (pcb->rcv_ann_right_edge == pcb->rcv_nxt)
        return seq == pcb->rcv_nxt;
    return TCP_SEQ_GEQ(seq, pcb->rcv_nxt) && TCP_SEQ_LT(seq, pcb->rcv_ann_right_edge);
}

bool ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                         const uint8_t *opt2, uint16_t len)
{
    u8_t flags = TCPH_FLAGS(hdr);
    u8_t opts[UCS_TCPOPT_MAX_LEN];
    bool have_opts = ucs_tcpopt_gather(hdr, optlen, opt1len, opt2, opts);
    u32_t ts;

    if ((flags & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN)) {
        stats.syn_fin++;
        return true;
    }
    if (flags & TCP_SYN) {
        u16_t mss = have_opts ? smallest_mss(opts, optlen) : 0;
        if ((mss && mss < UCS_TCP_MIN_PEER_MSS) || hdr->wnd < UCS_TCP_MIN_SYN_WND) {
            stats.tiny_mss++;
            return true;
        }
    }
    if (pcb->state < SYN_RCVD || pcb->state == TIME_WAIT)
        return false;

    /* lwIP's tcp_receive() takes a segment exactly 2^31 behind rcv_nxt for one
     * overlapping it and asserts ("insane offset!"). */
    u32_t from_next = hdr->seqno - pcb->rcv_nxt;
    if (from_next >= 0x40000000u && from_next <= 0xc0000000u) {
        stats.far_seq++;
        return true;
    }
    if (flags & TCP_RST) {
        if (hdr->seqno == pcb->rcv_nxt)
            return false;
        if (TCP_SEQ_BETWEEN(hdr->seqno, pcb->rcv_nxt, pcb->rcv_nxt + pcb->rcv_wnd)) {
            stats.rst_in_window++;
            challenge(pcb);
        } else {
            stats.rst_out_of_window++;
        }
        return true;
    }
    if (!synchronized(pcb))
        return false;
    /* PAWS (RFC 7323 5.3 R1): a segment whose TSval is older than TS.Recent
     * is an old duplicate; so TS.Recent, which lwIP takes from every segment
     * at the left edge, only moves forward. A RST passes (it is answered above). */
    if ((pcb->flags & TF_TIMESTAMP) && have_opts && tsval(opts, optlen, &ts) && TCP_SEQ_LT(ts, pcb->ts_recent)) {
        stats.paws++;
        challenge(pcb);
        return true;
    }
    if (flags & TCP_SYN) {
        stats.syn_synchronized++;
        challenge(pcb);
        return true;
    }
    if (len == 0 && !(flags & TCP_FIN) && !empty_acceptable(pcb, hdr->seqno)) {
        stats.seq_unacceptable++;
        challenge(pcb);
        return true;
    }
    if ((flags & TCP_ACK) && !TCP_SEQ_BETWEEN(hdr->ackno, pcb->lastack - pcb->snd_wnd_max, pcb->snd_nxt)) {
        stats.ack_unacceptable++;
        challenge(pcb);
        return true;
    }
    return false;
}

err_t ucs_hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    LWIP_UNUSED_ARG(p);
    if (ucs_tcp_guard_drops(pcb, hdr, optlen, opt1len, opt2, p->tot_len))
        return ERR_ABRT;
    ucs_tcpopt_input(pcb, hdr, optlen, opt1len, opt2);
    return ERR_OK;
}
