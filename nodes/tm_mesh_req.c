/* tm_mesh_req: requests between nodes - console requests passed on to
 * the node that owns their actor and the answers relayed back, and the
 * requests peers send this node (forwarded commands, run through
 * tm_console_exec, and control requests: tm_mesh_ctl.c, tm_mesh_plan.c).
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FORWARD_S 60.0 /* a forwarded request's answer waits this long */

/* ---- forwarding --------------------------------------------------------- */

static void s_pending_end(tmi_pending_t *q, int status, const char *msg)
{
    if (status != 0 || msg != NULL) {
        q->later->send(q->later, status, msg, false, NULL, 0);
    }
    q->later->free(q->later);
    q->later = NULL;
    q->used = false;
}

/* Send request argv to p with sequence number seq. */
static int s_send_req(tm_mesh_t *m, tmi_peer_t *p, bool data, uint64_t seq,
                      int argc, const char *const *argv)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc = tm_console_req_encode((uint32_t)argc, argv, &payload, &len);
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, data, TM_MSG_CONSOLE_REQ, seq, payload, len);
    }
    free(payload);
    return rc;
}

/* Ask the owner to end the stream q waits on (`cancel` with q's seq). */
static void s_send_cancel(tm_mesh_t *m, tmi_pending_t *q)
{
    const char *argv[] = {"cancel"};
    (void)s_send_req(m, &m->peers[q->peer], false, q->seq, 1, argv);
}

void tmi_req_fail_pending(tm_mesh_t *m, const tmi_peer_t *p, int status,
                          const char *why)
{
    for (size_t i = 0; i < TMI_PENDING_MAX; i++) {
        tmi_pending_t *q = &m->pending[i];
        if (q->used && (p == NULL || q->peer == tmi_mesh_index(m, p))) {
            s_pending_end(q, status, why);
        }
    }
}

int tm_mesh_forward(tm_mesh_t *m, const char *name, int argc,
                    const char *const *argv, tm_console_later_t *later,
                    char *why, size_t cap)
{
    tmi_peer_t *p = tmi_mesh_peer(m, name);
    if (p == NULL) {
        snprintf(why, cap, "no node '%s' in the mesh (see `nodes`)", name);
        return TM_ERR_UNKNOWN_NODE;
    }
    if (p->state == TMI_DEAD) {
        snprintf(why, cap,
                 "node %s is dead (not heard from for %.1f s); the request "
                 "was not sent",
                 name, tm_time_now() - p->last_heard);
        return TM_ERR_NODE_DOWN;
    }
    tmi_pending_t *q = NULL;
    for (size_t i = 0; i < TMI_PENDING_MAX && q == NULL; i++) {
        q = m->pending[i].used ? NULL : &m->pending[i];
    }
    if (q == NULL) {
        snprintf(why, cap, "too many requests waiting on other nodes");
        return TM_ERR_BUSY;
    }
    uint64_t seq = ++m->next_seq;
    int rc = s_send_req(m, p, false, seq, argc, argv);
    if (rc != 0) {
        snprintf(why, cap, "cannot pass the request on to node %s: %s", name,
                 tm_err_str(rc));
        return rc;
    }
    *q = (tmi_pending_t){.seq = seq,
                         .peer = tmi_mesh_index(m, p),
                         .later = later,
                         .deadline = tm_time_now() + S_FORWARD_S,
                         .used = true};
    m->forwarded++;
    return 0;
}

uint64_t tmi_mesh_request(tm_mesh_t *m, tmi_peer_t *p, bool data, int argc,
                          const char *const *argv)
{
    uint64_t seq = ++m->next_seq;
    return s_send_req(m, p, data, seq, argc, argv) == 0 ? seq : 0;
}

void tmi_req_on_reply(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    tm_console_rep_t rep;
    if (tm_console_rep_decode(env->payload, env->payload_len, NULL, &rep) !=
        0) {
        m->malformed++;
        return;
    }
    if (tmi_sync_reply(m, p, env->seq, &rep) ||
        tmi_move_reply(m, p, env->seq, &rep) ||
        tmi_failover_reply(m, p, env->seq, &rep) ||
        tmi_ctl_reply(m, p, env->seq, &rep) ||
        tmi_plan_reply(m, p, env->seq, &rep) ||
        tmi_models_reply(m, p, env->seq, &rep)) {
        return;
    }
    for (size_t i = 0; i < TMI_PENDING_MAX; i++) {
        tmi_pending_t *q = &m->pending[i];
        if (!q->used || q->seq != env->seq || q->peer != tmi_mesh_index(m, p)) {
            continue;
        }
        char msg[TM_CMD_MSG_MAX];
        size_t n =
            rep.message_len < sizeof msg - 1 ? rep.message_len : sizeof msg - 1;
        memcpy(msg, rep.message, n);
        msg[n] = '\0';
        q->later->send(q->later, rep.status, msg, rep.more != 0, rep.body,
                       rep.body_len);
        q->deadline = tm_time_now() + S_FORWARD_S;
        if (!rep.more) {
            s_pending_end(q, 0, NULL);
        } else if (q->later->gone) {
            /* the console went away: end its stream at the owner */
            s_send_cancel(m, q);
            s_pending_end(q, 0, NULL);
        }
        return;
    }
}

