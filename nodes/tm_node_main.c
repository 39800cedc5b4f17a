/* twinmesh-node: one node of the twinmesh mesh (flags, config, exit codes).
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT, final checkpoint written),
 * 1 the node could not start or failed while running, 2 bad config or
 * flag, 4 the store in the data directory is damaged (restarting cannot
 * help: systemd's RestartPreventExitStatus names it).
 *
 * --verify and --backup DEST work on the data directory of the config and
 * flags and exit without starting a node.
 */
#include "tm_config.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_node.h"
#include "tm_persist.h"
#include "tm_store.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EXIT_FAILED  1
#define S_EXIT_USAGE   2
#define S_EXIT_DAMAGED 4

typedef struct {
    const char *flag;    /* without "--" */
    const char *section; /* config section ... */
    const char *key;     /* ... and key it overrides */
    const char *arg;     /* placeholder in --help */
    const char *help;
} s_flag_t;

static const s_flag_t s_flags[] = {
    {"name", "node", "name", "NAME", "node name (default node-1)"},
    {"site", "node", "site", "SITE", "site name (default local)"},
    {"data", "node", "data", "DIR", "data directory (default ./twinmesh-data)"},
    {"console", "console", "endpoint", "ENDPOINT",
     "console endpoint (default tcp://127.0.0.1:7700)"},
    {"workers", "node", "workers", "N",
     "worker threads, 0 = one per core (default 0)"},
    {"tick", "node", "tick", "SECONDS", "tick step h (default 0.05)"},
    {"clock", "node", "clock", "MODE",
     "realtime, fast or paused (default realtime)"},
    {"checkpoint", "node", "checkpoint", "TICKS",
     "ticks between checkpoints, 0 = only at exit (default 100)"},
    {"seed", "node", "seed", "N", "mesh seed (default 1)"},
    {"log", "node", "log", "LEVEL",
     "debug, info, warn, error or off (default info)"},
    {"mesh", "mesh", "endpoint", "ENDPOINT",
     "where peers reach this node (default: no mesh)"},
    {"peer", "mesh", "peer", "ENDPOINT",
     "a peer's mesh endpoint (repeatable; its own is skipped)"},
    {"heartbeat", "mesh", "heartbeat", "SECONDS",
     "seconds between heartbeats (default 0.1)"},
    {"suspect", "mesh", "suspect", "N",
     "missed heartbeats before a peer is suspect (default 3)"},
    {"dead", "mesh", "dead", "N",
     "missed heartbeats before a peer is dead (default 10)"},
    {"wait", "mesh", "wait", "SECONDS",
     "realtime: wait for a late peer's values, then hold them (0.5)"},
    {"replicas", "mesh", "replicas", "N",
     "1: keep a standby copy of this node on another (default 0)"},
    {"standby", "mesh", "standby", "NAME",
     "the node that keeps it (default: the next member by name)"},
    {"etcd", "mesh", "etcd", "URLS",
     "etcd endpoints: step actors only under a lease (default: none)"},
    {"lease-ttl", "mesh", "lease_ttl", "SECONDS",
     "the lease's TTL in etcd (default 5)"},
    {"etcd-prefix", "mesh", "etcd_prefix", "PREFIX",
     "the mesh's keys in etcd (default /twinmesh/)"},
    {"failover", "mesh", "failover", "MODE",
     "manual or auto: a dead node's standby takes over (needs etcd)"},
    {"telemetry", "telemetry", "endpoint", "ENDPOINT",
     "PULL endpoint for measurements (default: none)"},
    {"outputs", "telemetry", "outputs", "ENDPOINT",
     "PUB endpoint for twin outputs (default: none)"},
    {"mqtt", "telemetry", "mqtt", "HOST:PORT",
     "MQTT broker to take measurements from (default: none)"},
    {"replay", "supervisor", "replay", "FILE",
     "apply the step-time fallbacks of an audit log (JSON) at their ticks"},
};

#define S_NFLAGS (sizeof s_flags / sizeof s_flags[0])

