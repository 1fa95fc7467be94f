/*
 * libFuzzer target: ucs_cred_table_resolve_from() (credlink/cred_table.c) reading
 * the credential table an attested peer handed over, which the peer writes:
 * hostile input, judged by ucs_cred_claim_resolve() (credlink/claim.c).
 *
 * The table is a memfd this target makes and seals as a stack does, handed to
 * ucs_peer_table_adopt() once (a file of the wrong size, or unsealed, is
 * refused first). Each input rewrites its header and one entry through the
 * maker's writable mapping, and resolves a reference as the credential option
 * handler does for a SYN, from one of two attested peers whose kernel word is
 * fixed here: root, or uids 1000-1002, gids 2000-2002, groups 5,9 and label
 * "fuzz".
 *
 * Input: slot:u16be gen:u32be mode:u8 header[32] entry[...]
 *   mode bit 0  the reference names the table's pid (else another pid)
 *        bit 2  the header's magic, version, slot count, entry size and pid are right
 *        bit 3  the entry's pid is the table's
 *        bit 4  the peer is the non-root one (else root)
 *        bit 6  the table's maker has died (FUTEX_OWNER_DIED in its liveness mark)
 *   the entry is written at the reference's slot (when it has one), its
 *   missing bytes zero.
 *
 * Checked: a credential resolves only from an entry whose generation and pid
 * match the reference, under a good header and a live mark, holds exactly what
 * the entry's claim says (at most 1024 groups, a NUL-terminated label) but for
 * the label, which is the kernel's or none; a non-root peer is believed only
 * for ids among its own three, exactly its groups and its label; nothing
 * leaks but the one credential the table keeps (the last it resolved, handed
 * out again only while the entry holds the same claim: it is checked like any
 * other).
 */
/* memfd_create(), the seals, struct ucred; meson defines it, the fuzz build does not. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "attest.h"
#include "claim.h"
#include "cred_table.h"
#include "../../ucred/ucred_impl.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
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

/* The table's layout, as credlink/cred_table.c writes it; init() checks that a
 * well-formed entry written this way resolves. */
#define TABLE_MAGIC 0x75637274u
#define TABLE_VERSION 3u
#define TABLE_SLOTS 4096u
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define TABLE_PID 0x40000000 /* above pid_max: no process has it */

struct entry {
    uint32_t seq, gen;
    struct ucs_cred_claim claim;
};

struct header {
    uint32_t magic, version, slots, entry_size;
    int32_t pid;
    uint32_t reserved[3];
    pthread_mutex_t alive;
};

#define TABLE_SIZE (sizeof(struct header) + TABLE_SLOTS * sizeof(struct entry))

static struct header *hdr;
static struct entry *entries;
static struct ucs_attest_peer peers[2]; /* [0] root, [1] uids 1000-1002 */
static const gid_t peer_groups[] = {5, 9};
static uint32_t live_mark;
static long live;
/* The credentials alive, so that one handed out again is not counted twice. */
static struct ucs_cred *alive_creds[8];

static void count_alive(struct ucs_cred *c)
{
    unsigned i;

    for (i = 0; i < 8 && alive_creds[i] != c; i++)
        ;
    if (i < 8)
        return;
    for (i = 0; i < 8 && alive_creds[i]; i++)
        ;
    CHECK(i < 8, "more than 8 credentials alive");
    alive_creds[i] = c;
    live++;
}

/* The stand-ins for ucred/capture.c's reference counting and ucred/proc.c. */
struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred)
{
    cred->refs++;
    return cred;
}

struct ucs_cred *ucs_cred_hold_live(struct ucs_cred *cred)
{
    return cred->refs ? ucs_cred_hold(cred) : NULL;
}

void ucs_cred_free(struct ucs_cred *cred)
{
    ucs_pidfd_release(cred->pidfd);
    free(cred->groups);
    for (unsigned i = 0; i < 8; i++)
        if (alive_creds[i] == cred)
            alive_creds[i] = NULL;
    free(cred);
    live--;
}

void ucs_cred_release(struct ucs_cred *cred)
{
    CHECK(cred->refs > 0, "released more often than held");
    if (--cred->refs == 0)
        ucs_cred_free(cred);
}

