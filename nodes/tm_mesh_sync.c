/* tm_mesh_sync: coupled dynamics across nodes.
 *
 * A node that reads actors of a peer (through proxies) subscribes to them:
 * a `mesh-sub` request lists the ids; the peer answers with its current
 * tick a and their outputs at a, and from then on sends, after each tick
 * t > a it steps, one link batch with the outputs of every subscribed
 * actor (in the order of the list; the batch's seq is the subscription's
 * epoch, so a batch of an older list is never misread). The reader keeps
 * the batches of the next TMI_BATCH_WINDOW ticks and steps tick t + 1
 * only once it has the batch of tick t + 1 - Dmin from every peer it
 * reads, Dmin the smallest delay of the links reading that peer's actors
 * (conservative synchronisation with lookahead: an empty list needs
 * nothing); before stepping, it imports the values into the proxies as
 * the outputs of their ticks, so the gather loop reads them like local
 * outputs. A source does not run more than the
 * window ahead of a live reader (its heartbeats tell its tick).
 *
 * This file is the reading side and why a tick does not come; the source
 * side (lists peers read here, the batches sent) is tm_mesh_sync_out.c.
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_IDS_ARG     3900u /* bytes of ids per request argument */
#define S_SUB_RETRY_S 2.0   /* a subscription unanswered this long is resent */
/* The most ticks a node steps ahead of a peer's batches (link delays
 * beyond it give no more lookahead); batches are taken from this many
 * ticks back, so that one that comes after the ticks it could have come
 * before is still imported. */
#define S_LOOKAHEAD_MAX 64u
/* The most ticks a source runs ahead of a live reader: a reader keeps the
 * batches of fewer ticks ahead than that (s_batch_in refuses the rest). */
#define S_AHEAD_MAX (TMI_BATCH_WINDOW - S_LOOKAHEAD_MAX)

/* ---- the reading side --------------------------------------------------- */

static void s_in_clear(tmi_in_t *in)
{
    for (size_t i = 0; i < TMI_BATCH_WINDOW; i++) {
        free(in->ring[i].values);
        free(in->ring[i].degraded);
        in->ring[i] = (tmi_held_t){0};
    }
    in->flags_tick = 0;
}

static void s_in_free_list(tmi_in_t *in)
{
    tmi_sync_handles_free(&in->hs);
    in->dmin_ok = false;
    free(in->ids);
    free(in->first);
    free(in->n_outs);
    in->ids = NULL;
    in->first = NULL;
    in->n_outs = NULL;
    in->n_ids = 0;
    in->n_values = 0;
}

void tmi_sync_free(tmi_peer_t *p)
{
    s_in_clear(&p->in);
    s_in_free_list(&p->in);
    tmi_sync_out_free(&p->out);
}

void tmi_sync_dirty(tm_mesh_t *m, tmi_peer_t *p)
{
    m->recount = true;
    p->in.dirty = true; /* subscribed again before the loop blocks */
    p->in.refused = false;
}

void tmi_sync_reset(tm_mesh_t *m, tmi_peer_t *p, bool restarted)
{
    /* what it sent us may be lost: subscribe afresh */
    s_in_clear(&p->in);
    s_in_free_list(&p->in);
    p->in.acked = false;
    p->in.dirty = true;
    p->in.req_seq = 0;
    p->in.prev_epoch = 0;
    p->in.full_tick = 0;
    m->recount = true;
    if (!restarted) {
        /* what it reads here stays until it subscribes again: its new
         * subscription may come before the heartbeat that brought it back
         * (then dropping the list would leave it waiting for batches
         * forever), and if it never saw this node dead it does not
         * subscribe again at all */
        return;
    }
    tmi_sync_out_free(&p->out);
}

static int s_cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The ids of the proxies of p's actors here, sorted; *n of them. */
static int s_desired(tm_mesh_t *m, tmi_peer_t *p, char (**out)[TM_ID_MAX + 1],
                     uint32_t *n)
{
    uint32_t owner = (uint32_t)(p - m->peers);
    size_t cap = 0;
    for (size_t i = 0; i < m->dir.n; i++) {
        cap += m->dir.ents[i].owner == owner;
    }
    char(*ids)[TM_ID_MAX + 1] = calloc(cap + 1, sizeof *ids);
    if (ids == NULL) {
        return TM_ERR_NOMEM;
    }
    *n = 0;
    for (size_t i = 0; i < m->dir.n; i++) {
        tm_rt_actor_t a;
        const tm_dir_ent_t *e = &m->dir.ents[i];
        if (e->owner == owner && tm_rt_get(m->rt, e->id, &a) == 0 && a.remote) {
            snprintf(ids[(*n)++], TM_ID_MAX + 1, "%s", e->id);
        }
    }
    qsort(ids, *n, sizeof *ids, s_cmp_id);
    *out = ids;
    return 0;
}

