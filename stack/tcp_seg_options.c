#include "tcp_seg_options.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"
#include "tcp_options.h"

#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool ucs_tcp_seg_opts_parse(const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len, const uint8_t *opt2,
                            struct ucs_tcp_seg_opts *out)
{
    uint8_t b[UCS_TCPOPT_MAX_LEN];

    memset(out, 0, sizeof(*out));
    if (optlen > sizeof(b) || opt1len > optlen)
        return false;
    memcpy(b, hdr + 1, opt1len);
    if (opt2)
        memcpy(b + opt1len, opt2, (size_t)(optlen - opt1len));
    for (uint16_t i = 0; i < optlen && b[i] != LWIP_TCP_OPT_EOL;) {
        if (b[i] == LWIP_TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= optlen || b[i + 1] < 2 || b[i + 1] > optlen - i)
            return false;
        const uint8_t *o = &b[i];
        if (o[0] == LWIP_TCP_OPT_MSS && o[1] == LWIP_TCP_OPT_LEN_MSS) {
            out->has_mss = true;
            out->mss = (uint16_t)(o[2] << 8 | o[3]);
        } else if (o[0] == LWIP_TCP_OPT_WS && o[1] == LWIP_TCP_OPT_LEN_WS) {
            out->has_wscale = true;
            out->wscale = o[2];
        } else if (o[0] == LWIP_TCP_OPT_SACK_PERM && o[1] == LWIP_TCP_OPT_LEN_SACK_PERM) {
            out->sack_permitted = true;
        } else if (o[0] == LWIP_TCP_OPT_TS && o[1] == LWIP_TCP_OPT_LEN_TS) {
            out->has_ts = true;
            out->tsval = be32(o + 2);
            out->tsecr = be32(o + 6);
        }
        i = (uint16_t)(i + o[1]);
    }
    return true;
}
