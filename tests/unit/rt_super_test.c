/* rt_super_test: supervision in the runtime - a faulty high tier falls
 * back to the low tier within the same tick, runs in shadow and is
 * promoted back; faults at the lowest tier quarantine; pinned tiers;
 * restore of a record; the same results on 1, 2 or 3 workers, inline or
 * not, and whatever the spawn order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_model.h"
#include "tm_rt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- test family "sv": two tiers, the same dynamics ---------------------
 * x += h * (u - x) + 1, y = x. The high tier fails (TM_STEP_FAILED) at
 * ticks in [fail_from, fail_until); with all = 1 the low tier returns NaN
 * there too. */
static const tm_var_t s_states[] = {{"x", "1", 0.0, -1e300, 1e300, 0, "x"}};
static const tm_var_t s_inputs[] = {
    {"u", "1", 0.0, -1e300, 1e300, TM_VAR_SUMMING, "input"}};
static const tm_var_t s_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};
static const tm_var_t s_params[] = {
    {"fail_from", "1", 0.0, 0.0, 1e9, 0, "first faulty tick"},
    {"fail_until", "1", 0.0, 0.0, 1e9, 0, "first good tick after"},
    {"all", "1", 0.0, 0.0, 1.0, 0, "1: the low tier fails too"}};

static int s_init(const double *p, double *x)
{
    (void)p;
    x[0] = 0.0;
    return TM_STEP_OK;
}

static void s_output(size_t n, const double *x, const double *p,
                     const double *u, double *y)
{
    (void)p;
    (void)u;
    memcpy(y, x, n * sizeof(double));
}

static bool s_failing(const tm_step_ctx_t *ctx, const double *p)
{
    double k = (double)ctx->tick;
    return k >= p[0] && k < p[1];
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *x,
                        const double *p, const double *u, double *y,
                        uint8_t *st)
{
    for (size_t i = 0; i < n; i++) {
        x[i] += ctx->h * (u[i] - x[i]) + 1.0;
        y[i] = x[i];
        if (s_failing(ctx, p + 3 * i)) {
            st[i] = TM_STEP_FAILED;
        }
    }
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] += ctx->h * (u[i] - x[i]) + 1.0;
        if (p[3 * i + 2] == 1.0 && s_failing(ctx, p + 3 * i)) {
            x[i] = NAN;
        }
        y[i] = x[i];
    }
}

#define S_MODEL(tier, stepfn)                                                  \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "sv", .version = "1.0.0", \
        .fidelity = (tier), .summary = "supervision test", .states = s_states, \
        .n_states = 1, .inputs = s_inputs, .n_inputs = 1,                      \
        .outputs = s_outputs, .n_outputs = 1, .params = s_params,              \
        .n_params = 3, .init = s_init, .output = s_output, .step = (stepfn)    \
    }

/* Version 2.0.0 (a trial): x += h * (u - x) + 2; "bad" turns NaN from
 * tick 5. */
static void s_step_v2(const tm_step_ctx_t *ctx, size_t n, double *x,
                      const double *p, const double *u, double *y, uint8_t *st)
{
    (void)p;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] += ctx->h * (u[i] - x[i]) + 2.0;
        y[i] = x[i];
    }
}

static void s_step_bad(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    s_step_v2(ctx, n, x, p, u, y, st);
    for (size_t i = 0; ctx->tick >= 5 && i < n; i++) {
        x[i] = NAN;
        y[i] = NAN;
    }
}

static const tm_model_t s_high = S_MODEL(TM_FIDELITY_HIGH, s_step_high);
static const tm_model_t s_low = S_MODEL(TM_FIDELITY_LOW, s_step_low);

static tm_model_t s_v2;
static tm_model_t s_bad;

static void s_versions(void)
{
    s_v2 = s_low;
    s_v2.version = "2.0.0";
    s_v2.step = s_step_v2;
    s_bad = s_v2;
    s_bad.version = "2.0.1";
    s_bad.step = s_step_bad;
}

static const tm_model_t *s_tier(const tm_model_t *m, tm_fidelity_t t, void *arg)
{
    (void)m;
    (void)arg;
    return t == TM_FIDELITY_HIGH  ? &s_high
           : t == TM_FIDELITY_LOW ? &s_low
                                  : NULL;
}

static void s_policy(const tm_model_t *m, tm_rt_policy_t *out, void *arg)
{
    (void)m;
    (void)arg;
    *out = (tm_rt_policy_t){
        .promote_after = 3, .max_restarts = 2, .restart_window = 10};
}

static const tm_rt_supervisor_t s_sup = {.tier = s_tier, .policy = s_policy};

