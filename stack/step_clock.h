/* The stack's millisecond clock (sys_now() for lwIP), read once per poll step. */
#ifndef UCS_STACK_STEP_CLOCK_H
#define UCS_STACK_STEP_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC's milliseconds, read now (drivers/ms_clock.h). */
uint64_t ucs_now_ms(void);
/* A poll step reads the clock once, at its start; until its end sys_now()
 * answers that reading (a step lasts microseconds). */
void ucs_step_clock_begin(void);
void ucs_step_clock_end(void);
/* The last step's reading: what a wait loop, which has just run a step,
 * compares its deadline with. */
uint64_t ucs_step_clock_last(void);

#endif
