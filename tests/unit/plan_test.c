/* plan_test: plants against the catalog and a running mesh (tm_plan) and
 * applied in one batch (tm_mut_apply): every model-level error names the
 * file's line and field; apply then plan again is empty; kills and link
 * removals; replacements and tier changes; a failed commit changes
 * nothing; export then apply on a fresh runtime gives the same digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_mut.h"
#include "tm_plan.h"
#include "tm_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[512];
    tm_rt_t *rt;
    tm_store_t *store;
    tm_mut_t *mut;
    tm_plant_t plant;
    tm_plan_t plan;
    char why[TM_MUT_WHY_MAX];
} s_fix_t;

static int s_open(s_fix_t *f, const char *name, size_t map)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/plan_test_%s_%ld", base ? base : "/tmp",
             name, (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    tm_store_opts_t o = {.map_size = map, .map_max = map, .create = 1};
    assert_int_equal(tm_store_open(&f->store, f->dir, &o), 0);
    tm_rt_config_t rc = {.workers = 1, .h = 0.05, .seed = 1};
    assert_int_equal(tm_rt_open(&f->rt, &rc), 0);
    assert_int_equal(tm_mut_open(&f->mut, f->rt, f->store, NULL, NULL), 0);
    tm_plant_init(&f->plant, NULL);
    return 0;
}

static void s_close(s_fix_t *f)
{
    char cmd[700];
    tm_plan_free(&f->plan);
    tm_plant_free(&f->plant);
    tm_mut_destroy(&f->mut);
    tm_rt_destroy(&f->rt);
    tm_store_close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    s_open(f, "a", 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_close(*state);
    free(*state);
    return 0;
}

/* Parse text (it must parse) and build its plan. */
static int s_plan(s_fix_t *f, const char *text)
{
    char err[512];
    tm_plan_free(&f->plan);
    int rc = tm_plant_parse(&f->plant, "p.yaml", text, strlen(text),
                            TM_PLANT_YAML, err, sizeof err);
    if (rc != 0) {
        fail_msg("parse: %s", err);
    }
    f->why[0] = '\0';
    return tm_plan_build(f->rt, &f->plant, "node-a", "north", &f->plan, f->why);
}

/* Plan and apply text; the counts after. */
static tm_plan_counts_t s_apply(s_fix_t *f, const char *text)
{
    tm_plan_counts_t c;
    assert_int_equal(s_plan(f, text), 0);
    tm_plan_counts(&f->plan, &c);
    if (!tm_plan_empty(&f->plan)) {
        int rc = tm_mut_apply(f->mut, &f->plan, NULL, f->why);
        if (rc != 0) {
            fail_msg("apply: %s", f->why);
        }
    }
    return c;
}

static void s_refused(s_fix_t *f, const char *text, int rc, const char *want)
{
    int got = s_plan(f, text);
    if (got != rc || strcmp(f->why, want) != 0) {
        fail_msg("got %d '%s', want %d '%s'", got, f->why, rc, want);
    }
    assert_int_equal(f->plan.n_nodes, 0); /* nothing planned */
}

static void s_digest(tm_rt_t *rt, uint8_t out[32])
{
    assert_int_equal(tm_rt_digest(rt, out), 0);
}

static size_t s_count(s_fix_t *f, tm_store_db_t db)
{
    size_t n = 0;
    assert_int_equal(tm_store_count(f->store, db, &n), 0);
    return n;
}