/* ---- requests from peers ------------------------------------------------ */

typedef struct {
    tm_mesh_t *m;
    tmi_peer_t *p;
    uint64_t seq;
} s_from_t;

int tmi_mesh_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int status,
                   const char *msg, bool more, const uint8_t *body, size_t len)
{
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = tm_console_rep_encode(status, NULL, msg, more ? 1 : 0, body, len,
                                   &payload, &plen);
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REP, seq, payload, plen);
    }
    free(payload);
    return rc;
}

static int s_peer_emit(tm_console_call_t *req)
{
    s_from_t *f = req->server;
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(req->rep, &len);
    int rc = tmi_mesh_reply(f->m, f->p, f->seq, req->rep->status,
                            req->rep->message, true, body, len);
    tm_wire_buf_clear(&req->rep->buf);
    req->rep->has_body = false;
    return rc;
}

/* An answer to a peer's request that comes later (a link that waits for
 * its values to flow). */
typedef struct {
    tm_console_later_t base;
    tm_mesh_t *m;
    uint32_t peer;
    uint64_t seq;
} s_peer_later_t;

static void s_peer_later_send(tm_console_later_t *l, int status,
                              const char *msg, bool more, const uint8_t *body,
                              size_t len)
{
    s_peer_later_t *x = (s_peer_later_t *)l;
    tmi_peer_t *p = &x->m->peers[x->peer];
    if (p->state == TMI_DEAD || x->m->stopping) {
        l->gone = true; /* a stream to it ends */
        return;
    }
    tmi_mesh_reply(x->m, p, x->seq, status, msg, more, body, len);
}

static void s_peer_later_free(tm_console_later_t *l)
{
    free(l);
}

tm_console_later_t *tmi_mesh_later(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq)
{
    s_peer_later_t *x = calloc(1, sizeof *x);
    if (x == NULL) {
        return NULL;
    }
    x->base.send = s_peer_later_send;
    x->base.free = s_peer_later_free;
    x->m = m;
    x->peer = tmi_mesh_index(m, p);
    x->seq = seq;
    return &x->base;
}

static tm_console_later_t *s_peer_later(tm_console_call_t *req)
{
    s_from_t *f = req->server;
    return tmi_mesh_later(f->m, f->p, f->seq);
}

/* A stream for a peer's request (a watch forwarded to this node, the
 * actor's owner): served by the console server, items sent as replies
 * with more = true. */
static int s_peer_stream(tm_console_call_t *req, const tm_console_stream_t *def)
{
    s_from_t *f = req->server;
    tm_console_ctx_t *ctx = f->m->ctx;
    if (ctx->stream_to == NULL) {
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "node %s does not serve streams to other nodes",
                              f->m->name);
    }
    tm_console_later_t *sink = tmi_mesh_later(f->m, f->p, f->seq);
    if (sink == NULL) {
        return tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    return ctx->stream_to(ctx->streams_arg, req, def, sink);
}

static bool s_is_from(const tm_console_later_t *l, const void *key)
{
    const s_from_t *f = key;
    const s_peer_later_t *x = (const s_peer_later_t *)l;
    return l->send == s_peer_later_send &&
           x->peer == tmi_mesh_index(f->m, f->p) && x->seq == f->seq;
}

/* `cancel` from a peer, with the seq of the stream it asked for. */
static bool s_peer_cancel(tm_console_call_t *req)
{
    s_from_t *f = req->server;
    tm_console_ctx_t *ctx = f->m->ctx;
    return ctx->end_sink != NULL &&
           ctx->end_sink(ctx->streams_arg, s_is_from, f);
}

