/* rt_test: the actor runtime's coupling rule, determinism and errors.
 *
 * Uses small test-local models whose outputs reveal exactly which inputs a
 * step saw, so the one-tick-delay rule and the summing order can be checked
 * against a plain reference loop. Also: ownership epochs (not in the
 * digest) and whether a proxy has been imported into.
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

/* probe: x' = u + 1 each step; y = x. Input u sums. */
static const tm_var_t s_probe_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_probe_inputs[] = {
    {"u", "1", 0.0, -1.7e308, 1.7e308, TM_VAR_SUMMING, "input"},
    {"w", "1", 0.0, -1.7e308, 1.7e308, 0, "single-link input"}};
static const tm_var_t s_probe_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};
static const tm_var_t s_probe_params[] = {
    {"x0", "1", 0.0, -1e6, 1e6, 0, "initial x"},
    {"fail_at", "1", -1.0, -1.0, 1e9, 0, "fail when x reaches it"}};

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
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        x[i] = u[2 * i] + u[2 * i + 1] + 1.0;
        if (p[2 * i + 1] >= 0.0 && x[i] >= p[2 * i + 1]) {
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
    .n_params = 2,
    .init = s_probe_init,
    .output = s_probe_output,
    .step = s_probe_step,
};

/* Same family, low tier: x' = u + 1 too, but also counts its own steps in
 * a second state (to check the state mapping by name). */
static const tm_var_t s_probe_lo_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"},
    {"steps", "1", 0.0, 0, 1e300, 0, "steps at this tier"}};

static void s_probe_lo_output(size_t n, const double *x, const double *p,
                              const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[2 * i];
    }
}

static void s_probe_lo_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                            const double *p, const double *u, double *y,
                            uint8_t *st)
{
    (void)ctx;
    (void)p;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = u[2 * i] + u[2 * i + 1] + 1.0;
        x[2 * i + 1] += 1.0;
        y[i] = x[2 * i];
    }
}

static int s_probe_lo_init(const double *p, double *x)
{
    x[0] = p[0];
    x[1] = 0.0;
    return TM_STEP_OK;
}

static const tm_model_t s_probe_lo = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "probe",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_LOW,
    .summary = "test probe, low tier",
    .states = s_probe_lo_states,
    .n_states = 2,
    .inputs = s_probe_inputs,
    .n_inputs = 2,
    .outputs = s_probe_outputs,
    .n_outputs = 1,
    .params = s_probe_params,
    .n_params = 2,
    .init = s_probe_lo_init,
    .output = s_probe_lo_output,
    .step = s_probe_lo_step,
};

/* source: stateless, y = param v; used to feed exact values. */
static const tm_var_t s_src_outputs[] = {{"y", "1", 0, 0, 0, 0, "v"}};
static const tm_var_t s_src_params[] = {
    {"v", "1", 0.0, -1e300, 1e300, 0, "value"}};

static int s_src_init(const double *p, double *x)
{
    (void)p;
    (void)x;
    return TM_STEP_OK;
}

static void s_src_output(size_t n, const double *x, const double *p,
                         const double *u, double *y)
{
    (void)x;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = p[i];
    }
}

static void s_src_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    (void)ctx;
    (void)st;
    s_src_output(n, x, p, u, y);
}

static const tm_model_t s_src = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "source",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "constant source",
    .outputs = s_src_outputs,
    .n_outputs = 1,
    .params = s_src_params,
    .n_params = 1,
    .init = s_src_init,
    .output = s_src_output,
    .step = s_src_step,
};

/* mix: a nonlinear 2-state map driven by a summing input, for digests;
 * uses h and the counter-based key so both must be deterministic. */
static const tm_var_t s_mix_states[] = {{"a", "1", 0.1, -1e300, 1e300, 0, ""},
                                        {"b", "1", 0.2, -1e300, 1e300, 0, ""}};
static const tm_var_t s_mix_inputs[] = {
    {"u", "1", 0.0, -1e300, 1e300, TM_VAR_SUMMING, ""}};
static const tm_var_t s_mix_outputs[] = {{"y", "1", 0, 0, 0, 0, ""}};
static const tm_var_t s_mix_params[] = {{"g", "1", 0.5, 0, 10, 0, ""}};

static int s_mix_init(const double *p, double *x)
{
    x[0] = 0.1 * p[0];
    x[1] = 0.2;
    return TM_STEP_OK;
}

