/* tm_wire: bounded MessagePack validation, a sequential reader, accessors for
 * msgpack objects and packing helpers.
 *
 * Everything here reads untrusted bytes. The one rule: no length or count
 * taken from the input is used before it has been compared with the number
 * of bytes that actually remain. The checker walks the buffer iteratively
 * with a fixed-size stack of element counters, so neither deep nesting nor
 * huge counts can exhaust the C stack or the heap.
 */
#include "tm_wire.h"

#include "tm_err.h" /* error codes */

#include <string.h> /* memcpy, memcmp, strlen */

/* msgpack-c's unpacker keeps a fixed stack of MSGPACK_EMBED_STACK_SIZE
 * open containers (32, fixed when the library is built; the macro is in an
 * internal header). Anything deeper it rejects, so tm_wire_unpack() checks
 * against this first and can report TOO_DEEP instead of a parse error. */
#define S_MSGPACK_DEPTH 32u

/* What the first bytes of an object announce. */
typedef enum { S_SCALAR, S_ARRAY, S_MAP } s_kind_t;

typedef struct {
    s_kind_t kind;
    uint8_t tag;    /* first byte */
    size_t head;    /* bytes of tag, length field and ext type byte */
    uint64_t body;  /* bytes after the head (scalars) */
    uint64_t count; /* elements (arrays) or key/value pairs (maps) */
} s_head_t;

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Parse the head of the object at p (avail > 0 bytes there). Checks that the
 * head itself is within avail; the body and the elements are the caller's
 * to check. */
static int s_head(const uint8_t *p, size_t avail, s_head_t *h)
{
    uint8_t b = p[0];
    size_t lenbytes = 0; /* size of a big-endian length field after tag */
    size_t extbyte = 0;  /* 1 for ext8/16/32: type byte after the length */

    h->kind = S_SCALAR;
    h->tag = b;
    h->head = 1;
    h->body = 0;
    h->count = 0;

    if (b <= 0x7f || b >= 0xe0) {
        return 0; /* positive or negative fixint */
    }
    if (b <= 0x8f) {
        h->kind = S_MAP;
        h->count = b & 0x0fu;
        return 0;
    }
    if (b <= 0x9f) {
        h->kind = S_ARRAY;
        h->count = b & 0x0fu;
        return 0;
    }
    if (b <= 0xbf) {
        h->body = b & 0x1fu; /* fixstr */
        return 0;
    }
    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return 0;
    case 0xc1:
        return TM_ERR_WIRE_MALFORMED; /* reserved, never valid */
    case 0xc4:                        /* bin8 */
    case 0xd9:                        /* str8 */
        lenbytes = 1;
        break;
    case 0xc5: /* bin16 */
    case 0xda: /* str16 */
    case 0xdc: /* array16 */
    case 0xde: /* map16 */
        lenbytes = 2;
        break;
    case 0xc6: /* bin32 */
    case 0xdb: /* str32 */
    case 0xdd: /* array32 */
    case 0xdf: /* map32 */
        lenbytes = 4;
        break;
    case 0xc7: /* ext8 */
        lenbytes = 1;
        extbyte = 1;
        break;
    case 0xc8: /* ext16 */
        lenbytes = 2;
        extbyte = 1;
        break;
    case 0xc9: /* ext32 */
        lenbytes = 4;
        extbyte = 1;
        break;
    case 0xca: /* float32 */
        h->body = 4;
        return 0;
    case 0xcb: /* float64 */
        h->body = 8;
        return 0;
    case 0xcc: /* uint8 */
    case 0xd0: /* int8 */
        h->body = 1;
        return 0;
    case 0xcd: /* uint16 */
    case 0xd1: /* int16 */
        h->body = 2;
        return 0;
    case 0xce: /* uint32 */
    case 0xd2: /* int32 */
        h->body = 4;
        return 0;
    case 0xcf: /* uint64 */
    case 0xd3: /* int64 */
        h->body = 8;
        return 0;
    case 0xd4: /* fixext1: type byte + 1 */
        h->body = 2;
        return 0;
    case 0xd5: /* fixext2 */
        h->body = 3;
        return 0;
    case 0xd6: /* fixext4 */
        h->body = 5;
        return 0;
    case 0xd7: /* fixext8 */
        h->body = 9;
        return 0;
    case 0xd8: /* fixext16 */
        h->body = 17;
        return 0;
    default:
        return TM_ERR_WIRE_MALFORMED; /* unreachable: all bytes covered */
    }

    h->head = 1 + lenbytes + extbyte;
    if (h->head > avail) {
        return TM_ERR_WIRE_TRUNCATED;
    }
    uint64_t n = s_be(p + 1, lenbytes);
    if (b == 0xdc || b == 0xdd) {
        h->kind = S_ARRAY;
        h->count = n;
    } else if (b == 0xde || b == 0xdf) {
        h->kind = S_MAP;
        h->count = n;
    } else {
        h->body = n;
    }
    return 0;
}

