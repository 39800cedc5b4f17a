/* tm_mesh_dir: the directory between nodes - this node's actors sent to
 * every peer (whole, then deltas after each mutation), the peers' entries
 * kept in tm_dir, gaps found and the whole directory asked for again. */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DIR_CHUNK   4096u /* entries per directory message */
#define S_DIR_RETRY_S 1.0   /* ask again for a directory after this */

static int s_push(tm_dir_entry_t **v, size_t *n, size_t *cap,
                  const tm_dir_entry_t *e)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        tm_dir_entry_t *x = realloc(*v, c * sizeof *x);
        if (x == NULL) {
            return TM_ERR_NOMEM;
        }
        *v = x;
        *cap = c;
    }
    (*v)[(*n)++] = *e;
    return 0;
}

static void s_entry_of(tm_dir_entry_t *e, const char *id,
                       const tm_model_t *model, uint32_t epoch)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->epoch = epoch;
    if (model != NULL) {
        snprintf(e->model, sizeof e->model, "%s@%s", model->family,
                 model->version);
        snprintf(e->tier, sizeof e->tier, "%s",
                 tm_fidelity_name(model->fidelity));
    }
}

static int s_send_dir(tm_mesh_t *m, tmi_peer_t *p, tm_directory_t *d)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    d->inc = m->inc;
    d->seq = ++p->out_seq;
    int rc = tm_directory_encode(d, &payload, &len);
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, false, TM_MSG_DIRECTORY, 0, payload, len);
    }
    free(payload);
    return rc;
}

typedef struct {
    tm_mesh_t *m;
    tmi_peer_t *p;
    tm_dir_entry_t *buf;
    uint32_t n;
    bool first;
    int rc;
} s_dump_t;

static int s_dump_flush(s_dump_t *d)
{
    tm_directory_t dir = {.reset = d->first, .n_add = d->n, .add = d->buf};
    int rc = s_send_dir(d->m, d->p, &dir);
    d->first = false;
    d->n = 0;
    return rc;
}

static int s_dump_cb(const tm_rt_actor_t *a, void *arg)
{
    s_dump_t *d = arg;
    if (a->remote) {
        return 0;
    }
    s_entry_of(&d->buf[d->n++], a->id, a->model, a->epoch);
    if (d->n == S_DIR_CHUNK) {
        d->rc = s_dump_flush(d);
    }
    return d->rc != 0;
}

/* This node's whole directory to p (after which deltas follow). */
void tmi_dir_send_whole(tm_mesh_t *m, tmi_peer_t *p)
{
    s_dump_t d = {m, p,    calloc(S_DIR_CHUNK, sizeof(tm_dir_entry_t)),
                  0, true, 0};
    if (d.buf == NULL) {
        return;
    }
    tm_rt_foreach(m->rt, s_dump_cb, &d);
    if (d.rc == 0 && (d.n > 0 || d.first)) {
        d.rc = s_dump_flush(&d);
    }
    free(d.buf);
    p->dir_sent = d.rc == 0;
    if (d.rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: cannot send the directory to %s: %s",
               p->name, tm_err_str(d.rc));
    }
}

/* Own changes since the last flush, to every peer that has the whole
 * directory. */
void tmi_dir_flush(tm_mesh_t *m)
{
    size_t ia = 0, id = 0;
    while (ia < m->n_add || id < m->n_del) {
        uint32_t na = (uint32_t)(m->n_add - ia < S_DIR_CHUNK ? m->n_add - ia
                                                             : S_DIR_CHUNK);
        uint32_t nd =
            (uint32_t)(m->n_del - id < S_DIR_CHUNK - na ? m->n_del - id
                                                        : S_DIR_CHUNK - na);
        for (uint32_t i = 0; i < m->n_peers; i++) {
            tmi_peer_t *p = &m->peers[i];
            if (p->self || !p->dir_sent) {
                continue;
            }
            /* d_add or d_del is NULL until its first entry: no offset
             * may be applied to it (undefined behaviour) */
            tm_directory_t dir = {.n_add = na,
                                  .add = na > 0 ? m->d_add + ia : NULL,
                                  .n_del = nd,
                                  .del = nd > 0 ? m->d_del + id : NULL};
            if (s_send_dir(m, p, &dir) != 0) {
                p->dir_sent = false; /* it will ask for the whole one */
            }
        }
        ia += na;
        id += nd;
    }
    m->n_add = 0;
    m->n_del = 0;
}

