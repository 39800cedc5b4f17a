/* tm_mesh_sync_out: the source side of coupled dynamics across nodes
 * (see tm_mesh_sync.c): the lists of this node's actors that peers read
 * (`mesh-sub`, answered with the tick and their outputs), the link batch
 * made for each such peer after every tick, and the runtime handles both
 * sides keep of their lists.
 *
 * A batch leaves when the node stops stepping for anything (a peer's
 * batch, the real-time clock, the end of a run, a pause): the ticks a node
 * steps back to back (links with delays let it run ahead; the fast clock
 * and runs step without waiting) leave as one message of several frames,
 * one wake-up of the reader instead of one per tick. Nothing waits for
 * more than TMI_FRAMES_MAX ticks or S_QUEUE_BYTES, nor beyond the first
 * tick that ends S_QUEUE_S after it, and a node whose ticks take S_QUEUE_S
 * or more sends each at once. A node that cannot step has sent
 * everything, so a mesh never waits on batches held back: the
 * synchronisation rule is unchanged. */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_QUEUE_BYTES (4u << 20)
#define S_QUEUE_S     0.001 /* the oldest batch waits at most this long */

/* ---- handles ------------------------------------------------------------ */

/* The handles of ids[0..n) (TM_RT_NO_HANDLE for an id not here): those
 * kept when nothing was killed since, else taken again, one lookup per id
 * after a change instead of one per id and tick. NULL without memory. */
const uint32_t *tmi_sync_handles(tm_mesh_t *m, tmi_handles_t *hs,
                                 char (*ids)[TM_ID_MAX + 1], uint32_t n)
{
    uint64_t kills = tm_rt_kills(m->rt);
    if (hs->h != NULL && hs->n == n && hs->kills == kills) {
        return hs->h;
    }
    uint32_t *h = realloc(hs->h, ((size_t)n + 1) * sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        h[i] = tm_rt_handle(m->rt, ids[i]);
    }
    hs->h = h;
    hs->n = n;
    hs->kills = kills;
    return h;
}

void tmi_sync_handles_free(tmi_handles_t *hs)
{
    free(hs->h);
    *hs = (tmi_handles_t){0};
}

static void s_queue_clear(tmi_outq_t *q)
{
    for (uint32_t i = 0; i < q->n; i++) {
        free(q->frames[i]);
    }
    q->n = 0;
    q->bytes = 0;
}

void tmi_sync_out_free(tmi_out_t *o)
{
    o->dropped += o->q.n;
    s_queue_clear(&o->q);
    tmi_sync_handles_free(&o->hs);
    free(o->ids);
    free(o->n_outs);
    o->ids = NULL;
    o->n_outs = NULL;
    o->n_ids = 0;
}

void tmi_sync_stop_out(tmi_peer_t *p)
{
    tmi_sync_out_free(&p->out);
    p->out.epoch = 0; /* an append to the old list is refused */
}

/* ---- the source side ---------------------------------------------------- */

/* The outputs of p's list at the current tick, n_values doubles; hs: the
 * list's handles, or NULL to look the ids up. */
static int s_collect(tm_mesh_t *m, const tmi_out_t *o, const uint32_t *hs,
                     double **out, uint32_t *n)
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
    uint64_t tick = tm_rt_tick(m->rt);
    for (uint32_t i = 0; i < o->n_ids; i++) {
        const double *outs = NULL;
        const tm_model_t *model = NULL;
        int rc = hs != NULL && hs[i] != TM_RT_NO_HANDLE
                     ? tm_rt_outputs_at_h(m->rt, hs[i], tick, &outs, &model)
                     : tm_rt_outputs(m->rt, o->ids[i], &outs, &model);
        /* killed since (zeros: the reader drops its proxy when the
         * directory tells it), or another model now: its own outputs */
        if (rc == 0 && model->n_outputs == o->n_outs[i]) {
            memcpy(v + at, outs, o->n_outs[i] * sizeof *v);
        }
        at += o->n_outs[i];
    }
    *out = v;
    *n = (uint32_t)len;
    return 0;
}

/* Positions in p's list of the actors that are degraded now (*out, to
 * free; NULL and 0 when none or without memory). */
