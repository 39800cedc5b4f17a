/* tm_store_verify: the check of a whole store in a child process (so a
 * crash on a damaged page ends only the child), and its report.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h> /* the storage engine */

#include <assert.h>
#include <errno.h>    /* EINTR, ENOMEM */
#include <signal.h>   /* the verifier child's signal dispositions */
#include <stdarg.h>   /* s_damage */
#include <stdio.h>    /* snprintf */
#include <string.h>   /* memcmp, memcpy, memset */
#include <sys/mman.h> /* the verifier's report, shared with the child */
#include <sys/wait.h> /* waitpid for the verifier child */
#include <unistd.h>   /* fork, _exit */

/* The report shared with the verifier child (MAP_SHARED): the child keeps
 * its progress (database, last sound key) and its result there, so the
 * parent can still say where it was if it crashed. */
typedef struct {
    tm_store_verify_t r;
    int rc;   /* the child's result, valid once done */
    int done; /* the child finished */
} s_vshm_t;

typedef struct {
    MDB_txn *txn;
    tm_store_verify_t *r;
    const tm_store_verify_opts_t *o;
    uint64_t last_pgno;
    uint64_t max_records; /* more records than the file can hold */
    uint64_t used_pages;  /* pages the databases' headers claim */
    uint64_t audit_next;  /* from meta; 0 if absent */
    int tagged;
} s_walk_t;

