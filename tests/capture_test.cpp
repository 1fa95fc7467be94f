// A port's frames as pcapng, read back by tshark: two stack processes on the
// two ends of a virtio cable, a host-local link with attestation; the server
// (the echo-server example) has "capture = FILE" and "telemetry = yes". One
// connection from the echo-client example crosses, 16 MiB each way, and the
// client learns the server's credential; telemetry (dpdk-telemetry.py) reports the capture and stops it;
// tshark must see the whole handshake in both directions and the credential
// option (RFC 6994 kind 253, ExID 0x7563) in the SYN. Needs root (the cable's
// attestation runs as in the demo; tshark as root).
#include "child.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using nlohmann::json;

namespace
{

std::string config(const std::string &prefix, int core, const std::string &port, const char *v4,
                   const std::string &extra)
{
    return "eal = --no-huge -m 512 --no-pci --no-shconf --log-level=error -l " + std::to_string(core) +
           " --file-prefix=" + prefix + "\n" + extra + "port = " + port + "\nipv4 = " + v4 + "/24\nhost_local = yes\n";
}

struct Leftovers {
    std::string prefix;
    ~Leftovers()
    {
        for (const char *side : {"-s", "-c"}) {
            unlink(("/var/run/dpdk/" + prefix + side + "/dpdk_telemetry.v2").c_str());
            rmdir(("/var/run/dpdk/" + prefix + side).c_str());
        }
    }
};

// Each command's answer from the server's telemetry socket, in order.
std::vector<json> telemetry(const std::string &prefix, const std::vector<std::string> &cmds)
{
    std::string input, out;
    for (auto &c : cmds)
        input += c + "\\n";
    EXPECT_EQ(run_command("printf '" + input + "' | dpdk-telemetry.py -f " + prefix, &out), 0) << out;
    std::vector<json> answers;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line[0] == '{')
            answers.push_back(json::parse(line));
    EXPECT_EQ(answers.size(), cmds.size()) << out;
    answers.resize(cmds.size());
    return answers;
}

std::vector<std::string> split(const std::string &text, char sep)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string item; std::getline(in, item, sep);)
        out.push_back(item);
    return out;
}

