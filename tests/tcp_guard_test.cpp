// Segments no honest peer sends, crafted by hand on the kernel's side of the
// tap (a raw socket) against connections the stack holds with the kernel:
// RFC 5961's blind in-window attacks, and input that trips lwIP's assertions.
// What the stack sends back is read off the tap with a packet socket.
#include "kernel_peer.hpp"

#include <linux/if_packet.h>
#include <map>
#include <net/ethernet.h>
#include <net/if.h>

using namespace kpeer;

namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

struct Seg {
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t wnd = 65535;
    std::vector<uint8_t> opts, data;
    uint8_t ttl = 0;  // of the segments the stack sent
    uint16_t id = 0;  // their IPv4 identification
    uint32_t dst = 0; // and destination (network order)
    uint16_t frag = 0, iplen = 0; // flags and offset, total length
};

void put16(uint8_t *p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

uint32_t get16(const uint8_t *p) { return static_cast<uint32_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t *p) { return get16(p) << 16 | get16(p + 2); }

// A TCP segment from one IPv4 address to another, checksummed.
std::vector<uint8_t> encode(const Seg &s, const char *from, const char *to)
{
    size_t optlen = (s.opts.size() + 3) & ~size_t(3);
    std::vector<uint8_t> b(20 + optlen + s.data.size(), 0);
    put16(&b[0], s.sport);
    put16(&b[2], s.dport);
    put32(&b[4], s.seq);
    put32(&b[8], s.ack);
    b[12] = static_cast<uint8_t>((20 + optlen) / 4 << 4);
    b[13] = s.flags;
    put16(&b[14], s.wnd);
    std::copy(s.opts.begin(), s.opts.end(), b.begin() + 20);
    std::copy(s.data.begin(), s.data.end(), b.begin() + 20 + static_cast<long>(optlen));
    in_addr src{}, dst{};
    inet_pton(AF_INET, from, &src);
    inet_pton(AF_INET, to, &dst);
    put16(&b[16], tcp_checksum(reinterpret_cast<const uint8_t *>(&src), reinterpret_cast<const uint8_t *>(&dst),
                               b.data(), b.size()));
    return b;
}

// The kernel's side of a link: crafted segments out from `from` to
// `target`, target's segments in, read off interface `ifname` (by default the
// tap, and the stack behind it).
class Wire {
  public:
    Wire(const char *ifname = "ucstap0", const char *from = kKernelV4, const char *target = kStackV4)
        : from_(from), target_(target)
    {
        raw_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
        tap_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
        bound_ = ll.sll_ifindex > 0 && bind(tap_, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)) == 0;
    }
    ~Wire()
    {
        close(raw_);
        close(tap_);
    }
    Wire(const Wire &) = delete;
    Wire &operator=(const Wire &) = delete;

    bool ok() const { return raw_ >= 0 && tap_ >= 0 && bound_; }

    void send(const Seg &s)
    {
        auto b = encode(s, from_, target_);
        Addr to = make_addr(AF_INET, target_, 0);
        EXPECT_EQ(sendto(raw_, b.data(), b.size(), 0, to.sa(), to.len), static_cast<ssize_t>(b.size()))
            << strerror(errno);
    }

    // Runs the stack until it sends a segment that pred accepts; every
    // segment it sent on the way is kept in seen.
    bool wait(const std::function<bool(const Seg &)> &pred, Seg *out = nullptr)
    {
        return pump_until(
            [&] {
                Seg s;
                while (next(&s)) {
                    seen.push_back(s);
                    if (pred(s)) {
                        if (out)
                            *out = s;
                        return true;
                    }
                }
                return false;
            },
            kKernelTimeoutMs);
    }

    std::vector<Seg> seen;

  private:
    // The next IPv4 TCP segment from the stack's address, if one waits.
    bool next(Seg *s)
    {
        uint8_t f[2048];
        ssize_t n;
        while ((n = recv(tap_, f, sizeof(f), 0)) > 0) {
            const size_t eth = sizeof(ether_header);
            if (static_cast<size_t>(n) < eth + 40 || f[eth + 9] != IPPROTO_TCP)
                continue;
            in_addr src{};
            inet_pton(AF_INET, target_, &src);
            if (memcmp(&f[eth + 12], &src, 4) != 0)
                continue;
            size_t ihl = static_cast<size_t>(f[eth] & 0x0f) * 4, total = get16(&f[eth + 2]);
            const uint8_t *t = &f[eth + ihl];
            size_t doff = static_cast<size_t>(t[12] >> 4) * 4;
            if (eth + total > static_cast<size_t>(n) || ihl + doff > total)
                continue;
            s->sport = static_cast<uint16_t>(get16(t));
            s->dport = static_cast<uint16_t>(get16(t + 2));
            s->seq = get32(t + 4);
            s->ack = get32(t + 8);
            s->flags = t[13] & 0x3f;
            s->wnd = static_cast<uint16_t>(get16(t + 14));
            s->ttl = f[eth + 8];
            s->id = static_cast<uint16_t>(get16(&f[eth + 4]));
            memcpy(&s->dst, &f[eth + 16], 4);
            s->frag = static_cast<uint16_t>(get16(&f[eth + 6]));
            s->iplen = static_cast<uint16_t>(total);
            s->opts.assign(t + 20, t + doff);
            s->data.assign(t + doff, static_cast<const uint8_t *>(f + eth + total));
            return true;
        }
        return false;
    }

    const char *from_, *target_;
    int raw_ = -1, tap_ = -1;
    bool bound_ = false;
};

