/* tm_mesh_move: actors that move between nodes (`migrate ID NODE`,
 * `drain NODE`), run by the actors' node.
 *
 * 1. Align. The node pauses every member's clock and runs the mesh to
 *    the highest tick T (the `run` mechanism), then asks every member for
 *    its tick and clock (`mesh-tick`) until all say T, paused, no run: no
 *    node steps while actors move, so no value of a moving actor can be
 *    read from the wrong place.
 * 2. Adopt. Per destination, up to S_BATCH actors at a time: their
 *    records at T with an ownership epoch one higher, the links into them
 *    and their sources' past outputs (tm_move_wire) go to the new node as
 *    FILE_CHUNK messages, then `mesh-adopt UPLOAD`. The new node creates
 *    them (tm_mut_move_in) and answers once its subscriptions for their
 *    sources are confirmed. Only then does this node let them go
 *    (tm_mut_move_out): an actor that links here read stays a proxy.
 * 3. Announce. Every other member is told the new owners (`mesh-moved
 *    NODE ID:EPOCH...`) and answers once it reads them from there.
 * 4. Resume: the clocks go back to what they were.
 *
 * Nothing steps between 1 and 4, so the mesh after N more ticks has the
 * digest of the same run without the move. The epoch settles any order in
 * which the directory messages arrive (tm_dir_put), and fences a node that
 * missed the move (tm_mesh_dir.c). */
#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_persist.h"
#include "tm_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_POLL_S      0.02
#define S_ALIGN_S     30.0 /* to reach one tick */
#define S_ADOPT_S     60.0 /* for a batch to be adopted */
#define S_ANNOUNCE_S  15.0 /* for the others to read from the new owners */
#define S_BATCH       1024u
#define S_IDS_PER_REQ 200u

typedef enum { S_ALIGN, S_ASK, S_ADOPT, S_ANNOUNCE, S_SETTLE } s_phase_t;

struct tmi_move {
    tm_mesh_t *m;
    tm_console_later_t *later;
    const char *what; /* "migrate" or "drain" */
    char (*ids)[TM_ID_MAX + 1];
    uint32_t *dest;  /* peer number per id */
    uint32_t *epoch; /* its epoch after the move */
    bool *moved;
    size_t n, next, n_moved;
    s_phase_t phase;
    tm_clock_t mode; /* the clock before */
    uint64_t target;
    double deadline;
    uint64_t seqs[TMI_PEERS_MAX];  /* mesh-tick asked, or the last mesh-moved */
    uint64_t first[TMI_PEERS_MAX]; /* the first mesh-moved sent */
    uint32_t waiting;
    uint64_t ask_max; /* the highest tick members answered */
    bool ask_ok;
    uint64_t adopt_seq;
    size_t batch_from, batch_n;
    int status;
    char why[TM_CMD_MSG_MAX];
    ev_timer timer;
};

/* ---- helpers ------------------------------------------------------------ */

static bool s_alive(const tmi_peer_t *p)
{
    return !p->self && p->name[0] != '\0' && p->state == TMI_ALIVE;
}

static void s_fail(tmi_move_t *mv, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_fail(tmi_move_t *mv, int status, const char *fmt, ...)
{
    if (mv->status != 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mv->why, sizeof mv->why, fmt, ap);
    va_end(ap);
    mv->status = status;
}

/* Send argv to p as a control request; its seq (0 when not sent). */
static uint64_t s_request(tm_mesh_t *m, tmi_peer_t *p, bool data, int argc,
                          const char *const *argv)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    uint64_t seq = ++m->next_seq;
    int rc = tm_console_req_encode((uint32_t)argc, argv, &payload, &len);
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, data, TM_MSG_CONSOLE_REQ, seq, payload, len);
    }
    free(payload);
    return rc == 0 ? seq : 0;
}

/* ---- 1. align ----------------------------------------------------------- */

static void s_run_to(tmi_move_t *mv, uint64_t target)
{
    tm_mesh_t *m = mv->m;
    char arg[32];
    mv->target = target;
    snprintf(arg, sizeof arg, "%llu", (unsigned long long)target);
    const char *argv[] = {"mesh-run", arg};
    tm_mesh_broadcast(m, 2, argv);
    tm_sched_run_to(m->sched, target);
    mv->phase = S_ALIGN;
}

/* Ask every member for its tick and clock. */
static void s_ask(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    const char *argv[] = {"mesh-tick"};
    mv->waiting = 0;
    mv->ask_max = mv->target;
    mv->ask_ok = true;
    memset(mv->seqs, 0, sizeof mv->seqs);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (s_alive(&m->peers[i])) {
            mv->seqs[i] = s_request(m, &m->peers[i], false, 1, argv);
            mv->waiting += mv->seqs[i] != 0;
            mv->ask_ok &= mv->seqs[i] != 0;
        }
    }
    mv->phase = S_ASK;
}

