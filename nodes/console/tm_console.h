/* tm_console: console command handlers - what the node does for each row
 * of the command table (protocol/tm_cmd_table.h).
 *
 * A handler tmi_cmd_<name>() gets the node's context (runtime, mutation
 * path, clock, statistics) and a request (the parsed command and a reply
 * to fill), and returns the reply's status: 0, a tm_err_t (with a message
 * in the reply), or TM_CONSOLE_DEFERRED when it started a stream or run
 * that answers later. Mutations go through tm_mut; handlers only check
 * input, call it and build replies. The console server (nodes/tm_console_srv)
 * decodes requests, runs tm_console_exec() and sends the replies; unit
 * tests call tm_console_exec() directly.
 *
 * Handlers live in per-area files: tm_cmd_actors.c (spawn, spawn-many,
 * kill, set, actors, ids), tm_cmd_links.c (link, unlink), tm_cmd_clock.c
 * (run, clock, cancel), tm_cmd_observe.c (inspect, watch, top, hash),
 * tm_cmd_info.c (help, nodes, stats, version), tm_cmd_place.c (place),
 * tm_cmd_models.c (models, models load), tm_cmd_store.c (backup, audit),
 * tm_cmd_plant.c (apply, diff, export), tm_cmd_rollout.c (rollout, rollout
 * status, rollback).
 */
#ifndef TM_CONSOLE_H_INCLUDED
#define TM_CONSOLE_H_INCLUDED

#include "tm_audit.h"
#include "tm_body.h"
#include "tm_cmd.h"
#include "tm_mut.h"
#include "tm_plant.h"
#include "tm_rt.h"
#include "tm_sched.h"
#include "tm_stats.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_CONSOLE_DEFERRED 1 /* a stream or run answers later */

/* A reply being built: status (0 or tm_err_t), message and body. */
typedef struct {
    int status;
    char message[TM_CMD_MSG_MAX];
    tm_wire_buf_t buf;
    tm_body_t body;
    bool has_body;
} tm_reply_t;

