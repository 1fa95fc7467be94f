/* The providers of descriptors that are not the kernel's, and the release hook
 * (provider.h). Registered a few times per process, read on every call: the
 * readers take no lock, the count is published after the entry it counts. */
#include "provider.h"

#include <errno.h>
#include <pthread.h>

#define MAX_PROVIDERS 4

static struct provider {
    int lo, hi;
    ucs_ucred_peer_fn peer;
} providers[MAX_PROVIDERS];
static unsigned nproviders;
static pthread_mutex_t providers_lock = PTHREAD_MUTEX_INITIALIZER;

static bool (*release_hook)(struct ucs_cred *cred);

static int add_provider(int lo, int hi, ucs_ucred_peer_fn peer)
{
    for (unsigned i = 0; i < nproviders; i++) {
        const struct provider *p = &providers[i];
        if (p->lo == lo && p->hi == hi && p->peer == peer)
            return 0;
        if (lo < p->hi && p->lo < hi) {
            errno = EBUSY;
            return -1;
        }
    }
    if (nproviders == MAX_PROVIDERS) {
        errno = ENOSPC;
        return -1;
    }
    providers[nproviders] = (struct provider){lo, hi, peer};
    __atomic_store_n(&nproviders, nproviders + 1, __ATOMIC_RELEASE);
    return 0;
}

int ucs_ucred_register_provider(int fd_lo, int fd_hi, ucs_ucred_peer_fn peer)
{
    int rc;

    if (fd_lo < 0 || fd_lo >= fd_hi || peer == NULL) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&providers_lock);
    rc = add_provider(fd_lo, fd_hi, peer);
    pthread_mutex_unlock(&providers_lock);
    return rc;
}

ucs_ucred_peer_fn ucred_provider_of(int fd)
{
    unsigned n = __atomic_load_n(&nproviders, __ATOMIC_ACQUIRE);

    for (unsigned i = 0; i < n; i++)
        if (fd >= providers[i].lo && fd < providers[i].hi)
            return providers[i].peer;
    return NULL;
}

void ucs_cred_on_last_release(bool (*hook)(struct ucs_cred *cred))
{
    __atomic_store_n(&release_hook, hook, __ATOMIC_RELEASE);
}

bool ucred_last_release(struct ucs_cred *cred)
{
    bool (*hook)(struct ucs_cred *) = __atomic_load_n(&release_hook, __ATOMIC_ACQUIRE);

    return hook != NULL && hook(cred);
}
