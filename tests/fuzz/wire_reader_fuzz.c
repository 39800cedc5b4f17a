/* wire_reader_fuzz: the sequential reader (tm_wire_read_*) and the map
 * accessors (tm_wire_map_get, tm_wire_get_*) on arbitrary bytes.
 *
 * Bytes that tm_wire_unpack accepts are walked twice, by msgpack-c and by
 * the reader: at every object each typed read must succeed exactly when the
 * contract in tm_wire.h says so, give the value msgpack-c gives, borrow the
 * same bytes, end where tm_wire_read_skip ends, and leave the cursor where
 * it was when it fails. Every map's string keys are looked up with each
 * accessor and the result compared with a scan of the map. Bytes that were
 * not checked are read greedily with every reader, which must stay inside
 * the buffer (the reader is bounded on its own) and, at its end, report
 * truncation. A depth limit above msgpack-c's 32 levels counts as 32. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys looked up per map: each lookup scans the map, so bound the work. */
#define S_KEYS_PER_MAP 16u

typedef enum {
    S_ARRAY,
    S_MAP,
    S_NIL,
    S_BOOL,
    S_U64,
    S_I64,
    S_F64,
    S_STR,
    S_BIN,
    S_SKIP,
    S_NKINDS
} s_kind_t;

static void s_walk(tm_wire_reader_t *r, const msgpack_object *o);

static int s_same_f64(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The same borrowed bytes: same length and, when there are any, the same
 * place (msgpack-c's pointer for an empty str or bin is not specified). */
static int s_same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || a == b);
}

/* The error a read of kind must return for object o (0: it succeeds), from
 * the contract in tm_wire.h. */
static int s_expect(s_kind_t kind, const msgpack_object *o)
{
    int is_int = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;

    switch (kind) {
    case S_ARRAY:
        return o->type == MSGPACK_OBJECT_ARRAY ? 0 : TM_ERR_WIRE_TYPE;
    case S_MAP:
        return o->type == MSGPACK_OBJECT_MAP ? 0 : TM_ERR_WIRE_TYPE;
    case S_NIL:
        return o->type == MSGPACK_OBJECT_NIL ? 0 : TM_ERR_WIRE_TYPE;
    case S_BOOL:
        return o->type == MSGPACK_OBJECT_BOOLEAN ? 0 : TM_ERR_WIRE_TYPE;
    case S_U64:
        if (!is_int) {
            return TM_ERR_WIRE_TYPE;
        }
        return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? TM_ERR_WIRE_FIELD
                                                          : 0;
    case S_I64:
        if (!is_int) {
            return TM_ERR_WIRE_TYPE;
        }
        return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                       o->via.u64 > (uint64_t)INT64_MAX
                   ? TM_ERR_WIRE_FIELD
                   : 0;
    case S_F64:
        return is_int || o->type == MSGPACK_OBJECT_FLOAT32 ||
                       o->type == MSGPACK_OBJECT_FLOAT64
                   ? 0
                   : TM_ERR_WIRE_TYPE;
    case S_STR:
        return o->type == MSGPACK_OBJECT_STR ? 0 : TM_ERR_WIRE_TYPE;
    case S_BIN:
        return o->type == MSGPACK_OBJECT_BIN ? 0 : TM_ERR_WIRE_TYPE;
    default: /* S_SKIP */
        return 0;
    }
}

/* The value of integer object o as a double, as the reader converts it. */
static double s_int_f64(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)o->via.u64
                                                      : (double)o->via.i64;
}

/* Read one object of kind at r; when it succeeds, check the value against
 * o (walking a container's elements). */
