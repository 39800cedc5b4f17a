/* tm_store: the node's LMDB environment, group commit and map growth.
 *
 * Locking, outermost first:
 *   write_lock  (mutex)   one batch commit at a time; held across map growth
 *                         and the replay of the batch;
 *   map_lock    (rwlock)  every LMDB transaction of this process runs under
 *                         the read side; mdb_env_set_mapsize runs under the
 *                         write side, so no transaction is live during it;
 *   s_reg_lock  (mutex)   the process-wide list of open data directories.
 * A data directory is held by one writer process through flock(2) on the
 * directory itself (LMDB's own fcntl(2) locks are left alone: opening and
 * closing a second descriptor on lock.mdb would silently drop them).
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h>   /* the storage engine */
#include <sodium.h> /* BLAKE2b checksums of records */

#include <assert.h>
#include <dirent.h>      /* scanning the data directory */
#include <errno.h>       /* translating system errors */
#include <fcntl.h>       /* open, *at functions */
#include <pthread.h>     /* write_lock, map_lock, registry */
#include <signal.h>      /* the verifier child's signal dispositions */
#include <stdarg.h>      /* s_why */
#include <stdatomic.h>   /* lock-free statistics counters */
#include <stdio.h>       /* snprintf for paths */
#include <stdlib.h>      /* malloc, qsort */
#include <string.h>      /* memcmp, memcpy */
#include <sys/file.h>    /* flock */
#include <sys/mman.h>    /* the verifier's report, shared with the child */
#include <sys/stat.h>    /* modes, fstatat */
#include <sys/statvfs.h> /* free space, when a write fails for lack of it */
#include <sys/wait.h>    /* waitpid for the verifier child */
#include <unistd.h>      /* close, fsync, fork */

#define S_MAX_KEY          TM_STORE_MAX_KEY
#define S_DEFAULT_MAP      ((size_t)64 << 20)  /* 64 MiB */
#define S_FORMAT_MAGIC     "twinmesh-store"    /* meta "format" value prefix */
#define S_FORMAT_MAGIC_LEN 14                  /* strlen(S_FORMAT_MAGIC) */
#define S_DATA_NAME        "data.mdb"          /* LMDB's data file */
#define S_LOCK_NAME        "lock.mdb"          /* LMDB's lock file */
#define S_NEW_NAME         "data.mdb.new"      /* store under construction */
#define S_NEW_LOCK_NAME    "data.mdb.new-lock" /* its LMDB lock file */
#define S_KEEP_BYTES       ((size_t)8 << 20) /* batch memory kept after commit */
#define S_TAG_LEN          16 /* BLAKE2b-128 after every value (format 2) */
#define S_NODE_BYTES       10 /* LMDB's per-record header and page pointer */

#if SIZE_MAX > 0xffffffffu
#define S_DEFAULT_MAX ((size_t)1 << 40) /* 1 TiB */
#else
#define S_DEFAULT_MAX ((size_t)1 << 30) /* 1 GiB on 32-bit hosts */
#endif

/* Reserved keys of the meta database. */
static const char s_key_format[] = "format";
static const char s_key_audit_next[] = "audit_next";

static const char *const s_db_names[TM_DB_COUNT] = {"meta", "actors", "links",
                                                    "catalog", "audit"};

/* Read-side holds of map_lock by this thread (any store). A commit from a
 * thread that holds one could deadlock on map growth, so it is refused. */
static _Thread_local int s_read_depth;

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

typedef enum { S_OP_PUT, S_OP_DEL, S_OP_CLEAR, S_OP_AUDIT } s_op_kind_t;

typedef struct {
    size_t koff, klen;      /* key bytes in the batch buffer (not for audit) */
    size_t voff, vlen;      /* value bytes in the batch buffer */
    size_t seq;             /* insertion order: later operations win */
    const unsigned char *k; /* resolved at commit (not for audit) */
    const unsigned char *v;
    unsigned char akey[8]; /* big-endian audit sequence number */
    unsigned char kind;    /* s_op_kind_t */
    unsigned char db;      /* tm_store_db_t */
} s_op_t;

struct tm_store_batch {
    tm_store_t *store;
    bool frees;   /* a kill or unlink: may use the space reserve */
    unsigned tag; /* the caller's, for the commit hook */
    s_op_t *ops;
    size_t nops, ops_cap;
    unsigned char *buf; /* copies of keys and values */
    size_t buf_len, buf_cap;
};

/* ---- process-wide registry of open data directories ---------------------- */

static pthread_mutex_t s_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tm_store_t *s_reg_head;

/* LMDB must not have one environment open twice in a process (closing the
 * second copy drops the first one's locks), so refuse it up front. */
static int s_register(tm_store_t *s)
{
    int rc = 0;
    pthread_mutex_lock(&s_reg_lock);
    for (tm_store_t *it = s_reg_head; it != NULL; it = it->reg_next) {
        if (it->dev == s->dev && it->ino == s->ino) {
            rc = TM_ERR_STORE_LOCKED;
            goto done;
        }
    }
    s->reg_next = s_reg_head;
    s_reg_head = s;
    s->registered = 1;
done:
    pthread_mutex_unlock(&s_reg_lock);
    return rc;
}

static void s_unregister(tm_store_t *s)
{
    pthread_mutex_lock(&s_reg_lock);
    for (tm_store_t **pp = &s_reg_head; *pp != NULL; pp = &(*pp)->reg_next) {
        if (*pp == s) {
            *pp = s->reg_next;
            break;
        }
    }
    s->registered = 0;
    pthread_mutex_unlock(&s_reg_lock);
}

/* ---- error translation -----------------------------------------------------
 */

static int s_err_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return TM_ERR_NO_DIR;
    case ENOSPC:
    case EDQUOT:
        return TM_ERR_NOSPACE;
    case EROFS:
    case EACCES:
    case EPERM:
        return TM_ERR_READONLY;
    default:
        return tm_err_from_errno(errnum);
    }
}

static int s_err(int mrc)
{
    switch (mrc) {
    case MDB_SUCCESS:
        return TM_ERR_OK;
    case MDB_NOTFOUND:
        return TM_ERR_NOT_FOUND;
    case MDB_MAP_FULL:
        return TM_ERR_STORE_FULL;
    case MDB_INVALID:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
        return TM_ERR_STORE_CORRUPT;
    case MDB_PANIC:
        return TM_ERR_IO;
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
        return TM_ERR_TOO_BIG;
    case MDB_READERS_FULL:
    case MDB_MAP_RESIZED:
        return TM_ERR_BUSY;
    case MDB_BAD_VALSIZE:
        return TM_ERR_INVAL;
    default:
        if (mrc > 0) {
            return s_err_errno(mrc);
        }
        return TM_ERR_INTERNAL;
    }
}

/* ---- small helpers
 * ----------------------------------------------------------- */

static void s_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t s_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static char *s_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

/* ---- record checksums (format 2) ------------------------------------------
 */

/* BLAKE2b-128 of (database, key length, key, value): a value moved to
 * another key or database does not match either. */
static void s_tag(int db, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned char out[S_TAG_LEN])
{
    crypto_generichash_state st;
    unsigned char head[3] = {(unsigned char)db, (unsigned char)(klen >> 8),
                             (unsigned char)klen};
    crypto_generichash_init(&st, NULL, 0, S_TAG_LEN);
    crypto_generichash_update(&st, head, sizeof(head));
    crypto_generichash_update(&st, key, klen);
    crypto_generichash_update(&st, val, vlen);
    crypto_generichash_final(&st, out, S_TAG_LEN);
}

/* The format marker is the one value without a tag: an older release
 * reads it to refuse a newer format. */
static int s_is_marker(int db, const MDB_val *k)
{
    return db == TM_DB_META && k->mv_size == sizeof(s_key_format) - 1 &&
           memcmp(k->mv_data, s_key_format, k->mv_size) == 0;
}

/* Check and strip the tag of a value read through LMDB (format 2).
 * Returns 0 or TM_ERR_STORE_CORRUPT. */
static int s_untag(int tagged, int db, const MDB_val *k, MDB_val *v)
{
    unsigned char t[S_TAG_LEN];
    if (!tagged || s_is_marker(db, k)) {
        return 0;
    }
    if (v->mv_size < S_TAG_LEN) {
        return TM_ERR_STORE_CORRUPT;
    }
    size_t n = v->mv_size - S_TAG_LEN;
    s_tag(db, k->mv_data, k->mv_size, v->mv_data, n, t);
    if (memcmp(t, (const unsigned char *)v->mv_data + n, S_TAG_LEN) != 0) {
        return TM_ERR_STORE_CORRUPT;
    }
    v->mv_size = n;
    return 0;
}

/* Put key = val (plus its tag when tagged) with MDB_RESERVE, so the value
 * is copied once, straight into its page. Returns an LMDB code. */