static void s_mix_output(size_t n, const double *x, const double *p,
                         const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[2 * i] - x[2 * i + 1];
    }
}

static void s_mix_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    (void)st;
    for (size_t i = 0; i < n; i++) {
        double a = x[2 * i];
        double b = x[2 * i + 1];
        double k = (double)(ctx->keys[i] % 1000u) / 1000.0;
        x[2 * i] = sin(a + ctx->h * (b + p[i] * tanh(u[i])) + k);
        x[2 * i + 1] = cos(b - ctx->h * a * a);
        y[i] = x[2 * i] - x[2 * i + 1];
    }
}

static const tm_model_t s_mix = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "mix",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "chaotic mixer",
    .states = s_mix_states,
    .n_states = 2,
    .inputs = s_mix_inputs,
    .n_inputs = 1,
    .outputs = s_mix_outputs,
    .n_outputs = 1,
    .params = s_mix_params,
    .n_params = 1,
    .init = s_mix_init,
    .output = s_mix_output,
    .step = s_mix_step,
};

static tm_rt_t *s_open_inline(unsigned workers, size_t inline_actors)
{
    tm_rt_config_t cfg = {.workers = workers,
                          .h = 0.01,
                          .seed = 7,
                          .inline_actors = inline_actors};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    assert_non_null(rt);
    return rt;
}

static tm_rt_t *s_open(unsigned workers)
{
    return s_open_inline(workers, 0);
}

static double s_out(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v.outputs[0];
}

/* ---- tests -------------------------------------------------------------- */

static void test_open_errors(void **state)
{
    (void)state;
    tm_rt_t *rt = NULL;
    tm_rt_config_t bad = {.workers = 1, .h = 0.0};
    assert_int_equal(tm_rt_open(&rt, &bad), TM_ERR_INVAL);
    bad.h = NAN;
    assert_int_equal(tm_rt_open(&rt, &bad), TM_ERR_INVAL);
    bad.h = 0.1;
    bad.workers = 65;
    assert_int_equal(tm_rt_open(&rt, &bad), TM_ERR_INVAL);
    assert_null(rt);
    tm_rt_destroy(&rt); /* NULL-safe */
}

static void test_ids(void **state)
{
    (void)state;
    assert_true(tm_rt_id_valid("pump-1_A"));
    assert_false(tm_rt_id_valid(""));
    assert_false(tm_rt_id_valid(NULL));
    assert_false(tm_rt_id_valid("a b"));
    assert_false(tm_rt_id_valid("a.b"));
    char id[80];
    memset(id, 'x', 64);
    id[64] = '\0';
    assert_true(tm_rt_id_valid(id));
    id[64] = 'x';
    id[65] = '\0';
    assert_false(tm_rt_id_valid(id));
}

/* A chain p0 -> p1 -> ... : y_i(k) = y_{i-1}(k-1) + 1, y_0(k) = 1. */
static void s_chain_check(unsigned workers)
{
    tm_rt_t *rt = s_open(workers);
    enum { L = 12, K = 20 };
    char id[16];
    /* Spawn in reverse order so slot order differs from chain order. */
    for (int i = L - 1; i >= 0; i--) {
        snprintf(id, sizeof id, "p%02d", i);
        assert_int_equal(tm_rt_spawn(rt, id, &s_probe, NULL), 0);
    }
    for (int i = 1; i < L; i++) {
        char a[16];
        snprintf(a, sizeof a, "p%02d", i - 1);
        snprintf(id, sizeof id, "p%02d", i);
        assert_int_equal(tm_rt_link(rt, a, "y", id, "w"), 0);
    }
    double ref[L] = {0};
    for (int k = 1; k <= K; k++) {
        double next[L];
        for (int i = 0; i < L; i++) {
            next[i] = (i == 0 ? 0.0 : ref[i - 1]) + 1.0;
        }
        memcpy(ref, next, sizeof ref);
        assert_int_equal(tm_rt_step(rt, 1), 0);
        assert_int_equal(tm_rt_tick(rt), (uint64_t)k);
        for (int i = 0; i < L; i++) {
            snprintf(id, sizeof id, "p%02d", i);
            assert_true(s_out(rt, id) == ref[i]);
        }
    }
    tm_rt_destroy(&rt);
    assert_null(rt);
}

static void test_one_tick_delay(void **state)
{
    (void)state;
    s_chain_check(1);
    s_chain_check(2);
    s_chain_check(3);
}

