// This program's clock_gettime() stands in for libc's (the stack, linked in,
// calls it; so do the libraries that ask the dynamic linker) and adds the
// test's shift to CLOCK_MONOTONIC_COARSE alone: other clocks, and that one
// until a test shifts it, read as libc reads them.
#include "clock_shift.hpp"

#include <atomic>
#include <dlfcn.h>
#include <time.h>

namespace
{
std::atomic<int64_t> shift_ns{0};
}

void shift_coarse_clock_ms(int64_t ms)
{
    if (ms > 0)
        shift_ns += ms * 1000000;
}

extern "C" int clock_gettime(clockid_t id, struct timespec *ts) noexcept
{
    using libc_fn = int (*)(clockid_t, struct timespec *);
    static const libc_fn libc = reinterpret_cast<libc_fn>(dlsym(RTLD_NEXT, "clock_gettime"));
    int rc = libc(id, ts);
    int64_t shift = shift_ns.load(std::memory_order_relaxed);
    if (rc == 0 && id == CLOCK_MONOTONIC_COARSE && shift) {
        int64_t ns = ts->tv_nsec + shift % 1000000000;
        ts->tv_sec += static_cast<time_t>(shift / 1000000000 + ns / 1000000000);
        ts->tv_nsec = static_cast<long>(ns % 1000000000);
    }
    return rc;
}
