/* store_verify_test: a damaged store is reported, never trusted, and never
 * crashes the caller; a store verified sound loads; backups are verified.
 *
 * The fixture is a real node store: actors of three models with links,
 * three checkpoints (so that LMDB's free list holds pages), audit records
 * and large catalog values (overflow pages), written through tm_rt and
 * tm_persist. Trials damage copies of its data.mdb: whole 4 KiB pages
 * overwritten with random bytes (fixed seed). Which pages are in use is
 * read from the original's free list, so each trial knows the right answer:
 * damage to a page in use must be reported, damage to free pages only must
 * not, and a copy reported sound must load with the original's digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_models.h"
#include "tm_persist.h"
#include "tm_store.h"

#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_TRIALS   200      /* damaged copies of a checksummed store */
#define S_TRIALS_1 100      /* ... of the same store in format 1 */
#define S_SEED     20261130 /* fixed: every run damages the same pages */
#define S_OSC      600
#define S_TANKS    200

typedef struct {
    char root[512];
    char orig[600];      /* the fixture store */
    char trial[600];     /* a damaged copy, rewritten by each trial */
    char format1[600];   /* the fixture rewritten in format 1 */
    unsigned char *data; /* orig data.mdb */
    size_t len;
    unsigned char *data1; /* format1 data.mdb */
    size_t len1;
    size_t psize;
    unsigned char *in_use; /* per page of orig: 1 in use, 0 free */
    size_t pages;
    uint8_t digest[32]; /* of the runtime at the last checkpoint */
    uint64_t tick;
    size_t actors, links;
} s_fix_t;

/* ---- helpers -------------------------------------------------------------
 */

static uint64_t s_rng = S_SEED;

static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void s_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                char sub[1024];
                if (strcmp(e->d_name, ".") == 0 ||
                    strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                s_rmtree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static unsigned char *s_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    return buf;
}

