/* tm_repl_wire: parts of the standby stream (see tm_repl_wire.h). */
#include "tm_repl_wire.h"

#include "tm_err.h"

#include <stdlib.h>
#include <string.h>

#define S_VERSION 1u

static bool s_name_ok(const char *s, size_t n)
{
    return n > 0 && n <= TM_REPL_NAME_MAX && memchr(s, '\0', n) == NULL;
}

static bool s_op_ok(const tm_repl_op_t *op)
{
    if (op->db > TM_REPL_AUDIT || op->kind > TM_REPL_CLEAR) {
        return false;
    }
    if (op->kind == TM_REPL_CLEAR) {
        return op->klen == 0 && op->vlen == 0;
    }
    if (op->klen == 0 || op->klen > TM_REPL_KEY_MAX || op->key == NULL) {
        return false;
    }
    if (op->db == TM_REPL_AUDIT) {
        /* an audit record's number: 8 bytes, not 0 nor the last */
        bool zero = true, ones = true;
        for (size_t i = 0; i < op->klen; i++) {
            zero = zero && op->key[i] == 0;
            ones = ones && op->key[i] == 0xff;
        }
        if (op->klen != 8 || zero || ones) {
            return false;
        }
    }
    if (op->kind == TM_REPL_DEL) {
        return op->vlen == 0;
    }
    return op->vlen <= TM_REPL_VALUE_MAX && (op->vlen == 0 || op->val != NULL);
}

static bool s_head_ok(const tm_repl_t *r)
{
    return s_name_ok(r->from, strlen(r->from)) && r->seq > 0 && r->parts > 0 &&
           r->parts <= TM_REPL_PARTS_MAX && r->part < r->parts &&
           r->n_ops <= TM_REPL_OPS_MAX && (r->n_ops == 0 || r->ops != NULL);
}

size_t tm_repl_op_size(const tm_repl_op_t *op)
{
    return 16 + op->klen + op->vlen; /* array, codes, bin headers */
}

int tm_repl_encode(const tm_repl_t *r, uint8_t **out, size_t *out_len)
{
    if (r == NULL || out == NULL || out_len == NULL || !s_head_ok(r)) {
        return TM_ERR_INVAL;
    }
    for (uint32_t i = 0; i < r->n_ops; i++) {
        if (!s_op_ok(&r->ops[i])) {
            return TM_ERR_INVAL;
        }
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 9);
    tm_wire_pack_kv_u64(&b.pk, "v", S_VERSION);
    tm_wire_pack_kv_str(&b.pk, "from", r->from);
    tm_wire_pack_kv_u64(&b.pk, "inc", r->inc);
    tm_wire_pack_kv_u64(&b.pk, "seq", r->seq);
    tm_wire_pack_kv_u64(&b.pk, "part", r->part);
    tm_wire_pack_kv_u64(&b.pk, "parts", r->parts);
    tm_wire_pack_kv_bool(&b.pk, "full", r->full);
    tm_wire_pack_kv_bool(&b.pk, "mutation", r->mutation);
    tm_wire_pack_str(&b.pk, "ops");
    msgpack_pack_array(&b.pk, r->n_ops);
    for (uint32_t i = 0; i < r->n_ops; i++) {
        const tm_repl_op_t *op = &r->ops[i];
        msgpack_pack_array(&b.pk, 4);
        msgpack_pack_uint8(&b.pk, op->db);
        msgpack_pack_uint8(&b.pk, op->kind);
        if (op->kind == TM_REPL_CLEAR) {
            msgpack_pack_nil(&b.pk);
        } else {
            msgpack_pack_bin(&b.pk, op->klen);
            msgpack_pack_bin_body(&b.pk, op->key, op->klen);
        }
        if (op->kind == TM_REPL_PUT) {
            msgpack_pack_bin(&b.pk, op->vlen);
            msgpack_pack_bin_body(&b.pk, op->val, op->vlen);
        } else {
            msgpack_pack_nil(&b.pk);
        }
    }
    int rc = tm_wire_buf_finish(&b, out, out_len);
    tm_wire_buf_destroy(&b);
    if (rc == 0 && *out_len > TM_REPL_BYTES_MAX) {
        free(*out);
        *out = NULL;
        rc = TM_ERR_TOO_BIG;
    }
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

static int s_small(const msgpack_object *o, uint8_t max, uint8_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return TM_ERR_WIRE_TYPE;
    }
    if (o->via.u64 > max) {
        return TM_ERR_WIRE_FIELD;
    }
    *out = (uint8_t)o->via.u64;
    return 0;
}

/* A bin (or nil: *p NULL, *n 0). */
static int s_bin(const msgpack_object *o, const uint8_t **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_BIN) {
        return TM_ERR_WIRE_TYPE;
    }
    *p = (const uint8_t *)o->via.bin.ptr;
    *n = o->via.bin.size;
    return 0;
}

