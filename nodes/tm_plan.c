/* tm_plan: a plant checked against the catalog and compared with the
 * running mesh; the running mesh as a plant. */
#include "tm_plan.h"

#include "tm_err.h"
#include "tm_index.h"
#include "tm_models.h"
#include "tm_mut.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The console checks delays without linking the runtime. */
_Static_assert(TM_PLANT_DELAY_MAX == TM_RT_DELAY_MAX,
               "plant files and the runtime disagree on the longest delay");

/* Working state of a build. */
typedef struct {
    tm_rt_t *rt;
    const tm_plant_t *p;
    tm_plan_t *plan;
    tm_plan_node_t *nd;
    char *why;
    tm_index_t ids;     /* plant actors by id */
    uint32_t *link_src; /* plan actor of each plant link's source */
    uint32_t *link_dst; /* ... and destination */
    uint32_t *fed;      /* per (actor, input): plant link + 1 */
    uint8_t *kept;      /* per plant link: in the mesh already */
    tm_index_t link_ix; /* plant links by their ends */
    size_t cap[8];      /* capacities of the node's lists (S_CAP_*) */
    int rc;
} s_build_t;

enum {
    S_CAP_SPAWN,
    S_CAP_REPLACE,
    S_CAP_MODEL,
    S_CAP_SET,
    S_CAP_KILL,
    S_CAP_LINK,
    S_CAP_UNLINK,
    S_CAP_RELINK
};

/* ---- helpers ------------------------------------------------------------ */

static int s_fail(s_build_t *b, int rc, tm_plant_pos_t pos, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

static int s_fail(s_build_t *b, int rc, tm_plant_pos_t pos, const char *fmt,
                  ...)
{
    char where[TM_PLANT_FILE_MAX + 48];
    tm_plant_where(b->p, pos, where, sizeof where);
    size_t off = (size_t)snprintf(b->why, TM_MUT_WHY_MAX, "%s", where);
    if (off < TM_MUT_WHY_MAX) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why + off, TM_MUT_WHY_MAX - off, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int s_nomem(s_build_t *b)
{
    snprintf(b->why, TM_MUT_WHY_MAX, "out of memory planning %s", b->p->file);
    return TM_ERR_NOMEM;
}

/* Append one element of `size` bytes to *v (n used, *cap). */
static void *s_push(void *v, size_t *n, size_t *cap, size_t size)
{
    void **vp = v;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        void *nv = realloc(*vp, c * size);
        if (nv == NULL) {
            return NULL;
        }
        *vp = nv;
        *cap = c;
    }
    return (char *)*vp + (*n)++ * size;
}

static bool s_same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int s_id_eq(uint32_t handle, const void *key, void *arg)
{
    const s_build_t *b = arg;
    return strcmp(b->p->actors[handle].id, key) == 0;
}

/* The plan actor of id, or -1. */
static long s_find(const s_build_t *b, const char *id)
{
    uint32_t i = tm_index_find(&b->ids, tm_hash64(id, strlen(id)), id, s_id_eq,
                               (void *)b);
    return i == TM_INDEX_NONE ? -1 : (long)i;
}

/* "a, b, c" of the catalog's families, or of one family's versions. */
static void s_catalog(const char *family, char *buf, size_t cap)
{
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (family != NULL && strcmp(all[i]->family, family) != 0) {
            continue;
        }
        const char *item = family != NULL ? all[i]->version : all[i]->family;
        char pat[96];
        snprintf(pat, sizeof pat, "%s, ", item);
        char probe[600];
        snprintf(probe, sizeof probe, "%s, ", buf);
        if (strstr(probe, pat) != NULL || off >= cap) {
            continue;
        }
        int w = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", item);
        off += w > 0 ? (size_t)w : 0;
    }
}

/* ---- actors against the catalog ---------------------------------------- */

/* Actor i runs here (no node, or this node; a site given must be this
 * node's), or on another node: a reference, the source of links into
 * this node's actors. */
