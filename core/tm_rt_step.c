/* tm_rt_step: stepping - the batched step of a group, the worker threads
 * and their hand-over, the faults of a step call.
 *
 * Ticks. Before tick k the control thread turns every group's ring of
 * outputs (tm_rt_hist.c): out[0] is then written and out[d] holds tick
 * k - d. An actor whose period does not divide k copies its outputs
 * forward. All workers finish tick k before any starts k+1 (one STEP and
 * one DONE message per worker per tick), so reading another shard's past
 * outputs never races with its writer.
 *
 * Faults. A worker that sees a fault in a group notes how many in the
 * group (the per-slot status says which). After the tick the control
 * thread visits only the groups of workers whose fault count moved, and
 * keeps the first TM_RT_FAULTS_MAX faults of the call by (tick, id), with a
 * bounded heap; a tick without faults costs one comparison per worker.
 */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { S_CMD_STEP = 1, S_CMD_STOP = 2, S_CMD_DONE = 3 };

/* Inproc control message: a plain struct, never leaves the process. */
typedef struct {
    uint32_t cmd;
    uint32_t status; /* DONE: 0 or a tm_err_t */
    uint64_t tick;
} s_msg_t;

static double s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- workers ------------------------------------------------------------ */

/* Step one group for tick k (called by its worker, after the control
 * thread turned every ring for k: out[0] is written, out[d] holds tick
 * k - d). */
static void s_group_step(tm_rt_t *rt, tmi_rt_worker_t *w, tmi_rt_group_t *g,
                         uint64_t k)
{
    const size_t n = g->n;
    if (n == 0) {
        return;
    }
    const size_t no = g->no;
    const size_t ni = g->ni;
    const size_t ns = g->ns;
    double *restrict out = g->out[0];
    const double *restrict pout = g->out[1];
    if (k % g->period != 0 || g->frozen) {
        memcpy(out, pout, n * no * sizeof(double));
        return;
    }
    double t0 = s_now_ns();
    double *restrict in = g->in;
    if (ni > 0) {
        memcpy(in, g->held, n * ni * sizeof(double));
        const tmi_rt_gather_t *ge = g->gather;
        for (size_t e = 0; e < g->n_gather; e++) {
            double v = (*ge[e].src)[ge[e].src_off];
            uint32_t dst = ge[e].dst >> 1;
            if (ge[e].dst & 1u) {
                in[dst] += v;
            } else {
                in[dst] = v;
            }
        }
    }
    if (g->feed != NULL) {
        /* Measured inputs: this step's samples, consumed; NaN if none. */
        const tm_var_t *iv = g->model->inputs;
        for (size_t j = 0; j < ni; j++) {
            if (!(iv[j].flags & TM_VAR_MEASURED)) {
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                in[i * ni + j] = g->feed[i * ni + j];
                g->feed[i * ni + j] = NAN;
            }
        }
    }
    if (ns > 0) {
        memcpy(g->prev, g->state, n * ns * sizeof(double));
    }
    tm_step_ctx_t ctx = {.h = rt->h * (double)g->period,
                         .tick = k,
                         .seed = rt->seed,
                         .keys = g->keys};
    memset(g->status, 0, n);
    g->model->step(&ctx, n, g->state, g->params, in, out, g->status);

    /* x * 0 is 0 for finite x and NaN otherwise: one pass tells whether
     * any state or output is non-finite, the slow scan runs only then. */
    double probe = 0.0;
    uint8_t any = 0;
    for (size_t i = 0; i < n * no; i++) {
        probe += out[i] * 0.0;
    }
    for (size_t i = 0; i < n * ns; i++) {
        probe += g->state[i] * 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        any |= g->status[i];
    }
    if (probe != 0.0 || any != 0) {
        uint32_t nf = 0;
        for (size_t i = 0; i < n; i++) {
            if (g->status[i] == TM_STEP_OK) {
                for (size_t j = 0; j < no; j++) {
                    if (!isfinite(out[i * no + j])) {
                        g->status[i] = TM_STEP_NONFINITE;
                    }
                }
                for (size_t j = 0; j < ns; j++) {
                    if (!isfinite(g->state[i * ns + j])) {
                        g->status[i] = TM_STEP_NONFINITE;
                    }
                }
            }
            if (g->status[i] != TM_STEP_OK) {
                /* Keep the last good state and outputs: a faulty step
                 * never propagates through links. */
                memcpy(g->state + i * ns, g->prev + i * ns,
                       ns * sizeof(double));
                memcpy(out + i * no, pout + i * no, no * sizeof(double));
                g->faults[i]++;
                g->last_fault[i] = k;
                w->faults++;
                nf++;
            }
        }
        g->n_faulted = nf;
    }
    w->steps += n;
    double dt = s_now_ns() - t0;
    g->step_ns = dt / (double)n;
    w->busy_ns += dt;
}

