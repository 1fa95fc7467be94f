/* A millisecond clock from the TSC: the poll step reads it once. */
#ifndef UCS_DRIVERS_MS_CLOCK_H
#define UCS_DRIVERS_MS_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. Once DPDK's EAL has measured the TSC, one
 * rdtsc and a multiplication (clock_gettime costs twice an rdtsc in this VM's
 * vDSO); before that, clock_gettime. */
uint64_t ucs_clock_ms(void);

#endif
