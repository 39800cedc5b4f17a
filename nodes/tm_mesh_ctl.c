/* tm_mesh_ctl: operations on the whole mesh - runs, clock changes, the
 * mesh digest - and the control requests nodes send each other for them.
 *
 * Control requests travel as console requests (the same hardened codec)
 * whose argv[0] is one of:
 *
 *   mesh-dir              send me your whole directory
 *   mesh-sub EPOCH IDS..  I read these actors of yours (tm_mesh_sync.c)
 *   mesh-run TARGET       run to tick TARGET, then pause
 *   mesh-clock MODE       change your clock
 *   mesh-hash             your part of the mesh digest
 *   mesh-why              what holds your next tick
 *
 * They are accepted only on the mesh socket, from members; a console
 * cannot send them (they are not in the command table).
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- requests from peers ------------------------------------------------ */

static int s_u64_arg(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9') {
        return TM_ERR_USAGE;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
        return TM_ERR_USAGE;
    }
    *out = v;
    return 0;
}

static int s_ctl_run(tm_mesh_t *m, tmi_peer_t *p, const char *arg,
                     tm_reply_t *rep)
{
    uint64_t target = 0;
    if (s_u64_arg(arg, &target) != 0) {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-run TARGET");
    }
    if (m->sched == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED, "no clock here");
    }
    m->move_hold_until = 0; /* a move that holds the mesh runs it on */
    int rc = tm_sched_run_to(m->sched, target);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "node %s cannot run to tick %llu: %s",
                              m->name, (unsigned long long)target,
                              tm_err_str(rc));
    }
    tm_log(TM_LOG_INFO, "mesh: running to tick %llu (asked by %s)",
           (unsigned long long)target, p->name);
    tm_reply_msg(rep, "running to tick %llu", (unsigned long long)target);
    return 0;
}

static int s_ctl_clock(tm_mesh_t *m, tmi_peer_t *p, const char *arg,
                       tm_reply_t *rep)
{
    tm_clock_t mode;
    if (arg == NULL || tm_clock_parse(arg, &mode) != 0) {
        return tm_reply_error(rep, TM_ERR_USAGE, "mesh-clock MODE");
    }
    if (m->sched == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED, "no clock here");
    }
    m->move_hold_until = 0; /* a move that held the mesh ends with this */
    tm_sched_set_mode(m->sched, mode);
    tm_log(TM_LOG_INFO, "mesh: clock %s at tick %llu (asked by %s)",
           tm_clock_name(mode), (unsigned long long)tm_rt_tick(m->rt), p->name);
    tm_reply_msg(rep, "clock %s", tm_clock_name(mode));
    return 0;
}

static int s_ctl_hash(tm_mesh_t *m, tm_reply_t *rep)
{
    tm_rt_digest_part_t part;
    char hex[65];
    int rc = tm_rt_digest_part(m->rt, &part);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "digest: %s", tm_err_str(rc));
    }
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", part.sum[i]);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_u64(b, "tick", tm_rt_tick(m->rt));
    tm_body_kv_u64(b, "actors", part.actors);
    tm_body_kv_str(b, "sum", hex);
    tm_body_kv_bool(b, "waiting",
                    m->sched != NULL && tm_sched_waiting(m->sched));
    tm_body_end(b);
    return tm_reply_done(rep);
}

/* ---- why-stuck ---------------------------------------------------------- */

