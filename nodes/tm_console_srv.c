/* tm_console_srv: the node's console server, as a service. */
#include "tm_console_srv.h"

#include "tm_err.h"
#include "tm_time.h"
#include "tm_log.h"
#include "tm_mesh.h"
#include "tm_msg.h"
#include "tm_parked.h"
#include "tm_sock.h"
#include "tm_stage.h"
#include "tm_zwatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_IDENT_MAX    256u
#define S_STREAMS_MAX  64u
#define S_SERVICE_S    0.1  /* period of the stream timer */
#define S_KEEPALIVE_S  1.0  /* idle streams get a nil item this often */
#define S_FAST_WATCH_S 0.05 /* per-tick items in fast mode: at most 20/s */
#define S_RT_WATCH_MIN 0.01 /* realtime: at most 100 items/s */
#define S_BUDGET       64u  /* requests handled per loop iteration */

/* A console peer: its ROUTER routing id and the request being answered. */
typedef struct {
    uint8_t id[S_IDENT_MAX];
    size_t len;
    uint64_t seq;
    char name[TM_MSG_NAME_MAX + 1]; /* envelope source of the request */
} s_peer_t;

typedef struct {
    tm_console_stream_t def;
    s_peer_t peer;
    tm_console_later_t *sink; /* else the items go to peer */
    tm_cmd_t cmd;
    uint64_t sent;      /* items sent */
    uint64_t last_tick; /* tick of the last per-tick item */
    double last_sent;   /* monotonic seconds */
    double next_at;     /* interval streams: next item */
} s_stream_t;

struct tm_console_srv {
    tm_console_ctx_t *ctx;
    void *sock;
    char bound[1100]; /* the address bound */
    struct ev_loop *loop;
    tm_zwatch_t watch;
    ev_timer service;
    s_stream_t *streams[S_STREAMS_MAX];
    size_t n_streams;
    tm_reply_t rep;    /* the reply to the request being handled */
    tm_reply_t item;   /* stream items, which a request may cause */
    tm_stage_t *stage; /* plants uploaded for apply and diff */
    uint64_t requests;
    uint64_t errors;
    uint64_t dropped;
    /* Changes that came while a checkpoint was being written, in order:
     * run once the writer is free (who: the s_peer_t that asked). */
    tm_parked_t parked;
    bool (*busy)(void *arg); /* whether a checkpoint is in flight */
    void *busy_arg;
};

/* ---- sending ------------------------------------------------------------ */

/* Send one reply frame to a peer. TM_ERR_CLOSED when the peer is gone
 * (ROUTER_MANDATORY), TM_ERR_BUSY at the high-water mark: both counted as
 * drops. */
