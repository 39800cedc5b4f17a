/* Console handlers: rollout, rollout status, rollback (nodes/tm_rollout). */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_mesh.h"
#include "tm_rollout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* FAMILY@VERSION into its parts. */
static int s_spec(const char *spec, char *family, char *version, size_t cap)
{
    const char *at = strchr(spec, '@');
    if (at == NULL || at == spec || (size_t)(at - spec) >= cap ||
        strlen(at + 1) >= cap) {
        return TM_ERR_USAGE;
    }
    memcpy(family, spec, (size_t)(at - spec));
    family[at - spec] = '\0';
    snprintf(version, cap, "%s", at + 1);
    return 0;
}

/* In a mesh a rollout starts this many ticks ahead, so that every node
 * is still before that tick when the request reaches it. */
#define S_MESH_AHEAD 8u
#define S_ARGS_MAX   64

/* Send the request on to every other node (with --at when it had none);
 * returns how many. */
static uint32_t s_tell_mesh(tm_console_ctx_t *ctx, tm_console_call_t *req,
                            uint64_t at)
{
    const char *argv[S_ARGS_MAX + 2];
    char tick[32];
    int argc = 0;
    for (int i = 0; i < req->argc && argc < S_ARGS_MAX; i++) {
        argv[argc++] = req->argv[i];
    }
    if (req->cmd->at == 0) {
        snprintf(tick, sizeof tick, "%llu", (unsigned long long)at);
        argv[argc++] = "--at";
        argv[argc++] = tick;
    }
    return tm_mesh_broadcast(ctx->mesh, argc, argv);
}

int tmi_cmd_rollout(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    char family[TM_CMD_SPEC_MAX + 1];
    char version[TM_CMD_SPEC_MAX + 1];
    char why[TM_ROLLOUT_WHY_MAX] = "";
    if (ctx->rollout == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "rollouts are not served here");
    }
    if (s_spec(cmd->model, family, version, sizeof family) != 0) {
        return tm_reply_error(rep, TM_ERR_USAGE,
                              "rollout: give FAMILY@VERSION, got '%s'",
                              cmd->model);
    }
    tm_rollout_opts_t o = {
        .canary = cmd->canary ? (uint32_t)cmd->canary : 10,
        .shadow = cmd->shadow ? cmd->shadow : 100,
        .rmse = cmd->has_budget ? cmd->budget_rmse : INFINITY,
        .mape = cmd->has_budget ? cmd->budget_mape : INFINITY,
        .at = cmd->at};
    uint32_t sent = 0;
    int rc = tm_rollout_check(ctx->rollout, family, version, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why); /* not sent to the mesh */
    }
    if (ctx->mesh != NULL && !req->from_peer) {
        /* every node runs its part from the same tick */
        o.at = o.at ? o.at : tm_rt_tick(ctx->rt) + S_MESH_AHEAD;
        sent = s_tell_mesh(ctx, req, o.at);
    }
    size_t canary = 0, total = 0;
    rc = tm_rollout_start(ctx->rollout, family, version, &o, &canary, &total,
                          why);
    if (rc == TM_ERR_NOT_FOUND && sent > 0) {
        tm_reply_msg(rep,
                     "no actor of %s here; the rollout was sent to %u other "
                     "nodes (rollout status there)",
                     family, sent);
        return 0;
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "family", family);
    tm_body_kv_str(b, "to", version);
    tm_body_kv_u64(b, "canary", canary);
    tm_body_kv_u64(b, "actors", total);
    tm_body_kv_u64(b, "shadow", o.shadow);
    tm_body_end(b);
    tm_reply_msg(rep,
                 "rollout of %s@%s: shadow on %zu of %zu actors here for "
                 "%llu ticks from tick %llu%s (see rollout status)",
                 family, version, canary, total, (unsigned long long)o.shadow,
                 (unsigned long long)(o.at ? o.at : tm_rt_tick(ctx->rt)),
                 sent > 0 ? ", and on every other node" : "");
    return tm_reply_done(rep);
}

int tmi_cmd_rollout_status(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    if (ctx->rollout == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "rollouts are not served here");
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_rollout_pack(ctx->rollout,
                    req->cmd->model[0] != '\0' ? req->cmd->model : NULL,
                    ctx->mesh != NULL ? ctx->name : NULL, b);
    int rc = tm_reply_done(rep);
    if (rc != 0 || ctx->mesh == NULL || req->from_peer) {
        return rc; /* a peer asks for this node's part */
    }
    /* this node's rows, then every other node's */
    char why[TM_CMD_MSG_MAX];
    size_t len = 0;
    const uint8_t *own = tm_reply_bytes(rep, &len);
    tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
    rc = later == NULL ? TM_ERR_UNSUPPORTED
                       : tm_mesh_rows(ctx->mesh, req->argc, req->argv, own, len,
                                      NULL, later, why, sizeof why);
    if (rc != 0) {
        if (later != NULL) {
            later->free(later);
        }
        return tm_reply_error(rep, rc, "rollout status of the mesh: %s",
                              later != NULL ? why : "not served here");
    }
    return TM_CONSOLE_DEFERRED;
}

int tmi_cmd_rollback(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    char why[TM_ROLLOUT_WHY_MAX] = "";
    size_t n = 0;
    if (ctx->rollout == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "rollouts are not served here");
    }
    uint32_t sent = 0;
    if (ctx->mesh != NULL && !req->from_peer) {
        sent = tm_mesh_broadcast(ctx->mesh, req->argc, req->argv);
    }
    int rc = tm_rollout_rollback(ctx->rollout, cmd->model,
                                 cmd->to[0] != '\0' ? cmd->to : NULL, &n, why);
    if (rc == TM_ERR_NOT_FOUND && sent > 0) {
        tm_reply_msg(rep, "nothing to roll back here; sent to %u other nodes",
                     sent);
        return 0;
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "family", cmd->model);
    tm_body_kv_u64(b, "moved", n);
    tm_body_end(b);
    tm_reply_msg(rep, "rolled %s back: %zu actors moved", cmd->model, n);
    return tm_reply_done(rep);
}
