/* tm_cmd_plant: apply, diff (a plant the console uploaded) and export. */
#include "tm_console.h"
#include "tm_mesh.h"

#include "tm_err.h"
#include "tm_plan.h"
#include "tm_time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SHOWN_DEFAULT 1000u          /* items listed per kind of change */
#define S_EXPORT_PART   (512u * 1024u) /* bytes of an export part */

static void s_pack_model(tm_body_t *b, const char *key, const tm_model_t *m,
                         uint32_t period)
{
    tm_body_kv_map(b, key);
    tmi_pack_model(b, m);
    tm_body_kv_u64(b, "period", period);
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
        tmi_pack_model(b, pa->model);
        tm_body_kv_u64(b, "period", pa->period);
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

static void s_pack_node(tm_body_t *b, const tm_plan_t *plan,
                        const tm_plan_node_t *nd, size_t shown)
{
    tm_body_map(b);
    tm_body_kv_str(b, "node", nd->node);
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

static void s_pack_counts(tm_body_t *b, const tm_plan_counts_t *c)
{
    tm_body_kv_map(b, "counts");
    tm_body_kv_u64(b, "spawn", c->spawn);
    tm_body_kv_u64(b, "kill", c->kill);
    tm_body_kv_u64(b, "replace", c->replace);
    tm_body_kv_u64(b, "model", c->model);
    tm_body_kv_u64(b, "set", c->set);
    tm_body_kv_u64(b, "link", c->link);
    tm_body_kv_u64(b, "unlink", c->unlink);
    tm_body_end(b);
}

/* "3 spawns, 1 kill, ..." of the kinds that are not zero. */
static void s_summary(const tm_plan_counts_t *c, char *buf, size_t cap)
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
}

static int s_reply(tm_console_ctx_t *ctx, tm_console_call_t *req,
                   const tm_plan_t *plan, bool applied,
                   const tm_mut_timing_t *t, double elapsed)
{
    tm_reply_t *rep = req->rep;
    tm_plan_counts_t c;
    char sum[512];
    size_t shown =
        req->cmd->limit > 0 ? (size_t)req->cmd->limit : S_SHOWN_DEFAULT;
    tm_plan_counts(plan, &c);
    s_summary(&c, sum, sizeof sum);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "file", plan->plant->file);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_bool(b, "applied", applied);
    tm_body_kv_u64(b, "actors", plan->n_actors);
    tm_body_kv_u64(b, "links", plan->plant->n_links);
    s_pack_counts(b, &c);
    tm_body_kv_u64(b, "shown", shown);
    tm_body_kv_array(b, "nodes");
    for (size_t i = 0; i < plan->n_nodes; i++) {
        s_pack_node(b, plan, &plan->nodes[i], shown);
    }
    tm_body_end(b);
    tm_body_kv_f64(b, "elapsed_s", elapsed);
    tm_body_kv_f64(b, "commit_s", t->commit_s);
    tm_body_end(b);
    if (tm_plan_empty(plan)) {
        tm_reply_msg(rep, "%s: nothing to change (%zu actors, %zu links)",
                     plan->plant->file, plan->n_actors, plan->plant->n_links);
    } else if (applied) {
        tm_reply_msg(rep, "applied %s in %.3f s: %s", plan->plant->file,
                     elapsed, sum);
    } else {
        tm_reply_msg(rep, "%s would change: %s (nothing was changed)",
                     plan->plant->file, sum);
    }
    return tm_reply_done(rep);
}

/* Plants cover one node for now: a node of a mesh refuses them rather
 * than plan against the part of the mesh it holds. */
static int s_single_node(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_mesh_node_t nodes[2];
    if (ctx->mesh == NULL || tm_mesh_nodes(ctx->mesh, nodes, 2) < 2) {
        return 0;
    }
    return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                          "%s: plant files describe a mesh of one node, and "
                          "node %s is part of a mesh of several; spawn and "
                          "link with --node instead",
                          req->cmd->info->name, ctx->name);
}

int tmi_cmd_apply(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    if (s_single_node(ctx, req) != 0) {
        return req->rep->status;
    }
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    bool apply = cmd->kind == TM_CMD_APPLY;
    char why[TM_MUT_WHY_MAX];
    tm_plan_t plan;
    tm_mut_timing_t t = {0, 0};
    double t0 = tm_time_now();
    if (req->plant == NULL) {
        return tm_reply_error(rep, TM_ERR_USAGE,
                              "%s: no plant came with this request (the "
                              "twinmesh console reads FILE and uploads it "
                              "first: docs/protocol.md, PLANT_CHUNK)",
                              cmd->info->name);
    }
    int rc = tm_plan_build(ctx->rt, req->plant, ctx->name,
                           ctx->site != NULL ? ctx->site : "", &plan, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s%s", why,
                              apply ? " (nothing was changed)" : "");
    }
    bool applied = false;
    if (apply && !tm_plan_empty(&plan)) {
        rc = tm_mut_apply(ctx->mut, &plan, &t, why);
        applied = rc == 0;
    }
    if (rc == 0) {
        rc = s_reply(ctx, req, &plan, applied, &t, tm_time_now() - t0);
    } else {
        tm_reply_error(rep, rc, "%s", why);
    }
    tm_plan_free(&plan);
    return rc;
}

/* The file name an export names itself by: the path's last part. */
static const char *s_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return path[0] == '\0' ? "export" : slash ? slash + 1 : path;
}

int tmi_cmd_export(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    if (s_single_node(ctx, req) != 0) {
        return req->rep->status;
    }
    tm_reply_t *rep = req->rep;
    tm_plant_t plant;
    tm_plant_chunk_t hdr;
    size_t next_actor = 0;
    size_t next_link = 0;
    int rc = tm_plan_export(ctx->rt, s_base(req->cmd->path), &plant);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "cannot export the mesh: %s",
                              tm_err_str(rc));
    }
    memset(&hdr, 0, sizeof hdr);
    /* without emit (tests), everything goes in one reply */
    size_t part = req->emit != NULL ? S_EXPORT_PART : SIZE_MAX / 2;
    do {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = tm_plant_chunk_encode(&plant, &hdr, &next_actor, &next_link, part,
                                   &bytes, &len);
        if (rc != 0) {
            tm_plant_free(&plant);
            return tm_reply_error(rep, rc, "cannot export the mesh: %s",
                                  tm_err_str(rc));
        }
        tm_body_raw(tm_reply_body(rep), bytes, len);
        free(bytes);
        hdr.index++;
        if (!hdr.final) {
            rc = req->emit(req);
            if (rc != 0) {
                tm_plant_free(&plant);
                return tm_reply_error(rep, rc, "reply aborted: %s",
                                      tm_err_str(rc));
            }
        }
    } while (!hdr.final);
    tm_reply_msg(rep, "%zu actors, %zu links at tick %llu", plant.n_actors,
                 plant.n_links, (unsigned long long)tm_rt_tick(ctx->rt));
    tm_plant_free(&plant);
    return tm_reply_done(rep);
}
