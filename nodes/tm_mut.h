/* tm_mut: the one way to change the mesh.
 *
 * Every change of actors and links - from a console, and later from peers,
 * the supervisor, rollouts, migration and calibration - goes through this
 * module, which applies it to the runtime, writes it to the store as one
 * batch, commits, and undoes the runtime change when the commit fails. A
 * function returns only after the commit is durable (tm_store_batch_commit
 * returned 0), so a caller may acknowledge on 0.
 *
 * Errors are a tm_err_t and a one-line detail for the operator (why, with
 * names and ranges), written into `why` (TM_MUT_WHY_MAX bytes); this module
 * knows nothing of replies. A failed call leaves runtime and store as they
 * were.
 *
 * Audit: every change appends its audit record (tm_audit.h) to the batch
 * that commits it, so an acknowledged change and its record are durable
 * together and a refused change writes none. Decision records of other
 * modules (the supervisor's fallbacks, ...) come in through
 * tm_mut_audit_note and go with the next commit, a change's or a
 * checkpoint's.
 *
 * Ordering: before each commit the `barrier` given at open is called (the
 * node waits there for a checkpoint in flight), so the store receives
 * writes in the order the node made them and a checkpoint snapshot can
 * never overwrite a later mutation.
 *
 * Memory: spawn-many estimates what COUNT actors of its model take at the
 * peak and refuses with TM_ERR_NOMEM, before creating anything, when that
 * is more than the memory available.
 *
 * Threading: control thread only, between ticks.
 */
#ifndef TM_MUT_H_INCLUDED
#define TM_MUT_H_INCLUDED

#include "tm_audit.h"
#include "tm_model.h"
#include "tm_move_wire.h"
#include "tm_plan.h"
#include "tm_rt.h"
#include "tm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_MUT_WHY_MAX 1024u

typedef struct tm_mut tm_mut_t;

/* Called before every commit; may be NULL. */
typedef void (*tm_mut_barrier_fn)(void *arg);

/* Errors: TM_ERR_NOMEM. */
int tm_mut_open(tm_mut_t **out, tm_rt_t *rt, tm_store_t *store,
                tm_mut_barrier_fn barrier, void *arg);
void tm_mut_destroy(tm_mut_t **p);

/* ---- audit --------------------------------------------------------------
 * Who asks for the changes that follow: whoever serves a request sets it
 * (tm_audit_who decides the words) before it calls in, and sets it back
 * with NULL afterwards; NULL is the node itself ("node"). Setting it also
 * clears tm_mut_reason. */
void tm_mut_origin(tm_mut_t *m, const char *who);

/* The kind and reason of the next change's audit record, instead of its
 * own (a calibrate is a set: kind "calibrate", reason the fit); either
 * may be NULL (the change's own). Cleared by the next commit and by
 * tm_mut_origin. */
void tm_mut_reason(tm_mut_t *m, const char *kind, const char *reason);

/* Record a decision that changes nothing through this module (kinds:
 * fallback, promote, quarantine, release, rollout, rollback, migrate,
 * failover, recovery, ...): the record (wall time and tick now, who the
 * current origin) is queued and written with the next commit, so it is
 * durable at checkpoint granularity, like the state it describes.
 * actor, before, after may be NULL (nil). TM_ERR_BUSY when the queue is
 * full: the record is dropped and counted (tm_audit_stats). */
int tm_mut_audit_note(tm_mut_t *m, const char *kind, const char *actor,
                      const char *before, const char *after,
                      const char *reason);

/* As tm_mut_audit_note, for a decision taken at `tick` (the supervisor's,
 * reported after a chunk of ticks). */
int tm_mut_audit_note_at(tm_mut_t *m, uint64_t tick, const char *kind,
                         const char *actor, const char *before,
                         const char *after, const char *reason);

/* The audit log's queue and retention (checkpoints write and trim it,
 * statistics read it). */
tm_audit_t *tm_mut_audit(tm_mut_t *m);

/* Bytes of memory spawn-many may plan on; 0 (the default): MemAvailable of
 * /proc/meminfo at the time (no check when it cannot be read). */
void tm_mut_set_mem_available(tm_mut_t *m, uint64_t bytes);

/* Spawn id with model, parameters (model->n_params values) and period.
 * Stored links that name id (left by an earlier actor of that id that was
 * not restored) are deleted in the same batch. Errors: TM_ERR_BAD_ID,
 * TM_ERR_DUPLICATE_ACTOR, TM_ERR_BAD_VALUE, TM_ERR_NOMEM, store errors. */
int tm_mut_spawn(tm_mut_t *m, const char *id, const tm_model_t *model,
                 const double *params, uint32_t period, char *why);

/* Timing of a spawn-many, for its reply. */
typedef struct {
    double elapsed_s; /* whole call */
    double commit_s;  /* the commit alone */
} tm_mut_timing_t;

/* Spawn prefix0 .. prefix<count-1> in one batch: all or none. Errors: as
 * tm_mut_spawn (the detail names the id), TM_ERR_NOMEM (not enough memory,
 * checked before anything is created). */
