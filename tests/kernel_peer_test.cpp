// Correctness against a TCP nobody here wrote: the Linux kernel is the peer,
// through a tap port (tests/kernel_peer.hpp sets it up).
extern "C" {
#include "../ucred/cred.h"
#include "cred_table.h"
}
#include "lwip/etharp.h"
// lwIP first: lwipopts.h would redefine what <netinet/tcp.h> defines
#include "kernel_peer.hpp"
#include "pcb_of.hpp"
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>

using namespace kpeer;

namespace {

// (1) The stack connects to a kernel listener and the kernel echoes 4 MiB back.
TEST_F(KernelPeer, StackConnectsKernelEchoes4MiB)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7101;
        auto out = random_bytes(4 << 20, 1);
        int kl = klistener(family, port);
        Addr kpeer;
        Peer peer([&] {
            int k = accept4(kl, kpeer.sa(), &kpeer.len, SOCK_CLOEXEC);
            ASSERT_GE(k, 0) << strerror(errno);
            char buf[65536];
            for (;;) {
                ssize_t n = recv(k, buf, sizeof(buf), 0);
                if (n <= 0) {
                    EXPECT_EQ(n, 0) << strerror(errno);
                    break;
                }
                if (!ksend_all(k, buf, static_cast<size_t>(n))) {
                    ADD_FAILURE() << "kernel echo send: " << strerror(errno);
                    break;
                }
            }
            close(k);
        });
        int c = stack_connect(family, port);
        ASSERT_GE(c, UCS_FD_BASE);
        EXPECT_EQ(stack_name(c, true).str(), ep(family, kernel_ip(family), port));
        Addr local = stack_name(c, false);
        auto in = stack_roundtrip(c, out);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(in.size(), out.size());
        EXPECT_TRUE(in == out) << "the echo differs";
        // Both ends agree on who the stack is.
        EXPECT_EQ(kpeer.str(), local.str());
        EXPECT_EQ(ucs_close(c), 0);
        close(kl);
    }
}

// (2) The kernel connects to a stack listener; the stack echoes 4 MiB back.
TEST_F(KernelPeer, KernelConnectsStackEchoes4MiB)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7102;
        auto out = random_bytes(4 << 20, 2);
        std::vector<char> in;
        Addr klocal;
        int l = stack_listener(family, port);
        Peer peer([&] {
            int k = kconnect(family, port);
            klocal = kname(k, false);
            std::thread writer([&] {
                EXPECT_TRUE(ksend_all(k, out.data(), out.size())) << strerror(errno);
                EXPECT_EQ(shutdown(k, SHUT_WR), 0);
            });
            char buf[65536];
            for (;;) {
                ssize_t n = recv(k, buf, sizeof(buf), 0);
                if (n <= 0) {
                    EXPECT_EQ(n, 0) << strerror(errno);
                    break;
                }
                in.insert(in.end(), buf, buf + n);
            }
            writer.join();
            close(k);
        });
        Addr from;
        int s = ucs_accept(l, from.sa(), &from.len);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        ucs_timeouts(s, kKernelTimeoutMs);
        size_t echoed = 0;
        for (;;) {
            char buf[65536];
            ssize_t n = ucs_recv(s, buf, sizeof(buf), 0);
            ASSERT_GE(n, 0) << "after " << echoed << " bytes: " << strerror(errno);
            if (n == 0)
                break;
            ASSERT_EQ(ucs_send(s, buf, static_cast<size_t>(n), 0), n) << strerror(errno);
            echoed += static_cast<size_t>(n);
        }
        EXPECT_EQ(echoed, out.size());
        EXPECT_EQ(ucs_close(s), 0);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(in.size(), out.size());
        EXPECT_TRUE(in == out) << "the echo differs";
        EXPECT_EQ(from.str(), klocal.str());
        EXPECT_EQ(ucs_close(l), 0);
    }
}

