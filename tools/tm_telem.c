/* tm_telem: sample batches and output maps of docs/protocol.md section 8. */
#include "tm_telem.h"

#include "tm_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of one encoded sample at most: a map of 5 with an asset of 64, a
 * signal of 31 and a unit of 15 bytes, keys and numbers included. */
#define S_SAMPLE_MAX 180u

/* ---- samples ------------------------------------------------------------- */

void tm_telem_batch_init(tm_telem_batch_t *b)
{
    memset(b, 0, sizeof *b);
    tm_wire_buf_init(&b->body);
}

void tm_telem_batch_clear(tm_telem_batch_t *b)
{
    tm_wire_buf_clear(&b->body);
    b->count = 0;
}

void tm_telem_batch_destroy(tm_telem_batch_t *b)
{
    tm_wire_buf_destroy(&b->body);
    free(b->frame);
    b->frame = NULL;
    b->frame_cap = 0;
    b->count = 0;
}

int tm_telem_batch_add(tm_telem_batch_t *b, const char *asset,
                       const char *signal, uint64_t ts, double value,
                       const char *unit)
{
    size_t alen = strlen(asset);
    size_t slen = strlen(signal);
    size_t ulen = unit != NULL ? strlen(unit) : 0;
    if (alen == 0 || alen > TM_TELEM_ASSET_MAX || slen == 0 ||
        slen > TM_TELEM_SIGNAL_MAX || ulen > TM_TELEM_UNIT_MAX) {
        return TM_ERR_INVAL;
    }
    if (b->count >= TM_TELEM_BATCH_MAX) {
        return TM_ERR_TOO_BIG;
    }
    msgpack_packer *pk = &b->body.pk;
    msgpack_pack_map(pk, ulen > 0 ? 5 : 4);
    tm_wire_pack_kv_str(pk, "asset", asset);
    tm_wire_pack_kv_str(pk, "signal", signal);
    tm_wire_pack_kv_u64(pk, "ts", ts);
    tm_wire_pack_kv_f64(pk, "value", value);
    if (ulen > 0) {
        tm_wire_pack_kv_str(pk, "unit", unit);
    }
    if (tm_wire_buf_ok(&b->body) != 0) {
        return TM_ERR_NOMEM;
    }
    b->count++;
    return 0;
}

bool tm_telem_batch_full(const tm_telem_batch_t *b, uint32_t samples)
{
    return b->count + (uint64_t)samples > TM_TELEM_BATCH_MAX ||
           b->body.sbuf.size + (size_t)samples * S_SAMPLE_MAX + 8 >
               TM_TELEM_FRAME_MAX;
}

int tm_telem_batch_frame(tm_telem_batch_t *b, const uint8_t **frame,
                         size_t *len)
{
    if (b->count == 0) {
        return TM_ERR_INVAL;
    }
    if (tm_wire_buf_ok(&b->body) != 0) {
        return TM_ERR_NOMEM;
    }
    size_t need = b->body.sbuf.size + 5;
    if (need > b->frame_cap) {
        uint8_t *f = realloc(b->frame, need);
        if (f == NULL) {
            return TM_ERR_NOMEM;
        }
        b->frame = f;
        b->frame_cap = need;
    }
    /* array 16 or 32 header, then the maps */
    size_t h = 0;
    if (b->count < 16) {
        b->frame[h++] = (uint8_t)(0x90 | b->count);
    } else if (b->count <= 0xffff) {
        b->frame[h++] = 0xdc;
        b->frame[h++] = (uint8_t)(b->count >> 8);
        b->frame[h++] = (uint8_t)b->count;
    } else {
        b->frame[h++] = 0xdd;
        for (int s = 24; s >= 0; s -= 8) {
            b->frame[h++] = (uint8_t)(b->count >> s);
        }
    }
    memcpy(b->frame + h, b->body.sbuf.data, b->body.sbuf.size);
    *frame = b->frame;
    *len = h + b->body.sbuf.size;
    return 0;
}

/* ---- outputs ------------------------------------------------------------- */

/* A float or nil (NaN). */
static int s_read_num(tm_wire_reader_t *r, double *v)
{
    if (tm_wire_read_nil(r) == 0) {
        *v = NAN;
        return 0;
    }
    return tm_wire_read_f64(r, v);
}

static bool s_key_is(const char *k, size_t klen, const char *name)
{
    return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

static int s_read_values(tm_wire_reader_t *r, tm_telem_values_t *vals)
{
    uint32_t n;
    int rc = tm_wire_read_map(r, &n);
    vals->n = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const char *k;
        size_t klen;
        double v;
        if (tm_wire_read_str(r, &k, &klen) != 0) {
            rc = tm_wire_read_skip(r, NULL, NULL);
            rc = rc == 0 ? tm_wire_read_skip(r, NULL, NULL) : rc;
            continue;
        }
        rc = s_read_num(r, &v);
        if (rc == 0 && klen > 0 && klen <= TM_TELEM_NAME_MAX &&
            vals->n < TM_TELEM_VALUES_MAX) {
            memcpy(vals->v[vals->n].name, k, klen);
            vals->v[vals->n].name[klen] = '\0';
            vals->v[vals->n].value = v;
            vals->n++;
        }
    }
    return rc;
}

