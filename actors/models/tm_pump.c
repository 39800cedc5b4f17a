/* tm_pump: a centrifugal pump driven by an induction motor on a variable
 * frequency drive, pumping through its own discharge line.
 *
 * States (every tier): rotor speed omega, flow q, motor temperature.
 *   J domega/dt  = Tm(u, omega) - Tl(omega, q)
 *   I dq/dt       = Hp(omega, q) - (h_discharge - h_suction) - Ks q|q|
 *   Cth dT/dt     = Ploss(u, omega) - (T - t_ambient) / Rth
 * with the pump head and shaft torque following the affinity laws and the
 * motor torque a saturated slip line. High tier: that ODE, integrated by
 * tm_ode (Dormand-Prince 5(4), error control). Medium: first-order lags of
 * speed, flow and temperature toward the steady state of the ODE at the
 * current inputs (exact exponentials). Low: speed and flow jump to that
 * steady state (the static affinity-law map), temperature lags as in
 * medium. All tiers share one output function of the state, so a tier
 * change never makes an output jump. Equations and defaults:
 * docs/models.md.
 */
#include "tm_models_int.h"

#include "tm_ode.h" /* tm_ode_dopri5 */

#include <math.h> /* sqrt, tanh, fabs, expm1, isfinite */

enum { S_OMEGA, S_Q, S_TM, S_NSTATES };
enum { I_SPEED, I_HSUC, I_HDIS, I_TAMB, S_NINPUTS };
enum {
    P_OMEGA_R,
    P_Q_R,
    P_H_R,
    P_SHUTOFF,
    P_ETA,
    P_P_SHUT,
    P_INERTIA,
    P_P_MOTOR,
    P_SLIP,
    P_T_BD,
    P_ETA_M,
    P_VOLTAGE,
    P_PF,
    P_INERTANCE,
    P_K_SYS,
    P_R_TH,
    P_C_TH,
    P_T0,
    S_NPARAMS
};
enum { O_SPEED, O_FLOW, O_HEAD, O_CURRENT, O_POWER, O_TM, S_NOUTPUTS };

/* Solver settings of the high tier (documented in docs/models.md). */
#define S_RTOL      1e-6
#define S_H_MIN     1e-9
#define S_MAX_STEPS 20000u
/* Share of the rated losses other than rotor copper that are stator copper
 * losses (the rest are iron losses). */
#define S_STATOR_SHARE 0.6

