/* tm_rollout: versioned rollout and rollback of a family (see
 * tm_rollout.h). */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh.h"
#include "tm_rollout_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_why(char *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_why(char *why, int rc, const char *fmt, ...)
{
    if (why != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, TM_ROLLOUT_WHY_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

tmi_ro_t *tmi_ro_find(tm_rollout_t *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->ro[i].key, key) == 0) {
            return &r->ro[i];
        }
    }
    return NULL;
}

/* What a record's lines name: the actor of a parameter set, else the
 * family. */
static const char *s_head(const tmi_ro_t *ro)
{
    return ro->actor[0] != '\0' ? ro->actor : ro->family;
}

void tmi_ro_line(const tmi_ro_t *ro, char *out)
{
    snprintf(out, TM_ROLLOUT_WHY_MAX, "%.64s %.32s -> %.32s: %.370s",
             s_head(ro), ro->from, ro->to, ro->decision);
}

void tmi_ro_decided(tm_rollout_t *r, const tmi_ro_t *ro, tm_log_level_t level)
{
    char line[TM_ROLLOUT_WHY_MAX];
    char why[TM_MUT_WHY_MAX];
    tmi_ro_line(ro, line);
    tm_log(level, "rollout: %s", line);
    if (tmi_ro_save(r, ro, line, why) != 0) {
        tm_log(TM_LOG_ERROR, "rollout: %s: %s", s_head(ro), why);
    }
}

int tmi_ro_save_forget(tm_rollout_t *r, const tmi_ro_t *ro, const char *reason,
                       const char *const *forget, size_t n_forget, char *why)
{
    tm_wire_buf_t w;
    tm_wire_buf_init(&w);
    tmi_ro_encode(ro, &w);
    int rc = tm_wire_buf_ok(&w);
    if (rc == 0) {
        char w2[TM_MUT_WHY_MAX];
        rc = tm_mut_rollout_record(r->mut, ro->key, w.sbuf.data, w.sbuf.size,
                                   forget, n_forget, reason, w2);
        if (rc != 0) {
            s_why(why, rc, "%s", w2);
        }
    }
    tm_wire_buf_destroy(&w);
    return rc;
}

int tmi_ro_save(tm_rollout_t *r, const tmi_ro_t *ro, const char *reason,
                char *why)
{
    return tmi_ro_save_forget(r, ro, reason, NULL, 0, why);
}

/* ---- the family's actors ----------------------------------------------- */

typedef struct {
    const char *family;
    const char *skip_version; /* NULL: every version */
    char (*ids)[TM_ID_MAX + 1];
    size_t n, cap;
    int rc;
} s_ids_t;

/* Append id; 1 (stop the walk) without memory. */
static int s_push(s_ids_t *c, const char *id)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        void *p = realloc(c->ids, cap * sizeof *c->ids);
        if (p == NULL) {
            c->rc = TM_ERR_NOMEM;
            return 1;
        }
        c->ids = p;
        c->cap = cap;
    }
    snprintf(c->ids[c->n++], TM_ID_MAX + 1, "%s", id);
    return 0;
}

static int s_collect(const tm_rt_actor_t *a, void *arg)
{
    s_ids_t *c = arg;
    if (strcmp(a->model->family, c->family) != 0 ||
        (c->skip_version != NULL &&
         strcmp(a->model->version, c->skip_version) == 0)) {
        return 0;
    }
    return s_push(c, a->id);
}

/* FNV-1a of an id: the canary's order, the same on every run. */
static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static int s_by_hash(const void *a, const void *b)
{
    uint64_t ha = s_hash(a), hb = s_hash(b);
    return ha < hb ? -1 : ha > hb ? 1 : strcmp(a, b);
}

/* The model of family@version at a's tier. */
static const tm_model_t *s_target(const tm_rt_actor_t *a, const char *version)
{
    const tm_model_t *m = NULL;
    return tm_models_find(a->model->family, version, a->model->fidelity, &m) ==
                   0
               ? m
               : NULL;
}

/* ---- records kept of switched actors ------------------------------------ */

typedef struct {
    char prefix[TM_MUT_ROLLOUT_KEY_MAX];
    s_ids_t ids;
} s_kept_t;

/* The ids whose record before a switch is kept (keys prefix + id). */
static int s_kept_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    (void)val;
    (void)vlen;
    s_kept_t *k = arg;
    size_t pre = strlen(k->prefix);
    if (klen <= pre || klen - pre > TM_ID_MAX ||
        memcmp(key, k->prefix, pre) != 0) {
        return 0;
    }
    char id[TM_ID_MAX + 1];
    memcpy(id, (const char *)key + pre, klen - pre);
    id[klen - pre] = '\0';
    return s_push(&k->ids, id);
}