// (3a) The stack shuts down writing: the kernel reads EOF and can still send.
TEST_F(KernelPeer, StackHalfClosesKernelReadsEofAndStillSends)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7103;
        int kl = klistener(family, port);
        Peer peer([&] {
            int k = accept4(kl, nullptr, nullptr, SOCK_CLOEXEC);
            ASSERT_GE(k, 0) << strerror(errno);
            char buf[16];
            EXPECT_TRUE(krecv_exact(k, buf, 5));
            EXPECT_EQ(memcmp(buf, "hello", 5), 0);
            EXPECT_EQ(recv(k, buf, sizeof(buf), 0), 0) << strerror(errno); // EOF
            EXPECT_EQ(recv(k, buf, sizeof(buf), 0), 0) << strerror(errno); // and it stays
            EXPECT_EQ(send(k, "late reply", 10, MSG_NOSIGNAL), 10) << strerror(errno);
            close(k);
        });
        int c = stack_connect(family, port);
        ASSERT_GE(c, UCS_FD_BASE);
        ASSERT_EQ(ucs_send(c, "hello", 5, 0), 5) << strerror(errno);
        ASSERT_EQ(ucs_shutdown(c, SHUT_WR), 0) << strerror(errno);
        char buf[16];
        ASSERT_TRUE(stack_recv_exact(c, buf, 10)) << strerror(errno);
        EXPECT_EQ(memcmp(buf, "late reply", 10), 0);
        EXPECT_EQ(ucs_recv(c, buf, sizeof(buf), 0), 0) << strerror(errno);
        EXPECT_EQ(ucs_send(c, "x", 1, 0), -1);
        EXPECT_EQ(errno, EPIPE);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(ucs_close(c), 0);
        close(kl);
    }
    EXPECT_EQ(sigpipes.load(), 0);
}

// (3b) The kernel shuts down writing: ucs_recv reads EOF and the stack can still send.
TEST_F(KernelPeer, KernelHalfClosesStackReadsEofAndStillSends)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7104;
        int l = stack_listener(family, port);
        Peer peer([&] {
            int k = kconnect(family, port);
            EXPECT_TRUE(ksend_all(k, "hello", 5));
            EXPECT_EQ(shutdown(k, SHUT_WR), 0);
            char buf[16];
            EXPECT_TRUE(krecv_exact(k, buf, 10)) << strerror(errno);
            EXPECT_EQ(memcmp(buf, "late reply", 10), 0);
            EXPECT_EQ(recv(k, buf, sizeof(buf), 0), 0) << strerror(errno); // the stack closed
            close(k);
        });
        int s = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        ucs_timeouts(s, kKernelTimeoutMs);
        char buf[16];
        ASSERT_TRUE(stack_recv_exact(s, buf, 5)) << strerror(errno);
        EXPECT_EQ(memcmp(buf, "hello", 5), 0);
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0) << strerror(errno);
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0) << strerror(errno);
        EXPECT_EQ(ucs_send(s, "late reply", 10, 0), 10) << strerror(errno);
        EXPECT_EQ(ucs_close(s), 0);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(ucs_close(l), 0);
    }
}

// (4a) The stack closes with unread data (or with a zero linger): it resets, and
// the kernel's recv says ECONNRESET, its next send EPIPE.
TEST_F(KernelPeer, StackCloseWithUnreadDataResetsTheKernel)
{
    for (int family : {AF_INET, AF_INET6}) {
        for (bool zero_linger : {false, true}) {
            SCOPED_TRACE(std::string(family_name(family)) + (zero_linger ? ", zero linger" : ", unread data"));
            const uint16_t port = 7105;
            int kl = klistener(family, port);
            Signal sent;
            Peer peer([&] {
                int k = accept4(kl, nullptr, nullptr, SOCK_CLOEXEC);
                ASSERT_GE(k, 0) << strerror(errno);
                if (!zero_linger) {
                    EXPECT_TRUE(ksend_all(k, "unread", 6));
                }
                sent.set();
                char buf[16];
                EXPECT_EQ(recv(k, buf, sizeof(buf), 0), -1);
                EXPECT_EQ(errno, ECONNRESET) << strerror(errno);
                EXPECT_EQ(send(k, "x", 1, MSG_NOSIGNAL), -1);
                EXPECT_EQ(errno, EPIPE) << strerror(errno);
                close(k);
            });
            int c = stack_connect(family, port);
            ASSERT_GE(c, UCS_FD_BASE);
            ASSERT_TRUE(sent.pump());
            if (zero_linger) {
                linger lg = {1, 0};
                ASSERT_EQ(ucs_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
            } else {
                int avail = 0;
                ASSERT_TRUE(pump_until([&] { return ucs_ioctl(c, FIONREAD, &avail) == 0 && avail == 6; }, 5000))
                    << "FIONREAD " << avail;
            }
            EXPECT_EQ(ucs_close(c), 0);
            EXPECT_TRUE(peer.finish());
            close(kl);
        }
    }
}

// (4b) The kernel closes with unread data: ucs_recv says ECONNRESET, a later
// ucs_send EPIPE (and no SIGPIPE), a later ucs_recv 0, as Linux does.
TEST_F(KernelPeer, KernelCloseWithUnreadDataResetsTheStack)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7106;
        int l = stack_listener(family, port);
        Peer peer([&] {
            int k = kconnect(family, port);
            char c;
            EXPECT_EQ(recv(k, &c, 1, MSG_PEEK), 1) << strerror(errno); // there is unread data
            close(k);
        });
        int s = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        ucs_timeouts(s, kKernelTimeoutMs);
        ASSERT_EQ(ucs_send(s, "unread", 6, 0), 6) << strerror(errno);
        char buf[16];
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), -1);
        EXPECT_EQ(errno, ECONNRESET) << strerror(errno);
        EXPECT_EQ(ucs_send(s, "x", 1, 0), -1);
        EXPECT_EQ(errno, EPIPE) << strerror(errno);
        EXPECT_EQ(ucs_recv(s, buf, sizeof(buf), 0), 0) << strerror(errno);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(ucs_close(s), 0);
        EXPECT_EQ(ucs_close(l), 0);
    }
    EXPECT_EQ(sigpipes.load(), 0);
}

