/* tm_models: the catalog - built-in models and those plugins added,
 * lookup by family, version and tier, and the entries of each
 * family@version with origin and checksum. */
#include "tm_models.h"

#include "tm_err.h"        /* TM_ERR_* */
#include "tm_models_int.h" /* the descriptors */
#include "tm_plugin.h"     /* TM_PLUGIN_MODELS_MAX */

#include <stdarg.h> /* va_list */
#include <stdio.h>  /* snprintf */
#include <string.h> /* strchr, strcmp, memcpy */

#define S_BUILTINS 18u

/* Built-ins first; plugins' models are appended (never removed). */
static const tm_model_t *s_all[TM_MODELS_MAX] = {
    &tmi_oscillator_high, &tmi_oscillator_medium, &tmi_oscillator_low,
    &tmi_spring_high,     &tmi_spring_low,        &tmi_pump_high,
    &tmi_pump_medium,     &tmi_pump_low,          &tmi_tank_high,
    &tmi_tank_low,        &tmi_pipe_high,         &tmi_pipe_low,
    &tmi_valve_high,      &tmi_valve_low,         &tmi_thermal_high,
    &tmi_thermal_low,     &tmi_pumpmon_high,      &tmi_pumpmon_low,
};
static size_t s_n = S_BUILTINS;

static tm_models_entry_t s_entries[TM_MODELS_MAX];
static size_t s_n_entries;
static int s_builtins_done;

