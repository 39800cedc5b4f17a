/* tm_cmd_links: link and unlink. */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_mesh.h"

/* The console checks --delay against the runtime's limit without linking
 * the runtime. */
_Static_assert(TM_CMD_DELAY_MAX == TM_RT_DELAY_MAX,
               "link --delay and the runtime disagree on the longest delay");

int tmi_cmd_link(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    bool add = cmd->kind == TM_CMD_LINK;
    const char *S = cmd->src.actor, *O = cmd->src.port;
    const char *D = cmd->dst.actor, *I = cmd->dst.port;
    uint32_t delay = cmd->delay == 0 ? 1 : cmd->delay;
    char why[TM_MUT_WHY_MAX];
    int rc = tm_mut_link(ctx->mut, add, S, O, D, I, delay, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "src", S);
    tm_body_kv_str(b, "output", O);
    tm_body_kv_str(b, "dst", D);
    tm_body_kv_str(b, "input", I);
    if (add) {
        tm_body_kv_u64(b, "delay", delay);
    }
    tm_body_end(b);
    if (add && delay > 1) {
        tm_reply_msg(rep, "linked %s.%s -> %s.%s (delay %u ticks)", S, O, D, I,
                     delay);
    } else {
        tm_reply_msg(rep, "%s %s.%s -> %s.%s", add ? "linked" : "unlinked", S,
                     O, D, I);
    }
    rc = tm_reply_done(rep);
    if (rc == 0 && ctx->mesh != NULL && tm_mesh_unsettled(ctx->mesh)) {
        /* a source on another node: acknowledged once its node has
         * confirmed the values flow (a run started next reads them) */
        tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
        if (later != NULL) {
            size_t len = 0;
            const uint8_t *body = tm_reply_bytes(rep, &len);
            tm_mesh_settle(ctx->mesh, later, rep->message, body, len);
            return TM_CONSOLE_DEFERRED;
        }
    }
    return rc;
}