/* ---- helpers ------------------------------------------------------------ */

static tm_rt_t *s_open_at(unsigned workers, size_t inline_actors, uint64_t tick)
{
    tm_rt_t *rt = NULL;
    tm_rt_config_t cfg = {.workers = workers,
                          .h = 0.1,
                          .seed = 7,
                          .tick = tick,
                          .inline_actors = inline_actors};
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    assert_int_equal(tm_rt_supervise(rt, &s_sup), 0);
    return rt;
}

static tm_rt_t *s_open(unsigned workers, size_t inline_actors)
{
    return s_open_at(workers, inline_actors, 0);
}

static void s_spawn(tm_rt_t *rt, const char *id, const tm_model_t *m,
                    double from, double until, double all)
{
    double p[3] = {from, until, all};
    tm_rt_spawn_opts_t o = {.params = p};
    assert_int_equal(tm_rt_spawn(rt, id, m, &o), 0);
}

static tm_rt_actor_t s_get(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v;
}

/* x after one step of the shared dynamics. */
static double s_next(double x, double u)
{
    return x + 0.1 * (u - x) + 1.0;
}

/* ---- tests -------------------------------------------------------------- */

/* The high tier fails at tick 5: the low tier steps tick 5 from the state
 * of tick 4, with tick 5's inputs, and a reader sees that value at 6. */
static void test_fallback_same_tick(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(2, 0);
    s_spawn(rt, "a", &s_high, 5, 8, 0);
    s_spawn(rt, "b", &s_high, 0, 0, 0);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "u"), 0);
    assert_int_equal(tm_rt_step(rt, 4), 0);
    assert_int_equal(tm_rt_events(rt, NULL, NULL), 0);
    double x4 = s_get(rt, "a").state[0];

    assert_int_equal(tm_rt_step(rt, 1), 0);
    const tm_rt_event_t *ev = NULL;
    assert_int_equal(tm_rt_events(rt, &ev, NULL), 1);
    assert_string_equal(ev[0].id, "a");
    assert_int_equal(ev[0].kind, TM_RT_EV_FALLBACK);
    assert_int_equal(ev[0].tick, 5);
    assert_int_equal(ev[0].status, TM_STEP_FAILED);
    assert_int_equal(ev[0].from, TM_FIDELITY_HIGH);
    assert_int_equal(ev[0].to, TM_FIDELITY_LOW);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_low);
    assert_true(a.sup.degraded);
    assert_int_equal(a.sup.target, TM_FIDELITY_HIGH);
    assert_ptr_equal(a.sup.shadow, &s_high);
    assert_int_equal(a.health.faults, 1);
    double x5 = s_next(x4, 0.0);
    assert_true(a.state[0] == x5);
    assert_true(a.outputs[0] == x5);

    double xb5 = s_get(rt, "b").state[0];
    assert_int_equal(tm_rt_step(rt, 1), 0);
    assert_true(s_get(rt, "b").state[0] == s_next(xb5, x5));
    assert_false(s_get(rt, "b").sup.degraded);
    tm_rt_destroy(&rt);
}

/* Shadow steps fail until tick 8 (re-seeded each time), then three
 * healthy steps (8, 9, 10) promote the high tier at tick 10. */
static void test_shadow_promotes(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1, 0);
    s_spawn(rt, "a", &s_high, 5, 8, 0);
    assert_int_equal(tm_rt_step(rt, 9), 0);
    assert_ptr_equal(s_get(rt, "a").model, &s_low);
    assert_int_equal(s_get(rt, "a").sup.healthy, 2);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    const tm_rt_event_t *ev = NULL;
    assert_int_equal(tm_rt_events(rt, &ev, NULL), 1);
    assert_int_equal(ev[0].kind, TM_RT_EV_PROMOTE);
    assert_int_equal(ev[0].tick, 10);
    assert_int_equal(ev[0].from, TM_FIDELITY_LOW);
    assert_int_equal(ev[0].to, TM_FIDELITY_HIGH);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_high);
    assert_false(a.sup.degraded);
    assert_null(a.sup.shadow);
    /* The same dynamics in both tiers: x never noticed. */
    double x = 0.0;
    for (int k = 1; k <= 10; k++) {
        x = s_next(x, 0.0);
    }
    assert_true(a.state[0] == x);
    tm_rt_destroy(&rt);
}

/* Both tiers fail from tick 5: each fault is held; the third within ten
 * ticks (max_restarts 2) quarantines; freeing it releases it. */
