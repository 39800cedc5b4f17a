/* wire_test: the bounded MessagePack checker, reader, accessors and packing
 * helpers of protocol/tm_wire, fed valid objects of every type and hostile
 * bytes (truncated headers, huge counts, deep nesting, reserved bytes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_err.h"
#include "assert_rc.h"
#include "tm_wire.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* tm_wire_check over the listed bytes with default limits. */
#define CHECK_BYTES(want, ...)                                                 \
    do {                                                                       \
        static const uint8_t b_[] = {__VA_ARGS__};                             \
        assert_rc(tm_wire_check(b_, sizeof b_, NULL), (want));                 \
    } while (0)

/* n bytes of fill after a header of hlen bytes, in one malloc'd buffer. */
static uint8_t *s_with_body(const uint8_t *hdr, size_t hlen, size_t n,
                            uint8_t fill)
{
    uint8_t *b = malloc(hlen + n);
    assert_non_null(b);
    memcpy(b, hdr, hlen);
    memset(b + hlen, fill, n);
    return b;
}

/* depth nested one-element arrays around a nil: 0x91 * depth, 0xc0. */
static uint8_t *s_nested(size_t depth, size_t *len)
{
    uint8_t *b = malloc(depth + 1);
    assert_non_null(b);
    memset(b, 0x91, depth);
    b[depth] = 0xc0;
    *len = depth + 1;
    return b;
}

static int s_zone_untouched(const msgpack_zone *z, const msgpack_zone *before)
{
    return z->chunk_list.free == before->chunk_list.free &&
           z->chunk_list.ptr == before->chunk_list.ptr &&
           z->chunk_list.head == before->chunk_list.head;
}

/* ---- valid objects ----------------------------------------------------- */

typedef struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    msgpack_object_type type;
} s_valid_t;

#define VALID(nm, ty, ...)                                                     \
    {                                                                          \
        nm, (const uint8_t[]){__VA_ARGS__},                                    \
            sizeof((const uint8_t[]){__VA_ARGS__}), ty                         \
    }

static const s_valid_t s_valid[] = {
    VALID("nil", MSGPACK_OBJECT_NIL, 0xc0),
    VALID("false", MSGPACK_OBJECT_BOOLEAN, 0xc2),
    VALID("true", MSGPACK_OBJECT_BOOLEAN, 0xc3),
    VALID("fixint", MSGPACK_OBJECT_POSITIVE_INTEGER, 0x7f),
    VALID("negfixint", MSGPACK_OBJECT_NEGATIVE_INTEGER, 0xe0),
    VALID("u8", MSGPACK_OBJECT_POSITIVE_INTEGER, 0xcc, 0xff),
    VALID("u16", MSGPACK_OBJECT_POSITIVE_INTEGER, 0xcd, 0xff, 0xff),
    VALID("u32", MSGPACK_OBJECT_POSITIVE_INTEGER, 0xce, 1, 2, 3, 4),
    VALID("u64", MSGPACK_OBJECT_POSITIVE_INTEGER, 0xcf, 1, 2, 3, 4, 5, 6, 7, 8),
    VALID("i8", MSGPACK_OBJECT_NEGATIVE_INTEGER, 0xd0, 0x80),
    VALID("i16", MSGPACK_OBJECT_NEGATIVE_INTEGER, 0xd1, 0x80, 0),
    VALID("i32", MSGPACK_OBJECT_NEGATIVE_INTEGER, 0xd2, 0xff, 0, 0, 0),
    VALID("i64", MSGPACK_OBJECT_NEGATIVE_INTEGER, 0xd3, 0x80, 0, 0, 0, 0, 0, 0,
          0),
    VALID("f32", MSGPACK_OBJECT_FLOAT32, 0xca, 0x3f, 0x80, 0, 0),
    VALID("f64", MSGPACK_OBJECT_FLOAT64, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0),
    VALID("fixstr", MSGPACK_OBJECT_STR, 0xa3, 'a', 'b', 'c'),
    VALID("empty fixstr", MSGPACK_OBJECT_STR, 0xa0),
    VALID("str8", MSGPACK_OBJECT_STR, 0xd9, 2, 'h', 'i'),
    VALID("str16", MSGPACK_OBJECT_STR, 0xda, 0, 1, 'x'),
    VALID("str32", MSGPACK_OBJECT_STR, 0xdb, 0, 0, 0, 1, 'x'),
    VALID("bin8", MSGPACK_OBJECT_BIN, 0xc4, 1, 0),
    VALID("bin16", MSGPACK_OBJECT_BIN, 0xc5, 0, 2, 0, 0),
    VALID("bin32", MSGPACK_OBJECT_BIN, 0xc6, 0, 0, 0, 0),
    VALID("fixext1", MSGPACK_OBJECT_EXT, 0xd4, 1, 9),
    VALID("fixext2", MSGPACK_OBJECT_EXT, 0xd5, 1, 9, 9),
    VALID("fixext4", MSGPACK_OBJECT_EXT, 0xd6, 1, 9, 9, 9, 9),
    VALID("fixext8", MSGPACK_OBJECT_EXT, 0xd7, 1, 9, 9, 9, 9, 9, 9, 9, 9),
    VALID("fixext16", MSGPACK_OBJECT_EXT, 0xd8, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9,
          10, 11, 12, 13, 14, 15, 16),
    VALID("ext8", MSGPACK_OBJECT_EXT, 0xc7, 2, 5, 9, 9),
    VALID("ext16", MSGPACK_OBJECT_EXT, 0xc8, 0, 0, 5),
    VALID("ext32", MSGPACK_OBJECT_EXT, 0xc9, 0, 0, 0, 1, 5, 9),
    VALID("fixarray", MSGPACK_OBJECT_ARRAY, 0x92, 1, 2),
    VALID("empty array", MSGPACK_OBJECT_ARRAY, 0x90),
    VALID("array16", MSGPACK_OBJECT_ARRAY, 0xdc, 0, 2, 0xc0, 0xc3),
    VALID("array32", MSGPACK_OBJECT_ARRAY, 0xdd, 0, 0, 0, 1, 0xa0),
    VALID("fixmap", MSGPACK_OBJECT_MAP, 0x81, 0xa1, 'k', 0x01),
    VALID("empty map", MSGPACK_OBJECT_MAP, 0x80),
    VALID("map16", MSGPACK_OBJECT_MAP, 0xde, 0, 1, 1, 2),
    VALID("map32", MSGPACK_OBJECT_MAP, 0xdf, 0, 0, 0, 1, 0x90, 0x80),
    VALID("nested", MSGPACK_OBJECT_ARRAY, 0x93, 0x81, 0xa1, 'a', 0x91, 0xc0,
          0x90, 0x92, 0x80, 0xa0),
};

