/* lwIP's IP input hooks, handed to the observers the layer above registered. */
#include "ip_input.h"

#include "lwip_hooks.h"

static ucs_ip_input_fn observe_v4, observe_v6;
static struct ucs_icmp_stats icmp_stats;

struct ucs_icmp_stats *ucs_icmp_stats(void)
{
    return &icmp_stats;
}

void ucs_ip_input_observe(ucs_ip_input_fn v4, ucs_ip_input_fn v6)
{
    observe_v4 = v4;
    observe_v6 = v6;
}

int ucs_hook_ip4_input(struct pbuf *p, struct netif *inp)
{
    return observe_v4 ? observe_v4(p, inp) : 0;
}

int ucs_hook_ip6_input(struct pbuf *p, struct netif *inp)
{
    return observe_v6 ? observe_v6(p, inp) : 0;
}
