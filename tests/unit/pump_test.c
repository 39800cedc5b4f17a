/* pump_test: the pump family: the rated point, affinity laws, the high
 * tier's ODE settling on the low tier's steady state, the medium tier's
 * exact lags, coast-down, and the adaptive solver giving up on a stiff
 * parameter set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "models_fixture.h"
#include "tm_model.h"

#include <math.h>
#include <stdio.h>

#define S_G   9.80665
#define S_RHO 998.2

static void s_setup(fx_actor_t *a, tm_fidelity_t tier)
{
    const tm_model_t *m = fx_model("pump", tier);
    assert_non_null(m);
    fx_defaults(a, m);
}

static double s_par(const fx_actor_t *a, const char *name)
{
    int j = fx_param(a->m, name);
    assert_true(j >= 0);
    return a->params[j];
}

static void s_set_par(fx_actor_t *a, const char *name, double v)
{
    int j = fx_param(a->m, name);
    assert_true(j >= 0);
    a->params[j] = v;
}

static void s_set_in(fx_actor_t *a, const char *name, double v)
{
    int j = fx_input(a->m, name);
    assert_true(j >= 0);
    a->inputs[j] = v;
}

static double s_out(const fx_actor_t *a, const char *name)
{
    int j = fx_output(a->m, name);
    assert_true(j >= 0);
    return a->outputs[j];
}

/* Defaults: a ~5.5 kW, 1450 rpm pump at 50 m^3/h and 30 m. With the default
 * 10 m lift and line loss the operating point is the rated point. */
static void test_rated_point(void **state)
{
    (void)state;
    fx_actor_t a;
    s_setup(&a, TM_FIDELITY_LOW);
    assert_int_equal(fx_init(&a), TM_STEP_OK);
    assert_int_equal(fx_step(&a, 1.0), TM_STEP_OK);
    const double w = s_out(&a, "speed"), q = s_out(&a, "flow");
    const double hp = s_out(&a, "head"), i = s_out(&a, "current");
    const double p = s_out(&a, "power");
    printf("pump rated point: %.1f rpm, %.2f m^3/h, %.2f m, %.2f A, %.0f W, "
           "hydraulic %.0f W\n",
           w * 60.0 / (2.0 * 3.14159265358979), q * 3600.0, hp, i, p,
           S_RHO * S_G * q * hp);
    assert_true(fx_relerr(w, s_par(&a, "omega_rated"), 1.0) < 0.005);
    assert_true(fx_relerr(q, s_par(&a, "q_rated"), 1e-9) < 0.01);
    assert_true(fx_relerr(hp, s_par(&a, "head_rated"), 1.0) < 0.01);
    assert_true(i > 9.0 && i < 12.0);
    assert_true(p > 5500.0 && p < 7000.0);
    /* Overall efficiency: hydraulic power / electrical power. */
    const double eta = S_RHO * S_G * q * hp / p;
    assert_true(eta > 0.6 && eta < 0.7);
}

/* With no static lift the system curve is a parabola through the origin:
 * flow scales with speed and head with its square, whatever the slip. */
static void test_affinity_laws(void **state)
{
    (void)state;
    double q_per_w = 0.0, h_per_w2 = 0.0;
    const double cmds[] = {0.5, 0.8, 1.0, 1.2};
    for (size_t k = 0; k < 4; k++) {
        fx_actor_t a;
        s_setup(&a, TM_FIDELITY_LOW);
        assert_int_equal(fx_init(&a), TM_STEP_OK);
        s_set_in(&a, "speed_cmd", cmds[k]);
        s_set_in(&a, "h_suction", 3.0);
        s_set_in(&a, "h_discharge", 3.0);
        assert_int_equal(fx_step(&a, 1.0), TM_STEP_OK);
        const double w = s_out(&a, "speed");
        const double r1 = s_out(&a, "flow") / w;
        const double r2 = s_out(&a, "head") / (w * w);
        if (k > 0) {
            assert_true(fx_relerr(r1, q_per_w, 1e-300) < 1e-12);
            assert_true(fx_relerr(r2, h_per_w2, 1e-300) < 1e-12);
        }
        q_per_w = r1;
        h_per_w2 = r2;
        /* Speed follows the command less the slip. */
        const double ws = cmds[k] * s_par(&a, "omega_rated") /
                          (1.0 - s_par(&a, "slip_rated"));
        assert_true(w < ws && w > 0.95 * ws);
    }
}

/* The high tier's ODE settles on the low tier's steady state at several
 * operating points (motor time constant shortened to keep the run short).
 */