/* The ids whose record before a switch is kept for the rollout of key
 * (k->ids.ids to free). */
static int s_kept(tm_rollout_t *r, const char *key, s_kept_t *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->prefix, sizeof k->prefix, "%s%s/prev/", TM_MUT_ROLLOUT_KEY,
             key);
    int rc = tm_store_foreach(r->store, TM_DB_CATALOG, s_kept_cb, k);
    return rc ? rc : k->ids.rc;
}

/* Whether the catalog has family@version (at any tier). */
static bool s_version_known(const char *family, const char *version)
{
    const tm_model_t *m = NULL;
    for (int t = 0; t < TM_FIDELITY_COUNT; t++) {
        if (tm_models_find(family, version, (tm_fidelity_t)t, &m) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- start -------------------------------------------------------------- */

/* Every actor of the collected list has the new version at its tier. */
static int s_check_tiers(tm_rollout_t *r, const s_ids_t *c, const char *family,
                         const char *version, char *why)
{
    for (size_t i = 0; i < c->n; i++) {
        tm_rt_actor_t a;
        if (tm_rt_get(r->rt, c->ids[i], &a) == 0 &&
            s_target(&a, version) == NULL) {
            return s_why(why, TM_ERR_UNKNOWN_FIDELITY,
                         "%s@%s has no %s tier, which %s runs", family, version,
                         tm_fidelity_name(a.model->fidelity), c->ids[i]);
        }
    }
    return 0;
}

/* A new record at the end of r->ro; NULL when TMI_RO_MAX are kept or
 * without memory. */
static tmi_ro_t *s_append(tm_rollout_t *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        void *p =
            r->n < TMI_RO_MAX ? realloc(r->ro, cap * sizeof *r->ro) : NULL;
        if (p == NULL) {
            return NULL;
        }
        r->ro = p;
        r->cap = cap;
    }
    tmi_ro_t *ro = &r->ro[r->n++];
    memset(ro, 0, sizeof *ro);
    return ro;
}

/* key's record emptied for a new rollout (its old one, or a new one);
 * NULL when TMI_RO_MAX are kept or without memory. Pointers to other
 * records may move. */
static tmi_ro_t *s_slot(tm_rollout_t *r, const char *key)
{
    tmi_ro_t *ro = tmi_ro_find(r, key);
    if (ro != NULL) {
        free(ro->canary);
        memset(ro, 0, sizeof *ro);
    } else {
        ro = s_append(r);
    }
    if (ro != NULL) {
        snprintf(ro->key, sizeof ro->key, "%s", key);
    }
    return ro;
}

tmi_ro_t *tmi_ro_install(tm_rollout_t *r, tmi_ro_t *nr)
{
    tmi_ro_t *ro = s_slot(r, nr->key);
    if (ro == NULL) {
        free(nr->canary);
        nr->canary = NULL;
        return NULL;
    }
    *ro = *nr;
    tmi_ro_recount(r);
    return ro;
}

void tmi_ro_recount(tm_rollout_t *r)
{
    r->n_active = 0;
    for (size_t i = 0; i < r->n; i++) {
        r->n_active += tmi_ro_active(&r->ro[i]);
    }
}

bool tmi_ro_room(tm_rollout_t *r, const char *key)
{
    return tmi_ro_find(r, key) != NULL || r->n < TMI_RO_MAX;
}

/* Start the canary's trials once the stage's first tick is reached
 * (a rollout may be set for a later tick: every node of a mesh starts at
 * the same one). TM_ERR_* with why; no trial left on error. */
static int s_arm(tm_rollout_t *r, tmi_ro_t *ro, char *why)
{
    if (ro->armed || tm_rt_tick(r->rt) < ro->stage_tick) {
        return 0;
    }
    if (ro->actor[0] != '\0') {
        return tmi_ro_params_arm(r, ro, why);
    }
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_rt_actor_t a;
        int rc = tm_rt_get(r->rt, ro->canary[i], &a);
        if (rc == TM_ERR_UNKNOWN_ACTOR) {
            continue; /* killed since the rollout was set */
        }
        rc = rc ? rc
                : tm_rt_trial_start(r->rt, ro->canary[i], s_target(&a, ro->to));
        if (rc != 0) {
            for (size_t j = 0; j < i; j++) {
                tm_rt_trial_stop(r->rt, ro->canary[j], false);
            }
            return s_why(why, rc, "cannot try %s@%s on %s: %s", ro->family,
                         ro->to, ro->canary[i], tm_err_str(rc));
        }
    }
    ro->armed = true;
    return 0;
}

int tmi_ro_family_busy(tm_rollout_t *r, const char *family, char *why)
{
    const tmi_ro_t *old = tmi_ro_find(r, family);
    if (old == NULL || !tmi_ro_active(old)) {
        return 0;
    }
    return s_why(why, TM_ERR_BUSY,
                 "a rollout of %s to %s is in its %s stage; wait or "
                 "`rollback %s`",
                 family, old->to, tmi_ro_stage_name(old->stage), family);
}

int tm_rollout_check(tm_rollout_t *r, const char *family, const char *version,
                     char *why)
{
    why[0] = '\0';
    if (!s_version_known(family, version)) {
        return s_why(why, TM_ERR_UNKNOWN_VERSION,
                     "no model %s@%s in the catalog", family, version);
    }
    if (tmi_ro_family_busy(r, family, why) != 0) {
        return TM_ERR_BUSY;
    }
    if (tmi_ro_params_busy(r, family)) {
        return s_why(why, TM_ERR_BUSY,
                     "a new parameter set of an actor of %s is being rolled "
                     "out (rollout status %s); wait or roll it back",
                     family, family);
    }
    return 0;
}

int tm_rollout_start(tm_rollout_t *r, const char *family, const char *version,
                     const tm_rollout_opts_t *o, size_t *canary, size_t *total,
                     char *why)
{
    int rc = tm_rollout_check(r, family, version, why);
    if (rc != 0) {
        return rc;
    }
    s_ids_t c = {.family = family, .skip_version = version};
    tm_rt_foreach(r->rt, s_collect, &c);
    rc = c.rc;
    if (rc == 0 && c.n == 0) {
        rc = s_why(why, TM_ERR_NOT_FOUND,
                   "no actor of %s on this node runs another version than %s",
                   family, version);
    }
    rc = rc ? rc : s_check_tiers(r, &c, family, version, why);
    if (rc == 0 && !tmi_ro_room(r, family)) {
        rc = s_why(why, TM_ERR_TOO_BIG, "%u rollout records are kept",
                   TMI_RO_MAX);
    }
    /* built apart: the family's record stays as it is until the new one
     * is committed */
    tmi_ro_t nr;
    tmi_ro_t *ro = &nr;
    memset(ro, 0, sizeof *ro);
    snprintf(ro->key, sizeof ro->key, "%s", family);
    if (rc != 0) {
        free(c.ids);
        return rc;
    }
    qsort(c.ids, c.n, sizeof *c.ids, s_by_hash);
    /* the canary: each healthy actor whose id hashes into the first
     * PERCENT of 100 buckets - the same actors wherever they run - or,
     * when none does here, the first healthy one in hash order (one below
     * its tier or quarantined would be judged for its own trouble) */
    size_t picked = 0;
    tm_rt_actor_t a;
    for (int pass = 0; pass < 2 && picked == 0; pass++) {
        for (size_t i = 0; i < c.n && (pass == 0 || picked == 0); i++) {
            if (tm_rt_get(r->rt, c.ids[i], &a) != 0 || a.sup.degraded ||
                (pass == 0 && s_hash(c.ids[i]) % 100 >= o->canary)) {
                continue;
            }
            char t[TM_ID_MAX + 1];
            memcpy(t, c.ids[i], sizeof t);
            memmove(c.ids[picked + 1], c.ids[picked],
                    (i - picked) * sizeof *c.ids);
            memcpy(c.ids[picked++], t, sizeof t);
        }
    }
    if (picked == 0) {
        free(c.ids);
        return s_why(why, TM_ERR_BUSY,
                     "every actor of %s here is degraded or quarantined: no "
                     "canary",
                     family);
    }
    tm_rt_get(r->rt, c.ids[0], &a);
    size_t n = picked;
    s_kept_t k;
    rc = s_kept(r, family, &k); /* an earlier rollout's: forgotten */
    if (rc != 0) {
        free(c.ids);
        free(k.ids.ids);
        return s_why(why, rc, "cannot read the rollout records: %s",
                     tm_err_str(rc));
    }
    snprintf(ro->family, sizeof ro->family, "%s", family);
    snprintf(ro->from, sizeof ro->from, "%s", a.model->version);
    snprintf(ro->to, sizeof ro->to, "%s", version);
    ro->o = *o;
    ro->stage = TMI_RO_SHADOW;
    ro->started = ro->stage_tick =
        o->at > tm_rt_tick(r->rt) ? o->at : tm_rt_tick(r->rt);
    ro->canary = c.ids; /* the first n */
    ro->n_canary = n;
    ro->total = c.n;
    ro->mesh_tell = true;
    rc = s_arm(r, ro, why);
    if (rc != 0) {
        free(k.ids.ids);
        free(ro->canary); /* nothing was committed */
        return rc;
    }
    char reason[TM_ROLLOUT_WHY_MAX];
    snprintf(ro->decision, sizeof ro->decision,
             "shadow on %zu of %zu actors for %llu ticks from tick %llu",
             ro->n_canary, c.n, (unsigned long long)o->shadow,
             (unsigned long long)ro->stage_tick);
    tmi_ro_line(ro, reason);
    const char *forget[64];
    size_t nf = 0;
    for (size_t i = 0; rc == 0 && i < k.ids.n; i += nf) {
        /* in commits of at most 64 deletes; the last carries the record */
        nf = k.ids.n - i < 64 ? k.ids.n - i : 64;
        for (size_t j = 0; j < nf; j++) {
            forget[j] = k.ids.ids[i + j];
        }
        rc = tmi_ro_save_forget(r, ro, reason, forget, nf, why);
    }
    free(k.ids.ids);
    rc = rc ? rc : tmi_ro_save(r, ro, reason, why);
    if (rc != 0) {
        for (size_t i = 0; i < ro->n_canary; i++) {
            tm_rt_trial_stop(r->rt, ro->canary[i], false);
        }
        ro->stage = TMI_RO_ROLLED_BACK; /* a part may have been committed */
        tmi_ro_install(r, ro);
        return rc;
    }
    if (tmi_ro_install(r, ro) == NULL) {
        for (size_t i = 0; i < n; i++) {
            tm_rt_trial_stop(r->rt, c.ids[i], false);
        }
        return s_why(why, TM_ERR_NOMEM, "out of memory for the rollout");
    }
    tm_log(TM_LOG_INFO, "rollout: %s", reason);
    *canary = ro->n_canary;
    *total = c.n;
    return 0;
}

/* ---- stages ------------------------------------------------------------- */

void tmi_ro_roll_back(tm_rollout_t *r, tmi_ro_t *ro, const char *decision)
{
    char why[TM_MUT_WHY_MAX];
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_rt_trial_stop(r->rt, ro->canary[i], false);
        if (ro->stage == TMI_RO_CANARY &&
            tm_mut_rollout_revert(r->mut, ro->canary[i], ro->key, NULL,
                                  ro->actor[0] != '\0', decision, why) != 0) {
            tm_log(TM_LOG_ERROR, "rollout: %s: %s", ro->canary[i], why);
        }
    }
    ro->stage = TMI_RO_ROLLED_BACK;
    ro->armed = false;
    snprintf(ro->decision, sizeof ro->decision, "rolled back: %s", decision);
    if (ro->mesh_tell && r->mesh != NULL) {
        /* every node's part of the rollout goes back too */
        const char *argv[] = {"rollback", ro->family};
        tm_mesh_broadcast(r->mesh, 2, argv);
    }
    tmi_ro_decided(r, ro, TM_LOG_WARN);
}

