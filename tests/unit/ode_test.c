/* ode_test: the adaptive Dormand-Prince 5(4) integrator of
 * actors/models/tm_ode.c: accuracy against closed forms, tolerance
 * proportionality, bookkeeping, giving up, argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_model.h"
#include "tm_ode.h"

#include <math.h>
#include <string.h>

/* y' = -lambda y */
static void s_decay(double t, const double *y, double *dydt, const void *ctx)
{
    (void)t;
    dydt[0] = -*(const double *)ctx * y[0];
}

/* x' = v, v' = -w^2 x */
static void s_harmonic(double t, const double *y, double *dydt, const void *ctx)
{
    (void)t;
    const double w = *(const double *)ctx;
    dydt[0] = y[1];
    dydt[1] = -w * w * y[0];
}

/* y' = cos(t): checks that stages see the right times. */
static void s_cos_t(double t, const double *y, double *dydt, const void *ctx)
{
    (void)y;
    (void)ctx;
    dydt[0] = cos(t);
}

/* y' = 1e300: overflows to infinity. */
static void s_huge(double t, const double *y, double *dydt, const void *ctx)
{
    (void)t;
    (void)y;
    (void)ctx;
    dydt[0] = 1e300;
}

static tm_ode_opts_t s_opts(double rtol)
{
    tm_ode_opts_t o = {
        .rtol = rtol,
        .atol_all = rtol * 1e-3,
        .atol = NULL,
        .h_init = 0.0,
        .h_min = 1e-12,
        .max_steps = 100000,
    };
    return o;
}

static void test_decay_accuracy(void **state)
{
    (void)state;
    const double lambda = 1.0;
    const double tols[] = {1e-4, 1e-6, 1e-8, 1e-10};
    for (size_t i = 0; i < 4; i++) {
        tm_ode_opts_t o = s_opts(tols[i]);
        tm_ode_stats_t st;
        double y = 1.0;
        assert_int_equal(
            tm_ode_dopri5(s_decay, &lambda, 1, &y, 0.0, 5.0, &o, &st),
            TM_STEP_OK);
        double err = fabs(y - exp(-5.0)) / exp(-5.0);
        /* Global error within a small multiple of the tolerance. */
        assert_true(err < 20.0 * tols[i]);
        assert_true(st.accepted > 0);
        assert_int_equal(st.rhs_evals, 1 + 6 * (st.accepted + st.rejected));
        assert_true(st.h_next > 0.0);
    }
}

static void test_harmonic_tolerance_proportionality(void **state)
{
    (void)state;
    const double w = 2.0 * 3.14159265358979323846;
    double err_prev = 0.0;
    uint32_t steps_prev = 0;
    for (int k = 0; k < 3; k++) {
        const double rtol = pow(10.0, -5.0 - 2.0 * k);
        tm_ode_opts_t o = s_opts(rtol);
        tm_ode_stats_t st;
        double y[2] = {1.0, 0.0};
        assert_int_equal(
            tm_ode_dopri5(s_harmonic, &w, 2, y, 0.0, 10.0, &o, &st),
            TM_STEP_OK);
        /* After 10 periods: back at (1, 0). */
        const double err = hypot(y[0] - 1.0, y[1] / w);
        assert_true(err < 200.0 * rtol);
        if (k > 0) {
            assert_true(err < err_prev);           /* tighter is better */
            assert_true(st.accepted > steps_prev); /* and costs steps */
        }
        err_prev = err;
        steps_prev = st.accepted;
    }
}

static void test_time_dependent(void **state)
{
    (void)state;
    tm_ode_opts_t o = s_opts(1e-10);
    double y = 0.0;
    assert_int_equal(tm_ode_dopri5(s_cos_t, NULL, 1, &y, 1.0, 4.0, &o, NULL),
                     TM_STEP_OK);
    assert_true(fabs(y - (sin(4.0) - sin(1.0))) < 1e-9);
}

/* The solver lands exactly on t1 whatever h_init. */
static void test_lands_on_t1(void **state)
{
    (void)state;
    const double lambda = 0.5;
    tm_ode_opts_t o = s_opts(1e-8);
    o.h_init = 0.3; /* does not divide the span */
    double y = 2.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, &y, 0.0, 1.0, &o, NULL),
                     TM_STEP_OK);
    assert_true(fabs(y - 2.0 * exp(-0.5)) < 1e-8);
    /* A zero span leaves y alone and evaluates nothing. */
    tm_ode_stats_t st;
    y = 3.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, &y, 1.0, 1.0, &o, &st),
                     TM_STEP_OK);
    assert_true(y == 3.0);
    assert_int_equal(st.rhs_evals, 0);
}

