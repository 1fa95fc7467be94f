/* ucred/'s allocator, wrapped at link time (--wrap=ucred_mem_alloc): the next
 * call fails with the error a test asked for, then allocation goes on. */
#include "ucred_alloc_fault.h"

#include <errno.h>
#include <stddef.h>

void *__real_ucred_mem_alloc(size_t size);
void *__wrap_ucred_mem_alloc(size_t size);

static int injected_failure;

void ucs_ucred_inject_alloc_failure(int err)
{
    __atomic_store_n(&injected_failure, err, __ATOMIC_RELAXED);
}

void *__wrap_ucred_mem_alloc(size_t size)
{
    int err = __atomic_exchange_n(&injected_failure, 0, __ATOMIC_RELAXED);

    if (err != 0) {
        errno = err;
        return NULL;
    }
    return __real_ucred_mem_alloc(size);
}
