/* tm_rt_super: supervision of actors - fallback to a lower tier within the
 * faulting tick, the target tier in shadow and its promotion back, restart
 * intensity and quarantine, pinned tiers (see tm_rt.h, "supervision").
 *
 * Cost. Only actors that faulted in a tick and actors with a supervision
 * record are visited, on the control thread after the workers finished
 * the tick; a mesh without faults pays one comparison per tick. Records
 * are few (actors in trouble or pinned), kept in one array; an actor
 * points at its record.
 *
 * Determinism. Every decision reads only model values (statuses, states,
 * inputs) and the tick, and each actor's handling is independent of every
 * other's (a re-step reads the inputs gathered for the tick, which come
 * from earlier ticks), so results do not depend on visiting order,
 * placement or worker count. Events are sorted by (tick, id, kind).
 */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tm_rt_supervise(tm_rt_t *rt, const tm_rt_supervisor_t *sup)
{
    if (sup == NULL) {
        rt->has_sup = false;
        return 0;
    }
    if (sup->tier == NULL || sup->policy == NULL) {
        return TM_ERR_INVAL;
    }
    rt->sup_cfg = *sup;
    rt->has_sup = true;
    return 0;
}

size_t tm_rt_events(const tm_rt_t *rt, const tm_rt_event_t **events,
                    uint64_t *dropped)
{
    if (events != NULL) {
        *events = rt->events;
    }
    if (dropped != NULL) {
        *dropped = rt->events_dropped;
    }
    return rt->n_events;
}

void tmi_rt_note_fault(tm_rt_t *rt, uint32_t a)
{
    if (!rt->has_sup) {
        return;
    }
    if (tmi_rt_grow((void **)&rt->faulted, &rt->cap_faulted, rt->n_faulted + 1,
                    sizeof *rt->faulted) != 0) {
        rt->faulted_dropped++; /* held, as without a supervisor */
        return;
    }
    rt->faulted[rt->n_faulted++] = a;
}

/* ---- records ------------------------------------------------------------ */

static tmi_rt_sup_t *s_sup(tm_rt_t *rt, uint32_t a)
{
    uint32_t i = rt->actors[a].sup;
    return i == TMI_RT_NONE ? NULL : &rt->sups[i];
}

tmi_rt_sup_t *tmi_rt_sup_find(tm_rt_t *rt, uint32_t a)
{
    return s_sup(rt, a);
}

static tmi_rt_group_t *s_group(const tm_rt_t *rt, uint32_t a)
{
    return rt->groups[rt->actors[a].group];
}

tmi_rt_sup_t *tmi_rt_sup_make(tm_rt_t *rt, uint32_t a)
{
    tmi_rt_sup_t *sp = s_sup(rt, a);
    if (sp != NULL) {
        return sp;
    }
    if (tmi_rt_grow((void **)&rt->sups, &rt->cap_sups, rt->n_sups + 1,
                    sizeof *rt->sups) != 0) {
        return NULL;
    }
    sp = &rt->sups[rt->n_sups];
    memset(sp, 0, sizeof *sp);
    sp->actor = a;
    sp->target = (uint8_t)s_group(rt, a)->model->fidelity;
    rt->actors[a].sup = (uint32_t)rt->n_sups++;
    return sp;
}

void tmi_rt_sup_drop(tm_rt_t *rt, uint32_t a)
{
    uint32_t i = rt->actors[a].sup;
    if (i == TMI_RT_NONE) {
        return;
    }
    rt->actors[a].sup = TMI_RT_NONE;
    size_t last = rt->n_sups - 1;
    if (i != last) {
        rt->sups[i] = rt->sups[last];
        rt->actors[rt->sups[i].actor].sup = i;
    }
    rt->n_sups--;
}

void tmi_rt_sup_tidy(tm_rt_t *rt, uint32_t a)
{
    const tmi_rt_sup_t *sp = s_sup(rt, a);
    if (sp != NULL && !sp->pinned && !sp->quarantined && sp->shadow == NULL &&
        sp->n_low == 0 && sp->resid_run == 0 &&
        s_group(rt, a)->model->fidelity == sp->target) {
        tmi_rt_sup_drop(rt, a);
    }
}

