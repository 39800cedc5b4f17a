/* body_test: documents built from declared fields (protocol/tm_body) are
 * byte for byte what msgpack-c writes with hand-counted headers, at every
 * header size; misuse is reported, never written. Also the statistics
 * registry (nodes/tm_stats), which packs through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_body.h"
#include "tm_err.h"
#include "tm_stats.h"
#include "tm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_same(const tm_wire_buf_t *a, const tm_wire_buf_t *b)
{
    assert_int_equal(a->sbuf.size, b->sbuf.size);
    assert_memory_equal(a->sbuf.data, b->sbuf.data, a->sbuf.size);
}

/* A map of n entries {"k<i>": i} and an array of n elements, nested in an
 * outer map, against msgpack-c with the counts given up front. */
static void s_check_sizes(uint32_t n)
{
    tm_wire_buf_t got, want;
    tm_body_t b;
    char key[32];
    tm_wire_buf_init(&got);
    tm_wire_buf_init(&want);
    tm_body_start(&b, &got);
    tm_body_map(&b);
    tm_body_kv_map(&b, "m");
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        tm_body_kv_u64(&b, key, i);
    }
    tm_body_end(&b);
    tm_body_kv_array(&b, "a");
    for (uint32_t i = 0; i < n; i++) {
        tm_body_f64(&b, i * 0.5);
    }
    tm_body_end(&b);
    tm_body_kv_str(&b, "s", "x");
    tm_body_end(&b);
    assert_int_equal(tm_body_done(&b), 0);

    msgpack_packer *pk = &want.pk;
    msgpack_pack_map(pk, 3);
    tm_wire_pack_str(pk, "m");
    msgpack_pack_map(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        tm_wire_pack_kv_u64(pk, key, i);
    }
    tm_wire_pack_str(pk, "a");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_double(pk, i * 0.5);
    }
    tm_wire_pack_kv_str(pk, "s", "x");
    s_same(&got, &want);
    tm_wire_limits_t lim = {.max_size = got.sbuf.size};
    assert_int_equal(
        tm_wire_check((const uint8_t *)got.sbuf.data, got.sbuf.size, &lim), 0);
    tm_wire_buf_destroy(&got);
    tm_wire_buf_destroy(&want);
}

static void test_header_sizes(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {0, 1, 15, 16, 17, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        s_check_sizes(sizes[i]);
    }
}

/* Values of every kind, in arrays of maps of arrays. */
static void test_nesting(void **state)
{
    (void)state;
    tm_wire_buf_t got, want;
    tm_body_t b;
    tm_wire_buf_init(&got);
    tm_wire_buf_init(&want);
    tm_body_start(&b, &got);
    tm_body_array(&b);
    for (int i = 0; i < 3; i++) {
        tm_body_map(&b);
        tm_body_kv_bool(&b, "b", i % 2 == 0);
        tm_body_kv_nil(&b, "n");
        tm_body_kv_array(&b, "v");
        tm_body_str(&b, NULL);
        tm_body_nil(&b);
        tm_body_map(&b);
        tm_body_end(&b);
        tm_body_end(&b);
        tm_body_end(&b);
    }
    tm_body_end(&b);
    assert_int_equal(tm_body_done(&b), 0);
    msgpack_packer *pk = &want.pk;
    msgpack_pack_array(pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(pk, 3);
        tm_wire_pack_kv_bool(pk, "b", i % 2 == 0);
        tm_wire_pack_kv_nil(pk, "n");
        tm_wire_pack_str(pk, "v");
        msgpack_pack_array(pk, 3);
        tm_wire_pack_str(pk, "");
        msgpack_pack_nil(pk);
        msgpack_pack_map(pk, 0);
    }
    s_same(&got, &want);
    /* the same builder over the same buffer starts afresh */
    tm_body_start(&b, &got);
    tm_body_u64(&b, 7);
    assert_int_equal(tm_body_done(&b), 0);
    assert_int_equal(got.sbuf.size, 1);
    tm_wire_buf_destroy(&got);
    tm_wire_buf_destroy(&want);
}

