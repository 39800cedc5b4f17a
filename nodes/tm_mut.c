/* tm_mut: the one way to change the mesh (apply, persist, commit, undo). */
#include "tm_mut.h"
#include "tm_mut_int.h"

#include "tm_err.h"
#include "tm_time.h"
#include "tm_log.h"
#include "tm_persist.h"
#include "tm_wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_mut_mesh(tm_mut_t *m, tm_mut_remote_fn remote,
                 tm_mut_observer_fn observer, void *arg)
{
    m->remote = remote;
    m->observer = observer;
    m->mesh = arg;
}

void tmi_mut_tell(tm_mut_t *m, tm_mut_event_t ev, const char *id,
                  const tm_model_t *model)
{
    if (m->observer != NULL) {
        m->observer(m->mesh, ev, id, model);
    }
}

/* The node that owns id elsewhere in the mesh, or NULL. */
static const char *s_elsewhere(tm_mut_t *m, const char *id)
{
    const tm_model_t *model = NULL;
    return m->remote != NULL ? m->remote(m->mesh, id, &model) : NULL;
}

int tm_mut_open(tm_mut_t **out, tm_rt_t *rt, tm_store_t *store,
                tm_mut_barrier_fn barrier, void *arg)
{
    tm_mut_t *m = calloc(1, sizeof *m);
    *out = NULL;
    if (m == NULL) {
        return TM_ERR_NOMEM;
    }
    m->rt = rt;
    m->store = store;
    m->barrier = barrier;
    m->arg = arg;
    m->audit = tm_audit_new();
    if (m->audit == NULL) {
        free(m);
        return TM_ERR_NOMEM;
    }
    tm_mut_origin(m, NULL);
    tm_wire_buf_init(&m->scratch);
    *out = m;
    return 0;
}

void tm_mut_destroy(tm_mut_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_wire_buf_destroy(&(*p)->scratch);
    tm_audit_destroy(&(*p)->audit);
    free(*p);
    *p = NULL;
}

void tm_mut_set_mem_available(tm_mut_t *m, uint64_t bytes)
{
    m->mem_available = bytes;
}

const char *tm_mut_kind_name(tm_mut_kind_t kind)
{
    static const char *const names[] = {"param", "state", "input"};
    return (unsigned)kind < 3 ? names[kind] : "?";
}

const char *tm_mut_names(const tm_var_t *v, uint32_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, cap, "none");
        return buf;
    }
    for (uint32_t i = 0; i < n && off < cap; i++) {
        int w =
            snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", v[i].name);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
    return buf;
}

/* ---- helpers ------------------------------------------------------------ */

