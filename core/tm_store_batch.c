/* tm_store_batch: batches (puts, deletes, clears and audit records
 * collected in memory), their commit in one durable transaction with map
 * growth and replay, the space reserve on a full disk, and the commit
 * hook with the batch's tag and operations.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h> /* the storage engine */

#include <assert.h>
#include <pthread.h>   /* write_lock, fail_lock */
#include <stdatomic.h> /* statistics counters, the reserve flag */
#include <stdlib.h>    /* malloc, qsort */
#include <string.h>    /* memcmp, memcpy */

#define S_KEEP_BYTES ((size_t)8 << 20) /* batch memory kept after commit */
#define S_NODE_BYTES 10 /* LMDB's per-record header and page pointer */

typedef enum { S_OP_PUT, S_OP_DEL, S_OP_CLEAR, S_OP_AUDIT } s_op_kind_t;

typedef struct {
    size_t koff, klen;      /* key bytes in the batch buffer (not for audit) */
    size_t voff, vlen;      /* value bytes in the batch buffer */
    size_t seq;             /* insertion order: later operations win */
    const unsigned char *k; /* resolved at commit (not for audit) */
    const unsigned char *v;
    unsigned char akey[8]; /* big-endian audit sequence number */
    unsigned char kind;    /* s_op_kind_t */
    unsigned char db;      /* tm_store_db_t */
} s_op_t;

struct tm_store_batch {
    tm_store_t *store;
    bool frees;           /* a kill or unlink: may use the space reserve */
    unsigned tag;         /* the caller's, for the commit hook */
    uint64_t audit_floor; /* past a copy's records (batch_audit_at) */
    s_op_t *ops;
    size_t nops, ops_cap;
    unsigned char *buf; /* copies of keys and values */
    size_t buf_len, buf_cap;
};

/* ---- batches
 * ------------------------------------------------------------------ */

tm_store_batch_t *tm_store_batch_new(tm_store_t *store)
{
    assert(store != NULL);
    tm_store_batch_t *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->store = store;
    }
    return b;
}

