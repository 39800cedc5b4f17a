/* tm_cmd_observe: inspect, watch, top, hash. */
#include "tm_console.h"
#include "tm_mesh.h"
#include "tm_telem.h"

#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_INSPECT_LINKS 1000u /* links listed each way: about 40 KB */
#define S_TOP_DEFAULT   20u
#define S_TOP_MAX       1000u
#define S_TOP_EVERY_S   1.0

/* ---- inspect ------------------------------------------------------------ */

/* The links into and out of one actor, copied (the runtime's strings are
 * borrowed) and sorted, so that inspect lists them in the same order
 * whatever order they were made or restored in. */
typedef struct {
    const char *port;  /* input (in) or output (out) of this actor */
    const char *other; /* the actor at the other end */
    const char *oport; /* its output (in) or input (out) */
    uint32_t delay;
} s_link_row_t;

typedef struct {
    const char *id;
    s_link_row_t *in, *out;
    size_t n_in, n_out, cap_in, cap_out;
    int rc;
} s_links_t;

static int s_push(s_link_row_t **v, size_t *n, size_t *cap, s_link_row_t r)
{
    if (*n == *cap) {
        size_t grown = *cap ? *cap * 2 : 16;
        s_link_row_t *p = realloc(*v, grown * sizeof *p);
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        *v = p;
        *cap = grown;
    }
    (*v)[(*n)++] = r;
    return 0;
}

static int s_links_cb(const tm_rt_link_t *l, void *arg)
{
    s_links_t *ls = arg;
    if (strcmp(l->dst, ls->id) == 0) {
        s_link_row_t r = {l->input, l->src, l->output, l->delay};
        ls->rc = s_push(&ls->in, &ls->n_in, &ls->cap_in, r);
    } else {
        s_link_row_t r = {l->output, l->dst, l->input, l->delay};
        ls->rc = s_push(&ls->out, &ls->n_out, &ls->cap_out, r);
    }
    return ls->rc != 0;
}

static int s_link_row_cmp(const void *a, const void *b)
{
    const s_link_row_t *x = a;
    const s_link_row_t *y = b;
    int c = strcmp(x->port, y->port);
    if (c == 0) {
        c = strcmp(x->other, y->other);
    }
    return c != 0 ? c : strcmp(x->oport, y->oport);
}

static void s_pack_rows(tm_console_ctx_t *ctx, tm_body_t *b, const char *key,
                        s_link_row_t *v, size_t n, bool in)
{
    if (n > 1) {
        qsort(v, n, sizeof *v, s_link_row_cmp);
    }
    tm_body_kv_array(b, key);
    for (size_t i = 0; i < n && i < S_INSPECT_LINKS; i++) {
        tm_body_map(b);
        if (in) {
            tm_body_kv_str(b, "input", v[i].port);
            tm_body_kv_str(b, "src", v[i].other);
            tm_body_kv_str(b, "output", v[i].oport);
            if (ctx->mesh != NULL) {
                /* its node is late: the last values are held */
                tm_body_kv_bool(b, "stale",
                                tm_mesh_stale(ctx->mesh, v[i].other));
            }
        } else {
            tm_body_kv_str(b, "output", v[i].port);
            tm_body_kv_str(b, "dst", v[i].other);
            tm_body_kv_str(b, "input", v[i].oport);
        }
        tm_body_kv_u64(b, "delay", v[i].delay);
        tm_body_end(b);
    }
    tm_body_end(b);
}

static void s_pack_values(tm_body_t *b, const char *key, const tm_var_t *vars,
                          uint32_t n, const double *v)
{
    tm_body_kv_map(b, key);
    for (uint32_t i = 0; i < n; i++) {
        tm_body_kv_f64(b, vars[i].name, v[i]);
    }
    tm_body_end(b);
}

