/* tm_mesh_plan: plant files over the nodes of a mesh - apply and diff,
 * coordinated by the node the console asked (a node's part:
 * tm_mesh_part.c; export of the whole mesh: tm_mesh_export.c).
 *
 * The node a console asks to apply (or diff) a plant coordinates it: it
 * places every actor (tm_plant_place: named node, else where it runs,
 * else by site and load), gives each node its part
 * (tm_plant_part: its actors, the links into them, references to the
 * sources on other nodes) and carries the plant out in two phases:
 *
 *   prepare  each node plans its part against its own actors and checks
 *            it (tm_plan_build, tm_mut_apply_check) without changing
 *            anything, answers with its plan, and keeps the part under
 *            the plan's id (two minutes at most);
 *   commit   once every node prepared: this node carries out its own
 *            part, then every other node its own, each in one durable
 *            batch (tm_mut_apply, the part planned again against the
 *            actors as they are then), and each answers once the values
 *            its new links read from other nodes flow.
 *
 * A node that refuses, or is not alive, in prepare makes every node drop
 * its part (abort): nothing changed anywhere. After this node's own
 * commit there is no consensus: a node that dies before its commit has or
 * has not applied its part, the reply names it, and applying the file
 * again converges (apply is idempotent).
 *
 * Between nodes (docs/protocol.md 7.6): the part travels as PLANT_CHUNK
 * messages whose upload id is the plan's id, followed by the request on
 * the same `data` socket, so that it arrives after its part and a large
 * plant never queues in front of heartbeats:
 *
 *   mesh-plan prepare ID SHOWN   plan and check the part, keep it
 *   mesh-plan diff ID SHOWN      plan and check the part, drop it
 *   mesh-plan commit ID          carry the kept part out (on `ctl`)
 *   mesh-plan abort ID           drop the kept part (seq 0: no answer)
 *
 * The answer to prepare and diff is the node's plan (tm_plan_pack_node),
 * to commit {"commit_s": f64}.
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ANSWER_S 60.0 /* a node answers prepare and commit within this */
#define S_OWN      TMI_PEERS_MAX /* this node's plan among the answers */
#define S_SELF     UINT32_MAX    /* held: this node's own part */

/* ---- the coordinating side ---------------------------------------------- */

/* Every member is alive: a plant is the whole mesh, and each node takes
 * its part (reads its part, for export). */
int tmi_plan_all_alive(tm_mesh_t *m, const char *what, char *why, size_t cap)
{
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        if (p->name[0] == '\0') {
            snprintf(why, cap,
                     "the node at %s has not been heard from: %s every node "
                     "of the mesh",
                     p->endpoint, what);
            return TM_ERR_NODE_DOWN;
        }
        if (p->state != TMI_ALIVE) {
            snprintf(why, cap,
                     "node %s is %s (last heard %.1f s ago): %s every node "
                     "of the mesh",
                     p->name, p->state == TMI_DEAD ? "dead" : "suspect",
                     now - p->last_heard, what);
            return TM_ERR_NODE_DOWN;
        }
    }
    return 0;
}

/* No actor moves between nodes: each runs, as far as this node knows
 * (its own actors, the directory), where the plant places it. The nodes
 * concerned check again at prepare. */
static int s_no_moves(tm_mesh_t *m, const tm_plant_t *plant,
                      const tm_plant_node_t *nodes, const uint32_t *where,
                      char *why, size_t cap)
{
    char at[TM_PLANT_FILE_MAX + 48];
    for (size_t i = 0; i < plant->n_actors; i++) {
        const tm_plant_actor_t *a = &plant->actors[i];
        tm_rt_actor_t v;
        const char *runs = tm_mesh_owner(m, a->id, NULL);
        if (runs == NULL && tm_rt_get(m->rt, a->id, &v) == 0 && !v.remote) {
            runs = m->name;
        }
        if (runs == NULL || strcmp(runs, nodes[where[i]].name) == 0) {
            continue;
        }
        tm_plant_pos_t pos =
            a->pos[TM_PLANT_F_NODE].line > 0   ? a->pos[TM_PLANT_F_NODE]
            : a->pos[TM_PLANT_F_SITE].line > 0 ? a->pos[TM_PLANT_F_SITE]
                                               : a->pos[TM_PLANT_F_ID];
        tm_plant_where(plant, pos, at, sizeof at);
        snprintf(why, cap,
                 "%sactors[%u]: actor '%s' runs on node %s, and the plant "
                 "places it on node %s: apply does not move actors between "
                 "nodes (apply the file without it, then with it)",
                 at, a->index, a->id, runs, nodes[where[i]].name);
        return TM_ERR_EXISTS;
    }
    return 0;
}

