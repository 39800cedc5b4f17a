/* tm_super: the node's supervisor (see tm_super.h). */
#include "tm_super.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_audit.h" /* TM_AUDIT_REASON_MAX */
#include "tm_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Step-time budgets: the models with one, by how long they have been over. */
#define S_TIMED_MAX 64u

typedef struct {
    const tm_model_t *model;
    double ns; /* the slowest of its groups at this check */
    uint32_t run;
    bool seen;
} s_timed_t;

struct tm_super {
    tm_rt_t *rt;
    const tm_config_t *cfg;
    tm_super_note_fn note;
    void *note_arg;
    uint64_t counts[4]; /* by tm_rt_event_kind_t */
    uint64_t dropped;
    s_timed_t timed[S_TIMED_MAX];
    size_t n_timed;
    uint64_t slow; /* actors fallen back for their step time */
    bool budgets;  /* some family has a step_budget: check after chunks */
    /* Replaying an audit log's step-time fallbacks (tm_sup_replay.h): the
     * file, its records, the next one due, and what became of them. */
    const char *replay_file;
    tm_sup_replay_t replay;
    size_t next;
    uint64_t replayed;
    uint64_t mismatched;
};

static const tm_model_t *s_tier(const tm_model_t *m, tm_fidelity_t tier,
                                void *arg)
{
    (void)arg;
    return tm_models_tier(m, tier);
}

static void s_policy(const tm_model_t *m, tm_rt_policy_t *out, void *arg)
{
    const tm_super_t *s = arg;
    tm_config_sup_t c = tm_config_sup(s->cfg, m->family);
    *out = (tm_rt_policy_t){.promote_after = c.promote_after,
                            .max_restarts = c.max_restarts,
                            .restart_window = c.restart_window,
                            .residual_limit = c.residual_limit,
                            .residual_steps = c.residual_steps};
}

/* "family@version/tier" of m into buf. */
static const char *s_spec(const tm_model_t *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s@%s/%s", m->family, m->version,
             tm_fidelity_name(m->fidelity));
    return buf;
}

/* The tier below m's (NULL: none), the one tm_rt_fall moves to. */
static const tm_model_t *s_lower(const tm_model_t *m)
{
    for (int t = (int)m->fidelity + 1; t < TM_FIDELITY_COUNT; t++) {
        const tm_model_t *l = tm_models_tier(m, (tm_fidelity_t)t);
        if (l != NULL) {
            return l;
        }
    }
    return NULL;
}

int tm_super_open(tm_super_t **out, tm_rt_t *rt, const tm_config_t *cfg)
{
    tm_super_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return TM_ERR_NOMEM;
    }
    s->rt = rt;
    s->cfg = cfg;
    s->budgets = cfg->sup.step_budget > 0;
    for (unsigned i = 0; i < cfg->n_sup_family; i++) {
        uint32_t b = cfg->sup_family[i].step_budget;
        s->budgets |= b > 0 && b != TM_CONFIG_SUP_UNSET;
    }
    tm_rt_supervisor_t sup = {.tier = s_tier, .policy = s_policy, .arg = s};
    int rc = tm_rt_supervise(rt, &sup);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void tm_super_on_note(tm_super_t *s, tm_super_note_fn fn, void *arg)
{
    s->note = fn;
    s->note_arg = arg;
}

static const char *const s_kind[] = {"fallback", "promote", "hold",
                                     "quarantine"};

