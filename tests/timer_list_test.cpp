// lwIP's TCP timers walk only the connections with timer work
// (stack/tcp_timer_list.c, patch 0005): idle connections are not visited,
// and what the timers do still happens. One process over loopback; the test
// calls lwIP's timer (tcp_tmr: the fast timer each call, the slow one every
// other) itself, and loopback frames move only in ucs_stack_poll, so a test
// decides when time passes and when segments arrive.
#include "loopback_pairs.hpp"
#include "pcb_of.hpp"
#include "stack_env.hpp"

extern "C" {
#include "lwip/netif.h"
#include "tcp_timer_list.h"
}

#include <cstring>
#include <ctime>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <utility>
#include <vector>

namespace
{

unsigned count_list(struct tcp_pcb *pcb)
{
    unsigned n = 0;
    for (; pcb; pcb = pcb->next)
        n++;
    return n;
}

constexpr int kIdle = 3000;

TEST(TimerList, IdleConnectionsAreNotVisited)
{
    std::vector<Pair> pairs = open_pairs(kIdle, 7400);
    ASSERT_EQ(pairs.size(), (size_t)kIdle);
    for (const Pair &p : pairs) {
        char c = 'x', back;
        ASSERT_EQ(ucs_send(p.first, &c, 1, 0), 1);
        ASSERT_TRUE(read_exactly(p.second, &back, 1));
        ASSERT_EQ(ucs_send(p.second, &c, 1, 0), 1);
        ASSERT_TRUE(read_exactly(p.first, &back, 1));
    }
    ASSERT_TRUE(settle()) << timer_stats().due << " connections still due";
    ASSERT_GE(count_list(tcp_active_pcbs), 2u * kIdle);

    // 100 fast and 50 slow passes over 6,000 idle connections: lwIP walked
    // 900,000 pcbs here, the due list none.
    uint64_t before = timer_stats().visits;
    for (int i = 0; i < 100; i++)
        tcp_tmr();
    EXPECT_EQ(timer_stats().visits - before, 0u);

    // Keepalive on every client (probes after 2 hours idle): the next pass
    // visits each once and puts it to sleep until its probe is due.
    int on = 1;
    for (const Pair &p : pairs)
        ASSERT_EQ(ucs_setsockopt(p.first, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
    EXPECT_EQ(timer_stats().due, (unsigned)kIdle);
    before = timer_stats().visits;
    for (int i = 0; i < 100; i++)
        tcp_tmr();
    EXPECT_EQ(timer_stats().visits - before, (unsigned)kIdle);
    EXPECT_EQ(timer_stats().due, 0u);
    EXPECT_EQ(timer_stats().sleeping, (unsigned)kIdle);
    close_all(pairs);
}

TEST(TimerList, KeepaliveProbesAnIdleConnectionAndItsPeerAnswers)
{
    std::vector<Pair> pairs = open_pairs(2, 7401);
    ASSERT_EQ(pairs.size(), 2u);
    ASSERT_TRUE(settle());
    struct tcp_pcb *probed = pcb_of(pairs[0].first), *quiet = pcb_of(pairs[1].first);
    ASSERT_NE(probed, nullptr);
    ASSERT_NE(quiet, nullptr);
    // A segment to each client: their idle time starts now.
    for (const Pair &p : pairs) {
        char c = 'k';
        ASSERT_EQ(ucs_send(p.second, &c, 1, 0), 1);
        ASSERT_TRUE(read_exactly(p.first, &c, 1));
    }
    ASSERT_TRUE(settle());
    int on = 1, one_second = 1;
    ASSERT_EQ(ucs_setsockopt(pairs[0].first, IPPROTO_TCP, TCP_KEEPIDLE, &one_second, sizeof(one_second)), 0);
    ASSERT_EQ(ucs_setsockopt(pairs[0].first, IPPROTO_TCP, TCP_KEEPINTVL, &one_second, sizeof(one_second)), 0);
    ASSERT_EQ(ucs_setsockopt(pairs[0].first, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);

    // No frames move: the probe goes out from the slow timer alone, on the
    // first tick more than 1 s (20 ticks of 50 ms) after the last segment.
    // Meanwhile the pcb sleeps: one visit puts it to sleep, one wakes it.
    uint64_t before = timer_stats().visits;
    for (int i = 0; i < 100 && probed->keep_cnt_sent == 0; i++)
        slow_ticks(1);
    EXPECT_EQ(probed->keep_cnt_sent, 1u);
    EXPECT_EQ(tcp_ticks - probed->tmr, 1000u / TCP_SLOW_INTERVAL + 1);
    EXPECT_EQ(quiet->keep_cnt_sent, 0u);
    EXPECT_EQ(timer_stats().visits - before, 2u);
    // The next probe is due 1 s (TCP_KEEPINTVL) later.
    while (probed->keep_cnt_sent == 1 && tcp_ticks - probed->tmr <= 2000u / TCP_SLOW_INTERVAL)
        slow_ticks(1);
    EXPECT_EQ(probed->keep_cnt_sent, 2u);
    EXPECT_EQ(tcp_ticks - probed->tmr, 2000u / TCP_SLOW_INTERVAL + 1);
    // The peer's answer is activity: the probe count starts again.
    for (int i = 0; i < 10 && probed->keep_cnt_sent != 0; i++)
        deliver_frames();
    EXPECT_EQ(probed->keep_cnt_sent, 0u);
    close_all(pairs);
}

TEST(TimerList, KeepaliveFurtherThanTheWheelTurnsProbesOnTime)
{
    std::vector<Pair> pairs = open_pairs(1, 7406);
    ASSERT_EQ(pairs.size(), 1u);
    char c = 'k';
    ASSERT_EQ(ucs_send(pairs[0].second, &c, 1, 0), 1);
    ASSERT_TRUE(read_exactly(pairs[0].first, &c, 1));
    ASSERT_TRUE(settle());
    struct tcp_pcb *probed = pcb_of(pairs[0].first);
    ASSERT_NE(probed, nullptr);
    // 300 s idle: 6,000 slow ticks, past the wheel's 4,096.
    int on = 1, idle = 300;
    ASSERT_EQ(ucs_setsockopt(pairs[0].first, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
    ASSERT_EQ(ucs_setsockopt(pairs[0].first, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);

    uint64_t before = timer_stats().visits;
    for (int i = 0; i < 7000 && probed->keep_cnt_sent == 0; i++)
        slow_ticks(1);
    EXPECT_EQ(probed->keep_cnt_sent, 1u);
    EXPECT_EQ(tcp_ticks - probed->tmr, 300000u / TCP_SLOW_INTERVAL + 1);
    EXPECT_EQ(timer_stats().visits - before, 3u) << "to sleep, round the wheel once, the probe";
    close_all(pairs);
}

TEST(TimerList, DelayedAckIsSentByTheFastTimer)
{
    std::vector<Pair> pairs = open_pairs(1, 7402);
    ASSERT_EQ(pairs.size(), 1u);
    ASSERT_TRUE(settle());
    struct tcp_pcb *server = pcb_of(pairs[0].second), *client = pcb_of(pairs[0].first);
    ASSERT_NE(server, nullptr);
    ASSERT_NE(client, nullptr);
    ASSERT_EQ(timer_stats().due, 0u);

    // One segment arrives, unread: lwIP delays its ACK.
    ASSERT_EQ(ucs_send(pairs[0].first, "ping", 4, 0), 4);
    for (int i = 0; i < 10 && server->rcv_nxt != client->snd_nxt; i++)
        deliver_frames();
    ASSERT_EQ(server->rcv_nxt, client->snd_nxt);
    ASSERT_NE(server->flags & TF_ACK_DELAY, 0);
    ASSERT_NE(client->unacked, nullptr);
    tcp_fasttmr();
    EXPECT_EQ(server->flags & TF_ACK_DELAY, 0);
    for (int i = 0; i < 10 && client->unacked; i++)
        deliver_frames();
    EXPECT_EQ(client->unacked, nullptr);
    close_all(pairs);
}

TEST(TimerList, RetransmissionFiresOnAConnectionThatWasIdle)
{
    std::vector<Pair> pairs = open_pairs(1, 7403);
    ASSERT_EQ(pairs.size(), 1u);
    ASSERT_TRUE(settle());
    struct tcp_pcb *client = pcb_of(pairs[0].first);
    ASSERT_NE(client, nullptr);
    ASSERT_EQ(client->nrtx, 0);

    // The segment waits in the loopback queue: to the sender it is lost
    // until the retransmission timer runs out.
    char msg[100];
    memset(msg, 'r', sizeof(msg));
    ASSERT_EQ(ucs_send(pairs[0].first, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
    for (int i = 0; i < 400 && client->nrtx == 0; i++)
        tcp_tmr();
    EXPECT_EQ(client->nrtx, 1);

    char got[sizeof(msg)];
    ASSERT_TRUE(read_exactly(pairs[0].second, got, sizeof(got)));
    EXPECT_EQ(memcmp(got, msg, sizeof(msg)), 0);
    EXPECT_TRUE(settle());
    EXPECT_EQ(client->unacked, nullptr);
    close_all(pairs);
}

TEST(TimerList, FinWait2TimesOutAfterItsTimeout)
{
    std::vector<Pair> pairs = open_pairs(1, 7404);
    ASSERT_EQ(pairs.size(), 1u);
    ASSERT_TRUE(settle());
    FourTuple t;
    ASSERT_TRUE(four_tuple_of(pairs[0].first, &t));

    // The client closes, the server does not: the client waits in FIN-WAIT-2.
    ASSERT_EQ(ucs_close(pairs[0].first), 0);
    struct tcp_pcb *client = pcb_of(t);
    ASSERT_NE(client, nullptr);
    for (int i = 0; i < 10 && client->state != FIN_WAIT_2; i++)
        poll_stack();
    ASSERT_EQ(client->state, FIN_WAIT_2);

    // lwIP removes it once more than TCP_FIN_WAIT_TIMEOUT passed since tmr.
    u32_t limit = TCP_FIN_WAIT_TIMEOUT / TCP_SLOW_INTERVAL;
    while ((u32_t)(tcp_ticks - client->tmr) < limit)
        slow_ticks(1);
    EXPECT_EQ(pcb_of(t), client) << "still there at the limit";
    slow_ticks(1);
    EXPECT_EQ(pcb_of(t), nullptr) << "gone one tick after";
    ucs_close(pairs[0].second);
}

// Closes each pair's client first and then its server, so that the client
// keeps TIME-WAIT; returns when all have got there.
void close_into_time_wait(std::vector<Pair> &pairs, size_t from, size_t to)
{
    size_t want = timer_stats().timewait + (to - from);
    for (size_t i = from; i < to; i++)
        ASSERT_EQ(ucs_close(pairs[i].first), 0);
    for (int round = 0; round < 100 && timer_stats().timewait < want; round++) {
        poll_stack();
        for (size_t i = from; i < to; i++) {
            char c;
            if (pairs[i].second >= 0 && ucs_recv(pairs[i].second, &c, 1, 0) == 0) {
                ucs_close(pairs[i].second);
                pairs[i].second = -1;
            }
        }
    }
    ASSERT_EQ(timer_stats().timewait, want);
}

TEST(TimerList, TimeWaitExpiresOnTimeAndTheWalkStopsAtTheFirstUnexpired)
{
    // Whatever earlier tests left in TIME-WAIT expires first.
    const u32_t limit = 2 * TCP_MSL / TCP_SLOW_INTERVAL;
    slow_ticks(limit + 1);
    ASSERT_EQ(timer_stats().timewait, 0u);

    // Two groups whose last activity is 20 ticks apart (a pcb closed for
    // receiving keeps the tmr of its last segment before the close).
    constexpr size_t kClosed = 200;
    std::vector<Pair> pairs = open_pairs(kClosed, 7405);
    ASSERT_EQ(pairs.size(), kClosed);
    close_into_time_wait(pairs, 0, kClosed / 2);
    slow_ticks(20);
    for (size_t i = kClosed / 2; i < kClosed; i++) {
        char c = 'a';
        ASSERT_EQ(ucs_send(pairs[i].second, &c, 1, 0), 1);
        ASSERT_TRUE(read_exactly(pairs[i].first, &c, 1));
    }
    close_into_time_wait(pairs, kClosed / 2, kClosed);
    ASSERT_EQ(count_list(tcp_tw_pcbs), (unsigned)kClosed);

    // Each slow pass removes exactly the pcbs past 2*MSL and looks at one
    // more (the oldest left), where lwIP looked at every TIME-WAIT pcb.
    unsigned passes = 0;
    uint64_t visits_before = timer_stats().timewait_visits;
    while (timer_stats().timewait > 0 && passes < limit + 100) {
        unsigned due = 0, left;
        for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb; pcb = pcb->next)
            due += (u32_t)(tcp_ticks + 1 - pcb->tmr) > limit;
        uint64_t tw = timer_stats().timewait, visits = timer_stats().timewait_visits;
        slow_ticks(1);
        passes++;
        left = (unsigned)timer_stats().timewait;
        ASSERT_EQ(tw - left, due) << "pass " << passes;
        ASSERT_EQ(timer_stats().timewait_visits - visits, due + (left > 0)) << "pass " << passes;
    }
    EXPECT_EQ(timer_stats().timewait, 0u);
    EXPECT_EQ(count_list(tcp_tw_pcbs), 0u);
    EXPECT_GT(passes, limit) << "the last group lived 2*MSL from its last segment";
    EXPECT_LE(timer_stats().timewait_visits - visits_before, passes + kClosed);
}

// The TIME-WAIT list on its own: ordered by tmr whatever the order pcbs
// enter in, and a restarted pcb (a FIN in TIME-WAIT) moves to the end.
TEST(TimerList, TimeWaitListKeepsExpiryOrder)
{
    slow_ticks(2 * TCP_MSL / TCP_SLOW_INTERVAL + 1); // what other tests left expires
    ASSERT_EQ(timer_stats().timewait, 0u);
    struct tcp_pcb a, b, c;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    a.tmr = 1000;
    b.tmr = 995; // closed for receiving earlier: an older tmr
    c.tmr = 998;
    ucs_tcp_timer_registered(&tcp_tw_pcbs, &a);
    ucs_tcp_timer_registered(&tcp_tw_pcbs, &b);
    ucs_tcp_timer_registered(&tcp_tw_pcbs, &c);
    b.tmr = 1010;
    ucs_tcp_timewait_restarted(&b);

    std::vector<struct tcp_pcb *> order;
    struct tcp_pcb *p;
    while ((p = ucs_tcp_timewait_oldest()) != nullptr) {
        order.push_back(p);
        ucs_tcp_timer_removed(p);
    }
    EXPECT_EQ(order, (std::vector<struct tcp_pcb *>{&c, &a, &b}));
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new RingStackEnvironment);
    return RUN_ALL_TESTS();
}
