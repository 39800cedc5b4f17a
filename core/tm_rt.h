/* tm_rt: the actor runtime - shards of actors stepped by worker threads.
 *
 * The runtime owns W worker threads, each a libev loop that owns a shard of
 * actors. An actor is a slot in a shard's group: per shard, actors of one
 * model (family, version, tier) and period live in contiguous arrays
 * (states, parameters, held inputs, inputs, a ring of past outputs), so one
 * model call steps the whole group. Per-actor metadata (id, the lists of
 * its incoming and outgoing links) is kept apart from those hot arrays.
 *
 * Time and coupling. Mesh time is an integer tick k, physical time k*h.
 * tm_rt_step() computes ticks k+1, k+2, ...: at tick k every actor whose
 * period m divides k steps once; a link of delay d (1 .. TM_RT_DELAY_MAX,
 * 1 unless made with tm_rt_link_delay) gives its input the output its
 * source had at tick k-d (Jacobi coupling; d = 1 is the one-tick delay).
 * Outputs of past ticks are kept apart from the one being computed, so
 * step order never matters. An unlinked input holds its set value
 * (default: the model's default). An input takes one link, unless the model
 * declares it TM_VAR_SUMMING: then all its links are added in ascending
 * source-id order (strcmp), several outputs of one source in output order,
 * whatever their delays, plus nothing else. At spawn an actor's outputs
 * are computed from its initial state with zero inputs. No runtime call
 * stores a non-finite output, so none ever travels along a link.
 *
 * History. An actor has outputs at every tick: at a tick it does not step
 * (period) or whose step faults, those of the tick before; tm_rt_set()
 * of a state or parameter and tm_rt_set_model() recompute those of the
 * current tick only, never past ones; a spawn at tick c gives every tick
 * up to c the spawn outputs. The runtime keeps an actor's outputs of its
 * last w ticks, its window (tm_rt_actor_t.history): w = the largest delay
 * of the links reading it, 1 without. A link of delay d made at tick c
 * reads at tick c+1 its source's outputs of tick c+1-d, which may be older
 * than the link; if d > w, the ticks the source did not keep (c+1-d ..
 * c-w) read as its oldest kept outputs (those of tick c+1-w), as ticks
 * before a spawn read as the spawn outputs. Removing links narrows the
 * window again; a kill ends the history (a new actor of that id starts
 * afresh). The window depends only on the actor's own links, so results do
 * not depend on what it shares a group with. Memory: a group keeps 1 + the
 * largest window of its actors, at least 2, ticks of outputs (8 bytes per
 * output and actor of the group per tick).
 *
 * Determinism: the same actors, links, parameters, models and seed give
 * bit-identical states for any worker count and any placement of actors on
 * shards; tm_rt_digest() proves it.
 *
 * Proxies (remote actors). A mesh split over several runtimes (nodes) keeps
 * in each a proxy of every remote actor that one of its local actors reads:
 * tm_rt_spawn_remote() makes it, links use it as a source like any actor
 * (same gather, same summing order by source id, same delays and window),
 * and it is never stepped: a tick carries its outputs of the tick before.
 * tm_rt_import() sets its outputs at every tick kept (held from then on),
 * tm_rt_import_at() its outputs of one tick of its window. Importing into
 * every proxy, before each step, the outputs its actor computed at each
 * tick that step reads (tm_rt_outputs_at() on the runtime that owns it)
 * gives every actor the same states, bit for bit, as one runtime holding
 * the whole mesh: over a link of delay d the values of tick t are needed
 * only by the step of t+d, so the other runtime may be up to d-1 ticks
 * behind. Proxies are not counted, visited or digested as actors of this
 * runtime.
 *
 * Threading: every function here is called from one thread (the control
 * thread). Workers only run inside tm_rt_step(); between calls the control
 * thread may read and change everything. Workers and the control thread
 * exchange one message per worker per tick over ZeroMQ inproc PAIR sockets.
 */
#ifndef TM_RT_H_INCLUDED
#define TM_RT_H_INCLUDED

#include "tm_model.h"
#include "tm_text.h" /* TM_ID_MAX */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_rt tm_rt_t;

/* The largest link delay, in ticks. A link of delay d makes its source's
 * whole group keep d + 1 ticks of outputs (16 KB per two-output actor at
 * 1,000) and puts d - 1 ticks of outputs in its source's checkpoint
 * record; 1,000 ticks are 1 s of mesh time at h = 1 ms and 100 s at 0.1 s,
 * beyond the transport and network delays a mesh models. */