const tm_model_t *const *tm_models_all(size_t *count)
{
    if (count != NULL) {
        *count = s_n;
    }
    return (const tm_model_t *const *)s_all;
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
    return tmi_models_find_in((const tm_model_t *const *)s_all, s_n, family,
                              version, fidelity, out);
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

/* ---- entries ------------------------------------------------------------ */

static int s_why(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_why(char *why, size_t cap, int rc, const char *fmt, ...)
{
    if (why != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static tm_models_entry_t *s_entry_find(const char *family, const char *version)
{
    for (size_t i = 0; i < s_n_entries; i++) {
        tm_models_entry_t *e = &s_entries[i];
        if (strcmp(e->family, family) == 0 &&
            strcmp(e->version, version) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The entry of m's family@version, made (origin and sum left to the
 * caller) when missing; its tier added. */
static tm_models_entry_t *s_entry_of(const tm_model_t *m, int *made)
{
    tm_models_entry_t *e = s_entry_find(m->family, m->version);
    *made = e == NULL;
    if (e == NULL) {
        e = &s_entries[s_n_entries++];
        memset(e, 0, sizeof *e);
        e->family = m->family;
        e->version = m->version;
    }
    e->tiers |= 1u << (unsigned)m->fidelity;
    return e;
}

/* Entries of the built-ins, with their checksums (once). */
static void s_builtins(void)
{
    if (s_builtins_done) {
        return;
    }
    s_builtins_done = 1;
    for (size_t i = 0; i < S_BUILTINS; i++) {
        int made = 0;
        tm_models_entry_t *e = s_entry_of(s_all[i], &made);
        e->builtin = 1;
        snprintf(e->origin, sizeof e->origin, "%s", TM_MODELS_BUILTIN);
    }
    for (size_t k = 0; k < s_n_entries; k++) {
        const tm_model_t *tiers[TM_FIDELITY_COUNT];
        size_t n = 0;
        for (size_t i = 0; i < S_BUILTINS && n < TM_FIDELITY_COUNT; i++) {
            if (strcmp(s_all[i]->family, s_entries[k].family) == 0 &&
                strcmp(s_all[i]->version, s_entries[k].version) == 0) {
                tiers[n++] = s_all[i];
            }
        }
        (void)tm_models_builtin_sum(tiers, n, s_entries[k].sum);
    }
}

const tm_models_entry_t *tm_models_entries(size_t *count)
{
    s_builtins();
    if (count != NULL) {
        *count = s_n_entries;
    }
    return s_entries;
}

const tm_models_entry_t *tm_models_entry(const char *family,
                                         const char *version)
{
    if (family == NULL || version == NULL) {
        return NULL;
    }
    s_builtins();
    return s_entry_find(family, version);
}

/* ---- adding a plugin's models ------------------------------------------- */

/* One model of a plugin on its own: descriptor, version, and not a
 * version the catalog has. */
static int s_check_one(const tm_model_t *m, size_t i, char *why, size_t cap)
{
    if (m == NULL) {
        return s_why(why, cap, TM_ERR_INVAL, "model %zu is NULL", i);
    }
    if (m->abi_version != TM_MODEL_ABI_VERSION ||
        m->struct_size < sizeof(tm_model_t)) {
        return s_why(why, cap, TM_ERR_MODEL_ABI,
                     "model %zu has model ABI version %u (struct size %u); "
                     "this node needs version %u (struct size %zu)",
                     i, m->abi_version, m->struct_size, TM_MODEL_ABI_VERSION,
                     sizeof(tm_model_t));
    }
    int rc = tm_model_check(m);
    if (rc != 0) {
        return s_why(why, cap, rc,
                     "model %zu (%.32s@%.32s, %s) is not a valid descriptor: "
                     "bad names, units, counts, ranges or missing functions",
                     i, m->family != NULL ? m->family : "?",
                     m->version != NULL ? m->version : "?",
                     tm_fidelity_name(m->fidelity));
    }
    if (tm_semver_valid(m->version) != 0 ||
        strlen(m->version) >= TM_MODEL_NAME_MAX) {
        return s_why(why, cap, TM_ERR_INVAL,
                     "%s@%.32s: the version is not MAJOR.MINOR.PATCH",
                     m->family, m->version);
    }
    const tm_models_entry_t *e = s_entry_find(m->family, m->version);
    if (e != NULL) {
        char hex[2 * TM_MODELS_SUM_BYTES + 1];
        tm_models_sum_hex(e->sum, hex);
        return s_why(why, cap, TM_ERR_EXISTS,
                     "%s@%s is already in the catalog (%s, checksum %.16s); "
                     "a version is loaded once: give the new one another "
                     "version",
                     m->family, m->version, e->origin, hex);
    }
    return 0;
}

/* Model i against the models before it: another tier of the same
 * family@version must differ in tier and match in ports. */
static int s_check_pair(const tm_model_t *a, const tm_model_t *b, char *why,
                        size_t cap)
{
    if (strcmp(a->family, b->family) != 0 ||
        strcmp(a->version, b->version) != 0) {
        return 0;
    }
    if (a->fidelity == b->fidelity) {
        return s_why(why, cap, TM_ERR_INVAL, "%s@%s has two %s tiers",
                     a->family, a->version, tm_fidelity_name(a->fidelity));
    }
    if (tm_model_check_family(a, b) != 0) {
        return s_why(why, cap, TM_ERR_INVAL,
                     "%s@%s: tiers %s and %s have different ports (every "
                     "tier must have the same parameters, inputs and "
                     "outputs, in the same order and units)",
                     a->family, a->version, tm_fidelity_name(b->fidelity),
                     tm_fidelity_name(a->fidelity));
    }
    return 0;
}

int tm_models_check_set(const tm_model_t *const *models, size_t n, char *why,
                        size_t cap)
{
    s_builtins();
    if (models == NULL || n == 0 || n > TM_PLUGIN_MODELS_MAX) {
        return s_why(why, cap, TM_ERR_INVAL,
                     "a plugin provides 1 to %u models, this one %zu",
                     TM_PLUGIN_MODELS_MAX, models == NULL ? (size_t)0 : n);
    }
    if (n > TM_MODELS_MAX - s_n || n > TM_MODELS_MAX - s_n_entries) {
        return s_why(why, cap, TM_ERR_TOO_BIG,
                     "the catalog is full (%u models at most)", TM_MODELS_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        int rc = s_check_one(models[i], i, why, cap);
        for (size_t j = 0; j < i && rc == 0; j++) {
            rc = s_check_pair(models[i], models[j], why, cap);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int tm_models_add(const tm_model_t *const *models, size_t n, const char *origin,
                  const uint8_t sum[TM_MODELS_SUM_BYTES], char *why, size_t cap)
{
    int rc = tm_models_check_set(models, n, why, cap);
    if (rc != 0) {
        return rc;
    }
    if (origin == NULL || sum == NULL) {
        return s_why(why, cap, TM_ERR_INVAL, "no origin or checksum");
    }
    for (size_t i = 0; i < n; i++) {
        int made = 0;
        tm_models_entry_t *e = s_entry_of(models[i], &made);
        if (made) {
            snprintf(e->origin, sizeof e->origin, "%s", origin);
            memcpy(e->sum, sum, TM_MODELS_SUM_BYTES);
        }
        s_all[s_n++] = models[i];
    }
    return 0;
}

const tm_model_t *tm_models_tier(const tm_model_t *m, tm_fidelity_t tier)
{
    const tm_model_t *out = NULL;
    return tm_models_find(m->family, m->version, tier, &out) == 0 ? out : NULL;
}
