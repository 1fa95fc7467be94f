/*
 * libFuzzer target: the TCP option code of stack/tcp_options.c.
 *
 * Input: [max] [split] [shape] [answers x4] [block...]
 *   max     found[] capacity given to ucs_tcpopt_parse (0..5)
 *   split   where the hook's option block is cut between the header's pbuf
 *           and the next one (lwIP's opt1len / opt2)
 *   shape   which outgoing segment lwIP asks our output hooks about
 *   answers what each registered handler's syn_len() says
 *   block   the option bytes, any length (also past 40)
 *
 * Checked, against an independent reference parser:
 *   - ucs_tcpopt_parse returns -1 exactly for malformed blocks, else
 *     min(experimental options, max) entries, the same as the reference;
 *   - every payload lies inside the block, and no ExID is accepted twice;
 *   - the receive hook delivers exactly those options, with their bytes, and
 *     counts malformed blocks and unknown ExIDs;
 *   - the output hooks: optlen() and addopts() agree, also when the handlers
 *     change their answers between the two asks (shape bit 5: lwIP sized the
 *     segment from the first), syn_len() is asked once per SYN, the options
 *     fit in 40 bytes and the segment, and what addopts() wrote parses back to
 *     what the handlers asked for (NOPs where one declines at sending time).
 */
#include "tcp_options.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip_hooks.h"
#include "random.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NHANDLERS UCS_TCPOPT_MAX_HANDLERS
#define FAIL(...) do { fprintf(stderr, "fuzz_tcpopt: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

static const uint16_t exids[NHANDLERS] = {0x7563, 0x1234, 0xabcd, 0x0000};

/* tcp_options.c keeps each SYN's plan in lwIP's pcb ext args, which links
 * lwIP's TCP in; what that needs from the rest of the stack never runs here. */
u32_t sys_now(void) { return 0; }
uint32_t ucs_random32(void) { return 0; }
void ucs_random_bytes(void *buf, size_t len) { memset(buf, 0, len); }
u32_t ucs_hook_tcp_isn(const ip_addr_t *l, u16_t lp, const ip_addr_t *r, u16_t rp) { return 0; }
/* stack/syn_cookie.c asks (netif_port.c is not linked) */
bool ucs_netif_is_host_local(const struct netif *netif) { return netif == NULL; }
err_t ucs_hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len, u8_t *opt2,
                            struct pbuf *p)
{
    return ERR_OK;
}
struct netif *ucs_hook_ip4_route(const ip4_addr_t *src, const ip4_addr_t *dest) { return NULL; }
struct netif *ucs_hook_ip6_route(const ip6_addr_t *src, const ip6_addr_t *dest) { return NULL; }
int ucs_hook_ip4_input(struct pbuf *p, struct netif *inp) { return 0; }
int ucs_hook_ip6_input(struct pbuf *p, struct netif *inp) { return 0; }

/* --- reference parser: the rules of tcp_options.h, written independently --- */

struct ref_opt {
    uint16_t exid;
    size_t off, len; /* payload offset and length in the block */
};

static int ref_parse(const uint8_t *b, size_t len, struct ref_opt *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len) {
        if (b[i] == 0)
            break;
        if (b[i] == 1) {
            i++;
            continue;
        }
        if (len - i < 2 || b[i + 1] < 2 || b[i + 1] > len - i)
            return -1;
        if (b[i] == UCS_TCPOPT_EXP) {
            uint16_t exid;
            if (b[i + 1] < 4)
                return -1;
            exid = (uint16_t)(b[i + 2] << 8 | b[i + 3]);
            for (size_t k = 0; k < n; k++)
                if (out[k].exid == exid)
                    return -1;
            CHECK(n < cap, "reference parser overflow");
            out[n].exid = exid;
            out[n].off = i + 4;
            out[n].len = b[i + 1] - 4u;
            n++;
        }
        i += b[i + 1];
    }
    return (int)n;
}

/* --- handlers: what they receive, what they send --- */

static struct {
    const uint8_t *block; /* the option bytes as they arrived */
    const struct ref_opt *expect;
    int nexpect;
    unsigned delivered[NHANDLERS];
} rx;

