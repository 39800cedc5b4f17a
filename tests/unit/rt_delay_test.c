/* rt_delay_test: delayed links and output histories of the runtime.
 *
 * A "clock" source whose output at tick k is k (its spawn outputs x0 before
 * its first step) feeds "probe" actors whose state is their input, so each
 * test can say exactly which tick of its source a link read: the rule (a
 * link of delay d reads tick k - d), the window of an actor and what a
 * link that reaches further back reads, periods, set, set_model, kill,
 * independence from what an actor shares a group with, the errors, the
 * digest, and a restore from a checkpoint (tm_rt_restore_at) that steps on
 * bit for bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_model.h"
#include "tm_models.h"
#include "tm_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test models -------------------------------------------------------- */

/* clock: x = tick at each step (high tier), tick + 0.5 (low tier); y = x;
 * init x = x0. */
static const tm_var_t s_clock_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_clock_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};
static const tm_var_t s_clock_params[] = {
    {"x0", "1", -1.0, -1e6, 1e6, 0, "initial x"}};

static int s_clock_init(const double *p, double *x)
{
    x[0] = p[0];
    return TM_STEP_OK;
}

static void s_clock_output(size_t n, const double *x, const double *p,
                           const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i];
    }
}

static void s_clock_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                         const double *p, const double *u, double *y,
                         uint8_t *st)
{
    (void)p;
    (void)u;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)ctx->tick;
        y[i] = x[i];
    }
}

static void s_clock_lo_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                            const double *p, const double *u, double *y,
                            uint8_t *st)
{
    (void)p;
    (void)u;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)ctx->tick + 0.5;
        y[i] = x[i];
    }
}

#define S_CLOCK(tier, stepfn)                                                  \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "clock",                  \
        .version = "1.0.0", .fidelity = tier, .summary = "tick counter",       \
        .states = s_clock_states, .n_states = 1, .outputs = s_clock_outputs,   \
        .n_outputs = 1, .params = s_clock_params, .n_params = 1,               \
        .init = s_clock_init, .output = s_clock_output, .step = stepfn,        \
    }

static const tm_model_t s_clock = S_CLOCK(TM_FIDELITY_HIGH, s_clock_step);
static const tm_model_t s_clock_lo = S_CLOCK(TM_FIDELITY_LOW, s_clock_lo_step);

/* probe: x = u + w (u sums its links, w takes one), y = x. */
static const tm_var_t s_probe_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_probe_inputs[] = {
    {"u", "1", 0.0, -1.7e308, 1.7e308, TM_VAR_SUMMING, "summing input"},
    {"w", "1", 0.0, -1.7e308, 1.7e308, 0, "single-link input"}};
static const tm_var_t s_probe_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};

static int s_probe_init(const double *p, double *x)
{
    (void)p;
    x[0] = 0.0;
    return TM_STEP_OK;
}

static void s_probe_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                         const double *p, const double *u, double *y,
                         uint8_t *st)
{
    (void)ctx;
    (void)p;
    (void)st;
    for (size_t i = 0; i < n; i++) {
        x[i] = u[2 * i] + u[2 * i + 1];
        y[i] = x[i];
    }
}

static const tm_model_t s_probe = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "probe",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "records its input",
    .states = s_probe_states,
    .n_states = 1,
    .inputs = s_probe_inputs,
    .n_inputs = 2,
    .outputs = s_probe_outputs,
    .n_outputs = 1,
    .init = s_probe_init,
    .output = s_clock_output,
    .step = s_probe_step,
};

/* ---- helpers ------------------------------------------------------------ */

static tm_rt_t *s_open(unsigned workers, size_t inline_actors, uint64_t tick)
{
    tm_rt_config_t cfg = {.workers = workers,
                          .h = 0.01,
                          .seed = 3,
                          .tick = tick,
                          .inline_actors = inline_actors};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    return rt;
}

static tm_rt_actor_t s_get(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v;
}

/* What probe id read at the last step (its state). */
static double s_read(tm_rt_t *rt, const char *id)
{
    return s_get(rt, id).state[0];
}

static void s_step(tm_rt_t *rt, uint64_t ticks)
{
    assert_int_equal(tm_rt_step(rt, ticks), 0);
}

/* The runtime configurations every scenario runs in: workers, inline. */
static const struct {
    unsigned workers;
    size_t inline_actors;
} s_cfgs[] = {{1, 0}, {2, 0}, {3, 0}, {2, 1000}};

