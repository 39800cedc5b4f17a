/* models_fixture: helpers shared by the model tests (one actor at a time:
 * defaults, init, stepping, energy). Header-only, static functions. */
#ifndef TM_MODELS_FIXTURE_H_INCLUDED
#define TM_MODELS_FIXTURE_H_INCLUDED

#include "tm_model.h"
#include "tm_models.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* One actor of one model with its own arrays. */
typedef struct {
    const tm_model_t *m;
    double state[TM_MODEL_MAX_VARS];
    double params[TM_MODEL_MAX_VARS];
    double inputs[TM_MODEL_MAX_VARS];
    double outputs[TM_MODEL_MAX_VARS];
    uint64_t tick;
} fx_actor_t;

/* The model family@1.0.0 at a tier (asserting in the caller is simpler
 * with a NULL on failure). */
static inline const tm_model_t *fx_model(const char *family,
                                         tm_fidelity_t fidelity)
{
    const tm_model_t *m = NULL;
    if (tm_models_find(family, NULL, fidelity, &m) != 0) {
        return NULL;
    }
    return m;
}

static inline int fx_param(const tm_model_t *m, const char *name)
{
    return tm_model_var_index(m->params, m->n_params, name);
}

static inline int fx_input(const tm_model_t *m, const char *name)
{
    return tm_model_var_index(m->inputs, m->n_inputs, name);
}

static inline int fx_output(const tm_model_t *m, const char *name)
{
    return tm_model_var_index(m->outputs, m->n_outputs, name);
}

static inline int fx_state(const tm_model_t *m, const char *name)
{
    return tm_model_var_index(m->states, m->n_states, name);
}

/* Defaults for params and inputs; no init yet. */
static inline void fx_defaults(fx_actor_t *a, const tm_model_t *m)
{
    memset(a, 0, sizeof *a);
    a->m = m;
    for (uint32_t j = 0; j < m->n_params; j++) {
        a->params[j] = m->params[j].def;
    }
    for (uint32_t j = 0; j < m->n_inputs; j++) {
        a->inputs[j] = m->inputs[j].def;
    }
}

/* init + output; returns init's status. */
static inline int fx_init(fx_actor_t *a)
{
    int rc = a->m->init(a->params, a->state);
    a->m->output(1, a->state, a->params, a->inputs, a->outputs);
    return rc;
}

/* One step of length h; returns the actor's status. */
static inline int fx_step(fx_actor_t *a, double h)
{
    uint64_t key = 42;
    tm_step_ctx_t ctx = {h, a->tick++, 7, &key};
    uint8_t status = 0xff;
    a->m->step(&ctx, 1, a->state, a->params, a->inputs, a->outputs, &status);
    return status;
}

/* max |a - b| / max(|a|, |b|, floor) */
static inline double fx_relerr(double a, double b, double floor)
{
    double s = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    s = s > floor ? s : floor;
    return fabs(a - b) / s;
}

#endif
