/* Credential claims: written by their owner, checked against the kernel by their reader. */
#include "claim.h"
#include "ucred_impl.h"

#include <stdlib.h>
#include <string.h>

int ucs_cred_claim_write(struct ucs_cred_claim *claim, const struct ucs_cred *cred)
{
    if (cred->ngroups > UCS_CRED_TABLE_GROUPS)
        return -1;
    UCS_CRED_COPY(claim, cred);
    return 0;
}

static bool well_formed(const struct ucs_cred_claim *c)
{
    return c->ngroups <= UCS_CRED_TABLE_GROUPS && (pid_t)c->pid > 0 && memchr(c->label, '\0', sizeof(c->label));
}

static bool among(uint32_t id, const uint32_t three[3])
{
    return id == three[0] || id == three[1] || id == three[2];
}

/* The groups are compared as the kernel keeps them, sorted (set_groups()
 * sorts them; getgroups() and SO_PEERGROUPS copy them out in that order). */
static bool could_hold(const struct ucs_cred_claim *c, const struct ucs_attested *k)
{
    if ((pid_t)c->pid != k->pid)
        return false;
    if (ucs_attested_root(k))
        return true;
    return among(c->ruid, k->uids) && among(c->euid, k->uids) && among(c->suid, k->uids) &&
           among(c->rgid, k->gids) && among(c->egid, k->gids) && among(c->sgid, k->gids) &&
           c->ngroups == k->ngroups && (!c->ngroups || !memcmp(c->groups, k->groups, c->ngroups * sizeof(gid_t))) &&
           (!k->labelled || !strcmp(c->label, k->label));
}

enum ucs_cred_verdict ucs_cred_claim_decode(const struct ucs_cred_claim *copy, struct ucs_cred **out)
{
    struct ucs_cred *cred;

    *out = NULL;
    if (!well_formed(copy))
        return UCS_CRED_STALE;
    if (!(cred = ucred_mem_alloc(sizeof(*cred))))
        return UCS_CRED_STALE;
    memset(cred, 0, sizeof(*cred));
    /* Exactly its groups: a peer's credential held by every connection costs what it holds. */
    if (copy->ngroups && !(cred->groups = ucred_mem_alloc(copy->ngroups * sizeof(gid_t)))) {
        free(cred);
        return UCS_CRED_STALE;
    }
    cred->refs = 1;
    UCS_CRED_COPY(cred, copy);
    *out = cred;
    return UCS_CRED_OK;
}

enum ucs_cred_verdict ucs_cred_claim_resolve(const struct ucs_cred_claim *copy, const struct ucs_attested *kernel,
                                             struct ucs_cred **out)
{
    enum ucs_cred_verdict v;

    *out = NULL;
    if (well_formed(copy) && !could_hold(copy, kernel))
        return UCS_CRED_UNTRUSTED;
    if ((v = ucs_cred_claim_decode(copy, out)) != UCS_CRED_OK)
        return v;
    if (!kernel->labelled || strcmp((*out)->label, kernel->label))
        (*out)->label[0] = '\0';
    (*out)->pidfd = ucs_pidfd_hold(kernel->pidfd);
    return UCS_CRED_OK;
}
