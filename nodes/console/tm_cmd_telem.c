/* tm_cmd_telem: calibrate - fit a twin to its recent telemetry, and
 * commit the new parameter set at once or roll it out (--shadow). */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_rollout.h"
#include "tm_telem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The fitted parameters and the state at the window's end, set in one
 * durable commit through the mutation path. */
static int s_commit(tm_console_ctx_t *ctx, const char *id, const tm_model_t *m,
                    const double *params, const double *state,
                    const char *reason, char *why)
{
    const char *names[2 * TM_MODEL_MAX_VARS];
    double values[2 * TM_MODEL_MAX_VARS];
    tm_mut_kind_t kind[2 * TM_MODEL_MAX_VARS];
    double old[2 * TM_MODEL_MAX_VARS];
    size_t n = 0;
    for (uint32_t k = 0; k < m->n_params; k++) {
        names[n] = m->params[k].name;
        values[n++] = params[k];
    }
    for (uint32_t k = 0; k < m->n_states; k++) {
        names[n] = m->states[k].name;
        values[n++] = state[k];
    }
    tm_mut_reason(ctx->mut, "calibrate", reason); /* its audit record */
    return tm_mut_set(ctx->mut, id, n, names, values, kind, old, why);
}

/* The fitted set rolled out: in shadow first (tm_rollout_params). */
static int s_shadow(tm_console_ctx_t *ctx, tm_console_call_t *req,
                    const double *params, const double *state, size_t steps,
                    uint64_t set)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    if (ctx->rollout == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "rollouts are not served here");
    }
    tm_rollout_opts_t o = {
        .canary = 100,
        .shadow = cmd->shadow,
        .rmse = cmd->has_budget ? cmd->budget_rmse : INFINITY,
        .mape = cmd->has_budget ? cmd->budget_mape : INFINITY};
    char why[TM_ROLLOUT_WHY_MAX];
    int rc = tm_rollout_params(ctx->rollout, cmd->id, params, state, &o, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_u64(b, "steps", steps);
    tm_body_kv_u64(b, "paramset", set);
    tm_body_kv_u64(b, "shadow", cmd->shadow);
    tm_body_kv_u64(b, "from_tick", tm_rt_tick(ctx->rt));
    tm_body_end(b);
    tm_reply_msg(rep,
                 "%s calibrated on %zu steps of telemetry: params@%llu in "
                 "shadow for %llu ticks from tick %llu (see rollout status)",
                 cmd->id, steps, (unsigned long long)set,
                 (unsigned long long)cmd->shadow,
                 (unsigned long long)tm_rt_tick(ctx->rt));
    return tm_reply_done(rep);
}

int tmi_cmd_calibrate(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    tm_rt_actor_t a;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0 || a.remote) {
        return tmi_unknown_actor(rep, cmd->id);
    }
    const tm_model_t *m = a.model;
    if (cmd->has_budget && cmd->shadow == 0) {
        return tm_reply_error(rep, TM_ERR_USAGE,
                              "calibrate: --budget judges a shadow trial; "
                              "give --shadow TICKS too");
    }
    char busy[TM_ROLLOUT_WHY_MAX];
    if (ctx->rollout != NULL &&
        tm_rollout_params_busy(ctx->rollout, cmd->id, busy) != 0) {
        return tm_reply_error(rep, TM_ERR_BUSY, "%s", busy);
    }
    if (m->calibrate == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "%s@%s cannot be calibrated (no calibration "
                              "in its model)",
                              m->family, m->version);
    }
    double *rows = NULL;
    size_t n = 0;
    int rc =
        ctx->telem == NULL
            ? TM_ERR_UNKNOWN_ACTOR
            : tm_telem_history(ctx->telem, cmd->id,
                               cmd->window ? cmd->window : SIZE_MAX, &rows, &n);
    if (rc != 0) {
        return tm_reply_error(rep,
                              rc == TM_ERR_UNKNOWN_ACTOR ? TM_ERR_INVAL : rc,
                              "%s has had no telemetry since the node "
                              "started: nothing to calibrate on",
                              cmd->id);
    }
    if (cmd->window != 0 && n < cmd->window) {
        free(rows);
        return tm_reply_error(rep, TM_ERR_INVAL,
                              "%s has %zu steps of telemetry, --window asks "
                              "for %llu",
                              cmd->id, n, (unsigned long long)cmd->window);
    }
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    for (uint32_t k = 0; k < m->n_params; k++) {
        params[k] = a.params[k];
    }
    char why[TM_MUT_WHY_MAX] = "";
    double dt = tm_rt_h(ctx->rt) * (double)(a.period ? a.period : 1);
    rc = m->calibrate(dt, n, rows, params, state, why, sizeof why);
    free(rows);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "cannot calibrate %s: %s", cmd->id, why);
    }
    uint64_t set = tm_model_paramset(m, params);
    int at = tm_model_var_index(m->params, m->n_params, "paramset");
    if (ctx->rollout != NULL && at >= 0) {
        /* a set that was dropped keeps its number */
        set = tm_rollout_params_next(ctx->rollout, cmd->id, set);
        params[at] = (double)set;
    }
    if (cmd->shadow != 0) {
        return s_shadow(ctx, req, params, state, n, set);
    }
    char reason[128];
    snprintf(reason, sizeof reason,
             "fitted on %zu steps of telemetry: params@%llu", n,
             (unsigned long long)set);
    rc = s_commit(ctx, cmd->id, m, params, state, reason, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_u64(b, "steps", n);
    tm_body_kv_u64(b, "paramset", set);
    tm_body_kv_map(b, "params");
    for (uint32_t k = 0; k < m->n_params; k++) {
        tm_body_kv_f64(b, m->params[k].name, params[k]);
    }
    tm_body_end(b);
    tm_body_end(b);
    tm_reply_msg(rep, "%s calibrated on %zu steps of telemetry: params@%llu",
                 cmd->id, n, (unsigned long long)set);
    return tm_reply_done(rep);
}
