// SYN cookies over IPv6, and a cookie's age, with the Linux kernel's address
// on the tap's other side: the SYN queue is filled with SYNs from an address
// nobody answers neighbour solicitations for, so they stay half-open, and
// crafted SYNs and ACKs from the kernel's address get and return cookies.
// The stack's coarse clock is moved on (clock_shift.cpp) where minutes or
// days would have to pass; this program alone has that clock, and its last
// test wraps lwIP's 32-bit millisecond clock.
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
// lwIP first: lwipopts.h would redefine what <netinet/tcp.h> defines
#include "kernel_peer.hpp"
#include "raw_wire.hpp"
#include "clock_shift.hpp"

using namespace kpeer;

namespace
{

const std::vector<uint8_t> kMss1440 = {2, 4, 0x05, 0xa0};

// Fills port's SYN queue (a listener with backlog 1: 128) over IPv6 with 200
// SYNs from an address nobody answers neighbour solicitations for, so that
// they stay half-open; true once the stack answers with cookies.
bool fill_syn_queue_v6(RawWire &wire, uint16_t port)
{
    ucs_stack_stats before{}, now{};
    ucs_stack_get_stats(ucs_stack_current(), &before);
    for (uint16_t i = 0; i < 200; i++)
        wire.send(static_cast<uint16_t>(20000 + i), port, 7919u * i, 0, 0x02, kMss1440, "fd75:6374::100");
    return pump_until(
        [&] {
            ucs_stack_get_stats(ucs_stack_current(), &now);
            return now.tcp_syn_cookies_sent > before.tcp_syn_cookies_sent;
        },
        kKernelTimeoutMs);
}

// The cookie of a SYN from kport (the kernel's address) to port.
bool cookie_for(RawWire &wire, uint16_t kport, uint16_t port, uint32_t seq, uint32_t *cookie)
{
    wire.send(kport, port, seq, 0, 0x02, kMss1440);
    return wire.wait(kport, 0x12, cookie);
}

// Accepts the connection from the kernel's kport on listener l (non-blocking).
int accept_from(int l, uint16_t kport)
{
    int s = -1;
    Addr from;
    if (!pump_until([&] { return (s = ucs_accept(l, from.sa(), &from.len)) >= 0; }, kKernelTimeoutMs))
        return -1;
    EXPECT_EQ(from.str(), ep(AF_INET6, kKernelV6, kport));
    return s;
}

// SYN cookies over IPv6: once the SYN queue is full, a SYN from the kernel's
// address gets a cookie carrying IPv6's MSS of 1440; an ACK of it with
// another number is reset and counted, the right one opens the connection,
// with that MSS.
TEST_F(KernelPeer, SynCookieOpensItsConnectionOverIpv6)
{
    const uint16_t port = 7133, kport = 40610;
    RawWire wire(AF_INET6);
    ASSERT_TRUE(wire.ok());
    int l = stack_listener(AF_INET6, port, 1), on = 1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    ASSERT_TRUE(fill_syn_queue_v6(wire, port)) << "the SYN queue never filled";
    ucs_stack_stats before{}, after{};
    uint32_t cookie = 0, rst;
    ASSERT_TRUE(cookie_for(wire, kport, port, 1000, &cookie)) << "no SYN-ACK: no cookie over IPv6";
    ucs_stack_get_stats(ucs_stack_current(), &before);
    // (a number a few above the cookie's would only say another MSS, as on Linux)
    wire.send(kport, port, 1001, cookie + 1 + (1u << 20), 0x10);
    ASSERT_TRUE(wire.wait(kport, 0x04, &rst));
    ucs_stack_get_stats(ucs_stack_current(), &after);
    EXPECT_EQ(after.tcp_syn_cookies_rejected - before.tcp_syn_cookies_rejected, 1u);

    wire.send(kport, port, 1001, cookie + 1, 0x10);
    int s = accept_from(l, kport);
    ASSERT_GE(s, 0);
    tcp_pcb *pcb = tcp_active_pcbs;
    while (pcb && !(pcb->local_port == port && pcb->remote_port == kport && IP_IS_V6(&pcb->remote_ip)))
        pcb = pcb->next;
    ASSERT_NE(pcb, nullptr);
    EXPECT_EQ(pcb->mss, 1440);
    ucs_stack_get_stats(ucs_stack_current(), &after);
    EXPECT_EQ(after.tcp_syn_cookies_accepted - before.tcp_syn_cookies_accepted, 1u);
    EXPECT_EQ(ucs_close(s), 0);
    EXPECT_EQ(ucs_close(l), 0);
}

// A cookie is good for its minute and the next (2 minutes, as Linux's): ACKed
// a minute later it opens its connection; ACKed two minutes later, while
// cookies are still being sent, it is refused, reset and counted. The stack's
// clock is moved on instead of waiting, from just after a minute's start so
// that the test's own seconds cross no minute.
TEST_F(KernelPeer, SynCookieOlderThanTwoMinutesIsRefused)
{
    const uint16_t port = 7134, kport = 40620;
    RawWire wire(AF_INET6);
    ASSERT_TRUE(wire.ok());
    int l = stack_listener(AF_INET6, port, 1), on = 1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    ASSERT_TRUE(fill_syn_queue_v6(wire, port)) << "the SYN queue never filled";
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    shift_coarse_clock_ms(60000 - (now.tv_sec % 60) * 1000 - now.tv_nsec / 1000000 + 10);

    uint32_t young = 0, old = 0, fresh = 0, rst;
    ASSERT_TRUE(cookie_for(wire, kport, port, 1000, &young));
    ASSERT_TRUE(cookie_for(wire, kport + 1, port, 2000, &old));
    ucs_stack_stats before{}, after{};
    ucs_stack_get_stats(ucs_stack_current(), &before);

    shift_coarse_clock_ms(60000);
    wire.send(kport, port, 1001, young + 1, 0x10);
    int s = accept_from(l, kport);
    EXPECT_GE(s, 0) << "a cookie a minute old was refused";
    ucs_close(s);

    shift_coarse_clock_ms(60000);
    ASSERT_TRUE(cookie_for(wire, kport + 2, port, 3000, &fresh)); // cookies still go out
    wire.send(kport + 1, port, 2001, old + 1, 0x10);
    ASSERT_TRUE(wire.wait(kport + 1, 0x04, &rst)) << "a cookie two minutes old was not reset";
    EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1);
    ucs_stack_get_stats(ucs_stack_current(), &after);
    EXPECT_EQ(after.tcp_syn_cookies_rejected - before.tcp_syn_cookies_rejected, 1u);
    EXPECT_EQ(after.tcp_syn_cookies_accepted - before.tcp_syn_cookies_accepted, 1u);

