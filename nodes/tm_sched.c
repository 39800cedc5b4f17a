/* tm_sched: the node's clock - when ticks are stepped. */
#include "tm_sched.h"

#include "tm_err.h"
#include "tm_time.h"
#include "tm_log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_CHUNK_S 0.010 /* target wall time of one stepping chunk */
/* Per-tick stepping (a mesh): ticks that are ready are stepped one after
 * the other for up to this long before the loop turns again (a turn of
 * the loop costs several system calls, more than a small mesh's tick). */
#define S_BURST_S   0.001
#define S_CHUNK_MAX 1048576u
#define S_RATE_S    1.0 /* rates are measured over this period */
#define S_SUBS_MAX  12

struct tm_sched {
    tm_rt_t *rt;
    struct ev_loop *loop;
    tm_sched_fatal_fn fatal;
    void *fatal_arg;
    tm_sched_sub_t subs[S_SUBS_MAX];
    size_t n_subs;
    bool per_tick_only;
    bool stopped;
    bool waiting; /* a subscriber's ready() said no: until a kick */

    ev_idle idle;
    ev_timer tick_timer;
    ev_timer rate_timer;

    tm_clock_t mode;
    double rt_t0; /* realtime: monotonic time of tick rt_k0 */
    uint64_t rt_k0;
    uint64_t rt_allow;      /* realtime: stepped up to here before it is due */
    uint64_t early;         /* ticks stepped so */
    double per_tick;        /* EMA of wall seconds per tick ... */
    size_t per_tick_actors; /* ... measured with this many actors */

    bool run_active;
    uint64_t run_ticks;
    uint64_t run_start;
    uint64_t run_steps0;
    double run_t0;
    tm_sched_run_t last_run;
    tm_clock_t mode_before_run; /* for tm_sched_run_abort */
    tm_sched_run_t last_run_before;

    double rate_at;
    uint64_t rate_steps;
    uint64_t rate_tick;
    double steps_per_s;
    double ticks_per_s;
    /* step time: wall seconds in tm_rt_step, ticks stepped and actors
     * times ticks since the last rate period; the smoothed microseconds
     * per tick and the actors they were measured with */
    double step_wall;
    uint64_t step_ticks;
    double step_actor_ticks;
    double step_us;
    double step_actors;
};

static void s_schedule(tm_sched_t *s);

/* ---- runs --------------------------------------------------------------- */

void tm_sched_run_info(const tm_sched_t *s, tm_sched_run_t *out)
{
    if (!s->run_active) {
        *out = s->last_run;
        return;
    }
    tm_rt_stats_t st;
    tm_rt_stats(s->rt, &st);
    out->active = true;
    out->ticks = s->run_ticks;
    out->start = s->run_start;
    out->done = st.tick - s->run_start;
    out->steps = st.steps - s->run_steps0;
    out->elapsed_s = tm_time_now() - s->run_t0;
}

int tm_sched_run(tm_sched_t *s, uint64_t ticks)
{
    if (s->run_active) {
        return TM_ERR_BUSY;
    }
    tm_rt_stats_t st;
    tm_rt_stats(s->rt, &st);
    if (ticks > UINT64_MAX - st.tick) {
        return TM_ERR_RANGE; /* tick numbers would wrap */
    }
    s->mode_before_run = s->mode;
    s->last_run_before = s->last_run;
    s->run_active = true;
    s->run_ticks = ticks;
    s->run_start = st.tick;
    s->run_steps0 = st.steps;
    s->run_t0 = tm_time_now();
    s_schedule(s);
    return 0;
}

/* End the run; the clock goes on in `next` (reported by run_end). */
static void s_run_end(tm_sched_t *s, int status, const char *why,
                      tm_clock_t next)
{
    if (!s->run_active) {
        return;
    }
    tm_sched_run_info(s, &s->last_run);
    s->last_run.active = false;
    s->run_active = false;
    s->mode = next;
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].run_end != NULL) {
            s->subs[i].run_end(s->subs[i].arg, status, why);
        }
    }
    s->waiting = false;
    s_schedule(s);
}

