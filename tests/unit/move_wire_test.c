/* move_wire_test: protocol/tm_move_wire, the package that moves actors
 * between nodes.
 *
 * A package of several actors, links and sources round-trips with its
 * values bit for bit and its records byte for byte (copied: the input may
 * go after the decode); the encoder refuses every name, count and value
 * outside the rules of tm_move_wire.h, and the decoder too, with the error
 * the header gives (a package built by hand here, one field spoiled per
 * variant); every strict prefix of a valid package fails; the limits are
 * accepted and one past them refused on both sides. On error nothing is
 * left to free (ASan's leak check runs at exit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "assert_rc.h"
#include "tm_err.h"
#include "tm_move_wire.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* A package that failed to decode is all zeroes: nothing to free. */
static void s_assert_zeroed(const tm_move_t *p)
{
    static const tm_move_t zero;
    assert_memory_equal(p, &zero, sizeof zero);
}

/* n copies of c, NUL-terminated, into out (n + 1 bytes). */
static void s_fill(char *out, char c, size_t n)
{
    memset(out, c, n);
    out[n] = '\0';
}

/* ---- a package of several actors, links and sources --------------------- */

typedef struct {
    tm_move_t p;
    tm_move_actor_t actors[3];
    tm_move_link_t links[3];
    tm_move_source_t sources[3];
    double values[6];
    uint8_t rec0[40];
    uint8_t rec1[1];
    uint8_t rec2[300]; /* bin16 */
} s_pkg_t;

static void s_link(tm_move_link_t *l, const char *src, const char *output,
                   const char *input, uint32_t delay, const char *model,
                   const char *tier)
{
    memset(l, 0, sizeof *l);
    snprintf(l->src, sizeof l->src, "%s", src);
    snprintf(l->output, sizeof l->output, "%s", output);
    snprintf(l->input, sizeof l->input, "%s", input);
    l->delay = delay;
    snprintf(l->model, sizeof l->model, "%s", model);
    snprintf(l->tier, sizeof l->tier, "%s", tier);
}

static void s_source(tm_move_source_t *s, const char *id, const char *model,
                     const char *tier, uint64_t first_tick)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->model, sizeof s->model, "%s", model);
    snprintf(s->tier, sizeof s->tier, "%s", tier);
    s->first_tick = first_tick;
}

/* Three actors (two links, none, one of the longest names), three sources
 * (3 rows of 2 values at the edges of a double, no rows, 2 rows of no
 * values). */
static void s_pkg_init(s_pkg_t *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < sizeof f->rec0; i++) {
        f->rec0[i] = (uint8_t)(i * 7); /* zeroes inside too */
    }
    for (size_t i = 0; i < sizeof f->rec2; i++) {
        f->rec2[i] = (uint8_t)(255 - i);
    }
    snprintf(f->p.from, sizeof f->p.from, "node-a");
    f->p.tick = 123456789012345ull;

    s_link(&f->links[0], "pump-1", "flow", "q_in", 1, "pump@1", "high");
    s_link(&f->links[1], "valve-3", "pos", "u", TM_MOVE_ROWS_MAX, "valve@2.1",
           "low");
    tm_move_link_t *l = &f->links[2];
    memset(l, 0, sizeof *l);
    s_fill(l->src, 'S', TM_ID_MAX);
    s_fill(l->output, 'o', TM_MOVE_PORT_MAX);
    s_fill(l->input, 'i', TM_MOVE_PORT_MAX);
    l->delay = 7;
    s_fill(l->model, 'm', TM_MOVE_NAME_MAX);
    s_fill(l->tier, 't', TM_MOVE_NAME_MAX);

    tm_move_actor_t *a = f->actors;
    snprintf(a[0].id, sizeof a[0].id, "tank-1");
    a[0].record = f->rec0;
    a[0].record_len = sizeof f->rec0;
    a[0].n_links = 2;
    a[0].links = &f->links[0];
    snprintf(a[1].id, sizeof a[1].id, "sensor_9");
    a[1].record = f->rec1;
    a[1].record_len = sizeof f->rec1;
    s_fill(a[2].id, 'a', TM_ID_MAX);
    a[2].record = f->rec2;
    a[2].record_len = sizeof f->rec2;
    a[2].n_links = 1;
    a[2].links = &f->links[2];

    f->values[0] = 0.0;
    f->values[1] = -0.0;
    f->values[2] = 4.9406564584124654e-324; /* the least subnormal */
    f->values[3] = -DBL_MAX;
    f->values[4] = DBL_MIN;
    f->values[5] = 1.0 / 3.0;
    s_source(&f->sources[0], "pump-1", "pump@1", "high", f->p.tick - 2);
    f->sources[0].n_rows = 3;
    f->sources[0].width = 2;
    f->sources[0].values = f->values;
    s_source(&f->sources[1], "valve-3", "valve@2.1", "low", UINT64_MAX);
    tm_move_source_t *s = &f->sources[2];
    s_source(s, "x", "y", "z", 0);
    s_fill(s->id, 'S', TM_ID_MAX);
    s_fill(s->model, 'm', TM_MOVE_NAME_MAX);
    s_fill(s->tier, 't', TM_MOVE_NAME_MAX);
    s->n_rows = 2; /* two ticks of a model without outputs */

    f->p.n_actors = 3;
    f->p.actors = f->actors;
    f->p.n_sources = 3;
    f->p.sources = f->sources;
}

static void s_assert_link_equal(const tm_move_link_t *a,
                                const tm_move_link_t *b)
{
    assert_string_equal(a->src, b->src);
    assert_string_equal(a->output, b->output);
    assert_string_equal(a->input, b->input);
    assert_int_equal(a->delay, b->delay);
    assert_string_equal(a->model, b->model);
    assert_string_equal(a->tier, b->tier);
}

/* got (decoded) holds what want says, records byte for byte and values
 * bit for bit. */