    wire.send(kport + 2, port, 3001, fresh + 1, 0x10);
    s = accept_from(l, kport + 2);
    EXPECT_GE(s, 0);
    ucs_close(s);
    EXPECT_EQ(ucs_close(l), 0);
}

// lwIP's millisecond clock (sys_now(), 32 bits) wraps every 49.7 days, not at
// a whole minute: a cookie made 20 s before the wrap and ACKed 20 s after it
// is 40 s old and opens its connection (counting minutes of the wrapped clock
// made it 98 minutes old).
TEST_F(KernelPeer, SynCookieOutlivesTheMillisecondClocksWrap)
{
    const uint16_t port = 7135, kport = 40630;
    RawWire wire(AF_INET6);
    ASSERT_TRUE(wire.ok());
    int l = stack_listener(AF_INET6, port, 1), on = 1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    ASSERT_TRUE(fill_syn_queue_v6(wire, port)) << "the SYN queue never filled";
    // Forward in two steps of less than 2^31 ms, the stack run after each,
    // so that its timers (wrap-aware, modulo 2^32) see time go forward.
    uint32_t to_wrap = 0u - 20000u - sys_now();
    shift_coarse_clock_ms(to_wrap / 2);
    pump_until([] { return false; }, 10);
    shift_coarse_clock_ms(to_wrap - to_wrap / 2);
    pump_until([] { return false; }, 10);
    uint32_t cookie = 0;
    ASSERT_TRUE(cookie_for(wire, kport, port, 1000, &cookie));
    EXPECT_GT(sys_now(), 0xffffffffu - 21000u);
    shift_coarse_clock_ms(40000);
    EXPECT_LT(sys_now(), 21000u);
    wire.send(kport, port, 1001, cookie + 1, 0x10);
    int s = accept_from(l, kport);
    EXPECT_GE(s, 0) << "the cookie died with the clock's wrap";
    ucs_close(s);
    EXPECT_EQ(ucs_close(l), 0);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    signal(SIGPIPE, [](int) { sigpipes++; });
    ::testing::AddGlobalTestEnvironment(new KernelPeerEnvironment);
    return RUN_ALL_TESTS();
}