static uint32_t s_degraded(tm_mesh_t *m, const tmi_out_t *o, uint32_t **out)
{
    *out = NULL;
    if (!tm_rt_any_degraded(m->rt)) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < o->n_ids; i++) {
        if (!tm_rt_degraded(m->rt, o->ids[i])) {
            continue;
        }
        if (*out == NULL) {
            *out = malloc((size_t)o->n_ids * sizeof **out);
            if (*out == NULL) {
                return 0;
            }
        }
        (*out)[n++] = i;
    }
    return n;
}

/* ---- batches not sent yet ------------------------------------------------ */

void tmi_sync_send_queued(tmi_peer_t *p)
{
    tmi_outq_t *q = &p->out.q;
    if (q->n == 0) {
        return;
    }
    /* the high-water mark refuses a message at its first frame; once that
     * is taken the others follow, whatever a later send says (stopping
     * half way would leave the socket's next message glued to this one) */
    bool sent = p->data != NULL;
    for (uint32_t i = 0; sent && i < q->n; i++) {
        int more = i + 1 < q->n ? ZMQ_SNDMORE : 0;
        int rc =
            zmq_send(p->data, q->frames[i], q->lens[i], ZMQ_DONTWAIT | more);
        sent = rc >= 0 || i > 0;
    }
    if (sent) {
        p->out.sent += q->n;
        p->out.bursts++;
    } else {
        p->out.dropped += q->n;
    }
    s_queue_clear(q);
}

void tmi_sync_send_idle(tm_mesh_t *m)
{
    if (m->sched != NULL && tm_sched_stepping(m->sched)) {
        return; /* the next ticks' batches go with these */
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_sync_send_queued(&m->peers[i]);
    }
}

/* Queue frame (taken over) for p; sent at once when the queue is full or
 * its oldest has waited long enough (so it never holds more than
 * TMI_FRAMES_MAX). */
static void s_queue(tm_mesh_t *m, tmi_peer_t *p, uint8_t *frame, size_t len)
{
    tmi_outq_t *q = &p->out.q;
    double now = tm_time_now();
    if (q->n == 0) {
        q->first_at = now;
    }
    q->frames[q->n] = frame;
    q->lens[q->n++] = len;
    q->bytes += len;
    /* a node whose ticks take S_QUEUE_S or more sends each at once */
    if (q->n >= TMI_FRAMES_MAX || q->bytes >= S_QUEUE_BYTES ||
        now - q->first_at >= S_QUEUE_S ||
        (m->sched != NULL && tm_sched_step_us(m->sched) >= S_QUEUE_S * 1e6)) {
        tmi_sync_send_queued(p);
    }
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
        const uint32_t *hs =
            tmi_sync_handles(m, &p->out.hs, p->out.ids, p->out.n_ids);
        if (s_collect(m, &p->out, hs, &values, &n) != 0) {
            p->out.dropped++;
            continue;
        }
        uint32_t *deg = NULL;
        uint32_t n_deg = s_degraded(m, &p->out, &deg);
        /* no ids: the values are in the order of the reader's list */
        tm_link_batch_t b = {.tick = tick,
                             .count = n,
                             .values = values,
                             .n_degraded = n_deg,
                             .degraded = deg};
        uint8_t *payload = NULL;
        uint8_t *frame = NULL;
        size_t len = 0;
        size_t flen = 0;
        int rc = tm_link_batch_encode(&b, &payload, &len);
        if (rc == 0) {
            rc = tmi_mesh_frame(m, p, TM_MSG_LINK_BATCH, p->out.epoch, payload,
                                len, &frame, &flen);
        }
        if (rc == 0) {
            s_queue(m, p, frame, flen); /* counted when sent */
        } else {
            p->out.dropped++;
        }
        free(payload);
        free(values);
        free(deg);
    }
}

/* The peer's list becomes ids (or ids are appended to it); takes them
 * over when replacing. */
static int s_out_take(tmi_out_t *o, bool append, char (*ids)[TM_ID_MAX + 1],
                      uint32_t *n_outs, uint32_t k)
{
    tmi_sync_handles_free(&o->hs); /* taken again */
    if (!append) {
        free(o->ids);
        free(o->n_outs);
        o->ids = ids;
        o->n_outs = n_outs;
        o->n_ids = k;
        return 0;
    }
    uint32_t total = o->n_ids + k;
    void *x = realloc(o->ids, (total + 1) * sizeof *o->ids);
    if (x == NULL) {
        return TM_ERR_NOMEM;
    }
    o->ids = x;
    void *y = realloc(o->n_outs, (total + 1) * sizeof *o->n_outs);
    if (y == NULL) {
        return TM_ERR_NOMEM;
    }
    o->n_outs = y;
    memcpy(o->ids + o->n_ids, ids, k * sizeof *ids);
    memcpy(o->n_outs + o->n_ids, n_outs, k * sizeof *n_outs);
    o->n_ids = total;
    free(ids);
    free(n_outs);
    return 0;
}

