/* parked_test: changes that wait for the checkpoint writer (tm_parked):
 * kept in order with copies of their frames and of who asked; drained in
 * order while the writer stays free, the rest kept for later; a request
 * that comes while they run is not kept (draining); bounded in count and
 * bytes (BUSY, nothing kept); keepalives only when due; cancel drops the
 * matching one; clear answers each and empties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_parked.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int who;
} s_who_t;

typedef struct {
    tm_parked_t *p;
    int ran[TM_PARKED_MAX + 8];
    size_t n_ran;
    size_t busy_after; /* the writer is busy again after this many runs */
    bool pushed_while_draining;
} s_log_t;

static bool s_busy(void *arg)
{
    const s_log_t *l = arg;
    return l->n_ran >= l->busy_after;
}

static void s_run(void *arg, tm_parked_req_t *r)
{
    s_log_t *l = arg;
    const s_who_t *w = r->who;
    char text[16];
    snprintf(text, sizeof text, "req%d", w->who);
    assert_int_equal(r->len, strlen(text));
    assert_memory_equal(r->frame, text, r->len);
    l->ran[l->n_ran++] = w->who;
    l->pushed_while_draining = l->p->draining;
}

static void s_push(tm_parked_t *p, int who)
{
    s_who_t w = {who};
    char text[16];
    snprintf(text, sizeof text, "req%d", who);
    tm_parked_req_t *r = NULL;
    assert_int_equal(tm_parked_push(p, &w, sizeof w, (const uint8_t *)text,
                                    strlen(text), &r),
                     0);
    assert_non_null(r);
    assert_int_equal(((s_who_t *)r->who)->who, who);
}

static void test_order_and_busy(void **state)
{
    (void)state;
    tm_parked_t p = {0};
    s_log_t l = {.p = &p, .busy_after = 2};
    for (int i = 0; i < 5; i++) {
        s_push(&p, i);
    }
    assert_int_equal(p.n, 5);
    assert_int_equal(p.bytes, 5 * 4);
    assert_int_equal(p.total, 5);
    tm_parked_drain(&p, s_busy, &l, s_run, &l);
    assert_int_equal(l.n_ran, 2); /* the writer became busy: the rest wait */
    assert_int_equal(l.ran[0], 0);
    assert_int_equal(l.ran[1], 1);
    assert_true(l.pushed_while_draining);
    assert_false(p.draining);
    assert_int_equal(p.n, 3);
    s_push(&p, 5); /* behind those that wait */
    l.busy_after = 100;
    tm_parked_drain(&p, s_busy, &l, s_run, &l);
    assert_int_equal(l.n_ran, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(l.ran[i], i);
    }
    assert_int_equal(p.n, 0);
    assert_int_equal(p.bytes, 0);
    assert_int_equal(p.total, 6);
    tm_parked_clear(&p, NULL, NULL);
}

static void test_bounds(void **state)
{
    (void)state;
    tm_parked_t p = {0};
    s_who_t w = {1};
    uint8_t *big = calloc(TM_PARKED_BYTES, 1);
    assert_non_null(big);
    assert_int_equal(
        tm_parked_push(&p, &w, sizeof w, big, TM_PARKED_BYTES - 1, NULL), 0);
    assert_int_equal(tm_parked_push(&p, &w, sizeof w, big, 2, NULL),
                     TM_ERR_BUSY); /* over the bytes: nothing kept */
    assert_int_equal(p.n, 1);
    assert_int_equal(tm_parked_push(&p, &w, sizeof w, big, 1, NULL), 0);
    tm_parked_clear(&p, NULL, NULL);
    assert_int_equal(p.bytes, 0);
    free(big);
    for (unsigned i = 0; i < TM_PARKED_MAX; i++) {
        s_push(&p, (int)i);
    }
    assert_int_equal(
        tm_parked_push(&p, &w, sizeof w, (const uint8_t *)"x", 1, NULL),
        TM_ERR_BUSY); /* over the count */
    assert_int_equal(p.n, TM_PARKED_MAX);
    tm_parked_clear(&p, NULL, NULL);
    assert_int_equal(p.n, 0);
    assert_null(p.q);
}

static int s_kept_alive;

static void s_keep(void *arg, tm_parked_req_t *r)
{
    (void)arg;
    (void)r;
    s_kept_alive++;
}

static bool s_is(const tm_parked_req_t *r, const void *key)
{
    return ((const s_who_t *)r->who)->who == *(const int *)key;
}

static void test_keepalive_cancel_clear(void **state)
{
    (void)state;
    tm_parked_t p = {0};
    s_push(&p, 1);
    s_push(&p, 2);
    s_push(&p, 3);
    double t0 = p.q[0].last_sent;
    s_kept_alive = 0;
    tm_parked_keepalive(&p, t0 + TM_PARKED_KEEPALIVE_S / 2, s_keep, NULL);
    assert_int_equal(s_kept_alive, 0); /* not due */
    tm_parked_keepalive(&p, t0 + 10.0, s_keep, NULL);
    assert_int_equal(s_kept_alive, 3);
    tm_parked_keepalive(&p, t0 + 10.1, s_keep, NULL);
    assert_int_equal(s_kept_alive, 3); /* sent 0.1 s ago */
    int key = 2;
    assert_true(tm_parked_cancel(&p, s_is, &key));
    assert_false(tm_parked_cancel(&p, s_is, &key));
    assert_int_equal(p.n, 2);
    assert_int_equal(((s_who_t *)p.q[1].who)->who, 3);
    s_kept_alive = 0;
    tm_parked_clear(&p, s_keep, NULL); /* each answered once */
    assert_int_equal(s_kept_alive, 2);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_busy),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_keepalive_cancel_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
