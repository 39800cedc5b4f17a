/* tm_persist: actor and link records of a node in its LMDB store.
 *
 * Records (all values MessagePack, doubles always as float64 so that a
 * state comes back bit for bit):
 *
 *   actors  id -> {"v": 1, "family": str, "version": str,
 *                  "fidelity": "high"|"medium"|"low", "period": uint,
 *                  "tick": uint, "params": [f64], "held": [f64],
 *                  "state": [f64], "outputs": [f64],
 *                  "history": [[f64]] (optional),
 *                  "sup": {"target": str, "pinned": bool,
 *                          "quarantined": bool, "shadow": str | nil,
 *                          "healthy": uint, "shadow_state": [f64] | nil,
 *                          "low": [uint]} (optional),
 *                  "epoch": uint (optional: the ownership epoch, written
 *                                 once the actor has changed node)}
 *   links   "SRC.OUTPUT>DST.INPUT" -> {"src": str, "output": str,
 *                                     "dst": str, "input": str,
 *                                     "delay": uint (optional), and for a
 *                                     source on another node
 *                                     "src_model": "family@version",
 *                                     "src_tier": str}
 *   meta    "tick" -> uint (tick of the last checkpoint),
 *           "seed" -> uint, "h" -> f64 (settings of that checkpoint)
 *
 * `tick` in an actor record is the tick its state belongs to. `history`
 * holds the outputs of the ticks before it that links of a delay above 1
 * still read (the actor's window less the current tick, oldest first, each
 * a list of the model's outputs): present only when the window is wider
 * than one tick, so records of actors read with delay 1 are as before. A
 * link's `delay` is written only when it is not 1; a record without it has
 * delay 1 (records of earlier releases). Ids cannot hold '.' or '>' and
 * port names are letters, digits and '_', so a link key is unambiguous and
 * sorts links by source; the delay is not part of the key, as it is not
 * part of a link's identity.
 *
 * Recovery rule. A checkpoint is one batch: every actor record at tick T
 * plus meta tick = T. A console mutation writes only what it changes: spawn
 * puts the new record, kill deletes the record and its links, link/unlink
 * put/delete one link, set patches the one value in the stored record
 * (tm_persist_patch). So after a restart every actor has the state of the
 * last checkpoint with every later acknowledged mutation applied on top,
 * and an actor spawned after the checkpoint has its spawn state. The mesh
 * resumes at the checkpoint's tick (0 if there was none).
 */
#ifndef TM_PERSIST_H_INCLUDED
#define TM_PERSIST_H_INCLUDED

#include "tm_model.h"
#include "tm_rt.h"
#include "tm_store.h"
#include "tm_wire.h"

#include <stddef.h>
#include <stdint.h>

#define TM_PERSIST_VERSION_MAX 32u /* bytes in a version string */
#define TM_PERSIST_KEY_MAX     256u

/* An actor's supervision record (tm_rt_sup_t), kept in its record
 * only when it says more than the defaults. */
typedef struct {
    tm_fidelity_t target;
    bool pinned;
    bool quarantined;
    int shadow; /* tm_fidelity_t of the shadow, -1: none */
    bool seeded;
    uint32_t healthy;
    uint32_t n_shadow_state;
    double shadow_state[TM_MODEL_MAX_VARS];
    uint32_t n_low;
    uint64_t low[TM_RT_RESTARTS_MAX + 1];
    /* Residual checks ("resid", "shadow_out": absent in records written
     * before them, read as 0 and none). */
    uint32_t resid_run;
    uint32_t n_shadow_out; /* 0: none */
    double shadow_out[TM_MODEL_MAX_VARS];
} tm_persist_sup_t;

/* A decoded actor record. */
typedef struct {
    char family[TM_MODEL_NAME_MAX + 1];
    char version[TM_PERSIST_VERSION_MAX + 1];
    tm_fidelity_t fidelity;
    uint32_t period;
    uint64_t tick;
    uint32_t n_params, n_held, n_states, n_outputs;
    double params[TM_MODEL_MAX_VARS];
    double held[TM_MODEL_MAX_VARS];
    double state[TM_MODEL_MAX_VARS];
    double outputs[TM_MODEL_MAX_VARS];
    /* The outputs of the n_history ticks before `tick`, oldest first,
     * history_width values each. Encode reads `history` (borrowed,
     * n_history * history_width values). Decode sets n_history and
     * history_width and leaves `history` NULL: tm_persist_actor_history
     * copies the values. */
    uint32_t n_history;
    uint32_t history_width;
    const double *history;
    bool has_sup;
    tm_persist_sup_t sup;
    uint32_t epoch; /* ownership epoch; 0 when the record has none */
} tm_persist_actor_t;

/* A supervision view as a record; false when it holds only defaults. */
bool tm_persist_sup_from_view(const tm_rt_actor_t *a, tm_persist_sup_t *out);

