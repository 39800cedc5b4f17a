/* plant_test: plant files (protocol/tm_plant) - every class of error with
 * its file:line:col: field message, YAML and JSON read alike, the writer
 * reads back bit for bit, chunks round-trip and refuse hostile bytes;
 * placement over the nodes of a mesh and each node's part. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_plant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_err[1024];

static int s_parse(tm_plant_t *p, const char *file, const char *text)
{
    s_err[0] = '\0';
    return tm_plant_parse(p, file, text, strlen(text), TM_PLANT_AUTO, s_err,
                          sizeof s_err);
}

/* text must fail with rc and exactly the message want. */
static void s_fails(const char *file, const char *text, int rc,
                    const char *want)
{
    tm_plant_t p;
    tm_plant_init(&p, file);
    int got = s_parse(&p, file, text);
    if (got != rc || strcmp(s_err, want) != 0) {
        fail_msg("%s: got %d '%s', want %d '%s'", file, got, s_err, rc, want);
    }
    assert_int_equal(p.n_actors, 0); /* nothing kept on error */
    assert_int_equal(p.n_links, 0);
    tm_plant_free(&p);
}

/* The text of p written in format. */
static char *s_write(const tm_plant_t *p, tm_plant_format_t format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tm_plant_write(p, f, format), 0);
    fclose(f);
    return buf;
}

static const char *s_yaml = "# a small plant\n"
                            "plant: 1\n"
                            "actors:\n"
                            "  - id: tank0\n"
                            "    model: tank\n"
                            "    params: {area: 20, h0: 2}\n"
                            "  - id: pump-1\n"
                            "    model: pump\n"
                            "    version: 1.0.0\n"
                            "    fidelity: medium\n"
                            "    period: 2\n"
                            "    node: node-a\n"
                            "    site: north\n"
                            "    inputs:\n"
                            "      speed_cmd: 0.5\n"
                            "    state: {omega: -0.0, q: 1e-300}\n"
                            "    outputs: {speed: 0.1}\n"
                            "links:\n"
                            "  - {from: pump-1.flow, to: tank0.qin}\n"
                            "  - from: tank0.level\n"
                            "    to: pump-1.h_suction\n"
                            "    delay: 3\n";

static const char *s_json =
    "{\"plant\": 1, \"actors\": [\n"
    " {\"id\": \"tank0\", \"model\": \"tank\", \"params\": {\"area\": 20, "
    "\"h0\": 2}},\n"
    " {\"id\": \"pump-1\", \"model\": \"pump\", \"version\": \"1.0.0\",\n"
    "  \"fidelity\": \"medium\", \"period\": 2, \"node\": \"node-a\", "
    "\"site\": \"north\",\n"
    "  \"inputs\": {\"speed_cmd\": 0.5}, \"state\": {\"omega\": -0.0, \"q\": "
    "1e-300},\n"
    "  \"outputs\": {\"speed\": 0.1}}],\n"
    " \"links\": [{\"from\": \"pump-1.flow\", \"to\": \"tank0.qin\"},\n"
    "  {\"from\": \"tank0.level\", \"to\": \"pump-1.h_suction\", \"delay\": "
    "3}]}\n";

