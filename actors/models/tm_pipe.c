/* tm_pipe: flow through a pipe driven by the head difference with a
 * quadratic (Darcy-Weisbach) loss, dh = K q|q|.
 *
 * High tier: with the fluid's inertia, (L / (g A)) dq/dt = dh - K q|q|,
 * solved exactly for a head difference constant over the step (a Riccati
 * equation: tanh and tan branches), so it is stable for every step. Low
 * tier: the static law q = sign(dh) sqrt(|dh| / K). Both keep the flow as
 * their state so that a tier change never loses it. Equations:
 * docs/models.md. */
#include "tm_models_int.h"

#include <math.h> /* sqrt, tanh, tan, atan, fabs, isfinite */

enum { S_Q, S_NSTATES };
enum { I_HIN, I_HOUT, S_NINPUTS };
enum { P_LEN, P_DIAM, P_FRIC, P_KMINOR, P_Q0, S_NPARAMS };
enum { O_Q, S_NOUTPUTS };

#define S_PI 3.14159265358979323846

static const tm_var_t s_states[S_NSTATES] = {
    {"q", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "volume flow, in to out"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"head_in", "m", 0.0, -1e6, 1e6, 0, "head at the inlet"},
    {"head_out", "m", 0.0, -1e6, 1e6, 0, "head at the outlet"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"length", "m", 100.0, 1e-3, 1e7, 0, "length"},
    {"diameter", "m", 0.1, 1e-4, 100.0, 0, "inner diameter"},
    {"friction", "1", 0.02, 1e-4, 1.0, 0, "Darcy friction factor"},
    {"k_minor", "1", 0.0, 0.0, 1e6, 0,
     "sum of minor loss coefficients (bends, entry, exit)"},
    {"q0", "m^3/s", 0.0, -1e6, 1e6, 0, "initial flow"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"q", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "volume flow, in to out"},
};

/* K (s^2/m^5): dh = K q|q|, from Darcy-Weisbach plus minor losses. */
static inline double s_loss_k(const double *p)
{
    const double area = S_PI / 4.0 * p[P_DIAM] * p[P_DIAM];
    return (p[P_FRIC] * p[P_LEN] / p[P_DIAM] + p[P_KMINOR]) /
           (2.0 * TMI_G * area * area);
}

/* Inertance L / (g A) (s^2/m^2): head needed per unit dq/dt. */
static inline double s_inertance(const double *p)
{
    const double area = S_PI / 4.0 * p[P_DIAM] * p[P_DIAM];
    return p[P_LEN] / (TMI_G * area);
}

static int s_init(const double *params, double *state)
{
    state[S_Q] = params[P_Q0];
    return isfinite(state[S_Q]) ? TM_STEP_OK : TM_STEP_FAILED;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    (void)params;
    (void)inputs;
    for (size_t i = 0; i < n; i++) {
        outputs[i * S_NOUTPUTS + O_Q] = state[i * S_NSTATES + S_Q];
    }
}

/* Exact flow after time h of dq/dt = beta (a^2 - q|q|), a = sqrt(dh / K)
 * >= 0 (the caller mirrors a negative head difference). For q >= 0 the
 * solution is q = a tanh(a beta t + atanh(q / a)) (also past a: the
 * addition theorem form below holds for every q >= 0); for q < 0 the flow
 * decelerates along a tan branch until it crosses zero, then follows the
 * tanh branch. tanh(z) / a and tan(z) / a are evaluated by series for
 * small z = a beta h, so a -> 0 (no head difference) is continuous. */
static double s_flow_after(double q, double a, double beta, double h)
{
    const double z = a * beta * h;
    if (q >= 0.0) {
        const double tz = tanh(z);
        const double ta = z < 1e-4 ? beta * h * (1.0 - z * z / 3.0) : tz / a;
        return (q + a * tz) / (1.0 + q * ta);
    }
    if (a == 0.0) {
        return q / (1.0 - beta * q * h);
    }
    const double zc = atan(-q / a); /* a beta t at which q reaches zero */
    if (z < zc) {
        const double tz = tan(z);
        const double ta = z < 1e-4 ? beta * h * (1.0 + z * z / 3.0) : tz / a;
        return (q + a * tz) / (1.0 - q * ta);
    }
    const double rest = h - zc / (a * beta);
    return a * tanh(a * beta * (rest > 0.0 ? rest : 0.0));
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        const double k = s_loss_k(p);
        const double beta = k / s_inertance(p);
        const double dh = u[I_HIN] - u[I_HOUT];
        const double sgn = dh < 0.0 ? -1.0 : 1.0;
        const double a = sqrt(fabs(dh) / k);
        const double q = state[i * S_NSTATES + S_Q];
        const double q1 = sgn * s_flow_after(sgn * q, a, beta, h);
        state[i * S_NSTATES + S_Q] = q1;
        outputs[i * S_NOUTPUTS + O_Q] = q1;
        status[i] = isfinite(q1) ? TM_STEP_OK : TM_STEP_NONFINITE;
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
        const double dh = u[I_HIN] - u[I_HOUT];
        const double a = sqrt(fabs(dh) / s_loss_k(p));
        const double q1 = dh < 0.0 ? -a : a;
        state[i * S_NSTATES + S_Q] = q1;
        outputs[i * S_NOUTPUTS + O_Q] = q1;
        status[i] = isfinite(q1) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

static const tmi_observed_t s_observed[] = {{O_Q, S_Q}};

static int s_estimate(const double *params, double *state,
                      const double *measured, const uint8_t *valid, double gain)
{
    (void)params;
    return tmi_estimate_direct(s_observed,
                               sizeof s_observed / sizeof s_observed[0],
                               S_NOUTPUTS, state, measured, valid, gain);
}

#define S_PIPE(tier, summary_text, step_fn)                                    \
    TMI_MODEL("pipe", tier, summary_text, s_states, S_NSTATES, s_init,         \
              s_output, step_fn, NULL, s_estimate)

const tm_model_t tmi_pipe_high =
    S_PIPE(TM_FIDELITY_HIGH,
           "pipe with fluid inertia, exact for constant heads", s_step_high);
const tm_model_t tmi_pipe_low =
    S_PIPE(TM_FIDELITY_LOW, "pipe, static quadratic loss", s_step_low);
