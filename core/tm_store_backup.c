/* tm_store_backup: a live, compacting copy of a store into another
 * directory, made durable and verified before it counts.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h> /* the storage engine */

#include <assert.h>
#include <dirent.h>   /* is the destination empty */
#include <errno.h>    /* translating system errors */
#include <fcntl.h>    /* open, *at functions */
#include <stdio.h>    /* renameat */
#include <string.h>   /* memset, strcmp */
#include <sys/file.h> /* flock */
#include <sys/stat.h> /* stat */
#include <unistd.h>   /* close, fsync, rmdir */

/* 1 if the directory holds nothing, 0 if it holds something, or an
 * error. */
static int s_dir_empty(int dirfd)
{
    int rc = 1;
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        rc = tmi_store_err_errno(errno);
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

/* The destination: made (0700, with its parents) if missing, else an
 * empty directory. *dfd is open on it and holds its flock, so no node
 * opens the copy before it is complete and verified; *created says
 * whether this call made it. */
static int s_backup_dest(const char *dest, int *dfd, int *created)
{
    struct stat st;
    if (stat(dest, &st) != 0) {
        if (errno != ENOENT) {
            return tmi_store_err_errno(errno);
        }
        int rc = tmi_store_mkdirs(dest);
        if (rc != 0) {
            return rc;
        }
        *created = 1;
    } else if (!S_ISDIR(st.st_mode)) {
        return TM_ERR_EXISTS;
    }
    *dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0) {
        return tmi_store_err_errno(errno);
    }
    if (flock(*dfd, LOCK_EX | LOCK_NB) != 0) {
        return errno == EWOULDBLOCK ? TM_ERR_STORE_LOCKED
                                    : tmi_store_err_errno(errno);
    }
    int rc = s_dir_empty(*dfd);
    if (rc <= 0) {
        return rc == 0 ? TM_ERR_EXISTS : rc;
    }
    return 0;
}

/* LMDB's compacting copy into data.mdb.new, fsynced, renamed to data.mdb
 * and the directory fsynced. 0 only once data.mdb is durable. */
static int s_backup_copy(tm_store_t *store, int dfd, tm_store_verify_t *report)
{
    int rc = 0;
    int fd = openat(dfd, TMI_STORE_NEW_NAME,
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        rc = tmi_store_err_errno(errno);
        goto done;
    }
    tmi_store_read_lock(store);
    int mrc = store->failed ? MDB_PANIC
                            : mdb_env_copyfd2(store->env, fd, MDB_CP_COMPACT);
    tmi_store_read_unlock(store);
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
        if (rc == TM_ERR_STORE_CORRUPT) {
            tmi_store_damage_lmdb(report, "copying", mrc);
        }
        goto done;
    }
    if (fsync(fd) != 0) {
        rc = tmi_store_err_errno(errno);
        goto done;
    }
    close(fd);
    fd = -1;
    if (renameat(dfd, TMI_STORE_NEW_NAME, dfd, TMI_STORE_DATA_NAME) != 0 ||
        fsync(dfd) != 0) {
        rc = tmi_store_err_errno(errno);
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* A backup failed with rc: remove what it left in dest (dest itself if
 * it made it) and keep the failure for tm_store_last_failure. Returns the
 * error to report. */
static int s_backup_failed(tm_store_t *store, const char *dest, int dfd, int rc,
                           int created, int renamed)
{
    uint64_t need = 0;
    if (rc == TM_ERR_NOSPACE || rc == TM_ERR_IO) {
        tm_store_stats_t sst;
        tm_store_stats(store, &sst);
        need = sst.used_bytes; /* about the size of a compacted copy */
        if (rc == TM_ERR_IO && tmi_store_free_bytes(dfd) < need) {
            rc = TM_ERR_NOSPACE; /* a write cut short reads as EIO */
        }
    }
    if (dfd >= 0) {
        unlinkat(dfd, TMI_STORE_NEW_NAME, 0);
        if (renamed) {
            unlinkat(dfd, TMI_STORE_DATA_NAME, 0);
            unlinkat(dfd, TMI_STORE_LOCK_NAME, 0);
        }
    }
    /* Free space once the partial copy is gone: what the operator has. */
    tmi_store_set_failure(store, rc, rc == TM_ERR_NOSPACE ? need : 0,
                          rc == TM_ERR_NOSPACE ? tmi_store_free_bytes(dfd) : 0);
    if (created) {
        rmdir(dest);
    }
    return rc;
}

int tm_store_backup(tm_store_t *store, const char *dest,
                    const tm_store_verify_opts_t *vopts,
                    tm_store_verify_t *report)
{
    tm_store_verify_t local;
    int rc = 0, created = 0, renamed = 0;
    int dfd = -1;
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
    rc = s_backup_dest(dest, &dfd, &created);
    if (rc == 0) {
        rc = s_backup_copy(store, dfd, report);
    }
    if (rc == 0) {
        renamed = 1;
        /* The verifier takes its own shared lock on the directory. */
        flock(dfd, LOCK_UN);
        rc = tm_store_verify(dest, vopts, report);
    }
done:
    if (rc != 0) {
        rc = s_backup_failed(store, dest, dfd, rc, created, renamed);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return rc;
}