static void test_parse_yaml(void **state)
{
    (void)state;
    tm_plant_t p;
    tm_plant_init(&p, NULL);
    assert_int_equal(s_parse(&p, "plant.yaml", s_yaml), 0);
    assert_int_equal(p.n_actors, 2);
    assert_int_equal(p.n_links, 2);
    const tm_plant_actor_t *a = &p.actors[1];
    assert_string_equal(a->id, "pump-1");
    assert_string_equal(a->version, "1.0.0");
    assert_int_equal(a->fidelity, TM_FIDELITY_MEDIUM);
    assert_int_equal(a->period, 2);
    assert_string_equal(a->node, "node-a");
    assert_string_equal(a->site, "north");
    assert_int_equal(a->pos[TM_PLANT_F_ID].line, 7);
    assert_int_equal(a->pos[TM_PLANT_F_ID].col, 9);
    uint32_t n = 0;
    const tm_plant_value_t *v = tm_plant_values(&p, a, TM_PLANT_STATE, &n);
    assert_int_equal(n, 2);
    assert_true(v[0].value == 0 && signbit(v[0].value));
    assert_true(v[1].value == 1e-300);
    assert_null(p.actors[0].version);
    assert_int_equal(p.actors[0].fidelity, -1);
    assert_int_equal(p.links[0].delay, 1);
    assert_int_equal(p.links[1].delay, 3);
    assert_string_equal(p.links[1].src, "tank0");
    assert_string_equal(p.links[1].input, "h_suction");
    assert_int_equal(p.links[1].pos[TM_PLANT_L_DELAY].line, 22);
    tm_plant_free(&p);
}

/* The same plant as YAML and as JSON: the same structure, written alike. */
static void test_yaml_json_equivalent(void **state)
{
    (void)state;
    tm_plant_t y;
    tm_plant_t j;
    tm_plant_init(&y, NULL);
    tm_plant_init(&j, NULL);
    assert_int_equal(s_parse(&y, "plant.yaml", s_yaml), 0);
    assert_int_equal(s_parse(&j, "plant.json", s_json), 0);
    char *ty = s_write(&y, TM_PLANT_YAML);
    char *tj = s_write(&j, TM_PLANT_YAML);
    assert_string_equal(ty, tj);
    free(tj);
    tj = s_write(&j, TM_PLANT_JSON);
    char *ty2 = s_write(&y, TM_PLANT_JSON);
    assert_string_equal(ty2, tj);
    free(ty);
    free(ty2);
    free(tj);
    /* by content when the name says nothing */
    tm_plant_t c;
    tm_plant_init(&c, NULL);
    assert_int_equal(s_parse(&c, "plant", s_json), 0);
    assert_int_equal(c.n_actors, 2);
    tm_plant_free(&c);
    tm_plant_free(&y);
    tm_plant_free(&j);
}