/* Elements a container head announces (a map's keys and values). */
static uint64_t s_items(const s_head_t *h)
{
    return h->kind == S_MAP ? 2 * h->count : h->count;
}

/* A decoded integer, from the wire or from a msgpack object: a value >= 0
 * in u (negative = 0) or a value < 0 in i (negative = 1). The accessors
 * and the reader share the range checks below. */
typedef struct {
    int negative;
    uint64_t u;
    int64_t i;
} s_int_t;

/* TM_ERR_WIRE_FIELD when the value is negative. */
static int s_int_u64(const s_int_t *v, uint64_t *out)
{
    if (v->negative) {
        return TM_ERR_WIRE_FIELD;
    }
    *out = v->u;
    return 0;
}

/* TM_ERR_WIRE_FIELD when the value is above INT64_MAX. */
static int s_int_i64(const s_int_t *v, int64_t *out)
{
    if (!v->negative && v->u > (uint64_t)INT64_MAX) {
        return TM_ERR_WIRE_FIELD;
    }
    *out = v->negative ? v->i : (int64_t)v->u;
    return 0;
}

static double s_int_f64(const s_int_t *v)
{
    return v->negative ? (double)v->i : (double)v->u;
}

/* Walk one object at buf within the first window bytes; *obj_len = its
 * size. Counters per open container live in a fixed array: max_depth is at
 * most TM_WIRE_MAX_DEPTH_CAP. */
static int s_scan(const uint8_t *buf, size_t window, uint32_t max_depth,
                  size_t *obj_len)
{
    uint64_t todo[TM_WIRE_MAX_DEPTH_CAP]; /* elements not started, per level */
    uint32_t depth = 0;
    uint64_t pending = 0; /* sum of todo[]: each needs at least one byte */
    size_t pos = 0;

    for (;;) {
        size_t left = window - pos;
        s_head_t h;

        if (left == 0) {
            return TM_ERR_WIRE_TRUNCATED;
        }
        int rc = s_head(buf + pos, left, &h);
        if (rc != 0) {
            return rc;
        }
        pos += h.head;
        left -= h.head;
        if (depth > 0) {
            todo[depth - 1]--;
            pending--;
        }
        if (h.kind == S_SCALAR) {
            if (h.body > left) {
                return TM_ERR_WIRE_TRUNCATED;
            }
            pos += (size_t)h.body;
        } else {
            if (depth >= max_depth) {
                return TM_ERR_WIRE_TOO_DEEP;
            }
            uint64_t items = s_items(&h);
            if (items > 0) {
                /* pending <= window and items < 2^33: no overflow. */
                if (items > left || pending + items > left) {
                    return TM_ERR_WIRE_COUNT;
                }
                todo[depth++] = items;
                pending += items;
                continue;
            }
        }
        /* An element is complete: close every container it completes. */
        while (depth > 0 && todo[depth - 1] == 0) {
            depth--;
        }
        if (depth == 0) {
            break;
        }
    }
    *obj_len = pos;
    return 0;
}