#define TM_RT_DELAY_MAX 1000u

typedef struct {
    unsigned workers; /* worker threads; 0 = number of online cores */
    double h;         /* tick step in seconds, > 0 */
    uint64_t seed;    /* mesh seed for counter-based RNGs */
    uint64_t tick;    /* starting tick (e.g. from a checkpoint) */
    /* Step on the calling thread, without waking the workers, while the
     * mesh has at most this many actors (a tick's message round trip costs
     * tens of microseconds, more than stepping a few hundred actors).
     * Results are identical either way. 0: always use the workers. */
    size_t inline_actors;
    /* Also step on the calling thread while a tick's work - the work per
     * actor step measured at the last tick that stepped any (summed over
     * the workers), times every actor - is at most this many nanoseconds:
     * handing a tick to the workers and waiting for them costs two thread
     * wake-ups, more than the time parallel stepping saves on a small tick. 0:
     * off. */
    double inline_ns;
} tm_rt_config_t;

/* Health of an actor, from its last step. */
typedef struct {
    uint8_t last_status;   /* tm_step_status_t of the last step */
    uint32_t faults;       /* steps not ok (non-finite results included) */
    uint64_t last_fault;   /* tick of the last fault (0: none) */
    uint64_t last_stepped; /* tick of the last step (spawn tick before) */
} tm_rt_health_t;

/* Supervision of an actor (tm_rt_supervise). `target` is the tier it runs
 * at when healthy: its model's tier at spawn, or the tier it was pinned
 * to, or after tm_rt_pin(..., auto) the highest tier of its
 * family@version. Below it the actor is degraded. */
typedef struct {
    tm_fidelity_t target;
    bool pinned;      /* operator's tier: no fallback, no promotion */
    bool quarantined; /* not stepped, outputs held and invalid */
    bool degraded;    /* running below target, or quarantined */
    /* The target tier running in shadow (same inputs, outputs linked to
     * nothing), NULL when none; seeded: shadow_state holds its state. */
    const tm_model_t *shadow;
    bool seeded;
    uint32_t healthy;           /* its healthy steps in a row */
    const double *shadow_state; /* shadow->n_states values when seeded */
    /* Ticks of the recent faults at the lowest tier (restart intensity),
     * oldest first. */
    uint32_t n_low;
    const uint64_t *low;
    /* Residual checks: steps in a row over the limit; the shadow's
     * outputs of its last step (shadow->n_outputs values when shadow_y). */
    uint32_t resid_run;
    bool shadow_y;
    const double *shadow_out;
} tm_rt_sup_t;

/* A borrowed view of one actor. Pointers stay valid until the next call
 * that mutates or steps the runtime. */
typedef struct {
    const char *id;
    const tm_model_t *model;
    uint32_t period;        /* steps every `period` ticks */
    unsigned shard;         /* worker that steps it */
    const double *state;    /* model->n_states */
    const double *params;   /* model->n_params */
    const double *inputs;   /* model->n_inputs, as used by the last step */
    const double *held;     /* model->n_inputs, values of unlinked inputs */
    const double *outputs;  /* model->n_outputs, of the current tick */
    const uint16_t *linked; /* model->n_inputs, links into each input */
    /* Its window: the ticks of outputs kept for links, tick - history + 1
     * .. tick (tm_rt_outputs_at); the largest delay of the links reading
     * it, 1 without. */
    uint32_t history;
    tm_rt_health_t health;
    tm_rt_sup_t sup; /* all defaults (target = its tier) when unsupervised */
    double step_ns;  /* mean step cost per actor in its group, last tick */
    /* Ownership epoch: how many times the actor changed node (a migration
     * or a failover adds one). Not part of the digest: it says where an
     * actor runs, not what it computes. */
    uint32_t epoch;
    /* A proxy (tm_rt_spawn_remote): only id, model, outputs (as imported)
     * and history mean something; state and params are the model's init and
     * defaults, inputs zero, nothing linked, health as at spawn, period 1,
     * shard 0. */
    bool remote;
    /* A proxy that has been imported into (tm_rt_import, tm_rt_import_at)
     * since it was made: its history holds its owner's values. */
    bool imported;
} tm_rt_actor_t;

typedef struct {
    const char *src;    /* source actor id */
    const char *output; /* output name */
    const char *dst;    /* destination actor id */
    const char *input;  /* input name */
    uint32_t delay;     /* ticks, 1 .. TM_RT_DELAY_MAX */
} tm_rt_link_t;

