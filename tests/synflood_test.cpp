// A spoofed SYN flood through the tap while the kernel connects for real, and
// listen backlogs as Linux keeps them. The flood comes from a raw socket on
// the kernel's side: SYNs from 16 addresses of the tap's subnet that nobody
// owns (the stack has static neighbour entries for them, so its SYN-ACKs go
// out on the wire, where the kernel drops them), random ports and sequence
// numbers, as fast as one thread can send, bounded by count and time.
#include "lwip/etharp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
// lwIP first: lwipopts.h would redefine what <netinet/tcp.h> defines
#include "kernel_peer.hpp"
#include "raw_wire.hpp"
#include "pcb_of.hpp"

#include <fstream>
#include <net/if.h>
#include <sstream>

using namespace kpeer;

namespace
{

constexpr int kSpoofed = 16; // 198.18.2.100 ...
constexpr unsigned kFloodMax = 300000;
constexpr int kFloodMs = 4000;
constexpr int kLegit = 20, kLegitMax = 200;

long long syn_retransmissions()
{
    std::ifstream in("/proc/net/netstat");
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        std::istringstream n(names), v(values);
        std::string a, b;
        n >> a;
        v >> b;
        if (a != "TcpExt:")
            continue;
        while (n >> a && v >> b)
            if (a == "TCPSynRetrans")
                return std::stoll(b);
    }
    return -1;
}

// Frames the kernel dropped on the tap because its queue to the stack was full.
long long tap_tx_dropped()
{
    std::ifstream in("/proc/net/dev");
    std::string line;
    while (std::getline(in, line)) {
        size_t at = line.find("ucstap0:");
        if (at == std::string::npos)
            continue;
        std::istringstream f(line.substr(at + 8));
        long long v[12] = {};
        for (auto &x : v)
            f >> x;
        return v[11]; // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs
                      // drop
    }
    return -1;
}

std::string spoofed_ip(int i)
{
    return "198.18.2." + std::to_string(100 + i);
}

// The stack reaches the spoofed addresses through the tap's kernel side.
class SpoofedNeighbours
{
  public:
    SpoofedNeighbours()
    {
        ifreq ifr{};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ucstap0");
        int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ok_ = ioctl(probe, SIOCGIFHWADDR, &ifr) == 0;
        close(probe);
        eth_addr mac{};
        memcpy(mac.addr, ifr.ifr_hwaddr.sa_data, sizeof(mac.addr));
        for (int i = 0; i < kSpoofed && ok_; i++) {
            ip4_addr_t a;
            ok_ = ip4addr_aton(spoofed_ip(i).c_str(), &a) == 1 && etharp_add_static_entry(&a, &mac) == ERR_OK;
        }
    }
    ~SpoofedNeighbours()
    {
        for (int i = 0; i < kSpoofed; i++) {
            ip4_addr_t a;
            if (ip4addr_aton(spoofed_ip(i).c_str(), &a) == 1)
                etharp_remove_static_entry(&a);
        }
    }
    bool ok() const
    {
        return ok_;
    }

  private:
    bool ok_ = false;
};

// SYNs from the spoofed addresses, until count or time runs out or stop is
// set, counted in sent as they go: as fast as the stack takes them, at most
// kFloodAhead ahead of the frames it has received (stack_rx, which the
// stack's thread publishes). Faster, the kernel drops frames at the tap's
// queue, the real clients' SYNs among them, before the stack could see them:
// that would measure the link, not the stack, which this keeps saturated.
constexpr unsigned kFloodAhead = 16;

