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
#include <stdbool.h>
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

static void test_envelope_directory_type(void **state)
{
    static const uint8_t nil = 0xc0;
    tm_envelope_t env = s_env(5, "node-a", "node-b");
    tm_envelope_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s_msg_t m;

    (void)state;
    /* 5 is the directory, the highest type of this version */
    assert_int_equal(TM_MSG_DIRECTORY, 5);
    assert_rc(tm_envelope_encode(&env, &nil, 1, &bytes, &len), 0);
    assert_rc(tm_envelope_decode(bytes, len, NULL, &got), 0);
    assert_int_equal(got.type, TM_MSG_DIRECTORY);
    free(bytes);
    s_envelope_raw(&m, 1, 5, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got), 0);
    assert_int_equal(got.type, 5);
    s_free(&m);

    /* 8 is no type yet (7 is FILE_CHUNK) */
    assert_int_equal(TM_MSG_FILE_CHUNK, 7);
    env.type = 8;
    bytes = NULL;
    assert_rc(tm_envelope_encode(&env, &nil, 1, &bytes, &len), TM_ERR_INVAL);
    assert_null(bytes);
    s_envelope_raw(&m, 1, 8, &nil, 1);
    assert_rc(tm_envelope_decode(m.bytes, m.len, NULL, &got),
              TM_ERR_WIRE_MSGTYPE);
    assert_int_equal(got.type, 8);
    assert_int_equal(got.seq, 2);
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
    assert_string_equal(a->endpoint, b->endpoint);
    assert_string_equal(a->clock, b->clock);
    assert_true(a->incarnation == b->incarnation);
    assert_true(a->dir_seq == b->dir_seq);
    assert_true(a->step_us == b->step_us);
    assert_int_equal(a->n_members, b->n_members);
    for (uint32_t i = 0; i < a->n_members; i++) {
        assert_string_equal(a->members[i].name, b->members[i].name);
        assert_string_equal(a->members[i].endpoint, b->members[i].endpoint);
    }
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

/* A heartbeat map of the five required keys and `extra` more, which the
 * caller packs next (then s_end). */
static msgpack_packer *s_hb_begin(s_msg_t *m, uint32_t extra)
{
    msgpack_packer *pk = s_begin(m);
    msgpack_pack_map(pk, 5 + extra);
    tm_wire_pack_kv_str(pk, "node", "n1");
    tm_wire_pack_kv_str(pk, "site", "s1");
    tm_wire_pack_kv_u64(pk, "tick", 5);
    tm_wire_pack_kv_u64(pk, "actors", 3);
    tm_wire_pack_kv_str(pk, "state", "up");
    return pk;
}

/* n members [name, endpoint], the i-th "m<i>" at "tcp://h:<i>". */
static void s_pack_members(msgpack_packer *pk, uint32_t n)
{
    char name[16];
    char ep[32];
    tm_wire_pack_str(pk, "members");
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "m%u", i);
        snprintf(ep, sizeof ep, "tcp://h:%u", i);
        msgpack_pack_array(pk, 2);
        tm_wire_pack_str(pk, name);
        tm_wire_pack_str(pk, ep);
    }
}

static void s_fill_hb(tm_heartbeat_t *hb, uint32_t n_members)
{
    memset(hb, 0, sizeof *hb);
    snprintf(hb->node, sizeof hb->node, "node-a");
    snprintf(hb->site, sizeof hb->site, "north");
    snprintf(hb->state, sizeof hb->state, "up");
    snprintf(hb->endpoint, sizeof hb->endpoint, "tcp://10.0.0.1:7801");
    snprintf(hb->clock, sizeof hb->clock, "realtime x2");
    hb->tick = 4242;
    hb->actors = 17;
    hb->incarnation = 1764547200123456789ull;
    hb->dir_seq = 9;
    hb->n_members = n_members;
    for (uint32_t i = 0; i < n_members; i++) {
        snprintf(hb->members[i].name, sizeof hb->members[i].name, "node-%u", i);
        snprintf(hb->members[i].endpoint, sizeof hb->members[i].endpoint,
                 "tcp://10.0.0.%u:7801", i);
    }
}

static void test_heartbeat_mesh_round_trip(void **state)
{
    tm_heartbeat_t *hb = calloc(1, sizeof *hb);
    tm_heartbeat_t *got = calloc(1, sizeof *got);
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_non_null(hb);
    assert_non_null(got);
    s_fill_hb(hb, 3);
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), 0);
    assert_rc(tm_heartbeat_decode(bytes, len, NULL, got), 0);
    s_assert_hb_equal(got, hb);
    assert_string_equal(got->members[2].endpoint, "tcp://10.0.0.2:7801");
    s_assert_prefixes_fail(bytes, len, s_hb_decode, got);
    free(bytes);

    /* every limit reached: TM_MSG_MEMBERS_MAX members, endpoints of
     * TM_MSG_ENDPOINT_MAX bytes, names of TM_MSG_NAME_MAX */
    s_fill_hb(hb, TM_MSG_MEMBERS_MAX);
    memset(hb->endpoint, 'e', TM_MSG_ENDPOINT_MAX);
    memset(hb->clock, 'c', TM_MSG_NAME_MAX);
    memset(hb->members[TM_MSG_MEMBERS_MAX - 1].name, 'n', TM_MSG_NAME_MAX);
    memset(hb->members[TM_MSG_MEMBERS_MAX - 1].endpoint, 'p',
           TM_MSG_ENDPOINT_MAX);
    hb->incarnation = UINT64_MAX;
    hb->dir_seq = UINT64_MAX;
    hb->step_us = TM_MSG_STEP_US_MAX;
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), 0);
    memset(got, 0xa5, sizeof *got);
    assert_rc(tm_heartbeat_decode(bytes, len, NULL, got), 0);
    s_assert_hb_equal(got, hb);
    free(bytes);

    /* the encoder refuses what the decoder would refuse */
    hb->step_us = TM_MSG_STEP_US_MAX + 1ull;
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->step_us = 0;
    hb->n_members = TM_MSG_MEMBERS_MAX + 1;
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->n_members = TM_MSG_MEMBERS_MAX;
    hb->endpoint[TM_MSG_ENDPOINT_MAX] = 'e'; /* 257 bytes, no NUL */
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->endpoint[TM_MSG_ENDPOINT_MAX] = '\0';
    hb->clock[TM_MSG_NAME_MAX] = 'c';
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->clock[TM_MSG_NAME_MAX] = '\0';
    memset(hb->members[5].name, 'n', TM_MSG_NAME_MAX + 1);
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->members[5].name[TM_MSG_NAME_MAX] = '\0';
    hb->members[TM_MSG_MEMBERS_MAX - 1].endpoint[TM_MSG_ENDPOINT_MAX] = 'p';
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), TM_ERR_INVAL);
    hb->members[TM_MSG_MEMBERS_MAX - 1].endpoint[TM_MSG_ENDPOINT_MAX] = '\0';
    assert_rc(tm_heartbeat_encode(hb, &bytes, &len), 0);
    free(bytes);
    free(hb);
    free(got);
}

