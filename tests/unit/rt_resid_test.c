/* rt_resid_test: residual checks of the supervisor - a tier whose
 * predictions leave the measurements falls back within the tick, only
 * after residual_steps steps in a row, not at the lowest or a pinned tier;
 * its shadow is promoted only once it fits the measurements again; the
 * record restores and digests; tm_rt_fall (a node's step-time decision).
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

/* ---- test family "rs" ----------------------------------------------------
 * The measured signal z. High: a simulation that ignores it, x += h (a -
 * x), predicting z = x with sd. Low: an observer, x += (z - x) / 2 where a
 * sample came. Both output z = x and z_sd = sd. */
static const tm_var_t s_states[] = {{"x", "1", 0.0, -1e300, 1e300, 0, "x"}};
static const tm_var_t s_inputs[] = {
    {"z", "1", 0.0, -1e300, 1e300, TM_VAR_MEASURED, "measured z"}};
static const tm_var_t s_outputs[] = {{"z", "1", 0, 0, 0, 0, "predicted z"},
                                     {"z_sd", "1", 0, 0, 0, 0, "its sd"}};
static const tm_var_t s_params[] = {{"a", "1", 1.0, -1e9, 1e9, 0, "level"},
                                    {"sd", "1", 0.1, 0.0, 1e9, 0, "sd"}};

static int s_init(const double *p, double *x)
{
    x[0] = p[0];
    return TM_STEP_OK;
}

static void s_output(size_t n, const double *x, const double *p,
                     const double *u, double *y)
{
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] = x[i];
        y[2 * i + 1] = p[2 * i + 1];
    }
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *x,
                        const double *p, const double *u, double *y,
                        uint8_t *st)
{
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] += ctx->h * (p[2 * i] - x[i]);
    }
    s_output(n, x, p, u, y);
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    (void)ctx;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(u[i])) {
            x[i] += 0.5 * (u[i] - x[i]);
        }
    }
    s_output(n, x, p, u, y);
}

#define S_MODEL(tier, stepfn)                                                  \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "rs", .version = "1.0.0", \
        .fidelity = (tier), .summary = "residual test", .states = s_states,    \
        .n_states = 1, .inputs = s_inputs, .n_inputs = 1,                      \
        .outputs = s_outputs, .n_outputs = 2, .params = s_params,              \
        .n_params = 2, .init = s_init, .output = s_output, .step = (stepfn)    \
    }

static const tm_model_t s_high = S_MODEL(TM_FIDELITY_HIGH, s_step_high);
static const tm_model_t s_low = S_MODEL(TM_FIDELITY_LOW, s_step_low);

static const tm_model_t *s_tier(const tm_model_t *m, tm_fidelity_t t, void *arg)
{
    (void)m;
    (void)arg;
    return t == TM_FIDELITY_HIGH  ? &s_high
           : t == TM_FIDELITY_LOW ? &s_low
                                  : NULL;
}

static double s_limit = 5.0;

static void s_policy(const tm_model_t *m, tm_rt_policy_t *out, void *arg)
{
    (void)m;
    (void)arg;
    *out = (tm_rt_policy_t){.promote_after = 4,
                            .max_restarts = 2,
                            .restart_window = 10,
                            .residual_limit = s_limit,
                            .residual_steps = 3};
}

static const tm_rt_supervisor_t s_sup = {.tier = s_tier, .policy = s_policy};

static tm_rt_t *s_open(unsigned workers)
{
    tm_rt_t *rt = NULL;
    tm_rt_config_t cfg = {
        .workers = workers, .h = 0.1, .seed = 7, .inline_actors = 0};
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    assert_int_equal(tm_rt_supervise(rt, &s_sup), 0);
    return rt;
}

static void s_spawn_sd(tm_rt_t *rt, const char *id, const tm_model_t *m,
                       double sd)
{
    double p[2] = {1.0, sd};
    tm_rt_spawn_opts_t o = {.params = p};
    assert_int_equal(tm_rt_spawn(rt, id, m, &o), 0);
}

static void s_spawn(tm_rt_t *rt, const char *id, const tm_model_t *m)
{
    s_spawn_sd(rt, id, m, 0.1);
}

static tm_rt_actor_t s_get(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v;
}

/* One tick with sample z for id (NaN: none). */
static void s_tick(tm_rt_t *rt, const char *id, double z)
{
    if (!isnan(z)) {
        assert_int_equal(tm_rt_feed(rt, id, 0, z), 0);
    }
    assert_int_equal(tm_rt_step(rt, 1), 0);
}

static size_t s_events(tm_rt_t *rt, const tm_rt_event_t **ev)
{
    return tm_rt_events(rt, ev, NULL);
}

/* ---- tests -------------------------------------------------------------- */

/* Samples 10 sd off: the third step in a row is a fault and the observer
 * steps that tick from the state before it; steps without a sample in
 * between neither count nor end the run. */