void flood(uint16_t dport, const std::atomic<bool> &stop, std::atomic<unsigned> &sent,
           const std::atomic<uint64_t> &stack_rx, unsigned max = kFloodMax)
{
    int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (raw < 0)
        return;
    std::mt19937 rng(42);
    in_addr src[kSpoofed], dst{};
    for (int i = 0; i < kSpoofed; i++)
        inet_pton(AF_INET, spoofed_ip(i).c_str(), &src[i]);
    inet_pton(AF_INET, kStackV4, &dst);
    Addr to = make_addr(AF_INET, kStackV4, 0);
    uint8_t pkt[44] = {};
    uint64_t deadline = now_ms() + kFloodMs, rx0 = stack_rx;
    for (unsigned n = 0; n < max && !stop && ((n & 1023) || now_ms() < deadline); n++, sent++) {
        while (n > stack_rx - rx0 + kFloodAhead && !stop && now_ms() < deadline)
            sched_yield();
        uint8_t *ip = pkt, *t = pkt + 20;
        uint32_t r = rng(), seq = rng();
        ip[0] = 0x45; // the kernel fills in length, id and checksum (IP_HDRINCL)
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, &src[r % kSpoofed], 4);
        memcpy(ip + 16, &dst, 4);
        uint16_t sport = static_cast<uint16_t>(1024 + (r >> 8) % 60000);
        t[0] = static_cast<uint8_t>(sport >> 8);
        t[1] = static_cast<uint8_t>(sport);
        t[2] = static_cast<uint8_t>(dport >> 8);
        t[3] = static_cast<uint8_t>(dport);
        for (int i = 0; i < 4; i++)
            t[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
        memset(t + 8, 0, 4);
        t[12] = 6 << 4; // 24 bytes: an MSS option
        t[13] = 0x02;
        t[14] = 0xff;
        t[15] = 0xff;
        t[16] = t[17] = 0;
        const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
        memcpy(t + 20, mss, 4);
        uint16_t c = tcp_checksum(ip + 12, ip + 16, t, 24);
        t[16] = static_cast<uint8_t>(c >> 8);
        t[17] = static_cast<uint8_t>(c);
        sendto(raw, pkt, sizeof(pkt), 0, to.sa(), to.len); // a full tap queue drops: fine
    }
    close(raw);
}

