/* Fault injection on received frames: see fault.h. */
#include "fault.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <stdlib.h>

struct held_frame {
    struct rte_mbuf *m;
    unsigned frames_left;
};

/* A delayed frame and the timer cycle it may leave at. One delay for all, so
 * the queue is a FIFO ordered by that time. */
struct delayed_frame {
    struct rte_mbuf *m;
    uint64_t due;
};

struct ucs_fault {
    uint64_t state;
    uint64_t loss, reorder, duplicate, corrupt; /* thresholds on a 64-bit draw */
    struct held_frame held[UCS_FAULT_HOLD_MAX];
    unsigned nheld;
    uint64_t delay;                  /* in timer cycles; 0: none */
    struct delayed_frame *delayed;   /* a ring of UCS_FAULT_DELAY_MAX */
    unsigned delayed_head, ndelayed;
    struct ucs_fault_stats stats;
};

/* splitmix64: small, fast, and the same sequence for the same seed everywhere. */
static uint64_t next_random(struct ucs_fault *f)
{
    uint64_t z = (f->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t threshold(double p)
{
    if (!(p > 0))
        return 0;
    if (p >= 1)
        return UINT64_MAX;
    return (uint64_t)(p * 18446744073709551616.0);
}

static bool happens(struct ucs_fault *f, uint64_t t)
{
    return t && next_random(f) < t;
}

struct ucs_fault *ucs_fault_create(const struct ucs_fault_params *params)
{
    struct ucs_fault *f;

    if (!(params->loss > 0 || params->reorder > 0 || params->duplicate > 0 || params->corrupt > 0 ||
          params->delay_ms > 0))
        return NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (params->delay_ms > 0) {
        f->delayed = calloc(UCS_FAULT_DELAY_MAX, sizeof(*f->delayed));
        if (!f->delayed) {
            free(f);
            return NULL;
        }
        f->delay = rte_get_timer_hz() * params->delay_ms / 1000;
    }
    f->state = params->seed;
    f->loss = threshold(params->loss);
    f->reorder = threshold(params->reorder);
    f->duplicate = threshold(params->duplicate);
    f->corrupt = threshold(params->corrupt);
    return f;
}

void ucs_fault_destroy(struct ucs_fault *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->nheld; i++)
        rte_pktmbuf_free(f->held[i].m);
    for (unsigned i = 0; i < f->ndelayed; i++)
        rte_pktmbuf_free(f->delayed[(f->delayed_head + i) % UCS_FAULT_DELAY_MAX].m);
    free(f->delayed);
    free(f);
}

/* Flips one bit inside the IP packet (past the Ethernet header, before any
 * padding), where a checksum must catch it: an IPv4 header bit by the header
 * checksum, anything else by the transport checksum and its pseudo-header.
 * The bit may be in any segment of a chained frame (LRO), and the frame
 * loses the port's word that its checksum was verified. Frames that are not
 * IP are left alone: ARP has no checksum, and on a real link the Ethernet
 * FCS would have dropped them. */
static bool corrupt_ip_frame(struct ucs_fault *f, struct rte_mbuf *m)
{
    const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t avail = m->data_len > RTE_ETHER_HDR_LEN ? m->pkt_len - RTE_ETHER_HDR_LEN : 0;
    uint16_t type = (uint16_t)(eth[12] << 8 | eth[13]);
    uint32_t iplen, at;
    struct rte_mbuf *seg = m;
    uint64_t r;

    if (type == RTE_ETHER_TYPE_IPV4 && m->data_len >= RTE_ETHER_HDR_LEN + 20)
        iplen = (uint32_t)(eth[16] << 8 | eth[17]);
    else if (type == RTE_ETHER_TYPE_IPV6 && m->data_len >= RTE_ETHER_HDR_LEN + 40)
        iplen = 40u + (uint32_t)(eth[18] << 8 | eth[19]);
    else
        return false;
    if (iplen > avail)
        iplen = avail;
    if (iplen == 0)
        return false;
    r = next_random(f);
    at = RTE_ETHER_HDR_LEN + (uint32_t)(r % iplen);
    while (at >= seg->data_len) {
        at -= seg->data_len;
        seg = seg->next;
    }
    rte_pktmbuf_mtod(seg, uint8_t *)[at] ^= (uint8_t)(1u << ((r >> 32) & 7));
    m->ol_flags &= ~(RTE_MBUF_F_RX_L4_CKSUM_MASK | RTE_MBUF_F_RX_IP_CKSUM_MASK);
    return true;
}

unsigned ucs_fault_delay(struct ucs_fault *f, struct rte_mbuf **in, unsigned n, unsigned max)
{
    uint64_t now;
    unsigned k = 0;

    if (!f->delay)
        return n;
    now = rte_get_timer_cycles();
    for (unsigned i = 0; i < n; i++) {
        if (f->ndelayed == UCS_FAULT_DELAY_MAX) {
            rte_pktmbuf_free(in[i]);
            f->stats.delay_dropped++;
            continue;
        }
        f->delayed[(f->delayed_head + f->ndelayed++) % UCS_FAULT_DELAY_MAX] =
            (struct delayed_frame){in[i], now + f->delay};
        f->stats.delayed++;
    }
    while (k < max && f->ndelayed > 0 && f->delayed[f->delayed_head].due <= now) {
        in[k++] = f->delayed[f->delayed_head].m;
        f->delayed_head = (f->delayed_head + 1) % UCS_FAULT_DELAY_MAX;
        f->ndelayed--;
    }
    return k;
}

/* Delivers m, or holds it back; every delivered frame counts down the held ones. */
static void emit(struct ucs_fault *f, struct rte_mbuf *m, struct rte_mbuf **out, unsigned *k)
{
    if (f->nheld < UCS_FAULT_HOLD_MAX && happens(f, f->reorder)) {
        f->held[f->nheld].m = m;
        f->held[f->nheld].frames_left = 1 + (unsigned)(next_random(f) % 3);
        f->nheld++;
        f->stats.reordered++;
        return;
    }
    out[(*k)++] = m;
    for (unsigned i = 0; i < f->nheld;) {
        if (--f->held[i].frames_left == 0) {
            out[(*k)++] = f->held[i].m;
            f->held[i] = f->held[--f->nheld];
        } else {
            i++;
        }
    }
}

unsigned ucs_fault_apply(struct ucs_fault *f, struct rte_mbuf **in, unsigned n, struct rte_mbuf **out)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = in[i], *copy;

        if (happens(f, f->loss)) {
            rte_pktmbuf_free(m);
            f->stats.dropped++;
            continue;
        }
        if (happens(f, f->corrupt) && corrupt_ip_frame(f, m))
            f->stats.corrupted++;
        copy = happens(f, f->duplicate) ? rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX) : NULL;
        emit(f, m, out, &k);
        if (copy) {
            f->stats.duplicated++;
            emit(f, copy, out, &k);
        }
    }
    if (n == 0) {
        for (unsigned i = 0; i < f->nheld; i++)
            out[k++] = f->held[i].m;
        f->nheld = 0;
    }
    return k;
}

void ucs_fault_get_stats(const struct ucs_fault *f, struct ucs_fault_stats *stats)
{
    *stats = f->stats;
}