/* Append ids[0..n) to the list (their outputs after the others'). */
static int s_append(tm_mesh_t *m, tmi_in_t *in, char (*ids)[TM_ID_MAX + 1],
                    uint32_t n)
{
    uint32_t total = in->n_ids + n;
    in->hs.n = 0; /* taken again */
    in->dmin_ok = false;
    void *x = realloc(in->ids, (total + 1) * sizeof *in->ids);
    void *y = x ? realloc(in->first, (total + 1) * sizeof *in->first) : NULL;
    if (x != NULL) {
        in->ids = x;
    }
    if (y != NULL) {
        in->first = y;
    }
    void *z = y ? realloc(in->n_outs, (total + 1) * sizeof *in->n_outs) : NULL;
    if (z == NULL) {
        return TM_ERR_NOMEM;
    }
    in->n_outs = z;
    for (uint32_t i = 0; i < n; i++) {
        tm_rt_actor_t a;
        tm_rt_get(m->rt, ids[i], &a);
        memcpy(in->ids[in->n_ids], ids[i], sizeof ids[i]);
        in->first[in->n_ids] = in->n_values;
        in->n_outs[in->n_ids] = a.model->n_outputs;
        in->n_values += a.model->n_outputs;
        in->n_ids++;
    }
    return 0;
}

/* The sorted ids of want that are not in the list; false if an id of the
 * list is no longer wanted (then the list is sent whole). */
static bool s_only_new(const tmi_in_t *in, char (*want)[TM_ID_MAX + 1],
                       uint32_t n_want, char (*fresh)[TM_ID_MAX + 1],
                       uint32_t *n_fresh)
{
    char(*have)[TM_ID_MAX + 1] = calloc(in->n_ids + 1, sizeof *have);
    if (have == NULL) {
        return false;
    }
    memcpy(have, in->ids, in->n_ids * sizeof *have);
    qsort(have, in->n_ids, sizeof *have, s_cmp_id);
    uint32_t i = 0, j = 0;
    *n_fresh = 0;
    bool subset = true;
    while (i < in->n_ids || j < n_want) {
        int c = i == in->n_ids ? 1
                : j == n_want  ? -1
                               : strcmp(have[i], want[j]);
        if (c < 0) {
            subset = false; /* dropped */
            i++;
        } else if (c > 0) {
            memcpy(fresh[(*n_fresh)++], want[j++], sizeof want[0]);
        } else {
            i++;
            j++;
        }
    }
    free(have);
    return subset;
}

/* argv for a subscription: mesh-sub EPOCH BASE "id id ..." ... (ids hold
 * no space; BASE 0: the whole list, else ids appended to epoch BASE). */
static int s_send_sub(tm_mesh_t *m, tmi_peer_t *p, uint64_t base,
                      char (*ids)[TM_ID_MAX + 1], uint32_t n)
{
    tmi_in_t *in = &p->in;
    size_t max_args = 4 + n / 32;
    char **argv = calloc(max_args, sizeof *argv);
    char *text = malloc((size_t)n * (TM_ID_MAX + 1) + 64);
    int rc = argv != NULL && text != NULL ? 0 : TM_ERR_NOMEM;
    int argc = 0;
    if (rc == 0) {
        char *w = text;
        argv[argc++] = "mesh-sub";
        argv[argc++] = w;
        w += sprintf(w, "%llu", (unsigned long long)in->epoch) + 1;
        argv[argc++] = w;
        w += sprintf(w, "%llu", (unsigned long long)base) + 1;
        size_t used = S_IDS_ARG;
        for (uint32_t i = 0; i < n; i++) {
            size_t len = strlen(ids[i]);
            if (used + len + 1 > S_IDS_ARG) {
                if (argc > 3) {
                    *w++ = '\0';
                }
                argv[argc++] = w;
                used = 0;
            } else {
                *w++ = ' ';
            }
            memcpy(w, ids[i], len);
            w += len;
            used += len + 1;
        }
        *w = '\0';
    }
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (rc == 0) {
        rc = tm_console_req_encode((uint32_t)argc, (const char *const *)argv,
                                   &payload, &plen);
    }
    in->req_seq = ++m->next_seq;
    in->req_at = tm_time_now();
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REQ, in->req_seq,
                           payload, plen);
    }
    free(payload);
    free(argv);
    free(text);
    return rc;
}

static void s_import_held(tm_mesh_t *m, tmi_peer_t *p, uint64_t tick);