static int s_put_tagged(MDB_txn *txn, MDB_dbi dbi, int db, int tagged,
                        const MDB_val *k, const void *val, size_t vlen,
                        unsigned flags)
{
    MDB_val v = {vlen + (tagged ? S_TAG_LEN : 0), NULL};
    int mrc = mdb_put(txn, dbi, (MDB_val *)k, &v, flags | MDB_RESERVE);
    if (mrc == 0) {
        unsigned char *p = v.mv_data;
        if (vlen > 0) {
            memcpy(p, val, vlen);
        }
        if (tagged) {
            s_tag(db, k->mv_data, k->mv_size, val, vlen, p + vlen);
        }
    }
    return mrc;
}

/* Bytes this process may still write on the file system holding fd
 * (root may use the blocks reserved for it). */
static uint64_t s_free_bytes(int fd)
{
    struct statvfs vf;
    if (fd < 0 || fstatvfs(fd, &vf) != 0) {
        return 0;
    }
    uint64_t blocks = geteuid() == 0 ? vf.f_bfree : vf.f_bavail;
    return (uint64_t)blocks * (uint64_t)vf.f_frsize;
}

static int s_fsync_dir_of(const char *path)
{
    int rc = 0;
    char *parent = strdup(path);
    int fd = -1;
    if (parent == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    char *slash = strrchr(parent, '/');
    if (slash == NULL) {
        strcpy(parent, ".");
    } else if (slash == parent) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        rc = s_err_errno(errno);
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    free(parent);
    return rc;
}

/* mkdir -p with mode 0700 for every directory it creates (whatever the
 * umask), each made durable in its parent. */
static int s_mkdirs(const char *dir)
{
    int rc = 0;
    char *path = strdup(dir);
    if (path == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    size_t n = strlen(path);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') {
            continue;
        }
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) == 0) {
            if (chmod(path, 0700) != 0) {
                rc = s_err_errno(errno);
            } else {
                rc = s_fsync_dir_of(path);
            }
        } else if (errno != EEXIST) {
            rc = s_err_errno(errno);
        }
        path[i] = saved;
        if (rc != 0) {
            goto done;
        }
    }
done:
    free(path);
    return rc;
}

/* Look at the data directory: does it hold data.mdb, and does it hold
 * anything that is not ours? */
static int s_scan_dir(int dirfd, int *has_data, int *has_foreign)
{
    int rc = 0;
    DIR *d = NULL;
    int fd = dup(dirfd);
    *has_data = 0;
    *has_foreign = 0;
    if (fd < 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        rc = s_err_errno(errno);
        close(fd);
        goto done;
    }
    rewinddir(d);
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                rc = s_err_errno(errno);
            }
            break;
        }
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
            strcmp(n, S_LOCK_NAME) == 0 || strcmp(n, S_NEW_NAME) == 0 ||
            strcmp(n, S_NEW_LOCK_NAME) == 0 ||
            strcmp(n, TMI_STORE_RESERVE_NAME) == 0) {
            continue;
        }
        if (strcmp(n, S_DATA_NAME) == 0) {
            *has_data = 1;
        } else {
            *has_foreign = 1;
        }
    }
done:
    if (d != NULL) {
        closedir(d);
    }
    return rc;
}

/* ---- format marker ---------------------------------------------------------
 */

static void s_marker(unsigned char out[S_FORMAT_MAGIC_LEN + 4], uint32_t v)
{
    memcpy(out, S_FORMAT_MAGIC, S_FORMAT_MAGIC_LEN);
    out[S_FORMAT_MAGIC_LEN + 0] = (unsigned char)(v >> 24);
    out[S_FORMAT_MAGIC_LEN + 1] = (unsigned char)(v >> 16);
    out[S_FORMAT_MAGIC_LEN + 2] = (unsigned char)(v >> 8);
    out[S_FORMAT_MAGIC_LEN + 3] = (unsigned char)v;
}

static int s_put_marker(MDB_txn *txn, MDB_dbi meta, uint32_t version)
{
    unsigned char m[S_FORMAT_MAGIC_LEN + 4];
    MDB_val k = {sizeof(s_key_format) - 1, (void *)s_key_format};
    MDB_val v = {sizeof(m), m};
    s_marker(m, version);
    return mdb_put(txn, meta, &k, &v, 0);
}

/* Do the first records of a database read back in order without an LMDB
 * error? A damaged page can hide our marker; only an environment that
 * reads cleanly is taken for someone else's. */
