/* tm_mesh_failover: `failover NODE` - a dead node's actors run on its
 * standby copy (tm_mesh_repl.c).
 *
 * 1. Find the copy. The node the console talks to asks every live member
 *    (`mesh-standby NODE`) what copy of NODE it holds and takes the one
 *    with the latest incarnation and commit (normally there is one).
 * 2. Take over. That member (`mesh-takeover NODE`, or this node itself)
 *    checks that it too sees NODE dead, reads the copy - the actors'
 *    records and the links into them, as NODE's store held them after
 *    its last replicated commit - and makes the actors with the ownership
 *    epoch one above their own (tm_mut_move_in, audited as "failover"),
 *    in batches of S_BATCH. Its directory messages carry the higher
 *    epoch, so every member reads the actors from it from then on, and
 *    NODE, when it comes back, finds its copies claimed at a higher epoch
 *    and lets them go ("fenced") before it steps (tmi_sync_ready's start
 *    gate, tm_mesh_sync.c). The copy is then set aside.
 *
 * The actors go on from the state of NODE's last checkpoint with the
 * changes acknowledged after it (the recovery rule of a restart), at the
 * standby's tick: a failover is a restart elsewhere, not a move at a tick
 * boundary. Deciding that a node is dead is the operator's here; see
 * docs/operations.md. */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_persist.h"
#include "tm_time.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ASK_S  5.0  /* for the members to say what copies they hold */
#define S_TAKE_S 60.0 /* for the standby to take the actors over */
#define S_BATCH  1024u
#define S_SELF   UINT32_MAX

struct tmi_failover {
    tm_console_later_t *later;
    char node[TM_MSG_NAME_MAX + 1];
    bool taking;
    uint64_t seqs[TMI_PEERS_MAX];
    uint32_t waiting;
    uint32_t best; /* peer number, S_SELF, or UINT32_MAX - 1: none */
    uint64_t best_inc, best_seq, best_tick, best_actors;
    uint64_t take_seq;
    double deadline;
};

/* ---- taking over (on the standby) ---------------------------------------- */

typedef struct {
    char id[TM_ID_MAX + 1];
    uint8_t *record; /* with the next epoch */
    size_t len;
    char model[TM_MOVE_NAME_MAX + 1];
    char tier[TM_MOVE_NAME_MAX + 1];
    tm_move_link_t *links;
    uint32_t n_links, cap_links;
} s_actor_t;

typedef struct {
    s_actor_t *v;
    size_t n, cap;
    int rc;
} s_actors_t;

/* The record again with epoch + 1 (its history and supervision kept). */
static int s_reepoch(const void *val, size_t vlen, s_actor_t *a)
{
    tm_persist_actor_t rec;
    int rc = tm_persist_actor_decode(val, vlen, &rec);
    if (rc != 0) {
        return rc;
    }
    size_t count = (size_t)rec.n_history * rec.history_width;
    double *hist = malloc(count * sizeof(double) + 1);
    if (hist == NULL) {
        return TM_ERR_NOMEM;
    }
    rc = count > 0 ? tm_persist_actor_history(val, vlen, hist, count) : 0;
    rec.history = hist;
    rec.epoch = rec.epoch < UINT32_MAX ? rec.epoch + 1 : rec.epoch;
    tm_wire_buf_t buf;
    tm_wire_buf_init(&buf);
    rc = rc ? rc : tm_persist_actor_encode(&rec, &buf);
    if (rc == 0) {
        a->record = malloc(buf.sbuf.size);
        rc = a->record == NULL ? TM_ERR_NOMEM : 0;
    }
    if (rc == 0) {
        memcpy(a->record, buf.sbuf.data, buf.sbuf.size);
        a->len = buf.sbuf.size;
        char spec[sizeof rec.family + sizeof rec.version + 1];
        snprintf(spec, sizeof spec, "%s@%s", rec.family, rec.version);
        rc = strlen(spec) > TM_MOVE_NAME_MAX ? TM_ERR_TOO_BIG : 0;
        snprintf(a->model, sizeof a->model, "%.*s", (int)TM_MOVE_NAME_MAX,
                 spec);
        snprintf(a->tier, sizeof a->tier, "%s", tm_fidelity_name(rec.fidelity));
    }
    tm_wire_buf_destroy(&buf);
    free(hist);
    return rc;
}