static void s_limits(const tm_wire_limits_t *limits, size_t *max_size,
                     uint32_t *max_depth)
{
    *max_size = TM_WIRE_MAX_SIZE_DEFAULT;
    *max_depth = TM_WIRE_MAX_DEPTH_DEFAULT;
    if (limits != NULL) {
        if (limits->max_size != 0) {
            *max_size = limits->max_size;
        }
        if (limits->max_depth != 0) {
            *max_depth = limits->max_depth;
        }
    }
    if (*max_depth > TM_WIRE_MAX_DEPTH_CAP) {
        *max_depth = TM_WIRE_MAX_DEPTH_CAP;
    }
}

static int s_check(const uint8_t *buf, size_t len,
                   const tm_wire_limits_t *limits, uint32_t depth_cap)
{
    size_t max_size;
    uint32_t max_depth;
    size_t obj_len = 0;

    if (buf == NULL && len > 0) {
        return TM_ERR_INVAL;
    }
    s_limits(limits, &max_size, &max_depth);
    if (max_depth > depth_cap) {
        max_depth = depth_cap;
    }
    if (len > max_size) {
        return TM_ERR_WIRE_TOO_LARGE;
    }
    int rc = s_scan(buf, len, max_depth, &obj_len);
    if (rc == 0 && obj_len != len) {
        rc = TM_ERR_WIRE_TRAILING;
    }
    return rc;
}

int tm_wire_check(const uint8_t *buf, size_t len,
                  const tm_wire_limits_t *limits)
{
    return s_check(buf, len, limits, TM_WIRE_MAX_DEPTH_CAP);
}

int tm_wire_object_len(const uint8_t *buf, size_t len,
                       const tm_wire_limits_t *limits, size_t *obj_len)
{
    size_t max_size;
    uint32_t max_depth;
    size_t n = 0;

    if ((buf == NULL && len > 0) || obj_len == NULL) {
        return TM_ERR_INVAL;
    }
    s_limits(limits, &max_size, &max_depth);
    size_t window = len < max_size ? len : max_size;
    int rc = s_scan(buf, window, max_depth, &n);
    if ((rc == TM_ERR_WIRE_TRUNCATED || rc == TM_ERR_WIRE_COUNT) &&
        window < len) {
        rc = TM_ERR_WIRE_TOO_LARGE; /* the bytes are there, the limit not */
    }
    if (rc == 0) {
        *obj_len = n;
    }
    return rc;
}

int tm_wire_unpack(const uint8_t *buf, size_t len,
                   const tm_wire_limits_t *limits, msgpack_zone *zone,
                   msgpack_object *out)
{
    size_t off = 0;

    if (zone == NULL || out == NULL) {
        return TM_ERR_INVAL;
    }
    int rc = s_check(buf, len, limits, S_MSGPACK_DEPTH);
    if (rc != 0) {
        return rc;
    }
    switch (msgpack_unpack((const char *)buf, len, &off, zone, out)) {
    case MSGPACK_UNPACK_SUCCESS:
        rc = off == len ? 0 : TM_ERR_WIRE_TRAILING;
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        rc = TM_ERR_NOMEM;
        break;
    case MSGPACK_UNPACK_EXTRA_BYTES:
        rc = TM_ERR_WIRE_TRAILING;
        break;
    case MSGPACK_UNPACK_CONTINUE:
        rc = TM_ERR_WIRE_TRUNCATED;
        break;
    default:
        rc = TM_ERR_WIRE_MALFORMED;
        break;
    }
    return rc;
}

/* ---- accessors on msgpack objects ------------------------------------- */

const msgpack_object *tm_wire_map_get(const msgpack_object *map,
                                      const char *key)
{
    const msgpack_object *found = NULL;

    if (map == NULL || key == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR &&
            kv->key.via.str.size == klen &&
            (klen == 0 || memcmp(kv->key.via.str.ptr, key, klen) == 0)) {
            if (found != NULL) {
                return NULL; /* duplicate key: ambiguous */
            }
            found = &kv->val;
        }
    }
    return found;
}

/* The value under key, or the error for a missing key or a non-map. */
static int s_get(const msgpack_object *map, const char *key,
                 const msgpack_object **val)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return TM_ERR_WIRE_TYPE;
    }
    *val = tm_wire_map_get(map, key);
    return *val == NULL ? TM_ERR_WIRE_FIELD : 0;
}

