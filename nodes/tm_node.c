/* tm_node: control loop of twinmesh-node (console, clock, checkpoints). */
#include "tm_node.h"

#include "tm_cmd.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_msg.h"
#include "tm_persist.h"
#include "tm_rt.h"
#include "tm_sock.h"
#include "tm_store.h"
#include "tm_writer.h"

#include <errno.h>
#include <ev.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_IDENT_MAX     256u
#define S_STREAMS_MAX   64u
#define S_CHUNK_S       0.010 /* target wall time of one stepping chunk */
#define S_CHUNK_MAX     1048576u
#define S_SERVICE_S     0.1  /* period of the service timer */
#define S_KEEPALIVE_S   1.0  /* idle streams get a nil item this often */
#define S_PROGRESS_S    1.0  /* run progress items */
#define S_FAST_WATCH_S  0.05 /* watch items in fast mode: at most 20/s */
#define S_RT_WATCH_MIN  0.01 /* realtime: at most 100 watch items/s */
#define S_TOP_DEFAULT_S 1.0

typedef enum { S_STREAM_WATCH, S_STREAM_TOP } s_stream_kind_t;

/* A console peer: its ROUTER routing id and the request being answered. */
typedef struct {
    uint8_t id[S_IDENT_MAX];
    size_t len;
    uint64_t seq;
    char name[TM_MSG_NAME_MAX + 1]; /* envelope source of the request */
} s_peer_t;

typedef struct {
    s_stream_kind_t kind;
    s_peer_t peer;
    tm_cmd_t cmd;
    uint64_t sent;      /* items sent */
    uint64_t last_tick; /* tick of the last watch item */
    double last_sent;   /* monotonic seconds */
    double next_at;     /* top: next refresh */
} s_stream_t;

struct tm_node {
    tm_config_t cfg;
    struct ev_loop *loop;
    void *zctx;
    void *console;
    tm_store_t *store;
    tm_rt_t *rt;
    tm_writer_t *writer;

    ev_io console_io;
    ev_prepare prepare;
    ev_idle idle;
    ev_timer tick_timer;
    ev_timer service;
    ev_signal sigterm;
    ev_signal sigint;
    ev_async writer_done;

    tm_clock_t clock;
    double rt_t0; /* realtime: monotonic time of tick rt_k0 */
    uint64_t rt_k0;
    double per_tick;        /* EMA of wall seconds per tick ... */
    size_t per_tick_actors; /* ... measured with this many actors */

    bool run_active;
    s_peer_t run_peer;
    uint64_t run_ticks;  /* requested */
    uint64_t run_start;  /* tick at start */
    uint64_t run_steps0; /* actor steps at start */
    double run_t0;
    double run_progress_at;

    s_stream_t *streams[S_STREAMS_MAX];
    size_t n_streams;

    uint64_t next_ckpt; /* next checkpoint tick (0: none due) */
    uint64_t ckpt_tick;
    uint64_t ckpt_count;
    uint64_t ckpt_failed;
    double ckpt_ms;

    uint64_t requests;
    uint64_t errors;
    uint64_t dropped;

    double started;
    double rate_at;
    uint64_t rate_steps;
    uint64_t rate_tick;
    double steps_per_s;
    double ticks_per_s;

    bool stopping;
    int fatal;          /* runtime failure */
    tm_cmd_reply_t rep; /* scratch reply */
};

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *s_clock_label(const tm_node_t *n)
{
    return n->run_active ? "run" : tm_clock_name(n->clock);
}

static double s_lag(const tm_node_t *n)
{
    if (n->clock != TM_CLOCK_REALTIME || n->run_active) {
        return 0;
    }
    double due =
        n->rt_t0 + (double)(tm_rt_tick(n->rt) - n->rt_k0) * tm_rt_h(n->rt);
    double lag = s_now() - due - tm_rt_h(n->rt);
    return lag > 0 ? lag : 0;
}

static void s_ctx(tm_node_t *n, tm_cmd_ctx_t *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->rt = n->rt;
    ctx->store = n->store;
    ctx->writer = n->writer;
    tm_cmd_node_info_t *in = &ctx->info;
    in->name = n->cfg.name;
    in->site = n->cfg.site;
    in->endpoint = n->cfg.endpoint;
    in->clock = s_clock_label(n);
    in->state = n->stopping ? "stopping" : "up";
    in->lag_s = s_lag(n);
    in->steps_per_s = n->steps_per_s;
    in->ticks_per_s = n->ticks_per_s;
    in->uptime_s = s_now() - n->started;
    in->ckpt_every = n->cfg.checkpoint;
    in->ckpt_tick = n->ckpt_tick;
    in->ckpt_count = n->ckpt_count;
    in->ckpt_failed = n->ckpt_failed;
    in->ckpt_ms = n->ckpt_ms;
    in->ckpt_pending = n->writer != NULL && tm_writer_busy(n->writer);
    in->requests = n->requests;
    in->errors = n->errors;
    in->dropped = n->dropped;
    in->streams = n->n_streams;
}

/* ---- sending ------------------------------------------------------------ */

/* Send one reply frame to a peer. TM_ERR_CLOSED when the peer is gone
 * (ROUTER_MANDATORY), TM_ERR_BUSY at the high-water mark: both counted as
 * drops. */
