#include "ms_clock.h"

#include <rte_cycles.h>

#include <time.h>

/* ms = ((tsc * mult) >> 64) + offset: offset makes it CLOCK_MONOTONIC's ms at
 * the first reading, so a deadline taken before the EAL started still holds.
 * (DPDK's TSC rate may be off by a fraction of a per mille: no matter for
 * timers and timeouts.) The first caller sets them; a thread that comes
 * meanwhile sees mult still 0 and reads clock_gettime. */
static uint64_t mult, offset;

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t scaled(uint64_t tsc, uint64_t m)
{
    return (uint64_t)(((unsigned __int128)tsc * m) >> 64);
}

uint64_t ucs_clock_ms(void)
{
    uint64_t m = __atomic_load_n(&mult, __ATOMIC_ACQUIRE), hz;

    if (m)
        return scaled(rte_get_tsc_cycles(), m) + offset;
    hz = rte_get_tsc_hz(); /* 0 until the EAL has measured it */
    if (!hz)
        return monotonic_ms();
    m = (uint64_t)(((unsigned __int128)1000 << 64) / hz);
    offset = monotonic_ms() - scaled(rte_get_tsc_cycles(), m);
    __atomic_store_n(&mult, m, __ATOMIC_RELEASE);
    return scaled(rte_get_tsc_cycles(), m) + offset;
}