int tmi_mut_why(char *why, int rc, const char *fmt, ...)
{
    if (why != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, TM_MUT_WHY_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int tmi_mut_store_failed(tm_mut_t *m, char *why, int rc)
{
    tm_store_failure_t f;
    tm_store_last_failure(m->store, &f);
    if (rc == TM_ERR_NOSPACE && f.error == rc && f.need_bytes > 0) {
        tm_store_stats_t st;
        tm_store_stats(m->store, &st);
        return tmi_mut_why(
            why, rc,
            "could not store the change, nothing was changed: no space left "
            "on the data directory's file system (the change needs at least "
            "%llu bytes, %llu are free%s); free space there, or kill or "
            "unlink actors (they may use the store's reserve)",
            (unsigned long long)f.need_bytes, (unsigned long long)f.free_bytes,
            st.reserve_bytes == 0 ? "; the reserve is used up" : "");
    }
    return tmi_mut_why(why, rc,
                       "could not store the change, nothing was changed: %s",
                       tm_err_str(rc));
}

/* Commit a batch after the barrier, so the store sees writes in order;
 * count its audit records, and forget the one change's kind and reason. */
int tmi_mut_commit(tm_mut_t *m, tm_store_batch_t *b)
{
    if (m->barrier != NULL) {
        m->barrier(m->arg);
    }
    int rc = tm_store_batch_commit(b);
    tm_audit_done(m->audit, m->records, m->noted, rc);
    m->records = 0;
    m->noted = 0;
    m->kind[0] = '\0';
    m->reason[0] = '\0';
    return rc;
}

int tmi_mut_new_batch(tm_mut_t *m, tm_store_batch_t **b)
{
    *b = tm_store_batch_new(m->store);
    return *b == NULL ? TM_ERR_NOMEM : 0;
}

/* Stored links naming an actor that a spawn is creating. They are left by
 * an earlier actor of that id that was not restored at load (its records
 * stay in the store): the spawn replaces what was stored under the id, so
 * they are deleted with the same batch, or a restart would attach them to
 * the new actor. `many`: the ids are prefix0 .. prefix(count-1). */
typedef struct {
    const char *prefix;
    bool many;
    uint64_t count;
    tm_store_batch_t *b;
    int rc;
} s_stale_t;

static bool s_stale_id(const s_stale_t *st, const char *id)
{
    size_t pl = strlen(st->prefix);
    size_t n = strlen(id);
    if (n < pl || memcmp(id, st->prefix, pl) != 0) {
        return false;
    }
    if (!st->many) {
        return n == pl;
    }
    const char *d = id + pl;
    size_t dn = n - pl;
    if (dn == 0 || dn > 20 || (d[0] == '0' && dn > 1)) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] < '0' || d[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(d[i] - '0');
        if (v > (UINT64_MAX - digit) / 10u) {
            return false;
        }
        v = v * 10u + digit;
    }
    return v < st->count;
}

static int s_stale_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_stale_t *st = arg;
    tm_persist_link_key_t k;
    (void)val;
    (void)vlen;
    if (tm_persist_link_key_parse(key, klen, &k) != 0) {
        return 0;
    }
    if (s_stale_id(st, k.src) || s_stale_id(st, k.dst)) {
        st->rc = tm_store_batch_del(st->b, TM_DB_LINKS, key, klen);
        return st->rc != 0;
    }
    return 0;
}

static int s_del_stale_links(tm_mut_t *m, tm_store_batch_t *b,
                             const char *prefix, bool many, uint64_t count)
{
    s_stale_t st = {prefix, many, count, b, 0};
    int rc = tm_store_foreach(m->store, TM_DB_LINKS, s_stale_cb, &st);
    return rc == 1 ? st.rc : rc;
}

static int s_spawn_error(char *why, int rc, const char *id,
                         const tm_model_t *model)
{
    switch (rc) {
    case TM_ERR_DUPLICATE_ACTOR:
        return tmi_mut_why(why, rc, "actor id '%s' already exists", id);
    case TM_ERR_BAD_ID:
        return tmi_mut_why(
            why, rc,
            "bad actor id '%s': ids are 1-%u letters, digits, '_' or "
            "'-'",
            id, TM_ID_MAX);
    case TM_ERR_BAD_VALUE:
        return tmi_mut_why(
            why, rc,
            "bad parameter value: %s@%s refused the parameters of "
            "'%s' (initial state invalid)",
            model->family, model->version, id);
    default:
        return tmi_mut_why(why, rc, "cannot spawn '%s': %s", id,
                           tm_err_str(rc));
    }
}

/* Put the current record of id into b. */
int tmi_mut_put_current(tm_mut_t *m, tm_store_batch_t *b, const char *id)
{
    tm_rt_actor_t view;
    int rc = tm_rt_get(m->rt, id, &view);
    if (rc == 0) {
        rc = tm_persist_put_actor(b, m->rt, &view, &m->scratch);
    }
    return rc;
}

/* ---- spawn -------------------------------------------------------------- */

int tm_mut_spawn(tm_mut_t *m, const char *id, const tm_model_t *model,
                 const double *params, uint32_t period, char *why)
{
    tm_store_batch_t *b = NULL;
    tm_rt_spawn_opts_t opts = {.params = params, .period = period};
    const char *owner = s_elsewhere(m, id);
    if (owner != NULL) {
        return tmi_mut_why(
            why, TM_ERR_EXISTS,
            "actor %s already exists on node %s; choose another id", id, owner);
    }
    int rc = tm_rt_spawn(m->rt, id, model, &opts);
    if (rc != 0) {
        return s_spawn_error(why, rc, id, model);
    }
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0) {
        rc = s_del_stale_links(m, b, id, false, 0);
    }
    if (rc == 0) {
        rc = tmi_mut_audit_models(m, b, "spawn", id, NULL, model, period);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        tm_rt_kill(m->rt, id); /* not acknowledged: take it back */
        tmi_mut_store_failed(m, why, rc);
    } else {
        tmi_mut_tell(m, TM_MUT_ADDED, id, model);
    }
    return rc;
}

