/* IPv4 identification fields as RFC 7739 5.3 suggests: a counter per bucket
 * of destinations, offset by a keyed hash of the destination, so the IDs one
 * peer sees tell it nothing of the traffic to any other (lwIP kept one global
 * counter: every peer could count everything sent, an idle-scan zombie). */
#include "lwip/ip4_addr.h"
#include "lwip_hooks.h"
#include "random.h"

#include <string.h>

#define BUCKETS 4096

static uint8_t secret[16];
static uint16_t counter[BUCKETS];
static int ready;

u16_t ucs_ip4_id(const ip4_addr_t *dest, u8_t proto)
{
    uint8_t key[5];
    uint64_t h;

    if (!ready) {
        ucs_random_bytes(secret, sizeof(secret));
        ucs_random_bytes(counter, sizeof(counter));
        ready = 1;
    }
    memcpy(key, &dest->addr, 4);
    key[4] = proto;
    h = ucs_siphash(secret, key, sizeof(key));
    return (u16_t)((uint16_t)(h >> 32) + counter[h % BUCKETS]++);
}