static void test_model_errors(void **state)
{
    s_fix_t *f = *state;
    s_refused(f, "actors:\n  - {id: a, model: tnak}\n", TM_ERR_UNKNOWN_MODEL,
              "p.yaml:2:20: actors[0].model: unknown model family 'tnak' "
              "(known: oscillator, spring, pump, tank, pipe, valve, thermal, "
              "pumpmon)");
    s_refused(f, "actors:\n  - {id: a, model: tank, version: 9.9.9}\n",
              TM_ERR_UNKNOWN_VERSION,
              "p.yaml:2:35: actors[0].version: unknown version 9.9.9 of model "
              "tank (known versions: 1.0.0)");
    s_refused(f, "actors:\n  - {id: a, model: spring, fidelity: medium}\n",
              TM_ERR_UNKNOWN_FIDELITY,
              "p.yaml:2:38: actors[0].fidelity: model spring has no medium "
              "tier");
    s_refused(f,
              "actors:\n  - id: a\n    model: tank\n    params:\n"
              "      area: 0\n",
              TM_ERR_BAD_VALUE,
              "p.yaml:5:13: actors[0].params.area: 0 is below the minimum "
              "1e-06 m^2 of tank@1.0.0");
    s_refused(f, "actors:\n  - {id: a, model: tank, params: {arae: 1}}\n",
              TM_ERR_UNKNOWN_PORT,
              "p.yaml:2:41: actors[0].params.arae: model tank@1.0.0 has no "
              "parameter 'arae' (parameters: area, h0, hmax)");
    s_refused(f, "actors:\n  - {id: a, model: tank, inputs: {qin: 1e7}}\n",
              TM_ERR_BAD_VALUE,
              "p.yaml:2:40: actors[0].inputs.qin: 10000000 is above the "
              "maximum 1e+06 m^3/s of tank@1.0.0");
    s_refused(f, "actors:\n  - {id: a, model: tank, state: {level: 1}}\n",
              TM_ERR_UNKNOWN_PORT,
              "p.yaml:2:41: actors[0].state.level: model tank@1.0.0 has no "
              "state 'level' (states: h, v_spill, v_short)");
    s_refused(f, "actors:\n  - {id: a, model: tank, params: {h0: 5}}\n",
              TM_ERR_BAD_VALUE,
              "p.yaml:2:5: actors[0]: tank@1.0.0 refuses the parameters of "
              "'a' (its initial state is invalid)");
    s_refused(f, "actors:\n  - {id: a, model: tank, site: south}\n",
              TM_ERR_NOT_FOUND,
              "p.yaml:2:32: actors[0].site: site 'south' is not part of this "
              "mesh (its node node-a is at site 'north')");
    static const char *two = "actors:\n  - {id: a, model: tank}\n"
                             "  - {id: p, model: pump}\nlinks:\n";
    char text[512];
    snprintf(text, sizeof text, "%s  - {from: a.lvl, to: p.h_suction}\n", two);
    s_refused(f, text, TM_ERR_UNKNOWN_PORT,
              "p.yaml:5:12: links[0].from: actor a (tank) has no output 'lvl' "
              "(outputs: level, volume, spill, outflow)");
    snprintf(text, sizeof text, "%s  - {from: a.level, to: p.suction}\n", two);
    s_refused(f, text, TM_ERR_UNKNOWN_PORT,
              "p.yaml:5:25: links[0].to: actor p (pump) has no input "
              "'suction' (inputs: speed_cmd, h_suction, h_discharge, "
              "t_ambient)");
    snprintf(text, sizeof text,
             "%s  - {from: a.level, to: p.h_suction}\n"
             "  - {from: a.level, to: p.h_discharge}\n"
             "  - {from: a.spill, to: p.h_suction}\n",
             two);
    s_refused(f, text, TM_ERR_INPUT_LINKED,
              "p.yaml:7:25: links[2].to: input p.h_suction takes one link and "
              "is already linked from a.level (links[0], line 5)");
    /* a summing input takes several */
    snprintf(text, sizeof text,
             "%s  - {from: p.flow, to: a.qin}\n  - {from: p.power, to: "
             "a.qin}\n",
             two);
    assert_int_equal(s_plan(f, text), 0);
    assert_int_equal(tm_rt_count(f->rt), 0); /* planning changes nothing */
}

static const char *s_mesh =
    "actors:\n"
    "  - {id: t0, model: tank, params: {area: 20, h0: 2, hmax: 4}}\n"
    "  - {id: t1, model: tank, params: {area: 4, h0: 1, hmax: 4}}\n"
    "  - {id: p1, model: pump}\n"
    "  - {id: o1, model: oscillator, params: {k: 4}}\n"
    "links:\n"
    "  - {from: t0.level, to: p1.h_suction}\n"
    "  - {from: t1.level, to: p1.h_discharge}\n"
    "  - {from: p1.flow, to: t0.qout}\n"
    "  - {from: p1.flow, to: t1.qin}\n";

