/* tm_cmd: console commands - the table, argv parsing and execution.
 *
 * The console (tools/twinmesh) sends its argv unchanged; the node parses it
 * with tm_cmd_parse() and runs it with tm_cmd_exec() against its runtime
 * and store. The reply is a status, a one-line message and a MessagePack
 * body; the console renders the same body as a text table or as JSON
 * (--json), so both outputs always agree. The console links this module
 * too, for help, completion and checking usage before it sends anything.
 *
 * Memory: spawn-many estimates what COUNT actors of its model take at the
 * peak (runtime arrays, the records in the batch and in LMDB) and refuses
 * with TM_ERR_NOMEM, before creating anything, when that is more than the
 * memory available.
 *
 * Durability: a command that changes the mesh (spawn, spawn-many, kill,
 * link, unlink, set) returns only after tm_store_batch_commit() returned 0
 * for the batch holding the change; if the commit fails the change is
 * undone in the runtime and the command fails with the store's error.
 *
 * Streams and the clock (run, clock, watch, top, cancel) belong to the
 * node's loop (tm_node); this module parses them and builds their bodies
 * (tm_cmd_watch_item, tm_cmd_top_item, tm_cmd_run_body).
 */
#ifndef TM_CMD_H_INCLUDED
#define TM_CMD_H_INCLUDED

#include "tm_config.h"
#include "tm_model.h"
#include "tm_rt.h"
#include "tm_store.h"
#include "tm_wire.h"
#include "tm_writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TM_CMD_HELP = 0,
    TM_CMD_NODES,
    TM_CMD_ACTORS,
    TM_CMD_STATS,
    TM_CMD_MODELS,
    TM_CMD_IDS,
    TM_CMD_SPAWN,
    TM_CMD_SPAWN_MANY,
    TM_CMD_INSPECT,
    TM_CMD_KILL,
    TM_CMD_LINK,
    TM_CMD_UNLINK,
    TM_CMD_SET,
    TM_CMD_RUN,
    TM_CMD_CLOCK,
    TM_CMD_WATCH,
    TM_CMD_TOP,
    TM_CMD_HASH,
    TM_CMD_CANCEL,
    TM_CMD_COUNT
} tm_cmd_kind_t;

/* Command flags. */
#define TM_CMD_F_MUTATES 0x1u  /* changes the mesh: committed before reply */
#define TM_CMD_F_STREAM  0x2u  /* replies with items (more = true) */
#define TM_CMD_F_LONG    0x4u  /* may take long: no reply timeout */
#define TM_CMD_F_IDS     0x8u  /* positional arguments are actor ids */
#define TM_CMD_F_HIDDEN  0x10u /* internal; not listed by help */

typedef struct {
    tm_cmd_kind_t kind;
    const char *name;
    const char *aliases; /* space-separated, may be "" */
    const char *usage;   /* arguments after the name */
    const char *summary; /* one line */
    unsigned flags;
} tm_cmd_info_t;

/* The command table, in help order. */
const tm_cmd_info_t *tm_cmd_table(size_t *count);

/* Look a command up by name or alias; NULL if unknown. */
const tm_cmd_info_t *tm_cmd_lookup(const char *name);

/* Options a command accepts: space-separated names without "--" (static
 * string, "" when none). */
const char *tm_cmd_options(tm_cmd_kind_t kind);

#define TM_CMD_MAX_PARAMS  TM_MODEL_MAX_VARS
#define TM_CMD_MAX_SIGNALS TM_MODEL_MAX_VARS
#define TM_CMD_SPEC_MAX    96u   /* family@version */
#define TM_CMD_MSG_MAX     1024u /* bytes in a reply message */
#define TM_CMD_SPAWN_MAX   10000000u

typedef struct {
    char name[TM_MODEL_NAME_MAX + 1];
    double value;
} tm_cmd_param_t;

typedef struct {
    char actor[TM_ID_MAX + 1];
    char port[TM_MODEL_NAME_MAX + 1];
} tm_cmd_port_t;

/* A parsed command. Strings are copied: nothing borrows from argv. */
typedef struct {
    tm_cmd_kind_t kind;
    const tm_cmd_info_t *info;
    char id[TM_ID_MAX + 1];          /* ID, or PREFIX for spawn-many/ids */
    char model[TM_CMD_SPEC_MAX + 1]; /* FAMILY[@VERSION] */
    char node[TM_CONFIG_NAME_MAX + 1];
    bool has_model, has_node, has_fidelity;
    tm_fidelity_t fidelity;
    uint32_t period; /* spawn --period; 0 = every tick */
    uint64_t count;  /* spawn-many COUNT, watch/top --count */
    uint64_t limit;  /* actors/top/ids --limit; 0 = default */
    uint64_t ticks;  /* run --ticks */
    double interval; /* top --interval seconds */
    bool has_clock;
    tm_clock_t clock;                         /* clock MODE */
    tm_cmd_port_t src, dst;                   /* link/unlink */
    tm_cmd_param_t params[TM_CMD_MAX_PARAMS]; /* spawn --param, set */
    size_t n_params;
    char signals[TM_CMD_MAX_SIGNALS][TM_MODEL_NAME_MAX + 1];
    size_t n_signals;
    char topic[32]; /* help TOPIC */
} tm_cmd_t;

