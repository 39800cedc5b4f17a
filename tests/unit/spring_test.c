/* spring_test: the stateless spring: outputs from inputs in both tiers,
 * Newton's third law, output() equal to step(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_model.h"

#include <math.h>

static void test_forces(void **state)
{
    (void)state;
    const double cases[][3] = {
        /* k, xa, xb */
        {100.0, 0.0, 0.0}, {100.0, 0.1, 0.3},  {250.0, 0.5, -0.25},
        {0.0, 1.0, 2.0},   {1e6, -1e-3, 1e-3},
    };
    for (int t = 0; t < 2; t++) {
        const tm_model_t *m =
            fx_model("spring", t == 0 ? TM_FIDELITY_HIGH : TM_FIDELITY_LOW);
        assert_non_null(m);
        assert_int_equal(m->n_states, 0);
        const int fa = fx_output(m, "fa"), fb = fx_output(m, "fb");
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            fx_actor_t a;
            fx_defaults(&a, m);
            a.params[fx_param(m, "k")] = cases[i][0];
            a.inputs[fx_input(m, "xa")] = cases[i][1];
            a.inputs[fx_input(m, "xb")] = cases[i][2];
            assert_int_equal(fx_init(&a), TM_STEP_OK);
            const double want = cases[i][0] * (cases[i][2] - cases[i][1]);
            assert_true(a.outputs[fa] == want); /* output() */
            assert_true(a.outputs[fb] == -want);
            a.outputs[fa] = a.outputs[fb] = NAN;
            assert_int_equal(fx_step(&a, 0.1), TM_STEP_OK); /* step() */
            assert_true(a.outputs[fa] == want);
            assert_true(a.outputs[fa] + a.outputs[fb] == 0.0);
        }
    }
}

/* A stretched spring pulls its ends together: positive force on the left
 * end when the right end is further right. */
static void test_sign_convention(void **state)
{
    (void)state;
    const tm_model_t *m = fx_model("spring", TM_FIDELITY_HIGH);
    fx_actor_t a;
    fx_defaults(&a, m);
    a.inputs[fx_input(m, "xa")] = 0.0;
    a.inputs[fx_input(m, "xb")] = 0.2;
    assert_int_equal(fx_step(&a, 0.1), TM_STEP_OK);
    assert_true(a.outputs[fx_output(m, "fa")] > 0.0);
    assert_true(a.outputs[fx_output(m, "fb")] < 0.0);
}

/* Two masses joined by the spring, stepped by hand in Jacobi fashion (the
 * runtime's rule) with RK4: total momentum is conserved exactly because
 * fa = -fb at every tick. */
static void test_two_masses_momentum(void **state)
{
    (void)state;
    const tm_model_t *osc = fx_model("oscillator", TM_FIDELITY_HIGH);
    const tm_model_t *spr = fx_model("spring", TM_FIDELITY_HIGH);
    fx_actor_t a, b, s;
    fx_defaults(&a, osc);
    fx_defaults(&b, osc);
    fx_defaults(&s, spr);
    for (int i = 0; i < 2; i++) {
        fx_actor_t *o = i == 0 ? &a : &b;
        o->params[fx_param(osc, "k")] = 0.0; /* free masses */
        o->params[fx_param(osc, "c")] = 0.0;
        o->params[fx_param(osc, "m")] = i == 0 ? 1.0 : 3.0;
        o->params[fx_param(osc, "x0")] = i == 0 ? 0.0 : 1.2;
        assert_int_equal(fx_init(o), TM_STEP_OK);
    }
    s.params[fx_param(spr, "k")] = 50.0;
    assert_int_equal(fx_init(&s), TM_STEP_OK);
    const int fr = fx_input(osc, "fr"), fl = fx_input(osc, "fl");
    for (int k = 0; k < 1000; k++) {
        /* Inputs of tick k are the outputs of tick k - 1. */
        a.inputs[fr] = s.outputs[fx_output(spr, "fa")];
        b.inputs[fl] = s.outputs[fx_output(spr, "fb")];
        s.inputs[fx_input(spr, "xa")] = a.outputs[0];
        s.inputs[fx_input(spr, "xb")] = b.outputs[0];
        assert_int_equal(fx_step(&a, 0.001), TM_STEP_OK);
        assert_int_equal(fx_step(&b, 0.001), TM_STEP_OK);
        assert_int_equal(fx_step(&s, 0.001), TM_STEP_OK);
    }
    const double p = 1.0 * a.state[1] + 3.0 * b.state[1];
    assert_true(fabs(p) < 1e-12);
    assert_true(fabs(a.state[1]) > 1e-3); /* something happened */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forces),
        cmocka_unit_test(test_sign_convention),
        cmocka_unit_test(test_two_masses_momentum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
