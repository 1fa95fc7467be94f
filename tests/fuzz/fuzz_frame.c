/*
 * libFuzzer target: the whole receive path, from an Ethernet frame to lwIP.
 *
 * One lwIP instance (NO_SYS, lwip_init() once) with a netif like a port's
 * (stack/netif_port.c): 198.18.9.1/24, fd75:9::1/64 and a link-local address,
 * checksums checked, each frame handed to netif->input as a PBUF_REF custom
 * pbuf over its own allocation, the way port_netif_rx() wraps an mbuf. Linked
 * with our hook files as the stack links them: stack/tcp_options.c (TCP option
 * hooks), stack/route.c (route hooks), libsock/icmp_errors.c behind stack/ip_input.c (IP input hooks)
 * and credlink/cred_option.c (the credential option handler, registered with
 * cred_option_init()). What those reach outside lwIP is stood in for below:
 * the credential table (resolve/publish), the credential reference counts,
 * libsock's UDP socket callback, and whether the link is host-local.
 * The clock, randomness and ISNs are deterministic, so an input replays.
 *
 * Listening: TCP port 80 (IPv4 and IPv6; accepted connections echo), UDP port 7
 * (echo), and connected UDP sockets 5353 -> 198.18.9.2:53 and
 * 5354 -> [fd75:9::2]:53 for ICMP port unreachable. The peer is 198.18.9.2
 * (a static ARP entry, 02:00:00:00:09:02) and fd75:9::2.
 *
 * Input:
 *   cfg:u8 then records of  ctl:u8 [cut:u8 if ctl & 0x40] len:u16be frame[len]
 *   cfg bit 0  the link is host-local (credential options are believed)
 *       bit 1  connect out first: 198.18.9.1:40000 -> 198.18.9.2:8080
 *       bit 2  connect out first: [fd75:9::1]:40001 -> [fd75:9::2]:8080
 *       bit 3  accepted connections refuse received data (ERR_MEM)
 *       bit 4  the credential option is off
 *       bit 5  accepted connections close after their first data
 *   ctl bits 0-5  advance the clock by that many 25 ms steps first
 *       bit 6     cut the frame into a two-pbuf chain at byte cut
 *       bit 7     fix the IPv4 header, TCP, UDP, ICMP and ICMPv6 checksums
 *   Our ISN is always 0x01000000.
 *
 * After each input every connection is aborted and the ARP, neighbour and
 * reassembly state is cleared, and then no received frame may still be held
 * (a pbuf lwIP kept would be a leak), nor a peer credential. Every frame the
 * stack sends must be well formed, its TCP options included.
 *
 * Known lwIP bugs would stop every run: see header_room() and the wrapper of
 * ucs_tcp_guard_drops below; -DFUZZ_STRICT=1 leaves them in.
 */
#include "cred_option.h"
#include "../../libsock/icmp_errors.h"
#include "../../libsock/sock.h"

#include "../../stack/links.h"
#include "../../stack/route.h"
#include "../../stack/tcp_options.h"
#include "attest.h"
#include "cred_table.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/nd6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwip_hooks.h"
#include "netif/ethernet.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, "fuzz_frame: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

#define MAX_RECORDS 64
#define MAX_FRAME 9216
#define FUZZ_ISN 0x01000000u
/* -DFUZZ_STRICT=1 turns off what keeps lwIP's known bugs (docs/fuzzing.md)
 * from stopping every run: the room behind frames and the stack's TCP guard. */
#ifndef FUZZ_STRICT
#define FUZZ_STRICT 0
#endif
/* Zeroed bytes behind each received frame's allocation: see header_room(). */
#define FUZZ_SLACK (FUZZ_STRICT ? 0 : 8)

enum {
    CFG_HOST_LOCAL = 1, CFG_CONNECT4 = 2, CFG_CONNECT6 = 4, CFG_REFUSE = 8, CFG_CRED_OFF = 16, CFG_CLOSE = 32,
};

static struct netif fnetif;
static uint8_t cfg;
static u32_t fake_now;
static uint32_t rng;
static long rx_outstanding;   /* received frames lwIP still holds */
static long creds_live;       /* credentials the stand-in table handed out */
static unsigned long refused; /* ICMP port unreachable reported to a UDP socket */
static struct tcp_pcb *out4, *out6;

/* --- what the stack's platform code provides, made deterministic --- */

u32_t sys_now(void)
{
    return fake_now;
}

uint32_t ucs_random32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