/* One canary trial's scores into the worst ones. An output that
 * measurements scored is judged against them, as the excess of the new
 * version's errors over the live version's: a version meant to fit the
 * plant better differs from the live one by design, so the difference
 * between them says nothing there. Other outputs are judged against the
 * live version. */
static void s_score(tmi_ro_t *ro, const tm_rt_trial_t *t)
{
    for (uint32_t j = 0; j < t->n_outputs; j++) {
        const char *name = t->model->outputs[j].name;
        if (t->n_measured[j] == 0) {
            if (t->rmse[j] > ro->rmse || t->mape[j] > ro->mape) {
                snprintf(ro->worst, sizeof ro->worst, "%s", name);
            }
            ro->rmse = fmax(ro->rmse, t->rmse[j]);
            ro->mape = fmax(ro->mape, t->mape[j]);
            continue;
        }
        double er = t->meas_rmse[j] - t->live_meas_rmse[j];
        double em = t->meas_mape[j] - t->live_meas_mape[j];
        if (ro->m_n == 0 || er > ro->m_rmse || em > ro->m_mape) {
            snprintf(ro->m_worst, sizeof ro->m_worst, "%s", name);
        }
        ro->m_rmse = ro->m_n == 0 ? er : fmax(ro->m_rmse, er);
        ro->m_mape = ro->m_n == 0 ? em : fmax(ro->m_mape, em);
        ro->m_n += t->n_measured[j];
    }
}