static uint8_t answers[NHANDLERS]; /* each handler's syn_len() */
static uint8_t planned[NHANDLERS];  /* what each said when first asked for this SYN */
static unsigned asked[NHANDLERS];
static bool declining;              /* handler 3 declines at sending time */
static const struct tcp_pcb *expected_pcb;

static int handler_index(uint16_t exid)
{
    for (int i = 0; i < NHANDLERS; i++)
        if (exids[i] == exid)
            return i;
    return -1;
}

static void received(int h, struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const uint8_t *payload, uint8_t len)
{
    int k;
    (void)pcb;
    (void)hdr;
    for (k = 0; k < rx.nexpect; k++)
        if (rx.expect[k].exid == exids[h])
            break;
    CHECK(k < rx.nexpect, "handler %04x called for an option the block does not hold", exids[h]);
    CHECK(len == rx.expect[k].len, "handler %04x got %u bytes, the option holds %zu", exids[h], len,
          rx.expect[k].len);
    CHECK(len <= UCS_TCPOPT_EXP_MAX_PAYLOAD, "payload of %u bytes", len);
    CHECK(memcmp(payload, rx.block + rx.expect[k].off, len) == 0, "handler %04x got other bytes", exids[h]);
    rx.delivered[h]++;
}

static uint8_t syn_len(int h, const struct tcp_pcb *pcb, uint8_t room)
{
    CHECK(pcb == expected_pcb, "syn_len for another pcb");
    CHECK(room > 0 && room <= UCS_TCPOPT_EXP_MAX_PAYLOAD, "syn_len offered %u bytes", room);
    CHECK(++asked[h] == 1, "syn_len asked %u times for one SYN", asked[h]);
    /* Handlers may answer more than room: the hook must refuse that. */
    planned[h] = answers[h] <= room ? answers[h] : 0;
    return answers[h];
}

static bool syn_write(int h, const struct tcp_pcb *pcb, uint8_t *payload, uint8_t len)
{
    CHECK(pcb == expected_pcb, "syn_write for another pcb");
    CHECK(len == planned[h], "syn_write asked for %u bytes, syn_len said %u", len, planned[h]);
    if (declining && h == 3)
        return false;
    for (unsigned i = 0; i < len; i++)
        payload[i] = (uint8_t)(h << 6 | (i & 0x3f));
    return true;
}

#define HANDLER(n)                                                                                              \
    static void rx##n(struct tcp_pcb *p, const struct tcp_hdr *hd, const uint8_t *pl, uint8_t l)              \
    {                                                                                                           \
        received(n, p, hd, pl, l);                                                                              \
    }                                                                                                           \
    static uint8_t len##n(const struct tcp_pcb *p, uint8_t room) { return syn_len(n, p, room); }              \
    static bool wr##n(const struct tcp_pcb *p, uint8_t *pl, uint8_t l) { return syn_write(n, p, pl, l); }
HANDLER(0)
HANDLER(1)
HANDLER(2)
HANDLER(3)

static void register_handlers(void)
{
    static bool done;
    const struct ucs_tcpopt_handler hs[NHANDLERS] = {
        {exids[0], len0, wr0, rx0}, {exids[1], len1, wr1, rx1}, {exids[2], len2, wr2, rx2}, {exids[3], len3, wr3, rx3}};
    if (done)
        return;
    for (int i = 0; i < NHANDLERS; i++)
        CHECK(ucs_tcpopt_register(&hs[i]) == 0, "register %d", i);
    /* The registry is full and refuses duplicates. */
    CHECK(ucs_tcpopt_register(&hs[0]) != 0, "duplicate ExID registered");
    done = true;
}

/* --- 1: the parser on arbitrary bytes --- */

