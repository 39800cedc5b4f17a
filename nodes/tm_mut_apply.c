/* tm_mut_apply: a plan (tm_plan) in the runtime and in one store batch,
 * all or nothing. */
#include "tm_mut.h"
#include "tm_mut_int.h"

#include "tm_err.h"
#include "tm_persist.h"
#include "tm_time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A killed actor, enough to spawn it again exactly. */
typedef struct {
    const char *id;
    const tm_model_t *model;
    uint32_t period;
    double *v; /* params, held, state, outputs */
} s_snap_t;

/* A proxy made for a link from another node's actor; `was`: the model
 * of the proxy it replaced (made for another model), or NULL. */
typedef struct {
    const char *id;
    const tm_model_t *was;
} s_proxy_t;

/* How far each step got, for undo. */
typedef struct {
    tm_mut_t *m;
    const tm_plan_t *plan;
    const tm_plan_node_t *nd;
    char *why;
    size_t unlinked, cut; /* of unlink, relink: removed */
    s_snap_t *snaps;      /* kills, then replaced actors */
    size_t n_snaps, killed;
    double *moved_state; /* per model change: the state before */
    size_t moved;
    size_t spawned, respawned;
    size_t set;
    size_t linked, relinked;
    s_proxy_t *proxies; /* made for links from other nodes' actors */
    size_t n_proxies;
} s_apply_t;

static const char *s_id(const s_apply_t *a, uint32_t actor)
{
    return a->plan->actors[actor].src->id;
}

static int s_link_fail(s_apply_t *a, int rc, const char *what,
                       const tm_plan_link_t *l)
{
    return tmi_mut_why(a->why, rc, "%s %s.%s -> %s.%s: %s; nothing was changed",
                       what, l->src, l->output, l->dst, l->input,
                       tm_err_str(rc));
}

/* ---- snapshots ---------------------------------------------------------- */

static size_t s_width(const tm_model_t *m)
{
    return (size_t)m->n_params + m->n_inputs + m->n_states + m->n_outputs;
}

static int s_snap(s_apply_t *a, const char *id, s_snap_t *s)
{
    tm_rt_actor_t v;
    if (tm_rt_get(a->m->rt, id, &v) != 0) {
        return tmi_mut_why(a->why, TM_ERR_UNKNOWN_ACTOR,
                           "unknown actor '%s'; nothing was changed", id);
    }
    const tm_model_t *m = v.model;
    s->id = id;
    s->model = m;
    s->period = v.period;
    s->v = malloc((s_width(m) + 1) * sizeof *s->v);
    if (s->v == NULL) {
        return tmi_mut_why(a->why, TM_ERR_NOMEM, "out of memory");
    }
    double *p = s->v;
    memcpy(p, v.params, m->n_params * sizeof *p);
    p += m->n_params;
    memcpy(p, v.held, m->n_inputs * sizeof *p);
    p += m->n_inputs;
    memcpy(p, v.state, m->n_states * sizeof *p);
    p += m->n_states;
    memcpy(p, v.outputs, m->n_outputs * sizeof *p);
    return 0;
}

static int s_unsnap(s_apply_t *a, const s_snap_t *s)
{
    const tm_model_t *m = s->model;
    tm_rt_spawn_opts_t o = {.params = s->v,
                            .held = s->v + m->n_params,
                            .state = s->v + m->n_params + m->n_inputs,
                            .outputs =
                                s->v + m->n_params + m->n_inputs + m->n_states,
                            .period = s->period};
    return tm_rt_spawn(a->m->rt, s->id, m, &o);
}

/* ---- the steps ---------------------------------------------------------- */

static int s_cut_links(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    tm_rt_t *rt = a->m->rt;
    for (; a->unlinked < nd->n_unlink; a->unlinked++) {
        const tm_plan_link_t *l = &nd->unlink[a->unlinked];
        int rc = tm_rt_unlink(rt, l->src, l->output, l->dst, l->input);
        if (rc != 0) {
            return s_link_fail(a, rc, "unlink", l);
        }
    }
    for (; a->cut < nd->n_relink; a->cut++) {
        const tm_plan_link_t *l = &nd->relink[a->cut];
        int rc = tm_rt_unlink(rt, l->src, l->output, l->dst, l->input);
        if (rc != 0) {
            return s_link_fail(a, rc, "unlink", l);
        }
    }
    return 0;
}

