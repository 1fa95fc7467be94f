// The same crafted segments to the stack (through the tap) and to the Linux
// kernel's own TCP in a second network namespace (through a veth pair), and
// the answers compared field by field where they should agree. Where the
// stack deliberately differs, the case asserts the difference and says why
// (docs/design.md lists them all). Peers are the kernel's own sockets, with
// segments slipped into their connections, or played entirely by hand from
// an address nobody holds (Hand).
#include "tcp_wire.hpp"

#include <array>
#include <sys/socket.h>

using namespace kpeer;

namespace
{

// Linux's TCP in a namespace of its own behind ucsref0 (198.18.4.1,
// fd75:6375::1 here; .2 and ::2 there).
class LinuxTarget : public Target
{
  public:
    LinuxTarget() : ns_("ucs-kref-" + std::to_string(getpid()))
    {
        ip[0] = "198.18.4.2";
        ip[1] = "fd75:6375::2";
        kernel_ip[0] = "198.18.4.1";
        kernel_ip[1] = "fd75:6375::1";
        hand_ip[0] = "198.18.4.9";
        hand_ip[1] = "fd75:6375::9";
        ifname = "ucsref0";
        name = "Linux";
        std::string in = "ip netns exec " + ns_ + " ";
        ok_ = sh("ip netns add " + ns_) == 0 && sh("ip link add ucsref0 type veth peer name ucsref1") == 0 &&
              // One segment a packet, as the tap carries them (no GSO).
              sh("ip link set ucsref1 gso_max_segs 1 netns " + ns_) == 0 &&
              sh("ip addr add 198.18.4.1/24 dev ucsref0") == 0 &&
              sh("ip addr add fd75:6375::1/64 dev ucsref0 nodad") == 0 && sh("ip link set ucsref0 up") == 0 &&
              sh(in + "ip addr add 198.18.4.2/24 dev ucsref1") == 0 &&
              sh(in + "ip addr add fd75:6375::2/64 dev ucsref1 nodad") == 0 && sh(in + "ip link set ucsref1 up") == 0 &&
              sh(in + "ip link set lo up") == 0;
        std::string kmac;
        for (int i = 0; i < 6; i++) {
            char b[4];
            snprintf(b, sizeof(b), i ? ":%02x" : "%02x", if_mac("ucsref0").b[i]);
            kmac += b;
        }
        ok_ = ok_ && sh(in + "ip neigh replace 198.18.4.9 lladdr " + kmac + " dev ucsref1 nud permanent") == 0 &&
              sh(in + "ip -6 neigh replace fd75:6375::9 lladdr " + kmac + " dev ucsref1 nud permanent") == 0;
        FILE *f = popen((in + "cat /sys/class/net/ucsref1/address").c_str(), "r");
        char line[64] = "";
        if (f) {
            if (!fgets(line, sizeof(line), f))
                line[0] = 0;
            pclose(f);
        }
        mac = parse_mac(line);
    }
    ~LinuxTarget() override
    {
        // Both ends at once: a namespace goes away in the background.
        sh("ip link del ucsref0 2>/dev/null");
        sh("ip netns del " + ns_ + " 2>/dev/null");
    }
    LinuxTarget(const LinuxTarget &) = delete;
    LinuxTarget &operator=(const LinuxTarget &) = delete;
    bool ok() const
    {
        return ok_;
    }

    // Made by a thread that enters the namespace; the socket stays there.
    int listen(int family, uint16_t port) override
    {
        int fd = -1;
        std::thread t([&] {
            int ns = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
            if (ns < 0 || setns(ns, CLONE_NEWNET) != 0)
                return;
            ::close(ns);
            fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int on = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
            Addr a = make_addr(family, addr(family).c_str(), port);
            if (bind(fd, a.sa(), a.len) != 0 || ::listen(fd, 16) != 0) {
                ::close(fd);
                fd = -1;
            }
        });
        t.join();
        return fd;
    }
    int accept(int l) override
    {
        return accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    }
    ssize_t send(int fd, const void *p, size_t n) override
    {
        return ::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    ssize_t recv(int fd, void *p, size_t n) override
    {
        return ::recv(fd, p, n, MSG_DONTWAIT);
    }
    int shutdown(int fd, int how) override
    {
        return ::shutdown(fd, how);
    }
    int close(int fd) override
    {
        return ::close(fd);
    }
    int setsockopt(int fd, int level, int name, const void *v, socklen_t len) override
    {
        return ::setsockopt(fd, level, name, v, len);
    }

  private:
    std::string ns_;
    bool ok_ = false;
};

// A peer played entirely by hand, from the target's hand_ip: it sends only
// what the case says and acknowledges only when told.
struct Hand {
    Target &t;
    int family;
    uint16_t port, hport;
    std::unique_ptr<Wire> w;
    uint32_t snd_nxt = 1000000, rcv_nxt = 0;
    uint16_t wnd = 65535;
    int l = -1, s = -1;
    Seg syn_ack;