#define S_NCFG (sizeof s_cfgs / sizeof s_cfgs[0])

/* ---- the rule ----------------------------------------------------------- */

/* Links of delays 1..6 from one clock (spawned at tick 0, x0 = -1): probe
 * dD reads k - D at tick k, and the spawn outputs for ticks up to 0. */
static void test_delay_reads_tick_minus_d(void **state)
{
    (void)state;
    for (size_t c = 0; c < S_NCFG; c++) {
        tm_rt_t *rt = s_open(s_cfgs[c].workers, s_cfgs[c].inline_actors, 0);
        char id[8];
        assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, NULL), 0);
        for (uint32_t d = 1; d <= 6; d++) {
            snprintf(id, sizeof id, "d%u", d);
            assert_int_equal(tm_rt_spawn(rt, id, &s_probe, NULL), 0);
            assert_int_equal(tm_rt_link_delay(rt, "c", "y", id, "w", d), 0);
        }
        assert_int_equal(s_get(rt, "c").history, 6);
        for (uint64_t k = 1; k <= 20; k++) {
            s_step(rt, 1);
            for (uint32_t d = 1; d <= 6; d++) {
                snprintf(id, sizeof id, "d%u", d);
                double want = k > d ? (double)(k - d) : -1.0;
                assert_true(s_read(rt, id) == want);
            }
        }
        /* Several ticks in one call read the same ticks. */
        s_step(rt, 7);
        assert_true(s_read(rt, "d6") == 21.0);
        assert_true(s_read(rt, "d1") == 26.0);
        tm_rt_destroy(&rt);
    }
}

/* A delay-5 link made at tick 10 from a clock whose window was 3 (a
 * delay-3 link): ticks 8..10 are kept and read as they were, ticks 6 and 7
 * were not and read as tick 8. The same whether the clock shares its group
 * with an actor whose window is deeper (its ring then holds the real ticks
 * 6 and 7) or not. */
static void s_widen(unsigned workers, size_t inl, bool crowded, double *got)
{
    tm_rt_t *rt = s_open(workers, inl, 0);
    assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "p3", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "p5", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p3", "u", 3), 0);
    if (crowded) { /* same model and period, shard 0 with 1 worker */
        assert_int_equal(tm_rt_spawn(rt, "deep", &s_clock, NULL), 0);
        assert_int_equal(tm_rt_spawn(rt, "q", &s_probe, NULL), 0);
        assert_int_equal(tm_rt_link_delay(rt, "deep", "y", "q", "u", 9), 0);
    }
    s_step(rt, 10);
    assert_int_equal(s_get(rt, "c").history, 3);
    const double *y = NULL;
    assert_int_equal(tm_rt_outputs_at(rt, "c", 8, &y, NULL), 0);
    assert_true(y[0] == 8.0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 7, &y, NULL), TM_ERR_RANGE);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p5", "u", 5), 0);
    assert_int_equal(s_get(rt, "c").history, 5);
    for (uint64_t t = 6; t <= 10; t++) {
        assert_int_equal(tm_rt_outputs_at(rt, "c", t, &y, NULL), 0);
        assert_true(y[0] == (t < 8 ? 8.0 : (double)t));
    }
    for (int i = 0; i < 6; i++) {
        s_step(rt, 1);
        got[i] = s_read(rt, "p5");
    }
    tm_rt_destroy(&rt);
}

static void test_delay_link_reaches_back(void **state)
{
    (void)state;
    const double want[6] = {8, 8, 8, 9, 10, 11}; /* ticks 11..16 */
    for (size_t c = 0; c < S_NCFG; c++) {
        for (int crowded = 0; crowded <= 1; crowded++) {
            double got[6];
            s_widen(s_cfgs[c].workers, s_cfgs[c].inline_actors, crowded, got);
            assert_memory_equal(got, want, sizeof want);
        }
    }
}

/* Period 2: the clock steps at even ticks and carries at odd ones; a set
 * of its state changes only the current tick's outputs; set_model keeps
 * the past and recomputes the current; a kill ends the history. */
