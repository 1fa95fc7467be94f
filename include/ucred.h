/*
 * <ucred.h>: user credentials, source-compatible with illumos getpeerucred(3C)
 * and ucred_get(3C), on Linux. See the ucred_get(3) and getpeerucred(3) pages.
 *
 * Differences from illumos, all documented in the manual pages:
 * - ucred_getzoneid() returns 0, the global zone, as a stand-in: Linux has no zones.
 * - ucred_getprojid() always fails with EINVAL: Linux has no projects.
 * - ucred_getlabel() returns the security label as a string (the SELinux or
 *   AppArmor context), not an m_label_t *.
 * - ucred_getpidfd() is a Linux addition: a pidfd that pins the process.
 */
#ifndef UCRED_H
#define UCRED_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ucred_s ucred_t;
typedef int zoneid_t;
typedef int projid_t;

/* ucred_get()'s pid for the calling process. */
#ifndef P_MYID
#define P_MYID (-1)
#endif

ucred_t *ucred_get(pid_t pid);
void ucred_free(ucred_t *uc);
size_t ucred_size(void);

uid_t ucred_geteuid(const ucred_t *uc);
uid_t ucred_getruid(const ucred_t *uc);
uid_t ucred_getsuid(const ucred_t *uc);
gid_t ucred_getegid(const ucred_t *uc);
gid_t ucred_getrgid(const ucred_t *uc);
gid_t ucred_getsgid(const ucred_t *uc);
int ucred_getgroups(const ucred_t *uc, const gid_t **groups);
pid_t ucred_getpid(const ucred_t *uc);
zoneid_t ucred_getzoneid(const ucred_t *uc);
projid_t ucred_getprojid(const ucred_t *uc);
const char *ucred_getlabel(const ucred_t *uc);

int getpeerucred(int fd, ucred_t **ucred);

/* Linux addition: a pidfd for the process the credential describes, owned by
 * the ucred_t (closed by ucred_free() or when the ucred_t is reused). */
int ucred_getpidfd(const ucred_t *uc);

#ifdef __cplusplus
}
#endif

#endif
