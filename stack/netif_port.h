/* An lwIP netif over a port from drivers/port.h. */
#ifndef UCS_NETIF_PORT_H
#define UCS_NETIF_PORT_H

#include "port.h"
#include <ucstack/stack.h>

struct port_netif;
struct netif;

/* Opening is in two steps: the port first (so the stack can learn its NUMA
 * node before lwIP touches memory), then its netif once lwIP is initialised. */
struct ucs_port *port_netif_open_port(const struct ucs_port_config *cfg, char *err, size_t errlen);
struct port_netif *port_netif_attach(struct ucs_port *port, const struct ucs_port_config *cfg, char *err,
                                     size_t errlen);
void port_netif_close(struct port_netif *pn);
/* lwIP's heap in memory the ports read frames from, so that frames can leave
 * by reference (NULL: not enough such memory; the caller finds other). */
unsigned char *port_netif_heap(size_t size, int node);
/* Hands one burst of received frames to lwIP; returns how many. */
unsigned port_netif_rx(struct port_netif *pn);
void port_netif_tx_flush(struct port_netif *pn);
/* Follows the port's link state into lwIP's; returns whether the link is up
 * (and attested, where the port attests its peer). */
bool port_netif_check_link(struct port_netif *pn);
struct ucs_port *port_netif_port(struct port_netif *pn);
struct ucs_attest_stats;
void port_netif_attest_stats(const struct port_netif *pn, struct ucs_attest_stats *stats, uint64_t *dropped);
struct netif *port_netif_netif(struct port_netif *pn);

#endif
