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
 *
 * Checksums (format 2): every stored value except the marker is followed
 * by a 16-byte BLAKE2b digest of (database, key, value), written at commit
 * and checked on every read; a value whose digest does not match is
 * reported as TM_ERR_STORE_CORRUPT, never returned. Callers never see the
 * digest. A format 1 store (no checksums) is read as it is when opened
 * read-only, and rewritten to format 2 in one transaction when opened for
 * writing (see docs/store.md).
 *
 * Storage errors are named by cause: TM_ERR_NOSPACE (file system full or
 * quota exceeded), TM_ERR_READONLY (read-only file system or no permission
 * to write), TM_ERR_NO_DIR (the data directory, or a directory above it,
 * does not exist).
 */
#ifndef TM_STORE_H_INCLUDED
#define TM_STORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

/* Version of the on-disk layout written by this release: 2 = every value
 * carries a checksum. Format 1 stores are still read (and upgraded when
 * opened for writing). */
#define TM_STORE_FORMAT_VERSION 2u

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
 * (create=1, defaults). A format 1 store opened for writing is rewritten
 * to format 2 (checksums) in one durable transaction before this returns.
 * Errors: TM_ERR_NO_DIR (dir, or a directory above it, does not exist and
 * create == 0 or read_only), TM_ERR_STORE_MISSING (dir exists but holds
 * no store, and create == 0 or read_only), TM_ERR_STORE_FOREIGN (dir
 * holds files that are not a twinmesh store, or an LMDB environment
 * without our format marker), TM_ERR_STORE_CORRUPT (LMDB reports
 * corruption or an invalid data file), TM_ERR_STORE_VERSION (format
 * version of a newer release), TM_ERR_STORE_LOCKED (another process holds
 * the store for writing, or this process has it open already),
 * TM_ERR_INVAL (map_size > map_max), TM_ERR_READONLY (read-only file
 * system, or no permission to create or write the files), TM_ERR_NOSPACE
 * (no room to create the store or upgrade its format), TM_ERR_TOO_BIG (a
 * format 1 store too large to upgrade in one transaction), TM_ERR_IO,
 * TM_ERR_NOMEM. On error *out is NULL, and a foreign, damaged or missing
 * store is left untouched (nothing is created or written in it). A store
 * whose map grew keeps its larger size. A creation interrupted by a crash
 * leaves no data.mdb (the store is built as data.mdb.new and renamed once
 * durable); the next open with create starts it again. */
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

/* Put an audit record under the sequence number another store gave it
 * (key: its 8-byte big-endian key there, not 0): a standby copy of that
 * store. The record may be put again (a copy made anew); the store's own
 * sequence moves past it at commit, so a copy stays a valid store.
 * Errors: TM_ERR_INVAL (a key that is not 8 bytes, or 0), NOMEM. */
int tm_store_batch_audit_at(tm_store_batch_t *b, const void *key, size_t klen,
                            const void *val, size_t vlen);

/* Number of operations in the batch. */
size_t tm_store_batch_size(const tm_store_batch_t *b);

/* Write the batch in one durable transaction, keys in sorted order.
 * Returns 0 only when the transaction is durably committed; then every
 * update in it is acknowledged. On error nothing of the batch is applied.
 * The batch is emptied in both cases and may be reused.
 * An empty batch returns 0 at once.
 * Errors: TM_ERR_NOSPACE (the file system is full, or the map is full
 * and the file system has no room for the batch: see
 * tm_store_last_failure), TM_ERR_STORE_FULL (map could not grow past
 * map_max), TM_ERR_READONLY (the file system became read-only),
 * TM_ERR_IO, TM_ERR_STORE_CORRUPT, TM_ERR_NOMEM, TM_ERR_TOO_BIG (more
 * dirty pages than one LMDB transaction holds), TM_ERR_PERM (store opened
 * read-only), TM_ERR_BUSY (called from inside a tm_store_foreach
 * callback). */
int tm_store_batch_commit(tm_store_batch_t *b);

/* Mark b as a change that frees space (a kill, an unlink): if its commit
 * fails because the file system is full, the store gives up its space
 * reserve (8 MiB of allocated blocks kept in the data directory since
 * open) and commits b once more, so an operator can still remove things
 * from a full disk; the reserve is made again after a commit once the
 * file system has room. Cleared by the commit. */
void tm_store_batch_frees(tm_store_batch_t *b);

/* Free a batch (uncommitted operations are dropped). NULL-safe. */
void tm_store_batch_destroy(tm_store_batch_t **p);

