/* Stream sockets over lwIP's raw TCP API. */
#include "addr.h"
#include "cred_option.h"
#include "sock.h"
#include "tcp.h"

#include "rx_pressure.h"
#include "syn_cookie.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

/* SOMAXCONN, as Linux: ucs_listen() honours a backlog up to it. */
#define ACCEPTQ_MAX 4096

static int take_error(struct ucs_sock *s)
{
    int err = s->so_error;
    s->so_error = 0;
    return err;
}

static int err_to_errno(err_t err, enum ucs_tcp_state state)
{
    switch (err) {
    case ERR_RST: return state == TCP_S_CONNECTING ? ECONNREFUSED : ECONNRESET;
    case ERR_ABRT: return ETIMEDOUT;
    case ERR_CLSD: return ENOTCONN;
    case ERR_MEM: return ENOMEM;
    case ERR_RTE: return ENETUNREACH;
    case ERR_USE: return EADDRINUSE;
    case ERR_ISCONN: return EISCONN;
    default: return EIO;
    }
}

/* --- lwIP callbacks: they only record what happened and wake epoll --- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct ucs_sock *s = arg;
    struct pbuf *last;
    LWIP_UNUSED_ARG(err);

    if (!p) {
        s->u.tcp.peer_fin = true;
        sock_wake(s);
        return ERR_OK;
    }
    if (s->u.tcp.rd_shut) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    if (ucs_rx_pressure()) {
        /* receive buffers are short: the data moves to the heap (rx_pressure.c) */
        struct pbuf *q = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
        if (q) {
            pbuf_free(p);
            p = q;
            ucs_rx_pressure_copied();
        }
    }
    s->u.tcp.rx_bytes += p->tot_len;
    for (last = p; last->next; last = last->next)
        ;
    if (s->u.tcp.rx_tail)
        s->u.tcp.rx_tail->next = p;
    else
        s->u.tcp.rx_head = p;
    s->u.tcp.rx_tail = last;
    sock_wake(s);
    return ERR_OK;
}

/* An ACK frees send space: news only for registrations that wait to write
 * (a request/response server's EPOLLIN-only ones would be evaluated and
 * dropped again at the next wait, once per answer). */
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(len);
    sock_wake_for(arg, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    struct ucs_sock *s = arg;
    s->u.tcp.pcb = NULL;
    s->so_error = err_to_errno(err, s->u.tcp.state);
    s->u.tcp.state = TCP_S_CLOSED;
    sock_wake(s);
}

static void attach(struct ucs_sock *s, struct tcp_pcb *pcb)
{
    s->u.tcp.pcb = pcb;
    cred_option_bind(pcb, &s->creds);
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
}

/* Leaves the pcb to lwIP: its default receive callback discards and ACKs. */
static void detach(struct tcp_pcb *pcb)
{
    cred_option_bind(pcb, NULL);
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct ucs_sock *s = arg;
    LWIP_UNUSED_ARG(pcb);
    LWIP_UNUSED_ARG(err);
    s->u.tcp.state = TCP_S_CONNECTED;
    sock_wake(s);
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct ucs_sock *l = arg, *s;
    int tail;

    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (l->u.tcp.acceptq_len == l->u.tcp.backlog || !(s = sock_alloc(&stream_ops))) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    s->family = l->family;
    s->rcvbuf = l->rcvbuf;
    s->sndbuf = l->sndbuf;
    s->u.tcp.state = TCP_S_CONNECTED;
    s->creds.cred = ucs_cred_hold(l->creds.cred);
    s->creds.peer_cred = cred_option_take_pending(pcb);
    attach(s, pcb);
    tail = (l->u.tcp.acceptq_head + l->u.tcp.acceptq_len) % l->u.tcp.backlog;
    l->u.tcp.acceptq[tail] = s;
    l->u.tcp.acceptq_len++;
    /* The accept queue is ours; lwIP's SYN queue counts half-open ones only. */
    ucs_syn_set_accept_queued(l->u.tcp.pcb, (unsigned)l->u.tcp.acceptq_len);
    sock_wake(l);
    return ERR_OK;
}

/* --- the calls --- */