static int s_damage(tm_store_verify_t *r, int lmdb_error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record what is wrong (where is already in r). Returns
 * TM_ERR_STORE_CORRUPT. */
static int s_damage(tm_store_verify_t *r, int lmdb_error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
    r->lmdb_error = lmdb_error;
    return TM_ERR_STORE_CORRUPT;
}

int tmi_store_damage_lmdb(tm_store_verify_t *r, const char *what, int mrc)
{
    return s_damage(r, mrc, "%s: LMDB: %s", what, mdb_strerror(mrc));
}

/* The records LMDB keeps for itself in the free list: key = transaction
 * id, value = count followed by that many page numbers. */
static int s_walk_free(s_walk_t *w, uint64_t *free_pages)
{
    tm_store_verify_t *r = w->r;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = 0;
    int rc = 0;
    int mrc = mdb_stat(w->txn, 0, &st); /* 0: LMDB's free-page database */
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, 0, &cur);
    }
    if (mrc != 0) {
        rc = tmi_store_damage_lmdb(r, "free list", mrc);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t cnt = 0;
        if (++n > st.ms_entries) {
            rc = s_damage(r, 0,
                          "free list: more records than its header "
                          "counts (%zu)",
                          (size_t)st.ms_entries);
            goto done;
        }
        if (k.mv_size != sizeof(size_t) || v.mv_size < sizeof(size_t) ||
            v.mv_size % sizeof(size_t) != 0) {
            rc = s_damage(r, 0, "free list: malformed record");
            goto done;
        }
        memcpy(&cnt, v.mv_data, sizeof(cnt));
        if (cnt != v.mv_size / sizeof(size_t) - 1) {
            rc = s_damage(r, 0,
                          "free list: record counts %zu pages in %zu "
                          "bytes",
                          cnt, (size_t)v.mv_size);
            goto done;
        }
        for (size_t i = 1; i <= cnt; i++) {
            size_t pg = 0;
            memcpy(&pg, (const unsigned char *)v.mv_data + i * sizeof(pg),
                   sizeof(pg));
            if (pg < 2 || pg > w->last_pgno) {
                rc = s_damage(r, 0,
                              "free list: names page %zu, outside the "
                              "file's pages 2..%llu",
                              pg, (unsigned long long)w->last_pgno);
                goto done;
            }
        }
        *free_pages += cnt;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = tmi_store_damage_lmdb(r, "free list", mrc);
    } else if (n != st.ms_entries) {
        rc = s_damage(r, 0, "free list: %zu records, its header counts %zu",
                      (size_t)n, (size_t)st.ms_entries);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* LMDB's main database names the others: only ours may be there. */
static int s_walk_main(s_walk_t *w)
{
    tm_store_verify_t *r = w->r;
    MDB_dbi main_dbi;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0;
    int mrc = mdb_dbi_open(w->txn, NULL, 0, &main_dbi);
    if (mrc == 0) {
        mrc = mdb_stat(w->txn, main_dbi, &st);
    }
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, main_dbi, &cur);
    }
    if (mrc != 0) {
        rc = tmi_store_damage_lmdb(r, "main database", mrc);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int known = 0;
        for (int i = 0; i < TM_DB_COUNT; i++) {
            known |= k.mv_size == strlen(tm_store_db_name((tm_store_db_t)i)) &&
                     memcmp(k.mv_data, tm_store_db_name((tm_store_db_t)i),
                            k.mv_size) == 0;
        }
        if (!known) {
            rc = s_damage(r, 0,
                          "main database: names an unknown database "
                          "(%zu bytes)",
                          (size_t)k.mv_size);
            goto done;
        }
    }
    if (mrc != MDB_NOTFOUND) {
        rc = tmi_store_damage_lmdb(r, "main database", mrc);
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* Bytewise with a shorter key first: LMDB's default order. */
static int s_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

static void s_walk_key(tm_store_verify_t *r, const MDB_val *k, int after)
{
    r->klen = k->mv_size < sizeof(r->key) ? k->mv_size : sizeof(r->key);
    memcpy(r->key, k->mv_data, r->klen);
    r->have_key = 1;
    r->key_after = after;
}

/* One record of one of our databases; the key is already known to be in
 * order. Returns 0 or TM_ERR_STORE_CORRUPT. */
static int s_walk_record(s_walk_t *w, int db, const MDB_val *k, MDB_val *v)
{
    tm_store_verify_t *r = w->r;
    if (tmi_store_is_marker(db, k)) {
        return 0; /* checked when the store was opened */
    }
    if (tmi_store_untag(w->tagged, db, k, v) != 0) {
        return s_damage(r, 0, "checksum does not match");
    }
    if (db == TM_DB_META &&
        k->mv_size == sizeof(TMI_STORE_KEY_AUDIT_NEXT) - 1 &&
        memcmp(k->mv_data, TMI_STORE_KEY_AUDIT_NEXT, k->mv_size) == 0) {
        if (v->mv_size != 8) {
            return s_damage(r, 0, "audit_next is %zu bytes, not 8",
                            (size_t)v->mv_size);
        }
        w->audit_next = tmi_store_get_be64(v->mv_data);
        return 0;
    }
    if (db == TM_DB_AUDIT) {
        uint64_t seq = k->mv_size == 8 ? tmi_store_get_be64(k->mv_data) : 0;
        if (seq == 0) {
            return s_damage(r, 0, "audit key is not a sequence number");
        }
        if (w->audit_next != 0 && seq >= w->audit_next) {
            return s_damage(
                r, 0, "audit record %llu at or beyond audit_next %llu",
                (unsigned long long)seq, (unsigned long long)w->audit_next);
        }
    }
    if (w->o->check != NULL) {
        char why[TM_STORE_WHY_MAX];
        why[0] = '\0';
        int rc =
            w->o->check((tm_store_db_t)db, k->mv_data, k->mv_size, v->mv_data,
                        v->mv_size, why, sizeof(why), w->o->arg);
        if (rc != 0) {
            return s_damage(r, 0, "%s", why[0] ? why : tm_err_str(rc));
        }
    }
    return 0;
}

/* Every record of one of our databases, in key order. */
static int s_walk_db(s_walk_t *w, MDB_dbi dbi, int db)
{
    tm_store_verify_t *r = w->r;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t n = 0;
    int rc = 0;
    r->db = db;
    r->have_key = 0;
    r->key_after = 0;
    int mrc = mdb_stat(w->txn, dbi, &st);
    if (mrc == 0) {
        mrc = mdb_cursor_open(w->txn, dbi, &cur);
    }
    if (mrc != 0) {
        rc = tmi_store_damage_lmdb(r, "header", mrc);
        goto done;
    }
    if (st.ms_entries > w->max_records) {
        rc = s_damage(r, 0,
                      "header counts %zu records, more than the file "
                      "can hold",
                      (size_t)st.ms_entries);
        goto done;
    }
    w->used_pages +=
        st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (++n > st.ms_entries) {
            rc = s_damage(r, 0, "more records than its header counts (%zu)",
                          (size_t)st.ms_entries);
            goto done;
        }
        if (k.mv_size == 0 || k.mv_size > TM_STORE_MAX_KEY) {
            rc = s_damage(r, 0, "a key of %zu bytes", (size_t)k.mv_size);
            goto done;
        }
        if (r->have_key &&
            s_key_cmp(r->key, r->klen, k.mv_data, k.mv_size) >= 0) {
            rc = s_damage(r, 0, "next key is not in ascending order");
            goto done;
        }
        s_walk_key(r, &k, 0);
        rc = s_walk_record(w, db, &k, &v);
        if (rc != 0) {
            goto done;
        }
        r->key_after = 1; /* this one is sound */
    }
    if (mrc != MDB_NOTFOUND) {
        rc = tmi_store_damage_lmdb(r, "reading the next record", mrc);
    } else if (n != st.ms_entries) {
        rc = s_damage(r, 0, "%zu records, its header counts %zu", (size_t)n,
                      (size_t)st.ms_entries);
    } else {
        r->records[db] = n;
    }
done:
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return rc;
}

