// Path MTU discovery through the tap (RFC 1191, RFC 8201, RFC 5927): ICMP
// errors the kernel's side crafts, quoting segments of connections the
// stack holds, and the sizes of what the stack sends after them. Each case
// connects from a kernel address of its own, so what the path MTU cache
// learns for it touches no other case; differential_test.cpp's main makes
// the cache's entries last 2 s.
#include "tcp_wire.hpp"

using namespace kpeer;

namespace
{

class PathMtu : public KernelPeer, public ::testing::WithParamInterface<int>
{
  protected:
    int family() const
    {
        return GetParam();
    }
    bool v6() const
    {
        return GetParam() == AF_INET6;
    }
    uint32_t low() const
    {
        return v6() ? 1280 : 1000;
    }
    // A kernel address for this case; removed at the end.
    std::string own_address(int n)
    {
        std::string a = (v6() ? "fd75:6374::" : "198.18.2.") + std::to_string(20 + n);
        EXPECT_EQ(sh("ip addr add " + a + (v6() ? "/64 nodad" : "/24") + " dev ucstap0"), 0);
        added_.push_back(a);
        return a;
    }
    void TearDown() override
    {
        for (auto &a : added_)
            sh("ip addr del " + a + (v6() ? "/64" : "/24") + " dev ucstap0");
    }
    StackTarget us;

