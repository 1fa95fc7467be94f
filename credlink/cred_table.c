/* memfd_create(), the seals, struct ucred; meson defines it, the fuzz build does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cred_table.h"

#include "attest_peer.h"
#include "attested.h"
#include "claim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TABLE_MAGIC 0x75637274u /* "ucrt" */
#define TABLE_VERSION 3u        /* 3: a memfd handed over, with a liveness mark */
#define TABLE_SLOTS 4096u
#define READ_RETRIES 64
/* No one may shrink or grow the table (a mapping of it then never faults),
 * nor map it writable or write it any more: only the mapping its maker made
 * before sealing writes it, and that mapping is not inherited by fork(). */
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

struct table_entry {
    uint32_t seq; /* odd while being written */
    uint32_t gen; /* 0: empty */
    struct ucs_cred_claim claim;
};

struct table_header {
    uint32_t magic, version, slots, entry_size;
    int32_t pid;
    uint32_t reserved[3];
    /* The liveness mark: a process-shared robust mutex the maker's thread
     * locks when it makes the table and never unlocks while the table lives.
     * As that thread exits (or the process execs), the kernel writes
     * FUTEX_OWNER_DIED into its lock word, before the process can be reaped
     * and its pid reused; a reader sees it with one memory read. */
    pthread_mutex_t alive;
};

#define TABLE_SIZE (sizeof(struct table_header) + TABLE_SLOTS * sizeof(struct table_entry))

static struct {
    int fd;
    struct table_header *hdr;
    struct table_entry *entries;
    struct ucs_cred *owners[TABLE_SLOTS]; /* who holds each slot, for our own lookups */
    uint16_t free_slots[TABLE_SLOTS];
    unsigned nfree;
    uint32_t next_gen;
    pid_t pid;
    pid_t thread; /* the thread that holds the liveness mark */
} own = {.fd = -1};

/* Published credentials whose last reference went, to withdraw on the stack's
 * thread: a lock-free stack, pushed on any thread, taken whole by the reaper. */
static struct ucs_cred *dead;

/* Ours, in this process: a child made by fork() has no mapping of it. */
static bool own_table(void)
{
    return own.hdr && own.pid == ucs_cred_own_pid();
}

static int make_alive_mark(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;
    int rc;

    if ((rc = pthread_mutexattr_init(&attr)) != 0)
        return rc;
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc ? rc : pthread_mutex_lock(m);
}

int ucs_cred_table_open(void)
{
    void *map = MAP_FAILED;
    int fd, err;

    if (own.hdr)
        return 0;
    ucs_cred_table_reap(); /* what an earlier table left: no entries any more */
    fd = memfd_create("ucstack-cred", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)TABLE_SIZE) != 0 ||
        (map = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
        madvise(map, TABLE_SIZE, MADV_DONTFORK) != 0 || fcntl(fd, F_ADD_SEALS, SEALS) != 0)
        goto fail;
    own.hdr = map;
    if ((errno = make_alive_mark(&own.hdr->alive)) != 0)
        goto fail;
    own.fd = fd;
    own.pid = ucs_cred_own_pid();
    own.thread = gettid();
    own.entries = (struct table_entry *)(own.hdr + 1);
    own.hdr->version = TABLE_VERSION;
    own.hdr->slots = TABLE_SLOTS;
    own.hdr->entry_size = sizeof(struct table_entry);
    own.hdr->pid = own.pid;
    __atomic_store_n(&own.hdr->magic, TABLE_MAGIC, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < TABLE_SLOTS; i++)
        own.free_slots[i] = (uint16_t)(TABLE_SLOTS - 1 - i);
    own.nfree = TABLE_SLOTS;
    own.next_gen = 1;
    return 0;
fail:
    err = errno;
    if (map != MAP_FAILED)
        munmap(map, TABLE_SIZE);
    close(fd);
    own.hdr = NULL;
    return -err;
}

static void clear_entry(unsigned slot)
{
    struct table_entry *e = &own.entries[slot];

    __atomic_fetch_add(&e->seq, 1, __ATOMIC_ACQ_REL);
    e->gen = 0;
    __atomic_fetch_add(&e->seq, 1, __ATOMIC_RELEASE);
}

/* A peer may hold the table past our close: it must find nothing in it, so
 * every entry is withdrawn and the liveness mark let go. */