static void s_align(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    tm_sched_run_t r;
    tm_sched_run_info(m->sched, &r);
    if (r.active) {
        return;
    }
    uint64_t max = tm_rt_tick(m->rt);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (s_alive(p) && p->tick > max) {
            max = p->tick;
        }
    }
    if (max > mv->target) {
        s_run_to(mv, max); /* a member was ahead: all to its tick */
    } else if (tm_rt_tick(m->rt) == mv->target) {
        s_ask(mv);
    }
}

void tmi_move_tick_request(tm_mesh_t *m, tm_reply_t *rep)
{
    tm_sched_run_t r = {0};
    if (m->sched != NULL) {
        tm_sched_run_info(m->sched, &r);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "tick", tm_rt_tick(m->rt));
    tm_body_kv_bool(b, "paused",
                    m->sched != NULL &&
                        tm_sched_mode(m->sched) == TM_CLOCK_PAUSED);
    tm_body_kv_bool(b, "running", r.active);
    tm_body_end(b);
    tm_reply_done(rep);
}

static void s_asked(tmi_move_t *mv, const tm_console_rep_t *rep)
{
    msgpack_zone zone;
    msgpack_object obj;
    uint64_t tick = 0;
    int paused = 0, running = 1;
    int rc = rep->status;
    if (rc == 0) {
        msgpack_zone_init(&zone, 256);
        rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
        rc = rc ? rc : tm_wire_get_u64(&obj, "tick", &tick);
        rc = rc ? rc : tm_wire_get_bool(&obj, "paused", &paused);
        rc = rc ? rc : tm_wire_get_bool(&obj, "running", &running);
        msgpack_zone_destroy(&zone);
    }
    mv->ask_ok &= rc == 0 && tick == mv->target && paused && !running;
    if (rc == 0 && tick > mv->ask_max) {
        mv->ask_max = tick;
    }
}

/* ---- 2. adopt ----------------------------------------------------------- */

typedef struct {
    tm_move_t pkg;
    size_t cap_sources;
    uint64_t tick;
    tm_rt_t *rt;
    const char *dst; /* the actor whose links are read */
    tm_move_actor_t *actor;
    size_t cap_links;
    int rc;
} s_pack_t;

/* The outputs of src that links of up to `delay` ticks read: the last
 * min(delay, window) ticks, oldest first. */
static int s_fill_rows(s_pack_t *k, tm_move_source_t *s,
                       const tm_rt_actor_t *src, uint32_t delay)
{
    uint32_t rows = delay < src->history ? delay : src->history;
    free(s->values);
    s->n_rows = 0;
    s->width = src->model->n_outputs;
    s->values = calloc((size_t)rows * s->width + 1, sizeof(double));
    if (s->values == NULL) {
        return TM_ERR_NOMEM;
    }
    uint64_t first = k->tick - rows + 1;
    for (uint32_t r = 0; r < rows; r++) {
        const double *y = NULL;
        if (tm_rt_outputs_at(k->rt, src->id, first + r, &y, NULL) != 0) {
            return 0; /* only the rows that are kept */
        }
        memcpy(s->values + (size_t)r * s->width, y, s->width * sizeof(double));
        s->n_rows = r + 1;
        s->first_tick = first;
    }
    return 0;
}

/* A source of the package (once) with the outputs its links read. */
static int s_pack_source(s_pack_t *k, const tm_rt_actor_t *src, uint32_t delay)
{
    for (uint32_t i = 0; i < k->pkg.n_sources; i++) {
        tm_move_source_t *s = &k->pkg.sources[i];
        if (strcmp(s->id, src->id) == 0) {
            return s->n_rows >= delay ? 0 : s_fill_rows(k, s, src, delay);
        }
    }
    if (k->pkg.n_sources == k->cap_sources) {
        size_t cap = k->cap_sources ? 2 * k->cap_sources : 16;
        void *v = cap <= TM_MOVE_SOURCES_MAX
                      ? realloc(k->pkg.sources, cap * sizeof *k->pkg.sources)
                      : NULL;
        if (v == NULL) {
            return cap <= TM_MOVE_SOURCES_MAX ? TM_ERR_NOMEM : TM_ERR_TOO_BIG;
        }
        k->pkg.sources = v;
        k->cap_sources = cap;
    }
    tm_move_source_t *s = &k->pkg.sources[k->pkg.n_sources++];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", src->id);
    snprintf(s->model, sizeof s->model, "%s@%s", src->model->family,
             src->model->version);
    snprintf(s->tier, sizeof s->tier, "%s",
             tm_fidelity_name(src->model->fidelity));
    return s_fill_rows(k, s, src, delay);
}

