/* tm_rt: the actor runtime - groups in shards, coupling plan, workers.
 *
 * Layout. An actor lives in a group: the actors of one shard that share a
 * model and a period. A group keeps structure-of-arrays storage (state,
 * previous state, parameters, held inputs, inputs, two output buffers,
 * health), so one model call steps the whole group. The actor table keeps
 * the cold metadata (id, hash, group, slot) and an index maps ids to it.
 *
 * Links, their adjacency lists and the gather plan they resolve into are
 * in tm_rt_link.c, the digest in tm_rt_digest.c; tm_rt_int.h holds the
 * layout they share.
 *
 * Ticks. Tick k reads outputs buffer (k-1)&1 and writes buffer k&1. An
 * actor whose period does not divide k copies its outputs forward. All
 * workers finish tick k before any starts k+1 (one STEP and one DONE
 * message per worker per tick), so reading another shard's previous buffer
 * never races with its writer.
 *
 * Proxies. A proxy of a remote actor lives in a group of its own kind
 * (remote, period 1) that belongs to no worker, so it is never stepped; the
 * gather plan treats it as any source. An import writes both output
 * buffers, so the value is read by the next tick whatever its parity and
 * stays (is held) until the next import.
 *
 * Faults. A worker that sees a fault in a group notes how many in the
 * group (the per-slot status says which). After the tick the control
 * thread visits only the groups of workers whose fault count moved, and
 * keeps the first TM_RT_FAULTS_MAX faults of the call by (tick, id), with a
 * bounded heap; a tick without faults costs one comparison per worker.
 */
#include "tm_rt_int.h"

#include "tm_err.h"
#include "tm_text.h"

#include <ev.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { S_CMD_STEP = 1, S_CMD_STOP = 2, S_CMD_DONE = 3 };

/* Inproc control message: a plain struct, never leaves the process. */
typedef struct {
    uint32_t cmd;
    uint32_t status; /* DONE: 0 or a tm_err_t */
    uint64_t tick;
} s_msg_t;

struct tmi_rt_worker {
    tm_rt_t *rt;
    unsigned idx;
    pthread_t thread;
    int started;
    void *ctl;  /* control side PAIR */
    void *sock; /* worker side PAIR */
    struct ev_loop *loop;
    ev_io io;
    ev_prepare prep;
    /* Explicit release/acquire pairs make the hand-over visible to the
     * thread sanitizer, which cannot see libzmq's own synchronisation. */
    atomic_uint_fast64_t cmd_tick;
    atomic_uint_fast64_t done_tick;
    tmi_rt_group_t **groups;
    size_t n_groups;
    double busy_ns;
    uint64_t steps;
    uint64_t faults;
    uint64_t faults_merged; /* control thread: `faults` at the last merge */
};

/* ---- helpers ------------------------------------------------------------ */

