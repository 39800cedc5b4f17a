/* tm_mesh_lease: the node's lease in etcd ([mesh] etcd), and automatic
 * failover ([mesh] failover = auto).
 *
 * Stepping. With a lease the node steps (and so publishes outputs and
 * sends its link batches) only while tm_lease_safe() holds, checked
 * before every chunk of ticks (tmi_sync_ready): a chunk is far shorter
 * than the lease's margin (max(1 s, TTL/4)). It also refuses changes to
 * its actors while it is not safe (tm_mesh_may_change).
 *
 * Taking over. A takeover - `failover NODE` or the automatic one - first
 * writes NODE's takeover marker in etcd (tm_lease_take), which succeeds
 * only once NODE's key is gone, i.e. NODE's lease has expired and NODE has
 * stopped stepping, and only for one taker.
 *
 * Automatic failover. Every heartbeat, a node holding a standby copy of a
 * node it sees dead asks etcd whether that node's key still exists, at
 * most every S_AUTO_S seconds per dead node; once it is gone it starts
 * the failover coordinator (tm_mesh_failover, without a console), which
 * picks the latest copy among the members as for the command; the member
 * that holds it writes the marker (tmi_lease_take) before it takes the
 * actors over, so of several coordinators one takeover happens.
 *
 * Coming back. A node whose actors were taken over is held off by the
 * marker (never safe). Once it has the taker's whole directory - so every
 * actor the taker claims at a higher epoch has been fenced here - it
 * releases the marker, and steps what it still owns. */
#include "tm_err.h"
#include "tm_lease.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_AUTO_S 1.0 /* seconds between takeover attempts per dead node */

int tmi_lease_open(tm_mesh_t *m, const tm_config_t *c, char *err, size_t errlen)
{
    m->failover_auto = c->failover_auto;
    if (c->failover_auto && c->etcd[0] == '\0') {
        snprintf(err, errlen,
                 "[mesh] failover = auto needs [mesh] etcd (the lease that "
                 "tells when a dead node has stopped stepping)");
        return TM_ERR_CONFIG;
    }
    if (c->etcd[0] == '\0') {
        return 0;
    }
    char inc[32];
    snprintf(inc, sizeof inc, "%" PRIu64, m->inc);
    tm_lease_opts_t o = {.endpoints = c->etcd,
                         .prefix = c->etcd_prefix,
                         .node = m->name,
                         .value = inc,
                         .ttl_s = c->lease_ttl};
    char why[TM_LEASE_ERROR_MAX];
    int rc = tm_lease_open(&m->lease, &o, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen,
                 "%s (a node with [mesh] etcd steps its actors only under a "
                 "lease)",
                 why);
    }
    return rc;
}

void tmi_lease_close(tm_mesh_t *m)
{
    tm_lease_destroy(&m->lease);
}

bool tmi_lease_ready(tm_mesh_t *m)
{
    if (m->lease == NULL) {
        return true;
    }
    bool safe = tm_lease_safe(m->lease, tm_time_now());
    if (safe != !m->lease_stopped) {
        m->lease_stopped = !safe;
        char by[64];
        if (safe) {
            tm_log(TM_LOG_INFO,
                   "mesh: lease safe again: stepping from tick "
                   "%" PRIu64,
                   tm_rt_tick(m->rt));
        } else if (tm_lease_taken(m->lease, by, sizeof by)) {
            tm_log(TM_LOG_WARN,
                   "mesh: not stepping after tick %" PRIu64
                   ": the actors were taken over by %s",
                   tm_rt_tick(m->rt), by);
        } else {
            tm_log(TM_LOG_WARN,
                   "mesh: lease not safe (etcd not reached in time): not "
                   "stepping after tick %" PRIu64,
                   tm_rt_tick(m->rt));
        }
    }
    if (!safe) {
        m->lease_waits++;
    }
    return safe;
}

bool tm_mesh_may_change(tm_mesh_t *m, char *why, size_t cap)
{
    if (m == NULL || m->lease == NULL ||
        tm_lease_safe(m->lease, tm_time_now())) {
        return true;
    }
    char by[64];
    if (tm_lease_taken(m->lease, by, sizeof by)) {
        snprintf(why, cap,
                 "node %s's actors were taken over by %s: it changes nothing "
                 "until it has let them go (see `stats` lease.*)",
                 m->name, by);
    } else {
        tm_lease_stats_t st;
        tm_lease_stats(m->lease, &st);
        snprintf(why, cap,
                 "node %s's lease in etcd is not safe (%s): it neither "
                 "steps nor changes its actors until etcd answers again",
                 m->name,
                 st.last_error[0] != '\0' ? st.last_error : "not renewed");
    }
    return false;
}

int tmi_lease_take(tm_mesh_t *m, const char *node, char *msg, size_t cap)
{
    if (m->lease == NULL) {
        return 0;
    }
    if (!tm_lease_safe(m->lease, tm_time_now())) {
        snprintf(msg, cap,
                 "node %s's own lease is not safe: it cannot take %s over",
                 m->name, node);
        return TM_ERR_BUSY;
    }
    char err[TM_LEASE_ERROR_MAX];
    int rc = tm_lease_take(m->lease, node, err, sizeof err);
    if (rc != 0) {
        snprintf(msg, cap, "%s", err);
    }
    return rc;
}