static void test_spawn_outputs_zero_inputs(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    double p[] = {5.0, -1.0};
    tm_rt_spawn_opts_t o = {.params = p};
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, &o), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "a", &v), 0);
    assert_true(v.outputs[0] == 5.0);
    assert_true(v.inputs[0] == 0.0 && v.inputs[1] == 0.0);
    assert_int_equal(v.period, 1);
    assert_string_equal(v.model->family, "probe");
    /* Restoring an actor takes its outputs as given (a checkpoint). */
    double y = 9.5;
    tm_rt_spawn_opts_t r = {.params = p, .outputs = &y};
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, &r), 0);
    assert_int_equal(tm_rt_get(rt, "b", &v), 0);
    assert_true(v.outputs[0] == 9.5 && v.state[0] == 5.0);
    double nan = NAN;
    r.outputs = &nan;
    assert_int_equal(tm_rt_spawn(rt, "c", &s_probe, &r), TM_ERR_BAD_VALUE);
    tm_rt_destroy(&rt);
}

/* Summing order: 1e16 + 1 - 1e16 is 0 in ascending-id order (a, b, c) and
 * 1 in any order that adds a and c first. */
static void s_summing_check(unsigned workers)
{
    tm_rt_t *rt = s_open(workers);
    double vc = -1e16, va = 1e16, vb = 1.0;
    tm_rt_spawn_opts_t oc = {.params = &vc};
    tm_rt_spawn_opts_t oa = {.params = &va};
    tm_rt_spawn_opts_t ob = {.params = &vb};
    assert_int_equal(tm_rt_spawn(rt, "zsum", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "c", &s_src, &oc), 0);
    assert_int_equal(tm_rt_spawn(rt, "a", &s_src, &oa), 0);
    assert_int_equal(tm_rt_spawn(rt, "b", &s_src, &ob), 0);
    assert_int_equal(tm_rt_link(rt, "c", "y", "zsum", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "a", "y", "zsum", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "b", "y", "zsum", "u"), 0);
    assert_int_equal(tm_rt_step(rt, 2), 0);
    /* x = (1e16 + 1) + -1e16 + 1 = 0 + 1 */
    assert_true(s_out(rt, "zsum") == 1.0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "zsum", &v), 0);
    assert_int_equal(v.linked[0], 3);
    assert_int_equal(v.linked[1], 0);
    tm_rt_destroy(&rt);
}

static void test_summing_order(void **state)
{
    (void)state;
    s_summing_check(1);
    s_summing_check(2);
}

static void test_link_errors(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2);
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, NULL),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_int_equal(tm_rt_spawn(rt, "bad id", &s_probe, NULL), TM_ERR_BAD_ID);
    assert_int_equal(tm_rt_link(rt, "a", "y", "nope", "u"),
                     TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_link(rt, "a", "nope", "b", "u"),
                     TM_ERR_UNKNOWN_PORT);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "nope"),
                     TM_ERR_UNKNOWN_PORT);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "w"), 0);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "w"), TM_ERR_EXISTS);
    assert_int_equal(tm_rt_link(rt, "b", "y", "b", "w"), TM_ERR_INPUT_LINKED);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "b", "y", "b", "u"), 0); /* summing */
    assert_int_equal(tm_rt_unlink(rt, "b", "y", "a", "u"), TM_ERR_NOT_LINKED);
    assert_int_equal(tm_rt_unlink(rt, "a", "y", "b", "w"), 0);
    assert_int_equal(tm_rt_unlink(rt, "a", "y", "b", "w"), TM_ERR_NOT_LINKED);
    assert_int_equal(tm_rt_link(rt, "b", "y", "b", "w"), 0);
    tm_rt_stats_t st;
    tm_rt_stats(rt, &st);
    assert_int_equal(st.links, 3);
    assert_int_equal(st.actors, 2);
    assert_int_equal(tm_rt_kill(rt, "nope"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_kill(rt, "a"), 0);
    tm_rt_stats(rt, &st);
    assert_int_equal(st.links, 2); /* b.y -> b.u and b.y -> b.w remain */
    assert_int_equal(st.actors, 1);
    assert_int_equal(tm_rt_get(rt, "a", &(tm_rt_actor_t){0}),
                     TM_ERR_UNKNOWN_ACTOR);
    /* The id is free again. */
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, NULL), 0);
    tm_rt_destroy(&rt);
}

