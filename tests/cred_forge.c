/* A stack built to lie: rewrites the claims of its own credential table (cred_forge.h). */
#include "cred_forge.h"

#include "claim.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CLAIMS 16

/* What the claims said before the first lie, to tell them again, and where they are. */
static struct ucs_cred_claim honest;
static struct ucs_cred_claim *found[MAX_CLAIMS];
static int nfound;

static int is_mine(const struct ucs_cred_claim *c)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;

    getresuid(&r, &e, &s);
    getresgid(&rg, &eg, &sg);
    return c->pid == (uint32_t)getpid() && c->ruid == r && c->euid == e && c->suid == s && c->rgid == rg &&
           c->egid == eg && c->sgid == sg && c->ngroups <= 1024 && memchr(c->label, '\0', sizeof(c->label));
}

static void tell(struct ucs_cred_claim *c, const char *lie)
{
    static const uint32_t groups[] = {0, 27, 4242};

    memcpy(c, &honest, sizeof(*c));
    if (!strcmp(lie, "root")) {
        c->ruid = c->euid = c->suid = c->rgid = c->egid = c->sgid = 0;
    } else if (!strcmp(lie, "egid")) {
        c->egid = 0;
    } else if (!strcmp(lie, "groups")) {
        c->ngroups = 3;
        memcpy(c->groups, groups, sizeof(groups));
    } else if (!strcmp(lie, "label")) {
        snprintf(c->label, sizeof(c->label), "system_u:system_r:kernel_t:s0");
    }
}

/* The claims of this process's credential in its table, found once. */
static void find_claims(void)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    char line[512];

    while (maps && fgets(line, sizeof(line), maps)) {
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3 || strcmp(perms, "rw-s") ||
            !strstr(line, "ucstack-cred"))
            continue;
        for (uintptr_t p = start; p + sizeof(struct ucs_cred_claim) <= end && nfound < MAX_CLAIMS;
             p += sizeof(uint32_t)) {
            struct ucs_cred_claim *c = (struct ucs_cred_claim *)p;
            if (!is_mine(c))
                continue;
            memcpy(&honest, c, sizeof(honest));
            found[nfound++] = c;
            p += sizeof(*c) - sizeof(uint32_t);
        }
    }
    if (maps)
        fclose(maps);
}

int cred_forge(const char *lie)
{
    if (strcmp(lie, "honest") && strcmp(lie, "root") && strcmp(lie, "egid") && strcmp(lie, "groups") &&
        strcmp(lie, "label"))
        return -1;
    if (!nfound)
        find_claims();
    for (int i = 0; i < nfound; i++)
        tell(found[i], lie);
    return nfound;
}