static void test_delay_period_set_model_kill(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2, 0, 100);
    tm_rt_spawn_opts_t slow = {.period = 2};
    assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, &slow), 0);
    assert_int_equal(tm_rt_spawn(rt, "p", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "w", 3), 0);
    s_step(rt, 5); /* tick 105: c has 104 at 104 and 105, 102 at 103 */
    assert_true(s_read(rt, "p") == 102.0);
    assert_int_equal(tm_rt_set(rt, "c", "x", 500.0), 0);
    const double *y = NULL;
    assert_int_equal(tm_rt_outputs_at(rt, "c", 105, &y, NULL), 0);
    assert_true(y[0] == 500.0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 104, &y, NULL), 0);
    assert_true(y[0] == 104.0);
    s_step(rt, 1); /* reads tick 103: 102 */
    assert_true(s_read(rt, "p") == 102.0);
    s_step(rt, 1); /* tick 107 reads 104 */
    assert_true(s_read(rt, "p") == 104.0);
    s_step(rt, 1); /* tick 108 reads 105: the value set */
    assert_true(s_read(rt, "p") == 500.0);
    /* Tick 108: c stepped (108). To the low tier: x = 108 mapped, outputs
     * recomputed (108); the past stays. */
    assert_int_equal(tm_rt_set_model(rt, "c", &s_clock_lo), 0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 107, &y, NULL), 0);
    assert_true(y[0] == 106.0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 106, &y, NULL), 0);
    assert_true(y[0] == 106.0);
    s_step(rt, 2); /* 109 reads 106; 110 reads 107 */
    assert_true(s_read(rt, "p") == 106.0);
    s_step(rt, 3); /* 113 reads 110: the low tier stepped it, 110.5 */
    assert_true(s_read(rt, "p") == 110.5);
    /* A kill ends the history: the new c starts afresh at its spawn. */
    assert_int_equal(tm_rt_kill(rt, "c"), 0);
    tm_rt_spawn_opts_t fresh = {.params = (double[]){-7.0}};
    assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, &fresh), 0);
    assert_int_equal(s_get(rt, "c").history, 1);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "w", 4), 0);
    s_step(rt, 4); /* 114 .. 117 read 110 .. 113: before the spawn */
    assert_true(s_read(rt, "p") == -7.0);
    s_step(rt, 1); /* 118 reads 114 */
    assert_true(s_read(rt, "p") == 114.0);
    tm_rt_destroy(&rt);
}

/* Summing over links of different delays keeps ascending source id (the
 * delays are in another order). */
static void test_delay_summing_order(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2, 0, 0);
    const char *ids[] = {"c", "a", "b"};
    const double x0[] = {-1e16, 1e16, 1.0};
    const uint32_t delay[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        tm_rt_spawn_opts_t o = {.state = &x0[i], .period = 1000};
        assert_int_equal(tm_rt_spawn(rt, ids[i], &s_clock, &o), 0);
    }
    assert_int_equal(tm_rt_spawn(rt, "z", &s_probe, NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tm_rt_link_delay(rt, ids[i], "y", "z", "u", delay[i]),
                         0);
    }
    s_step(rt, 1); /* (1e16 + 1) - 1e16 in id order; 1 in delay order */
    assert_true(s_read(rt, "z") == 0.0);
    tm_rt_destroy(&rt);
}

/* ---- errors, views, windows --------------------------------------------- */

static int s_link_cb(const tm_rt_link_t *l, void *arg)
{
    uint32_t *sum = arg;
    *sum += l->delay;
    return 0;
}