static int s_pack_links(tm_console_ctx_t *ctx, tm_body_t *b, const char *id)
{
    s_links_t ls;
    memset(&ls, 0, sizeof ls);
    ls.id = id;
    tm_rt_foreach_link_of(ctx->rt, id, s_links_cb, &ls);
    if (ls.rc == 0) {
        tm_body_kv_map(b, "links");
        s_pack_rows(ctx, b, "in", ls.in, ls.n_in, true);
        s_pack_rows(ctx, b, "out", ls.out, ls.n_out, false);
        tm_body_kv_u64(b, "in_total", ls.n_in);
        tm_body_kv_u64(b, "out_total", ls.n_out);
        tm_body_end(b);
    }
    free(ls.in);
    free(ls.out);
    return ls.rc;
}

/* The supervisor's view of an actor (tm_rt_sup_t). */
static void s_pack_supervision(tm_body_t *b, tm_rt_t *rt,
                               const tm_rt_actor_t *a)
{
    const tm_rt_sup_t *sp = &a->sup;
    const char *src[16];
    size_t n_src = tm_rt_degraded_sources(rt, a->id, src, 16);
    tm_body_kv_map(b, "supervision");
    tm_body_kv_str(b, "target", tm_fidelity_name(sp->target));
    tm_body_kv_str(b, "mode", sp->pinned ? "pinned" : "auto");
    tm_body_kv_bool(b, "degraded", sp->degraded);
    tm_body_kv_bool(b, "quarantined", sp->quarantined);
    if (sp->shadow != NULL) {
        tm_body_kv_str(b, "shadow", tm_fidelity_name(sp->shadow->fidelity));
    } else {
        tm_body_kv_nil(b, "shadow");
    }
    tm_body_kv_u64(b, "healthy", sp->healthy);
    tm_body_kv_u64(b, "recent_faults", sp->n_low);
    tm_body_kv_u64(b, "residual_run", sp->resid_run);
    tm_body_kv_array(b, "degraded_inputs");
    for (size_t i = 0; i < n_src && i < 16; i++) {
        tm_body_str(b, src[i]);
    }
    tm_body_end(b);
    tm_body_end(b);
}

int tmi_cmd_inspect(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    tm_rt_actor_t a;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return tmi_unknown_actor(rep, cmd->id);
    }
    const tm_model_t *m = a.model;
    uint64_t tick = tm_rt_tick(ctx->rt);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", a.id);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_u64(b, "epoch", a.epoch);
    tmi_pack_model(b, m);
    tm_body_kv_u64(b, "paramset", tm_model_paramset(m, a.params));
    tm_body_kv_str(b, "summary", m->summary);
    tm_body_kv_u64(b, "period", a.period);
    tm_body_kv_u64(b, "shard", a.shard);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_f64(b, "t", (double)tick * tm_rt_h(ctx->rt));
    s_pack_values(b, "state", m->states, m->n_states, a.state);
    s_pack_values(b, "inputs", m->inputs, m->n_inputs, a.inputs);
    s_pack_values(b, "outputs", m->outputs, m->n_outputs, a.outputs);
    s_pack_values(b, "params", m->params, m->n_params, a.params);
    s_pack_values(b, "held", m->inputs, m->n_inputs, a.held);
    tm_body_kv_map(b, "units");
    tmi_pack_units(b, "state", m->states, m->n_states);
    tmi_pack_units(b, "inputs", m->inputs, m->n_inputs);
    tmi_pack_units(b, "outputs", m->outputs, m->n_outputs);
    tmi_pack_units(b, "params", m->params, m->n_params);
    tm_body_end(b);
    if (s_pack_links(ctx, b, a.id) != 0) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory listing links");
    }
    tm_body_kv_map(b, "health");
    tm_body_kv_str(b, "status", tm_step_status_name(a.health.last_status));
    tm_body_kv_u64(b, "faults", a.health.faults);
    tm_body_kv_u64(b, "last_fault", a.health.last_fault);
    tm_body_kv_u64(b, "last_stepped", a.health.last_stepped);
    tm_body_kv_f64(b, "step_ns", a.step_ns);
    tm_body_end(b);
    if (ctx->telem != NULL) {
        tm_telem_pack_asset(ctx->telem, a.id, b);
    }
    s_pack_supervision(b, ctx->rt, &a);
    tm_body_end(b);
    return tm_reply_done(rep);
}