TEST(Capture, TsharkSeesTheHandshakeAndTheCredentialOptionInTheSyn)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: DPDK's runtime directory for root, and tshark run as root";
    TempDir dir;
    std::string pre = "ucs-test-cap-" + std::to_string(getpid());
    Leftovers leftovers{pre};
    std::string sock = dir.path() + "/cable.sock", attest = dir.path() + "/attest.sock";
    std::string pcap = dir.path() + "/server.pcapng";
    std::string scfg = dir.file(
        "s.conf", config(pre + "-s", 0, "net_vhost0,iface=" + sock + ",queues=1", "198.18.0.1", "telemetry = yes\n") +
                      "attest = listen " + attest + "\ncapture = " + pcap +
                      // MSS frames both ways: the transfer must make more
                      // frames than the capture's pool holds.
                      "\ntso = no\n");
    std::string ccfg =
        dir.file("c.conf", config(pre + "-c", 1, "virtio_user0,path=" + sock + ",queues=1", "198.18.0.2", "") +
                               "attest = connect " + attest + "\n");

    std::string node = ucs_node_path(), tests = node.substr(0, node.rfind('/'));
    std::string echo = tests.substr(0, tests.rfind('/')) + "/examples/echo-server";
    Child server({echo, scfg, "7777"});
    ASSERT_TRUE(server.wait_line("listening", 30000)) << server.output();
    // 16 MiB each way: more frames than the capture's pool holds copies, so
    // copies that were never given back would show as a capture that stops.
    Child client({echo.substr(0, echo.rfind('/')) + "/echo-client", ccfg, "16M", "198.18.0.1,7777"});
    std::string line;
    ASSERT_TRUE(client.wait_line("echo ", 60000, &line)) << client.output();
    EXPECT_NE(line.find(" ok "), std::string::npos) << line;
    EXPECT_NE(line.find("peer pid=" + std::to_string(server.pid())), std::string::npos) << line;
    ASSERT_TRUE(client.wait_line("holding", 30000)) << client.output();
    client.close_stdin();
    EXPECT_EQ(client.wait_exit(30000), 0) << client.output();

    // Telemetry says the capture runs, refuses to write anywhere but the
    // configured file, and stops it: the file is then complete.
    std::string evil = dir.path() + "/elsewhere";
    std::vector<json> a = telemetry(pre + "-s", {"/ucstack/capture,0", "/ucstack/capture,0,start," + evil,
                                                 "/ucstack/capture,0,stop", "/ucstack/ports"});
    json on = a[0]["/ucstack/capture"], off = a[2]["/ucstack/capture"], ports = a[3]["/ucstack/ports"];
    ASSERT_TRUE(on.is_object()) << a[0].dump();
    EXPECT_EQ(on["capture"], "on");
    EXPECT_EQ(on["capture_path"], pcap);
    EXPECT_GT(on["captured"], 0u);
    EXPECT_TRUE(a[1]["/ucstack/capture"].is_null()) << a[1].dump();
    struct stat st;
    EXPECT_NE(stat(evil.c_str(), &st), 0);
    ASSERT_TRUE(off.is_object()) << a[2].dump();
    EXPECT_EQ(off["result"], "ok");
    EXPECT_EQ(off["capture"], "off");
    EXPECT_EQ(ports["0"]["capture"], "off");
    uint64_t captured = off["captured"];
    // (A writer starved by a loaded machine may drop a few; not thousands.)
    EXPECT_GT(captured, 8191u) << "the capture stopped at its pool's size: " << off.dump();

    std::string out;
    // (tshark's warning about running as root goes to its stderr.)
    ASSERT_EQ(run_command("{ tshark -r " + pcap +
                              " -T fields -E separator=';' -e frame.packet_flags_direction "
                              "-e ip.src -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack -e tcp.option_kind "
                              "-e tcp.options.experimental.exid 2>/dev/null; }",
                          &out),
              0)
        << out;
    std::vector<std::string> frames = split(out, '\n');
    EXPECT_EQ(frames.size(), captured) << out;
    bool syn = false, synack = false, ack = false, in = false, outgoing = false;
    for (auto &f : frames) {
        auto col = split(f, ';');
        col.resize(7);
        // pcapng's direction flags: 1 inbound, 2 outbound.
        col[0] = std::to_string(strtoul(col[0].c_str(), nullptr, 16));
        in |= col[0] == "1";
        outgoing |= col[0] == "2";
        bool cred = col[5].find("253") != std::string::npos && col[6].find("0x7563") != std::string::npos;
        if (col[1] == "198.18.0.2" && col[3] == "1" && col[4] == "0") {
            syn = true;
            EXPECT_EQ(col[0], "1") << "the client's SYN arrives: " << f;
            EXPECT_TRUE(cred) << "no credential option in the SYN: " << f;
        }
        if (col[1] == "198.18.0.1" && col[2] == "7777" && col[3] == "1" && col[4] == "1") {
            synack = true;
            EXPECT_EQ(col[0], "2") << "the server's SYN-ACK leaves: " << f;
            EXPECT_TRUE(cred) << "no credential option in the SYN-ACK: " << f;
        }
        if (syn && synack && col[1] == "198.18.0.2" && col[3] == "0" && col[4] == "1")
            ack = true;
    }
    EXPECT_TRUE(syn && synack && ack) << out;
    EXPECT_TRUE(in && outgoing) << out;

    // Started again, the file begins afresh.
    a = telemetry(pre + "-s", {"/ucstack/capture,0,start", "/ucstack/capture,0,stop"});
    EXPECT_EQ(a[0]["/ucstack/capture"]["capture"], "on") << a[0].dump();
    EXPECT_EQ(a[1]["/ucstack/capture"]["result"], "ok") << a[1].dump();
    out.clear();
    ASSERT_EQ(run_command("{ tshark -r " + pcap + " -Y 'tcp.flags.syn == 1' 2>/dev/null; }", &out), 0);
    EXPECT_EQ(out, "") << "the old capture is still there";

    kill(server.pid(), SIGTERM);
    EXPECT_EQ(server.wait_exit(30000), 0) << server.output();
}

} // namespace
