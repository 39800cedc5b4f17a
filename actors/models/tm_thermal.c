/* tm_thermal: a lumped thermal zone (one RC node),
 * C dT/dt = Q + (Ta - T) / R. The high tier is the exact solution for
 * inputs constant over the step, the low tier explicit Euler (stable for
 * h < 2 R C). Equations: docs/models.md. */
#include "tm_models_int.h"

#include <math.h> /* expm1, isfinite */

enum { S_T, S_NSTATES };
enum { I_Q, I_TA, S_NINPUTS };
enum { P_C, P_R, P_T0, S_NPARAMS };
enum { O_T, S_NOUTPUTS };

#define S_ABS_ZERO (-273.15)

static const tm_var_t s_states[S_NSTATES] = {
    {"T", "degC", 20.0, S_ABS_ZERO, 1e6, 0, "zone temperature"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"Q", "W", 0.0, -1e12, 1e12, TM_VAR_SUMMING,
     "heat into the zone (links add up)"},
    {"Ta", "degC", 10.0, S_ABS_ZERO, 1e6, 0, "ambient temperature"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"C", "J/K", 5e6, 1e-6, 1e15, 0, "heat capacity"},
    {"R", "K/W", 0.01, 1e-9, 1e9, 0, "thermal resistance to ambient"},
    {"T0", "degC", 20.0, S_ABS_ZERO, 1e6, 0, "initial temperature"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"T", "degC", 20.0, S_ABS_ZERO, 1e6, 0, "zone temperature"},
};

static int s_init(const double *params, double *state)
{
    state[S_T] = params[P_T0];
    return isfinite(state[S_T]) ? TM_STEP_OK : TM_STEP_FAILED;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        outputs[i * S_NOUTPUTS + O_T] = state[i * S_NSTATES + S_T];
    }
}

/* T(t + h) = Tinf + (T - Tinf) exp(-h / (R C)), Tinf = Ta + Q R, written
 * with expm1 so that a short step keeps its digits. */
static void s_step_exact(const tm_step_ctx_t *ctx, size_t n, double *state,
                         const double *params, const double *inputs,
                         double *outputs, uint8_t *status)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        const double t = state[i * S_NSTATES + S_T];
        const double tinf = u[I_TA] + u[I_Q] * p[P_R];
        const double t1 = t - (tinf - t) * expm1(-h / (p[P_R] * p[P_C]));
        state[i * S_NSTATES + S_T] = t1;
        outputs[i * S_NOUTPUTS + O_T] = t1;
        status[i] = isfinite(t1) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

static void s_step_euler(const tm_step_ctx_t *ctx, size_t n, double *state,
                         const double *params, const double *inputs,
                         double *outputs, uint8_t *status)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        const double t = state[i * S_NSTATES + S_T];
        const double t1 = t + h * (u[I_Q] + (u[I_TA] - t) / p[P_R]) / p[P_C];
        state[i * S_NSTATES + S_T] = t1;
        outputs[i * S_NOUTPUTS + O_T] = t1;
        status[i] = isfinite(t1) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

static const tmi_observed_t s_observed[] = {{O_T, S_T}};

static int s_estimate(const double *params, double *state,
                      const double *measured, const uint8_t *valid, double gain)
{
    (void)params;
    return tmi_estimate_direct(s_observed,
                               sizeof s_observed / sizeof s_observed[0],
                               S_NOUTPUTS, state, measured, valid, gain);
}

#define S_THERMAL(tier, summary_text, step_fn)                                 \
    TMI_MODEL("thermal", tier, summary_text, s_states, S_NSTATES, s_init,      \
              s_output, step_fn, NULL, s_estimate)

const tm_model_t tmi_thermal_high = S_THERMAL(
    TM_FIDELITY_HIGH, "lumped RC zone, exact exponential", s_step_exact);
const tm_model_t tmi_thermal_low =
    S_THERMAL(TM_FIDELITY_LOW, "lumped RC zone, explicit Euler", s_step_euler);