void ucs_random_bytes(void *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = (uint8_t)ucs_random32();
}

u32_t ucs_hook_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port)
{
    LWIP_UNUSED_ARG(local_ip);
    LWIP_UNUSED_ARG(local_port);
    LWIP_UNUSED_ARG(remote_ip);
    LWIP_UNUSED_ARG(remote_port);
    return FUZZ_ISN;
}

/* --- stand-ins for what cred_option.c and icmp_errors.c reach outside lwIP --- */

bool ucs_netif_is_host_local(const struct netif *netif)
{
    if (!netif)
        return false;
    return netif == ucs_loop_netif() || (netif == &fnetif && (cfg & CFG_HOST_LOCAL));
}

/* The fuzzed port's attested peer: any process; its claims are judged below. */
struct ucs_attest_peer *ucs_netif_attested_peer(const struct netif *netif)
{
    static struct ucs_attest_peer anyone = {.kernel = {.pid = 4242}};
    return ucs_netif_is_host_local(netif) ? &anyone : NULL;
}

/* Its kernel word is fixed: the timer that keeps readings fresh reads nothing. */
void ucs_attested_refresh(struct ucs_attested *k)
{
    LWIP_UNUSED_ARG(k);
}

/* A peer's table, as the wire can make it answer: any reference resolves,
 * unless its generation is 0 (stale) or its pid negative (untrusted). */
enum ucs_cred_verdict ucs_cred_table_resolve(const struct ucs_cred_ref *ref, struct ucs_cred **out)
{
    struct ucs_cred *c;
    if (ref->gen == 0 || ref->slot >= 4096)
        return UCS_CRED_STALE;
    if (ref->pid < 0)
        return UCS_CRED_UNTRUSTED;
    c = calloc(1, sizeof(*c));
    CHECK(c, "out of memory");
    c->refs = 1;
    c->pid = ref->pid;
    *out = c;
    creds_live++;
    return UCS_CRED_OK;
}

enum ucs_cred_verdict ucs_cred_table_resolve_from(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                  struct ucs_cred **out)
{
    if (!peer)
        return UCS_CRED_UNATTESTED;
    return ucs_cred_table_resolve(ref, out);
}

int ucs_cred_table_publish(struct ucs_cred *cred, struct ucs_cred_ref *ref)
{
    ref->pid = 4242;
    ref->slot = cred->table_slot = 7;
    ref->gen = cred->table_gen = 99;
    return 0;
}

struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred)
{
    CHECK(cred->refs > 0, "hold of a released credential");
    cred->refs++;
    return cred;
}

void ucs_cred_release(struct ucs_cred *cred)
{
    CHECK(cred->refs > 0, "credential released more often than held");
    if (--cred->refs == 0) {
        free(cred->groups);
        free(cred);
        creds_live--;
    }
}

static void udp_noop_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    LWIP_UNUSED_ARG(arg);
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(addr);
    LWIP_UNUSED_ARG(port);
    pbuf_free(p);
}

void udp_sock_refused(void *recv_arg, udp_recv_fn recv)
{
    CHECK(recv == udp_noop_recv && recv_arg == &refused, "port unreachable for a pcb that is not connected");
    refused++;
}

/* lwIP issues 6 and 7 (docs/fuzzing.md) let a peer abort the process; the
 * stack's TCP guard (stack/tcp_guard.c) drops what triggers them. A strict
 * build goes around it (the linker's --wrap, build.sh) to reproduce them. */
bool __real_ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                                const uint8_t *opt2, uint16_t len);
bool __wrap_ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                                const uint8_t *opt2, uint16_t len);
bool __wrap_ucs_tcp_guard_drops(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len,
                                const uint8_t *opt2, uint16_t len)
{
    return !FUZZ_STRICT && __real_ucs_tcp_guard_drops(pcb, hdr, optlen, opt1len, opt2, len);
}

/* --- sockets, as libsock would hold them: each carries our credential --- */

static struct ucs_cred own_cred = {.refs = 1u << 30, .pid = 1};
static struct ucs_sock listen_sock = {.creds.cred = &own_cred};
static struct ucs_sock conn_sock = {.creds.cred = &own_cred};
static struct ucs_sock out_sock = {.creds.cred = &own_cred};

static void conn_err(void *arg, err_t err)
{
    LWIP_UNUSED_ARG(err);
    if (arg == &out4)
        out4 = NULL;
    else if (arg == &out6)
        out6 = NULL;
}

