/* score_test: the benchmark's F1, FAR and MAR from confusion counts
 * (against values worked out by hand), rows before the calibration window
 * left out, rows without an output counted as no alarm, and undefined
 * scores as NaN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_score.h"

#include <math.h>

static void test_counts_and_scores(void **state)
{
    (void)state;
    tm_score_t s = {0, 0, 0, 0};
    /* 6 TP, 2 FP, 3 FN, 9 TN */
    for (int i = 0; i < 6; i++) {
        tm_score_add(&s, 1, 1);
    }
    for (int i = 0; i < 2; i++) {
        tm_score_add(&s, 1, 0);
    }
    for (int i = 0; i < 3; i++) {
        tm_score_add(&s, 0, 1);
    }
    for (int i = 0; i < 9; i++) {
        tm_score_add(&s, 0, 0);
    }
    assert_int_equal(s.tp, 6);
    assert_int_equal(s.fp, 2);
    assert_int_equal(s.fn, 3);
    assert_int_equal(s.tn, 9);
    assert_int_equal(tm_score_total(&s), 20);
    /* F1 = 6 / (6 + 5/2) = 12/17; FAR = 2/11; MAR = 3/9 */
    assert_true(fabs(tm_score_f1(&s) - 12.0 / 17.0) < 1e-12);
    assert_true(fabs(tm_score_far(&s) - 200.0 / 11.0) < 1e-12);
    assert_true(fabs(tm_score_mar(&s) - 100.0 / 3.0) < 1e-12);

    tm_score_t all = {1, 1, 1, 1};
    tm_score_merge(&all, &s);
    assert_int_equal(all.tp, 7);
    assert_int_equal(all.tn, 10);
    /* F1 equals the harmonic mean of precision and recall */
    double p = 6.0 / 8.0;
    double r = 6.0 / 9.0;
    assert_true(fabs(tm_score_f1(&s) - 2 * p * r / (p + r)) < 1e-12);
}

static void test_rows(void **state)
{
    (void)state;
    /* rows 0-3 are the window; -1 is a row without an output */
    int8_t alarm[10] = {1, 1, 1, 1, 1, 0, -1, -1, 1, 0};
    uint8_t label[10] = {0, 0, 0, 0, 1, 1, 1, 0, 0, 0};
    tm_score_t s = {0, 0, 0, 0};
    tm_score_rows(&s, alarm, label, 10, 4);
    assert_int_equal(s.tp, 1); /* row 4 */
    assert_int_equal(s.fn, 2); /* rows 5, 6 */
    assert_int_equal(s.fp, 1); /* row 8 */
    assert_int_equal(s.tn, 2); /* rows 7, 9 */
    tm_score_t none = {0, 0, 0, 0};
    tm_score_rows(&none, alarm, label, 3, 4); /* shorter than the window */
    assert_int_equal(tm_score_total(&none), 0);
}

static void test_undefined(void **state)
{
    (void)state;
    tm_score_t s = {0, 0, 0, 0};
    assert_true(isnan(tm_score_f1(&s)));
    assert_true(isnan(tm_score_far(&s)));
    assert_true(isnan(tm_score_mar(&s)));
    /* a file without anomalies and without alarms: FAR 0, F1 and MAR
     * undefined */
    tm_score_add(&s, 0, 0);
    assert_true(isnan(tm_score_f1(&s)));
    assert_true(tm_score_far(&s) == 0.0);
    assert_true(isnan(tm_score_mar(&s)));
    /* every anomaly missed: F1 0, MAR 100 */
    tm_score_add(&s, 0, 1);
    assert_true(tm_score_f1(&s) == 0.0);
    assert_true(tm_score_mar(&s) == 100.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_scores),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_undefined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
