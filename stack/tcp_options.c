#include "tcp_options.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"

#include <errno.h>
#include <string.h>

static struct ucs_tcpopt_handler handlers[UCS_TCPOPT_MAX_HANDLERS];
static unsigned nhandlers;
static struct ucs_tcpopt_stats stats;

int ucs_tcpopt_register(const struct ucs_tcpopt_handler *h)
{
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].exid == h->exid)
            return -EEXIST;
    if (nhandlers == UCS_TCPOPT_MAX_HANDLERS)
        return -ENOSPC;
    handlers[nhandlers++] = *h;
    return 0;
}

void ucs_tcpopt_unregister(uint16_t exid)
{
    for (unsigned i = 0; i < nhandlers; i++) {
        if (handlers[i].exid == exid) {
            handlers[i] = handlers[--nhandlers];
            return;
        }
    }
}

void ucs_tcpopt_get_stats(struct ucs_tcpopt_stats *out)
{
    *out = stats;
}

static const struct ucs_tcpopt_handler *handler_for(uint16_t exid)
{
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].exid == exid)
            return &handlers[i];
    return NULL;
}

int ucs_tcpopt_parse(const uint8_t *opts, size_t len, struct ucs_tcpopt_exp *found, unsigned max)
{
    unsigned n = 0;
    size_t i = 0;

    while (i < len) {
        uint8_t kind = opts[i], olen;
        if (kind == LWIP_TCP_OPT_EOL)
            break;
        if (kind == LWIP_TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len)
            return -1;
        olen = opts[i + 1];
        if (olen < 2 || olen > len - i)
            return -1;
        if (kind == UCS_TCPOPT_EXP) {
            uint16_t exid;
            if (olen < 4)
                return -1;
            exid = (uint16_t)(opts[i + 2] << 8 | opts[i + 3]);
            /* Look for the ExID in the whole block before this option, not just in
             * found[]: it holds at most max of them. That part is already checked. */
            for (size_t j = 0; j < i; j += opts[j] == LWIP_TCP_OPT_NOP ? 1 : opts[j + 1])
                if (opts[j] == UCS_TCPOPT_EXP && (uint16_t)(opts[j + 2] << 8 | opts[j + 3]) == exid)
                    return -1;
            if (n < max) {
                found[n].exid = exid;
                found[n].len = (uint8_t)(olen - 4);
                found[n].payload = opts + i + 4;
                n++;
            }
        }
        i += olen;
    }
    return (int)n;
}

void ucs_tcpopt_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                      const uint8_t *opt2)
{
    uint8_t block[UCS_TCPOPT_MAX_LEN];
    struct ucs_tcpopt_exp found[UCS_TCPOPT_MAX_HANDLERS];
    int n;

    if (optlen == 0 || optlen > sizeof(block))
        return;
    memcpy(block, hdr + 1, opt1len);
    if (opt2)
        memcpy(block + opt1len, opt2, optlen - opt1len);
    n = ucs_tcpopt_parse(block, optlen, found, UCS_TCPOPT_MAX_HANDLERS);
    if (n < 0) {
        stats.malformed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct ucs_tcpopt_handler *h = handler_for(found[i].exid);
        if (!h) {
            stats.unknown_exid++;
            continue;
        }
        stats.delivered++;
        h->received(pcb, hdr, found[i].payload, found[i].len);
    }
}

/* lwIP puts MSS only on SYN and SYN-ACK; any other segment carries no options
 * of its own or only timestamps. The decision rests on the option length, not
 * on the pcb's state, because lwIP computes the length once when it queues a
 * segment (a SYN is queued while the pcb is still CLOSED) and again when it
 * sends it, and both answers must agree. One SYN-ACK shape (MSS, window scale
 * and SACK-permitted, no timestamps: 12 bytes) looks like timestamps alone
 * and goes without our options. */
static int carries_syn(const struct tcp_pcb *pcb, u8_t internal_len)
{
    return pcb && internal_len != 0 && internal_len != LWIP_TCP_OPT_LEN_TS_OUT;
}

static uint8_t padded(uint8_t payload)
{
    return (uint8_t)((4u + payload + 3u) & ~3u);
}

/* How many payload bytes each handler sends on this SYN; returns the total
 * option length with them. Both hooks use it, so they agree by construction. */
static uint8_t plan(const struct tcp_pcb *pcb, u8_t internal_len, uint8_t want[UCS_TCPOPT_MAX_HANDLERS])
{
    uint8_t total = internal_len;
    for (unsigned i = 0; i < nhandlers; i++) {
        int room = UCS_TCPOPT_MAX_LEN - total - 4;
        want[i] = room > 0 ? handlers[i].syn_len(pcb, (uint8_t)room) : 0;
        if (want[i] > room)
            want[i] = 0;
        if (want[i])
            total = (uint8_t)(total + padded(want[i]));
    }
    return total;
}

u8_t ucs_hook_tcp_optlen(const struct tcp_pcb *pcb, u8_t internal_len)
{
    uint8_t want[UCS_TCPOPT_MAX_HANDLERS];
    if (!carries_syn(pcb, internal_len))
        return internal_len;
    return plan(pcb, internal_len, want);
}

u32_t *ucs_hook_tcp_addopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts)
{
    uint8_t want[UCS_TCPOPT_MAX_HANDLERS];
    uint8_t *out = (uint8_t *)opts;
    uint8_t internal_len = (uint8_t)(out - (uint8_t *)(hdr + 1));

    LWIP_UNUSED_ARG(p);
    /* Only a SYN or SYN-ACK carries ours. An empty ACK may have SACK blocks
     * before opts that the optlen hook was not told about (tcp_send_empty_ack):
     * by its length alone it would pass for a SYN, and options written after
     * them would overrun the segment lwIP sized. */
    if (!(TCPH_FLAGS(hdr) & TCP_SYN) || !carries_syn(pcb, internal_len))
        return opts;
    plan(pcb, internal_len, want);
    for (unsigned i = 0; i < nhandlers; i++) {
        if (!want[i])
            continue;
        out[0] = UCS_TCPOPT_EXP;
        out[1] = (uint8_t)(4 + want[i]);
        out[2] = (uint8_t)(handlers[i].exid >> 8);
        out[3] = (uint8_t)handlers[i].exid;
        handlers[i].syn_write(pcb, out + 4, want[i]);
        memset(out + 4 + want[i], LWIP_TCP_OPT_NOP, padded(want[i]) - 4u - want[i]);
        out += padded(want[i]);
        stats.sent++;
    }
    return (u32_t *)out;
}