pid_t ucs_cred_own_pid(void)
{
    return getpid();
}

ucred_t *ucred_get(pid_t pid)
{
    (void)pid;
    return NULL;
}

void ucred_free(ucred_t *uc)
{
    (void)uc;
}

static int make_table(size_t size, int seals)
{
    int fd = memfd_create("fuzz-cred", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "memfd");
    if (!hdr && size == TABLE_SIZE) {
        void *map = mmap(NULL, TABLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(map != MAP_FAILED, "mmap");
        hdr = map;
        entries = (struct entry *)(hdr + 1);
    }
    CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0, "seals");
    return fd;
}

static void good_header(void)
{
    hdr->magic = TABLE_MAGIC;
    hdr->version = TABLE_VERSION;
    hdr->slots = TABLE_SLOTS;
    hdr->entry_size = sizeof(struct entry);
    hdr->pid = TABLE_PID;
    memcpy(&hdr->alive, &live_mark, sizeof(live_mark));
}

static void init(void)
{
    static bool done;
    struct ucs_peer_table *table;
    struct ucs_cred_ref ref = {TABLE_PID, 5, 77};
    struct ucs_cred *c = NULL;
    int fd;

    if (done)
        return;
    done = true;
    fd = make_table(TABLE_SIZE, SEALS);
    /* What a stack's thread holds: a word with its thread id. */
    live_mark = (uint32_t)syscall(SYS_gettid);
    good_header();
    CHECK(!ucs_peer_table_adopt(make_table(TABLE_SIZE - 4096, SEALS), TABLE_PID), "adopted a short table");
    CHECK(!ucs_peer_table_adopt(make_table(TABLE_SIZE, F_SEAL_SHRINK | F_SEAL_GROW), TABLE_PID),
          "adopted a table others may write");
    CHECK(!ucs_peer_table_adopt(dup(fd), TABLE_PID + 1), "adopted a table of another pid");
    table = ucs_peer_table_adopt(fd, TABLE_PID);
    CHECK(table, "a good table was refused");
    for (int i = 0; i < 2; i++) {
        struct ucs_attested *k = &peers[i].kernel;
        peers[i].table = table;
        k->pid = TABLE_PID;
        k->pidfd = calloc(1, sizeof(*k->pidfd));
        CHECK(k->pidfd, "out of memory");
        k->pidfd->refs = 1;
        k->pidfd->fd = (int)syscall(SYS_pidfd_open, getpid(), 0); /* we stay alive */
        CHECK(k->pidfd->fd >= 0, "pidfd_open");
        for (int j = 0; j < 3; j++) {
            k->uids[j] = i ? 1000 + j : 0;
            k->gids[j] = i ? 2000 + j : 0;
        }
        if (i) {
            k->ngroups = 2;
            k->groups = malloc(sizeof(peer_groups));
            CHECK(k->groups, "out of memory");
            memcpy(k->groups, peer_groups, sizeof(peer_groups));
            k->labelled = true;
            strcpy(k->label, "fuzz");
        }
    }

    /* The layout above is the one cred_table.c reads. */
    memset(&entries[5], 0, sizeof(entries[5]));
    entries[5].gen = 77;
    entries[5].claim.pid = TABLE_PID;
    entries[5].claim.euid = 1001;
    entries[5].claim.ruid = entries[5].claim.suid = 1000;
    entries[5].claim.rgid = entries[5].claim.egid = entries[5].claim.sgid = 2002;
    entries[5].claim.ngroups = 2;
    memcpy(entries[5].claim.groups, peer_groups, sizeof(peer_groups));
    strcpy(entries[5].claim.label, "fuzz");
    peers[1].kernel.read_ms = UINT64_MAX / 2;
    CHECK(ucs_cred_table_resolve_from(&ref, &peers[1], &c) == UCS_CRED_OK && c,
          "self-test: a good entry does not resolve");
    count_alive(c);
    CHECK(c->euid == 1001 && c->ngroups == 2 && c->groups[1] == 9 && strcmp(c->label, "fuzz") == 0,
          "self-test: the entry read differs (layout changed?)");
    ucs_cred_release(c);
}