ucs_stack_stats stats()
{
    ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

// A connection the kernel opened to the stack, and the stack's sequence
// numbers as the wire showed them last.
struct Conn {
    int s = -1, k = -1;
    uint16_t sport = 0, kport = 0;
    uint32_t rcv_nxt = 0, snd_nxt = 0;

    ~Conn()
    {
        if (s >= 0)
            ucs_close(s);
        if (k >= 0)
            close(k);
    }
    // A segment from the kernel's port to the stack's.
    Seg seg(uint8_t flags, uint32_t seq, uint32_t ack = 0) const
    {
        Seg g;
        g.sport = kport;
        g.dport = sport;
        g.flags = flags;
        g.seq = seq;
        g.ack = ack;
        return g;
    }
};

bool stack_reads(const Conn &c, char want)
{
    char got = 0;
    bool read = pump_until([&] { return ucs_recv(c.s, &got, 1, 0) == 1; }, kKernelTimeoutMs);
    EXPECT_TRUE(read) << "the stack never got '" << want << "'";
    EXPECT_EQ(got, want);
    return read && got == want;
}

// One byte each way; the stack's reply tells its sequence numbers. False when
// the connection no longer carries data.
bool exchange(Conn &c, Wire &w, char from_kernel, char from_stack)
{
    if (send(c.k, &from_kernel, 1, MSG_DONTWAIT) != 1 || !stack_reads(c, from_kernel))
        return false;
    if (ucs_send(c.s, &from_stack, 1, 0) != 1)
        return false;
    Seg reply;
    if (!w.wait([&](const Seg &g) { return g.sport == c.sport && g.data.size() == 1; }, &reply))
        return false;
    c.rcv_nxt = reply.ack;
    c.snd_nxt = reply.seq + 1;
    char got = 0;
    bool read = pump_until([&] { return recv(c.k, &got, 1, MSG_DONTWAIT) == 1; }, kKernelTimeoutMs);
    return read && got == from_stack;
}

void open_conn(uint16_t port, Wire &w, Conn *c)
{
    int l = stack_listener(AF_INET, port);
    Peer peer([&] { c->k = kconnect(AF_INET, port); });
    c->s = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(c->s, UCS_FD_BASE) << strerror(errno);
    ASSERT_TRUE(peer.finish());
    ASSERT_GE(c->k, 0);
    EXPECT_EQ(ucs_close(l), 0);
    ASSERT_EQ(ucs_fcntl(c->s, F_SETFL, O_NONBLOCK), 0);
    c->sport = port;
    Addr k = kname(c->k, false);
    c->kport = ntohs(reinterpret_cast<const sockaddr_in *>(&k.ss)->sin_port);
    ASSERT_TRUE(exchange(*c, w, 'a', 'b'));
}

bool pure_ack(const Seg &g) { return g.flags == kAck && g.data.empty(); }

// The timestamps option of a segment: true with TSval and TSecr, if it has one.
bool timestamps(const Seg &g, uint32_t *val, uint32_t *ecr)
{
    for (size_t i = 0; i < g.opts.size() && g.opts[i] != 0;) {
        if (g.opts[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= g.opts.size() || g.opts[i + 1] < 2)
            return false;
        if (g.opts[i] == 8 && g.opts[i + 1] == 10 && i + 10 <= g.opts.size()) {
            *val = get32(&g.opts[i + 2]);
            *ecr = get32(&g.opts[i + 6]);
            return true;
        }
        i += g.opts[i + 1];
    }
    return false;
}

std::vector<uint8_t> ts_option(uint32_t val, uint32_t ecr)
{
    std::vector<uint8_t> o = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    put32(&o[4], val);
    put32(&o[8], ecr);
    return o;
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
    EXPECT_EQ(ecr, recent) << "TS.Recent moved backwards";
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

// --- differential cases: the same segments to the stack and to Linux ---

// The Linux kernel's own TCP in a second network namespace, behind a veth
// pair (198.18.4.1 here, 198.18.4.2 there), to send the same crafted
// segments to as to the stack and compare the answers.
class LinuxReference {
  public:
    LinuxReference() : name_("ucs-kref-" + std::to_string(getpid()))
    {
        ok_ = sh("ip netns add " + name_) == 0 &&
              sh("ip link add ucsref0 type veth peer name ucsref1") == 0 &&
              sh("ip link set ucsref1 netns " + name_) == 0 && sh("ip addr add 198.18.4.1/24 dev ucsref0") == 0 &&
              sh("ip link set ucsref0 up") == 0 &&
              sh("ip netns exec " + name_ + " ip addr add 198.18.4.2/24 dev ucsref1") == 0 &&
              sh("ip netns exec " + name_ + " ip link set ucsref1 up") == 0 &&
              sh("ip netns exec " + name_ + " ip link set lo up") == 0;
    }
    ~LinuxReference()
    {
        for (int fd : fds_)
            close(fd);
        sh("ip netns del " + name_ + " 2>/dev/null");
    }
    LinuxReference(const LinuxReference &) = delete;
    LinuxReference &operator=(const LinuxReference &) = delete;
    bool ok() const { return ok_; }

    // A listener of Linux's on 198.18.4.2:port (made by a thread that enters
    // the namespace; the socket stays there).
    bool listen_on(uint16_t port)
    {
        int fd = -1;
        std::thread t([&] {
            int ns = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
            if (ns < 0 || setns(ns, CLONE_NEWNET) != 0)
                return;
            close(ns);
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            Addr a = make_addr(AF_INET, "198.18.4.2", port);
            if (bind(fd, a.sa(), a.len) != 0 || listen(fd, 16) != 0) {
                close(fd);
                fd = -1;
            }
        });
        t.join();
        if (fd >= 0)
            fds_.push_back(fd);
        return fd >= 0;
    }

  private:
    std::string name_;
    std::vector<int> fds_;
    bool ok_ = false;
};

// What a target answers to a SYN with FIN followed by a plain SYN: whether
// the SYN+FIN got any answer, and the SYN-ACK.
struct SynFinAnswers {
    bool answered_syn_fin = false;
    Seg syn_ack;
};

SynFinAnswers probe_syn_fin(Wire &w, uint16_t port)
{
    SynFinAnswers a;
    Seg synfin;
    synfin.sport = 40020;
    synfin.dport = port;
    synfin.seq = 5000;
    synfin.flags = kSyn | kFin;
    synfin.opts = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
    w.send(synfin);
    Seg syn = synfin;
    syn.sport = 40021;
    syn.flags = kSyn;
    w.send(syn);
    EXPECT_TRUE(w.wait([&](const Seg &g) { return g.dport == syn.sport && g.flags == (kSyn | kAck); }, &a.syn_ack));
    for (const Seg &g : w.seen)
        a.answered_syn_fin |= g.dport == synfin.sport;
    return a;
}

// The options of a SYN-ACK by kind, with their lengths.
std::map<uint8_t, size_t> option_kinds(const Seg &g)
{
    std::map<uint8_t, size_t> kinds;
    for (size_t i = 0; i < g.opts.size() && g.opts[i] != 0;) {
        if (g.opts[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= g.opts.size() || g.opts[i + 1] < 2)
            break;
        kinds[g.opts[i]] = g.opts[i + 1];
        i += g.opts[i + 1];
    }
    return kinds;
}

class Differential : public TcpGuard {
  protected:
    void SetUp() override
    {
        TcpGuard::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        ASSERT_TRUE(ref.ok()) << "could not make the reference namespace";
        ASSERT_TRUE(ref_wire.ok());
    }
    LinuxReference ref;
    Wire ref_wire{"ucsref0", "198.18.4.1", "198.18.4.2"};
};

// A SYN with FIN is dropped by both; the SYN-ACK to a plain SYN agrees in
// TTL, MSS and which options it carries (timestamps, SACK-permitted, window
// scale). The window and the scale factor differ deliberately (ours: a 2 MiB
// window, scale 6; Linux's depend on its memory settings).
TEST_F(Differential, SynWithFinAndTheSynAck)
{
    const uint16_t port = 7140;
    int l = stack_listener(AF_INET, port);
    ASSERT_TRUE(ref.listen_on(port));
    SynFinAnswers ours = probe_syn_fin(wire, port), ref_ans = probe_syn_fin(ref_wire, port);
    EXPECT_FALSE(ref_ans.answered_syn_fin) << "the reference answered a SYN+FIN";
    EXPECT_EQ(ours.answered_syn_fin, ref_ans.answered_syn_fin);
    EXPECT_EQ(ours.syn_ack.ttl, ref_ans.syn_ack.ttl);
    EXPECT_EQ(ours.syn_ack.ack, 5001u);
    EXPECT_EQ(ref_ans.syn_ack.ack, 5001u);
    auto ok = option_kinds(ours.syn_ack), lk = option_kinds(ref_ans.syn_ack);
    for (uint8_t kind : {2, 3, 4, 8})
        EXPECT_EQ(ok.count(kind), lk.count(kind)) << "option kind " << int(kind);
    EXPECT_EQ(ucs_close(l), 0);
}

// A segment for no connection is answered with a reset at SEG.ACK, window 0,
// TTL 64 by both. Deliberate difference: lwIP sets ACK on every reset
// (RST|ACK, ack = SEG.SEQ + SEG.LEN) where RFC 9293 and Linux send a bare RST
// when the segment had ACK; receivers check the reset's sequence number,
// which agrees.
TEST_F(Differential, ResetForNoConnection)
{
    auto probe = [](Wire &w) {
        Seg stray;
        stray.sport = 40022;
        stray.dport = 7141; // nobody listens, on either
        stray.seq = 7000;
        stray.ack = 12345;
        stray.flags = kAck;
        w.send(stray);
        Seg rst;
        EXPECT_TRUE(w.wait([&](const Seg &g) { return g.dport == stray.sport && (g.flags & kRst); }, &rst));
        return rst;
    };
    Seg ours = probe(wire), ref_ans = probe(ref_wire);
    EXPECT_EQ(ours.seq, ref_ans.seq);
    EXPECT_EQ(ours.seq, 12345u);
    EXPECT_EQ(ours.wnd, ref_ans.wnd);
    EXPECT_EQ(ours.ttl, ref_ans.ttl);
    EXPECT_EQ(ref_ans.flags, kRst);
    EXPECT_EQ(ours.flags, kRst | kAck);
}

// An ACK-only segment 10 MB beyond the window of an established connection:
// both answer with an ACK at RCV.NXT and SND.NXT and take nothing of it (ours
// is checked to keep its window in AckOnlySegmentOutsideTheWindow...).
TEST_F(Differential, AckOnlySegmentOutsideTheWindow)
{
    const uint16_t port = 7142;
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(port, wire, &c));
    ASSERT_TRUE(ref.listen_on(port));
    // The kernel here connects to Linux there; the handshake tells the numbers.
    int k = ksocket(AF_INET, SOCK_STREAM);
    Addr to = make_addr(AF_INET, "198.18.4.2", port);
    ASSERT_EQ(connect(k, to.sa(), to.len), 0) << strerror(errno);
    Addr me = kname(k, false);
    uint16_t kport = ntohs(reinterpret_cast<const sockaddr_in *>(&me.ss)->sin_port);
    Seg syn_ack;
    ASSERT_TRUE(ref_wire.wait([&](const Seg &g) { return g.dport == kport && g.flags == (kSyn | kAck); }, &syn_ack));
    Conn r; // Linux's side, as the stack's is in c
    r.sport = port;
    r.kport = kport;
    r.rcv_nxt = syn_ack.ack;
    r.snd_nxt = syn_ack.seq + 1;
    auto probe = [](Wire &w, const Conn &x) {
        w.seen.clear();
        w.send(x.seg(kAck, x.rcv_nxt + 10000000, x.snd_nxt));
        Seg ack;
        EXPECT_TRUE(w.wait([&](const Seg &g) { return g.sport == x.sport && g.dport == x.kport && pure_ack(g); }, &ack));
        return ack;
    };
    Seg ours = probe(wire, c), ref_ans = probe(ref_wire, r);
    EXPECT_EQ(ours.ack - c.rcv_nxt, 0u);
    EXPECT_EQ(ref_ans.ack - r.rcv_nxt, 0u);
    EXPECT_EQ(ours.seq - c.snd_nxt, ref_ans.seq - r.snd_nxt);
    EXPECT_EQ(ours.ttl, ref_ans.ttl);
    close(k);
}

// RFC 8201 and 5927: an ICMPv6 "packet too big" (MTU 1280) quoting a segment
// of the connection in flight lowers its segment size at once, so nothing
// after it leaves as IPv6 fragments (lwIP fragmented every later segment for
// the connection's life); one quoting a sequence number not in flight, or an
// MTU below 1280, is dropped and counted.
TEST_F(TcpGuard, PacketTooBigLowersTheSegmentSizeNotFragments)
{
    const uint16_t port = 7143;
    int l = stack_listener(AF_INET6, port);
    int k = -1;
    Peer peer([&] { k = kconnect(AF_INET6, port); });
    int s = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
    ASSERT_TRUE(peer.finish());
    int cap = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IPV6));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IPV6);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("ucstap0"));
    ASSERT_EQ(bind(cap, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)), 0);
    in6_addr me{};
    inet_pton(AF_INET6, kStackV6, &me);
    const size_t eth = sizeof(ether_header);
    // The stack's IPv6 packets (from the IPv6 header on).
    auto drain = [&](std::vector<std::vector<uint8_t>> *out) {
        uint8_t f[2048];
        ssize_t n;
        while ((n = recv(cap, f, sizeof(f), 0)) > 0)
            if (static_cast<size_t>(n) >= eth + 40 && !memcmp(&f[eth + 8], &me, 16))
                out->emplace_back(f + eth, f + n);
    };
    auto kernel_reads = [&](size_t n) {
        std::vector<char> b(n);
        Signal got;
        bool ok = false;
        Peer reader([&] {
            ok = krecv_exact(k, b.data(), n);
            got.set();
        });
        EXPECT_TRUE(got.pump());
        return ok;
    };
    std::vector<char> first(1000, 'a');
    ASSERT_EQ(ucs_send(s, first.data(), first.size(), 0), 1000);
    ASSERT_TRUE(kernel_reads(1000));
    std::vector<std::vector<uint8_t>> pkts;
    ASSERT_TRUE(pump_until(
        [&] {
            drain(&pkts);
            for (auto &q : pkts)
                if (q[6] == IPPROTO_TCP && q.size() > 60 + 20)
                    return true;
            return false;
        },
        kKernelTimeoutMs));
    std::vector<uint8_t> seg;
    for (auto &q : pkts)
        if (q[6] == IPPROTO_TCP && q.size() > 80)
            seg = q;
    uint32_t seq = get32(&seg[40 + 4]), len = static_cast<uint32_t>(seg.size() - 40 - (seg[40 + 12] >> 4) * 4);
    int raw = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
    ASSERT_GE(raw, 0) << strerror(errno);
    Addr stack = make_addr(AF_INET6, kStackV6, 0);
    // The kernel sums ICMPv6 on raw sockets.
    auto ptb = [&](uint32_t mtu, uint32_t quoted_seq) {
        std::vector<uint8_t> m(8, 0);
        m[0] = 2;
        put32(&m[4], mtu);
        m.insert(m.end(), seg.begin(), seg.begin() + 40 + 20);
        put32(&m[8 + 40 + 4], quoted_seq);
        EXPECT_EQ(sendto(raw, m.data(), m.size(), 0, stack.sa(), stack.len), static_cast<ssize_t>(m.size()))
            << strerror(errno);
    };
    auto before = stats();
    ptb(1280, seq + 1000000); // not in flight
    ptb(600, seq + len);      // below IPv6's minimum
    ASSERT_TRUE(pump_until([&] { return stats().icmp_ptb_refused - before.icmp_ptb_refused == 2; }, kKernelTimeoutMs));
    ptb(1280, seq + len); // at SND.NXT: in flight as Linux counts it
    ASSERT_TRUE(pump_until([&] { return stats().tcp_pmtu_lowered - before.tcp_pmtu_lowered == 1; }, kKernelTimeoutMs));
    pkts.clear();
    std::vector<char> more(20000, 'b');
    size_t sent = 0;
    ASSERT_TRUE(pump_until(
        [&] {
            ssize_t n = ucs_send(s, more.data() + sent, more.size() - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += static_cast<size_t>(n);
            return sent == more.size();
        },
        kKernelTimeoutMs));
    ASSERT_TRUE(kernel_reads(more.size()));
    drain(&pkts);
    size_t tcp = 0;
    for (auto &q : pkts) {
        EXPECT_NE(q[6], 44) << "an IPv6 fragment";
        EXPECT_LE(q.size(), 1280u);
        tcp += q[6] == IPPROTO_TCP;
    }
    EXPECT_GT(tcp, 15u);
    close(raw);
    close(cap);
    close(k);
    ucs_close(s);
    ucs_close(l);
}

