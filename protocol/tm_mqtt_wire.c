/* tm_mqtt_wire: MQTT topics, JSON payloads, broker addresses
 * (tm_mqtt_wire.h). */
#include "tm_mqtt_wire.h"

#include "tm_err.h"
#include "tm_text.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- topics -------------------------------------------------------------- */

/* One asset or signal level of len bytes into dst (cap with the NUL). */
static int s_level(char *dst, size_t cap, const char *src, size_t len)
{
    if (len == 0 || len >= cap) {
        return TM_ERR_WIRE_FIELD;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c == 0x7f || c == '+' || c == '#') {
            return TM_ERR_WIRE_FIELD;
        }
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int tm_mqtt_topic_parse(const char *topic, const char *site,
                        tm_telem_sample_t *s)
{
    if (topic == NULL || site == NULL || site[0] == '\0') {
        return TM_ERR_WIRE_FIELD;
    }
    size_t len = strnlen(topic, TM_MQTT_TOPIC_MAX + 1);
    if (len > TM_MQTT_TOPIC_MAX) {
        return TM_ERR_WIRE_TOO_LARGE;
    }
    size_t sl = strlen(site);
    if (len <= sl || memcmp(topic, site, sl) != 0 || topic[sl] != '/') {
        return TM_ERR_WIRE_FIELD;
    }
    const char *asset = topic + sl + 1;
    const char *slash = memchr(asset, '/', len - sl - 1);
    if (slash == NULL) {
        return TM_ERR_WIRE_FIELD;
    }
    const char *signal = slash + 1;
    size_t sig_len = (size_t)(topic + len - signal);
    if (memchr(signal, '/', sig_len) != NULL) {
        return TM_ERR_WIRE_FIELD; /* more than three levels */
    }
    int rc = s_level(s->asset, sizeof s->asset, asset, (size_t)(slash - asset));
    return rc ? rc : s_level(s->signal, sizeof s->signal, signal, sig_len);
}

/* ---- payloads ------------------------------------------------------------ */

/* An object {"value", "ts"?, "unit"?} into s (asset and signal already
 * there). */
static int s_object(const json_t *o, uint64_t now_ns, tm_telem_sample_t *s)
{
    if (!json_is_object(o)) {
        return TM_ERR_WIRE_TYPE;
    }
    const json_t *v = json_object_get(o, "value");
    const json_t *ts = json_object_get(o, "ts");
    const json_t *unit = json_object_get(o, "unit");
    if (v == NULL) {
        return TM_ERR_WIRE_FIELD;
    }
    if (!json_is_number(v)) {
        return TM_ERR_WIRE_TYPE;
    }
    s->value = json_number_value(v);
    s->ts = now_ns;
    s->unit[0] = '\0';
    if (ts != NULL) {
        if (!json_is_integer(ts)) {
            return TM_ERR_WIRE_TYPE;
        }
        json_int_t t = json_integer_value(ts);
        if (t < 0) {
            return TM_ERR_WIRE_FIELD;
        }
        s->ts = (uint64_t)t;
    }
    if (unit != NULL) {
        if (!json_is_string(unit)) {
            return TM_ERR_WIRE_TYPE;
        }
        size_t n = json_string_length(unit);
        if (n == 0 || n >= sizeof s->unit) {
            return TM_ERR_WIRE_FIELD;
        }
        memcpy(s->unit, json_string_value(unit), n);
        s->unit[n] = '\0';
    }
    return 0;
}

/* The samples of a parsed payload. */
static int s_samples(const json_t *j, const tm_telem_sample_t *topic,
                     uint64_t now_ns, tm_telem_fn fn, void *arg)
{
    tm_telem_sample_t s = *topic;
    if (json_is_number(j)) {
        s.value = json_number_value(j);
        s.ts = now_ns;
        s.unit[0] = '\0';
        fn(arg, &s, 0);
        return 0;
    }
    if (json_is_object(j)) {
        int st = s_object(j, now_ns, &s);
        fn(arg, st == 0 ? &s : NULL, st);
        return 0;
    }
    if (!json_is_array(j)) {
        return TM_ERR_WIRE_TYPE;
    }
    size_t n = json_array_size(j);
    if (n == 0 || n > TM_TELEM_BATCH_MAX) {
        return TM_ERR_WIRE_COUNT;
    }
    for (size_t i = 0; i < n; i++) {
        s = *topic;
        int st = s_object(json_array_get(j, i), now_ns, &s);
        fn(arg, st == 0 ? &s : NULL, st);
    }
    return 0;
}

int tm_mqtt_decode(const void *payload, size_t len,
                   const tm_telem_sample_t *topic, uint64_t now_ns,
                   tm_telem_fn fn, void *arg)
{
    if (len > TM_MQTT_PAYLOAD_MAX) {
        return TM_ERR_WIRE_TOO_LARGE;
    }
    if (len == 0 || payload == NULL) {
        return TM_ERR_WIRE_TRUNCATED;
    }
    json_error_t err;
    json_t *j = json_loadb(payload, len,
                           JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        return TM_ERR_WIRE_MALFORMED;
    }
    int rc = s_samples(j, topic, now_ns, fn, arg);
    json_decref(j);
    return rc;
}

/* ---- broker addresses ---------------------------------------------------- */

static int s_why(char *why, size_t cap, const char *msg)
{
    if (why != NULL && cap > 0) {
        snprintf(why, cap, "%s", msg);
    }
    return TM_ERR_INVAL;
}

/* true if the n bytes at p are all in the set (letters and digits always
 * count when alnum). */
static bool s_only(const char *p, size_t n, bool alnum, const char *set)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (alnum && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9'))) ||
                  (c != '\0' && strchr(set, c) != NULL);
        if (!ok) {
            return false;
        }
    }
    return true;
}

