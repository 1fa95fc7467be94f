/*
 * The ucred_t pointers this library allocated, so that getpeerucred() can
 * refuse one it did not make (EFAULT) without ever dereferencing it. An
 * open-addressing set: linear probing, deletion by shifting back the entries
 * that follow, never more than half full.
 */
#include "ucred_impl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_FIRST_BITS 6

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t first_slots[1u << REGISTRY_FIRST_BITS];
static uintptr_t *slots = first_slots; /* 0 is an empty slot */
static unsigned bits = REGISTRY_FIRST_BITS; /* the set has 1 << bits slots */
static size_t used;

/* Fibonacci hashing: the multiply spreads the pointer's middle bits (its low
 * ones are alignment) into the top bits, which pick the slot. */
static size_t home_slot(uintptr_t p)
{
    return (size_t)(((uint64_t)p * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - bits));
}

static size_t next_slot(size_t i)
{
    return (i + 1) & (((size_t)1 << bits) - 1);
}

/* The slot holding p, or the empty slot where p would go. */
static size_t find_slot(uintptr_t p)
{
    size_t i = home_slot(p);
    while (slots[i] != 0 && slots[i] != p)
        i = next_slot(i);
    return i;
}

static int grow(void)
{
    size_t old_len = (size_t)1 << bits;
    uintptr_t *old = slots;
    uintptr_t *bigger = ucred_mem_alloc(2 * old_len * sizeof(*bigger));

    if (bigger == NULL)
        return -1;
    memset(bigger, 0, 2 * old_len * sizeof(*bigger));
    slots = bigger;
    bits++;
    for (size_t i = 0; i < old_len; i++)
        if (old[i] != 0)
            slots[find_slot(old[i])] = old[i];
    if (old != first_slots)
        free(old);
    return 0;
}

int ucred_registry_add(const void *p)
{
    int rc = 0;

    pthread_mutex_lock(&registry_lock);
    if (2 * (used + 1) > (size_t)1 << bits)
        rc = grow();
    if (rc == 0) {
        slots[find_slot((uintptr_t)p)] = (uintptr_t)p;
        used++;
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

bool ucred_registry_contains(const void *p)
{
    bool found;

    pthread_mutex_lock(&registry_lock);
    found = slots[find_slot((uintptr_t)p)] != 0;
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* Whether the entry at slot j, whose home slot is home, may move back into the
 * hole: not when home lies cyclically after the hole, up to j. */
static bool may_fill_hole(size_t hole, size_t j, size_t home)
{
    if (hole <= j)
        return home <= hole || home > j;
    return home <= hole && home > j;
}

bool ucred_registry_remove(const void *p)
{
    size_t hole;
    bool found;

    pthread_mutex_lock(&registry_lock);
    hole = find_slot((uintptr_t)p);
    found = slots[hole] != 0;
    if (found) {
        for (size_t j = next_slot(hole); slots[j] != 0; j = next_slot(j)) {
            if (may_fill_hole(hole, j, home_slot(slots[j]))) {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = 0;
        used--;
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}