/* Over budget at the end of the shadow stage: why into d, true. */
static bool s_over(const tmi_ro_t *ro, char *d, size_t cap)
{
    if (ro->rmse > ro->o.rmse || ro->mape > ro->o.mape) {
        snprintf(d, cap,
                 "over budget: RMSE %.6g (budget %.6g), MAPE %.4g %% (budget "
                 "%.4g %%), worst output %s",
                 ro->rmse, ro->o.rmse, ro->mape, ro->o.mape, ro->worst);
        return true;
    }
    if (ro->m_n > 0 && (ro->m_rmse > ro->o.rmse || ro->m_mape > ro->o.mape)) {
        snprintf(d, cap,
                 "over budget against %llu measurements: RMSE %+.6g over "
                 "the live version's (budget %.6g), MAPE %+.4g %% (budget "
                 "%.4g %%), worst output %s",
                 (unsigned long long)ro->m_n, ro->m_rmse, ro->o.rmse,
                 ro->m_mape, ro->o.mape, ro->m_worst);
        return true;
    }
    return false;
}

/* Shadow stage: a failed trial rolls back at once; at the end of the
 * stage the worst scores decide. */
static void s_shadow(tm_rollout_t *r, tmi_ro_t *ro, uint64_t tick)
{
    char d[TM_ROLLOUT_WHY_MAX];
    size_t stepped = 0;
    ro->rmse = ro->mape = 0.0;
    ro->m_n = 0;
    ro->m_rmse = ro->m_mape = 0.0;
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_rt_trial_t t;
        if (tm_rt_trial_get(r->rt, ro->canary[i], &t) != 0) {
            continue; /* killed since */
        }
        stepped += t.steps > 0;
        if (t.failed) {
            snprintf(d, sizeof d, "%s@%s on %s failed at tick %llu (%s)",
                     ro->family, ro->to, ro->canary[i],
                     (unsigned long long)t.failed_at,
                     tm_step_status_name(t.status));
            tmi_ro_roll_back(r, ro, d);
            return;
        }
        s_score(ro, &t);
    }
    if (tick < ro->stage_tick + ro->o.shadow) {
        return;
    }
    if (stepped == 0) {
        tmi_ro_roll_back(r, ro,
                         "no canary actor was stepped in shadow (killed, "
                         "quarantined or not due): no evidence");
        return;
    }
    if (s_over(ro, d, sizeof d)) {
        tmi_ro_roll_back(r, ro, d);
        return;
    }
    if (ro->actor[0] != '\0' && !tmi_ro_params_fits(r, ro, d, sizeof d)) {
        tmi_ro_roll_back(r, ro, d); /* its model changed meanwhile */
        return;
    }
    char why[TM_MUT_WHY_MAX];
    size_t switched = 0;
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_rt_trial_t t;
        if (tm_rt_trial_get(r->rt, ro->canary[i], &t) != 0) {
            continue;
        }
        if (tm_mut_rollout_switch(r->mut, ro->canary[i], NULL, true, ro->key,
                                  "canary of the rollout", why) == 0) {
            switched++;
        } else {
            tm_log(TM_LOG_WARN, "rollout: %s: %s", ro->canary[i], why);
        }
    }
    ro->stage = TMI_RO_CANARY;
    if (switched == 0) {
        tmi_ro_roll_back(r, ro, "no canary actor could switch");
        return;
    }
    ro->stage_tick = tick;
    char meas[160] = "";
    if (ro->m_n > 0) {
        snprintf(meas, sizeof meas,
                 "; against %llu measurements RMSE %+.6g, MAPE %+.4g %% over "
                 "the live version's",
                 (unsigned long long)ro->m_n, ro->m_rmse, ro->m_mape);
    }
    snprintf(ro->decision, sizeof ro->decision,
             "within budget (RMSE %.6g, MAPE %.4g %%%s): %zu canary actors "
             "switched",
             ro->rmse, ro->mape, meas, ro->n_canary);
    tmi_ro_decided(r, ro, TM_LOG_INFO);
}