/* ---- the commit hook ------------------------------------------------------
 * A hook sees every batch this store commits, right after the commit and
 * before the next one can start (it runs under the store's write lock, on
 * the committing thread), so hooks see commits in their order: a replica
 * fed from them is the store as of some commit. It must be quick and must
 * not call the store. In the hook, tm_store_batch_ops lists what the batch
 * did: clears first, then per key its last put or delete (an audit
 * record is a put into TM_DB_AUDIT under the number the commit gave it),
 * and tm_store_batch_get_tag the caller's tag. One hook
 * per store; NULL removes it. */
typedef enum {
    TM_STORE_OP_PUT,
    TM_STORE_OP_DEL,
    TM_STORE_OP_CLEAR /* every record of db (meta: but the reserved keys) */
} tm_store_op_kind_t;

typedef struct {
    tm_store_db_t db;
    tm_store_op_kind_t kind;
    const void *key; /* put, del */
    size_t klen;
    const void *val; /* put: the value as given (without its checksum) */
    size_t vlen;
} tm_store_op_t;

typedef void (*tm_store_hook_fn)(void *arg, const tm_store_batch_t *b);
typedef int (*tm_store_op_fn)(void *arg, const tm_store_op_t *op);

void tm_store_on_commit(tm_store_t *store, tm_store_hook_fn fn, void *arg);
/* The first non-zero return of fn stops the walk and is returned. */
int tm_store_batch_ops(const tm_store_batch_t *b, tm_store_op_fn fn, void *arg);
/* A number the caller gives a batch (cleared by its commit; 0 by
 * default). */
void tm_store_batch_tag(tm_store_batch_t *b, unsigned tag);
unsigned tm_store_batch_get_tag(const tm_store_batch_t *b);

/* ---- reads -------------------------------------------------------------- */

/* Copy the value of key into a malloc'd buffer (*val, *vlen); the caller
 * frees it (never NULL on success, also for an empty value).
 * Errors: TM_ERR_NOT_FOUND, TM_ERR_INVAL (bad key), TM_ERR_NOMEM,
 * TM_ERR_IO, TM_ERR_STORE_CORRUPT (LMDB reports damage, or the value's
 * checksum does not match). */
int tm_store_get(tm_store_t *store, tm_store_db_t db, const void *key,
                 size_t klen, void **val, size_t *vlen);

/* Visit every record of db in key order within one read transaction. The
 * key and value pointers are valid only during the callback. A callback
 * returning non-zero stops the walk and that value is returned. The
 * callback may read the store (get, count, foreach) but not commit: map
 * growth waits for every read to end. A record whose checksum does not
 * match stops the walk with TM_ERR_STORE_CORRUPT before the callback sees
 * it. Errors: as tm_store_get. */
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
    /* The space reserve (a file in the data directory kept for changes
     * that free space: tm_store_batch_frees): its bytes now (0 while it is
     * given up), and how often a commit on a full disk used it. */
    uint64_t reserve_bytes;
    uint64_t reserve_used;
} tm_store_stats_t;

/* Fill *out; fields that cannot be read are 0. */
void tm_store_stats(tm_store_t *store, tm_store_stats_t *out);

typedef struct {
    int error;           /* tm_err_t of the last failed commit or backup of
                          * this store since open; 0 if none failed */
    uint64_t need_bytes; /* for TM_ERR_NOSPACE and TM_ERR_STORE_FULL: bytes
                          * the batch (keys, values, checksums, record
                          * headers) or the backup copy needed at least;
                          * 0 if not known */
    uint64_t free_bytes; /* bytes then free for this process on the file
                          * system of the data directory (of the backup
                          * destination for a backup); 0 if not known */
} tm_store_failure_t;

/* What the last failed commit or backup needed, so that a caller can say
 * how much space to free ("the batch needed at least N bytes, M free").
 * Any thread. */
void tm_store_last_failure(tm_store_t *store, tm_store_failure_t *out);

/* ---- verification ------------------------------------------------------- */

/* LMDB does not checksum its pages and trusts them: a damaged page can
 * make it return garbage or crash the process (SIGSEGV, SIGBUS, SIGABRT).
 * tm_store_verify() therefore walks a store in a child process (fork): a
 * crash kills only the child, and the parent reports it as damage.
 *
 * The child opens the store read-only (without writing anything in the
 * directory when no writer holds it), then, in one read transaction:
 * walks LMDB's free list (page numbers in range) and main database (only
 * our database names), then every record of every database in key order,
 * checking that keys are strictly ascending and of valid length, that
 * each value's checksum matches (format 2), the reserved meta keys, audit
 * keys (8 bytes, below audit_next), that each database holds exactly the
 * number of records its header claims, and finally that every page of the
 * file is either in use by a database or free (LMDB's page accounting).
 * Each record (except the reserved meta keys) is then handed to the
 * caller's check, e.g. the node's record decoders (tm_persist). */

