// Segments no honest peer sends, crafted by hand on the kernel's side of the
// tap (tcp_wire.hpp) against connections the stack holds with the kernel:
// RFC 5961's blind in-window attacks, and input that trips lwIP's assertions.
// The same segments to Linux's TCP: differential_test.cpp.
#include "tcp_wire.hpp"

using namespace kpeer;

namespace {

StackTarget &stack_target()
{
    static StackTarget t;
    return t;
}

// A connection the kernel opened to the stack over IPv4.
void open_conn(uint16_t port, Wire &w, Conn *c)
{
    open_conn(stack_target(), AF_INET, port, w, c);
}

class TcpGuard : public KernelPeer {
  protected:
    void SetUp() override
    {
        KernelPeer::SetUp();
        ASSERT_TRUE(wire.ok()) << "raw or packet socket: " << strerror(errno);
    }
    Wire wire;
};

// RFC 5961 3.2: a reset inside the window but not at rcv_nxt is answered with
// a challenge ACK and changes nothing; only a reset at rcv_nxt resets.
TEST_F(TcpGuard, InWindowResetIsChallengedAndOnlyAnExactOneResets)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7120, wire, &c));
    auto before = stats();
    wire.send(c.seg(kRst, c.rcv_nxt + 1000));
    Seg ack;
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && pure_ack(g); }, &ack));
    EXPECT_EQ(ack.ack, c.rcv_nxt);
    EXPECT_EQ(ack.seq, c.snd_nxt);
    auto after = stats();
    EXPECT_EQ(after.tcp_rst_in_window - before.tcp_rst_in_window, 1u);
    EXPECT_EQ(after.tcp_challenge_acks - before.tcp_challenge_acks, 1u);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd')) << "the connection did not survive the reset";

    wire.send(c.seg(kRst, c.rcv_nxt));
    char b;
    ASSERT_TRUE(pump_until([&] { return ucs_recv(c.s, &b, 1, 0) == -1 && errno != EAGAIN; }, kKernelTimeoutMs));
    EXPECT_EQ(errno, ECONNRESET);
}

// A reset outside the window is dropped without an answer.
TEST_F(TcpGuard, ResetOutsideTheWindowIsDroppedSilently)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7121, wire, &c));
    auto before = stats();
    wire.send(c.seg(kRst, c.rcv_nxt - 5000));
    ASSERT_TRUE(pump_until([&] { return stats().tcp_rst_out_of_window > before.tcp_rst_out_of_window; },
                           kKernelTimeoutMs));
    EXPECT_EQ(stats().tcp_challenge_acks, before.tcp_challenge_acks);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd'));
    for (const Seg &g : wire.seen)
        EXPECT_FALSE(g.sport == c.sport && pure_ack(g)) << "an answer to an out-of-window reset";
}

// RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK.
TEST_F(TcpGuard, SynOnAnEstablishedConnectionIsChallenged)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7122, wire, &c));
    auto before = stats();
    Seg syn = c.seg(kSyn, c.rcv_nxt - 1000);
    syn.opts = {2, 4, 0x05, 0xb4};
    wire.send(syn);
    Seg ack;
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && pure_ack(g); }, &ack));
    EXPECT_EQ(ack.ack, c.rcv_nxt);
    EXPECT_EQ(stats().tcp_syn_synchronized - before.tcp_syn_synchronized, 1u);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd'));
}

// RFC 5961 5.2: data whose ACK acknowledges what was never sent is dropped
// (challenged); the same bytes from the real peer then arrive.
TEST_F(TcpGuard, DataAcknowledgingWhatWasNeverSentIsDropped)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7123, wire, &c));
    auto before = stats();
    Seg forged = c.seg(kAck | kPsh, c.rcv_nxt, c.snd_nxt + 100000);
    forged.data = {'X'};
    wire.send(forged);
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && pure_ack(g); }));
    EXPECT_EQ(stats().tcp_ack_unacceptable - before.tcp_ack_unacceptable, 1u);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd')) << "the forged byte took the real one's place";
}

