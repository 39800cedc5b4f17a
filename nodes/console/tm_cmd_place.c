/* tm_cmd_place: place - where actors run and why: each node's load and
 * where the next spawn without --node goes (per site and overall), or the
 * node of one actor and the reason its audit record gives. */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_mesh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NODES_MAX 72u

/* Every node as placement sees it, and each one's state ("up" for this
 * node alone). */
typedef struct {
    tm_place_node_t n[S_NODES_MAX];
    const char *state[S_NODES_MAX];
    size_t count;
} s_nodes_t;

static void s_gather(tm_console_ctx_t *ctx, s_nodes_t *g)
{
    tm_mesh_node_t all[S_NODES_MAX];
    if (ctx->mesh == NULL) {
        bool stopping = ctx->stopping != NULL && *ctx->stopping;
        double us = ctx->sched != NULL ? tm_sched_step_us(ctx->sched) : 0;
        g->n[0] =
            (tm_place_node_t){.name = ctx->name,
                              .site = ctx->site,
                              .alive = !stopping,
                              .actors = tm_rt_count(ctx->rt),
                              .step_us = us > 0 ? (uint64_t)(us + 0.5) : 0};
        g->state[0] = stopping ? "stopping" : "up";
        g->count = 1;
        return;
    }
    size_t n = tm_mesh_loads(ctx->mesh, g->n, S_NODES_MAX);
    size_t na = tm_mesh_nodes(ctx->mesh, all, S_NODES_MAX);
    g->count = n < S_NODES_MAX ? n : S_NODES_MAX;
    na = na < S_NODES_MAX ? na : S_NODES_MAX;
    for (size_t k = 0; k < g->count; k++) {
        g->state[k] = "?";
        for (size_t j = 0; j < na; j++) {
            if (strcmp(all[j].name, g->n[k].name) == 0) {
                g->state[k] = all[j].state;
                break;
            }
        }
    }
}

/* One entry of "next": where a spawn at site (NULL: any) would go. */
static void s_pack_next(tm_body_t *b, const s_nodes_t *g, const char *site)
{
    char why[TM_PLACE_WHY_MAX];
    size_t k = 0;
    int rc =
        tm_place_choose(g->n, g->count, site, NULL, 1, &k, why, sizeof why);
    tm_body_map(b);
    if (site != NULL) {
        tm_body_kv_str(b, "site", site);
    } else {
        tm_body_kv_nil(b, "site");
    }
    if (rc == 0) {
        tm_body_kv_str(b, "node", g->n[k].name);
    } else {
        tm_body_kv_nil(b, "node");
    }
    tm_body_kv_str(b, "why", why);
    tm_body_end(b);
}

static bool s_site_seen(const s_nodes_t *g, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        if (g->n[j].alive && strcmp(g->n[j].site, g->n[k].site) == 0) {
            return true;
        }
    }
    return false;
}

static int s_overview(tm_console_ctx_t *ctx, tm_reply_t *rep)
{
    s_nodes_t *g = calloc(1, sizeof *g);
    double load[S_NODES_MAX];
    double cost[S_NODES_MAX];
    bool alive[S_NODES_MAX];
    bool by_time = false;
    if (g == NULL) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    s_gather(ctx, g);
    for (size_t k = 0; k < g->count; k++) {
        alive[k] = g->n[k].alive;
    }
    tm_place_loads(g->n, g->count, alive, load, cost, &by_time);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "score", by_time ? "step_us" : "actors");
    tm_body_kv_array(b, "nodes");
    for (size_t k = 0; k < g->count; k++) {
        const tm_place_node_t *x = &g->n[k];
        tm_body_map(b);
        tm_body_kv_str(b, "name", x->name);
        tm_body_kv_str(b, "site", x->site);
        tm_body_kv_str(b, "state", g->state[k]);
        tm_body_kv_bool(b, "alive", x->alive);
        tm_body_kv_bool(b, "self", k == 0);
        tm_body_kv_u64(b, "actors", x->actors);
        tm_body_kv_u64(b, "step_us", x->step_us);
        tm_body_kv_u64(b, "pending", x->pending);
        if (x->alive) {
            tm_body_kv_f64(b, "load", load[k]);
        } else {
            tm_body_kv_nil(b, "load");
        }
        tm_body_end(b);
    }
    tm_body_end(b);
    tm_body_kv_array(b, "next");
    s_pack_next(b, g, NULL);
    for (size_t k = 0; k < g->count; k++) {
        if (g->n[k].alive && !s_site_seen(g, k)) {
            s_pack_next(b, g, g->n[k].site);
        }
    }
    tm_body_end(b);
    tm_body_end(b);
    tm_reply_msg(rep, "%zu node%s; load by %s", g->count,
                 g->count == 1 ? "" : "s",
                 by_time ? "projected step time" : "actor count");
    free(g);
    return tm_reply_done(rep);
}