void tm_sched_run_stop(tm_sched_t *s, int status, const char *why)
{
    s_run_end(s, status, why, TM_CLOCK_PAUSED);
}

void tm_sched_run_abort(tm_sched_t *s)
{
    if (!s->run_active) {
        return;
    }
    s->run_active = false;
    s->mode = s->mode_before_run;
    s->last_run = s->last_run_before;
    s_schedule(s);
}

/* ---- stepping ----------------------------------------------------------- */

/* Realtime: ticks due by now and not stepped yet, at most S_CHUNK_MAX.
 * Counted in doubles: with a tiny h the ticks due since t0 do not fit a
 * uint64_t. */
static uint64_t s_rt_due(const tm_sched_t *s, double now)
{
    double h = tm_rt_h(s->rt);
    double stepped = (double)(tm_rt_tick(s->rt) - s->rt_k0);
    double behind = floor((now - s->rt_t0) / h) - stepped;
    if (!(behind >= 1)) {
        return 0;
    }
    return behind >= (double)S_CHUNK_MAX ? S_CHUNK_MAX : (uint64_t)behind;
}

/* Ticks of about S_CHUNK_S at the measured cost per tick. A cost not
 * measured yet, or measured when the mesh was smaller, says nothing about
 * the next tick: step one tick and measure again, rather than hold the
 * loop (and every console) for a chunk sized for a small mesh. */
static uint64_t s_chunk_ticks(const tm_sched_t *s)
{
    if (s->per_tick_only || s->per_tick <= 0 ||
        tm_rt_count(s->rt) > s->per_tick_actors) {
        return 1;
    }
    double chunk = S_CHUNK_S / s->per_tick;
    if (chunk < 1) {
        return 1;
    }
    return chunk > (double)S_CHUNK_MAX ? S_CHUNK_MAX : (uint64_t)chunk;
}

/* Ticks wanted now: by the run, the fast clock or the realtime schedule,
 * bounded by the chunk and by subscribers' stops. */
static uint64_t s_want(const tm_sched_t *s, double now)
{
    uint64_t tick = tm_rt_tick(s->rt);
    uint64_t chunk = s_chunk_ticks(s);
    uint64_t want = 0;
    if (s->run_active) {
        want = s->run_start + s->run_ticks - tick;
    } else if (s->mode == TM_CLOCK_FAST) {
        want = chunk;
    } else if (s->mode == TM_CLOCK_REALTIME) {
        want = s_rt_due(s, now);
        if (s->rt_allow > tick && want < s->rt_allow - tick) {
            want = s->rt_allow - tick; /* tm_sched_step_early */
        }
    }
    if (want > chunk) {
        want = chunk;
    }
    if (want > UINT64_MAX - tick) {
        want = UINT64_MAX - tick; /* the last tick: never wrap */
    }
    for (size_t i = 0; i < s->n_subs; i++) {
        uint64_t stop =
            s->subs[i].next_stop ? s->subs[i].next_stop(s->subs[i].arg) : 0;
        if (stop > tick && want > stop - tick) {
            want = stop - tick; /* end the chunk on the subscriber's tick */
        }
    }
    return want;
}

/* Whether every subscriber lets tick `next` be stepped now. */
static bool s_ready(tm_sched_t *s, uint64_t next)
{
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].ready != NULL &&
            !s->subs[i].ready(s->subs[i].arg, next)) {
            s->waiting = true;
            return false;
        }
    }
    s->waiting = false;
    return true;
}

/* A run whose ticks are stepped ends, unless a subscriber holds it (the
 * mesh's other nodes are still stepping theirs): then it waits. */
static void s_run_maybe_end(tm_sched_t *s)
{
    if (!s->run_active || tm_rt_tick(s->rt) < s->run_start + s->run_ticks) {
        return;
    }
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].hold != NULL && s->subs[i].hold(s->subs[i].arg)) {
            s->waiting = true;
            return;
        }
    }
    tm_sched_run_stop(s, 0, NULL);
}

