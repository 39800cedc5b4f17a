/* tm_plant_wire: plants in MessagePack chunks (PLANT_CHUNK payloads, and
 * the parts of an export). Layout in tm_plant.h and docs/protocol.md.
 *
 * The decoder checks the whole payload with tm_wire_check() first (size,
 * depth, every count within the bytes left), then walks it with the
 * bounded reader, checking every field's type, every string (ids, names,
 * fidelity) and every number (finite values, positions within 32 bits);
 * it appends to the plant only what it has checked and takes everything
 * back when a later field fails.
 */
#include "tm_plant.h"

#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_ACTOR_FIELDS 13u /* 12: without the index */
#define S_LINK_FIELDS  7u  /* 6: without the index */
#define S_VALUE_FIELDS 4u

/* ---- encoding ----------------------------------------------------------- */

static void s_pack_opt(msgpack_packer *pk, const char *s)
{
    if (s == NULL) {
        msgpack_pack_nil(pk);
    } else {
        tm_wire_pack_str(pk, s);
    }
}

static void s_pack_pos(msgpack_packer *pk, const tm_plant_pos_t *pos, int n)
{
    msgpack_pack_array(pk, (size_t)n * 2);
    for (int i = 0; i < n; i++) {
        msgpack_pack_uint32(pk, pos[i].line);
        msgpack_pack_uint32(pk, pos[i].col);
    }
}

static void s_pack_actor(msgpack_packer *pk, const tm_plant_t *p,
                         const tm_plant_actor_t *a)
{
    msgpack_pack_array(pk, S_ACTOR_FIELDS);
    tm_wire_pack_str(pk, a->id);
    tm_wire_pack_str(pk, a->model);
    s_pack_opt(pk, a->version);
    s_pack_opt(pk, a->fidelity >= 0
                       ? tm_fidelity_name((tm_fidelity_t)a->fidelity)
                       : NULL);
    msgpack_pack_uint32(pk, a->period);
    s_pack_opt(pk, a->node);
    s_pack_opt(pk, a->site);
    for (int s = 0; s < TM_PLANT_NSETS; s++) {
        uint32_t n = 0;
        const tm_plant_value_t *v = tm_plant_values(p, a, s, &n);
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_array(pk, S_VALUE_FIELDS);
            tm_wire_pack_str(pk, v[i].name);
            msgpack_pack_double(pk, v[i].value);
            msgpack_pack_uint32(pk, v[i].pos.line);
            msgpack_pack_uint32(pk, v[i].pos.col);
        }
    }
    s_pack_pos(pk, a->pos, TM_PLANT_F_COUNT);
    msgpack_pack_uint32(pk, a->index);
}

static void s_pack_link(msgpack_packer *pk, const tm_plant_link_t *l)
{
    msgpack_pack_array(pk, S_LINK_FIELDS);
    tm_wire_pack_str(pk, l->src);
    tm_wire_pack_str(pk, l->output);
    tm_wire_pack_str(pk, l->dst);
    tm_wire_pack_str(pk, l->input);
    msgpack_pack_uint32(pk, l->delay);
    s_pack_pos(pk, l->pos, TM_PLANT_L_COUNT);
    msgpack_pack_uint32(pk, l->index);
}

static size_t s_len(const char *s)
{
    return s != NULL ? strlen(s) + 5 : 1;
}

/* Upper bounds of the encoded sizes. */
static size_t s_actor_size(const tm_plant_t *p, const tm_plant_actor_t *a)
{
    size_t n = 16 + s_len(a->id) + s_len(a->model) + s_len(a->version) +
               s_len(a->node) + s_len(a->site) + 21 + 5 * 2 * TM_PLANT_F_COUNT;
    for (int s = 0; s < TM_PLANT_NSETS; s++) {
        uint32_t k = 0;
        const tm_plant_value_t *v = tm_plant_values(p, a, s, &k);
        for (uint32_t i = 0; i < k; i++) {
            n += 1 + s_len(v[i].name) + 9 + 10;
        }
    }
    return n;
}

static size_t s_link_size(const tm_plant_link_t *l)
{
    return 8 + s_len(l->src) + s_len(l->output) + s_len(l->dst) +
           s_len(l->input) + 10 + 5 * 2 * TM_PLANT_L_COUNT;
}

