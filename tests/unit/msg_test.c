/* msg_test: encoders and decoders of protocol/tm_msg: a round trip for every
 * message type, then hostile inputs (wrong types, unknown version or type,
 * truncation, huge counts, deep nesting, oversize, NUL bytes in names). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_err.h"
#include "tm_msg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static void s_assert_rc(int got, int want, const char *expr, const char *file,
                        int line)
{
    if (got != want) {
        print_error("%s returned %s (%d), expected %s (%d)\n", expr,
                    tm_err_name(got), got, tm_err_name(want), want);
        _fail(file, line);
    }
}

#define assert_rc(expr, want)                                                  \
    s_assert_rc((expr), (want), #expr, __FILE__, __LINE__)

/* A hand-built message: a tm_wire_buf_t that tests pack into freely. */
typedef struct {
    tm_wire_buf_t b;
    uint8_t *bytes;
    size_t len;
} s_msg_t;

static msgpack_packer *s_begin(s_msg_t *m)
{
    memset(m, 0, sizeof *m);
    tm_wire_buf_init(&m->b);
    return &m->b.pk;
}

static void s_end(s_msg_t *m)
{
    assert_rc(tm_wire_buf_finish(&m->b, &m->bytes, &m->len), 0);
    tm_wire_buf_destroy(&m->b);
}

static void s_free(s_msg_t *m)
{
    free(m->bytes);
    m->bytes = NULL;
}

static void s_pack_bytes_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* An envelope with arbitrary field objects: version, type and payload as
 * given; source "a", destination "b", tick 1, seq 2. */
static void s_envelope_raw(s_msg_t *m, int64_t version, int64_t type,
                           const uint8_t *payload, size_t plen)
{
    msgpack_packer *pk = s_begin(m);
    msgpack_pack_array(pk, 7);
    msgpack_pack_int64(pk, version);
    msgpack_pack_int64(pk, type);
    tm_wire_pack_str(pk, "a");
    tm_wire_pack_str(pk, "b");
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 2);
    tm_wire_pack_raw(pk, payload, plen);
    s_end(m);
}

static tm_envelope_t s_env(uint32_t type, const char *src, const char *dst)
{
    tm_envelope_t env;
    memset(&env, 0, sizeof env);
    env.type = type;
    snprintf(env.source, sizeof env.source, "%s", src);
    snprintf(env.destination, sizeof env.destination, "%s", dst);
    env.tick = 123456789012345ull;
    env.seq = 42;
    return env;
}

/* Every strict prefix of a valid message fails with TRUNCATED or COUNT. */
typedef int (*s_decode_fn)(const uint8_t *, size_t, const tm_wire_limits_t *,
                           void *);

static void s_assert_prefixes_fail(const uint8_t *bytes, size_t len,
                                   s_decode_fn decode, void *out)
{
    for (size_t k = 0; k < len; k++) {
        int rc = decode(bytes, k, NULL, out);
        if (rc != TM_ERR_WIRE_TRUNCATED && rc != TM_ERR_WIRE_COUNT) {
            print_error("prefix %zu of %zu: %s\n", k, len, tm_err_name(rc));
            fail();
        }
    }
}

static int s_env_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                        void *out)
{
    return tm_envelope_decode(b, n, l, out);
}

static int s_req_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                        void *out)
{
    return tm_console_req_decode(b, n, l, out);
}

static int s_rep_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                        void *out)
{
    return tm_console_rep_decode(b, n, l, out);
}

static int s_hb_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                       void *out)
{
    return tm_heartbeat_decode(b, n, l, out);
}

static int s_batch_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                          void *out)
{
    return tm_link_batch_decode(b, n, l, out);
}

/* ---- envelope ---------------------------------------------------------- */

static void test_envelope_round_trip(void **state)
{
    static const uint8_t payload[] = {0x81, 0xa1, 'k', 0x92, 0x01, 0xc3};
    (void)state;
    for (uint32_t type = 1; type <= TM_MSG_TYPE_MAX; type++) {
        tm_envelope_t env = s_env(type, "node-a", "node-b");
        tm_envelope_t got;
        uint8_t *bytes = NULL;
        size_t len = 0;

        assert_rc(
            tm_envelope_encode(&env, payload, sizeof payload, &bytes, &len), 0);
        assert_rc(tm_envelope_decode(bytes, len, NULL, &got), 0);
        assert_int_equal(got.version, TM_PROTO_VERSION);
        assert_int_equal(got.type, type);
        assert_string_equal(got.source, "node-a");
        assert_string_equal(got.destination, "node-b");
        assert_true(got.tick == env.tick);
        assert_true(got.seq == env.seq);
        assert_int_equal(got.payload_len, sizeof payload);
        assert_memory_equal(got.payload, payload, sizeof payload);
        assert_ptr_equal(got.payload, bytes + len - sizeof payload);
        s_assert_prefixes_fail(bytes, len, s_env_decode, &got);
        free(bytes);
    }
}

