/* Makes ucred/'s allocations fail, for tests: a program linked with
 * tests/ucred_alloc_fault.c and -Wl,--wrap=ucred_mem_alloc (tests/meson.build)
 * routes every call into libucred's allocator through it. */
#ifndef UCS_TESTS_UCRED_ALLOC_FAULT_H
#define UCS_TESTS_UCRED_ALLOC_FAULT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Makes ucred/'s next memory allocation fail with errno err (EAGAIN or ENOMEM). */
void ucs_ucred_inject_alloc_failure(int err);

#ifdef __cplusplus
}
#endif

#endif
