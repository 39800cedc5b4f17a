/* tm_rollout_params: the rollout of a new parameter set of one actor (a
 * calibration's, `calibrate ID --shadow TICKS`; see tm_rollout.h).
 *
 * It goes through the stages of a version's rollout (tm_rollout.c), with
 * the actor as its whole canary: the set and the state fitted with it run
 * in shadow as a trial of the actor's own model (tm_rt_trial_start_with),
 * scored against the live parameters and the measurements; within the
 * budget the actor adopts them (its record before kept, for a rollback)
 * and the canary stage watches it for faults; at its end the set stays.
 * Its record is keyed TMI_RO_PARAMS_KEY ID, and concerns this node only.
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_rollout_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tmi_ro_params_key(const char *id, char *key)
{
    snprintf(key, TMI_RO_KEY_MAX + 1, "%s%s", TMI_RO_PARAMS_KEY, id);
}

/* The number N of "params@N" (0 if none). */
static uint64_t s_set_no(const char *s)
{
    unsigned long long n = 0;
    return sscanf(s, "params@%llu", &n) == 1 ? (uint64_t)n : 0;
}

bool tmi_ro_params_busy(const tm_rollout_t *r, const char *family)
{
    for (size_t i = 0; r->n_active > 0 && i < r->n; i++) {
        const tmi_ro_t *ro = &r->ro[i];
        if (ro->actor[0] != '\0' && tmi_ro_active(ro) &&
            strcmp(ro->family, family) == 0) {
            return true;
        }
    }
    return false;
}

uint64_t tm_rollout_params_next(tm_rollout_t *r, const char *id, uint64_t set)
{
    char key[TMI_RO_KEY_MAX + 1];
    tmi_ro_params_key(id, key);
    const tmi_ro_t *ro = tmi_ro_find(r, key);
    uint64_t last = ro != NULL ? s_set_no(ro->to) : 0;
    return set > last ? set : last + 1;
}

/* Whether a runs the model ro's set was fitted on; why if not. */
static bool s_fits(const tmi_ro_t *ro, const tm_rt_actor_t *a, char *why,
                   size_t cap)
{
    const tm_model_t *m = a->model;
    if (strcmp(m->family, ro->family) == 0 &&
        strcmp(m->version, ro->version) == 0 &&
        (uint8_t)m->fidelity == ro->fidelity && m->n_params == ro->np &&
        m->n_states == ro->ns) {
        return true;
    }
    snprintf(why, cap, "%s runs %s@%s (%s) now; %s was fitted on %s@%s (%s)",
             ro->actor, m->family, m->version, tm_fidelity_name(m->fidelity),
             ro->to, ro->family, ro->version,
             tm_fidelity_name((tm_fidelity_t)ro->fidelity));
    return false;
}

bool tmi_ro_params_fits(tm_rollout_t *r, const tmi_ro_t *ro, char *why,
                        size_t cap)
{
    tm_rt_actor_t a;
    return tm_rt_get(r->rt, ro->actor, &a) != 0 || a.remote ||
           s_fits(ro, &a, why, cap); /* gone: judged without evidence */
}

int tm_rollout_params_busy(tm_rollout_t *r, const char *id, char *why)
{
    char key[TMI_RO_KEY_MAX + 1];
    tmi_ro_params_key(id, key);
    const tmi_ro_t *ro = tmi_ro_find(r, key);
    if (ro == NULL || !tmi_ro_active(ro)) {
        return 0;
    }
    snprintf(why, TM_ROLLOUT_WHY_MAX,
             "%s of %s is in its %s stage; wait or `rollback %s`", ro->to, id,
             tmi_ro_stage_name(ro->stage), id);
    return TM_ERR_BUSY;
}

int tmi_ro_params_arm(tm_rollout_t *r, tmi_ro_t *ro, char *why)
{
    tm_rt_actor_t a;
    if (tm_rt_get(r->rt, ro->actor, &a) != 0 || a.remote) {
        ro->armed = true; /* gone: the stage's end finds no evidence */
        return 0;
    }
    const tm_model_t *m = a.model;
    if (!s_fits(ro, &a, why, TM_ROLLOUT_WHY_MAX)) {
        return TM_ERR_INVAL;
    }
    int rc = tm_rt_trial_start_with(r->rt, ro->actor, m, ro->params, ro->state);
    if (rc != 0) {
        snprintf(why, TM_ROLLOUT_WHY_MAX, "cannot try %s on %s: %s", ro->to,
                 ro->actor, tm_err_str(rc));
        return rc;
    }
    ro->armed = true;
    return 0;
}