static void s_assert_pkg_equal(const tm_move_t *got, const tm_move_t *want)
{
    assert_string_equal(got->from, want->from);
    assert_true(got->tick == want->tick);
    assert_int_equal(got->n_actors, want->n_actors);
    assert_int_equal(got->n_sources, want->n_sources);
    for (uint32_t i = 0; i < want->n_actors; i++) {
        const tm_move_actor_t *g = &got->actors[i];
        const tm_move_actor_t *w = &want->actors[i];
        assert_string_equal(g->id, w->id);
        assert_int_equal(g->record_len, w->record_len);
        assert_memory_equal(g->record, w->record, w->record_len);
        assert_int_equal(g->n_links, w->n_links);
        for (uint32_t j = 0; j < w->n_links; j++) {
            s_assert_link_equal(&g->links[j], &w->links[j]);
        }
    }
    for (uint32_t i = 0; i < want->n_sources; i++) {
        const tm_move_source_t *g = &got->sources[i];
        const tm_move_source_t *w = &want->sources[i];
        assert_string_equal(g->id, w->id);
        assert_string_equal(g->model, w->model);
        assert_string_equal(g->tier, w->tier);
        assert_true(g->first_tick == w->first_tick);
        assert_int_equal(g->n_rows, w->n_rows);
        if (w->n_rows > 0) {
            assert_int_equal(g->width, w->width);
        }
        size_t n = (size_t)w->n_rows * w->width;
        if (n > 0) {
            assert_memory_equal(g->values, w->values, n * sizeof(double));
        }
    }
}

/* ---- round trip --------------------------------------------------------- */

