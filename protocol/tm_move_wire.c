/* tm_move_wire: the package that moves actors (see tm_move_wire.h). */
#include "tm_move_wire.h"

#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1u

/* 1 .. max bytes with no NUL. */
static bool s_text_ok(const char *s, size_t n, size_t max)
{
    return n > 0 && n <= max && memchr(s, '\0', n) == NULL;
}

static bool s_port_ok(const char *s)
{
    return tm_text_word_valid(s, TM_MOVE_PORT_MAX);
}

static bool s_link_ok(const tm_move_link_t *l)
{
    return tm_text_id_valid(l->src) && s_port_ok(l->output) &&
           s_port_ok(l->input) && l->delay >= 1 &&
           l->delay <= TM_MOVE_ROWS_MAX &&
           s_text_ok(l->model, strlen(l->model), TM_MOVE_NAME_MAX) &&
           s_text_ok(l->tier, strlen(l->tier), TM_MOVE_NAME_MAX);
}

static bool s_source_ok(const tm_move_source_t *s)
{
    if (!tm_text_id_valid(s->id) ||
        !s_text_ok(s->model, strlen(s->model), TM_MOVE_NAME_MAX) ||
        !s_text_ok(s->tier, strlen(s->tier), TM_MOVE_NAME_MAX) ||
        s->n_rows > TM_MOVE_ROWS_MAX || s->width > TM_MOVE_WIDTH_MAX ||
        (s->n_rows > 0 && s->width > 0 && s->values == NULL)) {
        return false;
    }
    for (size_t i = 0; i < (size_t)s->n_rows * s->width; i++) {
        if (!isfinite(s->values[i])) {
            return false;
        }
    }
    return true;
}

static bool s_package_ok(const tm_move_t *p)
{
    if (!s_text_ok(p->from, strlen(p->from), TM_MOVE_NAME_MAX) ||
        p->n_actors > TM_MOVE_ACTORS_MAX ||
        p->n_sources > TM_MOVE_SOURCES_MAX ||
        (p->n_actors > 0 && p->actors == NULL) ||
        (p->n_sources > 0 && p->sources == NULL)) {
        return false;
    }
    for (uint32_t i = 0; i < p->n_actors; i++) {
        const tm_move_actor_t *a = &p->actors[i];
        if (!tm_text_id_valid(a->id) || a->record == NULL ||
            a->record_len == 0 || a->record_len > TM_MOVE_RECORD_MAX ||
            a->n_links > TM_MOVE_LINKS_MAX ||
            (a->n_links > 0 && a->links == NULL)) {
            return false;
        }
        for (uint32_t j = 0; j < a->n_links; j++) {
            if (!s_link_ok(&a->links[j])) {
                return false;
            }
        }
    }
    for (uint32_t i = 0; i < p->n_sources; i++) {
        if (!s_source_ok(&p->sources[i])) {
            return false;
        }
    }
    return true;
}

static void s_pack_actor(msgpack_packer *pk, const tm_move_actor_t *a)
{
    msgpack_pack_map(pk, 3);
    tm_wire_pack_kv_str(pk, "id", a->id);
    tm_wire_pack_str(pk, "record");
    msgpack_pack_bin(pk, a->record_len);
    msgpack_pack_bin_body(pk, a->record, a->record_len);
    tm_wire_pack_str(pk, "links");
    msgpack_pack_array(pk, a->n_links);
    for (uint32_t j = 0; j < a->n_links; j++) {
        const tm_move_link_t *l = &a->links[j];
        msgpack_pack_array(pk, 6);
        tm_wire_pack_str(pk, l->src);
        tm_wire_pack_str(pk, l->output);
        tm_wire_pack_str(pk, l->input);
        msgpack_pack_uint32(pk, l->delay);
        tm_wire_pack_str(pk, l->model);
        tm_wire_pack_str(pk, l->tier);
    }
}

static void s_pack_source(msgpack_packer *pk, const tm_move_source_t *s)
{
    msgpack_pack_array(pk, 5);
    tm_wire_pack_str(pk, s->id);
    tm_wire_pack_str(pk, s->model);
    tm_wire_pack_str(pk, s->tier);
    msgpack_pack_uint64(pk, s->first_tick);
    msgpack_pack_array(pk, s->n_rows);
    for (uint32_t r = 0; r < s->n_rows; r++) {
        msgpack_pack_array(pk, s->width);
        for (uint32_t j = 0; j < s->width; j++) {
            msgpack_pack_double(pk, s->values[(size_t)r * s->width + j]);
        }
    }
}

