/* tm_node: the node's loop and the services around it.
 *
 * The node opens the store, the runtime (restored from the store), the
 * mutation path and the services - clock (tm_sched), checkpoints
 * (tm_ckpt), the supervisor (tm_super), statistics of the store, console
 * server (tm_console_srv),
 * telemetry (tm_telem) with its MQTT bridge (tm_mqtt), the mesh -
 * attaches them to one libev loop and waits for a signal. Everything else
 * happens in the services. Stopping: every service is told to stop (the
 * clock ends a run, the console answers its streams), a final checkpoint
 * is taken, and services are closed in reverse order.
 */
#include "tm_node.h"

#include "tm_ckpt.h"
#include "tm_console.h"
#include "tm_console_srv.h"
#include "tm_err.h"
#include "tm_time.h"
#include "tm_log.h"
#include "tm_mesh.h"
#include "tm_mqtt.h"
#include "tm_mut.h"
#include "tm_persist.h"
#include "tm_plugins.h"
#include "tm_rollout.h"
#include "tm_rt.h"
#include "tm_sched.h"
#include "tm_service.h"
#include "tm_stats.h"
#include "tm_store.h"
#include "tm_super.h"
#include "tm_telem.h"

#include <ev.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_SERVICES_MAX 12

struct tm_node {
    tm_config_t cfg;
    struct ev_loop *loop;
    void *zctx;
    tm_store_t *store;
    tm_rt_t *rt;
    tm_mut_t *mut;
    tm_sched_t *sched;
    tm_ckpt_t *ckpt;
    tm_console_srv_t *console; /* a service (owned by services[]) */
    tm_stats_t *stats;
    tm_console_ctx_t ctx;
    tm_service_t services[S_SERVICES_MAX];
    size_t n_services;
    ev_signal sigterm;
    ev_signal sigint;
    double started;
    bool stopping;
    int fatal; /* runtime failure */
};

static void s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void s_fatal(void *arg, int rc)
{
    tm_node_t *n = arg;
    tm_log(TM_LOG_ERROR, "node: runtime failed (%s); stopping", tm_err_str(rc));
    n->fatal = rc;
    n->stopping = true;
    ev_break(n->loop, EVBREAK_ALL);
}

/* Linux's SCHED_BATCH (sched.h names it only under _GNU_SOURCE). */
#define S_SCHED_BATCH 3

/* The node's ZeroMQ I/O (and reaper) threads run under SCHED_BATCH. A send
 * wakes one; a woken thread that preempts the loop on a small machine holds
 * every later send of the tick (the first twin output of a tick took 46-58 us
 * instead of 4). A batch thread does not preempt on waking: it runs on a
 * free core or after the loop's time slice, and keeps its fair share.
 * Only for a node of the default policy (SCHED_OTHER; one started under a
 * real-time policy keeps it everywhere: libzmq would give the thread's
 * real-time priority to SCHED_BATCH, which refuses it, and abort), and
 * only where this process may take SCHED_BATCH (libzmq aborts when a
 * thread cannot): tried on this thread first, then undone. */
static bool s_may_batch(void)
{
    pthread_t self = pthread_self();
    int policy = 0;
    struct sched_param was;
    struct sched_param zero = {.sched_priority = 0};
    if (pthread_getschedparam(self, &policy, &was) != 0 ||
        policy != SCHED_OTHER ||
        pthread_setschedparam(self, S_SCHED_BATCH, &zero) != 0) {
        return false;
    }
    if (pthread_setschedparam(self, policy, &was) != 0) {
        tm_log(TM_LOG_WARN, "node: the control thread stays in SCHED_BATCH "
                            "(its policy could not be restored)");
    }
    return true;
}

static void s_io_threads_batch(void *zctx)
{
    if (!s_may_batch() ||
        zmq_ctx_set(zctx, ZMQ_THREAD_SCHED_POLICY, S_SCHED_BATCH) != 0) {
        tm_log(TM_LOG_INFO,
               "node: ZeroMQ threads keep the node's scheduling policy");
    }
}

