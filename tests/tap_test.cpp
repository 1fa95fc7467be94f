// The Linux kernel as the peer, through a tap port inside a network namespace
// the test makes: the kernel's ping and nc reach the stack, and the stack
// pings the kernel. Needs root (CAP_NET_ADMIN for the namespace and the tap).
#include "child.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <unistd.h>

namespace {

class TapTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: it creates a network namespace and a tap interface";
        ns_ = "ucs-tap-" + std::to_string(getpid());
        prefix_ = ns_;
        ASSERT_EQ(run_command("ip netns add " + ns_), 0);
    }
    void TearDown() override
    {
        if (ns_.empty())
            return;
        run_command("ip netns del " + ns_);
        rmdir(("/var/run/dpdk/" + prefix_).c_str());
    }
    int in_ns(const std::string &cmd, std::string *out = nullptr)
    {
        return run_command("ip netns exec " + ns_ + " " + cmd, out);
    }
    std::string ns_, prefix_;
};

TEST_F(TapTest, KernelPingsAndEchoesThroughTheStackAndStackPingsKernel)
{
    TempDir dir;
    std::string cfg = dir.file("tap.conf", "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning -l 1 "
                                           "--file-prefix=" + prefix_ + "\nport = net_tap0,iface=ucstap0\n"
                                           "ipv4 = 198.18.2.2/24\nipv6 = fd75:6374::2/64\n");
    Child node({"ip", "netns", "exec", ns_, ucs_node_path(), "--config", cfg, "--serve", "7777", "--wait-go",
                "--ping", "198.18.2.1", "--ping", "fd75:6374::1", "--timeout", "30"});
    ASSERT_TRUE(node.wait_line("ready", 30000)) << node.output();
    ASSERT_TRUE(node.wait_line("link up", 30000)) << node.output();

    ASSERT_EQ(run_command("ip -n " + ns_ + " link set lo up"), 0);
    ASSERT_EQ(run_command("ip -n " + ns_ + " addr add 198.18.2.1/24 dev ucstap0"), 0);
    ASSERT_EQ(run_command("ip -n " + ns_ + " addr add fd75:6374::1/64 dev ucstap0 nodad"), 0);
    ASSERT_EQ(run_command("ip -n " + ns_ + " link set ucstap0 up"), 0);
    ASSERT_TRUE(node.write_stdin("go\n"));

    std::string line;
    ASSERT_TRUE(node.wait_line("ping 198.18.2.1 ", 10000, &line)) << node.output();
    EXPECT_NE(line.find(" ok "), std::string::npos) << line;
    ASSERT_TRUE(node.wait_line("ping fd75:6374::1 ", 10000, &line)) << node.output();
    EXPECT_NE(line.find(" ok "), std::string::npos) << line;

    std::string out;
    EXPECT_EQ(in_ns("ping -c 3 -W 2 198.18.2.2", &out), 0) << out;
    EXPECT_EQ(in_ns("ping -6 -c 3 -W 2 fd75:6374::2", &out), 0) << out;

    std::string blob(1 << 20, '\0');
    std::mt19937 rng(2026);
    for (auto &c : blob)
        c = static_cast<char>(rng());
    std::string blob_path = dir.file("blob", blob);
    for (const char *addr : {"198.18.2.2", "fd75:6374::2"}) {
        std::string echoed_path = dir.path() + "/echoed";
        ASSERT_EQ(in_ns(std::string("timeout 20 nc -N ") + addr + " 7777 < " + blob_path + " > " + echoed_path, &out),
                  0)
            << out;
        std::ifstream f(echoed_path, std::ios::binary);
        std::string echoed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        EXPECT_EQ(echoed.size(), blob.size()) << addr;
        EXPECT_TRUE(echoed == blob) << "echo through " << addr << " differs";
    }

    node.close_stdin();
    EXPECT_EQ(node.wait_exit(20000), 0) << node.output();
    ASSERT_TRUE(node.wait_line("stats ", 0, &line)) << node.output();
    EXPECT_NE(line.find("accepted=2 echoed=2097152"), std::string::npos) << line;
}

} // namespace
