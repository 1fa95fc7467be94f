/*
 * The lists lwIP's TCP timers walk, so that an idle connection costs nothing
 * per tick. lwIP's tcp_fasttmr (every 25 ms) and tcp_slowtmr (every 50 ms)
 * visit every active and every TIME-WAIT pcb; at 100,000 idle connections
 * that was most of the timer's cost for no work. Our patch
 * (stack/patches/0005-tcp-timer-due-list.patch) makes them walk these
 * instead:
 *
 * - The due list: the active pcbs that may have something for a timer to do
 *   (needs_timer() lists every condition tcp_slowtmr and tcp_fasttmr act
 *   on). A pcb joins it when it is registered as active and whenever it is
 *   "touched": a segment arrives for it, the application writes, outputs,
 *   closes, sets a poll callback or a keepalive option. Every change that can
 *   start a timer passes through one of these or happens while the timers
 *   or tcp_input are already working on that pcb. The timers, which evaluate
 *   the pcb after working on it anyway, drop it when none of the conditions
 *   holds: it is then "idle", still on tcp_active_pcbs but on no list here.
 *
 * - The keepalive wheel: a pcb whose only timer work is keepalive sleeps
 *   until the slow tick on which lwIP would probe it or give up (both count
 *   from pcb->tmr, which only a segment changes, and a segment touches the
 *   pcb). The wheel has a slot per slow tick for WHEEL_SLOTS ticks; each
 *   slow pass moves its slot's pcbs to the due list before walking it. A pcb
 *   due further ahead than the wheel turns is moved when its slot comes
 *   round, visited (which does nothing for it yet) and put back to sleep.
 *
 * - The TIME-WAIT list, ordered by pcb->tmr (oldest first). Every TIME-WAIT
 *   pcb expires 2*MSL after its tmr, so the slow timer stops at the first
 *   that has not expired. A FIN in TIME-WAIT restarts tmr and moves the pcb
 *   to the end. A pcb usually enters with tmr = now; one closed for receiving
 *   (TF_RXCLOSED) keeps an older tmr, so insertion walks back from the end
 *   past the few that entered earlier with a newer tmr.
 *
 * Walking the due list is safe against pcbs freed in callbacks: TCP_RMV
 * (stack/tcp_pcb_index.c) takes a pcb off these lists, and a walk's cursor
 * (the next pcb to visit) moves on when its pcb leaves.
 */
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "tcp_timer_list.h"

#include <stdbool.h>

/* Where a pcb is, in pcb->ucs_timer_list (0 from tcp_alloc's memset). */
enum timer_list {
    NOT_ACTIVE, /* not on tcp_active_pcbs or tcp_tw_pcbs */
    IDLE,       /* on tcp_active_pcbs, nothing for a timer to do */
    DUE,        /* on tcp_active_pcbs and the due list */
    SLEEPING,   /* on tcp_active_pcbs and the keepalive wheel */
    TIMEWAIT,   /* on tcp_tw_pcbs and the TIME-WAIT list */
};

/* 4096 slow ticks of 50 ms: 205 s, past Linux's shortest keepalive timers;
 * lwIP's default (2 h idle) comes round 35 times before its probe. */
#define WHEEL_SLOTS 4096u

struct list {
    struct tcp_pcb *head, *tail;
    uint64_t len;
};

static struct list due_list, timewait_list, wheel[WHEEL_SLOTS];
static struct tcp_pcb *walk_cursor;
static struct ucs_tcp_timer_stats stats;

static void move_to_due(struct tcp_pcb *pcb);

#ifdef UCS_TIMER_DIFFERENTIAL
/*
 * The differential test build (tests/timer_differential_test.cpp), never the
 * library: needs_timer() mirrors lwIP's timer conditions by hand, and an
 * upstream change to them would apply cleanly and never fire on an idle pcb.
 * So here each pass also walks every idle and sleeping pcb, as lwIP's stock
 * timers walk every active pcb, through lwIP's own timer code, and records
 * any that code changed (or freed): work the due list would have skipped.
 */
#include <stdlib.h>
#include <string.h>

