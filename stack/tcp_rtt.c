/* Round-trip time, retransmission timeout and tail loss probe timeout for
 * lwIP's TCP, in milliseconds (patch 0004 calls here). lwIP measured one
 * segment per round trip in 50 ms slow-timer ticks, so on a fast link every
 * sample was 0 and the timeouts sat at their floors; samples now come from
 * the echoed timestamp of every ACK of new data (RFC 7323 RTTM) and, without
 * timestamps, from the timed segment, never from a resent one (Karn). */
#include "tcp_rtt.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

/* The RTO's variance term is at least this (RFC 6298 2.4 allows a floor;
 * its 1 s is Linux's 200 ms here): RTO = SRTT + max(4 * RTTVAR, 200 ms), as
 * Linux computes it. A peer that delays its ACK up to 200 ms (RFC 9293's
 * limit, and Linux's TCP_DELACK_MAX) then never meets a timeout before its
 * ACK, even before SRTT has learned the delay, and a loss on a fast link is
 * still repaired in a fraction of a second (most are repaired sooner, by
 * SACK recovery and probes). */
#define RTO_MIN_MS 200u
/* RFC 6298 2.1: before any sample. */
#define RTO_INITIAL_MS 1000u
/* RFC 8985 7.2's WCDelAckT: with one segment in flight the peer may be
 * waiting for a second before it ACKs. */
#define WORST_DELAYED_ACK_MS 200u
/* A sample this long is a bogus echo (RFC 7323 5.5's 24 days are far off). */
#define RTT_MAX_MS 60000u

static struct ucs_tcp_rtt_stats stats;

void ucs_tcp_rtt_get_stats(struct ucs_tcp_rtt_stats *out)
{
    *out = stats;
}

u32_t ucs_tcp_rtt_clock(void)
{
    u32_t now = sys_now();
    return now ? now : 1; /* 0 means "not timing" (rttest) */
}

/* RFC 6298 2.2 and 2.3 in fixed point: srtt8 = 8 * SRTT, rttvar4 = 4 * RTTVAR. */
static void sample(struct tcp_pcb *pcb, u32_t ms)
{
    if (!(pcb->flags & TF_RTT_VALID)) {
        pcb->srtt8 = ms << 3;
        pcb->rttvar4 = ms << 1;
        tcp_set_flags(pcb, TF_RTT_VALID);
        return;
    }
    s32_t err = (s32_t)ms - (s32_t)(pcb->srtt8 >> 3);
    pcb->srtt8 = (u32_t)((s32_t)pcb->srtt8 + err);
    if (err < 0)
        err = -err;
    pcb->rttvar4 = (u32_t)((s32_t)pcb->rttvar4 + err - (s32_t)(pcb->rttvar4 >> 2));
}

void ucs_tcp_rtt_acked(struct tcp_pcb *pcb, u32_t ackno, u32_t tsecr)
{
    u32_t now = sys_now();

    if ((pcb->flags & TF_TIMESTAMP) && tsecr != 0 && now - tsecr < RTT_MAX_MS) {
        sample(pcb, now - tsecr);
        stats.ts_samples++;
        pcb->rttest = 0;
    } else if (pcb->rttest != 0 && TCP_SEQ_LT(pcb->rtseq, ackno)) {
        if (now - pcb->rttest < RTT_MAX_MS) {
            sample(pcb, now - pcb->rttest);
            stats.timed_samples++;
        }
        pcb->rttest = 0;
    }
    pcb->rto = ucs_tcp_rto_ticks(pcb);
}

/* Slow-timer ticks to wait so that at least ms pass: the first tick comes
 * anywhere from 0 to one interval after the timer starts. */
static s16_t ticks_at_least(u32_t ms)
{
    u32_t t = (ms + TCP_SLOW_INTERVAL - 1) / TCP_SLOW_INTERVAL + 1;
    return (s16_t)LWIP_MIN(t, 0x7fff);
}

s16_t ucs_tcp_rto_ticks(const struct tcp_pcb *pcb)
{
    if (!(pcb->flags & TF_RTT_VALID))
        return ticks_at_least(RTO_INITIAL_MS);
    return ticks_at_least((pcb->srtt8 >> 3) + LWIP_MAX(pcb->rttvar4, RTO_MIN_MS));
}

/* RFC 8985 7.2, called once per slow tick while the retransmission timer runs
 * (rtime already counts this tick). PTO = 2 * SRTT, plus the worst delayed ACK
 * when one segment is in flight (else 2 ms); at least one tick; never at or
 * after the RTO. Not in RTO recovery: there the timeout resends everything
 * and a probe would send the next segment a second time (as it did a tick
 * after every timeout). */
int ucs_tcp_pto_due(const struct tcp_pcb *pcb)
{
    u32_t pto;
    s16_t ticks;

    if (!(pcb->flags & TF_RTT_VALID) || (pcb->flags & TF_RTO) || pcb->unacked == NULL)
        return 0;
    pto = 2 * (pcb->srtt8 >> 3);
    if (pcb->unacked->next == NULL) {
        /* a lone segment: the ACK may be delayed; wait the whole PTO */
        ticks = ticks_at_least(pto + WORST_DELAYED_ACK_MS);
    } else {
        /* more in flight: the peer ACKs every second segment at once; a tick
           early costs one probe, a tick late a tick of a stall */
        ticks = (s16_t)LWIP_MAX(1, (pto + 2 + TCP_SLOW_INTERVAL - 1) / TCP_SLOW_INTERVAL);
    }
    return pcb->rtime >= ticks && pcb->rtime < pcb->rto;
}

/* Linux's handshake retries: tcp_syn_retries 6, tcp_synack_retries 5, with
 * the timeout doubling from 1 s (1, 3, 7, 15, 31, 63 s after the first); the
 * connection is given up when the last one's timeout runs out (at 127 and
 * 63 s), not at once after it as lwIP did. Called each slow tick before the
 * retransmission timer counts it. */
#define SYN_RETRIES 6
#define SYNACK_RETRIES 5

int ucs_tcp_handshake_gives_up(const struct tcp_pcb *pcb)
{
    u8_t retries;

    if (pcb->state == SYN_SENT)
        retries = SYN_RETRIES;
    else if (pcb->state == SYN_RCVD)
        retries = SYNACK_RETRIES;
    else
        return 0;
    return pcb->nrtx >= retries && pcb->rtime >= 0 && pcb->rtime + 1 >= pcb->rto;
}