void tmi_rt_sup_view(const tm_rt_t *rt, uint32_t a, tm_rt_sup_t *v)
{
    const tmi_rt_group_t *g = s_group(rt, a);
    memset(v, 0, sizeof *v);
    v->target = g->model->fidelity;
    v->quarantined = g->frozen;
    uint32_t i = rt->actors[a].sup;
    if (i != TMI_RT_NONE) {
        const tmi_rt_sup_t *sp = &rt->sups[i];
        v->target = (tm_fidelity_t)sp->target;
        v->pinned = sp->pinned;
        v->quarantined = sp->quarantined;
        v->shadow = sp->shadow;
        v->seeded = sp->seeded;
        v->healthy = sp->healthy;
        v->shadow_state = sp->shadow_state;
        v->n_low = sp->n_low;
        v->low = sp->low;
        v->resid_run = sp->resid_run;
        v->shadow_y = sp->shadow != NULL && sp->shadow_y;
        v->shadow_out = sp->shadow_out;
    }
    v->degraded = v->quarantined || g->model->fidelity > v->target ||
                  (g->remote && rt->actors[a].remote_degraded);
}

static bool s_degraded(const tm_rt_t *rt, uint32_t a)
{
    const tmi_rt_group_t *g = s_group(rt, a);
    if (g->remote) {
        return rt->actors[a].remote_degraded;
    }
    uint32_t i = rt->actors[a].sup;
    if (i == TMI_RT_NONE) {
        return g->frozen;
    }
    const tmi_rt_sup_t *sp = &rt->sups[i];
    return sp->quarantined || g->model->fidelity > sp->target;
}

bool tm_rt_degraded(const tm_rt_t *rt, const char *id)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    return a != TMI_RT_NONE && s_degraded(rt, a);
}

bool tm_rt_any_degraded(const tm_rt_t *rt)
{
    return rt->n_sups > 0;
}

int tm_rt_set_remote_degraded(tm_rt_t *rt, const char *id, bool degraded)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE || !s_group(rt, a)->remote) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    rt->actors[a].remote_degraded = degraded;
    return 0;
}

size_t tm_rt_degraded_sources(const tm_rt_t *rt, const char *id,
                              const char **ids, size_t cap)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE || rt->actors[a].head[TMI_RT_IN] == TMI_RT_NONE) {
        return 0;
    }
    size_t n = 0;
    uint32_t head = rt->actors[a].head[TMI_RT_IN];
    uint32_t li = head;
    do {
        uint32_t src = rt->links[li].src;
        /* a source feeding several inputs is listed once (among the
         * first cap; beyond them it may be counted again) */
        bool seen = false;
        for (size_t j = 0; !seen && j < n && j < cap; j++) {
            seen = ids[j] == rt->actors[src].id;
        }
        if (!seen && s_degraded(rt, src)) {
            if (n < cap) {
                ids[n] = rt->actors[src].id;
            }
            n++;
        }
        li = rt->adj[li].next[TMI_RT_IN];
    } while (li != head);
    return n;
}

static void s_event(tm_rt_t *rt, uint32_t a, uint64_t k, int kind, int status,
                    int from, int to)
{
    if (rt->n_events >= TM_RT_FAULTS_MAX ||
        tmi_rt_grow((void **)&rt->events, &rt->cap_events, rt->n_events + 1,
                    sizeof *rt->events) != 0) {
        rt->events_dropped++;
        return;
    }
    rt->events[rt->n_events++] = (tm_rt_event_t){.id = rt->actors[a].id,
                                                 .tick = k,
                                                 .kind = (uint8_t)kind,
                                                 .status = (uint8_t)status,
                                                 .from = (uint8_t)from,
                                                 .to = (uint8_t)to};
}

static int s_event_cmp(const void *pa, const void *pb)
{
    const tm_rt_event_t *a = pa, *b = pb;
    int c = strcmp(a->id, b->id);
    return c != 0 ? c : (int)a->kind - (int)b->kind;
}

/* ---- stepping one actor ------------------------------------------------- */

static bool s_finite(const double *v, uint32_t n)
{
    return tmi_rt_all_finite(v, n);
}

/* Step actor a alone at tick k with its model, state and the inputs of
 * the tick; on success its state and outputs of tick k are replaced. */
