#ifndef UCS_ROUTE_H
#define UCS_ROUTE_H

struct netif;

/* lwIP's loopback netif: 127.0.0.0/8, ::1, and a copy of each port's IPv6
 * addresses, so that connections to them pick a source lwIP accepts there. */
struct netif *ucs_loop_netif(void);

#endif