/* Tell p which of its actors this node reads: only the new ones when
 * nothing was dropped (an append), else the whole list. */
static void s_subscribe(tm_mesh_t *m, tmi_peer_t *p)
{
    tmi_in_t *in = &p->in;
    char(*want)[TM_ID_MAX + 1] = NULL;
    char(*fresh)[TM_ID_MAX + 1] = NULL;
    uint32_t n_want = 0, n_fresh = 0;
    if (in->req_seq != 0 || s_desired(m, p, &want, &n_want) != 0) {
        return; /* one request at a time (or out of memory): later */
    }
    fresh = calloc(n_want + 1, sizeof *fresh);
    bool append = fresh != NULL && in->acked && in->n_ids > 0 &&
                  s_only_new(in, want, n_want, fresh, &n_fresh);
    int rc = 0;
    in->dirty = false;
    if (append && n_fresh == 0) {
        goto done; /* a new link from an actor already read */
    }
    if (append) {
        in->prev_epoch = in->epoch;
        in->prev_n_values = in->n_values;
        in->prev_until = UINT64_MAX; /* until the answer says */
        in->pending_from = in->n_ids;
        rc = s_append(m, in, fresh, n_fresh);
    } else {
        /* batches of ticks already stepped that came late (lookahead) go
         * into the proxies' history before the list they are read by
         * goes: the steps ahead read them */
        s_import_held(m, p, tm_rt_tick(m->rt));
        s_in_clear(in);
        s_in_free_list(in);
        in->prev_epoch = 0;
        in->pending_from = 0;
        rc = n_want > 0 ? s_append(m, in, want, n_want) : 0;
    }
    in->acked = false;
    in->epoch++;
    if (rc == 0) {
        rc = append ? s_send_sub(m, p, in->prev_epoch, fresh, n_fresh)
                    : s_send_sub(m, p, 0, want, n_want);
    }
    if (rc != 0) {
        in->req_seq = 0;
        s_in_free_list(in); /* the whole list next time */
        in->dirty = true;
        tm_log(TM_LOG_WARN, "mesh: cannot subscribe to %s: %s", p->name,
               tm_err_str(rc));
    }
done:
    m->recount = true; /* the list may have changed */
    free(want);
    free(fresh);
}

/* The live peer whose subscription is not confirmed, or NULL. */
static const tmi_peer_t *s_unsettled(const tm_mesh_t *m)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->state != TMI_DEAD &&
            (p->in.dirty || (p->in.n_ids > 0 && !p->in.acked))) {
            return p;
        }
    }
    return NULL;
}

bool tm_mesh_unsettled(const tm_mesh_t *m)
{
    return s_unsettled(m) != NULL;
}

void tm_mesh_settle(tm_mesh_t *m, tm_console_later_t *later,
                    const char *message, const uint8_t *body, size_t len)
{
    tmi_sync_settle(m, later, message, body, len, false);
}

void tmi_sync_settle(tm_mesh_t *m, tm_console_later_t *later,
                     const char *message, const uint8_t *body, size_t len,
                     bool announced)
{
    if (m->n_settle >= TMI_SETTLE_MAX) {
        later->send(later, 0, message, false, body, len); /* no wait */
        later->free(later);
        return;
    }
    tmi_settle_t *w = &m->settle[m->n_settle];
    memset(w, 0, sizeof *w);
    w->body = len > 0 ? malloc(len) : NULL;
    if (w->body != NULL) {
        memcpy(w->body, body, len);
        w->len = len;
    }
    w->later = later;
    w->announced = announced;
    snprintf(w->message, sizeof w->message, "%s", message);
    w->deadline = tm_time_now() + 10.0;
    m->n_settle++;
    tmi_sync_flush(m);
}

static size_t s_unread(tm_mesh_t *m);

/* Answer the waiters: all when settled, else those past their time. */
static void s_answer_settled(tm_mesh_t *m)
{
    const tmi_peer_t *p = s_unsettled(m);
    size_t unread = s_unread(m);
    double now = tm_time_now();
    for (size_t i = 0; i < m->n_settle;) {
        tmi_settle_t *w = &m->settle[i];
        bool waits = p != NULL || (w->announced && unread > 0);
        if (waits && now < w->deadline) {
            i++;
            continue;
        }
        size_t n = strlen(w->message);
        if (p != NULL) {
            snprintf(w->message + n, sizeof w->message - n,
                     " (node %s has not confirmed the values yet: they may "
                     "start late)",
                     p->name);
        } else if (waits) {
            snprintf(w->message + n, sizeof w->message - n,
                     " (%zu actors that links here read have not been "
                     "announced by their nodes yet: their values may start "
                     "late)",
                     unread);
        }
        w->later->send(w->later, 0, w->message, false, w->body, w->len);
        w->later->free(w->later);
        free(w->body);
        m->settle[i] = m->settle[--m->n_settle];
    }
}