typedef struct {
    uint64_t tick;
    size_t actors; /* local actors, as tm_rt_count() */
    size_t remote; /* proxies */
    size_t links;  /* links from proxies included */
    size_t groups; /* groups of local actors */
    unsigned workers;
    uint64_t steps;      /* actor steps since open */
    uint64_t faults;     /* non-ok steps since open */
    double last_tick_ns; /* wall time of the last tick (not in models) */
    double busy_ns[64];  /* per worker, stepping time of the last tick */
    size_t shard_actors[64];
} tm_rt_stats_t;

/* One actor's fault in a step (see tm_rt_faults). */
typedef struct {
    const char *id; /* borrowed: valid until the next call that mutates or
                       steps the runtime */
    uint64_t tick;  /* the tick whose step faulted */
    uint8_t status; /* tm_step_status_t, never TM_STEP_OK */
} tm_rt_fault_t;

/* The most faults tm_rt_faults() keeps per tm_rt_step() call. */
#define TM_RT_FAULTS_MAX 4096u

/* Spawn options; a NULL pointer member means "the model's defaults". */
typedef struct {
    const double *params; /* model->n_params values */
    const double *state;  /* model->n_states values; NULL: init(params) */
    const double *held;   /* model->n_inputs held input values */
    /* model->n_outputs values of the current tick, to restore an actor
     * exactly (a checkpoint); NULL: computed from the state with zero
     * inputs, the rule for a new actor. */
    const double *outputs;
    uint32_t period; /* 0 or 1: every tick */
    /* Its ownership epoch (tm_rt_actor_t.epoch); 0 for a new actor. */
    uint32_t epoch;
} tm_rt_spawn_opts_t;

/* Create a runtime and start its workers. Errors: TM_ERR_INVAL (h <= 0 or
 * not finite, workers > 64), TM_ERR_NOMEM, TM_ERR_IO (thread or socket). */
int tm_rt_open(tm_rt_t **out, const tm_rt_config_t *config);

/* Stop the workers and free everything. NULL-safe, sets *p to NULL. */
void tm_rt_destroy(tm_rt_t **p);

/* true if id is 1..TM_ID_MAX bytes of letters, digits, '_' and '-'. */
bool tm_rt_id_valid(const char *id);

/* Spawn an actor at the current tick. Parameters and held inputs are
 * checked against the model's ranges; states and outputs (given or
 * computed) only for being finite, as a state may leave its nominal range.
 * Errors: TM_ERR_BAD_ID, TM_ERR_DUPLICATE_ACTOR, TM_ERR_BAD_VALUE
 * (parameter or held input out of range or not finite, state or outputs
 * not finite, init failed), TM_ERR_MODEL_ABI (model fails tm_model_check),
 * TM_ERR_NOMEM. */
int tm_rt_spawn(tm_rt_t *rt, const char *id, const tm_model_t *model,
                const tm_rt_spawn_opts_t *opts);

/* Spawn a proxy of an actor that lives in another runtime, at the current
 * tick, with the ports of `model`. Links may read its outputs; it takes no
 * link into it and is never stepped. Its outputs are those of a new actor
 * of the model with default parameters (init state, zero inputs) until the
 * first tm_rt_import(). It shares the id space with local actors. It is
 * removed by tm_rt_kill(), and tm_rt_get() shows it (remote = true), but it
 * is not in tm_rt_count(), tm_rt_foreach() or tm_rt_digest(). Errors:
 * TM_ERR_BAD_ID, TM_ERR_DUPLICATE_ACTOR, TM_ERR_MODEL_ABI, TM_ERR_BAD_VALUE
 * (init failed, or outputs not finite), TM_ERR_NOMEM. */
int tm_rt_spawn_remote(tm_rt_t *rt, const char *id, const tm_model_t *model);

/* Set an actor's ownership epoch (tm_rt_actor_t.epoch).
 * TM_ERR_UNKNOWN_ACTOR. */
int tm_rt_set_epoch(tm_rt_t *rt, const char *id, uint32_t epoch);

/* Set a proxy's outputs (model->n_outputs values) to those its actor
 * computed at the current tick, tm_rt_tick(), and at every tick its
 * history keeps: the next tm_rt_step() reads them through links of any
 * delay, and they stay until the next import (a value not renewed is held,
 * through any number of ticks). Called between steps, like every function
 * here. Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a local actor, or
 * outputs NULL), TM_ERR_BAD_VALUE (a value not finite; nothing changed). */
