/* tm_mesh_adopt: the package of actors that move (tm_move_wire), made
 * from the runtime on their old node and taken in on their new one, and
 * the requests a move sends to the other members: mesh-tick (where is
 * your clock), mesh-adopt (run these actors), mesh-moved (read these
 * actors from their new node). The protocol is tm_mesh_move.c's. */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_persist.h"
#include "tm_rollout.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the package -------------------------------------------------------- */

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
static int s_pack_actor(s_pack_t *k, const char *id, uint32_t *epoch,
                        tm_wire_buf_t *buf)
{
    tm_rt_actor_t a;
    if (tm_rt_get(k->rt, id, &a) != 0 || a.remote) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    tm_move_actor_t *ma = &k->pkg.actors[k->pkg.n_actors++];
    memset(ma, 0, sizeof *ma);
    snprintf(ma->id, sizeof ma->id, "%s", a.id);
    *epoch = a.epoch + 1;
    tm_wire_buf_clear(buf);
    int rc = tm_persist_actor_pack(k->rt, &a, *epoch, buf);
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

int tmi_move_pack(tm_mesh_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                  uint32_t *epochs, uint8_t **out, size_t *len)
{
    s_pack_t k = {.tick = tm_rt_tick(m->rt), .rt = m->rt};
    tm_wire_buf_t buf;
    tm_wire_buf_init(&buf);
    snprintf(k.pkg.from, sizeof k.pkg.from, "%s", m->name);
    k.pkg.tick = k.tick;
    k.pkg.actors = calloc(n + 1, sizeof *k.pkg.actors);
    int rc = k.pkg.actors == NULL ? TM_ERR_NOMEM : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = s_pack_actor(&k, ids[i], &epochs[i], &buf);
    }
    rc = rc ? rc : tm_move_encode(&k.pkg, out, len);
    s_pack_free(&k);
    tm_wire_buf_destroy(&buf);
    return rc;
}

/* ---- the requests ------------------------------------------------------- */

void tmi_move_tick_request(tm_mesh_t *m, tm_reply_t *rep)
{
    /* a move asks: from now on this node steps no further until the move
     * runs the mesh on (mesh-run) or ends (mesh-clock), or 60 s pass */
    m->move_hold_until = tm_time_now() + 60.0;
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
    /* with lookahead, peers' batches of the last ticks may come after
     * their ticks' steps: once all are here they go into the proxies (as
     * before the next step), so that nothing the move changes (the lists
     * this node reads, the package) meets a proxy's carried-forward
     * value */
    bool held = tmi_sync_held(m, tm_rt_tick(m->rt)) &&
                !tm_rollout_waiting(m->ctx != NULL ? m->ctx->rollout : NULL);
    if (held && !r.active) {
        tmi_sync_before(m, tm_rt_tick(m->rt));
    }
    tm_body_kv_bool(b, "held", held);
    tm_body_end(b);
    tm_reply_done(rep);
}

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