/* An integer object into v; TM_ERR_WIRE_TYPE for any other type. */
static int s_obj_int(const msgpack_object *o, s_int_t *v)
{
    memset(v, 0, sizeof *v);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        v->u = o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v->negative = 1;
        v->i = o->via.i64;
    } else {
        return TM_ERR_WIRE_TYPE;
    }
    return 0;
}

/* The integer under key. */
static int s_get_int(const msgpack_object *map, const char *key, s_int_t *v)
{
    const msgpack_object *o = NULL;
    int rc = s_get(map, key, &o);

    if (rc == 0) {
        rc = s_obj_int(o, v);
    }
    return rc;
}

int tm_wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    s_int_t v;
    int rc = s_get_int(map, key, &v);

    return rc != 0 ? rc : s_int_u64(&v, out);
}

int tm_wire_get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
    s_int_t v;
    int rc = s_get_int(map, key, &v);

    return rc != 0 ? rc : s_int_i64(&v, out);
}

int tm_wire_get_bool(const msgpack_object *map, const char *key, int *out)
{
    const msgpack_object *v = NULL;
    int rc = s_get(map, key, &v);

    if (rc == 0) {
        if (v->type == MSGPACK_OBJECT_BOOLEAN) {
            *out = v->via.boolean ? 1 : 0;
        } else {
            rc = TM_ERR_WIRE_TYPE;
        }
    }
    return rc;
}

int tm_wire_get_f64(const msgpack_object *map, const char *key, double *out)
{
    const msgpack_object *v = NULL;
    int rc = s_get(map, key, &v);

    if (rc == 0) {
        s_int_t n;
        if (v->type == MSGPACK_OBJECT_FLOAT32 ||
            v->type == MSGPACK_OBJECT_FLOAT64) {
            *out = v->via.f64;
        } else if ((rc = s_obj_int(v, &n)) == 0) {
            *out = s_int_f64(&n);
        }
    }
    return rc;
}

int tm_wire_get_str(const msgpack_object *map, const char *key,
                    const char **out, size_t *len)
{
    const msgpack_object *v = NULL;
    int rc = s_get(map, key, &v);

    if (rc == 0) {
        if (v->type == MSGPACK_OBJECT_STR) {
            *out = v->via.str.ptr;
            *len = v->via.str.size;
        } else {
            rc = TM_ERR_WIRE_TYPE;
        }
    }
    return rc;
}

/* ---- sequential reader ------------------------------------------------- */

void tm_wire_reader_init(tm_wire_reader_t *r, const uint8_t *buf, size_t len)
{
    r->pos = buf;
    r->end = buf == NULL ? buf : buf + len;
}

size_t tm_wire_reader_left(const tm_wire_reader_t *r)
{
    return (size_t)(r->end - r->pos);
}

/* Head of the next object, and the bytes after that head. */
static int s_peek(const tm_wire_reader_t *r, s_head_t *h, size_t *after)
{
    size_t left = tm_wire_reader_left(r);

    if (left == 0) {
        return TM_ERR_WIRE_TRUNCATED;
    }
    int rc = s_head(r->pos, left, h);
    if (rc == 0) {
        *after = left - h->head;
    }
    return rc;
}

/* Next scalar of one of the tags accepted by is_tag; *body its body. */
static int s_read_scalar(tm_wire_reader_t *r, int (*is_tag)(uint8_t),
                         s_head_t *h, const uint8_t **body)
{
    size_t after = 0;
    int rc = s_peek(r, h, &after);

    if (rc != 0) {
        return rc;
    }
    if (h->kind != S_SCALAR || !is_tag(h->tag)) {
        return TM_ERR_WIRE_TYPE;
    }
    if (h->body > after) {
        return TM_ERR_WIRE_TRUNCATED;
    }
    *body = r->pos + h->head;
    r->pos = *body + h->body;
    return 0;
}

