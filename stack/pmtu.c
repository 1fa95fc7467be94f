/* The path MTU cache: per destination, with an expiry, as Linux keeps on its
 * routes (lwIP had none for IPv4, and nd6's for IPv6 never expires). Only
 * MTUs TCP believed reach it (libsock/icmp_errors.c checks the quoted
 * segment is in flight, RFC 5927), so a peer lowers only paths to itself.
 *
 * Bounded: SETS sets of WAYS entries, the set picked by a keyed hash of the
 * destination so that no peer can aim at another's set. A new destination
 * takes its set's free or expired entry, else the one that expires first
 * (learnt longest ago): at worst a peer with many addresses evicts entries,
 * and a path evicted is only learnt again from its next ICMP error. */
#include "pmtu.h"

#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/sys.h"
#include "lwip_hooks.h"
#include "random.h"

#include <string.h>

#define SETS 64
#define WAYS 4
#define IP4_MIN_PMTU 552 /* Linux's ip_rt_min_pmtu */
#define IP6_MIN_MTU 1280

struct entry {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint8_t family;   /* 0: free */
    uint16_t mtu;
    uint32_t expires; /* sys_now() */
};

static struct entry cache[SETS][WAYS];
static unsigned used; /* entries not freed yet: 0 makes every lookup free */
static uint32_t expiry_ms = UCS_PMTU_EXPIRES_MS;
static uint8_t secret[16];
static bool keyed;
static struct ucs_pmtu_stats stats;

void ucs_pmtu_set_expiry(uint32_t ms)
{
    expiry_ms = ms;
}

struct ucs_pmtu_stats *ucs_pmtu_stats(void)
{
    return &stats;
}

static bool expired(const struct entry *e, uint32_t now)
{
    return (int32_t)(now - e->expires) >= 0;
}

static void release(struct entry *e)
{
    e->family = 0;
    used--;
    stats.expired++;
}

static struct entry *set_of(uint8_t family, const uint8_t *addr, size_t len)
{
    uint8_t key[17];

    if (!keyed) {
        ucs_random_bytes(secret, sizeof(secret));
        keyed = true;
    }
    key[0] = family;
    memcpy(key + 1, addr, len);
    return cache[ucs_siphash(secret, key, len + 1) % SETS];
}

/* The live entry for addr, releasing it if it has expired. */
static struct entry *find(struct entry *set, uint8_t family, const uint8_t *addr, size_t len, uint32_t now)
{
    for (int i = 0; i < WAYS; i++) {
        struct entry *e = &set[i];
        if (e->family != family || memcmp(e->addr, addr, len))
            continue;
        if (!expired(e, now))
            return e;
        release(e);
        return NULL;
    }
    return NULL;
}

static uint16_t path_mtu(uint8_t family, const uint8_t *addr, size_t len, uint16_t link_mtu)
{
    struct entry *e;

    if (!used)
        return link_mtu;
    e = find(set_of(family, addr, len), family, addr, len, sys_now());
    return e && e->mtu < link_mtu ? e->mtu : link_mtu;
}

u16_t ucs_pmtu4(const ip4_addr_t *dest, u16_t link_mtu)
{
    return path_mtu(4, (const uint8_t *)&dest->addr, 4, link_mtu);
}

u16_t ucs_pmtu6(const ip6_addr_t *dest, u16_t link_mtu)
{
    return path_mtu(6, (const uint8_t *)dest->addr, 16, link_mtu);
}

uint16_t ucs_pmtu_path(const ip_addr_t *dest, uint16_t link_mtu)
{
    return IP_IS_V6(dest) ? ucs_pmtu6(ip_2_ip6(dest), link_mtu) : ucs_pmtu4(ip_2_ip4(dest), link_mtu);
}

bool ucs_pmtu_learn(const ip_addr_t *dest, uint32_t mtu)
{
    uint8_t family = IP_IS_V6(dest) ? 6 : 4;
    const uint8_t *addr = family == 6 ? (const uint8_t *)ip_2_ip6(dest)->addr : (const uint8_t *)&ip_2_ip4(dest)->addr;
    size_t len = family == 6 ? 16 : 4;
    uint32_t now = sys_now();
    struct entry *set, *e, *victim;

    if (mtu < (family == 6 ? IP6_MIN_MTU : IP4_MIN_PMTU)) {
        stats.refused++;
        return false;
    }
    if (mtu > UINT16_MAX)
        mtu = UINT16_MAX;
    set = set_of(family, addr, len);
    e = find(set, family, addr, len, now);
    if (e) {
        if (mtu < e->mtu) {
            e->mtu = (uint16_t)mtu;
            e->expires = now + expiry_ms;
        }
        return true;
    }
    victim = &set[0];
    for (int i = 0; i < WAYS; i++) {
        if (set[i].family && expired(&set[i], now))
            release(&set[i]);
        if (!set[i].family) {
            victim = &set[i];
            break;
        }
        if ((int32_t)(set[i].expires - victim->expires) < 0)
            victim = &set[i];
    }
    if (victim->family)
        stats.evicted++;
    else
        used++;
    memset(victim->addr, 0, sizeof(victim->addr));
    memcpy(victim->addr, addr, len);
    victim->family = family;
    victim->mtu = (uint16_t)mtu;
    victim->expires = now + expiry_ms;
    stats.learnt++;
    return true;
}
