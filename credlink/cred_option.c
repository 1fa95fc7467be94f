/*
 * The credential option. On a SYN the connector's stack writes a reference to
 * the connector's connect-time credential; on the SYN-ACK the listener's stack
 * writes one to the listener's creation-time credential. A reference is
 * (pid, slot, generation) in the sender's credential table (credlink/cred_table.h),
 * which holds the whole credential. 12 bytes: what a SYN has left beside MSS,
 * window scale, SACK-permitted and timestamps.
 *
 *   0        1        2        4                8                12
 *   +--------+--------+--------+----------------+----------------+
 *   |version |   0    |  slot  |      pid       |   generation   |
 *   +--------+--------+--------+----------------+----------------+
 *
 * Sent only on the loopback path and host-local links whose other end is
 * attested; received anywhere else it is ignored and counted, and the peer's
 * credential stays unknown. On a port, it is resolved in the table the attested
 * process handed over and believed only as far as the kernel vouches for that
 * process (ucs_cred_table_resolve_from). It is read on SYN and SYN-ACK only.
 */
#include "cred_option.h"

#include <ucstack/socket.h>

#include "attest.h"
#include "links.h"
#include "route.h"
#include "tcp_options.h"
#include "cred_table.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#include <string.h>

#define CRED_OPT_LEN 12
#define CRED_OPT_VERSION 1

static u8_t sock_slot = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;    /* the owning socket's credentials */
static u8_t pending_slot = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID; /* peer credential before accept */
static struct ucs_cred_option_stats stats;
static bool enabled = true;
static bool refresh_armed; /* refresh_readings() is due */

/* The credential a SYN brought to a listener, until lwIP makes its pcb. */
static struct {
    struct ucs_cred *cred;
    ip_addr_t remote;
    u16_t port;
    u32_t seqno;
} syn_cred;

void ucs_get_cred_option_stats(struct ucs_cred_option_stats *out)
{
    *out = stats;
}

void cred_option_count_local_untrusted(void)
{
    __atomic_add_fetch(&stats.local_untrusted, 1, __ATOMIC_RELAXED);
}

void ucs_set_cred_option(bool on)
{
    enabled = on;
}

static struct ucs_sock_creds *sock_of(const struct tcp_pcb *pcb)
{
    /* A half-open connection speaks for its listener until it is accepted. */
    if (pcb->state == SYN_RCVD)
        return pcb->listener ? tcp_ext_arg_get((const struct tcp_pcb *)pcb->listener, sock_slot) : NULL;
    return tcp_ext_arg_get(pcb, sock_slot);
}

static bool reference(const struct tcp_pcb *pcb, struct ucs_cred_ref *ref)
{
    struct ucs_sock_creds *s = sock_of(pcb);
    struct netif *out;

    if (!enabled || !s || !s->cred)
        return false;
    out = ip_route(&pcb->local_ip, &pcb->remote_ip);
    if (!ucs_netif_is_host_local(out))
        return false;
    return ucs_cred_table_publish(s->cred, ref) == 0;
}