static void test_high_reaches_steady_state(void **state)
{
    (void)state;
    const struct {
        double cmd, hsuc, hdis, tamb;
    } ops[] = {
        {1.0, 0.0, 10.0, 20.0},
        {0.7, 2.0, 8.0, 35.0},
        {1.15, -1.0, 25.0, 5.0},
        {0.4, 0.0, 10.0, 20.0}, /* below shut-off: backflow at 0.4 speed */
    };
    double worst_w = 0, worst_q = 0, worst_t = 0, worst_y = 0;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        fx_actor_t hi, lo;
        s_setup(&hi, TM_FIDELITY_HIGH);
        s_setup(&lo, TM_FIDELITY_LOW);
        s_set_par(&hi, "c_th", 225.0); /* tau_th = 18 s */
        s_set_par(&lo, "c_th", 225.0);
        assert_int_equal(fx_init(&hi), TM_STEP_OK);
        assert_int_equal(fx_init(&lo), TM_STEP_OK);
        fx_actor_t *both[2] = {&hi, &lo};
        for (int b = 0; b < 2; b++) {
            s_set_in(both[b], "speed_cmd", ops[k].cmd);
            s_set_in(both[b], "h_suction", ops[k].hsuc);
            s_set_in(both[b], "h_discharge", ops[k].hdis);
            s_set_in(both[b], "t_ambient", ops[k].tamb);
        }
        for (int i = 0; i < 4000; i++) {
            assert_int_equal(fx_step(&hi, 0.1), TM_STEP_OK);
        }
        for (int i = 0; i < 4000; i++) {
            assert_int_equal(fx_step(&lo, 0.1), TM_STEP_OK);
        }
        const double qr = s_par(&lo, "q_rated");
        worst_w = fmax(
            worst_w, fx_relerr(s_out(&hi, "speed"), s_out(&lo, "speed"), 1.0));
        worst_q =
            fmax(worst_q, fabs(s_out(&hi, "flow") - s_out(&lo, "flow")) / qr);
        worst_t =
            fmax(worst_t, fabs(s_out(&hi, "t_motor") - s_out(&lo, "t_motor")));
        for (uint32_t j = 0; j < hi.m->n_outputs; j++) {
            worst_y =
                fmax(worst_y, fx_relerr(hi.outputs[j], lo.outputs[j], 1.0));
        }
    }
    printf("pump high vs low steady state: speed %.2e rel, flow %.2e of "
           "q_rated, t_motor %.2e K, any output %.2e rel\n",
           worst_w, worst_q, worst_t, worst_y);
    assert_true(worst_w < 1e-5);
    assert_true(worst_q < 1e-5);
    assert_true(worst_t < 1e-3);
    /* Current and power go through the motor torque, which amplifies a
     * speed error by k_m w / Tm (30 to 100 here): the solver's 1e-6 on
     * speed becomes up to 1e-4 on power at part load. */
    assert_true(worst_y < 1e-3);
}

/* Medium tier: from rest, each state is an exact first-order lag toward
 * the steady state, with the time constants docs/models.md gives:
 *   tau_speed = J / (k_m + T_pr (1 + a0) / w_r), k_m = T_mr / (w_sr - w_r)
 *   tau_flow  = I / (2 (kq + Ks) q_r),           kq = (shutoff - 1) H_r/q_r^2
 *   tau_th    = r_th c_th */
static void test_medium_exact_lags(void **state)
{
    (void)state;
    fx_actor_t med, lo;
    s_setup(&med, TM_FIDELITY_MEDIUM);
    s_setup(&lo, TM_FIDELITY_LOW);
    assert_int_equal(fx_init(&med), TM_STEP_OK);
    assert_int_equal(fx_init(&lo), TM_STEP_OK);
    assert_int_equal(fx_step(&lo, 1.0), TM_STEP_OK);
    const double w_ss = s_out(&lo, "speed"), q_ss = s_out(&lo, "flow");

    const double wr = s_par(&med, "omega_rated"), qr = s_par(&med, "q_rated");
    const double hr = s_par(&med, "head_rated");
    const double slip = s_par(&med, "slip_rated");
    const double t_mr = s_par(&med, "p_motor") / wr;
    const double k_m = t_mr / (wr / (1.0 - slip) - wr);
    const double t_pr = S_RHO * S_G * qr * hr / s_par(&med, "eta_pump") / wr;
    const double a0 = s_par(&med, "p_shutoff");
    const double tau_w =
        s_par(&med, "inertia") / (k_m + t_pr * (1.0 + a0) / wr);
    const double kq = (s_par(&med, "shutoff") - 1.0) * hr / (qr * qr);
    const double tau_q =
        s_par(&med, "inertance") / (2.0 * (kq + s_par(&med, "k_system")) * qr);
    const double tau_t = s_par(&med, "r_th") * s_par(&med, "c_th");
    printf("pump medium: tau_speed %.4f s, tau_flow %.4f s, tau_th %.0f s\n",
           tau_w, tau_q, tau_t);

    const double h = 0.002, t0 = s_par(&med, "t0");
    double worst = 0.0, t_first = 0.0;
    for (int i = 1; i <= 500; i++) {
        assert_int_equal(fx_step(&med, h), TM_STEP_OK);
        const double t = i * h;
        const double w = w_ss * (1.0 - exp(-t / tau_w));
        const double q = q_ss * (1.0 - exp(-t / tau_q));
        worst = fmax(worst, fabs(s_out(&med, "speed") - w) / w_ss);
        worst = fmax(worst, fabs(s_out(&med, "flow") - q) / q_ss);
        if (i == 1) {
            t_first = s_out(&med, "t_motor");
        }
    }
    /* Temperature: T1 = T_inf + (T0 - T_inf) e^{-h / tau_th} for the first
     * step; T_inf from the low tier's steady losses at the same inputs. */
    fx_actor_t lo2;
    s_setup(&lo2, TM_FIDELITY_LOW);
    s_set_par(&lo2, "c_th", 1e-3); /* tau_th ~ 0: T jumps to T_inf */
    assert_int_equal(fx_init(&lo2), TM_STEP_OK);
    assert_int_equal(fx_step(&lo2, 1.0), TM_STEP_OK);
    const double tinf = s_out(&lo2, "t_motor");
    const double want_t = tinf + (t0 - tinf) * exp(-h / tau_t);
    printf("pump medium: max lag error %.2e (rel. to steady state), "
           "T error %.2e K\n",
           worst, fabs(t_first - want_t));
    assert_true(worst < 1e-12);
    assert_true(fabs(t_first - want_t) < 1e-10);
}