/* Canary stage: a fault or a fallback among the switched actors rolls
 * back; at the end of the stage every other actor switches. */
static void s_canary(tm_rollout_t *r, tmi_ro_t *ro, uint64_t tick)
{
    char d[TM_ROLLOUT_WHY_MAX];
    if (tick < ro->stage_tick + ro->o.shadow) {
        return; /* decided at the stage's end only: a tick of the mesh's */
    }
    for (size_t i = 0; i < ro->n_canary; i++) {
        tm_rt_actor_t a;
        if (tm_rt_get(r->rt, ro->canary[i], &a) != 0) {
            continue;
        }
        if (a.sup.degraded || a.health.last_fault > ro->stage_tick) {
            snprintf(d, sizeof d, "%s faulted at tick %llu on %s@%s",
                     ro->canary[i], (unsigned long long)a.health.last_fault,
                     ro->family, ro->to);
            tmi_ro_roll_back(r, ro, d);
            return;
        }
    }
    if (ro->actor[0] != '\0') {
        tmi_ro_params_done(r, ro);
        return;
    }
    s_ids_t c = {.family = ro->family, .skip_version = ro->to};
    tm_rt_foreach(r->rt, s_collect, &c);
    char why[TM_MUT_WHY_MAX];
    size_t moved = 0;
    for (size_t i = 0; i < c.n; i++) {
        tm_rt_actor_t a;
        const tm_model_t *m = NULL;
        if (tm_rt_get(r->rt, c.ids[i], &a) == 0 &&
            (m = s_target(&a, ro->to)) != NULL &&
            tm_mut_rollout_switch(r->mut, c.ids[i], m, false, ro->family,
                                  "promoted by the rollout", why) == 0) {
            moved++;
        } else {
            tm_log(TM_LOG_WARN, "rollout: %s not switched: %s", c.ids[i],
                   m == NULL ? "no such tier" : why);
        }
    }
    free(c.ids);
    ro->stage = TMI_RO_DONE;
    snprintf(ro->decision, sizeof ro->decision,
             "promoted: %zu more actors switched after %llu healthy canary "
             "ticks",
             moved, (unsigned long long)ro->o.shadow);
    tmi_ro_decided(r, ro, TM_LOG_INFO);
}

