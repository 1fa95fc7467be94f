/*
 * Setting a local connection up. The connector, connected through the kernel,
 * makes the shared memory (a sealed memfd), writes its credential claim in it
 * and offers it to the acceptor with SCM_RIGHTS. The listener's process takes
 * the kernel connection and the offer in its poll step, checks the memfd
 * (sealed, the right size), believes the connector's claim only as far as
 * the kernel vouches for the process at the other end of the kernel
 * connection (ucred/attested.h: SO_PEERCRED, SO_PEERGROUPS, SO_PEERSEC, its
 * pidfd and its ids read live), writes its own claim and marks the memory
 * accepted; the connector checks that claim the same way in turn.
 */
#include "local.h"

#include "cred_option.h"

#include "attested.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFFER_VERSION 1
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

struct local_offer {
    uint64_t magic;
    uint32_t version;
    uint32_t size;
};

static int make_shm(void)
{
    int fd = memfd_create("ucstack-local", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, sizeof(struct local_shm)) != 0 || fcntl(fd, F_ADD_SEALS, SEALS | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct local_shm *map_shm(int fd)
{
    void *p = mmap(NULL, sizeof(struct local_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void local_unmap(struct ucs_sock *s)
{
    if (s->u.local.end.shm)
        munmap(s->u.local.end.shm, sizeof(struct local_shm));
    s->u.local.end.shm = NULL;
}

/* A claim the peer can read; one that cannot be written (too many groups)
 * stays empty and the peer learns nothing. */
static void write_claim(struct ucs_cred_claim *claim, const struct ucs_cred *cred)
{
    if (ucs_cred_claim_write(claim, cred) != 0)
        claim->pid = 0;
}

/* The peer's claim, copied out of the shared memory before it is looked at,
 * believed by ucred/'s one rule for claims against what the kernel says of
 * the process at the other end of kernel connection kfd. */
static struct ucs_cred *believe(const struct ucs_cred_claim *shared, int kfd)
{
    struct ucs_cred_claim *copy = malloc(sizeof(*copy));
    struct ucs_cred *cred = NULL;
    struct ucs_attested kernel;

    if (!copy)
        return NULL;
    memcpy(copy, shared, sizeof(*copy));
    if (ucs_attested_of_socket(kfd, &kernel) == 0) {
        if (ucs_cred_claim_resolve(copy, &kernel, &cred) == UCS_CRED_UNTRUSTED)
            cred_option_count_local_untrusted();
        ucs_attested_clear(&kernel);
    }
    free(copy);
    return cred;
}

int local_offer(struct ucs_sock *s)
{
    struct local_offer offer = {LOCAL_SHM_MAGIC, OFFER_VERSION, sizeof(struct local_shm)};
    struct iovec iov = {&offer, sizeof(offer)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    struct local_shm *shm;
    int fd, err;

    if ((fd = make_shm()) < 0)
        return -1;
    if (!(shm = map_shm(fd))) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    shm->magic = LOCAL_SHM_MAGIC;
    write_claim(&shm->claim[0], s->creds.cred);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
    if (sendmsg(s->u.local.kfd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(offer)) {
        err = errno;
        munmap(shm, sizeof(*shm));
        close(fd);
        errno = err == EAGAIN ? ECONNREFUSED : err;
        return -1;
    }
    close(fd);
    local_end_init(&s->u.local.end, shm, 0);
    return 0;
}

bool local_check_ack(struct ucs_sock *s)
{
    struct local_shm *shm = s->u.local.end.shm;

    if (s->u.local.acked)
        return true;
    if (!shm || s->u.local.broken || __atomic_load_n(&shm->accepted, __ATOMIC_ACQUIRE) != LOCAL_ACCEPTED)
        return false;
    s->creds.peer_cred = believe(&shm->claim[1], s->u.local.kfd);
    s->u.local.acked = true;
    sock_wake(s);
    return true;
}

/* The memory offered with fd, when it cannot change size under us. */
static struct local_shm *accept_shm(int fd)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    struct local_shm *shm;

    if (seals < 0 || (seals & SEALS) != SEALS || fstat(fd, &st) != 0 || st.st_size != (off_t)sizeof(struct local_shm) ||
        !(shm = map_shm(fd)))
        return NULL;
    if (shm->magic != LOCAL_SHM_MAGIC) {
        munmap(shm, sizeof(*shm));
        return NULL;
    }
    return shm;
}

/* Reads the offer on kernel connection k: -1 none yet, else the memory's fd (or
 * -2 when what came is not an offer). */
static int read_offer(int k)
{
    struct local_offer offer;
    struct iovec iov = {&offer, sizeof(offer)};
    union {
        char buf[CMSG_SPACE(LOCAL_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    ssize_t n = recvmsg(k, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    int fd = -1, nfds = 0;

    if (n < 0 && errno == EAGAIN)
        return -1;
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(got));
            if (nfds++ == 0)
                fd = got;
            else
                local_close_foreign(got);
        }
    }
    if (n != (ssize_t)sizeof(offer) || nfds != 1 || (msg.msg_flags & MSG_CTRUNC) || offer.magic != LOCAL_SHM_MAGIC ||
        offer.version != OFFER_VERSION || offer.size != sizeof(struct local_shm)) {
        if (fd >= 0)
            local_close_foreign(fd);
        return -2;
    }
    return fd;
}

/* Makes the accepted socket for kernel connection k and its memory, queued on l. */
static int take(struct ucs_sock *l, int k, struct local_shm *shm)
{
    struct ucs_sock *c = sock_alloc(&local_ops);
    int tail;

    if (!c)
        return -1;
    c->family = AF_UNIX;
    c->rcvbuf = l->rcvbuf;
    c->sndbuf = l->sndbuf;
    c->creds.cred = ucs_cred_hold(l->creds.cred);
    c->u.local.kfd = k;
    c->u.local.state = LOCAL_S_CONNECTED;
    c->u.local.acked = true;
    local_end_init(&c->u.local.end, shm, 1);
    c->creds.peer_cred = believe(&shm->claim[0], k);
    if (local_rewatch(k, LOCAL_WATCH_CONN, c->fd) != 0) {
        c->u.local.kfd = -1;
        c->u.local.end.shm = NULL;
        sock_free(c);
        return -1;
    }
    local_refuse_descriptors(k);
    write_claim(&shm->claim[1], l->creds.cred);
    __atomic_store_n(&shm->accepted, LOCAL_ACCEPTED, __ATOMIC_RELEASE);
    local_doorbell(c);
    local_live_add(c);
    tail = (l->u.local.acceptq_head + l->u.local.acceptq_len) % l->u.local.acceptq_cap;
    l->u.local.acceptq[tail] = c;
    l->u.local.acceptq_len++;
    local_stats.offers_taken++;
    sock_wake(l);
    return 0;
}

/* 1 when kernel connection k is done with, 0 while its offer is awaited. A
 * malformed offer, or memory that could change size under us, is dropped:
 * the connector sees its kernel socket closed. */
static int take_offer(struct ucs_sock *l, int k)
{
    int fd = read_offer(k);
    struct local_shm *shm = NULL;

    if (fd == -1)
        return 0;
    if (fd >= 0) {
        if ((shm = accept_shm(fd)))
            close(fd);
        else
            local_close_foreign(fd);
    }
    if (!shm || take(l, k, shm) != 0) {
        if (shm)
            munmap(shm, sizeof(*shm));
        local_close_kernel(k);
        local_stats.offers_refused++;
    }
    return 1;
}

/* Awaited offers, oldest first: a few dozen at most, so arrays and linear
 * searches. Closing a kernel socket also takes it out of the kernel epoll. */
static void pending_remove(struct ucs_sock *l, int i)
{
    struct local_pending *p = l->u.local.pending;
    memmove(&p[i], &p[i + 1], (size_t)(--l->u.local.npending - i) * sizeof(*p));
}

/* Looks for pending connection i's offer: true when it is done with. */
static bool pending_try(struct ucs_sock *l, int i)
{
    if (!take_offer(l, l->u.local.pending[i].kfd))
        return false;
    pending_remove(l, i);
    return true;
}

static void pending_drop(struct ucs_sock *l, int i, uint64_t *counter)
{
    local_close_kernel(l->u.local.pending[i].kfd);
    pending_remove(l, i);
    (*counter)++;
}

void local_pending_ready(struct ucs_sock *l, int kfd)
{
    for (int i = 0; i < l->u.local.npending; i++)
        if (l->u.local.pending[i].kfd == kfd) {
            pending_try(l, i);
            return;
        }
}

static struct ucs_sock *listeners;
static uint64_t next_due_ns = UINT64_MAX;

/* A connector that has not offered within LOCAL_OFFER_WAIT_NS is dropped, after
 * one last look (the offer may have come while this process did not poll). */
static void expire(struct ucs_sock *l, uint64_t now)
{
    while (l->u.local.npending && l->u.local.pending[0].due_ns <= now)
        if (!pending_try(l, 0))
            pending_drop(l, 0, &local_stats.offers_expired);
    if (l->u.local.npending && l->u.local.pending[0].due_ns < next_due_ns)
        next_due_ns = l->u.local.pending[0].due_ns;
}

void local_expire_offers(uint64_t now)
{
    if (now < next_due_ns)
        return;
    next_due_ns = UINT64_MAX;
    for (struct ucs_sock *l = listeners; l; l = l->u.local.next_listener)
        expire(l, now);
}

void local_listener_add(struct ucs_sock *l)
{
    l->u.local.prev_listener = NULL;
    l->u.local.next_listener = listeners;
    if (listeners)
        listeners->u.local.prev_listener = l;
    listeners = l;
}

void local_listener_remove(struct ucs_sock *l)
{
    if (l->u.local.prev_listener)
        l->u.local.prev_listener->u.local.next_listener = l->u.local.next_listener;
    else if (listeners == l)
        listeners = l->u.local.next_listener;
    if (l->u.local.next_listener)
        l->u.local.next_listener->u.local.prev_listener = l->u.local.prev_listener;
}

/* Takes kernel connections while the backlog has room, a bounded number per
 * step. A connector that has not offered yet waits among the pending, which
 * have their own limit: when full, the oldest goes (after one last look), so
 * connectors that never offer cannot shut anyone out. The accept queue holds
 * the backlog and every pending connection, so an offer always finds room. */
void local_listener_service(struct ucs_sock *l)
{
    for (int n = 0; n < LOCAL_ACCEPTS_PER_STEP && l->u.local.acceptq_len < l->u.local.backlog; n++) {
        int k = accept4(l->u.local.kfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct local_pending *p;
        if (k < 0)
            break;
        if (l->u.local.npending == LOCAL_PENDING_MAX && !pending_try(l, 0))
            pending_drop(l, 0, &local_stats.offers_evicted);
        if (local_watch(k, LOCAL_WATCH_PENDING, l->fd) != 0) {
            local_close_kernel(k);
            continue;
        }
        p = &l->u.local.pending[l->u.local.npending++];
        p->kfd = k;
        p->due_ns = sock_now_ns() + LOCAL_OFFER_WAIT_NS;
        if (p->due_ns < next_due_ns)
            next_due_ns = p->due_ns;
        pending_try(l, l->u.local.npending - 1); /* the offer usually came with the connection */
    }
}

int local_pair_setup(struct ucs_sock *a, struct ucs_sock *b, int kfd[2])
{
    struct local_shm *sa, *sb;
    int fd = make_shm(), err;

    if (fd < 0)
        return -1;
    sa = map_shm(fd);
    sb = sa ? map_shm(fd) : NULL;
    err = errno;
    close(fd);
    if (!sb) {
        if (sa)
            munmap(sa, sizeof(*sa));
        errno = err;
        return -1;
    }
    sa->magic = LOCAL_SHM_MAGIC;
    sa->accepted = LOCAL_ACCEPTED;
    local_end_init(&a->u.local.end, sa, 0);
    local_end_init(&b->u.local.end, sb, 1);
    a->u.local.kfd = kfd[0];
    b->u.local.kfd = kfd[1];
    for (struct ucs_sock *s = a; s; s = s == a ? b : NULL) {
        s->u.local.state = LOCAL_S_CONNECTED;
        s->u.local.acked = true;
        local_live_add(s);
    }
    return 0;
}