static int s_send(tm_console_srv_t *s, const s_peer_t *p, int status,
                  const char *message, bool more, const uint8_t *body,
                  size_t body_len)
{
    uint8_t *payload = NULL;
    uint8_t *frame = NULL;
    size_t plen = 0;
    size_t flen = 0;
    tm_envelope_t env;
    int rc = tm_console_rep_encode(status, NULL, message, more ? 1 : 0, body,
                                   body_len, &payload, &plen);
    if (rc != 0) {
        /* A body that does not encode is a bug here, not the console's
         * fault: tell it so rather than leave it waiting. */
        tm_log(TM_LOG_ERROR, "node: cannot encode a reply (%s)",
               tm_err_str(rc));
        status = TM_ERR_INTERNAL;
        rc = tm_console_rep_encode(status, NULL,
                                   "internal error: the node could not encode "
                                   "its reply",
                                   more ? 1 : 0, NULL, 0, &payload, &plen);
    }
    if (rc == 0) {
        memset(&env, 0, sizeof env);
        env.version = TM_PROTO_VERSION;
        env.type = TM_MSG_CONSOLE_REP;
        snprintf(env.source, sizeof env.source, "%s", s->ctx->name);
        snprintf(env.destination, sizeof env.destination, "%s", p->name);
        env.tick = tm_rt_tick(s->ctx->rt);
        env.seq = p->seq;
        rc = tm_envelope_encode(&env, payload, plen, &frame, &flen);
    }
    if (rc == 0) {
        if (zmq_send(s->sock, p->id, p->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(s->sock, frame, flen, ZMQ_DONTWAIT) < 0) {
            rc = tm_sock_err();
        }
    }
    if (rc != 0) {
        s->dropped++;
        tm_log(TM_LOG_DEBUG, "node: reply to a console dropped: %s",
               tm_err_str(rc));
    }
    if (status != 0) {
        s->errors++;
    }
    free(payload);
    free(frame);
    return rc;
}

static int s_send_rep(tm_console_srv_t *s, const s_peer_t *p, tm_reply_t *rep,
                      bool more)
{
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(rep, &len);
    return s_send(s, p, rep->status, rep->message, more, body, len);
}

static void s_reply_error(tm_console_srv_t *s, const s_peer_t *p, int status,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_reply_error(tm_console_srv_t *s, const s_peer_t *p, int status,
                          const char *fmt, ...)
{
    char msg[TM_CMD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_send(s, p, status, msg, false, NULL, 0);
}

/* ---- streams ------------------------------------------------------------ */

/* One reply of a stream: to its console, or to its sink (another node's
 * request). TM_ERR_CLOSED when the receiver has gone. */
static int s_stream_out(tm_console_srv_t *s, s_stream_t *st, int status,
                        const char *message, bool more, const uint8_t *body,
                        size_t len)
{
    if (st->sink == NULL) {
        return s_send(s, &st->peer, status, message, more, body, len);
    }
    st->sink->send(st->sink, status, message, more, body, len);
    return st->sink->gone ? TM_ERR_CLOSED : 0;
}

static int s_stream_out_rep(tm_console_srv_t *s, s_stream_t *st,
                            tm_reply_t *rep, bool more)
{
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(rep, &len);
    return s_stream_out(s, st, rep->status, rep->message, more, body, len);
}

static s_stream_t *s_stream_of(tm_console_srv_t *s, const s_peer_t *p,
                               size_t *at)
{
    for (size_t i = 0; i < s->n_streams; i++) {
        s_stream_t *st = s->streams[i];
        if (st->sink == NULL && st->peer.len == p->len &&
            memcmp(st->peer.id, p->id, p->len) == 0) {
            *at = i;
            return st;
        }
    }
    return NULL;
}

static void s_stream_remove(tm_console_srv_t *s, size_t i)
{
    if (s->streams[i]->sink != NULL) {
        s->streams[i]->sink->free(s->streams[i]->sink);
    }
    free(s->streams[i]);
    s->streams[i] = s->streams[--s->n_streams];
    s->streams[s->n_streams] = NULL;
}

/* End stream i with a final reply (more = false). A run is stopped: its
 * run_end sends the reply. */
static void s_stream_end(tm_console_srv_t *s, size_t i, int status,
                         const char *msg)
{
    s_stream_t *st = s->streams[i];
    if (st->def.final != NULL && s->ctx->sched != NULL) {
        tm_sched_run_stop(s->ctx->sched, status == 0 ? TM_ERR_CLOSED : status,
                          msg);
        return;
    }
    s_stream_out(s, st, status, msg, false, NULL, 0);
    s_stream_remove(s, i);
}

/* Send an item of stream *i; the stream is removed when it was the last
 * (count reached, an error) or the console went away. */
static void s_stream_send(tm_console_srv_t *s, size_t *i, tm_reply_t *rep)
{
    s_stream_t *st = s->streams[*i];
    if (rep->status != 0 && st->def.final != NULL && s->ctx->sched != NULL) {
        /* a run's item failed: end the run, whose final reply answers
         * (and removes this stream), rather than leave it running with
         * nobody told */
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", rep->message);
        tm_sched_run_stop(s->ctx->sched, rep->status, msg);
        return;
    }
    bool last = rep->status != 0 ||
                (st->cmd.count > 0 && st->sent + 1 >= st->cmd.count &&
                 st->def.final == NULL);
    int rc = s_stream_out_rep(s, st, rep, !last);
    st->sent++;
    st->last_sent = tm_time_now();
    if (last || (rc == TM_ERR_CLOSED && st->def.final == NULL)) {
        s_stream_remove(s, *i);
        return;
    }
    (*i)++;
}

/* A new stream to peer p or to sink (owned from here on). */
static int s_stream_add(tm_console_srv_t *s, tm_console_call_t *req,
                        const tm_console_stream_t *def, const s_peer_t *p,
                        tm_console_later_t *sink)
{
    int rc = s->n_streams >= S_STREAMS_MAX
                 ? tm_reply_error(req->rep, TM_ERR_BUSY,
                                  "too many streams open (%u); try again later",
                                  S_STREAMS_MAX)
                 : 0;
    s_stream_t *st = rc == 0 ? calloc(1, sizeof *st) : NULL;
    if (st == NULL) {
        if (sink != NULL) {
            sink->free(sink);
        }
        return rc != 0
                   ? rc
                   : tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    st->def = *def;
    if (p != NULL) {
        st->peer = *p;
    }
    st->sink = sink;
    st->cmd = *req->cmd;
    st->last_tick = tm_rt_tick(s->ctx->rt);
    st->next_at = tm_time_now() + def->interval;
    s->streams[s->n_streams++] = st;
    size_t i = s->n_streams - 1;
    s_stream_send(s, &i, req->rep); /* the first item */
    return TM_CONSOLE_DEFERRED;
}

static int s_stream_start(tm_console_call_t *req,
                          const tm_console_stream_t *def)
{
    return s_stream_add(req->server, req, def, req->peer, NULL);
}

/* ctx->stream_to: a stream answering another node's request. */
static int s_stream_to(void *arg, tm_console_call_t *req,
                       const tm_console_stream_t *def, tm_console_later_t *sink)
{
    if (def->final != NULL) {
        sink->free(sink);
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "a run is not streamed to another node");
    }
    return s_stream_add(arg, req, def, NULL, sink);
}

/* ctx->end_sink */
static bool s_end_sink(void *arg,
                       bool (*match)(const tm_console_later_t *l,
                                     const void *key),
                       const void *key)
{
    tm_console_srv_t *s = arg;
    for (size_t i = 0; i < s->n_streams; i++) {
        if (s->streams[i]->sink != NULL && match(s->streams[i]->sink, key)) {
            s_stream_end(s, i, 0, "cancelled");
            return true;
        }
    }
    return false;
}

/* Whether an answer for later goes to console peer key. */
static bool s_later_is(const tm_console_later_t *l, const void *key);

static bool s_cancel(tm_console_call_t *req)
{
    tm_console_srv_t *s = req->server;
    size_t at = 0;
    s_stream_t *st = s_stream_of(s, req->peer, &at);
    if (st == NULL) {
        /* a stream from another node (a forwarded watch) */
        return s->ctx->mesh != NULL &&
               tm_mesh_forward_cancel(s->ctx->mesh, s_later_is, req->peer);
    }
    s_stream_end(s, at, st->def.final != NULL ? TM_ERR_CLOSED : 0,
                 st->def.final != NULL ? "run cancelled" : "cancelled");
    return true;
}

static int s_emit(tm_console_call_t *req)
{
    tm_console_srv_t *s = req->server;
    int rc = s_send_rep(s, req->peer, req->rep, true);
    tm_wire_buf_clear(&req->rep->buf);
    req->rep->has_body = false;
    return rc;
}

/* Per-tick items go out at most every this many seconds: 100/s in
 * realtime, 20/s (the latest tick) in fast mode and during runs. */
static double s_min_gap(const tm_console_srv_t *s)
{
    if (s->ctx->sched == NULL) {
        return S_RT_WATCH_MIN;
    }
    bool fast = strcmp(tm_sched_label(s->ctx->sched), "run") == 0 ||
                tm_sched_mode(s->ctx->sched) == TM_CLOCK_FAST;
    return fast ? S_FAST_WATCH_S : S_RT_WATCH_MIN;
}

/* Per-tick items of every stream that has not seen `tick` and whose last
 * item is at least min_gap old. */
static void s_per_tick_items(tm_console_srv_t *s, uint64_t tick)
{
    double now = tm_time_now();
    double min_gap = s_min_gap(s);
    for (size_t i = 0; i < s->n_streams;) {
        s_stream_t *st = s->streams[i];
        if (!st->def.per_tick || st->last_tick == tick ||
            now - st->last_sent < min_gap) {
            i++;
            continue;
        }
        st->def.item(s->ctx, &st->cmd, &s->item);
        st->last_tick = tick;
        s_stream_send(s, &i, &s->item);
    }
}

/* Items for the ticks just stepped. */
static void s_after_tick(void *arg, uint64_t tick)
{
    s_per_tick_items(arg, tick);
}

/* The run ended: its stream's final reply. */
static void s_run_end(void *arg, int status, const char *why)
{
    tm_console_srv_t *s = arg;
    for (size_t i = 0; i < s->n_streams; i++) {
        s_stream_t *st = s->streams[i];
        if (st->def.final != NULL) {
            st->def.final(s->ctx, &st->cmd, &s->item, status, why);
            s_stream_out_rep(s, st, &s->item, false);
            s_stream_remove(s, i);
            return;
        }
    }
}

static void s_parked_keepalive(void *arg, tm_parked_req_t *r);

/* Timer work: interval items and keepalives. */
static void s_service_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_console_srv_t *s = w->data;
    /* the last ticks of a chunk that came too soon after an item: the
     * values the clock stopped at are sent too */
    s_per_tick_items(s, tm_rt_tick(s->ctx->rt));
    double now = tm_time_now();
    tm_stage_expire(s->stage, now);
    tm_parked_keepalive(&s->parked, now, s_parked_keepalive, s);
    for (size_t i = 0; i < s->n_streams;) {
        s_stream_t *st = s->streams[i];
        if (!st->def.per_tick && now >= st->next_at) {
            st->next_at = now + st->def.interval;
            st->def.item(s->ctx, &st->cmd, &s->item);
            s_stream_send(s, &i, &s->item);
            continue;
        }
        if (now - st->last_sent >= S_KEEPALIVE_S) {
            /* nil body, more = true: "still here"; also finds consoles
             * that went away (the send fails). */
            int rc = s_stream_out(s, st, 0, "", true, NULL, 0);
            st->last_sent = now;
            if (rc == TM_ERR_CLOSED && st->def.final == NULL) {
                s_stream_remove(s, i);
                continue;
            }
        }
        i++;
    }
}

/* ---- requests ----------------------------------------------------------- */

/* An answer from another node, sent when it comes. */
typedef struct {
    tm_console_later_t base;
    tm_console_srv_t *s;
    s_peer_t peer;
    char name[TM_MSG_NAME_MAX + 1]; /* the command, for the log */
    bool mutates;
} s_later_t;

static void s_later_send(tm_console_later_t *l, int status, const char *msg,
                         bool more, const uint8_t *body, size_t len)
{
    s_later_t *x = (s_later_t *)l;
    x->base.gone =
        s_send(x->s, &x->peer, status, msg, more, body, len) == TM_ERR_CLOSED;
    if (!more && x->mutates) {
        if (status == 0) {
            tm_log(TM_LOG_INFO, "console: %s", msg);
        } else {
            tm_log(TM_LOG_WARN, "console: %s refused: %s", x->name, msg);
        }
    }
}

static void s_later_free(tm_console_later_t *l)
{
    free(l);
}

static bool s_later_is(const tm_console_later_t *l, const void *key)
{
    const s_peer_t *p = key;
    const s_later_t *x = (const s_later_t *)l;
    return l->send == s_later_send && x->peer.len == p->len &&
           memcmp(x->peer.id, p->id, p->len) == 0;
}

static tm_console_later_t *s_later(tm_console_call_t *req)
{
    s_later_t *x = calloc(1, sizeof *x);
    if (x == NULL) {
        return NULL;
    }
    x->base.send = s_later_send;
    x->base.free = s_later_free;
    x->s = req->server;
    x->peer = *(const s_peer_t *)req->peer;
    snprintf(x->name, sizeof x->name, "%s", req->cmd->info->name);
    x->mutates = (req->cmd->info->flags & TM_CMD_F_MUTATES) != 0;
    return &x->base;
}

static void s_handle_cmd(tm_console_srv_t *s, const s_peer_t *p, tm_cmd_t *cmd,
                         const tm_console_req_t *raw)
{
    size_t at = 0;
    if (cmd->kind != TM_CMD_CANCEL && s_stream_of(s, p, &at) != NULL) {
        /* One stream per console: a new request ends the previous one. */
        s_stream_end(s, at, 0, "stream ended by a new request");
    }
    tm_console_call_t req = {.cmd = cmd,
                             .rep = &s->rep,
                             .emit = s_emit,
                             .stream = s_stream_start,
                             .cancel = s_cancel,
                             .later = s_later,
                             .server = s,
                             .peer = p,
                             .argc = (int)raw->argc,
                             .argv = (const char *const *)raw->argv};
    if ((cmd->info->flags & TM_CMD_F_UPLOAD) && cmd->upload != 0) {
        char why[TM_CMD_MSG_MAX];
        req.plant = tm_stage_get(s->stage, p->id, p->len, cmd->upload,
                                 tm_time_now(), why, sizeof why);
        if (req.plant == NULL) {
            s_reply_error(s, p, TM_ERR_NOT_FOUND, "%s: %s", cmd->info->name,
                          why);
            return;
        }
    }
    if ((cmd->info->flags & TM_CMD_F_FILE) && cmd->upload != 0) {
        char why[TM_CMD_MSG_MAX];
        int frc =
            tm_stage_file(s->stage, p->id, p->len, cmd->upload, &req.file_name,
                          &req.file_data, &req.file_len, why, sizeof why);
        if (frc != 0) {
            s_reply_error(s, p, frc, "%s: %s", cmd->info->name, why);
            return;
        }
    }
    int rc = tm_console_exec(s->ctx, &req);
    if (req.plant != NULL || req.file_name != NULL) {
        tm_stage_drop(s->stage, p->id, p->len); /* used: gone */
    }
    if (rc == TM_CONSOLE_DEFERRED) {
        return;
    }
    s_send_rep(s, p, &s->rep, false);
    if (cmd->info->flags & TM_CMD_F_MUTATES) {
        if (rc == 0) {
            tm_log(TM_LOG_INFO, "console: %s", s->rep.message);
        } else {
            tm_log(TM_LOG_WARN, "console: %s refused: %s", cmd->info->name,
                   s->rep.message);
        }
    }
}

/* One chunk of a plant upload: staged, and answered with what it held. */
static void s_handle_chunk(tm_console_srv_t *s, const s_peer_t *p,
                           const tm_envelope_t *env)
{
    char why[TM_CMD_MSG_MAX];
    tm_plant_chunk_t h;
    int rc =
        tm_stage_chunk(s->stage, p->id, p->len, env->payload, env->payload_len,
                       tm_time_now(), &h, why, sizeof why);
    if (rc != 0) {
        s_reply_error(s, p, rc, "%s", why);
        return;
    }
    tm_reply_reset(&s->rep);
    tm_body_t *b = tm_reply_body(&s->rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "upload", h.upload);
    tm_body_kv_u64(b, "index", h.index);
    tm_body_kv_u64(b, "actors", h.actors);
    tm_body_kv_u64(b, "links", h.links);
    tm_body_kv_bool(b, "final", h.final);
    tm_body_end(b);
    tm_reply_msg(&s->rep, "staged chunk %u of upload %llu", h.index,
                 (unsigned long long)h.upload);
    tm_reply_done(&s->rep);
    s_send_rep(s, p, &s->rep, false);
}

/* One chunk of a file upload (models load): staged and acknowledged. */
static void s_handle_file_chunk(tm_console_srv_t *s, const s_peer_t *p,
                                const tm_envelope_t *env)
{
    char why[TM_CMD_MSG_MAX];
    tm_file_chunk_t h;
    int rc = tm_stage_file_chunk(s->stage, p->id, p->len, env->payload,
                                 env->payload_len, tm_time_now(), &h, why,
                                 sizeof why);
    if (rc != 0) {
        s_reply_error(s, p, rc, "%s", why);
        return;
    }
    tm_reply_reset(&s->rep);
    tm_body_t *b = tm_reply_body(&s->rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "upload", h.upload);
    tm_body_kv_u64(b, "index", h.index);
    tm_body_kv_u64(b, "bytes", h.len);
    tm_body_kv_bool(b, "final", h.final);
    tm_body_end(b);
    tm_reply_msg(&s->rep, "staged chunk %u of file upload %llu", h.index,
                 (unsigned long long)h.upload);
    tm_reply_done(&s->rep);
    s_send_rep(s, p, &s->rep, false);
}

/* ---- changes that wait for the writer ----------------------------------- */

/* A change that comes while a checkpoint is being written (or behind
 * changes that wait for one) waits too, as its frame, instead of holding
 * the loop until the writer is free: ticks, reads and other consoles go
 * on, and it runs, in order, when the checkpoint is durable
 * (tm_console_srv_drain). true if parked or refused. */
static bool s_park(tm_console_srv_t *s, const s_peer_t *p, const tm_cmd_t *cmd,
                   const uint8_t *buf, size_t len)
{
    if (!(cmd->info->flags & TM_CMD_F_MUTATES) || s->parked.draining ||
        s->busy == NULL || (s->parked.n == 0 && !s->busy(s->busy_arg))) {
        return false;
    }
    tm_parked_req_t *w = NULL;
    if (tm_parked_push(&s->parked, p, sizeof *p, buf, len, &w) != 0) {
        s_reply_error(s, p, TM_ERR_BUSY,
                      "%s: %zu changes already wait for the checkpoint being "
                      "written; nothing was changed, try again",
                      cmd->info->name, s->parked.n);
        tm_log(TM_LOG_WARN, "console: %s refused: %zu changes wait",
               cmd->info->name, s->parked.n);
        return true;
    }
    /* at once: the console learns the node has it, whatever its timeout */
    w->gone = s_send(s, p, 0, "", true, NULL, 0) == TM_ERR_CLOSED;
    return true;
}

static void s_handle_frame(tm_console_srv_t *s, s_peer_t *p, const uint8_t *buf,
                           size_t len);

/* One waiting change, the writer free: run unless its console went away
 * (found by a keepalive now, just before). */
static void s_parked_run(void *arg, tm_parked_req_t *r)
{
    tm_console_srv_t *s = arg;
    s_peer_t *p = r->who;
    r->gone = r->gone || s_send(s, p, 0, "", true, NULL, 0) == TM_ERR_CLOSED;
    if (r->gone) {
        tm_log(TM_LOG_WARN, "console: a change from a console that went "
                            "away while it waited was not made");
    } else {
        s_handle_frame(s, p, r->frame, r->len);
    }
}

void tm_console_srv_drain(void *arg)
{
    tm_console_srv_t *s = arg;
    tm_parked_drain(&s->parked, s->busy, s->busy_arg, s_parked_run, s);
}

bool tm_console_srv_waiting(void *arg)
{
    return ((tm_console_srv_t *)arg)->parked.n > 0;
}

void tm_console_srv_writer(tm_console_srv_t *s, bool (*busy)(void *arg),
                           void *arg)
{
    s->busy = busy;
    s->busy_arg = arg;
}

/* A keepalive to a waiting change's console when it is queued, each
 * TM_PARKED_KEEPALIVE_S and just before it runs (a nil body, more = true,
 * as for streams): the console waits on; one that went away is found by
 * the failed send and its change is not run. */
static void s_parked_keepalive(void *arg, tm_parked_req_t *r)
{
    if (!r->gone) {
        r->gone = s_send(arg, r->who, 0, "", true, NULL, 0) == TM_ERR_CLOSED;
    }
}

/* Stopping: what waits is not done, and says so. */
static void s_parked_stop(void *arg, tm_parked_req_t *r)
{
    if (!r->gone) {
        s_reply_error(arg, r->who, TM_ERR_CLOSED,
                      "node stopping: the change waited for a checkpoint and "
                      "was not made");
    }
}

/* One request frame from a peer. */
static void s_handle_frame(tm_console_srv_t *s, s_peer_t *p, const uint8_t *buf,
                           size_t len)
{
    tm_envelope_t env;
    tm_console_req_t req;
    tm_cmd_t cmd;
    char err[TM_CMD_MSG_MAX];
    memset(&req, 0, sizeof req);
    snprintf(p->name, sizeof p->name, "console");
    p->seq = 0;
    int rc = tm_envelope_decode(buf, len, NULL, &env);
    if (rc != 0 && rc != TM_ERR_WIRE_MSGTYPE) {
        s_reply_error(s, p, rc, "malformed request: %s", tm_err_str(rc));
        return;
    }
    p->seq = env.seq;
    snprintf(p->name, sizeof p->name, "%s", env.source);
    if (env.type == TM_MSG_PLANT_CHUNK) {
        s_handle_chunk(s, p, &env);
        return;
    }
    if (env.type == TM_MSG_FILE_CHUNK) {
        s_handle_file_chunk(s, p, &env);
        return;
    }
    if (env.type != TM_MSG_CONSOLE_REQ) {
        s_reply_error(s, p, TM_ERR_WIRE_MSGTYPE,
                      "malformed request: message type %u is not a console "
                      "request",
                      env.type);
        return;
    }
    rc = tm_console_req_decode(env.payload, env.payload_len, NULL, &req);
    if (rc != 0) {
        s_reply_error(s, p, rc, "malformed request: %s", tm_err_str(rc));
        return;
    }
    rc = tm_cmd_parse((int)req.argc, (const char *const *)req.argv, &cmd, err,
                      sizeof err);
    if (rc != 0) {
        s_reply_error(s, p, rc, "%s", err);
    } else if (!s_park(s, p, &cmd, buf, len)) {
        s_handle_cmd(s, p, &cmd, &req);
    }
    tm_console_req_free(&req);
}

/* Read one whole message (routing id and frames) and answer it. */
static int s_one(void *arg, void *sock)
{
    tm_console_srv_t *s = arg;
    zmq_msg_t id, frame;
    zmq_msg_init(&id);
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        zmq_msg_close(&frame);
        return 1;
    }
    s_peer_t p;
    memset(&p, 0, sizeof p);
    p.len = zmq_msg_size(&id) < S_IDENT_MAX ? zmq_msg_size(&id) : S_IDENT_MAX;
    memcpy(p.id, zmq_msg_data(&id), p.len);
    /* Parts of a multipart message arrive together. */
    size_t frames = 0;
    bool got = false;
    bool more = zmq_msg_more(&id);
    if (more && zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) >= 0) {
        got = true;
        frames++;
        more = zmq_msg_more(&frame);
    }
    size_t extra = more ? tm_sock_drain(sock) : 0;
    zmq_msg_close(&id);
    s->requests++;
    frames += extra;
    if (frames > TM_SOCK_TRIM_FRAMES) {
        tm_log(TM_LOG_WARN,
               "console: a request of %zu frames dropped (one is expected)",
               frames);
    }
    if (!got || frames != 1) {
        s_reply_error(s, &p, TM_ERR_WIRE_MALFORMED,
                      "malformed request: expected exactly one frame, got %zu",
                      frames);
    } else {
        s_handle_frame(s, &p, zmq_msg_data(&frame), zmq_msg_size(&frame));
    }
    zmq_msg_close(&frame);
    return s->ctx->stopping != NULL && *s->ctx->stopping;
}