static const tm_var_t s_states[S_NSTATES] = {
    {"omega", "rad/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "rotor speed"},
    {"q", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "flow, suction to discharge"},
    {"t_motor", "degC", 20.0, -273.15, 1e6, 0, "motor winding temperature"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"speed_cmd", "1", 1.0, 0.0, 1.5, 0,
     "drive frequency as a fraction of rated; 0 switches the drive off"},
    {"h_suction", "m", 0.0, -1e4, 1e4, 0, "head at the suction side"},
    {"h_discharge", "m", 10.0, -1e4, 1e4, 0,
     "head at the end of the discharge line"},
    {"t_ambient", "degC", 20.0, -60.0, 100.0, 0, "cooling air temperature"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"omega_rated", "rad/s", 151.84364492350667, 1.0, 1e4, 0,
     "rated speed (1450 rpm)"},
    {"q_rated", "m^3/s", 0.013888888888888888, 1e-6, 1e3, 0,
     "flow at the rated point (50 m^3/h)"},
    {"head_rated", "m", 30.0, 0.01, 1e4, 0, "head at the rated point"},
    {"shutoff", "1", 1.25, 1.01, 5.0, 0, "shut-off head / rated head"},
    {"eta_pump", "1", 0.75, 0.05, 0.95, 0, "pump efficiency, rated point"},
    {"p_shutoff", "1", 0.45, 0.0, 1.0, 0,
     "shaft power at shut-off / rated shaft power"},
    {"inertia", "kg m^2", 0.05, 1e-6, 1e5, 0, "rotor + impeller inertia"},
    {"p_motor", "W", 5500.0, 1.0, 1e8, 0, "rated motor output"},
    {"slip_rated", "1", 0.03333333333333333, 1e-4, 0.5, 0,
     "rated slip (1450 of 1500 rpm)"},
    {"t_breakdown", "1", 2.5, 1.05, 10.0, 0, "breakdown torque / rated torque"},
    {"eta_motor", "1", 0.88, 0.3, 0.99, 0, "motor efficiency, rated point"},
    {"voltage", "V", 400.0, 1.0, 1e5, 0, "rated line-to-line voltage"},
    {"pf", "1", 0.85, 0.1, 1.0, 0, "power factor, rated point"},
    {"inertance", "s^2/m^2", 1000.0, 1e-3, 1e9, 0,
     "L / (g A) of the discharge line"},
    {"k_system", "s^2/m^5", 103680.0, 0.0, 1e15, 0,
     "discharge line loss, dh = k q|q|"},
    {"r_th", "K/W", 0.08, 1e-6, 1e3, 0, "motor thermal resistance to air"},
    {"c_th", "J/K", 22500.0, 1e-3, 1e12, 0, "motor heat capacity"},
    {"t0", "degC", 20.0, -60.0, 300.0, 0, "initial motor temperature"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"speed", "rad/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "rotor speed"},
    {"flow", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "flow, suction to discharge"},
    {"head", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "head the pump adds"},
    {"current", "A", 0.0, 0.0, TMI_UNBOUNDED, 0, "motor line current"},
    {"power", "W", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "electrical input power"},
    {"t_motor", "degC", 20.0, -273.15, 1e6, 0, "motor winding temperature"},
};

/* Quantities derived from one parameter set. */
typedef struct {
    double omega_r, q_r;
    double h0, kq;        /* pump head H = h0 s|s| - kq q|q|, s = w/w_r */
    double t_pr, a0;      /* shaft torque at rated point; shut-off share */
    double omega_sr, k_m; /* synchronous speed at rated frequency; slope */
    double t_mr, t_bd;    /* rated and breakdown motor torque */
    double p_scu, p_fe;   /* rated stator copper and iron losses */
    double i_mag, i_trq;  /* magnetising, torque current at rated */
    double inertia, inertance, k_sys, r_th, c_th;
} s_pump_t;

/* Everything the right-hand side needs for one actor and one tick. */
typedef struct {
    const s_pump_t *d;
    double u, dh, t_amb; /* speed command, lift, ambient temperature */
} s_rhs_ctx_t;

static void s_derive(const double *p, s_pump_t *d)
{
    d->omega_r = p[P_OMEGA_R];
    d->q_r = p[P_Q_R];
    d->h0 = p[P_SHUTOFF] * p[P_H_R];
    d->kq = (d->h0 - p[P_H_R]) / (d->q_r * d->q_r);
    const double p_pr = TMI_RHO_WATER * TMI_G * d->q_r * p[P_H_R] / p[P_ETA];
    d->t_pr = p_pr / d->omega_r;
    d->a0 = p[P_P_SHUT];
    d->omega_sr = d->omega_r / (1.0 - p[P_SLIP]);
    d->t_mr = p[P_P_MOTOR] / d->omega_r;
    d->k_m = d->t_mr / (d->omega_sr - d->omega_r);
    d->t_bd = p[P_T_BD] * d->t_mr;
    const double p_loss = p[P_P_MOTOR] * (1.0 / p[P_ETA_M] - 1.0);
    const double p_rcu = d->t_mr * (d->omega_sr - d->omega_r);
    const double rest = p_loss > p_rcu ? p_loss - p_rcu : 0.0;
    d->p_scu = S_STATOR_SHARE * rest;
    d->p_fe = (1.0 - S_STATOR_SHARE) * rest;
    const double i_r =
        (p[P_P_MOTOR] / p[P_ETA_M]) / (sqrt(3.0) * p[P_VOLTAGE] * p[P_PF]);
    d->i_mag = i_r * sqrt(1.0 - p[P_PF] * p[P_PF]);
    d->i_trq = i_r * p[P_PF];
    d->inertia = p[P_INERTIA];
    d->inertance = p[P_INERTANCE];
    d->k_sys = p[P_K_SYS];
    d->r_th = p[P_R_TH];
    d->c_th = p[P_C_TH];
}

/* Drive command as used by the motor: zero and below is off; NaN stays
 * NaN so that the step reports it. */
static inline double s_cmd(const double *u)
{
    return u[I_SPEED] < 0.0 ? 0.0 : u[I_SPEED];
}

/* Motor torque: the slip line k_m (u w_sr - w), saturated smoothly at the
 * breakdown torque; zero with the drive off. */
static inline double s_motor_torque(const s_pump_t *d, double u, double w)
{
    if (u <= 0.0) {
        return 0.0;
    }
    return d->t_bd * tanh(d->k_m * (u * d->omega_sr - w) / d->t_bd);
}

/* Shaft torque of the pump (affinity laws with a power curve linear in
 * flow): Tl = T_pr (a0 s|s| + (1 - a0) s max(q, 0) / q_r). Reverse flow
 * loads the shaft only through the a0 term: the model has no turbine
 * operation, so backflow never drives the rotor (and the steady speed is
 * unique, the torque balance being monotonic in speed). */
static inline double s_load_torque(const s_pump_t *d, double w, double q)
{
    const double s = w / d->omega_r;
    const double qf = q > 0.0 ? q : 0.0;
    return d->t_pr * (d->a0 * s * fabs(s) + (1.0 - d->a0) * s * qf / d->q_r);
}

static inline double s_pump_head(const s_pump_t *d, double w, double q)
{
    const double s = w / d->omega_r;
    return d->h0 * s * fabs(s) - d->kq * q * fabs(q);
}

/* Motor losses: rotor copper (slip power), stator copper (square of the
 * torque), iron (proportional to the frequency). */
static inline double s_losses(const s_pump_t *d, double u, double w, double tm)
{
    const double r = tm / d->t_mr;
    return tm * (u * d->omega_sr - w) + d->p_scu * r * r + d->p_fe * u;
}

static void s_rhs(double t, const double *y, double *dydt, const void *vctx)
{
    (void)t;
    const s_rhs_ctx_t *c = vctx;
    const s_pump_t *d = c->d;
    const double w = y[S_OMEGA], q = y[S_Q];
    const double tm = s_motor_torque(d, c->u, w);
    dydt[S_OMEGA] = (tm - s_load_torque(d, w, q)) / d->inertia;
    dydt[S_Q] =
        (s_pump_head(d, w, q) - c->dh - d->k_sys * q * fabs(q)) / d->inertance;
    dydt[S_TM] =
        (s_losses(d, c->u, w, tm) - (y[S_TM] - c->t_amb) / d->r_th) / d->c_th;
}

/* Flow in steady state at speed w: Hp(w, q) = dh + Ks q|q|. */
static inline double s_flow_at(const s_pump_t *d, double w, double dh)
{
    const double s = w / d->omega_r;
    const double r = d->h0 * s * fabs(s) - dh;
    const double q = sqrt(fabs(r) / (d->kq + d->k_sys));
    return r < 0.0 ? -q : q;
}

/* Torque balance in steady state F(w) = Tm(w) - Tl(w, q(w)) for a running
 * drive (u > 0), and its derivative. F decreases for w >= 0 (Tm falls,
 * Tl rises); dq/dw is infinite where q(w) crosses zero, which the caller's
 * bracket absorbs. */
static double s_balance(const s_pump_t *d, double u, double dh, double w,
                        double *dfdw)
{
    const double s = w / d->omega_r, as = fabs(s);
    const double kk = d->kq + d->k_sys;
    const double r = d->h0 * s * as - dh;
    const double qa = sqrt(fabs(r) / kk);
    const double qf = r > 0.0 ? qa : 0.0; /* forward flow loads the shaft */
    const double dqf = qf > 0.0 ? d->h0 * as / (d->omega_r * kk * qf) : 0.0;
    const double th = tanh(d->k_m * (u * d->omega_sr - w) / d->t_bd);
    const double tm = d->t_bd * th;
    const double dtm = -d->k_m * (1.0 - th * th);
    const double b = 1.0 - d->a0;
    const double tl = d->t_pr * (d->a0 * s * as + b * s * qf / d->q_r);
    const double dtl =
        d->t_pr / d->omega_r * (2.0 * d->a0 * as + b * qf / d->q_r) +
        d->t_pr * b * s * dqf / d->q_r;
    *dfdw = dtm - dtl;
    return tm - tl;
}

/* Steady state of the ODE for constant inputs: speed from the torque
 * balance, flow from the head balance, temperature from the losses.
 * Returns a tm_step_status_t.
 *
 * The speed is found by Newton's method kept inside a bracket (bisection
 * when a Newton step leaves it): F(0) = Tm(0) > 0 and F(u w_sr) = -Tl <= 0
 * bracket the root with no evaluation. The search starts at w_guess (the
 * actor's current speed, so a steady actor converges in one or two
 * iterations) or, outside the bracket, at the rated slip. */
static int s_steady(const s_pump_t *d, double u, double dh, double t_amb,
                    double w_guess, double *w_out, double *q_out, double *t_out)
{
    double w = 0.0;
    if (u > 0.0) {
        double lo = 0.0, hi = u * d->omega_sr;
        w = (w_guess > lo && w_guess < hi) ? w_guess : u * d->omega_r;
        for (int k = 0; k < 100; k++) {
            double df;
            const double f = s_balance(d, u, dh, w, &df);
            if (f == 0.0) {
                break;
            }
            if (f > 0.0) {
                lo = w;
            } else {
                hi = w;
            }
            const double dx = f / df;
            if (df < 0.0 && fabs(dx) <= 1e-15 * w) {
                w -= dx; /* converged (the step may round to nothing) */
                break;
            }
            double next = w - dx;
            if (!(df < 0.0) || !(next > lo && next < hi)) {
                next = 0.5 * (lo + hi);
            }
            w = next;
            if (hi - lo <= 1e-15 * hi) {
                break;
            }
        }
    }
    *w_out = w;
    *q_out = s_flow_at(d, w, dh);
    *t_out = t_amb + d->r_th * s_losses(d, u, w, s_motor_torque(d, u, w));
    return (isfinite(*w_out) && isfinite(*q_out) && isfinite(*t_out))
               ? TM_STEP_OK
               : TM_STEP_FAILED;
}

/* Time constants of speed and flow, linearised at the rated point (for
 * the medium tier's lags and the high tier's first trial step). */
static inline double s_tau_speed(const s_pump_t *d)
{
    return d->inertia / (d->k_m + d->t_pr * (1.0 + d->a0) / d->omega_r);
}

static inline double s_tau_flow(const s_pump_t *d)
{
    return d->inertance / (2.0 * (d->kq + d->k_sys) * d->q_r);
}

/* Outputs from the state (the same function in every tier). The line
 * current adds the magnetising and torque-producing components in
 * quadrature (i_r at the rated torque); the drive off draws nothing. */
static void s_outputs_of(const s_pump_t *d, const double *x, const double *u,
                         double *y)
{
    const double cmd = s_cmd(u);
    const double w = x[S_OMEGA], q = x[S_Q];
    const double tm = s_motor_torque(d, cmd, w);
    const double i_t = d->i_trq * tm / d->t_mr;
    y[O_SPEED] = w;
    y[O_FLOW] = q;
    y[O_HEAD] = s_pump_head(d, w, q);
    y[O_CURRENT] = cmd > 0.0 ? sqrt(d->i_mag * d->i_mag + i_t * i_t) : 0.0;
    y[O_POWER] = tm * w + s_losses(d, cmd, w, tm);
    y[O_TM] = x[S_TM];
}

static int s_init(const double *params, double *state)
{
    state[S_OMEGA] = 0.0;
    state[S_Q] = 0.0;
    state[S_TM] = params[P_T0];
    return isfinite(params[P_T0]) ? TM_STEP_OK : TM_STEP_FAILED;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    for (size_t i = 0; i < n; i++) {
        s_pump_t d;
        s_derive(params + i * S_NPARAMS, &d);
        s_outputs_of(&d, state + i * S_NSTATES, inputs + i * S_NINPUTS,
                     outputs + i * S_NOUTPUTS);
    }
}

/* Write the new state and outputs of one actor when all are finite. */
static int s_commit(const s_pump_t *d, const double *x, const double *u,
                    double *state, double *y)
{
    double out[S_NOUTPUTS];
    s_outputs_of(d, x, u, out);
    if (!tmi_all_finite(x, S_NSTATES) || !tmi_all_finite(out, S_NOUTPUTS)) {
        return TM_STEP_NONFINITE;
    }
    for (uint32_t j = 0; j < S_NSTATES; j++) {
        state[j] = x[j];
    }
    for (uint32_t j = 0; j < S_NOUTPUTS; j++) {
        y[j] = out[j];
    }
    return TM_STEP_OK;
}

static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    for (size_t i = 0; i < n; i++) {
        const double *u = inputs + i * S_NINPUTS;
        double *s = state + i * S_NSTATES;
        s_pump_t d;
        s_derive(params + i * S_NPARAMS, &d);
        const s_rhs_ctx_t c = {&d, s_cmd(u), u[I_HDIS] - u[I_HSUC], u[I_TAMB]};
        const double atol[S_NSTATES] = {S_RTOL * d.omega_r, S_RTOL * d.q_r,
                                        1e-4};
        double tau = s_tau_speed(&d);
        const double tau_q = s_tau_flow(&d);
        tau = tau_q < tau ? tau_q : tau;
        const tm_ode_opts_t opts = {
            .rtol = S_RTOL,
            .atol_all = 0.0,
            .atol = atol,
            .h_init = tau < ctx->h ? tau : ctx->h,
            .h_min = S_H_MIN,
            .max_steps = S_MAX_STEPS,
        };
        double x[S_NSTATES] = {s[S_OMEGA], s[S_Q], s[S_TM]};
        int rc =
            tm_ode_dopri5(s_rhs, &c, S_NSTATES, x, 0.0, ctx->h, &opts, NULL);
        if (rc == TM_STEP_OK) {
            rc = s_commit(&d, x, u, s, outputs + i * S_NOUTPUTS);
        }
        status[i] = (uint8_t)rc;
    }
}

/* x relaxes toward x_ss with time constant tau over h, exactly:
 * x_ss + (x - x_ss) exp(-h / tau). */
static inline double s_lag(double x, double x_ss, double h, double tau)
{
    return x - (x_ss - x) * expm1(-h / tau);
}

/* Medium (lags == 1) and low (lags == 0) tiers. */
static inline void s_step_map(const tm_step_ctx_t *ctx, size_t n, double *state,
                              const double *params, const double *inputs,
                              double *outputs, uint8_t *status, int lags)
{
    const double h = ctx->h;
    for (size_t i = 0; i < n; i++) {
        const double *u = inputs + i * S_NINPUTS;
        double *s = state + i * S_NSTATES;
        s_pump_t d;
        s_derive(params + i * S_NPARAMS, &d);
        double w_ss, q_ss, t_ss;
        int rc = s_steady(&d, s_cmd(u), u[I_HDIS] - u[I_HSUC], u[I_TAMB],
                          s[S_OMEGA], &w_ss, &q_ss, &t_ss);
        if (rc == TM_STEP_OK) {
            double x[S_NSTATES];
            if (lags) {
                x[S_OMEGA] = s_lag(s[S_OMEGA], w_ss, h, s_tau_speed(&d));
                x[S_Q] = s_lag(s[S_Q], q_ss, h, s_tau_flow(&d));
            } else {
                x[S_OMEGA] = w_ss;
                x[S_Q] = q_ss;
            }
            x[S_TM] = s_lag(s[S_TM], t_ss, h, d.r_th * d.c_th);
            rc = s_commit(&d, x, u, s, outputs + i * S_NOUTPUTS);
        }
        status[i] = (uint8_t)rc;
    }
}

static void s_step_medium(const tm_step_ctx_t *ctx, size_t n, double *state,
                          const double *params, const double *inputs,
                          double *outputs, uint8_t *status)
{
    s_step_map(ctx, n, state, params, inputs, outputs, status, 1);
}

static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    s_step_map(ctx, n, state, params, inputs, outputs, status, 0);
}

static const tmi_observed_t s_observed[] = {
    {O_SPEED, S_OMEGA}, {O_FLOW, S_Q}, {O_TM, S_TM}};

static int s_estimate(const double *params, double *state,
                      const double *measured, const uint8_t *valid, double gain)
{
    (void)params;
    return tmi_estimate_direct(s_observed,
                               sizeof s_observed / sizeof s_observed[0],
                               S_NOUTPUTS, state, measured, valid, gain);
}

#define S_PUMP(tier, summary_text, step_fn)                                    \
    TMI_MODEL("pump", tier, summary_text, s_states, S_NSTATES, s_init,         \
              s_output, step_fn, NULL, s_estimate)

const tm_model_t tmi_pump_high = S_PUMP(
    TM_FIDELITY_HIGH, "centrifugal pump + induction motor, adaptive RK45 ODE",
    s_step_high);
const tm_model_t tmi_pump_medium =
    S_PUMP(TM_FIDELITY_MEDIUM,
           "centrifugal pump + induction motor, lags to the steady state",
           s_step_medium);
const tm_model_t tmi_pump_low = S_PUMP(
    TM_FIDELITY_LOW,
    "centrifugal pump + induction motor, static affinity-law map", s_step_low);
