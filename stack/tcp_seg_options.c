#include "tcp_seg_options.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "tcp_opt_walk.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool take_std(const uint8_t *o, uint8_t len, void *arg)
{
    struct ucs_tcp_seg_opts *out = arg;

    if (o[0] == LWIP_TCP_OPT_MSS && len == LWIP_TCP_OPT_LEN_MSS) {
        out->has_mss = true;
        out->mss = (uint16_t)(o[2] << 8 | o[3]);
    } else if (o[0] == LWIP_TCP_OPT_WS && len == LWIP_TCP_OPT_LEN_WS) {
        out->has_wscale = true;
        out->wscale = o[2];
    } else if (o[0] == LWIP_TCP_OPT_SACK_PERM && len == LWIP_TCP_OPT_LEN_SACK_PERM) {
        out->sack_permitted = true;
    } else if (o[0] == LWIP_TCP_OPT_TS && len == LWIP_TCP_OPT_LEN_TS) {
        out->has_ts = true;
        out->tsval = be32(o + 2);
        out->tsecr = be32(o + 6);
    }
    return true;
}

bool ucs_tcp_seg_opts_parse(const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len, const uint8_t *opt2,
                            struct ucs_tcp_seg_opts *out)
{
    uint8_t b[UCS_TCPOPT_MAX_LEN];

    memset(out, 0, sizeof(*out));
    return ucs_tcpopt_gather(hdr, optlen, opt1len, opt2, b) &&
           ucs_tcpopt_walk(b, optlen, take_std, out) != UCS_TCPOPT_MALFORMED;
}