/* Stiff decay: with h_min above the stability limit the step collapses. */
static void test_gives_up_on_collapse(void **state)
{
    (void)state;
    const double lambda = 1e9;
    tm_ode_opts_t o = s_opts(1e-6);
    o.h_min = 1e-6;
    tm_ode_stats_t st;
    double y = 1.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, &y, 0.0, 1.0, &o, &st),
                     TM_STEP_SOLVER_GAVE_UP);
    assert_true(y == 1.0); /* untouched */
    assert_true(st.rejected > 0);
}

static void test_gives_up_on_max_steps(void **state)
{
    (void)state;
    const double lambda = 1e6;
    tm_ode_opts_t o = s_opts(1e-6);
    o.h_min = 0.0;
    o.max_steps = 100;
    tm_ode_stats_t st;
    double y = 1.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, &y, 0.0, 1.0, &o, &st),
                     TM_STEP_SOLVER_GAVE_UP);
    assert_true(y == 1.0);
    assert_int_equal(st.accepted + st.rejected, 100);

    /* The same problem with room to work succeeds (stiff, so slowly). */
    o.max_steps = 10000000;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, &y, 0.0, 1e-3, &o, &st),
                     TM_STEP_OK);
    assert_true(fabs(y) < 1e-6);
}

static void test_nonfinite(void **state)
{
    (void)state;
    tm_ode_opts_t o = s_opts(1e-6);
    double y = 0.0;
    int rc = tm_ode_dopri5(s_huge, NULL, 1, &y, 0.0, 1e10, &o, NULL);
    assert_true(rc == TM_STEP_NONFINITE || rc == TM_STEP_SOLVER_GAVE_UP);
    assert_true(y == 0.0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const double lambda = 1.0;
    double y[TM_ODE_MAX_DIM + 1];
    memset(y, 0, sizeof y);
    y[0] = 1.0;
    tm_ode_opts_t o = s_opts(1e-6);
    assert_int_equal(tm_ode_dopri5(NULL, &lambda, 1, y, 0, 1, &o, NULL),
                     TM_STEP_FAILED);
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, NULL, 0, 1, &o, NULL),
                     TM_STEP_FAILED);
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 0, y, 0, 1, &o, NULL),
                     TM_STEP_FAILED);
    assert_int_equal(
        tm_ode_dopri5(s_decay, &lambda, TM_ODE_MAX_DIM + 1, y, 0, 1, &o, NULL),
        TM_STEP_FAILED);
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, y, 1, 0, &o, NULL),
                     TM_STEP_FAILED);
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, y, 0, NAN, &o, NULL),
                     TM_STEP_FAILED);
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, y, 0, 1, NULL, NULL),
                     TM_STEP_FAILED);
    tm_ode_opts_t bad = o;
    bad.rtol = 0.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, y, 0, 1, &bad, NULL),
                     TM_STEP_FAILED);
    bad = o;
    bad.atol_all = -1.0;
    assert_int_equal(tm_ode_dopri5(s_decay, &lambda, 1, y, 0, 1, &bad, NULL),
                     TM_STEP_FAILED);
    assert_true(y[0] == 1.0);
}

/* Per-component absolute tolerances are honoured. */
static void test_atol_vector(void **state)
{
    (void)state;
    const double w = 1.0;
    const double atol[2] = {1e-12, 1e-12};
    tm_ode_opts_t o = s_opts(1e-12);
    o.atol = atol;
    double y[2] = {1.0, 0.0};
    assert_int_equal(tm_ode_dopri5(s_harmonic, &w, 2, y, 0.0, 1.0, &o, NULL),
                     TM_STEP_OK);
    assert_true(fabs(y[0] - cos(1.0)) < 1e-10);
    assert_true(fabs(y[1] + sin(1.0)) < 1e-10);
}

/* Bit-identical results for identical calls (no hidden state). */
static void test_deterministic(void **state)
{
    (void)state;
    const double w = 3.0;
    tm_ode_opts_t o = s_opts(1e-7);
    double a[2] = {0.3, -0.2}, b[2] = {0.3, -0.2};
    assert_int_equal(tm_ode_dopri5(s_harmonic, &w, 2, a, 0.0, 7.0, &o, NULL),
                     TM_STEP_OK);
    assert_int_equal(tm_ode_dopri5(s_harmonic, &w, 2, b, 0.0, 7.0, &o, NULL),
                     TM_STEP_OK);
    assert_memory_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decay_accuracy),
        cmocka_unit_test(test_harmonic_tolerance_proportionality),
        cmocka_unit_test(test_time_dependent),
        cmocka_unit_test(test_lands_on_t1),
        cmocka_unit_test(test_gives_up_on_collapse),
        cmocka_unit_test(test_gives_up_on_max_steps),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_atol_vector),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