/* A caller's check of one record. val is the value without its checksum;
 * key and val are valid only during the call. Return 0 if the record is
 * sound, otherwise a tm_err_t and one line in why saying what is wrong.
 * Runs in the child process. */
typedef int (*tm_store_check_fn)(tm_store_db_t db, const void *key, size_t klen,
                                 const void *val, size_t vlen, char *why,
                                 size_t whylen, void *arg);

typedef struct {
    tm_store_check_fn check; /* NULL: only the store's own checks */
    void *arg;               /* passed to check (in the child) */
} tm_store_verify_opts_t;

#define TM_STORE_WHY_MAX 256

typedef struct {
    uint32_t format;               /* format version found, 0 if unknown */
    int checksums;                 /* values carry checksums (format >= 2) */
    uint64_t records[TM_DB_COUNT]; /* records checked, per database */
    uint64_t pages;                /* pages of the last commit */
    uint64_t free_pages;           /* of which free */
    /* where the damage is, when tm_store_verify returns
     * TM_ERR_STORE_CORRUPT: */
    int db;        /* tm_store_db_t, or -1: LMDB's own structures (meta
                    * pages, free list, main database) or not known */
    int have_key;  /* key/klen name a record */
    int key_after; /* the damage lies after that record (the last sound
                    * one), not in it: LMDB failed or the child crashed
                    * while moving to the next record */
    size_t klen;   /* bytes in key */
    unsigned char key[TM_STORE_MAX_KEY];
    int lmdb_error; /* LMDB's error code if LMDB reported it, else 0 */
    int signal;     /* signal that killed the child, else 0 */
    char why[TM_STORE_WHY_MAX]; /* what is wrong, one line */
} tm_store_verify_t;

/* Verify the store in directory `dir` in a child process. opts may be
 * NULL. Returns 0 when every check passed (*out has the counts).
 * Call it from a thread where nothing else reaps child processes at the
 * same time (e.g. the thread of a libev default loop, whose SIGCHLD
 * watcher runs only inside that loop); the child never runs atexit
 * handlers, flushes stdio or logs.
 * Errors: TM_ERR_STORE_CORRUPT (damage found: *out says where and why; also
 * when the child crashed or ended without a result), TM_ERR_NO_DIR,
 * TM_ERR_STORE_MISSING, TM_ERR_STORE_FOREIGN, TM_ERR_STORE_VERSION (as
 * tm_store_open read-only), TM_ERR_READONLY (no permission to read it),
 * TM_ERR_NOMEM, TM_ERR_BUSY (no process could be created), TM_ERR_IO. */
int tm_store_verify(const char *dir, const tm_store_verify_opts_t *opts,
                    tm_store_verify_t *out);

/* One line for an operator: "database actors, record 'p1': checksum does
 * not match", "database links, after record 'a.x>b.y': LMDB:
 * MDB_PAGE_NOTFOUND: ...", "data file: the check was killed by SIGSEGV
 * while reading the store". Always NUL-terminates buf (cap > 0). */
void tm_store_verify_describe(const tm_store_verify_t *v, char *buf,
                              size_t cap);

/* ---- backup -------------------------------------------------------------- */

/* Copy the store into directory `dest` with LMDB's live, compacting copy
 * (mdb_env_copyfd2 with MDB_CP_COMPACT, in one read transaction: commits
 * go on meanwhile and the copy is one consistent snapshot), make it
 * durable (written as dest/data.mdb.new, fsynced, renamed to data.mdb,
 * directory fsynced), then verify the copy with tm_store_verify (vopts may
 * be NULL; *report gets its result, report may be NULL). dest must not
 * exist (it is created, 0700, with its parents) or be an empty directory.
 * A copy that fails verification is removed (and dest too if this call
 * created it), so a directory left by a successful call is always a sound
 * store; on any error nothing is left in dest.
 * The copy itself reads the live store in the calling process: a page
 * damaged since the store was verified can still crash it.
 * Errors: TM_ERR_EXISTS (dest holds files), TM_ERR_STORE_CORRUPT (the copy
 * failed verification: *report says why; or LMDB reported damage while
 * copying), TM_ERR_NOSPACE (tm_store_last_failure says how much the copy
 * needed), TM_ERR_READONLY, TM_ERR_NO_DIR, TM_ERR_STORE_LOCKED (another
 * process holds dest), TM_ERR_NOMEM, TM_ERR_BUSY, TM_ERR_IO. */
int tm_store_backup(tm_store_t *store, const char *dest,
                    const tm_store_verify_opts_t *vopts,
                    tm_store_verify_t *report);

#endif