/* One event: the log line, the count, the note. */
static void s_event(tm_super_t *s, const tm_rt_event_t *e)
{
    const char *from = tm_fidelity_name((tm_fidelity_t)e->from);
    const char *to = tm_fidelity_name((tm_fidelity_t)e->to);
    const char *st = tm_step_status_name(e->status);
    char why[160];
    s->counts[e->kind]++;
    tm_config_sup_t c = {0};
    tm_rt_actor_t a;
    const tm_model_t *m = tm_rt_get(s->rt, e->id, &a) == 0 ? a.model : NULL;
    if (m != NULL) {
        c = tm_config_sup(s->cfg, m->family);
    }
    switch (e->kind) {
    case TM_RT_EV_FALLBACK:
        snprintf(why, sizeof why, "step %s at %s; stepped again at %s", st,
                 from, to);
        tm_log(TM_LOG_WARN, "supervisor: %s tick %llu: %s", e->id,
               (unsigned long long)e->tick, why);
        break;
    case TM_RT_EV_PROMOTE:
        snprintf(why, sizeof why, "%s healthy in shadow for %u steps", to,
                 c.promote_after);
        tm_log(TM_LOG_INFO, "supervisor: %s tick %llu: %s; promoted %s -> %s",
               e->id, (unsigned long long)e->tick, why, from, to);
        break;
    case TM_RT_EV_HOLD:
        snprintf(why, sizeof why, "step %s at %s, no lower tier: held", st,
                 from);
        tm_log(TM_LOG_DEBUG, "supervisor: %s tick %llu: %s", e->id,
               (unsigned long long)e->tick, why);
        break;
    default:
        snprintf(why, sizeof why,
                 "more than %u faults at %s within %u ticks; outputs held "
                 "until `fidelity %s auto`",
                 c.max_restarts, from, c.restart_window, e->id);
        tm_log(TM_LOG_WARN, "supervisor: %s tick %llu: quarantined: %s", e->id,
               (unsigned long long)e->tick, why);
        break;
    }
    if (s->note != NULL && e->kind != TM_RT_EV_HOLD) {
        char was[96] = "";
        char now[96] = "";
        if (m != NULL) {
            snprintf(was, sizeof was, "%s@%s/%s", m->family, m->version, from);
            snprintf(now, sizeof now, "%s@%s/%s", m->family, m->version, to);
        }
        s->note(s->note_arg, s_kind[e->kind], e->id, was, now, why, e->tick);
    }
}

/* ---- step-time budgets -------------------------------------------------- */

/* A group's step time: kept only when over its family's budget (a model
 * not seen over it at a check starts its run again). */
static void s_time_cb(void *arg, const tm_model_t *m, double ns, size_t n)
{
    tm_super_t *s = arg;
    (void)n;
    tm_config_sup_t c = tm_config_sup(s->cfg, m->family);
    if (c.step_budget == 0 || !(ns > (double)c.step_budget * 1e3) ||
        s_lower(m) == NULL) {
        return;
    }
    s_timed_t *t = NULL;
    for (size_t i = 0; t == NULL && i < s->n_timed; i++) {
        t = s->timed[i].model == m ? &s->timed[i] : NULL;
    }
    if (t == NULL && s->n_timed < S_TIMED_MAX) {
        t = &s->timed[s->n_timed++];
        *t = (s_timed_t){.model = m};
    }
    if (t != NULL) {
        t->ns = t->seen && t->ns > ns ? t->ns : ns;
        t->seen = true;
    }
}

typedef struct {
    const tm_model_t *model;
    char (*ids)[TM_ID_MAX + 1];
    size_t n, cap;
} s_ids_t;

static int s_collect(const tm_rt_actor_t *a, void *arg)
{
    s_ids_t *c = arg;
    if (a->model != c->model || a->sup.pinned || a->sup.quarantined) {
        return 0;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        void *p = realloc(c->ids, cap * sizeof *c->ids);
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        c->ids = p;
        c->cap = cap;
    }
    snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", a->id);
    return 0;
}

/* Every actor of t's model falls back one tier (tm_rt_fall), each decision
 * recorded with the tick: the machine decided it, the record replays it. */
static void s_fall_slow(tm_super_t *s, const s_timed_t *t, uint64_t tick,
                        const tm_config_sup_t *c)
{
    const tm_model_t *m = t->model;
    s_ids_t ids = {.model = m};
    if (tm_rt_foreach(s->rt, s_collect, &ids) != 0) {
        tm_log(TM_LOG_WARN, "supervisor: no memory to list the actors of %s@%s",
               m->family, m->version);
    }
    const char *from = tm_fidelity_name(m->fidelity);
    size_t done = 0;
    for (size_t i = 0; i < ids.n; i++) {
        tm_rt_actor_t a;
        if (tm_rt_fall(s->rt, ids.ids[i]) != 0 ||
            tm_rt_get(s->rt, ids.ids[i], &a) != 0) {
            continue;
        }
        char why[200];
        snprintf(why, sizeof why,
                 "step %s: %.1f us per actor at %s, over the budget of %u "
                 "us in %u checks in a row; stepped on at %s",
                 tm_step_status_name(TM_STEP_SLOW), t->ns / 1e3, from,
                 c->step_budget, c->budget_steps,
                 tm_fidelity_name(a.model->fidelity));
        char was[TM_SUP_REPLAY_SPEC_MAX + 1];
        char now[TM_SUP_REPLAY_SPEC_MAX + 1];
        s_spec(m, was, sizeof was);
        s_spec(a.model, now, sizeof now);
        if (s->note != NULL) {
            s->note(s->note_arg, "fallback", ids.ids[i], was, now, why, tick);
        }
        done++;
    }
    free(ids.ids);
    s->counts[TM_RT_EV_FALLBACK] += done;
    s->slow += done;
    tm_log(TM_LOG_WARN,
           "supervisor: tick %llu: %zu actors of %s@%s/%s fell back: a step "
           "took %.1f us per actor, over the budget of %u us in %u checks in "
           "a row",
           (unsigned long long)tick, done, m->family, m->version, from,
           t->ns / 1e3, c->step_budget, c->budget_steps);
}

