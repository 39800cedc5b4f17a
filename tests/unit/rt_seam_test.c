/* rt_seam_test: the runtime's per-tick seam - proxies of remote actors
 * (tm_rt_spawn_remote, tm_rt_import, tm_rt_import_at, tm_rt_outputs_at)
 * and per-actor links (tm_rt_foreach_link_of, kill). The faults of a step
 * call are in rt_faults_test.
 *
 * The main check splits one mesh of library oscillators and springs over
 * two runtimes that exchange the outputs of their boundary actors every
 * tick, and requires every state, bit for bit, and the digest of the union
 * to equal those of the same mesh in one runtime.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_model.h"
#include "tm_models.h"
#include "tm_rt.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- test models -------------------------------------------------------- */

/* probe: x = u + w + 1 each step, y = x. u sums its links, w takes one.
 * At tick nan_at the step produces NaN, at tick fail_at it reports
 * TM_STEP_FAILED (-1: never). */
static const tm_var_t s_probe_states[] = {
    {"x", "1", 0.0, -1e300, 1e300, 0, "value"}};
static const tm_var_t s_probe_inputs[] = {
    {"u", "1", 0.0, -1.7e308, 1.7e308, TM_VAR_SUMMING, "summing input"},
    {"w", "1", 0.0, -1.7e308, 1.7e308, 0, "single-link input"}};
static const tm_var_t s_probe_outputs[] = {{"y", "1", 0, 0, 0, 0, "x"}};
static const tm_var_t s_probe_params[] = {
    {"x0", "1", 0.0, -1e6, 1e6, 0, "initial x"},
    {"nan_at", "1", -1.0, -1.0, 1e9, 0, "tick of a NaN step"},
    {"fail_at", "1", -1.0, -1.0, 1e9, 0, "tick of a failed step"}};

static int s_probe_init(const double *p, double *x)
{
    x[0] = p[0];
    return TM_STEP_OK;
}

static void s_probe_output(size_t n, const double *x, const double *p,
                           const double *u, double *y)
{
    (void)p;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i];
    }
}

static void s_probe_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                         const double *p, const double *u, double *y,
                         uint8_t *st)
{
    double k = (double)ctx->tick;
    for (size_t i = 0; i < n; i++) {
        x[i] = u[2 * i] + u[2 * i + 1] + 1.0;
        if (p[3 * i + 1] == k) {
            x[i] = NAN;
        }
        if (p[3 * i + 2] == k) {
            st[i] = TM_STEP_FAILED;
        }
        y[i] = x[i];
    }
}

static const tm_model_t s_probe = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "probe",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "test probe",
    .states = s_probe_states,
    .n_states = 1,
    .inputs = s_probe_inputs,
    .n_inputs = 2,
    .outputs = s_probe_outputs,
    .n_outputs = 1,
    .params = s_probe_params,
    .n_params = 3,
    .init = s_probe_init,
    .output = s_probe_output,
    .step = s_probe_step,
};

/* source: stateless, y = param v (2v for the second output). */
static const tm_var_t s_src_outputs[] = {{"y", "1", 0, 0, 0, 0, "v"},
                                         {"z", "1", 0, 0, 0, 0, "2 v"}};
static const tm_var_t s_src_params[] = {
    {"v", "1", 0.0, -1e300, 1e300, 0, "value"}};

static int s_src_init(const double *p, double *x)
{
    (void)p;
    (void)x;
    return TM_STEP_OK;
}

static void s_src_output(size_t n, const double *x, const double *p,
                         const double *u, double *y)
{
    (void)x;
    (void)u;
    for (size_t i = 0; i < n; i++) {
        y[2 * i] = p[i];
        y[2 * i + 1] = 2.0 * p[i];
    }
}

static void s_src_step(const tm_step_ctx_t *ctx, size_t n, double *x,
                       const double *p, const double *u, double *y, uint8_t *st)
{
    (void)ctx;
    (void)st;
    s_src_output(n, x, p, u, y);
}

static const tm_model_t s_src = {
    .abi_version = TM_MODEL_ABI_VERSION,
    .struct_size = sizeof(tm_model_t),
    .family = "source",
    .version = "1.0.0",
    .fidelity = TM_FIDELITY_HIGH,
    .summary = "constant source",
    .outputs = s_src_outputs,
    .n_outputs = 2,
    .params = s_src_params,
    .n_params = 1,
    .init = s_src_init,
    .output = s_src_output,
    .step = s_src_step,
};

/* ---- helpers ------------------------------------------------------------ */

static tm_rt_t *s_open(unsigned workers, size_t inline_actors)
{
    tm_rt_config_t cfg = {.workers = workers,
                          .h = 0.001,
                          .seed = 11,
                          .inline_actors = inline_actors};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &cfg), 0);
    return rt;
}