/* A fresh directory `dir` holding only data.mdb = p[0..n). */
static void s_write_store(const char *dir, const void *p, size_t n)
{
    char path[700];
    s_rmtree(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void s_spawn(tm_rt_t *rt, tm_store_batch_t *b, const char *id,
                    const char *family)
{
    const tm_model_t *m = NULL;
    tm_rt_actor_t a;
    tm_wire_buf_t scratch;
    assert_int_equal(tm_models_find(family, NULL, TM_FIDELITY_HIGH, &m), 0);
    assert_int_equal(tm_rt_spawn(rt, id, m, NULL), 0);
    assert_int_equal(tm_rt_get(rt, id, &a), 0);
    tm_wire_buf_init(&scratch);
    assert_int_equal(tm_persist_put_actor(b, rt, &a, &scratch), 0);
    tm_wire_buf_destroy(&scratch);
}

static void s_link(tm_rt_t *rt, tm_store_batch_t *b, const char *src,
                   const char *out, const char *dst, const char *in)
{
    tm_rt_link_t l = {src, out, dst, in, 1};
    assert_int_equal(tm_rt_link(rt, src, out, dst, in), 0);
    assert_int_equal(tm_persist_put_link(b, &l), 0);
}

static void s_commit(tm_store_batch_t *b)
{
    assert_int_equal(tm_store_batch_commit(b), 0);
}

/* Load dir into a fresh runtime at its checkpoint: 0 and the same digest
 * and counts as the fixture, or the error. */
static int s_load_matches(const s_fix_t *f, const char *dir, int read_only)
{
    tm_store_t *store = NULL;
    tm_store_opts_t o = {0, 0, 0, read_only};
    tm_persist_meta_t meta;
    tm_persist_load_t ld;
    tm_rt_t *rt = NULL;
    uint8_t d[32];
    int rc = tm_store_open(&store, dir, &o);
    if (rc == 0) {
        rc = tm_persist_read_meta(store, &meta);
    }
    if (rc == 0) {
        tm_rt_config_t c = {.workers = 1, .h = 0.05, .seed = 7};
        c.tick = meta.tick;
        rc = tm_rt_open(&rt, &c);
    }
    if (rc == 0) {
        rc = tm_persist_load(store, rt, &ld);
    }
    if (rc == 0) {
        assert_int_equal(ld.actors, f->actors);
        assert_int_equal(ld.links, f->links);
        assert_int_equal(ld.actors_skipped + ld.links_skipped, 0);
        assert_int_equal(tm_rt_tick(rt), f->tick);
        assert_int_equal(tm_rt_digest(rt, d), 0);
        assert_memory_equal(d, f->digest, 32);
    }
    tm_rt_destroy(&rt);
    tm_store_close(&store);
    return rc;
}

/* Mark the pages of the store in dir that are in use: pages 0 and 1 (the
 * meta pages) and every page up to the last one that is not in LMDB's free
 * list. Pages past the last one are free. */
static void s_map_pages(s_fix_t *f)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_envinfo info;
    MDB_stat st;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, f->orig, MDB_RDONLY | MDB_NOLOCK, 0600),
                     0);
    assert_int_equal(mdb_env_info(env, &info), 0);
    assert_int_equal(mdb_env_stat(env, &st), 0);
    f->psize = st.ms_psize;
    f->pages = f->len / f->psize;
    f->in_use = calloc(f->pages, 1);
    assert_non_null(f->in_use);
    for (size_t p = 0; p <= info.me_last_pgno && p < f->pages; p++) {
        f->in_use[p] = 1;
    }
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, 0, &cur), 0);
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        size_t n = 0;
        memcpy(&n, v.mv_data, sizeof n);
        for (size_t i = 1; i <= n; i++) {
            size_t pg = 0;
            memcpy(&pg, (unsigned char *)v.mv_data + i * sizeof pg, sizeof pg);
            assert_true(pg < f->pages);
            f->in_use[pg] = 0;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* The fixture rewritten as the previous release would have written it:
 * format 1, values without checksums. */
static void s_make_format1(s_fix_t *f)
{
    static const char *const names[TM_DB_COUNT] = {"meta", "actors", "links",
                                                   "catalog", "audit"};
    MDB_env *src, *dst;
    MDB_txn *st, *dt;
    char path[700];
    s_rmtree(f->format1);
    assert_int_equal(mkdir(f->format1, 0700), 0);
    assert_int_equal(mdb_env_create(&src), 0);
    assert_int_equal(mdb_env_set_maxdbs(src, 8), 0);
    assert_int_equal(mdb_env_open(src, f->orig, MDB_RDONLY | MDB_NOLOCK, 0600),
                     0);
    assert_int_equal(mdb_env_create(&dst), 0);
    assert_int_equal(mdb_env_set_maxdbs(dst, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(dst, 64 << 20), 0);
    assert_int_equal(mdb_env_open(dst, f->format1, MDB_NOLOCK, 0600), 0);
    assert_int_equal(mdb_txn_begin(src, NULL, MDB_RDONLY, &st), 0);
    assert_int_equal(mdb_txn_begin(dst, NULL, 0, &dt), 0);
    for (int db = 0; db < TM_DB_COUNT; db++) {
        MDB_dbi sd, dd;
        MDB_cursor *cur;
        MDB_val k, v;
        assert_int_equal(mdb_dbi_open(st, names[db], 0, &sd), 0);
        assert_int_equal(mdb_dbi_open(dt, names[db], MDB_CREATE, &dd), 0);
        assert_int_equal(mdb_cursor_open(st, sd, &cur), 0);
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            unsigned char fmt[18];
            if (db == TM_DB_META && k.mv_size == 6 &&
                memcmp(k.mv_data, "format", 6) == 0) {
                memcpy(fmt, v.mv_data, 18);
                fmt[17] = 1;
                v.mv_data = fmt;
            } else {
                v.mv_size -= 16; /* the checksum */
            }
            assert_int_equal(mdb_put(dt, dd, &k, &v, 0), 0);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(st);
    assert_int_equal(mdb_txn_commit(dt), 0);
    mdb_env_close(dst);
    mdb_env_close(src);
    snprintf(path, sizeof path, "%s/data.mdb", f->format1);
    f->data1 = s_read_file(path, &f->len1);
}

/* ---- fixture ---------------------------------------------------------------
 */

static int s_group_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char path[700];
    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    mkdir(base, 0700);
    snprintf(f->root, sizeof f->root, "%s/store_verify_test.XXXXXX", base);
    if (mkdtemp(f->root) == NULL) {
        return -1;
    }
    snprintf(f->orig, sizeof f->orig, "%s/orig", f->root);
    snprintf(f->trial, sizeof f->trial, "%s/trial", f->root);
    snprintf(f->format1, sizeof f->format1, "%s/format1", f->root);

    tm_store_t *store = NULL;
    tm_store_opts_t so = {.create = 1};
    assert_int_equal(tm_store_open(&store, f->orig, &so), 0);
    tm_rt_config_t c = {.workers = 1, .h = 0.05, .seed = 7};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &c), 0);
    tm_store_batch_t *b = tm_store_batch_new(store);
    char id[32], id2[32];
    for (int i = 0; i < S_OSC; i++) {
        snprintf(id, sizeof id, "o%d", i);
        s_spawn(rt, b, id, "oscillator");
    }
    for (int i = 0; i < S_TANKS; i++) {
        snprintf(id, sizeof id, "t%d", i);
        s_spawn(rt, b, id, "tank");
        snprintf(id, sizeof id, "p%d", i);
        s_spawn(rt, b, id, "pump");
    }
    s_commit(b);
    for (int i = 0; i + 1 < S_OSC / 2; i++) {
        snprintf(id, sizeof id, "o%d", i);
        snprintf(id2, sizeof id2, "o%d", i + 1);
        s_link(rt, b, id, "x", id2, "fl");
    }
    for (int i = 0; i < S_TANKS; i++) {
        snprintf(id, sizeof id, "p%d", i);
        snprintf(id2, sizeof id2, "t%d", i);
        s_link(rt, b, id, "flow", id2, "qin");
        s_link(rt, b, id2, "level", id, "h_suction");
    }
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "event %d", i);
        assert_int_equal(tm_store_batch_audit(b, id, strlen(id)), 0);
    }
    for (int i = 0; i < 3; i++) {
        unsigned char big[10000];
        memset(big, 'a' + i, sizeof big);
        snprintf(id, sizeof id, "model-%d", i);
        assert_int_equal(tm_store_batch_put(b, TM_DB_CATALOG, id, strlen(id),
                                            big, sizeof big),
                         0);
    }
    s_commit(b);
    for (int k = 0; k < 3; k++) { /* three checkpoints: free pages */
        assert_int_equal(tm_rt_step(rt, 10), 0);
        assert_int_equal(tm_persist_checkpoint(rt, b), 0);
        s_commit(b);
    }
    tm_store_batch_destroy(&b);
    tm_rt_stats_t rs;
    tm_rt_stats(rt, &rs);
    f->actors = rs.actors;
    f->links = rs.links;
    f->tick = tm_rt_tick(rt);
    assert_int_equal(tm_rt_digest(rt, f->digest), 0);
    tm_rt_destroy(&rt);
    tm_store_close(&store);

    snprintf(path, sizeof path, "%s/data.mdb", f->orig);
    f->data = s_read_file(path, &f->len);
    s_map_pages(f);
    s_make_format1(f);
    *state = f;
    return 0;
}

