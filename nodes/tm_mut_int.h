/* tm_mut_int: what the files of the mutation path share (tm_mut.c: the
 * single changes; tm_mut_apply.c: a plan in one batch). Not for other
 * modules: they call tm_mut.h. */
#ifndef TM_MUT_INT_H_INCLUDED
#define TM_MUT_INT_H_INCLUDED

#include "tm_audit.h"
#include "tm_mut.h"
#include "tm_wire.h"

struct tm_mut {
    tm_rt_t *rt;
    tm_store_t *store;
    tm_mut_barrier_fn barrier;
    void *arg;
    uint64_t mem_available;
    tm_wire_buf_t scratch;
    /* the mesh (tm_mut_mesh): owners of other nodes' actors, and the
     * observer of this node's changes */
    tm_mut_remote_fn remote;
    tm_mut_observer_fn observer;
    void *mesh;
    /* the audit log: who asks (tm_mut_origin), the kind and reason of the
     * next change (tm_mut_reason), decision records put into the batch
     * being committed (lost if its commit fails) */
    tm_audit_t *audit;
    char who[TM_AUDIT_WHO_MAX + 1];
    char kind[TM_AUDIT_KIND_MAX + 1];
    char reason[TM_AUDIT_REASON_MAX + 1];
    size_t records, noted; /* audit records in the batch, decisions of them */
    tm_audit_rec_t rec;
};

/* A one-line detail into why (TM_MUT_WHY_MAX bytes, may be NULL); returns
 * rc. */
int tmi_mut_why(char *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "could not store the change, nothing was changed: ..." */
int tmi_mut_store_failed(tm_mut_t *m, char *why, int rc);
/* Commit b after the barrier, so the store sees writes in order. */
int tmi_mut_commit(tm_mut_t *m, tm_store_batch_t *b);
/* Tell the mesh's observer (if any) about an actor. */
void tmi_mut_tell(tm_mut_t *m, tm_mut_event_t ev, const char *id,
                  const tm_model_t *model);
int tmi_mut_new_batch(tm_mut_t *m, tm_store_batch_t **b);
/* Append the audit record of the change b holds (after the decision
 * records queued before it): kind (unless tm_mut_reason gave one), actor,
 * before, after (NULL: nil) and reason (unless tm_mut_reason gave one).
 * Call it last before tmi_mut_commit. Errors: TM_ERR_NOMEM. */
int tmi_mut_audit(tm_mut_t *m, tm_store_batch_t *b, const char *kind,
                  const char *actor, const char *before, const char *after,
                  const char *reason);
/* The record of a spawn (before NULL; n: the period), kill (after NULL;
 * n: the links removed) or model change of id. */
int tmi_mut_audit_models(tm_mut_t *m, tm_store_batch_t *b, const char *kind,
                         const char *id, const tm_model_t *before,
                         const tm_model_t *after, uint64_t n);
/* Remove proxy id if no link reads it any more. */
void tmi_mut_proxy_gc(tm_mut_t *m, const char *id);
/* The one record of a spawn-many (prefix, count, model). */
int tmi_mut_audit_many(tm_mut_t *m, tm_store_batch_t *b, const char *prefix,
                       uint64_t count, const tm_model_t *model);
/* "name=value, ..." of n values into buf (cut with "..."); returns buf. */
const char *tmi_mut_values(size_t n, const char *const *names,
                           const double *values, char *buf, size_t cap);
/* "family@version/tier" of model into buf; returns buf. */
const char *tmi_mut_spec(const tm_model_t *model, char *buf, size_t cap);
/* Put the current record of id into b. */
int tmi_mut_put_current(tm_mut_t *m, tm_store_batch_t *b, const char *id);
/* Put id back on model `before` with exactly the state it had. */
int tmi_mut_restore_model(tm_mut_t *m, const char *id, const tm_model_t *before,
                          const double *state);

/* Bytes one actor of model takes at the peak of a batch of spawns (its
 * arrays, metadata and record), on the safe side. */
uint64_t tmi_mut_actor_bytes(const tm_model_t *model);
/* The memory a batch may plan on (tm_mut_set_mem_available, else
 * MemAvailable; 0 when unknown). */
uint64_t tmi_mut_mem_available(const tm_mut_t *m);

/* Into b: the deletes of what rollouts keep of actor id (of family) - its
 * record before a version's switch, and its parameter set's rollout with
 * the record before it (tm_mut_rollout.c) - when it leaves this node. */
int tmi_mut_rollout_forget(tm_store_batch_t *b, const char *family,
                           const char *id);

#endif