/* A dead peer whose actors this node reads no more (they were failed
 * over to another node): its list goes here, with no request to it, so
 * that no tick waits for it. */
static void s_forget_dead(tm_mesh_t *m, tmi_peer_t *p)
{
    char(*want)[TM_ID_MAX + 1] = NULL;
    uint32_t n_want = 0;
    if (s_desired(m, p, &want, &n_want) == 0 && n_want == 0) {
        s_in_clear(&p->in);
        s_in_free_list(&p->in);
        p->in.prev_epoch = 0;
        p->in.req_seq = 0;
        p->in.acked = false;
        p->in.dirty = false;
        m->recount = true;
    }
    free(want);
}

void tmi_sync_flush(tm_mesh_t *m)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->in.dirty && p->state == TMI_DEAD) {
            s_forget_dead(m, p);
        }
        if (!p->self && p->in.dirty && p->state != TMI_DEAD &&
            p->name[0] != '\0') {
            s_subscribe(m, p);
        }
    }
    if (m->n_settle > 0) {
        s_answer_settled(m);
    }
}

void tmi_sync_beat(tm_mesh_t *m)
{
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_in_t *in = &m->peers[i].in;
        if (in->req_seq != 0 && now - in->req_at > S_SUB_RETRY_S) {
            /* no answer (lost on a reconnection, or sent before the peer
             * knew this node): the whole list again */
            tm_log(TM_LOG_INFO,
                   "mesh: no answer from %s to a subscription within %.0f s; "
                   "sending it again",
                   m->peers[i].name, S_SUB_RETRY_S);
            in->req_seq = 0;
            s_in_free_list(in);
            m->recount = true;
            in->prev_epoch = 0;
            in->dirty = true;
        }
    }
    tmi_sync_flush(m);
    if (m->sched != NULL) {
        tm_sched_kick(m->sched);
    }
}

/* Import values into the proxies of the list from entry `from` on, as far
 * as n values go (a batch of an earlier list covers a prefix): as the
 * outputs of `tick` (what links of every delay read), or, for an answer to
 * a subscription (`answer`), of every tick a new proxy keeps: a proxy that
 * already holds its owner's values (a list sent again, an actor that
 * moved) keeps its history and takes the answer as the outputs of `tick`,
 * so links with a delay still read the past they read before. */
static void s_import(tm_mesh_t *m, tmi_peer_t *p, uint32_t from,
                     const double *values, uint32_t n, uint64_t tick,
                     bool answer)
{
    tmi_in_t *in = &p->in;
    uint32_t base = from < in->n_ids ? in->first[from] : 0;
    const uint32_t *hs =
        answer ? NULL : tmi_sync_handles(m, &in->hs, in->ids, in->n_ids);
    for (uint32_t i = from; i < in->n_ids; i++) {
        if (in->first[i] - base + in->n_outs[i] > n) {
            break;
        }
        const double *v = values + (in->first[i] - base);
        if (hs != NULL && hs[i] != TM_RT_NO_HANDLE) {
            tm_rt_import_at_h(m->rt, hs[i], tick, v);
            continue; /* a tick's batch: the common case */
        }
        tm_rt_actor_t a;
        bool fed =
            answer && tm_rt_get(m->rt, in->ids[i], &a) == 0 && a.imported;
        if (!answer || fed) {
            if (tm_rt_import_at(m->rt, in->ids[i], tick, v) == 0 || !answer) {
                continue;
            }
        }
        tm_rt_import(m->rt, in->ids[i], v); /* outside the window too */
    }
}

/* The "values" of an ack: an array of exactly n floats. */
static int s_values(const msgpack_object *v, uint32_t n, double *out)
{
    if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY ||
        v->via.array.size != n) {
        return TM_ERR_WIRE_FIELD;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *x = &v->via.array.ptr[i];
        if (x->type != MSGPACK_OBJECT_FLOAT64 &&
            x->type != MSGPACK_OBJECT_FLOAT32) {
            return TM_ERR_WIRE_TYPE;
        }
        out[i] = x->via.f64;
    }
    return 0;
}

