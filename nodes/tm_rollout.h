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

/* Start rolling family out to version. *canary and *total get the actors
 * in the canary and in the family. Errors (with why): TM_ERR_UNKNOWN_MODEL
 * / UNKNOWN_VERSION / UNKNOWN_FIDELITY (the version lacks a tier an actor
 * runs), TM_ERR_NOT_FOUND (no actor of the family runs another version),
 * TM_ERR_BUSY (a rollout of the family is in progress), store errors. */
int tm_rollout_start(tm_rollout_t *r, const char *family, const char *version,
                     const tm_rollout_opts_t *o, size_t *canary, size_t *total,
                     char *why);

/* Roll family back: a rollout in progress is stopped and its switched
 * actors put back; after a finished one, every actor it switched. With
 * `to` (a version, may be NULL), every actor of the family not on it
 * moves to it (its state as of the switch when it was switched from
 * there, else mapped). *n gets the actors moved. Errors: TM_ERR_NOT_FOUND
 * (nothing to roll back), those of the moves. */
int tm_rollout_rollback(tm_rollout_t *r, const char *family, const char *to,
                        size_t *n, char *why);

/* The rollouts (of family, or all when NULL) as an array of maps, each
 * naming node when it is not NULL (a node of a mesh). */
void tm_rollout_pack(const tm_rollout_t *r, const char *family,
                     const char *node, tm_body_t *b);

#endif