static void test_delay_errors_and_views(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1, 0, 5);
    assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "p", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "u", 0), TM_ERR_RANGE);
    assert_int_equal(
        tm_rt_link_delay(rt, "c", "y", "p", "u", TM_RT_DELAY_MAX + 1),
        TM_ERR_RANGE);
    assert_int_equal(tm_rt_link_delay(rt, "nope", "y", "p", "u", 0),
                     TM_ERR_RANGE); /* checked first */
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "u", 4), 0);
    /* A link is its ends: another delay is the same link. */
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "u", 2),
                     TM_ERR_EXISTS);
    assert_int_equal(tm_rt_link(rt, "c", "y", "p", "u"), TM_ERR_EXISTS);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "w", 2), 0);
    uint32_t sum = 0;
    assert_int_equal(tm_rt_foreach_link(rt, s_link_cb, &sum), 0);
    assert_int_equal(sum, 6);
    sum = 0;
    assert_int_equal(tm_rt_foreach_link_of(rt, "p", s_link_cb, &sum), 0);
    assert_int_equal(sum, 6);
    assert_int_equal(s_get(rt, "c").history, 4);
    assert_int_equal(s_get(rt, "p").history, 1);
    /* The window: ticks 2..5 of c, 5 only of p. */
    const double *y = NULL;
    const tm_model_t *m = NULL;
    assert_int_equal(tm_rt_outputs_at(rt, "c", 2, &y, &m), 0);
    assert_ptr_equal(m, &s_clock);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 1, &y, NULL), TM_ERR_RANGE);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 6, &y, NULL), TM_ERR_RANGE);
    assert_int_equal(tm_rt_outputs_at(rt, "p", 4, &y, NULL), TM_ERR_RANGE);
    assert_int_equal(tm_rt_outputs_at(rt, "x", 5, &y, NULL),
                     TM_ERR_UNKNOWN_ACTOR);
    const double *cur = NULL;
    assert_int_equal(tm_rt_outputs(rt, "p", &cur, NULL), 0);
    assert_int_equal(tm_rt_outputs_at(rt, "p", 5, &y, NULL), 0);
    assert_ptr_equal(y, cur);
    /* restore_at: past ticks of a local actor's window only. */
    const double v = 42.0;
    const double nan1 = NAN;
    assert_int_equal(tm_rt_restore_at(rt, "c", 3, &v), 0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 3, &y, NULL), 0);
    assert_true(y[0] == 42.0);
    assert_int_equal(tm_rt_restore_at(rt, "c", 5, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_restore_at(rt, "c", 1, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_restore_at(rt, "c", 6, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_restore_at(rt, "c", 3, &nan1), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_restore_at(rt, "c", 3, NULL), TM_ERR_INVAL);
    assert_int_equal(tm_rt_restore_at(rt, "x", 3, &v), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 3, &y, NULL), 0);
    assert_true(y[0] == 42.0); /* refused restores changed nothing */
    /* import_at: proxies only. */
    assert_int_equal(tm_rt_import_at(rt, "c", 5, &v), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import_at(rt, "c", 1, &v), TM_ERR_INVAL);
    assert_int_equal(tm_rt_spawn_remote(rt, "r", &s_clock), 0);
    assert_int_equal(tm_rt_restore_at(rt, "r", 4, &v), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import_at(rt, "r", 5, &v), 0);
    assert_int_equal(tm_rt_import_at(rt, "r", 4, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_link_delay(rt, "r", "y", "p", "u", 3), 0);
    assert_int_equal(tm_rt_import_at(rt, "r", 3, &v), 0);
    assert_int_equal(tm_rt_import_at(rt, "r", 2, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_import_at(rt, "r", 6, &v), TM_ERR_RANGE);
    assert_int_equal(tm_rt_import_at(rt, "r", 4, &nan1), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_import_at(rt, "r", 4, NULL), TM_ERR_INVAL);
    /* Unlinking narrows the window to the links left. */
    assert_int_equal(tm_rt_unlink(rt, "c", "y", "p", "u"), 0);
    assert_int_equal(s_get(rt, "c").history, 2);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 3, &y, NULL), TM_ERR_RANGE);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 4, &y, NULL), 0);
    assert_int_equal(tm_rt_kill(rt, "p"), 0);
    assert_int_equal(s_get(rt, "r").history, 1); /* a kill narrows too */
    tm_rt_destroy(&rt);
}