static void test_quarantine(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(2, 0);
    s_spawn(rt, "a", &s_high, 5, 8, 1);
    assert_int_equal(tm_rt_step(rt, 4), 0);
    double y4 = s_get(rt, "a").outputs[0];
    assert_int_equal(tm_rt_step(rt, 3), 0);
    const tm_rt_event_t *ev = NULL;
    size_t n = tm_rt_events(rt, &ev, NULL);
    assert_int_equal(n, 5); /* 5: fallback + hold, 6: hold, 7: hold + q */
    assert_int_equal(ev[0].kind, TM_RT_EV_FALLBACK);
    assert_int_equal(ev[1].kind, TM_RT_EV_HOLD);
    assert_int_equal(ev[2].kind, TM_RT_EV_HOLD);
    assert_int_equal(ev[2].tick, 6);
    assert_int_equal(ev[3].kind, TM_RT_EV_HOLD);
    assert_int_equal(ev[4].kind, TM_RT_EV_QUARANTINE);
    assert_int_equal(ev[4].tick, 7);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_true(a.sup.quarantined);
    assert_true(a.sup.degraded);
    assert_true(a.outputs[0] == y4);
    /* Quarantined: not stepped, even after the faulty window. */
    assert_int_equal(tm_rt_step(rt, 5), 0);
    assert_int_equal(tm_rt_events(rt, NULL, NULL), 0);
    assert_true(s_get(rt, "a").outputs[0] == y4);
    assert_int_equal(s_get(rt, "a").health.faults, 3);

    assert_int_equal(tm_rt_pin(rt, "a", true, TM_FIDELITY_HIGH), 0);
    a = s_get(rt, "a");
    assert_false(a.sup.quarantined);
    assert_ptr_equal(a.sup.shadow, &s_high);
    assert_int_equal(tm_rt_step(rt, 4), 0); /* seed at 13, 14..16 healthy */
    assert_int_equal(tm_rt_events(rt, &ev, NULL), 1);
    assert_int_equal(ev[0].kind, TM_RT_EV_PROMOTE);
    assert_ptr_equal(s_get(rt, "a").model, &s_high);
    assert_true(s_get(rt, "a").outputs[0] != y4);
    tm_rt_destroy(&rt);
}

/* Faults spread out beyond the window never quarantine. */
static void test_restart_window(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1, 0);
    s_spawn(rt, "a", &s_low, 3, 4, 1);
    s_spawn(rt, "b", &s_low, 9, 10, 1);
    s_spawn(rt, "c", &s_low, 15, 16, 1);
    assert_int_equal(tm_rt_step(rt, 20), 0);
    static const char *const ids[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        assert_false(s_get(rt, ids[i]).sup.quarantined);
        assert_int_equal(s_get(rt, ids[i]).health.faults, 1);
    }
    tm_rt_destroy(&rt);
}

/* A pinned tier never falls back: its fault is held. */
static void test_pin(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1, 0);
    s_spawn(rt, "a", &s_low, 0, 0, 0);
    assert_int_equal(tm_rt_pin(rt, "a", false, TM_FIDELITY_MEDIUM),
                     TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_rt_pin(rt, "nobody", true, TM_FIDELITY_HIGH),
                     TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_set(rt, "a", "fail_from", 3), 0);
    assert_int_equal(tm_rt_set(rt, "a", "fail_until", 5), 0);
    assert_int_equal(tm_rt_pin(rt, "a", false, TM_FIDELITY_HIGH), 0);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_high);
    assert_true(a.sup.pinned);
    assert_false(a.sup.degraded);
    assert_int_equal(tm_rt_step(rt, 3), 0);
    const tm_rt_event_t *ev = NULL;
    assert_int_equal(tm_rt_events(rt, &ev, NULL), 1);
    assert_int_equal(ev[0].kind, TM_RT_EV_HOLD);
    assert_ptr_equal(s_get(rt, "a").model, &s_high);
    /* Freed: target is the highest tier, which it already runs. */
    assert_int_equal(tm_rt_pin(rt, "a", true, TM_FIDELITY_HIGH), 0);
    assert_false(s_get(rt, "a").sup.pinned);
    assert_int_equal(tm_rt_step(rt, 1), 0); /* tick 4 faults: falls back */
    assert_int_equal(tm_rt_events(rt, &ev, NULL), 1);
    assert_int_equal(ev[0].kind, TM_RT_EV_FALLBACK);
    tm_rt_destroy(&rt);
}