static int s_step_one(tm_rt_t *rt, uint32_t a, uint64_t k)
{
    tmi_rt_group_t *g = s_group(rt, a);
    size_t s = rt->actors[a].slot;
    double x[TM_MODEL_MAX_VARS];
    double y[TM_MODEL_MAX_VARS];
    memcpy(x, g->state + s * g->ns, g->ns * sizeof(double));
    tm_step_ctx_t ctx = {.h = rt->h * (double)g->period,
                         .tick = k,
                         .seed = rt->seed,
                         .keys = &g->keys[s]};
    uint8_t st = TM_STEP_OK;
    g->model->step(&ctx, 1, x, g->params + s * g->np, g->in + s * g->ni, y,
                   &st);
    if (st == TM_STEP_OK && (!s_finite(x, g->ns) || !s_finite(y, g->no))) {
        st = TM_STEP_NONFINITE;
    }
    if (st == TM_STEP_OK) {
        memcpy(g->state + s * g->ns, x, g->ns * sizeof(double));
        memcpy(g->out[0] + s * g->no, y, g->no * sizeof(double));
    }
    return st;
}

static void s_put_outputs(tm_rt_t *rt, uint32_t a, const double *y)
{
    tmi_rt_group_t *g = s_group(rt, a);
    memcpy(g->out[0] + rt->actors[a].slot * g->no, y, g->no * sizeof(double));
}

/* ---- restart intensity and quarantine ----------------------------------- */

static void s_quarantine(tm_rt_t *rt, uint32_t a, uint64_t k, int status)
{
    tmi_rt_group_t *g = s_group(rt, a);
    size_t s = rt->actors[a].slot;
    double y[TM_MODEL_MAX_VARS];
    double x[TM_MODEL_MAX_VARS];
    memcpy(y, g->out[0] + s * g->no, g->no * sizeof(double));
    memcpy(x, g->state + s * g->ns, g->ns * sizeof(double));
    const tm_model_t *m = g->model;
    if (tmi_rt_regroup(rt, a, m, true, x) != 0) {
        return; /* no memory: held, counted again at the next fault */
    }
    s_put_outputs(rt, a, y);
    tmi_rt_sup_t *sp = s_sup(rt, a);
    sp->quarantined = true;
    sp->shadow = NULL;
    sp->seeded = false;
    sp->shadow_y = false;
    sp->healthy = 0;
    s_event(rt, a, k, TM_RT_EV_QUARANTINE, status, m->fidelity, m->fidelity);
}

/* Forget faults at least `window` ticks before k. */
static void s_low_prune(tmi_rt_sup_t *sp, uint64_t k, uint32_t window)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < sp->n_low; i++) {
        if (k - sp->low[i] < window) {
            sp->low[keep++] = sp->low[i];
        }
    }
    sp->n_low = keep;
}

/* A fault that could not fall back: held; quarantined when it is one too
 * many within the window. */
static void s_low_fault(tm_rt_t *rt, uint32_t a, uint64_t k, int status)
{
    const tm_model_t *m = s_group(rt, a)->model;
    s_event(rt, a, k, TM_RT_EV_HOLD, status, m->fidelity, m->fidelity);
    tmi_rt_sup_t *sp = tmi_rt_sup_make(rt, a);
    if (sp == NULL) {
        return;
    }
    tm_rt_policy_t p = {0};
    rt->sup_cfg.policy(m, &p, rt->sup_cfg.arg);
    uint32_t r = p.max_restarts < TM_RT_RESTARTS_MAX ? p.max_restarts
                                                     : TM_RT_RESTARTS_MAX;
    s_low_prune(sp, k, p.restart_window > 0 ? p.restart_window : 1);
    if (sp->n_low == TMI_RT_RESTARTS_KEPT) {
        memmove(sp->low, sp->low + 1, (sp->n_low - 1) * sizeof sp->low[0]);
        sp->n_low--;
    }
    sp->low[sp->n_low++] = k;
    if (sp->n_low > r) {
        s_quarantine(rt, a, k, status);
    }
}

/* ---- fallback ----------------------------------------------------------- */

/* Actor a faulted at tick k and holds the state and outputs of k - 1:
 * step it again at each lower tier until one succeeds. */
