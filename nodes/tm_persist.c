/* tm_persist: MessagePack actor/link records, checkpoints, verification
 * (loading is in tm_persist_load.c). */
#include "tm_persist.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_models.h"
#include "tm_wire.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RECORD_VERSION 1u

static const char s_meta_tick[] = "tick";
static const char s_meta_seed[] = "seed";
static const char s_meta_h[] = "h";

void tm_persist_actor_from_view(const tm_rt_actor_t *a, uint64_t tick,
                                tm_persist_actor_t *rec)
{
    const tm_model_t *m = a->model;
    memset(rec, 0, sizeof *rec);
    snprintf(rec->family, sizeof rec->family, "%s", m->family);
    snprintf(rec->version, sizeof rec->version, "%s", m->version);
    rec->fidelity = m->fidelity;
    rec->period = a->period;
    rec->tick = tick;
    rec->n_params = m->n_params;
    rec->n_held = m->n_inputs;
    rec->n_states = m->n_states;
    rec->n_outputs = m->n_outputs;
    memcpy(rec->params, a->params, m->n_params * sizeof(double));
    memcpy(rec->held, a->held, m->n_inputs * sizeof(double));
    memcpy(rec->state, a->state, m->n_states * sizeof(double));
    memcpy(rec->outputs, a->outputs, m->n_outputs * sizeof(double));
    rec->has_sup = tm_persist_sup_from_view(a, &rec->sup);
    rec->epoch = a->epoch;
}

bool tm_persist_sup_from_view(const tm_rt_actor_t *a, tm_persist_sup_t *out)
{
    const tm_rt_sup_t *v = &a->sup;
    memset(out, 0, sizeof *out);
    out->target = v->target;
    out->pinned = v->pinned;
    out->quarantined = v->quarantined;
    out->shadow = v->shadow != NULL ? (int)v->shadow->fidelity : -1;
    out->seeded = v->shadow != NULL && v->seeded;
    out->healthy = v->healthy;
    if (out->seeded) {
        out->n_shadow_state = v->shadow->n_states;
        memcpy(out->shadow_state, v->shadow_state,
               v->shadow->n_states * sizeof(double));
    }
    out->n_low = v->n_low;
    if (v->n_low > 0) {
        memcpy(out->low, v->low, v->n_low * sizeof out->low[0]);
    }
    out->resid_run = v->resid_run;
    if (out->seeded && v->shadow_y) {
        out->n_shadow_out = v->shadow->n_outputs;
        memcpy(out->shadow_out, v->shadow_out,
               v->shadow->n_outputs * sizeof(double));
    }
    return v->pinned || v->quarantined || v->shadow != NULL || v->n_low > 0 ||
           v->resid_run > 0 || v->target != a->model->fidelity;
}

int tm_persist_sup_to_view(const tm_persist_sup_t *in, const tm_model_t *m,
                           const tm_model_t *(*find)(const tm_model_t *m,
                                                     tm_fidelity_t tier),
                           tm_rt_sup_t *out)
{
    memset(out, 0, sizeof *out);
    out->target = in->target;
    out->pinned = in->pinned;
    out->quarantined = in->quarantined;
    if (in->shadow >= 0) {
        out->shadow = find(m, (tm_fidelity_t)in->shadow);
    }
    if (out->shadow != NULL && in->seeded) {
        if (in->n_shadow_state != out->shadow->n_states) {
            return TM_ERR_STORE_CORRUPT;
        }
        out->seeded = true;
        out->healthy = in->healthy;
        out->shadow_state = in->shadow_state;
    }
    out->n_low = in->n_low;
    out->low = in->low;
    out->resid_run = in->resid_run;
    if (out->seeded && in->n_shadow_out > 0) {
        if (in->n_shadow_out != out->shadow->n_outputs) {
            return TM_ERR_STORE_CORRUPT;
        }
        out->shadow_y = true;
        out->shadow_out = in->shadow_out;
    }
    return 0;
}

static void s_pack_sup(msgpack_packer *pk, const tm_persist_sup_t *sp)
{
    bool resid = sp->resid_run > 0 || sp->n_shadow_out > 0;
    tm_wire_pack_str(pk, "sup");
    msgpack_pack_map(pk, resid ? 9 : 7);
    tm_wire_pack_kv_str(pk, "target", tm_fidelity_name(sp->target));
    tm_wire_pack_kv_bool(pk, "pinned", sp->pinned);
    tm_wire_pack_kv_bool(pk, "quarantined", sp->quarantined);
    tm_wire_pack_str(pk, "shadow");
    if (sp->shadow >= 0) {
        tm_wire_pack_str(pk, tm_fidelity_name((tm_fidelity_t)sp->shadow));
    } else {
        msgpack_pack_nil(pk);
    }
    tm_wire_pack_kv_u64(pk, "healthy", sp->healthy);
    tm_wire_pack_str(pk, "shadow_state");
    if (sp->seeded) {
        msgpack_pack_array(pk, sp->n_shadow_state);
        for (uint32_t i = 0; i < sp->n_shadow_state; i++) {
            msgpack_pack_double(pk, sp->shadow_state[i]);
        }
    } else {
        msgpack_pack_nil(pk);
    }
    tm_wire_pack_str(pk, "low");
    msgpack_pack_array(pk, sp->n_low);
    for (uint32_t i = 0; i < sp->n_low; i++) {
        msgpack_pack_uint64(pk, sp->low[i]);
    }
    if (resid) { /* records without residual checks stay as they were */
        tm_wire_pack_kv_u64(pk, "resid", sp->resid_run);
        tm_wire_pack_str(pk, "shadow_out");
        if (sp->n_shadow_out > 0) {
            msgpack_pack_array(pk, sp->n_shadow_out);
            for (uint32_t i = 0; i < sp->n_shadow_out; i++) {
                msgpack_pack_double(pk, sp->shadow_out[i]);
            }
        } else {
            msgpack_pack_nil(pk);
        }
    }
}

