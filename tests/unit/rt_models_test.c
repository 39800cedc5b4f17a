/* rt_models_test: the runtime driving library models.
 *
 * Checks the coupling rule against an independent reference (two RK4
 * oscillators joined by a spring, stepped by hand with the one-tick-delay
 * rule), bit-identical digests of an oscillator/spring chain for 1, 2 and 3
 * workers, and tier changes of a running pump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_models.h"
#include "tm_rt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const tm_model_t *s_find(const char *family, tm_fidelity_t tier)
{
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find(family, NULL, tier, &m), 0);
    return m;
}

static tm_rt_t *s_open(unsigned workers, double h)
{
    tm_rt_config_t cfg = {.workers = workers, .h = h, .seed = 3};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    return rt;
}

/* Textbook RK4 for m x'' = -k x - c v + f with f constant over the step. */
static void s_rk4(double m, double k, double c, double f, double h, double *x,
                  double *v)
{
    double ax = *x;
    double av = *v;
#define S_ACC(px, pv) ((-k * (px)-c * (pv) + f) / m)
    double k1x = av;
    double k1v = S_ACC(ax, av);
    double k2x = av + h / 2 * k1v;
    double k2v = S_ACC(ax + h / 2 * k1x, av + h / 2 * k1v);
    double k3x = av + h / 2 * k2v;
    double k3v = S_ACC(ax + h / 2 * k2x, av + h / 2 * k2v);
    double k4x = av + h * k3v;
    double k4v = S_ACC(ax + h * k3x, av + h * k3v);
#undef S_ACC
    *x = ax + h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x);
    *v = av + h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v);
}

static void s_params(const tm_model_t *m, double *p, const char *const *names,
                     const double *values, int n)
{
    for (uint32_t i = 0; i < m->n_params; i++) {
        p[i] = m->params[i].def;
    }
    for (int i = 0; i < n; i++) {
        int j = tm_model_var_index(m->params, m->n_params, names[i]);
        assert_true(j >= 0);
        p[j] = values[i];
    }
}

static void test_coupled_pair_reference(void **state)
{
    (void)state;
    const tm_model_t *osc = s_find("oscillator", TM_FIDELITY_HIGH);
    const tm_model_t *spr = s_find("spring", TM_FIDELITY_HIGH);
    const double h = 0.01;
    const double m = 2.0, k = 80.0, c = 0.3, ks = 40.0;
    tm_rt_t *rt = s_open(2, h);
    const char *names[] = {"m", "k", "c", "x0", "v0"};
    double pa[TM_MODEL_MAX_VARS], pb[TM_MODEL_MAX_VARS];
    double va[] = {m, k, c, 0.1, 0.0};
    double vb[] = {m, k, c, -0.05, 0.2};
    s_params(osc, pa, names, va, 5);
    s_params(osc, pb, names, vb, 5);
    const char *sn[] = {"k"};
    double ps[TM_MODEL_MAX_VARS];
    s_params(spr, ps, sn, &ks, 1);
    assert_int_equal(
        tm_rt_spawn(rt, "B", osc, &(tm_rt_spawn_opts_t){.params = pb}), 0);
    assert_int_equal(
        tm_rt_spawn(rt, "S", spr, &(tm_rt_spawn_opts_t){.params = ps}), 0);
    assert_int_equal(
        tm_rt_spawn(rt, "A", osc, &(tm_rt_spawn_opts_t){.params = pa}), 0);
    assert_int_equal(tm_rt_link(rt, "A", "x", "S", "xa"), 0);
    assert_int_equal(tm_rt_link(rt, "B", "x", "S", "xb"), 0);
    assert_int_equal(tm_rt_link(rt, "S", "fa", "A", "fr"), 0);
    assert_int_equal(tm_rt_link(rt, "S", "fb", "B", "fl"), 0);

    /* Reference: outputs of tick k-1 feed tick k. */
    double xa = 0.1, vA = 0.0, xb = -0.05, vB = 0.2;
    double fa = 0.0, fb = 0.0; /* spring outputs at spawn: zero inputs */
    for (int tick = 1; tick <= 500; tick++) {
        double pxa = xa, pxb = xb, pfa = fa, pfb = fb;
        s_rk4(m, k, c, pfa, h, &xa, &vA);
        s_rk4(m, k, c, pfb, h, &xb, &vB);
        fa = ks * (pxb - pxa);
        fb = -fa;
        assert_int_equal(tm_rt_step(rt, 1), 0);
        if (tick % 50 == 0) {
            tm_rt_actor_t a, b, s;
            assert_int_equal(tm_rt_get(rt, "A", &a), 0);
            assert_int_equal(tm_rt_get(rt, "B", &b), 0);
            assert_int_equal(tm_rt_get(rt, "S", &s), 0);
            assert_true(fabs(a.state[0] - xa) <= 1e-12);
            assert_true(fabs(a.state[1] - vA) <= 1e-12);
            assert_true(fabs(b.state[0] - xb) <= 1e-12);
            assert_true(fabs(b.state[1] - vB) <= 1e-12);
            assert_true(fabs(s.outputs[0] - fa) <= 1e-9);
            assert_true(fabs(s.outputs[1] - fb) <= 1e-9);
        }
    }
    tm_rt_destroy(&rt);
}

