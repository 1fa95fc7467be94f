#include "drive.h"

#include <ucstack/stack.h>

#include "lwip/icmp.h"
#include "lwip/icmp6.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/icmp6.h"
#include "lwip/raw.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATTERN_PERIOD 65521u /* prime, so the pattern does not line up with segment sizes */
#define MAX_WRITE 32768u
#define SERVER_RING (4u * 1024 * 1024) /* twice TCP_WND: unacknowledged data always fits */

static uint8_t pattern[PATTERN_PERIOD];

static void pattern_init(void)
{
    if (pattern[1])
        return;
    for (uint32_t i = 0; i < PATTERN_PERIOD; i++)
        pattern[i] = (uint8_t)((i * 2654435761u) >> 24);
}

uint8_t ucs_drive_pattern(uint64_t offset)
{
    pattern_init();
    return pattern[offset % PATTERN_PERIOD];
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ucs_drive_addr(const char *ip, uint16_t port, struct sockaddr_storage *out)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return 0;
    }
    return -1;
}

static void to_lwip(const struct sockaddr_storage *ss, ip_addr_t *ip, u16_t *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        IP_ADDR4(ip, 0, 0, 0, 0);
        ip_2_ip4(ip)->addr = v4->sin_addr.s_addr;
        *port = ntohs(v4->sin_port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        IP_ADDR6(ip, 0, 0, 0, 0);
        memcpy(ip_2_ip6(ip)->addr, v6->sin6_addr.s6_addr, 16);
        ip6_addr_clear_zone(ip_2_ip6(ip));
        *port = ntohs(v6->sin6_port);
    }
}

/* --- ping --- */

struct ping {
    u16_t id, seq;
    bool answered;
};

static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
    struct ping *ping = arg;
    struct icmp_echo_hdr hdr;
    u16_t skip = (u16_t)ip_current_header_tot_len();
    u8_t reply = IP_IS_V6_VAL(pcb->local_ip) || IP_IS_V6(addr) ? ICMP6_TYPE_EREP : ICMP_ER;

    if (pbuf_copy_partial(p, &hdr, sizeof(hdr), skip) != sizeof(hdr) || hdr.type != reply || hdr.id != ping->id ||
        hdr.seqno != lwip_htons(ping->seq))
        return 0;
    ping->answered = true;
    pbuf_free(p);
    return 1;
}

static void ping_send(struct raw_pcb *pcb, const ip_addr_t *dst, struct ping *ping)
{
    struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + 32, PBUF_RAM);
    struct icmp_echo_hdr *hdr;

    if (!p)
        return;
    hdr = p->payload;
    memset(hdr, 0, p->len);
    hdr->type = IP_IS_V6(dst) ? ICMP6_TYPE_EREQ : ICMP_ECHO;
    hdr->id = ping->id;
    hdr->seqno = lwip_htons(++ping->seq);
    for (u16_t i = sizeof(*hdr); i < p->len; i++)
        ((u8_t *)hdr)[i] = (u8_t)i;
    if (!IP_IS_V6(dst))
        hdr->chksum = inet_chksum(hdr, p->len);
    raw_sendto(pcb, p, dst);
    pbuf_free(p);
}

long ucs_drive_ping(struct ucs_stack *stack, const struct sockaddr_storage *dst, unsigned timeout_ms)
{
    struct ping ping = {.id = (u16_t)LWIP_RAND()};
    bool v6 = dst->ss_family == AF_INET6;
    struct raw_pcb *pcb = raw_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4, v6 ? IP6_NEXTH_ICMP6 : IP_PROTO_ICMP);
    ip_addr_t ip;
    u16_t port;
    double start = now_s(), sent = 0, rtt = -1;

    if (!pcb)
        return -1;
    if (v6) {
        pcb->chksum_reqd = 1;
        pcb->chksum_offset = 2;
    }
    to_lwip(dst, &ip, &port);
    raw_recv(pcb, ping_recv, &ping);
    /* A lost first request (the neighbour not yet resolved) is sent again. */
    while (now_s() - start < timeout_ms / 1000.0) {
        if (now_s() - sent > 0.2) {
            sent = now_s();
            ping_send(pcb, &ip, &ping);
        }
        ucs_stack_poll(stack);
        if (ping.answered) {
            rtt = (now_s() - sent) * 1e6;
            break;
        }
    }
    raw_remove(pcb);
    return (long)rtt;
}