static int s_placement(s_build_t *b, size_t i, const char *node,
                       const char *site)
{
    const tm_plant_actor_t *a = &b->p->actors[i];
    if (a->node != NULL && strcmp(a->node, node) != 0) {
        b->plan->actors[i].foreign = true;
        return 0;
    }
    if (a->site != NULL && strcmp(a->site, site) != 0) {
        return s_fail(b, TM_ERR_NOT_FOUND, a->pos[TM_PLANT_F_SITE],
                      "actors[%zu].site: site '%s' is not part of this mesh "
                      "(its node %s is at site '%s')",
                      (size_t)a->index, a->site, node, site);
    }
    return 0;
}

static int s_model(s_build_t *b, size_t i, const tm_model_t **m)
{
    const tm_plant_actor_t *a = &b->p->actors[i];
    char known[512];
    int rc = TM_ERR_UNKNOWN_FIDELITY;
    if (a->fidelity >= 0) {
        rc =
            tm_models_find(a->model, a->version, (tm_fidelity_t)a->fidelity, m);
    }
    for (int f = 0; a->fidelity < 0 && f < TM_FIDELITY_COUNT; f++) {
        rc = tm_models_find(a->model, a->version, (tm_fidelity_t)f, m);
        if (rc != TM_ERR_UNKNOWN_FIDELITY) {
            break;
        }
    }
    if (rc == TM_ERR_UNKNOWN_MODEL) {
        s_catalog(NULL, known, sizeof known);
        return s_fail(b, rc, a->pos[TM_PLANT_F_MODEL],
                      "actors[%zu].model: unknown model family '%s' (known: "
                      "%s)",
                      (size_t)a->index, a->model, known);
    }
    if (rc == TM_ERR_UNKNOWN_VERSION) {
        s_catalog(a->model, known, sizeof known);
        return s_fail(b, rc, a->pos[TM_PLANT_F_VERSION],
                      "actors[%zu].version: unknown version %s of model %s "
                      "(known versions: %s)",
                      (size_t)a->index, a->version, a->model, known);
    }
    if (rc == TM_ERR_UNKNOWN_FIDELITY) {
        return s_fail(
            b, rc,
            a->pos[a->fidelity >= 0 ? TM_PLANT_F_FIDELITY : TM_PLANT_F_MODEL],
            "actors[%zu].fidelity: model %s%s%s has no %s tier",
            (size_t)a->index, a->model, a->version ? "@" : "",
            a->version ? a->version : "",
            a->fidelity >= 0 ? tm_fidelity_name((tm_fidelity_t)a->fidelity)
                             : "usable");
    }
    if (rc != 0) {
        return s_fail(b, rc, a->pos[TM_PLANT_F_MODEL], "actors[%zu].model: %s",
                      (size_t)a->index, tm_err_str(rc));
    }
    return 0;
}

/* The plant's values of one kind over dst (vars of the model), each
 * named and, for parameters and inputs, within its range. */
static int s_overlay(s_build_t *b, size_t i, tm_plant_set_t set,
                     const tm_var_t *vars, uint32_t nvars, double *dst)
{
    static const char *const what[] = {"parameter", "input", "state", "output"};
    const tm_plant_actor_t *a = &b->p->actors[i];
    const tm_model_t *m = b->plan->actors[i].model;
    char names[512];
    uint32_t n = 0;
    const tm_plant_value_t *v = tm_plant_values(b->p, a, set, &n);
    for (uint32_t j = 0; j < n; j++) {
        int k = tm_model_var_index(vars, nvars, v[j].name);
        if (k < 0) {
            return s_fail(b, TM_ERR_UNKNOWN_PORT, v[j].pos,
                          "actors[%zu].%s.%s: model %s@%s has no %s '%s' "
                          "(%ss: %s)",
                          (size_t)a->index, tm_plant_set_name(set), v[j].name,
                          m->family, m->version, what[set], v[j].name,
                          what[set],
                          tm_mut_names(vars, nvars, names, sizeof names));
        }
        const tm_var_t *var = &vars[k];
        bool ranged = set == TM_PLANT_PARAMS || set == TM_PLANT_INPUTS;
        if (ranged && (v[j].value < var->min || v[j].value > var->max)) {
            bool below = v[j].value < var->min;
            return s_fail(
                b, TM_ERR_BAD_VALUE, v[j].pos,
                "actors[%zu].%s.%s: %.17g is %s the %s %g %s of "
                "%s@%s",
                (size_t)a->index, tm_plant_set_name(set), v[j].name, v[j].value,
                below ? "below" : "above", below ? "minimum" : "maximum",
                below ? var->min : var->max, var->unit, m->family, m->version);
        }
        dst[k] = v[j].value;
    }
    return 0;
}

