/* tm_mesh: membership, failure detection, heartbeats, the mesh socket
 * and the service (requests between nodes: tm_mesh_req.c). */
#include "tm_mesh.h"

#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_models.h"
#include "tm_sock.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_HWM 100000

static const char *const s_pstate[] = {"joining", "alive", "suspect", "dead"};

/* ---- sending ------------------------------------------------------------ */

int tmi_mesh_frame(tm_mesh_t *m, tmi_peer_t *p, uint32_t type, uint64_t seq,
                   const uint8_t *payload, size_t len, uint8_t **frame,
                   size_t *flen)
{
    tm_envelope_t env;
    memset(&env, 0, sizeof env);
    env.type = type;
    snprintf(env.source, sizeof env.source, "%s", m->name);
    snprintf(env.destination, sizeof env.destination, "%s", p->name);
    env.tick = tm_rt_tick(m->rt);
    env.seq = seq;
    return tm_envelope_encode(&env, payload, len, frame, flen);
}

int tmi_mesh_send(tm_mesh_t *m, tmi_peer_t *p, bool data, uint32_t type,
                  uint64_t seq, const uint8_t *payload, size_t len)
{
    void *sock = data ? p->data : p->ctl;
    if (sock == NULL) {
        return TM_ERR_CLOSED;
    }
    if (data && p->out.q.n > 0) {
        tmi_sync_send_queued(p); /* the data socket keeps its order */
    }
    uint8_t *frame = NULL;
    size_t flen = 0;
    int rc = tmi_mesh_frame(m, p, type, seq, payload, len, &frame, &flen);
    if (rc == 0 && zmq_send(sock, frame, flen, ZMQ_DONTWAIT) < 0) {
        rc = tm_sock_err();
    }
    free(frame);
    return rc;
}

int tmi_mesh_send_file(tm_mesh_t *m, tmi_peer_t *p, uint64_t upload,
                       const char *file, const uint8_t *bytes, size_t len)
{
    tm_file_chunk_t c = {.upload = upload};
    snprintf(c.file, sizeof c.file, "%s", file);
    size_t off = 0;
    int rc = 0;
    do {
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
    } while (rc == 0 && !c.final);
    return rc;
}

tmi_peer_t *tmi_mesh_peer(tm_mesh_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && strcmp(p->name, name) == 0) {
            return p;
        }
    }
    return NULL;
}

uint32_t tmi_mesh_index(const tm_mesh_t *m, const tmi_peer_t *p)
{
    return (uint32_t)(p - m->peers);
}

/* ---- peers -------------------------------------------------------------- */

static void s_close_peer(tmi_peer_t *p)
{
    tm_sock_close(&p->ctl);
    tm_sock_close(&p->data);
}

/* Dial a peer at endpoint (configured or learned). NULL if the table is
 * full or the sockets cannot be made. */
static tmi_peer_t *s_add_peer(tm_mesh_t *m, const char *endpoint)
{
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (strcmp(m->peers[i].endpoint, endpoint) == 0) {
            return &m->peers[i];
        }
    }
    if (m->n_peers >= TMI_PEERS_MAX) {
        tm_log(TM_LOG_WARN, "mesh: more than %u peers; %s ignored",
               TMI_PEERS_MAX, endpoint);
        return NULL;
    }
    tmi_peer_t *p = &m->peers[m->n_peers];
    memset(p, 0, sizeof *p);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    if (strcmp(endpoint, m->endpoint) == 0) {
        p->self = true; /* our own endpoint in a shared list */
        m->n_peers++;
        return p;
    }
    tm_sock_opts_t o = {.hwm = S_HWM, .linger_ms = 0};
    int rc = tm_sock_open(&p->ctl, m->zctx, ZMQ_DEALER, endpoint,
                          TM_SOCK_CONNECT, &o);
    if (rc == 0) {
        rc = tm_sock_open(&p->data, m->zctx, ZMQ_DEALER, endpoint,
                          TM_SOCK_CONNECT, &o);
    }
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: cannot connect to %s: %s", endpoint,
               tm_err_str(rc));
        s_close_peer(p);
        return NULL;
    }
    p->last_heard = tm_time_now();
    p->state = TMI_JOINING;
    m->n_peers++;
    tm_log(TM_LOG_INFO, "mesh: dialing peer %s", endpoint);
    return p;
}

/* ---- directory (tm_mesh_dir.c) ------------------------------------------ */

