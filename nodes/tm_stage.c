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
    bool complete; /* the final chunk came */
    size_t bytes;  /* chunk bytes so far */
    double last;   /* when last added to or asked for */
    tm_plant_t plant;
    bool is_file; /* a file's bytes (FILE_CHUNK), not a plant */
    char name[TM_FILE_NAME_MAX + 1];
    uint8_t *data;
    size_t len, cap;
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
    free(st->up[i]->data);
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

static void s_drop_peer(tm_stage_t *st, const void *peer, size_t len)
{
    long at = s_of(st, peer, len);
    if (at >= 0) {
        s_remove(st, (size_t)at);
    }
}

/* Decode a chunk into upload u, taking it back when it fails. */
static int s_decode(s_upload_t *u, const uint8_t *payload, size_t len,
                    tm_plant_chunk_t *h)
{
    size_t actors = u->plant.n_actors;
    size_t links = u->plant.n_links;
    size_t values = u->plant.n_values;
    int rc = u->is_file
                 ? TM_ERR_NOT_FOUND
                 : tm_plant_chunk_decode(payload, len, NULL, h, &u->plant);
    if (rc == 0 &&
        (h->upload != u->upload || h->index != u->next || u->complete)) {
        u->plant.n_actors = actors; /* not the next chunk of u */
        u->plant.n_links = links;
        u->plant.n_values = values;
        rc = TM_ERR_NOT_FOUND;
    }
    return rc;
}

/* A new upload of peer from its chunk 0 (the bytes are decoded into it
 * once more). */
static int s_first(tm_stage_t *st, const void *peer, size_t peer_len,
                   const uint8_t *payload, size_t len, tm_plant_chunk_t *h,
                   char *why, size_t cap)
{
    int rc = s_start(st, peer, peer_len, h->upload, why, cap);
    if (rc != 0) {
        return rc;
    }
    s_upload_t *u = st->up[st->n - 1];
    snprintf(u->plant.file, sizeof u->plant.file, "%s", h->file);
    return s_decode(u, payload, len, h);
}

int tm_stage_chunk(tm_stage_t *st, const void *peer, size_t peer_len,
                   const uint8_t *payload, size_t len, double now,
                   tm_plant_chunk_t *hdr, char *why, size_t cap)
{
    tm_plant_chunk_t h;
    tm_plant_t probe;
    memset(&h, 0, sizeof h);
    peer_len = peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len;
    long at = s_of(st, peer, peer_len);
    int rc = 0;
    bool fresh = false; /* a chunk 0: a new upload of this peer */
    if (at >= 0) {
        /* the next chunk of this peer's upload: decoded in place */
        rc = s_decode(st->up[at], payload, len, &h);
        fresh = rc == TM_ERR_NOT_FOUND && h.index == 0;
    } else {
        tm_plant_init(&probe, "plant"); /* only for its header */
        rc = tm_plant_chunk_decode(payload, len, NULL, &h, &probe);
        tm_plant_free(&probe);
        fresh = rc == 0 && h.index == 0;
        rc = rc == 0 && !fresh ? TM_ERR_NOT_FOUND : rc;
    }
    if (fresh) {
        rc = s_first(st, peer, peer_len, payload, len, &h, why, cap);
    }
    if (rc == TM_ERR_BUSY || rc == TM_ERR_NOMEM) {
        return rc;
    }
    if (rc != 0) {
        s_drop_peer(st, peer, peer_len);
        if (rc == TM_ERR_NOT_FOUND) {
            snprintf(why, cap,
                     "plant chunk %u of upload %llu does not follow the "
                     "chunks this console sent (start again with chunk 0)",
                     h.index, (unsigned long long)h.upload);
        } else {
            snprintf(why, cap, "plant chunk %u refused: %s", h.index,
                     tm_err_str(rc));
        }
        return rc;
    }
    s_upload_t *u = st->up[s_of(st, peer, peer_len)];
    u->bytes += len;
    if (u->bytes > TM_STAGE_BYTES_MAX) {
        snprintf(why, cap, "plant upload over %u MiB",
                 TM_STAGE_BYTES_MAX / (1024u * 1024u));
        s_drop_peer(st, peer, peer_len);
        return TM_ERR_TOO_BIG;
    }
    u->next++;
    u->complete = h.final;
    u->last = now;
    *hdr = h;
    return 0;
}

