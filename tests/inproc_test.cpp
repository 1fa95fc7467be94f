// One stack instance inside the test process, on a net_ring port whose TX ring
// is its RX ring: the loopback path, the TCP option hooks, and mbuf ownership.
#include <ucred.h>
#include <ucstack/socket.h>
#include <ucstack/stack.h>

extern "C" {
#include "../ucred/cred.h"
#include "cred_table.h"
#include "drive.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "tcp_options.h"
}
#include "hand_peer.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

struct ucs_stack *g_stack;
std::string g_prefix;

class StackEnvironment : public ::testing::Environment {
  public:
    void SetUp() override
    {
        g_prefix = "ucs-test-inproc-" + std::to_string(getpid());
        std::string text = "eal = --no-huge -m 512 --no-pci --no-shconf --no-telemetry --log-level=warning --file-prefix=" +
                           g_prefix + "\nport = net_ring0\nipv4 = 198.18.3.1/24\nipv6 = fd75:6375::1/64\n";
        struct ucs_config cfg;
        char err[256];
        ASSERT_EQ(ucs_config_parse(text.c_str(), &cfg, err, sizeof(err)), 0) << err;
        g_stack = ucs_stack_create(&cfg, err, sizeof(err));
        ASSERT_NE(g_stack, nullptr) << err;
        ASSERT_EQ(ucs_drive_echo_server(7000), 0);
    }
    void TearDown() override
    {
        ucs_stack_destroy(g_stack);
        rmdir(("/var/run/dpdk/" + g_prefix).c_str());
    }
};

struct ucs_stack_stats stats()
{
    struct ucs_stack_stats s;
    ucs_stack_get_stats(g_stack, &s);
    return s;
}

void echo(const char *addr, uint64_t bytes)
{
    struct sockaddr_storage dst;
    struct ucs_echo_result res;
    ASSERT_EQ(ucs_drive_addr(addr, 7000, &dst), 0);
    ucs_drive_echo(g_stack, &dst, bytes, 30000, &res);
    EXPECT_TRUE(res.ok) << addr << ": " << res.error;
    EXPECT_EQ(res.bytes, bytes) << addr;
}

TEST(Loopback, EchoOverLoopbackAndOwnAddressesNeverTouchesThePort)
{
    uint64_t rx0 = stats().rx_frames, tx0 = stats().tx_frames;
    for (const char *addr : {"127.0.0.1", "::1", "198.18.3.1", "fd75:6375::1"})
        echo(addr, 8u << 20);
    // 32 MiB each way is over 20,000 segments; the port may only have seen the
    // odd neighbour-discovery or MLD frame in that time.
    EXPECT_LT(stats().rx_frames - rx0, 16u);
    EXPECT_LT(stats().tx_frames - tx0, 16u);
}

TEST(Loopback, WholeLoopbackNetServes)
{
    echo("127.0.0.2", 1u << 20);
    echo("127.255.0.9", 1u << 20);
}

// A test handler for ExID 0x7e57 (the credential option uses 0x7563) that fills all the room it is given.
struct SeenOption {
    enum tcp_state state;
    std::vector<uint8_t> payload;
};
std::vector<SeenOption> g_seen;
uint8_t g_room_seen;

uint8_t fill_room(const struct tcp_pcb *, uint8_t room)
{
    g_room_seen = room;
    return room;
}

bool write_marker(const struct tcp_pcb *pcb, uint8_t *payload, uint8_t len)
{
    for (uint8_t i = 0; i < len; i++)
        payload[i] = static_cast<uint8_t>(pcb->state == SYN_SENT ? 0xC0 + i : 0x50 + i);
    return true;
}

void record(struct tcp_pcb *pcb, const struct tcp_hdr *, const uint8_t *payload, uint8_t len)
{
    g_seen.push_back({pcb->state, std::vector<uint8_t>(payload, payload + len)});
}