static double s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int tmi_rt_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return 0;
    }
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        ncap += ncap / 2 + 16;
    }
    void *np = realloc(*p, ncap * elem);
    if (np == NULL) {
        return TM_ERR_NOMEM;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

bool tm_rt_id_valid(const char *id)
{
    return tm_text_id_valid(id);
}

/* ---- actor table ---------------------------------------------------- */

static int s_actor_eq(uint32_t handle, const void *key, void *arg)
{
    const tm_rt_t *rt = arg;
    return strcmp(rt->actors[handle].id, key) == 0;
}

uint32_t tmi_rt_actor_find(const tm_rt_t *rt, const char *id)
{
    if (id == NULL) {
        return TMI_RT_NONE;
    }
    return tm_index_find(&rt->actor_ix, tm_hash64(id, strlen(id)), id,
                         s_actor_eq, (void *)rt);
}

/* ---- groups ------------------------------------------------------------- */

static void s_group_free(tmi_rt_group_t *g)
{
    if (g == NULL) {
        return;
    }
    free(g->state);
    free(g->prev);
    free(g->params);
    free(g->held);
    free(g->in);
    free(g->out[0]);
    free(g->out[1]);
    free(g->status);
    free(g->nlink);
    free(g->faults);
    free(g->last_fault);
    free(g->keys);
    free(g->actor);
    free(g->gather);
    free(g);
}

static int s_realloc_array(void **p, size_t count, size_t elem)
{
    if (count == 0) {
        count = 1;
    }
    void *np = realloc(*p, count * elem);
    if (np == NULL) {
        return TM_ERR_NOMEM;
    }
    *p = np;
    return 0;
}

static int s_group_reserve(tmi_rt_group_t *g, size_t need)
{
    if (need <= g->cap) {
        return 0;
    }
    size_t cap = g->cap ? g->cap : 8;
    while (cap < need) {
        cap += cap / 2 + 8;
    }
    const size_t d = sizeof(double);
    int rc = 0;
    rc |= s_realloc_array((void **)&g->state, cap * g->ns, d);
    rc |= s_realloc_array((void **)&g->prev, cap * g->ns, d);
    rc |= s_realloc_array((void **)&g->params, cap * g->np, d);
    rc |= s_realloc_array((void **)&g->held, cap * g->ni, d);
    rc |= s_realloc_array((void **)&g->in, cap * g->ni, d);
    rc |= s_realloc_array((void **)&g->out[0], cap * g->no, d);
    rc |= s_realloc_array((void **)&g->out[1], cap * g->no, d);
    rc |= s_realloc_array((void **)&g->status, cap, 1);
    rc |= s_realloc_array((void **)&g->nlink, cap * g->ni, sizeof(uint16_t));
    rc |= s_realloc_array((void **)&g->faults, cap, sizeof(uint32_t));
    rc |= s_realloc_array((void **)&g->last_fault, cap, sizeof(uint64_t));
    rc |= s_realloc_array((void **)&g->keys, cap, sizeof(uint64_t));
    rc |= s_realloc_array((void **)&g->actor, cap, sizeof(uint32_t));
    if (rc != 0) {
        /* Arrays that grew keep their old contents; cap stays the smallest
         * guaranteed size, so the group remains consistent. */
        return TM_ERR_NOMEM;
    }
    g->cap = cap;
    return 0;
}

/* The group of (model, period, shard, remote), made if needed. Groups of
 * proxies join no worker. */
static int s_group_get(tm_rt_t *rt, const tm_model_t *model, uint32_t period,
                       unsigned shard, bool remote, uint32_t *out)
{
    size_t hole = SIZE_MAX;
    for (size_t i = 0; i < rt->n_groups; i++) {
        tmi_rt_group_t *g = rt->groups[i];
        if (g == NULL) {
            hole = hole == SIZE_MAX ? i : hole;
        } else if (g->model == model && g->period == period &&
                   g->shard == shard && g->remote == remote) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    tmi_rt_worker_t *w = &rt->workers[shard];
    if (hole == SIZE_MAX) {
        tmi_rt_group_t **groups =
            realloc(rt->groups, (rt->n_groups + 1) * sizeof *groups);
        if (groups == NULL) {
            return TM_ERR_NOMEM;
        }
        rt->groups = groups;
        hole = rt->n_groups;
    }
    if (!remote) {
        tmi_rt_group_t **wg =
            realloc(w->groups, (w->n_groups + 1) * sizeof *wg);
        if (wg == NULL) {
            return TM_ERR_NOMEM;
        }
        w->groups = wg;
    }
    tmi_rt_group_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return TM_ERR_NOMEM;
    }
    g->model = model;
    g->period = period;
    g->shard = shard;
    g->remote = remote;
    g->ns = model->n_states;
    g->ni = model->n_inputs;
    g->no = model->n_outputs;
    g->np = model->n_params;
    rt->groups[hole] = g;
    if (!remote) {
        w->groups[w->n_groups++] = g;
    }
    if (hole == rt->n_groups) {
        rt->n_groups++;
    }
    *out = (uint32_t)hole;
    return 0;
}

/* Free group gi if it has no actor left. Gather arrays that point into it
 * are stale until the plan is rebuilt, which happens before the next tick
 * (plan_dirty); the worker's step order does not matter (Jacobi). */
static void s_group_drop_if_empty(tm_rt_t *rt, uint32_t gi)
{
    tmi_rt_group_t *g = rt->groups[gi];
    if (g->n > 0) {
        return;
    }
    tmi_rt_worker_t *w = &rt->workers[g->shard];
    for (size_t i = 0; !g->remote && i < w->n_groups; i++) {
        if (w->groups[i] == g) {
            w->groups[i] = w->groups[--w->n_groups];
            break;
        }
    }
    rt->groups[gi] = NULL;
    s_group_free(g);
    rt->plan_dirty = 1;
}

/* Copy slot `from` of group g over slot `to` (same group). */
static void s_group_move(tmi_rt_group_t *g, size_t to, size_t from)
{
    const size_t d = sizeof(double);
    memcpy(g->state + to * g->ns, g->state + from * g->ns, g->ns * d);
    memcpy(g->prev + to * g->ns, g->prev + from * g->ns, g->ns * d);
    memcpy(g->params + to * g->np, g->params + from * g->np, g->np * d);
    memcpy(g->held + to * g->ni, g->held + from * g->ni, g->ni * d);
    memcpy(g->in + to * g->ni, g->in + from * g->ni, g->ni * d);
    memcpy(g->out[0] + to * g->no, g->out[0] + from * g->no, g->no * d);
    memcpy(g->out[1] + to * g->no, g->out[1] + from * g->no, g->no * d);
    memcpy(g->nlink + to * g->ni, g->nlink + from * g->ni,
           g->ni * sizeof(uint16_t));
    g->status[to] = g->status[from];
    g->faults[to] = g->faults[from];
    g->last_fault[to] = g->last_fault[from];
    g->keys[to] = g->keys[from];
    g->actor[to] = g->actor[from];
}

/* Remove slot s from group gi, moving the last slot into the hole; an
 * emptied group is freed. */
static void s_group_remove(tm_rt_t *rt, uint32_t gi, size_t s)
{
    tmi_rt_group_t *g = rt->groups[gi];
    size_t last = g->n - 1;
    if (s != last) {
        s_group_move(g, s, last);
        rt->actors[g->actor[s]].slot = (uint32_t)s;
    }
    g->n--;
    rt->plan_dirty = 1;
    s_group_drop_if_empty(rt, gi);
}

/* ---- workers ------------------------------------------------------------ */

/* Step one group for tick k (called by its worker). */
static void s_group_step(tm_rt_t *rt, tmi_rt_worker_t *w, tmi_rt_group_t *g,
                         uint64_t k)
{
    const size_t n = g->n;
    if (n == 0) {
        return;
    }
    const int cur = (int)(k & 1u);
    const int prv = cur ^ 1;
    const size_t no = g->no;
    const size_t ni = g->ni;
    const size_t ns = g->ns;
    double *restrict out = g->out[cur];
    const double *restrict pout = g->out[prv];
    if (k % g->period != 0) {
        memcpy(out, pout, n * no * sizeof(double));
        return;
    }
    double t0 = s_now_ns();
    double *restrict in = g->in;
    if (ni > 0) {
        memcpy(in, g->held, n * ni * sizeof(double));
        const tmi_rt_gather_t *ge = g->gather;
        for (size_t e = 0; e < g->n_gather; e++) {
            double v = ge[e].src->out[prv][ge[e].src_off];
            uint32_t dst = ge[e].dst >> 1;
            if (ge[e].dst & 1u) {
                in[dst] += v;
            } else {
                in[dst] = v;
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

static void s_workers_stop(tm_rt_t *rt)
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

static int s_worker_start(tm_rt_t *rt, unsigned i)
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

/* ---- open / destroy ----------------------------------------------------- */

int tm_rt_open(tm_rt_t **out, const tm_rt_config_t *config)
{
    *out = NULL;
    if (config == NULL || !(config->h > 0.0) || !isfinite(config->h) ||
        config->workers > TMI_RT_MAX_WORKERS) {
        return TM_ERR_INVAL;
    }
    if (sodium_init() < 0) {
        return TM_ERR_INTERNAL;
    }
    tm_rt_t *rt = calloc(1, sizeof *rt);
    if (rt == NULL) {
        return TM_ERR_NOMEM;
    }
    int rc = 0;
    rt->h = config->h;
    rt->seed = config->seed;
    rt->tick = config->tick;
    rt->inline_actors = config->inline_actors;
    rt->free_actor = TMI_RT_NONE;
    tm_index_init(&rt->actor_ix);
    tm_index_init(&rt->link_ix);
    unsigned w = config->workers;
    if (w == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        w = cores < 1 ? 1u
                      : (cores > (long)TMI_RT_MAX_WORKERS ? TMI_RT_MAX_WORKERS
                                                          : (unsigned)cores);
    }
    rt->zctx = zmq_ctx_new();
    rt->workers = calloc(w, sizeof *rt->workers);
    if (rt->zctx == NULL || rt->workers == NULL) {
        rc = rt->zctx == NULL ? TM_ERR_IO : TM_ERR_NOMEM;
        goto done;
    }
    for (unsigned i = 0; i < w; i++) {
        rt->n_workers = i + 1;
        rc = s_worker_start(rt, i);
        if (rc != 0) {
            goto done;
        }
    }
    *out = rt;
done:
    if (rc != 0) {
        tm_rt_destroy(&rt);
    }
    return rc;
}

void tm_rt_destroy(tm_rt_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_rt_t *rt = *p;
    if (rt->workers != NULL) {
        s_workers_stop(rt);
        free(rt->workers);
    }
    if (rt->zctx != NULL) {
        zmq_ctx_term(rt->zctx);
    }
    for (size_t i = 0; i < rt->n_groups; i++) {
        s_group_free(rt->groups[i]);
    }
    free(rt->groups);
    free(rt->actors);
    free(rt->links);
    free(rt->adj);
    free(rt->faults);
    tm_index_free(&rt->actor_ix);
    tm_index_free(&rt->link_ix);
    free(rt);
    *p = NULL;
}

/* ---- spawn / kill ------------------------------------------------------- */

static int s_check_values(const tm_var_t *vars, uint32_t n, const double *v)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || v[i] < vars[i].min || v[i] > vars[i].max) {
            return TM_ERR_BAD_VALUE;
        }
    }
    return 0;
}

static bool s_all_finite(const double *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return false;
        }
    }
    return true;
}

