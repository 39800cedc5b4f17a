/* tm_mut_rollout: the changes a rollout makes, through the one mutation
 * path - its record, an actor switched to the new version (its state
 * before the switch kept beside it, for a rollback), an actor put back. */
#include "tm_mut_int.h"

#include "tm_err.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_mut_rollout_key(const char *family, const char *id, char *key,
                       size_t cap)
{
    int n = id != NULL ? snprintf(key, cap, "%s%s/prev/%s", TM_MUT_ROLLOUT_KEY,
                                  family, id)
                       : snprintf(key, cap, "%s%s", TM_MUT_ROLLOUT_KEY, family);
    return n < 0 || (size_t)n >= cap ? TM_ERR_TOO_BIG : 0;
}

int tmi_mut_rollout_forget(tm_store_batch_t *b, const char *family,
                           const char *id)
{
    char set[TM_MUT_ROLLOUT_KEY_MAX];
    char key[TM_MUT_ROLLOUT_KEY_MAX];
    int n = snprintf(set, sizeof set, "%s%s", TM_MUT_ROLLOUT_PARAMS, id);
    int rc = n < 0 || (size_t)n >= sizeof set ? TM_ERR_TOO_BIG : 0;
    if (rc == 0 && tm_mut_rollout_key(family, id, key, sizeof key) == 0) {
        rc = tm_store_batch_del(b, TM_DB_CATALOG, key, strlen(key));
    }
    if (rc == 0 && tm_mut_rollout_key(set, id, key, sizeof key) == 0) {
        rc = tm_store_batch_del(b, TM_DB_CATALOG, key, strlen(key));
    }
    if (rc == 0 && tm_mut_rollout_key(set, NULL, key, sizeof key) == 0) {
        rc = tm_store_batch_del(b, TM_DB_CATALOG, key, strlen(key));
    }
    return rc;
}

int tm_mut_rollout_record(tm_mut_t *m, const char *family, const void *val,
                          size_t len, const char *const *forget,
                          size_t n_forget, const char *reason, char *why)
{
    char key[TM_MUT_ROLLOUT_KEY_MAX];
    tm_store_batch_t *b = NULL;
    int rc = tm_mut_rollout_key(family, NULL, key, sizeof key);
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
    }
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_CATALOG, key, strlen(key), val, len);
    }
    for (size_t i = 0; rc == 0 && i < n_forget; i++) {
        char pk[TM_MUT_ROLLOUT_KEY_MAX];
        rc = tm_mut_rollout_key(family, forget[i], pk, sizeof pk);
        rc = rc ? rc : tm_store_batch_del(b, TM_DB_CATALOG, pk, strlen(pk));
    }
    if (rc == 0) {
        rc = tmi_mut_audit(m, b, "rollout", NULL, NULL, NULL, reason);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    return rc != 0 ? tmi_mut_store_failed(m, why, rc) : 0;
}

/* The actor's record as it is now, under its rollout key in b. */
static int s_put_prev(tm_mut_t *m, tm_store_batch_t *b, const char *family,
                      const tm_rt_actor_t *a)
{
    char key[TM_MUT_ROLLOUT_KEY_MAX];
    tm_persist_actor_t rec;
    tm_persist_actor_from_view(a, tm_rt_tick(m->rt), &rec);
    tm_wire_buf_clear(&m->scratch);
    int rc = tm_mut_rollout_key(family, a->id, key, sizeof key);
    if (rc == 0) {
        rc = tm_persist_actor_encode(&rec, &m->scratch);
    }
    if (rc == 0) {
        rc = tm_store_batch_put(b, TM_DB_CATALOG, key, strlen(key),
                                m->scratch.sbuf.data, m->scratch.sbuf.size);
    }
    return rc;
}

/* Parameters back (a parameter set's rollout, a failed commit). */
static int s_put_params(tm_mut_t *m, const char *id, const tm_model_t *model,
                        const double *params)
{
    int rc = 0;
    for (uint32_t i = 0; i < model->n_params && rc == 0; i++) {
        rc = tm_rt_set(m->rt, id, model->params[i].name, params[i]);
    }
    return rc;
}