static int s_pack_link(const tm_rt_link_t *l, void *arg)
{
    s_pack_t *k = arg;
    tm_move_actor_t *a = k->actor;
    tm_rt_actor_t src;
    if (strcmp(l->dst, k->dst) != 0 || tm_rt_get(k->rt, l->src, &src) != 0) {
        return 0;
    }
    if (a->n_links == k->cap_links) {
        size_t cap = k->cap_links ? 2 * k->cap_links : 8;
        void *v = cap <= TM_MOVE_LINKS_MAX
                      ? realloc(a->links, cap * sizeof *a->links)
                      : NULL;
        if (v == NULL) {
            k->rc = cap <= TM_MOVE_LINKS_MAX ? TM_ERR_NOMEM : TM_ERR_TOO_BIG;
            return 1;
        }
        a->links = v;
        k->cap_links = cap;
    }
    tm_move_link_t *ml = &a->links[a->n_links++];
    memset(ml, 0, sizeof *ml);
    snprintf(ml->src, sizeof ml->src, "%s", l->src);
    snprintf(ml->output, sizeof ml->output, "%s", l->output);
    snprintf(ml->input, sizeof ml->input, "%s", l->input);
    ml->delay = l->delay;
    snprintf(ml->model, sizeof ml->model, "%s@%s", src.model->family,
             src.model->version);
    snprintf(ml->tier, sizeof ml->tier, "%s",
             tm_fidelity_name(src.model->fidelity));
    k->rc = s_pack_source(k, &src, l->delay);
    return k->rc != 0;
}

static void s_pack_free(s_pack_t *k)
{
    for (uint32_t i = 0; k->pkg.actors != NULL && i < k->pkg.n_actors; i++) {
        free(k->pkg.actors[i].links);
        free((void *)k->pkg.actors[i].record);
    }
    for (uint32_t i = 0; i < k->pkg.n_sources; i++) {
        free(k->pkg.sources[i].values);
    }
    free(k->pkg.actors);
    free(k->pkg.sources);
}

/* One actor into the package: its record with the next epoch, its links. */
static int s_pack_actor(s_pack_t *k, tmi_move_t *mv, size_t i,
                        tm_wire_buf_t *buf)
{
    tm_rt_actor_t a;
    if (tm_rt_get(k->rt, mv->ids[i], &a) != 0 || a.remote) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tm_move_actor_t *ma = &k->pkg.actors[k->pkg.n_actors++];
    memset(ma, 0, sizeof *ma);
    snprintf(ma->id, sizeof ma->id, "%s", a.id);
    mv->epoch[i] = a.epoch + 1;
    tm_wire_buf_clear(buf);
    int rc = tm_persist_actor_pack(k->rt, &a, mv->epoch[i], buf);
    uint8_t *rec = rc == 0 ? malloc(buf->sbuf.size) : NULL;
    if (rec == NULL) {
        return TM_ERR_NOMEM;
    }
    memcpy(rec, buf->sbuf.data, buf->sbuf.size);
    ma->record = rec;
    ma->record_len = buf->sbuf.size;
    k->dst = a.id;
    k->actor = ma;
    k->cap_links = 0;
    tm_rt_foreach_link_of(k->rt, a.id, s_pack_link, k);
    return k->rc;
}

/* Send the next batch (ids of one destination) to its node. */
static void s_adopt_next(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    size_t from = mv->next, n = 0;
    while (from + n < mv->n && n < S_BATCH &&
           mv->dest[from + n] == mv->dest[from]) {
        n++;
    }
    tmi_peer_t *p = &m->peers[mv->dest[from]];
    s_pack_t k = {.tick = tm_rt_tick(m->rt), .rt = m->rt};
    tm_wire_buf_t buf;
    tm_wire_buf_init(&buf);
    snprintf(k.pkg.from, sizeof k.pkg.from, "%s", m->name);
    k.pkg.tick = k.tick;
    k.pkg.actors = calloc(n + 1, sizeof *k.pkg.actors);
    int rc = k.pkg.actors == NULL ? TM_ERR_NOMEM : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_pack_actor(&k, mv, from + i, &buf);
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = rc ? rc : tm_move_encode(&k.pkg, &bytes, &len);
    s_pack_free(&k);
    tm_wire_buf_destroy(&buf);
    tm_file_chunk_t c = {.upload = ++m->next_seq};
    snprintf(c.file, sizeof c.file, "move-%llu", (unsigned long long)c.upload);
    for (size_t off = 0; rc == 0;) {
        uint8_t *payload = NULL;
        size_t plen = 0;
        c.data = bytes + off;
        c.len = len - off > TM_FILE_CHUNK_DATA_MAX ? TM_FILE_CHUNK_DATA_MAX
                                                   : len - off;
        c.final = off + c.len == len;
        rc = tm_file_chunk_encode(&c, &payload, &plen);
        rc =
            rc ? rc
               : tmi_mesh_send(m, p, true, TM_MSG_FILE_CHUNK, 0, payload, plen);
        free(payload);
        off += c.len;
        c.index++;
        if (c.final) {
            break;
        }
    }
    free(bytes);
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)c.upload);
    const char *argv[] = {"mesh-adopt", id};
    mv->adopt_seq = rc == 0 ? s_request(m, p, true, 2, argv) : 0;
    if (mv->adopt_seq == 0) {
        s_fail(mv, rc ? rc : TM_ERR_IO, "cannot send actors to %s: %s", p->name,
               tm_err_str(rc ? rc : TM_ERR_IO));
        return;
    }
    mv->batch_from = from;
    mv->batch_n = n;
    mv->phase = S_ADOPT;
    mv->deadline = tm_time_now() + S_ADOPT_S;
}

