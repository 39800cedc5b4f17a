/* tm_render: text tables and JSON documents from console reply bodies. */
#include "tm_render.h"

#include "tm_err.h"
#include "tm_wire.h"

#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define S_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII)

/* ---- MessagePack -> JSON ------------------------------------------------ */

static void s_key(const msgpack_object *k, char *buf, size_t cap,
                  const char **key)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        size_t n = k->via.str.size < cap - 1 ? k->via.str.size : cap - 1;
        memcpy(buf, k->via.str.ptr, n);
        buf[n] = '\0';
    } else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(buf, cap, "%llu", (unsigned long long)k->via.u64);
    } else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        snprintf(buf, cap, "%lld", (long long)k->via.i64);
    } else {
        snprintf(buf, cap, "?");
    }
    *key = buf;
}

static json_t *s_conv(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            return json_real((double)o->via.u64);
        }
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
        return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        static const char hex[] = "0123456789abcdef";
        size_t n = o->via.bin.size;
        char *s = malloc(2 * n + 1);
        if (s == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            s[2 * i] = hex[(unsigned char)o->via.bin.ptr[i] >> 4];
            s[2 * i + 1] = hex[(unsigned char)o->via.bin.ptr[i] & 15];
        }
        s[2 * n] = '\0';
        json_t *j = json_string(s);
        free(s);
        return j;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a != NULL && i < o->via.array.size; i++) {
            json_t *e = s_conv(&o->via.array.ptr[i]);
            if (e == NULL || json_array_append_new(a, e) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; m != NULL && i < o->via.map.size; i++) {
            char buf[256];
            const char *key = NULL;
            s_key(&o->via.map.ptr[i].key, buf, sizeof buf, &key);
            json_t *v = s_conv(&o->via.map.ptr[i].val);
            if (v == NULL || json_object_set_new(m, key, v) != 0) {
                json_decref(m);
                m = NULL;
            }
        }
        return m;
    }
    default:
        return json_null(); /* ext: not used by twinmesh */
    }
}

int tm_render_to_json(const uint8_t *body, size_t len, json_t **out)
{
    msgpack_zone zone;
    msgpack_object obj;
    *out = NULL;
    if (body == NULL || len == 0) {
        *out = json_null();
        return 0;
    }
    if (!msgpack_zone_init(&zone, 4096)) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(body, len, NULL, &zone, &obj);
    if (rc == 0) {
        *out = s_conv(&obj);
        if (*out == NULL) {
            rc = TM_ERR_NOMEM;
        }
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* ---- helpers ------------------------------------------------------------ */

const char *tm_render_num(json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, cap, "%.6g", json_real_value(v));
    } else if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
    } else if (json_is_true(v)) {
        snprintf(buf, cap, "yes");
    } else if (json_is_false(v)) {
        snprintf(buf, cap, "no");
    } else {
        snprintf(buf, cap, "-");
    }
    return buf;
}

static const char *s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* An integer field; a real is truncated, and clamped to the range of long
 * long (a reply of another node version, or a broken one, must not make
 * the conversion undefined). */
static long long s_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) {
        return (long long)json_integer_value(v);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 9223372036854775808.0) {
            return LLONG_MAX;
        }
        if (d < -9223372036854775808.0) {
            return LLONG_MIN;
        }
        return (long long)d;
    }
    return 0;
}

