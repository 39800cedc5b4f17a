/* tm_model: the model ABI every built-in family and plugin implements.
 *
 * A model is family@version at a fidelity tier. It declares named,
 * unit-annotated states, inputs, outputs and parameters and provides pure,
 * batched functions. The runtime keeps the actors of one model in
 * contiguous arrays, so one call steps many actors:
 *
 *   state   of actor i: state   + i * n_states
 *   params  of actor i: params  + i * n_params
 *   inputs  of actor i: inputs  + i * n_inputs
 *   outputs of actor i: outputs + i * n_outputs
 *
 * Contract between tiers of one family (checked by tm_model_check_family):
 * every tier has the same parameters, inputs and outputs (names, units and
 * order), so an actor can change tier, and keep its links and calibration.
 * States may differ; map_state converts them.
 *
 * Purity: init, output, step and map_state read nothing but their arguments
 * (no wall clock, no global RNG, no globals that change): the same inputs
 * give bit-identical results on every build of the same binary. A model
 * that needs randomness uses tm_rng keyed by ctx->seed, ctx->keys[i] and
 * ctx->tick.
 *
 * The struct is versioned: a plugin built against another
 * TM_MODEL_ABI_VERSION, or with a smaller struct_size, is refused.
 */
#ifndef TM_MODEL_H_INCLUDED
#define TM_MODEL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_MODEL_ABI_VERSION 1u

/* Limits the runtime relies on (sizes of on-stack scratch arrays). */
#define TM_MODEL_MAX_VARS 32u
#define TM_MODEL_NAME_MAX 32u

typedef enum {
    TM_FIDELITY_HIGH = 0,
    TM_FIDELITY_MEDIUM = 1,
    TM_FIDELITY_LOW = 2,
    TM_FIDELITY_COUNT = 3
} tm_fidelity_t;

/* Per-actor outcome of a step (stored in a uint8_t status array). */
typedef enum {
    TM_STEP_OK = 0,
    TM_STEP_NONFINITE = 1,      /* a state or output became NaN or inf */
    TM_STEP_FAILED = 2,         /* the model refused (e.g. invalid state) */
    TM_STEP_SOLVER_GAVE_UP = 3, /* adaptive solver's step size collapsed */
    /* Set by the supervisor, never by a model: */
    TM_STEP_RESIDUAL = 4, /* predictions off the measurements (tm_rt.h) */
    TM_STEP_SLOW = 5      /* step time over its budget (tm_rt_fall) */
} tm_step_status_t;

/* Variable flags. */
/* Input flag: several links are added, in ascending source-id order. */
#define TM_VAR_SUMMING 0x1u
/* Input flag: a measured input, fed by telemetry (tm_rt_feed). A step
 * sees the measurement of its tick, or NaN when none arrived (the model
 * then predicts); links and held values never reach it. */
#define TM_VAR_MEASURED 0x2u

typedef struct {
    const char *name; /* letters, digits, '_'; < TM_MODEL_NAME_MAX bytes */
    const char *unit; /* SI unit, "1" when dimensionless */
    double def;       /* default: params; inputs when unlinked; states */
    double min;       /* valid range, inclusive; params and inputs set */
    double max;       /*   outside it are refused (TM_ERR_BAD_VALUE) */
    uint32_t flags;   /* TM_VAR_* */
    const char *doc;  /* one line */
} tm_var_t;

/* What a batched step may know besides its arrays. */
typedef struct {
    double h;             /* step length in seconds (tick step x period) */
    uint64_t tick;        /* mesh tick being computed */
    uint64_t seed;        /* mesh seed */
    const uint64_t *keys; /* per-actor key (hash of the actor id), n items */
} tm_step_ctx_t;

typedef struct tm_model tm_model_t;

struct tm_model {
    uint32_t abi_version; /* TM_MODEL_ABI_VERSION */
    uint32_t struct_size; /* sizeof(tm_model_t) of the builder */
    const char *family;   /* e.g. "pump" */
    const char *version;  /* semantic version, e.g. "1.2.0" */
    tm_fidelity_t fidelity;
    const char *summary; /* one line */

    const tm_var_t *states;
    uint32_t n_states;
    const tm_var_t *inputs;
    uint32_t n_inputs;
    const tm_var_t *outputs;
    uint32_t n_outputs;
    const tm_var_t *params;
    uint32_t n_params;

