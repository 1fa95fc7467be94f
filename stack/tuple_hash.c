#include "tuple_hash.h"

#include "random.h"

#include <string.h>

static size_t put_addr(uint8_t *out, const ip_addr_t *ip)
{
    if (IP_IS_V6(ip)) {
        memcpy(out, ip_2_ip6(ip)->addr, 16);
        return 16;
    }
    memcpy(out, &ip_2_ip4(ip)->addr, 4);
    return 4;
}

uint64_t ucs_tuple_hash(uint8_t key[16], bool *ready, const ip_addr_t *addr1, u16_t port1, const ip_addr_t *addr2,
                        u16_t port2, const void *extra, size_t extra_len)
{
    uint8_t b[2 * 16 + 4 + 8];
    size_t n;

    if (!*ready) {
        ucs_random_bytes(key, 16);
        *ready = true;
    }
    n = put_addr(b, addr1);
    n += put_addr(b + n, addr2);
    memcpy(b + n, &port1, 2);
    memcpy(b + n + 2, &port2, 2);
    n += 4;
    if (extra_len > 8)
        extra_len = 8;
    if (extra_len)
        memcpy(b + n, extra, extra_len);
    return ucs_siphash(key, b, n + extra_len);
}
