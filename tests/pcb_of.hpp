// The lwIP pcb behind a connected ucstack socket, found through the
// connection index (stack/tcp_pcb_index.c) by the socket's own 4-tuple.
#pragma once

#include <ucstack/socket.h>

extern "C" {
#include "lwip/priv/tcp_priv.h"
}

#include <arpa/inet.h>

inline ip_addr_t ipv4_of(const sockaddr_in &a)
{
    ip_addr_t ip;
    IP_SET_TYPE_VAL(ip, IPADDR_TYPE_V4);
    ip_2_ip4(&ip)->addr = a.sin_addr.s_addr;
    return ip;
}

// fd's 4-tuple, seen from fd's end (IPv4).
struct FourTuple {
    sockaddr_in local{}, peer{};
};

inline bool four_tuple_of(int fd, FourTuple *t)
{
    socklen_t len = sizeof(t->local);
    if (ucs_getsockname(fd, (sockaddr *)&t->local, &len) != 0)
        return false;
    len = sizeof(t->peer);
    return ucs_getpeername(fd, (sockaddr *)&t->peer, &len) == 0;
}

// The active or TIME-WAIT pcb the index holds for t, or nullptr.
inline struct tcp_pcb *pcb_of(const FourTuple &t)
{
    ip_addr_t l = ipv4_of(t.local), r = ipv4_of(t.peer);
    u16_t lport = ntohs(t.local.sin_port), rport = ntohs(t.peer.sin_port);
    struct tcp_pcb *pcb = ucs_tcp_pcb_find(&l, lport, &r, rport);
    if (pcb && (pcb->local_port != lport || pcb->remote_port != rport))
        return nullptr;
    return pcb;
}

inline struct tcp_pcb *pcb_of(int fd)
{
    FourTuple t;
    return four_tuple_of(fd, &t) ? pcb_of(t) : nullptr;
}