static void s_pack_doubles(msgpack_packer *pk, const char *key, const double *v,
                           uint32_t n)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_double(pk, v[i]);
    }
}

/* "history": n_history lists of history_width values, oldest first. */
static void s_pack_history(msgpack_packer *pk, const tm_persist_actor_t *rec)
{
    const uint32_t w = rec->history_width;
    tm_wire_pack_str(pk, "history");
    msgpack_pack_array(pk, rec->n_history);
    for (uint32_t t = 0; t < rec->n_history; t++) {
        msgpack_pack_array(pk, w);
        for (uint32_t j = 0; j < w; j++) {
            msgpack_pack_double(pk, rec->history[(size_t)t * w + j]);
        }
    }
}

int tm_persist_actor_encode(const tm_persist_actor_t *rec, tm_wire_buf_t *out)
{
    msgpack_packer *pk = &out->pk;
    msgpack_pack_map(pk, 10 + (rec->n_history > 0) + rec->has_sup +
                             (rec->epoch > 0));
    tm_wire_pack_kv_u64(pk, "v", S_RECORD_VERSION);
    tm_wire_pack_kv_str(pk, "family", rec->family);
    tm_wire_pack_kv_str(pk, "version", rec->version);
    tm_wire_pack_kv_str(pk, "fidelity", tm_fidelity_name(rec->fidelity));
    tm_wire_pack_kv_u64(pk, "period", rec->period);
    tm_wire_pack_kv_u64(pk, "tick", rec->tick);
    s_pack_doubles(pk, "params", rec->params, rec->n_params);
    s_pack_doubles(pk, "held", rec->held, rec->n_held);
    s_pack_doubles(pk, "state", rec->state, rec->n_states);
    s_pack_doubles(pk, "outputs", rec->outputs, rec->n_outputs);
    if (rec->n_history > 0) {
        s_pack_history(pk, rec);
    }
    if (rec->has_sup) {
        s_pack_sup(pk, &rec->sup);
    }
    if (rec->epoch > 0) {
        tm_wire_pack_kv_u64(pk, "epoch", rec->epoch);
    }
    return tm_wire_buf_ok(out);
}

static int s_get_str(const msgpack_object *map, const char *key, char *out,
                     size_t cap)
{
    const char *s = NULL;
    size_t n = 0;
    if (tm_wire_get_str(map, key, &s, &n) != 0 || n == 0 || n >= cap) {
        return TM_ERR_STORE_CORRUPT;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* An array of at most TM_MODEL_MAX_VARS numbers into out (NULL: only
 * checked); *n gets its size. */
static int s_doubles(const msgpack_object *o, double *out, uint32_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY ||
        o->via.array.size > TM_MODEL_MAX_VARS) {
        return TM_ERR_STORE_CORRUPT;
    }
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        double v = 0.0;
        if (e->type == MSGPACK_OBJECT_FLOAT64 ||
            e->type == MSGPACK_OBJECT_FLOAT32) {
            v = e->via.f64;
        } else if (e->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v = (double)e->via.u64;
        } else if (e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            v = (double)e->via.i64;
        } else {
            return TM_ERR_STORE_CORRUPT;
        }
        if (out != NULL) {
            out[i] = v;
        }
    }
    *n = o->via.array.size;
    return 0;
}

static int s_get_doubles(const msgpack_object *map, const char *key,
                         double *out, uint32_t *n)
{
    return s_doubles(tm_wire_map_get(map, key), out, n);
}

/* The optional "history" of a record: 1 .. TM_PERSIST_HISTORY_MAX lists of
 * one length, copied into out (cap values) unless out is NULL. */
static int s_get_history(const msgpack_object *map, tm_persist_actor_t *rec,
                         double *out, size_t cap)
{
    const msgpack_object *o = tm_wire_map_get(map, "history");
    rec->n_history = 0;
    rec->history_width = 0;
    if (o == NULL) {
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
        o->via.array.size > TM_PERSIST_HISTORY_MAX) {
        return TM_ERR_STORE_CORRUPT;
    }
    uint32_t width = 0;
    for (uint32_t t = 0; t < o->via.array.size; t++) {
        const msgpack_object *e = &o->via.array.ptr[t];
        uint32_t w = 0;
        size_t at = (size_t)t * width;
        if (out != NULL && e->type == MSGPACK_OBJECT_ARRAY &&
            at + e->via.array.size > cap) {
            return TM_ERR_TOO_BIG;
        }
        int rc = s_doubles(e, out ? out + at : NULL, &w);
        if (rc != 0 || (t > 0 && w != width)) {
            return TM_ERR_STORE_CORRUPT;
        }
        width = w;
    }
    rec->n_history = o->via.array.size;
    rec->history_width = width;
    return 0;
}

