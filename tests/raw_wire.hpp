// Crafted TCP segments from the kernel's address through the tap, and the
// stack's answers, for tests that include kernel_peer.hpp.
#pragma once

#include "kernel_peer.hpp"

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>

namespace kpeer
{

// Crafted segments from the kernel's address on the tap (a raw socket), and
// what the stack answers (a packet socket on the tap). Over IPv6 the IP
// header is ours too (IPPROTO_RAW), so a segment may come from any address.
class RawWire
{
  public:
    explicit RawWire(int family = AF_INET) : family_(family)
    {
        uint16_t proto = htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
        raw_ = socket(family, SOCK_RAW | SOCK_CLOEXEC, family == AF_INET ? IPPROTO_TCP : IPPROTO_RAW);
        tap_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = proto;
        ll.sll_ifindex = static_cast<int>(if_nametoindex("ucstap0"));
        ok_ = raw_ >= 0 && tap_ >= 0 && bind(tap_, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)) == 0;
    }
    ~RawWire()
    {
        close(raw_);
        close(tap_);
    }
    bool ok() const
    {
        return ok_;
    }
    // A segment from the kernel's address (over IPv6: from, if given); opts
    // padded to 4 bytes.
    void send(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, std::vector<uint8_t> opts = {},
              const char *from = nullptr)
    {
        while (opts.size() % 4)
            opts.push_back(1);
        std::vector<uint8_t> t(20 + opts.size(), 0);
        put(&t[0], sport, 2);
        put(&t[2], dport, 2);
        put(&t[4], seq, 4);
        put(&t[8], ack, 4);
        t[12] = static_cast<uint8_t>((t.size() / 4) << 4);
        t[13] = flags;
        put(&t[14], 65535, 2);
        std::copy(opts.begin(), opts.end(), t.begin() + 20);
        uint8_t src[16], dst[16];
        size_t alen = family_ == AF_INET ? 4 : 16;
        inet_pton(family_, from && family_ == AF_INET6 ? from : kernel_ip(family_), src);
        inet_pton(family_, stack_ip(family_), dst);
        put(&t[16], tcp_checksum(src, dst, t.data(), t.size(), alen), 2);
        std::vector<uint8_t> pkt;
        if (family_ == AF_INET6) {
            pkt.assign(40, 0);
            pkt[0] = 0x60;
            put(&pkt[4], static_cast<uint32_t>(t.size()), 2);
            pkt[6] = IPPROTO_TCP;
            pkt[7] = 64;
            std::copy(src, src + 16, pkt.begin() + 8);
            std::copy(dst, dst + 16, pkt.begin() + 24);
        }
        pkt.insert(pkt.end(), t.begin(), t.end());
        Addr to = make_addr(family_, stack_ip(family_), 0);
        EXPECT_EQ(sendto(raw_, pkt.data(), pkt.size(), 0, to.sa(), to.len), static_cast<ssize_t>(pkt.size()));
    }
    // Runs the stack until it sends a segment to dport with all of flags set;
    // its sequence number in *seq.
    bool wait(uint16_t dport, uint8_t flags, uint32_t *seq, int timeout_ms = 2000)
    {
        return pump_until(
            [&] {
                uint8_t b[2048];
                ssize_t n;
                while ((n = recv(tap_, b, sizeof(b), 0)) > 0) {
                    bool v4 = family_ == AF_INET;
                    size_t ihl = v4 ? static_cast<size_t>(b[0] & 0xf) * 4 : 40;
                    const uint8_t *t = b + ihl;
                    if (static_cast<size_t>(n) < ihl + 20 || b[v4 ? 9 : 6] != IPPROTO_TCP || get(t + 2, 2) != dport ||
                        (t[13] & flags) != flags)
                        continue;
                    *seq = get(t + 4, 4);
                    return true;
                }
                return false;
            },
            timeout_ms);
    }

  private:
    static void put(uint8_t *p, uint32_t v, int n)
    {
        for (int i = 0; i < n; i++)
            p[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
    }
    static uint32_t get(const uint8_t *p, int n)
    {
        uint32_t v = 0;
        for (int i = 0; i < n; i++)
            v = v << 8 | p[i];
        return v;
    }
    int family_, raw_ = -1, tap_ = -1;
    bool ok_ = false;
};

} // namespace kpeer
