/* tm_plan_pack: a node's plan as a reply body (see tm_plan.h), for the
 * console handlers and for the nodes of a mesh that report their part. */
#include "tm_plan.h"

#include "tm_mut.h"

#include <stdio.h>
#include <string.h>

void tm_plan_node_counts(const tm_plan_node_t *nd, tm_plan_counts_t *out)
{
    out->spawn = nd->n_spawn;
    out->kill = nd->n_kill;
    out->replace = nd->n_replace;
    out->model = nd->n_model;
    out->set = nd->n_set;
    out->link = nd->n_link;
    out->unlink = nd->n_unlink;
}

const char *tm_plan_summary(const tm_plan_counts_t *c, char *buf, size_t cap)
{
    const struct {
        size_t n;
        const char *one, *many;
    } k[] = {{c->spawn, "spawn", "spawns"},
             {c->kill, "kill", "kills"},
             {c->replace, "replacement", "replacements"},
             {c->model, "model change", "model changes"},
             {c->set, "value set", "values set"},
             {c->link, "link added", "links added"},
             {c->unlink, "link removed", "links removed"}};
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof k / sizeof k[0] && off < cap; i++) {
        if (k[i].n > 0) {
            int w = snprintf(buf + off, cap - off, "%s%zu %s", off ? ", " : "",
                             k[i].n, k[i].n == 1 ? k[i].one : k[i].many);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    return buf;
}

void tm_plan_pack_counts(tm_body_t *b, const char *key,
                         const tm_plan_counts_t *c)
{
    tm_body_kv_map(b, key);
    tm_body_kv_u64(b, "spawn", c->spawn);
    tm_body_kv_u64(b, "kill", c->kill);
    tm_body_kv_u64(b, "replace", c->replace);
    tm_body_kv_u64(b, "model", c->model);
    tm_body_kv_u64(b, "set", c->set);
    tm_body_kv_u64(b, "link", c->link);
    tm_body_kv_u64(b, "unlink", c->unlink);
    tm_body_end(b);
}

static void s_model_fields(tm_body_t *b, const tm_model_t *m, uint32_t period)
{
    tm_body_kv_str(b, "model", m->family);
    tm_body_kv_str(b, "version", m->version);
    tm_body_kv_str(b, "fidelity", tm_fidelity_name(m->fidelity));
    tm_body_kv_u64(b, "period", period);
}

static void s_pack_model(tm_body_t *b, const char *key, const tm_model_t *m,
                         uint32_t period)
{
    tm_body_kv_map(b, key);
    s_model_fields(b, m, period);
    tm_body_end(b);
}

static void s_pack_link(tm_body_t *b, const tm_plan_link_t *l)
{
    char from[TM_ID_MAX + TM_MODEL_NAME_MAX + 2];
    char to[TM_ID_MAX + TM_MODEL_NAME_MAX + 2];
    snprintf(from, sizeof from, "%s.%s", l->src, l->output);
    snprintf(to, sizeof to, "%s.%s", l->dst, l->input);
    tm_body_map(b);
    tm_body_kv_str(b, "from", from);
    tm_body_kv_str(b, "to", to);
    tm_body_kv_u64(b, "delay", l->delay);
    tm_body_end(b);
}

static const char *s_var(const tm_model_t *m, const tm_plan_set_t *s)
{
    return s->kind == TM_MUT_PARAM   ? m->params[s->var].name
           : s->kind == TM_MUT_STATE ? m->states[s->var].name
                                     : m->inputs[s->var].name;
}

/* The actor lists of one node, at most shown items each. */
static void s_pack_actors(tm_body_t *b, const tm_plan_t *plan,
                          const tm_plan_node_t *nd, size_t shown)
{
    tm_body_kv_array(b, "spawn");
    for (size_t i = 0; i < nd->n_spawn && i < shown; i++) {
        const tm_plan_actor_t *pa = &plan->actors[nd->spawn[i]];
        tm_body_map(b);
        tm_body_kv_str(b, "id", pa->src->id);
        s_model_fields(b, pa->model, pa->period);
        tm_body_end(b);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "kill");
    for (size_t i = 0; i < nd->n_kill && i < shown; i++) {
        tm_body_str(b, nd->kill[i]);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "replace");
    for (size_t i = 0; i < nd->n_replace && i < shown; i++) {
        const tm_plan_replace_t *r = &nd->replace[i];
        const tm_plan_actor_t *pa = &plan->actors[r->actor];
        tm_body_map(b);
        tm_body_kv_str(b, "id", pa->src->id);
        s_pack_model(b, "from", r->was, r->was_period);
        s_pack_model(b, "to", pa->model, pa->period);
        tm_body_end(b);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "model");
    for (size_t i = 0; i < nd->n_model && i < shown; i++) {
        const tm_plan_actor_t *pa = &plan->actors[nd->model[i].actor];
        tm_body_map(b);
        tm_body_kv_str(b, "id", pa->src->id);
        s_pack_model(b, "from", nd->model[i].was, pa->period);
        s_pack_model(b, "to", pa->model, pa->period);
        tm_body_end(b);
    }
    tm_body_end(b);
}

void tm_plan_pack_node(tm_body_t *b, const tm_plan_t *plan,
                       const tm_plan_node_t *nd, size_t shown)
{
    tm_plan_counts_t c;
    tm_plan_node_counts(nd, &c);
    tm_body_map(b);
    tm_body_kv_str(b, "node", nd->node);
    tm_plan_pack_counts(b, "counts", &c);
    s_pack_actors(b, plan, nd, shown);
    tm_body_kv_array(b, "set");
    for (size_t i = 0; i < nd->n_set && i < shown; i++) {
        const tm_plan_set_t *s = &nd->set[i];
        const tm_plan_actor_t *pa = &plan->actors[s->actor];
        tm_body_map(b);
        tm_body_kv_str(b, "id", pa->src->id);
        tm_body_kv_str(b, "name", s_var(pa->model, s));
        tm_body_kv_str(b, "kind", tm_mut_kind_name((tm_mut_kind_t)s->kind));
        tm_body_kv_f64(b, "old", s->old);
        tm_body_kv_f64(b, "value", s->value);
        tm_body_end(b);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "link");
    for (size_t i = 0; i < nd->n_link && i < shown; i++) {
        s_pack_link(b, &nd->link[i]);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "unlink");
    for (size_t i = 0; i < nd->n_unlink && i < shown; i++) {
        s_pack_link(b, &nd->unlink[i]);
    }
    tm_body_end(b);
    tm_body_end(b);
}
