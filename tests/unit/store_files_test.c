/* store_files_test: the LMDB store's files: modes, open errors (missing,
 * foreign, corrupt, a later version), exclusion between processes, record
 * checksums and verify, the upgrade from format 1, and storage errors on
 * real file systems (a full tmpfs, a read-only mount).
 *
 * Damaged and foreign directories are built by hand (raw LMDB, garbage
 * bytes, truncation) so that each open error is reached through the real
 * files. The file system tests mount a tmpfs in a private mount namespace
 * of this process (as root, or in a user namespace) and are skipped where
 * that is not allowed. Every test works in its own fresh directory
 * (store_fixture.h). */
#include "store_fixture.h"

/* ---- files and directories ------------------------------------------------
 */

static void s_assert_mode(const char *path, mode_t want)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, want);
}

static void test_file_modes(void **state)
{
    s_fix_t *f = *state;
    const mode_t masks[] = {0, 022, 077, 0277};
    mode_t old = umask(0);
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        char dir[700], p[800];
        snprintf(dir, sizeof(dir), "%s/m%zu/nested", f->root, i);
        umask(masks[i]);
        tm_store_t *s = s_open(dir, 0, 0);
        umask(old);
        s_assert_mode(dir, 0700);
        snprintf(p, sizeof(p), "%s/m%zu", f->root, i);
        s_assert_mode(p, 0700); /* created parents too */
        s_path(p, sizeof(p), dir, "data.mdb");
        s_assert_mode(p, 0600);
        s_path(p, sizeof(p), dir, "lock.mdb");
        s_assert_mode(p, 0600);
        s_path(p, sizeof(p), dir, "reserve.space");
        s_assert_mode(p, 0600); /* the space reserve */
        char listing[256];
        s_listing(dir, listing, sizeof(listing));
        assert_string_equal(listing, "data.mdb\nlock.mdb\nreserve.space\n");
        tm_store_close(&s);
    }
    umask(old);
}

static void test_open_missing(void **state)
{
    s_fix_t *f = *state;
    struct stat st;
    assert_int_equal(s_open_rc(f->dir, 0, 0), TM_ERR_NO_DIR);
    assert_int_equal(s_open_rc(f->dir, 1, 1), TM_ERR_NO_DIR);
    assert_int_equal(stat(f->dir, &st), -1); /* nothing created */

    /* An empty directory holds no store either. */
    assert_int_equal(mkdir(f->dir, 0755), 0);
    assert_int_equal(s_open_rc(f->dir, 0, 0), TM_ERR_STORE_MISSING);
    assert_int_equal(s_open_rc(f->dir, 0, 1), TM_ERR_STORE_MISSING);
    char listing[256];
    s_listing(f->dir, listing, sizeof(listing));
    assert_string_equal(listing, "");

    /* ... until created there; the existing directory keeps its mode. */
    assert_int_equal(s_open_rc(f->dir, 1, 0), 0);
    assert_int_equal(s_open_rc(f->dir, 0, 0), 0);
    s_assert_mode(f->dir, 0755);

    tm_store_opts_t o = {1 << 20, 1 << 16, 1, 0}; /* map_size > map_max */
    tm_store_t *s = NULL;
    assert_int_equal(tm_store_open(&s, f->dir, &o), TM_ERR_INVAL);
    assert_null(s);
}