// Every legitimate connection completes at once (no SYN of the kernel's is
// resent: its first retransmission would come after 1 s) while the flood is
// on, and the stack's memory stays bounded before, during and after.
TEST_F(KernelPeer, SpoofedSynFloodDoesNotKeepRealClientsOut)
{
    const uint16_t port = 7130;
    SpoofedNeighbours neighbours;
    ASSERT_TRUE(neighbours.ok());
    int l = stack_listener(AF_INET, port, 64);
    ucs_stack_stats before{}, after{};
    ucs_stack_get_stats(ucs_stack_current(), &before);
    long long retrans0 = syn_retransmissions(), dropped0 = tap_tx_dropped();
    ASSERT_GE(retrans0, 0);
    ASSERT_GE(dropped0, 0);

    std::atomic<bool> stop{false}, flooding{true}, legit_over{false};
    std::atomic<uint64_t> stack_rx{before.rx_frames}, cookies_sent{before.tcp_syn_cookies_sent};
    unsigned polls = 0;
    uint32_t max_pcbs = 0, min_free = UINT32_MAX;
    size_t heap0 = lwip_stats.mem.used, max_heap = heap0;
    // Every 64 polls: what the stack received (the flood paces itself by it),
    // and its memory in use.
    auto publish = [&] {
        if ((++polls & 63) == 0) {
            ucs_stack_stats st;
            ucs_stack_get_stats(ucs_stack_current(), &st);
            stack_rx = st.rx_frames;
            cookies_sent = st.tcp_syn_cookies_sent;
            max_pcbs = std::max(max_pcbs, st.tcp_pcbs);
            min_free = std::min(min_free, st.mbufs_free);
            max_heap = std::max(max_heap, static_cast<size_t>(lwip_stats.mem.used));
        }
    };
    std::atomic<unsigned> sent{0}, during_flood{0}, legit_done{0}, kernel_wscale{0};
    std::vector<unsigned> stack_wscale; // per accepted connection: what the stack took, or 99
    std::vector<uint64_t> connect_ms;
    Signal started;
    std::thread flooder([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        pthread_setaffinity_np(pthread_self(), sizeof(all_cpus), &all_cpus);
        started.set();
        flood(port, stop, sent, stack_rx);
        flooding = false;
    });
    Peer legit([&] {
        EXPECT_TRUE(started.wait(kKernelTimeoutMs));
        // Let the flood fill the SYN queue first: the stack answers with
        // cookies once it is full.
        while (flooding && cookies_sent.load() == before.tcp_syn_cookies_sent)
            sched_yield();
        // Real clients one after another for as long as the flood lasts (at
        // most kLegitMax).
        for (int i = 0; i < kLegit || (flooding && i < kLegitMax); i++) {
            uint64_t t0 = now_ms();
            bool on = flooding;
            int k = kconnect(AF_INET, port);
            // The client speaks first, as HTTP does: with a cookie the
            // server holds nothing until the handshake's last ACK, and if
            // that is lost only the client's data brings it again.
            EXPECT_EQ(send(k, "?", 1, MSG_NOSIGNAL), 1);
            // What the kernel took from the SYN-ACK (a cookie's, mostly).
            tcp_info ki{};
            socklen_t kl = sizeof(ki);
            EXPECT_EQ(getsockopt(k, IPPROTO_TCP, TCP_INFO, &ki, &kl), 0);
            EXPECT_EQ(ki.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE),
                      TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
            EXPECT_EQ(ki.tcpi_snd_wscale, TCP_RCV_SCALE);
            kernel_wscale = ki.tcpi_rcv_wscale;
            char b;
            ssize_t got = recv(k, &b, 1, 0);
            if (got != 1) {
                tcp_info ti{};
                socklen_t tl = sizeof(ti);
                getsockopt(k, IPPROTO_TCP, TCP_INFO, &ti, &tl);
                ADD_FAILURE() << "connection " << i << ": " << strerror(errno) << ", TCP state " << int(ti.tcpi_state)
                              << ", " << ti.tcpi_total_retrans << " retransmissions";
            }
            connect_ms.push_back(now_ms() - t0);
            during_flood += on && flooding;
            legit_done++;
            close(k);
        }
        legit_over = true;
    });
    unsigned accepted = 0;
    for (;;) {
        pollfd p = {l, POLLIN, 0};
        // Until the clients are done and nothing waits to be accepted.
        if (!pump_until(
                [&] {
                    publish();
                    return ucs_poll(&p, 1, 0) == 1 || (legit_over && accepted == legit_done);
                },
                2 * kKernelTimeoutMs) ||
            !(p.revents & POLLIN))
            break;
        int s = ucs_accept(l, nullptr, nullptr);
        if (s < 0)
            break;
        accepted++;
        char q;
        EXPECT_EQ(ucs_recv(s, &q, 1, 0), 1);
        // A cookie keeps window scale, SACK and timestamps in our TSval's low bits.
        tcp_pcb *pcb = pcb_of(s);
        const unsigned all = TF_TIMESTAMP | TF_SACK | TF_WND_SCALE;
        stack_wscale.push_back(pcb && (pcb->flags & all) == all ? pcb->snd_scale : 99);
        EXPECT_EQ(ucs_send(s, "!", 1, 0), 1);
        EXPECT_EQ(ucs_close(s), 0);
    }
    EXPECT_TRUE(legit.finish());
    // The flood runs its course (count or time); the stack keeps up with it.
    while (flooding) {
        ucs_stack_poll(ucs_stack_current());
        publish();
    }
    flooder.join();
    // The stack drains what the flood queued: until 1,000 polls receive nothing.
    for (uint64_t last = UINT64_MAX;;) {
        for (int i = 0; i < 1000; i++)
            ucs_stack_poll(ucs_stack_current());
        ucs_stack_get_stats(ucs_stack_current(), &after);
        if (after.rx_frames == last)
            break;
        last = after.rx_frames;
    }

    EXPECT_EQ(accepted, legit_done.load());
    for (unsigned w : stack_wscale)
        EXPECT_EQ(w, kernel_wscale.load()) << "99: the stack lost timestamps, SACK or window scale";
    EXPECT_GE(accepted, static_cast<unsigned>(kLegit));
    EXPECT_EQ(syn_retransmissions() - retrans0, 0) << "a real client's SYN went unanswered for 1 s";
    uint64_t worst = connect_ms.empty() ? 0 : *std::max_element(connect_ms.begin(), connect_ms.end());
    // The flood was real: on while the clients connected, and it filled the SYN queue.
    EXPECT_GE(during_flood.load(), static_cast<unsigned>(kLegit)) << "the flood ended before the clients";
    EXPECT_GT(after.tcp_syn_cookies_sent - before.tcp_syn_cookies_sent, 1000u);
    EXPECT_GT(after.tcp_syn_cookies_accepted - before.tcp_syn_cookies_accepted, 0u);
    // Bounded: at most the SYN queue of half-open pcbs, and mbufs come back.
    // (each real connection stays in TIME-WAIT: the stack closed first)
    EXPECT_LE(max_pcbs, before.tcp_pcbs + 128 + accepted + 8);
    EXPECT_LE(after.tcp_pcbs, before.tcp_pcbs + 128 + accepted + 8);
    EXPECT_GE(after.mbufs_free + 1024, before.mbufs_free);
    // (mbufs: at most a receive burst held at a time; the heap: the SYN
    // queue's SYN-ACKs, 128 bytes each here, and a real connection's few)
    EXPECT_GE(min_free + 64, before.mbufs_free);
    EXPECT_LE(max_heap, heap0 + 128 * 256 + 16384);
    EXPECT_LE(lwip_stats.mem.used, heap0 + 128 * 256);
    std::cout << "flood: " << sent.load() << " SYNs sent, " << after.rx_frames - before.rx_frames
              << " frames received by the stack, " << after.tcp_syn_cookies_sent - before.tcp_syn_cookies_sent
              << " cookies sent, " << after.tcp_syn_cookies_accepted - before.tcp_syn_cookies_accepted << " accepted; "
              << accepted << " real connections, slowest " << worst << " ms; pcbs " << before.tcp_pcbs << " / "
              << max_pcbs << " / " << after.tcp_pcbs << ", free mbufs " << before.mbufs_free << " / " << min_free
              << " / " << after.mbufs_free << ", lwIP heap " << heap0 << " / " << max_heap << " / "
              << lwip_stats.mem.used << " (before / during / after); the tap dropped "
              << tap_tx_dropped() - dropped0 << " frames\n";
    EXPECT_EQ(ucs_close(l), 0);
}

