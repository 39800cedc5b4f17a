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
    tm_plan_summary(&c, sum, sizeof sum);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "file", plan->plant->file);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_bool(b, "applied", applied);
    tm_body_kv_u64(b, "actors", plan->n_actors);
    tm_body_kv_u64(b, "links", plan->plant->n_links);
    tm_plan_pack_counts(b, "counts", &c);
    tm_body_kv_u64(b, "shown", shown);
    tm_body_kv_array(b, "nodes");
    for (size_t i = 0; i < plan->n_nodes; i++) {
        tm_plan_pack_node(b, plan, &plan->nodes[i], shown);
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

/* A plant over several nodes: this node coordinates (the mesh), unless
 * the request comes from another node, which coordinates. */
static bool s_over_mesh(const tm_console_ctx_t *ctx,
                        const tm_console_call_t *req)
{
    return ctx->mesh != NULL && !req->from_peer &&
           tm_mesh_nodes(ctx->mesh, NULL, 0) > 1;
}

/* apply or diff over every node; the answer comes later. */
static int s_apply_mesh(tm_console_ctx_t *ctx, tm_console_call_t *req,
                        bool apply, size_t shown)
{
    char why[TM_CMD_MSG_MAX];
    tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
    if (later == NULL) {
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "%s: cannot answer later from here",
                              req->cmd->info->name);
    }
    int rc = tm_mesh_plant(ctx->mesh, req->plant, apply, shown, later, why,
                           sizeof why);
    if (rc != 0) {
        later->free(later);
        return tm_reply_error(req->rep, rc, "%s", why);
    }
    return TM_CONSOLE_DEFERRED;
}

/* Every actor of plant on this node, the only one: a node or site named
 * is this one's. */
static int s_place_here(tm_console_ctx_t *ctx, const tm_plant_t *plant,
                        char *why)
{
    tm_plant_node_t self = {ctx->name, ctx->site != NULL ? ctx->site : "", 0,
                            1};
    uint32_t *where = malloc((plant->n_actors + 1) * sizeof *where);
    if (where == NULL) {
        snprintf(why, TM_MUT_WHY_MAX, "out of memory");
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < plant->n_actors; i++) {
        where[i] = TM_PLANT_NEW;
    }
    int rc = tm_plant_place(plant, &self, 1, where, why, TM_MUT_WHY_MAX);
    free(where);
    return rc;
}

int tmi_cmd_apply(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
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
    if (s_over_mesh(ctx, req)) {
        return s_apply_mesh(ctx, req, apply,
                            cmd->limit > 0 ? (size_t)cmd->limit
                                           : S_SHOWN_DEFAULT);
    }
    const char *site = ctx->site != NULL ? ctx->site : "";
    int rc = s_place_here(ctx, req->plant, why);
    if (rc == 0) {
        rc = tm_plan_build(ctx->rt, req->plant, ctx->name, site, &plan, why);
    }
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

/* The export of every node: this node's, then the others' (the mesh). */
static int s_export_mesh(tm_console_ctx_t *ctx, tm_console_call_t *req,
                         tm_plant_t *own)
{
    char why[TM_CMD_MSG_MAX];
    tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
    int rc = later == NULL
                 ? TM_ERR_UNSUPPORTED
                 : tm_mesh_export(ctx->mesh, own, later, why, sizeof why);
    tm_plant_free(own);
    if (rc != 0) {
        if (later != NULL) {
            later->free(later);
        }
        return tm_reply_error(req->rep, rc, "export: %s",
                              later != NULL ? why
                                            : "cannot answer later from here");
    }
    return TM_CONSOLE_DEFERRED;
}

int tmi_cmd_export(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    tm_plant_t plant;
    tm_plant_chunk_t hdr;
    size_t next_actor = 0;
    size_t next_link = 0;
    /* in a mesh every actor names its node, so that apply places it */
    int rc = tm_plan_export(ctx->rt, s_base(req->cmd->path),
                            ctx->mesh != NULL ? ctx->name : NULL, &plant);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "cannot export the mesh: %s",
                              tm_err_str(rc));
    }
    if (s_over_mesh(ctx, req)) {
        return s_export_mesh(ctx, req, &plant);
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
