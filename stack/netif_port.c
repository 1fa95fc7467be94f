#include "netif_port.h"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"
#include "fault_config.h"
#include "link_creds.h"
#include "links.h"
#include "route.h"
#include "rx_pressure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_BURST 32
/* Frames shorter than this are copied: an mbuf for each piece of a small
 * frame costs more than its bytes. */
#define TX_BY_REF_MIN 512
#define TX_MAX_PIECES 32

/* lwIP's heap, when it lives in memory the ports read (port_netif_heap):
 * then frames leave by reference from it. */
static const unsigned char *heap_lo, *heap_hi;

struct port_netif {
    struct netif netif;
    struct ucs_port *port;
    unsigned tx_offloads;
    u16_t chksum_flags; /* what lwIP checks on a frame the port did not */
    bool by_ref;
    bool host_local;
    const struct ucs_link_creds *creds; /* set with attest */
    struct ucs_attest *attest;          /* NULL: the port carries no credentials */
    uint64_t unattested_dropped;        /* frames that came before the attestation */
};

/* Lives in the mbuf's private area: a received frame becomes a pbuf that
 * points into the mbuf, and freeing the pbuf frees the mbuf. */
struct rx_pbuf {
    struct pbuf_custom pc;
    void *frame;
};

static void rx_pbuf_free(struct pbuf *p)
{
    ucs_frame_free_seg(((struct rx_pbuf *)p)->frame);
}

unsigned char *port_netif_heap(size_t size, int node)
{
    unsigned char *heap = ucs_dpdk_zalloc(size, node);

    if (heap) {
        heap_lo = heap;
        heap_hi = heap + size;
    }
    return heap;
}

static bool in_heap(const struct pbuf *q)
{
    const unsigned char *at = q->payload;
    return at >= heap_lo && at + q->len <= heap_hi;
}

static void tx_release(void *data, void *opaque)
{
    LWIP_UNUSED_ARG(data);
    pbuf_free(opaque);
}

/* One copy on the way out: a frame whose bytes are all in lwIP's heap (TCP
 * copied them there from the application) leaves by reference, each pbuf
 * held until the port is done with it (TCP copies a segment it must resend
 * while held: patch 0012). Returns false when it must be copied instead. */
static bool tx_by_ref(struct port_netif *pn, struct pbuf *p, err_t *err)
{
    struct ucs_tx_piece pieces[TX_MAX_PIECES];
    unsigned n = 0;
    struct pbuf *q;
    void *handle;

    for (q = p; q && n < TX_MAX_PIECES && in_heap(q); q = q->next)
        if (q->len)
            pieces[n++] = (struct ucs_tx_piece){q->payload, q->len, q};
    if (q)
        return false;
    for (unsigned i = 0; i < n; i++)
        pbuf_ref(pieces[i].opaque);
    handle = ucs_port_tx_ref(pn->port, pieces, n, tx_release, p->tso_segsz);
    *err = handle ? ERR_OK : ERR_MEM;
    if (handle)
        ucs_port_tx_queue(pn->port, handle, pn->tx_offloads);
    return true;
}

static err_t port_linkoutput(struct netif *netif, struct pbuf *p)
{
    struct port_netif *pn = netif->state;
    void *handle;
    void *data;
    err_t err;

    if (pn->by_ref && p->tot_len >= TX_BY_REF_MIN && tx_by_ref(pn, p, &err))
        return err;
    data = ucs_port_tx_alloc(pn->port, p->tot_len, &handle);
    if (!data)
        return ERR_MEM;
    pbuf_copy_partial(p, data, p->tot_len, 0);
    ucs_port_tx_queue(pn->port, handle, pn->tx_offloads);
    return ERR_OK;
}

static err_t port_netif_init(struct netif *netif)
{
    struct port_netif *pn = netif->state;
    struct ucs_port_info info;
    u16_t checksums = NETIF_CHECKSUM_ENABLE_ALL;

    ucs_port_get_info(pn->port, &info);
    netif->name[0] = 'd';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = port_linkoutput;
    netif->mtu = info.mtu;
    netif->mtu6 = info.mtu;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, info.mac, ETH_HWADDR_LEN);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    pn->tx_offloads = info.tx_offloads;
    if (pn->tx_offloads & UCS_OFFLOAD_TX_IPV4_CKSUM)
        checksums &= (u16_t)~NETIF_CHECKSUM_GEN_IP;
    if (pn->tx_offloads & UCS_OFFLOAD_TX_TCP_CKSUM)
        checksums &= (u16_t)~NETIF_CHECKSUM_GEN_TCP;
    NETIF_SET_CHECKSUM_CTRL(netif, checksums);
    pn->chksum_flags = checksums;
    /* Frames by reference need lwIP's heap where the port reads; TCP builds
     * 64 KiB segments only for a port that takes them so. */
    pn->by_ref = (info.tx_offloads & UCS_OFFLOAD_TX_BY_REF) && heap_lo == ucs_ram_heap;
    if (pn->by_ref && (info.tx_offloads & UCS_OFFLOAD_TX_TSO))
        netif->flags |= NETIF_FLAG_TSO;
    return ERR_OK;
}

