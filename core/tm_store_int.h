/* tm_store_int: the store's internal layout, shared by its source files.
 *
 * tm_store.c (the environment: open, close, map growth, transactions,
 * error translation), tm_store_dir.c (the data directory: creation, its
 * contents, the process-wide registry, free space), tm_store_format.c (the
 * on-disk format: database names, the format marker, record checksums, the
 * upgrade from format 1), tm_store_batch.c (batches, commit, the commit
 * hook), tm_store_read.c (get, foreach, count, statistics),
 * tm_store_verify.c (the verifier child), tm_store_backup.c (live copies)
 * and tm_store_reserve.c (the space reserve) see the same structure;
 * nothing outside core/tm_store*.c includes this header.
 *
 * Locking, outermost first:
 *   write_lock  (mutex)   one batch commit at a time; held across map growth
 *                         and the replay of the batch;
 *   map_lock    (rwlock)  every LMDB transaction of this process runs under
 *                         the read side; mdb_env_set_mapsize runs under the
 *                         write side, so no transaction is live during it;
 *   registry    (mutex)   the process-wide list of open data directories.
 * A data directory is held by one writer process through flock(2) on the
 * directory itself (LMDB's own fcntl(2) locks are left alone: opening and
 * closing a second descriptor on lock.mdb would silently drop them).
 */
#ifndef TM_STORE_INT_H_INCLUDED
#define TM_STORE_INT_H_INCLUDED

#include "tm_store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define TMI_STORE_DATA_NAME     "data.mdb"          /* LMDB's data file */
#define TMI_STORE_LOCK_NAME     "lock.mdb"          /* LMDB's lock file */
#define TMI_STORE_NEW_NAME      "data.mdb.new"      /* store being built */
#define TMI_STORE_NEW_LOCK_NAME "data.mdb.new-lock" /* its LMDB lock file */
#define TMI_STORE_TAG_LEN       16 /* BLAKE2b-128 after every value (v2) */

/* Reserved keys of the meta database. */
#define TMI_STORE_KEY_FORMAT     "format"
#define TMI_STORE_KEY_AUDIT_NEXT "audit_next"

/* The space reserve: a file of this many allocated bytes in the data
 * directory, given up by a commit that frees space on a full disk. */
#define TMI_STORE_RESERVE_NAME  "reserve.space"
#define TMI_STORE_RESERVE_BYTES ((uint64_t)8 << 20)

struct tm_store {
    MDB_env *env;
    MDB_dbi dbi[TM_DB_COUNT];
    atomic_uint version; /* format version: values carry tags from 2 on */
    int read_only;
    int verifier;       /* opened by tm_store_verify's child: not registered */
    int verifier_alone; /* ... holding the shared flock: no writer */
    int dirfd;          /* open on the data directory; holds the flock */
    int failed;         /* a map resize failed: the environment is unusable */
    dev_t dev;          /* identity of the data directory (registry) */
    ino_t ino;
    int registered;
    tm_store_t *reg_next;
    size_t map_max;
    uint64_t audit_next; /* next audit sequence number; under write_lock */
    pthread_mutex_t write_lock;
    pthread_rwlock_t map_lock;
    int locks_ready;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t grows;
    atomic_uint_fast64_t reserve_used; /* times the reserve was given up */
    atomic_bool reserve;               /* the reserve file is there */
    tm_store_failure_t failure; /* last failed commit or backup; fail_lock */
    pthread_mutex_t fail_lock;
    tm_store_hook_fn hook; /* after each commit, under write_lock */
    void *hook_arg;
};

/* ---- tm_store.c: the environment ---------------------------------------- */

/* tm_store_open, and the verifier child's open (verifier = 1): not
 * registered (the child may check a directory its parent holds), and,
 * when no writer holds the directory, opened without the lock file
 * (MDB_NOLOCK, keeping the shared flock until close) so that checking
 * writes nothing. why (may be NULL) gets the reason of a
 * TM_ERR_STORE_CORRUPT. */
int tmi_store_open(tm_store_t **out, const char *dir,
                   const tm_store_opts_t *opts, int verifier, char *why,
                   size_t whylen);

