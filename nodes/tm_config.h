/* tm_config: the node's settings - embedded defaults, INI file, flags.
 *
 * Precedence: embedded defaults < the INI file (--config) < command-line
 * flags. Every value goes through tm_config_set(), so a key in a file and
 * the matching flag are validated by the same code and fail with the same
 * words.
 *
 * File format (parsed by inih, Debian package libinih):
 *
 *   [node]
 *   name = node-a            ; 1-64 letters, digits, '_' or '-'
 *   site = plant-north       ; same alphabet
 *   data = /var/lib/twinmesh ; data directory (LMDB store)
 *   workers = 0              ; worker threads, 0 = online cores, <= 64
 *   tick = 0.05              ; tick step h in seconds, (0, 3600]
 *   clock = realtime         ; realtime | fast | paused
 *   checkpoint = 100         ; ticks between checkpoints, 0 = only at exit
 *   seed = 1                 ; mesh seed
 *   log = info               ; debug | info | warn | error | off
 *
 *   [console]
 *   endpoint = tcp://127.0.0.1:7700
 *
 *   [mesh]                   ; absent: a node on its own
 *   endpoint = tcp://10.0.0.1:7800 ; where peers reach this node
 *   peer = tcp://10.0.0.2:7800     ; repeatable; this node's own endpoint
 *                                  ; in the list is skipped
 *   heartbeat = 0.1          ; seconds between heartbeats, [0.01, 60]
 *   suspect = 3              ; missed heartbeats before "suspect"
 *   dead = 10                ; missed heartbeats before "dead" (> suspect)
 *   wait = 0.5               ; realtime: seconds to wait for a late peer's
 *                            ; values before holding the last ones
 *   replicas = 0             ; 1: every commit of this node's store is
 *                            ; streamed to a standby node (failover)
 *   standby = b              ; that node (default: the next live member
 *                            ; by name)
 *   etcd = http://127.0.0.1:2379 ; etcd endpoints (comma-separated): this
 *                            ; node steps its actors only under a lease
 *   lease_ttl = 5            ; the lease's TTL in seconds, [2, 3600]
 *   etcd_prefix = /twinmesh/ ; the mesh's keys in etcd
 *   failover = manual        ; auto (needs etcd): the standby takes a dead
 *                            ; node's actors over once its lease is gone
 *
 *   [telemetry]              ; absent: no telemetry, no outputs
 *   endpoint = tcp://127.0.0.1:7600 ; PULL: measurements in
 *   outputs = tcp://127.0.0.1:7601  ; PUB: twin outputs
 *   window = 0.1             ; seconds a late sample may still be used
 *   horizon = 64             ; steps ahead a sample may be
 *   history = 512            ; steps of measurements kept for calibrate
 *   mqtt = 127.0.0.1:1883    ; an MQTT broker (HOST:PORT or
 *                            ; mqtt://HOST:PORT): subscribe to <site>/+/+
 *   mqtt_id = twinmesh-a     ; MQTT client id (default twinmesh-<name>)
 *
 *   [supervisor]             ; fallback to lower tiers (every family)
 *   promote_after = 50       ; healthy shadow steps before the target
 *                            ; tier takes over again (0 = never)
 *   max_restarts = 3         ; faults at the lowest tier (R, <= 15) ...
 *   restart_window = 100     ; ... within this many ticks (T): one more
 *                            ; quarantines the actor
 *   replay = audit.json      ; apply the step-time fallbacks recorded in
 *                            ; this audit log (`twinmesh --json audit`)
 *                            ; at their ticks instead of measuring
 *   [supervisor.FAMILY]      ; the same keys for one family (at most 16
 *                            ; families); unset keys come from [supervisor]
 *   [audit]
 *   retention = 1000000      ; audit records kept, 1 to 10^12
 *   retention_days = 0       ; and none older than this, 0 = no age limit,
 *                            ; at most 36500
 *
 * A key given twice is refused, except `peer`.
 *
 * Integers are decimal (a leading 0 does not make octal) or 0x hex; tick
 * is a decimal number. An unknown section or key, a key given twice, a bad
 * value or a syntax error is refused with "FILE:LINE: [section] key: why".
 */
#ifndef TM_CONFIG_H_INCLUDED
#define TM_CONFIG_H_INCLUDED

#include "tm_cmd.h"  /* tm_clock_t */
#include "tm_text.h" /* numbers and names */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_CONFIG_NAME_MAX TM_NAME_MAX /* bytes in name and site */
#define TM_CONFIG_PATH_MAX 1024u       /* bytes in data and endpoint */
#define TM_CONFIG_ERR_MAX  512u        /* bytes in an error message */

#define TM_CONFIG_DEFAULT_NAME       "node-1"
#define TM_CONFIG_DEFAULT_SITE       "local"
#define TM_CONFIG_DEFAULT_DATA       "./twinmesh-data"
#define TM_CONFIG_DEFAULT_ENDPOINT   "tcp://127.0.0.1:7700"
#define TM_CONFIG_DEFAULT_TICK       0.05
#define TM_CONFIG_DEFAULT_CHECKPOINT 100u
#define TM_CONFIG_PEERS_MAX          32u
#define TM_CONFIG_DEFAULT_HEARTBEAT  0.1
#define TM_CONFIG_DEFAULT_SUSPECT    3u
#define TM_CONFIG_DEFAULT_DEAD       10u
#define TM_CONFIG_DEFAULT_WAIT       0.5
#define TM_CONFIG_ENDPOINT_MAX       256u /* bytes in a mesh endpoint */
#define TM_CONFIG_DEFAULT_WINDOW     0.1
#define TM_CONFIG_DEFAULT_HORIZON    64u
#define TM_CONFIG_DEFAULT_HISTORY    512u
#define TM_CONFIG_MQTT_ID_MAX        128u /* bytes in an MQTT client id */
#define TM_CONFIG_SUP_FAMILIES       16u
#define TM_CONFIG_SUP_UNSET          UINT32_MAX
#define TM_CONFIG_SUP_RESTARTS_MAX   15u

