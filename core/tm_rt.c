/* tm_rt: the actor runtime - groups in shards, actors, spawn, kill, set.
 *
 * Layout. An actor lives in a group: the actors of one shard that share a
 * model and a period. A group keeps structure-of-arrays storage (state,
 * previous state, parameters, held inputs, inputs, a ring of past outputs,
 * health), so one model call steps the whole group. The actor table keeps
 * the cold metadata (id, hash, group, slot, links, window) and an index
 * maps ids to it.
 *
 * The other files of the runtime: tm_rt_step.c (the step of a group,
 * workers, faults), tm_rt_link.c (links, their adjacency lists and the
 * gather plan they resolve into), tm_rt_hist.c (rings of past outputs,
 * windows, import and export), tm_rt_digest.c (the digest); tm_rt_int.h
 * holds the layout they share.
 *
 * Proxies. A proxy of a remote actor lives in a group of its own kind
 * (remote, period 1) that belongs to no worker, so it is never stepped; the
 * gather plan treats it as any source, and tm_rt_hist.c fills its outputs.
 */
#include "tm_rt_int.h"

#include "tm_err.h"
#include "tm_text.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* ---- helpers ------------------------------------------------------------ */

int tmi_rt_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        ncap += ncap / 2 + 16;
    }
    void *np = realloc(*p, ncap * elem);
    if (np == NULL) {
        return TM_ERR_NOMEM;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

bool tm_rt_id_valid(const char *id)
{
    return tm_text_id_valid(id);
}

/* ---- actor table ---------------------------------------------------- */

static int s_actor_eq(uint32_t handle, const void *key, void *arg)
{
    const tm_rt_t *rt = arg;
    return strcmp(rt->actors[handle].id, key) == 0;
}

uint32_t tmi_rt_actor_find(const tm_rt_t *rt, const char *id)
{
    if (id == NULL) {
        return TMI_RT_NONE;
    }
    return tm_index_find(&rt->actor_ix, tm_hash64(id, strlen(id)), id,
                         s_actor_eq, (void *)rt);
}

/* ---- groups ------------------------------------------------------------- */

static bool s_has_measured(const tm_model_t *m)
{
    for (uint32_t j = 0; j < m->n_inputs; j++) {
        if (m->inputs[j].flags & TM_VAR_MEASURED) {
            return true;
        }
    }
    return false;
}

static void s_group_free(tmi_rt_group_t *g)
{
    if (g == NULL) {
        return;
    }
    free(g->state);
    free(g->prev);
    free(g->params);
    free(g->held);
    free(g->in);
    free(g->feed);
    tmi_rt_ring_free(g);
    free(g->status);
    free(g->nlink);
    free(g->faults);
    free(g->last_fault);
    free(g->keys);
    free(g->actor);
    free(g->gather);
    free(g);
}

static int s_realloc_array(void **p, size_t count, size_t elem)
{
    if (count == 0) {
        count = 1;
    }
    void *np = realloc(*p, count * elem);
    if (np == NULL) {
        return TM_ERR_NOMEM;
    }
    *p = np;
    return 0;
}

static int s_group_reserve(tmi_rt_group_t *g, size_t need)
{
    if (need <= g->cap) {
        return 0;
    }
    size_t cap = g->cap ? g->cap : 8;
    while (cap < need) {
        cap += cap / 2 + 8;
    }
    const size_t d = sizeof(double);
    int rc = 0;
    rc |= s_realloc_array((void **)&g->state, cap * g->ns, d);
    rc |= s_realloc_array((void **)&g->prev, cap * g->ns, d);
    rc |= s_realloc_array((void **)&g->params, cap * g->np, d);
    rc |= s_realloc_array((void **)&g->held, cap * g->ni, d);
    rc |= s_realloc_array((void **)&g->in, cap * g->ni, d);
    if (s_has_measured(g->model)) {
        rc |= s_realloc_array((void **)&g->feed, cap * g->ni, d);
    }
    rc |= tmi_rt_ring_reserve(g, cap);
    rc |= s_realloc_array((void **)&g->status, cap, 1);
    rc |= s_realloc_array((void **)&g->nlink, cap * g->ni, sizeof(uint16_t));
    rc |= s_realloc_array((void **)&g->faults, cap, sizeof(uint32_t));
    rc |= s_realloc_array((void **)&g->last_fault, cap, sizeof(uint64_t));
    rc |= s_realloc_array((void **)&g->keys, cap, sizeof(uint64_t));
    rc |= s_realloc_array((void **)&g->actor, cap, sizeof(uint32_t));
    if (rc != 0) {
        /* Arrays that grew keep their old contents; cap stays the smallest
         * guaranteed size, so the group remains consistent. */
        return TM_ERR_NOMEM;
    }
    g->cap = cap;
    return 0;
}

/* The group of (model, period, shard, remote, frozen), made if needed.
 * Groups of proxies join no worker. */
static int s_group_get(tm_rt_t *rt, const tm_model_t *model, uint32_t period,
                       unsigned shard, bool remote, bool frozen, uint32_t *out)
{
    size_t hole = SIZE_MAX;
    for (size_t i = 0; i < rt->n_groups; i++) {
        tmi_rt_group_t *g = rt->groups[i];
        if (g == NULL) {
            hole = hole == SIZE_MAX ? i : hole;
        } else if (g->model == model && g->period == period &&
                   g->shard == shard && g->remote == remote &&
                   g->frozen == frozen) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    tmi_rt_worker_t *w = &rt->workers[shard];
    if (hole == SIZE_MAX) {
        tmi_rt_group_t **groups =
            realloc(rt->groups, (rt->n_groups + 1) * sizeof *groups);
        if (groups == NULL) {
            return TM_ERR_NOMEM;
        }
        rt->groups = groups;
        hole = rt->n_groups;
    }
    if (!remote) {
        tmi_rt_group_t **wg =
            realloc(w->groups, (w->n_groups + 1) * sizeof *wg);
        if (wg == NULL) {
            return TM_ERR_NOMEM;
        }
        w->groups = wg;
    }
    tmi_rt_group_t *g = calloc(1, sizeof *g);
    if (g == NULL || tmi_rt_ring_init(g) != 0) {
        free(g);
        return TM_ERR_NOMEM;
    }
    g->model = model;
    g->period = period;
    g->shard = shard;
    g->remote = remote;
    g->frozen = frozen;
    g->ns = model->n_states;
    g->ni = model->n_inputs;
    g->no = model->n_outputs;
    g->np = model->n_params;
    rt->groups[hole] = g;
    if (!remote) {
        w->groups[w->n_groups++] = g;
    }
    if (hole == rt->n_groups) {
        rt->n_groups++;
    }
    *out = (uint32_t)hole;
    return 0;
}

/* Free group gi if it has no actor left. Gather arrays that point into it
 * are stale until the plan is rebuilt, which happens before the next tick
 * (plan_dirty); the worker's step order does not matter (Jacobi). */
static void s_group_drop_if_empty(tm_rt_t *rt, uint32_t gi)
{
    tmi_rt_group_t *g = rt->groups[gi];
    if (g->n > 0) {
        return;
    }
    tmi_rt_worker_t *w = &rt->workers[g->shard];
    for (size_t i = 0; !g->remote && i < w->n_groups; i++) {
        if (w->groups[i] == g) {
            w->groups[i] = w->groups[--w->n_groups];
            break;
        }
    }
    rt->groups[gi] = NULL;
    s_group_free(g);
    rt->plan_dirty = 1;
}

/* Copy slot `from` of group g over slot `to` (same group). */
static void s_group_move(tmi_rt_group_t *g, size_t to, size_t from)
{
    const size_t d = sizeof(double);
    memcpy(g->state + to * g->ns, g->state + from * g->ns, g->ns * d);
    memcpy(g->prev + to * g->ns, g->prev + from * g->ns, g->ns * d);
    memcpy(g->params + to * g->np, g->params + from * g->np, g->np * d);
    memcpy(g->held + to * g->ni, g->held + from * g->ni, g->ni * d);
    memcpy(g->in + to * g->ni, g->in + from * g->ni, g->ni * d);
    if (g->feed != NULL) {
        memcpy(g->feed + to * g->ni, g->feed + from * g->ni, g->ni * d);
    }
    for (uint32_t j = 0; j < g->depth; j++) {
        memcpy(g->out[j] + to * g->no, g->out[j] + from * g->no, g->no * d);
    }
    memcpy(g->nlink + to * g->ni, g->nlink + from * g->ni,
           g->ni * sizeof(uint16_t));
    g->status[to] = g->status[from];
    g->faults[to] = g->faults[from];
    g->last_fault[to] = g->last_fault[from];
    g->keys[to] = g->keys[from];
    g->actor[to] = g->actor[from];
}

/* Remove slot s from group gi, moving the last slot into the hole; an
 * emptied group is freed. */
static void s_group_remove(tm_rt_t *rt, uint32_t gi, size_t s)
{
    tmi_rt_group_t *g = rt->groups[gi];
    size_t last = g->n - 1;
    if (s != last) {
        s_group_move(g, s, last);
        rt->actors[g->actor[s]].slot = (uint32_t)s;
    }
    g->n--;
    rt->plan_dirty = 1;
    s_group_drop_if_empty(rt, gi);
}

/* ---- open / destroy ----------------------------------------------------- */

int tm_rt_open(tm_rt_t **out, const tm_rt_config_t *config)
{
    *out = NULL;
    if (config == NULL || !(config->h > 0.0) || !isfinite(config->h) ||
        config->workers > TMI_RT_MAX_WORKERS) {
        return TM_ERR_INVAL;
    }
    if (sodium_init() < 0) {
        return TM_ERR_INTERNAL;
    }
    tm_rt_t *rt = calloc(1, sizeof *rt);
    if (rt == NULL) {
        return TM_ERR_NOMEM;
    }
    int rc = 0;
    rt->h = config->h;
    rt->seed = config->seed;
    rt->tick = config->tick;
    rt->inline_actors = config->inline_actors;
    rt->inline_ns = config->inline_ns > 0 ? config->inline_ns : 0;
    rt->free_actor = TMI_RT_NONE;
    tm_index_init(&rt->actor_ix);
    tm_index_init(&rt->link_ix);
    unsigned w = config->workers;
    if (w == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        w = cores < 1 ? 1u
                      : (cores > (long)TMI_RT_MAX_WORKERS ? TMI_RT_MAX_WORKERS
                                                          : (unsigned)cores);
    }
    rt->zctx = zmq_ctx_new();
    rt->workers = calloc(w, sizeof *rt->workers);
    if (rt->zctx == NULL || rt->workers == NULL) {
        rc = rt->zctx == NULL ? TM_ERR_IO : TM_ERR_NOMEM;
        goto done;
    }
    for (unsigned i = 0; i < w; i++) {
        rt->n_workers = i + 1;
        rc = tmi_rt_worker_start(rt, i);
        if (rc != 0) {
            goto done;
        }
    }
    *out = rt;
done:
    if (rc != 0) {
        tm_rt_destroy(&rt);
    }
    return rc;
}

void tm_rt_destroy(tm_rt_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_rt_t *rt = *p;
    if (rt->workers != NULL) {
        tmi_rt_workers_stop(rt);
        free(rt->workers);
    }
    if (rt->zctx != NULL) {
        zmq_ctx_term(rt->zctx);
    }
    for (size_t i = 0; i < rt->n_groups; i++) {
        s_group_free(rt->groups[i]);
    }
    free(rt->groups);
    free(rt->actors);
    free(rt->links);
    free(rt->adj);
    free(rt->faults);
    free(rt->sups);
    free(rt->faulted);
    free(rt->events);
    free(rt->trials);
    tm_index_free(&rt->actor_ix);
    tm_index_free(&rt->link_ix);
    free(rt);
    *p = NULL;
}

/* ---- spawn / kill ------------------------------------------------------- */

static int s_check_values(const tm_var_t *vars, uint32_t n, const double *v)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || v[i] < vars[i].min || v[i] > vars[i].max) {
            return TM_ERR_BAD_VALUE;
        }
    }
    return 0;
}

