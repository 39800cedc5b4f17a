/* tm_dir: the directory of the actors other nodes own. */
#include "tm_dir.h"

#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s_hash(const char *id)
{
    return tm_hash64(id, strlen(id));
}

static int s_eq(uint32_t h, const void *key, void *arg)
{
    const tm_dir_t *d = arg;
    return strcmp(d->ents[h].id, key) == 0;
}

void tm_dir_init(tm_dir_t *d)
{
    memset(d, 0, sizeof *d);
    tm_index_init(&d->ix);
}

void tm_dir_free(tm_dir_t *d)
{
    free(d->ents);
    tm_index_free(&d->ix);
    memset(d, 0, sizeof *d);
}

static uint32_t s_find(const tm_dir_t *d, const char *id)
{
    return tm_index_find(&d->ix, s_hash(id), id, s_eq, (void *)d);
}

const tm_dir_ent_t *tm_dir_get(const tm_dir_t *d, const char *id)
{
    uint32_t h = s_find(d, id);
    return h == TM_INDEX_NONE ? NULL : &d->ents[h];
}

void tm_dir_conflict(tm_dir_t *d, const char *id, uint32_t owner,
                     uint32_t other)
{
    for (size_t i = 0; i < d->n_conflicts; i++) {
        tm_dir_conflict_t *c = &d->conflicts[i];
        if (strcmp(c->id, id) == 0 && c->owner == owner && c->other == other) {
            return;
        }
    }
    if (d->n_conflicts >= TM_DIR_CONFLICTS_MAX) {
        d->conflicts_dropped++;
        return;
    }
    tm_dir_conflict_t *c = &d->conflicts[d->n_conflicts++];
    snprintf(c->id, sizeof c->id, "%s", id);
    c->owner = owner;
    c->other = other;
}

int tm_dir_put(tm_dir_t *d, const tm_dir_ent_t *e, uint32_t *moved_from)
{
    uint32_t h = s_find(d, e->id);
    if (moved_from != NULL) {
        *moved_from = UINT32_MAX;
    }
    if (h != TM_INDEX_NONE) {
        tm_dir_ent_t *old = &d->ents[h];
        if (old->owner != e->owner && e->epoch < old->epoch) {
            return TM_ERR_STALE;
        }
        if (old->owner != e->owner && e->epoch == old->epoch) {
            tm_dir_conflict(d, e->id, old->owner, e->owner);
            return TM_ERR_EXISTS;
        }
        if (old->owner != e->owner && moved_from != NULL) {
            *moved_from = old->owner;
        }
        *old = *e;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        tm_dir_ent_t *p = realloc(d->ents, cap * sizeof *p);
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        d->ents = p;
        d->cap = cap;
    }
    if (tm_index_insert(&d->ix, s_hash(e->id), (uint32_t)d->n) != 0) {
        return TM_ERR_NOMEM;
    }
    d->ents[d->n++] = *e;
    return 0;
}

/* Remove entry h: the last entry takes its place. */
static void s_remove(tm_dir_t *d, uint32_t h)
{
    uint32_t last = (uint32_t)d->n - 1;
    tm_index_remove(&d->ix, s_hash(d->ents[h].id), h);
    if (h != last) {
        tm_index_rename(&d->ix, s_hash(d->ents[last].id), last, h);
        d->ents[h] = d->ents[last];
    }
    d->n--;
}

void tm_dir_del(tm_dir_t *d, const char *id, uint32_t owner)
{
    uint32_t h = s_find(d, id);
    if (h != TM_INDEX_NONE && d->ents[h].owner == owner) {
        s_remove(d, h);
    }
}

void tm_dir_drop_owner(tm_dir_t *d, uint32_t owner)
{
    for (size_t i = d->n; i > 0; i--) {
        if (d->ents[i - 1].owner == owner) {
            s_remove(d, (uint32_t)(i - 1));
        }
    }
}

size_t tm_dir_count(const tm_dir_t *d, uint32_t owner)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        n += d->ents[i].owner == owner;
    }
    return n;
}
