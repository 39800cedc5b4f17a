/* pumpmon_test: the motor-pump monitor on synthetic telemetry with a known
 * truth, fed through the runtime (tm_rt_feed): calibration, convergence of
 * the estimates and their uncertainty, missing samples, alarms on injected
 * faults and none in normal operation, measured inputs closed to links,
 * determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_model.h"
#include "tm_models.h"
#include "tm_rng.h"
#include "tm_rt.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSIG 8

/* True levels and noise of a pump in SI units (vib m/s^2, A, Pa, degC,
 * degC, V, m^3/s). */
static const double s_level[NSIG] = {0.26, 0.39, 1.1,   0.35e5,
                                     79.0, 26.0, 232.0, 32.0 / 60000.0};
static const double s_noise[NSIG] = {0.003, 0.007, 0.3,  0.26e5,
                                     0.1,   0.01,  10.0, 0.4 / 60000.0};
enum { FLOW = 7, TMOTOR = 4 };

typedef struct {
    tm_rt_t *rt;
    const tm_model_t *m;
    uint64_t row;
} s_twin_t;

static const tm_model_t *s_model(tm_fidelity_t tier)
{
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find("pumpmon", NULL, tier, &m), 0);
    assert_int_equal(tm_model_check(m), 0);
    return m;
}

static void s_open(s_twin_t *t, tm_fidelity_t tier)
{
    memset(t, 0, sizeof *t);
    tm_rt_config_t cfg = {.workers = 1, .h = 1.0, .seed = 7};
    assert_int_equal(tm_rt_open(&t->rt, &cfg), 0);
    t->m = s_model(tier);
    assert_int_equal(tm_rt_spawn(t->rt, "p1", t->m, NULL), 0);
}

/* One row of measurements: level (+ fault offset on signal fsig, in
 * noise sd) + noise; missing (NaN) where drop says so. */
static void s_sample(uint64_t row, int fsig, double fault, double *x)
{
    for (int j = 0; j < NSIG; j++) {
        double z = tm_rng_normal(99, (uint64_t)j, row, 0);
        x[j] = s_level[j] + s_noise[j] * (z + (j == fsig ? fault : 0.0));
    }
}

static void s_feed_step(s_twin_t *t, const double *x)
{
    for (uint32_t j = 0; j < NSIG; j++) {
        if (!isnan(x[j])) {
            assert_int_equal(tm_rt_feed(t->rt, "p1", j, x[j]), 0);
        }
    }
    assert_int_equal(tm_rt_step(t->rt, 1), 0);
    t->row++;
}

static double s_out(s_twin_t *t, const char *name)
{
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(t->rt, "p1", &a), 0);
    int i = tm_model_var_index(t->m->outputs, t->m->n_outputs, name);
    assert_true(i >= 0);
    return a.outputs[i];
}

/* Calibrate on n normal rows (through the hook, as the node does) and
 * load the result into the actor. */
static void s_calibrate(s_twin_t *t, size_t n)
{
    double *rows = malloc(n * NSIG * sizeof *rows);
    assert_non_null(rows);
    for (size_t r = 0; r < n; r++) {
        s_sample(r, -1, 0.0, rows + r * NSIG);
    }
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(t->rt, "p1", &a), 0);
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    memcpy(params, a.params, t->m->n_params * sizeof(double));
    char why[256] = "";
    assert_int_equal(
        t->m->calibrate(1.0, n, rows, params, state, why, sizeof why), 0);
    for (uint32_t k = 0; k < t->m->n_params; k++) {
        assert_int_equal(
            tm_rt_set(t->rt, "p1", t->m->params[k].name, params[k]), 0);
    }
    for (uint32_t k = 0; k < t->m->n_states; k++) {
        assert_int_equal(tm_rt_set(t->rt, "p1", t->m->states[k].name, state[k]),
                         0);
    }
    t->row = n;
    free(rows);
}

