/* move_fuzz: tm_move_decode (the package that moves actors between nodes)
 * on arbitrary bytes. A refused package is left zeroed; a decoded one keeps
 * the rules of tm_move_wire.h (names, counts, delays, finite values,
 * records inside the package's own copy of the bytes), re-encodes, decodes
 * to the same fields (value bits, record bytes) and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_move_wire.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 .. max bytes before the NUL of a char[max + 1]. */
static void s_name(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    FUZZ_REQUIRE(n >= 1 && n <= max);
}

/* A word: letters, digits, '_' and '-' (ids and ports). */
static void s_word(const char *s, size_t max)
{
    s_name(s, max);
    for (const char *c = s; *c != '\0'; c++) {
        FUZZ_REQUIRE((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '_' || *c == '-');
    }
}

static void s_check(const tm_move_t *p, const uint8_t *data, size_t size)
{
    s_name(p->from, TM_MOVE_NAME_MAX);
    FUZZ_REQUIRE(p->n_actors <= TM_MOVE_ACTORS_MAX);
    FUZZ_REQUIRE(p->n_sources <= TM_MOVE_SOURCES_MAX);
    for (uint32_t i = 0; i < p->n_actors; i++) {
        const tm_move_actor_t *a = &p->actors[i];
        s_word(a->id, TM_ID_MAX);
        FUZZ_REQUIRE(a->record_len >= 1 && a->record_len <= TM_MOVE_RECORD_MAX);
        /* borrowed from the package's copy, the input's bytes */
        FUZZ_REQUIRE(a->record >= p->owned &&
                     a->record + a->record_len <= p->owned + size);
        size_t off = (size_t)(a->record - p->owned);
        FUZZ_REQUIRE(memcmp(a->record, data + off, a->record_len) == 0);
        FUZZ_REQUIRE(a->n_links <= TM_MOVE_LINKS_MAX);
        FUZZ_REQUIRE((a->n_links == 0) == (a->links == NULL));
        for (uint32_t j = 0; j < a->n_links; j++) {
            const tm_move_link_t *l = &a->links[j];
            s_word(l->src, TM_ID_MAX);
            s_word(l->output, TM_MOVE_PORT_MAX);
            s_word(l->input, TM_MOVE_PORT_MAX);
            FUZZ_REQUIRE(l->delay >= 1 && l->delay <= TM_MOVE_ROWS_MAX);
            s_name(l->model, TM_MOVE_NAME_MAX);
            s_name(l->tier, TM_MOVE_NAME_MAX);
        }
    }
    for (uint32_t i = 0; i < p->n_sources; i++) {
        const tm_move_source_t *s = &p->sources[i];
        s_word(s->id, TM_ID_MAX);
        s_name(s->model, TM_MOVE_NAME_MAX);
        s_name(s->tier, TM_MOVE_NAME_MAX);
        FUZZ_REQUIRE(s->n_rows <= TM_MOVE_ROWS_MAX);
        FUZZ_REQUIRE(s->width <= TM_MOVE_WIDTH_MAX);
        FUZZ_REQUIRE(s->n_rows > 0 || s->width == 0);
        for (size_t k = 0; k < (size_t)s->n_rows * s->width; k++) {
            FUZZ_REQUIRE(isfinite(s->values[k]));
        }
    }
}

static void s_same(const tm_move_t *a, const tm_move_t *b)
{
    FUZZ_REQUIRE(strcmp(a->from, b->from) == 0 && a->tick == b->tick);
    FUZZ_REQUIRE(a->n_actors == b->n_actors && a->n_sources == b->n_sources);
    for (uint32_t i = 0; i < a->n_actors; i++) {
        const tm_move_actor_t *x = &a->actors[i];
        const tm_move_actor_t *y = &b->actors[i];
        FUZZ_REQUIRE(strcmp(x->id, y->id) == 0);
        FUZZ_REQUIRE(x->record_len == y->record_len);
        FUZZ_REQUIRE(memcmp(x->record, y->record, x->record_len) == 0);
        FUZZ_REQUIRE(x->n_links == y->n_links);
        for (uint32_t j = 0; j < x->n_links; j++) {
            const tm_move_link_t *l = &x->links[j];
            const tm_move_link_t *m = &y->links[j];
            FUZZ_REQUIRE(strcmp(l->src, m->src) == 0);
            FUZZ_REQUIRE(strcmp(l->output, m->output) == 0);
            FUZZ_REQUIRE(strcmp(l->input, m->input) == 0);
            FUZZ_REQUIRE(l->delay == m->delay);
            FUZZ_REQUIRE(strcmp(l->model, m->model) == 0);
            FUZZ_REQUIRE(strcmp(l->tier, m->tier) == 0);
        }
    }
    for (uint32_t i = 0; i < a->n_sources; i++) {
        const tm_move_source_t *x = &a->sources[i];
        const tm_move_source_t *y = &b->sources[i];
        FUZZ_REQUIRE(strcmp(x->id, y->id) == 0);
        FUZZ_REQUIRE(strcmp(x->model, y->model) == 0);
        FUZZ_REQUIRE(strcmp(x->tier, y->tier) == 0);
        FUZZ_REQUIRE(x->first_tick == y->first_tick);
        FUZZ_REQUIRE(x->n_rows == y->n_rows && x->width == y->width);
        size_t n = (size_t)x->n_rows * x->width;
        FUZZ_REQUIRE(n == 0 ||
                     memcmp(x->values, y->values, n * sizeof(double)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tm_move_t zero;
    tm_move_t p1;
    tm_move_t p2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    FUZZ_REQUIRE(tm_move_decode(data, size, NULL) == TM_ERR_INVAL);
    memset(&p1, 0x5a, sizeof p1);
    int rc = tm_move_decode(data, size, &p1);
    if (rc != 0) {
        /* an error of the decoder's list, nothing left to free */
        FUZZ_REQUIRE(rc <= TM_ERR_WIRE_TRUNCATED &&
                     rc >= TM_ERR_WIRE_MALFORMED);
        FUZZ_REQUIRE(memcmp(&p1, &zero, sizeof zero) == 0);
        return 0;
    }
    s_check(&p1, data, size);
    FUZZ_REQUIRE(tm_move_encode(&p1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_move_decode(b1, n1, &p2) == 0);
    s_same(&p1, &p2);
    FUZZ_REQUIRE(tm_move_encode(&p2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_move_free(&p1);
    FUZZ_REQUIRE(memcmp(&p1, &zero, sizeof zero) == 0);
    tm_move_free(&p1);
    tm_move_free(&p2);
    free(b1);
    free(b2);
    return 0;
}
