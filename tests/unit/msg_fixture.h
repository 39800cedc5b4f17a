/* msg_fixture.h: helpers shared by the tests of protocol/tm_msg (msg_test,
 * msg_mesh_test): rc assertions with error names, hand-built messages, and
 * the check that every strict prefix of a message fails. */
#ifndef TM_MSG_FIXTURE_H
#define TM_MSG_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_err.h"
#include "assert_rc.h"
#include "tm_msg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hand-built message: a tm_wire_buf_t that tests pack into freely. */
typedef struct {
    tm_wire_buf_t b;
    uint8_t *bytes;
    size_t len;
} s_msg_t;

static inline msgpack_packer *s_begin(s_msg_t *m)
{
    memset(m, 0, sizeof *m);
    tm_wire_buf_init(&m->b);
    return &m->b.pk;
}

static inline void s_end(s_msg_t *m)
{
    assert_rc(tm_wire_buf_finish(&m->b, &m->bytes, &m->len), 0);
    tm_wire_buf_destroy(&m->b);
}

static inline void s_free(s_msg_t *m)
{
    free(m->bytes);
    m->bytes = NULL;
}

static inline void s_pack_bytes_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* An envelope with arbitrary field objects: version, type and payload as
 * given; source "a", destination "b", tick 1, seq 2. */
static inline void s_envelope_raw(s_msg_t *m, int64_t version, int64_t type,
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

static inline tm_envelope_t s_env(uint32_t type, const char *src,
                                  const char *dst)
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

static inline void s_assert_prefixes_fail(const uint8_t *bytes, size_t len,
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

#endif
