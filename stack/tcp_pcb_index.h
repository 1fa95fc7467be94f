/* The connection index behind lwIP's pcb lists (tcp_pcb_index.c): what it
 * counts, for tests and tools. */
#ifndef UCS_TCP_PCB_INDEX_H
#define UCS_TCP_PCB_INDEX_H

#include <stdint.h>

struct ucs_tcp_index_stats {
    uint64_t indexed;  /* active and TIME-WAIT pcbs in the index now */
    uint64_t lookups;  /* 4-tuple lookups (each received segment, each connect) */
    uint64_t compared; /* pcbs compared during those lookups */
};

void ucs_tcp_index_get_stats(struct ucs_tcp_index_stats *out);

#endif