// (5) A kernel port nobody listens on: the kernel answers the SYN with a reset.
TEST_F(KernelPeer, ConnectToAClosedKernelPortIsRefused)
{
    const uint16_t port = 7107;
    // What the kernel itself reports for a refused non-blocking connect (over lo).
    const short asked = POLLIN | POLLOUT | POLLRDHUP | POLLRDNORM | POLLWRNORM;
    short kernel_revents;
    {
        int k = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        Addr a = make_addr(AF_INET, "127.0.0.1", port);
        ASSERT_EQ(connect(k, a.sa(), a.len), -1);
        ASSERT_EQ(errno, EINPROGRESS);
        pollfd p = {k, asked, 0};
        ASSERT_EQ(poll(&p, 1, 5000), 1);
        kernel_revents = p.revents;
        int err = 0;
        socklen_t el = sizeof(err);
        ASSERT_EQ(getsockopt(k, SOL_SOCKET, SO_ERROR, &err, &el), 0);
        ASSERT_EQ(err, ECONNREFUSED);
        close(k);
    }
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        Addr a = make_addr(family, kernel_ip(family), port);

        int c = ucs_socket(family, SOCK_STREAM, 0);
        ASSERT_GE(c, UCS_FD_BASE);
        ucs_timeouts(c, kKernelTimeoutMs);
        EXPECT_EQ(ucs_connect(c, a.sa(), a.len), -1);
        EXPECT_EQ(errno, ECONNREFUSED) << strerror(errno);
        EXPECT_EQ(ucs_close(c), 0);

        c = ucs_socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(c, UCS_FD_BASE);
        EXPECT_EQ(ucs_connect(c, a.sa(), a.len), -1);
        EXPECT_EQ(errno, EINPROGRESS) << strerror(errno);
        pollfd p = {c, asked, 0};
        ASSERT_EQ(ucs_poll(&p, 1, 5000), 1);
        EXPECT_EQ(p.revents, kernel_revents);
        EXPECT_TRUE(p.revents & POLLOUT);
        EXPECT_TRUE(p.revents & POLLERR);
        int err = -1;
        socklen_t el = sizeof(err);
        EXPECT_EQ(ucs_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
        EXPECT_EQ(err, ECONNREFUSED);
        EXPECT_EQ(ucs_getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
        EXPECT_EQ(err, 0); // reported once
        EXPECT_EQ(ucs_close(c), 0);
    }
}

// (6) A stack listener with backlog 1 that nobody accepts from.
//
// As Linux keeps its queues (stack/syn_cookie.c): half-open connections have a
// SYN queue of their own and do not count against the backlog; the accept
// queue (established, not accepted) holds the backlog. While it is full, new
// SYNs are dropped without a reply (the kernel stays in SYN_SENT past its first
// SYN retransmission, 1 s, with no reset), and so is the ACK that would
// complete a half-open connection, which stays half-open. Once ucs_accept()
// has taken the first, the kernel's next SYN retransmissions are answered: both
// kernel connects complete; the stack establishes one at once and the other
// (whose final ACK found the queue full again) after the next accept, from the
// kernel's answer to a resent SYN-ACK. lwIP 2.1.3 counted half-open
// connections against the backlog; Linux lets backlog + 1 wait in its accept
// queue, we let the backlog.
TEST_F(KernelPeer, ListenBacklogFullDropsFurtherSyns)
{
    const uint16_t port = 7108;
    int l = stack_listener(AF_INET, port, 1);
    Signal first_connected, queue_full, phase1_done, first_accepted, rest_connected;
    Addr kname_first;
    Peer peer([&] {
        int k[3];
        for (int &fd : k)
            fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        Addr a = make_addr(AF_INET, kStackV4, port);
        EXPECT_EQ(connect(k[0], a.sa(), a.len), -1);
        EXPECT_EQ(errno, EINPROGRESS);
        pollfd first = {k[0], POLLOUT, 0};
        EXPECT_EQ(poll(&first, 1, 5000), 1);
        int err = -1;
        socklen_t el = sizeof(err);
        EXPECT_EQ(getsockopt(k[0], SOL_SOCKET, SO_ERROR, &err, &el), 0);
        EXPECT_EQ(err, 0);
        kname_first = kname(k[0], false);
        first_connected.set();
        EXPECT_TRUE(queue_full.wait(kKernelTimeoutMs));
        for (int i = 1; i < 3; i++) {
            EXPECT_EQ(connect(k[i], a.sa(), a.len), -1);
            EXPECT_EQ(errno, EINPROGRESS);
        }
        pollfd rest[2] = {{k[1], POLLOUT, 0}, {k[2], POLLOUT, 0}};
        EXPECT_EQ(poll(rest, 2, 1500), 0) << "a connect beyond the backlog completed or was refused: "
                                           << rest[0].revents << " " << rest[1].revents;
        phase1_done.set();
        EXPECT_TRUE(first_accepted.wait(kKernelTimeoutMs));
        for (auto &p : rest) {
            EXPECT_EQ(poll(&p, 1, 5000), 1) << "a connect did not complete after accept freed a place";
            EXPECT_EQ(p.revents, POLLOUT);
            EXPECT_EQ(getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
            EXPECT_EQ(err, 0);
        }
        rest_connected.set();
        // Open until the stack has accepted them (the last one completes on
        // the stack's side only when its SYN-ACK is resent).
        char b;
        timeval tv = {kKernelTimeoutMs / 1000, 0};
        for (int i = 1; i < 3; i++) {
            EXPECT_EQ(fcntl(k[i], F_SETFL, 0), 0);
            EXPECT_EQ(setsockopt(k[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
            EXPECT_EQ(recv(k[i], &b, 1, 0), 0) << strerror(errno);
        }
        for (int fd : k)
            close(fd);
    });
    ASSERT_TRUE(first_connected.pump());
    pollfd lp = {l, POLLIN, 0};
    ASSERT_EQ(ucs_poll(&lp, 1, kKernelTimeoutMs), 1) << "the first connection never reached the accept queue";
    queue_full.set();
    ASSERT_TRUE(phase1_done.pump());
    Addr from;
    int s1 = ucs_accept(l, from.sa(), &from.len);
    ASSERT_GE(s1, UCS_FD_BASE) << strerror(errno);
    EXPECT_EQ(from.str(), kname_first.str());
    // Nothing else was let in.
    int on = 1;
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &on), 0);
    EXPECT_EQ(ucs_accept(l, nullptr, nullptr), -1);
    EXPECT_EQ(errno, EAGAIN);
    ASSERT_EQ(ucs_ioctl(l, FIONBIO, &(on = 0)), 0);
    first_accepted.set();
    ASSERT_TRUE(rest_connected.pump());
    int s2 = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s2, UCS_FD_BASE) << strerror(errno);
    EXPECT_EQ(ucs_close(s2), 0);
    int s3 = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s3, UCS_FD_BASE) << strerror(errno);
    EXPECT_EQ(ucs_close(s3), 0);
    EXPECT_TRUE(peer.finish());
    EXPECT_EQ(ucs_close(s1), 0);
    EXPECT_EQ(ucs_close(l), 0);
}

// The kernel's IPv4 address, gone until the end of the scope: frames for it are
// then dropped without a reply (no forwarding in this namespace), as if the
// peer had vanished.
class KernelAddressGone {
  public:
    KernelAddressGone() { gone_ = sh("ip addr del 198.18.2.1/24 dev ucstap0") == 0; }
    ~KernelAddressGone()
    {
        if (gone_) {
            EXPECT_EQ(sh("ip addr add 198.18.2.1/24 dev ucstap0"), 0);
        }
    }
    bool gone() const { return gone_; }

  private:
    bool gone_;
};

// (7) Keepalive: probes the kernel answers keep the connection; once the kernel
// vanishes (no FIN, no RST), the connection fails with ETIMEDOUT on the slow
// tick past idle + count * interval since its last segment. lwIP reports the
// keepalive timeout as an abort (ERR_ABRT), which libsock maps to ETIMEDOUT,
// as Linux reports it. The test drives lwIP's timers (tcp_tmr: a slow tick
// every other call) and counts in ticks; only the kernel's answers take real
// time, and the test waits for each (the probe count going back to 0).
TEST_F(KernelPeer, KeepaliveDetectsAVanishedPeer)
{
    const uint16_t port = 7109;
    int kl = klistener(AF_INET, port);
    Signal done;
    Peer peer([&] {
        int k = accept4(kl, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(k, 0) << strerror(errno);
        EXPECT_TRUE(ksend_all(k, "!", 1));
        EXPECT_TRUE(done.wait(2 * kKernelTimeoutMs));
        close(k);
    });
    int c = stack_connect(AF_INET, port);
    ASSERT_GE(c, UCS_FD_BASE);
    int v = 1, out = 0;
    socklen_t ol = sizeof(out);
    ASSERT_EQ(ucs_setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)), 0);
    ASSERT_EQ(ucs_setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)), 0);
    ASSERT_EQ(ucs_setsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v)), 0);
    ASSERT_EQ(ucs_setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &(v = 2), sizeof(v)), 0);
    EXPECT_EQ(ucs_getsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &out, &ol), 0);
    EXPECT_EQ(out, 2);
    char buf[4];
    ASSERT_EQ(ucs_recv(c, buf, sizeof(buf), 0), 1) << strerror(errno);
    struct tcp_pcb *pcb = pcb_of(c);
    ASSERT_NE(pcb, nullptr);
    const u32_t give_up = (1000 + 2 * 1000) / TCP_SLOW_INTERVAL; // idle + count * interval, in ticks

    // The kernel answers the probes: the connection outlives 3 x (idle + 2
    // intervals), which it could not without the answers.
    int answered = 0;
    u32_t start = tcp_ticks;
    while (tcp_ticks - start < 3 * give_up) {
        tcp_tmr();
        tcp_tmr();
        ucs_stack_poll(ucs_stack_current());
        if (pcb->keep_cnt_sent == 0)
            continue;
        uint64_t deadline = now_ms() + kKernelTimeoutMs;
        while (pcb->keep_cnt_sent != 0 && now_ms() < deadline)
            ucs_stack_poll(ucs_stack_current());
        ASSERT_EQ(pcb->keep_cnt_sent, 0u) << "the kernel did not answer probe " << answered + 1;
        answered++;
    }
    EXPECT_GE(answered, 3);
    EXPECT_EQ(ucs_recv(c, buf, sizeof(buf), MSG_DONTWAIT), -1);
    EXPECT_EQ(errno, EAGAIN) << strerror(errno);

    {
        KernelAddressGone vanished;
        ASSERT_TRUE(vanished.gone());
        u32_t last_segment = pcb->tmr, ticks_at_error = 0;
        // Whether the connection has failed (its pcb is gone then), noting the tick.
        auto failed = [&] {
            if (ucs_recv(c, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno == EAGAIN)
                return false;
            EXPECT_EQ(errno, ETIMEDOUT) << strerror(errno);
            ticks_at_error = tcp_ticks;
            return true;
        };
        // No ucs_stack_poll here: its clock would tick too, several times
        // after a slow step, and only these calls may move tcp_ticks. The
        // probes wait in the port's queue; nobody would answer them.
        for (u32_t i = 0; i < 2 * give_up; i++) {
            tcp_tmr();
            tcp_tmr();
            if (failed())
                break;
            EXPECT_EQ(pcb->tmr, last_segment) << "a segment from a vanished peer";
        }
        EXPECT_EQ(ticks_at_error - last_segment, give_up + 1) << "not on the tick lwIP gives up";
        EXPECT_EQ(ucs_send(c, "x", 1, 0), -1);
        EXPECT_EQ(errno, EPIPE) << strerror(errno);
        EXPECT_EQ(ucs_close(c), 0);
    }
    done.set();
    EXPECT_TRUE(peer.finish());
    close(kl);
}