/* The optional "sup" of a record. */
static int s_get_sup(const msgpack_object *map, tm_persist_actor_t *rec)
{
    const msgpack_object *o = tm_wire_map_get(map, "sup");
    rec->has_sup = false;
    if (o == NULL) {
        return 0;
    }
    tm_persist_sup_t *sp = &rec->sup;
    memset(sp, 0, sizeof *sp);
    char name[16];
    uint64_t healthy = 0;
    int pinned = 0;
    int quarantined = 0;
    const msgpack_object *sh = tm_wire_map_get(o, "shadow");
    const msgpack_object *ss = tm_wire_map_get(o, "shadow_state");
    const msgpack_object *low = tm_wire_map_get(o, "low");
    if (o->type != MSGPACK_OBJECT_MAP ||
        s_get_str(o, "target", name, sizeof name) != 0 ||
        tm_fidelity_parse(name, &sp->target) != 0 ||
        tm_wire_get_bool(o, "pinned", &pinned) != 0 ||
        tm_wire_get_bool(o, "quarantined", &quarantined) != 0 ||
        tm_wire_get_u64(o, "healthy", &healthy) != 0 || healthy > UINT32_MAX ||
        sh == NULL || ss == NULL || low == NULL ||
        low->type != MSGPACK_OBJECT_ARRAY ||
        low->via.array.size > TM_RT_RESTARTS_MAX + 1) {
        return TM_ERR_STORE_CORRUPT;
    }
    sp->pinned = pinned != 0;
    sp->quarantined = quarantined != 0;
    sp->healthy = (uint32_t)healthy;
    sp->shadow = -1;
    if (sh->type != MSGPACK_OBJECT_NIL) {
        tm_fidelity_t f;
        if (s_get_str(o, "shadow", name, sizeof name) != 0 ||
            tm_fidelity_parse(name, &f) != 0) {
            return TM_ERR_STORE_CORRUPT;
        }
        sp->shadow = (int)f;
    }
    if (ss->type != MSGPACK_OBJECT_NIL) {
        if (s_doubles(ss, sp->shadow_state, &sp->n_shadow_state) != 0) {
            return TM_ERR_STORE_CORRUPT;
        }
        sp->seeded = true;
    }
    for (uint32_t i = 0; i < low->via.array.size; i++) {
        if (low->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            return TM_ERR_STORE_CORRUPT;
        }
        sp->low[i] = low->via.array.ptr[i].via.u64;
    }
    sp->n_low = low->via.array.size;
    const msgpack_object *so = tm_wire_map_get(o, "shadow_out");
    uint64_t run = 0;
    if (tm_wire_map_get(o, "resid") != NULL &&
        (tm_wire_get_u64(o, "resid", &run) != 0 || run > UINT32_MAX)) {
        return TM_ERR_STORE_CORRUPT;
    }
    sp->resid_run = (uint32_t)run;
    if (so != NULL && so->type != MSGPACK_OBJECT_NIL &&
        (!sp->seeded ||
         s_doubles(so, sp->shadow_out, &sp->n_shadow_out) != 0)) {
        return TM_ERR_STORE_CORRUPT;
    }
    rec->has_sup = true;
    return 0;
}

int tm_persist_actor_decode(const void *val, size_t len,
                            tm_persist_actor_t *rec)
{
    msgpack_zone zone;
    msgpack_object obj;
    char fid[16];
    uint64_t v = 0;
    uint64_t period = 0;
    int rc = 0;
    memset(rec, 0, sizeof *rec);
    if (!msgpack_zone_init(&zone, 1024)) {
        return TM_ERR_NOMEM;
    }
    rc = tm_wire_unpack(val, len, NULL, &zone, &obj);
    if (rc != 0) {
        goto done;
    }
    if (obj.type != MSGPACK_OBJECT_MAP || tm_wire_get_u64(&obj, "v", &v) != 0 ||
        v != S_RECORD_VERSION ||
        tm_wire_get_u64(&obj, "period", &period) != 0 || period == 0 ||
        period > UINT32_MAX || tm_wire_get_u64(&obj, "tick", &rec->tick) != 0) {
        rc = TM_ERR_STORE_CORRUPT;
        goto done;
    }
    rec->period = (uint32_t)period;
    rc = s_get_str(&obj, "family", rec->family, sizeof rec->family);
    if (rc == 0) {
        rc = s_get_str(&obj, "version", rec->version, sizeof rec->version);
    }
    if (rc == 0) {
        rc = s_get_str(&obj, "fidelity", fid, sizeof fid);
    }
    if (rc == 0 && tm_fidelity_parse(fid, &rec->fidelity) != 0) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    if (rc == 0) {
        rc = s_get_doubles(&obj, "params", rec->params, &rec->n_params);
    }
    if (rc == 0) {
        rc = s_get_doubles(&obj, "held", rec->held, &rec->n_held);
    }
    if (rc == 0) {
        rc = s_get_doubles(&obj, "state", rec->state, &rec->n_states);
    }
    if (rc == 0) {
        rc = s_get_doubles(&obj, "outputs", rec->outputs, &rec->n_outputs);
    }
    if (rc == 0) {
        rc = s_get_history(&obj, rec, NULL, 0);
    }
    if (rc == 0) {
        rc = s_get_sup(&obj, rec);
    }
    if (rc == 0 && tm_wire_map_get(&obj, "epoch") != NULL) {
        uint64_t epoch = 0;
        if (tm_wire_get_u64(&obj, "epoch", &epoch) != 0 || epoch > UINT32_MAX) {
            rc = TM_ERR_STORE_CORRUPT;
        }
        rec->epoch = (uint32_t)epoch;
    }
done:
    msgpack_zone_destroy(&zone);
    return rc;
}