// RFC 5961 7: at most one challenge ACK per connection every 500 ms, and one
// connection's limit does not hold back another's.
TEST_F(TcpGuard, ChallengeAcksAreLimitedPerConnection)
{
    Conn c, other;
    ASSERT_NO_FATAL_FAILURE(open_conn(7124, wire, &c));
    ASSERT_NO_FATAL_FAILURE(open_conn(7125, wire, &other));
    const unsigned burst = 20;
    auto before = stats();
    uint64_t start = now_ms();
    for (unsigned i = 0; i < burst; i++)
        wire.send(c.seg(kRst, c.rcv_nxt + 1 + i));
    ASSERT_TRUE(pump_until([&] { return stats().tcp_rst_in_window - before.tcp_rst_in_window == burst; },
                           kKernelTimeoutMs));
    uint64_t elapsed = now_ms() - start;
    auto after = stats();
    uint64_t sent = after.tcp_challenge_acks - before.tcp_challenge_acks;
    EXPECT_GE(sent, 1u);
    EXPECT_LE(sent, 1 + elapsed / 500) << "in " << elapsed << " ms";
    EXPECT_EQ(sent + after.tcp_challenge_limited - before.tcp_challenge_limited, burst);

    wire.send(other.seg(kRst, other.rcv_nxt + 1));
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == other.sport && pure_ack(g); }));
    EXPECT_EQ(stats().tcp_challenge_acks - after.tcp_challenge_acks, 1u);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd'));
    ASSERT_TRUE(exchange(other, wire, 'c', 'd'));
}

// lwIP takes a segment exactly 2^31 from rcv_nxt for one overlapping it and
// asserts ("insane offset!"): any peer could abort the process. Dropped.
TEST_F(TcpGuard, SegmentTwoToTheThirtyFirstAwayIsDroppedNotFatal)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7126, wire, &c));
    auto before = stats();
    wire.send(c.seg(kFin | kAck, c.rcv_nxt + 0x80000000u, c.snd_nxt));
    Seg data = c.seg(kAck | kPsh, c.rcv_nxt + 0x80000000u, c.snd_nxt);
    data.data = {'X'};
    wire.send(data);
    ASSERT_TRUE(pump_until([&] { return stats().tcp_far_seq - before.tcp_far_seq == 2; }, kKernelTimeoutMs));
    ASSERT_TRUE(exchange(c, wire, 'c', 'd'));
}

// lwIP asserts ("mss_local is too small") when a peer's MSS, or half its
// window, cannot hold the options of a segment: such SYNs are refused, alone
// or behind a good MSS option; a SYN with sane values is answered.
TEST_F(TcpGuard, SynWithAnMssOrWindowLwipCannotHandleIsRefused)
{
    const uint16_t port = 7127;
    int l = stack_listener(AF_INET, port);
    auto before = stats();
    Seg mss1;
    mss1.sport = 40001;
    mss1.dport = port;
    mss1.seq = 1000;
    mss1.flags = kSyn;
    mss1.opts = {2, 4, 0, 1};
    Seg second_mss = mss1;
    second_mss.sport = 40002;
    second_mss.opts = {2, 4, 0x05, 0xb4, 2, 4, 0, 1};
    Seg tiny_window = mss1;
    tiny_window.sport = 40003;
    tiny_window.opts = {2, 4, 0x05, 0xb4};
    tiny_window.wnd = 7;
    for (const Seg *s : {&mss1, &second_mss, &tiny_window})
        wire.send(*s);
    ASSERT_TRUE(pump_until([&] { return stats().tcp_tiny_mss - before.tcp_tiny_mss == 3; }, kKernelTimeoutMs));

    Seg sane = tiny_window;
    sane.sport = 40004;
    sane.wnd = 65535;
    wire.send(sane);
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.dport == sane.sport && g.flags == (kSyn | kAck); }));
    for (const Seg &g : wire.seen)
        EXPECT_TRUE(g.dport != 40001 && g.dport != 40002 && g.dport != 40003) << "answered port " << g.dport;
    EXPECT_EQ(ucs_close(l), 0);
}

