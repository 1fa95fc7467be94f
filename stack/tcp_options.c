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
            for (unsigned k = 0; k < n; k++)
                if (found[k].exid == exid)
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

err_t ucs_hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    uint8_t block[UCS_TCPOPT_MAX_LEN];
    struct ucs_tcpopt_exp found[UCS_TCPOPT_MAX_HANDLERS];
    int n;

    LWIP_UNUSED_ARG(p);
    if (optlen == 0 || optlen > sizeof(block))
        return ERR_OK;
    memcpy(block, hdr + 1, opt1len);
    if (opt2)
        memcpy(block + opt1len, opt2, optlen - opt1len);
    n = ucs_tcpopt_parse(block, optlen, found, UCS_TCPOPT_MAX_HANDLERS);
    if (n < 0) {
        stats.malformed++;
        return ERR_OK;
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
    return ERR_OK;
}

static int carries_syn(const struct tcp_pcb *pcb)
{
    return pcb && (pcb->state == SYN_SENT || pcb->state == SYN_RCVD);
}

static uint8_t padded(uint8_t payload)
{
    return (uint8_t)((4u + payload + 3u) & ~3u);
}

u8_t ucs_hook_tcp_optlen(const struct tcp_pcb *pcb, u8_t internal_len)
{
    uint8_t total = internal_len;
    if (!carries_syn(pcb))
        return total;
    for (unsigned i = 0; i < nhandlers; i++) {
        int room = UCS_TCPOPT_MAX_LEN - total - 4;
        uint8_t want;
        if (room <= 0)
            break;
        want = handlers[i].syn_len(pcb, (uint8_t)room);
        if (want && padded(want) <= UCS_TCPOPT_MAX_LEN - total)
            total = (uint8_t)(total + padded(want));
    }
    return total;
}

/* The space to fill is what the header length says is left after lwIP's own
 * options, so a handler changing its mind between reserve and write cannot
 * overrun the segment: what does not fit is left out and the rest is NOPs. */
u32_t *ucs_hook_tcp_addopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts)
{
    uint8_t *out = (uint8_t *)opts;
    uint8_t *end = (uint8_t *)hdr + TCPH_HDRLEN_BYTES(hdr);

    LWIP_UNUSED_ARG(p);
    if (out >= end)
        return opts;
    for (unsigned i = 0; i < nhandlers && carries_syn(pcb); i++) {
        int room = (int)(end - out) - 4;
        uint8_t want;
        if (room <= 0)
            break;
        want = handlers[i].syn_len(pcb, (uint8_t)room);
        if (!want || padded(want) > end - out)
            continue;
        out[0] = UCS_TCPOPT_EXP;
        out[1] = (uint8_t)(4 + want);
        out[2] = (uint8_t)(handlers[i].exid >> 8);
        out[3] = (uint8_t)handlers[i].exid;
        handlers[i].syn_write(pcb, out + 4, want);
        memset(out + 4 + want, LWIP_TCP_OPT_NOP, padded(want) - 4u - want);
        out += padded(want);
        stats.sent++;
    }
    memset(out, LWIP_TCP_OPT_NOP, (size_t)(end - out));
    return (u32_t *)end;
}
