/* models_test: the built-in model catalog (actors/models/tm_models.c) and
 * properties every built-in model must have: valid descriptors, tiers that
 * form a family, continuous tier changes, pure and batch-independent steps,
 * non-finite detection. Per-family physics: <family>_test.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_err.h"
#include "tm_model.h"
#include "tm_models.h"
#include "tm_models_int.h"

#include <math.h>
#include <string.h>

static const char *const s_families[] = {
    "oscillator", "spring", "pump", "tank", "pipe", "valve", "thermal",
};
#define S_NFAMILIES (sizeof s_families / sizeof s_families[0])

/* ---- catalog ------------------------------------------------------------ */

static void test_all(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    assert_non_null(all);
    assert_int_equal(n, 18);
    assert_true(tm_models_all(NULL) == all);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(all[i]);
        /* pumpmon is at 1.2.0 (tau_h, temperatures by rate, the vibration
         * band), the others at 1.0.0. */
        assert_string_equal(all[i]->version,
                            strcmp(all[i]->family, "pumpmon") == 0 ? "1.2.0"
                                                                   : "1.0.0");
        for (size_t j = 0; j < i; j++) {
            int same = strcmp(all[i]->family, all[j]->family) == 0 &&
                       all[i]->fidelity == all[j]->fidelity;
            assert_false(same); /* one entry per family, version and tier */
        }
    }
    /* Every family has at least two tiers. */
    for (size_t f = 0; f < S_NFAMILIES; f++) {
        int tiers = 0;
        for (size_t i = 0; i < n; i++) {
            tiers += strcmp(all[i]->family, s_families[f]) == 0;
        }
        assert_true(tiers >= 2);
    }
}