static void add_ipv6(struct netif *netif, const struct ucs_port_config *cfg)
{
    ip6_addr_t addr;
    s8_t idx;

    netif_create_ip6_linklocal_address(netif, 1);
    netif_ip6_addr_set_state(netif, 0, IP6_ADDR_PREFERRED);
    if (!cfg->has_ipv6)
        return;
    memcpy(addr.addr, cfg->ipv6.s6_addr, 16);
    ip6_addr_clear_zone(&addr);
    if (netif_add_ip6_address(netif, &addr, &idx) == ERR_OK)
        netif_ip6_addr_set_state(netif, idx, IP6_ADDR_PREFERRED);
    /* lwIP refuses ::1 as the source of a packet for a port's address, so the
     * loopback netif carries the address too and connections to it use it. */
    if (netif_add_ip6_address(ucs_loop_netif(), &addr, &idx) == ERR_OK)
        netif_ip6_addr_set_state(ucs_loop_netif(), idx, IP6_ADDR_PREFERRED);
}

struct ucs_port *port_netif_open_port(const struct ucs_port_config *cfg, char *err, size_t errlen)
{
    struct ucs_fault_params fault;
    const char *why = ucs_fault_config_parse(cfg->fault, &fault);
    if (why) {
        snprintf(err, errlen, "%s: %s", cfg->devargs, why);
        return NULL;
    }
    struct ucs_port_params params = {
        .devargs = cfg->devargs, .mtu = cfg->mtu, .rx_mbufs = cfg->rx_mbufs, .scratch_size = sizeof(struct rx_pbuf),
        .fault = &fault, .capture_path = cfg->capture_path, .tso = !cfg->no_tso};
    return ucs_port_open(&params, err, errlen);
}

struct port_netif *port_netif_attach(struct ucs_port *port, const struct ucs_port_config *cfg, char *err, size_t errlen)
{
    struct port_netif *pn = calloc(1, sizeof(*pn));
    ip4_addr_t ip = {0}, mask = {0}, gw = {0};

    if (!pn) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg->host_local && cfg->attest_path[0]) {
        pn->creds = ucs_link_creds();
        if (!pn->creds)
            snprintf(err, errlen, "port %s attests, but no layer carries credentials", cfg->devargs);
        pn->attest = pn->creds ? pn->creds->open(cfg->attest_path, cfg->attest_listen, err, errlen) : NULL;
        if (!pn->attest) {
            free(pn);
            return NULL;
        }
    } else if (cfg->host_local) {
        fprintf(stderr, "ucstack: port %s is host_local without attest: it will carry no credentials\n", cfg->devargs);
    }
    pn->port = port;
    pn->host_local = cfg->host_local;
    if (cfg->has_ipv4) {
        ip.addr = cfg->ipv4.s_addr;
        mask.addr = cfg->ipv4_prefix ? lwip_htonl(0xffffffffu << (32 - cfg->ipv4_prefix)) : 0;
    }
    if (cfg->has_gateway)
        gw.addr = cfg->gateway.s_addr;
    netif_add(&pn->netif, &ip, &mask, &gw, pn, port_netif_init, ethernet_input);
    add_ipv6(&pn->netif, cfg);
    if (cfg->has_gateway)
        netif_set_default(&pn->netif);
    netif_set_up(&pn->netif);
    return pn;
}

void port_netif_close(struct port_netif *pn)
{
    if (pn->attest)
        pn->creds->close(pn->attest);
    netif_remove(&pn->netif);
    ucs_port_close(pn->port);
    free(pn);
}

/* On an attesting port, attestation frames never reach lwIP, and no frame
 * does before the peer is attested. Returns whether it took (freed) the frame. */
static bool attest_takes(struct port_netif *pn, const struct ucs_rx_frame *f)
{
    if (pn->creds->is_frame(f->data, f->len)) {
        if (pn->creds->frame_in(pn->attest, f->data, f->len))
            port_netif_check_link(pn);
    } else if (pn->creds->peer(pn->attest)) {
        return false;
    } else {
        pn->unattested_dropped++;
    }
    ucs_frame_free(f->handle);
    return true;
}

