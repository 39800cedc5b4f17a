/* tm_config: node settings from defaults, an INI file (inih) and flags. */
#include "tm_config.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_mqtt_wire.h"
#include "tm_sock.h"

#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <sys/stat.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_WORKERS 64u
#define S_MAX_TICK    3600.0
/* Known keys: 9 in [node], 1 in [console], 12 in [mesh] (peer may
 * repeat), 7 in [telemetry], 2 in [audit], 8 in [supervisor] and 7 in
 * each of 16 [supervisor.FAMILY]: 151. */
#define S_KEYS_MAX 160

/* Parse state shared by the reader and the handler of one parse. */
#define S_CONFIG_MAX (1024 * 1024) /* bytes in a config file */

typedef struct {
    tm_config_t *cfg;
    const char *name; /* file name for messages */
    FILE *file;       /* source: a file ... */
    const char *text; /* ... or a string */
    int line;         /* lines handed to inih so far */
    int err_line;     /* first error found by us (0: none) */
    char err[TM_CONFIG_ERR_MAX];
    struct {
        char name[TM_CONFIG_NAME_MAX * 2]; /* "section.key" */
        int line;
    } keys[S_KEYS_MAX]; /* keys set so far, to refuse one given twice */
    int n_keys;
} s_parse_t;

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

void tm_config_defaults(tm_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "%s", TM_CONFIG_DEFAULT_NAME);
    snprintf(cfg->site, sizeof cfg->site, "%s", TM_CONFIG_DEFAULT_SITE);
    snprintf(cfg->data, sizeof cfg->data, "%s", TM_CONFIG_DEFAULT_DATA);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s",
             TM_CONFIG_DEFAULT_ENDPOINT);
    cfg->workers = 0;
    cfg->tick = TM_CONFIG_DEFAULT_TICK;
    cfg->clock = TM_CLOCK_REALTIME;
    cfg->checkpoint = TM_CONFIG_DEFAULT_CHECKPOINT;
    cfg->seed = 1;
    cfg->log_level = TM_LOG_INFO;
    cfg->heartbeat = TM_CONFIG_DEFAULT_HEARTBEAT;
    cfg->suspect = TM_CONFIG_DEFAULT_SUSPECT;
    cfg->dead = TM_CONFIG_DEFAULT_DEAD;
    cfg->wait = TM_CONFIG_DEFAULT_WAIT;
    cfg->lease_ttl = 5.0;
    snprintf(cfg->etcd_prefix, sizeof cfg->etcd_prefix, "/twinmesh/");
    cfg->window = TM_CONFIG_DEFAULT_WINDOW;
    cfg->horizon = TM_CONFIG_DEFAULT_HORIZON;
    cfg->sup = (tm_config_sup_t){.promote_after = 50,
                                 .max_restarts = 3,
                                 .restart_window = 100,
                                 .residual_limit = 0.0,
                                 .residual_steps = 10,
                                 .step_budget = 0,
                                 .budget_steps = 3};
    cfg->history = TM_CONFIG_DEFAULT_HISTORY;
    cfg->audit_retention = TM_CONFIG_DEFAULT_RETENTION;
    cfg->audit_days = 0;
}

const char *tm_config_mqtt_id(const tm_config_t *cfg, char *buf, size_t cap)
{
    if (cfg->mqtt_id[0] != '\0') {
        snprintf(buf, cap, "%s", cfg->mqtt_id);
    } else {
        snprintf(buf, cap, "twinmesh-%s", cfg->name);
    }
    return buf;
}

/* A mesh endpoint: checked like the console's, bounded in length. */
static int s_mesh_lease(tm_config_t *cfg, const char *key, const char *value,
                        char *err, size_t errlen);

static int s_mesh_endpoint(const char *value, bool bind, char *dst, char *err,
                           size_t errlen)
{
    char why[300];
    if (strlen(value) > TM_CONFIG_ENDPOINT_MAX) {
        s_err(err, errlen, "endpoint longer than %u bytes",
              TM_CONFIG_ENDPOINT_MAX);
        return TM_ERR_CONFIG;
    }
    if (tm_sock_endpoint_check(value, bind ? 1 : 0, why, sizeof why) != 0) {
        s_err(err, errlen, "%s (e.g. tcp://127.0.0.1:7800)", why);
        return TM_ERR_CONFIG;
    }
    if (bind &&
        (strstr(value, ":*") != NULL || strstr(value, "://*") != NULL ||
         (strlen(value) > 2 && strcmp(value + strlen(value) - 2, ":0") == 0))) {
        s_err(err, errlen,
              "a mesh endpoint is the address peers dial: give a host and a "
              "fixed port");
        return TM_ERR_CONFIG;
    }
    snprintf(dst, TM_CONFIG_ENDPOINT_MAX + 1, "%s", value);
    return 0;
}