void tm_store_batch_destroy(tm_store_batch_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    free((*p)->ops);
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

size_t tm_store_batch_size(const tm_store_batch_t *b)
{
    assert(b != NULL);
    return b->nops;
}

static void s_batch_reset(tm_store_batch_t *b)
{
    b->frees = false;
    b->tag = 0;
    b->audit_floor = 0;
    b->nops = 0;
    b->buf_len = 0;
    if (b->buf_cap > S_KEEP_BYTES) {
        free(b->buf);
        b->buf = NULL;
        b->buf_cap = 0;
    }
    if (b->ops_cap * sizeof(s_op_t) > S_KEEP_BYTES) {
        free(b->ops);
        b->ops = NULL;
        b->ops_cap = 0;
    }
}

/* Append an operation, copying key and value. */
static int s_batch_add(tm_store_batch_t *b, s_op_kind_t kind, tm_store_db_t db,
                       const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    int rc = 0;
    if (b->nops == b->ops_cap) {
        size_t cap = b->ops_cap ? b->ops_cap * 2 : 64;
        s_op_t *ops = realloc(b->ops, cap * sizeof(*ops));
        if (ops == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        b->ops = ops;
        b->ops_cap = cap;
    }
    if (klen > SIZE_MAX - vlen || klen + vlen > SIZE_MAX - b->buf_len) {
        rc = TM_ERR_TOO_BIG;
        goto done;
    }
    size_t need = b->buf_len + klen + vlen;
    if (need > b->buf_cap) {
        size_t cap = b->buf_cap ? b->buf_cap : 4096;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        }
        unsigned char *buf = realloc(b->buf, cap);
        if (buf == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        b->buf = buf;
        b->buf_cap = cap;
    }
    s_op_t *op = &b->ops[b->nops];
    memset(op, 0, sizeof(*op));
    op->kind = (unsigned char)kind;
    op->db = (unsigned char)db;
    op->seq = b->nops;
    op->koff = b->buf_len;
    op->klen = klen;
    if (klen > 0) {
        memcpy(b->buf + b->buf_len, key, klen);
    }
    op->voff = b->buf_len + klen;
    op->vlen = vlen;
    if (vlen > 0) {
        memcpy(b->buf + op->voff, val, vlen);
    }
    b->buf_len = need;
    b->nops++;
done:
    return rc;
}

static int s_is_reserved(tm_store_db_t db, const void *key, size_t klen)
{
    if (db != TM_DB_META) {
        return 0;
    }
    return (klen == sizeof(TMI_STORE_KEY_FORMAT) - 1 &&
            memcmp(key, TMI_STORE_KEY_FORMAT, klen) == 0) ||
           (klen == sizeof(TMI_STORE_KEY_AUDIT_NEXT) - 1 &&
            memcmp(key, TMI_STORE_KEY_AUDIT_NEXT, klen) == 0);
}

static int s_check_key(tm_store_db_t db, const void *key, size_t klen)
{
    if ((int)db < 0 || db >= TM_DB_COUNT || key == NULL || klen == 0 ||
        klen > TM_STORE_MAX_KEY || s_is_reserved(db, key, klen)) {
        return TM_ERR_INVAL;
    }
    return 0;
}

int tm_store_batch_put(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen, const void *val, size_t vlen)
{
    assert(b != NULL);
    int rc = s_check_key(db, key, klen);
    if (rc == 0 && (db == TM_DB_AUDIT || (val == NULL && vlen > 0))) {
        rc = TM_ERR_INVAL;
    }
    if (rc == 0) {
        rc = s_batch_add(b, S_OP_PUT, db, key, klen, val, vlen);
    }
    return rc;
}

int tm_store_batch_del(tm_store_batch_t *b, tm_store_db_t db, const void *key,
                       size_t klen)
{
    assert(b != NULL);
    int rc = s_check_key(db, key, klen);
    if (rc == 0) {
        rc = s_batch_add(b, S_OP_DEL, db, key, klen, NULL, 0);
    }
    return rc;
}

int tm_store_batch_clear(tm_store_batch_t *b, tm_store_db_t db)
{
    assert(b != NULL);
    int rc = TM_ERR_INVAL;
    if ((int)db >= 0 && db < TM_DB_COUNT) {
        rc = s_batch_add(b, S_OP_CLEAR, db, NULL, 0, NULL, 0);
    }
    return rc;
}

int tm_store_batch_audit(tm_store_batch_t *b, const void *val, size_t vlen)
{
    assert(b != NULL);
    int rc = TM_ERR_INVAL;
    if (val != NULL || vlen == 0) {
        rc = s_batch_add(b, S_OP_AUDIT, TM_DB_AUDIT, NULL, 0, val, vlen);
    }
    return rc;
}

int tm_store_batch_audit_at(tm_store_batch_t *b, const void *key, size_t klen,
                            const void *val, size_t vlen)
{
    assert(b != NULL);
    uint64_t seq = key != NULL && klen == 8 ? tmi_store_get_be64(key) : 0;
    if (seq == 0 || seq == UINT64_MAX || (val == NULL && vlen > 0)) {
        return TM_ERR_INVAL;
    }
    int rc = s_batch_add(b, S_OP_PUT, TM_DB_AUDIT, key, klen, val, vlen);
    if (rc == 0 && seq + 1 > b->audit_floor) {
        b->audit_floor = seq + 1;
    }
    return rc;
}

/* Key bytes of an operation; audit keys live inside the operation, which
 * qsort moves, so they are never referenced through a stored pointer. */
static const unsigned char *s_op_key(const s_op_t *op)
{
    return op->kind == S_OP_AUDIT ? op->akey : op->k;
}

/* Order: database, key bytes (LMDB's default order), then insertion. */
static int s_op_cmp(const void *pa, const void *pb)
{
    const s_op_t *a = pa;
    const s_op_t *b = pb;
    if (a->db != b->db) {
        return a->db < b->db ? -1 : 1;
    }
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n > 0 ? memcmp(s_op_key(a), s_op_key(b), n) : 0;
    if (c != 0) {
        return c;
    }
    if (a->klen != b->klen) {
        return a->klen < b->klen ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static int s_same_key(const s_op_t *a, const s_op_t *b)
{
    return a->db == b->db && a->klen == b->klen &&
           memcmp(s_op_key(a), s_op_key(b), a->klen) == 0;
}

/* Resolve pointers, number the audit records from `next`, sort. */
static size_t s_batch_prepare(tm_store_batch_t *b, uint64_t next)
{
    size_t naudit = 0;
    for (size_t i = 0; i < b->nops; i++) {
        s_op_t *op = &b->ops[i];
        op->v = b->buf + op->voff;
        if (op->kind == S_OP_AUDIT) {
            tmi_store_be64(op->akey, next + naudit);
            naudit++;
            op->klen = 8;
        } else {
            op->k = b->buf + op->koff;
        }
    }
    qsort(b->ops, b->nops, sizeof(s_op_t), s_op_cmp);
    return naudit;
}

/* One attempt: the whole batch in one write transaction. Returns an LMDB
 * code (MDB_MAP_FULL asks for growth and a replay). Caller holds
 * write_lock. */
static int s_batch_apply(tm_store_batch_t *b, uint64_t audit_next,
                         size_t naudit)
{
    tm_store_t *s = b->store;
    MDB_txn *txn = NULL;
    unsigned cleared = 0;
    int tagged = atomic_load(&s->version) >= 2;
    int mrc;

    tmi_store_read_lock(s);
    mrc = tmi_store_txn_begin(s, 0, &txn);
    if (mrc != 0) {
        txn = NULL;
        goto done;
    }
    for (size_t i = 0; i < b->nops && mrc == 0; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR && !(cleared & (1u << op->db))) {
            cleared |= 1u << op->db;
            mrc = mdb_drop(txn, s->dbi[op->db], 0);
            if (mrc == 0 && op->db == TM_DB_META) {
                mrc = tmi_store_put_marker(txn, s->dbi[TM_DB_META],
                                           atomic_load(&s->version));
            }
        }
    }
    for (size_t i = 0; i < b->nops && mrc == 0; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR ||
            (i + 1 < b->nops && s_same_key(op, &b->ops[i + 1]))) {
            continue; /* a later operation on this key wins */
        }
        MDB_val k = {op->klen, (void *)s_op_key(op)};
        if (op->kind == S_OP_DEL) {
            mrc = mdb_del(txn, s->dbi[op->db], &k, NULL);
            if (mrc == MDB_NOTFOUND) {
                mrc = 0;
            }
        } else {
            mrc = tmi_store_put_tagged(
                txn, s->dbi[op->db], op->db, tagged, &k, op->v, op->vlen,
                op->kind == S_OP_AUDIT ? MDB_NOOVERWRITE : 0);
            if (mrc == MDB_KEYEXIST) {
                mrc = MDB_CORRUPTED; /* an audit number was reused */
            }
        }
    }
    if (mrc == 0 && (naudit > 0 || (cleared & (1u << TM_DB_META)) ||
                     audit_next > s->audit_next)) {
        unsigned char nb[8];
        MDB_val k = {sizeof(TMI_STORE_KEY_AUDIT_NEXT) - 1,
                     (void *)TMI_STORE_KEY_AUDIT_NEXT};
        tmi_store_be64(nb, audit_next + naudit);
        mrc = tmi_store_put_tagged(txn, s->dbi[TM_DB_META], TM_DB_META, tagged,
                                   &k, nb, sizeof(nb), 0);
    }
    if (mrc == 0) {
        mrc = mdb_txn_commit(txn); /* the txn is freed either way */
        txn = NULL;
    }
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    tmi_store_read_unlock(s);
    return mrc;
}

/* Bytes a batch writes at least: its keys and values with their tags and
 * LMDB's record headers, in whole pages, plus the page every commit
 * copies (branches and the free list come on top). */
static uint64_t s_batch_need(const tm_store_batch_t *b)
{
    MDB_stat st;
    uint64_t need = 0;
    uint64_t psize = mdb_env_stat(b->store->env, &st) == 0 ? st.ms_psize : 4096;
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_PUT || op->kind == S_OP_AUDIT) {
            need += op->klen + op->vlen + TMI_STORE_TAG_LEN + S_NODE_BYTES;
        }
    }
    return (need + psize - 1) / psize * psize + psize;
}

