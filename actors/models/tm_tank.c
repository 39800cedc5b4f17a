/* tm_tank: an open tank with vertical walls, A dh/dt = qin - qout, level
 * clamped to [0, hmax].
 *
 * For inputs constant over the step the level is linear in time, so both
 * tiers compute the same level. The high tier also keeps the books: the
 * volume spilled over the rim and the volume of outflow that an empty tank
 * could not deliver are integrated into states, so that the mass balance
 * A (h1 - h0) = (qin - qout) h - spilled + missing holds to round-off over
 * any run. The low tier clamps and forgets. Equations: docs/models.md.
 */
#include "tm_models_int.h"

#include <math.h> /* isfinite */

/* States of the high tier; the low tier has only the level. */
enum { S_H, S_SPILL, S_SHORT, S_NSTATES_HIGH };
enum { S_NSTATES_LOW = 1 };
enum { I_QIN, I_QOUT, S_NINPUTS };
enum { P_AREA, P_H0, P_HMAX, S_NPARAMS };
enum { O_LEVEL, O_VOLUME, O_SPILL, O_OUTFLOW, S_NOUTPUTS };

static const tm_var_t s_states_high[S_NSTATES_HIGH] = {
    {"h", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "level"},
    {"v_spill", "m^3", 0.0, 0.0, TMI_UNBOUNDED, 0,
     "volume spilled over the rim since spawn"},
    {"v_short", "m^3", 0.0, 0.0, TMI_UNBOUNDED, 0,
     "outflow volume an empty tank could not deliver since spawn"},
};

static const tm_var_t s_states_low[S_NSTATES_LOW] = {
    {"h", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "level"},
};

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"qin", "m^3/s", 0.0, -1e6, 1e6, TM_VAR_SUMMING, "inflow (links add up)"},
    {"qout", "m^3/s", 0.0, -1e6, 1e6, TM_VAR_SUMMING,
     "outflow demanded (links add up)"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"area", "m^2", 2.0, 1e-6, 1e9, 0, "cross-section"},
    {"h0", "m", 1.0, 0.0, 1e6, 0, "initial level (<= hmax)"},
    {"hmax", "m", 3.0, 1e-6, 1e6, 0, "rim height; above it the tank spills"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"level", "m", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "level"},
    {"volume", "m^3", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "stored volume, area x level"},
    {"spill", "m^3/s", 0.0, 0.0, TMI_UNBOUNDED, 0,
     "flow over the rim (full tank, net inflow)"},
    {"outflow", "m^3/s", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "outflow delivered (qout unless the tank is empty)"},
};

static int s_init_common(const double *params, double *state)
{
    state[S_H] = params[P_H0];
    return (isfinite(params[P_H0]) && params[P_H0] <= params[P_HMAX])
               ? TM_STEP_OK
               : TM_STEP_FAILED;
}

static int s_init_high(const double *params, double *state)
{
    state[S_SPILL] = 0.0;
    state[S_SHORT] = 0.0;
    return s_init_common(params, state);
}

/* Outputs from the level alone (the same function in both tiers, so a
 * tier change never makes them jump). */
static inline void s_outputs_of(double h, const double *p, const double *u,
                                double *y)
{
    const double net = u[I_QIN] - u[I_QOUT];
    const double spill = (h >= p[P_HMAX] && net > 0.0) ? net : 0.0;
    const double missing = (h <= 0.0 && net < 0.0) ? -net : 0.0;
    y[O_LEVEL] = h;
    y[O_VOLUME] = p[P_AREA] * h;
    y[O_SPILL] = spill;
    y[O_OUTFLOW] = u[I_QOUT] - missing;
}

static void s_output_high(size_t n, const double *state, const double *params,
                          const double *inputs, double *outputs)
{
    for (size_t i = 0; i < n; i++) {
        s_outputs_of(state[i * S_NSTATES_HIGH + S_H], params + i * S_NPARAMS,
                     inputs + i * S_NINPUTS, outputs + i * S_NOUTPUTS);
    }
}

static void s_output_low(size_t n, const double *state, const double *params,
                         const double *inputs, double *outputs)
{
    for (size_t i = 0; i < n; i++) {
        s_outputs_of(state[i * S_NSTATES_LOW + S_H], params + i * S_NPARAMS,
                     inputs + i * S_NINPUTS, outputs + i * S_NOUTPUTS);
    }
}

/* Exact for constant inputs: the level moves by (qin - qout) h / A; what
 * lies above the rim is spilled volume, what lies below the floor is
 * missing outflow. A level set by hand outside [0, hmax] is settled the
 * same way on the next step. */
