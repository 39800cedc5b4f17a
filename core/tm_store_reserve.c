/* tm_store_reserve: the space a data directory keeps for changes that
 * free space (see tm_store.h, "Space reserve").
 *
 * The reserve is a file of allocated blocks in the data directory. A full
 * file system makes every LMDB commit fail, kills and unlinks included,
 * so an operator could not free anything from the console. A commit of a
 * batch that frees space and fails for lack of it deletes the reserve and
 * tries once more: the blocks it held are then free for LMDB's new pages.
 * Once the file system has room again the reserve is made again.
 */
#include "tm_store_int.h"

#include "tm_err.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

bool tmi_store_reserve_present(int dirfd)
{
    struct stat st;
    return fstatat(dirfd, TMI_STORE_RESERVE_NAME, &st, 0) == 0 &&
           (uint64_t)st.st_blocks * 512u >= TMI_STORE_RESERVE_BYTES;
}

int tmi_store_reserve_make(int dirfd)
{
    if (tmi_store_reserve_present(dirfd)) {
        return 0;
    }
    struct statvfs vs;
    if (fstatvfs(dirfd, &vs) != 0 ||
        (uint64_t)vs.f_bavail * vs.f_frsize < 4u * TMI_STORE_RESERVE_BYTES) {
        return TM_ERR_NOSPACE; /* not while space is short: later */
    }
    int fd = openat(dirfd, TMI_STORE_RESERVE_NAME,
                    O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return TM_ERR_IO;
    }
    int rc = fchmod(fd, 0600) != 0 ? errno : 0; /* whatever the umask */
    if (rc == 0) {
        rc = posix_fallocate(fd, 0, (off_t)TMI_STORE_RESERVE_BYTES);
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = errno;
    }
    close(fd);
    if (rc != 0) {
        unlinkat(dirfd, TMI_STORE_RESERVE_NAME, 0);
        return rc == ENOSPC ? TM_ERR_NOSPACE : TM_ERR_IO;
    }
    fsync(dirfd);
    return 0;
}

int tmi_store_reserve_release(int dirfd)
{
    if (unlinkat(dirfd, TMI_STORE_RESERVE_NAME, 0) != 0) {
        return errno == ENOENT ? TM_ERR_NOT_FOUND : TM_ERR_IO;
    }
    fsync(dirfd);
    return 0;
}