/* Parameters, held inputs, initial state and outputs of actor i. */
static int s_values(s_build_t *b, size_t i, double *at)
{
    tm_plan_actor_t *pa = &b->plan->actors[i];
    const tm_plant_actor_t *a = pa->src;
    const tm_model_t *m = pa->model;
    double zeros[TM_MODEL_MAX_VARS] = {0};
    pa->params = at;
    pa->held = at + m->n_params;
    pa->state = pa->held + m->n_inputs;
    double *out = pa->state + m->n_states;
    for (uint32_t k = 0; k < m->n_params; k++) {
        pa->params[k] = m->params[k].def;
    }
    for (uint32_t k = 0; k < m->n_inputs; k++) {
        pa->held[k] = m->inputs[k].def;
    }
    int rc =
        s_overlay(b, i, TM_PLANT_PARAMS, m->params, m->n_params, pa->params);
    if (rc == 0) {
        rc = s_overlay(b, i, TM_PLANT_INPUTS, m->inputs, m->n_inputs, pa->held);
    }
    if (rc != 0) {
        return rc;
    }
    int st = m->init(pa->params, pa->state);
    for (uint32_t k = 0; st == TM_STEP_OK && k < m->n_states; k++) {
        st = isfinite(pa->state[k]) ? st : TM_STEP_NONFINITE;
    }
    if (st != TM_STEP_OK) {
        return s_fail(b, TM_ERR_BAD_VALUE, a->pos[TM_PLANT_F_ITEM],
                      "actors[%zu]: %s@%s refuses the parameters of '%s' "
                      "(its initial state is invalid)",
                      (size_t)a->index, m->family, m->version, a->id);
    }
    pa->state_given = a->count[TM_PLANT_STATE] > 0;
    rc = s_overlay(b, i, TM_PLANT_STATE, m->states, m->n_states, pa->state);
    if (rc == 0 && a->count[TM_PLANT_OUTPUTS] > 0) {
        m->output(1, pa->state, pa->params, zeros, out);
        pa->outputs = out;
        rc = s_overlay(b, i, TM_PLANT_OUTPUTS, m->outputs, m->n_outputs, out);
    }
    return rc;
}

static size_t s_width(const tm_model_t *m)
{
    return (size_t)m->n_params + m->n_inputs + m->n_states + m->n_outputs;
}

static int s_actors(s_build_t *b, const char *node, const char *site)
{
    tm_plan_t *plan = b->plan;
    size_t total = 0;
    plan->actors = calloc(b->p->n_actors + 1, sizeof *plan->actors);
    if (plan->actors == NULL) {
        return s_nomem(b);
    }
    plan->n_actors = b->p->n_actors;
    for (size_t i = 0; i < b->p->n_actors; i++) {
        tm_plan_actor_t *pa = &plan->actors[i];
        pa->src = &b->p->actors[i];
        int rc = s_placement(b, i, node, site);
        if (rc == 0) {
            rc = s_model(b, i, &pa->model);
        }
        if (rc != 0) {
            return rc;
        }
        pa->period = pa->src->period > 0 ? pa->src->period : 1;
        total += s_width(pa->model);
    }
    plan->values = malloc((total + 1) * sizeof *plan->values);
    if (plan->values == NULL) {
        return s_nomem(b);
    }
    double *at = plan->values;
    for (size_t i = 0; i < b->p->n_actors; i++) {
        int rc = plan->actors[i].foreign ? 0 : s_values(b, i, at);
        if (rc != 0) {
            return rc;
        }
        at += s_width(plan->actors[i].model);
    }
    return 0;
}