void tmi_ro_params_done(tm_rollout_t *r, tmi_ro_t *ro)
{
    ro->stage = TMI_RO_DONE;
    snprintf(ro->decision, sizeof ro->decision,
             "kept: %s after %llu healthy ticks", ro->to,
             (unsigned long long)ro->o.shadow);
    tmi_ro_decided(r, ro, TM_LOG_INFO);
}

/* Why a set of a cannot be rolled out now (0: it can). */
static int s_refuse(tm_rollout_t *r, const tm_rt_actor_t *a, char *why)
{
    if (tmi_ro_family_busy(r, a->model->family, why) != 0 ||
        tm_rollout_params_busy(r, a->id, why) != 0) {
        return TM_ERR_BUSY;
    }
    if (a->sup.degraded) {
        snprintf(why, TM_ROLLOUT_WHY_MAX,
                 "%s is below its tier or quarantined: a new parameter set "
                 "would be judged for its trouble",
                 a->id);
        return TM_ERR_BUSY;
    }
    return 0;
}

int tm_rollout_params(tm_rollout_t *r, const char *id, const double *params,
                      const double *state, const tm_rollout_opts_t *o,
                      char *why)
{
    tm_rt_actor_t a;
    char key[TMI_RO_KEY_MAX + 1];
    why[0] = '\0';
    if (tm_rt_get(r->rt, id, &a) != 0 || a.remote) {
        snprintf(why, TM_ROLLOUT_WHY_MAX, "unknown actor '%s'", id);
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_ro_params_key(id, key);
    int rc = s_refuse(r, &a, why);
    if (rc != 0) {
        return rc;
    }
    if (!tmi_ro_room(r, key)) {
        snprintf(why, TM_ROLLOUT_WHY_MAX,
                 "no room for another rollout record (%u are kept)",
                 TMI_RO_MAX);
        return TM_ERR_TOO_BIG;
    }
    /* built apart: the actor's last record stays until this one commits */
    tmi_ro_t nr;
    tmi_ro_t *ro = &nr;
    memset(ro, 0, sizeof *ro);
    snprintf(ro->key, sizeof ro->key, "%s", key);
    char *canary = calloc(1, TM_ID_MAX + 1);
    if (canary == NULL) {
        snprintf(why, TM_ROLLOUT_WHY_MAX, "out of memory");
        return TM_ERR_NOMEM;
    }
    const tm_model_t *m = a.model;
    uint64_t now = tm_rt_tick(r->rt);
    snprintf(ro->family, sizeof ro->family, "%s", m->family);
    snprintf(ro->actor, sizeof ro->actor, "%s", id);
    snprintf(ro->version, sizeof ro->version, "%s", m->version);
    ro->fidelity = (uint8_t)m->fidelity;
    snprintf(ro->from, sizeof ro->from, "params@%" PRIu64,
             tm_model_paramset(m, a.params));
    snprintf(ro->to, sizeof ro->to, "params@%" PRIu64,
             tm_model_paramset(m, params));
    ro->o = *o;
    ro->o.canary = 100;
    ro->stage = TMI_RO_SHADOW;
    ro->started = ro->stage_tick = o->at > now ? o->at : now;
    ro->canary = (char(*)[TM_ID_MAX + 1]) canary;
    snprintf(ro->canary[0], TM_ID_MAX + 1, "%s", id);
    ro->n_canary = ro->total = 1;
    ro->np = m->n_params;
    ro->ns = m->n_states;
    memcpy(ro->params, params, m->n_params * sizeof(double));
    memcpy(ro->state, state, m->n_states * sizeof(double));
    rc = ro->stage_tick <= now ? tmi_ro_params_arm(r, ro, why) : 0;
    if (rc != 0) {
        free(canary);
        return rc;
    }
    snprintf(ro->decision, sizeof ro->decision,
             "shadow for %llu ticks from tick %llu",
             (unsigned long long)o->shadow, (unsigned long long)ro->stage_tick);
    char line[TM_ROLLOUT_WHY_MAX];
    tmi_ro_line(ro, line);
    const char *forget[1] = {id}; /* an earlier set's kept record */
    char w[TM_MUT_WHY_MAX];
    rc = tmi_ro_save_forget(r, ro, line, forget, 1, w);
    if (rc == 0 && tmi_ro_install(r, ro) == NULL) {
        rc = TM_ERR_NOMEM; /* committed; the next start reads it */
        snprintf(w, sizeof w, "out of memory for the rollout's record");
    } else if (rc != 0) {
        free(canary); /* one commit: nothing of it was written */
    }
    if (rc != 0) {
        tm_rt_trial_stop(r->rt, id, false);
        snprintf(why, TM_ROLLOUT_WHY_MAX, "%.500s", w);
        return rc;
    }
    tm_log(TM_LOG_INFO, "rollout: %s", line);
    return 0;
}