static int tcp_sock_open(struct ucs_sock *s)
{
    struct tcp_pcb *pcb;
    cred_option_init();
    pcb = tcp_new_ip_type(s->family == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (!pcb)
        return sock_fail(ENOMEM);
    s->u.tcp.state = TCP_S_NEW;
    attach(s, pcb);
    return 0;
}

static void free_rx(struct ucs_sock *s)
{
    struct pbuf *p = s->u.tcp.rx_head;
    while (p) {
        struct pbuf *next = p->next;
        p->next = NULL;
        pbuf_free(p);
        p = next;
    }
    s->u.tcp.rx_head = s->u.tcp.rx_tail = NULL;
    s->u.tcp.rx_bytes = 0;
}

static void tcp_sock_close(struct ucs_sock *s)
{
    struct tcp_pcb *pcb = s->u.tcp.pcb;

    if (s->u.tcp.state == TCP_S_LISTEN) {
        while (s->u.tcp.acceptq_len) {
            struct ucs_sock *c = s->u.tcp.acceptq[s->u.tcp.acceptq_head];
            s->u.tcp.acceptq_head = (s->u.tcp.acceptq_head + 1) % s->u.tcp.backlog;
            s->u.tcp.acceptq_len--;
            tcp_sock_close(c);
            sock_free(c);
        }
        free(s->u.tcp.acceptq);
    }
    if (pcb && s->u.tcp.state == TCP_S_LISTEN) {
        cred_option_bind(pcb, NULL);
        tcp_arg(pcb, NULL);
        tcp_accept(pcb, NULL);
        tcp_close(pcb);
    } else if (pcb) {
        bool unread = s->u.tcp.rx_bytes > 0;
        bool hard = s->linger.l_onoff && s->linger.l_linger == 0;
        detach(pcb);
        /* Like Linux: closing with unread data, or with a zero linger, resets. */
        if (unread || hard || tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
    }
    free_rx(s);
}

static int stream_bind(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    ip_addr_t ip;
    u16_t port;
    int err = addr_from_sockaddr(s->family, addr, len, &ip, &port);
    err_t e;

    if (err)
        return sock_fail(err);
    if (s->u.tcp.state != TCP_S_NEW || s->u.tcp.pcb->local_port != 0)
        return sock_fail(EINVAL);
    if (!addr_is_local(&ip))
        return sock_fail(EADDRNOTAVAIL);
    if (s->family == AF_INET6 && ip_addr_isany(&ip) && !s->v6only)
        ip_addr_copy(ip, *IP_ANY_TYPE);
    e = tcp_bind(s->u.tcp.pcb, &ip, port);
    return e == ERR_OK ? 0 : sock_fail(err_to_errno(e, s->u.tcp.state));
}

static int stream_listen(struct ucs_sock *s, int backlog)
{
    struct tcp_pcb *lpcb;
    err_t e;

    if (s->u.tcp.state == TCP_S_LISTEN)
        return 0;
    if (s->u.tcp.state != TCP_S_NEW)
        return sock_fail(EINVAL);
    if (backlog <= 0)
        backlog = 1;
    if (backlog > ACCEPTQ_MAX)
        backlog = ACCEPTQ_MAX;
    s->u.tcp.acceptq = calloc((size_t)backlog, sizeof(*s->u.tcp.acceptq));
    if (!s->u.tcp.acceptq)
        return sock_fail(ENOBUFS);
    if (s->u.tcp.pcb->local_port == 0 && s->family == AF_INET6 && !s->v6only)
        tcp_bind(s->u.tcp.pcb, IP_ANY_TYPE, 0);
    lpcb = tcp_listen_with_backlog_and_err(s->u.tcp.pcb, (u16_t)backlog, &e);
    if (!lpcb) {
        free(s->u.tcp.acceptq);
        s->u.tcp.acceptq = NULL;
        return sock_fail(err_to_errno(e, s->u.tcp.state));
    }
    s->u.tcp.pcb = lpcb;
    s->u.tcp.backlog = backlog;
    s->u.tcp.state = TCP_S_LISTEN;
    cred_option_bind((struct tcp_pcb *)lpcb, &s->creds);
    tcp_arg(lpcb, s);
    tcp_accept(lpcb, on_accept);
    return 0;
}

static bool can_accept(struct ucs_sock *s)
{
    return s->u.tcp.acceptq_len > 0;
}

static int stream_accept(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct ucs_sock *c;

    if (s->u.tcp.state != TCP_S_LISTEN)
        return sock_fail(EINVAL);
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return sock_fail(EINVAL);
    if (!can_accept(s)) {
        if (s->nonblock)
            return sock_fail(EAGAIN);
        if (sock_wait(s, can_accept, NULL, sock_deadline(&s->rcvtimeo)))
            return sock_fail(EAGAIN);
    }
    c = s->u.tcp.acceptq[s->u.tcp.acceptq_head];
    s->u.tcp.acceptq_head = (s->u.tcp.acceptq_head + 1) % s->u.tcp.backlog;
    s->u.tcp.acceptq_len--;
    ucs_syn_set_accept_queued(s->u.tcp.pcb, (unsigned)s->u.tcp.acceptq_len);
    c->nonblock = flags & SOCK_NONBLOCK;
    c->cloexec = flags & SOCK_CLOEXEC;
    if (c->u.tcp.pcb) {
        addr_to_sockaddr(c->family, &c->u.tcp.pcb->remote_ip, c->u.tcp.pcb->remote_port, addr, len);
    } else {
        addr_to_sockaddr(c->family, IP_ANY_TYPE, 0, addr, len);
    }
    return c->fd;
}

static bool connect_done(struct ucs_sock *s)
{
    return s->u.tcp.state != TCP_S_CONNECTING;
}

static int stream_connect(struct ucs_sock *s, const struct sockaddr *addr, socklen_t len)
{
    ip_addr_t ip;
    u16_t port;
    struct ucs_cred *cred;
    int err;
    err_t e;

    switch (s->u.tcp.state) {
    case TCP_S_CONNECTING: return sock_fail(EALREADY);
    case TCP_S_CONNECTED: return sock_fail(EISCONN);
    case TCP_S_LISTEN: return sock_fail(EISCONN);
    case TCP_S_CLOSED: return sock_fail((err = take_error(s)) ? err : EISCONN);
    case TCP_S_NEW: break;
    }
    if ((err = addr_from_sockaddr(s->family, addr, len, &ip, &port)))
        return sock_fail(err);
    if (s->family == AF_INET6 && s->v6only && IP_IS_V4(&ip))
        return sock_fail(ENETUNREACH);
    if (port == 0 || ip_addr_isany(&ip))
        return sock_fail(ECONNREFUSED);
    /* The connector's credential is the caller's at connect(), not the creator's. */
    cred = ucs_cred_capture();
    if (!cred)
        return sock_fail(ENOBUFS);
    ucs_cred_release(s->creds.cred);
    s->creds.cred = cred;
    s->u.tcp.state = TCP_S_CONNECTING;
    e = tcp_connect(s->u.tcp.pcb, &ip, port, on_connected);
    if (e != ERR_OK) {
        s->u.tcp.state = TCP_S_NEW;
        return sock_fail(err_to_errno(e, TCP_S_NEW));
    }
    if (s->nonblock)
        return sock_fail(EINPROGRESS);
    if (sock_wait(s, connect_done, NULL, sock_deadline(&s->sndtimeo)))
        return sock_fail(EINPROGRESS);
    if (s->u.tcp.state == TCP_S_CLOSED)
        return sock_fail(take_error(s));
    return 0;
}

static bool can_send(struct ucs_sock *s)
{
    return s->u.tcp.state != TCP_S_CONNECTED || s->u.tcp.wr_shut ||
           (tcp_sndbuf(s->u.tcp.pcb) > 0 && tcp_sndqueuelen(s->u.tcp.pcb) < TCP_SND_QUEUELEN);
}

/* What a send on a socket that cannot take data returns, or 0 if it can. */
static int send_state_error(struct ucs_sock *s)
{
    switch (s->u.tcp.state) {
    case TCP_S_CONNECTED: return s->u.tcp.wr_shut ? EPIPE : 0;
    case TCP_S_CLOSED: {
        int err = take_error(s);
        return err ? err : EPIPE;
    }
    case TCP_S_CONNECTING: return 0;
    default: return EPIPE;
    }
}

static ssize_t stream_send(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags,
                           const struct sockaddr *to, socklen_t tolen)
{
    bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = sock_deadline(&s->sndtimeo);
    size_t total = iov_total(iov, iovcnt), sent = 0;
    int i = 0, err;
    size_t off = 0;

    LWIP_UNUSED_ARG(to);
    LWIP_UNUSED_ARG(tolen);
    if (s->u.tcp.state == TCP_S_CONNECTING) {
        if (nonblock)
            return sock_fail(EAGAIN);
        sock_wait(s, connect_done, NULL, deadline);
    }
    if ((err = send_state_error(s)))
        return sock_fail(err);
    while (sent < total) {
        struct tcp_pcb *pcb = s->u.tcp.pcb;
        size_t room = tcp_sndbuf(pcb), n;
        u8_t wflags = TCP_WRITE_FLAG_COPY;

        while (iov[i].iov_len == off) {
            i++;
            off = 0;
        }
        n = iov[i].iov_len - off;
        if (n > room)
            n = room;
        if (n > 0xffff)
            n = 0xffff;
        if (sent + n < total || (flags & MSG_MORE))
            wflags |= TCP_WRITE_FLAG_MORE;
        if (n && tcp_write(pcb, (const char *)iov[i].iov_base + off, (u16_t)n, wflags) == ERR_OK) {
            sent += n;
            off += n;
            continue;
        }
        tcp_output(pcb);
        if (nonblock)
            break;
        /* tcp_write can refuse what can_send allowed (segment or memory limits):
         * give the stack a step before looking again. */
        sock_poll_stack();
        if (sock_wait(s, can_send, NULL, deadline))
            break;
        if ((err = send_state_error(s)))
            return sent ? (ssize_t)sent : sock_fail(err);
    }
    if (s->u.tcp.pcb)
        tcp_output(s->u.tcp.pcb);
    return sent ? (ssize_t)sent : sock_fail(EAGAIN);
}

static bool can_recv(struct ucs_sock *s)
{
    return s->u.tcp.rx_bytes || s->u.tcp.peer_fin || s->u.tcp.rd_shut || s->u.tcp.state == TCP_S_CLOSED;
}

/* Hands consumed bytes back to TCP as window, in the 16-bit steps lwIP takes. */
static void reopen_window(struct ucs_sock *s, size_t n)
{
    while (n && s->u.tcp.pcb) {
        u16_t step = n > 0xffff ? 0xffff : (u16_t)n;
        tcp_recved(s->u.tcp.pcb, step);
        n -= step;
    }
}

/* Copies up to len queued bytes into iov (or drops them with MSG_TRUNC); consumes unless peeking. */
static size_t take_rx(struct ucs_sock *s, const struct iovec *iov, int iovcnt, size_t len, int flags)
{
    struct pbuf *p = s->u.tcp.rx_head;
    size_t done = 0, poff = s->u.tcp.rx_off, ioff = 0;
    int i = 0;
    bool peek = flags & MSG_PEEK;

    while (p && done < len) {
        size_t n = p->len - poff;
        while (i < iovcnt && iov[i].iov_len == ioff) {
            i++;
            ioff = 0;
        }
        if (i == iovcnt)
            break;
        if (n > iov[i].iov_len - ioff)
            n = iov[i].iov_len - ioff;
        if (!(flags & MSG_TRUNC))
            memcpy((char *)iov[i].iov_base + ioff, (const char *)p->payload + poff, n);
        done += n;
        ioff += n;
        poff += n;
        if (poff == p->len) {
            struct pbuf *next = p->next;
            if (!peek) {
                p->next = NULL;
                pbuf_free(p);
                s->u.tcp.rx_head = next;
                if (!next)
                    s->u.tcp.rx_tail = NULL;
            }
            p = next;
            poff = 0;
        }
    }
    if (!peek) {
        s->u.tcp.rx_off = (uint16_t)poff;
        s->u.tcp.rx_bytes -= (uint32_t)done;
        reopen_window(s, done);
    }
    return done;
}

static ssize_t stream_recv(struct ucs_sock *s, const struct iovec *iov, int iovcnt, int flags,
                           struct sockaddr *from, socklen_t *fromlen)
{
    bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = sock_deadline(&s->rcvtimeo);
    size_t want = iov_total(iov, iovcnt), got = 0;
    int err;

    if (s->u.tcp.state == TCP_S_NEW || s->u.tcp.state == TCP_S_LISTEN)
        return sock_fail(ENOTCONN);
    for (;;) {
        struct iovec rest[IOV_MAX];
        int n = 0;
        /* With MSG_WAITALL the next read continues where the last stopped. */
        size_t skip = got;
        for (int i = 0; i < iovcnt && n < IOV_MAX; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            rest[n].iov_base = (char *)iov[i].iov_base + skip;
            rest[n].iov_len = iov[i].iov_len - skip;
            skip = 0;
            n++;
        }
        got += take_rx(s, rest, n, want - got, flags);
        if (got == want || (got && !(flags & MSG_WAITALL)) || (flags & MSG_PEEK && got))
            break;
        if (s->u.tcp.peer_fin || s->u.tcp.rd_shut)
            break;
        if (s->u.tcp.state == TCP_S_CLOSED) {
            if (got)
                break;
            err = take_error(s);
            return err ? sock_fail(err) : 0;
        }
        if (nonblock || sock_wait(s, can_recv, NULL, deadline))
            return got ? (ssize_t)got : sock_fail(EAGAIN);
    }
    if (from && fromlen)
        *fromlen = 0;
    return (ssize_t)got;
}

static int stream_shutdown(struct ucs_sock *s, int how)
{
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return sock_fail(EINVAL);
    if (s->u.tcp.state != TCP_S_CONNECTED && s->u.tcp.state != TCP_S_CONNECTING)
        return sock_fail(ENOTCONN);
    if (how != SHUT_WR) {
        size_t n = s->u.tcp.rx_bytes;
        s->u.tcp.rd_shut = true;
        free_rx(s);
        reopen_window(s, n);
    }
    if (how != SHUT_RD && !s->u.tcp.wr_shut) {
        s->u.tcp.wr_shut = true;
        if (s->u.tcp.pcb)
            tcp_shutdown(s->u.tcp.pcb, 0, 1);
    }
    sock_wake(s);
    return 0;
}

static int stream_getname(struct ucs_sock *s, struct sockaddr *addr, socklen_t *len, bool peer)
{
    struct tcp_pcb *pcb = s->u.tcp.pcb;
    if (peer) {
        if (s->u.tcp.state != TCP_S_CONNECTED || !pcb)
            return sock_fail(ENOTCONN);
        addr_to_sockaddr(s->family, &pcb->remote_ip, pcb->remote_port, addr, len);
        return 0;
    }
    if (!pcb)
        addr_to_sockaddr(s->family, IP_ANY_TYPE, 0, addr, len);
    else
        addr_to_sockaddr(s->family, &pcb->local_ip, pcb->local_port, addr, len);
    return 0;
}

static int int_opt(const void *val, socklen_t len, int *out)
{
    if (len < (socklen_t)sizeof(int))
        return EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

static int stream_setopt(struct ucs_sock *s, int level, int name, const void *val, socklen_t len)
{
    struct tcp_pcb *pcb = s->u.tcp.pcb;
    int v, err;

    if ((err = int_opt(val, len, &v)))
        return sock_fail(err);
    if (level == SOL_SOCKET && name == SO_KEEPALIVE) {
        s->keepalive = v != 0;
        if (pcb && s->u.tcp.state != TCP_S_LISTEN) {
            if (v)
                ip_set_option(pcb, SOF_KEEPALIVE);
            else
                ip_reset_option(pcb, SOF_KEEPALIVE);
            /* when the slow timer next probes changed (stack/tcp_timer_list.c) */
            ucs_tcp_timer_touch(pcb);
        }
        return 0;
    }
    if (level == SOL_SOCKET && name == SO_REUSEADDR) {
        s->reuseaddr = v != 0;
        if (pcb) {
            if (v)
                ip_set_option(pcb, SOF_REUSEADDR);
            else
                ip_reset_option(pcb, SOF_REUSEADDR);
        }
        return 0;
    }
    if (level != IPPROTO_TCP)
        return sock_fail(ENOPROTOOPT);
    switch (name) {
    case TCP_NODELAY:
        if (pcb && s->u.tcp.state != TCP_S_LISTEN) {
            if (v)
                tcp_nagle_disable(pcb);
            else
                tcp_nagle_enable(pcb);
        }
        return 0;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
        if (v < 1 || v > 32767)
            return sock_fail(EINVAL);
        if (pcb && s->u.tcp.state != TCP_S_LISTEN) {
            if (name == TCP_KEEPIDLE)
                pcb->keep_idle = (u32_t)v * 1000u;
            else
                pcb->keep_intvl = (u32_t)v * 1000u;
            ucs_tcp_timer_touch(pcb);
        }
        return 0;
    case TCP_KEEPCNT:
        if (v < 1 || v > 127)
            return sock_fail(EINVAL);
        if (pcb && s->u.tcp.state != TCP_S_LISTEN) {
            pcb->keep_cnt = (u32_t)v;
            ucs_tcp_timer_touch(pcb);
        }
        return 0;
    default: return sock_fail(ENOPROTOOPT);
    }
}

static int stream_getopt(struct ucs_sock *s, int level, int name, void *val, socklen_t *len)
{
    struct tcp_pcb *pcb = s->u.tcp.state == TCP_S_LISTEN ? NULL : s->u.tcp.pcb;
    int v;

    if (level == SOL_SOCKET && name == SO_KEEPALIVE)
        v = s->keepalive;
    else if (level == SOL_SOCKET && name == SO_REUSEADDR)
        v = s->reuseaddr;
    else if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
        v = s->u.tcp.state == TCP_S_LISTEN;
    else if (level != IPPROTO_TCP)
        return sock_fail(ENOPROTOOPT);
    else if (name == TCP_NODELAY)
        v = pcb ? tcp_nagle_disabled(pcb) != 0 : 0;
    else if (name == TCP_KEEPIDLE)
        v = (int)((pcb ? pcb->keep_idle : TCP_KEEPIDLE_DEFAULT) / 1000u);
    else if (name == TCP_KEEPINTVL)
        v = (int)((pcb ? pcb->keep_intvl : TCP_KEEPINTVL_DEFAULT) / 1000u);
    else if (name == TCP_KEEPCNT)
        v = (int)(pcb ? pcb->keep_cnt : TCP_KEEPCNT_DEFAULT);
    else
        return sock_fail(ENOPROTOOPT);
    if (*len < (socklen_t)sizeof(int))
        return sock_fail(EINVAL);
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}

int tcp_sock_outq(struct ucs_sock *s)
{
    struct tcp_pcb *pcb = s->u.tcp.pcb;
    if (s->u.tcp.state == TCP_S_LISTEN)
        return -1;
    return pcb ? (int)(pcb->snd_lbb - pcb->lastack) : 0;
}

static uint32_t tcp_sock_events(struct ucs_sock *s)
{
    uint32_t ev = 0;
    switch (s->u.tcp.state) {
    case TCP_S_LISTEN: return s->u.tcp.acceptq_len ? EPOLLIN | EPOLLRDNORM : 0;
    case TCP_S_NEW: return EPOLLOUT | EPOLLHUP;
    case TCP_S_CONNECTING: return 0;
    case TCP_S_CLOSED:
        return EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM | EPOLLHUP | EPOLLRDHUP | (s->so_error ? EPOLLERR : 0);
    case TCP_S_CONNECTED: break;
    }
    if (s->u.tcp.rx_bytes || s->u.tcp.peer_fin || s->u.tcp.rd_shut)
        ev |= EPOLLIN | EPOLLRDNORM;
    if (s->u.tcp.peer_fin || s->u.tcp.rd_shut)
        ev |= EPOLLRDHUP;
    if (s->u.tcp.wr_shut || can_send(s))
        ev |= EPOLLOUT | EPOLLWRNORM;
    if (s->u.tcp.peer_fin && s->u.tcp.wr_shut)
        ev |= EPOLLHUP;
    return ev;
}

static int tcp_sock_fionread(struct ucs_sock *s, int *n)
{
    if (s->u.tcp.state == TCP_S_LISTEN)
        return sock_fail(EINVAL);
    *n = (int)s->u.tcp.rx_bytes;
    return 0;
}

static int tcp_peer_ready(struct ucs_sock *s)
{
    return s->u.tcp.state == TCP_S_CONNECTED ? 0 : -ENOTCONN;
}

const struct sock_ops stream_ops = {
    .families = {AF_INET, AF_INET6},
    .type = SOCK_STREAM,
    .protocol = IPPROTO_TCP,
    .so_protocol = IPPROTO_TCP,
    .in_stack = true,
    .open = tcp_sock_open,
    .close = tcp_sock_close,
    .events = tcp_sock_events,
    .fionread = tcp_sock_fionread,
    .outq = tcp_sock_outq,
    .peer_ready = tcp_peer_ready,
    .bind = stream_bind,
    .listen = stream_listen,
    .accept = stream_accept,
    .connect = stream_connect,
    .send = stream_send,
    .recv = stream_recv,
    .shutdown = stream_shutdown,
    .getname = stream_getname,
    .setopt = stream_setopt,
    .getopt = stream_getopt,
};
