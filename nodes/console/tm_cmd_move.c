/* migrate, drain and failover: actors that move to another node (the
 * mesh's tm_mesh_migrate, tm_mesh_drain and tm_mesh_failover run it; the
 * reply comes when done). */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_mesh.h"

#include <string.h>

static int s_no_mesh(tm_reply_t *rep, const char *what)
{
    return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                          "%s needs a mesh: this node runs alone (start nodes "
                          "with --mesh and --peer)",
                          what);
}

static tm_console_later_t *s_later(tm_console_call_t *req)
{
    return req->later != NULL ? req->later(req) : NULL;
}

int tmi_cmd_migrate(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    char why[TM_CMD_MSG_MAX];
    if (ctx->mesh == NULL) {
        return s_no_mesh(req->rep, "migrate");
    }
    tm_console_later_t *later = s_later(req);
    if (later == NULL) {
        return tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    int rc =
        tm_mesh_migrate(ctx->mesh, cmd->id, cmd->node, later, why, sizeof why);
    if (rc != 0) {
        later->free(later);
        return tm_reply_error(req->rep, rc, "cannot migrate %s: %s", cmd->id,
                              why);
    }
    return TM_CONSOLE_DEFERRED;
}

int tmi_cmd_drain(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    char why[TM_CMD_MSG_MAX];
    if (ctx->mesh == NULL) {
        return s_no_mesh(req->rep, "drain");
    }
    if (strcmp(cmd->node, ctx->name) != 0) {
        return tm_reply_error(req->rep, TM_ERR_UNKNOWN_NODE,
                              "unknown node '%s' (see `nodes`)", cmd->node);
    }
    tm_console_later_t *later = s_later(req);
    if (later == NULL) {
        return tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    int rc = tm_mesh_drain(ctx->mesh, later, why, sizeof why);
    if (rc != 0) {
        later->free(later);
        return tm_reply_error(req->rep, rc, "cannot drain %s: %s", cmd->node,
                              why);
    }
    return TM_CONSOLE_DEFERRED;
}

int tmi_cmd_failover(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    char why[TM_CMD_MSG_MAX];
    if (ctx->mesh == NULL) {
        return s_no_mesh(req->rep, "failover");
    }
    tm_console_later_t *later = s_later(req);
    if (later == NULL) {
        return tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    int rc = tm_mesh_failover(ctx->mesh, cmd->node, later, why, sizeof why);
    if (rc != 0) {
        later->free(later);
        return tm_reply_error(req->rep, rc, "cannot fail over %s: %s",
                              cmd->node, why);
    }
    return TM_CONSOLE_DEFERRED;
}
