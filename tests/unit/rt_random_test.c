/* rt_random_test: model-based random testing of the actor runtime.
 *
 * A seeded pseudo-random sequence of operations (spawn, kill, link with
 * delays of 1 to 6 ticks, unlink, set, set_model, step) is applied in
 * lockstep to several runtimes (1, 2 or 3 workers; stepped by the workers,
 * inline, or switching between both) and to a small reference written
 * straight from the contract in tm_rt.h (rt_ref.h): plain arrays of actors,
 * links and per-actor histories, every tick computed literally. After
 * every operation the return codes, the counts, every actor's values (bit
 * for bit), its window and the outputs of every tick in it, the actor and
 * link sets (with delays) and the number of groups must agree,
 * and so must the links of a few actors, in the documented order of
 * tm_rt_foreach_link_of (kills remove links through per-actor lists, so
 * this checks those lists against the reference's plain table); after
 * every step the digest must equal one computed from the reference.
 * The reference calls the same model functions, one actor at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_index.h"
#include "tm_model.h"
#include "tm_rt.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_ref.h"

#include "rt_random_models.h"

/* ---- pseudo-random numbers ---------------------------------------------- */

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_next(s_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t s_below(s_rng_t *r, uint32_t n)
{
    return (uint32_t)(s_next(r) % n);
}

/* A value for set or spawn: mostly small, sometimes special. */
static double s_value(s_rng_t *r)
{
    switch (s_below(r, 14)) {
    case 0:
        return NAN;
    case 1:
        return INFINITY;
    case 2:
        return -0.0;
    case 3:
        return 1e200;
    case 4:
        return 1e9;
    case 5:
        return -40.0;
    default:
        return (double)s_below(r, 801) / 100.0 - 3.0;
    }
}

/* A value inside a variable's range (ranges here are small or huge). */
static double s_in_range(s_rng_t *r, const tm_var_t *v)
{
    if (v->max > 1e6) {
        return s_below(r, 3) == 0 ? v->min : (double)s_below(r, 100);
    }
    return v->min + (v->max - v->min) * (double)s_below(r, 1001) / 1000.0;
}

/* ---- runtimes under test ------------------------------------------------ */

typedef struct {
    unsigned workers;
    size_t inline_actors;
    double inline_ns;
} s_cfg_t;

/* Stepped by the workers, or switching between workers and inline as the
 * count crosses 8 or as the measured work of a tick crosses 3 µs (which
 * depends on the machine's moment: results may not). A run compares three
 * runtimes with the reference: one that always steps inline and two of these,
 * rotating with the seed (a tick through the workers costs a thread round trip,
 * so not all at once).
 */
static const s_cfg_t s_cfgs[] = {{1, 0, 0},   {2, 0, 0}, {3, 0, 0},
                                 {2, 8, 0},   {3, 8, 0}, {2, 0, 3000},
                                 {3, 8, 3000}};
#define S_NCFG (sizeof s_cfgs / sizeof s_cfgs[0])
#define S_NRT  3

#define S_LOG 24

typedef struct {
    s_ref_t ref;
    s_cfg_t cfg[S_NRT];
    tm_rt_t *rt[S_NRT];
    s_rng_t rng;
    uint64_t seed;
    size_t op;
    char log[S_LOG][200];
} s_ctx_t;

static s_ctx_t *s_cur;

static void s_logf(s_ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_logf(s_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->log[c->op % S_LOG], sizeof c->log[0], fmt, ap);
    va_end(ap);
}

static void s_expect(int ok, size_t rti, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* On a mismatch, print the last operations and fail. */
static void s_expect(int ok, size_t rti, const char *fmt, ...)
{
    if (ok) {
        return;
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    s_ctx_t *c = s_cur;
    size_t first = c->op >= S_LOG - 1 ? c->op - (S_LOG - 1) : 0;
    for (size_t o = first; o <= c->op; o++) {
        print_error("  op %zu: %s\n", o, c->log[o % S_LOG]);
    }
    fail_msg("seed %llu op %zu runtime %zu (workers %u, inline %zu): %s",
             (unsigned long long)c->seed, c->op, rti, c->cfg[rti].workers,
             c->cfg[rti].inline_actors, what);
}

static void s_check_view(size_t rti, const tm_rt_actor_t *v, const s_ract_t *a,
                         const char *id)
{
    const tm_model_t *m = a->m;
    s_expect(strcmp(v->id, id) == 0, rti, "id %s, reference %s", v->id, id);
    s_expect(v->model == m && v->period == a->period, rti,
             "%s: model or period", id);
    s_expect(v->shard == a->key % s_cur->cfg[rti].workers, rti, "%s: shard",
             id);
    s_expect(memcmp(v->state, a->x, m->n_states * sizeof(double)) == 0, rti,
             "%s: state", id);
    s_expect(memcmp(v->params, a->p, m->n_params * sizeof(double)) == 0, rti,
             "%s: params", id);
    s_expect(memcmp(v->held, a->held, m->n_inputs * sizeof(double)) == 0, rti,
             "%s: held inputs", id);
    s_expect(memcmp(v->inputs, a->in, m->n_inputs * sizeof(double)) == 0, rti,
             "%s: inputs", id);
    s_expect(memcmp(v->outputs, a->hist[0], m->n_outputs * sizeof(double)) == 0,
             rti, "%s: outputs", id);
    s_expect(memcmp(v->linked, a->nlink, m->n_inputs * sizeof(uint16_t)) == 0,
             rti, "%s: linked counts", id);
    s_expect(v->health.faults == a->faults, rti, "%s: faults", id);
    s_expect(v->health.last_fault == a->last_fault, rti, "%s: last fault", id);
    s_expect(v->health.last_status == a->status, rti, "%s: last status", id);
    uint64_t t = s_cur->ref.tick;
    uint64_t stepped = t - t % a->period;
    if (stepped < a->spawn_tick) {
        stepped = a->spawn_tick;
    }
    s_expect(v->health.last_stepped == stepped, rti,
             "%s: last stepped %llu, reference %llu", id,
             (unsigned long long)v->health.last_stepped,
             (unsigned long long)stepped);
}

/* Actor i's window and the outputs of every tick in it (tm_rt_outputs_at)
 * against the reference's history; the ticks just outside are refused. */
static void s_check_history(size_t rti, tm_rt_t *rt, const s_ref_t *r, int i)
{
    const s_ract_t *a = &r->a[i];
    const char *id = r->ids[i];
    uint32_t w = s_ref_window(r, i);
    tm_rt_actor_t v;
    s_expect(tm_rt_get(rt, id, &v) == 0 && v.history == w, rti,
             "%s: history %u, reference %u", id, v.history, w);
    for (uint32_t j = 0; j < w; j++) { /* wraps before tick 0 */
        const double *y = NULL;
        const tm_model_t *m = NULL;
        int rc = tm_rt_outputs_at(rt, id, r->tick - j, &y, &m);
        s_expect(rc == 0 && m == a->m &&
                     memcmp(y, a->hist[j], m->n_outputs * sizeof(double)) == 0,
                 rti, "%s: outputs %u ticks back", id, j);
    }
    const double *y = NULL;
    s_expect(tm_rt_outputs_at(rt, id, r->tick + 1, &y, NULL) == TM_ERR_RANGE,
             rti, "%s: outputs of the next tick", id);
    s_expect(tm_rt_outputs_at(rt, id, r->tick - w, &y, NULL) == TM_ERR_RANGE,
             rti, "%s: outputs before the window", id);
}

typedef struct {
    size_t rti;
    s_ctx_t *c;
    unsigned char *seen;
    size_t n;
} s_walk_t;

static int s_foreach_cb(const tm_rt_actor_t *v, void *arg)
{
    s_walk_t *w = arg;
    int i = s_ref_alive(&w->c->ref, v->id);
    s_expect(i >= 0, w->rti, "foreach visits an actor that is not alive");
    s_expect(!w->seen[i], w->rti, "foreach visits an actor twice");
    w->seen[i] = 1;
    w->n++;
    s_check_view(w->rti, v, &w->c->ref.a[i], v->id);
    return 0;
}

static int s_stop_cb(const tm_rt_actor_t *v, void *arg)
{
    (void)v;
    (void)arg;
    return 7;
}

/* A link as text "src.out>dst.in/delay", so sets compare with strcmp. */
typedef struct {
    char s[2 * TM_ID_MAX + 32];
} s_ltext_t;

typedef struct {
    s_ltext_t *t;
    size_t n, cap;
} s_lset_t;

static int s_link_cb(const tm_rt_link_t *l, void *arg)
{
    s_lset_t *s = arg;
    assert_true(s->n < s->cap);
    snprintf(s->t[s->n++].s, sizeof s->t[0].s, "%s.%s>%s.%s/%u", l->src,
             l->output, l->dst, l->input, l->delay);
    return 0;
}

static int s_ltext_cmp(const void *a, const void *b)
{
    return strcmp(((const s_ltext_t *)a)->s, ((const s_ltext_t *)b)->s);
}

/* Distinct (model, period, shard) of the live actors: the groups a runtime
 * needs; empty groups must not linger. */
static size_t s_ref_groups(const s_ref_t *r, unsigned workers)
{
    unsigned char seen[S_N_MODELS][4][3];
    memset(seen, 0, sizeof seen);
    size_t n = 0;
    for (size_t i = 0; i < r->n_ids; i++) {
        const s_ract_t *a = &r->a[i];
        if (!a->alive) {
            continue;
        }
        size_t m = 0;
        while (s_models[m] != a->m) {
            m++;
        }
        unsigned char *x = &seen[m][a->period][a->key % workers];
        n += *x ? 0 : 1;
        *x = 1;
    }
    return n;
}

/* The links of actor i in the order of tm_rt_foreach_link_of: out of it,
 * then into it (not from itself), each in the order of making. */
static void s_ref_links_of(const s_ref_t *r, int i, s_lset_t *want)
{
    size_t *order = malloc((r->n_links + 1) * sizeof *order);
    assert_non_null(order);
    want->n = 0;
    for (int dir = 0; dir < 2; dir++) {
        size_t n = 0;
        for (size_t li = 0; li < r->n_links; li++) {
            const s_rlink_t *l = &r->links[li];
            if (dir == 0 ? l->src == i : (l->dst == i && l->src != i)) {
                order[n++] = li;
            }
        }
        for (size_t x = 1; x < n; x++) { /* insertion sort by seq */
            for (size_t y = x;
                 y > 0 && r->links[order[y - 1]].seq > r->links[order[y]].seq;
                 y--) {
                size_t t = order[y];
                order[y] = order[y - 1];
                order[y - 1] = t;
            }
        }
        for (size_t x = 0; x < n; x++) {
            const s_rlink_t *l = &r->links[order[x]];
            assert_true(want->n < want->cap);
            snprintf(want->t[want->n++].s, sizeof want->t[0].s,
                     "%s.%s>%s.%s/%u", r->ids[l->src],
                     r->a[l->src].m->outputs[l->out].name, r->ids[l->dst],
                     r->a[l->dst].m->inputs[l->in].name, l->delay);
        }
    }
    free(order);
}

static int s_never_cb(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    (void)arg;
    fail_msg("callback called for an unknown actor");
    return 0;
}

static int s_stop_link_cb(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    (*(int *)arg)++;
    return 9;
}

/* tm_rt_foreach_link_of for a few actors (chosen from the operation
 * number, so the operations drawn stay those of the seed): the same links
 * in the same order as the reference, each once. */
static void s_check_links_of(s_ctx_t *c, s_lset_t *want, s_lset_t *got)
{
    s_ref_t *r = &c->ref;
    for (size_t j = 0; j < 3; j++) {
        int i = (int)((c->op * 7 + j * 5) % r->n_ids);
        const char *id = r->ids[i];
        if (r->a[i].alive) {
            s_ref_links_of(r, i, want);
        }
        for (size_t rti = 0; rti < S_NRT; rti++) {
            tm_rt_t *rt = c->rt[rti];
            if (!r->a[i].alive) {
                s_expect(tm_rt_foreach_link_of(rt, id, s_never_cb, NULL) ==
                             TM_ERR_UNKNOWN_ACTOR,
                         rti, "links of a dead actor %s", id);
                continue;
            }
            got->n = 0;
            s_expect(tm_rt_foreach_link_of(rt, id, s_link_cb, got) == 0, rti,
                     "foreach_link_of %s", id);
            int same = got->n == want->n;
            for (size_t x = 0; same && x < got->n; x++) {
                same = strcmp(got->t[x].s, want->t[x].s) == 0;
            }
            s_expect(same, rti, "links of %s: %zu, reference %zu (or order)",
                     id, got->n, want->n);
            int calls = 0;
            int rc = tm_rt_foreach_link_of(rt, id, s_stop_link_cb, &calls);
            s_expect(rc == (want->n ? 9 : 0) && calls == (want->n ? 1 : 0), rti,
                     "foreach_link_of %s: stop", id);
        }
    }
}

static void s_check_all(s_ctx_t *c, int with_digest)
{
    s_ref_t *r = &c->ref;
    size_t n = s_ref_count(r);
    s_lset_t want = {malloc((r->n_links + 1) * sizeof(s_ltext_t)), 0,
                     r->n_links + 1};
    s_lset_t got = {malloc((r->n_links + 2) * sizeof(s_ltext_t)), 0,
                    r->n_links + 2};
    unsigned char *seen = malloc(r->n_ids);
    assert_non_null(want.t);
    assert_non_null(got.t);
    assert_non_null(seen);
    for (size_t li = 0; li < r->n_links; li++) {
        const s_rlink_t *l = &r->links[li];
        snprintf(want.t[want.n++].s, sizeof want.t[0].s, "%s.%s>%s.%s/%u",
                 r->ids[l->src], r->a[l->src].m->outputs[l->out].name,
                 r->ids[l->dst], r->a[l->dst].m->inputs[l->in].name, l->delay);
    }
    qsort(want.t, want.n, sizeof *want.t, s_ltext_cmp);
    uint8_t dref[32];
    if (with_digest) {
        s_ref_digest(r, dref);
    }
    for (size_t rti = 0; rti < S_NRT; rti++) {
        tm_rt_t *rt = c->rt[rti];
        s_expect(tm_rt_count(rt) == n, rti, "count");
        s_expect(tm_rt_tick(rt) == r->tick, rti, "tick");
        for (size_t i = 0; i < r->n_ids; i++) {
            tm_rt_actor_t v;
            int rc = tm_rt_get(rt, r->ids[i], &v);
            if (!r->a[i].alive) {
                s_expect(rc == TM_ERR_UNKNOWN_ACTOR, rti, "get of a dead id");
                continue;
            }
            s_expect(rc == 0, rti, "get of a live actor");
            s_check_view(rti, &v, &r->a[i], r->ids[i]);
            s_check_history(rti, rt, r, (int)i);
        }
        memset(seen, 0, r->n_ids);
        s_walk_t w = {rti, c, seen, 0};
        s_expect(tm_rt_foreach(rt, s_foreach_cb, &w) == 0, rti, "foreach");
        s_expect(w.n == n, rti, "foreach count");
        s_expect(tm_rt_foreach(rt, s_stop_cb, NULL) == (n ? 7 : 0), rti,
                 "foreach stop");
        got.n = 0;
        s_expect(tm_rt_foreach_link(rt, s_link_cb, &got) == 0, rti,
                 "foreach_link");
        qsort(got.t, got.n, sizeof *got.t, s_ltext_cmp);
        int same = got.n == want.n;
        for (size_t i = 0; same && i < got.n; i++) {
            same = strcmp(got.t[i].s, want.t[i].s) == 0;
        }
        s_expect(same, rti, "link set");
        tm_rt_stats_t st;
        tm_rt_stats(rt, &st);
        s_expect(st.actors == n && st.links == r->n_links, rti, "stats");
        s_expect(st.steps == r->steps && st.faults == r->faults, rti,
                 "stats: steps or faults");
        s_expect(st.groups == s_ref_groups(r, c->cfg[rti].workers), rti,
                 "stats: groups (empty groups must be freed)");
        if (with_digest) {
            uint8_t d[32];
            s_expect(tm_rt_digest(rt, d) == 0, rti, "digest");
            s_expect(memcmp(d, dref, 32) == 0, rti, "digest value");
        }
    }
    s_check_links_of(c, &want, &got);
    free(want.t);
    free(got.t);
    free(seen);
}

/* ---- operations --------------------------------------------------------- */

static const char *s_pick_id(s_ctx_t *c)
{
    static const char *const bad[] = {
        "", "a b", "x.y", "\xc3\xa9",
        "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"};
    if (s_below(&c->rng, 60) == 0) {
        return bad[s_below(&c->rng, 5)];
    }
    return c->ref.ids[s_below(&c->rng, (uint32_t)c->ref.n_ids)];
}

static void s_expect_rc(size_t rti, int got, int want)
{
    if (got != want) {
        s_expect(0, rti, "returned %d (%s), reference %d (%s)", got,
                 tm_err_name(got), want, tm_err_name(want));
    }
}

static void s_op_spawn(s_ctx_t *c, int tiers)
{
    s_rng_t *g = &c->rng;
    const char *id = s_pick_id(c);
    const tm_model_t *m = s_models[s_below(g, tiers ? 3 : S_N_MODELS)];
    double p[S_MAXV], x[S_MAXV], held[S_MAXV], y[S_MAXV];
    tm_rt_spawn_opts_t o = {.period = tiers ? 1 : s_below(g, 4)};
    if (s_below(g, 3) == 0) {
        for (uint32_t j = 0; j < m->n_params; j++) {
            p[j] = s_below(g, 12) ? s_in_range(g, &m->params[j]) : s_value(g);
        }
        o.params = p;
    }
    if (s_below(g, 4) == 0) {
        for (uint32_t j = 0; j < m->n_states; j++) {
            x[j] = s_below(g, 6) ? (double)s_below(g, 41) - 20.0 : s_value(g);
        }
        o.state = x;
    }
    if (s_below(g, 4) == 0) {
        for (uint32_t j = 0; j < m->n_inputs; j++) {
            held[j] =
                s_below(g, 12) ? s_in_range(g, &m->inputs[j]) : s_value(g);
        }
        o.held = held;
    }
    if (s_below(g, 6) == 0) {
        for (uint32_t j = 0; j < m->n_outputs; j++) {
            y[j] = s_below(g, 10) ? (double)s_below(g, 41) - 20.0 : s_value(g);
        }
        o.outputs = y;
    }
    s_logf(c, "spawn %s %s/%s period %u%s%s%s%s", id, m->family,
           tm_fidelity_name(m->fidelity), o.period, o.params ? " params" : "",
           o.state ? " state" : "", o.held ? " held" : "",
           o.outputs ? " outputs" : "");
    int want = s_ref_spawn(&c->ref, id, m, &o);
    for (size_t rti = 0; rti < S_NRT; rti++) {
        s_expect_rc(rti, tm_rt_spawn(c->rt[rti], id, m, &o), want);
    }
}

static void s_op_kill(s_ctx_t *c)
{
    const char *id = s_pick_id(c);
    s_logf(c, "kill %s", id);
    int want = s_ref_kill(&c->ref, id);
    for (size_t rti = 0; rti < S_NRT; rti++) {
        s_expect_rc(rti, tm_rt_kill(c->rt[rti], id), want);
    }
}

static void s_op_link(s_ctx_t *c, int unlink)
{
    s_rng_t *g = &c->rng;
    s_ref_t *r = &c->ref;
    const char *src, *out, *dst, *in;
    if (unlink && r->n_links > 0 && s_below(g, 3) != 0) {
        const s_rlink_t *l = &r->links[s_below(g, (uint32_t)r->n_links)];
        src = r->ids[l->src];
        out = r->a[l->src].m->outputs[l->out].name;
        dst = r->ids[l->dst];
        in = r->a[l->dst].m->inputs[l->in].name;
    } else {
        src = s_pick_id(c);
        dst = s_pick_id(c);
        out = s_out_names[s_below(g, s_below(g, 8) ? 2 : 3)];
        in = s_in_names[s_below(g, s_below(g, 8) ? 4 : 5)];
        int si = s_ref_alive(r, src);
        int di = s_ref_alive(r, dst);
        if (si >= 0 && di >= 0 && s_below(g, 4) != 0) {
            /* Mostly ports that exist, so summing inputs collect links. */
            const tm_model_t *sm = r->a[si].m;
            const tm_model_t *dm = r->a[di].m;
            if (dm->n_inputs > 0) {
                out = sm->outputs[s_below(g, sm->n_outputs)].name;
                in = dm->inputs[s_below(g, dm->n_inputs)].name;
            }
        }
    }
    /* Half the links of delay 1 (made either way), the others up to 6,
     * a few outside the range. */
    uint32_t delay = s_below(g, 2) ? 1 : 1 + s_below(g, 6);
    if (s_below(g, 40) == 0) {
        delay = s_below(g, 2) ? 0 : TM_RT_DELAY_MAX + 1;
    }
    int plain = delay == 1 && s_below(g, 2);
    s_logf(c, "%s %s.%s -> %s.%s delay %u", unlink ? "unlink" : "link", src,
           out, dst, in, delay);
    int want = unlink ? s_ref_unlink(r, src, out, dst, in)
                      : s_ref_link(r, src, out, dst, in, delay);
    for (size_t rti = 0; rti < S_NRT; rti++) {
        tm_rt_t *rt = c->rt[rti];
        int got = unlink  ? tm_rt_unlink(rt, src, out, dst, in)
                  : plain ? tm_rt_link(rt, src, out, dst, in)
                          : tm_rt_link_delay(rt, src, out, dst, in, delay);
        s_expect_rc(rti, got, want);
    }
}

static void s_op_set(s_ctx_t *c)
{
    s_rng_t *g = &c->rng;
    const char *id = s_pick_id(c);
    const char *name =
        s_set_names[s_below(g, sizeof s_set_names / sizeof s_set_names[0])];
    double v = s_value(g);
    if (s_below(g, 2) == 0) {
        int i = s_ref_alive(&c->ref, id);
        const tm_model_t *m = i >= 0 ? c->ref.a[i].m : NULL;
        int j = m ? tm_model_var_index(m->params, m->n_params, name) : -1;
        if (j >= 0) {
            v = s_in_range(g, &m->params[j]);
        }
    }
    s_logf(c, "set %s.%s = %.17g", id, name, v);
    int want = s_ref_set(&c->ref, id, name, v);
    for (size_t rti = 0; rti < S_NRT; rti++) {
        s_expect_rc(rti, tm_rt_set(c->rt[rti], id, name, v), want);
    }
}

static void s_op_set_model(s_ctx_t *c)
{
    s_rng_t *g = &c->rng;
    const char *id = s_pick_id(c);
    /* Mostly tiers of alpha, so tier changes are frequent. */
    const tm_model_t *m = s_below(g, 4) ? s_models[s_below(g, 3)]
                                        : s_models[s_below(g, S_N_MODELS)];
    s_logf(c, "set_model %s %s/%s", id, m->family,
           tm_fidelity_name(m->fidelity));
    int want = s_ref_set_model(&c->ref, id, m);
    for (size_t rti = 0; rti < S_NRT; rti++) {
        s_expect_rc(rti, tm_rt_set_model(c->rt[rti], id, m), want);
    }
}

static const s_ref_t *s_fault_ref;

static int s_rfault_cmp(const void *a, const void *b)
{
    const struct s_rfault *x = a;
    const struct s_rfault *y = b;
    if (x->tick != y->tick) {
        return x->tick < y->tick ? -1 : 1;
    }
    return strcmp(s_fault_ref->ids[x->a], s_fault_ref->ids[y->a]);
}

static int s_op_step(s_ctx_t *c)
{
    uint64_t ticks = 1 + s_below(&c->rng, 5);
    s_logf(c, "step %llu (tick %llu)", (unsigned long long)ticks,
           (unsigned long long)c->ref.tick);
    s_ref_t *r = &c->ref;
    r->n_fl = 0;
    for (uint64_t t = 0; t < ticks; t++) {
        s_ref_tick(r);
    }
    s_fault_ref = r;
    if (r->n_fl > 1) {
        qsort(r->fl, r->n_fl, sizeof *r->fl, s_rfault_cmp);
    }
    for (size_t rti = 0; rti < S_NRT; rti++) {
        s_expect_rc(rti, tm_rt_step(c->rt[rti], ticks), 0);
        /* The faults of this call, by tick then id, as the reference's. */
        const tm_rt_fault_t *f = NULL;
        uint64_t dropped = 1;
        size_t n = tm_rt_faults(c->rt[rti], &f, &dropped);
        s_expect(n == r->n_fl && dropped == 0, rti,
                 "faults: %zu (%llu dropped), reference %zu", n,
                 (unsigned long long)dropped, r->n_fl);
        for (size_t i = 0; i < n; i++) {
            const struct s_rfault *e = &r->fl[i];
            s_expect(strcmp(f[i].id, r->ids[e->a]) == 0 &&
                         f[i].tick == e->tick && f[i].status == e->status,
                     rti, "fault %zu: %s at %llu (%u), reference %s at %llu", i,
                     f[i].id, (unsigned long long)f[i].tick, f[i].status,
                     r->ids[e->a], (unsigned long long)e->tick);
        }
    }
    return 1;
}

/* Operation weights, out of 100. */
typedef struct {
    int spawn, kill, link, unlink, set, set_model; /* step: the rest */
    int tiers; /* spawn alpha tiers with period 1 only: large groups */
} s_mix_t;

static void s_run(uint64_t seed, size_t n_ops, size_t n_ids, const s_mix_t *mix)
{
    s_ctx_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    s_cur = c;
    c->seed = seed;
    c->rng.s = seed * 0x2545f4914f6cdd1dull + 1;
    s_ref_t *r = &c->ref;
    r->n_ids = n_ids;
    r->ids = calloc(n_ids, sizeof *r->ids);
    r->a = calloc(n_ids, sizeof *r->a);
    assert_non_null(r->ids);
    assert_non_null(r->a);
    /* Ids whose strcmp order differs from creation order and from case
     * order, including prefixes and the longest valid id. */
    static const char *const pool[] = {
        "a", "b",  "B",  "a0", "a_1", "ab", "z", "Z9", "m-1", "mm",
        "n", "_q", "-x", "p",  "q1",  "aa", "A", "a-", "0"};
    const size_t n_pool = sizeof pool / sizeof pool[0];
    for (size_t i = 0; i < n_ids; i++) {
        if (i < n_pool) {
            snprintf(r->ids[i], sizeof r->ids[i], "%s", pool[i]);
        } else if (i == n_pool) {
            memset(r->ids[i], 'r', TM_ID_MAX);
            r->ids[i][TM_ID_MAX] = '\0';
        } else {
            snprintf(r->ids[i], sizeof r->ids[i], "n%03zu-%c", i,
                     (char)('a' + (i * 7) % 26));
        }
    }
    r->h = 0.01;
    r->seed = seed ^ 0x5eedull;
    r->tick = seed % 3 == 0 ? 1000 : 0; /* a restarted mesh, sometimes */
    c->cfg[0] = (s_cfg_t){(unsigned)(1 + seed % 3), 1000000, 0};
    c->cfg[1] = s_cfgs[seed % S_NCFG];
    c->cfg[2] = s_cfgs[(seed + 2) % S_NCFG];
    for (size_t rti = 0; rti < S_NRT; rti++) {
        tm_rt_config_t cfg = {.workers = c->cfg[rti].workers,
                              .h = r->h,
                              .seed = r->seed,
                              .tick = r->tick,
                              .inline_actors = c->cfg[rti].inline_actors,
                              .inline_ns = c->cfg[rti].inline_ns};
        assert_int_equal(tm_rt_open(&c->rt[rti], &cfg), 0);
    }
    for (c->op = 0; c->op < n_ops; c->op++) {
        int w = (int)s_below(&c->rng, 100);
        int stepped = 0;
        if ((w -= mix->spawn) < 0) {
            s_op_spawn(c, mix->tiers);
        } else if ((w -= mix->kill) < 0) {
            s_op_kill(c);
        } else if ((w -= mix->link) < 0) {
            s_op_link(c, 0);
        } else if ((w -= mix->unlink) < 0) {
            s_op_link(c, 1);
        } else if ((w -= mix->set) < 0) {
            s_op_set(c);
        } else if ((w -= mix->set_model) < 0) {
            s_op_set_model(c);
        } else {
            stepped = s_op_step(c);
        }
        s_check_all(c, stepped || c->op + 1 == n_ops);
    }
    for (size_t rti = 0; rti < S_NRT; rti++) {
        tm_rt_destroy(&c->rt[rti]);
        assert_null(c->rt[rti]);
    }
    free(r->ids);
    free(r->a);
    free(r->links);
    free(r->fl);
    free(c);
    s_cur = NULL;
}

/* ---- tests -------------------------------------------------------------- */

/* 20 ids, dense links: every rule and error path, many faults. */
static void test_random_small(void **state)
{
    (void)state;
    const s_mix_t mix = {.spawn = 14,
                         .kill = 4,
                         .link = 38,
                         .unlink = 5,
                         .set = 17,
                         .set_model = 10};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        s_run(seed, 2000, 20, &mix);
    }
}

/* 160 ids, many spawns and tier changes: groups grow, shrink and vanish;
 * actors move between groups that must grow. */
static void test_random_groups(void **state)
{
    (void)state;
    const s_mix_t mix = {.spawn = 30,
                         .kill = 8,
                         .link = 25,
                         .unlink = 5,
                         .set = 5,
                         .set_model = 20};
    for (uint64_t seed = 101; seed <= 104; seed++) {
        s_run(seed, 1500, 160, &mix);
    }
}

/* Two outputs of one source into one summing input: ascending source id
 * leaves their order open; it must not depend on the order of linking.
 * a.y = 1e16, b.y = -1e16, b.q = 1: (a.y + b.y) + b.q = 1, while adding
 * b.q before b.y gives (1e16 + 1) - 1e16 = 0. */
static void s_same_source(unsigned workers, int q_first, double *u)
{
    tm_rt_config_t cfg = {.workers = workers, .h = 0.01};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    const char *ids[] = {"a", "b", "d"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tm_rt_spawn(rt, ids[i], &s_ahi, NULL), 0);
        assert_int_equal(tm_rt_set(rt, ids[i], "w", 0.0), 0);
    }
    assert_int_equal(tm_rt_set(rt, "a", "x", 1e16), 0);
    assert_int_equal(tm_rt_set(rt, "b", "x", -1e16), 0);
    assert_int_equal(tm_rt_set(rt, "b", "v", 1.0), 0);
    const char *first = q_first ? "q" : "y";
    const char *second = q_first ? "y" : "q";
    assert_int_equal(tm_rt_link(rt, "b", first, "d", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "a", "y", "d", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "b", second, "d", "u"), 0);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "d", &v), 0);
    *u = v.inputs[0];
    tm_rt_destroy(&rt);
}

