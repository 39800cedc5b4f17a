/* tm_body: MessagePack documents built from declared fields. */
#include "tm_body.h"

#include "tm_err.h"

#include <string.h>

#define S_RESERVED 5u /* a map32/array32 header */

static void s_fail(tm_body_t *b, int rc)
{
    if (b->failed == 0) {
        b->failed = rc;
    }
}

/* A value is about to be written: it counts in an enclosing array. */
static void s_value(tm_body_t *b)
{
    if (b->depth > 0 && !b->open[b->depth - 1].map) {
        b->open[b->depth - 1].n++;
    }
}

void tm_body_start(tm_body_t *b, tm_wire_buf_t *buf)
{
    memset(b, 0, sizeof *b);
    b->buf = buf;
    tm_wire_buf_clear(buf);
}

static void s_open(tm_body_t *b, bool map)
{
    static const uint8_t hdr[S_RESERVED] = {0};
    s_value(b);
    if (b->depth >= TM_BODY_DEPTH_MAX) {
        s_fail(b, TM_ERR_INTERNAL);
        return;
    }
    b->open[b->depth].at = b->buf->sbuf.size;
    b->open[b->depth].n = 0;
    b->open[b->depth].map = map;
    b->depth++;
    tm_wire_pack_raw(&b->buf->pk, hdr, sizeof hdr);
}

void tm_body_map(tm_body_t *b)
{
    s_open(b, true);
}

void tm_body_array(tm_body_t *b)
{
    s_open(b, false);
}

void tm_body_end(tm_body_t *b)
{
    if (b->depth == 0) {
        s_fail(b, TM_ERR_INTERNAL);
        return;
    }
    b->depth--;
    if (tm_wire_buf_ok(b->buf) != 0) {
        s_fail(b, TM_ERR_NOMEM);
        return;
    }
    size_t at = b->open[b->depth].at;
    uint32_t n = b->open[b->depth].n;
    bool map = b->open[b->depth].map;
    uint8_t hdr[S_RESERVED];
    size_t h = 0;
    if (n < 16) {
        hdr[h++] = (uint8_t)((map ? 0x80u : 0x90u) | n);
    } else if (n <= 0xffffu) {
        hdr[h++] = map ? 0xde : 0xdc;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = map ? 0xdf : 0xdd;
        hdr[h++] = (uint8_t)(n >> 24);
        hdr[h++] = (uint8_t)(n >> 16);
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    }
    char *data = b->buf->sbuf.data;
    size_t size = b->buf->sbuf.size;
    memcpy(data + at, hdr, h);
    if (h < S_RESERVED) {
        memmove(data + at + h, data + at + S_RESERVED, size - at - S_RESERVED);
        b->buf->sbuf.size = size - (S_RESERVED - h);
    }
}

void tm_body_key(tm_body_t *b, const char *key)
{
    if (b->depth == 0 || !b->open[b->depth - 1].map) {
        s_fail(b, TM_ERR_INTERNAL);
        return;
    }
    b->open[b->depth - 1].n++;
    tm_wire_pack_str(&b->buf->pk, key);
}

void tm_body_str(tm_body_t *b, const char *s)
{
    s_value(b);
    tm_wire_pack_str(&b->buf->pk, s);
}

void tm_body_u64(tm_body_t *b, uint64_t v)
{
    s_value(b);
    msgpack_pack_uint64(&b->buf->pk, v);
}

void tm_body_f64(tm_body_t *b, double v)
{
    s_value(b);
    msgpack_pack_double(&b->buf->pk, v);
}

void tm_body_bool(tm_body_t *b, bool v)
{
    s_value(b);
    if (v) {
        msgpack_pack_true(&b->buf->pk);
    } else {
        msgpack_pack_false(&b->buf->pk);
    }
}

void tm_body_nil(tm_body_t *b)
{
    s_value(b);
    msgpack_pack_nil(&b->buf->pk);
}

void tm_body_kv_str(tm_body_t *b, const char *key, const char *s)
{
    tm_body_key(b, key);
    tm_body_str(b, s);
}

void tm_body_kv_u64(tm_body_t *b, const char *key, uint64_t v)
{
    tm_body_key(b, key);
    tm_body_u64(b, v);
}

void tm_body_kv_f64(tm_body_t *b, const char *key, double v)
{
    tm_body_key(b, key);
    tm_body_f64(b, v);
}

void tm_body_kv_bool(tm_body_t *b, const char *key, bool v)
{
    tm_body_key(b, key);
    tm_body_bool(b, v);
}

void tm_body_kv_nil(tm_body_t *b, const char *key)
{
    tm_body_key(b, key);
    tm_body_nil(b);
}

void tm_body_kv_map(tm_body_t *b, const char *key)
{
    tm_body_key(b, key);
    tm_body_map(b);
}

void tm_body_kv_array(tm_body_t *b, const char *key)
{
    tm_body_key(b, key);
    tm_body_array(b);
}

void tm_body_raw(tm_body_t *b, const uint8_t *obj, size_t len)
{
    s_value(b);
    tm_wire_pack_raw(&b->buf->pk, obj, len);
}

int tm_body_done(tm_body_t *b)
{
    if (b->failed == 0 && b->depth != 0) {
        b->failed = TM_ERR_INTERNAL;
    }
    if (b->failed == 0 && tm_wire_buf_ok(b->buf) != 0) {
        b->failed = TM_ERR_NOMEM;
    }
    return b->failed;
}
