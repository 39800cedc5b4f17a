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

#include "tm_err.h"

#include <lmdb.h> /* the storage engine */

#include <assert.h>
#include <dirent.h>    /* scanning the data directory */
#include <errno.h>     /* translating system errors */
#include <fcntl.h>     /* open, *at functions */
#include <pthread.h>   /* write_lock, map_lock, registry */
#include <stdatomic.h> /* lock-free statistics counters */
#include <stdio.h>     /* snprintf for paths */
#include <stdlib.h>    /* malloc, qsort */
#include <string.h>    /* memcmp, memcpy */
#include <sys/file.h>  /* flock */
#include <sys/stat.h>  /* modes, fstatat */
#include <unistd.h>    /* close, fsync */

#define S_MAX_KEY          TM_STORE_MAX_KEY
#define S_DEFAULT_MAP      ((size_t)64 << 20)  /* 64 MiB */
#define S_FORMAT_MAGIC     "twinmesh-store"    /* meta "format" value prefix */
#define S_FORMAT_MAGIC_LEN 14                  /* strlen(S_FORMAT_MAGIC) */
#define S_DATA_NAME        "data.mdb"          /* LMDB's data file */
#define S_LOCK_NAME        "lock.mdb"          /* LMDB's lock file */
#define S_NEW_NAME         "data.mdb.new"      /* store under construction */
#define S_NEW_LOCK_NAME    "data.mdb.new-lock" /* its LMDB lock file */
#define S_KEEP_BYTES       ((size_t)8 << 20) /* batch memory kept after commit */

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
    int read_only;
    int dirfd;  /* open on the data directory; holds the flock */
    int failed; /* a map resize failed: the environment is unusable */
    dev_t dev;  /* identity of the data directory (registry) */
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
        return TM_ERR_STORE_MISSING;
    case ENOSPC:
    case EDQUOT:
        return TM_ERR_IO;
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
            strcmp(n, S_NEW_LOCK_NAME) == 0) {
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

static void s_marker(unsigned char out[S_FORMAT_MAGIC_LEN + 4])
{
    uint32_t v = TM_STORE_FORMAT_VERSION;
    memcpy(out, S_FORMAT_MAGIC, S_FORMAT_MAGIC_LEN);
    out[S_FORMAT_MAGIC_LEN + 0] = (unsigned char)(v >> 24);
    out[S_FORMAT_MAGIC_LEN + 1] = (unsigned char)(v >> 16);
    out[S_FORMAT_MAGIC_LEN + 2] = (unsigned char)(v >> 8);
    out[S_FORMAT_MAGIC_LEN + 3] = (unsigned char)v;
}

static int s_put_marker(MDB_txn *txn, MDB_dbi meta)
{
    unsigned char m[S_FORMAT_MAGIC_LEN + 4];
    MDB_val k = {sizeof(s_key_format) - 1, (void *)s_key_format};
    MDB_val v = {sizeof(m), m};
    s_marker(m);
    return mdb_put(txn, meta, &k, &v, 0);
}

/* Check the marker through txn. Returns a tm_err_t. */
static int s_check_marker(MDB_txn *txn)
{
    int rc = 0;
    MDB_dbi meta;
    MDB_val k = {sizeof(s_key_format) - 1, (void *)s_key_format};
    MDB_val v;
    int mrc = mdb_dbi_open(txn, s_db_names[TM_DB_META], 0, &meta);
    if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
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
    uint32_t version = ((uint32_t)p[S_FORMAT_MAGIC_LEN] << 24) |
                       ((uint32_t)p[S_FORMAT_MAGIC_LEN + 1] << 16) |
                       ((uint32_t)p[S_FORMAT_MAGIC_LEN + 2] << 8) |
                       (uint32_t)p[S_FORMAT_MAGIC_LEN + 3];
    if (version == 0) {
        rc = TM_ERR_STORE_CORRUPT;
    } else if (version > TM_STORE_FORMAT_VERSION) {
        rc = TM_ERR_STORE_VERSION;
    }
done:
    return rc;
}

/* A data file shorter than the pages its meta page claims would fault
 * (SIGBUS) on first access: refuse it before any transaction. */
static int s_check_size(MDB_env *env)
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
    }
done:
    return rc;
}