static int s_send_msg(void *sock, uint32_t cmd, uint32_t status, uint64_t tick)
{
    s_msg_t m = {.cmd = cmd, .status = status, .tick = tick};
    for (;;) {
        if (zmq_send(sock, &m, sizeof m, 0) == (int)sizeof m) {
            return 0;
        }
        if (errno != EINTR) {
            return TM_ERR_IO;
        }
    }
}

static int s_recv_msg(void *sock, s_msg_t *m, int flags)
{
    for (;;) {
        int n = zmq_recv(sock, m, sizeof *m, flags);
        if (n == (int)sizeof *m) {
            return 0;
        }
        if (n >= 0) {
            return TM_ERR_INTERNAL; /* wrong size: never sent by us */
        }
        if (errno == EAGAIN) {
            return TM_ERR_BUSY;
        }
        if (errno != EINTR) {
            return TM_ERR_IO;
        }
    }
}

/* Handle every message pending on the worker socket. ZMQ_FD is
 * edge-triggered, so drain while ZMQ_EVENTS says POLLIN. */
static void s_worker_drain(tmi_rt_worker_t *w)
{
    for (;;) {
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(w->sock, ZMQ_EVENTS, &events, &sz) != 0) {
            if (errno == EINTR) {
                continue;
            }
            ev_break(w->loop, EVBREAK_ALL);
            return;
        }
        if (!(events & ZMQ_POLLIN)) {
            return;
        }
        s_msg_t m;
        int rc = s_recv_msg(w->sock, &m, ZMQ_DONTWAIT);
        if (rc == TM_ERR_BUSY) {
            continue;
        }
        if (rc != 0 || m.cmd == S_CMD_STOP) {
            ev_break(w->loop, EVBREAK_ALL);
            return;
        }
        if (m.cmd != S_CMD_STEP) {
            continue;
        }
        uint64_t k = atomic_load_explicit(&w->cmd_tick, memory_order_acquire);
        w->busy_ns = 0.0;
        for (size_t i = 0; i < w->n_groups; i++) {
            s_group_step(w->rt, w, w->groups[i], k);
        }
        atomic_store_explicit(&w->done_tick, k, memory_order_release);
        if (s_send_msg(w->sock, S_CMD_DONE, 0, k) != 0) {
            ev_break(w->loop, EVBREAK_ALL);
            return;
        }
    }
}

static void s_worker_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    s_worker_drain(io->data);
}

static void s_worker_prep_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void)loop;
    (void)revents;
    s_worker_drain(p->data);
}

static void *s_worker_main(void *arg)
{
    tmi_rt_worker_t *w = arg;
    ev_run(w->loop, 0);
    return NULL;
}

void tmi_rt_workers_stop(tm_rt_t *rt)
{
    for (unsigned i = 0; i < rt->n_workers; i++) {
        tmi_rt_worker_t *w = &rt->workers[i];
        if (w->started) {
            (void)s_send_msg(w->ctl, S_CMD_STOP, 0, 0);
        }
    }
    for (unsigned i = 0; i < rt->n_workers; i++) {
        tmi_rt_worker_t *w = &rt->workers[i];
        if (w->started) {
            pthread_join(w->thread, NULL);
            w->started = 0;
        }
        if (w->sock != NULL) {
            zmq_close(w->sock);
            w->sock = NULL;
        }
        if (w->ctl != NULL) {
            zmq_close(w->ctl);
            w->ctl = NULL;
        }
        if (w->loop != NULL) {
            ev_loop_destroy(w->loop);
            w->loop = NULL;
        }
        free(w->groups);
        w->groups = NULL;
    }
}

int tmi_rt_worker_start(tm_rt_t *rt, unsigned i)
{
    tmi_rt_worker_t *w = &rt->workers[i];
    w->rt = rt;
    w->idx = i;
    atomic_init(&w->cmd_tick, 0);
    atomic_init(&w->done_tick, 0);
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://tm-rt-%p-%u", (void *)rt, i);
    w->ctl = zmq_socket(rt->zctx, ZMQ_PAIR);
    w->sock = zmq_socket(rt->zctx, ZMQ_PAIR);
    if (w->ctl == NULL || w->sock == NULL || zmq_bind(w->ctl, ep) != 0 ||
        zmq_connect(w->sock, ep) != 0) {
        return TM_ERR_IO;
    }
    int fd = -1;
    size_t sz = sizeof fd;
    if (zmq_getsockopt(w->sock, ZMQ_FD, &fd, &sz) != 0) {
        return TM_ERR_IO;
    }
    w->loop = ev_loop_new(EVFLAG_AUTO);
    if (w->loop == NULL) {
        return TM_ERR_IO;
    }
    ev_io_init(&w->io, s_worker_io_cb, fd, EV_READ);
    w->io.data = w;
    ev_io_start(w->loop, &w->io);
    ev_prepare_init(&w->prep, s_worker_prep_cb);
    w->prep.data = w;
    ev_prepare_start(w->loop, &w->prep);
    if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0) {
        return TM_ERR_IO;
    }
    w->started = 1;
    return 0;
}