static void test_valid_objects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_valid / sizeof s_valid[0]; i++) {
        const s_valid_t *v = &s_valid[i];
        size_t n = 0;
        msgpack_zone zone;
        msgpack_object obj;

        print_message("valid: %s\n", v->name);
        assert_rc(tm_wire_check(v->bytes, v->len, NULL), 0);
        assert_rc(tm_wire_object_len(v->bytes, v->len, NULL, &n), 0);
        assert_int_equal(n, v->len);

        msgpack_zone_init(&zone, 256);
        assert_rc(tm_wire_unpack(v->bytes, v->len, NULL, &zone, &obj), 0);
        assert_int_equal(obj.type, v->type);
        msgpack_zone_destroy(&zone);

        /* Every strict prefix is cut short somewhere. */
        for (size_t k = 0; k < v->len; k++) {
            int rc = tm_wire_check(v->bytes, k, NULL);
            assert_true(rc == TM_ERR_WIRE_TRUNCATED || rc == TM_ERR_WIRE_COUNT);
        }
    }
}

static void test_empty_buffer(void **state)
{
    static const uint8_t one = 0xc0;
    size_t n = 99;

    (void)state;
    assert_rc(tm_wire_check(&one, 0, NULL), TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_wire_check(NULL, 0, NULL), TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_wire_object_len(NULL, 0, NULL, &n), TM_ERR_WIRE_TRUNCATED);
    assert_int_equal(n, 99);
    assert_rc(tm_wire_check(NULL, 5, NULL), TM_ERR_INVAL);
    assert_rc(tm_wire_object_len(&one, 1, NULL, NULL), TM_ERR_INVAL);
}

static void test_reserved_c1(void **state)
{
    (void)state;
    CHECK_BYTES(TM_ERR_WIRE_MALFORMED, 0xc1);
    CHECK_BYTES(TM_ERR_WIRE_MALFORMED, 0x92, 0x01, 0xc1);
    CHECK_BYTES(TM_ERR_WIRE_MALFORMED, 0x81, 0xc1, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_MALFORMED, 0x81, 0xa1, 'k', 0xc1);
}