static int s_send(tm_node_t *n, const s_peer_t *p, int status,
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
        snprintf(env.source, sizeof env.source, "%s", n->cfg.name);
        snprintf(env.destination, sizeof env.destination, "%s", p->name);
        env.tick = tm_rt_tick(n->rt);
        env.seq = p->seq;
        rc = tm_envelope_encode(&env, payload, plen, &frame, &flen);
    }
    if (rc == 0) {
        if (zmq_send(n->console, p->id, p->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
                0 ||
            zmq_send(n->console, frame, flen, ZMQ_DONTWAIT) < 0) {
            rc = tm_sock_err();
        }
    }
    if (rc != 0) {
        n->dropped++;
        tm_log(TM_LOG_DEBUG, "node: reply to a console dropped: %s",
               tm_err_str(rc));
    }
    if (status != 0) {
        n->errors++;
    }
    free(payload);
    free(frame);
    return rc;
}

static int s_send_rep(tm_node_t *n, const s_peer_t *p, tm_cmd_reply_t *rep,
                      bool more)
{
    const uint8_t *body = NULL;
    size_t len = 0;
    if (rep->has_body && rep->status == 0) {
        body = (const uint8_t *)rep->body.sbuf.data;
        len = rep->body.sbuf.size;
    }
    return s_send(n, p, rep->status, rep->message, more, body, len);
}

typedef struct {
    tm_node_t *node;
    const s_peer_t *peer;
} s_emit_t;

static int s_emit(void *arg, tm_cmd_reply_t *part)
{
    s_emit_t *e = arg;
    int rc = s_send_rep(e->node, e->peer, part, true);
    tm_wire_buf_clear(&part->body);
    return rc;
}

/* ---- streams ------------------------------------------------------------ */

static s_stream_t *s_stream_of(tm_node_t *n, const s_peer_t *p, size_t *at)
{
    for (size_t i = 0; i < n->n_streams; i++) {
        s_stream_t *s = n->streams[i];
        if (s->peer.len == p->len && memcmp(s->peer.id, p->id, p->len) == 0) {
            *at = i;
            return s;
        }
    }
    return NULL;
}

static void s_stream_remove(tm_node_t *n, size_t i)
{
    free(n->streams[i]);
    n->streams[i] = n->streams[--n->n_streams];
    n->streams[n->n_streams] = NULL;
}

/* End stream i with a final reply (more = false). */
static void s_stream_end(tm_node_t *n, size_t i, int status, const char *msg)
{
    s_stream_t *s = n->streams[i];
    s_send(n, &s->peer, status, msg, false, NULL, 0);
    s_stream_remove(n, i);
}

static void s_stream_send(tm_node_t *n, size_t *i, tm_cmd_reply_t *rep)
{
    s_stream_t *s = n->streams[*i];
    bool last =
        rep->status != 0 || (s->cmd.count > 0 && s->sent + 1 >= s->cmd.count);
    int rc = s_send_rep(n, &s->peer, rep, !last);
    s->sent++;
    s->last_sent = s_now();
    if (last || rc == TM_ERR_CLOSED) {
        /* done, failed, or the console went away */
        s_stream_remove(n, *i);
        return;
    }
    (*i)++;
}

/* Send watch items for the ticks just stepped. */
static void s_streams_after_step(tm_node_t *n)
{
    tm_cmd_ctx_t ctx;
    double now = s_now();
    uint64_t tick = tm_rt_tick(n->rt);
    double min_gap = S_RT_WATCH_MIN;
    if (n->run_active || n->clock == TM_CLOCK_FAST) {
        min_gap = S_FAST_WATCH_S;
    }
    s_ctx(n, &ctx);
    for (size_t i = 0; i < n->n_streams;) {
        s_stream_t *s = n->streams[i];
        if (s->kind != S_STREAM_WATCH || s->last_tick == tick ||
            now - s->last_sent < min_gap) {
            i++;
            continue;
        }
        tm_cmd_watch_item(&ctx, &s->cmd, &n->rep);
        s->last_tick = tick;
        s_stream_send(n, &i, &n->rep);
    }
}

/* Timer work for streams: top refreshes and keepalives. */
static void s_streams_service(tm_node_t *n, double now)
{
    tm_cmd_ctx_t ctx;
    s_ctx(n, &ctx);
    for (size_t i = 0; i < n->n_streams;) {
        s_stream_t *s = n->streams[i];
        if (s->kind == S_STREAM_TOP && now >= s->next_at) {
            double every =
                s->cmd.interval > 0 ? s->cmd.interval : S_TOP_DEFAULT_S;
            s->next_at = now + every;
            tm_cmd_top_item(&ctx, s->cmd.limit, &n->rep);
            s_stream_send(n, &i, &n->rep);
            continue;
        }
        if (now - s->last_sent >= S_KEEPALIVE_S) {
            /* nil body, more = true: "still here"; also finds consoles
             * that went away (the send fails). */
            int rc = s_send(n, &s->peer, 0, "", true, NULL, 0);
            s->last_sent = now;
            if (rc == TM_ERR_CLOSED) {
                s_stream_remove(n, i);
                continue;
            }
        }
        i++;
    }
}

/* ---- checkpoints -------------------------------------------------------- */