/* The longest delay: the window reaches TM_RT_DELAY_MAX ticks back. */
static void test_delay_max(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(1, 0, 0);
    assert_int_equal(tm_rt_spawn(rt, "c", &s_clock, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "p", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link_delay(rt, "c", "y", "p", "w", TM_RT_DELAY_MAX),
                     0);
    s_step(rt, TM_RT_DELAY_MAX);
    assert_true(s_read(rt, "p") == -1.0);
    s_step(rt, 3);
    assert_true(s_read(rt, "p") == 3.0);
    const double *y = NULL;
    assert_int_equal(tm_rt_outputs_at(rt, "c", 4, &y, NULL), 0);
    assert_true(y[0] == 4.0);
    assert_int_equal(tm_rt_outputs_at(rt, "c", 3, &y, NULL), TM_ERR_RANGE);
    tm_rt_destroy(&rt);
}

/* A proxy read through a delay-3 link: import_at sets one tick (late ones
 * too, within the window), a tick stepped without an import carries the
 * tick before, tm_rt_import sets every tick kept. */
static void test_delay_proxy_ticks(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2, 0, 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "r", &s_clock), 0);
    assert_int_equal(tm_rt_spawn(rt, "p", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_link_delay(rt, "r", "y", "p", "w", 3), 0);
    const double v10 = 10, v15 = 15, v20 = 20, v30 = 30;
    assert_int_equal(tm_rt_import_at(rt, "r", 0, &v10), 0);
    s_step(rt, 2); /* ticks 1 and 2 carry 10 */
    const double *y = NULL;
    assert_int_equal(tm_rt_outputs_at(rt, "r", 2, &y, NULL), 0);
    assert_true(y[0] == 10.0);
    assert_int_equal(tm_rt_import_at(rt, "r", 2, &v20), 0);
    assert_int_equal(tm_rt_import_at(rt, "r", 1, &v15), 0); /* late */
    const double want[] = {10, 15, 20, 20};                 /* ticks 0 .. 3 */
    for (int i = 0; i < 4; i++) {
        s_step(rt, 1); /* tick 3 + i reads tick i */
        assert_true(s_read(rt, "p") == want[i]);
    }
    assert_int_equal(tm_rt_import(rt, "r", &v30), 0); /* ticks 4 .. 6 */
    s_step(rt, 1);
    assert_true(s_read(rt, "p") == 30.0);
    tm_rt_destroy(&rt);
}

/* ---- digest ------------------------------------------------------------- */

static void s_digest(tm_rt_t *rt, uint8_t d[32])
{
    assert_int_equal(tm_rt_digest(rt, d), 0);
}

/* The delay of a link is in the digest from tick 0; the past outputs are
 * not. */
static void test_delay_digest(void **state)
{
    (void)state;
    uint8_t d1[32], d2[32], d[32];
    tm_rt_t *a = s_open(1, 0, 0);
    tm_rt_t *b = s_open(2, 0, 0);
    tm_rt_t *rt[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tm_rt_spawn(rt[i], "c", &s_clock, NULL), 0);
        assert_int_equal(tm_rt_spawn(rt[i], "p", &s_probe, NULL), 0);
        assert_int_equal(
            tm_rt_link_delay(rt[i], "c", "y", "p", "w", (uint32_t)i + 1), 0);
    }
    s_digest(a, d1);
    s_digest(b, d2);
    assert_memory_not_equal(d1, d2, 32);
    assert_int_equal(tm_rt_unlink(b, "c", "y", "p", "w"), 0);
    assert_int_equal(tm_rt_link(b, "c", "y", "p", "w"), 0);
    s_digest(b, d);
    assert_memory_equal(d, d1, 32);
    /* Same mesh, different history (one restored value): same digest. */
    assert_int_equal(tm_rt_unlink(b, "c", "y", "p", "w"), 0);
    assert_int_equal(tm_rt_link_delay(b, "c", "y", "p", "w", 2), 0);
    s_digest(b, d);
    assert_memory_equal(d, d2, 32);
    s_step(b, 3);
    s_digest(b, d1);
    const double v = 99.0;
    assert_int_equal(tm_rt_restore_at(b, "c", 2, &v), 0);
    s_digest(b, d);
    assert_memory_equal(d, d1, 32);
    tm_rt_destroy(&a);
    tm_rt_destroy(&b);
}

/* ---- restore from a checkpoint ------------------------------------------ */

enum { S_OSC = 24, S_LINKS = 3 * S_OSC };

/* A ring of oscillators (library models) coupled through springs by links
 * of delays 1..4, with periods 1 and 2. */