static void s_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    tm_node_t *n = w->data;
    tm_log(TM_LOG_INFO, "node: %s received, stopping",
           w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    n->stopping = true;
    ev_break(loop, EVBREAK_ALL);
}

static int s_add_service(tm_node_t *n, tm_service_t svc)
{
    if (n->n_services >= S_SERVICES_MAX) {
        return TM_ERR_TOO_BIG;
    }
    n->services[n->n_services++] = svc;
    if (svc.before_tick == NULL && svc.after_tick == NULL) {
        return 0;
    }
    tm_sched_sub_t sub = {
        .arg = svc.self, .before = svc.before_tick, .after = svc.after_tick};
    return tm_sched_subscribe(n->sched, &sub);
}

/* ---- statistics of the node itself -------------------------------------- */

static tm_rt_stats_t s_rt(void *a)
{
    tm_rt_stats_t st;
    tm_rt_stats(((tm_node_t *)a)->rt, &st);
    return st;
}

static const char *s_name(void *a)
{
    return ((tm_node_t *)a)->cfg.name;
}

static const char *s_site(void *a)
{
    return ((tm_node_t *)a)->cfg.site;
}

static const char *s_state(void *a)
{
    return ((tm_node_t *)a)->stopping ? "stopping" : "up";
}

static uint64_t s_tick(void *a)
{
    return tm_rt_tick(((tm_node_t *)a)->rt);
}

static double s_t(void *a)
{
    tm_rt_t *rt = ((tm_node_t *)a)->rt;
    return (double)tm_rt_tick(rt) * tm_rt_h(rt);
}

static double s_h(void *a)
{
    return tm_rt_h(((tm_node_t *)a)->rt);
}

static const char *s_clock(void *a)
{
    return tm_sched_label(((tm_node_t *)a)->sched);
}

static double s_lag(void *a)
{
    return tm_sched_lag(((tm_node_t *)a)->sched);
}

static uint64_t s_actors(void *a)
{
    return s_rt(a).actors;
}

static uint64_t s_links(void *a)
{
    return s_rt(a).links;
}

static uint64_t s_groups(void *a)
{
    return s_rt(a).groups;
}

static uint64_t s_workers(void *a)
{
    return s_rt(a).workers;
}

static uint64_t s_steps(void *a)
{
    return s_rt(a).steps;
}

static uint64_t s_faults(void *a)
{
    return s_rt(a).faults;
}

static double s_steps_per_s(void *a)
{
    return tm_sched_steps_per_s(((tm_node_t *)a)->sched);
}

static double s_ticks_per_s(void *a)
{
    return tm_sched_ticks_per_s(((tm_node_t *)a)->sched);
}

static double s_last_tick_us(void *a)
{
    return s_rt(a).last_tick_ns / 1e3;
}

static double s_uptime(void *a)
{
    return tm_time_now() - ((tm_node_t *)a)->started;
}

static void s_shards(void *a, tm_body_t *b)
{
    tm_rt_stats_t st = s_rt(a);
    unsigned nw = st.workers < 64 ? st.workers : 64;
    tm_body_array(b);
    for (unsigned w = 0; w < nw; w++) {
        tm_body_map(b);
        tm_body_kv_u64(b, "worker", w);
        tm_body_kv_u64(b, "actors", st.shard_actors[w]);
        tm_body_kv_f64(b, "busy_us", st.busy_ns[w] / 1e3);
        tm_body_end(b);
    }
    tm_body_end(b);
}

static tm_store_stats_t s_ss(void *a)
{
    tm_store_stats_t ss;
    tm_store_stats(((tm_node_t *)a)->store, &ss);
    return ss;
}

static uint64_t s_map_size(void *a)
{
    return s_ss(a).map_size;
}

static uint64_t s_used(void *a)
{
    return s_ss(a).used_bytes;
}

static uint64_t s_commits(void *a)
{
    return s_ss(a).commits;
}

static uint64_t s_grows(void *a)
{
    return s_ss(a).grows;
}

static uint64_t s_reserve(void *a)
{
    return s_ss(a).reserve_bytes;
}

static uint64_t s_reserve_used(void *a)
{
    return s_ss(a).reserve_used;
}

