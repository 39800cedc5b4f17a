/* rt_faults_test: the faults of a step call (tm_rt_faults): which actors
 * faulted at which tick and why, in (tick, id) order whatever the spawn
 * order, the shards and the stepping thread, and bounded.
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
#include <stdlib.h>
#include <string.h>

/* ---- test models -------------------------------------------------------- */

/* probe: x = u + w + 1 each step, y = x. u sums its links, w takes one.
 * At tick nan_at the step produces NaN, at tick fail_at it reports
 * TM_STEP_FAILED (-1: never). */
static const tm_var_t s_probe_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_probe_inputs[] = {
    {"u", "1", 0.0, -1.7e308, 1.7e308, TM_VAR_SUMMING, "summing input"},
    {"w", "1", 0.0, -1.7e308, 1.7e308, 0, "single-link input"}};
static const tm_var_t s_probe_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};
static const tm_var_t s_probe_params[] = {
    {"x0", "1", 0.0, -1e6, 1e6, 0, "initial x"},
    {"nan_at", "1", -1.0, -1.0, 1e9, 0, "tick of a NaN step"},
    {"fail_at", "1", -1.0, -1.0, 1e9, 0, "tick of a failed step"}};

static int s_probe_init(const double *p, double *x)
{
    x[0] = p[0];
    return TM_STEP_OK;
}

static void s_probe_output(size_t n, const double *x, const double *p,
                           const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i];
    }
}

static void s_probe_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                         const double *p, const double *u, double *y,
                         uint8_t *st)
{
    double k = (double)ctx->tick;
    for (size_t i = 0; i < n; i++) {
        x[i] = u[2 * i] + u[2 * i + 1] + 1.0;
        if (p[3 * i + 1] == k) {
            x[i] = NAN;
        }
        if (p[3 * i + 2] == k) {
            st[i] = TM_STEP_FAILED;
        }
        y[i] = x[i];
    }
}

static const tm_model_t s_probe = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "probe",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "test probe",
    .states = s_probe_states,
    .n_states = 1,
    .inputs = s_probe_inputs,
    .n_inputs = 2,
    .outputs = s_probe_outputs,
    .n_outputs = 1,
    .params = s_probe_params,
    .n_params = 3,
    .init = s_probe_init,
    .output = s_probe_output,
    .step = s_probe_step,
};

/* ---- helpers ------------------------------------------------------------ */

static tm_rt_t *s_open(unsigned workers, size_t inline_actors)
{
    tm_rt_config_t cfg = {.workers = workers,
                          .h = 0.001,
                          .seed = 11,
                          .inline_actors = inline_actors};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    return rt;
}

static tm_rt_actor_t s_get(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v;
}

/* ---- faults of a step call ---------------------------------------------- */

static void s_spawn_faulty(tm_rt_t *rt, const char *id, double nan_at,
                           double fail_at)
{
    double p[3] = {0.0, nan_at, fail_at};
    tm_rt_spawn_opts_t o = {.params = p};
    assert_int_equal(tm_rt_spawn(rt, id, &s_probe, &o), 0);
}

static void test_faults_of_step(void **state)
{
    (void)state;
    for (unsigned w = 1; w <= 3; w++) {
        tm_rt_t *rt = s_open(w, w == 3 ? 1000 : 0);
        /* Spawn order differs from id order and from shard order. */
        s_spawn_faulty(rt, "m", 3, -1);
        s_spawn_faulty(rt, "b", 3, -1);
        s_spawn_faulty(rt, "z", 5, -1);
        s_spawn_faulty(rt, "k", -1, 2);
        s_spawn_faulty(rt, "x", 3, -1);
        s_spawn_faulty(rt, "a", 3, 3);
        s_spawn_faulty(rt, "ok", -1, -1);
        assert_int_equal(tm_rt_spawn_remote(rt, "rem", &s_probe), 0);
        assert_int_equal(tm_rt_link(rt, "rem", "y", "ok", "u"), 0);
        const tm_rt_fault_t *f = NULL;
        uint64_t dropped = 7;
        assert_int_equal(tm_rt_faults(rt, &f, &dropped), 0);
        assert_int_equal(dropped, 0);
        assert_int_equal(tm_rt_step(rt, 5), 0);
        size_t n = tm_rt_faults(rt, &f, &dropped);
        assert_int_equal(dropped, 0);
        assert_int_equal(n, 6);
        const char *ids[] = {"k", "a", "b", "m", "x", "z"};
        const uint64_t ticks[] = {2, 3, 3, 3, 3, 5};
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(f[i].id, ids[i]);
            assert_int_equal(f[i].tick, ticks[i]);
            /* a fails and produces NaN at tick 3: the model's own status
             * is the one reported. */
            uint8_t st =
                (i == 0 || i == 1) ? TM_STEP_FAILED : TM_STEP_NONFINITE;
            assert_int_equal(f[i].status, st);
            tm_rt_actor_t v = s_get(rt, f[i].id);
            assert_int_equal(v.health.last_fault, ticks[i]);
        }
        /* Out-parameters are optional; the next call starts a new list. */
        assert_int_equal(tm_rt_faults(rt, NULL, NULL), 6);
        assert_int_equal(tm_rt_step(rt, 1), 0);
        assert_int_equal(tm_rt_faults(rt, &f, &dropped), 0);
        assert_int_equal(dropped, 0);
        tm_rt_stats_t st;
        tm_rt_stats(rt, &st);
        assert_int_equal(st.faults, 6);
        tm_rt_destroy(&rt);
    }
}

/* More faults than the list keeps: the first TM_RT_FAULTS_MAX by (tick,
 * id) are kept, the rest counted. */
static void test_faults_bounded(void **state)
{
    (void)state;
    enum { MANY = TM_RT_FAULTS_MAX + 40, LATE = 90 };
    char id[16];
    for (int round = 0; round < 2; round++) {
        tm_rt_t *rt = s_open(2, 0);
        /* Round 0: MANY faults at tick 1, more than fit, so the LATE ones
         * at tick 2 are all dropped; round 1: MANY - 100 at tick 1, which
         * leaves 60 places for the first LATE of tick 2 by id. Spawned out
         * of id order. */
        int first = round == 0 ? MANY : MANY - 100;
        for (int i = first; i-- > 0;) {
            snprintf(id, sizeof id, "t1-%05d", (i * 7919) % first);
            s_spawn_faulty(rt, id, 1, -1);
        }
        for (int i = 0; i < LATE; i++) {
            snprintf(id, sizeof id, "t2-%02d", LATE - 1 - i);
            s_spawn_faulty(rt, id, 2, -1);
        }
        assert_int_equal(tm_rt_step(rt, 3), 0);
        const tm_rt_fault_t *f = NULL;
        uint64_t dropped = 0;
        size_t n = tm_rt_faults(rt, &f, &dropped);
        assert_int_equal(n, TM_RT_FAULTS_MAX);
        assert_int_equal(dropped, (uint64_t)(first + LATE) - TM_RT_FAULTS_MAX);
        size_t i = 0;
        for (int j = 0; j < first && i < n; j++, i++) {
            snprintf(id, sizeof id, "t1-%05d", j);
            assert_string_equal(f[i].id, id);
            assert_int_equal(f[i].tick, 1);
        }
        for (int j = 0; i < n; j++, i++) {
            snprintf(id, sizeof id, "t2-%02d", j);
            assert_string_equal(f[i].id, id);
            assert_int_equal(f[i].tick, 2);
        }
        tm_rt_destroy(&rt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_of_step),
        cmocka_unit_test(test_faults_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