void tmi_dir_observe(void *arg, tm_mut_event_t ev, const char *id,
                     const tm_model_t *model)
{
    tm_mesh_t *m = arg;
    tm_dir_entry_t e;
    tm_rt_actor_t a;
    s_entry_of(&e, id, model,
               tm_rt_get(m->rt, id, &a) == 0 && !a.remote ? a.epoch : 0);
    if (ev == TM_MUT_MOVED) {
        /* no deletion goes out: its new node's claim, with a higher epoch,
         * replaces this node's entry everywhere (tm_mesh_move.c tells the
         * others), and a deletion arriving first would drop their proxies
         * and links */
        m->recount = true;
        return;
    }
    if (ev == TM_MUT_PROXY) {
        const tm_dir_ent_t *d = tm_dir_get(&m->dir, id);
        m->recount = true; /* a proxy its node has not announced yet too */
        if (d != NULL) {
            tmi_sync_dirty(m, &m->peers[d->owner]);
        }
        return;
    }
    int rc = ev == TM_MUT_ADDED ? s_push(&m->d_add, &m->n_add, &m->cap_add, &e)
                                : s_push(&m->d_del, &m->n_del, &m->cap_del, &e);
    if (rc != 0) {
        for (uint32_t i = 0; i < m->n_peers; i++) {
            m->peers[i].dir_sent = false; /* resend whole directories */
        }
    }
}

/* Ask p for its whole directory (at most every S_DIR_RETRY_S). */
void tmi_dir_ask(tm_mesh_t *m, tmi_peer_t *p)
{
    double now = tm_time_now();
    if (now - p->dir_asked < S_DIR_RETRY_S) {
        return;
    }
    p->dir_asked = now;
    const char *argv[] = {"mesh-dir"};
    uint8_t *payload = NULL;
    size_t len = 0;
    if (tm_console_req_encode(1, argv, &payload, &len) == 0) {
        tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REQ, 0, payload, len);
    }
    free(payload);
}

/* Copies to let go (fence) after a directory message. */
typedef struct {
    char (*ids)[TM_ID_MAX + 1];
    size_t n, cap;
} s_fence_t;

/* p claims an actor that runs here: the higher epoch wins. A claim with a
 * higher epoch means this node's copy was moved or failed over while this
 * node did not take part (it was cut off, or down): it is fenced - it
 * leaves this node, as in a migration, and never steps here again. The
 * same epoch is a conflict (both kept); a lower one is p's stale copy,
 * which p fences when it hears of this node's claim. */
static bool s_dir_local(tm_mesh_t *m, tmi_peer_t *p, const tm_dir_entry_t *e,
                        const tm_rt_actor_t *a, s_fence_t *f)
{
    uint32_t me = tmi_mesh_index(m, p);
    if (tmi_move_owns(m, e->id)) {
        return false; /* moving there now: the move itself lets it go */
    }
    if (e->epoch == a->epoch) {
        tm_dir_conflict(&m->dir, e->id, me, UINT32_MAX);
        tm_log(TM_LOG_ERROR,
               "mesh: actor %s exists here and on node %s: id conflict (both "
               "kept; kill one of them)",
               e->id, p->name);
        return false;
    }
    if (e->epoch < a->epoch) {
        tm_log(TM_LOG_WARN,
               "mesh: node %s claims actor %s at epoch %u; it runs here at "
               "epoch %u: %s's copy is stale and will be fenced there",
               p->name, e->id, e->epoch, a->epoch, p->name);
        return false;
    }
    if (f->n == f->cap) {
        return false; /* out of memory: at the next whole directory */
    }
    /* let go after the message, in one batch */
    snprintf(f->ids[f->n++], sizeof f->ids[0], "%s", e->id);
    return true;
}

/* The copies fenced by one directory message from p go in one batch (a
 * node back from a failover may hold many); one by one if that fails. */
