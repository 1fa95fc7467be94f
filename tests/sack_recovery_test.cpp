// The stack as a sender, against a receiver played by hand (hand_peer.hpp) that
// acknowledges with the SACK blocks (RFC 2018) each test chooses: which
// segments the stack resends, when, and which blocks it ignores
// (stack/patches/0004-tcp-sack-recovery.patch). Compiled into inproc_test.
#include "hand_peer.hpp"

#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <gtest/gtest.h>
#include <utility>
#include <vector>

namespace
{

using Blocks = std::vector<std::pair<uint32_t, uint32_t>>;

constexpr uint32_t kPeerIss = 0x20000000;
constexpr size_t kMss = 1460;

struct ucs_stack_stats now()
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

// SACK blocks after two NOPs, as Linux sends them.
std::vector<uint8_t> sack_option(const Blocks &blocks)
{
    std::vector<uint8_t> o = {1, 1, 5, static_cast<uint8_t>(2 + 8 * blocks.size())};
    for (auto &b : blocks)
        for (uint32_t edge : {b.first, b.second})
            for (int i = 0; i < 4; i++)
                o.push_back(static_cast<uint8_t>(edge >> (24 - 8 * i)));
    return o;
}

class SackRecovery : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        static uint16_t next_port = 7200;
        port_ = next_port++;
        listener_ = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(listener_, 0);
        struct sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port_);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(ucs_bind(listener_, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)), 0);
        ASSERT_EQ(ucs_listen(listener_, 4), 0);

        // MSS 1460 and SACK-permitted; no timestamps, so every data segment is 1460 bytes.
        peer_.send(port_, kPeerIss, 0, TCP_SYN, {2, 4, 0x05, 0xb4, 4, 2, 1, 1});
        ASSERT_TRUE(peer_.wait_segments(1));
        ASSERT_EQ(peer_.segment(0)[13], TCP_SYN | TCP_ACK);
        una_ = be32(&peer_.segment(0)[4]) + 1;
        peer_.send(port_, kPeerIss + 1, una_, TCP_ACK, {});
        for (int i = 0; i < 100000 && conn_ < 0; i++) {
            ucs_stack_poll(ucs_stack_current());
            conn_ = ucs_accept(listener_, nullptr, nullptr);
        }
        ASSERT_GE(conn_, 0) << strerror(errno);
        first_data_ = peer_.count();
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

    // Queues segments * 1460 bytes on the accepted socket.
    void write_segments(size_t segments)
    {
        std::vector<uint8_t> data(segments * kMss, 0x5a);
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ucs_send(conn_, data.data() + off, data.size() - off, 0);
            ASSERT_GT(n, 0) << strerror(errno);
            off += static_cast<size_t>(n);
        }
    }
    void ack(uint32_t ackno, const Blocks &blocks = {}, const std::vector<uint8_t> &raw_options = {})
    {
        peer_.send(port_, kPeerIss + 1, ackno, TCP_ACK, blocks.empty() ? raw_options : sack_option(blocks));
    }
    // Acknowledges everything sent until at least `flight` segments are out
    // unacknowledged (the congestion window opens with each ACK); returns
    // their sequence numbers, lowest first.
    std::vector<uint32_t> open_window(size_t flight)
    {
        for (;;) {
            peer_.settle();
            std::vector<uint32_t> out = unacked();
            if (out.size() >= flight || out.empty())
                return out;
            una_ = out.back() + kMss;
            ack(una_);
        }
    }
    // The data segments sent at or above una_, in order of sequence number.
    std::vector<uint32_t> unacked() const
    {
        std::vector<uint32_t> seqs;
        for (size_t i = first_data_; i < peer_.count(); i++) {
            uint32_t seq = be32(&peer_.segment(i)[4]);
            if (data_length(i) > 0 && static_cast<int32_t>(seq - una_) >= 0 &&
                std::find(seqs.begin(), seqs.end(), seq) == seqs.end())
                seqs.push_back(seq);
        }
        std::sort(seqs.begin(), seqs.end(), [](uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; });
        return seqs;
    }
    size_t data_length(size_t i) const
    {
        return peer_.segment(i).size() - (peer_.segment(i)[12] >> 4) * 4u;
    }
    // Sequence numbers of the data segments sent from index `from` on.
    std::vector<uint32_t> sent_since(size_t from) const
    {
        std::vector<uint32_t> seqs;
        for (size_t i = from; i < peer_.count(); i++)
            if (data_length(i) > 0)
                seqs.push_back(be32(&peer_.segment(i)[4]));
        return seqs;
    }

    HandPeer peer_;
    uint16_t port_ = 0;
    int listener_ = -1, conn_ = -1;
    uint32_t una_ = 0;
    size_t first_data_ = 0;
};