/* The nodes for placement: this node, then every named peer; peer_of[k]
 * the peer of node k (S_SELF for this node); each with its load and cost
 * per actor (tm_place_loads over the alive nodes, every one of them when
 * a plant goes ahead). */
static size_t s_nodes(tm_mesh_t *m, tm_plant_node_t *nodes, uint32_t *peer_of,
                      bool *by_time)
{
    tm_place_node_t pl[TMI_PEERS_MAX + 1];
    double load[TMI_PEERS_MAX + 1];
    double cost[TMI_PEERS_MAX + 1];
    bool alive[TMI_PEERS_MAX + 1];
    size_t n = 0;
    size_t np = tm_mesh_loads(m, pl, TMI_PEERS_MAX + 1);
    np = np < TMI_PEERS_MAX + 1 ? np : TMI_PEERS_MAX + 1;
    for (size_t k = 0; k < np; k++) {
        alive[k] = pl[k].alive;
    }
    tm_place_loads(pl, np, alive, load, cost, by_time);
    nodes[n] = (tm_plant_node_t){m->name, m->site, load[0], cost[0]};
    peer_of[n++] = S_SELF;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0') {
            nodes[n] = (tm_plant_node_t){p->name, p->site, 0, 1};
            for (size_t k = 1; k < np; k++) {
                if (strcmp(pl[k].name, p->name) == 0) {
                    nodes[n].load = load[k];
                    nodes[n].cost = cost[k];
                }
            }
            peer_of[n++] = i;
        }
    }
    return n;
}

/* Each node's note for its apply record: how many of its new actors the
 * file left to placement, and the loads they were placed by. */
static void s_notes(tm_mesh_t *m, const tm_plant_t *plant,
                    const tm_plant_node_t *nodes, size_t n,
                    const uint32_t *peer_of, const uint32_t *where,
                    const uint32_t *was, bool by_time)
{
    tmi_plan_job_t *j = &m->job;
    uint64_t by_load[TMI_PEERS_MAX + 1] = {0};
    char loads[TMI_PLACED_MAX];
    size_t off = 0;
    for (size_t i = 0; i < plant->n_actors; i++) {
        if (was[i] == TM_PLANT_NEW && plant->actors[i].node == NULL &&
            where[i] < n) {
            by_load[where[i]]++;
        }
    }
    loads[0] = '\0';
    for (size_t k = 0; k < n && k < 8 && off < sizeof loads; k++) {
        int w = snprintf(loads + off, sizeof loads - off, "%s%s %.0f",
                         k ? ", " : "", nodes[k].name, nodes[k].load);
        off += w > 0 ? (size_t)w : 0;
    }
    for (size_t k = 0; k < n; k++) {
        size_t at = peer_of[k] == S_SELF ? S_OWN : peer_of[k];
        if (by_load[k] > 0) {
            char note[TMI_PLACED_MAX + 128];
            snprintf(note, sizeof note,
                     "%llu new actor%s by load, least loaded first (%s "
                     "before: %.150s%s)",
                     (unsigned long long)by_load[k], by_load[k] == 1 ? "" : "s",
                     by_time ? "projected us/tick" : "actors", loads,
                     n > 8 ? ", ..." : "");
            size_t len = strlen(note);
            len = len < TMI_PLACED_MAX ? len : TMI_PLACED_MAX - 1;
            memcpy(j->placed[at], note, len);
            j->placed[at][len] = '\0';
        }
    }
}

