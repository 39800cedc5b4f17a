/* tank_test: the open tank: mass balance with spill and dry-run
 * accounting (high tier), clamping (low tier), flow outputs, tier maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_model.h"
#include "tm_rng.h"

#include <math.h>
#include <stdio.h>

/* Random flows drive the tank full and empty many times; the books must
 * close: A (h_end - h_0) = sum (qin - qout) h - spilled + missing. */
static void test_mass_balance(void **state)
{
    (void)state;
    const tm_model_t *m = fx_model("tank", TM_FIDELITY_HIGH);
    assert_non_null(m);
    fx_actor_t a;
    fx_defaults(&a, m);
    const double area = 2.5, hmax = 3.0, h0 = 1.0, dt = 0.5;
    a.params[fx_param(m, "area")] = area;
    a.params[fx_param(m, "hmax")] = hmax;
    a.params[fx_param(m, "h0")] = h0;
    assert_int_equal(fx_init(&a), TM_STEP_OK);
    const int qin = fx_input(m, "qin"), qout = fx_input(m, "qout");
    const int sh = fx_state(m, "h"), sp = fx_state(m, "v_spill"),
              ss = fx_state(m, "v_short");
    double net_volume = 0.0, throughput = 0.0;
    int full = 0, empty = 0;
    tm_rng_t rng;
    tm_rng_init(&rng, 2024, 17, 0);
    for (int k = 0; k < 100000; k++) {
        /* Runs of 200 ticks biased to fill or to drain. */
        const double bias = ((k / 200) % 2 == 0) ? 0.1 : -0.1;
        a.inputs[qin] =
            0.05 * tm_rng_next_uniform(&rng) + (bias > 0 ? bias : 0);
        a.inputs[qout] =
            0.05 * tm_rng_next_uniform(&rng) + (bias < 0 ? -bias : 0);
        net_volume += (a.inputs[qin] - a.inputs[qout]) * dt;
        throughput += (a.inputs[qin] + a.inputs[qout]) * dt;
        assert_int_equal(fx_step(&a, dt), TM_STEP_OK);
        const double h = a.state[sh];
        assert_true(h >= 0.0 && h <= hmax);
        full += h == hmax;
        empty += h == 0.0;
    }
    const double stored = area * (a.state[sh] - h0);
    const double residual = stored - (net_volume - a.state[sp] + a.state[ss]);
    printf("tank: throughput %.1f m^3, spilled %.3f m^3, missing %.3f m^3, "
           "balance residual %.3e m^3 (%.1e of throughput)\n",
           throughput, a.state[sp], a.state[ss], residual,
           fabs(residual) / throughput);
    assert_true(full > 1000 && empty > 1000); /* both limits were hit */
    assert_true(a.state[sp] > 1.0 && a.state[ss] > 1.0);
    assert_true(fabs(residual) <= 1e-12 * throughput);
}

/* A single step that crosses the rim: spilled volume exactly what did not
 * fit; the outputs report the spill flow at the full state. */
static void test_overflow_step(void **state)
{
    (void)state;
    const tm_model_t *m = fx_model("tank", TM_FIDELITY_HIGH);
    fx_actor_t a;
    fx_defaults(&a, m); /* area 2, h0 1, hmax 3 */
    assert_int_equal(fx_init(&a), TM_STEP_OK);
    a.inputs[fx_input(m, "qin")] = 0.5;
    a.inputs[fx_input(m, "qout")] = 0.1;
    assert_int_equal(fx_step(&a, 20.0), TM_STEP_OK); /* 8 m^3 in, 4 fit */
    assert_true(a.state[fx_state(m, "h")] == 3.0);
    assert_true(fabs(a.state[fx_state(m, "v_spill")] - 4.0) < 1e-12);
    assert_true(a.outputs[fx_output(m, "level")] == 3.0);
    assert_true(a.outputs[fx_output(m, "volume")] == 6.0);
    assert_true(fabs(a.outputs[fx_output(m, "spill")] - 0.4) < 1e-15);
    assert_true(a.outputs[fx_output(m, "outflow")] == 0.1);
}

