/* tm_cmd_clock: run, clock, cancel. */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh.h"

#include <stdio.h>

#define S_PROGRESS_S 1.0 /* run progress items */

static int s_no_clock(tm_reply_t *rep)
{
    return tm_reply_error(rep, TM_ERR_UNSUPPORTED, "no clock here");
}

/* A progress item of the run in progress. */
static int s_run_progress(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                          tm_reply_t *rep)
{
    tm_sched_run_t r;
    (void)cmd;
    tm_sched_run_info(ctx->sched, &r);
    tm_reply_reset(rep);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_bool(b, "progress", true);
    tm_body_kv_u64(b, "done", r.done);
    tm_body_kv_u64(b, "ticks", r.ticks);
    tm_body_kv_u64(b, "tick", tm_rt_tick(ctx->rt));
    tm_body_end(b);
    return tm_reply_done(rep);
}

/* The final reply of a run: what it did, or why it ended early. */
static void s_run_final(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_reply_t *rep, int status, const char *why)
{
    tm_sched_run_t r;
    (void)cmd;
    tm_sched_run_info(ctx->sched, &r);
    tm_reply_reset(rep);
    double el = r.elapsed_s;
    double tps = el > 0 ? (double)r.done / el : 0;
    double sps = el > 0 ? (double)r.steps / el : 0;
    uint64_t tick = tm_rt_tick(ctx->rt);
    const char *clock = tm_clock_name(tm_sched_mode(ctx->sched));
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "ticks", r.done);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_f64(b, "elapsed_s", el);
    tm_body_kv_f64(b, "ticks_per_s", tps);
    tm_body_kv_f64(b, "actor_steps_per_s", sps);
    tm_body_kv_u64(b, "actors", tm_rt_count(ctx->rt));
    tm_body_kv_str(b, "clock", clock);
    tm_body_end(b);
    tm_reply_msg(rep,
                 "ran %llu ticks in %.3f s (%.0f ticks/s, %.3g "
                 "actor-steps/s); tick %llu; clock %s",
                 (unsigned long long)r.done, el, tps, sps,
                 (unsigned long long)tick, clock);
    tm_reply_done(rep);
    if (status != 0) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", rep->message);
        tm_reply_error(rep, status, "%.200s; %.800s", why ? why : "", msg);
    }
}

int tmi_cmd_run(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    static const tm_console_stream_t def = {
        .item = s_run_progress, .final = s_run_final, .interval = S_PROGRESS_S};
    tm_reply_t *rep = req->rep;
    if (ctx->sched == NULL || req->stream == NULL) {
        return s_no_clock(rep);
    }
    tm_sched_run_t r;
    tm_sched_run_info(ctx->sched, &r);
    if (r.active) {
        return tm_reply_error(rep, TM_ERR_BUSY,
                              "a run is in progress (%llu of %llu ticks "
                              "done); wait for it, or change the clock to "
                              "stop it",
                              (unsigned long long)r.done,
                              (unsigned long long)r.ticks);
    }
    int rc = 0;
    if (ctx->mesh != NULL && !req->from_peer) {
        /* the whole mesh runs to one tick; this run ends when all are
         * there */
        uint64_t target = 0;
        char why[TM_CMD_MSG_MAX];
        rc = tm_mesh_run(ctx->mesh, req->cmd->ticks, &target, why, sizeof why);
        if (rc != 0) {
            return tm_reply_error(rep, rc, "cannot run the mesh: %s", why);
        }
        rc = tm_sched_run_to(ctx->sched, target);
    } else {
        rc = tm_sched_run(ctx->sched, req->cmd->ticks);
    }
    if (rc == TM_ERR_RANGE) {
        return tm_reply_error(rep, rc,
                              "cannot run %llu ticks from tick %llu: tick "
                              "numbers end at %llu",
                              (unsigned long long)req->cmd->ticks,
                              (unsigned long long)tm_rt_tick(ctx->rt),
                              (unsigned long long)UINT64_MAX);
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc, "cannot start the run: %s",
                              tm_err_str(rc));
    }
    /* An immediate progress item tells the console the node is there;
     * the final reply comes when the ticks are done. */
    s_run_progress(ctx, req->cmd, rep);
    tm_reply_msg(rep, "running %llu ticks from tick %llu",
                 (unsigned long long)req->cmd->ticks,
                 (unsigned long long)tm_rt_tick(ctx->rt));
    rc = req->stream(req, &def);
    if (rc != TM_CONSOLE_DEFERRED) {
        tm_sched_run_abort(ctx->sched); /* refused: the clock as it was */
    }
    return rc;
}

int tmi_cmd_clock(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    if (ctx->sched == NULL) {
        return s_no_clock(rep);
    }
    if (cmd->has_clock) {
        tm_sched_set_mode(ctx->sched, cmd->clock);
        if (ctx->mesh != NULL && !req->from_peer) {
            tm_mesh_clock(ctx->mesh, cmd->clock); /* every node */
        }
        tm_log(TM_LOG_INFO, "node: clock %s at tick %llu",
               tm_clock_name(cmd->clock),
               (unsigned long long)tm_rt_tick(ctx->rt));
    }
    const char *label = tm_sched_label(ctx->sched);
    uint64_t tick = tm_rt_tick(ctx->rt);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "clock", label);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_f64(b, "h", tm_rt_h(ctx->rt));
    tm_body_end(b);
    tm_reply_msg(rep, "clock %s at tick %llu", label, (unsigned long long)tick);
    return tm_reply_done(rep);
}

int tmi_cmd_cancel(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    (void)ctx;
    if (req->cancel != NULL && req->cancel(req)) {
        return TM_CONSOLE_DEFERRED; /* the stream's last reply answers */
    }
    tm_reply_msg(req->rep, "nothing to cancel");
    return 0;
}