/* ---- links against the models ------------------------------------------- */

static int s_link_check(s_build_t *b, size_t j)
{
    const tm_plant_link_t *l = &b->p->links[j];
    char names[512];
    long si = s_find(b, l->src);
    long di = s_find(b, l->dst);
    const tm_model_t *sm = b->plan->actors[si].model;
    const tm_model_t *dm = b->plan->actors[di].model;
    int o = tm_model_var_index(sm->outputs, sm->n_outputs, l->output);
    int k = tm_model_var_index(dm->inputs, dm->n_inputs, l->input);
    b->link_src[j] = (uint32_t)si;
    b->link_dst[j] = (uint32_t)di;
    if (b->plan->actors[di].foreign) {
        return s_fail(b, TM_ERR_PLANT, l->pos[TM_PLANT_L_TO],
                      "links[%zu].to: actor %s runs on node %s: a node holds "
                      "only the links into its own actors",
                      (size_t)l->index, l->dst, b->p->actors[di].node);
    }
    if (o < 0) {
        return s_fail(
            b, TM_ERR_UNKNOWN_PORT, l->pos[TM_PLANT_L_FROM],
            "links[%zu].from: actor %s (%s) has no output '%s' "
            "(outputs: %s)",
            (size_t)l->index, l->src, sm->family, l->output,
            tm_mut_names(sm->outputs, sm->n_outputs, names, sizeof names));
    }
    if (k < 0) {
        return s_fail(
            b, TM_ERR_UNKNOWN_PORT, l->pos[TM_PLANT_L_TO],
            "links[%zu].to: actor %s (%s) has no input '%s' "
            "(inputs: %s)",
            (size_t)l->index, l->dst, dm->family, l->input,
            tm_mut_names(dm->inputs, dm->n_inputs, names, sizeof names));
    }
    if (l->delay < 1 || l->delay > TM_RT_DELAY_MAX) {
        return s_fail(b, TM_ERR_RANGE, l->pos[TM_PLANT_L_DELAY],
                      "links[%zu].delay: %u ticks: a link's delay is 1 to %u "
                      "ticks",
                      (size_t)l->index, l->delay, TM_RT_DELAY_MAX);
    }
    uint32_t *fed = &b->fed[b->plan->actors[di].held - b->plan->values + k];
    if (*fed != 0 && !(dm->inputs[k].flags & TM_VAR_SUMMING)) {
        const tm_plant_link_t *first = &b->p->links[*fed - 1];
        return s_fail(b, TM_ERR_INPUT_LINKED, l->pos[TM_PLANT_L_TO],
                      "links[%zu].to: input %s.%s takes one link and is "
                      "already linked from %s.%s (links[%u], line %u)",
                      (size_t)l->index, l->dst, l->input, first->src,
                      first->output, first->index,
                      first->pos[TM_PLANT_L_ITEM].line);
    }
    *fed = (uint32_t)j + 1;
    return 0;
}

static uint64_t s_link_hash(const char *s, const char *o, const char *d,
                            const char *i)
{
    uint64_t h = tm_hash64(s, strlen(s));
    h = h * 0x9e3779b97f4a7c15ull ^ tm_hash64(o, strlen(o));
    h = h * 0x9e3779b97f4a7c15ull ^ tm_hash64(d, strlen(d));
    return h * 0x9e3779b97f4a7c15ull ^ tm_hash64(i, strlen(i));
}

static int s_link_eq(uint32_t handle, const void *key, void *arg)
{
    const tm_plant_link_t *l = &((const s_build_t *)arg)->p->links[handle];
    const tm_rt_link_t *k = key;
    return strcmp(l->src, k->src) == 0 && strcmp(l->output, k->output) == 0 &&
           strcmp(l->dst, k->dst) == 0 && strcmp(l->input, k->input) == 0;
}