/* Written and read back: every double bit for bit, in both formats. */
static void test_write_round_trip(void **state)
{
    (void)state;
    static const double vals[] = {0.1,     -0.0,
                                  1e-300,  5e-324,
                                  1.7e308, 2.0 / 3,
                                  20,      123456789012345678.0,
                                  -1e-7,   0.30000000000000004};
    tm_plant_t p;
    tm_plant_init(&p, "gen");
    tm_plant_actor_t a;
    memset(&a, 0, sizeof a);
    a.id = tm_plant_strdup(&p, "o1", 2);
    a.model = tm_plant_strdup(&p, "oscillator", 10);
    a.fidelity = -1;
    assert_int_equal(tm_plant_add_actor(&p, &a), 0);
    tm_plant_pos_t none = {0, 0};
    char name[8][4];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        snprintf(name[i % 8], sizeof name[0], "v%zu", i);
        const char *nm = tm_plant_strdup(&p, name[i % 8], strlen(name[i % 8]));
        assert_int_equal(
            tm_plant_add_value(&p, TM_PLANT_STATE, nm, vals[i], none), 0);
    }
    for (int f = TM_PLANT_YAML; f <= TM_PLANT_JSON; f++) {
        char *text = s_write(&p, (tm_plant_format_t)f);
        tm_plant_t q;
        tm_plant_init(&q, NULL);
        assert_int_equal(
            s_parse(&q, f == TM_PLANT_JSON ? "r.json" : "r.yaml", text), 0);
        uint32_t n = 0;
        const tm_plant_value_t *v =
            tm_plant_values(&q, &q.actors[0], TM_PLANT_STATE, &n);
        assert_int_equal(n, sizeof vals / sizeof vals[0]);
        for (uint32_t i = 0; i < n; i++) {
            assert_memory_equal(&v[i].value, &vals[i], sizeof(double));
        }
        char *again = s_write(&q, (tm_plant_format_t)f);
        assert_string_equal(text, again);
        free(again);
        free(text);
        tm_plant_free(&q);
    }
    char buf[32];
    assert_string_equal(tm_plant_fmt_double(20, buf), "20");
    assert_string_equal(tm_plant_fmt_double(0.1, buf), "0.1");
    tm_plant_free(&p);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    s_fails("p.yaml", "actors: [\n  {id: a, model: tank\n", TM_ERR_PLANT,
            "p.yaml:3:1: YAML: did not find expected ',' or '}' while parsing "
            "a flow mapping");
    s_fails("p.json", "{\"actors\": [{\"id\": \"a\",}]}", TM_ERR_PLANT,
            "p.json:1:24: JSON: string or '}' expected near '}'");
    s_fails("p.json", "{\"actors\": [], \"actors\": []}", TM_ERR_PLANT,
            "p.json:1:23: JSON: duplicate object key near '\"actors\"'");
    s_fails("p.json", "actors: []\n", TM_ERR_PLANT,
            "p.json:1:6: JSON: '[' or '{' expected near 'actors'");
    s_fails("p.yaml", "", TM_ERR_PLANT,
            "p.yaml:1:1: expected a mapping with 'actors' and 'links' (the "
            "file is empty)");
    s_fails("p.yaml", "- a\n", TM_ERR_PLANT,
            "p.yaml:1:1: expected a mapping with 'actors' and 'links'");
    s_fails("p.yaml", "actors: []\n---\nactors: []\n", TM_ERR_PLANT,
            "p.yaml:2:1: a plant file holds one document, this is a second "
            "one");
    s_fails("p.yaml", "a: &x [1]\nactors: *x\n", TM_ERR_PLANT,
            "p.yaml:2:9: aliases (*name) are not supported in plant files");
    s_fails("p.yaml", "actors: [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]\n",
            TM_ERR_PLANT, "p.yaml:1:24: nested deeper than 16 levels");
}

static void test_structure_errors(void **state)
{
    (void)state;
    s_fails("p.yaml", "plant: 2\n", TM_ERR_PLANT,
            "p.yaml:1:8: plant: expected a whole number in 1..1, got '2'");
    s_fails("p.yaml", "actorz: []\n", TM_ERR_PLANT,
            "p.yaml:1:1: unknown key 'actorz' (known: plant, actors, "
            "links)");
    s_fails("p.yaml", "actors: []\nactors: []\n", TM_ERR_PLANT,
            "p.yaml:2:1: key 'actors' is given twice");
    s_fails("p.yaml", "plant: 1\nlinks: []\n", TM_ERR_PLANT,
            "p.yaml:1:1: missing 'actors' (the plant lists every actor of the "
            "mesh; write 'actors: []' for an empty mesh)");
    s_fails("p.yaml", "actors: {id: a}\n", TM_ERR_PLANT,
            "p.yaml:1:9: actors: expected a list, got a mapping");
    s_fails("p.yaml", "actors:\n  - id: a\n    colour: red\n    model: tank\n",
            TM_ERR_PLANT,
            "p.yaml:3:5: actors[0]: unknown key 'colour' (known: id, model, "
            "version, fidelity, period, node, site, params, inputs, state, "
            "outputs)");
    s_fails("p.yaml", "actors:\n  - {id: a}\n", TM_ERR_PLANT,
            "p.yaml:2:5: actors[0]: missing 'model'");
    s_fails("p.yaml", "links:\n  - {from: a.x}\n", TM_ERR_PLANT,
            "p.yaml:2:5: links[0]: missing 'to'");
}

