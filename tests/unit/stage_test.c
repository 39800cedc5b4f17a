/* stage_test: plant uploads staged by the console server (tm_stage):
 * chunks in order make a complete upload; a chunk out of order, of
 * another upload or malformed drops it; chunk 0 replaces a console's
 * earlier upload; consoles do not see each other's uploads; idle uploads
 * expire; at most TM_STAGE_MAX at once; a complete upload taken out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *bytes[8];
    size_t len[8];
    size_t n;
} s_chunks_t;

/* A plant of 6 actors and 6 links in small chunks of upload `id`. */
static void s_chunks(uint64_t id, s_chunks_t *c)
{
    static const char *text =
        "actors:\n  - {id: a, model: tank}\n  - {id: b, model: tank}\n"
        "  - {id: c, model: tank}\n  - {id: d, model: tank}\n"
        "links:\n  - {from: a.level, to: b.qin}\n"
        "  - {from: b.level, to: c.qin}\n  - {from: c.level, to: d.qin}\n";
    char err[256];
    tm_plant_t p;
    tm_plant_init(&p, NULL);
    assert_int_equal(tm_plant_parse(&p, "s.yaml", text, strlen(text),
                                    TM_PLANT_YAML, err, sizeof err),
                     0);
    tm_plant_chunk_t h = {.upload = id};
    size_t na = 0;
    size_t nl = 0;
    memset(c, 0, sizeof *c);
    do {
        assert_true(c->n < 8);
        assert_int_equal(tm_plant_chunk_encode(&p, &h, &na, &nl, 800,
                                               &c->bytes[c->n], &c->len[c->n]),
                         0);
        c->n++;
        h.index++;
    } while (!h.final);
    assert_true(c->n >= 3);
    tm_plant_free(&p);
}

static void s_free(s_chunks_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->bytes[i]);
    }
}

static int s_add(tm_stage_t *st, const char *peer, const s_chunks_t *c,
                 size_t i, double now)
{
    char why[256];
    tm_plant_chunk_t h;
    return tm_stage_chunk(st, peer, strlen(peer), c->bytes[i], c->len[i], now,
                          &h, why, sizeof why);
}

static const tm_plant_t *s_get(tm_stage_t *st, const char *peer, uint64_t id)
{
    char why[256];
    return tm_stage_get(st, peer, strlen(peer), id, 0, why, sizeof why);
}

static void test_in_order(void **state)
{
    (void)state;
    tm_stage_t *st = NULL;
    s_chunks_t c;
    s_chunks(7, &c);
    assert_int_equal(tm_stage_open(&st), 0);
    for (size_t i = 0; i < c.n; i++) {
        assert_null(s_get(st, "p1", 7)); /* not complete yet */
        assert_int_equal(s_add(st, "p1", &c, i, 1), 0);
    }
    const tm_plant_t *p = s_get(st, "p1", 7);
    assert_non_null(p);
    assert_int_equal(p->n_actors, 4);
    assert_int_equal(p->n_links, 3);
    assert_string_equal(p->file, "s.yaml");
    assert_null(s_get(st, "p2", 7)); /* another console's */
    assert_null(s_get(st, "p1", 8)); /* another upload */
    /* a chunk after the final one drops it */
    assert_int_equal(s_add(st, "p1", &c, 1, 1), TM_ERR_NOT_FOUND);
    assert_null(s_get(st, "p1", 7));
    assert_int_equal(tm_stage_count(st), 0);
    tm_stage_destroy(&st);
    s_free(&c);
}

/* A complete upload taken out: the plant is the caller's, the stage has
 * nothing left; an incomplete one cannot be taken. */
static void test_take(void **state)
{
    (void)state;
    tm_stage_t *st = NULL;
    s_chunks_t c;
    tm_plant_t p;
    char why[256];
    s_chunks(9, &c);
    assert_int_equal(tm_stage_open(&st), 0);
    assert_int_equal(s_add(st, "node-b", &c, 0, 1), 0);
    assert_int_equal(tm_stage_take(st, "node-b", 6, 9, &p, why, sizeof why),
                     TM_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "not complete"));
    for (size_t i = 1; i < c.n; i++) {
        assert_int_equal(s_add(st, "node-b", &c, i, 1), 0);
    }
    assert_int_equal(tm_stage_take(st, "node-b", 6, 8, &p, why, sizeof why),
                     TM_ERR_NOT_FOUND);
    assert_int_equal(tm_stage_take(st, "node-b", 6, 9, &p, why, sizeof why), 0);
    assert_int_equal(tm_stage_count(st), 0);
    assert_null(s_get(st, "node-b", 9));
    assert_int_equal(p.n_actors, 4);
    assert_int_equal(p.n_links, 3);
    assert_string_equal(p.file, "s.yaml");
    assert_string_equal(p.actors[3].id, "d");
    tm_stage_destroy(&st); /* the plant outlives the stage */
    assert_string_equal(p.links[2].dst, "d");
    tm_plant_free(&p);
    s_free(&c);
}

static void test_out_of_order(void **state)
{
    (void)state;
    tm_stage_t *st = NULL;
    s_chunks_t c;
    s_chunks_t d;
    s_chunks(7, &c);
    s_chunks(9, &d);
    assert_int_equal(tm_stage_open(&st), 0);
    assert_int_equal(s_add(st, "p1", &c, 1, 1), TM_ERR_NOT_FOUND);
    assert_int_equal(s_add(st, "p1", &c, 0, 1), 0);
    assert_int_equal(s_add(st, "p1", &c, 2, 1), TM_ERR_NOT_FOUND); /* skip */
    assert_int_equal(tm_stage_count(st), 0);
    /* chunk 0 of another upload replaces the first */
    assert_int_equal(s_add(st, "p1", &c, 0, 1), 0);
    assert_int_equal(s_add(st, "p1", &d, 0, 1), 0);
    assert_int_equal(tm_stage_count(st), 1);
    assert_int_equal(s_add(st, "p1", &c, 1, 1), TM_ERR_NOT_FOUND);
    /* malformed bytes drop the upload */
    assert_int_equal(s_add(st, "p1", &d, 0, 1), 0);
    uint8_t junk[] = {0x81, 0xa1, 'x'};
    char why[256];
    tm_plant_chunk_t h;
    assert_int_equal(
        tm_stage_chunk(st, "p1", 2, junk, sizeof junk, 1, &h, why, sizeof why),
        TM_ERR_WIRE_TRUNCATED);
    assert_int_equal(tm_stage_count(st), 0);
    tm_stage_destroy(&st);
    s_free(&c);
    s_free(&d);
}

static void test_limits(void **state)
{
    (void)state;
    tm_stage_t *st = NULL;
    s_chunks_t c;
    char peer[16];
    s_chunks(7, &c);
    assert_int_equal(tm_stage_open(&st), 0);
    for (unsigned i = 0; i < TM_STAGE_MAX; i++) {
        snprintf(peer, sizeof peer, "p%u", i);
        assert_int_equal(s_add(st, peer, &c, 0, 10.0 * i), 0);
    }
    assert_int_equal(s_add(st, "late", &c, 0, 100), TM_ERR_BUSY);
    /* idle ones expire; the ones used recently stay */
    tm_stage_expire(st, 10.0 * 3 + TM_STAGE_IDLE_S + 1);
    assert_int_equal(tm_stage_count(st), TM_STAGE_MAX - 4);
    assert_int_equal(s_add(st, "late", &c, 0, 100), 0);
    tm_stage_drop(st, "late", 4);
    assert_int_equal(tm_stage_count(st), TM_STAGE_MAX - 4);
    tm_stage_destroy(&st);
    s_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