TEST(TcpOptions, ExperimentalOptionRidesOnSynAndSynAckBesideStandardOptions)
{
    struct ucs_tcpopt_handler h = {0x7e57, fill_room, write_marker, record};
    struct ucs_tcpopt_stats before, after;
    ucs_tcpopt_get_stats(&before);
    g_seen.clear();
    ASSERT_EQ(ucs_tcpopt_register(&h), 0);
    EXPECT_EQ(ucs_tcpopt_register(&h), -EEXIST);
    echo("127.0.0.1", 4096);
    ucs_tcpopt_unregister(0x7e57);
    ucs_tcpopt_get_stats(&after);

    // MSS (4) + window scale (4) + SACK-permitted (4) + timestamps (12) leave
    // 16 of 40 bytes: 4 for kind, length and ExID, 12 of payload.
    EXPECT_EQ(g_room_seen, 12);
    ASSERT_EQ(g_seen.size(), 2u);
    EXPECT_EQ(g_seen[0].state, LISTEN); // the SYN reaches the listener
    EXPECT_EQ(g_seen[1].state, SYN_SENT); // the SYN-ACK reaches the connector
    ASSERT_EQ(g_seen[0].payload.size(), 12u);
    ASSERT_EQ(g_seen[1].payload.size(), 12u);
    for (uint8_t i = 0; i < 12; i++) {
        EXPECT_EQ(g_seen[0].payload[i], 0xC0 + i);
        EXPECT_EQ(g_seen[1].payload[i], 0x50 + i);
    }
    EXPECT_EQ(after.sent - before.sent, 2u);
    EXPECT_EQ(after.delivered - before.delivered, 2u);
    EXPECT_EQ(after.malformed, before.malformed);
}

// The credential reference in a segment's options, if it carries one.
bool cred_ref_in(const std::vector<uint8_t> &seg, struct ucs_cred_ref *ref)
{
    struct ucs_tcpopt_exp found[UCS_TCPOPT_MAX_HANDLERS];
    size_t hdrlen = (seg[12] >> 4) * 4u;
    int n = ucs_tcpopt_parse(seg.data() + TCP_HLEN, hdrlen - TCP_HLEN, found, UCS_TCPOPT_MAX_HANDLERS);
    for (int i = 0; i < n; i++) {
        if (found[i].exid == 0x7563 && found[i].len == 12) {
            ref->slot = static_cast<uint16_t>(found[i].payload[2] << 8 | found[i].payload[3]);
            ref->pid = static_cast<pid_t>(be32(found[i].payload + 4));
            ref->gen = be32(found[i].payload + 8);
            return true;
        }
    }
    return false;
}

// A SYN as a Linux or lwIP connector sends it, with the credential option
// carrying ref: MSS, SACK-permitted, timestamps, window scale, ours (40 bytes).
std::vector<uint8_t> syn_options(const struct ucs_cred_ref &ref)
{
    std::vector<uint8_t> o = {2, 4, 0x05, 0xb4, 1,   1,  4,    2,    1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
                              1, 3, 3,    7,    253, 16, 0x75, 0x63, 1, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0};
    o[30] = static_cast<uint8_t>(ref.slot >> 8);
    o[31] = static_cast<uint8_t>(ref.slot);
    for (int i = 0; i < 4; i++) {
        o[32 + i] = static_cast<uint8_t>(static_cast<uint32_t>(ref.pid) >> (24 - 8 * i));
        o[36 + i] = static_cast<uint8_t>(ref.gen >> (24 - 8 * i));
    }
    return o;
}