static void s_why_self(tm_mesh_t *m, tmi_why_row_t *row)
{
    tmi_why_t w;
    memset(row, 0, sizeof *row);
    snprintf(row->node, sizeof row->node, "%s", m->name);
    snprintf(row->state, sizeof row->state, "%s",
             m->stopping ? "stopping" : "up");
    row->tick = tm_rt_tick(m->rt);
    if (m->sched == NULL) {
        snprintf(row->clock, sizeof row->clock, "paused");
        snprintf(row->reason, sizeof row->reason, "no clock");
        return;
    }
    snprintf(row->clock, sizeof row->clock, "%s", tm_sched_label(m->sched));
    tm_sched_run_t r;
    tm_sched_run_info(m->sched, &r);
    bool wants = r.active || tm_sched_mode(m->sched) != TM_CLOCK_PAUSED;
    tmi_sync_why(m, &w); /* not the clock's flag: a kick clears it briefly */
    if (wants && w.reason[0] != '\0' &&
        !(r.active && row->tick >= r.start + r.ticks)) {
        snprintf(row->waiting_for, sizeof row->waiting_for, "%s", w.node);
        row->wait_tick = w.tick;
        snprintf(row->reason, sizeof row->reason, "%s", w.reason);
    } else if (r.active && row->tick >= r.start + r.ticks) {
        snprintf(row->reason, sizeof row->reason,
                 "the run's ticks are done here; waiting for the other "
                 "nodes to reach tick %llu",
                 (unsigned long long)m->run_target);
    } else if (r.active) {
        snprintf(row->reason, sizeof row->reason,
                 "stepping: a run to tick %llu",
                 (unsigned long long)(r.start + r.ticks));
    } else if (tm_sched_mode(m->sched) == TM_CLOCK_PAUSED) {
        snprintf(row->reason, sizeof row->reason,
                 "paused: the clock is paused (`clock fast`, `clock "
                 "realtime` or `run --ticks N` steps it)");
    } else {
        snprintf(row->reason, sizeof row->reason, "stepping (%s)",
                 tm_sched_label(m->sched));
    }
}

static void s_pack_why(tm_body_t *b, const tmi_why_row_t *row)
{
    tm_body_map(b);
    tm_body_kv_str(b, "node", row->node);
    tm_body_kv_str(b, "state", row->state);
    tm_body_kv_str(b, "clock", row->clock);
    tm_body_kv_u64(b, "tick", row->tick);
    tm_body_kv_str(b, "waiting_for", row->waiting_for);
    tm_body_kv_u64(b, "wait_tick", row->wait_tick);
    tm_body_kv_str(b, "reason", row->reason);
    tm_body_end(b);
}

static int s_unpack_why(const tm_console_rep_t *rep, tmi_why_row_t *row)
{
    msgpack_zone zone;
    msgpack_object obj;
    const char *str = NULL;
    size_t len = 0;
    static const char *const keys[] = {"node", "state", "clock", "waiting_for",
                                       "reason"};
    char *dst[] = {row->node, row->state, row->clock, row->waiting_for,
                   row->reason};
    size_t cap[] = {sizeof row->node, sizeof row->state, sizeof row->clock,
                    sizeof row->waiting_for, sizeof row->reason};
    msgpack_zone_init(&zone, 512);
    int rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
    rc = rc ? rc : tm_wire_get_u64(&obj, "tick", &row->tick);
    rc = rc ? rc : tm_wire_get_u64(&obj, "wait_tick", &row->wait_tick);
    for (int i = 0; i < 5 && rc == 0; i++) {
        rc = tm_wire_get_str(&obj, keys[i], &str, &len);
        if (rc == 0) {
            snprintf(dst[i], cap[i], "%.*s", (int)len, str);
        }
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

bool tmi_ctl_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                     const char *const *argv, tm_reply_t *rep)
{
    const char *cmd = argv[0];
    const char *arg = argc > 1 ? argv[1] : NULL;
    tm_reply_reset(rep);
    if (strncmp(cmd, "mesh-", 5) != 0) {
        return false;
    }
    if (strcmp(cmd, "mesh-dir") == 0) {
        tmi_dir_send_whole(m, p);
        tm_reply_msg(rep, "directory sent");
    } else if (strcmp(cmd, "mesh-sub") == 0) {
        tmi_sync_subscribe(m, p, argc, argv, rep);
    } else if (strcmp(cmd, "mesh-run") == 0) {
        s_ctl_run(m, p, arg, rep);
    } else if (strcmp(cmd, "mesh-clock") == 0) {
        s_ctl_clock(m, p, arg, rep);
    } else if (strcmp(cmd, "mesh-tick") == 0) {
        tmi_move_tick_request(m, rep);
    } else if (strcmp(cmd, "mesh-hash") == 0) {
        s_ctl_hash(m, rep);
    } else if (strcmp(cmd, "mesh-models-load") == 0) {
        tmi_models_request(m, p, argc, argv, rep);
    } else if (strcmp(cmd, "mesh-why") == 0) {
        tmi_why_row_t row;
        s_why_self(m, &row);
        s_pack_why(tm_reply_body(rep), &row);
        tm_reply_done(rep);
    } else {
        tm_reply_error(rep, TM_ERR_UNKNOWN_COMMAND,
                       "unknown control request '%.64s'", cmd);
    }
    return true;
}

/* ---- sending to every member ------------------------------------------- */

/* Send argv to every member that is not dead; the seq of each request in
 * seqs (0 when not sent). Returns how many were sent. */
static uint32_t s_broadcast(tm_mesh_t *m, int argc, const char *const *argv,
                            uint64_t *seqs)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    uint32_t sent = 0;
    if (tm_console_req_encode((uint32_t)argc, argv, &payload, &len) != 0) {
        return 0;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        uint64_t seq = ++m->next_seq;
        if (seqs != NULL) {
            seqs[i] = 0;
        }
        if (p->self || p->name[0] == '\0' || p->state == TMI_DEAD) {
            continue;
        }
        if (tmi_mesh_send(m, p, false, TM_MSG_CONSOLE_REQ, seq, payload, len) ==
            0) {
            sent++;
            if (seqs != NULL) {
                seqs[i] = seq;
            }
        }
    }
    free(payload);
    return sent;
}