/* Step one chunk if one is wanted and ready; whether it did. */
static bool s_step_chunk(tm_sched_t *s)
{
    double now = tm_time_now();
    size_t actors = tm_rt_count(s->rt);
    bool fresh = s->per_tick <= 0 || actors > s->per_tick_actors;
    uint64_t want = s_want(s, now);
    if (want == 0) {
        s_run_maybe_end(s);
        return false;
    }
    uint64_t tick = tm_rt_tick(s->rt);
    if (!s_ready(s, tick + 1)) {
        return false;
    }
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].before != NULL) {
            s->subs[i].before(s->subs[i].arg, tick);
        }
    }
    double t_step = tm_time_now();
    int rc = tm_rt_step(s->rt, want);
    s->step_wall += tm_time_now() - t_step;
    s->step_ticks += want;
    s->step_actor_ticks += (double)actors * (double)want;
    if (rc != 0) {
        tm_log(TM_LOG_ERROR, "sched: runtime failed (%s); stopping",
               tm_err_str(rc));
        s->stopped = true;
        s_schedule(s);
        s->fatal(s->fatal_arg, rc);
        return false;
    }
    double per = (tm_time_now() - now) / (double)want;
    if (!(per > 0)) {
        per = 1e-9; /* below the clock's resolution: still measured */
    }
    s->per_tick = fresh ? per : 0.7 * s->per_tick + 0.3 * per;
    s->per_tick_actors = actors;
    tick = tm_rt_tick(s->rt);
    for (size_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i].after != NULL) {
            s->subs[i].after(s->subs[i].arg, tick);
        }
    }
    s_run_maybe_end(s);
    return true;
}

/* Whether the clock wants more ticks now without waiting for anything:
 * what keeps the idle watcher on (s_schedule), and a burst going. */
static bool s_wants_more(const tm_sched_t *s)
{
    if (s->stopped || s->waiting) {
        return false;
    }
    if (s->run_active || s->mode == TM_CLOCK_FAST) {
        return true;
    }
    return s->mode == TM_CLOCK_REALTIME &&
           (s_rt_due(s, tm_time_now()) > 0 || s->rt_allow > tm_rt_tick(s->rt));
}

void tm_sched_kick(tm_sched_t *s)
{
    if (s->waiting) {
        s->waiting = false;
        s_schedule(s);
    }
}

bool tm_sched_waiting(const tm_sched_t *s)
{
    return s->waiting;
}

bool tm_sched_stepping(const tm_sched_t *s)
{
    return s->loop != NULL && ev_is_active(&s->idle);
}

bool tm_sched_step_early(tm_sched_t *s, uint64_t target)
{
    /* not on a node of a mesh: its peers' real-time clocks catch up with
     * the tick it shows, so one early step would move the whole mesh's
     * schedule */
    if (s->mode != TM_CLOCK_REALTIME || s->run_active || s->stopped ||
        s->loop == NULL || s->per_tick_only) {
        return false;
    }
    uint64_t tick = tm_rt_tick(s->rt);
    double h = tm_rt_h(s->rt);
    double due = (double)s->rt_k0 + floor((tm_time_now() - s->rt_t0) / h);
    if (target <= tick || (double)target > due + TM_SCHED_EARLY_MAX) {
        return false; /* stepped, or the clock's own schedule is nearer */
    }
    if (target > s->rt_allow) {
        /* counted: the ticks not due yet that this steps */
        uint64_t from = s->rt_allow > tick ? s->rt_allow : tick;
        if (due > (double)from) {
            from = (uint64_t)due;
        }
        s->early += target > from ? target - from : 0;
        s->rt_allow = target;
    }
    s_schedule(s);
    return true;
}

uint64_t tm_sched_early(const tm_sched_t *s)
{
    return s->early;
}