    Hand(Target &target, int fam, uint16_t p, uint16_t hp)
        : t(target), family(fam), port(p), hport(hp), w(target.wire(fam, true))
    {
        l = t.listen(family, port);
        EXPECT_GE(l, 0) << t.name << ": " << strerror(errno);
    }
    ~Hand()
    {
        if (rcv_nxt)
            w->send(seg(kRst | kAck));
        if (s >= 0)
            t.close(s);
        if (l >= 0)
            t.close(l);
    }
    Hand(const Hand &) = delete;
    Hand &operator=(const Hand &) = delete;

    Seg seg(uint8_t flags, std::vector<uint8_t> data = {}) const
    {
        Seg g;
        g.sport = hport;
        g.dport = port;
        g.seq = snd_nxt;
        g.ack = rcv_nxt;
        g.flags = flags;
        g.wnd = wnd;
        g.data = std::move(data);
        return g;
    }
    bool from_target(const std::function<bool(const Seg &)> &pred, Seg *out = nullptr,
                     int timeout_ms = kKernelTimeoutMs)
    {
        return w->wait([&](const Seg &g) { return g.sport == port && g.dport == hport && pred(g); }, out, timeout_ms);
    }
    // A SYN with opts; true with the SYN-ACK.
    bool syn(const std::vector<uint8_t> &opts)
    {
        w->announce();
        Seg g = seg(kSyn);
        g.opts = opts;
        w->send(g);
        if (!from_target([](const Seg &x) { return x.flags == (kSyn | kAck); }, &syn_ack))
            return false;
        snd_nxt++;
        rcv_nxt = syn_ack.seq + 1;
        return true;
    }
    // The handshake, and the application's accept.
    bool open(const std::vector<uint8_t> &opts = {2, 4, 0x05, 0xb4, 4, 2})
    {
        if (!syn(opts))
            return false;
        w->send(seg(kAck));
        return pump_until([&] { return (s = t.accept(l)) >= 0; }, kKernelTimeoutMs);
    }
    void send(const std::vector<uint8_t> &data, uint8_t flags = kAck | kPsh)
    {
        w->send(seg(flags, data));
        snd_nxt += static_cast<uint32_t>(data.size()) + ((flags & kFin) ? 1 : 0);
    }
    // The application reads n bytes.
    std::string app_reads(size_t n)
    {
        std::string got;
        pump_until(
            [&] {
                char b[4096];
                ssize_t k = t.recv(s, b, std::min(sizeof(b), n - got.size()));
                if (k > 0)
                    got.append(b, static_cast<size_t>(k));
                return got.size() == n;
            },
            kKernelTimeoutMs);
        return got;
    }
    bool app_sends(size_t n, char c = 'r')
    {
        std::vector<char> b(n, c);
        size_t sent = 0;
        return pump_until(
            [&] {
                ssize_t k = t.send(s, b.data() + sent, n - sent);
                if (k > 0)
                    sent += static_cast<size_t>(k);
                return sent == n;
            },
            kKernelTimeoutMs);
    }
};

class Differential : public KernelPeer
{
  protected:
    void SetUp() override
    {
        KernelPeer::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        ASSERT_TRUE(them.ok()) << "could not make the reference namespace";
    }
    StackTarget us;
    LinuxTarget them;
    std::array<Target *, 2> both()
    {
        return {&us, &them};
    }
};

// Cases run for IPv4 and IPv6.
class DifferentialIp : public Differential, public ::testing::WithParamInterface<int>
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
};

// A connection the kernel opened to t, with a wire to slip segments into it.
struct KConn {
    std::unique_ptr<Wire> w;
    Conn c;
    KConn(Target &t, int family, uint16_t port, const std::string &from = "")
        : w(from.empty() ? t.wire(family) : t.wire_from(family, from))
    {
        open_conn(t, family, port, *w, &c);
    }
    bool ok() const
    {
        return c.s >= 0 && c.rcv_nxt;
    }
    // The target's next segment on this connection that pred accepts.
    bool answer(const std::function<bool(const Seg &)> &pred, Seg *out = nullptr, int timeout_ms = kKernelTimeoutMs)
    {
        return w->wait([&](const Seg &g) { return g.sport == c.sport && g.dport == c.kport && pred(g); }, out,
                       timeout_ms);
    }
};

std::vector<uint8_t> syn_opts_all()
{
    return {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
}

std::string family_name_of(const ::testing::TestParamInfo<int> &info)
{
    return info.param == AF_INET ? "v4" : "v6";
}

// --- segments for no connection ---

// A SYN with FIN is dropped unanswered by both (only scanners send it; lwIP
// opened a connection); the plain SYN after it is answered.
TEST_P(DifferentialIp, SynWithFinIsDropped)
{
    for (Target *t : both()) {
        Hand h(*t, family(), 7200, 40200);
        h.w->announce();
        Seg synfin = h.seg(kSyn | kFin);
        synfin.sport = 41200;
        synfin.opts = syn_opts_all();
        h.w->send(synfin);
        ASSERT_TRUE(h.syn(syn_opts_all())) << t->name;
        for (const Seg &g : h.w->seen)
            EXPECT_NE(g.dport, synfin.sport) << t->name << " answered the SYN+FIN";
    }
}

// The SYN-ACK to a SYN with every option: the same TTL or hop limit (64),
// MSS (the link's 1500 less the headers), which options it carries, and the
// acknowledgment. The window and scale factor differ deliberately (ours a 2
// MiB window, scale 6; Linux's follow its memory settings). Over IPv6 Linux
// labels the flow (auto_flowlabels, RFC 6437) and lwIP sends 0, which RFC
// 6437 allows: the label is only a hint for the path.
TEST_P(DifferentialIp, SynAckAgrees)
{
    Seg ack[2];
    for (int i = 0; i < 2; i++) {
        Hand h(*both()[i], family(), 7201, 40201);
        ASSERT_TRUE(h.syn(syn_opts_all()));
        ack[i] = h.syn_ack;
    }
    EXPECT_EQ(ack[0].ttl, 64);
    EXPECT_EQ(ack[0].ttl, ack[1].ttl);
    EXPECT_EQ(ack[0].ack, ack[1].ack);
    auto ok = option_kinds(ack[0]), lk = option_kinds(ack[1]);
    for (uint8_t kind : {2, 3, 4, 8})
        EXPECT_EQ(ok.count(kind), lk.count(kind)) << "option kind " << int(kind);
    std::vector<uint8_t> om, lm;
    ASSERT_TRUE(option(ack[0], 2, &om) && option(ack[1], 2, &lm));
    EXPECT_EQ(om, lm) << "MSS";
    if (v6()) {
        EXPECT_NE(ack[1].flow, 0u);
        EXPECT_EQ(ack[0].flow, 0u);
    } else {
        EXPECT_EQ(ack[0].frag, 0x4000) << "DF";
        EXPECT_EQ(ack[0].frag, ack[1].frag);
    }
}

// A SYN with no options gets a SYN-ACK with only an MSS (RFC 7323 and 2018:
// scaling, timestamps and SACK only when the SYN offered them), and the
// segments after it are of the default send MSS: 536 over IPv4 and 1220
// over IPv6 (RFC 9293 3.7.1; lwIP used 536 for both).
TEST_P(DifferentialIp, SynWithoutOptionsGetsTheDefaultMss)
{
    size_t first[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        Target *t = both()[i];
        Hand h(*t, family(), 7202, 40202);
        ASSERT_TRUE(h.open({})) << t->name;
        auto kinds = option_kinds(h.syn_ack);
        EXPECT_EQ(kinds.size(), 1u) << t->name;
        EXPECT_EQ(kinds.count(2), 1u) << t->name;
        h.send({'q'});
        ASSERT_EQ(h.app_reads(1), "q");
        ASSERT_TRUE(h.app_sends(3000));
        Seg d;
        ASSERT_TRUE(h.from_target([](const Seg &g) { return !g.data.empty(); }, &d)) << t->name;
        first[i] = d.data.size();
    }
    EXPECT_EQ(first[0], v6() ? 1220u : 536u);
    EXPECT_EQ(first[0], first[1]);
}

// A segment with ACK for no connection gets a reset at SEG.ACK with window 0
// and TTL 64 from both. Deliberate difference: lwIP sets ACK on every reset
// (RST|ACK, ack = SEG.SEQ + SEG.LEN) where RFC 9293 3.10.7.1 and Linux send
// a bare RST; a receiver checks only the reset's sequence number, which
// agrees (the ACK bit on a reset is harmless, RFC 9293 3.5.2).
TEST_P(DifferentialIp, AckForNoConnectionIsReset)
{
    Seg rst[2];
    for (int i = 0; i < 2; i++) {
        auto w = both()[i]->wire(family(), true);
        w->announce();
        Seg stray;
        stray.sport = 40203;
        stray.dport = 7203; // nobody listens, on either
        stray.seq = 7000;
        stray.ack = 12345;
        stray.flags = kAck;
        w->send(stray);
        ASSERT_TRUE(w->wait([&](const Seg &g) { return g.dport == stray.sport; }, &rst[i]));
    }
    EXPECT_EQ(rst[0].seq, 12345u);
    EXPECT_EQ(rst[0].seq, rst[1].seq);
    EXPECT_EQ(rst[0].wnd, 0);
    EXPECT_EQ(rst[0].wnd, rst[1].wnd);
    EXPECT_EQ(rst[0].ttl, rst[1].ttl);
    EXPECT_EQ(rst[1].flags, kRst);
    EXPECT_EQ(rst[0].flags, kRst | kAck);
}

// A SYN for a closed port gets RST|ACK, seq 0, ack ISN + 1, window 0.
TEST_P(DifferentialIp, SynToAClosedPortIsReset)
{
    Seg rst[2];
    for (int i = 0; i < 2; i++) {
        auto w = both()[i]->wire(family(), true);
        w->announce();
        Seg syn;
        syn.sport = 40204;
        syn.dport = 7204;
        syn.seq = 9000;
        syn.flags = kSyn;
        syn.opts = {2, 4, 0x05, 0xb4};
        w->send(syn);
        ASSERT_TRUE(w->wait([&](const Seg &g) { return g.dport == syn.sport; }, &rst[i]));
    }
    for (const Seg &r : rst) {
        EXPECT_EQ(r.flags, kRst | kAck);
        EXPECT_EQ(r.seq, 0u);
        EXPECT_EQ(r.ack, 9001u);
        EXPECT_EQ(r.wnd, 0);
    }
    EXPECT_EQ(rst[0].ttl, rst[1].ttl);
}

// --- segments slipped into a connection the kernel holds ---

// RFC 9293 3.10.7.4: an ACK-only segment 50,000 behind or 10 MB beyond the
// receive window is answered with an ACK at RCV.NXT and SND.NXT and taken
// for nothing (lwIP took it, and its window). A connection for each: both
// limit such answers per connection (RFC 5961 7, Linux's
// tcp_invalid_ratelimit).
TEST_P(DifferentialIp, UnacceptableAckOnlySegmentIsAnsweredAndDropped)
{
    for (int32_t off : {-50000, 10000000}) {
        for (Target *t : both()) {
            KConn k(*t, family(), static_cast<uint16_t>(off < 0 ? 7205 : 7206));
            ASSERT_TRUE(k.ok()) << t->name;
            Seg forged = k.c.seg(kAck, k.c.rcv_nxt + static_cast<uint32_t>(off), k.c.snd_nxt);
            forged.wnd = 0;
            k.w->send(forged);
            Seg ack;
            ASSERT_TRUE(k.answer(pure_ack, &ack)) << t->name << " " << off;
            EXPECT_EQ(ack.ack, k.c.rcv_nxt) << t->name << " " << off;
            EXPECT_EQ(ack.seq, k.c.snd_nxt) << t->name << " " << off;
            EXPECT_NE(ack.wnd, 0) << t->name;
            ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name << ": the forged window was taken";
        }
    }
}

// PAWS (RFC 7323 5): data at RCV.NXT whose TSval is 100 s older than
// TS.Recent is an old duplicate: answered with an ACK, not delivered, and
// TS.Recent (what the ACK echoes) does not move back.
TEST_P(DifferentialIp, OldTimestampFailsPaws)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7207);
        ASSERT_TRUE(k.ok());
        uint32_t val = 0, recent = 0;
        ASSERT_TRUE(timestamps(k.w->seen.back(), &val, &recent)) << t->name;
        Seg old = k.c.seg(kAck | kPsh, k.c.rcv_nxt, k.c.snd_nxt);
        old.opts = ts_option(recent - 100000, val);
        old.data = {'X'};
        k.w->send(old);
        Seg ack;
        ASSERT_TRUE(k.answer(pure_ack, &ack)) << t->name;
        EXPECT_EQ(ack.ack, k.c.rcv_nxt) << t->name << ": the old byte was taken";
        uint32_t ecr = 0;
        ASSERT_TRUE(timestamps(ack, &val, &ecr)) << t->name;
        EXPECT_EQ(ecr, recent) << t->name << ": TS.Recent moved back";
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name;
    }
}