static void s_defaults(const tm_var_t *vars, uint32_t n, double *out)
{
    for (uint32_t i = 0; i < n; i++) {
        out[i] = vars[i].def;
    }
}

/* Place actor handle a (id already set) into group gi with the given
 * state, params, held inputs, last inputs (NULL: zero), link counts (NULL:
 * none) and outputs of the current tick. */
static int s_place_actor(tm_rt_t *rt, uint32_t a, uint32_t gi,
                         const double *state, const double *params,
                         const double *held, const double *in,
                         const uint16_t *nlink, const double *outputs)
{
    tmi_rt_group_t *g = rt->groups[gi];
    int rc = s_group_reserve(g, g->n + 1);
    if (rc != 0) {
        return rc;
    }
    size_t s = g->n;
    const size_t d = sizeof(double);
    memcpy(g->state + s * g->ns, state, g->ns * d);
    memcpy(g->prev + s * g->ns, state, g->ns * d);
    memcpy(g->params + s * g->np, params, g->np * d);
    memcpy(g->held + s * g->ni, held, g->ni * d);
    if (in != NULL) {
        memcpy(g->in + s * g->ni, in, g->ni * d);
    } else {
        memset(g->in + s * g->ni, 0, g->ni * d);
    }
    if (nlink != NULL) {
        memcpy(g->nlink + s * g->ni, nlink, g->ni * sizeof(uint16_t));
    } else {
        memset(g->nlink + s * g->ni, 0, g->ni * sizeof(uint16_t));
    }
    g->status[s] = TM_STEP_OK;
    g->faults[s] = 0;
    g->last_fault[s] = 0;
    g->keys[s] = rt->actors[a].hash;
    g->actor[s] = a;
    double *cur = g->out[rt->tick & 1u] + s * g->no;
    memcpy(cur, outputs, g->no * d);
    /* Both buffers hold the spawn outputs, so a reader of either parity
     * sees them. */
    memcpy(g->out[(rt->tick & 1u) ^ 1u] + s * g->no, cur, g->no * d);
    g->n++;
    rt->actors[a].group = gi;
    rt->actors[a].slot = (uint32_t)s;
    rt->plan_dirty = 1;
    return 0;
}