// lwIP sizes a SYN-ACK once, as it queues it, and writes its options at
// every transmission. When whether it carries the credential option changed
// in between, its retransmission used to write the option 16 bytes past the
// segment, into the next block of lwIP's heap, which lwIP found corrupt when it
// freed the SYN-ACK ("mem_free: illegal memory: non-linked: double free").
// Here the option is switched between the SYN and its repeat, both ways: the
// retransmission keeps the first one's length, the handshake completes and the
// connector's credential reaches the accepted socket.
void retransmit_after_switch(uint16_t port, bool on_at_syn)
{
    struct ucs_cred *mine = ucs_cred_capture();
    struct ucs_cred_ref ref, listener_ref;
    ASSERT_NE(mine, nullptr);
    ASSERT_EQ(ucs_cred_table_publish(mine, &ref), 0);

    int l = ucs_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_GE(l, 0);
    ASSERT_EQ(ucs_bind(l, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)), 0);
    ASSERT_EQ(ucs_listen(l, 4), 0);

    struct ucs_stack_stats before = stats();
    HandPeer peer;
    const uint32_t iss = 0x10000000;
    ucs_set_cred_option(on_at_syn);
    peer.send(port, iss, 0, TCP_SYN, syn_options(ref));
    ASSERT_TRUE(peer.wait_segments(1));
    ucs_set_cred_option(!on_at_syn);
    peer.send(port, iss, 0, TCP_SYN, syn_options(ref)); // the same SYN again
    ASSERT_TRUE(peer.wait_segments(2));
    ucs_set_cred_option(true);

    const std::vector<uint8_t> &first = peer.segment(0), &again = peer.segment(1);
    ASSERT_EQ(first[13], TCP_SYN | TCP_ACK);
    ASSERT_EQ(again[13], TCP_SYN | TCP_ACK);
    EXPECT_EQ(be32(&again[4]), be32(&first[4])); // the same SYN-ACK, resent
    EXPECT_EQ(again.size(), first.size());
    EXPECT_EQ(again[12], first[12]); // and as long: the room it was queued with
    EXPECT_EQ(cred_ref_in(first, &listener_ref), on_at_syn);
    EXPECT_FALSE(cred_ref_in(again, &listener_ref)); // off, or never room for it
    if (on_at_syn) {
        struct ucs_cred *listener = nullptr;
        ASSERT_TRUE(cred_ref_in(first, &listener_ref));
        ASSERT_EQ(ucs_cred_table_resolve(&listener_ref, &listener), UCS_CRED_OK);
        EXPECT_EQ(listener->pid, getpid());
        ucs_cred_release(listener);
    }

    // The peer acknowledges: lwIP frees the SYN-ACK, and accept() completes.
    peer.send(port, iss + 1, be32(&first[4]) + 1, TCP_ACK, {});
    int c = -1;
    for (int i = 0; i < 100000 && c < 0; i++) {
        ucs_stack_poll(g_stack);
        c = ucs_accept(l, nullptr, nullptr);
    }
    ASSERT_GE(c, 0) << strerror(errno);
    ucred_t *uc = nullptr;
    ASSERT_EQ(getpeerucred(c, &uc), 0) << strerror(errno);
    EXPECT_EQ(ucred_getpid(uc), getpid());
    EXPECT_EQ(ucred_geteuid(uc), geteuid());
    ucred_free(uc);

    struct ucs_stack_stats after = stats();
    EXPECT_EQ(after.tcpopt_overrun_refused, before.tcpopt_overrun_refused);
    EXPECT_EQ(after.tcpopt_withheld - before.tcpopt_withheld, on_at_syn ? 1u : 0u);
    struct linger hard = {1, 0};
    ucs_setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    ucs_close(c); // a RST into the peer's raw pcb
    ucs_close(l);
    for (int i = 0; i < 100; i++)
        ucs_stack_poll(g_stack);
    ucs_cred_release(mine);
}

TEST(SynAckRetransmission, KeepsItsLengthWhenTheCredentialOptionWasOffAtTheSyn)
{
    retransmit_after_switch(7102, false);
}

TEST(SynAckRetransmission, KeepsItsLengthWhenTheCredentialOptionWasOnAtTheSyn)
{
    retransmit_after_switch(7103, true);
}

TEST(MbufOwnership, EveryMbufIsBackAfterAMillionFrames)
{
    struct netif *port = nullptr, *n;
    NETIF_FOREACH(n) {
        if (n->name[0] == 'd' && n->name[1] == 'p')
            port = n;
    }
    ASSERT_NE(port, nullptr);
    // 198.18.3.9 "lives" at our own MAC: every frame sent to it comes back in
    // through the ring and is dropped by IP as not ours, freeing its mbuf.
    ip4_addr_t far;
    IP4_ADDR(&far, 198, 18, 3, 9);
    ASSERT_EQ(etharp_add_static_entry(&far, reinterpret_cast<struct eth_addr *>(port->hwaddr)), ERR_OK);
    struct udp_pcb *pcb = udp_new();
    ASSERT_NE(pcb, nullptr);
    ip_addr_t dst;
    ip_addr_copy_from_ip4(dst, far);

    const uint64_t frames = 1000000;
    uint64_t rx0 = stats().rx_frames;
    for (uint64_t i = 0; i < frames; i++) {
        struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, 18, PBUF_RAM);
        ASSERT_NE(p, nullptr);
        memset(p->payload, static_cast<int>(i), 18);
        ASSERT_EQ(udp_sendto(pcb, p, &dst, 9), ERR_OK);
        pbuf_free(p);
        if ((i & 31) == 31)
            ucs_stack_poll(g_stack);
    }
    for (int i = 0; i < 100000 && stats().rx_frames - rx0 < frames; i++)
        ucs_stack_poll(g_stack);
    udp_remove(pcb);
    etharp_remove_static_entry(&far);

    struct ucs_stack_stats s = stats();
    EXPECT_EQ(s.rx_frames - rx0, frames);
    EXPECT_EQ(s.tx_alloc_failed, 0u);
    EXPECT_EQ(s.tx_backlog_now, 0u);
    EXPECT_EQ(s.mbufs_free, s.mbufs_total);
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new StackEnvironment);
    return RUN_ALL_TESTS();
}
