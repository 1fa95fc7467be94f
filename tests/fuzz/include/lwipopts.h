/* The fuzz build's lwIP configuration: stack/lwipopts.h as shipped, except that
 * lwIP's heap and pools come from malloc. Production carves them out of one
 * big array, where AddressSanitizer cannot see an overflow from one pbuf or
 * pcb into the next, a use after free, or a leak; here each is its own
 * allocation. Pool sizes no longer bound anything (MEMP_NUM_*), so exhaustion
 * paths are not exercised by this build. */
#ifndef UCS_FUZZ_LWIPOPTS_H
#define UCS_FUZZ_LWIPOPTS_H

#include "../../../stack/lwipopts.h"

#undef MEM_LIBC_MALLOC
#define MEM_LIBC_MALLOC 1
#undef MEMP_MEM_MALLOC
#define MEMP_MEM_MALLOC 1
#undef LWIP_RAM_HEAP_POINTER

#endif