// RFC 1191 with RFC 5927's check: TCP leaves with DF, and "fragmentation
// needed" (next-hop MTU 1000) quoting a segment in flight lowers the
// connection's segment size at once; one with an MTU below Linux's 552 is
// refused. lwIP sent no DF and ignored the answer.
TEST_F(TcpGuard, FragmentationNeededLowersTheSegmentSize)
{
    Conn c;
    ASSERT_NO_FATAL_FAILURE(open_conn(7144, wire, &c));
    for (const Seg &g : wire.seen)
        EXPECT_EQ(g.frag, 0x4000) << "a TCP segment without DF";
    int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    ASSERT_GE(raw, 0) << strerror(errno);
    auto frag_needed = [&](uint16_t mtu) {
        std::vector<uint8_t> m(8 + 20 + 8, 0);
        m[0] = 3;
        m[1] = 4;
        put16(&m[6], mtu);
        uint8_t *ip = &m[8];
        ip[0] = 0x45;
        put16(&ip[2], 1500);
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        inet_pton(AF_INET, kStackV4, &ip[12]);
        inet_pton(AF_INET, kKernelV4, &ip[16]);
        put16(&ip[20], c.sport);
        put16(&ip[22], c.kport);
        put32(&ip[24], c.snd_nxt);
        uint32_t sum = 0;
        for (size_t i = 0; i < m.size(); i += 2)
            sum += get16(&m[i]);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        put16(&m[2], ~sum & 0xffff);
        Addr to = make_addr(AF_INET, kStackV4, 0);
        EXPECT_EQ(sendto(raw, m.data(), m.size(), 0, to.sa(), to.len), static_cast<ssize_t>(m.size()));
    };
    auto before = stats();
    frag_needed(300);
    ASSERT_TRUE(pump_until([&] { return stats().icmp_ptb_refused - before.icmp_ptb_refused == 1; }, kKernelTimeoutMs));
    frag_needed(1000);
    ASSERT_TRUE(pump_until([&] { return stats().tcp_pmtu_lowered - before.tcp_pmtu_lowered == 1; }, kKernelTimeoutMs));
    wire.seen.clear();
    std::vector<char> more(20000, 'f');
    size_t sent = 0;
    std::vector<char> got(more.size());
    bool read = false;
    Peer reader([&] { read = krecv_exact(c.k, got.data(), got.size()); });
    ASSERT_TRUE(pump_until(
        [&] {
            ssize_t n = ucs_send(c.s, more.data() + sent, more.size() - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += static_cast<size_t>(n);
            return sent == more.size();
        },
        kKernelTimeoutMs));
    ASSERT_TRUE(reader.finish());
    EXPECT_TRUE(read);
    size_t segments = 0;
    ASSERT_TRUE(wire.wait([&](const Seg &g) {
        if (g.sport == c.sport && !g.data.empty()) {
            EXPECT_LE(g.iplen, 1000u);
            segments++;
        }
        return segments >= 20;
    }));
    close(raw);
}

} // namespace