static void test_find(void **state)
{
    (void)state;
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find("pump", "1.0.0", TM_FIDELITY_HIGH, &m), 0);
    assert_ptr_equal(m, &tmi_pump_high);
    assert_int_equal(tm_models_find("pump", NULL, TM_FIDELITY_MEDIUM, &m), 0);
    assert_ptr_equal(m, &tmi_pump_medium);
    assert_int_equal(tm_models_find("tank", "", TM_FIDELITY_LOW, &m), 0);
    assert_ptr_equal(m, &tmi_tank_low);

    m = NULL;
    assert_int_equal(tm_models_find("nope", NULL, TM_FIDELITY_HIGH, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find("", NULL, TM_FIDELITY_HIGH, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find("Pump", NULL, TM_FIDELITY_HIGH, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find("pump", "2.0.0", TM_FIDELITY_HIGH, &m),
                     TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(tm_models_find("pump", "1.0", TM_FIDELITY_HIGH, &m),
                     TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_MEDIUM, &m),
                     TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_models_find("spring", "1.0.0", TM_FIDELITY_MEDIUM, &m),
                     TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(tm_models_find("pump", NULL, TM_FIDELITY_COUNT, &m),
                     TM_ERR_UNKNOWN_FIDELITY);
    assert_null(m); /* untouched on errors */
    assert_int_equal(tm_models_find(NULL, NULL, TM_FIDELITY_HIGH, &m),
                     TM_ERR_INVAL);
    assert_int_equal(tm_models_find("pump", NULL, TM_FIDELITY_HIGH, NULL),
                     TM_ERR_INVAL);
}

static void test_find_spec(void **state)
{
    (void)state;
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find_spec("oscillator", TM_FIDELITY_HIGH, &m),
                     0);
    assert_ptr_equal(m, &tmi_oscillator_high);
    assert_int_equal(tm_models_find_spec("valve@1.0.0", TM_FIDELITY_LOW, &m),
                     0);
    assert_ptr_equal(m, &tmi_valve_low);

    m = NULL;
    assert_int_equal(tm_models_find_spec("valve@9.9.9", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(tm_models_find_spec("valve@", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(
        tm_models_find_spec("valve@1.0.0@1.0.0", TM_FIDELITY_LOW, &m),
        TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(tm_models_find_spec("@1.0.0", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find_spec("", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find_spec("boiler@1.0.0", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(
        tm_models_find_spec("a_family_name_far_too_long_to_be_valid@1.0.0",
                            TM_FIDELITY_LOW, &m),
        TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(tm_models_find_spec("valve@1.0.0", TM_FIDELITY_MEDIUM, &m),
                     TM_ERR_UNKNOWN_FIDELITY);
    assert_null(m);
    assert_int_equal(tm_models_find_spec(NULL, TM_FIDELITY_LOW, &m),
                     TM_ERR_INVAL);
    assert_int_equal(tm_models_find_spec("valve", TM_FIDELITY_LOW, NULL),
                     TM_ERR_INVAL);
}

/* "Highest version that has the tier", on a catalog with several
 * versions. */
static void test_find_highest_version(void **state)
{
    (void)state;
    tm_model_t v100h = tmi_thermal_high, v100l = tmi_thermal_low;
    tm_model_t v120h = tmi_thermal_high, v190l = tmi_thermal_low;
    tm_model_t v1100m = tmi_thermal_high, bad = tmi_thermal_low;
    v120h.version = "1.2.0";
    v190l.version = "1.9.0";
    v1100m.version = "1.10.0";
    v1100m.fidelity = TM_FIDELITY_MEDIUM;
    bad.version = "junk";
    const tm_model_t *const list[] = {&v120h, &v100h,  &bad, &v190l,
                                      &v100l, &v1100m, NULL};
    const size_t n = sizeof list / sizeof list[0];
    const tm_model_t *m = NULL;

    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", NULL, TM_FIDELITY_HIGH, &m), 0);
    assert_ptr_equal(m, &v120h);
    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", NULL, TM_FIDELITY_LOW, &m), 0);
    assert_ptr_equal(m, &v190l); /* 1.9.0 > 1.0.0 > junk */
    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", "", TM_FIDELITY_MEDIUM, &m), 0);
    assert_ptr_equal(m, &v1100m);
    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", "1.0.0", TM_FIDELITY_HIGH, &m),
        0);
    assert_ptr_equal(m, &v100h);
    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", "1.2.0", TM_FIDELITY_LOW, &m),
        TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(
        tmi_models_find_in(list, n, "thermal", "1.3.0", TM_FIDELITY_LOW, &m),
        TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(
        tmi_models_find_in(list, n, "pump", NULL, TM_FIDELITY_LOW, &m),
        TM_ERR_UNKNOWN_MODEL);
}

/* ---- descriptors -------------------------------------------------------- */

static void test_check_all(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    for (size_t i = 0; i < n; i++) {
        const tm_model_t *m = all[i];
        assert_int_equal(tm_model_check(m), 0);
        assert_non_null(m->summary);
        /* Every variable is documented. */
        const tm_var_t *kinds[4] = {m->states, m->inputs, m->outputs,
                                    m->params};
        const uint32_t counts[4] = {m->n_states, m->n_inputs, m->n_outputs,
                                    m->n_params};
        for (int k = 0; k < 4; k++) {
            for (uint32_t j = 0; j < counts[k]; j++) {
                assert_non_null(kinds[k][j].doc);
                assert_true(strlen(kinds[k][j].doc) > 0);
            }
        }
        /* Summing is only used where links add up physically; measured
         * inputs are never summing. */
        for (uint32_t j = 0; j < m->n_inputs; j++) {
            uint32_t f = m->inputs[j].flags;
            assert_true((f & ~(TM_VAR_SUMMING | TM_VAR_MEASURED)) == 0);
            assert_true(f != (TM_VAR_SUMMING | TM_VAR_MEASURED));
        }
        /* Defaults spawn a healthy actor with finite outputs. */
        fx_actor_t a;
        fx_defaults(&a, m);
        assert_int_equal(fx_init(&a), TM_STEP_OK);
        for (uint32_t j = 0; j < m->n_states; j++) {
            assert_true(isfinite(a.state[j]));
        }
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            assert_true(isfinite(a.outputs[j]));
        }
        /* ... and outputs with all inputs zero (spawn). */
        memset(a.inputs, 0, sizeof a.inputs);
        m->output(1, a.state, a.params, a.inputs, a.outputs);
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            assert_true(isfinite(a.outputs[j]));
        }
    }
}

static void test_check_family_all(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int same = strcmp(all[i]->family, all[j]->family) == 0;
            assert_int_equal(tm_model_check_family(all[i], all[j]),
                             same ? 0 : TM_ERR_INVAL);
        }
        /* States that differ between tiers need a map_state. */
        for (size_t j = 0; j < n; j++) {
            const tm_model_t *a = all[i], *b = all[j];
            if (strcmp(a->family, b->family) != 0 || a->map_state != NULL) {
                continue;
            }
            assert_int_equal(a->n_states, b->n_states);
            for (uint32_t k = 0; k < a->n_states; k++) {
                assert_string_equal(a->states[k].name, b->states[k].name);
            }
        }
    }
}

/* ---- behaviour common to all models -------------------------------------- */

/* Inputs that make every family do something: the defaults, then a push on
 * every input that is zero by default (within range). */
static void s_busy_inputs(fx_actor_t *a)
{
    const tm_model_t *m = a->m;
    for (uint32_t j = 0; j < m->n_inputs; j++) {
        const tm_var_t *v = &m->inputs[j];
        double x = v->def;
        if (x == 0.0) {
            x = 0.001 * (double)(j + 1);
            x = x > v->max ? v->max : x;
        }
        a->inputs[j] = x;
    }
    int hin = fx_input(m, "head_in");
    if (hin >= 0) {
        a->inputs[hin] = 12.0;
    }
    int op = fx_input(m, "opening");
    if (op >= 0) {
        a->inputs[op] = 0.4;
    }
}

/* For every pair of tiers of a family: run the first, map its state to
 * the second, and compare the outputs the two produce from their states.
 * Every family's output function depends only on states shared by name,
 * so they agree exactly (1e-12 allows for a different evaluation order). */
static void test_tier_change_continuous(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            const tm_model_t *from = all[i], *to = all[j];
            if (strcmp(from->family, to->family) != 0) {
                continue;
            }
            fx_actor_t a, b;
            fx_defaults(&a, from);
            assert_int_equal(fx_init(&a), TM_STEP_OK);
            s_busy_inputs(&a);
            for (int k = 0; k < 50; k++) {
                assert_int_equal(fx_step(&a, 0.05), TM_STEP_OK);
            }
            b = a;
            b.m = to;
            memset(b.state, 0, sizeof b.state);
            assert_int_equal(
                tm_model_map_state(to, from, a.state, a.params, b.state),
                TM_STEP_OK);
            double ya[TM_MODEL_MAX_VARS], yb[TM_MODEL_MAX_VARS];
            from->output(1, a.state, a.params, a.inputs, ya);
            to->output(1, b.state, b.params, b.inputs, yb);
            for (uint32_t k = 0; k < to->n_outputs; k++) {
                assert_true(fx_relerr(ya[k], yb[k], 1e-300) <= 1e-12);
            }
            /* The mapped actor steps on. */
            assert_int_equal(fx_step(&b, 0.05), TM_STEP_OK);
            /* And mapping back returns the shared states unchanged. */
            double back[TM_MODEL_MAX_VARS];
            assert_int_equal(
                tm_model_map_state(from, to, b.state, b.params, back),
                TM_STEP_OK);
            for (uint32_t k = 0; k < from->n_states; k++) {
                int s = fx_state(to, from->states[k].name);
                if (s >= 0) {
                    assert_true(back[k] == b.state[s]);
                }
            }
        }
    }
}

/* A batch of n actors steps exactly like n single actors, and the same
 * step repeated gives the same bits (pure functions). */
static void test_batch_and_purity(void **state)
{
    (void)state;
    enum { N = 5 };
    size_t count = 0;
    const tm_model_t *const *all = tm_models_all(&count);
    for (size_t mi = 0; mi < count; mi++) {
        const tm_model_t *m = all[mi];
        const uint32_t ns = m->n_states, np = m->n_params, ni = m->n_inputs,
                       no = m->n_outputs;
        double st[N * TM_MODEL_MAX_VARS], pa[N * TM_MODEL_MAX_VARS];
        double in[N * TM_MODEL_MAX_VARS], out[N * TM_MODEL_MAX_VARS];
        uint64_t keys[N];
        uint8_t status[N];
        fx_actor_t one[N];
        for (size_t i = 0; i < N; i++) {
            fx_defaults(&one[i], m);
            /* Actors differ: scale the first parameter within range. */
            const tm_var_t *p0 = &m->params[0];
            double v = p0->def * (1.0 + 0.1 * (double)i);
            one[i].params[0] = v > p0->max ? p0->max : v;
            assert_int_equal(fx_init(&one[i]), TM_STEP_OK);
            s_busy_inputs(&one[i]);
            memcpy(st + i * ns, one[i].state, ns * sizeof(double));
            memcpy(pa + i * np, one[i].params, np * sizeof(double));
            memcpy(in + i * ni, one[i].inputs, ni * sizeof(double));
            keys[i] = 42;
        }
        for (int k = 0; k < 20; k++) {
            tm_step_ctx_t ctx = {0.1, (uint64_t)k, 7, keys};
            m->step(&ctx, N, st, pa, in, out, status);
            for (size_t i = 0; i < N; i++) {
                one[i].tick = (uint64_t)k;
                assert_int_equal(fx_step(&one[i], 0.1), TM_STEP_OK);
                assert_int_equal(status[i], TM_STEP_OK);
                assert_memory_equal(st + i * ns, one[i].state,
                                    ns * sizeof(double));
                assert_memory_equal(out + i * no, one[i].outputs,
                                    no * sizeof(double));
            }
        }
        /* Repeat a step from the same state: same bits. */
        fx_actor_t x = one[0], y = one[0];
        assert_int_equal(fx_step(&x, 0.1), TM_STEP_OK);
        assert_int_equal(fx_step(&y, 0.1), TM_STEP_OK);
        assert_memory_equal(x.state, y.state, ns * sizeof(double));
        assert_memory_equal(x.outputs, y.outputs, no * sizeof(double));
    }
}

/* A non-finite input makes a step report TM_STEP_NONFINITE (or refuse),
 * never OK - except a measured input, where NaN means "no sample in this
 * step" (the model predicts) and any non-finite value is taken as that. */
static void test_nonfinite_reported(void **state)
{
    (void)state;
    size_t count = 0;
    const tm_model_t *const *all = tm_models_all(&count);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t mi = 0; mi < count; mi++) {
        const tm_model_t *m = all[mi];
        for (uint32_t j = 0; j < m->n_inputs; j++) {
            for (size_t b = 0; b < 3; b++) {
                if (m->inputs[j].flags & TM_VAR_MEASURED) {
                    continue;
                }
                fx_actor_t a;
                fx_defaults(&a, m);
                assert_int_equal(fx_init(&a), TM_STEP_OK);
                s_busy_inputs(&a);
                a.inputs[j] = bad[b];
                int rc = fx_step(&a, 0.1);
                /* Clamped command inputs may absorb an infinity. */
                int clamped = (strcmp(m->inputs[j].name, "opening") == 0 ||
                               strcmp(m->inputs[j].name, "speed_cmd") == 0) &&
                              !isnan(bad[b]);
                if (!clamped) {
                    assert_true(rc != TM_STEP_OK);
                }
                assert_true(rc <= TM_STEP_SOLVER_GAVE_UP);
            }
        }
        /* A NaN state is caught for every model that has states. */
        if (m->n_states > 0) {
            fx_actor_t a;
            fx_defaults(&a, m);
            assert_int_equal(fx_init(&a), TM_STEP_OK);
            a.state[0] = NAN;
            int rc = fx_step(&a, 0.1);
            int memoryless = m->fidelity == TM_FIDELITY_LOW &&
                             (strcmp(m->family, "pipe") == 0 ||
                              strcmp(m->family, "valve") == 0 ||
                              strcmp(m->family, "pump") == 0);
            if (!memoryless) {
                assert_true(rc != TM_STEP_OK);
            }
        }
    }
}

/* Estimate hooks move states toward measurements and refuse bad input. */
static void test_estimate(void **state)
{
    (void)state;
    size_t count = 0;
    const tm_model_t *const *all = tm_models_all(&count);
    for (size_t mi = 0; mi < count; mi++) {
        const tm_model_t *m = all[mi];
        if (m->estimate == NULL) {
            continue;
        }
        fx_actor_t a;
        fx_defaults(&a, m);
        assert_int_equal(fx_init(&a), TM_STEP_OK);
        double measured[TM_MODEL_MAX_VARS];
        uint8_t valid[TM_MODEL_MAX_VARS];
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            measured[j] = a.outputs[j] + 1.0;
            valid[j] = 1;
        }
        double before[TM_MODEL_MAX_VARS];
        memcpy(before, a.state, sizeof before);
        /* gain 0: nothing moves. */
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, 0.0),
                         TM_STEP_OK);
        assert_memory_equal(before, a.state, m->n_states * sizeof(double));
        /* gain 1: the outputs read the measurement where a state maps
         * one to one. */
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, 1.0),
                         TM_STEP_OK);
        m->output(1, a.state, a.params, a.inputs, a.outputs);
        int moved = 0;
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            moved += fx_relerr(a.outputs[j], measured[j], 1.0) < 1e-12;
        }
        assert_true(moved >= 1);
        /* Bad gains and non-finite measurements are refused. */
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, 1.5),
                         TM_STEP_FAILED);
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, NAN),
                         TM_STEP_FAILED);
        measured[0] = NAN;
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, 0.5),
                         TM_STEP_FAILED);
        valid[0] = 0; /* an unmeasured NaN is ignored */
        assert_int_equal(m->estimate(a.params, a.state, measured, valid, 0.5),
                         TM_STEP_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_find_spec),
        cmocka_unit_test(test_find_highest_version),
        cmocka_unit_test(test_check_all),
        cmocka_unit_test(test_check_family_all),
        cmocka_unit_test(test_tier_change_continuous),
        cmocka_unit_test(test_batch_and_purity),
        cmocka_unit_test(test_nonfinite_reported),
        cmocka_unit_test(test_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