/* The new actors of an apply count as placed on their nodes until the
 * nodes' heartbeats show them (tm_mesh_place). */
static void s_placed(tm_mesh_t *m, const tm_plant_t *plant,
                     const tm_plant_node_t *nodes, size_t n,
                     const uint32_t *where, const uint32_t *was)
{
    uint64_t added[TMI_PEERS_MAX + 1] = {0};
    for (size_t i = 0; i < plant->n_actors; i++) {
        if (was[i] == TM_PLANT_NEW && where[i] < n) {
            added[where[i]]++;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (added[k] > 0) {
            tmi_place_pending(m, nodes[k].name, added[k]);
        }
    }
}

/* Where each actor of plant runs now (its index in nodes), or
 * TM_PLANT_NEW: placement keeps it there. */
static void s_running(tm_mesh_t *m, const tm_plant_t *plant,
                      const tm_plant_node_t *nodes, size_t n, uint32_t *where)
{
    for (size_t i = 0; i < plant->n_actors; i++) {
        tm_rt_actor_t v;
        const char *runs = tm_mesh_owner(m, plant->actors[i].id, NULL);
        if (runs == NULL && tm_rt_get(m->rt, plant->actors[i].id, &v) == 0 &&
            !v.remote) {
            runs = m->name;
        }
        where[i] = TM_PLANT_NEW;
        for (size_t k = 0; runs != NULL && k < n; k++) {
            if (strcmp(nodes[k].name, runs) == 0) {
                where[i] = (uint32_t)k;
            }
        }
    }
}

static void s_job_free(tm_mesh_t *m)
{
    tmi_plan_job_t *j = &m->job;
    for (size_t k = 0; k <= TMI_PEERS_MAX; k++) {
        free(j->body[k]);
    }
    tm_plant_free(&j->own);
    if (j->later != NULL) {
        j->later->free(j->later);
    }
    if (m->held.used && m->held.peer == S_SELF) {
        memset(&m->held, 0, sizeof m->held);
    }
    memset(j, 0, sizeof *j); /* TMI_PLAN_IDLE */
}

/* Send argv to every node of the plan, on data (after its part). */
static void s_tell_all(tm_mesh_t *m, int argc, const char *const *argv)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    if (tm_console_req_encode((uint32_t)argc, argv, &payload, &len) != 0) {
        return;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (m->job.asked[i]) {
            tmi_mesh_send(m, &m->peers[i], true, TM_MSG_CONSOLE_REQ, 0, payload,
                          len);
        }
    }
    free(payload);
}

/* Every node drops its part (prepare failed, or nothing to change). */
static void s_abort_all(tm_mesh_t *m)
{
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)m->job.id);
    const char *argv[] = {"mesh-plan", "abort", id};
    s_tell_all(m, 3, argv);
}