static int s_read(tm_wire_reader_t *r, s_kind_t kind, const msgpack_object *o)
{
    uint32_t count = 0;
    int b = 0;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = 0;

    switch (kind) {
    case S_ARRAY:
        rc = tm_wire_read_array(r, &count);
        if (rc == 0) {
            FUZZ_REQUIRE(count == o->via.array.size);
            for (uint32_t k = 0; k < count; k++) {
                s_walk(r, &o->via.array.ptr[k]);
            }
        }
        break;
    case S_MAP:
        rc = tm_wire_read_map(r, &count);
        if (rc == 0) {
            FUZZ_REQUIRE(count == o->via.map.size);
            for (uint32_t k = 0; k < count; k++) {
                s_walk(r, &o->via.map.ptr[k].key);
                s_walk(r, &o->via.map.ptr[k].val);
            }
        }
        break;
    case S_NIL:
        rc = tm_wire_read_nil(r);
        break;
    case S_BOOL:
        rc = tm_wire_read_bool(r, &b);
        FUZZ_REQUIRE(rc != 0 || b == (o->via.boolean ? 1 : 0));
        break;
    case S_U64:
        rc = tm_wire_read_u64(r, &u);
        FUZZ_REQUIRE(rc != 0 || u == o->via.u64);
        break;
    case S_I64:
        rc = tm_wire_read_i64(r, &i);
        FUZZ_REQUIRE(rc != 0 || i == (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                          ? (int64_t)o->via.u64
                                          : o->via.i64));
        break;
    case S_F64:
        rc = tm_wire_read_f64(r, &f);
        if (rc == 0) {
            FUZZ_REQUIRE(o->type == MSGPACK_OBJECT_FLOAT32 ||
                                 o->type == MSGPACK_OBJECT_FLOAT64
                             ? s_same_f64(f, o->via.f64)
                             : f == s_int_f64(o));
        }
        break;
    case S_STR:
        rc = tm_wire_read_str(r, &s, &len);
        FUZZ_REQUIRE(rc != 0 ||
                     s_same_bytes(s, len, o->via.str.ptr, o->via.str.size));
        break;
    case S_BIN:
        rc = tm_wire_read_bin(r, &p, &len);
        FUZZ_REQUIRE(rc != 0 ||
                     s_same_bytes(p, len, o->via.bin.ptr, o->via.bin.size));
        break;
    default: /* S_SKIP */
        rc = tm_wire_read_skip(r, &p, &len);
        break;
    }
    return rc;
}

/* Object o is next at r: every kind of read behaves as the contract says,
 * and r moves past o. */
static void s_walk(tm_wire_reader_t *r, const msgpack_object *o)
{
    tm_wire_reader_t end = *r;
    const uint8_t *obj = NULL;
    size_t len = 0;

    FUZZ_REQUIRE(tm_wire_read_skip(&end, &obj, &len) == 0);
    FUZZ_REQUIRE(obj == r->pos && len > 0 && end.pos == r->pos + len);
    for (int k = 0; k < S_NKINDS; k++) {
        tm_wire_reader_t c = *r;
        int rc = s_read(&c, (s_kind_t)k, o);
        FUZZ_REQUIRE(rc == s_expect((s_kind_t)k, o));
        if (rc == 0) {
            FUZZ_REQUIRE(c.pos == end.pos);
        } else {
            FUZZ_REQUIRE(c.pos == r->pos); /* a failed read does not move */
        }
    }
    *r = end;
}

/* Does the str object o hold exactly the bytes of key? */
static int s_key_is(const msgpack_object *o, const char *key, size_t klen)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == klen &&
           (klen == 0 || memcmp(o->via.str.ptr, key, klen) == 0);
}

