// Two processes, each with its own stack instance, joined by a virtual cable:
// neighbour resolution, ping over IPv4 and IPv6, and a byte-exact TCP echo.
#include "child.hpp"

#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace {

struct Cable {
    const char *name;
    const char *server_port; // %s is the socket path
    const char *client_port;
};

const Cable kVirtio = {"virtio", "net_vhost0,iface=%s,queues=1", "virtio_user0,path=%s,queues=1"};
const Cable kMemif = {"memif", "net_memif0,role=server,socket=%s", "net_memif0,role=client,socket=%s"};

std::string fmt(const char *f, const std::string &arg)
{
    char buf[512];
    snprintf(buf, sizeof(buf), f, arg.c_str());
    return buf;
}

std::string node_config(const std::string &prefix, int core, const std::string &port, const std::string &v4,
                        const std::string &v6)
{
    return "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning -l " + std::to_string(core) +
           " --file-prefix=" + prefix + "\nport = " + port + "\nipv4 = " + v4 + "/24\nipv6 = " + v6 +
           "/64\nhost_local = yes\n";
}

class CableTest : public ::testing::TestWithParam<Cable> {
  protected:
    void TearDown() override
    {
        for (auto &p : prefixes_)
            rmdir(("/var/run/dpdk/" + p).c_str());
    }
    std::string prefix(const char *role)
    {
        prefixes_.push_back("ucs-test-" + std::to_string(getpid()) + "-" + GetParam().name + "-" + role);
        return prefixes_.back();
    }
    std::vector<std::string> prefixes_;
};

TEST_P(CableTest, PingAndEcho64MiBOverIPv4AndIPv6)
{
    TempDir dir;
    const Cable &cable = GetParam();
    std::string sock = dir.path() + "/cable.sock";
    std::string scfg = dir.file("server.conf", node_config(prefix("s"), 0, fmt(cable.server_port, sock),
                                                           "198.18.0.1", "fd75:6373::1"));
    std::string ccfg = dir.file("client.conf", node_config(prefix("c"), 1, fmt(cable.client_port, sock),
                                                           "198.18.0.2", "fd75:6373::2"));

    Child server({ucs_node_path(), "--config", scfg, "--serve", "7777", "--timeout", "60"});
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();

    Child client({ucs_node_path(), "--config", ccfg, "--ping", "198.18.0.1", "--ping", "fd75:6373::1", "--echo",
                  "198.18.0.1,7777,64M", "--echo", "fd75:6373::1,7777,64M", "--timeout", "60"});
    std::string line;
    ASSERT_TRUE(client.wait_line("link up", 30000)) << client.output();
    ASSERT_TRUE(client.wait_line("ping 198.18.0.1 ", 10000, &line)) << client.output();
    EXPECT_NE(line.find(" ok "), std::string::npos) << line;
    ASSERT_TRUE(client.wait_line("ping fd75:6373::1 ", 10000, &line)) << client.output();
    EXPECT_NE(line.find(" ok "), std::string::npos) << line;
    ASSERT_TRUE(client.wait_line("echo 198.18.0.1 ", 60000, &line)) << client.output();
    EXPECT_NE(line.find("bytes=67108864 ok"), std::string::npos) << line;
    ASSERT_TRUE(client.wait_line("echo fd75:6373::1 ", 60000, &line)) << client.output();
    EXPECT_NE(line.find("bytes=67108864 ok"), std::string::npos) << line;
    EXPECT_EQ(client.wait_exit(30000), 0) << client.output();

    server.close_stdin();
    EXPECT_EQ(server.wait_exit(30000), 0) << server.output();
    ASSERT_TRUE(server.wait_line("stats ", 0, &line)) << server.output();
    EXPECT_NE(line.find("accepted=2 echoed=134217728"), std::string::npos) << line;
    EXPECT_NE(line.find("tx_alloc_failed=0"), std::string::npos) << line;
}

// Through the socket API: 1 GiB each way at the same time, non-blocking with
// epoll, every byte checked, partial writes counted.
TEST_P(CableTest, SocketApiStreamsOneGiBBothWaysAtOnce)
{
    TempDir dir;
    const Cable &cable = GetParam();
    std::string sock = dir.path() + "/cable.sock";
    std::string scfg = dir.file("server.conf", node_config(prefix("s"), 0, fmt(cable.server_port, sock),
                                                           "198.18.0.1", "fd75:6373::1"));
    std::string ccfg = dir.file("client.conf", node_config(prefix("c"), 1, fmt(cable.client_port, sock),
                                                           "198.18.0.2", "fd75:6373::2"));
    std::string stream = ucs_node_path();
    stream.replace(stream.rfind("ucs-node"), 8, "ucs-stream");

    Child server({stream, "--config", scfg, "--listen", "7100", "--bytes", "1G"});
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
    Child client({stream, "--config", ccfg, "--connect", "fd75:6373::1,7100", "--bytes", "1G"});
    std::string cl, sl;
    ASSERT_TRUE(client.wait_line("stream ", 120000, &cl)) << client.output();
    ASSERT_TRUE(server.wait_line("stream ", 30000, &sl)) << server.output();
    for (const std::string &l : {cl, sl}) {
        EXPECT_NE(l.find("sent=1073741824 received=1073741824 ok"), std::string::npos) << l;
        EXPECT_EQ(l.find("partial_writes=0 "), std::string::npos) << "no partial write was exercised: " << l;
    }
    EXPECT_EQ(client.wait_exit(30000), 0) << client.output();
    EXPECT_EQ(server.wait_exit(30000), 0) << server.output();
}

INSTANTIATE_TEST_SUITE_P(Cables, CableTest, ::testing::Values(kVirtio, kMemif),
                         [](const ::testing::TestParamInfo<Cable> &info) { return std::string(info.param.name); });

} // namespace
