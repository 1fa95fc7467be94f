/* DPDK ethdev ports behind the seam in port.h: one RX and one TX queue each. */
#include "port.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_RING 1024
#define TX_RING 1024
#define RX_MBUFS 16383
#define TX_MBUFS 16383
#define MBUF_CACHE 256
#define TX_BURST 64
#define RX_BURST 64
/* What one burst can become after faults: duplicates and released frames. */
#define RX_FAULTED (2 * RX_BURST + UCS_FAULT_HOLD_MAX)
#define MAX_EAL_ARGS 64
/* Pieces of one frame sent by reference. */
#define TX_MAX_PIECES 32

struct ucs_port {
    uint16_t id;
    unsigned tx_offloads;
    struct rte_mempool *rx_pool, *tx_pool;
    /* Mbufs without data room that point at the stack's memory (by-reference
     * transmit); each carries the shared info of its external buffer. */
    struct rte_mempool *ref_pool;
    /* Software TX backlog: a ring of mbufs the TX queue has not taken yet.
     * It grows instead of dropping; lwIP sees back-pressure when tx_pool runs dry. */
    struct rte_mbuf **backlog;
    uint32_t backlog_cap, head, count;
    uint64_t rx_frames, tx_frames, tx_backlogged, tx_alloc_failed, rx_oversize, tx_tso_frames, rx_lro_frames;
    struct ucs_fault *fault;
    struct ucs_capture *capture;
    /* Frames the faults let through that the caller had no room for yet. */
    struct rte_mbuf *faulted[RX_FAULTED];
    unsigned faulted_at, faulted_n;
    char name[RTE_DEV_NAME_MAX_LEN];
    /* The device this port's probe made (a vdev from devargs): removed when
     * the port closes, so that a later open (a stack created again after a
     * failed attempt) can probe it anew. */
    struct rte_device *probed;
};

static char eal_storage[1024];
static char *eal_argv[MAX_EAL_ARGS + 1];

int ucs_dpdk_init(const char *eal_args, char *err, size_t errlen)
{
    int argc = 0;
    snprintf(eal_storage, sizeof(eal_storage), "ucstack %s", eal_args ? eal_args : "");
    for (char *tok = strtok(eal_storage, " \t\n"); tok && argc < MAX_EAL_ARGS; tok = strtok(NULL, " \t\n"))
        eal_argv[argc++] = tok;
    eal_argv[argc] = NULL;
    if (rte_eal_init(argc, eal_argv) < 0) {
        snprintf(err, errlen, "rte_eal_init failed: %s", rte_strerror(rte_errno));
        return -1;
    }
    return 0;
}

void *ucs_dpdk_zalloc(size_t size, int node)
{
    return rte_zmalloc_socket("ucs_heap", size, RTE_CACHE_LINE_SIZE, node >= 0 ? node : SOCKET_ID_ANY);
}

void ucs_dpdk_cleanup(void)
{
    rte_eal_cleanup();
}

static int port_find(const char *devargs, uint16_t *id)
{
    char name[RTE_DEV_NAME_MAX_LEN];
    size_t n = strcspn(devargs, ",");
    if (n >= sizeof(name))
        return -1;
    memcpy(name, devargs, n);
    name[n] = '\0';
    return rte_eth_dev_get_port_by_name(name, id);
}

static struct rte_mempool *pool_create(const char *kind, uint16_t id, unsigned n, uint16_t priv, uint16_t room,
                                       int socket)
{
    char name[RTE_MEMPOOL_NAMESIZE];
    snprintf(name, sizeof(name), "ucs_%s_%u", kind, id);
    return rte_pktmbuf_pool_create(name, n, MBUF_CACHE, RTE_ALIGN(priv, RTE_MBUF_PRIV_ALIGN), room, socket);
}

/* By reference, a frame holds the stack's buffer until the PMD frees it:
 * virtio frees sent frames only once fewer than tx_free_thresh descriptors are
 * free, so ask it to free at every burst that finds a few done. Its ring may
 * be shorter than asked (virtio-user's queue_size, 256 by default), which the
 * threshold must stay below: shorter rings are tried in turn. */
