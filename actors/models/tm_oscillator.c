/* tm_oscillator: mass-spring-damper m x'' = -k x - c v + fl + fr.
 *
 * The reference model for coupling checks: the high tier is classic RK4,
 * written out stage by stage; medium and low are semi-implicit (symplectic)
 * Euler with 4 and 1 sub-steps per tick. Loops are plain strided loops over
 * the batch, no per-actor indirect calls. Equations: docs/models.md.
 */
#include "tm_models_int.h"

#include <math.h> /* isfinite */

enum { S_X, S_V, S_NSTATES };
enum { I_FL, I_FR, S_NINPUTS };
enum { P_M, P_K, P_C, P_X0, P_V0, S_NPARAMS };
enum { O_X, O_V, S_NOUTPUTS };

static const tm_var_t s_states[S_NSTATES] = {
    {"x", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "position"},
    {"v", "m/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "velocity"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"fl", "N", 0.0, -1e12, 1e12, TM_VAR_SUMMING,
     "force from the left (links add up)"},
    {"fr", "N", 0.0, -1e12, 1e12, TM_VAR_SUMMING,
     "force from the right (links add up)"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"m", "kg", 1.0, 1e-9, 1e12, 0, "mass"},
    {"k", "N/m", 100.0, 0.0, 1e15, 0, "spring stiffness"},
    {"c", "N s/m", 0.5, 0.0, 1e15, 0, "viscous damping"},
    {"x0", "m", 0.1, -1e9, 1e9, 0, "initial position"},
    {"v0", "m/s", 0.0, -1e9, 1e9, 0, "initial velocity"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"x", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "position"},
    {"v", "m/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "velocity"},
};

static int s_init(const double *params, double *state)
{
    state[S_X] = params[P_X0];
    state[S_V] = params[P_V0];
    return tmi_all_finite(state, S_NSTATES) ? TM_STEP_OK : TM_STEP_FAILED;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        outputs[i * S_NOUTPUTS + O_X] = state[i * S_NSTATES + S_X];
        outputs[i * S_NOUTPUTS + O_V] = state[i * S_NSTATES + S_V];
    }
}

/* Acceleration a(x, v) = (-k x - c v + f) / m. */
static inline double s_accel(double m, double k, double c, double f, double x,
                             double v)
{
    return (-k * x - c * v + f) / m;
}

/* Classic fourth-order Runge-Kutta for the system x' = v, v' = a(x, v),
 * force held constant over the step. */
static void s_step_rk4(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        double *s = state + i * S_NSTATES;
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        const double m = p[P_M], k = p[P_K], c = p[P_C];
        const double f = u[I_FL] + u[I_FR];
        const double x = s[S_X], v = s[S_V];

        const double k1x = v;
        const double k1v = s_accel(m, k, c, f, x, v);
        const double k2x = v + h / 2.0 * k1v;
        const double k2v =
            s_accel(m, k, c, f, x + h / 2.0 * k1x, v + h / 2.0 * k1v);
        const double k3x = v + h / 2.0 * k2v;
        const double k3v =
            s_accel(m, k, c, f, x + h / 2.0 * k2x, v + h / 2.0 * k2v);
        const double k4x = v + h * k3v;
        const double k4v = s_accel(m, k, c, f, x + h * k3x, v + h * k3v);

        const double xn = x + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x);
        const double vn = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v);

        s[S_X] = xn;
        s[S_V] = vn;
        outputs[i * S_NOUTPUTS + O_X] = xn;
        outputs[i * S_NOUTPUTS + O_V] = vn;
        status[i] =
            (isfinite(xn) && isfinite(vn)) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

/* Semi-implicit Euler with nsub equal sub-steps: the velocity first, then
 * the position with the new velocity (symplectic for c = 0). */
static inline void s_step_sie(const tm_step_ctx_t *ctx, size_t n, double *state,
                              const double *params, const double *inputs,
                              double *outputs, uint8_t *status, int nsub)
{
    const double hs = ctx->h / (double)nsub;
    for (size_t i = 0; i < n; i++) {
        double *s = state + i * S_NSTATES;
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        const double m = p[P_M], k = p[P_K], c = p[P_C];
        const double f = u[I_FL] + u[I_FR];
        double x = s[S_X], v = s[S_V];
        for (int j = 0; j < nsub; j++) {
            v = v + hs * s_accel(m, k, c, f, x, v);
            x = x + hs * v;
        }
        s[S_X] = x;
        s[S_V] = v;
        outputs[i * S_NOUTPUTS + O_X] = x;
        outputs[i * S_NOUTPUTS + O_V] = v;
        status[i] =
            (isfinite(x) && isfinite(v)) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

static void s_step_medium(const tm_step_ctx_t *ctx, size_t n, double *state,
                          const double *params, const double *inputs,
                          double *outputs, uint8_t *status)
{
    s_step_sie(ctx, n, state, params, inputs, outputs, status, 4);
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    s_step_sie(ctx, n, state, params, inputs, outputs, status, 1);
}

static const tmi_observed_t s_observed[] = {{O_X, S_X}, {O_V, S_V}};

static int s_estimate(const double *params, double *state,
                      const double *measured, const uint8_t *valid, double gain)
{
    (void)params;
    return tmi_estimate_direct(s_observed,
                               sizeof s_observed / sizeof s_observed[0],
                               S_NOUTPUTS, state, measured, valid, gain);
}

#define S_OSCILLATOR(tier, summary_text, step_fn)                              \
    TMI_MODEL("oscillator", tier, summary_text, s_states, S_NSTATES, s_init,   \
              s_output, step_fn, NULL, s_estimate)

const tm_model_t tmi_oscillator_high = S_OSCILLATOR(
    TM_FIDELITY_HIGH, "mass-spring-damper, classic RK4", s_step_rk4);
const tm_model_t tmi_oscillator_medium = S_OSCILLATOR(
    TM_FIDELITY_MEDIUM, "mass-spring-damper, semi-implicit Euler, 4 sub-steps",
    s_step_medium);
const tm_model_t tmi_oscillator_low = S_OSCILLATOR(
    TM_FIDELITY_LOW, "mass-spring-damper, semi-implicit Euler", s_step_low);