/* A record's supervision for tm_rt_sup_restore of an actor of model m
 * (the shadow looked up by `find`, NULL when it cannot be found).
 * TM_ERR_STORE_CORRUPT (a shadow state that does not fit). */
int tm_persist_sup_to_view(const tm_persist_sup_t *in, const tm_model_t *m,
                           const tm_model_t *(*find)(const tm_model_t *m,
                                                     tm_fidelity_t tier),
                           tm_rt_sup_t *out);

/* The most ticks a record's history holds. */
#define TM_PERSIST_HISTORY_MAX (TM_RT_DELAY_MAX - 1u)

/* Fill a record from a runtime view taken at tick `tick` (no history). */
void tm_persist_actor_from_view(const tm_rt_actor_t *a, uint64_t tick,
                                tm_persist_actor_t *rec);

/* Encode a record into out (appended; clear it first to reuse).
 * TM_ERR_NOMEM. */
int tm_persist_actor_encode(const tm_persist_actor_t *rec, tm_wire_buf_t *out);

/* Decode a record (bytes from the store, validated with tm_wire first).
 * Errors: TM_ERR_WIRE_* or TM_ERR_STORE_CORRUPT (fields missing, of the
 * wrong type, or more than TM_MODEL_MAX_VARS values). */
int tm_persist_actor_decode(const void *val, size_t len,
                            tm_persist_actor_t *rec);

/* Copy the history of an actor record into out (cap values, at least
 * n_history * history_width of its decode). Errors: those of decode,
 * TM_ERR_TOO_BIG (cap too small). */
int tm_persist_actor_history(const void *val, size_t len, double *out,
                             size_t cap);

/* Link key "SRC.OUTPUT>DST.INPUT" into key (NUL-terminated); *klen gets
 * its length without the NUL. TM_ERR_TOO_BIG if it does not fit. */
int tm_persist_link_key(const tm_rt_link_t *l, char *key, size_t cap,
                        size_t *klen);

/* The parts of a link key, each NUL-terminated. */
typedef struct {
    char src[TM_ID_MAX + 1];
    char output[TM_MODEL_NAME_MAX + 1];
    char dst[TM_ID_MAX + 1];
    char input[TM_MODEL_NAME_MAX + 1];
} tm_persist_link_key_t;

/* Split a stored link key (klen bytes, not NUL-terminated) into its parts.
 * TM_ERR_STORE_CORRUPT if it is not "SRC.OUTPUT>DST.INPUT" with each part
 * non-empty and within its size. */
int tm_persist_link_key_parse(const void *key, size_t klen,
                              tm_persist_link_key_t *out);

/* An actor record's key as an id (NUL-terminated). TM_ERR_STORE_CORRUPT
 * if it is empty, longer than TM_ID_MAX or holds a NUL. */
int tm_persist_actor_key(const void *key, size_t klen, char id[TM_ID_MAX + 1]);

/* Decode a link record (bytes from the store) into its four names and its
 * delay (1 when the record has none). Errors: TM_ERR_WIRE_*,
 * TM_ERR_STORE_CORRUPT (a name missing, empty or too long, a delay that is
 * not 1 .. TM_RT_DELAY_MAX), TM_ERR_NOMEM. */
int tm_persist_link_decode(const void *val, size_t len,
                           tm_persist_link_key_t *out, uint32_t *delay);

/* Batch operations. Errors: those of tm_store_batch_put/del.
 * tm_persist_put_actor puts the record of actor a (a view of rt) as it is
 * at rt's current tick, its history included (TM_ERR_NOMEM). */
int tm_persist_put_actor(tm_store_batch_t *b, tm_rt_t *rt,
                         const tm_rt_actor_t *a, tm_wire_buf_t *scratch);
int tm_persist_del_actor(tm_store_batch_t *b, const char *id);
/* The record of actor a (a view of rt) at rt's current tick, its history
 * included, with ownership epoch `epoch`, appended to out (a migration
 * sends it to the actor's next node). TM_ERR_NOMEM. */
int tm_persist_actor_pack(tm_rt_t *rt, const tm_rt_actor_t *a, uint32_t epoch,
                          tm_wire_buf_t *out);
int tm_persist_put_link(tm_store_batch_t *b, const tm_rt_link_t *l);
/* A link from an actor of another node (a proxy here): its record names the
 * source's model, so that a restart makes the proxy again. */
/* The source's model of a link record from another node's actor:
 * "family@version" into spec and the tier into tier, both "" when the
 * source is local. Errors: TM_ERR_WIRE_*, TM_ERR_STORE_CORRUPT. */
int tm_persist_link_source(const void *val, size_t len, char *spec,
                           size_t spec_cap, char *tier, size_t tier_cap);
int tm_persist_put_remote_link(tm_store_batch_t *b, const tm_rt_link_t *l,
                               const tm_model_t *src_model);