static double s_real(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static void s_line(FILE *out, const char *message)
{
    if (message != NULL && message[0] != '\0') {
        fprintf(out, "%s\n", message);
    }
}

/* ---- per-command text ------------------------------------------------- */

void tmi_show_nodes(tm_render_t *r, const char *message, json_t *body,
                    bool more)
{
    (void)more;
    FILE *out = r->out;
    size_t i;
    json_t *n;
    fprintf(out, "%-16s %-16s %-8s %-9s %10s %12s %6s  %s\n", "NAME", "SITE",
            "STATE", "CLOCK", "ACTORS", "TICK", "LAG", "MESH");
    json_array_foreach(body, i, n)
    {
        const char *mesh = s_str(n, "mesh");
        fprintf(out, "%-16s %-16s %-8s %-9s %10lld %12lld %6lld  %s\n",
                s_str(n, "name"), s_str(n, "site"), s_str(n, "state"),
                s_str(n, "clock"), s_int(n, "actors"), s_int(n, "tick"),
                s_int(n, "lag"), mesh[0] != '\0' ? mesh : "-");
    }
    if (message != NULL && message[0] != '\0') {
        fprintf(out, "warning: %s\n", message);
    }
}

void tmi_show_why_stuck(tm_render_t *r, const char *message, json_t *body,
                        bool more)
{
    FILE *out = r->out;
    size_t i;
    json_t *n;
    (void)more;
    json_array_foreach(body, i, n)
    {
        fprintf(out, "%-16s tick %-10lld %-8s %s\n", s_str(n, "node"),
                s_int(n, "tick"), s_str(n, "clock"), s_str(n, "reason"));
    }
    s_line(out, message);
}

void tmi_show_actors(tm_render_t *r, const char *message, json_t *body,
                     bool more)
{
    FILE *out = r->out;
    size_t i;
    json_t *a;
    if (r->parts == 0) {
        int w = 8;
        json_array_foreach(body, i, a)
        {
            int l = (int)strlen(s_str(a, "id"));
            w = l > w ? l : w;
        }
        r->widths[0] = w;
        fprintf(out, "%-*s  %-12s %-8s %-8s %s\n", w, "ID", "MODEL", "VERSION",
                "FIDELITY", "NODE");
    }
    json_array_foreach(body, i, a)
    {
        fprintf(out, "%-*s  %-12s %-8s %-8s %s\n", r->widths[0], s_str(a, "id"),
                s_str(a, "model"), s_str(a, "version"), s_str(a, "fidelity"),
                s_str(a, "node"));
        r->rows++;
    }
    if (!more) {
        s_line(out, message);
    }
}

void tmi_show_ids(tm_render_t *r, const char *message, json_t *body, bool more)
{
    (void)message;
    (void)more;
    size_t i;
    json_t *a;
    char buf[64];
    json_array_foreach(body, i, a)
    {
        fprintf(r->out, "%s\n", tm_render_num(a, buf, sizeof buf));
    }
}

/* One line per audit record: time, (node, in a mesh,) tick, kind,
 * actor, before -> after, reason, who; "-" for what does not apply. */
void tmi_show_audit(tm_render_t *r, const char *message, json_t *body,
                    bool more)
{
    FILE *out = r->out;
    size_t i;
    json_t *a;
    bool mesh = json_object_get(json_array_get(body, 0), "node") != NULL;
    if (r->parts == 0) {
        fprintf(out, "%-24s %s%10s  %-10s %-16s %s\n", "TIME",
                mesh ? "NODE         " : "", "TICK", "KIND", "ACTOR",
                "CHANGE  REASON  (WHO)");
    }
    json_array_foreach(body, i, a)
    {
        const char *damage = json_string_value(json_object_get(a, "damaged"));
        if (damage != NULL) {
            fprintf(out, "record %lld%s%s is damaged: %s\n", s_int(a, "seq"),
                    mesh ? " of node " : "", mesh ? s_str(a, "node") : "",
                    damage);
            continue;
        }
        const char *reason = s_str(a, "reason");
        fprintf(out, "%-24s ", s_str(a, "time"));
        if (mesh) {
            /* a dead node's record, read from its copy on another node */
            char node[160];
            const char *copy = json_string_value(json_object_get(a, "copy_on"));
            snprintf(node, sizeof node, "%s%s%s", s_str(a, "node"),
                     copy != NULL ? " via " : "", copy != NULL ? copy : "");
            fprintf(out, "%-12s ", node);
        }
        fprintf(out, "%10lld  %-10s %-16s %s -> %s%s%s  (%s)\n",
                s_int(a, "tick"), s_str(a, "kind"), s_str(a, "actor"),
                s_str(a, "before"), s_str(a, "after"),
                reason[0] != '\0' ? "  " : "", reason, s_str(a, "who"));
        r->rows++;
    }
    if (!more) {
        s_line(out, message);
    }
}

/* The telemetry line of stats (samples by outcome), and the MQTT
 * bridge's when there is one. */
static void s_stats_telemetry(FILE *out, json_t *t)
{
    if (!json_is_object(t)) {
        return;
    }
    json_t *rej = json_object_get(t, "rejected");
    const char *k;
    json_t *v;
    long long rejected = 0;
    json_object_foreach(rej, k, v)
    {
        rejected += s_int(rej, k);
    }
    fprintf(out,
            "%-11s %lld received, %lld accepted, %lld rejected; %lld assets, "
            "%lld outputs published, %lld alarms\n",
            "telemetry", s_int(t, "received"), s_int(t, "accepted"), rejected,
            s_int(t, "assets"), s_int(t, "published"), s_int(t, "alarms"));
    json_t *m = json_object_get(t, "mqtt");
    if (json_is_object(m)) {
        fprintf(out,
                "%-11s %s as %s, %s; %lld messages (%lld retained), %lld "
                "reconnects\n",
                "mqtt", s_str(m, "broker"), s_str(m, "client_id"),
                json_is_true(json_object_get(m, "connected")) ? "connected"
                                                              : "not connected",
                s_int(m, "messages"), s_int(m, "retained"),
                s_int(m, "reconnects"));
    }
}

void tmi_show_stats(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    FILE *out = r->out;
    json_t *ck = json_object_get(b, "checkpoint");
    json_t *st = json_object_get(b, "store");
    json_t *co = json_object_get(b, "console");
    json_t *sh = json_object_get(b, "shards");
    fprintf(out, "%-11s %s (site %s, %s)\n", "node", s_str(b, "node"),
            s_str(b, "site"), s_str(b, "state"));
    fprintf(out, "%-11s %lld (t = %.3f s, h = %g s)\n", "tick",
            s_int(b, "tick"), s_real(b, "t"), s_real(b, "h"));
    fprintf(out, "%-11s %s (lag %.3f s)\n", "clock", s_str(b, "clock"),
            s_real(b, "lag_s"));
    fprintf(out, "%-11s %lld in %lld groups, %lld links, %lld workers\n",
            "actors", s_int(b, "actors"), s_int(b, "groups"), s_int(b, "links"),
            s_int(b, "workers"));
    fprintf(out, "%-11s %lld (%lld faults); %.4g actor-steps/s, %.4g ticks/s\n",
            "steps", s_int(b, "steps"), s_int(b, "faults"),
            s_real(b, "steps_per_s"), s_real(b, "ticks_per_s"));
    fprintf(out, "%-11s %.1f us\n", "last tick", s_real(b, "last_tick_us"));
    size_t i;
    json_t *w;
    fprintf(out, "%-11s", "shards");
    json_array_foreach(sh, i, w)
    {
        fprintf(out, "%s %lld: %lld actors, %.1f us busy", i ? ";" : "",
                s_int(w, "worker"), s_int(w, "actors"), s_real(w, "busy_us"));
    }
    fprintf(out, "\n");
    fprintf(out,
            "%-11s every %lld ticks; last at tick %lld (%lld written, %lld "
            "failed, %.1f ms)%s\n",
            "checkpoint", s_int(ck, "every"), s_int(ck, "tick"),
            s_int(ck, "count"), s_int(ck, "failed"), s_real(ck, "last_ms"),
            json_is_true(json_object_get(ck, "pending")) ? ", one in flight"
                                                         : "");
    fprintf(out,
            "%-11s map %.1f MiB, %.1f MiB used, %lld commits, %lld "
            "grows\n",
            "store", s_real(st, "map_size") / 1048576.0,
            s_real(st, "used_bytes") / 1048576.0, s_int(st, "commits"),
            s_int(st, "grows"));
    fprintf(out,
            "%-11s %lld requests, %lld errors, %lld dropped, %lld streams\n",
            "console", s_int(co, "requests"), s_int(co, "errors"),
            s_int(co, "dropped"), s_int(co, "streams"));
    s_stats_telemetry(out, json_object_get(b, "telemetry"));
    fprintf(out, "%-11s %.1f s\n", "uptime", s_real(b, "uptime_s"));
}

static void s_names(FILE *out, const char *label, json_t *obj)
{
    const char *k;
    json_t *v;
    int first = 1;
    fprintf(out, " %s:", label);
    char buf[64];
    json_object_foreach(obj, k, v)
    {
        fprintf(out, "%s %s [%s]", first ? "" : ",", k,
                tm_render_num(v, buf, sizeof buf));
        first = 0;
    }
    if (first) {
        fprintf(out, " -");
    }
}

void tmi_show_models(tm_render_t *r, const char *message, json_t *body,
                     bool more)
{
    (void)message;
    (void)more;
    FILE *out = r->out;
    size_t i;
    json_t *m;
    fprintf(out, "%-12s %-8s %-8s %-20s %-12s %s\n", "MODEL", "VERSION",
            "FIDELITY", "ORIGIN", "CHECKSUM", "SUMMARY");
    json_array_foreach(body, i, m)
    {
        fprintf(out, "%-12s %-8s %-8s %-20s %-12.12s %s\n", s_str(m, "model"),
                s_str(m, "version"), s_str(m, "fidelity"), s_str(m, "origin"),
                s_str(m, "checksum"), s_str(m, "summary"));
        fprintf(out, "   ");
        s_names(out, "states", json_object_get(m, "states"));
        fprintf(out, "\n   ");
        s_names(out, "inputs", json_object_get(m, "inputs"));
        fprintf(out, "\n   ");
        s_names(out, "outputs", json_object_get(m, "outputs"));
        fprintf(out, "\n   ");
        s_names(out, "params", json_object_get(m, "params"));
        fprintf(out, "\n");
    }
}

/* One section of inspect: name = value unit [link note]. */
static void s_section(FILE *out, const char *title, json_t *values,
                      json_t *units, json_t *links, const char *link_key,
                      int dir, json_t *held)
{
    const char *k;
    json_t *v;
    char num[64];
    fprintf(out, "%s\n", title);
    if (json_object_size(values) == 0) {
        fprintf(out, "  (none)\n");
    }
    json_object_foreach(values, k, v)
    {
        const char *unit = json_string_value(json_object_get(units, k));
        char note[512];
        size_t off = 0;
        size_t i;
        json_t *l;
        note[0] = '\0';
        json_array_foreach(links, i, l)
        {
            if (strcmp(s_str(l, link_key), k) != 0 || off >= sizeof note) {
                continue;
            }
            json_t *stale = json_object_get(l, "stale");
            int w = dir < 0 ? snprintf(note + off, sizeof note - off,
                                       "%s<- %s.%s%s", off ? ", " : "",
                                       s_str(l, "src"), s_str(l, "output"),
                                       json_is_true(stale) ? " (stale)" : "")
                            : snprintf(note + off, sizeof note - off,
                                       "%s-> %s.%s", off ? ", " : "",
                                       s_str(l, "dst"), s_str(l, "input"));
            off += w > 0 ? (size_t)w : 0;
            long long delay = s_int(l, "delay");
            if (delay > 1 && off < sizeof note) { /* 1, the default: no note */
                w = snprintf(note + off, sizeof note - off, " (delay %lld)",
                             delay);
                off += w > 0 ? (size_t)w : 0;
            }
        }
        if (dir < 0 && off == 0 && held != NULL) {
            char h[64];
            snprintf(note, sizeof note, "(held %s)",
                     tm_render_num(json_object_get(held, k), h, sizeof h));
        }
        fprintf(out, "  %-12s %14s", k, tm_render_num(v, num, sizeof num));
        if (note[0] != '\0') {
            fprintf(out, " %-10s  %s\n", unit ? unit : "", note);
        } else {
            fprintf(out, " %s\n", unit ? unit : "");
        }
    }
}

/* Measured beside predicted, with the estimate's sd, per signal that has
 * had telemetry; then the detector. */
static void s_telemetry(FILE *out, json_t *b)
{
    json_t *tel = json_object_get(b, "telemetry");
    json_t *o = json_object_get(b, "outputs");
    if (!json_is_object(tel) || json_object_size(tel) == 0) {
        return;
    }
    fprintf(out, "telemetry  %-12s %12s %12s %12s %6s %9s\n", "signal",
            "measured", "predicted", "sd", "age", "samples");
    const char *name;
    json_t *v;
    json_object_foreach(tel, name, v)
    {
        char sd[80];
        char age[24] = "-"; /* steps since the last sample was used */
        snprintf(sd, sizeof sd, "%s_sd", name);
        json_t *a = json_object_get(v, "age");
        if (json_is_integer(a)) {
            snprintf(age, sizeof age, "%lld", (long long)json_integer_value(a));
        }
        fprintf(out, "           %-12s %12.6g %12.6g %12.6g %6s %9lld %s\n",
                name, s_real(v, "value"), s_real(o, name), s_real(o, sd), age,
                s_int(v, "samples"), s_str(v, "unit"));
    }
    json_t *rej = json_object_get(b, "telemetry_rejected");
    if (json_object_size(rej) > 0) {
        fprintf(out, "rejected  ");
        json_object_foreach(rej, name, v)
        {
            fprintf(out, " %s %lld", name, (long long)json_integer_value(v));
        }
        fprintf(out, "\n");
    }
    if (json_object_get(o, "score") != NULL) {
        fprintf(out, "anomaly    score %.3f (alarm at 1), alarm %s\n",
                s_real(o, "score"), s_real(o, "alarm") != 0.0 ? "ON" : "off");
    }
}

/* "supervision  target high (auto), running low: degraded; high in
 * shadow, 12 healthy steps". */
static void s_supervision(FILE *out, json_t *sv)
{
    if (!json_is_object(sv)) {
        return;
    }
    fprintf(out, "supervision target %s (%s)", s_str(sv, "target"),
            s_str(sv, "mode"));
    if (json_is_true(json_object_get(sv, "quarantined"))) {
        fprintf(out, ", QUARANTINED: outputs held (release: fidelity ID "
                     "auto)");
    } else if (json_is_true(json_object_get(sv, "degraded"))) {
        fprintf(out, ", degraded");
    } else {
        fprintf(out, ", ok");
    }
    json_t *sh = json_object_get(sv, "shadow");
    if (json_is_string(sh)) {
        fprintf(out, "; %s in shadow, %lld healthy steps",
                json_string_value(sh), s_int(sv, "healthy"));
    }
    json_t *di = json_object_get(sv, "degraded_inputs");
    for (size_t i = 0; i < json_array_size(di); i++) {
        const char *id = json_string_value(json_array_get(di, i));
        fprintf(out, "%s%s", i == 0 ? "; degraded inputs from " : ", ",
                id != NULL ? id : "?");
    }
    if (s_int(sv, "recent_faults") > 0) {
        fprintf(out, "; %lld recent faults at its lowest tier",
                s_int(sv, "recent_faults"));
    }
    if (s_int(sv, "residual_run") > 0) {
        fprintf(out, "; residuals over the limit in the last %lld steps",
                s_int(sv, "residual_run"));
    }
    fprintf(out, "\n");
}

void tmi_show_inspect(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    FILE *out = r->out;
    json_t *units = json_object_get(b, "units");
    json_t *links = json_object_get(b, "links");
    json_t *h = json_object_get(b, "health");
    char epoch[32] = "";
    if (s_int(b, "epoch") > 0) { /* it changed node */
        snprintf(epoch, sizeof epoch, " (epoch %lld)", s_int(b, "epoch"));
    }
    fprintf(out,
            "%s  %s@%s (%s)  node %s%s  shard %lld  period %lld  params@%lld\n",
            s_str(b, "id"), s_str(b, "model"), s_str(b, "version"),
            s_str(b, "fidelity"), s_str(b, "node"), epoch, s_int(b, "shard"),
            s_int(b, "period"), s_int(b, "paramset"));
    fprintf(out, "  %s\n", s_str(b, "summary"));
    fprintf(out, "tick %lld (t = %.3f s)\n\n", s_int(b, "tick"),
            s_real(b, "t"));
    s_section(out, "state", json_object_get(b, "state"),
              json_object_get(units, "state"), NULL, "", 0, NULL);
    s_section(out, "inputs", json_object_get(b, "inputs"),
              json_object_get(units, "inputs"), json_object_get(links, "in"),
              "input", -1, json_object_get(b, "held"));
    s_section(out, "outputs", json_object_get(b, "outputs"),
              json_object_get(units, "outputs"), json_object_get(links, "out"),
              "output", 1, NULL);
    s_section(out, "params", json_object_get(b, "params"),
              json_object_get(units, "params"), NULL, "", 0, NULL);
    size_t in_n = json_array_size(json_object_get(links, "in"));
    size_t out_n = json_array_size(json_object_get(links, "out"));
    long long in_total = s_int(links, "in_total");
    long long out_total = s_int(links, "out_total");
    if ((long long)in_n < in_total || (long long)out_n < out_total) {
        fprintf(out,
                "links      %zu of %lld incoming and %zu of %lld outgoing "
                "shown\n",
                in_n, in_total, out_n, out_total);
    }
    fprintf(out,
            "health     %s, %lld faults, last fault at tick %lld, last "
            "stepped at tick %lld, %.0f ns per step\n",
            s_str(h, "status"), s_int(h, "faults"), s_int(h, "last_fault"),
            s_int(h, "last_stepped"), s_real(h, "step_ns"));
    s_telemetry(out, b);
    s_supervision(out, json_object_get(b, "supervision"));
}

void tmi_show_watch(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    FILE *out = r->out;
    json_t *values = json_object_get(b, "values");
    json_t *units = json_object_get(b, "units");
    const char *k;
    json_t *v;
    char num[64];
    char head[96];
    if (r->rows == 0) {
        fprintf(out, "%s: %s@%s (%s) params@%lld\n", s_str(b, "id"),
                s_str(b, "model"), s_str(b, "version"), s_str(b, "fidelity"),
                s_int(b, "paramset"));
        fprintf(out, "%10s %11s", "tick", "t [s]");
        json_object_foreach(values, k, v)
        {
            const char *u = json_string_value(json_object_get(units, k));
            snprintf(head, sizeof head, "%s [%s]", k, u ? u : "");
            fprintf(out, " %14s", head);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "%10lld %11.3f", s_int(b, "tick"), s_real(b, "t"));
    json_object_foreach(values, k, v)
    {
        snprintf(head, sizeof head, "%s [%s]", k,
                 json_string_value(json_object_get(units, k))
                     ? json_string_value(json_object_get(units, k))
                     : "");
        int w = (int)strlen(head) > 14 ? (int)strlen(head) : 14;
        fprintf(out, " %*s", w, tm_render_num(v, num, sizeof num));
    }
    if (json_is_true(json_object_get(b, "degraded"))) {
        fprintf(out, "  degraded (%s)", s_str(b, "fidelity"));
    }
    fprintf(out, "\n");
    r->rows++;
}

void tmi_show_top(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    FILE *out = r->out;
    json_t *rows = json_object_get(b, "rows");
    if (r->tty) {
        fprintf(out, "\033[H\033[2J");
    } else if (r->rows > 0) {
        fprintf(out, "\n");
    }
    fprintf(out,
            "twinmesh top - node %s  tick %lld  t %.2f s  clock %s  lag "
            "%.3f s\n%lld actors, %lld links, %lld workers, %.4g "
            "actor-steps/s, last tick %.1f us, %lld faults\n\n",
            s_str(b, "node"), s_int(b, "tick"), s_real(b, "t"),
            s_str(b, "clock"), s_real(b, "lag_s"), s_int(b, "actors"),
            s_int(b, "links"), s_int(b, "workers"), s_real(b, "steps_per_s"),
            s_real(b, "last_tick_us"), s_int(b, "faults"));
    int w = 12;
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a)
    {
        int l = (int)strlen(s_str(a, "id"));
        w = l > w ? l : w;
    }
    fprintf(out, "%-*s  %-10s %-8s %5s %10s %6s %7s  %s\n", w, "ID", "MODEL",
            "FIDELITY", "SHARD", "STEP ns", "LAG", "FAULTS", "STATUS");
    json_array_foreach(rows, i, a)
    {
        fprintf(out, "%-*s  %-10s %-8s %5lld %10.1f %6lld %7lld  %s\n", w,
                s_str(a, "id"), s_str(a, "model"), s_str(a, "fidelity"),
                s_int(a, "shard"), s_real(a, "step_ns"), s_int(a, "lag"),
                s_int(a, "faults"), s_str(a, "status"));
    }
    if (r->tty) {
        fprintf(out, "\n(Ctrl-C to stop)\n");
    }
    r->rows++;
}

void tmi_show_hash(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    fprintf(r->out, "tick   %lld\ndigest %s\n", s_int(b, "tick"),
            s_str(b, "digest"));
}

void tmi_show_version(tm_render_t *r, const char *message, json_t *b, bool more)
{
    (void)message;
    (void)more;
    fprintf(r->out,
            "node %s: protocol %lld, model ABI %lld, store format %lld\n",
            s_str(b, "node"), s_int(b, "protocol"), s_int(b, "model_abi"),
            s_int(b, "store_format"));
}

void tmi_show_message(tm_render_t *r, const char *message, json_t *body,
                      bool more)
{
    (void)body;
    (void)more;
    s_line(r->out, message);
}

/* export writes a plant file (tools/twinmesh.c), nothing is rendered. */
void tmi_show_export(tm_render_t *r, const char *message, json_t *body,
                     bool more)
{
    (void)r;
    (void)message;
    (void)body;
    (void)more;
}

/* help is answered by the console itself (tm_render_help). */
void tmi_show_help(tm_render_t *r, const char *message, json_t *body, bool more)
{
    (void)r;
    (void)message;
    (void)body;
    (void)more;
}

void tm_render_clear_progress(tm_render_t *r)
{
    if (r->progress_shown) {
        fprintf(stderr, "\n");
        r->progress_shown = false;
    }
}

/* run: progress items on stderr (a terminal only), then the summary. */
void tmi_show_run(tm_render_t *r, const char *message, json_t *body, bool more)
{
    if (more) {
        if (!isatty(STDERR_FILENO) || body == NULL || !json_is_object(body)) {
            return;
        }
        fprintf(stderr, "\rrun: %lld of %lld ticks (tick %lld)   ",
                s_int(body, "done"), s_int(body, "ticks"), s_int(body, "tick"));
        fflush(stderr);
        r->progress_shown = true;
        return;
    }
    s_line(r->out, message);
}

/* ---- entry points ------------------------------------------------------- */

typedef void (*s_show_fn)(tm_render_t *r, const char *message, json_t *body,
                          bool more);

static const s_show_fn s_shows[TM_CMD_COUNT] = {
#define S_ROW(kind, h, rn, name, al, fl, args, opts, usage, sum)               \
    [TM_CMD_##kind] = tmi_show_##rn,
    TM_CMD_TABLE(S_ROW)
#undef S_ROW
};

void tm_render_init(tm_render_t *r, tm_cmd_kind_t kind, bool json, bool tty,
                    FILE *out)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->json = json;
    r->tty = tty;
    r->out = out;
}

static unsigned s_flags(tm_cmd_kind_t k)
{
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    return (size_t)k < n ? t[k].flags : 0;
}

static void s_json(tm_render_t *r, json_t *body, bool more)
{
    FILE *out = r->out;
    if ((s_flags(r->kind) & TM_CMD_F_PARTS) && json_is_array(body)) {
        /* one document for all parts: stream the array */
        size_t i;
        json_t *e;
        if (!r->array_open) {
            fputc('[', out);
            r->array_open = true;
        }
        json_array_foreach(body, i, e)
        {
            char *s = json_dumps(e, S_JSON_FLAGS | JSON_ENCODE_ANY);
            fprintf(out, "%s%s", r->rows > 0 ? "," : "", s ? s : "null");
            free(s);
            r->rows++;
        }
        if (!more) {
            fputs("]\n", out);
        }
        return;
    }
    char *s =
        json_dumps(body ? body : json_null(), S_JSON_FLAGS | JSON_ENCODE_ANY);
    fprintf(out, "%s\n", s ? s : "null");
    free(s);
}

void tm_render_reply(tm_render_t *r, const char *message, json_t *body,
                     bool more)
{
    unsigned flags = s_flags(r->kind);
    if ((flags & TM_CMD_F_STREAM) && (body == NULL || json_is_null(body))) {
        return; /* the end of a stream (tm_client_recv takes keepalives) */
    }
    bool progress =
        (flags & TM_CMD_F_LONG) && !(flags & TM_CMD_F_STREAM) && more;
    if (r->json && progress) {
        return; /* progress is for people */
    }
    if (!progress && r->progress_shown) {
        fprintf(stderr, "\r%60s\r", "");
        r->progress_shown = false;
    }
    if (r->json) {
        if (body == NULL || json_is_null(body)) {
            json_t *m = json_pack("{s:s}", "message", message ? message : "");
            s_json(r, m, more);
            json_decref(m);
        } else {
            s_json(r, body, more);
        }
        r->parts++;
        fflush(r->out);
        return;
    }
    if ((size_t)r->kind < TM_CMD_COUNT) {
        s_shows[r->kind](r, message, body, more);
    }
    r->parts++;
    fflush(r->out);
}

void tm_render_help(FILE *out, const char *topic, bool json)
{
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    json_t *arr = json ? json_array() : NULL;
    if (!json && (topic == NULL || topic[0] == '\0')) {
        fprintf(out, "Commands (help COMMAND for details; Tab completes "
                     "commands and actor ids):\n\n");
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i].flags & TM_CMD_F_HIDDEN) {
            continue;
        }
        if (topic != NULL && topic[0] != '\0' &&
            tm_cmd_lookup(topic) != &t[i]) {
            continue;
        }
        if (json) {
            json_array_append_new(
                arr, json_pack("{s:s,s:s,s:s,s:s}", "name", t[i].name,
                               "aliases", t[i].aliases, "usage", t[i].usage,
                               "summary", t[i].summary));
            continue;
        }
        if (topic != NULL && topic[0] != '\0') {
            fprintf(out, "usage: %s%s%s\n  %s\n", t[i].name,
                    t[i].usage[0] ? " " : "", t[i].usage, t[i].summary);
            if (t[i].aliases[0] != '\0') {
                fprintf(out, "  alias: %s\n", t[i].aliases);
            }
        } else {
            fprintf(out, "  %-11s %s\n", t[i].name, t[i].summary);
        }
    }
    if (json) {
        char *s = json_dumps(arr, S_JSON_FLAGS);
        fprintf(out, "%s\n", s ? s : "[]");
        free(s);
        json_decref(arr);
    } else if (topic == NULL || topic[0] == '\0') {
        fprintf(out, "\n  %-11s %s\n", "quit",
                "leave the interactive console (also Ctrl-D)");
    }
}
