/* tm_ckpt: the node's checkpoints, as a service. */
#include "tm_ckpt.h"

#include "tm_audit.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_persist.h"
#include "tm_writer.h"

#include <stdlib.h>

#define S_SERVICE_S 0.1 /* put-off checkpoints are retried this often */

struct tm_ckpt {
    tm_rt_t *rt;
    tm_store_t *store;
    tm_writer_t *writer;
    struct ev_loop *loop;
    ev_async done;
    ev_timer service;
    uint64_t every;
    uint64_t next; /* next checkpoint tick (0: none due) */
    uint64_t tick; /* of the last durable checkpoint */
    uint64_t count;
    uint64_t failed;
    double ms;
    tm_audit_t *audit; /* decision records and retention; may be NULL */
    size_t notes;      /* decision records in the batch in flight */
    /* Writes that wait for the writer (tm_ckpt_waiter). */
    bool (*held)(void *arg);
    void (*ready)(void *arg);
    void *wait_arg;
};

static void s_writer_done(void *arg)
{
    tm_ckpt_t *c = arg;
    if (c->loop != NULL) {
        ev_async_send(c->loop, &c->done);
    }
}

/* Count a checkpoint the writer finished. */
static void s_finished(tm_ckpt_t *c, const tm_writer_result_t *r)
{
    if (c->audit != NULL) {
        tm_audit_done(c->audit, c->notes, c->notes, r->rc);
        c->notes = 0;
    }
    if (r->rc != 0) {
        c->failed++;
        tm_log(TM_LOG_ERROR, "node: checkpoint at tick %llu failed: %s",
               (unsigned long long)r->tick, tm_err_str(r->rc));
        return;
    }
    c->tick = r->tick;
    c->count++;
    c->ms = r->ms;
    tm_log(TM_LOG_DEBUG,
           "node: checkpoint at tick %llu: %zu records in %.1f ms",
           (unsigned long long)r->tick, r->records, r->ms);
}

static void s_collect(tm_ckpt_t *c)
{
    tm_writer_result_t r;
    if (tm_writer_poll(c->writer, &r)) {
        s_finished(c, &r);
    }
}

static void s_plan(tm_ckpt_t *c)
{
    c->next = c->every == 0 ? 0 : (tm_rt_tick(c->rt) / c->every + 1) * c->every;
}

/* The audit log's part of a checkpoint: the decision records queued
 * since the last commit, and the deletes of records past the retention
 * (bounded per checkpoint). Neither stops the checkpoint: what fails is
 * counted or logged. */
static void s_audit(tm_ckpt_t *c, tm_store_batch_t *b)
{
    size_t trimmed = 0;
    if (c->audit == NULL) {
        return;
    }
    (void)tm_audit_flush(c->audit, b, &c->notes);
    int rc = tm_audit_trim(c->audit, c->store, b, tm_audit_now_ns(), &trimmed);
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "node: audit retention: %s", tm_err_str(rc));
    } else if (trimmed > 0) {
        tm_log(TM_LOG_DEBUG, "node: audit retention: %zu old records go",
               trimmed);
    }
}

/* Copy the current tick and hand it to the writer. */
static int s_take(tm_ckpt_t *c, bool wait)
{
    tm_store_batch_t *b = tm_store_batch_new(c->store);
    if (b == NULL) {
        return TM_ERR_NOMEM;
    }
    tm_store_batch_tag(b, TM_CKPT_TAG);
    uint64_t tick = tm_rt_tick(c->rt);
    tm_persist_snap_t *snap = NULL;
    int rc = tm_persist_snapshot(c->rt, &snap);
    if (rc == 0) {
        tm_writer_wait(c->writer);
        s_collect(c);
        s_audit(c, b);
        rc =
            tm_writer_submit_fill(c->writer, &b, tick, tm_persist_snapshot_fill,
                                  tm_persist_snapshot_free, snap);
        if (rc != 0) {
            tm_persist_snapshot_free(snap);
            if (c->audit != NULL) {
                tm_audit_done(c->audit, c->notes, c->notes, rc);
                c->notes = 0;
            }
        }
    }
    tm_store_batch_destroy(&b);
    if (rc == 0 && wait) {
        tm_writer_wait(c->writer);
        tm_writer_result_t r;
        if (tm_writer_poll(c->writer, &r)) {
            s_finished(c, &r);
            rc = r.rc;
        }
    }
    return rc;
}

static void s_maybe(tm_ckpt_t *c)
{
    if (c->next == 0 || tm_rt_tick(c->rt) < c->next ||
        tm_writer_busy(c->writer) ||
        (c->held != NULL && c->held(c->wait_arg))) {
        return; /* not due, the previous one is still being written, or
                 * changes that came first wait to be written */
    }
    int rc = s_take(c, false);
    if (rc != 0) {
        c->failed++;
        tm_log(TM_LOG_ERROR, "node: cannot build checkpoint: %s",
               tm_err_str(rc));
    }
    s_plan(c);
}