// RFC 5961 3.2: a reset in the window but not at RCV.NXT gets a challenge
// ACK and changes nothing.
TEST_P(DifferentialIp, InWindowResetIsChallenged)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7208);
        ASSERT_TRUE(k.ok());
        k.w->send(k.c.seg(kRst, k.c.rcv_nxt + 1000));
        Seg ack;
        ASSERT_TRUE(k.answer(pure_ack, &ack)) << t->name;
        EXPECT_EQ(ack.ack, k.c.rcv_nxt) << t->name;
        EXPECT_EQ(ack.seq, k.c.snd_nxt) << t->name;
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name << ": the reset was taken";
    }
}

// A reset at RCV.NXT resets: the application reads ECONNRESET.
TEST_P(DifferentialIp, ExactResetResets)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7209);
        ASSERT_TRUE(k.ok());
        k.w->send(k.c.seg(kRst, k.c.rcv_nxt));
        char b;
        ASSERT_TRUE(pump_until([&] { return t->recv(k.c.s, &b, 1) == -1 && errno != EAGAIN; }, kKernelTimeoutMs))
            << t->name;
        EXPECT_EQ(errno, ECONNRESET) << t->name;
    }
}

// RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK.
TEST_P(DifferentialIp, SynOnAnEstablishedConnectionIsChallenged)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7210);
        ASSERT_TRUE(k.ok());
        Seg syn = k.c.seg(kSyn, k.c.rcv_nxt - 1000);
        syn.opts = {2, 4, 0x05, 0xb4};
        k.w->send(syn);
        Seg ack;
        ASSERT_TRUE(k.answer(pure_ack, &ack)) << t->name;
        EXPECT_EQ(ack.ack, k.c.rcv_nxt) << t->name;
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name;
    }
}

