/* A SYN for a 4-tuple in TIME-WAIT (stack/tcp_timewait.c): what was decided. */
#ifndef UCS_TCP_TIMEWAIT_H
#define UCS_TCP_TIMEWAIT_H

#include <stdint.h>

struct ucs_tcp_timewait_stats {
    uint64_t reopened; /* the SYN opened a new connection at once */
    uint64_t old_syn;  /* refused: its sequence number and timestamp were not newer */
    uint64_t paws_syn; /* refused: its timestamp was older than the old connection's */
};

void ucs_tcp_timewait_get_stats(struct ucs_tcp_timewait_stats *stats);

#endif
