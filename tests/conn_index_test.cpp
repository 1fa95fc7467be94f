// The connection index (stack/tcp_pcb_index.c) in one process over loopback:
// thousands of connections, each found by its 4-tuple from both ends, data on
// each checked, and nothing left in the index but TIME-WAIT once they close.
#include "pcb_of.hpp"
#include "stack_env.hpp"

#include <ucstack/socket.h>

extern "C" {
#include "lwip/priv/tcp_priv.h"
#include "tcp_pcb_index.h"
}

#include <arpa/inet.h>
#include <cstring>
#include <ctime>
#include <gtest/gtest.h>
#include <set>
#include <vector>

namespace
{

constexpr int kPorts = 3, kConns = 3000, kWindow = 200, kBasePort = 7300;

double now()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

unsigned count_list(struct tcp_pcb *pcb)
{
    unsigned n = 0;
    for (; pcb; pcb = pcb->next)
        n++;
    return n;
}

TEST(ConnectionIndex, ThousandsOfLoopbackConnectionsAreFoundByTheirFourTuple)
{
    int listeners[kPorts];
    for (int i = 0; i < kPorts; i++) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(kBasePort + i);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        listeners[i] = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_EQ(ucs_bind(listeners[i], (sockaddr *)&a, sizeof(a)), 0);
        ASSERT_EQ(ucs_listen(listeners[i], 4096), 0);
    }
    unsigned active_before = count_list(tcp_active_pcbs);
    struct ucs_tcp_index_stats before, after;
    ucs_tcp_index_get_stats(&before);

    // Connect in windows (lwIP keeps at most 255 unaccepted per listener).
    std::vector<int> clients, servers;
    double deadline = now() + 60;
    while ((int)servers.size() < kConns && now() < deadline) {
        while ((int)clients.size() < kConns && clients.size() - servers.size() < (size_t)kWindow) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(kBasePort + clients.size() % kPorts);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int fd = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ASSERT_GE(fd, 0);
            int rc = ucs_connect(fd, (sockaddr *)&a, sizeof(a));
            ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
            clients.push_back(fd);
        }
        ucs_stack_poll(ucs_stack_current());
        for (int l : listeners) {
            int fd;
            while ((fd = ucs_accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0)
                servers.push_back(fd);
        }
    }
    ASSERT_EQ(servers.size(), (size_t)kConns);
    EXPECT_EQ(count_list(tcp_active_pcbs), active_before + 2 * kConns);

    // Each end's pcb is found by its own 4-tuple, and the two ends differ.
    std::set<struct tcp_pcb *> seen;
    for (int fd : clients) {
        struct tcp_pcb *pcb = pcb_of(fd);
        ASSERT_NE(pcb, nullptr);
        EXPECT_TRUE(seen.insert(pcb).second);
    }
    for (int fd : servers) {
        struct tcp_pcb *pcb = pcb_of(fd);
        ASSERT_NE(pcb, nullptr);
        EXPECT_TRUE(seen.insert(pcb).second);
    }

    // One message each way on every connection, each byte checked.
    for (size_t i = 0; i < clients.size(); i++) {
        char msg[16];
        snprintf(msg, sizeof(msg), "conn %010u", (unsigned)i);
        ASSERT_EQ(ucs_send(clients[i], msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
    }
    size_t answered = 0;
    std::vector<int> got(servers.size(), 0), back(clients.size(), 0);
    std::vector<std::string> heard(servers.size());
    deadline = now() + 60;
    while (answered < clients.size() && now() < deadline) {
        ucs_stack_poll(ucs_stack_current());
        for (size_t s = 0; s < servers.size(); s++) {
            char buf[16];
            ssize_t n = ucs_recv(servers[s], buf, sizeof(buf) - got[s], 0);
            if (n > 0) {
                heard[s].append(buf, (size_t)n);
                got[s] += (int)n;
                if (got[s] == 16) {
                    ASSERT_EQ(ucs_send(servers[s], heard[s].data(), 16, 0), 16);
                }
            }
        }
        for (size_t c = 0; c < clients.size(); c++) {
            char buf[16], want[16];
            if (back[c])
                continue;
            ssize_t n = ucs_recv(clients[c], buf, sizeof(buf), MSG_PEEK);
            if (n < 16)
                continue;
            ASSERT_EQ(ucs_recv(clients[c], buf, sizeof(buf), 0), 16);
            snprintf(want, sizeof(want), "conn %010u", (unsigned)c);
            EXPECT_EQ(std::string(buf, 16), std::string(want, 16));
            back[c] = 1;
            answered++;
        }
    }
    ASSERT_EQ(answered, clients.size());

    // Every segment went through the index, and buckets stayed short.
    ucs_tcp_index_get_stats(&after);
    uint64_t lookups = after.lookups - before.lookups, compared = after.compared - before.compared;
    EXPECT_GE(lookups, 5u * kConns) << "SYN, SYN-ACK, ACK and two messages per connection";
    EXPECT_LT(compared, 2 * lookups) << compared << " pcbs compared in " << lookups << " lookups";

    // Gone: the clients close first and keep TIME-WAIT; nothing else stays.
    for (int fd : clients)
        ASSERT_EQ(ucs_close(fd), 0);
    deadline = now() + 30;
    while (count_list(tcp_tw_pcbs) < (unsigned)kConns && now() < deadline) {
        ucs_stack_poll(ucs_stack_current());
        for (int &fd : servers) {
            char c;
            if (fd >= 0 && ucs_recv(fd, &c, 1, 0) == 0) {
                ucs_close(fd);
                fd = -1;
            }
        }
    }
    EXPECT_EQ(count_list(tcp_active_pcbs), active_before);
    EXPECT_EQ(count_list(tcp_tw_pcbs), (unsigned)kConns);
    ucs_tcp_index_get_stats(&after);
    EXPECT_EQ(after.indexed, before.indexed + kConns);
    for (int l : listeners)
        ucs_close(l);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new RingStackEnvironment);
    return RUN_ALL_TESTS();
}