static void test_apply_and_again(void **state)
{
    s_fix_t *f = *state;
    tm_plan_counts_t c = s_apply(f, s_mesh);
    assert_int_equal(c.spawn, 4);
    assert_int_equal(c.link, 4);
    assert_int_equal(tm_rt_count(f->rt), 4);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 4);
    assert_int_equal(s_count(f, TM_DB_LINKS), 4);
    /* the same file again: nothing to change */
    assert_int_equal(s_plan(f, s_mesh), 0);
    assert_true(tm_plan_empty(&f->plan));
    /* after stepping too: states are not the plant's business */
    assert_int_equal(tm_rt_step(f->rt, 10), 0);
    assert_int_equal(s_plan(f, s_mesh), 0);
    assert_true(tm_plan_empty(&f->plan));
    /* a changed file: o1 and p1's links go, t1 changes, o2 comes */
    c = s_apply(f, "actors:\n"
                   "  - {id: t0, model: tank, params: {area: 20, h0: 2, hmax: "
                   "4}}\n"
                   "  - {id: t1, model: tank, params: {area: 5, h0: 1, hmax: "
                   "4}, inputs: {qout: 0.5}}\n"
                   "  - {id: p1, model: pump}\n"
                   "  - {id: o2, model: oscillator}\n"
                   "links:\n"
                   "  - {from: t0.level, to: p1.h_suction}\n"
                   "  - {from: p1.flow, to: t1.qin}\n");
    assert_int_equal(c.spawn, 1);
    assert_int_equal(c.kill, 1);
    assert_int_equal(c.set, 2);
    assert_int_equal(c.unlink, 2);
    assert_int_equal(c.link, 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(f->rt, "o1", &v), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_get(f->rt, "t1", &v), 0);
    assert_true(v.params[0] == 5 && v.held[1] == 0.5);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 4);
    assert_int_equal(s_count(f, TM_DB_LINKS), 2);
    /* an empty mesh */
    c = s_apply(f, "actors: []\n");
    assert_int_equal(c.kill, 4);
    assert_int_equal(c.unlink, 2);
    assert_int_equal(tm_rt_count(f->rt), 0);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 0);
}

static void test_replace_and_tier(void **state)
{
    s_fix_t *f = *state;
    s_apply(f, s_mesh);
    assert_int_equal(tm_rt_step(f->rt, 5), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(f->rt, "t1", &v), 0);
    double h = v.state[0];
    /* t1 every 2 ticks (replaced, keeps its state and links), p1 medium */
    tm_plan_counts_t c = s_apply(
        f, "actors:\n"
           "  - {id: t0, model: tank, params: {area: 20, h0: 2, hmax: 4}}\n"
           "  - {id: t1, model: tank, period: 2, params: {area: 4, h0: 1, "
           "hmax: 4}}\n"
           "  - {id: p1, model: pump, fidelity: medium}\n"
           "  - {id: o1, model: spring}\n"
           "links:\n"
           "  - {from: t0.level, to: p1.h_suction}\n"
           "  - {from: t1.level, to: p1.h_discharge}\n"
           "  - {from: p1.flow, to: t0.qout}\n"
           "  - {from: p1.flow, to: t1.qin}\n");
    assert_int_equal(c.replace, 2); /* t1 (period), o1 (family) */
    assert_int_equal(c.model, 1);
    assert_int_equal(c.link + c.unlink + c.kill + c.spawn, 0);
    assert_int_equal(tm_rt_get(f->rt, "t1", &v), 0);
    assert_int_equal(v.period, 2);
    assert_true(v.state[0] == h);
    assert_int_equal(v.linked[0], 1); /* qin still fed by p1 */
    assert_int_equal(tm_rt_get(f->rt, "p1", &v), 0);
    assert_int_equal(v.model->fidelity, TM_FIDELITY_MEDIUM);
    assert_int_equal(tm_rt_get(f->rt, "o1", &v), 0);
    assert_string_equal(v.model->family, "spring");
    assert_int_equal(s_count(f, TM_DB_LINKS), 4);
}

/* Links of several ticks: made with their delay, stored with it; the same
 * file again changes nothing; another delay removes the link and adds it
 * again; export carries the delay. */
