/* Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M
 * ticks every 4 microseconds and F is a keyed hash, so ISNs of one 4-tuple
 * advance like a clock while other tuples' ISNs cannot be guessed from them. */
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
    return (u32_t)((uint64_t)now.tv_sec * 250000u + (uint64_t)now.tv_nsec / 4000u) +
           (u32_t)ucs_tuple_hash(isn_secret, &isn_secret_ready, local_ip, local_port, remote_ip, remote_port, NULL, 0);
}