static int tx_queue_setup(struct ucs_port *p, const struct rte_eth_dev_info *info, uint16_t ntx, int socket)
{
    struct rte_eth_txconf txconf = info->default_txconf;
    int rc = -EINVAL;

    if (!(p->tx_offloads & UCS_OFFLOAD_TX_BY_REF))
        return rte_eth_tx_queue_setup(p->id, 0, ntx, socket, NULL);
    for (uint16_t ring = ntx; ring >= 64 && rc == -EINVAL; ring /= 2) {
        txconf.tx_free_thresh = (uint16_t)(ring - 4);
        rc = rte_eth_tx_queue_setup(p->id, 0, ring, socket, &txconf);
    }
    return rc;
}

static bool is_driver(const struct rte_eth_dev_info *info, const char *name)
{
    return info->driver_name && !strcmp(info->driver_name, name);
}

/* 64 KiB TCP frames (TSO out, LRO in) where the port carries them: a
 * virtio-user port that offers TCP_TSO (its vhost-user peer runs with
 * tso=1), or a vhost-user port (probed with tso=1: it honours the mbuf flags
 * both ways without advertising them). Such a port also checks no TCP or UDP
 * checksum it need not: frames that never crossed a wire are marked verified
 * (RX_L4_CKSUM_NONE) instead of being summed over 64 KiB. Frames leave by
 * reference (no copy) on these ports only: they read a frame when it is sent
 * (vhost copies it at once; virtio-user's peer reads it from the shared
 * memory, and the PMD frees it at a later burst, soon with tx_free_thresh
 * low), so a retransmission finds the stack's buffer released. Other ports
 * (tap's TSO is software segmentation, memif copies) send MSS frames. */
