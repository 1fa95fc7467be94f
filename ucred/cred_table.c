#include "cred_table.h"

#include "attest.h"
#include "claim.h"
#include "ucred_testing.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TABLE_MAGIC 0x75637274u /* "ucrt" */
#define TABLE_VERSION 2u        /* 2: an entry holds a struct ucs_cred_claim */
#define TABLE_SLOTS 4096u
#define READ_RETRIES 64

struct table_entry {
    _Atomic uint32_t seq; /* odd while being written */
    uint32_t gen;         /* 0: empty */
    struct ucs_cred_claim claim;
};

struct table_header {
    uint32_t magic, version, slots, entry_size;
    int32_t pid;
    uint32_t reserved[3];
};

#define TABLE_SIZE (sizeof(struct table_header) + TABLE_SLOTS * sizeof(struct table_entry))

static struct {
    struct table_header *hdr;
    struct table_entry *entries;
    struct ucs_cred *owners[TABLE_SLOTS]; /* who holds each slot, for our own lookups */
    uint16_t free_slots[TABLE_SLOTS];
    unsigned nfree;
    uint32_t next_gen;
    pid_t pid;
    uid_t file_owner;
    char path[64];
} own;

/* ucred_testing.h: a stack built to lie publishes this reference instead of its own. */
static struct {
    bool on;
    struct ucs_cred_ref ref;
} forged;

void ucs_cred_table_testing_forge(const struct ucs_cred_ref *ref)
{
    forged.ref = *ref;
    forged.on = true;
}

static void table_path(pid_t pid, char *buf, size_t len)
{
    snprintf(buf, len, "/dev/shm/ucstack-cred-%d", (int)pid);
}

/* Tables of processes that are gone: a process that dropped its privileges
 * cannot remove its own from sticky /dev/shm, so whoever starts next and may
 * remove them does. */
static void remove_stale_tables(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int pid;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[64];
        if (sscanf(e->d_name, "ucstack-cred-%d", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        table_path(pid, path, sizeof(path));
        unlink(path);
    }
    closedir(d);
}

int ucs_cred_table_open(void)
{
    struct stat st;
    int fd;
    void *map;

    if (own.hdr)
        return 0;
    own.pid = getpid();
    remove_stale_tables();
    table_path(own.pid, own.path, sizeof(own.path));
    /* A file with our pid can only be left by a dead process: replace it. */
    unlink(own.path);
    fd = open(own.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0644) != 0 || ftruncate(fd, (off_t)TABLE_SIZE) != 0 || fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        unlink(own.path);
        return -err;
    }
    map = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        unlink(own.path);
        return -errno;
    }
    own.hdr = map;
    own.file_owner = st.st_uid;
    own.entries = (struct table_entry *)(own.hdr + 1);
    own.hdr->version = TABLE_VERSION;
    own.hdr->slots = TABLE_SLOTS;
    own.hdr->entry_size = sizeof(struct table_entry);
    own.hdr->pid = own.pid;
    atomic_thread_fence(memory_order_release);
    own.hdr->magic = TABLE_MAGIC;
    for (unsigned i = 0; i < TABLE_SLOTS; i++)
        own.free_slots[i] = (uint16_t)(TABLE_SLOTS - 1 - i);
    own.nfree = TABLE_SLOTS;
    own.next_gen = 1;
    return 0;
}

/* A peer may hold this file open past our close (resolve_in_peer_table): it
 * must find nothing in it, so every entry is withdrawn and the header spoiled. */
void ucs_cred_table_close(void)
{
    if (!own.hdr)
        return;
    for (unsigned i = 0; i < TABLE_SLOTS; i++)
        if (own.owners[i])
            ucs_cred_table_withdraw(own.owners[i]);
    own.hdr->magic = 0;
    munmap(own.hdr, TABLE_SIZE);
    unlink(own.path);
    memset(&own, 0, sizeof(own));
}

