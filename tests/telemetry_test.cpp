// DPDK's telemetry socket answering /ucstack/ commands, read by Debian's own
// dpdk-telemetry.py, as an operator would; the answers are checked against
// what the stack says through its C API. One stack in the test process, on a
// net_ring port, with "telemetry = yes"; the test thread polls the stack while
// the script waits for its answers, since the telemetry thread only reads what
// the stack thread publishes.
#include "child.hpp"

#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using nlohmann::json;

namespace
{

struct ucs_stack *g_stack;
std::string g_prefix;

class TelemetryEnvironment : public ::testing::Environment
{
  public:
    void SetUp() override
    {
        g_prefix = "ucs-test-tel-" + std::to_string(getpid());
        std::string text = "eal = --no-huge -m 512 --no-pci --no-shconf --log-level=warning --file-prefix=" + g_prefix +
                           "\ntelemetry = yes\nport = net_ring0\nipv4 = 198.18.3.1/24\nipv6 = fd75:6375::1/64\n";
        struct ucs_config cfg;
        char err[256];
        ASSERT_EQ(ucs_config_parse(text.c_str(), &cfg, err, sizeof(err)), 0) << err;
        g_stack = ucs_stack_create(&cfg, err, sizeof(err));
        ASSERT_NE(g_stack, nullptr) << err;
    }
    void TearDown() override
    {
        ucs_stack_destroy(g_stack);
        // DPDK removes its socket at exit; the directory is ours to remove.
        unlink(("/var/run/dpdk/" + g_prefix + "/dpdk_telemetry.v2").c_str());
        rmdir(("/var/run/dpdk/" + g_prefix).c_str());
    }
};

// Runs dpdk-telemetry.py with one command per line and polls the stack until
// it has printed an answer to each; returns the answers in order.
// Runs argv to its end while polling the stack; returns its output.
std::string run_polling(const std::vector<std::string> &argv)
{
    Child tool(argv);
    tool.close_stdin();
    std::string line;
    // The bound only keeps a broken run from hanging, nothing is timed.
    for (int i = 0; i < 60000 && !tool.wait_line("\x04", 1, &line); i++)
        ucs_stack_poll(g_stack);
    EXPECT_EQ(tool.wait_exit(1000), 0) << tool.output();
    return tool.output();
}

std::vector<json> query(const std::vector<std::string> &cmds)
{
    Child tool({"dpdk-telemetry.py", "-f", g_prefix});
    std::string input;
    for (auto &c : cmds)
        input += c + "\n";
    EXPECT_TRUE(tool.write_stdin(input));
    tool.close_stdin();
    std::vector<json> out;
    std::string line;
    // Each turn polls the stack once and waits up to 1 ms for the script; the
    // bound only keeps a broken run from hanging, nothing is timed.
    for (int i = 0; i < 60000 && out.size() < cmds.size(); i++) {
        ucs_stack_poll(g_stack);
        if (tool.wait_line("{", 1, &line))
            out.push_back(json::parse(line));
    }
    EXPECT_EQ(out.size(), cmds.size()) << tool.output();
    while (out.size() < cmds.size())
        out.push_back(json::object());
    EXPECT_EQ(tool.wait_exit(30000), 0) << tool.output();
    return out;
}

json answer(const std::string &cmd)
{
    std::string name = cmd.substr(0, cmd.find(','));
    return query({cmd})[0][name];
}

struct ucs_stack_stats stats()
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(g_stack, &s);
    return s;
}

int listen_on(const char *ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    int l = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(ucs_bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0) << strerror(errno);
    EXPECT_EQ(ucs_listen(l, 16), 0) << strerror(errno);
    return l;
}