static uint8_t opt_len(const struct tcp_pcb *pcb, uint8_t room)
{
    struct ucs_cred_ref ref;
    return room >= CRED_OPT_LEN && reference(pcb, &ref) ? CRED_OPT_LEN : 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool opt_write(const struct tcp_pcb *pcb, uint8_t *payload, uint8_t len)
{
    struct ucs_cred_ref ref;
    if (len != CRED_OPT_LEN || !reference(pcb, &ref))
        return false;
    memset(payload, 0, len);
    payload[0] = CRED_OPT_VERSION;
    payload[2] = (uint8_t)(ref.slot >> 8);
    payload[3] = (uint8_t)ref.slot;
    put32(payload + 4, (uint32_t)ref.pid);
    put32(payload + 8, ref.gen);
    stats.sent++;
    return true;
}

static void set_peer(struct ucs_sock_creds *s, struct ucs_cred *cred)
{
    if (s->peer_cred)
        ucs_cred_release(s->peer_cred);
    s->peer_cred = cred;
}

/* The timer that keeps each attested peer's ids reading fresh while claims
 * come across its link, so that a SYN finds one and waits for no system call
 * (ucred/attested.h); an idle link is not read. */
static void refresh_readings(void *arg)
{
    struct netif *netif;

    LWIP_UNUSED_ARG(arg);
    refresh_armed = false;
    NETIF_FOREACH(netif)
    {
        struct ucs_attest_peer *peer = ucs_netif_attested_peer(netif);
        if (peer)
            ucs_attested_refresh(&peer->kernel);
    }
}

static void keep_readings_fresh(void)
{
    if (!refresh_armed) {
        sys_timeout(UCS_ATTESTED_REFRESH_MS, refresh_readings, NULL);
        refresh_armed = true;
    }
}

static void opt_received(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const uint8_t *payload, uint8_t len)
{
    struct ucs_cred_ref ref;
    struct ucs_cred *cred = NULL;
    struct netif *in = ip_current_input_netif();
    struct ucs_attest_peer *peer = NULL;
    bool loop = in && in == ucs_loop_netif();
    struct ucs_sock_creds *s;

    /* Only a SYN to a listener and a SYN-ACK to a connector can use it:
     * anything else is not worth a look at the table. */
    if (!(TCPH_FLAGS(hdr) & TCP_SYN) || (pcb->state != LISTEN && pcb->state != SYN_SENT))
        return;
    /* Host-local: the loopback path, or a port whose other end is attested. */
    if (!loop && !(peer = ucs_netif_attested_peer(in))) {
        stats.ignored_foreign_link++;
        return;
    }
    if (len != CRED_OPT_LEN || payload[0] != CRED_OPT_VERSION || payload[1] != 0) {
        stats.malformed++;
        return;
    }
    ref.slot = (uint16_t)(payload[2] << 8 | payload[3]);
    ref.pid = (pid_t)get32(payload + 4);
    ref.gen = get32(payload + 8);
    if (!loop)
        keep_readings_fresh();
    switch (loop ? ucs_cred_table_resolve(&ref, &cred) : ucs_cred_table_resolve_from(&ref, peer, &cred)) {
    case UCS_CRED_OK: break;
    case UCS_CRED_UNTRUSTED: stats.untrusted++; return;
    case UCS_CRED_STALE: stats.unresolved++; return;
    case UCS_CRED_UNATTESTED: stats.unattested++; return;
    }
    stats.received++;
    if (pcb->state == LISTEN) {
        if (syn_cred.cred)
            ucs_cred_release(syn_cred.cred);
        syn_cred.cred = cred;
        ip_addr_copy(syn_cred.remote, *ip_current_src_addr());
        /* lwIP has turned the header into host byte order by now. */
        syn_cred.port = hdr->src;
        syn_cred.seqno = hdr->seqno;
        return;
    }
    s = pcb->state == SYN_SENT ? tcp_ext_arg_get(pcb, sock_slot) : NULL;
    if (s)
        set_peer(s, cred);
    else
        ucs_cred_release(cred);
}

static void pending_destroyed(u8_t id, void *data)
{
    LWIP_UNUSED_ARG(id);
    if (data)
        ucs_cred_release(data);
}

static const struct tcp_ext_arg_callbacks pending_callbacks = {pending_destroyed, NULL};

/* lwIP made the pcb for a SYN: hand it the credential that SYN carried. */
static err_t passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb)
{
    LWIP_UNUSED_ARG(id);
    LWIP_UNUSED_ARG(lpcb);
    if (syn_cred.cred && syn_cred.port == cpcb->remote_port && ip_addr_cmp(&syn_cred.remote, &cpcb->remote_ip) &&
        syn_cred.seqno + 1 == cpcb->rcv_nxt) {
        tcp_ext_arg_set_callbacks(cpcb, pending_slot, &pending_callbacks);
        tcp_ext_arg_set(cpcb, pending_slot, syn_cred.cred);
        syn_cred.cred = NULL;
    }
    return ERR_OK;
}

static const struct tcp_ext_arg_callbacks sock_callbacks = {NULL, passive_open};

void cred_option_init(void)
{
    static const struct ucs_tcpopt_handler handler = {UCS_CRED_EXID, opt_len, opt_write, opt_received};
    if (sock_slot != LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
        return;
    sock_slot = tcp_ext_arg_alloc_id();
    pending_slot = tcp_ext_arg_alloc_id();
    ucs_tcpopt_register(&handler);
}

void cred_option_bind(struct tcp_pcb *pcb, struct ucs_sock_creds *creds)
{
    tcp_ext_arg_set_callbacks(pcb, sock_slot, &sock_callbacks);
    tcp_ext_arg_set(pcb, sock_slot, creds);
}

struct ucs_cred *cred_option_take_pending(struct tcp_pcb *pcb)
{
    struct ucs_cred *cred = tcp_ext_arg_get(pcb, pending_slot);
    tcp_ext_arg_set(pcb, pending_slot, NULL);
    return cred;
}