/* A pbuf over one segment of a received frame: freeing it frees that mbuf. */
static struct pbuf *rx_pbuf(const struct ucs_rx_frame *seg)
{
    struct rx_pbuf *r = seg->scratch;

    r->pc.custom_free_function = rx_pbuf_free;
    r->frame = seg->handle;
    return pbuf_alloced_custom(PBUF_RAW, seg->len, PBUF_REF, &r->pc, seg->data, seg->len);
}

/* A frame of several segments (LRO) becomes one pbuf chain over its mbufs,
 * nothing copied; the lengths are filled from the tail. */
static struct pbuf *rx_chain(const struct ucs_rx_frame *f)
{
    struct pbuf *segs[UCS_RX_MAX_SEGS];
    struct ucs_rx_frame seg = *f;
    unsigned n = 0;

    for (;;) {
        segs[n++] = rx_pbuf(&seg);
        if (!seg.next || n == UCS_RX_MAX_SEGS)
            break;
        ucs_frame_seg(seg.next, &seg);
    }
    for (unsigned i = n - 1; i-- > 0;) {
        segs[i]->next = segs[i + 1];
        segs[i]->tot_len = (u16_t)(segs[i]->len + segs[i + 1]->tot_len);
    }
    return segs[0];
}

unsigned port_netif_rx(struct port_netif *pn)
{
    struct ucs_rx_frame frames[RX_BURST];
    unsigned n = ucs_port_rx(pn->port, frames, RX_BURST);

    for (unsigned i = 0; i < n; i++) {
        struct pbuf *p;

        if (pn->attest && attest_takes(pn, &frames[i]))
            continue;
        p = frames[i].next ? rx_chain(&frames[i]) : rx_pbuf(&frames[i]);
        /* lwIP checks per netif: for this frame, not the sum the port vouched
         * for (a 64 KiB frame from a virtio peer carries none to check). */
        if (frames[i].l4_verified)
            NETIF_SET_CHECKSUM_CTRL(&pn->netif,
                                    pn->chksum_flags & ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP));
        if (pn->netif.input(p, &pn->netif) != ERR_OK)
            pbuf_free(p);
        NETIF_SET_CHECKSUM_CTRL(&pn->netif, pn->chksum_flags);
    }
    if (n) {
        unsigned free, total;
        ucs_port_rx_mbufs(pn->port, &free, &total);
        ucs_rx_pressure_check(free, total);
    }
    return n;
}

void port_netif_tx_flush(struct port_netif *pn)
{
    ucs_port_tx_flush(pn->port);
}

/* Steps the attestation too: a host-local link with an attest socket is up
 * for lwIP once its peer is attested, and up for the caller once both ends
 * have attested each other. */
bool port_netif_check_link(struct port_netif *pn)
{
    bool up = ucs_port_link_up(pn->port), ready = up;

    if (pn->attest) {
        pn->creds->step(pn->attest);
        if (up)
            pn->creds->send_echoes(pn->attest, pn->port, pn->netif.hwaddr);
        ready = up && pn->creds->complete(pn->attest);
        up = up && pn->creds->peer(pn->attest);
    }
    if (up && !netif_is_link_up(&pn->netif))
        netif_set_link_up(&pn->netif);
    else if (!up && netif_is_link_up(&pn->netif))
        netif_set_link_down(&pn->netif);
    return ready;
}

bool ucs_netif_is_host_local(const struct netif *netif)
{
    if (!netif)
        return false;
    if (netif == ucs_loop_netif())
        return true;
    return ucs_netif_attested_peer(netif) != NULL;
}

struct ucs_attest_peer *ucs_netif_attested_peer(const struct netif *netif)
{
    const struct port_netif *pn;
    if (!netif || netif->linkoutput != port_linkoutput)
        return NULL;
    pn = netif->state;
    return pn->host_local && pn->attest ? pn->creds->peer(pn->attest) : NULL;
}

void port_netif_attest_stats(const struct port_netif *pn, struct ucs_attest_stats *stats, uint64_t *dropped)
{
    memset(stats, 0, sizeof(*stats));
    if (pn->attest)
        pn->creds->get_stats(pn->attest, stats);
    *dropped = pn->unattested_dropped;
}

struct ucs_port *port_netif_port(struct port_netif *pn)
{
    return pn->port;
}

struct netif *port_netif_netif(struct port_netif *pn)
{
    return &pn->netif;
}
