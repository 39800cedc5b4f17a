/* tm_super: the node's supervisor (see tm_super.h). */
#include "tm_super.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_models.h"

#include <stdio.h>
#include <stdlib.h>

struct tm_super {
    tm_rt_t *rt;
    const tm_config_t *cfg;
    tm_super_note_fn note;
    void *note_arg;
    uint64_t counts[4]; /* by tm_rt_event_kind_t */
    uint64_t dropped;
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
                            .restart_window = c.restart_window};
}

int tm_super_open(tm_super_t **out, tm_rt_t *rt, const tm_config_t *cfg)
{
    tm_super_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return TM_ERR_NOMEM;
    }
    s->rt = rt;
    s->cfg = cfg;
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

static void s_after_tick(void *self, uint64_t tick)
{
    (void)tick;
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
            : tm_stats_add_u64(reg, "supervisor.events_unlogged", s_dropped,
                               self);
    return rc;
}

static void s_close(void *self)
{
    tm_super_t *s = self;
    tm_rt_supervise(s->rt, NULL);
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