int tm_rt_import(tm_rt_t *rt, const char *id, const double *outputs);

/* Set a proxy's outputs of tick `tick` (model->n_outputs values), those
 * its actor computed at that tick: links of delay d read them at the step
 * of tick + d. tick must be in the proxy's window, tm_rt_tick() -
 * history + 1 .. tm_rt_tick() (history: tm_rt_actor_t, the largest delay
 * of the links reading it), the ticks a later step can still read; older
 * ticks are read by nothing any more. Other ticks keep their values; a
 * tick stepped before its import carries the tick before, so values that
 * arrive late may be imported as long as they are in the window. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a local actor, or outputs NULL),
 * TM_ERR_RANGE (tick in the future or before the window; nothing
 * changed), TM_ERR_BAD_VALUE (a value not finite; nothing changed). */
int tm_rt_import_at(tm_rt_t *rt, const char *id, uint64_t tick,
                    const double *outputs);

/* Handles: an actor or proxy found once by id and then reached without a
 * lookup, for work done every tick on long lists (the mesh's link
 * batches). A handle stays valid while tm_rt_kills() is unchanged: only a
 * kill frees the place of an actor, for another one to take. */
#define TM_RT_NO_HANDLE UINT32_MAX

/* The handle of actor id, or TM_RT_NO_HANDLE. */
uint32_t tm_rt_handle(const tm_rt_t *rt, const char *id);

/* How many kills the runtime has seen: handles taken before the last
 * change of this count must be taken again. */
uint64_t tm_rt_kills(const tm_rt_t *rt);

/* How many links were made or removed so far: facts derived from links
 * (tm_rt_min_delay_h) hold while it and tm_rt_kills() are unchanged. */
uint64_t tm_rt_link_changes(const tm_rt_t *rt);

/* The smallest delay of the links from actor h (a handle), 0 when it
 * feeds none. O(its links). */
uint32_t tm_rt_min_delay_h(const tm_rt_t *rt, uint32_t h);

/* tm_rt_outputs_at and tm_rt_import_at of a valid handle (a stale one is
 * the caller's bug). */
int tm_rt_outputs_at_h(const tm_rt_t *rt, uint32_t h, uint64_t tick,
                       const double **out, const tm_model_t **model);
int tm_rt_import_at_h(tm_rt_t *rt, uint32_t h, uint64_t tick,
                      const double *outputs);

/* Export: point *out at the outputs of the current tick of an actor or a
 * proxy (model->n_outputs values, those a link of delay 1 reads at the
 * next step) and, if model is not NULL, *model at its model. The pointer
 * is borrowed until the next call that mutates or steps the runtime: call
 * again after each step. TM_ERR_UNKNOWN_ACTOR. */
int tm_rt_outputs(const tm_rt_t *rt, const char *id, const double **out,
                  const tm_model_t **model);

/* As tm_rt_outputs, the outputs of tick `tick` of the actor's window,
 * tm_rt_tick() - history + 1 .. tm_rt_tick(). Ticks count modulo 2^64
 * here and in tm_rt_import_at and tm_rt_restore_at: tm_rt_tick() - back
 * for back < history, so a window that reaches back before tick 0 (the
 * ticks a delayed link reads as the spawn outputs) wraps to UINT64_MAX,
 * UINT64_MAX - 1, ... Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_RANGE (tick
 * outside the window). */
int tm_rt_outputs_at(const tm_rt_t *rt, const char *id, uint64_t tick,
                     const double **out, const tm_model_t **model);

/* Restore a local actor's outputs of a past tick of its window,
 * tm_rt_tick() - history + 1 .. tm_rt_tick() - 1, from a checkpoint: load
 * the actor (tm_rt_spawn_opts_t.outputs gives the current tick's), then
 * its links (which set its window), then its history. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a proxy, or outputs NULL),
 * TM_ERR_RANGE (the current tick, or outside the window), TM_ERR_BAD_VALUE
 * (a value not finite). Nothing changes on error. */
int tm_rt_restore_at(tm_rt_t *rt, const char *id, uint64_t tick,
                     const double *outputs);

/* Remove an actor or a proxy and every link from or to it, in time
 * proportional to its number of links. TM_ERR_UNKNOWN_ACTOR. */
int tm_rt_kill(tm_rt_t *rt, const char *id);