struct shadow {
    struct tcp_pcb *pcb;
    struct tcp_pcb before;
};
static struct shadow *shadows;
static size_t n_shadows, cap_shadows;
static struct tcp_pcb *walk_current;
static struct ucs_tcp_timer_differential diff;

static void shadow_take(struct tcp_pcb *pcb)
{
    if (n_shadows == cap_shadows) {
        cap_shadows = cap_shadows ? 2 * cap_shadows : 64;
        shadows = realloc(shadows, cap_shadows * sizeof(*shadows));
        LWIP_ASSERT("differential: out of memory", shadows != NULL);
    }
    /* the due list would not have visited it: the pass must */
    pcb->last_timer = (u8_t)(tcp_timer_ctr - 1);
    shadows[n_shadows].pcb = pcb;
    memcpy(&shadows[n_shadows].before, pcb, sizeof(*pcb));
    n_shadows++;
}

/* Compares a shadowed pcb after the pass visited (or freed) it. What every
 * visit changes on any pcb (the pass mark, the poll counter) does not count,
 * nor do the links of the lists it is on, which change when a neighbour
 * leaves them. */
static void shadow_check(struct tcp_pcb *pcb, bool freed)
{
    for (size_t i = 0; i < n_shadows; i++) {
        if (shadows[i].pcb != pcb)
            continue;
        struct tcp_pcb now;
        memcpy(&now, pcb, sizeof(now));
        now.last_timer = shadows[i].before.last_timer;
        now.polltmr = shadows[i].before.polltmr;
        now.ucs_timer_prev = shadows[i].before.ucs_timer_prev;
        now.ucs_timer_next = shadows[i].before.ucs_timer_next;
        now.ucs_timer_list = shadows[i].before.ucs_timer_list;
        now.ucs_timer_slot = shadows[i].before.ucs_timer_slot;
        now.next = shadows[i].before.next;
        now.ucs_pprev = shadows[i].before.ucs_pprev;
        now.ucs_hash_next = shadows[i].before.ucs_hash_next;
        diff.checked++;
        if (freed || memcmp(&now, &shadows[i].before, sizeof(now)) != 0) {
            if (diff.missed++ == 0) {
                diff.first_before = shadows[i].before;
                diff.first_after = now;
                diff.first_freed = freed;
            }
        }
        shadows[i] = shadows[--n_shadows];
        return;
    }
}

static void differential_pass_start(void)
{
    if (walk_current)
        shadow_check(walk_current, false);
    walk_current = NULL;
    /* When lwIP restarts a pass, the pcbs it visited already are skipped */
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next) {
        if ((pcb->ucs_timer_list == IDLE || pcb->ucs_timer_list == SLEEPING) && pcb->last_timer != tcp_timer_ctr) {
            shadow_take(pcb);
            move_to_due(pcb);
        }
    }
}

/* The walk moves on to pcb (NULL: the pass is over). */
static void differential_next(struct tcp_pcb *pcb)
{
    if (walk_current)
        shadow_check(walk_current, false);
    walk_current = pcb;
    if (!pcb) {
        diff.unvisited += n_shadows;
        n_shadows = 0;
    }
}

void ucs_tcp_timer_get_differential(struct ucs_tcp_timer_differential *out)
{
    *out = diff;
}
#define DIFF_PASS_START() differential_pass_start()
#define DIFF_NEXT(pcb) differential_next(pcb)
#define DIFF_REMOVED(pcb) shadow_check((pcb), true)
#else
#define DIFF_PASS_START() ((void)0)
#define DIFF_NEXT(pcb) ((void)0)
#define DIFF_REMOVED(pcb) ((void)0)
#endif

static void list_insert_after(struct list *l, struct tcp_pcb *after, struct tcp_pcb *pcb)
{
    pcb->ucs_timer_prev = after;
    pcb->ucs_timer_next = after ? after->ucs_timer_next : l->head;
    if (pcb->ucs_timer_next)
        pcb->ucs_timer_next->ucs_timer_prev = pcb;
    else
        l->tail = pcb;
    if (after)
        after->ucs_timer_next = pcb;
    else
        l->head = pcb;
    l->len++;
}

