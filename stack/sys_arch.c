/* What lwIP needs from the platform when NO_SYS=1: a millisecond clock and randomness. */
#include "lwip/sys.h"
#include "ms_clock.h"
#include "random.h"
#include "step_clock.h"

#include <stdbool.h>
#include <sys/random.h>

static uint64_t step_ms;
static bool stepping;

uint64_t ucs_now_ms(void)
{
    return ucs_clock_ms();
}

void ucs_step_clock_begin(void)
{
    step_ms = ucs_clock_ms();
    stepping = true;
}

uint64_t ucs_step_clock_last(void)
{
    return step_ms;
}

void ucs_step_clock_end(void)
{
    stepping = false;
}

/* Calls from the application's side (a send's segments) read the clock. */
u32_t sys_now(void)
{
    return (u32_t)(stepping ? step_ms : ucs_clock_ms());
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