/* Each accessor on map for key, against a scan of the map. */
static void s_lookup(const msgpack_object *map, const char *key)
{
    const msgpack_object *want = NULL;
    uint32_t matches = 0;
    size_t klen = strlen(key);
    uint64_t u = 0;
    int64_t i = 0;
    int b = 0;
    double f = 0;
    const char *s = NULL;
    size_t len = 0;

    for (uint32_t k = 0; k < map->via.map.size; k++) {
        if (s_key_is(&map->via.map.ptr[k].key, key, klen)) {
            matches++;
            want = &map->via.map.ptr[k].val;
        }
    }
    if (matches != 1) { /* missing, or ambiguous */
        FUZZ_REQUIRE(tm_wire_map_get(map, key) == NULL);
        FUZZ_REQUIRE(tm_wire_get_u64(map, key, &u) == TM_ERR_WIRE_FIELD);
        FUZZ_REQUIRE(tm_wire_get_i64(map, key, &i) == TM_ERR_WIRE_FIELD);
        FUZZ_REQUIRE(tm_wire_get_bool(map, key, &b) == TM_ERR_WIRE_FIELD);
        FUZZ_REQUIRE(tm_wire_get_f64(map, key, &f) == TM_ERR_WIRE_FIELD);
        FUZZ_REQUIRE(tm_wire_get_str(map, key, &s, &len) == TM_ERR_WIRE_FIELD);
        return;
    }
    FUZZ_REQUIRE(tm_wire_map_get(map, key) == want);

    int rc = tm_wire_get_u64(map, key, &u);
    FUZZ_REQUIRE(rc == s_expect(S_U64, want));
    FUZZ_REQUIRE(rc != 0 || u == want->via.u64);

    rc = tm_wire_get_i64(map, key, &i);
    FUZZ_REQUIRE(rc == s_expect(S_I64, want));
    FUZZ_REQUIRE(rc != 0 || i == (want->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                      ? (int64_t)want->via.u64
                                      : want->via.i64));

    rc = tm_wire_get_bool(map, key, &b);
    FUZZ_REQUIRE(rc == s_expect(S_BOOL, want));
    FUZZ_REQUIRE(rc != 0 || b == (want->via.boolean ? 1 : 0));

    rc = tm_wire_get_f64(map, key, &f);
    FUZZ_REQUIRE(rc == s_expect(S_F64, want));
    if (rc == 0) {
        FUZZ_REQUIRE(want->type == MSGPACK_OBJECT_FLOAT32 ||
                             want->type == MSGPACK_OBJECT_FLOAT64
                         ? s_same_f64(f, want->via.f64)
                         : f == s_int_f64(want));
    }

    rc = tm_wire_get_str(map, key, &s, &len);
    FUZZ_REQUIRE(rc == s_expect(S_STR, want));
    FUZZ_REQUIRE(rc != 0 ||
                 s_same_bytes(s, len, want->via.str.ptr, want->via.str.size));
}

/* Accessors on every object of the tree: on maps, the first string keys
 * (those without NUL: the accessors take C strings) and one key that
 * is never a key; on anything else, the accessors refuse. */
static void s_accessors(const msgpack_object *o)
{
    static const char absent[] = "\x7f-absent";
    uint64_t u = 0;

    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t k = 0; k < o->via.array.size; k++) {
            s_accessors(&o->via.array.ptr[k]);
        }
    }
    if (o->type != MSGPACK_OBJECT_MAP) {
        FUZZ_REQUIRE(tm_wire_map_get(o, "") == NULL);
        FUZZ_REQUIRE(tm_wire_get_u64(o, "", &u) == TM_ERR_WIRE_TYPE);
        return;
    }
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object *key = &o->via.map.ptr[k].key;
        if (k < S_KEYS_PER_MAP && key->type == MSGPACK_OBJECT_STR &&
            (key->via.str.size == 0 ||
             memchr(key->via.str.ptr, '\0', key->via.str.size) == NULL)) {
            char *c = malloc(key->via.str.size + 1);
            FUZZ_REQUIRE(c != NULL);
            if (key->via.str.size > 0) {
                memcpy(c, key->via.str.ptr, key->via.str.size);
            }
            c[key->via.str.size] = '\0';
            s_lookup(o, c);
            free(c);
        }
        s_accessors(key);
        s_accessors(&o->via.map.ptr[k].val);
    }
    s_lookup(o, absent);
}