static int s_actor_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_actors_t *as = arg;
    if (as->n == as->cap) {
        size_t cap = as->cap ? as->cap * 2 : 64;
        void *v = realloc(as->v, cap * sizeof *as->v);
        if (v == NULL) {
            return as->rc = TM_ERR_NOMEM;
        }
        as->v = v;
        as->cap = cap;
    }
    s_actor_t *a = &as->v[as->n];
    memset(a, 0, sizeof *a);
    int rc = tm_persist_actor_key(key, klen, a->id);
    rc = rc ? rc : s_reepoch(val, vlen, a);
    if (rc != 0) {
        free(a->record);
        tm_log(TM_LOG_ERROR,
               "mesh: failover: a record of the copy is "
               "damaged (%s); that actor is left out",
               tm_err_str(rc));
        return rc == TM_ERR_NOMEM ? (as->rc = rc) : 0;
    }
    as->n++;
    return 0;
}

/* The store walks ids in byte order: bisect. */
static s_actor_t *s_find(s_actors_t *as, const char *id)
{
    size_t lo = 0, hi = as->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(as->v[mid].id, id);
        if (c == 0) {
            return &as->v[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int s_link_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    s_actors_t *as = arg;
    tm_persist_link_key_t k;
    uint32_t delay = 1;
    char spec[TM_MOVE_NAME_MAX + 1], tier[TM_MOVE_NAME_MAX + 1];
    if (tm_persist_link_key_parse(key, klen, &k) != 0 ||
        tm_persist_link_decode(val, vlen, &k, &delay) != 0 ||
        tm_persist_link_source(val, vlen, spec, sizeof spec, tier,
                               sizeof tier) != 0) {
        tm_log(TM_LOG_ERROR, "mesh: failover: a link record of the copy is "
                             "damaged; it is left out");
        return 0;
    }
    s_actor_t *dst = s_find(as, k.dst);
    s_actor_t *src = s_find(as, k.src);
    if (dst == NULL || (spec[0] == '\0' && src == NULL)) {
        return 0; /* its actor was left out */
    }
    if (dst->n_links == dst->cap_links) {
        uint32_t cap = dst->cap_links ? dst->cap_links * 2 : 4;
        void *v = cap <= TM_MOVE_LINKS_MAX
                      ? realloc(dst->links, cap * sizeof *dst->links)
                      : NULL;
        if (v == NULL) {
            return as->rc =
                       cap <= TM_MOVE_LINKS_MAX ? TM_ERR_NOMEM : TM_ERR_TOO_BIG;
        }
        dst->links = v;
        dst->cap_links = cap;
    }
    tm_move_link_t *l = &dst->links[dst->n_links++];
    memset(l, 0, sizeof *l);
    snprintf(l->src, sizeof l->src, "%s", k.src);
    snprintf(l->output, sizeof l->output, "%.*s", (int)TM_MOVE_PORT_MAX,
             k.output);
    snprintf(l->input, sizeof l->input, "%.*s", (int)TM_MOVE_PORT_MAX, k.input);
    l->delay = delay;
    snprintf(l->model, sizeof l->model, "%.*s", (int)TM_MOVE_NAME_MAX,
             spec[0] ? spec : src->model);
    snprintf(l->tier, sizeof l->tier, "%.*s", (int)TM_MOVE_NAME_MAX,
             spec[0] ? tier : src->tier);
    return 0;
}

static void s_actors_free(s_actors_t *as)
{
    for (size_t i = 0; i < as->n; i++) {
        free(as->v[i].record);
        free(as->v[i].links);
    }
    free(as->v);
}

/* The actors [from, from + n) as one package, made here. */
static int s_take_batch(tm_mesh_t *m, tmi_peer_t *dead, s_actors_t *as,
                        size_t from, size_t n, uint64_t tick, char *why,
                        size_t cap)
{
    tm_move_t pkg;
    char mwhy[TM_MUT_WHY_MAX];
    char reason[TM_AUDIT_REASON_MAX + 1];
    memset(&pkg, 0, sizeof pkg);
    snprintf(pkg.from, sizeof pkg.from, "%s", dead->name);
    pkg.tick = tick;
    pkg.n_actors = (uint32_t)n;
    pkg.actors = calloc(n + 1, sizeof *pkg.actors);
    if (pkg.actors == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const s_actor_t *a = &as->v[from + i];
        tm_move_actor_t *ma = &pkg.actors[i];
        snprintf(ma->id, sizeof ma->id, "%s", a->id);
        ma->record = a->record;
        ma->record_len = a->len;
        ma->links = a->links;
        ma->n_links = a->n_links;
    }
    snprintf(reason, sizeof reason,
             "taken over from dead node %.64s: its standby copy at checkpoint "
             "tick %" PRIu64,
             dead->name, tick);
    tm_mut_reason(m->mut, "failover", reason);
    int rc = tm_mut_move_in(m->mut, &pkg, mwhy);
    tm_mut_reason(m->mut, NULL, NULL);
    if (rc != 0) {
        snprintf(why, cap, "%s", mwhy);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        tm_dir_del(&m->dir, as->v[from + i].id, tmi_mesh_index(m, dead));
    }
    free(pkg.actors);
    return rc;
}

int tmi_failover_take(tm_mesh_t *m, const char *node, char *msg, size_t cap)
{
    tmi_peer_t *dead = tmi_mesh_peer(m, node);
    uint64_t inc = 0, seq = 0, tick = 0;
    size_t n = 0;
    if (dead == NULL || dead->state != TMI_DEAD) {
        snprintf(msg, cap,
                 "node %s does not see node %s dead (%s); a failover runs "
                 "only the actors of a dead node",
                 m->name, node, dead == NULL ? "unknown" : "it is not");
        return dead == NULL ? TM_ERR_UNKNOWN_NODE : TM_ERR_BUSY;
    }
    if (m->move != NULL) {
        snprintf(msg, cap, "node %s is moving actors; try again", m->name);
        return TM_ERR_BUSY;
    }
    if (!tmi_copy_local(m, node, &inc, &seq, &tick, &n)) {
        snprintf(msg, cap, "node %s holds no standby copy of %s", m->name,
                 node);
        return TM_ERR_NOT_FOUND;
    }
    int lrc = tmi_lease_take(m, node, msg, cap);
    if (lrc != 0) {
        return lrc;
    }
    tm_store_t *copy = tmi_copy_store(m, node);
    s_actors_t as = {0};
    int rc = tm_store_foreach(copy, TM_DB_ACTORS, s_actor_cb, &as);
    rc = rc ? rc : as.rc;
    rc = rc ? rc : tm_store_foreach(copy, TM_DB_LINKS, s_link_cb, &as);
    rc = rc ? rc : as.rc;
    if (rc != 0) {
        snprintf(msg, cap, "the standby copy of %s cannot be read: %s", node,
                 tm_err_str(rc));
    }
    size_t done = 0;
    for (size_t from = 0; rc == 0 && from < as.n; from += S_BATCH) {
        size_t k = as.n - from < S_BATCH ? as.n - from : S_BATCH;
        rc = s_take_batch(m, dead, &as, from, k, tick, msg, cap);
        done += rc == 0 ? k : 0;
    }
    s_actors_free(&as);
    if (rc != 0) {
        size_t len = strlen(msg);
        snprintf(msg + len, cap - len,
                 " (%zu of %zu actors of %s run here now; run failover again "
                 "for the rest)",
                 done, n, node);
        tm_log(TM_LOG_ERROR, "mesh: failover of %s: %s", node, msg);
        return rc;
    }
    tmi_copy_done(m, node);
    snprintf(msg, cap,
             "node %s runs the %zu actors of dead node %s now, from its "
             "standby copy (checkpoint tick %" PRIu64 ", commit %" PRIu64 ")",
             m->name, done, node, tick, seq);
    tm_log(TM_LOG_WARN, "mesh: failover: %s", msg);
    return 0;
}

/* ---- the coordinator ----------------------------------------------------- */

static void s_end(tm_mesh_t *m, int status, const char *msg)
{
    tmi_failover_t *f = m->failover;
    if (f->later != NULL) {
        f->later->send(f->later, status, msg, false, NULL, 0);
        f->later->free(f->later);
    } else if (status != 0) { /* automatic (tm_mesh_lease.c) */
        tm_log(TM_LOG_ERROR, "mesh: automatic failover of %s: %s", f->node,
               msg);
    }
    free(f);
    m->failover = NULL;
}

static void s_consider(tmi_failover_t *f, uint32_t who, uint64_t inc,
                       uint64_t seq, uint64_t tick, uint64_t actors)
{
    bool better = f->best == UINT32_MAX - 1 || inc > f->best_inc ||
                  (inc == f->best_inc && seq > f->best_seq);
    if (better) {
        f->best = who;
        f->best_inc = inc;
        f->best_seq = seq;
        f->best_tick = tick;
        f->best_actors = actors;
    }
}

/* Every member answered (or the time is up): take over where the copy is. */
static void s_decide(tm_mesh_t *m)
{
    tmi_failover_t *f = m->failover;
    char msg[TM_CMD_MSG_MAX];
    if (f->best == UINT32_MAX - 1) {
        snprintf(msg, sizeof msg,
                 "no live node holds a standby copy of %s (a node keeps one "
                 "when its config says [mesh] replicas = 1)",
                 f->node);
        s_end(m, TM_ERR_NOT_FOUND, msg);
        return;
    }
    if (f->best == S_SELF) {
        int rc = tmi_failover_take(m, f->node, msg, sizeof msg);
        s_end(m, rc, msg);
        return;
    }
    tmi_peer_t *p = &m->peers[f->best];
    const char *argv[] = {"mesh-takeover", f->node};
    f->take_seq = tmi_mesh_request(m, p, false, 2, argv);
    if (f->take_seq == 0) {
        snprintf(msg, sizeof msg, "cannot ask %s to take over %s", p->name,
                 f->node);
        s_end(m, TM_ERR_IO, msg);
        return;
    }
    f->taking = true;
    f->deadline = tm_time_now() + S_TAKE_S;
}

int tm_mesh_failover(tm_mesh_t *m, const char *node, tm_console_later_t *later,
                     char *why, size_t cap)
{
    tmi_peer_t *dead = tmi_mesh_peer(m, node);
    if (strcmp(node, m->name) == 0) {
        snprintf(why, cap, "%s is this node, and it is alive", node);
        return TM_ERR_BUSY;
    }
    if (dead == NULL) {
        snprintf(why, cap, "unknown node '%s' (see `nodes`)", node);
        return TM_ERR_UNKNOWN_NODE;
    }
    if (dead->state != TMI_DEAD) {
        snprintf(why, cap,
                 "node %s is %s (heard %.1f s ago): failover runs a dead "
                 "node's actors elsewhere; to move actors off a live node, "
                 "use drain",
                 node,
                 dead->state == TMI_SUSPECT ? "suspect, not dead yet" : "alive",
                 tm_time_now() - dead->last_heard);
        return TM_ERR_BUSY;
    }
    if (m->failover != NULL || m->move != NULL) {
        snprintf(why, cap, "a failover or a move is in progress");
        return TM_ERR_BUSY;
    }
    tmi_failover_t *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    f->later = later;
    snprintf(f->node, sizeof f->node, "%s", node);
    f->best = UINT32_MAX - 1;
    m->failover = f;
    uint64_t inc = 0, seq = 0, tick = 0;
    size_t n = 0;
    if (tmi_copy_local(m, node, &inc, &seq, &tick, &n)) {
        s_consider(f, S_SELF, inc, seq, tick, n);
    }
    const char *argv[] = {"mesh-standby", node};
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self || p == dead || p->name[0] == '\0' ||
            p->state != TMI_ALIVE) {
            continue;
        }
        f->seqs[i] = tmi_mesh_request(m, p, false, 2, argv);
        f->waiting += f->seqs[i] != 0;
    }
    f->deadline = tm_time_now() + S_ASK_S;
    if (f->waiting == 0) {
        s_decide(m);
    }
    return 0;
}

