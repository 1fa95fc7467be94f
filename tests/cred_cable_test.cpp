// Real processes, real users: a server started as root creates its listening
// socket, then drops to another uid, gid and group list; a client running as
// 65534 connects over the virtio cable from its own stack instance. Each must
// see exactly the other's credential as the contract says: the client the
// listener's as of socket creation (root), the server the client's as of
// connect(). The link comes up only once each stack has attested the other
// through the kernel (credlink/attest.h); a peer that lies about whose
// credential it sends, or a link whose attestation fails, carries none.
// Needs root (to change users).
#include "child.hpp"

extern "C" {
#include "attest.h"
}

#include <gtest/gtest.h>
#include <grp.h>
#include <poll.h>
#include <string>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

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
// cannot remove itself: DPDK's runtime directory. (Credential tables have no
// name: nothing of them is left.)
struct Leftovers {
    std::string prefix;
    pid_t server = 0, client = 0;
    ~Leftovers()
    {
        for (const char *side : {"-s", "-c"})
            rmdir(("/var/run/dpdk/" + prefix + side).c_str());
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

    // The client sees the listener as it was when its socket was created: root
    // (it may still become root: its saved uid is 0). With a pidfd of it.
    EXPECT_EQ(field(client_peer, "pid"), std::to_string(server.pid())) << client_peer;
    EXPECT_EQ(field(client_peer, "pidfd"), std::to_string(server.pid())) << client_peer;
    for (const char *k : {"ruid", "euid", "suid", "rgid", "egid", "sgid"})
        EXPECT_EQ(field(client_peer, k), "0") << k << ": " << client_peer;
    EXPECT_EQ(field(client_peer, "groups"), own_groups()) << client_peer;

    // The server sees the client exactly as it was at connect(), pidfd included.
    EXPECT_EQ(field(client_self, "pid"), std::to_string(client.pid())) << client_self;
    EXPECT_EQ(field(client_self, "pidfd"), std::to_string(client.pid())) << client_self;
    EXPECT_EQ(field(client_self, "euid"), "65534") << client_self;
    EXPECT_EQ(server_peer.substr(5), client_self.substr(5));
    EXPECT_EQ(field(server_peer, "groups"), "100,65534") << server_peer;
}

} // namespace

namespace
{

// The two ends of a virtio cable between a root server and a client, with the
// attestation socket each end is configured with.
struct Cable {
    TempDir dir;
    std::string sock = dir.path() + "/cable.sock", attest = dir.path() + "/attest.sock";
    std::string pre = "ucs-test-cred-" + std::to_string(getpid());
    Leftovers leftovers{pre};
    std::string whoami = ucs_node_path().replace(ucs_node_path().rfind("ucs-node"), 8, "ucs-whoami");

    Cable()
    {
        chmod(dir.path().c_str(), 0755);
    }
    std::string server_config(const std::string &attest_line)
    {
        return conf("s.conf",
                    config(pre + "-s", 0, "net_vhost0,iface=" + sock + ",queues=1", "198.18.0.1", attest_line));
    }
    std::string client_config(const std::string &attest_line)
    {
        return conf("c.conf",
                    config(pre + "-c", 1, "virtio_user0,path=" + sock + ",queues=1", "198.18.0.2", attest_line));
    }
    std::string conf(const char *name, const std::string &text)
    {
        std::string path = dir.file(name, text);
        chmod(path.c_str(), 0644);
        return path;
    }
    // What a process running as 65534 needs to reach the server's sockets.
    bool open_to_all()
    {
        return chmod(sock.c_str(), 0666) == 0 && chmod(attest.c_str(), 0666) == 0;
    }
};

std::vector<std::string> as_nobody(std::vector<std::string> argv)
{
    std::vector<std::string> out = {
        "env", "-u", "XDG_RUNTIME_DIR", "setpriv", "--reuid=65534", "--regid=65534", "--groups=65534"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

// A stack built to lie, running as 65534, first connects honestly, then
// rewrites its own claim in its own table (its memory) before each further
// connection: every id 0; egid 0; groups 0,27,4242; a label. The server
// believes only what the kernel says of the process at the cable's other end:
// getpeerucred() gives EINVAL for the ids and groups and the counter says
// why; the label the kernel does not give is never reported. (Before every
// field was checked, 65534 was believed for egid 0, the groups and the label.)
TEST(CredentialsAcrossTheCable, APeerThatLiesAboutItselfIsNotBelieved)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the liar runs as 65534";
    Cable cable;
    std::string scfg = cable.server_config("listen " + cable.attest);
    std::string ccfg = cable.client_config("connect " + cable.attest);
    const std::vector<std::string> lies = {"root", "egid", "groups", "label"};

    Child server({cable.whoami, "--config", scfg, "--listen", "7000", "--drop", "1000:1000:1000", "--accept",
                  std::to_string(1 + lies.size())});
    cable.leftovers.server = server.pid();
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
    ASSERT_TRUE(cable.open_to_all());
    Child liar(as_nobody({cable.whoami, "--config", ccfg, "--connect", "198.18.0.1,7000", "--lie",
                          "root,egid,groups,label"}));
    cable.leftovers.client = liar.pid();

    std::string honest_peer, honest_stats, attest;
    ASSERT_TRUE(server.wait_line("peer ", 30000, &honest_peer)) << server.output();
    ASSERT_TRUE(server.wait_line("credstats ", 30000, &honest_stats)) << server.output();
    EXPECT_EQ(field(honest_peer, "pid"), std::to_string(liar.pid())) << honest_peer;
    EXPECT_EQ(field(honest_peer, "euid"), "65534") << honest_peer;
    EXPECT_EQ(field(honest_peer, "egid"), "65534") << honest_peer;
    EXPECT_EQ(field(honest_peer, "groups"), "65534") << honest_peer;
    EXPECT_EQ(field(honest_stats, "untrusted"), "0") << honest_stats;
    int untrusted = 0;
    for (const std::string &lie : lies) {
        std::string lying, peer, stats;
        ASSERT_TRUE(liar.wait_line("lying ", 30000, &lying)) << liar.output();
        EXPECT_EQ(lying, "lying " + lie);
        ASSERT_TRUE(server.wait_line("peer ", 30000, &peer)) << server.output();
        ASSERT_TRUE(server.wait_line("credstats ", 30000, &stats)) << server.output();
        if (lie == "label" && peer != "peer unknown: " + std::string(strerror(EINVAL))) {
            // The kernel gives no label here: the peer has none, whatever it claims.
            EXPECT_EQ(field(peer, "label"), "-") << "believed a label the kernel did not give: " << peer;
            EXPECT_EQ(field(peer, "euid"), "65534") << peer;
        } else {
            EXPECT_EQ(peer, "peer unknown: " + std::string(strerror(EINVAL))) << lie << " believed: " << peer;
            untrusted++;
        }
        EXPECT_EQ(field(stats, "untrusted"), std::to_string(untrusted)) << lie << ": " << stats;
        EXPECT_EQ(field(stats, "unattested"), "0") << stats;
    }
    ASSERT_TRUE(server.wait_line("attest ", 30000, &attest)) << server.output();
    EXPECT_EQ(liar.wait_exit(30000), 0) << liar.output();
    EXPECT_NE(server.wait_exit(30000), 0) << "the server believed every peer:\n" << server.output();
    EXPECT_EQ(field(attest, "attested"), "1") << attest;
}

int unix_socket(const std::string &path, bool listen_side)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int rc = listen_side ? bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr))
                         : connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr));
    if (fd < 0 || rc != 0 || (listen_side && (chmod(path.c_str(), 0666) != 0 || listen(fd, 1) != 0))) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

