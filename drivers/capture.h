/*
 * A port's frames written as pcapng (DPDK's rte_pcapng), both directions, as
 * the stack receives them (after injected faults) and as it queues them for
 * transmission. The polling thread only copies each frame into a ring; a
 * writer thread of its own (a DPDK control thread) does the file writes, so a
 * slow disk never stalls the poll step: when the ring is full, frames are not
 * captured and are counted as dropped. Used by port.c; neither DPDK's nor
 * lwIP's types are needed to control it.
 */
#ifndef UCS_DRIVERS_CAPTURE_H
#define UCS_DRIVERS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;
struct ucs_capture;

struct ucs_capture_stats {
    bool on;          /* frames are being written */
    uint64_t frames;  /* written since the last start */
    uint64_t dropped; /* not captured since the last start: the ring was full */
    int error;        /* errno of the last failed start or write, 0 none */
    char path[256];
};

/* Prepares capture of port_id into path; started at once when start is set.
 * NULL with a message in err. */
struct ucs_capture *ucs_capture_create(uint16_t port_id, const char *path, bool start, char *err, size_t errlen);
/* Stops (the file is complete when this returns) and frees. */
void ucs_capture_destroy(struct ucs_capture *c);

/* Polling thread: received frames and one frame queued for transmission. */
void ucs_capture_rx(struct ucs_capture *c, struct rte_mbuf *const *m, unsigned n);
void ucs_capture_tx(struct ucs_capture *c, struct rte_mbuf *m);

/* Any thread. Starting truncates the file and begins a new capture; stopping
 * writes what is queued and closes it. Waits up to timeout_ms for the writer
 * to have done it; returns 0, or -1 (errno ETIMEDOUT, or the open's errno). */
int ucs_capture_set(struct ucs_capture *c, bool on, unsigned timeout_ms);
void ucs_capture_get_stats(const struct ucs_capture *c, struct ucs_capture_stats *stats);

#endif