static int s_links(s_build_t *b)
{
    size_t n = b->p->n_links;
    size_t width = 0;
    for (size_t i = 0; i < b->plan->n_actors; i++) {
        width += s_width(b->plan->actors[i].model);
    }
    b->link_src = calloc(n + 1, sizeof *b->link_src);
    b->link_dst = calloc(n + 1, sizeof *b->link_dst);
    b->kept = calloc(n + 1, 1);
    b->fed = calloc(width + 1, sizeof *b->fed);
    if (!b->link_src || !b->link_dst || !b->kept || !b->fed) {
        return s_nomem(b);
    }
    for (size_t j = 0; j < n; j++) {
        int rc = s_link_check(b, j);
        if (rc != 0) {
            return rc;
        }
        const tm_plant_link_t *l = &b->p->links[j];
        if (tm_index_insert(&b->link_ix,
                            s_link_hash(l->src, l->output, l->dst, l->input),
                            (uint32_t)j) != 0) {
            return s_nomem(b);
        }
    }
    return 0;
}

/* ---- the diff ----------------------------------------------------------- */

static int s_add_set(s_build_t *b, uint32_t i, int kind, uint32_t var,
                     double old, double value)
{
    tm_plan_node_t *nd = b->nd;
    tm_plan_set_t *s =
        s_push(&nd->set, &nd->n_set, &b->cap[S_CAP_SET], sizeof *s);
    if (s == NULL) {
        return s_nomem(b);
    }
    s->actor = i;
    s->kind = (uint8_t)kind;
    s->var = (uint16_t)var;
    s->old = old;
    s->value = value;
    return 0;
}

/* Parameters and held inputs that differ; given states that differ (all
 * of them after a change of model). */
static int s_sets(s_build_t *b, uint32_t i, const tm_rt_actor_t *v, bool moved)
{
    const tm_plan_actor_t *pa = &b->plan->actors[i];
    const tm_model_t *m = pa->model;
    int rc = 0;
    for (uint32_t k = 0; rc == 0 && k < m->n_params; k++) {
        if (!s_same(v->params[k], pa->params[k])) {
            rc = s_add_set(b, i, TM_MUT_PARAM, k, v->params[k], pa->params[k]);
        }
    }
    for (uint32_t k = 0; rc == 0 && k < m->n_inputs; k++) {
        if (!s_same(v->held[k], pa->held[k])) {
            rc = s_add_set(b, i, TM_MUT_INPUT, k, v->held[k], pa->held[k]);
        }
    }
    uint32_t n = 0;
    const tm_plant_value_t *sv =
        tm_plant_values(b->p, pa->src, TM_PLANT_STATE, &n);
    for (uint32_t j = 0; rc == 0 && j < n; j++) {
        int k = tm_model_var_index(m->states, m->n_states, sv[j].name);
        int was = tm_model_var_index(v->model->states, v->model->n_states,
                                     sv[j].name);
        double old = was >= 0 ? v->state[was] : NAN;
        if (moved || !s_same(old, pa->state[k])) {
            rc = s_add_set(b, i, TM_MUT_STATE, (uint32_t)k, old, pa->state[k]);
        }
    }
    return rc;
}

/* A replaced actor keeps what the plant does not give: its state (mapped
 * when the tier or version changes) and, with the same model and state,
 * its outputs, so that a change of period alone changes nothing else. */
