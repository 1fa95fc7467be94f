/* Datagram sockets over lwIP's raw UDP API. */
#include "addr.h"
#include "sock.h"
#include "udp.h"

#include "lwip/memp.h"
#include "lwip/udp.h"

#include <string.h>

#define UDP_QUEUE_ENTRIES 8192
#define UDP_MAX_V4 65507
#define UDP_MAX_V6 65527

/* Queue entries come from a pool sized at start-up, not from malloc per datagram. */
LWIP_MEMPOOL_DECLARE(UCS_UDP_RXQ, UDP_QUEUE_ENTRIES, sizeof(struct ucs_rxq_entry), "udp rx queue")

static bool pool_ready;
static uint64_t udp_dropped; /* datagrams refused for want of receive buffer */

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct ucs_sock *s = arg;
    struct ucs_rxq_entry *e;
    socklen_t len = sizeof(e->from);
    LWIP_UNUSED_ARG(pcb);

    if (s->u.udp.rxq_len >= (uint32_t)s->rcvbuf || !(e = LWIP_MEMPOOL_ALLOC(UCS_UDP_RXQ))) {
        udp_dropped++;
        pbuf_free(p);
        return;
    }
    e->next = NULL;
    e->p = p;
    e->offset = 0;
    addr_to_sockaddr(s->family, addr, port, (struct sockaddr *)&e->from, &len);
    if (s->u.udp.rxq_tail)
        s->u.udp.rxq_tail->next = e;
    else
        s->u.udp.rxq = e;
    s->u.udp.rxq_tail = e;
    s->u.udp.rxq_len += p->tot_len;
    sock_wake(s);
}

void udp_sock_refused(void *recv_arg, udp_recv_fn recv)
{
    struct ucs_sock *s = recv_arg;
    if (recv != on_recv || !s)
        return;
    s->so_error = ECONNREFUSED;
    sock_wake(s);
}

static int take_error(struct ucs_sock *s)
{
    int err = s->so_error;
    s->so_error = 0;
    return err;
}

static int udp_sock_open(struct ucs_sock *s)
{
    struct udp_pcb *pcb;
    if (!pool_ready) {
        LWIP_MEMPOOL_INIT(UCS_UDP_RXQ);
        pool_ready = true;
    }
    pcb = udp_new_ip_type(s->family == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (!pcb)
        return sock_fail(ENOMEM);
    s->u.udp.pcb = pcb;
    udp_recv(pcb, on_recv, s);
    return 0;
}

static struct ucs_rxq_entry *dequeue(struct ucs_sock *s)
{
    struct ucs_rxq_entry *e = s->u.udp.rxq;
    s->u.udp.rxq = e->next;
    if (!s->u.udp.rxq)
        s->u.udp.rxq_tail = NULL;
    s->u.udp.rxq_len -= e->p->tot_len;
    return e;
}

static void udp_sock_close(struct ucs_sock *s)
{
    udp_remove(s->u.udp.pcb);
    while (s->u.udp.rxq) {
        struct ucs_rxq_entry *e = dequeue(s);
        pbuf_free(e->p);
        LWIP_MEMPOOL_FREE(UCS_UDP_RXQ, e);
    }
}

static int lwip_errno(err_t e)
{
    switch (e) {
    case ERR_OK: return 0;
    case ERR_USE: return EADDRINUSE;
    case ERR_RTE: return ENETUNREACH;
    case ERR_MEM:
    case ERR_BUF: return ENOBUFS;
    case ERR_VAL: return EINVAL;
    default: return EIO;
    }
}

static int dgram_bind(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    ip_addr_t ip;
    u16_t port;
    int err = addr_from_sockaddr(s->family, addr, len, &ip, &port);

    if (err)
        return sock_fail(err);
    if (s->u.udp.bound)
        return sock_fail(EINVAL);
    if (!addr_is_local(&ip))
        return sock_fail(EADDRNOTAVAIL);
    if (s->family == AF_INET6 && ip_addr_isany(&ip) && !s->v6only)
        ip_addr_copy(ip, *IP_ANY_TYPE);
    if ((err = lwip_errno(udp_bind(s->u.udp.pcb, &ip, port))))
        return sock_fail(err);
    s->u.udp.bound = true;
    return 0;
}

static int dgram_connect(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    ip_addr_t ip;
    u16_t port;
    int err;

    if (addr && len >= (socklen_t)sizeof(sa_family_t) && addr->sa_family == AF_UNSPEC) {
        udp_disconnect(s->u.udp.pcb);
        s->u.udp.connected = false;
        return 0;
    }
    if ((err = addr_from_sockaddr(s->family, addr, len, &ip, &port)))
        return sock_fail(err);
    if ((err = lwip_errno(udp_connect(s->u.udp.pcb, &ip, port))))
        return sock_fail(err);
    s->u.udp.connected = true;
    s->u.udp.bound = true;
    return 0;
}

static ssize_t dgram_send(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags,
                          const struct sockaddr *to, socklen_t tolen)
{
    size_t total = iov_total(iov, iovcnt), off = 0;
    struct pbuf *p;
    ip_addr_t ip;
    u16_t port;
    err_t e;
    int err;

    LWIP_UNUSED_ARG(flags);
    if (s->so_error)
        return sock_fail(take_error(s));
    if (to && (err = addr_from_sockaddr(s->family, to, tolen, &ip, &port)))
        return sock_fail(err);
    if (!to && !s->u.udp.connected)
        return sock_fail(EDESTADDRREQ);
    if (total > (size_t)(s->family == AF_INET ? UDP_MAX_V4 : UDP_MAX_V6))
        return sock_fail(EMSGSIZE);
    p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)total, PBUF_RAM);
    if (!p)
        return sock_fail(ENOBUFS);
    for (int i = 0; i < iovcnt; i++) {
        pbuf_take_at(p, iov[i].iov_base, (u16_t)iov[i].iov_len, (u16_t)off);
        off += iov[i].iov_len;
    }
    e = to ? udp_sendto(s->u.udp.pcb, p, &ip, port) : udp_send(s->u.udp.pcb, p);
    pbuf_free(p);
    s->u.udp.bound = true;
    return e == ERR_OK ? (ssize_t)total : sock_fail(lwip_errno(e));
}