static void offloads_choose(struct ucs_port *p, const struct rte_eth_dev_info *info, bool tso,
                            struct rte_eth_conf *conf)
{
    const uint64_t rx_cksum = RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    bool vhost = is_driver(info, "net_vhost");
    bool virtio_tso = (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) && is_driver(info, "net_virtio_user");

    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
        p->tx_offloads |= UCS_OFFLOAD_TX_IPV4_CKSUM;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
        p->tx_offloads |= UCS_OFFLOAD_TX_TCP_CKSUM;
    conf->txmode.offloads = info->tx_offload_capa & (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
    if (!tso || !(virtio_tso || vhost) || !(p->tx_offloads & UCS_OFFLOAD_TX_TCP_CKSUM) ||
        !(info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
        return;
    p->tx_offloads |= UCS_OFFLOAD_TX_TSO | UCS_OFFLOAD_TX_BY_REF;
    conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS | (virtio_tso ? RTE_ETH_TX_OFFLOAD_TCP_TSO : 0);
    conf->rxmode.offloads |=
        info->rx_offload_capa & (rx_cksum | RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_SCATTER);
}

static int port_setup(struct ucs_port *p, const struct ucs_port_params *params, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    uint16_t nrx = RX_RING, ntx = TX_RING;
    int socket = rte_eth_dev_socket_id(p->id);
    int rc;

    if (socket < 0)
        socket = (int)rte_socket_id();
    if ((rc = rte_eth_dev_info_get(p->id, &info)) != 0) {
        snprintf(err, errlen, "port %s: no device info (%s)", p->name, rte_strerror(-rc));
        return -1;
    }
    memset(&conf, 0, sizeof(conf));
    offloads_choose(p, &info, params->tso, &conf);
    conf.intr_conf.lsc = 0;

    p->rx_pool = pool_create("rx", p->id, params->rx_mbufs ? params->rx_mbufs : RX_MBUFS, params->scratch_size,
                             RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    p->tx_pool = pool_create("tx", p->id, TX_MBUFS, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if ((p->tx_offloads & UCS_OFFLOAD_TX_BY_REF) &&
        !(p->ref_pool = pool_create("ref", p->id, TX_MBUFS, sizeof(struct rte_mbuf_ext_shared_info), 0, socket)))
        p->tx_offloads &= ~(unsigned)(UCS_OFFLOAD_TX_BY_REF | UCS_OFFLOAD_TX_TSO);
    if (!p->rx_pool || !p->tx_pool) {
        snprintf(err, errlen, "port %s: mbuf pools on node %d: %s", p->name, socket, rte_strerror(rte_errno));
        return -1;
    }
    if ((rc = rte_eth_dev_configure(p->id, 1, 1, &conf)) != 0 ||
        (rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &nrx, &ntx)) != 0 ||
        (rc = rte_eth_rx_queue_setup(p->id, 0, nrx, socket, NULL, p->rx_pool)) != 0 ||
        (rc = tx_queue_setup(p, &info, ntx, socket)) != 0) {
        snprintf(err, errlen, "port %s: queue set-up failed (%s)", p->name, rte_strerror(-rc));
        return -1;
    }
    if (params->mtu && (rc = rte_eth_dev_set_mtu(p->id, params->mtu)) != 0) {
        snprintf(err, errlen, "port %s: MTU %u refused (%s)", p->name, params->mtu, rte_strerror(-rc));
        return -1;
    }
    if ((rc = rte_eth_dev_start(p->id)) != 0) {
        snprintf(err, errlen, "port %s: start failed (%s)", p->name, rte_strerror(-rc));
        return -1;
    }
    /* IPv6 neighbour discovery needs solicited-node multicast; not every PMD filters it. */
    rte_eth_allmulticast_enable(p->id);
    return 0;
}

/* A vhost-user port carries 64 KiB TCP frames only when probed with tso=1
 * (offloads_choose); the devargs may say otherwise themselves. */
static const char *probe_args(const char *devargs, bool tso, char *buf, size_t len)
{
    if (!tso || strncmp(devargs, "net_vhost", 9) || strstr(devargs, "tso=") ||
        (size_t)snprintf(buf, len, "%s,tso=1", devargs) >= len)
        return devargs;
    return buf;
}

struct ucs_port *ucs_port_open(const struct ucs_port_params *params, char *err, size_t errlen)
{
    const char *devargs = params->devargs;
    struct ucs_port *p = calloc(1, sizeof(*p));
    char probe[512];
    int rc;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rc = rte_dev_probe(probe_args(devargs, params->tso, probe, sizeof(probe)));
    if (rc != 0 && rc != -EEXIST) {
        snprintf(err, errlen, "cannot probe '%s': %s", devargs, rte_strerror(-rc));
        goto fail;
    }
    if (port_find(devargs, &p->id) != 0) {
        snprintf(err, errlen, "'%s' is not an ethernet port", devargs);
        goto fail;
    }
    rte_eth_dev_get_name_by_port(p->id, p->name);
    if (rc == 0) {
        struct rte_eth_dev_info info;
        if (rte_eth_dev_info_get(p->id, &info) == 0)
            p->probed = info.device;
    }
    p->backlog_cap = 4096;
    p->backlog = malloc(p->backlog_cap * sizeof(*p->backlog));
    if (!p->backlog) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (port_setup(p, params, err, errlen) != 0)
        goto fail;
    if (params->fault)
        p->fault = ucs_fault_create(params->fault);
    if (params->capture_path && params->capture_path[0] &&
        !(p->capture = ucs_capture_create(p->id, params->capture_path, true, err, errlen)))
        goto fail;
    return p;
fail:
    ucs_port_close(p);
    return NULL;
}

void ucs_port_close(struct ucs_port *p)
{
    if (!p)
        return;
    ucs_capture_destroy(p->capture);
    ucs_fault_destroy(p->fault);
    for (unsigned i = p->faulted_at; i < p->faulted_n; i++)
        rte_pktmbuf_free(p->faulted[i]);
    if (p->backlog) {
        for (uint32_t i = 0; i < p->count; i++)
            rte_pktmbuf_free(p->backlog[(p->head + i) & (p->backlog_cap - 1)]);
        free(p->backlog);
    }
    if (p->name[0]) {
        rte_eth_dev_stop(p->id);
        rte_eth_dev_close(p->id);
    }
    if (p->probed)
        rte_dev_remove(p->probed);
    rte_mempool_free(p->rx_pool);
    rte_mempool_free(p->tx_pool);
    rte_mempool_free(p->ref_pool);
    free(p);
}

void ucs_port_get_info(const struct ucs_port *p, struct ucs_port_info *info)
{
    struct rte_ether_addr mac;
    struct rte_eth_dev_info dinfo;
    uint16_t mtu = RTE_ETHER_MTU;

    memset(info, 0, sizeof(*info));
    rte_eth_macaddr_get(p->id, &mac);
    memcpy(info->mac, mac.addr_bytes, 6);
    rte_eth_dev_get_mtu(p->id, &mtu);
    info->mtu = mtu;
    info->numa_node = rte_eth_dev_socket_id(p->id);
    info->tx_offloads = p->tx_offloads;
    if (rte_eth_dev_info_get(p->id, &dinfo) == 0 && dinfo.driver_name)
        snprintf(info->driver, sizeof(info->driver), "%s", dinfo.driver_name);
    snprintf(info->name, sizeof(info->name), "%s", p->name);
}

void ucs_port_get_stats(const struct ucs_port *p, struct ucs_port_stats *s)
{
    s->rx_frames = p->rx_frames;
    s->tx_frames = p->tx_frames;
    s->tx_backlogged = p->tx_backlogged;
    s->tx_alloc_failed = p->tx_alloc_failed;
    s->rx_oversize = p->rx_oversize;
    s->tx_tso_frames = p->tx_tso_frames;
    s->rx_lro_frames = p->rx_lro_frames;
    s->mbufs_total = p->rx_pool->size + p->tx_pool->size + (p->ref_pool ? p->ref_pool->size : 0);
    s->mbufs_free = rte_mempool_avail_count(p->rx_pool) + rte_mempool_avail_count(p->tx_pool) +
                    (p->ref_pool ? rte_mempool_avail_count(p->ref_pool) : 0);
    s->tx_backlog_now = p->count;
    memset(&s->faults, 0, sizeof(s->faults));
    if (p->fault)
        ucs_fault_get_stats(p->fault, &s->faults);
}

/* Asked after every RX burst: the pool's ring and the calling thread's cache,
 * where rte_mempool_avail_count() would add up every lcore's cache
 * (RTE_MAX_LCORE of them). Only the stack's thread takes and frees RX mbufs,
 * so the other caches hold none. */
void ucs_port_rx_mbufs(const struct ucs_port *p, unsigned *free, unsigned *total)
{
    const struct rte_mempool_cache *cache = rte_mempool_default_cache(p->rx_pool, rte_lcore_id());
    const struct rte_mempool_ops *ops = rte_mempool_get_ops(p->rx_pool->ops_index);

    *free = ops->get_count(p->rx_pool) + (cache ? cache->len : 0);
    *total = p->rx_pool->size;
}

bool ucs_port_link_up(struct ucs_port *p)
{
    struct rte_eth_link link;
    return rte_eth_link_get_nowait(p->id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

struct ucs_capture *ucs_port_capture(struct ucs_port *p)
{
    return p->capture;
}

/* A burst through the faults can yield more frames than it took in
 * (duplicates, frames held back earlier): they wait in p->faulted and go to
 * the caller max at a time, however small max is. */
static unsigned rx_faulted(struct ucs_port *p, struct rte_mbuf **m, unsigned max)
{
    unsigned n;

    if (p->faulted_at == p->faulted_n) {
        struct rte_mbuf *burst[RX_BURST];
        n = rte_eth_rx_burst(p->id, 0, burst, RX_BURST);
        n = ucs_fault_delay(p->fault, burst, n, RX_BURST);
        p->faulted_n = ucs_fault_apply(p->fault, burst, n, p->faulted);
        p->faulted_at = 0;
    }
    n = RTE_MIN(max, p->faulted_n - p->faulted_at);
    memcpy(m, &p->faulted[p->faulted_at], n * sizeof(*m));
    p->faulted_at += n;
    return n;
}

unsigned ucs_port_rx(struct ucs_port *p, struct ucs_rx_frame *frames, unsigned max)
{
    struct rte_mbuf *m[RX_BURST];
    unsigned n, kept = 0;

    if (max > RTE_DIM(m))
        max = RTE_DIM(m);
    if (p->fault)
        n = rx_faulted(p, m, max);
    else
        n = rte_eth_rx_burst(p->id, 0, m, (uint16_t)max);
    if (p->capture)
        ucs_capture_rx(p->capture, m, n);
    for (unsigned i = 0; i < n; i++) {
        uint64_t l4 = m[i]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

        /* A frame put together from wire segments (LRO) may be a chain; one
         * longer than the stack's 16-bit lengths is dropped and counted. */
        if (m[i]->pkt_len > UINT16_MAX || m[i]->nb_segs > UCS_RX_MAX_SEGS) {
            rte_pktmbuf_free(m[i]);
            p->rx_oversize++;
            continue;
        }
        if (m[i]->ol_flags & RTE_MBUF_F_RX_LRO)
            p->rx_lro_frames++;
        ucs_frame_seg(m[i], &frames[kept]);
        frames[kept].frame_len = (uint16_t)m[i]->pkt_len;
        frames[kept].l4_verified = l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || l4 == RTE_MBUF_F_RX_L4_CKSUM_NONE;
        kept++;
    }
    p->rx_frames += kept;
    return kept;
}

void ucs_frame_seg(void *handle, struct ucs_rx_frame *seg)
{
    struct rte_mbuf *m = handle;

    seg->data = rte_pktmbuf_mtod(m, void *);
    seg->len = m->data_len;
    seg->scratch = rte_mbuf_to_priv(m);
    seg->handle = m;
    seg->next = m->next;
}

void ucs_frame_free(void *handle)
{
    rte_pktmbuf_free(handle);
}

void ucs_frame_free_seg(void *handle)
{
    rte_pktmbuf_free_seg(handle);
}

void *ucs_port_tx_alloc(struct ucs_port *p, uint16_t len, void **handle)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(p->tx_pool);
    char *data;

    if (!m) {
        p->tx_alloc_failed++;
        return NULL;
    }
    data = rte_pktmbuf_append(m, len);
    if (!data) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    *handle = m;
    return data;
}

void *ucs_port_tx_ref(struct ucs_port *p, const struct ucs_tx_piece *pieces, unsigned n, ucs_tx_release_fn *release,
                      uint16_t tso_segsz)
{
    struct rte_mbuf *head = NULL;
    unsigned i;

    for (i = 0; i < n && p->ref_pool && n <= TX_MAX_PIECES; i++) {
        struct rte_mbuf *m = rte_pktmbuf_alloc(p->ref_pool);
        struct rte_mbuf_ext_shared_info *shinfo;

        if (!m)
            break;
        shinfo = rte_mbuf_to_priv(m);
        shinfo->free_cb = release;
        shinfo->fcb_opaque = pieces[i].opaque;
        rte_mbuf_ext_refcnt_set(shinfo, 1);
        rte_pktmbuf_attach_extbuf(m, pieces[i].data,
                                  rte_eal_iova_mode() == RTE_IOVA_VA ? (rte_iova_t)(uintptr_t)pieces[i].data
                                                                     : rte_mem_virt2iova(pieces[i].data),
                                  pieces[i].len, shinfo);
        m->data_len = pieces[i].len;
        m->pkt_len = pieces[i].len;
        if (head)
            rte_pktmbuf_chain(head, m);
        else
            head = m;
    }
    if (i < n) {
        /* The pieces attached are released with the mbufs, the others here. */
        rte_pktmbuf_free(head);
        for (; i < n; i++)
            release(pieces[i].data, pieces[i].opaque);
        p->tx_alloc_failed++;
        return NULL;
    }
    head->tso_segsz = tso_segsz;
    return head;
}

static bool is_fragment(const struct rte_ipv4_hdr *ip)
{
    return (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

/* TCP checksum offload; for a frame of several wire segments (tso_segsz set
 * by ucs_port_tx_ref) segmentation too. With TX_TCP_SEG the pseudo-header sum
 * leaves the length out (DPDK's rule: each wire segment has its own). */
static void tx_tcp_segments(struct rte_mbuf *m, const struct rte_tcp_hdr *tcp)
{
    m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
    if (!m->tso_segsz)
        return;
    m->l4_len = (tcp->data_off >> 4) * 4u;
    if (m->pkt_len > (uint32_t)(m->l2_len + m->l3_len + m->l4_len + m->tso_segsz))
        m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
    else
        m->tso_segsz = 0;
}

/* Fills in what a checksum-offloading port needs: header lengths, flags and
 * the pseudo-header sum in the TCP checksum field. */
static void tx_offload_prepare(struct rte_mbuf *m, unsigned offloads)
{
    struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    uint16_t type = rte_be_to_cpu_16(eth->ether_type);
    uint8_t proto;

    m->l2_len = sizeof(*eth);
    if (type == RTE_ETHER_TYPE_IPV4 && m->data_len >= sizeof(*eth) + sizeof(struct rte_ipv4_hdr)) {
        struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
        m->l3_len = rte_ipv4_hdr_len(ip);
        m->ol_flags |= RTE_MBUF_F_TX_IPV4;
        if (offloads & UCS_OFFLOAD_TX_IPV4_CKSUM) {
            ip->hdr_checksum = 0;
            m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
        }
        proto = ip->next_proto_id;
        if (proto == IPPROTO_TCP && (offloads & UCS_OFFLOAD_TX_TCP_CKSUM) && !is_fragment(ip)) {
            struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((char *)ip + m->l3_len);
            tx_tcp_segments(m, tcp);
            tcp->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
        }
    } else if (type == RTE_ETHER_TYPE_IPV6 && m->data_len >= sizeof(*eth) + sizeof(struct rte_ipv6_hdr)) {
        struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);
        m->l3_len = sizeof(*ip6);
        m->ol_flags |= RTE_MBUF_F_TX_IPV6;
        if (ip6->proto == IPPROTO_TCP && (offloads & UCS_OFFLOAD_TX_TCP_CKSUM)) {
            struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(ip6 + 1);
            tx_tcp_segments(m, tcp);
            tcp->cksum = rte_ipv6_phdr_cksum(ip6, m->ol_flags);
        }
    }
}

static bool backlog_grow(struct ucs_port *p)
{
    uint32_t cap = p->backlog_cap * 2;
    struct rte_mbuf **b = malloc(cap * sizeof(*b));
    if (!b)
        return false;
    for (uint32_t i = 0; i < p->count; i++)
        b[i] = p->backlog[(p->head + i) & (p->backlog_cap - 1)];
    free(p->backlog);
    p->backlog = b;
    p->backlog_cap = cap;
    p->head = 0;
    return true;
}

void ucs_port_tx_queue(struct ucs_port *p, void *handle, unsigned offloads)
{
    struct rte_mbuf *m = handle;

    if (offloads)
        tx_offload_prepare(m, offloads);
    if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG)
        p->tx_tso_frames++;
    if (p->capture)
        ucs_capture_tx(p->capture, m);
    if (p->count == p->backlog_cap && !backlog_grow(p)) {
        /* Only when the process is out of memory: flushing is the last resort. */
        ucs_port_tx_flush(p);
        if (p->count == p->backlog_cap) {
            rte_pktmbuf_free(m);
            p->tx_alloc_failed++;
            return;
        }
    }
    p->backlog[(p->head + p->count) & (p->backlog_cap - 1)] = m;
    p->count++;
    if (p->count >= TX_BURST)
        ucs_port_tx_flush(p);
}

void ucs_port_tx_flush(struct ucs_port *p)
{
    while (p->count) {
        uint32_t run = p->backlog_cap - p->head;
        uint16_t want, sent;

        if (run > p->count)
            run = p->count;
        want = run > TX_BURST ? TX_BURST : (uint16_t)run;
        sent = rte_eth_tx_burst(p->id, 0, &p->backlog[p->head], want);
        p->tx_frames += sent;
        p->head = (p->head + sent) & (p->backlog_cap - 1);
        p->count -= sent;
        if (sent < want) {
            p->tx_backlogged += want - sent;
            break;
        }
    }
}
