/* Capturing the calling process's credential, and sharing it by reference count. */
#include "ucred_impl.h"

#include <errno.h>
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
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;

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

static pid_t own_pid(void)
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

/* cred, freshly read, or the last capture if it read the same. */
static struct ucs_cred *share_last(struct ucs_cred *cred)
{
    struct ucs_cred *old;

    pthread_mutex_lock(&last_lock);
    if (last && same_cred(last, cred)) {
        struct ucs_cred *shared = ucs_cred_hold(last);
        pthread_mutex_unlock(&last_lock);
        free(cred->groups);
        free(cred);
        return shared;
    }
    old = last;
    last = ucs_cred_hold(cred);
    pthread_mutex_unlock(&last_lock);
    if (old)
        ucs_cred_release(old);
    return cred;
}

struct ucs_cred *ucs_cred_capture(void)
{
    struct ucs_cred *cred = ucred_mem_alloc(sizeof(*cred));

    if (cred == NULL)
        return NULL;
    if (capture_groups(cred) != 0) {
        free(cred);
        return NULL;
    }
    cred->refs = 1;
    cred->table_gen = 0;
    cred->pid = own_pid();
    getresuid(&cred->ruid, &cred->euid, &cred->suid);
    getresgid(&cred->rgid, &cred->egid, &cred->sgid);
    ucred_read_label("/proc/self/attr/current", cred->label);
    return share_last(cred);
}

struct ucs_cred *ucs_cred_hold(struct ucs_cred *cred)
{
    __atomic_add_fetch(&cred->refs, 1, __ATOMIC_RELAXED);
    return cred;
}

void ucs_cred_release(struct ucs_cred *cred)
{
    if (__atomic_sub_fetch(&cred->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    ucred_last_release(cred);
    free(cred->groups);
    free(cred);
}