/* Link src.output -> dst.input with a delay of one tick; src may be a
 * proxy. Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT (no such output
 * or input), TM_ERR_INVAL (dst is a proxy), TM_ERR_EXISTS (a link of these
 * ends, whatever its delay), TM_ERR_INPUT_LINKED (a non-summing input
 * already has a link), TM_ERR_TOO_BIG (the input has UINT16_MAX links, the
 * most that `linked` counts), TM_ERR_NOMEM. */
int tm_rt_link(tm_rt_t *rt, const char *src, const char *output,
               const char *dst, const char *input);

/* As tm_rt_link, with a delay of `delay` ticks: dst.input at tick k gets
 * src.output of tick k - delay (see History above for a link that reads
 * further back than its source's window). A link is identified by its
 * ends: changing a delay is unlink and link. Errors: those of tm_rt_link,
 * and TM_ERR_RANGE (delay outside 1 .. TM_RT_DELAY_MAX, checked first). */
int tm_rt_link_delay(tm_rt_t *rt, const char *src, const char *output,
                     const char *dst, const char *input, uint32_t delay);

/* Remove a link, whatever its delay; its source's window narrows to the
 * links left. TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT,
 * TM_ERR_NOT_LINKED. */
int tm_rt_unlink(tm_rt_t *rt, const char *src, const char *output,
                 const char *dst, const char *input);

/* Set a parameter, a state or an input's held value by name (looked up in
 * that order). When a state or a parameter changes, the outputs of the
 * current tick are recomputed from the state and the inputs of the last
 * step (zero before the first). Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL
 * (a proxy), TM_ERR_UNKNOWN_PORT, TM_ERR_BAD_VALUE (not finite, a
 * parameter or input outside its range, or outputs that would not be
 * finite; nothing changed). */
int tm_rt_set(tm_rt_t *rt, const char *id, const char *name, double value);

/* Move an actor to another model of the same family (tier or version
 * change), mapping its state with tm_model_map_state. Links, parameters,
 * held and last inputs, period and health are kept; the outputs of the
 * current tick are recomputed by the new model from the mapped state and
 * the last inputs. Setting the current model does nothing. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a proxy, another family or different
 * ports), TM_ERR_MODEL_FAILED (map_state failed, or the state or outputs
 * would not be finite; actor unchanged), TM_ERR_NOMEM (actor unchanged). */
int tm_rt_set_model(tm_rt_t *rt, const char *id, const tm_model_t *model);

/* Step `ticks` ticks, blocking until done. Errors: TM_ERR_IO when a worker
 * socket fails (the runtime is then unusable). */
int tm_rt_step(tm_rt_t *rt, uint64_t ticks);

/* The faults of the last tm_rt_step() call: one entry per actor and tick
 * whose step was not ok (the model's status, or TM_STEP_NONFINITE when a
 * state or output was not finite; the actor kept its previous state and
 * outputs, as its health tells). Entries are ordered by tick, then id
 * (strcmp). At most TM_RT_FAULTS_MAX are kept, the first in that order;
 * the others are counted in *dropped (also when the list's memory, taken
 * at the first fault, could not be had). Returns the number of entries and
 * points *faults at them (NULL or unusable when 0); either out-parameter
 * may be NULL. The entries stay valid until the next tm_rt_step(), their
 * ids until the next call that mutates or steps the runtime. The list is
 * emptied by every tm_rt_step() call, even of 0 ticks, and costs nothing
 * while nothing faults. Proxies are never stepped, so never fault. */
size_t tm_rt_faults(const tm_rt_t *rt, const tm_rt_fault_t **faults,
                    uint64_t *dropped);

/* ---- supervision ----------------------------------------------------
 *
 * With a supervisor (tm_rt_supervise), after every tick the runtime acts on
 * the actors whose step faulted (model status, non-finite state or output,
 * solver step-size collapse): the actor's state of the tick before is
 * mapped to the next lower tier of its family@version that exists
 * (tm_model_map_state) and stepped again within the same tick with the
 * same inputs, down to the lowest tier; its target tier then runs in
 * shadow on the same inputs and, after `promote_after` healthy steps in a
 * row, takes over with its own state (a faulty shadow step is re-seeded
 * from the live state). A fault at the lowest tier, or at a pinned tier,
 * holds the actor (state and outputs of the tick before); more than
 * `max_restarts` of them within `restart_window` ticks quarantine it: it
 * is no longer stepped and its outputs stay as they were until
 * tm_rt_pin(). Every trigger depends only on the model's values, so the
 * same run gives the same results on any placement and worker count.
 *
 * Residuals: where the family's policy sets residual_limit, an output X
 * that predicts a measured input X and has an output X_sd (its standard
 * deviation) is checked at every step that brings a sample of X: the
 * normalised innovation z = (sample - X) / X_sd, X and X_sd being the
 * outputs of the actor's step before (its prediction of this sample).
 * When the largest |z| is over the limit in residual_steps steps in a row
 * (steps without a sample do not count), the step is a fault
 * (TM_STEP_RESIDUAL) and falls back like any other - but only above the
 * lowest tier and never at a pinned tier: the last tier standing keeps
 * running (a hold would freeze a twin exactly when the asset departs
 * from it). A shadow whose own prediction is over the limit is not
 * healthy, so the tier that failed is promoted only once it fits the
 * measurements again. */