/* Spawn an actor, or a proxy (remote: options ignored). */
static int s_spawn(tm_rt_t *rt, const char *id, const tm_model_t *model,
                   const tm_rt_spawn_opts_t *opts, bool remote)
{
    if (!tm_rt_id_valid(id)) {
        return TM_ERR_BAD_ID;
    }
    if (model == NULL || tm_model_check(model) != 0) {
        return TM_ERR_MODEL_ABI;
    }
    if (tmi_rt_actor_find(rt, id) != TMI_RT_NONE) {
        return TM_ERR_DUPLICATE_ACTOR;
    }
    tm_rt_spawn_opts_t none = {0};
    if (opts == NULL || remote) {
        opts = &none;
    }
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    double held[TM_MODEL_MAX_VARS];
    if (opts->params != NULL) {
        memcpy(params, opts->params, model->n_params * sizeof(double));
    } else {
        s_defaults(model->params, model->n_params, params);
    }
    if (s_check_values(model->params, model->n_params, params) != 0) {
        return TM_ERR_BAD_VALUE;
    }
    if (opts->held != NULL) {
        memcpy(held, opts->held, model->n_inputs * sizeof(double));
        if (s_check_values(model->inputs, model->n_inputs, held) != 0) {
            return TM_ERR_BAD_VALUE;
        }
    } else {
        s_defaults(model->inputs, model->n_inputs, held);
    }
    if (opts->state != NULL) {
        memcpy(state, opts->state, model->n_states * sizeof(double));
    } else {
        s_defaults(model->states, model->n_states, state);
        if (model->init(params, state) != TM_STEP_OK) {
            return TM_ERR_BAD_VALUE;
        }
    }
    /* Outputs are checked like a step's: a non-finite value must never
     * travel along a link. */
    double outputs[TM_MODEL_MAX_VARS];
    if (opts->outputs != NULL) {
        memcpy(outputs, opts->outputs, model->n_outputs * sizeof(double));
    } else {
        double zero[TM_MODEL_MAX_VARS] = {0};
        model->output(1, state, params, zero, outputs);
    }
    if (!s_all_finite(state, model->n_states) ||
        !s_all_finite(outputs, model->n_outputs)) {
        return TM_ERR_BAD_VALUE;
    }
    uint32_t period = opts->period == 0 ? 1 : opts->period;

    uint64_t hash = tm_hash64(id, strlen(id));
    uint32_t gi = 0;
    unsigned shard = remote ? 0 : (unsigned)(hash % rt->n_workers);
    int rc = s_group_get(rt, model, period, shard, remote, &gi);
    if (rc != 0) {
        return rc;
    }
    uint32_t a = rt->free_actor;
    if (a == TMI_RT_NONE) {
        rc = tmi_rt_grow((void **)&rt->actors, &rt->cap_actors,
                         rt->n_actor_slots + 1, sizeof *rt->actors);
        if (rc != 0) {
            s_group_drop_if_empty(rt, gi);
            return rc;
        }
        a = (uint32_t)rt->n_actor_slots++;
    } else {
        rt->free_actor = rt->actors[a].slot;
    }
    tmi_rt_actor_t *ac = &rt->actors[a];
    snprintf(ac->id, sizeof ac->id, "%s", id);
    ac->hash = hash;
    ac->spawned = rt->tick;
    ac->head[TMI_RT_OUT] = TMI_RT_NONE;
    ac->head[TMI_RT_IN] = TMI_RT_NONE;
    rc = tm_index_insert(&rt->actor_ix, hash, a);
    if (rc == 0) {
        rc = s_place_actor(rt, a, gi, state, params, held, NULL, NULL, outputs);
        if (rc != 0) {
            tm_index_remove(&rt->actor_ix, hash, a);
        }
    }
    if (rc != 0) {
        ac->group = TMI_RT_NONE;
        ac->slot = rt->free_actor;
        rt->free_actor = a;
        s_group_drop_if_empty(rt, gi);
        return rc;
    }
    if (remote) {
        rt->n_remote++;
    } else {
        rt->n_actors++;
    }
    return 0;
}