int connect_to(const char *ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    int c = ucs_socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(ucs_connect(c, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0) << strerror(errno);
    return c;
}

std::string local_name(int fd)
{
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    char ip[INET_ADDRSTRLEN];
    EXPECT_EQ(ucs_getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len), 0);
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
    return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

// One row of /ucstack/sockets' columns: the socket whose fd is given.
std::map<std::string, json> row(const json &page, int fd)
{
    std::map<std::string, json> r;
    for (size_t i = 0; i < page["fd"].size(); i++) {
        if (page["fd"][i] != fd)
            continue;
        for (const char *col : {"proto", "state", "local", "remote", "send_q", "recv_q", "cred", "uid", "pid"})
            r[col] = page[col][i];
    }
    return r;
}

TEST(Telemetry, TheSocketIsWhereDpdkPutsIt)
{
    struct stat st;
    // --no-shconf keeps no shared config, but the runtime directory and the
    // telemetry socket are still made.
    ASSERT_EQ(stat(("/var/run/dpdk/" + g_prefix + "/dpdk_telemetry.v2").c_str(), &st), 0) << strerror(errno);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    json all = query({"/"})[0]["/"];
    for (const char *cmd : {"/ucstack/stats", "/ucstack/sockets", "/ucstack/ports", "/ucstack/capture"})
        EXPECT_NE(std::find(all.begin(), all.end(), cmd), all.end()) << cmd << " not in " << all.dump();
}

TEST(Telemetry, StatsAreTheStacksCounters)
{
    int l = listen_on("198.18.3.1", 7300), c = connect_to("198.18.3.1", 7300);
    struct ucs_stack_stats before = stats();
    json s = answer("/ucstack/stats");
    struct ucs_stack_stats after = stats();
    ASSERT_TRUE(s.is_object()) << s.dump();
    EXPECT_EQ(s["stale"], 0);
    // Nothing moves on an idle stack between the two reads but what we made.
    EXPECT_EQ(s["tcp_pcbs"], before.tcp_pcbs);
    EXPECT_EQ(before.tcp_pcbs, after.tcp_pcbs);
    EXPECT_GE(s["tcp_pcbs"], 2u); // both ends (a listener has a pcb of another pool)
    EXPECT_GE(s["tx_frames"], before.tx_frames);
    EXPECT_LE(s["tx_frames"], after.tx_frames);
    EXPECT_EQ(s["mbufs_total"], before.mbufs_total);
    EXPECT_EQ(s["tcp_rto"], after.tcp_rto);
    // Every counter of ucs_stack_stats besides numa_node and cpu, those of
    // ucs_cred_option_stats, and the age.
    EXPECT_EQ(s.size(), 70u + 7u + 2u) << s.dump();
    struct ucs_cred_option_stats cs;
    ucs_get_cred_option_stats(&cs);
    EXPECT_EQ(s["cred_sent"], cs.sent);
    EXPECT_EQ(s["cred_received"], cs.received);
    EXPECT_GE(cs.received, 1u); // the connection above, over loopback
    ucs_close(c);
    ucs_close(l);
}

TEST(Telemetry, SocketsListsEachConnectionWithItsStateQueuesAndCredential)
{
    int l = listen_on("198.18.3.1", 7301), c = connect_to("198.18.3.1", 7301);
    int a = -1;
    for (int i = 0; i < 1000000 && a < 0; i++) {
        ucs_stack_poll(g_stack);
        a = ucs_accept(l, nullptr, nullptr);
    }
    ASSERT_GE(a, 0) << strerror(errno);
    // 1000 bytes the acceptor has not read: its receive queue.
    char buf[1000] = {};
    ASSERT_EQ(ucs_send(c, buf, sizeof(buf), 0), 1000);
    int queued = 0;
    for (int i = 0; i < 1000000 && queued < 1000; i++) {
        ucs_stack_poll(g_stack);
        ucs_ioctl(a, FIONREAD, &queued);
    }
    ASSERT_EQ(queued, 1000);
    // A UDP socket: no peer, so no credential.
    int u = ucs_socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(u, 0);

    json page = answer("/ucstack/sockets");
    ASSERT_TRUE(page.is_object()) << page.dump();
    EXPECT_EQ(page["truncated"], 0);
    EXPECT_EQ(page["next"], -1);
    EXPECT_EQ(page["total"], page["fd"].size());

    auto lr = row(page, l), cr = row(page, c), ar = row(page, a), ur = row(page, u);
    EXPECT_EQ(lr["state"], "LISTEN");
    EXPECT_EQ(lr["local"], "198.18.3.1:7301");
    EXPECT_EQ(lr["remote"], "*");
    EXPECT_EQ(lr["cred"], "no");
    EXPECT_EQ(lr["send_q"], 16u); // a listener's backlog, as ss shows it

    EXPECT_EQ(cr["proto"], "tcp");
    EXPECT_EQ(cr["state"], "ESTAB");
    EXPECT_EQ(cr["local"], local_name(c));
    EXPECT_EQ(cr["remote"], "198.18.3.1:7301");
    EXPECT_EQ(ar["local"], "198.18.3.1:7301");
    EXPECT_EQ(ar["remote"], local_name(c));
    EXPECT_EQ(ar["recv_q"], 1000u);
    EXPECT_EQ(cr["recv_q"], 0u);

    // The credential columns say what getpeerucred() says.
    for (int fd : {c, a}) {
        auto r = row(page, fd);
        ucred_t *uc = nullptr;
        ASSERT_EQ(getpeerucred(fd, &uc), 0) << strerror(errno);
        EXPECT_EQ(r["cred"], "yes");
        EXPECT_EQ(r["pid"], ucred_getpid(uc));
        EXPECT_EQ(r["uid"], static_cast<int>(ucred_geteuid(uc)));
        ucred_free(uc);
    }
    EXPECT_EQ(ur["proto"], "udp");
    EXPECT_EQ(ur["state"], "UNCONN");
    EXPECT_EQ(ur["cred"], "no");
    EXPECT_EQ(ur["uid"], -1);
    EXPECT_EQ(ur["pid"], -1);

    // ucstack-ss (tools/) prints the same as a table, as ss would.
    std::string table = run_polling({getenv("UCS_SS"), "-f", g_prefix});
    EXPECT_NE(table.find("LISTEN"), std::string::npos) << table;
    EXPECT_NE(table.find(local_name(c)), std::string::npos) << table;
    EXPECT_NE(table.find("uid=" + std::to_string(geteuid()) + " pid=" + std::to_string(getpid())), std::string::npos)
        << table;
    EXPECT_NE(table.find("   1000 "), std::string::npos) << "the acceptor's receive queue: " << table;

    // Closed sockets leave the next snapshot.
    ucs_close(a);
    ucs_close(c);
    ucs_close(l);
    ucs_close(u);
    page = answer("/ucstack/sockets");
    for (int fd : {l, c, a, u})
        EXPECT_TRUE(row(page, fd).empty()) << fd;
}

// 700 sockets: pages of at most 64 cover every one exactly once, and the
// stack thread built the snapshot over several poll steps, never all at once.
TEST(Telemetry, ManySocketsComeInPagesBuiltAFewHundredPerPollStep)
{
    std::set<int> mine;
    for (int i = 0; i < 700; i++) {
        int fd = ucs_socket(AF_INET6, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0) << strerror(errno);
        mine.insert(fd);
    }
    std::vector<std::string> cmds = {"/ucstack/sockets"};
    for (int start = 64; start < 800; start += 64)
        cmds.push_back("/ucstack/sockets," + std::to_string(start));
    std::vector<json> pages = query(cmds);
    json first = pages[0]["/ucstack/sockets"];
    ASSERT_TRUE(first.is_object()) << first.dump();
    EXPECT_EQ(first["total"], 700u);
    EXPECT_EQ(first["truncated"], 0);
    EXPECT_GE(first["steps"], 3u) << "700 sockets in fewer than 3 poll steps";
    std::multiset<int> seen;
    int expect_start = 0;
    for (auto &p : pages) {
        json page = p["/ucstack/sockets"];
        if (page["start"] >= 700u) {
            EXPECT_EQ(page["fd"].size(), 0u);
            continue;
        }
        EXPECT_EQ(page["start"], expect_start);
        EXPECT_EQ(page["taken_ns"], first["taken_ns"]) << "later pages read the first page's snapshot";
        EXPECT_LE(page["fd"].size(), 64u);
        for (auto &fd : page["fd"])
            seen.insert(fd.get<int>());
        expect_start = page["next"] == -1 ? 700 : page["next"].get<int>();
    }
    EXPECT_EQ(seen.size(), 700u);
    EXPECT_EQ(std::set<int>(seen.begin(), seen.end()), mine);
    for (int fd : mine)
        ucs_close(fd);
}

TEST(Telemetry, PortsShowTheLinkAndItsCounters)
{
    struct ucs_stack_stats before = stats();
    json p = answer("/ucstack/ports");
    ASSERT_TRUE(p.is_object()) << p.dump();
    json port = p["0"];
    EXPECT_EQ(port["name"], "net_ring0");
    EXPECT_EQ(port["driver"], "net_ring");
    EXPECT_EQ(port["link"], "up");
    EXPECT_EQ(port["mbufs_total"], before.mbufs_total);
    EXPECT_GE(port["rx_frames"], before.rx_frames);
    EXPECT_EQ(port["capture"], "none");
    // No capture configured: nothing to start, and the answer says so.
    EXPECT_TRUE(answer("/ucstack/capture,0,start").is_null());
    EXPECT_TRUE(answer("/ucstack/capture,9").is_null());
}

// Requests an attacker on the socket could send: refused with no answer, and
// the stack keeps answering.
TEST(Telemetry, MalformedParametersAreRefused)
{
    std::vector<json> a = query({"/ucstack/sockets,abc", "/ucstack/sockets,-1", "/ucstack/sockets,99999999999999999999",
                                 "/ucstack/capture", "/ucstack/capture,0,start,/tmp/x", "/ucstack/capture,0,begin",
                                 "/ucstack/sockets,100000"});
    for (size_t i = 0; i + 1 < a.size(); i++)
        EXPECT_TRUE(a[i].begin()->is_null()) << i << ": " << a[i].dump();
    json beyond = a.back()["/ucstack/sockets"];
    ASSERT_TRUE(beyond.is_object()) << a.back().dump();
    EXPECT_EQ(beyond["fd"].size(), 0u);
    EXPECT_EQ(beyond["next"], -1);
}

TEST(TelemetryConfig, KeysAreParsedAndCheckedAndTheEalMustNotRefuseTelemetry)
{
    struct ucs_config cfg;
    char err[256];
    ASSERT_EQ(ucs_config_parse("telemetry = yes\nport = net_ring0\ncapture = /tmp/a.pcapng\n", &cfg, err, sizeof(err)),
              0)
        << err;
    EXPECT_TRUE(cfg.telemetry);
    EXPECT_STREQ(cfg.ports[0].capture_path, "/tmp/a.pcapng");
    ASSERT_EQ(ucs_config_parse("port = net_ring0\n", &cfg, err, sizeof(err)), 0) << err;
    EXPECT_FALSE(cfg.telemetry);
    EXPECT_STREQ(cfg.ports[0].capture_path, "");
    EXPECT_NE(ucs_config_parse("telemetry = maybe\nport = net_ring0\n", &cfg, err, sizeof(err)), 0);
    EXPECT_NE(std::string(err).find("telemetry wants yes or no"), std::string::npos) << err;
    EXPECT_NE(ucs_config_parse("port = net_ring0\ncapture =\n", &cfg, err, sizeof(err)), 0);
    EXPECT_NE(ucs_config_parse(("port = net_ring0\ncapture = /" + std::string(300, 'x') + "\n").c_str(), &cfg, err,
                               sizeof(err)),
              0);
    EXPECT_NE(std::string(err).find("shorter than 256"), std::string::npos) << err;
    // A config that contradicts itself is refused before anything starts
    // (before even the one-stack-per-process check).
    ASSERT_EQ(
        ucs_config_parse("eal = --no-huge --no-telemetry\ntelemetry = yes\nport = net_ring0\n", &cfg, err, sizeof(err)),
        0);
    EXPECT_EQ(ucs_stack_create(&cfg, err, sizeof(err)), nullptr);
    EXPECT_NE(std::string(err).find("--no-telemetry"), std::string::npos) << err;
    // The running stack still answers.
    EXPECT_TRUE(answer("/ucstack/stats").is_object());
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new TelemetryEnvironment);
    return RUN_ALL_TESTS();
}