static void test_delays(void **state)
{
    s_fix_t *f = *state;
#define S_DELAYS                                                               \
    "actors:\n  - {id: o0, model: oscillator, params: {x0: 1}}\n"              \
    "  - {id: o1, model: oscillator}\n  - {id: s0, model: spring}\n"           \
    "links:\n  - {from: o0.x, to: s0.xa, delay: 3}\n"                          \
    "  - {from: o1.x, to: s0.xb}\n"                                            \
    "  - {from: s0.fa, to: o0.fr, delay: 1000}\n"                              \
    "  - {from: s0.fb, to: o1.fl, delay: %d}\n"
    char text[600];
    snprintf(text, sizeof text, S_DELAYS, 2);
    tm_plan_counts_t c = s_apply(f, text);
    assert_int_equal(c.link, 4);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(f->rt, "o0", &v), 0);
    assert_int_equal(v.history, 3);
    assert_int_equal(tm_rt_get(f->rt, "s0", &v), 0);
    assert_int_equal(v.history, 1000); /* read 1,000 ticks back */
    assert_int_equal(s_plan(f, text), 0);
    assert_true(tm_plan_empty(&f->plan));
    /* delay 2 -> 5: removed and added again */
    snprintf(text, sizeof text, S_DELAYS, 5);
    c = s_apply(f, text);
    assert_int_equal(c.unlink, 1);
    assert_int_equal(c.link, 1);
    assert_int_equal(f->plan.nodes[0].link[0].delay, 5);
    assert_int_equal(f->plan.nodes[0].unlink[0].delay, 2);
    assert_int_equal(s_plan(f, text), 0);
    assert_true(tm_plan_empty(&f->plan));
    assert_int_equal(s_count(f, TM_DB_LINKS), 4);
    assert_int_equal(tm_rt_step(f->rt, 7), 0);
    /* the export carries the delays; applied on a fresh runtime, the same
     * digest */
    tm_plant_t out;
    assert_int_equal(tm_plan_export(f->rt, "e.yaml", NULL, &out), 0);
    assert_int_equal(out.n_links, 4);
    uint32_t delays = 0;
    for (size_t j = 0; j < out.n_links; j++) {
        delays += out.links[j].delay;
    }
    assert_int_equal(delays, 3 + 1 + 1000 + 5);
    s_fix_t g;
    memset(&g, 0, sizeof g);
    s_open(&g, "delays", 0);
    assert_int_equal(
        tm_plan_build(g.rt, &out, "node-a", "north", &g.plan, g.why), 0);
    assert_int_equal(tm_mut_apply(g.mut, &g.plan, NULL, g.why), 0);
    uint8_t a[32];
    uint8_t b[32];
    s_digest(f->rt, a);
    s_digest(g.rt, b);
    assert_memory_equal(a, b, 32);
    tm_plant_free(&out);
    s_close(&g);
}

/* The mesh as the mutation path sees it: "x1" lives on node-c; what the
 * observer was told, as "+id", "-id", "^id model" and "^id -" lines. */
static char s_told[1024];

static const char *s_remote(void *arg, const char *id, const tm_model_t **model)
{
    (void)arg;
    *model = NULL;
    return strcmp(id, "x1") == 0 ? "node-c" : NULL;
}

static void s_observe(void *arg, tm_mut_event_t ev, const char *id,
                      const tm_model_t *model)
{
    (void)arg;
    size_t n = strlen(s_told);
    snprintf(s_told + n, sizeof s_told - n, "%s%s%s%s;",
             ev == TM_MUT_ADDED     ? "+"
             : ev == TM_MUT_REMOVED ? "-"
                                    : "^",
             id, ev == TM_MUT_PROXY ? " " : "",
             ev != TM_MUT_PROXY ? ""
             : model != NULL    ? model->family
                                : "-");
}

/* A node's part of a plant: references to actors of other nodes are read
 * through proxies (made, stored with the links, made again for another
 * model, removed when no link reads them), never spawned or killed here;
 * actors do not move between nodes. */