bool tmi_rt_all_finite(const double *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return false;
        }
    }
    return true;
}

static void s_defaults(const tm_var_t *vars, uint32_t n, double *out)
{
    for (uint32_t i = 0; i < n; i++) {
        out[i] = vars[i].def;
    }
}

/* Place actor handle a (id already set) into group gi with the given
 * state, params, held inputs, last inputs (NULL: zero), link counts (NULL:
 * none) and outputs of the current tick. */
static int s_place_actor(tm_rt_t *rt, uint32_t a, uint32_t gi,
                         const double *state, const double *params,
                         const double *held, const double *in,
                         const uint16_t *nlink, const double *outputs)
{
    tmi_rt_group_t *g = rt->groups[gi];
    int rc = s_group_reserve(g, g->n + 1);
    if (rc != 0) {
        return rc;
    }
    size_t s = g->n;
    const size_t d = sizeof(double);
    memcpy(g->state + s * g->ns, state, g->ns * d);
    memcpy(g->prev + s * g->ns, state, g->ns * d);
    memcpy(g->params + s * g->np, params, g->np * d);
    memcpy(g->held + s * g->ni, held, g->ni * d);
    if (in != NULL) {
        memcpy(g->in + s * g->ni, in, g->ni * d);
    } else {
        memset(g->in + s * g->ni, 0, g->ni * d);
    }
    if (g->feed != NULL) {
        for (uint32_t j = 0; j < g->ni; j++) {
            g->feed[s * g->ni + j] = NAN;
        }
    }
    if (nlink != NULL) {
        memcpy(g->nlink + s * g->ni, nlink, g->ni * sizeof(uint16_t));
    } else {
        memset(g->nlink + s * g->ni, 0, g->ni * sizeof(uint16_t));
    }
    g->status[s] = TM_STEP_OK;
    g->faults[s] = 0;
    g->last_fault[s] = 0;
    g->keys[s] = rt->actors[a].hash;
    g->actor[s] = a;
    /* Every tick of the ring holds the spawn outputs: ticks before the
     * spawn read as the spawn outputs. */
    tmi_rt_ring_fill(g, s, outputs);
    g->n++;
    rt->actors[a].group = gi;
    rt->actors[a].slot = (uint32_t)s;
    rt->plan_dirty = 1;
    return 0;
}

