// The due list against lwIP's stock timer walk (issue 18 item 3). This
// program's tcp_timer_list.c is built with UCS_TIMER_DIFFERENTIAL: each timer
// pass also runs lwIP's own timer code over every idle and sleeping pcb, as
// stock lwIP walks every active pcb, and counts those it changed or freed:
// work the due list skipped. needs_timer() mirrors lwIP's conditions by
// hand, so an upstream change to them, which would apply without a conflict,
// shows here. Connections in every state a timer looks at, over loopback;
// the test drives the timers and moves the frames, tick by tick.
#include "loopback_pairs.hpp"
#include "pcb_of.hpp"
#include "stack_env.hpp"

#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <sstream>

namespace
{

struct ucs_tcp_timer_differential differential()
{
    struct ucs_tcp_timer_differential d;
    ucs_tcp_timer_get_differential(&d);
    return d;
}

std::string describe(const struct tcp_pcb &b, const struct tcp_pcb &a, bool freed)
{
    std::ostringstream o;
    o << "state " << b.state << (freed ? ", freed by the timer" : "") << "; flags " << b.flags << " -> " << a.flags
      << ", rtime " << b.rtime << " -> " << a.rtime << ", persist_cnt " << (int)b.persist_cnt << " -> "
      << (int)a.persist_cnt << ", persist_backoff " << (int)b.persist_backoff << " -> " << (int)a.persist_backoff
      << ", keep_cnt_sent " << (int)b.keep_cnt_sent << " -> " << (int)a.keep_cnt_sent << ", snd_nxt " << b.snd_nxt
      << " -> " << a.snd_nxt;
    return o.str();
}

void set_keepalive(int fd, int seconds)
{
    int on = 1;
    ASSERT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof(seconds)), 0);
    ASSERT_EQ(ucs_setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &seconds, sizeof(seconds)), 0);
    ASSERT_EQ(ucs_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)), 0);
}

// Writes from fd until its peer's window is shut (the peer never reads):
// the sender's persist timer runs.
bool fill_window(int fd)
{
    static char chunk[65536];
    struct tcp_pcb *pcb = pcb_of(fd);
    for (int i = 0; i < 20000 && pcb && pcb->persist_backoff == 0; i++) {
        (void)ucs_send(fd, chunk, sizeof(chunk), 0);
        deliver_frames();
        tcp_tmr();
    }
    return pcb && pcb->persist_backoff > 0;
}

TEST(TimerDifferential, StockWalkFindsNothingTheDueListSkipped)
{
    std::vector<Pair> pairs = open_pairs(24, 7500);
    ASSERT_EQ(pairs.size(), 24u);
    ASSERT_TRUE(settle());
    // 0-5 idle; 6-9 keepalive every second on both ends (probes answered);
    // 10-13 the client closes (FIN-WAIT-2, timed out after 20 s; the server
    // in CLOSE-WAIT, idle, keepalive on two); 14-17 both close (TIME-WAIT);
    // 18-19 a zero window (persist); 20-23 exchange a byte now and then.
    for (int i = 6; i < 10; i++) {
        set_keepalive(pairs[i].first, 1);
        set_keepalive(pairs[i].second, 2);
    }
    for (int i = 10; i < 14; i++) {
        if (i < 12)
            set_keepalive(pairs[i].second, 1);
        ucs_close(pairs[i].first);
        pairs[i].first = -1;
    }
    for (int i = 14; i < 18; i++) {
        ucs_close(pairs[i].second);
        ucs_close(pairs[i].first);
        pairs[i].first = pairs[i].second = -1;
    }
    for (int i = 18; i < 20; i++)
        ASSERT_TRUE(fill_window(pairs[i].first)) << "pair " << i << ": no zero window";
    for (int i = 0; i < 20; i++)
        deliver_frames();

    unsigned established = 0, close_wait = 0, fin_wait_2 = 0, persist = 0, sleeping = 0;
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        established += pcb->state == ESTABLISHED;
        close_wait += pcb->state == CLOSE_WAIT;
        fin_wait_2 += pcb->state == FIN_WAIT_2;
        persist += pcb->persist_backoff > 0;
    }
    ASSERT_GE(established, 2u * 6 + 2 * 4 + 2 * 4);
    ASSERT_EQ(close_wait, 4u);
    ASSERT_EQ(fin_wait_2, 4u);
    ASSERT_EQ(persist, 2u);
    ASSERT_GT(timer_stats().timewait, 0u);

    struct ucs_tcp_timer_differential before = differential();
    // 30 s of slow ticks: keepalive probes, the FIN-WAIT-2 time-out, persist
    // backing off, pcbs going idle and waking.
    for (unsigned tick = 0; tick < 600; tick++) {
        if (tick % 50 == 0) {
            char c = 'd';
            for (int i = 20; i < 24; i++)
                ASSERT_EQ(ucs_send(pairs[i].first, &c, 1, 0), 1);
        }
        tcp_tmr();
        deliver_frames();
        tcp_tmr();
        deliver_frames();
        for (int i = 20; i < 24; i++) {
            char c;
            (void)ucs_recv(pairs[i].second, &c, 1, 0);
        }
        sleeping = std::max(sleeping, (unsigned)timer_stats().sleeping);
    }
    struct ucs_tcp_timer_differential d = differential();
    EXPECT_EQ(d.missed - before.missed, 0u) << "the stock walk acted on a pcb the due list skipped: "
                                            << describe(d.first_before, d.first_after, d.first_freed);
    EXPECT_EQ(d.unvisited - before.unvisited, 0u);
    // Idle pcbs were there to compare, most of the time: 18 or more of
    // them over 1,200 passes.
    EXPECT_GT(d.checked - before.checked, 18u * 1200);
    EXPECT_GT(sleeping, 0u) << "no pcb slept on the keepalive wheel";
    unsigned fin_wait_2_left = 0;
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
        fin_wait_2_left += pcb->state == FIN_WAIT_2;
    EXPECT_EQ(fin_wait_2_left, 0u) << "FIN-WAIT-2 did not time out";
    for (const Pair &p : pairs) {
        if (p.first >= 0)
            ucs_close(p.first);
        if (p.second >= 0)
            ucs_close(p.second);
    }
}

} // namespace

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new RingStackEnvironment);
    return RUN_ALL_TESTS();
}