/* Supervision thresholds of [supervisor] or of one [supervisor.FAMILY]
 * (whose unset values are TM_CONFIG_SUP_UNSET). */
typedef struct {
    char family[TM_CONFIG_NAME_MAX + 1]; /* "" for [supervisor] */
    uint32_t promote_after;
    uint32_t max_restarts;
    uint32_t restart_window;
    /* Residual checks: standard deviations (0: none; NaN: unset) and
     * steps in a row over them. */
    double residual_limit;
    uint32_t residual_steps;
    /* Step time per actor that makes a tier fall back (microseconds, 0:
     * none), over it at this many checks in a row. */
    uint32_t step_budget;
    uint32_t budget_steps;
} tm_config_sup_t;
#define TM_CONFIG_DEFAULT_RETENTION 1000000u

typedef struct {
    char name[TM_CONFIG_NAME_MAX + 1];
    char site[TM_CONFIG_NAME_MAX + 1];
    char data[TM_CONFIG_PATH_MAX + 1];
    char endpoint[TM_CONFIG_PATH_MAX + 1];
    unsigned workers;
    double tick;
    tm_clock_t clock;
    uint64_t checkpoint;
    uint64_t seed;
    int log_level; /* tm_log_level_t */
    /* Step on with `tick` although the store's checkpoint was taken with
     * another tick step (flag --retick; otherwise refused). */
    bool retick;
    /* The mesh: where this node listens for peers ("" = no mesh), the
     * peers it contacts first, and the failure detector. */
    char mesh[TM_CONFIG_ENDPOINT_MAX + 1];
    char peers[TM_CONFIG_PEERS_MAX][TM_CONFIG_ENDPOINT_MAX + 1];
    unsigned n_peers;
    double heartbeat;
    unsigned suspect;
    unsigned dead;
    double wait; /* realtime: seconds before a late peer's values are held */
    /* Standby copies: 1 streams this node's store to a standby node
     * (`standby`, "" = the next live member by name). */
    unsigned replicas;
    char standby[TM_CONFIG_NAME_MAX + 1];
    /* Leases in etcd ("" = none): endpoints, TTL (s), key prefix, and
     * whether a dead node's standby takes over by itself. */
    char etcd[TM_CONFIG_PATH_MAX + 1];
    double lease_ttl;
    char etcd_prefix[TM_CONFIG_NAME_MAX * 2 + 1];
    bool failover_auto;
    /* Telemetry: where samples come in and twin outputs go out ("" =
     * none), the alignment window (s), the horizon (steps) and the
     * measurements kept per asset for calibrate (steps). */
    char telemetry[TM_CONFIG_ENDPOINT_MAX + 1];
    char outputs[TM_CONFIG_ENDPOINT_MAX + 1];
    double window;
    unsigned horizon;
    unsigned history;
    /* The MQTT bridge: the broker as given ("" = none; checked with
     * tm_mqtt_broker_parse) and the client id ("" = twinmesh-<name>). */
    char mqtt[TM_CONFIG_ENDPOINT_MAX + 1];
    char mqtt_id[TM_CONFIG_MQTT_ID_MAX + 1];
    /* The supervisor: defaults and per-family thresholds. */
    tm_config_sup_t sup;
    tm_config_sup_t sup_family[TM_CONFIG_SUP_FAMILIES];
    unsigned n_sup_family;
    /* An audit log (`twinmesh --json audit`) whose step-time fallbacks
     * are applied at their ticks instead of measuring ("" = none). */
    char replay[TM_CONFIG_PATH_MAX + 1];
    /* The audit log's retention: records kept, and days (0 = no age
     * limit); trimmed at checkpoints. */
    uint64_t audit_retention;
    uint64_t audit_days;
} tm_config_t;

/* The thresholds of `family`: its [supervisor.FAMILY] values, the others
 * from [supervisor]. */
tm_config_sup_t tm_config_sup(const tm_config_t *cfg, const char *family);

/* The MQTT client id: mqtt_id, or twinmesh-<name> when it is "" (cap:
 * at least TM_CONFIG_MQTT_ID_MAX + 1). Returns buf. */
const char *tm_config_mqtt_id(const tm_config_t *cfg, char *buf, size_t cap);

/* Fill cfg with the embedded defaults. */
void tm_config_defaults(tm_config_t *cfg);

/* Set one key of one section from its text value. On error returns
 * TM_ERR_CONFIG and writes "why" (without file or key) into err. */
int tm_config_set(tm_config_t *cfg, const char *section, const char *key,
                  const char *value, char *err, size_t errlen);

/* Read an INI file into cfg (keys not in the file keep their value).
 * Errors: TM_ERR_CONFIG with "FILE:LINE: [section] key: why" in err, or
 * TM_ERR_NOT_FOUND / TM_ERR_PERM / TM_ERR_IO with "cannot read FILE: ...".
 * cfg may be partly updated on error. */
int tm_config_load(tm_config_t *cfg, const char *path, char *err,
                   size_t errlen);

/* Same, from a NUL-terminated string; `name` is used in messages. */
int tm_config_load_string(tm_config_t *cfg, const char *text, const char *name,
                          char *err, size_t errlen);

#endif
