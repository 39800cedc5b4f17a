/* tm_model: helpers of the model ABI (names, descriptor checks, state
 * mapping between tiers, semantic versions). */
#include "tm_model.h"

#include "tm_err.h" /* TM_ERR_* codes returned by the checks */

#include <math.h>   /* isnan, isfinite */
#include <stdint.h> /* uint64_t for version components */
#include <string.h> /* strcmp, strlen */

const char *tm_fidelity_name(tm_fidelity_t fidelity)
{
    switch (fidelity) {
    case TM_FIDELITY_HIGH:
        return "high";
    case TM_FIDELITY_MEDIUM:
        return "medium";
    case TM_FIDELITY_LOW:
        return "low";
    default:
        return "?";
    }
}

int tm_fidelity_parse(const char *name, tm_fidelity_t *out)
{
    static const struct {
        const char *name;
        tm_fidelity_t fidelity;
    } names[] = {
        {"high", TM_FIDELITY_HIGH},     {"h", TM_FIDELITY_HIGH},
        {"medium", TM_FIDELITY_MEDIUM}, {"m", TM_FIDELITY_MEDIUM},
        {"low", TM_FIDELITY_LOW},       {"l", TM_FIDELITY_LOW},
    };
    if (name == NULL || out == NULL) {
        return TM_ERR_UNKNOWN_FIDELITY;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].fidelity;
            return 0;
        }
    }
    return TM_ERR_UNKNOWN_FIDELITY;
}

const char *tm_step_status_name(int status)
{
    switch (status) {
    case TM_STEP_OK:
        return "ok";
    case TM_STEP_NONFINITE:
        return "non-finite";
    case TM_STEP_FAILED:
        return "failed";
    case TM_STEP_SOLVER_GAVE_UP:
        return "solver-gave-up";
    case TM_STEP_RESIDUAL:
        return "residual";
    case TM_STEP_SLOW:
        return "slow";
    default:
        return "?";
    }
}

/* ---- descriptor checks ------------------------------------------------ */

/* A name is 1..TM_MODEL_NAME_MAX-1 bytes of [A-Za-z0-9_], so that it is a
 * console token and a JSON key without quoting. */
static int s_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return 0;
    }
    size_t len = 0;
    for (const char *p = name; *p != '\0'; p++, len++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_';
        if (!ok || len + 1 >= TM_MODEL_NAME_MAX) {
            return 0;
        }
    }
    return 1;
}

/* One kind of variables (states, inputs, ...): names valid and unique, a
 * unit, an ordered range holding a finite default, known flags only. */
static int s_vars_check(const tm_var_t *vars, uint32_t n, uint32_t flags_ok)
{
    if (n > TM_MODEL_MAX_VARS || (n > 0 && vars == NULL)) {
        return TM_ERR_INVAL;
    }
    for (uint32_t i = 0; i < n; i++) {
        const tm_var_t *v = &vars[i];
        if (!s_name_valid(v->name) || v->unit == NULL || v->unit[0] == '\0') {
            return TM_ERR_INVAL;
        }
        if (isnan(v->min) || isnan(v->max) || !isfinite(v->def) ||
            v->min > v->max || v->def < v->min || v->def > v->max) {
            return TM_ERR_INVAL;
        }
        if ((v->flags & ~flags_ok) != 0) {
            return TM_ERR_INVAL;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(vars[j].name, v->name) == 0) {
                return TM_ERR_INVAL;
            }
        }
    }
    return 0;
}

int tm_model_check(const tm_model_t *model)
{
    if (model == NULL) {
        return TM_ERR_INVAL;
    }
    /* Read the two leading words before anything else: a plugin built
     * against another ABI may have a different layout after them. */
    if (model->abi_version != TM_MODEL_ABI_VERSION ||
        model->struct_size < sizeof(tm_model_t)) {
        return TM_ERR_MODEL_ABI;
    }
    if (!s_name_valid(model->family) || tm_semver_valid(model->version) != 0 ||
        (unsigned)model->fidelity >= (unsigned)TM_FIDELITY_COUNT) {
        return TM_ERR_INVAL;
    }
    if (model->init == NULL || model->output == NULL || model->step == NULL) {
        return TM_ERR_INVAL;
    }
    int rc = s_vars_check(model->states, model->n_states, 0);
    if (rc == 0) {
        rc = s_vars_check(model->inputs, model->n_inputs,
                          TM_VAR_SUMMING | TM_VAR_MEASURED);
    }
    const uint32_t both = TM_VAR_SUMMING | TM_VAR_MEASURED;
    for (uint32_t j = 0; rc == 0 && j < model->n_inputs; j++) {
        if ((model->inputs[j].flags & both) == both) {
            rc = TM_ERR_INVAL; /* measured inputs take no links */
        }
    }
    if (rc == 0) {
        rc = s_vars_check(model->outputs, model->n_outputs, 0);
    }
    if (rc == 0) {
        rc = s_vars_check(model->params, model->n_params, 0);
    }
    return rc;
}

/* Doubles equal as values, where NaN never occurs (checked above). */
static int s_var_same(const tm_var_t *a, const tm_var_t *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->unit, b->unit) == 0 &&
           a->def == b->def && a->min == b->min && a->max == b->max &&
           a->flags == b->flags;
}

