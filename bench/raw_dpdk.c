/*
 * The limit: raw Ethernet frames over the same virtio cable, with no TCP/IP at
 * all. A 64-byte ping-pong (the client stamps, the server turns each frame
 * around) and one-way streams of full-size frames and of 64 KiB frames (what
 * ucstack's TCP sends on this cable: TSO), the latter by reference as ucstack
 * sends them. DPDK only: this file uses the drivers/port.h seam and never
 * includes lwIP's headers.
 */
#include "roles.h"

#include "../drivers/port.h"

#include <rte_version.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ETHERTYPE_BENCH 0x88b5 /* IEEE local experimental */
#define PING_LEN 64
#define BULK_LEN 1514          /* a full standard frame without FCS, as TCP's 1460-byte segments use */
/* 64,000 bytes after the Ethernet header, as ucstack's largest TCP frames;
 * headers of so many of them in flight. */
#define BIG_LEN 64014
#define BIG_SLOTS 4096
#define BURST 32

enum { K_PING = 1, K_PONG, K_BULK, K_END, K_ACK, K_BIG, K_BIG_END };

struct hdr {
    uint8_t dst[6], src[6];
    uint16_t type; /* network order */
    uint8_t kind, pad[7];
    uint64_t seq;
    uint64_t extra;
} __attribute__((packed));

const char *bench_dpdk_version(void)
{
    return rte_version();
}

static struct ucs_port *open_port(const struct role_args *a, bool virtio_side, uint8_t mac[6])
{
    char eal[512], devargs[512], err[256];
    struct ucs_port_params params;
    struct ucs_port_info info;
    struct ucs_port *port;

    bench_eal_args(eal, sizeof(eal), a->core, a->prefix, virtio_side);
    if (ucs_dpdk_init(eal, err, sizeof(err)) != 0)
        bench_fail("%s", err);
    if (virtio_side)
        snprintf(devargs, sizeof(devargs), "virtio_user0,path=%s,queues=1", a->path);
    else
        snprintf(devargs, sizeof(devargs), "net_vhost0,iface=%s,queues=1", a->path);
    memset(&params, 0, sizeof(params));
    params.devargs = devargs;
    params.tso = true; /* 64 KiB frames, as a ucstack port on this cable */
    port = ucs_port_open(&params, err, sizeof(err));
    if (!port)
        bench_fail("%s", err);
    ucs_port_get_info(port, &info);
    memcpy(mac, info.mac, 6);
    return port;
}

static void put_hdr(void *data, const uint8_t mac[6], uint8_t kind, uint64_t seq, uint64_t extra)
{
    struct hdr *h = data;
    memset(h->dst, 0xff, 6);
    memcpy(h->src, mac, 6);
    h->type = __builtin_bswap16(ETHERTYPE_BENCH);
    h->kind = kind;
    memset(h->pad, 0, sizeof(h->pad));
    h->seq = seq;
    h->extra = extra;
}

/* Takes a TX buffer, flushing until the port gives one back. */
static void *tx_take(struct ucs_port *port, uint16_t len, void **handle)
{
    void *data;
    uint64_t deadline = 0;
    while (!(data = ucs_port_tx_alloc(port, len, handle))) {
        ucs_port_tx_flush(port);
        if (!deadline)
            deadline = bench_now_ns() + 5000000000ull;
        else if (bench_now_ns() > deadline)
            bench_fail("raw: no TX buffer for 5 s");
    }
    return data;
}

static void send_small(struct ucs_port *port, const uint8_t mac[6], uint8_t kind, uint64_t seq, uint64_t extra)
{
    void *h;
    void *d = tx_take(port, PING_LEN, &h);
    memset(d, 0, PING_LEN);
    put_hdr(d, mac, kind, seq, extra);
    ucs_port_tx_queue(port, h, 0);
    ucs_port_tx_flush(port);
}

static const struct hdr *bench_frame(const struct ucs_rx_frame *f)
{
    const struct hdr *h = f->data;
    if (f->len < sizeof(*h) || h->type != __builtin_bswap16(ETHERTYPE_BENCH))
        return NULL;
    return h;
}

/* What the receiving side saw of one stream. */
struct stream {
    uint64_t warm_frames, frames, bytes, out_of_order, next, sent_total;
    uint64_t t_start, t_last, bytes_at_start, frames_at_start;
    bool done;
};

static void stream_count(struct stream *st, const struct hdr *h, uint32_t len, uint64_t now)
{
    if (h->seq != st->next)
        st->out_of_order++;
    st->next = h->seq + 1;
    st->frames++;
    st->bytes += len;
    if (st->frames == st->warm_frames) {
        st->t_start = now;
        st->bytes_at_start = st->bytes;
        st->frames_at_start = st->frames;
    }
    st->t_last = now;
}

/* Checks the stream and gives its rate: frames after the warm-up one, up to
 * the last, each crossed the cable in the timed span. */
