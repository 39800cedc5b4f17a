/* tm_index: an open-addressing hash index of uint32 handles.
 *
 * The index stores only handles (e.g. positions in an actor or link table)
 * and their 64-bit hashes; equality is decided by a caller's callback, so
 * one implementation serves every table. Linear probing, tombstones on
 * removal, rebuilt when full of them. Not thread-safe.
 */
#ifndef TM_INDEX_H_INCLUDED
#define TM_INDEX_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_INDEX_NONE UINT32_MAX

typedef struct {
    uint32_t *slots;  /* handle, TM_INDEX_NONE (empty) or tombstone */
    uint64_t *hashes; /* hash of the handle in the same slot */
    size_t cap;       /* power of two, or 0 */
    size_t used;      /* live handles */
    size_t dead;      /* tombstones */
} tm_index_t;

/* Equality of a handle with the key being looked up. */
typedef int (*tm_index_eq_fn)(uint32_t handle, const void *key, void *arg);

void tm_index_init(tm_index_t *ix);
void tm_index_free(tm_index_t *ix);

/* Find the handle equal to key, or TM_INDEX_NONE. */
uint32_t tm_index_find(const tm_index_t *ix, uint64_t hash, const void *key,
                       tm_index_eq_fn eq, void *arg);

/* Insert a handle (the caller checked it is absent). 0 or TM_ERR_NOMEM. */
int tm_index_insert(tm_index_t *ix, uint64_t hash, uint32_t handle);

/* Remove the slot holding exactly this handle; 0 or TM_ERR_NOT_FOUND. */
int tm_index_remove(tm_index_t *ix, uint64_t hash, uint32_t handle);

/* Replace handle `from` by `to` in its slot (same hash); used when a
 * table moves an entry. 0 or TM_ERR_NOT_FOUND. */
int tm_index_rename(tm_index_t *ix, uint64_t hash, uint32_t from, uint32_t to);

/* 64-bit hash of bytes (FNV-1a followed by a 64-bit finaliser). */
uint64_t tm_hash64(const void *data, size_t len);

#endif
