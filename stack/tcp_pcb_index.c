/*
 * The connection index: what lets one instance hold 100,000 connections.
 * lwIP keeps its pcbs on singly linked lists and walks them to find the pcb
 * of a segment, to remove a pcb and to find a free port. Our patch
 * (stack/patches/0003-tcp-connection-index.patch) routes TCP_REG and TCP_RMV
 * here: the lists gain a back link (removal is O(1)), active and TIME-WAIT
 * pcbs are hashed by their 4-tuple (tcp_input finds one without a walk), and
 * each local port's users are counted (binding and picking a port look at a
 * count). Listening pcbs stay a short list lwIP walks (at most
 * MEMP_NUM_TCP_PCB_LISTEN). Registering and removing also tell the timers'
 * lists (tcp_timer_list.c).
 */
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "tuple_hash.h"
#include "tcp_pcb_index.h"

#include <stdbool.h>

#define INDEX_BITS 18
#define INDEX_BUCKETS (1u << INDEX_BITS)
_Static_assert(INDEX_BUCKETS >= MEMP_NUM_TCP_PCB, "at most one pcb per bucket on average");

#define PORT_RANGE ((uint32_t)TCP_LOCAL_PORT_RANGE_END - TCP_LOCAL_PORT_RANGE_START + 1)
/* Where each destination's search for a free port starts moves on by the
 * ports it tried, per slot, as Linux does (RFC 6056, algorithm 3). */
#define CURSOR_SLOTS 256

static struct tcp_pcb *buckets[INDEX_BUCKETS];
static uint32_t port_conns[65536]; /* active and TIME-WAIT pcbs per local port */
static uint32_t port_binds[65536]; /* bound and listening pcbs per local port */
static uint16_t cursor[CURSOR_SLOTS];
static uint8_t secret[16];
static bool secret_ready;
static struct ucs_tcp_index_stats stats;
/* The pcb the last lookup found: a request/response connection's segments
 * find it without a hash (a keyed hash costs ~230 instructions a segment). */
static struct tcp_pcb *last_found;

static bool is_conn_list(struct tcp_pcb **pcbs)
{
    return pcbs == &tcp_active_pcbs || pcbs == &tcp_tw_pcbs;
}

/* A keyed hash, so that peers cannot choose 4-tuples that share a bucket. */
static uint64_t tuple_hash(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port)
{
    return ucs_tuple_hash(secret, &secret_ready, local_ip, local_port, remote_ip, remote_port, NULL, 0);
}

static struct tcp_pcb **bucket_of(const struct tcp_pcb *pcb)
{
    return &buckets[tuple_hash(&pcb->local_ip, pcb->local_port, &pcb->remote_ip, pcb->remote_port) &
                    (INDEX_BUCKETS - 1)];
}

#if TCP_DEBUG_PCB_LISTS
/* lwIP's own TCP_REG checks, made here since the patch gives TCP_REG one
 * definition: a pcb is on a list once, and only a bound pcb may be CLOSED. */
static void check_reg(struct tcp_pcb **pcbs, const struct tcp_pcb *npcb)
{
    for (const struct tcp_pcb *p = *pcbs; p; p = p->next)
        LWIP_ASSERT("TCP_REG: already registered", p != npcb);
    LWIP_ASSERT("TCP_REG: pcb->state != CLOSED", pcbs == &tcp_bound_pcbs || npcb->state != CLOSED);
}
#define CHECK_REG(pcbs, npcb) check_reg(pcbs, npcb)
#define CHECK_LISTS(what) LWIP_ASSERT(what ": tcp_pcbs sane", tcp_pcbs_sane())
#else
#define CHECK_REG(pcbs, npcb) ((void)0)
#define CHECK_LISTS(what) ((void)0)
#endif

