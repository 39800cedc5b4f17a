/* tm_audit: the node's audit log - its record format, the queue of
 * decision records, retention, and reading the log back.
 *
 * The log is the store's append-only audit database (TM_DB_AUDIT: a
 * big-endian u64 sequence number -> one record). A record is one
 * MessagePack map (docs/store.md, "Audit records"):
 *
 *   {"wall_ns": uint (CLOCK_REALTIME, ns), "tick": uint, "kind": str,
 *    "actor": str | nil, "before": str | nil, "after": str | nil,
 *    "reason": str, "who": str,
 *    "prefix": str, "count": uint}   (the last two: spawn-many only)
 *
 * Who writes it: only the mutation path (nodes/tm_mut*), which appends the
 * record of a change to the batch that commits the change (an acknowledged
 * change and its record commit together; a refused change writes none),
 * and takes decision records of other modules (tm_mut_audit_note) into the
 * queue kept here, written with the next commit - a mutation's or a
 * checkpoint's (tm_ckpt). The console's `audit` command reads it
 * (tm_audit_foreach). Nothing else writes the audit database.
 *
 * Threading: a tm_audit_t belongs to the node's control thread.
 */
#ifndef TM_AUDIT_H_INCLUDED
#define TM_AUDIT_H_INCLUDED

#include "tm_store.h"
#include "tm_text.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_AUDIT_KIND_MAX   23u  /* bytes in a kind, without the NUL */
#define TM_AUDIT_VALUE_MAX  511u /* bytes in before / after */
#define TM_AUDIT_REASON_MAX 511u /* bytes in a reason */
#define TM_AUDIT_WHO_MAX    95u  /* bytes in who */
#define TM_AUDIT_WHY_MAX    160u /* bytes in what is wrong with a record */
/* Decision records kept between commits; more are dropped and counted. */
#define TM_AUDIT_QUEUE_MAX 1024u
/* Records retention deletes with one checkpoint, at most. */
#define TM_AUDIT_TRIM_MAX          10000u
#define TM_AUDIT_DEFAULT_RETENTION 1000000u /* records kept */

/* Who asked for a change of the node itself (its own decisions). */
#define TM_AUDIT_WHO_NODE "node"

/* One record. Strings are NUL-terminated; a has_* flag false is nil. */
typedef struct {
    uint64_t seq; /* its key, when read from the store; else 0 */
    uint64_t wall_ns;
    uint64_t tick;
    char kind[TM_AUDIT_KIND_MAX + 1];
    bool has_actor, has_before, has_after;
    char actor[TM_ID_MAX + 1];
    char before[TM_AUDIT_VALUE_MAX + 1];
    char after[TM_AUDIT_VALUE_MAX + 1];
    char reason[TM_AUDIT_REASON_MAX + 1];
    char who[TM_AUDIT_WHO_MAX + 1];
    char prefix[TM_ID_MAX + 1]; /* spawn-many: ids prefix0 .. */
    uint64_t count;             /* .. prefix<count-1>; 0: not spawn-many */
    /* tm_audit_decode: the record could not be read (what is wrong in
     * damage); the other fields are then empty. */
    bool damaged;
    char damage[TM_AUDIT_WHY_MAX + 1];
} tm_audit_rec_t;

/* Fill r: wall time now (CLOCK_REALTIME), tick, kind, and the optional
 * strings (NULL = nil; reason and who NULL = ""). Strings longer than
 * their field are cut, ending in "...". */
void tm_audit_rec_init(tm_audit_rec_t *r, uint64_t tick, const char *kind,
                       const char *actor, const char *before, const char *after,
                       const char *reason, const char *who);

/* Who asked, into buf (cap >= TM_AUDIT_WHO_MAX + 1): "console" for a
 * request of a console connected to this node (peer_node NULL), "node
 * NAME" for one passed on by node NAME of the mesh. The one place that
 * decides it: an authenticated console's identity goes here. */
const char *tm_audit_who(const char *peer_node, char *buf, size_t cap);

/* Encode r (seq, damaged and damage are not stored) into buf, emptied
 * first. Errors: TM_ERR_NOMEM. */
