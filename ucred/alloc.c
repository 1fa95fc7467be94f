/* ucred/'s memory allocation: one place, so that tests can make it fail
 * (tests/ucred_alloc_fault.c wraps it at link time). */
#include "ucred_impl.h"

#include <errno.h>
#include <stdlib.h>

void *ucred_mem_alloc(size_t size)
{
    void *p = malloc(size);

    if (p == NULL)
        errno = EAGAIN; /* malloc's failure is transient: the caller may retry */
    return p;
}