static void s_fail(tm_mesh_t *m, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepare failed: nothing changed anywhere; the console is told. */
static void s_fail(tm_mesh_t *m, int status, const char *fmt, ...)
{
    char msg[TM_CMD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_abort_all(m);
    tm_log(TM_LOG_WARN, "mesh: plant %s refused: %s", m->job.file, msg);
    m->job.later->send(m->job.later, status, msg, false, NULL, 0);
    s_job_free(m);
}

/* The node maps by name: this node's and the peers'. */
static size_t s_order(const tm_mesh_t *m, size_t *order)
{
    const tmi_plan_job_t *j = &m->job;
    size_t n = 0;
    order[n++] = S_OWN;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (j->asked[i]) {
            order[n++] = i;
        }
    }
    for (size_t a = 1; a < n; a++) { /* a few nodes: insertion sort */
        for (size_t b = a; b > 0; b--) {
            const char *x =
                order[b - 1] == S_OWN ? m->name : m->peers[order[b - 1]].name;
            const char *y =
                order[b] == S_OWN ? m->name : m->peers[order[b]].name;
            if (strcmp(x, y) <= 0) {
                break;
            }
            size_t t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    }
    return n;
}

/* The answer of apply or diff (docs/plant.md), from every node's plan. */
static void s_reply_plan(tm_mesh_t *m, bool applied)
{
    tmi_plan_job_t *j = &m->job;
    tm_reply_t rep;
    char sum[512];
    size_t order[TMI_PEERS_MAX + 1];
    size_t n = s_order(m, order);
    bool empty = tm_plan_summary(&j->counts, sum, sizeof sum)[0] == '\0';
    tm_reply_init(&rep);
    tm_body_t *b = tm_reply_body(&rep);
    tm_body_map(b);
    tm_body_kv_str(b, "file", j->file);
    tm_body_kv_str(b, "node", m->name);
    tm_body_kv_bool(b, "applied", applied);
    tm_body_kv_u64(b, "actors", j->n_actors);
    tm_body_kv_u64(b, "links", j->n_links);
    tm_plan_pack_counts(b, "counts", &j->counts);
    tm_body_kv_u64(b, "shown", j->shown);
    tm_body_kv_array(b, "nodes");
    for (size_t k = 0; k < n; k++) {
        tm_body_raw(b, j->body[order[k]], j->len[order[k]]);
    }
    tm_body_end(b);
    tm_body_kv_f64(b, "elapsed_s", tm_time_now() - j->t0);
    tm_body_kv_f64(b, "commit_s", j->commit_s);
    tm_body_end(b);
    if (empty) {
        tm_reply_msg(&rep, "%s: nothing to change (%zu actors, %zu links)",
                     j->file, j->n_actors, j->n_links);
    } else if (applied) {
        tm_reply_msg(&rep, "applied %s in %.3f s: %s%s", j->file,
                     tm_time_now() - j->t0, sum, j->note);
        tm_log(TM_LOG_INFO, "mesh: plant %s applied on %zu nodes: %s", j->file,
               n, sum);
    } else {
        tm_reply_msg(&rep, "%s would change: %s (nothing was changed)", j->file,
                     sum);
    }
    tm_reply_done(&rep);
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(&rep, &len);
    j->later->send(j->later, rep.status, rep.message, false, body, len);
    tm_reply_destroy(&rep);
}

/* Commit over: the answer, or which nodes did not apply their part. */
static void s_finish(tm_mesh_t *m)
{
    tmi_plan_job_t *j = &m->job;
    if (j->failed[0] == '\0') {
        s_reply_plan(m, true);
    } else {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "%.200s: not every node applied its part - %.500s; the "
                 "others did (`diff` shows what is left; applying the file "
                 "again finishes it)",
                 j->file, j->failed);
        tm_log(TM_LOG_ERROR, "mesh: plant %s", msg);
        j->later->send(j->later, j->fail_status, msg, false, NULL, 0);
    }
    s_job_free(m);
}

/* This node's part commit answered: its values flow (or waited long). */
typedef struct {
    tm_console_later_t base;
    tm_mesh_t *m;
    uint64_t id;
} s_own_t;

static void s_own_send(tm_console_later_t *l, int status, const char *msg,
                       bool more, const uint8_t *body, size_t len)
{
    s_own_t *x = (s_own_t *)l;
    tmi_plan_job_t *j = &x->m->job;
    (void)status;
    (void)more;
    (void)body;
    (void)len;
    if (j->phase != TMI_PLAN_COMMIT || j->id != x->id) {
        return;
    }
    j->own_settled = true;
    size_t n = strlen(j->note);
    snprintf(j->note + n, sizeof j->note - n, "%s", msg);
    if (j->waiting == 0) {
        s_finish(x->m);
    }
}

static void s_own_free(tm_console_later_t *l)
{
    free(l);
}

static void s_note_failed(tmi_plan_job_t *j, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_note_failed(tmi_plan_job_t *j, int status, const char *fmt, ...)
{
    size_t n = strlen(j->failed);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->failed + n, sizeof j->failed - n, fmt, ap);
    va_end(ap);
    j->fail_status = j->fail_status != 0 ? j->fail_status : status;
}

/* Every node prepared: commit (this node first, so that its failure
 * still leaves every node as it was). */
static void s_commit(tm_mesh_t *m)
{
    tmi_plan_job_t *j = &m->job;
    char why[TM_MUT_WHY_MAX];
    char sum[256];
    tm_mut_timing_t t = {0, 0};
    int rc = tmi_part_apply(m, &j->own, NULL, j->placed[S_OWN], &t, sum,
                            sizeof sum, why);
    if (rc != 0) {
        s_fail(m, rc, "%s (node %s; nothing was changed on any node)", why,
               m->name);
        return;
    }
    j->commit_s = t.commit_s;
    j->phase = TMI_PLAN_COMMIT;
    j->deadline = tm_time_now() + S_ANSWER_S;
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)j->id);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (!j->asked[i]) {
            continue;
        }
        /* the placement note, when there is one, for its audit record */
        const char *argv[] = {"mesh-plan", "commit", id, j->placed[i]};
        uint8_t *payload = NULL;
        size_t len = 0;
        rc = tm_console_req_encode(j->placed[i][0] ? 4 : 3, argv, &payload,
                                   &len);
        uint64_t seq = ++m->next_seq;
        int sent = rc == 0 ? tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REQ, seq,
                                           payload, len)
                           : rc;
        free(payload);
        if (sent != 0) {
            s_note_failed(j, sent,
                          "%snode %s: the commit could not be sent (%s)",
                          j->failed[0] ? "; " : "", p->name, tm_err_str(sent));
            continue;
        }
        j->seq[i] = seq;
        j->waiting++;
    }
    s_own_t *own = calloc(1, sizeof *own);
    if (own == NULL) {
        j->own_settled = true; /* no wait for the values then */
        if (j->waiting == 0) {
            s_finish(m);
        }
        return;
    }
    own->base.send = s_own_send;
    own->base.free = s_own_free;
    own->m = m;
    own->id = j->id;
    /* last: it may answer (and finish the plan) at once */
    tmi_sync_settle(m, &own->base, "", NULL, 0, true);
}

