/* sockaddr <-> lwIP addresses, and which addresses are the stack's own. */
#ifndef UCS_LIBSOCK_ADDR_H
#define UCS_LIBSOCK_ADDR_H

#include "lwip/ip_addr.h"

#include <stdbool.h>
#include <sys/socket.h>

/* Converts addr (AF_INET, or AF_INET6 with v4-mapped addresses unwrapped) for a
 * socket of the given family. Returns 0 or an errno value. */
int addr_from_sockaddr(int family, const struct sockaddr *addr, socklen_t len, ip_addr_t *ip, u16_t *port);
/* Writes ip:port as the socket family's sockaddr (v4-mapped for AF_INET6),
 * truncated to *len as Linux does, and sets *len to the full size. */
void addr_to_sockaddr(int family, const ip_addr_t *ip, u16_t port, struct sockaddr *addr, socklen_t *len);
/* Whether ip may be bound: the any address, 127.0.0.0/8, ::1, or an address of a port. */
bool addr_is_local(const ip_addr_t *ip);

#endif