static void s_keep(s_build_t *b, tm_plan_actor_t *pa, const tm_rt_actor_t *v)
{
    const tm_model_t *m = pa->model;
    (void)b;
    if (pa->state_given || strcmp(v->model->family, m->family) != 0) {
        return;
    }
    if (v->model == m) {
        memcpy(pa->state, v->state, m->n_states * sizeof *pa->state);
        if (pa->outputs == NULL) {
            pa->outputs = pa->state + m->n_states;
            memcpy(pa->outputs, v->outputs, m->n_outputs * sizeof(double));
        }
        return;
    }
    double mapped[TM_MODEL_MAX_VARS];
    if (tm_model_map_state(m, v->model, v->state, pa->params, mapped) ==
        TM_STEP_OK) {
        memcpy(pa->state, mapped, m->n_states * sizeof *pa->state);
    }
}

/* Where a reference's placement was given (node, else site, else id). */
static tm_plant_pos_t s_placed_at(const tm_plant_actor_t *a)
{
    return a->pos[TM_PLANT_F_NODE].line > 0   ? a->pos[TM_PLANT_F_NODE]
           : a->pos[TM_PLANT_F_SITE].line > 0 ? a->pos[TM_PLANT_F_SITE]
                                              : a->pos[TM_PLANT_F_ID];
}

/* Actors do not move between nodes: a reference must not run here, and an
 * actor of this node must not be another node's (read here through a
 * proxy). */
static int s_moved(s_build_t *b, uint32_t i, const tm_rt_actor_t *v)
{
    const tm_plant_actor_t *a = b->plan->actors[i].src;
    if (b->plan->actors[i].foreign && !v->remote) {
        return s_fail(b, TM_ERR_EXISTS, s_placed_at(a),
                      "actors[%u]: actor '%s' runs on node %s, and the plant "
                      "places it on node %s: apply does not move actors "
                      "between nodes (apply the file without it, then with "
                      "it)",
                      a->index, a->id, b->nd->node, a->node);
    }
    if (!b->plan->actors[i].foreign && v->remote) {
        return s_fail(b, TM_ERR_EXISTS, a->pos[TM_PLANT_F_ID],
                      "actors[%u].id: actor '%s' runs on another node (this "
                      "node reads it), and the plant places it on node %s: "
                      "apply does not move actors between nodes (apply the "
                      "file without it, then with it)",
                      a->index, a->id, b->nd->node);
    }
    return 0;
}

static int s_diff_actor(s_build_t *b, uint32_t i)
{
    tm_plan_node_t *nd = b->nd;
    tm_plan_actor_t *pa = &b->plan->actors[i];
    tm_rt_actor_t v;
    bool here = tm_rt_get(b->rt, pa->src->id, &v) == 0;
    int rc = here ? s_moved(b, i, &v) : 0;
    if (rc != 0 || pa->foreign) {
        return rc;
    }
    if (!here) {
        uint32_t *s =
            s_push(&nd->spawn, &nd->n_spawn, &b->cap[S_CAP_SPAWN], sizeof *s);
        if (s == NULL) {
            return s_nomem(b);
        }
        *s = i;
        return 0;
    }
    uint32_t why =
        strcmp(v.model->family, pa->model->family) != 0 ? TM_PLAN_R_FAMILY : 0;
    why |= v.period != pa->period ? TM_PLAN_R_PERIOD : 0;
    if (why != 0) {
        tm_plan_replace_t *r = s_push(&nd->replace, &nd->n_replace,
                                      &b->cap[S_CAP_REPLACE], sizeof *r);
        if (r == NULL) {
            return s_nomem(b);
        }
        r->actor = i;
        r->why = why;
        r->was = v.model;
        r->was_period = v.period;
        pa->replaced = true;
        s_keep(b, pa, &v);
        return 0;
    }
    if (v.model != pa->model) {
        tm_plan_model_t *mc =
            s_push(&nd->model, &nd->n_model, &b->cap[S_CAP_MODEL], sizeof *mc);
        if (mc == NULL) {
            return s_nomem(b);
        }
        mc->actor = i;
        mc->was = v.model;
    }
    return s_sets(b, i, &v, v.model != pa->model);
}