void ucs_cred_table_close(void)
{
    if (!own_table())
        return;
    ucs_cred_table_reap();
    for (unsigned i = 0; i < TABLE_SLOTS; i++) {
        struct ucs_cred *c = own.owners[i];
        if (!c)
            continue;
        clear_entry(i);
        own.owners[i] = NULL;
        __atomic_store_n(&c->table_gen, 0, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&own.hdr->magic, 0, __ATOMIC_RELEASE);
    /* The mutex is on its thread's robust list until unlocked, which only
     * that thread may do: on another, the mapping must stay for that list. */
    if (gettid() == own.thread && pthread_mutex_unlock(&own.hdr->alive) == 0)
        munmap(own.hdr, TABLE_SIZE);
    close(own.fd);
    memset(&own, 0, sizeof(own));
    own.fd = -1;
}

int ucs_cred_table_fd(void)
{
    return own_table() ? own.fd : -1;
}

int ucs_cred_table_publish(struct ucs_cred *cred, struct ucs_cred_ref *ref)
{
    struct table_entry *e;
    uint16_t slot;

    if (!own_table() || cred->ngroups > UCS_CRED_TABLE_GROUPS)
        return -1;
    if (!__atomic_load_n(&cred->table_gen, __ATOMIC_RELAXED)) {
        if (!own.nfree)
            return -1;
        slot = own.free_slots[--own.nfree];
        e = &own.entries[slot];
        __atomic_fetch_add(&e->seq, 1, __ATOMIC_ACQ_REL);
        e->gen = own.next_gen++;
        if (!own.next_gen)
            own.next_gen = 1;
        ucs_cred_claim_write(&e->claim, cred); /* cannot fail: the groups fit, checked above */
        __atomic_fetch_add(&e->seq, 1, __ATOMIC_RELEASE);
        cred->table_slot = slot;
        own.owners[slot] = cred;
        __atomic_store_n(&cred->table_gen, e->gen, __ATOMIC_RELEASE);
    }
    ref->pid = own.pid;
    ref->slot = cred->table_slot;
    ref->gen = cred->table_gen;
    return 0;
}

bool ucs_cred_table_defer(struct ucs_cred *cred)
{
    struct ucs_cred *head = __atomic_load_n(&dead, __ATOMIC_RELAXED);

    if (!__atomic_load_n(&cred->table_gen, __ATOMIC_ACQUIRE))
        return false;
    do
        cred->next_dead = head;
    while (!__atomic_compare_exchange_n(&dead, &head, cred, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    return true;
}

void ucs_cred_table_reap(void)
{
    struct ucs_cred *c;

    if (!__atomic_load_n(&dead, __ATOMIC_RELAXED))
        return;
    c = __atomic_exchange_n(&dead, NULL, __ATOMIC_ACQUIRE);
    while (c) {
        struct ucs_cred *next = c->next_dead;
        unsigned slot = c->table_slot;
        if (own_table() && own.owners[slot] == c) {
            clear_entry(slot);
            own.owners[slot] = NULL;
            own.free_slots[own.nfree++] = (uint16_t)slot;
        }
        ucs_cred_free(c);
        c = next;
    }
}

/* Our own table answers from memory: the credential object itself, unless its
 * last reference went (it waits for the reaper). */
enum ucs_cred_verdict ucs_cred_table_resolve(const struct ucs_cred_ref *ref, struct ucs_cred **out)
{
    struct ucs_cred *c;

    *out = NULL;
    if (!own_table() || ref->pid != own.pid || ref->slot >= TABLE_SLOTS || !ref->gen)
        return UCS_CRED_STALE;
    c = own.owners[ref->slot];
    if (!c || __atomic_load_n(&c->table_gen, __ATOMIC_ACQUIRE) != ref->gen || !(*out = ucs_cred_hold_live(c)))
        return UCS_CRED_STALE;
    return UCS_CRED_OK;
}

struct ucs_peer_table {
    const struct table_header *hdr;
    const struct table_entry *entries;
    /* The last credential resolved here, and what it was resolved from: the
     * claim as read, and the process and ids it was judged by. While the slot
     * holds that same claim and a fresh reading finds the same ids, the rule
     * would answer the same: a connection gets a new reference to it, with no
     * copy, allocation or judgement of its own (a peer's sockets share one
     * credential, so its every SYN names the same slot). */
    struct ucs_cred *last;
    const struct ucs_attested *last_by;
    uint32_t last_ids_gen, last_gen;
    uint16_t last_slot;
    struct ucs_cred_claim claim;
};

struct ucs_peer_table *ucs_peer_table_adopt(int fd, pid_t pid)
{
    struct ucs_peer_table *t = NULL;
    const struct table_header *h;
    int seals = fcntl(fd, F_GET_SEALS);
    struct stat st;
    void *map;

    if (seals < 0 || (seals & SEALS) != SEALS || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != (off_t)TABLE_SIZE || (map = mmap(NULL, TABLE_SIZE, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    close(fd);
    h = map;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == TABLE_MAGIC && h->version == TABLE_VERSION &&
        h->slots == TABLE_SLOTS && h->entry_size == sizeof(struct table_entry) && h->pid == pid &&
        (t = calloc(1, sizeof(*t)))) {
        t->hdr = h;
        t->entries = (const struct table_entry *)(h + 1);
        return t;
    }
    munmap(map, TABLE_SIZE);
    return NULL;
}

void ucs_peer_table_close(struct ucs_peer_table *t)
{
    if (!t)
        return;
    if (t->last)
        ucs_cred_release(t->last);
    munmap((void *)t->hdr, TABLE_SIZE);
    free(t);
}

/* The maker's thread holds the mark (glibc keeps the mutex's owner, or
 * FUTEX_OWNER_DIED once the kernel released it, in its first word), and has
 * not closed the table. */
static bool maker_alive(const struct ucs_peer_table *t)
{
    uint32_t word = (uint32_t)__atomic_load_n(&t->hdr->alive.__data.__lock, __ATOMIC_ACQUIRE);

    return (word & FUTEX_TID_MASK) && !(word & FUTEX_OWNER_DIED) &&
           __atomic_load_n(&t->hdr->magic, __ATOMIC_ACQUIRE) == TABLE_MAGIC;
}

/* A private copy of the entry ref names, by the seqlock protocol. */
static enum ucs_cred_verdict read_claim(const struct ucs_peer_table *t, const struct ucs_cred_ref *ref,
                                        struct ucs_cred_claim *copy)
{
    const struct table_entry *e;

    if (ref->slot >= TABLE_SLOTS || !ref->gen)
        return UCS_CRED_STALE;
    e = &t->entries[ref->slot];
    for (int tries = 0; tries < READ_RETRIES; tries++) {
        uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE), gen;
        if (s1 & 1)
            continue;
        gen = __atomic_load_n(&e->gen, __ATOMIC_RELAXED);
        memcpy(copy, &e->claim, sizeof(*copy));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s1)
            continue;
        return gen == ref->gen && (pid_t)copy->pid == ref->pid ? UCS_CRED_OK : UCS_CRED_STALE;
    }
    return UCS_CRED_STALE;
}

/* Whether ref names the slot and generation t->last was resolved from, and the
 * entry holds, in one stable read, that very claim (its ids and groups, and its
 * label up to its end). */
static bool holds_last(const struct ucs_peer_table *t, const struct ucs_cred_ref *ref)
{
    const struct table_entry *e;
    const struct ucs_cred_claim *c = &t->claim;
    uint32_t s1;
    bool same;

    if (!t->last || ref->slot != t->last_slot || ref->gen != t->last_gen)
        return false;
    e = &t->entries[ref->slot];
    s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
    same = !(s1 & 1) && __atomic_load_n(&e->gen, __ATOMIC_RELAXED) == ref->gen &&
           !memcmp(&e->claim, c, offsetof(struct ucs_cred_claim, groups)) &&
           !memcmp(e->claim.groups, c->groups, c->ngroups * sizeof(c->groups[0])) &&
           !memcmp(e->claim.label, c->label, strlen(c->label) + 1);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return same && __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1;
}

static void forget_last(struct ucs_peer_table *t)
{
    if (t->last)
        ucs_cred_release(t->last);
    t->last = NULL;
}

enum ucs_cred_verdict ucs_cred_table_resolve_from(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                  struct ucs_cred **out)
{
    struct ucs_peer_table *t;
    enum ucs_cred_verdict v;
    bool same_claim;

    *out = NULL;
    if (!peer || ref->pid != peer->kernel.pid)
        return UCS_CRED_UNATTESTED;
    if (!(t = peer->table))
        return UCS_CRED_STALE;
    /* The claim is read into t->claim (unless it is the one there): t->last
     * no longer matches it. */
    if (!(same_claim = holds_last(t, ref))) {
        forget_last(t);
        if ((v = read_claim(t, ref, &t->claim)) != UCS_CRED_OK)
            return v;
    }
    /* After the read: what was read, the peer wrote while it lived. */
    if (!maker_alive(t) || !ucs_attested_fresh(&peer->kernel))
        return UCS_CRED_UNATTESTED;
    if (same_claim && t->last_by == &peer->kernel && t->last_ids_gen == peer->kernel.ids_gen) {
        *out = ucs_cred_hold(t->last);
        return UCS_CRED_OK;
    }
    forget_last(t);
    if ((v = ucs_cred_claim_resolve(&t->claim, &peer->kernel, out)) == UCS_CRED_OK) {
        t->last = ucs_cred_hold(*out);
        t->last_by = &peer->kernel;
        t->last_ids_gen = peer->kernel.ids_gen;
        t->last_slot = ref->slot;
        t->last_gen = ref->gen;
    }
    return v;
}
