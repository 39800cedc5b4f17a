/* tm_models_sum: the checksum of a built-in family@version - BLAKE2b-256
 * over the canonical encoding of its tiers' descriptors (docs/models.md,
 * "Checksums"), so that every node of every build agrees on it. */
#include "tm_models.h"

#include "tm_err.h" /* TM_ERR_INVAL */

#include <sodium.h> /* crypto_generichash_* */
#include <string.h> /* strlen, memcpy, strcmp */

#define S_NAME "twinmesh model v1"

static void s_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    crypto_generichash_update(st, b, sizeof b);
}

static void s_f64(crypto_generichash_state *st, double d)
{
    uint64_t v;
    uint8_t b[8];
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    crypto_generichash_update(st, b, sizeof b);
}

static void s_str(crypto_generichash_state *st, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    s_u32(st, (uint32_t)n);
    if (n > 0) {
        crypto_generichash_update(st, (const unsigned char *)s, n);
    }
}

/* count, then per variable: name, unit, default, min, max, flags. */
static void s_vars(crypto_generichash_state *st, const tm_var_t *v, uint32_t n)
{
    s_u32(st, n);
    for (uint32_t i = 0; i < n; i++) {
        s_str(st, v[i].name);
        s_str(st, v[i].unit);
        s_f64(st, v[i].def);
        s_f64(st, v[i].min);
        s_f64(st, v[i].max);
        s_u32(st, v[i].flags);
    }
}

int tm_models_builtin_sum(const tm_model_t *const *tiers, size_t n,
                          uint8_t sum[TM_MODELS_SUM_BYTES])
{
    if (tiers == NULL || sum == NULL || n == 0 || n > TM_FIDELITY_COUNT) {
        return TM_ERR_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (tiers[i] == NULL ||
            strcmp(tiers[i]->family, tiers[0]->family) != 0 ||
            strcmp(tiers[i]->version, tiers[0]->version) != 0) {
            return TM_ERR_INVAL;
        }
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, TM_MODELS_SUM_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)S_NAME,
                              strlen(S_NAME));
    for (unsigned f = 0; f < TM_FIDELITY_COUNT; f++) {
        for (size_t i = 0; i < n; i++) {
            const tm_model_t *m = tiers[i];
            if ((unsigned)m->fidelity != f) {
                continue;
            }
            s_str(&st, m->family);
            s_str(&st, m->version);
            s_u32(&st, f);
            s_vars(&st, m->states, m->n_states);
            s_vars(&st, m->inputs, m->n_inputs);
            s_vars(&st, m->outputs, m->n_outputs);
            s_vars(&st, m->params, m->n_params);
        }
    }
    crypto_generichash_final(&st, sum, TM_MODELS_SUM_BYTES);
    return 0;
}

void tm_models_sum_hex(const uint8_t sum[TM_MODELS_SUM_BYTES],
                       char hex[2 * TM_MODELS_SUM_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < TM_MODELS_SUM_BYTES; i++) {
        hex[2 * i] = digits[sum[i] >> 4];
        hex[2 * i + 1] = digits[sum[i] & 0xf];
    }
    hex[2 * TM_MODELS_SUM_BYTES] = '\0';
}