/* The parameters, state, held inputs and outputs a spawn gives an actor
 * of model, from opts and the model's defaults; checked like a step's (a
 * non-finite output must never travel along a link). TM_ERR_BAD_VALUE. */
static int s_spawn_values(const tm_model_t *model,
                          const tm_rt_spawn_opts_t *opts, double *params,
                          double *state, double *held, double *outputs)
{
    if (opts->params != NULL) {
        memcpy(params, opts->params, model->n_params * sizeof(double));
    } else {
        s_defaults(model->params, model->n_params, params);
    }
    if (s_check_values(model->params, model->n_params, params) != 0) {
        return TM_ERR_BAD_VALUE;
    }
    if (opts->held != NULL) {
        memcpy(held, opts->held, model->n_inputs * sizeof(double));
        if (s_check_values(model->inputs, model->n_inputs, held) != 0) {
            return TM_ERR_BAD_VALUE;
        }
    } else {
        s_defaults(model->inputs, model->n_inputs, held);
    }
    if (opts->state != NULL) {
        memcpy(state, opts->state, model->n_states * sizeof(double));
    } else {
        s_defaults(model->states, model->n_states, state);
        if (model->init(params, state) != TM_STEP_OK) {
            return TM_ERR_BAD_VALUE;
        }
    }
    if (opts->outputs != NULL) {
        memcpy(outputs, opts->outputs, model->n_outputs * sizeof(double));
    } else {
        double zero[TM_MODEL_MAX_VARS] = {0};
        model->output(1, state, params, zero, outputs);
    }
    if (!tmi_rt_all_finite(state, model->n_states) ||
        !tmi_rt_all_finite(outputs, model->n_outputs)) {
        return TM_ERR_BAD_VALUE;
    }
    return 0;
}

