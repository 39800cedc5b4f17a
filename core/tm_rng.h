/* tm_rng: counter-based random numbers for models that need noise.
 *
 * A value is a pure function of (seed, key, tick, counter): no hidden
 * state, so a step that draws noise stays deterministic whatever the
 * worker count, placement or step order. Models key it with ctx->seed,
 * ctx->keys[i] and ctx->tick, and number their draws within one step with
 * the counter (0, 1, 2, ...).
 *
 * For fixed (seed, key, tick), distinct counters give distinct u64 values
 * (the mix is a bijection of the counter). Not for cryptography.
 */
#ifndef TM_RNG_H_INCLUDED
#define TM_RNG_H_INCLUDED

#include <stdint.h>

/* 64 random bits. */
uint64_t tm_rng_u64(uint64_t seed, uint64_t key, uint64_t tick,
                    uint64_t counter);

/* Uniform double in [0, 1) with 53 random bits; same bits as tm_rng_u64. */
double tm_rng_uniform(uint64_t seed, uint64_t key, uint64_t tick,
                      uint64_t counter);

/* Standard normal N(0, 1) (Box-Muller, cosine branch). Draws from its own
 * sub-streams, so it is independent of tm_rng_u64 at the same counter.
 * |value| < 8.58 (the smallest uniform used is 2^-53). */
double tm_rng_normal(uint64_t seed, uint64_t key, uint64_t tick,
                     uint64_t counter);

/* Convenience stream over the same functions: each call uses the current
 * counter and increments it. A plain value; copy it freely. */
typedef struct {
    uint64_t seed;
    uint64_t key;
    uint64_t tick;
    uint64_t counter;
} tm_rng_t;

/* Stream at counter 0. */
void tm_rng_init(tm_rng_t *rng, uint64_t seed, uint64_t key, uint64_t tick);
uint64_t tm_rng_next_u64(tm_rng_t *rng);
double tm_rng_next_uniform(tm_rng_t *rng);
double tm_rng_next_normal(tm_rng_t *rng);

#endif