/* Read one object of kind at r with no reference to compare with: what a
 * read returns must lie between where it started and where it ended. */
static int s_read_unchecked(tm_wire_reader_t *r, s_kind_t kind)
{
    const uint8_t *start = r->pos;
    uint32_t count = 0;
    int b = 0;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = 0;

    switch (kind) {
    case S_ARRAY: /* the head only: its elements follow */
    case S_MAP:
        rc = kind == S_ARRAY ? tm_wire_read_array(r, &count)
                             : tm_wire_read_map(r, &count);
        FUZZ_REQUIRE(rc != 0 || count <= tm_wire_reader_left(r));
        break;
    case S_NIL:
        rc = tm_wire_read_nil(r);
        break;
    case S_BOOL:
        rc = tm_wire_read_bool(r, &b);
        break;
    case S_U64:
        rc = tm_wire_read_u64(r, &u);
        break;
    case S_I64:
        rc = tm_wire_read_i64(r, &i);
        break;
    case S_F64:
        rc = tm_wire_read_f64(r, &f);
        break;
    case S_STR:
        rc = tm_wire_read_str(r, &s, &len);
        p = (const uint8_t *)s;
        break;
    case S_BIN:
        rc = tm_wire_read_bin(r, &p, &len);
        break;
    default: /* S_SKIP */
        rc = tm_wire_read_skip(r, &p, &len);
        FUZZ_REQUIRE(rc != 0 || p == start);
        break;
    }
    FUZZ_REQUIRE(rc != 0 || p == NULL || (p >= start && p + len == r->pos));
    return rc;
}

/* Unchecked bytes: at each position the first reader that succeeds moves
 * the cursor forward inside the buffer; a failing one leaves it. */
static void s_read_raw(const uint8_t *data, size_t size)
{
    tm_wire_reader_t r;
    int moved = 1;

    tm_wire_reader_init(&r, data, size);
    while (moved) {
        if (tm_wire_reader_left(&r) == 0) {
            for (int k = 0; k < S_NKINDS; k++) { /* nothing left to read */
                tm_wire_reader_t c = r;
                FUZZ_REQUIRE(s_read_unchecked(&c, (s_kind_t)k) ==
                             TM_ERR_WIRE_TRUNCATED);
                FUZZ_REQUIRE(c.pos == r.pos);
            }
            break;
        }
        moved = 0;
        for (int k = 0; k < S_NKINDS && !moved; k++) {
            tm_wire_reader_t c = r;
            int rc = s_read_unchecked(&c, (s_kind_t)k);
            FUZZ_REQUIRE(rc <= 0 && rc >= TM_ERR_WIRE_MALFORMED);
            if (rc == 0) {
                FUZZ_REQUIRE(c.pos > r.pos && c.pos <= r.end);
                r = c;
                moved = 1;
            } else {
                FUZZ_REQUIRE(c.pos == r.pos && c.end == r.end);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_zone zone;
    msgpack_object obj;

    s_read_raw(data, size);
    msgpack_zone_init(&zone, 1024);
    int rc = tm_wire_unpack(data, size, NULL, &zone, &obj);
    {
        /* msgpack-c nests at most 32 levels: a larger limit counts as 32. */
        static const tm_wire_limits_t deeper = {0, 64};
        msgpack_zone z2;
        msgpack_object o2;
        msgpack_zone_init(&z2, 1024);
        FUZZ_REQUIRE(tm_wire_unpack(data, size, &deeper, &z2, &o2) == rc);
        msgpack_zone_destroy(&z2);
    }
    if (rc == 0) {
        tm_wire_reader_t r;
        tm_wire_reader_init(&r, data, size);
        s_walk(&r, &obj);
        FUZZ_REQUIRE(tm_wire_reader_left(&r) == 0);
        s_accessors(&obj);
    }
    msgpack_zone_destroy(&zone);
    return 0;
}