/* Record a failed commit. Returns the error to report: LMDB reports a
 * write cut short by a full disk as EIO, and a map that is full while the
 * file system has no room for the batch either is a full disk too; so
 * after either, a file system without room for the batch means NOSPACE.
 * Caller holds write_lock. */
static int s_commit_failed(tm_store_batch_t *b, int rc)
{
    tm_store_t *s = b->store;
    uint64_t need = 0, avail = 0;
    if (rc == TM_ERR_NOSPACE || rc == TM_ERR_STORE_FULL || rc == TM_ERR_IO) {
        need = s_batch_need(b);
        avail = tmi_store_free_bytes(s->dirfd);
        if (rc != TM_ERR_NOSPACE && avail < need) {
            rc = TM_ERR_NOSPACE;
        }
        if (rc == TM_ERR_IO) {
            need = avail = 0;
        }
    }
    tmi_store_set_failure(s, rc, need, avail);
    return rc;
}

/* Where the batch's own audit records start: after the store's, and
 * after a copy's records it puts (tm_store_batch_audit_at). */
static uint64_t s_audit_start(const tm_store_batch_t *b)
{
    uint64_t next = b->store->audit_next;
    return b->audit_floor > next ? b->audit_floor : next;
}

/* Apply b in one transaction, growing the map as often as it fills.
 * Caller holds write_lock. */