// (8) UDP both ways, IPv4 and IPv6, with the sender's address checked; the
// large datagrams cross the link as IP fragments.
TEST_F(KernelPeer, UdpBothWays)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t kport = 7110, sport = 7111;
        auto big_out = random_bytes(4000, 3), big_in = random_bytes(5000, 4);
        Addr kaddr = make_addr(family, kernel_ip(family), kport);
        Addr saddr = make_addr(family, stack_ip(family), sport);

        int k = ksocket(family, SOCK_DGRAM);
        ASSERT_EQ(bind(k, kaddr.sa(), kaddr.len), 0) << strerror(errno);
        int u = ucs_socket(family, SOCK_DGRAM, 0);
        ASSERT_GE(u, UCS_FD_BASE);
        ASSERT_EQ(ucs_bind(u, saddr.sa(), saddr.len), 0) << strerror(errno);
        ucs_timeouts(u, kKernelTimeoutMs);

        Signal kernel_got;
        Peer peer([&] {
            std::vector<char> buf(65536);
            Addr from;
            EXPECT_EQ(recvfrom(k, buf.data(), buf.size(), 0, from.sa(), &from.len), 9) << strerror(errno);
            EXPECT_EQ(memcmp(buf.data(), "to kernel", 9), 0);
            EXPECT_EQ(from.str(), saddr.str());
            from = Addr();
            EXPECT_EQ(recvfrom(k, buf.data(), buf.size(), 0, from.sa(), &from.len),
                      static_cast<ssize_t>(big_out.size()))
                << strerror(errno);
            EXPECT_EQ(memcmp(buf.data(), big_out.data(), big_out.size()), 0);
            EXPECT_EQ(from.str(), saddr.str());
            kernel_got.set();
            EXPECT_EQ(sendto(k, "to stack", 8, 0, saddr.sa(), saddr.len), 8) << strerror(errno);
            EXPECT_EQ(sendto(k, big_in.data(), big_in.size(), 0, saddr.sa(), saddr.len),
                      static_cast<ssize_t>(big_in.size()))
                << strerror(errno);
        });
        ASSERT_EQ(ucs_sendto(u, "to kernel", 9, 0, kaddr.sa(), kaddr.len), 9) << strerror(errno);
        ASSERT_EQ(ucs_sendto(u, big_out.data(), big_out.size(), 0, kaddr.sa(), kaddr.len),
                  static_cast<ssize_t>(big_out.size()))
            << strerror(errno);
        EXPECT_TRUE(kernel_got.pump());
        std::vector<char> buf(65536);
        Addr from;
        EXPECT_EQ(ucs_recvfrom(u, buf.data(), buf.size(), 0, from.sa(), &from.len), 8) << strerror(errno);
        EXPECT_EQ(memcmp(buf.data(), "to stack", 8), 0);
        EXPECT_EQ(from.str(), kaddr.str());
        from = Addr();
        EXPECT_EQ(ucs_recvfrom(u, buf.data(), buf.size(), 0, from.sa(), &from.len),
                  static_cast<ssize_t>(big_in.size()))
            << strerror(errno);
        EXPECT_EQ(memcmp(buf.data(), big_in.data(), big_in.size()), 0);
        EXPECT_EQ(from.str(), kaddr.str());
        EXPECT_TRUE(peer.finish());

        // A connected stack socket: ucs_send and ucs_recv.
        ASSERT_EQ(ucs_connect(u, kaddr.sa(), kaddr.len), 0) << strerror(errno);
        Peer peer2([&] {
            char b[16];
            Addr f;
            EXPECT_EQ(recvfrom(k, b, sizeof(b), 0, f.sa(), &f.len), 4) << strerror(errno);
            EXPECT_EQ(memcmp(b, "ping", 4), 0);
            EXPECT_EQ(f.str(), saddr.str());
            EXPECT_EQ(sendto(k, "pong", 4, 0, saddr.sa(), saddr.len), 4) << strerror(errno);
        });
        ASSERT_EQ(ucs_send(u, "ping", 4, 0), 4) << strerror(errno);
        char b[16];
        EXPECT_EQ(ucs_recv(u, b, sizeof(b), 0), 4) << strerror(errno);
        EXPECT_EQ(memcmp(b, "pong", 4), 0);
        EXPECT_TRUE(peer2.finish());
        EXPECT_EQ(ucs_close(u), 0);
        close(k);
    }
}

} // namespace

