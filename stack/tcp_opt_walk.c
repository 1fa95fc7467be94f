#include "tcp_opt_walk.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"

#include <string.h>

enum ucs_tcpopt_walk ucs_tcpopt_walk(const uint8_t *b, size_t len, ucs_tcpopt_visit_fn visit, void *arg)
{
    size_t i = 0;

    while (i < len && b[i] != LWIP_TCP_OPT_EOL) {
        if (b[i] == LWIP_TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || b[i + 1] < 2 || b[i + 1] > len - i)
            return UCS_TCPOPT_MALFORMED;
        if (!visit(b + i, b[i + 1], arg))
            return UCS_TCPOPT_STOPPED;
        i += b[i + 1];
    }
    return UCS_TCPOPT_WALKED;
}

bool ucs_tcpopt_gather(const struct tcp_hdr *hdr, uint16_t optlen, uint16_t opt1len, const uint8_t *opt2,
                       uint8_t b[UCS_TCPOPT_MAX_LEN])
{
    if (optlen > UCS_TCPOPT_MAX_LEN || opt1len > optlen)
        return false;
    memcpy(b, hdr + 1, opt1len);
    if (opt2)
        memcpy(b + opt1len, opt2, (size_t)(optlen - opt1len));
    return true;
}