static int s_set_mesh(tm_config_t *cfg, const char *key, const char *value,
                      char *err, size_t errlen)
{
    uint64_t u = 0;
    double d = 0;
    if (strcmp(key, "endpoint") == 0) {
        return s_mesh_endpoint(value, true, cfg->mesh, err, errlen);
    }
    if (strcmp(key, "peer") == 0) {
        for (unsigned i = 0; i < cfg->n_peers; i++) {
            if (strcmp(cfg->peers[i], value) == 0) {
                return 0; /* the same peer twice is one peer */
            }
        }
        if (cfg->n_peers >= TM_CONFIG_PEERS_MAX) {
            s_err(err, errlen, "more than %u peers", TM_CONFIG_PEERS_MAX);
            return TM_ERR_CONFIG;
        }
        int rc = s_mesh_endpoint(value, false, cfg->peers[cfg->n_peers], err,
                                 errlen);
        cfg->n_peers += rc == 0;
        return rc;
    }
    if (strcmp(key, "heartbeat") == 0) {
        if (tm_text_parse_f64(value, &d) != 0 || !(d >= 0.01) || d > 60) {
            s_err(err, errlen,
                  "'%s' is not a heartbeat interval (seconds, 0.01 to 60)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->heartbeat = d;
        return 0;
    }
    if (strcmp(key, "wait") == 0) {
        if (tm_text_parse_f64(value, &d) != 0 || !(d >= 0) || d > 3600) {
            s_err(err, errlen,
                  "'%s' is not a wait for late values (seconds, 0 to 3600)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->wait = d;
        return 0;
    }
    if (strcmp(key, "suspect") == 0 || strcmp(key, "dead") == 0) {
        if (tm_text_parse_u64(value, true, 1, 1000, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a number of missed heartbeats (1 to 1000)",
                  value);
            return TM_ERR_CONFIG;
        }
        *(strcmp(key, "suspect") == 0 ? &cfg->suspect : &cfg->dead) =
            (unsigned)u;
        return 0;
    }
    if (strcmp(key, "replicas") == 0) {
        if (tm_text_parse_u64(value, true, 0, 1, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a number of standby copies (0 or 1)", value);
            return TM_ERR_CONFIG;
        }
        cfg->replicas = (unsigned)u;
        return 0;
    }
    if (strcmp(key, "standby") == 0) {
        if (!tm_text_name_valid(value)) {
            s_err(err, errlen,
                  "'%s' is not a node name (1-%u letters, digits, '_' or "
                  "'-')",
                  value, TM_CONFIG_NAME_MAX);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->standby, sizeof cfg->standby, "%s", value);
        return 0;
    }
    return s_mesh_lease(cfg, key, value, err, errlen);
}

/* [mesh] keys of the etcd lease. */
static int s_mesh_lease(tm_config_t *cfg, const char *key, const char *value,
                        char *err, size_t errlen)
{
    if (strcmp(key, "etcd") == 0) {
        if (strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0) {
            s_err(err, errlen,
                  "'%s' is not a list of etcd endpoints (http://HOST:PORT, "
                  "comma-separated)",
                  value);
            return TM_ERR_CONFIG;
        }
        if (strlen(value) >= sizeof cfg->etcd) {
            s_err(err, errlen, "etcd endpoints longer than %zu bytes",
                  sizeof cfg->etcd - 1);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->etcd, sizeof cfg->etcd, "%s", value);
        return 0;
    }
    if (strcmp(key, "lease_ttl") == 0) {
        double d = 0;
        if (tm_text_parse_f64(value, &d) != 0 || !(d >= 2 && d <= 3600)) {
            s_err(err, errlen, "'%s' is not a lease TTL in seconds (2 to 3600)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->lease_ttl = d;
        return 0;
    }
    if (strcmp(key, "etcd_prefix") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof cfg->etcd_prefix ||
            strchr(value, ' ') != NULL) {
            s_err(err, errlen,
                  "'%s' is not a key prefix (it starts with '/', at most %zu "
                  "bytes, no spaces)",
                  value, sizeof cfg->etcd_prefix - 1);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->etcd_prefix, sizeof cfg->etcd_prefix, "%s", value);
        return 0;
    }
    if (strcmp(key, "failover") == 0) {
        if (strcmp(value, "auto") != 0 && strcmp(value, "manual") != 0) {
            s_err(err, errlen, "'%s' is not a failover mode (manual or auto)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->failover_auto = strcmp(value, "auto") == 0;
        return 0;
    }
    s_err(err, errlen,
          "unknown key (known: endpoint, peer, heartbeat, suspect, dead, "
          "wait, replicas, standby, etcd, lease_ttl, etcd_prefix, failover)");
    return TM_ERR_CONFIG;
}

/* [telemetry] mqtt and mqtt_id. */
static int s_set_mqtt(tm_config_t *cfg, const char *key, const char *value,
                      char *err, size_t errlen)
{
    if (strcmp(key, "mqtt_id") == 0) {
        if (!tm_text_word_valid(value, TM_CONFIG_MQTT_ID_MAX)) {
            s_err(err, errlen,
                  "'%s' is not an MQTT client id (1-%u letters, digits, '_' "
                  "or '-')",
                  value, TM_CONFIG_MQTT_ID_MAX);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->mqtt_id, sizeof cfg->mqtt_id, "%s", value);
        return 0;
    }
    char host[TM_MQTT_HOST_MAX + 1];
    char why[128];
    uint16_t port = 0;
    if (strlen(value) > TM_CONFIG_ENDPOINT_MAX) {
        s_err(err, errlen, "broker address longer than %u bytes",
              TM_CONFIG_ENDPOINT_MAX);
        return TM_ERR_CONFIG;
    }
    if (tm_mqtt_broker_parse(value, host, sizeof host, &port, why,
                             sizeof why) != 0) {
        s_err(err, errlen,
              "'%s' is not an MQTT broker: %s (e.g. 127.0.0.1:1883 or "
              "mqtt://broker.example:1883)",
              value, why);
        return TM_ERR_CONFIG;
    }
    snprintf(cfg->mqtt, sizeof cfg->mqtt, "%s", value);
    return 0;
}

static int s_set_telemetry(tm_config_t *cfg, const char *key, const char *value,
                           char *err, size_t errlen)
{
    uint64_t u = 0;
    double d = 0;
    if (strcmp(key, "endpoint") == 0 || strcmp(key, "outputs") == 0) {
        char why[300];
        if (strlen(value) > TM_CONFIG_ENDPOINT_MAX ||
            tm_sock_endpoint_check(value, 1, why, sizeof why) != 0) {
            s_err(err, errlen, "%s (e.g. tcp://127.0.0.1:7600)",
                  strlen(value) > TM_CONFIG_ENDPOINT_MAX ? "endpoint too long"
                                                         : why);
            return TM_ERR_CONFIG;
        }
        char *dst = key[0] == 'e' ? cfg->telemetry : cfg->outputs;
        snprintf(dst, TM_CONFIG_ENDPOINT_MAX + 1, "%s", value);
        return 0;
    }
    if (strcmp(key, "window") == 0) {
        if (tm_text_parse_f64(value, &d) != 0 || !(d >= 0) || d > 3600) {
            s_err(err, errlen,
                  "'%s' is not a window for late samples (seconds, 0 to "
                  "3600)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->window = d;
        return 0;
    }
    if (strcmp(key, "horizon") == 0 || strcmp(key, "history") == 0) {
        bool hz = key[1] == 'o';
        if (tm_text_parse_u64(value, true, hz ? 2 : 16, hz ? 4096 : 100000,
                              &u) != 0) {
            s_err(err, errlen, "'%s' is not a number of steps (%s)", value,
                  hz ? "2 to 4096" : "16 to 100000");
            return TM_ERR_CONFIG;
        }
        *(hz ? &cfg->horizon : &cfg->history) = (unsigned)u;
        return 0;
    }
    if (strcmp(key, "mqtt") == 0 || strcmp(key, "mqtt_id") == 0) {
        return s_set_mqtt(cfg, key, value, err, errlen);
    }
    s_err(err, errlen,
          "unknown key (known: endpoint, outputs, window, horizon, history, "
          "mqtt, mqtt_id)");
    return TM_ERR_CONFIG;
}

tm_config_sup_t tm_config_sup(const tm_config_t *cfg, const char *family)
{
    tm_config_sup_t out = cfg->sup;
    for (unsigned i = 0; i < cfg->n_sup_family; i++) {
        const tm_config_sup_t *f = &cfg->sup_family[i];
        if (strcmp(f->family, family) != 0) {
            continue;
        }
        if (f->promote_after != TM_CONFIG_SUP_UNSET) {
            out.promote_after = f->promote_after;
        }
        if (f->max_restarts != TM_CONFIG_SUP_UNSET) {
            out.max_restarts = f->max_restarts;
        }
        if (f->restart_window != TM_CONFIG_SUP_UNSET) {
            out.restart_window = f->restart_window;
        }
        if (!isnan(f->residual_limit)) {
            out.residual_limit = f->residual_limit;
        }
        if (f->residual_steps != TM_CONFIG_SUP_UNSET) {
            out.residual_steps = f->residual_steps;
        }
        if (f->step_budget != TM_CONFIG_SUP_UNSET) {
            out.step_budget = f->step_budget;
        }
        if (f->budget_steps != TM_CONFIG_SUP_UNSET) {
            out.budget_steps = f->budget_steps;
        }
    }
    snprintf(out.family, sizeof out.family, "%s", family);
    return out;
}

/* The entry of [supervisor] ("") or [supervisor.FAMILY], made if new. */
static tm_config_sup_t *s_sup_entry(tm_config_t *cfg, const char *family,
                                    char *err, size_t errlen)
{
    if (family[0] == '\0') {
        return &cfg->sup;
    }
    if (strlen(family) > TM_CONFIG_NAME_MAX || !tm_text_name_valid(family)) {
        s_err(err, errlen, "'%s' is not a model family name", family);
        return NULL;
    }
    for (unsigned i = 0; i < cfg->n_sup_family; i++) {
        if (strcmp(cfg->sup_family[i].family, family) == 0) {
            return &cfg->sup_family[i];
        }
    }
    if (cfg->n_sup_family == TM_CONFIG_SUP_FAMILIES) {
        s_err(err, errlen, "more than %u [supervisor.FAMILY] sections",
              TM_CONFIG_SUP_FAMILIES);
        return NULL;
    }
    tm_config_sup_t *f = &cfg->sup_family[cfg->n_sup_family++];
    snprintf(f->family, sizeof f->family, "%s", family);
    f->promote_after = f->max_restarts = f->restart_window = f->residual_steps =
        f->step_budget = f->budget_steps = TM_CONFIG_SUP_UNSET;
    f->residual_limit = NAN;
    return f;
}

static int s_set_supervisor(tm_config_t *cfg, const char *family,
                            const char *key, const char *value, char *err,
                            size_t errlen)
{
    static const struct {
        const char *key;
        size_t off;
        uint64_t min, max;
        const char *what;
    } keys[] = {
        {"promote_after", offsetof(tm_config_sup_t, promote_after), 0, 1000000,
         "healthy steps (0 = never, <= 1000000)"},
        {"max_restarts", offsetof(tm_config_sup_t, max_restarts), 0,
         TM_CONFIG_SUP_RESTARTS_MAX, "faults (0 to 15)"},
        {"restart_window", offsetof(tm_config_sup_t, restart_window), 1,
         1000000, "ticks (1 to 1000000)"},
        {"residual_steps", offsetof(tm_config_sup_t, residual_steps), 1,
         1000000, "steps (1 to 1000000)"},
        {"step_budget", offsetof(tm_config_sup_t, step_budget), 0, 1000000000,
         "microseconds per actor step (0 = no budget, <= 10^9)"},
        {"budget_steps", offsetof(tm_config_sup_t, budget_steps), 1, 1000000,
         "checks (1 to 1000000)"},
    };
    tm_config_sup_t *e = NULL;
    if (strcmp(key, "replay") == 0) {
        if (family[0] != '\0') {
            s_err(err, errlen, "replay is a key of [supervisor] only");
            return TM_ERR_CONFIG;
        }
        if (value[0] == '\0' || strlen(value) > TM_CONFIG_PATH_MAX) {
            s_err(err, errlen,
                  "the replay file must be a path of 1 to %u bytes",
                  TM_CONFIG_PATH_MAX);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->replay, sizeof cfg->replay, "%s", value);
        return 0;
    }
    if (strcmp(key, "residual_limit") == 0) {
        double d = 0.0;
        if (tm_text_parse_f64(value, &d) != 0 || !(d >= 0.0) || d > 1e6) {
            s_err(err, errlen,
                  "'%s' is not a number of standard deviations (0 = no "
                  "residual checks, <= 10^6)",
                  value);
            return TM_ERR_CONFIG;
        }
        if ((e = s_sup_entry(cfg, family, err, errlen)) == NULL) {
            return TM_ERR_CONFIG;
        }
        e->residual_limit = d;
        return 0;
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].key) != 0) {
            continue;
        }
        uint64_t u = 0;
        if (tm_text_parse_u64(value, true, keys[i].min, keys[i].max, &u) != 0) {
            s_err(err, errlen, "'%s' is not a number of %s", value,
                  keys[i].what);
            return TM_ERR_CONFIG;
        }
        if ((e = s_sup_entry(cfg, family, err, errlen)) == NULL) {
            return TM_ERR_CONFIG;
        }
        *(uint32_t *)(void *)((char *)e + keys[i].off) = (uint32_t)u;
        return 0;
    }
    s_err(err, errlen,
          "unknown key (known: promote_after, max_restarts, restart_window, "
          "residual_limit, residual_steps, step_budget, budget_steps%s)",
          family[0] == '\0' ? ", replay" : "");
    return TM_ERR_CONFIG;
}

static int s_set_audit(tm_config_t *cfg, const char *key, const char *value,
                       char *err, size_t errlen)
{
    uint64_t u = 0;
    if (strcmp(key, "retention") == 0) {
        if (tm_text_parse_u64(value, true, 1, 1000000000000ull, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a number of audit records to keep (1 to "
                  "10^12)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->audit_retention = u;
        return 0;
    }
    if (strcmp(key, "retention_days") == 0) {
        if (tm_text_parse_u64(value, true, 0, 36500, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a number of days (0 = no age limit, at most "
                  "36500)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->audit_days = u;
        return 0;
    }
    s_err(err, errlen, "unknown key (known: retention, retention_days)");
    return TM_ERR_CONFIG;
}

static int s_set_node(tm_config_t *cfg, const char *key, const char *value,
                      char *err, size_t errlen)
{
    uint64_t u = 0;
    double d = 0;
    if (strcmp(key, "name") == 0 || strcmp(key, "site") == 0) {
        if (!tm_text_name_valid(value)) {
            s_err(err, errlen,
                  "'%s' is not a valid %s (1-%u letters, digits, '_' or "
                  "'-')",
                  value, key, TM_CONFIG_NAME_MAX);
            return TM_ERR_CONFIG;
        }
        char *dst = strcmp(key, "name") == 0 ? cfg->name : cfg->site;
        snprintf(dst, TM_CONFIG_NAME_MAX + 1, "%s", value);
    } else if (strcmp(key, "data") == 0) {
        if (value[0] == '\0' || strlen(value) > TM_CONFIG_PATH_MAX) {
            s_err(err, errlen, "data directory must be 1-%u bytes",
                  TM_CONFIG_PATH_MAX);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->data, sizeof cfg->data, "%s", value);
    } else if (strcmp(key, "workers") == 0) {
        if (tm_text_parse_u64(value, true, 0, S_MAX_WORKERS, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a worker count (0 = one per core, at most "
                  "%u)",
                  value, S_MAX_WORKERS);
            return TM_ERR_CONFIG;
        }
        cfg->workers = (unsigned)u;
    } else if (strcmp(key, "tick") == 0) {
        if (tm_text_parse_f64(value, &d) != 0 || !(d > 0) || d > S_MAX_TICK) {
            s_err(err, errlen,
                  "'%s' is not a tick step (seconds, > 0 and <= %g)", value,
                  S_MAX_TICK);
            return TM_ERR_CONFIG;
        }
        cfg->tick = d;
    } else if (strcmp(key, "clock") == 0) {
        tm_clock_t c;
        if (tm_clock_parse(value, &c) != 0) {
            s_err(err, errlen,
                  "'%s' is not a clock mode (realtime, fast or paused)", value);
            return TM_ERR_CONFIG;
        }
        cfg->clock = c;
    } else if (strcmp(key, "checkpoint") == 0) {
        if (tm_text_parse_u64(value, true, 0, UINT32_MAX, &u) != 0) {
            s_err(err, errlen,
                  "'%s' is not a checkpoint interval (ticks, 0 = only at "
                  "exit)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->checkpoint = u;
    } else if (strcmp(key, "seed") == 0) {
        if (tm_text_parse_u64(value, true, 0, UINT64_MAX, &u) != 0) {
            s_err(err, errlen, "'%s' is not a seed (unsigned 64-bit integer)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->seed = u;
    } else if (strcmp(key, "log") == 0) {
        int level = tm_log_level_parse(value);
        if (level < 0) {
            s_err(err, errlen,
                  "'%s' is not a log level (debug, info, warn, error, off)",
                  value);
            return TM_ERR_CONFIG;
        }
        cfg->log_level = level;
    } else {
        s_err(err, errlen,
              "unknown key (known: name, site, data, workers, tick, clock, "
              "checkpoint, seed, log)");
        return TM_ERR_CONFIG;
    }
    return 0;
}

int tm_config_set(tm_config_t *cfg, const char *section, const char *key,
                  const char *value, char *err, size_t errlen)
{
    if (cfg == NULL || section == NULL || key == NULL || value == NULL) {
        s_err(err, errlen, "missing section, key or value");
        return TM_ERR_CONFIG;
    }
    if (strcmp(section, "node") == 0) {
        return s_set_node(cfg, key, value, err, errlen);
    }
    if (strcmp(section, "console") == 0) {
        if (strcmp(key, "endpoint") != 0) {
            s_err(err, errlen, "unknown key (known: endpoint)");
            return TM_ERR_CONFIG;
        }
        char why[300];
        if (strlen(value) > TM_CONFIG_PATH_MAX) {
            s_err(err, errlen, "endpoint longer than %u bytes",
                  TM_CONFIG_PATH_MAX);
            return TM_ERR_CONFIG;
        }
        if (tm_sock_endpoint_check(value, 1, why, sizeof why) != 0) {
            s_err(err, errlen, "%s (e.g. tcp://127.0.0.1:7700)", why);
            return TM_ERR_CONFIG;
        }
        snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", value);
        return 0;
    }
    if (strcmp(section, "mesh") == 0) {
        return s_set_mesh(cfg, key, value, err, errlen);
    }
    if (strcmp(section, "telemetry") == 0) {
        return s_set_telemetry(cfg, key, value, err, errlen);
    }
    if (strcmp(section, "supervisor") == 0) {
        return s_set_supervisor(cfg, "", key, value, err, errlen);
    }
    if (strncmp(section, "supervisor.", 11) == 0) {
        return s_set_supervisor(cfg, section + 11, key, value, err, errlen);
    }
    if (strcmp(section, "audit") == 0) {
        return s_set_audit(cfg, key, value, err, errlen);
    }
    if (section[0] == '\0') {
        s_err(err, errlen, "key outside a section (put it under [node])");
    } else {
        s_err(err, errlen,
              "unknown section (known: [node], [console], [mesh], "
              "[telemetry], [audit], [supervisor], [supervisor.FAMILY])");
    }
    return TM_ERR_CONFIG;
}

/* fgets-style reader for inih that counts lines and refuses long ones. */
static char *s_reader(char *str, int num, void *stream)
{
    s_parse_t *p = stream;
    size_t n = 0;
    bool eol = false;
    if (num < 2) {
        return NULL;
    }
    if (p->file != NULL) {
        if (fgets(str, num, p->file) == NULL) {
            return NULL;
        }
        n = strlen(str);
        eol = n > 0 && str[n - 1] == '\n';
        if (!eol && !feof(p->file)) {
            int c;
            while ((c = fgetc(p->file)) != EOF && c != '\n') {
            }
        } else {
            eol = true;
        }
    } else {
        if (*p->text == '\0') {
            return NULL;
        }
        const char *nl = strchr(p->text, '\n');
        size_t len = nl ? (size_t)(nl - p->text) + 1 : strlen(p->text);
        n = len < (size_t)num - 1 ? len : (size_t)num - 1;
        memcpy(str, p->text, n);
        str[n] = '\0';
        eol = n == len;
        p->text += len;
    }
    p->line++;
    if (!eol && p->err_line == 0) {
        p->err_line = p->line;
        snprintf(p->err, sizeof p->err, "line longer than %d bytes", num - 3);
    }
    return str;
}

/* The line a key was set on before in this file, or 0; remembers it. */
static int s_seen_before(s_parse_t *p, const char *section, const char *key)
{
    char name[sizeof p->keys[0].name];
    snprintf(name, sizeof name, "%s.%s", section, key);
    for (int i = 0; i < p->n_keys; i++) {
        if (strcmp(p->keys[i].name, name) == 0) {
            return p->keys[i].line;
        }
    }
    if (p->n_keys < S_KEYS_MAX) {
        snprintf(p->keys[p->n_keys].name, sizeof name, "%s", name);
        p->keys[p->n_keys].line = p->line;
        p->n_keys++;
    }
    return 0;
}

static int s_handler(void *user, const char *section, const char *name,
                     const char *value)
{
    s_parse_t *p = user;
    char why[TM_CONFIG_ERR_MAX];
    int first = 0;
    int rc = tm_config_set(p->cfg, section, name, value, why, sizeof why);
    if (rc == 0) {
        first = strcmp(section, "mesh") == 0 && strcmp(name, "peer") == 0
                    ? 0
                    : s_seen_before(p, section, name);
        if (first == 0) {
            return 1;
        }
        snprintf(why, sizeof why, "given twice (first on line %d)", first);
    }
    if (p->err_line == 0) {
        p->err_line = p->line;
        if (section[0] == '\0') {
            snprintf(p->err, sizeof p->err, "%.64s: %.400s", name, why);
        } else {
            snprintf(p->err, sizeof p->err, "[%.64s] %.64s: %.360s", section,
                     name, why);
        }
    }
    return 0;
}

static int s_parse(s_parse_t *p, char *err, size_t errlen)
{
    bool multiline = ini_allow_multiline;
    /* A continuation line would silently extend the previous value;
     * every value here fits on one line. */
    ini_allow_multiline = false;
    int rc = ini_parse_stream(s_reader, p, s_handler, p);
    ini_allow_multiline = multiline;
    if (rc == 0 && p->err_line == 0) {
        return 0;
    }
    if (rc < 0) {
        s_err(err, errlen, "%s: out of memory while parsing", p->name);
        return TM_ERR_NOMEM;
    }
    if (p->err_line != 0 && (rc == 0 || p->err_line <= rc)) {
        s_err(err, errlen, "%s:%d: %s", p->name, p->err_line, p->err);
    } else {
        s_err(err, errlen,
              "%s:%d: syntax error (expected [section], key = value or a "
              "comment)",
              p->name, rc);
    }
    return TM_ERR_CONFIG;
}

int tm_config_load(tm_config_t *cfg, const char *path, char *err, size_t errlen)
{
    s_parse_t p;
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.name = path;
    p.file = fopen(path, "r");
    if (p.file == NULL) {
        int e = errno;
        s_err(err, errlen, "cannot read config file %s: %s", path, strerror(e));
        return tm_err_from_errno(e);
    }
    /* A device, a pipe or a huge file is no config: /dev/zero would be
     * read for ever. */
    struct stat st;
    if (fstat(fileno(p.file), &st) != 0 || !S_ISREG(st.st_mode)) {
        s_err(err, errlen, "cannot read config file %s: not a regular file",
              path);
        fclose(p.file);
        return TM_ERR_CONFIG;
    }
    if (st.st_size > S_CONFIG_MAX) {
        s_err(err, errlen,
              "cannot read config file %s: %lld bytes (at most %d)", path,
              (long long)st.st_size, S_CONFIG_MAX);
        fclose(p.file);
        return TM_ERR_CONFIG;
    }
    int rc = s_parse(&p, err, errlen);
    if (rc == 0 && ferror(p.file)) {
        s_err(err, errlen, "cannot read config file %s: read error", path);
        rc = TM_ERR_IO;
    }
    fclose(p.file);
    return rc;
}

int tm_config_load_string(tm_config_t *cfg, const char *text, const char *name,
                          char *err, size_t errlen)
{
    s_parse_t p;
    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.name = name ? name : "<string>";
    p.text = text ? text : "";
    return s_parse(&p, err, errlen);
}