TEST_F(SackRecovery, AHoleWithThreeSegmentsSackedAboveIsResentAtOnceAndAlone)
{
    write_segments(40);
    std::vector<uint32_t> s = open_window(6);
    ASSERT_GE(s.size(), 6u);
    struct ucs_stack_stats before = now();
    size_t mark = peer_.count();

    // One ACK, not three duplicates: its SACK blocks alone show s[0] lost.
    ack(una_, {{s[1], s[3] + kMss}});
    ASSERT_TRUE(peer_.wait_segments(mark + 1, 1000));
    peer_.settle();
    std::vector<uint32_t> sent = sent_since(mark);
    EXPECT_EQ(sent.front(), s[0]);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), s[0]), 1);
    for (size_t i = 1; i < s.size(); i++)
        EXPECT_EQ(std::count(sent.begin(), sent.end(), s[i]), 0) << "segment " << i << " resent";
    struct ucs_stack_stats after = now();
    EXPECT_EQ(after.tcp_fast_recoveries - before.tcp_fast_recoveries, 1u);
    EXPECT_EQ(after.tcp_sack_blocks - before.tcp_sack_blocks, 1u);
}

TEST_F(SackRecovery, AHoleWithFewerThanThreeSackedAboveWaitsForTheThird)
{
    write_segments(40);
    std::vector<uint32_t> s = open_window(7);
    ASSERT_GE(s.size(), 7u);
    size_t mark = peer_.count();

    ack(una_, {{s[1], s[2] + kMss}});
    peer_.settle();
    std::vector<uint32_t> sent = sent_since(mark);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), s[0]), 0) << "resent on two SACKed segments";

    ack(una_, {{s[1], s[3] + kMss}});
    ASSERT_TRUE(peer_.wait_segments(mark + sent.size() + 1, 1000));
    peer_.settle();
    sent = sent_since(mark);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), s[0]), 1);
}

TEST_F(SackRecovery, EveryHoleIsResentOnceInOneRoundTrip)
{
    write_segments(40);
    std::vector<uint32_t> s = open_window(8);
    ASSERT_GE(s.size(), 8u);
    size_t mark = peer_.count();

    // s[0] and s[2] lost, s[4] too; four segments SACKed above s[2], three above s[4].
    ack(una_, {{s[1], s[1] + kMss}, {s[3], s[3] + kMss}, {s[5], s[7] + kMss}});
    peer_.settle();
    std::vector<uint32_t> sent = sent_since(mark);
    for (size_t lost : {0, 2, 4})
        EXPECT_EQ(std::count(sent.begin(), sent.end(), s[lost]), 1) << "segment " << lost;
    for (size_t kept : {1, 3, 5, 6, 7})
        EXPECT_EQ(std::count(sent.begin(), sent.end(), s[kept]), 0) << "segment " << kept;
}