static tm_audit_stats_t s_as(void *a)
{
    tm_audit_stats_t st;
    tm_audit_stats(tm_mut_audit(((tm_node_t *)a)->mut), &st);
    return st;
}

static uint64_t s_audit_written(void *a)
{
    return s_as(a).written;
}

static uint64_t s_audit_queued(void *a)
{
    return s_as(a).queued;
}

static uint64_t s_audit_dropped(void *a)
{
    return s_as(a).dropped;
}

static uint64_t s_audit_trimmed(void *a)
{
    return s_as(a).trimmed;
}

/* The store's figures, and the audit log's. */
static int s_store_stats(void *self, tm_stats_t *reg)
{
    int rc = tm_stats_add_u64(reg, "store.map_size", s_map_size, self);
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "store.used_bytes", s_used, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "store.commits", s_commits, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "store.grows", s_grows, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "store.reserve_bytes", s_reserve, self);
    }
    if (rc == 0) {
        rc = tm_stats_add_u64(reg, "store.reserve_used", s_reserve_used, self);
    }
    rc =
        rc ? rc : tm_stats_add_u64(reg, "audit.written", s_audit_written, self);
    rc = rc ? rc : tm_stats_add_u64(reg, "audit.queued", s_audit_queued, self);
    rc =
        rc ? rc : tm_stats_add_u64(reg, "audit.dropped", s_audit_dropped, self);
    rc =
        rc ? rc : tm_stats_add_u64(reg, "audit.trimmed", s_audit_trimmed, self);
    return rc;
}

/* The node's own figures, in the order `stats` shows them; then every
 * service's. */
static int s_register_stats(tm_node_t *n)
{
    tm_stats_t *r = n->stats;
    int rc = 0;
    rc = rc ? rc : tm_stats_add_str(r, "node", s_name, n);
    rc = rc ? rc : tm_stats_add_str(r, "site", s_site, n);
    rc = rc ? rc : tm_stats_add_str(r, "state", s_state, n);
    rc = rc ? rc : tm_stats_add_u64(r, "tick", s_tick, n);
    rc = rc ? rc : tm_stats_add_f64(r, "t", s_t, n);
    rc = rc ? rc : tm_stats_add_f64(r, "h", s_h, n);
    rc = rc ? rc : tm_stats_add_str(r, "clock", s_clock, n);
    rc = rc ? rc : tm_stats_add_f64(r, "lag_s", s_lag, n);
    rc = rc ? rc : tm_stats_add_u64(r, "actors", s_actors, n);
    rc = rc ? rc : tm_stats_add_u64(r, "links", s_links, n);
    rc = rc ? rc : tm_stats_add_u64(r, "groups", s_groups, n);
    rc = rc ? rc : tm_stats_add_u64(r, "workers", s_workers, n);
    rc = rc ? rc : tm_stats_add_u64(r, "steps", s_steps, n);
    rc = rc ? rc : tm_stats_add_u64(r, "faults", s_faults, n);
    rc = rc ? rc : tm_stats_add_f64(r, "steps_per_s", s_steps_per_s, n);
    rc = rc ? rc : tm_stats_add_f64(r, "ticks_per_s", s_ticks_per_s, n);
    rc = rc ? rc : tm_stats_add_f64(r, "last_tick_us", s_last_tick_us, n);
    rc = rc ? rc : tm_stats_add_f64(r, "uptime_s", s_uptime, n);
    rc = rc ? rc : tm_stats_add_body(r, "shards", s_shards, n);
    for (size_t i = 0; i < n->n_services && rc == 0; i++) {
        if (n->services[i].stats != NULL) {
            rc = n->services[i].stats(n->services[i].self, r);
        }
    }
    return rc;
}

/* ---- backups ------------------------------------------------------------ */

/* The console's `backup DEST`: a compacted copy of the live store,
 * verified before it is reported. */