static tm_rt_actor_t s_get(tm_rt_t *rt, const char *id)
{
    tm_rt_actor_t v;
    assert_int_equal(tm_rt_get(rt, id, &v), 0);
    return v;
}

static const tm_model_t *s_find(const char *family, tm_fidelity_t tier)
{
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find(family, NULL, tier, &m), 0);
    return m;
}

static int s_param(const tm_model_t *m, const char *name)
{
    int j = tm_model_var_index(m->params, m->n_params, name);
    assert_true(j >= 0);
    return j;
}

/* The digest of a mesh split over several runtimes: each computes its
 * part, the parts combine (tm_rt_digest documents the definition). */
static void s_union_digest(tm_rt_t *const *rts, size_t n_rt, size_t cap,
                           uint8_t out[32])
{
    tm_rt_digest_part_t parts[4];
    (void)cap;
    assert_true(n_rt <= 4);
    for (size_t i = 0; i < n_rt; i++) {
        assert_int_equal(tm_rt_digest_part(rts[i], &parts[i]), 0);
    }
    assert_int_equal(tm_rt_digest_combine(parts, n_rt, out), 0);
}

/* ---- a mesh split over two runtimes ------------------------------------- */

enum { S_MAXA = 96, S_MAXL = 320, S_KEEP = 8 };

typedef struct {
    char id[16];
    const tm_model_t *m;
    double p[TM_MODEL_MAX_VARS];
    uint32_t period;
    int side; /* 0: runtime A, 1: runtime B */
} s_aspec_t;

typedef struct {
    int src, dst;
    const char *out, *in;
    uint32_t delay;
} s_lspec_t;

typedef struct {
    s_aspec_t a[S_MAXA];
    size_t na;
    s_lspec_t l[S_MAXL];
    size_t nl;
    uint32_t max_delay; /* links get delays 1 .. max_delay */
} s_mesh_t;

static int s_mesh_actor(s_mesh_t *m, const char *id, const tm_model_t *model,
                        uint32_t period)
{
    assert_true(m->na < S_MAXA);
    s_aspec_t *a = &m->a[m->na];
    snprintf(a->id, sizeof a->id, "%s", id);
    a->m = model;
    a->period = period;
    for (uint32_t j = 0; j < model->n_params; j++) {
        a->p[j] = model->params[j].def;
    }
    return (int)m->na++;
}

static void s_mesh_link(s_mesh_t *m, int src, const char *out, int dst,
                        const char *in)
{
    assert_true(m->nl < S_MAXL);
    uint32_t delay = 1 + (uint32_t)((m->nl * 7) % m->max_delay);
    m->l[m->nl++] = (s_lspec_t){src, dst, out, in, delay};
}

/* A spring between oscillators a and b: a.x -> xa, b.x -> xb, fa -> a.fr,
 * fb -> b.fl (oscillator inputs sum their links). */
static void s_mesh_spring(s_mesh_t *m, int s, int a, int b)
{
    s_mesh_link(m, a, "x", s, "xa");
    s_mesh_link(m, b, "x", s, "xb");
    s_mesh_link(m, s, "fa", a, "fr");
    s_mesh_link(m, s, "fb", b, "fl");
}

/* A chain of oscillators o00.. joined by springs s00.., plus cross springs
 * c0.. that add a second link into some summing inputs ('c' < 'o' < 's':
 * summing order interleaves runtimes). Tiers, parameters, periods, sides
 * and delays (1 .. max_delay) vary with the index. */
static void s_mesh_build(s_mesh_t *m, uint32_t max_delay)
{
    memset(m, 0, sizeof *m);
    m->max_delay = max_delay;
    enum { N_OSC = 28, N_CROSS = 8 };
    const tm_model_t *osc_hi = s_find("oscillator", TM_FIDELITY_HIGH);
    const tm_model_t *osc_lo = s_find("oscillator", TM_FIDELITY_LOW);
    const tm_model_t *spr = s_find("spring", TM_FIDELITY_HIGH);
    char id[16];
    int osc[N_OSC];
    for (int i = 0; i < N_OSC; i++) {
        snprintf(id, sizeof id, "o%02d", i);
        const tm_model_t *om = i % 5 == 3 ? osc_lo : osc_hi;
        osc[i] = s_mesh_actor(m, id, om, i % 7 == 6 ? 2 : 1);
        s_aspec_t *a = &m->a[osc[i]];
        a->p[s_param(om, "x0")] = 0.01 * (double)((i * 5) % 11) - 0.04;
        a->p[s_param(om, "v0")] = 0.02 * (double)(i % 3);
        a->p[s_param(om, "m")] = 1.0 + 0.25 * (double)(i % 4);
    }
    for (int i = 0; i + 1 < N_OSC; i++) {
        snprintf(id, sizeof id, "s%02d", i);
        int s = s_mesh_actor(m, id, spr, i % 6 == 4 ? 3 : 1);
        m->a[s].p[s_param(spr, "k")] = 60.0 + 10.0 * (double)(i % 5);
        s_mesh_spring(m, s, osc[i], osc[i + 1]);
    }
    for (int i = 0; i < N_CROSS; i++) {
        snprintf(id, sizeof id, "c%d", i);
        int s = s_mesh_actor(m, id, spr, 1);
        m->a[s].p[s_param(spr, "k")] = 25.0 + (double)i;
        s_mesh_spring(m, s, osc[(3 * i) % N_OSC], osc[(3 * i + 7) % N_OSC]);
    }
    /* Sides from a scrambled index, so remote and local sources of one
     * summing input interleave in id order. */
    for (size_t i = 0; i < m->na; i++) {
        m->a[i].side = (int)(((i * 2654435761u) >> 7) & 1u);
    }
}

