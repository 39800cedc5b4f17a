/* tm_telem_out: feeding the steps, keeping their measurements, publishing
 * twin outputs (docs/protocol.md section 8.2), and what calibrate and
 * inspect read. */
#include "tm_telem_int.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_sock.h"
#include "tm_time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* The pending slot of step tick `step`, or NULL when nothing came. */
static const double *s_slot(const tm_telem_t *t, const tmi_telem_asset_t *a,
                            uint64_t step)
{
    size_t slot = (size_t)((step / a->period) % t->horizon);
    return a->slot_tick[slot] == step ? a->slot_v + slot * a->ni : NULL;
}

/* Whether a still describes a local actor with the same ports and period.
 * Another tier or version of the family (a fallback, a promotion, a
 * rollout) keeps its pending samples and its time axis: its inputs are
 * the same, and a twin that falls back must not lose its measurements. */
static bool s_valid(tm_telem_t *t, tmi_telem_asset_t *a)
{
    tm_rt_actor_t v;
    if (tm_rt_get(t->rt, a->id, &v) != 0 || v.remote ||
        (v.period ? v.period : 1) != a->period ||
        (v.model != a->model &&
         tm_model_check_family(v.model, a->model) != 0)) {
        return false;
    }
    a->model = v.model;
    return true;
}

void tmi_telem_before(void *arg, uint64_t tick)
{
    tm_telem_t *t = arg;
    for (size_t i = 0; i < t->n_assets;) {
        tmi_telem_asset_t *a = t->assets[i];
        if (!s_valid(t, a)) {
            tmi_telem_drop(t, i); /* killed or replaced: start afresh */
            continue;
        }
        const double *v = s_slot(t, a, tmi_telem_next_step(a, tick));
        for (uint32_t j = 0; v != NULL && j < a->ni; j++) {
            if (!isnan(v[j])) {
                tm_rt_feed(t->rt, a->id, j, v[j]);
            }
        }
        i++;
    }
}

uint64_t tmi_telem_next_stop(void *arg)
{
    tm_telem_t *t = arg;
    uint64_t tick = tm_rt_tick(t->rt);
    uint64_t stop = 0;
    for (size_t i = 0; i < t->n_assets; i++) {
        uint64_t s = tmi_telem_next_step(t->assets[i], tick);
        if (stop == 0 || s < stop) {
            stop = s;
        }
    }
    return stop;
}

/* Time of step tick `step` on a's axis (0 before its anchor). */
static uint64_t s_step_ts(const tm_telem_t *t, const tmi_telem_asset_t *a,
                          uint64_t step)
{
    if (!a->anchored || step < a->k0) {
        return 0;
    }
    double d = (double)(step - a->k0) * tm_rt_h(t->rt) * 1e9;
    return a->ts0 + (uint64_t)nearbyint(d);
}

static bool s_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s);
    size_t m = strlen(suf);
    return n > m && strcmp(s + n - m, suf) == 0;
}

/* The outputs of one step: estimates, their sd, score and alarm. */
static void s_pack_outputs(msgpack_packer *pk, const tm_model_t *m,
                           const double *out, bool sd)
{
    uint32_t n = 0;
    for (uint32_t j = 0; j < m->n_outputs; j++) {
        const char *name = m->outputs[j].name;
        bool is_sd = s_suffix(name, "_sd");
        n += sd ? is_sd
                : !is_sd && strcmp(name, "score") != 0 &&
                      strcmp(name, "alarm") != 0;
    }
    msgpack_pack_map(pk, n);
    for (uint32_t j = 0; j < m->n_outputs; j++) {
        const char *name = m->outputs[j].name;
        bool is_sd = s_suffix(name, "_sd");
        if (sd && is_sd) {
            size_t len = strlen(name) - 3;
            msgpack_pack_str(pk, len);
            msgpack_pack_str_body(pk, name, len);
            msgpack_pack_double(pk, out[j]);
        } else if (!sd && !is_sd && strcmp(name, "score") != 0 &&
                   strcmp(name, "alarm") != 0) {
            tm_wire_pack_kv_f64(pk, name, out[j]);
        }
    }
}

