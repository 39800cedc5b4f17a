/* thermal_test: the lumped RC zone: the high tier against the closed-form
 * solution, the low tier's Euler error and stability limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_model.h"

#include <math.h>
#include <stdio.h>

typedef struct {
    double c, r, t0, q, ta;
} s_case_t;

static void s_setup(fx_actor_t *a, tm_fidelity_t tier, const s_case_t *p)
{
    const tm_model_t *m = fx_model("thermal", tier);
    assert_non_null(m);
    fx_defaults(a, m);
    a->params[fx_param(m, "C")] = p->c;
    a->params[fx_param(m, "R")] = p->r;
    a->params[fx_param(m, "T0")] = p->t0;
    a->inputs[fx_input(m, "Q")] = p->q;
    a->inputs[fx_input(m, "Ta")] = p->ta;
    assert_int_equal(fx_init(a), TM_STEP_OK);
}

static double s_exact(const s_case_t *p, double t)
{
    const double tinf = p->ta + p->q * p->r;
    return tinf + (p->t0 - tinf) * exp(-t / (p->r * p->c));
}

static void test_high_exact(void **state)
{
    (void)state;
    const s_case_t cases[] = {
        {5e6, 0.01, 20.0, 0.0, 10.0},   /* default zone cooling down */
        {5e6, 0.01, 20.0, 2000.0, 5.0}, /* heated: T_inf = 25 */
        {1e3, 0.5, 80.0, -10.0, 20.0},  /* tau = 500 s, cooled */
    };
    const double steps[] = {1.0, 60.0, 3600.0};
    double worst = 0.0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t s = 0; s < 3; s++) {
            fx_actor_t a;
            s_setup(&a, TM_FIDELITY_HIGH, &cases[c]);
            for (int i = 1; i <= 200; i++) {
                assert_int_equal(fx_step(&a, steps[s]), TM_STEP_OK);
                const double e =
                    fabs(a.outputs[0] - s_exact(&cases[c], i * steps[s]));
                worst = e > worst ? e : worst;
            }
        }
    }
    printf("thermal high: max |T - T_exact| over 200 steps = %.3e K\n", worst);
    assert_true(worst <= 1e-12);
}

/* One long step equals many short ones (exact composition). */
static void test_high_step_independent(void **state)
{
    (void)state;
    const s_case_t p = {2e5, 0.02, 15.0, 500.0, -5.0};
    fx_actor_t one, many;
    s_setup(&one, TM_FIDELITY_HIGH, &p);
    s_setup(&many, TM_FIDELITY_HIGH, &p);
    assert_int_equal(fx_step(&one, 3600.0), TM_STEP_OK);
    for (int i = 0; i < 3600; i++) {
        assert_int_equal(fx_step(&many, 1.0), TM_STEP_OK);
    }
    assert_true(fabs(one.outputs[0] - many.outputs[0]) < 1e-11);
}

/* Euler: error O(h / tau); stable below h = 2 tau, unstable above. */
static void test_low_euler(void **state)
{
    (void)state;
    const s_case_t p = {1e3, 0.5, 80.0, 0.0, 20.0}; /* tau = 500 s */
    double err[2];
    for (int k = 0; k < 2; k++) {
        const double h = k == 0 ? 10.0 : 5.0;
        fx_actor_t a;
        s_setup(&a, TM_FIDELITY_LOW, &p);
        double worst = 0.0;
        for (int i = 1; i <= (int)(2000.0 / h); i++) {
            assert_int_equal(fx_step(&a, h), TM_STEP_OK);
            double e = fabs(a.outputs[0] - s_exact(&p, i * h));
            worst = e > worst ? e : worst;
        }
        err[k] = worst;
    }
    printf("thermal low: max error h=10 s %.4f K, h=5 s %.4f K\n", err[0],
           err[1]);
    assert_true(err[0] < 0.5); /* 60 K swing */
    assert_true(err[0] / err[1] > 1.8 && err[0] / err[1] < 2.2); /* order 1 */

    fx_actor_t a;
    s_setup(&a, TM_FIDELITY_LOW, &p);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(fx_step(&a, 900.0), TM_STEP_OK); /* h = 1.8 tau */
    }
    assert_true(fabs(a.outputs[0] - 20.0) < 1e-3);
    s_setup(&a, TM_FIDELITY_LOW, &p);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(fx_step(&a, 1100.0), TM_STEP_OK); /* h = 2.2 tau */
    }
    assert_true(fabs(a.outputs[0] - 20.0) > 60.0); /* diverging */
}

/* Heat inputs add up (summing input) and the steady state is Ta + Q R. */
static void test_steady_state(void **state)
{
    (void)state;
    const tm_model_t *m = fx_model("thermal", TM_FIDELITY_HIGH);
    assert_true((m->inputs[fx_input(m, "Q")].flags & TM_VAR_SUMMING) != 0);
    const s_case_t p = {1e4, 0.05, 0.0, 400.0, 12.0};
    for (int t = 0; t < 2; t++) {
        fx_actor_t a;
        s_setup(&a, t == 0 ? TM_FIDELITY_HIGH : TM_FIDELITY_LOW, &p);
        for (int i = 0; i < 1000; i++) {
            assert_int_equal(fx_step(&a, 50.0), TM_STEP_OK);
        }
        assert_true(fabs(a.outputs[0] - 32.0) < 1e-9);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_exact),
        cmocka_unit_test(test_high_step_independent),
        cmocka_unit_test(test_low_euler),
        cmocka_unit_test(test_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