static void test_envelope_edges(void **state)
{
    char name64[TM_MSG_NAME_MAX + 1];
    tm_envelope_t env;
    tm_envelope_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    memset(name64, 'n', TM_MSG_NAME_MAX);
    name64[TM_MSG_NAME_MAX] = '\0';
    env = s_env(TM_MSG_HEARTBEAT, name64, "");
    env.tick = UINT64_MAX;
    env.seq = UINT64_MAX;
    /* no payload: encoded as nil */
    assert_rc(tm_envelope_encode(&env, NULL, 0, &bytes, &len), 0);
    assert_rc(tm_envelope_decode(bytes, len, NULL, &got), 0);
    assert_string_equal(got.source, name64);
    assert_string_equal(got.destination, "");
    assert_true(got.tick == UINT64_MAX && got.seq == UINT64_MAX);
    assert_int_equal(got.payload_len, 1);
    assert_int_equal(got.payload[0], 0xc0);
    free(bytes);

    /* encoder refuses what a decoder would refuse */
    env.source[TM_MSG_NAME_MAX] = 'x'; /* 65 bytes, no NUL in reach */
    assert_rc(tm_envelope_encode(&env, NULL, 0, &bytes, &len), TM_ERR_INVAL);
    env = s_env(0, "a", "b");
    assert_rc(tm_envelope_encode(&env, NULL, 0, &bytes, &len), TM_ERR_INVAL);
    env.type = TM_MSG_TYPE_MAX + 1;
    assert_rc(tm_envelope_encode(&env, NULL, 0, &bytes, &len), TM_ERR_INVAL);
    env.type = TM_MSG_LINK_BATCH;
    assert_rc(
        tm_envelope_encode(&env, (const uint8_t *)"\xc1", 1, &bytes, &len),
        TM_ERR_INVAL);
    assert_rc(
        tm_envelope_encode(&env, (const uint8_t *)"\xc0\xc0", 2, &bytes, &len),
        TM_ERR_INVAL);
    assert_rc(tm_envelope_encode(&env, NULL, 3, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_envelope_encode(NULL, NULL, 0, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_envelope_decode((const uint8_t *)"\xc0", 1, NULL, NULL),
              TM_ERR_INVAL);
}

static void test_envelope_version_and_type(void **state)
{
    static const uint8_t nil = 0xc0;
    s_msg_t m;
    tm_envelope_t got;

    (void)state;
    s_envelope_raw(&m, 2, 1, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_VERSION);
    s_free(&m);
    s_envelope_raw(&m, 0, 1, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_VERSION);
    s_free(&m);
    s_envelope_raw(&m, -1, 1, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_VERSION);
    s_free(&m);
    s_envelope_raw(&m, 1, 0, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MSGTYPE);
    s_free(&m);
    s_envelope_raw(&m, 1, TM_MSG_TYPE_MAX + 1, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MSGTYPE);
    s_free(&m);
    s_envelope_raw(&m, 1, -3, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MSGTYPE);
    s_free(&m);
    s_envelope_raw(&m, 1, 1000000, &nil, 1);
    memset(&got, 0, sizeof got);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MSGTYPE);
    /* the rest is read, so that the reply can carry the request's seq */
    assert_int_equal(got.seq, 2);
    assert_string_equal(got.source, "a");
    assert_int_equal(got.type, 1000000);
    s_free(&m);

    /* A later version may have another layout: judged on its version. */
    msgpack_packer *pk = s_begin(&m);
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 7);
    msgpack_pack_nil(pk);
    s_end(&m);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_VERSION);
    s_free(&m);
}

static void test_envelope_bad_fields(void **state)
{
    tm_envelope_t got;
    s_msg_t m;
    msgpack_packer *pk = NULL;

    (void)state;
    /* not an array */
    pk = s_begin(&m);
    msgpack_pack_map(pk, 0);
    s_end(&m);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got), TM_ERR_WIRE_TYPE);
    s_free(&m);
    /* empty array */
    pk = s_begin(&m);
    msgpack_pack_array(pk, 0);
    s_end(&m);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_FIELD);
    s_free(&m);
    /* version as a string */
    pk = s_begin(&m);
    msgpack_pack_array(pk, 7);
    tm_wire_pack_str(pk, "1");
    s_end(&m);
    m.bytes = realloc(m.bytes, m.len + 6);
    memset(m.bytes + m.len, 0xc0, 6);
    assert_rc(tm_envelope_decode(m.bytes, m.len + 6, NULL, &got),
              TM_ERR_WIRE_TYPE);
    s_free(&m);
    /* 6 and 8 elements */
    for (uint32_t n = 6; n <= 8; n += 2) {
        pk = s_begin(&m);
        msgpack_pack_array(pk, n);
        msgpack_pack_uint64(pk, 1);
        for (uint32_t i = 1; i < n; i++) {
            msgpack_pack_uint64(pk, 1);
        }
        s_end(&m);
        assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
                  TM_ERR_WIRE_FIELD);
        s_free(&m);
    }
    /* source: not a str, NUL inside, 65 bytes; tick negative, seq a str */
    for (int variant = 0; variant < 6; variant++) {
        static const int want[] = {TM_ERR_WIRE_TYPE,  TM_ERR_WIRE_FIELD,
                                   TM_ERR_WIRE_FIELD, TM_ERR_WIRE_FIELD,
                                   TM_ERR_WIRE_TYPE,  TM_ERR_WIRE_TYPE};
        char long_name[TM_MSG_NAME_MAX + 1];
        memset(long_name, 'x', sizeof long_name);
        pk = s_begin(&m);
        msgpack_pack_array(pk, 7);
        msgpack_pack_uint64(pk, 1);
        msgpack_pack_uint64(pk, 1);
        if (variant == 0) {
            msgpack_pack_bin(pk, 1);
            msgpack_pack_bin_body(pk, "a", 1);
        } else if (variant == 1) {
            s_pack_bytes_str(pk, "a\0b", 3);
        } else if (variant == 2) {
            s_pack_bytes_str(pk, long_name, sizeof long_name);
        } else {
            tm_wire_pack_str(pk, "a");
        }
        tm_wire_pack_str(pk, "b");
        if (variant == 3) {
            msgpack_pack_int64(pk, -1);
        } else if (variant == 5) {
            msgpack_pack_double(pk, 1.0);
        } else {
            msgpack_pack_uint64(pk, 1);
        }
        if (variant == 4) {
            tm_wire_pack_str(pk, "2");
        } else {
            msgpack_pack_uint64(pk, 2);
        }
        msgpack_pack_nil(pk);
        s_end(&m);
        print_message("envelope variant %d\n", variant);
        assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        s_free(&m);
    }
}