// ucs_listen() honours a backlog up to 4096 (lwIP's counter was 8 bits, 255):
// 2,000 kernel connects at once, nobody accepting until all are established,
// all get through.
TEST_F(KernelPeer, TwoThousandClientsConnectAtOnce)
{
    const uint16_t port = 7131;
    const int kClients = 2000;
    int l = stack_listener(AF_INET, port, 4096);
    long long retrans0 = syn_retransmissions();
    std::atomic<int> connected{0};
    std::vector<int> fds;
    Signal all_done;
    Peer peer([&] {
        for (int i = 0; i < kClients; i++) {
            int k = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            Addr a = make_addr(AF_INET, kStackV4, port);
            EXPECT_EQ(connect(k, a.sa(), a.len), -1);
            fds.push_back(k);
        }
        for (int k : fds) {
            pollfd p = {k, POLLOUT, 0};
            int err = -1;
            socklen_t el = sizeof(err);
            if (poll(&p, 1, kKernelTimeoutMs) == 1 && getsockopt(k, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && !err)
                connected++;
        }
        all_done.set();
    });
    ASSERT_TRUE(all_done.pump(3 * kKernelTimeoutMs));
    EXPECT_EQ(connected.load(), kClients);
    // All of them reach the accept queue (one whose last ACK the tap dropped
    // when its SYN-ACK is resent).
    int on = 1, accepted = 0;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    EXPECT_TRUE(pump_until(
        [&] {
            for (int s; (s = ucs_accept(l, nullptr, nullptr)) >= 0; accepted++)
                ucs_close(s);
            return accepted == kClients;
        },
        3 * kKernelTimeoutMs));
    EXPECT_EQ(accepted, kClients);
    EXPECT_TRUE(peer.finish());
    for (int k : fds)
        close(k);
    std::cout << kClients << " connects at once: " << connected.load() << " connected, " << accepted << " accepted, "
              << syn_retransmissions() - retrans0 << " SYNs resent by the kernel\n";
    EXPECT_EQ(ucs_close(l), 0);
}

// A cookie opens only the connection it was made for: once the SYN queue is
// full (400 spoofed SYNs), a crafted SYN gets a cookie; an ACK of it from
// another port, or with another number, is refused (reset) and counted; the
// right ACK opens the connection, which accept() returns.
TEST_F(KernelPeer, SynCookieOpensOnlyItsOwnConnection)
{
    const uint16_t port = 7132, kport = 40600;
    SpoofedNeighbours neighbours;
    ASSERT_TRUE(neighbours.ok());
    RawWire wire;
    ASSERT_TRUE(wire.ok());
    int l = stack_listener(AF_INET, port, 1);
    ucs_stack_stats before{}, after{};
    ucs_stack_get_stats(ucs_stack_current(), &before);
    std::atomic<bool> stop{false};
    std::atomic<unsigned> sent{0};
    std::atomic<uint64_t> stack_rx{before.rx_frames};
    std::atomic<bool> done{false};
    std::thread flooder([&] {
        flood(port, stop, sent, stack_rx, 400);
        done = true;
    });
    // The stack takes the SYNs (the flood waits for it); the tap may drop a
    // few, so twice the SYN queue's worth, until cookies answer.
    bool full = pump_until(
        [&] {
            ucs_stack_get_stats(ucs_stack_current(), &after);
            stack_rx = after.rx_frames;
            return done && after.tcp_syn_cookies_sent > before.tcp_syn_cookies_sent;
        },
        kKernelTimeoutMs);
    stop = true;
    flooder.join();
    ASSERT_TRUE(full) << "the SYN queue never filled";

    const std::vector<uint8_t> mss = {2, 4, 0x05, 0xb4};
    uint32_t cookie = 0;
    wire.send(kport, port, 1000, 0, 0x02, mss);
    ASSERT_TRUE(wire.wait(kport, 0x12, &cookie));
    ucs_stack_get_stats(ucs_stack_current(), &before);
    wire.send(kport + 1, port, 1001, cookie + 1, 0x10); // another 4-tuple
    wire.send(kport, port, 1001, cookie + 2, 0x10);     // another number
    uint32_t rst;
    ASSERT_TRUE(wire.wait(kport, 0x04, &rst));
    int on = 1, s = -1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1);
    ucs_stack_get_stats(ucs_stack_current(), &after);
    EXPECT_EQ(after.tcp_syn_cookies_rejected - before.tcp_syn_cookies_rejected, 2u);
    EXPECT_EQ(after.tcp_syn_cookies_accepted, before.tcp_syn_cookies_accepted);

    wire.send(kport, port, 1001, cookie + 1, 0x10);
    Addr from;
    ASSERT_TRUE(pump_until([&] { return (s = ucs_accept(l, from.sa(), &from.len)) >= 0; }, kKernelTimeoutMs));
    EXPECT_EQ(from.str(), ep(AF_INET, kKernelV4, kport));
    ucs_stack_get_stats(ucs_stack_current(), &after);
    EXPECT_EQ(after.tcp_syn_cookies_accepted - before.tcp_syn_cookies_accepted, 1u);
    EXPECT_EQ(ucs_close(s), 0);
    EXPECT_EQ(ucs_close(l), 0);
}

} // namespace