/* ---- stepping ----------------------------------------------------------- */

static int s_fault_cmp(const void *a, const void *b)
{
    return strcmp(((const tm_rt_fault_t *)a)->id,
                  ((const tm_rt_fault_t *)b)->id);
}

/* Sift entry i of the max-heap h (by id) of n entries down. */
static void s_fault_sift_down(tm_rt_fault_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            return;
        }
        if (c + 1 < n && strcmp(h[c + 1].id, h[c].id) > 0) {
            c++;
        }
        if (strcmp(h[c].id, h[i].id) <= 0) {
            return;
        }
        tm_rt_fault_t t = h[i];
        h[i] = h[c];
        h[c] = t;
        i = c;
    }
}

/* Offer a fault to the max-heap h of *n entries and `room` places: the
 * heap keeps the smallest ids; every fault it cannot keep is dropped. */
static void s_fault_offer(tm_rt_t *rt, tm_rt_fault_t *h, size_t *n, size_t room,
                          const tm_rt_fault_t *f)
{
    if (*n < room) {
        size_t i = (*n)++;
        h[i] = *f;
        while (i > 0 && strcmp(h[(i - 1) / 2].id, h[i].id) < 0) {
            tm_rt_fault_t t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return;
    }
    rt->faults_dropped++;
    if (room > 0 && strcmp(f->id, h[0].id) < 0) {
        h[0] = *f;
        s_fault_sift_down(h, *n, 0);
    }
}

/* After tick k: append its faults, by id, to the call's list. Workers are
 * idle, so their groups' statuses are stable. */
static void s_faults_merge(tm_rt_t *rt, uint64_t k)
{
    size_t n = 0;
    size_t room = 0;
    tm_rt_fault_t *h = NULL;
    for (unsigned wi = 0; wi < rt->n_workers; wi++) {
        tmi_rt_worker_t *w = &rt->workers[wi];
        if (w->faults == w->faults_merged) {
            continue;
        }
        w->faults_merged = w->faults;
        if (h == NULL) {
            if (rt->faults == NULL) {
                /* Allocated once; without it every fault is dropped. */
                rt->faults = malloc(TM_RT_FAULTS_MAX * sizeof *rt->faults);
            }
            room = rt->faults == NULL ? 0 : TM_RT_FAULTS_MAX - rt->n_faults;
            h = rt->faults == NULL ? NULL : rt->faults + rt->n_faults;
        }
        for (size_t gi = 0; gi < w->n_groups; gi++) {
            tmi_rt_group_t *g = w->groups[gi];
            if (g->n_faulted == 0) {
                continue;
            }
            g->n_faulted = 0;
            for (size_t s = 0; s < g->n; s++) {
                if (g->status[s] != TM_STEP_OK) {
                    tm_rt_fault_t f = {.id = rt->actors[g->actor[s]].id,
                                       .tick = k,
                                       .status = g->status[s]};
                    s_fault_offer(rt, h, &n, room, &f);
                    tmi_rt_note_fault(rt, g->actor[s]);
                }
            }
        }
    }
    if (n > 0) {
        qsort(h, n, sizeof *h, s_fault_cmp);
        rt->n_faults += n;
    }
}

/* Tick k through the workers: one STEP and one DONE per worker. */
static int s_tick_workers(tm_rt_t *rt, uint64_t k)
{
    for (unsigned i = 0; i < rt->n_workers; i++) {
        tmi_rt_worker_t *w = &rt->workers[i];
        atomic_store_explicit(&w->cmd_tick, k, memory_order_release);
        if (s_send_msg(w->ctl, S_CMD_STEP, 0, k) != 0) {
            return TM_ERR_IO;
        }
    }
    for (unsigned i = 0; i < rt->n_workers; i++) {
        tmi_rt_worker_t *w = &rt->workers[i];
        s_msg_t m;
        if (s_recv_msg(w->ctl, &m, 0) != 0 || m.cmd != S_CMD_DONE ||
            m.tick != k ||
            atomic_load_explicit(&w->done_tick, memory_order_acquire) != k) {
            return TM_ERR_IO;
        }
    }
    return 0;
}

/* Tick k on the calling thread: workers are idle between ticks, so the
 * control thread may step their shards itself. */
static void s_tick_inline(tm_rt_t *rt, uint64_t k)
{
    for (unsigned i = 0; i < rt->n_workers; i++) {
        tmi_rt_worker_t *w = &rt->workers[i];
        w->busy_ns = 0.0;
        for (size_t g = 0; g < w->n_groups; g++) {
            s_group_step(rt, w, w->groups[g], k);
        }
    }
}

/* Actor steps taken so far, over the workers' shards. */
static uint64_t s_steps(const tm_rt_t *rt)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < rt->n_workers; i++) {
        n += rt->workers[i].steps;
    }
    return n;
}