/* Every node answered prepare. */
static void s_prepared(tm_mesh_t *m)
{
    tmi_plan_job_t *j = &m->job;
    char sum[512];
    bool empty = tm_plan_summary(&j->counts, sum, sizeof sum)[0] == '\0';
    if (!j->apply || empty) {
        if (j->apply) {
            s_abort_all(m);
        }
        s_reply_plan(m, false);
        s_job_free(m);
        return;
    }
    s_commit(m);
}

static void s_add_counts(tm_plan_counts_t *to, const tm_plan_counts_t *c)
{
    to->spawn += c->spawn;
    to->kill += c->kill;
    to->replace += c->replace;
    to->model += c->model;
    to->set += c->set;
    to->link += c->link;
    to->unlink += c->unlink;
}

/* The counts of a node's plan (its answer to prepare). */
static int s_counts_of(const tm_console_rep_t *rep, tm_plan_counts_t *c)
{
    msgpack_zone zone;
    msgpack_object obj;
    uint64_t v[7] = {0};
    static const char *const keys[] = {"spawn", "kill", "replace", "model",
                                       "set",   "link", "unlink"};
    msgpack_zone_init(&zone, 1024);
    int rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
    const msgpack_object *counts =
        rc == 0 ? tm_wire_map_get(&obj, "counts") : NULL;
    rc = rc != 0 ? rc : counts == NULL ? TM_ERR_WIRE_FIELD : 0;
    for (int i = 0; rc == 0 && i < 7; i++) {
        rc = tm_wire_get_u64(counts, keys[i], &v[i]);
    }
    msgpack_zone_destroy(&zone);
    *c = (tm_plan_counts_t){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    return rc;
}

static void s_on_prepared(tm_mesh_t *m, tmi_peer_t *p,
                          const tm_console_rep_t *rep)
{
    tmi_plan_job_t *j = &m->job;
    uint32_t i = tmi_mesh_index(m, p);
    tm_plan_counts_t c;
    if (rep->status != 0) {
        s_fail(m, rep->status, "%.*s (node %s%s)", (int)rep->message_len,
               rep->message, p->name,
               j->apply ? "; nothing was changed on any node" : "");
        return;
    }
    int rc = s_counts_of(rep, &c);
    j->body[i] = rc == 0 ? malloc(rep->body_len + 1) : NULL;
    if (j->body[i] == NULL) {
        s_fail(m, rc != 0 ? rc : TM_ERR_NOMEM,
               "node %s answered with no plan it could show (%s)%s", p->name,
               tm_err_str(rc != 0 ? rc : TM_ERR_NOMEM),
               j->apply ? "; nothing was changed on any node" : "");
        return;
    }
    memcpy(j->body[i], rep->body, rep->body_len);
    j->len[i] = rep->body_len;
    s_add_counts(&j->counts, &c);
    if (j->waiting == 0) {
        s_prepared(m);
    }
}

static void s_on_committed(tm_mesh_t *m, tmi_peer_t *p,
                           const tm_console_rep_t *rep)
{
    tmi_plan_job_t *j = &m->job;
    if (rep->status != 0) {
        s_note_failed(j, rep->status, "%snode %s: %.*s",
                      j->failed[0] ? "; " : "", p->name, (int)rep->message_len,
                      rep->message);
    } else {
        msgpack_zone zone;
        msgpack_object obj;
        double s = 0;
        msgpack_zone_init(&zone, 256);
        if (tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj) == 0 &&
            tm_wire_get_f64(&obj, "commit_s", &s) == 0 && s > j->commit_s) {
            j->commit_s = s;
        }
        msgpack_zone_destroy(&zone);
        size_t n = strlen(j->note);
        snprintf(j->note + n, sizeof j->note - n, "%.*s", (int)rep->message_len,
                 rep->message);
    }
    if (j->waiting == 0 && j->own_settled) {
        s_finish(m);
    }
}