// Data whose ACK acknowledges what was never sent is dropped (RFC 9293
// 3.10.7.4, RFC 5961 5.2): the real peer's byte after it arrives.
TEST_P(DifferentialIp, DataAcknowledgingWhatWasNeverSentIsDropped)
{
    bool answered[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        Target *t = both()[i];
        KConn k(*t, family(), 7211);
        ASSERT_TRUE(k.ok());
        Seg forged = k.c.seg(kAck | kPsh, k.c.rcv_nxt, k.c.snd_nxt + 100000);
        forged.data = {'X'};
        k.w->send(forged);
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name << ": the forged byte took the real one's place";
        for (const Seg &g : k.w->seen)
            answered[i] |= pure_ack(g) && g.ack == k.c.rcv_nxt - 1;
    }
    EXPECT_EQ(answered[0], answered[1]);
}

// Data 10 MB beyond the window: an ACK at RCV.NXT, nothing delivered.
TEST_P(DifferentialIp, DataOutsideTheWindowIsAnsweredAndDropped)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7212);
        ASSERT_TRUE(k.ok());
        Seg far = k.c.seg(kAck | kPsh, k.c.rcv_nxt + 10000000, k.c.snd_nxt);
        far.data = {'X'};
        k.w->send(far);
        Seg ack;
        ASSERT_TRUE(k.answer(pure_ack, &ack)) << t->name;
        EXPECT_EQ(ack.ack, k.c.rcv_nxt) << t->name;
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name;
    }
}

