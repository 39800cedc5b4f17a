/* rng_test: the counter-based RNG of core/tm_rng.c: determinism, stream
 * independence, distribution moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values of this build's first draws; a change here changes every noisy
 * model's trajectory and every mesh digest, so it must be deliberate. */
static const uint64_t s_golden_u64[4] = {
    0x9a1d9c4ede2888f5u,
    0x22a49a4cc4777579u,
    0x9ee28b95682f6176u,
    0x91d10a5eb9f30f58u,
};

static void test_golden(void **state)
{
    (void)state;
    for (uint64_t c = 0; c < 4; c++) {
        assert_true(tm_rng_u64(1, 2, 3, c) == s_golden_u64[c]);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    for (uint64_t c = 0; c < 100; c++) {
        assert_true(tm_rng_u64(7, 11, 13, c) == tm_rng_u64(7, 11, 13, c));
        double a = tm_rng_normal(7, 11, 13, c), b = tm_rng_normal(7, 11, 13, c);
        assert_memory_equal(&a, &b, sizeof a);
    }
}

static void test_words_matter(void **state)
{
    (void)state;
    const uint64_t base = tm_rng_u64(1, 2, 3, 4);
    assert_true(tm_rng_u64(0, 2, 3, 4) != base);
    assert_true(tm_rng_u64(1, 0, 3, 4) != base);
    assert_true(tm_rng_u64(1, 2, 0, 4) != base);
    assert_true(tm_rng_u64(1, 2, 3, 0) != base);
    /* Swapped words do not give the same value. */
    assert_true(tm_rng_u64(2, 1, 3, 4) != base);
    assert_true(tm_rng_u64(1, 3, 2, 4) != base);
    assert_true(tm_rng_u64(1, 2, 4, 3) != base);
    assert_true(tm_rng_u64(0, 0, 0, 0) != 0);
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The counter enters through a bijection: no collisions, and the bits are
 * balanced. */
static void test_counters_unique_and_balanced(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint32_t ones[64] = {0};
    for (uint64_t c = 0; c < N; c++) {
        v[c] = tm_rng_u64(99, 5, 123456, c);
        for (int b = 0; b < 64; b++) {
            ones[b] += (uint32_t)((v[c] >> b) & 1u);
        }
    }
    for (int b = 0; b < 64; b++) {
        /* 5 sigma of a fair coin over N draws is about 790. */
        assert_in_range(ones[b], N / 2 - 800, N / 2 + 800);
    }
    qsort(v, N, sizeof *v, s_cmp_u64);
    for (size_t i = 1; i < N; i++) {
        assert_true(v[i] != v[i - 1]);
    }
    free(v);
}

static void test_uniform(void **state)
{
    (void)state;
    enum { N = 200000 };
    double sum = 0.0, sum2 = 0.0;
    uint32_t bins[10] = {0};
    for (uint64_t c = 0; c < N; c++) {
        double u = tm_rng_uniform(3, 1, 4, c);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
        bins[(int)(u * 10.0)]++;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    assert_true(fabs(mean - 0.5) < 0.005);
    assert_true(fabs(var - 1.0 / 12.0) < 0.002);
    for (int b = 0; b < 10; b++) {
        assert_in_range(bins[b], N / 10 - 700, N / 10 + 700);
    }
    /* Same bits as tm_rng_u64. */
    assert_true(tm_rng_uniform(3, 1, 4, 9) ==
                (double)(tm_rng_u64(3, 1, 4, 9) >> 11) * 0x1.0p-53);
}

static void test_normal(void **state)
{
    (void)state;
    enum { N = 200000 };
    double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
    uint32_t beyond2 = 0;
    for (uint64_t c = 0; c < N; c++) {
        double z = tm_rng_normal(2, 7, 1, c);
        assert_true(isfinite(z) && fabs(z) < 8.6);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
        beyond2 += fabs(z) > 2.0;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    assert_true(fabs(mean) < 0.012); /* 5 sigma: 5 / sqrt(N) */
    assert_true(fabs(var - 1.0) < 0.02);
    assert_true(fabs(sum4 / N - 3.0) < 0.1); /* kurtosis of a normal */
    /* P(|z| > 2) = 0.0455 */
    assert_in_range(beyond2, (uint32_t)(0.0425 * N), (uint32_t)(0.0485 * N));
}

/* tm_rng_normal draws from other sub-streams than tm_rng_uniform. */
static void test_normal_independent_of_uniform(void **state)
{
    (void)state;
    enum { N = 100000 };
    double sxy = 0.0;
    for (uint64_t c = 0; c < N; c++) {
        sxy += (tm_rng_uniform(5, 5, 5, c) - 0.5) * tm_rng_normal(5, 5, 5, c);
    }
    /* correlation of U(-1/2, 1/2) and N(0,1): sd of the mean 0.29/sqrt(N) */
    assert_true(fabs(sxy / N) < 0.005);
}

static void test_stream(void **state)
{
    (void)state;
    tm_rng_t r;
    tm_rng_init(&r, 10, 20, 30);
    assert_true(r.counter == 0);
    assert_true(tm_rng_next_u64(&r) == tm_rng_u64(10, 20, 30, 0));
    double u = tm_rng_next_uniform(&r);
    assert_true(u == tm_rng_uniform(10, 20, 30, 1));
    double z = tm_rng_next_normal(&r);
    assert_true(z == tm_rng_normal(10, 20, 30, 2));
    assert_true(r.counter == 3);
    tm_rng_t copy = r; /* a plain value */
    assert_true(tm_rng_next_u64(&copy) == tm_rng_next_u64(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_words_matter),
        cmocka_unit_test(test_counters_unique_and_balanced),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_normal_independent_of_uniform),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
