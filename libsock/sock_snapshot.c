/* The socket table as telemetry lists it (ss's view), a bounded slice per call. */
#include "sock_snapshot.h"

#include "sock.h"
#include "tcp.h"
#include "udp.h"
#include "telemetry.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <ucstack/socket.h>

/* lwIP's states in ss's words. */
static const char *const tcp_states[] = {
    [CLOSED] = "CLOSED",     [LISTEN] = "LISTEN",         [SYN_SENT] = "SYN-SENT",     [SYN_RCVD] = "SYN-RECV",
    [ESTABLISHED] = "ESTAB", [FIN_WAIT_1] = "FIN-WAIT-1", [FIN_WAIT_2] = "FIN-WAIT-2", [CLOSE_WAIT] = "CLOSE-WAIT",
    [CLOSING] = "CLOSING",   [LAST_ACK] = "LAST-ACK",     [TIME_WAIT] = "TIME-WAIT",
};

static void put_addr(struct ucs_sock_view *t, uint8_t *out, const ip_addr_t *a)
{
    if (IP_IS_V4(a)) {
        t->family = AF_INET;
        memcpy(out, &ip_2_ip4(a)->addr, 4);
    } else {
        t->family = AF_INET6;
        memcpy(out, ip_2_ip6(a)->addr, 16);
    }
}

static void fill_tcp(struct ucs_sock_view *t, struct ucs_sock *s)
{
    struct tcp_pcb *pcb = s->u.tcp.pcb;

    t->family = (uint8_t)s->family;
    t->state = s->u.tcp.state == TCP_S_NEW ? "UNCONN" : "CLOSED";
    if (!pcb)
        return;
    /* A listener's pcb is a tcp_pcb_listen: only the common fields exist. */
    t->state = tcp_states[pcb->state];
    put_addr(t, t->laddr, &pcb->local_ip);
    t->lport = pcb->local_port;
    if (pcb->state == LISTEN) {
        t->send_q = (uint32_t)s->u.tcp.backlog;
        t->recv_q = (uint32_t)s->u.tcp.acceptq_len;
        return;
    }
    put_addr(t, t->raddr, &pcb->remote_ip);
    t->rport = pcb->remote_port;
    t->send_q = (uint32_t)tcp_sock_outq(s);
    t->recv_q = s->u.tcp.rx_bytes;
}

static void fill_udp(struct ucs_sock_view *t, struct ucs_sock *s)
{
    struct udp_pcb *pcb = s->u.udp.pcb;

    t->family = (uint8_t)s->family;
    t->state = s->u.udp.connected ? "ESTAB" : "UNCONN";
    t->recv_q = s->u.udp.rxq_len;
    if (!pcb)
        return;
    put_addr(t, t->laddr, &pcb->local_ip);
    t->lport = pcb->local_port;
    if (s->u.udp.connected) {
        put_addr(t, t->raddr, &pcb->remote_ip);
        t->rport = pcb->remote_port;
    }
}

/* tcp6 or udp6 when the local address is IPv6, as ss says. */
static const char *proto_of(const struct ucs_sock_view *t, const char *v4, const char *v6)
{
    return t->family == AF_INET6 ? v6 : v4;
}

int sock_snapshot(int cursor, int budget)
{
    int len = sock_table_len();

    for (; cursor < len && budget > 0; cursor++, budget--) {
        struct ucs_sock *s = sock_lookup(UCS_FD_BASE + cursor);
        struct ucs_sock_view view, *t = &view;

        if (!s || !sock_is_socket(s))
            continue;
        memset(t, 0, sizeof(*t));
        t->fd = s->fd;
        t->cred_known = s->creds.peer_cred != NULL;
        t->peer_pid = s->creds.peer_cred ? s->creds.peer_cred->pid : -1;
        t->peer_uid = s->creds.peer_cred ? (int32_t)s->creds.peer_cred->euid : -1;
        if (s->ops == &stream_ops) {
            fill_tcp(t, s);
            t->proto = proto_of(t, "tcp", "tcp6");
        } else if (s->ops == &dgram_ops) {
            fill_udp(t, s);
            t->proto = proto_of(t, "udp", "udp6");
        } else {
            t->proto = "local";
            t->family = AF_UNIX;
            t->state = s->u.local.state == LOCAL_S_LISTEN      ? "LISTEN"
                       : s->u.local.state == LOCAL_S_CONNECTED ? "ESTAB"
                                                               : "UNCONN";
        }
        ucs_stack_telemetry_add_socket(t);
    }
    return cursor < len ? cursor : -1;
}

/* The credential option's counters, named as in ucs_cred_option_stats. */
// clang-format off
#define CRED(f) {"cred_" #f, offsetof(struct ucs_cred_option_stats, f)}
// clang-format on
static const struct {
    const char *name;
    size_t offset;
} cred_fields[] = {
    CRED(sent),      CRED(received),   CRED(ignored_foreign_link), CRED(malformed),
    CRED(untrusted), CRED(unresolved), CRED(unattested),
};

void sock_snapshot_counters(void)
{
    struct ucs_cred_option_stats cs;
    uint64_t v;

    ucs_get_cred_option_stats(&cs);
    for (size_t i = 0; i < sizeof(cred_fields) / sizeof(cred_fields[0]); i++) {
        memcpy(&v, (const char *)&cs + cred_fields[i].offset, sizeof(v));
        ucs_stack_telemetry_add_stat(cred_fields[i].name, v);
    }
}