/* ---- hash --------------------------------------------------------------- */

int tmi_cmd_hash(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    uint8_t d[32];
    char hex[65];
    if (ctx->mesh != NULL && !req->from_peer) {
        /* every node's part, combined when all have answered */
        char why[TM_CMD_MSG_MAX];
        tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
        if (later == NULL) {
            return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                                  "the mesh digest is not served here");
        }
        int rc = tm_mesh_hash(ctx->mesh, later, why, sizeof why);
        if (rc != 0) {
            later->free(later);
            return tm_reply_error(rep, rc, "%s", why);
        }
        return TM_CONSOLE_DEFERRED;
    }
    int rc = tm_rt_digest(ctx->rt, d);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "digest: %s", tm_err_str(rc));
    }
    tmi_hex(d, sizeof d, hex);
    uint64_t tick = tm_rt_tick(ctx->rt);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_str(b, "digest", hex);
    tm_body_kv_u64(b, "actors", tm_rt_count(ctx->rt));
    tm_body_end(b);
    tm_reply_msg(rep, "tick %llu digest %s", (unsigned long long)tick, hex);
    return tm_reply_done(rep);
}

/* ---- watch -------------------------------------------------------------- */

#define S_MEASURED ".measured"

/* Where a watched signal lives: outputs (0), then states (1), then inputs
 * (2); "X.measured" is measured input X (the sample of the last step). */
static int s_signal(const tm_model_t *m, const char *name, int *kind)
{
    size_t len = strlen(name);
    size_t sl = strlen(S_MEASURED);
    if (len > sl && strcmp(name + len - sl, S_MEASURED) == 0) {
        char base[TM_MODEL_NAME_MAX + 1];
        snprintf(base, sizeof base, "%.*s", (int)(len - sl), name);
        int i = tm_model_var_index(m->inputs, m->n_inputs, base);
        *kind = 2;
        return i >= 0 && (m->inputs[i].flags & TM_VAR_MEASURED) ? i : -1;
    }
    int i = tm_model_var_index(m->outputs, m->n_outputs, name);
    if (i >= 0) {
        *kind = 0;
        return i;
    }
    i = tm_model_var_index(m->states, m->n_states, name);
    if (i >= 0) {
        *kind = 1;
        return i;
    }
    i = tm_model_var_index(m->inputs, m->n_inputs, name);
    *kind = 2;
    return i;
}

/* A twin with telemetry: each measured signal X asked for (every one when
 * none is) is watched as X.measured, X (the estimate) and X_sd, then the
 * score and the alarm - measured beside predicted. false when the model
 * has no measured inputs or a signal asked for is not one of them. */
static bool s_expand_measured(const tm_model_t *m, tm_cmd_t *cmd)
{
    char want[TM_CMD_MAX_SIGNALS][TM_MODEL_NAME_MAX + 1];
    size_t n = 0;
    for (uint32_t j = 0; j < m->n_inputs; j++) {
        const char *x = m->inputs[j].name;
        bool asked = cmd->n_signals == 0;
        for (size_t k = 0; k < cmd->n_signals; k++) {
            asked |= strcmp(cmd->signals[k], x) == 0;
        }
        char sd[TM_MODEL_NAME_MAX + 8];
        snprintf(sd, sizeof sd, "%s_sd", x);
        if (!(m->inputs[j].flags & TM_VAR_MEASURED) || !asked ||
            tm_model_var_index(m->outputs, m->n_outputs, x) < 0 ||
            tm_model_var_index(m->outputs, m->n_outputs, sd) < 0 ||
            n + 3 > TM_CMD_MAX_SIGNALS - 2 ||
            strlen(x) + strlen(S_MEASURED) > TM_MODEL_NAME_MAX) {
            continue;
        }
        snprintf(want[n++], sizeof want[0], "%s%s", x, S_MEASURED);
        snprintf(want[n++], sizeof want[0], "%s", x);
        snprintf(want[n++], sizeof want[0], "%.*s", TM_MODEL_NAME_MAX, sd);
    }
    if (n == 0 || (cmd->n_signals != 0 && n != 3 * cmd->n_signals)) {
        return false;
    }
    const char *tail[] = {"score", "alarm"};
    for (size_t k = 0; k < 2; k++) {
        if (tm_model_var_index(m->outputs, m->n_outputs, tail[k]) >= 0) {
            snprintf(want[n++], sizeof want[0], "%s", tail[k]);
        }
    }
    memcpy(cmd->signals, want, n * sizeof want[0]);
    cmd->n_signals = n;
    return true;
}