static err_t conn_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    LWIP_UNUSED_ARG(arg);
    LWIP_UNUSED_ARG(err);
    if (!p) {
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    if (cfg & CFG_REFUSE)
        return ERR_MEM; /* lwIP keeps it as refused data */
    for (struct pbuf *q = p; q; q = q->next) {
        u16_t n = q->len < tcp_sndbuf(pcb) ? q->len : tcp_sndbuf(pcb);
        if (n)
            tcp_write(pcb, q->payload, n, TCP_WRITE_FLAG_COPY);
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (cfg & CFG_CLOSE) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
            return ERR_ABRT;
        }
        return ERR_OK;
    }
    tcp_output(pcb);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct ucs_cred *peer;
    LWIP_UNUSED_ARG(arg);
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    /* What libsock's on_accept does with the credential the SYN brought. */
    peer = cred_option_take_pending(pcb);
    if (peer)
        ucs_cred_release(peer);
    cred_option_bind(pcb, &conn_sock.creds);
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, conn_recv);
    tcp_err(pcb, conn_err);
    return ERR_OK;
}

static err_t out_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    LWIP_UNUSED_ARG(arg);
    LWIP_UNUSED_ARG(err);
    tcp_recv(pcb, conn_recv);
    tcp_write(pcb, "hello", 5, TCP_WRITE_FLAG_COPY);
    tcp_output(pcb);
    return ERR_OK;
}

/* Echoes a copy, as libsock sends: lwIP cannot send every chain it receives
 * (docs/fuzzing.md, lwIP issue 8). */
static void udp_echo(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct pbuf *q = pbuf_alloc(PBUF_TRANSPORT, p->tot_len, PBUF_RAM);
    LWIP_UNUSED_ARG(arg);
    if (q) {
        CHECK(pbuf_copy_partial(p, q->payload, p->tot_len, 0) == p->tot_len, "short datagram");
        udp_sendto(pcb, q, addr, port);
        pbuf_free(q);
    }
    pbuf_free(p);
}

/* --- the netif --- */

static const struct eth_addr our_mac = {{0x02, 0, 0, 0, 0x09, 0x01}};
static const struct eth_addr peer_mac = {{0x02, 0, 0, 0, 0x09, 0x02}};
static ip4_addr_t peer4;
static ip_addr_t peer4_any, peer6_any;

/* Every frame the stack sends must be well formed: in particular its TCP
 * options must parse, ours included. */
static err_t fuzz_linkoutput(struct netif *netif, struct pbuf *p)
{
    static uint8_t f[65536];
    uint16_t len = p->tot_len, type;
    const uint8_t *l4 = NULL;
    size_t l4len = 0;

    LWIP_UNUSED_ARG(netif);
    CHECK(pbuf_copy_partial(p, f, len, 0) == len, "short pbuf chain");
    if (len < SIZEOF_ETH_HDR)
        FAIL("runt frame sent (%u bytes)", len);
    type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x0800 && len >= SIZEOF_ETH_HDR + 20) {
        const uint8_t *ip = f + SIZEOF_ETH_HDR;
        size_t ihl = (ip[0] & 0x0f) * 4u, total = (size_t)(ip[2] << 8 | ip[3]);
        CHECK(ihl >= 20 && total >= ihl && total <= len - SIZEOF_ETH_HDR, "bad IPv4 header sent");
        if (ip[9] == IP_PROTO_TCP && !(ip[6] & 0x3f) && !ip[7]) {
            l4 = ip + ihl;
            l4len = total - ihl;
        }
    } else if (type == 0x86dd && len >= SIZEOF_ETH_HDR + 40) {
        const uint8_t *ip = f + SIZEOF_ETH_HDR;
        size_t plen = (size_t)(ip[4] << 8 | ip[5]);
        CHECK(plen <= len - SIZEOF_ETH_HDR - 40u, "bad IPv6 payload length sent");
        if (ip[6] == IP6_NEXTH_TCP) {
            l4 = ip + 40;
            l4len = plen;
        }
    }
    if (l4) {
        struct ucs_tcpopt_exp found[UCS_TCPOPT_MAX_HANDLERS];
        size_t hlen;
        CHECK(l4len >= 20, "TCP segment of %zu bytes sent", l4len);
        hlen = (l4[12] >> 4) * 4u;
        CHECK(hlen >= 20 && hlen <= l4len, "TCP header length %zu sent", hlen);
        CHECK(ucs_tcpopt_parse(l4 + 20, hlen - 20, found, UCS_TCPOPT_MAX_HANDLERS) >= 0,
              "we sent TCP options that do not parse");
    }
    return ERR_OK;
}

