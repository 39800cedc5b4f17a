/* rt_ref: a reference of the actor runtime for rt_random_test, written
 * straight from the contract in core/tm_rt.h with plain arrays: actors in
 * a pool of ids, links in a table, every tick computed literally, one actor
 * at a time, with the same model functions. Delayed links read a plain
 * per-actor history (hist[j]: the outputs of tick - j) that is shifted by
 * one every tick; an actor's window is recomputed from the link table when
 * needed. Header-only, static functions; include after cmocka.h. */
#ifndef TM_RT_REF_H_INCLUDED
#define TM_RT_REF_H_INCLUDED

#include "tm_err.h"
#include "tm_index.h"
#include "tm_model.h"
#include "tm_rt.h"

#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_MAXV TM_MODEL_MAX_VARS
#define S_HMAX 8 /* ticks of history kept: delays up to S_HMAX */

typedef struct {
    int alive;
    const tm_model_t *m;
    uint32_t period;
    uint64_t key;
    uint64_t spawn_tick;
    double x[S_MAXV];
    double p[S_MAXV];
    double held[S_MAXV];
    double in[S_MAXV];
    double hist[S_HMAX][S_MAXV]; /* hist[0]: the current outputs */
    uint16_t nlink[S_MAXV];
    uint8_t status;
    uint32_t faults;
    uint64_t last_fault;
} s_ract_t;

typedef struct {
    int src, out, dst, in; /* actor numbers (positions in the id pool) */
    uint32_t delay;
    uint64_t seq; /* order of making */
} s_rlink_t;

typedef struct {
    size_t n_ids;
    char (*ids)[TM_ID_MAX + 2];
    s_ract_t *a;
    s_rlink_t *links;
    size_t n_links, cap_links;
    uint64_t link_seq;
    uint64_t tick, seed;
    double h;
    uint64_t steps, faults;
    /* Faults of the current step operation: (actor, tick, status). */
    struct s_rfault {
        int a;
        uint64_t tick;
        uint8_t status;
    } * fl;
    size_t n_fl, cap_fl;
} s_ref_t;

static int s_ref_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > TM_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int s_finite_all(const double *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return 0;
        }
    }
    return 1;
}

static int s_in_ranges(const tm_var_t *vars, uint32_t n, const double *v)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || v[i] < vars[i].min || v[i] > vars[i].max) {
            return 0;
        }
    }
    return 1;
}

