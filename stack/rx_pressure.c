/*
 * Receive buffers are the port's mbufs, and received data stays in them
 * (zero-copy): out-of-order segments in a connection's ooseq queue, and
 * in-order data until the application reads it. Many connections holding
 * out-of-order data, or slow readers, can empty the pool; then nothing more
 * is received, not even the retransmission that would fill a hole or the ACK
 * that would free send buffers, and the stack stalls until lwIP's ooseq
 * time-out (six RTOs). lwIP's own "free ooseq when the pbuf pool runs dry"
 * does not see the mbuf pool. So, after each receive burst, when fewer than
 * an eighth of a port's buffers are free:
 * - out-of-order data goes first: every connection's ooseq queue is dropped
 *   (at most every 10 ms: it walks the active pcbs), with its SACK blocks,
 *   which RFC 2018 allows (the sender keeps the data until it is ACKed);
 * - in-order data stays, but libsock copies what arrives into lwIP's heap
 *   and frees the buffer, until the pool is above a quarter free again.
 */
#include "rx_pressure.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

static struct ucs_rx_pressure_stats stats;
static bool short_now;
static u32_t last_shed_ms;
static bool shed_once;

static void shed_ooseq(void)
{
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if (!pcb->ooseq)
            continue;
        for (struct tcp_seg *seg = pcb->ooseq; seg; seg = seg->next)
            stats.ooseq_shed++;
        tcp_free_ooseq(pcb);
    }
}

void ucs_rx_pressure_check(unsigned free, unsigned total)
{
    if (free >= total / 4) {
        short_now = false;
        return;
    }
    if (free >= total / 8)
        return;
    if (!short_now)
        stats.events++;
    short_now = true;
    if (!shed_once || sys_now() - last_shed_ms >= 10) {
        shed_once = true;
        last_shed_ms = sys_now();
        shed_ooseq();
    }
}

bool ucs_rx_pressure(void)
{
    return short_now;
}

void ucs_rx_pressure_copied(void)
{
    stats.copied++;
}

void ucs_rx_pressure_get_stats(struct ucs_rx_pressure_stats *out)
{
    *out = stats;
}