int ucs_cred_table_publish(struct ucs_cred *cred, struct ucs_cred_ref *ref)
{
    struct table_entry *e;
    uint16_t slot;

    if (!own.hdr || cred->ngroups > UCS_CRED_TABLE_GROUPS)
        return -1;
    if (!cred->table_gen) {
        if (!own.nfree)
            return -1;
        slot = own.free_slots[--own.nfree];
        e = &own.entries[slot];
        atomic_fetch_add_explicit(&e->seq, 1, memory_order_acq_rel);
        e->gen = own.next_gen++;
        if (!own.next_gen)
            own.next_gen = 1;
        ucs_cred_claim_write(&e->claim, cred); /* cannot fail: the groups fit, checked above */
        atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
        cred->table_slot = slot;
        cred->table_gen = e->gen;
        own.owners[slot] = cred;
    }
    ref->pid = own.pid;
    ref->slot = cred->table_slot;
    ref->gen = cred->table_gen;
    if (forged.on)
        *ref = forged.ref;
    return 0;
}

void ucs_cred_table_withdraw(struct ucs_cred *cred)
{
    struct table_entry *e;
    if (!own.hdr || !cred->table_gen)
        return;
    e = &own.entries[cred->table_slot];
    atomic_fetch_add_explicit(&e->seq, 1, memory_order_acq_rel);
    e->gen = 0;
    atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
    own.owners[cred->table_slot] = NULL;
    own.free_slots[own.nfree++] = cred->table_slot;
    cred->table_gen = 0;
}

/* Opens pid's table and checks its header. It is read with pread(), never
 * mapped: its owner may truncate the file at any moment, and touching a
 * mapping past the end of its file kills the reader with SIGBUS; a short read
 * is only a stale table. */
static int table_open(pid_t pid, uid_t *owner)
{
    char path[64];
    struct table_header hdr;
    struct stat st;
    int fd;

    table_path(pid, path, sizeof(path));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != TABLE_SIZE ||
        pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || hdr.magic != TABLE_MAGIC ||
        hdr.version != TABLE_VERSION || hdr.pid != pid || hdr.slots != TABLE_SLOTS ||
        hdr.entry_size != sizeof(struct table_entry)) {
        close(fd);
        return -1;
    }
    *owner = st.st_uid;
    return fd;
}

static off_t entry_offset(unsigned slot)
{
    return (off_t)(sizeof(struct table_header) + slot * sizeof(struct table_entry));
}

static bool read_at(int fd, void *buf, size_t len, off_t off)
{
    return pread(fd, buf, len, off) == (ssize_t)len;
}

/* A table owned by a user other than root may only describe that user. */
static bool owner_could_hold(uid_t owner, const struct ucs_cred *c)
{
    return owner == 0 || (c->ruid == owner && c->euid == owner && c->suid == owner);
}

/* The entry ref names, by the seqlock protocol over pread(): its sequence
 * number is the first word of the entry read, read again after. Judged by the
 * rule of the table's owner. */
static enum ucs_cred_verdict read_entry(int fd, uid_t owner, const struct ucs_cred_ref *ref, struct ucs_cred **out)
{
    struct table_entry *e = malloc(sizeof(*e));
    off_t off = entry_offset(ref->slot);
    enum ucs_cred_verdict v = UCS_CRED_STALE;

    *out = NULL;
    if (!e || ref->slot >= TABLE_SLOTS || !ref->gen) {
        free(e);
        return UCS_CRED_STALE;
    }
    for (int tries = 0; tries < READ_RETRIES; tries++) {
        uint32_t s1, s2;
        if (!read_at(fd, e, sizeof(*e), off))
            break;
        s1 = atomic_load_explicit(&e->seq, memory_order_relaxed);
        if (s1 & 1)
            continue;
        if (!read_at(fd, &s2, sizeof(s2), off))
            break;
        if (s1 != s2)
            continue;
        if (e->gen == ref->gen && (pid_t)e->claim.pid == ref->pid)
            v = ucs_cred_claim_decode(&e->claim, out);
        break;
    }
    free(e);
    if (v == UCS_CRED_OK && !owner_could_hold(owner, *out)) {
        ucs_cred_release(*out);
        *out = NULL;
        return UCS_CRED_UNTRUSTED;
    }
    return v;
}

/* Our own table answers from memory: the credential object itself. */
static bool own_ref(const struct ucs_cred_ref *ref)
{
    return own.hdr && ref->pid == own.pid;
}

static enum ucs_cred_verdict resolve_own(const struct ucs_cred_ref *ref, struct ucs_cred **out)
{
    struct ucs_cred *c = ref->slot < TABLE_SLOTS ? own.owners[ref->slot] : NULL;

    if (!c || c->table_gen != ref->gen)
        return UCS_CRED_STALE;
    *out = ucs_cred_hold(c);
    return UCS_CRED_OK;
}