/* Bytes one actor of model takes at the peak of a spawn-many: the
 * runtime's arrays (state and previous state, parameters, held and current
 * inputs, two output buffers) and metadata, and its record about three
 * times (the batch, LMDB's dirty pages, the pages written). On the safe
 * side: a pump is estimated at 2.2 KB and measured at 1.4 KB. */
uint64_t tmi_mut_actor_bytes(const tm_model_t *model)
{
    uint64_t doubles = 2u * model->n_states + model->n_params +
                       2u * model->n_inputs + 2u * model->n_outputs;
    uint64_t values = (uint64_t)model->n_states + model->n_params +
                      model->n_inputs + model->n_outputs;
    uint64_t record = 96 + 9 * values + strlen(model->family) +
                      strlen(model->version) + TM_ID_MAX;
    return 512 + 8 * doubles + 3 * record;
}

/* MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read. */
static uint64_t s_mem_available(void)
{
    char line[128];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : (uint64_t)kb * 1024;
}

uint64_t tmi_mut_mem_available(const tm_mut_t *m)
{
    return m->mem_available > 0 ? m->mem_available : s_mem_available();
}

static int s_check_memory(tm_mut_t *m, uint64_t count, const tm_model_t *model,
                          char *why)
{
    uint64_t avail = tmi_mut_mem_available(m);
    uint64_t need = count * tmi_mut_actor_bytes(model); /* count <= 1e7 */
    if (avail == 0 || need <= avail) {
        return 0;
    }
    return tmi_mut_why(
        why, TM_ERR_NOMEM,
        "spawn-many: %llu actors of %s@%s need about %.1f MiB, and "
        "the node has %.1f MiB available; nothing was spawned (spawn "
        "fewer at a time, or add memory)",
        (unsigned long long)count, model->family, model->version,
        (double)need / 1048576.0, (double)avail / 1048576.0);
}

static void s_kill_range(tm_rt_t *rt, const char *prefix, uint64_t n)
{
    char id[TM_ID_MAX + 32];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%llu", prefix, (unsigned long long)i);
        tm_rt_kill(rt, id);
    }
}

int tm_mut_spawn_many(tm_mut_t *m, const char *prefix, uint64_t count,
                      const tm_model_t *model, const double *params,
                      uint32_t period, tm_mut_timing_t *timing, char *why)
{
    char id[TM_ID_MAX + 32];
    tm_store_batch_t *b = NULL;
    uint64_t spawned = 0;
    double t0 = tm_time_now();
    int rc = s_check_memory(m, count, model, why);
    if (rc != 0) {
        return rc;
    }
    rc = tmi_mut_new_batch(m, &b);
    if (rc != 0) {
        tmi_mut_why(why, rc, "out of memory");
        goto done;
    }
    tm_rt_spawn_opts_t opts = {.params = params, .period = period};
    for (uint64_t i = 0; i < count; i++) {
        snprintf(id, sizeof id, "%s%llu", prefix, (unsigned long long)i);
        const char *owner = s_elsewhere(m, id);
        rc = owner != NULL ? TM_ERR_EXISTS : 0;
        if (owner != NULL) {
            tmi_mut_why(
                why, rc,
                "actor %s already exists on node %s; nothing was spawned", id,
                owner);
            goto done;
        }
        rc = tm_rt_spawn(m->rt, id, model, &opts);
        if (rc != 0) {
            s_spawn_error(why, rc, id, model);
            size_t len = why != NULL ? strlen(why) : 0;
            if (why != NULL) {
                snprintf(why + len, TM_MUT_WHY_MAX - len,
                         "; nothing was spawned");
            }
            goto done;
        }
        spawned++;
        rc = tmi_mut_put_current(m, b, id);
        if (rc != 0) {
            tmi_mut_store_failed(m, why, rc);
            goto done;
        }
    }
    rc = s_del_stale_links(m, b, prefix, true, count);
    if (rc == 0) {
        rc = tmi_mut_audit_many(m, b, prefix, count, model);
    }
    double t1 = tm_time_now();
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    if (rc != 0) {
        tmi_mut_store_failed(m, why, rc);
        goto done;
    }
    spawned = 0; /* acknowledged */
    for (uint64_t i = 0; i < count && m->observer != NULL; i++) {
        snprintf(id, sizeof id, "%s%llu", prefix, (unsigned long long)i);
        tmi_mut_tell(m, TM_MUT_ADDED, id, model);
    }
    if (timing != NULL) {
        double t2 = tm_time_now();
        timing->elapsed_s = t2 - t0;
        timing->commit_s = t2 - t1;
    }
done:
    s_kill_range(m->rt, prefix, spawned);
    tm_store_batch_destroy(&b);
    return rc;
}