/* Translate the error of mdb_env_open on an existing data file. */
static int s_err_open(int mrc)
{
    if (mrc == ENOENT) {
        return TM_ERR_STORE_MISSING;
    }
    if (mrc == EINVAL) { /* e.g. an absurd map size in a damaged meta */
        return TM_ERR_STORE_CORRUPT;
    }
    return s_err(mrc);
}

/* Inspect data.mdb without the lock file and without writing anything, so
 * that a foreign or damaged directory is left exactly as it was. */
static int s_probe(const char *dir)
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
        goto done;
    }
    rc = s_check_size(env);
    if (rc != 0) {
        goto done;
    }
    mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    rc = s_check_marker(txn);
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
            mrc = s_put_marker(txn, dbi);
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

    mrc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (mrc != 0) {
        rc = s_err(mrc);
        goto done;
    }
    rc = s_check_marker(txn);
    if (rc != 0) {
        goto done;
    }
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
        if (v.mv_size != 8) {
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

/* ---- open / close
 * ------------------------------------------------------------ */

int tm_store_open(tm_store_t **out, const char *dir,
                  const tm_store_opts_t *opts)
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
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    s->dirfd = -1;
    s->read_only = o.read_only != 0;
    s->map_max = o.map_max;
    atomic_init(&s->commits, 0);
    atomic_init(&s->grows, 0);

    /* 1. The directory: exists, or is created (0700) if we may. */
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            rc = s_err_errno(errno);
            goto done;
        }
        if (!o.create || s->read_only) {
            rc = TM_ERR_STORE_MISSING;
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
    rc = s_register(s);
    if (rc != 0) {
        goto done;
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
        goto done;
    }
    if (probe) {
        rc = s_probe(dir);
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
    mrc = mdb_env_open(s->env, dir, MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0),
                       0600);
    if (mrc != 0) {
        rc = s_err_open(mrc);
        goto done;
    }
    if (!lock_existed && fchmodat(s->dirfd, S_LOCK_NAME, 0600, 0) != 0) {
        rc = s_err_errno(errno);
        goto done;
    }
    rc = s_check_size(s->env);
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
    if (rc != 0) {
        goto done;
    }
    if (s->read_only && probe) {
        flock(s->dirfd, LOCK_UN); /* readers do not keep writers out */
    }
    if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if (pthread_rwlock_init(&s->map_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->write_lock);
        rc = TM_ERR_NOMEM;
        goto done;
    }
    s->locks_ready = 1;
    *out = s;
    s = NULL;
done:
    tm_store_close(&s);
    return rc;
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
                mrc = s_put_marker(txn, s->dbi[TM_DB_META]);
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
        MDB_val v = {op->vlen, (void *)op->v};
        if (op->kind == S_OP_DEL) {
            mrc = mdb_del(txn, s->dbi[op->db], &k, NULL);
            if (mrc == MDB_NOTFOUND) {
                mrc = 0;
            }
        } else {
            mrc = mdb_put(txn, s->dbi[op->db], &k, &v,
                          op->kind == S_OP_AUDIT ? MDB_NOOVERWRITE : 0);
            if (mrc == MDB_KEYEXIST) {
                mrc = MDB_CORRUPTED; /* an audit number was reused */
            }
        }
    }
    if (mrc == 0 && (naudit > 0 || (cleared & (1u << TM_DB_META)))) {
        unsigned char nb[8];
        MDB_val k = {sizeof(s_key_audit_next) - 1, (void *)s_key_audit_next};
        MDB_val v = {sizeof(nb), nb};
        s_be64(nb, audit_next + naudit);
        mrc = mdb_put(txn, s->dbi[TM_DB_META], &k, &v, 0);
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
    for (;;) {
        int mrc = s_batch_apply(b, s->audit_next, naudit);
        if (mrc != MDB_MAP_FULL) {
            rc = s_err(mrc);
            break;
        }
        rc = s_grow(s);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0) {
        s->audit_next += naudit;
        atomic_fetch_add(&s->commits, 1);
    }
done:
    if (locked) {
        pthread_mutex_unlock(&s->write_lock);
    }
    s_batch_reset(b);
    return rc;
}

/* ---- reads
 * -------------------------------------------------------------------- */

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
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
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
