/* tm_rt_int: the runtime's internal layout, shared by its source files.
 *
 * tm_rt.c (groups, workers, spawn, kill, set, stepping, views),
 * tm_rt_link.c (link table, adjacency lists, the gather plan),
 * tm_rt_hist.c (output histories: rings, windows, import and export) and
 * tm_rt_digest.c (the mesh digest) see the same structures; nothing
 * outside core/tm_rt*.c includes this header.
 */
#ifndef TM_RT_INT_H_INCLUDED
#define TM_RT_INT_H_INCLUDED

#include "tm_index.h"
#include "tm_rt.h"

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMI_RT_MAX_WORKERS 64u
#define TMI_RT_NONE        UINT32_MAX

typedef struct tmi_rt_group tmi_rt_group_t;
typedef struct tmi_rt_worker tmi_rt_worker_t;

/* Hot gather entry: in[dst >> 1] (=|+=) (*src)[src_off]. src points at
 * out[delay] of the source group: once the ring is turned for tick k, the
 * outputs of tick k - delay. */
typedef struct {
    double *const *src;
    uint32_t src_off;
    uint32_t dst; /* input offset << 1 | add flag */
} tmi_rt_gather_t;

struct tmi_rt_group {
    const tm_model_t *model;
    uint32_t period;
    unsigned shard;
    bool remote; /* proxies: in no worker's list, never stepped */
    bool frozen; /* quarantined actors: never stepped, outputs held */
    uint32_t ns, ni, no, np;
    size_t n, cap;
    double *state;
    double *prev;
    double *params;
    double *held;
    double *in;
    /* Measured inputs (TM_VAR_MEASURED): the values fed for the next step
     * (n * ni, NaN: none), NULL when the model has none. */
    double *feed;
    /* History ring: out[j] holds the outputs of tick (current - j), for j
     * < depth; n * no values each. Before each tick the ring turns by one
     * (tmi_rt_ring_turn), so out[0] is written and out[d] read by links of
     * delay d. depth = 1 + the largest delay of the links reading the
     * group, at least 2 (tmi_rt_ring_resize). */
    double **out;
    uint32_t depth;
    uint8_t *status;
    uint16_t *nlink; /* links into each input: n * ni */
    uint32_t *faults;
    uint64_t *last_fault;
    uint64_t *keys;
    uint32_t *actor; /* actor handle of each slot */
    tmi_rt_gather_t *gather;
    size_t n_gather;
    double step_ns;     /* per actor, last step of this group */
    uint32_t n_faulted; /* faults of its last step, until merged */
    /* Residual checks (tm_rt_resid.c): output r_out[i] predicts measured
     * input r_in[i] with standard deviation output r_sd[i]; n_r pairs,
     * found once (r_done). */
    bool r_done;
    uint8_t n_r;
    uint8_t r_out[TM_MODEL_MAX_VARS];
    uint8_t r_in[TM_MODEL_MAX_VARS];
    uint8_t r_sd[TM_MODEL_MAX_VARS];
};

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

/* Directions of the adjacency lists: links out of / into an actor. */
enum { TMI_RT_OUT = 0, TMI_RT_IN = 1 };

typedef struct {
    char id[TM_ID_MAX + 1];
    uint32_t group; /* TMI_RT_NONE: free handle (slot = next free) */
    uint32_t slot;
    uint32_t head[2]; /* [TMI_RT_OUT], [TMI_RT_IN]: first link of each list,
                         TMI_RT_NONE */
    /* Ticks of outputs kept for links (its window): the largest delay of
     * the links reading it, 1 without. out[0 .. history - 1] of its slot
     * are its outputs of the last `history` ticks. */
    uint16_t history;
    bool remote_degraded; /* a proxy: its owner says it is degraded */
    bool imported;        /* a proxy: imported into since it was made */
    uint64_t hash;
    uint64_t spawned; /* tick of the spawn: last_stepped never precedes it */
    uint32_t sup;     /* its supervision record (rt->sups), TMI_RT_NONE */
    uint32_t epoch;   /* ownership epoch (fills the struct's padding) */
} tmi_rt_actor_t;