static void test_references(void **state)
{
    s_fix_t *f = *state;
    tm_rt_actor_t v;
    tm_mut_mesh(f->mut, s_remote, s_observe, NULL);
    s_told[0] = '\0';
    static const char *part =
        "actors:\n  - {id: t0, model: tank, node: node-a}\n"
        "  - {id: p9, model: pump, node: node-b}\n"
        "links:\n  - {from: p9.flow, to: t0.qin, delay: 2}\n";
    tm_plan_counts_t c = s_apply(f, part);
    assert_int_equal(c.spawn, 1);
    assert_int_equal(c.link, 1);
    assert_ptr_not_equal(f->plan.nodes[0].link[0].remote, NULL);
    assert_int_equal(tm_rt_count(f->rt), 1);
    assert_int_equal(tm_rt_get(f->rt, "p9", &v), 0);
    assert_true(v.remote);
    assert_string_equal(s_told, "+t0;^p9 pump;");
    assert_int_equal(s_count(f, TM_DB_ACTORS), 1);
    assert_int_equal(s_count(f, TM_DB_LINKS), 1);
    assert_int_equal(s_plan(f, part), 0);
    assert_true(tm_plan_empty(&f->plan));
    /* the export holds this node's actors, placed, and the links into
     * them */
    tm_plant_t out;
    assert_int_equal(tm_plan_export(f->rt, "e.yaml", "node-a", &out), 0);
    assert_int_equal(out.n_actors, 1);
    assert_string_equal(out.actors[0].node, "node-a");
    assert_int_equal(out.n_links, 1);
    assert_int_equal(out.links[0].delay, 2);
    tm_plant_free(&out);
    /* p9 is a tank now on node-b: its proxy is made again */
    s_told[0] = '\0';
    c = s_apply(f, "actors:\n  - {id: t0, model: tank, node: node-a}\n"
                   "  - {id: p9, model: tank, node: node-b}\n"
                   "links:\n  - {from: p9.outflow, to: t0.qin, delay: 2}\n");
    assert_int_equal(c.unlink, 1);
    assert_int_equal(c.link, 1);
    assert_int_equal(tm_rt_get(f->rt, "p9", &v), 0);
    assert_true(v.remote);
    assert_string_equal(v.model->family, "tank");
    assert_string_equal(s_told, "^p9 tank;");
    /* no link reads it: gone */
    s_told[0] = '\0';
    c = s_apply(f, "actors:\n  - {id: t0, model: tank, node: node-a}\n");
    assert_int_equal(c.unlink, 1);
    assert_int_equal(tm_rt_get(f->rt, "p9", &v), TM_ERR_UNKNOWN_ACTOR);
    assert_string_equal(s_told, "^p9 -;");
    assert_int_equal(s_count(f, TM_DB_LINKS), 0);
    /* moves are refused, before anything changes */
    s_refused(f, "actors:\n  - {id: t0, model: tank, node: node-b}\n",
              TM_ERR_EXISTS,
              "p.yaml:2:33: actors[0]: actor 't0' runs on node node-a, and "
              "the plant places it on node node-b: apply does not move "
              "actors between nodes (apply the file without it, then with "
              "it)");
    assert_int_equal(s_plan(f, "actors:\n  - {id: t0, model: tank}\n"
                               "  - {id: x1, model: tank}\n"),
                     0);
    assert_int_equal(tm_mut_apply_check(f->mut, &f->plan, f->why),
                     TM_ERR_EXISTS);
    assert_string_equal(f->why,
                        "p.yaml:3:10: actors[1].id: actor 'x1' already "
                        "exists on node node-c, and the plant places it on "
                        "node node-a: apply does not move actors between "
                        "nodes (apply the file without it, then with it)");
    assert_int_equal(tm_mut_apply(f->mut, &f->plan, NULL, f->why),
                     TM_ERR_EXISTS);
    assert_int_equal(tm_rt_count(f->rt), 1);
    /* a reference placed on another node than the one it runs on */
    assert_int_equal(s_plan(f, "actors:\n  - {id: t0, model: tank}\n"
                               "  - {id: x1, model: tank, node: node-b}\n"
                               "links:\n  - {from: x1.level, to: t0.qin}\n"),
                     0);
    assert_int_equal(tm_mut_apply_check(f->mut, &f->plan, f->why),
                     TM_ERR_EXISTS);
    assert_string_equal(f->why,
                        "p.yaml:3:10: actors[1]: actor 'x1' runs on node "
                        "node-c, and the plant places it on node node-b: "
                        "apply does not move actors between nodes (apply "
                        "the file without it, then with it)");
    /* a node holds only the links into its own actors */
    s_refused(f,
              "actors:\n  - {id: t0, model: tank}\n"
              "  - {id: p9, model: pump, node: node-b}\n"
              "links:\n  - {from: t0.level, to: p9.h_suction}\n",
              TM_ERR_PLANT,
              "p.yaml:5:26: links[0].to: actor p9 runs on node node-b: a "
              "node holds only the links into its own actors");
}

/* A commit that fails (the store's map is full) changes nothing: not the
 * runtime, not the store. */