/* Spawn an actor, or a proxy (remote: options ignored). */
static int s_spawn(tm_rt_t *rt, const char *id, const tm_model_t *model,
                   const tm_rt_spawn_opts_t *opts, bool remote)
{
    if (!tm_rt_id_valid(id)) {
        return TM_ERR_BAD_ID;
    }
    if (model == NULL || tm_model_check(model) != 0) {
        return TM_ERR_MODEL_ABI;
    }
    if (tmi_rt_actor_find(rt, id) != TMI_RT_NONE) {
        return TM_ERR_DUPLICATE_ACTOR;
    }
    tm_rt_spawn_opts_t none = {0};
    if (opts == NULL || remote) {
        opts = &none;
    }
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    double held[TM_MODEL_MAX_VARS];
    double outputs[TM_MODEL_MAX_VARS];
    int rc = s_spawn_values(model, opts, params, state, held, outputs);
    if (rc != 0) {
        return rc;
    }
    uint32_t period = opts->period == 0 ? 1 : opts->period;

    uint64_t hash = tm_hash64(id, strlen(id));
    uint32_t gi = 0;
    unsigned shard = remote ? 0 : (unsigned)(hash % rt->n_workers);
    rc = s_group_get(rt, model, period, shard, remote, false, &gi);
    if (rc != 0) {
        return rc;
    }
    uint32_t a = rt->free_actor;
    if (a == TMI_RT_NONE) {
        rc = tmi_rt_grow((void **)&rt->actors, &rt->cap_actors,
                         rt->n_actor_slots + 1, sizeof *rt->actors);
        if (rc != 0) {
            s_group_drop_if_empty(rt, gi);
            return rc;
        }
        a = (uint32_t)rt->n_actor_slots++;
    } else {
        rt->free_actor = rt->actors[a].slot;
    }
    tmi_rt_actor_t *ac = &rt->actors[a];
    snprintf(ac->id, sizeof ac->id, "%s", id);
    ac->hash = hash;
    ac->spawned = rt->tick;
    ac->head[TMI_RT_OUT] = TMI_RT_NONE;
    ac->head[TMI_RT_IN] = TMI_RT_NONE;
    ac->history = 1;
    ac->sup = TMI_RT_NONE;
    ac->remote_degraded = false;
    ac->imported = false;
    ac->epoch = opts->epoch;
    rc = tm_index_insert(&rt->actor_ix, hash, a);
    if (rc == 0) {
        rc = s_place_actor(rt, a, gi, state, params, held, NULL, NULL, outputs);
        if (rc != 0) {
            tm_index_remove(&rt->actor_ix, hash, a);
        }
    }
    if (rc != 0) {
        ac->group = TMI_RT_NONE;
        ac->slot = rt->free_actor;
        rt->free_actor = a;
        s_group_drop_if_empty(rt, gi);
        return rc;
    }
    if (remote) {
        rt->n_remote++;
    } else {
        rt->n_actors++;
    }
    return 0;
}