int tm_audit_encode(const tm_audit_rec_t *r, tm_wire_buf_t *buf);

/* Decode one stored value (without the store's checksum). Bounded: the
 * value is validated (tm_wire_check) before anything reads it, every
 * field is checked for type and length, unknown keys are ignored. On
 * error out is a damaged record (out->damaged, the reason in
 * out->damage) and the error is returned: TM_ERR_WIRE_* (not one
 * MessagePack object within limits), TM_ERR_STORE_CORRUPT (a field
 * missing, of the wrong type or too long), TM_ERR_NOMEM. */
int tm_audit_decode(const void *val, size_t len, tm_audit_rec_t *out);

/* Wall time as RFC 3339 UTC with milliseconds ("2026-11-30T12:00:00.123Z")
 * into buf (cap >= 32). Returns buf. */
const char *tm_audit_time(uint64_t wall_ns, char *buf, size_t cap);

/* Visit every record of the log, oldest first; damaged records are
 * visited too (r->damaged). A callback returning non-zero stops the walk
 * and that value is returned. r is valid during the call only. Errors:
 * those of tm_store_foreach (TM_ERR_STORE_CORRUPT when a record's
 * checksum does not match: the walk stops there). */
typedef int (*tm_audit_visit_fn)(const tm_audit_rec_t *r, void *arg);
int tm_audit_foreach(tm_store_t *store, tm_audit_visit_fn visit, void *arg);

/* ---- the node's log: decision queue and retention ----------------------- */

typedef struct tm_audit tm_audit_t;

/* NULL only on out-of-memory. Retention: the defaults (below). */
tm_audit_t *tm_audit_new(void);
void tm_audit_destroy(tm_audit_t **p);

/* Keep at most `records` records (>= 1), and none older than `days` days
 * (0: no age limit). Trimmed at checkpoints (tm_audit_trim). */
void tm_audit_retention(tm_audit_t *a, uint64_t records, uint64_t days);

/* Queue a copy of a decision record. TM_ERR_BUSY when the queue holds
 * TM_AUDIT_QUEUE_MAX records: r is dropped and counted, never waited
 * for. */
int tm_audit_note(tm_audit_t *a, const tm_audit_rec_t *r);

/* Append the queued records to b (oldest first) and empty the queue;
 * *n (may be NULL) gets their number. Errors: TM_ERR_NOMEM (the records
 * not appended are dropped and counted). */
int tm_audit_flush(tm_audit_t *a, tm_store_batch_t *b, size_t *n);

/* After the commit of a batch holding `records` audit records, `notes`
 * of them queued decision records: rc 0 counts them written; otherwise
 * the decision records are lost (counted dropped; the record of a change
 * that was refused is no loss). */
void tm_audit_done(tm_audit_t *a, size_t records, size_t notes, int rc);

/* Put into b the deletes of the oldest records beyond the retention,
 * at most TM_AUDIT_TRIM_MAX; *n (may be NULL) gets their number. A
 * damaged record is deleted only by the count limit (its age is not
 * known), and the age limit stops at it. now_ns: CLOCK_REALTIME. Errors:
 * those of tm_store_count and tm_store_foreach, TM_ERR_NOMEM. */
int tm_audit_trim(tm_audit_t *a, tm_store_t *store, tm_store_batch_t *b,
                  uint64_t now_ns, size_t *n);

/* Wall time now, CLOCK_REALTIME, in ns. */
uint64_t tm_audit_now_ns(void);

typedef struct {
    uint64_t queued;  /* decision records waiting for a commit */
    uint64_t written; /* records committed (changes and decisions) */
    uint64_t dropped; /* decision records lost: queue full, batch failed */
    uint64_t trimmed; /* deletes put into checkpoint batches by retention */
} tm_audit_stats_t;

void tm_audit_stats(const tm_audit_t *a, tm_audit_stats_t *out);
/* Append r to b (the mutation path: the record of the change b holds).
 * Errors: TM_ERR_NOMEM. */
int tm_audit_append(tm_audit_t *a, tm_store_batch_t *b,
                    const tm_audit_rec_t *r);

#endif