/* ---- kill --------------------------------------------------------------- */

/* Links touching one actor, copied (the runtime's strings are borrowed). */
typedef struct {
    const char *id;
    tm_persist_link_key_t *v;
    size_t n, cap;
    int rc;
} s_links_t;

static int s_links_cb(const tm_rt_link_t *l, void *arg)
{
    s_links_t *ls = arg;
    if (strcmp(l->src, ls->id) != 0 && strcmp(l->dst, ls->id) != 0) {
        return 0;
    }
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        void *v = realloc(ls->v, cap * sizeof *ls->v);
        if (v == NULL) {
            ls->rc = TM_ERR_NOMEM;
            return 1;
        }
        ls->v = v;
        ls->cap = cap;
    }
    tm_persist_link_key_t *c = &ls->v[ls->n++];
    snprintf(c->src, sizeof c->src, "%s", l->src);
    snprintf(c->output, sizeof c->output, "%s", l->output);
    snprintf(c->dst, sizeof c->dst, "%s", l->dst);
    snprintf(c->input, sizeof c->input, "%s", l->input);
    return 0;
}

int tm_mut_kill(tm_mut_t *m, const char *id, size_t *links_removed, char *why)
{
    tm_rt_actor_t a;
    s_links_t ls = {id, NULL, 0, 0, 0};
    tm_store_batch_t *b = NULL;
    *links_removed = 0;
    if (tm_rt_get(m->rt, id, &a) != 0 || a.remote) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    tm_rt_foreach_link_of(m->rt, id, s_links_cb, &ls);
    int rc = ls.rc;
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
    }
    if (rc == 0) {
        tm_store_batch_frees(b); /* may use the space reserve */
        rc = tm_persist_del_actor(b, id);
    }
    if (rc == 0) {
        /* records rollouts kept of it: not for a later actor of its id */
        rc = tmi_mut_rollout_forget(b, a.model->family, id);
    }
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        tm_rt_link_t l = {ls.v[i].src, ls.v[i].output, ls.v[i].dst,
                          ls.v[i].input, 1};
        rc = tm_persist_del_link(b, &l);
    }
    if (rc == 0) {
        rc = tmi_mut_audit_models(m, b, "kill", id, a.model, NULL, ls.n);
    }
    /* Commit first: removing from the runtime cannot fail afterwards. */
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    if (rc != 0) {
        tmi_mut_store_failed(m, why, rc);
    } else {
        rc = tm_rt_kill(m->rt, id);
        if (rc != 0) {
            tmi_mut_why(why, rc, "kill %s: %s", id, tm_err_str(rc));
        }
    }
    if (rc == 0) {
        *links_removed = ls.n;
        tmi_mut_tell(m, TM_MUT_REMOVED, id, NULL);
    }
    free(ls.v);
    tm_store_batch_destroy(&b);
    return rc;
}

