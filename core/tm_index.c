/* tm_index: open-addressing hash index with linear probing. */
#include "tm_index.h"

#include "tm_err.h"

#include <stdlib.h>

#define S_TOMB (UINT32_MAX - 1u)

void tm_index_init(tm_index_t *ix)
{
    ix->slots = NULL;
    ix->hashes = NULL;
    ix->cap = 0;
    ix->used = 0;
    ix->dead = 0;
}

void tm_index_free(tm_index_t *ix)
{
    free(ix->slots);
    free(ix->hashes);
    tm_index_init(ix);
}

uint64_t tm_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint32_t tm_index_find(const tm_index_t *ix, uint64_t hash, const void *key,
                       tm_index_eq_fn eq, void *arg)
{
    if (ix->cap == 0) {
        return TM_INDEX_NONE;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        uint32_t h = ix->slots[i];
        if (h == TM_INDEX_NONE) {
            return TM_INDEX_NONE;
        }
        if (h != S_TOMB && ix->hashes[i] == hash && eq(h, key, arg)) {
            return h;
        }
    }
}

static void s_place(uint32_t *slots, uint64_t *hashes, size_t cap,
                    uint64_t hash, uint32_t handle)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash & mask;
    while (slots[i] != TM_INDEX_NONE && slots[i] != S_TOMB) {
        i = (i + 1) & mask;
    }
    slots[i] = handle;
    hashes[i] = hash;
}

static int s_resize(tm_index_t *ix, size_t cap)
{
    uint32_t *slots = malloc(cap * sizeof *slots);
    uint64_t *hashes = malloc(cap * sizeof *hashes);
    if (slots == NULL || hashes == NULL) {
        free(slots);
        free(hashes);
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < cap; i++) {
        slots[i] = TM_INDEX_NONE;
    }
    for (size_t i = 0; i < ix->cap; i++) {
        if (ix->slots[i] != TM_INDEX_NONE && ix->slots[i] != S_TOMB) {
            s_place(slots, hashes, cap, ix->hashes[i], ix->slots[i]);
        }
    }
    free(ix->slots);
    free(ix->hashes);
    ix->slots = slots;
    ix->hashes = hashes;
    ix->cap = cap;
    ix->dead = 0;
    return 0;
}

int tm_index_insert(tm_index_t *ix, uint64_t hash, uint32_t handle)
{
    /* Keep the load (live + tombstones) under 1/2 for short probes. */
    if ((ix->used + ix->dead + 1) * 2 > ix->cap) {
        size_t cap = ix->cap ? ix->cap : 16;
        while ((ix->used + 1) * 2 > cap) {
            cap *= 2;
        }
        if ((ix->used + 1) * 4 > cap) {
            cap *= 2;
        }
        int rc = s_resize(ix, cap);
        if (rc != 0) {
            return rc;
        }
    }
    size_t mask = ix->cap - 1;
    size_t i = (size_t)hash & mask;
    while (ix->slots[i] != TM_INDEX_NONE && ix->slots[i] != S_TOMB) {
        i = (i + 1) & mask;
    }
    if (ix->slots[i] == S_TOMB) {
        ix->dead--;
    }
    ix->slots[i] = handle;
    ix->hashes[i] = hash;
    ix->used++;
    return 0;
}

static size_t s_slot_of(const tm_index_t *ix, uint64_t hash, uint32_t handle)
{
    if (ix->cap == 0) {
        return SIZE_MAX;
    }
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        if (ix->slots[i] == TM_INDEX_NONE) {
            return SIZE_MAX;
        }
        if (ix->slots[i] == handle) {
            return i;
        }
    }
}

int tm_index_remove(tm_index_t *ix, uint64_t hash, uint32_t handle)
{
    size_t i = s_slot_of(ix, hash, handle);
    if (i == SIZE_MAX) {
        return TM_ERR_NOT_FOUND;
    }
    ix->slots[i] = S_TOMB;
    ix->used--;
    ix->dead++;
    return 0;
}

int tm_index_rename(tm_index_t *ix, uint64_t hash, uint32_t from, uint32_t to)
{
    size_t i = s_slot_of(ix, hash, from);
    if (i == SIZE_MAX) {
        return TM_ERR_NOT_FOUND;
    }
    ix->slots[i] = to;
    return 0;
}