/* The whole walk, in the child, in one read transaction. */
static int s_walk(tm_store_t *s, const tm_store_verify_opts_t *o,
                  tm_store_verify_t *r)
{
    s_walk_t w;
    MDB_envinfo info;
    MDB_stat est;
    uint64_t free_pages = 0;
    int rc = 0;
    memset(&w, 0, sizeof(w));
    w.r = r;
    w.o = o;
    int mrc = mdb_env_info(s->env, &info);
    if (mrc == 0) {
        mrc = mdb_env_stat(s->env, &est);
    }
    if (mrc == 0) {
        mrc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &w.txn);
    }
    if (mrc != 0) {
        w.txn = NULL;
        rc = tmi_store_damage_lmdb(r, "data file", mrc);
        goto done;
    }
    w.last_pgno = info.me_last_pgno;
    /* The smallest record takes a few bytes of a page. */
    w.max_records = (w.last_pgno + 1) * (est.ms_psize / 8 + 1);
    w.tagged = tmi_store_txn_tagged(s, w.txn);
    r->format = atomic_load(&s->version);
    r->checksums = w.tagged;
    r->pages = w.last_pgno + 1;
    rc = s_walk_free(&w, &free_pages);
    if (rc == 0) {
        rc = s_walk_main(&w);
    }
    for (int db = 0; rc == 0 && db < TM_DB_COUNT; db++) {
        rc = s_walk_db(&w, s->dbi[db], db);
    }
    if (rc != 0) {
        goto done;
    }
    r->db = -1;
    r->have_key = 0;
    r->free_pages = free_pages;
    /* Every page is in use by a database or free. Checked only when no
     * writer holds the store: with one, the file may have grown past this
     * transaction's snapshot. */
    if (s->verifier_alone && w.used_pages + free_pages + 2 != w.last_pgno + 1) {
        rc = s_damage(r, 0,
                      "page accounting: %llu pages in use and %llu free "
                      "(+ 2 meta pages) but %llu pages in the file",
                      (unsigned long long)w.used_pages,
                      (unsigned long long)free_pages,
                      (unsigned long long)w.last_pgno + 1);
    }
done:
    if (w.txn != NULL) {
        mdb_txn_abort(w.txn);
    }
    return rc;
}

static void s_verify_child(const char *dir, const tm_store_verify_opts_t *o,
                           s_vshm_t *sh)
{
    static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
                               SIGCHLD, SIGSEGV, SIGBUS,  SIGABRT,
                               SIGFPE,  SIGILL,  SIGTRAP, SIGSYS};
    sigset_t all;
    tm_store_t *s = NULL;
    tm_store_opts_t ro = {0, 0, 0, 1};
    /* The parent's handlers must not run here: libev's would wake the
     * parent's loop, and a crash handler (a test framework's, a
     * sanitizer's) could carry on with the parent's work in the child. A
     * crash on a damaged page must simply end the child, by its signal;
     * and a signal the parent blocked must still end it. */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    int rc = tmi_store_open(&s, dir, &ro, 1, sh->r.why, sizeof(sh->r.why));
    if (rc == 0) {
        rc = s_walk(s, o, &sh->r);
    }
    tm_store_close(&s);
    sh->rc = rc;
    sh->done = 1;
}