// RFC 9293 3.10.7.4: an ACK-only segment whose sequence number is outside
// the receive window (50,000 behind, 10 MB ahead) is answered with an ACK and
// dropped; lwIP took it (and its ACK field). Linux does the same as now.
TEST_F(TcpGuard, AckOnlySegmentOutsideTheWindowIsAnsweredAndDropped)
{
    // A connection each: their answers are limited per connection (RFC 5961 7).
    for (int32_t off : {-50000, 10000000}) {
        Conn c;
        ASSERT_NO_FATAL_FAILURE(open_conn(static_cast<uint16_t>(off < 0 ? 7128 : 7133), wire, &c));
        uint32_t seq = c.rcv_nxt + static_cast<uint32_t>(off);
        auto before = stats();
        wire.seen.clear();
        // Its window of 0 would stop the stack sending (lwIP took the window:
        // the sequence number is past snd_wl1).
        Seg forged = c.seg(kAck, seq, c.snd_nxt);
        forged.wnd = 0;
        wire.send(forged);
        Seg ack;
        ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && pure_ack(g); }, &ack));
        EXPECT_EQ(ack.ack, c.rcv_nxt);
        EXPECT_EQ(ack.seq, c.snd_nxt);
        EXPECT_EQ(stats().tcp_seq_unacceptable - before.tcp_seq_unacceptable, 1u);
        std::vector<char> more(1000, 'm');
        ASSERT_EQ(ucs_send(c.s, more.data(), more.size(), 0), 1000);
        Seg data;
        ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && !g.data.empty(); }, &data));
        EXPECT_EQ(data.data.size(), more.size()) << "the forged window was taken: a window probe";
    }
}

// PAWS (RFC 7323 5): data at rcv_nxt whose TSval is 100 s older than
// TS.Recent is an old duplicate: answered with an ACK, not delivered, and
// TS.Recent (what the stack echoes) does not move back. lwIP took it.
TEST_F(TcpGuard, SegmentWithAnOldTimestampFailsPaws)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7129, wire, &c));
    Seg last = wire.seen.back();
    uint32_t val = 0, recent = 0;
    ASSERT_TRUE(timestamps(last, &val, &recent)) << "no timestamps negotiated with the kernel";
    auto before = stats();
    Seg old = c.seg(kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    old.opts = ts_option(recent - 100000, val);
    old.data = {'X'};
    wire.seen.clear();
    wire.send(old);
    Seg ack;
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && pure_ack(g); }, &ack));
    EXPECT_EQ(ack.ack, c.rcv_nxt) << "the old segment's byte was taken";
    uint32_t ecr = 0;
    ASSERT_TRUE(timestamps(ack, &val, &ecr));
    // The kernel's own segments may still move TS.Recent on (its clock
    // ticks); the old one must not have moved it back.
    EXPECT_GE(static_cast<int32_t>(ecr - recent), 0) << "TS.Recent moved backwards: " << ecr << " after " << recent;
    EXPECT_EQ(stats().tcp_paws_rejected - before.tcp_paws_rejected, 1u);
    ASSERT_TRUE(exchange(c, wire, 'c', 'd')) << "the old byte took the real one's place";
}

// RFC 7323 3.2: once negotiated, timestamps are on every segment the stack
// sends, keepalive probes included (lwIP sent them bare, and zero-window
// probes too: the same code, patch 0010).
TEST_F(TcpGuard, KeepaliveProbesCarryTimestamps)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7130, wire, &c));
    int on = 1, idle = 1;
    ASSERT_EQ(ucs_setsockopt(c.s, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
    ASSERT_EQ(ucs_setsockopt(c.s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
    Seg probe;
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.sport == c.sport && g.seq == c.snd_nxt - 1; }, &probe));
    uint32_t val = 0, ecr = 0;
    EXPECT_TRUE(timestamps(probe, &val, &ecr)) << "a keepalive without timestamps";
    for (const Seg &g : wire.seen) {
        if (g.sport == c.sport) {
            EXPECT_TRUE(timestamps(g, &val, &ecr)) << "a segment without timestamps, seq " << g.seq;
        }
    }
}

// Linux drops a SYN with FIN (only scanners send it); lwIP opened a
// connection. Dropped, counted, never answered.
TEST_F(TcpGuard, SynWithFinIsDropped)
{
    const uint16_t port = 7131;
    int l = stack_listener(AF_INET, port);
    auto before = stats();
    Seg synfin;
    synfin.sport = 40010;
    synfin.dport = port;
    synfin.seq = 5000;
    synfin.flags = kSyn | kFin;
    synfin.opts = {2, 4, 0x05, 0xb4};
    wire.send(synfin);
    ASSERT_TRUE(pump_until([&] { return stats().tcp_syn_fin - before.tcp_syn_fin == 1; }, kKernelTimeoutMs));
    Seg syn = synfin;
    syn.sport = 40011;
    syn.flags = kSyn;
    wire.send(syn);
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.dport == syn.sport && g.flags == (kSyn | kAck); }));
    for (const Seg &g : wire.seen)
        EXPECT_NE(g.dport, synfin.sport) << "answered the SYN+FIN";
    EXPECT_EQ(ucs_close(l), 0);
}