uint64_t tm_rollout_next_stop(void *arg)
{
    const tm_rollout_t *r = arg;
    uint64_t now = tm_rt_tick(r->rt);
    uint64_t next = 0;
    for (size_t i = 0; r->n_active > 0 && i < r->n; i++) {
        const tmi_ro_t *ro = &r->ro[i];
        uint64_t end = ro->stage == TMI_RO_SHADOW && !ro->armed
                           ? ro->stage_tick
                           : ro->stage_tick + ro->o.shadow;
        if (tmi_ro_active(ro) && end > now && (next == 0 || end < next)) {
            next = end;
        }
    }
    return next;
}

/* Whether the work after `tick` may commit to the store: a shadow stage
 * to arm (a failure rolls back), a stage that ends, a failed trial. */
static bool s_commits(tm_rollout_t *r, const tmi_ro_t *ro, uint64_t tick)
{
    if (ro->stage != TMI_RO_SHADOW && ro->stage != TMI_RO_CANARY) {
        return false;
    }
    if ((ro->stage == TMI_RO_SHADOW && !ro->armed && tick >= ro->stage_tick) ||
        tick >= ro->stage_tick + ro->o.shadow) {
        return true;
    }
    for (size_t i = 0; ro->stage == TMI_RO_SHADOW && i < ro->n_canary; i++) {
        tm_rt_trial_t t;
        if (tm_rt_trial_get(r->rt, ro->canary[i], &t) == 0 && t.failed) {
            return true;
        }
    }
    return false;
}

static void s_stages(tm_rollout_t *r, uint64_t tick)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->ro[i].stage == TMI_RO_SHADOW && !r->ro[i].armed) {
            char why[TM_ROLLOUT_WHY_MAX];
            if (s_arm(r, &r->ro[i], why) != 0) {
                tmi_ro_roll_back(r, &r->ro[i], why);
            }
        } else if (r->ro[i].stage == TMI_RO_SHADOW) {
            s_shadow(r, &r->ro[i], tick);
        } else if (r->ro[i].stage == TMI_RO_CANARY) {
            s_canary(r, &r->ro[i], tick);
        }
    }
    tmi_ro_recount(r);
}

static void s_after_tick(void *self, uint64_t tick)
{
    tm_rollout_t *r = self;
    bool commits = false;
    if (r->n_active == 0) {
        return; /* nothing in a stage: finished records are not looked at */
    }
    for (size_t i = 0; i < r->n && !commits; i++) {
        commits = s_commits(r, &r->ro[i], tick);
    }
    if (commits && r->busy != NULL && r->busy(r->busy_arg)) {
        r->deferred = true; /* the clock waits (tm_rollout_ready) */
        r->deferred_tick = tick;
        r->deferrals++;
        return;
    }
    s_stages(r, tick);
}

void tm_rollout_writer(tm_rollout_t *r, bool (*busy)(void *arg), void *arg)
{
    r->busy = busy;
    r->busy_arg = arg;
}

bool tm_rollout_waiting(const tm_rollout_t *r)
{
    return r != NULL && r->deferred;
}

void tm_rollout_run_waiting(tm_rollout_t *r)
{
    if (r == NULL || !r->deferred ||
        (r->busy != NULL && r->busy(r->busy_arg))) {
        return;
    }
    r->deferred = false;
    s_stages(r, r->deferred_tick);
}