static void test_calibrate_and_track(void **st)
{
    (void)st;
    s_twin_t t;
    s_open(&t, TM_FIDELITY_HIGH);
    s_calibrate(&t, 400);
    /* The calibrated noise is close to the truth, the level too. */
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(t.rt, "p1", &a), 0);
    int isd = tm_model_var_index(t.m->params, t.m->n_params, "sd_flow");
    int iset = tm_model_var_index(t.m->params, t.m->n_params, "paramset");
    assert_true(fabs(a.params[isd] / s_noise[FLOW] - 1.0) < 0.15);
    assert_true(a.params[iset] == 1.0);
    /* 2,000 normal rows: the estimate stays within 3 of its own sd of the
     * true level, and the alarm is up in under 1 % of them. */
    size_t alarms = 0;
    size_t outside = 0;
    for (int r = 0; r < 2000; r++) {
        double x[NSIG];
        s_sample(t.row, -1, 0.0, x);
        s_feed_step(&t, x);
        alarms += s_out(&t, "alarm") != 0.0;
        double sd = s_out(&t, "flow_sd");
        outside += fabs(s_out(&t, "flow") - s_level[FLOW]) > 3.0 * sd;
    }
    printf("normal: %zu alarms, %zu estimates outside 3 sd in 2000 rows\n",
           alarms, outside);
    assert_true(alarms < 20);
    assert_true(outside < 20);
    tm_rt_destroy(&t.rt);
}

/* A high-tier twin calibrated on 400 normal rows, then 200 more. */
static void s_settled(s_twin_t *t)
{
    double x[NSIG];
    s_open(t, TM_FIDELITY_HIGH);
    s_calibrate(t, 400);
    for (int r = 0; r < 200; r++) {
        s_sample(t->row, -1, 0.0, x);
        s_feed_step(t, x);
    }
}

/* A flow drop of 4 noise sd for 300 rows raises the alarm within 30 rows
 * and holds it; the level does not learn the fault (its detector mean
 * passes gate x su, which freezes it); the alarm clears within 150 rows
 * after the fault ends. (A shift too small to pass the gate is learnt as
 * drift over a few tau_b: docs/models.md.) */
static void test_fault_alarm(void **st)
{
    (void)st;
    s_twin_t t;
    double x[NSIG];
    s_settled(&t);
    int first = -1;
    for (int r = 0; r < 300; r++) {
        s_sample(t.row, FLOW, -4.0, x);
        s_feed_step(&t, x);
        if (first < 0 && s_out(&t, "alarm") != 0.0) {
            first = r;
        }
    }
    printf("flow fault: alarm after %d rows, score %.2f\n", first,
           s_out(&t, "score"));
    assert_true(first >= 0 && first < 30);
    assert_true(s_out(&t, "alarm") != 0.0);
    assert_true(fabs(s_out(&t, "flow") - s_level[FLOW]) < s_noise[FLOW]);
    int cleared = -1;
    for (int r = 0; r < 300; r++) {
        s_sample(t.row, -1, 0.0, x);
        s_feed_step(&t, x);
        if (cleared < 0 && s_out(&t, "alarm") == 0.0) {
            cleared = r;
        }
    }
    printf("flow fault over: alarm cleared after %d rows\n", cleared);
    assert_true(cleared >= 0 && cleared < 150);
    tm_rt_destroy(&t.rt);
}

/* A small sustained flow drop (2.5 noise sd, about the gate) for 400
 * rows: the level of flow follows tau_h (1,000 s), so the drop is not
 * learnt as drift within the fault; the alarm rises and holds for at least
 * half of it (223 rows here; with flow's level on tau_b, 100 s, 51; 314
 * before 1.2.0, whose vibration band takes the vibration's noise out of
 * the score but not out of the threshold fitted on the window). */
static void test_small_shift_held(void **st)
{
    (void)st;
    s_twin_t t;
    double x[NSIG];
    s_settled(&t);
    int held = 0;
    for (int r = 0; r < 400; r++) {
        s_sample(t.row, FLOW, -2.5, x);
        s_feed_step(&t, x);
        held += s_out(&t, "alarm") != 0.0;
    }
    printf("small flow drop: alarm in %d of 400 rows\n", held);
    assert_true(held >= 200);
    tm_rt_destroy(&t.rt);
}

/* Vibration: a step of its level by 3 % (2.6 noise sd of vib1) is normal
 * wander, within the band of 5 %: no alarm, and the level follows it; a
 * rise of 20 % (an imbalance; 11 noise sd of vib2) alarms within 30 rows
 * and holds while it lasts (its level is frozen). */
