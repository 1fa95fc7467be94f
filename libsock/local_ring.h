/*
 * The shared memory of one local connection: a memfd the connector creates,
 * seals against shrinking and growing, and passes to the acceptor. It holds
 * each side's credential claim and two single-producer/single-consumer byte
 * rings, one per direction.
 *
 * The peer can write anything into this memory at any time. So each end keeps
 * its own index (the producer its head, the consumer its tail) in private
 * memory and only publishes it; the peer's index is loaded once per call and
 * checked against ours before any byte moves; bytes are copied out, never
 * used in place. A bad index makes the call fail, never read or write outside
 * the ring.
 */
#ifndef UCS_LIBSOCK_LOCAL_RING_H
#define UCS_LIBSOCK_LOCAL_RING_H

#include "claim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LOCAL_RING_SIZE (256u * 1024u)        /* bytes per direction, a power of two */
#define LOCAL_SHM_MAGIC 0x316c636f6c637575ull /* "uuclocl1" */
#define LOCAL_ACCEPTED 0x61636365u

enum { LOCAL_OPEN = 0, LOCAL_SHUT_RD = 1, LOCAL_CLOSED = 2 };

/* Each field is written by one side only; the producer's and the consumer's on
 * separate cache lines. */
struct local_ring_ctl {
    uint64_t head __attribute__((aligned(64))); /* producer: bytes written so far */
    uint32_t producer_waiting;                  /* producer: asleep until there is room */
    uint32_t fin;                               /* producer: no more data (shutdown or close) */
    uint64_t tail __attribute__((aligned(64))); /* consumer: bytes read so far */
    uint32_t consumer_waiting;                  /* consumer: asleep until there is data */
    uint32_t consumer_state;                    /* consumer: LOCAL_OPEN, LOCAL_SHUT_RD, LOCAL_CLOSED */
};

/* Index 0 belongs to the connector (its claim, the ring it writes), 1 to the acceptor. */
struct local_shm {
    uint64_t magic;
    uint32_t accepted; /* acceptor: LOCAL_ACCEPTED once its claim is in place */
    struct ucs_cred_claim claim[2];
    struct local_ring_ctl ring[2];
    uint8_t data[2][LOCAL_RING_SIZE] __attribute__((aligned(4096)));
};

/* One end's view: its own indices, private. */
struct local_end {
    struct local_shm *shm;
    struct local_ring_ctl *tx, *rx;
    uint8_t *tx_data, *rx_data;
    uint64_t tx_head, rx_tail;
};

void local_end_init(struct local_end *e, struct local_shm *shm, int side);

/* Bytes ready to read, or -1 when the peer's head is impossible. */
int64_t local_ring_readable(const struct local_end *e);
/* Room to write, or -1 when the peer's tail is impossible. */
int64_t local_ring_writable(const struct local_end *e);
/* Bytes written but not yet read by the peer (0 when its tail is impossible). */
uint64_t local_ring_unread_by_peer(const struct local_end *e);

/* Copies up to max bytes from iov (skipping the first skip bytes) into the ring
 * and publishes them; max must not exceed local_ring_writable(). Returns true
 * when the peer sleeps waiting for data and must be woken. */
bool local_ring_write(struct local_end *e, const struct iovec *iov, int iovcnt, size_t skip, size_t max);
/* Copies up to max bytes into iov (from offset skip in it); max must not exceed
 * local_ring_readable(). Unless peek, consumes them; returns true when the
 * peer sleeps waiting for room and must be woken. */
bool local_ring_read(struct local_end *e, const struct iovec *iov, int iovcnt, size_t skip, size_t max, bool peek);

#endif