static void test_round_trip(void **state)
{
    s_pkg_t f;
    tm_move_t got;
    tm_move_t again;
    uint8_t *bytes = NULL;
    uint8_t *copy = NULL;
    uint8_t *bytes2 = NULL;
    size_t len = 0;
    size_t len2 = 0;

    (void)state;
    s_pkg_init(&f);
    assert_rc(tm_move_encode(&f.p, &bytes, &len), 0);
    assert_non_null(bytes);
    assert_true(len > sizeof f.rec0 + sizeof f.rec1 + sizeof f.rec2);

    /* the decode copies: the input may be changed and freed after it */
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    memset(&got, 0x5a, sizeof got);
    assert_rc(tm_move_decode(copy, len, &got), 0);
    memset(copy, 0xc1, len);
    free(copy);
    s_assert_pkg_equal(&got, &f.p);
    assert_non_null(got.owned);
    for (uint32_t i = 0; i < got.n_actors; i++) {
        /* records borrow from the package's own copy */
        const uint8_t *r = got.actors[i].record;
        assert_true(r >= got.owned &&
                    r + got.actors[i].record_len <= got.owned + len);
    }
    assert_null(got.actors[1].links);
    assert_int_equal(got.sources[2].width, 0);

    /* a decoded package encodes to the same bytes */
    assert_rc(tm_move_encode(&got, &bytes2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(bytes2, bytes, len);
    assert_rc(tm_move_decode(bytes2, len2, &again), 0);
    s_assert_pkg_equal(&again, &f.p);

    tm_move_free(&got);
    s_assert_zeroed(&got);
    tm_move_free(&got); /* twice */
    s_assert_zeroed(&got);
    tm_move_free(&again);
    tm_move_free(NULL);
    free(bytes2);
    free(bytes);

    /* an empty package: no actors, no sources */
    tm_move_t empty = {.tick = 0};
    snprintf(empty.from, sizeof empty.from, "n");
    assert_rc(tm_move_encode(&empty, &bytes, &len), 0);
    assert_rc(tm_move_decode(bytes, len, &got), 0);
    s_assert_pkg_equal(&got, &empty);
    tm_move_free(&got);
    free(bytes);

    /* a zeroed package frees to itself */
    memset(&got, 0, sizeof got);
    tm_move_free(&got);
    s_assert_zeroed(&got);
}

/* Every strict prefix of a valid package fails, never crashes, leaves
 * nothing (ASan) and the package zeroed; and so do the NULL cases. */
static void test_truncated(void **state)
{
    s_pkg_t f;
    tm_move_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    s_pkg_init(&f);
    assert_rc(tm_move_encode(&f.p, &bytes, &len), 0);
    for (size_t k = 0; k < len; k++) {
        /* a buffer of exactly k bytes, so that ASan sees a read past it */
        uint8_t *b = malloc(k + 1);
        assert_non_null(b);
        memcpy(b, bytes, k);
        memset(&got, 0x5a, sizeof got);
        int rc = tm_move_decode(k > 0 ? b : NULL, k, &got);
        if (rc != TM_ERR_WIRE_TRUNCATED && rc != TM_ERR_WIRE_COUNT) {
            print_error("prefix %zu of %zu: %s\n", k, len, tm_err_name(rc));
            fail();
        }
        s_assert_zeroed(&got);
        free(b);
    }
    assert_rc(tm_move_decode(bytes, len, NULL), TM_ERR_INVAL);
    /* one byte more is trailing */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, bytes, len);
    longer[len] = 0xc0;
    assert_rc(tm_move_decode(longer, len + 1, &got), TM_ERR_WIRE_TRAILING);
    s_assert_zeroed(&got);
    free(longer);
    free(bytes);
}

/* ---- encoder refusals --------------------------------------------------- */

enum {
    E_FROM_EMPTY,
    E_ACTORS_NULL,
    E_SOURCES_NULL,
    E_ACTOR_ID_EMPTY,
    E_ACTOR_ID_DOT,
    E_ACTOR_ID_SPACE,
    E_RECORD_NULL,
    E_RECORD_EMPTY,
    E_LINKS_NULL,
    E_LINK_SRC_EMPTY,
    E_LINK_SRC_DOT,
    E_OUTPUT_EMPTY,
    E_OUTPUT_DOT,
    E_INPUT_SPACE,
    E_DELAY_ZERO,
    E_DELAY_OVER,
    E_DELAY_HUGE,
    E_LINK_MODEL_EMPTY,
    E_LINK_TIER_EMPTY,
    E_SOURCE_ID_EMPTY,
    E_SOURCE_ID_DOT,
    E_SOURCE_MODEL_EMPTY,
    E_SOURCE_TIER_EMPTY,
    E_VALUES_NULL,
    E_VALUE_NAN,
    E_VALUE_INF,
    E_VALUE_NEG_INF,
    E_COUNT
};

static void s_spoil(s_pkg_t *f, int v)
{
    tm_move_t *p = &f->p;
    switch (v) {
    case E_FROM_EMPTY:
        p->from[0] = '\0';
        break;
    case E_ACTORS_NULL:
        p->actors = NULL;
        break;
    case E_SOURCES_NULL:
        p->sources = NULL;
        break;
    case E_ACTOR_ID_EMPTY:
        f->actors[2].id[0] = '\0';
        break;
    case E_ACTOR_ID_DOT:
        snprintf(f->actors[1].id, TM_ID_MAX, "tank.1");
        break;
    case E_ACTOR_ID_SPACE:
        snprintf(f->actors[1].id, TM_ID_MAX, "t 1");
        break;
    case E_RECORD_NULL:
        f->actors[1].record = NULL;
        break;
    case E_RECORD_EMPTY:
        f->actors[2].record_len = 0;
        break;
    case E_LINKS_NULL:
        f->actors[0].links = NULL;
        break;
    case E_LINK_SRC_EMPTY:
        f->links[1].src[0] = '\0';
        break;
    case E_LINK_SRC_DOT:
        f->links[1].src[3] = '.';
        break;
    case E_OUTPUT_EMPTY:
        f->links[2].output[0] = '\0';
        break;
    case E_OUTPUT_DOT:
        f->links[0].output[1] = '.';
        break;
    case E_INPUT_SPACE:
        f->links[1].input[0] = ' ';
        break;
    case E_DELAY_ZERO:
        f->links[1].delay = 0;
        break;
    case E_DELAY_OVER:
        f->links[1].delay = TM_MOVE_ROWS_MAX + 1;
        break;
    case E_DELAY_HUGE:
        f->links[2].delay = UINT32_MAX;
        break;
    case E_LINK_MODEL_EMPTY:
        f->links[1].model[0] = '\0';
        break;
    case E_LINK_TIER_EMPTY:
        f->links[2].tier[0] = '\0';
        break;
    case E_SOURCE_ID_EMPTY:
        f->sources[1].id[0] = '\0';
        break;
    case E_SOURCE_ID_DOT:
        f->sources[2].id[TM_ID_MAX - 1] = '.';
        break;
    case E_SOURCE_MODEL_EMPTY:
        f->sources[0].model[0] = '\0';
        break;
    case E_SOURCE_TIER_EMPTY:
        f->sources[2].tier[0] = '\0';
        break;
    case E_VALUES_NULL:
        f->sources[0].values = NULL;
        break;
    case E_VALUE_NAN:
        f->values[0] = NAN;
        break;
    case E_VALUE_INF:
        f->values[5] = INFINITY;
        break;
    case E_VALUE_NEG_INF:
        f->values[3] = -INFINITY;
        break;
    default:
        fail();
    }
}

static void test_encode_refusals(void **state)
{
    s_pkg_t f;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    for (int v = 0; v < E_COUNT; v++) {
        s_pkg_init(&f);
        s_spoil(&f, v);
        print_message("encoder variant %d\n", v);
        bytes = NULL;
        len = 7;
        assert_rc(tm_move_encode(&f.p, &bytes, &len), TM_ERR_INVAL);
        assert_null(bytes); /* nothing handed over */
    }
    s_pkg_init(&f);
    assert_rc(tm_move_encode(NULL, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_move_encode(&f.p, NULL, &len), TM_ERR_INVAL);
    assert_rc(tm_move_encode(&f.p, &bytes, NULL), TM_ERR_INVAL);
    /* NULL arrays are fine with zero counts */
    f.actors[0].n_links = 0;
    f.actors[0].links = NULL;
    f.sources[0].n_rows = 0;
    f.sources[0].values = NULL;
    assert_rc(tm_move_encode(&f.p, &bytes, &len), 0);
    free(bytes);
    f.p.n_actors = 0;
    f.p.actors = NULL;
    f.p.n_sources = 0;
    f.p.sources = NULL;
    assert_rc(tm_move_encode(&f.p, &bytes, &len), 0);
    free(bytes);
}

/* ---- limits, on both sides ---------------------------------------------- */

/* Links per actor, rows and width of a source, bytes of a record. */
static void test_limits(void **state)
{
    s_pkg_t f;
    tm_move_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_move_link_t *links = calloc(TM_MOVE_LINKS_MAX + 1, sizeof *links);
    double *values =
        calloc((size_t)(TM_MOVE_ROWS_MAX + 1) * (TM_MOVE_WIDTH_MAX + 1),
               sizeof(double));
    uint8_t *record = malloc(TM_MOVE_RECORD_MAX + 1);

    (void)state;
    assert_non_null(links);
    assert_non_null(values);
    assert_non_null(record);
    for (uint32_t i = 0; i <= TM_MOVE_LINKS_MAX; i++) {
        char src[16];
        snprintf(src, sizeof src, "s-%u", i);
        s_link(&links[i], src, "y", "u", 1 + i % TM_MOVE_ROWS_MAX, "m@1", "h");
    }
    for (size_t i = 0;
         i < (size_t)(TM_MOVE_ROWS_MAX + 1) * (TM_MOVE_WIDTH_MAX + 1); i++) {
        values[i] = (double)i * 0.5 - 1e6;
    }
    for (size_t i = 0; i <= TM_MOVE_RECORD_MAX; i++) {
        record[i] = (uint8_t)(i ^ (i >> 8));
    }

    s_pkg_init(&f);
    f.actors[1].n_links = TM_MOVE_LINKS_MAX;
    f.actors[1].links = links;
    f.actors[2].record = record;
    f.actors[2].record_len = TM_MOVE_RECORD_MAX;
    f.sources[1].n_rows = TM_MOVE_ROWS_MAX;
    f.sources[1].width = TM_MOVE_WIDTH_MAX;
    f.sources[1].values = values;
    assert_rc(tm_move_encode(&f.p, &bytes, &len), 0);
    assert_rc(tm_move_decode(bytes, len, &got), 0);
    s_assert_pkg_equal(&got, &f.p);
    tm_move_free(&got);
    free(bytes);

    /* one past each, alone: refused by the encoder */
    for (int v = 0; v < 4; v++) {
        s_pkg_t g = f;
        g.p.actors = g.actors;
        g.p.sources = g.sources;
        g.actors[1].n_links += v == 0;
        g.actors[2].record_len += v == 1;
        g.sources[1].n_rows += v == 2;
        g.sources[1].width += v == 3;
        bytes = NULL;
        print_message("limit variant %d\n", v);
        assert_rc(tm_move_encode(&g.p, &bytes, &len), TM_ERR_INVAL);
        assert_null(bytes);
    }

    /* actors and sources of one package */
    tm_move_actor_t *actors = calloc(TM_MOVE_ACTORS_MAX + 1, sizeof *actors);
    tm_move_source_t *sources =
        calloc(TM_MOVE_SOURCES_MAX + 1, sizeof *sources);
    assert_non_null(actors);
    assert_non_null(sources);
    for (uint32_t i = 0; i <= TM_MOVE_ACTORS_MAX; i++) {
        snprintf(actors[i].id, sizeof actors[i].id, "a%u", i);
        actors[i].record = f.rec0;
        actors[i].record_len = 1 + i % sizeof f.rec0;
    }
    for (uint32_t i = 0; i <= TM_MOVE_SOURCES_MAX; i++) {
        s_source(&sources[i], "s", "m@1", "low", i);
        snprintf(sources[i].id, sizeof sources[i].id, "s%u", i);
    }
    tm_move_t big = {.tick = 9,
                     .n_actors = TM_MOVE_ACTORS_MAX,
                     .actors = actors,
                     .n_sources = TM_MOVE_SOURCES_MAX,
                     .sources = sources};
    snprintf(big.from, sizeof big.from, "node-b");
    assert_rc(tm_move_encode(&big, &bytes, &len), 0);
    assert_rc(tm_move_decode(bytes, len, &got), 0);
    s_assert_pkg_equal(&got, &big);
    tm_move_free(&got);
    free(bytes);
    big.n_actors++;
    bytes = NULL;
    assert_rc(tm_move_encode(&big, &bytes, &len), TM_ERR_INVAL);
    assert_null(bytes);
    big.n_actors--;
    big.n_sources++;
    assert_rc(tm_move_encode(&big, &bytes, &len), TM_ERR_INVAL);
    assert_null(bytes);

    free(actors);
    free(sources);
    free(links);
    free(values);
    free(record);
}

/* TM_MOVE_BYTES_MAX: a package of exactly that many bytes is encoded and
 * decoded; one byte more is TM_ERR_TOO_BIG for the encoder and
 * TM_ERR_WIRE_TOO_LARGE for the decoder. */
static void test_package_size(void **state)
{
    enum { N = TM_MOVE_BYTES_MAX / TM_MOVE_RECORD_MAX };
    tm_move_actor_t actors[N];
    tm_move_t p = {.tick = 1, .n_actors = N, .actors = actors};
    tm_move_t got;
    uint8_t *record = calloc(TM_MOVE_RECORD_MAX, 1);
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_non_null(record);
    record[0] = 0x81;
    record[TM_MOVE_RECORD_MAX - 1] = 0x7f;
    snprintf(p.from, sizeof p.from, "node-a");
    memset(actors, 0, sizeof actors);
    for (int i = 0; i < N; i++) {
        snprintf(actors[i].id, sizeof actors[i].id, "big-%d", i);
        actors[i].record = record;
        actors[i].record_len = TM_MOVE_RECORD_MAX;
    }
    /* N whole records and the framing: over the limit */
    assert_rc(tm_move_encode(&p, &bytes, &len), TM_ERR_TOO_BIG);
    assert_null(bytes);

    /* the last record shorter by what is over (its bin32 header stays) */
    actors[N - 1].record_len = TM_MOVE_RECORD_MAX - 4096;
    assert_rc(tm_move_encode(&p, &bytes, &len), 0);
    assert_true(len < TM_MOVE_BYTES_MAX);
    actors[N - 1].record_len += TM_MOVE_BYTES_MAX - len;
    free(bytes);
    assert_rc(tm_move_encode(&p, &bytes, &len), 0);
    assert_int_equal(len, TM_MOVE_BYTES_MAX);
    assert_rc(tm_move_decode(bytes, len, &got), 0);
    s_assert_pkg_equal(&got, &p);
    tm_move_free(&got);

    /* one byte more: its encoding, and the bytes with one appended */
    uint8_t *over = realloc(bytes, len + 1);
    assert_non_null(over);
    over[len] = 0xc0;
    assert_rc(tm_move_decode(over, len + 1, &got), TM_ERR_WIRE_TOO_LARGE);
    s_assert_zeroed(&got);
    free(over);
    actors[N - 1].record_len++;
    bytes = NULL;
    assert_rc(tm_move_encode(&p, &bytes, &len), TM_ERR_TOO_BIG);
    assert_null(bytes);
    free(record);
}

/* ---- decoder refusals: a package built by hand -------------------------- */

/* The base package: from "node-a", tick 77; actors tank-1 (one link) and
 * sensor-2 (two links); sources pump-1 (2 rows) and valve-3 (3 rows of
 * 2). A variant spoils one thing, in the last actor, link, source or row
 * where it can, so that what was decoded before it must be freed. */
enum {
    V_OK,
    V_UNKNOWN_KEYS,
    V_NOT_MAP,
    V_NO_V,
    V_VERSION_2,
    V_VERSION_0,
    V_VERSION_STR,
    V_NO_FROM,
    V_FROM_INT,
    V_FROM_EMPTY,
    V_FROM_LONG,
    V_FROM_MAX,
    V_FROM_NUL,
    V_NO_TICK,
    V_TICK_NEG,
    V_TICK_STR,
    V_TICK_MAX,
    V_NO_ACTORS,
    V_ACTORS_MAP,
    V_ACTORS_TWICE,
    V_ACTORS_OVER,
    V_ACTORS_MAX,
    V_NO_SOURCES,
    V_SOURCES_STR,
    V_SOURCES_OVER,
    V_SOURCES_MAX,
    V_ACTOR_ARRAY,
    V_ACTOR_NO_ID,
    V_ACTOR_NO_RECORD,
    V_ACTOR_NO_LINKS,
    V_ACTOR_ID_INT,
    V_ACTOR_ID_EMPTY,
    V_ACTOR_ID_LONG,
    V_ACTOR_ID_MAX,
    V_ACTOR_ID_DOT,
    V_ACTOR_ID_NUL,
    V_RECORD_STR,
    V_RECORD_NIL,
    V_RECORD_EMPTY,
    V_LINKS_MAP,
    V_LINKS_OVER,
    V_LINKS_MAX,
    V_LINK_STR,
    V_LINK_FIVE,
    V_LINK_SEVEN,
    V_LINK_SRC_DOT,
    V_LINK_SRC_LONG,
    V_PORT_LONG,
    V_PORT_MAX,
    V_PORT_DOT,
    V_INPUT_EMPTY,
    V_DELAY_ZERO,
    V_DELAY_OVER,
    V_DELAY_MAX,
    V_DELAY_WRAP,
    V_DELAY_NEG,
    V_DELAY_STR,
    V_DELAY_FLOAT,
    V_MODEL_LONG,
    V_MODEL_MAX,
    V_TIER_EMPTY,
    V_SOURCE_MAP,
    V_SOURCE_FOUR,
    V_SOURCE_SIX,
    V_SOURCE_ID_DOT,
    V_SOURCE_ID_LONG,
    V_SOURCE_MODEL_INT,
    V_SOURCE_MODEL_EMPTY,
    V_FIRST_NEG,
    V_FIRST_MAX,
    V_ROWS_MAP,
    V_ROWS_OVER,
    V_ROWS_MAX,
    V_WIDTH_OVER,
    V_WIDTH_MAX,
    V_ROW_STR,
    V_ROW_WIDER,
    V_ROW_NARROWER,
    V_VALUE_INT,
    V_VALUE_NIL,
    V_VALUE_NAN,
    V_VALUE_INF,
    V_VALUE_F32,
    V_TRAILING,
    V_COUNT
};

static const int s_want[V_COUNT] = {
    [V_OK] = 0,
    [V_UNKNOWN_KEYS] = 0,
    [V_NOT_MAP] = TM_ERR_WIRE_TYPE,
    [V_NO_V] = TM_ERR_WIRE_FIELD,
    [V_VERSION_2] = TM_ERR_WIRE_VERSION,
    [V_VERSION_0] = TM_ERR_WIRE_VERSION,
    [V_VERSION_STR] = TM_ERR_WIRE_TYPE,
    [V_NO_FROM] = TM_ERR_WIRE_FIELD,
    [V_FROM_INT] = TM_ERR_WIRE_TYPE,
    [V_FROM_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_FROM_LONG] = TM_ERR_WIRE_FIELD,
    [V_FROM_MAX] = 0,
    [V_FROM_NUL] = TM_ERR_WIRE_FIELD,
    [V_NO_TICK] = TM_ERR_WIRE_FIELD,
    [V_TICK_NEG] = TM_ERR_WIRE_FIELD,
    [V_TICK_STR] = TM_ERR_WIRE_TYPE,
    [V_TICK_MAX] = 0,
    [V_NO_ACTORS] = TM_ERR_WIRE_FIELD,
    [V_ACTORS_MAP] = TM_ERR_WIRE_TYPE,
    [V_ACTORS_TWICE] = TM_ERR_WIRE_FIELD,
    [V_ACTORS_OVER] = TM_ERR_WIRE_FIELD,
    [V_ACTORS_MAX] = 0,
    [V_NO_SOURCES] = TM_ERR_WIRE_FIELD,
    [V_SOURCES_STR] = TM_ERR_WIRE_TYPE,
    [V_SOURCES_OVER] = TM_ERR_WIRE_FIELD,
    [V_SOURCES_MAX] = 0,
    [V_ACTOR_ARRAY] = TM_ERR_WIRE_TYPE,
    [V_ACTOR_NO_ID] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_NO_RECORD] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_NO_LINKS] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_ID_INT] = TM_ERR_WIRE_TYPE,
    [V_ACTOR_ID_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_ID_LONG] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_ID_MAX] = 0,
    [V_ACTOR_ID_DOT] = TM_ERR_WIRE_FIELD,
    [V_ACTOR_ID_NUL] = TM_ERR_WIRE_FIELD,
    [V_RECORD_STR] = TM_ERR_WIRE_TYPE,
    [V_RECORD_NIL] = TM_ERR_WIRE_TYPE,
    [V_RECORD_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_LINKS_MAP] = TM_ERR_WIRE_TYPE,
    [V_LINKS_OVER] = TM_ERR_WIRE_FIELD,
    [V_LINKS_MAX] = 0,
    [V_LINK_STR] = TM_ERR_WIRE_TYPE,
    [V_LINK_FIVE] = TM_ERR_WIRE_FIELD,
    [V_LINK_SEVEN] = TM_ERR_WIRE_FIELD,
    [V_LINK_SRC_DOT] = TM_ERR_WIRE_FIELD,
    [V_LINK_SRC_LONG] = TM_ERR_WIRE_FIELD,
    [V_PORT_LONG] = TM_ERR_WIRE_FIELD,
    [V_PORT_MAX] = 0,
    [V_PORT_DOT] = TM_ERR_WIRE_FIELD,
    [V_INPUT_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_DELAY_ZERO] = TM_ERR_WIRE_FIELD,
    [V_DELAY_OVER] = TM_ERR_WIRE_FIELD,
    [V_DELAY_MAX] = 0,
    [V_DELAY_WRAP] = TM_ERR_WIRE_FIELD,
    [V_DELAY_NEG] = TM_ERR_WIRE_TYPE,
    [V_DELAY_STR] = TM_ERR_WIRE_TYPE,
    [V_DELAY_FLOAT] = TM_ERR_WIRE_TYPE,
    [V_MODEL_LONG] = TM_ERR_WIRE_FIELD,
    [V_MODEL_MAX] = 0,
    [V_TIER_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_SOURCE_MAP] = TM_ERR_WIRE_TYPE,
    [V_SOURCE_FOUR] = TM_ERR_WIRE_FIELD,
    [V_SOURCE_SIX] = TM_ERR_WIRE_FIELD,
    [V_SOURCE_ID_DOT] = TM_ERR_WIRE_FIELD,
    [V_SOURCE_ID_LONG] = TM_ERR_WIRE_FIELD,
    [V_SOURCE_MODEL_INT] = TM_ERR_WIRE_TYPE,
    [V_SOURCE_MODEL_EMPTY] = TM_ERR_WIRE_FIELD,
    [V_FIRST_NEG] = TM_ERR_WIRE_TYPE,
    [V_FIRST_MAX] = 0,
    [V_ROWS_MAP] = TM_ERR_WIRE_TYPE,
    [V_ROWS_OVER] = TM_ERR_WIRE_FIELD,
    [V_ROWS_MAX] = 0,
    [V_WIDTH_OVER] = TM_ERR_WIRE_FIELD,
    [V_WIDTH_MAX] = 0,
    [V_ROW_STR] = TM_ERR_WIRE_TYPE,
    [V_ROW_WIDER] = TM_ERR_WIRE_FIELD,
    [V_ROW_NARROWER] = TM_ERR_WIRE_FIELD,
    [V_VALUE_INT] = TM_ERR_WIRE_TYPE,
    [V_VALUE_NIL] = TM_ERR_WIRE_TYPE,
    [V_VALUE_NAN] = TM_ERR_WIRE_FIELD,
    [V_VALUE_INF] = TM_ERR_WIRE_FIELD,
    [V_VALUE_F32] = 0,
    [V_TRAILING] = TM_ERR_WIRE_TRAILING,
};

