/* tm_cmd_info: help, nodes, stats, version. */
#include "tm_console.h"
#include "tm_mesh.h"

#include "tm_err.h"
#include "tm_models.h"
#include "tm_msg.h"
#include "tm_store.h"

#include <string.h>

int tmi_cmd_help(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    const tm_cmd_info_t *one = NULL;
    (void)ctx;
    if (cmd->topic[0] != '\0') {
        one = tm_cmd_lookup(cmd->topic);
        if (one == NULL) {
            return tm_reply_error(rep, TM_ERR_UNKNOWN_COMMAND,
                                  "unknown command '%s' (try help)",
                                  cmd->topic);
        }
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_array(b);
    for (size_t i = 0; i < n; i++) {
        if ((one != NULL && one != &t[i]) || (t[i].flags & TM_CMD_F_HIDDEN)) {
            continue;
        }
        tm_body_map(b);
        tm_body_kv_str(b, "name", t[i].name);
        tm_body_kv_str(b, "aliases", t[i].aliases);
        tm_body_kv_str(b, "usage", t[i].usage);
        tm_body_kv_str(b, "summary", t[i].summary);
        tm_body_end(b);
    }
    tm_body_end(b);
    return tm_reply_done(rep);
}

/* A node of the mesh as a peer sees it. */
static void s_pack_peer(tm_body_t *b, const tm_mesh_node_t *n, uint64_t top)
{
    tm_body_map(b);
    tm_body_kv_str(b, "name", n->name[0] != '\0' ? n->name : "?");
    tm_body_kv_str(b, "site", n->site);
    tm_body_kv_str(b, "state", n->state);
    tm_body_kv_u64(b, "actors", n->actors);
    tm_body_kv_u64(b, "tick", n->tick);
    tm_body_kv_u64(b, "lag", top - n->tick);
    tm_body_kv_str(b, "clock", n->clock);
    tm_body_kv_str(b, "mesh", n->endpoint);
    tm_body_kv_u64(b, "incarnation", n->incarnation);
    tm_body_kv_f64(b, "heard_s", n->heard_s);
    tm_body_end(b);
}

int tmi_cmd_nodes(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    tm_rt_stats_t st;
    tm_mesh_node_t nodes[72];
    size_t n = 0;
    uint64_t top = 0;
    tm_rt_stats(ctx->rt, &st);
    if (ctx->mesh != NULL) {
        n = tm_mesh_nodes(ctx->mesh, nodes, sizeof nodes / sizeof nodes[0]);
        n = n < sizeof nodes / sizeof nodes[0] ? n
                                               : sizeof nodes / sizeof nodes[0];
    }
    top = st.tick;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(nodes[i].state, "dead") != 0 && nodes[i].tick > top) {
            top = nodes[i].tick; /* lag: behind the fastest live node */
        }
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_array(b);
    tm_body_map(b);
    tm_body_kv_str(b, "name", ctx->name);
    tm_body_kv_str(b, "site", ctx->site);
    tm_body_kv_str(b, "state",
                   ctx->stopping != NULL && *ctx->stopping ? "stopping" : "up");
    tm_body_kv_u64(b, "actors", st.actors);
    tm_body_kv_u64(b, "tick", st.tick);
    tm_body_kv_u64(b, "lag", top - st.tick);
    tm_body_kv_str(b, "clock", tmi_clock_label(ctx));
    tm_body_kv_str(b, "endpoint", ctx->endpoint);
    tm_body_kv_str(b, "mesh", n > 0 ? nodes[0].endpoint : "");
    tm_body_kv_u64(b, "workers", st.workers);
    tm_body_kv_f64(b, "h", tm_rt_h(ctx->rt));
    tm_body_kv_bool(b, "self", true);
    tm_body_end(b);
    for (size_t i = 1; i < n; i++) {
        s_pack_peer(b, &nodes[i], top);
    }
    tm_body_end(b);
    char conflicts[4][200];
    size_t nc =
        ctx->mesh != NULL ? tm_mesh_conflicts(ctx->mesh, conflicts, 4) : 0;
    if (nc > 0) {
        tm_reply_msg(rep,
                     "%zu actor ids are claimed by two nodes (first: %s); "
                     "kill one copy of each",
                     nc, conflicts[0]);
    }
    return tm_reply_done(rep);
}

int tmi_cmd_why_stuck(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    if (ctx->mesh != NULL) {
        char why[TM_CMD_MSG_MAX];
        tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
        if (later == NULL) {
            return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                                  "why-stuck is not served here");
        }
        int rc = tm_mesh_why_stuck(ctx->mesh, later, why, sizeof why);
        if (rc != 0) {
            later->free(later);
            return tm_reply_error(rep, rc, "%s", why);
        }
        return TM_CONSOLE_DEFERRED;
    }
    /* a node on its own waits on nobody */
    const char *clock = tmi_clock_label(ctx);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_array(b);
    tm_body_map(b);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_str(b, "state", "up");
    tm_body_kv_str(b, "clock", clock);
    tm_body_kv_u64(b, "tick", tm_rt_tick(ctx->rt));
    tm_body_kv_str(b, "waiting_for", "");
    tm_body_kv_u64(b, "wait_tick", 0);
    tm_body_kv_str(b, "reason",
                   strcmp(clock, "paused") == 0
                       ? "paused: the clock is paused (a node outside any "
                         "mesh waits on no other node)"
                       : "stepping (a node outside any mesh waits on no "
                         "other node)");
    tm_body_end(b);
    tm_body_end(b);
    tm_reply_msg(rep, "0 of 1 nodes wait on another node");
    return tm_reply_done(rep);
}

int tmi_cmd_stats(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    if (ctx->stats == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "no statistics registry here");
    }
    tm_stats_pack(ctx->stats, tm_reply_body(rep));
    return tm_reply_done(rep);
}

int tmi_cmd_version(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_body_t *b = tm_reply_body(req->rep);
    tm_body_map(b);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_kv_u64(b, "protocol", TM_PROTO_VERSION);
    tm_body_kv_u64(b, "model_abi", TM_MODEL_ABI_VERSION);
    tm_body_kv_u64(b, "store_format", TM_STORE_FORMAT_VERSION);
    tm_body_end(b);
    return tm_reply_done(req->rep);
}