static void test_misuse(void **state)
{
    (void)state;
    tm_wire_buf_t buf;
    tm_body_t b;
    tm_wire_buf_init(&buf);
    tm_body_start(&b, &buf);
    tm_body_map(&b);
    assert_int_equal(tm_body_done(&b), TM_ERR_INTERNAL); /* left open */
    tm_body_start(&b, &buf);
    tm_body_end(&b);
    assert_int_equal(tm_body_done(&b), TM_ERR_INTERNAL); /* nothing open */
    tm_body_start(&b, &buf);
    tm_body_array(&b);
    tm_body_key(&b, "k"); /* a key in an array */
    tm_body_end(&b);
    assert_int_equal(tm_body_done(&b), TM_ERR_INTERNAL);
    tm_body_start(&b, &buf);
    for (int i = 0; i < TM_BODY_DEPTH_MAX + 1; i++) {
        tm_body_array(&b);
    }
    for (int i = 0; i < TM_BODY_DEPTH_MAX + 1; i++) {
        tm_body_end(&b);
    }
    assert_int_equal(tm_body_done(&b), TM_ERR_INTERNAL); /* too deep */
    tm_wire_buf_destroy(&buf);
}

/* ---- the statistics registry -------------------------------------------- */

static uint64_t s_seven(void *arg)
{
    (void)arg;
    return 7;
}

static double s_half(void *arg)
{
    return *(double *)arg;
}

static const char *s_name(void *arg)
{
    (void)arg;
    return "n1";
}

static bool s_yes(void *arg)
{
    (void)arg;
    return true;
}

static void s_list(void *arg, tm_body_t *b)
{
    (void)arg;
    tm_body_array(b);
    tm_body_u64(b, 1);
    tm_body_u64(b, 2);
    tm_body_end(b);
}

static void test_stats(void **state)
{
    (void)state;
    double half = 0.5;
    tm_stats_t *s = tm_stats_new();
    assert_non_null(s);
    assert_int_equal(tm_stats_add_str(s, "node", s_name, NULL), 0);
    assert_int_equal(tm_stats_add_u64(s, "tick", s_seven, NULL), 0);
    assert_int_equal(tm_stats_add_body(s, "shards", s_list, NULL), 0);
    assert_int_equal(tm_stats_add_u64(s, "checkpoint.count", s_seven, NULL), 0);
    assert_int_equal(tm_stats_add_f64(s, "console.rate", s_half, &half), 0);
    /* after another section: still packed in its own section's map */
    assert_int_equal(tm_stats_add_bool(s, "checkpoint.pending", s_yes, NULL),
                     0);
    assert_int_equal(tm_stats_add_u64(s, "tick", s_seven, NULL), TM_ERR_EXISTS);
    size_t n = 0;
    assert_non_null(tm_stats_entries(s, &n));
    assert_int_equal(n, 6);

    tm_wire_buf_t got, want;
    tm_body_t b;
    tm_wire_buf_init(&got);
    tm_wire_buf_init(&want);
    tm_body_start(&b, &got);
    tm_stats_pack(s, &b);
    assert_int_equal(tm_body_done(&b), 0);
    msgpack_packer *pk = &want.pk;
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "node", "n1");
    tm_wire_pack_kv_u64(pk, "tick", 7);
    tm_wire_pack_str(pk, "shards");
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 2);
    tm_wire_pack_str(pk, "checkpoint");
    msgpack_pack_map(pk, 2);
    tm_wire_pack_kv_u64(pk, "count", 7);
    tm_wire_pack_kv_bool(pk, "pending", 1);
    tm_wire_pack_str(pk, "console");
    msgpack_pack_map(pk, 1);
    tm_wire_pack_kv_f64(pk, "rate", 0.5);
    s_same(&got, &want);
    tm_wire_buf_destroy(&got);
    tm_wire_buf_destroy(&want);
    tm_stats_destroy(&s);
    assert_null(s);
    tm_stats_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_sizes),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