bool tmi_sync_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep)
{
    tmi_in_t *in = &p->in;
    if (seq == 0 || seq != in->req_seq) {
        return false;
    }
    in->req_seq = 0;
    uint64_t tick = 0;
    msgpack_zone zone;
    msgpack_object obj;
    double *values = NULL;
    int rc = rep->status;
    if (rc == 0) {
        msgpack_zone_init(&zone, 1024);
        rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
        if (rc == 0) {
            rc = tm_wire_get_u64(&obj, "tick", &tick);
        }
        uint32_t from = in->pending_from < in->n_ids ? in->pending_from : 0;
        uint32_t n = in->n_values - (from < in->n_ids ? in->first[from] : 0);
        if (rc == 0) {
            values = calloc(n + 1, sizeof *values);
            rc = values == NULL
                     ? TM_ERR_NOMEM
                     : s_values(tm_wire_map_get(&obj, "values"), n, values);
        }
        if (rc == 0) {
            s_import(m, p, from, values, n, tick, true);
        }
        msgpack_zone_destroy(&zone);
    }
    if (rc != 0) {
        tm_log(rc == TM_ERR_TOO_BIG ? TM_LOG_ERROR : TM_LOG_WARN,
               "mesh: %s refused the subscription: %.*s (%s)", p->name,
               (int)rep->message_len, rep->message, tm_err_str(rc));
        s_in_free_list(in); /* the whole list again: on the next beat, or */
        m->recount = true;
        in->dirty = rc != TM_ERR_TOO_BIG; /* when the links change */
        in->refused = rc == TM_ERR_TOO_BIG;
    } else {
        if (in->prev_epoch == 0) {
            in->full_tick = tick; /* every value known up to it */
        } else {
            in->prev_until = tick; /* the earlier list's batches up to it */
        }
        in->acked = true;
        in->ack_tick = tick;
        if (m->sched != NULL) {
            tm_sched_kick(m->sched);
        }
        if (m->n_settle > 0) {
            s_answer_settled(m);
        }
    }
    free(values);
    return true;
}

void tmi_sync_batch(tm_mesh_t *m, tmi_peer_t *p, uint64_t epoch,
                    const uint8_t *payload, size_t len)
{
    tmi_in_t *in = &p->in;
    tm_link_batch_t b;
    if (tm_link_batch_decode(payload, len, NULL, &b) != 0) {
        m->malformed++;
        return;
    }
    uint64_t now = tm_rt_tick(m->rt);
    bool current = epoch == in->epoch && in->acked && b.tick > in->ack_tick &&
                   b.count == in->n_values;
    bool earlier = in->prev_epoch != 0 && epoch == in->prev_epoch &&
                   b.tick <= in->prev_until && b.tick > in->full_tick &&
                   b.count == in->prev_n_values;
    if (!(current || earlier) || b.tick + S_LOOKAHEAD_MAX <= now ||
        b.tick >= now + TMI_BATCH_WINDOW - S_LOOKAHEAD_MAX) {
        in->stale++;
        tm_link_batch_free(&b);
        return;
    }
    tmi_held_t *h = &in->ring[b.tick % TMI_BATCH_WINDOW];
    free(h->values);
    free(h->degraded);
    h->values = b.values; /* ids are 0..n-1: the list's order */
    b.values = NULL;
    h->degraded = b.degraded;
    h->n_degraded = b.n_degraded;
    b.degraded = NULL;
    h->n = b.count;
    h->tick = b.tick;
    h->have = true;
    h->done = false;
    in->batches++;
    tm_link_batch_free(&b);
    if (m->sched != NULL) {
        tm_sched_kick(m->sched);
    }
}

/* Whether this node has p's values for tick t (or needs none). */
static bool s_have(const tmi_peer_t *p, uint64_t t)
{
    const tmi_in_t *in = &p->in;
    if (in->n_ids == 0 && !in->dirty) {
        return true;
    }
    if (!in->acked) {
        return false;
    }
    if (t <= in->full_tick) {
        return true;
    }
    const tmi_held_t *h = &in->ring[t % TMI_BATCH_WINDOW];
    return (h->have || h->done) && h->tick == t;
}

/* How many ticks this node may step ahead of p's batches: the smallest
 * delay of the links here that read p's actors (at most S_LOOKAHEAD_MAX;
 * 1 when some proxy is not found or nothing reads them). Step k reads
 * through a link of delay D >= that the outputs of tick k - D, so it
 * needs p's batches up to k - dmin only. Taken again after any link
 * change or kill in the runtime, or a change of the list. */
