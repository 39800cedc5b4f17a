/* tm_models: the catalog of built-in model families (actors/models/).
 *
 * Families: oscillator, spring, pump, tank, pipe, valve, thermal, pumpmon;
 * each with at least two fidelity tiers that share parameters, inputs and
 * outputs.
 * Equations and units are in docs/models.md.
 */
#ifndef TM_MODELS_H_INCLUDED
#define TM_MODELS_H_INCLUDED

#include "tm_model.h"

#include <stddef.h>

/* All built-in models, every family, version and tier. *count receives the
 * number of entries. The array and the models are static. */
const tm_model_t *const *tm_models_all(size_t *count);

/* Find family@version at a tier. version NULL or "" means the highest
 * version of the family that has this tier. Errors: TM_ERR_UNKNOWN_MODEL
 * (no such family), TM_ERR_UNKNOWN_VERSION, TM_ERR_UNKNOWN_FIDELITY. */
int tm_models_find(const char *family, const char *version,
                   tm_fidelity_t fidelity, const tm_model_t **out);

/* The model of m's family@version at `tier`, NULL when the catalog has
 * none (the supervisor's tier lookup). */
const tm_model_t *tm_models_tier(const tm_model_t *m, tm_fidelity_t tier);

/* Parse "family" or "family@version" into tm_models_find. */
int tm_models_find_spec(const char *spec, tm_fidelity_t fidelity,
                        const tm_model_t **out);

#endif