uint32_t tm_mesh_broadcast(tm_mesh_t *m, int argc, const char *const *argv)
{
    return s_broadcast(m, argc, argv, NULL);
}

uint64_t tmi_ctl_max_tick(const tm_mesh_t *m)
{
    uint64_t t = tm_rt_tick(m->rt);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && p->state != TMI_DEAD &&
            p->tick > t) {
            t = p->tick;
        }
    }
    return t;
}

int tm_mesh_run(tm_mesh_t *m, uint64_t ticks, uint64_t *target, char *why,
                size_t cap)
{
    uint64_t from = tmi_ctl_max_tick(m);
    if (ticks > UINT64_MAX - from) {
        snprintf(why, cap, "tick numbers end at %llu",
                 (unsigned long long)UINT64_MAX);
        return TM_ERR_RANGE;
    }
    *target = from + ticks;
    char arg[32];
    snprintf(arg, sizeof arg, "%llu", (unsigned long long)*target);
    const char *argv[] = {"mesh-run", arg};
    s_broadcast(m, 2, argv, NULL);
    m->run_target = *target;
    return 0;
}

void tm_mesh_clock(tm_mesh_t *m, tm_clock_t mode)
{
    const char *argv[] = {"mesh-clock", tm_clock_name(mode)};
    s_broadcast(m, 2, argv, NULL);
}

/* Is another node still short of the mesh run's target tick? */
bool tmi_ctl_hold(void *arg)
{
    tm_mesh_t *m = arg;
    if (tmi_move_holds(m)) {
        return true;
    }
    if (m->run_target == 0) {
        return false;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && p->state != TMI_DEAD &&
            p->tick < m->run_target) {
            return true;
        }
    }
    return false;
}

void tmi_ctl_run_end(void *arg, int status, const char *why)
{
    (void)status;
    (void)why;
    tm_mesh_t *m = arg;
    m->run_target = 0;
    tmi_mesh_beat(m); /* tell the others this node is there */
}

/* ---- the mesh digest ---------------------------------------------------- */