int tm_plant_chunk_encode(const tm_plant_t *p, tm_plant_chunk_t *hdr,
                          size_t *next_actor, size_t *next_link,
                          size_t max_bytes, uint8_t **out, size_t *out_len)
{
    size_t budget = max_bytes > 512 ? max_bytes - 512 : 0; /* header */
    size_t na = 0;
    size_t nl = 0;
    size_t used = 0;
    size_t i = *next_actor;
    for (; i < p->n_actors; i++, na++) {
        size_t k = s_actor_size(p, &p->actors[i]);
        if (used + k > budget) {
            break;
        }
        used += k;
    }
    size_t j = *next_link;
    for (; i == p->n_actors && j < p->n_links; j++, nl++) {
        size_t k = s_link_size(&p->links[j]);
        if (used + k > budget) {
            break;
        }
        used += k;
    }
    bool left = i < p->n_actors || j < p->n_links;
    if (left && na == 0 && nl == 0) {
        return TM_ERR_TOO_BIG;
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 6);
    tm_wire_pack_kv_u64(&b.pk, "upload", hdr->upload);
    tm_wire_pack_kv_u64(&b.pk, "index", hdr->index);
    tm_wire_pack_kv_bool(&b.pk, "final", !left);
    tm_wire_pack_kv_str(&b.pk, "file", p->file);
    tm_wire_pack_str(&b.pk, "actors");
    msgpack_pack_array(&b.pk, na);
    for (size_t k = 0; k < na; k++) {
        s_pack_actor(&b.pk, p, &p->actors[*next_actor + k]);
    }
    tm_wire_pack_str(&b.pk, "links");
    msgpack_pack_array(&b.pk, nl);
    for (size_t k = 0; k < nl; k++) {
        s_pack_link(&b.pk, &p->links[*next_link + k]);
    }
    int rc = tm_wire_buf_finish(&b, out, out_len);
    tm_wire_buf_destroy(&b);
    if (rc == 0) {
        hdr->final = !left;
        hdr->actors = (uint32_t)na;
        hdr->links = (uint32_t)nl;
        snprintf(hdr->file, sizeof hdr->file, "%s", p->file);
        *next_actor = i;
        *next_link = j;
    }
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

/* A str of at most max bytes without NUL, copied into buf (NUL-ended). */
static int s_read_name(tm_wire_reader_t *r, char *buf, size_t max)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = tm_wire_read_str(r, &s, &len);
    if (rc == 0 && (len > max || (len > 0 && memchr(s, '\0', len) != NULL))) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    }
    return rc;
}

static bool s_port_ok(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return n > 0 && n < TM_MODEL_NAME_MAX;
}

typedef enum { S_ID, S_WORD, S_PORT, S_VERSION, S_NAME } s_kind_t;

/* A checked string of a kind, copied into the plant; nil gives NULL where
 * nil_ok. */
static int s_read_str(tm_wire_reader_t *r, tm_plant_t *p, s_kind_t kind,
                      bool nil_ok, const char **out)
{
    char buf[TM_PLANT_FILE_MAX + 1];
    *out = NULL;
    if (nil_ok && tm_wire_read_nil(r) == 0) {
        return 0;
    }
    int rc = s_read_name(r, buf, 128);
    if (rc != 0) {
        return rc;
    }
    bool ok = false;
    switch (kind) {
    case S_ID:
        ok = tm_text_id_valid(buf);
        break;
    case S_WORD:
        ok = tm_text_word_valid(buf, TM_MODEL_NAME_MAX - 1);
        break;
    case S_PORT:
        ok = s_port_ok(buf);
        break;
    case S_VERSION:
        ok = strlen(buf) <= TM_PLANT_VERSION_MAX && tm_semver_valid(buf) == 0;
        break;
    case S_NAME:
        ok = tm_text_name_valid(buf);
        break;
    }
    if (!ok) {
        return TM_ERR_WIRE_FIELD;
    }
    *out = tm_plant_strdup(p, buf, strlen(buf));
    return *out == NULL ? TM_ERR_NOMEM : 0;
}

static int s_read_u32(tm_wire_reader_t *r, uint32_t lo, uint32_t hi,
                      uint32_t *out)
{
    uint64_t v = 0;
    int rc = tm_wire_read_u64(r, &v);
    if (rc == 0 && (v < lo || v > hi)) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        *out = (uint32_t)v;
    }
    return rc;
}

static int s_read_fixed(tm_wire_reader_t *r, uint32_t want)
{
    uint32_t n = 0;
    int rc = tm_wire_read_array(r, &n);
    return rc == 0 && n != want ? TM_ERR_WIRE_FIELD : rc;
}