static void test_envelope_hostile(void **state)
{
    static const uint8_t huge[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    static const uint8_t c1 = 0xc1;
    tm_wire_limits_t lim = {64, 0};
    tm_envelope_t got;
    s_msg_t m;
    uint8_t *deep = NULL;

    (void)state;
    assert_rc(tm_envelope_decode(NULL, 0, NULL, &got), TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_envelope_decode(huge, sizeof huge, NULL, &got),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_envelope_decode(&c1, 1, NULL, &got), TM_ERR_WIRE_MALFORMED);

    /* the payload is checked with the rest: a huge count inside */
    s_envelope_raw(&m, 1, 1, huge, sizeof huge);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_COUNT);
    s_free(&m);
    s_envelope_raw(&m, 1, 1, &c1, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MALFORMED);
    s_free(&m);

    /* trailing garbage after the envelope */
    s_envelope_raw(&m, 1, 1, (const uint8_t *)"\xc0\xc0", 2);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_TRAILING);
    s_free(&m);

    /* nesting: the envelope is one level, so 31 more fit the default */
    deep = malloc(100001);
    assert_non_null(deep);
    memset(deep, 0x91, 100000);
    deep[100000] = 0xc0;
    s_envelope_raw(&m, 1, 1, deep + 100000 - 31, 32);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got), 0);
    s_free(&m);
    s_envelope_raw(&m, 1, 1, deep + 100000 - 32, 33);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_TOO_DEEP);
    s_free(&m);
    s_envelope_raw(&m, 1, 1, deep, 100001);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_TOO_DEEP);
    s_free(&m);
    assert_rc(tm_envelope_decode(deep, 100001, NULL, &got),
              TM_ERR_WIRE_TOO_DEEP);

    /* oversize against a configured limit */
    memset(deep, 0, 100);
    deep[0] = 0xc4;
    deep[1] = 60;
    s_envelope_raw(&m, 1, 1, deep, 62);
    assert_true(m.len > 64);
    assert_rc(tm_envelope_decode(m.bytes, m.len, &lim, &got),
              TM_ERR_WIRE_TOO_LARGE);
    lim.max_size = m.len;
    assert_rc(tm_envelope_decode(m.bytes, m.len, &lim, &got), 0);
    s_free(&m);
    free(deep);
}

/* ---- console request --------------------------------------------------- */

static void test_console_req_round_trip(void **state)
{
    static const char *const argv[] = {"link", "pump-1.q", "tank-1.q_in", "",
                                       "\xc3\xa9t\xc3\xa9"};
    tm_console_req_t req;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_rc(tm_console_req_encode(5, argv, &bytes, &len), 0);
    assert_rc(tm_console_req_decode(bytes, len, NULL, &req), 0);
    assert_int_equal(req.argc, 5);
    for (uint32_t i = 0; i < 5; i++) {
        assert_string_equal(req.argv[i], argv[i]);
    }
    assert_null(req.argv[5]);
    tm_console_req_free(&req);
    assert_null(req.argv);
    tm_console_req_free(&req); /* twice is fine */
    tm_console_req_free(NULL);
    s_assert_prefixes_fail(bytes, len, s_req_decode, &req);
    free(bytes);

    /* a whole request in its envelope */
    {
        tm_envelope_t env = s_env(TM_MSG_CONSOLE_REQ, "console", "node-a");
        tm_envelope_t got;
        uint8_t *payload = NULL;
        size_t plen = 0;
        assert_rc(tm_console_req_encode(1, argv, &payload, &plen), 0);
        assert_rc(tm_envelope_encode(&env, payload, plen, &bytes, &len), 0);
        assert_rc(tm_envelope_decode(bytes, len, NULL, &got), 0);
        assert_int_equal(got.type, TM_MSG_CONSOLE_REQ);
        assert_rc(
            tm_console_req_decode(got.payload, got.payload_len, NULL, &req), 0);
        assert_int_equal(req.argc, 1);
        assert_string_equal(req.argv[0], "link");
        tm_console_req_free(&req);
        free(payload);
        free(bytes);
    }
}