bool tmi_failover_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                        const tm_console_rep_t *rep)
{
    tmi_failover_t *f = m->failover;
    uint32_t i = tmi_mesh_index(m, p);
    if (f == NULL || seq == 0) {
        return false;
    }
    if (f->taking) {
        if (seq != f->take_seq) {
            return false;
        }
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg, "%.*s", (int)rep->message_len, rep->message);
        s_end(m, rep->status, msg);
        return true;
    }
    if (i >= TMI_PEERS_MAX || f->seqs[i] != seq) {
        return false;
    }
    f->seqs[i] = 0;
    f->waiting--;
    bool has = false;
    uint64_t inc = 0, s = 0, tick = 0, actors = 0;
    msgpack_zone zone;
    msgpack_object obj;
    if (rep->status == 0 && rep->body_len > 0 &&
        msgpack_zone_init(&zone, 1024)) {
        int h = 0;
        has =
            tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj) == 0 &&
            obj.type == MSGPACK_OBJECT_MAP &&
            tm_wire_get_bool(&obj, "has", &h) == 0 && h &&
            tm_wire_get_u64(&obj, "inc", &inc) == 0 &&
            tm_wire_get_u64(&obj, "seq", &s) == 0 &&
            tm_wire_get_u64(&obj, "tick", &tick) == 0 &&
            tm_wire_get_u64(&obj, "actors", &actors) == 0;
        msgpack_zone_destroy(&zone);
    }
    if (has) {
        s_consider(f, i, inc, s, tick, actors);
    }
    if (f->waiting == 0) {
        s_decide(m);
    }
    return true;
}