static int s_read_pos(tm_wire_reader_t *r, tm_plant_pos_t *pos, int n)
{
    int rc = s_read_fixed(r, (uint32_t)n * 2);
    for (int i = 0; rc == 0 && i < n; i++) {
        rc = s_read_u32(r, 0, UINT32_MAX, &pos[i].line);
        if (rc == 0) {
            rc = s_read_u32(r, 0, UINT32_MAX, &pos[i].col);
        }
    }
    return rc;
}

static int s_read_fidelity(tm_wire_reader_t *r, int *out)
{
    char buf[16];
    *out = -1;
    if (tm_wire_read_nil(r) == 0) {
        return 0;
    }
    int rc = s_read_name(r, buf, sizeof buf - 1);
    for (int f = 0; rc == 0 && f < TM_FIDELITY_COUNT; f++) {
        if (strcmp(buf, tm_fidelity_name((tm_fidelity_t)f)) == 0) {
            *out = f;
        }
    }
    return rc == 0 && *out < 0 ? TM_ERR_WIRE_FIELD : rc;
}

/* One value set of the last actor: [[name, f64, line, col], ...]. */
static int s_read_set(tm_wire_reader_t *r, tm_plant_t *p, tm_plant_set_t set)
{
    uint32_t n = 0;
    int rc = tm_wire_read_array(r, &n);
    if (rc == 0 && n > TM_MODEL_MAX_VARS) {
        rc = TM_ERR_WIRE_FIELD;
    }
    const tm_plant_actor_t *a = &p->actors[p->n_actors - 1];
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const char *name = NULL;
        double v = 0;
        tm_plant_pos_t pos = {0, 0};
        rc = s_read_fixed(r, S_VALUE_FIELDS);
        if (rc == 0) {
            rc = s_read_str(r, p, S_PORT, false, &name);
        }
        if (rc == 0) {
            rc = tm_wire_read_f64(r, &v);
        }
        if (rc == 0 && !isfinite(v)) {
            rc = TM_ERR_WIRE_FIELD;
        }
        if (rc == 0) {
            rc = s_read_u32(r, 0, UINT32_MAX, &pos.line);
        }
        if (rc == 0) {
            rc = s_read_u32(r, 0, UINT32_MAX, &pos.col);
        }
        uint32_t k = 0;
        const tm_plant_value_t *done = tm_plant_values(p, a, set, &k);
        for (uint32_t j = 0; rc == 0 && j < k; j++) {
            rc = strcmp(done[j].name, name) == 0 ? TM_ERR_WIRE_FIELD : 0;
        }
        if (rc == 0) {
            rc = tm_plant_add_value(p, set, name, v, pos);
        }
    }
    return rc;
}

/* An item's array: n elements (want, or want - 1 without the index). */
static int s_read_item(tm_wire_reader_t *r, uint32_t want, bool *indexed)
{
    uint32_t n = 0;
    int rc = tm_wire_read_array(r, &n);
    if (rc == 0 && n != want && n != want - 1) {
        rc = TM_ERR_WIRE_FIELD;
    }
    *indexed = n == want;
    return rc;
}

static int s_read_actor(tm_wire_reader_t *r, tm_plant_t *p)
{
    tm_plant_actor_t a;
    bool indexed = false;
    memset(&a, 0, sizeof a);
    a.index = (uint32_t)p->n_actors;
    int rc = s_read_item(r, S_ACTOR_FIELDS, &indexed);
    if (rc == 0) {
        rc = s_read_str(r, p, S_ID, false, &a.id);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_WORD, false, &a.model);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_VERSION, true, &a.version);
    }
    if (rc == 0) {
        rc = s_read_fidelity(r, &a.fidelity);
    }
    if (rc == 0) {
        rc = s_read_u32(r, 0, UINT32_MAX, &a.period);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_NAME, true, &a.node);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_NAME, true, &a.site);
    }
    if (rc == 0) {
        rc = tm_plant_add_actor(p, &a);
    }
    for (int s = 0; rc == 0 && s < TM_PLANT_NSETS; s++) {
        rc = s_read_set(r, p, (tm_plant_set_t)s);
    }
    if (rc == 0) {
        rc = s_read_pos(r, p->actors[p->n_actors - 1].pos, TM_PLANT_F_COUNT);
    }
    if (rc == 0 && indexed) {
        rc = s_read_u32(r, 0, TM_PLANT_ACTORS_MAX - 1,
                        &p->actors[p->n_actors - 1].index);
    }
    return rc;
}