static void test_set(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_set(rt, "a", "x0", 3.0), 0);
    assert_int_equal(tm_rt_set(rt, "a", "x", 42.0), 0);
    assert_true(s_out(rt, "a") == 42.0); /* outputs follow a set state */
    assert_int_equal(tm_rt_set(rt, "a", "w", 10.0), 0);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    assert_true(s_out(rt, "a") == 11.0); /* held input used */
    assert_int_equal(tm_rt_set(rt, "a", "x0", 2e6), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_set(rt, "a", "x", INFINITY), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_set(rt, "a", "nope", 1.0), TM_ERR_UNKNOWN_PORT);
    assert_int_equal(tm_rt_set(rt, "zz", "x", 1.0), TM_ERR_UNKNOWN_ACTOR);
    double bad[] = {NAN, -1.0};
    tm_rt_spawn_opts_t o = {.params = bad};
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, &o), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_count(rt), 1);
    tm_rt_destroy(&rt);
}

static void test_period(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2);
    tm_rt_spawn_opts_t o = {.period = 3};
    assert_int_equal(tm_rt_spawn(rt, "slow", &s_probe, &o), 0);
    assert_int_equal(tm_rt_spawn(rt, "fast", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link(rt, "slow", "y", "fast", "w"), 0);
    assert_int_equal(tm_rt_set(rt, "slow", "w", 5.0), 0);
    for (int k = 1; k <= 7; k++) {
        assert_int_equal(tm_rt_step(rt, 1), 0);
        double slow = k >= 3 ? 6.0 : 0.0;
        assert_true(s_out(rt, "slow") == slow);
        double slow_prev = (k - 1) >= 3 ? 6.0 : 0.0;
        assert_true(s_out(rt, "fast") == slow_prev + 1.0);
    }
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "slow", &v), 0);
    assert_int_equal(v.period, 3);
    assert_int_equal(v.health.last_stepped, 6);
    tm_rt_destroy(&rt);
}

static void test_fault_restores_state(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    double p[] = {0.0, 1e9};
    tm_rt_spawn_opts_t o = {.params = p};
    assert_int_equal(tm_rt_spawn(rt, "f", &s_probe, &o), 0);
    assert_int_equal(tm_rt_set(rt, "f", "w", 4.0), 0);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    assert_true(s_out(rt, "f") == 5.0);
    assert_int_equal(tm_rt_set(rt, "f", "fail_at", 6.0), 0);
    assert_int_equal(tm_rt_set(rt, "f", "w", 7.0), 0);
    assert_int_equal(tm_rt_step(rt, 2), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "f", &v), 0);
    assert_true(v.state[0] == 5.0);
    assert_true(v.outputs[0] == 5.0);
    assert_int_equal(v.health.faults, 2);
    assert_int_equal(v.health.last_fault, 3);
    assert_int_equal(v.health.last_status, TM_STEP_FAILED);
    /* Non-finite results are caught by the runtime too. */
    assert_int_equal(tm_rt_set(rt, "f", "fail_at", -1.0), 0);
    assert_int_equal(tm_rt_set(rt, "f", "w", 1e308), 0);
    assert_int_equal(tm_rt_spawn(rt, "g", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_set(rt, "g", "w", 1e308), 0);
    assert_int_equal(tm_rt_link(rt, "g", "y", "f", "u"), 0);
    assert_int_equal(tm_rt_step(rt, 2), 0); /* 1e308 + 1e308 = inf */
    assert_int_equal(tm_rt_get(rt, "f", &v), 0);
    assert_int_equal(v.health.last_status, TM_STEP_NONFINITE);
    assert_true(isfinite(v.outputs[0]));
    tm_rt_stats_t st;
    tm_rt_stats(rt, &st);
    assert_true(st.faults >= 3);
    tm_rt_destroy(&rt);
}