void tmi_failover_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                          const char *const *argv, tm_reply_t *rep)
{
    char msg[TM_CMD_MSG_MAX];
    (void)p;
    if (argc != 2) {
        tm_reply_error(rep, TM_ERR_USAGE, "mesh-takeover NODE");
        return;
    }
    int rc = tmi_failover_take(m, argv[1], msg, sizeof msg);
    if (rc != 0) {
        tm_reply_error(rep, rc, "%s", msg);
        return;
    }
    tm_reply_msg(rep, "%s", msg);
    tm_reply_done(rep);
}

void tmi_failover_beat(tm_mesh_t *m)
{
    tmi_failover_t *f = m->failover;
    if (f == NULL || tm_time_now() < f->deadline) {
        return;
    }
    if (f->taking) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "node %s did not answer within %.0f s; see `actors` and its "
                 "log for which actors it runs now",
                 m->peers[f->best].name, S_TAKE_S);
        s_end(m, TM_ERR_TIMEOUT, msg);
        return;
    }
    memset(f->seqs, 0, sizeof f->seqs);
    f->waiting = 0;
    s_decide(m); /* with the answers that came */
}

void tmi_failover_free(tm_mesh_t *m)
{
    if (m->failover != NULL) {
        s_end(m, TM_ERR_CLOSED, "node stopping; the failover did not finish");
    }
}
