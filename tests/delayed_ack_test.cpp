// The stack sending lone segments to a peer played by hand (hand_peer.hpp)
// that answers the way a client behind a 50 ms path with delayed ACKs does:
// its handshake ACK comes 50 ms after the SYN-ACK, and each data segment is
// acknowledged 50 ms plus the delayed-ACK time after it left (40 ms as Linux,
// 200 ms as RFC 9293 allows), echoing its timestamp. No segment is lost, so
// every second copy is a spurious retransmission (stack/tcp_rtt.c: the RTO
// and the tail loss probe's timeout). Compiled into inproc_test.
#include "hand_peer.hpp"
#include "pcb_of.hpp"

#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <cerrno>
#include <chrono>
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <vector>

namespace
{

constexpr uint32_t kPeerIss = 0x30000000;
constexpr int kPathMs = 50;

struct ucs_stack_stats now_stats()
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

void put32(std::vector<uint8_t> &o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o.push_back(static_cast<uint8_t>(v >> (24 - 8 * i)));
}

// NOP, NOP, timestamps.
std::vector<uint8_t> ts_option(uint32_t val, uint32_t ecr)
{
    std::vector<uint8_t> o = {1, 1, 8, 10};
    put32(o, val);
    put32(o, ecr);
    return o;
}

// The TSval of a segment the stack sent (0: none).
uint32_t tsval_of(const std::vector<uint8_t> &seg)
{
    size_t end = (seg[12] >> 4) * 4u;
    for (size_t i = 20; i + 1 < end;) {
        if (seg[i] == 0)
            break;
        if (seg[i] == 1) {
            i++;
            continue;
        }
        if (seg[i] == 8 && seg[i + 1] == 10 && i + 10 <= end)
            return be32(&seg[i + 2]);
        i += seg[i + 1] < 2 ? end : seg[i + 1];
    }
    return 0;
}

void run_for(int ms)
{
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until)
        ucs_stack_poll(ucs_stack_current());
}

class DelayedAck : public ::testing::TestWithParam<int>
{
  protected:
    void SetUp() override
    {
        static uint16_t next_port = 7400;
        port_ = next_port++;
        listener_ = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(listener_, 0);
        struct sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port_);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(ucs_bind(listener_, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)), 0);
        ASSERT_EQ(ucs_listen(listener_, 4), 0);

        std::vector<uint8_t> syn = {2, 4, 0x05, 0xb4, 1, 1, 4, 2};
        auto ts = ts_option(++peer_clock_, 0);
        syn.insert(syn.end(), ts.begin(), ts.end());
        peer_.send(port_, kPeerIss, 0, TCP_SYN, syn);
        ASSERT_TRUE(peer_.wait_segments(1));
        ASSERT_EQ(peer_.segment(0)[13], TCP_SYN | TCP_ACK);
        una_ = be32(&peer_.segment(0)[4]) + 1;
        run_for(kPathMs);
        peer_.send(port_, kPeerIss + 1, una_, TCP_ACK, ts_option(++peer_clock_, tsval_of(peer_.segment(0))));
        for (int i = 0; i < 100000 && conn_ < 0; i++) {
            ucs_stack_poll(ucs_stack_current());
            conn_ = ucs_accept(listener_, nullptr, nullptr);
        }
        ASSERT_GE(conn_, 0) << strerror(errno);
    }
    void TearDown() override
    {
        struct linger hard = {1, 0};
        if (conn_ >= 0) {
            ucs_setsockopt(conn_, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
            ucs_close(conn_);
        }
        ucs_close(listener_);
        peer_.settle();
    }

    HandPeer peer_;
    uint16_t port_ = 0;
    int listener_ = -1, conn_ = -1;
    uint32_t una_ = 0, peer_clock_ = 1000;
};

// 50 lone 100-byte segments, each written once its predecessor is
// acknowledged: none is sent twice, and the smoothed RTT learns the delayed
// ACK from the echoed timestamps. Before stack/tcp_rtt.c, with 200 ms the
// RTO (100 ms floor, RTT in 50 ms ticks) and the probe (one tick) fired on
// about every segment, more than once.
TEST_P(DelayedAck, LoneSegmentsAreSentOnce)
{
    const int delack = GetParam(), rounds = 50;
    auto before = now_stats();
    std::vector<uint8_t> msg(100, 'r');
    size_t copies = 0;
    for (int r = 0; r < rounds; r++) {
        size_t first = peer_.count();
        ASSERT_EQ(ucs_send(conn_, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
        ASSERT_TRUE(peer_.wait_segments(first + 1));
        const std::vector<uint8_t> seg = peer_.segment(first);
        ASSERT_EQ(be32(&seg[4]), una_);
        // The segment's path, then the peer's delayed-ACK timer.
        run_for(kPathMs + delack);
        una_ += static_cast<uint32_t>(msg.size());
        peer_.send(port_, kPeerIss + 1, una_, TCP_ACK, ts_option(++peer_clock_, tsval_of(seg)));
        int queued = -1;
        for (int i = 0; i < 100000 && queued != 0; i++) {
            ucs_stack_poll(ucs_stack_current());
            ASSERT_EQ(ucs_ioctl(conn_, SIOCOUTQ, &queued), 0);
        }
        ASSERT_EQ(queued, 0) << "round " << r << ": the ACK was not taken";
        for (size_t i = first; i < peer_.count(); i++)
            copies += peer_.segment(i).size() > (peer_.segment(i)[12] >> 4) * 4u;
    }
    auto after = now_stats();
    EXPECT_EQ(copies, static_cast<size_t>(rounds)) << copies - rounds << " resent";
    EXPECT_EQ(after.tcp_rto - before.tcp_rto, 0u);
    EXPECT_EQ(after.tcp_tail_loss_probes - before.tcp_tail_loss_probes, 0u);
    EXPECT_GE(after.tcp_rtt_ts_samples - before.tcp_rtt_ts_samples, static_cast<uint64_t>(rounds));
    struct tcp_pcb *pcb = pcb_of(conn_);
    ASSERT_NE(pcb, nullptr);
    EXPECT_GE(pcb->srtt8 >> 3, static_cast<u32_t>(kPathMs + delack) * 3 / 4) << "SRTT never learned the delay";
}

INSTANTIATE_TEST_SUITE_P(PathOf50ms, DelayedAck, ::testing::Values(40, 200),
                         [](const ::testing::TestParamInfo<int> &i) {
                             return "DelayedBy" + std::to_string(i.param) + "ms";
                         });

} // namespace