/* Outgoing lists that hold a moved actor stop until their reader
 * subscribes again: this node no longer has its values. */
static void s_stop_lists(tm_mesh_t *m, const tmi_move_t *mv)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_out_t *o = &m->peers[i].out;
        for (uint32_t j = 0; j < o->n_ids; j++) {
            bool hit = false;
            for (size_t k = 0; k < mv->batch_n && !hit; k++) {
                hit = strcmp(o->ids[j], mv->ids[mv->batch_from + k]) == 0;
            }
            if (hit) {
                tmi_sync_stop_out(&m->peers[i]);
                break;
            }
        }
    }
}

/* The new node has the batch: let it go here. */
static void s_adopted(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    tmi_peer_t *p = &m->peers[mv->dest[mv->batch_from]];
    char reason[160];
    char why[TM_MUT_WHY_MAX];
    snprintf(reason, sizeof reason, "moved to node %.64s at tick %llu (%s)",
             p->name, (unsigned long long)mv->target, mv->what);
    s_stop_lists(m, mv);
    /* their directory entries, while their models are known here */
    tm_dir_ent_t *ents = calloc(mv->batch_n + 1, sizeof *ents);
    for (size_t i = 0; ents != NULL && i < mv->batch_n; i++) {
        tm_dir_ent_t *e = &ents[i];
        tm_rt_actor_t a;
        size_t k = mv->batch_from + i;
        snprintf(e->id, sizeof e->id, "%s", mv->ids[k]);
        e->owner = mv->dest[k];
        e->epoch = mv->epoch[k];
        if (tm_rt_get(m->rt, mv->ids[k], &a) == 0) {
            snprintf(e->model, sizeof e->model, "%s@%s", a.model->family,
                     a.model->version);
            snprintf(e->tier, sizeof e->tier, "%s",
                     tm_fidelity_name(a.model->fidelity));
        }
    }
    int rc = tm_mut_move_out(m->mut, mv->ids + mv->batch_from, mv->batch_n,
                             "migrate-out", reason, why);
    if (rc != 0) {
        /* the other node runs them now: this node must not (a restart
         * would fence its copies, as their epoch is lower) */
        tm_log(TM_LOG_ERROR,
               "mesh: %zu actors moved to %s but could not be removed here: "
               "%s",
               mv->batch_n, p->name, why);
        s_fail(mv, rc,
               "the actors run on %s now, but this node could not "
               "let them go: %s",
               p->name, why);
    }
    for (size_t i = 0; i < mv->batch_n; i++) {
        if (ents != NULL) { /* else its new node's directory tells */
            tm_dir_put(&m->dir, &ents[i], NULL);
        }
        mv->moved[mv->batch_from + i] = true;
        mv->n_moved++;
    }
    free(ents);
    tmi_sync_dirty(m, p); /* proxies here read the moved actors from p */
    tm_log(TM_LOG_INFO, "mesh: %zu actors moved to %s at tick %llu",
           mv->batch_n, p->name, (unsigned long long)mv->target);
    mv->next = mv->batch_from + mv->batch_n;
}

/* ---- 3. announce -------------------------------------------------------- */