static void test_set_model_tier(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2);
    assert_int_equal(tm_rt_spawn(rt, "src", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "t", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link(rt, "src", "y", "t", "w"), 0);
    assert_int_equal(tm_rt_step(rt, 3), 0);
    double before = s_out(rt, "t");
    assert_int_equal(tm_rt_set_model(rt, "t", &s_probe_lo), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "t", &v), 0);
    assert_ptr_equal(v.model, &s_probe_lo);
    assert_true(v.state[0] == before); /* continuous */
    assert_true(v.outputs[0] == before);
    assert_int_equal(v.linked[1], 1); /* link kept */
    assert_int_equal(tm_rt_step(rt, 2), 0);
    assert_int_equal(tm_rt_get(rt, "t", &v), 0);
    assert_true(v.state[1] == 2.0);
    assert_true(v.outputs[0] == 2.0); /* src.y(k-1) + 1 = 1 + 1 */
    assert_int_equal(tm_rt_set_model(rt, "t", &s_mix), TM_ERR_INVAL);
    assert_int_equal(tm_rt_set_model(rt, "t", &s_probe), 0);
    assert_int_equal(tm_rt_get(rt, "t", &v), 0);
    assert_true(v.state[0] == 2.0);
    tm_rt_destroy(&rt);
}

/* Build the same random mesh with a given worker count and spawn order
 * and return its digest after K ticks. */
static void s_random_mesh(unsigned workers, int reverse, int kill_some,
                          size_t inline_actors, uint8_t digest[32])
{
    enum { N = 600, LINKS = 1500, K = 40 };
    tm_rt_t *rt = s_open_inline(workers, inline_actors);
    char id[16];
    for (int j = 0; j < N; j++) {
        int i = reverse ? N - 1 - j : j;
        snprintf(id, sizeof id, "m%04d", i);
        double g = (double)(i % 7) * 0.3;
        tm_rt_spawn_opts_t o = {.params = &g, .period = (i % 5 == 0) ? 2 : 1};
        assert_int_equal(tm_rt_spawn(rt, id, &s_mix, &o), 0);
    }
    uint64_t r = 12345;
    int pairs[LINKS][2];
    for (int l = 0; l < LINKS; l++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        pairs[l][0] = (int)((r >> 33) % N);
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        pairs[l][1] = (int)((r >> 33) % N);
    }
    for (int j = 0; j < LINKS; j++) {
        int l = reverse ? LINKS - 1 - j : j;
        char a[16];
        snprintf(a, sizeof a, "m%04d", pairs[l][0]);
        snprintf(id, sizeof id, "m%04d", pairs[l][1]);
        int rc = tm_rt_link(rt, a, "y", id, "u");
        assert_true(rc == 0 || rc == TM_ERR_EXISTS);
    }
    assert_int_equal(tm_rt_step(rt, K / 2), 0);
    if (kill_some) {
        for (int i = 0; i < N; i += 37) {
            snprintf(id, sizeof id, "m%04d", i);
            assert_int_equal(tm_rt_kill(rt, id), 0);
        }
    }
    assert_int_equal(tm_rt_step(rt, K / 2), 0);
    assert_int_equal(tm_rt_digest(rt, digest), 0);
    tm_rt_destroy(&rt);
}

static void test_determinism_workers(void **state)
{
    (void)state;
    uint8_t d1[32], d2[32], d3[32], d4[32], d5[32];
    s_random_mesh(1, 0, 0, 0, d1);
    s_random_mesh(2, 1, 0, 0, d2);
    s_random_mesh(3, 0, 0, 0, d3);
    s_random_mesh(1, 0, 0, 0, d4);
    s_random_mesh(2, 0, 0, 100000, d5); /* stepped on the control thread */
    assert_memory_equal(d1, d2, 32);
    assert_memory_equal(d1, d3, 32);
    assert_memory_equal(d1, d4, 32);
    assert_memory_equal(d1, d5, 32);
    uint8_t k1[32], k2[32], k3[32];
    s_random_mesh(1, 0, 1, 0, k1);
    s_random_mesh(2, 1, 1, 0, k2);
    s_random_mesh(2, 1, 1, 590, k3); /* workers, then inline after kills */
    assert_memory_equal(k1, k2, 32);
    assert_memory_equal(k1, k3, 32);
    assert_memory_not_equal(d1, k1, 32);
}

