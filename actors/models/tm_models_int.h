/* tm_models_int: what the files of the built-in model library share
 * (descriptors of every family and tier, physical constants, small
 * helpers). Internal to actors/models/; the public entry is tm_models.h. */
#ifndef TM_MODELS_INT_H_INCLUDED
#define TM_MODELS_INT_H_INCLUDED

#include "tm_model.h"

#include <math.h>   /* isfinite */
#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

/* Standard gravity (m/s^2) and density of water at 20 degC (kg/m^3). */
#define TMI_G         9.80665
#define TMI_RHO_WATER 998.2

/* Range bound for quantities without a physical limit; finite so that it
 * survives JSON and MessagePack round trips. */
#define TMI_UNBOUNDED 1e300

/* A built-in descriptor (version 1.0.0) from the including file's tables:
 * s_inputs, s_outputs and s_params with S_NINPUTS, S_NOUTPUTS and
 * S_NPARAMS entries (shared by every tier of a family), a state table with
 * nst entries (NULL, 0 for stateless models) and the tier's functions. */
#define TMI_MODEL(fam, tier, summary_text, st, nst, init_fn, output_fn,        \
                  step_fn, map_fn, estimate_fn)                                \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = (fam),                    \
        .version = "1.0.0", .fidelity = (tier), .summary = (summary_text),     \
        .states = (st), .n_states = (nst), .inputs = s_inputs,                 \
        .n_inputs = S_NINPUTS, .outputs = s_outputs, .n_outputs = S_NOUTPUTS,  \
        .params = s_params, .n_params = S_NPARAMS, .init = (init_fn),          \
        .output = (output_fn), .step = (step_fn), .map_state = (map_fn),       \
        .estimate = (estimate_fn),                                             \
    }

/* Every built-in family and tier, version "1.0.0" (pumpmon: "1.2.0"). */
extern const tm_model_t tmi_oscillator_high;
extern const tm_model_t tmi_oscillator_medium;
extern const tm_model_t tmi_oscillator_low;
extern const tm_model_t tmi_spring_high;
extern const tm_model_t tmi_spring_low;
extern const tm_model_t tmi_pump_high;
extern const tm_model_t tmi_pump_medium;
extern const tm_model_t tmi_pump_low;
extern const tm_model_t tmi_tank_high;
extern const tm_model_t tmi_tank_low;
extern const tm_model_t tmi_pipe_high;
extern const tm_model_t tmi_pipe_low;
extern const tm_model_t tmi_valve_high;
extern const tm_model_t tmi_valve_low;
extern const tm_model_t tmi_thermal_high;
extern const tm_model_t tmi_thermal_low;
extern const tm_model_t tmi_pumpmon_high;
extern const tm_model_t tmi_pumpmon_low;

/* tm_models_find over an explicit list (the catalog, or a test's). */
int tmi_models_find_in(const tm_model_t *const *list, size_t count,
                       const char *family, const char *version,
                       tm_fidelity_t fidelity, const tm_model_t **out);

/* 1 when all n values are finite. */
static inline int tmi_all_finite(const double *v, uint32_t n)
{
    int ok = 1;
    for (uint32_t j = 0; j < n; j++) {
        ok &= isfinite(v[j]) != 0;
    }
    return ok;
}

/* Blend one state toward a measurement (estimate hooks): x + gain (m - x).
 */
static inline double tmi_blend(double x, double measured, double gain)
{
    return x + gain * (measured - x);
}

/* Arguments of an estimate hook are usable: gain in [0, 1], every
 * measured value flagged valid is finite. */
static inline int tmi_estimate_ok(const double *measured, const uint8_t *valid,
                                  uint32_t n, double gain)
{
    if (measured == NULL || valid == NULL || !(gain >= 0.0 && gain <= 1.0)) {
        return 0;
    }
    for (uint32_t j = 0; j < n; j++) {
        if (valid[j] != 0 && !isfinite(measured[j])) {
            return 0;
        }
    }
    return 1;
}

/* A state that an output measures directly (output j is state k). */
typedef struct {
    uint8_t output;
    uint8_t state;
} tmi_observed_t;

/* The estimate hook of a model whose measured outputs are states: blend
 * each observed state toward its valid measurement. */
static inline int tmi_estimate_direct(const tmi_observed_t *obs, size_t n_obs,
                                      uint32_t n_outputs, double *state,
                                      const double *measured,
                                      const uint8_t *valid, double gain)
{
    if (!tmi_estimate_ok(measured, valid, n_outputs, gain)) {
        return TM_STEP_FAILED;
    }
    for (size_t i = 0; i < n_obs; i++) {
        if (valid[obs[i].output]) {
            state[obs[i].state] =
                tmi_blend(state[obs[i].state], measured[obs[i].output], gain);
        }
    }
    return TM_STEP_OK;
}

#endif
