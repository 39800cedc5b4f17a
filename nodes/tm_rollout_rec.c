/* tm_rollout_rec: a rollout's durable record (encoded into the catalog
 * database, read back when the node starts) and `rollout status`. */
#include "tm_err.h"
#include "tm_rollout_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_stage_name[] = {"shadow", "canary", "done",
                                           "rolled-back"};

const char *tmi_ro_stage_name(tmi_ro_stage_t stage)
{
    return s_stage_name[stage];
}

bool tmi_ro_active(const tmi_ro_t *ro)
{
    return ro->stage == TMI_RO_SHADOW || ro->stage == TMI_RO_CANARY;
}

/* ---- the durable record ------------------------------------------------- */

static void s_pack_budget(msgpack_packer *pk, const char *key, double v)
{
    tm_wire_pack_str(pk, key);
    if (isfinite(v)) {
        msgpack_pack_double(pk, v);
    } else {
        msgpack_pack_nil(pk);
    }
}

static void s_pack_f64s(msgpack_packer *pk, const char *key, const double *v,
                        uint32_t n)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_double(pk, v[i]);
    }
}

/* A parameter set's rollout adds actor, version, params and state. */
void tmi_ro_encode(const tmi_ro_t *ro, tm_wire_buf_t *w)
{
    msgpack_packer *pk = &w->pk;
    bool set = ro->actor[0] != '\0';
    msgpack_pack_map(pk, set ? 16 : 11);
    tm_wire_pack_kv_str(pk, "family", ro->family);
    tm_wire_pack_kv_str(pk, "from", ro->from);
    tm_wire_pack_kv_str(pk, "to", ro->to);
    tm_wire_pack_kv_u64(pk, "canary_pct", ro->o.canary);
    tm_wire_pack_kv_u64(pk, "shadow", ro->o.shadow);
    s_pack_budget(pk, "rmse", ro->o.rmse);
    s_pack_budget(pk, "mape", ro->o.mape);
    tm_wire_pack_kv_str(pk, "stage", tmi_ro_stage_name(ro->stage));
    tm_wire_pack_kv_u64(pk, "started", ro->started);
    tm_wire_pack_kv_str(pk, "decision", ro->decision);
    tm_wire_pack_str(pk, "canary");
    msgpack_pack_array(pk, ro->n_canary);
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_wire_pack_str(pk, ro->canary[i]);
    }
    if (set) {
        tm_wire_pack_kv_str(pk, "actor", ro->actor);
        tm_wire_pack_kv_str(pk, "version", ro->version);
        tm_wire_pack_kv_u64(pk, "fidelity", ro->fidelity);
        s_pack_f64s(pk, "params", ro->params, ro->np);
        s_pack_f64s(pk, "state", ro->state, ro->ns);
    }
}

static int s_str(const msgpack_object *o, const char *key, char *out,
                 size_t cap)
{
    const char *s = NULL;
    size_t n = 0;
    if (tm_wire_get_str(o, key, &s, &n) != 0 || n >= cap) {
        return TM_ERR_STORE_CORRUPT;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* An array of at most TM_MODEL_MAX_VARS finite doubles. */
static int s_f64s(const msgpack_object *o, const char *key, double *v,
                  uint32_t *n)
{
    const msgpack_object *a = tm_wire_map_get(o, key);
    if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size > TM_MODEL_MAX_VARS) {
        return TM_ERR_STORE_CORRUPT;
    }
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *e = &a->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_FLOAT64 || !isfinite(e->via.f64)) {
            return TM_ERR_STORE_CORRUPT;
        }
        v[i] = e->via.f64;
    }
    *n = a->via.array.size;
    return 0;
}

/* The parts of a parameter set's rollout, when the record has them. */
static int s_decode_set(const msgpack_object *o, tmi_ro_t *ro)
{
    if (tm_wire_map_get(o, "actor") == NULL) {
        snprintf(ro->key, sizeof ro->key, "%s", ro->family);
        return 0;
    }
    int rc = s_str(o, "actor", ro->actor, sizeof ro->actor);
    rc = rc ? rc : s_str(o, "version", ro->version, sizeof ro->version);
    uint64_t tier = TM_FIDELITY_COUNT;
    rc = rc ? rc : tm_wire_get_u64(o, "fidelity", &tier);
    ro->fidelity = (uint8_t)(tier < TM_FIDELITY_COUNT ? tier : 0);
    rc = rc ? rc : tier < TM_FIDELITY_COUNT ? 0 : TM_ERR_STORE_CORRUPT;
    rc = rc ? rc : s_f64s(o, "params", ro->params, &ro->np);
    rc = rc ? rc : s_f64s(o, "state", ro->state, &ro->ns);
    if (rc == 0 && (ro->actor[0] == '\0' || ro->n_canary > 1)) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    tmi_ro_params_key(ro->actor, ro->key);
    return rc;
}

static double s_budget(const msgpack_object *o, const char *key)
{
    double v = INFINITY;
    return tm_wire_get_f64(o, key, &v) == 0 ? v : INFINITY;
}

