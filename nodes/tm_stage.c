/* tm_stage: plants uploaded by consoles, staged until apply or diff. */
#include "tm_stage.h"

#include "tm_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PEER_MAX 256u

typedef struct {
    uint8_t peer[S_PEER_MAX];
    size_t peer_len;
    uint64_t upload;
    uint32_t next; /* the index the next chunk must have */
    bool complete; /* the final chunk came and the plant checked */
    size_t bytes;  /* chunk bytes so far */
    double last;   /* when last added to or asked for */
    tm_plant_t plant;
} s_upload_t;

struct tm_stage {
    s_upload_t *up[TM_STAGE_MAX];
    size_t n;
};

int tm_stage_open(tm_stage_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out == NULL ? TM_ERR_NOMEM : 0;
}

static void s_remove(tm_stage_t *st, size_t i)
{
    tm_plant_free(&st->up[i]->plant);
    free(st->up[i]);
    st->up[i] = st->up[--st->n];
    st->up[st->n] = NULL;
}

void tm_stage_destroy(tm_stage_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    while ((*p)->n > 0) {
        s_remove(*p, (*p)->n - 1);
    }
    free(*p);
    *p = NULL;
}

static long s_of(const tm_stage_t *st, const void *peer, size_t len)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->up[i]->peer_len == len &&
            memcmp(st->up[i]->peer, peer, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* A fresh upload for peer (its earlier one dropped). */
static int s_start(tm_stage_t *st, const void *peer, size_t len,
                   uint64_t upload, char *why, size_t cap)
{
    long at = s_of(st, peer, len);
    if (at >= 0) {
        s_remove(st, (size_t)at);
    }
    if (st->n >= TM_STAGE_MAX) {
        snprintf(why, cap,
                 "%u plant uploads are staged already; try again in a "
                 "minute",
                 TM_STAGE_MAX);
        return TM_ERR_BUSY;
    }
    s_upload_t *u = calloc(1, sizeof *u);
    if (u == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    memcpy(u->peer, peer, len);
    u->peer_len = len;
    u->upload = upload;
    tm_plant_init(&u->plant, "plant");
    st->up[st->n++] = u;
    return 0;
}

/* Is this chunk the next one of peer's upload? Drops it when not. */
static long s_next(tm_stage_t *st, const void *peer, size_t len,
                   const tm_plant_chunk_t *h, char *why, size_t cap)
{
    long at = s_of(st, peer, len);
    if (at < 0 || st->up[at]->upload != h->upload ||
        st->up[at]->next != h->index || st->up[at]->complete) {
        snprintf(why, cap,
                 "plant chunk %u of upload %llu does not follow the chunks "
                 "this console sent (start again with chunk 0)",
                 h->index, (unsigned long long)h->upload);
        if (at >= 0) {
            s_remove(st, (size_t)at);
        }
        return -1;
    }
    return at;
}

int tm_stage_chunk(tm_stage_t *st, const void *peer, size_t peer_len,
                   const uint8_t *payload, size_t len, double now,
                   tm_plant_chunk_t *hdr, char *why, size_t cap)
{
    tm_plant_t probe;
    tm_plant_chunk_t h;
    if (peer_len > S_PEER_MAX) {
        peer_len = S_PEER_MAX;
    }
    /* the header first (a throwaway decode), to find the upload */
    tm_plant_init(&probe, "plant");
    int rc = tm_plant_chunk_decode(payload, len, NULL, &h, &probe);
    tm_plant_free(&probe);
    if (rc != 0) {
        long at = s_of(st, peer, peer_len);
        if (at >= 0) {
            s_remove(st, (size_t)at);
        }
        snprintf(why, cap, "malformed plant chunk: %s", tm_err_str(rc));
        return rc;
    }
    if (h.index == 0 &&
        (rc = s_start(st, peer, peer_len, h.upload, why, cap)) != 0) {
        return rc;
    }
    long at = s_next(st, peer, peer_len, &h, why, cap);
    if (at < 0) {
        return TM_ERR_NOT_FOUND;
    }
    s_upload_t *u = st->up[at];
    if (u->bytes + len > TM_STAGE_BYTES_MAX) {
        snprintf(why, cap, "plant upload over %u MiB",
                 TM_STAGE_BYTES_MAX / (1024u * 1024u));
        s_remove(st, (size_t)at);
        return TM_ERR_TOO_BIG;
    }
    if (h.index == 0) {
        snprintf(u->plant.file, sizeof u->plant.file, "%s", h.file);
    }
    rc = tm_plant_chunk_decode(payload, len, NULL, &h, &u->plant);
    if (rc == 0 && h.final) {
        rc = tm_plant_check(&u->plant, why, cap);
        u->complete = rc == 0;
    } else if (rc != 0) {
        snprintf(why, cap, "plant chunk %u: %s", h.index, tm_err_str(rc));
    }
    if (rc != 0) {
        s_remove(st, (size_t)at);
        return rc;
    }
    u->next++;
    u->bytes += len;
    u->last = now;
    *hdr = h;
    return 0;
}

const tm_plant_t *tm_stage_get(tm_stage_t *st, const void *peer,
                               size_t peer_len, uint64_t upload, double now,
                               char *why, size_t cap)
{
    long at = s_of(st, peer, peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len);
    if (at < 0 || st->up[at]->upload != upload) {
        snprintf(why, cap,
                 "no plant upload %llu from this console (uploads are kept "
                 "until used, or %.0f s without use)",
                 (unsigned long long)upload, TM_STAGE_IDLE_S);
        return NULL;
    }
    if (!st->up[at]->complete) {
        snprintf(why, cap,
                 "plant upload %llu is not complete (chunk %u "
                 "expected)",
                 (unsigned long long)upload, st->up[at]->next);
        return NULL;
    }
    st->up[at]->last = now;
    return &st->up[at]->plant;
}

void tm_stage_drop(tm_stage_t *st, const void *peer, size_t peer_len)
{
    long at = s_of(st, peer, peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len);
    if (at >= 0) {
        s_remove(st, (size_t)at);
    }
}

void tm_stage_expire(tm_stage_t *st, double now)
{
    for (size_t i = 0; i < st->n;) {
        if (now - st->up[i]->last > TM_STAGE_IDLE_S) {
            s_remove(st, i);
        } else {
            i++;
        }
    }
}

size_t tm_stage_count(const tm_stage_t *st)
{
    return st->n;
}