static void s_usage(FILE *f)
{
    fprintf(f, "usage: twinmesh-node [--config FILE] [FLAGS]\n\n"
               "Runs one twinmesh node. With no arguments: data in "
               "./twinmesh-data,\nconsole on tcp://127.0.0.1:7700, realtime "
               "clock. Flags override the config file.\n\n"
               "  --config FILE          INI node config (see "
               "config/node-a.ini)\n");
    for (size_t i = 0; i < S_NFLAGS; i++) {
        char left[40];
        snprintf(left, sizeof left, "--%s %s", s_flags[i].flag, s_flags[i].arg);
        fprintf(f, "  %-22s %s\n", left, s_flags[i].help);
    }
    fprintf(f, "  --check                print the effective settings and "
               "exit\n"
               "  --retick               step on with --tick even if the "
               "store was\n"
               "                         stepped with another tick step\n"
               "  --verify               check the store in the data "
               "directory and exit\n"
               "  --backup DEST          copy the store into the new "
               "directory DEST,\n"
               "                         verify the copy and exit\n"
               "  --help                 this text\n"
               "  --version              print the version\n\n"
               "Exit status: 0 clean stop (or sound, backed up), 1 failure, "
               "2 bad config\nor flag, 4 the store is damaged.\n");
}

static const s_flag_t *s_find_flag(const char *name)
{
    for (size_t i = 0; i < S_NFLAGS; i++) {
        if (strcmp(s_flags[i].flag, name) == 0) {
            return &s_flags[i];
        }
    }
    return NULL;
}

/* Split "--name=value" / "--name value". Returns the flag name in name
 * (without "--") and the value (NULL if none is needed or missing). */
static void s_split(const char *arg, char *name, size_t cap, const char **eq)
{
    const char *body = arg + 2;
    const char *e = strchr(body, '=');
    size_t n = e ? (size_t)(e - body) : strlen(body);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(name, body, n);
    name[n] = '\0';
    *eq = e ? e + 1 : NULL;
}

/* Shortest "%.Ng" that reads back as the same double. */
static const char *s_real(double v, char *buf, size_t cap)
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    return buf;
}

/* [supervisor] and each [supervisor.FAMILY] of --check (a family's
 * section with its effective values). */
static void s_print_sup(const char *section, const tm_config_sup_t *f)
{
    char lim[32];
    printf("\n[%s]\npromote_after = %u\nmax_restarts = %u\n"
           "restart_window = %u\nresidual_limit = %s\nresidual_steps = %u\n"
           "step_budget = %u\nbudget_steps = %u\n",
           section, f->promote_after, f->max_restarts, f->restart_window,
           s_real(f->residual_limit, lim, sizeof lim), f->residual_steps,
           f->step_budget, f->budget_steps);
}

static void s_print_supervisor(const tm_config_t *c)
{
    s_print_sup("supervisor", &c->sup);
    if (c->replay[0] != '\0') {
        printf("replay = %s\n", c->replay);
    }
    for (unsigned i = 0; i < c->n_sup_family; i++) {
        tm_config_sup_t f = tm_config_sup(c, c->sup_family[i].family);
        char section[TM_CONFIG_NAME_MAX + 16];
        snprintf(section, sizeof section, "supervisor.%s", f.family);
        s_print_sup(section, &f);
    }
}

/* [telemetry] of --check: the keys that are set, and the others'
 * values. */
static void s_print_telemetry(const tm_config_t *c)
{
    char window[32];
    printf("\n[telemetry]\n");
    if (c->telemetry[0] != '\0') {
        printf("endpoint = %s\n", c->telemetry);
    }
    if (c->outputs[0] != '\0') {
        printf("outputs = %s\n", c->outputs);
    }
    printf("window = %s\nhorizon = %u\nhistory = %u\n",
           s_real(c->window, window, sizeof window), c->horizon, c->history);
    if (c->mqtt[0] != '\0') {
        char id[TM_CONFIG_MQTT_ID_MAX + 1];
        printf("mqtt = %s\nmqtt_id = %s\n", c->mqtt,
               tm_config_mqtt_id(c, id, sizeof id));
    }
}