// A peer across a port that is not host-local sends no credential: connected,
// but the peer's credential is unknown (EINVAL), in both roles. Before the
// connection exists, and after it is gone, there is no peer (ENOTCONN).
TEST_F(KernelPeer, CredentialsOfARemotePeerAreUnknown)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        const uint16_t port = 7111;
        ucred_t *uc = nullptr;
        int kl = klistener(family, port);
        Peer peer([&] {
            int k = accept4(kl, nullptr, nullptr, SOCK_CLOEXEC);
            ASSERT_GE(k, 0) << strerror(errno);
            char b;
            EXPECT_EQ(recv(k, &b, 1, 0), 0);
            close(k);
        });
        int c = ucs_socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        Addr a = make_addr(family, kernel_ip(family), port);
        ASSERT_EQ(ucs_connect(c, a.sa(), a.len), -1);
        ASSERT_EQ(errno, EINPROGRESS);
        EXPECT_EQ(getpeerucred(c, &uc), -1);
        EXPECT_EQ(errno, ENOTCONN) << "while connecting";
        pollfd pfd = {c, POLLOUT, 0};
        ASSERT_EQ(ucs_poll(&pfd, 1, kKernelTimeoutMs), 1);
        EXPECT_EQ(getpeerucred(c, &uc), -1);
        EXPECT_EQ(errno, EINVAL) << "connected to the kernel";
        EXPECT_EQ(uc, nullptr);
        EXPECT_EQ(ucs_shutdown(c, SHUT_WR), 0);
        EXPECT_TRUE(peer.finish());
        EXPECT_EQ(ucs_close(c), 0);
        EXPECT_EQ(getpeerucred(c, &uc), -1);
        EXPECT_EQ(errno, EBADF) << "closed";
        close(kl);

        int l = stack_listener(family, port);
        Peer kernel([&] {
            int k = kconnect(family, port);
            char b;
            EXPECT_EQ(recv(k, &b, 1, 0), 0);
            close(k);
        });
        int s = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(s, UCS_FD_BASE) << strerror(errno);
        EXPECT_EQ(getpeerucred(s, &uc), -1);
        EXPECT_EQ(errno, EINVAL) << "accepted from the kernel";
        EXPECT_EQ(ucs_close(s), 0);
        EXPECT_TRUE(kernel.finish());
        EXPECT_EQ(ucs_close(l), 0);
    }
}