static int s_hex32(const char *s, size_t len, unsigned char out[32])
{
    if (len != 64) {
        return TM_ERR_WIRE_FIELD;
    }
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            return TM_ERR_WIRE_FIELD;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

/* why-stuck: every row, in the order the answers came (this node's
 * first). */
static void s_why_finish(tmi_gather_t *g, tm_reply_t *rep)
{
    uint32_t stuck = 0;
    tm_body_t *b = tm_reply_body(rep);
    tm_body_array(b);
    for (uint32_t i = 0; i < g->n; i++) {
        s_pack_why(b, &g->rows[i]);
        stuck += g->rows[i].waiting_for[0] != '\0' ||
                 strcmp(g->rows[i].state, "dead") == 0;
    }
    tm_body_end(b);
    tm_reply_msg(rep, "%u of %u nodes wait on another node", stuck, g->n);
    tm_reply_done(rep);
}

static void s_gather_finish(tmi_gather_t *g)
{
    if (g->is_rows) {
        tmi_rows_finish(g->m, g);
        return;
    }
    tm_reply_t rep;
    tm_reply_init(&rep);
    uint8_t d[32];
    char hex[65];
    uint64_t actors = 0;
    if (g->is_why) {
        g->status = 0; /* nodes that did not answer are rows too */
        s_why_finish(g, &rep);
        g->n = 0;
    }
    for (uint32_t i = 1; i < g->n && g->status == 0; i++) {
        if (g->ticks[i] != g->ticks[0]) {
            g->status = TM_ERR_BUSY;
            snprintf(g->why, sizeof g->why,
                     "the nodes are at different ticks (%llu here, %llu on "
                     "another): the mesh digest needs one tick; `clock "
                     "pause` then `run --ticks N` ends with every node on "
                     "one tick",
                     (unsigned long long)g->ticks[0],
                     (unsigned long long)g->ticks[i]);
        }
    }
    if (g->status == 0 && !g->is_why &&
        tm_rt_digest_combine(g->parts, g->n, d) != 0) {
        g->status = TM_ERR_INTERNAL;
        snprintf(g->why, sizeof g->why, "the parts of the digest disagree");
    }
    if (g->status == 0 && !g->is_why) {
        for (uint32_t i = 0; i < g->n; i++) {
            actors += g->parts[i].actors;
        }
        for (int i = 0; i < 32; i++) {
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        }
        tm_body_t *b = tm_reply_body(&rep);
        tm_body_map(b);
        tm_body_kv_u64(b, "tick", g->ticks[0]);
        tm_body_kv_str(b, "digest", hex);
        tm_body_kv_u64(b, "actors", actors);
        tm_body_kv_u64(b, "nodes", g->n);
        tm_body_end(b);
        tm_reply_msg(&rep, "tick %llu digest %s",
                     (unsigned long long)g->ticks[0], hex);
        tm_reply_done(&rep);
    }
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(&rep, &len);
    g->later->send(g->later, g->status, g->status == 0 ? rep.message : g->why,
                   false, g->status == 0 ? body : NULL,
                   g->status == 0 ? len : 0);
    g->later->free(g->later);
    tm_reply_destroy(&rep);
    free(g->rows);
    g->rows = NULL;
    g->used = false;
}

/* A free gather slot, zeroed; NULL (with why) when all are in use. */
static tmi_gather_t *s_slot(tm_mesh_t *m, char *why, size_t cap)
{
    for (size_t i = 0; i < TMI_GATHERS; i++) {
        if (!m->gathers[i].used) {
            memset(&m->gathers[i], 0, sizeof m->gathers[i]);
            return &m->gathers[i];
        }
    }
    snprintf(why, cap, "too many requests in progress; try again");
    return NULL;
}

/* argv to every member not dead; the answers to g, which ends after
 * `seconds` at most (at once when nobody was asked). */
static void s_gather_start(tm_mesh_t *m, tmi_gather_t *g, int argc,
                           const char *const *argv, tm_console_later_t *later,
                           double seconds)
{
    g->expected = s_broadcast(m, argc, argv, g->seqs);
    g->later = later;
    g->used = true;
    g->deadline = tm_time_now() + seconds;
    if (g->expected == 0) {
        s_gather_finish(g);
    }
}

int tm_mesh_why_stuck(tm_mesh_t *m, tm_console_later_t *later, char *why,
                      size_t cap)
{
    tmi_gather_t *g = s_slot(m, why, cap);
    if (g == NULL) {
        return TM_ERR_BUSY;
    }
    g->rows = calloc(TMI_PEERS_MAX + 1, sizeof *g->rows);
    if (g->rows == NULL) {
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    g->is_why = true;
    s_why_self(m, &g->rows[0]);
    g->n = 1;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->state == TMI_DEAD) { /* not asked: said here */
            tmi_why_row_t *r = &g->rows[g->n++];
            snprintf(r->node, sizeof r->node, "%.64s",
                     p->name[0] != '\0' ? p->name : p->endpoint);
            snprintf(r->state, sizeof r->state, "dead");
            snprintf(r->clock, sizeof r->clock, "%s", p->clock);
            r->tick = p->tick;
            snprintf(r->reason, sizeof r->reason,
                     "dead: not heard from for %.1f s (last at tick %llu); "
                     "nodes that read its values wait for it",
                     tm_time_now() - p->last_heard,
                     (unsigned long long)p->tick);
        }
    }
    const char *argv[] = {"mesh-why"};
    s_gather_start(m, g, 1, argv, later, 3.0);
    return 0;
}