static void s_writer_done(void *arg)
{
    tm_node_t *n = arg;
    ev_async_send(n->loop, &n->writer_done);
}

/* Count a checkpoint the writer finished. */
static void s_checkpoint_done(tm_node_t *n, const tm_writer_result_t *r)
{
    if (r->rc != 0) {
        n->ckpt_failed++;
        tm_log(TM_LOG_ERROR, "node: checkpoint at tick %llu failed: %s",
               (unsigned long long)r->tick, tm_err_str(r->rc));
        return;
    }
    n->ckpt_tick = r->tick;
    n->ckpt_count++;
    n->ckpt_ms = r->ms;
    tm_log(TM_LOG_DEBUG,
           "node: checkpoint at tick %llu: %zu records in %.1f ms",
           (unsigned long long)r->tick, r->records, r->ms);
}

static void s_collect_result(tm_node_t *n)
{
    tm_writer_result_t r;
    if (n->writer != NULL && tm_writer_poll(n->writer, &r)) {
        s_checkpoint_done(n, &r);
    }
}

static void s_writer_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    s_collect_result(w->data);
}

static void s_plan_checkpoint(tm_node_t *n)
{
    uint64_t every = n->cfg.checkpoint;
    if (every == 0) {
        n->next_ckpt = 0;
        return;
    }
    n->next_ckpt = (tm_rt_tick(n->rt) / every + 1) * every;
}

/* Build a checkpoint of the current tick and hand it to the writer. */
static int s_checkpoint(tm_node_t *n, bool wait)
{
    tm_store_batch_t *b = tm_store_batch_new(n->store);
    if (b == NULL) {
        return TM_ERR_NOMEM;
    }
    uint64_t tick = tm_rt_tick(n->rt);
    /* Stepping stalls only for the copy; records are encoded and committed
     * on the writer thread. */
    tm_persist_snap_t *snap = NULL;
    int rc = tm_persist_snapshot(n->rt, &snap);
    if (rc == 0) {
        tm_writer_wait(n->writer);
        s_collect_result(n);
        rc =
            tm_writer_submit_fill(n->writer, &b, tick, tm_persist_snapshot_fill,
                                  tm_persist_snapshot_free, snap);
        if (rc != 0) {
            tm_persist_snapshot_free(snap);
        }
    }
    tm_store_batch_destroy(&b);
    if (rc == 0 && wait) {
        tm_writer_wait(n->writer);
        tm_writer_result_t r;
        if (tm_writer_poll(n->writer, &r)) {
            s_checkpoint_done(n, &r);
            rc = r.rc;
        }
    }
    return rc;
}

static void s_maybe_checkpoint(tm_node_t *n)
{
    if (n->next_ckpt == 0 || tm_rt_tick(n->rt) < n->next_ckpt ||
        tm_writer_busy(n->writer)) {
        return; /* not due, or the previous one is still being written */
    }
    int rc = s_checkpoint(n, false);
    if (rc != 0) {
        n->ckpt_failed++;
        tm_log(TM_LOG_ERROR, "node: cannot build checkpoint: %s",
               tm_err_str(rc));
    }
    s_plan_checkpoint(n);
}

/* ---- run ---------------------------------------------------------------- */

static void s_run_body(tm_node_t *n, tm_cmd_reply_t *rep, bool progress)
{
    tm_rt_stats_t st;
    tm_rt_stats(n->rt, &st);
    uint64_t done = st.tick - n->run_start;
    double el = s_now() - n->run_t0;
    tm_cmd_reply_reset(rep);
    rep->has_body = true;
    msgpack_packer *pk = &rep->body.pk;
    if (progress) {
        msgpack_pack_map(pk, 4);
        tm_wire_pack_kv_bool(pk, "progress", 1);
        tm_wire_pack_kv_u64(pk, "done", done);
        tm_wire_pack_kv_u64(pk, "ticks", n->run_ticks);
        tm_wire_pack_kv_u64(pk, "tick", st.tick);
        return;
    }
    double steps = (double)(st.steps - n->run_steps0);
    msgpack_pack_map(pk, 7);
    tm_wire_pack_kv_u64(pk, "ticks", done);
    tm_wire_pack_kv_u64(pk, "tick", st.tick);
    tm_wire_pack_kv_f64(pk, "elapsed_s", el);
    tm_wire_pack_kv_f64(pk, "ticks_per_s", el > 0 ? (double)done / el : 0);
    tm_wire_pack_kv_f64(pk, "actor_steps_per_s", el > 0 ? steps / el : 0);
    tm_wire_pack_kv_u64(pk, "actors", st.actors);
    tm_wire_pack_kv_str(pk, "clock", tm_clock_name(n->clock));
    snprintf(rep->message, sizeof rep->message,
             "ran %llu ticks in %.3f s (%.0f ticks/s, %.3g actor-steps/s); "
             "tick %llu; clock %s",
             (unsigned long long)done, el, el > 0 ? (double)done / el : 0,
             el > 0 ? steps / el : 0, (unsigned long long)st.tick,
             tm_clock_name(n->clock));
}

