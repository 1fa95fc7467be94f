/* The lists lwIP's TCP timers walk instead of every pcb (tcp_timer_list.c):
 * what they count, for tests and tools. */
#ifndef UCS_TCP_TIMER_LIST_H
#define UCS_TCP_TIMER_LIST_H

#include <stdint.h>

struct ucs_tcp_timer_stats {
    uint64_t due;             /* active pcbs on the due list now */
    uint64_t sleeping;        /* active pcbs asleep until their keepalive is due */
    uint64_t timewait;        /* TIME-WAIT pcbs waiting to expire now */
    uint64_t visits;          /* active pcbs the timers looked at, all passes */
    uint64_t timewait_visits; /* TIME-WAIT pcbs the slow timer looked at */
};

void ucs_tcp_timer_get_stats(struct ucs_tcp_timer_stats *out);

#ifdef UCS_TIMER_DIFFERENTIAL
#include "lwip/tcp.h"
#include <stdbool.h>
/* Only in the differential test build (tcp_timer_list.c says why). */
struct ucs_tcp_timer_differential {
    uint64_t checked;                         /* idle or sleeping pcbs run through lwIP's timer code */
    uint64_t missed;                          /* of those, changed or freed by it */
    uint64_t unvisited;                       /* shadowed but not reached by their pass */
    struct tcp_pcb first_before, first_after; /* the first missed */
    bool first_freed;
};
void ucs_tcp_timer_get_differential(struct ucs_tcp_timer_differential *out);
#endif

#endif