int tm_persist_actor_history(const void *val, size_t len, double *out,
                             size_t cap)
{
    msgpack_zone zone;
    msgpack_object obj;
    tm_persist_actor_t rec;
    if (!msgpack_zone_init(&zone, 1024)) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(val, len, NULL, &zone, &obj);
    if (rc == 0) {
        rc = s_get_history(&obj, &rec, out, cap);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

int tm_persist_link_key(const tm_rt_link_t *l, char *key, size_t cap,
                        size_t *klen)
{
    int n =
        snprintf(key, cap, "%s.%s>%s.%s", l->src, l->output, l->dst, l->input);
    if (n < 0 || (size_t)n >= cap) {
        return TM_ERR_TOO_BIG;
    }
    *klen = (size_t)n;
    return 0;
}

/* Copy k[0..n) into out (cap bytes with the NUL); false if empty or too
 * long. */
static bool s_key_part(const char *k, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap) {
        return false;
    }
    memcpy(out, k, n);
    out[n] = '\0';
    return true;
}

int tm_persist_link_key_parse(const void *key, size_t klen,
                              tm_persist_link_key_t *out)
{
    const char *k = key;
    const char *gt = memchr(k, '>', klen);
    if (gt == NULL) {
        return TM_ERR_STORE_CORRUPT;
    }
    size_t left = (size_t)(gt - k);
    const char *dst = gt + 1;
    size_t right = klen - left - 1;
    const char *dot1 = memchr(k, '.', left);
    const char *dot2 = memchr(dst, '.', right);
    if (dot1 == NULL || dot2 == NULL ||
        !s_key_part(k, (size_t)(dot1 - k), out->src, sizeof out->src) ||
        !s_key_part(dot1 + 1, (size_t)(gt - dot1 - 1), out->output,
                    sizeof out->output) ||
        !s_key_part(dst, (size_t)(dot2 - dst), out->dst, sizeof out->dst) ||
        !s_key_part(dot2 + 1, (size_t)(dst + right - dot2 - 1), out->input,
                    sizeof out->input)) {
        return TM_ERR_STORE_CORRUPT;
    }
    return 0;
}

int tm_persist_actor_key(const void *key, size_t klen, char id[TM_ID_MAX + 1])
{
    if (klen == 0 || klen > TM_ID_MAX || memchr(key, '\0', klen) != NULL) {
        return TM_ERR_STORE_CORRUPT;
    }
    memcpy(id, key, klen);
    id[klen] = '\0';
    return 0;
}

int tm_persist_link_decode(const void *val, size_t len,
                           tm_persist_link_key_t *out, uint32_t *delay)
{
    msgpack_zone zone;
    msgpack_object obj;
    if (!msgpack_zone_init(&zone, 256)) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(val, len, NULL, &zone, &obj);
    if (rc == 0) {
        rc = s_get_str(&obj, "src", out->src, sizeof out->src);
    }
    if (rc == 0) {
        rc = s_get_str(&obj, "output", out->output, sizeof out->output);
    }
    if (rc == 0) {
        rc = s_get_str(&obj, "dst", out->dst, sizeof out->dst);
    }
    if (rc == 0) {
        rc = s_get_str(&obj, "input", out->input, sizeof out->input);
    }
    *delay = 1;
    const msgpack_object *d = rc == 0 ? tm_wire_map_get(&obj, "delay") : NULL;
    if (d != NULL) {
        if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->via.u64 < 1 ||
            d->via.u64 > TM_RT_DELAY_MAX) {
            rc = TM_ERR_STORE_CORRUPT;
        } else {
            *delay = (uint32_t)d->via.u64;
        }
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

int tm_persist_link_source(const void *val, size_t len, char *spec,
                           size_t spec_cap, char *tier, size_t tier_cap)
{
    msgpack_zone zone;
    msgpack_object obj;
    spec[0] = '\0';
    tier[0] = '\0';
    if (!msgpack_zone_init(&zone, 256)) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(val, len, NULL, &zone, &obj);
    if (rc == 0 && tm_wire_map_get(&obj, "src_model") != NULL) {
        rc = s_get_str(&obj, "src_model", spec, spec_cap);
        rc = rc ? rc : s_get_str(&obj, "src_tier", tier, tier_cap);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

static int s_put_record(tm_store_batch_t *b, const char *id,
                        const tm_persist_actor_t *rec, tm_wire_buf_t *scratch)
{
    tm_wire_buf_clear(scratch);
    int rc = tm_persist_actor_encode(rec, scratch);
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_ACTORS, id, strlen(id),
                                scratch->sbuf.data, scratch->sbuf.size);
    }
    return rc;
}

/* The outputs of the history - 1 ticks before the current one of actor
 * a, oldest first, into out (that many times n_outputs values). */
static void s_copy_past(tm_rt_t *rt, const tm_rt_actor_t *a, double *out)
{
    const uint32_t n = a->history - 1;
    const uint32_t no = a->model->n_outputs;
    const uint64_t k = tm_rt_tick(rt);
    for (uint32_t i = 0; i < n; i++) {
        const double *y = NULL;
        if (tm_rt_outputs_at(rt, a->id, k - n + i, &y, NULL) == 0) {
            memcpy(out + (size_t)i * no, y, no * sizeof(double));
        }
    }
}

int tm_persist_put_actor(tm_store_batch_t *b, tm_rt_t *rt,
                         const tm_rt_actor_t *a, tm_wire_buf_t *scratch)
{
    tm_wire_buf_clear(scratch);
    int rc = tm_persist_actor_pack(rt, a, a->epoch, scratch);
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_ACTORS, a->id, strlen(a->id),
                                scratch->sbuf.data, scratch->sbuf.size);
    }
    return rc;
}

