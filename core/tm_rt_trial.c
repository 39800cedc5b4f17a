/* tm_rt_trial: another version of an actor's family in shadow - stepped
 * after every tick on the live actor's inputs, its outputs linked to
 * nothing, scored against the live outputs (RMSE and MAPE per output)
 * and, where an output predicts a measured input, against the
 * measurements - and its adoption (see tm_rt.h, "trials").
 *
 * Trials are few (a rollout's canary subset) and live in one array apart
 * from the actors; a tick without trials costs one comparison.
 */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static tmi_rt_trial_t *s_find(const tm_rt_t *rt, uint32_t a)
{
    for (size_t i = 0; i < rt->n_trials; i++) {
        if (rt->trials[i].actor == a) {
            return &rt->trials[i];
        }
    }
    return NULL;
}

void tmi_rt_trial_drop(tm_rt_t *rt, uint32_t a)
{
    for (size_t i = 0; i < rt->n_trials; i++) {
        if (rt->trials[i].actor == a) {
            rt->trials[i] = rt->trials[--rt->n_trials];
            return;
        }
    }
}

/* meas[j]: the measured input named like output j (its prediction), -1. */
static void s_match_measured(const tm_model_t *m, int8_t *meas)
{
    for (uint32_t j = 0; j < m->n_outputs; j++) {
        meas[j] = -1;
        for (uint32_t i = 0; i < m->n_inputs; i++) {
            if ((m->inputs[i].flags & TM_VAR_MEASURED) &&
                strcmp(m->inputs[i].name, m->outputs[j].name) == 0) {
                meas[j] = (int8_t)i;
            }
        }
    }
}

/* Errors of the trial (y) and the live version (live) against the
 * measurements of this step (in), where outputs predict them. */
static void s_score_measured(tmi_rt_trial_t *t, const double *y,
                             const double *live, const double *in)
{
    for (uint32_t j = 0; j < t->model->n_outputs; j++) {
        double z = t->meas[j] >= 0 ? in[t->meas[j]] : NAN;
        if (!isfinite(z)) {
            continue; /* no sample this step */
        }
        const double v[2] = {y[j], live[j]};
        for (int w = 0; w < 2; w++) {
            double d = v[w] - z;
            t->m_sq[w][j] += d * d;
            t->m_ape[w][j] += fabs(z) > 1e-12 ? fabs(d / z) : 0.0;
        }
        t->n_m[j]++;
        t->n_m_ape[j] += fabs(z) > 1e-12;
    }
}

int tm_rt_trial_start(tm_rt_t *rt, const char *id, const tm_model_t *model)
{
    return tm_rt_trial_start_with(rt, id, model, NULL, NULL);
}

/* Every value within its variable's range. */
static bool s_in_range(const tm_var_t *v, uint32_t n, const double *x)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!(x[i] >= v[i].min && x[i] <= v[i].max)) {
            return false;
        }
    }
    return true;
}

int tm_rt_trial_start_with(tm_rt_t *rt, const char *id, const tm_model_t *model,
                           const double *params, const double *state)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    const tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    if (g->remote || model == NULL || tm_model_check(model) != 0 ||
        tm_model_check_family(g->model, model) != 0) {
        return TM_ERR_INVAL;
    }
    if (params != NULL && !s_in_range(model->params, model->n_params, params)) {
        return TM_ERR_BAD_VALUE;
    }
    size_t s = rt->actors[a].slot;
    double x[TM_MODEL_MAX_VARS];
    if (state != NULL) {
        memcpy(x, state, model->n_states * sizeof(double));
    } else if (tm_model_map_state(model, g->model, g->state + s * g->ns,
                                  g->params + s * g->np, x) != TM_STEP_OK) {
        return TM_ERR_MODEL_FAILED;
    }
    if (!tmi_rt_all_finite(x, model->n_states)) {
        return TM_ERR_MODEL_FAILED;
    }
    tmi_rt_trial_t *t = s_find(rt, a);
    if (t == NULL) {
        if (tmi_rt_grow((void **)&rt->trials, &rt->cap_trials, rt->n_trials + 1,
                        sizeof *rt->trials) != 0) {
            return TM_ERR_NOMEM;
        }
        t = &rt->trials[rt->n_trials++];
    }
    memset(t, 0, sizeof *t);
    t->actor = a;
    t->model = model;
    t->own_params = params != NULL;
    if (params != NULL) {
        memcpy(t->params, params, model->n_params * sizeof(double));
    }
    s_match_measured(model, t->meas);
    memcpy(t->state, x, model->n_states * sizeof(double));
    return 0;
}

