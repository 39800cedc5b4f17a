/* tm_store: the node's LMDB environment: open (and creation, probing, the
 * upgrade of an old format), close, map growth and the transactions run
 * under map_lock. The structure and its locks: tm_store_int.h.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h>   /* the storage engine */
#include <sodium.h> /* sodium_init before the first checksum */

#include <assert.h>
#include <errno.h>    /* translating system errors */
#include <fcntl.h>    /* open, *at functions */
#include <pthread.h>  /* write_lock, map_lock */
#include <stdarg.h>   /* s_why */
#include <stdio.h>    /* snprintf for paths */
#include <stdlib.h>   /* malloc */
#include <string.h>   /* strlen */
#include <sys/file.h> /* flock */
#include <sys/stat.h> /* modes, fstatat */
#include <unistd.h>   /* close, fsync */

#define S_DEFAULT_MAP ((size_t)64 << 20) /* 64 MiB */

#if SIZE_MAX > 0xffffffffu
#define S_DEFAULT_MAX ((size_t)1 << 40) /* 1 TiB */
#else
#define S_DEFAULT_MAX ((size_t)1 << 30) /* 1 GiB on 32-bit hosts */
#endif

/* Read-side holds of map_lock by this thread (any store). A commit from a
 * thread that holds one could deadlock on map growth, so it is refused. */
static _Thread_local int s_read_depth;

/* ---- error translation -----------------------------------------------------
 */

int tmi_store_err_errno(int errnum)
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

int tmi_store_err(int mrc)
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
            return tmi_store_err_errno(mrc);
        }
        return TM_ERR_INTERNAL;
    }
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
        rc = tmi_store_err(mrc);
        goto done;
    }
    if (fstat(fd, &fs) != 0) {
        rc = tmi_store_err_errno(errno);
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
    return tmi_store_err(mrc);
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
        rc = tmi_store_err(mrc);
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
        rc = tmi_store_err(mrc);
        s_why(why, whylen, "LMDB: %s", mdb_strerror(mrc));
        goto done;
    }
    uint32_t version = 0;
    rc = tmi_store_check_marker(txn, &version);
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
    char *path = s_join(dir, TMI_STORE_NEW_NAME);
    int fd;
    if (path == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if ((unlinkat(s->dirfd, TMI_STORE_NEW_NAME, 0) != 0 && errno != ENOENT) ||
        (unlinkat(s->dirfd, TMI_STORE_NEW_LOCK_NAME, 0) != 0 &&
         errno != ENOENT)) {
        rc = tmi_store_err_errno(errno);
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
        rc = tmi_store_err(mrc);
        goto done;
    }
    if (fchmod(fd, 0600) != 0) {
        rc = tmi_store_err_errno(errno);
        goto done;
    }
    mrc = mdb_txn_begin(env, NULL, 0, &txn);
    for (int i = 0; mrc == 0 && i < TM_DB_COUNT; i++) {
        MDB_dbi dbi;
        mrc = mdb_dbi_open(txn, tm_store_db_name((tm_store_db_t)i), MDB_CREATE,
                           &dbi);
        if (mrc == 0 && i == TM_DB_META) {
            mrc = tmi_store_put_marker(txn, dbi, TM_STORE_FORMAT_VERSION);
        }
    }
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
        goto done;
    }
    mdb_env_close(env);
    env = NULL;
    if (renameat(s->dirfd, TMI_STORE_NEW_NAME, s->dirfd, TMI_STORE_DATA_NAME) !=
            0 ||
        fsync(s->dirfd) != 0) {
        rc = tmi_store_err_errno(errno);
        goto done;
    }
    unlinkat(s->dirfd, TMI_STORE_NEW_LOCK_NAME,
             0); /* best effort: only clutter */
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

/* The next audit sequence number: one past the last audit key, or
 * audit_next in meta if that is higher (records deleted by retention). */