static void s_announce(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    mv->waiting = 0;
    memset(mv->seqs, 0, sizeof mv->seqs);
    memset(mv->first, 0, sizeof mv->first);
    const char **argv = calloc(S_IDS_PER_REQ + 2, sizeof *argv);
    char(*args)[TM_ID_MAX + 16] = calloc(S_IDS_PER_REQ, sizeof *args);
    for (size_t i = 0; argv != NULL && args != NULL && i < mv->n;) {
        if (!mv->moved[i]) {
            i++;
            continue;
        }
        uint32_t d = mv->dest[i];
        int argc = 0;
        argv[argc++] = "mesh-moved";
        argv[argc++] = m->peers[d].name;
        while (i < mv->n && mv->dest[i] == d && argc < (int)S_IDS_PER_REQ) {
            if (mv->moved[i]) {
                snprintf(args[argc - 2], sizeof args[0], "%s:%u", mv->ids[i],
                         mv->epoch[i]);
                argv[argc] = args[argc - 2];
                argc++;
            }
            i++;
        }
        for (uint32_t j = 0; j < m->n_peers; j++) {
            if (j != d && s_alive(&m->peers[j])) {
                uint64_t seq = s_request(m, &m->peers[j], false, argc, argv);
                mv->waiting += seq != 0;
                if (seq != 0 && mv->first[j] == 0) {
                    mv->first[j] = seq;
                }
                mv->seqs[j] = seq != 0 ? seq : mv->seqs[j];
            }
        }
    }
    free(argv);
    free(args);
    mv->phase = S_ANNOUNCE;
    mv->deadline = tm_time_now() + S_ANNOUNCE_S;
}

/* ---- the end ------------------------------------------------------------ */

static void s_release(tmi_move_t *mv)
{
    free(mv->ids);
    free(mv->dest);
    free(mv->epoch);
    free(mv->moved);
    free(mv);
}

static void s_finish(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    ev_timer_stop(m->loop, &mv->timer);
    if (mv->mode != TM_CLOCK_PAUSED) {
        tm_sched_set_mode(m->sched, mv->mode);
        tm_mesh_clock(m, mv->mode);
    }
    char msg[TM_CMD_MSG_MAX];
    if (mv->status == 0) {
        snprintf(msg, sizeof msg,
                 "moved %zu actor%s at tick %llu; clock %s again", mv->n_moved,
                 mv->n_moved == 1 ? "" : "s", (unsigned long long)mv->target,
                 tm_clock_name(mv->mode));
    } else {
        snprintf(msg, sizeof msg, "%s%s; %zu of %zu actors moved", mv->why,
                 mv->n_moved > 0 ? " (those moved run on their new node)" : "",
                 mv->n_moved, mv->n);
        tm_log(TM_LOG_WARN, "mesh: %s: %s", mv->what, msg);
    }
    mv->later->send(mv->later, mv->status, msg, false, NULL, 0);
    mv->later->free(mv->later);
    m->move = NULL;
    s_release(mv);
}

/* After a failure: announce what moved, then end. */
static void s_wind_up(tmi_move_t *mv)
{
    if (mv->n_moved > 0 && mv->phase < S_ANNOUNCE) {
        s_announce(mv);
        return;
    }
    s_finish(mv);
}

static void s_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tmi_move_t *mv = w->data;
    tm_mesh_t *m = mv->m;
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers && mv->phase < S_ANNOUNCE; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && p->state != TMI_ALIVE) {
            s_fail(mv, TM_ERR_NODE_DOWN, "node %s became %s during the move",
                   p->name, p->state == TMI_DEAD ? "dead" : "suspect");
        }
    }
    if (mv->status == 0 && now > mv->deadline && mv->phase < S_ANNOUNCE) {
        s_fail(mv, TM_ERR_TIMEOUT, "%s",
               mv->phase == S_ADOPT ? "no answer from the new node"
                                    : "the mesh did not stop on one "
                                      "tick");
    }
    if (mv->status != 0 && mv->phase != S_ANNOUNCE && mv->phase != S_SETTLE) {
        s_wind_up(mv);
        return;
    }
    switch (mv->phase) {
    case S_ALIGN:
        s_align(mv);
        break;
    case S_ASK:
    case S_ADOPT:
        break; /* answers drive them */
    case S_ANNOUNCE:
        if (mv->waiting == 0 || now > mv->deadline) {
            mv->phase = S_SETTLE;
            mv->deadline = now + S_ANNOUNCE_S;
        }
        break;
    case S_SETTLE:
        if (!tm_mesh_unsettled(m) || now > mv->deadline) {
            s_finish(mv);
        }
        break;
    }
}

