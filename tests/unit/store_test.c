/* store_test: the LMDB store's batches, reads, audit sequence, map growth,
 * file modes, open errors, exclusion, concurrent commits, record checksums
 * and the upgrade from format 1, and storage errors on real file systems
 * (a full tmpfs, a read-only mount).
 *
 * Every test works in its own fresh directory under $TM_TEST_TMPDIR (or
 * /tmp) and removes it afterwards. Damaged and foreign directories are
 * built by hand (raw LMDB, garbage bytes, truncation) so that each open
 * error is reached through the real files. The file system tests mount a
 * tmpfs in a private mount namespace of this process (as root, or in a
 * user namespace) and are skipped where that is not allowed.
 */
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

static void s_rmtree(const char *path)
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
                snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                s_rmtree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int s_setup(void **state)
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

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    s_rmtree(f->root);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static tm_store_t *s_open(const char *dir, size_t map_size, size_t map_max)
{
    tm_store_t *s = NULL;
    tm_store_opts_t o = {map_size, map_max, 1, 0};
    int rc = tm_store_open(&s, dir, &o);
    assert_int_equal(rc, 0);
    assert_non_null(s);
    return s;
}

static int s_open_rc(const char *dir, int create, int read_only)
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

static void s_put_str(tm_store_batch_t *b, tm_store_db_t db, const char *k,
                      const char *v)
{
    assert_int_equal(tm_store_batch_put(b, db, k, strlen(k), v, strlen(v)), 0);
}

/* Value of k as a NUL-terminated string, or NULL if absent. */
static char *s_get_str(tm_store_t *s, tm_store_db_t db, const char *k)
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

static void s_assert_value(tm_store_t *s, tm_store_db_t db, const char *k,
                           const char *want)
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

static size_t s_count(tm_store_t *s, tm_store_db_t db)
{
    size_t n = 0;
    assert_int_equal(tm_store_count(s, db, &n), 0);
    return n;
}

/* Deterministic bytes for value i of length n. */
static void s_fill(unsigned char *p, size_t n, uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
    for (size_t j = 0; j < n; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[j] = (unsigned char)x;
    }
}

static unsigned char *s_read_file(const char *path, size_t *len)
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

