// The handshake's timing and the start of a connection, against a peer
// played by hand (hand_peer.hpp): SYN and SYN-ACK timeouts of 1 s doubling
// with Linux's retry counts, the handshake as the first RTT sample on both
// sides, and RFC 6928's initial window (stack/tcp_rtt.c, patches 0004 and
// 0010). Compiled into inproc_test.
#include "hand_peer.hpp"
#include "pcb_of.hpp"

#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <cerrno>
#include <chrono>
#include <gtest/gtest.h>
#include <vector>

namespace
{

constexpr uint32_t kPeerIss = 0x40000000;

struct ucs_stack_stats stats_now()
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

ip_addr_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    ip_addr_t ip = IPADDR4_INIT_BYTES(a, b, c, d);
    return ip;
}

// The stack's pcb from 127.0.0.1:local to 127.0.0.2:remote.
struct tcp_pcb *hand_pcb(u16_t local, u16_t remote)
{
    ip_addr_t l = v4(127, 0, 0, 1), r = v4(127, 0, 0, 2);
    return ucs_tcp_pcb_find(&l, local, &r, remote);
}

int listen_on(uint16_t port)
{
    int fd = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_GE(fd, 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(ucs_bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(ucs_listen(fd, 4), 0);
    return fd;
}

// 1 s in slow-timer ticks, at least (stack/tcp_rtt.c: the first tick comes
// up to one interval after the timer starts).
constexpr s16_t kOneSecondTicks = 1000 / TCP_SLOW_INTERVAL + 1;

// Runs the stack until the peer has n segments or the pcb is gone; each time
// pcb's retransmission timer is `lead` ticks from expiring, as if the time
// had passed (the backed-off timeouts add up to minutes).
bool fast_forward(HandPeer &peer, size_t n, u16_t local, u16_t remote, s16_t lead = 1)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (peer.count() < n && std::chrono::steady_clock::now() < deadline) {
        struct tcp_pcb *pcb = hand_pcb(local, remote);
        if (!pcb)
            return false;
        if (pcb->rtime >= 0 && pcb->rtime < pcb->rto - lead)
            pcb->rtime = static_cast<s16_t>(pcb->rto - lead);
        ucs_stack_poll(ucs_stack_current());
    }
    return peer.count() >= n;
}

// A SYN that is never acknowledged: the SYN-ACK goes at 1 s, then 2 s later,
// and 5 times in all (Linux's tcp_synack_retries), then the half-open
// connection is gone. lwIP waited 3 s, then 6.6 s, and gave up after 20 s.
TEST(Handshake, SynAckIsResentAfterOneSecondDoublingFiveTimes)
{
    const uint16_t port = 7500;
    int l = listen_on(port);
    HandPeer peer;
    peer.send(port, kPeerIss, 0, TCP_SYN, {2, 4, 0x05, 0xb4});
    ASSERT_TRUE(peer.wait_segments(1));
    u32_t first = tcp_ticks; // the stack's slow ticks
    struct tcp_pcb *pcb = hand_pcb(port, 40000);
    ASSERT_NE(pcb, nullptr);
    EXPECT_EQ(pcb->state, SYN_RCVD);
    EXPECT_EQ(pcb->rto, kOneSecondTicks);
    ASSERT_TRUE(peer.wait_segments(2, 5000));
    EXPECT_GE(tcp_ticks - first, static_cast<u32_t>(kOneSecondTicks)) << "resent before its timeout";
    pcb = hand_pcb(port, 40000);
    ASSERT_NE(pcb, nullptr);
    EXPECT_EQ(pcb->rto, 2 * kOneSecondTicks);
    EXPECT_TRUE(fast_forward(peer, 6, port, 40000));
    for (size_t i = 0; i < peer.count(); i++)
        EXPECT_EQ(peer.segment(i)[13], TCP_SYN | TCP_ACK) << i;
    EXPECT_FALSE(fast_forward(peer, 7, port, 40000)) << "a sixth retransmission";
    EXPECT_EQ(peer.count(), 6u);
    EXPECT_EQ(hand_pcb(port, 40000), nullptr);
    ucs_close(l);
}

// A connect the peer never answers: SYNs at 1, 2, 4 ... s, 6 retransmissions
// (tcp_syn_retries), then ETIMEDOUT. lwIP did not back off SYNs (every 3 s).
TEST(Handshake, SynIsResentAfterOneSecondDoublingSixTimes)
{
    HandPeer peer;
    int fd = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_in to = {};
    to.sin_family = AF_INET;
    to.sin_port = htons(7501);
    to.sin_addr.s_addr = htonl(0x7f000002);
    ASSERT_EQ(ucs_connect(fd, reinterpret_cast<struct sockaddr *>(&to), sizeof(to)), -1);
    ASSERT_EQ(errno, EINPROGRESS);
    ASSERT_TRUE(peer.wait_segments(1));
    u16_t local = static_cast<u16_t>(be32(&peer.segment(0)[0]) >> 16);
    struct tcp_pcb *pcb = hand_pcb(local, 7501);
    ASSERT_NE(pcb, nullptr);
    EXPECT_EQ(pcb->rto, kOneSecondTicks);
    ASSERT_TRUE(peer.wait_segments(2, 5000));
    pcb = hand_pcb(local, 7501);
    ASSERT_NE(pcb, nullptr);
    EXPECT_EQ(pcb->rto, 2 * kOneSecondTicks);
    EXPECT_TRUE(fast_forward(peer, 7, local, 7501)) << peer.count() << " SYNs";
    EXPECT_FALSE(fast_forward(peer, 8, local, 7501)) << "a seventh retransmission";
    EXPECT_EQ(peer.count(), 7u);
    for (size_t i = 0; i < peer.count(); i++)
        EXPECT_EQ(peer.segment(i)[13], TCP_SYN) << i;
    int err = 0;
    socklen_t len = sizeof(err);
    EXPECT_EQ(ucs_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    EXPECT_EQ(err, ETIMEDOUT);
    ucs_close(fd);
}

// The accepting side's first RTT sample is its SYN-ACK (the first connection
// after start-up had none: lwIP's clock read 0, which meant "not timing"),
// and 10 segments go before the first ACK (RFC 6928; lwIP sent 3).
TEST(Handshake, AcceptorSamplesTheHandshakeAndSendsTenSegments)
{
    const uint16_t port = 7502;
    int l = listen_on(port);
    HandPeer peer;
    auto before = stats_now();
    peer.send(port, kPeerIss, 0, TCP_SYN, {2, 4, 0x05, 0xb4});
    ASSERT_TRUE(peer.wait_segments(1));
    uint32_t iss = be32(&peer.segment(0)[4]);
    peer.send(port, kPeerIss + 1, iss + 1, TCP_ACK, {});
    int fd = -1;
    for (int i = 0; i < 100000 && fd < 0; i++) {
        ucs_stack_poll(ucs_stack_current());
        fd = ucs_accept(l, nullptr, nullptr);
    }
    ASSERT_GE(fd, 0) << strerror(errno);
    struct tcp_pcb *pcb = pcb_of(fd);
    ASSERT_NE(pcb, nullptr);
    EXPECT_TRUE(pcb->flags & TF_RTT_VALID);
    EXPECT_EQ(stats_now().tcp_rtt_timed_samples - before.tcp_rtt_timed_samples, 1u);
    std::vector<uint8_t> data(20 * 1460, 'w');
    ASSERT_EQ(ucs_send(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    peer.settle();
    size_t segments = 0;
    for (size_t i = 1; i < peer.count(); i++)
        segments += peer.segment(i).size() > (peer.segment(i)[12] >> 4) * 4u;
    EXPECT_EQ(segments, 10u);
    struct linger hard = {1, 0};
    ucs_setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    ucs_close(fd);
    ucs_close(l);
    peer.settle();
}

// LAST_ACK with a peer that never acknowledges the FIN: each timeout sends
// the FIN once. lwIP's tail loss probe sent it again a tick after every
// timeout (the probe ran in RTO recovery): two FINs per timeout.
TEST(Handshake, LastAckSendsOneFinPerTimeout)
{
    const uint16_t port = 7503;
    int l = listen_on(port);
    HandPeer peer;
    peer.send(port, kPeerIss, 0, TCP_SYN, {2, 4, 0x05, 0xb4, 4, 2, 1, 1});
    ASSERT_TRUE(peer.wait_segments(1));
    uint32_t iss = be32(&peer.segment(0)[4]);
    peer.send(port, kPeerIss + 1, iss + 1, TCP_ACK, {});
    int fd = -1;
    for (int i = 0; i < 100000 && fd < 0; i++) {
        ucs_stack_poll(ucs_stack_current());
        fd = ucs_accept(l, nullptr, nullptr);
    }
    ASSERT_GE(fd, 0) << strerror(errno);
    peer.send(port, kPeerIss + 1, iss + 1, TCP_FIN | TCP_ACK, {});
    char b;
    ssize_t n = -1;
    for (int i = 0; i < 100000 && n != 0; i++) {
        ucs_stack_poll(ucs_stack_current());
        n = ucs_recv(fd, &b, 1, 0);
    }
    ASSERT_EQ(n, 0) << "no end of file";
    auto before = stats_now();
    size_t first = peer.count();
    ASSERT_EQ(ucs_close(fd), 0);
    // Two ticks before each timeout: the tick between is where a probe went.
    ASSERT_TRUE(fast_forward(peer, first + 6, port, 40000, 2));
    peer.settle();
    size_t fins = 0;
    for (size_t i = first; i < peer.count(); i++)
        fins += (peer.segment(i)[13] & TCP_FIN) != 0;
    auto after = stats_now();
    EXPECT_GE(fins, 6u);
    EXPECT_EQ(fins, 1 + (after.tcp_rto - before.tcp_rto)) << "FINs beyond one per timeout";
    EXPECT_EQ(after.tcp_tail_loss_probes, before.tcp_tail_loss_probes);
    // The peer resets at last: no pcb left to time out in later tests.
    peer.send(port, kPeerIss + 2, 0, TCP_RST, {});
    peer.settle();
    EXPECT_EQ(hand_pcb(port, 40000), nullptr);
    ucs_close(l);
}

} // namespace