int tm_rt_spawn(tm_rt_t *rt, const char *id, const tm_model_t *model,
                const tm_rt_spawn_opts_t *opts)
{
    return s_spawn(rt, id, model, opts, false);
}

int tm_rt_spawn_remote(tm_rt_t *rt, const char *id, const tm_model_t *model)
{
    return s_spawn(rt, id, model, NULL, true);
}

int tm_rt_kill(tm_rt_t *rt, const char *id)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    /* O(degree): removals keep the heads current, and a link from the
     * actor to itself leaves both lists at once. The windows of the
     * sources of its incoming links follow; its own does not matter. */
    for (int dir = TMI_RT_OUT; dir <= TMI_RT_IN; dir++) {
        while (rt->actors[a].head[dir] != TMI_RT_NONE) {
            tmi_rt_link_remove_at(rt, rt->actors[a].head[dir],
                                  dir == TMI_RT_IN);
        }
    }
    tmi_rt_sup_drop(rt, a);
    if (rt->n_trials > 0) {
        tmi_rt_trial_drop(rt, a);
    }
    tmi_rt_actor_t *ac = &rt->actors[a];
    if (rt->groups[ac->group]->remote) {
        rt->n_remote--;
    } else {
        rt->n_actors--;
    }
    s_group_remove(rt, ac->group, ac->slot);
    tm_index_remove(&rt->actor_ix, ac->hash, a);
    ac->group = TMI_RT_NONE;
    ac->id[0] = '\0';
    ac->slot = rt->free_actor;
    rt->free_actor = a;
    rt->kills++;
    return 0;
}

uint32_t tm_rt_handle(const tm_rt_t *rt, const char *id)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    return a == TMI_RT_NONE ? TM_RT_NO_HANDLE : a;
}

uint64_t tm_rt_kills(const tm_rt_t *rt)
{
    return rt->kills;
}

/* ---- set / set_model ---------------------------------------------------- */

/* Outputs of slot s at the current tick from its state, parameters and
 * last inputs. TM_ERR_BAD_VALUE, outputs unchanged, if one is not finite. */
