/* tm_store_dir: the store's data directory: creating it, what it holds,
 * the free space of its file system, and the process-wide registry that
 * keeps a directory open at most once per process.
 */
#include "tm_store_int.h"

#include "tm_err.h"

#include <dirent.h>      /* scanning the data directory */
#include <errno.h>       /* translating system errors */
#include <fcntl.h>       /* open */
#include <pthread.h>     /* the registry's lock */
#include <stdlib.h>      /* free */
#include <string.h>      /* strdup, strcmp */
#include <sys/stat.h>    /* mkdir, chmod */
#include <sys/statvfs.h> /* free space, when a write fails for lack of it */
#include <unistd.h>      /* close, fsync, dup */

/* ---- process-wide registry of open data directories ---------------------- */

static pthread_mutex_t s_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tm_store_t *s_reg_head;

/* LMDB must not have one environment open twice in a process (closing the
 * second copy drops the first one's locks), so refuse it up front. */
int tmi_store_register(tm_store_t *s)
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

void tmi_store_unregister(tm_store_t *s)
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

/* Bytes this process may still write on the file system holding fd
 * (root may use the blocks reserved for it). */
uint64_t tmi_store_free_bytes(int fd)
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
        rc = tmi_store_err_errno(errno);
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
int tmi_store_mkdirs(const char *dir)
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
                rc = tmi_store_err_errno(errno);
            } else {
                rc = s_fsync_dir_of(path);
            }
        } else if (errno != EEXIST) {
            rc = tmi_store_err_errno(errno);
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
int tmi_store_scan_dir(int dirfd, int *has_data, int *has_foreign)
{
    int rc = 0;
    DIR *d = NULL;
    int fd = dup(dirfd);
    *has_data = 0;
    *has_foreign = 0;
    if (fd < 0) {
        rc = tmi_store_err_errno(errno);
        goto done;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        rc = tmi_store_err_errno(errno);
        close(fd);
        goto done;
    }
    rewinddir(d);
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                rc = tmi_store_err_errno(errno);
            }
            break;
        }
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
            strcmp(n, TMI_STORE_LOCK_NAME) == 0 ||
            strcmp(n, TMI_STORE_NEW_NAME) == 0 ||
            strcmp(n, TMI_STORE_NEW_LOCK_NAME) == 0 ||
            strcmp(n, TMI_STORE_RESERVE_NAME) == 0) {
            continue;
        }
        if (strcmp(n, TMI_STORE_DATA_NAME) == 0) {
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