static void test_open_foreign(void **state)
{
    s_fix_t *f = *state;
    char p[800], d[700];
    s_snap_t sn;

    /* A regular file where the directory should be. */
    s_write_file(f->dir, "hello", 5);
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_FOREIGN);
    unlink(f->dir);

    /* A directory with someone else's files and no data.mdb. */
    assert_int_equal(mkdir(f->dir, 0700), 0);
    s_path(p, sizeof(p), f->dir, "notes.txt");
    s_write_file(p, "mine", 4);
    s_snap_take(&sn, f->dir);
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_FOREIGN);
    assert_int_equal(s_open_rc(f->dir, 0, 1), TM_ERR_STORE_FOREIGN);
    s_snap_check(&sn, f->dir);

    /* LMDB environments that are not ours: a named database "other"; a
     * plain key "meta" in the main database; a "meta" database without
     * the marker; a marker with another magic. */
    static const char *const names[] = {"other", NULL, "meta", "meta"};
    static const char *const keys[] = {"k", "meta", "node", "format"};
    for (int i = 0; i < 4; i++) {
        unsigned char fmt[18];
        snprintf(d, sizeof(d), "%s/env%d", f->root, i);
        s_format_value(fmt, "someone-elses!", 1);
        if (i == 3) {
            s_raw_put(d, names[i], keys[i], strlen(keys[i]), fmt, 18);
        } else {
            s_raw_put(d, names[i], keys[i], strlen(keys[i]), "v", 1);
        }
        s_snap_take(&sn, d);
        assert_int_equal(s_open_rc(d, 1, 0), TM_ERR_STORE_FOREIGN);
        assert_int_equal(s_open_rc(d, 0, 1), TM_ERR_STORE_FOREIGN);
        s_snap_check(&sn, d);
    }
}

static void s_make_store(const char *dir, size_t nbytes)
{
    tm_store_t *s = s_open(dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    unsigned char val[1000];
    for (size_t i = 0; i * sizeof(val) < nbytes; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "r%06zu", i);
        s_fill(val, sizeof(val), i);
        assert_int_equal(tm_store_batch_put(b, TM_DB_ACTORS, k, (size_t)kl, val,
                                            sizeof(val)),
                         0);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

static void test_open_corrupt(void **state)
{
    s_fix_t *f = *state;
    char d[700], p[800];
    s_snap_t sn;
    unsigned char *garbage = malloc(64 << 10);
    assert_non_null(garbage);
    s_fill(garbage, 64 << 10, 12345);

    /* Garbage of several sizes, and an empty data file. */
    const size_t sizes[] = {64 << 10, 100, 5000, 0};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(d, sizeof(d), "%s/garbage%zu", f->root, i);
        assert_int_equal(mkdir(d, 0700), 0);
        s_path(p, sizeof(p), d, "data.mdb");
        s_write_file(p, garbage, sizes[i]);
        s_snap_take(&sn, d);
        assert_int_equal(s_open_rc(d, 1, 0), TM_ERR_STORE_CORRUPT);
        assert_int_equal(s_open_rc(d, 0, 1), TM_ERR_STORE_CORRUPT);
        s_snap_check(&sn, d);
    }

    /* A real store, truncated: to half its size, inside the second meta
     * page, to one page; then with its meta pages zeroed. */
    s_make_store(f->dir, 2 << 20);
    s_path(p, sizeof(p), f->dir, "data.mdb");
    size_t full_len;
    unsigned char *full = s_read_file(p, &full_len);
    assert_non_null(full);
    assert_true(full_len > (1 << 20));
    const size_t cuts[] = {full_len / 2, 6000, 4096};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        assert_int_equal(truncate(p, (off_t)cuts[i]), 0);
        assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_CORRUPT);
        assert_int_equal(s_open_rc(f->dir, 0, 1), TM_ERR_STORE_CORRUPT);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_size, (off_t)cuts[i]); /* left alone */
        s_write_file(p, full, full_len);
        assert_int_equal(s_open_rc(f->dir, 0, 0), 0); /* restored */
    }
    memset(full, 0, 8192);
    s_write_file(p, full, full_len);
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_CORRUPT);

    free(full);
    free(garbage);
}