static int s_kill_cb(const tm_rt_actor_t *a, void *arg)
{
    s_build_t *b = arg;
    if (s_find(b, a->id) >= 0) {
        return 0;
    }
    tm_plan_node_t *nd = b->nd;
    const char **k =
        s_push(&nd->kill, &nd->n_kill, &b->cap[S_CAP_KILL], sizeof *k);
    if (k == NULL || (*k = tm_plant_strdup(&b->plan->strings, a->id,
                                           strlen(a->id))) == NULL) {
        b->rc = s_nomem(b);
        return 1;
    }
    return 0;
}

/* Plant link j as a link of the plan (a source on another node with its
 * model: the runtime reads it through a proxy). */
static void s_plan_link(const s_build_t *b, size_t j, tm_plan_link_t *out)
{
    const tm_plant_link_t *k = &b->p->links[j];
    const tm_plan_actor_t *src = &b->plan->actors[b->link_src[j]];
    *out =
        (tm_plan_link_t){k->src,   k->output, k->dst,
                         k->input, k->delay,  src->foreign ? src->model : NULL};
}

static int s_push_link(s_build_t *b, tm_plan_link_t **v, size_t *n, int cap,
                       const tm_plan_link_t *l, bool copy)
{
    tm_plan_link_t *d = s_push(v, n, &b->cap[cap], sizeof *d);
    if (d == NULL) {
        return s_nomem(b);
    }
    *d = *l;
    if (copy) {
        tm_plant_t *st = &b->plan->strings;
        d->src = tm_plant_strdup(st, l->src, strlen(l->src));
        d->output = tm_plant_strdup(st, l->output, strlen(l->output));
        d->dst = tm_plant_strdup(st, l->dst, strlen(l->dst));
        d->input = tm_plant_strdup(st, l->input, strlen(l->input));
        if (!d->src || !d->output || !d->dst || !d->input) {
            return s_nomem(b);
        }
    }
    return 0;
}

/* Whether the proxy src (the runtime's source of a link) has the outputs
 * of the plant's model of actor i (a reference): a proxy made for another
 * model (the actor changed family on its node) is made again. */
static bool s_proxy_fits(s_build_t *b, uint32_t i, const char *src)
{
    const tm_plan_actor_t *pa = &b->plan->actors[i];
    tm_rt_actor_t v;
    if (!pa->foreign || tm_rt_get(b->rt, src, &v) != 0 || !v.remote) {
        return true;
    }
    return tm_plan_same_outputs(v.model, pa->model);
}

/* A link of the mesh: kept (made again if an end is replaced), removed,
 * or removed and added again with the plant's delay. */
static int s_link_cb(const tm_rt_link_t *l, void *arg)
{
    s_build_t *b = arg;
    tm_plan_node_t *nd = b->nd;
    uint32_t j = tm_index_find(&b->link_ix,
                               s_link_hash(l->src, l->output, l->dst, l->input),
                               l, s_link_eq, b);
    tm_plan_link_t pl = {l->src, l->output, l->dst, l->input, l->delay, NULL};
    if (j != TM_INDEX_NONE && (b->p->links[j].delay != l->delay ||
                               !s_proxy_fits(b, b->link_src[j], l->src))) {
        j = TM_INDEX_NONE; /* not kept: removed, and the plant's added */
    }
    if (j == TM_INDEX_NONE) {
        b->rc =
            s_push_link(b, &nd->unlink, &nd->n_unlink, S_CAP_UNLINK, &pl, true);
        return b->rc != 0;
    }
    b->kept[j] = 1;
    if (b->plan->actors[b->link_src[j]].replaced ||
        b->plan->actors[b->link_dst[j]].replaced) {
        tm_plan_link_t rl;
        s_plan_link(b, j, &rl);
        b->rc = s_push_link(b, &nd->relink, &nd->n_relink, S_CAP_RELINK, &rl,
                            false);
    }
    return b->rc != 0;
}