int tm_mut_drop_proxy(tm_mut_t *m, const char *id, size_t *links_removed,
                      char *why)
{
    tm_rt_actor_t a;
    s_links_t ls = {id, NULL, 0, 0, 0};
    tm_store_batch_t *b = NULL;
    *links_removed = 0;
    if (tm_rt_get(m->rt, id, &a) != 0 || !a.remote) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "no proxy of '%s'", id);
    }
    tm_rt_foreach_link_of(m->rt, id, s_links_cb, &ls);
    int rc = ls.rc;
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
    }
    if (rc == 0) {
        tm_store_batch_frees(b);
    }
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        tm_rt_link_t l = {ls.v[i].src, ls.v[i].output, ls.v[i].dst,
                          ls.v[i].input, 1};
        rc = tm_persist_del_link(b, &l);
    }
    if (rc == 0) {
        char reason[96];
        snprintf(reason, sizeof reason,
                 "removed on its node: its proxy and %zu links from it go",
                 ls.n);
        rc = tmi_mut_audit(m, b, "drop-proxy", id, NULL, NULL, reason);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    if (rc != 0) {
        tmi_mut_store_failed(m, why, rc);
    } else {
        rc = tm_rt_kill(m->rt, id);
        *links_removed = ls.n;
        tmi_mut_tell(m, TM_MUT_PROXY, id, NULL);
    }
    free(ls.v);
    tm_store_batch_destroy(&b);
    return rc;
}

/* ---- link --------------------------------------------------------------- */

static int s_any_link(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    *(bool *)arg = true;
    return 1;
}

/* A proxy that feeds no link any more is removed (the mesh stops asking
 * its owner for values). */
void tmi_mut_proxy_gc(tm_mut_t *m, const char *id)
{
    tm_rt_actor_t a;
    bool linked = false;
    if (tm_rt_get(m->rt, id, &a) != 0 || !a.remote) {
        return;
    }
    tm_rt_foreach_link_of(m->rt, id, s_any_link, &linked);
    if (!linked) {
        tm_rt_kill(m->rt, id);
        tmi_mut_tell(m, TM_MUT_PROXY, id, NULL);
    }
}

/* A link into dst.input, from src.output when src is not NULL: found
 * names its source, delay its delay. */
typedef struct {
    const char *src;
    const char *output;
    const char *dst;
    const char *input;
    char found[TM_ID_MAX + TM_MODEL_NAME_MAX + 2];
    uint32_t delay;
} s_feeder_t;

static int s_feeder_cb(const tm_rt_link_t *l, void *arg)
{
    s_feeder_t *f = arg;
    if (strcmp(l->dst, f->dst) == 0 && strcmp(l->input, f->input) == 0 &&
        (f->src == NULL ||
         (strcmp(l->src, f->src) == 0 && strcmp(l->output, f->output) == 0))) {
        snprintf(f->found, sizeof f->found, "%s.%s", l->src, l->output);
        f->delay = l->delay;
        return 1;
    }
    return 0;
}

/* The delay of the link S.O -> D.I, 0 if there is none. */
static uint32_t s_link_delay(tm_mut_t *m, const char *S, const char *O,
                             const char *D, const char *I)
{
    s_feeder_t f = {S, O, D, I, "", 0};
    tm_rt_foreach_link_of(m->rt, D, s_feeder_cb, &f);
    return f.delay;
}

/* Both ends of a link, with precise messages. */
static int s_check_link(tm_mut_t *m, const char *S, const char *O,
                        const char *D, const char *I, char *why)
{
    tm_rt_actor_t s, d;
    char names[512];
    if (tm_rt_get(m->rt, S, &s) != 0) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR,
                           "unknown actor '%s' (link source)", S);
    }
    if (tm_rt_get(m->rt, D, &d) != 0) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR,
                           "unknown actor '%s' (link destination)", D);
    }
    const tm_model_t *sm = s.model;
    const tm_model_t *dm = d.model;
    if (tm_model_var_index(sm->outputs, sm->n_outputs, O) < 0) {
        return tmi_mut_why(
            why, TM_ERR_UNKNOWN_PORT,
            "unknown port: actor %s (%s) has no output '%s' (outputs: %s)",
            s.id, sm->family, O,
            tm_mut_names(sm->outputs, sm->n_outputs, names, sizeof names));
    }
    if (tm_model_var_index(dm->inputs, dm->n_inputs, I) < 0) {
        return tmi_mut_why(
            why, TM_ERR_UNKNOWN_PORT,
            "unknown port: cannot link to a missing input: actor %s (%s) has "
            "no input '%s' (inputs: %s)",
            d.id, dm->family, I,
            tm_mut_names(dm->inputs, dm->n_inputs, names, sizeof names));
    }
    return 0;
}

