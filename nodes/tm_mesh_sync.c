/* tm_mesh_sync: coupled dynamics across nodes.
 *
 * A node that reads actors of a peer (through proxies) subscribes to them:
 * a `mesh-sub` request lists the ids; the peer answers with its current
 * tick a and their outputs at a, and from then on sends, after each tick
 * t > a it steps, one link batch with the outputs of every subscribed
 * actor (in the order of the list; the batch's seq is the subscription's
 * epoch, so a batch of an older list is never misread). The reader keeps
 * the batches of the next TMI_BATCH_WINDOW ticks and steps tick t + 1
 * only once it has the batch of tick t from every peer it reads
 * (conservative synchronisation: an empty list needs nothing); before
 * stepping, it imports the values into the proxies, so the gather loop
 * reads them like local outputs. A source does not run more than the
 * window ahead of a live reader (its heartbeats tell its tick).
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_IDS_ARG 3900u /* bytes of ids per request argument */

/* ---- the reading side --------------------------------------------------- */

static void s_in_clear(tmi_in_t *in)
{
    for (size_t i = 0; i < TMI_BATCH_WINDOW; i++) {
        free(in->ring[i].values);
        in->ring[i] = (tmi_held_t){0};
    }
}

static void s_in_free_list(tmi_in_t *in)
{
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
    free(p->out.ids);
    free(p->out.n_outs);
    p->out.ids = NULL;
    p->out.n_outs = NULL;
    p->out.n_ids = 0;
}

void tmi_sync_dirty(tm_mesh_t *m, tmi_peer_t *p)
{
    (void)m;
    p->in.dirty = true;  /* subscribed again before the loop blocks */
    p->in.acked = false; /* and the new list's values awaited */
}

void tmi_sync_reset(tm_mesh_t *m, tmi_peer_t *p)
{
    /* what it sent us may be lost, what we sent it too */
    s_in_clear(&p->in);
    p->in.acked = false;
    p->in.dirty = true;
    free(p->out.ids);
    free(p->out.n_outs);
    p->out.ids = NULL;
    p->out.n_outs = NULL;
    p->out.n_ids = 0;
    (void)m;
}

/* The proxies of p's actors, sorted by id (the directory's order is not
 * stable). */
static int s_cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int s_build_list(tm_mesh_t *m, tmi_peer_t *p)
{
    uint32_t owner = (uint32_t)(p - m->peers);
    tmi_in_t *in = &p->in;
    s_in_free_list(in);
    size_t n = 0;
    for (size_t i = 0; i < m->dir.n; i++) {
        tm_rt_actor_t a;
        const tm_dir_ent_t *e = &m->dir.ents[i];
        n += e->owner == owner && tm_rt_get(m->rt, e->id, &a) == 0 && a.remote;
    }
    if (n == 0) {
        return 0;
    }
    in->ids = calloc(n, sizeof *in->ids);
    in->first = calloc(n, sizeof *in->first);
    in->n_outs = calloc(n, sizeof *in->n_outs);
    if (in->ids == NULL || in->first == NULL || in->n_outs == NULL) {
        s_in_free_list(in);
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < m->dir.n; i++) {
        tm_rt_actor_t a;
        const tm_dir_ent_t *e = &m->dir.ents[i];
        if (e->owner == owner && tm_rt_get(m->rt, e->id, &a) == 0 && a.remote) {
            snprintf(in->ids[in->n_ids++], TM_ID_MAX + 1, "%s", e->id);
        }
    }
    qsort(in->ids, in->n_ids, sizeof *in->ids, s_cmp_id);
    for (uint32_t i = 0; i < in->n_ids; i++) {
        tm_rt_actor_t a;
        tm_rt_get(m->rt, in->ids[i], &a);
        in->first[i] = in->n_values;
        in->n_outs[i] = a.model->n_outputs;
        in->n_values += a.model->n_outputs;
    }
    return 0;
}

