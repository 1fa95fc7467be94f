/* The standard options of a received TCP segment (MSS, window scale,
 * SACK-permitted, timestamps), for the decisions our code takes before lwIP
 * parses them into a pcb: reopening a TIME-WAIT 4-tuple, SYN cookies. */
#ifndef UCS_TCP_SEG_OPTIONS_H
#define UCS_TCP_SEG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_hdr;

struct ucs_tcp_seg_opts {
    bool has_mss, has_wscale, sack_permitted, has_ts;
    uint16_t mss;
    uint8_t wscale;
    uint32_t tsval, tsecr;
};

/* lwIP's view of the option block: opt1len bytes after the header, the rest
 * (optlen - opt1len) at opt2 when the block crosses a pbuf. False when the
 * block is malformed (a length below 2 or past the end): trust none of it. */
bool ucs_tcp_seg_opts_parse(const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len, const uint8_t *opt2,
                            struct ucs_tcp_seg_opts *out);

#endif