enum {
    S_HAVE_ASSET = 1,
    S_HAVE_TICK = 2,
    S_HAVE_TS = 4,
    S_HAVE_SCORE = 8,
    S_HAVE_ALARM = 16,
    S_HAVE_ALL = 31
};

/* One key's value into out; *have gets the required field it was. */
static int s_read_field(tm_wire_reader_t *r, const char *k, size_t klen,
                        tm_telem_output_t *out, unsigned *have)
{
    int b = 0;
    int rc;
    if (s_key_is(k, klen, "asset")) {
        const char *s;
        size_t n;
        rc = tm_wire_read_str(r, &s, &n);
        if (rc == 0 && (n == 0 || n > TM_TELEM_ASSET_MAX)) {
            return TM_ERR_WIRE_FIELD;
        }
        if (rc == 0) {
            memcpy(out->asset, s, n);
            out->asset[n] = '\0';
            *have |= S_HAVE_ASSET;
        }
        return rc;
    }
    if (s_key_is(k, klen, "tick")) {
        *have |= S_HAVE_TICK;
        return tm_wire_read_u64(r, &out->tick);
    }
    if (s_key_is(k, klen, "ts")) {
        *have |= S_HAVE_TS;
        return tm_wire_read_u64(r, &out->ts);
    }
    if (s_key_is(k, klen, "params")) {
        return tm_wire_read_u64(r, &out->params);
    }
    if (s_key_is(k, klen, "score")) {
        *have |= S_HAVE_SCORE;
        return s_read_num(r, &out->score);
    }
    if (s_key_is(k, klen, "alarm") || s_key_is(k, klen, "degraded")) {
        rc = tm_wire_read_bool(r, &b);
        if (k[0] == 'a') {
            out->alarm = b != 0;
            *have |= S_HAVE_ALARM;
        } else {
            out->degraded = b != 0;
        }
        return rc;
    }
    if (s_key_is(k, klen, "outputs")) {
        return s_read_values(r, &out->outputs);
    }
    if (s_key_is(k, klen, "uncertainty")) {
        return s_read_values(r, &out->uncertainty);
    }
    if (s_key_is(k, klen, "measured")) {
        return s_read_values(r, &out->measured);
    }
    return tm_wire_read_skip(r, NULL, NULL);
}

int tm_telem_output_decode(const uint8_t *buf, size_t len,
                           tm_telem_output_t *out)
{
    tm_wire_limits_t lim = {TM_TELEM_OUTPUT_SIZE, 0};
    memset(out, 0, sizeof *out);
    int rc = tm_wire_check(buf, len, &lim);
    if (rc != 0) {
        return rc;
    }
    tm_wire_reader_t r;
    uint32_t n;
    unsigned have = 0;
    tm_wire_reader_init(&r, buf, len);
    rc = tm_wire_read_map(&r, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const char *k;
        size_t klen;
        if (tm_wire_read_str(&r, &k, &klen) != 0) {
            rc = tm_wire_read_skip(&r, NULL, NULL); /* a non-str key */
            rc = rc == 0 ? tm_wire_read_skip(&r, NULL, NULL) : rc;
            continue;
        }
        rc = s_read_field(&r, k, klen, out, &have);
    }
    if (rc == 0 && have != S_HAVE_ALL) {
        rc = TM_ERR_WIRE_FIELD;
    }
    return rc;
}

double tm_telem_value(const tm_telem_values_t *vals, const char *name)
{
    for (uint32_t i = 0; i < vals->n; i++) {
        if (strcmp(vals->v[i].name, name) == 0) {
            return vals->v[i].value;
        }
    }
    return NAN;
}

/* ---- endpoints ----------------------------------------------------------- */

int tm_telem_connect_endpoint(const char *bound, const char *console, char *out,
                              size_t cap)
{
    if (strncmp(bound, "ipc://", 6) == 0) {
        return (size_t)snprintf(out, cap, "%s", bound) < cap ? 0
                                                             : TM_ERR_TOO_BIG;
    }
    if (strncmp(bound, "tcp://", 6) != 0) {
        return TM_ERR_INVAL;
    }
    const char *host = bound + 6;
    const char *colon = strrchr(host, ':');
    if (colon == NULL || colon[1] == '\0') {
        return TM_ERR_INVAL;
    }
    size_t hlen = (size_t)(colon - host);
    bool wild = (hlen == 1 && host[0] == '*') ||
                (hlen == 7 && memcmp(host, "0.0.0.0", 7) == 0) ||
                (hlen == 2 && memcmp(host, "::", 2) == 0) ||
                (hlen == 4 && memcmp(host, "[::]", 4) == 0);
    if (!wild || console == NULL || strncmp(console, "tcp://", 6) != 0) {
        return (size_t)snprintf(out, cap, "%s", bound) < cap ? 0
                                                             : TM_ERR_TOO_BIG;
    }
    const char *chost = console + 6;
    const char *ccolon = strrchr(chost, ':');
    size_t clen = ccolon != NULL ? (size_t)(ccolon - chost) : strlen(chost);
    int n = snprintf(out, cap, "tcp://%.*s%s", (int)clen, chost, colon);
    return n >= 0 && (size_t)n < cap ? 0 : TM_ERR_TOO_BIG;
}