static void test_vibration(void **st)
{
    (void)st;
    s_twin_t t;
    double x[NSIG];
    s_settled(&t);
    int alarms = 0;
    for (int r = 0; r < 300; r++) {
        s_sample(t.row, -1, 0.0, x);
        x[0] += 0.03 * s_level[0];
        s_feed_step(&t, x);
        alarms += s_out(&t, "alarm") != 0.0;
    }
    printf("vibration step of 3 %%: alarm in %d of 300 rows\n", alarms);
    assert_int_equal(alarms, 0);
    assert_true(fabs(s_out(&t, "vib1") - 1.03 * s_level[0]) <
                3.0 * s_out(&t, "vib1_sd"));
    int first = -1;
    int held = 0;
    for (int r = 0; r < 300; r++) {
        s_sample(t.row, -1, 0.0, x);
        x[0] += 0.03 * s_level[0];
        x[1] += 0.2 * s_level[1];
        s_feed_step(&t, x);
        bool on = s_out(&t, "alarm") != 0.0;
        first = first < 0 && on ? r : first;
        held += on;
    }
    printf("vibration rise of 20 %%: alarm after %d rows, in %d of 300\n",
           first, held);
    assert_true(first >= 0 && first < 30);
    assert_true(held >= 300 - 30);
    /* frozen: the level of vib2 stayed where it was, not at +20 % */
    assert_true(fabs(s_out(&t, "vib2") - s_level[1]) < 0.05 * s_level[1]);
    tm_rt_destroy(&t.rt);
}

/* The temperatures are slow covariates: warming of the motor by 30 noise
 * sd and of the fluid by 100 over 2,000 rows (a start-up) raises no alarm,
 * and the estimates follow it (within 5 of their own sd). */
static void test_warming_no_alarm(void **st)
{
    (void)st;
    s_twin_t t;
    s_open(&t, TM_FIDELITY_HIGH);
    s_calibrate(&t, 400);
    double x[NSIG];
    size_t alarms = 0;
    for (int r = 0; r < 2000; r++) {
        s_sample(t.row, -1, 0.0, x);
        x[TMOTOR] += 30.0 * s_noise[TMOTOR] * r / 2000.0;
        x[TMOTOR + 1] += 100.0 * s_noise[TMOTOR + 1] * r / 2000.0;
        s_feed_step(&t, x);
        alarms += s_out(&t, "alarm") != 0.0;
    }
    double err =
        s_out(&t, "t_motor") - (s_level[TMOTOR] + 30.0 * s_noise[TMOTOR]);
    printf("warming: %zu alarms in 2000 rows, t_motor off by %.3g (sd %.3g)\n",
           alarms, err, s_out(&t, "t_motor_sd"));
    assert_true(alarms < 20);
    assert_true(fabs(err) < 5.0 * s_out(&t, "t_motor_sd"));
    tm_rt_destroy(&t.rt);
}

/* A temperature that rises far faster than the set's own heat can drive
 * it (the motor at 0.1 K/s, a stalled motor; the fluid at 0.01 K/s, a
 * heater of kilowatts in the loop: ten times the rise rate calibration
 * lets alarm on this quiet window) alarms within a minute and holds while
 * it rises; once it levels off the alarm clears. The same fall raises
 * none: the faults a temperature shows add heat. */
static void s_ramp(int sig, double rate, size_t *first, size_t *held,
                   size_t *after)
{
    s_twin_t t;
    s_open(&t, TM_FIDELITY_HIGH);
    s_calibrate(&t, 400);
    double x[NSIG];
    *first = SIZE_MAX;
    *held = 0;
    *after = 0;
    for (size_t r = 0; r < 1000; r++) {
        s_sample(t.row, -1, 0.0, x);
        /* rows 100..219 ramp, then the temperature stays where it got */
        double dt = r < 100 ? 0.0 : (double)(r < 220 ? r - 100 : 120);
        x[sig] += rate * dt;
        s_feed_step(&t, x);
        bool alarm = s_out(&t, "alarm") != 0.0;
        if (r < 100) {
            assert_false(alarm);
        } else if (r < 220) {
            if (alarm && *first == SIZE_MAX) {
                *first = r - 100;
            }
            *held += alarm;
        } else if (r >= 900) {
            *after += alarm;
        }
    }
    tm_rt_destroy(&t.rt);
}

