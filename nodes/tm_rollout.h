/* tm_rollout: versioned rollout and rollback of a model family on this
 * node (a service; docs/architecture.md, "Rollouts").
 *
 * `rollout FAMILY@VERSION`: the new version runs in shadow on a canary
 * subset of the family's actors (tm_rt_trial: same inputs, its outputs
 * linked to nothing), scored against the live version (RMSE and MAPE per
 * output). A trial that fails, or scores over the budget, rolls the
 * rollout back (nothing changed but the trials). Within the budget after
 * `shadow` ticks, the canary actors switch to the new version (stage
 * canary); after `shadow` more ticks without a fault or fallback among
 * them, every other actor of the family switches (done). A fault among
 * the switched canary actors rolls them back. `rollback FAMILY` puts
 * every actor the last rollout switched back on its version and state as
 * of its switch. Every switch, every stage and the decision are
 * committed through the mutation path with their audit records; a node
 * that restarts in the middle of a rollout starts its stage again.
 *
 * A new parameter set of one actor (a calibration) is rolled out the same
 * way (tm_rollout_params): the set runs in shadow on the actor's own
 * model, the actor adopts it within the budget, and `rollback ID` puts
 * its parameters and state as of the switch back.
 *
 * Threading: control thread only.
 */
#ifndef TM_ROLLOUT_H_INCLUDED
#define TM_ROLLOUT_H_INCLUDED

#include "tm_body.h"
#include "tm_mut.h"
#include "tm_rt.h"
#include "tm_service.h"
#include "tm_store.h"

#include <stddef.h>
#include <stdint.h>

#define TM_ROLLOUT_WHY_MAX 512u

typedef struct tm_rollout tm_rollout_t;

typedef struct {
    uint32_t canary; /* percent of the family's actors, 1..100 */
    uint64_t shadow; /* ticks of each stage */
    double rmse;     /* budget per output; INFINITY: none */
    double mape;     /* percent; INFINITY: none */
    uint64_t at;     /* the shadow starts at this tick (0 or past: now) */
} tm_rollout_opts_t;

/* Open, picking up the rollouts in progress from the store (their stage
 * starts again). Errors: TM_ERR_NOMEM, store errors. */
int tm_rollout_open(tm_rollout_t **out, tm_rt_t *rt, tm_mut_t *mut,
                    tm_store_t *store);

tm_service_t tm_rollout_service(tm_rollout_t *r);

/* The mesh the node belongs to: a rollout's own rollback (a failed
 * trial, over budget, a faulty canary) is sent to every member, whose
 * part of the rollout goes back too. */
typedef struct tm_mesh tm_mesh_t;
void tm_rollout_set_mesh(tm_rollout_t *r, tm_mesh_t *mesh);

/* The node's writer: busy(arg) while a checkpoint is in flight. A
 * stage's decision that commits (a switch, a promotion, a rollback) and
 * comes while it is busy waits (tm_rollout_waiting) with the clock held
 * at its tick (tm_rollout_ready, a tm_sched_sub_t ready), and is taken by
 * tm_rollout_run_waiting once the writer is free (the node's
 * tm_ckpt_waiter); the loop serves everything else meanwhile. Without a
 * writer, decisions are taken at once. */
void tm_rollout_writer(tm_rollout_t *r, bool (*busy)(void *arg), void *arg);
bool tm_rollout_waiting(const tm_rollout_t *r);
void tm_rollout_run_waiting(tm_rollout_t *r);
bool tm_rollout_ready(void *arg, uint64_t next);

/* The next tick a stage ends (0: none): the clock ends a chunk there, so
 * stages change at the same ticks whatever the chunking (a
 * tm_sched_sub_t next_stop). */
uint64_t tm_rollout_next_stop(void *arg);

/* Whether a rollout of family to version could start here: the
 * refusals of tm_rollout_start that do not depend on the actors
 * (TM_ERR_UNKNOWN_VERSION, TM_ERR_BUSY), with why; 0 if none. A node of
 * a mesh asks before it sends the rollout to the others. */
int tm_rollout_check(tm_rollout_t *r, const char *family, const char *version,
                     char *why);

/* Start rolling family out to version. *canary and *total get the actors
 * in the canary and in the family. Errors (with why): TM_ERR_UNKNOWN_MODEL
 * / UNKNOWN_VERSION / UNKNOWN_FIDELITY (the version lacks a tier an actor
 * runs), TM_ERR_NOT_FOUND (no actor of the family runs another version),
 * TM_ERR_BUSY (a rollout of the family is in progress), store errors. */
int tm_rollout_start(tm_rollout_t *r, const char *family, const char *version,
                     const tm_rollout_opts_t *o, size_t *canary, size_t *total,
                     char *why);

/* Roll out a new parameter set of actor id (a calibration): params (its
 * model's n_params values, numbered by their `paramset`) and the state
 * fitted with them (n_states values) run in shadow from tick o->at (or
 * now) for o->shadow ticks, scored against the live parameters and the
 * measurements with o's budget; within it the actor adopts them, and
 * after o->shadow more ticks without a fault they stay (stage done);
 * else they are dropped (rolled back). o->canary is ignored. Errors
 * (with why): TM_ERR_UNKNOWN_ACTOR, TM_ERR_BUSY (a rollout of its family
 * or of its parameters in progress; the actor degraded), TM_ERR_TOO_BIG,
 * those of tm_rt_trial_start_with, store errors. */
int tm_rollout_params(tm_rollout_t *r, const char *id, const double *params,
                      const double *state, const tm_rollout_opts_t *o,
                      char *why);

/* TM_ERR_BUSY with why while a parameter set of id is in its shadow or
 * canary stage (a calibration committed at once would be undone), else 0. */
int tm_rollout_params_busy(tm_rollout_t *r, const char *id, char *why);

/* The number a new parameter set of id takes: set, or one more than the
 * last set rolled out for it when that is not lower (a set that was
 * dropped keeps its number). */
uint64_t tm_rollout_params_next(tm_rollout_t *r, const char *id, uint64_t set);

/* Roll family back: a rollout in progress is stopped and its switched
 * actors put back; after a finished one, every actor it switched. With
 * `to` (a version, may be NULL), every actor of the family not on it
 * moves to it (its state as of the switch when it was switched from
 * there, else mapped). *n gets the actors moved. family may also be an
 * actor's id with a parameter set's rollout: the actor gets its
 * parameters and state as of its switch back (no `to`: TM_ERR_USAGE).
 * Errors: TM_ERR_NOT_FOUND (nothing to roll back), those of the moves. */
int tm_rollout_rollback(tm_rollout_t *r, const char *family, const char *to,
                        size_t *n, char *why);

/* The rollouts (of family, or all when NULL) as an array of maps, each
 * naming node when it is not NULL (a node of a mesh). */
void tm_rollout_pack(const tm_rollout_t *r, const char *family,
                     const char *node, tm_body_t *b);

#endif