int tmi_watch_check(tm_console_ctx_t *ctx, tm_cmd_t *cmd, tm_reply_t *rep)
{
    tm_rt_actor_t a;
    char list[3][512];
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return tmi_unknown_actor(rep, cmd->id);
    }
    const tm_model_t *m = a.model;
    if (s_expand_measured(m, cmd)) {
        return 0;
    }
    if (cmd->n_signals == 0) {
        for (uint32_t i = 0; i < m->n_outputs && i < TM_CMD_MAX_SIGNALS; i++) {
            snprintf(cmd->signals[i], sizeof cmd->signals[i], "%s",
                     m->outputs[i].name);
        }
        cmd->n_signals = m->n_outputs;
        return 0;
    }
    for (size_t j = 0; j < cmd->n_signals; j++) {
        int kind = 0;
        if (s_signal(m, cmd->signals[j], &kind) < 0) {
            return tm_reply_error(
                rep, TM_ERR_UNKNOWN_PORT,
                "unknown port: actor %s (%s) has no signal '%s' (outputs: "
                "%s; states: %s; inputs: %s)",
                a.id, m->family, cmd->signals[j],
                tm_mut_names(m->outputs, m->n_outputs, list[0], sizeof list[0]),
                tm_mut_names(m->states, m->n_states, list[1], sizeof list[1]),
                tm_mut_names(m->inputs, m->n_inputs, list[2], sizeof list[2]));
        }
    }
    return 0;
}

int tmi_watch_item(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep)
{
    tm_rt_actor_t a;
    tm_reply_reset(rep);
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return tm_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                              "unknown actor '%s' (it was killed)", cmd->id);
    }
    const tm_model_t *m = a.model;
    uint64_t tick = tm_rt_tick(ctx->rt);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", a.id);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_f64(b, "t", (double)tick * tm_rt_h(ctx->rt));
    /* what produced the values: model, version, tier, parameter set */
    tmi_pack_model(b, m);
    tm_body_kv_u64(b, "paramset", tm_model_paramset(m, a.params));
    tm_body_kv_bool(b, "degraded", a.sup.degraded);
    for (int pass = 0; pass < 2; pass++) {
        tm_body_kv_map(b, pass == 0 ? "values" : "units");
        for (size_t j = 0; j < cmd->n_signals; j++) {
            int kind = 0;
            int i = s_signal(m, cmd->signals[j], &kind);
            const tm_var_t *vars = kind == 0   ? m->outputs
                                   : kind == 1 ? m->states
                                               : m->inputs;
            const double *vals = kind == 0   ? a.outputs
                                 : kind == 1 ? a.state
                                             : a.inputs;
            tm_body_key(b, cmd->signals[j]);
            if (i < 0) {
                tm_body_nil(b);
            } else if (pass == 0) {
                tm_body_f64(b, vals[i]);
            } else {
                tm_body_str(b, vars[i].unit);
            }
        }
        tm_body_end(b);
    }
    tm_body_end(b);
    return tm_reply_done(rep);
}

int tmi_cmd_watch(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    static const tm_console_stream_t def = {.item = tmi_watch_item,
                                            .per_tick = true};
    int rc = tmi_watch_check(ctx, req->cmd, req->rep);
    if (rc != 0) {
        return rc;
    }
    rc = tmi_watch_item(ctx, req->cmd, req->rep); /* the current values */
    if (rc != 0) {
        return rc;
    }
    return tmi_stream(req, &def);
}

