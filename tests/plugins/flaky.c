/* flaky: a test family for model plugins, fallback and rollouts
 * (tests/plugins/README.md). Built twice: FLAKY_MAJOR=1 gives
 * flaky@1.0.0 (flaky1.so, good), FLAKY_MAJOR=2 flaky@2.0.0 (flaky2.so,
 * bad: its state diverges to non-finite from tick diverge_from on).
 *
 * A first-order lag y -> gain u with rate `rate` (1/s). Both versions have
 * the same ports, so an actor can move between them:
 *   input  u (1); output y (1);
 *   params gain, rate (1/s), fail_from, fail_until (ticks), fail_nan
 *          (0: a failing step reports TM_STEP_FAILED, 1: it writes NaN),
 *          diverge_from (ticks; 2.0.0 only, ignored by 1.0.0), work
 *          (iterations of extra arithmetic per high-tier step: a slow
 *          model, for step-time budgets; the result does not change).
 * High tier: the exact exponential step, states x and steps (its steps
 * at high fidelity). Low tier: explicit Euler, state x only (tier changes
 * copy x by name; steps restarts at 0). The HIGH tier fails at every tick
 * t with fail_from <= t < fail_until (fail_from 0: never); the low tier
 * never fails. Pure: only ctx->tick and ctx->h, no clock. */
#include "tm_plugin.h"

#include <math.h>
#include <stddef.h>

#ifndef FLAKY_MAJOR
#define FLAKY_MAJOR 1
#endif
#if FLAKY_MAJOR == 1
#define S_VERSION "1.0.0"
#else
#define S_VERSION "2.0.0"
#endif

enum { I_U, S_NINPUTS };
enum { O_Y, S_NOUTPUTS };
enum { P_GAIN, P_RATE, P_FROM, P_UNTIL, P_NAN, P_DIVERGE, P_WORK, S_NPARAMS };
enum { X_X, X_STEPS };

#define S_BIG 1e300

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"u", "1", 0.0, -1e12, 1e12, 0, "input the output follows"},
};
static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"y", "1", 0.0, -S_BIG, S_BIG, 0, "output, the state x"},
};
static const tm_var_t s_params[S_NPARAMS] = {
    {"gain", "1", 1.0, -1e6, 1e6, 0, "steady-state y / u"},
    {"rate", "1/s", 1.0, 0.0, 1e6, 0, "1 / time constant"},
    {"fail_from", "1", 0.0, 0.0, 1e15, 0,
     "first tick the high tier fails (0: never)"},
    {"fail_until", "1", 0.0, 0.0, 1e15, 0, "first tick it works again"},
    {"fail_nan", "1", 0.0, 0.0, 1.0, 0, "1: fail by writing NaN"},
    {"diverge_from", "1", 20.0, 0.0, 1e15, 0,
     "2.0.0: first tick the state grows x1e20 per tick"},
    {"work", "1", 0.0, 0.0, 1e9, 0,
     "iterations of extra arithmetic per high-tier step (a slow model)"},
};
static const tm_var_t s_states_high[] = {
    {"x", "1", 0.0, -S_BIG, S_BIG, 0, "output state"},
    {"steps", "1", 0.0, 0.0, 1e18, 0, "steps at high fidelity"},
};
static const tm_var_t s_states_low[] = {
    {"x", "1", 0.0, -S_BIG, S_BIG, 0, "output state"},
};

static int s_init_high(const double *params, double *state)
{
    (void)params;
    state[X_X] = 0.0;
    state[X_STEPS] = 0.0;
    return TM_STEP_OK;
}

static int s_init_low(const double *params, double *state)
{
    (void)params;
    state[X_X] = 0.0;
    return TM_STEP_OK;
}

static void s_output(size_t n, const double *state, size_t n_states,
                     double *outputs)
{
    for (size_t i = 0; i < n; i++) {
        const double x = state[i * n_states + X_X];
        outputs[i] = x + 0.0 * x; /* NaN once x is infinite */
    }
}

static void s_output_high(size_t n, const double *state, const double *params,
                          const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    s_output(n, state, 2, outputs);
}

static void s_output_low(size_t n, const double *state, const double *params,
                         const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    s_output(n, state, 1, outputs);
}

/* The next x of one actor; 2.0.0 diverges from diverge_from on. */
static double s_next(const tm_step_ctx_t *ctx, const double *p, double u,
                     double x, int exact)
{
    const double target = p[P_GAIN] * u;
    double a = ctx->h * p[P_RATE];
    if (exact) {
        a = 1.0 - exp(-a);
    }
    x += a * (target - x);
#if FLAKY_MAJOR == 2
    if ((double)ctx->tick >= p[P_DIVERGE]) {
        x = 1e20 * (x != 0.0 ? x : 1.0); /* infinite 16 ticks later */
    }
#endif
    return x;
}

static int s_fails(const tm_step_ctx_t *ctx, const double *p)
{
    const double t = (double)ctx->tick;
    return p[P_FROM] > 0.0 && t >= p[P_FROM] && t < p[P_UNTIL];
}

/* n iterations of arithmetic whose result is 0 (it is used, so the
 * compiler keeps the loop; without fast-math acc * 0 is not folded). */
static double s_work(double n)
{
    double acc = 1.0;
    for (double i = 0.0; i < n; i += 1.0) {
        acc = acc * 0.5 + 1.0;
    }
    return acc * 0.0;
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        double *x = state + i * 2;
        status[i] = TM_STEP_OK;
        if (s_fails(ctx, p) && p[P_NAN] < 0.5) {
            status[i] = TM_STEP_FAILED;
            continue;
        }
        x[X_X] = s_fails(ctx, p) ? NAN : s_next(ctx, p, inputs[i], x[X_X], 1);
        x[X_STEPS] += 1.0 + s_work(p[P_WORK]);
    }
    s_output(n, state, 2, outputs);
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    for (size_t i = 0; i < n; i++) {
        state[i] = s_next(ctx, params + i * S_NPARAMS, inputs[i], state[i], 0);
        status[i] = TM_STEP_OK;
    }
    s_output(n, state, 1, outputs);
}

#define S_MODEL(tier, text, st, nst, init_fn, out_fn, step_fn)                 \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "flaky",                  \
        .version = S_VERSION, .fidelity = (tier), .summary = (text),           \
        .states = (st), .n_states = (nst), .inputs = s_inputs,                 \
        .n_inputs = S_NINPUTS, .outputs = s_outputs, .n_outputs = S_NOUTPUTS,  \
        .params = s_params, .n_params = S_NPARAMS, .init = (init_fn),          \
        .output = (out_fn), .step = (step_fn),                                 \
    }

static const tm_model_t s_high =
    S_MODEL(TM_FIDELITY_HIGH, "first-order lag, exact step (test plugin)",
            s_states_high, 2, s_init_high, s_output_high, s_step_high);
static const tm_model_t s_low =
    S_MODEL(TM_FIDELITY_LOW, "first-order lag, Euler step (test plugin)",
            s_states_low, 1, s_init_low, s_output_low, s_step_low);

static const tm_model_t *const s_models[] = {&s_high, &s_low};

static const tm_plugin_t s_plugin = {
    .abi_version = TM_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tm_plugin_t),
    .name = "flaky@" S_VERSION ": a test family that fails on demand",
    .count = 2,
    .models = s_models,
};

const tm_plugin_t *tm_plugin_v1(void);

const tm_plugin_t *tm_plugin_v1(void)
{
    return &s_plugin;
}