/* Parse a console argv (argv[0] is the command name). On error returns
 * TM_ERR_UNKNOWN_COMMAND, TM_ERR_USAGE, TM_ERR_BAD_ID or TM_ERR_BAD_VALUE
 * and writes a one-line message into err. */
int tm_cmd_parse(int argc, const char *const *argv, tm_cmd_t *out, char *err,
                 size_t errlen);

/* A reply being built: status (0 or tm_err_t), message and body. */
typedef struct {
    int status;
    char message[TM_CMD_MSG_MAX];
    tm_wire_buf_t body;
    bool has_body;
} tm_cmd_reply_t;

void tm_cmd_reply_init(tm_cmd_reply_t *rep);
/* Empty the reply for reuse (status 0, no message, no body). */
void tm_cmd_reply_reset(tm_cmd_reply_t *rep);
void tm_cmd_reply_destroy(tm_cmd_reply_t *rep);
/* Set status and a printf-style message. Returns status. */
int tm_cmd_reply_error(tm_cmd_reply_t *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What the node knows about itself, for nodes and stats. */
typedef struct {
    const char *name;
    const char *site;
    const char *endpoint;
    const char *clock;  /* "realtime", "fast", "paused", "run" */
    const char *state;  /* "up", "stopping" */
    double lag_s;       /* realtime: seconds behind the schedule */
    double steps_per_s; /* actor steps per second, recent */
    double ticks_per_s; /* ticks per second, recent */
    double uptime_s;
    uint64_t ckpt_every; /* ticks */
    uint64_t ckpt_tick;  /* tick of the last durable checkpoint */
    uint64_t ckpt_count;
    uint64_t ckpt_failed;
    double ckpt_ms;
    bool ckpt_pending;
    uint64_t requests;
    uint64_t errors;
    uint64_t dropped;
    size_t streams;
} tm_cmd_node_info_t;

typedef struct {
    tm_rt_t *rt;
    tm_store_t *store;
    tm_writer_t *writer; /* may be NULL (no checkpoint in flight) */
    tm_cmd_node_info_t info;
    /* Bytes of memory spawn-many may plan on; 0: MemAvailable of
     * /proc/meminfo at the time (no check when it cannot be read). */
    uint64_t mem_available;
} tm_cmd_ctx_t;

/* Send one part of a long reply (more = true) and return 0, or an error
 * to abort the command. The callee resets the reply's body afterwards. */
typedef int (*tm_cmd_emit_fn)(void *arg, tm_cmd_reply_t *part);

/* Execute a command that the node does not handle itself (everything but
 * run, clock, watch, top, cancel). Fills rep; long lists are sent in parts
 * through emit (may be NULL: everything in one reply). Returns rep->status.
 */
int tm_cmd_exec(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep,
                tm_cmd_emit_fn emit, void *arg);

/* Check a watch request (actor and signal names); fills rep with an error
 * if it cannot start. Resolves the signal list (default: every output)
 * into cmd->signals. */
int tm_cmd_watch_check(tm_cmd_ctx_t *ctx, tm_cmd_t *cmd, tm_cmd_reply_t *rep);

/* Body of one watch item: {id, tick, t, values: {name: value}, units:
 * {name: unit}}. TM_ERR_UNKNOWN_ACTOR once the actor is gone. */
int tm_cmd_watch_item(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                      tm_cmd_reply_t *rep);

/* Body of one top item: the `limit` actors with the highest step cost. */
int tm_cmd_top_item(tm_cmd_ctx_t *ctx, uint64_t limit, tm_cmd_reply_t *rep);

/* Hex of a 32-byte digest into out (65 bytes). */
void tm_cmd_hex(const uint8_t *bytes, size_t n, char *out);

/* Find the model of a spawn request: --model spec and --fidelity (default:
 * the highest tier the version has). Fills rep with a precise message on
 * error (TM_ERR_UNKNOWN_MODEL / _VERSION / _FIDELITY). */
int tm_cmd_find_model(const tm_cmd_t *cmd, const tm_model_t **out,
                      tm_cmd_reply_t *rep);

#endif