static void test_summing_same_source(void **state)
{
    (void)state;
    for (unsigned w = 1; w <= 2; w++) {
        double u1, u2;
        s_same_source(w, 0, &u1);
        s_same_source(w, 1, &u2);
        assert_true(u1 == 1.0); /* a.y, b.y, b.q: output order */
        assert_true(u2 == 1.0);
    }
}

/* 120 ids, alpha tiers only, one period: groups of dozens of actors, so
 * tier changes move actors into groups that must grow, links kept. */
static void test_random_tiers(void **state)
{
    (void)state;
    const s_mix_t mix = {.spawn = 25,
                         .kill = 3,
                         .link = 25,
                         .unlink = 2,
                         .set = 5,
                         .set_model = 30,
                         .tiers = 1};
    for (uint64_t seed = 201; seed <= 203; seed++) {
        s_run(seed, 1500, 120, &mix);
    }
}

/* Links into one input are counted in a uint16_t: the 65536th is refused,
 * and the count stays exact when links come and go at the limit. */
static void test_link_limit(void **state)
{
    (void)state;
    tm_rt_config_t cfg = {.workers = 2, .h = 0.01, .inline_actors = 1000000};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    assert_int_equal(tm_rt_spawn(rt, "d", &s_ahi, NULL), 0);
    char id[16];
    enum { N = 32768 }; /* two outputs each: 65536 possible links */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "s%05d", i);
        assert_int_equal(tm_rt_spawn(rt, id, &s_ahi, NULL), 0);
        assert_int_equal(tm_rt_link(rt, id, "y", "d", "u"), 0);
        int rc = tm_rt_link(rt, id, "q", "d", "u");
        assert_int_equal(rc, i + 1 < N ? 0 : TM_ERR_TOO_BIG);
    }
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "d", &v), 0);
    assert_int_equal(v.linked[0], UINT16_MAX);
    assert_int_equal(tm_rt_unlink(rt, "s00000", "q", "d", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "s32767", "q", "d", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "s00000", "q", "d", "u"), TM_ERR_TOO_BIG);
    assert_int_equal(tm_rt_kill(rt, "s00001"), 0);
    assert_int_equal(tm_rt_get(rt, "d", &v), 0);
    assert_int_equal(v.linked[0], UINT16_MAX - 2);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    /* Sources' outputs at spawn (zero inputs): y = k = 0.5, q = 0. */
    assert_int_equal(tm_rt_get(rt, "d", &v), 0);
    assert_true(v.inputs[0] == 0.5 * (N - 1));
    tm_rt_stats_t st;
    tm_rt_stats(rt, &st);
    assert_int_equal(st.links, UINT16_MAX - 2);
    tm_rt_destroy(&rt);
}