static void test_digest_changes(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    uint8_t a[32], b[32], c[32];
    assert_int_equal(tm_rt_digest(rt, a), 0);
    assert_int_equal(tm_rt_spawn(rt, "x", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_digest(rt, b), 0);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(tm_rt_set(rt, "x", "x", -0.0), 0);
    assert_int_equal(tm_rt_digest(rt, c), 0);
    assert_memory_not_equal(b, c, 32); /* state bits, not values */
    tm_rt_destroy(&rt);
}

/* The digest covers everything that defines the mesh: a parameter, a held
 * input, a link or the period changes it, and undoing the change brings it
 * back; parts of different ticks do not combine. */
static void test_digest_covers_mesh(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    uint8_t base[32], d[32];
    tm_rt_spawn_opts_t slow = {.period = 2};
    assert_int_equal(tm_rt_spawn(rt, "x", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "y", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_digest(rt, base), 0);
    const tm_var_t *p = &s_probe.params[0];
    const tm_var_t *in = &s_probe.inputs[0];
    double p0 = p->def;
    assert_int_equal(tm_rt_set(rt, "x", p->name, p0 + 0.5), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_not_equal(base, d, 32); /* a parameter */
    assert_int_equal(tm_rt_set(rt, "x", p->name, p0), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_equal(base, d, 32);
    assert_int_equal(tm_rt_set(rt, "y", in->name, in->def + 1), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_not_equal(base, d, 32); /* a held input */
    assert_int_equal(tm_rt_set(rt, "y", in->name, in->def), 0);
    assert_int_equal(
        tm_rt_link(rt, "x", s_probe.outputs[0].name, "y", in->name), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_not_equal(base, d, 32); /* a link */
    assert_int_equal(
        tm_rt_unlink(rt, "x", s_probe.outputs[0].name, "y", in->name), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_equal(base, d, 32);
    assert_int_equal(tm_rt_kill(rt, "y"), 0);
    assert_int_equal(tm_rt_spawn(rt, "y", &s_probe, &slow), 0);
    assert_int_equal(tm_rt_digest(rt, d), 0);
    assert_memory_not_equal(base, d, 32); /* the period */
    tm_rt_digest_part_t parts[2];
    assert_int_equal(tm_rt_digest_part(rt, &parts[0]), 0);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    assert_int_equal(tm_rt_digest_part(rt, &parts[1]), 0);
    assert_int_equal(tm_rt_digest_combine(parts, 2, d), TM_ERR_INVAL);
    tm_rt_destroy(&rt);
}

static int s_count_cb(const tm_rt_actor_t *v, void *arg)
{
    (void)v;
    (*(size_t *)arg)++;
    return 0;
}

static int s_count_link_cb(const tm_rt_link_t *l, void *arg)
{
    assert_string_equal(l->output, "y");
    (*(size_t *)arg)++;
    return 0;
}

static void test_foreach(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2);
    char id[16];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "a%d", i);
        assert_int_equal(tm_rt_spawn(rt, id, &s_probe, NULL), 0);
        if (i > 0) {
            char prev[16];
            snprintf(prev, sizeof prev, "a%d", i - 1);
            assert_int_equal(tm_rt_link(rt, prev, "y", id, "u"), 0);
        }
    }
    size_t n = 0;
    assert_int_equal(tm_rt_foreach(rt, s_count_cb, &n), 0);
    assert_int_equal(n, 100);
    n = 0;
    assert_int_equal(tm_rt_foreach_link(rt, s_count_link_cb, &n), 0);
    assert_int_equal(n, 99);
    tm_rt_destroy(&rt);
}

/* Ownership epochs: given at spawn, changed by tm_rt_set_epoch, shown by
 * tm_rt_get, kept across steps and a tier change. */
static void test_epoch(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2);
    tm_rt_actor_t v;
    tm_rt_spawn_opts_t moved = {.epoch = 4};
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, &moved), 0);
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_get(rt, "a", &v), 0);
    assert_int_equal(v.epoch, 4);
    assert_false(v.remote);
    assert_false(v.imported);
    assert_int_equal(tm_rt_get(rt, "b", &v), 0);
    assert_int_equal(v.epoch, 0);
    assert_int_equal(tm_rt_set_epoch(rt, "b", UINT32_MAX), 0);
    assert_int_equal(tm_rt_get(rt, "b", &v), 0);
    assert_true(v.epoch == UINT32_MAX);
    assert_int_equal(tm_rt_get(rt, "a", &v), 0);
    assert_int_equal(v.epoch, 4); /* the other one's unchanged */
    assert_int_equal(tm_rt_set_epoch(rt, "nobody", 1), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_link(rt, "a", "y", "b", "u"), 0);
    assert_int_equal(tm_rt_step(rt, 3), 0);
    assert_int_equal(tm_rt_set_model(rt, "a", &s_probe_lo), 0);
    assert_int_equal(tm_rt_step(rt, 2), 0);
    assert_int_equal(tm_rt_get(rt, "a", &v), 0);
    assert_int_equal(v.epoch, 4);
    assert_int_equal(tm_rt_get(rt, "b", &v), 0);
    assert_true(v.epoch == UINT32_MAX);
    /* a new actor of a killed one's id starts from its own */
    assert_int_equal(tm_rt_kill(rt, "b"), 0);
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_get(rt, "b", &v), 0);
    assert_int_equal(v.epoch, 0);
    tm_rt_destroy(&rt);
}