static int s_read_link(tm_wire_reader_t *r, tm_plant_t *p)
{
    tm_plant_link_t l;
    bool indexed = false;
    memset(&l, 0, sizeof l);
    l.index = (uint32_t)p->n_links;
    int rc = s_read_item(r, S_LINK_FIELDS, &indexed);
    if (rc == 0) {
        rc = s_read_str(r, p, S_ID, false, &l.src);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_PORT, false, &l.output);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_ID, false, &l.dst);
    }
    if (rc == 0) {
        rc = s_read_str(r, p, S_PORT, false, &l.input);
    }
    if (rc == 0) {
        rc = s_read_u32(r, 1, TM_PLANT_DELAY_MAX, &l.delay);
    }
    if (rc == 0) {
        rc = s_read_pos(r, l.pos, TM_PLANT_L_COUNT);
    }
    if (rc == 0 && indexed) {
        rc = s_read_u32(r, 0, TM_PLANT_LINKS_MAX - 1, &l.index);
    }
    if (rc == 0) {
        rc = tm_plant_add_link(p, &l);
    }
    return rc;
}

/* actors or links: an array of items. */
static int s_read_items(tm_wire_reader_t *r, tm_plant_t *p, bool actors,
                        uint32_t *count)
{
    int rc = tm_wire_read_array(r, count);
    size_t have = actors ? p->n_actors : p->n_links;
    size_t max = actors ? TM_PLANT_ACTORS_MAX : TM_PLANT_LINKS_MAX;
    if (rc == 0 && *count > max - have) {
        rc = TM_ERR_TOO_BIG;
    }
    for (uint32_t i = 0; rc == 0 && i < *count; i++) {
        rc = actors ? s_read_actor(r, p) : s_read_link(r, p);
    }
    return rc;
}

enum { S_K_UPLOAD, S_K_INDEX, S_K_FINAL, S_K_FILE, S_K_ACTORS, S_K_LINKS };

static int s_read_key(tm_wire_reader_t *r, unsigned *seen, int *idx)
{
    static const char *const keys[] = {"upload", "index",  "final",
                                       "file",   "actors", "links"};
    const char *k = NULL;
    size_t len = 0;
    int rc = tm_wire_read_str(r, &k, &len);
    *idx = -1;
    for (int i = 0; rc == 0 && i < 6; i++) {
        if (strlen(keys[i]) == len && memcmp(keys[i], k, len) == 0) {
            if (*seen & (1u << i)) {
                return TM_ERR_WIRE_FIELD;
            }
            *seen |= 1u << i;
            *idx = i;
        }
    }
    return rc;
}

static int s_read_field(tm_wire_reader_t *r, int idx, tm_plant_chunk_t *h,
                        tm_plant_t *p)
{
    uint64_t v = 0;
    int b = 0;
    int rc = 0;
    switch (idx) {
    case S_K_UPLOAD:
        rc = tm_wire_read_u64(r, &h->upload);
        break;
    case S_K_INDEX:
        rc = tm_wire_read_u64(r, &v);
        rc = rc == 0 && v > UINT32_MAX ? TM_ERR_WIRE_FIELD : rc;
        h->index = (uint32_t)v;
        break;
    case S_K_FINAL:
        rc = tm_wire_read_bool(r, &b);
        h->final = b != 0;
        break;
    case S_K_FILE:
        rc = s_read_name(r, h->file, TM_PLANT_FILE_MAX);
        break;
    case S_K_ACTORS:
        rc = s_read_items(r, p, true, &h->actors);
        break;
    case S_K_LINKS:
        rc = s_read_items(r, p, false, &h->links);
        break;
    default:
        rc = tm_wire_read_skip(r, NULL, NULL);
        break;
    }
    return rc;
}

int tm_plant_chunk_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits, tm_plant_chunk_t *hdr,
                          tm_plant_t *into)
{
    tm_plant_chunk_t h;
    tm_wire_reader_t r;
    uint32_t n = 0;
    unsigned seen = 0;
    if (hdr == NULL || into == NULL) {
        return TM_ERR_INVAL;
    }
    size_t actors = into->n_actors;
    size_t links = into->n_links;
    size_t values = into->n_values;
    memset(&h, 0, sizeof h);
    int rc = tm_wire_check(payload, len, limits);
    if (rc == 0) {
        tm_wire_reader_init(&r, payload, len);
        rc = tm_wire_read_map(&r, &n);
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        int idx = -1;
        rc = s_read_key(&r, &seen, &idx);
        if (rc == 0) {
            rc = s_read_field(&r, idx, &h, into);
        }
    }
    if (rc == 0 && seen != (1u << 6) - 1) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc != 0) {
        into->n_actors = actors; /* take back what was appended */
        into->n_links = links;
        into->n_values = values;
        return rc;
    }
    *hdr = h;
    return 0;
}
