/* meter: a test family for rollouts scored against measurements
 * (tests/plugins/README.md). Built twice: METER_MAJOR=1 gives meter@1.0.0
 * (meter1.so), METER_MAJOR=2 meter@2.0.0 (meter2.so, a "recalibrated"
 * version whose prediction is offset by +0.5).
 *
 * A first-order lag y -> gain u (+ 0.5 in 2.0.0) with rate `rate` (1/s),
 * and a measured input of the same name as its output, y, so that a trial
 * of another version is scored against the measurements:
 *   inputs u (1), y (1, measured: NaN when no sample came this tick);
 *   output y (1); params gain, rate (1/s).
 * One tier (high), exact exponential step; the measurement does not
 * change the prediction. Pure: only ctx->h, no clock. */
#include "tm_plugin.h"

#include <math.h>
#include <stddef.h>

#ifndef METER_MAJOR
#define METER_MAJOR 1
#endif
#if METER_MAJOR == 1
#define S_VERSION "1.0.0"
#define S_OFFSET  0.0
#else
#define S_VERSION "2.0.0"
#define S_OFFSET  0.5
#endif

enum { I_U, I_Y, S_NINPUTS };
enum { O_Y, S_NOUTPUTS };
enum { P_GAIN, P_RATE, S_NPARAMS };

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"u", "1", 0.0, -1e12, 1e12, 0, "input the output follows"},
    {"y", "1", 0.0, -1e12, 1e12, TM_VAR_MEASURED, "measured output"},
};
static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"y", "1", 0.0, -1e12, 1e12, 0, "predicted output, the state x"},
};
static const tm_var_t s_params[S_NPARAMS] = {
    {"gain", "1", 1.0, -1e6, 1e6, 0, "steady-state y / u"},
    {"rate", "1/s", 1.0, 0.0, 1e6, 0, "1 / time constant"},
};
static const tm_var_t s_states[] = {
    {"x", "1", 0.0, -1e12, 1e12, 0, "output state"},
};

static int s_init(const double *params, double *state)
{
    (void)params;
    state[0] = 0.0;
    return TM_STEP_OK;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        outputs[i] = state[i];
    }
}

static void s_step(const tm_step_ctx_t *ctx, size_t n, double *state,
                   const double *params, const double *inputs, double *outputs,
                   uint8_t *status)
{
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double target =
            p[P_GAIN] * inputs[i * S_NINPUTS + I_U] + S_OFFSET;
        const double a = 1.0 - exp(-ctx->h * p[P_RATE]);
        state[i] += a * (target - state[i]);
        status[i] = TM_STEP_OK;
    }
    s_output(n, state, params, inputs, outputs);
}

static const tm_model_t s_high = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "meter",
    .version = S_VERSION,
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "first-order lag with a measured output (test plugin)",
    .states = s_states,
    .n_states = 1,
    .inputs = s_inputs,
    .n_inputs = S_NINPUTS,
    .outputs = s_outputs,
    .n_outputs = S_NOUTPUTS,
    .params = s_params,
    .n_params = S_NPARAMS,
    .init = s_init,
    .output = s_output,
    .step = s_step,
};

static const tm_model_t *const s_models[] = {&s_high};

static const tm_plugin_t s_plugin = {
    .abi_version = TM_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(tm_plugin_t),
    .name = "meter@" S_VERSION ": a test family with a measured output",
    .count = 1,
    .models = s_models,
};

const tm_plugin_t *tm_plugin_v1(void);

const tm_plugin_t *tm_plugin_v1(void)
{
    return &s_plugin;
}
