/* tm_spring: a stateless linear spring between two positions, the coupling
 * element of oscillator chains: fa = k (xb - xa) acts on body a, fb = -fa
 * on body b. Both tiers compute the same thing (a spring has nothing to
 * approximate); two tiers exist so that a chain can change tier as one. */
#include "tm_models_int.h"

#include <math.h> /* isfinite */

enum { I_XA, I_XB, S_NINPUTS };
enum { P_K, S_NPARAMS };
enum { O_FA, O_FB, S_NOUTPUTS };

static const tm_var_t s_inputs[S_NINPUTS] = {
    {"xa", "m", 0.0, -1e12, 1e12, 0, "position of end a"},
    {"xb", "m", 0.0, -1e12, 1e12, 0, "position of end b"},
};

static const tm_var_t s_params[S_NPARAMS] = {
    {"k", "N/m", 100.0, 0.0, 1e15, 0, "stiffness"},
};

static const tm_var_t s_outputs[S_NOUTPUTS] = {
    {"fa", "N", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0,
     "force on end a, k (xb - xa)"},
    {"fb", "N", 0.0, -TMI_UNBOUNDED, TMI_UNBOUNDED, 0, "force on end b, -fa"},
};

static int s_init(const double *params, double *state)
{
    (void)params;
    (void)state;
    return TM_STEP_OK;
}

static void s_output(size_t n, const double *state, const double *params,
                     const double *inputs, double *outputs)
{
    (void)state;
    for (size_t i = 0; i < n; i++) {
        const double *u = inputs + i * S_NINPUTS;
        double *y = outputs + i * S_NOUTPUTS;
        const double fa = params[i * S_NPARAMS + P_K] * (u[I_XB] - u[I_XA]);
        y[O_FA] = fa;
        y[O_FB] = -fa;
    }
}

static void s_step(const tm_step_ctx_t *ctx, size_t n, double *state,
                   const double *params, const double *inputs, double *outputs,
                   uint8_t *status)
{
    (void)ctx;
    s_output(n, state, params, inputs, outputs);
    for (size_t i = 0; i < n; i++) {
        status[i] = isfinite(outputs[i * S_NOUTPUTS + O_FA])
                        ? TM_STEP_OK
                        : TM_STEP_NONFINITE;
    }
}

#define S_SPRING(tier)                                                         \
    TMI_MODEL("spring", tier,                                                  \
              "linear spring between two positions (stateless)", NULL, 0,      \
              s_init, s_output, s_step, NULL, NULL)

const tm_model_t tmi_spring_high = S_SPRING(TM_FIDELITY_HIGH);
const tm_model_t tmi_spring_low = S_SPRING(TM_FIDELITY_LOW);