static void s_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_mesh_t *m = w->data;
    if (m->n_add > 0 || m->n_del > 0) {
        tmi_dir_flush(m);
    }
    tmi_sync_flush(m);
    tmi_sync_send_idle(m);
}

static const char *s_remote(void *arg, const char *id, const tm_model_t **model)
{
    return tm_mesh_owner(arg, id, model);
}

/* ---- heartbeats --------------------------------------------------------- */

static void s_fill_hb(tm_mesh_t *m, tm_heartbeat_t *hb)
{
    memset(hb, 0, sizeof *hb);
    snprintf(hb->node, sizeof hb->node, "%s", m->name);
    snprintf(hb->site, sizeof hb->site, "%s", m->site);
    snprintf(hb->state, sizeof hb->state, "%s",
             m->stopping ? "stopping" : "up");
    snprintf(hb->endpoint, sizeof hb->endpoint, "%s", m->endpoint);
    snprintf(hb->clock, sizeof hb->clock, "%s",
             m->sched != NULL ? tm_sched_label(m->sched) : "paused");
    hb->tick = tm_rt_tick(m->rt);
    hb->actors = tm_rt_count(m->rt);
    hb->incarnation = m->inc;
    hb->step_us = tmi_mesh_step_us(m);
    for (uint32_t i = 0; i < m->n_peers && hb->n_members < TM_MSG_MEMBERS_MAX;
         i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0' && p->state != TMI_DEAD) {
            tm_member_t *mb = &hb->members[hb->n_members++];
            snprintf(mb->name, sizeof mb->name, "%s", p->name);
            snprintf(mb->endpoint, sizeof mb->endpoint, "%s", p->endpoint);
        }
    }
}

static void s_send_beats(tm_mesh_t *m)
{
    tm_heartbeat_t *hb = malloc(sizeof *hb);
    if (hb == NULL) {
        return;
    }
    s_fill_hb(m, hb);
    m->beat_tick = hb->tick;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        uint8_t *payload = NULL;
        size_t len = 0;
        hb->dir_seq = p->dir_sent ? p->out_seq : 0;
        if (tm_heartbeat_encode(hb, &payload, &len) == 0) {
            /* seq: which of our entries carried it (finds ourselves) */
            tmi_mesh_send(m, p, false, TM_MSG_HEARTBEAT, i + 1, payload, len);
        }
        free(payload);
    }
    free(hb);
}

static void s_set_state(tm_mesh_t *m, tmi_peer_t *p, tmi_pstate_t st)
{
    if (p->state == st) {
        return;
    }
    const char *name = p->name[0] != '\0' ? p->name : p->endpoint;
    tm_log(st == TMI_ALIVE ? TM_LOG_INFO : TM_LOG_WARN,
           "mesh: node %s is %s (was %s; last heard %.2f s ago)", name,
           s_pstate[st], s_pstate[p->state], tm_time_now() - p->last_heard);
    tmi_pstate_t was = p->state;
    p->state = st;
    if (st == TMI_DEAD) {
        char why[400];
        snprintf(why, sizeof why,
                 "node %s died before answering; the request may or may not "
                 "have been carried out there",
                 name);
        tmi_req_fail_pending(m, p, TM_ERR_NODE_DOWN, why);
    }
    if (st == TMI_ALIVE && was == TMI_DEAD) {
        tmi_sync_reset(m, p, false); /* values may have been lost */
    }
}

static void s_detect(tm_mesh_t *m)
{
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        double missed = (now - p->last_heard) / m->hb_s;
        if (missed >= m->dead) {
            s_set_state(m, p, TMI_DEAD);
        } else if (missed >= m->suspect && p->state == TMI_ALIVE) {
            s_set_state(m, p, TMI_SUSPECT);
        }
    }
    tmi_req_expire(m, now);
    tmi_wait_keepalive(m, now);
}

static void s_beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tm_mesh_t *m = w->data;
    s_detect(m);
    s_send_beats(m);
    tmi_sync_beat(m);
    tmi_ctl_beat(m);
    tmi_plan_beat(m);
    tmi_repl_beat(m);
    tmi_copy_beat(m);
    tmi_models_beat(m);
    tmi_failover_beat(m);
    tmi_lease_beat(m);
}

/* A peer restarted (or is new): forget its old directory and
 * subscriptions, send it ours. */