static const char *s_signame(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGABRT:
        return "SIGABRT";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    default:
        return "a signal";
    }
}

int tm_store_verify(const char *dir, const tm_store_verify_opts_t *opts,
                    tm_store_verify_t *out)
{
    static const tm_store_verify_opts_t none = {NULL, NULL};
    int rc = 0;
    int status = 0;
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    out->db = -1;
    if (dir == NULL || dir[0] == '\0') {
        return TM_ERR_INVAL;
    }
    s_vshm_t *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        return TM_ERR_NOMEM;
    }
    memset(sh, 0, sizeof(*sh));
    sh->r.db = -1;
    pid_t pid = fork();
    if (pid < 0) {
        rc = errno == ENOMEM ? TM_ERR_NOMEM : TM_ERR_BUSY;
        goto done;
    }
    if (pid == 0) {
        s_verify_child(dir, opts != NULL ? opts : &none, sh);
        _exit(0); /* no atexit handlers, no stdio flush of the parent's */
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = -1; /* reaped elsewhere: only sh->done tells */
            break;
        }
    }
    *out = sh->r;
    if (sh->done) {
        rc = sh->rc;
        goto done;
    }
    rc = TM_ERR_STORE_CORRUPT;
    out->lmdb_error = 0;
    if (status != -1 && WIFSIGNALED(status)) {
        out->signal = WTERMSIG(status);
        snprintf(out->why, sizeof(out->why),
                 "the check was killed by %s (signal %d) while reading the "
                 "store",
                 s_signame(out->signal), out->signal);
    } else if (status != -1 && WIFEXITED(status)) {
        snprintf(out->why, sizeof(out->why),
                 "the check ended without a result (exit status %d) while "
                 "reading the store",
                 WEXITSTATUS(status));
    } else {
        snprintf(out->why, sizeof(out->why),
                 "the check ended without a result while reading the store");
    }
done:
    munmap(sh, sizeof(*sh));
    return rc;
}

/* A key for a message: printable bytes as they are, an audit key as its
 * sequence number, anything else in hex. */
static void s_key_text(const tm_store_verify_t *v, char *buf, size_t cap)
{
    int printable = v->klen > 0;
    for (size_t i = 0; i < v->klen; i++) {
        printable &= v->key[i] >= 0x20 && v->key[i] < 0x7f && v->key[i] != '\'';
    }
    if (v->db == TM_DB_AUDIT && v->klen == 8) {
        snprintf(buf, cap, "#%llu",
                 (unsigned long long)tmi_store_get_be64(v->key));
    } else if (printable) {
        snprintf(buf, cap, "'%.*s%s'", (int)(v->klen > 80 ? 80 : v->klen),
                 (const char *)v->key, v->klen > 80 ? "..." : "");
    } else {
        size_t n = 0;
        n += (size_t)snprintf(buf, cap, "0x");
        for (size_t i = 0; i < v->klen && i < 32 && n + 3 < cap; i++) {
            n += (size_t)snprintf(buf + n, cap - n, "%02x", v->key[i]);
        }
    }
}

void tm_store_verify_describe(const tm_store_verify_t *v, char *buf, size_t cap)
{
    char key[200];
    if (buf == NULL || cap == 0) {
        return;
    }
    const char *why = v->why[0] ? v->why : "damaged";
    if (v->db < 0 || v->db >= TM_DB_COUNT) {
        snprintf(buf, cap, "data file: %s", why);
        return;
    }
    if (!v->have_key) {
        snprintf(buf, cap, "database %s: %s", tm_store_db_name(v->db), why);
        return;
    }
    s_key_text(v, key, sizeof(key));
    snprintf(buf, cap, "database %s, %s record %s: %s", tm_store_db_name(v->db),
             v->key_after ? "after" : "at", key, why);
}
