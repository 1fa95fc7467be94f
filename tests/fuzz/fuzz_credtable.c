/*
 * libFuzzer target: ucs_cred_table_resolve() and ucs_cred_table_resolve_from()
 * (ucred/cred_table.c) reading a peer's credential table, which the peer
 * writes: hostile input.
 *
 * Two peer tables sit in /dev/shm under pids no process can have (above
 * pid_max), one owned by us (root, in CI) and one by uid 1000 (by us when we
 * are not root, who cannot give files away); each input rewrites one
 * table's header and one entry, then resolves a reference, as the credential
 * option handler does for a SYN: by the table's name, or from an attested
 * peer (alive: its pidfd is ours) that keeps the table open from one input to
 * the next, as a link does.
 *
 * Input: slot:u16be gen:u32be mode:u8 header[32] entry[...]
 *   mode bit 0  the reference names the table's pid (else a pid with no table)
 *        bit 1  the header's pid is the table's
 *        bit 2  the header's magic, version, slot count and entry size are right
 *        bit 3  the entry's pid is the table's
 *        bit 4  the table owned by uid 1000 (else ours)
 *        bit 5  resolved from an attested peer with the table's pid
 *        bit 6  that peer's uid is 1001 (else the table owner's)
 *   the entry is written at the reference's slot (when it has one), its
 *   missing bytes zero.
 *
 * Checked: a credential resolves only from an entry whose generation and pid
 * match the reference, holds exactly what the entry's claim says (at most
 * 1024 groups, a NUL-terminated label: an entry without one is malformed), and
 * a table not owned by root vouches only for its owner's uid; a non-root peer
 * only for its own pid, from a table owned by it or root; the credential is
 * released without leaks.
 */
#include "../../ucred/attest.h"
#include "../../ucred/claim.h"
#include "../../ucred/cred_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "fuzz_credtable: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* The table's layout, as ucred/cred_table.c writes it; init() checks that a
 * well-formed entry written this way resolves. */
#define TABLE_MAGIC 0x75637274u
#define TABLE_VERSION 2u
#define TABLE_SLOTS 4096u
#define OTHER_UID 1000

struct entry {
    uint32_t seq, gen;
    struct ucs_cred_claim claim;
};

struct header {
    uint32_t magic, version, slots, entry_size;
    int32_t pid;
    uint32_t reserved[3];
};

#define TABLE_SIZE (sizeof(struct header) + TABLE_SLOTS * sizeof(struct entry))

struct table {
    pid_t pid;
    uid_t owner;
    char path[64];
    struct header *hdr;
    struct entry *entries;
};
static struct table tables[2];
/* For each table, an attested peer with its pid: [0] as the table's owner, [1] as uid 1001. */
static struct ucs_attest_peer peers[2][2];

/* The stand-ins for ucred/capture.c's reference counting. */
static long live;

struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred)
{
    cred->refs++;
    return cred;
}

void ucs_cred_release(struct ucs_cred *cred)
{
    CHECK(cred->refs > 0, "released more often than held");
    if (--cred->refs)
        return;
    ucs_cred_table_withdraw(cred);
    free(cred->groups);
    free(cred);
    live--;
}

static void cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (tables[i].path[0])
            unlink(tables[i].path);
}

/* Tables a crashed run of this target left (their pid is above pid_max). */
static void remove_stale(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *de;
    long n;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[300];
        if (sscanf(de->d_name, "ucstack-cred-%ld", &n) != 1 || n < 0x40000000 || n > 0x7fffffff)
            continue;
        if (kill((pid_t)(n & 0x0fffffff), 0) == 0)
            continue;
        snprintf(path, sizeof(path), "/dev/shm/%s", de->d_name);
        unlink(path);
    }
    closedir(d);
}

static void make_table(struct table *t, pid_t pid, uid_t owner)
{
    int fd;
    void *map;

    t->pid = pid;
    t->owner = owner;
    snprintf(t->path, sizeof(t->path), "/dev/shm/ucstack-cred-%d", (int)pid);
    unlink(t->path);
    fd = open(t->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(fd >= 0, "cannot create %s", t->path);
    CHECK(ftruncate(fd, (off_t)TABLE_SIZE) == 0, "ftruncate");
    if (owner != getuid())
        CHECK(fchown(fd, owner, owner) == 0, "fchown %s to %u (run as root)", t->path, (unsigned)owner);
    map = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED, "mmap");
    close(fd);
    t->hdr = map;
    t->entries = (struct entry *)(t->hdr + 1);
}

static void good_header(struct table *t)
{
    t->hdr->magic = TABLE_MAGIC;
    t->hdr->version = TABLE_VERSION;
    t->hdr->slots = TABLE_SLOTS;
    t->hdr->entry_size = sizeof(struct entry);
    t->hdr->pid = t->pid;
}