static void s_print_config(const tm_config_t *c)
{
    char tick[32];
    printf("[node]\nname = %s\nsite = %s\ndata = %s\nworkers = %u\n"
           "tick = %s\nclock = %s\ncheckpoint = %llu\nseed = %llu\n"
           "log = %s\n\n[console]\nendpoint = %s\n",
           c->name, c->site, c->data, c->workers,
           s_real(c->tick, tick, sizeof tick), tm_clock_name(c->clock),
           (unsigned long long)c->checkpoint, (unsigned long long)c->seed,
           c->log_level == TM_LOG_DEBUG   ? "debug"
           : c->log_level == TM_LOG_INFO  ? "info"
           : c->log_level == TM_LOG_WARN  ? "warn"
           : c->log_level == TM_LOG_ERROR ? "error"
                                          : "off",
           c->endpoint);
    if (c->mesh[0] != '\0' || c->n_peers > 0) {
        char hb[32];
        printf("\n[mesh]\nendpoint = %s\n", c->mesh);
        for (unsigned i = 0; i < c->n_peers; i++) {
            printf("peer = %s\n", c->peers[i]);
        }
        char wait[32];
        printf("heartbeat = %s\nsuspect = %u\ndead = %u\nwait = %s\n",
               s_real(c->heartbeat, hb, sizeof hb), c->suspect, c->dead,
               s_real(c->wait, wait, sizeof wait));
        if (c->replicas > 0) {
            printf("replicas = %u\n", c->replicas);
        }
        if (c->standby[0] != '\0') {
            printf("standby = %s\n", c->standby);
        }
        if (c->etcd[0] != '\0') {
            char ttl[32];
            printf("etcd = %s\nlease_ttl = %s\netcd_prefix = %s\n", c->etcd,
                   s_real(c->lease_ttl, ttl, sizeof ttl), c->etcd_prefix);
        }
        if (c->failover_auto) {
            printf("failover = auto\n");
        }
    }
    if (c->telemetry[0] != '\0' || c->outputs[0] != '\0' ||
        c->mqtt[0] != '\0') {
        s_print_telemetry(c);
    }
    if (c->audit_retention != TM_CONFIG_DEFAULT_RETENTION ||
        c->audit_days != 0) {
        printf("\n[audit]\nretention = %llu\nretention_days = %llu\n",
               (unsigned long long)c->audit_retention,
               (unsigned long long)c->audit_days);
    }
    s_print_supervisor(c);
}

/* Why a store could not be opened or checked, for an operator. */
static void s_store_error(const char *what, const char *dir, int rc)
{
    switch (rc) {
    case TM_ERR_NO_DIR:
        fprintf(stderr, "twinmesh-node: %s: data directory %s does not exist\n",
                what, dir);
        break;
    case TM_ERR_STORE_MISSING:
        fprintf(stderr,
                "twinmesh-node: %s: data directory %s holds no twinmesh "
                "store\n",
                what, dir);
        break;
    case TM_ERR_STORE_FOREIGN:
        fprintf(stderr,
                "twinmesh-node: %s: data directory %s holds files that are "
                "not a twinmesh store\n",
                what, dir);
        break;
    default:
        fprintf(stderr, "twinmesh-node: %s: data directory %s: %s\n", what, dir,
                tm_err_str(rc));
        break;
    }
}

static int s_report_damage(const char *dir, const tm_store_verify_t *v)
{
    char what[TM_STORE_WHY_MAX + 256];
    tm_store_verify_describe(v, what, sizeof what);
    fprintf(stderr, "twinmesh-node: data directory %s is damaged: %s\n", dir,
            what);
    return S_EXIT_DAMAGED;
}

