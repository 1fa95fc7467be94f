/* What lwIP needs from the platform when NO_SYS=1: a millisecond clock and randomness. */
#include "lwip/sys.h"
#include "random.h"
#include "step_clock.h"

#include <stdbool.h>
#include <sys/random.h>
#include <time.h>

static u32_t step_ms;
static bool stepping;

/* CLOCK_MONOTONIC_COARSE: the vDSO's copy of the last tick, a few loads
 * (a quarter of CLOCK_MONOTONIC's cost, half an rdtsc's in this VM), in
 * ticks of 1 to 4 ms, which lwIP's timers (100 ms and more) do not mind. */
static u32_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (u32_t)(ts.tv_sec * 1000u + ts.tv_nsec / 1000000u);
}

void ucs_step_clock_begin(void)
{
    step_ms = coarse_ms();
    stepping = true;
}

void ucs_step_clock_end(void)
{
    stepping = false;
}

/* Outside a step (the application's sends) it reads the clock. */
u32_t sys_now(void)
{
    return stepping ? step_ms : coarse_ms();
}

/* xoshiro128**, seeded from the kernel: fast enough for every ephemeral port
 * and timer jitter lwIP asks for, unpredictable to an outside observer. */
static uint32_t rng[4];

static uint32_t rotl(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

void ucs_random_bytes(void *buf, size_t len)
{
    unsigned char *out = buf;
    while (len) {
        ssize_t n = getrandom(out, len, 0);
        if (n > 0) {
            out += n;
            len -= (size_t)n;
        }
    }
}

uint32_t ucs_random32(void)
{
    uint32_t result, t;
    if (!(rng[0] | rng[1] | rng[2] | rng[3]))
        ucs_random_bytes(rng, sizeof(rng));
    result = rotl(rng[1] * 5, 7) * 9;
    t = rng[1] << 9;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 11);
    return result;
}