/* Finish the run (status 0 when all ticks are done). */
static void s_run_finish(tm_node_t *n, int status, const char *why)
{
    if (!n->run_active) {
        return;
    }
    n->clock = TM_CLOCK_PAUSED;
    s_run_body(n, &n->rep, false);
    n->run_active = false;
    if (status != 0) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", n->rep.message);
        tm_cmd_reply_error(&n->rep, status, "%.200s; %.800s", why, msg);
    }
    s_send_rep(n, &n->run_peer, &n->rep, false);
}

/* ---- stepping ----------------------------------------------------------- */

static void s_schedule(tm_node_t *n);

/* Realtime: ticks due by now and not stepped yet, at most S_CHUNK_MAX
 * (the caller steps at most a chunk anyway). Counted in doubles: with a
 * tiny h the ticks due since t0 do not fit a uint64_t. */
static uint64_t s_rt_due(tm_node_t *n, double now)
{
    double h = tm_rt_h(n->rt);
    double stepped = (double)(tm_rt_tick(n->rt) - n->rt_k0);
    double behind = floor((now - n->rt_t0) / h) - stepped;
    if (!(behind >= 1)) {
        return 0;
    }
    return behind >= (double)S_CHUNK_MAX ? S_CHUNK_MAX : (uint64_t)behind;
}

static void s_fatal(tm_node_t *n, int rc)
{
    tm_log(TM_LOG_ERROR, "node: runtime failed (%s); stopping", tm_err_str(rc));
    n->fatal = rc;
    n->stopping = true;
    ev_break(n->loop, EVBREAK_ALL);
}

/* Ticks of about S_CHUNK_S at the measured cost per tick. A cost not
 * measured yet, or measured when the mesh was smaller, says nothing about
 * the next tick: step one tick and measure again, rather than hold the
 * loop (and every console) for a chunk sized for a small mesh. */
static uint64_t s_chunk_ticks(const tm_node_t *n)
{
    if (n->per_tick <= 0 || tm_rt_count(n->rt) > n->per_tick_actors) {
        return 1;
    }
    double chunk = S_CHUNK_S / n->per_tick;
    if (chunk < 1) {
        return 1;
    }
    return chunk > (double)S_CHUNK_MAX ? S_CHUNK_MAX : (uint64_t)chunk;
}

static void s_step_chunk(tm_node_t *n)
{
    uint64_t want = 0;
    uint64_t tick = tm_rt_tick(n->rt);
    double now = s_now();
    uint64_t chunk = s_chunk_ticks(n);
    size_t actors = tm_rt_count(n->rt);
    bool fresh = n->per_tick <= 0 || actors > n->per_tick_actors;
    if (n->run_active) {
        want = n->run_start + n->run_ticks - tick;
    } else if (n->clock == TM_CLOCK_FAST) {
        want = chunk;
    } else if (n->clock == TM_CLOCK_REALTIME) {
        want = s_rt_due(n, now);
    }
    if (want > chunk) {
        want = chunk;
    }
    if (n->next_ckpt > tick && want > n->next_ckpt - tick) {
        want = n->next_ckpt - tick; /* end the chunk on the checkpoint */
    }
    if (want == 0) {
        return;
    }
    int rc = tm_rt_step(n->rt, want);
    if (rc != 0) {
        s_fatal(n, rc);
        return;
    }
    double per = (s_now() - now) / (double)want;
    if (!(per > 0)) {
        per = 1e-9; /* below the clock's resolution: still measured */
    }
    n->per_tick = fresh ? per : 0.7 * n->per_tick + 0.3 * per;
    n->per_tick_actors = actors;
    s_streams_after_step(n);
    s_maybe_checkpoint(n);
    if (n->run_active && tm_rt_tick(n->rt) >= n->run_start + n->run_ticks) {
        s_run_finish(n, 0, NULL);
    }
}

static void s_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_node_t *n = w->data;
    s_step_chunk(n);
    s_schedule(n);
}

static void s_tick_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_node_t *n = w->data;
    s_step_chunk(n);
    s_schedule(n);
}

/* Decide how the next ticks are driven: idle (as fast as possible, between
 * console requests), a timer (realtime, on schedule), or nothing. */
static void s_schedule(tm_node_t *n)
{
    bool idle = false;
    double wait = -1;
    if (!n->stopping) {
        if (n->run_active || n->clock == TM_CLOCK_FAST) {
            idle = true;
        } else if (n->clock == TM_CLOCK_REALTIME) {
            double now = s_now();
            if (s_rt_due(n, now) > 0) {
                idle = true;
            } else {
                double h = tm_rt_h(n->rt);
                double next =
                    n->rt_t0 + (double)(tm_rt_tick(n->rt) + 1 - n->rt_k0) * h;
                wait = next - now;
                if (wait < 0) {
                    wait = 0;
                }
            }
        }
    }
    if (idle && !ev_is_active(&n->idle)) {
        ev_idle_start(n->loop, &n->idle);
    } else if (!idle && ev_is_active(&n->idle)) {
        ev_idle_stop(n->loop, &n->idle);
    }
    ev_timer_stop(n->loop, &n->tick_timer);
    if (wait >= 0) {
        ev_timer_set(&n->tick_timer, wait, 0.0);
        ev_timer_start(n->loop, &n->tick_timer);
    }
}

