/* tm_store: the node's LMDB environment (state, links, catalog, audit).
 *
 * One environment per node, in one data directory, with named databases
 * (tm_store_db_t). Data files are created with mode 0600, the directory
 * with 0700.
 *
 * Durability rule: an update is acknowledged only after the write
 * transaction holding it is durably committed (mdb_txn_commit returned 0,
 * with LMDB's default sync flags: data and meta pages fsynced). Every write
 * goes through a batch: tm_store_batch_commit() sorts the batch's keys,
 * writes them in one transaction and returns 0 only once that transaction is
 * durable. If the map fills up (MDB_MAP_FULL) the store doubles the map size
 * and replays the whole batch, so no update of the batch is lost.
 *
 * Checkpoint policy (the node applies it): actor states are written every
 * N ticks, as one batch holding every actor record plus the checkpoint tick
 * in meta; console mutations are committed one batch per request before the
 * reply. After a crash the store holds exactly the committed batches.
 *
 * Threading: a tm_store_t may be used from several threads. Writes are
 * serialised inside the store (LMDB allows one write transaction at a time).
 * Reads copy values out, so no LMDB memory escapes. A batch belongs to one
 * thread at a time.
 *
 * Exclusion: one writer process per data directory (flock on the
 * directory); read-only opens may run beside it. A directory is open at
 * most once per process (LMDB forbids a second copy of an environment in
 * one process), whatever the mode.
 *
 * Format: the meta database holds the marker "format" = "twinmesh-store"
 * followed by TM_STORE_FORMAT_VERSION as a big-endian u32, and
 * "audit_next" = the next audit sequence number (big-endian u64). Both
 * keys are reserved: batches may not put or delete them.
 */
#ifndef TM_STORE_H_INCLUDED
#define TM_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* Version of the on-disk layout written by this release. */
#define TM_STORE_FORMAT_VERSION 1u

/* Longest key, in bytes (LMDB's compiled-in limit). */
#define TM_STORE_MAX_KEY 511

typedef enum {
    TM_DB_META = 0, /* format, node identity, checkpoint tick, settings */
    TM_DB_ACTORS,   /* actor id -> actor record */
    TM_DB_LINKS,    /* link key -> link record */
    TM_DB_CATALOG,  /* model catalog, plugins, rollouts */
    TM_DB_AUDIT,    /* append-only: big-endian u64 sequence -> event */
    TM_DB_COUNT
} tm_store_db_t;

typedef struct tm_store tm_store_t;
typedef struct tm_store_batch tm_store_batch_t;

typedef struct {
    size_t map_size; /* initial map size in bytes; 0 = 64 MiB */
    size_t map_max;  /* growth limit in bytes; 0 = 1 TiB */
    int create;      /* create the directory and store if missing */
    int read_only;   /* open read-only (inspection tools) */
} tm_store_opts_t;

/* Open (or create) the store in directory `dir`. opts may be NULL
 * (create=1, defaults).
 * Errors: TM_ERR_STORE_MISSING (dir missing and create == 0),
 * TM_ERR_STORE_FOREIGN (dir holds files that are not a twinmesh store, or
 * an LMDB environment without our format marker), TM_ERR_STORE_CORRUPT
 * (LMDB reports corruption or an invalid data file),
 * TM_ERR_STORE_VERSION (format version of a newer release),
 * TM_ERR_STORE_LOCKED (another process holds the store for writing, or
 * this process has it open already), TM_ERR_INVAL (map_size > map_max),
 * TM_ERR_PERM, TM_ERR_IO, TM_ERR_NOMEM. On error *out is NULL, and a
 * foreign, damaged or missing store is left untouched (nothing is created
 * or written in it). A store whose map grew keeps its larger size.
 * A creation interrupted by a crash leaves no data.mdb (the store is built
 * as data.mdb.new and renamed once durable); the next open with create
 * starts it again. */
int tm_store_open(tm_store_t **out, const char *dir,
                  const tm_store_opts_t *opts);

/* Close the store. NULL-safe, sets *p to NULL. No batch may be committing
 * and no batch of this store may be used afterwards (destroying it is
 * fine). */