/* A trial (tm_rt_trial.c): another version of an actor in shadow. */
typedef struct {
    uint32_t actor;
    const tm_model_t *model;
    bool failed;
    uint8_t status;
    uint64_t failed_at;
    uint64_t steps;
    bool own_params; /* params below, else the actor's */
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    double outputs[TM_MODEL_MAX_VARS];
    double sq[TM_MODEL_MAX_VARS];  /* sum of squared differences */
    double ape[TM_MODEL_MAX_VARS]; /* sum of |d / live| */
    uint64_t n_ape[TM_MODEL_MAX_VARS];
    /* Against measurements: output j is the prediction of the measured
     * input meas[j] of the same name (-1: none); squared and relative
     * errors of the trial and of the live version where a sample came. */
    int8_t meas[TM_MODEL_MAX_VARS];
    double m_sq[2][TM_MODEL_MAX_VARS]; /* [0] trial, [1] live */
    double m_ape[2][TM_MODEL_MAX_VARS];
    uint64_t n_m[TM_MODEL_MAX_VARS];
    uint64_t n_m_ape[TM_MODEL_MAX_VARS];
} tmi_rt_trial_t;

/* The most lowest-tier faults a restart intensity counts (R + 1). */
#define TMI_RT_RESTARTS_KEPT (TM_RT_RESTARTS_MAX + 1u)

/* Supervision record of an actor that is pinned, below its target tier,
 * quarantined or has recent faults at its lowest tier (tm_rt_super.c). */
typedef struct {
    uint32_t actor;
    uint8_t target; /* tm_fidelity_t it returns to */
    bool pinned;
    bool quarantined;
    bool seeded;              /* shadow_state holds a state */
    const tm_model_t *shadow; /* target tier in shadow, NULL: none */
    uint32_t healthy;         /* healthy shadow steps in a row */
    uint32_t n_low;           /* faults kept in low[], oldest first */
    uint64_t low[TMI_RT_RESTARTS_KEPT];
    double shadow_state[TM_MODEL_MAX_VARS];
    /* Residual checks (tm_rt_resid.c): steps in a row over the limit;
     * the shadow's outputs of its last step (shadow_y: kept, only where
     * the family checks residuals). */
    uint32_t resid_run;
    bool shadow_y;
    double shadow_out[TM_MODEL_MAX_VARS];
} tmi_rt_sup_t;

/* The link record. Its first TMI_RT_LINK_KEY bytes (src, dst, out, in) are
 * the key of the link index, hashed as bytes: the delay is not part of a
 * link's identity. The adjacency lives in the parallel tmi_rt_adj_t array.
 */
typedef struct {
    uint32_t src;
    uint32_t dst;
    uint16_t out;
    uint16_t in;
    uint16_t delay; /* 1 .. TM_RT_DELAY_MAX */
    uint16_t spare; /* zero */
} tmi_rt_link_t;

#define TMI_RT_LINK_KEY offsetof(tmi_rt_link_t, delay)

/* Neighbours of a link in its source's out-list and destination's in-list;
 * both lists are circular (a lone link is its own neighbour). */
typedef struct {
    uint32_t prev[2];
    uint32_t next[2];
} tmi_rt_adj_t;

struct tm_rt {
    double h;
    uint64_t seed;
    uint64_t tick;
    size_t inline_actors;
    double inline_ns;
    double work_ns;       /* stepping work of the last tick that stepped */
    uint64_t work_actors; /* the actor steps it took */
    unsigned n_workers;
    void *zctx;
    tmi_rt_worker_t *workers;

    /* Actors refer to groups by index, so an emptied group is freed and
     * leaves a NULL hole that the next new group fills: memory follows
     * the live groups, however many models and periods come and go. */
    tmi_rt_group_t **groups;
    size_t n_groups; /* slots, holes included */