// Linux's fingerprint: TTL 64 (lwIP 255), and a reset answering a segment for
// no connection has window 0 (lwIP swapped its window's bytes: 128).
TEST_F(TcpGuard, ResetAndTtlLookLikeLinux)
{
    Seg stray;
    stray.sport = 40012;
    stray.dport = 7132; // nobody listens
    stray.seq = 7000;
    stray.ack = 12345;
    stray.flags = kAck;
    wire.send(stray);
    Seg rst;
    ASSERT_TRUE(wire.wait([&](const Seg &g) { return g.dport == stray.sport && (g.flags & kRst); }, &rst));
    EXPECT_EQ(rst.wnd, 0);
    EXPECT_EQ(rst.seq, stray.ack);
    EXPECT_EQ(rst.ttl, 64);
}

// RFC 6864 and 7739: the IPv4 ID is not one counter for all destinations
// (any peer could count what the stack sends to the others: an idle-scan
// zombie). Segments to the kernel's address and to a second one it holds,
// alternating: lwIP's IDs ran 1 apart across both.
TEST_F(TcpGuard, IpIdsAreNotOneCounterAcrossDestinations)
{
    ASSERT_EQ(sh("ip addr add 198.18.2.3/24 dev ucstap0"), 0);
    Addr other = make_addr(AF_INET, "198.18.2.3", 0);
    uint32_t other_ip = reinterpret_cast<const sockaddr_in *>(&other.ss)->sin_addr.s_addr;
    int fds[2] = {-1, -1};
    for (int i = 0; i < 2; i++) {
        fds[i] = ucs_socket(AF_INET, SOCK_DGRAM, 0);
        ASSERT_GE(fds[i], UCS_FD_BASE);
    }
    Addr to[2] = {make_addr(AF_INET, kKernelV4, 9), make_addr(AF_INET, "198.18.2.3", 9)};
    // UDP to the discard port: the kernel answers port unreachable, never
    // anything the stack must reply to, so nothing else is sent meanwhile.
    int close_gaps = 0, rounds = 8;
    uint16_t last[2] = {0, 0};
    bool have[2] = {false, false};
    int udp = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("ucstap0"));
    ASSERT_EQ(bind(udp, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)), 0);
    in_addr stack{};
    inet_pton(AF_INET, kStackV4, &stack);
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 2; i++) {
            ASSERT_EQ(ucs_sendto(fds[i], "x", 1, 0, to[i].sa(), to[i].len), 1) << strerror(errno);
            auto sent = std::chrono::steady_clock::now();
            uint16_t id = 0;
            ASSERT_TRUE(pump_until(
                [&] {
                    // A datagram lost on the way out (the tap's queue, a
                    // neighbour still being resolved) is sent again: the
                    // ID is read from what leaves, whichever copy it is.
                    if (std::chrono::steady_clock::now() - sent > std::chrono::milliseconds(250)) {
                        ucs_sendto(fds[i], "x", 1, 0, to[i].sa(), to[i].len);
                        sent = std::chrono::steady_clock::now();
                    }
                    uint8_t f[2048];
                    ssize_t n;
                    const size_t eth = sizeof(ether_header);
                    while ((n = recv(udp, f, sizeof(f), 0)) > 0) {
                        if (static_cast<size_t>(n) < eth + 28 || f[eth + 9] != IPPROTO_UDP ||
                            memcmp(&f[eth + 12], &stack, 4))
                            continue;
                        uint32_t dst;
                        memcpy(&dst, &f[eth + 16], 4);
                        if ((dst == other_ip) == (i == 1)) {
                            id = static_cast<uint16_t>(get16(&f[eth + 4]));
                            return true;
                        }
                    }
                    return false;
                },
                kKernelTimeoutMs));
            // The previous datagram went to the other destination.
            int j = 1 - i;
            if (have[j] && static_cast<uint16_t>(id - last[j]) <= 2)
                close_gaps++;
            last[i] = id;
            have[i] = true;
        }
    }
    // One counter: every datagram's ID 1 above the previous one's. Per
    // destination with a hashed offset: by chance, 1 in 20,000 each.
    EXPECT_LT(close_gaps, 2) << "IDs run on across destinations";
    close(udp);
    for (int fd : fds)
        ucs_close(fd);
    EXPECT_EQ(sh("ip addr del 198.18.2.3/24 dev ucstap0"), 0);
}

} // namespace

