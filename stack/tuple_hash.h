/* The keyed hash of a TCP 4-tuple, for every use that must not let a peer
 * predict or steer it: initial sequence numbers (tcp_isn.c), the connection
 * index's buckets and port cursors (tcp_pcb_index.c), SYN cookies
 * (syn_cookie.c). Each use keeps its own key. */
#ifndef UCS_STACK_TUPLE_HASH_H
#define UCS_STACK_TUPLE_HASH_H

#include "lwip/ip_addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SipHash of addr1, addr2 (4 or 16 bytes each, by its own type), port1 and
 * port2 as they lie in memory, then extra_len (at most 8) bytes of extra
 * (may be NULL when 0), under key; the key is drawn at random on first use
 * (*ready false). */
uint64_t ucs_tuple_hash(uint8_t key[16], bool *ready, const ip_addr_t *addr1, u16_t port1, const ip_addr_t *addr2,
                        u16_t port2, const void *extra, size_t extra_len);

#endif