static int s_load_audit_next(tm_store_t *s, MDB_txn *txn, uint32_t version)
{
    int rc = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    s->audit_next = 1;
    int mrc = mdb_cursor_open(txn, s->dbi[TM_DB_AUDIT], &cur);
    if (mrc == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    }
    if (mrc == 0) {
        if (k.mv_size != 8) {
            rc = TM_ERR_STORE_CORRUPT;
            goto done;
        }
        s->audit_next = tmi_store_get_be64(k.mv_data) + 1;
    } else if (mrc != MDB_NOTFOUND) {
        rc = tmi_store_err(mrc);
        goto done;
    }
    k.mv_data = (void *)TMI_STORE_KEY_AUDIT_NEXT;
    k.mv_size = sizeof(TMI_STORE_KEY_AUDIT_NEXT) - 1;
    mrc = mdb_get(txn, s->dbi[TM_DB_META], &k, &v);
    if (mrc == 0) {
        if (tmi_store_untag(version >= 2, TM_DB_META, &k, &v) != 0 ||
            v.mv_size != 8) {
            rc = TM_ERR_STORE_CORRUPT;
            goto done;
        }
        uint64_t next = tmi_store_get_be64(v.mv_data);
        if (next > s->audit_next) {
            s->audit_next = next;
        }
    } else if (mrc != MDB_NOTFOUND) {
        rc = tmi_store_err(mrc);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
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
    unsigned flags = s->read_only ? 0 : MDB_CREATE;

    uint32_t version = 0;
    mrc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
        goto done;
    }
    rc = tmi_store_check_marker(txn, &version);
    if (rc != 0) {
        goto done;
    }
    atomic_store(&s->version, version);
    for (int i = 0; i < TM_DB_COUNT; i++) {
        mrc = mdb_dbi_open(txn, tm_store_db_name((tm_store_db_t)i), flags,
                           &s->dbi[i]);
        if (mrc != 0) {
            rc =
                mrc == MDB_NOTFOUND ? TM_ERR_STORE_CORRUPT : tmi_store_err(mrc);
            goto done;
        }
    }
    rc = s_load_audit_next(s, txn, version);
    if (rc != 0) {
        goto done;
    }
    /* Committing (also a read-only transaction) keeps the handles open. */
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
    }
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* ---- open / close
 * ------------------------------------------------------------ */

/* The options with their defaults filled in. */
static int s_open_opts(const tm_store_opts_t *opts, tm_store_opts_t *o)
{
    tm_store_opts_t d = {0, 0, 1, 0};
    *o = opts != NULL ? *opts : d;
    if (o->map_size == 0) {
        o->map_size = S_DEFAULT_MAP;
    }
    if (o->map_max == 0) {
        o->map_max = S_DEFAULT_MAX;
    }
    return o->map_size > o->map_max ? TM_ERR_INVAL : 0;
}

/* A closed store (nothing open yet); NULL on out-of-memory. */
static tm_store_t *s_new(const tm_store_opts_t *o, int verifier)
{
    tm_store_t *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        s->dirfd = -1;
        s->read_only = o->read_only != 0;
        s->verifier = verifier;
        s->map_max = o->map_max;
        atomic_init(&s->commits, 0);
        atomic_init(&s->grows, 0);
        atomic_init(&s->version, 0);
    }
    return s;
}

/* 1. The directory: exists, or is created (0700) if we may; s->dirfd is
 * open on it. */
static int s_open_dir(tm_store_t *s, const char *dir, int create)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            return tmi_store_err_errno(errno);
        }
        if (!create || s->read_only) {
            return TM_ERR_NO_DIR;
        }
        int rc = tmi_store_mkdirs(dir);
        if (rc != 0) {
            return rc;
        }
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        return errno == ENOTDIR ? TM_ERR_STORE_FOREIGN
                                : tmi_store_err_errno(errno);
    }
    if (fstat(s->dirfd, &st) != 0) {
        return tmi_store_err_errno(errno);
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    return 0;
}

/* 2. Exclusion: one open per process, one writer per directory. *probe
 * is cleared when a writer holds the directory. */
