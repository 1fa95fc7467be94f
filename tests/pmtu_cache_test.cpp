// stack/pmtu.c alone: what the path MTU cache refuses, how it stays bounded,
// and when its entries expire.
extern "C" {
#include "lwip/ip_addr.h"
#include "lwip_hooks.h"
#include "pmtu.h"
}

#include <gtest/gtest.h>

#include <cstring>

namespace
{

ip_addr_t v4(uint32_t n)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    IP_ADDR4(&x, 10, static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n));
    return x;
}

ip_addr_t v6(uint32_t n)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    IP_ADDR6(&x, PP_HTONL(0xfd000000), 0, 0, PP_HTONL(n));
    return x;
}

TEST(PmtuCache, RefusesAnMtuBelowTheFamilysMinimum)
{
    ucs_pmtu_set_expiry(60000);
    uint64_t refused = ucs_pmtu_stats()->refused;
    ip_addr_t a = v4(1), b = v6(1);
    EXPECT_FALSE(ucs_pmtu_learn(&a, 551));
    EXPECT_FALSE(ucs_pmtu_learn(&a, 68));
    EXPECT_FALSE(ucs_pmtu_learn(&b, 1279));
    EXPECT_EQ(ucs_pmtu_stats()->refused - refused, 3u);
    EXPECT_EQ(ucs_pmtu_path(&a, 1500), 1500);
    EXPECT_EQ(ucs_pmtu_path(&b, 1500), 1500);
    EXPECT_TRUE(ucs_pmtu_learn(&a, 552));
    EXPECT_EQ(ucs_pmtu_path(&a, 1500), 552);
    EXPECT_TRUE(ucs_pmtu_learn(&b, 1280));
    EXPECT_EQ(ucs_pmtu_path(&b, 1500), 1280);
}

// Only lowered, as Linux: a larger MTU than the one known changes nothing;
// the path is never above the link's.
TEST(PmtuCache, OnlyLowers)
{
    ucs_pmtu_set_expiry(60000);
    ip_addr_t a = v4(2);
    EXPECT_TRUE(ucs_pmtu_learn(&a, 1200));
    EXPECT_TRUE(ucs_pmtu_learn(&a, 1400));
    EXPECT_EQ(ucs_pmtu_path(&a, 1500), 1200);
    EXPECT_EQ(ucs_pmtu_path(&a, 1000), 1000);
}

// 10,000 destinations through a cache of 256 entries: most are evicted, the
// cache never grows, and the latest ones are kept.
TEST(PmtuCache, StaysBoundedUnderManyDestinations)
{
    ucs_pmtu_set_expiry(60000);
    uint64_t evicted = ucs_pmtu_stats()->evicted;
    const uint32_t n = 10000;
    for (uint32_t i = 0; i < n; i++) {
        ip_addr_t a = v6(1000 + i);
        ASSERT_TRUE(ucs_pmtu_learn(&a, 1300));
    }
    EXPECT_GE(ucs_pmtu_stats()->evicted - evicted, n - 256);
    unsigned kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        ip_addr_t a = v6(1000 + i);
        kept += ucs_pmtu_path(&a, 1500) == 1300;
    }
    EXPECT_LE(kept, 256u);
    ip_addr_t last = v6(1000 + n - 1);
    EXPECT_EQ(ucs_pmtu_path(&last, 1500), 1300);
}

TEST(PmtuCache, EntriesExpire)
{
    ucs_pmtu_set_expiry(0);
    uint64_t expired = ucs_pmtu_stats()->expired;
    ip_addr_t a = v4(3);
    EXPECT_TRUE(ucs_pmtu_learn(&a, 1000));
    EXPECT_EQ(ucs_pmtu_path(&a, 1500), 1500);
    EXPECT_EQ(ucs_pmtu_stats()->expired - expired, 1u);
    ucs_pmtu_set_expiry(UCS_PMTU_EXPIRES_MS);
}

} // namespace