static int s_handle_eq(uint32_t handle, const void *key, void *arg)
{
    (void)arg;
    return handle == *(const uint32_t *)key;
}

/* Churn: actors and links created and removed many times. The indexes
 * reuse their tombstones instead of growing, and lookups stay right. */
static void test_churn(void **state)
{
    (void)state;
    tm_index_t ix;
    tm_index_init(&ix);
    for (uint32_t h = 0; h < 200000; h++) {
        uint64_t hash = tm_hash64(&h, sizeof h);
        assert_int_equal(tm_index_insert(&ix, hash, h), 0);
        if (h >= 8) {
            uint32_t old = h - 8;
            uint64_t oh = tm_hash64(&old, sizeof old);
            assert_int_equal(tm_index_find(&ix, oh, &old, s_handle_eq, NULL),
                             old);
            assert_int_equal(tm_index_remove(&ix, oh, old), 0);
            assert_int_equal(tm_index_find(&ix, oh, &old, s_handle_eq, NULL),
                             TM_INDEX_NONE);
        }
        assert_true(ix.used <= 9 && ix.cap <= 64);
    }
    tm_index_free(&ix);

    tm_rt_config_t cfg = {.workers = 2, .h = 0.01, .inline_actors = 8};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    assert_int_equal(tm_rt_spawn(rt, "hub", &s_ahi, NULL), 0);
    char id[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "c%d", i);
        tm_rt_spawn_opts_t o = {.period = 1 + (uint32_t)(i % 7)};
        const tm_model_t *m = i % 3 ? &s_ahi : &s_gamma;
        assert_int_equal(tm_rt_spawn(rt, id, m, &o), 0);
        assert_int_equal(tm_rt_link(rt, id, "y", "hub", "u"), 0);
        assert_int_equal(
            tm_rt_link(rt, "hub", "y", id, m == &s_ahi ? "w" : "s"), 0);
        if (i % 1000 == 999) {
            assert_int_equal(tm_rt_step(rt, 1), 0);
        }
        if (i >= 4) {
            snprintf(id, sizeof id, "c%d", i - 4);
            assert_int_equal(tm_rt_kill(rt, id), 0);
        }
    }
    tm_rt_stats_t st;
    tm_rt_stats(rt, &st);
    assert_int_equal(st.actors, 5);
    assert_int_equal(st.links, 8);
    assert_true(st.groups <= 5); /* hub + 4, however many were emptied */
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, "hub", &v), 0);
    assert_int_equal(v.linked[0], 4);
    assert_int_equal(tm_rt_link(rt, "c19999", "y", "hub", "u"), TM_ERR_EXISTS);
    assert_int_equal(tm_rt_kill(rt, "c15995"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_step(rt, 3), 0);
    tm_rt_destroy(&rt);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summing_same_source),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_groups),
        cmocka_unit_test(test_random_tiers),
        cmocka_unit_test(test_link_limit),
        cmocka_unit_test(test_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