/* The work of the tick just stepped, per actor that stepped; a tick where
 * none did (every group off its period) keeps the last measure. */
static void s_measure(tm_rt_t *rt, uint64_t stepped)
{
    if (stepped == 0) {
        return;
    }
    rt->work_ns = 0;
    for (unsigned i = 0; i < rt->n_workers; i++) {
        rt->work_ns += rt->workers[i].busy_ns;
    }
    rt->work_actors = stepped;
}

/* Whether the next tick is stepped on the calling thread: a small mesh,
 * or little work per actor that stepped at the last tick that stepped
 * any, times every actor (the first tick measures it). */
static bool s_inline(const tm_rt_t *rt)
{
    if (rt->n_actors <= rt->inline_actors) {
        return true;
    }
    if (rt->inline_ns <= 0) {
        return false;
    }
    double per =
        rt->work_actors > 0 ? rt->work_ns / (double)rt->work_actors : 0.0;
    return per * (double)rt->n_actors <= rt->inline_ns;
}

int tm_rt_step(tm_rt_t *rt, uint64_t ticks)
{
    rt->n_faults = 0;
    rt->faults_dropped = 0;
    rt->n_events = 0;
    rt->events_dropped = 0;
    for (uint64_t t = 0; t < ticks; t++) {
        if (rt->plan_dirty) {
            int rc = tmi_rt_plan_rebuild(rt);
            if (rc != 0) {
                return rc;
            }
        }
        double t0 = s_now_ns();
        uint64_t k = rt->tick + 1;
        /* Every ring turns before any worker starts: out[0] of each group
         * is then tick k's, out[d] tick k - d's (the release store of the
         * STEP hand-over publishes it to the workers). */
        for (size_t gi = 0; gi < rt->n_groups; gi++) {
            if (rt->groups[gi] != NULL) {
                tmi_rt_ring_turn(rt->groups[gi]);
            }
        }
        uint64_t steps0 = s_steps(rt);
        if (s_inline(rt)) {
            s_tick_inline(rt, k);
        } else if (s_tick_workers(rt, k) != 0) {
            return TM_ERR_IO;
        }
        rt->tick = k;
        rt->last_tick_ns = s_now_ns() - t0;
        s_measure(rt, s_steps(rt) - steps0);
        s_faults_merge(rt, k);
        tmi_rt_supervise(rt, k);
    }
    return 0;
}

void tm_rt_step_times(const tm_rt_t *rt,
                      void (*fn)(void *arg, const tm_model_t *m, double ns,
                                 size_t n),
                      void *arg)
{
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        const tmi_rt_group_t *g = rt->groups[gi];
        if (g != NULL && !g->remote && !g->frozen && g->n > 0 &&
            g->step_ns > 0.0) {
            fn(arg, g->model, g->step_ns, g->n);
        }
    }
}

size_t tm_rt_faults(const tm_rt_t *rt, const tm_rt_fault_t **faults,
                    uint64_t *dropped)
{
    if (faults != NULL) {
        *faults = rt->faults;
    }
    if (dropped != NULL) {
        *dropped = rt->faults_dropped;
    }
    return rt->n_faults;
}

void tm_rt_stats(const tm_rt_t *rt, tm_rt_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->tick = rt->tick;
    out->actors = rt->n_actors;
    out->remote = rt->n_remote;
    out->links = rt->n_links;
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        out->groups += rt->groups[gi] != NULL && !rt->groups[gi]->remote;
    }
    out->workers = rt->n_workers;
    out->last_tick_ns = rt->last_tick_ns;
    for (unsigned i = 0; i < rt->n_workers; i++) {
        const tmi_rt_worker_t *w = &rt->workers[i];
        out->steps += w->steps;
        out->faults += w->faults;
        out->busy_ns[i] = w->busy_ns;
        for (size_t gi = 0; gi < w->n_groups; gi++) {
            out->shard_actors[i] += w->groups[gi]->n;
        }
    }
}
