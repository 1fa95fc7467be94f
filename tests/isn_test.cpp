// ucs_hook_tcp_isn: RFC 6528 initial sequence numbers, a 64-nanosecond clock plus
// a keyed hash of the 4-tuple.
extern "C" {
#include "lwip/ip_addr.h"
#include "lwip_hooks.h"
}

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <time.h>

namespace {

// Two seconds of 64 ns ticks: far more than any two adjacent calls can be apart.
const uint32_t kClose = 2 * 15625000;
// 50 ms: ISNs of tuples that differ only in an unhashed field are that close
// (unless a stall parts the two calls, which would hide it, never fail it);
// hashed tuples land there by chance with probability 2 * kNear / 2^32.
const uint32_t kNear = 781250;

ip_addr_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    IP_ADDR4(&x, a, b, c, d);
    return x;
}

ip_addr_t v6(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    IP_ADDR6_HOST(&x, w0, w1, w2, w3);
    return x;
}

struct Tuple {
    ip_addr_t local;
    u16_t lport;
    ip_addr_t remote;
    u16_t rport;
};

uint32_t isn(const Tuple &t)
{
    return ucs_hook_tcp_isn(&t.local, t.lport, &t.remote, t.rport);
}

// The clock the ISN ticks with, read the same way (RFC 6528's M).
uint64_t ticks()
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return ((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) >> 6;
}

bool close_mod32(uint32_t a, uint32_t b)
{
    uint32_t d = b - a;
    return d < kNear || d > UINT32_MAX - kNear;
}

const Tuple kV4 = {v4(198, 18, 0, 1), 80, v4(198, 18, 0, 2), 40000};
const Tuple kV6 = {v6(0xfd000001, 0, 0, 1), 443, v6(0xfd000001, 0, 0, 2), 50000};

TEST(TcpIsn, DifferentRemotePortsGiveDistinctIsns)
{
    for (const Tuple &base : {kV4, kV6}) {
        std::set<uint32_t> seen;
        Tuple t = base;
        for (int i = 0; i < 1000; i++) {
            t.rport = (u16_t)(40000 + i);
            seen.insert(isn(t));
        }
        EXPECT_GE(seen.size(), 999u) << (IP_IS_V6(&base.local) ? "IPv6" : "IPv4");
    }
}

// Tuples that differ from base in one field: their ISN, taken right after base's,
// must not be within 50 ms of it (as it would be if the field were not hashed).
// By chance that happens with probability about 2 * kNear / 2^32 per tuple.
void expect_field_is_hashed(const Tuple &base, const std::function<void(Tuple &, int)> &vary, const char *what)
{
    int close = 0;
    std::set<uint32_t> seen;
    for (int i = 1; i <= 1000; i++) {
        Tuple t = base;
        vary(t, i);
        uint32_t a = isn(base);
        uint32_t b = isn(t);
        seen.insert(b);
        if (close_mod32(a, b))
            close++;
    }
    EXPECT_LE(close, 5) << what << ": ISNs track the clock only, the field is not hashed";
    EXPECT_GE(seen.size(), 999u) << what;
}

TEST(TcpIsn, EveryFieldOfAnIpv4TupleIsHashed)
{
    expect_field_is_hashed(kV4, [](Tuple &t, int i) { t.rport = (u16_t)(t.rport + i); }, "remote port");
    expect_field_is_hashed(kV4, [](Tuple &t, int i) { t.lport = (u16_t)(t.lport + i); }, "local port");
    expect_field_is_hashed(
        kV4, [](Tuple &t, int i) { t.remote = v4(198, 19, (uint8_t)(i >> 8), (uint8_t)i); }, "remote address");
    expect_field_is_hashed(
        kV4, [](Tuple &t, int i) { t.local = v4((uint8_t)(i >> 2), 19, 0, (uint8_t)(1 + (i & 3) * 64)); },
        "local address");
}

TEST(TcpIsn, EveryWordOfAnIpv6TupleIsHashed)
{
    expect_field_is_hashed(kV6, [](Tuple &t, int i) { t.rport = (u16_t)(t.rport + i); }, "remote port");
    expect_field_is_hashed(kV6, [](Tuple &t, int i) { t.lport = (u16_t)(t.lport + i); }, "local port");
    // Varying only the first, or only the last, 32 bits of an address.
    expect_field_is_hashed(
        kV6, [](Tuple &t, int i) { t.remote = v6(0xfd000001, 0, 0, 2 + (uint32_t)i); }, "remote address, last word");
    expect_field_is_hashed(
        kV6, [](Tuple &t, int i) { t.remote = v6(0xfd000001 + ((uint32_t)i << 8), 0, 0, 2); },
        "remote address, first word");
    expect_field_is_hashed(
        kV6, [](Tuple &t, int i) { t.local = v6(0xfd000001, 0, 0, 1 + ((uint32_t)i << 16)); },
        "local address, last word");
    expect_field_is_hashed(
        kV6, [](Tuple &t, int i) { t.local = v6(0xfd000001, (uint32_t)i, 0, 1); }, "local address, second word");
}

TEST(TcpIsn, SameTupleAdvancesSlowlyAndNeverBackwards)
{
    for (const Tuple &t : {kV4, kV6}) {
        uint32_t prev = isn(t);
        for (int i = 0; i < 100000; i++) {
            uint32_t next = isn(t);
            uint32_t d = next - prev; // modulo 2^32
            ASSERT_LT(d, kClose) << "step " << i << ": " << prev << " -> " << next;
            prev = next;
        }
    }
}

TEST(TcpIsn, SameTupleAdvancesAtOneTickPerSixtyFourNanoseconds)
{
    for (const Tuple &t : {kV4, kV6}) {
        uint64_t c0 = ticks();
        uint32_t a = isn(t);
        uint64_t c1 = ticks();
        for (int i = 0; i < 100000; i++) // let the clock run on while doing work
            (void)isn(t);
        uint64_t c2 = ticks();
        uint32_t b = isn(t);
        uint64_t c3 = ticks();
        uint32_t d = b - a;
        // a was taken in [c0, c1] and b in [c2, c3], so the same hash cancels and
        // b - a lies within the clock's advance between those windows.
        EXPECT_GE((uint64_t)d, c2 - c1);
        EXPECT_LE((uint64_t)d, c3 - c0);
        EXPECT_GT(d, 0u);
    }
}

TEST(TcpIsn, Ipv4AndIpv6TuplesDiffer)
{
    // The same ports, and the IPv4 addresses as the IPv6 ones' last words.
    int close = 0;
    for (int i = 0; i < 200; i++) {
        Tuple four = {v4(0, 0, 0, 1), 80, v4(0, 0, 0, 2), (u16_t)(40000 + i)};
        Tuple six = {v6(0, 0, 0, 1), 80, v6(0, 0, 0, 2), (u16_t)(40000 + i)};
        if (close_mod32(isn(four), isn(six)))
            close++;
    }
    EXPECT_LE(close, 5);
}

} // namespace
