/* pipe_test: the pipe's exact inertial solution against an independent
 * fine-step integration and closed forms, its steady state against the
 * static law; the valve's characteristic and actuator lag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_model.h"

#include <math.h>
#include <stdio.h>

#define S_PI 3.14159265358979323846
#define S_G  9.80665

typedef struct {
    double len, diam, fric, kminor;
} s_pipe_t;

static double s_area(const s_pipe_t *p)
{
    return S_PI / 4.0 * p->diam * p->diam;
}

/* Darcy-Weisbach: dh = K q|q|. */
static double s_k(const s_pipe_t *p)
{
    const double a = s_area(p);
    return (p->fric * p->len / p->diam + p->kminor) / (2.0 * S_G * a * a);
}

static void s_setup(fx_actor_t *a, tm_fidelity_t tier, const s_pipe_t *p,
                    double q0, double dh)
{
    const tm_model_t *m = fx_model("pipe", tier);
    assert_non_null(m);
    fx_defaults(a, m);
    a->params[fx_param(m, "length")] = p->len;
    a->params[fx_param(m, "diameter")] = p->diam;
    a->params[fx_param(m, "friction")] = p->fric;
    a->params[fx_param(m, "k_minor")] = p->kminor;
    a->params[fx_param(m, "q0")] = q0;
    a->inputs[fx_input(m, "head_in")] = 5.0 + dh;
    a->inputs[fx_input(m, "head_out")] = 5.0;
    assert_int_equal(fx_init(a), TM_STEP_OK);
}

/* Reference: (L / (g A)) dq/dt = dh - K q|q| by RK4 with n sub-steps. */
static double s_reference(const s_pipe_t *p, double q, double dh, double t,
                          long n)
{
    const double inert = p->len / (S_G * s_area(p)), k = s_k(p);
    const double h = t / (double)n;
    for (long i = 0; i < n; i++) {
        const double k1 = (dh - k * q * fabs(q)) / inert;
        const double q2 = q + h / 2.0 * k1;
        const double k2 = (dh - k * q2 * fabs(q2)) / inert;
        const double q3 = q + h / 2.0 * k2;
        const double k3 = (dh - k * q3 * fabs(q3)) / inert;
        const double q4 = q + h * k3;
        const double k4 = (dh - k * q4 * fabs(q4)) / inert;
        q = q + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
    }
    return q;
}

static const s_pipe_t s_default = {100.0, 0.1, 0.02, 0.0};

/* From rest: q(t) = a tanh(a beta t), a = sqrt(dh / K), beta = K g A / L. */
static void test_high_from_rest_closed_form(void **state)
{
    (void)state;
    const double dh = 10.0, k = s_k(&s_default);
    const double a = sqrt(dh / k);
    const double beta = k * S_G * s_area(&s_default) / s_default.len;
    fx_actor_t p;
    s_setup(&p, TM_FIDELITY_HIGH, &s_default, 0.0, dh);
    double worst = 0.0;
    for (int i = 1; i <= 300; i++) {
        assert_int_equal(fx_step(&p, 0.05), TM_STEP_OK);
        const double want = a * tanh(a * beta * 0.05 * i);
        worst = fmax(worst, fx_relerr(p.outputs[0], want, 1e-300));
    }
    printf("pipe high: max rel. error vs a tanh(a beta t) = %.3e\n", worst);
    assert_true(worst < 1e-12);
}

/* Every branch (accelerating, decelerating from above, reversing,
 * negative head, no head) against a fine RK4 reference. */
static void test_high_branches_vs_reference(void **state)
{
    (void)state;
    const double k = s_k(&s_default);
    const double qs = sqrt(10.0 / k); /* steady flow at 10 m */
    const struct {
        double q0, dh;
    } cases[] = {
        {0.0, 10.0},        {0.5 * qs, 10.0},  {3.0 * qs, 10.0},
        {-2.0 * qs, 10.0},  {-0.1 * qs, 10.0}, {0.5 * qs, -10.0},
        {2.0 * qs, -0.5},   {0.8 * qs, 0.0},   {-0.8 * qs, 0.0},
        {-5.0 * qs, 1e-12},
    };
    double worst = 0.0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fx_actor_t p;
        s_setup(&p, TM_FIDELITY_HIGH, &s_default, cases[c].q0, cases[c].dh);
        double q_ref = cases[c].q0;
        for (int i = 0; i < 20; i++) {
            assert_int_equal(fx_step(&p, 0.5), TM_STEP_OK);
            q_ref = s_reference(&s_default, q_ref, cases[c].dh, 0.5, 2000);
            worst = fmax(worst, fabs(p.outputs[0] - q_ref) / qs);
        }
    }
    printf("pipe high: max |q - q_rk4_ref| / q_steady over all branches = "
           "%.3e\n",
           worst);
    assert_true(worst < 1e-10);
}

/* Exact for constant heads: one long step equals many short steps, even
 * through a flow reversal; huge steps stay stable. */
static void test_high_step_independent(void **state)
{
    (void)state;
    const double qs = sqrt(10.0 / s_k(&s_default));
    fx_actor_t one, many;
    s_setup(&one, TM_FIDELITY_HIGH, &s_default, -2.0 * qs, 10.0);
    s_setup(&many, TM_FIDELITY_HIGH, &s_default, -2.0 * qs, 10.0);
    assert_int_equal(fx_step(&one, 8.0), TM_STEP_OK);
    for (int i = 0; i < 800; i++) {
        assert_int_equal(fx_step(&many, 0.01), TM_STEP_OK);
    }
    assert_true(fx_relerr(one.outputs[0], many.outputs[0], qs) < 1e-12);
    assert_true(one.outputs[0] > 0.0); /* reversed within the step */

    fx_actor_t big;
    s_setup(&big, TM_FIDELITY_HIGH, &s_default, 100.0 * qs, 10.0);
    assert_int_equal(fx_step(&big, 1e6), TM_STEP_OK);
    assert_true(fx_relerr(big.outputs[0], qs, qs) < 1e-14);
}