bool tm_rollout_ready(void *arg, uint64_t next)
{
    (void)next;
    return !((const tm_rollout_t *)arg)->deferred;
}

/* ---- rollback ----------------------------------------------------------- */

/* Move the actors of the rollout of key (of family) back; *n gets how
 * many moved. With `to`, every actor of family not on it moves to it. */
static int s_revert_all(tm_rollout_t *r, const char *key, const char *family,
                        const char *to, const char *reason, size_t *n,
                        char *why)
{
    s_kept_t k;
    bool params =
        strncmp(key, TMI_RO_PARAMS_KEY, sizeof TMI_RO_PARAMS_KEY - 1) == 0;
    int rc = s_kept(r, key, &k);
    s_ids_t others = {.family = family, .skip_version = to};
    if (rc == 0 && to != NULL) {
        tm_rt_foreach(r->rt, s_collect, &others);
        rc = others.rc;
    }
    char w[TM_MUT_WHY_MAX];
    for (size_t i = 0; rc == 0 && i < k.ids.n; i++) {
        /* kept records: their version and state as of the switch */
        tm_rt_actor_t a;
        if (tm_rt_get(r->rt, k.ids.ids[i], &a) == 0 &&
            tm_mut_rollout_revert(r->mut, k.ids.ids[i], key, NULL, params,
                                  reason, w) == 0) {
            (*n)++;
        }
    }
    for (size_t i = 0; rc == 0 && i < others.n; i++) {
        tm_rt_actor_t a;
        const tm_model_t *m = NULL;
        if (tm_rt_get(r->rt, others.ids[i], &a) != 0 ||
            strcmp(a.model->version, to) == 0) {
            continue; /* put back above */
        }
        m = s_target(&a, to);
        rc = m == NULL
                 ? s_why(why, TM_ERR_UNKNOWN_FIDELITY,
                         "%s@%s has no %s tier, which %s runs", family, to,
                         tm_fidelity_name(a.model->fidelity), others.ids[i])
                 : tm_mut_rollout_revert(r->mut, others.ids[i], key, m, false,
                                         reason, w);
        if (rc == 0) {
            (*n)++;
        } else if (m != NULL) {
            s_why(why, rc, "%s", w);
        }
    }
    free(k.ids.ids);
    free(others.ids);
    return rc;
}

int tm_rollout_rollback(tm_rollout_t *r, const char *family, const char *to,
                        size_t *n, char *why)
{
    *n = 0;
    why[0] = '\0';
    tmi_ro_t *ro = tmi_ro_find(r, family);
    char key[TMI_RO_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s", family);
    if (ro == NULL) {
        /* an actor's id: its parameter set's rollout */
        tmi_ro_params_key(family, key);
        ro = tmi_ro_find(r, key);
        if (ro != NULL && to != NULL) {
            return s_why(why, TM_ERR_USAGE,
                         "%s is an actor: `rollback %s` puts its parameter "
                         "set back; --to names a version of a family",
                         family, family);
        }
        family = ro != NULL ? ro->family : family;
        if (ro == NULL) {
            snprintf(key, sizeof key, "%s", family);
        }
    }
    if (to != NULL && !s_version_known(family, to)) {
        return s_why(why, TM_ERR_UNKNOWN_VERSION,
                     "no model %s@%s in the catalog", family, to);
    }
    if (ro == NULL && to == NULL) {
        return s_why(why, TM_ERR_NOT_FOUND,
                     "no rollout of %s on this node; `rollback %s --to "
                     "VERSION` moves its actors to a version",
                     family, family);
    }
    char reason[TM_ROLLOUT_WHY_MAX];
    snprintf(reason, sizeof reason, "operator's rollback%s%s", to ? " to " : "",
             to ? to : "");
    if (ro != NULL && tmi_ro_active(ro)) {
        size_t switched = ro->stage == TMI_RO_CANARY ? ro->n_canary : 0;
        ro->mesh_tell = false; /* the console's request goes to the mesh */
        tmi_ro_roll_back(r, ro, reason);
        *n = switched;
    }
    int rc = s_revert_all(r, key, family, to, reason, n, why);
    if (rc == 0 && ro != NULL && ro->stage != TMI_RO_ROLLED_BACK) {
        ro->stage = TMI_RO_ROLLED_BACK;
        snprintf(ro->decision, sizeof ro->decision,
                 "rolled back: %.400s, %zu actors", reason, *n);
        char line[TM_ROLLOUT_WHY_MAX];
        tmi_ro_line(ro, line);
        rc = tmi_ro_save(r, ro, line, why);
    }
    tmi_ro_recount(r);
    tm_log(TM_LOG_INFO, "rollout: %s: %s, %zu actors moved", family, reason,
           *n);
    if (rc != 0 && why[0] == '\0') {
        s_why(why, rc, "rolling %s back: %s", family, tm_err_str(rc));
    }
    return rc;
}

/* ---- open, service ------------------------------------------------------ */

static int s_load_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    tm_rollout_t *r = arg;
    size_t pre = strlen(TM_MUT_ROLLOUT_KEY);
    if (klen <= pre || memcmp(key, TM_MUT_ROLLOUT_KEY, pre) != 0 ||
        memchr((const char *)key + pre, '/', klen - pre) != NULL) {
        return 0; /* another kind of record, or an actor's kept record */
    }
    tmi_ro_t *ro = s_append(r);
    if (ro == NULL) {
        tm_log(TM_LOG_ERROR,
               "rollout: more than %u rollout records, or no "
               "memory: %.*s not loaded",
               TMI_RO_MAX, (int)klen, (const char *)key);
        return 0;
    }
    if (tmi_ro_decode(val, vlen, ro) != 0 ||
        strncmp(ro->key, (const char *)key + pre, klen - pre) != 0 ||
        ro->key[klen - pre] != '\0') {
        free(ro->canary);
        r->n--;
        tm_log(TM_LOG_ERROR, "rollout: a damaged rollout record (%.*s)",
               (int)klen, (const char *)key);
        return 0;
    }
    ro->mesh_tell = ro->actor[0] == '\0'; /* a set's is this node's alone */
    return 0;
}

