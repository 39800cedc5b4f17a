/* tm_plugin: the ABI of a model plugin - a shared object that adds model
 * families (or versions of them) to a running node's catalog.
 *
 * A plugin includes only core headers (tm_model.h, this file) and exports
 * one function, named by TM_PLUGIN_SYMBOL:
 *
 *   const tm_plugin_t *tm_plugin_v1(void);
 *
 * It returns a static descriptor listing every tier of every family@version
 * the plugin provides. The node checks, before anything changes:
 *   - the symbol exists, abi_version == TM_PLUGIN_ABI_VERSION and
 *     struct_size >= sizeof(tm_plugin_t);
 *   - 1 <= count <= TM_PLUGIN_MODELS_MAX, every model passes
 *     tm_model_check (its own abi_version and struct_size included);
 *   - the tiers of one family@version are distinct and pass
 *     tm_model_check_family pairwise (same parameters, inputs, outputs);
 *   - no family@version is in the catalog already.
 * The plugin is never unloaded once accepted: actors, plans and the
 * catalog keep pointers to its descriptors. Everything a model does must
 * be pure (tm_model.h); the plugin's constructors, if any, run when it is
 * opened, before the checks, so a plugin is code the operator trusts.
 * docs/models.md ("Plugins") says how to build one.
 */
#ifndef TM_PLUGIN_H_INCLUDED
#define TM_PLUGIN_H_INCLUDED

#include "tm_model.h"

#include <stdint.h>

/* The plugin descriptor's version: bumped with any change of tm_plugin_t
 * or of tm_model_t (the same number as TM_MODEL_ABI_VERSION). */
#define TM_PLUGIN_ABI_VERSION TM_MODEL_ABI_VERSION
#define TM_PLUGIN_SYMBOL      "tm_plugin_v1"
#define TM_PLUGIN_MODELS_MAX  64u

typedef struct {
    uint32_t abi_version;            /* TM_PLUGIN_ABI_VERSION */
    uint32_t struct_size;            /* sizeof(tm_plugin_t) of the builder */
    const char *name;                /* one line: what the plugin provides */
    uint32_t count;                  /* entries of models */
    const tm_model_t *const *models; /* every tier of every version */
} tm_plugin_t;

typedef const tm_plugin_t *(*tm_plugin_fn)(void);

#endif