static void s_fallback(tm_rt_t *rt, uint32_t a, uint64_t k)
{
    tmi_rt_group_t *g = s_group(rt, a);
    if (g->frozen || g->remote) {
        return;
    }
    size_t s = rt->actors[a].slot;
    const int status = g->status[s];
    const tm_model_t *m0 = g->model;
    const tmi_rt_sup_t *sp0 = s_sup(rt, a);
    double held[TM_MODEL_MAX_VARS];
    memcpy(held, g->out[0] + s * g->no, g->no * sizeof(double));
    const tm_model_t *cur = m0;
    bool ok = false;
    for (int t = (int)m0->fidelity + 1;
         !ok && (sp0 == NULL || !sp0->pinned) && t < TM_FIDELITY_COUNT; t++) {
        const tm_model_t *lm =
            rt->sup_cfg.tier(m0, (tm_fidelity_t)t, rt->sup_cfg.arg);
        if (lm == NULL || lm == cur || tm_model_check_family(m0, lm) != 0 ||
            tmi_rt_regroup(rt, a, lm, false, NULL) != 0) {
            continue;
        }
        cur = lm;
        ok = s_step_one(rt, a, k) == TM_STEP_OK;
        if (!ok) {
            s_put_outputs(rt, a, held); /* mapped state of k - 1, held */
        }
    }
    if (cur != m0) {
        s_event(rt, a, k, TM_RT_EV_FALLBACK, status, m0->fidelity,
                cur->fidelity);
        bool fresh = s_sup(rt, a) == NULL;
        tmi_rt_sup_t *sp = tmi_rt_sup_make(rt, a);
        if (sp != NULL && fresh) {
            sp->target = (uint8_t)m0->fidelity; /* it ran at its target */
        }
        if (sp != NULL && sp->shadow == NULL) {
            sp->shadow = rt->sup_cfg.tier(cur, (tm_fidelity_t)sp->target,
                                          rt->sup_cfg.arg);
            sp->seeded = false;
            sp->shadow_y = false;
            sp->healthy = 0;
        }
    }
    if (!ok) {
        s_low_fault(rt, a, k, status);
    }
}

/* ---- shadows ------------------------------------------------------------ */

/* Seed the shadow from the live state (mapped). */
static void s_shadow_seed(tm_rt_t *rt, tmi_rt_sup_t *sp)
{
    const tmi_rt_group_t *g = s_group(rt, sp->actor);
    size_t s = rt->actors[sp->actor].slot;
    double x[TM_MODEL_MAX_VARS];
    sp->healthy = 0;
    sp->shadow_y = false;
    sp->seeded = tm_model_map_state(sp->shadow, g->model, g->state + s * g->ns,
                                    g->params + s * g->np, x) == TM_STEP_OK &&
                 s_finite(x, sp->shadow->n_states);
    if (sp->seeded) {
        memcpy(sp->shadow_state, x, sp->shadow->n_states * sizeof(double));
    }
}

/* Step the shadow of record i at tick k; promote it when it has been
 * healthy long enough. */
static void s_shadow_step(tm_rt_t *rt, size_t i, uint64_t k)
{
    tmi_rt_sup_t *sp = &rt->sups[i];
    uint32_t a = sp->actor;
    tmi_rt_group_t *g = s_group(rt, a);
    if (sp->shadow == g->model || sp->pinned) {
        sp->shadow = NULL; /* an operator's change got there first */
        return;
    }
    if (strcmp(sp->shadow->version, g->model->version) != 0) {
        /* the actor moved to another version (a rollout): the shadow is
         * its target tier of that version, seeded afresh */
        sp->shadow = rt->sup_cfg.tier(g->model, (tm_fidelity_t)sp->target,
                                      rt->sup_cfg.arg);
        sp->seeded = false;
        sp->shadow_y = false;
        sp->healthy = 0;
        if (sp->shadow == NULL || sp->shadow == g->model) {
            sp->shadow = NULL;
            return;
        }
    }
    if (!sp->seeded) {
        s_shadow_seed(rt, sp);
        return;
    }
    if (k % g->period != 0) {
        return;
    }
    size_t s = rt->actors[a].slot;
    const tm_model_t *sm = sp->shadow;
    double x[TM_MODEL_MAX_VARS];
    double y[TM_MODEL_MAX_VARS];
    memcpy(x, sp->shadow_state, sm->n_states * sizeof(double));
    tm_step_ctx_t ctx = {.h = rt->h * (double)g->period,
                         .tick = k,
                         .seed = rt->seed,
                         .keys = &g->keys[s]};
    tm_rt_policy_t p;
    bool resid = tmi_rt_resid_policy(rt, sm, &p) && tmi_rt_resid_pairs(g);
    /* Its prediction of this step's samples, before it steps. */
    bool off =
        resid && sp->shadow_y &&
        tmi_rt_resid(g, g->in + s * g->ni, sp->shadow_out) > p.residual_limit;
    uint8_t st = TM_STEP_OK;
    sm->step(&ctx, 1, x, g->params + s * g->np, g->in + s * g->ni, y, &st);
    if (st != TM_STEP_OK || !s_finite(x, sm->n_states) ||
        !s_finite(y, sm->n_outputs)) {
        s_shadow_seed(rt, sp);
        return;
    }
    memcpy(sp->shadow_state, x, sm->n_states * sizeof(double));
    if (resid) {
        memcpy(sp->shadow_out, y, sm->n_outputs * sizeof(double));
        sp->shadow_y = true;
    }
    sp->healthy = off ? 0 : sp->healthy + 1;
    if (p.promote_after == 0 || sp->healthy < p.promote_after) {
        return;
    }
    int from = g->model->fidelity;
    if (tmi_rt_regroup(rt, a, sm, false, x) != 0) {
        sp->healthy = 0; /* try again later */
        return;
    }
    s_put_outputs(rt, a, y);
    sp = s_sup(rt, a);
    sp->shadow = NULL;
    sp->seeded = false;
    sp->shadow_y = false;
    sp->healthy = 0;
    s_event(rt, a, k, TM_RT_EV_PROMOTE, TM_STEP_OK, from, sm->fidelity);
}

