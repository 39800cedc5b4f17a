/* persist_test: actor records round-trip bit for bit, bad records are
 * refused, and a checkpoint loads back into a fresh runtime with the same
 * digest, links and tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_record_roundtrip(void **state)
{
    (void)state;
    tm_persist_actor_t a, b;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "pump");
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.fidelity = TM_FIDELITY_MEDIUM;
    a.period = 3;
    a.tick = 123456789012ull;
    a.n_params = 3;
    a.params[0] = 0.1;
    a.params[1] = -0.0;
    a.params[2] = 1e-310; /* subnormal */
    a.n_held = 1;
    a.held[0] = 42;
    a.n_states = 2;
    a.state[0] = nextafter(1.0, 2.0);
    a.state[1] = -1e300;
    a.n_outputs = 0;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b), 0);
    assert_string_equal(b.family, "pump");
    assert_string_equal(b.version, "1.0.0");
    assert_int_equal(b.fidelity, TM_FIDELITY_MEDIUM);
    assert_int_equal(b.period, 3);
    assert_int_equal(b.tick, a.tick);
    assert_int_equal(b.n_params, 3);
    assert_int_equal(b.n_states, 2);
    assert_int_equal(b.n_outputs, 0);
    /* bit for bit, including the sign of zero and subnormals */
    assert_memory_equal(a.params, b.params, 3 * sizeof(double));
    assert_memory_equal(a.state, b.state, 2 * sizeof(double));
    assert_true(b.held[0] == 42.0);

    /* every truncation of a valid record is refused, never crashes */
    for (size_t n = 0; n < p.sbuf.size; n++) {
        assert_int_not_equal(tm_persist_actor_decode(p.sbuf.data, n, &b), 0);
    }
    tm_wire_buf_destroy(&p);
}

static void test_bad_records(void **state)
{
    (void)state;
    tm_persist_actor_t b;
    /* {"v": 2} - another record version */
    static const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(tm_persist_actor_decode(v2, sizeof v2, &b),
                     TM_ERR_STORE_CORRUPT);
    /* a bomb: array32 announcing 4 G elements */
    static const uint8_t bomb[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    assert_int_not_equal(tm_persist_actor_decode(bomb, sizeof bomb, &b), 0);
    /* a record without a family is refused */
    tm_persist_actor_t a;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                     TM_ERR_STORE_CORRUPT);
    /* period 0 is refused */
    snprintf(a.family, sizeof a.family, "x");
    a.period = 0;
    tm_wire_buf_clear(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                     TM_ERR_STORE_CORRUPT);
    tm_wire_buf_destroy(&p);
}

static void test_link_key(void **state)
{
    (void)state;
    char key[TM_PERSIST_KEY_MAX];
    size_t klen = 0;
    tm_rt_link_t l = {"p1", "flow", "t1", "qin", 1};
    assert_int_equal(tm_persist_link_key(&l, key, sizeof key, &klen), 0);
    assert_string_equal(key, "p1.flow>t1.qin");
    assert_int_equal(klen, strlen("p1.flow>t1.qin"));
    char small[8];
    assert_int_equal(tm_persist_link_key(&l, small, sizeof small, &klen),
                     TM_ERR_TOO_BIG);
}

typedef struct {
    char dir[512];
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/persist_test_%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void s_spawn(tm_rt_t *rt, const char *id, const char *family)
{
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find(family, NULL, TM_FIDELITY_HIGH, &m), 0);
    assert_int_equal(tm_rt_spawn(rt, id, m, NULL), 0);
}

static int s_count_links(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    (*(size_t *)arg)++;
    return 0;
}

static void test_checkpoint_load(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, f->dir, &o), 0);
    tm_rt_config_t rc = {.workers = 1, .h = 0.05, .seed = 7};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    s_spawn(rt, "o1", "oscillator");
    s_spawn(rt, "o2", "oscillator");
    s_spawn(rt, "s1", "spring");
    const char *links[4][4] = {{"o1", "x", "s1", "xa"},
                               {"o2", "x", "s1", "xb"},
                               {"s1", "fa", "o1", "fr"},
                               {"s1", "fb", "o2", "fl"}};
    tm_store_batch_t *b = tm_store_batch_new(store);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            tm_rt_link(rt, links[i][0], links[i][1], links[i][2], links[i][3]),
            0);
        tm_rt_link_t l = {links[i][0], links[i][1], links[i][2], links[i][3],
                          1};
        assert_int_equal(tm_persist_put_link(b, &l), 0);
    }
    assert_int_equal(tm_rt_step(rt, 57), 0);
    assert_int_equal(tm_persist_checkpoint(rt, b), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    uint8_t d1[32];
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    tm_rt_destroy(&rt);

    tm_persist_meta_t meta;
    assert_int_equal(tm_persist_read_meta(store, &meta), 0);
    assert_true(meta.have_checkpoint);
    assert_int_equal(meta.tick, 57);
    assert_int_equal(meta.seed, 7);
    assert_true(meta.h == 0.05);

    rc.tick = meta.tick;
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    tm_persist_load_t ld;
    assert_int_equal(tm_persist_load(store, rt, &ld), 0);
    assert_int_equal(ld.actors, 3);
    assert_int_equal(ld.links, 4);
    assert_int_equal(ld.actors_skipped + ld.links_skipped, 0);
    uint8_t d2[32];
    assert_int_equal(tm_rt_digest(rt, d2), 0);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(tm_rt_tick(rt), 57);
    size_t nl = 0;
    tm_rt_foreach_link(rt, s_count_links, &nl);
    assert_int_equal(nl, 4);

    /* a record of an unknown model is skipped and left in the store */
    tm_persist_actor_t bad;
    tm_wire_buf_t p;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.family, sizeof bad.family, "warp-drive");
    snprintf(bad.version, sizeof bad.version, "9.9.9");
    bad.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&bad, &p), 0);
    b = tm_store_batch_new(store);
    assert_int_equal(
        tm_store_batch_put(b, TM_DB_ACTORS, "zz", 2, p.sbuf.data, p.sbuf.size),
        0);
    assert_int_equal(tm_store_batch_put(b, TM_DB_ACTORS, "yy", 2, "\xc1", 1),
                     0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_wire_buf_destroy(&p);
    tm_rt_destroy(&rt);
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    assert_int_equal(tm_persist_load(store, rt, &ld), 0);
    assert_int_equal(ld.actors, 3);
    assert_int_equal(ld.actors_skipped, 2);
    size_t n = 0;
    assert_int_equal(tm_store_count(store, TM_DB_ACTORS, &n), 0);
    assert_int_equal(n, 5);
    tm_rt_destroy(&rt);
    tm_store_close(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_link_key),
        cmocka_unit_test_setup_teardown(test_checkpoint_load, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
