// Connections over loopback inside one process, for the tests that drive
// lwIP's timers themselves (tcp_tmr: the fast timer each call, the slow one
// every other): loopback frames move only when the test says so.
#pragma once

#include <ucstack/socket.h>
#include <ucstack/stack.h>

extern "C" {
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "tcp_timer_list.h"
}

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <gtest/gtest.h>
#include <utility>
#include <vector>

using Pair = std::pair<int, int>; // client fd, server fd

inline double now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

inline void poll_stack()
{
    ucs_stack_poll(ucs_stack_current());
}

// Delivers the frames waiting on loopback without running lwIP's timers,
// which ucs_stack_poll does by the clock.
inline void deliver_frames()
{
    netif_poll_all();
}

inline struct ucs_tcp_timer_stats timer_stats()
{
    struct ucs_tcp_timer_stats s;
    ucs_tcp_timer_get_stats(&s);
    return s;
}

// Ticks of the slow timer (tcp_ticks counts them) by calling tcp_tmr.
inline void slow_ticks(unsigned n)
{
    for (unsigned i = 0; i < 2 * n; i++)
        tcp_tmr();
}

// n established connections to port over loopback, accepted.
inline std::vector<Pair> open_pairs(int n, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    EXPECT_EQ(ucs_bind(listener, (sockaddr *)&a, sizeof(a)), 0);
    EXPECT_EQ(ucs_listen(listener, 4096), 0);
    std::vector<int> clients, servers;
    double deadline = now() + 60;
    while ((int)servers.size() < n && now() < deadline) {
        while ((int)clients.size() < n && clients.size() - servers.size() < 200) {
            int fd = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int rc = ucs_connect(fd, (sockaddr *)&a, sizeof(a));
            EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
            clients.push_back(fd);
        }
        poll_stack();
        int fd;
        while ((fd = ucs_accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0)
            servers.push_back(fd);
    }
    ucs_close(listener);
    EXPECT_EQ(servers.size(), (size_t)n);
    // lwIP accepts in the order the clients connected (one listener, FIFO).
    std::vector<Pair> pairs;
    for (size_t i = 0; i < servers.size(); i++)
        pairs.emplace_back(clients[i], servers[i]);
    return pairs;
}

// Reads exactly len bytes from fd, polling the stack; false if they do not come.
inline bool read_exactly(int fd, char *buf, size_t len)
{
    size_t got = 0;
    double deadline = now() + 10;
    while (got < len && now() < deadline) {
        poll_stack();
        ssize_t n = ucs_recv(fd, buf + got, len - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    return got == len;
}

// Lets every pending ACK and retransmission timer finish: timers and
// frames until nothing is due, or false after a bounded number of rounds.
inline bool settle(unsigned rounds = 400)
{
    for (unsigned i = 0; i < rounds; i++) {
        if (timer_stats().due == 0)
            return true;
        tcp_tmr();
        poll_stack();
    }
    return timer_stats().due == 0;
}

inline void close_all(const std::vector<Pair> &pairs)
{
    for (const Pair &p : pairs) {
        ucs_close(p.first);
        ucs_close(p.second);
    }
}