static void test_console_req_limits(void **state)
{
    const char **argv = NULL;
    char *big = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_console_req_t req;
    s_msg_t m;
    msgpack_packer *pk = NULL;

    (void)state;
    big = malloc(TM_CONSOLE_ARG_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', TM_CONSOLE_ARG_MAX + 1);
    big[TM_CONSOLE_ARG_MAX + 1] = '\0';
    argv = calloc(TM_CONSOLE_ARGC_MAX + 1, sizeof *argv);
    assert_non_null(argv);
    for (uint32_t i = 0; i <= TM_CONSOLE_ARGC_MAX; i++) {
        argv[i] = "x";
    }

    /* encoder */
    assert_rc(tm_console_req_encode(0, argv, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_console_req_encode(1, NULL, &bytes, &len), TM_ERR_INVAL);
    assert_rc(
        tm_console_req_encode(TM_CONSOLE_ARGC_MAX + 1, argv, &bytes, &len),
        TM_ERR_TOO_BIG);
    argv[1] = big;
    assert_rc(tm_console_req_encode(2, argv, &bytes, &len), TM_ERR_TOO_BIG);
    argv[1] = NULL;
    assert_rc(tm_console_req_encode(2, argv, &bytes, &len), TM_ERR_INVAL);
    argv[1] = "x";
    big[TM_CONSOLE_ARG_MAX] = '\0'; /* exactly at the limit: fine */
    argv[0] = big;
    assert_rc(tm_console_req_encode(TM_CONSOLE_ARGC_MAX, argv, &bytes, &len),
              0);
    assert_rc(tm_console_req_decode(bytes, len, NULL, &req), 0);
    assert_int_equal(req.argc, TM_CONSOLE_ARGC_MAX);
    assert_int_equal(strlen(req.argv[0]), TM_CONSOLE_ARG_MAX);
    tm_console_req_free(&req);
    free(bytes);

    /* decoder: one argument too many */
    pk = s_begin(&m);
    msgpack_pack_map(pk, 1);
    tm_wire_pack_str(pk, "argv");
    msgpack_pack_array(pk, TM_CONSOLE_ARGC_MAX + 1);
    for (uint32_t i = 0; i <= TM_CONSOLE_ARGC_MAX; i++) {
        tm_wire_pack_str(pk, "x");
    }
    s_end(&m);
    assert_rc(tm_console_req_decode(m.bytes, m.len, NULL, &req),
              TM_ERR_TOO_BIG);
    s_free(&m);

    /* decoder: one argument one byte too long */
    big[TM_CONSOLE_ARG_MAX] = 'a';
    pk = s_begin(&m);
    msgpack_pack_map(pk, 1);
    tm_wire_pack_str(pk, "argv");
    msgpack_pack_array(pk, 2);
    tm_wire_pack_str(pk, "x");
    tm_wire_pack_str(pk, big);
    s_end(&m);
    assert_rc(tm_console_req_decode(m.bytes, m.len, NULL, &req),
              TM_ERR_TOO_BIG);
    s_free(&m);
    free(big);
    free(argv);
}

static void test_console_req_bad_fields(void **state)
{
    tm_console_req_t req;
    s_msg_t m;
    msgpack_packer *pk = NULL;

    (void)state;
    memset(&req, 0, sizeof req);
    for (int variant = 0; variant < 9; variant++) {
        static const int want[] = {
            TM_ERR_WIRE_TYPE,  /* payload not a map */
            TM_ERR_WIRE_FIELD, /* no argv */
            TM_ERR_WIRE_TYPE,  /* argv a str */
            TM_ERR_WIRE_TYPE,  /* an argument an int */
            TM_ERR_WIRE_FIELD, /* NUL inside an argument */
            TM_ERR_WIRE_FIELD, /* argv twice */
            TM_ERR_WIRE_FIELD, /* argv empty */
            TM_ERR_WIRE_TYPE,  /* a key that is not a str */
            0,                 /* unknown key: ignored */
        };
        pk = s_begin(&m);
        if (variant == 0) {
            msgpack_pack_array(pk, 1);
            tm_wire_pack_str(pk, "argv");
        } else if (variant == 1) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "args", "x");
        } else if (variant == 2) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "argv", "x");
        } else if (variant == 3) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_str(pk, "argv");
            msgpack_pack_array(pk, 2);
            tm_wire_pack_str(pk, "get");
            msgpack_pack_int(pk, 3);
        } else if (variant == 4) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_str(pk, "argv");
            msgpack_pack_array(pk, 1);
            s_pack_bytes_str(pk, "ls\0rm", 5);
        } else if (variant == 5 || variant == 6) {
            msgpack_pack_map(pk, variant == 5 ? 2 : 1);
            for (int k = 0; k < (variant == 5 ? 2 : 1); k++) {
                tm_wire_pack_str(pk, "argv");
                msgpack_pack_array(pk, variant == 5 ? 1 : 0);
                if (variant == 5) {
                    tm_wire_pack_str(pk, "ls");
                }
            }
        } else if (variant == 7) {
            msgpack_pack_map(pk, 2);
            msgpack_pack_int(pk, 1);
            msgpack_pack_int(pk, 2);
            tm_wire_pack_str(pk, "argv");
            msgpack_pack_array(pk, 1);
            tm_wire_pack_str(pk, "ls");
        } else {
            msgpack_pack_map(pk, 2);
            tm_wire_pack_str(pk, "future");
            msgpack_pack_array(pk, 2);
            msgpack_pack_map(pk, 0);
            msgpack_pack_nil(pk);
            tm_wire_pack_str(pk, "argv");
            msgpack_pack_array(pk, 1);
            tm_wire_pack_str(pk, "ls");
        }
        s_end(&m);
        print_message("console_req variant %d\n", variant);
        assert_rc(tm_console_req_decode(m.bytes, m.len, NULL, &req),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(req.argc, 1);
            assert_string_equal(req.argv[0], "ls");
            tm_console_req_free(&req);
        } else {
            assert_null(req.argv); /* nothing handed over on failure */
        }
        s_free(&m);
    }

    /* header counts beyond the bytes */
    assert_rc(tm_console_req_decode((const uint8_t *)"\xdd\xff\x00\x00\x00", 5,
                                    NULL, &req),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_console_req_decode((const uint8_t *)"\x81\xa4"
                                                     "argv\xdd\xff\xff\xff\xff",
                                    11, NULL, &req),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_console_req_decode(NULL, 0, NULL, &req),
              TM_ERR_WIRE_TRUNCATED);
    assert_null(req.argv);
}