/* --- echo server --- */

struct echo_conn {
    struct tcp_pcb *pcb;
    uint8_t *ring;
    uint32_t head, used;
    bool peer_closed;
};

static struct ucs_echo_server_stats server_stats;

void ucs_drive_echo_server_stats(struct ucs_echo_server_stats *stats)
{
    *stats = server_stats;
}

static void conn_free(struct echo_conn *c)
{
    free(c->ring);
    free(c);
}

static void conn_close(struct echo_conn *c)
{
    tcp_arg(c->pcb, NULL);
    tcp_recv(c->pcb, NULL);
    tcp_sent(c->pcb, NULL);
    tcp_err(c->pcb, NULL);
    if (tcp_close(c->pcb) != ERR_OK)
        tcp_abort(c->pcb);
    conn_free(c);
}

/* Echoes what the ring holds as far as the send buffer allows; the window is
 * reopened only for bytes handed back to TCP, so the ring cannot overflow. */
static void conn_drain(struct echo_conn *c)
{
    while (c->used) {
        uint32_t n = SERVER_RING - c->head;
        if (n > c->used)
            n = c->used;
        if (n > tcp_sndbuf(c->pcb))
            n = tcp_sndbuf(c->pcb);
        if (n > MAX_WRITE)
            n = MAX_WRITE;
        if (n == 0 || tcp_write(c->pcb, c->ring + c->head, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        c->head = (c->head + n) % SERVER_RING;
        c->used -= n;
        server_stats.bytes += n;
        tcp_recved(c->pcb, (u16_t)n);
    }
    tcp_output(c->pcb);
    if (c->peer_closed && !c->used)
        conn_close(c);
}

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_conn *c = arg;
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(err);
    if (!p) {
        c->peer_closed = true;
        conn_drain(c);
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next) {
        uint32_t tail = (c->head + c->used) % SERVER_RING;
        uint32_t first = SERVER_RING - tail < q->len ? SERVER_RING - tail : q->len;
        memcpy(c->ring + tail, q->payload, first);
        memcpy(c->ring, (u8_t *)q->payload + first, q->len - first);
        c->used += q->len;
    }
    pbuf_free(p);
    conn_drain(c);
    return ERR_OK;
}

static err_t server_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(len);
    conn_drain(arg);
    return ERR_OK;
}

static void server_err(void *arg, err_t err)
{
    LWIP_UNUSED_ARG(err);
    conn_free(arg);
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct echo_conn *c;
    LWIP_UNUSED_ARG(arg);
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->ring = malloc(SERVER_RING))) {
        free(c);
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    c->pcb = pcb;
    server_stats.accepted++;
    tcp_nagle_disable(pcb);
    tcp_arg(pcb, c);
    tcp_recv(pcb, server_recv);
    tcp_sent(pcb, server_sent);
    tcp_err(pcb, server_err);
    return ERR_OK;
}

int ucs_drive_echo_server(uint16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_ANY), *lpcb;
    if (!pcb)
        return -1;
    if (tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        tcp_close(pcb);
        return -1;
    }
    lpcb = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
    if (!lpcb) {
        tcp_close(pcb);
        return -1;
    }
    tcp_accept(lpcb, server_accept);
    return 0;
}

/* --- echo client --- */

struct echo_client {
    struct tcp_pcb *pcb;
    uint64_t total, sent, received;
    bool connected, done, failed;
    double start;
    struct ucs_echo_result *res;
};

static void client_fail(struct echo_client *c, const char *why, uint64_t at)
{
    if (c->failed)
        return;
    c->failed = true;
    snprintf(c->res->error, sizeof(c->res->error), "%s (at byte %llu)", why, (unsigned long long)at);
}