/* A heartbeat of a node that predates the mesh keys still decodes: the
 * optional keys come out empty, 0 and no members, whatever out held. */
static void test_heartbeat_optional_keys(void **state)
{
    tm_heartbeat_t *got = malloc(sizeof *got);
    s_msg_t m;

    (void)state;
    assert_non_null(got);
    s_hb_begin(&m, 0);
    s_end(&m);
    memset(got, 0xa5, sizeof *got);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got), 0);
    assert_string_equal(got->node, "n1");
    assert_string_equal(got->state, "up");
    assert_string_equal(got->endpoint, "");
    assert_string_equal(got->clock, "");
    assert_true(got->incarnation == 0);
    assert_true(got->dir_seq == 0);
    assert_true(got->step_us == 0);
    assert_int_equal(got->n_members, 0);
    s_free(&m);

    /* step_us: the node's step time; past its limit, or not a whole
     * number, the heartbeat is refused */
    msgpack_packer *sp = s_hb_begin(&m, 1);
    tm_wire_pack_kv_u64(sp, "step_us", 420);
    s_end(&m);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got), 0);
    assert_true(got->step_us == 420);
    s_free(&m);
    sp = s_hb_begin(&m, 1);
    tm_wire_pack_kv_u64(sp, "step_us", TM_MSG_STEP_US_MAX + 1ull);
    s_end(&m);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got),
              TM_ERR_WIRE_FIELD);
    s_free(&m);
    sp = s_hb_begin(&m, 1);
    tm_wire_pack_kv_f64(sp, "step_us", 0.5);
    s_end(&m);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got), TM_ERR_WIRE_TYPE);
    s_free(&m);

    /* some of them only, and an empty member list */
    msgpack_packer *pk = s_hb_begin(&m, 3);
    tm_wire_pack_kv_u64(pk, "incarnation", 77);
    tm_wire_pack_kv_str(pk, "clock", "paused");
    s_pack_members(pk, 0);
    s_end(&m);
    memset(got, 0xa5, sizeof *got);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got), 0);
    assert_true(got->incarnation == 77);
    assert_string_equal(got->clock, "paused");
    assert_string_equal(got->endpoint, "");
    assert_true(got->dir_seq == 0);
    assert_int_equal(got->n_members, 0);
    s_free(&m);
    free(got);
}