int tm_mesh_hash(tm_mesh_t *m, tm_console_later_t *later, char *why, size_t cap)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && p->state != TMI_ALIVE) {
            snprintf(why, cap,
                     "node %s is %s: the mesh digest needs every node's part",
                     p->name, p->state == TMI_DEAD ? "dead" : "suspect");
            return TM_ERR_NODE_DOWN;
        }
    }
    tmi_gather_t *g = s_slot(m, why, cap);
    if (g == NULL) {
        return TM_ERR_BUSY;
    }
    int rc = tm_rt_digest_part(m->rt, &g->parts[0]);
    if (rc != 0) {
        snprintf(why, cap, "digest: %s", tm_err_str(rc));
        return rc;
    }
    g->ticks[0] = tm_rt_tick(m->rt);
    g->n = 1;
    const char *argv[] = {"mesh-hash"};
    s_gather_start(m, g, 1, argv, later, 10.0);
    return 0;
}

int tm_mesh_rows(tm_mesh_t *m, int argc, const char *const *argv,
                 const uint8_t *own, size_t own_len,
                 const tm_mesh_rows_opts_t *o, tm_console_later_t *later,
                 char *why, size_t cap)
{
    tmi_gather_t *g = s_slot(m, why, cap);
    if (g == NULL) {
        return TM_ERR_BUSY;
    }
    tm_console_rep_t mine = {.body = own, .body_len = own_len};
    if (tmi_rows_part(g, UINT32_MAX, &mine) != 0) {
        free(g->rparts);
        g->rparts = NULL;
        snprintf(why, cap, "out of memory");
        return TM_ERR_NOMEM;
    }
    g->sort_key = o != NULL ? o->sort_key : NULL;
    g->limit = o != NULL ? o->limit : 0;
    g->unique = o != NULL && o->unique;
    g->is_rows = true;
    g->m = m;
    s_gather_start(m, g, argc, argv, later, 3.0);
    return 0;
}

