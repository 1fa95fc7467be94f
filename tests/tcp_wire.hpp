// Crafted TCP segments, and what a target answers, as Ethernet frames on
// the kernel's side of a link (a packet socket): the tap and the stack behind
// it, or a veth pair and Linux's TCP in a namespace (differential_test.cpp).
// Frames carry any source address: the kernel's own, to speak inside its
// connections, or one nobody holds, for a peer played entirely by hand.
#pragma once

#include "kernel_peer.hpp"

#include <fstream>
#include <linux/if_packet.h>
#include <map>
#include <memory>
#include <net/ethernet.h>
#include <net/if.h>
#include <sstream>

namespace kpeer
{

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

struct Seg {
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t wnd = 65535;
    std::vector<uint8_t> opts, data;
    // Of the segments a target sent: TTL or hop limit, IPv4 identification,
    // flags and offset, total length; IPv6 flow label; when it was seen.
    uint8_t ttl = 0;
    uint16_t id = 0;
    uint16_t frag = 0, iplen = 0;
    uint32_t flow = 0;
    uint64_t at_ms = 0;
};

inline void put16(uint8_t *p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

inline uint32_t get16(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0] << 8 | p[1]);
}
inline uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

struct Mac {
    uint8_t b[6] = {};
};

// "aa:bb:cc:dd:ee:ff"
inline Mac parse_mac(const std::string &s)
{
    Mac m;
    unsigned v[6] = {};
    if (sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6)
        for (int i = 0; i < 6; i++)
            m.b[i] = static_cast<uint8_t>(v[i]);
    return m;
}

// An interface of this namespace.
inline Mac if_mac(const char *ifname)
{
    std::ifstream f(std::string("/sys/class/net/") + ifname + "/address");
    std::string s;
    f >> s;
    return parse_mac(s);
}

// What the kernel's IPv4 neighbour table says ip's MAC is.
inline Mac arp_mac(const char *ip)
{
    std::ifstream f("/proc/net/arp");
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream l(line);
        std::string addr, type, flags, mac;
        if (l >> addr >> type >> flags >> mac && addr == ip)
            return parse_mac(mac);
    }
    return Mac{};
}

inline std::vector<uint8_t> addr_bytes(int family, const std::string &ip)
{
    std::vector<uint8_t> a(family == AF_INET ? 4 : 16);
    inet_pton(family, ip.c_str(), a.data());
    return a;
}

// One's-complement sum of n bytes, folded and inverted.
inline uint16_t ip_checksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i += 2)
        sum += static_cast<uint32_t>(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// The TCP header and payload of s, checksum left zero.
inline std::vector<uint8_t> tcp_bytes(const Seg &s)
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
    return b;
}

