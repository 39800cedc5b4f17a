/* tm_mut_move: actors that change node - the mutation path's side of a
 * migration (tm_mesh_move.c runs the protocol).
 *
 * Leaving (tm_mut_move_out): the actor's record and the links into it go
 * from this node's store and runtime (its new node holds them now); if
 * links here read it, it stays as a proxy with those links and its past
 * outputs, so nothing here reads another value than before. Arriving
 * (tm_mut_move_in): the actor comes back from its record at the move's
 * tick, with the links into it (proxies made of sources this node does not
 * run) and the past outputs of those sources; a proxy of it here becomes
 * the actor, keeping the links that read it. Each side is one batch; the
 * runtime changes only after (out) or is undone on failure (in). */
#include "tm_mut_int.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A link, copied out of the runtime (its strings are borrowed). */
typedef struct {
    tm_persist_link_key_t k;
    uint32_t delay;
} s_link_t;

typedef struct {
    s_link_t *v;
    size_t n, cap;
    int rc;
} s_links_t;

static int s_links_cb(const tm_rt_link_t *l, void *arg)
{
    s_links_t *ls = arg;
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
    s_link_t *c = &ls->v[ls->n++];
    snprintf(c->k.src, sizeof c->k.src, "%s", l->src);
    snprintf(c->k.output, sizeof c->k.output, "%s", l->output);
    snprintf(c->k.dst, sizeof c->k.dst, "%s", l->dst);
    snprintf(c->k.input, sizeof c->k.input, "%s", l->input);
    c->delay = l->delay;
    return 0;
}

static tm_rt_link_t s_rt_link(const s_link_t *l)
{
    return (tm_rt_link_t){l->k.src, l->k.output, l->k.dst, l->k.input,
                          l->delay};
}