static bool has_datagram(struct ucs_sock *s)
{
    return s->u.udp.rxq != NULL || s->so_error;
}

static ssize_t dgram_recv(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags,
                          struct sockaddr *from, socklen_t *fromlen)
{
    struct ucs_rxq_entry *e;
    size_t copied = 0, len;

    if (!s->u.udp.rxq && s->so_error)
        return sock_fail(take_error(s));
    if (!has_datagram(s)) {
        uint64_t deadline = sock_deadline(&s->rcvtimeo);
        if (s->nonblock || (flags & MSG_DONTWAIT))
            return sock_fail(EAGAIN);
        if (sock_wait(s, has_datagram, NULL, deadline))
            return sock_fail(EAGAIN);
        if (!s->u.udp.rxq)
            return sock_fail(take_error(s));
    }
    e = s->u.udp.rxq;
    len = e->p->tot_len;
    for (int i = 0; i < iovcnt && copied < len; i++) {
        size_t n = len - copied < iov[i].iov_len ? len - copied : iov[i].iov_len;
        pbuf_copy_partial(e->p, iov[i].iov_base, (u16_t)n, (u16_t)copied);
        copied += n;
    }
    if (from && fromlen) {
        socklen_t full = s->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        memcpy(from, &e->from, *fromlen < full ? *fromlen : full);
        *fromlen = full;
    }
    if (!(flags & MSG_PEEK)) {
        dequeue(s);
        pbuf_free(e->p);
        LWIP_MEMPOOL_FREE(UCS_UDP_RXQ, e);
    }
    /* MSG_TRUNC: the datagram's real length, as Linux returns it. */
    return (ssize_t)((flags & MSG_TRUNC) ? len : copied);
}

static int dgram_shutdown(struct ucs_sock *s, int how)
{
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return sock_fail(EINVAL);
    return s->u.udp.connected ? 0 : sock_fail(ENOTCONN);
}

static int dgram_getname(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, bool peer)
{
    struct udp_pcb *pcb = s->u.udp.pcb;
    if (peer) {
        if (!s->u.udp.connected)
            return sock_fail(ENOTCONN);
        addr_to_sockaddr(s->family, &pcb->remote_ip, pcb->remote_port, addr, len);
    } else {
        addr_to_sockaddr(s->family, &pcb->local_ip, pcb->local_port, addr, len);
    }
    return 0;
}

static int dgram_setopt(struct ucs_sock *s, int level, int name, const void *val, socklen_t len)
{
    int v;
    if (level != SOL_SOCKET || name != SO_REUSEADDR)
        return sock_fail(ENOPROTOOPT);
    if (len < (socklen_t)sizeof(int))
        return sock_fail(EINVAL);
    memcpy(&v, val, sizeof(v));
    s->reuseaddr = v != 0;
    if (v)
        ip_set_option(s->u.udp.pcb, SOF_REUSEADDR);
    else
        ip_reset_option(s->u.udp.pcb, SOF_REUSEADDR);
    return 0;
}

static int dgram_getopt(struct ucs_sock *s, int level, int name, void *val, socklen_t *len)
{
    int v = s->reuseaddr;
    if (level != SOL_SOCKET || name != SO_REUSEADDR)
        return sock_fail(ENOPROTOOPT);
    if (*len < (socklen_t)sizeof(int))
        return sock_fail(EINVAL);
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}

static uint32_t udp_sock_events(struct ucs_sock *s)
{
    return EPOLLOUT | EPOLLWRNORM | (s->u.udp.rxq ? EPOLLIN | EPOLLRDNORM : 0) | (s->so_error ? EPOLLERR : 0);
}

static int udp_sock_fionread(struct ucs_sock *s, int *n)
{
    *n = s->u.udp.rxq ? s->u.udp.rxq->p->tot_len : 0;
    return 0;
}

const struct sock_ops dgram_ops = {
    .families = {AF_INET, AF_INET6},
    .type = SOCK_DGRAM,
    .protocol = IPPROTO_UDP,
    .so_protocol = IPPROTO_UDP,
    .in_stack = true,
    .open = udp_sock_open,
    .close = udp_sock_close,
    .events = udp_sock_events,
    .fionread = udp_sock_fionread,
    .bind = dgram_bind,
    .connect = dgram_connect,
    .send = dgram_send,
    .recv = dgram_recv,
    .shutdown = dgram_shutdown,
    .getname = dgram_getname,
    .setopt = dgram_setopt,
    .getopt = dgram_getopt,
};