// The kernel's side of a link: frames out from `from` (with from_mac) to
// `target`, and target's TCP segments in.
class Wire
{
  public:
    Wire(const char *ifname, int family, std::string from, std::string target, Mac from_mac, Mac target_mac)
        : family_(family), from_(std::move(from)), target_(std::move(target)), from_mac_(from_mac),
          target_mac_(target_mac)
    {
        sock_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_ALL);
        ll.sll_ifindex = static_cast<int>(if_nametoindex(ifname));
        ifindex_ = ll.sll_ifindex;
        bound_ = ll.sll_ifindex > 0 && bind(sock_, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)) == 0;
    }
    // The kernel's IPv4 address on the tap, to the stack.
    Wire() : Wire("ucstap0", AF_INET, kKernelV4, kStackV4, if_mac("ucstap0"), arp_mac(kStackV4))
    {
    }
    ~Wire()
    {
        close(sock_);
    }
    Wire(const Wire &) = delete;
    Wire &operator=(const Wire &) = delete;

    bool ok() const
    {
        return sock_ >= 0 && bound_;
    }
    int family() const
    {
        return family_;
    }
    const std::string &from() const
    {
        return from_;
    }
    const std::string &target() const
    {
        return target_;
    }

    void send(const Seg &s)
    {
        send_ip(IPPROTO_TCP, tcp_bytes(s));
    }

    // s in two IPv4 fragments, the first carrying first bytes of the TCP
    // segment (a multiple of 8), the second sent first.
    void send_fragments(const Seg &s, size_t first)
    {
        auto src = addr_bytes(AF_INET, from_), to = addr_bytes(AF_INET, target_);
        auto l4 = tcp_bytes(s);
        put16(&l4[16], tcp_checksum(src.data(), to.data(), l4.data(), l4.size()));
        uint16_t id = next_id_++;
        for (int part : {1, 0}) {
            size_t off = part ? first : 0, len = part ? l4.size() - first : first;
            std::vector<uint8_t> ip(20, 0);
            ip[0] = 0x45;
            put16(&ip[2], static_cast<uint32_t>(20 + len));
            put16(&ip[4], id);
            put16(&ip[6], static_cast<uint32_t>(off / 8 | (part ? 0 : 0x2000)));
            ip[8] = 64;
            ip[9] = IPPROTO_TCP;
            std::copy(src.begin(), src.end(), ip.begin() + 12);
            std::copy(to.begin(), to.end(), ip.begin() + 16);
            put16(&ip[10], ip_checksum(ip.data(), 20));
            ip.insert(ip.end(), l4.begin() + static_cast<long>(off), l4.begin() + static_cast<long>(off + len));
            send_frame(ETH_P_IP, ip);
        }
    }

    // A frame of type with payload, to the target's MAC.
    void send_frame(uint16_t type, const std::vector<uint8_t> &payload)
    {
        std::vector<uint8_t> f(14, 0);
        std::copy(target_mac_.b, target_mac_.b + 6, f.begin());
        std::copy(from_mac_.b, from_mac_.b + 6, f.begin() + 6);
        put16(&f[12], type);
        f.insert(f.end(), payload.begin(), payload.end());
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_ifindex = ifindex_;
        ll.sll_halen = 6;
        std::copy(target_mac_.b, target_mac_.b + 6, ll.sll_addr);
        EXPECT_EQ(sendto(sock_, f.data(), f.size(), 0, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)),
                  static_cast<ssize_t>(f.size()))
            << strerror(errno);
    }

    // Tells the target that `from` is at from_mac: an ARP request for its
    // address, or a neighbour solicitation with our link-layer address (a
    // node learns the asker from either, RFC 826 and RFC 4861 7.2.3).
    void announce()
    {
        auto src = addr_bytes(family_, from_), to = addr_bytes(family_, target_);
        if (family_ == AF_INET) {
            std::vector<uint8_t> a = {0, 1, 8, 0, 6, 4, 0, 1};
            a.insert(a.end(), from_mac_.b, from_mac_.b + 6);
            a.insert(a.end(), src.begin(), src.end());
            a.insert(a.end(), 6, 0);
            a.insert(a.end(), to.begin(), to.end());
            send_frame(ETH_P_ARP, a);
            return;
        }
        std::vector<uint8_t> ns = {135, 0, 0, 0, 0, 0, 0, 0};
        ns.insert(ns.end(), to.begin(), to.end());
        ns.insert(ns.end(), {1, 1});
        ns.insert(ns.end(), from_mac_.b, from_mac_.b + 6);
        send_ip(IPPROTO_ICMPV6, ns, 255);
    }

    // An IP packet from `from` to `target` (or to dst): TCP, ICMP or ICMPv6,
    // its checksum filled in.
    void send_ip(uint8_t proto, std::vector<uint8_t> l4, uint8_t hops = 64, const std::string &dst = "")
    {
        auto src = addr_bytes(family_, from_), to = addr_bytes(family_, dst.empty() ? target_ : dst);
        size_t sum_at = proto == IPPROTO_TCP ? 16 : 2;
        put16(&l4[sum_at], 0);
        put16(&l4[sum_at], proto == IPPROTO_ICMP
                               ? ip_checksum(l4.data(), l4.size())
                               : tcp_checksum(src.data(), to.data(), l4.data(), l4.size(), src.size(), proto));
        std::vector<uint8_t> ip(family_ == AF_INET ? 20 : 40, 0);
        if (family_ == AF_INET) {
            ip[0] = 0x45;
            put16(&ip[2], static_cast<uint32_t>(20 + l4.size()));
            put16(&ip[4], next_id_++);
            ip[6] = 0x40;
            ip[8] = hops;
            ip[9] = proto;
            std::copy(src.begin(), src.end(), ip.begin() + 12);
            std::copy(to.begin(), to.end(), ip.begin() + 16);
            put16(&ip[10], ip_checksum(ip.data(), 20));
        } else {
            ip[0] = 0x60;
            put16(&ip[4], static_cast<uint32_t>(l4.size()));
            ip[6] = proto;
            ip[7] = hops;
            std::copy(src.begin(), src.end(), ip.begin() + 8);
            std::copy(to.begin(), to.end(), ip.begin() + 24);
        }
        ip.insert(ip.end(), l4.begin(), l4.end());
        send_frame(family_ == AF_INET ? ETH_P_IP : ETH_P_IPV6, ip);
    }

    // Runs the stack until the target sends a segment that pred accepts
    // (within timeout_ms); every segment it sent on the way is kept in seen.
    bool wait(const std::function<bool(const Seg &)> &pred, Seg *out = nullptr, int timeout_ms = kKernelTimeoutMs)
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
            timeout_ms);
    }
    // Takes in what waits, without running the stack.
    void drain()
    {
        Seg s;
        while (next(&s))
            seen.push_back(s);
    }

    std::vector<Seg> seen;
    // IP packets from the target that were not TCP segments: IPv6 fragments
    // and IPv4 packets with MF or an offset, and the largest IP packet.
    size_t fragments = 0, largest = 0;

  private:
    // The next TCP segment from the target's address, if one waits.
    bool next(Seg *s)
    {
        uint8_t f[65536];
        ssize_t n;
        const size_t eth = 14;
        auto me = addr_bytes(family_, target_);
        while ((n = recv(sock_, f, sizeof(f), 0)) > 0) {
            uint32_t type = get16(&f[12]);
            size_t ihl, total;
            uint8_t proto;
            const uint8_t *ip = f + eth;
            if (family_ == AF_INET && type == ETH_P_IP && static_cast<size_t>(n) >= eth + 20 &&
                !memcmp(ip + 12, me.data(), 4)) {
                ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
                total = get16(ip + 2);
                proto = ip[9];
                s->ttl = ip[8];
                s->id = static_cast<uint16_t>(get16(ip + 4));
                s->frag = static_cast<uint16_t>(get16(ip + 6));
                if (s->frag & 0x3fff)
                    fragments++;
            } else if (family_ == AF_INET6 && type == ETH_P_IPV6 && static_cast<size_t>(n) >= eth + 40 &&
                       !memcmp(ip + 8, me.data(), 16)) {
                ihl = 40;
                total = 40 + get16(ip + 4);
                proto = ip[6];
                s->ttl = ip[7];
                s->flow = get32(ip) & 0xfffff;
                if (proto == 44)
                    fragments++;
            } else {
                continue;
            }
            largest = std::max(largest, total);
            const uint8_t *t = ip + ihl;
            if (proto != IPPROTO_TCP || eth + total > static_cast<size_t>(n) || ihl + 20 > total)
                continue;
            size_t doff = static_cast<size_t>(t[12] >> 4) * 4;
            if (ihl + doff > total)
                continue;
            s->iplen = static_cast<uint16_t>(total);
            s->sport = static_cast<uint16_t>(get16(t));
            s->dport = static_cast<uint16_t>(get16(t + 2));
            s->seq = get32(t + 4);
            s->ack = get32(t + 8);
            s->flags = t[13] & 0x3f;
            s->wnd = static_cast<uint16_t>(get16(t + 14));
            s->opts.assign(t + 20, t + doff);
            s->data.assign(t + doff, ip + total);
            s->at_ms = now_ms();
            return true;
        }
        return false;
    }

    int family_;
    std::string from_, target_;
    Mac from_mac_, target_mac_;
    int sock_ = -1, ifindex_ = 0;
    bool bound_ = false;
    uint16_t next_id_ = 1;
};