int tm_rt_spawn(tm_rt_t *rt, const char *id, const tm_model_t *model,
                const tm_rt_spawn_opts_t *opts)
{
    return s_spawn(rt, id, model, opts, false);
}

int tm_rt_spawn_remote(tm_rt_t *rt, const char *id, const tm_model_t *model)
{
    return s_spawn(rt, id, model, NULL, true);
}

int tm_rt_kill(tm_rt_t *rt, const char *id)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    /* O(degree): removals keep the heads current, and a link from the
     * actor to itself leaves both lists at once. */
    for (int dir = TMI_RT_OUT; dir <= TMI_RT_IN; dir++) {
        while (rt->actors[a].head[dir] != TMI_RT_NONE) {
            tmi_rt_link_remove_at(rt, rt->actors[a].head[dir]);
        }
    }
    tmi_rt_actor_t *ac = &rt->actors[a];
    if (rt->groups[ac->group]->remote) {
        rt->n_remote--;
    } else {
        rt->n_actors--;
    }
    s_group_remove(rt, ac->group, ac->slot);
    tm_index_remove(&rt->actor_ix, ac->hash, a);
    ac->group = TMI_RT_NONE;
    ac->id[0] = '\0';
    ac->slot = rt->free_actor;
    rt->free_actor = a;
    return 0;
}