static void test_dry_run_step(void **state)
{
    (void)state;
    for (int t = 0; t < 2; t++) {
        const tm_model_t *m =
            fx_model("tank", t == 0 ? TM_FIDELITY_HIGH : TM_FIDELITY_LOW);
        fx_actor_t a;
        fx_defaults(&a, m); /* 2 m^3 stored */
        assert_int_equal(fx_init(&a), TM_STEP_OK);
        a.inputs[fx_input(m, "qin")] = 0.02;
        a.inputs[fx_input(m, "qout")] = 0.12;
        assert_int_equal(fx_step(&a, 30.0), TM_STEP_OK); /* 3 m^3 short */
        assert_true(a.state[fx_state(m, "h")] == 0.0);
        if (t == 0) {
            assert_true(fabs(a.state[fx_state(m, "v_short")] - 1.0) < 1e-12);
        }
        /* Empty: only the inflow goes out. */
        assert_true(fabs(a.outputs[fx_output(m, "outflow")] - 0.02) < 1e-15);
        assert_true(a.outputs[fx_output(m, "spill")] == 0.0);
    }
}

/* Both tiers follow the same level (linear in time for constant flows). */
static void test_tiers_agree(void **state)
{
    (void)state;
    const tm_model_t *hi = fx_model("tank", TM_FIDELITY_HIGH);
    const tm_model_t *lo = fx_model("tank", TM_FIDELITY_LOW);
    fx_actor_t a, b;
    fx_defaults(&a, hi);
    fx_defaults(&b, lo);
    assert_int_equal(fx_init(&a), TM_STEP_OK);
    assert_int_equal(fx_init(&b), TM_STEP_OK);
    for (int k = 0; k < 2000; k++) {
        const double qin = 0.01 * (1.0 + sin(0.01 * k));
        a.inputs[0] = b.inputs[0] = qin;
        a.inputs[1] = b.inputs[1] = 0.008;
        assert_int_equal(fx_step(&a, 1.0), TM_STEP_OK);
        assert_int_equal(fx_step(&b, 1.0), TM_STEP_OK);
        for (uint32_t j = 0; j < hi->n_outputs; j++) {
            assert_true(fabs(a.outputs[j] - b.outputs[j]) < 1e-12);
        }
    }
}

/* Spawn refuses h0 above the rim; a level set by hand above it spills at
 * the next step. */
static void test_init_and_hand_set(void **state)
{
    (void)state;
    const tm_model_t *m = fx_model("tank", TM_FIDELITY_HIGH);
    fx_actor_t a;
    fx_defaults(&a, m);
    a.params[fx_param(m, "h0")] = 3.5;
    assert_int_equal(m->init(a.params, a.state), TM_STEP_FAILED);
    a.params[fx_param(m, "h0")] = 1.0;
    assert_int_equal(fx_init(&a), TM_STEP_OK);
    a.state[fx_state(m, "h")] = 3.5;
    assert_int_equal(fx_step(&a, 1.0), TM_STEP_OK);
    assert_true(a.state[fx_state(m, "h")] == 3.0);
    assert_true(fabs(a.state[fx_state(m, "v_spill")] - 1.0) < 1e-15);
}

/* Tier maps: the level carries over both ways; the books survive a trip
 * through an older high-tier layout and restart at zero from the low
 * tier. */
static void test_map_state(void **state)
{
    (void)state;
    const tm_model_t *hi = fx_model("tank", TM_FIDELITY_HIGH);
    const tm_model_t *lo = fx_model("tank", TM_FIDELITY_LOW);
    const double params[3] = {2.0, 1.0, 3.0};
    const double hs[3] = {2.25, 0.5, 0.75};
    double ls[1] = {0};
    assert_int_equal(tm_model_map_state(lo, hi, hs, params, ls), TM_STEP_OK);
    assert_true(ls[0] == 2.25);
    double back[3] = {9, 9, 9};
    assert_int_equal(tm_model_map_state(hi, lo, ls, params, back), TM_STEP_OK);
    assert_true(back[0] == 2.25 && back[1] == 0.0 && back[2] == 0.0);
    double same[3];
    assert_int_equal(tm_model_map_state(hi, hi, hs, params, same), TM_STEP_OK);
    assert_memory_equal(same, hs, sizeof hs);
    const double bad[3] = {NAN, 0.0, 0.0};
    assert_int_equal(tm_model_map_state(lo, hi, bad, params, ls),
                     TM_STEP_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mass_balance),
        cmocka_unit_test(test_overflow_step),
        cmocka_unit_test(test_dry_run_step),
        cmocka_unit_test(test_tiers_agree),
        cmocka_unit_test(test_init_and_hand_set),
        cmocka_unit_test(test_map_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