static void s_pack_measured(msgpack_packer *pk, const tm_model_t *m,
                            const double *v)
{
    uint32_t n = 0;
    for (uint32_t j = 0; v != NULL && j < m->n_inputs; j++) {
        n += !isnan(v[j]);
    }
    msgpack_pack_map(pk, n);
    for (uint32_t j = 0; v != NULL && j < m->n_inputs; j++) {
        if (!isnan(v[j])) {
            tm_wire_pack_kv_f64(pk, m->inputs[j].name, v[j]);
        }
    }
}

/* The alarm of a's step: a change is an event (logged, counted, and named
 * in the output); "" when none. */
static const char *s_event(tm_telem_t *t, tmi_telem_asset_t *a, bool alarm,
                           double score, uint64_t step)
{
    if (alarm == a->alarm) {
        return "";
    }
    a->alarm = alarm;
    t->alarms += alarm;
    tm_log(alarm ? TM_LOG_WARN : TM_LOG_INFO,
           "telemetry: %s: alarm %s at tick %llu (score %.3g)", a->id,
           alarm ? "raised" : "cleared", (unsigned long long)step, score);
    return alarm ? "alarm" : "clear";
}

/* Publish the outputs of a's step at tick `step`. */
static void s_publish(tm_telem_t *t, tmi_telem_asset_t *a, uint64_t step,
                      const double *measured)
{
    tm_rt_actor_t v;
    if (tm_rt_get(t->rt, a->id, &v) != 0) {
        return;
    }
    const tm_model_t *m = v.model;
    int is = tm_model_var_index(m->outputs, m->n_outputs, "score");
    int ia = tm_model_var_index(m->outputs, m->n_outputs, "alarm");
    double score = is >= 0 ? v.outputs[is] : 0.0;
    bool alarm = ia >= 0 && v.outputs[ia] != 0.0;
    const char *event = s_event(t, a, alarm, score, step);
    if (t->pub == NULL) {
        return;
    }
    char model[80];
    snprintf(model, sizeof model, "%s@%s", m->family, m->version);
    tm_wire_buf_clear(&t->out);
    msgpack_packer *pk = &t->out.pk;
    msgpack_pack_map(pk, event[0] != '\0' ? 13 : 12);
    tm_wire_pack_kv_str(pk, "asset", a->id);
    tm_wire_pack_kv_u64(pk, "tick", step);
    tm_wire_pack_kv_u64(pk, "ts", s_step_ts(t, a, step));
    tm_wire_pack_kv_str(pk, "model", model);
    tm_wire_pack_kv_u64(pk, "params", tm_model_paramset(m, v.params));
    tm_wire_pack_kv_str(pk, "fidelity", tm_fidelity_name(m->fidelity));
    tm_wire_pack_kv_bool(pk, "degraded",
                         v.sup.degraded ||
                             tm_rt_degraded_sources(t->rt, a->id, NULL, 0) > 0);
    tm_wire_pack_str(pk, "outputs");
    s_pack_outputs(pk, m, v.outputs, false);
    tm_wire_pack_str(pk, "uncertainty");
    s_pack_outputs(pk, m, v.outputs, true);
    tm_wire_pack_str(pk, "measured");
    s_pack_measured(pk, m, measured);
    tm_wire_pack_kv_f64(pk, "score", score);
    tm_wire_pack_kv_bool(pk, "alarm", alarm);
    if (event[0] != '\0') {
        tm_wire_pack_kv_str(pk, "event", event);
    }
    if (tm_wire_buf_ok(&t->out) != 0 ||
        zmq_send(t->pub, a->id, strlen(a->id), ZMQ_SNDMORE | ZMQ_DONTWAIT) <
            0 ||
        zmq_send(t->pub, t->out.sbuf.data, t->out.sbuf.size, ZMQ_DONTWAIT) <
            0) {
        t->pub_failed++;
        return;
    }
    t->published++;
}