/* ---- set / set_model ---------------------------------------------------- */

/* Outputs of slot s at the current tick from its state, parameters and
 * last inputs. TM_ERR_BAD_VALUE, outputs unchanged, if one is not finite. */
static int s_recompute_outputs(tm_rt_t *rt, tmi_rt_group_t *g, size_t s)
{
    double y[TM_MODEL_MAX_VARS];
    g->model->output(1, g->state + s * g->ns, g->params + s * g->np,
                     g->in + s * g->ni, y);
    if (!s_all_finite(y, g->no)) {
        return TM_ERR_BAD_VALUE;
    }
    memcpy(g->out[rt->tick & 1u] + s * g->no, y, g->no * sizeof(double));
    return 0;
}

int tm_rt_set(tm_rt_t *rt, const char *id, const char *name, double value)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    size_t s = rt->actors[a].slot;
    const tm_model_t *m = g->model;
    if (g->remote) {
        return TM_ERR_INVAL;
    }
    if (name == NULL) {
        return TM_ERR_UNKNOWN_PORT;
    }
    int i = tm_model_var_index(m->params, m->n_params, name);
    if (i >= 0) {
        if (s_check_values(&m->params[i], 1, &value) != 0) {
            return TM_ERR_BAD_VALUE;
        }
        double *p = &g->params[s * g->np + (size_t)i];
        double old = *p;
        *p = value;
        int rc = s_recompute_outputs(rt, g, s);
        if (rc != 0) {
            *p = old;
        }
        return rc;
    }
    i = tm_model_var_index(m->states, m->n_states, name);
    if (i >= 0) {
        if (!isfinite(value)) {
            return TM_ERR_BAD_VALUE;
        }
        double *x = &g->state[s * g->ns + (size_t)i];
        double old = *x;
        *x = value;
        int rc = s_recompute_outputs(rt, g, s);
        if (rc != 0) {
            *x = old;
        }
        return rc;
    }
    i = tm_model_var_index(m->inputs, m->n_inputs, name);
    if (i >= 0) {
        if (s_check_values(&m->inputs[i], 1, &value) != 0) {
            return TM_ERR_BAD_VALUE;
        }
        g->held[s * g->ni + (size_t)i] = value;
        return 0;
    }
    return TM_ERR_UNKNOWN_PORT;
}