static void test_open_version(void **state)
{
    s_fix_t *f = *state;
    unsigned char fmt[18];

    s_make_store(f->dir, 0);
    s_format_value(fmt, "twinmesh-store", TM_STORE_FORMAT_VERSION + 1);
    s_raw_put(f->dir, "meta", "format", 6, fmt, sizeof(fmt));
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_VERSION);
    assert_int_equal(s_open_rc(f->dir, 0, 1), TM_ERR_STORE_VERSION);

    s_format_value(fmt, "twinmesh-store", 0);
    s_raw_put(f->dir, "meta", "format", 6, fmt, sizeof(fmt));
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_CORRUPT);

    s_format_value(fmt, "twinmesh-store", TM_STORE_FORMAT_VERSION);
    s_raw_put(f->dir, "meta", "format", 6, fmt, sizeof(fmt));
    assert_int_equal(s_open_rc(f->dir, 1, 0), 0);
}

/* ---- checksums and format 1 ---------------------------------------------
 */

/* Flip one byte `off` bytes after every copy of `needle` in the file;
 * returns how many copies were changed. */
static int s_flip_after(const char *path, const void *needle, size_t nlen,
                        size_t off)
{
    size_t len;
    int n = 0;
    unsigned char *buf = s_read_file(path, &len);
    assert_non_null(buf);
    for (size_t i = 0; i + nlen + off < len; i++) {
        if (memcmp(buf + i, needle, nlen) == 0) {
            buf[i + nlen + off] ^= 0x5a;
            n++;
        }
    }
    s_write_file(path, buf, len);
    free(buf);
    return n;
}

static void test_checksums(void **state)
{
    s_fix_t *f = *state;
    char p[800];
    tm_store_verify_t v;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    s_put_str(b, TM_DB_ACTORS, "checked-record", "value-with-a-checksum");
    s_put_str(b, TM_DB_ACTORS, "other-record", "fine");
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    assert_int_equal(v.format, 2);
    assert_true(v.checksums);
    assert_int_equal(v.records[TM_DB_ACTORS], 2);

    /* One byte of the value changed on disk: reads refuse it and the
     * verifier names database and key. */
    s_path(p, sizeof(p), f->dir, "data.mdb");
    assert_true(s_flip_after(p, "checked-record", 14, 3) >= 1);
    s = s_open(f->dir, 0, 0);
    void *val = NULL;
    size_t vlen = 0;
    assert_int_equal(
        tm_store_get(s, TM_DB_ACTORS, "checked-record", 14, &val, &vlen),
        TM_ERR_STORE_CORRUPT);
    assert_null(val);
    s_assert_value(s, TM_DB_ACTORS, "other-record", "fine");
    assert_int_equal(s_count(s, TM_DB_ACTORS), 2);
    tm_store_close(&s);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_STORE_CORRUPT);
    assert_int_equal(v.db, TM_DB_ACTORS);
    assert_true(v.have_key);
    assert_false(v.key_after);
    assert_int_equal(v.klen, 14);
    assert_memory_equal(v.key, "checked-record", 14);
    assert_int_equal(v.signal, 0);
    char line[512];
    tm_store_verify_describe(&v, line, sizeof(line));
    assert_string_equal(line, "database actors, at record 'checked-record': "
                              "checksum does not match");
}