// The kernel answers a datagram to a closed port with ICMP port unreachable;
// a connected UDP socket then reports ECONNREFUSED once, as on Linux.
TEST_F(KernelPeer, UdpToAClosedKernelPortIsRefused)
{
    for (int family : {AF_INET, AF_INET6}) {
        SCOPED_TRACE(family_name(family));
        int u = ucs_socket(family, SOCK_DGRAM, 0);
        ucs_timeouts(u, kKernelTimeoutMs);
        Addr to = make_addr(family, kernel_ip(family), 7113);
        ASSERT_EQ(ucs_connect(u, to.sa(), to.len), 0) << strerror(errno);
        ASSERT_EQ(ucs_send(u, "anyone?", 7, 0), 7) << strerror(errno);
        char buf[8];
        EXPECT_EQ(ucs_recv(u, buf, sizeof(buf), 0), -1);
        EXPECT_EQ(errno, ECONNREFUSED);
        EXPECT_EQ(ucs_recv(u, buf, sizeof(buf), MSG_DONTWAIT), -1);
        EXPECT_EQ(errno, EAGAIN);
        EXPECT_EQ(ucs_close(u), 0);
    }
}

// A segment from the wire (the kernel's side of the tap, not a host-local
// link), built by hand from 198.18.2.3, an address the kernel does not own: it
// drops the stack's answers there without a reset, so the test can finish the
// handshake itself. A SYN carries the credential option naming ref.
const char *const kForgerV4 = "198.18.2.3";