    tmi_rt_actor_t *actors;
    uint64_t kills;        /* tm_rt_kills: a kill frees an actor's place */
    uint64_t link_changes; /* tm_rt_link_changes */
    size_t n_actor_slots;
    size_t cap_actors;
    size_t n_actors; /* local actors, proxies not counted */
    size_t n_remote; /* proxies */
    uint32_t free_actor;
    tm_index_t actor_ix;

    tmi_rt_link_t *links;
    size_t n_links;
    size_t cap_links;
    tm_index_t link_ix;
    tmi_rt_adj_t *adj; /* parallel to links */
    size_t cap_adj;

    int plan_dirty;
    double last_tick_ns;

    /* Faults of the last tm_rt_step call: TM_RT_FAULTS_MAX entries once
     * the first fault is seen, sorted by (tick, id). */
    tm_rt_fault_t *faults;
    size_t n_faults;
    uint64_t faults_dropped;

    /* Supervision (tm_rt_super.c): the node's policy (has_sup false: a
     * fault holds the actor, nothing more), the records, the actors that
     * faulted in the tick being finished, and the events of the call. */
    tm_rt_supervisor_t sup_cfg;
    bool has_sup;
    tmi_rt_sup_t *sups;
    size_t n_sups, cap_sups;
    uint32_t *faulted;
    size_t n_faulted, cap_faulted;
    uint64_t faulted_dropped;
    tm_rt_event_t *events;
    size_t n_events, cap_events;
    uint64_t events_dropped;

    /* Trials (tm_rt_trial.c). */
    tmi_rt_trial_t *trials;
    size_t n_trials, cap_trials;
};

/* ---- shared by the runtime's files ------------------------------------- */

/* Grow *p (cap elements of elem bytes) to hold need. TM_ERR_NOMEM. */
int tmi_rt_grow(void **p, size_t *cap, size_t need, size_t elem);

/* The handle of an actor or proxy, or TMI_RT_NONE. */
uint32_t tmi_rt_actor_find(const tm_rt_t *rt, const char *id);

/* true if every one of n values is finite. */
bool tmi_rt_all_finite(const double *v, uint32_t n);

/* tm_rt_link.c: remove link li (the last record moves into its place).
 * narrow: recompute its source's history window (not when the source is
 * being killed). */
void tmi_rt_link_remove_at(tm_rt_t *rt, uint32_t li, bool narrow);

/* tm_rt_link.c: fit each group's ring to the links reading it, then
 * resolve the links into per-group gather arrays. TM_ERR_NOMEM. */
int tmi_rt_plan_rebuild(tm_rt_t *rt);

/* tm_rt.c: move actor a to model (same family) in a stepped (frozen =
 * false) or frozen group; its state becomes `state` (model->n_states values)
 * or, when NULL, its state mapped by the model; outputs of the current
 * tick are recomputed, past ones kept. Errors as tm_rt_set_model. */
int tmi_rt_regroup(tm_rt_t *rt, uint32_t a, const tm_model_t *model,
                   bool frozen, const double *state);

/* ---- tm_rt_super.c: supervision ----------------------------------------- */

/* After tick k and its fault merge: fall back, step shadows, promote,
 * quarantine. */
void tmi_rt_supervise(tm_rt_t *rt, uint64_t k);

/* Note that actor a faulted in the tick being finished. */
void tmi_rt_note_fault(tm_rt_t *rt, uint32_t a);

/* Actor a's supervision as a view (defaults when it has no record). */
void tmi_rt_sup_view(const tm_rt_t *rt, uint32_t a, tm_rt_sup_t *v);

/* tm_rt_trial.c: step every trial after tick k; drop actor a's trial. */
void tmi_rt_trials_step(tm_rt_t *rt, uint64_t k);
void tmi_rt_trial_drop(tm_rt_t *rt, uint32_t a);