bool tmi_move_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep)
{
    tmi_move_t *mv = m->move;
    uint32_t i = tmi_mesh_index(m, p);
    if (mv == NULL || seq == 0) {
        return false;
    }
    if (mv->phase == S_ADOPT && seq == mv->adopt_seq) {
        mv->adopt_seq = 0;
        if (rep->status != 0) {
            s_fail(mv, rep->status, "node %s refused the actors: %.*s", p->name,
                   (int)rep->message_len, rep->message);
            return true;
        }
        s_adopted(mv);
        if (mv->status == 0 && mv->next < mv->n) {
            s_adopt_next(mv);
        } else if (mv->status == 0) {
            s_announce(mv);
        }
        return true;
    }
    bool asked = mv->phase == S_ASK && mv->seqs[i] == seq;
    bool told = mv->phase == S_ANNOUNCE && mv->first[i] != 0 &&
                seq >= mv->first[i] && seq <= mv->seqs[i];
    if (!asked && !told) {
        return false;
    }
    if (asked) {
        mv->seqs[i] = 0;
    }
    mv->waiting -= mv->waiting > 0;
    if (mv->phase == S_ASK) {
        s_asked(mv, rep);
        if (mv->waiting == 0 && mv->ask_ok) {
            s_adopt_next(mv);
        } else if (mv->waiting == 0) {
            s_run_to(mv, mv->ask_max); /* not there yet: again */
        }
    } else if (rep->status != 0) {
        tm_log(TM_LOG_WARN, "mesh: %s did not take the move in: %.*s", p->name,
               (int)rep->message_len, rep->message);
    }
    return true;
}

/* ---- the start ---------------------------------------------------------- */

static int s_check(tm_mesh_t *m, char *why, size_t cap)
{
    tm_sched_run_t r;
    if (m->move != NULL) {
        snprintf(why, cap, "a migration is in progress on this node");
        return TM_ERR_BUSY;
    }
    if (m->job.phase != TMI_PLAN_IDLE || m->held.used) {
        snprintf(why, cap, "a plant file is being applied");
        return TM_ERR_BUSY;
    }
    if (m->sched == NULL || m->mut == NULL) {
        snprintf(why, cap, "this node has no clock");
        return TM_ERR_UNSUPPORTED;
    }
    tm_sched_run_info(m->sched, &r);
    if (r.active) {
        snprintf(why, cap,
                 "a run is in progress; wait for it, or change the clock");
        return TM_ERR_BUSY;
    }
    return tmi_plan_all_alive(m, "moving actors needs", why, cap);
}

/* ids sorted by destination, so that a batch goes to one node. */
static tmi_move_t *s_new(tm_mesh_t *m, size_t n)
{
    tmi_move_t *mv = calloc(1, sizeof *mv);
    if (mv == NULL) {
        return NULL;
    }
    mv->ids = calloc(n + 1, sizeof *mv->ids);
    mv->dest = calloc(n + 1, sizeof *mv->dest);
    mv->epoch = calloc(n + 1, sizeof *mv->epoch);
    mv->moved = calloc(n + 1, sizeof *mv->moved);
    if (mv->ids == NULL || mv->dest == NULL || mv->epoch == NULL ||
        mv->moved == NULL) {
        s_release(mv);
        return NULL;
    }
    mv->m = m;
    return mv;
}

static void s_begin(tm_mesh_t *m, tmi_move_t *mv, tm_console_later_t *later,
                    const char *what)
{
    mv->later = later;
    mv->what = what;
    mv->mode = tm_sched_mode(m->sched);
    mv->deadline = tm_time_now() + S_ALIGN_S;
    m->move = mv;
    tm_sched_set_mode(m->sched, TM_CLOCK_PAUSED);
    tm_mesh_clock(m, TM_CLOCK_PAUSED);
    s_run_to(mv, tmi_ctl_max_tick(m));
    ev_timer_init(&mv->timer, s_poll, S_POLL_S, S_POLL_S);
    mv->timer.data = mv;
    ev_timer_start(m->loop, &mv->timer);
    tm_log(TM_LOG_INFO,
           "mesh: %s: moving %zu actors; the mesh pauses at "
           "tick %llu",
           what, mv->n, (unsigned long long)mv->target);
}

