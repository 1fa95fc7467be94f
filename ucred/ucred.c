/* The ucred_t: its size, its life, and the accessors of illumos <ucred.h>. */
#include "attested.h"
#include "ucred_impl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t groups_max_once = PTHREAD_ONCE_INIT;
static size_t groups_max;

static void find_groups_max(void)
{
    long n = sysconf(_SC_NGROUPS_MAX);
    groups_max = n > 0 ? (size_t)n : NGROUPS_MAX;
}

size_t ucred_groups_max(void)
{
    pthread_once(&groups_max_once, find_groups_max);
    return groups_max;
}

size_t ucred_size(void)
{
    return offsetof(struct ucred_s, groups) + ucred_groups_max() * sizeof(gid_t);
}

static void drop_pidfd(ucred_t *uc)
{
    if (uc->shared_pidfd)
        ucs_pidfd_release(uc->shared_pidfd);
    else if (uc->pidfd >= 0)
        close(uc->pidfd);
    uc->shared_pidfd = NULL;
    uc->pidfd = -1;
}

/* Every field unknown (letting go of the pidfd a reused ucred_t held). */
static void forget(ucred_t *uc)
{
    drop_pidfd(uc);
    uc->pid = -1;
    uc->ruid = uc->euid = uc->suid = (uid_t)-1;
    uc->rgid = uc->egid = uc->sgid = (gid_t)-1;
    uc->ngroups = -1;
    uc->label[0] = '\0';
}

ucred_t *ucred_alloc(void)
{
    ucred_t *uc = ucred_mem_alloc(ucred_size());

    if (uc == NULL)
        return NULL;
    if (ucred_registry_add(uc) != 0) {
        free(uc);
        return NULL;
    }
    uc->pidfd = -1;
    uc->shared_pidfd = NULL;
    forget(uc);
    return uc;
}

void ucred_free(ucred_t *uc)
{
    if (!ucred_registry_remove(uc))
        return;
    drop_pidfd(uc);
    free(uc);
}

int ucred_store(ucred_t **ucp, const struct ucs_cred *cred, int pidfd)
{
    ucred_t *uc = *ucp;

    if (cred->ngroups > ucred_groups_max()) {
        errno = ENOMEM;
        return -1;
    }
    if (uc == NULL && (uc = ucred_alloc()) == NULL)
        return -1;
    drop_pidfd(uc);
    UCS_CRED_COPY(uc, cred);
    uc->pidfd = pidfd;
    if (pidfd < 0 && cred->pidfd) {
        uc->shared_pidfd = ucs_pidfd_hold(cred->pidfd);
        uc->pidfd = cred->pidfd->fd;
    }
    *ucp = uc;
    return 0;
}

int ucred_store_socket_owner(ucred_t **ucp, pid_t pid, uid_t owner, int pidfd)
{
    ucred_t *uc = *ucp;

    if (uc == NULL && (uc = ucred_alloc()) == NULL)
        return -1;
    forget(uc);
    uc->pid = pid;
    uc->pidfd = pidfd;
    uc->euid = owner;
    *ucp = uc;
    return 0;
}

/* The accessors fail as illumos's do: -1 with errno EINVAL when uc is NULL or
 * the field is unknown. */
static uid_t known_uid(uid_t id)
{
    if (id == (uid_t)-1)
        errno = EINVAL;
    return id;
}

static gid_t known_gid(gid_t id)
{
    if (id == (gid_t)-1)
        errno = EINVAL;
    return id;
}

uid_t ucred_geteuid(const ucred_t *uc)
{
    return known_uid(uc != NULL ? uc->euid : (uid_t)-1);
}

uid_t ucred_getruid(const ucred_t *uc)
{
    return known_uid(uc != NULL ? uc->ruid : (uid_t)-1);
}

uid_t ucred_getsuid(const ucred_t *uc)
{
    return known_uid(uc != NULL ? uc->suid : (uid_t)-1);
}

gid_t ucred_getegid(const ucred_t *uc)
{
    return known_gid(uc != NULL ? uc->egid : (gid_t)-1);
}

gid_t ucred_getrgid(const ucred_t *uc)
{
    return known_gid(uc != NULL ? uc->rgid : (gid_t)-1);
}

gid_t ucred_getsgid(const ucred_t *uc)
{
    return known_gid(uc != NULL ? uc->sgid : (gid_t)-1);
}

int ucred_getgroups(const ucred_t *uc, const gid_t **groups)
{
    if (uc == NULL || groups == NULL || uc->ngroups < 0) {
        errno = EINVAL;
        return -1;
    }
    *groups = uc->groups;
    return uc->ngroups;
}

pid_t ucred_getpid(const ucred_t *uc)
{
    if (uc == NULL || uc->pid <= 0) {
        errno = EINVAL;
        return -1;
    }
    return uc->pid;
}

/* Linux has no zones: every process is in the global zone, 0. */
zoneid_t ucred_getzoneid(const ucred_t *uc)
{
    if (uc == NULL) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Linux has no projects. */
projid_t ucred_getprojid(const ucred_t *uc)
{
    (void)uc;
    errno = EINVAL;
    return -1;
}

const char *ucred_getlabel(const ucred_t *uc)
{
    if (uc == NULL || uc->label[0] == '\0') {
        errno = EINVAL;
        return NULL;
    }
    return uc->label;
}

int ucred_getpidfd(const ucred_t *uc)
{
    if (uc == NULL || uc->pidfd < 0) {
        errno = EINVAL;
        return -1;
    }
    return uc->pidfd;
}