static int s_group_teardown(void **state)
{
    s_fix_t *f = *state;
    s_rmtree(f->root);
    free(f->data);
    free(f->data1);
    free(f->in_use);
    free(f);
    return 0;
}

/* ---- tests ---------------------------------------------------------------
 */

static void test_sound(void **state)
{
    s_fix_t *f = *state;
    tm_store_verify_t v;
    assert_int_equal(tm_persist_verify(f->orig, &v), 0);
    assert_int_equal(v.format, TM_STORE_FORMAT_VERSION);
    assert_true(v.checksums);
    assert_int_equal(v.records[TM_DB_ACTORS], f->actors);
    assert_int_equal(v.records[TM_DB_LINKS], f->links);
    assert_int_equal(v.records[TM_DB_AUDIT], 50);
    assert_int_equal(v.records[TM_DB_CATALOG], 3);
    assert_int_equal(v.pages, f->pages);
    assert_true(v.free_pages > 0);
    assert_int_equal(s_load_matches(f, f->orig, 1), 0);
    print_message("    fixture: %zu actors, %zu links, %zu pages of %zu "
                  "bytes, %llu free\n",
                  f->actors, f->links, f->pages, f->psize,
                  (unsigned long long)v.free_pages);
}

typedef struct {
    int sound, damaged, by_signal, by_exit, by_lmdb, by_checksum, by_record,
        by_structure, by_open;
} s_tally_t;