static void s_pack_n(msgpack_packer *pk, char c, size_t n)
{
    char buf[128];
    assert_true(n <= sizeof buf);
    memset(buf, c, n);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, buf, n);
}

static void s_pack_bytes_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* One link [src, output, input, delay, model, tier], spoiled by v when
 * spoil. */
static void s_pack_link(msgpack_packer *pk, int v, bool spoil)
{
    int w = spoil ? v : V_OK;
    if (w == V_LINK_STR) {
        tm_wire_pack_str(pk, "pump-1.flow");
        return;
    }
    uint32_t n = w == V_LINK_FIVE ? 5 : w == V_LINK_SEVEN ? 7 : 6;
    msgpack_pack_array(pk, n);
    if (w == V_LINK_SRC_DOT) {
        tm_wire_pack_str(pk, "pump.1");
    } else if (w == V_LINK_SRC_LONG) {
        s_pack_n(pk, 's', TM_ID_MAX + 1);
    } else {
        tm_wire_pack_str(pk, "pump-1");
    }
    if (w == V_PORT_LONG || w == V_PORT_MAX) {
        s_pack_n(pk, 'o', TM_MOVE_PORT_MAX + (w == V_PORT_LONG));
    } else if (w == V_PORT_DOT) {
        tm_wire_pack_str(pk, "fl.ow");
    } else {
        tm_wire_pack_str(pk, "flow");
    }
    tm_wire_pack_str(pk, w == V_INPUT_EMPTY ? "" : "q_in");
    switch (w) {
    case V_DELAY_ZERO:
        msgpack_pack_uint64(pk, 0);
        break;
    case V_DELAY_OVER:
        msgpack_pack_uint64(pk, TM_MOVE_ROWS_MAX + 1);
        break;
    case V_DELAY_MAX:
        msgpack_pack_uint64(pk, TM_MOVE_ROWS_MAX);
        break;
    /* 2^32 + 1: a decoder that narrowed before checking would see 1 */
    case V_DELAY_WRAP:
        msgpack_pack_uint64(pk, (1ull << 32) + 1);
        break;
    case V_DELAY_NEG:
        msgpack_pack_int64(pk, -1);
        break;
    case V_DELAY_STR:
        tm_wire_pack_str(pk, "2");
        break;
    case V_DELAY_FLOAT:
        msgpack_pack_double(pk, 2.0);
        break;
    default:
        msgpack_pack_uint64(pk, 2);
        break;
    }
    if (w == V_MODEL_LONG || w == V_MODEL_MAX) {
        s_pack_n(pk, 'm', TM_MOVE_NAME_MAX + (w == V_MODEL_LONG));
    } else {
        tm_wire_pack_str(pk, "pump@1");
    }
    if (n == 5) {
        return;
    }
    tm_wire_pack_str(pk, w == V_TIER_EMPTY ? "" : "high");
    if (n == 7) {
        msgpack_pack_nil(pk);
    }
}