static uint32_t s_lookahead(tm_mesh_t *m, tmi_peer_t *p)
{
    tmi_in_t *in = &p->in;
    uint64_t links = tm_rt_link_changes(m->rt);
    uint64_t kills = tm_rt_kills(m->rt);
    if (in->dmin_ok && in->dmin_links == links && in->dmin_kills == kills) {
        return in->dmin;
    }
    const uint32_t *hs = tmi_sync_handles(m, &in->hs, in->ids, in->n_ids);
    uint32_t d = UINT32_MAX;
    for (uint32_t i = 0; i < in->n_ids && d > 1; i++) {
        uint32_t h = hs != NULL ? hs[i] : TM_RT_NO_HANDLE;
        uint32_t md = h != TM_RT_NO_HANDLE ? tm_rt_min_delay_h(m->rt, h) : 1;
        if (md > 0 && md < d) {
            d = md;
        }
    }
    in->dmin = d == UINT32_MAX ? 1 : d > S_LOOKAHEAD_MAX ? S_LOOKAHEAD_MAX : d;
    in->dmin_ok = true;
    in->dmin_links = links;
    in->dmin_kills = kills;
    return in->dmin;
}

/* The tick of p's values that stepping tick next needs. */
static uint64_t s_needed(tm_mesh_t *m, tmi_peer_t *p, uint64_t next)
{
    uint32_t d = s_lookahead(m, p);
    return next > d ? next - d : 0;
}

bool tmi_sync_held(tm_mesh_t *m, uint64_t tick)
{
    for (uint32_t i = 0; i < m->n_peers && tick > 0; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self || p->state != TMI_ALIVE) {
            continue; /* a dead peer's values are held (s_lost) */
        }
        /* the steps up to tick needed the batches up to tick - dmin */
        uint32_t d = s_lookahead(m, p);
        for (uint64_t t = tick >= d ? tick - d + 1 : 1; t <= tick; t++) {
            if (!s_have(p, t)) {
                return false;
            }
        }
    }
    return true;
}

/* p's proxies while its values are held: degraded, so that their readers
 * are told (inspect's degraded_inputs, the published outputs' flag) as
 * for a source that fell back; when they flow again the batches' flags
 * say. And
 * the audit log records when it began and ended, with the ticks. */
static void s_stale(tm_mesh_t *m, tmi_peer_t *p, uint64_t tick, bool begins)
{
    tmi_in_t *in = &p->in;
    char why[200];
    if (begins) {
        for (uint32_t i = 0; i < in->n_ids; i++) {
            tm_rt_set_remote_degraded(m->rt, in->ids[i], true);
        }
        in->degraded = in->n_ids > 0;
        snprintf(why, sizeof why,
                 "node %s's values of tick %llu are late: %u of its actors "
                 "feed this node's with their last values (degraded)",
                 p->name, (unsigned long long)tick, in->n_ids);
    } else {
        for (uint32_t i = 0; i < in->n_ids && in->degraded; i++) {
            tm_rt_set_remote_degraded(m->rt, in->ids[i], false);
        }
        in->degraded = false; /* the batch being imported says again */
        snprintf(why, sizeof why,
                 "node %s's values flow again from tick %llu (held from "
                 "tick %llu)",
                 p->name, (unsigned long long)tick,
                 (unsigned long long)in->held_from);
    }
    if (m->mut != NULL) {
        tm_mut_audit_note_at(m->mut, tick, begins ? "stale" : "fresh", NULL,
                             NULL, NULL, why);
    }
}

/* Realtime only: has p been late longer than the wait? Then the node steps
 * on with p's last values (held, the links from them flagged stale, the
 * proxies degraded) until they come again. */
static bool s_late(tm_mesh_t *m, tmi_peer_t *p, uint64_t next)
{
    tmi_in_t *in = &p->in;
    if (m->sched == NULL || strcmp(tm_sched_label(m->sched), "realtime") != 0) {
        return false; /* fast mode and runs wait: results stay exact */
    }
    double now = tm_time_now();
    if (in->late_since == 0) {
        in->late_since = now;
    }
    if (!in->holding && now - in->late_since < m->wait_s) {
        return false;
    }
    if (!in->holding) {
        in->holding = true;
        in->held_from = next - 1;
        tm_log(TM_LOG_WARN,
               "mesh: node %s's values of tick %llu are %.2f s late; "
               "stepping on with its last values (links from it are stale)",
               p->name, (unsigned long long)(next - 1), now - in->late_since);
        s_stale(m, p, next - 1, true);
    }
    in->held_ticks++;
    m->held_ticks++;
    return true;
}

/* p's values are there for this tick: no longer late. */
static void s_values_back(tm_mesh_t *m, tmi_peer_t *p, uint64_t next)
{
    tmi_in_t *in = &p->in;
    if (in->holding) {
        tm_log(TM_LOG_INFO,
               "mesh: node %s's values flow again from tick %llu (held for "
               "%llu ticks from tick %llu)",
               p->name, (unsigned long long)(next - 1),
               (unsigned long long)(next - 1 - in->held_from),
               (unsigned long long)in->held_from);
        s_stale(m, p, next - 1, false);
    }
    in->holding = false;
    in->late_since = 0;
}