static void test_type_errors(void **state)
{
    (void)state;
    s_fails("p.yaml", "actors:\n  - {id: [a], model: tank}\n", TM_ERR_PLANT,
            "p.yaml:2:10: actors[0].id: expected a value, got a list");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, period: \"2\"}\n",
            TM_ERR_PLANT,
            "p.yaml:2:34: actors[0].period: expected a whole number in "
            "1..4294967295, got \"2\"");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, period: 0}\n",
            TM_ERR_PLANT,
            "p.yaml:2:34: actors[0].period: expected a whole number in "
            "1..4294967295, got '0'");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, period: 1.5}\n",
            TM_ERR_PLANT,
            "p.yaml:2:34: actors[0].period: expected a whole number in "
            "1..4294967295, got '1.5'");
    s_fails("p.yaml",
            "actors:\n  - id: a\n    model: tank\n    params:\n"
            "      area: \"2\"\n",
            TM_ERR_PLANT,
            "p.yaml:5:13: actors[0].params.area: expected a number, got the "
            "string \"2\"");
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank, params: {area: .inf}}\n",
            TM_ERR_PLANT,
            "p.yaml:2:41: actors[0].params.area: expected a finite number, "
            "got '.inf'");
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank, params: {area: 1e-400}}\n",
            TM_ERR_PLANT,
            "p.yaml:2:41: actors[0].params.area: 1e-400 is out of the range "
            "of a double");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, params: [1]}\n",
            TM_ERR_PLANT,
            "p.yaml:2:34: actors[0].params: expected a mapping, got a list");
    s_fails("p.yaml", "actors:\n  - {id: null, model: tank}\n", TM_ERR_PLANT,
            "p.yaml:2:10: actors[0].id: expected a string, got 'null'");
    s_fails("p.json", "{\"actors\": [{\"id\": 5, \"model\": \"tank\"}]}",
            TM_ERR_PLANT,
            "p.json:1:20: actors[0].id: expected a string, got '5'");
}

static void test_value_errors(void **state)
{
    (void)state;
    s_fails("p.yaml", "actors:\n  - {id: a b, model: tank}\n", TM_ERR_PLANT,
            "p.yaml:2:10: actors[0].id: bad actor id 'a b': ids are 1-64 "
            "letters, digits, '_' or '-'");
    s_fails("p.yaml", "actors:\n  - {id: a, model: t.nk}\n", TM_ERR_PLANT,
            "p.yaml:2:20: actors[0].model: bad model family 't.nk'");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, version: '1.0'}\n",
            TM_ERR_PLANT,
            "p.yaml:2:35: actors[0].version: bad version (MAJOR.MINOR.PATCH) "
            "'1.0'");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, fidelity: best}\n",
            TM_ERR_PLANT,
            "p.yaml:2:36: actors[0].fidelity: unknown fidelity 'best' (high, "
            "medium or low)");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, node: 'a b'}\n",
            TM_ERR_PLANT, "p.yaml:2:32: actors[0].node: bad node name 'a b'");
    s_fails("p.yaml", "actors:\n  - {id: a, model: tank, params: {a-b: 1}}\n",
            TM_ERR_PLANT,
            "p.yaml:2:35: actors[0].params: bad name 'a-b': names are "
            "letters, digits and '_'");
    s_fails(
        "p.yaml", "actors:\n  - {id: a, model: tank, state: {h: 1, h: 2}}\n",
        TM_ERR_PLANT, "p.yaml:2:40: actors[0].state: key 'h' is given twice");
    s_fails("p.yaml", "links:\n  - {from: ax, to: b.y}\n", TM_ERR_PLANT,
            "p.yaml:2:12: links[0].from: expected ACTOR.PORT, got 'ax'");
    s_fails("p.yaml", "links:\n  - {from: a.x, to: b.y, delay: 0}\n",
            TM_ERR_PLANT,
            "p.yaml:2:33: links[0].delay: expected a whole number in "
            "1..1000, got '0'");
    s_fails("p.yaml", "links:\n  - {from: a.x, to: b.y, delay: 1001}\n",
            TM_ERR_PLANT,
            "p.yaml:2:33: links[0].delay: expected a whole number in "
            "1..1000, got '1001'");
}