/* ---- service ------------------------------------------------------------ */

static int s_attach(void *self, struct ev_loop *loop)
{
    tm_console_srv_t *s = self;
    s->loop = loop;
    tm_zwatch_start(&s->watch, loop);
    ev_timer_start(loop, &s->service);
    return 0;
}

static uint64_t s_requests(void *a)
{
    return ((tm_console_srv_t *)a)->requests;
}

static uint64_t s_errors(void *a)
{
    return ((tm_console_srv_t *)a)->errors;
}

static uint64_t s_dropped(void *a)
{
    return ((tm_console_srv_t *)a)->dropped;
}

static uint64_t s_waiting(void *a)
{
    return ((tm_console_srv_t *)a)->parked.n;
}

static uint64_t s_waited(void *a)
{
    return ((tm_console_srv_t *)a)->parked.total;
}

static uint64_t s_streams(void *a)
{
    return ((tm_console_srv_t *)a)->n_streams;
}

static int s_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "console.requests", s_requests, self);
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "console.errors", s_errors, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "console.dropped", s_dropped, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "console.streams", s_streams, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "console.waiting", s_waiting, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "console.waited", s_waited, self);
    }
    return rc;
}

static void s_stop(void *self)
{
    tm_console_srv_t *s = self;
    while (s->n_streams > 0) {
        size_t i = s->n_streams - 1;
        if (s->streams[i]->def.final != NULL) {
            s_stream_remove(s, i); /* the scheduler answered the run */
            continue;
        }
        s_stream_end(s, i, TM_ERR_CLOSED, "node stopping");
    }
    tm_parked_clear(&s->parked, s_parked_stop, s);
    if (s->loop != NULL) {
        tm_zwatch_stop(&s->watch);
        ev_timer_stop(s->loop, &s->service);
    }
}