int tm_rt_set_model(tm_rt_t *rt, const char *id, const tm_model_t *model)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    uint32_t ogi = rt->actors[a].group;
    size_t os = rt->actors[a].slot;
    tmi_rt_group_t *og = rt->groups[ogi];
    if (og->remote) {
        return TM_ERR_INVAL;
    }
    if (model == og->model) {
        return 0;
    }
    if (model == NULL || tm_model_check(model) != 0 ||
        tm_model_check_family(og->model, model) != 0) {
        return TM_ERR_INVAL;
    }
    double state[TM_MODEL_MAX_VARS];
    double params[TM_MODEL_MAX_VARS];
    double held[TM_MODEL_MAX_VARS];
    double in[TM_MODEL_MAX_VARS];
    uint16_t nlink[TM_MODEL_MAX_VARS];
    const size_t d = sizeof(double);
    memcpy(params, og->params + os * og->np, og->np * d);
    memcpy(held, og->held + os * og->ni, og->ni * d);
    memcpy(in, og->in + os * og->ni, og->ni * d);
    memcpy(nlink, og->nlink + os * og->ni, og->ni * sizeof(uint16_t));
    if (tm_model_map_state(model, og->model, og->state + os * og->ns, params,
                           state) != TM_STEP_OK ||
        !s_all_finite(state, model->n_states)) {
        return TM_ERR_MODEL_FAILED;
    }
    double outputs[TM_MODEL_MAX_VARS];
    model->output(1, state, params, in, outputs);
    if (!s_all_finite(outputs, model->n_outputs)) {
        return TM_ERR_MODEL_FAILED;
    }
    uint8_t status = og->status[os];
    uint32_t faults = og->faults[os];
    uint64_t last_fault = og->last_fault[os];
    uint32_t ngi = 0;
    int rc = s_group_get(rt, model, og->period, og->shard, false, &ngi);
    if (rc != 0) {
        return rc;
    }
    /* Place first, then free the old slot (and maybe its group): on
     * failure the actor is still where it was. */
    rc = s_place_actor(rt, a, ngi, state, params, held, in, nlink, outputs);
    if (rc != 0) {
        s_group_drop_if_empty(rt, ngi);
        return rc;
    }
    s_group_remove(rt, ogi, os);
    tmi_rt_group_t *ng = rt->groups[ngi];
    size_t ns = rt->actors[a].slot;
    ng->status[ns] = status;
    ng->faults[ns] = faults;
    ng->last_fault[ns] = last_fault;
    return 0;
}

/* ---- proxies: import and export ---------------------------------------- */

int tm_rt_import(tm_rt_t *rt, const char *id, const double *outputs)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    if (!g->remote) {
        return TM_ERR_INVAL;
    }
    if (g->no == 0) {
        return 0;
    }
    if (outputs == NULL) {
        return TM_ERR_INVAL;
    }
    if (!s_all_finite(outputs, g->no)) {
        return TM_ERR_BAD_VALUE;
    }
    /* Both buffers: the next tick reads the value whatever its parity, and
     * later ticks read it too until the next import. */
    size_t off = (size_t)rt->actors[a].slot * g->no;
    memcpy(g->out[0] + off, outputs, g->no * sizeof(double));
    memcpy(g->out[1] + off, outputs, g->no * sizeof(double));
    return 0;
}