static void test_truncated_headers(void **state)
{
    (void)state;
    /* length field cut */
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xd9);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xda, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xdb, 0x00, 0x00, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc4);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc5, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc6, 0x00, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc7, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc8, 0x00, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc9, 0x00, 0x00, 0x00, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xdc, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xdd, 0xff, 0x00, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xde, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xdf, 0x00, 0x00, 0x00);
    /* body cut: announced length beyond the buffer */
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xa5, 'a', 'b');
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xd9, 0x05, 'a', 'b');
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xda, 0x01, 0x00, 'a');
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a');
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc4, 0x02, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc5, 0xff, 0xff, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc6, 0x80, 0x00, 0x00, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xc7, 0x02, 0x01, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xd8, 0x01, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xcb, 0x00, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xcf, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0xd3);
    /* inside a container: str header cut as the last element */
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0x92, 0x01, 0xda);
    CHECK_BYTES(TM_ERR_WIRE_TRUNCATED, 0x81, 0xa1, 'k', 0xd9, 0x09);
}

static void test_counts_beyond_bytes(void **state)
{
    static const uint8_t huge[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    msgpack_zone zone;
    msgpack_zone before;
    msgpack_object obj;

    (void)state;
    /* The classic: an array32 announcing 4.28e9 elements in 5 bytes. */
    assert_rc(tm_wire_check(huge, sizeof huge, NULL), TM_ERR_WIRE_COUNT);
    msgpack_zone_init(&zone, 256);
    before = zone;
    assert_rc(tm_wire_unpack(huge, sizeof huge, NULL, &zone, &obj),
              TM_ERR_WIRE_COUNT);
    assert_true(s_zone_untouched(&zone, &before)); /* nothing allocated */
    msgpack_zone_destroy(&zone);

    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0xdd, 0xff, 0xff, 0xff, 0xff);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0xdf, 0xff, 0xff, 0xff, 0xff);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0xde, 0xff, 0xff, 0x01, 0x02);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0xdc, 0x00, 0x03, 0x01, 0x02);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0x92, 0x01);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0x9f);
    /* map: 2 pairs need 4 elements, 3 bytes remain */
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0xdf, 0x00, 0x00, 0x00, 0x02, 1, 2, 3);
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0x82, 1, 2, 3);
    /* nested: the inner count fits the bytes, but not together with the
     * outer element still owed */
    CHECK_BYTES(TM_ERR_WIRE_COUNT, 0x92, 0xdd, 0x00, 0x00, 0x00, 0x02, 1, 2);
}

static void test_deep_nesting(void **state)
{
    size_t len = 0;
    uint8_t *b = NULL;
    tm_wire_limits_t lim = {0, 4};
    msgpack_zone zone;
    msgpack_object obj;

    (void)state;
    /* 100,000 nested arrays: rejected at level 33, no recursion. */
    b = s_nested(100000, &len);
    assert_rc(tm_wire_check(b, len, NULL), TM_ERR_WIRE_TOO_DEEP);
    assert_rc(tm_wire_check(b, len - 1, NULL), TM_ERR_WIRE_TOO_DEEP);
    msgpack_zone_init(&zone, 256);
    assert_rc(tm_wire_unpack(b, len, NULL, &zone, &obj), TM_ERR_WIRE_TOO_DEEP);
    msgpack_zone_destroy(&zone);
    free(b);

    /* Exactly the default limit is fine, and msgpack-c copes with it. */
    b = s_nested(32, &len);
    assert_rc(tm_wire_check(b, len, NULL), 0);
    msgpack_zone_init(&zone, 256);
    assert_rc(tm_wire_unpack(b, len, NULL, &zone, &obj), 0);
    assert_int_equal(obj.type, MSGPACK_OBJECT_ARRAY);
    msgpack_zone_destroy(&zone);
    free(b);

    b = s_nested(33, &len);
    assert_rc(tm_wire_check(b, len, NULL), TM_ERR_WIRE_TOO_DEEP);
    free(b);

    /* Empty containers count as a level too. */
    b = s_nested(32, &len);
    b[32] = 0x90;
    assert_rc(tm_wire_check(b, len, NULL), TM_ERR_WIRE_TOO_DEEP);
    b[32] = 0x80;
    assert_rc(tm_wire_check(b, len, NULL), TM_ERR_WIRE_TOO_DEEP);
    free(b);

    /* Configured limits. */
    b = s_nested(4, &len);
    assert_rc(tm_wire_check(b, len, &lim), 0);
    free(b);
    b = s_nested(5, &len);
    assert_rc(tm_wire_check(b, len, &lim), TM_ERR_WIRE_TOO_DEEP);
    free(b);
    CHECK_BYTES(TM_ERR_WIRE_TOO_DEEP, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91,
                0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81,
                0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0,
                0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91,
                0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81, 0xa0, 0x91, 0x81,
                0xa0, 0x91, 0x81, 0xa0, 0xc0);

    /* A limit above msgpack-c's own: the checker allows it, unpack does
     * not, and says why. */
    lim.max_depth = 100;
    b = s_nested(40, &len);
    assert_rc(tm_wire_check(b, len, &lim), 0);
    msgpack_zone_init(&zone, 256);
    assert_rc(tm_wire_unpack(b, len, &lim, &zone, &obj), TM_ERR_WIRE_TOO_DEEP);
    msgpack_zone_destroy(&zone);
    free(b);

    /* Limits above the hard cap are clamped to it. */
    lim.max_depth = 100000;
    b = s_nested(TM_WIRE_MAX_DEPTH_CAP, &len);
    assert_rc(tm_wire_check(b, len, &lim), 0);
    free(b);
    b = s_nested(TM_WIRE_MAX_DEPTH_CAP + 1, &len);
    assert_rc(tm_wire_check(b, len, &lim), TM_ERR_WIRE_TOO_DEEP);
    free(b);
}

