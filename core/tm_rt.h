/* tm_rt: the actor runtime - shards of actors stepped by worker threads.
 *
 * The runtime owns W worker threads, each a libev loop that owns a shard of
 * actors. An actor is a slot in a shard's group: per shard, actors of one
 * model (family, version, tier) and period live in contiguous arrays
 * (states, parameters, held inputs, inputs, double-buffered outputs), so one
 * model call steps the whole group. Per-actor metadata (id, the lists of
 * its incoming and outgoing links) is kept apart from those hot arrays.
 *
 * Time and coupling. Mesh time is an integer tick k, physical time k*h.
 * tm_rt_step() computes ticks k+1, k+2, ...: at tick k every actor whose
 * period m divides k steps once with inputs = the linked outputs computed at
 * tick k-1 (Jacobi coupling, one-tick delay). Outputs are double buffered,
 * so step order never matters. An unlinked input holds its set value
 * (default: the model's default). An input takes one link, unless the model
 * declares it TM_VAR_SUMMING: then all its links are added in ascending
 * source-id order (strcmp), several outputs of one source in output order,
 * plus nothing else. At spawn an actor's outputs are computed from its
 * initial state with zero inputs. No runtime call stores a non-finite
 * output, so none ever travels along a link.
 *
 * Determinism: the same actors, links, parameters, models and seed give
 * bit-identical states for any worker count and any placement of actors on
 * shards; tm_rt_digest() proves it.
 *
 * Threading: every function here is called from one thread (the control
 * thread). Workers only run inside tm_rt_step(); between calls the control
 * thread may read and change everything. Workers and the control thread
 * exchange one message per worker per tick over ZeroMQ inproc PAIR sockets.
 */
#ifndef TM_RT_H_INCLUDED
#define TM_RT_H_INCLUDED

#include "tm_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_ID_MAX 64u /* bytes in an actor id, without the NUL */

typedef struct tm_rt tm_rt_t;

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
} tm_rt_config_t;

/* Health of an actor, from its last step. */
typedef struct {
    uint8_t last_status;   /* tm_step_status_t of the last step */
    uint32_t faults;       /* steps not ok (non-finite results included) */
    uint64_t last_fault;   /* tick of the last fault (0: none) */
    uint64_t last_stepped; /* tick of the last step (spawn tick before) */
} tm_rt_health_t;

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
    tm_rt_health_t health;
    double step_ns; /* mean step cost per actor in its group, last tick */
} tm_rt_actor_t;

typedef struct {
    const char *src;    /* source actor id */
    const char *output; /* output name */
    const char *dst;    /* destination actor id */
    const char *input;  /* input name */
} tm_rt_link_t;

typedef struct {
    uint64_t tick;
    size_t actors;
    size_t links;
    size_t groups;
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

/* Remove an actor and every link from or to it, in time proportional to
 * its number of links. TM_ERR_UNKNOWN_ACTOR. */
int tm_rt_kill(tm_rt_t *rt, const char *id);

/* Link src.output -> dst.input. Errors: TM_ERR_UNKNOWN_ACTOR,
 * TM_ERR_UNKNOWN_PORT (no such output or input), TM_ERR_EXISTS (same
 * link), TM_ERR_INPUT_LINKED (a non-summing input already has a link),
 * TM_ERR_TOO_BIG (the input has UINT16_MAX links, the most that `linked`
 * counts), TM_ERR_NOMEM. */
int tm_rt_link(tm_rt_t *rt, const char *src, const char *output,
               const char *dst, const char *input);

/* Remove a link. TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT,
 * TM_ERR_NOT_LINKED. */
int tm_rt_unlink(tm_rt_t *rt, const char *src, const char *output,
                 const char *dst, const char *input);

/* Set a parameter, a state or an input's held value by name (looked up in
 * that order). When a state or a parameter changes, the outputs of the
 * current tick are recomputed from the state and the inputs of the last
 * step (zero before the first). Errors: TM_ERR_UNKNOWN_ACTOR,
 * TM_ERR_UNKNOWN_PORT, TM_ERR_BAD_VALUE (not finite, a parameter or input
 * outside its range, or outputs that would not be finite; nothing changed).
 */
int tm_rt_set(tm_rt_t *rt, const char *id, const char *name, double value);

/* Move an actor to another model of the same family (tier or version
 * change), mapping its state with tm_model_map_state. Links, parameters,
 * held and last inputs, period and health are kept; the outputs of the
 * current tick are recomputed by the new model from the mapped state and
 * the last inputs. Setting the current model does nothing. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_INVAL (another family or different ports),
 * TM_ERR_MODEL_FAILED (map_state failed, or the state or outputs would not
 * be finite; actor unchanged), TM_ERR_NOMEM (actor unchanged). */
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
 * while nothing faults. */
size_t tm_rt_faults(const tm_rt_t *rt, const tm_rt_fault_t **faults,
                    uint64_t *dropped);

/* Current tick: the last tick whose outputs are computed. */
uint64_t tm_rt_tick(const tm_rt_t *rt);
double tm_rt_h(const tm_rt_t *rt);
uint64_t tm_rt_seed(const tm_rt_t *rt);
size_t tm_rt_count(const tm_rt_t *rt);

/* Look an actor up. TM_ERR_UNKNOWN_ACTOR. */
int tm_rt_get(tm_rt_t *rt, const char *id, tm_rt_actor_t *out);

/* Visit every actor / every link, each once and in no particular order
 * (removals reorder the link table). A callback returning non-zero stops
 * the walk and that value is returned. The runtime must not be changed
 * from the callback; the view's strings are borrowed for the call. */
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

/* Mesh digest: BLAKE2b-256 over, in ascending id order, each actor's id
 * (with its NUL) and the bits of its state (little-endian IEEE 754). */
int tm_rt_digest(tm_rt_t *rt, uint8_t out[32]);

void tm_rt_stats(const tm_rt_t *rt, tm_rt_stats_t *out);

#endif