static int s_kill(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    size_t n = nd->n_kill + nd->n_replace;
    a->snaps = calloc(n + 1, sizeof *a->snaps);
    if (a->snaps == NULL) {
        return tmi_mut_why(a->why, TM_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = i < nd->n_kill
                             ? nd->kill[i]
                             : s_id(a, nd->replace[i - nd->n_kill].actor);
        int rc = s_snap(a, id, &a->snaps[i]);
        a->n_snaps += rc == 0 ? 1 : 0;
        if (rc != 0) {
            return rc;
        }
    }
    for (; a->killed < n; a->killed++) {
        int rc = tm_rt_kill(a->m->rt, a->snaps[a->killed].id);
        if (rc != 0) {
            return tmi_mut_why(a->why, rc, "kill %s: %s; nothing was changed",
                               a->snaps[a->killed].id, tm_err_str(rc));
        }
    }
    return 0;
}

static int s_move(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    a->moved_state =
        malloc((nd->n_model * TM_MODEL_MAX_VARS + 1) * sizeof(double));
    if (a->moved_state == NULL) {
        return tmi_mut_why(a->why, TM_ERR_NOMEM, "out of memory");
    }
    for (; a->moved < nd->n_model; a->moved++) {
        const tm_plan_model_t *mc = &nd->model[a->moved];
        const tm_plan_actor_t *pa = &a->plan->actors[mc->actor];
        tm_rt_actor_t v;
        int rc = tm_rt_get(a->m->rt, pa->src->id, &v);
        if (rc == 0) {
            memcpy(a->moved_state + a->moved * TM_MODEL_MAX_VARS, v.state,
                   v.model->n_states * sizeof(double));
            rc = tm_rt_set_model(a->m->rt, pa->src->id, pa->model);
        }
        if (rc != 0) {
            return tmi_mut_why(
                a->why, rc,
                "cannot move %s to %s@%s (%s): %s; nothing was "
                "changed",
                pa->src->id, pa->model->family, pa->model->version,
                tm_fidelity_name(pa->model->fidelity), tm_err_str(rc));
        }
    }
    return 0;
}

static int s_spawn_one(s_apply_t *a, uint32_t actor)
{
    const tm_plan_actor_t *pa = &a->plan->actors[actor];
    tm_rt_spawn_opts_t o = {.params = pa->params,
                            .held = pa->held,
                            .state = pa->state,
                            .outputs = pa->outputs,
                            .period = pa->period};
    int rc = tm_rt_spawn(a->m->rt, pa->src->id, pa->model, &o);
    if (rc != 0) {
        return tmi_mut_why(a->why, rc,
                           "cannot spawn '%s' (%s@%s): %s; nothing was "
                           "changed",
                           pa->src->id, pa->model->family, pa->model->version,
                           tm_err_str(rc));
    }
    return 0;
}

static int s_spawn(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    for (; a->spawned < nd->n_spawn; a->spawned++) {
        int rc = s_spawn_one(a, nd->spawn[a->spawned]);
        if (rc != 0) {
            return rc;
        }
    }
    for (; a->respawned < nd->n_replace; a->respawned++) {
        int rc = s_spawn_one(a, nd->replace[a->respawned].actor);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static const char *s_var_name(const tm_model_t *m, const tm_plan_set_t *s)
{
    switch (s->kind) {
    case TM_MUT_PARAM:
        return m->params[s->var].name;
    case TM_MUT_STATE:
        return m->states[s->var].name;
    default:
        return m->inputs[s->var].name;
    }
}

static int s_set(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    for (; a->set < nd->n_set; a->set++) {
        const tm_plan_set_t *s = &nd->set[a->set];
        const tm_plan_actor_t *pa = &a->plan->actors[s->actor];
        const char *name = s_var_name(pa->model, s);
        int rc = tm_rt_set(a->m->rt, pa->src->id, name, s->value);
        if (rc != 0) {
            return tmi_mut_why(a->why, rc,
                               "set %s.%s = %.17g: %s; nothing was changed",
                               pa->src->id, name, s->value, tm_err_str(rc));
        }
    }
    return 0;
}

/* The proxy a link from another node's actor reads: made when missing,
 * made again when it has another model's outputs (every link from it was
 * removed by the plan then). */
static int s_proxy(s_apply_t *a, const tm_plan_link_t *l)
{
    tm_rt_t *rt = a->m->rt;
    tm_rt_actor_t v;
    const tm_model_t *was = NULL;
    if (l->remote == NULL) {
        return 0;
    }
    if (tm_rt_get(rt, l->src, &v) == 0) {
        if (!v.remote || tm_plan_same_outputs(v.model, l->remote)) {
            return 0;
        }
        was = v.model;
        tm_rt_kill(rt, l->src);
    }
    int rc = tm_rt_spawn_remote(rt, l->src, l->remote);
    if (rc != 0) {
        if (was != NULL) {
            tm_rt_spawn_remote(rt, l->src, was);
        }
        return tmi_mut_why(a->why, rc,
                           "cannot read %s (on another node) through a "
                           "proxy: %s; nothing was changed",
                           l->src, tm_err_str(rc));
    }
    a->proxies[a->n_proxies++] = (s_proxy_t){l->src, was};
    return 0;
}

static int s_link_one(s_apply_t *a, const tm_plan_link_t *l)
{
    int rc = s_proxy(a, l);
    if (rc == 0) {
        rc = tm_rt_link_delay(a->m->rt, l->src, l->output, l->dst, l->input,
                              l->delay);
        if (rc != 0) {
            rc = s_link_fail(a, rc, "link", l);
        }
    }
    return rc;
}

static int s_link(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    a->proxies = calloc(nd->n_link + nd->n_relink + 1, sizeof *a->proxies);
    if (a->proxies == NULL) {
        return tmi_mut_why(a->why, TM_ERR_NOMEM, "out of memory");
    }
    for (; a->linked < nd->n_link; a->linked++) {
        int rc = s_link_one(a, &nd->link[a->linked]);
        if (rc != 0) {
            return rc;
        }
    }
    for (; a->relinked < nd->n_relink; a->relinked++) {
        int rc = s_link_one(a, &nd->relink[a->relinked]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- undo --------------------------------------------------------------- */

static void s_undo_links(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    tm_rt_t *rt = a->m->rt;
    while (a->relinked > 0) {
        const tm_plan_link_t *l = &nd->relink[--a->relinked];
        tm_rt_unlink(rt, l->src, l->output, l->dst, l->input);
    }
    while (a->linked > 0) {
        const tm_plan_link_t *l = &nd->link[--a->linked];
        tm_rt_unlink(rt, l->src, l->output, l->dst, l->input);
    }
}

/* Proxies made go; one made again for another model is made with its old
 * model (its outputs come again with the next values of its node). */
static void s_undo_proxies(s_apply_t *a)
{
    tm_rt_t *rt = a->m->rt;
    while (a->n_proxies > 0) {
        const s_proxy_t *p = &a->proxies[--a->n_proxies];
        tm_rt_kill(rt, p->id);
        if (p->was != NULL) {
            tm_rt_spawn_remote(rt, p->id, p->was);
        }
    }
}

static void s_undo_actors(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    tm_rt_t *rt = a->m->rt;
    s_undo_proxies(a);
    while (a->set > 0) {
        const tm_plan_set_t *s = &nd->set[--a->set];
        const tm_plan_actor_t *pa = &a->plan->actors[s->actor];
        if (!isnan(s->old)) {
            tm_rt_set(rt, pa->src->id, s_var_name(pa->model, s), s->old);
        }
    }
    while (a->respawned > 0) {
        tm_rt_kill(rt, s_id(a, nd->replace[--a->respawned].actor));
    }
    while (a->spawned > 0) {
        tm_rt_kill(rt, s_id(a, nd->spawn[--a->spawned]));
    }
    while (a->moved > 0) {
        const tm_plan_model_t *mc = &nd->model[--a->moved];
        tmi_mut_restore_model(a->m, s_id(a, mc->actor), mc->was,
                              a->moved_state + a->moved * TM_MODEL_MAX_VARS);
    }
    while (a->killed > 0) {
        s_unsnap(a, &a->snaps[--a->killed]);
    }
    while (a->cut > 0) {
        const tm_plan_link_t *l = &nd->relink[--a->cut];
        tm_rt_link_delay(rt, l->src, l->output, l->dst, l->input, l->delay);
    }
    while (a->unlinked > 0) {
        const tm_plan_link_t *l = &nd->unlink[--a->unlinked];
        tm_rt_link_delay(rt, l->src, l->output, l->dst, l->input, l->delay);
    }
}

/* ---- the batch ---------------------------------------------------------- */

/* Stored links that name a new actor and are not the plan's: left by an
 * earlier actor of that id that was not restored (see tm_mut_spawn). */
typedef struct {
    const char **ids; /* sorted ids of the new actors */
    size_t n;
    tm_store_batch_t *b;
    int rc;
} s_stale_t;

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool s_new_id(const s_stale_t *st, const char *id)
{
    return st->n > 0 &&
           bsearch(&id, st->ids, st->n, sizeof *st->ids, s_str_cmp) != NULL;
}

static int s_stale_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_stale_t *st = arg;
    tm_persist_link_key_t k;
    (void)val;
    (void)vlen;
    if (tm_persist_link_key_parse(key, klen, &k) != 0) {
        return 0;
    }
    if (s_new_id(st, k.src) || s_new_id(st, k.dst)) {
        st->rc = tm_store_batch_del(st->b, TM_DB_LINKS, key, klen);
        return st->rc != 0;
    }
    return 0;
}

static int s_del_stale(s_apply_t *a, tm_store_batch_t *b)
{
    const tm_plan_node_t *nd = a->nd;
    s_stale_t st = {NULL, 0, b, 0};
    if (nd->n_spawn == 0) {
        return 0;
    }
    st.ids = malloc(nd->n_spawn * sizeof *st.ids);
    if (st.ids == NULL) {
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < nd->n_spawn; i++) {
        st.ids[st.n++] = s_id(a, nd->spawn[i]);
    }
    qsort(st.ids, st.n, sizeof *st.ids, s_str_cmp);
    int rc = tm_store_foreach(a->m->store, TM_DB_LINKS, s_stale_cb, &st);
    free(st.ids);
    return rc == 1 ? st.rc : rc;
}

/* The values set on one actor (consecutive in the plan) patched into its
 * stored record; from *i, which moves past them. */
static int s_patch(s_apply_t *a, tm_store_batch_t *b, size_t *i)
{
    const tm_plan_node_t *nd = a->nd;
    const char *names[3 * TM_MODEL_MAX_VARS];
    double values[3 * TM_MODEL_MAX_VARS];
    uint32_t actor = nd->set[*i].actor;
    const tm_plan_actor_t *pa = &a->plan->actors[actor];
    size_t n = 0;
    for (; *i < nd->n_set && nd->set[*i].actor == actor; (*i)++) {
        names[n] = s_var_name(pa->model, &nd->set[*i]);
        values[n++] = nd->set[*i].value;
    }
    int rc = tm_persist_patch(a->m->store, b, pa->src->id, pa->model, names,
                              values, n);
    return rc == TM_ERR_NOT_FOUND ? tmi_mut_put_current(a->m, b, pa->src->id)
                                  : rc;
}

static int s_records(s_apply_t *a, tm_store_batch_t *b)
{
    const tm_plan_node_t *nd = a->nd;
    tm_mut_t *m = a->m;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nd->n_unlink; i++) {
        const tm_plan_link_t *l = &nd->unlink[i];
        tm_rt_link_t rl = {l->src, l->output, l->dst, l->input, l->delay};
        rc = tm_persist_del_link(b, &rl);
    }
    for (size_t i = 0; rc == 0 && i < nd->n_kill; i++) {
        rc = tm_persist_del_actor(b, nd->kill[i]);
    }
    for (size_t i = 0; rc == 0 && i < nd->n_spawn; i++) {
        rc = tmi_mut_put_current(m, b, s_id(a, nd->spawn[i]));
    }
    for (size_t i = 0; rc == 0 && i < nd->n_replace; i++) {
        rc = tmi_mut_put_current(m, b, s_id(a, nd->replace[i].actor));
    }
    for (size_t i = 0; rc == 0 && i < nd->n_model; i++) {
        rc = tmi_mut_put_current(m, b, s_id(a, nd->model[i].actor));
    }
    uint8_t *moved = calloc(a->plan->n_actors + 1, 1);
    rc = moved == NULL ? TM_ERR_NOMEM : rc;
    for (size_t i = 0; rc == 0 && i < nd->n_model; i++) {
        moved[nd->model[i].actor] = 1;
    }
    for (size_t i = 0; rc == 0 && i < nd->n_set;) {
        if (moved[nd->set[i].actor]) {
            i++; /* its whole record is put */
            continue;
        }
        rc = s_patch(a, b, &i);
    }
    free(moved);
    if (rc == 0) {
        rc = s_del_stale(a, b); /* before the puts of the new links */
    }
    for (size_t i = 0; rc == 0 && i < nd->n_link; i++) {
        const tm_plan_link_t *l = &nd->link[i];
        tm_rt_link_t rl = {l->src, l->output, l->dst, l->input, l->delay};
        /* a remote source's record names its model: a restart makes the
         * proxy again */
        rc = l->remote != NULL ? tm_persist_put_remote_link(b, &rl, l->remote)
                               : tm_persist_put_link(b, &rl);
    }
    return rc;
}

/* Refuse, before anything changes, a plan whose new actors would take
 * more memory than the node has (as spawn-many does). */
static int s_check_memory(tm_mut_t *m, const tm_plan_t *plan,
                          const tm_plan_node_t *nd, char *why)
{
    uint64_t need = 0;
    for (size_t i = 0; i < nd->n_spawn; i++) {
        need += tmi_mut_actor_bytes(plan->actors[nd->spawn[i]].model);
    }
    uint64_t avail = tmi_mut_mem_available(m);
    if (avail == 0 || need <= avail) {
        return 0;
    }
    return tmi_mut_why(why, TM_ERR_NOMEM,
                       "%zu new actors need about %.1f MiB, and the node has "
                       "%.1f MiB available; nothing was changed",
                       nd->n_spawn, (double)need / 1048576.0,
                       (double)avail / 1048576.0);
}

/* Refuse new actors whose id another node of the mesh has: actors do not
 * move between nodes, and two copies would be an id conflict. */
static int s_check_elsewhere(tm_mut_t *m, const tm_plan_t *plan,
                             const tm_plan_node_t *nd, char *why)
{
    char where[TM_PLANT_FILE_MAX + 48];
    for (size_t i = 0; m->remote != NULL && i < nd->n_spawn; i++) {
        const tm_plant_actor_t *a = plan->actors[nd->spawn[i]].src;
        const tm_model_t *model = NULL;
        const char *owner = m->remote(m->mesh, a->id, &model);
        if (owner != NULL) {
            tm_plant_where(plan->plant, a->pos[TM_PLANT_F_ID], where,
                           sizeof where);
            return tmi_mut_why(
                why, TM_ERR_EXISTS,
                "%sactors[%zu].id: actor '%s' already exists on node %s, and "
                "the plant places it on node %s: apply does not move actors "
                "between nodes (apply the file without it, then with it)",
                where, (size_t)a->index, a->id, owner, nd->node);
        }
    }
    return 0;
}

/* A reference (an actor of another node that links here read) must run
 * where the plant says, as far as the directory here knows. */
static int s_check_references(tm_mut_t *m, const tm_plan_t *plan, char *why)
{
    char where[TM_PLANT_FILE_MAX + 48];
    for (size_t i = 0; m->remote != NULL && i < plan->n_actors; i++) {
        const tm_plant_actor_t *a = plan->actors[i].src;
        const tm_model_t *model = NULL;
        if (!plan->actors[i].foreign) {
            continue;
        }
        const char *owner = m->remote(m->mesh, a->id, &model);
        if (owner != NULL && strcmp(owner, a->node) != 0) {
            tm_plant_where(plan->plant, a->pos[TM_PLANT_F_ID], where,
                           sizeof where);
            return tmi_mut_why(
                why, TM_ERR_EXISTS,
                "%sactors[%u]: actor '%s' runs on node %s, and the plant "
                "places it on node %s: apply does not move actors between "
                "nodes (apply the file without it, then with it)",
                where, a->index, a->id, owner, a->node);
        }
    }
    return 0;
}

int tm_mut_apply_check(tm_mut_t *m, const tm_plan_t *plan, char *why)
{
    if (plan->n_nodes != 1) {
        return tmi_mut_why(why, TM_ERR_INVAL, "a plan for %zu nodes",
                           plan->n_nodes);
    }
    int rc = s_check_memory(m, plan, &plan->nodes[0], why);
    if (rc == 0) {
        rc = s_check_elsewhere(m, plan, &plan->nodes[0], why);
    }
    if (rc == 0) {
        rc = s_check_references(m, plan, why);
    }
    return rc;
}

/* The runtime steps, in order; each records how far it got. */
static int s_steps(s_apply_t *a)
{
    int rc = tm_mut_apply_check(a->m, a->plan, a->why);
    if (rc == 0) {
        rc = s_cut_links(a);
    }
    if (rc == 0) {
        rc = s_kill(a);
    }
    if (rc == 0) {
        rc = s_move(a);
    }
    if (rc == 0) {
        rc = s_spawn(a);
    }
    if (rc == 0) {
        rc = s_set(a);
    }
    if (rc == 0) {
        rc = s_link(a);
    }
    return rc;
}

static void s_free(s_apply_t *a)
{
    for (size_t i = 0; i < a->n_snaps; i++) {
        free(a->snaps[i].v);
    }
    free(a->snaps);
    free(a->moved_state);
    free(a->proxies);
}

/* ---- after the commit ----------------------------------------------------
 * The mesh learns what changed (its directory, its subscriptions), and
 * proxies that no link reads any more go. */

static void s_tell(tm_mut_t *m, tm_mut_event_t ev, const char *id,
                   const tm_model_t *model)
{
    if (m->observer != NULL) {
        m->observer(m->mesh, ev, id, model);
    }
}

static int s_any_link(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    *(bool *)arg = true;
    return 1;
}

static void s_after(s_apply_t *a)
{
    const tm_plan_node_t *nd = a->nd;
    tm_mut_t *m = a->m;
    tm_rt_actor_t v;
    for (size_t i = 0; i < nd->n_kill; i++) {
        s_tell(m, TM_MUT_REMOVED, nd->kill[i], NULL);
    }
    for (size_t i = 0; i < nd->n_spawn; i++) {
        s_tell(m, TM_MUT_ADDED, s_id(a, nd->spawn[i]),
               a->plan->actors[nd->spawn[i]].model);
    }
    for (size_t i = 0; i < nd->n_replace; i++) {
        uint32_t k = nd->replace[i].actor;
        s_tell(m, TM_MUT_ADDED, s_id(a, k), a->plan->actors[k].model);
    }
    for (size_t i = 0; i < nd->n_model; i++) {
        uint32_t k = nd->model[i].actor;
        s_tell(m, TM_MUT_ADDED, s_id(a, k), a->plan->actors[k].model);
    }
    for (size_t i = 0; i < a->n_proxies; i++) {
        if (tm_rt_get(m->rt, a->proxies[i].id, &v) == 0) {
            s_tell(m, TM_MUT_PROXY, a->proxies[i].id, v.model);
        }
    }
    for (size_t i = 0; i < nd->n_unlink; i++) {
        const char *src = nd->unlink[i].src;
        bool linked = false;
        if (tm_rt_get(m->rt, src, &v) != 0 || !v.remote) {
            continue;
        }
        tm_rt_foreach_link_of(m->rt, src, s_any_link, &linked);
        if (!linked) {
            tm_rt_kill(m->rt, src);
            s_tell(m, TM_MUT_PROXY, src, NULL);
        }
    }
}

/* One audit record for the whole plan: the file and what it changed. */
static int s_audit(tm_mut_t *m, const tm_plan_t *plan, tm_store_batch_t *b)
{
    tm_plan_counts_t c;
    char sum[256];
    char reason[TM_AUDIT_REASON_MAX + 1];
    tm_plan_counts(plan, &c);
    snprintf(reason, sizeof reason, "plant %s: %s%s%.300s",
             plan->plant != NULL ? plan->plant->file : "?",
             tm_plan_summary(&c, sum, sizeof sum),
             plan->placed != NULL ? "; placed: " : "",
             plan->placed != NULL ? plan->placed : "");
    return tmi_mut_audit(m, b, "apply", NULL, NULL, NULL, reason);
}

int tm_mut_apply(tm_mut_t *m, const tm_plan_t *plan, tm_mut_timing_t *timing,
                 char *why)
{
    double t0 = tm_time_now();
    tm_store_batch_t *b = NULL;
    s_apply_t a;
    memset(&a, 0, sizeof a);
    a.m = m;
    a.plan = plan;
    a.why = why;
    if (plan->n_nodes != 1) {
        return tmi_mut_why(why, TM_ERR_INVAL, "a plan for %zu nodes",
                           plan->n_nodes);
    }
    a.nd = &plan->nodes[0];
    int rc = s_steps(&a);
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
        if (rc == 0 && m->barrier != NULL) {
            m->barrier(m->arg); /* patches read the stored records */
        }
        if (rc == 0) {
            rc = s_records(&a, b);
        }
        if (rc == 0) {
            rc = s_audit(m, plan, b);
        }
        double t1 = tm_time_now();
        if (rc == 0) {
            rc = tmi_mut_commit(m, b);
        }
        if (rc != 0) {
            tmi_mut_store_failed(m, why, rc);
        } else if (timing != NULL) {
            double t2 = tm_time_now();
            timing->elapsed_s = t2 - t0;
            timing->commit_s = t2 - t1;
        }
    }
    if (rc != 0) {
        s_undo_links(&a);
        s_undo_actors(&a);
    } else {
        s_after(&a);
    }
    tm_store_batch_destroy(&b);
    s_free(&a);
    return rc;
}