  private:
    std::vector<std::string> added_;
};

// "Fragmentation needed" or "packet too big" from the kernel's side quoting
// the stack's segment at seq.
void too_big(Wire &w, const Conn &c, uint32_t mtu, uint32_t seq)
{
    if (c.family == AF_INET)
        icmp_error(w, c, 3, 4, mtu, seq);
    else
        icmp_error(w, c, 2, 0, mtu, seq);
}

// The stack sends n bytes on c while the kernel reads them; the sizes of
// the stack's data segments on the wire.
std::vector<size_t> send_and_measure(Conn &c, Wire &w, size_t n)
{
    std::vector<char> data(n), in(n);
    for (size_t i = 0; i < n; i++)
        data[i] = static_cast<char>(i * 7);
    bool read = false;
    Peer reader([&] { read = krecv_exact(c.k, in.data(), n); });
    size_t sent = 0;
    EXPECT_TRUE(pump_until(
        [&] {
            ssize_t k = ucs_send(c.s, data.data() + sent, n - sent, MSG_DONTWAIT);
            if (k > 0)
                sent += static_cast<size_t>(k);
            return sent == n;
        },
        kKernelTimeoutMs));
    EXPECT_TRUE(reader.finish());
    EXPECT_TRUE(read && in == data) << "the data arrived damaged or short";
    w.drain();
    std::vector<size_t> sizes;
    for (const Seg &g : w.seen)
        if (g.sport == c.sport && !g.data.empty())
            sizes.push_back(g.iplen);
    return sizes;
}

size_t largest(const std::vector<size_t> &v)
{
    return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

// Refused, counted, and changing nothing: an error quoting a sequence number
// not in flight (RFC 5927: anyone can forge one), and an MTU below what the
// family's every path carries (IPv4: Linux's min_pmtu 552; IPv6: 1280).
TEST_P(PathMtu, ErrorsNotToBeBelievedAreRefused)
{
    auto w = us.wire_from(family(), own_address(0));
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(us, family(), 7300, *w, &c));
    auto before = stats();
    too_big(*w, c, low(), c.snd_nxt + 1000000);
    too_big(*w, c, v6() ? 1200 : 500, c.snd_nxt);
    ASSERT_TRUE(pump_until([&] { return stats().icmp_ptb_refused - before.icmp_ptb_refused == 2; }, kKernelTimeoutMs));
    EXPECT_EQ(stats().pmtu_learnt, before.pmtu_learnt);
    w->seen.clear();
    EXPECT_GT(largest(send_and_measure(c, *w, 20000)), 1400u);
}

// Believed, the lower MTU holds for the connection, for a new connection to
// the same destination from its first segment (the path MTU cache), and
// until the entry expires: then a new connection uses the link's again.
TEST_P(PathMtu, TheCacheGivesNewConnectionsTheLoweredMtuUntilItExpires)
{
    std::string from = own_address(1);
    auto w = us.wire_from(family(), from);
    auto before = stats();
    uint64_t learnt_at;
    {
        Conn c;
        ASSERT_NO_FATAL_FAILURE(open_conn(us, family(), 7301, *w, &c));
        too_big(*w, c, low(), c.snd_nxt);
        ASSERT_TRUE(pump_until([&] { return stats().pmtu_learnt > before.pmtu_learnt; }, kKernelTimeoutMs));
        learnt_at = now_ms();
        EXPECT_GE(stats().tcp_pmtu_lowered - before.tcp_pmtu_lowered, 1u);
        w->seen.clear();
        EXPECT_LE(largest(send_and_measure(c, *w, 20000)), low());
    }
    {
        Conn c;
        w->seen.clear();
        ASSERT_NO_FATAL_FAILURE(open_conn(us, family(), 7302, *w, &c));
        // The SYN-ACK offers the path's MSS too.
        for (const Seg &g : w->seen)
            if (g.flags == (kSyn | kAck)) {
                std::vector<uint8_t> mss;
                ASSERT_TRUE(option(g, 2, &mss));
                EXPECT_EQ(get16(mss.data()), low() - (v6() ? 60 : 40));
            }
        w->seen.clear();
        auto sizes = send_and_measure(c, *w, 20000);
        EXPECT_LE(largest(sizes), low()) << "a new connection forgot the path's MTU";
        EXPECT_GT(sizes.size(), 15u);
    }
    // 2 s (the program's pmtu_expires) after it was learnt, it is gone.
    pump_until([&] { return now_ms() > learnt_at + 2100; }, 5000);
    {
        Conn c;
        ASSERT_NO_FATAL_FAILURE(open_conn(us, family(), 7303, *w, &c));
        w->seen.clear();
        EXPECT_GT(largest(send_and_measure(c, *w, 20000)), 1400u) << "the entry never expired";
    }
    // At least this one (another case's entry may be found expired meanwhile).
    EXPECT_GE(stats().pmtu_expired - before.pmtu_expired, 1u);
}

// Segments queued at the old size when the error comes are split to the new
// one, never sent as IP fragments (RFC 8201 5.4; lwIP fragmented every one
// over IPv6). The kernel's small receive window keeps most of a large write
// queued when the error arrives.
TEST_P(PathMtu, QueuedSegmentsAreSplitNotFragmented)
{
    auto w = us.wire_from(family(), own_address(2));
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(us, family(), 7304, *w, &c));
    int small = 16384;
    ASSERT_EQ(setsockopt(c.k, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    ASSERT_TRUE(exchange(c, *w, 'c', 'd'));
    auto before = stats();
    const size_t n = 200000;
    std::vector<char> data(n), in(n);
    for (size_t i = 0; i < n; i++)
        data[i] = static_cast<char>(i * 13);
    size_t sent = 0;
    ssize_t k = ucs_send(c.s, data.data(), n, MSG_DONTWAIT);
    ASSERT_GT(k, 20000);
    sent = static_cast<size_t>(k);
    w->seen.clear();
    too_big(*w, c, low(), c.snd_nxt);
    bool read = false;
    Peer reader([&] { read = krecv_exact(c.k, in.data(), n); });
    ASSERT_TRUE(pump_until(
        [&] {
            ssize_t m = ucs_send(c.s, data.data() + sent, n - sent, MSG_DONTWAIT);
            if (m > 0)
                sent += static_cast<size_t>(m);
            return sent == n;
        },
        2 * kKernelTimeoutMs));
    ASSERT_TRUE(reader.finish());
    EXPECT_TRUE(read && in == data) << "the data arrived damaged or short";
    w->drain();
    EXPECT_GT(stats().tcp_pmtu_split - before.tcp_pmtu_split, 0u) << "nothing was queued at the old size";
    EXPECT_EQ(w->fragments, 0u) << "IP fragments";
    bool lowered = false;
    for (const Seg &g : w->seen) {
        if (g.sport != c.sport || g.data.empty())
            continue;
        if (g.iplen <= low())
            lowered = true;
        else
            EXPECT_FALSE(lowered) << "a segment of " << g.iplen << " bytes after the MTU fell to " << low();
    }
    EXPECT_TRUE(lowered);
}

INSTANTIATE_TEST_SUITE_P(Families, PathMtu, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int> &i) { return i.param == AF_INET ? "v4" : "v6"; });

} // namespace