// RFC 1122 4.2.3.9 and RFC 5461: host or address unreachable is a soft error
// for an established connection, which goes on.
TEST_P(DifferentialIp, UnreachableIsASoftError)
{
    for (Target *t : both()) {
        KConn k(*t, family(), 7213);
        ASSERT_TRUE(k.ok());
        if (v6())
            icmp_error(*k.w, k.c, 1, 3, 0, k.c.snd_nxt);
        else
            icmp_error(*k.w, k.c, 3, 1, 0, k.c.snd_nxt);
        ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name << ": the connection did not survive";
        ASSERT_TRUE(exchange(k.c, *k.w, 'e', 'f')) << t->name;
    }
}

// RFC 1191 and RFC 8201 with RFC 5927's check: "fragmentation needed"
// (next-hop MTU 1000) or "packet too big" (1280) quoting the segment in
// flight lowers the connection's segment size at once; everything after it
// fits the path, and nothing leaves as IP fragments. From a kernel address
// of its own: the path MTU cache keeps what it learns for that address.
TEST_P(DifferentialIp, PathMtuLowersTheSegmentSize)
{
    const uint32_t mtu = v6() ? 1280 : 1000;
    for (Target *t : both()) {
        std::string from =
            v6() ? (t == &us ? "fd75:6374::5" : "fd75:6375::5") : (t == &us ? "198.18.2.5" : "198.18.4.5");
        std::string dev = t->ifname;
        ASSERT_EQ(sh("ip addr add " + from + (v6() ? "/64 nodad" : "/24") + " dev " + dev), 0);
        {
            KConn k(*t, family(), 7214, from);
            ASSERT_TRUE(k.ok());
            if (v6())
                icmp_error(*k.w, k.c, 2, 0, mtu, k.c.snd_nxt);
            else
                icmp_error(*k.w, k.c, 3, 4, mtu, k.c.snd_nxt);
            // The ICMP error is taken before what the kernel sends next.
            ASSERT_TRUE(exchange(k.c, *k.w, 'c', 'd')) << t->name;
            k.w->seen.clear();
            size_t total = 30000, got = 0;
            std::vector<char> data(total, 'p');
            size_t sent = 0;
            std::vector<char> in(total);
            Peer reader([&] { got = krecv_exact(k.c.k, in.data(), total) ? total : 0; });
            ASSERT_TRUE(pump_until(
                [&] {
                    ssize_t n = t->send(k.c.s, data.data() + sent, total - sent);
                    if (n > 0)
                        sent += static_cast<size_t>(n);
                    return sent == total;
                },
                kKernelTimeoutMs));
            ASSERT_TRUE(reader.finish());
            EXPECT_EQ(got, total) << t->name;
            k.w->drain();
            size_t segments = 0;
            for (const Seg &g : k.w->seen)
                if (g.sport == k.c.sport && !g.data.empty()) {
                    EXPECT_LE(g.iplen, mtu) << t->name;
                    segments++;
                }
            EXPECT_GE(segments, total / mtu) << t->name;
            EXPECT_EQ(k.w->fragments, 0u) << t->name;
        }
        sh("ip addr del " + from + (v6() ? "/64" : "/24") + " dev " + dev);
    }
}

