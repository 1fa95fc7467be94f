/* Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M
 * is a clock and F is a keyed hash, so ISNs of one 4-tuple advance like a clock
 * while other tuples' ISNs cannot be guessed from them.
 *
 * M ticks every 64 ns, as Linux's does, not every 4 us as RFC 6528 suggests:
 * a client that reuses a 4-tuple while the server holds it in TIME-WAIT is let
 * in only if its SYN is beyond the old connection's last sequence number (or
 * its timestamp newer: not within the same millisecond, lwIP's timestamp
 * clock). A short connection across the cable uses 34 sequence numbers in
 * about 10 us, which a 4 us clock does not cover (2 source ports used in turn:
 * most SYNs refused as old duplicates); 64 ns ticks do, and still wrap only
 * every 274 s, so within TIME-WAIT's 2 MSL (120 s) a later ISN compares as
 * later. */
#include "lwip/ip_addr.h"
#include "lwip_hooks.h"
#include "tuple_hash.h"

#include <time.h>

static uint8_t isn_secret[16];
static bool isn_secret_ready;

u32_t ucs_hook_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip, u16_t remote_port)
{
    struct timespec now;
    u32_t isn;

    /* A SYN that ended a TIME-WAIT pcb: past the old connection (tcp_timewait.c). */
    if (ucs_tcp_timewait_isn(local_ip, local_port, remote_ip, remote_port, &isn))
        return isn;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (u32_t)(((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) >> 6) +
           (u32_t)ucs_tuple_hash(isn_secret, &isn_secret_ready, local_ip, local_port, remote_ip, remote_port, NULL, 0);
}