static int s_backup(void *arg, const char *dest, char *why)
{
    tm_node_t *n = arg;
    tm_store_verify_t v;
    char what[TM_STORE_WHY_MAX + 256];
    double t0 = tm_time_now();
    int rc = tm_persist_backup(n->store, dest, &v);
    switch (rc) {
    case 0:
        snprintf(why, TM_MUT_WHY_MAX,
                 "backed up %.200s to %.400s and verified the copy: %llu "
                 "actors, "
                 "%llu links, %llu pages in %.3f s",
                 n->cfg.data, dest, (unsigned long long)v.records[TM_DB_ACTORS],
                 (unsigned long long)v.records[TM_DB_LINKS],
                 (unsigned long long)v.pages, tm_time_now() - t0);
        tm_log(TM_LOG_INFO, "node: %s", why);
        return 0;
    case TM_ERR_STORE_CORRUPT:
        tm_store_verify_describe(&v, what, sizeof what);
        snprintf(why, TM_MUT_WHY_MAX,
                 "the copy in %.300s failed verification and was removed: "
                 "%.600s",
                 dest, what);
        break;
    case TM_ERR_EXISTS:
        snprintf(why, TM_MUT_WHY_MAX,
                 "%.600s holds files: a backup goes into a new or empty "
                 "directory",
                 dest);
        break;
    default:
        snprintf(why, TM_MUT_WHY_MAX, "cannot back up into %.600s: %s", dest,
                 tm_err_str(rc));
        break;
    }
    tm_log(TM_LOG_WARN, "node: backup refused: %s", why);
    return rc;
}

/* ---- opening ------------------------------------------------------------ */