/* A mesh of 30 actors in a ring, a third faulty, stepped 40 ticks. */
static void s_scenario(tm_rt_t *rt, bool reverse)
{
    char id[16];
    for (int j = 0; j < 30; j++) {
        int i = reverse ? 29 - j : j;
        snprintf(id, sizeof id, "n%02d", i);
        double from = i % 3 == 0 ? 4 + i % 7 : 0;
        s_spawn(rt, id, &s_high, from, from + 2 + i % 5, i % 9 == 0);
    }
    for (int i = 0; i < 30; i++) {
        char src[16];
        snprintf(src, sizeof src, "n%02d", i);
        snprintf(id, sizeof id, "n%02d", (i + 1) % 30);
        assert_int_equal(tm_rt_link(rt, src, "y", id, "u"), 0);
    }
}

static void s_digest_at(tm_rt_t *rt, uint64_t ticks, unsigned char d[32])
{
    assert_int_equal(tm_rt_step(rt, ticks), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
}

static void test_determinism(void **st)
{
    (void)st;
    unsigned char ref[32], d[32];
    tm_rt_t *rt = s_open(1, 0);
    s_scenario(rt, false);
    s_digest_at(rt, 12, d);
    s_digest_at(rt, 28, ref);
    tm_rt_destroy(&rt);
    const struct {
        unsigned workers;
        size_t inl;
        bool reverse;
    } runs[] = {{2, 0, true}, {3, 0, false}, {2, 1000, true}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        rt = s_open(runs[r].workers, runs[r].inl);
        s_scenario(rt, runs[r].reverse);
        for (int t = 0; t < 40; t++) {
            assert_int_equal(tm_rt_step(rt, 1), 0);
        }
        assert_int_equal(tm_rt_digest(rt, d), 0);
        assert_memory_equal(d, ref, 32);
        tm_rt_destroy(&rt);
    }
    /* Without a supervisor the run differs (faults only hold). */
    rt = s_open(1, 0);
    assert_int_equal(tm_rt_supervise(rt, NULL), 0);
    s_scenario(rt, false);
    s_digest_at(rt, 40, d);
    assert_memory_not_equal(d, ref, 32);
    tm_rt_destroy(&rt);
}

/* A record restored into another runtime continues bit for bit. */
static void test_restore(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1, 0);
    s_scenario(rt, false);
    assert_int_equal(tm_rt_step(rt, 7), 0);
    tm_rt_t *rt2 = s_open_at(2, 0, 7);
    char id[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "n%02d", i);
        tm_rt_actor_t v = s_get(rt, id);
        tm_rt_spawn_opts_t o = {.params = v.params,
                                .state = v.state,
                                .held = v.held,
                                .outputs = v.outputs};
        assert_int_equal(tm_rt_spawn(rt2, id, v.model, &o), 0);
        assert_int_equal(tm_rt_sup_restore(rt2, id, &v.sup), 0);
    }
    for (int i = 0; i < 30; i++) {
        char src[16];
        snprintf(src, sizeof src, "n%02d", i);
        snprintf(id, sizeof id, "n%02d", (i + 1) % 30);
        assert_int_equal(tm_rt_link(rt2, src, "y", id, "u"), 0);
    }
    unsigned char d1[32], d2[32];
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    assert_int_equal(tm_rt_digest(rt2, d2), 0);
    assert_memory_equal(d1, d2, 32);
    bool any = false;
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "n%02d", i);
        any |= s_get(rt, id).sup.shadow != NULL;
    }
    assert_true(any); /* records with shadows were carried over */
    s_digest_at(rt, 25, d1);
    s_digest_at(rt2, 25, d2);
    assert_memory_equal(d1, d2, 32);
    tm_rt_destroy(&rt2);
    tm_rt_destroy(&rt);
}

/* A trial of version 2.0.0 is scored against the live actor and never
 * changes it; adopting it moves the actor; a trial that fails is kept
 * away from everything and cannot be adopted. */