/* An LMDB return code, or an errno value, as a tm_err_t. */
int tmi_store_err(int mrc);
int tmi_store_err_errno(int errnum);

/* map_lock's read side, counted per thread (any store). */
void tmi_store_read_lock(tm_store_t *s);
void tmi_store_read_unlock(tm_store_t *s);

/* This thread holds map_lock for reading (of any store): a commit from it
 * could deadlock on map growth, so it is refused. */
bool tmi_store_reading(void);

/* Begin a transaction; the caller holds map_lock for reading. Returns an
 * LMDB code. */
int tmi_store_txn_begin(tm_store_t *s, unsigned flags, MDB_txn **txn);

/* Double the map (up to map_max). Caller holds write_lock, not map_lock.
 * Returns a tm_err_t. */
int tmi_store_grow(tm_store_t *s);

/* Keep what a failed commit or backup needed (tm_store_last_failure). */
void tmi_store_set_failure(tm_store_t *s, int rc, uint64_t need,
                           uint64_t avail);

/* ---- tm_store_dir.c: the data directory --------------------------------- */

/* Enter s (its dev and ino) in the process-wide registry:
 * TM_ERR_STORE_LOCKED if the directory is open already. */
int tmi_store_register(tm_store_t *s);
void tmi_store_unregister(tm_store_t *s);

/* mkdir -p with mode 0700, each new directory made durable. A tm_err_t. */
int tmi_store_mkdirs(const char *dir);

/* Does the directory hold data.mdb, and anything that is not ours? */
int tmi_store_scan_dir(int dirfd, int *has_data, int *has_foreign);

/* Bytes this process may still write on the file system holding fd. */
uint64_t tmi_store_free_bytes(int fd);

/* ---- tm_store_format.c: the on-disk format ------------------------------ */

/* Big-endian u64 (audit keys, audit_next). */
void tmi_store_be64(unsigned char *p, uint64_t v);
uint64_t tmi_store_get_be64(const unsigned char *p);

/* k is the format marker, the one value without a tag. */
int tmi_store_is_marker(int db, const MDB_val *k);

/* Check and strip the tag of a value read through LMDB (format 2): 0 or
 * TM_ERR_STORE_CORRUPT. */
int tmi_store_untag(int tagged, int db, const MDB_val *k, MDB_val *v);

/* Put key = val, plus its tag when tagged. Returns an LMDB code. */
int tmi_store_put_tagged(MDB_txn *txn, MDB_dbi dbi, int db, int tagged,
                         const MDB_val *k, const void *val, size_t vlen,
                         unsigned flags);

/* Write the format marker of version into meta. Returns an LMDB code. */
int tmi_store_put_marker(MDB_txn *txn, MDB_dbi meta, uint32_t version);

/* Check the marker through txn; *version gets its version. A tm_err_t. */
int tmi_store_check_marker(MDB_txn *txn, uint32_t *version);

/* Do the values seen through txn carry tags? */
int tmi_store_txn_tagged(tm_store_t *s, MDB_txn *txn);

/* Upgrade a format 1 store to format 2 in one write transaction. Called
 * by the open only, before any other thread sees the store. */
int tmi_store_migrate(tm_store_t *s);

/* ---- tm_store_verify.c --------------------------------------------------- */

/* Record LMDB's error mrc while doing what in r. Returns
 * TM_ERR_STORE_CORRUPT. */
int tmi_store_damage_lmdb(tm_store_verify_t *r, const char *what, int mrc);

/* ---- tm_store_reserve.c: the space reserve ------------------------------- */

/* The reserve file is there with its blocks. */
bool tmi_store_reserve_present(int dirfd);

/* Make the reserve if it is missing and the file system has room for it
 * four times over. 0, or TM_ERR_NOSPACE (not now) / TM_ERR_IO. */
int tmi_store_reserve_make(int dirfd);

/* Delete the reserve: 0, TM_ERR_NOT_FOUND (none), TM_ERR_IO. */
int tmi_store_reserve_release(int dirfd);

#endif
