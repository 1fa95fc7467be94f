/* Receive buffers running short (stack/rx_pressure.c). */
#ifndef UCS_RX_PRESSURE_H
#define UCS_RX_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

struct ucs_rx_pressure_stats {
    uint64_t events;     /* times a port's free receive buffers fell below the mark */
    uint64_t ooseq_shed; /* out-of-order segments dropped to free theirs */
    uint64_t copied;     /* received pbufs copied out of their buffers under pressure */
};

/* After a receive burst: a port's free and total receive buffers. */
void ucs_rx_pressure_check(unsigned free, unsigned total);
/* Whether receive buffers are short now: received data should not keep its
 * buffer (libsock copies it into the heap instead). */
bool ucs_rx_pressure(void);
void ucs_rx_pressure_copied(void);
void ucs_rx_pressure_get_stats(struct ucs_rx_pressure_stats *stats);

#endif
