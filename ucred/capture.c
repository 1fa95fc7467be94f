/* Capturing the calling process's credential, and sharing it by reference count. */
#include "attested.h"
#include "provider.h"
#include "ucred_impl.h"

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FEW_GROUPS 32

/* The last credential captured, held here: a capture that reads the same
 * values shares it, so the thousands of sockets of one process take one entry
 * of the credential table (it has 4096) and one allocation, not one each. */
static struct ucs_cred *last;
static uint32_t last_gen; /* setid_gen when last was read */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * A process's ids and groups change only when it asks (set*id(), setgroups()),
 * so a capture reuses the last one until it does: every such call that goes
 * through libc passes through the wrappers below, which bump setid_gen once
 * the change is made. They live in this file because the static library's
 * archive then links them into every program that captures credentials, and
 * a shared library calling these functions reaches them too.
 *
 * What bypasses libc (a raw system call, a security module's label change)
 * leaves the capture stale until the next call through libc. That makes no
 * peer believe more than it should: a peer judges every claim against what
 * the kernel says of this process now (attested.h, claim.h), so a stale claim
 * is either still true of the process or not believed.
 */
static uint32_t setid_gen;

static void *real_fn(void **slot, const char *name)
{
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    }
    if (!fn)
        errno = ENOSYS;
    return fn;
}