/* ---- top ---------------------------------------------------------------- */

typedef struct {
    tm_rt_actor_t *top; /* copies of views, sorted by cost (desc) */
    size_t n, limit;
} s_top_t;

/* true if a ranks before b: higher step cost, then more faults, then id */
static bool s_top_before(const tm_rt_actor_t *a, const tm_rt_actor_t *b)
{
    if (a->step_ns != b->step_ns) {
        return a->step_ns > b->step_ns;
    }
    if (a->health.faults != b->health.faults) {
        return a->health.faults > b->health.faults;
    }
    return strcmp(a->id, b->id) < 0;
}

static int s_top_cb(const tm_rt_actor_t *a, void *arg)
{
    s_top_t *t = arg;
    if (t->n == t->limit && !s_top_before(a, &t->top[t->n - 1])) {
        return 0;
    }
    size_t i = t->n < t->limit ? t->n++ : t->n - 1;
    while (i > 0 && s_top_before(a, &t->top[i - 1])) {
        t->top[i] = t->top[i - 1];
        i--;
    }
    t->top[i] = *a;
    return 0;
}

static void s_top_row(tm_body_t *b, const tm_rt_actor_t *a, uint64_t tick)
{
    uint64_t lag =
        tick > a->health.last_stepped ? tick - a->health.last_stepped : 0;
    tm_body_map(b);
    tm_body_kv_str(b, "id", a->id);
    tmi_pack_model(b, a->model);
    tm_body_kv_u64(b, "shard", a->shard);
    tm_body_kv_f64(b, "step_ns", a->step_ns);
    tm_body_kv_u64(b, "lag", lag);
    tm_body_kv_u64(b, "faults", a->health.faults);
    tm_body_kv_str(b, "status", tm_step_status_name(a->health.last_status));
    tm_body_end(b);
}

int tmi_top_item(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep)
{
    tm_rt_stats_t st;
    s_top_t t;
    uint64_t limit = cmd->limit;
    tm_reply_reset(rep);
    if (limit == 0) {
        limit = S_TOP_DEFAULT;
    }
    if (limit > S_TOP_MAX) {
        limit = S_TOP_MAX;
    }
    memset(&t, 0, sizeof t);
    t.limit = (size_t)limit;
    t.top = malloc(t.limit * sizeof *t.top);
    if (t.top == NULL) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    tm_rt_foreach(ctx->rt, s_top_cb, &t);
    tm_rt_stats(ctx->rt, &st);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_u64(b, "tick", st.tick);
    tm_body_kv_f64(b, "t", (double)st.tick * tm_rt_h(ctx->rt));
    tm_body_kv_str(b, "clock", tmi_clock_label(ctx));
    tm_body_kv_f64(b, "lag_s", tmi_lag(ctx));
    tm_body_kv_u64(b, "actors", st.actors);
    tm_body_kv_u64(b, "links", st.links);
    tm_body_kv_u64(b, "workers", st.workers);
    tm_body_kv_f64(b, "steps_per_s",
                   ctx->sched ? tm_sched_steps_per_s(ctx->sched) : 0);
    tm_body_kv_f64(b, "last_tick_us", st.last_tick_ns / 1e3);
    tm_body_kv_u64(b, "faults", st.faults);
    tm_body_kv_array(b, "rows");
    for (size_t i = 0; i < t.n; i++) {
        s_top_row(b, &t.top[i], st.tick);
    }
    tm_body_end(b);
    tm_body_end(b);
    free(t.top);
    return tm_reply_done(rep);
}

int tmi_cmd_top(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_console_stream_t def = {.item = tmi_top_item,
                               .interval = req->cmd->interval > 0
                                               ? req->cmd->interval
                                               : S_TOP_EVERY_S};
    int rc = tmi_top_item(ctx, req->cmd, req->rep);
    if (rc != 0) {
        return rc;
    }
    return tmi_stream(req, &def);
}