static void test_heating_alarm(void **st)
{
    (void)st;
    static const struct {
        int sig;
        double rate;
    } cases[] = {{TMOTOR, 0.1}, {TMOTOR + 1, 0.01}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t first = 0;
        size_t held = 0;
        size_t after = 0;
        s_ramp(cases[i].sig, cases[i].rate, &first, &held, &after);
        printf("heating of signal %d at %g K/s: alarm after %zu rows, in %zu "
               "of 120, %zu in the last 100 rows\n",
               cases[i].sig, cases[i].rate, first, held, after);
        assert_true(first <= 60);
        assert_true(held >= 120 - first - 5);
        assert_int_equal(after, 0);
        s_ramp(cases[i].sig, -cases[i].rate, &first, &held, &after);
        printf("cooling of signal %d at %g K/s: %zu alarms\n", cases[i].sig,
               cases[i].rate, held + after);
        assert_int_equal(first, SIZE_MAX);
        assert_int_equal(held + after, 0);
    }
}

/* Missing samples: the estimate holds, its sd grows every step, and the
 * detector does not alarm on absence; the first sample back shrinks it. */
static void test_missing(void **st)
{
    (void)st;
    s_twin_t t;
    s_open(&t, TM_FIDELITY_HIGH);
    s_calibrate(&t, 400);
    double x[NSIG];
    s_sample(t.row, -1, 0.0, x);
    s_feed_step(&t, x);
    double sd0 = s_out(&t, "t_motor_sd");
    double est0 = s_out(&t, "t_motor");
    double prev = sd0;
    for (int r = 0; r < 50; r++) {
        s_sample(t.row, -1, 0.0, x);
        x[TMOTOR] = NAN;
        s_feed_step(&t, x);
        double sd = s_out(&t, "t_motor_sd");
        assert_true(sd > prev);
        prev = sd;
        assert_true(s_out(&t, "t_motor") == est0);
        assert_true(s_out(&t, "alarm") == 0.0);
    }
    s_sample(t.row, -1, 0.0, x);
    s_feed_step(&t, x);
    assert_true(s_out(&t, "t_motor_sd") < prev);
    /* A step with nothing fed at all is a step of missing samples. */
    assert_int_equal(tm_rt_step(t.rt, 1), 0);
    assert_true(s_out(&t, "t_motor_sd") > sd0);
    tm_rt_destroy(&t.rt);
}

/* A version of pumpmon whose flow estimate is off by S_BIAS (a worse
 * version to roll out). */
#define S_BIAS (4.0 * 0.4 / 60000.0)
static const tm_model_t *s_base;

static void s_biased_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                          const double *p, const double *u, double *y,
                          uint8_t *status)
{
    s_base->step(ctx, n, x, p, u, y, status);
    int f = tm_model_var_index(s_base->outputs, s_base->n_outputs, "flow");
    for (size_t i = 0; i < n; i++) {
        y[i * s_base->n_outputs + (size_t)f] += S_BIAS;
    }
}

/* A trial is scored against the measurements too, for the outputs that
 * predict a measured input: the same version scores as the live one, a
 * biased one worse by about its bias; rows without a flow sample are not
 * counted. */
static void test_trial_measured(void **st)
{
    (void)st;
    s_twin_t t;
    double x[NSIG];
    s_settled(&t);
    s_base = t.m;
    tm_model_t biased = *t.m;
    biased.step = s_biased_step;
    int f = tm_model_var_index(t.m->outputs, t.m->n_outputs, "flow");
    int sc = tm_model_var_index(t.m->outputs, t.m->n_outputs, "score");
    assert_true(f >= 0 && sc >= 0);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tm_rt_trial_start(t.rt, "p1", k == 0 ? t.m : &biased),
                         0);
        for (int r = 0; r < 300; r++) {
            s_sample(t.row, -1, 0.0, x);
            x[FLOW] = r % 3 == 0 ? NAN : x[FLOW]; /* a third missing */
            s_feed_step(&t, x);
        }
        tm_rt_trial_t tr;
        assert_int_equal(tm_rt_trial_get(t.rt, "p1", &tr), 0);
        assert_int_equal(tr.n_measured[f], 200);
        assert_int_equal(tr.n_measured[sc], 0); /* predicts no input */
        printf("trial %d: flow RMSE against measurements %.3g (live %.3g)\n", k,
               tr.meas_rmse[f], tr.live_meas_rmse[f]);
        assert_true(tr.live_meas_rmse[f] > 0);
        if (k == 0) {
            assert_true(fabs(tr.meas_rmse[f] - tr.live_meas_rmse[f]) <
                        1e-9 * tr.live_meas_rmse[f]);
        } else {
            assert_true(tr.meas_rmse[f] > tr.live_meas_rmse[f] + 0.5 * S_BIAS);
            assert_true(tr.meas_mape[f] > tr.live_meas_mape[f]);
        }
        assert_int_equal(tm_rt_trial_stop(t.rt, "p1", false), 0);
    }
    tm_rt_destroy(&t.rt);
}