static void s_chain(unsigned workers, int reverse, uint8_t digest[32])
{
    enum { N = 101, K = 300 };
    const tm_model_t *osc = s_find("oscillator", TM_FIDELITY_HIGH);
    const tm_model_t *spr = s_find("spring", TM_FIDELITY_HIGH);
    tm_rt_t *rt = s_open(workers, 0.005);
    char id[16], a[16], b[16];
    for (int j = 0; j < N; j++) {
        int i = reverse ? N - 1 - j : j;
        double p[TM_MODEL_MAX_VARS];
        const char *names[] = {"x0"};
        double x0 = 0.01 * (double)(i % 13) - 0.05;
        s_params(osc, p, names, &x0, 1);
        snprintf(id, sizeof id, "o%03d", i);
        assert_int_equal(
            tm_rt_spawn(rt, id, osc, &(tm_rt_spawn_opts_t){.params = p}), 0);
        if (i + 1 < N) {
            snprintf(id, sizeof id, "s%03d", i);
            assert_int_equal(tm_rt_spawn(rt, id, spr, NULL), 0);
        }
    }
    for (int i = 0; i + 1 < N; i++) {
        snprintf(id, sizeof id, "s%03d", i);
        snprintf(a, sizeof a, "o%03d", i);
        snprintf(b, sizeof b, "o%03d", i + 1);
        assert_int_equal(tm_rt_link(rt, a, "x", id, "xa"), 0);
        assert_int_equal(tm_rt_link(rt, b, "x", id, "xb"), 0);
        assert_int_equal(tm_rt_link(rt, id, "fa", a, "fr"), 0);
        assert_int_equal(tm_rt_link(rt, id, "fb", b, "fl"), 0);
    }
    assert_int_equal(tm_rt_step(rt, K), 0);
    assert_int_equal(tm_rt_digest(rt, digest), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "o050", &v), 0);
    assert_true(isfinite(v.state[0]) && fabs(v.state[0]) < 1.0);
    assert_int_equal(v.health.faults, 0);
    tm_rt_destroy(&rt);
}

static void test_chain_digest_workers(void **state)
{
    (void)state;
    uint8_t d1[32], d2[32], d3[32];
    s_chain(1, 0, d1);
    s_chain(2, 1, d2);
    s_chain(3, 0, d3);
    assert_memory_equal(d1, d2, 32);
    assert_memory_equal(d1, d3, 32);
}

static double s_out(const tm_rt_actor_t *v, const char *name)
{
    int j = tm_model_var_index(v->model->outputs, v->model->n_outputs, name);
    assert_true(j >= 0);
    return v->outputs[j];
}

static void test_pump_tier_changes(void **state)
{
    (void)state;
    const tm_model_t *hi = s_find("pump", TM_FIDELITY_HIGH);
    const tm_model_t *me = s_find("pump", TM_FIDELITY_MEDIUM);
    const tm_model_t *lo = s_find("pump", TM_FIDELITY_LOW);
    const tm_model_t *tank = s_find("tank", TM_FIDELITY_HIGH);
    tm_rt_t *rt = s_open(2, 0.05);
    assert_int_equal(tm_rt_spawn(rt, "p1", hi, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "t1", tank, NULL), 0);
    assert_int_equal(tm_rt_link(rt, "p1", "flow", "t1", "qin"), 0);
    assert_int_equal(tm_rt_step(rt, 400), 0); /* 20 s: near steady state */
    const tm_model_t *seq[] = {me, lo, me, hi};
    for (int i = 0; i < 4; i++) {
        tm_rt_actor_t v;
        assert_int_equal(tm_rt_get(rt, "p1", &v), 0);
        double speed = s_out(&v, "speed");
        double flow = s_out(&v, "flow");
        double temp = s_out(&v, "t_motor");
        assert_int_equal(tm_rt_set_model(rt, "p1", seq[i]), 0);
        assert_int_equal(tm_rt_get(rt, "p1", &v), 0);
        assert_ptr_equal(v.model, seq[i]);
        /* Outputs are continuous across the tier change... */
        assert_true(fabs(s_out(&v, "speed") - speed) <= 1e-9 * fabs(speed));
        assert_true(fabs(s_out(&v, "flow") - flow) <= 1e-9 * fabs(flow));
        assert_true(fabs(s_out(&v, "t_motor") - temp) <= 1e-9);
        assert_int_equal(v.linked[0] + v.linked[1] + v.linked[2], 0);
        /* ...and stay close one tick later (near steady state). */
        assert_int_equal(tm_rt_step(rt, 1), 0);
        assert_int_equal(tm_rt_get(rt, "p1", &v), 0);
        assert_true(fabs(s_out(&v, "speed") - speed) <= 0.01 * fabs(speed));
        assert_true(fabs(s_out(&v, "flow") - flow) <= 0.02 * fabs(flow));
        assert_int_equal(v.health.faults, 0);
    }
    /* The tank kept receiving the pump's flow through the link. */
    tm_rt_actor_t t;
    assert_int_equal(tm_rt_get(rt, "t1", &t), 0);
    assert_int_equal(t.linked[0], 1);
    assert_true(t.inputs[0] > 0.0);
    assert_int_equal(tm_rt_set_model(rt, "p1", tank), TM_ERR_INVAL);
    tm_rt_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coupled_pair_reference),
        cmocka_unit_test(test_chain_digest_workers),
        cmocka_unit_test(test_pump_tier_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
