/* tm_models: the model catalog - the built-in families (actors/models/)
 * and the versions plugins added (core/tm_plugin.h, nodes/tm_plugins).
 *
 * Built-in families: oscillator, spring, pump, tank, pipe, valve, thermal,
 * pumpmon; each with at least two fidelity tiers that share parameters,
 * inputs and outputs. Equations and units are in docs/models.md.
 *
 * The catalog is keyed by family@version; each version has a BLAKE2b-256
 * checksum: for a plugin, of its file's bytes; for a built-in, of the
 * canonical encoding of its descriptors (tm_models_builtin_sum). Models
 * are added (tm_models_add), never removed: runtimes, plans and the
 * catalog keep pointers to them.
 *
 * Threading: tm_models_add and the first tm_models_entries (which computes
 * the built-ins' checksums) on one thread (the node's control thread); the
 * lookups may run anywhere no add runs concurrently.
 */
#ifndef TM_MODELS_H_INCLUDED
#define TM_MODELS_H_INCLUDED

#include "tm_model.h"

#include <stddef.h>
#include <stdint.h>

/* Every model of the catalog (built-ins first, then plugins' in the order
 * they were added), every family, version and tier. *count receives the
 * number of entries. The array is static and only grows. */
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

/* ---- versions, origins and checksums -------------------------------- */

#define TM_MODELS_MAX        256u /* models (tiers) in the catalog */
#define TM_MODELS_SUM_BYTES  32u  /* BLAKE2b-256 */
#define TM_MODELS_ORIGIN_MAX 128u /* bytes of an origin, with NUL */
#define TM_MODELS_BUILTIN    "built-in"

/* One family@version of the catalog. */
typedef struct {
    const char *family; /* the models' strings */
    const char *version;
    unsigned tiers;                    /* bit (1u << tm_fidelity_t) per tier */
    int builtin;                       /* 1: built in; 0: from a plugin */
    char origin[TM_MODELS_ORIGIN_MAX]; /* TM_MODELS_BUILTIN or file name */
    uint8_t sum[TM_MODELS_SUM_BYTES];
} tm_models_entry_t;

/* Every family@version, built-ins first (sorted by family), then plugins'
 * in the order they were added. *count receives the number. */
const tm_models_entry_t *tm_models_entries(size_t *count);

/* The entry of family@version, or NULL. */
const tm_models_entry_t *tm_models_entry(const char *family,
                                         const char *version);

/* The checksum of a built-in version: BLAKE2b-256 of "twinmesh model v1",
 * then for each tier in ascending tm_fidelity_t order the canonical
 * encoding of its descriptor (docs/models.md, "Checksums"). tiers holds n
 * models of one family@version. Errors: TM_ERR_INVAL. */
int tm_models_builtin_sum(const tm_model_t *const *tiers, size_t n,
                          uint8_t sum[TM_MODELS_SUM_BYTES]);

/* Lower-case hex of a checksum into hex (2 * TM_MODELS_SUM_BYTES + 1). */
void tm_models_sum_hex(const uint8_t sum[TM_MODELS_SUM_BYTES],
                       char hex[2 * TM_MODELS_SUM_BYTES + 1]);

/* Check that n models can join the catalog as one plugin, changing
 * nothing: 1 <= n <= TM_PLUGIN_MODELS_MAX; each passes tm_model_check and
 * has a semantic version; the tiers of one family@version are distinct
 * and pass tm_model_check_family pairwise; no family@version is in the
 * catalog; the catalog has room. Errors, with one line in why (cap
 * bytes): TM_ERR_MODEL_ABI (a model's abi_version or struct_size),
 * TM_ERR_INVAL (a descriptor, tiers that differ, a duplicate tier),
 * TM_ERR_EXISTS (family@version in the catalog), TM_ERR_TOO_BIG. */
int tm_models_check_set(const tm_model_t *const *models, size_t n, char *why,
                        size_t cap);

/* tm_models_check_set, then add the models under origin (a plugin's file
 * name) with the plugin's checksum sum: every family@version they hold
 * becomes an entry. All or nothing. Errors: those of the check. */
int tm_models_add(const tm_model_t *const *models, size_t n, const char *origin,
                  const uint8_t sum[TM_MODELS_SUM_BYTES], char *why,
                  size_t cap);

#endif