static int s_op(const msgpack_object *o, tm_repl_op_t *op)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        return TM_ERR_WIRE_TYPE;
    }
    if (o->via.array.size != 4) {
        return TM_ERR_WIRE_FIELD;
    }
    const msgpack_object *e = o->via.array.ptr;
    int rc = s_small(&e[0], TM_REPL_AUDIT, &op->db);
    rc = rc ? rc : s_small(&e[1], TM_REPL_CLEAR, &op->kind);
    rc = rc ? rc : s_bin(&e[2], &op->key, &op->klen);
    rc = rc ? rc : s_bin(&e[3], &op->val, &op->vlen);
    if (rc == 0 && op->kind == TM_REPL_PUT && e[3].type != MSGPACK_OBJECT_BIN) {
        rc = TM_ERR_WIRE_FIELD; /* a put has a value, maybe empty */
    }
    if (rc == 0 && (!s_op_ok(op) || (op->kind != TM_REPL_PUT &&
                                     e[3].type != MSGPACK_OBJECT_NIL))) {
        rc = TM_ERR_WIRE_FIELD;
    }
    return rc;
}

static int s_u32(const msgpack_object *obj, const char *key, uint32_t max,
                 uint32_t *out)
{
    uint64_t v = 0;
    int rc = tm_wire_get_u64(obj, key, &v);
    if (rc == 0 && v > max) {
        rc = TM_ERR_WIRE_FIELD;
    }
    *out = (uint32_t)(rc == 0 ? v : 0);
    return rc;
}

static int s_head(const msgpack_object *obj, tm_repl_t *r)
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
    rc = rc ? rc : tm_wire_get_str(obj, "from", &from, &n);
    if (rc == 0 && !s_name_ok(from, n)) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        memcpy(r->from, from, n);
        r->from[n] = '\0';
    }
    rc = rc ? rc : tm_wire_get_u64(obj, "inc", &r->inc);
    rc = rc ? rc : tm_wire_get_u64(obj, "seq", &r->seq);
    rc = rc ? rc : s_u32(obj, "part", TM_REPL_PARTS_MAX, &r->part);
    rc = rc ? rc : s_u32(obj, "parts", TM_REPL_PARTS_MAX, &r->parts);
    int full = 0, mutation = 0;
    rc = rc ? rc : tm_wire_get_bool(obj, "full", &full);
    rc = rc ? rc : tm_wire_get_bool(obj, "mutation", &mutation);
    r->full = full != 0;
    r->mutation = mutation != 0;
    return rc;
}

int tm_repl_decode(const uint8_t *buf, size_t len, tm_repl_t *out)
{
    if (out == NULL || (buf == NULL && len > 0)) {
        return TM_ERR_INVAL;
    }
    memset(out, 0, sizeof *out);
    if (len > TM_REPL_BYTES_MAX) {
        return TM_ERR_WIRE_TOO_LARGE; /* before copying it */
    }
    const tm_wire_limits_t limits = {.max_size = TM_REPL_BYTES_MAX,
                                     .max_depth = 4};
    msgpack_zone zone;
    msgpack_object obj;
    if (!msgpack_zone_init(&zone, 4096)) {
        return TM_ERR_NOMEM;
    }
    out->owned = malloc(len + 1); /* the operations borrow from it */
    int rc = out->owned == NULL ? TM_ERR_NOMEM : 0;
    if (rc == 0 && len > 0) {
        memcpy(out->owned, buf, len);
    }
    rc = rc ? rc : tm_wire_unpack(out->owned, len, &limits, &zone, &obj);
    rc = rc ? rc : s_head(&obj, out);
    const msgpack_object *ops = rc == 0 ? tm_wire_map_get(&obj, "ops") : NULL;
    if (rc == 0 && ops == NULL) {
        rc = TM_ERR_WIRE_FIELD;
    } else if (rc == 0 && ops->type != MSGPACK_OBJECT_ARRAY) {
        rc = TM_ERR_WIRE_TYPE;
    } else if (rc == 0 && ops->via.array.size > TM_REPL_OPS_MAX) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        out->n_ops = ops->via.array.size;
        out->ops = calloc(out->n_ops + 1, sizeof *out->ops);
        rc = out->ops == NULL ? TM_ERR_NOMEM : 0;
    }
    for (uint32_t i = 0; rc == 0 && i < out->n_ops; i++) {
        rc = s_op(&ops->via.array.ptr[i], &out->ops[i]);
    }
    if (rc == 0 && !s_head_ok(out)) {
        rc = TM_ERR_WIRE_FIELD;
    }
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        tm_repl_free(out);
    }
    return rc;
}

void tm_repl_free(tm_repl_t *r)
{
    if (r == NULL) {
        return;
    }
    free(r->ops);
    free(r->owned);
    memset(r, 0, sizeof *r);
}