// --- peers played by hand ---

// Out-of-order data is answered at once with a duplicate ACK whose SACK
// block names it (RFC 2018, RFC 5681 4.2); the hole filled, both are
// delivered in order and acknowledged together.
TEST_P(DifferentialIp, OutOfOrderDataIsSackedAndReassembled)
{
    for (Target *t : both()) {
        Hand h(*t, family(), 7215, 40215);
        ASSERT_TRUE(h.open()) << t->name;
        uint32_t base = h.snd_nxt;
        Seg later = h.seg(kAck | kPsh, std::vector<uint8_t>(10, 'B'));
        later.seq = base + 10;
        h.w->send(later);
        Seg dup;
        ASSERT_TRUE(h.from_target(pure_ack, &dup)) << t->name;
        EXPECT_EQ(dup.ack, base) << t->name;
        std::vector<uint8_t> sack;
        ASSERT_TRUE(option(dup, 5, &sack)) << t->name << ": no SACK block";
        ASSERT_EQ(sack.size(), 8u) << t->name;
        EXPECT_EQ(get32(&sack[0]), base + 10) << t->name;
        EXPECT_EQ(get32(&sack[4]), base + 20) << t->name;
        h.send(std::vector<uint8_t>(10, 'A'));
        h.snd_nxt = base + 20;
        ASSERT_TRUE(h.from_target([&](const Seg &g) { return g.ack == base + 20; })) << t->name;
        EXPECT_EQ(h.app_reads(20), "AAAAAAAAAABBBBBBBBBB") << t->name;
    }
}

INSTANTIATE_TEST_SUITE_P(Families, DifferentialIp, ::testing::Values(AF_INET, AF_INET6), family_name_of);

// A segment in two IPv4 fragments, the last sent first, is reassembled and
// delivered.
TEST_F(Differential, FragmentedSegmentIsReassembled)
{
    for (Target *t : both()) {
        Hand h(*t, AF_INET, 7216, 40216);
        ASSERT_TRUE(h.open()) << t->name;
        std::vector<uint8_t> data(100);
        for (size_t i = 0; i < data.size(); i++)
            data[i] = static_cast<uint8_t>('a' + i % 26);
        h.w->send_fragments(h.seg(kAck | kPsh, data), 64);
        h.snd_nxt += 100;
        EXPECT_EQ(h.app_reads(100), std::string(data.begin(), data.end())) << t->name;
        ASSERT_TRUE(h.from_target([&](const Seg &g) { return g.ack == h.snd_nxt; })) << t->name;
    }
}

// RFC 6298 2.1 and Linux: an unanswered SYN-ACK is sent again after 1 s,
// then 2 s (lwIP: 3.3 s, then 10 s). Both targets at once; the gaps are
// compared with doubling, and ours with Linux's first. Deliberate
// difference: ours fire on lwIP's slow timer, which the poll loop drives,
// never early and late by a tick or by however long the loop was not
// scheduled (measured 1.36 s against Linux's 1.02 s on a quiet machine,
// 2.2 to 2.6 s at load average 25 on 2 cores); the exact timeouts are
// handshake_test.cpp's, counted in ticks.
TEST_F(Differential, SynAckIsResentAfterOneSecondThenTwo)
{
    std::vector<std::unique_ptr<Hand>> hands;
    for (Target *t : both()) {
        hands.push_back(std::make_unique<Hand>(*t, AF_INET, 7217, 40217));
        ASSERT_TRUE(hands.back()->syn({2, 4, 0x05, 0xb4}));
    }
    std::vector<uint64_t> at[2];
    ASSERT_TRUE(pump_until(
        [&] {
            for (int i = 0; i < 2; i++) {
                hands[i]->w->drain();
                at[i].clear();
                for (const Seg &g : hands[i]->w->seen)
                    if (g.flags == (kSyn | kAck))
                        at[i].push_back(g.at_ms);
            }
            return at[0].size() >= 3 && at[1].size() >= 3;
        },
        15000))
        << "SYN-ACKs: " << at[0].size() << " from ucstack, " << at[1].size() << " from Linux";
    double g1[2], g2[2];
    for (int i = 0; i < 2; i++) {
        g1[i] = static_cast<double>(at[i][1] - at[i][0]);
        g2[i] = static_cast<double>(at[i][2] - at[i][1]);
        EXPECT_GT(g2[i] / g1[i], 1.3) << both()[i]->name << " " << g1[i] << " " << g2[i];
        EXPECT_LT(g2[i] / g1[i], 3.0) << both()[i]->name << " " << g1[i] << " " << g2[i];
    }
    EXPECT_GE(g1[0], 0.95 * g1[1]) << g1[0] << " ms against Linux's " << g1[1];
    EXPECT_LT(g1[0], 3300) << g1[0] << " ms against Linux's " << g1[1] << ": lwIP's old first timeout";
}

