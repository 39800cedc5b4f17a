/* store_fixture.h: the fixture and helpers of the store's tests
 * (store_test, store_files_test): one fresh directory per test under
 * $TM_TEST_TMPDIR (or /tmp), removed afterwards; stores opened, filled and
 * read back; files read, written and listed; raw LMDB records. Included
 * first (it defines _GNU_SOURCE for unshare and CLONE_NEWNS). */
#ifndef TM_STORE_FIXTURE_H
#define TM_STORE_FIXTURE_H

#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- fixture: one fresh directory per test ------------------------------ */

typedef struct {
    char root[512]; /* removed at teardown */
    char dir[600];  /* root/store: the data directory (not created) */
} s_fix_t;

static inline void s_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 ||
                    strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                char sub[1024];
                int n = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                if (n > 0 && (size_t)n < sizeof(sub)) {
                    s_rmtree(sub);
                }
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof(*f));
    const char *base = getenv("TM_TEST_TMPDIR");
    if (f == NULL) {
        return -1;
    }
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    mkdir(base, 0700); /* may exist */
    snprintf(f->root, sizeof(f->root), "%s/store_test.XXXXXX", base);
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/store", f->root);
    *state = f;
    return 0;
}

static inline int s_teardown(void **state)
{
    s_fix_t *f = *state;
    s_rmtree(f->root);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static inline tm_store_t *s_open(const char *dir, size_t map_size,
                                 size_t map_max)
{
    tm_store_t *s = NULL;
    tm_store_opts_t o = {map_size, map_max, 1, 0};
    int rc = tm_store_open(&s, dir, &o);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static inline int s_open_rc(const char *dir, int create, int read_only)
{
    tm_store_t *s = (tm_store_t *)&s; /* must be reset to NULL on error */
    tm_store_opts_t o = {0, 0, create, read_only};
    int rc = tm_store_open(&s, dir, &o);
    if (rc != 0) {
        assert_null(s);
    }
    tm_store_close(&s);
    return rc;
}

static inline void s_put_str(tm_store_batch_t *b, tm_store_db_t db,
                             const char *k, const char *v)
{
    assert_int_equal(tm_store_batch_put(b, db, k, strlen(k), v, strlen(v)), 0);
}

/* Value of k as a NUL-terminated string, or NULL if absent. */
static inline char *s_get_str(tm_store_t *s, tm_store_db_t db, const char *k)
{
    void *v = NULL;
    size_t n = 0;
    int rc = tm_store_get(s, db, k, strlen(k), &v, &n);
    if (rc == TM_ERR_NOT_FOUND) {
        assert_null(v);
        return NULL;
    }
    assert_int_equal(rc, 0);
    char *str = malloc(n + 1);
    assert_non_null(str);
    memcpy(str, v, n);
    str[n] = '\0';
    free(v);
    return str;
}

static inline void s_assert_value(tm_store_t *s, tm_store_db_t db,
                                  const char *k, const char *want)
{
    char *got = s_get_str(s, db, k);
    if (want == NULL) {
        assert_null(got);
    } else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
    free(got);
}

static inline size_t s_count(tm_store_t *s, tm_store_db_t db)
{
    size_t n = 0;
    assert_int_equal(tm_store_count(s, db, &n), 0);
    return n;
}

/* Deterministic bytes for value i of length n. */
static inline void s_fill(unsigned char *p, size_t n, uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
    for (size_t j = 0; j < n; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[j] = (unsigned char)x;
    }
}

static inline unsigned char *s_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    *len = 0;
    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

static inline void s_write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static inline void s_path(char *out, size_t cap, const char *dir,
                          const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static inline int s_name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sorted, newline-joined names of the entries of dir. */
static inline void s_listing(const char *dir, char *out, size_t cap)
{
    char names[32][256];
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 32) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), s_name_cmp);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 1 < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s\n", names[i]);
        if (w < 0) {
            break;
        }
        len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
}

/* Snapshot of every file of a directory, to prove nothing was written. */
typedef struct {
    char listing[2048];
    char names[8][256];
    unsigned char *data[8];
    size_t len[8];
    int n;
} s_snap_t;

static inline void s_snap_take(s_snap_t *sn, const char *dir)
{
    memset(sn, 0, sizeof(*sn));
    s_listing(dir, sn->listing, sizeof(sn->listing));
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && sn->n < 8) {
        char p[1024];
        struct stat st;
        s_path(p, sizeof(p), dir, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(sn->names[sn->n], sizeof(sn->names[0]), "%s", e->d_name);
            sn->data[sn->n] = s_read_file(p, &sn->len[sn->n]);
            sn->n++;
        }
    }
    closedir(d);
}

static inline void s_snap_check(s_snap_t *sn, const char *dir)
{
    char listing[2048];
    s_listing(dir, listing, sizeof(listing));
    assert_string_equal(listing, sn->listing);
    for (int i = 0; i < sn->n; i++) {
        char p[1024];
        size_t len;
        s_path(p, sizeof(p), dir, sn->names[i]);
        unsigned char *now = s_read_file(p, &len);
        assert_int_equal(len, sn->len[i]);
        if (len > 0) {
            assert_memory_equal(now, sn->data[i], len);
        }
        free(now);
        free(sn->data[i]);
    }
}

/* Put k = v into database `name` (NULL: the main database) with raw LMDB. */
static inline void s_raw_put(const char *dir, const char *name, const void *k,
                             size_t klen, const void *v, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val mk = {klen, (void *)k};
    MDB_val mv = {vlen, (void *)v};
    mkdir(dir, 0700);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &mk, &mv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static inline void s_format_value(unsigned char out[18], const char *magic,
                                  uint32_t version)
{
    memcpy(out, magic, 14);
    out[14] = (unsigned char)(version >> 24);
    out[15] = (unsigned char)(version >> 16);
    out[16] = (unsigned char)(version >> 8);
    out[17] = (unsigned char)version;
}

/* A foreach callback that counts the records (arg: a size_t). */
static inline int s_count_cb(const void *key, size_t klen, const void *val,
                             size_t vlen, void *arg)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(size_t *)arg)++;
    return 0;
}

#endif