/* Is id one of ids[0..n)? (n is small: one package) */
static bool s_in(char (*ids)[TM_ID_MAX + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- leaving ------------------------------------------------------------ */

/* What one leaving actor needs after the commit. */
typedef struct {
    const tm_model_t *model;
    s_links_t links; /* all of its links */
    uint32_t n_past; /* ticks of outputs kept (its window) */
    double *past;    /* n_past * outputs, oldest first */
    bool readers;    /* links here read it: it stays as a proxy */
} s_out_t;

static int s_out_collect(tm_mut_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                         size_t i, s_out_t *o)
{
    tm_rt_actor_t a;
    if (tm_rt_get(m->rt, ids[i], &a) != 0 || a.remote) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    o->model = a.model;
    tm_rt_foreach_link_of(m->rt, ids[i], s_links_cb, &o->links);
    if (o->links.rc != 0) {
        return o->links.rc;
    }
    for (size_t j = 0; j < o->links.n; j++) {
        const s_link_t *l = &o->links.v[j];
        o->readers |= strcmp(l->k.src, ids[i]) == 0 && !s_in(ids, n, l->k.dst);
    }
    uint32_t no = a.model->n_outputs;
    o->n_past = a.history;
    o->past = malloc((size_t)o->n_past * no * sizeof(double) + 1);
    if (o->past == NULL) {
        return TM_ERR_NOMEM;
    }
    uint64_t k = tm_rt_tick(m->rt);
    for (uint32_t t = 0; t < o->n_past; t++) {
        const double *y = NULL;
        if (tm_rt_outputs_at(m->rt, ids[i], k - o->n_past + 1 + t, &y, NULL) ==
            0) {
            memcpy(o->past + (size_t)t * no, y, no * sizeof(double));
        }
    }
    return 0;
}

/* The store's side of one leaving actor: its record and the links into it
 * go; links out of it to actors that stay now read a remote source. */
static int s_out_batch(tm_store_batch_t *b, char (*ids)[TM_ID_MAX + 1],
                       size_t n, size_t i, const s_out_t *o)
{
    int rc = tm_persist_del_actor(b, ids[i]);
    if (rc == 0) {
        rc = tmi_mut_rollout_forget(b, o->model->family, ids[i]);
    }
    for (size_t j = 0; j < o->links.n && rc == 0; j++) {
        const s_link_t *l = &o->links.v[j];
        tm_rt_link_t rl = s_rt_link(l);
        bool out = strcmp(l->k.src, ids[i]) == 0;
        if (out && !s_in(ids, n, l->k.dst)) {
            rc = tm_persist_put_remote_link(b, &rl, o->model);
        } else if (!out || strcmp(l->k.dst, ids[i]) == 0) {
            rc = tm_persist_del_link(b, &rl);
        }
    }
    return rc;
}

/* The runtime's side, after the commit: the actor goes, and comes back as
 * a proxy when links here read it. */
static void s_out_apply(tm_mut_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                        size_t i, const s_out_t *o)
{
    tm_rt_kill(m->rt, ids[i]);
    if (!o->readers) {
        return;
    }
    int rc = tm_rt_spawn_remote(m->rt, ids[i], o->model);
    for (size_t j = 0; j < o->links.n && rc == 0; j++) {
        const s_link_t *l = &o->links.v[j];
        if (strcmp(l->k.src, ids[i]) == 0 && !s_in(ids, n, l->k.dst)) {
            rc = tm_rt_link_delay(m->rt, l->k.src, l->k.output, l->k.dst,
                                  l->k.input, l->delay);
        }
    }
    uint64_t k = tm_rt_tick(m->rt);
    for (uint32_t t = 0; t < o->n_past && rc == 0; t++) {
        int r = tm_rt_import_at(m->rt, ids[i], k - o->n_past + 1 + t,
                                o->past + (size_t)t * o->model->n_outputs);
        rc = r == TM_ERR_RANGE ? 0 : r;
    }
    if (rc != 0) {
        tm_log(TM_LOG_ERROR,
               "mut: %s moved, but its proxy here could not be made (%s); "
               "restart the node to make it from the store",
               ids[i], tm_err_str(rc));
    }
}

/* Proxies that fed only leaving actors go (nothing reads them now). */
static void s_out_gc(tm_mut_t *m, const s_out_t *o, const char *id)
{
    for (size_t j = 0; j < o->links.n; j++) {
        const s_link_t *l = &o->links.v[j];
        tm_rt_actor_t a;
        if (strcmp(l->k.dst, id) == 0 && strcmp(l->k.src, id) != 0 &&
            tm_rt_get(m->rt, l->k.src, &a) == 0 && a.remote) {
            tmi_mut_proxy_gc(m, l->k.src);
        }
    }
}

int tm_mut_move_out(tm_mut_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                    const char *kind, const char *reason, char *why)
{
    s_out_t *outs = calloc(n + 1, sizeof *outs);
    tm_store_batch_t *b = NULL;
    int rc = outs == NULL ? TM_ERR_NOMEM : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_out_collect(m, ids, n, i, &outs[i]);
        if (rc == TM_ERR_UNKNOWN_ACTOR) {
            tmi_mut_why(why, rc, "unknown actor '%s'", ids[i]);
        }
    }
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
    }
    if (rc == 0) {
        tm_store_batch_frees(b); /* may use the space reserve */
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_out_batch(b, ids, n, i, &outs[i]);
        if (rc == 0) {
            rc = tmi_mut_audit(m, b, kind, ids[i], NULL, NULL, reason);
        }
    }
    if (rc == 0) {
        rc = tmi_mut_commit(m, b);
        if (rc != 0) {
            tmi_mut_store_failed(m, why, rc);
        }
    } else if (rc != TM_ERR_UNKNOWN_ACTOR) {
        tmi_mut_why(why, rc, "cannot move: %s", tm_err_str(rc));
    }
    /* committed: the runtime follows (it cannot fail but for memory) */
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_out_apply(m, ids, n, i, &outs[i]);
        tmi_mut_tell(m, TM_MUT_MOVED, ids[i], outs[i].model);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        s_out_gc(m, &outs[i], ids[i]);
    }
    for (size_t i = 0; outs != NULL && i < n; i++) {
        free(outs[i].links.v);
        free(outs[i].past);
    }
    free(outs);
    tm_store_batch_destroy(&b);
    return rc;
}

/* ---- arriving ----------------------------------------------------------- */

/* A proxy here of an arriving actor: the links that read it and the
 * values they read (its window but the current tick), kept. */
typedef struct {
    s_links_t readers;
    bool was_proxy;
    uint32_t n_past, width;
    double *past;
} s_in_t;