// RFC 6928 and Linux: the initial window is 10 segments (lwIP: 3). The peer
// offers exactly 10 segments of window and acknowledges nothing: what
// leaves before the first segment sent again is the initial window.
TEST_F(Differential, InitialWindowIsTenSegments)
{
    size_t burst[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        Target *t = both()[i];
        Hand h(*t, AF_INET, 7218, 40218);
        h.wnd = 14600;
        ASSERT_TRUE(h.open({2, 4, 0x05, 0xb4})) << t->name;
        h.send({'q'});
        ASSERT_EQ(h.app_reads(1), "q");
        ASSERT_TRUE(h.app_sends(30000));
        std::map<uint32_t, size_t> sent;
        ASSERT_TRUE(h.from_target([&](const Seg &g) {
            if (g.data.empty())
                return false;
            if (sent.count(g.seq))
                return true;
            sent[g.seq] = g.data.size();
            return false;
        })) << t->name;
        for (auto &s : sent)
            burst[i] += s.second;
    }
    EXPECT_EQ(burst[0], 14600u);
    EXPECT_EQ(burst[0], burst[1]);
}

// Issue 15's worst finding: a lone response to a peer that delays its ACK
// by 40 ms was sent twice 45 % of the time (a tail loss probe without RFC
// 8985's allowance for the delayed ACK). Now, as Linux, once.
TEST_F(Differential, LoneResponsesAreSentOnceUnderDelayedAcks)
{
    const int rounds = 5;
    for (Target *t : both()) {
        Hand h(*t, AF_INET, 7219, 40219);
        ASSERT_TRUE(h.open({2, 4, 0x05, 0xb4})) << t->name;
        for (int r = 0; r < rounds; r++) {
            h.send({'q'});
            ASSERT_EQ(h.app_reads(1), "q");
            ASSERT_TRUE(h.app_sends(100));
            Seg resp;
            ASSERT_TRUE(h.from_target([](const Seg &g) { return g.data.size() == 100; }, &resp)) << t->name;
            h.rcv_nxt = resp.seq + 100;
            uint64_t due = resp.at_ms + 40;
            pump_until([&] { return now_ms() >= due; }, 1000); // the peer's delayed ACK timer
            h.w->send(h.seg(kAck));
        }
        h.w->drain();
        std::map<uint32_t, int> copies;
        for (const Seg &g : h.w->seen)
            if (g.sport == h.port && g.data.size() == 100)
                copies[g.seq]++;
        EXPECT_EQ(copies.size(), static_cast<size_t>(rounds)) << t->name;
        for (auto &c : copies)
            EXPECT_EQ(c.second, 1) << t->name << ": a response sent " << c.second << " times";
    }
}

// In LAST_ACK an unacknowledged FIN is resent once per retransmission
// timeout (lwIP sent a second copy ~56 ms after each).
TEST_F(Differential, LastAckSendsOneFinPerTimeout)
{
    for (Target *t : both()) {
        Hand h(*t, AF_INET, 7220, 40220);
        ASSERT_TRUE(h.open({2, 4, 0x05, 0xb4})) << t->name;
        h.send({}, kFin | kAck);
        char b;
        ASSERT_TRUE(pump_until([&] { return t->recv(h.s, &b, 1) == 0; }, kKernelTimeoutMs)) << t->name;
        ASSERT_EQ(t->close(h.s), 0);
        h.s = -1;
        std::vector<uint64_t> at;
        ASSERT_TRUE(h.from_target([&](const Seg &g) {
            if (g.flags & kFin)
                at.push_back(g.at_ms);
            return at.size() == 4;
        })) << t->name;
        // Gaps only (a loaded machine stretches them): at least the 200 ms
        // floor less a tick, never the duplicate tens of ms after a timeout.
        for (size_t i = 1; i < at.size(); i++)
            EXPECT_GE(at[i] - at[i - 1], 150u) << t->name << ": two FINs " << at[i] - at[i - 1] << " ms apart";
    }
}