int tm_move_encode(const tm_move_t *p, uint8_t **out, size_t *out_len)
{
    if (p == NULL || out == NULL || out_len == NULL || !s_package_ok(p)) {
        return TM_ERR_INVAL;
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 5);
    tm_wire_pack_kv_u64(&b.pk, "v", S_VERSION);
    tm_wire_pack_kv_str(&b.pk, "from", p->from);
    tm_wire_pack_kv_u64(&b.pk, "tick", p->tick);
    tm_wire_pack_str(&b.pk, "actors");
    msgpack_pack_array(&b.pk, p->n_actors);
    for (uint32_t i = 0; i < p->n_actors; i++) {
        s_pack_actor(&b.pk, &p->actors[i]);
    }
    tm_wire_pack_str(&b.pk, "sources");
    msgpack_pack_array(&b.pk, p->n_sources);
    for (uint32_t i = 0; i < p->n_sources; i++) {
        s_pack_source(&b.pk, &p->sources[i]);
    }
    int rc = tm_wire_buf_finish(&b, out, out_len);
    tm_wire_buf_destroy(&b);
    if (rc == 0 && *out_len > TM_MOVE_BYTES_MAX) {
        free(*out);
        *out = NULL;
        rc = TM_ERR_TOO_BIG;
    }
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

/* A str object of 1 .. max bytes into out (max + 1 bytes). */
static int s_str(const msgpack_object *o, char *out, size_t max)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        return TM_ERR_WIRE_TYPE;
    }
    if (!s_text_ok(o->via.str.ptr, o->via.str.size, max)) {
        return TM_ERR_WIRE_FIELD;
    }
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return 0;
}

static int s_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return TM_ERR_WIRE_TYPE;
    }
    *out = o->via.u64;
    return 0;
}

/* An array object of at most max elements. */
static int s_array(const msgpack_object *o, uint32_t max, uint32_t *n)
{
    if (o == NULL) {
        return TM_ERR_WIRE_FIELD;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return TM_ERR_WIRE_TYPE;
    }
    if (o->via.array.size > max) {
        return TM_ERR_WIRE_FIELD;
    }
    *n = o->via.array.size;
    return 0;
}

static int s_link(const msgpack_object *o, tm_move_link_t *l)
{
    uint32_t n = 0;
    uint64_t delay = 0;
    int rc = s_array(o, 6, &n);
    if (rc == 0 && n != 6) {
        rc = TM_ERR_WIRE_FIELD;
    }
    const msgpack_object *e = rc == 0 ? o->via.array.ptr : NULL;
    rc = rc ? rc : s_str(&e[0], l->src, TM_ID_MAX);
    rc = rc ? rc : s_str(&e[1], l->output, TM_MOVE_PORT_MAX);
    rc = rc ? rc : s_str(&e[2], l->input, TM_MOVE_PORT_MAX);
    rc = rc ? rc : s_u64(&e[3], &delay);
    rc = rc ? rc : s_str(&e[4], l->model, TM_MOVE_NAME_MAX);
    rc = rc ? rc : s_str(&e[5], l->tier, TM_MOVE_NAME_MAX);
    l->delay = delay <= TM_MOVE_ROWS_MAX ? (uint32_t)delay : 0;
    return rc == 0 && !s_link_ok(l) ? TM_ERR_WIRE_FIELD : rc;
}

static int s_actor(const msgpack_object *o, tm_move_actor_t *a)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        return TM_ERR_WIRE_TYPE;
    }
    const msgpack_object *id = tm_wire_map_get(o, "id");
    const msgpack_object *rec = tm_wire_map_get(o, "record");
    const msgpack_object *links = tm_wire_map_get(o, "links");
    if (id == NULL || rec == NULL) {
        return TM_ERR_WIRE_FIELD;
    }
    int rc = s_str(id, a->id, TM_ID_MAX);
    if (rc == 0 && rec->type != MSGPACK_OBJECT_BIN) {
        rc = TM_ERR_WIRE_TYPE;
    }
    if (rc == 0 &&
        (rec->via.bin.size == 0 || rec->via.bin.size > TM_MOVE_RECORD_MAX ||
         !tm_text_id_valid(a->id))) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        a->record = (const uint8_t *)rec->via.bin.ptr;
        a->record_len = rec->via.bin.size;
        rc = s_array(links, TM_MOVE_LINKS_MAX, &a->n_links);
    }
    if (rc == 0 && a->n_links > 0) {
        a->links = calloc(a->n_links, sizeof *a->links);
        rc = a->links == NULL ? TM_ERR_NOMEM : 0;
    }
    for (uint32_t j = 0; rc == 0 && j < a->n_links; j++) {
        rc = s_link(&links->via.array.ptr[j], &a->links[j]);
    }
    return rc;
}

/* The rows of a source: arrays of one width of finite numbers. */
static int s_rows(const msgpack_object *o, tm_move_source_t *s)
{
    int rc = s_array(o, TM_MOVE_ROWS_MAX, &s->n_rows);
    for (uint32_t r = 0; rc == 0 && r < s->n_rows; r++) {
        uint32_t w = 0;
        rc = s_array(&o->via.array.ptr[r], TM_MOVE_WIDTH_MAX, &w);
        if (rc == 0 && r > 0 && w != s->width) {
            rc = TM_ERR_WIRE_FIELD;
        }
        s->width = w;
    }
    if (rc == 0 && s->n_rows > 0) {
        s->values = calloc((size_t)s->n_rows * s->width + 1, sizeof(double));
        rc = s->values == NULL ? TM_ERR_NOMEM : 0;
    }
    for (uint32_t r = 0; rc == 0 && r < s->n_rows; r++) {
        const msgpack_object *row = &o->via.array.ptr[r];
        for (uint32_t j = 0; rc == 0 && j < s->width; j++) {
            const msgpack_object *x = &row->via.array.ptr[j];
            if (x->type != MSGPACK_OBJECT_FLOAT64 &&
                x->type != MSGPACK_OBJECT_FLOAT32) {
                rc = TM_ERR_WIRE_TYPE;
            } else if (!isfinite(x->via.f64)) {
                rc = TM_ERR_WIRE_FIELD;
            } else {
                s->values[(size_t)r * s->width + j] = x->via.f64;
            }
        }
    }
    return rc;
}