/* The actor number of an id, or -1 when it is not in the pool. */
static int s_ref_find(const s_ref_t *r, const char *id)
{
    for (size_t i = 0; i < r->n_ids; i++) {
        if (strcmp(r->ids[i], id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int s_ref_alive(const s_ref_t *r, const char *id)
{
    int i = s_ref_find(r, id);
    return i >= 0 && r->a[i].alive ? i : -1;
}

static int s_ref_spawn(s_ref_t *r, const char *id, const tm_model_t *m,
                       const tm_rt_spawn_opts_t *o)
{
    if (!s_ref_id_valid(id)) {
        return TM_ERR_BAD_ID;
    }
    if (tm_model_check(m) != 0) {
        return TM_ERR_MODEL_ABI;
    }
    int i = s_ref_find(r, id);
    assert_true(i >= 0); /* every valid id used is in the pool */
    if (r->a[i].alive) {
        return TM_ERR_DUPLICATE_ACTOR;
    }
    s_ract_t a;
    memset(&a, 0, sizeof a);
    for (uint32_t j = 0; j < m->n_params; j++) {
        a.p[j] = o->params ? o->params[j] : m->params[j].def;
    }
    for (uint32_t j = 0; j < m->n_inputs; j++) {
        a.held[j] = o->held ? o->held[j] : m->inputs[j].def;
    }
    if (!s_in_ranges(m->params, m->n_params, a.p) ||
        !s_in_ranges(m->inputs, m->n_inputs, a.held)) {
        return TM_ERR_BAD_VALUE;
    }
    if (o->state != NULL) {
        memcpy(a.x, o->state, m->n_states * sizeof(double));
    } else if (m->init(a.p, a.x) != TM_STEP_OK) {
        return TM_ERR_BAD_VALUE;
    }
    if (!s_finite_all(a.x, m->n_states)) {
        return TM_ERR_BAD_VALUE;
    }
    if (o->outputs != NULL) {
        memcpy(a.hist[0], o->outputs, m->n_outputs * sizeof(double));
    } else {
        m->output(1, a.x, a.p, a.in, a.hist[0]);
    }
    if (!s_finite_all(a.hist[0], m->n_outputs)) {
        return TM_ERR_BAD_VALUE;
    }
    for (int j = 1; j < S_HMAX; j++) { /* before the spawn: spawn outputs */
        memcpy(a.hist[j], a.hist[0], sizeof a.hist[0]);
    }
    a.alive = 1;
    a.m = m;
    a.period = o->period == 0 ? 1 : o->period;
    a.key = tm_hash64(id, strlen(id));
    a.spawn_tick = r->tick;
    r->a[i] = a;
    return 0;
}

static void s_ref_unlink_at(s_ref_t *r, size_t li)
{
    r->a[r->links[li].dst].nlink[r->links[li].in]--;
    r->links[li] = r->links[--r->n_links];
}

static int s_ref_kill(s_ref_t *r, const char *id)
{
    int i = s_ref_alive(r, id);
    if (i < 0) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    for (size_t li = r->n_links; li-- > 0;) {
        if (r->links[li].src == i || r->links[li].dst == i) {
            s_ref_unlink_at(r, li);
        }
    }
    r->a[i].alive = 0;
    return 0;
}

static int s_ref_resolve(const s_ref_t *r, const char *src, const char *out,
                         const char *dst, const char *in, s_rlink_t *l)
{
    l->src = s_ref_alive(r, src);
    l->dst = s_ref_alive(r, dst);
    if (l->src < 0 || l->dst < 0) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    const tm_model_t *sm = r->a[l->src].m;
    const tm_model_t *dm = r->a[l->dst].m;
    l->out = -1;
    l->in = -1;
    for (uint32_t j = 0; j < sm->n_outputs; j++) {
        if (strcmp(sm->outputs[j].name, out) == 0) {
            l->out = (int)j;
        }
    }
    for (uint32_t j = 0; j < dm->n_inputs; j++) {
        if (strcmp(dm->inputs[j].name, in) == 0) {
            l->in = (int)j;
        }
    }
    return l->out < 0 || l->in < 0 ? TM_ERR_UNKNOWN_PORT : 0;
}

static size_t s_ref_link_find(const s_ref_t *r, const s_rlink_t *l)
{
    for (size_t li = 0; li < r->n_links; li++) {
        const s_rlink_t *x = &r->links[li];
        if (x->src == l->src && x->out == l->out && x->dst == l->dst &&
            x->in == l->in) {
            return li;
        }
    }
    return SIZE_MAX;
}

/* An actor's window: the largest delay of the links reading it, or 1. */
static uint32_t s_ref_window(const s_ref_t *r, int a)
{
    uint32_t w = 1;
    for (size_t li = 0; li < r->n_links; li++) {
        if (r->links[li].src == a && r->links[li].delay > w) {
            w = r->links[li].delay;
        }
    }
    return w;
}

static int s_ref_link(s_ref_t *r, const char *src, const char *out,
                      const char *dst, const char *in, uint32_t delay)
{
    s_rlink_t l;
    if (delay < 1 || delay > TM_RT_DELAY_MAX) {
        return TM_ERR_RANGE;
    }
    assert_true(delay <= S_HMAX);
    int rc = s_ref_resolve(r, src, out, dst, in, &l);
    if (rc != 0) {
        return rc;
    }
    if (s_ref_link_find(r, &l) != SIZE_MAX) {
        return TM_ERR_EXISTS;
    }
    s_ract_t *d = &r->a[l.dst];
    if (d->nlink[l.in] > 0 && !(d->m->inputs[l.in].flags & TM_VAR_SUMMING)) {
        return TM_ERR_INPUT_LINKED;
    }
    if (d->nlink[l.in] == UINT16_MAX) {
        return TM_ERR_TOO_BIG;
    }
    if (r->n_links == r->cap_links) {
        r->cap_links = r->cap_links ? 2 * r->cap_links : 256;
        r->links = realloc(r->links, r->cap_links * sizeof *r->links);
        assert_non_null(r->links);
    }
    /* The ticks the source did not keep read as its oldest kept one. */
    s_ract_t *sa = &r->a[l.src];
    uint32_t w = s_ref_window(r, l.src);
    for (uint32_t j = w; j < delay; j++) {
        memcpy(sa->hist[j], sa->hist[w - 1], sizeof sa->hist[j]);
    }
    l.delay = delay;
    l.seq = r->link_seq++;
    r->links[r->n_links++] = l;
    d->nlink[l.in]++;
    return 0;
}

static int s_ref_unlink(s_ref_t *r, const char *src, const char *out,
                        const char *dst, const char *in)
{
    s_rlink_t l;
    int rc = s_ref_resolve(r, src, out, dst, in, &l);
    if (rc != 0) {
        return rc;
    }
    size_t li = s_ref_link_find(r, &l);
    if (li == SIZE_MAX) {
        return TM_ERR_NOT_LINKED;
    }
    s_ref_unlink_at(r, li);
    return 0;
}

static int s_ref_set(s_ref_t *r, const char *id, const char *name, double v)
{
    int i = s_ref_alive(r, id);
    if (i < 0) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    s_ract_t *a = &r->a[i];
    const tm_model_t *m = a->m;
    double p[S_MAXV], x[S_MAXV], y[S_MAXV];
    memcpy(p, a->p, sizeof p);
    memcpy(x, a->x, sizeof x);
    int j = tm_model_var_index(m->params, m->n_params, name);
    if (j >= 0) {
        if (!s_in_ranges(&m->params[j], 1, &v)) {
            return TM_ERR_BAD_VALUE;
        }
        p[j] = v;
    } else if ((j = tm_model_var_index(m->states, m->n_states, name)) >= 0) {
        if (!isfinite(v)) {
            return TM_ERR_BAD_VALUE;
        }
        x[j] = v;
    } else if ((j = tm_model_var_index(m->inputs, m->n_inputs, name)) >= 0) {
        if (!s_in_ranges(&m->inputs[j], 1, &v)) {
            return TM_ERR_BAD_VALUE;
        }
        a->held[j] = v;
        return 0;
    } else {
        return TM_ERR_UNKNOWN_PORT;
    }
    /* Outputs follow, computed with the inputs of the last step; a value
     * that makes them non-finite is refused. */
    m->output(1, x, p, a->in, y);
    if (!s_finite_all(y, m->n_outputs)) {
        return TM_ERR_BAD_VALUE;
    }
    memcpy(a->p, p, sizeof p);
    memcpy(a->x, x, sizeof x);
    memcpy(a->hist[0], y, m->n_outputs * sizeof(double));
    return 0;
}

static int s_ref_set_model(s_ref_t *r, const char *id, const tm_model_t *m)
{
    int i = s_ref_alive(r, id);
    if (i < 0) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    s_ract_t *a = &r->a[i];
    if (m == a->m) {
        return 0;
    }
    if (tm_model_check(m) != 0 || tm_model_check_family(a->m, m) != 0) {
        return TM_ERR_INVAL;
    }
    double x[S_MAXV], y[S_MAXV];
    if (tm_model_map_state(m, a->m, a->x, a->p, x) != TM_STEP_OK ||
        !s_finite_all(x, m->n_states)) {
        return TM_ERR_MODEL_FAILED;
    }
    m->output(1, x, a->p, a->in, y);
    if (!s_finite_all(y, m->n_outputs)) {
        return TM_ERR_MODEL_FAILED;
    }
    a->m = m;
    memcpy(a->x, x, m->n_states * sizeof(double));
    memcpy(a->hist[0], y, m->n_outputs * sizeof(double)); /* past kept */
    return 0;
}

/* The links into input `in` of actor d, in summing order: ascending source
 * id (strcmp), then output. Returns their count. */
static size_t s_ref_links_into(const s_ref_t *r, int d, int in, size_t *out)
{
    size_t n = 0;
    for (size_t li = 0; li < r->n_links; li++) {
        if (r->links[li].dst == d && r->links[li].in == in) {
            out[n++] = li;
        }
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: obviously right */
        for (size_t j = i; j > 0; j--) {
            const s_rlink_t *p = &r->links[out[j - 1]];
            const s_rlink_t *q = &r->links[out[j]];
            int c = strcmp(r->ids[p->src], r->ids[q->src]);
            if (c < 0 || (c == 0 && p->out < q->out)) {
                break;
            }
            size_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    }
    return n;
}

/* Inputs of actor i for tick k: each link of delay d reads its source's
 * outputs of tick k - d, hist[d - 1] before the histories shift. */
static void s_ref_inputs(s_ref_t *r, size_t i, size_t *order)
{
    s_ract_t *a = &r->a[i];
    for (uint32_t j = 0; j < a->m->n_inputs; j++) {
        size_t nl = s_ref_links_into(r, (int)i, (int)j, order);
        if (nl == 0) {
            a->in[j] = a->held[j];
            continue;
        }
        double v = 0.0;
        for (size_t e = 0; e < nl; e++) {
            const s_rlink_t *l = &r->links[order[e]];
            double y = r->a[l->src].hist[l->delay - 1][l->out];
            v = e == 0 ? y : v + y;
        }
        a->in[j] = v;
    }
}

/* Step actor i at tick k (its history already shifted: hist[1] is the
 * tick before, and hist[0] a copy of it until the step writes it). */
static void s_ref_step(s_ref_t *r, size_t i, uint64_t k)
{
    s_ract_t *a = &r->a[i];
    const tm_model_t *m = a->m;
    double x0[S_MAXV];
    memcpy(x0, a->x, sizeof x0);
    tm_step_ctx_t ctx = {.h = r->h * (double)a->period,
                         .tick = k,
                         .seed = r->seed,
                         .keys = &a->key};
    uint8_t st = TM_STEP_OK;
    m->step(&ctx, 1, a->x, a->p, a->in, a->hist[0], &st);
    if (st == TM_STEP_OK && (!s_finite_all(a->x, m->n_states) ||
                             !s_finite_all(a->hist[0], m->n_outputs))) {
        st = TM_STEP_NONFINITE;
    }
    a->status = st;
    if (st != TM_STEP_OK) {
        memcpy(a->x, x0, sizeof x0);
        memcpy(a->hist[0], a->hist[1], sizeof a->hist[0]);
        a->faults++;
        a->last_fault = k;
        r->faults++;
        if (r->n_fl == r->cap_fl) {
            r->cap_fl = r->cap_fl ? 2 * r->cap_fl : 64;
            r->fl = realloc(r->fl, r->cap_fl * sizeof *r->fl);
            assert_non_null(r->fl);
        }
        r->fl[r->n_fl++] = (struct s_rfault){(int)i, k, st};
    }
    r->steps++;
}

static void s_ref_tick(s_ref_t *r)
{
    uint64_t k = r->tick + 1;
    size_t n = r->n_ids;
    size_t *order = malloc((r->n_links + 1) * sizeof *order);
    assert_non_null(order);
    /* Jacobi: every input from the histories as they were at tick k - 1. */
    for (size_t i = 0; i < n; i++) {
        if (r->a[i].alive && k % r->a[i].period == 0) {
            s_ref_inputs(r, i, order);
        }
    }
    for (size_t i = 0; i < n; i++) {
        s_ract_t *a = &r->a[i];
        if (!a->alive) {
            continue;
        }
        memmove(a->hist[1], a->hist[0], (S_HMAX - 1) * sizeof a->hist[0]);
        if (k % a->period == 0) {
            s_ref_step(r, i, k); /* not stepping: outputs carried */
        }
    }
    r->tick = k;
    free(order);
}

static size_t s_ref_count(const s_ref_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_ids; i++) {
        n += r->a[i].alive ? 1 : 0;
    }
    return n;
}

/* The digest as core/tm_rt.h defines it (version 3), written from that
 * text: per actor H = BLAKE2b-256(id, family, version, tier, period,
 * params, held, state, outputs, incoming links by input, source id and
 * output, each with its delay); digest = BLAKE2b-256(name, count, sum of
 * H mod 2^256). */
static void s_ref_u64(crypto_generichash_state *st, uint64_t v)
{
    unsigned char le[8];
    for (int b = 0; b < 8; b++) {
        le[b] = (unsigned char)(v >> (8 * b));
    }
    crypto_generichash_update(st, le, sizeof le);
}

static void s_ref_str(crypto_generichash_state *st, const char *s)
{
    crypto_generichash_update(st, (const unsigned char *)s, strlen(s) + 1);
}

static void s_ref_vals(crypto_generichash_state *st, const double *v,
                       uint32_t n)
{
    s_ref_u64(st, n);
    for (uint32_t j = 0; j < n; j++) {
        uint64_t bits;
        memcpy(&bits, &v[j], sizeof bits);
        s_ref_u64(st, bits);
    }
}

/* Incoming link i before j: input index, then source id, then output. */
static int s_ref_in_before(const s_ref_t *r, const s_rlink_t *i,
                           const s_rlink_t *j)
{
    if (i->in != j->in) {
        return i->in < j->in;
    }
    int c = strcmp(r->ids[i->src], r->ids[j->src]);
    if (c != 0) {
        return c < 0;
    }
    return i->out < j->out;
}

static void s_ref_digest(const s_ref_t *r, uint8_t out[32])
{
    unsigned char sum[32] = {0};
    uint64_t count = 0;
    const s_rlink_t **in = malloc((r->n_links + 1) * sizeof *in);
    assert_non_null(in);
    for (size_t i = 0; i < r->n_ids; i++) {
        const s_ract_t *a = &r->a[i];
        if (!a->alive) {
            continue;
        }
        size_t n = 0;
        for (size_t l = 0; l < r->n_links; l++) {
            if (r->links[l].dst == (int)i) {
                size_t k = n++;
                in[k] = &r->links[l];
                while (k > 0 && s_ref_in_before(r, in[k], in[k - 1])) {
                    const s_rlink_t *t = in[k];
                    in[k] = in[k - 1];
                    in[k - 1] = t;
                    k--;
                }
            }
        }
        const tm_model_t *m = a->m;
        crypto_generichash_state st;
        unsigned char h[32];
        crypto_generichash_init(&st, NULL, 0, 32);
        s_ref_str(&st, r->ids[i]);
        s_ref_str(&st, m->family);
        s_ref_str(&st, m->version);
        s_ref_u64(&st, (uint64_t)m->fidelity);
        s_ref_u64(&st, a->period == 0 ? 1 : a->period);
        s_ref_vals(&st, a->p, m->n_params);
        s_ref_vals(&st, a->held, m->n_inputs);
        s_ref_vals(&st, a->x, m->n_states);
        s_ref_vals(&st, a->hist[0], m->n_outputs);
        s_ref_u64(&st, n);
        for (size_t k = 0; k < n; k++) {
            const tm_model_t *sm = r->a[in[k]->src].m;
            s_ref_str(&st, m->inputs[in[k]->in].name);
            s_ref_str(&st, r->ids[in[k]->src]);
            s_ref_str(&st, sm->outputs[in[k]->out].name);
            s_ref_u64(&st, in[k]->delay);
        }
        crypto_generichash_final(&st, h, 32);
        unsigned carry = 0;
        for (int b = 0; b < 32; b++) {
            unsigned v = (unsigned)sum[b] + h[b] + carry;
            sum[b] = (unsigned char)v;
            carry = v >> 8;
        }
        count++;
    }
    free(in);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    s_ref_str(&st, "twinmesh mesh digest v3");
    s_ref_u64(&st, count);
    crypto_generichash_update(&st, sum, sizeof sum);
    crypto_generichash_final(&st, out, 32);
}

#endif