/* Send the list of p's actors this node reads (a new epoch). */
static void s_subscribe(tm_mesh_t *m, tmi_peer_t *p)
{
    tmi_in_t *in = &p->in;
    if (s_build_list(m, p) != 0) {
        return; /* out of memory: tried again on the next beat */
    }
    s_in_clear(in);
    in->dirty = false;
    in->acked = false;
    in->epoch++;
    /* argv: mesh-sub EPOCH "id id id..." ... (ids never hold a space) */
    size_t max_args = 3 + in->n_ids / 8;
    char **argv = calloc(max_args, sizeof *argv);
    char *text = malloc((size_t)in->n_ids * (TM_ID_MAX + 1) + 64);
    if (argv == NULL || text == NULL) {
        free(argv);
        free(text);
        in->dirty = true;
        return;
    }
    char *w = text;
    int argc = 0;
    argv[argc++] = "mesh-sub";
    argv[argc++] = w;
    w += sprintf(w, "%llu", (unsigned long long)in->epoch) + 1;
    size_t used = S_IDS_ARG;
    for (uint32_t i = 0; i < in->n_ids; i++) {
        size_t len = strlen(in->ids[i]);
        if (used + len + 1 > S_IDS_ARG) {
            if (argc > 2) {
                *w++ = '\0';
            }
            argv[argc++] = w;
            used = 0;
        } else {
            *w++ = ' ';
        }
        memcpy(w, in->ids[i], len);
        w += len;
        used += len + 1;
    }
    *w = '\0';
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = tm_console_req_encode((uint32_t)argc, (const char *const *)argv,
                                   &payload, &plen);
    in->req_seq = ++m->next_seq;
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REQ, in->req_seq,
                           payload, plen);
    }
    if (rc != 0) {
        in->dirty = true;
        tm_log(TM_LOG_WARN, "mesh: cannot subscribe to %s: %s", p->name,
               tm_err_str(rc));
    }
    free(payload);
    free(argv);
    free(text);
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
    snprintf(w->message, sizeof w->message, "%s", message);
    w->deadline = tm_time_now() + 10.0;
    m->n_settle++;
    tmi_sync_flush(m);
}

/* Answer the waiters: all when settled, else those past their time. */
static void s_answer_settled(tm_mesh_t *m)
{
    const tmi_peer_t *p = s_unsettled(m);
    double now = tm_time_now();
    for (size_t i = 0; i < m->n_settle;) {
        tmi_settle_t *w = &m->settle[i];
        if (p != NULL && now < w->deadline) {
            i++;
            continue;
        }
        if (p != NULL) {
            size_t n = strlen(w->message);
            snprintf(w->message + n, sizeof w->message - n,
                     " (node %s has not confirmed the values yet: they may "
                     "start late)",
                     p->name);
        }
        w->later->send(w->later, 0, w->message, false, w->body, w->len);
        w->later->free(w->later);
        free(w->body);
        m->settle[i] = m->settle[--m->n_settle];
    }
}

void tmi_sync_flush(tm_mesh_t *m)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
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
    tmi_sync_flush(m);
    if (m->sched != NULL) {
        tm_sched_kick(m->sched);
    }
}

/* Import values (n_values of p's list) into the proxies. */
static void s_import(tm_mesh_t *m, tmi_peer_t *p, const double *values)
{
    tmi_in_t *in = &p->in;
    for (uint32_t i = 0; i < in->n_ids; i++) {
        tm_rt_import(m->rt, in->ids[i], values + in->first[i]);
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
        if (rc == 0) {
            values = calloc(in->n_values + 1, sizeof *values);
            rc = values == NULL ? TM_ERR_NOMEM
                                : s_values(tm_wire_map_get(&obj, "values"),
                                           in->n_values, values);
        }
        msgpack_zone_destroy(&zone);
    }
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: %s refused the subscription: %.*s (%s)",
               p->name, (int)rep->message_len, rep->message, tm_err_str(rc));
        in->dirty = true; /* again on the next beat */
    } else {
        s_import(m, p, values);
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
    if (epoch != in->epoch || !in->acked || b.tick <= in->ack_tick ||
        b.tick < now || b.tick >= now + TMI_BATCH_WINDOW ||
        b.count != in->n_values) {
        in->stale++;
        tm_link_batch_free(&b);
        return;
    }
    tmi_held_t *h = &in->ring[b.tick % TMI_BATCH_WINDOW];
    free(h->values);
    h->values = b.values; /* ids are 0..n-1: the list's order */
    b.values = NULL;
    h->n = b.count;
    h->tick = b.tick;
    h->have = true;
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
    if (t <= in->ack_tick) {
        return true;
    }
    const tmi_held_t *h = &in->ring[t % TMI_BATCH_WINDOW];
    return h->have && h->tick == t;
}

bool tmi_sync_ready(void *arg, uint64_t next)
{
    tm_mesh_t *m = arg;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        if (!s_have(p, next - 1)) {
            m->sync_waits++;
            return false;
        }
        /* a live reader of ours must not fall a window behind */
        if (p->out.n_ids > 0 && p->state == TMI_ALIVE &&
            next >= p->tick + TMI_BATCH_WINDOW) {
            m->sync_waits++;
            return false;
        }
    }
    return true;
}

void tmi_sync_before(void *arg, uint64_t tick)
{
    tm_mesh_t *m = arg;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        tmi_held_t *h = &p->in.ring[tick % TMI_BATCH_WINDOW];
        if (!p->self && p->in.acked && tick > p->in.ack_tick && h->have &&
            h->tick == tick) {
            s_import(m, p, h->values);
            free(h->values);
            *h = (tmi_held_t){0};
        }
    }
}

/* ---- the source side ---------------------------------------------------- */