    /* Initial state of one actor from its parameters. Returns a
     * tm_step_status_t (TM_STEP_OK on success). Required. */
    int (*init)(const double *params, double *state);

    /* Outputs y = g(x, u) of n actors without advancing time; used at
     * spawn (inputs zero) and after a state is set by hand. Required. */
    void (*output)(size_t n, const double *state, const double *params,
                   const double *inputs, double *outputs);

    /* Advance n actors by ctx->h with inputs held constant over the step,
     * then write the outputs at the new state. status[i] receives a
     * tm_step_status_t for actor i. On a status other than TM_STEP_OK the
     * runtime restores that actor's previous state. Required. */
    void (*step)(const tm_step_ctx_t *ctx, size_t n, double *state,
                 const double *params, const double *inputs, double *outputs,
                 uint8_t *status);

    /* Convert one actor's state from another tier or version of the same
     * family (from) into this model's state layout. NULL when this model's
     * states have the same names and order as every other tier's: the
     * runtime then copies states by name. Returns tm_step_status_t. */
    int (*map_state)(const tm_model_t *from, const double *from_state,
                     const double *params, double *to_state);

    /* Optional (NULL): assimilate one measurement. measured has n_outputs
     * values, valid[j] != 0 where output j was measured; gain in [0, 1] is
     * the weight of the measurement. Adjusts state in place. Returns a
     * tm_step_status_t. Used by telemetry synchronisation. */
    int (*estimate)(const double *params, double *state, const double *measured,
                    const uint8_t *valid, double gain);

    /* Optional (NULL): fit one actor's parameters to a training window of
     * its measured inputs. rows holds n_rows rows of n_inputs values in
     * time order (NaN: not measured in that row). params holds the
     * current parameters on entry and the fitted ones on return; state
     * receives the state the model reaches by running over the window with
     * them, so the twin continues from the window's end. On failure
     * returns a tm_err_t (TM_ERR_INVAL: the window cannot be fitted, e.g.
     * too short or a signal never measured) with a one-line reason in
     * why (cap bytes) and leaves params and state unspecified. Pure, like
     * step. */
    int (*calibrate)(double dt, size_t n_rows, const double *rows,
                     double *params, double *state, char *why, size_t cap);
};

/* "high", "medium" or "low"; "?" for other values. */
const char *tm_fidelity_name(tm_fidelity_t fidelity);

/* Parse a tier name (also "h", "m", "l"). 0 or TM_ERR_UNKNOWN_FIDELITY. */
int tm_fidelity_parse(const char *name, tm_fidelity_t *out);

/* Name of a tm_step_status_t: "ok", "non-finite", "failed", "solver-gave-up".
 */
const char *tm_step_status_name(int status);

/* Check one model descriptor: ABI version and size, required functions,
 * names valid and unique per kind, counts within TM_MODEL_MAX_VARS, defaults
 * inside [min, max]. 0 or TM_ERR_MODEL_ABI / TM_ERR_INVAL. */
int tm_model_check(const tm_model_t *model);

/* Check that a and b are tiers of one family with identical parameters,
 * inputs and outputs. 0 or TM_ERR_INVAL. */
int tm_model_check_family(const tm_model_t *a, const tm_model_t *b);

/* Index of a variable by name in vars[0..n), or -1. */
int tm_model_var_index(const tm_var_t *vars, uint32_t n, const char *name);

/* Map one actor's state from model `from` to model `to` (same family):
 * calls to->map_state when present, otherwise copies states by name and
 * fills states missing in `from` with to->init(params). Returns a
 * tm_step_status_t. */
int tm_model_map_state(const tm_model_t *to, const tm_model_t *from,
                       const double *from_state, const double *params,
                       double *to_state);

/* The parameter set an actor's parameters are (params@N): the value of
 * its parameter "paramset" (counted up by each calibration), 0 when the
 * model has none (defaults or values set by hand). */
uint64_t tm_model_paramset(const tm_model_t *m, const double *params);

/* Compare semantic versions "MAJOR.MINOR.PATCH": <0, 0, >0. A string that
 * does not parse sorts before every valid one. */
int tm_semver_cmp(const char *a, const char *b);

/* 0 if s is "N.N.N" with decimal components, else TM_ERR_INVAL. */
int tm_semver_valid(const char *s);

#endif