/* Keep what a proxy's readers read before the tick (the current tick's
 * outputs come with the record). */
static int s_in_keep(tm_mut_t *m, const tm_rt_actor_t *a, s_in_t *st)
{
    st->n_past = a->history - 1;
    st->width = a->model->n_outputs;
    st->past = malloc((size_t)st->n_past * st->width * sizeof(double) + 1);
    if (st->past == NULL) {
        return TM_ERR_NOMEM;
    }
    uint64_t k = tm_rt_tick(m->rt);
    for (uint32_t t = 0; t < st->n_past; t++) {
        const double *y = NULL;
        if (tm_rt_outputs_at(m->rt, a->id, k - st->n_past + t, &y, NULL) == 0) {
            memcpy(st->past + (size_t)t * st->width, y,
                   st->width * sizeof(double));
        }
    }
    return 0;
}

/* Decode the record of one arriving actor and find its model. */
static int s_in_record(const tm_move_actor_t *ma, tm_persist_actor_t *rec,
                       const tm_model_t **model, char *why)
{
    int rc = tm_persist_actor_decode(ma->record, ma->record_len, rec);
    if (rc != 0) {
        return tmi_mut_why(why, rc, "%s: unreadable record (%s)", ma->id,
                           tm_err_str(rc));
    }
    rc = tm_models_find(rec->family, rec->version, rec->fidelity, model);
    if (rc != 0) {
        return tmi_mut_why(
            why, rc, "%s: model %s@%s (%s) is not in the catalog", ma->id,
            rec->family, rec->version, tm_fidelity_name(rec->fidelity));
    }
    const tm_model_t *md = *model;
    if (rec->n_params != md->n_params || rec->n_held != md->n_inputs ||
        rec->n_states != md->n_states ||
        (rec->n_outputs != md->n_outputs && rec->n_outputs != 0) ||
        (rec->n_history > 0 && rec->history_width != md->n_outputs)) {
        return tmi_mut_why(why, TM_ERR_STORE_CORRUPT,
                           "%s: its record does not match the layout of %s@%s",
                           ma->id, rec->family, rec->version);
    }
    return 0;
}

/* Make one arriving actor (a proxy of it here becomes it). */
static int s_in_spawn(tm_mut_t *m, const tm_move_actor_t *ma, s_in_t *st,
                      char *why)
{
    tm_persist_actor_t rec;
    const tm_model_t *model = NULL;
    tm_rt_actor_t a;
    int rc = s_in_record(ma, &rec, &model, why);
    if (rc != 0) {
        return rc;
    }
    if (tm_rt_get(m->rt, ma->id, &a) == 0 && !a.remote) {
        return tmi_mut_why(why, TM_ERR_EXISTS,
                           "actor %s already runs on this node", ma->id);
    }
    if (tm_rt_get(m->rt, ma->id, &a) == 0) {
        tm_rt_foreach_link_of(m->rt, ma->id, s_links_cb, &st->readers);
        rc = st->readers.rc ? st->readers.rc : s_in_keep(m, &a, st);
        if (rc != 0) {
            return tmi_mut_why(why, rc, "out of memory");
        }
        st->was_proxy = true;
        tm_rt_kill(m->rt, ma->id);
    }
    tm_rt_spawn_opts_t opts = {.params = rec.params,
                               .state = rec.state,
                               .held = rec.held,
                               /* none after a set: from the state */
                               .outputs =
                                   rec.n_outputs > 0 ? rec.outputs : NULL,
                               .period = rec.period,
                               .epoch = rec.epoch};
    rc = tm_rt_spawn(m->rt, ma->id, model, &opts);
    if (rc == 0 && rec.has_sup) {
        tm_rt_sup_t sup;
        rc = tm_persist_sup_to_view(&rec.sup, model, tm_models_tier, &sup);
        rc = rc ? rc : tm_rt_sup_restore(m->rt, ma->id, &sup);
    }
    if (rc != 0) {
        return tmi_mut_why(why, rc, "%s: refused by the runtime (%s)", ma->id,
                           tm_err_str(rc));
    }
    return 0;
}

/* The links into one arriving actor, with proxies of the sources this node
 * does not run, then the links of its former proxy. */