static void test_heartbeat_mesh_bad_fields(void **state)
{
    char long_ep[TM_MSG_ENDPOINT_MAX + 1];
    char long_name[TM_MSG_NAME_MAX + 1];
    tm_heartbeat_t *got = malloc(sizeof *got);
    tm_heartbeat_t *before = malloc(sizeof *before);
    s_msg_t m;
    msgpack_packer *pk = NULL;
    enum {
        V_MEMBERS_MAX,      /* 64 members: fine */
        V_MEMBERS_OVER,     /* 65 members */
        V_MEMBER_STR,       /* a member a str, not a 2-array */
        V_MEMBER_THREE,     /* a member a 3-array */
        V_MEMBER_ONE,       /* a member a 1-array */
        V_MEMBER_NAME_INT,  /* a member's name an int */
        V_MEMBER_NAME_LONG, /* a member's name 65 bytes */
        V_MEMBER_EP_MAX,    /* a member's endpoint 256 bytes: fine */
        V_MEMBER_EP_LONG,   /* a member's endpoint 257 bytes */
        V_MEMBERS_MAP,      /* members a map */
        V_ENDPOINT_MAX,     /* endpoint 256 bytes: fine */
        V_ENDPOINT_LONG,    /* endpoint 257 bytes */
        V_ENDPOINT_NUL,     /* endpoint with a NUL */
        V_CLOCK_LONG,       /* clock 65 bytes */
        V_CLOCK_BIN,        /* clock a bin */
        V_INC_NEGATIVE,     /* incarnation -1 */
        V_INC_STR,          /* incarnation a str */
        V_DIR_SEQ_FLOAT,    /* dir_seq a float */
        V_MEMBERS_TWICE,    /* members given twice */
        V_ENDPOINT_TWICE,   /* endpoint given twice */
        V_COUNT
    };
    static const int want[V_COUNT] = {
        [V_MEMBERS_MAX] = 0,
        [V_MEMBERS_OVER] = TM_ERR_WIRE_FIELD,
        [V_MEMBER_STR] = TM_ERR_WIRE_TYPE,
        [V_MEMBER_THREE] = TM_ERR_WIRE_FIELD,
        [V_MEMBER_ONE] = TM_ERR_WIRE_FIELD,
        [V_MEMBER_NAME_INT] = TM_ERR_WIRE_TYPE,
        [V_MEMBER_NAME_LONG] = TM_ERR_WIRE_FIELD,
        [V_MEMBER_EP_MAX] = 0,
        [V_MEMBER_EP_LONG] = TM_ERR_WIRE_FIELD,
        [V_MEMBERS_MAP] = TM_ERR_WIRE_TYPE,
        [V_ENDPOINT_MAX] = 0,
        [V_ENDPOINT_LONG] = TM_ERR_WIRE_FIELD,
        [V_ENDPOINT_NUL] = TM_ERR_WIRE_FIELD,
        [V_CLOCK_LONG] = TM_ERR_WIRE_FIELD,
        [V_CLOCK_BIN] = TM_ERR_WIRE_TYPE,
        [V_INC_NEGATIVE] = TM_ERR_WIRE_FIELD,
        [V_INC_STR] = TM_ERR_WIRE_TYPE,
        [V_DIR_SEQ_FLOAT] = TM_ERR_WIRE_TYPE,
        [V_MEMBERS_TWICE] = TM_ERR_WIRE_FIELD,
        [V_ENDPOINT_TWICE] = TM_ERR_WIRE_FIELD,
    };

    (void)state;
    assert_non_null(got);
    assert_non_null(before);
    memset(long_ep, 'e', sizeof long_ep);
    memset(long_name, 'n', sizeof long_name);
    for (int v = 0; v < V_COUNT; v++) {
        bool twice = v == V_MEMBERS_TWICE || v == V_ENDPOINT_TWICE;
        pk = s_hb_begin(&m, twice ? 2 : 1);
        switch (v) {
        case V_MEMBERS_MAX:
            s_pack_members(pk, TM_MSG_MEMBERS_MAX);
            break;
        case V_MEMBERS_OVER:
            s_pack_members(pk, TM_MSG_MEMBERS_MAX + 1);
            break;
        case V_MEMBER_STR:
        case V_MEMBER_THREE:
        case V_MEMBER_ONE:
        case V_MEMBER_NAME_INT:
        case V_MEMBER_NAME_LONG:
        case V_MEMBER_EP_MAX:
        case V_MEMBER_EP_LONG:
            tm_wire_pack_str(pk, "members");
            msgpack_pack_array(pk, 2);
            msgpack_pack_array(pk, 2); /* a good one first */
            tm_wire_pack_str(pk, "a");
            tm_wire_pack_str(pk, "tcp://a:1");
            if (v == V_MEMBER_STR) {
                tm_wire_pack_str(pk, "b tcp://b:1");
                break;
            }
            msgpack_pack_array(pk, v == V_MEMBER_THREE ? 3
                                   : v == V_MEMBER_ONE ? 1
                                                       : 2);
            if (v == V_MEMBER_NAME_INT) {
                msgpack_pack_uint64(pk, 2);
            } else if (v == V_MEMBER_NAME_LONG) {
                s_pack_bytes_str(pk, long_name, sizeof long_name);
            } else {
                tm_wire_pack_str(pk, "b");
            }
            if (v == V_MEMBER_EP_MAX || v == V_MEMBER_EP_LONG) {
                s_pack_bytes_str(pk, long_ep,
                                 TM_MSG_ENDPOINT_MAX + (v == V_MEMBER_EP_LONG));
            } else if (v != V_MEMBER_ONE) {
                tm_wire_pack_str(pk, "tcp://b:1");
            }
            if (v == V_MEMBER_THREE) {
                tm_wire_pack_str(pk, "extra");
            }
            break;
        case V_MEMBERS_MAP:
            tm_wire_pack_str(pk, "members");
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "b", "tcp://b:1");
            break;
        case V_ENDPOINT_MAX:
        case V_ENDPOINT_LONG:
            tm_wire_pack_str(pk, "endpoint");
            s_pack_bytes_str(pk, long_ep,
                             TM_MSG_ENDPOINT_MAX + (v == V_ENDPOINT_LONG));
            break;
        case V_ENDPOINT_NUL:
            tm_wire_pack_str(pk, "endpoint");
            s_pack_bytes_str(pk, "tcp://a\0:1", 10);
            break;
        case V_CLOCK_LONG:
            tm_wire_pack_str(pk, "clock");
            s_pack_bytes_str(pk, long_name, sizeof long_name);
            break;
        case V_CLOCK_BIN:
            tm_wire_pack_str(pk, "clock");
            msgpack_pack_bin(pk, 6);
            msgpack_pack_bin_body(pk, "paused", 6);
            break;
        case V_INC_NEGATIVE:
            tm_wire_pack_str(pk, "incarnation");
            msgpack_pack_int64(pk, -1);
            break;
        case V_INC_STR:
            tm_wire_pack_kv_str(pk, "incarnation", "1");
            break;
        case V_DIR_SEQ_FLOAT:
            tm_wire_pack_kv_f64(pk, "dir_seq", 1.0);
            break;
        case V_MEMBERS_TWICE:
            s_pack_members(pk, 1);
            s_pack_members(pk, 2);
            break;
        default: /* V_ENDPOINT_TWICE */
            tm_wire_pack_kv_str(pk, "endpoint", "tcp://a:1");
            tm_wire_pack_kv_str(pk, "endpoint", "tcp://a:2");
            break;
        }
        s_end(&m);
        print_message("heartbeat mesh variant %d\n", v);
        memset(got, 0x5a, sizeof *got);
        memcpy(before, got, sizeof *got);
        assert_rc(tm_heartbeat_decode(m.bytes, m.len, NULL, got), want[v]);
        if (want[v] != 0) {
            /* nothing handed over on failure */
            assert_memory_equal(got, before, sizeof *got);
        } else if (v == V_MEMBERS_MAX) {
            assert_int_equal(got->n_members, TM_MSG_MEMBERS_MAX);
            assert_string_equal(got->members[63].name, "m63");
            assert_string_equal(got->members[63].endpoint, "tcp://h:63");
        } else if (v == V_MEMBER_EP_MAX) {
            assert_int_equal(got->n_members, 2);
            assert_int_equal(strlen(got->members[1].endpoint),
                             TM_MSG_ENDPOINT_MAX);
        } else {
            assert_int_equal(strlen(got->endpoint), TM_MSG_ENDPOINT_MAX);
        }
        s_free(&m);
    }

    /* a members header that announces more than the bytes that follow */
    pk = s_hb_begin(&m, 1);
    tm_wire_pack_str(pk, "members");
    s_end(&m);
    m.bytes = realloc(m.bytes, m.len + 6);
    assert_non_null(m.bytes);
    memcpy(m.bytes + m.len, "\xdd\xff\xff\xff\xff\x90", 6);
    assert_rc(tm_heartbeat_decode(m.bytes, m.len + 6, NULL, got),
              TM_ERR_WIRE_COUNT);
    s_free(&m);
    free(got);
    free(before);
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
    tm_link_batch_t batch = {77, 5, ids, values, 0, NULL};
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

    /* degraded positions travel with the values; more than values, or
     * positions beyond 32 bits, are refused */
    {
        uint32_t deg[] = {0, 4};
        tm_link_batch_t bd = {78, 5, ids, values, 2, deg};
        assert_rc(tm_link_batch_encode(&bd, &bytes, &len), 0);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
        assert_int_equal(got.n_degraded, 2);
        assert_int_equal(got.degraded[0], 0);
        assert_int_equal(got.degraded[1], 4);
        tm_link_batch_free(&got);
        assert_null(got.degraded);
        s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
        free(bytes);
        uint32_t many[6] = {0};
        tm_link_batch_t bm = {78, 5, ids, values, 6, many};
        assert_rc(tm_link_batch_encode(&bm, &bytes, &len), 0);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got),
                  TM_ERR_WIRE_FIELD);
        free(bytes);
        tm_link_batch_t bn = {78, 5, ids, values, 1, NULL};
        assert_rc(tm_link_batch_encode(&bn, &bytes, &len), TM_ERR_INVAL);
    }

    /* without ids the values are positional: no id on the wire */
    {
        size_t with_ids = 0;
        tm_link_batch_t bi = {79, 5, ids, values, 0, NULL};
        assert_rc(tm_link_batch_encode(&bi, &bytes, &len), 0);
        with_ids = len;
        free(bytes);
        tm_link_batch_t bp = {79, 5, NULL, values, 0, NULL};
        assert_rc(tm_link_batch_encode(&bp, &bytes, &len), 0);
        /* the key "ids" (4 bytes), its array header (1) and the ids
         * (1 + 2 + 5 + 9 + 1) are all that is left out */
        assert_int_equal(len + 4 + 1 + 18, with_ids);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
        assert_true(got.tick == 79);
        assert_int_equal(got.count, 5);
        assert_null(got.ids);
        for (uint32_t i = 0; i < 5; i++) {
            assert_true(s_same_double(got.values[i], values[i]));
        }
        tm_link_batch_free(&got);
        s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
        free(bytes);
    }

    /* the wire order of values is little-endian */
    {
        double one = 1.0;
        tm_link_batch_t b1 = {0, 1, ids, &one, 0, NULL};
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

    /* without ids: values of 8 * k bytes are k positional values */
    for (int variant = 0; variant < 3; variant++) {
        static const int want[] = {0, TM_ERR_WIRE_FIELD, TM_ERR_WIRE_FIELD};
        pk = s_begin(&m);
        msgpack_pack_map(pk, variant == 2 ? 1 : 2);
        if (variant != 2) {
            tm_wire_pack_kv_u64(pk, "tick", 9);
        }
        tm_wire_pack_str(pk, "values");
        msgpack_pack_bin(pk, variant == 1 ? 15 : 16);
        msgpack_pack_bin_body(pk, zeros, variant == 1 ? 15 : 16);
        s_end(&m);
        assert_rc(tm_link_batch_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(got.count, 2);
            assert_null(got.ids);
            assert_true(got.values[1] == 0.0);
            tm_link_batch_free(&got);
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
    tm_link_batch_t batch = {5, n, ids, values, 0, NULL};
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

/* ---- directory --------------------------------------------------------- */

static int s_dir_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                        void *out)
{
    int rc = tm_directory_decode(b, n, l, out);
    if (rc == 0) {
        tm_directory_free(out);
    }
    return rc;
}

static void s_assert_dir_equal(const tm_directory_t *a, const tm_directory_t *b)
{
    assert_true(a->inc == b->inc);
    assert_true(a->seq == b->seq);
    assert_int_equal(!!a->reset, !!b->reset);
    assert_int_equal(a->n_add, b->n_add);
    assert_int_equal(a->n_del, b->n_del);
    for (uint32_t i = 0; i < a->n_add; i++) {
        assert_string_equal(a->add[i].id, b->add[i].id);
        assert_string_equal(a->add[i].model, b->add[i].model);
        assert_string_equal(a->add[i].tier, b->add[i].tier);
        assert_int_equal(a->add[i].epoch, b->add[i].epoch);
    }
    for (uint32_t i = 0; i < a->n_del; i++) {
        assert_string_equal(a->del[i].id, b->del[i].id);
    }
}

/* n entries "<prefix><i>", model "pump@1", tier "high"; calloc'd. */
static tm_dir_entry_t *s_entries(uint32_t n, const char *prefix)
{
    tm_dir_entry_t *e = calloc(n + 1, sizeof *e);
    assert_non_null(e);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(e[i].id, sizeof e[i].id, "%s%u", prefix, i);
        snprintf(e[i].model, sizeof e[i].model, "pump@1");
        snprintf(e[i].tier, sizeof e[i].tier, "high");
    }
    return e;
}

static void test_directory_round_trip(void **state)
{
    tm_dir_entry_t *add = s_entries(4, "pump-");
    tm_dir_entry_t *del = s_entries(2, "tank-");
    tm_directory_t dir = {.inc = 1764547200123456789ull,
                          .seq = 1,
                          .reset = 1,
                          .n_add = 3,
                          .add = add};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    /* the first message of a whole directory */
    memset(add[1].id, 'i', TM_MSG_NAME_MAX); /* longest names */
    memset(add[1].model, 'm', TM_MSG_NAME_MAX);
    memset(add[1].tier, 't', TM_MSG_NAME_MAX);
    add[2].model[0] = '\0'; /* model and tier may be empty */
    add[2].tier[0] = '\0';
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_true(got.reset);
    assert_null(got.del);
    tm_directory_free(&got);
    assert_null(got.add);
    assert_int_equal(got.n_add, 0);
    tm_directory_free(&got);
    tm_directory_free(NULL);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* a delta: adds and deletes (a delete carries only the id) */
    dir.reset = 0;
    dir.seq = UINT64_MAX;
    dir.inc = UINT64_MAX;
    dir.n_add = 1;
    dir.n_del = 2;
    dir.del = del;
    del[1].model[0] = '\0';
    del[1].tier[TM_MSG_NAME_MAX] = 'x'; /* unused for a delete */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_false(got.reset);
    assert_string_equal(got.del[1].id, "tank-1");
    assert_string_equal(got.del[1].model, "");
    tm_directory_free(&got);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* nothing to add or delete: the whole directory of an empty node */
    dir = (tm_directory_t){.inc = 3, .seq = 1, .reset = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_null(got.add);
    assert_null(got.del);
    tm_directory_free(&got);
    free(bytes);
    free(add);
    free(del);
}

/* TM_MSG_DIR_MAX entries in add and del together, on both sides. */
static void test_directory_max(void **state)
{
    tm_dir_entry_t *add = s_entries(TM_MSG_DIR_MAX + 1, "a-");
    tm_dir_entry_t *del = s_entries(TM_MSG_DIR_MAX + 1, "d-");
    tm_directory_t dir = {.inc = 1, .seq = 2, .add = add, .del = del};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s_msg_t m;

    (void)state;
    for (uint32_t split = 0; split <= TM_MSG_DIR_MAX; split += 4096) {
        dir.n_add = split;
        dir.n_del = TM_MSG_DIR_MAX - split;
        assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
        assert_true(len < TM_WIRE_MAX_SIZE_DEFAULT);
        assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
        s_assert_dir_equal(&got, &dir);
        tm_directory_free(&got);
        free(bytes);
        /* one more, on either side, is refused by the encoder */
        dir.n_add += split > 0;
        dir.n_del += split == 0;
        assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_TOO_BIG);
    }
    dir.n_add = UINT32_MAX;
    dir.n_del = UINT32_MAX;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_TOO_BIG);

    /* and by the decoder: add alone, del alone, both together */
    for (int v = 0; v < 4; v++) {
        static const uint32_t n_add[] = {
            TM_MSG_DIR_MAX + 1, 0, TM_MSG_DIR_MAX / 2 + 1, TM_MSG_DIR_MAX - 1};
        static const uint32_t n_del[] = {0, TM_MSG_DIR_MAX + 1,
                                         TM_MSG_DIR_MAX / 2, 1};
        msgpack_packer *pk = s_begin(&m);
        msgpack_pack_map(pk, 5);
        tm_wire_pack_kv_u64(pk, "inc", 1);
        tm_wire_pack_kv_u64(pk, "seq", 2);
        tm_wire_pack_kv_bool(pk, "reset", 0);
        tm_wire_pack_str(pk, "add");
        msgpack_pack_array(pk, n_add[v]);
        for (uint32_t i = 0; i < n_add[v]; i++) {
            msgpack_pack_array(pk, 3);
            tm_wire_pack_str(pk, add[i % TM_MSG_DIR_MAX].id);
            tm_wire_pack_str(pk, "m@1");
            tm_wire_pack_str(pk, "low");
        }
        tm_wire_pack_str(pk, "del");
        msgpack_pack_array(pk, n_del[v]);
        for (uint32_t i = 0; i < n_del[v]; i++) {
            tm_wire_pack_str(pk, del[i % TM_MSG_DIR_MAX].id);
        }
        s_end(&m);
        print_message("directory count variant %d\n", v);
        memset(&got, 0x5a, sizeof got);
        assert_rc(tm_directory_decode(m.bytes, m.len, NULL, &got),
                  v == 3 ? 0 : TM_ERR_TOO_BIG);
        if (v == 3) {
            assert_int_equal(got.n_add, TM_MSG_DIR_MAX - 1);
            assert_int_equal(got.n_del, 1);
            assert_string_equal(got.add[TM_MSG_DIR_MAX - 2].tier, "low");
            tm_directory_free(&got);
        } else {
            assert_int_equal(got.n_add, 0x5a5a5a5a); /* out untouched */
        }
        s_free(&m);
    }
    free(add);
    free(del);
}