static err_t fuzz_netif_init(struct netif *netif)
{
    netif->name[0] = 'd';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = fuzz_linkoutput;
    netif->mtu = 1500;
    netif->mtu6 = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, our_mac.addr, ETH_HWADDR_LEN);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
    NETIF_SET_CHECKSUM_CTRL(netif, NETIF_CHECKSUM_ENABLE_ALL);
    return ERR_OK;
}

static void init_once(void)
{
    static bool done;
    ip4_addr_t ip, mask, gw;
    ip6_addr_t a6;
    s8_t idx;
    struct tcp_pcb *l;
    struct udp_pcb *u;

    if (done)
        return;
    done = true;
    rng = 0x12345678;
    lwip_init();
    cred_option_init();
    icmp_errors_init();

    IP4_ADDR(&ip, 198, 18, 9, 1);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);
    netif_add(&fnetif, &ip, &mask, &gw, NULL, fuzz_netif_init, ethernet_input);
    /* As port_netif_attach() does: link-local, the port's address, and a copy
     * of that on the loopback netif. */
    netif_create_ip6_linklocal_address(&fnetif, 1);
    netif_ip6_addr_set_state(&fnetif, 0, IP6_ADDR_PREFERRED);
    IP6_ADDR(&a6, PP_HTONL(0xfd750009), 0, 0, PP_HTONL(1));
    ip6_addr_clear_zone(&a6);
    CHECK(netif_add_ip6_address(&fnetif, &a6, &idx) == ERR_OK, "IPv6 address");
    netif_ip6_addr_set_state(&fnetif, idx, IP6_ADDR_PREFERRED);
    CHECK(netif_add_ip6_address(ucs_loop_netif(), &a6, &idx) == ERR_OK, "loopback IPv6 address");
    netif_ip6_addr_set_state(ucs_loop_netif(), idx, IP6_ADDR_PREFERRED);
    netif_set_up(&fnetif);
    netif_set_link_up(&fnetif);

    IP4_ADDR(&peer4, 198, 18, 9, 2);
    ip_addr_copy_from_ip4(peer4_any, peer4);
    IP_ADDR6(&peer6_any, PP_HTONL(0xfd750009), 0, 0, PP_HTONL(2));

    /* TCP listener on port 80, both families, bound to its socket as libsock does. */
    l = tcp_new_ip_type(IPADDR_TYPE_ANY);
    CHECK(l && tcp_bind(l, IP_ANY_TYPE, 80) == ERR_OK, "tcp bind");
    l = tcp_listen_with_backlog(l, 8);
    CHECK(l, "tcp listen");
    cred_option_bind(l, &listen_sock.creds);
    tcp_accept(l, on_accept);

    /* UDP echo on port 7. */
    u = udp_new_ip_type(IPADDR_TYPE_ANY);
    CHECK(u && udp_bind(u, IP_ANY_TYPE, 7) == ERR_OK, "udp bind");
    udp_recv(u, udp_echo, NULL);
    /* Connected UDP sockets, for ICMP and ICMPv6 port unreachable. */
    u = udp_new_ip_type(IPADDR_TYPE_V4);
    CHECK(u && udp_bind(u, IP4_ADDR_ANY, 5353) == ERR_OK && udp_connect(u, &peer4_any, 53) == ERR_OK, "udp4");
    udp_recv(u, udp_noop_recv, &refused);
    u = udp_new_ip_type(IPADDR_TYPE_V6);
    CHECK(u && udp_bind(u, IP6_ADDR_ANY, 5354) == ERR_OK && udp_connect(u, &peer6_any, 53) == ERR_OK, "udp6");
    udp_recv(u, udp_noop_recv, &refused);
}

static void connect_out(struct tcp_pcb **slot, u8_t type, const ip_addr_t *local, const ip_addr_t *remote,
                        u16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(type);
    CHECK(pcb, "tcp_new");
    *slot = pcb;
    tcp_arg(pcb, slot);
    tcp_err(pcb, conn_err);
    cred_option_bind(pcb, &out_sock.creds);
    CHECK(tcp_bind(pcb, local, port) == ERR_OK, "bind for connect");
    if (tcp_connect(pcb, remote, 8080, out_connected) != ERR_OK) {
        tcp_abort(pcb);
        *slot = NULL;
    }
}

/* --- frames --- */