bool tmi_plan_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep)
{
    tmi_plan_job_t *j = &m->job;
    uint32_t i = tmi_mesh_index(m, p);
    if (j->phase == TMI_PLAN_IDLE || seq == 0 || j->seq[i] != seq) {
        return false;
    }
    j->seq[i] = 0;
    j->waiting--;
    if (j->phase == TMI_PLAN_PREPARE) {
        s_on_prepared(m, p, rep);
    } else {
        s_on_committed(m, p, rep);
    }
    return true;
}

/* Node k's part (its peer p) and the request after it, on data. */
static int s_send_part(tm_mesh_t *m, tmi_peer_t *p, const tm_plant_t *part,
                       const char *verb)
{
    tmi_plan_job_t *j = &m->job;
    tm_plant_chunk_t h = {.upload = j->id};
    size_t na = 0;
    size_t nl = 0;
    int rc = 0;
    do {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = tm_plant_chunk_encode(
            part, &h, &na, &nl, TM_WIRE_MAX_SIZE_DEFAULT - 4096, &bytes, &len);
        if (rc == 0) {
            rc = tmi_mesh_send(m, p, true, TM_MSG_PLANT_CHUNK, 0, bytes, len);
        }
        free(bytes);
        h.index++;
    } while (rc == 0 && !h.final);
    char id[32];
    char shown[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)j->id);
    snprintf(shown, sizeof shown, "%zu", j->shown);
    const char *argv[] = {"mesh-plan", verb, id, shown};
    uint8_t *payload = NULL;
    size_t len = 0;
    uint64_t seq = ++m->next_seq;
    if (rc == 0) {
        rc = tm_console_req_encode(4, argv, &payload, &len);
    }
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, true, TM_MSG_CONSOLE_REQ, seq, payload, len);
    }
    free(payload);
    if (rc == 0) {
        j->seq[tmi_mesh_index(m, p)] = seq;
        j->waiting++;
    }
    return rc;
}