static void s_classify(s_tally_t *t, const tm_store_verify_t *v)
{
    t->damaged++;
    if (v->signal != 0) {
        t->by_signal++;
    } else if (strstr(v->why, "ended without a result") != NULL) {
        t->by_exit++; /* sanitizers end a crashed child with exit(1) */
    } else if (strstr(v->why, "LMDB") != NULL || v->lmdb_error != 0) {
        t->by_lmdb++;
    } else if (strcmp(v->why, "checksum does not match") == 0) {
        t->by_checksum++;
    } else if (strstr(v->why, "does not decode") != NULL ||
               strstr(v->why, "cannot be an actor id") != NULL ||
               strstr(v->why, "not its key") != NULL) {
        t->by_record++;
    } else if (v->db == -1 && !v->have_key &&
               (strstr(v->why, "data file") != NULL ||
                strstr(v->why, "marker") != NULL ||
                strstr(v->why, "meta database") != NULL)) {
        t->by_open++;
    } else {
        t->by_structure++;
    }
}

static void s_print_tally(const char *what, int trials, const s_tally_t *t)
{
    print_message(
        "    %s: %d trials: %d sound (free pages only), %d damaged: %d "
        "killed by a signal, %d ended without a result, %d LMDB errors, %d "
        "checksums, %d record checks, %d structure checks, %d refused at "
        "open\n",
        what, trials, t->sound, t->damaged, t->by_signal, t->by_exit,
        t->by_lmdb, t->by_checksum, t->by_record, t->by_structure, t->by_open);
}

/* Overwrite 1 to 3 random pages of a copy of data with random bytes;
 * returns whether any of them is in use. */
static int s_damage(const s_fix_t *f, const unsigned char *data, size_t len,
                    int npages, char *pages, size_t cap)
{
    unsigned char *copy = malloc(len);
    int any = 0;
    size_t used = 0;
    assert_non_null(copy);
    memcpy(copy, data, len);
    pages[0] = '\0';
    for (int i = 0; i < npages; i++) {
        size_t pg = (size_t)(s_next() % (len / f->psize));
        for (size_t j = 0; j < f->psize; j++) {
            copy[pg * f->psize + j] = (unsigned char)s_next();
        }
        any |= pg < f->pages && f->in_use[pg];
        used += (size_t)snprintf(pages + used, cap - used, "%s%zu",
                                 i ? "," : "", pg);
    }
    s_write_store(f->trial, copy, len);
    free(copy);
    return any;
}

static void test_random_pages(void **state)
{
    s_fix_t *f = *state;
    s_tally_t t;
    memset(&t, 0, sizeof t);
    s_rng = S_SEED;
    for (int trial = 0; trial < S_TRIALS; trial++) {
        char pages[64], line[600];
        tm_store_verify_t v;
        int in_use =
            s_damage(f, f->data, f->len, 1 + trial % 3, pages, sizeof pages);
        int rc = tm_persist_verify(f->trial, &v);
        tm_store_verify_describe(&v, line, sizeof line);
        if (rc != 0 && rc != TM_ERR_STORE_CORRUPT) {
            fail_msg("trial %d (pages %s): verify returned %s", trial, pages,
                     tm_err_name(rc));
        }
        if (in_use && rc == 0) {
            fail_msg("trial %d: damage to pages %s (in use) not found", trial,
                     pages);
        }
        if (!in_use && rc != 0) {
            fail_msg("trial %d: pages %s are free, yet: %s", trial, pages,
                     line);
        }
        if (rc == 0) {
            t.sound++;
            /* Verified sound: it loads, as it was. */
            assert_int_equal(s_load_matches(f, f->trial, 0), 0);
        } else {
            s_classify(&t, &v);
            assert_true(line[0] != '\0');
        }
    }
    s_print_tally("format 2", S_TRIALS, &t);
    assert_true(t.sound > 0 && t.damaged > 0);
}

/* Without checksums, damage is found only where LMDB, the structure or the
 * record decoders notice it; the caller still never crashes, and a store
 * reported sound still loads without error. */