static int s_in_links(tm_mut_t *m, const tm_move_actor_t *ma, const s_in_t *st,
                      char *why)
{
    int rc = 0;
    for (uint32_t j = 0; j < ma->n_links && rc == 0; j++) {
        const tm_move_link_t *l = &ma->links[j];
        tm_rt_actor_t a;
        if (tm_rt_get(m->rt, l->src, &a) != 0) {
            tm_fidelity_t f;
            const tm_model_t *sm = NULL;
            rc = tm_fidelity_parse(l->tier, &f);
            rc = rc ? rc : tm_models_find_spec(l->model, f, &sm);
            rc = rc ? rc : tm_rt_spawn_remote(m->rt, l->src, sm);
            if (rc != 0) {
                return tmi_mut_why(
                    why, rc, "%s: no proxy of its source %s (%s %s): %s",
                    ma->id, l->src, l->model, l->tier, tm_err_str(rc));
            }
        }
        rc = tm_rt_link_delay(m->rt, l->src, l->output, ma->id, l->input,
                              l->delay);
        if (rc != 0) {
            return tmi_mut_why(why, rc, "%s: link from %s.%s to %s: %s", ma->id,
                               l->src, l->output, l->input, tm_err_str(rc));
        }
    }
    for (size_t j = 0; j < st->readers.n && rc == 0; j++) {
        const s_link_t *l = &st->readers.v[j];
        rc = tm_rt_link_delay(m->rt, l->k.src, l->k.output, l->k.dst,
                              l->k.input, l->delay);
        if (rc != 0) {
            return tmi_mut_why(why, rc, "%s: link to %s.%s: %s", ma->id,
                               l->k.dst, l->k.input, tm_err_str(rc));
        }
    }
    return 0;
}

/* Past outputs: the actor's own (what its proxy here held, then its
 * record's: the same values where both have them), and those of the
 * proxies of its sources (so they read what its old node read). */
static int s_in_past(tm_mut_t *m, const tm_move_t *pkg, const s_in_t *st)
{
    uint64_t k = tm_rt_tick(m->rt);
    for (uint32_t i = 0; i < pkg->n_actors; i++) {
        const tm_move_actor_t *ma = &pkg->actors[i];
        tm_persist_actor_t rec;
        for (uint32_t j = 0; j < st[i].n_past; j++) {
            (void)tm_rt_restore_at(m->rt, ma->id, k - st[i].n_past + j,
                                   st[i].past + (size_t)j * st[i].width);
        }
        if (tm_persist_actor_decode(ma->record, ma->record_len, &rec) != 0 ||
            rec.n_history == 0) {
            continue;
        }
        size_t count = (size_t)rec.n_history * rec.history_width;
        double *v = malloc(count * sizeof(double) + 1);
        if (v == NULL) {
            return TM_ERR_NOMEM;
        }
        if (tm_persist_actor_history(ma->record, ma->record_len, v, count) ==
            0) {
            for (uint32_t j = 0; j < rec.n_history; j++) {
                (void)tm_rt_restore_at(m->rt, ma->id, k - rec.n_history + j,
                                       v + (size_t)j * rec.history_width);
            }
        }
        free(v);
    }
    for (uint32_t i = 0; i < pkg->n_sources; i++) {
        const tm_move_source_t *s = &pkg->sources[i];
        tm_rt_actor_t a;
        if (tm_rt_get(m->rt, s->id, &a) != 0 ||
            a.model->n_outputs != s->width) {
            continue;
        }
        /* a source that runs here may not have kept the ticks the new
         * link reads (nothing here read it that far back): its old node's
         * copy did */
        for (uint32_t r = 0; r < s->n_rows; r++) {
            const double *v = s->values + (size_t)r * s->width;
            if (a.remote) {
                (void)tm_rt_import_at(m->rt, s->id, s->first_tick + r, v);
            } else if (s->first_tick + r != k) {
                (void)tm_rt_restore_at(m->rt, s->id, s->first_tick + r, v);
            }
        }
    }
    return 0;
}

/* The store's side: each actor's record, the links into it, and the
 * links of its former proxy, which now read a local actor. */
