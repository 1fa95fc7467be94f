/* pcapng capture of a port: the polling thread copies, a writer thread writes. */
#include "capture.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Frames between the poll step and the disk: at 1514 bytes about 6 MB, a few
 * ms of a busy link. Beyond it frames are dropped from the capture, never
 * from the link. */
#define RING_SIZE 4096
#define POOL_SIZE (2 * RING_SIZE - 1)
/* Every frame of ours fits one default mbuf (port.c drops chained ones). */
#define SNAPLEN RTE_MBUF_DEFAULT_DATAROOM
#define WRITE_BURST 64
#define IDLE_US 1000

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define COUNT(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)

struct ucs_capture {
    uint16_t port_id;
    char path[256];
    struct rte_ring *ring;
    struct rte_mempool *pool;
    pthread_t writer;
    bool writer_running;
    /* Set by ucs_capture_set and destroy; the writer follows them. */
    bool want, quit;
    /* Set by the writer: the polling thread copies frames while active;
     * opened says the file is open (stop waits for it to clear). */
    bool active, opened;
    int error;
    uint64_t seq; /* the writer's transitions, for a waiting start */
    /* Cumulative; a session reports what it added since it began. */
    uint64_t frames, dropped, frames_base, dropped_base;
    /* The writer's alone. */
    rte_pcapng_t *pcapng;
    uint64_t start_ns;
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned write_some(struct ucs_capture *c)
{
    struct rte_mbuf *pkts[WRITE_BURST];
    unsigned n = rte_ring_sc_dequeue_burst(c->ring, (void **)pkts, WRITE_BURST, NULL);

    if (!n)
        return 0;
    /* DPDK 22.11's writer leaves the copies to us (its comment says otherwise;
     * dpdk-dumpcap frees them too). */
    if (c->pcapng && rte_pcapng_write_packets(c->pcapng, pkts, (uint16_t)n) < 0) {
        STORE(c->error, errno);
        COUNT(c->dropped, n);
    } else if (c->pcapng) {
        COUNT(c->frames, n);
    }
    rte_pktmbuf_free_bulk(pkts, n);
    return n;
}

static void writer_open(struct ucs_capture *c)
{
    int fd;

    /* Frames copied just as the previous session stopped belong to none. */
    while (write_some(c))
        ;
    /* Captures hold payloads: only the owner may read them. */
    fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && !(c->pcapng = rte_pcapng_fdopen(fd, NULL, NULL, "ucstack", NULL))) {
        errno = rte_errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        STORE(c->error, errno);
        STORE(c->want, false);
    } else {
        c->start_ns = wall_ns();
        STORE(c->error, 0);
        STORE(c->frames_base, LOAD(c->frames));
        STORE(c->dropped_base, LOAD(c->dropped));
        STORE(c->opened, true);
        STORE(c->active, true);
    }
    COUNT(c->seq, 1);
}

static void writer_close(struct ucs_capture *c)
{
    uint64_t frames, dropped;

    STORE(c->active, false);
    while (write_some(c))
        ;
    frames = LOAD(c->frames) - c->frames_base;
    dropped = LOAD(c->dropped) - c->dropped_base;
    rte_pcapng_write_stats(c->pcapng, c->port_id, NULL, c->start_ns, wall_ns(), frames + dropped, dropped);
    rte_pcapng_close(c->pcapng);
    c->pcapng = NULL;
    STORE(c->opened, false);
    COUNT(c->seq, 1);
}

static void *writer_main(void *arg)
{
    struct ucs_capture *c = arg;

    for (;;) {
        bool quit = LOAD(c->quit), want = LOAD(c->want) && !quit;
        if (want && !c->pcapng)
            writer_open(c);
        else if (!want && c->pcapng)
            writer_close(c);
        if (quit)
            break;
        if (!write_some(c))
            usleep(IDLE_US);
    }
    while (write_some(c))
        ;
    return NULL;
}

struct ucs_capture *ucs_capture_create(uint16_t port_id, const char *path, bool start, char *err, size_t errlen)
{
    struct ucs_capture *c = calloc(1, sizeof(*c));
    char name[RTE_MEMPOOL_NAMESIZE];
    int rc;

    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->port_id = port_id;
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(name, sizeof(name), "ucs_cap_%u", port_id);
    c->pool =
        rte_pktmbuf_pool_create(name, POOL_SIZE, 0, 0, (uint16_t)rte_pcapng_mbuf_size(SNAPLEN), (int)rte_socket_id());
    c->ring = rte_ring_create(name, RING_SIZE, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!c->pool || !c->ring) {
        snprintf(err, errlen, "capture %s: %s", path, rte_strerror(rte_errno));
        goto fail;
    }
    /* A control thread: it runs on the CPUs DPDK keeps for such threads, not
     * on the polling thread's. */
    if ((rc = rte_ctrl_thread_create(&c->writer, "ucs-capture", NULL, writer_main, c)) != 0) {
        snprintf(err, errlen, "capture %s: no writer thread (%s)", path, strerror(rc < 0 ? -rc : rc));
        goto fail;
    }
    c->writer_running = true;
    if (start && ucs_capture_set(c, true, 5000) != 0) {
        snprintf(err, errlen, "capture %s: %s", path, strerror(errno));
        goto fail;
    }
    return c;
fail:
    ucs_capture_destroy(c);
    return NULL;
}

void ucs_capture_destroy(struct ucs_capture *c)
{
    if (!c)
        return;
    if (c->writer_running) {
        STORE(c->quit, true);
        pthread_join(c->writer, NULL);
    }
    rte_ring_free(c->ring);
    rte_mempool_free(c->pool);
    free(c);
}

static void capture_one(struct ucs_capture *c, struct rte_mbuf *m, enum rte_pcapng_direction dir, uint64_t tsc)
{
    struct rte_mbuf *copy = rte_pcapng_copy(c->port_id, 0, m, c->pool, SNAPLEN, tsc, dir);
    if (!copy || rte_ring_sp_enqueue(c->ring, copy) != 0) {
        rte_pktmbuf_free(copy);
        COUNT(c->dropped, 1);
    }
}

void ucs_capture_rx(struct ucs_capture *c, struct rte_mbuf *const *m, unsigned n)
{
    uint64_t tsc;

    if (!n || !LOAD(c->active))
        return;
    tsc = rte_get_tsc_cycles();
    for (unsigned i = 0; i < n; i++)
        capture_one(c, m[i], RTE_PCAPNG_DIRECTION_IN, tsc);
}

void ucs_capture_tx(struct ucs_capture *c, struct rte_mbuf *m)
{
    if (LOAD(c->active))
        capture_one(c, m, RTE_PCAPNG_DIRECTION_OUT, rte_get_tsc_cycles());
}

int ucs_capture_set(struct ucs_capture *c, bool on, unsigned timeout_ms)
{
    uint64_t seq = LOAD(c->seq);

    STORE(c->want, on);
    for (unsigned waited = 0;; waited++) {
        if (LOAD(c->opened) == on)
            return 0;
        if (on && LOAD(c->seq) != seq && !LOAD(c->want)) {
            errno = LOAD(c->error);
            return -1;
        }
        if (waited >= timeout_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        usleep(1000);
    }
}

void ucs_capture_get_stats(const struct ucs_capture *c, struct ucs_capture_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->on = LOAD(c->opened);
    s->frames = LOAD(c->frames) - LOAD(c->frames_base);
    s->dropped = LOAD(c->dropped) - LOAD(c->dropped_base);
    s->error = LOAD(c->error);
    snprintf(s->path, sizeof(s->path), "%s", c->path);
}