int tm_mut_spawn_many(tm_mut_t *m, const char *prefix, uint64_t count,
                      const tm_model_t *model, const double *params,
                      uint32_t period, tm_mut_timing_t *timing, char *why);

/* Kill id and every link from or to it; *links_removed gets their number.
 * Errors: TM_ERR_UNKNOWN_ACTOR, store errors. */
int tm_mut_kill(tm_mut_t *m, const char *id, size_t *links_removed, char *why);

/* Add (add = true) a link with a delay of `delay` ticks (1 ..
 * TM_RT_DELAY_MAX), or remove one (delay unused: a link is removed by its
 * ends). Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT,
 * TM_ERR_INPUT_LINKED, TM_ERR_EXISTS (these ends are linked, whatever the
 * delay), TM_ERR_NOT_LINKED, TM_ERR_TOO_BIG, TM_ERR_RANGE (delay), store
 * errors. */
int tm_mut_link(tm_mut_t *m, bool add, const char *src, const char *output,
                const char *dst, const char *input, uint32_t delay, char *why);

/* What a set changed. */
typedef enum { TM_MUT_PARAM, TM_MUT_STATE, TM_MUT_INPUT } tm_mut_kind_t;

const char *tm_mut_kind_name(tm_mut_kind_t kind); /* "param", ... */

/* Set n named values of id (each a parameter, else a state, else a held
 * input), all or none; kind[] and old[] (n each) get what each name is and
 * its value before. Everything is checked before anything changes.
 * Errors: TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_PORT, TM_ERR_BAD_VALUE (out
 * of range or not finite), store errors. */
int tm_mut_set(tm_mut_t *m, const char *id, size_t n, const char *const *names,
               const double *values, tm_mut_kind_t *kind, double *old,
               char *why);

/* Move id to another model of its family (a tier or version change), its
 * state mapped by the model. Errors: those of tm_rt_set_model, store
 * errors. */
int tm_mut_set_model(tm_mut_t *m, const char *id, const tm_model_t *model,
                     char *why);

/* The operator's tier of id (`fidelity`): pin it at `tier` (its state
 * mapped; no automatic fallback or promotion), or with automatic = true
 * let the supervisor choose (target: the highest tier of its
 * family@version, reached through the shadow). Either releases a
 * quarantine. The actor's whole record is committed. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_FIDELITY, those of
 * tm_rt_set_model, store errors. */
int tm_mut_pin(tm_mut_t *m, const char *id, bool automatic, tm_fidelity_t tier,
               char *why);

/* Rollouts (nodes/tm_rollout.c). Records live in the catalog database:
 * TM_MUT_ROLLOUT_KEY FAMILY (the rollout) and TM_MUT_ROLLOUT_KEY
 * FAMILY/prev/ID (an actor's record as of its switch). */
#define TM_MUT_ROLLOUT_KEY     "rollout/"
#define TM_MUT_ROLLOUT_KEY_MAX 160u
/* An actor's parameter set's rollout is keyed this and its id. */
#define TM_MUT_ROLLOUT_PARAMS "params:"

/* The key of a rollout (id NULL) or of an actor's record before it.
 * TM_ERR_TOO_BIG. */
int tm_mut_rollout_key(const char *family, const char *id, char *key,
                       size_t cap);

/* Commit a rollout's record (MessagePack, the caller's) with an audit
 * record "rollout" saying `reason`, deleting in the same commit the kept
 * records of the n_forget ids in forget (those of an earlier rollout).
 * Store errors. */
int tm_mut_rollout_record(tm_mut_t *m, const char *family, const void *val,
                          size_t len, const char *const *forget,
                          size_t n_forget, const char *reason, char *why);

/* Switch id to model `to` (its state mapped), or with trial = true adopt
 * its trial (tm_rt_trial_stop); its record as it was is kept under its
 * rollout key in the same commit, unless one is kept already (the first
 * switch of a rollout counts); an actor on `to` already is left alone. Errors:
 * TM_ERR_UNKNOWN_ACTOR, those of tm_rt_set_model / tm_rt_trial_stop, store
 * errors (nothing changed). */
int tm_mut_rollout_switch(tm_mut_t *m, const char *id, const tm_model_t *to,
                          bool trial, const char *family, const char *reason,
                          char *why);

/* Put id back: with to == NULL on the model and state its record kept at
 * the switch (and, with params, its parameters: a parameter set's
 * rollout), else on model `to` (its state mapped); the kept record is
 * deleted in the same commit, which also writes an audit record
 * "rollback". Errors: TM_ERR_NOT_FOUND (no kept record and no `to`),
 * TM_ERR_UNKNOWN_ACTOR, those of tm_rt_set_model, store errors. */
int tm_mut_rollout_revert(tm_mut_t *m, const char *id, const char *family,
                          const tm_model_t *to, bool params, const char *reason,
                          char *why);