static void test_trailing_bytes(void **state)
{
    static const uint8_t two[] = {0x91, 0x01, 0x02};
    size_t n = 0;

    (void)state;
    CHECK_BYTES(TM_ERR_WIRE_TRAILING, 0xc0, 0xc0);
    CHECK_BYTES(TM_ERR_WIRE_TRAILING, 0x91, 0x01, 0x02);
    CHECK_BYTES(TM_ERR_WIRE_TRAILING, 0x80, 0x00);
    CHECK_BYTES(TM_ERR_WIRE_TRAILING, 0xa1, 'a', 0xc1); /* never looked at */
    assert_rc(tm_wire_object_len(two, sizeof two, NULL, &n), 0);
    assert_int_equal(n, 2);
}

static void test_size_limit(void **state)
{
    static const uint8_t hdr32[] = {0xc6, 0x00, 0x10, 0x00, 0x00}; /* 1 MiB */
    static const uint8_t hdr8[] = {0xc4, 95};
    tm_wire_limits_t lim = {100, 0};
    size_t n = 0;
    uint8_t *b = NULL;

    (void)state;
    /* bin8 of 95 bytes: 97 bytes in all; then 2 trailing objects */
    b = s_with_body(hdr8, sizeof hdr8, 95 + 4, 0xc0);
    assert_rc(tm_wire_check(b, 97, &lim), 0);
    lim.max_size = 96;
    assert_rc(tm_wire_check(b, 97, &lim), TM_ERR_WIRE_TOO_LARGE);
    /* object_len: the buffer may be larger than the limit, the object not */
    assert_rc(tm_wire_object_len(b, 97 + 4, &lim, &n), TM_ERR_WIRE_TOO_LARGE);
    lim.max_size = 97;
    assert_rc(tm_wire_object_len(b, 97 + 4, &lim, &n), 0);
    assert_int_equal(n, 97);
    free(b);

    /* Default limit, 1 MiB: a bin32 of 1 MiB body is 5 bytes over. */
    b = s_with_body(hdr32, sizeof hdr32, 1024 * 1024, 0);
    assert_rc(tm_wire_check(b, sizeof hdr32 + 1024 * 1024, NULL),
              TM_ERR_WIRE_TOO_LARGE);
    lim.max_size = 2 * 1024 * 1024;
    assert_rc(tm_wire_check(b, sizeof hdr32 + 1024 * 1024, &lim), 0);
    free(b);
}