static void test_trials(void **st)
{
    (void)st;
    s_versions();
    tm_rt_t *rt = s_open(2, 0);
    s_spawn(rt, "a", &s_high, 0, 0, 0);
    s_spawn(rt, "b", &s_high, 0, 0, 0);
    s_spawn(rt, "c", &s_high, 0, 0, 0);
    s_spawn(rt, "ref", &s_high, 0, 0, 0);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "u"), 0);
    assert_int_equal(tm_rt_trial_start(rt, "a", &s_v2), 0);
    assert_int_equal(tm_rt_trial_start(rt, "b", &s_bad), 0);
    assert_int_equal(tm_rt_trial_start(rt, "c", &s_high), 0);
    assert_int_equal(tm_rt_trials(rt), 3);
    assert_int_equal(tm_rt_step(rt, 8), 0);
    tm_rt_trial_t t;
    assert_int_equal(tm_rt_trial_get(rt, "a", &t), 0);
    assert_int_equal(t.steps, 8);
    assert_false(t.failed);
    assert_true(t.rmse[0] > 0.5 && t.mape[0] > 1.0);
    assert_int_equal(tm_rt_trial_get(rt, "c", &t), 0);
    assert_true(t.rmse[0] == 0.0 && t.mape[0] == 0.0); /* itself */
    assert_int_equal(tm_rt_trial_get(rt, "b", &t), 0);
    assert_true(t.failed);
    assert_int_equal(t.failed_at, 5);
    assert_int_equal(t.steps, 4);
    /* the live actors never saw the trials */
    tm_rt_actor_t ref = s_get(rt, "ref");
    assert_true(s_get(rt, "a").state[0] == ref.state[0]);
    assert_true(s_get(rt, "c").state[0] == ref.state[0]);
    assert_true(isfinite(s_get(rt, "b").state[0]));
    assert_int_equal(tm_rt_trial_stop(rt, "b", true), TM_ERR_MODEL_FAILED);
    assert_int_equal(tm_rt_trial_stop(rt, "b", false), 0);
    assert_int_equal(tm_rt_trial_get(rt, "b", &t), TM_ERR_NOT_FOUND);
    double x = 0.0;
    for (int k = 1; k <= 8; k++) {
        x = x + 0.1 * (0.0 - x) + 2.0;
    }
    assert_int_equal(tm_rt_trial_stop(rt, "a", true), 0);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_v2);
    assert_true(a.state[0] == x && a.outputs[0] == x);
    assert_int_equal(tm_rt_trial_start(rt, "nobody", &s_v2),
                     TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_kill(rt, "c"), 0); /* takes its trial along */
    assert_int_equal(tm_rt_trials(rt), 0);
    tm_rt_destroy(&rt);
}

/* A trial of the actor's own model with other parameters and state (a
 * new parameter set): stepped with them, the live actor untouched;
 * adopting it installs them; values out of range or not finite are
 * refused. */
static void test_trial_params(void **st)
{
    (void)st;
    s_versions();
    tm_rt_t *rt = s_open(2, 0);
    s_spawn(rt, "d", &s_high, 0, 0, 0);
    s_spawn(rt, "e", &s_high, 0, 0, 0);
    const double failing[3] = {3.0, 4.0, 0.0};
    const double quiet[3] = {500.0, 600.0, 0.0};
    const double x0 = 100.0;
    assert_int_equal(tm_rt_trial_start_with(rt, "d", &s_high, failing, NULL),
                     0);
    assert_int_equal(tm_rt_trial_start_with(rt, "e", &s_high, quiet, &x0), 0);
    assert_int_equal(tm_rt_step(rt, 5), 0);
    tm_rt_trial_t t;
    assert_int_equal(tm_rt_trial_get(rt, "d", &t), 0);
    assert_true(t.failed); /* its own fail_from, not the actor's */
    assert_int_equal(t.failed_at, 3);
    assert_false(s_get(rt, "d").health.faults > 0);
    assert_int_equal(tm_rt_trial_get(rt, "e", &t), 0);
    assert_int_equal(t.steps, 5);
    double x = x0, live = 0.0, sq = 0.0;
    for (int k = 1; k <= 5; k++) {
        x = x + 0.1 * (0.0 - x) + 1.0;
        live = live + 0.1 * (0.0 - live) + 1.0;
        sq += (x - live) * (x - live);
    }
    assert_true(fabs(t.rmse[0] - sqrt(sq / 5.0)) < 1e-9); /* its own state */
    assert_true(s_get(rt, "e").state[0] == live);         /* untouched */
    assert_true(s_get(rt, "e").params[0] == 0.0);
    assert_int_equal(tm_rt_trial_stop(rt, "e", true), 0);
    tm_rt_actor_t e = s_get(rt, "e");
    assert_ptr_equal(e.model, &s_high);
    assert_true(e.state[0] == x && e.outputs[0] == x);
    assert_true(e.params[0] == 500.0 && e.params[1] == 600.0);
    const double wild[3] = {0.0, 0.0, 2.0}; /* all: 0 to 1 */
    const double nan_x = NAN;
    assert_int_equal(tm_rt_trial_start_with(rt, "e", &s_high, wild, NULL),
                     TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_trial_start_with(rt, "e", &s_high, NULL, &nan_x),
                     TM_ERR_MODEL_FAILED);
    assert_int_equal(tm_rt_trials(rt), 1); /* d's, failed, kept */
    tm_rt_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_same_tick),
        cmocka_unit_test(test_shadow_promotes),
        cmocka_unit_test(test_quarantine),
        cmocka_unit_test(test_restart_window),
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_trials),
        cmocka_unit_test(test_trial_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