/* Carry out a plan (tm_plan_build on this runtime, not changed since):
 * remove links, kill, change models, spawn, set values, add links - in the
 * runtime, then in the store as ONE batch and one commit. All or nothing:
 * when a step or the commit fails, every step done is undone in the
 * runtime (killed actors come back with their model, period, parameters,
 * held inputs, state and outputs; their health counters restart) and the
 * store is untouched. Parameters, held inputs and states of actors that
 * stay are patched into their stored records (the recovery rule of
 * tm_mut_set); new, replaced and moved actors get their whole record.
 * A link from another node's actor (tm_plan_link_t.remote) reads it
 * through a proxy, made when missing and stored with the link; a proxy
 * that no link reads afterwards is removed. After the commit the mesh's
 * observer (tm_mut_mesh) learns every actor added, changed or removed and
 * every proxy made or removed. timing may be NULL. Errors: those of the runtime
 * calls (with the actor or link in why), store errors, TM_ERR_NOMEM. */
int tm_mut_apply(tm_mut_t *m, const tm_plan_t *plan, tm_mut_timing_t *timing,
                 char *why);

/* What tm_mut_apply checks before it changes anything, without changing
 * anything (a node of a mesh checks its part of a plant before every node
 * commits): the memory the new actors need, that no other node of the
 * mesh has the id of a new actor, and that the actors of other nodes the
 * plan reads run on the node the plant says (actors do not move). Errors:
 * TM_ERR_NOMEM, TM_ERR_EXISTS (with the file's line in why), TM_ERR_INVAL
 * (a plan of several nodes). */
int tm_mut_apply_check(tm_mut_t *m, const tm_plan_t *plan, char *why);

/* "a, b, c" of variable names into buf ("none" when n = 0). */
const char *tm_mut_names(const tm_var_t *v, uint32_t n, char *buf, size_t cap);

/* ---- the catalog ---------------------------------------------------------
 * Load a model plugin (nodes/tm_plugins.h): write bytes to data_dir's
 * plugins folder as `file`, open and check it, commit its catalog record
 * (TM_DB_CATALOG) in one batch, then add its models to the catalog. out
 * gets what was loaded (out->already: the same bytes were loaded before;
 * nothing changed). All or nothing: on any error the file is removed and
 * catalog and store are untouched. Errors: those of tm_plugins_prepare,
 * store errors. */
struct tm_plugins_prep;
int tm_mut_plugin(tm_mut_t *m, const char *data_dir, const char *file,
                  const uint8_t *bytes, size_t len, struct tm_plugins_prep *out,
                  char *why);

/* ---- the mesh ------------------------------------------------------------
 * A node of a mesh tells the mutation path about actors other nodes own
 * (`remote`: the owner's name and the model of id, or NULL when no other
 * node has it), so that spawns refuse ids that exist elsewhere and a link
 * from a remote source makes a proxy of it; and it learns every change of
 * its own actors (`observer`), to replicate its directory. */

typedef const char *(*tm_mut_remote_fn)(void *arg, const char *id,
                                        const tm_model_t **model);

typedef enum {
    TM_MUT_ADDED,
    TM_MUT_REMOVED,
    TM_MUT_PROXY,
    TM_MUT_MOVED
} tm_mut_event_t;

/* After a commit: an actor of this node was added (or changed model) or
 * removed; or the proxy of remote actor id was made or linked (model
 * given) or removed (model NULL); or an actor of this node moved to
 * another node (the mover tells the mesh where). */
typedef void (*tm_mut_observer_fn)(void *arg, tm_mut_event_t ev, const char *id,
                                   const tm_model_t *model);

void tm_mut_mesh(tm_mut_t *m, tm_mut_remote_fn remote,
                 tm_mut_observer_fn observer, void *arg);

/* Remove the proxy of a remote actor that no longer exists (its owner
 * said so) and every link from it, in the store too. TM_ERR_UNKNOWN_ACTOR
 * if id is no proxy. */
int tm_mut_drop_proxy(tm_mut_t *m, const char *id, size_t *links_removed,
                      char *why);

/* ---- actors that change node (tm_mut_move.c) ----------------------------
 * tm_mut_move_out: the n actors ids leave this node (their new node has
 * them): their records and the links into them go, in one batch with an
 * audit record each (kind and reason given: "migrate-out", "fenced", ...);
 * an actor that links here read stays as a proxy with those links and its
 * past outputs; proxies that fed only them go. Errors: TM_ERR_UNKNOWN_ACTOR
 * (not an actor of this node; nothing changed), the store's (nothing
 * changed), TM_ERR_NOMEM.
 * tm_mut_move_in: the actors of a package arrive: each from its record,
 * with the links into it (proxies made of sources this node does not run,
 * with the sources' past outputs), a proxy of it here becoming it; one
 * batch with a "migrate-in" audit record each. Errors: TM_ERR_EXISTS (an
 * actor already runs here), TM_ERR_UNKNOWN_MODEL and the catalog's, a
 * record that does not decode or fit its model, the runtime's and the
 * store's; nothing changed on error (a proxy that was to become an actor
 * comes back at the next restart). */
int tm_mut_move_out(tm_mut_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                    const char *kind, const char *reason, char *why);
int tm_mut_move_in(tm_mut_t *m, const tm_move_t *pkg, char *why);

#endif