int tm_mesh_migrate(tm_mesh_t *m, const char *id, const char *node,
                    tm_console_later_t *later, char *why, size_t cap)
{
    tm_rt_actor_t a;
    tm_rt_trial_t t;
    int rc = s_check(m, why, cap);
    if (rc != 0) {
        return rc;
    }
    if (tm_rt_get(m->rt, id, &a) != 0 || a.remote) {
        snprintf(why, cap, "unknown actor '%s'", id);
        return TM_ERR_UNKNOWN_ACTOR;
    }
    if (strcmp(node, m->name) == 0) {
        snprintf(why, cap, "actor %s already runs on node %s", id, node);
        return TM_ERR_EXISTS;
    }
    tmi_peer_t *p = tmi_mesh_peer(m, node);
    if (p == NULL || p->self) {
        snprintf(why, cap, "unknown node '%s' (see `nodes`)", node);
        return TM_ERR_UNKNOWN_NODE;
    }
    if (tm_rt_trial_get(m->rt, id, &t) == 0) {
        snprintf(why, cap,
                 "actor %s is in a rollout's trial; wait for the rollout "
                 "(rollout status)",
                 id);
        return TM_ERR_BUSY;
    }
    tmi_move_t *mv = s_new(m, 1);
    if (mv == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    snprintf(mv->ids[0], sizeof mv->ids[0], "%s", id);
    mv->dest[0] = tmi_mesh_index(m, p);
    mv->n = 1;
    s_begin(m, mv, later, "migrate");
    return 0;
}

/* drain: every actor of this node to the live member with the fewest
 * actors, counting those placed so far. */
typedef struct {
    tm_mesh_t *m;
    tmi_move_t *mv;
    uint64_t load[TMI_PEERS_MAX];
} s_drain_t;

static int s_drain_cb(const tm_rt_actor_t *a, void *arg)
{
    s_drain_t *d = arg;
    tm_mesh_t *m = d->m;
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (s_alive(&m->peers[i]) &&
            (best == UINT32_MAX || d->load[i] < d->load[best])) {
            best = i;
        }
    }
    tmi_move_t *mv = d->mv;
    snprintf(mv->ids[mv->n], sizeof mv->ids[0], "%s", a->id);
    mv->dest[mv->n++] = best;
    d->load[best]++;
    return 0;
}

/* Group the ids by destination (a counting sort over the peers, stable),
 * so that each batch goes to one node. */
static int s_group(tmi_move_t *mv, uint32_t n_peers)
{
    char(*ids)[TM_ID_MAX + 1] = calloc(mv->n + 1, sizeof *ids);
    uint32_t *dest = calloc(mv->n + 1, sizeof *dest);
    int rc = ids != NULL && dest != NULL ? 0 : TM_ERR_NOMEM;
    size_t k = 0;
    for (uint32_t p = 0; p < n_peers && rc == 0; p++) {
        for (size_t i = 0; i < mv->n; i++) {
            if (mv->dest[i] == p) {
                memcpy(ids[k], mv->ids[i], sizeof ids[k]);
                dest[k++] = p;
            }
        }
    }
    if (rc == 0) {
        free(mv->ids);
        free(mv->dest);
        mv->ids = ids;
        mv->dest = dest;
    } else {
        free(ids);
        free(dest);
    }
    return rc;
}