static const uint8_t s_rec[] = {0x81, 0xa1, 'v', 0x01, 0x00, 0xff};

static void s_pack_actor(msgpack_packer *pk, int v, bool spoil, const char *id,
                         uint32_t n_links)
{
    int w = spoil ? v : V_OK;
    if (w == V_ACTOR_ARRAY) {
        msgpack_pack_array(pk, 3);
        tm_wire_pack_str(pk, id);
        msgpack_pack_bin(pk, sizeof s_rec);
        msgpack_pack_bin_body(pk, s_rec, sizeof s_rec);
        msgpack_pack_array(pk, 0);
        return;
    }
    uint32_t keys = 3 + (v == V_UNKNOWN_KEYS);
    keys -=
        w == V_ACTOR_NO_ID || w == V_ACTOR_NO_RECORD || w == V_ACTOR_NO_LINKS;
    msgpack_pack_map(pk, keys);
    if (v == V_UNKNOWN_KEYS) {
        tm_wire_pack_str(pk, "state");
        msgpack_pack_array(pk, 1);
        msgpack_pack_map(pk, 0);
    }
    if (w != V_ACTOR_NO_ID) {
        tm_wire_pack_str(pk, "id");
        switch (w) {
        case V_ACTOR_ID_INT:
            msgpack_pack_uint64(pk, 2);
            break;
        case V_ACTOR_ID_EMPTY:
            tm_wire_pack_str(pk, "");
            break;
        case V_ACTOR_ID_LONG:
            s_pack_n(pk, 'a', TM_ID_MAX + 1);
            break;
        case V_ACTOR_ID_MAX:
            s_pack_n(pk, 'a', TM_ID_MAX);
            break;
        case V_ACTOR_ID_DOT:
            tm_wire_pack_str(pk, "sensor.2");
            break;
        case V_ACTOR_ID_NUL:
            s_pack_bytes_str(pk, "sens\0r-2", 8);
            break;
        default:
            tm_wire_pack_str(pk, id);
            break;
        }
    }
    if (w != V_ACTOR_NO_RECORD) {
        tm_wire_pack_str(pk, "record");
        if (w == V_RECORD_STR) {
            s_pack_bytes_str(pk, (const char *)s_rec, sizeof s_rec);
        } else if (w == V_RECORD_NIL) {
            msgpack_pack_nil(pk);
        } else {
            size_t n = w == V_RECORD_EMPTY ? 0 : sizeof s_rec;
            msgpack_pack_bin(pk, n);
            msgpack_pack_bin_body(pk, s_rec, n);
        }
    }
    if (w != V_ACTOR_NO_LINKS) {
        tm_wire_pack_str(pk, "links");
        if (w == V_LINKS_MAP) {
            msgpack_pack_map(pk, 0);
            return;
        }
        n_links = w == V_LINKS_OVER  ? TM_MOVE_LINKS_MAX + 1
                  : w == V_LINKS_MAX ? TM_MOVE_LINKS_MAX
                                     : n_links;
        msgpack_pack_array(pk, n_links);
        for (uint32_t j = 0; j < n_links; j++) {
            s_pack_link(pk, v, spoil && j == n_links - 1);
        }
    }
}