static void s_new_incarnation(tm_mesh_t *m, tmi_peer_t *p, uint64_t inc)
{
    if (p->inc != 0) {
        tm_log(TM_LOG_WARN, "mesh: node %s restarted (incarnation %llu)",
               p->name, (unsigned long long)inc);
    }
    p->inc = inc;
    tm_dir_drop_owner(&m->dir, tmi_mesh_index(m, p));
    p->dir_synced = false;
    p->dir_seq = 0;
    p->out_seq = 0;
    tmi_dir_send_whole(m, p);
    tmi_sync_reset(m, p, true);
    tmi_plan_peer_reset(m, p);
    tm_stage_drop(m->fstage, p->name, strlen(p->name));
    tmi_copy_peer_reset(m, p);
    tmi_models_send_all(m, p);
}

/* Which entry a heartbeat from `name` at `endpoint` belongs to: by name,
 * else by endpoint (then named), else a new one (a node that joined
 * through us or through a member). */
static tmi_peer_t *s_peer_of_hb(tm_mesh_t *m, const tm_heartbeat_t *hb)
{
    tmi_peer_t *p = tmi_mesh_peer(m, hb->node);
    if (p != NULL) {
        return p;
    }
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *q = &m->peers[i];
        if (!q->self && strcmp(q->endpoint, hb->endpoint) == 0) {
            snprintf(q->name, sizeof q->name, "%s", hb->node);
            return q;
        }
    }
    if (hb->endpoint[0] == '\0') {
        return NULL;
    }
    p = s_add_peer(m, hb->endpoint);
    if (p != NULL && !p->self) {
        snprintf(p->name, sizeof p->name, "%s", hb->node);
    }
    return p != NULL && !p->self ? p : NULL;
}

static void s_learn_members(tm_mesh_t *m, const tm_heartbeat_t *hb)
{
    for (uint32_t i = 0; i < hb->n_members; i++) {
        const tm_member_t *mb = &hb->members[i];
        if (strcmp(mb->name, m->name) == 0 || mb->endpoint[0] == '\0' ||
            tmi_mesh_peer(m, mb->name) != NULL) {
            continue;
        }
        tmi_peer_t *p = s_add_peer(m, mb->endpoint);
        if (p != NULL && !p->self && p->name[0] == '\0') {
            snprintf(p->name, sizeof p->name, "%s", mb->name);
        }
    }
}

static void s_on_heartbeat(tm_mesh_t *m, const tm_envelope_t *env)
{
    tm_heartbeat_t *hb = malloc(sizeof *hb);
    if (hb == NULL) {
        return;
    }
    if (tm_heartbeat_decode(env->payload, env->payload_len, NULL, hb) != 0) {
        m->malformed++;
        free(hb);
        return;
    }
    if (strcmp(hb->node, m->name) == 0) {
        if (hb->incarnation == m->inc && env->seq >= 1 &&
            env->seq <= m->n_peers) {
            tmi_peer_t *p = &m->peers[env->seq - 1];
            tm_log(TM_LOG_INFO, "mesh: %s is this node's own endpoint; skipped",
                   p->endpoint);
            s_close_peer(p);
            p->self = true;
        } else if (hb->incarnation != m->inc) {
            tm_log(TM_LOG_ERROR,
                   "mesh: another node at %s also calls itself %s; names "
                   "must be unique in a mesh",
                   hb->endpoint, m->name);
        }
        free(hb);
        return;
    }
    tmi_peer_t *p = s_peer_of_hb(m, hb);
    if (p != NULL) {
        snprintf(p->site, sizeof p->site, "%s", hb->site);
        snprintf(p->clock, sizeof p->clock, "%s", hb->clock);
        snprintf(p->nstate, sizeof p->nstate, "%s", hb->state);
        p->tick = hb->tick;
        tmi_place_heard(m, p, hb->actors);
        p->actors = hb->actors;
        p->step_us = hb->step_us;
        p->last_heard = tm_time_now();
        p->hb_dir_seq = hb->dir_seq;
        if (hb->incarnation != p->inc) {
            s_new_incarnation(m, p, hb->incarnation);
        } else if (!p->dir_sent) {
            tmi_dir_send_whole(m, p);
        }
        s_set_state(m, p, TMI_ALIVE);
        if (hb->dir_seq > p->dir_seq || !p->dir_synced) {
            tmi_dir_ask(m, p); /* a delta went missing */
        }
        s_learn_members(m, hb);
        if (m->sched != NULL) {
            if (strcmp(hb->clock, "realtime") == 0) {
                tm_sched_catch_up(m->sched, hb->tick); /* one mesh time */
            }
            tm_sched_kick(m->sched);
        }
    }
    free(hb);
}