int tm_persist_actor_pack(tm_rt_t *rt, const tm_rt_actor_t *a, uint32_t epoch,
                          tm_wire_buf_t *out)
{
    tm_persist_actor_t rec;
    double *past = NULL;
    tm_persist_actor_from_view(a, tm_rt_tick(rt), &rec);
    rec.epoch = epoch;
    if (a->history > 1) {
        rec.n_history = a->history - 1;
        rec.history_width = a->model->n_outputs;
        past = malloc(
            (size_t)rec.n_history * rec.history_width * sizeof(double) + 1);
        if (past == NULL) {
            return TM_ERR_NOMEM;
        }
        s_copy_past(rt, a, past);
        rec.history = past;
    }
    int rc = tm_persist_actor_encode(&rec, out);
    free(past);
    return rc;
}

int tm_persist_del_actor(tm_store_batch_t *b, const char *id)
{
    return tm_store_batch_del(b, TM_DB_ACTORS, id, strlen(id));
}

int tm_persist_put_link(tm_store_batch_t *b, const tm_rt_link_t *l)
{
    return tm_persist_put_remote_link(b, l, NULL);
}

int tm_persist_put_remote_link(tm_store_batch_t *b, const tm_rt_link_t *l,
                               const tm_model_t *src_model)
{
    char key[TM_PERSIST_KEY_MAX];
    char spec[2 * TM_MODEL_NAME_MAX + 2];
    size_t klen = 0;
    int rc = tm_persist_link_key(l, key, sizeof key, &klen);
    if (rc != 0) {
        return rc;
    }
    tm_wire_buf_t p;
    tm_wire_buf_init(&p);
    msgpack_pack_map(&p.pk, 4 + (l->delay > 1) + 2 * (src_model != NULL));
    tm_wire_pack_kv_str(&p.pk, "src", l->src);
    tm_wire_pack_kv_str(&p.pk, "output", l->output);
    tm_wire_pack_kv_str(&p.pk, "dst", l->dst);
    tm_wire_pack_kv_str(&p.pk, "input", l->input);
    if (l->delay > 1) { /* delay 1: the record of earlier releases */
        tm_wire_pack_kv_u64(&p.pk, "delay", l->delay);
    }
    if (src_model != NULL) {
        snprintf(spec, sizeof spec, "%s@%s", src_model->family,
                 src_model->version);
        tm_wire_pack_kv_str(&p.pk, "src_model", spec);
        tm_wire_pack_kv_str(&p.pk, "src_tier",
                            tm_fidelity_name(src_model->fidelity));
    }
    rc = tm_wire_buf_ok(&p);
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_LINKS, key, klen, p.sbuf.data,
                                p.sbuf.size);
    }
    tm_wire_buf_destroy(&p);
    return rc;
}

int tm_persist_del_link(tm_store_batch_t *b, const tm_rt_link_t *l)
{
    char key[TM_PERSIST_KEY_MAX];
    size_t klen = 0;
    int rc = tm_persist_link_key(l, key, sizeof key, &klen);
    if (rc == 0) {
        rc = tm_store_batch_del(b, TM_DB_LINKS, key, klen);
    }
    return rc;
}

/* Fixed 9-byte encodings: 0xcf (uint 64) or 0xcb (float 64) followed by
 * the big-endian bits. */
