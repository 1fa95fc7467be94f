// Receive buffers running short: the stack's tap port has 2,047 of them (4 MB)
// and loses and reorders what it receives, and 16 kernel connections send it
// 2 MiB each while the stack reads slowly, a little from each in turn: their
// windows (2 MiB each) offer eight times the pool. Out-of-order data is shed
// first, in-order data moves to the heap while buffers are short, and every
// byte arrives, in order; afterwards every buffer is free again.
#include "lwip/priv/tcp_priv.h"
// lwIP first: lwipopts.h would redefine what <netinet/tcp.h> defines
#include "kernel_peer.hpp"

using namespace kpeer;

namespace
{

constexpr int kConns = 16;
constexpr size_t kBytes = 2 << 20;

TEST_F(KernelPeer, ShortReceiveBuffersShedOutOfOrderDataAndLoseNothing)
{
    const uint16_t port = 7140;
    int l = stack_listener(AF_INET, port, 64);
    ucs_stack_stats before{}, after{};
    ucs_stack_get_stats(ucs_stack_current(), &before);
    std::vector<std::vector<char>> out;
    for (int i = 0; i < kConns; i++)
        out.push_back(random_bytes(kBytes, 100 + static_cast<unsigned>(i)));
    Peer peer([&] {
        std::vector<std::thread> senders;
        for (int i = 0; i < kConns; i++)
            senders.emplace_back([&, i] {
                int k = kconnect(AF_INET, port);
                // The stack reads slowly: sending and waiting for its close take a while.
                timeval tv = {120, 0};
                EXPECT_EQ(setsockopt(k, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
                EXPECT_EQ(setsockopt(k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
                EXPECT_TRUE(ksend_all(k, &i, sizeof(i))) << strerror(errno);
                EXPECT_TRUE(ksend_all(k, out[static_cast<size_t>(i)].data(), kBytes)) << strerror(errno);
                EXPECT_EQ(shutdown(k, SHUT_WR), 0);
                char b;
                EXPECT_EQ(recv(k, &b, 1, 0), 0); // until the stack has read it all and closed
                close(k);
            });
        for (auto &t : senders)
            t.join();
    });
    int fds[kConns];
    for (int &fd : fds) {
        fd = ucs_accept(l, nullptr, nullptr);
        ASSERT_GE(fd, UCS_FD_BASE) << strerror(errno);
        int on = 1;
        ASSERT_EQ(ucs_ioctl(fd, FIONBIO, &on), 0);
    }
    // Slow readers: 1 KiB from each in turn per pass.
    std::vector<std::vector<char>> in(kConns);
    int who[kConns];
    bool eof[kConns] = {};
    int open = kConns;
    uint32_t min_free = UINT32_MAX;
    uint64_t deadline = now_ms() + 120000;
    for (int i = 0; i < kConns; i++)
        who[i] = -1;
    while (open && now_ms() < deadline) {
        ucs_stack_poll(ucs_stack_current());
        for (int i = 0; i < kConns; i++) {
            if (eof[i])
                continue;
            char buf[1024];
            ssize_t n = ucs_recv(fds[i], buf, sizeof(buf), 0);
            if (n > 0) {
                in[static_cast<size_t>(i)].insert(in[static_cast<size_t>(i)].end(), buf, buf + n);
            } else if (n == 0) {
                eof[i] = true;
                open--;
                EXPECT_EQ(ucs_close(fds[i]), 0);
            } else {
                ASSERT_EQ(errno, EAGAIN) << strerror(errno);
            }
        }
        ucs_stack_stats st;
        ucs_stack_get_stats(ucs_stack_current(), &st);
        min_free = std::min(min_free, st.mbufs_free);
    }
    EXPECT_EQ(open, 0) << "stalled";
    EXPECT_TRUE(peer.finish(120000));
    for (int i = 0; i < kConns; i++) {
        auto &v = in[static_cast<size_t>(i)];
        ASSERT_GE(v.size(), sizeof(int));
        memcpy(&who[i], v.data(), sizeof(int));
        ASSERT_GE(who[i], 0);
        ASSERT_LT(who[i], kConns);
        EXPECT_EQ(v.size(), kBytes + sizeof(int));
        EXPECT_TRUE(std::equal(v.begin() + sizeof(int), v.end(), out[static_cast<size_t>(who[i])].begin()))
            << "connection " << i << " differs";
    }
    // Every buffer comes back once the connections are gone.
    EXPECT_TRUE(pump_until(
        [&] {
            ucs_stack_get_stats(ucs_stack_current(), &after);
            return after.mbufs_free >= before.mbufs_free;
        },
        10000))
        << after.mbufs_free << " free, " << before.mbufs_free << " before";
    EXPECT_GT(after.rx_pressure - before.rx_pressure, 0u) << "the buffers never ran short";
    EXPECT_GT(after.fault_dropped - before.fault_dropped, 0u);
    std::cout << kConns << " x " << (kBytes >> 20) << " MiB through 2,047 receive buffers: " << min_free
              << " buffers free at the lowest (of " << before.mbufs_free << "), short "
              << after.rx_pressure - before.rx_pressure << " times, " << after.rx_ooseq_shed - before.rx_ooseq_shed
              << " out-of-order segments shed, " << after.rx_copied - before.rx_copied << " pbufs copied, "
              << after.fault_dropped - before.fault_dropped << " frames lost and "
              << after.fault_reordered - before.fault_reordered << " reordered on the way\n";
    EXPECT_EQ(ucs_close(l), 0);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    signal(SIGPIPE, [](int) { sigpipes++; });
    kpeer::extra_port_config = "rx_mbufs = 2047\nfault = loss=0.5%,reorder=2%,seed=7\n";
    ::testing::AddGlobalTestEnvironment(new KernelPeerEnvironment);
    return RUN_ALL_TESTS();
}