static void s_spawn_spec(tm_rt_t *rt, const s_aspec_t *a)
{
    tm_rt_spawn_opts_t o = {.params = a->p, .period = a->period};
    assert_int_equal(tm_rt_spawn(rt, a->id, a->m, &o), 0);
}

static void s_link_spec(tm_rt_t *rt, const s_mesh_t *m, const s_lspec_t *l)
{
    assert_int_equal(tm_rt_link_delay(rt, m->a[l->src].id, l->out,
                                      m->a[l->dst].id, l->in, l->delay),
                     0);
}

/* The whole mesh in one runtime. */
static void s_mesh_local(const s_mesh_t *m, tm_rt_t *rt)
{
    for (size_t i = m->na; i-- > 0;) {
        s_spawn_spec(rt, &m->a[i]);
    }
    for (size_t i = 0; i < m->nl; i++) {
        s_link_spec(rt, m, &m->l[i]);
    }
}

/* Side `side` of the mesh: its actors and, for every link into one of them
 * from the other side, a proxy of the source (once). proxy[i] is the
 * smallest delay of the links from actor i into this side when it has a
 * proxy here (0: none): the values of tick t are first read at t +
 * proxy[i]. */
static void s_mesh_side(const s_mesh_t *m, tm_rt_t *rt, int side,
                        uint32_t *proxy)
{
    for (size_t i = 0; i < m->na; i++) {
        proxy[i] = 0;
        if (m->a[i].side == side) {
            s_spawn_spec(rt, &m->a[i]);
        }
    }
    for (size_t i = 0; i < m->nl; i++) {
        const s_lspec_t *l = &m->l[i];
        if (m->a[l->dst].side != side) {
            continue;
        }
        const s_aspec_t *src = &m->a[l->src];
        if (src->side != side && !proxy[l->src]) {
            assert_int_equal(tm_rt_spawn_remote(rt, src->id, src->m), 0);
        }
        if (src->side != side && (!proxy[l->src] || l->delay < proxy[l->src])) {
            proxy[l->src] = l->delay;
        }
        s_link_spec(rt, m, l);
    }
}

/* How the outputs of a tick reach the proxies: imported into every tick
 * (tm_rt_import, the delay-1 protocol), into their own tick at once
 * (tm_rt_import_at), or into their own tick only just before a step reads
 * them, as from a peer that lags by up to d - 1 ticks. */
typedef enum { S_HOLD, S_PROMPT, S_LATE } s_mode_t;

/* The two runtimes, their proxies and what each owner exported. */
typedef struct {
    const s_mesh_t *m;
    tm_rt_t *rt[2];
    uint32_t proxy[2][S_MAXA];
    s_mode_t mode;
    double sent[S_KEEP][S_MAXA][TM_MODEL_MAX_VARS]; /* by tick % S_KEEP */
} s_split_t;

/* After both runtimes stepped to tick k: record what the owners computed,
 * then import into the proxies what the mode says is due before k + 1. */
