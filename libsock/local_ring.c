/* The byte rings of a local connection: every peer index checked, bytes copied. */
#include "local_ring.h"

#include <string.h>

#define RING_MASK ((uint64_t)LOCAL_RING_SIZE - 1)

void local_end_init(struct local_end *e, struct local_shm *shm, int side)
{
    e->shm = shm;
    e->tx = &shm->ring[side];
    e->rx = &shm->ring[!side];
    e->tx_data = shm->data[side];
    e->rx_data = shm->data[!side];
    e->tx_head = 0; /* a fresh memfd is zeroed: both rings start at 0, whatever the peer wrote since */
    e->rx_tail = 0;
}

int64_t local_ring_readable(const struct local_end *e)
{
    uint64_t n = __atomic_load_n(&e->rx->head, __ATOMIC_ACQUIRE) - e->rx_tail;
    return n <= LOCAL_RING_SIZE ? (int64_t)n : -1;
}

int64_t local_ring_writable(const struct local_end *e)
{
    uint64_t used = e->tx_head - __atomic_load_n(&e->tx->tail, __ATOMIC_ACQUIRE);
    return used <= LOCAL_RING_SIZE ? (int64_t)(LOCAL_RING_SIZE - used) : -1;
}

uint64_t local_ring_unread_by_peer(const struct local_end *e)
{
    uint64_t used = e->tx_head - __atomic_load_n(&e->tx->tail, __ATOMIC_ACQUIRE);
    return used <= LOCAL_RING_SIZE ? used : 0;
}

/* Moves n bytes between the ring (from index pos on, wrapping) and iov (from
 * byte skip on); to_ring chooses the direction. */
static void copy_iov(uint8_t *ring, uint64_t pos, const struct iovec *iov, int iovcnt, size_t skip, size_t n,
                     bool to_ring)
{
    for (int i = 0; i < iovcnt && n > 0; i++) {
        size_t len = iov[i].iov_len, chunk;
        uint8_t *p = iov[i].iov_base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        p += skip;
        len -= skip;
        skip = 0;
        if (len > n)
            len = n;
        n -= len;
        while (len > 0) {
            uint64_t off = pos & RING_MASK;
            chunk = LOCAL_RING_SIZE - off < len ? LOCAL_RING_SIZE - off : len;
            if (to_ring)
                memcpy(ring + off, p, chunk);
            else
                memcpy(p, ring + off, chunk);
            p += chunk;
            pos += chunk;
            len -= chunk;
        }
    }
}

bool local_ring_write(struct local_end *e, const struct iovec *iov, int iovcnt, size_t skip, size_t max)
{
    copy_iov(e->tx_data, e->tx_head, iov, iovcnt, skip, max, true);
    e->tx_head += max;
    __atomic_store_n(&e->tx->head, e->tx_head, __ATOMIC_RELEASE);
    /* Pairs with the consumer's fence between announcing its sleep and looking again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&e->tx->consumer_waiting, __ATOMIC_RELAXED) != 0;
}

bool local_ring_read(struct local_end *e, const struct iovec *iov, int iovcnt, size_t skip, size_t max, bool peek)
{
    copy_iov(e->rx_data, e->rx_tail, iov, iovcnt, skip, max, false);
    if (peek)
        return false;
    e->rx_tail += max;
    __atomic_store_n(&e->rx->tail, e->rx_tail, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&e->rx->producer_waiting, __ATOMIC_RELAXED) != 0;
}