void tmi_telem_after(void *arg, uint64_t tick)
{
    tm_telem_t *t = arg;
    for (size_t i = 0; i < t->n_assets; i++) {
        tmi_telem_asset_t *a = t->assets[i];
        /* Chunks end at or before every asset's next step (next_stop):
         * a stepped in this chunk exactly when it ended on a's step. */
        uint64_t step = tick;
        if (tick == 0 || tick % a->period != 0) {
            continue;
        }
        size_t slot = (size_t)((step / a->period) % t->horizon);
        const double *v = s_slot(t, a, step);
        double *row = a->hist + (size_t)a->hist_pos * a->ni;
        for (uint32_t j = 0; j < a->ni; j++) {
            row[j] = v != NULL ? v[j] : NAN;
            if (v != NULL && !isnan(v[j])) {
                a->last_tick[j] = step;
            }
        }
        a->hist_pos = (a->hist_pos + 1) % t->history;
        a->hist_n += a->hist_n < t->history;
        s_publish(t, a, step, v);
        if (v != NULL && a->slot_n[slot] == a->n_measured) {
            a->row_gap = a->last_row != 0 ? step - a->last_row : 0;
            a->last_row = step;
        }
        if (v != NULL) {
            /* the row's time ends when its output is out */
            double now = tm_time_now();
            t->lat[t->lat_pos] = now - a->slot_at[slot];
            t->lat_pos = (t->lat_pos + 1) % TMI_TELEM_LAT_N;
            t->lat_n++;
        }
        a->slot_tick[slot] = 0;
    }
}

int tm_telem_history(tm_telem_t *t, const char *id, size_t n, double **rows,
                     size_t *n_rows)
{
    const tmi_telem_asset_t *a = tmi_telem_find(t, id);
    if (a == NULL) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    if (n > a->hist_n) {
        n = a->hist_n;
    }
    double *r = malloc((n ? n : 1) * a->ni * sizeof *r);
    if (r == NULL) {
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        size_t pos = (a->hist_pos + t->history - n + k) % t->history;
        memcpy(r + k * a->ni, a->hist + pos * a->ni, a->ni * sizeof *r);
    }
    *rows = r;
    *n_rows = n;
    return 0;
}

void tm_telem_pack_asset(tm_telem_t *t, const char *id, tm_body_t *b)
{
    const tmi_telem_asset_t *a = tmi_telem_find(t, id);
    if (a == NULL) {
        return;
    }
    uint64_t tick = tm_rt_tick(t->rt);
    tm_body_kv_map(b, "telemetry");
    for (uint32_t j = 0; j < a->ni; j++) {
        if (a->count[j] == 0) {
            continue;
        }
        tm_body_kv_map(b, a->model->inputs[j].name);
        tm_body_kv_f64(b, "value", a->last_v[j]);
        tm_body_kv_str(b, "unit", a->model->inputs[j].unit);
        tm_body_kv_u64(b, "ts", a->last_ts[j]);
        if (a->last_tick[j] != 0) {
            tm_body_kv_u64(b, "age", (tick - a->last_tick[j]) / a->period);
        }
        tm_body_kv_u64(b, "samples", a->count[j]);
        tm_body_end(b);
    }
    tm_body_end(b);
    static const char *const reasons[] = {
#define X(e, n) #n,
        TMI_TELEM_REASONS(X)
#undef X
    };
    tm_body_kv_map(b, "telemetry_rejected");
    for (int r = 0; r < TMI_TELEM_NREASONS; r++) {
        if (a->rejected[r] != 0) {
            tm_body_kv_u64(b, reasons[r], a->rejected[r]);
        }
    }
    tm_body_end(b);
}