/* ---- console reply ----------------------------------------------------- */

static void test_console_rep_round_trip(void **state)
{
    static const uint8_t body[] = {0x82, 0xa2, 'i', 'd',  0x07, 0xa4, 'l',
                                   'i',  's',  't', 0x92, 0x01, 0x02};
    tm_console_rep_t rep;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_rc(tm_console_rep_encode(0, NULL, "ok", 1, body, sizeof body, &bytes,
                                    &len),
              0);
    assert_rc(tm_console_rep_decode(bytes, len, NULL, &rep), 0);
    assert_int_equal(rep.status, 0);
    assert_int_equal(rep.error_len, 2);
    assert_memory_equal(rep.error, "OK", 2);
    assert_int_equal(rep.message_len, 2);
    assert_memory_equal(rep.message, "ok", 2);
    assert_int_equal(rep.more, 1);
    assert_int_equal(rep.body_len, sizeof body);
    assert_memory_equal(rep.body, body, sizeof body);
    assert_true(rep.body > bytes && rep.body < bytes + len);
    s_assert_prefixes_fail(bytes, len, s_rep_decode, &rep);
    free(bytes);

    /* an error reply without a body or a message */
    assert_rc(tm_console_rep_encode(TM_ERR_UNKNOWN_ACTOR, NULL, NULL, 0, NULL,
                                    0, &bytes, &len),
              0);
    assert_rc(tm_console_rep_decode(bytes, len, NULL, &rep), 0);
    assert_int_equal(rep.status, TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(rep.error_len, strlen("UNKNOWN_ACTOR"));
    assert_memory_equal(rep.error, "UNKNOWN_ACTOR", rep.error_len);
    assert_int_equal(rep.message_len, 0);
    assert_int_equal(rep.more, 0);
    assert_null(rep.body);
    assert_int_equal(rep.body_len, 0);
    free(bytes);

    /* encoder refusals */
    assert_rc(tm_console_rep_encode(1, NULL, NULL, 0, NULL, 0, &bytes, &len),
              TM_ERR_INVAL);
    assert_rc(tm_console_rep_encode(0, NULL, NULL, 0, body, sizeof body - 1,
                                    &bytes, &len),
              TM_ERR_INVAL);
    assert_rc(tm_console_rep_encode(0, NULL, NULL, 0, NULL, 3, &bytes, &len),
              TM_ERR_INVAL);
    assert_rc(tm_console_rep_encode(0,
                                    "an error name that is much too long "
                                    "to be the name of any error code",
                                    NULL, 0, NULL, 0, &bytes, &len),
              TM_ERR_INVAL);
}

static void test_console_rep_bad_fields(void **state)
{
    tm_console_rep_t rep;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    char long_name[TM_MSG_NAME_MAX + 1];

    (void)state;
    memset(long_name, 'E', sizeof long_name);
    for (int variant = 0; variant < 12; variant++) {
        static const int want[] = {
            TM_ERR_WIRE_TYPE,  /* status a str */
            TM_ERR_WIRE_FIELD, /* status positive */
            TM_ERR_WIRE_FIELD, /* status below INT32_MIN */
            TM_ERR_WIRE_TYPE,  /* error nil */
            TM_ERR_WIRE_FIELD, /* error with a NUL */
            TM_ERR_WIRE_FIELD, /* error 65 bytes */
            TM_ERR_WIRE_TYPE,  /* message bin */
            TM_ERR_WIRE_FIELD, /* message with a NUL */
            TM_ERR_WIRE_TYPE,  /* more an int */
            TM_ERR_WIRE_FIELD, /* body missing */
            TM_ERR_WIRE_FIELD, /* status twice */
            0,                 /* unknown key: ignored */
        };
        int extra = variant == 10 || variant == 11;
        pk = s_begin(&m);
        msgpack_pack_map(pk, (variant == 9 ? 4 : 5) + (extra ? 1 : 0));
        tm_wire_pack_str(pk, "status");
        if (variant == 0) {
            tm_wire_pack_str(pk, "0");
        } else if (variant == 1) {
            msgpack_pack_int(pk, 1);
        } else if (variant == 2) {
            msgpack_pack_int64(pk, (int64_t)INT32_MIN - 1);
        } else {
            msgpack_pack_int(pk, -4);
        }
        tm_wire_pack_str(pk, "error");
        if (variant == 3) {
            msgpack_pack_nil(pk);
        } else if (variant == 4) {
            s_pack_bytes_str(pk, "NOT\0FOUND", 9);
        } else if (variant == 5) {
            s_pack_bytes_str(pk, long_name, sizeof long_name);
        } else {
            tm_wire_pack_str(pk, "NOT_FOUND");
        }
        tm_wire_pack_str(pk, "message");
        if (variant == 6) {
            msgpack_pack_bin(pk, 1);
            msgpack_pack_bin_body(pk, "m", 1);
        } else if (variant == 7) {
            s_pack_bytes_str(pk, "m\0", 2);
        } else {
            tm_wire_pack_str(pk, "no such actor");
        }
        tm_wire_pack_str(pk, "more");
        if (variant == 8) {
            msgpack_pack_int(pk, 1);
        } else {
            msgpack_pack_false(pk);
        }
        if (variant != 9) {
            tm_wire_pack_str(pk, "body");
            msgpack_pack_array(pk, 1);
            msgpack_pack_nil(pk);
        }
        if (variant == 10) {
            tm_wire_pack_kv_i64(pk, "status", 0);
        } else if (variant == 11) {
            tm_wire_pack_kv_f64(pk, "elapsed", 0.25);
        }
        s_end(&m);
        print_message("console_rep variant %d\n", variant);
        assert_rc(tm_console_rep_decode(m.bytes, m.len, NULL, &rep),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(rep.status, -4);
            assert_int_equal(rep.body_len, 2);
        }
        s_free(&m);
    }
    assert_rc(tm_console_rep_decode((const uint8_t *)"\xc1", 1, NULL, &rep),
              TM_ERR_WIRE_MALFORMED);
    assert_rc(tm_console_rep_decode((const uint8_t *)"\x80\x80", 2, NULL, &rep),
              TM_ERR_WIRE_TRAILING);
    assert_rc(tm_console_rep_decode((const uint8_t *)"\x80", 1, NULL, &rep),
              TM_ERR_WIRE_FIELD);
}

/* ---- heartbeat --------------------------------------------------------- */

/* Field by field: struct padding is not part of the value. */
static void s_assert_hb_equal(const tm_heartbeat_t *a, const tm_heartbeat_t *b)
{
    assert_string_equal(a->node, b->node);
    assert_string_equal(a->site, b->site);
    assert_string_equal(a->state, b->state);
    assert_true(a->tick == b->tick);
    assert_true(a->actors == b->actors);
}

static void test_heartbeat_round_trip(void **state)
{
    tm_heartbeat_t hb;
    tm_heartbeat_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    memset(&hb, 0, sizeof hb);
    snprintf(hb.node, sizeof hb.node, "node-a");
    snprintf(hb.site, sizeof hb.site, "plant-north");
    snprintf(hb.state, sizeof hb.state, "running");
    hb.tick = 987654321;
    hb.actors = 12000;
    assert_rc(tm_heartbeat_encode(&hb, &bytes, &len), 0);
    assert_rc(tm_heartbeat_decode(bytes, len, NULL, &got), 0);
    s_assert_hb_equal(&got, &hb);
    s_assert_prefixes_fail(bytes, len, s_hb_decode, &got);
    free(bytes);

    memset(hb.site, 's', TM_MSG_NAME_MAX); /* longest names */
    memset(hb.state, 'x', TM_MSG_NAME_MAX);
    hb.tick = UINT64_MAX;
    assert_rc(tm_heartbeat_encode(&hb, &bytes, &len), 0);
    assert_rc(tm_heartbeat_decode(bytes, len, NULL, &got), 0);
    s_assert_hb_equal(&got, &hb);
    free(bytes);

    hb.node[0] = '\0';
    assert_rc(tm_heartbeat_encode(&hb, &bytes, &len), TM_ERR_INVAL);
    hb.node[0] = 'n';
    hb.site[TM_MSG_NAME_MAX] = 's'; /* not terminated within 65 bytes */
    assert_rc(tm_heartbeat_encode(&hb, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_heartbeat_encode(NULL, &bytes, &len), TM_ERR_INVAL);
}

static void test_heartbeat_bad_fields(void **state)
{
    tm_heartbeat_t got;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    char long_name[TM_MSG_NAME_MAX + 1];

    (void)state;
    memset(long_name, 's', sizeof long_name);
    for (int variant = 0; variant < 8; variant++) {
        static const int want[] = {
            TM_ERR_WIRE_FIELD, /* node empty */
            TM_ERR_WIRE_FIELD, /* site 65 bytes */
            TM_ERR_WIRE_FIELD, /* tick negative */
            TM_ERR_WIRE_TYPE,  /* actors a float */
            TM_ERR_WIRE_TYPE,  /* state an array */
            TM_ERR_WIRE_FIELD, /* node with a NUL */
            TM_ERR_WIRE_FIELD, /* actors missing */
            0,                 /* unknown keys: ignored */
        };
        pk = s_begin(&m);
        msgpack_pack_map(pk, variant == 6 ? 4 : variant == 7 ? 7 : 5);
        if (variant == 7) {
            tm_wire_pack_kv_str(pk, "zone", "eu");
            tm_wire_pack_kv_u64(pk, "load", 3);
        }
        tm_wire_pack_str(pk, "node");
        if (variant == 0) {
            tm_wire_pack_str(pk, "");
        } else if (variant == 5) {
            s_pack_bytes_str(pk, "n\0", 2);
        } else {
            tm_wire_pack_str(pk, "n1");
        }
        tm_wire_pack_str(pk, "site");
        if (variant == 1) {
            s_pack_bytes_str(pk, long_name, sizeof long_name);
        } else {
            tm_wire_pack_str(pk, "s1");
        }
        tm_wire_pack_str(pk, "tick");
        if (variant == 2) {
            msgpack_pack_int(pk, -5);
        } else {
            msgpack_pack_uint64(pk, 5);
        }
        if (variant != 6) {
            tm_wire_pack_str(pk, "actors");
            if (variant == 3) {
                msgpack_pack_double(pk, 3.0);
            } else {
                msgpack_pack_uint64(pk, 3);
            }
        }
        tm_wire_pack_str(pk, "state");
        if (variant == 4) {
            msgpack_pack_array(pk, 0);
        } else {
            tm_wire_pack_str(pk, "running");
        }
        s_end(&m);
        print_message("heartbeat variant %d\n", variant);
        assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        if (want[variant] == 0) {
            assert_string_equal(got.node, "n1");
            assert_true(got.actors == 3 && got.tick == 5);
        }
        s_free(&m);
    }
    assert_rc(
        tm_heartbeat_decode((const uint8_t *)"\xde\x00\x02\xc0", 4, NULL, &got),
        TM_ERR_WIRE_COUNT);
}

/* ---- link batch -------------------------------------------------------- */

static int s_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void test_link_batch_round_trip(void **state)
{
    uint64_t ids[] = {1, 200, 70000, UINT64_MAX, 0};
    double values[] = {1.5, -0.0, INFINITY, NAN, 1e-310};
    tm_link_batch_t batch = {77, 5, ids, values};
    tm_link_batch_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
    assert_true(got.tick == 77);
    assert_int_equal(got.count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        assert_true(got.ids[i] == ids[i]);
        assert_true(s_same_double(got.values[i], values[i]));
    }
    tm_link_batch_free(&got);
    assert_null(got.ids);
    tm_link_batch_free(&got);
    tm_link_batch_free(NULL);
    s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
    free(bytes);

    /* the wire order of values is little-endian */
    {
        double one = 1.0;
        tm_link_batch_t b1 = {0, 1, ids, &one};
        static const uint8_t le_one[] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
        assert_rc(tm_link_batch_encode(&b1, &bytes, &len), 0);
        assert_true(len > sizeof le_one);
        assert_memory_equal(bytes + len - sizeof le_one, le_one, sizeof le_one);
        free(bytes);
    }

    /* the empty batch is the null message of a tick */
    batch.count = 0;
    batch.ids = NULL;
    batch.values = NULL;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
    assert_int_equal(got.count, 0);
    assert_null(got.ids);
    assert_null(got.values);
    tm_link_batch_free(&got);
    free(bytes);

    batch.count = 2;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_link_batch_encode(NULL, &bytes, &len), TM_ERR_INVAL);
}

static void test_link_batch_bad_fields(void **state)
{
    tm_link_batch_t got;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    static const uint8_t zeros[24] = {0};

    (void)state;
    memset(&got, 0, sizeof got);
    for (int variant = 0; variant < 10; variant++) {
        static const int want[] = {
            TM_ERR_WIRE_FIELD, /* values 8 * count + 1 bytes */
            TM_ERR_WIRE_FIELD, /* values 8 * (count - 1) bytes */
            TM_ERR_WIRE_TYPE,  /* an id a str */
            TM_ERR_WIRE_FIELD, /* an id negative */
            TM_ERR_WIRE_TYPE,  /* values a str */
            TM_ERR_WIRE_TYPE,  /* values an array of floats */
            TM_ERR_WIRE_FIELD, /* tick missing */
            TM_ERR_WIRE_TYPE,  /* ids a bin */
            0,                 /* keys in another order */
            TM_ERR_WIRE_FIELD, /* ids twice */
        };
        pk = s_begin(&m);
        msgpack_pack_map(pk, variant == 6 ? 2 : variant == 9 ? 4 : 3);
        if (variant == 8) {
            msgpack_pack_str(pk, 6);
            msgpack_pack_str_body(pk, "values", 6);
            msgpack_pack_bin(pk, 16);
            msgpack_pack_bin_body(pk, zeros, 16);
        }
        if (variant != 6) {
            tm_wire_pack_kv_u64(pk, "tick", 9);
        }
        tm_wire_pack_str(pk, "ids");
        if (variant == 7) {
            msgpack_pack_bin(pk, 2);
            msgpack_pack_bin_body(pk, zeros, 2);
        } else {
            msgpack_pack_array(pk, 2);
            msgpack_pack_uint64(pk, 1);
            if (variant == 2) {
                tm_wire_pack_str(pk, "2");
            } else if (variant == 3) {
                msgpack_pack_int(pk, -2);
            } else {
                msgpack_pack_uint64(pk, 2);
            }
        }
        if (variant == 9) {
            tm_wire_pack_str(pk, "ids");
            msgpack_pack_array(pk, 0);
        }
        if (variant != 8) {
            tm_wire_pack_str(pk, "values");
            if (variant == 4) {
                tm_wire_pack_str(pk, "0000000000000000");
            } else if (variant == 5) {
                msgpack_pack_array(pk, 2);
                msgpack_pack_double(pk, 1.0);
                msgpack_pack_double(pk, 2.0);
            } else {
                size_t n = variant == 0 ? 17 : variant == 1 ? 8 : 16;
                msgpack_pack_bin(pk, n);
                msgpack_pack_bin_body(pk, zeros, n);
            }
        }
        s_end(&m);
        print_message("link_batch variant %d\n", variant);
        assert_rc(tm_link_batch_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(got.count, 2);
            assert_true(got.ids[1] == 2 && got.values[1] == 0.0);
            tm_link_batch_free(&got);
        } else {
            assert_null(got.ids); /* nothing handed over on failure */
        }
        s_free(&m);
    }

    /* the classic huge header, bare and as the ids array */
    assert_rc(tm_link_batch_decode((const uint8_t *)"\xdd\xff\x00\x00\x00", 5,
                                   NULL, &got),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_link_batch_decode((const uint8_t *)"\x81\xa3"
                                                    "ids\xdd\xff\x00\x00\x00",
                                   10, NULL, &got),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_link_batch_decode((const uint8_t *)"\x81\xa6"
                                                    "values\xc6\xff\x00",
                                   11, NULL, &got),
              TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_link_batch_decode(NULL, 0, NULL, &got), TM_ERR_WIRE_TRUNCATED);
}

/* Many links: bounded by the configured size limit, not by a count. */
static void test_link_batch_large(void **state)
{
    const uint32_t n = 70000;
    uint64_t *ids = malloc(n * sizeof *ids);
    double *values = malloc(n * sizeof *values);
    tm_link_batch_t batch = {5, n, ids, values};
    tm_link_batch_t got;
    tm_wire_limits_t lim = {0, 0};
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_non_null(ids);
    assert_non_null(values);
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = (uint64_t)i * 2654435761u;
        values[i] = (double)i / 7.0;
    }
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_true(len > TM_WIRE_MAX_SIZE_DEFAULT);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got),
              TM_ERR_WIRE_TOO_LARGE);
    lim.max_size = len;
    assert_rc(tm_link_batch_decode(bytes, len, &lim, &got), 0);
    assert_int_equal(got.count, n);
    assert_true(got.ids[n - 1] == ids[n - 1]);
    assert_true(s_same_double(got.values[n - 1], values[n - 1]));
    tm_link_batch_free(&got);
    free(bytes);
    free(ids);
    free(values);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_envelope_edges),
        cmocka_unit_test(test_envelope_version_and_type),
        cmocka_unit_test(test_envelope_bad_fields),
        cmocka_unit_test(test_envelope_hostile),
        cmocka_unit_test(test_console_req_round_trip),
        cmocka_unit_test(test_console_req_limits),
        cmocka_unit_test(test_console_req_bad_fields),
        cmocka_unit_test(test_console_rep_round_trip),
        cmocka_unit_test(test_console_rep_bad_fields),
        cmocka_unit_test(test_heartbeat_round_trip),
        cmocka_unit_test(test_heartbeat_bad_fields),
        cmocka_unit_test(test_link_batch_round_trip),
        cmocka_unit_test(test_link_batch_bad_fields),
        cmocka_unit_test(test_link_batch_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