/* A directory map with every key right but the one a variant spoils. */
static void test_directory_bad_fields(void **state)
{
    char long_name[TM_MSG_NAME_MAX + 1];
    tm_directory_t got;
    tm_directory_t before;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    enum {
        V_UNKNOWN_KEYS,  /* unknown keys, nested values too: skipped */
        V_ADD_EMPTY_ID,  /* an added entry with an empty id */
        V_DEL_EMPTY_ID,  /* a deleted id empty */
        V_ADD_TWO,       /* an added entry [id, model] */
        V_ADD_FOUR,      /* an added entry [id, model, tier, "x"] */
        V_ADD_FIVE,      /* an added entry [id, model, tier, 1, x] */
        V_EPOCH_ZERO,    /* an epoch 0 (sent as a 3-array, never as 0) */
        V_EPOCH_OVER,    /* an epoch 2^32 */
        V_EPOCH_NEG,     /* an epoch -1 */
        V_EPOCH_MAX,     /* an epoch 2^32 - 1: fine */
        V_ADD_STR,       /* an added entry a bare str */
        V_ADD_MODEL_INT, /* an added entry's model an int */
        V_ADD_ID_NUL,    /* an id with a NUL */
        V_ADD_ID_LONG,   /* an id of 65 bytes */
        V_ADD_TIER_LONG, /* a tier of 65 bytes */
        V_DEL_ARRAY,     /* a deleted id given as an entry [id, m, t] */
        V_DEL_ID_LONG,   /* a deleted id of 65 bytes */
        V_ADD_MAP,       /* add a map */
        V_RESET_INT,     /* reset 1, not a bool */
        V_RESET_MISSING, /* reset missing */
        V_DEL_MISSING,   /* del missing */
        V_INC_NEGATIVE,  /* inc -1 */
        V_SEQ_STR,       /* seq a str */
        V_ADD_TWICE,     /* add given twice */
        V_SEQ_TWICE,     /* seq given twice */
        V_COUNT
    };
    static const int want[V_COUNT] = {
        [V_UNKNOWN_KEYS] = 0,
        [V_ADD_EMPTY_ID] = TM_ERR_WIRE_FIELD,
        [V_DEL_EMPTY_ID] = TM_ERR_WIRE_FIELD,
        [V_ADD_TWO] = TM_ERR_WIRE_FIELD,
        [V_ADD_FOUR] = TM_ERR_WIRE_TYPE, /* the 4th element is the epoch */
        [V_ADD_FIVE] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_ZERO] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_OVER] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_NEG] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_MAX] = 0,
        [V_ADD_STR] = TM_ERR_WIRE_TYPE,
        [V_ADD_MODEL_INT] = TM_ERR_WIRE_TYPE,
        [V_ADD_ID_NUL] = TM_ERR_WIRE_FIELD,
        [V_ADD_ID_LONG] = TM_ERR_WIRE_FIELD,
        [V_ADD_TIER_LONG] = TM_ERR_WIRE_FIELD,
        [V_DEL_ARRAY] = TM_ERR_WIRE_TYPE,
        [V_DEL_ID_LONG] = TM_ERR_WIRE_FIELD,
        [V_ADD_MAP] = TM_ERR_WIRE_TYPE,
        [V_RESET_INT] = TM_ERR_WIRE_TYPE,
        [V_RESET_MISSING] = TM_ERR_WIRE_FIELD,
        [V_DEL_MISSING] = TM_ERR_WIRE_FIELD,
        [V_INC_NEGATIVE] = TM_ERR_WIRE_FIELD,
        [V_SEQ_STR] = TM_ERR_WIRE_TYPE,
        [V_ADD_TWICE] = TM_ERR_WIRE_FIELD,
        [V_SEQ_TWICE] = TM_ERR_WIRE_FIELD,
    };

    (void)state;
    memset(long_name, 'x', sizeof long_name);
    for (int v = 0; v < V_COUNT; v++) {
        uint32_t keys = 5;
        keys += v == V_UNKNOWN_KEYS ? 2 : 0;
        keys += v == V_ADD_TWICE || v == V_SEQ_TWICE ? 1 : 0;
        keys -= v == V_RESET_MISSING || v == V_DEL_MISSING ? 1 : 0;
        pk = s_begin(&m);
        msgpack_pack_map(pk, keys);
        if (v == V_UNKNOWN_KEYS) {
            tm_wire_pack_str(pk, "moved");
            msgpack_pack_array(pk, 2);
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "id", "x");
            msgpack_pack_nil(pk);
        }
        tm_wire_pack_str(pk, "inc");
        if (v == V_INC_NEGATIVE) {
            msgpack_pack_int64(pk, -1);
        } else {
            msgpack_pack_uint64(pk, 7);
        }
        tm_wire_pack_str(pk, "seq");
        if (v == V_SEQ_STR) {
            tm_wire_pack_str(pk, "3");
        } else {
            msgpack_pack_uint64(pk, 3);
        }
        if (v == V_SEQ_TWICE) {
            tm_wire_pack_kv_u64(pk, "seq", 4);
        }
        if (v == V_RESET_INT) {
            tm_wire_pack_kv_u64(pk, "reset", 1);
        } else if (v != V_RESET_MISSING) {
            tm_wire_pack_kv_bool(pk, "reset", 1);
        }
        tm_wire_pack_str(pk, "add");
        if (v == V_ADD_MAP) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "pump-1", "pump@1");
        } else {
            msgpack_pack_array(pk, 2);
            msgpack_pack_array(pk, 3); /* a good one first */
            tm_wire_pack_str(pk, "pump-1");
            tm_wire_pack_str(pk, "pump@1");
            tm_wire_pack_str(pk, "high");
            if (v == V_ADD_STR) {
                tm_wire_pack_str(pk, "pump-2");
            } else {
                uint32_t n = 3;
                n = v == V_ADD_TWO ? 2 : v == V_ADD_FIVE ? 5 : n;
                n = v == V_ADD_FOUR || v == V_EPOCH_ZERO || v == V_EPOCH_OVER ||
                            v == V_EPOCH_NEG || v == V_EPOCH_MAX
                        ? 4
                        : n;
                msgpack_pack_array(pk, n);
                if (v == V_ADD_EMPTY_ID) {
                    tm_wire_pack_str(pk, "");
                } else if (v == V_ADD_ID_NUL) {
                    s_pack_bytes_str(pk, "pump\0-2", 7);
                } else if (v == V_ADD_ID_LONG) {
                    s_pack_bytes_str(pk, long_name, sizeof long_name);
                } else {
                    tm_wire_pack_str(pk, "pump-2");
                }
                if (v == V_ADD_MODEL_INT) {
                    msgpack_pack_uint64(pk, 1);
                } else {
                    tm_wire_pack_str(pk, "pump@1");
                }
                if (v == V_ADD_TIER_LONG) {
                    s_pack_bytes_str(pk, long_name, sizeof long_name);
                } else if (v != V_ADD_TWO) {
                    tm_wire_pack_str(pk, "low");
                }
                if (v == V_ADD_FOUR) {
                    tm_wire_pack_str(pk, "extra");
                } else if (v == V_ADD_FIVE) {
                    msgpack_pack_uint64(pk, 1);
                    tm_wire_pack_str(pk, "extra");
                } else if (v == V_EPOCH_ZERO) {
                    msgpack_pack_uint64(pk, 0);
                } else if (v == V_EPOCH_OVER) {
                    msgpack_pack_uint64(pk, UINT32_MAX + 1ull);
                } else if (v == V_EPOCH_NEG) {
                    msgpack_pack_int64(pk, -1);
                } else if (v == V_EPOCH_MAX) {
                    msgpack_pack_uint64(pk, UINT32_MAX);
                }
            }
        }
        if (v == V_ADD_TWICE) {
            tm_wire_pack_str(pk, "add");
            msgpack_pack_array(pk, 0);
        }
        if (v != V_DEL_MISSING) {
            tm_wire_pack_str(pk, "del");
            msgpack_pack_array(pk, 2);
            tm_wire_pack_str(pk, "tank-1");
            if (v == V_DEL_EMPTY_ID) {
                tm_wire_pack_str(pk, "");
            } else if (v == V_DEL_ARRAY) {
                msgpack_pack_array(pk, 3);
                tm_wire_pack_str(pk, "tank-2");
                tm_wire_pack_str(pk, "tank@1");
                tm_wire_pack_str(pk, "high");
            } else if (v == V_DEL_ID_LONG) {
                s_pack_bytes_str(pk, long_name, sizeof long_name);
            } else {
                tm_wire_pack_str(pk, "tank-2");
            }
        }
        if (v == V_UNKNOWN_KEYS) {
            tm_wire_pack_kv_u64(pk, "zone", 3);
        }
        s_end(&m);
        print_message("directory variant %d\n", v);
        memset(&got, 0x5a, sizeof got);
        memcpy(&before, &got, sizeof got);
        assert_rc(tm_directory_decode(m.bytes, m.len, NULL, &got), want[v]);
        if (want[v] == 0) {
            assert_true(got.inc == 7 && got.seq == 3 && got.reset);
            assert_int_equal(got.n_add, 2);
            assert_string_equal(got.add[1].id, "pump-2");
            assert_string_equal(got.add[1].tier, "low");
            assert_int_equal(got.add[0].epoch, 0);
            assert_true(got.add[1].epoch ==
                        (v == V_EPOCH_MAX ? UINT32_MAX : 0u));
            assert_int_equal(got.n_del, 2);
            assert_string_equal(got.del[1].id, "tank-2");
            tm_directory_free(&got);
        } else {
            /* nothing handed over on failure */
            assert_memory_equal(&got, &before, sizeof got);
        }
        s_free(&m);
    }
}