/* Every 1- and 2-byte input: the checker and msgpack-c agree. */
static void test_exhaustive_short(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 256 + 65536; v++) {
        uint8_t b[2];
        size_t len = v < 256 ? 1 : 2;
        msgpack_zone zone;
        msgpack_object obj;
        if (len == 1) {
            b[0] = (uint8_t)v;
        } else {
            b[0] = (uint8_t)((v - 256) >> 8);
            b[1] = (uint8_t)(v - 256);
        }
        int rc = tm_wire_check(b, len, NULL);
        msgpack_zone_init(&zone, 64);
        int urc = tm_wire_unpack(b, len, NULL, &zone, &obj);
        msgpack_zone_destroy(&zone);
        assert_rc(urc, rc);
        if (rc == 0) {
            size_t off = 0;
            msgpack_zone_init(&zone, 64);
            assert_int_equal(
                msgpack_unpack((const char *)b, len, &off, &zone, &obj),
                MSGPACK_UNPACK_SUCCESS);
            assert_int_equal(off, len);
            msgpack_zone_destroy(&zone);
        }
    }
}

/* Random mutations of valid objects: whatever the checker accepts,
 * msgpack-c unpacks in full and packs back into something that passes. */
static void test_mutations(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15u;

    (void)state;
    for (int round = 0; round < 200000; round++) {
        const s_valid_t *v =
            &s_valid[round % (int)(sizeof s_valid / sizeof s_valid[0])];
        uint8_t b[64];
        size_t len = v->len;
        memcpy(b, v->bytes, len);
        for (int m = 0; m < 3; m++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[(x >> 8) % len] = (uint8_t)x;
        }
        if (x & 0x10000) {
            len -= (x >> 20) % len;
        }
        int rc = tm_wire_check(b, len, NULL);
        assert_true(rc <= 0 && rc >= TM_ERR_WIRE_MALFORMED);
        if (rc == 0) {
            msgpack_zone zone;
            msgpack_object obj;
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_zone_init(&zone, 256);
            assert_rc(tm_wire_unpack(b, len, NULL, &zone, &obj), 0);
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            assert_int_equal(msgpack_pack_object(&pk, obj), 0);
            assert_rc(tm_wire_check((const uint8_t *)sb.data, sb.size, NULL),
                      0);
            msgpack_sbuffer_destroy(&sb);
            msgpack_zone_destroy(&zone);
        }
    }
}

/* ---- accessors on msgpack objects ------------------------------------- */

static void s_pack_sample(tm_wire_buf_t *b)
{
    msgpack_pack_map(&b->pk, 9);
    tm_wire_pack_kv_u64(&b->pk, "u", UINT64_MAX);
    tm_wire_pack_kv_i64(&b->pk, "i", INT64_MIN);
    tm_wire_pack_kv_i64(&b->pk, "small", 7);
    tm_wire_pack_kv_f64(&b->pk, "f", 2.5);
    tm_wire_pack_kv_str(&b->pk, "s", "hello");
    tm_wire_pack_kv_bool(&b->pk, "t", 1);
    tm_wire_pack_kv_str(&b->pk, "dup", "one");
    tm_wire_pack_kv_str(&b->pk, "dup", "two");
    msgpack_pack_int(&b->pk, 5); /* a non-str key, skipped by lookups */
    msgpack_pack_nil(&b->pk);
}