static int s_open_store(tm_node_t *n, char *err, size_t errlen)
{
    /* LMDB trusts its pages and can crash on a damaged one: check the
     * store in a child process before trusting it, so that damage stops
     * the start with a message instead of a crash (and a restart loop). */
    tm_store_verify_t v;
    char what[TM_STORE_WHY_MAX + 256];
    int rc = tm_persist_verify(n->cfg.data, &v);
    if (rc == TM_ERR_STORE_CORRUPT) {
        tm_store_verify_describe(&v, what, sizeof what);
        s_err(err, errlen,
              "data directory %s is damaged: %s; not starting on it (restore "
              "a verified backup, see docs/operations.md)",
              n->cfg.data, what);
        return rc;
    }
    if (rc == TM_ERR_NOMEM || rc == TM_ERR_BUSY || rc == TM_ERR_IO) {
        s_err(err, errlen, "cannot check data directory %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    /* Missing, empty or foreign: the open creates the store or says why
     * not. A large map costs only address space (the file grows as used)
     * and spares big batches a grow-and-replay. */
    tm_store_opts_t opts = {.map_size = (size_t)1 << 30, .create = 1};
    rc = tm_store_open(&n->store, n->cfg.data, &opts);
    switch (rc) {
    case 0:
        return 0;
    case TM_ERR_NOSPACE:
        s_err(err, errlen,
              "cannot open data directory %s: no space left on its file "
              "system",
              n->cfg.data);
        break;
    case TM_ERR_READONLY:
        s_err(err, errlen,
              "cannot write in data directory %s: read-only file system or "
              "permission denied",
              n->cfg.data);
        break;
    case TM_ERR_NO_DIR:
        s_err(err, errlen,
              "cannot create data directory %s: a directory on its path does "
              "not exist or is not a directory",
              n->cfg.data);
        break;
    case TM_ERR_STORE_LOCKED:
        s_err(err, errlen,
              "data directory %s is in use by another process (is another "
              "twinmesh-node running on it?)",
              n->cfg.data);
        break;
    case TM_ERR_STORE_FOREIGN:
        s_err(err, errlen,
              "data directory %s holds files that are not a twinmesh store; "
              "choose another --data directory",
              n->cfg.data);
        break;
    default:
        s_err(err, errlen, "cannot open data directory %s: %s", n->cfg.data,
              tm_err_str(rc));
        break;
    }
    return rc;
}

static int s_open_runtime(tm_node_t *n, uint64_t *ckpt_tick, char *err,
                          size_t errlen)
{
    tm_persist_meta_t meta;
    int rc = tm_persist_read_meta(n->store, &meta);
    if (rc != 0) {
        s_err(err, errlen, "cannot read the checkpoint of %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    if (meta.have_checkpoint && meta.h > 0 && meta.h != n->cfg.tick) {
        if (!n->cfg.retick) {
            s_err(err, errlen,
                  "the store in %s was stepped with a tick of %.17g s, not "
                  "the configured %.17g s: a run would not continue bit for "
                  "bit. Start with --tick %.17g, or with --retick to step on "
                  "with %.17g s",
                  n->cfg.data, meta.h, n->cfg.tick, meta.h, n->cfg.tick);
            return TM_ERR_CONFIG;
        }
        tm_log(TM_LOG_WARN,
               "node: the checkpoint was taken with tick %g s; stepping "
               "on with the configured %g s (--retick)",
               meta.h, n->cfg.tick);
    }
    if (meta.have_checkpoint && meta.seed != n->cfg.seed) {
        tm_log(TM_LOG_WARN,
               "node: the checkpoint was taken with seed %llu; stepping on "
               "with the configured %llu",
               (unsigned long long)meta.seed, (unsigned long long)n->cfg.seed);
    }
    tm_rt_config_t rc_cfg = {.workers = n->cfg.workers,
                             .h = n->cfg.tick,
                             .seed = n->cfg.seed,
                             .tick = meta.tick,
                             .inline_actors = 1024,
                             .inline_ns = 100e3};
    rc = tm_rt_open(&n->rt, &rc_cfg);
    if (rc != 0) {
        s_err(err, errlen, "cannot start the runtime: %s", tm_err_str(rc));
        return rc;
    }
    *ckpt_tick = meta.tick;
    double t0 = tm_time_now();
    /* plugins first: the actors of their models load next */
    tm_plugins_restored_t pr;
    rc = tm_plugins_restore(n->store, n->cfg.data, &pr);
    if (rc != 0) {
        s_err(err, errlen, "cannot read the model catalog of %s: %s",
              n->cfg.data, tm_err_str(rc));
        return rc;
    }
    if (pr.loaded > 0 || pr.refused > 0) {
        tm_log(pr.refused > 0 ? TM_LOG_WARN : TM_LOG_INFO,
               "node: %zu model plugins loaded, %zu refused", pr.loaded,
               pr.refused);
    }
    tm_persist_load_t ld;
    rc = tm_persist_load(n->store, n->rt, &ld);
    if (rc != 0) {
        s_err(err, errlen, "cannot restore actors from %s: %s", n->cfg.data,
              tm_err_str(rc));
        return rc;
    }
    if (meta.have_checkpoint || ld.actors > 0 || ld.links > 0) {
        tm_log(TM_LOG_INFO,
               "node: restored %zu actors and %zu links at tick %llu in "
               "%.3f s (%zu actors, %zu links skipped)",
               ld.actors, ld.links, (unsigned long long)meta.tick,
               tm_time_now() - t0, ld.actors_skipped, ld.links_skipped);
    }
    return 0;
}

/* The telemetry service (always: without endpoints it still serves
 * calibrate and inspect) and, with [telemetry] mqtt, its MQTT bridge. */
static int s_open_telemetry(tm_node_t *n, char *err, size_t errlen)
{
    tm_telem_t *telem = NULL;
    tm_telem_opts_t to = {.endpoint = n->cfg.telemetry,
                          .outputs = n->cfg.outputs,
                          .window = n->cfg.window,
                          .horizon = n->cfg.horizon,
                          .history = n->cfg.history,
                          .rt = n->rt,
                          .sched = n->sched};
    int rc = tm_telem_open(&telem, n->zctx, &to, err, errlen);
    if (rc == 0) {
        n->ctx.telem = telem;
        rc = s_add_service(n, tm_telem_service(telem));
    }
    if (rc == 0 && n->cfg.mqtt[0] != '\0') {
        /* right after telemetry: its stats go inside "telemetry" */
        tm_mqtt_t *mqtt = NULL;
        char id[TM_CONFIG_MQTT_ID_MAX + 1];
        tm_mqtt_opts_t qo = {.broker = n->cfg.mqtt,
                             .client_id =
                                 tm_config_mqtt_id(&n->cfg, id, sizeof id),
                             .site = n->cfg.site,
                             .telem = n->ctx.telem};
        rc = tm_mqtt_open(&mqtt, &qo, err, errlen);
        if (rc == 0) {
            rc = s_add_service(n, tm_mqtt_service(mqtt));
        }
    }
    return rc;
}

/* The supervisor's decisions go into the audit log (with the next
 * commit, like the state they changed). */
static void s_super_note(void *arg, const char *kind, const char *id,
                         const char *before, const char *after, const char *why,
                         uint64_t tick)
{
    tm_node_t *n = arg;
    tm_mut_audit_note_at(n->mut, tick, kind, id, before, after, why);
}

/* Changes that wait for the checkpoint in flight: the console's and
 * those other nodes forward here (tm_ckpt_waiter). */
static bool s_changes_wait(void *arg)
{
    tm_node_t *n = arg;
    return tm_rollout_waiting(n->ctx.rollout) ||
           tm_console_srv_waiting(n->console) ||
           (n->ctx.mesh != NULL && tm_mesh_waiting(n->ctx.mesh));
}

/* The writer is free: a rollout's decision that holds the clock runs
 * first, then the console's waiting changes, then the other nodes' (each
 * in the order they came), as long as it stays free. */
static void s_changes_run(void *arg)
{
    tm_node_t *n = arg;
    if (tm_rollout_waiting(n->ctx.rollout)) {
        tm_rollout_run_waiting(n->ctx.rollout);
        if (!tm_rollout_waiting(n->ctx.rollout)) {
            tm_sched_kick(n->sched);
        }
    }
    tm_console_srv_drain(n->console);
    if (n->ctx.mesh != NULL && !tm_console_srv_waiting(n->console)) {
        tm_mesh_run_waiting(n->ctx.mesh);
    }
}

/* The clock, checkpoints, store statistics and the console, in the order
 * they are attached, told about ticks and stopped. */
static int s_open_services(tm_node_t *n, uint64_t ckpt_tick, char *err,
                           size_t errlen)
{
    tm_console_srv_t *console = NULL;
    int rc = tm_sched_open(&n->sched, n->rt, n->cfg.clock, s_fatal, n);
    if (rc == 0) {
        rc = s_add_service(n, tm_sched_service(n->sched));
    }
    tm_super_t *super = NULL;
    if (rc == 0) {
        rc = tm_super_open(&super, n->rt, &n->cfg);
    }
    if (rc == 0) {
        rc = s_add_service(n, tm_super_service(super));
        if (rc != 0) {
            tm_super_service(super).close(super);
        }
    }
    if (rc == 0 && n->cfg.replay[0] != '\0') {
        char why[TM_CONFIG_ERR_MAX];
        rc = tm_super_replay(super, n->cfg.replay, why, sizeof why);
        if (rc != 0) {
            s_err(err, errlen, "--replay: %s",
                  rc == TM_ERR_NOMEM ? tm_err_str(rc) : why);
            return rc == TM_ERR_NOMEM ? rc : TM_ERR_CONFIG;
        }
        tm_sched_sub_t stop = {.arg = super, .next_stop = tm_super_next_stop};
        rc = tm_sched_subscribe(n->sched, &stop);
    }
    if (rc == 0) {
        rc = tm_ckpt_open(&n->ckpt, n->rt, n->store, n->cfg.checkpoint,
                          ckpt_tick);
    }
    if (rc == 0) {
        rc = s_add_service(n, tm_ckpt_service(n->ckpt));
    }
    if (rc == 0) {
        tm_sched_sub_t stop = {.arg = n->ckpt, .next_stop = tm_ckpt_next_stop};
        rc = tm_sched_subscribe(n->sched, &stop);
    }
    if (rc == 0) {
        rc = tm_mut_open(&n->mut, n->rt, n->store, tm_ckpt_barrier, n->ckpt);
    }
    if (rc == 0) {
        tm_super_on_note(super, s_super_note, n);
    }
    if (rc == 0) {
        tm_audit_retention(tm_mut_audit(n->mut), n->cfg.audit_retention,
                           n->cfg.audit_days);
        tm_ckpt_audit(n->ckpt, tm_mut_audit(n->mut));
    }
    tm_rollout_t *rollout = NULL;
    if (rc == 0) {
        rc = tm_rollout_open(&rollout, n->rt, n->mut, n->store);
    }
    if (rc == 0) {
        rc = s_add_service(n, tm_rollout_service(rollout));
        if (rc != 0) {
            tm_rollout_service(rollout).close(rollout);
            rollout = NULL;
        }
    }
    if (rc == 0) {
        tm_rollout_writer(rollout, tm_ckpt_busy, n->ckpt);
        tm_sched_sub_t stop = {.arg = rollout,
                               .next_stop = tm_rollout_next_stop,
                               .ready = tm_rollout_ready};
        rc = tm_sched_subscribe(n->sched, &stop);
    }
    if (rc == 0) {
        tm_service_t store = {
            .name = "store", .self = n, .stats = s_store_stats};
        rc = s_add_service(n, store);
    }
    if (rc != 0) {
        s_err(err, errlen, "cannot start the node's services: %s",
              tm_err_str(rc));
        return rc;
    }
    n->ctx = (tm_console_ctx_t){.rt = n->rt,
                                .mut = n->mut,
                                .store = n->store,
                                .sched = n->sched,
                                .stats = n->stats,
                                .name = n->cfg.name,
                                .site = n->cfg.site,
                                .endpoint = n->cfg.endpoint,
                                .stopping = &n->stopping,
                                .backup = s_backup,
                                .backup_arg = n,
                                .data = n->cfg.data,
                                .rollout = rollout};
    rc = tm_console_srv_open(&console, n->zctx, n->cfg.endpoint, &n->ctx, err,
                             errlen);
    if (rc == 0) {
        /* what `nodes` and the log show: the real port of tcp://...:0 */
        snprintf(n->cfg.endpoint, sizeof n->cfg.endpoint, "%s",
                 tm_console_srv_endpoint(console));
        rc = s_add_service(n, tm_console_srv_service(console));
    }
    if (rc == 0) {
        /* changes wait for a checkpoint in flight, the loop does not */
        n->console = console;
        tm_console_srv_writer(console, tm_ckpt_busy, n->ckpt);
        tm_ckpt_waiter(n->ckpt, s_changes_wait, s_changes_run, n);
    }
    if (rc == 0) {
        rc = s_open_telemetry(n, err, errlen);
    }
    if (rc == 0 && (n->cfg.mesh[0] != '\0' || n->cfg.n_peers > 0)) {
        tm_mesh_t *mesh = NULL;
        tm_mesh_opts_t mo = {.cfg = &n->cfg,
                             .rt = n->rt,
                             .sched = n->sched,
                             .mut = n->mut,
                             .ctx = &n->ctx,
                             .store = n->store,
                             .barrier = tm_ckpt_barrier,
                             .barrier_arg = n->ckpt};
        rc = tm_mesh_open(&mesh, n->zctx, &mo, err, errlen);
        if (rc == 0) {
            n->ctx.mesh = mesh;
            tm_mesh_writer(mesh, tm_ckpt_busy, n->ckpt);
            if (n->ctx.rollout != NULL) {
                tm_rollout_set_mesh(n->ctx.rollout, mesh);
            }
            rc = s_add_service(n, tm_mesh_service(mesh));
        }
    }
    return rc;
}

int tm_node_open(tm_node_t **out, const tm_config_t *cfg, char *err,
                 size_t errlen)
{
    uint64_t ckpt_tick = 0;
    *out = NULL;
    tm_node_t *n = calloc(1, sizeof *n);
    if (n == NULL) {
        s_err(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    n->cfg = *cfg;
    n->started = tm_time_now();
    n->stats = tm_stats_new();
    n->zctx = zmq_ctx_new();
    if (n->zctx != NULL) {
        s_io_threads_batch(n->zctx); /* before its first socket */
    }
    int rc = n->stats != NULL && n->zctx != NULL ? 0 : TM_ERR_NOMEM;
    if (rc != 0) {
        s_err(err, errlen, "out of memory");
    }
    if (rc == 0) {
        rc = s_open_store(n, err, errlen);
    }
    if (rc == 0) {
        rc = s_open_runtime(n, &ckpt_tick, err, errlen);
    }
    if (rc == 0) {
        rc = s_open_services(n, ckpt_tick, err, errlen);
    }
    if (rc == 0) {
        rc = s_register_stats(n);
        if (rc != 0) {
            s_err(err, errlen, "cannot register statistics: %s",
                  tm_err_str(rc));
        }
    }
    if (rc == 0) {
        n->loop = ev_default_loop(EVFLAG_AUTO);
        if (n->loop == NULL) {
            s_err(err, errlen, "cannot create the event loop");
            rc = TM_ERR_IO;
        }
    }
    if (rc != 0) {
        tm_node_destroy(&n);
        return rc;
    }
    ev_signal_init(&n->sigterm, s_signal_cb, SIGTERM);
    ev_signal_init(&n->sigint, s_signal_cb, SIGINT);
    n->sigterm.data = n;
    n->sigint.data = n;
    *out = n;
    return 0;
}

int tm_node_run(tm_node_t *n, char *err, size_t errlen)
{
    struct ev_loop *loop = n->loop;
    tm_rt_stats_t rs;
    tm_rt_stats(n->rt, &rs);
    tm_log(TM_LOG_INFO,
           "node: %s (site %s) up: %zu actors, tick %llu, h %g s, clock %s, "
           "%u workers; console %s; data %s",
           n->cfg.name, n->cfg.site, tm_rt_count(n->rt),
           (unsigned long long)tm_rt_tick(n->rt), n->cfg.tick,
           tm_clock_name(n->cfg.clock), rs.workers, n->cfg.endpoint,
           n->cfg.data);
    ev_signal_start(loop, &n->sigterm);
    ev_signal_start(loop, &n->sigint);
    int rc = 0;
    for (size_t i = 0; i < n->n_services && rc == 0; i++) {
        if (n->services[i].attach != NULL) {
            rc = n->services[i].attach(n->services[i].self, loop);
        }
    }
    if (rc == 0) {
        ev_run(loop, 0);
    }

    /* Stopping: no more steps, answer what consoles wait for. */
    n->stopping = true;
    for (size_t i = 0; i < n->n_services; i++) {
        if (n->services[i].stop != NULL) {
            n->services[i].stop(n->services[i].self);
        }
    }
    ev_signal_stop(loop, &n->sigterm);
    ev_signal_stop(loop, &n->sigint);
    if (rc != 0) {
        s_err(err, errlen, "cannot start the node's services: %s",
              tm_err_str(rc));
        return rc;
    }
    rc = n->fatal;
    if (rc != 0) {
        s_err(err, errlen,
              "runtime failed: %s (no final checkpoint; the last one is at "
              "tick %llu)",
              tm_err_str(rc), (unsigned long long)tm_ckpt_tick(n->ckpt));
        return rc;
    }
    double t0 = tm_time_now();
    rc = tm_ckpt_final(n->ckpt);
    if (rc != 0) {
        s_err(err, errlen, "final checkpoint failed: %s", tm_err_str(rc));
        return rc;
    }
    tm_log(TM_LOG_INFO,
           "node: final checkpoint at tick %llu (%zu actors) in %.1f ms; "
           "stopped",
           (unsigned long long)tm_rt_tick(n->rt), tm_rt_count(n->rt),
           (tm_time_now() - t0) * 1e3);
    return 0;
}

void tm_node_destroy(tm_node_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_node_t *n = *p;
    for (size_t i = n->n_services; i > 0; i--) {
        if (n->services[i - 1].close != NULL) {
            n->services[i - 1].close(n->services[i - 1].self);
        }
    }
    if (n->n_services == 0) {
        tm_sched_destroy(&n->sched); /* opened, never added */
    }
    tm_mut_destroy(&n->mut);
    tm_rt_destroy(&n->rt);
    if (n->zctx != NULL) {
        zmq_ctx_term(n->zctx);
    }
    tm_store_close(&n->store);
    if (n->loop != NULL) {
        ev_loop_destroy(n->loop);
    }
    tm_stats_destroy(&n->stats);
    free(n);
    *p = NULL;
}