static int s_read_container(tm_wire_reader_t *r, s_kind_t kind, uint32_t *count)
{
    s_head_t h;
    size_t after = 0;
    int rc = s_peek(r, &h, &after);

    if (rc != 0) {
        return rc;
    }
    if (h.kind != kind) {
        return TM_ERR_WIRE_TYPE;
    }
    if (s_items(&h) > after) {
        return TM_ERR_WIRE_COUNT;
    }
    r->pos += h.head;
    *count = (uint32_t)h.count; /* length fields are at most 32 bits */
    return 0;
}

int tm_wire_read_array(tm_wire_reader_t *r, uint32_t *count)
{
    return s_read_container(r, S_ARRAY, count);
}

int tm_wire_read_map(tm_wire_reader_t *r, uint32_t *count)
{
    return s_read_container(r, S_MAP, count);
}

static int s_is_nil(uint8_t tag)
{
    return tag == 0xc0;
}

static int s_is_bool(uint8_t tag)
{
    return tag == 0xc2 || tag == 0xc3;
}

static int s_is_int(uint8_t tag)
{
    return tag <= 0x7f || tag >= 0xe0 || (tag >= 0xcc && tag <= 0xcf) ||
           (tag >= 0xd0 && tag <= 0xd3);
}

static int s_is_number(uint8_t tag)
{
    return s_is_int(tag) || tag == 0xca || tag == 0xcb;
}

static int s_is_str(uint8_t tag)
{
    return (tag >= 0xa0 && tag <= 0xbf) || (tag >= 0xd9 && tag <= 0xdb);
}

static int s_is_bin(uint8_t tag)
{
    return tag >= 0xc4 && tag <= 0xc6;
}

int tm_wire_read_nil(tm_wire_reader_t *r)
{
    s_head_t h;
    const uint8_t *body = NULL;

    return s_read_scalar(r, s_is_nil, &h, &body);
}

int tm_wire_read_bool(tm_wire_reader_t *r, int *out)
{
    s_head_t h;
    const uint8_t *body = NULL;
    int rc = s_read_scalar(r, s_is_bool, &h, &body);

    if (rc == 0) {
        *out = h.tag == 0xc3;
    }
    return rc;
}

/* An integer decoded from its head and body. */
static void s_int_value(const s_head_t *h, const uint8_t *body, s_int_t *v)
{
    uint8_t tag = h->tag;

    memset(v, 0, sizeof *v);
    if (tag <= 0x7f) {
        v->u = tag;
    } else if (tag >= 0xe0) {
        v->negative = 1;
        v->i = (int64_t)tag - 256;
    } else if (tag >= 0xcc && tag <= 0xcf) {
        v->u = s_be(body, (size_t)h->body);
    } else {
        unsigned bits = (unsigned)h->body * 8;
        uint64_t raw = s_be(body, (size_t)h->body);
        uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
        uint64_t sign = (uint64_t)1 << (bits - 1);
        if (raw & sign) {
            v->negative = 1;
            v->i = -(int64_t)(~raw & mask) - 1;
        } else {
            v->u = raw;
        }
    }
}

/* Next integer, whatever its encoding. */
static int s_read_int(tm_wire_reader_t *r, s_int_t *v)
{
    s_head_t h;
    const uint8_t *body = NULL;
    int rc = s_read_scalar(r, s_is_int, &h, &body);

    if (rc == 0) {
        s_int_value(&h, body, v);
    }
    return rc;
}

int tm_wire_read_u64(tm_wire_reader_t *r, uint64_t *out)
{
    tm_wire_reader_t save = *r;
    s_int_t v;
    int rc = s_read_int(r, &v);

    if (rc == 0 && (rc = s_int_u64(&v, out)) != 0) {
        *r = save; /* out of range: the cursor stays */
    }
    return rc;
}

int tm_wire_read_i64(tm_wire_reader_t *r, int64_t *out)
{
    tm_wire_reader_t save = *r;
    s_int_t v;
    int rc = s_read_int(r, &v);

    if (rc == 0 && (rc = s_int_i64(&v, out)) != 0) {
        *r = save;
    }
    return rc;
}