/* ---- receiving ---------------------------------------------------------- */

static void s_on_frame(tm_mesh_t *m, const uint8_t *buf, size_t len)
{
    tm_envelope_t env;
    if (tm_envelope_decode(buf, len, NULL, &env) != 0) {
        m->malformed++;
        return;
    }
    m->received++;
    if (env.type == TM_MSG_HEARTBEAT) {
        s_on_heartbeat(m, &env);
        return;
    }
    tmi_peer_t *p = tmi_mesh_peer(m, env.source);
    if (p == NULL) {
        m->malformed++; /* not a member yet: its heartbeat comes first */
        return;
    }
    switch (env.type) {
    case TM_MSG_CONSOLE_REQ:
        tmi_req_on_request(m, p, &env);
        break;
    case TM_MSG_CONSOLE_REP:
        tmi_req_on_reply(m, p, &env);
        break;
    case TM_MSG_DIRECTORY:
        tmi_dir_on_message(m, p, &env);
        break;
    case TM_MSG_LINK_BATCH:
        tmi_sync_batch(m, p, env.seq, env.payload, env.payload_len);
        break;
    case TM_MSG_PLANT_CHUNK:
        tmi_plan_chunk(m, p, &env);
        break;
    case TM_MSG_FILE_CHUNK:
        if (!tmi_copy_chunk(m, p, &env)) {
            tmi_models_chunk(m, p, &env);
        }
        break;
    default:
        m->malformed++;
        break;
    }
}

/* One message from the ROUTER: routing id, then 1 to TMI_FRAMES_MAX
 * envelope frames (a node's link batches of several ticks go together),
 * each handled on its own; the frames beyond are dropped. */
static int s_one(void *arg, void *sock)
{
    tm_mesh_t *m = arg;
    zmq_msg_t part;
    int frames = 0;
    bool more = true;
    for (int i = 0; more && i <= (int)TMI_FRAMES_MAX; i++) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        frames = i + 1;
        if (i > 0) {
            s_on_frame(m, zmq_msg_data(&part), zmq_msg_size(&part));
        }
        zmq_msg_close(&part);
    }
    if (more && frames > (int)TMI_FRAMES_MAX) {
        tm_sock_drain(sock); /* too many frames: the rest is malformed */
        m->malformed++;
    } else if (frames == 1) {
        m->malformed++; /* a routing id alone */
    }
    return frames == 0 || m->stopping;
}

/* ---- queries ------------------------------------------------------------ */

size_t tm_mesh_nodes(const tm_mesh_t *m, tm_mesh_node_t *out, size_t cap)
{
    size_t n = 0;
    if (cap > 0) {
        out[0] = (tm_mesh_node_t){
            .name = m->name,
            .site = m->site,
            .endpoint = m->endpoint,
            .state = m->stopping ? "stopping" : "up",
            .clock = m->sched != NULL ? tm_sched_label(m->sched) : "paused",
            .incarnation = m->inc,
            .tick = tm_rt_tick(m->rt),
            .actors = tm_rt_count(m->rt),
            .self = true};
    }
    n++;
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (p->self) {
            continue;
        }
        if (n < cap) {
            out[n] = (tm_mesh_node_t){.name = p->name,
                                      .site = p->site,
                                      .endpoint = p->endpoint,
                                      .state = s_pstate[p->state],
                                      .clock = p->clock,
                                      .incarnation = p->inc,
                                      .tick = p->tick,
                                      .actors = p->actors,
                                      .heard_s = now - p->last_heard};
        }
        n++;
    }
    return n;
}

const char *tm_mesh_owner(const tm_mesh_t *m, const char *id,
                          const tm_model_t **model)
{
    const tm_dir_ent_t *e = tm_dir_get(&m->dir, id);
    if (e == NULL) {
        return NULL;
    }
    if (model != NULL) {
        tm_fidelity_t f;
        *model = NULL;
        if (tm_fidelity_parse(e->tier, &f) == 0) {
            tm_models_find_spec(e->model, f, model);
        }
    }
    return m->peers[e->owner].name;
}

bool tm_mesh_stale(const tm_mesh_t *m, const char *id)
{
    const tm_dir_ent_t *e = tm_dir_get(&m->dir, id);
    return e != NULL && m->peers[e->owner].in.holding;
}