static double stream_gbps(const struct stream *st, const char *what, double *secs, double *frames)
{
    if (st->frames != st->sent_total || st->out_of_order)
        bench_fail("raw %s: %llu frames sent, %llu received, %llu out of order", what,
                   (unsigned long long)st->sent_total, (unsigned long long)st->frames,
                   (unsigned long long)st->out_of_order);
    if (!st->t_start || st->t_last <= st->t_start)
        bench_fail("raw %s: too short to time", what);
    *secs = (double)(st->t_last - st->t_start) / 1e9;
    *frames = (double)(st->frames - st->frames_at_start);
    return (double)(st->bytes - st->bytes_at_start) * 8 / *secs / 1e9;
}

/* vhost side: turns pings around, counts the streams, says what it saw. */
static int raw_server(const struct role_args *a)
{
    uint8_t mac[6];
    struct ucs_port *port = open_port(a, false, mac);
    struct ucs_rx_frame fr[BURST];
    uint64_t pongs = 0;
    /* The same warm-up the client computes: the first twentieth of each stream. */
    struct stream bulk = {.warm_frames = (a->bytes + BULK_LEN - 1) / BULK_LEN / 20 + 1};
    struct stream big = {.warm_frames = (a->bytes + BIG_LEN - 1) / BIG_LEN / 20 + 1};
    double secs, f, big_secs, big_f, gbps, big_gbps;

    bench_ready("pid=%ld", (long)getpid());
    while (!big.done) {
        unsigned n = ucs_port_rx(port, fr, BURST);
        uint64_t now = n ? bench_now_ns() : 0;
        for (unsigned i = 0; i < n; i++) {
            const struct hdr *h = bench_frame(&fr[i]);
            if (h && h->kind == K_PING) {
                void *th;
                void *d = tx_take(port, fr[i].len, &th);
                memcpy(d, fr[i].data, fr[i].len);
                put_hdr(d, mac, K_PONG, h->seq, 0);
                ucs_port_tx_queue(port, th, 0);
                pongs++;
            } else if (h && (h->kind == K_BULK || h->kind == K_BIG)) {
                stream_count(h->kind == K_BULK ? &bulk : &big, h, fr[i].frame_len, now);
            } else if (h && (h->kind == K_END || h->kind == K_BIG_END)) {
                struct stream *st = h->kind == K_END ? &bulk : &big;
                st->sent_total = h->extra;
                st->done = true;
                send_small(port, mac, K_ACK, 0, st->frames);
            }
            ucs_frame_free(fr[i].handle);
        }
        ucs_port_tx_flush(port);
    }
    for (int i = 0; i < 1000; i++)
        ucs_port_tx_flush(port);
    gbps = stream_gbps(&bulk, "stream", &secs, &f);
    big_gbps = stream_gbps(&big, "64 KiB stream", &big_secs, &big_f);
    bench_result("frames=%llu bytes=%.0f seconds=%.6f gbps=%.4f payload_gbps=%.4f mpps=%.4f pongs=%llu "
                 "gbps_64k=%.4f payload_gbps_64k=%.4f frames_64k=%llu",
                 (unsigned long long)bulk.frames, (double)(bulk.bytes - bulk.bytes_at_start), secs, gbps,
                 f * (BULK_LEN - 14) * 8 / secs / 1e9, f / secs / 1e6, (unsigned long long)pongs, big_gbps,
                 big_f * (BIG_LEN - 14) * 8 / big_secs / 1e9, (unsigned long long)big.frames);
    ucs_port_close(port);
    ucs_dpdk_cleanup();
    return 0;
}

/* Headers of 64 KiB frames, one slot per frame in flight, and the payload
 * they share: in DPDK's memory, as the port reads them where they are. */
static uint8_t *big_headers, *big_payload;
static bool big_busy[BIG_SLOTS];

static void big_release(void *data, void *opaque)
{
    (void)data;
    if (opaque)
        *(bool *)opaque = false;
}

static void send_big(struct ucs_port *port, const uint8_t mac[6], uint64_t seq)
{
    unsigned slot = (unsigned)(seq % BIG_SLOTS);
    struct ucs_tx_piece pieces[2] = {{big_headers + slot * sizeof(struct hdr), sizeof(struct hdr), &big_busy[slot]},
                                     {big_payload, BIG_LEN - sizeof(struct hdr), NULL}};
    uint64_t deadline = bench_now_ns() + 5000000000ull;
    void *h;

    while (big_busy[slot]) {
        ucs_port_tx_flush(port);
        if (bench_now_ns() > deadline)
            bench_fail("raw: a 64 KiB frame not sent in 5 s");
    }
    put_hdr(pieces[0].data, mac, K_BIG, seq, 0);
    big_busy[slot] = true;
    while (!(h = ucs_port_tx_ref(port, pieces, 2, big_release, 0))) {
        big_busy[slot] = true;
        ucs_port_tx_flush(port);
        if (bench_now_ns() > deadline)
            bench_fail("raw: no mbuf for a 64 KiB frame in 5 s");
    }
    ucs_port_tx_queue(port, h, 0);
}

