/* Which links may carry credentials: the loopback path and ports configured as
 * host-local links to other ucstack instances on this machine. */
#ifndef UCS_STACK_LINKS_H
#define UCS_STACK_LINKS_H

#include <stdbool.h>

struct netif;

bool ucs_netif_is_host_local(const struct netif *netif);

#endif