static void s_set_clock(tm_node_t *n, tm_clock_t c)
{
    n->clock = c;
    if (c == TM_CLOCK_REALTIME) {
        /* tick k is due at t0 + (k - k0) h from now on */
        n->rt_t0 = s_now();
        n->rt_k0 = tm_rt_tick(n->rt);
    }
    s_schedule(n);
}

/* ---- requests ----------------------------------------------------------- */

static void s_reply_error(tm_node_t *n, const s_peer_t *p, int status,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_reply_error(tm_node_t *n, const s_peer_t *p, int status,
                          const char *fmt, ...)
{
    char msg[TM_CMD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_send(n, p, status, msg, false, NULL, 0);
}

static void s_clock_reply(tm_node_t *n, const s_peer_t *p)
{
    tm_cmd_reply_t *rep = &n->rep;
    tm_cmd_reply_reset(rep);
    rep->has_body = true;
    msgpack_pack_map(&rep->body.pk, 3);
    tm_wire_pack_kv_str(&rep->body.pk, "clock", s_clock_label(n));
    tm_wire_pack_kv_u64(&rep->body.pk, "tick", tm_rt_tick(n->rt));
    tm_wire_pack_kv_f64(&rep->body.pk, "h", tm_rt_h(n->rt));
    snprintf(rep->message, sizeof rep->message, "clock %s at tick %llu",
             s_clock_label(n), (unsigned long long)tm_rt_tick(n->rt));
    s_send_rep(n, p, rep, false);
}

static void s_handle_cmd(tm_node_t *n, const s_peer_t *p, tm_cmd_t *cmd)
{
    tm_cmd_ctx_t ctx;
    size_t at = 0;
    s_stream_t *old = s_stream_of(n, p, &at);
    bool own_run = n->run_active && n->run_peer.len == p->len &&
                   memcmp(n->run_peer.id, p->id, p->len) == 0;

    if (cmd->kind == TM_CMD_CANCEL) {
        if (old != NULL) {
            s_stream_end(n, at, 0, "cancelled");
        } else if (own_run) {
            s_run_finish(n, TM_ERR_CLOSED, "run cancelled");
        } else {
            s_send(n, p, 0, "nothing to cancel", false, NULL, 0);
        }
        s_schedule(n);
        return;
    }
    if (old != NULL) {
        /* One stream per console: a new request ends the previous one. */
        s_stream_end(n, at, 0, "stream ended by a new request");
    }
    s_ctx(n, &ctx);
    switch (cmd->kind) {
    case TM_CMD_RUN:
        if (n->run_active) {
            s_reply_error(
                n, p, TM_ERR_BUSY,
                "a run is in progress (%llu of %llu ticks done); "
                "wait for it, or change the clock to stop it",
                (unsigned long long)(tm_rt_tick(n->rt) - n->run_start),
                (unsigned long long)n->run_ticks);
            return;
        }
        n->run_active = true;
        n->run_peer = *p;
        n->run_ticks = cmd->ticks;
        n->run_start = tm_rt_tick(n->rt);
        n->run_t0 = s_now();
        n->run_progress_at = n->run_t0 + S_PROGRESS_S;
        {
            tm_rt_stats_t st;
            tm_rt_stats(n->rt, &st);
            n->run_steps0 = st.steps;
        }
        /* An immediate progress item tells the console the node is there;
         * the final reply comes when the ticks are done. */
        s_run_body(n, &n->rep, true);
        snprintf(n->rep.message, sizeof n->rep.message,
                 "running %llu ticks from tick %llu",
                 (unsigned long long)cmd->ticks,
                 (unsigned long long)n->run_start);
        s_send_rep(n, p, &n->rep, true);
        s_schedule(n);
        return;
    case TM_CMD_CLOCK:
        if (cmd->has_clock) {
            if (n->run_active) {
                s_run_finish(n, TM_ERR_CLOSED,
                             "run interrupted by a clock change");
            }
            s_set_clock(n, cmd->clock);
            tm_log(TM_LOG_INFO, "node: clock %s at tick %llu",
                   tm_clock_name(n->clock),
                   (unsigned long long)tm_rt_tick(n->rt));
        }
        s_clock_reply(n, p);
        return;
    case TM_CMD_WATCH:
    case TM_CMD_TOP: {
        if (n->n_streams >= S_STREAMS_MAX) {
            s_reply_error(n, p, TM_ERR_BUSY,
                          "too many streams open (%u); try again later",
                          S_STREAMS_MAX);
            return;
        }
        if (cmd->kind == TM_CMD_WATCH &&
            tm_cmd_watch_check(&ctx, cmd, &n->rep) != 0) {
            s_send_rep(n, p, &n->rep, false);
            return;
        }
        s_stream_t *s = calloc(1, sizeof *s);
        if (s == NULL) {
            s_reply_error(n, p, TM_ERR_NOMEM, "out of memory");
            return;
        }
        s->kind = cmd->kind == TM_CMD_WATCH ? S_STREAM_WATCH : S_STREAM_TOP;
        s->peer = *p;
        s->cmd = *cmd;
        n->streams[n->n_streams++] = s;
        size_t i = n->n_streams - 1;
        double every = cmd->interval > 0 ? cmd->interval : S_TOP_DEFAULT_S;
        s->next_at = s_now() + every;
        /* First item now: the current values. */
        if (s->kind == S_STREAM_WATCH) {
            tm_cmd_watch_item(&ctx, &s->cmd, &n->rep);
            s->last_tick = tm_rt_tick(n->rt);
        } else {
            tm_cmd_top_item(&ctx, s->cmd.limit, &n->rep);
        }
        s_stream_send(n, &i, &n->rep);
        return;
    }
    default:
        break;
    }
    s_emit_t e = {n, p};
    tm_cmd_exec(&ctx, cmd, &n->rep, s_emit, &e);
    s_send_rep(n, p, &n->rep, false);
    if (cmd->info->flags & TM_CMD_F_MUTATES && n->rep.status == 0) {
        tm_log(TM_LOG_INFO, "console: %s", n->rep.message);
    }
}

/* One request frame from a peer. */
static void s_handle_frame(tm_node_t *n, s_peer_t *p, const uint8_t *buf,
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
    if (rc != 0) {
        s_reply_error(n, p, rc, "malformed request: %s", tm_err_str(rc));
        return;
    }
    p->seq = env.seq;
    snprintf(p->name, sizeof p->name, "%s", env.source);
    if (env.type != TM_MSG_CONSOLE_REQ) {
        s_reply_error(n, p, TM_ERR_WIRE_MSGTYPE,
                      "malformed request: message type %u is not a console "
                      "request",
                      env.type);
        return;
    }
    rc = tm_console_req_decode(env.payload, env.payload_len, NULL, &req);
    if (rc != 0) {
        s_reply_error(n, p, rc, "malformed request: %s", tm_err_str(rc));
        return;
    }
    rc = tm_cmd_parse((int)req.argc, (const char *const *)req.argv, &cmd, err,
                      sizeof err);
    if (rc != 0) {
        s_reply_error(n, p, rc, "%s", err);
    } else {
        s_handle_cmd(n, p, &cmd);
    }
    tm_console_req_free(&req);
}

/* Receive everything queued on the console socket. */
static void s_console_drain(tm_node_t *n)
{
    for (;;) {
        uint32_t events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(n->console, ZMQ_EVENTS, &events, &sz) != 0 ||
            !(events & ZMQ_POLLIN)) {
            return;
        }
        zmq_msg_t id, frame;
        zmq_msg_init(&id);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&id, n->console, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&frame);
            return;
        }
        s_peer_t p;
        memset(&p, 0, sizeof p);
        p.len =
            zmq_msg_size(&id) < S_IDENT_MAX ? zmq_msg_size(&id) : S_IDENT_MAX;
        memcpy(p.id, zmq_msg_data(&id), p.len);
        /* Parts of a multipart message arrive together. */
        int frames = 0;
        bool got = false;
        bool more = zmq_msg_more(&id);
        if (more && zmq_msg_recv(&frame, n->console, ZMQ_DONTWAIT) >= 0) {
            got = true;
            frames++;
            more = zmq_msg_more(&frame);
        }
        while (more) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            int r = zmq_msg_recv(&extra, n->console, ZMQ_DONTWAIT);
            more = r >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            frames++;
        }
        zmq_msg_close(&id);
        n->requests++;
        if (!got || frames != 1) {
            s_reply_error(n, &p, TM_ERR_WIRE_MALFORMED,
                          "malformed request: expected exactly one frame, "
                          "got %d",
                          frames);
        } else {
            s_handle_frame(n, &p, zmq_msg_data(&frame), zmq_msg_size(&frame));
        }
        zmq_msg_close(&frame);
        if (n->stopping) {
            return;
        }
    }
}