/* Drive off: the rotor coasts down, the discharge head pushes water back
 * through the pump, the motor draws nothing; the low tier goes straight
 * to that state. */
static void test_drive_off(void **state)
{
    (void)state;
    fx_actor_t hi, lo;
    s_setup(&hi, TM_FIDELITY_HIGH);
    s_setup(&lo, TM_FIDELITY_LOW);
    assert_int_equal(fx_init(&hi), TM_STEP_OK);
    assert_int_equal(fx_init(&lo), TM_STEP_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(fx_step(&hi, 0.1), TM_STEP_OK);
    }
    const double w_run = s_out(&hi, "speed");
    s_set_in(&hi, "speed_cmd", 0.0);
    s_set_in(&lo, "speed_cmd", 0.0);
    double prev = w_run;
    for (int i = 0; i < 600; i++) {
        assert_int_equal(fx_step(&hi, 0.1), TM_STEP_OK);
        const double w = s_out(&hi, "speed");
        assert_true(w <= prev && w >= 0.0);
        prev = w;
        assert_true(s_out(&hi, "current") == 0.0);
    }
    assert_true(prev < 0.05 * w_run);
    assert_true(s_out(&hi, "flow") < 0.0); /* backflow */
    assert_int_equal(fx_step(&lo, 1.0), TM_STEP_OK);
    assert_true(s_out(&lo, "speed") == 0.0);
    assert_true(s_out(&lo, "current") == 0.0);
    assert_true(s_out(&lo, "power") == 0.0);
    const double kq = (s_par(&lo, "shutoff") - 1.0) * s_par(&lo, "head_rated") /
                      (s_par(&lo, "q_rated") * s_par(&lo, "q_rated"));
    const double back = -sqrt(10.0 / (kq + s_par(&lo, "k_system")));
    assert_true(fx_relerr(s_out(&lo, "flow"), back, 1e-300) < 1e-12);
}

/* Long ticks are fine for the high tier (the solver sub-steps). */
static void test_high_long_ticks(void **state)
{
    (void)state;
    const double ticks[] = {0.01, 1.0, 30.0};
    for (size_t k = 0; k < 3; k++) {
        fx_actor_t a;
        s_setup(&a, TM_FIDELITY_HIGH);
        assert_int_equal(fx_init(&a), TM_STEP_OK);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(fx_step(&a, ticks[k]), TM_STEP_OK);
        }
        assert_true(isfinite(s_out(&a, "speed")));
    }
}

/* A rotor with almost no inertia on a stiff slip line: the explicit
 * solver's stable step falls below its minimum and it gives up, leaving
 * the state alone; the lower tiers step the same actor fine. */
static void test_solver_gives_up(void **state)
{
    (void)state;
    fx_actor_t hi;
    s_setup(&hi, TM_FIDELITY_HIGH);
    s_set_par(&hi, "inertia", 1e-6);
    s_set_par(&hi, "slip_rated", 1e-4);
    assert_int_equal(fx_init(&hi), TM_STEP_OK);
    double before[TM_MODEL_MAX_VARS];
    memcpy(before, hi.state, sizeof before);
    assert_int_equal(fx_step(&hi, 0.1), TM_STEP_SOLVER_GAVE_UP);
    assert_memory_equal(before, hi.state, hi.m->n_states * sizeof(double));

    /* The supervisor's fallback: map one tier down and step again. */
    for (int t = TM_FIDELITY_MEDIUM; t <= TM_FIDELITY_LOW; t++) {
        fx_actor_t lower = hi;
        lower.m = fx_model("pump", (tm_fidelity_t)t);
        assert_int_equal(
            tm_model_map_state(lower.m, hi.m, hi.state, hi.params, lower.state),
            TM_STEP_OK);
        assert_int_equal(fx_step(&lower, 0.1), TM_STEP_OK);
        assert_true(s_out(&lower, "speed") > 0.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rated_point),
        cmocka_unit_test(test_affinity_laws),
        cmocka_unit_test(test_high_reaches_steady_state),
        cmocka_unit_test(test_medium_exact_lags),
        cmocka_unit_test(test_drive_off),
        cmocka_unit_test(test_high_long_ticks),
        cmocka_unit_test(test_solver_gives_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
