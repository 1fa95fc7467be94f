// Retransmissions on a path with delay: the Linux kernel through tap as the
// peer, the fault link holding every frame the stack receives for 50 ms (so
// a round trip is 50 ms plus the peer's delayed ACK), and lone segments from
// the stack that the kernel, with nothing to send back, acknowledges only
// when its delayed-ACK timer fires (about 40 ms; quickack off). Every copy of
// a segment the stack sends is counted off the tap with a packet socket: a
// segment sent twice is a spurious retransmission (nothing is lost here).
#include "kernel_peer.hpp"

#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <map>
#include <net/ethernet.h>
#include <net/if.h>

using namespace kpeer;

namespace
{

ucs_stack_stats stats()
{
    ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

// The data segments the stack sends on the tap, by (source port, sequence).
class Capture {
  public:
    Capture()
    {
        fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_ifindex = static_cast<int>(if_nametoindex("ucstap0"));
        bound_ = fd_ >= 0 && ll.sll_ifindex > 0 && bind(fd_, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)) == 0;
        inet_pton(AF_INET, kStackV4, &stack_);
    }
    ~Capture() { close(fd_); }
    Capture(const Capture &) = delete;
    Capture &operator=(const Capture &) = delete;
    bool ok() const { return bound_; }

    void drain()
    {
        uint8_t f[2048];
        ssize_t n;
        const size_t eth = sizeof(ether_header);
        while ((n = recv(fd_, f, sizeof(f), 0)) > 0) {
            if (static_cast<size_t>(n) < eth + 40 || f[eth + 9] != IPPROTO_TCP || memcmp(&f[eth + 12], &stack_, 4))
                continue;
            size_t ihl = static_cast<size_t>(f[eth] & 0x0f) * 4, total = static_cast<size_t>(f[eth + 2] << 8 | f[eth + 3]);
            const uint8_t *t = &f[eth + ihl];
            size_t doff = static_cast<size_t>(t[12] >> 4) * 4;
            if (total <= ihl + doff)
                continue;
            uint16_t sport = static_cast<uint16_t>(t[0] << 8 | t[1]);
            uint32_t seq = static_cast<uint32_t>(t[4]) << 24 | t[5] << 16 | t[6] << 8 | t[7];
            copies[{sport, seq}]++;
        }
    }
    // Segments sent more than once, and how many copies beyond the first.
    size_t extra_copies() const
    {
        size_t extra = 0;
        for (auto &c : copies)
            extra += static_cast<size_t>(c.second - 1);
        return extra;
    }

    std::map<std::pair<uint16_t, uint32_t>, int> copies;

  private:
    int fd_ = -1;
    bool bound_ = false;
    in_addr stack_{};
};

class Retransmissions : public KernelPeer {};

// RFC 8985 7.2 (a lone segment's probe waits for the peer's delayed ACK),
// RFC 6298 with Linux's 200 ms floor, RTT from timestamps (RFC 7323): 4
// connections, 50 lone 100-byte segments each, one at a time, each sent once
// its predecessor is acknowledged. Before patch 0004's RTT and probe timeouts
// moved to stack/tcp_rtt.c, the probe fired a tick after sending whenever
// the smoothed RTT was under a tick, on about half the segments.
TEST_F(Retransmissions, LoneSegmentsAreNotResentWhileTheKernelDelaysItsAcks)
{
    constexpr int kConns = 4, kRounds = 50, kLen = 100;
    Capture cap;
    ASSERT_TRUE(cap.ok()) << strerror(errno);
    int l = stack_listener(AF_INET, 7300);
    int k[kConns], s[kConns];
    std::atomic<bool> read_all{false};
    Signal connected;
    Peer peer([&] {
        for (int i = 0; i < kConns; i++) {
            k[i] = kconnect(AF_INET, 7300);
            int zero = 0;
            EXPECT_EQ(setsockopt(k[i], IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)), 0);
        }
        connected.set();
        size_t got[kConns] = {};
        size_t left = kConns;
        while (left > 0) {
            pollfd p[kConns];
            for (int i = 0; i < kConns; i++)
                p[i] = {k[i], POLLIN, 0};
            if (poll(p, kConns, kKernelTimeoutMs) <= 0)
                break;
            for (int i = 0; i < kConns; i++) {
                if (!(p[i].revents & POLLIN))
                    continue;
                char b[4096];
                ssize_t n = recv(k[i], b, sizeof(b), MSG_DONTWAIT);
                if (n <= 0)
                    continue;
                // Linux turns quickack back on at times; the test wants it off.
                int zero = 0;
                setsockopt(k[i], IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
                got[i] += static_cast<size_t>(n);
                if (got[i] == static_cast<size_t>(kRounds * kLen))
                    left--;
            }
        }
        read_all = left == 0;
        for (int i = 0; i < kConns; i++)
            close(k[i]);
    });
    for (int i = 0; i < kConns; i++) {
        s[i] = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(s[i], UCS_FD_BASE) << strerror(errno);
    }
    ASSERT_TRUE(connected.pump());
    auto before = stats();
    std::vector<char> msg(kLen, 'x');
    for (int r = 0; r < kRounds; r++) {
        for (int i = 0; i < kConns; i++)
            ASSERT_EQ(ucs_send(s[i], msg.data(), msg.size(), 0), kLen) << strerror(errno);
        ASSERT_TRUE(pump_until(
            [&] {
                cap.drain();
                for (int i = 0; i < kConns; i++) {
                    int queued = -1;
                    if (ucs_ioctl(s[i], SIOCOUTQ, &queued) != 0 || queued != 0)
                        return false;
                }
                return true;
            },
            kKernelTimeoutMs))
            << "round " << r << ": a segment was never acknowledged";
    }
    ASSERT_TRUE(peer.finish());
    EXPECT_TRUE(read_all);
    cap.drain();
    auto after = stats();
    size_t segments = cap.copies.size();
    EXPECT_EQ(segments, static_cast<size_t>(kConns * kRounds));
    // Below 1 %: none of 200.
    EXPECT_LT(cap.extra_copies() * 100, segments) << cap.extra_copies() << " copies resent of " << segments;
    EXPECT_LT((after.tcp_rto - before.tcp_rto + after.tcp_tail_loss_probes - before.tcp_tail_loss_probes) * 100,
              segments)
        << "timeouts " << after.tcp_rto - before.tcp_rto << ", probes "
        << after.tcp_tail_loss_probes - before.tcp_tail_loss_probes;
    // The path was slow, and the timestamps the kernel echoed measured it.
    EXPECT_GT(after.fault_delayed, before.fault_delayed);
    EXPECT_GE(after.tcp_rtt_ts_samples - before.tcp_rtt_ts_samples, segments);
    for (int i = 0; i < kConns; i++)
        ucs_close(s[i]);
    ucs_close(l);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    signal(SIGPIPE, [](int) { sigpipes++; });
    extra_port_config = "fault = delay=50ms\n";
    ::testing::AddGlobalTestEnvironment(new KernelPeerEnvironment);
    return RUN_ALL_TESTS();
}