/* A rollout that was in its shadow or canary stage when the node stopped
 * starts that stage again: trials are not kept, switches are. */
static void s_resume(tm_rollout_t *r, tmi_ro_t *ro)
{
    ro->stage_tick = tm_rt_tick(r->rt);
    char why[TM_ROLLOUT_WHY_MAX];
    if (ro->stage == TMI_RO_SHADOW && s_arm(r, ro, why) != 0) {
        tm_log(TM_LOG_WARN, "rollout: %s: %s", s_head(ro), why);
    }
    tm_log(TM_LOG_INFO, "rollout: %s %s -> %s: %s stage started again",
           s_head(ro), ro->from, ro->to, tmi_ro_stage_name(ro->stage));
}

int tm_rollout_open(tm_rollout_t **out, tm_rt_t *rt, tm_mut_t *mut,
                    tm_store_t *store)
{
    tm_rollout_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return TM_ERR_NOMEM;
    }
    r->rt = rt;
    r->mut = mut;
    r->store = store;
    int rc = tm_store_foreach(store, TM_DB_CATALOG, s_load_cb, r);
    if (rc != 0) {
        for (size_t i = 0; i < r->n; i++) {
            free(r->ro[i].canary);
        }
        free(r->ro);
        free(r);
        return rc;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (tmi_ro_active(&r->ro[i])) {
            s_resume(r, &r->ro[i]);
        }
    }
    tmi_ro_recount(r);
    *out = r;
    return 0;
}

static void s_close(void *self)
{
    tm_rollout_t *r = self;
    for (size_t i = 0; i < r->n; i++) {
        free(r->ro[i].canary);
    }
    free(r->ro);
    free(r);
}

void tm_rollout_set_mesh(tm_rollout_t *r, tm_mesh_t *mesh)
{
    r->mesh = mesh;
}

static uint64_t s_deferrals(void *self)
{
    return ((const tm_rollout_t *)self)->deferrals;
}

static bool s_deferred(void *self)
{
    return ((const tm_rollout_t *)self)->deferred;
}

/* rollout.deferred: decisions that waited for a checkpoint in flight;
 * rollout.waiting: one waits now (the clock with it). */
static int s_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "rollout.deferred", s_deferrals, self);
    return rc ? rc
              : tm_stats_add_bool(reg, "rollout.waiting", s_deferred, self);
}

/* A decision still waiting for the writer is taken now, before the
 * final checkpoint, so that the node stops at its tick with the same
 * decision as the mesh's other nodes: its commit waits for a checkpoint
 * in flight (the mutation path's barrier; the loop has stopped). */
static void s_stop(void *self)
{
    tm_rollout_t *r = self;
    if (r->deferred) {
        r->deferred = false;
        s_stages(r, r->deferred_tick);
    }
}

tm_service_t tm_rollout_service(tm_rollout_t *r)
{
    return (tm_service_t){.name = "rollout",
                          .self = r,
                          .after_tick = s_after_tick,
                          .stats = s_stats,
                          .stop = s_stop,
                          .close = s_close};
}