static void s_exchange(s_split_t *x, uint64_t k)
{
    const s_mesh_t *m = x->m;
    for (size_t i = 0; i < m->na; i++) {
        const double *y = NULL;
        const tm_model_t *model = NULL;
        tm_rt_t *owner = x->rt[m->a[i].side];
        assert_int_equal(tm_rt_outputs_at(owner, m->a[i].id, k, &y, &model), 0);
        assert_ptr_equal(model, m->a[i].m);
        memcpy(x->sent[k % S_KEEP][i], y, model->n_outputs * sizeof(double));
    }
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < m->na; i++) {
            uint32_t d = x->proxy[side][i];
            tm_rt_t *rt = x->rt[side];
            const char *id = m->a[i].id;
            if (d == 0) {
                continue;
            }
            if (x->mode == S_HOLD || k == 0) { /* tick 0: and before it */
                assert_int_equal(tm_rt_import(rt, id, x->sent[k % S_KEEP][i]),
                                 0);
            } else if (x->mode == S_PROMPT) {
                assert_int_equal(
                    tm_rt_import_at(rt, id, k, x->sent[k % S_KEEP][i]), 0);
            } else if (k + 1 >= d) {
                uint64_t t = k + 1 - d; /* read first by the step of k + 1 */
                assert_int_equal(
                    tm_rt_import_at(rt, id, t, x->sent[t % S_KEEP][i]), 0);
                uint32_t w = s_get(rt, id).history; /* >= d */
                if (k >= w) { /* before the window: read by no step */
                    assert_int_equal(
                        tm_rt_import_at(rt, id, k - w, x->sent[t % S_KEEP][i]),
                        TM_ERR_RANGE);
                }
            }
        }
    }
}

/* Every actor of the split mesh equals its twin in the whole mesh. */
static void s_split_compare(const s_split_t *x, tm_rt_t *local, uint64_t k)
{
    const s_mesh_t *m = x->m;
    for (size_t i = 0; i < m->na; i++) {
        const s_aspec_t *a = &m->a[i];
        tm_rt_actor_t want = s_get(local, a->id);
        tm_rt_actor_t got = s_get(x->rt[a->side], a->id);
        size_t no = a->m->n_outputs * sizeof(double);
        assert_false(got.remote);
        assert_memory_equal(got.state, want.state,
                            a->m->n_states * sizeof(double));
        assert_memory_equal(got.inputs, want.inputs,
                            a->m->n_inputs * sizeof(double));
        assert_memory_equal(got.outputs, want.outputs, no);
        uint32_t d = x->proxy[1 - a->side][i];
        if (d > 0 && k + 1 >= d) {
            /* The proxy holds the last tick imported, as sent. */
            uint64_t t = x->mode == S_LATE ? k + 1 - d : k;
            const double *y = NULL;
            tm_rt_actor_t px = s_get(x->rt[1 - a->side], a->id);
            assert_true(px.remote);
            assert_int_equal(
                tm_rt_outputs_at(x->rt[1 - a->side], a->id, t, &y, NULL), 0);
            assert_memory_equal(y, x->sent[t % S_KEEP][i], no);
        }
    }
}

static void s_split_check(unsigned wl, unsigned wa, size_t ia, unsigned wb,
                          size_t ib, uint32_t max_delay, s_mode_t mode)
{
    enum { TICKS = 200 };
    s_mesh_t *m = malloc(sizeof *m);
    s_split_t *x = calloc(1, sizeof *x);
    assert_non_null(m);
    assert_non_null(x);
    s_mesh_build(m, max_delay);
    tm_rt_t *local = s_open(wl, 0);
    s_mesh_local(m, local);
    *x = (s_split_t){.m = m, .rt = {s_open(wa, ia), s_open(wb, ib)}};
    x->mode = mode;
    s_mesh_side(m, x->rt[0], 0, x->proxy[0]);
    s_mesh_side(m, x->rt[1], 1, x->proxy[1]);
    size_t n_proxies = 0;
    for (size_t i = 0; i < m->na; i++) {
        n_proxies += (size_t)(x->proxy[0][i] > 0) + (x->proxy[1][i] > 0);
    }
    assert_true(n_proxies >= 8); /* the mesh really is cut */
    assert_int_equal(tm_rt_count(x->rt[0]) + tm_rt_count(x->rt[1]), m->na);
    tm_rt_stats_t sa, sb;
    tm_rt_stats(x->rt[0], &sa);
    tm_rt_stats(x->rt[1], &sb);
    assert_int_equal(sa.remote + sb.remote, n_proxies);
    assert_int_equal(sa.links + sb.links, m->nl);

    s_exchange(x, 0);
    for (uint64_t k = 1; k <= TICKS; k++) {
        assert_int_equal(tm_rt_step(local, 1), 0);
        assert_int_equal(tm_rt_step(x->rt[0], 1), 0);
        assert_int_equal(tm_rt_step(x->rt[1], 1), 0);
        s_exchange(x, k);
        if (k % 50 == 0 || k <= 6) {
            s_split_compare(x, local, k);
        }
    }
    assert_int_equal(tm_rt_tick(x->rt[0]), TICKS);
    uint8_t dl[32], du[32], da[32];
    assert_int_equal(tm_rt_digest(local, dl), 0);
    s_union_digest(x->rt, 2, m->na, du);
    assert_memory_equal(du, dl, 32);
    assert_int_equal(tm_rt_digest(x->rt[0], da), 0);
    assert_memory_not_equal(da, dl, 32);
    /* The states moved: the check is not comparing initial values. */
    tm_rt_actor_t o0 = s_get(local, "o00");
    assert_true(o0.state[0] != m->a[0].p[s_param(m->a[0].m, "x0")]);
    tm_rt_destroy(&local);
    tm_rt_destroy(&x->rt[0]);
    tm_rt_destroy(&x->rt[1]);
    free(m);
    free(x);
}

