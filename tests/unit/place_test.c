/* place_test: tm_place - the load score and the choice of a node, checked
 * against scores worked out by hand from the contract in tm_place.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_place.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static char s_why[TM_PLACE_WHY_MAX];

static size_t s_choose(const tm_place_node_t *n, size_t count, const char *site,
                       const char *exclude, uint64_t extra)
{
    size_t k = 99;
    s_why[0] = '\0';
    int rc = tm_place_choose(n, count, site, exclude, extra, &k, s_why,
                             sizeof s_why);
    if (rc != 0) {
        fail_msg("tm_place_choose: %d %s", rc, s_why);
    }
    return k;
}

/* Step times known everywhere: the score is the projected step time,
 * cost per actor = step_us / actors. */
static void test_by_step_time(void **state)
{
    (void)state;
    /* a: 100 actors at 400 us (4 us each); b: 300 at 600 us (2 us each) */
    tm_place_node_t n[] = {{"a", "east", true, 100, 400, 0},
                           {"b", "east", true, 300, 600, 0}};
    double load[2];
    double cost[2];
    bool by_time = false;
    tm_place_loads(n, 2, NULL, load, cost, &by_time);
    assert_true(by_time);
    assert_true(fabs(cost[0] - 4.0) < 1e-9 && fabs(load[0] - 400.0) < 1e-9);
    assert_true(fabs(cost[1] - 2.0) < 1e-9 && fabs(load[1] - 600.0) < 1e-9);
    /* one more: a 404, b 602 -> a; 60 more: a 640, b 720 -> a; 150 more:
     * a 1000, b 900 -> b although b has three times the actors */
    assert_int_equal(s_choose(n, 2, NULL, NULL, 1), 0);
    assert_int_equal(s_choose(n, 2, NULL, NULL, 60), 0);
    assert_int_equal(s_choose(n, 2, NULL, NULL, 150), 1);
    assert_string_equal(s_why, "least loaded by step time of b (300 actors, "
                               "0.60 ms/tick), a (100 actors, 0.40 ms/tick)");
    /* placed but not in a heartbeat yet: 60 pending on a make it 640 */
    n[0].pending = 60;
    tm_place_loads(n, 2, NULL, load, cost, &by_time);
    assert_true(fabs(load[0] - 640.0) < 1e-9);
    assert_int_equal(s_choose(n, 2, NULL, NULL, 30), 1); /* 760 > 660 */
    assert_non_null(strstr(s_why, "a (100 actors, 0.40 ms/tick, +60 placed)"));
}

/* An empty node takes the mean cost of the others; a node with actors
 * but no step time makes every score an actor count. */
static void test_fallbacks(void **state)
{
    (void)state;
    tm_place_node_t n[] = {{"a", "", true, 10, 50, 0}, /* 5 us each */
                           {"b", "", true, 30, 90, 0}, /* 3 us each */
                           {"c", "", true, 0, 0, 0}};
    double load[3];
    double cost[3];
    bool by_time = false;
    tm_place_loads(n, 3, NULL, load, cost, &by_time);
    assert_true(by_time);
    assert_true(fabs(cost[2] - 4.0) < 1e-9); /* mean of 5 and 3 */
    assert_true(load[2] == 0);
    assert_int_equal(s_choose(n, 3, NULL, NULL, 1), 2);
    /* 20 pending on c: 4 * 21 = 84 > a's 55 */
    n[2].pending = 20;
    assert_int_equal(s_choose(n, 3, NULL, NULL, 1), 0);

    /* b's step time not known (a paused clock): counts decide */
    n[1].step_us = 0;
    tm_place_loads(n, 3, NULL, load, cost, &by_time);
    assert_false(by_time);
    assert_true(load[0] == 10 && load[1] == 30 && load[2] == 20);
    assert_true(cost[0] == 1 && cost[1] == 1 && cost[2] == 1);
    assert_int_equal(s_choose(n, 3, NULL, NULL, 1), 0);
    assert_non_null(strstr(s_why, "least loaded by actor count of a (10 "
                                  "actors, 50 us/tick), c (0 actors, +20 "
                                  "placed), b (30 actors)"));
    /* nothing known anywhere: counts, and a tie goes to the smaller name */
    tm_place_node_t z[] = {{"z", "", true, 0, 0, 0}, {"m", "", true, 0, 0, 0}};
    assert_int_equal(s_choose(z, 2, NULL, NULL, 1), 1);
}