#define TM_RT_RESTARTS_MAX 15u

/* Thresholds of one family. */
typedef struct {
    uint32_t promote_after;  /* healthy shadow steps; 0: never promote */
    uint32_t max_restarts;   /* R, at most TM_RT_RESTARTS_MAX */
    uint32_t restart_window; /* T ticks, >= 1 */
    /* Residual checks: a fault when the normalised innovation of some
     * measured signal exceeds residual_limit (in standard deviations;
     * 0: no checks) in residual_steps steps in a row (>= 1). */
    double residual_limit;
    uint32_t residual_steps;
} tm_rt_policy_t;

typedef struct {
    /* The model of m's family@version at `tier`, or NULL. Required. */
    const tm_model_t *(*tier)(const tm_model_t *m, tm_fidelity_t tier,
                              void *arg);
    /* The thresholds of m's family. Required. */
    void (*policy)(const tm_model_t *m, tm_rt_policy_t *out, void *arg);
    void *arg;
} tm_rt_supervisor_t;

/* What the supervisor did (tm_rt_events). */
typedef enum {
    TM_RT_EV_FALLBACK = 0,   /* from -> to, a lower tier, same tick */
    TM_RT_EV_PROMOTE = 1,    /* from -> to, the shadow took over */
    TM_RT_EV_HOLD = 2,       /* a fault at the lowest or pinned tier */
    TM_RT_EV_QUARANTINE = 3, /* too many of those */
} tm_rt_event_kind_t;

typedef struct {
    const char *id; /* borrowed, like a fault's */
    uint64_t tick;
    uint8_t kind;   /* tm_rt_event_kind_t */
    uint8_t status; /* the fault's tm_step_status_t (0 for a promotion) */
    uint8_t from;   /* tm_fidelity_t */
    uint8_t to;
} tm_rt_event_t;

/* Install a supervisor (copied), or remove it (NULL: faults hold, as
 * without one). Errors: TM_ERR_INVAL (a required member missing). */
int tm_rt_supervise(tm_rt_t *rt, const tm_rt_supervisor_t *sup);

/* The supervisor's events of the last tm_rt_step() call, by tick, then id,
 * then kind; at most TM_RT_FAULTS_MAX, the others counted in *dropped.
 * Valid like tm_rt_faults()' entries. */
size_t tm_rt_events(const tm_rt_t *rt, const tm_rt_event_t **events,
                    uint64_t *dropped);

/* Pin an actor at `tier` (its state mapped), or free it (automatic):
 * target becomes the highest tier of its family@version and a lower
 * actor runs it in shadow from the next tick. Either releases a
 * quarantine and forgets past faults. Errors: TM_ERR_UNKNOWN_ACTOR,
 * TM_ERR_INVAL (a proxy, or no supervisor), TM_ERR_UNKNOWN_FIDELITY (no
 * such tier of its family@version), those of tm_rt_set_model. */
int tm_rt_pin(tm_rt_t *rt, const char *id, bool automatic, tm_fidelity_t tier);

/* Fall actor id back to the next lower tier of its family@version now,
 * between ticks, for a reason the runtime cannot see itself (a step over
 * its time budget, measured by the node): its current state is mapped,
 * its target tier runs in shadow and is promoted back as after a fault.
 * No event: the caller records it, with the tick, which is what makes it
 * reproducible (applied at the same tick, it gives the same results).
 * Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a proxy, no supervisor,
 * quarantined or pinned), TM_ERR_UNKNOWN_FIDELITY (no lower tier), those
 * of tm_rt_set_model. */
int tm_rt_fall(tm_rt_t *rt, const char *id);

