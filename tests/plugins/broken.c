/* broken: test plugins the node must refuse (tests/plugins/README.md),
 * one source built as several files by BROKEN_KIND:
 *   1 bad_abi.so   - the descriptor claims ABI version 99;
 *   2 no_symbol.so - exports no tm_plugin_v1 (a near miss instead);
 *   3 bad_ports.so - the tiers of one version have different outputs. */
#include "tm_plugin.h"

#include <stddef.h>

static const tm_var_t s_inputs[] = {
    {"u", "1", 0.0, -1.0, 1.0, 0, "input"},
};
static const tm_var_t s_out_a[] = {
    {"y", "1", 0.0, -1.0, 1.0, 0, "output"},
};
#if BROKEN_KIND == 3
static const tm_var_t s_out_b[] = {
    {"z", "1", 0.0, -1.0, 1.0, 0, "another output"},
};
#endif

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
    (void)params;
    for (size_t i = 0; i < n; i++) {
        outputs[i] = inputs[i];
    }
}

static void s_step(const tm_step_ctx_t *ctx, size_t n, double *state,
                   const double *params, const double *inputs, double *outputs,
                   uint8_t *status)
{
    (void)ctx;
    s_output(n, state, params, inputs, outputs);
    for (size_t i = 0; i < n; i++) {
        status[i] = TM_STEP_OK;
    }
}

#define S_MODEL(tier, outs)                                                    \
    {                                                                          \
        .abi_version = TM_MODEL_ABI_VERSION,                                   \
        .struct_size = sizeof(tm_model_t), .family = "broken",                 \
        .version = "1.0.0", .fidelity = (tier), .summary = "refused",          \
        .inputs = s_inputs, .n_inputs = 1, .outputs = (outs), .n_outputs = 1,  \
        .init = s_init, .output = s_output, .step = s_step,                    \
    }

static const tm_model_t s_high = S_MODEL(TM_FIDELITY_HIGH, s_out_a);
#if BROKEN_KIND == 3
static const tm_model_t s_low = S_MODEL(TM_FIDELITY_LOW, s_out_b);
#else
static const tm_model_t s_low = S_MODEL(TM_FIDELITY_LOW, s_out_a);
#endif
static const tm_model_t *const s_models[] = {&s_high, &s_low};

static const tm_plugin_t s_plugin = {
#if BROKEN_KIND == 1
    .abi_version = 99,
#else
    .abi_version = TM_PLUGIN_ABI_VERSION,
#endif
    .struct_size = sizeof(tm_plugin_t),
    .name = "broken",
    .count = 2,
    .models = s_models,
};

#if BROKEN_KIND == 2
const tm_plugin_t *tm_plugin_v0(void);

const tm_plugin_t *tm_plugin_v0(void)
{
    return &s_plugin;
}
#else
const tm_plugin_t *tm_plugin_v1(void);

const tm_plugin_t *tm_plugin_v1(void)
{
    return &s_plugin;
}
#endif