/* This node's part, prepared here; then every other node's part sent. */
static int s_start(tm_mesh_t *m, const tm_plant_t *plant,
                   const tm_plant_node_t *nodes, size_t n,
                   const uint32_t *peer_of, const uint32_t *where, char *why,
                   size_t cap)
{
    tmi_plan_job_t *j = &m->job;
    char pwhy[TM_MUT_WHY_MAX];
    tm_plan_counts_t c;
    int rc = tm_plant_part(plant, nodes, where, 0, &j->own);
    if (rc == 0) {
        rc = tmi_part_plan(m, &j->own, j->shown, &j->body[S_OWN],
                           &j->len[S_OWN], &c, pwhy);
        if (rc != 0) {
            snprintf(why, cap, "%.900s (node %s%s)", pwhy, m->name,
                     j->apply ? "; nothing was changed on any node" : "");
            return rc;
        }
        s_add_counts(&j->counts, &c);
    }
    for (size_t k = 1; rc == 0 && k < n; k++) {
        tm_plant_t part;
        tmi_peer_t *p = &m->peers[peer_of[k]];
        rc = tm_plant_part(plant, nodes, where, k, &part);
        if (rc == 0) {
            j->asked[peer_of[k]] = true;
            rc = s_send_part(m, p, &part, j->apply ? "prepare" : "diff");
            tm_plant_free(&part);
        }
        if (rc != 0) {
            snprintf(why, cap, "cannot send node %s its part: %s%s", p->name,
                     tm_err_str(rc),
                     j->apply ? " (nothing was changed on any node)" : "");
            s_abort_all(m);
            return rc;
        }
    }
    if (rc != 0) {
        snprintf(why, cap, "out of memory");
    }
    return rc;
}

int tm_mesh_plant(tm_mesh_t *m, const tm_plant_t *plant, bool apply,
                  size_t shown, tm_console_later_t *later, char *why,
                  size_t cap)
{
    tmi_plan_job_t *j = &m->job;
    tm_plant_node_t nodes[TMI_PEERS_MAX + 1];
    uint32_t peer_of[TMI_PEERS_MAX + 1];
    if (j->phase != TMI_PLAN_IDLE || m->held.used) {
        snprintf(why, cap,
                 "node %s is taking part in another plant (from node %s); "
                 "try again when it is done",
                 m->name,
                 j->phase != TMI_PLAN_IDLE ? m->name : tmi_part_held_by(m));
        return TM_ERR_BUSY;
    }
    int rc = tmi_plan_all_alive(m, "a plant describes", why, cap);
    if (rc != 0) {
        return rc;
    }
    bool by_time = false;
    size_t n = s_nodes(m, nodes, peer_of, &by_time);
    uint32_t *where = malloc((2 * plant->n_actors + 1) * sizeof *where);
    uint32_t *was = where + plant->n_actors; /* where they ran before */
    if (where == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    s_running(m, plant, nodes, n, where);
    memcpy(was, where, plant->n_actors * sizeof *where);
    rc = tm_plant_place(plant, nodes, n, where, why, cap);
    if (rc == 0) {
        rc = s_no_moves(m, plant, nodes, where, why, cap);
    }
    if (rc != 0 && apply) {
        size_t w = strlen(why);
        snprintf(why + w, cap - w, " (nothing was changed)");
    }
    if (rc == 0) {
        memset(j, 0, sizeof *j);
        j->id = (m->inc << 20) ^ ++m->plan_seq;
        j->apply = apply;
        j->shown = shown;
        j->t0 = tm_time_now();
        j->n_actors = plant->n_actors;
        j->n_links = plant->n_links;
        snprintf(j->file, sizeof j->file, "%s", plant->file);
        s_notes(m, plant, nodes, n, peer_of, where, was, by_time);
        rc = s_start(m, plant, nodes, n, peer_of, where, why, cap);
    }
    if (rc == 0 && apply) {
        s_placed(m, plant, nodes, n, where, was);
    }
    free(where);
    if (rc != 0) {
        s_job_free(m);
        return rc;
    }
    j->later = later;
    j->phase = TMI_PLAN_PREPARE;
    j->deadline = tm_time_now() + S_ANSWER_S;
    if (apply) {
        m->held = (tmi_plan_held_t){.used = true, .peer = S_SELF, .id = j->id};
    }
    if (j->waiting == 0) {
        s_prepared(m);
    }
    return 0;
}

/* ---- time, restarts, the end --------------------------------------------- */

void tmi_plan_peer_reset(tm_mesh_t *m, tmi_peer_t *p)
{
    uint32_t i = tmi_mesh_index(m, p);
    tmi_plan_job_t *j = &m->job;
    tmi_part_peer_reset(m, p);
    if (j->phase == TMI_PLAN_PREPARE && j->asked[i]) {
        s_fail(m, TM_ERR_NODE_DOWN,
               "node %s restarted while the plant was being prepared "
               "(nothing was changed on any node)",
               p->name);
    } else if (j->phase == TMI_PLAN_COMMIT && j->seq[i] != 0) {
        s_note_failed(j, TM_ERR_NODE_DOWN,
                      "%snode %s restarted before it confirmed its part: the "
                      "part was not applied",
                      j->failed[0] ? "; " : "", p->name);
        j->seq[i] = 0;
        if (--j->waiting == 0 && j->own_settled) {
            s_finish(m);
        }
    }
}

/* Prepare: a node not alive, or too slow, and nothing changes anywhere. */
static void s_beat_prepare(tm_mesh_t *m, double now)
{
    tmi_plan_job_t *j = &m->job;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (j->seq[i] == 0) {
            continue;
        }
        if (p->state != TMI_ALIVE || now > j->deadline) {
            s_fail(m, p->state != TMI_ALIVE ? TM_ERR_NODE_DOWN : TM_ERR_TIMEOUT,
                   "node %s %s while the plant was being prepared%s", p->name,
                   p->state == TMI_DEAD    ? "died"
                   : p->state != TMI_ALIVE ? "became suspect"
                                           : "did not answer in 60 s",
                   j->apply ? " (nothing was changed on any node)" : "");
            return;
        }
    }
}