static void list_unlink(struct list *l, struct tcp_pcb *pcb)
{
    if (walk_cursor == pcb)
        walk_cursor = pcb->ucs_timer_next;
    if (pcb->ucs_timer_prev)
        pcb->ucs_timer_prev->ucs_timer_next = pcb->ucs_timer_next;
    else
        l->head = pcb->ucs_timer_next;
    if (pcb->ucs_timer_next)
        pcb->ucs_timer_next->ucs_timer_prev = pcb->ucs_timer_prev;
    else
        l->tail = pcb->ucs_timer_prev;
    pcb->ucs_timer_prev = pcb->ucs_timer_next = NULL;
    l->len--;
}

static struct list *list_of(struct tcp_pcb *pcb)
{
    switch (pcb->ucs_timer_list) {
    case DUE:
        return &due_list;
    case SLEEPING:
        return &wheel[pcb->ucs_timer_slot];
    case TIMEWAIT:
        return &timewait_list;
    default:
        return NULL;
    }
}

static void move_to_due(struct tcp_pcb *pcb)
{
    struct list *l = list_of(pcb);

    if (l)
        list_unlink(l, pcb);
    list_insert_after(&due_list, NULL, pcb);
    pcb->ucs_timer_list = DUE;
}

/* Whether tcp_slowtmr or tcp_fasttmr would do anything for this active pcb
 * (lwIP 2.1.3, tcp.c), besides counting tcp_ticks, which they do anyway, and
 * keepalive, which the wheel times. */
static bool needs_timer(const struct tcp_pcb *pcb)
{
    /* Timed states: SYN_SENT (SYN retries), SYN_RCVD, FIN_WAIT_2 and
     * LAST_ACK (time-outs from pcb->tmr), FIN_WAIT_1 and CLOSING (a FIN in
     * flight). CLOSE_WAIT is timed only by the conditions below, as
     * ESTABLISHED is. */
    if (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT)
        return true;
    /* The retransmission timer is running (patch 0004's tail loss probe
     * fires while it runs, before the RTO), or retries ran out. */
    if (pcb->rtime >= 0 || pcb->nrtx >= TCP_MAXRTX)
        return true;
    /* The persist timer probes a zero window. */
    if (pcb->persist_backoff > 0)
        return true;
    /* Out-of-order data is dropped after TCP_OOSEQ_TIMEOUT RTOs; data the
     * application refused is offered again by the fast timer. */
    if (pcb->ooseq != NULL || pcb->refused_data != NULL)
        return true;
    /* tcp_slowtmr's poll step calls the poll callback, then tcp_output, on
     * every pcb each pollinterval ticks (0 unless tcp_poll set it: every
     * tick). tcp_output does nothing unless data is unsent or an ACK is
     * owed, so only those pcbs and those with a callback need the step. */
    if (pcb->poll != NULL || pcb->unsent != NULL)
        return true;
    /* A delayed ACK, an ACK or FIN whose sending failed, a write that ran out
     * of memory under Nagle. */
    return (pcb->flags & (TF_ACK_DELAY | TF_ACK_NOW | TF_CLOSEPEND | TF_NAGLEMEMERR)) != 0;
}

/* As tcp.c's TCP_KEEP_INTVL and TCP_KEEP_DUR, which read per-pcb fields. */
#if !LWIP_TCP_KEEPALIVE
#error "keepalive_tick() reads keep_intvl and keep_cnt, which LWIP_TCP_KEEPALIVE provides"
#endif

/* The slow tick on which tcp_slowtmr would next act on this pcb's keepalive:
 * the first with tcp_ticks - tmr past the probe's or the give-up's time,
 * computed as lwIP does. */
static u32_t keepalive_tick(const struct tcp_pcb *pcb)
{
    u32_t probe = (pcb->keep_idle + pcb->keep_cnt_sent * pcb->keep_intvl) / TCP_SLOW_INTERVAL;
    u32_t give_up = (pcb->keep_idle + pcb->keep_cnt * pcb->keep_intvl) / TCP_SLOW_INTERVAL;

    return pcb->tmr + LWIP_MIN(probe, give_up) + 1;
}