static void s_pack_value(msgpack_packer *pk, int w, double x)
{
    switch (w) {
    case V_VALUE_INT:
        msgpack_pack_uint64(pk, 7);
        break;
    case V_VALUE_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_VALUE_NAN:
        msgpack_pack_double(pk, NAN);
        break;
    case V_VALUE_INF:
        msgpack_pack_double(pk, -INFINITY);
        break;
    case V_VALUE_F32:
        msgpack_pack_float(pk, 1.5f);
        break;
    default:
        msgpack_pack_double(pk, x);
        break;
    }
}

/* [id, model, tier, first_tick, rows]: rows of width 2 (n_rows of them);
 * the last value of the last row spoiled when spoil. */
static void s_pack_source(msgpack_packer *pk, int v, bool spoil, const char *id,
                          uint32_t n_rows)
{
    int w = spoil ? v : V_OK;
    if (w == V_SOURCE_MAP) {
        msgpack_pack_map(pk, 0);
        return;
    }
    uint32_t n = w == V_SOURCE_FOUR ? 4 : w == V_SOURCE_SIX ? 6 : 5;
    msgpack_pack_array(pk, n);
    if (w == V_SOURCE_ID_DOT) {
        tm_wire_pack_str(pk, "valve.3");
    } else if (w == V_SOURCE_ID_LONG) {
        s_pack_n(pk, 'v', TM_ID_MAX + 1);
    } else {
        tm_wire_pack_str(pk, id);
    }
    if (w == V_SOURCE_MODEL_INT) {
        msgpack_pack_uint64(pk, 1);
    } else {
        tm_wire_pack_str(pk, w == V_SOURCE_MODEL_EMPTY ? "" : "valve@1");
    }
    tm_wire_pack_str(pk, "low");
    if (w == V_FIRST_NEG) {
        msgpack_pack_int64(pk, -1);
    } else {
        msgpack_pack_uint64(pk, w == V_FIRST_MAX ? UINT64_MAX : 75);
    }
    if (n == 4) {
        return;
    }
    if (w == V_ROWS_MAP) {
        msgpack_pack_map(pk, 0);
    } else if (w == V_ROWS_OVER || w == V_ROWS_MAX) {
        uint32_t rows = TM_MOVE_ROWS_MAX + (w == V_ROWS_OVER);
        msgpack_pack_array(pk, rows);
        for (uint32_t r = 0; r < rows; r++) {
            msgpack_pack_array(pk, 1);
            msgpack_pack_double(pk, (double)r);
        }
    } else if (w == V_WIDTH_OVER || w == V_WIDTH_MAX) {
        uint32_t width = TM_MOVE_WIDTH_MAX + (w == V_WIDTH_OVER);
        msgpack_pack_array(pk, 2);
        for (uint32_t r = 0; r < 2; r++) {
            msgpack_pack_array(pk, width);
            for (uint32_t j = 0; j < width; j++) {
                msgpack_pack_double(pk, (double)(r * width + j));
            }
        }
    } else {
        msgpack_pack_array(pk, n_rows);
        for (uint32_t r = 0; r < n_rows; r++) {
            bool last = r == n_rows - 1;
            int wr = last ? w : V_OK;
            if (wr == V_ROW_STR) {
                tm_wire_pack_str(pk, "1.0 2.0");
                continue;
            }
            uint32_t width = wr == V_ROW_WIDER      ? 3
                             : wr == V_ROW_NARROWER ? 1
                                                    : 2;
            msgpack_pack_array(pk, width);
            for (uint32_t j = 0; j < width; j++) {
                double x = r * 10.0 + j + 0.25;
                s_pack_value(pk, j == width - 1 ? wr : V_OK, x);
            }
        }
    }
    if (n == 6) {
        msgpack_pack_nil(pk);
    }
}