/* The offset of needle in hay, or -1. */
static long s_find_bytes(const uint8_t *hay, size_t n, const void *needle,
                         size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Ownership epochs: an entry carries one (a 4-array) only when it is above
 * 0, so entries of actors that never moved are the 3-arrays they were;
 * every epoch of 1 .. 2^32 - 1 round-trips, and deletes carry none. */
static void test_directory_epoch(void **state)
{
    tm_dir_entry_t *add = s_entries(4, "pump-");
    tm_dir_entry_t *del = s_entries(1, "tank-");
    tm_directory_t dir = {
        .inc = 9, .seq = 4, .n_add = 4, .add = add, .n_del = 1, .del = del};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    add[1].epoch = 1;
    add[2].epoch = 7;
    add[3].epoch = UINT32_MAX;
    del[0].epoch = 3; /* a delete carries only its id */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_true(got.add[3].epoch == UINT32_MAX);
    assert_int_equal(got.del[0].epoch, 0);
    tm_directory_free(&got);
    /* [id, model, tier] for epoch 0; [id, model, tier, epoch] above */
    assert_true(s_find_bytes(bytes, len, "\x93\xa6pump-0", 8) >= 0);
    assert_true(s_find_bytes(bytes, len, "\x94\xa6pump-0", 8) < 0);
    assert_true(s_find_bytes(bytes, len, "\x94\xa6pump-1", 8) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\x01", 5) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\x07", 5) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\xce\xff\xff\xff\xff", 9) >= 0);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* without epochs: one 4-array fewer for each entry put back to 0 */
    size_t with = len;
    add[1].epoch = 0;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_int_equal(len, with - 1); /* fixint 1 gone */
    assert_true(s_find_bytes(bytes, len, "\x93\xa6pump-1", 8) >= 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    assert_int_equal(got.add[1].epoch, 0);
    tm_directory_free(&got);
    free(bytes);
    free(add);
    free(del);
}

static void test_directory_hostile(void **state)
{
    tm_dir_entry_t bad[2];
    tm_directory_t dir;
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s_msg_t m;
    msgpack_packer *pk = NULL;

    (void)state;
    /* counts that announce far more entries than the bytes that follow:
     * refused by the frame check, before any field is read or anything
     * allocated (a decoder that trusted them would ask for 800 GB) */
    for (int v = 0; v < 2; v++) {
        pk = s_begin(&m);
        msgpack_pack_map(pk, 5);
        tm_wire_pack_kv_u64(pk, "inc", 1);
        tm_wire_pack_kv_u64(pk, "seq", 1);
        tm_wire_pack_kv_bool(pk, "reset", 1);
        tm_wire_pack_str(pk, v == 0 ? "add" : "del");
        s_end(&m);
        /* 4,294,967,295 entries, then the last key with an empty array */
        m.bytes = realloc(m.bytes, m.len + 10);
        assert_non_null(m.bytes);
        memcpy(m.bytes + m.len, "\xdd\xff\xff\xff\xff", 5);
        memcpy(m.bytes + m.len + 5,
               v == 0 ? "\xa3"
                        "del\x90"
                      : "\xa3"
                        "add\x90",
               5);
        assert_rc(tm_directory_decode(m.bytes, m.len + 10, NULL, &got),
                  TM_ERR_WIRE_COUNT);
        s_free(&m);
    }
    assert_rc(tm_directory_decode((const uint8_t *)"\xdd\xff\x00\x00\x00", 5,
                                  NULL, &got),
              TM_ERR_WIRE_COUNT);
    /* not a map; the size limit; no out */
    assert_rc(tm_directory_decode((const uint8_t *)"\x90", 1, NULL, &got),
              TM_ERR_WIRE_TYPE);
    assert_rc(tm_directory_decode(NULL, 0, NULL, &got), TM_ERR_WIRE_TRUNCATED);
    dir = (tm_directory_t){.inc = 1, .seq = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    tm_wire_limits_t tight = {len - 1, 0};
    assert_rc(tm_directory_decode(bytes, len, &tight, &got),
              TM_ERR_WIRE_TOO_LARGE);
    assert_rc(tm_directory_decode(bytes, len, NULL, NULL), TM_ERR_INVAL);
    free(bytes);

    /* the encoder refuses what the decoder would refuse */
    memset(bad, 0, sizeof bad);
    snprintf(bad[0].id, sizeof bad[0].id, "ok");
    dir.add = bad;
    dir.n_add = 2; /* bad[1] has an empty id */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir.n_add = 0;
    dir.del = bad;
    dir.n_del = 2;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    snprintf(bad[1].id, sizeof bad[1].id, "ok2");
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    free(bytes);
    bad[1].id[TM_MSG_NAME_MAX] = 'x';
    memset(bad[1].id, 'x', TM_MSG_NAME_MAX); /* 65 bytes, no NUL */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir.n_del = 1;
    dir.add = bad;
    dir.n_add = 1;
    bad[0].model[TM_MSG_NAME_MAX] = 'm';
    memset(bad[0].model, 'm', TM_MSG_NAME_MAX);
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    bad[0].model[0] = '\0';
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    free(bytes);
    dir.del = NULL;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir = (tm_directory_t){.n_add = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_directory_encode(NULL, &bytes, &len), TM_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_envelope_edges),
        cmocka_unit_test(test_envelope_version_and_type),
        cmocka_unit_test(test_envelope_directory_type),
        cmocka_unit_test(test_envelope_bad_fields),
        cmocka_unit_test(test_envelope_hostile),
        cmocka_unit_test(test_console_req_round_trip),
        cmocka_unit_test(test_console_req_limits),
        cmocka_unit_test(test_console_req_bad_fields),
        cmocka_unit_test(test_console_rep_round_trip),
        cmocka_unit_test(test_console_rep_bad_fields),
        cmocka_unit_test(test_heartbeat_round_trip),
        cmocka_unit_test(test_heartbeat_bad_fields),
        cmocka_unit_test(test_heartbeat_mesh_round_trip),
        cmocka_unit_test(test_heartbeat_optional_keys),
        cmocka_unit_test(test_heartbeat_mesh_bad_fields),
        cmocka_unit_test(test_link_batch_round_trip),
        cmocka_unit_test(test_link_batch_bad_fields),
        cmocka_unit_test(test_link_batch_large),
        cmocka_unit_test(test_directory_round_trip),
        cmocka_unit_test(test_directory_max),
        cmocka_unit_test(test_directory_bad_fields),
        cmocka_unit_test(test_directory_epoch),
        cmocka_unit_test(test_directory_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
