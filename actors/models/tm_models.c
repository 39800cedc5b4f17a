/* tm_models: the catalog of built-in models (every family, version and
 * tier) and lookup by family, version and tier. */
#include "tm_models.h"

#include "tm_err.h"        /* TM_ERR_* */
#include "tm_models_int.h" /* the descriptors */

#include <string.h> /* strchr, strcmp, memcpy */

static const tm_model_t *const s_catalog[] = {
    &tmi_oscillator_high, &tmi_oscillator_medium, &tmi_oscillator_low,
    &tmi_spring_high,     &tmi_spring_low,        &tmi_pump_high,
    &tmi_pump_medium,     &tmi_pump_low,          &tmi_tank_high,
    &tmi_tank_low,        &tmi_pipe_high,         &tmi_pipe_low,
    &tmi_valve_high,      &tmi_valve_low,         &tmi_thermal_high,
    &tmi_thermal_low,     &tmi_pumpmon_high,      &tmi_pumpmon_low,
};

const tm_model_t *const *tm_models_all(size_t *count)
{
    if (count != NULL) {
        *count = sizeof s_catalog / sizeof s_catalog[0];
    }
    return s_catalog;
}

int tmi_models_find_in(const tm_model_t *const *list, size_t count,
                       const char *family, const char *version,
                       tm_fidelity_t fidelity, const tm_model_t **out)
{
    if (list == NULL || family == NULL || out == NULL) {
        return TM_ERR_INVAL;
    }
    int any_version = version == NULL || version[0] == '\0';
    int family_seen = 0, version_seen = 0;
    const tm_model_t *best = NULL;
    for (size_t i = 0; i < count; i++) {
        const tm_model_t *m = list[i];
        if (m == NULL || m->family == NULL || strcmp(m->family, family) != 0) {
            continue;
        }
        family_seen = 1;
        if (!any_version && strcmp(m->version, version) != 0) {
            continue;
        }
        version_seen = 1;
        if (m->fidelity != fidelity) {
            continue;
        }
        if (best == NULL || tm_semver_cmp(m->version, best->version) > 0) {
            best = m;
        }
    }
    if (!family_seen) {
        return TM_ERR_UNKNOWN_MODEL;
    }
    if (!version_seen) {
        return TM_ERR_UNKNOWN_VERSION;
    }
    if (best == NULL) {
        return TM_ERR_UNKNOWN_FIDELITY;
    }
    *out = best;
    return 0;
}

int tm_models_find(const char *family, const char *version,
                   tm_fidelity_t fidelity, const tm_model_t **out)
{
    return tmi_models_find_in(s_catalog, sizeof s_catalog / sizeof s_catalog[0],
                              family, version, fidelity, out);
}

int tm_models_find_spec(const char *spec, tm_fidelity_t fidelity,
                        const tm_model_t **out)
{
    if (spec == NULL || out == NULL) {
        return TM_ERR_INVAL;
    }
    const char *at = strchr(spec, '@');
    if (at == NULL) {
        return tm_models_find(spec, NULL, fidelity, out);
    }
    size_t len = (size_t)(at - spec);
    if (len == 0 || len >= TM_MODEL_NAME_MAX) {
        return TM_ERR_UNKNOWN_MODEL;
    }
    if (at[1] == '\0') {
        return TM_ERR_UNKNOWN_VERSION; /* "family@" names no version */
    }
    char family[TM_MODEL_NAME_MAX];
    memcpy(family, spec, len);
    family[len] = '\0';
    return tm_models_find(family, at + 1, fidelity, out);
}

const tm_model_t *tm_models_tier(const tm_model_t *m, tm_fidelity_t tier)
{
    const tm_model_t *out = NULL;
    return tm_models_find(m->family, m->version, tier, &out) == 0 ? out : NULL;
}