static int s_db_sane(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v, prev = {0, NULL};
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    int n = 0;
    for (mrc = mrc != 0 ? mrc : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         mrc == 0 && n < 1000; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t m = k.mv_size < prev.mv_size ? k.mv_size : prev.mv_size;
        int c = m > 0 ? memcmp(prev.mv_data, k.mv_data, m) : 0;
        if (n > 0 && (c > 0 || (c == 0 && prev.mv_size >= k.mv_size))) {
            mrc = MDB_CORRUPTED;
            break;
        }
        prev = k;
        n++;
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return mrc == 0 || mrc == MDB_NOTFOUND;
}

/* Check the marker through txn; *version gets its version. Returns a
 * tm_err_t. */
static int s_check_marker(MDB_txn *txn, uint32_t *version)
{
    int rc = 0;
    MDB_dbi meta, main_dbi;
    int have_meta = 0;
    MDB_val k = {sizeof(s_key_format) - 1, (void *)s_key_format};
    MDB_val v;
    int mrc = mdb_dbi_open(txn, s_db_names[TM_DB_META], 0, &meta);
    if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    have_meta = mrc == 0;
    if (mrc == 0) {
        mrc = mdb_get(txn, meta, &k, &v);
    }
    if (mrc == MDB_NOTFOUND) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    if (v.mv_size < S_FORMAT_MAGIC_LEN ||
        memcmp(v.mv_data, S_FORMAT_MAGIC, S_FORMAT_MAGIC_LEN) != 0) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    if (v.mv_size != S_FORMAT_MAGIC_LEN + 4) {
        rc = TM_ERR_STORE_CORRUPT;
        goto done;
    }
    const unsigned char *p = (const unsigned char *)v.mv_data;
    uint32_t found = ((uint32_t)p[S_FORMAT_MAGIC_LEN] << 24) |
                     ((uint32_t)p[S_FORMAT_MAGIC_LEN + 1] << 16) |
                     ((uint32_t)p[S_FORMAT_MAGIC_LEN + 2] << 8) |
                     (uint32_t)p[S_FORMAT_MAGIC_LEN + 3];
    if (found == 0) {
        rc = TM_ERR_STORE_CORRUPT;
    } else if (found > TM_STORE_FORMAT_VERSION) {
        rc = TM_ERR_STORE_VERSION;
    }
    *version = found;
done:
    if (rc == TM_ERR_STORE_FOREIGN &&
        (mdb_dbi_open(txn, NULL, 0, &main_dbi) != 0 ||
         !s_db_sane(txn, main_dbi) || (have_meta && !s_db_sane(txn, meta)))) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    return rc;
}

static void s_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A reason for the verifier's report (why may be NULL). */
static void s_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (why == NULL || whylen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* A data file shorter than the pages its meta page claims would fault
 * (SIGBUS) on first access: refuse it before any transaction. */
static int s_check_size(MDB_env *env, char *why, size_t whylen)
{
    int rc = 0;
    MDB_envinfo info;
    MDB_stat st;
    struct stat fs;
    int fd;
    int mrc = mdb_env_info(env, &info);
    if (mrc == 0) {
        mrc = mdb_env_stat(env, &st);
    }
    if (mrc == 0) {
        mrc = mdb_env_get_fd(env, &fd);
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    if (fstat(fd, &fs) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    if (st.ms_psize == 0 ||
        (uint64_t)fs.st_size <
            ((uint64_t)info.me_last_pgno + 1) * (uint64_t)st.ms_psize) {
        rc = TM_ERR_STORE_CORRUPT;
        s_why(why, whylen,
              "data file is %llu bytes, its meta page claims %llu pages of "
              "%u bytes",
              (unsigned long long)fs.st_size,
              (unsigned long long)info.me_last_pgno + 1, st.ms_psize);
    }
done:
    return rc;
}

/* Translate the error of mdb_env_open on an existing data file: ENOENT
 * means its first page is not a meta page. */
static int s_err_open(int mrc)
{
    if (mrc == ENOENT) {
        return TM_ERR_STORE_CORRUPT;
    }
    if (mrc == EINVAL) { /* e.g. an absurd map size in a damaged meta */
        return TM_ERR_STORE_CORRUPT;
    }
    return s_err(mrc);
}

/* Inspect data.mdb without the lock file and without writing anything, so
 * that a foreign or damaged directory is left exactly as it was. */
static int s_probe(const char *dir, char *why, size_t whylen)
{
    int rc = 0;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    int mrc = mdb_env_create(&env);
    if (mrc == 0) {
        mrc = mdb_env_set_maxdbs(env, TM_DB_COUNT);
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    mrc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600);
    if (mrc != 0) {
        rc = s_err_open(mrc);
        s_why(why, whylen, "LMDB cannot open the data file: %s",
              mdb_strerror(mrc));
        goto done;
    }
    rc = s_check_size(env, why, whylen);
    if (rc != 0) {
        goto done;
    }
    mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        rc = s_err(mrc);
        s_why(why, whylen, "LMDB: %s", mdb_strerror(mrc));
        goto done;
    }
    uint32_t version = 0;
    rc = s_check_marker(txn, &version);
    if (rc == TM_ERR_STORE_CORRUPT) {
        s_why(why, whylen, "format marker in meta is unreadable or invalid");
    }
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (env != NULL) {
        mdb_env_close(env);
    }
    return rc;
}

/* Build a new store as data.mdb.new, make it durable, then rename it to
 * data.mdb: a crash at any point leaves either no data.mdb or a complete
 * one with its marker. Leftovers of an interrupted creation are ours and
 * are removed first. */
static int s_create(tm_store_t *s, const char *dir, size_t map_size)
{
    int rc = 0;
    int mrc;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    char *path = s_join(dir, S_NEW_NAME);
    int fd;
    if (path == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if ((unlinkat(s->dirfd, S_NEW_NAME, 0) != 0 && errno != ENOENT) ||
        (unlinkat(s->dirfd, S_NEW_LOCK_NAME, 0) != 0 && errno != ENOENT)) {
        rc = s_err_errno(errno);
        goto done;
    }
    mrc = mdb_env_create(&env);
    if (mrc == 0) {
        mrc = mdb_env_set_maxdbs(env, TM_DB_COUNT);
    }
    if (mrc == 0) {
        mrc = mdb_env_set_mapsize(env, map_size);
    }
    if (mrc == 0) {
        mrc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    }
    if (mrc == 0) {
        mrc = mdb_env_get_fd(env, &fd);
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    mrc = mdb_txn_begin(env, NULL, 0, &txn);
    for (int i = 0; mrc == 0 && i < TM_DB_COUNT; i++) {
        MDB_dbi dbi;
        mrc = mdb_dbi_open(txn, s_db_names[i], MDB_CREATE, &dbi);
        if (mrc == 0 && i == TM_DB_META) {
            mrc = s_put_marker(txn, dbi, TM_STORE_FORMAT_VERSION);
        }
    }
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    mdb_env_close(env);
    env = NULL;
    if (renameat(s->dirfd, S_NEW_NAME, s->dirfd, S_DATA_NAME) != 0 ||
        fsync(s->dirfd) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    unlinkat(s->dirfd, S_NEW_LOCK_NAME, 0); /* best effort: only clutter */
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (env != NULL) {
        mdb_env_close(env);
    }
    free(path);
    return rc;
}

/* Open the named databases of the real environment, check the marker
 * again (a read-only open may have skipped the probe) and load the audit
 * sequence. */
static int s_open_dbs(tm_store_t *s)
{
    int rc = 0;
    int mrc;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned flags = s->read_only ? 0 : MDB_CREATE;

    uint32_t version = 0;
    mrc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    rc = s_check_marker(txn, &version);
    if (rc != 0) {
        goto done;
    }
    atomic_store(&s->version, version);
    for (int i = 0; i < TM_DB_COUNT; i++) {
        mrc = mdb_dbi_open(txn, s_db_names[i], flags, &s->dbi[i]);
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND ? TM_ERR_STORE_CORRUPT : s_err(mrc);
            goto done;
        }
    }
    s->audit_next = 1;
    mrc = mdb_cursor_open(txn, s->dbi[TM_DB_AUDIT], &cur);
    if (mrc == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (mrc == 0) {
        if (k.mv_size != 8) {
            rc = TM_ERR_STORE_CORRUPT;
            goto done;
        }
        s->audit_next = s_get_be64(k.mv_data) + 1;
    } else if (mrc != MDB_NOTFOUND) {
        rc = s_err(mrc);
        goto done;
    }
    k.mv_data = (void *)s_key_audit_next;
    k.mv_size = sizeof(s_key_audit_next) - 1;
    mrc = mdb_get(txn, s->dbi[TM_DB_META], &k, &v);
    if (mrc == 0) {
        if (s_untag(version >= 2, TM_DB_META, &k, &v) != 0 || v.mv_size != 8) {
            rc = TM_ERR_STORE_CORRUPT;
            goto done;
        }
        uint64_t next = s_get_be64(v.mv_data);
        if (next > s->audit_next) {
            s->audit_next = next;
        }
    } else if (mrc != MDB_NOTFOUND) {
        rc = s_err(mrc);
        goto done;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    /* Committing (also a read-only transaction) keeps the handles open. */
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc != 0) {
        rc = s_err(mrc);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* Rewrite the records of one database with their tags (s_migrate). */
static int s_migrate_db(MDB_txn *txn, MDB_dbi dbi, int db, unsigned char **buf,
                        size_t *cap)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned char key[S_MAX_KEY];
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0) {
        return mrc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (s_is_marker(db, &k)) {
            continue;
        }
        MDB_val t = v;
        if (s_untag(1, db, &k, &t) == 0) {
            /* A format 1 value never ends in its own tag (2^-128): the
             * marker was damaged; tagging again would hide the data. */
            mrc = MDB_CORRUPTED;
            break;
        }
        size_t need = v.mv_size + S_TAG_LEN;
        if (need > *cap || k.mv_size > sizeof(key)) {
            unsigned char *nb =
                k.mv_size > sizeof(key) ? NULL : realloc(*buf, need);
            if (nb == NULL) {
                mrc = k.mv_size > sizeof(key) ? MDB_BAD_VALSIZE : ENOMEM;
                break;
            }
            *buf = nb;
            *cap = need;
        }
        /* Copies: the put may move the page both point into. */
        memcpy(key, k.mv_data, k.mv_size);
        if (v.mv_size > 0) {
            memcpy(*buf, v.mv_data, v.mv_size);
        }
        s_tag(db, key, k.mv_size, *buf, v.mv_size, *buf + v.mv_size);
        MDB_val nk = {k.mv_size, key};
        MDB_val nv = {need, *buf};
        mrc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (mrc != 0) {
            break;
        }
    }
    if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
    mdb_cursor_close(cur);
    return mrc;
}

/* Upgrade a format 1 store to format 2: every value but the marker gets
 * its tag and the marker says 2, in one write transaction, so a crash
 * leaves the store in format 1, untouched. The map grows as for a commit.
 * Called by tm_store_open only, before any other thread sees the store. */
static int s_migrate(tm_store_t *s)
{
    int rc = 0;
    int mrc;
    unsigned char *buf = NULL;
    size_t cap = 0;
    MDB_envinfo info;
    for (;;) {
        MDB_txn *txn = NULL;
        mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        for (int db = 0; mrc == 0 && db < TM_DB_COUNT; db++) {
            mrc = s_migrate_db(txn, s->dbi[db], db, &buf, &cap);
        }
        if (mrc == 0) {
            mrc = s_put_marker(txn, s->dbi[TM_DB_META], 2);
        }
        if (mrc == 0) {
            mrc = mdb_txn_commit(txn);
            txn = NULL;
        }
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        if (mrc != MDB_MAP_FULL) {
            break;
        }
        mrc = mdb_env_info(s->env, &info);
        if (mrc == 0 && info.me_mapsize >= s->map_max) {
            rc = TM_ERR_STORE_FULL;
            break;
        }
        if (mrc == 0) {
            mrc = mdb_env_set_mapsize(s->env, info.me_mapsize > s->map_max / 2
                                                  ? s->map_max
                                                  : info.me_mapsize * 2);
        }
        if (mrc != 0) {
            break;
        }
    }
    if (rc == 0 && mrc != 0) {
        rc = s_err(mrc);
    }
    if (rc == 0) {
        atomic_store(&s->version, 2);
    }
    free(buf);
    return rc;
}

/* ---- open / close
 * ------------------------------------------------------------ */

/* tm_store_open, and the verifier child's open (verifier = 1): not
 * registered (the child may check a directory its parent holds), and,
 * when no writer holds the directory, opened without the lock file
 * (MDB_NOLOCK, keeping the shared flock until close) so that checking
 * writes nothing. why (may be NULL) gets the reason of a
 * TM_ERR_STORE_CORRUPT. */
static int s_open(tm_store_t **out, const char *dir,
                  const tm_store_opts_t *opts, int verifier, char *why,
                  size_t whylen)
{
    int rc = 0;
    int mrc;
    tm_store_t *s = NULL;
    tm_store_opts_t o = {0, 0, 1, 0};
    struct stat st;
    int has_data = 0, has_foreign = 0, probe = 1, lock_existed = 1;
    MDB_envinfo info;

    assert(out != NULL);
    *out = NULL;
    if (dir == NULL || dir[0] == '\0') {
        rc = TM_ERR_INVAL;
        goto done;
    }
    if (opts != NULL) {
        o = *opts;
    }
    if (o.map_size == 0) {
        o.map_size = S_DEFAULT_MAP;
    }
    if (o.map_max == 0) {
        o.map_max = S_DEFAULT_MAX;
    }
    if (o.map_size > o.map_max) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    if (sodium_init() < 0) {
        rc = TM_ERR_INTERNAL;
        goto done;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    s->dirfd = -1;
    s->read_only = o.read_only != 0;
    s->verifier = verifier;
    s->map_max = o.map_max;
    atomic_init(&s->commits, 0);
    atomic_init(&s->grows, 0);
    atomic_init(&s->version, 0);

    /* 1. The directory: exists, or is created (0700) if we may. */
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            rc = s_err_errno(errno);
            goto done;
        }
        if (!o.create || s->read_only) {
            rc = TM_ERR_NO_DIR;
            goto done;
        }
        rc = s_mkdirs(dir);
        if (rc != 0) {
            goto done;
        }
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        rc = errno == ENOTDIR ? TM_ERR_STORE_FOREIGN : s_err_errno(errno);
        goto done;
    }
    if (fstat(s->dirfd, &st) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;

    /* 2. Exclusion: one open per process, one writer per directory. */
    if (!verifier) {
        rc = s_register(s);
        if (rc != 0) {
            goto done;
        }
    }
    if (flock(s->dirfd, (s->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            rc = s_err_errno(errno);
            goto done;
        }
        if (!s->read_only) {
            rc = TM_ERR_STORE_LOCKED;
            goto done;
        }
        /* A twinmesh writer holds the directory, so it is a valid store
         * and its lock file is live: skip the probe. */
        probe = 0;
    }

    /* 3. What is in it. Nothing is written before this point. */
    rc = s_scan_dir(s->dirfd, &has_data, &has_foreign);
    if (rc != 0) {
        goto done;
    }
    if (!has_data) {
        if (has_foreign) {
            rc = TM_ERR_STORE_FOREIGN;
        } else if (!o.create || s->read_only) {
            rc = TM_ERR_STORE_MISSING;
        } else {
            rc = s_create(s, dir, o.map_size);
        }
        if (rc != 0) {
            goto done;
        }
    }
    if (fstatat(s->dirfd, S_DATA_NAME, &st, 0) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    if (st.st_size == 0) { /* LMDB would take it for a new environment */
        rc = TM_ERR_STORE_CORRUPT;
        s_why(why, whylen, "data file is empty");
        goto done;
    }
    if (probe) {
        rc = s_probe(dir, why, whylen);
        if (rc != 0) {
            goto done;
        }
    }
    if (!s->read_only) {
        lock_existed = fstatat(s->dirfd, S_LOCK_NAME, &st, 0) == 0;
    }

    /* 4. The real environment. */
    mrc = mdb_env_create(&s->env);
    if (mrc == 0) {
        mrc = mdb_env_set_maxdbs(s->env, TM_DB_COUNT);
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    s->verifier_alone = verifier && probe;
    unsigned flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0) |
                     (s->verifier_alone ? MDB_NOLOCK : 0);
    mrc = mdb_env_open(s->env, dir, flags, 0600);
    if (mrc != 0) {
        rc = s_err_open(mrc);
        s_why(why, whylen, "LMDB cannot open the data file: %s",
              mdb_strerror(mrc));
        goto done;
    }
    if (!lock_existed && fchmodat(s->dirfd, S_LOCK_NAME, 0600, 0) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    rc = s_check_size(s->env, why, whylen);
    if (rc != 0) {
        goto done;
    }
    mrc = mdb_env_info(s->env, &info);
    if (mrc == 0 && !s->read_only && info.me_mapsize < o.map_size) {
        mrc = mdb_env_set_mapsize(s->env, o.map_size);
    }
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    if (info.me_mapsize > s->map_max) {
        s->map_max = info.me_mapsize; /* never shrink a grown store */
    }
    rc = s_open_dbs(s);
    if (rc == TM_ERR_STORE_CORRUPT) {
        s_why(why, whylen,
              "meta database: format marker or audit_next is invalid");
    }
    if (rc == 0 && !s->read_only && atomic_load(&s->version) < 2) {
        rc = s_migrate(s);
    }
    if (rc != 0) {
        goto done;
    }
    if (s->read_only && probe && !verifier) {
        flock(s->dirfd, LOCK_UN); /* readers do not keep writers out */
    }
    if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if (pthread_mutex_init(&s->fail_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->write_lock);
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if (pthread_rwlock_init(&s->map_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->fail_lock);
        pthread_mutex_destroy(&s->write_lock);
        rc = TM_ERR_NOMEM;
        goto done;
    }
    s->locks_ready = 1;
    if (!s->read_only && !verifier) {
        /* Room for kills and unlinks on a full disk (when there is room
         * for it now; a later commit tries again). */
        atomic_store(&s->reserve, tmi_store_reserve_make(s->dirfd) == 0);
    }
    *out = s;
    s = NULL;
done:
    tm_store_close(&s);
    return rc;
}

int tm_store_open(tm_store_t **out, const char *dir,
                  const tm_store_opts_t *opts)
{
    return s_open(out, dir, opts, 0, NULL, 0);
}

void tm_store_close(tm_store_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_store_t *s = *p;
    *p = NULL;
    if (s->env != NULL) {
        mdb_env_close(s->env);
    }
    if (s->locks_ready) {
        pthread_rwlock_destroy(&s->map_lock);
        pthread_mutex_destroy(&s->fail_lock);
        pthread_mutex_destroy(&s->write_lock);
    }
    if (s->registered) {
        s_unregister(s);
    }
    if (s->dirfd >= 0) {
        close(s->dirfd); /* releases the flock */
    }
    free(s);
}

const char *tm_store_db_name(tm_store_db_t db)
{
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        return "unknown";
    }
    return s_db_names[db];
}

/* ---- transactions under map_lock
 * ---------------------------------------------- */

static void s_read_lock(tm_store_t *s)
{
    pthread_rwlock_rdlock(&s->map_lock);
    s_read_depth++;
}

static void s_read_unlock(tm_store_t *s)
{
    s_read_depth--;
    pthread_rwlock_unlock(&s->map_lock);
}

/* Begin a transaction; the caller holds map_lock for reading. Another
 * process (a writer, seen by a read-only store) may have grown the map:
 * adopt its size, unless this thread holds further read locks. */
static int s_txn_begin(tm_store_t *s, unsigned flags, MDB_txn **txn)
{
    int mrc = EIO;
    for (int tries = 0; !s->failed; tries++) {
        mrc = mdb_txn_begin(s->env, NULL, flags, txn);
        if (mrc != MDB_MAP_RESIZED || s_read_depth > 1 || tries == 3) {
            break;
        }
        pthread_rwlock_unlock(&s->map_lock);
        pthread_rwlock_wrlock(&s->map_lock);
        mrc = mdb_env_set_mapsize(s->env, 0);
        if (mrc != 0) {
            s->failed = 1;
        }
        pthread_rwlock_unlock(&s->map_lock);
        pthread_rwlock_rdlock(&s->map_lock);
        if (mrc != 0) {
            break;
        }
    }
    return mrc;
}

/* Double the map (up to map_max). Caller holds write_lock, not map_lock. */
static int s_grow(tm_store_t *s)
{
    int rc = 0;
    MDB_envinfo info;
    pthread_rwlock_wrlock(&s->map_lock);
    int mrc = mdb_env_info(s->env, &info);
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    if (info.me_mapsize >= s->map_max) {
        rc = TM_ERR_STORE_FULL;
        goto done;
    }
    size_t next =
        info.me_mapsize > s->map_max / 2 ? s->map_max : info.me_mapsize * 2;
    mrc = mdb_env_set_mapsize(s->env, next);
    if (mrc != 0) {
        /* LMDB unmapped the old map and could not map the new one. */
        s->failed = 1;
        rc = s_err(mrc);
        goto done;
    }
    atomic_fetch_add(&s->grows, 1);
done:
    pthread_rwlock_unlock(&s->map_lock);
    return rc;
}

/* ---- batches
 * ------------------------------------------------------------------ */

tm_store_batch_t *tm_store_batch_new(tm_store_t *store)
{
    assert(store != NULL);
    tm_store_batch_t *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->store = store;
    }
    return b;
}

void tm_store_batch_destroy(tm_store_batch_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    free((*p)->ops);
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

size_t tm_store_batch_size(const tm_store_batch_t *b)
{
    assert(b != NULL);
    return b->nops;
}

static void s_batch_reset(tm_store_batch_t *b)
{
    b->frees = false;
    b->tag = 0;
    b->nops = 0;
    b->buf_len = 0;
    if (b->buf_cap > S_KEEP_BYTES) {
        free(b->buf);
        b->buf = NULL;
        b->buf_cap = 0;
    }
    if (b->ops_cap * sizeof(s_op_t) > S_KEEP_BYTES) {
        free(b->ops);
        b->ops = NULL;
        b->ops_cap = 0;
    }
}

/* Append an operation, copying key and value. */
static int s_batch_add(tm_store_batch_t *b, s_op_kind_t kind, tm_store_db_t db,
                       const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    int rc = 0;
    if (b->nops == b->ops_cap) {
        size_t cap = b->ops_cap ? b->ops_cap * 2 : 64;
        s_op_t *ops = realloc(b->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        b->ops = ops;
        b->ops_cap = cap;
    }
    if (klen > SIZE_MAX - vlen || klen + vlen > SIZE_MAX - b->buf_len) {
        rc = TM_ERR_TOO_BIG;
        goto done;
    }
    size_t need = b->buf_len + klen + vlen;
    if (need > b->buf_cap) {
        size_t cap = b->buf_cap ? b->buf_cap : 4096;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        unsigned char *buf = realloc(b->buf, cap);
        if (buf == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        b->buf = buf;
        b->buf_cap = cap;
    }
    s_op_t *op = &b->ops[b->nops];
    memset(op, 0, sizeof(*op));
    op->kind = (unsigned char)kind;
    op->db = (unsigned char)db;
    op->seq = b->nops;
    op->koff = b->buf_len;
    op->klen = klen;
    if (klen > 0) {
        memcpy(b->buf + b->buf_len, key, klen);
    }
    op->voff = b->buf_len + klen;
    op->vlen = vlen;
    if (vlen > 0) {
        memcpy(b->buf + op->voff, val, vlen);
    }
    b->buf_len = need;
    b->nops++;
done:
    return rc;
}

static int s_is_reserved(tm_store_db_t db, const void *key, size_t klen)
{
    if (db != TM_DB_META) {
        return 0;
    }
    return (klen == sizeof(s_key_format) - 1 &&
            memcmp(key, s_key_format, klen) == 0) ||
           (klen == sizeof(s_key_audit_next) - 1 &&
            memcmp(key, s_key_audit_next, klen) == 0);
}

static int s_check_key(tm_store_db_t db, const void *key, size_t klen)
{
    if ((int)db < 0 || db >= TM_DB_COUNT || key == NULL || klen == 0 ||
        klen > S_MAX_KEY || s_is_reserved(db, key, klen)) {
        return TM_ERR_INVAL;
    }
    return 0;
}

int tm_store_batch_put(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen, const void *val, size_t vlen)
{
    assert(b != NULL);
    int rc = s_check_key(db, key, klen);
    if (rc == 0 && (db == TM_DB_AUDIT || (val == NULL && vlen > 0))) {
        rc = TM_ERR_INVAL;
    }
    if (rc == 0) {
        rc = s_batch_add(b, S_OP_PUT, db, key, klen, val, vlen);
    }
    return rc;
}

int tm_store_batch_del(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen)
{
    assert(b != NULL);
    int rc = s_check_key(db, key, klen);
    if (rc == 0) {
        rc = s_batch_add(b, S_OP_DEL, db, key, klen, NULL, 0);
    }
    return rc;
}

int tm_store_batch_clear(tm_store_batch_t *b, tm_store_db_t db)
{
    assert(b != NULL);
    int rc = TM_ERR_INVAL;
    if ((int)db >= 0 && db < TM_DB_COUNT) {
        rc = s_batch_add(b, S_OP_CLEAR, db, NULL, 0, NULL, 0);
    }
    return rc;
}

int tm_store_batch_audit(tm_store_batch_t *b, const void *val, size_t vlen)
{
    assert(b != NULL);
    int rc = TM_ERR_INVAL;
    if (val != NULL || vlen == 0) {
        rc = s_batch_add(b, S_OP_AUDIT, TM_DB_AUDIT, NULL, 0, val, vlen);
    }
    return rc;
}

/* Key bytes of an operation; audit keys live inside the operation, which
 * qsort moves, so they are never referenced through a stored pointer. */
static const unsigned char *s_op_key(const s_op_t *op)
{
    return op->kind == S_OP_AUDIT ? op->akey : op->k;
}

/* Order: database, key bytes (LMDB's default order), then insertion. */
static int s_op_cmp(const void *pa, const void *pb)
{
    const s_op_t *a = pa;
    const s_op_t *b = pb;
    if (a->db != b->db) {
        return a->db < b->db ? -1 : 1;
    }
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n > 0 ? memcmp(s_op_key(a), s_op_key(b), n) : 0;
    if (c != 0) {
        return c;
    }
    if (a->klen != b->klen) {
        return a->klen < b->klen ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static int s_same_key(const s_op_t *a, const s_op_t *b)
{
    return a->db == b->db && a->klen == b->klen &&
           memcmp(s_op_key(a), s_op_key(b), a->klen) == 0;
}

/* Resolve pointers, number the audit records from `next`, sort. */
static size_t s_batch_prepare(tm_store_batch_t *b, uint64_t next)
{
    size_t naudit = 0;
    for (size_t i = 0; i < b->nops; i++) {
        s_op_t *op = &b->ops[i];
        op->v = b->buf + op->voff;
        if (op->kind == S_OP_AUDIT) {
            s_be64(op->akey, next + naudit);
            naudit++;
            op->klen = 8;
        } else {
            op->k = b->buf + op->koff;
        }
    }
    qsort(b->ops, b->nops, sizeof(s_op_t), s_op_cmp);
    return naudit;
}

/* One attempt: the whole batch in one write transaction. Returns an LMDB
 * code (MDB_MAP_FULL asks for growth and a replay). Caller holds
 * write_lock. */
static int s_batch_apply(tm_store_batch_t *b, uint64_t audit_next,
                         size_t naudit)
{
    tm_store_t *s = b->store;
    MDB_txn *txn = NULL;
    unsigned cleared = 0;
    int tagged = atomic_load(&s->version) >= 2;
    int mrc;

    s_read_lock(s);
    mrc = s_txn_begin(s, 0, &txn);
    if (mrc != 0) {
        txn = NULL;
        goto done;
    }
    for (size_t i = 0; i < b->nops && mrc == 0; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR && !(cleared & (1u << op->db))) {
            cleared |= 1u << op->db;
            mrc = mdb_drop(txn, s->dbi[op->db], 0);
            if (mrc == 0 && op->db == TM_DB_META) {
                mrc = s_put_marker(txn, s->dbi[TM_DB_META],
                                   atomic_load(&s->version));
            }
        }
    }
    for (size_t i = 0; i < b->nops && mrc == 0; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR ||
            (i + 1 < b->nops && s_same_key(op, &b->ops[i + 1]))) {
            continue; /* a later operation on this key wins */
        }
        MDB_val k = {op->klen, (void *)s_op_key(op)};
        if (op->kind == S_OP_DEL) {
            mrc = mdb_del(txn, s->dbi[op->db], &k, NULL);
            if (mrc == MDB_NOTFOUND) {
                mrc = 0;
            }
        } else {
            mrc = s_put_tagged(txn, s->dbi[op->db], op->db, tagged, &k, op->v,
                               op->vlen,
                               op->kind == S_OP_AUDIT ? MDB_NOOVERWRITE : 0);
            if (mrc == MDB_KEYEXIST) {
                mrc = MDB_CORRUPTED; /* an audit number was reused */
            }
        }
    }
    if (mrc == 0 && (naudit > 0 || (cleared & (1u << TM_DB_META)))) {
        unsigned char nb[8];
        MDB_val k = {sizeof(s_key_audit_next) - 1, (void *)s_key_audit_next};
        s_be64(nb, audit_next + naudit);
        mrc = s_put_tagged(txn, s->dbi[TM_DB_META], TM_DB_META, tagged, &k, nb,
                           sizeof(nb), 0);
    }
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn); /* the txn is freed either way */
        txn = NULL;
    }
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    s_read_unlock(s);
    return mrc;
}

/* Bytes a batch writes at least: its keys and values with their tags and
 * LMDB's record headers, in whole pages, plus the page every commit
 * copies (branches and the free list come on top). */
static uint64_t s_batch_need(const tm_store_batch_t *b)
{
    MDB_stat st;
    uint64_t need = 0;
    uint64_t psize = mdb_env_stat(b->store->env, &st) == 0 ? st.ms_psize : 4096;
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_PUT || op->kind == S_OP_AUDIT) {
            need += op->klen + op->vlen + S_TAG_LEN + S_NODE_BYTES;
        }
    }
    return (need + psize - 1) / psize * psize + psize;
}

static void s_set_failure(tm_store_t *s, int rc, uint64_t need, uint64_t avail)
{
    pthread_mutex_lock(&s->fail_lock);
    s->failure.error = rc;
    s->failure.need_bytes = need;
    s->failure.free_bytes = avail;
    pthread_mutex_unlock(&s->fail_lock);
}

/* Record a failed commit. Returns the error to report: LMDB reports a
 * write cut short by a full disk as EIO, and a map that is full while the
 * file system has no room for the batch either is a full disk too; so
 * after either, a file system without room for the batch means NOSPACE.
 * Caller holds write_lock. */
static int s_commit_failed(tm_store_batch_t *b, int rc)
{
    tm_store_t *s = b->store;
    uint64_t need = 0, avail = 0;
    if (rc == TM_ERR_NOSPACE || rc == TM_ERR_STORE_FULL || rc == TM_ERR_IO) {
        need = s_batch_need(b);
        avail = s_free_bytes(s->dirfd);
        if (rc != TM_ERR_NOSPACE && avail < need) {
            rc = TM_ERR_NOSPACE;
        }
        if (rc == TM_ERR_IO) {
            need = avail = 0;
        }
    }
    s_set_failure(s, rc, need, avail);
    return rc;
}

void tm_store_last_failure(tm_store_t *store, tm_store_failure_t *out)
{
    assert(store != NULL && out != NULL);
    pthread_mutex_lock(&store->fail_lock);
    *out = store->failure;
    pthread_mutex_unlock(&store->fail_lock);
}

/* Apply b in one transaction, growing the map as often as it fills.
 * Caller holds write_lock. */
static int s_batch_commit_grow(tm_store_batch_t *b, size_t naudit)
{
    for (;;) {
        int mrc = s_batch_apply(b, b->store->audit_next, naudit);
        if (mrc != MDB_MAP_FULL) {
            return s_err(mrc);
        }
        int rc = s_grow(b->store);
        if (rc != 0) {
            return rc;
        }
    }
}

void tm_store_batch_frees(tm_store_batch_t *b)
{
    b->frees = true;
}

int tm_store_batch_commit(tm_store_batch_t *b)
{
    assert(b != NULL);
    tm_store_t *s = b->store;
    int rc = 0;
    int locked = 0;

    if (b->nops == 0) {
        goto done;
    }
    if (s->read_only) {
        rc = TM_ERR_PERM;
        goto done;
    }
    if (s_read_depth > 0) {
        rc = TM_ERR_BUSY; /* called from a foreach callback */
        goto done;
    }
    pthread_mutex_lock(&s->write_lock);
    locked = 1;
    size_t naudit = s_batch_prepare(b, s->audit_next);
    rc = s_batch_commit_grow(b, naudit);
    if (rc != 0) {
        rc = s_commit_failed(b, rc);
    }
    if (rc == TM_ERR_NOSPACE && b->frees &&
        tmi_store_reserve_release(s->dirfd) == 0) {
        /* A full disk: a change that frees space may take the reserve. */
        atomic_store(&s->reserve, false);
        atomic_fetch_add(&s->reserve_used, 1);
        rc = s_batch_commit_grow(b, naudit);
        if (rc != 0) {
            rc = s_commit_failed(b, rc);
        }
    }
    if (rc == 0) {
        s->audit_next += naudit;
        atomic_fetch_add(&s->commits, 1);
        if (s->hook != NULL) {
            s->hook(s->hook_arg, b);
        }
        if (!atomic_load(&s->reserve) &&
            tmi_store_reserve_make(s->dirfd) == 0) {
            atomic_store(&s->reserve, true); /* room again */
        }
    }
done:
    if (locked) {
        pthread_mutex_unlock(&s->write_lock);
    }
    s_batch_reset(b);
    return rc;
}

void tm_store_on_commit(tm_store_t *store, tm_store_hook_fn fn, void *arg)
{
    pthread_mutex_lock(&store->write_lock);
    store->hook = fn;
    store->hook_arg = arg;
    pthread_mutex_unlock(&store->write_lock);
}

void tm_store_batch_tag(tm_store_batch_t *b, unsigned tag)
{
    b->tag = tag;
}

unsigned tm_store_batch_get_tag(const tm_store_batch_t *b)
{
    return b->tag;
}

int tm_store_batch_ops(const tm_store_batch_t *b, tm_store_op_fn fn, void *arg)
{
    unsigned cleared = 0;
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR && !(cleared & (1u << op->db))) {
            cleared |= 1u << op->db;
            tm_store_op_t o = {.db = (tm_store_db_t)op->db,
                               .kind = TM_STORE_OP_CLEAR};
            int rc = fn(arg, &o);
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR || op->kind == S_OP_AUDIT ||
            (i + 1 < b->nops && s_same_key(op, &b->ops[i + 1]))) {
            continue; /* a later operation on this key wins */
        }
        tm_store_op_t o = {.db = (tm_store_db_t)op->db,
                           .kind = op->kind == S_OP_DEL ? TM_STORE_OP_DEL
                                                        : TM_STORE_OP_PUT,
                           .key = op->k,
                           .klen = op->klen,
                           .val = op->kind == S_OP_DEL ? NULL : op->v,
                           .vlen = op->kind == S_OP_DEL ? 0 : op->vlen};
        int rc = fn(arg, &o);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- reads
 * -------------------------------------------------------------------- */

/* Do the values seen through txn carry tags? A read-only store opened in
 * format 1 may since have been upgraded by its writer: look again. */
static int s_txn_tagged(tm_store_t *s, MDB_txn *txn)
{
    uint32_t v = atomic_load(&s->version);
    if (v < 2 && s->read_only) {
        uint32_t now = 0;
        if (s_check_marker(txn, &now) == 0 && now > v) {
            atomic_store(&s->version, now);
            v = now;
        }
    }
    return v >= 2;
}

int tm_store_get(tm_store_t *store, tm_store_db_t db, const void *key,
                 size_t klen, void **val, size_t *vlen)
{
    assert(store != NULL && val != NULL && vlen != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_val k = {klen, (void *)key};
    MDB_val v;
    int mrc;
    int locked = 0;
    *val = NULL;
    *vlen = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT || key == NULL || klen == 0 ||
        klen > S_MAX_KEY) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    s_read_lock(store);
    locked = 1;
    mrc = s_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
        rc = s_err(mrc);
        goto done;
    }
    mrc = mdb_get(txn, store->dbi[db], &k, &v);
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    rc = s_untag(s_txn_tagged(store, txn), db, &k, &v);
    if (rc != 0) {
        goto done;
    }
    *val = malloc(v.mv_size > 0 ? v.mv_size : 1);
    if (*val == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if (v.mv_size > 0) {
        memcpy(*val, v.mv_data, v.mv_size);
    }
    *vlen = v.mv_size;
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (locked) {
        s_read_unlock(store);
    }
    return rc;
}

int tm_store_foreach(tm_store_t *store, tm_store_db_t db,
                     int (*cb)(const void *key, size_t klen, const void *val,
                               size_t vlen, void *arg),
                     void *arg)
{
    assert(store != NULL && cb != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int mrc = 0;
    int locked = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    s_read_lock(store);
    locked = 1;
    mrc = s_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
        goto done;
    }
    mrc = mdb_cursor_open(txn, store->dbi[db], &cur);
    if (mrc != 0) {
        goto done;
    }
    int tagged = s_txn_tagged(store, txn);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = s_untag(tagged, db, &k, &v);
        if (rc == 0) {
            rc = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
        }
        if (rc != 0) {
            break;
        }
    }
    if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
done:
    if (rc == 0 && mrc != 0) {
        rc = s_err(mrc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (locked) {
        s_read_unlock(store);
    }
    return rc;
}

int tm_store_count(tm_store_t *store, tm_store_db_t db, size_t *count)
{
    assert(store != NULL && count != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_stat st;
    int mrc;
    *count = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    s_read_lock(store);
    mrc = s_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
    } else {
        mrc = mdb_stat(txn, store->dbi[db], &st);
        mdb_txn_abort(txn);
    }
    s_read_unlock(store);
    if (mrc == 0) {
        *count = st.ms_entries;
    } else {
        rc = s_err(mrc);
    }
done:
    return rc;
}

void tm_store_stats(tm_store_t *store, tm_store_stats_t *out)
{
    assert(store != NULL && out != NULL);
    MDB_envinfo info;
    MDB_txn *txn = NULL;
    MDB_stat st;
    memset(out, 0, sizeof(*out));
    out->commits = atomic_load(&store->commits);
    out->grows = atomic_load(&store->grows);
    out->reserve_bytes =
        atomic_load(&store->reserve) ? TMI_STORE_RESERVE_BYTES : 0;
    out->reserve_used = atomic_load(&store->reserve_used);
    s_read_lock(store);
    if (store->failed || mdb_env_info(store->env, &info) != 0) {
        goto done;
    }
    out->map_size = info.me_mapsize;
    if (s_txn_begin(store, MDB_RDONLY, &txn) != 0) {
        txn = NULL;
        goto done;
    }
    /* In use: the two meta pages plus the pages of the free list, the main
     * database (which names the others) and every named database. */
    uint64_t pages = 2;
    size_t psize = 0;
    MDB_dbi all[2 + TM_DB_COUNT];
    all[0] = 0; /* LMDB's free-page database */
    all[1] = 1; /* LMDB's main database */
    for (int i = 0; i < TM_DB_COUNT; i++) {
        all[2 + i] = store->dbi[i];
    }
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (mdb_stat(txn, all[i], &st) == 0) {
            psize = st.ms_psize;
            pages +=
                st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        }
    }
    out->used_bytes = (size_t)(pages * psize);
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    s_read_unlock(store);
}

/* ---- verification ------------------------------------------------------
 */

/* The report shared with the verifier child (MAP_SHARED): the child keeps
 * its progress (database, last sound key) and its result there, so the
 * parent can still say where it was if it crashed. */
typedef struct {
    tm_store_verify_t r;
    int rc;   /* the child's result, valid once done */
    int done; /* the child finished */
} s_vshm_t;

typedef struct {
    MDB_txn *txn;
    tm_store_verify_t *r;
    const tm_store_verify_opts_t *o;
    uint64_t last_pgno;
    uint64_t max_records; /* more records than the file can hold */
    uint64_t used_pages;  /* pages the databases' headers claim */
    uint64_t audit_next;  /* from meta; 0 if absent */
    int tagged;
} s_walk_t;

static int s_damage(tm_store_verify_t *r, int lmdb_error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record what is wrong (where is already in r). Returns
 * TM_ERR_STORE_CORRUPT. */
static int s_damage(tm_store_verify_t *r, int lmdb_error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->lmdb_error = lmdb_error;
    return TM_ERR_STORE_CORRUPT;
}

static int s_damage_lmdb(tm_store_verify_t *r, const char *what, int mrc)
{
    return s_damage(r, mrc, "%s: LMDB: %s", what, mdb_strerror(mrc));
}

/* The records LMDB keeps for itself in the free list: key = transaction
 * id, value = count followed by that many page numbers. */
static int s_walk_free(s_walk_t *w, uint64_t *free_pages)
{
    tm_store_verify_t *r = w->r;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = 0;
    int rc = 0;
    int mrc = mdb_stat(w->txn, 0, &st); /* 0: LMDB's free-page database */
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, 0, &cur);
    }
    if (mrc != 0) {
        rc = s_damage_lmdb(r, "free list", mrc);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t cnt = 0;
        if (++n > st.ms_entries) {
            rc = s_damage(r, 0,
                          "free list: more records than its header "
                          "counts (%zu)",
                          (size_t)st.ms_entries);
            goto done;
        }
        if (k.mv_size != sizeof(size_t) || v.mv_size < sizeof(size_t) ||
            v.mv_size % sizeof(size_t) != 0) {
            rc = s_damage(r, 0, "free list: malformed record");
            goto done;
        }
        memcpy(&cnt, v.mv_data, sizeof(cnt));
        if (cnt != v.mv_size / sizeof(size_t) - 1) {
            rc = s_damage(r, 0,
                          "free list: record counts %zu pages in %zu "
                          "bytes",
                          cnt, (size_t)v.mv_size);
            goto done;
        }
        for (size_t i = 1; i <= cnt; i++) {
            size_t pg = 0;
            memcpy(&pg, (const unsigned char *)v.mv_data + i * sizeof(pg),
                   sizeof(pg));
            if (pg < 2 || pg > w->last_pgno) {
                rc = s_damage(r, 0,
                              "free list: names page %zu, outside the "
                              "file's pages 2..%llu",
                              pg, (unsigned long long)w->last_pgno);
                goto done;
            }
        }
        *free_pages += cnt;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = s_damage_lmdb(r, "free list", mrc);
    } else if (n != st.ms_entries) {
        rc = s_damage(r, 0, "free list: %zu records, its header counts %zu",
                      (size_t)n, (size_t)st.ms_entries);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* LMDB's main database names the others: only ours may be there. */
static int s_walk_main(s_walk_t *w)
{
    tm_store_verify_t *r = w->r;
    MDB_dbi main_dbi;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0;
    int mrc = mdb_dbi_open(w->txn, NULL, 0, &main_dbi);
    if (mrc == 0) {
        mrc = mdb_stat(w->txn, main_dbi, &st);
    }
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, main_dbi, &cur);
    }
    if (mrc != 0) {
        rc = s_damage_lmdb(r, "main database", mrc);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int known = 0;
        for (int i = 0; i < TM_DB_COUNT; i++) {
            known |= k.mv_size == strlen(s_db_names[i]) &&
                     memcmp(k.mv_data, s_db_names[i], k.mv_size) == 0;
        }
        if (!known) {
            rc = s_damage(r, 0,
                          "main database: names an unknown database "
                          "(%zu bytes)",
                          (size_t)k.mv_size);
            goto done;
        }
    }
    if (mrc != MDB_NOTFOUND) {
        rc = s_damage_lmdb(r, "main database", mrc);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* Bytewise with a shorter key first: LMDB's default order. */
static int s_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static void s_walk_key(tm_store_verify_t *r, const MDB_val *k, int after)
{
    r->klen = k->mv_size < sizeof(r->key) ? k->mv_size : sizeof(r->key);
    memcpy(r->key, k->mv_data, r->klen);
    r->have_key = 1;
    r->key_after = after;
}

/* One record of one of our databases; the key is already known to be in
 * order. Returns 0 or TM_ERR_STORE_CORRUPT. */
static int s_walk_record(s_walk_t *w, int db, const MDB_val *k, MDB_val *v)
{
    tm_store_verify_t *r = w->r;
    if (s_is_marker(db, k)) {
        return 0; /* checked when the store was opened */
    }
    if (s_untag(w->tagged, db, k, v) != 0) {
        return s_damage(r, 0, "checksum does not match");
    }
    if (db == TM_DB_META && k->mv_size == sizeof(s_key_audit_next) - 1 &&
        memcmp(k->mv_data, s_key_audit_next, k->mv_size) == 0) {
        if (v->mv_size != 8) {
            return s_damage(r, 0, "audit_next is %zu bytes, not 8",
                            (size_t)v->mv_size);
        }
        w->audit_next = s_get_be64(v->mv_data);
        return 0;
    }
    if (db == TM_DB_AUDIT) {
        uint64_t seq = k->mv_size == 8 ? s_get_be64(k->mv_data) : 0;
        if (seq == 0) {
            return s_damage(r, 0, "audit key is not a sequence number");
        }
        if (w->audit_next != 0 && seq >= w->audit_next) {
            return s_damage(
                r, 0, "audit record %llu at or beyond audit_next %llu",
                (unsigned long long)seq, (unsigned long long)w->audit_next);
        }
    }
    if (w->o->check != NULL) {
        char why[TM_STORE_WHY_MAX];
        why[0] = '\0';
        int rc =
            w->o->check((tm_store_db_t)db, k->mv_data, k->mv_size, v->mv_data,
                        v->mv_size, why, sizeof(why), w->o->arg);
        if (rc != 0) {
            return s_damage(r, 0, "%s", why[0] ? why : tm_err_str(rc));
        }
    }
    return 0;
}

/* Every record of one of our databases, in key order. */
static int s_walk_db(s_walk_t *w, MDB_dbi dbi, int db)
{
    tm_store_verify_t *r = w->r;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = 0;
    int rc = 0;
    r->db = db;
    r->have_key = 0;
    r->key_after = 0;
    int mrc = mdb_stat(w->txn, dbi, &st);
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, dbi, &cur);
    }
    if (mrc != 0) {
        rc = s_damage_lmdb(r, "header", mrc);
        goto done;
    }
    if (st.ms_entries > w->max_records) {
        rc = s_damage(r, 0,
                      "header counts %zu records, more than the file "
                      "can hold",
                      (size_t)st.ms_entries);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (++n > st.ms_entries) {
            rc = s_damage(r, 0, "more records than its header counts (%zu)",
                          (size_t)st.ms_entries);
            goto done;
        }
        if (k.mv_size == 0 || k.mv_size > S_MAX_KEY) {
            rc = s_damage(r, 0, "a key of %zu bytes", (size_t)k.mv_size);
            goto done;
        }
        if (r->have_key &&
            s_key_cmp(r->key, r->klen, k.mv_data, k.mv_size) >= 0) {
            rc = s_damage(r, 0, "next key is not in ascending order");
            goto done;
        }
        s_walk_key(r, &k, 0);
        rc = s_walk_record(w, db, &k, &v);
        if (rc != 0) {
            goto done;
        }
        r->key_after = 1; /* this one is sound */
    }
    if (mrc != MDB_NOTFOUND) {
        rc = s_damage_lmdb(r, "reading the next record", mrc);
    } else if (n != st.ms_entries) {
        rc = s_damage(r, 0, "%zu records, its header counts %zu", (size_t)n,
                      (size_t)st.ms_entries);
    } else {
        r->records[db] = n;
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* The whole walk, in the child, in one read transaction. */
static int s_walk(tm_store_t *s, const tm_store_verify_opts_t *o,
                  tm_store_verify_t *r)
{
    s_walk_t w;
    MDB_envinfo info;
    MDB_stat est;
    uint64_t free_pages = 0;
    int rc = 0;
    memset(&w, 0, sizeof(w));
    w.r = r;
    w.o = o;
    int mrc = mdb_env_info(s->env, &info);
    if (mrc == 0) {
        mrc = mdb_env_stat(s->env, &est);
    }
    if (mrc == 0) {
        mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &w.txn);
    }
    if (mrc != 0) {
        w.txn = NULL;
        rc = s_damage_lmdb(r, "data file", mrc);
        goto done;
    }
    w.last_pgno = info.me_last_pgno;
    /* The smallest record takes a few bytes of a page. */
    w.max_records = (w.last_pgno + 1) * (est.ms_psize / 8 + 1);
    w.tagged = s_txn_tagged(s, w.txn);
    r->format = atomic_load(&s->version);
    r->checksums = w.tagged;
    r->pages = w.last_pgno + 1;
    rc = s_walk_free(&w, &free_pages);
    if (rc == 0) {
        rc = s_walk_main(&w);
    }
    for (int db = 0; rc == 0 && db < TM_DB_COUNT; db++) {
        rc = s_walk_db(&w, s->dbi[db], db);
    }
    if (rc != 0) {
        goto done;
    }
    r->db = -1;
    r->have_key = 0;
    r->free_pages = free_pages;
    /* Every page is in use by a database or free. Checked only when no
     * writer holds the store: with one, the file may have grown past this
     * transaction's snapshot. */
    if (s->verifier_alone && w.used_pages + free_pages + 2 != w.last_pgno + 1) {
        rc = s_damage(r, 0,
                      "page accounting: %llu pages in use and %llu free "
                      "(+ 2 meta pages) but %llu pages in the file",
                      (unsigned long long)w.used_pages,
                      (unsigned long long)free_pages,
                      (unsigned long long)w.last_pgno + 1);
    }
done:
    if (w.txn != NULL) {
        mdb_txn_abort(w.txn);
    }
    return rc;
}

static void s_verify_child(const char *dir, const tm_store_verify_opts_t *o,
                           s_vshm_t *sh)
{
    static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                               SIGCHLD, SIGSEGV, SIGBUS,  SIGABRT,
                               SIGFPE,  SIGILL,  SIGTRAP, SIGSYS};
    sigset_t all;
    tm_store_t *s = NULL;
    tm_store_opts_t ro = {0, 0, 0, 1};
    /* The parent's handlers must not run here: libev's would wake the
     * parent's loop, and a crash handler (a test framework's, a
     * sanitizer's) could carry on with the parent's work in the child. A
     * crash on a damaged page must simply end the child, by its signal;
     * and a signal the parent blocked must still end it. */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int rc = s_open(&s, dir, &ro, 1, sh->r.why, sizeof(sh->r.why));
    if (rc == 0) {
        rc = s_walk(s, o, &sh->r);
    }
    tm_store_close(&s);
    sh->rc = rc;
    sh->done = 1;
}

static const char *s_signame(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGABRT:
        return "SIGABRT";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    default:
        return "a signal";
    }
}

int tm_store_verify(const char *dir, const tm_store_verify_opts_t *opts,
                    tm_store_verify_t *out)
{
    static const tm_store_verify_opts_t none = {NULL, NULL};
    int rc = 0;
    int status = 0;
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->db = -1;
    if (dir == NULL || dir[0] == '\0') {
        return TM_ERR_INVAL;
    }
    s_vshm_t *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        return TM_ERR_NOMEM;
    }
    memset(sh, 0, sizeof(*sh));
    sh->r.db = -1;
    pid_t pid = fork();
    if (pid < 0) {
        rc = errno == ENOMEM ? TM_ERR_NOMEM : TM_ERR_BUSY;
        goto done;
    }
    if (pid == 0) {
        s_verify_child(dir, opts != NULL ? opts : &none, sh);
        _exit(0); /* no atexit handlers, no stdio flush of the parent's */
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1; /* reaped elsewhere: only sh->done tells */
            break;
        }
    }
    *out = sh->r;
    if (sh->done) {
        rc = sh->rc;
        goto done;
    }
    rc = TM_ERR_STORE_CORRUPT;
    out->lmdb_error = 0;
    if (status != -1 && WIFSIGNALED(status)) {
        out->signal = WTERMSIG(status);
        snprintf(out->why, sizeof(out->why),
                 "the check was killed by %s (signal %d) while reading the "
                 "store",
                 s_signame(out->signal), out->signal);
    } else if (status != -1 && WIFEXITED(status)) {
        snprintf(out->why, sizeof(out->why),
                 "the check ended without a result (exit status %d) while "
                 "reading the store",
                 WEXITSTATUS(status));
    } else {
        snprintf(out->why, sizeof(out->why),
                 "the check ended without a result while reading the store");
    }
done:
    munmap(sh, sizeof(*sh));
    return rc;
}

/* A key for a message: printable bytes as they are, an audit key as its
 * sequence number, anything else in hex. */
static void s_key_text(const tm_store_verify_t *v, char *buf, size_t cap)
{
    int printable = v->klen > 0;
    for (size_t i = 0; i < v->klen; i++) {
        printable &= v->key[i] >= 0x20 && v->key[i] < 0x7f && v->key[i] != '\'';
    }
    if (v->db == TM_DB_AUDIT && v->klen == 8) {
        snprintf(buf, cap, "#%llu", (unsigned long long)s_get_be64(v->key));
    } else if (printable) {
        snprintf(buf, cap, "'%.*s%s'", (int)(v->klen > 80 ? 80 : v->klen),
                 (const char *)v->key, v->klen > 80 ? "..." : "");
    } else {
        size_t n = 0;
        n += (size_t)snprintf(buf, cap, "0x");
        for (size_t i = 0; i < v->klen && i < 32 && n + 3 < cap; i++) {
            n += (size_t)snprintf(buf + n, cap - n, "%02x", v->key[i]);
        }
    }
}

void tm_store_verify_describe(const tm_store_verify_t *v, char *buf, size_t cap)
{
    char key[200];
    if (buf == NULL || cap == 0) {
        return;
    }
    const char *why = v->why[0] ? v->why : "damaged";
    if (v->db < 0 || v->db >= TM_DB_COUNT) {
        snprintf(buf, cap, "data file: %s", why);
        return;
    }
    if (!v->have_key) {
        snprintf(buf, cap, "database %s: %s", s_db_names[v->db], why);
        return;
    }
    s_key_text(v, key, sizeof(key));
    snprintf(buf, cap, "database %s, %s record %s: %s", s_db_names[v->db],
             v->key_after ? "after" : "at", key, why);
}

/* ---- backup --------------------------------------------------------------
 */

/* 1 if the directory holds nothing, 0 if it holds something, or an
 * error. */
static int s_dir_empty(int dirfd)
{
    int rc = 1;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        rc = s_err_errno(errno);
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    rewinddir(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = 0;
            break;
        }
    }
    closedir(d);
    return rc;
}

int tm_store_backup(tm_store_t *store, const char *dest,
                    const tm_store_verify_opts_t *vopts,
                    tm_store_verify_t *report)
{
    tm_store_verify_t local;
    struct stat st;
    int rc = 0, created = 0, renamed = 0;
    int dfd = -1, fd = -1;
    assert(store != NULL);
    if (report == NULL) {
        report = &local;
    }
    memset(report, 0, sizeof(*report));
    report->db = -1;
    if (dest == NULL || dest[0] == '\0') {
        rc = TM_ERR_INVAL;
        goto done;
    }
    if (stat(dest, &st) != 0) {
        if (errno != ENOENT) {
            rc = s_err_errno(errno);
            goto done;
        }
        rc = s_mkdirs(dest);
        if (rc != 0) {
            goto done;
        }
        created = 1;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = TM_ERR_EXISTS;
        goto done;
    }
    dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    /* No node may open the copy before it is complete and verified. */
    if (flock(dfd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? TM_ERR_STORE_LOCKED : s_err_errno(errno);
        goto done;
    }
    rc = s_dir_empty(dfd);
    if (rc <= 0) {
        rc = rc == 0 ? TM_ERR_EXISTS : rc;
        goto done;
    }
    rc = 0;
    fd = openat(dfd, S_NEW_NAME, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    s_read_lock(store);
    int mrc = store->failed ? MDB_PANIC
                            : mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT);
    s_read_unlock(store);
    if (mrc != 0) {
        rc = s_err(mrc);
        if (rc == TM_ERR_STORE_CORRUPT) {
            s_damage_lmdb(report, "copying", mrc);
        }
        goto done;
    }
    if (fsync(fd) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    close(fd);
    fd = -1;
    if (renameat(dfd, S_NEW_NAME, dfd, S_DATA_NAME) != 0 || fsync(dfd) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    renamed = 1;
    /* The verifier takes its own shared lock on the directory. */
    flock(dfd, LOCK_UN);
    rc = tm_store_verify(dest, vopts, report);
done:
    if (rc != 0) {
        uint64_t need = 0;
        if (rc == TM_ERR_NOSPACE || rc == TM_ERR_IO) {
            tm_store_stats_t sst;
            tm_store_stats(store, &sst);
            need = sst.used_bytes; /* about the size of a compacted copy */
            if (rc == TM_ERR_IO && s_free_bytes(dfd) < need) {
                rc = TM_ERR_NOSPACE; /* a write cut short reads as EIO */
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        if (dfd >= 0) {
            unlinkat(dfd, S_NEW_NAME, 0);
            if (renamed) {
                unlinkat(dfd, S_DATA_NAME, 0);
                unlinkat(dfd, S_LOCK_NAME, 0);
            }
        }
        /* Free space once the partial copy is gone: what the operator has. */
        s_set_failure(store, rc, rc == TM_ERR_NOSPACE ? need : 0,
                      rc == TM_ERR_NOSPACE ? s_free_bytes(dfd) : 0);
        if (created) {
            rmdir(dest);
        }
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return rc;
}
