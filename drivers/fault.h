/*
 * Faults injected into the frames a port receives, for testing how the stack
 * recovers: loss, reordering, duplication and corruption, each with its own
 * probability, decided by a PRNG seeded from the config so a run's choices can
 * be repeated. Used by port.c right after each RX burst; neither DPDK's nor
 * lwIP's headers are needed to use it.
 */
#ifndef UCS_DRIVERS_FAULT_H
#define UCS_DRIVERS_FAULT_H

#include <stdint.h>
#include <ucstack/stack.h> /* struct ucs_fault_config, the one the config fills */

struct rte_mbuf;

struct ucs_fault_stats {
    uint64_t dropped, reordered, duplicated, corrupted, delayed, delay_dropped;
};

/* Frames the delay holds at most (RX mbufs they pin): about 8 ms of a
 * 10 Gbit/s link's full-size frames; more arriving meanwhile are dropped. */
#define UCS_FAULT_DELAY_MAX 8192

/* A reordered frame is held back until this many later frames have passed,
 * or until a burst brings nothing (so an idle link never strands it). */
#define UCS_FAULT_HOLD_MAX 8

struct ucs_fault;

/* NULL when no fault is asked for (all probabilities zero) or out of memory. */
struct ucs_fault *ucs_fault_create(const struct ucs_fault_config *params);
/* Frees the frames still held back. */
void ucs_fault_destroy(struct ucs_fault *f);
/* The delay, first: queues the n frames received now (in order) and writes
 * back to in[] those whose time has come, at most max, in the order they
 * arrived. The clock is the poll step's: a frame leaves at the first RX call
 * after its time. Without a delay, returns n and changes nothing. */
unsigned ucs_fault_delay(struct ucs_fault *f, struct rte_mbuf **in, unsigned n, unsigned max);
/* Applies faults to n received frames, writing the frames to deliver to out,
 * which has room for 2 * n + UCS_FAULT_HOLD_MAX. Returns how many. */
unsigned ucs_fault_apply(struct ucs_fault *f, struct rte_mbuf **in, unsigned n, struct rte_mbuf **out);
void ucs_fault_get_stats(const struct ucs_fault *f, struct ucs_fault_stats *stats);

#endif
