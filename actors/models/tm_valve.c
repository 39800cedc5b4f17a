/* tm_valve: a valve with a linear characteristic,
 * q = kv pos sign(dh) sqrt(|dh|), i.e. dh = K q|q| with K = 1 / (kv pos)^2.
 *
 * High tier: the actuator follows the opening command as a first-order lag
 * (time constant tau, exact exponential); low tier: the valve is where it
 * is told to be. Both keep the position as their state. kv is in SI units
 * (m^3/s per sqrt(m of head)); docs/models.md converts from the catalogue
 * Kv (m^3/h per sqrt(bar)). */
#include "tm_models_int.h"

#include <math.h> /* sqrt, fabs, expm1, isfinite */

enum { S_POS, S_NSTATES };
enum { I_HIN, I_HOUT, I_OPENING, S_NINPUTS };
enum { P_KV, P_TAU, P_POS0, S_NPARAMS };
enum { O_Q, O_POS, S_NOUTPUTS };

static const tm_var_t s_states[S_NSTATES] = {
    {"pos", "1", 1.0, 0.0, 1.0, 0, "actual opening, 0 closed to 1 open"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"head_in", "m", 0.0, -1e6, 1e6, 0, "head at the inlet"},
    {"head_out", "m", 0.0, -1e6, 1e6, 0, "head at the outlet"},
    {"opening", "1", 1.0, 0.0, 1.0, 0, "opening command, 0 to 1"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"kv", "m^2.5/s", 0.0035, 1e-9, 1e3, 0,
     "flow at full opening per sqrt(m of head)"},
    {"tau", "s", 2.0, 0.0, 1e5, 0, "actuator time constant"},
    {"pos0", "1", 1.0, 0.0, 1.0, 0, "initial opening"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"q", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "volume flow, in to out"},
    {"pos", "1", 1.0, 0.0, 1.0, 0, "actual opening"},
};

static inline double s_clamp01(double x)
{
    return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
}

/* Outputs from the position and the heads (same in both tiers). */
static inline void s_outputs_of(double pos, const double *p, const double *u,
                                double *y)
{
    const double dh = u[I_HIN] - u[I_HOUT];
    const double q = p[P_KV] * pos * sqrt(fabs(dh));
    y[O_Q] = dh < 0.0 ? -q : q;
    y[O_POS] = pos;
}

static int s_init(const double *params, double *state)
{
    state[S_POS] = params[P_POS0];
    return (params[P_POS0] >= 0.0 && params[P_POS0] <= 1.0) ? TM_STEP_OK
                                                            : TM_STEP_FAILED;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    for (size_t i = 0; i < n; i++) {
        s_outputs_of(state[i * S_NSTATES + S_POS], params + i * S_NPARAMS,
                     inputs + i * S_NINPUTS, outputs + i * S_NOUTPUTS);
    }
}

/* pos(t + h) = cmd + (pos - cmd) exp(-h / tau); tau = 0 moves at once. */
static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        double *y = outputs + i * S_NOUTPUTS;
        const double pos = state[i * S_NSTATES + S_POS];
        const double cmd = s_clamp01(u[I_OPENING]);
        const double pos1 =
            p[P_TAU] > 0.0 ? pos - (cmd - pos) * expm1(-h / p[P_TAU]) : cmd;
        state[i * S_NSTATES + S_POS] = pos1;
        s_outputs_of(pos1, p, u, y);
        status[i] = (isfinite(pos1) && isfinite(y[O_Q])) ? TM_STEP_OK
                                                         : TM_STEP_NONFINITE;
    }
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        double *y = outputs + i * S_NOUTPUTS;
        const double pos1 = s_clamp01(u[I_OPENING]);
        state[i * S_NSTATES + S_POS] = pos1;
        s_outputs_of(pos1, p, u, y);
        status[i] = (isfinite(pos1) && isfinite(y[O_Q])) ? TM_STEP_OK
                                                         : TM_STEP_NONFINITE;
    }
}

#define S_VALVE(tier, summary_text, step_fn)                                   \
    TMI_MODEL("valve", tier, summary_text, s_states, S_NSTATES, s_init,        \
              s_output, step_fn, NULL, NULL)

const tm_model_t tmi_valve_high = S_VALVE(
    TM_FIDELITY_HIGH, "valve, actuator lag, quadratic loss", s_step_high);
const tm_model_t tmi_valve_low = S_VALVE(
    TM_FIDELITY_LOW, "valve, instant actuator, quadratic loss", s_step_low);
