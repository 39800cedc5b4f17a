/* tm_plan_export: the running mesh as a plant (see tm_plan.h). */
#include "tm_plan.h"

#include "tm_err.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    tm_plant_t *out;
    const char **ids;
    size_t n, cap;
    tm_plant_link_t *links;
    size_t n_links, cap_links;
    int rc;
} s_export_t;

static int s_ids_cb(const tm_rt_actor_t *a, void *arg)
{
    s_export_t *e = arg;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        const char **v = realloc(e->ids, cap * sizeof *v);
        if (v == NULL) {
            e->rc = TM_ERR_NOMEM;
            return 1;
        }
        e->ids = v;
        e->cap = cap;
    }
    e->ids[e->n] = tm_plant_strdup(e->out, a->id, strlen(a->id));
    e->rc = e->ids[e->n++] == NULL ? TM_ERR_NOMEM : 0;
    return e->rc != 0;
}

static const char *s_copy(s_export_t *e, const char *s)
{
    const char *c = tm_plant_strdup(e->out, s, strlen(s));
    if (c == NULL) {
        e->rc = TM_ERR_NOMEM;
    }
    return c;
}

static int s_links_cb(const tm_rt_link_t *l, void *arg)
{
    s_export_t *e = arg;
    if (e->n_links == e->cap_links) {
        size_t cap = e->cap_links ? e->cap_links * 2 : 1024;
        tm_plant_link_t *v = realloc(e->links, cap * sizeof *v);
        if (v == NULL) {
            e->rc = TM_ERR_NOMEM;
            return 1;
        }
        e->links = v;
        e->cap_links = cap;
    }
    tm_plant_link_t *d = &e->links[e->n_links++];
    memset(d, 0, sizeof *d);
    d->src = s_copy(e, l->src);
    d->output = s_copy(e, l->output);
    d->dst = s_copy(e, l->dst);
    d->input = s_copy(e, l->input);
    d->delay = l->delay;
    return e->rc != 0;
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int s_link_cmp(const void *a, const void *b)
{
    const tm_plant_link_t *x = a;
    const tm_plant_link_t *y = b;
    int c = strcmp(x->src, y->src);
    c = c != 0 ? c : strcmp(x->output, y->output);
    c = c != 0 ? c : strcmp(x->dst, y->dst);
    return c != 0 ? c : strcmp(x->input, y->input);
}

static bool s_same(const double *a, const double *b, uint32_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* Values of vars that differ from ref (all of them with ref NULL). */
static int s_add_values(tm_plant_t *out, tm_plant_set_t set,
                        const tm_var_t *vars, uint32_t n, const double *v,
                        const double *ref)
{
    tm_plant_pos_t none = {0, 0};
    for (uint32_t k = 0; k < n; k++) {
        if (ref != NULL && s_same(&v[k], &ref[k], 1)) {
            continue;
        }
        int rc = tm_plant_add_value(out, set, vars[k].name, v[k], none);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* One actor: what the plant needs to make it again, bit for bit. */
static int s_actor(tm_rt_t *rt, tm_plant_t *out, const char *id,
                   const char *node)
{
    tm_rt_actor_t v;
    tm_plant_actor_t a;
    double defs[TM_MODEL_MAX_VARS];
    double init[TM_MODEL_MAX_VARS];
    double spawn_out[TM_MODEL_MAX_VARS];
    double zeros[TM_MODEL_MAX_VARS] = {0};
    if (tm_rt_get(rt, id, &v) != 0) {
        return TM_ERR_INTERNAL;
    }
    const tm_model_t *m = v.model;
    memset(&a, 0, sizeof a);
    a.id = id;
    a.model = m->family;
    a.version = m->version;
    a.fidelity = (int)m->fidelity;
    a.period = v.period > 1 ? v.period : 0;
    a.node = node;
    a.index = (uint32_t)out->n_actors;
    int rc = tm_plant_add_actor(out, &a);
    for (uint32_t k = 0; k < m->n_params; k++) {
        defs[k] = m->params[k].def;
    }
    if (rc == 0) {
        rc = s_add_values(out, TM_PLANT_PARAMS, m->params, m->n_params,
                          v.params, defs);
    }
    for (uint32_t k = 0; k < m->n_inputs; k++) {
        defs[k] = m->inputs[k].def;
    }
    if (rc == 0) {
        rc = s_add_values(out, TM_PLANT_INPUTS, m->inputs, m->n_inputs, v.held,
                          defs);
    }
    bool fresh = m->init(v.params, init) == TM_STEP_OK &&
                 s_same(init, v.state, m->n_states);
    if (rc == 0 && !fresh) {
        rc = s_add_values(out, TM_PLANT_STATE, m->states, m->n_states, v.state,
                          NULL);
    }
    m->output(1, v.state, v.params, zeros, spawn_out);
    if (rc == 0 && !s_same(spawn_out, v.outputs, m->n_outputs)) {
        rc = s_add_values(out, TM_PLANT_OUTPUTS, m->outputs, m->n_outputs,
                          v.outputs, NULL);
    }
    return rc;
}

int tm_plan_export(tm_rt_t *rt, const char *file, const char *node,
                   tm_plant_t *out)
{
    s_export_t e;
    memset(&e, 0, sizeof e);
    tm_plant_init(out, file);
    e.out = out;
    const char *where = node != NULL ? s_copy(&e, node) : NULL;
    if (e.rc != 0) {
        return e.rc;
    }
    tm_rt_foreach(rt, s_ids_cb, &e);
    int rc = e.rc;
    if (rc == 0 && e.n > 1) {
        qsort(e.ids, e.n, sizeof *e.ids, s_str_cmp);
    }
    for (size_t i = 0; rc == 0 && i < e.n; i++) {
        rc = s_actor(rt, out, e.ids[i], where);
    }
    if (rc == 0) {
        tm_rt_foreach_link(rt, s_links_cb, &e);
        rc = e.rc;
    }
    if (rc == 0 && e.n_links > 1) {
        qsort(e.links, e.n_links, sizeof *e.links, s_link_cmp);
    }
    for (size_t j = 0; rc == 0 && j < e.n_links; j++) {
        e.links[j].index = (uint32_t)j;
        rc = tm_plant_add_link(out, &e.links[j]);
    }
    free(e.ids);
    free(e.links);
    if (rc != 0) {
        tm_plant_free(out);
    }
    return rc;
}
