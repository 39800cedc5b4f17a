/* tm_persist_load: a node's mesh back from its store - actors, then links
 * with their delays, then the past outputs those links read. */
#include "tm_persist.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An actor's past outputs, put back once the links have set its window. */
typedef struct {
    char id[TM_ID_MAX + 1];
    uint32_t n, width;
    double *v;
} s_past_t;

typedef struct {
    tm_rt_t *rt;
    tm_persist_load_t *st;
    int rc;
    s_past_t *past;
    size_t n_past, cap_past;
} s_load_t;

/* Decode the record of id and find its model; 0 when it can be loaded,
 * otherwise logged, counted and left in the store. */
static int s_load_record(s_load_t *l, const char *id, const void *val,
                         size_t vlen, tm_persist_actor_t *rec,
                         const tm_model_t **model)
{
    int rc = tm_persist_actor_decode(val, vlen, rec);
    if (rc != 0) {
        tm_log(TM_LOG_WARN,
               "persist: actor %s: unreadable record (%s), "
               "left in the store",
               id, tm_err_str(rc));
        l->st->actors_skipped++;
        return rc;
    }
    rc = tm_models_find(rec->family, rec->version, rec->fidelity, model);
    if (rc != 0) {
        tm_log(TM_LOG_WARN,
               "persist: actor %s: model %s@%s (%s) is not in "
               "the catalog (%s), left in the store",
               id, rec->family, rec->version, tm_fidelity_name(rec->fidelity),
               tm_err_str(rc));
        l->st->actors_skipped++;
        return rc;
    }
    const tm_model_t *m = *model;
    if (rec->n_params != m->n_params || rec->n_held != m->n_inputs ||
        rec->n_states != m->n_states ||
        (rec->n_history > 0 && rec->history_width != m->n_outputs)) {
        tm_log(TM_LOG_WARN,
               "persist: actor %s: record does not match the "
               "layout of %s@%s, left in the store",
               id, rec->family, rec->version);
        l->st->actors_skipped++;
        return TM_ERR_STORE_CORRUPT;
    }
    return 0;
}

/* Keep the history of a loaded actor's record for after the links. */
static int s_keep_past(s_load_t *l, const char *id, const void *val,
                       size_t vlen, const tm_persist_actor_t *rec)
{
    if (l->n_past == l->cap_past) {
        size_t cap = l->cap_past ? 2 * l->cap_past : 16;
        s_past_t *p = realloc(l->past, cap * sizeof *p);
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        l->past = p;
        l->cap_past = cap;
    }
    size_t count = (size_t)rec->n_history * rec->history_width;
    s_past_t *p = &l->past[l->n_past];
    p->v = malloc(count * sizeof(double) + 1);
    if (p->v == NULL) {
        return TM_ERR_NOMEM;
    }
    int rc = tm_persist_actor_history(val, vlen, p->v, count);
    if (rc != 0) {
        free(p->v);
        return rc;
    }
    snprintf(p->id, sizeof p->id, "%s", id);
    p->n = rec->n_history;
    p->width = rec->history_width;
    l->n_past++;
    return 0;
}

static int s_load_actor(const void *key, size_t klen, const void *val,
                        size_t vlen, void *arg)
{
    s_load_t *l = arg;
    char id[TM_ID_MAX + 1];
    tm_persist_actor_t rec;
    const tm_model_t *model = NULL;
    if (tm_persist_actor_key(key, klen, id) != 0) {
        tm_log(TM_LOG_WARN,
               "persist: skipping an actor record with a bad "
               "key (%zu bytes)",
               klen);
        l->st->actors_skipped++;
        return 0;
    }
    if (s_load_record(l, id, val, vlen, &rec, &model) != 0) {
        return 0;
    }
    /* Outputs of the checkpoint tick feed the next tick's inputs: restoring
     * them makes a restart continue exactly as an uninterrupted run. */
    tm_rt_spawn_opts_t opts = {
        .params = rec.params,
        .state = rec.state,
        .held = rec.held,
        .outputs = rec.n_outputs == model->n_outputs ? rec.outputs : NULL,
        .period = rec.period,
        .epoch = rec.epoch};
    int rc = tm_rt_spawn(l->rt, id, model, &opts);
    if (rc == 0 && rec.n_history > 0) {
        rc = s_keep_past(l, id, val, vlen, &rec);
    }
    if (rc == 0 && rec.has_sup) {
        /* a supervision record that cannot be restored costs the actor
         * its supervision history, not its place */
        tm_rt_sup_t sup;
        int src = tm_persist_sup_to_view(&rec.sup, model, tm_models_tier, &sup);
        src = src ? src : tm_rt_sup_restore(l->rt, id, &sup);
        if (src == TM_ERR_NOMEM) {
            rc = src;
        } else if (src != 0) {
            tm_log(TM_LOG_WARN,
                   "persist: actor %s: its supervision record was refused "
                   "(%s); loaded without it",
                   id, tm_err_str(src));
        }
    }
    if (rc == TM_ERR_NOMEM) {
        l->rc = rc;
        return 1;
    }
    if (rc != 0) {
        tm_log(TM_LOG_WARN,
               "persist: actor %s: refused by the runtime (%s), "
               "left in the store",
               id, tm_err_str(rc));
        tm_rt_kill(l->rt, id); /* if the history was what failed */
        l->st->actors_skipped++;
        return 0;
    }
    l->st->actors++;
    return 0;
}