/* ---- replayed step-time fallbacks -------------------------------------- */

/* Apply one recorded fallback at its tick: only to the actor at the tier
 * it was taken from, and only if the tier below is the one it landed on;
 * anything else means the replayed run is not the recorded one: nothing
 * is changed, and it says so. */
static void s_replay_one(tm_super_t *s, const tm_sup_fall_t *f)
{
    char was[TM_SUP_REPLAY_SPEC_MAX + 1] = "";
    char now[TM_SUP_REPLAY_SPEC_MAX + 1] = "";
    tm_rt_actor_t a;
    const tm_model_t *lower = NULL;
    const char *what = NULL;
    if (tm_rt_get(s->rt, f->id, &a) != 0) {
        what = "no such actor";
    } else if (strcmp(s_spec(a.model, was, sizeof was), f->before) != 0) {
        what = "it runs another tier";
    } else if ((lower = s_lower(a.model)) == NULL ||
               strcmp(s_spec(lower, now, sizeof now), f->after) != 0) {
        what = "the tier below is not the recorded one";
    } else if (tm_rt_fall(s->rt, f->id) != 0) {
        what = "it cannot fall back (pinned or quarantined)";
    }
    if (what != NULL) {
        s->mismatched++;
        tm_log(TM_LOG_WARN,
               "supervisor: replay: tick %llu: record %llu (%s %s -> %s) not "
               "applied: %s (%s); this run differs from the recorded one",
               (unsigned long long)f->tick, (unsigned long long)f->seq, f->id,
               f->before, f->after, what, was[0] ? was : "-");
        return;
    }
    char why[TM_AUDIT_REASON_MAX + 1];
    snprintf(why, sizeof why, "%s replayed from record %llu of %s",
             TM_SUP_REPLAY_REASON_PFX, (unsigned long long)f->seq,
             s->replay_file);
    s->replayed++;
    s->counts[TM_RT_EV_FALLBACK]++;
    s->slow++;
    if (s->note != NULL) {
        s->note(s->note_arg, "fallback", f->id, was, now, why, f->tick);
    }
}

/* After stepping up to `tick`: the recorded fallbacks of that tick (the
 * scheduler ends chunks on them, tm_super_next_stop). */
static void s_replay(tm_super_t *s, uint64_t tick)
{
    while (s->next < s->replay.n && s->replay.falls[s->next].tick <= tick) {
        const tm_sup_fall_t *f = &s->replay.falls[s->next++];
        if (f->tick == tick) {
            s_replay_one(s, f);
            continue;
        }
        s->mismatched++;
        tm_log(TM_LOG_WARN,
               "supervisor: replay: record %llu of tick %llu passed at tick "
               "%llu: not applied",
               (unsigned long long)f->seq, (unsigned long long)f->tick,
               (unsigned long long)tick);
    }
}

int tm_super_replay(tm_super_t *s, const char *path, char *why, size_t cap)
{
    tm_sup_replay_free(&s->replay);
    s->next = 0;
    int rc = tm_sup_replay_load(&s->replay, path, why, cap);
    if (rc != 0) {
        return rc;
    }
    s->replay_file = path;
    s->budgets = false;
    uint64_t start = tm_rt_tick(s->rt);
    while (s->next < s->replay.n && s->replay.falls[s->next].tick <= start) {
        s->next++; /* in the state this node starts from */
    }
    tm_log(TM_LOG_INFO,
           "supervisor: replaying %zu step-time fallbacks of %s (%zu "
           "records; %zu at or before tick %llu, where this node starts, "
           "skipped); step-time budgets are not measured",
           s->replay.n - s->next, path, s->replay.records, s->next,
           (unsigned long long)start);
    return 0;
}