TEST_F(SackRecovery, AResentSegmentIsResentAgainWhenDataSentAfterItIsSacked)
{
    write_segments(40);
    std::vector<uint32_t> s = open_window(7);
    ASSERT_GE(s.size(), 7u);
    size_t mark = peer_.count();

    // Everything above s[0] SACKed: s[0] is resent, and the pipe has room for new data.
    ack(una_, {{s[1], s.back() + kMss}});
    peer_.settle();
    std::vector<uint32_t> sent = sent_since(mark);
    ASSERT_EQ(std::count(sent.begin(), sent.end(), s[0]), 1);
    std::vector<uint32_t> fresh;
    for (uint32_t seq : sent)
        if (static_cast<int32_t>(seq - (s.back() + kMss)) >= 0)
            fresh.push_back(seq);
    ASSERT_FALSE(fresh.empty()) << "no new data after the resend";

    // The new data arrives, the resent s[0] does not: resend it again.
    struct ucs_stack_stats before = now();
    size_t mark2 = peer_.count();
    ack(una_, {{s[1], fresh.front() + kMss}});
    ASSERT_TRUE(peer_.wait_segments(mark2 + 1, 1000));
    peer_.settle();
    sent = sent_since(mark2);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), s[0]), 1);
    EXPECT_EQ(now().tcp_sack_rexmits - before.tcp_sack_rexmits, 1u);

    // All of it arrives now: nothing is resent any more.
    size_t mark3 = peer_.count();
    una_ = fresh.front() + kMss;
    ack(una_);
    peer_.settle();
    sent = sent_since(mark3);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), s[0]), 0);
}

TEST_F(SackRecovery, BlocksOutsideTheUnacknowledgedDataAndMalformedOptionsAreIgnoredAndCounted)
{
    write_segments(40);
    std::vector<uint32_t> s = open_window(6);
    ASSERT_GE(s.size(), 6u);
    uint32_t snd_nxt = s.back() + kMss;
    struct ucs_stack_stats before = now();
    size_t mark = peer_.count();

    // Each bad ACK is a single duplicate, followed by an ACK of one more
    // segment, so that no three duplicates ever make a fast retransmit.
    const std::vector<std::vector<uint8_t>> bad = {
        sack_option({{snd_nxt + 100 * kMss, snd_nxt + 103 * kMss}}), // beyond anything sent
        sack_option({{una_ - 3 * kMss, una_}}),                       // below the cumulative ACK (a D-SACK)
        sack_option({{s[5], s[4]}}),                                  // right edge before left
        {1, 1, 5, 9, 0, 0, 0, 0, 0, 0, 0, 0},                         // length not 2 + 8n
        {5, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},                        // longer than the options
    };
    for (const auto &options : bad) {
        ack(una_, {}, options);
        una_ += kMss;
        ack(una_);
    }
    peer_.settle();

    struct ucs_stack_stats after = now();
    EXPECT_EQ(after.tcp_sack_ignored - before.tcp_sack_ignored, 5u);
    EXPECT_EQ(after.tcp_sack_blocks, before.tcp_sack_blocks);
    EXPECT_EQ(after.tcp_fast_recoveries, before.tcp_fast_recoveries);
    for (uint32_t seq : sent_since(mark))
        EXPECT_GE(static_cast<int32_t>(seq - snd_nxt), 0) << "resent " << seq - s[0];
}

// The last segments of a burst are lost and no ACK comes at all: one slow-timer
// tick later the stack resends the highest segment, whose SACKed answer would
// show the others lost, before the timeout would resend them all.
TEST_F(SackRecovery, ASilentPeerGetsATailLossProbeBeforeTheTimeout)
{
    // More than the initial window of 10 segments: a second burst follows.
    write_segments(14);
    peer_.settle();
    std::vector<uint32_t> s = unacked();
    ASSERT_FALSE(s.empty());
    una_ = s.back() + kMss; // the first burst arrives
    ack(una_);
    peer_.settle();
    s = unacked(); // the rest goes out, and is lost
    ASSERT_FALSE(s.empty());
    ASSERT_EQ(s.back() + kMss, una_ + s.size() * kMss) << "a gap in what was sent";
    struct ucs_stack_stats before = now();
    size_t mark = peer_.count();

    ASSERT_TRUE(peer_.wait_segments(mark + 1, 2000)) << "nothing resent";
    struct ucs_stack_stats after = now();
    EXPECT_EQ(be32(&peer_.segment(mark)[4]), s.back()) << "not the highest segment first";
    EXPECT_EQ(after.tcp_tail_loss_probes - before.tcp_tail_loss_probes, 1u);
    EXPECT_EQ(after.tcp_rto, before.tcp_rto);
}

} // namespace