/* The proxy of a link's source on another node (made once). */
static int s_load_proxy(tm_rt_t *rt, const char *id, const char *spec,
                        const char *tier)
{
    tm_rt_actor_t a;
    tm_fidelity_t f;
    const tm_model_t *model = NULL;
    if (tm_rt_get(rt, id, &a) == 0) {
        return 0; /* a proxy already (or, after a move, a local actor) */
    }
    if (tm_fidelity_parse(tier, &f) != 0 ||
        tm_models_find_spec(spec, f, &model) != 0) {
        return TM_ERR_UNKNOWN_MODEL;
    }
    return tm_rt_spawn_remote(rt, id, model);
}

static int s_load_link(const void *key, size_t klen, const void *val,
                       size_t vlen, void *arg)
{
    s_load_t *l = arg;
    tm_persist_link_key_t f;
    uint32_t delay = 1;
    char spec[2 * TM_MODEL_NAME_MAX + 2];
    char tier[TM_MODEL_NAME_MAX + 1];
    int rc = tm_persist_link_decode(val, vlen, &f, &delay);
    if (rc == 0) {
        rc = tm_persist_link_source(val, vlen, spec, sizeof spec, tier,
                                    sizeof tier);
    }
    if (rc == 0 && spec[0] != '\0') {
        rc = s_load_proxy(l->rt, f.src, spec, tier);
    }
    if (rc == 0) {
        rc = tm_rt_link_delay(l->rt, f.src, f.output, f.dst, f.input, delay);
    }
    if (rc == TM_ERR_NOMEM) {
        l->rc = rc;
        return 1;
    }
    if (rc != 0) {
        tm_log(TM_LOG_WARN,
               "persist: link %.*s: cannot restore (%s), left "
               "in the store",
               (int)(klen > 300 ? 300 : klen), (const char *)key,
               tm_err_str(rc));
        l->st->links_skipped++;
        return 0;
    }
    l->st->links++;
    return 0;
}

/* Put the kept histories back as the ticks before the current one, as far
 * as each actor's window (set by its links) reaches: a record may hold
 * more (a link removed since) or fewer (a link added since: those ticks
 * keep what linking gave them). */
static void s_put_past(s_load_t *l)
{
    uint64_t k = tm_rt_tick(l->rt);
    for (size_t i = 0; i < l->n_past; i++) {
        s_past_t *p = &l->past[i];
        int rc = 0;
        for (uint32_t j = 0; j < p->n && rc == 0; j++) {
            rc = tm_rt_restore_at(l->rt, p->id, k - p->n + j,
                                  p->v + (size_t)j * p->width);
            rc = rc == TM_ERR_RANGE ? 0 : rc;
        }
        if (rc != 0) {
            tm_log(TM_LOG_WARN,
                   "persist: actor %s: past outputs not restored (%s)", p->id,
                   tm_err_str(rc));
        } else {
            l->st->histories++;
        }
        free(p->v);
    }
    free(l->past);
    l->past = NULL;
    l->n_past = 0;
}

int tm_persist_load(tm_store_t *store, tm_rt_t *rt, tm_persist_load_t *out)
{
    s_load_t l = {rt, out, 0, NULL, 0, 0};
    memset(out, 0, sizeof *out);
    int rc = tm_store_foreach(store, TM_DB_ACTORS, s_load_actor, &l);
    if (rc == 0 || rc == 1) {
        rc = l.rc;
    }
    if (rc == 0) {
        rc = tm_store_foreach(store, TM_DB_LINKS, s_load_link, &l);
    }
    if (rc == 0 || rc == 1) {
        rc = l.rc;
    }
    s_put_past(&l); /* frees what was kept, also on errors */
    return rc;
}