static int s_recompute_outputs(tmi_rt_group_t *g, size_t s)
{
    double y[TM_MODEL_MAX_VARS];
    g->model->output(1, g->state + s * g->ns, g->params + s * g->np,
                     g->in + s * g->ni, y);
    if (!tmi_rt_all_finite(y, g->no)) {
        return TM_ERR_BAD_VALUE;
    }
    memcpy(g->out[0] + s * g->no, y, g->no * sizeof(double));
    return 0;
}

int tm_rt_set(tm_rt_t *rt, const char *id, const char *name, double value)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    size_t s = rt->actors[a].slot;
    const tm_model_t *m = g->model;
    if (g->remote) {
        return TM_ERR_INVAL;
    }
    if (name == NULL) {
        return TM_ERR_UNKNOWN_PORT;
    }
    int i = tm_model_var_index(m->params, m->n_params, name);
    if (i >= 0) {
        if (s_check_values(&m->params[i], 1, &value) != 0) {
            return TM_ERR_BAD_VALUE;
        }
        double *p = &g->params[s * g->np + (size_t)i];
        double old = *p;
        *p = value;
        int rc = s_recompute_outputs(g, s);
        if (rc != 0) {
            *p = old;
        }
        return rc;
    }
    i = tm_model_var_index(m->states, m->n_states, name);
    if (i >= 0) {
        if (!isfinite(value)) {
            return TM_ERR_BAD_VALUE;
        }
        double *x = &g->state[s * g->ns + (size_t)i];
        double old = *x;
        *x = value;
        int rc = s_recompute_outputs(g, s);
        if (rc != 0) {
            *x = old;
        }
        return rc;
    }
    i = tm_model_var_index(m->inputs, m->n_inputs, name);
    if (i >= 0) {
        if (s_check_values(&m->inputs[i], 1, &value) != 0) {
            return TM_ERR_BAD_VALUE;
        }
        g->held[s * g->ni + (size_t)i] = value;
        return 0;
    }
    return TM_ERR_UNKNOWN_PORT;
}

/* The past outputs of a window of w ticks (the current tick excepted)
 * from slot os of group og to slot ns of group ng (same ports). */
static void s_copy_history(tmi_rt_group_t *ng, size_t ns,
                           const tmi_rt_group_t *og, size_t os, uint32_t w)
{
    for (uint32_t j = 1; j < w; j++) {
        memcpy(ng->out[j] + ns * ng->no, og->out[j] + os * og->no,
               og->no * sizeof(double));
    }
}

int tmi_rt_regroup(tm_rt_t *rt, uint32_t a, const tm_model_t *model,
                   bool frozen, const double *state_in)
{
    uint32_t ogi = rt->actors[a].group;
    size_t os = rt->actors[a].slot;
    tmi_rt_group_t *og = rt->groups[ogi];
    if (model == og->model && frozen == og->frozen && state_in == NULL) {
        return 0;
    }
    double state[TM_MODEL_MAX_VARS];
    double params[TM_MODEL_MAX_VARS];
    double hold[TM_MODEL_MAX_VARS];
    double in[TM_MODEL_MAX_VARS];
    uint16_t nlink[TM_MODEL_MAX_VARS];
    const size_t d = sizeof(double);
    memcpy(params, og->params + os * og->np, og->np * d);
    memcpy(hold, og->held + os * og->ni, og->ni * d);
    memcpy(in, og->in + os * og->ni, og->ni * d);
    memcpy(nlink, og->nlink + os * og->ni, og->ni * sizeof(uint16_t));
    if (state_in != NULL) {
        memcpy(state, state_in, model->n_states * d);
    } else if (tm_model_map_state(model, og->model, og->state + os * og->ns,
                                  params, state) != TM_STEP_OK) {
        return TM_ERR_MODEL_FAILED;
    }
    if (!tmi_rt_all_finite(state, model->n_states)) {
        return TM_ERR_MODEL_FAILED;
    }
    double outputs[TM_MODEL_MAX_VARS];
    model->output(1, state, params, in, outputs);
    if (!tmi_rt_all_finite(outputs, model->n_outputs)) {
        return TM_ERR_MODEL_FAILED;
    }
    uint8_t status = og->status[os];
    uint32_t faults = og->faults[os];
    uint64_t last_fault = og->last_fault[os];
    uint32_t ngi = 0;
    int rc = s_group_get(rt, model, og->period, og->shard, false, frozen, &ngi);
    if (rc != 0) {
        return rc;
    }
    uint32_t w = rt->actors[a].history;
    if (rt->groups[ngi]->depth < w + 1) {
        rc = tmi_rt_ring_resize(rt, rt->groups[ngi], w + 1);
    }
    /* Place first, then free the old slot (and maybe its group): on
     * failure the actor is still where it was. */
    if (rc == 0) {
        rc = s_place_actor(rt, a, ngi, state, params, hold, in, nlink, outputs);
    }
    if (rc != 0) {
        s_group_drop_if_empty(rt, ngi);
        return rc;
    }
    s_copy_history(rt->groups[ngi], rt->actors[a].slot, og, os, w);
    s_group_remove(rt, ogi, os);
    tmi_rt_group_t *ng = rt->groups[ngi];
    size_t ns = rt->actors[a].slot;
    ng->status[ns] = status;
    ng->faults[ns] = faults;
    ng->last_fault[ns] = last_fault;
    return 0;
}