/* --verify: 0 sound, 4 damaged, 1 could not check. */
static int s_verify_main(const char *dir)
{
    tm_store_verify_t v;
    int rc = tm_persist_verify(dir, &v);
    if (rc == TM_ERR_STORE_CORRUPT) {
        return s_report_damage(dir, &v);
    }
    if (rc != 0) {
        s_store_error("cannot verify", dir, rc);
        return S_EXIT_FAILED;
    }
    printf("%s: sound (format %u, %s): %llu actors, %llu links, %llu meta, "
           "%llu catalog and %llu audit records; %llu pages, %llu free\n",
           dir, (unsigned)v.format,
           v.checksums ? "records checksummed" : "no checksums",
           (unsigned long long)v.records[TM_DB_ACTORS],
           (unsigned long long)v.records[TM_DB_LINKS],
           (unsigned long long)v.records[TM_DB_META],
           (unsigned long long)v.records[TM_DB_CATALOG],
           (unsigned long long)v.records[TM_DB_AUDIT],
           (unsigned long long)v.pages, (unsigned long long)v.free_pages);
    return 0;
}

/* --backup DEST: check the store, copy it, verify the copy. 0 done, 4 the
 * store (or the copy) is damaged, 1 other failures. */
static int s_backup_main(const char *dir, const char *dest)
{
    tm_store_verify_t v;
    tm_store_t *store = NULL;
    tm_store_opts_t ro = {.read_only = 1};
    tm_store_failure_t fail;
    int status = S_EXIT_FAILED;
    /* The copy reads the store in this process: check it in a child
     * first, so that a damaged page cannot crash the copy. */
    int rc = tm_persist_verify(dir, &v);
    if (rc == TM_ERR_STORE_CORRUPT) {
        status = s_report_damage(dir, &v);
        fprintf(stderr, "twinmesh-node: no backup made\n");
        goto done;
    }
    if (rc == 0) {
        rc = tm_store_open(&store, dir, &ro);
    }
    if (rc != 0) {
        s_store_error("cannot back up", dir, rc);
        goto done;
    }
    rc = tm_persist_backup(store, dest, &v);
    switch (rc) {
    case 0:
        printf("%s: backed up to %s and verified: %llu actors, %llu links, "
               "%llu pages\n",
               dir, dest, (unsigned long long)v.records[TM_DB_ACTORS],
               (unsigned long long)v.records[TM_DB_LINKS],
               (unsigned long long)v.pages);
        status = 0;
        break;
    case TM_ERR_STORE_CORRUPT:
        status = s_report_damage(dest, &v);
        fprintf(stderr, "twinmesh-node: the copy was removed\n");
        break;
    case TM_ERR_EXISTS:
        fprintf(stderr,
                "twinmesh-node: cannot back up to %s: it exists and is not an "
                "empty directory\n",
                dest);
        break;
    case TM_ERR_NOSPACE:
        tm_store_last_failure(store, &fail);
        fprintf(stderr,
                "twinmesh-node: cannot back up to %s: no space left on "
                "device (the copy needs about %llu bytes, %llu are free "
                "there); nothing was kept\n",
                dest, (unsigned long long)fail.need_bytes,
                (unsigned long long)fail.free_bytes);
        break;
    default:
        fprintf(stderr, "twinmesh-node: cannot back up to %s: %s\n", dest,
                tm_err_str(rc));
        break;
    }
done:
    tm_store_close(&store);
    return status;
}