/* The step time per actor (ns) of each local stepped group at its last
 * step, with its model and size: fn(arg, model, ns, actors). Groups of one
 * model on several workers are visited each. For the node's budgets. */
void tm_rt_step_times(const tm_rt_t *rt,
                      void (*fn)(void *arg, const tm_model_t *m, double ns,
                                 size_t n),
                      void *arg);

/* Restore an actor's supervision record (a checkpoint), after its spawn
 * with the model it had: quarantined moves it to the held actors.
 * Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a proxy, a shadow of another
 * family, more than TM_RT_RESTARTS_MAX + 1 faults, a non-finite shadow state),
 * TM_ERR_NOMEM. */
int tm_rt_sup_restore(tm_rt_t *rt, const char *id, const tm_rt_sup_t *sup);

/* Whether an actor is degraded (tm_rt_sup_t.degraded; for a proxy, what
 * its owner last said, tm_rt_set_remote_degraded). false if unknown. */
bool tm_rt_degraded(const tm_rt_t *rt, const char *id);

/* false when no local actor can be degraded (no supervision record): a
 * cheap test before asking about each actor. */
bool tm_rt_any_degraded(const tm_rt_t *rt);

/* A proxy's degraded flag, as its owner sends it with its values.
 * TM_ERR_UNKNOWN_ACTOR (no such proxy). */
int tm_rt_set_remote_degraded(tm_rt_t *rt, const char *id, bool degraded);

/* The degraded sources of the links into id: their number (a source
 * beyond the first cap may count twice); the first cap ids (borrowed,
 * like a view's) in ids. 0 for an unknown actor. The flag
 * travels one link: a reader of a degraded actor knows, the readers of
 * that reader do not. */
size_t tm_rt_degraded_sources(const tm_rt_t *rt, const char *id,
                              const char **ids, size_t cap);

/* ---- trials ------------------------------------------------------------
 *
 * A trial runs another version (or tier) of an actor's family in shadow:
 * seeded from the actor's state (mapped), stepped after every tick the
 * actor steps, on the same inputs, its outputs linked to nothing, and
 * scored against the live outputs of the same tick and, for an output
 * named like a measured input, against the measurement where one came
 * (both versions, so that they can be compared). A step that faults
 * ends it (failed; its values never leave it). Adopting it moves the
 * actor to the trial's model with the trial's state and outputs. A trial
 * may also run the actor's own model with other parameters (a new
 * parameter set, tm_rt_trial_start_with), which adopting installs. */

typedef struct {
    const tm_model_t *model;
    uint64_t steps;
    bool failed;
    uint64_t failed_at; /* tick of the failed step */
    uint8_t status;     /* its tm_step_status_t */
    uint32_t n_outputs;
    double rmse[TM_MODEL_MAX_VARS]; /* per output, against the live one */
    double mape[TM_MODEL_MAX_VARS]; /* percent, where live is not ~0 */
    /* Against measurements, for an output named like a measured input of
     * the model (its prediction): the samples scored (steps that had
     * one), and the trial's and the live version's RMSE and MAPE against
     * them (0 where none). */
    uint64_t n_measured[TM_MODEL_MAX_VARS];
    double meas_rmse[TM_MODEL_MAX_VARS];
    double meas_mape[TM_MODEL_MAX_VARS];
    double live_meas_rmse[TM_MODEL_MAX_VARS];
    double live_meas_mape[TM_MODEL_MAX_VARS];
} tm_rt_trial_t;

/* Start (or restart) a trial of id with model (same ports). Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (a proxy, another family or other
 * ports), TM_ERR_MODEL_FAILED (the state cannot be mapped), NOMEM. */
int tm_rt_trial_start(tm_rt_t *rt, const char *id, const tm_model_t *model);

/* The same with the trial's own parameters (model->n_params values; NULL:
 * the actor's) and initial state (model->n_states values; NULL: the
 * actor's, mapped). Errors: those of tm_rt_trial_start,
 * TM_ERR_BAD_VALUE (a parameter out of its range), TM_ERR_MODEL_FAILED (a
 * state that is not finite). */
int tm_rt_trial_start_with(tm_rt_t *rt, const char *id, const tm_model_t *model,
                           const double *params, const double *state);

/* Its scores so far. TM_ERR_NOT_FOUND (no trial). */
int tm_rt_trial_get(const tm_rt_t *rt, const char *id, tm_rt_trial_t *out);