static void test_plant_errors(void **state)
{
    (void)state;
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank}\n  - {id: b, model: tank}\n"
            "  - {id: a, model: pump}\n",
            TM_ERR_PLANT,
            "p.yaml:4:10: actors[2].id: duplicate id 'a' (first at line 2, "
            "actors[0])");
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank}\nlinks:\n"
            "  - {from: a.level, to: z.qin}\n",
            TM_ERR_PLANT,
            "p.yaml:4:25: links[0].to: actor 'z' is not in the plant (a plant "
            "file lists every actor of the mesh)");
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank}\nlinks:\n"
            "  - {from: z.level, to: a.qin}\n",
            TM_ERR_PLANT,
            "p.yaml:4:12: links[0].from: actor 'z' is not in the plant (a "
            "plant file lists every actor of the mesh)");
    s_fails("p.yaml",
            "actors:\n  - {id: a, model: tank}\nlinks:\n"
            "  - {from: a.level, to: a.qin}\n  - {from: a.level, to: a.qin}\n",
            TM_ERR_PLANT,
            "p.yaml:5:5: links[1]: link a.level -> a.qin is given twice (first "
            "at line 4, links[0])");
}

/* ---- chunks ------------------------------------------------------------- */

static void test_chunks_round_trip(void **state)
{
    (void)state;
    tm_plant_t p;
    tm_plant_t q;
    tm_plant_init(&p, NULL);
    tm_plant_init(&q, "other");
    assert_int_equal(s_parse(&p, "plant.yaml", s_yaml), 0);
    tm_plant_chunk_t h = {.upload = 42};
    size_t na = 0;
    size_t nl = 0;
    int chunks = 0;
    do {
        uint8_t *bytes = NULL;
        size_t len = 0;
        /* small chunks: one item each */
        assert_int_equal(
            tm_plant_chunk_encode(&p, &h, &na, &nl, 800, &bytes, &len), 0);
        tm_plant_chunk_t got;
        assert_int_equal(tm_plant_chunk_decode(bytes, len, NULL, &got, &q), 0);
        assert_int_equal(got.upload, 42);
        assert_int_equal(got.index, (uint32_t)chunks);
        assert_int_equal(got.final, h.final);
        assert_string_equal(got.file, "plant.yaml");
        free(bytes);
        h.index++;
        chunks++;
    } while (!h.final);
    assert_true(chunks >= 3);
    assert_int_equal(q.n_actors, 2);
    assert_int_equal(q.n_links, 2);
    /* positions travel too */
    assert_int_equal(q.actors[1].pos[TM_PLANT_F_ID].line, 7);
    assert_int_equal(q.links[1].pos[TM_PLANT_L_DELAY].line, 22);
    char *a = s_write(&p, TM_PLANT_YAML);
    char *b = s_write(&q, TM_PLANT_YAML);
    assert_string_equal(a, b);
    free(a);
    free(b);
    tm_plant_free(&p);
    tm_plant_free(&q);
}