static void s_build(int v, uint8_t **out, size_t *len)
{
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    msgpack_packer *pk = &b.pk;
    if (v == V_NOT_MAP) {
        msgpack_pack_array(pk, 0);
        assert_rc(tm_wire_buf_finish(&b, out, len), 0);
        tm_wire_buf_destroy(&b);
        return;
    }
    uint32_t keys = 5 + (v == V_UNKNOWN_KEYS ? 2 : 0) + (v == V_ACTORS_TWICE);
    keys -= v == V_NO_V || v == V_NO_FROM || v == V_NO_TICK ||
            v == V_NO_ACTORS || v == V_NO_SOURCES;
    msgpack_pack_map(pk, keys);
    if (v == V_UNKNOWN_KEYS) {
        tm_wire_pack_str(pk, "moved");
        msgpack_pack_array(pk, 2);
        msgpack_pack_map(pk, 1);
        tm_wire_pack_kv_str(pk, "id", "x");
        msgpack_pack_nil(pk);
    }
    if (v != V_NO_V) {
        tm_wire_pack_str(pk, "v");
        if (v == V_VERSION_STR) {
            tm_wire_pack_str(pk, "1");
        } else {
            msgpack_pack_uint64(pk, v == V_VERSION_2   ? 2
                                    : v == V_VERSION_0 ? 0
                                                       : 1);
        }
    }
    if (v != V_NO_FROM) {
        tm_wire_pack_str(pk, "from");
        switch (v) {
        case V_FROM_INT:
            msgpack_pack_uint64(pk, 1);
            break;
        case V_FROM_EMPTY:
            tm_wire_pack_str(pk, "");
            break;
        case V_FROM_LONG:
            s_pack_n(pk, 'n', TM_MOVE_NAME_MAX + 1);
            break;
        case V_FROM_MAX:
            s_pack_n(pk, 'n', TM_MOVE_NAME_MAX);
            break;
        case V_FROM_NUL:
            s_pack_bytes_str(pk, "node\0a", 6);
            break;
        default:
            tm_wire_pack_str(pk, "node-a");
            break;
        }
    }
    if (v != V_NO_TICK) {
        tm_wire_pack_str(pk, "tick");
        switch (v) {
        case V_TICK_NEG:
            msgpack_pack_int64(pk, -1);
            break;
        case V_TICK_STR:
            tm_wire_pack_str(pk, "77");
            break;
        case V_TICK_MAX:
            msgpack_pack_uint64(pk, UINT64_MAX);
            break;
        default:
            msgpack_pack_uint64(pk, 77);
            break;
        }
    }
    if (v != V_NO_ACTORS) {
        tm_wire_pack_str(pk, "actors");
        if (v == V_ACTORS_MAP) {
            msgpack_pack_map(pk, 0);
        } else if (v == V_ACTORS_OVER || v == V_ACTORS_MAX) {
            uint32_t n = TM_MOVE_ACTORS_MAX + (v == V_ACTORS_OVER);
            msgpack_pack_array(pk, n);
            for (uint32_t i = 0; i < n; i++) {
                s_pack_actor(pk, v, false, "tank-1", 1);
            }
        } else {
            msgpack_pack_array(pk, 2);
            s_pack_actor(pk, v, false, "tank-1", 1);
            s_pack_actor(pk, v, true, "sensor-2", 2);
        }
        if (v == V_ACTORS_TWICE) {
            tm_wire_pack_str(pk, "actors");
            msgpack_pack_array(pk, 0);
        }
    }
    if (v != V_NO_SOURCES) {
        tm_wire_pack_str(pk, "sources");
        if (v == V_SOURCES_STR) {
            tm_wire_pack_str(pk, "pump-1");
        } else if (v == V_SOURCES_OVER || v == V_SOURCES_MAX) {
            uint32_t n = TM_MOVE_SOURCES_MAX + (v == V_SOURCES_OVER);
            msgpack_pack_array(pk, n);
            for (uint32_t i = 0; i < n; i++) {
                s_pack_source(pk, v, false, "p", 0);
            }
        } else {
            msgpack_pack_array(pk, 2);
            s_pack_source(pk, v, false, "pump-1", 2);
            s_pack_source(pk, v, true, "valve-3", 3);
        }
    }
    if (v == V_UNKNOWN_KEYS) {
        tm_wire_pack_kv_u64(pk, "zone", 3);
    }
    if (v == V_TRAILING) {
        msgpack_pack_nil(pk);
    }
    assert_rc(tm_wire_buf_finish(&b, out, len), 0);
    tm_wire_buf_destroy(&b);
}