static int s_source(const msgpack_object *o, tm_move_source_t *s)
{
    uint32_t n = 0;
    int rc = s_array(o, 5, &n);
    if (rc == 0 && n != 5) {
        rc = TM_ERR_WIRE_FIELD;
    }
    const msgpack_object *e = rc == 0 ? o->via.array.ptr : NULL;
    rc = rc ? rc : s_str(&e[0], s->id, TM_ID_MAX);
    rc = rc ? rc : s_str(&e[1], s->model, TM_MOVE_NAME_MAX);
    rc = rc ? rc : s_str(&e[2], s->tier, TM_MOVE_NAME_MAX);
    rc = rc ? rc : s_u64(&e[3], &s->first_tick);
    rc = rc ? rc : s_rows(&e[4], s);
    return rc == 0 && !tm_text_id_valid(s->id) ? TM_ERR_WIRE_FIELD : rc;
}

static int s_head(const msgpack_object *obj, tm_move_t *p)
{
    uint64_t v = 0;
    const char *from = NULL;
    size_t n = 0;
    if (obj->type != MSGPACK_OBJECT_MAP) {
        return TM_ERR_WIRE_TYPE;
    }
    int rc = tm_wire_get_u64(obj, "v", &v);
    if (rc == 0 && v != S_VERSION) {
        rc = TM_ERR_WIRE_VERSION;
    }
    rc = rc ? rc : tm_wire_get_u64(obj, "tick", &p->tick);
    rc = rc ? rc : tm_wire_get_str(obj, "from", &from, &n);
    if (rc == 0 && !s_text_ok(from, n, TM_MOVE_NAME_MAX)) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        memcpy(p->from, from, n);
        p->from[n] = '\0';
    }
    return rc;
}

static int s_body(const msgpack_object *obj, tm_move_t *p)
{
    const msgpack_object *actors = tm_wire_map_get(obj, "actors");
    const msgpack_object *sources = tm_wire_map_get(obj, "sources");
    int rc = s_array(actors, TM_MOVE_ACTORS_MAX, &p->n_actors);
    rc = rc ? rc : s_array(sources, TM_MOVE_SOURCES_MAX, &p->n_sources);
    if (rc == 0) {
        p->actors = calloc(p->n_actors + 1, sizeof *p->actors);
        p->sources = calloc(p->n_sources + 1, sizeof *p->sources);
        rc = p->actors == NULL || p->sources == NULL ? TM_ERR_NOMEM : 0;
    }
    for (uint32_t i = 0; rc == 0 && i < p->n_actors; i++) {
        rc = s_actor(&actors->via.array.ptr[i], &p->actors[i]);
    }
    for (uint32_t i = 0; rc == 0 && i < p->n_sources; i++) {
        rc = s_source(&sources->via.array.ptr[i], &p->sources[i]);
    }
    return rc;
}

int tm_move_decode(const uint8_t *buf, size_t len, tm_move_t *out)
{
    if (out == NULL) {
        return TM_ERR_INVAL;
    }
    memset(out, 0, sizeof *out);
    if (len > TM_MOVE_BYTES_MAX) {
        return TM_ERR_WIRE_TOO_LARGE; /* before copying it */
    }
    const tm_wire_limits_t limits = {.max_size = TM_MOVE_BYTES_MAX,
                                     .max_depth = 8};
    msgpack_zone zone;
    msgpack_object obj;
    if (!msgpack_zone_init(&zone, 4096)) {
        return TM_ERR_NOMEM;
    }
    /* records borrow from a copy the package owns */
    out->owned = malloc(len + 1);
    int rc = out->owned == NULL ? TM_ERR_NOMEM : 0;
    if (rc == 0 && len > 0) {
        memcpy(out->owned, buf, len);
    }
    rc = rc ? rc : tm_wire_unpack(out->owned, len, &limits, &zone, &obj);
    rc = rc ? rc : s_head(&obj, out);
    rc = rc ? rc : s_body(&obj, out);
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        tm_move_free(out);
    }
    return rc;
}

void tm_move_free(tm_move_t *p)
{
    if (p == NULL) {
        return;
    }
    for (uint32_t i = 0; p->actors != NULL && i < p->n_actors; i++) {
        free(p->actors[i].links);
    }
    for (uint32_t i = 0; p->sources != NULL && i < p->n_sources; i++) {
        free(p->sources[i].values);
    }
    free(p->actors);
    free(p->sources);
    free(p->owned);
    memset(p, 0, sizeof *p);
}