static int s_vars_same(const tm_var_t *a, uint32_t na, const tm_var_t *b,
                       uint32_t nb)
{
    if (na != nb) {
        return 0;
    }
    for (uint32_t i = 0; i < na; i++) {
        if (!s_var_same(&a[i], &b[i])) {
            return 0;
        }
    }
    return 1;
}

int tm_model_check_family(const tm_model_t *a, const tm_model_t *b)
{
    if (tm_model_check(a) != 0 || tm_model_check(b) != 0) {
        return TM_ERR_INVAL;
    }
    if (strcmp(a->family, b->family) != 0) {
        return TM_ERR_INVAL;
    }
    /* Ranges and defaults count too: a calibration accepted by one tier
     * must be accepted by every other, and an unlinked input must read the
     * same value whatever the tier. */
    if (!s_vars_same(a->params, a->n_params, b->params, b->n_params) ||
        !s_vars_same(a->inputs, a->n_inputs, b->inputs, b->n_inputs) ||
        !s_vars_same(a->outputs, a->n_outputs, b->outputs, b->n_outputs)) {
        return TM_ERR_INVAL;
    }
    /* States copied by name (no map_state) must mean the same quantity. */
    for (uint32_t i = 0; i < a->n_states; i++) {
        int j = tm_model_var_index(b->states, b->n_states, a->states[i].name);
        if (j >= 0 && strcmp(a->states[i].unit, b->states[j].unit) != 0) {
            return TM_ERR_INVAL;
        }
    }
    return 0;
}

int tm_model_var_index(const tm_var_t *vars, uint32_t n, const char *name)
{
    if (vars == NULL || name == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < n && i < TM_MODEL_MAX_VARS; i++) {
        if (vars[i].name != NULL && strcmp(vars[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int tm_model_map_state(const tm_model_t *to, const tm_model_t *from,
                       const double *from_state, const double *params,
                       double *to_state)
{
    if (to == NULL || from == NULL || to->family == NULL ||
        from->family == NULL || strcmp(to->family, from->family) != 0 ||
        (from->n_states > 0 && from_state == NULL) ||
        (to->n_states > 0 && to_state == NULL) || to->init == NULL) {
        return TM_STEP_FAILED;
    }
    if (to->map_state != NULL) {
        return to->map_state(from, from_state, params, to_state);
    }
    if (to->n_states > TM_MODEL_MAX_VARS) {
        return TM_STEP_FAILED;
    }
    /* from_state and to_state may alias when the layouts are equal: read
     * everything before writing. */
    double copy[TM_MODEL_MAX_VARS];
    int src[TM_MODEL_MAX_VARS];
    int missing = 0;
    for (uint32_t i = 0; i < to->n_states; i++) {
        src[i] = tm_model_var_index(from->states, from->n_states,
                                    to->states[i].name);
        copy[i] = src[i] >= 0 ? from_state[src[i]] : 0.0;
        missing |= src[i] < 0;
    }
    if (missing) {
        int rc = to->init(params, to_state);
        if (rc != TM_STEP_OK) {
            return rc;
        }
    }
    for (uint32_t i = 0; i < to->n_states; i++) {
        if (src[i] >= 0) {
            to_state[i] = copy[i];
        }
    }
    return TM_STEP_OK;
}

/* ---- semantic versions ------------------------------------------------ */

/* Parse "N.N.N" (no sign, no leading zeros, each part < 2^64). */
static int s_semver_parse(const char *s, uint64_t part[3])
{
    if (s == NULL) {
        return TM_ERR_INVAL;
    }
    const char *p = s;
    for (int k = 0; k < 3; k++) {
        if (*p < '0' || *p > '9') {
            return TM_ERR_INVAL;
        }
        if (*p == '0' && p[1] >= '0' && p[1] <= '9') {
            return TM_ERR_INVAL;
        }
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            uint64_t d = (uint64_t)(*p - '0');
            if (v > (UINT64_MAX - d) / 10u) {
                return TM_ERR_INVAL;
            }
            v = v * 10u + d;
            p++;
        }
        part[k] = v;
        if (k < 2) {
            if (*p != '.') {
                return TM_ERR_INVAL;
            }
            p++;
        }
    }
    return *p == '\0' ? 0 : TM_ERR_INVAL;
}

int tm_semver_valid(const char *s)
{
    uint64_t part[3];
    return s_semver_parse(s, part);
}

int tm_semver_cmp(const char *a, const char *b)
{
    uint64_t pa[3], pb[3];
    int va = s_semver_parse(a, pa) == 0;
    int vb = s_semver_parse(b, pb) == 0;
    if (va && vb) {
        for (int k = 0; k < 3; k++) {
            if (pa[k] != pb[k]) {
                return pa[k] < pb[k] ? -1 : 1;
            }
        }
        return 0;
    }
    if (va != vb) {
        return va ? 1 : -1;
    }
    /* Both invalid: a total order all the same (NULL first), so that
     * sorting a list with bad entries is deterministic. */
    if (a == NULL || b == NULL) {
        return (a != NULL) - (b != NULL);
    }
    int c = strcmp(a, b);
    return (c > 0) - (c < 0);
}

uint64_t tm_model_paramset(const tm_model_t *m, const double *params)
{
    int i = tm_model_var_index(m->params, m->n_params, "paramset");
    return i >= 0 && params[i] >= 0 ? (uint64_t)params[i] : 0;
}
