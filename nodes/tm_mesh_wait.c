/* tm_mesh_wait: changes from other nodes that wait for the checkpoint in
 * flight.
 *
 * A change a peer forwards here (a spawn --node, a set of an actor this
 * node owns, ...) that comes while the checkpoint writer is busy, or
 * behind changes that already wait, is kept (tm_parked: its payload, and
 * who asked - the peer, its incarnation, the seq) instead of holding the
 * loop until the writer is free, as the console server keeps a console's
 * (tm_console_srv.c). tm_mesh_run_waiting runs them in order when tm_ckpt
 * reports the writer free; no checkpoint starts while some wait. The
 * peer gets a keepalive at once and every half second, which it passes
 * on to the console that asked (so that console waits on, whatever its
 * -t); a change whose console went away (the peer cancels it), or whose
 * peer died or restarted meanwhile, is not made; stopping answers every
 * waiting one "not made".
 */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_mesh_writer(tm_mesh_t *m, bool (*busy)(void *arg), void *arg)
{
    m->busy = busy;
    m->busy_arg = arg;
}

bool tm_mesh_waiting(void *arg)
{
    return ((tm_mesh_t *)arg)->parked.n > 0;
}

bool tmi_wait_park(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env,
                   const tm_cmd_t *cmd)
{
    if (!(cmd->info->flags & TM_CMD_F_MUTATES) || m->parked.draining ||
        m->busy == NULL || (m->parked.n == 0 && !m->busy(m->busy_arg))) {
        return false;
    }
    tmi_parked_t who = {
        .peer = (uint32_t)(p - m->peers), .inc = p->inc, .seq = env->seq};
    if (tm_parked_push(&m->parked, &who, sizeof who, env->payload,
                       env->payload_len, NULL) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%s: %zu changes already wait for the checkpoint being "
                 "written on node %s; nothing was changed, try again",
                 cmd->info->name, m->parked.n, m->name);
        tmi_mesh_reply(m, p, env->seq, TM_ERR_BUSY, msg, false, NULL, 0);
        tm_log(TM_LOG_WARN, "mesh: from %s: %s refused: %zu changes wait",
               p->name, cmd->info->name, m->parked.n);
        return true;
    }
    /* at once: the asking node and its console learn this node has it */
    tmi_mesh_reply(m, p, env->seq, 0, "", true, NULL, 0);
    return true;
}

/* Whether the peer that asked is still the one that asked. */
static bool s_same(const tm_mesh_t *m, const tmi_parked_t *w)
{
    const tmi_peer_t *p = &m->peers[w->peer];
    return p->state != TMI_DEAD && (w->inc == 0 || p->inc == w->inc);
}

/* One waiting change, the writer free: run, unless its node went away. */
static void s_run(void *arg, tm_parked_req_t *r)
{
    tm_mesh_t *m = arg;
    const tmi_parked_t *w = r->who;
    tmi_peer_t *p = &m->peers[w->peer];
    if (!s_same(m, w)) {
        bool restarted = w->inc != 0 && p->inc != w->inc;
        tm_log(TM_LOG_WARN,
               "mesh: a change from %s that waited for a checkpoint "
               "was not made: that node went away meanwhile",
               p->name);
        if (!restarted) { /* it may be back: say so, best effort */
            tmi_mesh_reply(m, p, w->seq, TM_ERR_CLOSED,
                           "the change waited for a checkpoint on the "
                           "owning node and was not made: the asking "
                           "node seemed dead",
                           false, NULL, 0);
        }
        return;
    }
    tm_envelope_t env;
    memset(&env, 0, sizeof env);
    env.seq = w->seq;
    env.payload = r->frame;
    env.payload_len = r->len;
    tmi_req_on_request(m, p, &env);
}

void tm_mesh_run_waiting(void *arg)
{
    tm_mesh_t *m = arg;
    tm_parked_drain(&m->parked, m->busy, m->busy_arg, s_run, m);
}

static void s_keepalive(void *arg, tm_parked_req_t *r)
{
    tm_mesh_t *m = arg;
    const tmi_parked_t *w = r->who;
    if (s_same(m, w)) {
        tmi_mesh_reply(m, &m->peers[w->peer], w->seq, 0, "", true, NULL, 0);
    }
}

void tmi_wait_keepalive(tm_mesh_t *m, double now)
{
    tm_parked_keepalive(&m->parked, now, s_keepalive, m);
}

typedef struct {
    uint32_t peer;
    uint64_t seq;
} s_key_t;

static bool s_match(const tm_parked_req_t *r, const void *key)
{
    const tmi_parked_t *w = r->who;
    const s_key_t *k = key;
    return w->peer == k->peer && w->seq == k->seq;
}

bool tmi_wait_cancel(tm_mesh_t *m, const tmi_peer_t *p, uint64_t seq)
{
    s_key_t k = {.peer = (uint32_t)(p - m->peers), .seq = seq};
    if (!tm_parked_cancel(&m->parked, s_match, &k)) {
        return false;
    }
    tm_log(TM_LOG_WARN,
           "mesh: a change from %s that waited for a checkpoint was not "
           "made: its console went away",
           p->name);
    return true;
}

static void s_stop(void *arg, tm_parked_req_t *r)
{
    tm_mesh_t *m = arg;
    const tmi_parked_t *w = r->who;
    tmi_peer_t *p = &m->peers[w->peer];
    if (w->inc == 0 || p->inc == w->inc) {
        tmi_mesh_reply(m, p, w->seq, TM_ERR_CLOSED,
                       "node stopping: the change waited for a "
                       "checkpoint and was not made",
                       false, NULL, 0);
    }
}

void tmi_wait_stop(tm_mesh_t *m)
{
    tm_parked_clear(&m->parked, s_stop, m);
}

static uint64_t s_st_waiting(void *a)
{
    return ((tm_mesh_t *)a)->parked.n;
}

static uint64_t s_st_waited(void *a)
{
    return ((tm_mesh_t *)a)->parked.total;
}

int tmi_wait_stats(tm_mesh_t *m, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "mesh.waiting", s_st_waiting, m);
    return rc ? rc : tm_stats_add_u64(reg, "mesh.waited", s_st_waited, m);
}