/* The low tier estimates without detecting: no alarm on the same fault. */
static void test_low_tier(void **st)
{
    (void)st;
    s_twin_t t;
    s_open(&t, TM_FIDELITY_LOW);
    s_calibrate(&t, 400);
    double x[NSIG];
    for (int r = 0; r < 200; r++) {
        s_sample(t.row, FLOW, -4.0, x);
        s_feed_step(&t, x);
        assert_true(s_out(&t, "alarm") == 0.0);
        assert_true(s_out(&t, "score") == 0.0);
    }
    tm_rt_destroy(&t.rt);
}

/* Feeds reach measured inputs only, links never do, and identical feeds
 * give identical digests. */
static void test_feed_rules(void **st)
{
    (void)st;
    s_twin_t t;
    s_open(&t, TM_FIDELITY_HIGH);
    assert_int_equal(tm_rt_feed(t.rt, "nope", 0, 1.0), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_feed(t.rt, "p1", NSIG, 1.0), TM_ERR_UNKNOWN_PORT);
    const tm_model_t *osc = NULL;
    assert_int_equal(tm_models_find("oscillator", NULL, 0, &osc), 0);
    assert_int_equal(tm_rt_spawn(t.rt, "o1", osc, NULL), 0);
    assert_int_equal(tm_rt_feed(t.rt, "o1", 0, 1.0), TM_ERR_UNKNOWN_PORT);
    assert_int_equal(tm_rt_link(t.rt, "o1", "x", "p1", "flow"), TM_ERR_INVAL);

    s_twin_t u;
    s_open(&u, TM_FIDELITY_HIGH);
    assert_int_equal(tm_rt_kill(t.rt, "o1"), 0);
    for (int r = 0; r < 100; r++) {
        double x[NSIG];
        s_sample(t.row, r > 50 ? FLOW : -1, -3.0, x);
        if (r % 7 == 0) {
            x[2] = NAN;
        }
        s_feed_step(&t, x);
        s_feed_step(&u, x);
    }
    uint8_t d1[32];
    uint8_t d2[32];
    assert_int_equal(tm_rt_digest(t.rt, d1), 0);
    assert_int_equal(tm_rt_digest(u.rt, d2), 0);
    assert_memory_equal(d1, d2, 32);
    tm_rt_destroy(&t.rt);
    tm_rt_destroy(&u.rt);
}

/* A window too short, or a signal never measured, is refused with why. */
static void test_calibrate_refusals(void **st)
{
    (void)st;
    const tm_model_t *m = s_model(TM_FIDELITY_HIGH);
    double params[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    for (uint32_t k = 0; k < m->n_params; k++) {
        params[k] = m->params[k].def;
    }
    double rows[400 * NSIG];
    for (size_t r = 0; r < 400; r++) {
        s_sample(r, -1, 0.0, rows + r * NSIG);
        rows[r * NSIG + 6] = NAN; /* voltage never measured */
    }
    char why[256] = "";
    assert_int_equal(m->calibrate(1.0, 10, rows, params, state, why, 256),
                     TM_ERR_INVAL);
    assert_non_null(strstr(why, "too short"));
    assert_int_equal(m->calibrate(1.0, 400, rows, params, state, why, 256),
                     TM_ERR_INVAL);
    assert_non_null(strstr(why, "voltage"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibrate_and_track),
        cmocka_unit_test(test_fault_alarm),
        cmocka_unit_test(test_small_shift_held),
        cmocka_unit_test(test_warming_no_alarm),
        cmocka_unit_test(test_heating_alarm),
        cmocka_unit_test(test_vibration),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_low_tier),
        cmocka_unit_test(test_trial_measured),
        cmocka_unit_test(test_feed_rules),
        cmocka_unit_test(test_calibrate_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