void ucs_tcp_pcb_reg(struct tcp_pcb **pcbs, struct tcp_pcb *npcb)
{
    CHECK_REG(pcbs, npcb);
    npcb->next = *pcbs;
    if (npcb->next)
        npcb->next->ucs_pprev = &npcb->next;
    *pcbs = npcb;
    npcb->ucs_pprev = pcbs;
    if (is_conn_list(pcbs)) {
        struct tcp_pcb **b = bucket_of(npcb);
        npcb->ucs_hash_next = *b;
        *b = npcb;
        port_conns[npcb->local_port]++;
        stats.indexed++;
        ucs_tcp_timer_registered(pcbs, npcb);
    } else {
        port_binds[npcb->local_port]++;
    }
    CHECK_LISTS("TCP_REG");
}

void ucs_tcp_pcb_rmv(struct tcp_pcb **pcbs, struct tcp_pcb *npcb)
{
    /* lwIP removes some pcbs that were never registered (a connect that
     * failed after taking a port): like its list walk, that does nothing. */
    if (!npcb->ucs_pprev)
        return;
    *npcb->ucs_pprev = npcb->next;
    if (npcb->next)
        npcb->next->ucs_pprev = npcb->ucs_pprev;
    npcb->next = NULL;
    npcb->ucs_pprev = NULL;
    if (npcb == last_found)
        last_found = NULL;
    if (is_conn_list(pcbs)) {
        struct tcp_pcb **link = bucket_of(npcb);
        while (*link != npcb)
            link = &(*link)->ucs_hash_next;
        *link = npcb->ucs_hash_next;
        npcb->ucs_hash_next = NULL;
        port_conns[npcb->local_port]--;
        stats.indexed--;
        /* only here: a listening pcb (struct tcp_pcb_listen) has no timer fields */
        ucs_tcp_timer_removed(npcb);
    } else {
        port_binds[npcb->local_port]--;
    }
    CHECK_LISTS("TCP_RMV");
}

static bool same_tuple(const struct tcp_pcb *pcb, const ip_addr_t *local_ip, u16_t local_port,
                       const ip_addr_t *remote_ip, u16_t remote_port)
{
    return pcb->remote_port == remote_port && pcb->local_port == local_port && ip_addr_cmp(&pcb->remote_ip, remote_ip) &&
           ip_addr_cmp(&pcb->local_ip, local_ip);
}

struct tcp_pcb *ucs_tcp_pcb_find(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                                 u16_t remote_port)
{
    struct tcp_pcb *pcb;

    stats.lookups++;
    if (last_found && same_tuple(last_found, local_ip, local_port, remote_ip, remote_port)) {
        stats.compared++;
        return last_found;
    }
    pcb = buckets[tuple_hash(local_ip, local_port, remote_ip, remote_port) & (INDEX_BUCKETS - 1)];
    for (; pcb; pcb = pcb->ucs_hash_next) {
        stats.compared++;
        if (same_tuple(pcb, local_ip, local_port, remote_ip, remote_port))
            return last_found = pcb;
    }
    return NULL;
}

int ucs_tcp_port_used(u16_t port)
{
    return port_conns[port] + port_binds[port] != 0;
}

u16_t ucs_tcp_connect_port(const struct tcp_pcb *pcb)
{
    uint64_t h = tuple_hash(&pcb->local_ip, 0, &pcb->remote_ip, pcb->remote_port);
    uint16_t *c = &cursor[(h >> 32) % CURSOR_SLOTS];

    for (uint32_t tries = 1; tries <= PORT_RANGE; tries++) {
        u16_t port = (u16_t)(TCP_LOCAL_PORT_RANGE_START + ((uint32_t)h + *c + tries) % PORT_RANGE);
        if (port_binds[port] == 0 && !ucs_tcp_pcb_find(&pcb->local_ip, port, &pcb->remote_ip, pcb->remote_port)) {
            *c = (uint16_t)(*c + tries);
            return port;
        }
    }
    return 0;
}

void ucs_tcp_index_get_stats(struct ucs_tcp_index_stats *out)
{
    *out = stats;
}