int tm_persist_del_link(tm_store_batch_t *b, const tm_rt_link_t *l);

/* Add a whole checkpoint of rt (every actor record at the current tick,
 * meta tick, seed and h) to b. Errors: TM_ERR_NOMEM. */
int tm_persist_checkpoint(tm_rt_t *rt, tm_store_batch_t *b);

/* A checkpoint in two halves, so that stepping stalls only for a copy:
 * tm_persist_snapshot() copies every actor's model, period, parameters,
 * held inputs, state, outputs at the current tick and history (the past
 * outputs in its window) into one flat buffer
 * (control thread); tm_persist_snapshot_fill() encodes the records and
 * meta into a batch (any thread, e.g. the checkpoint writer). The models
 * must outlive the snapshot (built-in models are static).
 * tm_persist_checkpoint() is snapshot + fill. */
typedef struct tm_persist_snap tm_persist_snap_t;
int tm_persist_snapshot(tm_rt_t *rt, tm_persist_snap_t **out);
int tm_persist_snapshot_fill(void *snap, tm_store_batch_t *b);
size_t tm_persist_snapshot_count(const tm_persist_snap_t *snap);
void tm_persist_snapshot_free(void *snap); /* NULL-safe */

/* Patch named values (each a parameter, else a state, else a held input:
 * the order of tm_rt_set) in the stored record of `id`, in one
 * read-modify-write, and put the result in b; the stored history stays (a
 * set changes no past outputs). Errors: TM_ERR_NOT_FOUND (no
 * record), TM_ERR_UNKNOWN_PORT, TM_ERR_STORE_CORRUPT, TM_ERR_NOMEM,
 * TM_ERR_IO. */
int tm_persist_patch(tm_store_t *store, tm_store_batch_t *b, const char *id,
                     const tm_model_t *model, const char *const *names,
                     const double *values, size_t n);

/* Checkpoint settings read back at start. */
typedef struct {
    int have_checkpoint; /* meta tick present */
    uint64_t tick;
    uint64_t seed;
    double h;
} tm_persist_meta_t;

int tm_persist_read_meta(tm_store_t *store, tm_persist_meta_t *out);

typedef struct {
    size_t actors;         /* spawned from records */
    size_t links;          /* linked from records */
    size_t actors_skipped; /* unreadable, unknown model, refused */
    size_t links_skipped;
    size_t histories; /* actors whose past outputs were put back */
} tm_persist_load_t;

/* ---- verification and backup ------------------------------------------ */

/* The node's check of one stored record, as a tm_store_check_fn (arg is
 * unused): an actor record decodes (tm_persist_actor_decode) under a key
 * that can be an actor id; a link record decodes to four names (and a
 * delay of 1 .. TM_RT_DELAY_MAX when it has one) and its key is
 * "SRC.OUTPUT>DST.INPUT" of those names; meta "tick" and "seed" are
 * unsigned integers and "h" a float64. Other meta keys, catalog and audit
 * records are owner-defined and pass (their checksums are checked by the
 * store). A model missing from the catalog is not damage: loading skips
 * such an actor and logs it. Returns 0, or TM_ERR_STORE_CORRUPT (or a
 * TM_ERR_WIRE_* of the decoder) with one line in why. */
int tm_persist_check_record(tm_store_db_t db, const void *key, size_t klen,
                            const void *val, size_t vlen, char *why,
                            size_t whylen, void *arg);

/* tm_store_verify(dir) with tm_persist_check_record: the check the node
 * runs in a child process before it loads a store. Errors: those of
 * tm_store_verify (TM_ERR_STORE_CORRUPT: *out says where and why). */
int tm_persist_verify(const char *dir, tm_store_verify_t *out);

/* tm_store_backup(store, dest) with tm_persist_check_record: a verified,
 * compacted copy of a live or offline store in a new directory. For the
 * console's `backup` command, called on the control thread (the check
 * forks, and libev's SIGCHLD watcher must not reap that child). report may
 * be NULL. Errors: those of tm_store_backup. */
int tm_persist_backup(tm_store_t *store, const char *dest,
                      tm_store_verify_t *report);

/* Spawn every stored actor into rt (opened at the checkpoint tick), then
 * link every stored link with its delay, then put back each actor's
 * history (tm_rt_restore_at): the ticks its links read, as far as the
 * record holds them, as the ticks before the checkpoint tick (a record
 * written after the checkpoint, by a mutation, keeps its own past the same
 * way). A record that cannot be restored (corrupt, model not in the
 * catalog, refused by the runtime) is logged, counted and left in the
 * store untouched. Errors: TM_ERR_NOMEM, TM_ERR_IO (store read). */
int tm_persist_load(tm_store_t *store, tm_rt_t *rt, tm_persist_load_t *out);

#endif