static void init(void)
{
    static bool done;
    struct ucs_cred_ref ref;
    struct ucs_cred *c = NULL;
    struct entry *e;

    if (done)
        return;
    done = true;
    remove_stale();
    /* pid_max is at most 2^22: no process has these pids. */
    make_table(&tables[0], (pid_t)(0x40000000 | getpid()), getuid());
    make_table(&tables[1], (pid_t)(0x50000000 | getpid()), getuid() == 0 ? OTHER_UID : getuid());
    atexit(cleanup);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            struct ucs_attest_peer *p = &peers[i][j];
            p->pid = tables[i].pid;
            p->uid = j ? OTHER_UID + 1 : tables[i].owner;
            p->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0); /* we stay alive */
            p->table_fd = -1;
            CHECK(p->pidfd >= 0, "pidfd_open");
        }
    }

    /* The layout above is the one cred_table.c reads. */
    good_header(&tables[0]);
    e = &tables[0].entries[5];
    memset(e, 0, sizeof(*e));
    e->gen = 77;
    e->claim.pid = (uint32_t)tables[0].pid;
    e->claim.euid = 3;
    e->claim.ngroups = 2;
    e->claim.groups[1] = 9;
    strcpy(e->claim.label, "fuzz");
    ref = (struct ucs_cred_ref){tables[0].pid, 5, 77};
    CHECK(ucs_cred_table_resolve(&ref, &c) == UCS_CRED_OK && c, "self-test: a good entry does not resolve");
    live++;
    CHECK(c->euid == 3 && c->ngroups == 2 && c->groups[1] == 9 && strcmp(c->label, "fuzz") == 0,
          "self-test: the entry read differs (layout changed?)");
    ucs_cred_release(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ucs_cred_ref ref;
    struct ucs_cred *c = NULL;
    struct table *t;
    struct entry *e = NULL;
    struct ucs_attest_peer *peer;
    enum ucs_cred_verdict v;
    uint8_t mode;

    init();
    if (size < 7 + sizeof(struct header))
        return 0;
    ref.slot = (uint16_t)(data[0] << 8 | data[1]);
    ref.gen = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5];
    mode = data[6];
    t = &tables[(mode >> 4) & 1];
    peer = (mode & 32) ? &peers[(mode >> 4) & 1][(mode >> 6) & 1] : NULL;
    ref.pid = (mode & 1) ? t->pid : t->pid + 1;
    data += 7;
    size -= 7;

    memcpy(t->hdr, data, sizeof(struct header));
    data += sizeof(struct header);
    size -= sizeof(struct header);
    if (mode & 4)
        good_header(t);
    if (mode & 2)
        t->hdr->pid = t->pid;
    if (ref.slot < TABLE_SLOTS) {
        e = &t->entries[ref.slot];
        memset(e, 0, sizeof(*e));
        memcpy(e, data, size < sizeof(*e) ? size : sizeof(*e));
        if (mode & 8)
            e->claim.pid = (uint32_t)t->pid;
    }

    v = peer ? ucs_cred_table_resolve_from(&ref, peer, &c) : ucs_cred_table_resolve(&ref, &c);
    if (v != UCS_CRED_OK) {
        CHECK(v == UCS_CRED_STALE || v == UCS_CRED_UNTRUSTED || (peer && v == UCS_CRED_UNATTESTED), "verdict %d",
              (int)v);
        CHECK(c == NULL, "a credential beside verdict %d", (int)v);
        live = 0; /* what resolve read and refused, it released (LeakSanitizer watches) */
        return 0;
    }
    live++;
    if (peer)
        CHECK(peer->uid == 0 || (ref.pid == peer->pid && (t->owner == 0 || t->owner == peer->uid)),
              "peer uid %u vouched for pid %d from a table owned by %u", (unsigned)peer->uid, (int)ref.pid,
              (unsigned)t->owner);
    CHECK(c && e, "resolved without an entry");
    CHECK(ref.gen != 0 && e->gen == ref.gen && (pid_t)e->claim.pid == ref.pid && c->pid == ref.pid,
          "resolved an entry of another generation or pid");
    CHECK(!(e->seq & 1), "resolved an entry being written");
    CHECK(c->refs == 1, "refs %u", c->refs);
    CHECK(c->ruid == e->claim.ruid && c->euid == e->claim.euid && c->suid == e->claim.suid &&
              c->rgid == e->claim.rgid && c->egid == e->claim.egid && c->sgid == e->claim.sgid,
          "ids differ from the entry");
    CHECK(c->ngroups == e->claim.ngroups && c->ngroups <= UCS_CRED_TABLE_GROUPS, "%u groups", c->ngroups);
    CHECK(c->ngroups == 0 || memcmp(c->groups, e->claim.groups, c->ngroups * sizeof(uint32_t)) == 0,
          "groups differ");
    CHECK(memchr(e->claim.label, 0, UCS_CRED_LABEL_MAX) != NULL, "resolved an entry whose label is not terminated");
    CHECK(strcmp(c->label, e->claim.label) == 0, "label differs");
    if (t->owner != 0)
        CHECK(c->ruid == t->owner && c->euid == t->owner && c->suid == t->owner,
              "a table owned by uid %u vouched for uid %u", (unsigned)t->owner, c->euid);
    ucs_cred_release(c);
    CHECK(live == 0, "%ld credentials leaked", live);
    return 0;
}