std::vector<uint8_t> forged_segment(uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, const ucs_cred_ref *ref)
{
    size_t hdr = ref ? 40 : 20;
    std::vector<uint8_t> pkt(20 + hdr, 0);
    uint8_t *ip = pkt.data(), *seg = ip + 20;
    in_addr src{}, dst{};
    inet_pton(AF_INET, kForgerV4, &src);
    inet_pton(AF_INET, kStackV4, &dst);
    ip[0] = 0x45; // the kernel fills in the length, id and checksum (IP_HDRINCL)
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    memcpy(ip + 12, &src, 4);
    memcpy(ip + 16, &dst, 4);
    auto put32 = [](uint8_t *p, uint32_t v) {
        p[0] = static_cast<uint8_t>(v >> 24);
        p[1] = static_cast<uint8_t>(v >> 16);
        p[2] = static_cast<uint8_t>(v >> 8);
        p[3] = static_cast<uint8_t>(v);
    };
    seg[0] = 0x9c; // source port 40000
    seg[1] = 0x40;
    seg[2] = static_cast<uint8_t>(dport >> 8);
    seg[3] = static_cast<uint8_t>(dport);
    put32(seg + 4, seq);
    put32(seg + 8, ack);
    seg[12] = static_cast<uint8_t>((hdr / 4) << 4);
    seg[13] = flags;
    seg[14] = 0xff; // window
    seg[15] = 0xff;
    if (ref) {
        const uint8_t mss[4] = {2, 4, 0x05, 0xb4}; // 1460
        const uint8_t cred[8] = {
            253, 16, 0x75, 0x63, 1, 0, static_cast<uint8_t>(ref->slot >> 8), static_cast<uint8_t>(ref->slot)};
        memcpy(seg + 20, mss, sizeof(mss));
        memcpy(seg + 24, cred, sizeof(cred));
        put32(seg + 32, static_cast<uint32_t>(ref->pid));
        put32(seg + 36, ref->gen);
    }
    uint16_t c = tcp_checksum(ip + 12, ip + 16, seg, hdr);
    seg[16] = static_cast<uint8_t>(c >> 8);
    seg[17] = static_cast<uint8_t>(c);
    return pkt;
}

