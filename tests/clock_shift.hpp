// The stack's coarse clock (CLOCK_MONOTONIC_COARSE: lwIP's sys_now(), the
// SYN cookies' minutes), moved forward by a test, so that what expires in
// minutes is tested at once. Only in programs linked with clock_shift.cpp.
#pragma once

#include <cstdint>

// From now on the coarse clock reads ms later (never earlier: it stays monotonic).
void shift_coarse_clock_ms(int64_t ms);
