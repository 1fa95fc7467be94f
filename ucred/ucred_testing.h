/* Test-only hooks into ucred/. */
#ifndef UCS_UCRED_TESTING_H
#define UCS_UCRED_TESTING_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ucs_cred_ref;

/* Makes ucred/'s next memory allocation fail with errno err (EAGAIN or ENOMEM). */
void ucs_ucred_inject_alloc_failure(int err);

/* A stack built to lie: from now on every credential option this process
 * sends carries ref, whatever the socket's real credential. */
void ucs_cred_table_testing_forge(const struct ucs_cred_ref *ref);
/* A live entry for euid in pid's credential table, found by reading the table
 * as any local process may. Returns 0, or -1 when there is none. */
int ucs_cred_table_testing_find(pid_t pid, uid_t euid, struct ucs_cred_ref *ref);

#ifdef __cplusplus
}
#endif

#endif