inline bool pure_ack(const Seg &g)
{
    return g.flags == kAck && g.data.empty();
}

// The options of a segment by kind, with their lengths.
inline std::map<uint8_t, size_t> option_kinds(const Seg &g)
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

// The bytes of option kind in g (after kind and length), if it has one.
inline bool option(const Seg &g, uint8_t kind, std::vector<uint8_t> *body)
{
    for (size_t i = 0; i < g.opts.size() && g.opts[i] != 0;) {
        if (g.opts[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= g.opts.size() || g.opts[i + 1] < 2 || i + g.opts[i + 1] > g.opts.size())
            return false;
        if (g.opts[i] == kind) {
            body->assign(g.opts.begin() + static_cast<long>(i) + 2,
                         g.opts.begin() + static_cast<long>(i) + g.opts[i + 1]);
            return true;
        }
        i += g.opts[i + 1];
    }
    return false;
}

// The timestamps option of a segment: true with TSval and TSecr, if it has one.
inline bool timestamps(const Seg &g, uint32_t *val, uint32_t *ecr)
{
    std::vector<uint8_t> b;
    if (!option(g, 8, &b) || b.size() != 8)
        return false;
    *val = get32(&b[0]);
    *ecr = get32(&b[4]);
    return true;
}

inline std::vector<uint8_t> ts_option(uint32_t val, uint32_t ecr)
{
    std::vector<uint8_t> o = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    put32(&o[4], val);
    put32(&o[8], ecr);
    return o;
}

inline ucs_stack_stats stats()
{
    ucs_stack_stats s;
    ucs_stack_get_stats(ucs_stack_current(), &s);
    return s;
}

// Where crafted segments go, and the sockets of the application there: the
// stack behind the tap (StackTarget), or Linux's TCP in a namespace
// (differential_test.cpp). Sockets are non-blocking.
class Target
{
  public:
    virtual ~Target() = default;
    virtual int listen(int family, uint16_t port) = 0;
    virtual int accept(int l) = 0; // -1 (EAGAIN) while none waits
    virtual ssize_t send(int fd, const void *p, size_t n) = 0;
    virtual ssize_t recv(int fd, void *p, size_t n) = 0;
    virtual int shutdown(int fd, int how) = 0;
    virtual int close(int fd) = 0;
    virtual int setsockopt(int fd, int level, int name, const void *v, socklen_t len) = 0;

    // Its addresses, the kernel's on the same link, and one nobody holds
    // (for peers played by hand; the target's neighbour table maps it to
    // the kernel's MAC, and the kernel, which does not forward, drops what
    // the target sends there); [1] for IPv6.
    std::string ip[2], kernel_ip[2], hand_ip[2];
    std::string ifname; // the kernel's end of the link
    Mac mac;
    const char *name = "";

    const std::string &addr(int family) const
    {
        return ip[family == AF_INET6];
    }
    // A wire from the kernel's address, or with hand from hand_ip.
    std::unique_ptr<Wire> wire(int family, bool hand = false) const
    {
        return wire_from(family, (hand ? hand_ip : kernel_ip)[family == AF_INET6]);
    }
    std::unique_ptr<Wire> wire_from(int family, const std::string &from) const
    {
        return std::make_unique<Wire>(ifname.c_str(), family, from, addr(family), if_mac(ifname.c_str()), mac);
    }
};

class StackTarget : public Target
{
  public:
    StackTarget()
    {
        ip[0] = kStackV4;
        ip[1] = kStackV6;
        kernel_ip[0] = kKernelV4;
        kernel_ip[1] = kKernelV6;
        hand_ip[0] = "198.18.2.9";
        hand_ip[1] = "fd75:6374::9";
        ifname = "ucstap0";
        mac = arp_mac(kStackV4);
        name = "ucstack";
    }
    int listen(int family, uint16_t port) override
    {
        int l = stack_listener(family, port);
        EXPECT_EQ(ucs_fcntl(l, F_SETFL, O_NONBLOCK), 0);
        return l;
    }
    int accept(int l) override
    {
        int fd = ucs_accept(l, nullptr, nullptr);
        if (fd >= 0) {
            EXPECT_EQ(ucs_fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        }
        return fd;
    }
    ssize_t send(int fd, const void *p, size_t n) override
    {
        return ucs_send(fd, p, n, MSG_DONTWAIT);
    }
    ssize_t recv(int fd, void *p, size_t n) override
    {
        return ucs_recv(fd, p, n, MSG_DONTWAIT);
    }
    int shutdown(int fd, int how) override
    {
        return ucs_shutdown(fd, how);
    }
    int close(int fd) override
    {
        return ucs_close(fd);
    }
    int setsockopt(int fd, int level, int name, const void *v, socklen_t len) override
    {
        return ucs_setsockopt(fd, level, name, v, len);
    }
};

// A connection the kernel opened to a target (s: the target's socket, k:
// the kernel's), and the target's sequence numbers as the wire showed them
// last.
struct Conn {
    Target *t = nullptr;
    int family = AF_INET;
    int s = -1, k = -1;
    uint16_t sport = 0, kport = 0;
    uint32_t rcv_nxt = 0, snd_nxt = 0;

    Conn() = default;
    Conn(const Conn &) = delete;
    Conn &operator=(const Conn &) = delete;
    ~Conn()
    {
        if (s >= 0)
            t->close(s);
        if (k >= 0)
            ::close(k);
    }
    // A segment from the kernel's port to the target's.
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

// Runs the stack until the target's socket reads n bytes (or fails).
inline bool target_reads(Conn &c, std::vector<char> *got, size_t n)
{
    got->clear();
    return pump_until(
        [&] {
            char b[4096];
            ssize_t k = c.t->recv(c.s, b, std::min(sizeof(b), n - got->size()));
            if (k > 0)
                got->insert(got->end(), b, b + k);
            return got->size() == n;
        },
        kKernelTimeoutMs);
}

// One byte each way; the target's reply tells its sequence numbers. False
// when the connection no longer carries data.
inline bool exchange(Conn &c, Wire &w, char from_kernel, char from_target)
{
    std::vector<char> got;
    if (send(c.k, &from_kernel, 1, MSG_DONTWAIT) != 1 || !target_reads(c, &got, 1) || got[0] != from_kernel)
        return false;
    if (c.t->send(c.s, &from_target, 1) != 1)
        return false;
    Seg reply;
    if (!w.wait([&](const Seg &g) { return g.sport == c.sport && g.data.size() == 1; }, &reply))
        return false;
    c.rcv_nxt = reply.ack;
    c.snd_nxt = reply.seq + 1;
    char b = 0;
    bool read = pump_until([&] { return recv(c.k, &b, 1, MSG_DONTWAIT) == 1; }, kKernelTimeoutMs);
    return read && b == from_target;
}

// The kernel connects to the target's port (from w's address: its own on
// the link) and one byte goes each way.
inline void open_conn(Target &t, int family, uint16_t port, Wire &w, Conn *c)
{
    c->t = &t;
    c->family = family;
    int l = t.listen(family, port);
    ASSERT_GE(l, 0) << strerror(errno);
    Peer peer([&] {
        c->k = ksocket(family, SOCK_STREAM);
        Addr me = make_addr(family, w.from().c_str(), 0);
        EXPECT_EQ(bind(c->k, me.sa(), me.len), 0) << me.str() << ": " << strerror(errno);
        Addr a = make_addr(family, t.addr(family).c_str(), port);
        EXPECT_EQ(connect(c->k, a.sa(), a.len), 0) << a.str() << ": " << strerror(errno);
    });
    EXPECT_TRUE(pump_until([&] { return (c->s = t.accept(l)) >= 0; }, kKernelTimeoutMs)) << t.name;
    ASSERT_TRUE(peer.finish());
    EXPECT_EQ(t.close(l), 0);
    ASSERT_GE(c->s, 0) << strerror(errno);
    ASSERT_GE(c->k, 0);
    c->sport = port;
    Addr k = kname(c->k, false);
    c->kport = ntohs(family == AF_INET ? reinterpret_cast<const sockaddr_in *>(&k.ss)->sin_port
                                       : reinterpret_cast<const sockaddr_in6 *>(&k.ss)->sin6_port);
    ASSERT_TRUE(exchange(*c, w, 'a', 'b')) << t.name;
}

// The IPv4 or IPv6 header of a segment of c the target sent to w's address,
// and its TCP header, as an ICMP error quotes them.
inline std::vector<uint8_t> quote(const Wire &w, const Conn &c, uint32_t seq)
{
    std::vector<uint8_t> q;
    auto src = addr_bytes(c.family, w.target()), dst = addr_bytes(c.family, w.from());
    if (c.family == AF_INET) {
        q.assign(20, 0);
        q[0] = 0x45;
        put16(&q[2], 1500);
        q[6] = 0x40;
        q[8] = 64;
        q[9] = IPPROTO_TCP;
        std::copy(src.begin(), src.end(), q.begin() + 12);
        std::copy(dst.begin(), dst.end(), q.begin() + 16);
        put16(&q[10], ip_checksum(q.data(), 20));
    } else {
        q.assign(40, 0);
        q[0] = 0x60;
        put16(&q[4], 1460);
        q[6] = IPPROTO_TCP;
        q[7] = 64;
        std::copy(src.begin(), src.end(), q.begin() + 8);
        std::copy(dst.begin(), dst.end(), q.begin() + 24);
    }
    std::vector<uint8_t> tcp(20, 0);
    put16(&tcp[0], c.sport);
    put16(&tcp[2], c.kport);
    put32(&tcp[4], seq);
    put32(&tcp[8], c.rcv_nxt);
    tcp[12] = 0x50;
    tcp[13] = kAck;
    q.insert(q.end(), tcp.begin(), tcp.end());
    return q;
}

// An ICMP or ICMPv6 error of type and code (with 32 bits of data: the MTU)
// quoting the connection's segment at seq.
inline void icmp_error(Wire &w, const Conn &c, uint8_t type, uint8_t code, uint32_t data, uint32_t seq)
{
    std::vector<uint8_t> m(8, 0);
    m[0] = type;
    m[1] = code;
    put32(&m[4], data);
    auto q = quote(w, c, seq);
    m.insert(m.end(), q.begin(), q.end());
    w.send_ip(static_cast<uint8_t>(c.family == AF_INET ? IPPROTO_ICMP : int(IPPROTO_ICMPV6)), m);
}

} // namespace kpeer