// A zero window stops the sender, which probes it (RFC 9293 3.8.6.1) and
// sends no data beyond the probe; the window opened, the data follows.
// Linux probes with an old byte (SND.UNA - 1, no data), lwIP with the next
// new one: both are allowed, both are answered with the window.
TEST_F(Differential, ZeroWindowIsProbedAndReopened)
{
    for (Target *t : both()) {
        Hand h(*t, AF_INET, 7221, 40221);
        ASSERT_TRUE(h.open({2, 4, 0x05, 0xb4})) << t->name;
        h.wnd = 0;
        h.w->send(h.seg(kAck));
        // The window closed is taken before the write.
        h.send({'q'});
        ASSERT_EQ(h.app_reads(1), "q");
        ASSERT_TRUE(h.from_target([&](const Seg &g) { return g.ack == h.snd_nxt; })) << t->name;
        ASSERT_TRUE(h.app_sends(1000));
        Seg probe;
        ASSERT_TRUE(h.from_target([](const Seg &) { return true; }, &probe)) << t->name;
        EXPECT_LE(probe.data.size(), 1u) << t->name << ": data past a zero window";
        uint32_t start = h.rcv_nxt;
        h.wnd = 65535;
        h.w->send(h.seg(kAck));
        uint32_t top = start;
        ASSERT_TRUE(h.from_target([&](const Seg &g) {
            if (!g.data.empty() && g.seq - start < 100000 && g.seq + g.data.size() - start > top - start)
                top = g.seq + static_cast<uint32_t>(g.data.size());
            return top - start == 1000;
        })) << t->name;
    }
}

// RFC 7323 3.2: once negotiated, timestamps are on every segment, zero
// window probes included (lwIP sent them bare). The kernel's connection
// is told its window is 0 by a segment slipped in.
TEST_F(Differential, ZeroWindowProbesCarryTimestamps)
{
    for (Target *t : both()) {
        KConn k(*t, AF_INET, 7222);
        ASSERT_TRUE(k.ok());
        uint32_t val = 0, recent = 0;
        ASSERT_TRUE(timestamps(k.w->seen.back(), &val, &recent)) << t->name;
        // A byte with it, so that its ACK shows the window was taken.
        Seg closed = k.c.seg(kAck | kPsh, k.c.rcv_nxt, k.c.snd_nxt);
        closed.wnd = 0;
        closed.opts = ts_option(recent + 1, val);
        closed.data = {'w'};
        k.w->send(closed);
        ASSERT_TRUE(k.answer([&](const Seg &g) { return g.ack == k.c.rcv_nxt + 1; })) << t->name;
        k.w->seen.clear();
        std::vector<char> data(100, 'z');
        ASSERT_EQ(t->send(k.c.s, data.data(), data.size()), 100) << t->name;
        Seg probe;
        ASSERT_TRUE(k.answer([](const Seg &) { return true; }, &probe)) << t->name;
        EXPECT_LE(probe.data.size(), 1u) << t->name << ": not a probe";
        EXPECT_TRUE(timestamps(probe, &val, &recent)) << t->name << ": a probe without timestamps";
    }
}

// RFC 6864 and Linux: TCP leaves with DF, and the IDs of one connection's
// packets count up by one (Linux: a counter per socket; ours a counter per
// destination, which no other peer sees). Linux sends its SYN-ACKs with ID
// 0 (atomic datagrams, RFC 6864 4.1 allows any value); ours carry the
// per-destination counter.
TEST_F(Differential, IpIdsCountUpWithDf)
{
    for (Target *t : both()) {
        KConn k(*t, AF_INET, 7223);
        ASSERT_TRUE(k.ok());
        k.w->seen.clear();
        for (char c : {'e', 'g', 'i'})
            ASSERT_TRUE(exchange(k.c, *k.w, c, static_cast<char>(c + 1))) << t->name;
        std::vector<uint16_t> ids;
        for (const Seg &g : k.w->seen)
            if (g.sport == k.c.sport) {
                EXPECT_EQ(g.frag, 0x4000) << t->name << ": no DF";
                ids.push_back(g.id);
            }
        ASSERT_GE(ids.size(), 3u) << t->name;
        for (size_t i = 1; i < ids.size(); i++)
            EXPECT_EQ(static_cast<uint16_t>(ids[i] - ids[i - 1]), 1) << t->name;
    }
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    signal(SIGPIPE, [](int) { sigpipes++; });
    // The path MTU cache's entries last 2 s here (pmtu_test.cpp waits for one).
    extra_port_config = "pmtu_expires = 2\n";
    ::testing::AddGlobalTestEnvironment(new KernelPeerEnvironment);
    return RUN_ALL_TESTS();
}