/* Hostile chunks: refused, and nothing is appended. */
static void test_chunks_hostile(void **state)
{
    (void)state;
    tm_plant_t p;
    tm_plant_t q;
    tm_plant_init(&p, NULL);
    tm_plant_init(&q, NULL);
    assert_int_equal(s_parse(&p, "plant.yaml", s_yaml), 0);
    tm_plant_chunk_t h = {.upload = 1};
    size_t na = 0;
    size_t nl = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(
        tm_plant_chunk_encode(&p, &h, &na, &nl, 1 << 20, &bytes, &len), 0);
    assert_true(h.final);
    tm_plant_chunk_t got;
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_true(tm_plant_chunk_decode(bytes, cut, NULL, &got, &q) < 0);
        assert_int_equal(q.n_actors + q.n_links + q.n_values, 0);
    }
    /* a double replaced by NaN: the first float64 (0xcb) is a value */
    uint8_t *nan = memchr(bytes, 0xcb, len);
    assert_non_null(nan);
    memcpy(nan + 1, "\x7f\xf8\0\0\0\0\0\0", 8);
    assert_int_equal(tm_plant_chunk_decode(bytes, len, NULL, &got, &q),
                     TM_ERR_WIRE_FIELD);
    assert_int_equal(q.n_actors + q.n_links + q.n_values, 0);
    static const uint8_t huge[] = {0x81, 0xa6, 'a',  'c',  't',  'o', 'r',
                                   's',  0xdd, 0xff, 0x00, 0x00, 0x00};
    assert_int_equal(tm_plant_chunk_decode(huge, sizeof huge, NULL, &got, &q),
                     TM_ERR_WIRE_COUNT);
    assert_int_equal(tm_plant_chunk_decode(bytes, len, NULL, NULL, &q),
                     TM_ERR_INVAL);
    free(bytes);
    tm_plant_free(&p);
    tm_plant_free(&q);
}

/* Placement: node, site, the applying node; each node's part holds its
 * actors, the links into them and references to the sources elsewhere. */
static const tm_plant_node_t s_nodes[] = {{"a", "north", 0, 1},
                                          {"b", "east", 0, 1},
                                          {"c", "south", 0, 1},
                                          {"d", "south", 0, 1}};

/* Placement of p over nodes[0..n), every actor new. */
static int s_place(const tm_plant_t *p, const tm_plant_node_t *nodes, size_t n,
                   uint32_t *where)
{
    for (size_t i = 0; i < p->n_actors; i++) {
        where[i] = TM_PLANT_NEW;
    }
    return tm_plant_place(p, nodes, n, where, s_err, sizeof s_err);
}

static void s_misplaced(const char *text, const char *want)
{
    tm_plant_t p;
    uint32_t where[8];
    tm_plant_init(&p, "p.yaml");
    assert_int_equal(s_parse(&p, "p.yaml", text), 0);
    s_err[0] = '\0';
    int rc = s_place(&p, s_nodes, 4, where);
    if (rc != TM_ERR_NOT_FOUND || strcmp(s_err, want) != 0) {
        fail_msg("got %d '%s', want '%s'", rc, s_err, want);
    }
    tm_plant_free(&p);
}