static void check_parse(const uint8_t *data, size_t len, unsigned max)
{
    /* An allocation of exactly len bytes, so any read past it shows. */
    uint8_t *b = malloc(len ? len : 1);
    struct ucs_tcpopt_exp found[8];
    struct ref_opt ref[256];
    int n, r;

    memcpy(b, data, len);
    for (unsigned i = 0; i < 8; i++)
        found[i] = (struct ucs_tcpopt_exp){0xdead, 0xee, NULL};
    n = ucs_tcpopt_parse(b, len, found, max);
    r = ref_parse(b, len, ref, 256);
    if (r < 0) {
        CHECK(n == -1, "malformed block accepted (%d options)", n);
    } else {
        CHECK(n == (r < (int)max ? r : (int)max), "parse found %d, reference %d (max %u)", n, r, max);
        for (int k = 0; k < n; k++) {
            CHECK(found[k].exid == ref[k].exid, "option %d: ExID %04x, reference %04x", k, found[k].exid, ref[k].exid);
            CHECK(found[k].len == ref[k].len, "option %d: length", k);
            CHECK(found[k].payload == b + ref[k].off, "option %d: payload pointer", k);
            CHECK(found[k].payload >= b && found[k].payload + found[k].len <= b + len, "payload outside the block");
            for (int j = 0; j < k; j++)
                CHECK(found[j].exid != found[k].exid, "ExID %04x accepted twice", found[k].exid);
        }
    }
    /* On -1 the contract says nothing in found[] may be trusted; past max it
     * must never be written. */
    for (unsigned k = n >= 0 ? (unsigned)n : max; k < 8; k++)
        CHECK(found[k].exid == 0xdead && found[k].payload == NULL, "found[%u] written past the count", k);
    free(b);
}

/* --- 2: the receive hook, with the block split as lwIP may hand it --- */

static void check_inpacket(const uint8_t *opts, size_t optlen, size_t split)
{
    struct ucs_tcpopt_stats before, after;
    struct ref_opt ref[256];
    unsigned delivered = 0, unknown = 0;
    size_t opt1len = split <= optlen ? split : optlen;
    /* The header and the first part of the options in one allocation, the
     * rest in another, each exactly as large as its part. */
    uint8_t *first = malloc(TCP_HLEN + opt1len);
    uint8_t *second = optlen > opt1len ? malloc(optlen - opt1len) : NULL;
    struct tcp_hdr *hdr = (struct tcp_hdr *)(void *)first;
    int r = ref_parse(opts, optlen, ref, 256);

    memset(first, 0, TCP_HLEN);
    memcpy(first + TCP_HLEN, opts, opt1len);
    if (second)
        memcpy(second, opts + opt1len, optlen - opt1len);
    memset(&rx, 0, sizeof(rx));
    rx.block = opts;
    rx.expect = ref;
    rx.nexpect = r;
    ucs_tcpopt_get_stats(&before);
    ucs_tcpopt_input((struct tcp_pcb *)(uintptr_t)0x1000, hdr, (u16_t)optlen, (u16_t)opt1len, second);
    ucs_tcpopt_get_stats(&after);
    if (r < 0) {
        CHECK(after.malformed == before.malformed + 1, "malformed block not counted");
    } else {
        CHECK(after.malformed == before.malformed, "well-formed block counted as malformed");
        for (int k = 0; k < r && k < NHANDLERS; k++) {
            if (handler_index(ref[k].exid) >= 0)
                delivered++;
            else
                unknown++;
        }
    }
    CHECK(after.delivered - before.delivered == delivered, "delivered %llu, expected %u",
          (unsigned long long)(after.delivered - before.delivered), delivered);
    CHECK(after.unknown_exid - before.unknown_exid == unknown, "unknown ExIDs miscounted");
    for (int h = 0; h < NHANDLERS; h++)
        CHECK(rx.delivered[h] <= 1, "handler %d called %u times", h, rx.delivered[h]);
    free(first);
    free(second);
}

/* --- 3: the output hooks, called the way tcp_out.c calls them --- */

/* Option lengths lwIP computes itself (LWIP_TCP_OPT_LENGTH): on a SYN or
 * SYN-ACK, MSS plus any of window scale, SACK-permitted and timestamps; on
 * other segments, nothing or timestamps. An empty ACK may also carry SACK
 * blocks (tcp_send_empty_ack): those are written before the hook's options
 * but are not part of the length lwIP asks the optlen hook about. */