int tm_rt_outputs(const tm_rt_t *rt, const char *id, const double **out,
                  const tm_model_t **model)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    const tmi_rt_actor_t *ac = &rt->actors[a];
    const tmi_rt_group_t *g = rt->groups[ac->group];
    *out = g->out[rt->tick & 1u] + (size_t)ac->slot * g->no;
    if (model != NULL) {
        *model = g->model;
    }
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
                }
            }
        }
    }
    if (n > 0) {
        qsort(h, n, sizeof *h, s_fault_cmp);
        rt->n_faults += n;
    }
}

int tm_rt_step(tm_rt_t *rt, uint64_t ticks)
{
    rt->n_faults = 0;
    rt->faults_dropped = 0;
    for (uint64_t t = 0; t < ticks; t++) {
        if (rt->plan_dirty) {
            int rc = tmi_rt_plan_rebuild(rt);
            if (rc != 0) {
                return rc;
            }
        }
        double t0 = s_now_ns();
        uint64_t k = rt->tick + 1;
        if (rt->n_actors <= rt->inline_actors) {
            /* Workers are idle between ticks, so the control thread may
             * step their shards itself. */
            for (unsigned i = 0; i < rt->n_workers; i++) {
                tmi_rt_worker_t *w = &rt->workers[i];
                w->busy_ns = 0.0;
                for (size_t g = 0; g < w->n_groups; g++) {
                    s_group_step(rt, w, w->groups[g], k);
                }
            }
            rt->tick = k;
            rt->last_tick_ns = s_now_ns() - t0;
            s_faults_merge(rt, k);
            continue;
        }
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
                atomic_load_explicit(&w->done_tick, memory_order_acquire) !=
                    k) {
                return TM_ERR_IO;
            }
        }
        rt->tick = k;
        rt->last_tick_ns = s_now_ns() - t0;
        s_faults_merge(rt, k);
    }
    return 0;
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

/* ---- queries ------------------------------------------------------------ */

uint64_t tm_rt_tick(const tm_rt_t *rt)
{
    return rt->tick;
}

double tm_rt_h(const tm_rt_t *rt)
{
    return rt->h;
}

uint64_t tm_rt_seed(const tm_rt_t *rt)
{
    return rt->seed;
}

size_t tm_rt_count(const tm_rt_t *rt)
{
    return rt->n_actors;
}

static void s_view(const tm_rt_t *rt, uint32_t a, tm_rt_actor_t *v)
{
    const tmi_rt_actor_t *ac = &rt->actors[a];
    const tmi_rt_group_t *g = rt->groups[ac->group];
    size_t s = ac->slot;
    v->id = ac->id;
    v->model = g->model;
    v->period = g->period;
    v->shard = g->shard;
    v->state = g->state + s * g->ns;
    v->params = g->params + s * g->np;
    v->inputs = g->in + s * g->ni;
    v->held = g->held + s * g->ni;
    v->outputs = g->out[rt->tick & 1u] + s * g->no;
    v->linked = g->nlink + s * g->ni;
    v->health.last_status = g->status[s];
    v->health.faults = g->faults[s];
    v->health.last_fault = g->last_fault[s];
    v->health.last_stepped = rt->tick - rt->tick % g->period;
    if (v->health.last_stepped < ac->spawned || g->remote) {
        v->health.last_stepped = ac->spawned;
    }
    v->step_ns = g->step_ns;
    v->remote = g->remote;
}

int tm_rt_get(tm_rt_t *rt, const char *id, tm_rt_actor_t *out)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    s_view(rt, a, out);
    return 0;
}

int tm_rt_foreach(tm_rt_t *rt, int (*cb)(const tm_rt_actor_t *, void *),
                  void *arg)
{
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        const tmi_rt_group_t *g = rt->groups[gi];
        if (g == NULL || g->remote) {
            continue;
        }
        for (size_t s = 0; s < g->n; s++) {
            tm_rt_actor_t v;
            s_view(rt, g->actor[s], &v);
            int rc = cb(&v, arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
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