bool tm_mesh_knows(const tm_mesh_t *m, const char *name)
{
    return strcmp(name, m->name) == 0 ||
           tmi_mesh_peer((tm_mesh_t *)m, name) != NULL;
}

size_t tm_mesh_conflicts(const tm_mesh_t *m, char (*out)[200], size_t cap)
{
    const tm_dir_t *d = &m->dir;
    for (size_t i = 0; i < d->n_conflicts && i < cap; i++) {
        const tm_dir_conflict_t *c = &d->conflicts[i];
        snprintf(out[i], 200, "%s: nodes %s and %s", c->id,
                 m->peers[c->owner].name,
                 c->other == UINT32_MAX ? m->name : m->peers[c->other].name);
    }
    return d->n_conflicts;
}

void tm_mesh_foreach_remote(const tm_mesh_t *m, tm_mesh_actor_fn fn, void *arg)
{
    for (size_t i = 0; i < m->dir.n; i++) {
        const tm_dir_ent_t *e = &m->dir.ents[i];
        if (fn(arg, e->id, m->peers[e->owner].name, e->model, e->tier) != 0) {
            return;
        }
    }
}

void tmi_mesh_beat(tm_mesh_t *m)
{
    s_send_beats(m);
}

/* ---- service ------------------------------------------------------------ */

static int s_attach(void *self, struct ev_loop *loop)
{
    tm_mesh_t *m = self;
    m->loop = loop;
    tm_zwatch_start(&m->watch, loop);
    ev_timer_start(loop, &m->beat);
    ev_prepare_start(loop, &m->flush);
    tmi_repl_attach(m, loop);
    s_send_beats(m); /* at once: peers learn of us without a wait */
    return 0;
}

static uint64_t s_st_peers(void *a)
{
    const tm_mesh_t *m = a;
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        n += !m->peers[i].self && m->peers[i].state == TMI_ALIVE;
    }
    return n;
}

static uint64_t s_st_received(void *a)
{
    return ((tm_mesh_t *)a)->received;
}

static uint64_t s_st_malformed(void *a)
{
    return ((tm_mesh_t *)a)->malformed;
}

static uint64_t s_st_forwarded(void *a)
{
    return ((tm_mesh_t *)a)->forwarded;
}

static uint64_t s_st_remote(void *a)
{
    return ((tm_mesh_t *)a)->dir.n;
}

static uint64_t s_st_waits(void *a)
{
    return ((tm_mesh_t *)a)->sync_waits;
}

static uint64_t s_st_held(void *a)
{
    return ((tm_mesh_t *)a)->held_ticks;
}

static uint64_t s_st_conflicts(void *a)
{
    const tm_mesh_t *m = a;
    return m->dir.n_conflicts + m->dir.conflicts_dropped;
}

/* Batches received and refused (another list's, too old or too early),
 * sent and dropped (high-water mark), and the messages that carried those
 * sent, summed over the peers. */
static uint64_t s_st_batch(const tm_mesh_t *m, int which)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        n += which == 0   ? p->in.batches
             : which == 1 ? p->in.stale
             : which == 2 ? p->out.sent
             : which == 3 ? p->out.dropped
                          : p->out.bursts;
    }
    return n;
}

static uint64_t s_st_b_msgs(void *a)
{
    return s_st_batch(a, 4);
}

static uint64_t s_st_b_in(void *a)
{
    return s_st_batch(a, 0);
}

static uint64_t s_st_b_stale(void *a)
{
    return s_st_batch(a, 1);
}

static uint64_t s_st_b_out(void *a)
{
    return s_st_batch(a, 2);
}

static uint64_t s_st_b_dropped(void *a)
{
    return s_st_batch(a, 3);
}

static uint64_t s_st_repl(const tm_mesh_t *m, int which)
{
    tmi_repl_stats_t s;
    tmi_repl_stats((tm_mesh_t *)m, &s);
    return which == 0   ? s.queued
           : which == 1 ? s.acked
           : which == 2 ? s.full_copies
           : which == 3 ? s.bytes_sent
           : which == 4 ? s.unconfirmed
                        : tmi_copy_count(m);
}

static uint64_t s_st_r_queued(void *a)
{
    return s_st_repl(a, 0);
}

static uint64_t s_st_r_acked(void *a)
{
    return s_st_repl(a, 1);
}