void tmi_rt_supervise(tm_rt_t *rt, uint64_t k)
{
    if (!rt->has_sup) {
        rt->n_faulted = 0;
        if (rt->n_trials > 0) {
            tmi_rt_trials_step(rt, k);
        }
        return;
    }
    size_t first = rt->n_events;
    tmi_rt_resid_check(rt, k);
    for (size_t i = 0; i < rt->n_faulted; i++) {
        s_fallback(rt, rt->faulted[i], k);
    }
    rt->n_faulted = 0;
    /* Backwards: a record may leave (swap with the last, already seen). */
    for (size_t i = rt->n_sups; i-- > 0;) {
        tmi_rt_sup_t *sp = &rt->sups[i];
        uint32_t a = sp->actor;
        if (sp->shadow != NULL && !sp->quarantined) {
            s_shadow_step(rt, i, k);
        }
        sp = s_sup(rt, a);
        if (sp->n_low > 0) {
            tm_rt_policy_t p = {0};
            rt->sup_cfg.policy(s_group(rt, a)->model, &p, rt->sup_cfg.arg);
            s_low_prune(sp, k, p.restart_window > 0 ? p.restart_window : 1);
        }
        tmi_rt_sup_tidy(rt, a);
    }
    if (rt->n_events - first > 1) {
        qsort(rt->events + first, rt->n_events - first, sizeof *rt->events,
              s_event_cmp);
    }
    if (rt->n_trials > 0) {
        tmi_rt_trials_step(rt, k); /* after fallbacks: the live outputs */
    }
}

/* ---- operator's tier and restore ---------------------------------------- */

/* The highest tier of m's family@version. */
static const tm_model_t *s_highest(const tm_rt_t *rt, const tm_model_t *m)
{
    for (int t = 0; t < TM_FIDELITY_COUNT; t++) {
        const tm_model_t *mt =
            rt->sup_cfg.tier(m, (tm_fidelity_t)t, rt->sup_cfg.arg);
        if (mt != NULL) {
            return mt;
        }
    }
    return m;
}

int tm_rt_pin(tm_rt_t *rt, const char *id, bool automatic, tm_fidelity_t tier)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = s_group(rt, a);
    if (g->remote || !rt->has_sup) {
        return TM_ERR_INVAL;
    }
    const tm_model_t *m = g->model;
    const tm_model_t *to =
        automatic ? m : rt->sup_cfg.tier(m, tier, rt->sup_cfg.arg);
    if (to == NULL || tm_model_check_family(m, to) != 0) {
        return TM_ERR_UNKNOWN_FIDELITY;
    }
    const tm_model_t *target = automatic ? s_highest(rt, m) : to;
    if (tmi_rt_sup_make(rt, a) == NULL) {
        return TM_ERR_NOMEM;
    }
    double x[TM_MODEL_MAX_VARS];
    size_t s = rt->actors[a].slot;
    memcpy(x, g->state + s * g->ns, g->ns * sizeof(double));
    int rc = tmi_rt_regroup(rt, a, to, false, to == m ? x : NULL);
    if (rc != 0) {
        tmi_rt_sup_tidy(rt, a);
        return rc;
    }
    tmi_rt_sup_t *sp = s_sup(rt, a);
    sp->pinned = !automatic;
    sp->quarantined = false;
    sp->n_low = 0;
    sp->target = (uint8_t)target->fidelity;
    sp->shadow = target != to ? target : NULL;
    sp->seeded = false;
    sp->shadow_y = false;
    sp->healthy = 0;
    tmi_rt_sup_tidy(rt, a);
    return 0;
}

