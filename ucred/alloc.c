/* ucred/'s memory allocation, and the test hook that makes it fail. */
#include "ucred_impl.h"
#include "ucred_testing.h"

#include <errno.h>
#include <stdlib.h>

static int injected_failure;

void ucs_ucred_inject_alloc_failure(int err)
{
    __atomic_store_n(&injected_failure, err, __ATOMIC_RELAXED);
}

void *ucred_mem_alloc(size_t size)
{
    void *p;

    if (__atomic_load_n(&injected_failure, __ATOMIC_RELAXED) != 0) {
        int err = __atomic_exchange_n(&injected_failure, 0, __ATOMIC_RELAXED);
        if (err != 0) {
            errno = err;
            return NULL;
        }
    }
    p = malloc(size);
    if (p == NULL)
        errno = EAGAIN; /* malloc's failure is transient: the caller may retry */
    return p;
}