static void check_output(uint8_t shape)
{
    static const uint8_t syn_lens[] = {4, 8, 8, 12, 16, 12, 16, 20, 24};
    static const uint8_t sack_lens[] = {0, 12, 20, 28, 36};
    bool syn = shape & 1, null_pcb = (shape >> 7) & 1, change = (shape >> 5) & 1;
    static struct tcp_pcb fresh;
    uint8_t internal, sack = 0, total;
    const struct tcp_pcb *pcb = null_pcb ? NULL : &fresh;
    struct pbuf p;
    uint8_t *seg;
    struct tcp_hdr *hdr;
    u32_t *end;
    struct ucs_tcpopt_exp found[NHANDLERS];
    int n, written = 0;

    if (syn) {
        internal = syn_lens[(shape >> 1) % sizeof(syn_lens)];
    } else {
        internal = (shape >> 1) & 1 ? LWIP_TCP_OPT_LEN_TS_OUT : 0;
        sack = sack_lens[(shape >> 2) % sizeof(sack_lens)];
        if (internal + sack > 40)
            sack = 0;
    }
    memset(&fresh, 0, sizeof(fresh)); /* a new connection each time */
    memset(planned, 0, sizeof(planned));
    memset(asked, 0, sizeof(asked));
    declining = false;
    expected_pcb = pcb;
    total = ucs_hook_tcp_optlen(pcb, internal);
    if (change) { /* the handlers change their minds before the SYN is sent */
        for (int h = 0; h < NHANDLERS; h++)
            answers[h] = (uint8_t)(answers[h] * 5u + 12u);
        declining = true;
    }
    /* lwIP asks again (making the segment, sending it): the answers must agree. */
    CHECK(ucs_hook_tcp_optlen(pcb, internal) == total, "optlen changed between calls");
    CHECK(total >= internal && total <= 40 && total % 4 == 0, "optlen %u for internal %u", total, internal);
    CHECK(pcb || total == internal, "options for no pcb");

    /* The segment as lwIP lays it out, exactly as long as lwIP made it. */
    seg = malloc(TCP_HLEN + sack + total);
    memset(seg, 0xee, TCP_HLEN + sack + total);
    memset(&p, 0, sizeof(p));
    p.payload = seg;
    p.len = p.tot_len = (u16_t)(TCP_HLEN + sack + total);
    hdr = (struct tcp_hdr *)(void *)seg;
    TCPH_HDRLEN_FLAGS_SET(hdr, (5 + (sack + total) / 4), syn ? (TCP_SYN | ((shape & 0x40) ? TCP_ACK : 0)) : TCP_ACK);
    memset(seg + TCP_HLEN, LWIP_TCP_OPT_NOP, internal + sack); /* lwIP's own options, stand-ins */
    end = ucs_hook_tcp_addopts(&p, hdr, pcb, (u32_t *)(void *)(seg + TCP_HLEN + internal + sack));
    /* tcp_out.c asserts exactly this ("options not filled"). */
    CHECK((uint8_t *)end == seg + TCP_HLEN + sack + total,
          "addopts wrote %td bytes, optlen promised %u (internal %u, SACK %u, %s)",
          (uint8_t *)end - (seg + TCP_HLEN + internal + sack), total - internal, internal, sack,
          syn ? "SYN" : "not SYN");
    if (total > internal) {
        CHECK(syn && pcb, "our options on a segment that is not a SYN");
        for (int h = 0; h < NHANDLERS; h++)
            written += planned[h] && !(declining && h == 3);
        n = ucs_tcpopt_parse(seg + TCP_HLEN, sack + total, found, NHANDLERS);
        CHECK(n == written, "what addopts wrote parses to %d options, %d were written", n, written);
        for (int k = 0; k < n; k++) {
            int h = handler_index(found[k].exid);
            CHECK(h >= 0 && found[k].len == planned[h], "option %04x of %u bytes", found[k].exid, found[k].len);
            for (unsigned i = 0; i < found[k].len; i++)
                CHECK(found[k].payload[i] == (uint8_t)(h << 6 | (i & 0x3f)), "payload byte");
        }
    }
    free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned max;
    size_t split;
    uint8_t shape;

    register_handlers();
    if (size < 3 + NHANDLERS)
        return 0;
    max = data[0] % 6;
    split = data[1];
    shape = data[2];
    memcpy(answers, data + 3, NHANDLERS);
    data += 3 + NHANDLERS;
    size -= 3 + NHANDLERS;

    check_parse(data, size, max);
    if (size <= UCS_TCPOPT_MAX_LEN)
        check_inpacket(data, size, split);
    check_output(shape);
    return 0;
}
