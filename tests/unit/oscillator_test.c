/* oscillator_test: the mass-spring-damper family against closed forms:
 * RK4 accuracy and order, RK4 energy decay, symplectic Euler energy
 * bounds, equilibrium under load. */
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

typedef struct {
    double m, k, c, f, x0, v0;
} s_case_t;

/* Underdamped m x'' + c x' + k x = f: x, v at time t. */
static void s_exact(const s_case_t *p, double t, double *x, double *v)
{
    const double w0 = sqrt(p->k / p->m);
    const double zeta = p->c / (2.0 * sqrt(p->k * p->m));
    const double wd = w0 * sqrt(1.0 - zeta * zeta);
    const double xe = p->f / p->k;
    const double a = p->x0 - xe;
    const double b = (p->v0 + zeta * w0 * a) / wd;
    const double e = exp(-zeta * w0 * t);
    const double cs = cos(wd * t), sn = sin(wd * t);
    *x = xe + e * (a * cs + b * sn);
    *v = e * ((-zeta * w0 * a + wd * b) * cs + (-zeta * w0 * b - wd * a) * sn);
}

static void s_setup(fx_actor_t *a, tm_fidelity_t tier, const s_case_t *p)
{
    const tm_model_t *m = fx_model("oscillator", tier);
    assert_non_null(m);
    fx_defaults(a, m);
    a->params[fx_param(m, "m")] = p->m;
    a->params[fx_param(m, "k")] = p->k;
    a->params[fx_param(m, "c")] = p->c;
    a->params[fx_param(m, "x0")] = p->x0;
    a->params[fx_param(m, "v0")] = p->v0;
    /* The force arrives split over both summing inputs. */
    a->inputs[fx_input(m, "fl")] = 0.75 * p->f;
    a->inputs[fx_input(m, "fr")] = 0.25 * p->f;
    assert_int_equal(fx_init(a), TM_STEP_OK);
}

/* Largest position error (relative to the initial amplitude) over t_end. */
static double s_max_error(tm_fidelity_t tier, const s_case_t *p, double h,
                          double t_end)
{
    fx_actor_t a;
    s_setup(&a, tier, p);
    const long n = lround(t_end / h);
    double worst = 0.0;
    for (long i = 1; i <= n; i++) {
        assert_int_equal(fx_step(&a, h), TM_STEP_OK);
        double x, v;
        s_exact(p, (double)i * h, &x, &v);
        double e = fabs(a.outputs[0] - x) / fabs(p->x0);
        worst = e > worst ? e : worst;
        assert_true(a.outputs[0] == a.state[0] && a.outputs[1] == a.state[1]);
    }
    return worst;
}

static void test_rk4_vs_damped_solution(void **state)
{
    (void)state;
    /* w0 = 10 rad/s, zeta = 0.025, a constant load of 2 N. */
    const s_case_t p = {1.0, 100.0, 0.5, 2.0, 0.1, 0.3};
    const double e1 = s_max_error(TM_FIDELITY_HIGH, &p, 0.01, 10.0);
    const double e2 = s_max_error(TM_FIDELITY_HIGH, &p, 0.005, 10.0);
    printf("oscillator rk4: max rel. error over 10 s: h=0.01 %.3e, "
           "h=0.005 %.3e, ratio %.2f\n",
           e1, e2, e1 / e2);
    /* Bound for w0 h = 0.1 over 16 periods. */
    assert_true(e1 < 5e-5);
    /* Fourth order: halving h divides the error by about 16. */
    assert_true(e1 / e2 > 14.0 && e1 / e2 < 18.0);
}

static double s_energy(const fx_actor_t *a, double m, double k)
{
    const double x = a->state[0], v = a->state[1];
    return 0.5 * m * v * v + 0.5 * k * x * x;
}

/* RK4 is slightly dissipative on an undamped oscillator: per step the
 * energy is multiplied by |R(i theta)|^2 = 1 - theta^6/72 + theta^8/576
 * (theta = w0 h). The drift over 1000 periods must match that. */
static void test_rk4_energy_drift(void **state)
{
    (void)state;
    const s_case_t p = {2.0, 50.0, 0.0, 0.0, 0.2, 0.0}; /* w0 = 5 rad/s */
    const double w0 = 5.0, period = 2.0 * S_PI / w0;
    const int per_period = 50;
    const double h = period / per_period, theta = w0 * h;
    fx_actor_t a;
    s_setup(&a, TM_FIDELITY_HIGH, &p);
    const double e0 = s_energy(&a, p.m, p.k);
    const long n = 1000L * per_period;
    double prev = e0;
    for (long i = 0; i < n; i++) {
        assert_int_equal(fx_step(&a, h), TM_STEP_OK);
        const double e = s_energy(&a, p.m, p.k);
        assert_true(e <= prev * (1.0 + 1e-13)); /* never gains energy */
        prev = e;
    }
    const double drift = s_energy(&a, p.m, p.k) / e0 - 1.0;
    const double t2 = theta * theta;
    const double g = 1.0 - t2 * t2 * t2 / 72.0 + t2 * t2 * t2 * t2 / 576.0;
    const double predicted = pow(g, (double)n) - 1.0;
    printf("oscillator rk4: energy drift over 1000 periods (%d steps each): "
           "%.4e (predicted %.4e)\n",
           per_period, drift, predicted);
    assert_true(drift < 0.0 && drift > -3e-3);
    assert_true(fabs(drift / predicted - 1.0) < 0.01);
}

