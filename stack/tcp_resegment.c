/* A connection whose path MTU fell: segments lwIP built at the old MSS would
 * leave too big, and over IPv6 ip6_output would fragment them for the
 * connection's life (RFC 8201 says TCP must not rely on that; RFC 7872:
 * fragments are widely dropped); over IPv4 they carry DF and would be
 * dropped. Each is split to the new MSS where it waits, so whatever is sent
 * or resent from now on fits. */
#include "pmtu.h"

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip_hooks.h"

static void split_queue(struct tcp_pcb *pcb, struct tcp_seg *seg)
{
    struct tcp_seg *unsent = pcb->unsent;

    for (; seg; seg = seg->next) {
        u16_t room = (u16_t)(pcb->mss - ucs_hook_tcp_optlen(pcb, LWIP_TCP_OPT_LENGTH(seg->flags)));
        /* SACKed bytes are never resent; a pbuf the driver still holds
           must not change under it (it goes once more as it is). */
        if (seg->len <= room || (seg->flags & TF_SEG_SACKED) || seg->p->ref != 1)
            continue;
        /* lwIP's splitter works on the head of unsent, the remainder
           queued right behind: it is lent each segment in turn. */
        pcb->unsent = seg;
        if (tcp_split_unsent_seg(pcb, room) == ERR_OK)
            ucs_pmtu_stats()->tcp_segments_split++;
    }
    pcb->unsent = unsent;
}

void ucs_tcp_resegment(struct tcp_pcb *pcb, uint16_t mss)
{
    if (mss >= pcb->mss)
        return;
    pcb->mss = mss;
    /* A TSO port cuts each segment at the MSS of the moment it leaves
       (patch 0012 stamps it on every transmission): nothing to split. */
    struct netif *netif = ip_route(&pcb->local_ip, &pcb->remote_ip);
    if (netif && (netif->flags & NETIF_FLAG_TSO))
        return;
    split_queue(pcb, pcb->unacked);
    split_queue(pcb, pcb->unsent);
}