int tm_rt_sup_restore(tm_rt_t *rt, const char *id, const tm_rt_sup_t *in)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = s_group(rt, a);
    const tm_model_t *m = g->model;
    if (g->remote || in->target >= TM_FIDELITY_COUNT ||
        in->n_low > TMI_RT_RESTARTS_KEPT ||
        (in->shadow != NULL && tm_model_check_family(m, in->shadow) != 0) ||
        (in->seeded && (in->shadow == NULL ||
                        !s_finite(in->shadow_state, in->shadow->n_states)))) {
        return TM_ERR_INVAL;
    }
    tmi_rt_sup_t *sp = tmi_rt_sup_make(rt, a);
    if (sp == NULL) {
        return TM_ERR_NOMEM;
    }
    if (in->quarantined && !g->frozen) {
        size_t s = rt->actors[a].slot;
        double x[TM_MODEL_MAX_VARS];
        double y[TM_MODEL_MAX_VARS];
        memcpy(x, g->state + s * g->ns, g->ns * sizeof(double));
        memcpy(y, g->out[0] + s * g->no, g->no * sizeof(double));
        int rc = tmi_rt_regroup(rt, a, m, true, x);
        if (rc != 0) {
            tmi_rt_sup_tidy(rt, a);
            return rc;
        }
        s_put_outputs(rt, a, y);
        sp = s_sup(rt, a);
    }
    sp->target = (uint8_t)in->target;
    sp->pinned = in->pinned;
    sp->quarantined = in->quarantined;
    sp->shadow = in->quarantined ? NULL : in->shadow;
    sp->seeded = sp->shadow != NULL && in->seeded;
    sp->healthy = sp->seeded ? in->healthy : 0;
    if (sp->seeded) {
        memcpy(sp->shadow_state, in->shadow_state,
               in->shadow->n_states * sizeof(double));
    }
    sp->n_low = in->n_low;
    if (in->n_low > 0) {
        memcpy(sp->low, in->low, in->n_low * sizeof sp->low[0]);
    }
    sp->resid_run = in->resid_run;
    sp->shadow_y = sp->seeded && in->shadow_y && in->shadow_out != NULL;
    if (sp->shadow_y) {
        memcpy(sp->shadow_out, in->shadow_out,
               in->shadow->n_outputs * sizeof(double));
    }
    tmi_rt_sup_tidy(rt, a);
    return 0;
}

const tm_model_t *tmi_rt_sup_lower(const tm_rt_t *rt, const tm_model_t *m)
{
    for (int t = (int)m->fidelity + 1; t < TM_FIDELITY_COUNT; t++) {
        const tm_model_t *lm =
            rt->sup_cfg.tier(m, (tm_fidelity_t)t, rt->sup_cfg.arg);
        if (lm != NULL && lm != m && tm_model_check_family(m, lm) == 0) {
            return lm;
        }
    }
    return NULL;
}

int tm_rt_fall(tm_rt_t *rt, const char *id)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tmi_rt_group_t *g = s_group(rt, a);
    const tmi_rt_sup_t *sp0 = s_sup(rt, a);
    if (g->remote || g->frozen || !rt->has_sup ||
        (sp0 != NULL && sp0->pinned)) {
        return TM_ERR_INVAL;
    }
    const tm_model_t *m0 = g->model;
    const tm_model_t *lm = tmi_rt_sup_lower(rt, m0);
    if (lm == NULL) {
        return TM_ERR_UNKNOWN_FIDELITY;
    }
    bool fresh = sp0 == NULL;
    if (tmi_rt_sup_make(rt, a) == NULL) {
        return TM_ERR_NOMEM;
    }
    int rc = tmi_rt_regroup(rt, a, lm, false, NULL);
    if (rc != 0) {
        tmi_rt_sup_tidy(rt, a);
        return rc;
    }
    tmi_rt_sup_t *sp = s_sup(rt, a);
    if (fresh) {
        sp->target = (uint8_t)m0->fidelity;
    }
    sp->resid_run = 0;
    if (sp->shadow == NULL) {
        sp->shadow =
            rt->sup_cfg.tier(lm, (tm_fidelity_t)sp->target, rt->sup_cfg.arg);
        sp->seeded = false;
        sp->shadow_y = false;
        sp->healthy = 0;
    }
    tmi_rt_sup_tidy(rt, a);
    return 0;
}
