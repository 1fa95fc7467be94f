// The example servers, answering programs of the Linux kernel's world through a
// tap port in a network namespace the test makes: nc for the echo server, curl
// and wrk for the HTTP server. Needs root.
#include "child.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace {

// UCS_AB_REQUESTS: ab's requests per run (a new connection each). 100,000
// take about a minute at -c 1 here; CI runs 20,000 at -c 1 and at -c 64.
const std::string kAbRequests = [] {
    const char *n = std::getenv("UCS_AB_REQUESTS");
    return std::string(n ? n : "20000");
}();

// The number after "key" (and spaces) in out, or -1.
double figure(const std::string &out, const std::string &key)
{
    size_t at = out.find(key);
    return at == std::string::npos ? -1 : std::strtod(out.c_str() + at + key.size(), nullptr);
}

class ExamplesTest : public ::testing::Test {
  protected:
    void SetUp() override
    {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: it creates a network namespace and a tap interface";
        ns_ = "ucs-ex-" + std::to_string(getpid());
        ASSERT_EQ(run_command("ip netns add " + ns_), 0);
    }
    void TearDown() override
    {
        if (ns_.empty())
            return;
        run_command("ip netns del " + ns_);
        rmdir(("/var/run/dpdk/" + ns_).c_str());
    }
    std::string example(const char *name)
    {
        std::string p = ucs_node_path();
        return p.substr(0, p.rfind("/tests/")) + "/examples/" + name;
    }
    // Starts an example inside the namespace and gives the kernel its side of the tap.
    void start(Child &server)
    {
        ASSERT_TRUE(server.wait_line("listening", 30000)) << server.output();
        ASSERT_EQ(run_command("ip -n " + ns_ + " link set lo up"), 0);
        ASSERT_EQ(run_command("ip -n " + ns_ + " addr add 198.18.4.1/24 dev ucstap0"), 0);
        ASSERT_EQ(run_command("ip -n " + ns_ + " addr add fd75:6376::1/64 dev ucstap0 nodad"), 0);
        ASSERT_EQ(run_command("ip -n " + ns_ + " link set ucstap0 up"), 0);
    }
    std::string config(const TempDir &dir)
    {
        return dir.file("tap.conf", "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l 1 "
                                    "--file-prefix=" + ns_ + "\nport = net_tap0,iface=ucstap0\n"
                                    "ipv4 = 198.18.4.2/24\nipv6 = fd75:6376::2/64\n");
    }
    int in_ns(const std::string &cmd, std::string *out) { return run_command("ip netns exec " + ns_ + " " + cmd, out); }
    std::string ns_;
};

TEST_F(ExamplesTest, EchoServerAnswersNc)
{
    TempDir dir;
    Child server({"ip", "netns", "exec", ns_, example("echo-server"), config(dir), "7000"});
    start(server);
    std::string out;
    // The first attempt may race the kernel's neighbour discovery: nc retries are bounded.
    ASSERT_EQ(in_ns("sh -c 'for i in 1 2 3 4 5; do printf ping-v4 | timeout 5 nc -N 198.18.4.2 7000 && exit 0; done; exit 1'", &out), 0) << out;
    EXPECT_EQ(out, "ping-v4");
    out.clear();
    ASSERT_EQ(in_ns("sh -c 'printf ping-v6 | timeout 5 nc -N fd75:6376::2 7000'", &out), 0) << out;
    EXPECT_EQ(out, "ping-v6");
}

TEST_F(ExamplesTest, HttpServerAnswersCurlAndWrk)
{
    TempDir dir;
    Child server({"ip", "netns", "exec", ns_, example("http-server"), config(dir), "8080"});
    start(server);
    std::string out;
    ASSERT_EQ(in_ns("curl -sS --retry 5 --retry-connrefused --max-time 5 http://198.18.4.2:8080/", &out), 0) << out;
    EXPECT_NE(out.find("Hello from ucstack."), std::string::npos) << out;
    out.clear();
    ASSERT_EQ(in_ns("curl -sS -g --max-time 5 http://[fd75:6376::2]:8080/", &out), 0) << out;
    EXPECT_NE(out.find("Hello from ucstack."), std::string::npos) << out;
    out.clear();
    ASSERT_EQ(in_ns("wrk -t1 -c16 -d2s http://198.18.4.2:8080/", &out), 0) << out;
    EXPECT_NE(out.find("Requests/sec:"), std::string::npos) << out;
    EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
    EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
    std::cout << out;
}

// ApacheBench: HTTP/1.0, a new connection per request, the server closing
// first (so its TIME-WAIT 4-tuples come round again: the kernel's ephemeral
// range is narrowed to 1,000 ports in the namespace, so they do within the
// run), one at a time and 64 at once; then wrk with 1,000 connections. No
// request may fail.
TEST_F(ExamplesTest, HttpServerAnswersAbAndWrkWithoutFailures)
{
    TempDir dir;
    Child server({"ip", "netns", "exec", ns_, example("http-server"), config(dir), "8080"});
    start(server);
    ASSERT_EQ(in_ns("sysctl -qw net.ipv4.ip_local_port_range='40000 40999'", nullptr), 0);
    std::string out;
    ASSERT_EQ(in_ns("curl -sS --retry 5 --retry-connrefused --max-time 5 -o /dev/null http://198.18.4.2:8080/", &out),
              0)
        << out;
    for (const char *c : {"1", "64"}) {
        SCOPED_TRACE(std::string("ab -c ") + c);
        out.clear();
        ASSERT_EQ(in_ns("ab -q -s 10 -n " + kAbRequests + " -c " + c + " http://198.18.4.2:8080/ 2>&1", &out), 0)
            << out;
        EXPECT_EQ(figure(out, "Complete requests:"), std::stod(kAbRequests)) << out;
        EXPECT_EQ(figure(out, "Failed requests:"), 0) << out;
        EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
        std::cout << "ab -n " << kAbRequests << " -c " << c << ": " << figure(out, "Requests per second:")
                  << " requests/s, " << figure(out, "Failed requests:") << " failed\n";
    }
    // wrk's 1,000 connections need more ports than the narrowed range has.
    ASSERT_EQ(in_ns("sysctl -qw net.ipv4.ip_local_port_range='32768 60999'", nullptr), 0);
    out.clear();
    // The kernel drops some of the 1,000 connections' frames on the tap when
    // they come in bursts; a lost answer waits for the server's first RTO,
    // lwIP's 3 s while the handshake gives no RTT sample (issue 15): so wrk
    // may wait 10 s before it counts a request as timed out (its default, 2 s,
    // would count those).
    ASSERT_EQ(in_ns("wrk -t2 -c1000 -d3s --timeout 10s http://198.18.4.2:8080/", &out), 0) << out;
    EXPECT_NE(out.find("Requests/sec:"), std::string::npos) << out;
    EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
    EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
    std::cout << out;
}

} // namespace