void tm_reply_init(tm_reply_t *rep);
/* Empty the reply for reuse (status 0, no message, no body). */
void tm_reply_reset(tm_reply_t *rep);
void tm_reply_destroy(tm_reply_t *rep);
/* Set status and a printf-style message; drops the body. Returns status. */
int tm_reply_error(tm_reply_t *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The message of a successful reply. */
void tm_reply_msg(tm_reply_t *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Start a fresh body. */
tm_body_t *tm_reply_body(tm_reply_t *rep);
/* Check the built body: rep->status, or TM_ERR_NOMEM / TM_ERR_INTERNAL
 * (with a message) when it did not build. */
int tm_reply_done(tm_reply_t *rep);
/* The body's bytes (NULL when none or on error). */
const uint8_t *tm_reply_bytes(const tm_reply_t *rep, size_t *len);

typedef struct tm_mesh tm_mesh_t;       /* nodes/tm_mesh.h */
typedef struct tm_telem tm_telem_t;     /* nodes/tm_telem.h */
typedef struct tm_rollout tm_rollout_t; /* nodes/tm_rollout.h */

struct tm_console_call;
struct tm_console_stream;
struct tm_console_later;

/* What the node gives its handlers (pointers stay valid while it runs). */
typedef struct {
    tm_rt_t *rt;
    tm_mut_t *mut;
    tm_store_t *store; /* read by `audit`; NULL: no audit log */
    tm_sched_t *sched; /* NULL in unit tests: the clock reads "paused" */
    tm_stats_t *stats; /* NULL in unit tests */
    const char *name;  /* node */
    const char *site;
    const char *endpoint;
    const bool *stopping; /* may be NULL */
    /* A verified copy of the store into the new directory dest; a one-line
     * outcome into why (TM_MUT_WHY_MAX bytes). NULL: not offered. */
    int (*backup)(void *arg, const char *dest, char *why);
    void *backup_arg;
    /* The mesh this node belongs to; NULL for a node on its own. */
    tm_mesh_t *mesh;
    /* Telemetry (measurements kept for calibrate, freshness for inspect);
     * NULL in unit tests. */
    tm_telem_t *telem;
    /* The data directory (model plugins live in its plugins folder); NULL:
     * models load is not offered. */
    const char *data;
    /* Rollouts of model versions; NULL: not offered (unit tests). */
    tm_rollout_t *rollout;
    /* Streams answering other nodes (a forwarded watch), served by the
     * console server (NULL: none): stream_to starts one whose items go
     * to sink (which it owns from then on, also on failure; rep holds
     * the first item); end_sink ends the stream whose sink matches key
     * (false if none). */
    int (*stream_to)(void *arg, struct tm_console_call *req,
                     const struct tm_console_stream *def,
                     struct tm_console_later *sink);
    bool (*end_sink)(void *arg,
                     bool (*match)(const struct tm_console_later *l,
                                   const void *key),
                     const void *key);
    void *streams_arg;
} tm_console_ctx_t;

/* An answer that comes after the handler returned (from another node):
 * whoever serves the request makes one (tm_console_call_t.later); send
 * may be called several times (more = true for all but the last), then
 * free exactly once. */
typedef struct tm_console_later tm_console_later_t;
struct tm_console_later {
    void (*send)(tm_console_later_t *l, int status, const char *message,
                 bool more, const uint8_t *body, size_t len);
    void (*free)(tm_console_later_t *l);
    /* Set by send when whoever it answers has gone (a console that went
     * away, a node found dead): a stream feeding it ends. */
    bool gone;
};

typedef struct tm_console_call tm_console_call_t;

/* A stream: items after ticks (watch), every interval (top, run progress),
 * and for a run a final reply when it ends. */
typedef struct tm_console_stream {
    /* The next item into rep; a status other than 0 ends the stream with
     * that reply. */
    int (*item)(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep);
    /* Runs only: the final reply when the run ends with status and why. */
    void (*final)(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep,
                  int status, const char *why);
    bool per_tick;   /* an item after ticks are stepped */
    double interval; /* else an item every interval seconds */
} tm_console_stream_t;

struct tm_console_call {
    tm_cmd_t *cmd;
    tm_reply_t *rep;
    /* Send rep as one part of a long reply (more = true) and empty its
     * body; NULL: everything goes in one reply. Returns 0 or an error
     * that aborts the command. */
    int (*emit)(tm_console_call_t *req);
    /* Answer this request with a stream; rep holds the first item. NULL
     * where streams are not served (TM_ERR_UNSUPPORTED). */
    int (*stream)(tm_console_call_t *req, const tm_console_stream_t *def);
    /* End this console's stream or run; false if it has none. */
    bool (*cancel)(tm_console_call_t *req);
    /* An answer for later (NULL where not served, or out of memory). */
    tm_console_later_t *(*later)(tm_console_call_t *req);
    void *server;
    const void *peer;
    /* The request as it came (to pass it on to another node). */
    int argc;
    const char *const *argv;
    /* From another node of the mesh: answered here, never passed on;
     * from_node names it (NULL when not known). */
    bool from_peer;
    const char *from_node;
    /* apply, diff: the plant the console uploaded for this request (the
     * server's staging area; NULL when none). */
    const tm_plant_t *plant;
    /* models load: the file the console uploaded (its name and bytes, the
     * server's staging area; NULL when none). */
    const char *file_name;
    const uint8_t *file_data;
    size_t file_len;
    /* Set by tm_console_exec for a change on a node with a standby: the
     * server's own `later`, which `later` wraps so that the answer waits
     * for the standby's confirmation as a direct one does. */
    tm_console_later_t *(*later_raw)(tm_console_call_t *req);
    tm_mesh_t *acked_mesh;
    uint64_t acked_mark0;
};

/* Run the handler of req->cmd (parsed). Returns rep->status or
 * TM_CONSOLE_DEFERRED. */
int tm_console_exec(tm_console_ctx_t *ctx, tm_console_call_t *req);

/* The handlers, one per table row (several rows may share one). */
#define TM_CONSOLE_X_DECL(kind, h, r, name, al, fl, args, opts, usage, sum)    \
    int tmi_cmd_##h(tm_console_ctx_t *ctx, tm_console_call_t *req);
TM_CMD_TABLE(TM_CONSOLE_X_DECL)
#undef TM_CONSOLE_X_DECL

/* Shared by the handler files. */
int tmi_unknown_actor(tm_reply_t *rep, const char *id);
void tmi_pack_model(tm_body_t *b, const tm_model_t *m);
/* key: {name: unit} of n variables. */
void tmi_pack_units(tm_body_t *b, const char *key, const tm_var_t *v,
                    uint32_t n);
/* Answer with a stream (rep holds its first item), where streams are
 * served. */
int tmi_stream(tm_console_call_t *req, const tm_console_stream_t *def);
/* Hex of n bytes into out (2n + 1 bytes). */
void tmi_hex(const uint8_t *bytes, size_t n, char *out);
/* The clock's label and lag, "paused"/0 without a clock. */
const char *tmi_clock_label(const tm_console_ctx_t *ctx);
double tmi_lag(const tm_console_ctx_t *ctx);
/* Find the model of a spawn-like request: --model spec and --fidelity
 * (default: the highest tier the version has). Fills rep with a precise
 * message on error (TM_ERR_UNKNOWN_MODEL / _VERSION / _FIDELITY). */
int tmi_find_model(const tm_cmd_t *cmd, const tm_model_t **out,
                   tm_reply_t *rep);
/* "a, b, c" of the catalog's families (family NULL) or one family's
 * versions; false if the family is unknown. */
bool tmi_catalog_list(const char *family, char *buf, size_t cap);
/* id is one of prefix0 .. prefix<count-1> of a spawn-many record. */
bool tmi_audit_in_many(const tm_audit_rec_t *r, const char *id);
/* Whether this node holds the standby copy of `node`, which it does not
 * see alive: `audit --node NODE` is answered here from it. */
bool tmi_audit_copy_here(tm_console_ctx_t *ctx, const char *node);
/* Stream items (for tests, and the handlers that start the streams). */
int tmi_watch_check(tm_console_ctx_t *ctx, tm_cmd_t *cmd, tm_reply_t *rep);
int tmi_watch_item(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep);
int tmi_top_item(tm_console_ctx_t *ctx, const tm_cmd_t *cmd, tm_reply_t *rep);

#endif
