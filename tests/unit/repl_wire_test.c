/* repl_wire_test: the parts of the standby stream (protocol/tm_repl_wire):
 * round trips of every kind of operation, the limits, and every refusal
 * of the encoder and the decoder. */
#include "tm_err.h"
#include "tm_repl_wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

static const uint8_t s_rec[] = {0x81, 0xa1, 'v', 0x01};

static tm_repl_t s_part(tm_repl_op_t *ops, uint32_t n)
{
    tm_repl_t r = {.inc = 1764547200000000000ull,
                   .seq = 7,
                   .part = 1,
                   .parts = 3,
                   .full = true,
                   .mutation = false,
                   .n_ops = n,
                   .ops = ops};
    strcpy(r.from, "node-a");
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    tm_repl_op_t ops[] = {
        {.db = TM_REPL_ACTORS, .kind = TM_REPL_CLEAR},
        {.db = TM_REPL_ACTORS,
         .kind = TM_REPL_PUT,
         .key = (const uint8_t *)"tank-1",
         .klen = 6,
         .val = s_rec,
         .vlen = sizeof s_rec},
        {.db = TM_REPL_LINKS,
         .kind = TM_REPL_DEL,
         .key = (const uint8_t *)"p.f>t.q",
         .klen = 7},
        {.db = TM_REPL_META,
         .kind = TM_REPL_PUT,
         .key = (const uint8_t *)"tick",
         .klen = 4,
         .val = (const uint8_t *)"",
         .vlen = 0},
    };
    tm_repl_t r = s_part(ops, 4);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), 0);
    tm_repl_t d;
    assert_int_equal(tm_repl_decode(buf, len, &d), 0);
    free(buf); /* the part owns its copy */
    assert_string_equal(d.from, "node-a");
    assert_true(d.inc == r.inc);
    assert_int_equal(d.seq, 7);
    assert_int_equal(d.part, 1);
    assert_int_equal(d.parts, 3);
    assert_true(d.full);
    assert_false(d.mutation);
    assert_int_equal(d.n_ops, 4);
    assert_int_equal(d.ops[0].kind, TM_REPL_CLEAR);
    assert_int_equal(d.ops[0].klen, 0);
    assert_int_equal(d.ops[1].db, TM_REPL_ACTORS);
    assert_memory_equal(d.ops[1].key, "tank-1", 6);
    assert_int_equal(d.ops[1].vlen, sizeof s_rec);
    assert_memory_equal(d.ops[1].val, s_rec, sizeof s_rec);
    assert_int_equal(d.ops[2].kind, TM_REPL_DEL);
    assert_int_equal(d.ops[2].vlen, 0);
    assert_int_equal(d.ops[3].kind, TM_REPL_PUT);
    assert_int_equal(d.ops[3].vlen, 0); /* an empty value is a value */
    tm_repl_free(&d);
    tm_repl_free(&d); /* twice is fine */
}

static void test_encode_refusals(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t key[TM_REPL_KEY_MAX + 1];
    memset(key, 'k', sizeof key);
    tm_repl_op_t op = {.db = TM_REPL_LINKS,
                       .kind = TM_REPL_PUT,
                       .key = key,
                       .klen = TM_REPL_KEY_MAX,
                       .val = s_rec,
                       .vlen = 1};
    tm_repl_t r = s_part(&op, 1);
    assert_int_equal(tm_repl_encode(&r, &buf, &len), 0); /* the longest key */
    free(buf);
    op.klen = TM_REPL_KEY_MAX + 1;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.klen = 0;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.klen = 1;
    op.db = 4;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.db = TM_REPL_AUDIT; /* an audit record's key: its 8-byte number */
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    const uint8_t zero[8] = {0}, seven[8] = {0, 0, 0, 0, 0, 0, 0, 7};
    op.key = zero;
    op.klen = 8;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.key = seven;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), 0);
    tm_repl_t d;
    assert_int_equal(tm_repl_decode(buf, len, &d), 0);
    assert_int_equal(d.n_ops, 1);
    assert_int_equal(d.ops[0].db, TM_REPL_AUDIT);
    assert_memory_equal(d.ops[0].key, seven, 8);
    tm_repl_free(&d);
    free(buf);
    op.key = key;
    op.klen = 1;
    op.db = TM_REPL_META;
    op.kind = TM_REPL_DEL; /* a delete with a value */
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.kind = TM_REPL_CLEAR; /* a clear with a key */
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    op.kind = TM_REPL_PUT;
    r.part = 3; /* part >= parts */
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    r.part = 0;
    r.seq = 0;
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
    r.seq = 1;
    r.from[0] = '\0';
    assert_int_equal(tm_repl_encode(&r, &buf, &len), TM_ERR_INVAL);
}