static uint64_t s_st_r_full(void *a)
{
    return s_st_repl(a, 2);
}

static uint64_t s_st_r_bytes(void *a)
{
    return s_st_repl(a, 3);
}

static uint64_t s_st_r_unconfirmed(void *a)
{
    return s_st_repl(a, 4);
}

static uint64_t s_st_r_copies(void *a)
{
    return s_st_repl(a, 5);
}

static const char *s_st_r_standby(void *a)
{
    tmi_repl_stats_t s;
    tmi_repl_stats(a, &s);
    return s.standby;
}

static int s_stats_repl(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_str(reg, "standby.node", s_st_r_standby, self);
    rc =
        rc ? rc : tm_stats_add_u64(reg, "standby.commits", s_st_r_queued, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "standby.confirmed", s_st_r_acked, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "standby.full_copies", s_st_r_full, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "standby.bytes", s_st_r_bytes, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "standby.unconfirmed", s_st_r_unconfirmed,
                               self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "standby.copies_here", s_st_r_copies, self);
    return rc;
}

static int s_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "mesh.peers_alive", s_st_peers, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "mesh.received", s_st_received, self);
    rc =
        rc ? rc : tm_stats_add_u64(reg, "mesh.malformed", s_st_malformed, self);
    rc =
        rc ? rc : tm_stats_add_u64(reg, "mesh.forwarded", s_st_forwarded, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "mesh.remote_actors", s_st_remote, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "mesh.sync_waits", s_st_waits, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "mesh.held_ticks", s_st_held, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "mesh.id_conflicts", s_st_conflicts, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "mesh.batches_in", s_st_b_in, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "mesh.batches_stale", s_st_b_stale, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "mesh.batches_out", s_st_b_out, self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "mesh.batches_dropped", s_st_b_dropped,
                               self);
    rc = rc ? rc
            : tm_stats_add_u64(reg, "mesh.batch_messages", s_st_b_msgs, self);
    rc = rc ? rc : tmi_wait_stats(self, reg);
    rc = rc ? rc : s_stats_repl(self, reg);
    return rc ? rc : tmi_lease_stats(self, reg);
}

static void s_stop(void *self)
{
    tm_mesh_t *m = self;
    m->stopping = true;
    tmi_repl_stop(m);
    tmi_wait_stop(m); /* answered before the beat that says we stop */
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_sync_send_queued(&m->peers[i]); /* batches already made */
    }
    s_send_beats(m); /* "stopping": peers know it is not a crash */
    tmi_req_fail_pending(m, NULL, TM_ERR_CLOSED,
                         "node stopping; the request may or may not have been "
                         "carried out by the owning node");
    if (m->loop != NULL) {
        tm_zwatch_stop(&m->watch);
        ev_timer_stop(m->loop, &m->beat);
        ev_prepare_stop(m->loop, &m->flush);
    }
}

static void s_close(void *self)
{
    tm_mesh_t *m = self;
    tmi_req_fail_pending(m, NULL, 0, NULL);
    tmi_wait_stop(m);
    tmi_move_free(m);
    tmi_failover_free(m);
    tmi_lease_close(m);
    tmi_repl_free(m);
    tmi_copy_free(m);
    tmi_ctl_free(m);
    tmi_plan_free(m);
    for (size_t i = 0; i < m->n_settle; i++) {
        m->settle[i].later->free(m->settle[i].later);
        free(m->settle[i].body);
    }
    for (uint32_t i = 0; m->peers != NULL && i < m->n_peers; i++) {
        s_close_peer(&m->peers[i]);
        tmi_sync_free(&m->peers[i]);
    }
    tm_sock_close(&m->router);
    tm_stage_destroy(&m->fstage);
    tm_dir_free(&m->dir);
    tm_reply_destroy(&m->rep);
    free(m->d_add);
    free(m->d_del);
    free(m->peers);
    free(m);
}

tm_service_t tm_mesh_service(tm_mesh_t *m)
{
    tm_service_t svc = {.name = "mesh",
                        .self = m,
                        .attach = s_attach,
                        .stats = s_stats,
                        .stop = s_stop,
                        .close = s_close};
    return svc;
}