static int s_diff(s_build_t *b)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < b->plan->n_actors; i++) {
        rc = s_diff_actor(b, i);
    }
    if (rc == 0) {
        tm_rt_foreach(b->rt, s_kill_cb, b);
        rc = b->rc;
    }
    if (rc == 0) {
        tm_rt_foreach_link(b->rt, s_link_cb, b);
        rc = b->rc;
    }
    for (size_t j = 0; rc == 0 && j < b->p->n_links; j++) {
        tm_plan_link_t l;
        s_plan_link(b, j, &l);
        if (!b->kept[j]) {
            rc = s_push_link(b, &b->nd->link, &b->nd->n_link, S_CAP_LINK, &l,
                             false);
        }
    }
    return rc;
}

int tm_plan_build(tm_rt_t *rt, const tm_plant_t *plant, const char *node,
                  const char *site, tm_plan_t *plan, char *why)
{
    s_build_t b;
    memset(&b, 0, sizeof b);
    memset(plan, 0, sizeof *plan);
    tm_plant_init(&plan->strings, "plan");
    plan->plant = plant;
    b.rt = rt;
    b.p = plant;
    b.plan = plan;
    b.why = why;
    tm_index_init(&b.link_ix);
    tm_index_init(&b.ids);
    int rc = tm_plant_check(plant, why, TM_MUT_WHY_MAX);
    plan->nodes = rc == 0 ? calloc(1, sizeof *plan->nodes) : NULL;
    if (rc == 0 && plan->nodes == NULL) {
        rc = s_nomem(&b);
    }
    if (rc == 0) {
        plan->n_nodes = 1;
        b.nd = &plan->nodes[0];
        snprintf(b.nd->node, sizeof b.nd->node, "%s", node);
    }
    for (size_t i = 0; rc == 0 && i < plant->n_actors; i++) {
        const char *id = plant->actors[i].id;
        if (tm_index_insert(&b.ids, tm_hash64(id, strlen(id)), (uint32_t)i) !=
            0) {
            rc = s_nomem(&b);
        }
    }
    if (rc == 0) {
        rc = s_actors(&b, node, site);
    }
    if (rc == 0) {
        rc = s_links(&b);
    }
    if (rc == 0) {
        rc = s_diff(&b);
    }
    tm_index_free(&b.ids);
    free(b.link_src);
    free(b.link_dst);
    free(b.fed);
    free(b.kept);
    tm_index_free(&b.link_ix);
    if (rc != 0) {
        tm_plan_free(plan);
    }
    return rc;
}

bool tm_plan_same_outputs(const tm_model_t *a, const tm_model_t *b)
{
    if (a->n_outputs != b->n_outputs) {
        return false;
    }
    for (uint32_t k = 0; k < a->n_outputs; k++) {
        if (strcmp(a->outputs[k].name, b->outputs[k].name) != 0) {
            return false;
        }
    }
    return true;
}

void tm_plan_free(tm_plan_t *plan)
{
    if (plan == NULL) {
        return;
    }
    for (size_t i = 0; i < plan->n_nodes; i++) {
        tm_plan_node_t *nd = &plan->nodes[i];
        free(nd->spawn);
        free(nd->replace);
        free(nd->model);
        free(nd->set);
        free(nd->kill);
        free(nd->link);
        free(nd->unlink);
        free(nd->relink);
    }
    free(plan->nodes);
    free(plan->actors);
    free(plan->values);
    tm_plant_free(&plan->strings);
    memset(plan, 0, sizeof *plan);
}

void tm_plan_counts(const tm_plan_t *plan, tm_plan_counts_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < plan->n_nodes; i++) {
        const tm_plan_node_t *nd = &plan->nodes[i];
        out->spawn += nd->n_spawn;
        out->kill += nd->n_kill;
        out->replace += nd->n_replace;
        out->model += nd->n_model;
        out->set += nd->n_set;
        out->link += nd->n_link;
        out->unlink += nd->n_unlink;
    }
}

bool tm_plan_empty(const tm_plan_t *plan)
{
    tm_plan_counts_t c;
    tm_plan_counts(plan, &c);
    return c.spawn + c.kill + c.replace + c.model + c.set + c.link + c.unlink ==
           0;
}