void tm_store_close(tm_store_t **p);

/* Name of a database ("actors", ...), static. */
const char *tm_store_db_name(tm_store_db_t db);

/* ---- batched writes ---------------------------------------------------- */

/* A batch collects puts and deletes in memory (copies of keys and values).
 * Returns NULL only on out-of-memory. */
tm_store_batch_t *tm_store_batch_new(tm_store_t *store);

/* Add a put / delete. Later operations on the same (db, key) win.
 * Errors: TM_ERR_INVAL (key empty or > TM_STORE_MAX_KEY bytes, a reserved
 * meta key, or a put into TM_DB_AUDIT: use tm_store_batch_audit; deleting
 * audit records, e.g. for retention, is allowed), TM_ERR_NOMEM. */
int tm_store_batch_put(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen, const void *val, size_t vlen);
int tm_store_batch_del(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen);

/* Delete every record of a database. Clears are applied first in the
 * commit, whatever their position in the batch: puts added before the
 * clear survive it. Clearing meta keeps the reserved keys; clearing audit
 * does not restart the audit sequence. */
int tm_store_batch_clear(tm_store_batch_t *b, tm_store_db_t db);

/* Append an audit record; its key is the next audit sequence number
 * (big-endian u64, starting at 1, consecutive across commits and reopens),
 * assigned at commit in the order the records were added. */
int tm_store_batch_audit(tm_store_batch_t *b, const void *val, size_t vlen);

/* Number of operations in the batch. */
size_t tm_store_batch_size(const tm_store_batch_t *b);

/* Write the batch in one durable transaction, keys in sorted order.
 * Returns 0 only when the transaction is durably committed; then every
 * update in it is acknowledged. On error nothing of the batch is applied.
 * The batch is emptied in both cases and may be reused.
 * An empty batch returns 0 at once.
 * Errors: TM_ERR_STORE_FULL (map could not grow past map_max), TM_ERR_IO,
 * TM_ERR_STORE_CORRUPT, TM_ERR_NOMEM, TM_ERR_TOO_BIG (more dirty pages
 * than one LMDB transaction holds), TM_ERR_PERM (read-only store),
 * TM_ERR_BUSY (called from inside a tm_store_foreach callback). */
int tm_store_batch_commit(tm_store_batch_t *b);

/* Free a batch (uncommitted operations are dropped). NULL-safe. */
void tm_store_batch_destroy(tm_store_batch_t **p);

/* ---- reads -------------------------------------------------------------- */

/* Copy the value of key into a malloc'd buffer (*val, *vlen); the caller
 * frees it (never NULL on success, also for an empty value).
 * Errors: TM_ERR_NOT_FOUND, TM_ERR_INVAL (bad key), TM_ERR_NOMEM,
 * TM_ERR_IO, TM_ERR_STORE_CORRUPT. */
int tm_store_get(tm_store_t *store, tm_store_db_t db, const void *key,
                 size_t klen, void **val, size_t *vlen);

/* Visit every record of db in key order within one read transaction. The
 * key and value pointers are valid only during the callback. A callback
 * returning non-zero stops the walk and that value is returned. The
 * callback may read the store (get, count, foreach) but not commit: map
 * growth waits for every read to end. Errors: as tm_store_get. */
int tm_store_foreach(tm_store_t *store, tm_store_db_t db,
                     int (*cb)(const void *key, size_t klen, const void *val,
                               size_t vlen, void *arg),
                     void *arg);

/* Number of records in db. Errors: TM_ERR_INVAL, TM_ERR_IO. */
int tm_store_count(tm_store_t *store, tm_store_db_t db, size_t *count);

typedef struct {
    size_t map_size;   /* current map size, bytes */
    size_t used_bytes; /* pages in use x page size (free pages excluded) */
    uint64_t commits;  /* batches committed since open */
    uint64_t grows;    /* map growths since open */
} tm_store_stats_t;

/* Fill *out; fields that cannot be read are 0. */
void tm_store_stats(tm_store_t *store, tm_store_stats_t *out);

#endif