static int s_link_error(tm_mut_t *m, int rc, bool add, const char *S,
                        const char *O, const char *D, const char *I, char *why)
{
    if (rc == TM_ERR_INPUT_LINKED) {
        s_feeder_t f = {NULL, NULL, D, I, "?", 0};
        tm_rt_foreach_link_of(m->rt, D, s_feeder_cb, &f);
        return tmi_mut_why(why, rc,
                           "input %s.%s is already linked (from %s); unlink it "
                           "first",
                           D, I, f.found);
    }
    if (rc == TM_ERR_EXISTS) {
        return tmi_mut_why(why, rc,
                           "link %s.%s -> %s.%s already exists (delay %u); to "
                           "change its delay, unlink it first",
                           S, O, D, I, s_link_delay(m, S, O, D, I));
    }
    if (rc == TM_ERR_RANGE) {
        return tmi_mut_why(why, rc,
                           "bad delay: a link's delay is 1 to %u ticks",
                           TM_RT_DELAY_MAX);
    }
    if (rc == TM_ERR_NOT_LINKED) {
        return tmi_mut_why(why, rc, "no link %s.%s -> %s.%s", S, O, D, I);
    }
    return tmi_mut_why(why, rc, "%s %s.%s -> %s.%s: %s",
                       add ? "link" : "unlink", S, O, D, I, tm_err_str(rc));
}

/* The past outputs in an actor's window (ticks tick - n .. tick - 1),
 * kept to put back after undoing an unlink: linking again refills them. */
typedef struct {
    uint32_t n, width;
    double *v;
} s_past_t;

static int s_past_save(tm_rt_t *rt, const char *id, s_past_t *p)
{
    tm_rt_actor_t a;
    memset(p, 0, sizeof *p);
    if (tm_rt_get(rt, id, &a) != 0 || a.remote || a.history < 2) {
        return 0;
    }
    uint64_t k = tm_rt_tick(rt);
    p->width = a.model->n_outputs;
    p->v = malloc((size_t)(a.history - 1) * p->width * sizeof(double) + 1);
    if (p->v == NULL) {
        return TM_ERR_NOMEM;
    }
    p->n = a.history - 1;
    for (uint32_t i = 0; i < p->n; i++) {
        const double *y = NULL;
        if (tm_rt_outputs_at(rt, id, k - p->n + i, &y, NULL) == 0) {
            memcpy(p->v + (size_t)i * p->width, y, p->width * sizeof(double));
        }
    }
    return 0;
}

static void s_past_restore(tm_rt_t *rt, const char *id, s_past_t *p)
{
    uint64_t k = tm_rt_tick(rt);
    for (uint32_t i = 0; i < p->n; i++) {
        (void)tm_rt_restore_at(rt, id, k - p->n + i,
                               p->v + (size_t)i * p->width);
    }
    free(p->v);
    p->v = NULL;
}