static void test_place_and_parts(void **state)
{
    (void)state;
    tm_plant_t p;
    tm_plant_t part;
    uint32_t where[8];
    tm_plant_init(&p, "p.yaml");
    assert_int_equal(
        s_parse(&p, "p.yaml",
                "actors:\n"
                "  - {id: t0, model: tank, site: east, params: {area: 2}}\n"
                "  - {id: p1, model: pump, node: c, version: 1.0.0}\n"
                "  - {id: t1, model: tank}\n"
                "  - {id: t2, model: tank, node: b, site: east}\n"
                "links:\n"
                "  - {from: t0.level, to: p1.h_suction, delay: 4}\n"
                "  - {from: p1.flow, to: t0.qin}\n"
                "  - {from: p1.flow, to: t1.qin}\n"
                "  - {from: t2.level, to: t0.qout}\n"),
        0);
    assert_int_equal(s_place(&p, s_nodes, 4, where), 0);
    assert_int_equal(where[0], 1); /* site east: b */
    assert_int_equal(where[1], 2); /* node c */
    assert_int_equal(where[2], 0); /* neither: the least loaded, a */
    assert_int_equal(where[3], 1);
    /* b: t0 and t2, and p1 (c) as a reference; the links into t0, t2 */
    assert_int_equal(tm_plant_part(&p, s_nodes, where, 1, &part), 0);
    assert_string_equal(part.file, "p.yaml");
    assert_int_equal(part.n_actors, 3);
    assert_string_equal(part.actors[0].id, "t0");
    assert_string_equal(part.actors[0].node, "b");
    assert_string_equal(part.actors[0].site, "east");
    assert_int_equal(part.actors[0].count[TM_PLANT_PARAMS], 1);
    assert_string_equal(part.actors[1].id, "p1");
    assert_string_equal(part.actors[1].node, "c");
    assert_string_equal(part.actors[1].version, "1.0.0");
    assert_int_equal(part.actors[1].count[TM_PLANT_PARAMS], 0);
    assert_int_equal(part.actors[1].pos[TM_PLANT_F_ID].line, 3);
    assert_string_equal(part.actors[2].id, "t2");
    assert_int_equal(part.n_links, 2);
    assert_string_equal(part.links[0].dst, "t0");
    assert_string_equal(part.links[0].input, "qin");
    assert_string_equal(part.links[1].src, "t2");
    assert_int_equal(tm_plant_check(&part, s_err, sizeof s_err), 0);
    /* the items keep their places in the file, through chunks too */
    assert_int_equal(part.actors[2].index, 3);
    assert_int_equal(part.links[1].index, 3);
    tm_plant_chunk_t h = {.upload = 5};
    size_t na = 0;
    size_t nl = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_plant_t back;
    tm_plant_init(&back, "p.yaml");
    assert_int_equal(
        tm_plant_chunk_encode(&part, &h, &na, &nl, 1u << 20, &bytes, &len), 0);
    assert_int_equal(tm_plant_chunk_decode(bytes, len, NULL, &h, &back), 0);
    assert_int_equal(back.actors[1].index, 1);
    assert_int_equal(back.actors[2].index, 3);
    assert_int_equal(back.links[0].index, 1);
    assert_int_equal(back.links[1].index, 3);
    free(bytes);
    tm_plant_free(&back);
    tm_plant_free(&part);
    /* c: p1 and t0 as a reference (delay kept) */
    assert_int_equal(tm_plant_part(&p, s_nodes, where, 2, &part), 0);
    assert_int_equal(part.n_actors, 2);
    assert_string_equal(part.actors[0].id, "t0");
    assert_string_equal(part.actors[0].node, "b");
    assert_null(part.actors[0].site);
    assert_int_equal(part.n_links, 1);
    assert_int_equal(part.links[0].delay, 4);
    assert_int_equal(part.links[0].pos[TM_PLANT_L_DELAY].line, 7);
    tm_plant_free(&part);
    /* d: nothing */
    assert_int_equal(tm_plant_part(&p, s_nodes, where, 3, &part), 0);
    assert_int_equal(part.n_actors + part.n_links, 0);
    tm_plant_free(&part);
    /* sorted, the values follow their actors */
    tm_plant_sort(&p);
    assert_string_equal(p.actors[0].id, "p1");
    assert_string_equal(p.actors[1].id, "t0");
    uint32_t n = 0;
    const tm_plant_value_t *v =
        tm_plant_values(&p, &p.actors[1], TM_PLANT_PARAMS, &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "area");
    assert_string_equal(p.links[0].src, "p1");
    assert_string_equal(p.links[0].dst, "t0");
    assert_string_equal(p.links[3].src, "t2");
    tm_plant_free(&p);

    s_misplaced("actors:\n  - {id: x, model: tank, node: far}\n",
                "p.yaml:2:32: actors[0].node: node 'far' is not part of this "
                "mesh (its nodes: a, b, c, d)");
    s_misplaced("actors:\n  - {id: x, model: tank, site: west}\n",
                "p.yaml:2:32: actors[0].site: site 'west' is not part of this "
                "mesh (its sites: 'north' (node a), 'east' (node b), 'south' "
                "(node c), 'south' (node d))");
    s_misplaced("actors:\n  - {id: x, model: tank, node: a, site: east}\n",
                "p.yaml:2:41: actors[0].site: node a is at site 'north', not "
                "'east'");
    /* a mesh of one node says so */
    tm_plant_init(&p, "p.yaml");
    assert_int_equal(
        s_parse(&p, "p.yaml", "actors:\n  - {id: x, model: tank, node: b}\n"),
        0);
    assert_int_equal(s_place(&p, s_nodes, 1, where), TM_ERR_NOT_FOUND);
    assert_string_equal(s_err, "p.yaml:2:32: actors[0].node: node 'b' is not "
                               "part of this mesh (it has one node: a)");
    tm_plant_free(&p);
}