int tm_rt_set_model(tm_rt_t *rt, const char *id, const tm_model_t *model)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *og = rt->groups[rt->actors[a].group];
    if (og->remote) {
        return TM_ERR_INVAL;
    }
    if (model == og->model) {
        return 0;
    }
    if (model == NULL || tm_model_check(model) != 0 ||
        tm_model_check_family(og->model, model) != 0) {
        return TM_ERR_INVAL;
    }
    return tmi_rt_regroup(rt, a, model, og->frozen, NULL);
}

/* ---- queries ------------------------------------------------------------ */

uint64_t tm_rt_tick(const tm_rt_t *rt)
{
    return rt->tick;
}

double tm_rt_h(const tm_rt_t *rt)
{
    return rt->h;
}

uint64_t tm_rt_seed(const tm_rt_t *rt)
{
    return rt->seed;
}

size_t tm_rt_count(const tm_rt_t *rt)
{
    return rt->n_actors;
}

static void s_view(const tm_rt_t *rt, uint32_t a, tm_rt_actor_t *v)
{
    const tmi_rt_actor_t *ac = &rt->actors[a];
    const tmi_rt_group_t *g = rt->groups[ac->group];
    size_t s = ac->slot;
    v->id = ac->id;
    v->model = g->model;
    v->period = g->period;
    v->shard = g->shard;
    v->state = g->state + s * g->ns;
    v->params = g->params + s * g->np;
    v->inputs = g->in + s * g->ni;
    v->held = g->held + s * g->ni;
    v->outputs = g->out[0] + s * g->no;
    v->history = ac->history;
    v->linked = g->nlink + s * g->ni;
    v->health.last_status = g->status[s];
    v->health.faults = g->faults[s];
    v->health.last_fault = g->last_fault[s];
    v->health.last_stepped = rt->tick - rt->tick % g->period;
    if (v->health.last_stepped < ac->spawned || g->remote) {
        v->health.last_stepped = ac->spawned;
    }
    v->step_ns = g->step_ns;
    v->remote = g->remote;
    v->epoch = ac->epoch;
    v->imported = ac->imported;
    tmi_rt_sup_view(rt, a, &v->sup);
}

int tm_rt_set_epoch(tm_rt_t *rt, const char *id, uint32_t epoch)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    rt->actors[a].epoch = epoch;
    return 0;
}

int tm_rt_feed(tm_rt_t *rt, const char *id, uint32_t input, double value)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    if (g->remote || g->feed == NULL || input >= g->ni ||
        !(g->model->inputs[input].flags & TM_VAR_MEASURED)) {
        return TM_ERR_UNKNOWN_PORT;
    }
    g->feed[(size_t)rt->actors[a].slot * g->ni + input] = value;
    return 0;
}

int tm_rt_get(tm_rt_t *rt, const char *id, tm_rt_actor_t *out)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    s_view(rt, a, out);
    return 0;
}

int tm_rt_foreach(tm_rt_t *rt, int (*cb)(const tm_rt_actor_t *, void *),
                  void *arg)
{
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        const tmi_rt_group_t *g = rt->groups[gi];
        if (g == NULL || g->remote) {
            continue;
        }
        for (size_t s = 0; s < g->n; s++) {
            tm_rt_actor_t v;
            s_view(rt, g->actor[s], &v);
            int rc = cb(&v, arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
