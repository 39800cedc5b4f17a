/* store_test: the LMDB store's batches, reads, commit hooks, walks, the
 * audit sequence, map growth, batch validation and concurrent commits.
 * Files, open errors, exclusion, checksums, format 1 and storage errors on
 * real file systems: store_files_test. Every test works in its own fresh
 * directory (store_fixture.h). */
#include "store_fixture.h"

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
        cmocka_unit_test_setup_teardown(test_concurrent_commits, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
