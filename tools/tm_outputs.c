/* tm_outputs: twin output maps (docs/protocol.md section 8.2). */
#include "tm_outputs.h"

#include "tm_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int s_read_values(tm_wire_reader_t *r, tm_outputs_values_t *vals)
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
        if (rc == 0 && klen > 0 && klen <= TM_OUTPUTS_NAME_MAX &&
            vals->n < TM_OUTPUTS_VALUES_MAX) {
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
                        tm_outputs_t *out, unsigned *have)
{
    int b = 0;
    int rc;
    if (s_key_is(k, klen, "asset")) {
        const char *s;
        size_t n;
        rc = tm_wire_read_str(r, &s, &n);
        if (rc == 0 && (n == 0 || n > TM_OUTPUTS_ASSET_MAX)) {
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

int tm_outputs_decode(const uint8_t *buf, size_t len, tm_outputs_t *out)
{
    tm_wire_limits_t lim = {TM_OUTPUTS_SIZE_MAX, 0};
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

double tm_outputs_value(const tm_outputs_values_t *vals, const char *name)
{
    for (uint32_t i = 0; i < vals->n; i++) {
        if (strcmp(vals->v[i].name, name) == 0) {
            return vals->v[i].value;
        }
    }
    return NAN;
}

int tm_outputs_endpoint(const char *bound, const char *console, char *out,
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
