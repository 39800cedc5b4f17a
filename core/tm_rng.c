/* tm_rng: a splitmix64-style mix of (seed, key, tick, counter, domain). */
#include "tm_rng.h"

#include <math.h> /* sqrt, log, cos */

#define S_GOLDEN 0x9e3779b97f4a7c15u
#define S_TWO_PI 6.283185307179586476925286766559

/* The splitmix64 finaliser: a bijection of 64-bit words with full
 * avalanche. */
static uint64_t s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Each word enters through "xor an odd multiple, then mix": for fixed
 * other words the map from any single word to the result is a bijection,
 * so neighbouring counters, ticks or keys never collide. The domain
 * separates the sub-streams of tm_rng_normal from tm_rng_u64. */
static uint64_t s_hash(uint64_t seed, uint64_t key, uint64_t tick,
                       uint64_t counter, uint64_t domain)
{
    uint64_t h = s_mix(seed + S_GOLDEN);
    h = s_mix(h ^ (key * 0xd1b54a32d192ed03u));
    h = s_mix(h ^ (tick * 0xaef17502108ef2d9u));
    h = s_mix(h ^ (domain * 0xf1357aea2e62a9c5u));
    h = s_mix(h ^ (counter * S_GOLDEN));
    return s_mix(h + S_GOLDEN);
}

/* 53 high bits scaled into [0, 1). */
static double s_unit(uint64_t bits)
{
    return (double)(bits >> 11) * 0x1.0p-53;
}

uint64_t tm_rng_u64(uint64_t seed, uint64_t key, uint64_t tick,
                    uint64_t counter)
{
    return s_hash(seed, key, tick, counter, 0);
}

double tm_rng_uniform(uint64_t seed, uint64_t key, uint64_t tick,
                      uint64_t counter)
{
    return s_unit(s_hash(seed, key, tick, counter, 0));
}

double tm_rng_normal(uint64_t seed, uint64_t key, uint64_t tick,
                     uint64_t counter)
{
    /* u1 in (0, 1] keeps log() finite; u2 in [0, 1). */
    double u1 = s_unit(s_hash(seed, key, tick, counter, 1)) + 0x1.0p-53;
    double u2 = s_unit(s_hash(seed, key, tick, counter, 2));
    return sqrt(-2.0 * log(u1)) * cos(S_TWO_PI * u2);
}

void tm_rng_init(tm_rng_t *rng, uint64_t seed, uint64_t key, uint64_t tick)
{
    rng->seed = seed;
    rng->key = key;
    rng->tick = tick;
    rng->counter = 0;
}

uint64_t tm_rng_next_u64(tm_rng_t *rng)
{
    return tm_rng_u64(rng->seed, rng->key, rng->tick, rng->counter++);
}

double tm_rng_next_uniform(tm_rng_t *rng)
{
    return tm_rng_uniform(rng->seed, rng->key, rng->tick, rng->counter++);
}

double tm_rng_next_normal(tm_rng_t *rng)
{
    return tm_rng_normal(rng->seed, rng->key, rng->tick, rng->counter++);
}