/* Commit: a node dead or silent has or has not applied its part. */
static void s_beat_commit(tm_mesh_t *m, double now)
{
    tmi_plan_job_t *j = &m->job;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (j->seq[i] == 0 || (p->state != TMI_DEAD && now <= j->deadline)) {
            continue;
        }
        s_note_failed(j,
                      p->state == TMI_DEAD ? TM_ERR_NODE_DOWN : TM_ERR_TIMEOUT,
                      "%snode %s %s: its part may or may not have been "
                      "applied",
                      j->failed[0] ? "; " : "", p->name,
                      p->state == TMI_DEAD ? "died before it confirmed"
                                           : "did not confirm in 60 s");
        j->seq[i] = 0;
        j->waiting--;
    }
    if (j->waiting == 0 && j->own_settled) {
        s_finish(m);
    }
}

void tmi_plan_beat(tm_mesh_t *m)
{
    double now = tm_time_now();
    tmi_part_beat(m);
    if (m->job.phase == TMI_PLAN_PREPARE) {
        s_beat_prepare(m, now);
    } else if (m->job.phase == TMI_PLAN_COMMIT) {
        s_beat_commit(m, now);
    }
}

void tmi_plan_free(tm_mesh_t *m)
{
    tmi_plan_job_t *j = &m->job;
    if (j->phase == TMI_PLAN_PREPARE) {
        s_fail(m, TM_ERR_CLOSED,
               "node %s stopping while the plant was being prepared%s", m->name,
               j->apply ? " (nothing was changed on any node)" : "");
    } else if (j->phase == TMI_PLAN_COMMIT) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "node %s stopping before every node confirmed its part of "
                 "%s (`diff %s` shows what is left)",
                 m->name, j->file, j->file);
        j->later->send(j->later, TM_ERR_CLOSED, msg, false, NULL, 0);
        s_job_free(m);
    }
    tmi_part_free(m);
    for (size_t i = 0; i < TMI_EXPORTS; i++) {
        if (m->exports[i].used) {
            tmi_export_end(m, &m->exports[i], TM_ERR_CLOSED, "node stopping",
                           NULL, 0);
        }
    }
    tm_stage_destroy(&m->stage);
}
