// Real processes, real users: a server started as root creates its listening
// socket, then drops to another uid, gid and group list; a client running as
// 65534 connects over the virtio cable from its own stack instance. Each must
// see exactly the other's credential as the contract says: the client the
// listener's as of socket creation (root), the server the client's as of
// connect(). Needs root (to change users).
#include "child.hpp"

#include <gtest/gtest.h>
#include <grp.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace
{

std::string config(const std::string &prefix, int core, const std::string &port, const char *v4,
                   const std::string &attest)
{
    return "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=error -l " + std::to_string(core) +
           " --file-prefix=" + prefix + "\nport = " + port + "\nipv4 = " + v4 +
           "/24\nhost_local = yes\nattest = " + attest + "\n";
}

std::string field(const std::string &line, const std::string &key)
{
    size_t at = line.find(" " + key + "=");
    if (at == std::string::npos)
        return "?";
    at += key.size() + 2;
    return line.substr(at, line.find(' ', at) - at);
}

std::string own_groups()
{
    gid_t g[256];
    int n = getgroups(256, g);
    std::string out;
    for (int i = 0; i < n; i++)
        out += (i ? "," : "") + std::to_string(g[i]);
    return out;
}

// What the two processes leave that a process which dropped its privileges
// cannot remove itself: DPDK's runtime directory and the credential table.
struct Leftovers {
    std::string prefix;
    pid_t server = 0, client = 0;
    ~Leftovers()
    {
        for (const char *side : {"-s", "-c"})
            rmdir(("/var/run/dpdk/" + prefix + side).c_str());
        for (pid_t p : {server, client})
            if (p)
                unlink(("/dev/shm/ucstack-cred-" + std::to_string(p)).c_str());
    }
};

TEST(CredentialsAcrossTheCable, EachSideSeesTheContractsCredentialOfTheOther)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the server drops to another user and the client runs as 65534";
    TempDir dir;
    chmod(dir.path().c_str(), 0755);
    std::string sock = dir.path() + "/cable.sock";
    std::string pre = "ucs-test-cred-" + std::to_string(getpid());
    Leftovers leftovers{pre};
    std::string attest = dir.path() + "/attest.sock";
    std::string scfg = dir.file(
        "s.conf", config(pre + "-s", 0, "net_vhost0,iface=" + sock + ",queues=1", "198.18.0.1", "listen " + attest));
    std::string ccfg = dir.file(
        "c.conf", config(pre + "-c", 1, "virtio_user0,path=" + sock + ",queues=1", "198.18.0.2", "connect " + attest));
    chmod(scfg.c_str(), 0644);
    chmod(ccfg.c_str(), 0644);
    std::string whoami = ucs_node_path();
    whoami.replace(whoami.rfind("ucs-node"), 8, "ucs-whoami");

    Child server({whoami, "--config", scfg, "--listen", "7000", "--drop", "1000:1000:1000,4242"});
    leftovers.server = server.pid();
    std::string line;
    ASSERT_TRUE(server.wait_line("self ", 30000, &line)) << server.output();
    EXPECT_EQ(field(line, "euid"), "1000") << line;
    EXPECT_EQ(field(line, "groups"), "1000,4242") << line;
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
    ASSERT_EQ(chmod(sock.c_str(), 0666), 0);
    ASSERT_EQ(chmod(attest.c_str(), 0666), 0);

    Child client({"env", "-u", "XDG_RUNTIME_DIR", "setpriv", "--reuid=65534", "--regid=65534", "--groups=100,65534",
                  whoami, "--config", ccfg, "--connect", "198.18.0.1,7000"});
    leftovers.client = client.pid();
    std::string client_self, client_peer, server_peer;
    ASSERT_TRUE(client.wait_line("self ", 30000, &client_self)) << client.output();
    ASSERT_TRUE(client.wait_line("peer ", 30000, &client_peer)) << client.output();
    ASSERT_TRUE(server.wait_line("peer ", 30000, &server_peer)) << server.output();
    EXPECT_EQ(client.wait_exit(30000), 0) << client.output();
    EXPECT_EQ(server.wait_exit(30000), 0) << server.output();

    // The client sees the listener as it was when its socket was created: root.
    EXPECT_EQ(field(client_peer, "pid"), std::to_string(server.pid())) << client_peer;
    for (const char *k : {"ruid", "euid", "suid", "rgid", "egid", "sgid"})
        EXPECT_EQ(field(client_peer, k), "0") << k << ": " << client_peer;
    EXPECT_EQ(field(client_peer, "groups"), own_groups()) << client_peer;

    // The server sees the client exactly as it was at connect().
    EXPECT_EQ(field(client_self, "pid"), std::to_string(client.pid())) << client_self;
    EXPECT_EQ(field(client_self, "euid"), "65534") << client_self;
    EXPECT_EQ(server_peer.substr(5), client_self.substr(5));
    EXPECT_EQ(field(server_peer, "groups"), "100,65534") << server_peer;
}

} // namespace