/* The ids in argv[from..argc) ("id id ..." each); *n of them. */
static char (*s_parse_ids(int argc, const char *const *argv, int from,
                          uint32_t *n))[TM_ID_MAX + 1]
{
    size_t cap = 1;
    for (int i = from; i < argc; i++) {
        cap += strlen(argv[i]) / 2 + 1;
    }
    char(*ids)[TM_ID_MAX + 1] = calloc(cap, sizeof *ids);
    *n = 0;
    for (int i = from; ids != NULL && i < argc; i++) {
        const char *s = argv[i];
        while (*s != '\0') {
            size_t len = strcspn(s, " ");
            if (len > 0 && len <= TM_ID_MAX && *n < cap) {
                memcpy(ids[*n], s, len);
                ids[(*n)++][len] = '\0';
            }
            s += len + (s[len] == ' ');
        }
    }
    return ids;
}

/* `mesh-sub EPOCH BASE IDS...` from p: its list of this node's actors it
 * reads (BASE 0), or ids appended to its list of epoch BASE. Answer: the
 * tick and the outputs of the ids given, body {"tick", "values"}; batches
 * of the new list follow from the next tick. */
int tmi_sync_subscribe(tm_mesh_t *m, tmi_peer_t *p, int argc,
                       const char *const *argv, tm_reply_t *rep)
{
    uint64_t epoch = 0, base = 0;
    char *end = NULL;
    if (argc < 3) {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-sub EPOCH BASE IDS...");
    }
    epoch = strtoull(argv[1], &end, 10);
    bool ok = end != argv[1] && *end == '\0';
    base = strtoull(argv[2], &end, 10);
    if (!ok || end == argv[2] || *end != '\0' || epoch == 0) {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-sub: bad epoch");
    }
    if (base != 0 && base != p->out.epoch) {
        return tm_reply_error(rep, TM_ERR_BUSY,
                              "mesh-sub: list %llu is not the current one "
                              "(%llu): send the whole list",
                              (unsigned long long)base,
                              (unsigned long long)p->out.epoch);
    }
    uint32_t k = 0;
    char(*ids)[TM_ID_MAX + 1] = s_parse_ids(argc, argv, 3, &k);
    uint32_t *n_outs = calloc(k + 1, sizeof *n_outs);
    if (ids == NULL || n_outs == NULL) {
        free(ids);
        free(n_outs);
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < k; i++) {
        tm_rt_actor_t a;
        if (tm_rt_get(m->rt, ids[i], &a) != 0 || a.remote) {
            int rc = tm_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                                    "no actor %s on node %s", ids[i], m->name);
            free(ids);
            free(n_outs);
            return rc;
        }
        n_outs[i] = a.model->n_outputs;
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < k; i++) {
        total += n_outs[i];
    }
    for (uint32_t i = 0; base != 0 && i < p->out.n_ids; i++) {
        total += p->out.n_outs[i];
    }
    if (total > TMI_BATCH_VALUES_MAX) {
        free(ids);
        free(n_outs);
        return tm_reply_error(rep, TM_ERR_TOO_BIG,
                              "node %s would send %llu values per tick to "
                              "%s, more than one batch carries (%u): link "
                              "fewer of its actors into that node",
                              m->name, (unsigned long long)total, p->name,
                              TMI_BATCH_VALUES_MAX);
    }
    tmi_out_t given = {.ids = ids, .n_outs = n_outs, .n_ids = k};
    double *values = NULL;
    uint32_t nv = 0;
    int rc = s_collect(m, &given, NULL, &values, &nv);
    if (rc == 0) {
        rc = s_out_take(&p->out, base != 0, ids, n_outs, k);
    }
    if (rc != 0) {
        free(ids);
        free(n_outs);
        free(values);
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    p->out.epoch = epoch;
    p->out.from = tm_rt_tick(m->rt) + 1;
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
    tm_log(TM_LOG_DEBUG,
           "mesh: %s reads %u actors of this node (%u new, from tick %llu)",
           p->name, p->out.n_ids, k, (unsigned long long)tm_rt_tick(m->rt));
    return tm_reply_done(rep);
}