/* A part packed by hand with one field changed. */
static size_t s_pack(uint8_t *out, size_t cap, int variant)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    const char *keys[] = {"v",     "from", "inc",      "seq", "part",
                          "parts", "full", "mutation", "ops"};
    for (int i = 0; i < 9; i++) {
        msgpack_pack_str(&pk, strlen(keys[i]));
        msgpack_pack_str_body(&pk, keys[i], strlen(keys[i]));
        switch (i) {
        case 0:
            msgpack_pack_uint8(&pk, variant == 1 ? 2 : 1);
            break;
        case 1:
            msgpack_pack_str(&pk, 1);
            msgpack_pack_str_body(&pk, "a", 1);
            break;
        case 3:
            msgpack_pack_uint8(&pk, variant == 2 ? 0 : 5);
            break;
        case 4:
            msgpack_pack_uint8(&pk, variant == 3 ? 1 : 0);
            break;
        case 6:
        case 7:
            msgpack_pack_true(&pk);
            break;
        case 8:
            msgpack_pack_array(&pk, 1);
            msgpack_pack_array(&pk, 4);
            msgpack_pack_uint8(&pk, 1);
            msgpack_pack_uint8(&pk, 0);
            if (variant == 4) { /* a key as str */
                msgpack_pack_str(&pk, 1);
                msgpack_pack_str_body(&pk, "k", 1);
            } else {
                msgpack_pack_bin(&pk, 1);
                msgpack_pack_bin_body(&pk, "k", 1);
            }
            if (variant == 5) { /* a put without a value */
                msgpack_pack_nil(&pk);
            } else {
                msgpack_pack_bin(&pk, 1);
                msgpack_pack_bin_body(&pk, "v", 1);
            }
            break;
        default:
            msgpack_pack_uint8(&pk, 1);
            break;
        }
    }
    assert_true(sb.size <= cap);
    memcpy(out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_decode_refusals(void **state)
{
    (void)state;
    uint8_t buf[256];
    tm_repl_t d;
    size_t n = s_pack(buf, sizeof buf, 0);
    assert_int_equal(tm_repl_decode(buf, n, &d), 0);
    assert_int_equal(d.n_ops, 1);
    assert_true(d.mutation);
    tm_repl_free(&d);
    for (size_t cut = 0; cut < n; cut++) { /* every truncation */
        assert_true(tm_repl_decode(buf, cut, &d) < 0);
        assert_null(d.ops);
    }
    n = s_pack(buf, sizeof buf, 1);
    assert_int_equal(tm_repl_decode(buf, n, &d), TM_ERR_WIRE_VERSION);
    for (int v = 2; v <= 5; v++) {
        n = s_pack(buf, sizeof buf, v);
        int rc = tm_repl_decode(buf, n, &d);
        assert_true(rc == TM_ERR_WIRE_FIELD || rc == TM_ERR_WIRE_TYPE);
        assert_null(d.ops);
        assert_null(d.owned);
    }
    assert_int_equal(tm_repl_decode(buf, TM_REPL_BYTES_MAX + 1, &d),
                     TM_ERR_WIRE_TOO_LARGE);
    assert_int_equal(tm_repl_decode(buf, n, NULL), TM_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_decode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
