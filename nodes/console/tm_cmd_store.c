/* tm_cmd_store: backup. */
#include "tm_console.h"

#include "tm_err.h"

int tmi_cmd_backup(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    char why[TM_MUT_WHY_MAX];
    tm_reply_t *rep = req->rep;
    if (ctx->backup == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "backups are not offered here");
    }
    int rc = ctx->backup(ctx->backup_arg, req->cmd->path, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "dest", req->cmd->path);
    tm_body_kv_str(b, "node", ctx->name);
    tm_body_end(b);
    tm_reply_msg(rep, "%s", why);
    return tm_reply_done(rep);
}