static int s_in_batch(tm_mut_t *m, tm_store_batch_t *b, const tm_move_t *pkg,
                      const s_in_t *st)
{
    int rc = 0;
    char reason[TM_AUDIT_REASON_MAX + 1];
    for (uint32_t i = 0; i < pkg->n_actors && rc == 0; i++) {
        const tm_move_actor_t *ma = &pkg->actors[i];
        rc = tmi_mut_put_current(m, b, ma->id);
        for (uint32_t j = 0; j < ma->n_links && rc == 0; j++) {
            const tm_move_link_t *l = &ma->links[j];
            tm_rt_actor_t a;
            tm_rt_link_t rl = {l->src, l->output, ma->id, l->input, l->delay};
            bool remote = tm_rt_get(m->rt, l->src, &a) == 0 && a.remote;
            rc = tm_persist_put_remote_link(b, &rl, remote ? a.model : NULL);
        }
        for (size_t j = 0; j < st[i].readers.n && rc == 0; j++) {
            tm_rt_link_t rl = s_rt_link(&st[i].readers.v[j]);
            rc = tm_persist_put_link(b, &rl);
        }
        tm_rt_actor_t a;
        if (rc == 0 && tm_rt_get(m->rt, ma->id, &a) == 0) {
            snprintf(reason, sizeof reason,
                     "moved here from node %.64s at tick %llu (epoch %u)",
                     pkg->from, (unsigned long long)pkg->tick, a.epoch);
            rc = tmi_mut_audit(m, b, "migrate-in", ma->id, NULL, NULL, reason);
        }
    }
    return rc;
}

/* Undo the runtime's side of a failed arrival: the actors go (a proxy
 * that became one is lost until a restart makes it from the store). */
static void s_in_undo(tm_mut_t *m, const tm_move_t *pkg, uint32_t made)
{
    for (uint32_t i = 0; i < made; i++) {
        tm_rt_kill(m->rt, pkg->actors[i].id);
    }
    for (uint32_t i = 0; i < pkg->n_actors; i++) {
        for (uint32_t j = 0; j < pkg->actors[i].n_links; j++) {
            tmi_mut_proxy_gc(m, pkg->actors[i].links[j].src);
        }
    }
}

int tm_mut_move_in(tm_mut_t *m, const tm_move_t *pkg, char *why)
{
    s_in_t *st = calloc(pkg->n_actors + 1, sizeof *st);
    tm_store_batch_t *b = NULL;
    uint32_t made = 0;
    int rc = st == NULL ? tmi_mut_why(why, TM_ERR_NOMEM, "out of memory") : 0;
    for (uint32_t i = 0; i < pkg->n_actors && rc == 0; i++) {
        rc = s_in_spawn(m, &pkg->actors[i], &st[i], why);
        made += rc == 0;
    }
    for (uint32_t i = 0; i < pkg->n_actors && rc == 0; i++) {
        rc = s_in_links(m, &pkg->actors[i], &st[i], why);
    }
    if (rc == 0) {
        rc = s_in_past(m, pkg, st);
        rc = rc ? tmi_mut_why(why, rc, "out of memory") : 0;
    }
    if (rc == 0) {
        rc = tmi_mut_new_batch(m, &b);
        rc = rc ? rc : s_in_batch(m, b, pkg, st);
        rc = rc ? rc : tmi_mut_commit(m, b);
        if (rc != 0) {
            tmi_mut_store_failed(m, why, rc);
        }
    }
    if (rc != 0) {
        s_in_undo(m, pkg, made);
    }
    for (uint32_t i = 0; i < pkg->n_actors && rc == 0; i++) {
        tm_rt_actor_t a;
        tm_rt_get(m->rt, pkg->actors[i].id, &a);
        tmi_mut_tell(m, TM_MUT_ADDED, pkg->actors[i].id, a.model);
        for (uint32_t j = 0; j < pkg->actors[i].n_links; j++) {
            const char *src = pkg->actors[i].links[j].src;
            if (tm_rt_get(m->rt, src, &a) == 0 && a.remote) {
                tmi_mut_tell(m, TM_MUT_PROXY, src, a.model);
            }
        }
    }
    for (uint32_t i = 0; st != NULL && i < pkg->n_actors; i++) {
        free(st[i].readers.v);
        free(st[i].past);
    }
    free(st);
    tm_store_batch_destroy(&b);
    return rc;
}
