/* tm_sched: the node's clock - when ticks are stepped.
 *
 * Modes: realtime (tick k is due at t0 + (k - k0) h; late ticks are caught
 * up in chunks), fast (as fast as the machine allows, between other
 * work), paused; and runs (exactly N ticks as fast as possible, then
 * paused). Stepping is driven by an ev_idle watcher (fast, runs, realtime
 * catching up) or an ev_timer (realtime, on schedule), in chunks of about
 * 10 ms sized from a running average of the tick's cost, so the loop serves
 * consoles between chunks; a chunk's cost is measured again whenever the
 * mesh has grown since.
 *
 * Subscribers are told about ticks: `before` ahead of each chunk, `after`
 * when a chunk is done (with the last tick computed); `next_stop` lets a
 * subscriber end chunks on a tick of its choice (checkpoints); `run_end`
 * when a run finishes or is interrupted. With tm_sched_per_tick(true) every
 * chunk is one tick (the seam for cross-node links and supervision);
 * without, chunks are as long as the budget allows.
 *
 * Threading: control thread only.
 */
#ifndef TM_SCHED_H_INCLUDED
#define TM_SCHED_H_INCLUDED

#include "tm_cmd.h" /* tm_clock_t */
#include "tm_rt.h"
#include "tm_service.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct tm_sched tm_sched_t;

typedef struct {
    void *arg;
    void (*before)(void *arg, uint64_t tick);
    void (*after)(void *arg, uint64_t tick);
    uint64_t (*next_stop)(void *arg); /* 0: no preference */
    void (*run_end)(void *arg, int status, const char *why);
    /* May tick `next` be stepped now? false: the clock waits until
     * tm_sched_kick() (a peer's values for the tick before are missing). */
    bool (*ready)(void *arg, uint64_t next);
    /* A run has stepped its ticks: true keeps it open (others are still
     * stepping theirs) until tm_sched_kick() finds it free. */
    bool (*hold)(void *arg);
} tm_sched_sub_t;

/* The runtime failed (TM_ERR_IO from tm_rt_step): the node must stop. */
typedef void (*tm_sched_fatal_fn)(void *arg, int rc);

/* Errors: TM_ERR_NOMEM. */
int tm_sched_open(tm_sched_t **out, tm_rt_t *rt, tm_clock_t mode,
                  tm_sched_fatal_fn fatal, void *arg);
void tm_sched_destroy(tm_sched_t **p);

/* Up to 12 subscribers, told in the order they subscribed. Errors:
 * TM_ERR_TOO_BIG. */
int tm_sched_subscribe(tm_sched_t *s, const tm_sched_sub_t *sub);

/* Step one tick per chunk (true) or in chunks (false, the default). */
void tm_sched_per_tick(tm_sched_t *s, bool on);

/* The service (attach, stop, close: destroys the scheduler). */
tm_service_t tm_sched_service(tm_sched_t *s);

/* Start (with the configured mode) and stop driving ticks. Stopping ends
 * a run with TM_ERR_CLOSED "node stopping, run interrupted". */
void tm_sched_attach(tm_sched_t *s, struct ev_loop *loop);
void tm_sched_stop(tm_sched_t *s);

/* Change the mode; ends a run in progress (run_end: TM_ERR_CLOSED "run
 * interrupted by a clock change"). */
void tm_sched_set_mode(tm_sched_t *s, tm_clock_t mode);
tm_clock_t tm_sched_mode(const tm_sched_t *s);
/* "realtime", "fast", "paused", or "run" while a run is in progress. */
const char *tm_sched_label(const tm_sched_t *s);
/* Realtime: seconds behind the schedule (0 otherwise). */
double tm_sched_lag(const tm_sched_t *s);

/* A run of exactly `ticks` ticks from now. TM_ERR_BUSY if one is in
 * progress, TM_ERR_RANGE if the tick number would pass 2^64 - 1. */
int tm_sched_run(tm_sched_t *s, uint64_t ticks);
/* End the run in progress (run_end gets status and why). */
void tm_sched_run_stop(tm_sched_t *s, int status, const char *why);

/* Take back a run that was just started and never answered (its stream
 * could not open): mode and last run as before, no run_end. */
void tm_sched_run_abort(tm_sched_t *s);

typedef struct {
    bool active;
    uint64_t ticks; /* requested */
    uint64_t start; /* tick at start */
    uint64_t done;  /* ticks stepped */
    uint64_t steps; /* actor steps during the run */
    double elapsed_s;
} tm_sched_run_t;

/* The run in progress, or the last one. */
void tm_sched_run_info(const tm_sched_t *s, tm_sched_run_t *out);

/* Something a subscriber's ready() or hold() waits for happened: look
 * again. */
void tm_sched_kick(tm_sched_t *s);
/* true while the clock waits on a subscriber's ready(). */
bool tm_sched_waiting(const tm_sched_t *s);
/* The real-time clock steps up to tick `target` now rather than when
 * those ticks are due (telemetry: every asset with samples for them has
 * its complete row), if that is at most TM_SCHED_EARLY_MAX ticks ahead of
 * the schedule; the ticks after keep their due times. false (nothing
 * changed) in another mode, during a run, in per-tick mode (a node of a
 * mesh, whose peers follow its tick), or when target is further. */
#define TM_SCHED_EARLY_MAX 2
bool tm_sched_step_early(tm_sched_t *s, uint64_t target);
/* Ticks stepped early so. */
uint64_t tm_sched_early(const tm_sched_t *s);
/* true when the next pass of the loop steps again without waiting for
 * anything (a run, the fast clock, a real-time clock behind): what is
 * sent after each tick may wait for the next one. */
bool tm_sched_stepping(const tm_sched_t *s);
/* A run of the whole mesh reaching tick `target` (0 ticks when this node
 * is there already). Errors as tm_sched_run. */
int tm_sched_run_to(tm_sched_t *s, uint64_t target);

/* Realtime: make tick `tick` due now if the schedule is behind it (a node
 * that rejoins a mesh running in real time catches up with it). */
void tm_sched_catch_up(tm_sched_t *s, uint64_t tick);

/* Rates measured over about the last second. */
double tm_sched_steps_per_s(const tm_sched_t *s);
double tm_sched_ticks_per_s(const tm_sched_t *s);

/* Step time per tick for the actors the node has now: the wall
 * microseconds tm_rt_step took per tick over the last rate period that
 * stepped, and the actors it stepped then, each smoothed across periods
 * (half the last value, half the new), scaled to the current actor count
 * (a spawn-many of many actors shows at once, not a second later). 0
 * when no period has stepped actors yet, or the node has none. A period
 * without steps (paused) keeps the measurement. It depends on the machine
 * and on what else runs there: placement weighs it (nodes/tm_place.h),
 * results never do. */
double tm_sched_step_us(const tm_sched_t *s);

#endif