int tm_mut_link(tm_mut_t *m, bool add, const char *S, const char *O,
                const char *D, const char *I, uint32_t delay, char *why)
{
    s_past_t past = {0, 0, NULL};
    tm_store_batch_t *b = NULL;
    tm_rt_actor_t src;
    const tm_model_t *model = NULL;
    if (add && tm_rt_get(m->rt, S, &src) != 0 && m->remote != NULL &&
        m->remote(m->mesh, S, &model) != NULL && model != NULL) {
        /* a source on another node: read through a proxy of it (removed
         * again below if the link is refused) */
        tm_rt_spawn_remote(m->rt, S, model);
    }
    int rc = s_check_link(m, S, O, D, I, why);
    if (rc == 0 && !add) { /* what undoing the unlink needs */
        delay = s_link_delay(m, S, O, D, I);
        rc = s_past_save(m->rt, S, &past);
        if (rc != 0) {
            tmi_mut_why(why, rc, "out of memory");
        }
    }
    if (rc == 0) {
        rc = add ? tm_rt_link_delay(m->rt, S, O, D, I, delay)
                 : tm_rt_unlink(m->rt, S, O, D, I);
        if (rc != 0) {
            rc = s_link_error(m, rc, add, S, O, D, I, why);
        }
    }
    if (rc != 0) {
        free(past.v);
        tmi_mut_proxy_gc(m, S);
        return rc;
    }
    tm_rt_link_t l = {S, O, D, I, delay};
    const tm_model_t *remote =
        tm_rt_get(m->rt, S, &src) == 0 && src.remote ? src.model : NULL;
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0 && !add) {
        tm_store_batch_frees(b);
    }
    if (rc == 0) {
        rc = add ? tm_persist_put_remote_link(b, &l, remote)
                 : tm_persist_del_link(b, &l);
    }
    if (rc == 0) {
        char what[TM_AUDIT_VALUE_MAX + 1];
        snprintf(what, sizeof what, "%s.%s to %s.%s, delay %u", S, O, D, I,
                 delay);
        rc = tmi_mut_audit(m, b, add ? "link" : "unlink", D, add ? NULL : what,
                           add ? what : NULL,
                           remote != NULL ? "the source runs on another node"
                                          : "");
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        /* undo in the runtime, so it matches what is stored */
        if (add) {
            tm_rt_unlink(m->rt, S, O, D, I);
        } else if (tm_rt_link_delay(m->rt, S, O, D, I, delay) == 0) {
            s_past_restore(m->rt, S, &past);
        }
        tmi_mut_store_failed(m, why, rc);
    }
    free(past.v);
    tmi_mut_proxy_gc(m, S);
    if (rc == 0 && tm_rt_get(m->rt, S, &src) == 0 && src.remote) {
        tmi_mut_tell(m, TM_MUT_PROXY, S, src.model);
    }
    return rc;
}

/* ---- set ---------------------------------------------------------------- */

/* Where a name lives and its current value; the range it must keep. */
static int s_resolve(const tm_rt_actor_t *a, const char *name,
                     tm_mut_kind_t *kind, double *old, const tm_var_t **var,
                     char *why)
{
    const tm_model_t *m = a->model;
    char list[3][512];
    int i = tm_model_var_index(m->params, m->n_params, name);
    if (i >= 0) {
        *kind = TM_MUT_PARAM;
        *var = &m->params[i];
        *old = a->params[i];
        return 0;
    }
    if ((i = tm_model_var_index(m->states, m->n_states, name)) >= 0) {
        *kind = TM_MUT_STATE;
        *var = &m->states[i];
        *old = a->state[i];
        return 0;
    }
    if ((i = tm_model_var_index(m->inputs, m->n_inputs, name)) >= 0) {
        *kind = TM_MUT_INPUT;
        *var = &m->inputs[i];
        *old = a->held[i];
        return 0;
    }
    return tmi_mut_why(
        why, TM_ERR_UNKNOWN_PORT,
        "unknown port: actor %s (%s) has no parameter, state or "
        "input '%s' (parameters: %s; states: %s; inputs: %s)",
        a->id, m->family, name,
        tm_mut_names(m->params, m->n_params, list[0], sizeof list[0]),
        tm_mut_names(m->states, m->n_states, list[1], sizeof list[1]),
        tm_mut_names(m->inputs, m->n_inputs, list[2], sizeof list[2]));
}

/* Check every name and value before anything changes. */
static int s_set_check(const tm_rt_actor_t *a, size_t n,
                       const char *const *names, const double *values,
                       tm_mut_kind_t *kind, double *old, char *why)
{
    for (size_t j = 0; j < n; j++) {
        const tm_var_t *v = NULL;
        int rc = s_resolve(a, names[j], &kind[j], &old[j], &v, why);
        if (rc != 0) {
            return rc;
        }
        bool ok = kind[j] == TM_MUT_STATE
                      ? isfinite(values[j])
                      : (values[j] >= v->min && values[j] <= v->max);
        if (!ok) {
            return tmi_mut_why(
                why, TM_ERR_BAD_VALUE,
                "bad parameter value: %s.%s = %.17g is outside [%g, %g] %s",
                a->id, names[j], values[j], v->min, v->max, v->unit);
        }
    }
    return 0;
}

