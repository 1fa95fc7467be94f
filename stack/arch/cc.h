/* Compiler and platform glue for lwIP on Linux/glibc. */
#ifndef UCS_ARCH_CC_H
#define UCS_ARCH_CC_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_NO_CTYPE_H 0

#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) \
    do { fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); abort(); } while (0)

uint32_t ucs_random32(void);
#define LWIP_RAND() ucs_random32()

#endif
