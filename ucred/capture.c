/* Capturing the calling process's credential, and sharing it by reference count. */
#include "cred_table.h"
#include "ucred_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FEW_GROUPS 32

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
    cred->pid = getpid();
    getresuid(&cred->ruid, &cred->euid, &cred->suid);
    getresgid(&cred->rgid, &cred->egid, &cred->sgid);
    ucred_read_label("/proc/self/attr/current", cred->label);
    return cred;
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
    ucs_cred_table_withdraw(cred);
    free(cred->groups);
    free(cred);
}