/* What the accepted variants decode to. */
static void s_check_accepted(int v, const tm_move_t *p)
{
    assert_int_equal(p->n_actors, v == V_ACTORS_MAX ? TM_MOVE_ACTORS_MAX : 2);
    assert_int_equal(p->n_sources,
                     v == V_SOURCES_MAX ? TM_MOVE_SOURCES_MAX : 2);
    assert_true(p->tick == (v == V_TICK_MAX ? UINT64_MAX : 77));
    assert_int_equal(strlen(p->from), v == V_FROM_MAX ? TM_MOVE_NAME_MAX : 6);
    const tm_move_actor_t *a = &p->actors[p->n_actors - 1];
    assert_int_equal(a->record_len, sizeof s_rec);
    assert_memory_equal(a->record, s_rec, sizeof s_rec);
    if (v == V_ACTORS_MAX || v == V_SOURCES_MAX) {
        return;
    }
    assert_string_equal(p->actors[0].id, "tank-1");
    assert_int_equal(p->actors[0].n_links, 1);
    assert_int_equal(a->n_links, v == V_LINKS_MAX ? TM_MOVE_LINKS_MAX : 2);
    assert_int_equal(strlen(a->id), v == V_ACTOR_ID_MAX ? TM_ID_MAX : 8);
    const tm_move_link_t *l = &a->links[a->n_links - 1];
    assert_string_equal(l->src, "pump-1");
    assert_int_equal(strlen(l->output), v == V_PORT_MAX ? TM_MOVE_PORT_MAX : 4);
    assert_string_equal(l->input, "q_in");
    assert_int_equal(l->delay, v == V_DELAY_MAX ? TM_MOVE_ROWS_MAX : 2);
    assert_int_equal(strlen(l->model), v == V_MODEL_MAX ? TM_MOVE_NAME_MAX : 6);
    assert_string_equal(l->tier, "high");
    const tm_move_source_t *s = &p->sources[1];
    assert_string_equal(s->id, "valve-3");
    assert_string_equal(s->model, "valve@1");
    assert_string_equal(s->tier, "low");
    assert_true(s->first_tick == (v == V_FIRST_MAX ? UINT64_MAX : 75));
    assert_int_equal(p->sources[0].n_rows, 2);
    if (v == V_ROWS_MAX) {
        assert_int_equal(s->n_rows, TM_MOVE_ROWS_MAX);
        assert_int_equal(s->width, 1);
        assert_true(s->values[TM_MOVE_ROWS_MAX - 1] == TM_MOVE_ROWS_MAX - 1);
    } else if (v == V_WIDTH_MAX) {
        assert_int_equal(s->n_rows, 2);
        assert_int_equal(s->width, TM_MOVE_WIDTH_MAX);
        assert_true(s->values[2 * TM_MOVE_WIDTH_MAX - 1] ==
                    2 * TM_MOVE_WIDTH_MAX - 1);
    } else {
        assert_int_equal(s->n_rows, 3);
        assert_int_equal(s->width, 2);
        assert_true(s->values[0] == 0.25 && s->values[1] == 1.25);
        assert_true(s->values[4] == 20.25);
        assert_true(s->values[5] == (v == V_VALUE_F32 ? 1.5 : 21.25));
    }
}

static void test_decode_refusals(void **state)
{
    tm_move_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    for (int v = 0; v < V_COUNT; v++) {
        s_build(v, &bytes, &len);
        print_message("decoder variant %d\n", v);
        memset(&got, 0x5a, sizeof got);
        assert_rc(tm_move_decode(bytes, len, &got), s_want[v]);
        if (s_want[v] == 0) {
            s_check_accepted(v, &got);
            /* and what was accepted encodes again */
            uint8_t *again = NULL;
            size_t again_len = 0;
            assert_rc(tm_move_encode(&got, &again, &again_len), 0);
            free(again);
            tm_move_free(&got);
        }
        s_assert_zeroed(&got);
        free(bytes);
    }
}

/* The base package's prefixes fail too: they cut inside every kind of
 * object the hand-built packages hold. */
static void test_decode_prefixes(void **state)
{
    tm_move_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    s_build(V_UNKNOWN_KEYS, &bytes, &len);
    for (size_t k = 0; k < len; k++) {
        uint8_t *b = malloc(k + 1);
        assert_non_null(b);
        memcpy(b, bytes, k);
        int rc = tm_move_decode(b, k, &got);
        if (rc != TM_ERR_WIRE_TRUNCATED && rc != TM_ERR_WIRE_COUNT) {
            print_error("prefix %zu of %zu: %s\n", k, len, tm_err_name(rc));
            fail();
        }
        s_assert_zeroed(&got);
        free(b);
    }
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_package_size),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_decode_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