#define SETID_WRAPPER(name, params, args)                                                                              \
    int name params                                                                                                    \
    {                                                                                                                  \
        static void *real;                                                                                             \
        int (*fn) params = (int (*) params)real_fn(&real, #name);                                                      \
        int rc = fn ? fn args : -1;                                                                                    \
        __atomic_add_fetch(&setid_gen, 1, __ATOMIC_RELEASE);                                                           \
        return rc;                                                                                                     \
    }

SETID_WRAPPER(setuid, (uid_t u), (u))
SETID_WRAPPER(seteuid, (uid_t u), (u))
SETID_WRAPPER(setreuid, (uid_t r, uid_t e), (r, e))
SETID_WRAPPER(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
SETID_WRAPPER(setgid, (gid_t g), (g))
SETID_WRAPPER(setegid, (gid_t g), (g))
SETID_WRAPPER(setregid, (gid_t r, gid_t e), (r, e))
SETID_WRAPPER(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
SETID_WRAPPER(setgroups, (size_t n, const gid_t *list), (n, list))
SETID_WRAPPER(initgroups, (const char *user, gid_t group), (user, group))

/* getpid() is a system call (glibc no longer caches it) and a connection
 * captures twice (socket, connect). The pid changes only in a child made by
 * fork(), whose copy of this page the kernel zeroes (MADV_WIPEONFORK): zero
 * means ask again. A child sharing our memory (vfork, posix_spawn) only execs. */
static pid_t *pid_cache;
static pthread_once_t pid_cache_once = PTHREAD_ONCE_INIT;

static void pid_cache_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return;
    if (madvise(p, page, MADV_WIPEONFORK) != 0) {
        munmap(p, page); /* a kernel without it (before 4.14): ask every time */
        return;
    }
    pid_cache = p;
}

pid_t ucs_cred_own_pid(void)
{
    pid_t pid;

    pthread_once(&pid_cache_once, pid_cache_init);
    if (!pid_cache)
        return getpid();
    pid = __atomic_load_n(pid_cache, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = getpid();
        __atomic_store_n(pid_cache, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

static int keep_groups(struct ucs_cred *cred, const gid_t *groups, int n)
{
    cred->ngroups = (uint32_t)n;
    cred->groups = NULL;
    if (n == 0)
        return 0;
    cred->groups = ucred_mem_alloc((size_t)n * sizeof(gid_t));
    if (cred->groups == NULL)
        return -1;
    memcpy(cred->groups, groups, (size_t)n * sizeof(gid_t));
    return 0;
}

/* The supplementary groups, in an array of exactly their number (NULL for none).
 * One system call when they are few; otherwise count, allocate, fetch, and
 * again should another thread have added groups in between. */
static int capture_groups(struct ucs_cred *cred)
{
    gid_t few[FEW_GROUPS];
    int n = getgroups(FEW_GROUPS, few);

    if (n >= 0)
        return keep_groups(cred, few, n);
    for (;;) {
        gid_t *groups;
        int got;

        n = getgroups(0, NULL);
        groups = ucred_mem_alloc((size_t)n * sizeof(gid_t));
        if (groups == NULL)
            return -1;
        got = getgroups(n, groups);
        if (got >= 0) {
            cred->groups = groups;
            cred->ngroups = (uint32_t)got;
            return 0;
        }
        free(groups);
    }
}

static bool same_cred(const struct ucs_cred *a, const struct ucs_cred *b)
{
    return a->pid == b->pid && a->ruid == b->ruid && a->euid == b->euid && a->suid == b->suid && a->rgid == b->rgid &&
           a->egid == b->egid && a->sgid == b->sgid && a->ngroups == b->ngroups &&
           (a->ngroups == 0 || memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)) == 0) &&
           strcmp(a->label, b->label) == 0;
}

/* The last capture, when nothing changed since it was read (gen) in this process. */
static struct ucs_cred *last_if_current(uint32_t gen, pid_t pid)
{
    struct ucs_cred *shared = NULL;

    pthread_mutex_lock(&last_lock);
    if (last && last_gen == gen && last->pid == pid)
        shared = ucs_cred_hold(last);
    pthread_mutex_unlock(&last_lock);
    return shared;
}

/* cred, freshly read as of gen, or the last capture if it read the same. */
static struct ucs_cred *share_last(struct ucs_cred *cred, uint32_t gen)
{
    struct ucs_cred *old;

    pthread_mutex_lock(&last_lock);
    if (last && same_cred(last, cred)) {
        struct ucs_cred *shared = ucs_cred_hold(last);
        last_gen = gen;
        pthread_mutex_unlock(&last_lock);
        ucs_cred_free(cred);
        return shared;
    }
    old = last;
    last = ucs_cred_hold(cred);
    last_gen = gen;
    pthread_mutex_unlock(&last_lock);
    if (old)
        ucs_cred_release(old);
    return cred;
}

struct ucs_cred *ucs_cred_capture(void)
{
    /* Read before the ids: a change made meanwhile bumps it past this value. */
    uint32_t gen = __atomic_load_n(&setid_gen, __ATOMIC_ACQUIRE);
    pid_t pid = ucs_cred_own_pid();
    struct ucs_cred *cred = last_if_current(gen, pid);

    if (cred)
        return cred;
    if (!(cred = ucred_mem_alloc(sizeof(*cred))))
        return NULL;
    memset(cred, 0, sizeof(*cred));
    if (capture_groups(cred) != 0) {
        free(cred);
        return NULL;
    }
    cred->refs = 1;
    cred->pid = pid;
    getresuid(&cred->ruid, &cred->euid, &cred->suid);
    getresgid(&cred->rgid, &cred->egid, &cred->sgid);
    ucred_read_label("/proc/self/attr/current", cred->label);
    return share_last(cred, gen);
}

struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred)
{
    __atomic_add_fetch(&cred->refs, 1, __ATOMIC_RELAXED);
    return cred;
}

struct ucs_cred *ucs_cred_hold_live(struct ucs_cred *cred)
{
    uint32_t refs = __atomic_load_n(&cred->refs, __ATOMIC_RELAXED);

    do {
        if (refs == 0)
            return NULL;
    } while (!__atomic_compare_exchange_n(&cred->refs, &refs, refs + 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
    return cred;
}

void ucs_cred_free(struct ucs_cred *cred)
{
    ucs_pidfd_release(cred->pidfd);
    free(cred->groups);
    free(cred);
}

void ucs_cred_release(struct ucs_cred *cred)
{
    if (__atomic_sub_fetch(&cred->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* A credential the table published is withdrawn on the stack's thread
     * (the hook defers it there and frees it after); any other is freed now. */
    if (!ucred_last_release(cred))
        ucs_cred_free(cred);
}