static int s_batch_commit_grow(tm_store_batch_t *b, size_t naudit)
{
    for (;;) {
        int mrc = s_batch_apply(b, s_audit_start(b), naudit);
        if (mrc != MDB_MAP_FULL) {
            return tmi_store_err(mrc);
        }
        int rc = tmi_store_grow(b->store);
        if (rc != 0) {
            return rc;
        }
    }
}

void tm_store_batch_frees(tm_store_batch_t *b)
{
    b->frees = true;
}

int tm_store_batch_commit(tm_store_batch_t *b)
{
    assert(b != NULL);
    tm_store_t *s = b->store;
    int rc = 0;
    int locked = 0;

    if (b->nops == 0) {
        goto done;
    }
    if (s->read_only) {
        rc = TM_ERR_PERM;
        goto done;
    }
    if (tmi_store_reading()) {
        rc = TM_ERR_BUSY; /* called from a foreach callback */
        goto done;
    }
    pthread_mutex_lock(&s->write_lock);
    locked = 1;
    size_t naudit = s_batch_prepare(b, s_audit_start(b));
    rc = s_batch_commit_grow(b, naudit);
    if (rc != 0) {
        rc = s_commit_failed(b, rc);
    }
    if (rc == TM_ERR_NOSPACE && b->frees &&
        tmi_store_reserve_release(s->dirfd) == 0) {
        /* A full disk: a change that frees space may take the reserve. */
        atomic_store(&s->reserve, false);
        atomic_fetch_add(&s->reserve_used, 1);
        rc = s_batch_commit_grow(b, naudit);
        if (rc != 0) {
            rc = s_commit_failed(b, rc);
        }
    }
    if (rc == 0) {
        s->audit_next = s_audit_start(b) + naudit; /* past a copy's too */
        atomic_fetch_add(&s->commits, 1);
        if (s->hook != NULL) {
            s->hook(s->hook_arg, b);
        }
        if (!atomic_load(&s->reserve) &&
            tmi_store_reserve_make(s->dirfd) == 0) {
            atomic_store(&s->reserve, true); /* room again */
        }
    }
done:
    if (locked) {
        pthread_mutex_unlock(&s->write_lock);
    }
    s_batch_reset(b);
    return rc;
}

/* ---- the commit hook ---------------------------------------------------- */

void tm_store_on_commit(tm_store_t *store, tm_store_hook_fn fn, void *arg)
{
    pthread_mutex_lock(&store->write_lock);
    store->hook = fn;
    store->hook_arg = arg;
    pthread_mutex_unlock(&store->write_lock);
}

void tm_store_batch_tag(tm_store_batch_t *b, unsigned tag)
{
    b->tag = tag;
}

unsigned tm_store_batch_get_tag(const tm_store_batch_t *b)
{
    return b->tag;
}

int tm_store_batch_ops(const tm_store_batch_t *b, tm_store_op_fn fn, void *arg)
{
    unsigned cleared = 0;
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR && !(cleared & (1u << op->db))) {
            cleared |= 1u << op->db;
            tm_store_op_t o = {.db = (tm_store_db_t)op->db,
                               .kind = TM_STORE_OP_CLEAR};
            int rc = fn(arg, &o);
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (size_t i = 0; i < b->nops; i++) {
        const s_op_t *op = &b->ops[i];
        if (op->kind == S_OP_CLEAR ||
            (i + 1 < b->nops && s_same_key(op, &b->ops[i + 1]))) {
            continue; /* a later operation on this key wins */
        }
        tm_store_op_t o = {.db = (tm_store_db_t)op->db,
                           .kind = op->kind == S_OP_DEL ? TM_STORE_OP_DEL
                                                        : TM_STORE_OP_PUT,
                           .key = s_op_key(op),
                           .klen = op->klen,
                           .val = op->kind == S_OP_DEL ? NULL : op->v,
                           .vlen = op->kind == S_OP_DEL ? 0 : op->vlen};
        int rc = fn(arg, &o);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