static int s_put_meta_u64(tm_store_batch_t *b, const char *key, uint64_t v)
{
    unsigned char buf[9];
    buf[0] = 0xcf;
    for (int i = 0; i < 8; i++) {
        buf[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    }
    return tm_store_batch_put(b, TM_DB_META, key, strlen(key), buf, 9);
}

static int s_put_meta_f64(tm_store_batch_t *b, const char *key, double v)
{
    unsigned char buf[9];
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof bits);
    buf[0] = 0xcb;
    for (int i = 0; i < 8; i++) {
        buf[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    return tm_store_batch_put(b, TM_DB_META, key, strlen(key), buf, 9);
}

/* A snapshot entry: the actor's model, period, history length and id,
 * followed by its parameters, held inputs, state, outputs and the outputs
 * of its history (oldest first) as doubles. */
typedef struct {
    const tm_model_t *model;
    uint32_t period;
    uint32_t n_history;
    uint32_t epoch;
    bool has_sup; /* a tm_persist_sup_t follows the values */
    char id[TM_ID_MAX + 1];
} s_snap_head_t;

struct tm_persist_snap {
    tm_rt_t *rt; /* while the snapshot is taken */
    uint64_t tick;
    uint64_t seed;
    double h;
    size_t count;
    unsigned char *buf;
    size_t len;
    size_t cap;
    int rc;
};

/* Entries start and end on double boundaries: the values follow the head
 * at S_SNAP_HEAD bytes. */
#define S_SNAP_HEAD                                                            \
    ((sizeof(s_snap_head_t) + sizeof(double) - 1) / sizeof(double) *           \
     sizeof(double))

#define S_SNAP_SUP                                                             \
    ((sizeof(tm_persist_sup_t) + sizeof(double) - 1) / sizeof(double) *        \
     sizeof(double))

static size_t s_snap_entry_size(const tm_model_t *m, uint32_t n_history,
                                bool has_sup)
{
    size_t nd = (size_t)m->n_params + m->n_inputs + m->n_states +
                (size_t)m->n_outputs * (1 + n_history);
    return S_SNAP_HEAD + nd * sizeof(double) + (has_sup ? S_SNAP_SUP : 0);
}

static int s_snap_actor(const tm_rt_actor_t *a, void *arg)
{
    tm_persist_snap_t *snap = arg;
    const tm_model_t *m = a->model;
    tm_persist_sup_t sup;
    bool has_sup = tm_persist_sup_from_view(a, &sup);
    size_t need = s_snap_entry_size(m, a->history - 1, has_sup);
    if (snap->len + need > snap->cap) {
        size_t cap = snap->cap ? snap->cap : 4096;
        while (cap < snap->len + need) {
            cap *= 2;
        }
        unsigned char *nb = realloc(snap->buf, cap);
        if (nb == NULL) {
            snap->rc = TM_ERR_NOMEM;
            return 1;
        }
        snap->buf = nb;
        snap->cap = cap;
    }
    unsigned char *e = snap->buf + snap->len;
    s_snap_head_t head;
    memset(&head, 0, sizeof head);
    head.model = m;
    head.period = a->period;
    head.n_history = a->history - 1;
    head.has_sup = has_sup;
    head.epoch = a->epoch;
    snprintf(head.id, sizeof head.id, "%s", a->id);
    memcpy(e, &head, sizeof head);
    double *d = (double *)(void *)(e + S_SNAP_HEAD);
    memcpy(d, a->params, m->n_params * sizeof(double));
    d += m->n_params;
    memcpy(d, a->held, m->n_inputs * sizeof(double));
    d += m->n_inputs;
    memcpy(d, a->state, m->n_states * sizeof(double));
    d += m->n_states;
    memcpy(d, a->outputs, m->n_outputs * sizeof(double));
    d += m->n_outputs;
    s_copy_past(snap->rt, a, d);
    if (has_sup) {
        d += (size_t)m->n_outputs * (a->history - 1);
        memcpy(d, &sup, sizeof sup);
    }
    snap->len += need;
    snap->count++;
    return 0;
}

int tm_persist_snapshot(tm_rt_t *rt, tm_persist_snap_t **out)
{
    *out = NULL;
    tm_persist_snap_t *snap = calloc(1, sizeof *snap);
    if (snap == NULL) {
        return TM_ERR_NOMEM;
    }
    snap->tick = tm_rt_tick(rt);
    snap->seed = tm_rt_seed(rt);
    snap->h = tm_rt_h(rt);
    snap->rt = rt;
    tm_rt_foreach(rt, s_snap_actor, snap);
    snap->rt = NULL; /* filled on another thread */
    int rc = snap->rc;
    if (rc != 0) {
        tm_persist_snapshot_free(snap);
        return rc;
    }
    *out = snap;
    return 0;
}

int tm_persist_snapshot_fill(void *arg, tm_store_batch_t *b)
{
    const tm_persist_snap_t *snap = arg;
    tm_wire_buf_t pack;
    tm_wire_buf_init(&pack);
    int rc = 0;
    for (size_t off = 0; off < snap->len && rc == 0;) {
        const unsigned char *e = snap->buf + off;
        s_snap_head_t head;
        memcpy(&head, e, sizeof head);
        const tm_model_t *m = head.model;
        size_t size = s_snap_entry_size(m, head.n_history, head.has_sup);
        const double *d = (const double *)(const void *)(e + S_SNAP_HEAD);
        tm_rt_actor_t v;
        memset(&v, 0, sizeof v);
        v.id = head.id;
        v.model = m;
        v.period = head.period;
        v.epoch = head.epoch;
        v.params = d;
        v.held = d + m->n_params;
        v.state = v.held + m->n_inputs;
        v.outputs = v.state + m->n_states;
        tm_persist_actor_t rec;
        tm_persist_actor_from_view(&v, snap->tick, &rec);
        rec.n_history = head.n_history;
        rec.history_width = m->n_outputs;
        rec.history = v.outputs + m->n_outputs;
        /* the view above has no supervision: the snapshot's says */
        rec.has_sup = head.has_sup;
        if (head.has_sup) {
            memcpy(&rec.sup,
                   rec.history + (size_t)m->n_outputs * head.n_history,
                   sizeof rec.sup);
        }
        rc = s_put_record(b, head.id, &rec, &pack);
        off += size;
    }
    if (rc == 0) {
        rc = s_put_meta_u64(b, s_meta_tick, snap->tick);
    }
    if (rc == 0) {
        rc = s_put_meta_u64(b, s_meta_seed, snap->seed);
    }
    if (rc == 0) {
        rc = s_put_meta_f64(b, s_meta_h, snap->h);
    }
    tm_wire_buf_destroy(&pack);
    return rc;
}

size_t tm_persist_snapshot_count(const tm_persist_snap_t *snap)
{
    return snap->count;
}

void tm_persist_snapshot_free(void *arg)
{
    tm_persist_snap_t *snap = arg;
    if (snap != NULL) {
        free(snap->buf);
        free(snap);
    }
}

int tm_persist_checkpoint(tm_rt_t *rt, tm_store_batch_t *b)
{
    tm_persist_snap_t *snap = NULL;
    int rc = tm_persist_snapshot(rt, &snap);
    if (rc == 0) {
        rc = tm_persist_snapshot_fill(snap, b);
    }
    tm_persist_snapshot_free(snap);
    return rc;
}

/* Apply named values to a record (the order of tm_rt_set). A parameter
 * or a state makes the stored outputs stale: they are recomputed from the
 * state on load; past outputs stay. TM_ERR_UNKNOWN_PORT. */
static int s_patch_values(tm_persist_actor_t *rec, const tm_model_t *model,
                          const char *const *names, const double *values,
                          size_t n)
{
    for (size_t j = 0; j < n; j++) {
        const char *name = names[j];
        int i = tm_model_var_index(model->params, model->n_params, name);
        if (i >= 0) {
            rec->params[i] = values[j];
            rec->n_outputs = 0;
        } else if ((i = tm_model_var_index(model->states, model->n_states,
                                           name)) >= 0) {
            rec->state[i] = values[j];
            rec->n_outputs = 0;
        } else if ((i = tm_model_var_index(model->inputs, model->n_inputs,
                                           name)) >= 0) {
            rec->held[i] = values[j];
        } else {
            return TM_ERR_UNKNOWN_PORT;
        }
    }
    return 0;
}

int tm_persist_patch(tm_store_t *store, tm_store_batch_t *b, const char *id,
                     const tm_model_t *model, const char *const *names,
                     const double *values, size_t n)
{
    void *val = NULL;
    size_t vlen = 0;
    double *past = NULL;
    tm_persist_actor_t rec;
    tm_wire_buf_t pack;
    tm_wire_buf_init(&pack);
    int rc = tm_store_get(store, TM_DB_ACTORS, id, strlen(id), &val, &vlen);
    if (rc == 0) {
        rc = tm_persist_actor_decode(val, vlen, &rec);
    }
    if (rc == 0 &&
        (rec.n_params != model->n_params || rec.n_states != model->n_states ||
         rec.n_held != model->n_inputs)) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    if (rc == 0 && rec.n_history > 0) { /* kept as it is */
        size_t cap = (size_t)rec.n_history * rec.history_width;
        past = malloc(cap * sizeof(double) + 1);
        rc = past == NULL ? TM_ERR_NOMEM
                          : tm_persist_actor_history(val, vlen, past, cap);
        rec.history = past;
    }
    if (rc == 0) {
        rc = s_patch_values(&rec, model, names, values, n);
    }
    if (rc == 0) {
        rc = s_put_record(b, id, &rec, &pack);
    }
    free(val);
    free(past);
    tm_wire_buf_destroy(&pack);
    return rc;
}

static int s_get_meta(tm_store_t *store, const char *key, msgpack_object *obj,
                      msgpack_zone *zone, void **val)
{
    size_t vlen = 0;
    int rc = tm_store_get(store, TM_DB_META, key, strlen(key), val, &vlen);
    if (rc != 0) {
        return rc;
    }
    return tm_wire_unpack(*val, vlen, NULL, zone, obj);
}

int tm_persist_read_meta(tm_store_t *store, tm_persist_meta_t *out)
{
    msgpack_zone zone;
    msgpack_object obj;
    void *val = NULL;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!msgpack_zone_init(&zone, 256)) {
        return TM_ERR_NOMEM;
    }
    rc = s_get_meta(store, s_meta_tick, &obj, &zone, &val);
    if (rc == TM_ERR_NOT_FOUND) {
        rc = 0;
        goto done;
    }
    if (rc != 0) {
        goto done;
    }
    if (obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        rc = TM_ERR_STORE_CORRUPT;
        goto done;
    }
    out->have_checkpoint = 1;
    out->tick = obj.via.u64;
    free(val);
    val = NULL;
    if (s_get_meta(store, s_meta_seed, &obj, &zone, &val) == 0 &&
        obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        out->seed = obj.via.u64;
    }
    free(val);
    val = NULL;
    if (s_get_meta(store, s_meta_h, &obj, &zone, &val) == 0 &&
        obj.type == MSGPACK_OBJECT_FLOAT64) {
        out->h = obj.via.f64;
    }
done:
    free(val);
    msgpack_zone_destroy(&zone);
    return rc;
}

/* ---- verification -------------------------------------------------------
 */

static int s_check_actor(const void *key, size_t klen, const void *val,
                         size_t vlen, char *why, size_t whylen)
{
    char id[TM_ID_MAX + 1];
    tm_persist_actor_t rec;
    if (tm_persist_actor_key(key, klen, id) != 0) {
        snprintf(why, whylen, "key of %zu bytes cannot be an actor id", klen);
        return TM_ERR_STORE_CORRUPT;
    }
    int rc = tm_persist_actor_decode(val, vlen, &rec);
    if (rc != 0) {
        snprintf(why, whylen, "actor record does not decode (%s)",
                 tm_err_str(rc));
    }
    return rc;
}

static int s_check_link(const void *key, size_t klen, const void *val,
                        size_t vlen, char *why, size_t whylen)
{
    tm_persist_link_key_t f;
    char want[TM_PERSIST_KEY_MAX];
    size_t wlen = 0;
    uint32_t delay = 1;
    int rc = tm_persist_link_decode(val, vlen, &f, &delay);
    if (rc != 0) {
        snprintf(why, whylen, "link record does not decode (%s)",
                 tm_err_str(rc));
        return rc;
    }
    tm_rt_link_t l = {f.src, f.output, f.dst, f.input, delay};
    if (tm_persist_link_key(&l, want, sizeof want, &wlen) != 0 ||
        wlen != klen || memcmp(want, key, klen) != 0) {
        snprintf(why, whylen, "link record names %s, not its key", want);
        return TM_ERR_STORE_CORRUPT;
    }
    return 0;
}

static int s_check_meta(const void *key, size_t klen, const void *val,
                        size_t vlen, char *why, size_t whylen)
{
    msgpack_zone zone;
    msgpack_object obj;
    msgpack_object_type want;
    if (klen == strlen(s_meta_tick) && memcmp(key, s_meta_tick, klen) == 0) {
        want = MSGPACK_OBJECT_POSITIVE_INTEGER;
    } else if (klen == strlen(s_meta_seed) &&
               memcmp(key, s_meta_seed, klen) == 0) {
        want = MSGPACK_OBJECT_POSITIVE_INTEGER;
    } else if (klen == strlen(s_meta_h) && memcmp(key, s_meta_h, klen) == 0) {
        want = MSGPACK_OBJECT_FLOAT64;
    } else {
        return 0; /* another module's setting */
    }
    if (!msgpack_zone_init(&zone, 256)) {
        snprintf(why, whylen, "out of memory");
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(val, vlen, NULL, &zone, &obj);
    if (rc == 0 && obj.type != want) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    msgpack_zone_destroy(&zone);
    if (rc != 0) {
        snprintf(why, whylen, "checkpoint setting %.*s does not decode (%s)",
                 (int)klen, (const char *)key, tm_err_str(rc));
    }
    return rc;
}

int tm_persist_check_record(tm_store_db_t db, const void *key, size_t klen,
                            const void *val, size_t vlen, char *why,
                            size_t whylen, void *arg)
{
    (void)arg;
    switch (db) {
    case TM_DB_ACTORS:
        return s_check_actor(key, klen, val, vlen, why, whylen);
    case TM_DB_LINKS:
        return s_check_link(key, klen, val, vlen, why, whylen);
    case TM_DB_META:
        return s_check_meta(key, klen, val, vlen, why, whylen);
    default:
        return 0;
    }
}

int tm_persist_verify(const char *dir, tm_store_verify_t *out)
{
    tm_store_verify_opts_t o = {tm_persist_check_record, NULL};
    return tm_store_verify(dir, &o, out);
}

int tm_persist_backup(tm_store_t *store, const char *dest,
                      tm_store_verify_t *report)
{
    tm_store_verify_opts_t o = {tm_persist_check_record, NULL};
    return tm_store_backup(store, dest, &o, report);
}