static int s_lock_dir(tm_store_t *s, int *probe)
{
    if (!s->verifier) {
        int rc = tmi_store_register(s);
        if (rc != 0) {
            return rc;
        }
    }
    if (flock(s->dirfd, (s->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) {
            return tmi_store_err_errno(errno);
        }
        if (!s->read_only) {
            return TM_ERR_STORE_LOCKED;
        }
        /* A twinmesh writer holds the directory, so it is a valid store
         * and its lock file is live: skip the probe. */
        *probe = 0;
    }
    return 0;
}

/* 3. What is in it: a data file of ours, created here if there is none
 * and we may. Nothing is written before this point. */
static int s_open_data(tm_store_t *s, const char *dir, const tm_store_opts_t *o,
                       int probe, char *why, size_t whylen)
{
    struct stat st;
    int has_data = 0, has_foreign = 0;
    int rc = tmi_store_scan_dir(s->dirfd, &has_data, &has_foreign);
    if (rc != 0) {
        return rc;
    }
    if (!has_data) {
        if (has_foreign) {
            rc = TM_ERR_STORE_FOREIGN;
        } else if (!o->create || s->read_only) {
            rc = TM_ERR_STORE_MISSING;
        } else {
            rc = s_create(s, dir, o->map_size);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (fstatat(s->dirfd, TMI_STORE_DATA_NAME, &st, 0) != 0) {
        return tmi_store_err_errno(errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return TM_ERR_STORE_FOREIGN;
    }
    if (st.st_size == 0) { /* LMDB would take it for a new environment */
        s_why(why, whylen, "data file is empty");
        return TM_ERR_STORE_CORRUPT;
    }
    return probe ? s_probe(dir, why, whylen) : 0;
}

/* 4. The real environment, its map at least map_size. */
static int s_open_env(tm_store_t *s, const char *dir, const tm_store_opts_t *o,
                      int probe, char *why, size_t whylen)
{
    struct stat st;
    MDB_envinfo info;
    int lock_existed = 1;
    if (!s->read_only) {
        lock_existed = fstatat(s->dirfd, TMI_STORE_LOCK_NAME, &st, 0) == 0;
    }
    int mrc = mdb_env_create(&s->env);
    if (mrc == 0) {
        mrc = mdb_env_set_maxdbs(s->env, TM_DB_COUNT);
    }
    if (mrc != 0) {
        return tmi_store_err(mrc);
    }
    s->verifier_alone = s->verifier && probe;
    unsigned flags = MDB_NOTLS | (s->read_only ? MDB_RDONLY : 0) |
                     (s->verifier_alone ? MDB_NOLOCK : 0);
    mrc = mdb_env_open(s->env, dir, flags, 0600);
    if (mrc != 0) {
        s_why(why, whylen, "LMDB cannot open the data file: %s",
              mdb_strerror(mrc));
        return s_err_open(mrc);
    }
    if (!lock_existed &&
        fchmodat(s->dirfd, TMI_STORE_LOCK_NAME, 0600, 0) != 0) {
        return tmi_store_err_errno(errno);
    }
    int rc = s_check_size(s->env, why, whylen);
    if (rc != 0) {
        return rc;
    }
    mrc = mdb_env_info(s->env, &info);
    if (mrc == 0 && !s->read_only && info.me_mapsize < o->map_size) {
        mrc = mdb_env_set_mapsize(s->env, o->map_size);
    }
    if (mrc != 0) {
        return tmi_store_err(mrc);
    }
    if (info.me_mapsize > s->map_max) {
        s->map_max = info.me_mapsize; /* never shrink a grown store */
    }
    return 0;
}

static int s_init_locks(tm_store_t *s)
{
    if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
        return TM_ERR_NOMEM;
    }
    if (pthread_mutex_init(&s->fail_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->write_lock);
        return TM_ERR_NOMEM;
    }
    if (pthread_rwlock_init(&s->map_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->fail_lock);
        pthread_mutex_destroy(&s->write_lock);
        return TM_ERR_NOMEM;
    }
    s->locks_ready = 1;
    return 0;
}

/* tm_store_open and the verifier child's open (tm_store_int.h). */
int tmi_store_open(tm_store_t **out, const char *dir,
                   const tm_store_opts_t *opts, int verifier, char *why,
                   size_t whylen)
{
    int rc = 0;
    tm_store_t *s = NULL;
    tm_store_opts_t o;
    int probe = 1;

    assert(out != NULL);
    *out = NULL;
    if (dir == NULL || dir[0] == '\0') {
        rc = TM_ERR_INVAL;
        goto done;
    }
    rc = s_open_opts(opts, &o);
    if (rc != 0) {
        goto done;
    }
    if (sodium_init() < 0) {
        rc = TM_ERR_INTERNAL;
        goto done;
    }
    s = s_new(&o, verifier);
    if (s == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }

    rc = s_open_dir(s, dir, o.create);
    if (rc == 0) {
        rc = s_lock_dir(s, &probe);
    }
    if (rc == 0) {
        rc = s_open_data(s, dir, &o, probe, why, whylen);
    }
    if (rc == 0) {
        rc = s_open_env(s, dir, &o, probe, why, whylen);
    }
    if (rc != 0) {
        goto done;
    }
    rc = s_open_dbs(s);
    if (rc == TM_ERR_STORE_CORRUPT) {
        s_why(why, whylen,
              "meta database: format marker or audit_next is invalid");
    }
    if (rc == 0 && !s->read_only && atomic_load(&s->version) < 2) {
        rc = tmi_store_migrate(s);
    }
    if (rc != 0) {
        goto done;
    }
    if (s->read_only && probe && !verifier) {
        flock(s->dirfd, LOCK_UN); /* readers do not keep writers out */
    }
    rc = s_init_locks(s);
    if (rc != 0) {
        goto done;
    }
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
    return tmi_store_open(out, dir, opts, 0, NULL, 0);
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
        tmi_store_unregister(s);
    }
    if (s->dirfd >= 0) {
        close(s->dirfd); /* releases the flock */
    }
    free(s);
}

/* ---- transactions under map_lock
 * ---------------------------------------------- */

void tmi_store_read_lock(tm_store_t *s)
{
    pthread_rwlock_rdlock(&s->map_lock);
    s_read_depth++;
}

void tmi_store_read_unlock(tm_store_t *s)
{
    s_read_depth--;
    pthread_rwlock_unlock(&s->map_lock);
}

bool tmi_store_reading(void)
{
    return s_read_depth > 0;
}

/* Begin a transaction; the caller holds map_lock for reading. Another
 * process (a writer, seen by a read-only store) may have grown the map:
 * adopt its size, unless this thread holds further read locks. */
int tmi_store_txn_begin(tm_store_t *s, unsigned flags, MDB_txn **txn)
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
int tmi_store_grow(tm_store_t *s)
{
    int rc = 0;
    MDB_envinfo info;
    pthread_rwlock_wrlock(&s->map_lock);
    int mrc = mdb_env_info(s->env, &info);
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
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
        rc = tmi_store_err(mrc);
        goto done;
    }
    atomic_fetch_add(&s->grows, 1);
done:
    pthread_rwlock_unlock(&s->map_lock);
    return rc;
}

/* ---- the last failure --------------------------------------------------- */

void tmi_store_set_failure(tm_store_t *s, int rc, uint64_t need, uint64_t avail)
{
    pthread_mutex_lock(&s->fail_lock);
    s->failure.error = rc;
    s->failure.need_bytes = need;
    s->failure.free_bytes = avail;
    pthread_mutex_unlock(&s->fail_lock);
}

void tm_store_last_failure(tm_store_t *store, tm_store_failure_t *out)
{
    assert(store != NULL && out != NULL);
    pthread_mutex_lock(&store->fail_lock);
    *out = store->failure;
    pthread_mutex_unlock(&store->fail_lock);
}