void tm_sched_catch_up(tm_sched_t *s, uint64_t tick)
{
    if (s->run_active || s->mode != TM_CLOCK_REALTIME) {
        return;
    }
    double now = tm_time_now();
    double h = tm_rt_h(s->rt);
    double due = (double)s->rt_k0 + floor((now - s->rt_t0) / h);
    if (due >= (double)tick) {
        return;
    }
    uint64_t cur = tm_rt_tick(s->rt);
    if (tick <= cur) {
        return;
    }
    s->rt_k0 = cur;
    s->rt_t0 = now - (double)(tick - cur) * h;
    s_schedule(s);
}

int tm_sched_run_to(tm_sched_t *s, uint64_t target)
{
    uint64_t tick = tm_rt_tick(s->rt);
    return tm_sched_run(s, target > tick ? target - tick : 0);
}

static void s_idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_sched_t *s = w->data;
    /* one tick per chunk (a mesh): the ticks that are ready go in a burst */
    double until = tm_time_now() + S_BURST_S;
    while (s_step_chunk(s) && s->per_tick_only && s_wants_more(s) &&
           tm_time_now() < until) {
    }
    s_schedule(s);
}

static void s_tick_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_sched_t *s = w->data;
    s_step_chunk(s);
    s_schedule(s);
}

/* How the next ticks are driven: idle (as fast as possible, between
 * console requests), a timer (realtime, on schedule), or nothing. */
static void s_schedule(tm_sched_t *s)
{
    bool idle = false;
    double wait = -1;
    if (s->loop == NULL) {
        return;
    }
    idle = s_wants_more(s);
    if (!idle && !s->stopped && !s->waiting && s->mode == TM_CLOCK_REALTIME) {
        double h = tm_rt_h(s->rt);
        double next = s->rt_t0 + (double)(tm_rt_tick(s->rt) + 1 - s->rt_k0) * h;
        wait = next - tm_time_now();
        if (wait < 0) {
            wait = 0;
        }
    }
    if (idle && !ev_is_active(&s->idle)) {
        ev_idle_start(s->loop, &s->idle);
    } else if (!idle && ev_is_active(&s->idle)) {
        ev_idle_stop(s->loop, &s->idle);
    }
    ev_timer_stop(s->loop, &s->tick_timer);
    if (wait >= 0) {
        ev_timer_set(&s->tick_timer, wait, 0.0);
        ev_timer_start(s->loop, &s->tick_timer);
    }
}

static void s_rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_sched_t *s = w->data;
    tm_rt_stats_t st;
    double now = tm_time_now();
    tm_rt_stats(s->rt, &st);
    double dt = now - s->rate_at;
    if (dt > 0) {
        s->steps_per_s = (double)(st.steps - s->rate_steps) / dt;
        s->ticks_per_s = (double)(st.tick - s->rate_tick) / dt;
    }
    s->rate_steps = st.steps;
    s->rate_tick = st.tick;
    s->rate_at = now;
    if (s->step_ticks > 0) {
        /* a second without steps (paused) keeps the last values */
        double us = s->step_wall / (double)s->step_ticks * 1e6;
        double n = s->step_actor_ticks / (double)s->step_ticks;
        bool first = s->step_us <= 0;
        s->step_us = first ? us : 0.5 * s->step_us + 0.5 * us;
        s->step_actors = first ? n : 0.5 * s->step_actors + 0.5 * n;
    }
    s->step_wall = 0;
    s->step_ticks = 0;
    s->step_actor_ticks = 0;
}

/* ---- modes -------------------------------------------------------------- */

void tm_sched_set_mode(tm_sched_t *s, tm_clock_t mode)
{
    /* the run's last reply names the clock it leaves running */
    s_run_end(s, TM_ERR_CLOSED, "run interrupted by a clock change", mode);
    s->mode = mode;
    s->waiting = false;
    s->rt_allow = 0;
    if (mode == TM_CLOCK_REALTIME) {
        /* tick k is due at t0 + (k - k0) h from now on */
        s->rt_t0 = tm_time_now();
        s->rt_k0 = tm_rt_tick(s->rt);
    }
    s_schedule(s);
}

tm_clock_t tm_sched_mode(const tm_sched_t *s)
{
    return s->mode;
}