// The stack's SYN-ACK to the forger, as the tap's kernel side sees it go by.
bool syn_ack_seen(int packet, uint16_t port, uint32_t *seq)
{
    uint8_t buf[256];
    in_addr forger{};
    inet_pton(AF_INET, kForgerV4, &forger);
    ssize_t n;
    while ((n = recv(packet, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        size_t ihl = static_cast<size_t>(buf[0] & 0xf) * 4;
        const uint8_t *seg = buf + ihl;
        if (static_cast<size_t>(n) < ihl + 20 || buf[9] != IPPROTO_TCP || memcmp(buf + 16, &forger, 4) ||
            (seg[0] << 8 | seg[1]) != port || seg[13] != 0x12)
            continue;
        *seq = static_cast<uint32_t>(seg[4]) << 24 | static_cast<uint32_t>(seg[5]) << 16 |
               static_cast<uint32_t>(seg[6]) << 8 | seg[7];
        return true;
    }
    return false;
}

// Credentials never come from the wire: a crafted SYN that arrives through a
// port that is not host-local, naming a credential the stack could resolve (a
// root one in this process's own table), completes its handshake, but the
// option is ignored and counted and the accepted socket's peer is unknown.
TEST_F(KernelPeer, CredentialOptionFromTheWireIsIgnoredAndCounted)
{
    const uint16_t port = 7112;
    ucs_cred *root = ucs_cred_capture();
    ASSERT_NE(root, nullptr);
    ucs_cred_ref ref{};
    ASSERT_EQ(ucs_cred_table_publish(root, &ref), 0);
    ucs_cred *check = nullptr;
    ASSERT_EQ(ucs_cred_table_resolve(&ref, &check), UCS_CRED_OK) << "the forged reference would not resolve anyway";
    ucs_cred_release(check);

    // The stack reaches the forger's address through the tap's kernel side.
    ifreq ifr{};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ucstap0");
    int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(ioctl(probe, SIOCGIFHWADDR, &ifr), 0) << strerror(errno);
    close(probe);
    eth_addr mac{};
    memcpy(mac.addr, ifr.ifr_hwaddr.sa_data, sizeof(mac.addr));
    ip4_addr_t forger;
    ASSERT_EQ(ip4addr_aton(kForgerV4, &forger), 1);
    ASSERT_EQ(etharp_add_static_entry(&forger, &mac), ERR_OK);

    int l = stack_listener(AF_INET, port);
    ucs_cred_option_stats before, after;
    ucs_get_cred_option_stats(&before);
    int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    ASSERT_GE(raw, 0) << strerror(errno);
    int packet = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
    ASSERT_GE(packet, 0) << strerror(errno);
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = static_cast<int>(if_nametoindex("ucstap0"));
    ASSERT_EQ(bind(packet, reinterpret_cast<sockaddr *>(&ll), sizeof(ll)), 0) << strerror(errno);
    Addr to = make_addr(AF_INET, kStackV4, 0);

    auto syn = forged_segment(port, 0x02, 1, 0, &ref);
    ASSERT_EQ(sendto(raw, syn.data(), syn.size(), 0, to.sa(), to.len), static_cast<ssize_t>(syn.size()))
        << strerror(errno);
    uint32_t isn = 0;
    ASSERT_TRUE(pump_until([&] { return syn_ack_seen(packet, port, &isn); }, kKernelTimeoutMs));
    auto ack = forged_segment(port, 0x10, 2, isn + 1, nullptr);
    ASSERT_EQ(sendto(raw, ack.data(), ack.size(), 0, to.sa(), to.len), static_cast<ssize_t>(ack.size()))
        << strerror(errno);
    int s = ucs_accept(l, nullptr, nullptr);
    ASSERT_GE(s, UCS_FD_BASE) << "the forged handshake did not complete: " << strerror(errno);
    ucred_t *uc = nullptr;
    EXPECT_EQ(getpeerucred(s, &uc), -1);
    EXPECT_EQ(errno, EINVAL) << "a credential from the wire was believed";
    EXPECT_EQ(uc, nullptr);
    ucs_get_cred_option_stats(&after);
    EXPECT_EQ(after.ignored_foreign_link - before.ignored_foreign_link, 1u);
    EXPECT_EQ(after.received, before.received) << "a credential from the wire was believed";

    EXPECT_EQ(ucs_close(s), 0);
    EXPECT_EQ(ucs_close(l), 0);
    etharp_remove_static_entry(&forger);
    close(packet);
    close(raw);
    ucs_cred_release(root);
}

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    signal(SIGPIPE, [](int) { sigpipes++; });
    ::testing::AddGlobalTestEnvironment(new KernelPeerEnvironment);
    return RUN_ALL_TESTS();
}