static void test_accessors(void **state)
{
    tm_wire_buf_t b;
    uint8_t *bytes = NULL;
    size_t len = 0;
    msgpack_zone zone;
    msgpack_object obj;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    int t = 0;
    const char *s = NULL;
    size_t slen = 0;

    (void)state;
    tm_wire_buf_init(&b);
    s_pack_sample(&b);
    assert_rc(tm_wire_buf_finish(&b, &bytes, &len), 0);
    tm_wire_buf_destroy(&b);
    msgpack_zone_init(&zone, 1024);
    assert_rc(tm_wire_unpack(bytes, len, NULL, &zone, &obj), 0);

    assert_rc(tm_wire_get_u64(&obj, "u", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_rc(tm_wire_get_i64(&obj, "i", &i), 0);
    assert_true(i == INT64_MIN);
    assert_rc(tm_wire_get_i64(&obj, "small", &i), 0);
    assert_true(i == 7);
    assert_rc(tm_wire_get_u64(&obj, "small", &u), 0);
    assert_true(u == 7);
    assert_rc(tm_wire_get_f64(&obj, "f", &f), 0);
    assert_true(f == 2.5);
    assert_rc(tm_wire_get_f64(&obj, "small", &f), 0); /* int as double */
    assert_true(f == 7.0);
    assert_rc(tm_wire_get_f64(&obj, "i", &f), 0);
    assert_true(f == -9223372036854775808.0);
    assert_rc(tm_wire_get_str(&obj, "s", &s, &slen), 0);
    assert_int_equal(slen, 5);
    assert_memory_equal(s, "hello", 5);
    assert_true(s >= (const char *)bytes && s < (const char *)bytes + len);
    assert_rc(tm_wire_get_bool(&obj, "t", &t), 0);
    assert_int_equal(t, 1);

    /* missing, wrong type, out of range, duplicate */
    assert_rc(tm_wire_get_u64(&obj, "nope", &u), TM_ERR_WIRE_FIELD);
    assert_rc(tm_wire_get_u64(&obj, "", &u), TM_ERR_WIRE_FIELD);
    assert_rc(tm_wire_get_u64(&obj, "s", &u), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_get_u64(&obj, "i", &u), TM_ERR_WIRE_FIELD);
    assert_rc(tm_wire_get_i64(&obj, "u", &i), TM_ERR_WIRE_FIELD);
    assert_rc(tm_wire_get_i64(&obj, "f", &i), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_get_bool(&obj, "small", &t), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_get_f64(&obj, "s", &f), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_get_str(&obj, "u", &s, &slen), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_get_str(&obj, "dup", &s, &slen), TM_ERR_WIRE_FIELD);
    assert_null(tm_wire_map_get(&obj, "dup"));
    assert_null(tm_wire_map_get(&obj, NULL));
    assert_null(tm_wire_map_get(NULL, "u"));
    assert_non_null(tm_wire_map_get(&obj, "u"));

    /* not a map */
    assert_rc(tm_wire_get_u64(tm_wire_map_get(&obj, "s"), "x", &u),
              TM_ERR_WIRE_TYPE);
    assert_null(tm_wire_map_get(tm_wire_map_get(&obj, "s"), "x"));
    assert_rc(tm_wire_get_u64(NULL, "x", &u), TM_ERR_WIRE_TYPE);

    assert_true(u == 7); /* failed calls left the output alone */
    msgpack_zone_destroy(&zone);
    free(bytes);
}

/* ---- sequential reader ------------------------------------------------- */

static void test_reader(void **state)
{
    static const uint8_t msg[] = {
        0x9a,                                                 /* array of 10 */
        0xd0, 0x05,                                           /* int8 5 */
        0xd0, 0xff,                                           /* int8 -1 */
        0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* u64 max */
        0xd3, 0x80, 0,    0,    0,    0,    0,    0,    0,    /* i64 min */
        0xca, 0x3f, 0xc0, 0x00, 0x00,                         /* f32 1.5 */
        0xd9, 0x02, 'h',  'i',                                /* str8 "hi" */
        0xc4, 0x01, 0xab,                                     /* bin8 */
        0x82, 0xa1, 'a',  0x91, 0x90, 0xa1, 'b',  0xc0,       /* skipped */
        0xc3,                                                 /* true */
        0xc0,                                                 /* nil */
    };
    tm_wire_reader_t r;
    uint32_t n = 0;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    const char *s = NULL;
    const uint8_t *p = NULL;
    size_t len = 0;
    int t = 0;

    (void)state;
    assert_rc(tm_wire_check(msg, sizeof msg, NULL), 0);
    tm_wire_reader_init(&r, msg, sizeof msg);
    assert_rc(tm_wire_read_map(&r, &n), TM_ERR_WIRE_TYPE);
    assert_int_equal(tm_wire_reader_left(&r), sizeof msg);
    assert_rc(tm_wire_read_array(&r, &n), 0);
    assert_int_equal(n, 10);

    assert_rc(tm_wire_read_str(&r, &s, &len), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_read_u64(&r, &u), 0);
    assert_true(u == 5);
    assert_rc(tm_wire_read_u64(&r, &u), TM_ERR_WIRE_FIELD); /* -1 */
    assert_rc(tm_wire_read_i64(&r, &i), 0);
    assert_true(i == -1);
    assert_rc(tm_wire_read_i64(&r, &i), TM_ERR_WIRE_FIELD); /* u64 max */
    assert_rc(tm_wire_read_f64(&r, &f), 0);
    assert_true(f == 18446744073709551615.0);
    assert_rc(tm_wire_read_i64(&r, &i), 0);
    assert_true(i == INT64_MIN);
    assert_rc(tm_wire_read_bool(&r, &t), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_read_f64(&r, &f), 0);
    assert_true(f == 1.5);
    assert_rc(tm_wire_read_bin(&r, &p, &len), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_read_str(&r, &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "hi", 2);
    assert_rc(tm_wire_read_bin(&r, &p, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(p[0], 0xab);
    assert_rc(tm_wire_read_skip(&r, &p, &len), 0);
    assert_int_equal(len, 8);
    assert_int_equal(p[0], 0x82);
    assert_rc(tm_wire_read_nil(&r), TM_ERR_WIRE_TYPE);
    assert_rc(tm_wire_read_bool(&r, &t), 0);
    assert_int_equal(t, 1);
    assert_rc(tm_wire_read_nil(&r), 0);
    assert_int_equal(tm_wire_reader_left(&r), 0);
    assert_rc(tm_wire_read_nil(&r), TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_wire_read_skip(&r, NULL, NULL), TM_ERR_WIRE_TRUNCATED);
}

/* The reader is bounded on its own, even over unchecked bytes. */
static void test_reader_hostile(void **state)
{
    static const uint8_t huge[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    static const uint8_t cut[] = {0xd9, 0x09, 'a'};
    static const uint8_t cuthdr[] = {0xda, 0x00};
    static const uint8_t cutint[] = {0xcd, 0x01};
    static const uint8_t bad[] = {0xc1};
    tm_wire_reader_t r;
    uint32_t n = 0;
    const char *s = NULL;
    size_t len = 0;
    uint64_t u = 0;

    (void)state;
    tm_wire_reader_init(&r, huge, sizeof huge);
    assert_rc(tm_wire_read_array(&r, &n), TM_ERR_WIRE_COUNT);
    assert_rc(tm_wire_read_skip(&r, NULL, NULL), TM_ERR_WIRE_COUNT);
    assert_int_equal(tm_wire_reader_left(&r), sizeof huge);
    tm_wire_reader_init(&r, cut, sizeof cut);
    assert_rc(tm_wire_read_str(&r, &s, &len), TM_ERR_WIRE_TRUNCATED);
    tm_wire_reader_init(&r, cuthdr, sizeof cuthdr);
    assert_rc(tm_wire_read_str(&r, &s, &len), TM_ERR_WIRE_TRUNCATED);
    tm_wire_reader_init(&r, cutint, sizeof cutint);
    assert_rc(tm_wire_read_u64(&r, &u), TM_ERR_WIRE_TRUNCATED);
    tm_wire_reader_init(&r, bad, sizeof bad);
    assert_rc(tm_wire_read_u64(&r, &u), TM_ERR_WIRE_MALFORMED);
    tm_wire_reader_init(&r, NULL, 0);
    assert_rc(tm_wire_read_u64(&r, &u), TM_ERR_WIRE_TRUNCATED);
}

/* Every integer encoding reads back as the same value. */
static void test_reader_integers(void **state)
{
    static const int64_t values[] = {0,
                                     1,
                                     127,
                                     128,
                                     255,
                                     256,
                                     65535,
                                     65536,
                                     -1,
                                     -32,
                                     -33,
                                     -128,
                                     -129,
                                     -32768,
                                     -32769,
                                     INT32_MIN,
                                     -2147483649LL,
                                     INT64_MIN,
                                     INT64_MAX,
                                     4294967295LL,
                                     4294967296LL};
    (void)state;
    for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
        tm_wire_buf_t b;
        tm_wire_reader_t r;
        uint8_t *bytes = NULL;
        size_t len = 0;
        int64_t i = 0;
        double f = 0;

        tm_wire_buf_init(&b);
        msgpack_pack_int64(&b.pk, values[k]);
        assert_rc(tm_wire_buf_finish(&b, &bytes, &len), 0);
        tm_wire_buf_destroy(&b);
        assert_rc(tm_wire_check(bytes, len, NULL), 0);
        tm_wire_reader_init(&r, bytes, len);
        assert_rc(tm_wire_read_i64(&r, &i), 0);
        assert_true(i == values[k]);
        tm_wire_reader_init(&r, bytes, len);
        assert_rc(tm_wire_read_f64(&r, &f), 0);
        assert_true(f == (double)values[k]);
        free(bytes);
    }
}

/* ---- packing helpers --------------------------------------------------- */

static void test_pack_helpers(void **state)
{
    static const uint8_t raw[] = {0x92, 0x01, 0xa1, 'x'};
    tm_wire_buf_t b;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_wire_reader_t r;
    uint32_t n = 0;
    const char *s = NULL;
    size_t slen = 0;
    double f = 0;

    (void)state;
    tm_wire_buf_init(&b);
    assert_rc(tm_wire_buf_finish(&b, &bytes, &len), TM_ERR_INVAL);
    msgpack_pack_array(&b.pk, 4);
    tm_wire_pack_str(&b.pk, NULL);
    tm_wire_pack_str(&b.pk, "");
    tm_wire_pack_raw(&b.pk, raw, sizeof raw);
    tm_wire_pack_raw(&b.pk, NULL, 0);
    msgpack_pack_double(&b.pk, -0.0);
    assert_rc(tm_wire_buf_finish(&b, &bytes, &len), 0);
    assert_non_null(bytes);
    tm_wire_buf_destroy(&b);
    tm_wire_buf_destroy(&b); /* twice is fine */

    assert_rc(tm_wire_check(bytes, len, NULL), 0);
    tm_wire_reader_init(&r, bytes, len);
    assert_rc(tm_wire_read_array(&r, &n), 0);
    assert_int_equal(n, 4);
    assert_rc(tm_wire_read_str(&r, &s, &slen), 0);
    assert_int_equal(slen, 0);
    assert_rc(tm_wire_read_str(&r, &s, &slen), 0);
    assert_int_equal(slen, 0);
    assert_rc(tm_wire_read_skip(&r, NULL, &slen), 0);
    assert_int_equal(slen, sizeof raw);
    assert_rc(tm_wire_read_f64(&r, &f), 0);
    assert_true(f == 0.0 && signbit(f));
    free(bytes);
}

/* Once a write failed (out of memory), the buffer stays failed: later
 * writes are refused and finish reports it, so encoders check once. */
static void test_buf_sticky_failure(void **state)
{
    tm_wire_buf_t b;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    tm_wire_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    b.failed = 1; /* as s_buf_write sets it when realloc fails */
    assert_int_not_equal(msgpack_pack_uint64(&b.pk, 1), 0);
    tm_wire_pack_kv_str(&b.pk, "k", "v");
    assert_int_equal(b.sbuf.size, 1); /* nothing after the failure */
    assert_rc(tm_wire_buf_ok(&b), TM_ERR_NOMEM);
    assert_rc(tm_wire_buf_finish(&b, &bytes, &len), TM_ERR_NOMEM);
    assert_null(bytes);
    tm_wire_buf_destroy(&b);
}

/* clear forgets the bytes and a failure, so one buffer builds many
 * messages (reply bodies, store records); kv_nil writes key: nil. */
static void test_buf_clear_reuse(void **state)
{
    tm_wire_buf_t b;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_wire_reader_t r;
    uint32_t n = 0;
    const char *s = NULL;
    size_t slen = 0;

    (void)state;
    tm_wire_buf_init(&b);
    assert_rc(tm_wire_buf_ok(&b), 0);
    msgpack_pack_array(&b.pk, 1);
    b.failed = 1;
    assert_rc(tm_wire_buf_ok(&b), TM_ERR_NOMEM);
    tm_wire_buf_clear(&b);
    assert_rc(tm_wire_buf_ok(&b), 0);
    assert_int_equal(b.sbuf.size, 0);
    msgpack_pack_map(&b.pk, 1);
    tm_wire_pack_kv_nil(&b.pk, "none");
    assert_rc(tm_wire_buf_ok(&b), 0);
    assert_rc(tm_wire_check((const uint8_t *)b.sbuf.data, b.sbuf.size, NULL),
              0);
    tm_wire_buf_clear(&b);
    msgpack_pack_map(&b.pk, 1);
    tm_wire_pack_kv_nil(&b.pk, "k");
    assert_rc(tm_wire_buf_finish(&b, &bytes, &len), 0);
    tm_wire_buf_destroy(&b);
    tm_wire_reader_init(&r, bytes, len);
    assert_rc(tm_wire_read_map(&r, &n), 0);
    assert_int_equal(n, 1);
    assert_rc(tm_wire_read_str(&r, &s, &slen), 0);
    assert_int_equal(slen, 1);
    assert_rc(tm_wire_read_nil(&r), 0);
    assert_int_equal(tm_wire_reader_left(&r), 0);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_objects),
        cmocka_unit_test(test_empty_buffer),
        cmocka_unit_test(test_reserved_c1),
        cmocka_unit_test(test_truncated_headers),
        cmocka_unit_test(test_counts_beyond_bytes),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_exhaustive_short),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_reader_hostile),
        cmocka_unit_test(test_reader_integers),
        cmocka_unit_test(test_pack_helpers),
        cmocka_unit_test(test_buf_sticky_failure),
        cmocka_unit_test(test_buf_clear_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