bool tm_mesh_forward_cancel(tm_mesh_t *m,
                            bool (*match)(const tm_console_later_t *l,
                                          const void *key),
                            const void *key)
{
    for (size_t i = 0; i < TMI_PENDING_MAX; i++) {
        tmi_pending_t *q = &m->pending[i];
        if (!q->used || !match(q->later, key)) {
            continue;
        }
        s_send_cancel(m, q);
        return true; /* the stream's last reply ends it */
    }
    return false;
}

void tmi_req_on_request(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    tm_console_req_t req;
    tm_cmd_t cmd;
    char err[TM_CMD_MSG_MAX];
    memset(&req, 0, sizeof req);
    int rc = tm_console_req_decode(env->payload, env->payload_len, NULL, &req);
    if (rc != 0) {
        m->malformed++;
        tmi_mesh_reply(m, p, env->seq, rc, "malformed request", false, NULL, 0);
        return;
    }
    if (strcmp(req.argv[0], "mesh-plan") == 0) {
        tmi_plan_request(m, p, env->seq, (int)req.argc,
                         (const char *const *)req.argv); /* answers itself */
        tm_console_req_free(&req);
        return;
    }
    if (strcmp(req.argv[0], "mesh-adopt") == 0 ||
        strcmp(req.argv[0], "mesh-moved") == 0) {
        tmi_move_request(m, p, env->seq, (int)req.argc,
                         (const char *const *)req.argv); /* answers itself */
        tm_console_req_free(&req);
        return;
    }
    bool repl = strcmp(req.argv[0], "mesh-repl-ack") == 0 ||
                strcmp(req.argv[0], "mesh-standby") == 0;
    bool take = strcmp(req.argv[0], "mesh-takeover") == 0;
    if (repl || take) {
        tm_reply_reset(&m->rep);
        if (repl) {
            tmi_repl_request(m, p, (int)req.argc, (const char *const *)req.argv,
                             &m->rep);
        } else {
            tmi_failover_request(m, p, (int)req.argc,
                                 (const char *const *)req.argv, &m->rep);
        }
    }
    if (repl || take ||
        tmi_ctl_request(m, p, (int)req.argc, (const char *const *)req.argv,
                        &m->rep)) {
        size_t blen = 0;
        const uint8_t *body = tm_reply_bytes(&m->rep, &blen);
        if (env->seq != 0) {
            tmi_mesh_reply(m, p, env->seq, m->rep.status, m->rep.message, false,
                           body, blen);
        }
        tm_console_req_free(&req);
        return;
    }
    rc = tm_cmd_parse((int)req.argc, (const char *const *)req.argv, &cmd, err,
                      sizeof err);
    if (rc != 0) {
        tmi_mesh_reply(m, p, env->seq, rc, err, false, NULL, 0);
        tm_console_req_free(&req);
        return;
    }
    if (cmd.kind == TM_CMD_CANCEL && tmi_wait_cancel(m, p, env->seq)) {
        tm_console_req_free(&req); /* a waiting change, now not made */
        return;
    }
    if (tmi_wait_park(m, p, env, &cmd)) {
        tm_console_req_free(&req); /* a checkpoint is being written */
        return;
    }
    s_from_t from = {m, p, env->seq};
    tm_console_call_t call = {.cmd = &cmd,
                              .rep = &m->rep,
                              .emit = s_peer_emit,
                              .stream = s_peer_stream,
                              .cancel = s_peer_cancel,
                              .later = s_peer_later,
                              .server = &from,
                              .argc = (int)req.argc,
                              .argv = (const char *const *)req.argv,
                              .from_peer = true,
                              .from_node = p->name};
    rc = tm_console_exec(m->ctx, &call);
    if (rc != TM_CONSOLE_DEFERRED) {
        size_t len = 0;
        const uint8_t *body = tm_reply_bytes(&m->rep, &len);
        tmi_mesh_reply(m, p, env->seq, m->rep.status, m->rep.message, false,
                       body, len);
        if (cmd.info->flags & TM_CMD_F_MUTATES) {
            tm_log(rc == 0 ? TM_LOG_INFO : TM_LOG_WARN, "mesh: from %s: %s%s",
                   p->name, rc == 0 ? "" : "refused: ", m->rep.message);
        }
    }
    tm_console_req_free(&req);
}

void tmi_req_expire(tm_mesh_t *m, double now)
{
    for (size_t i = 0; i < TMI_PENDING_MAX; i++) {
        tmi_pending_t *q = &m->pending[i];
        if (q->used && now > q->deadline) {
            s_pending_end(q, TM_ERR_TIMEOUT,
                          "no answer from the owning node within 60 s");
        }
    }
}