static void test_fallback_after_run(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1);
    s_spawn(rt, "a", &s_high);
    s_tick(rt, "a", 1.05); /* 0.5 sd: fits */
    s_tick(rt, "a", 2.0);  /* 1 */
    assert_int_equal(s_get(rt, "a").sup.resid_run, 1);
    s_tick(rt, "a", NAN); /* no sample: still 1 */
    assert_int_equal(s_get(rt, "a").sup.resid_run, 1);
    s_tick(rt, "a", 2.0); /* 2 */
    assert_int_equal(s_get(rt, "a").sup.resid_run, 2);
    assert_ptr_equal(s_get(rt, "a").model, &s_high);
    double x4 = s_get(rt, "a").state[0];
    s_tick(rt, "a", 2.0); /* 3: a fault */
    const tm_rt_event_t *ev = NULL;
    assert_int_equal(s_events(rt, &ev), 1);
    assert_int_equal(ev[0].kind, TM_RT_EV_FALLBACK);
    assert_int_equal(ev[0].status, TM_STEP_RESIDUAL);
    assert_int_equal(ev[0].tick, 5);
    assert_int_equal(ev[0].to, TM_FIDELITY_LOW);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_low);
    assert_true(a.sup.degraded);
    assert_int_equal(a.sup.resid_run, 0);
    assert_int_equal(a.health.faults, 1);
    /* the observer's step of tick 5 from the state of tick 4 */
    assert_true(a.state[0] == x4 + 0.5 * (2.0 - x4));
    assert_string_equal(tm_step_status_name(TM_STEP_RESIDUAL), "residual");

    /* A run that ends under the limit starts again from zero. */
    tm_rt_t *rt2 = s_open(1);
    s_spawn(rt2, "b", &s_high);
    s_tick(rt2, "b", 2.0);
    s_tick(rt2, "b", 2.0);
    s_tick(rt2, "b", 1.0);
    assert_int_equal(s_get(rt2, "b").sup.resid_run, 0);
    s_tick(rt2, "b", 2.0);
    s_tick(rt2, "b", 2.0);
    assert_ptr_equal(s_get(rt2, "b").model, &s_high);
    tm_rt_destroy(&rt2);
    tm_rt_destroy(&rt);
}

/* The high tier in shadow is not healthy while its prediction is off: no
 * promotion after promote_after steps; once the samples fit it again,
 * promote_after steps bring it back. */
static void test_shadow_waits_for_fit(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1);
    s_spawn_sd(rt, "a", &s_high, 0.01);
    for (int i = 0; i < 3; i++) {
        s_tick(rt, "a", 2.0);
    }
    assert_ptr_equal(s_get(rt, "a").model, &s_low);
    for (int i = 0; i < 20; i++) {
        s_tick(rt, "a", 2.0);
        assert_ptr_equal(s_get(rt, "a").model, &s_low);
        assert_true(s_get(rt, "a").sup.healthy < 2);
    }
    assert_int_equal(s_get(rt, "a").sup.healthy, 0);
    assert_true(s_get(rt, "a").sup.shadow_y);
    /* Back to the level the simulation predicts: the shadow's prediction
     * (its own state, seeded once) comes within the limit and, that many
     * steps later, it is promoted. */
    int promoted_at = 0;
    for (int i = 1; i <= 80 && promoted_at == 0; i++) {
        s_tick(rt, "a", 1.0);
        const tm_rt_event_t *ev = NULL;
        if (s_events(rt, &ev) == 1 && ev[0].kind == TM_RT_EV_PROMOTE) {
            promoted_at = i;
        }
    }
    assert_true(promoted_at >= 4);
    assert_ptr_equal(s_get(rt, "a").model, &s_high);
    assert_false(s_get(rt, "a").sup.degraded);
    tm_rt_destroy(&rt);
}

/* The lowest tier and a pinned tier never fault on residuals. */
static void test_lowest_and_pinned(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1);
    s_spawn(rt, "low", &s_low);
    s_spawn(rt, "pin", &s_high);
    assert_int_equal(tm_rt_pin(rt, "pin", false, TM_FIDELITY_HIGH), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tm_rt_feed(rt, "low", 0, 50.0 + 10.0 * i), 0);
        assert_int_equal(tm_rt_feed(rt, "pin", 0, 50.0), 0);
        assert_int_equal(tm_rt_step(rt, 1), 0);
        assert_int_equal(s_events(rt, NULL), 0);
    }
    assert_ptr_equal(s_get(rt, "low").model, &s_low);
    assert_ptr_equal(s_get(rt, "pin").model, &s_high);
    assert_int_equal(s_get(rt, "pin").sup.resid_run, 0);
    /* no limit, no checks */
    s_limit = 0.0;
    tm_rt_t *rt2 = s_open(1);
    s_spawn(rt2, "a", &s_high);
    for (int i = 0; i < 10; i++) {
        s_tick(rt2, "a", 100.0);
    }
    assert_ptr_equal(s_get(rt2, "a").model, &s_high);
    s_limit = 5.0;
    tm_rt_destroy(&rt2);
    tm_rt_destroy(&rt);
}