/* The writer is free: the writes that waited for it go first. */
static void s_free(tm_ckpt_t *c)
{
    if (c->ready != NULL && !tm_writer_busy(c->writer) &&
        c->held(c->wait_arg)) {
        c->ready(c->wait_arg);
    }
}

static void s_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    s_collect(w->data);
    s_free(w->data);
}

static void s_service_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_ckpt_t *c = w->data;
    s_collect(c);
    s_free(c);
    /* A checkpoint put off while the writer was busy is taken as soon as
     * it is free, even when the clock has stopped since. */
    s_maybe(c);
}

/* ---- service ------------------------------------------------------------ */

static int s_attach(void *self, struct ev_loop *loop)
{
    tm_ckpt_t *c = self;
    c->loop = loop;
    ev_async_start(loop, &c->done);
    ev_timer_start(loop, &c->service);
    s_plan(c);
    return 0;
}

static void s_after(void *self, uint64_t tick)
{
    (void)tick;
    s_maybe(self);
}

static uint64_t s_every(void *a)
{
    return ((tm_ckpt_t *)a)->every;
}

static uint64_t s_tick(void *a)
{
    return ((tm_ckpt_t *)a)->tick;
}

static uint64_t s_count(void *a)
{
    return ((tm_ckpt_t *)a)->count;
}

static uint64_t s_failed(void *a)
{
    return ((tm_ckpt_t *)a)->failed;
}

static double s_ms(void *a)
{
    return ((tm_ckpt_t *)a)->ms;
}

static bool s_pending(void *a)
{
    return tm_writer_busy(((tm_ckpt_t *)a)->writer);
}

static int s_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "checkpoint.every", s_every, self);
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "checkpoint.tick", s_tick, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "checkpoint.count", s_count, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "checkpoint.failed", s_failed, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_f64(reg, "checkpoint.last_ms", s_ms, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_bool(reg, "checkpoint.pending", s_pending, self);
    }
    return rc;
}

static void s_stop(void *self)
{
    tm_ckpt_t *c = self;
    if (c->loop != NULL) {
        ev_async_stop(c->loop, &c->done);
        ev_timer_stop(c->loop, &c->service);
    }
}

static void s_close(void *self)
{
    tm_ckpt_t *c = self;
    tm_writer_destroy(&c->writer);
    free(c);
}

tm_service_t tm_ckpt_service(tm_ckpt_t *c)
{
    tm_service_t s = {.name = "checkpoint",
                      .self = c,
                      .attach = s_attach,
                      .after_tick = s_after,
                      .stats = s_stats,
                      .stop = s_stop,
                      .close = s_close};
    return s;
}

/* ---- API ---------------------------------------------------------------- */

int tm_ckpt_open(tm_ckpt_t **out, tm_rt_t *rt, tm_store_t *store,
                 uint64_t every, uint64_t last_tick)
{
    tm_ckpt_t *c = calloc(1, sizeof *c);
    *out = NULL;
    if (c == NULL) {
        return TM_ERR_NOMEM;
    }
    c->rt = rt;
    c->store = store;
    c->every = every;
    c->tick = last_tick;
    int rc = tm_writer_open(&c->writer, s_writer_done, c);
    if (rc != 0) {
        free(c);
        return rc;
    }
    ev_async_init(&c->done, s_async_cb);
    ev_timer_init(&c->service, s_service_cb, S_SERVICE_S, S_SERVICE_S);
    c->done.data = c;
    c->service.data = c;
    *out = c;
    return 0;
}

uint64_t tm_ckpt_next_stop(void *c)
{
    return ((tm_ckpt_t *)c)->next;
}

bool tm_ckpt_busy(void *c)
{
    return tm_writer_busy(((tm_ckpt_t *)c)->writer);
}

void tm_ckpt_waiter(tm_ckpt_t *c, bool (*held)(void *arg),
                    void (*ready)(void *arg), void *arg)
{
    c->held = held;
    c->ready = ready;
    c->wait_arg = arg;
}

void tm_ckpt_barrier(void *arg)
{
    tm_ckpt_t *c = arg;
    tm_writer_wait(c->writer);
}

int tm_ckpt_final(tm_ckpt_t *c)
{
    return s_take(c, true);
}

void tm_ckpt_audit(tm_ckpt_t *c, tm_audit_t *audit)
{
    c->audit = audit;
}

uint64_t tm_ckpt_tick(const tm_ckpt_t *c)
{
    return c->tick;
}
