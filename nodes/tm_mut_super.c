/* tm_mut_super: the operator's tier of an actor (tm_mut_pin), through the
 * one mutation path: the runtime changes, the actor's whole record
 * (model, state and supervision record) is committed, and a failed commit
 * puts the actor back as it was. */
#include "tm_mut_int.h"

#include "tm_audit.h"
#include "tm_err.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <stdio.h>
#include <string.h>

/* Put the actor back: its model and state, then its supervision record. */
static int s_undo(tm_mut_t *m, const char *id, const tm_model_t *before,
                  const double *state, const tm_persist_sup_t *sup)
{
    int rc = tmi_mut_restore_model(m, id, before, state);
    tm_rt_sup_t v;
    if (rc == 0) {
        rc = tm_persist_sup_to_view(sup, before, tm_models_tier, &v);
    }
    return rc != 0 ? rc : tm_rt_sup_restore(m->rt, id, &v);
}

/* "family@version/tier, pinned|auto[, quarantined]" of an actor. */
static const char *s_tier(const tm_model_t *model, bool pinned,
                          bool quarantined, char *buf, size_t cap)
{
    char spec[TM_AUDIT_VALUE_MAX + 1];
    snprintf(buf, cap, "%s, %s%s", tmi_mut_spec(model, spec, sizeof spec),
             pinned ? "pinned" : "auto", quarantined ? ", quarantined" : "");
    return buf;
}

/* The audit record of a `fidelity` change. */
static int s_audit(tm_mut_t *m, tm_store_batch_t *b, const char *id,
                   const tm_model_t *before, const tm_persist_sup_t *was,
                   bool automatic)
{
    tm_rt_actor_t a;
    char from[TM_AUDIT_VALUE_MAX + 1];
    char to[TM_AUDIT_VALUE_MAX + 1];
    char reason[TM_AUDIT_REASON_MAX + 1];
    if (tm_rt_get(m->rt, id, &a) != 0) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    snprintf(reason, sizeof reason, "%s%s",
             automatic ? "tier left to the supervisor, target "
                       : "tier pinned at ",
             tm_fidelity_name(a.sup.target));
    if (was->quarantined) {
        snprintf(reason + strlen(reason), sizeof reason - strlen(reason),
                 "; quarantine released");
    }
    return tmi_mut_audit(
        m, b, "fidelity", id,
        s_tier(before, was->pinned, was->quarantined, from, sizeof from),
        s_tier(a.model, a.sup.pinned, a.sup.quarantined, to, sizeof to),
        reason);
}

int tm_mut_pin(tm_mut_t *m, const char *id, bool automatic, tm_fidelity_t tier,
               char *why)
{
    tm_rt_actor_t a;
    if (tm_rt_get(m->rt, id, &a) != 0 || a.remote) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    const tm_model_t *before = a.model;
    double state[TM_MODEL_MAX_VARS];
    memcpy(state, a.state, before->n_states * sizeof state[0]);
    tm_persist_sup_t sup;
    (void)tm_persist_sup_from_view(&a, &sup);
    int rc = tm_rt_pin(m->rt, id, automatic, tier);
    if (rc == TM_ERR_UNKNOWN_FIDELITY) {
        return tmi_mut_why(why, rc, "%s runs %s@%s, which has no %s tier", id,
                           before->family, before->version,
                           tm_fidelity_name(tier));
    }
    if (rc != 0) {
        return tmi_mut_why(why, rc, "cannot move %s to its %s tier: %s", id,
                           automatic ? "automatic" : tm_fidelity_name(tier),
                           tm_err_str(rc));
    }
    tm_store_batch_t *b = NULL;
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0) {
        rc = s_audit(m, b, id, before, &sup, automatic);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0 && s_undo(m, id, before, state, &sup) != 0) {
        return tmi_mut_why(why, TM_ERR_INTERNAL,
                           "could not store the tier of %s (%s) nor put it "
                           "back; restart the node to reload it from the "
                           "store",
                           id, tm_err_str(rc));
    }
    if (rc != 0) {
        return tmi_mut_store_failed(m, why, rc);
    }
    tm_rt_get(m->rt, id, &a);
    tmi_mut_tell(m, TM_MUT_ADDED, id, a.model);
    return 0;
}