/* A format 1 store (no checksums) as the previous release wrote it. */
static void s_make_format1(const char *dir, size_t nrecords)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi[5];
    static const char *const names[5] = {"meta", "actors", "links", "catalog",
                                         "audit"};
    unsigned char fmt[18], big[20000], nb[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    mkdir(dir, 0700);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 5), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mdb_dbi_open(txn, names[i], MDB_CREATE, &dbi[i]), 0);
    }
    s_format_value(fmt, "twinmesh-store", 1);
    MDB_val k = {6, "format"}, v = {18, fmt};
    assert_int_equal(mdb_put(txn, dbi[0], &k, &v, 0), 0);
    k = (MDB_val){10, "audit_next"};
    v = (MDB_val){8, nb};
    assert_int_equal(mdb_put(txn, dbi[0], &k, &v, 0), 0);
    for (size_t i = 0; i < nrecords; i++) {
        char key[16];
        unsigned char val[100];
        s_fill(val, sizeof(val), i);
        k = (MDB_val){(size_t)snprintf(key, sizeof(key), "r%06zu", i), key};
        v = (MDB_val){sizeof(val), val};
        assert_int_equal(mdb_put(txn, dbi[1], &k, &v, 0), 0);
    }
    s_fill(big, sizeof(big), 999);
    k = (MDB_val){3, "big"};
    v = (MDB_val){sizeof(big), big};
    assert_int_equal(mdb_put(txn, dbi[3], &k, &v, 0), 0);
    for (uint64_t i = 1; i <= 2; i++) {
        unsigned char ak[8] = {0, 0, 0, 0, 0, 0, 0, (unsigned char)i};
        k = (MDB_val){8, ak};
        v = (MDB_val){5, "event"};
        assert_int_equal(mdb_put(txn, dbi[4], &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void s_check_format1_content(tm_store_t *s, size_t nrecords)
{
    unsigned char want[100], big[20000];
    void *val = NULL;
    size_t vlen = 0, n = 0;
    for (size_t i = 0; i < nrecords; i += 97) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "r%06zu", i);
        s_fill(want, sizeof(want), i);
        assert_int_equal(
            tm_store_get(s, TM_DB_ACTORS, key, (size_t)kl, &val, &vlen), 0);
        assert_int_equal(vlen, sizeof(want));
        assert_memory_equal(val, want, sizeof(want));
        free(val);
    }
    s_fill(big, sizeof(big), 999);
    assert_int_equal(tm_store_get(s, TM_DB_CATALOG, "big", 3, &val, &vlen), 0);
    assert_int_equal(vlen, sizeof(big));
    assert_memory_equal(val, big, sizeof(big));
    free(val);
    assert_int_equal(tm_store_foreach(s, TM_DB_ACTORS, s_count_cb, &n), 0);
    assert_int_equal(n, nrecords);
    assert_int_equal(s_count(s, TM_DB_AUDIT), 2);
}

static void test_format1(void **state)
{
    s_fix_t *f = *state;
    const size_t nrec = 3000;
    tm_store_verify_t v;
    s_snap_t sn;
    s_make_format1(f->dir, nrec);

    /* Read-only: read as it is, nothing rewritten. */
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    assert_int_equal(v.format, 1);
    assert_false(v.checksums);
    assert_int_equal(v.records[TM_DB_ACTORS], nrec);
    tm_store_opts_t ro = {0, 0, 0, 1};
    tm_store_t *s = NULL;
    assert_int_equal(tm_store_open(&s, f->dir, &ro), 0);
    s_check_format1_content(s, nrec);
    tm_store_close(&s);

    /* For writing: upgraded in place, same content, audit goes on. */
    s = s_open(f->dir, 64 << 10, 0); /* small map: the upgrade grows it */
    s_check_format1_content(s, nrec);
    tm_store_batch_t *b = tm_store_batch_new(s);
    assert_int_equal(tm_store_batch_audit(b, "later", 5), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    void *val = NULL;
    size_t vlen = 0;
    unsigned char k3[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    assert_int_equal(tm_store_get(s, TM_DB_AUDIT, k3, 8, &val, &vlen), 0);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "later", 5);
    free(val);
    tm_store_close(&s);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    assert_int_equal(v.format, 2);
    assert_true(v.checksums);
    assert_int_equal(v.records[TM_DB_ACTORS], nrec);
    assert_int_equal(v.records[TM_DB_AUDIT], 3);

    /* A format 2 store whose marker says 1 is not tagged twice. */
    unsigned char fmt[18];
    s_format_value(fmt, "twinmesh-store", 1);
    s_raw_put(f->dir, "meta", "format", 6, fmt, sizeof(fmt));
    char lock[800];
    s_path(lock, sizeof(lock), f->dir, "lock.mdb");
    unlink(lock);
    s_snap_take(&sn, f->dir);
    assert_int_equal(s_open_rc(f->dir, 0, 0), TM_ERR_STORE_CORRUPT);
    unlink(lock); /* LMDB's, made by the open that then refused */
    s_snap_check(&sn, f->dir);
}

static void test_verify_errors(void **state)
{
    s_fix_t *f = *state;
    tm_store_verify_t v;
    char p[800];
    s_snap_t sn;
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_NO_DIR);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_STORE_MISSING);
    s_path(p, sizeof(p), f->dir, "notes.txt");
    s_write_file(p, "mine", 4);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_STORE_FOREIGN);
    unlink(p);

    /* Checking writes nothing, not even a lock file. */
    s_make_store(f->dir, 100000);
    s_path(p, sizeof(p), f->dir, "lock.mdb");
    assert_int_equal(unlink(p), 0);
    s_snap_take(&sn, f->dir);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    s_snap_check(&sn, f->dir);

    /* Garbage and truncation are damage, with LMDB's or our reason. */
    s_path(p, sizeof(p), f->dir, "data.mdb");
    size_t len;
    unsigned char *full = s_read_file(p, &len);
    assert_int_equal(truncate(p, (off_t)len / 2), 0);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_STORE_CORRUPT);
    assert_int_equal(v.db, -1);
    assert_non_null(strstr(v.why, "its meta page claims"));
    unsigned char junk[8192];
    s_fill(junk, sizeof(junk), 4);
    s_write_file(p, junk, sizeof(junk));
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), TM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(v.why, "LMDB cannot open the data file"));
    s_write_file(p, full, len);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    free(full);

    /* A store this process holds for writing is checked beside it. */
    tm_store_t *s = s_open(f->dir, 0, 0);
    assert_int_equal(tm_store_verify(f->dir, NULL, &v), 0);
    assert_int_equal(v.records[TM_DB_ACTORS], 100);
    tm_store_close(&s);
}