/* Two runtimes that differ only in an actor's epoch have the same digest:
 * the epoch says where an actor runs, not what it computes. */
static void test_epoch_not_in_digest(void **state)
{
    (void)state;
    uint8_t d1[32], d2[32];
    tm_rt_t *r1 = s_open(1);
    tm_rt_t *r2 = s_open(2);
    tm_rt_spawn_opts_t moved = {.epoch = 3};
    assert_int_equal(tm_rt_spawn(r1, "x", &s_mix, NULL), 0);
    assert_int_equal(tm_rt_spawn(r2, "x", &s_mix, &moved), 0);
    assert_int_equal(tm_rt_spawn(r1, "y", &s_mix, NULL), 0);
    assert_int_equal(tm_rt_spawn(r2, "y", &s_mix, NULL), 0);
    assert_int_equal(tm_rt_link(r1, "x", "y", "y", "u"), 0);
    assert_int_equal(tm_rt_link(r2, "x", "y", "y", "u"), 0);
    assert_int_equal(tm_rt_digest(r1, d1), 0);
    assert_int_equal(tm_rt_digest(r2, d2), 0);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(tm_rt_set_epoch(r2, "y", 70000), 0);
    assert_int_equal(tm_rt_step(r1, 25), 0);
    assert_int_equal(tm_rt_step(r2, 25), 0);
    assert_int_equal(tm_rt_digest(r1, d1), 0);
    assert_int_equal(tm_rt_digest(r2, d2), 0);
    assert_memory_equal(d1, d2, 32);
    /* while the digest does see a change of what it computes */
    assert_int_equal(tm_rt_set(r2, "y", "g", 0.25), 0);
    assert_int_equal(tm_rt_digest(r2, d2), 0);
    assert_memory_not_equal(d1, d2, 32);
    tm_rt_destroy(&r1);
    tm_rt_destroy(&r2);
}

/* A proxy is imported into (tm_rt_get's .imported) from its first
 * successful tm_rt_import or tm_rt_import_at on; a refused import, a local
 * actor and a proxy made again are not. */
static void test_proxy_imported(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    tm_rt_actor_t v;
    const double one = 1.5;
    const double nan1 = NAN;
    assert_int_equal(tm_rt_spawn(rt, "local", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "p-at", &s_probe), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "p-all", &s_probe), 0);
    assert_int_equal(tm_rt_link_delay(rt, "p-at", "y", "local", "u", 3), 0);
    assert_int_equal(tm_rt_get(rt, "p-at", &v), 0);
    assert_true(v.remote);
    assert_false(v.imported);
    assert_int_equal(v.epoch, 0);
    assert_int_equal(tm_rt_step(rt, 4), 0);

    /* refused: a value not finite, a tick outside the window, NULL */
    assert_int_equal(tm_rt_import_at(rt, "p-at", 4, &nan1), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_import_at(rt, "p-at", 5, &one), TM_ERR_RANGE);
    assert_int_equal(tm_rt_import_at(rt, "p-at", 1, &one), TM_ERR_RANGE);
    assert_int_equal(tm_rt_import_at(rt, "p-at", 4, NULL), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import(rt, "p-all", &nan1), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_get(rt, "p-at", &v), 0);
    assert_false(v.imported);
    assert_int_equal(tm_rt_get(rt, "p-all", &v), 0);
    assert_false(v.imported);

    /* a past tick of the window */
    assert_int_equal(tm_rt_import_at(rt, "p-at", 2, &one), 0);
    assert_int_equal(tm_rt_get(rt, "p-at", &v), 0);
    assert_true(v.imported);
    assert_int_equal(tm_rt_get(rt, "p-all", &v), 0);
    assert_false(v.imported); /* the other proxy's unchanged */
    assert_int_equal(tm_rt_import(rt, "p-all", &one), 0);
    assert_int_equal(tm_rt_get(rt, "p-all", &v), 0);
    assert_true(v.imported);
    assert_true(v.outputs[0] == 1.5);

    /* it stays so across steps; an epoch is set on a proxy too */
    assert_int_equal(tm_rt_step(rt, 2), 0);
    assert_int_equal(tm_rt_set_epoch(rt, "p-all", 2), 0);
    assert_int_equal(tm_rt_get(rt, "p-all", &v), 0);
    assert_true(v.imported);
    assert_int_equal(v.epoch, 2);

    /* a local actor is never imported into */
    assert_int_equal(tm_rt_import(rt, "local", &one), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import_at(rt, "local", 6, &one), TM_ERR_INVAL);
    assert_int_equal(tm_rt_get(rt, "local", &v), 0);
    assert_false(v.imported);

    /* made again: not imported into yet */
    assert_int_equal(tm_rt_kill(rt, "p-all"), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "p-all", &s_probe), 0);
    assert_int_equal(tm_rt_get(rt, "p-all", &v), 0);
    assert_false(v.imported);
    assert_int_equal(v.epoch, 0);
    tm_rt_destroy(&rt);
}