/* ---- place ID ------------------------------------------------------------ */

/* The latest record that says why actor id runs here: its spawn (or the
 * spawn-many that made it) after its last kill, else the latest apply. */
typedef struct {
    const char *id;
    bool found, by_apply;
    tm_audit_rec_t spawn, apply;
} s_why_t;

static int s_why_cb(const tm_audit_rec_t *r, void *arg)
{
    s_why_t *w = arg;
    if (r->damaged) {
        return 0;
    }
    bool mine = r->has_actor && strcmp(r->actor, w->id) == 0;
    bool many = r->count > 0 && tmi_audit_in_many(r, w->id);
    if ((mine && strcmp(r->kind, "spawn") == 0) || many) {
        w->spawn = *r;
        w->found = true;
    } else if (mine && strcmp(r->kind, "kill") == 0) {
        w->found = false;
    } else if (!r->has_actor && strcmp(r->kind, "apply") == 0) {
        w->apply = *r;
        w->by_apply = true;
    }
    return 0;
}

static void s_pack_reason(tm_body_t *b, const tm_audit_rec_t *r,
                          const char *source)
{
    char when[40];
    tm_body_kv_str(b, "source", source);
    tm_body_kv_str(b, "kind", r->kind);
    tm_body_kv_u64(b, "tick", r->tick);
    tm_body_kv_str(b, "time", tm_audit_time(r->wall_ns, when, sizeof when));
    tm_body_kv_str(b, "who", r->who);
    tm_body_kv_str(b, "reason", r->reason);
}

static int s_actor(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep)
{
    tm_rt_actor_t a;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0 || a.remote) {
        return tmi_unknown_actor(rep, cmd->id);
    }
    s_why_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    w->id = cmd->id;
    int rc = ctx->store != NULL ? tm_audit_foreach(ctx->store, s_why_cb, w) : 0;
    if (rc != 0) {
        free(w);
        return tm_reply_error(rep, rc, "cannot read the audit log: %s",
                              tm_err_str(rc));
    }
    const tm_audit_rec_t *r = w->found      ? &w->spawn
                              : w->by_apply ? &w->apply
                                            : NULL;
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_str(b, "site", ctx->site);
    if (r != NULL) {
        s_pack_reason(b, r, w->found ? "spawn" : "apply");
    } else {
        tm_body_kv_nil(b, "source");
        tm_body_kv_str(b, "reason", "reason not recorded");
    }
    tm_body_end(b);
    tm_reply_msg(
        rep, "%s runs on node %s (site '%s'): %s%s", cmd->id, ctx->name,
        ctx->site, r == NULL ? "reason not recorded" : r->reason,
        r != NULL && !w->found ? " (the latest apply on this node)" : "");
    free(w);
    return tm_reply_done(rep);
}

int tmi_cmd_place(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    if (req->cmd->id[0] != '\0') {
        return s_actor(ctx, req->cmd, req->rep);
    }
    return s_overview(ctx, req->rep);
}