static void s_write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void s_path(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sorted, newline-joined names of the entries of dir. */
static void s_listing(const char *dir, char *out, size_t cap)
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
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(out, names[i], cap - strlen(out) - 2);
        strcat(out, "\n");
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

static void s_snap_take(s_snap_t *sn, const char *dir)
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

static void s_snap_check(s_snap_t *sn, const char *dir)
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
static void s_raw_put(const char *dir, const char *name, const void *k,
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

static void s_format_value(unsigned char out[18], const char *magic,
                           uint32_t version)
{
    memcpy(out, magic, 14);
    out[14] = (unsigned char)(version >> 24);
    out[15] = (unsigned char)(version >> 16);
    out[16] = (unsigned char)(version >> 8);
    out[17] = (unsigned char)version;
}

/* ---- basic reads and writes --------------------------------------------- */

static void test_put_get_del(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    assert_non_null(b);

    s_put_str(b, TM_DB_ACTORS, "pump-1", "record one");
    s_put_str(b, TM_DB_LINKS, "pump-1", "a link");
    assert_int_equal(tm_store_batch_size(b), 2);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_size(b), 0);
    s_assert_value(s, TM_DB_ACTORS, "pump-1", "record one");
    s_assert_value(s, TM_DB_LINKS, "pump-1", "a link"); /* separate dbs */
    s_assert_value(s, TM_DB_CATALOG, "pump-1", NULL);

    s_put_str(b, TM_DB_ACTORS, "pump-1", "record two");
    assert_int_equal(tm_store_batch_commit(b), 0);
    s_assert_value(s, TM_DB_ACTORS, "pump-1", "record two");

    assert_int_equal(tm_store_batch_del(b, TM_DB_ACTORS, "pump-1", 6), 0);
    assert_int_equal(tm_store_batch_del(b, TM_DB_ACTORS, "absent", 6), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    s_assert_value(s, TM_DB_ACTORS, "pump-1", NULL);
    s_assert_value(s, TM_DB_LINKS, "pump-1", "a link");

    /* An empty value is a value. */
    assert_int_equal(tm_store_batch_put(b, TM_DB_META, "empty", 5, NULL, 0), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    void *v = NULL;
    size_t n = 99;
    assert_int_equal(tm_store_get(s, TM_DB_META, "empty", 5, &v, &n), 0);
    assert_non_null(v);
    assert_int_equal(n, 0);
    free(v);

    /* Values survive a reopen. */
    tm_store_batch_destroy(&b);
    assert_null(b);
    tm_store_batch_destroy(&b); /* NULL-safe */
    tm_store_close(&s);
    assert_null(s);
    tm_store_close(&s);
    s = s_open(f->dir, 0, 0);
    s_assert_value(s, TM_DB_LINKS, "pump-1", "a link");
    s_assert_value(s, TM_DB_ACTORS, "pump-1", NULL);
    assert_string_equal(tm_store_db_name(TM_DB_AUDIT), "audit");
    assert_string_equal(tm_store_db_name(TM_DB_META), "meta");
    tm_store_close(&s);
}

static void test_last_op_wins(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    assert_non_null(b);

    s_put_str(b, TM_DB_ACTORS, "a", "1");
    s_put_str(b, TM_DB_ACTORS, "c", "x");
    s_put_str(b, TM_DB_ACTORS, "a", "2"); /* later put wins */
    assert_int_equal(tm_store_batch_del(b, TM_DB_ACTORS, "c", 1), 0);
    assert_int_equal(tm_store_batch_del(b, TM_DB_ACTORS, "d", 1), 0);
    s_put_str(b, TM_DB_ACTORS, "d", "back"); /* put after del wins */
    s_put_str(b, TM_DB_ACTORS, "b", "first");
    s_put_str(b, TM_DB_ACTORS, "b", "second");
    s_put_str(b, TM_DB_ACTORS, "b", "third");
    assert_int_equal(tm_store_batch_size(b), 9);
    assert_int_equal(tm_store_batch_commit(b), 0);

    s_assert_value(s, TM_DB_ACTORS, "a", "2");
    s_assert_value(s, TM_DB_ACTORS, "b", "third");
    s_assert_value(s, TM_DB_ACTORS, "c", NULL);
    s_assert_value(s, TM_DB_ACTORS, "d", "back");
    assert_int_equal(s_count(s, TM_DB_ACTORS), 3);

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

/* The commit hook: what each committed batch did, in order. */
typedef struct {
    char log[512];
    unsigned tags[8];
    size_t commits;
} s_hooked_t;

static int s_hook_op(void *arg, const tm_store_op_t *op)
{
    s_hooked_t *h = arg;
    size_t n = strlen(h->log);
    if (op->db == TM_DB_AUDIT && op->klen == 8) { /* its number */
        const unsigned char *k = op->key;
        unsigned long long seq = 0;
        for (int i = 0; i < 8; i++) {
            seq = seq << 8 | k[i];
        }
        snprintf(h->log + n, sizeof h->log - n, "put%d:audit:#%llu=%.*s;",
                 (int)op->db, seq, (int)op->vlen, (const char *)op->val);
        return 0;
    }
    snprintf(h->log + n, sizeof h->log - n, "%s%d:%s:%.*s=%.*s;",
             op->kind == TM_STORE_OP_PUT   ? "put"
             : op->kind == TM_STORE_OP_DEL ? "del"
                                           : "clear",
             (int)op->db, tm_store_db_name(op->db), (int)op->klen,
             op->key != NULL ? (const char *)op->key : "", (int)op->vlen,
             op->val != NULL ? (const char *)op->val : "");
    return 0;
}

static void s_hook(void *arg, const tm_store_batch_t *b)
{
    s_hooked_t *h = arg;
    if (h->commits < 8) {
        h->tags[h->commits] = tm_store_batch_get_tag(b);
    }
    h->commits++;
    assert_int_equal(tm_store_batch_ops(b, s_hook_op, h), 0);
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "|");
}

/* The hook sees each committed batch once, after its commit, as it was
 * applied: clears first, then per key the last operation, audit records
 * under their numbers; a failed commit and an empty batch are not seen. */
static void test_commit_hook(void **state)
{
    s_fix_t *f = *state;
    s_hooked_t h;
    memset(&h, 0, sizeof h);
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_on_commit(s, s_hook, &h);
    tm_store_batch_t *b = tm_store_batch_new(s);
    assert_non_null(b);

    s_put_str(b, TM_DB_ACTORS, "b", "1");
    s_put_str(b, TM_DB_ACTORS, "a", "x");
    s_put_str(b, TM_DB_ACTORS, "b", "2");
    assert_int_equal(tm_store_batch_del(b, TM_DB_LINKS, "l", 1), 0);
    assert_int_equal(tm_store_batch_audit(b, "rec", 3), 0);
    tm_store_batch_tag(b, 5);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_commit(b), 0); /* empty: not seen */
    s_put_str(b, TM_DB_LINKS, "k", "v");
    assert_int_equal(tm_store_batch_clear(b, TM_DB_ACTORS), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_string_equal(h.log, "put1:actors:a=x;put1:actors:b=2;del2:links:l=;"
                               "put4:audit:#1=rec;|"
                               "clear1:actors:=;put2:links:k=v;|");
    assert_int_equal(h.commits, 2);
    assert_int_equal(h.tags[0], 5);
    assert_int_equal(h.tags[1], 0); /* the commit cleared the tag */

    tm_store_on_commit(s, NULL, NULL);
    s_put_str(b, TM_DB_ACTORS, "z", "1");
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(h.commits, 2); /* removed */
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

typedef struct {
    unsigned char keys[400][16];
    size_t klen[400];
    size_t n;
    size_t stop_at; /* return 7 after this many, 0 = never */
} s_walk_t;

static int s_walk_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    s_walk_t *w = arg;
    (void)val;
    (void)vlen;
    assert_true(klen <= sizeof(w->keys[0]));
    memcpy(w->keys[w->n], key, klen);
    w->klen[w->n] = klen;
    w->n++;
    return w->stop_at != 0 && w->n == w->stop_at ? 7 : 0;
}

static int s_key_cmp(const unsigned char *a, size_t alen,
                     const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static void test_foreach_order_count(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    s_walk_t *w = calloc(1, sizeof(*w));
    assert_non_null(b);
    assert_non_null(w);

    /* Empty database: nothing visited. */
    assert_int_equal(tm_store_foreach(s, TM_DB_LINKS, s_walk_cb, w), 0);
    assert_int_equal(w->n, 0);

    /* 300 keys of varying length in a scrambled order, some binary. */
    for (unsigned i = 0; i < 300; i++) {
        unsigned j = (i * 7919u) % 300u;
        char k[16];
        /* "\xff" sorts after every digit */
        int kl = snprintf(k, sizeof(k), "k%s%u", j % 10 ? "" : "\xff", j);
        char v[16];
        int vl = snprintf(v, sizeof(v), "v%u", j);
        assert_int_equal(
            tm_store_batch_put(b, TM_DB_LINKS, k, (size_t)kl, v, (size_t)vl),
            0);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(s_count(s, TM_DB_LINKS), 300);
    assert_int_equal(s_count(s, TM_DB_ACTORS), 0);

    assert_int_equal(tm_store_foreach(s, TM_DB_LINKS, s_walk_cb, w), 0);
    assert_int_equal(w->n, 300);
    for (size_t i = 1; i < w->n; i++) {
        assert_true(s_key_cmp(w->keys[i - 1], w->klen[i - 1], w->keys[i],
                              w->klen[i]) < 0);
    }

    /* A non-zero callback result stops the walk and is returned. */
    memset(w, 0, sizeof(*w));
    w->stop_at = 10;
    assert_int_equal(tm_store_foreach(s, TM_DB_LINKS, s_walk_cb, w), 7);
    assert_int_equal(w->n, 10);

    free(w);
    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

typedef struct {
    tm_store_t *store;
    tm_store_batch_t *batch;
    int commit_rc;
    int get_rc;
    int visited;
} s_nested_t;

static int s_nested_cb(const void *key, size_t klen, const void *val,
                       size_t vlen, void *arg)
{
    s_nested_t *n = arg;
    void *v = NULL;
    size_t vl = 0;
    (void)val;
    (void)vlen;
    n->get_rc = tm_store_get(n->store, TM_DB_ACTORS, key, klen, &v, &vl);
    free(v);
    s_put_str(n->batch, TM_DB_LINKS, "x", "y");
    n->commit_rc = tm_store_batch_commit(n->batch);
    n->visited++;
    return 0;
}

static void test_foreach_nested(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    s_nested_t n = {s, b, 0, -1, 0};
    s_put_str(b, TM_DB_ACTORS, "one", "1");
    assert_int_equal(tm_store_batch_commit(b), 0);

    /* Reads inside a callback work; a commit is refused, not deadlocked. */
    assert_int_equal(tm_store_foreach(s, TM_DB_ACTORS, s_nested_cb, &n), 0);
    assert_int_equal(n.visited, 1);
    assert_int_equal(n.get_rc, 0);
    assert_int_equal(n.commit_rc, TM_ERR_BUSY);
    assert_int_equal(tm_store_batch_size(b), 0);
    s_assert_value(s, TM_DB_LINKS, "x", NULL);

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

static void test_clear(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);

    s_put_str(b, TM_DB_LINKS, "a", "1");
    s_put_str(b, TM_DB_LINKS, "b", "2");
    s_put_str(b, TM_DB_ACTORS, "keep", "me");
    assert_int_equal(tm_store_batch_commit(b), 0);

    /* Clears run first: puts before and after the clear both survive. */
    s_put_str(b, TM_DB_LINKS, "c", "3");
    assert_int_equal(tm_store_batch_clear(b, TM_DB_LINKS), 0);
    s_put_str(b, TM_DB_LINKS, "d", "4");
    assert_int_equal(tm_store_batch_size(b), 3);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(s_count(s, TM_DB_LINKS), 2);
    s_assert_value(s, TM_DB_LINKS, "a", NULL);
    s_assert_value(s, TM_DB_LINKS, "b", NULL);
    s_assert_value(s, TM_DB_LINKS, "c", "3");
    s_assert_value(s, TM_DB_LINKS, "d", "4");
    s_assert_value(s, TM_DB_ACTORS, "keep", "me");

    /* Clearing meta keeps the store a store (the marker is reserved). */
    s_put_str(b, TM_DB_META, "tick", "42");
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_audit(b, "e", 1), 0);
    assert_int_equal(tm_store_batch_clear(b, TM_DB_META), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    s_assert_value(s, TM_DB_META, "tick", NULL);
    tm_store_close(&s);
    s = s_open(f->dir, 0, 0);
    tm_store_batch_destroy(&b);
    b = tm_store_batch_new(s);
    assert_int_equal(tm_store_batch_audit(b, "f", 1), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    void *v = NULL;
    size_t n = 0;
    const unsigned char k2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    assert_int_equal(tm_store_get(s, TM_DB_AUDIT, k2, 8, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(v, "f", 1);
    free(v);

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

/* ---- audit sequence ---------------------------------------------------------
 */

typedef struct {
    uint64_t seq[64];
    char val[64][16];
    size_t n;
} s_audit_t;

static int s_audit_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_audit_t *a = arg;
    const unsigned char *k = key;
    assert_int_equal(klen, 8);
    assert_true(vlen < sizeof(a->val[0]));
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = (x << 8) | k[i];
    }
    a->seq[a->n] = x;
    memcpy(a->val[a->n], val, vlen);
    a->val[a->n][vlen] = '\0';
    a->n++;
    return 0;
}

static void s_audit_expect(tm_store_t *s, size_t n, const uint64_t *seq,
                           const char *const *vals)
{
    s_audit_t a;
    memset(&a, 0, sizeof(a));
    assert_int_equal(tm_store_foreach(s, TM_DB_AUDIT, s_audit_cb, &a), 0);
    assert_int_equal(a.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a.seq[i], seq[i]);
        assert_string_equal(a.val[i], vals[i]);
    }
}

static void s_audit_del(tm_store_batch_t *b, uint64_t seq)
{
    unsigned char k[8];
    for (int i = 7; i >= 0; i--) {
        k[i] = (unsigned char)seq;
        seq >>= 8;
    }
    assert_int_equal(tm_store_batch_del(b, TM_DB_AUDIT, k, 8), 0);
}

static void test_audit_sequence(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 64 << 10, 256 << 10);
    tm_store_batch_t *b = tm_store_batch_new(s);

    assert_int_equal(tm_store_batch_audit(b, "e1", 2), 0);
    assert_int_equal(tm_store_batch_audit(b, "e2", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_audit(b, "e3", 2), 0);
    s_put_str(b, TM_DB_ACTORS, "x", "y");
    assert_int_equal(tm_store_batch_commit(b), 0);
    {
        const uint64_t seq[] = {1, 2, 3};
        const char *const v[] = {"e1", "e2", "e3"};
        s_audit_expect(s, 3, seq, v);
    }

    /* Explicit puts into the audit log are refused. */
    assert_int_equal(tm_store_batch_put(b, TM_DB_AUDIT, "k", 1, "v", 1),
                     TM_ERR_INVAL);

    /* A failed commit consumes no sequence numbers. */
    unsigned char *big = calloc(1, 1 << 20);
    assert_non_null(big);
    assert_int_equal(tm_store_batch_audit(b, "lost", 4), 0);
    assert_int_equal(
        tm_store_batch_put(b, TM_DB_CATALOG, "big", 3, big, (size_t)1 << 20),
        0);
    assert_int_equal(tm_store_batch_commit(b), TM_ERR_STORE_FULL);
    free(big);
    assert_int_equal(tm_store_batch_audit(b, "e4", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);

    /* The sequence continues after a reopen. */
    tm_store_close(&s);
    tm_store_batch_destroy(&b);
    s = s_open(f->dir, 0, 0);
    b = tm_store_batch_new(s);
    assert_int_equal(tm_store_batch_audit(b, "e5", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    {
        const uint64_t seq[] = {1, 2, 3, 4, 5};
        const char *const v[] = {"e1", "e2", "e3", "e4", "e5"};
        s_audit_expect(s, 5, seq, v);
    }

    /* Pruning every record does not restart it, across a reopen either. */
    for (uint64_t i = 1; i <= 5; i++) {
        s_audit_del(b, i);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(s_count(s, TM_DB_AUDIT), 0);
    tm_store_close(&s);
    s = s_open(f->dir, 0, 0);
    tm_store_batch_destroy(&b);
    b = tm_store_batch_new(s);
    assert_int_equal(tm_store_batch_audit(b, "e6", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    {
        const uint64_t seq[] = {6};
        const char *const v[] = {"e6"};
        s_audit_expect(s, 1, seq, v);
    }

    /* Nor does a clear. */
    assert_int_equal(tm_store_batch_clear(b, TM_DB_AUDIT), 0);
    assert_int_equal(tm_store_batch_audit(b, "e7", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    {
        const uint64_t seq[] = {7};
        const char *const v[] = {"e7"};
        s_audit_expect(s, 1, seq, v);
    }

    /* A copy's records keep their numbers (and may come again); the
     * sequence moves past them, here and after a reopen. */
    const unsigned char k20[8] = {0, 0, 0, 0, 0, 0, 0, 20};
    const unsigned char k9[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    const unsigned char k0[8] = {0};
    assert_int_equal(tm_store_batch_audit_at(b, k20, 8, "c20", 3), 0);
    assert_int_equal(tm_store_batch_audit_at(b, k9, 8, "c9", 2), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_audit_at(b, k9, 8, "c9b", 3), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_audit_at(b, k0, 8, "z", 1), TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_audit_at(b, k9, 7, "z", 1), TM_ERR_INVAL);
    tm_store_close(&s);
    s = s_open(f->dir, 0, 0);
    tm_store_batch_destroy(&b);
    b = tm_store_batch_new(s);
    assert_int_equal(tm_store_batch_audit(b, "e21", 3), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    {
        const uint64_t seq[] = {7, 9, 20, 21};
        const char *const v[] = {"e7", "c9b", "c20", "e21"};
        s_audit_expect(s, 4, seq, v);
    }
    tm_store_close(&s);
    tm_store_verify_t vr;
    assert_int_equal(tm_store_verify(f->dir, NULL, &vr), 0); /* a valid store */
    s = s_open(f->dir, 0, 0);
    tm_store_batch_destroy(&b);
    b = tm_store_batch_new(s);
    /* a batch with both: its own records come after the copy's */
    const unsigned char k50[8] = {0, 0, 0, 0, 0, 0, 0, 50};
    const unsigned char kmax[8] = {255, 255, 255, 255, 255, 255, 255, 255};
    assert_int_equal(tm_store_batch_audit(b, "e51", 3), 0);
    assert_int_equal(tm_store_batch_audit_at(b, k50, 8, "c50", 3), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    assert_int_equal(tm_store_batch_audit_at(b, kmax, 8, "z", 1), TM_ERR_INVAL);
    {
        const uint64_t seq[] = {7, 9, 20, 21, 50, 51};
        const char *const v[] = {"e7", "c9b", "c20", "e21", "c50", "e51"};
        s_audit_expect(s, 6, seq, v);
    }

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

/* ---- map growth -----------------------------------------------------------
 */

#define S_GROW_N 1600
#define S_GROW_V 4000

static void s_check_grown(tm_store_t *s)
{
    unsigned char *want = malloc(S_GROW_V);
    assert_non_null(want);
    for (unsigned i = 0; i < S_GROW_N; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "big%05u", i);
        void *v = NULL;
        size_t n = 0;
        assert_int_equal(tm_store_get(s, TM_DB_ACTORS, k, (size_t)kl, &v, &n),
                         0);
        size_t len = S_GROW_V - (i % 100);
        assert_int_equal(n, len);
        s_fill(want, len, i);
        assert_memory_equal(v, want, len);
        free(v);
    }
    free(want);
    assert_int_equal(s_count(s, TM_DB_ACTORS), S_GROW_N);
}

static void test_map_growth(void **state)
{
    s_fix_t *f = *state;
    tm_store_stats_t st;
    tm_store_t *s = s_open(f->dir, 64 << 10, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    unsigned char *val = malloc(S_GROW_V);
    assert_non_null(val);

    tm_store_stats(s, &st);
    assert_int_equal(st.map_size, 64 << 10);
    assert_int_equal(st.grows, 0);
    assert_true(st.used_bytes > 0);

    /* About 6.3 MB in one batch against a 64 KiB map. */
    for (unsigned i = 0; i < S_GROW_N; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "big%05u", i);
        size_t len = S_GROW_V - (i % 100);
        s_fill(val, len, i);
        assert_int_equal(
            tm_store_batch_put(b, TM_DB_ACTORS, k, (size_t)kl, val, len), 0);
    }
    assert_int_equal(tm_store_batch_audit(b, "grown", 5), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_stats(s, &st);
    assert_true(st.grows >= 6); /* 64 KiB -> 8 MiB at least */
    assert_true(st.map_size >= ((size_t)6 << 20));
    assert_true(st.used_bytes >= (size_t)S_GROW_N * 3900);
    assert_true(st.used_bytes <= st.map_size);
    assert_int_equal(st.commits, 1);
    s_check_grown(s);
    size_t grown = st.map_size;

    /* The grown size is kept on reopen, even if a smaller one is asked. */
    tm_store_close(&s);
    tm_store_batch_destroy(&b);
    s = s_open(f->dir, 64 << 10, 0);
    tm_store_stats(s, &st);
    assert_int_equal(st.map_size, grown);
    assert_int_equal(st.grows, 0);
    assert_int_equal(st.commits, 0);
    s_check_grown(s);

    free(val);
    tm_store_close(&s);
}

static void test_map_full_and_reuse(void **state)
{
    s_fix_t *f = *state;
    tm_store_stats_t st;
    tm_store_t *s = s_open(f->dir, 64 << 10, 256 << 10);
    tm_store_batch_t *b = tm_store_batch_new(s);
    unsigned char val[4000];

    s_put_str(b, TM_DB_ACTORS, "before", "1");
    assert_int_equal(tm_store_batch_commit(b), 0);

    /* 800 KB cannot fit in 256 KiB: nothing of the batch is applied. */
    for (unsigned i = 0; i < 200; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "f%03u", i);
        s_fill(val, sizeof(val), i);
        assert_int_equal(tm_store_batch_put(b, TM_DB_ACTORS, k, (size_t)kl, val,
                                            sizeof(val)),
                         0);
    }
    s_put_str(b, TM_DB_ACTORS, "before", "overwritten?");
    assert_int_equal(tm_store_batch_commit(b), TM_ERR_STORE_FULL);
    assert_int_equal(tm_store_batch_size(b), 0);
    assert_int_equal(s_count(s, TM_DB_ACTORS), 1);
    s_assert_value(s, TM_DB_ACTORS, "before", "1");
    tm_store_stats(s, &st);
    assert_int_equal(st.map_size, 256 << 10);
    assert_int_equal(st.commits, 1);

    /* The batch is usable again after the error, and after a commit. */
    for (int round = 0; round < 3; round++) {
        char k[16];
        snprintf(k, sizeof(k), "after%d", round);
        s_put_str(b, TM_DB_ACTORS, k, "ok");
        assert_int_equal(tm_store_batch_commit(b), 0);
        s_assert_value(s, TM_DB_ACTORS, k, "ok");
    }
    tm_store_stats(s, &st);
    assert_int_equal(st.commits, 4);

    /* An empty commit is a no-op. */
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_stats(s, &st);
    assert_int_equal(st.commits, 4);

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

static void test_batch_validation(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 0, 0);
    tm_store_batch_t *b = tm_store_batch_new(s);
    char key[TM_STORE_MAX_KEY + 1];
    memset(key, 'k', sizeof(key));

    assert_int_equal(tm_store_batch_put(b, TM_DB_ACTORS, key, 0, "v", 1),
                     TM_ERR_INVAL);
    assert_int_equal(
        tm_store_batch_put(b, TM_DB_ACTORS, key, TM_STORE_MAX_KEY + 1, "v", 1),
        TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_del(b, TM_DB_ACTORS, key, 0), TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_put(b, TM_DB_META, "format", 6, "v", 1),
                     TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_del(b, TM_DB_META, "audit_next", 10),
                     TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_put(b, TM_DB_COUNT, "k", 1, "v", 1),
                     TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_clear(b, TM_DB_COUNT), TM_ERR_INVAL);
    assert_int_equal(tm_store_batch_size(b), 0);

    assert_int_equal(
        tm_store_batch_put(b, TM_DB_ACTORS, key, TM_STORE_MAX_KEY, "long", 4),
        0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(
        tm_store_get(s, TM_DB_ACTORS, key, TM_STORE_MAX_KEY, &v, &n), 0);
    assert_int_equal(n, 4);
    free(v);
    assert_int_equal(
        tm_store_get(s, TM_DB_ACTORS, key, TM_STORE_MAX_KEY + 1, &v, &n),
        TM_ERR_INVAL);

    tm_store_batch_destroy(&b);
    tm_store_close(&s);
}

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

static int s_count_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(size_t *)arg)++;
    return 0;
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

/* ---- concurrency
 * -------------------------------------------------------------- */

#define S_THREAD_BATCHES 150
#define S_THREAD_PUTS    20

typedef struct {
    tm_store_t *store;
    int id;
    int rc;
} s_writer_t;

static void *s_writer_main(void *arg)
{
    s_writer_t *w = arg;
    tm_store_batch_t *b = tm_store_batch_new(w->store);
    unsigned char val[700];
    if (b == NULL) {
        w->rc = TM_ERR_NOMEM;
        return NULL;
    }
    for (int i = 0; i < S_THREAD_BATCHES && w->rc == 0; i++) {
        for (int j = 0; j < S_THREAD_PUTS && w->rc == 0; j++) {
            char k[32];
            int kl = snprintf(k, sizeof(k), "t%d-%03d-%02d", w->id, i, j);
            s_fill(val, sizeof(val), (uint64_t)(w->id * 100000 + i * 100 + j));
            w->rc = tm_store_batch_put(b, TM_DB_ACTORS, k, (size_t)kl, val,
                                       sizeof(val));
        }
        if (w->rc == 0) {
            w->rc = tm_store_batch_audit(b, &w->id, sizeof(w->id));
        }
        if (w->rc == 0) {
            w->rc = tm_store_batch_commit(b);
        }
    }
    tm_store_batch_destroy(&b);
    return NULL;
}

typedef struct {
    tm_store_t *store;
    atomic_int *stop;
    int rc;
    long reads;
} s_reader_t;

static void *s_reader_main(void *arg)
{
    s_reader_t *r = arg;
    while (!atomic_load(r->stop) && r->rc == 0) {
        size_t n = 0, m = 0;
        void *v = NULL;
        size_t vl = 0;
        r->rc = tm_store_count(r->store, TM_DB_ACTORS, &n);
        if (r->rc == 0) {
            r->rc = tm_store_foreach(r->store, TM_DB_ACTORS, s_count_cb, &m);
        }
        if (r->rc == 0 && m < n) {
            r->rc = TM_ERR_INTERNAL; /* a later snapshot has fewer records */
        }
        if (r->rc == 0) {
            int g =
                tm_store_get(r->store, TM_DB_ACTORS, "t0-000-00", 9, &v, &vl);
            r->rc = g == TM_ERR_NOT_FOUND ? 0 : g;
            free(v);
        }
        r->reads++;
    }
    return NULL;
}

static void test_concurrent_commits(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *s = s_open(f->dir, 64 << 10, 0); /* grows while in use */
    s_writer_t w[2] = {{s, 0, 0}, {s, 1, 0}};
    atomic_int stop;
    atomic_init(&stop, 0);
    s_reader_t r = {s, &stop, 0, 0};
    pthread_t tw[2], tr;

    assert_int_equal(pthread_create(&tr, NULL, s_reader_main, &r), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&tw[i], NULL, s_writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(tw[i], NULL), 0);
    }
    atomic_store(&stop, 1);
    assert_int_equal(pthread_join(tr, NULL), 0);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(w[1].rc, 0);
    assert_int_equal(r.rc, 0);
    assert_true(r.reads > 0);

    tm_store_stats_t st;
    tm_store_stats(s, &st);
    assert_int_equal(st.commits, 2 * S_THREAD_BATCHES);
    assert_true(st.grows > 0);
    assert_int_equal(s_count(s, TM_DB_ACTORS),
                     2 * S_THREAD_BATCHES * S_THREAD_PUTS);
    assert_int_equal(s_count(s, TM_DB_AUDIT), 2 * S_THREAD_BATCHES);
    unsigned char want[700];
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < S_THREAD_BATCHES; i += 7) {
            for (int j = 0; j < S_THREAD_PUTS; j += 3) {
                char k[32];
                int kl = snprintf(k, sizeof(k), "t%d-%03d-%02d", t, i, j);
                void *v = NULL;
                size_t n = 0;
                assert_int_equal(
                    tm_store_get(s, TM_DB_ACTORS, k, (size_t)kl, &v, &n), 0);
                s_fill(want, sizeof(want),
                       (uint64_t)(t * 100000 + i * 100 + j));
                assert_int_equal(n, sizeof(want));
                assert_memory_equal(v, want, n);
                free(v);
            }
        }
    }
    tm_store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_del, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_last_op_wins, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_hook, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_foreach_order_count, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_foreach_nested, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_clear, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_audit_sequence, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_full_and_reuse, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_validation, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_corrupt, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_locked, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_commits, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_checksums, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_format1, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_verify_errors, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_nospace, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