/* A runtime that took over the actors with their records (a restart)
 * continues bit for bit, whatever the worker count; the run and the
 * shadow's outputs are in the digest. */
static void test_restore_and_digest(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1);
    char id[16];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "r%02d", i);
        s_spawn(rt, id, &s_high);
    }
    for (int k = 0; k < 6; k++) {
        for (int i = 0; i < 12; i++) {
            snprintf(id, sizeof id, "r%02d", i);
            /* actors 0-3 off for good, 4-7 off twice, 8-11 fit */
            double z = i < 4 ? 3.0 : (i < 8 && k < 2) ? 3.0 : 1.0;
            assert_int_equal(tm_rt_feed(rt, id, 0, z), 0);
        }
        assert_int_equal(tm_rt_step(rt, 1), 0);
    }
    tm_rt_t *rt2 = NULL;
    tm_rt_config_t cfg = {.workers = 2, .h = 0.1, .seed = 7, .tick = 6};
    assert_int_equal(tm_rt_open(&rt2, &cfg), 0);
    assert_int_equal(tm_rt_supervise(rt2, &s_sup), 0);
    bool runs = false;
    bool shadows = false;
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "r%02d", i);
        tm_rt_actor_t v = s_get(rt, id);
        runs |= v.sup.resid_run > 0;
        shadows |= v.sup.shadow_y;
        tm_rt_spawn_opts_t o = {
            .params = v.params, .state = v.state, .outputs = v.outputs};
        assert_int_equal(tm_rt_spawn(rt2, id, v.model, &o), 0);
        assert_int_equal(tm_rt_sup_restore(rt2, id, &v.sup), 0);
    }
    assert_true(shadows);
    (void)runs;
    unsigned char d1[32], d2[32];
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    assert_int_equal(tm_rt_digest(rt2, d2), 0);
    assert_memory_equal(d1, d2, 32);
    /* a record without its shadow outputs hashes otherwise */
    snprintf(id, sizeof id, "r00");
    tm_rt_actor_t v = s_get(rt2, id);
    tm_rt_sup_t sup = v.sup;
    sup.shadow_y = false;
    assert_int_equal(tm_rt_sup_restore(rt2, id, &sup), 0);
    assert_int_equal(tm_rt_digest(rt2, d2), 0);
    assert_memory_not_equal(d1, d2, 32);
    assert_int_equal(tm_rt_sup_restore(rt2, id, &v.sup), 0);
    for (int k = 0; k < 12; k++) {
        for (int i = 0; i < 12; i++) {
            snprintf(id, sizeof id, "r%02d", i);
            double z = i < 6 ? 3.0 : 1.0;
            assert_int_equal(tm_rt_feed(rt, id, 0, z), 0);
            assert_int_equal(tm_rt_feed(rt2, id, 0, z), 0);
        }
        assert_int_equal(tm_rt_step(rt, 1), 0);
        assert_int_equal(tm_rt_step(rt2, 1), 0);
        assert_int_equal(tm_rt_digest(rt, d1), 0);
        assert_int_equal(tm_rt_digest(rt2, d2), 0);
        assert_memory_equal(d1, d2, 32);
    }
    tm_rt_destroy(&rt2);
    tm_rt_destroy(&rt);
}

/* tm_rt_fall: one tier down now, the target in shadow, promoted back
 * after promote_after healthy steps; refused where it cannot. */
static void test_fall(void **st)
{
    (void)st;
    tm_rt_t *rt = s_open(1);
    s_spawn(rt, "a", &s_high);
    s_spawn(rt, "low", &s_low);
    s_spawn(rt, "pin", &s_high);
    assert_int_equal(tm_rt_pin(rt, "pin", false, TM_FIDELITY_HIGH), 0);
    assert_int_equal(tm_rt_step(rt, 2), 0);
    double x = s_get(rt, "a").state[0];
    assert_int_equal(tm_rt_fall(rt, "a"), 0);
    tm_rt_actor_t a = s_get(rt, "a");
    assert_ptr_equal(a.model, &s_low);
    assert_true(a.state[0] == x); /* mapped by name */
    assert_true(a.sup.degraded);
    assert_ptr_equal(a.sup.shadow, &s_high);
    assert_int_equal(tm_rt_fall(rt, "low"), TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_rt_fall(rt, "pin"), TM_ERR_INVAL);
    assert_int_equal(tm_rt_fall(rt, "nobody"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_fall(rt, "a"), TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_rt_step(rt, 5), 0); /* seed + 4 healthy steps */
    assert_ptr_equal(s_get(rt, "a").model, &s_high);
    assert_false(s_get(rt, "a").sup.degraded);
    tm_rt_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_after_run),
        cmocka_unit_test(test_shadow_waits_for_fit),
        cmocka_unit_test(test_lowest_and_pinned),
        cmocka_unit_test(test_restore_and_digest),
        cmocka_unit_test(test_fall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