static void s_gather_part(tmi_gather_t *g, uint32_t i,
                          const tm_console_rep_t *rep, const char *name)
{
    if (g->is_rows) {
        (void)tmi_rows_part(g, i, rep);
        return;
    }
    if (g->is_why) {
        tmi_why_row_t *r = &g->rows[g->n];
        g->got[i] = true;
        if (rep->status != 0 || s_unpack_why(rep, r) != 0) {
            memset(r, 0, sizeof *r);
            snprintf(r->node, sizeof r->node, "%s", name);
            snprintf(
                r->reason, sizeof r->reason, "did not say (%s)",
                tm_err_str(rep->status != 0 ? rep->status : TM_ERR_WIRE_FIELD));
        }
        g->n++;
        return;
    }
    msgpack_zone zone;
    msgpack_object obj;
    const char *sum = NULL;
    size_t sum_len = 0;
    tm_rt_digest_part_t *part = &g->parts[g->n];
    int rc = rep->status;
    g->got[i] = true;
    if (rc == 0) {
        msgpack_zone_init(&zone, 512);
        rc = tm_wire_unpack(rep->body, rep->body_len, NULL, &zone, &obj);
        rc = rc ? rc : tm_wire_get_u64(&obj, "tick", &g->ticks[g->n]);
        rc = rc ? rc : tm_wire_get_u64(&obj, "actors", &part->actors);
        rc = rc ? rc : tm_wire_get_str(&obj, "sum", &sum, &sum_len);
        rc = rc ? rc : s_hex32(sum, sum_len, part->sum);
        part->tick = g->ticks[g->n];
        msgpack_zone_destroy(&zone);
    }
    if (rc != 0 && g->status == 0) {
        g->status = rc;
        snprintf(g->why, sizeof g->why,
                 "node %s did not give its part of the digest: %s", name,
                 tm_err_str(rc));
    }
    g->n += rc == 0;
}

bool tmi_ctl_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                   const tm_console_rep_t *rep)
{
    uint32_t i = (uint32_t)(p - m->peers);
    for (size_t k = 0; k < TMI_GATHERS; k++) {
        tmi_gather_t *g = &m->gathers[k];
        if (!g->used || seq == 0 || g->seqs[i] != seq || g->got[i]) {
            continue;
        }
        if (g->is_rows && rep->more && rep->status == 0) {
            (void)tmi_rows_part(g, i, rep); /* more parts come */
            return true;
        }
        s_gather_part(g, i, rep, p->name);
        g->expected--;
        if (g->expected == 0) {
            s_gather_finish(g);
        }
        return true;
    }
    return false;
}

/* why-stuck: a row for each asked node that did not answer in time. */
static void s_why_silent(tm_mesh_t *m, tmi_gather_t *g)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (g->seqs[i] == 0 || g->got[i]) {
            continue;
        }
        tmi_why_row_t *r = &g->rows[g->n++];
        snprintf(r->node, sizeof r->node, "%s", p->name);
        snprintf(r->state, sizeof r->state, "%s",
                 p->state == TMI_SUSPECT ? "suspect" : "silent");
        r->tick = p->tick;
        snprintf(r->reason, sizeof r->reason,
                 "did not answer within 3 s (last heard %.1f s ago)",
                 tm_time_now() - p->last_heard);
    }
}

void tmi_ctl_beat(tm_mesh_t *m)
{
    double now = tm_time_now();
    for (size_t k = 0; k < TMI_GATHERS; k++) {
        tmi_gather_t *g = &m->gathers[k];
        if (g->used && now > g->deadline && g->is_rows) {
            tmi_rows_finish(m, g);
        } else if (g->used && now > g->deadline && g->is_why) {
            s_why_silent(m, g);
            s_gather_finish(g);
        } else if (g->used && now > g->deadline) {
            g->status = TM_ERR_TIMEOUT;
            snprintf(g->why, sizeof g->why,
                     "%u nodes did not give their part of the digest within "
                     "10 s",
                     g->expected);
            s_gather_finish(g);
        }
    }
}

void tmi_ctl_free(tm_mesh_t *m)
{
    for (size_t k = 0; k < TMI_GATHERS; k++) {
        tmi_gather_t *g = &m->gathers[k];
        if (g->used) {
            g->status = TM_ERR_CLOSED;
            snprintf(g->why, sizeof g->why, "node stopping");
            s_gather_finish(g);
        }
    }
}