static bool among(uint32_t id, const uint32_t three[3])
{
    return id == three[0] || id == three[1] || id == three[2];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ucs_cred_ref ref;
    struct ucs_cred *c = NULL;
    struct entry *e = NULL;
    struct ucs_attest_peer *peer;
    struct ucs_attested *k;
    enum ucs_cred_verdict v;
    uint8_t mode;
    uint32_t mark;

    init();
    if (size < 7 + 32)
        return 0;
    ref.slot = (uint16_t)(data[0] << 8 | data[1]);
    ref.gen = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5];
    mode = data[6];
    peer = &peers[(mode >> 4) & 1];
    k = &peer->kernel;
    k->read_ms = UINT64_MAX / 2; /* the fixed kernel word stands: never read again, however slow the run */
    ref.pid = (mode & 1) ? TABLE_PID : TABLE_PID + 1;
    data += 7;
    size -= 7;

    memcpy(hdr, data, 32);
    data += 32;
    size -= 32;
    mark = (mode & 64) ? FUTEX_OWNER_DIED : live_mark;
    memcpy(&hdr->alive, &mark, sizeof(mark));
    if (mode & 4)
        good_header();
    if (mode & 64)
        memcpy(&hdr->alive, &mark, sizeof(mark));
    if (ref.slot < TABLE_SLOTS) {
        e = &entries[ref.slot];
        memset(e, 0, sizeof(*e));
        memcpy(e, data, size < sizeof(*e) ? size : sizeof(*e));
        if (mode & 8)
            e->claim.pid = TABLE_PID;
    }

    v = ucs_cred_table_resolve_from(&ref, peer, &c);
    if (v != UCS_CRED_OK) {
        CHECK(v == UCS_CRED_STALE || v == UCS_CRED_UNTRUSTED || v == UCS_CRED_UNATTESTED, "verdict %d", (int)v);
        CHECK(c == NULL, "a credential beside verdict %d", (int)v);
        return 0;
    }
    CHECK(c && e, "resolved without an entry");
    count_alive(c);
    CHECK(hdr->magic == TABLE_MAGIC && !(mode & 64), "resolved from a dead or closed table");
    CHECK(ref.pid == k->pid && ref.gen != 0 && e->gen == ref.gen && (pid_t)e->claim.pid == ref.pid &&
              c->pid == ref.pid,
          "resolved an entry of another generation or pid");
    CHECK(!(e->seq & 1), "resolved an entry being written");
    /* The table keeps the last credential it resolved, to hand out again. */
    CHECK(c->refs >= 1 && c->refs <= 2 && c->pidfd == k->pidfd, "refs %u, pidfd not the peer's", c->refs);
    CHECK(c->ruid == e->claim.ruid && c->euid == e->claim.euid && c->suid == e->claim.suid &&
              c->rgid == e->claim.rgid && c->egid == e->claim.egid && c->sgid == e->claim.sgid,
          "ids differ from the entry");
    CHECK(c->ngroups == e->claim.ngroups && c->ngroups <= UCS_CRED_TABLE_GROUPS, "%u groups", c->ngroups);
    CHECK(c->ngroups == 0 || memcmp(c->groups, e->claim.groups, c->ngroups * sizeof(uint32_t)) == 0,
          "groups differ");
    CHECK(memchr(e->claim.label, 0, UCS_CRED_LABEL_MAX) != NULL, "resolved an entry whose label is not terminated");
    CHECK(c->label[0] == '\0' || (k->labelled && strcmp(c->label, k->label) == 0),
          "a label the kernel did not give: %s", c->label);
    if (peer == &peers[1]) {
        CHECK(among(c->ruid, k->uids) && among(c->euid, k->uids) && among(c->suid, k->uids),
              "a non-root peer vouched for uid %u", c->euid);
        CHECK(among(c->rgid, k->gids) && among(c->egid, k->gids) && among(c->sgid, k->gids),
              "a non-root peer vouched for gid %u", c->egid);
        CHECK(c->ngroups == 2 && c->groups[0] == 5 && c->groups[1] == 9, "a non-root peer vouched for other groups");
        CHECK(strcmp(e->claim.label, "fuzz") == 0, "a non-root peer vouched for label %s", e->claim.label);
    }
    ucs_cred_release(c);
    CHECK(live <= 1, "%ld credentials leaked", live);
    return 0;
}
