/* tm_mesh_wait: changes from other nodes that wait for the checkpoint in
 * flight.
 *
 * A change a peer forwards here (a spawn --node, a set of an actor this
 * node owns, ...) that comes while the checkpoint writer is busy, or
 * behind changes that already wait, is kept as its request (the peer, its
 * incarnation, the seq and the payload) instead of holding the loop until
 * the writer is free, as the console server keeps a console's
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
#include "tm_time.h"

#include <stdlib.h>
#include <string.h>

#define S_PARKED_MAX   1024u       /* changes waiting */
#define S_PARKED_BYTES (64u << 20) /* their requests' bytes */
#define S_KEEPALIVE_S  0.5         /* to their nodes, and consoles */

void tm_mesh_writer(tm_mesh_t *m, bool (*busy)(void *arg), void *arg)
{
    m->busy = busy;
    m->busy_arg = arg;
}

bool tm_mesh_waiting(void *arg)
{
    return ((tm_mesh_t *)arg)->n_parked > 0;
}

bool tmi_wait_park(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env,
                   const tm_cmd_t *cmd)
{
    if (!(cmd->info->flags & TM_CMD_F_MUTATES) || m->draining ||
        m->busy == NULL || (m->n_parked == 0 && !m->busy(m->busy_arg))) {
        return false;
    }
    tmi_parked_t *q = NULL;
    uint8_t *copy = NULL;
    if (m->n_parked < S_PARKED_MAX &&
        m->parked_bytes + env->payload_len <= S_PARKED_BYTES) {
        q = realloc(m->parked, (m->n_parked + 1) * sizeof *q);
        copy = q != NULL ? malloc(env->payload_len + 1) : NULL;
        m->parked = q != NULL ? q : m->parked;
    }
    if (copy == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%s: %zu changes already wait for the checkpoint being "
                 "written on node %s; nothing was changed, try again",
                 cmd->info->name, m->n_parked, m->name);
        tmi_mesh_reply(m, p, env->seq, TM_ERR_BUSY, msg, false, NULL, 0);
        tm_log(TM_LOG_WARN, "mesh: from %s: %s refused: %zu changes wait",
               p->name, cmd->info->name, m->n_parked);
        return true;
    }
    memcpy(copy, env->payload, env->payload_len);
    m->parked[m->n_parked++] = (tmi_parked_t){.peer = (uint32_t)(p - m->peers),
                                              .inc = p->inc,
                                              .seq = env->seq,
                                              .payload = copy,
                                              .len = env->payload_len,
                                              .last_sent = tm_time_now()};
    /* at once: the asking node and its console learn this node has it */
    tmi_mesh_reply(m, p, env->seq, 0, "", true, NULL, 0);
    m->parked_bytes += env->payload_len;
    m->waited++;
    return true;
}

void tm_mesh_run_waiting(void *arg)
{
    tm_mesh_t *m = arg;
    size_t i = 0;
    if (m->n_parked == 0) {
        return;
    }
    m->draining = true;
    while (i < m->n_parked && !(m->busy != NULL && m->busy(m->busy_arg))) {
        tmi_parked_t *q = &m->parked[i++];
        tmi_peer_t *p = &m->peers[q->peer];
        bool restarted = q->inc != 0 && p->inc != q->inc;
        if (p->state == TMI_DEAD || restarted) {
            tm_log(TM_LOG_WARN,
                   "mesh: a change from %s that waited for a checkpoint "
                   "was not made: that node went away meanwhile",
                   p->name);
            if (!restarted) { /* it may be back: say so, best effort */
                tmi_mesh_reply(m, p, q->seq, TM_ERR_CLOSED,
                               "the change waited for a checkpoint on the "
                               "owning node and was not made: the asking "
                               "node seemed dead",
                               false, NULL, 0);
            }
        } else {
            tm_envelope_t env;
            memset(&env, 0, sizeof env);
            env.seq = q->seq;
            env.payload = q->payload;
            env.payload_len = q->len;
            tmi_req_on_request(m, p, &env);
        }
        m->parked_bytes -= q->len;
        free(q->payload);
    }
    m->draining = false;
    memmove(m->parked, m->parked + i, (m->n_parked - i) * sizeof *m->parked);
    m->n_parked -= i;
}

void tmi_wait_keepalive(tm_mesh_t *m, double now)
{
    for (size_t i = 0; i < m->n_parked; i++) {
        tmi_parked_t *q = &m->parked[i];
        tmi_peer_t *p = &m->peers[q->peer];
        if (now - q->last_sent >= S_KEEPALIVE_S && p->state != TMI_DEAD &&
            (q->inc == 0 || p->inc == q->inc)) {
            q->last_sent = now;
            tmi_mesh_reply(m, p, q->seq, 0, "", true, NULL, 0);
        }
    }
}

bool tmi_wait_cancel(tm_mesh_t *m, const tmi_peer_t *p, uint64_t seq)
{
    for (size_t i = 0; i < m->n_parked; i++) {
        tmi_parked_t *q = &m->parked[i];
        if (&m->peers[q->peer] != p || q->seq != seq) {
            continue;
        }
        tm_log(TM_LOG_WARN,
               "mesh: a change from %s that waited for a checkpoint was not "
               "made: its console went away",
               p->name);
        m->parked_bytes -= q->len;
        free(q->payload);
        memmove(q, q + 1, (m->n_parked - i - 1) * sizeof *q);
        m->n_parked--;
        return true;
    }
    return false;
}

void tmi_wait_stop(tm_mesh_t *m)
{
    for (size_t i = 0; i < m->n_parked; i++) {
        tmi_parked_t *q = &m->parked[i];
        tmi_peer_t *p = &m->peers[q->peer];
        if (q->inc == 0 || p->inc == q->inc) {
            tmi_mesh_reply(m, p, q->seq, TM_ERR_CLOSED,
                           "node stopping: the change waited for a "
                           "checkpoint and was not made",
                           false, NULL, 0);
        }
        free(q->payload);
    }
    free(m->parked);
    m->parked = NULL;
    m->n_parked = 0;
    m->parked_bytes = 0;
}

static uint64_t s_st_waiting(void *a)
{
    return ((tm_mesh_t *)a)->n_parked;
}

static uint64_t s_st_waited(void *a)
{
    return ((tm_mesh_t *)a)->waited;
}

int tmi_wait_stats(tm_mesh_t *m, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "mesh.waiting", s_st_waiting, m);
    return rc ? rc : tm_stats_add_u64(reg, "mesh.waited", s_st_waited, m);
}
