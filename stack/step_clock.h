/* lwIP's millisecond clock (sys_now()), read once per poll step. */
#ifndef UCS_STACK_STEP_CLOCK_H
#define UCS_STACK_STEP_CLOCK_H

/* A poll step reads the clock at its start; until its end sys_now() answers
 * that reading (a step lasts microseconds; the clock ticks in milliseconds). */
void ucs_step_clock_begin(void);
void ucs_step_clock_end(void);

#endif