/* Semi-implicit Euler conserves a modified energy: the energy oscillates
 * within O(w0 h) of its start and does not drift over 1000 periods. */
static void s_check_sie_energy(tm_fidelity_t tier, int nsub)
{
    const s_case_t p = {2.0, 50.0, 0.0, 0.0, 0.2, 0.0};
    const double w0 = 5.0, period = 2.0 * S_PI / w0;
    const int per_period = 60;
    const double h = period / per_period;
    const double theta = w0 * h / nsub;
    fx_actor_t a;
    s_setup(&a, tier, &p);
    const double e0 = s_energy(&a, p.m, p.k);
    double lo_first = e0, hi_first = e0, lo_last = e0, hi_last = e0;
    const long n = 1000L * per_period;
    for (long i = 0; i < n; i++) {
        assert_int_equal(fx_step(&a, h), TM_STEP_OK);
        const double e = s_energy(&a, p.m, p.k);
        if (i < 10L * per_period) {
            lo_first = e < lo_first ? e : lo_first;
            hi_first = e > hi_first ? e : hi_first;
        }
        if (i >= n - 10L * per_period) {
            lo_last = e < lo_last ? e : lo_last;
            hi_last = e > hi_last ? e : hi_last;
        }
    }
    const double band = (hi_first - lo_first) / e0;
    printf("oscillator sie/%d: energy band %.4e of E0 (theta %.4f); "
           "band moved by %.2e over 1000 periods\n",
           nsub, band, theta, fabs(hi_last - hi_first) / e0);
    assert_true(band < 1.1 * theta);
    assert_true(band > 0.1 * theta); /* it does oscillate: not RK4 */
    /* The extremes are sampled once per tick, so they jitter a little;
     * explicit Euler would have grown by (1 + theta^2)^n instead. */
    assert_true(fabs(hi_last - hi_first) / e0 < 1e-2 * theta);
    assert_true(fabs(lo_last - lo_first) / e0 < 1e-2 * theta);
}

static void test_sie_energy_bounded(void **state)
{
    (void)state;
    s_check_sie_energy(TM_FIDELITY_LOW, 1);
    s_check_sie_energy(TM_FIDELITY_MEDIUM, 4);
}

/* Medium (4 sub-steps) is more accurate than low; both are first-order
 * in the damped, forced case. */
static void test_sie_accuracy_order(void **state)
{
    (void)state;
    const s_case_t p = {1.0, 100.0, 0.5, 2.0, 0.1, 0.3};
    const double low = s_max_error(TM_FIDELITY_LOW, &p, 0.01, 5.0);
    const double med = s_max_error(TM_FIDELITY_MEDIUM, &p, 0.01, 5.0);
    const double high = s_max_error(TM_FIDELITY_HIGH, &p, 0.01, 5.0);
    printf("oscillator 5 s at h=0.01: max rel. error low %.3e, medium %.3e, "
           "high %.3e\n",
           low, med, high);
    assert_true(high < med && med < low);
    assert_true(low < 0.1);
    assert_true(low / med > 2.0);
}

/* With damping every tier settles at x = f / k, v = 0. */
static void test_equilibrium(void **state)
{
    (void)state;
    const s_case_t p = {1.0, 100.0, 5.0, 3.0, 0.5, -1.0};
    for (int t = 0; t < TM_FIDELITY_COUNT; t++) {
        fx_actor_t a;
        s_setup(&a, (tm_fidelity_t)t, &p);
        for (int i = 0; i < 5000; i++) {
            assert_int_equal(fx_step(&a, 0.01), TM_STEP_OK);
        }
        assert_true(fabs(a.outputs[0] - 0.03) < 1e-9);
        assert_true(fabs(a.outputs[1]) < 1e-8);
    }
}

/* Far outside the stability region the state overflows and the step says
 * so instead of returning infinities as OK. */
static void test_unstable_reports_nonfinite(void **state)
{
    (void)state;
    const s_case_t p = {1e-6, 1e9, 0.0, 0.0, 1.0, 0.0}; /* w0 = 3.2e7 */
    fx_actor_t a;
    s_setup(&a, TM_FIDELITY_LOW, &p);
    int rc = TM_STEP_OK;
    for (int i = 0; i < 2000 && rc == TM_STEP_OK; i++) {
        rc = fx_step(&a, 0.1);
    }
    assert_int_equal(rc, TM_STEP_NONFINITE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rk4_vs_damped_solution),
        cmocka_unit_test(test_rk4_energy_drift),
        cmocka_unit_test(test_sie_energy_bounded),
        cmocka_unit_test(test_sie_accuracy_order),
        cmocka_unit_test(test_equilibrium),
        cmocka_unit_test(test_unstable_reports_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
