/* The one walk over a received TCP option block: the guard (tcp_guard.c), the
 * standard options our code reads before lwIP (tcp_seg_options.c) and the
 * experimental ones (tcp_options.c) all read options through it. */
#ifndef UCS_TCP_OPT_WALK_H
#define UCS_TCP_OPT_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcp_hdr;

#define UCS_TCPOPT_MAX_LEN 40

enum ucs_tcpopt_walk {
    UCS_TCPOPT_WALKED,    /* to EOL or the end of the block */
    UCS_TCPOPT_STOPPED,   /* visit returned false */
    UCS_TCPOPT_MALFORMED, /* an option's length is below 2 or runs past the block */
};

/* One option other than EOL and NOP: o[0] its kind, o[1] == len its length,
 * all len bytes inside the block. False stops the walk. */
typedef bool (*ucs_tcpopt_visit_fn)(const uint8_t *o, uint8_t len, void *arg);

/* Visits the options of b[0..len) in order; a malformed option is not visited. */
enum ucs_tcpopt_walk ucs_tcpopt_walk(const uint8_t *b, size_t len, ucs_tcpopt_visit_fn visit, void *arg);

/* lwIP's view of a segment's option block as one array: opt1len bytes after
 * the header, the rest (optlen - opt1len) at opt2 when the block crosses a
 * pbuf. False when it cannot be one (longer than 40 bytes). */
bool ucs_tcpopt_gather(const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len, const uint8_t *opt2,
                       uint8_t b[UCS_TCPOPT_MAX_LEN]);

#endif
