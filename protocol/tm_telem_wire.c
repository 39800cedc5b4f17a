/* tm_telem_wire: telemetry frames (see tm_telem_wire.h). */
#include "tm_telem_wire.h"

#include "tm_err.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Copy a borrowed string of len bytes into dst (cap bytes with the NUL);
 * empty or too long strings are refused. */
static int s_copy(char *dst, size_t cap, const char *src, size_t len)
{
    if (len == 0 || len >= cap || memchr(src, '\0', len) != NULL) {
        return TM_ERR_WIRE_FIELD;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static bool s_key(const char *k, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(k, want, len) == 0;
}

/* One value of a sample map into s; unknown keys are skipped. *seen gets
 * a bit per required key. */
static int s_field(tm_wire_reader_t *r, const char *k, size_t klen,
                   tm_telem_sample_t *s, unsigned *seen)
{
    const char *str = NULL;
    size_t len = 0;
    int rc;
    if (s_key(k, klen, "asset")) {
        rc = tm_wire_read_str(r, &str, &len);
        rc = rc ? rc : s_copy(s->asset, sizeof s->asset, str, len);
        *seen |= 1u;
    } else if (s_key(k, klen, "signal")) {
        rc = tm_wire_read_str(r, &str, &len);
        rc = rc ? rc : s_copy(s->signal, sizeof s->signal, str, len);
        *seen |= 2u;
    } else if (s_key(k, klen, "ts")) {
        rc = tm_wire_read_u64(r, &s->ts);
        *seen |= 4u;
    } else if (s_key(k, klen, "value")) {
        rc = tm_wire_read_f64(r, &s->value);
        *seen |= 8u;
    } else if (s_key(k, klen, "unit")) {
        rc = tm_wire_read_str(r, &str, &len);
        rc = rc ? rc : s_copy(s->unit, sizeof s->unit, str, len);
    } else {
        rc = tm_wire_read_skip(r, NULL, NULL);
    }
    return rc;
}

/* One sample at r. The reader always ends after the object, so a bad
 * sample never spoils the next. */
static int s_sample(tm_wire_reader_t *r, tm_telem_sample_t *s)
{
    tm_wire_reader_t start = *r;
    int rc = tm_wire_read_skip(r, NULL, NULL); /* r: past the object */
    if (rc != 0) {
        return rc;
    }
    tm_wire_reader_t in = start;
    uint32_t n = 0;
    rc = tm_wire_read_map(&in, &n);
    if (rc != 0) {
        return rc;
    }
    memset(s, 0, sizeof *s);
    unsigned seen = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const char *k = NULL;
        size_t klen = 0;
        rc = tm_wire_read_str(&in, &k, &klen);
        rc = rc ? rc : s_field(&in, k, klen, s, &seen);
    }
    if (rc == 0 && seen != 15u) {
        rc = TM_ERR_WIRE_FIELD; /* a required key is missing */
    }
    return rc;
}

int tm_telem_decode(const uint8_t *buf, size_t len, tm_telem_fn fn, void *arg)
{
    tm_wire_limits_t lim = {.max_size = TM_TELEM_FRAME_MAX, .max_depth = 0};
    int rc = tm_wire_check(buf, len, &lim);
    if (rc != 0) {
        return rc;
    }
    tm_wire_reader_t r;
    tm_wire_reader_init(&r, buf, len);
    uint32_t n = 1;
    bool batch = len > 0 &&
                 ((buf[0] & 0xf0) == 0x90 || buf[0] == 0xdc || buf[0] == 0xdd);
    if (batch) {
        rc = tm_wire_read_array(&r, &n);
        if (rc == 0 && (n == 0 || n > TM_TELEM_BATCH_MAX)) {
            rc = TM_ERR_WIRE_COUNT;
        }
    } else if (!(len > 0 && ((buf[0] & 0xf0) == 0x80 || buf[0] == 0xde ||
                             buf[0] == 0xdf))) {
        rc = TM_ERR_WIRE_TYPE;
    }
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        tm_telem_sample_t s;
        int st = s_sample(&r, &s);
        fn(arg, st == 0 ? &s : NULL, st);
    }
    return 0;
}

static int s_pack_one(msgpack_packer *pk, const tm_telem_sample_t *s)
{
    size_t la = strnlen(s->asset, sizeof s->asset);
    size_t ls = strnlen(s->signal, sizeof s->signal);
    size_t lu = strnlen(s->unit, sizeof s->unit);
    if (la == 0 || la > TM_TELEM_ASSET_MAX || ls == 0 ||
        ls > TM_TELEM_SIGNAL_MAX || lu > TM_TELEM_UNIT_MAX) {
        return TM_ERR_INVAL;
    }
    msgpack_pack_map(pk, lu > 0 ? 5 : 4);
    tm_wire_pack_kv_str(pk, "asset", s->asset);
    tm_wire_pack_kv_str(pk, "signal", s->signal);
    tm_wire_pack_kv_u64(pk, "ts", s->ts);
    tm_wire_pack_kv_f64(pk, "value", s->value);
    if (lu > 0) {
        tm_wire_pack_kv_str(pk, "unit", s->unit);
    }
    return 0;
}

int tm_telem_encode(const tm_telem_sample_t *s, size_t n, int batch,
                    uint8_t **out, size_t *out_len)
{
    if (n == 0 || n > TM_TELEM_BATCH_MAX || (n > 1 && !batch)) {
        return TM_ERR_INVAL;
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    if (batch) {
        msgpack_pack_array(&b.pk, n);
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_pack_one(&b.pk, &s[i]);
    }
    if (rc == 0) {
        rc = tm_wire_buf_finish(&b, out, out_len);
    }
    tm_wire_buf_destroy(&b);
    return rc;
}