static int s_check(const tm_config_t *c, char *err, size_t errlen)
{
    if (c->mesh[0] == '\0') {
        snprintf(err, errlen,
                 "peers are given but no mesh endpoint of this node (set "
                 "--mesh or [mesh] endpoint)");
        return TM_ERR_CONFIG;
    }
    if (c->dead <= c->suspect) {
        snprintf(err, errlen,
                 "[mesh] dead (%u) must be more missed heartbeats than "
                 "suspect (%u)",
                 c->dead, c->suspect);
        return TM_ERR_CONFIG;
    }
    return 0;
}

static int s_bind(tm_mesh_t *m, const tm_config_t *c, char *err, size_t errlen)
{
    tm_sock_opts_t o = {.hwm = S_HWM, .linger_ms = 0};
    int rc = tm_sock_open(&m->router, m->zctx, ZMQ_ROUTER, c->mesh,
                          TM_SOCK_BIND, &o);
    if (rc == TM_ERR_BUSY) {
        snprintf(err, errlen,
                 "mesh endpoint %s is already in use (another node on this "
                 "machine? choose another with --mesh)",
                 c->mesh);
    } else if (rc != 0) {
        snprintf(err, errlen, "cannot bind the mesh endpoint %s: %s", c->mesh,
                 tm_err_str(rc));
    }
    if (rc == 0) {
        rc = tm_zwatch_init(&m->watch, m->router, s_one, m, 256);
    }
    return rc;
}

int tm_mesh_open(tm_mesh_t **out, void *zctx, const tm_mesh_opts_t *o,
                 char *err, size_t errlen)
{
    const tm_config_t *c = o->cfg;
    *out = NULL;
    int rc = s_check(c, err, errlen);
    if (rc != 0) {
        return rc;
    }
    tm_mesh_t *m = calloc(1, sizeof *m);
    if (m == NULL ||
        (m->peers = calloc(TMI_PEERS_MAX, sizeof *m->peers)) == NULL) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    snprintf(m->name, sizeof m->name, "%s", c->name);
    snprintf(m->site, sizeof m->site, "%s", c->site);
    snprintf(m->endpoint, sizeof m->endpoint, "%s", c->mesh);
    m->hb_s = c->heartbeat;
    m->suspect = c->suspect;
    m->dead = c->dead;
    m->wait_s = c->wait;
    m->recount = true; /* proxies restored from the store */
    m->rt = o->rt;
    m->sched = o->sched;
    m->mut = o->mut;
    m->ctx = o->ctx;
    m->zctx = zctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->inc = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    tm_dir_init(&m->dir);
    tm_reply_init(&m->rep);
    rc = tm_stage_open(&m->stage);
    if (rc == 0) {
        rc = tm_stage_open(&m->fstage);
    }
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
    }
    if (rc == 0) {
        rc = s_bind(m, c, err, errlen);
    }
    for (unsigned i = 0; rc == 0 && i < c->n_peers; i++) {
        s_add_peer(m, c->peers[i]);
    }
    if (rc == 0) {
        tmi_repl_opts_t ro = {.store = o->store,
                              .barrier = o->barrier,
                              .barrier_arg = o->barrier_arg,
                              .replicas = c->replicas,
                              .standby = c->standby};
        rc = tmi_repl_open(m, &ro);
        rc = rc ? rc : tmi_copy_open(m, c->data);
        if (rc != 0) {
            snprintf(err, errlen, "out of memory");
        }
    }
    if (rc == 0) {
        rc = tmi_lease_open(m, c, err, errlen);
    }
    /* own actors from the store: step once the others have said which
     * of them run elsewhere now (a failover while this node was down) */
    m->gated = c->n_peers > 0 && tm_rt_count(m->rt) > 0;
    m->gate_until = tm_time_now() + (m->dead + 1) * m->hb_s;
    if (rc == 0 && m->sched != NULL) {
        tm_sched_sub_t sub = {.arg = m,
                              .before = tmi_sync_before,
                              .after = tmi_sync_after,
                              .ready = tmi_sync_ready,
                              .hold = tmi_ctl_hold,
                              .run_end = tmi_ctl_run_end};
        rc = tm_sched_subscribe(m->sched, &sub);
        tm_sched_per_tick(m->sched, true);
    }
    if (rc != 0) {
        s_close(m);
        return rc;
    }
    tm_mut_mesh(m->mut, s_remote, tmi_dir_observe, m);
    ev_timer_init(&m->beat, s_beat_cb, m->hb_s, m->hb_s);
    m->beat.data = m;
    ev_prepare_init(&m->flush, s_flush_cb);
    m->flush.data = m;
    *out = m;
    return 0;
}
