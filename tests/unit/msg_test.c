/* msg_test: encoders and decoders of protocol/tm_msg: a round trip for the
 * envelope, console requests and replies and heartbeats, then hostile
 * inputs (wrong types, unknown version or type, truncation, huge counts,
 * deep nesting, oversize, NUL bytes in names). The mesh's link batches and
 * directories: msg_mesh_test. */
#include "msg_fixture.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