static void test_random_pages_format1(void **state)
{
    s_fix_t *f = *state;
    s_tally_t t;
    int missed = 0;
    memset(&t, 0, sizeof t);
    s_rng = S_SEED + 1;
    for (int trial = 0; trial < S_TRIALS_1; trial++) {
        char pages[64];
        tm_store_verify_t v;
        s_damage(f, f->data1, f->len1, 1 + trial % 3, pages, sizeof pages);
        int rc = tm_persist_verify(f->trial, &v);
        assert_true(rc == 0 || rc == TM_ERR_STORE_CORRUPT);
        if (rc == 0) {
            tm_store_t *store = NULL;
            tm_store_opts_t ro = {0, 0, 0, 1};
            tm_rt_config_t c = {.workers = 1, .h = 0.05, .seed = 7};
            tm_rt_t *rt = NULL;
            tm_persist_load_t ld;
            uint8_t d[32];
            t.sound++;
            assert_int_equal(tm_store_open(&store, f->trial, &ro), 0);
            c.tick = f->tick;
            assert_int_equal(tm_rt_open(&rt, &c), 0);
            assert_int_equal(tm_persist_load(store, rt, &ld), 0);
            assert_int_equal(tm_rt_digest(rt, d), 0);
            missed += memcmp(d, f->digest, 32) != 0 || ld.actors != f->actors;
            tm_rt_destroy(&rt);
            tm_store_close(&store);
        } else {
            s_classify(&t, &v);
        }
    }
    s_print_tally("format 1", S_TRIALS_1, &t);
    print_message("    format 1: %d copies reported sound loaded with "
                  "another digest (damage no check could see)\n",
                  missed);
}

static void test_record_checks(void **state)
{
    (void)state;
    char why[TM_STORE_WHY_MAX];
    tm_persist_actor_t a;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "pump");
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_check_record(TM_DB_ACTORS, "p1", 2, p.sbuf.data,
                                             p.sbuf.size, why, sizeof why,
                                             NULL),
                     0);
    /* truncated, under an impossible key */
    assert_int_not_equal(tm_persist_check_record(TM_DB_ACTORS, "p1", 2,
                                                 p.sbuf.data, p.sbuf.size - 1,
                                                 why, sizeof why, NULL),
                         0);
    assert_non_null(strstr(why, "actor record does not decode"));
    assert_int_equal(tm_persist_check_record(TM_DB_ACTORS, "p\0x", 3,
                                             p.sbuf.data, p.sbuf.size, why,
                                             sizeof why, NULL),
                     TM_ERR_STORE_CORRUPT);
    assert_non_null(strstr(why, "cannot be an actor id"));
    tm_wire_buf_destroy(&p);

    /* a link record must name its key */
    tm_store_t *store = NULL;
    (void)store;
    tm_wire_buf_init(&p);
    msgpack_pack_map(&p.pk, 4);
    tm_wire_pack_kv_str(&p.pk, "src", "p1");
    tm_wire_pack_kv_str(&p.pk, "output", "flow");
    tm_wire_pack_kv_str(&p.pk, "dst", "t1");
    tm_wire_pack_kv_str(&p.pk, "input", "qin");
    assert_int_equal(tm_persist_check_record(TM_DB_LINKS, "p1.flow>t1.qin", 14,
                                             p.sbuf.data, p.sbuf.size, why,
                                             sizeof why, NULL),
                     0);
    assert_int_equal(tm_persist_check_record(TM_DB_LINKS, "p1.flow>t2.qin", 14,
                                             p.sbuf.data, p.sbuf.size, why,
                                             sizeof why, NULL),
                     TM_ERR_STORE_CORRUPT);
    assert_string_equal(why, "link record names p1.flow>t1.qin, not its key");
    tm_wire_buf_destroy(&p);

    /* meta: checkpoint settings have their types, other keys pass */
    static const unsigned char tick[9] = {0xcf, 0, 0, 0, 0, 0, 0, 0, 9};
    static const unsigned char h[9] = {0xcb, 0x3f, 0xa9, 0x99, 0x99,
                                       0x99, 0x99, 0x99, 0x9a};
    assert_int_equal(tm_persist_check_record(TM_DB_META, "tick", 4, tick, 9,
                                             why, sizeof why, NULL),
                     0);
    assert_int_equal(tm_persist_check_record(TM_DB_META, "h", 1, h, 9, why,
                                             sizeof why, NULL),
                     0);
    assert_int_not_equal(tm_persist_check_record(TM_DB_META, "tick", 4, h, 9,
                                                 why, sizeof why, NULL),
                         0);
    assert_int_equal(tm_persist_check_record(TM_DB_META, "node", 4, "x", 1, why,
                                             sizeof why, NULL),
                     0);
    assert_int_equal(tm_persist_check_record(TM_DB_CATALOG, "c", 1, "\xc1", 1,
                                             why, sizeof why, NULL),
                     0);
}