static void s_close(void *self)
{
    tm_console_srv_t *s = self;
    while (s->n_streams > 0) {
        s_stream_remove(s, s->n_streams - 1);
    }
    if (s->ctx->streams_arg == s) {
        s->ctx->stream_to = NULL;
        s->ctx->end_sink = NULL;
        s->ctx->streams_arg = NULL;
    }
    tm_parked_clear(&s->parked, s_parked_stop, s); /* empty if stopped */
    tm_sock_close(&s->sock);
    tm_stage_destroy(&s->stage);
    tm_reply_destroy(&s->rep);
    tm_reply_destroy(&s->item);
    free(s);
}

const char *tm_console_srv_endpoint(const tm_console_srv_t *s)
{
    return s->bound;
}

tm_service_t tm_console_srv_service(tm_console_srv_t *s)
{
    tm_service_t svc = {.name = "console",
                        .self = s,
                        .attach = s_attach,
                        .stats = s_stats,
                        .stop = s_stop,
                        .close = s_close};
    return svc;
}

int tm_console_srv_open(tm_console_srv_t **out, void *zctx,
                        const char *endpoint, tm_console_ctx_t *ctx, char *err,
                        size_t errlen)
{
    *out = NULL;
    tm_console_srv_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    s->ctx = ctx;
    ctx->stream_to = s_stream_to;
    ctx->end_sink = s_end_sink;
    ctx->streams_arg = s;
    tm_reply_init(&s->rep);
    tm_reply_init(&s->item);
    int rc = tm_stage_open(&s->stage);
    if (rc == 0) {
        rc = tm_sock_open(&s->sock, zctx, ZMQ_ROUTER, endpoint, TM_SOCK_BIND,
                          NULL);
    }
    if (rc == TM_ERR_BUSY) {
        snprintf(err, errlen,
                 "console endpoint %s is already in use (is another "
                 "twinmesh-node running? choose another with --console)",
                 endpoint);
    } else if (rc != 0) {
        snprintf(err, errlen, "cannot bind the console to %s: %s (%s)",
                 endpoint, tm_err_str(rc), zmq_strerror(zmq_errno()));
    }
    if (rc == 0 && tm_sock_endpoint(s->sock, s->bound, sizeof s->bound) != 0) {
        snprintf(s->bound, sizeof s->bound, "%s", endpoint);
    }
    if (rc == 0) {
        rc = tm_zwatch_init(&s->watch, s->sock, s_one, s, S_BUDGET);
        if (rc != 0) {
            snprintf(err, errlen, "cannot watch the console socket");
        }
    }
    if (rc == 0 && ctx->sched != NULL) {
        tm_sched_sub_t sub = {
            .arg = s, .after = s_after_tick, .run_end = s_run_end};
        rc = tm_sched_subscribe(ctx->sched, &sub);
    }
    if (rc != 0) {
        s_close(s);
        return rc;
    }
    ev_timer_init(&s->service, s_service_cb, S_SERVICE_S, S_SERVICE_S);
    s->service.data = s;
    *out = s;
    return 0;
}