/* Handles reach what ids reach, and a kill (only a kill) tells their
 * holders to take them again: the freed place may hold another actor. */
static void test_handles(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1);
    const double *by_id = NULL;
    const double *by_h = NULL;
    const tm_model_t *model = NULL;
    const double two = 2.5;
    assert_int_equal(tm_rt_spawn(rt, "a", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "p", &s_probe), 0);
    assert_int_equal(tm_rt_link(rt, "p", "y", "a", "u"), 0);
    assert_int_equal(tm_rt_handle(rt, "nobody"), TM_RT_NO_HANDLE);
    uint32_t ha = tm_rt_handle(rt, "a");
    uint32_t hp = tm_rt_handle(rt, "p");
    assert_true(ha != TM_RT_NO_HANDLE && hp != TM_RT_NO_HANDLE && ha != hp);
    uint64_t kills = tm_rt_kills(rt);
    assert_int_equal(tm_rt_step(rt, 3), 0);
    assert_int_equal(tm_rt_outputs(rt, "a", &by_id, NULL), 0);
    assert_int_equal(tm_rt_outputs_at_h(rt, ha, 3, &by_h, &model), 0);
    assert_ptr_equal(by_id, by_h);
    assert_ptr_equal(model, &s_probe);
    assert_int_equal(tm_rt_import_at_h(rt, hp, 3, &two), 0);
    assert_int_equal(tm_rt_outputs(rt, "p", &by_id, NULL), 0);
    assert_true(by_id[0] == 2.5);
    /* the same checks as by id */
    assert_int_equal(tm_rt_import_at_h(rt, hp, 4, &two), TM_ERR_RANGE);
    assert_int_equal(tm_rt_import_at_h(rt, ha, 3, &two), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import_at_h(rt, TM_RT_NO_HANDLE, 3, &two),
                     TM_ERR_UNKNOWN_ACTOR);
    /* spawns and steps keep handles; a kill changes the count, and its
     * handle reaches nothing until the place is taken again */
    assert_int_equal(tm_rt_spawn(rt, "b", &s_probe, NULL), 0);
    assert_true(tm_rt_kills(rt) == kills);
    assert_int_equal(tm_rt_kill(rt, "p"), 0);
    assert_true(tm_rt_kills(rt) == kills + 1);
    assert_int_equal(tm_rt_import_at_h(rt, hp, 3, &two), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_outputs_at_h(rt, hp, 3, &by_h, NULL),
                     TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_spawn(rt, "c", &s_probe, NULL), 0);
    assert_true(tm_rt_handle(rt, "c") == hp); /* the freed place */
    assert_true(tm_rt_handle(rt, "a") == ha);
    tm_rt_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handles),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_one_tick_delay),
        cmocka_unit_test(test_spawn_outputs_zero_inputs),
        cmocka_unit_test(test_summing_order),
        cmocka_unit_test(test_link_errors),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_period),
        cmocka_unit_test(test_fault_restores_state),
        cmocka_unit_test(test_set_model_tier),
        cmocka_unit_test(test_determinism_workers),
        cmocka_unit_test(test_digest_changes),
        cmocka_unit_test(test_digest_covers_mesh),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_epoch_not_in_digest),
        cmocka_unit_test(test_proxy_imported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