bool readable(int fd, int timeout_ms)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

// Receives the nonce a stack hands its socket peer, and hands it one of ours,
// as a process that is not on the cable would.
bool play_wrong_peer(int fd)
{
    ucs_attest_msg got{}, ours{};
    uint8_t nonce[UCS_ATTEST_NONCE];
    if (!readable(fd, 30000) || recv(fd, &got, sizeof(got), 0) != static_cast<ssize_t>(sizeof(got)) ||
        got.type != UCS_ATTEST_NONCE_FOR_YOU || getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
        return false;
    memcpy(ours.magic, "ucat", 4);
    ours.version = 1;
    ours.type = UCS_ATTEST_NONCE_FOR_YOU;
    memcpy(ours.nonce, nonce, sizeof(nonce));
    return send(fd, &ours, sizeof(ours), MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(ours));
}

// This test process (root) takes the server's attestation socket, and the
// client's: each stack then hands its nonce to a process that is not at the
// cable's other end, and sees across the cable only nonces it did not give
// out. Neither link comes up; no credential crosses.
TEST(CredentialsAcrossTheCable, ALinkWhoseAttestationFailsCarriesNothing)
{
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root: the client runs as 65534";
    Cable cable;
    std::string elsewhere = cable.dir.path() + "/elsewhere.sock";
    std::string scfg = cable.server_config("listen " + cable.attest);
    std::string ccfg = cable.client_config("connect " + elsewhere);

    Child server({cable.whoami, "--config", scfg, "--listen", "7000"});
    cable.leftovers.server = server.pid();
    ASSERT_TRUE(server.wait_line("ready", 30000)) << server.output();
    ASSERT_TRUE(cable.open_to_all());
    int to_server = unix_socket(cable.attest, false);
    ASSERT_GE(to_server, 0) << strerror(errno);
    ASSERT_TRUE(play_wrong_peer(to_server));
    int impostor = unix_socket(elsewhere, true);
    ASSERT_GE(impostor, 0) << strerror(errno);

    Child client(as_nobody({cable.whoami, "--config", ccfg, "--connect", "198.18.0.1,7000", "--link-timeout", "5"}));
    cable.leftovers.client = client.pid();
    ASSERT_TRUE(readable(impostor, 30000));
    int to_client = accept4(impostor, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(to_client, 0) << strerror(errno);
    ASSERT_TRUE(play_wrong_peer(to_client));

    std::string attest;
    ASSERT_TRUE(client.wait_line("link down", 30000)) << client.output();
    ASSERT_TRUE(client.wait_line("attest ", 30000, &attest)) << client.output();
    EXPECT_EQ(client.wait_exit(30000), 3) << client.output();
    EXPECT_EQ(field(attest, "attested"), "0") << attest;
    EXPECT_NE(field(attest, "foreign_nonce"), "0") << "no echo crossed the cable: " << attest;
    EXPECT_EQ(server.output().find("peer"), std::string::npos) << server.output();
    close(to_client);
    close(impostor);
    close(to_server);
}

} // namespace
