#include "tcp_guard.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"
#include "tcp_options.h"

#include <string.h>

static struct ucs_tcp_guard_stats stats;
static u8_t challenge_slot = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

void ucs_tcp_guard_get_stats(struct ucs_tcp_guard_stats *out)
{
    *out = stats;
}

/* The option block as one array, and its smallest MSS option (0: none). A
 * malformed block stops the walk: lwIP stops there too. */
static u16_t smallest_mss(const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, const u8_t *opt2)
{
    u8_t b[UCS_TCPOPT_MAX_LEN];
    u16_t mss = 0;

    if (optlen > sizeof(b))
        return 0;
    memcpy(b, hdr + 1, opt1len);
    if (opt2)
        memcpy(b + opt1len, opt2, (size_t)(optlen - opt1len));
    for (u16_t i = 0; i < optlen && b[i] != LWIP_TCP_OPT_EOL;) {
        if (b[i] == LWIP_TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= optlen || b[i + 1] < 2)
            break;
        if (b[i] == LWIP_TCP_OPT_MSS && b[i + 1] >= 4 && i + 4 <= optlen) {
            u16_t m = (u16_t)(b[i + 2] << 8 | b[i + 3]);
            if (!mss || m < mss)
                mss = m;
        }
        i = (u16_t)(i + b[i + 1]);
    }
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

bool ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                         const uint8_t *opt2)
{
    u8_t flags = TCPH_FLAGS(hdr);

    if (flags & TCP_SYN) {
        u16_t mss = smallest_mss(hdr, optlen, opt1len, opt2);
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
    if (flags & TCP_SYN) {
        stats.syn_synchronized++;
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
    if (ucs_tcp_guard_drops(pcb, hdr, optlen, opt1len, opt2))
        return ERR_ABRT;
    ucs_tcpopt_input(pcb, hdr, optlen, opt1len, opt2);
    return ERR_OK;
}
