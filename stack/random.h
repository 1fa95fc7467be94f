#ifndef UCS_STACK_RANDOM_H
#define UCS_STACK_RANDOM_H

#include <stddef.h>
#include <stdint.h>

void ucs_random_bytes(void *buf, size_t len);
uint32_t ucs_random32(void);
uint64_t ucs_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