const char *tm_sched_label(const tm_sched_t *s)
{
    return s->run_active ? "run" : tm_clock_name(s->mode);
}

double tm_sched_lag(const tm_sched_t *s)
{
    if (s->mode != TM_CLOCK_REALTIME || s->run_active) {
        return 0;
    }
    double h = tm_rt_h(s->rt);
    double due = s->rt_t0 + (double)(tm_rt_tick(s->rt) - s->rt_k0) * h;
    double lag = tm_time_now() - due - h;
    return lag > 0 ? lag : 0;
}

double tm_sched_steps_per_s(const tm_sched_t *s)
{
    return s->steps_per_s;
}

double tm_sched_ticks_per_s(const tm_sched_t *s)
{
    return s->ticks_per_s;
}

/* ---- lifecycle ---------------------------------------------------------- */

int tm_sched_open(tm_sched_t **out, tm_rt_t *rt, tm_clock_t mode,
                  tm_sched_fatal_fn fatal, void *arg)
{
    tm_sched_t *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL) {
        return TM_ERR_NOMEM;
    }
    s->rt = rt;
    s->mode = mode;
    s->fatal = fatal;
    s->fatal_arg = arg;
    ev_idle_init(&s->idle, s_idle_cb);
    /* An idle watcher runs only when nothing of its priority or above is
     * pending; at the top priority, stepping goes on while a console
     * backlog keeps the socket's fd pending every iteration. */
    ev_set_priority(&s->idle, EV_MAXPRI);
    ev_timer_init(&s->tick_timer, s_tick_timer_cb, 0.0, 0.0);
    ev_timer_init(&s->rate_timer, s_rate_cb, S_RATE_S, S_RATE_S);
    s->idle.data = s;
    s->tick_timer.data = s;
    s->rate_timer.data = s;
    *out = s;
    return 0;
}

int tm_sched_subscribe(tm_sched_t *s, const tm_sched_sub_t *sub)
{
    if (s->n_subs >= S_SUBS_MAX) {
        return TM_ERR_TOO_BIG;
    }
    s->subs[s->n_subs++] = *sub;
    return 0;
}

void tm_sched_per_tick(tm_sched_t *s, bool on)
{
    s->per_tick_only = on;
}

void tm_sched_attach(tm_sched_t *s, struct ev_loop *loop)
{
    tm_rt_stats_t st;
    tm_rt_stats(s->rt, &st);
    s->loop = loop;
    s->rate_at = tm_time_now();
    s->rate_steps = st.steps;
    s->rate_tick = st.tick;
    ev_timer_start(loop, &s->rate_timer);
    tm_sched_set_mode(s, s->mode);
}

void tm_sched_stop(tm_sched_t *s)
{
    s->stopped = true;
    tm_sched_run_stop(s, TM_ERR_CLOSED, "node stopping, run interrupted");
    if (s->loop != NULL) {
        ev_idle_stop(s->loop, &s->idle);
        ev_timer_stop(s->loop, &s->tick_timer);
        ev_timer_stop(s->loop, &s->rate_timer);
    }
}

void tm_sched_destroy(tm_sched_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    free(*p);
    *p = NULL;
}

static int s_svc_attach(void *self, struct ev_loop *loop)
{
    tm_sched_attach(self, loop);
    return 0;
}

static void s_svc_stop(void *self)
{
    tm_sched_stop(self);
}

static void s_svc_close(void *self)
{
    tm_sched_t *s = self;
    tm_sched_destroy(&s);
}

tm_service_t tm_sched_service(tm_sched_t *s)
{
    tm_service_t svc = {.name = "clock",
                        .self = s,
                        .attach = s_svc_attach,
                        .stop = s_svc_stop,
                        .close = s_svc_close};
    return svc;
}

double tm_sched_step_us(const tm_sched_t *s)
{
    size_t now = tm_rt_count(s->rt);
    if (!(s->step_us > 0) || s->step_actors < 1 || now == 0) {
        return 0; /* not measured with actors, or none to step */
    }
    return s->step_us * (double)now / s->step_actors;
}