uint64_t tm_super_next_stop(void *arg)
{
    const tm_super_t *s = arg;
    return s->next < s->replay.n ? s->replay.falls[s->next].tick : 0;
}

/* After a chunk: the step times of the models with a budget. A model over
 * its budget at budget_steps checks in a row falls back (all its actors,
 * since they step together). */
static void s_check_budgets(tm_super_t *s, uint64_t tick)
{
    for (size_t i = 0; i < s->n_timed; i++) {
        s->timed[i].seen = false;
    }
    tm_rt_step_times(s->rt, s_time_cb, s);
    for (size_t i = s->n_timed; i-- > 0;) {
        s_timed_t *t = &s->timed[i];
        tm_config_sup_t c = tm_config_sup(s->cfg, t->model->family);
        t->run = t->seen ? t->run + 1 : 0;
        if (t->seen && t->run >= c.budget_steps) {
            s_fall_slow(s, t, tick, &c);
            t->run = 0;
        }
        if (t->run == 0) { /* kept only while over */
            s->timed[i] = s->timed[--s->n_timed];
        }
    }
}

static void s_after_tick(void *self, uint64_t tick)
{
    tm_super_t *s = self;
    const tm_rt_event_t *ev = NULL;
    uint64_t dropped = 0;
    size_t n = tm_rt_events(s->rt, &ev, &dropped);
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind < 4) {
            s_event(s, &ev[i]);
        }
    }
    if (dropped > 0) {
        s->dropped += dropped;
        tm_log(TM_LOG_WARN,
               "supervisor: %llu more events in that chunk not logged",
               (unsigned long long)dropped);
    }
    if (s->budgets) {
        s_check_budgets(s, tick);
    }
    if (s->next < s->replay.n) {
        s_replay(s, tick);
    }
}

static uint64_t s_fallbacks(void *a)
{
    return ((tm_super_t *)a)->counts[TM_RT_EV_FALLBACK];
}

static uint64_t s_promotions(void *a)
{
    return ((tm_super_t *)a)->counts[TM_RT_EV_PROMOTE];
}

static uint64_t s_holds(void *a)
{
    return ((tm_super_t *)a)->counts[TM_RT_EV_HOLD];
}

static uint64_t s_quarantines(void *a)
{
    return ((tm_super_t *)a)->counts[TM_RT_EV_QUARANTINE];
}

static uint64_t s_slow(void *a)
{
    return ((tm_super_t *)a)->slow;
}

static uint64_t s_replay_pending(void *a)
{
    const tm_super_t *s = a;
    return s->replay.n - s->next;
}

static uint64_t s_replayed(void *a)
{
    return ((tm_super_t *)a)->replayed;
}

static uint64_t s_mismatched(void *a)
{
    return ((tm_super_t *)a)->mismatched;
}

static uint64_t s_dropped(void *a)
{
    return ((tm_super_t *)a)->dropped;
}

static int s_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "supervisor.fallbacks", s_fallbacks, self);
    rc =
        rc ? rc
           : tm_stats_add_u64(reg, "supervisor.promotions", s_promotions, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "supervisor.holds", s_holds, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "supervisor.quarantines", s_quarantines,
                               self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "supervisor.slow_fallbacks", s_slow, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "supervisor.events_unlogged", s_dropped,
                               self);
    if (((tm_super_t *)self)->replay_file != NULL) {
        rc = rc ? rc
                : tm_stats_add_u64(reg, "supervisor.replay_pending",
                                   s_replay_pending, self);
        rc =
            rc ? rc
               : tm_stats_add_u64(reg, "supervisor.replayed", s_replayed, self);
        rc = rc ? rc
                : tm_stats_add_u64(reg, "supervisor.replay_mismatches",
                                   s_mismatched, self);
    }
    return rc;
}

static void s_close(void *self)
{
    tm_super_t *s = self;
    tm_rt_supervise(s->rt, NULL);
    tm_sup_replay_free(&s->replay);
    free(s);
}

tm_service_t tm_super_service(tm_super_t *s)
{
    return (tm_service_t){.name = "supervisor",
                          .self = s,
                          .after_tick = s_after_tick,
                          .stats = s_stats,
                          .close = s_close};
}