/* ---- storage errors on real file systems ---------------------------------
 */

static int s_write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (fd >= 0) {
        close(fd);
    }
    return ok ? 0 : -1;
}

/* A private mount namespace for this process, so that it may mount a
 * tmpfs that nobody else sees. As root directly; otherwise in a user
 * namespace where this process is root. 0, or -1: not allowed here. */
static int s_private_mounts(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWNS) != 0) {
        char map[64];
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            return -1;
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
        s_write_proc("/proc/self/setgroups", "deny");
        if (s_write_proc("/proc/self/uid_map", map) != 0) {
            return -1;
        }
        snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
        if (s_write_proc("/proc/self/gid_map", map) != 0) {
            return -1;
        }
    }
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* Mount a tmpfs of `size` (e.g. "256k") on root/name; its path in out. */
static int s_mount_tmpfs(const s_fix_t *f, const char *name, const char *size,
                         char *out, size_t cap)
{
    char opts[64];
    snprintf(out, cap, "%s/%s", f->root, name);
    snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
    if (mkdir(out, 0700) != 0 || mount("tmpfs", out, "tmpfs", 0, opts) != 0) {
        return -1;
    }
    return 0;
}

static void test_nospace(void **state)
{
    s_fix_t *f = *state;
    char mnt[700], dir[800], small[700], dest[800];
    unsigned char val[20000];
    tm_store_failure_t fail;
    if (s_private_mounts() != 0 ||
        s_mount_tmpfs(f, "full", "256k", mnt, sizeof(mnt)) != 0) {
        skip(); /* no mounts here: neither root nor a user namespace */
    }
    snprintf(dir, sizeof(dir), "%s/store", mnt);
    tm_store_t *s = s_open(dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    int rc = 0;
    uint64_t acked = 0;
    for (uint64_t c = 0; c < 100 && rc == 0; c++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "c%03llu", (unsigned long long)c);
        s_fill(val, sizeof(val), c);
        assert_int_equal(tm_store_batch_put(b, TM_DB_CATALOG, k, (size_t)kl,
                                            val, sizeof(val)),
                         0);
        rc = tm_store_batch_commit(b);
        acked += rc == 0;
    }
    assert_int_equal(rc, TM_ERR_NOSPACE);
    assert_string_equal(tm_err_str(rc), "no space left on device");
    assert_true(acked > 0);
    tm_store_last_failure(s, &fail);
    assert_int_equal(fail.error, TM_ERR_NOSPACE);
    assert_true(fail.need_bytes >= sizeof(val));
    assert_true(fail.free_bytes < fail.need_bytes);
    print_message("    full tmpfs: %llu commits of 20 KB, then NOSPACE: the "
                  "batch needed at least %llu bytes, %llu free\n",
                  (unsigned long long)acked,
                  (unsigned long long)fail.need_bytes,
                  (unsigned long long)fail.free_bytes);

    /* A backup into a smaller tmpfs: NOSPACE, with the copy's size, and
     * nothing left behind. */
    if (s_mount_tmpfs(f, "tiny", "16k", small, sizeof(small)) == 0) {
        snprintf(dest, sizeof(dest), "%s/copy", small);
        assert_int_equal(tm_store_backup(s, dest, NULL, NULL), TM_ERR_NOSPACE);
        tm_store_last_failure(s, &fail);
        assert_int_equal(fail.error, TM_ERR_NOSPACE);
        assert_true(fail.need_bytes > acked * sizeof(val));
        struct stat st;
        assert_int_equal(stat(dest, &st), -1);
        umount2(small, MNT_DETACH);
    }
    tm_store_batch_destroy(&b);
    tm_store_close(&s);

    /* Nothing of the failed batch, everything acknowledged, still sound. */
    tm_store_verify_t v;
    assert_int_equal(tm_store_verify(dir, NULL, &v), 0);
    assert_int_equal(v.records[TM_DB_CATALOG], acked);
    umount2(mnt, MNT_DETACH);
}