int tm_mesh_drain(tm_mesh_t *m, tm_console_later_t *later, char *why,
                  size_t cap)
{
    int rc = s_check(m, why, cap);
    if (rc != 0) {
        return rc;
    }
    size_t n = tm_rt_count(m->rt);
    s_drain_t d = {m, NULL, {0}};
    bool any = false;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        d.load[i] = m->peers[i].actors;
        any |= s_alive(&m->peers[i]);
    }
    if (!any) {
        snprintf(why, cap, "no other node to move the actors to");
        return TM_ERR_NODE_DOWN;
    }
    d.mv = s_new(m, n);
    if (d.mv == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    tm_rt_foreach(m->rt, s_drain_cb, &d);
    if (d.mv->n == 0) {
        s_release(d.mv);
        snprintf(why, cap, "node %s runs no actors", m->name);
        return TM_ERR_NOT_FOUND;
    }
    if (s_group(d.mv, m->n_peers) != 0) {
        s_release(d.mv);
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    s_begin(m, d.mv, later, "drain");
    return 0;
}

/* ---- the other side ----------------------------------------------------- */

/* mesh-adopt UPLOAD: the staged package of p arrives here. */
static int s_adopt(tm_mesh_t *m, tmi_peer_t *p, const char *arg, size_t *n,
                   char *why, size_t cap)
{
    char *end = NULL;
    unsigned long long upload = arg != NULL ? strtoull(arg, &end, 10) : 0;
    const char *name = NULL;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    tm_move_t pkg;
    char mwhy[TM_MUT_WHY_MAX];
    if (end == NULL || *end != '\0' || m->mut == NULL) {
        snprintf(why, cap, "mesh-adopt UPLOAD");
        return TM_ERR_USAGE;
    }
    int rc = tm_stage_file(m->fstage, p->name, strlen(p->name), upload, &name,
                           &bytes, &len, why, cap);
    rc = rc ? rc : tm_move_decode(bytes, len, &pkg);
    tm_stage_drop(m->fstage, p->name, strlen(p->name));
    if (rc != 0) {
        if (why[0] == '\0' || rc <= TM_ERR_WIRE_TRUNCATED) {
            snprintf(why, cap, "the actors' package does not decode: %s",
                     tm_err_str(rc));
        }
        return rc;
    }
    if (pkg.tick != tm_rt_tick(m->rt)) {
        snprintf(why, cap, "node %s is at tick %llu, the move at tick %llu",
                 m->name, (unsigned long long)tm_rt_tick(m->rt),
                 (unsigned long long)pkg.tick);
        tm_move_free(&pkg);
        return TM_ERR_RANGE;
    }
    rc = tm_mut_move_in(m->mut, &pkg, mwhy);
    if (rc != 0) {
        snprintf(why, cap, "%s", mwhy);
    }
    for (uint32_t i = 0; i < pkg.n_actors && rc == 0; i++) {
        tm_dir_del(&m->dir, pkg.actors[i].id, tmi_mesh_index(m, p));
    }
    *n = pkg.n_actors;
    tm_move_free(&pkg);
    return rc;
}

/* mesh-moved NODE ID:EPOCH...: the actors run on NODE now. */
static int s_moved(tm_mesh_t *m, int argc, const char *const *argv, char *why,
                   size_t cap)
{
    tmi_peer_t *to = argc > 2 ? tmi_mesh_peer(m, argv[1]) : NULL;
    if (to == NULL || to->self) {
        snprintf(why, cap, "mesh-moved NODE ID:EPOCH...");
        return TM_ERR_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        tm_dir_ent_t e;
        tm_rt_actor_t a;
        const char *colon = strrchr(argv[i], ':');
        uint64_t epoch = 0;
        memset(&e, 0, sizeof e);
        if (colon == NULL || (size_t)(colon - argv[i]) > TM_ID_MAX ||
            tm_text_parse_u64(colon + 1, false, 1, UINT32_MAX, &epoch) != 0) {
            snprintf(why, cap, "bad entry '%.80s'", argv[i]);
            return TM_ERR_USAGE;
        }
        memcpy(e.id, argv[i], (size_t)(colon - argv[i]));
        if (tm_rt_get(m->rt, e.id, &a) == 0 && !a.remote) {
            continue; /* a conflict, if any, is the directory's to tell */
        }
        const tm_dir_ent_t *old = tm_dir_get(&m->dir, e.id);
        if (old != NULL) {
            snprintf(e.model, sizeof e.model, "%s", old->model);
            snprintf(e.tier, sizeof e.tier, "%s", old->tier);
        }
        e.owner = tmi_mesh_index(m, to);
        e.epoch = (uint32_t)epoch;
        uint32_t from = UINT32_MAX;
        if (tm_dir_put(&m->dir, &e, &from) == 0 && from < m->n_peers &&
            tm_rt_get(m->rt, e.id, &a) == 0) {
            tmi_sync_dirty(m, &m->peers[from]);
            tmi_sync_dirty(m, to);
        }
    }
    return 0;
}

void tmi_move_request(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int argc,
                      const char *const *argv)
{
    char why[TM_CMD_MSG_MAX] = "";
    char msg[TM_CMD_MSG_MAX];
    size_t n = 0;
    int rc = 0;
    if (strcmp(argv[0], "mesh-adopt") == 0) {
        rc = s_adopt(m, p, argc > 1 ? argv[1] : NULL, &n, why, sizeof why);
        snprintf(msg, sizeof msg, "node %s runs %zu actors from %s now",
                 m->name, n, p->name);
        if (rc == 0) {
            tm_log(TM_LOG_INFO, "mesh: %s", msg);
        }
    } else {
        rc = s_moved(m, argc, argv, why, sizeof why);
        snprintf(msg, sizeof msg, "node %s reads them from %s", m->name,
                 argc > 1 ? argv[1] : "?");
    }
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: %s from %s refused: %s", argv[0], p->name,
               why);
        tmi_mesh_reply(m, p, seq, rc, why, false, NULL, 0);
        return;
    }
    tm_console_later_t *later = tmi_mesh_later(m, p, seq);
    if (later == NULL) {
        tmi_mesh_reply(m, p, seq, 0, msg, false, NULL, 0);
        return;
    }
    tmi_sync_settle(m, later, msg, NULL, 0, false); /* once values flow */
}

bool tmi_move_owns(const tm_mesh_t *m, const char *id)
{
    const tmi_move_t *mv = m->move;
    for (size_t i = 0; mv != NULL && i < mv->n; i++) {
        if (!mv->moved[i] && strcmp(mv->ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

void tmi_move_free(tm_mesh_t *m)
{
    tmi_move_t *mv = m->move;
    if (mv == NULL) {
        return;
    }
    s_fail(mv, TM_ERR_CLOSED, "the node is stopping");
    s_finish(mv);
}