static void client_fill(struct echo_client *c)
{
    while (c->sent < c->total) {
        uint32_t at = (uint32_t)(c->sent % PATTERN_PERIOD);
        uint64_t n = PATTERN_PERIOD - at;
        if (n > c->total - c->sent)
            n = c->total - c->sent;
        if (n > tcp_sndbuf(c->pcb))
            n = tcp_sndbuf(c->pcb);
        if (n > MAX_WRITE)
            n = MAX_WRITE;
        if (n == 0 || tcp_write(c->pcb, pattern + at, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        c->sent += n;
    }
    tcp_output(c->pcb);
}

static bool matches_pattern(uint64_t offset, const uint8_t *data, uint16_t len)
{
    while (len) {
        uint32_t at = (uint32_t)(offset % PATTERN_PERIOD);
        uint16_t n = (uint16_t)(PATTERN_PERIOD - at < len ? PATTERN_PERIOD - at : len);
        if (memcmp(data, pattern + at, n) != 0)
            return false;
        data += n;
        offset += n;
        len = (u16_t)(len - n);
    }
    return true;
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct echo_client *c = arg;
    LWIP_UNUSED_ARG(err);
    if (!p) {
        if (c->received < c->total)
            client_fail(c, "server closed early", c->received);
        c->done = true;
        return ERR_OK;
    }
    for (struct pbuf *q = p; q; q = q->next) {
        if (c->received + q->len > c->total)
            client_fail(c, "more bytes came back than were sent", c->received);
        else if (!matches_pattern(c->received, q->payload, q->len))
            client_fail(c, "echoed bytes differ from those sent", c->received);
        c->received += q->len;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (c->received >= c->total)
        c->done = true;
    return ERR_OK;
}

static err_t client_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(len);
    client_fill(arg);
    return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
    struct echo_client *c = arg;
    c->pcb = NULL;
    client_fail(c, err == ERR_RST ? "connection reset" : err == ERR_ABRT ? "connection aborted" : "connection failed",
                c->received);
    c->done = true;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct echo_client *c = arg;
    LWIP_UNUSED_ARG(pcb);
    if (err != ERR_OK) {
        client_fail(c, "connect failed", 0);
        c->done = true;
        return err;
    }
    c->connected = true;
    c->start = now_s();
    client_fill(c);
    return ERR_OK;
}

void ucs_drive_echo(struct ucs_stack *stack, const struct sockaddr_storage *dst, uint64_t bytes, unsigned timeout_ms,
                    struct ucs_echo_result *res)
{
    struct echo_client c = {.total = bytes, .res = res};
    ip_addr_t ip;
    u16_t port;
    double deadline = now_s() + timeout_ms / 1000.0;

    memset(res, 0, sizeof(*res));
    pattern_init();
    to_lwip(dst, &ip, &port);
    c.pcb = tcp_new_ip_type(IP_GET_TYPE(&ip));
    if (!c.pcb) {
        snprintf(res->error, sizeof(res->error), "no TCP control block free");
        return;
    }
    tcp_nagle_disable(c.pcb);
    tcp_arg(c.pcb, &c);
    tcp_recv(c.pcb, client_recv);
    tcp_sent(c.pcb, client_sent);
    tcp_err(c.pcb, client_err);
    if (tcp_connect(c.pcb, &ip, port, client_connected) != ERR_OK) {
        tcp_abort(c.pcb);
        snprintf(res->error, sizeof(res->error), "tcp_connect refused");
        return;
    }
    while (!c.done && now_s() < deadline)
        ucs_stack_poll(stack);
    if (!c.done)
        client_fail(&c, "timed out", c.received);
    res->seconds = c.connected ? now_s() - c.start : 0;
    res->bytes = c.received;
    res->ok = !c.failed && c.received == c.total;
    if (c.pcb) {
        tcp_arg(c.pcb, NULL);
        tcp_recv(c.pcb, NULL);
        tcp_sent(c.pcb, NULL);
        tcp_err(c.pcb, NULL);
        if (tcp_close(c.pcb) != ERR_OK)
            tcp_abort(c.pcb);
    }
    /* Let the FIN go out before the caller moves on. */
    for (int i = 0; i < 100; i++)
        ucs_stack_poll(stack);
}