int tm_mut_set(tm_mut_t *m, const char *id, size_t n, const char *const *names,
               const double *values, tm_mut_kind_t *kind, double *old,
               char *why)
{
    tm_rt_actor_t a;
    size_t applied = 0;
    tm_store_batch_t *b = NULL;
    if (tm_rt_get(m->rt, id, &a) != 0) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    const tm_model_t *model = a.model;
    int rc = s_set_check(&a, n, names, values, kind, old, why);
    if (rc != 0) {
        return rc;
    }
    for (; applied < n && rc == 0; applied++) {
        rc = tm_rt_set(m->rt, id, names[applied], values[applied]);
    }
    if (rc != 0) {
        applied--; /* the failed one changed nothing */
        tmi_mut_why(why, rc, "set %s.%s: %s", id, names[applied],
                    tm_err_str(rc));
        goto done;
    }
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0 && m->barrier != NULL) {
        m->barrier(m->arg); /* the patch reads the stored record */
    }
    if (rc == 0) {
        rc = tm_persist_patch(m->store, b, id, model, names, values, n);
    }
    if (rc == TM_ERR_NOT_FOUND) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0) {
        char was[TM_AUDIT_VALUE_MAX + 1];
        char now[TM_AUDIT_VALUE_MAX + 1];
        rc = tmi_mut_audit(
            m, b, "set", id, tmi_mut_values(n, names, old, was, sizeof was),
            tmi_mut_values(n, names, values, now, sizeof now), "");
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    if (rc != 0) {
        tmi_mut_store_failed(m, why, rc);
        goto done;
    }
    applied = 0; /* acknowledged */
done:
    /* Undo what was applied and not acknowledged, newest first. */
    while (applied > 0) {
        applied--;
        tm_rt_set(m->rt, id, names[applied], old[applied]);
    }
    tm_store_batch_destroy(&b);
    return rc;
}

/* ---- model -------------------------------------------------------------- */

/* Put id back on model `before` with exactly the state it had: mapping
 * back alone may lose what the other tier does not hold. Setting each
 * state recomputes the outputs from it and the last inputs, as they were.
 */
int tmi_mut_restore_model(tm_mut_t *m, const char *id, const tm_model_t *before,
                          const double *state)
{
    int rc = tm_rt_set_model(m->rt, id, before);
    for (uint32_t i = 0; i < before->n_states && rc == 0; i++) {
        rc = tm_rt_set(m->rt, id, before->states[i].name, state[i]);
    }
    return rc;
}

int tm_mut_set_model(tm_mut_t *m, const char *id, const tm_model_t *model,
                     char *why)
{
    tm_rt_actor_t a;
    tm_store_batch_t *b = NULL;
    double state[TM_MODEL_MAX_VARS];
    if (tm_rt_get(m->rt, id, &a) != 0) {
        return tmi_mut_why(why, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
    }
    const tm_model_t *before = a.model;
    memcpy(state, a.state, before->n_states * sizeof state[0]);
    int rc = tm_rt_set_model(m->rt, id, model);
    if (rc != 0) {
        return tmi_mut_why(why, rc, "cannot move %s to %s@%s (%s): %s", id,
                           model->family, model->version,
                           tm_fidelity_name(model->fidelity), tm_err_str(rc));
    }
    rc = tmi_mut_new_batch(m, &b);
    if (rc == 0) {
        rc = tmi_mut_put_current(m, b, id);
    }
    if (rc == 0) {
        rc = tmi_mut_audit_models(m, b, "set-model", id, before, model, 0);
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0 && tmi_mut_restore_model(m, id, before, state) != 0) {
        /* runtime and store now disagree: say so, never "nothing changed" */
        tm_log(TM_LOG_ERROR,
               "mut: %s could not be moved back to %s@%s after a failed "
               "commit (%s)",
               id, before->family, before->version, tm_err_str(rc));
        return tmi_mut_why(why, TM_ERR_INTERNAL,
                           "could not store the move of %s (%s) nor "
                           "move it back; restart the node to reload "
                           "it from the store",
                           id, tm_err_str(rc));
    }
    if (rc != 0) {
        tmi_mut_store_failed(m, why, rc);
    } else {
        tmi_mut_tell(m, TM_MUT_ADDED, id, model);
    }
    return rc;
}