/* The outputs of p's list at the current tick, n_values doubles. */
static int s_collect(tm_mesh_t *m, const tmi_out_t *o, double **out,
                     uint32_t *n)
{
    size_t len = 0;
    for (uint32_t i = 0; i < o->n_ids; i++) {
        len += o->n_outs[i];
    }
    double *v = calloc(len + 1, sizeof *v);
    if (v == NULL) {
        return TM_ERR_NOMEM;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < o->n_ids; i++) {
        tm_rt_actor_t a;
        const double *outs = NULL;
        /* killed since (zeros: the reader drops its proxy when the
         * directory tells it), or another model now: its own outputs */
        if (tm_rt_get(m->rt, o->ids[i], &a) == 0 && !a.remote &&
            a.model->n_outputs == o->n_outs[i] &&
            tm_rt_outputs(m->rt, o->ids[i], &outs, NULL) == 0) {
            memcpy(v + at, outs, o->n_outs[i] * sizeof *v);
        }
        at += o->n_outs[i];
    }
    *out = v;
    *n = (uint32_t)len;
    return 0;
}

void tmi_sync_after(void *arg, uint64_t tick)
{
    tm_mesh_t *m = arg;
    bool reader = false;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        reader = reader || m->peers[i].in.n_ids > 0;
    }
    if (reader && tick >= m->beat_tick + TMI_BATCH_WINDOW / 4) {
        tmi_mesh_beat(m); /* sources wait for our tick beyond the window */
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self || p->out.n_ids == 0 || tick < p->out.from) {
            continue;
        }
        double *values = NULL;
        uint32_t n = 0;
        if (s_collect(m, &p->out, &values, &n) != 0) {
            p->out.dropped++;
            continue;
        }
        uint64_t *ids = malloc((n + 1) * sizeof *ids);
        for (uint32_t k = 0; ids != NULL && k < n; k++) {
            ids[k] = k;
        }
        tm_link_batch_t b = {
            .tick = tick, .count = n, .ids = ids, .values = values};
        uint8_t *payload = NULL;
        size_t len = 0;
        int rc = ids == NULL ? TM_ERR_NOMEM
                             : tm_link_batch_encode(&b, &payload, &len);
        if (rc == 0) {
            rc = tmi_mesh_send(m, p, true, TM_MSG_LINK_BATCH, p->out.epoch,
                               payload, len);
        }
        if (rc == 0) {
            p->out.sent++;
        } else {
            p->out.dropped++;
        }
        free(payload);
        free(ids);
        free(values);
    }
}

/* `mesh-sub EPOCH IDS...` from p: p's new list; answer with the tick and
 * the values at it. Body: {"tick": uint, "values": [f64, ...]}. */
int tmi_sync_subscribe(tm_mesh_t *m, tmi_peer_t *p, int argc,
                       const char *const *argv, tm_reply_t *rep)
{
    char *end = NULL;
    if (argc < 2) {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-sub EPOCH IDS...");
    }
    unsigned long long epoch = strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0') {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-sub: bad epoch");
    }
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        n += strlen(argv[i]) / 2 + 1;
    }
    char(*ids)[TM_ID_MAX + 1] = calloc(n + 1, sizeof *ids);
    if (ids == NULL) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    uint32_t k = 0;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        while (*s != '\0') {
            size_t len = strcspn(s, " ");
            if (len > 0 && len <= TM_ID_MAX && k < n) {
                memcpy(ids[k], s, len);
                ids[k++][len] = '\0';
            }
            s += len + (s[len] == ' ');
        }
    }
    uint32_t *n_outs = calloc(k + 1, sizeof *n_outs);
    if (n_outs == NULL) {
        free(ids);
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < k; i++) {
        tm_rt_actor_t a;
        if (tm_rt_get(m->rt, ids[i], &a) != 0 || a.remote) {
            free(ids);
            free(n_outs);
            return tm_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                                  "no actor %s on node %s", ids[i], m->name);
        }
        n_outs[i] = a.model->n_outputs;
    }
    free(p->out.ids);
    free(p->out.n_outs);
    p->out.ids = ids;
    p->out.n_outs = n_outs;
    p->out.n_ids = k;
    p->out.epoch = epoch;
    p->out.from = tm_rt_tick(m->rt) + 1;
    double *values = NULL;
    uint32_t nv = 0;
    if (s_collect(m, &p->out, &values, &nv) != 0) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "tick", tm_rt_tick(m->rt));
    tm_body_kv_array(b, "values");
    for (uint32_t i = 0; i < nv; i++) {
        tm_body_f64(b, values[i]);
    }
    tm_body_end(b);
    tm_body_end(b);
    free(values);
    tm_log(TM_LOG_INFO,
           "mesh: %s reads %u actors of this node (from tick %llu)", p->name, k,
           (unsigned long long)tm_rt_tick(m->rt));
    return tm_reply_done(rep);
}
