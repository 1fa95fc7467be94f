/* Which links may carry credentials: the loopback path and ports configured as
 * host-local links to other ucstack instances on this machine, once the
 * process at the other end is attested (credlink/attest.h). */
#ifndef UCS_STACK_LINKS_H
#define UCS_STACK_LINKS_H

#include <stdbool.h>

struct netif;

struct ucs_attest_peer;

bool ucs_netif_is_host_local(const struct netif *netif);
/* The process attested at the other end of a port (NULL: none, or the
 * loopback netif, which only this process feeds). */
struct ucs_attest_peer *ucs_netif_attested_peer(const struct netif *netif);

#endif