int main(int argc, char **argv)
{
    tm_config_t cfg;
    char err[TM_CONFIG_ERR_MAX + 128];
    char why[TM_CONFIG_ERR_MAX];
    const char *config = NULL;
    const char *backup = NULL;
    bool check = false;
    bool verify = false;
    tm_node_t *node = NULL;
    int status = 0;

    tm_config_defaults(&cfg);
    /* Pass 1: --config, --help, --version, --check; unknown flags. */
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *eq = NULL;
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            fprintf(stderr,
                    "twinmesh-node: unexpected argument '%s' (see --help)\n",
                    argv[i]);
            return S_EXIT_USAGE;
        }
        s_split(argv[i], name, sizeof name, &eq);
        if (strcmp(name, "help") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(name, "version") == 0) {
            printf("twinmesh-node 0.1.0\n");
            return 0;
        }
        if (strcmp(name, "check") == 0) {
            check = true;
            continue;
        }
        if (strcmp(name, "retick") == 0) {
            if (cfg.retick || eq != NULL) {
                fprintf(stderr, "twinmesh-node: --retick %s (see --help)\n",
                        eq != NULL ? "takes no value" : "given twice");
                return S_EXIT_USAGE;
            }
            cfg.retick = true;
            continue;
        }
        if (strcmp(name, "verify") == 0) {
            if (verify || eq != NULL) {
                fprintf(stderr, "twinmesh-node: --verify %s (see --help)\n",
                        eq != NULL ? "takes no value" : "given twice");
                return S_EXIT_USAGE;
            }
            verify = true;
            continue;
        }
        if (strcmp(name, "config") != 0 && strcmp(name, "backup") != 0 &&
            s_find_flag(name) == NULL) {
            fprintf(stderr, "twinmesh-node: unknown option --%s (see --help)\n",
                    name);
            return S_EXIT_USAGE;
        }
        const char *val = eq;
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "twinmesh-node: --%s needs a value\n", name);
                return S_EXIT_USAGE;
            }
            val = argv[++i];
        }
        if (strcmp(name, "config") == 0) {
            config = val;
        }
        if (strcmp(name, "backup") == 0) {
            if (backup != NULL || val[0] == '\0') {
                fprintf(stderr, "twinmesh-node: --backup %s\n",
                        backup != NULL ? "given twice"
                                       : "needs a destination directory");
                return S_EXIT_USAGE;
            }
            backup = val;
        }
    }
    if ((int)check + (int)verify + (backup != NULL) > 1) {
        fprintf(stderr, "twinmesh-node: --check, --verify and --backup "
                        "exclude each other\n");
        return S_EXIT_USAGE;
    }
    if (config != NULL) {
        int rc = tm_config_load(&cfg, config, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "twinmesh-node: %s\n", err);
            return S_EXIT_USAGE;
        }
    }
    /* Pass 2: flags override the file. */
    for (int i = 1; i < argc; i++) {
        char name[32];
        const char *eq = NULL;
        s_split(argv[i], name, sizeof name, &eq);
        if (strcmp(name, "check") == 0 || strcmp(name, "verify") == 0) {
            continue;
        }
        const char *val = eq ? eq : argv[++i];
        const s_flag_t *f = s_find_flag(name);
        if (f == NULL) {
            continue; /* --config, --backup */
        }
        if (tm_config_set(&cfg, f->section, f->key, val, why, sizeof why) !=
            0) {
            fprintf(stderr, "twinmesh-node: --%s: %s\n", name, why);
            return S_EXIT_USAGE;
        }
    }
    if (check) {
        s_print_config(&cfg);
        return 0;
    }
    if (verify) {
        return s_verify_main(cfg.data);
    }
    if (backup != NULL) {
        return s_backup_main(cfg.data, backup);
    }
    tm_log_set_level((tm_log_level_t)cfg.log_level);
    tm_log_set_tag(cfg.name);
    /* A write to a connection the peer closed must fail with EPIPE, not
     * kill the node: libmosquitto writes with write(2). */
    signal(SIGPIPE, SIG_IGN);

    int rc = tm_node_open(&node, &cfg, err, sizeof err);
    if (rc != 0) {
        tm_log(TM_LOG_ERROR, "node: %s", err);
        fprintf(stderr, "twinmesh-node: %s\n", err);
        status = rc == TM_ERR_STORE_CORRUPT ? S_EXIT_DAMAGED
                 : rc == TM_ERR_CONFIG      ? S_EXIT_USAGE
                                            : S_EXIT_FAILED;
        goto done;
    }
    rc = tm_node_run(node, err, sizeof err);
    if (rc != 0) {
        tm_log(TM_LOG_ERROR, "node: %s", err);
        status = S_EXIT_FAILED;
    }
done:
    tm_node_destroy(&node);
    return status;
}