/* Placement by load: new actors without a node spread over the least
 * loaded nodes (each one adds its node's cost), actors at a site of
 * several nodes go to the least loaded there, and actors that run
 * somewhere stay there. */
static void test_place_by_load(void **state)
{
    (void)state;
    tm_plant_t p;
    uint32_t where[16];
    size_t per[4] = {0, 0, 0, 0};
    tm_plant_init(&p, "p.yaml");
    assert_int_equal(s_parse(&p, "p.yaml",
                             "actors:\n"
                             "  - {id: t0, model: tank}\n"
                             "  - {id: t1, model: tank}\n"
                             "  - {id: t2, model: tank}\n"
                             "  - {id: t3, model: tank}\n"
                             "  - {id: t4, model: tank}\n"
                             "  - {id: t5, model: tank}\n"
                             "  - {id: t6, model: tank}\n"
                             "  - {id: t7, model: tank}\n"),
                     0);
    assert_int_equal(s_place(&p, s_nodes, 4, where), 0);
    for (size_t i = 0; i < 8; i++) {
        per[where[i]]++;
    }
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(per[k], 2); /* equal loads: two each */
    }
    /* step times: a has 100 us and 10 us an actor, b none yet at 50 us an
     * actor: b, b (100 < 110), then a (110 < 150) */
    const tm_plant_node_t timed[] = {{"a", "north", 100, 10},
                                     {"b", "north", 0, 50}};
    assert_int_equal(s_place(&p, timed, 2, where), 0);
    assert_int_equal(where[0], 1);
    assert_int_equal(where[1], 1);
    assert_int_equal(where[2], 0);
    tm_plant_free(&p);

    /* site south has c (empty) and d (one actor): c, c (a tie goes to
     * the smaller name), then d */
    const tm_plant_node_t south[] = {{"a", "north", 0, 1},
                                     {"b", "east", 0, 1},
                                     {"c", "south", 0, 1},
                                     {"d", "south", 1, 1}};
    tm_plant_init(&p, "p.yaml");
    assert_int_equal(s_parse(&p, "p.yaml",
                             "actors:\n"
                             "  - {id: s0, model: tank, site: south}\n"
                             "  - {id: s1, model: tank, site: south}\n"
                             "  - {id: s2, model: tank, site: south}\n"
                             "  - {id: k0, model: tank}\n"
                             "  - {id: k1, model: tank, site: south}\n"
                             "  - {id: k2, model: tank, site: east}\n"),
                     0);
    for (size_t i = 0; i < 6; i++) {
        where[i] = TM_PLANT_NEW;
    }
    where[3] = 3; /* k0 runs on d: it stays, however loaded d is */
    where[4] = 3; /* k1 runs on d, at its site: it stays */
    where[5] = 0; /* k2 runs on a, not at its site: placed by site (b) */
    assert_int_equal(tm_plant_place(&p, south, 4, where, s_err, sizeof s_err),
                     0);
    assert_int_equal(where[0], 2);
    assert_int_equal(where[1], 2);
    assert_int_equal(where[2], 3);
    assert_int_equal(where[3], 3);
    assert_int_equal(where[4], 3);
    assert_int_equal(where[5], 1);
    tm_plant_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_yaml),
        cmocka_unit_test(test_place_by_load),
        cmocka_unit_test(test_yaml_json_equivalent),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_plant_errors),
        cmocka_unit_test(test_chunks_round_trip),
        cmocka_unit_test(test_chunks_hostile),
        cmocka_unit_test(test_place_and_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