static void test_readonly(void **state)
{
    s_fix_t *f = *state;
    char mnt[700], dir[800], other[800], src[800], bind[800];
    if (s_private_mounts() != 0 ||
        s_mount_tmpfs(f, "ro", "1m", mnt, sizeof(mnt)) != 0) {
        skip(); /* no mounts here: neither root nor a user namespace */
    }
    snprintf(dir, sizeof(dir), "%s/store", mnt);
    snprintf(other, sizeof(other), "%s/new", mnt);
    s_make_store(dir, 10000);
    assert_int_equal(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
    assert_int_equal(s_open_rc(dir, 1, 0), TM_ERR_READONLY);
    assert_int_equal(s_open_rc(other, 1, 0), TM_ERR_READONLY);
    assert_string_equal(tm_err_str(TM_ERR_READONLY),
                        "read-only file system or permission denied");
    /* ... still readable, and checked. */
    assert_int_equal(s_open_rc(dir, 0, 1), 0);
    tm_store_verify_t v;
    assert_int_equal(tm_store_verify(dir, NULL, &v), 0);
    assert_int_equal(v.records[TM_DB_ACTORS], 10);
    umount2(mnt, MNT_DETACH);

    /* A read-only bind mount of a store on the ordinary file system. */
    snprintf(src, sizeof(src), "%s/src", f->root);
    snprintf(bind, sizeof(bind), "%s/bind", f->root);
    s_make_store(src, 10000);
    assert_int_equal(mkdir(bind, 0700), 0);
    assert_int_equal(mount(src, bind, NULL, MS_BIND, NULL), 0);
    assert_int_equal(
        mount(NULL, bind, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
    assert_int_equal(s_open_rc(bind, 1, 0), TM_ERR_READONLY);
    assert_int_equal(s_open_rc(src, 1, 0), 0); /* the same files, writable */
    umount2(bind, MNT_DETACH);
}

/* ---- exclusion --------------------------------------------------------------
 */

/* Child of test_locked: holds the store for writing, commits, grows the
 * map on request. Reports each step with one byte on `up`. */
static int s_locked_child(const char *dir, int up, int down)
{
    tm_store_t *s = NULL;
    tm_store_opts_t o = {64 << 10, 0, 0, 0};
    unsigned char val[3000];
    char c = 0;
    int ok = tm_store_open(&s, dir, &o) == 0;
    tm_store_batch_t *b = ok ? tm_store_batch_new(s) : NULL;
    ok = ok && b != NULL &&
         tm_store_batch_put(b, TM_DB_ACTORS, "child", 5, "yes", 3) == 0 &&
         tm_store_batch_commit(b) == 0;
    c = ok ? 'r' : 'e';
    ok = write(up, &c, 1) == 1 && read(down, &c, 1) == 1 && ok;
    for (unsigned i = 0; ok && i < 1000; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "g%04u", i);
        s_fill(val, sizeof(val), i);
        ok = tm_store_batch_put(b, TM_DB_ACTORS, k, (size_t)kl, val,
                                sizeof(val)) == 0;
    }
    ok = ok && tm_store_batch_commit(b) == 0;
    c = ok ? 'g' : 'e';
    ok = write(up, &c, 1) == 1 && read(down, &c, 1) == 1 && ok;
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
    return ok ? 0 : 1;
}

static void test_locked(void **state)
{
    s_fix_t *f = *state;
    int up[2], down[2];
    char c = 0;
    tm_store_stats_t st;
    tm_store_t *s = s_open(f->dir, 64 << 10, 0);
    tm_store_close(&s);

    /* Another process writes: a second writer is refused, a reader may
     * open beside it, sees its commits and follows its map growth. */
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(s_locked_child(f->dir, up[1], down[0]));
    }
    assert_int_equal(read(up[0], &c, 1), 1);
    assert_int_equal(c, 'r');
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_LOCKED);
    {
        tm_store_t *r = NULL;
        tm_store_opts_t o = {0, 0, 0, 1};
        assert_int_equal(tm_store_open(&r, f->dir, &o), 0);
        s_assert_value(r, TM_DB_ACTORS, "child", "yes");
        tm_store_stats(r, &st);
        assert_int_equal(st.map_size, 64 << 10);
        tm_store_batch_t *b = tm_store_batch_new(r);
        s_put_str(b, TM_DB_ACTORS, "reader", "no");
        assert_int_equal(tm_store_batch_commit(b), TM_ERR_PERM);
        tm_store_batch_destroy(&b);

        assert_int_equal(write(down[1], &c, 1), 1); /* grow, please */
        assert_int_equal(read(up[0], &c, 1), 1);
        assert_int_equal(c, 'g');
        unsigned char want[3000];
        void *v = NULL;
        size_t n = 0;
        assert_int_equal(tm_store_get(r, TM_DB_ACTORS, "g0999", 5, &v, &n), 0);
        s_fill(want, sizeof(want), 999);
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(v, want, n);
        free(v);
        assert_int_equal(s_count(r, TM_DB_ACTORS), 1001);
        tm_store_stats(r, &st);
        assert_true(st.map_size >= ((size_t)3 << 20));
        tm_store_close(&r);
    }
    assert_int_equal(write(down[1], &c, 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);

    /* Once it is gone, the directory is free again. */
    s = s_open(f->dir, 0, 0);
    s_assert_value(s, TM_DB_ACTORS, "child", "yes");

    /* One open per process, whatever the mode or the path's spelling. */
    char alias[800];
    snprintf(alias, sizeof(alias), "%s/./", f->dir);
    assert_int_equal(s_open_rc(f->dir, 1, 0), TM_ERR_STORE_LOCKED);
    assert_int_equal(s_open_rc(f->dir, 0, 1), TM_ERR_STORE_LOCKED);
    assert_int_equal(s_open_rc(alias, 1, 0), TM_ERR_STORE_LOCKED);
    s_assert_value(s, TM_DB_ACTORS, "child", "yes"); /* still fine */
    tm_store_close(&s);
    assert_int_equal(s_open_rc(alias, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_modes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_corrupt, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_locked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checksums, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_format1, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_verify_errors, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_nospace, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