int tmi_ro_decode(const void *val, size_t len, tmi_ro_t *ro)
{
    msgpack_zone zone;
    msgpack_object o;
    char stage[16];
    uint64_t pct = 0;
    if (!msgpack_zone_init(&zone, 1024)) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_wire_unpack(val, len, NULL, &zone, &o);
    rc = rc ? rc : s_str(&o, "family", ro->family, sizeof ro->family);
    rc = rc ? rc : s_str(&o, "from", ro->from, sizeof ro->from);
    rc = rc ? rc : s_str(&o, "to", ro->to, sizeof ro->to);
    rc = rc ? rc : s_str(&o, "stage", stage, sizeof stage);
    rc = rc ? rc : s_str(&o, "decision", ro->decision, sizeof ro->decision);
    rc = rc ? rc : tm_wire_get_u64(&o, "canary_pct", &pct);
    rc = rc ? rc : tm_wire_get_u64(&o, "shadow", &ro->o.shadow);
    rc = rc ? rc : tm_wire_get_u64(&o, "started", &ro->started);
    const msgpack_object *c = rc ? NULL : tm_wire_map_get(&o, "canary");
    if (rc == 0 &&
        (c == NULL || c->type != MSGPACK_OBJECT_ARRAY || pct > 100)) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    ro->o.canary = (uint32_t)pct;
    ro->o.rmse = rc ? INFINITY : s_budget(&o, "rmse");
    ro->o.mape = rc ? INFINITY : s_budget(&o, "mape");
    ro->stage = TMI_RO_ROLLED_BACK;
    for (int s = 0; rc == 0 && s < 4; s++) {
        if (strcmp(stage, tmi_ro_stage_name((tmi_ro_stage_t)s)) == 0) {
            ro->stage = (tmi_ro_stage_t)s;
        }
    }
    if (rc == 0 && c->via.array.size > 0) {
        ro->canary = calloc(c->via.array.size, sizeof *ro->canary);
        rc = ro->canary == NULL ? TM_ERR_NOMEM : 0;
    }
    for (uint32_t i = 0; rc == 0 && i < c->via.array.size; i++) {
        const msgpack_object *e = &c->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_STR || e->via.str.size > TM_ID_MAX) {
            rc = TM_ERR_STORE_CORRUPT;
            break;
        }
        memcpy(ro->canary[i], e->via.str.ptr, e->via.str.size);
        ro->canary[i][e->via.str.size] = '\0';
        ro->n_canary = i + 1;
    }
    rc = rc ? rc : s_decode_set(&o, ro);
    msgpack_zone_destroy(&zone);
    return rc;
}

/* ---- status ------------------------------------------------------------- */

static void s_kv_budget(tm_body_t *b, const char *key, double v)
{
    if (isfinite(v)) {
        tm_body_kv_f64(b, key, v);
    } else {
        tm_body_kv_nil(b, key);
    }
}

void tm_rollout_pack(const tm_rollout_t *r, const char *family,
                     const char *node, tm_body_t *b)
{
    uint64_t now = tm_rt_tick(r->rt);
    tm_body_array(b);
    for (size_t i = 0; i < r->n; i++) {
        const tmi_ro_t *ro = &r->ro[i];
        if (family != NULL && strcmp(family, ro->family) != 0) {
            continue;
        }
        tm_body_map(b);
        if (node != NULL) {
            tm_body_kv_str(b, "node", node);
        }
        tm_body_kv_str(b, "family", ro->family);
        if (ro->actor[0] != '\0') {
            tm_body_kv_str(b, "actor", ro->actor); /* a parameter set's */
        } else {
            tm_body_kv_nil(b, "actor");
        }
        tm_body_kv_str(b, "from", ro->from);
        tm_body_kv_str(b, "to", ro->to);
        tm_body_kv_str(b, "stage", tmi_ro_stage_name(ro->stage));
        tm_body_kv_u64(b, "canary", ro->n_canary);
        tm_body_kv_u64(b, "canary_pct", ro->o.canary);
        tm_body_kv_u64(b, "shadow", ro->o.shadow);
        /* 0 before a stage set for a later tick (--at) starts */
        tm_body_kv_u64(b, "stage_ticks",
                       tmi_ro_active(ro) && now > ro->stage_tick
                           ? now - ro->stage_tick
                           : 0);
        s_kv_budget(b, "budget_rmse", ro->o.rmse);
        s_kv_budget(b, "budget_mape", ro->o.mape);
        tm_body_kv_f64(b, "rmse", ro->rmse);
        tm_body_kv_f64(b, "mape", ro->mape);
        tm_body_kv_u64(b, "measured", ro->m_n);
        tm_body_kv_f64(b, "meas_rmse", ro->m_rmse);
        tm_body_kv_f64(b, "meas_mape", ro->m_mape);
        tm_body_kv_str(b, "decision", ro->decision);
        tm_body_end(b);
    }
    tm_body_end(b);
}