static void s_step_high(const tm_step_ctx_t *ctx, size_t n, double *state,
                        const double *params, const double *inputs,
                        double *outputs, uint8_t *status)
{
    const double dt = ctx->h;
    for (size_t i = 0; i < n; i++) {
        double *s = state + i * S_NSTATES_HIGH;
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        double *y = outputs + i * S_NOUTPUTS;
        const double area = p[P_AREA], hmax = p[P_HMAX];
        double h1 = s[S_H] + (u[I_QIN] - u[I_QOUT]) * dt / area;
        if (h1 > hmax) {
            s[S_SPILL] += (h1 - hmax) * area;
            h1 = hmax;
        } else if (h1 < 0.0) {
            s[S_SHORT] += -h1 * area;
            h1 = 0.0;
        }
        s[S_H] = h1;
        s_outputs_of(h1, p, u, y);
        status[i] =
            (tmi_all_finite(s, S_NSTATES_HIGH) && tmi_all_finite(y, S_NOUTPUTS))
                ? TM_STEP_OK
                : TM_STEP_NONFINITE;
    }
}

/* Explicit Euler, then clamp. */
static void s_step_low(const tm_step_ctx_t *ctx, size_t n, double *state,
                       const double *params, const double *inputs,
                       double *outputs, uint8_t *status)
{
    const double dt = ctx->h;
    for (size_t i = 0; i < n; i++) {
        double *s = state + i * S_NSTATES_LOW;
        const double *p = params + i * S_NPARAMS;
        const double *u = inputs + i * S_NINPUTS;
        double *y = outputs + i * S_NOUTPUTS;
        double h1 = s[S_H] + dt * (u[I_QIN] - u[I_QOUT]) / p[P_AREA];
        h1 = h1 > p[P_HMAX] ? p[P_HMAX] : h1;
        h1 = h1 < 0.0 ? 0.0 : h1;
        s[S_H] = h1;
        s_outputs_of(h1, p, u, y);
        status[i] =
            tmi_all_finite(y, S_NOUTPUTS) ? TM_STEP_OK : TM_STEP_NONFINITE;
    }
}

/* The level by name from any tier or version of the family; h0 when
 * `from` has none. */
static int s_level_from(const tm_model_t *from, const double *from_state,
                        const double *params, double *h)
{
    int j = tm_model_var_index(from->states, from->n_states, "h");
    *h = j >= 0 ? from_state[j] : params[P_H0];
    return isfinite(*h) ? TM_STEP_OK : TM_STEP_FAILED;
}

/* To the high tier: the level carries over; the books carry over when
 * `from` keeps them and start at zero otherwise. */
static int s_map_high(const tm_model_t *from, const double *from_state,
                      const double *params, double *to_state)
{
    double h, spill = 0.0, missing = 0.0;
    int rc = s_level_from(from, from_state, params, &h);
    int j = tm_model_var_index(from->states, from->n_states, "v_spill");
    if (j >= 0) {
        spill = from_state[j];
    }
    j = tm_model_var_index(from->states, from->n_states, "v_short");
    if (j >= 0) {
        missing = from_state[j];
    }
    if (rc == TM_STEP_OK) {
        to_state[S_H] = h;
        to_state[S_SPILL] = spill;
        to_state[S_SHORT] = missing;
    }
    return rc;
}

static int s_map_low(const tm_model_t *from, const double *from_state,
                     const double *params, double *to_state)
{
    double h;
    int rc = s_level_from(from, from_state, params, &h);
    if (rc == TM_STEP_OK) {
        to_state[S_H] = h;
    }
    return rc;
}

/* A measured level or volume moves the level. */
static int s_estimate(const double *params, double *state,
                      const double *measured, const uint8_t *valid, double gain)
{
    if (!tmi_estimate_ok(measured, valid, S_NOUTPUTS, gain)) {
        return TM_STEP_FAILED;
    }
    if (valid[O_LEVEL]) {
        state[S_H] = tmi_blend(state[S_H], measured[O_LEVEL], gain);
    } else if (valid[O_VOLUME]) {
        state[S_H] =
            tmi_blend(state[S_H], measured[O_VOLUME] / params[P_AREA], gain);
    }
    return TM_STEP_OK;
}

#define S_TANK(tier, summary_text, st, nst, init_fn, output_fn, step_fn,       \
               map_fn)                                                         \
    TMI_MODEL("tank", tier, summary_text, st, nst, init_fn, output_fn,         \
              step_fn, map_fn, s_estimate)

const tm_model_t tmi_tank_high =
    S_TANK(TM_FIDELITY_HIGH, "open tank, exact with spill/dry-run accounting",
           s_states_high, S_NSTATES_HIGH, s_init_high, s_output_high,
           s_step_high, s_map_high);
const tm_model_t tmi_tank_low =
    S_TANK(TM_FIDELITY_LOW, "open tank, explicit Euler, clamped", s_states_low,
           S_NSTATES_LOW, s_init_common, s_output_low, s_step_low, s_map_low);