/* Steady state of the high tier equals the low tier's static law, and the
 * static law matches Darcy-Weisbach by hand. */
static void test_steady_state(void **state)
{
    (void)state;
    const s_pipe_t p = {250.0, 0.15, 0.018, 2.5};
    const double dhs[] = {10.0, -4.0, 0.25};
    for (size_t i = 0; i < 3; i++) {
        fx_actor_t hi, lo;
        s_setup(&hi, TM_FIDELITY_HIGH, &p, 0.0, dhs[i]);
        s_setup(&lo, TM_FIDELITY_LOW, &p, 0.0, dhs[i]);
        for (int k = 0; k < 2000; k++) {
            assert_int_equal(fx_step(&hi, 0.5), TM_STEP_OK);
        }
        assert_int_equal(fx_step(&lo, 0.5), TM_STEP_OK);
        const double by_hand = copysign(sqrt(fabs(dhs[i]) / s_k(&p)), dhs[i]);
        assert_true(fx_relerr(lo.outputs[0], by_hand, 1e-300) < 1e-14);
        assert_true(fx_relerr(hi.outputs[0], by_hand, 1e-300) < 1e-12);
    }
    /* Velocity at the default pipe and 10 m: v = q / A, about 3.1 m/s. */
    fx_actor_t lo;
    s_setup(&lo, TM_FIDELITY_LOW, &s_default, 0.0, 10.0);
    assert_int_equal(fx_step(&lo, 1.0), TM_STEP_OK);
    const double v = lo.outputs[0] / s_area(&s_default);
    assert_true(v > 3.0 && v < 3.2);
}

/* ---- valve -------------------------------------------------------------- */

static void s_valve(fx_actor_t *a, tm_fidelity_t tier, double kv, double tau,
                    double pos0, double dh, double opening)
{
    const tm_model_t *m = fx_model("valve", tier);
    assert_non_null(m);
    fx_defaults(a, m);
    a->params[fx_param(m, "kv")] = kv;
    a->params[fx_param(m, "tau")] = tau;
    a->params[fx_param(m, "pos0")] = pos0;
    a->inputs[fx_input(m, "head_in")] = dh > 0 ? dh : 0.0;
    a->inputs[fx_input(m, "head_out")] = dh > 0 ? 0.0 : -dh;
    a->inputs[fx_input(m, "opening")] = opening;
    assert_int_equal(fx_init(a), TM_STEP_OK);
}

static void test_valve_low(void **state)
{
    (void)state;
    const double kv = 0.0035;
    const struct {
        double dh, opening, q;
    } cases[] = {
        {9.0, 1.0, 3.0 * kv}, {9.0, 0.5, 1.5 * kv}, {-4.0, 0.25, -0.5 * kv},
        {9.0, 0.0, 0.0},      {9.0, 1.7, 3.0 * kv}, /* clamped to 1 */
        {9.0, -0.3, 0.0},     {0.0, 1.0, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_actor_t a;
        s_valve(&a, TM_FIDELITY_LOW, kv, 2.0, 1.0, cases[i].dh,
                cases[i].opening);
        assert_int_equal(fx_step(&a, 0.1), TM_STEP_OK);
        assert_true(fabs(a.outputs[0] - cases[i].q) < 1e-15);
        /* dh = K q|q| with K = 1 / (kv pos)^2 */
        const double pos = a.outputs[1];
        if (pos > 0.0) {
            const double k = 1.0 / ((kv * pos) * (kv * pos));
            assert_true(fabs(k * a.outputs[0] * fabs(a.outputs[0]) -
                             cases[i].dh) < 1e-12);
        }
    }
}

static void test_valve_high_lag(void **state)
{
    (void)state;
    const double tau = 2.0, kv = 0.004;
    fx_actor_t a;
    s_valve(&a, TM_FIDELITY_HIGH, kv, tau, 1.0, 16.0, 0.2);
    double worst = 0.0;
    for (int i = 1; i <= 100; i++) {
        assert_int_equal(fx_step(&a, 0.1), TM_STEP_OK);
        const double pos = 0.2 + 0.8 * exp(-0.1 * i / tau);
        worst = fmax(worst, fabs(a.outputs[1] - pos));
        assert_true(fabs(a.outputs[0] - kv * a.outputs[1] * 4.0) < 1e-15);
    }
    assert_true(worst < 1e-14);
    /* tau = 0: the actuator is instant, as in the low tier. */
    fx_actor_t b;
    s_valve(&b, TM_FIDELITY_HIGH, kv, 0.0, 1.0, 16.0, 0.2);
    assert_int_equal(fx_step(&b, 0.1), TM_STEP_OK);
    assert_true(b.outputs[1] == 0.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_from_rest_closed_form),
        cmocka_unit_test(test_high_branches_vs_reference),
        cmocka_unit_test(test_high_step_independent),
        cmocka_unit_test(test_steady_state),
        cmocka_unit_test(test_valve_low),
        cmocka_unit_test(test_valve_high_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