static void test_split_mesh_bit_identical(void **state)
{
    (void)state;
    s_split_check(1, 2, 0, 3, 1000000, 1, S_HOLD); /* B inline */
    s_split_check(2, 1, 0, 2, 0, 1, S_HOLD);
    s_split_check(2, 1, 0, 2, 0, 1, S_PROMPT);
}

/* Delays 1..5 over the cut, values imported at their own tick, at once or
 * only just before they are read. */
static void test_split_mesh_delays(void **state)
{
    (void)state;
    for (uint32_t d = 2; d <= 5; d++) {
        s_split_check(1 + d % 3, 2, 0, 1 + d % 2, d % 2 ? 1000000 : 0, d,
                      S_PROMPT);
        s_split_check(2, 1 + d % 2, 0, 3, 0, d, S_LATE);
    }
}

/* ---- proxies: order, delay, hold ---------------------------------------- */

/* Summing order over local and remote sources: a.y = 1e16, b.y = 1,
 * c.y = -1e16 into one summing input give ((1e16 + 1) - 1e16) = 0 in
 * ascending-id order and 1 in any order that adds a and c first. Each
 * source is remote where its bit in `remote_mask` is set. */
static double s_sum_mixed(unsigned workers, unsigned remote_mask)
{
    tm_rt_t *rt = s_open(workers, 0);
    const char *ids[] = {"c", "a", "b"}; /* made out of order */
    const double v[] = {-1e16, 1e16, 1.0};
    for (int i = 0; i < 3; i++) {
        int bit = ids[i][0] - 'a';
        if (remote_mask & (1u << bit)) {
            assert_int_equal(tm_rt_spawn_remote(rt, ids[i], &s_src), 0);
            const double y[2] = {v[i], 2.0 * v[i]};
            assert_int_equal(tm_rt_import(rt, ids[i], y), 0);
        } else {
            tm_rt_spawn_opts_t o = {.params = &v[i]};
            assert_int_equal(tm_rt_spawn(rt, ids[i], &s_src, &o), 0);
        }
    }
    assert_int_equal(tm_rt_spawn(rt, "zsum", &s_probe, NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tm_rt_link(rt, ids[i], "y", "zsum", "u"), 0);
    }
    assert_int_equal(tm_rt_step(rt, 1), 0);
    double u = s_get(rt, "zsum").inputs[0];
    tm_rt_destroy(&rt);
    return u;
}

static void test_summing_order_mixed(void **state)
{
    (void)state;
    for (unsigned w = 1; w <= 2; w++) {
        for (unsigned mask = 0; mask < 8; mask++) {
            assert_true(s_sum_mixed(w, mask) == 0.0);
        }
    }
}

/* One runtime, two paths: proxy p -> d (period 1) and p -> e (period 3),
 * and local source q -> d2, q -> e2 with the same values set at the same
 * ticks. The proxy path must read exactly as the local one: a value
 * given at tick k is read by the step of tick k + 1, and held after. */
static void test_import_delay_and_hold(void **state)
{
    (void)state;
    tm_rt_t *rt = s_open(2, 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "p", &s_src), 0);
    assert_int_equal(tm_rt_spawn(rt, "q", &s_src, NULL), 0);
    tm_rt_spawn_opts_t slow = {.period = 3};
    assert_int_equal(tm_rt_spawn(rt, "d", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "d2", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(rt, "e", &s_probe, &slow), 0);
    assert_int_equal(tm_rt_spawn(rt, "e2", &s_probe, &slow), 0);
    assert_int_equal(tm_rt_link(rt, "p", "y", "d", "w"), 0);
    assert_int_equal(tm_rt_link(rt, "p", "z", "e", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "q", "y", "d2", "w"), 0);
    assert_int_equal(tm_rt_link(rt, "q", "z", "e2", "u"), 0);
    /* Initial outputs of a proxy: the model's, from defaults (v = 0). */
    tm_rt_actor_t pv = s_get(rt, "p");
    assert_true(pv.remote);
    assert_true(pv.outputs[0] == 0.0 && pv.outputs[1] == 0.0);
    /* Values by tick: imported (p) and set (q) before stepping from it;
     * 0 = keep the previous value. */
    const double plan[] = {5, 0, 7, 0, 0, 0, -2, 3, 0, 0, 0, 0, 0, 1};
    const int n = (int)(sizeof plan / sizeof plan[0]);
    double last = 0.0;
    for (int k = 0; k < n; k++) {
        if (plan[k] != 0.0) {
            const double y[2] = {plan[k], 2.0 * plan[k]};
            assert_int_equal(tm_rt_import(rt, "p", y), 0);
            assert_int_equal(tm_rt_set(rt, "q", "v", plan[k]), 0);
            last = plan[k];
        }
        const double *po = NULL;
        assert_int_equal(tm_rt_outputs(rt, "p", &po, NULL), 0);
        assert_true(po[0] == last);
        /* Several ticks in one call hold the value too. */
        assert_int_equal(tm_rt_step(rt, k % 4 == 3 ? 2 : 1), 0);
        tm_rt_actor_t d = s_get(rt, "d");
        tm_rt_actor_t d2 = s_get(rt, "d2");
        tm_rt_actor_t e = s_get(rt, "e");
        tm_rt_actor_t e2 = s_get(rt, "e2");
        assert_true(d.inputs[1] == last);
        assert_true(d.outputs[0] == last + 1.0);
        assert_memory_equal(d.state, d2.state, sizeof(double));
        assert_memory_equal(e.state, e2.state, sizeof(double));
        assert_memory_equal(e.inputs, e2.inputs, 2 * sizeof(double));
        assert_memory_equal(e.outputs, e2.outputs, sizeof(double));
    }
    tm_rt_destroy(&rt);
}