/* One tick of every trial whose actor stepped at k. */
void tmi_rt_trials_step(tm_rt_t *rt, uint64_t k)
{
    for (size_t i = 0; i < rt->n_trials; i++) {
        tmi_rt_trial_t *t = &rt->trials[i];
        const tmi_rt_group_t *g = rt->groups[rt->actors[t->actor].group];
        if (t->failed || g->frozen || k % g->period != 0) {
            continue;
        }
        size_t s = rt->actors[t->actor].slot;
        const tm_model_t *m = t->model;
        double x[TM_MODEL_MAX_VARS];
        double y[TM_MODEL_MAX_VARS];
        memcpy(x, t->state, m->n_states * sizeof(double));
        tm_step_ctx_t ctx = {.h = rt->h * (double)g->period,
                             .tick = k,
                             .seed = rt->seed,
                             .keys = &g->keys[s]};
        uint8_t st = TM_STEP_OK;
        const double *pa = t->own_params ? t->params : g->params + s * g->np;
        m->step(&ctx, 1, x, pa, g->in + s * g->ni, y, &st);
        if (st != TM_STEP_OK || !tmi_rt_all_finite(x, m->n_states) ||
            !tmi_rt_all_finite(y, m->n_outputs)) {
            t->failed = true; /* its values stop here; never seen by links */
            t->failed_at = k;
            t->status = st != TM_STEP_OK ? st : TM_STEP_NONFINITE;
            continue;
        }
        memcpy(t->state, x, m->n_states * sizeof(double));
        memcpy(t->outputs, y, m->n_outputs * sizeof(double));
        const double *live = g->out[0] + s * g->no;
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            double d = y[j] - live[j];
            t->sq[j] += d * d;
            if (fabs(live[j]) > 1e-12) {
                t->ape[j] += fabs(d / live[j]);
                t->n_ape[j]++;
            }
        }
        s_score_measured(t, y, live, g->in + s * g->ni);
        t->steps++;
    }
}

int tm_rt_trial_get(const tm_rt_t *rt, const char *id, tm_rt_trial_t *out)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    const tmi_rt_trial_t *t = a == TMI_RT_NONE ? NULL : s_find(rt, a);
    if (t == NULL) {
        return TM_ERR_NOT_FOUND;
    }
    memset(out, 0, sizeof *out);
    out->model = t->model;
    out->steps = t->steps;
    out->failed = t->failed;
    out->failed_at = t->failed_at;
    out->status = t->status;
    out->n_outputs = t->model->n_outputs;
    for (uint32_t j = 0; j < t->model->n_outputs; j++) {
        out->rmse[j] = t->steps > 0 ? sqrt(t->sq[j] / (double)t->steps) : 0.0;
        out->mape[j] =
            t->n_ape[j] > 0 ? 100.0 * t->ape[j] / (double)t->n_ape[j] : 0.0;
        out->n_measured[j] = t->n_m[j];
        double n = (double)t->n_m[j];
        double na = (double)t->n_m_ape[j];
        out->meas_rmse[j] = n > 0 ? sqrt(t->m_sq[0][j] / n) : 0.0;
        out->live_meas_rmse[j] = n > 0 ? sqrt(t->m_sq[1][j] / n) : 0.0;
        out->meas_mape[j] = na > 0 ? 100.0 * t->m_ape[0][j] / na : 0.0;
        out->live_meas_mape[j] = na > 0 ? 100.0 * t->m_ape[1][j] / na : 0.0;
    }
    return 0;
}

int tm_rt_trial_stop(tm_rt_t *rt, const char *id, bool adopt)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    tmi_rt_trial_t *t = a == TMI_RT_NONE ? NULL : s_find(rt, a);
    if (t == NULL) {
        return TM_ERR_NOT_FOUND;
    }
    int rc = 0;
    if (adopt) {
        if (t->failed || t->steps == 0) {
            return TM_ERR_MODEL_FAILED;
        }
        const tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
        double x[TM_MODEL_MAX_VARS];
        double y[TM_MODEL_MAX_VARS];
        const tm_model_t *m = t->model;
        memcpy(x, t->state, m->n_states * sizeof(double));
        memcpy(y, t->outputs, m->n_outputs * sizeof(double));
        rc = tmi_rt_regroup(rt, a, m, g->frozen, x);
        if (rc == 0) {
            const tmi_rt_group_t *ng = rt->groups[rt->actors[a].group];
            size_t ns = rt->actors[a].slot;
            memcpy(ng->out[0] + ns * ng->no, y, m->n_outputs * sizeof(double));
            if (t->own_params) {
                memcpy(ng->params + ns * ng->np, t->params,
                       m->n_params * sizeof(double));
            }
        }
    }
    if (rc == 0) {
        tmi_rt_trial_drop(rt, a);
    }
    return rc;
}

size_t tm_rt_trials(const tm_rt_t *rt)
{
    return rt->n_trials;
}