/* Drop actor a's supervision record (kill). */
void tmi_rt_sup_drop(tm_rt_t *rt, uint32_t a);

/* Actor a's record, or NULL; made (target = its tier) if missing, NULL
 * without memory; dropped when it says nothing the defaults do not. */
tmi_rt_sup_t *tmi_rt_sup_find(tm_rt_t *rt, uint32_t a);
tmi_rt_sup_t *tmi_rt_sup_make(tm_rt_t *rt, uint32_t a);
void tmi_rt_sup_tidy(tm_rt_t *rt, uint32_t a);

/* The next tier below m's of its family@version, NULL at the lowest. */
const tm_model_t *tmi_rt_sup_lower(const tm_rt_t *rt, const tm_model_t *m);

/* ---- tm_rt_resid.c: residual checks ------------------------------------ */

/* Does g's model have outputs that predict measured inputs with a stated
 * standard deviation? (Found once per group.) */
bool tmi_rt_resid_pairs(tmi_rt_group_t *g);

/* The largest |normalised innovation| of one actor of g: the step's
 * samples `in` against the predictions `y` (outputs of the step before);
 * NaN when no sample came. */
double tmi_rt_resid(const tmi_rt_group_t *g, const double *in, const double *y);

/* m's policy in *p (residual_steps at least 1); whether it checks
 * residuals. */
bool tmi_rt_resid_policy(const tm_rt_t *rt, const tm_model_t *m,
                         tm_rt_policy_t *p);

/* After tick k, before the fallbacks: actors whose residuals stayed over
 * the limit long enough are undone and noted as faults. */
void tmi_rt_resid_check(tm_rt_t *rt, uint64_t k);

/* ---- tm_rt_step.c: stepping ------------------------------------------- */

/* Start worker i (thread, socket pair, loop). TM_ERR_IO. */
int tmi_rt_worker_start(tm_rt_t *rt, unsigned i);

/* Stop and join every started worker, close their sockets and loops. */
void tmi_rt_workers_stop(tm_rt_t *rt);

/* ---- tm_rt_hist.c: output histories ------------------------------------ */

/* Allocate a new group's ring (depth 2, no slots yet). TM_ERR_NOMEM. */
int tmi_rt_ring_init(tmi_rt_group_t *g);

/* Free a group's ring buffers and the ring itself. */
void tmi_rt_ring_free(tmi_rt_group_t *g);

/* Grow every buffer of the ring to cap slots. TM_ERR_NOMEM (buffers that
 * grew keep their contents). */
int tmi_rt_ring_reserve(tmi_rt_group_t *g, size_t cap);

/* Change a group's ring depth (>= 2). A deeper ring's new, older ticks
 * hold a copy of the oldest tick kept; a shallower one drops the oldest
 * ticks. Marks the plan dirty. TM_ERR_NOMEM (ring unchanged). */
int tmi_rt_ring_resize(tm_rt_t *rt, tmi_rt_group_t *g, uint32_t depth);

/* Turn the ring by one before a tick: out[0] becomes the buffer to write,
 * out[j] the outputs of the tick j before. A proxy's group carries its
 * outputs forward (a tick not imported holds the tick before). */
void tmi_rt_ring_turn(tmi_rt_group_t *g);

/* Slot s of group g takes `outputs` at every tick of the ring. */
void tmi_rt_ring_fill(tmi_rt_group_t *g, size_t s, const double *outputs);

/* Widen actor a's history window to `delay` ticks (a link of that delay
 * will read it), growing its group's ring if needed: the ticks it did not
 * keep take its oldest kept outputs. TM_ERR_NOMEM (nothing changed). */
int tmi_rt_history_widen(tm_rt_t *rt, uint32_t a, uint32_t delay);

/* Recompute actor a's history window from the links out of it. */
void tmi_rt_history_narrow(tm_rt_t *rt, uint32_t a);

#endif