static void s_ring(tm_rt_t *rt)
{
    const tm_model_t *osc = NULL;
    const tm_model_t *spr = NULL;
    assert_int_equal(tm_models_find("oscillator", NULL, 0, &osc), 0);
    assert_int_equal(tm_models_find("spring", NULL, 0, &spr), 0);
    char a[16], b[16], s[16];
    for (int i = 0; i < S_OSC; i++) {
        double p[TM_MODEL_MAX_VARS];
        for (uint32_t j = 0; j < osc->n_params; j++) {
            p[j] = osc->params[j].def;
        }
        p[tm_model_var_index(osc->params, osc->n_params, "x0")] =
            0.01 * (double)(i % 7);
        tm_rt_spawn_opts_t o = {.params = p, .period = 1 + (i % 5 == 4)};
        snprintf(a, sizeof a, "o%02d", i);
        snprintf(s, sizeof s, "s%02d", i);
        assert_int_equal(tm_rt_spawn(rt, a, osc, &o), 0);
        assert_int_equal(tm_rt_spawn(rt, s, spr, NULL), 0);
    }
    for (int i = 0; i < S_OSC; i++) {
        snprintf(a, sizeof a, "o%02d", i);
        snprintf(b, sizeof b, "o%02d", (i + 1) % S_OSC);
        snprintf(s, sizeof s, "s%02d", i);
        uint32_t d = 1 + (uint32_t)(i % 4);
        assert_int_equal(tm_rt_link_delay(rt, a, "x", s, "xa", d), 0);
        assert_int_equal(tm_rt_link_delay(rt, b, "x", s, "xb", 1), 0);
        assert_int_equal(tm_rt_link_delay(rt, s, "fa", a, "fr", 5 - d), 0);
        assert_int_equal(tm_rt_link(rt, s, "fb", b, "fl"), 0);
    }
}

typedef struct {
    tm_rt_t *to;
} s_copy_t;

/* Spawn the actor in `to` as a checkpoint restores it: state, params,
 * held inputs and current outputs. */
static int s_copy_actor(const tm_rt_actor_t *v, void *arg)
{
    s_copy_t *c = arg;
    tm_rt_spawn_opts_t o = {.params = v->params,
                            .state = v->state,
                            .held = v->held,
                            .outputs = v->outputs,
                            .period = v->period};
    assert_int_equal(tm_rt_spawn(c->to, v->id, v->model, &o), 0);
    return 0;
}

static int s_copy_link(const tm_rt_link_t *l, void *arg)
{
    s_copy_t *c = arg;
    assert_int_equal(
        tm_rt_link_delay(c->to, l->src, l->output, l->dst, l->input, l->delay),
        0);
    return 0;
}

typedef struct {
    tm_rt_t *from;
    tm_rt_t *to;
} s_pair_t;

/* Its past outputs, after the links gave it its window. */
static int s_copy_history(const tm_rt_actor_t *v, void *arg)
{
    s_pair_t *p = arg;
    uint64_t k = tm_rt_tick(p->from);
    for (uint64_t back = 1; back < v->history; back++) {
        const double *y = NULL;
        assert_int_equal(tm_rt_outputs_at(p->from, v->id, k - back, &y, NULL),
                         0);
        assert_int_equal(tm_rt_restore_at(p->to, v->id, k - back, y), 0);
    }
    return 0;
}

/* A runtime restored at tick 30 from another's actors, links and
 * histories (a checkpoint) steps on exactly like the original; without
 * the histories it does not. */
static void s_restore_check(int with_history, unsigned wa, unsigned wb)
{
    tm_rt_t *a = s_open(wa, 0, 0);
    s_ring(a);
    s_step(a, 30);
    tm_rt_t *b = s_open(wb, 0, 30);
    s_copy_t c = {b};
    assert_int_equal(tm_rt_foreach(a, s_copy_actor, &c), 0);
    assert_int_equal(tm_rt_foreach_link(a, s_copy_link, &c), 0);
    if (with_history) {
        s_pair_t p = {a, b};
        assert_int_equal(tm_rt_foreach(a, s_copy_history, &p), 0);
    }
    uint8_t da[32], db[32];
    s_digest(a, da);
    s_digest(b, db);
    assert_memory_equal(da, db, 32); /* the history is not in the digest */
    s_step(a, 40);
    s_step(b, 40);
    s_digest(a, da);
    s_digest(b, db);
    if (with_history) {
        assert_memory_equal(da, db, 32);
    } else {
        assert_memory_not_equal(da, db, 32);
    }
    tm_rt_destroy(&a);
    tm_rt_destroy(&b);
}

static void test_delay_restore_exact(void **state)
{
    (void)state;
    s_restore_check(1, 1, 2);
    s_restore_check(1, 2, 3);
    s_restore_check(0, 2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_reads_tick_minus_d),
        cmocka_unit_test(test_delay_link_reaches_back),
        cmocka_unit_test(test_delay_period_set_model_kill),
        cmocka_unit_test(test_delay_summing_order),
        cmocka_unit_test(test_delay_errors_and_views),
        cmocka_unit_test(test_delay_max),
        cmocka_unit_test(test_delay_proxy_ticks),
        cmocka_unit_test(test_delay_digest),
        cmocka_unit_test(test_delay_restore_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