static void s_fence(tm_mesh_t *m, tmi_peer_t *p, s_fence_t *f)
{
    char reason[160];
    char why[TM_MUT_WHY_MAX];
    if (f->n == 0) {
        return;
    }
    snprintf(reason, sizeof reason,
             "node %.64s runs it at a higher ownership epoch than this node's "
             "copy",
             p->name);
    int rc = tm_mut_move_out(m->mut, f->ids, f->n, "fenced", reason, why);
    for (size_t i = 0; rc != 0 && i < f->n; i++) {
        if (tm_mut_move_out(m->mut, f->ids + i, 1, "fenced", reason, why) !=
            0) {
            tm_log(TM_LOG_ERROR, "mesh: actor %s: cannot fence it: %s",
                   f->ids[i], why);
        }
    }
    tm_log(TM_LOG_WARN, "mesh: %zu actors fenced (%s%s)", f->n, f->ids[0],
           f->n > 1 ? ", ..." : "");
    f->n = 0;
    tmi_sync_dirty(m, p); /* those that links here read are proxies now */
}

static void s_dir_add(tm_mesh_t *m, tmi_peer_t *p, const tm_dir_entry_t *e,
                      s_fence_t *f)
{
    tm_rt_actor_t a;
    tm_dir_ent_t ent;
    uint32_t me = tmi_mesh_index(m, p);
    if (tm_rt_get(m->rt, e->id, &a) == 0 && !a.remote &&
        !s_dir_local(m, p, e, &a, f)) {
        return;
    }
    memset(&ent, 0, sizeof ent);
    snprintf(ent.id, sizeof ent.id, "%s", e->id);
    snprintf(ent.model, sizeof ent.model, "%s", e->model);
    snprintf(ent.tier, sizeof ent.tier, "%s", e->tier);
    ent.owner = me;
    ent.epoch = e->epoch;
    bool proxy = tm_rt_get(m->rt, e->id, &a) == 0 && a.remote;
    if (proxy) {
        tmi_sync_dirty(m, p); /* a proxy here (restored from the store) */
    }
    uint32_t from = UINT32_MAX;
    int rc = tm_dir_put(&m->dir, &ent, &from);
    if (rc == 0 && from != UINT32_MAX && from < m->n_peers) {
        tm_log(TM_LOG_INFO, "mesh: actor %s moved from node %s to node %s",
               e->id, m->peers[from].name, p->name);
        if (proxy) {
            tmi_sync_dirty(m, &m->peers[from]); /* read from p now */
        }
    } else if (rc == TM_ERR_EXISTS) {
        const tm_dir_ent_t *old = tm_dir_get(&m->dir, e->id);
        tm_log(TM_LOG_ERROR,
               "mesh: actor %s exists on nodes %s and %s: id conflict (both "
               "kept)",
               e->id, m->peers[old->owner].name, p->name);
    }
}

static void s_dir_del(tm_mesh_t *m, tmi_peer_t *p, const char *id)
{
    tm_rt_actor_t a;
    size_t links = 0;
    char why[TM_MUT_WHY_MAX];
    const tm_dir_ent_t *e = tm_dir_get(&m->dir, id);
    if (e == NULL || e->owner != tmi_mesh_index(m, p)) {
        return;
    }
    tm_dir_del(&m->dir, id, tmi_mesh_index(m, p));
    if (tm_rt_get(m->rt, id, &a) == 0 && a.remote &&
        tm_mut_drop_proxy(m->mut, id, &links, why) == 0) {
        tm_log(TM_LOG_INFO,
               "mesh: %s was removed on node %s; %zu links from it removed", id,
               p->name, links);
    }
}

void tmi_dir_on_message(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    tm_directory_t d;
    if (tm_directory_decode(env->payload, env->payload_len, NULL, &d) != 0) {
        m->malformed++;
        return;
    }
    if (d.reset) {
        tm_dir_drop_owner(&m->dir, tmi_mesh_index(m, p));
        p->dir_inc = d.inc;
        p->dir_synced = true;
    } else if (!p->dir_synced || d.inc != p->dir_inc ||
               d.seq != p->dir_seq + 1) {
        p->dir_synced = false; /* a gap: ask for the whole directory */
        tmi_dir_ask(m, p);
        tm_directory_free(&d);
        return;
    }
    p->dir_seq = d.seq;
    s_fence_t f = {0};
    f.ids = calloc(d.n_add + 1, sizeof *f.ids);
    f.cap = f.ids != NULL ? d.n_add : 0;
    for (uint32_t i = 0; i < d.n_add; i++) {
        s_dir_add(m, p, &d.add[i], &f);
    }
    s_fence(m, p, &f);
    free(f.ids);
    for (uint32_t i = 0; i < d.n_del; i++) {
        s_dir_del(m, p, d.del[i].id);
    }
    tm_directory_free(&d);
}
