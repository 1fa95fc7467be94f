/* Traffic to the instance's own addresses takes the loopback netif, so it never
 * depends on a port's checksum offload and never touches the wire. */
#include "route.h"

#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip_hooks.h"

static struct netif *loop_netif_cached;

struct netif *ucs_loop_netif(void)
{
    struct netif *n;
    if (loop_netif_cached)
        return loop_netif_cached;
    NETIF_FOREACH(n) {
        if (n->name[0] == 'l' && n->name[1] == 'o') {
            loop_netif_cached = n;
            break;
        }
    }
    return loop_netif_cached;
}

struct netif *ucs_hook_ip4_route(const ip4_addr_t *src, const ip4_addr_t *dest)
{
    struct netif *n;
    LWIP_UNUSED_ARG(src);
    NETIF_FOREACH(n) {
        if (netif_is_up(n) && !ip4_addr_isany_val(*netif_ip4_addr(n)) && ip4_addr_cmp(dest, netif_ip4_addr(n)))
            return ucs_loop_netif();
    }
    return NULL;
}

struct netif *ucs_hook_ip6_route(const ip6_addr_t *src, const ip6_addr_t *dest)
{
    struct netif *n;
    LWIP_UNUSED_ARG(src);
    NETIF_FOREACH(n) {
        for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
            if (ip6_addr_isvalid(netif_ip6_addr_state(n, i)) && ip6_addr_cmp_zoneless(dest, netif_ip6_addr(n, i)))
                return ucs_loop_netif();
        }
    }
    return NULL;
}