static enum ucs_cred_verdict resolve_owned(const struct ucs_cred_ref *ref, uid_t *owner, struct ucs_cred **out)
{
    enum ucs_cred_verdict v;
    int fd;

    if (own_ref(ref)) {
        *owner = own.file_owner;
        return resolve_own(ref, out);
    }
    fd = table_open(ref->pid, owner);
    if (fd < 0)
        return UCS_CRED_STALE;
    v = read_entry(fd, *owner, ref, out);
    close(fd);
    return v;
}

enum ucs_cred_verdict ucs_cred_table_resolve(const struct ucs_cred_ref *ref, struct ucs_cred **out)
{
    uid_t owner;
    return resolve_owned(ref, &owner, out);
}

/* A non-root peer speaks only from a table it made: owned by its uid, or by
 * root when it started as root. */
static bool peer_may_own(const struct ucs_attest_peer *peer, uid_t owner)
{
    return peer->uid == 0 || owner == 0 || owner == peer->uid;
}

/* The attested peer's own table, opened at the first reference it sends and
 * kept open (peer->table_fd) until the attestation ends, so that a SYN costs
 * two pread()s, not a path lookup. The descriptor pins the file the peer had
 * when it was opened: a pid reused later cannot put another process's table
 * behind it. A reference the open table does not hold sends us back to the
 * path once, in case the peer made a new table (its old one withdrew every
 * entry as it closed). */
static enum ucs_cred_verdict resolve_in_peer_table(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                   struct ucs_cred **out)
{
    bool reopened = false;
    enum ucs_cred_verdict v;

    if (ref->slot >= TABLE_SLOTS || !ref->gen)
        return UCS_CRED_STALE; /* no table holds it: not worth a look at the path */
    for (;;) {
        if (peer->table_fd < 0) {
            peer->table_fd = table_open(ref->pid, &peer->table_owner);
            if (peer->table_fd < 0)
                return UCS_CRED_STALE;
            reopened = true;
        }
        if (!peer_may_own(peer, peer->table_owner)) {
            ucs_attest_peer_forget_table(peer);
            return UCS_CRED_UNATTESTED;
        }
        v = read_entry(peer->table_fd, peer->table_owner, ref, out);
        if (v != UCS_CRED_STALE || reopened)
            return v;
        ucs_attest_peer_forget_table(peer);
    }
}

/* A root peer may speak for anyone; any other only for itself. */
enum ucs_cred_verdict ucs_cred_table_resolve_from(const struct ucs_cred_ref *ref, struct ucs_attest_peer *peer,
                                                  struct ucs_cred **out)
{
    enum ucs_cred_verdict v;
    uid_t owner;

    *out = NULL;
    if (!peer || (peer->uid != 0 && ref->pid != peer->pid))
        return UCS_CRED_UNATTESTED;
    if (ref->pid == peer->pid && !own_ref(ref)) {
        v = resolve_in_peer_table(ref, peer, out);
    } else {
        v = resolve_owned(ref, &owner, out);
        if (v == UCS_CRED_OK && !peer_may_own(peer, owner))
            v = UCS_CRED_UNATTESTED;
    }
    /* Checked after the read, at every reference: a peer that is gone no
     * longer holds the cable, whatever the table held open still says; and a
     * table just opened by its pid's name was the peer's only if the peer
     * outlived the opening (else the pid may have passed to someone else). */
    if (v == UCS_CRED_OK && !ucs_attest_peer_alive(peer))
        v = UCS_CRED_UNATTESTED;
    if (v != UCS_CRED_OK && *out) {
        ucs_cred_release(*out);
        *out = NULL;
    }
    return v;
}

int ucs_cred_table_testing_find(pid_t pid, uid_t euid, struct ucs_cred_ref *ref)
{
    struct table_entry e;
    size_t head = offsetof(struct table_entry, claim.euid) + sizeof(e.claim.euid); /* through euid */
    uid_t owner;
    int fd = table_open(pid, &owner);

    if (fd < 0)
        return -1;
    for (unsigned slot = 0; slot < TABLE_SLOTS; slot++) {
        if (!read_at(fd, &e, head, entry_offset(slot)))
            break;
        if (e.gen && e.claim.euid == euid) {
            ref->pid = pid;
            ref->slot = (uint16_t)slot;
            ref->gen = e.gen;
            close(fd);
            return 0;
        }
    }
    close(fd);
    return -1;
}