struct rx_frame {
    struct pbuf_custom pc;
    uint8_t *data;
};

static void rx_frame_free(struct pbuf *p)
{
    struct rx_frame *r = (struct rx_frame *)p;
    free(r->data);
    free(r);
    rx_outstanding--;
}

/* A pbuf over its own allocation of len bytes (at least room) and FUZZ_SLACK, as
 * port_netif_rx() makes one over an mbuf: reading further shows. */
static struct pbuf *wrap(const uint8_t *data, u16_t len, u16_t room)
{
    struct rx_frame *r = malloc(sizeof(*r));
    CHECK(r, "out of memory");
    r->data = calloc(1, (len > room ? len : room) + FUZZ_SLACK);
    CHECK(r->data || !len, "out of memory");
    memcpy(r->data, data, len);
    r->pc.custom_free_function = rx_frame_free;
    rx_outstanding++;
    return pbuf_alloced_custom(PBUF_RAW, len, PBUF_REF, &r->pc, r->data, len);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void fix_l4(uint8_t *l4, size_t l4len, uint8_t proto, uint32_t pseudo, bool v6)
{
    size_t off;
    uint16_t c;
    if (proto == IP_PROTO_TCP && l4len >= 20)
        off = 16;
    else if (proto == IP_PROTO_UDP && l4len >= 8)
        off = 6;
    else if (proto == IP_PROTO_ICMP && !v6 && l4len >= 4)
        off = 2, pseudo = 0;
    else if (proto == IP6_NEXTH_ICMP6 && v6 && l4len >= 4)
        off = 2;
    else
        return;
    l4[off] = l4[off + 1] = 0;
    c = fold(sum16(l4, l4len, pseudo + (proto == IP_PROTO_ICMP ? 0 : proto) + (uint32_t)(l4len & 0xffff) +
                                  (uint32_t)(l4len >> 16)));
    if (proto == IP_PROTO_UDP && c == 0)
        c = 0xffff;
    l4[off] = (uint8_t)(c >> 8);
    l4[off + 1] = (uint8_t)c;
}

/* Makes the checksums right, so mutations get past them to what lies behind. */
static void fix_checksums(uint8_t *f, size_t len)
{
    uint16_t type;
    if (len < SIZEOF_ETH_HDR)
        return;
    type = (uint16_t)(f[12] << 8 | f[13]);
    f += SIZEOF_ETH_HDR;
    len -= SIZEOF_ETH_HDR;
    if (type == 0x0800 && len >= 20) {
        size_t ihl = (f[0] & 0x0f) * 4u, total = (size_t)(f[2] << 8 | f[3]);
        uint16_t c;
        if (ihl < 20 || ihl > len)
            return;
        f[10] = f[11] = 0;
        c = fold(sum16(f, ihl, 0));
        f[10] = (uint8_t)(c >> 8);
        f[11] = (uint8_t)c;
        if (total < ihl || total > len || (f[6] & 0x3f) || f[7])
            return; /* a fragment's transport checksum covers the whole datagram */
        fix_l4(f + ihl, total - ihl, f[9], f[9] == IP_PROTO_ICMP ? 0 : sum16(f + 12, 8, 0), false);
    } else if (type == 0x86dd && len >= 40) {
        size_t plen = (size_t)(f[4] << 8 | f[5]);
        if (plen > len - 40)
            return;
        fix_l4(f + 40, plen, f[6], sum16(f + 8, 32, 0), true);
    }
}

/* lwIP reads some bytes before it checks that the frame holds them
 * (docs/fuzzing.md, lwIP issues 1-4): etharp_input() never checks the ARP
 * packet's length, ip4_input() reads the total length and ip6_input() the
 * payload length first, ip6_input() reads an extension header's length byte
 * before checking that the header is there, and tcp_parseopt() the length byte
 * of an option whose kind is the last byte of the option block. An mbuf always
 * has room behind a frame, so in production they read stale bytes and then
 * drop the packet or stop parsing. Here a frame gets room too (zeroes):
 * FUZZ_SLACK bytes behind every pbuf, a header's worth behind a short ARP or
 * IP frame; and the first pbuf of a chain holds at least an Ethernet and an
 * ARP header. Reads further than that still show. */
static u16_t header_room(const uint8_t *frame, u16_t len)
{
    uint16_t type = len >= SIZEOF_ETH_HDR ? (uint16_t)(frame[12] << 8 | frame[13]) : 0;
    if (FUZZ_STRICT)
        return 0;
    switch (type) {
    case ETHTYPE_ARP: return SIZEOF_ETH_HDR + SIZEOF_ETHARP_HDR;
    case ETHTYPE_IP: return SIZEOF_ETH_HDR + IP_HLEN;
    case ETHTYPE_IPV6: return SIZEOF_ETH_HDR + IP6_HLEN;
    default: return 0;
    }
}
#define MIN_CUT (SIZEOF_ETH_HDR + SIZEOF_ETHARP_HDR)

static void feed(uint8_t *frame, u16_t len, bool cut, uint8_t at)
{
    struct pbuf *p;
    if (cut && at >= MIN_CUT && at < len) {
        p = wrap(frame, at, 0);
        pbuf_cat(p, wrap(frame + at, (u16_t)(len - at), 0));
    } else {
        p = wrap(frame, len, header_room(frame, len));
    }
    if (fnetif.input(p, &fnetif) != ERR_OK)
        pbuf_free(p);
}

static void step(unsigned ms)
{
    fake_now += ms;
    sys_check_timeouts();
    netif_poll_all();
}

/* Back to the state after init_once(), as far as lwIP lets us. */
static void reset(void)
{
    struct netif *lo = ucs_loop_netif();

    if (out4)
        tcp_abort(out4);
    if (out6)
        tcp_abort(out6);
    while (tcp_active_pcbs)
        tcp_abort(tcp_active_pcbs);
    while (tcp_tw_pcbs)
        tcp_abort(tcp_tw_pcbs);
    /* What we sent to ourselves: a few rounds, then the queue is dropped (a
     * frame can make the stack talk to itself for ever, e.g. UDP echo from our
     * own address and port 7). */
    for (int i = 0; i < 8 && lo->loop_first; i++)
        netif_poll_all();
    if (lo->loop_first) {
        pbuf_free(lo->loop_first);
        lo->loop_first = lo->loop_last = NULL;
    }
    for (int i = 0; i <= IP_REASS_MAXAGE; i++)
        ip_reass_tmr();
    for (int i = 0; i <= IPV6_REASS_MAXAGE; i++)
        ip6_reass_tmr();
    etharp_cleanup_netif(&fnetif);
    nd6_cleanup_netif(&fnetif);
    fnetif.mtu = fnetif.mtu6 = 1500;
    if (out_sock.creds.peer_cred) {
        ucs_cred_release(out_sock.creds.peer_cred);
        out_sock.creds.peer_cred = NULL;
    }
    CHECK(rx_outstanding == 0, "%ld received frames still held after every connection was aborted",
          rx_outstanding);
    /* cred_option.c may keep one for a SYN that made no connection. */
    CHECK(creds_live <= 1, "%ld peer credentials still held", creds_live);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t frame[MAX_FRAME];
    static const ip_addr_t our4 = IPADDR4_INIT_BYTES(198, 18, 9, 1);
    static const ip_addr_t our6 = IPADDR6_INIT_HOST(0xfd750009, 0, 0, 1);
    size_t i = 1;

    init_once();
    if (size < 1)
        return 0;
    cfg = data[0];
    rng = 0x12345678;
    ucs_set_cred_option(!(cfg & CFG_CRED_OFF));
    CHECK(etharp_add_static_entry(&peer4, (struct eth_addr *)&peer_mac) == ERR_OK, "static ARP entry");
    if (cfg & CFG_CONNECT4)
        connect_out(&out4, IPADDR_TYPE_V4, &our4, &peer4_any, 40000);
    if (cfg & CFG_CONNECT6)
        connect_out(&out6, IPADDR_TYPE_V6, &our6, &peer6_any, 40001);
    step(0);

    for (int n = 0; n < MAX_RECORDS && i + 3 <= size; n++) {
        uint8_t ctl = data[i++], at = 0;
        size_t len;
        if (ctl & 0x40) {
            at = data[i++];
            if (i + 2 > size)
                break;
        }
        len = (size_t)(data[i] << 8 | data[i + 1]);
        i += 2;
        if (len > size - i)
            len = size - i;
        if (len > MAX_FRAME)
            len = MAX_FRAME;
        memcpy(frame, data + i, len);
        i += len;
        if (ctl & 0x80)
            fix_checksums(frame, len);
        step((ctl & 0x3f) * 25u);
        feed(frame, (u16_t)len, ctl & 0x40, at);
        netif_poll_all();
    }
    step(0);
    reset();
    return 0;
}