static void s_console_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    s_console_drain(w->data);
}

static void s_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    /* ZMQ_FD is edge-triggered: whatever arrived while we were busy (or
     * whose edge a send consumed) is read here before the loop blocks. */
    s_console_drain(w->data);
}

static void s_service_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_node_t *n = w->data;
    double now = s_now();
    if (now - n->rate_at >= 1.0) {
        tm_rt_stats_t st;
        tm_rt_stats(n->rt, &st);
        double dt = now - n->rate_at;
        n->steps_per_s = (double)(st.steps - n->rate_steps) / dt;
        n->ticks_per_s = (double)(st.tick - n->rate_tick) / dt;
        n->rate_steps = st.steps;
        n->rate_tick = st.tick;
        n->rate_at = now;
    }
    if (n->run_active && now >= n->run_progress_at) {
        n->run_progress_at = now + S_PROGRESS_S;
        s_run_body(n, &n->rep, true);
        s_send_rep(n, &n->run_peer, &n->rep, true);
    }
    s_streams_service(n, now);
    s_collect_result(n);
    /* A checkpoint put off while the writer was busy is taken as soon as
     * it is free, even when the clock has stopped since. */
    s_maybe_checkpoint(n);
}

static void s_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    tm_node_t *n = w->data;
    tm_log(TM_LOG_INFO, "node: %s received, stopping",
           w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    n->stopping = true;
    ev_break(loop, EVBREAK_ALL);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int s_open_store(tm_node_t *n, char *err, size_t errlen)
{
    /* LMDB trusts its pages and can crash on a damaged one: check the
     * store in a child process before trusting it, so that damage stops
     * the start with a message instead of a crash (and a restart loop). */
    tm_store_verify_t v;
    char what[TM_STORE_WHY_MAX + 256];
    int rc = tm_persist_verify(n->cfg.data, &v);
    if (rc == TM_ERR_STORE_CORRUPT) {
        tm_store_verify_describe(&v, what, sizeof what);
        s_err(err, errlen,
              "data directory %s is damaged: %s; not starting on it (restore "
              "a verified backup, see docs/operations.md)",
              n->cfg.data, what);
        return rc;
    }
    if (rc == TM_ERR_NOMEM || rc == TM_ERR_BUSY || rc == TM_ERR_IO) {
        s_err(err, errlen, "cannot check data directory %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    /* Missing, empty or foreign: the open creates the store or says why
     * not. A large map costs only address space (the file grows as used)
     * and spares big batches a grow-and-replay. */
    tm_store_opts_t opts = {.map_size = (size_t)1 << 30, .create = 1};
    rc = tm_store_open(&n->store, n->cfg.data, &opts);
    switch (rc) {
    case 0:
        return 0;
    case TM_ERR_NOSPACE:
        s_err(err, errlen,
              "cannot open data directory %s: no space left on its file "
              "system",
              n->cfg.data);
        break;
    case TM_ERR_READONLY:
        s_err(err, errlen,
              "cannot write in data directory %s: read-only file system or "
              "permission denied",
              n->cfg.data);
        break;
    case TM_ERR_NO_DIR:
        s_err(err, errlen,
              "cannot create data directory %s: a directory on its path does "
              "not exist or is not a directory",
              n->cfg.data);
        break;
    case TM_ERR_STORE_LOCKED:
        s_err(err, errlen,
              "data directory %s is in use by another process (is another "
              "twinmesh-node running on it?)",
              n->cfg.data);
        break;
    case TM_ERR_STORE_FOREIGN:
        s_err(err, errlen,
              "data directory %s holds files that are not a twinmesh store; "
              "choose another --data directory",
              n->cfg.data);
        break;
    default:
        s_err(err, errlen, "cannot open data directory %s: %s", n->cfg.data,
              tm_err_str(rc));
        break;
    }
    return rc;
}

static int s_open_console(tm_node_t *n, char *err, size_t errlen)
{
    n->zctx = zmq_ctx_new();
    if (n->zctx == NULL) {
        s_err(err, errlen, "cannot create a ZeroMQ context");
        return TM_ERR_IO;
    }
    int rc = tm_sock_open(&n->console, n->zctx, ZMQ_ROUTER, n->cfg.endpoint,
                          TM_SOCK_BIND, NULL);
    if (rc == TM_ERR_BUSY) {
        s_err(err, errlen,
              "console endpoint %s is already in use (is another "
              "twinmesh-node running? choose another with --console)",
              n->cfg.endpoint);
    } else if (rc != 0) {
        s_err(err, errlen, "cannot bind the console to %s: %s (%s)",
              n->cfg.endpoint, tm_err_str(rc), zmq_strerror(zmq_errno()));
    }
    return rc;
}

static int s_open_runtime(tm_node_t *n, char *err, size_t errlen)
{
    tm_persist_meta_t meta;
    int rc = tm_persist_read_meta(n->store, &meta);
    if (rc != 0) {
        s_err(err, errlen, "cannot read the checkpoint of %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    if (meta.have_checkpoint && meta.h > 0 && meta.h != n->cfg.tick) {
        tm_log(TM_LOG_WARN,
               "node: the checkpoint was taken with tick %g s; stepping "
               "on with the configured %g s",
               meta.h, n->cfg.tick);
    }
    if (meta.have_checkpoint && meta.seed != n->cfg.seed) {
        tm_log(TM_LOG_WARN,
               "node: the checkpoint was taken with seed %llu; stepping on "
               "with the configured %llu",
               (unsigned long long)meta.seed, (unsigned long long)n->cfg.seed);
    }
    tm_rt_config_t rc_cfg = {.workers = n->cfg.workers,
                             .h = n->cfg.tick,
                             .seed = n->cfg.seed,
                             .tick = meta.tick,
                             .inline_actors = 1024};
    rc = tm_rt_open(&n->rt, &rc_cfg);
    if (rc != 0) {
        s_err(err, errlen, "cannot start the runtime: %s", tm_err_str(rc));
        return rc;
    }
    n->ckpt_tick = meta.tick;
    double t0 = s_now();
    tm_persist_load_t ld;
    rc = tm_persist_load(n->store, n->rt, &ld);
    if (rc != 0) {
        s_err(err, errlen, "cannot restore actors from %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    if (meta.have_checkpoint || ld.actors > 0 || ld.links > 0) {
        tm_log(TM_LOG_INFO,
               "node: restored %zu actors and %zu links at tick %llu in "
               "%.3f s (%zu actors, %zu links skipped)",
               ld.actors, ld.links, (unsigned long long)meta.tick, s_now() - t0,
               ld.actors_skipped, ld.links_skipped);
    }
    return 0;
}

int tm_node_open(tm_node_t **out, const tm_config_t *cfg, char *err,
                 size_t errlen)
{
    *out = NULL;
    tm_node_t *n = calloc(1, sizeof *n);
    if (n == NULL) {
        s_err(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    n->cfg = *cfg;
    n->started = s_now();
    tm_cmd_reply_init(&n->rep);
    int rc = s_open_store(n, err, errlen);
    if (rc == 0) {
        rc = s_open_console(n, err, errlen);
    }
    if (rc == 0) {
        rc = s_open_runtime(n, err, errlen);
    }
    if (rc == 0) {
        rc = tm_writer_open(&n->writer, s_writer_done, n);
        if (rc != 0) {
            s_err(err, errlen, "cannot start the writer thread: %s",
                  tm_err_str(rc));
        }
    }
    if (rc == 0) {
        n->loop = ev_default_loop(EVFLAG_AUTO);
        if (n->loop == NULL) {
            s_err(err, errlen, "cannot create the event loop");
            rc = TM_ERR_IO;
        }
    }
    if (rc != 0) {
        tm_node_destroy(&n);
        return rc;
    }
    int fd = -1;
    size_t fdsz = sizeof fd;
    zmq_getsockopt(n->console, ZMQ_FD, &fd, &fdsz);
    ev_io_init(&n->console_io, s_console_cb, fd, EV_READ);
    ev_prepare_init(&n->prepare, s_prepare_cb);
    ev_idle_init(&n->idle, s_idle_cb);
    ev_timer_init(&n->tick_timer, s_tick_timer_cb, 0.0, 0.0);
    ev_timer_init(&n->service, s_service_cb, S_SERVICE_S, S_SERVICE_S);
    ev_signal_init(&n->sigterm, s_signal_cb, SIGTERM);
    ev_signal_init(&n->sigint, s_signal_cb, SIGINT);
    ev_async_init(&n->writer_done, s_writer_async_cb);
    n->console_io.data = n;
    n->prepare.data = n;
    n->idle.data = n;
    n->tick_timer.data = n;
    n->service.data = n;
    n->sigterm.data = n;
    n->sigint.data = n;
    n->writer_done.data = n;
    *out = n;
    return 0;
}

int tm_node_run(tm_node_t *n, char *err, size_t errlen)
{
    struct ev_loop *loop = n->loop;
    ev_io_start(loop, &n->console_io);
    ev_prepare_start(loop, &n->prepare);
    ev_timer_start(loop, &n->service);
    ev_signal_start(loop, &n->sigterm);
    ev_signal_start(loop, &n->sigint);
    ev_async_start(loop, &n->writer_done);
    n->rate_at = s_now();
    s_plan_checkpoint(n);
    tm_rt_stats_t rs;
    tm_rt_stats(n->rt, &rs);
    tm_log(TM_LOG_INFO,
           "node: %s (site %s) up: %zu actors, tick %llu, h %g s, clock %s, "
           "%u workers; console %s; data %s",
           n->cfg.name, n->cfg.site, tm_rt_count(n->rt),
           (unsigned long long)tm_rt_tick(n->rt), n->cfg.tick,
           tm_clock_name(n->cfg.clock), rs.workers, n->cfg.endpoint,
           n->cfg.data);
    s_set_clock(n, n->cfg.clock);

    ev_run(loop, 0);

    /* Stopping: no more steps, end what consoles wait for. */
    n->stopping = true;
    s_schedule(n);
    s_run_finish(n, TM_ERR_CLOSED, "node stopping, run interrupted");
    while (n->n_streams > 0) {
        s_stream_end(n, n->n_streams - 1, TM_ERR_CLOSED, "node stopping");
    }
    ev_io_stop(loop, &n->console_io);
    ev_prepare_stop(loop, &n->prepare);
    ev_timer_stop(loop, &n->service);
    ev_timer_stop(loop, &n->tick_timer);
    ev_idle_stop(loop, &n->idle);
    ev_signal_stop(loop, &n->sigterm);
    ev_signal_stop(loop, &n->sigint);
    ev_async_stop(loop, &n->writer_done);

    int rc = n->fatal;
    if (rc != 0) {
        s_err(err, errlen,
              "runtime failed: %s (no final checkpoint; the last one is at "
              "tick %llu)",
              tm_err_str(rc), (unsigned long long)n->ckpt_tick);
        return rc;
    }
    double t0 = s_now();
    rc = s_checkpoint(n, true);
    if (rc != 0) {
        s_err(err, errlen, "final checkpoint failed: %s", tm_err_str(rc));
        return rc;
    }
    tm_log(TM_LOG_INFO,
           "node: final checkpoint at tick %llu (%zu actors) in %.1f ms; "
           "stopped",
           (unsigned long long)tm_rt_tick(n->rt), tm_rt_count(n->rt),
           (s_now() - t0) * 1e3);
    return 0;
}

void tm_node_destroy(tm_node_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_node_t *n = *p;
    for (size_t i = 0; i < n->n_streams; i++) {
        free(n->streams[i]);
    }
    tm_writer_destroy(&n->writer);
    tm_rt_destroy(&n->rt);
    tm_sock_close(&n->console);
    if (n->zctx != NULL) {
        zmq_ctx_term(n->zctx);
    }
    tm_store_close(&n->store);
    if (n->loop != NULL) {
        ev_loop_destroy(n->loop);
    }
    tm_cmd_reply_destroy(&n->rep);
    free(n);
    *p = NULL;
}