int tm_mut_rollout_switch(tm_mut_t *m, const char *id, const tm_model_t *to,
                          bool trial, const char *family, const char *reason,
                          char *why)
{
    tm_rt_actor_t a;
    if (tm_rt_get(m->rt, id, &a) != 0 || a.remote) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    const tm_model_t *before = a.model;
    if (to != NULL && before == to) {
        return 0; /* switched already (a stage started again) */
    }
    double state[TM_MODEL_MAX_VARS];
    double params[TM_MODEL_MAX_VARS];
    memcpy(state, a.state, before->n_states * sizeof state[0]);
    memcpy(params, a.params, before->n_params * sizeof params[0]);
    char key[TM_MUT_ROLLOUT_KEY_MAX];
    void *kept = NULL;
    size_t klen = 0;
    int rc = tm_mut_rollout_key(family, id, key, sizeof key);
    bool has_kept = rc == 0 && tm_store_get(m->store, TM_DB_CATALOG, key,
                                            strlen(key), &kept, &klen) == 0;
    free(kept);
    tm_store_batch_t *b = NULL;
    rc = rc ? rc : tmi_mut_new_batch(m, &b);
    if (rc == 0 && !has_kept) {
        /* the record as of the first switch of this rollout is kept */
        rc = s_put_prev(m, b, family, &a); /* before the view goes stale */
    }
    if (rc == 0) {
        rc = trial ? tm_rt_trial_stop(m->rt, id, true)
                   : tm_rt_set_model(m->rt, id, to);
        if (rc != 0) {
            tm_store_batch_destroy(&b);
            return tmi_mut_why(why, rc, "cannot move %s to %s: %s", id,
                               trial ? "its trial" : to->version,
                               tm_err_str(rc));
        }
    }
    if (rc == 0) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0 && tm_rt_get(m->rt, id, &a) == 0) {
        tm_mut_reason(m, NULL, reason);
        rc = tmi_mut_audit_models(m, b, "rollout", id, before, a.model, 0);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        tmi_mut_restore_model(m, id, before, state);
        s_put_params(m, id, before, params); /* a trial's own */
        return tmi_mut_store_failed(m, why, rc);
    }
    tmi_mut_tell(m, TM_MUT_ADDED, id, a.model);
    return 0;
}

int tm_mut_rollout_revert(tm_mut_t *m, const char *id, const char *family,
                          const tm_model_t *to, bool params, const char *reason,
                          char *why)
{
    char key[TM_MUT_ROLLOUT_KEY_MAX];
    void *val = NULL;
    size_t len = 0;
    tm_persist_actor_t rec;
    const tm_model_t *model = to;
    const double *state = NULL;
    const double *kept = NULL;
    int rc = tm_mut_rollout_key(family, id, key, sizeof key);
    if (rc == 0 && tm_store_get(m->store, TM_DB_CATALOG, key, strlen(key), &val,
                                &len) == 0) {
        /* its record as of the switch: model and state come back */
        if (tm_persist_actor_decode(val, len, &rec) == 0 &&
            tm_models_find(rec.family, rec.version, rec.fidelity, &model) ==
                0 &&
            rec.n_states == model->n_states && to == NULL) {
            state = rec.state;
            kept =
                params && rec.n_params == model->n_params ? rec.params : NULL;
        } else {
            model = to;
        }
    }
    if (rc == 0 && model == NULL) {
        rc = tmi_mut_why(why, TM_ERR_NOT_FOUND,
                         "%s has no state from before the rollout", id);
    }
    tm_rt_actor_t a;
    if (rc == 0 && tm_rt_get(m->rt, id, &a) != 0) {
        rc = tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    const tm_model_t *before = rc == 0 ? a.model : NULL;
    double was[TM_MODEL_MAX_VARS];
    double was_p[TM_MODEL_MAX_VARS];
    if (rc == 0) {
        memcpy(was, a.state, before->n_states * sizeof was[0]);
        memcpy(was_p, a.params, before->n_params * sizeof was_p[0]);
        rc = state != NULL ? tmi_mut_restore_model(m, id, model, state)
                           : tm_rt_set_model(m->rt, id, model);
        rc = rc == 0 && kept != NULL ? s_put_params(m, id, model, kept) : rc;
        if (rc != 0) {
            tmi_mut_restore_model(m, id, before, was);
            s_put_params(m, id, before, was_p);
            rc = tmi_mut_why(why, rc, "cannot put %s back on %s@%s: %s", id,
                             model->family, model->version, tm_err_str(rc));
        }
    }
    free(val);
    if (rc != 0) {
        return rc;
    }
    tm_store_batch_t *b = NULL;
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0) {
        rc = tm_store_batch_del(b, TM_DB_CATALOG, key, strlen(key));
    }
    if (rc == 0) {
        rc = tmi_mut_audit(m, b, "rollback", id, NULL, NULL, reason);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        tmi_mut_restore_model(m, id, before, was);
        s_put_params(m, id, before, was_p);
        return tmi_mut_store_failed(m, why, rc);
    }
    tmi_mut_tell(m, TM_MUT_ADDED, id, model);
    return 0;
}