int tm_mqtt_broker_parse(const char *text, char *host, size_t cap,
                         uint16_t *port, char *why, size_t why_cap)
{
    if (text == NULL || text[0] == '\0') {
        return s_why(why, why_cap, "empty (give HOST:PORT)");
    }
    const char *p = text;
    if (strncmp(p, "mqtt://", 7) == 0) {
        p += 7;
    } else if (strstr(p, "://") != NULL) {
        return s_why(why, why_cap,
                     "only mqtt:// (MQTT over plain TCP) is supported");
    }
    const char *h = p;
    size_t hl = 0;
    const char *rest = NULL;
    bool v6 = p[0] == '[';
    if (v6) {
        const char *close = strchr(p, ']');
        if (close == NULL) {
            return s_why(why, why_cap, "'[' without ']'");
        }
        h = p + 1;
        hl = (size_t)(close - h);
        rest = close + 1;
        if (rest[0] != '\0' && rest[0] != ':') {
            return s_why(why, why_cap, "text after the address");
        }
    } else {
        rest = strchr(p, ':');
        hl = rest != NULL ? (size_t)(rest - p) : strlen(p);
        if (rest != NULL && strchr(rest + 1, ':') != NULL) {
            return s_why(why, why_cap,
                         "an IPv6 address goes in brackets: [::1]:1883");
        }
        if (rest == NULL) {
            rest = p + hl;
        }
    }
    if (hl == 0) {
        return s_why(why, why_cap, "no host");
    }
    if (hl > TM_MQTT_HOST_MAX || hl >= cap) {
        return s_why(why, why_cap, "host name too long");
    }
    if (v6 ? !s_only(h, hl, false, "0123456789abcdefABCDEF:.")
           : !s_only(h, hl, true, "-.")) {
        return s_why(why, why_cap,
                     v6 ? "not an IPv6 address"
                        : "the host may hold letters, digits, '-' and '.'");
    }
    uint64_t pn = TM_MQTT_DEFAULT_PORT;
    if (rest[0] == ':' &&
        tm_text_parse_u64(rest + 1, false, 1, 65535, &pn) != 0) {
        return s_why(why, why_cap, "the port must be a number in 1..65535");
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)pn;
    return 0;
}
