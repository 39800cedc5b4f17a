/* writer_test: the checkpoint writer thread - one batch in flight, results
 * polled on the submitting thread, the done callback from the writer,
 * destroy waiting for a pending batch. Also run under TSan (label
 * "threads"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_store.h"
#include "tm_writer.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[512];
    tm_store_t *store;
} s_fix_t;

static atomic_int s_done_calls;

static void s_done(void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_done_calls, 1);
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/writer_test_%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&f->store, f->dir, &o), 0);
    atomic_store(&s_done_calls, 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    tm_store_close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static tm_store_batch_t *s_batch(tm_store_t *store, int first, int n)
{
    tm_store_batch_t *b = tm_store_batch_new(store);
    assert_non_null(b);
    for (int i = first; i < first + n; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "k%08d", i);
        assert_int_equal(
            tm_store_batch_put(b, TM_DB_ACTORS, key, (size_t)len, key, 9), 0);
    }
    return b;
}

static void test_commit_and_poll(void **state)
{
    s_fix_t *f = *state;
    tm_writer_t *w = NULL;
    tm_writer_result_t r;
    assert_int_equal(tm_writer_open(&w, s_done, NULL), 0);
    assert_false(tm_writer_busy(w));
    assert_int_equal(tm_writer_poll(w, &r), 0);
    for (int round = 0; round < 20; round++) {
        tm_store_batch_t *b = s_batch(f->store, round * 500, 500);
        assert_int_equal(tm_writer_submit(w, &b, (uint64_t)round * 10), 0);
        assert_null(b); /* the writer owns it now */
        tm_store_batch_t *other = s_batch(f->store, 0, 1);
        int rc = tm_writer_submit(w, &other, 1);
        if (rc == TM_ERR_BUSY) {
            assert_non_null(other); /* still ours */
            tm_store_batch_destroy(&other);
        } else {
            /* the first one was already done */
            assert_int_equal(rc, 0);
        }
        tm_writer_wait(w);
        assert_false(tm_writer_busy(w));
        assert_int_equal(tm_writer_poll(w, &r), 1);
        assert_int_equal(r.rc, 0);
        assert_int_equal(tm_writer_poll(w, &r), 0); /* taken once */
    }
    size_t n = 0;
    assert_int_equal(tm_store_count(f->store, TM_DB_ACTORS, &n), 0);
    assert_int_equal(n, 20 * 500);
    assert_true(atomic_load(&s_done_calls) >= 20);
    tm_writer_destroy(&w);
    assert_null(w);
    tm_writer_destroy(&w); /* NULL-safe */
}

/* fill completes the batch on the writer thread; its error is the result
 * and nothing is committed; free_fn runs either way. */
static atomic_int s_freed;

static int s_fill_put(void *arg, tm_store_batch_t *b)
{
    const char *key = arg;
    return tm_store_batch_put(b, TM_DB_ACTORS, key, strlen(key), "v", 1);
}

static int s_fill_fail(void *arg, tm_store_batch_t *b)
{
    int rc = s_fill_put(arg, b);
    return rc != 0 ? rc : TM_ERR_NOMEM;
}

static void s_count_free(void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_freed, 1);
}

static void test_submit_fill(void **state)
{
    s_fix_t *f = *state;
    tm_writer_t *w = NULL;
    assert_int_equal(tm_writer_open(&w, s_done, NULL), 0);
    atomic_store(&s_freed, 0);
    tm_store_batch_t *b = s_batch(f->store, 0, 3);
    assert_int_equal(tm_writer_submit_fill(w, &b, 7, s_fill_put, s_count_free,
                                           (void *)"filled"),
                     0);
    assert_null(b);
    tm_writer_wait(w);
    tm_writer_result_t r;
    assert_int_equal(tm_writer_poll(w, &r), 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.tick, 7);
    assert_int_equal(r.records, 4);
    assert_int_equal(atomic_load(&s_freed), 1);
    void *val = NULL;
    size_t vlen = 0;
    assert_int_equal(
        tm_store_get(f->store, TM_DB_ACTORS, "filled", 6, &val, &vlen), 0);
    free(val);

    b = s_batch(f->store, 10, 2);
    assert_int_equal(tm_writer_submit_fill(w, &b, 8, s_fill_fail, s_count_free,
                                           (void *)"failed"),
                     0);
    tm_writer_wait(w);
    assert_int_equal(tm_writer_poll(w, &r), 1);
    assert_int_equal(r.rc, TM_ERR_NOMEM);
    assert_int_equal(atomic_load(&s_freed), 2);
    assert_int_equal(
        tm_store_get(f->store, TM_DB_ACTORS, "failed", 6, &val, &vlen),
        TM_ERR_NOT_FOUND);
    assert_int_equal(
        tm_store_get(f->store, TM_DB_ACTORS, "k00000010", 9, &val, &vlen),
        TM_ERR_NOT_FOUND);
    tm_writer_destroy(&w);
}

static void test_destroy_waits(void **state)
{
    s_fix_t *f = *state;
    tm_writer_t *w = NULL;
    assert_int_equal(tm_writer_open(&w, NULL, NULL), 0);
    tm_store_batch_t *b = s_batch(f->store, 0, 20000);
    assert_int_equal(tm_writer_submit(w, &b, 7), 0);
    tm_writer_destroy(&w); /* must not drop the batch in flight */
    size_t n = 0;
    assert_int_equal(tm_store_count(f->store, TM_DB_ACTORS, &n), 0);
    assert_int_equal(n, 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_poll, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_submit_fill, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_waits, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