/* End it; adopt: the actor takes the trial's model, state and outputs,
 * and its parameters when it had its own (links and held inputs stay). Errors:
 * TM_ERR_NOT_FOUND, TM_ERR_MODEL_FAILED (adopting a failed trial or one never
 * stepped), those of tm_rt_set_model. */
int tm_rt_trial_stop(tm_rt_t *rt, const char *id, bool adopt);

/* Trials running. */
size_t tm_rt_trials(const tm_rt_t *rt);

/* Current tick: the last tick whose outputs are computed. */
uint64_t tm_rt_tick(const tm_rt_t *rt);
double tm_rt_h(const tm_rt_t *rt);
uint64_t tm_rt_seed(const tm_rt_t *rt);
/* Local actors; proxies are not counted (see tm_rt_stats). */
size_t tm_rt_count(const tm_rt_t *rt);

/* Look an actor or a proxy up. TM_ERR_UNKNOWN_ACTOR. */
/* Feed a measurement to input `input` (index; flagged TM_VAR_MEASURED) of
 * local actor id: its next step sees value there, once (then NaN again
 * until the next feed). A second feed before that step replaces the
 * first. Not stored, not digested: telemetry is a stream. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT (no such measured input, or a
 * proxy). Control thread, between ticks. */
int tm_rt_feed(tm_rt_t *rt, const char *id, uint32_t input, double value);

int tm_rt_get(tm_rt_t *rt, const char *id, tm_rt_actor_t *out);

/* Visit every local actor (not the proxies) / every link (those from
 * proxies too), each once and in no particular order (removals reorder the
 * link table). A callback returning non-zero stops the walk and that value
 * is returned. The runtime must not be changed from the callback; the
 * view's strings are borrowed for the call. */
int tm_rt_foreach(tm_rt_t *rt, int (*cb)(const tm_rt_actor_t *, void *),
                  void *arg);
int tm_rt_foreach_link(tm_rt_t *rt, int (*cb)(const tm_rt_link_t *, void *),
                       void *arg);

/* Visit the links out of and into one actor, each once, in time
 * proportional to their number: first the links out of it, then the links
 * into it (a link from the actor to itself is visited once, among the
 * outgoing), each group in the order the links were made. Callback rules
 * as for tm_rt_foreach_link. Errors: TM_ERR_UNKNOWN_ACTOR (the callback is
 * then never called), or the callback's non-zero value. */
int tm_rt_foreach_link_of(tm_rt_t *rt, const char *id,
                          int (*cb)(const tm_rt_link_t *, void *), void *arg);

/* Mesh digest, version 3 (TM_RT_DIGEST_NAME). Every local actor has a
 * hash H = BLAKE2b-256 of what defines it: its id, model family, version
 * and tier, period, parameters, held input values, state and current
 * outputs (each list after its count, as little-endian IEEE 754 bits), and
 * its incoming links (their count, u64 LE) sorted by input, source id and
 * output, each as its input, source id and output names (each with its
 * NUL) and its delay (u64 LE). Past outputs (the history delayed links
 * read) are not in it: the digest is the state of a mesh at one tick, and
 * two meshes with the same digest step on alike only if their histories
 * agree too (a restart restores them, see tm_rt_restore_at). The mesh
 * digest is BLAKE2b-256(TM_RT_DIGEST_NAME with its
 * NUL || actor count as u64 LE || S), where S is the sum of every H as a
 * 256-bit little-endian number, mod 2^256. The sum does not depend on order
 * or on where an actor lives: runtimes (nodes) that split a mesh compute
 * their parts (tm_rt_digest_part) and tm_rt_digest_combine() gives the
 * digest of the whole mesh; a link is counted by its destination's part.
 * Proxies are left out. Errors: TM_ERR_NOMEM; combine: TM_ERR_INVAL (parts
 * of different ticks). */
#define TM_RT_DIGEST_NAME "twinmesh mesh digest v3"

typedef struct {
    uint64_t tick;
    uint64_t actors;
    unsigned char sum[32]; /* S of this part's actors */
} tm_rt_digest_part_t;

int tm_rt_digest_part(tm_rt_t *rt, tm_rt_digest_part_t *part);
int tm_rt_digest_combine(const tm_rt_digest_part_t *parts, size_t n,
                         uint8_t out[32]);
int tm_rt_digest(tm_rt_t *rt, uint8_t out[32]);

void tm_rt_stats(const tm_rt_t *rt, tm_rt_stats_t *out);

#endif
