#include "tcp_options.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static struct ucs_tcpopt_handler handlers[UCS_TCPOPT_MAX_HANDLERS];
static unsigned nhandlers;
static uint32_t registry_gen; /* changes whenever handlers[] does */
static struct ucs_tcpopt_stats stats;
static u8_t plan_slot = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

int ucs_tcpopt_register(const struct ucs_tcpopt_handler *h)
{
    for (unsigned i = 0; i < nhandlers; i++)
        if (handlers[i].exid == h->exid)
            return -EEXIST;
    if (nhandlers == UCS_TCPOPT_MAX_HANDLERS)
        return -ENOSPC;
    if (plan_slot == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
        plan_slot = tcp_ext_arg_alloc_id();
    handlers[nhandlers++] = *h;
    registry_gen++;
    return 0;
}

void ucs_tcpopt_unregister(uint16_t exid)
{
    for (unsigned i = 0; i < nhandlers; i++) {
        if (handlers[i].exid == exid) {
            handlers[i] = handlers[--nhandlers];
            registry_gen++;
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

struct exp_walk {
    const uint8_t *block;
    struct ucs_tcpopt_exp *found;
    unsigned n, max;
    bool bad;
};

static uint16_t exid_of(const uint8_t *o)
{
    return (uint16_t)(o[2] << 8 | o[3]);
}

/* Stops at an experimental option with the ExID *arg. */
static bool other_exid(const uint8_t *o, uint8_t len, void *arg)
{
    (void)len;
    return o[0] != UCS_TCPOPT_EXP || exid_of(o) != *(const uint16_t *)arg;
}

static bool take_exp(const uint8_t *o, uint8_t len, void *arg)
{
    struct exp_walk *w = arg;
    uint16_t exid;

    if (o[0] != UCS_TCPOPT_EXP)
        return true;
    if (len < 4) {
        w->bad = true;
        return false;
    }
    exid = exid_of(o);
    /* Look for the ExID in the whole block before this option, not just in
     * found[]: it holds at most max of them. That part is already checked. */
    if (ucs_tcpopt_walk(w->block, (size_t)(o - w->block), other_exid, &exid) == UCS_TCPOPT_STOPPED) {
        w->bad = true;
        return false;
    }
    if (w->n < w->max) {
        w->found[w->n].exid = exid;
        w->found[w->n].len = (uint8_t)(len - 4);
        w->found[w->n].payload = o + 4;
        w->n++;
    }
    return true;
}

int ucs_tcpopt_parse(const uint8_t *opts, size_t len, struct ucs_tcpopt_exp *found, unsigned max)
{
    struct exp_walk w = {opts, found, 0, max, false};

    if (ucs_tcpopt_walk(opts, len, take_exp, &w) == UCS_TCPOPT_MALFORMED || w.bad)
        return -1;
    return (int)w.n;
}

void ucs_tcpopt_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                      const uint8_t *opt2)
{
    uint8_t block[UCS_TCPOPT_MAX_LEN];
    struct ucs_tcpopt_exp found[UCS_TCPOPT_MAX_HANDLERS];
    int n;

    if (optlen == 0 || !ucs_tcpopt_gather(hdr, optlen, opt1len, opt2, block))
        return;
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
 * on the pcb's state (a SYN is queued while the pcb is still CLOSED). One
 * SYN-ACK shape (MSS, window scale and SACK-permitted, no timestamps: 12 bytes)
 * looks like timestamps alone and goes without our options. */
static int carries_syn(const struct tcp_pcb *pcb, u8_t internal_len)
{
    return pcb && internal_len != 0 && internal_len != LWIP_TCP_OPT_LEN_TS_OUT;
}

static uint8_t padded(uint8_t payload)
{
    return (uint8_t)((4u + payload + 3u) & ~3u);
}

/*
 * What a pcb's SYN (or SYN-ACK) carries of ours is decided once, when lwIP
 * first asks, which is as it queues the segment: lwIP sizes the segment's pbuf
 * then, but asks again and has the options written at every (re)transmission.
 * A handler whose answer changed in between (a route that appeared, a
 * credential that became publishable) would have its option written past the
 * pbuf, into the next block of lwIP's heap. So the plan is kept in the pcb, in
 * one ext arg word: bit 0 set, the bytes reserved in bits 1-6, each handler's
 * payload length in 6 bits from bit 8, the registry generation from bit 32.
 */
#define PLAN_BITS 6
_Static_assert(sizeof(uintptr_t) >= 8, "a plan needs a 64-bit word");
_Static_assert(8 + UCS_TCPOPT_MAX_HANDLERS * PLAN_BITS <= 32, "a plan holds every handler's length");
_Static_assert(UCS_TCPOPT_MAX_LEN < (1 << PLAN_BITS), "a length fits in a plan field");

struct plan {
    uint8_t reserved;                      /* bytes beyond lwIP's own options */
    uint8_t want[UCS_TCPOPT_MAX_HANDLERS]; /* payload bytes per handler */
    uint32_t gen;                          /* registry_gen when decided */
};

static uintptr_t plan_encode(const struct plan *pl)
{
    uintptr_t v = 1u | (uintptr_t)pl->reserved << 1 | (uintptr_t)pl->gen << 32;
    for (unsigned i = 0; i < UCS_TCPOPT_MAX_HANDLERS; i++)
        v |= (uintptr_t)pl->want[i] << (8 + i * PLAN_BITS);
    return v;
}

static bool plan_of(const struct tcp_pcb *pcb, struct plan *pl)
{
    uintptr_t v = (uintptr_t)tcp_ext_arg_get(pcb, plan_slot);
    if (!(v & 1u))
        return false;
    pl->reserved = (uint8_t)(v >> 1 & ((1u << PLAN_BITS) - 1));
    for (unsigned i = 0; i < UCS_TCPOPT_MAX_HANDLERS; i++)
        pl->want[i] = (uint8_t)(v >> (8 + i * PLAN_BITS) & ((1u << PLAN_BITS) - 1));
    pl->gen = (uint32_t)(v >> 32);
    return true;
}

/* How many payload bytes each handler sends on this SYN. */
static void plan_new(const struct tcp_pcb *pcb, u8_t internal_len, struct plan *pl)
{
    uint8_t total = internal_len;
    memset(pl, 0, sizeof(*pl));
    pl->gen = registry_gen;
    for (unsigned i = 0; i < nhandlers; i++) {
        int room = UCS_TCPOPT_MAX_LEN - total - 4;
        uint8_t want = room > 0 ? handlers[i].syn_len(pcb, (uint8_t)room) : 0;
        if (want > room)
            want = 0;
        pl->want[i] = want;
        if (want)
            total = (uint8_t)(total + padded(want));
    }
    pl->reserved = (uint8_t)(total - internal_len);
}

u8_t ucs_hook_tcp_optlen(const struct tcp_pcb *pcb, u8_t internal_len)
{
    struct plan pl;
    if (!carries_syn(pcb, internal_len) || plan_slot == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
        return internal_len;
    if (!plan_of(pcb, &pl)) {
        plan_new(pcb, internal_len, &pl);
        /* lwIP hands its hooks a const pcb; the pcb itself is not const. */
        tcp_ext_arg_set((struct tcp_pcb *)(uintptr_t)pcb, plan_slot, (void *)plan_encode(&pl));
    }
    return (u8_t)(internal_len + pl.reserved);
}

u32_t *ucs_hook_tcp_addopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb, u32_t *opts)
{
    struct plan pl;
    uint8_t *out = (uint8_t *)opts;
    uint8_t internal_len = (uint8_t)(out - (uint8_t *)(hdr + 1));

    /* Only a SYN or SYN-ACK carries ours. An empty ACK may have SACK blocks
     * before opts that the optlen hook was not told about (tcp_send_empty_ack):
     * by its length alone it would pass for a SYN, and options written after
     * them would overrun the segment lwIP sized. */
    if (!(TCPH_FLAGS(hdr) & TCP_SYN) || !carries_syn(pcb, internal_len) ||
        plan_slot == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID || !plan_of(pcb, &pl))
        return opts;
    /* Never past the segment: lwIP's "options not filled" check stops it then. */
    if (out + pl.reserved > (uint8_t *)p->payload + p->len) {
        stats.overrun_refused++;
        return opts;
    }
    for (unsigned i = 0; i < UCS_TCPOPT_MAX_HANDLERS; i++) {
        uint8_t len = pl.want[i];
        if (!len)
            continue;
        /* A handler that cannot stand by its option any more (or is gone)
         * leaves the room it reserved to NOPs. */
        if (pl.gen == registry_gen && handlers[i].syn_write(pcb, out + 4, len)) {
            out[0] = UCS_TCPOPT_EXP;
            out[1] = (uint8_t)(4 + len);
            out[2] = (uint8_t)(handlers[i].exid >> 8);
            out[3] = (uint8_t)handlers[i].exid;
            memset(out + 4 + len, LWIP_TCP_OPT_NOP, padded(len) - 4u - len);
            stats.sent++;
        } else {
            memset(out, LWIP_TCP_OPT_NOP, padded(len));
            stats.withheld++;
        }
        out += padded(len);
    }
    return (u32_t *)out;
}