static void test_commit_failure(void **state)
{
    (void)state;
    s_fix_t g;
    memset(&g, 0, sizeof g);
    s_open(&g, "full", 1u << 20);
    s_apply(&g, s_mesh);
    uint8_t before[32];
    uint8_t after[32];
    s_digest(g.rt, before);
    /* kill o1, change t1, replace p1, unlink two, spawn 20,000 */
    size_t cap = 1u << 21;
    char *text = malloc(cap);
    size_t off = (size_t)snprintf(
        text, cap,
        "actors:\n"
        "  - {id: t0, model: tank, params: {area: 20, h0: 2, hmax: 4}}\n"
        "  - {id: t1, model: tank, params: {area: 9, h0: 1, hmax: 4}}\n"
        "  - {id: p1, model: pump, period: 3, fidelity: low}\n"
        "  - {id: t2, model: tank}\n");
    for (int i = 0; i < 20000; i++) {
        off += (size_t)snprintf(text + off, cap - off,
                                "  - {id: n%d, model: pump}\n", i);
    }
    snprintf(text + off, cap - off,
             "links:\n  - {from: t0.level, to: p1.h_suction}\n"
             "  - {from: t2.level, to: p1.h_discharge}\n");
    assert_int_equal(s_plan(&g, text), 0);
    free(text);
    int rc = tm_mut_apply(g.mut, &g.plan, NULL, g.why);
    assert_int_equal(rc, TM_ERR_STORE_FULL);
    assert_non_null(strstr(g.why, "nothing was changed"));
    s_digest(g.rt, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(tm_rt_count(g.rt), 4);
    assert_int_equal(s_count(&g, TM_DB_ACTORS), 4);
    assert_int_equal(s_count(&g, TM_DB_LINKS), 4);
    /* and the mesh works on: the same plan as before is empty */
    assert_int_equal(s_plan(&g, s_mesh), 0);
    assert_true(tm_plan_empty(&g.plan));
    s_close(&g);
}

/* A plan whose new actors need more memory than the node has is refused
 * before anything changes. */
static void test_memory(void **state)
{
    s_fix_t *f = *state;
    s_apply(f, s_mesh);
    tm_mut_set_mem_available(f->mut, 4096);
    assert_int_equal(s_plan(f, "actors:\n  - {id: t0, model: tank, params: "
                               "{area: 20, h0: 2, hmax: 4}}\n"
                               "  - {id: q1, model: pump}\n"
                               "  - {id: q2, model: pump}\n"
                               "  - {id: q3, model: pump}\n"),
                     0);
    assert_int_equal(tm_mut_apply(f->mut, &f->plan, NULL, f->why),
                     TM_ERR_NOMEM);
    assert_non_null(strstr(f->why, "3 new actors need about"));
    assert_int_equal(tm_rt_count(f->rt), 4);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 4);
}

/* The running mesh exported, applied on a fresh runtime: the same
 * digest, and the export of that is the same plant. */
static void test_export_round_trip(void **state)
{
    s_fix_t *f = *state;
    s_apply(f, s_mesh);
    assert_int_equal(tm_rt_step(f->rt, 17), 0);
    assert_int_equal(tm_rt_set(f->rt, "o1", "x", 0.25), 0);
    tm_plant_t out;
    assert_int_equal(tm_plan_export(f->rt, "e.yaml", NULL, &out), 0);
    assert_int_equal(out.n_actors, 4);
    assert_int_equal(out.n_links, 4);
    s_fix_t g;
    memset(&g, 0, sizeof g);
    s_open(&g, "fresh", 0);
    tm_plan_counts_t c;
    assert_int_equal(
        tm_plan_build(g.rt, &out, "node-a", "north", &g.plan, g.why), 0);
    tm_plan_counts(&g.plan, &c);
    assert_int_equal(c.spawn, 4);
    assert_int_equal(tm_mut_apply(g.mut, &g.plan, NULL, g.why), 0);
    uint8_t a[32];
    uint8_t b[32];
    s_digest(f->rt, a);
    s_digest(g.rt, b);
    assert_memory_equal(a, b, 32);
    /* and they go on alike */
    assert_int_equal(tm_rt_step(f->rt, 9), 0);
    assert_int_equal(tm_rt_step(g.rt, 9), 0);
    s_digest(f->rt, a);
    s_digest(g.rt, b);
    assert_memory_equal(a, b, 32);
    tm_plant_free(&out);
    s_close(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_apply_and_again, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_tier, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_delays, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_references, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_memory, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_export_round_trip, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
