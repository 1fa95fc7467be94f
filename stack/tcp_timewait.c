/*
 * TIME-WAIT as Linux keeps it (tcp_timewait_state_process): a SYN for a
 * 4-tuple in TIME-WAIT whose sequence number is beyond the old connection's
 * rcv_nxt, or, when both carry timestamps, whose TSval is newer than the old
 * connection's last one (RFC 6191), cannot be an old duplicate: the TIME-WAIT
 * pcb goes and the SYN opens a new connection at once (patch 0006 calls
 * ucs_tcp_timewait_reopens() from tcp_input). lwIP 2.1.3 answered it with an
 * ACK of the old connection or a reset, so a client that reused a source port
 * within 2 MSL (every HTTP/1.0 client at a few hundred connections a second)
 * stalled. Anything else keeps lwIP's rules: RST is ignored (RFC 1337), an
 * old SYN gets an ACK or, inside the window, a reset.
 *
 * The new connection's ISN is the old snd_nxt + 65537, as Linux picks it, so
 * its sequence space starts past anything the old connection sent, however
 * much that was (stack/tcp_isn.c asks here first).
 */
#include "tcp_timewait.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"
#include "lwip_hooks.h"
#include "tcp_seg_options.h"

#include <stdbool.h>

static struct ucs_tcp_timewait_stats stats;

/* The ISN for the one connection a SYN reopened, until the listener asks. */
static struct {
    bool armed;
    ip_addr_t local_ip, remote_ip;
    u16_t local_port, remote_port;
    u32_t isn;
} reopened;

int ucs_tcp_timewait_reopens(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len,
                             const u8_t *opt2)
{
    struct ucs_tcp_seg_opts o;
    bool ts, newer_ts;

    if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
        return 0;
    if (!ucs_tcp_seg_opts_parse(hdr, optlen, opt1len, opt2, &o)) {
        stats.old_syn++;
        return 0;
    }
    ts = (pcb->flags & TF_TIMESTAMP) && o.has_ts;
    if (ts && (s32_t)(pcb->ts_recent - o.tsval) > 0) {
        stats.paws_syn++;
        return 0;
    }
    newer_ts = ts && (s32_t)(pcb->ts_recent - o.tsval) < 0;
    if (!TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt) && !newer_ts) {
        stats.old_syn++;
        return 0;
    }
    reopened.armed = true;
    ip_addr_copy(reopened.local_ip, pcb->local_ip);
    ip_addr_copy(reopened.remote_ip, pcb->remote_ip);
    reopened.local_port = pcb->local_port;
    reopened.remote_port = pcb->remote_port;
    reopened.isn = pcb->snd_nxt + 65535 + 2;
    if (reopened.isn == 0)
        reopened.isn = 1;
    stats.reopened++;
    return 1;
}

bool ucs_tcp_timewait_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port,
                          u32_t *isn)
{
    /* Asked right after the reopening SYN reached the listener, or never
     * (the listener refused it): either way the first question ends it. */
    bool match = reopened.armed && reopened.local_port == local_port && reopened.remote_port == remote_port &&
                 ip_addr_cmp(&reopened.local_ip, local_ip) && ip_addr_cmp(&reopened.remote_ip, remote_ip);

    reopened.armed = false;
    if (match)
        *isn = reopened.isn;
    return match;
}

void ucs_tcp_timewait_get_stats(struct ucs_tcp_timewait_stats *out)
{
    *out = stats;
}