/* Proxies here that no subscription covers (their owner has not announced
 * them yet): counted again only when proxies or lists change. */
static size_t s_unread(tm_mesh_t *m)
{
    if (m->recount) {
        tm_rt_stats_t st;
        size_t read = 0;
        tm_rt_stats(m->rt, &st);
        for (uint32_t i = 0; i < m->n_peers; i++) {
            read += m->peers[i].in.n_ids;
        }
        m->unread = st.remote > read ? st.remote - read : 0;
        m->recount = false;
    }
    return m->unread;
}

/* Subscribe to p's list again from scratch (what p reads from us is
 * untouched): its answer carries every value at its current tick. */
static void s_resubscribe(tm_mesh_t *m, tmi_peer_t *p)
{
    s_in_clear(&p->in);
    s_in_free_list(&p->in);
    p->in.acked = false;
    p->in.dirty = true;
    p->in.req_seq = 0;
    p->in.prev_epoch = 0;
    p->in.full_tick = 0;
    m->recount = true;
}

/* p is alive and already past tick t, yet its values of t are not here:
 * the batch was lost on the way (ZeroMQ does not resend what a broken
 * connection held). After S_LOST_S seconds the list is subscribed again;
 * the mesh then resumes from p's values of its current tick (like a
 * restart: not bit for bit, and logged). */
#define S_LOST_S 2.0
static void s_lost(tm_mesh_t *m, tmi_peer_t *p, uint64_t t)
{
    tmi_in_t *in = &p->in;
    if (p->state != TMI_ALIVE || !in->acked || in->req_seq != 0 ||
        p->tick <= t) {
        in->lost_since = 0;
        return;
    }
    double now = tm_time_now();
    if (in->lost_since == 0) {
        in->lost_since = now;
        return;
    }
    if (now - in->lost_since < S_LOST_S) {
        return;
    }
    tm_log(TM_LOG_WARN,
           "mesh: node %s is at tick %llu but its values of tick %llu never "
           "came (lost on a broken connection); subscribing again: the mesh "
           "resumes from its current values",
           p->name, (unsigned long long)p->tick, (unsigned long long)t);
    in->lost_since = 0;
    in->resubscribed++;
    s_resubscribe(m, p);
}

/* The start gate (tm_mesh_int.h): open once every member that is not
 * dead has sent its whole directory, or at gate_until. */
static bool s_gate_open(tm_mesh_t *m)
{
    if (!m->gated) {
        return true;
    }
    bool open = tm_time_now() >= m->gate_until;
    for (uint32_t i = 0; i < m->n_peers && !open; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->state != TMI_DEAD && !p->dir_synced) {
            return false;
        }
    }
    m->gated = false;
    tm_log(TM_LOG_INFO, "mesh: this node steps now (%s)",
           open ? "not every member answered in time"
                : "every member it reaches has sent its directory");
    return true;
}

bool tmi_sync_ready(void *arg, uint64_t next)
{
    tm_mesh_t *m = arg;
    if (!tmi_lease_ready(m)) {
        return false; /* counted in lease.waits */
    }
    if (!s_gate_open(m)) {
        m->sync_waits++;
        return false;
    }
    if (s_unread(m) > 0) {
        /* a proxy whose owner has not announced it yet (after a restart,
         * before its directory came): its values are unknown */
        m->sync_waits++;
        return false;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        uint64_t t = s_needed(m, p, next); /* next - 1 without lookahead */
        if (s_have(p, t)) {
            s_values_back(m, p, t + 1);
            p->in.lost_since = 0;
        } else if (!s_late(m, p, t + 1)) {
            s_lost(m, p, t);
            m->sync_waits++;
            return false;
        }
        /* a live reader of ours must not fall a window behind (the window
         * it keeps batches of: S_LOOKAHEAD_MAX short of the ring) */
        if (p->out.n_ids > 0 && p->state == TMI_ALIVE &&
            next >= p->tick + S_AHEAD_MAX) {
            m->sync_waits++;
            return false;
        }
    }
    return true;
}

/* The degraded flags of a batch onto the proxies of the list: all are
 * visited only while some flag is or was set; a batch older than the one
 * whose flags hold (imported late, within the lookahead) changes none. */