int tm_wire_read_f64(tm_wire_reader_t *r, double *out)
{
    s_head_t h;
    const uint8_t *body = NULL;
    int rc = s_read_scalar(r, s_is_number, &h, &body);

    if (rc != 0) {
        return rc;
    }
    if (h.tag == 0xca) {
        uint32_t bits = (uint32_t)s_be(body, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = (double)f;
    } else if (h.tag == 0xcb) {
        uint64_t bits = s_be(body, 8);
        memcpy(out, &bits, sizeof *out);
    } else {
        s_int_t v;
        s_int_value(&h, body, &v);
        *out = s_int_f64(&v);
    }
    return 0;
}

int tm_wire_read_str(tm_wire_reader_t *r, const char **out, size_t *len)
{
    s_head_t h;
    const uint8_t *body = NULL;
    int rc = s_read_scalar(r, s_is_str, &h, &body);

    if (rc == 0) {
        *out = (const char *)body;
        *len = (size_t)h.body;
    }
    return rc;
}

int tm_wire_read_bin(tm_wire_reader_t *r, const uint8_t **out, size_t *len)
{
    s_head_t h;
    const uint8_t *body = NULL;
    int rc = s_read_scalar(r, s_is_bin, &h, &body);

    if (rc == 0) {
        *out = body;
        *len = (size_t)h.body;
    }
    return rc;
}

int tm_wire_read_skip(tm_wire_reader_t *r, const uint8_t **obj, size_t *len)
{
    size_t n = 0;
    int rc = s_scan(r->pos, tm_wire_reader_left(r), TM_WIRE_MAX_DEPTH_CAP, &n);

    if (rc == 0) {
        if (obj != NULL) {
            *obj = r->pos;
        }
        if (len != NULL) {
            *len = n;
        }
        r->pos += n;
    }
    return rc;
}

/* ---- encoding ---------------------------------------------------------- */

static int s_buf_write(void *data, const char *bytes, size_t len)
{
    tm_wire_buf_t *b = data;

    if (b->failed) {
        return -1;
    }
    if (len == 0) {
        return 0; /* sbuffer would do arithmetic on a NULL data pointer */
    }
    if (msgpack_sbuffer_write(&b->sbuf, bytes, len) != 0) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

void tm_wire_buf_init(tm_wire_buf_t *b)
{
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(&b->pk, b, s_buf_write);
    b->failed = 0;
}

int tm_wire_buf_finish(tm_wire_buf_t *b, uint8_t **out, size_t *out_len)
{
    if (b->failed) {
        return TM_ERR_NOMEM;
    }
    if (b->sbuf.size == 0) {
        return TM_ERR_INVAL; /* nothing was packed */
    }
    *out_len = b->sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&b->sbuf);
    return 0;
}

void tm_wire_buf_clear(tm_wire_buf_t *b)
{
    msgpack_sbuffer_clear(&b->sbuf);
    b->failed = 0;
}

int tm_wire_buf_ok(const tm_wire_buf_t *b)
{
    return b->failed ? TM_ERR_NOMEM : 0;
}

void tm_wire_buf_destroy(tm_wire_buf_t *b)
{
    msgpack_sbuffer_destroy(&b->sbuf);
    msgpack_sbuffer_init(&b->sbuf);
    b->failed = 0;
}

void tm_wire_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s);

    msgpack_pack_str(pk, n);
    if (n > 0) {
        msgpack_pack_str_body(pk, s, n);
    }
}

void tm_wire_pack_raw(msgpack_packer *pk, const uint8_t *bytes, size_t len)
{
    if (len > 0) {
        pk->callback(pk->data, (const char *)bytes, len);
    }
}

void tm_wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *s)
{
    tm_wire_pack_str(pk, key);
    tm_wire_pack_str(pk, s);
}

void tm_wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_uint64(pk, v);
}

void tm_wire_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_int64(pk, v);
}

void tm_wire_pack_kv_f64(msgpack_packer *pk, const char *key, double v)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_double(pk, v);
}

void tm_wire_pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
    tm_wire_pack_str(pk, key);
    if (v) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
}

void tm_wire_pack_kv_nil(msgpack_packer *pk, const char *key)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_nil(pk);
}