const tm_plant_t *tm_stage_get(tm_stage_t *st, const void *peer,
                               size_t peer_len, uint64_t upload, double now,
                               char *why, size_t cap)
{
    long at = s_of(st, peer, peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len);
    if (at < 0 || st->up[at]->upload != upload || st->up[at]->is_file) {
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

int tm_stage_take(tm_stage_t *st, const void *peer, size_t peer_len,
                  uint64_t upload, tm_plant_t *out, char *why, size_t cap)
{
    const tm_plant_t *p = tm_stage_get(st, peer, peer_len, upload, 0, why, cap);
    if (p == NULL) {
        return TM_ERR_NOT_FOUND;
    }
    size_t at =
        (size_t)s_of(st, peer, peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len);
    *out = st->up[at]->plant;
    tm_plant_init(&st->up[at]->plant, "plant"); /* moved: nothing to free */
    s_remove(st, at);
    return 0;
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

/* ---- files (FILE_CHUNK) ------------------------------------------------- */

/* Append chunk c to upload u. */
static int s_append(s_upload_t *u, const tm_file_chunk_t *c, char *why,
                    size_t cap)
{
    if (c->len > TM_STAGE_FILE_MAX - u->len) {
        snprintf(why, cap, "file upload over %u MiB",
                 TM_STAGE_FILE_MAX / (1024u * 1024u));
        return TM_ERR_TOO_BIG;
    }
    if (u->len + c->len > u->cap) {
        size_t ncap = u->cap > 0 ? u->cap : 64u * 1024u;
        while (ncap < u->len + c->len) {
            ncap *= 2;
        }
        uint8_t *d = realloc(u->data, ncap);
        if (d == NULL) {
            snprintf(why, cap, "out of memory");
            return TM_ERR_NOMEM;
        }
        u->data = d;
        u->cap = ncap;
    }
    if (c->len > 0) {
        memcpy(u->data + u->len, c->data, c->len);
    }
    u->len += c->len;
    return 0;
}

int tm_stage_file_chunk(tm_stage_t *st, const void *peer, size_t peer_len,
                        const uint8_t *payload, size_t len, double now,
                        tm_file_chunk_t *hdr, char *why, size_t cap)
{
    tm_file_chunk_t c;
    peer_len = peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len;
    int rc = tm_file_chunk_decode(payload, len, NULL, &c);
    if (rc != 0) {
        s_drop_peer(st, peer, peer_len);
        snprintf(why, cap, "file chunk refused: %s", tm_err_str(rc));
        return rc;
    }
    if (c.index == 0) {
        rc = s_start(st, peer, peer_len, c.upload, why, cap);
        if (rc != 0) {
            return rc;
        }
        s_upload_t *u = st->up[st->n - 1];
        u->is_file = true;
        snprintf(u->name, sizeof u->name, "%s", c.file);
    }
    long at = s_of(st, peer, peer_len);
    s_upload_t *u = at >= 0 ? st->up[at] : NULL;
    if (u == NULL || !u->is_file || u->upload != c.upload ||
        u->next != c.index || u->complete) {
        s_drop_peer(st, peer, peer_len);
        snprintf(why, cap,
                 "file chunk %u of upload %llu does not follow the chunks "
                 "this console sent (start again with chunk 0)",
                 c.index, (unsigned long long)c.upload);
        return TM_ERR_NOT_FOUND;
    }
    rc = s_append(u, &c, why, cap);
    if (rc != 0) {
        s_drop_peer(st, peer, peer_len);
        return rc;
    }
    u->next++;
    u->complete = c.final;
    u->last = now;
    *hdr = c;
    hdr->data = NULL; /* the payload's: not kept */
    return 0;
}

int tm_stage_file(tm_stage_t *st, const void *peer, size_t peer_len,
                  uint64_t upload, const char **name, const uint8_t **data,
                  size_t *len, char *why, size_t cap)
{
    long at = s_of(st, peer, peer_len > S_PEER_MAX ? S_PEER_MAX : peer_len);
    if (at < 0 || st->up[at]->upload != upload || !st->up[at]->is_file) {
        snprintf(why, cap,
                 "no file upload %llu from this console (uploads are kept "
                 "until used, or %.0f s without use)",
                 (unsigned long long)upload, TM_STAGE_IDLE_S);
        return TM_ERR_NOT_FOUND;
    }
    s_upload_t *u = st->up[at];
    if (!u->complete) {
        snprintf(why, cap,
                 "file upload %llu is not complete (chunk %u "
                 "expected)",
                 (unsigned long long)upload, u->next);
        return TM_ERR_NOT_FOUND;
    }
    *name = u->name;
    *data = u->data;
    *len = u->len;
    return 0;
}
