/* Test-only hooks into ucred/. */
#ifndef UCS_UCRED_TESTING_H
#define UCS_UCRED_TESTING_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Makes ucred/'s next memory allocation fail with errno err (EAGAIN or ENOMEM). */
void ucs_ucred_inject_alloc_failure(int err);

#ifdef __cplusplus
}
#endif

#endif
