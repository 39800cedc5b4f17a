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
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_place.h"
#include "tm_rollout.h"
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

typedef enum {
    S_ALIGN,
    S_ASK,
    S_HOLD,
    S_ADOPT,
    S_ANNOUNCE,
    S_SETTLE
} s_phase_t;

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
    bool ask_at; /* every member answered the target tick, paused */
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
    mv->ask_at = true;
    memset(mv->seqs, 0, sizeof mv->seqs);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (s_alive(&m->peers[i])) {
            mv->seqs[i] = tmi_mesh_request(m, &m->peers[i], false, 1, argv);
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

static void s_asked(tmi_move_t *mv, const tm_console_rep_t *rep)
{
    msgpack_zone zone;
    msgpack_object obj;
    uint64_t tick = 0;
    int paused = 0, running = 1, held = 0;
    int rc = rep->status;
    if (rc == 0) {
        msgpack_zone_init(&zone, 256);
        rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
        rc = rc ? rc : tm_wire_get_u64(&obj, "tick", &tick);
        rc = rc ? rc : tm_wire_get_bool(&obj, "paused", &paused);
        rc = rc ? rc : tm_wire_get_bool(&obj, "running", &running);
        rc = rc ? rc : tm_wire_get_bool(&obj, "held", &held);
        msgpack_zone_destroy(&zone);
    }
    bool at = rc == 0 && tick == mv->target && paused && !running;
    mv->ask_at &= at;
    mv->ask_ok &= at && held;
    if (rc == 0 && tick > mv->ask_max) {
        mv->ask_max = tick;
    }
}

/* ---- 2. adopt ----------------------------------------------------------- */

static void s_adopt_next(tmi_move_t *mv);

/* Every member is at the target: once this node holds their link batches
 * up to it (with lookahead, the last ones may come after their ticks'
 * steps), they go into the proxies, so that the package carries the
 * sources' past outputs as they were, not a proxy's carried-forward
 * value. */
static void s_hold(tmi_move_t *mv)
{
    tm_mesh_t *m = mv->m;
    /* and a rollout's decision of the tick waits for no checkpoint */
    if (!tmi_sync_held(m, mv->target) ||
        tm_rollout_waiting(m->ctx != NULL ? m->ctx->rollout : NULL)) {
        mv->phase = S_HOLD;
        return;
    }
    tmi_sync_before(mv->m, mv->target);
    s_adopt_next(mv);
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
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc =
        tmi_move_pack(m, mv->ids + from, n, mv->epoch + from, &bytes, &len);
    uint64_t upload = ++m->next_seq;
    char id[32];
    char file[48];
    snprintf(id, sizeof id, "%llu", (unsigned long long)upload);
    snprintf(file, sizeof file, "move-%s", id);
    rc = rc ? rc : tmi_mesh_send_file(m, p, upload, file, bytes, len);
    free(bytes);
    const char *argv[] = {"mesh-adopt", id};
    mv->adopt_seq = rc == 0 ? tmi_mesh_request(m, p, true, 2, argv) : 0;
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
                uint64_t seq =
                    tmi_mesh_request(m, &m->peers[j], false, argc, argv);
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
    m->move = NULL; /* no longer holds this node's clock */
    tm_sched_set_mode(m->sched, mv->mode);
    tm_mesh_clock(m, mv->mode); /* also releases the members' hold */
    char msg[TM_CMD_MSG_MAX];
    if (mv->status == 0) {
        snprintf(msg, sizeof msg,
                 "moved %zu actor%s at tick %llu; clock %s again", mv->n_moved,
                 mv->n_moved == 1 ? "" : "s", (unsigned long long)mv->target,
                 tm_clock_name(mv->mode));
    } else {
        snprintf(msg, sizeof msg, "%.900s%s; %zu of %zu actors moved", mv->why,
                 mv->n_moved > 0 ? " (those moved run on their new node)" : "",
                 mv->n_moved, mv->n);
        tm_log(TM_LOG_WARN, "mesh: %s: %s", mv->what, msg);
    }
    mv->later->send(mv->later, mv->status, msg, false, NULL, 0);
    mv->later->free(mv->later);
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
               mv->phase == S_ADOPT  ? "no answer from the new node"
               : mv->phase == S_HOLD ? "the link values of the last ticks did "
                                       "not arrive from every member"
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
    case S_HOLD:
        s_hold(mv);
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
            s_hold(mv);
        } else if (mv->waiting == 0 && mv->ask_at) {
            /* there, but a member's last batches (or a rollout's
             * decision) are on their way: ask again at the next poll */
            mv->phase = S_ALIGN;
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

/* drain: every actor of this node where placement puts it (tm_mesh_place:
 * the least loaded live member at this node's site, else anywhere; never
 * this node), each placement counted for the next. */
typedef struct {
    tm_mesh_t *m;
    tmi_move_t *mv;
    int rc;
    char why[TM_PLACE_WHY_MAX];
} s_drain_t;

static int s_drain_cb(const tm_rt_actor_t *a, void *arg)
{
    s_drain_t *d = arg;
    tm_mesh_t *m = d->m;
    char node[TM_MSG_NAME_MAX + 1];
    int rc = tm_mesh_place(m, m->site, m->name, 1, node, sizeof node, d->why,
                           sizeof d->why);
    if (rc == TM_ERR_NOT_FOUND) { /* no other node at this site */
        rc = tm_mesh_place(m, NULL, m->name, 1, node, sizeof node, d->why,
                           sizeof d->why);
    }
    tmi_peer_t *p = rc == 0 ? tmi_mesh_peer(m, node) : NULL;
    if (p == NULL) {
        d->rc = rc != 0 ? rc : TM_ERR_NODE_DOWN;
        return 1;
    }
    tmi_move_t *mv = d->mv;
    snprintf(mv->ids[mv->n], sizeof mv->ids[0], "%s", a->id);
    mv->dest[mv->n++] = tmi_mesh_index(m, p);
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
    s_drain_t d = {m, NULL, 0, ""};
    d.mv = s_new(m, n);
    if (d.mv == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    tm_rt_foreach(m->rt, s_drain_cb, &d);
    if (d.rc != 0) {
        s_release(d.mv);
        snprintf(why, cap, "no node to move the actors to: %.900s", d.why);
        return d.rc == TM_ERR_NOT_FOUND ? TM_ERR_NODE_DOWN : d.rc;
    }
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

bool tmi_move_holds(const tm_mesh_t *m)
{
    return (m->move != NULL && m->move->phase >= S_ADOPT) ||
           (m->move_hold_until > 0 && tm_time_now() < m->move_hold_until);
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