void ucs_tcp_timer_registered(struct tcp_pcb **pcbs, struct tcp_pcb *pcb)
{
    if (pcbs == &tcp_active_pcbs) {
        /* a new connection's SYN or SYN-ACK is timed */
        move_to_due(pcb);
    } else if (pcbs == &tcp_tw_pcbs) {
        struct tcp_pcb *after = timewait_list.tail;
        while (after && (s32_t)(after->tmr - pcb->tmr) > 0)
            after = after->ucs_timer_prev;
        list_insert_after(&timewait_list, after, pcb);
        pcb->ucs_timer_list = TIMEWAIT;
    }
}

void ucs_tcp_timer_removed(struct tcp_pcb *pcb)
{
    struct list *l = list_of(pcb);

    DIFF_REMOVED(pcb);

    if (l)
        list_unlink(l, pcb);
    pcb->ucs_timer_list = NOT_ACTIVE;
}

void ucs_tcp_timer_touch(struct tcp_pcb *pcb)
{
    if (pcb->ucs_timer_list != IDLE && pcb->ucs_timer_list != SLEEPING)
        return;
    /* As tcp_alloc does for a new pcb: a pass under way (this may be a
     * callback from one) skips it; the next pass visits it. */
    pcb->last_timer = tcp_timer_ctr;
    move_to_due(pcb);
}

void ucs_tcp_timer_settle(struct tcp_pcb *pcb)
{
    if (pcb->ucs_timer_list != DUE || needs_timer(pcb))
        return;
    if (!ip_get_option(pcb, SOF_KEEPALIVE)) {
        list_unlink(&due_list, pcb);
        pcb->ucs_timer_list = IDLE;
        return;
    }
    u32_t tick = keepalive_tick(pcb);
    /* Its tick has come already: it stays due (lwIP retries a probe that
     * could not be sent on each tick). */
    if ((s32_t)(tick - tcp_ticks) <= 0)
        return;
    if (tick - tcp_ticks > WHEEL_SLOTS)
        tick = tcp_ticks + WHEEL_SLOTS;
    list_unlink(&due_list, pcb);
    pcb->ucs_timer_slot = (u16_t)(tick % WHEEL_SLOTS);
    list_insert_after(&wheel[pcb->ucs_timer_slot], NULL, pcb);
    pcb->ucs_timer_list = SLEEPING;
}

void ucs_tcp_timer_wake(void)
{
    struct list *slot = &wheel[tcp_ticks % WHEEL_SLOTS];

    while (slot->head) {
        struct tcp_pcb *pcb = slot->head;
        /* not visited in this pass yet, whatever its last_timer says */
        pcb->last_timer = (u8_t)(tcp_timer_ctr - 1);
        move_to_due(pcb);
    }
}

struct tcp_pcb *ucs_tcp_timer_walk_next(void)
{
    struct tcp_pcb *pcb = walk_cursor;

    DIFF_NEXT(pcb);
    if (pcb) {
        walk_cursor = pcb->ucs_timer_next;
        stats.visits++;
    }
    return pcb;
}

struct tcp_pcb *ucs_tcp_timer_walk_start(void)
{
    DIFF_PASS_START();
    walk_cursor = due_list.head;
    return ucs_tcp_timer_walk_next();
}

struct tcp_pcb *ucs_tcp_timewait_oldest(void)
{
    if (timewait_list.head)
        stats.timewait_visits++;
    return timewait_list.head;
}

void ucs_tcp_timewait_restarted(struct tcp_pcb *pcb)
{
    if (pcb->ucs_timer_list != TIMEWAIT)
        return;
    list_unlink(&timewait_list, pcb);
    list_insert_after(&timewait_list, timewait_list.tail, pcb);
}

void ucs_tcp_timer_get_stats(struct ucs_tcp_timer_stats *out)
{
    *out = stats;
    out->due = due_list.len;
    out->timewait = timewait_list.len;
    out->sleeping = 0;
    for (unsigned i = 0; i < WHEEL_SLOTS; i++)
        out->sleeping += wheel[i].len;
}