static int s_refuse_o5(tm_store_db_t db, const void *key, size_t klen,
                       const void *val, size_t vlen, char *why, size_t whylen,
                       void *arg)
{
    (void)val;
    (void)vlen;
    (void)arg;
    if (db == TM_DB_ACTORS && klen == 2 && memcmp(key, "o5", 2) == 0) {
        snprintf(why, whylen, "refused for the test");
        return TM_ERR_STORE_CORRUPT;
    }
    return 0;
}

static void test_backup(void **state)
{
    s_fix_t *f = *state;
    char live[700], dest[700], path[800];
    tm_store_verify_t v;
    struct stat st;
    snprintf(live, sizeof live, "%s/live", f->root);
    snprintf(dest, sizeof dest, "%s/backups/one", f->root);
    s_write_store(live, f->data, f->len);
    tm_store_t *store = NULL;
    assert_int_equal(tm_store_open(&store, live, NULL), 0);

    /* A live, compacted copy: verified, loads with the same digest. */
    assert_int_equal(tm_persist_backup(store, dest, &v), 0);
    assert_int_equal(v.records[TM_DB_ACTORS], f->actors);
    assert_int_equal(v.free_pages, 0); /* compacted */
    assert_true(v.pages < f->pages);
    assert_int_equal(stat(dest, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof path, "%s/data.mdb", dest);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Later commits are not in it. */
    tm_store_batch_t *b = tm_store_batch_new(store);
    assert_int_equal(tm_persist_del_actor(b, "o599"), 0);
    s_commit(b);
    tm_store_batch_destroy(&b);
    assert_int_equal(s_load_matches(f, dest, 1), 0);

    /* Only into a new or empty directory. */
    assert_int_equal(tm_persist_backup(store, dest, &v), TM_ERR_EXISTS);
    assert_int_equal(tm_persist_backup(store, path, &v), TM_ERR_EXISTS);

    /* A copy that fails its verification is not kept. */
    tm_store_verify_opts_t refuse = {s_refuse_o5, NULL};
    snprintf(dest, sizeof dest, "%s/backups/two", f->root);
    assert_int_equal(tm_store_backup(store, dest, &refuse, &v),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(v.db, TM_DB_ACTORS);
    assert_memory_equal(v.key, "o5", 2);
    assert_int_equal(stat(dest, &st), -1);
    assert_int_equal(mkdir(dest, 0700), 0); /* an empty one stays, empty */
    assert_int_equal(tm_store_backup(store, dest, &refuse, &v),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(rmdir(dest), 0);
    tm_store_failure_t fail;
    tm_store_last_failure(store, &fail);
    assert_int_equal(fail.error, TM_ERR_STORE_CORRUPT);
    tm_store_close(&store);
}

static void test_format1_upgrade(void **state)
{
    s_fix_t *f = *state;
    tm_store_verify_t v;
    s_write_store(f->trial, f->data1, f->len1);
    assert_int_equal(tm_persist_verify(f->trial, &v), 0);
    assert_int_equal(v.format, 1);
    assert_false(v.checksums);
    assert_int_equal(v.records[TM_DB_ACTORS], f->actors);
    assert_int_equal(s_load_matches(f, f->trial, 1), 0); /* read as it is */
    assert_int_equal(tm_persist_verify(f->trial, &v), 0);
    assert_int_equal(v.format, 1);
    assert_int_equal(s_load_matches(f, f->trial, 0), 0); /* upgraded */
    assert_int_equal(tm_persist_verify(f->trial, &v), 0);
    assert_int_equal(v.format, 2);
    assert_true(v.checksums);
    assert_int_equal(s_load_matches(f, f->trial, 1), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sound),
        cmocka_unit_test(test_random_pages),
        cmocka_unit_test(test_random_pages_format1),
        cmocka_unit_test(test_record_checks),
        cmocka_unit_test(test_backup),
        cmocka_unit_test(test_format1_upgrade),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