static void s_import_degraded(tm_mesh_t *m, tmi_in_t *in, const tmi_held_t *h)
{
    if ((h->n_degraded == 0 && !in->degraded) || h->tick < in->flags_tick) {
        return;
    }
    in->flags_tick = h->tick;
    for (uint32_t i = 0; i < in->n_ids; i++) {
        tm_rt_set_remote_degraded(m->rt, in->ids[i], false);
    }
    for (uint32_t k = 0; k < h->n_degraded; k++) {
        if (h->degraded[k] < in->n_ids) {
            tm_rt_set_remote_degraded(m->rt, in->ids[h->degraded[k]], true);
        }
    }
    in->degraded = h->n_degraded > 0;
}

/* Before stepping tick + 1: every batch held for a tick up to `tick`
 * goes into the proxies as the outputs of its tick (in tick order; with
 * lookahead, batches of the last ticks may come after the steps of their
 * ticks, and are imported into the proxies' history before any step
 * reads them). */
static void s_import_held(tm_mesh_t *m, tmi_peer_t *p, uint64_t tick)
{
    uint64_t from = tick >= S_LOOKAHEAD_MAX ? tick - S_LOOKAHEAD_MAX + 1 : 0;
    if (p->self || !p->in.acked) {
        return;
    }
    for (uint64_t t = from; t <= tick; t++) {
        tmi_held_t *h = &p->in.ring[t % TMI_BATCH_WINDOW];
        if (!h->have || h->done || h->tick != t) {
            continue;
        }
        s_import(m, p, 0, h->values, h->n, t, false);
        s_import_degraded(m, &p->in, h);
        free(h->values);
        free(h->degraded);
        *h = (tmi_held_t){.tick = t, .done = true};
    }
}

void tmi_sync_before(void *arg, uint64_t tick)
{
    tm_mesh_t *m = arg;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        s_import_held(m, &m->peers[i], tick);
    }
}

/* ---- why a tick does not come ------------------------------------------ */

static const char *s_peer_state(const tmi_peer_t *p, char *buf, size_t cap)
{
    static const char *const names[] = {"joining", "alive", "suspect", "dead"};
    double ago = tm_time_now() - p->last_heard;
    if (p->state == TMI_ALIVE) {
        snprintf(buf, cap, "%s is alive at tick %llu, clock %s", p->name,
                 (unsigned long long)p->tick, p->clock);
    } else {
        snprintf(buf, cap, "%s is %s: last heard %.1f s ago at tick %llu",
                 p->name[0] != '\0' ? p->name : p->endpoint, names[p->state],
                 ago, (unsigned long long)p->tick);
    }
    return buf;
}

void tmi_sync_why(tm_mesh_t *m, tmi_why_t *w)
{
    char st[300];
    uint64_t next = tm_rt_tick(m->rt) + 1;
    tm_rt_stats_t rs;
    size_t read = 0;
    memset(w, 0, sizeof *w);
    tm_rt_stats(m->rt, &rs);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        read += m->peers[i].in.n_ids;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (m->peers[i].in.refused) {
            snprintf(w->node, sizeof w->node, "%s", m->peers[i].name);
            snprintf(w->reason, sizeof w->reason,
                     "node %s refused to send the values this node's links "
                     "read: more than %u values per tick (link fewer of its "
                     "actors into this node)",
                     m->peers[i].name, TMI_BATCH_VALUES_MAX);
            return;
        }
    }
    if (rs.remote > read) {
        snprintf(w->reason, sizeof w->reason,
                 "%zu links read actors whose node has not announced them "
                 "(yet): their values are unknown",
                 rs.remote - read);
        return;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        uint64_t t = s_needed(m, p, next);
        if (!s_have(p, t)) {
            snprintf(w->node, sizeof w->node, "%s", p->name);
            w->tick = t;
            if (!p->in.acked) {
                snprintf(w->reason, sizeof w->reason,
                         "waiting for node %s to confirm the values it "
                         "sends (%s)",
                         p->name, s_peer_state(p, st, sizeof st));
            } else {
                snprintf(w->reason, sizeof w->reason,
                         "waiting for node %s's values of tick %llu (%s)",
                         p->name, (unsigned long long)t,
                         s_peer_state(p, st, sizeof st));
            }
            return;
        }
        if (p->out.n_ids > 0 && p->state == TMI_ALIVE &&
            next >= p->tick + S_AHEAD_MAX) {
            snprintf(w->node, sizeof w->node, "%s", p->name);
            w->tick = p->tick;
            snprintf(w->reason, sizeof w->reason,
                     "node %s reads this node's values and is %llu ticks "
                     "behind (at most %u)",
                     p->name, (unsigned long long)(next - 1 - p->tick),
                     S_AHEAD_MAX);
            return;
        }
    }
}