static int s_count_actor_cb(const tm_rt_actor_t *v, void *arg)
{
    assert_false(v->remote);
    (*(size_t *)arg)++;
    return 0;
}

static void test_proxy_rules_and_errors(void **state)
{
    (void)state;
    const tm_model_t *osc = s_find("oscillator", TM_FIDELITY_HIGH);
    tm_rt_t *rt = s_open(2, 0);
    tm_rt_t *twin = s_open(1, 0); /* the same local actors, no proxy */
    assert_int_equal(tm_rt_spawn(rt, "loc", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn(twin, "loc", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "rem", osc), 0);
    /* Spawning. */
    assert_int_equal(tm_rt_spawn_remote(rt, "rem", osc),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_int_equal(tm_rt_spawn_remote(rt, "loc", osc),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_int_equal(tm_rt_spawn(rt, "rem", &s_probe, NULL),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_int_equal(tm_rt_spawn_remote(rt, "a b", osc), TM_ERR_BAD_ID);
    tm_model_t bad = *osc;
    bad.abi_version++;
    assert_int_equal(tm_rt_spawn_remote(rt, "r2", &bad), TM_ERR_MODEL_ABI);
    assert_int_equal(tm_rt_spawn_remote(rt, "r2", NULL), TM_ERR_MODEL_ABI);
    /* A proxy shows its model's outputs at init (x0 = 0.1, v0 = 0). */
    tm_rt_actor_t v = s_get(rt, "rem");
    assert_true(v.remote);
    assert_ptr_equal(v.model, osc);
    assert_true(v.outputs[0] == 0.1 && v.outputs[1] == 0.0);
    assert_false(s_get(rt, "loc").remote);
    /* Counting, visiting, digest, stats. */
    assert_int_equal(tm_rt_count(rt), 1);
    size_t n = 0;
    assert_int_equal(tm_rt_foreach(rt, s_count_actor_cb, &n), 0);
    assert_int_equal(n, 1);
    uint8_t d1[32], d2[32];
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    assert_int_equal(tm_rt_digest(twin, d2), 0);
    assert_memory_equal(d1, d2, 32);
    tm_rt_stats_t st;
    tm_rt_stats(rt, &st);
    assert_int_equal(st.actors, 1);
    assert_int_equal(st.remote, 1);
    assert_int_equal(st.groups, 1);
    /* Links: from a proxy yes, into it no. */
    assert_int_equal(tm_rt_link(rt, "rem", "x", "loc", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "rem", "v", "loc", "u"), 0);
    assert_int_equal(tm_rt_link(rt, "loc", "y", "rem", "fl"), TM_ERR_INVAL);
    assert_int_equal(tm_rt_link(rt, "rem", "x", "rem", "fr"), TM_ERR_INVAL);
    assert_int_equal(tm_rt_link(rt, "loc", "y", "rem", "nope"),
                     TM_ERR_UNKNOWN_PORT);
    /* Set and set_model are for local actors. */
    assert_int_equal(tm_rt_set(rt, "rem", "x", 1.0), TM_ERR_INVAL);
    assert_int_equal(tm_rt_set(rt, "rem", "k", 1.0), TM_ERR_INVAL);
    assert_int_equal(
        tm_rt_set_model(rt, "rem", s_find("oscillator", TM_FIDELITY_LOW)),
        TM_ERR_INVAL);
    /* Import. */
    const double good[2] = {0.5, -0.25};
    const double nan2[2] = {0.5, NAN};
    const double inf2[2] = {INFINITY, 0.0};
    assert_int_equal(tm_rt_import(rt, "nope", good), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_import(rt, "loc", good), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import(rt, "rem", NULL), TM_ERR_INVAL);
    assert_int_equal(tm_rt_import(rt, "rem", good), 0);
    assert_int_equal(tm_rt_import(rt, "rem", nan2), TM_ERR_BAD_VALUE);
    assert_int_equal(tm_rt_import(rt, "rem", inf2), TM_ERR_BAD_VALUE);
    const double *y = NULL;
    const tm_model_t *ym = NULL;
    assert_int_equal(tm_rt_outputs(rt, "rem", &y, &ym), 0);
    assert_ptr_equal(ym, osc);
    assert_memory_equal(y, good, sizeof good); /* refused imports: no change */
    assert_int_equal(tm_rt_outputs(rt, "nope", &y, NULL), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_step(rt, 1), 0);
    v = s_get(rt, "loc");
    assert_true(v.inputs[0] == 0.5 + -0.25);
    assert_int_equal(v.linked[0], 2);
    /* Export of a local actor: its outputs of the current tick. */
    assert_int_equal(tm_rt_outputs(rt, "loc", &y, &ym), 0);
    assert_ptr_equal(ym, &s_probe);
    assert_ptr_equal(y, v.outputs);
    assert_true(y[0] == 1.25);
    /* Kill removes a proxy and its links. */
    assert_int_equal(tm_rt_kill(rt, "rem"), 0);
    assert_int_equal(tm_rt_get(rt, "rem", &v), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(tm_rt_import(rt, "rem", good), TM_ERR_UNKNOWN_ACTOR);
    tm_rt_stats(rt, &st);
    assert_int_equal(st.links, 0);
    assert_int_equal(st.remote, 0);
    assert_int_equal(st.actors, 1);
    assert_int_equal(s_get(rt, "loc").linked[0], 0);
    /* The id is free for a local actor, and back for a proxy. */
    assert_int_equal(tm_rt_spawn(rt, "rem", &s_probe, NULL), 0);
    assert_int_equal(tm_rt_kill(rt, "rem"), 0);
    assert_int_equal(tm_rt_spawn_remote(rt, "rem", osc), 0);
    assert_int_equal(tm_rt_count(rt), 1);
    tm_rt_destroy(&rt);
    tm_rt_destroy(&twin);
}

/* ---- links of one actor, kill through the lists ------------------------- */

typedef struct {
    char s[2 * TM_ID_MAX + 32];
} s_ltext_t;

typedef struct {
    s_ltext_t *t;
    size_t n, cap;
    const char *only; /* keep links touching it (NULL: all) */
} s_lset_t;

static int s_link_cb(const tm_rt_link_t *l, void *arg)
{
    s_lset_t *s = arg;
    if (s->only != NULL && strcmp(l->src, s->only) != 0 &&
        strcmp(l->dst, s->only) != 0) {
        return 0;
    }
    assert_true(s->n < s->cap);
    snprintf(s->t[s->n++].s, sizeof s->t[0].s, "%s.%s>%s.%s", l->src, l->output,
             l->dst, l->input);
    return 0;
}

static int s_ltext_cmp(const void *a, const void *b)
{
    return strcmp(((const s_ltext_t *)a)->s, ((const s_ltext_t *)b)->s);
}

static void s_lset_sort(s_lset_t *s)
{
    qsort(s->t, s->n, sizeof *s->t, s_ltext_cmp);
}

static void s_lset_equal(const s_lset_t *a, const s_lset_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->t[i].s, b->t[i].s);
    }
}

/* A full scan of tm_rt_foreach_link, kept where it touches `only`. */
static void s_scan(tm_rt_t *rt, const char *only, s_lset_t *s)
{
    s->n = 0;
    s->only = only;
    assert_int_equal(tm_rt_foreach_link(rt, s_link_cb, s), 0);
    s_lset_sort(s);
}

typedef struct {
    const char *id;
    int seen_in; /* an incoming link (not a self-link) was visited */
} s_order_t;

static int s_order_cb(const tm_rt_link_t *l, void *arg)
{
    s_order_t *o = arg;
    int out = strcmp(l->src, o->id) == 0;
    int in = strcmp(l->dst, o->id) == 0;
    assert_true(out || in);
    if (!out) {
        o->seen_in = 1;
    } else {
        assert_false(o->seen_in); /* outgoing links come first */
    }
    return 0;
}

static int s_stop_cb(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    (*(int *)arg)++;
    return 42;
}

static void test_links_of_and_kill(void **state)
{
    (void)state;
    enum { N = 60, L = 400, CAP = 2 * L };
    tm_rt_t *rt = s_open(2, 0);
    char id[16], other[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "n%02d", (i * 37) % N);
        if (i % 9 == 4) {
            assert_int_equal(tm_rt_spawn_remote(rt, id, &s_src), 0);
        } else if (i % 4 == 1) {
            assert_int_equal(tm_rt_spawn(rt, id, &s_src, NULL), 0);
        } else {
            assert_int_equal(tm_rt_spawn(rt, id, &s_probe, NULL), 0);
        }
    }
    /* Random links, self-links and several links between one pair
     * included; refused ones (into sources and proxies, duplicates, a
     * second link into w) are simply skipped. */
    uint64_t r = 99;
    size_t made = 0;
    for (int l = 0; l < L; l++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int a = (int)((r >> 33) % N);
        int b = l % 13 == 0 ? a : (int)((r >> 17) % N);
        snprintf(id, sizeof id, "n%02d", a);
        snprintf(other, sizeof other, "n%02d", b);
        tm_rt_actor_t av = s_get(rt, id);
        const char *out =
            av.model->outputs[(r >> 5) % av.model->n_outputs].name;
        const char *in = (r >> 9) % 3 ? "u" : "w";
        made += tm_rt_link(rt, id, out, other, in) == 0;
    }
    assert_true(made > 150);
    assert_int_equal(tm_rt_step(rt, 2), 0);

    s_lset_t want = {calloc(CAP, sizeof(s_ltext_t)), 0, CAP, NULL};
    s_lset_t got = {calloc(CAP, sizeof(s_ltext_t)), 0, CAP, NULL};
    assert_non_null(want.t);
    assert_non_null(got.t);
    /* Links of every actor: exactly those of a full scan, each once,
     * outgoing first; a callback's value stops the walk. */
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "n%02d", i);
        s_scan(rt, id, &want);
        got.n = 0;
        got.only = NULL;
        assert_int_equal(tm_rt_foreach_link_of(rt, id, s_link_cb, &got), 0);
        s_lset_sort(&got);
        s_lset_equal(&got, &want);
        s_order_t o = {id, 0};
        assert_int_equal(tm_rt_foreach_link_of(rt, id, s_order_cb, &o), 0);
        int calls = 0;
        assert_int_equal(tm_rt_foreach_link_of(rt, id, s_stop_cb, &calls),
                         want.n ? 42 : 0);
        assert_int_equal(calls, want.n ? 1 : 0);
    }
    assert_int_equal(tm_rt_foreach_link_of(rt, "nope", s_stop_cb, NULL),
                     TM_ERR_UNKNOWN_ACTOR);
    /* Kill a third of the actors: the links left are those of a full
     * scan minus the victim's, and the link counts of the inputs follow. */
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, "n%02d", (i * 11) % N);
        s_scan(rt, NULL, &want);
        s_lset_t gone = {calloc(CAP, sizeof(s_ltext_t)), 0, CAP, NULL};
        assert_non_null(gone.t);
        s_scan(rt, id, &gone);
        size_t keep = 0;
        for (size_t x = 0, y = 0; x < want.n; x++) {
            if (y < gone.n && strcmp(want.t[x].s, gone.t[y].s) == 0) {
                y++;
            } else {
                want.t[keep++] = want.t[x];
            }
        }
        want.n = keep;
        free(gone.t);
        assert_int_equal(tm_rt_kill(rt, id), 0);
        s_scan(rt, NULL, &got);
        s_lset_equal(&got, &want);
        assert_int_equal(tm_rt_foreach_link_of(rt, id, s_stop_cb, NULL),
                         TM_ERR_UNKNOWN_ACTOR);
        for (int j = 0; j < N; j++) {
            snprintf(other, sizeof other, "n%02d", j);
            tm_rt_actor_t v;
            if (tm_rt_get(rt, other, &v) != 0 || v.model != &s_probe) {
                continue;
            }
            s_scan(rt, other, &got);
            uint16_t into[2] = {0, 0};
            for (size_t x = 0; x < got.n; x++) {
                const char *gt = strchr(got.t[x].s, '>');
                size_t len = strlen(other);
                if (strncmp(gt + 1, other, len) == 0 && gt[1 + len] == '.') {
                    into[gt[2 + len] == 'u' ? 0 : 1]++;
                }
            }
            assert_int_equal(v.linked[0], into[0]);
            assert_int_equal(v.linked[1], into[1]);
        }
        assert_int_equal(tm_rt_step(rt, 1), 0);
    }
    free(want.t);
    free(got.t);
    tm_rt_destroy(&rt);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_mesh_bit_identical),
        cmocka_unit_test(test_split_mesh_delays),
        cmocka_unit_test(test_summing_order_mixed),
        cmocka_unit_test(test_import_delay_and_hold),
        cmocka_unit_test(test_proxy_rules_and_errors),
        cmocka_unit_test(test_links_of_and_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
