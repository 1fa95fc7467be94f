// Two stack instances over a virtio cable whose receiving ends inject faults
// (the per-port "fault" key): streams still arrive byte-exact (ucs-stream
// checks every byte against its pattern), and a peer killed mid-transfer
// leaves the survivor with an error and nothing leaked.
#include "child.hpp"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace
{

std::string stream_path()
{
    std::string path = ucs_node_path();
    path.replace(path.rfind("ucs-node"), 8, "ucs-stream");
    return path;
}

// UCS_FAULT_BYTES=1G replaces the CI sizes of the loss tests for a manual run
// (docs/design.md, "Faults"); the time limits then grow to an hour.
std::string size_or(const char *ci_size)
{
    const char *manual = getenv("UCS_FAULT_BYTES");
    return manual && *manual ? manual : ci_size;
}

int limit_s()
{
    const char *manual = getenv("UCS_FAULT_BYTES");
    return manual && *manual ? 3600 : 50;
}

// "faults dropped=1 reordered=2 ..." as a map of the numbers.
std::map<std::string, long long> fields(const std::string &line)
{
    std::map<std::string, long long> out;
    std::istringstream in(line);
    std::string word;
    while (in >> word) {
        size_t eq = word.find('=');
        if (eq != std::string::npos)
            out[word.substr(0, eq)] = std::atoll(word.c_str() + eq + 1);
    }
    return out;
}

class FaultTest : public ::testing::Test
{
  protected:
    void TearDown() override
    {
        for (auto &p : prefixes_)
            rmdir(("/var/run/dpdk/" + p).c_str());
    }

    std::string config(const char *role, int core, const std::string &port, const std::string &v4,
                       const std::string &v6, const std::string &fault)
    {
        prefixes_.push_back("ucs-test-" + std::to_string(getpid()) + "-fault-" + role);
        std::string text = "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning -l " +
                           std::to_string(core) + " --file-prefix=" + prefixes_.back() + "\nport = " + port +
                           "\nipv4 = " + v4 + "/24\nipv6 = " + v6 + "/64\nhost_local = yes\n";
        if (!fault.empty())
            text += "fault = " + fault + "\n";
        return dir_.file(std::string(role) + ".conf", text);
    }
    std::string server_config(const std::string &fault)
    {
        return config("s", 0, "net_vhost0,iface=" + sock(), "198.18.0.1", "fd75:6373::1", fault);
    }
    std::string client_config(const std::string &fault)
    {
        return config("c", 1, "virtio_user0,path=" + sock(), "198.18.0.2", "fd75:6373::2", fault);
    }
    std::string sock() const
    {
        return dir_.path() + "/cable.sock";
    }

    // Streams bytes (both ways unless one_way) with faults on both receiving
    // ends; returns each side's "faults" line.
    void transfer(const std::string &fault, const std::string &bytes, const std::string &peer, bool one_way,
                  std::string *client_faults, std::string *server_faults)
    {
        std::string limit = std::to_string(limit_s());
        unlink(sock().c_str()); // a test may transfer twice over one cable path
        std::vector<std::string> extra = {"--bytes", bytes, "--timeout", limit};
        if (one_way)
            extra.push_back("--one-way");
        std::vector<std::string> sargs = {stream_path(), "--config", server_config(fault + ",seed=1"), "--listen",
                                          "7100"};
        std::vector<std::string> cargs = {stream_path(), "--config", client_config(fault + ",seed=2"), "--connect",
                                          peer + ",7100"};
        sargs.insert(sargs.end(), extra.begin(), extra.end());
        cargs.insert(cargs.end(), extra.begin(), extra.end());
        Child server(sargs);
        ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
        Child client(cargs);
        std::string cl, sl;
        ASSERT_TRUE(client.wait_line("stream ", (limit_s() + 10) * 1000, &cl)) << client.output();
        ASSERT_TRUE(server.wait_line("stream ", 30000, &sl)) << server.output();
        std::cout << cl << "\n" << sl << "\n";
        EXPECT_NE(cl.find(" ok "), std::string::npos) << cl;
        EXPECT_NE(sl.find(" ok "), std::string::npos) << sl;
        ASSERT_TRUE(client.wait_line("faults ", 30000, client_faults)) << client.output();
        ASSERT_TRUE(server.wait_line("faults ", 30000, server_faults)) << server.output();
        ASSERT_TRUE(client.wait_line("recovery ", 30000, &client_recovery_)) << client.output();
        ASSERT_TRUE(server.wait_line("recovery ", 30000, &server_recovery_)) << server.output();
        ASSERT_TRUE(client.wait_line("offload ", 30000, &client_offload_)) << client.output();
        ASSERT_TRUE(server.wait_line("offload ", 30000, &server_offload_)) << server.output();
        std::cout << "client " << client_recovery_ << "\nserver " << server_recovery_ << "\n";
        EXPECT_EQ(client.wait_exit(30000), 0) << client.output();
        EXPECT_EQ(server.wait_exit(30000), 0) << server.output();
    }

    TempDir dir_;
    std::vector<std::string> prefixes_;
    std::string client_recovery_, server_recovery_; // "recovery rto=N ..." of each side
    std::string client_offload_, server_offload_;   // "offload tso_frames=N lro_frames=N ..."
};

TEST_F(FaultTest, OnePercentLossWithReorderingStreams128MiBEachWayByteExact)
{
    std::string cf, sf;
    transfer("loss=0.01,reorder=0.01", size_or("128M"), "fd75:6373::1", false, &cf, &sf);
    for (const std::string &l : {cf, sf}) {
        EXPECT_GT(fields(l)["dropped"], 0) << l;
        EXPECT_GT(fields(l)["reordered"], 0) << l;
        EXPECT_EQ(fields(l)["duplicated"], 0) << l;
        EXPECT_EQ(fields(l)["corrupted"], 0) << l;
    }
    // Both ways in 64 KiB frames (TSO out, LRO in: the cable's default).
    for (const std::string &l : {client_offload_, server_offload_}) {
        EXPECT_GT(fields(l)["tso_frames"], 0) << l;
        EXPECT_GT(fields(l)["lro_frames"], 0) << l;
        EXPECT_EQ(fields(l)["rx_oversize"], 0) << l;
    }
}

// A frame of up to 44 wire segments (TSO) is lost whole on this cable: the
// sender resends it (whole, or cut to the window after a timeout), over IPv6
// and IPv4, and every byte arrives once and in order.
TEST_F(FaultTest, LostSixtyFourKiBFramesAreResentAndTheStreamIsExact)
{
    for (const char *peer : {"fd75:6373::1", "198.18.0.1"}) {
        std::string cf, sf;
        transfer("loss=2%", "16M", peer, true, &cf, &sf);
        EXPECT_GT(fields(sf)["dropped"], 0) << sf;
        EXPECT_GT(fields(client_offload_)["tso_frames"], 0) << client_offload_;
        EXPECT_GT(fields(server_offload_)["lro_frames"], 0) << server_offload_;
        auto r = fields(client_recovery_);
        EXPECT_GT(r["rto"] + r["fast_recoveries"] + r["sack_rexmits"] + r["tail_loss_probes"], 0) << client_recovery_;
    }
}

// At 5 % loss most windows lose a segment, many two, and some a resent one:
// the sender repairs them from the receiver's SACK blocks (docs/design.md,
// "Faults", has the figures).
TEST_F(FaultTest, FivePercentLossWithReorderingStreams64MiBByteExact)
{
    std::string cf, sf;
    transfer("loss=5%,reorder=1%", size_or("64M"), "198.18.0.1", true, &cf, &sf);
    for (const std::string &l : {cf, sf}) {
        EXPECT_GT(fields(l)["dropped"], 0) << l;
        EXPECT_GT(fields(l)["reordered"], 0) << l;
    }
    EXPECT_GT(fields(client_recovery_)["sack_rexmits"], 0) << client_recovery_;
}

// Over IPv4, where every bit of the IP packet is under a checksum: each
// corrupted frame is dropped, by IP's header checksum or TCP's.
TEST_F(FaultTest, DuplicatedAndCorruptedFramesAreDroppedByChecksumsAndTheStreamIsExact)
{
    std::string cf, sf;
    transfer("dup=0.01,corrupt=0.01,reorder=0.01", "32M", "198.18.0.1", false, &cf, &sf);
    for (const std::string &l : {cf, sf}) {
        auto f = fields(l);
        EXPECT_EQ(f["dropped"], 0) << l;
        EXPECT_GT(f["duplicated"], 0) << l;
        EXPECT_GT(f["corrupted"], 0) << l;
        long long caught = f["ip_checksum_errors"] + f["tcp_checksum_errors"];
        EXPECT_GT(caught, 0) << l;
        // A duplicate of a corrupted frame is caught twice.
        EXPECT_LE(caught, f["corrupted"] + f["duplicated"]) << l;
        // A corrupted frame still held back for reordering when the port
        // closes is never seen by IP.
        EXPECT_GE(f["ip_drops"] + f["tcp_drops"] + 8, f["corrupted"]) << l;
    }
}

// The client is killed with SIGKILL mid-transfer: nothing of it answers any
// more (its stack died with it, so no RST can come), and the link goes down.
// The survivor set keepalive as an application would, so it learns of the loss
// with ETIMEDOUT within seconds; then it holds no connection, no segment and
// no mbuf beyond those it held before connecting.
TEST_F(FaultTest, PeerKilledMidTransferLeavesSurvivorWithTimeoutAndNothingLeaked)
{
    Child server({stream_path(), "--config", server_config(""), "--listen", "7100", "--bytes", "1G", "--keepalive", "1",
                  "--timeout", "50"});
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
    pid_t victim;
    {
        Child client({stream_path(), "--config", client_config(""), "--connect", "198.18.0.1,7100", "--bytes", "1G"});
        victim = client.pid();
        ASSERT_TRUE(server.wait_line("transferring", 30000)) << server.output();
        ASSERT_EQ(kill(victim, SIGKILL), 0);
        EXPECT_EQ(client.wait_exit(10000), -1); // died by the signal
    }

    std::string line;
    ASSERT_TRUE(server.wait_line("stream ", 30000, &line)) << server.output();
    EXPECT_NE(line.find(" FAILED "), std::string::npos) << line;
    EXPECT_NE(line.find(" error=ETIMEDOUT"), std::string::npos) << line;
    ASSERT_TRUE(server.wait_line("leaks ", 10000, &line)) << server.output();
    auto f = fields(line);
    EXPECT_EQ(f["tcp_pcbs"], 0) << line;
    EXPECT_EQ(f["tcp_segs"], 0) << line;
    EXPECT_EQ(f["mbufs_in_use"], 0) << line;
    EXPECT_EQ(server.wait_exit(10000), 1) << server.output();
}

} // namespace