/* Automatic failover: a dead node whose copy this node holds. */
static void s_auto(tm_mesh_t *m)
{
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers && m->failover == NULL; i++) {
        tmi_peer_t *p = &m->peers[i];
        uint64_t inc = 0, seq = 0, tick = 0;
        size_t n = 0;
        if (p->self || p->state != TMI_DEAD || now < m->auto_next[i] ||
            !tmi_copy_local(m, p->name, &inc, &seq, &tick, &n)) {
            continue;
        }
        m->auto_next[i] = now + S_AUTO_S;
        char why[TM_CMD_MSG_MAX];
        bool alive = true;
        int rc =
            tm_lease_peer(m->lease, p->name, &alive, NULL, 0, why, sizeof why);
        if (rc != 0 || alive) {
            if (rc != 0) {
                tm_log(TM_LOG_WARN, "mesh: automatic failover of %s: %s",
                       p->name, why);
            }
            continue; /* its lease lives: it may still be stepping */
        }
        tm_log(TM_LOG_WARN,
               "mesh: node %s is dead and its lease in etcd is gone: "
               "automatic failover",
               p->name);
        rc = tm_mesh_failover(m, p->name, NULL, why, sizeof why);
        if (rc != 0) {
            tm_log(TM_LOG_ERROR, "mesh: automatic failover of %s: %s", p->name,
                   why);
        } else {
            m->auto_failovers++;
        }
    }
}

/* Taken over: release the marker once the taker's whole directory is
 * here (its claims have fenced our copies). */
static void s_release(tm_mesh_t *m)
{
    char by[64];
    if (!tm_lease_taken(m->lease, by, sizeof by)) {
        m->taken_seen = 0;
        return;
    }
    double now = tm_time_now();
    if (m->taken_seen == 0) {
        m->taken_seen = now;
    }
    tmi_peer_t *t = tmi_mesh_peer(m, by);
    if (t == NULL || t->state != TMI_ALIVE || !t->dir_synced ||
        t->last_heard <= m->taken_seen || t->dir_seq < t->hb_dir_seq) {
        return;
    }
    if (tm_lease_release(m->lease)) {
        tm_log(TM_LOG_INFO,
               "mesh: %s's directory is here (its actors fenced): releasing "
               "the takeover marker",
               by);
    }
}

void tmi_lease_beat(tm_mesh_t *m)
{
    if (m->lease == NULL) {
        return;
    }
    s_release(m);
    if (m->failover_auto) {
        s_auto(m);
    }
    if (tm_lease_safe(m->lease, tm_time_now()) && m->sched != NULL) {
        tm_sched_kick(m->sched);
    }
}

/* ---- stats --------------------------------------------------------------- */

static tm_lease_stats_t s_st(void *a)
{
    tm_mesh_t *m = a;
    tm_lease_stats_t st;
    memset(&st, 0, sizeof st);
    if (m->lease != NULL) {
        tm_lease_stats(m->lease, &st);
    }
    return st;
}

static bool s_st_safe(void *a)
{
    tm_mesh_t *m = a;
    return m->lease != NULL && tm_lease_safe(m->lease, tm_time_now());
}

static double s_st_left(void *a)
{
    tm_mesh_t *m = a;
    double left =
        m->lease != NULL ? tm_lease_safe_until(m->lease) - tm_time_now() : 0;
    return left > 0 ? left : 0;
}

static uint64_t s_st_renewals(void *a)
{
    return s_st(a).renewals;
}

static uint64_t s_st_failures(void *a)
{
    return s_st(a).failures;
}

static uint64_t s_st_waits(void *a)
{
    return ((tm_mesh_t *)a)->lease_waits;
}

static uint64_t s_st_auto(void *a)
{
    return ((tm_mesh_t *)a)->auto_failovers;
}

static const char *s_st_taken(void *a)
{
    tm_mesh_t *m = a;
    static __thread char by[64];
    by[0] = '\0';
    if (m->lease != NULL) {
        (void)tm_lease_taken(m->lease, by, sizeof by);
    }
    return by;
}

int tmi_lease_stats(tm_mesh_t *m, tm_stats_t *reg)
{
    if (m->lease == NULL) {
        return 0;
    }
    int rc = tm_stats_add_bool(reg, "lease.safe", s_st_safe, m);
    rc = rc ? rc : tm_stats_add_f64(reg, "lease.safe_for", s_st_left, m);
    rc = rc ? rc : tm_stats_add_u64(reg, "lease.renewals", s_st_renewals, m);
    rc = rc ? rc : tm_stats_add_u64(reg, "lease.failures", s_st_failures, m);
    rc = rc ? rc : tm_stats_add_u64(reg, "lease.waits", s_st_waits, m);
    rc = rc ? rc : tm_stats_add_str(reg, "lease.taken_by", s_st_taken, m);
    rc = rc ? rc : tm_stats_add_u64(reg, "lease.auto_failovers", s_st_auto, m);
    return rc;
}