/* Only alive nodes, never the excluded one, only the site asked for. */
static void test_candidates(void **state)
{
    (void)state;
    tm_place_node_t n[] = {{"a", "west", true, 50, 0, 0},
                           {"b", "east", true, 20, 0, 0},
                           {"c", "east", false, 0, 0, 0}, /* dead */
                           {"d", "east", true, 10, 0, 0},
                           {"e", "north", true, 0, 0, 0}};
    assert_int_equal(s_choose(n, 5, "east", NULL, 1), 3);
    assert_string_equal(s_why, "site east: least loaded by actor count of "
                               "d (10 actors), b (20 actors)");
    assert_int_equal(s_choose(n, 5, "east", "d", 1), 1);
    assert_int_equal(s_choose(n, 5, "", NULL, 1), 4);
    assert_int_equal(s_choose(n, 5, NULL, "e", 1), 3);
    assert_int_equal(s_choose(n, 5, "west", NULL, 1), 0);

    size_t k = 77;
    assert_int_equal(
        tm_place_choose(n, 5, "south", NULL, 1, &k, s_why, sizeof s_why),
        TM_ERR_NOT_FOUND);
    assert_int_equal(k, 77);
    assert_string_equal(s_why, "no alive node at site 'south' (known sites: "
                               "'west', 'east', 'north')");
    n[0].alive = false;
    assert_int_equal(
        tm_place_choose(n, 5, "west", NULL, 1, &k, s_why, sizeof s_why),
        TM_ERR_NOT_FOUND);
    assert_string_equal(s_why, "no alive node at site 'west' (known sites: "
                               "'east', 'north')");
    assert_int_equal(
        tm_place_choose(n, 1, NULL, NULL, 1, &k, s_why, sizeof s_why),
        TM_ERR_NOT_FOUND);
    assert_string_equal(s_why, "no alive node to place on (nodes: a at "
                               "'west' (not alive))");
    assert_int_equal(
        tm_place_choose(n, 2, "east", "b", 1, &k, s_why, sizeof s_why),
        TM_ERR_NOT_FOUND);
    assert_int_equal(
        tm_place_choose(NULL, 2, NULL, NULL, 1, &k, s_why, sizeof s_why),
        TM_ERR_INVAL);
}

/* A long list is cut: six nodes named, the rest counted; a short buffer
 * is never overrun. */
static void test_long_reason(void **state)
{
    (void)state;
    tm_place_node_t n[9];
    char names[9][8];
    for (size_t k = 0; k < 9; k++) {
        snprintf(names[k], sizeof names[k], "n%zu", k);
        n[k] = (tm_place_node_t){names[k], "s", true, k, 0, 0};
    }
    assert_int_equal(s_choose(n, 9, "s", NULL, 1), 0);
    assert_non_null(strstr(s_why, "n5 (5 actors) and 3 more"));
    char tiny[16];
    size_t k = 0;
    assert_int_equal(
        tm_place_choose(n, 9, NULL, NULL, 1, &k, tiny, sizeof tiny), 0);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

/* Pending placements: the growth a heartbeat shows takes them off. */
static void test_pending(void **state)
{
    (void)state;
    /* 10 placed on a node that showed 40: a heartbeat sent before they
     * arrived (40) takes off nothing, one after (50) all of them */
    assert_int_equal(tm_place_pending(10, 40, 40, 0.1, 5), 10);
    assert_int_equal(tm_place_pending(10, 40, 50, 0.1, 5), 0);
    /* part of them (a spawn-many of 6 then a spawn of 4 in flight) */
    assert_int_equal(tm_place_pending(10, 40, 46, 0.1, 5), 4);
    /* more than placed (another node's spawns too): none left */
    assert_int_equal(tm_place_pending(10, 40, 90, 0.1, 5), 0);
    /* kills meanwhile: fewer actors than the base take off nothing */
    assert_int_equal(tm_place_pending(10, 40, 30, 0.1, 5), 10);
    /* a spawn that failed is never shown: forgotten after keep_s */
    assert_int_equal(tm_place_pending(10, 40, 40, 5.0, 5), 10);
    assert_int_equal(tm_place_pending(10, 40, 40, 5.01, 5), 0);
    assert_int_equal(tm_place_pending(0, 40, 10, 0, 5), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_step_time), cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_candidates),   cmocka_unit_test(test_long_reason),
        cmocka_unit_test(test_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