/* Sends the end of a stream and waits for the receiver's word. */
static void stream_end(struct ucs_port *port, const uint8_t mac[6], uint8_t kind, uint64_t frames)
{
    struct ucs_rx_frame fr[BURST];
    uint64_t deadline;

    ucs_port_tx_flush(port);
    send_small(port, mac, kind, 0, frames);
    deadline = bench_now_ns() + 10000000000ull;
    for (bool acked = false; !acked;) {
        unsigned n = ucs_port_rx(port, fr, BURST);
        for (unsigned k = 0; k < n; k++) {
            const struct hdr *h = bench_frame(&fr[k]);
            if (h && h->kind == K_ACK)
                acked = true;
            ucs_frame_free(fr[k].handle);
        }
        ucs_port_tx_flush(port);
        if (bench_now_ns() > deadline)
            bench_fail("raw stream: no acknowledgement in 10 s");
    }
}

/* virtio side: times the ping-pong, then streams. */
static int raw_client(const struct role_args *a)
{
    uint8_t mac[6];
    struct ucs_port *port = open_port(a, true, mac);
    struct ucs_rx_frame fr[BURST];
    uint64_t total = a->warm + a->count, deadline = bench_now_ns() + 10000000000ull;
    uint32_t *samples = calloc(a->count ? a->count : 1, sizeof(*samples));
    static uint8_t payload[BULK_LEN];
    uint64_t frames, warm_frames, big_frames, big_warm;
    struct lat_summary s;
    char lat[256];

    if (!samples)
        bench_fail("out of memory");
    while (!ucs_port_link_up(port)) {
        if (bench_now_ns() > deadline)
            bench_fail("raw: the cable did not come up in 10 s");
    }
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7 + 13);

    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = bench_now_ns(), resend = t0 + 100000000ull, t1 = 0;
        send_small(port, mac, K_PING, i, 0);
        while (!t1) {
            unsigned n = ucs_port_rx(port, fr, BURST);
            for (unsigned k = 0; k < n; k++) {
                const struct hdr *h = bench_frame(&fr[k]);
                if (h && h->kind == K_PONG && h->seq == i && fr[k].len == PING_LEN)
                    t1 = bench_now_ns();
                ucs_frame_free(fr[k].handle);
            }
            if (!t1 && bench_now_ns() > resend) {
                /* The vhost side may still be enabling its queues during warm-up. */
                if (i >= a->warm)
                    bench_fail("raw ping %llu: no answer in 100 ms", (unsigned long long)i);
                send_small(port, mac, K_PING, i, 0);
                resend = bench_now_ns() + 100000000ull;
                t0 = 0; /* not a clean sample */
            }
        }
        if (i >= a->warm)
            samples[i - a->warm] = (uint32_t)(t1 - t0);
    }
    bench_lat_summarize(samples, a->count, &s);
    bench_lat_format(&s, lat, sizeof(lat));
    free(samples);

    frames = (a->bytes + BULK_LEN - 1) / BULK_LEN;
    warm_frames = frames / 20 + 1;
    for (uint64_t i = 0; i < frames + warm_frames; i++) {
        void *h;
        uint8_t *d = tx_take(port, BULK_LEN, &h);
        put_hdr(d, mac, K_BULK, i, 0);
        memcpy(d + sizeof(struct hdr), payload, BULK_LEN - sizeof(struct hdr));
        ucs_port_tx_queue(port, h, 0);
    }
    stream_end(port, mac, K_END, frames + warm_frames);

    big_headers = ucs_dpdk_zalloc(BIG_SLOTS * sizeof(struct hdr), -1);
    big_payload = ucs_dpdk_zalloc(BIG_LEN, -1);
    if (!big_headers || !big_payload)
        bench_fail("raw: no DPDK memory for 64 KiB frames");
    for (size_t i = 0; i < BIG_LEN - sizeof(struct hdr); i++)
        big_payload[i] = (uint8_t)(i * 7 + 13);
    big_frames = (a->bytes + BIG_LEN - 1) / BIG_LEN;
    big_warm = big_frames / 20 + 1;
    for (uint64_t i = 0; i < big_frames + big_warm; i++)
        send_big(port, mac, i);
    stream_end(port, mac, K_BIG_END, big_frames + big_warm);
    bench_result("%s bulk_frames=%llu", lat, (unsigned long long)(frames + warm_frames));
    ucs_port_close(port);
    ucs_dpdk_cleanup();
    return 0;
}

int raw_role_main(const struct role_args *a)
{
    /* vhost-user messages travel over a unix socket the peer may have closed. */
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(a->role, "raw-server"))
        return raw_server(a);
    if (!strcmp(a->role, "raw-client"))
        return raw_client(a);
    bench_fail("unknown role %s", a->role);
}
