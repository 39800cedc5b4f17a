/* tm_store_read: reads of the store (get, foreach, count) and its
 * statistics, each in one read transaction under map_lock.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h> /* the storage engine */

#include <assert.h>
#include <stdatomic.h> /* statistics counters */
#include <stdlib.h>    /* malloc */
#include <string.h>    /* memcpy, memset */

int tm_store_get(tm_store_t *store, tm_store_db_t db, const void *key,
                 size_t klen, void **val, size_t *vlen)
{
    assert(store != NULL && val != NULL && vlen != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_val k = {klen, (void *)key};
    MDB_val v;
    int mrc;
    int locked = 0;
    *val = NULL;
    *vlen = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT || key == NULL || klen == 0 ||
        klen > TM_STORE_MAX_KEY) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    tmi_store_read_lock(store);
    locked = 1;
    mrc = tmi_store_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
        rc = tmi_store_err(mrc);
        goto done;
    }
    mrc = mdb_get(txn, store->dbi[db], &k, &v);
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
        goto done;
    }
    rc = tmi_store_untag(tmi_store_txn_tagged(store, txn), db, &k, &v);
    if (rc != 0) {
        goto done;
    }
    *val = malloc(v.mv_size > 0 ? v.mv_size : 1);
    if (*val == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    if (v.mv_size > 0) {
        memcpy(*val, v.mv_data, v.mv_size);
    }
    *vlen = v.mv_size;
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (locked) {
        tmi_store_read_unlock(store);
    }
    return rc;
}

int tm_store_foreach(tm_store_t *store, tm_store_db_t db,
                     int (*cb)(const void *key, size_t klen, const void *val,
                               size_t vlen, void *arg),
                     void *arg)
{
    assert(store != NULL && cb != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int mrc = 0;
    int locked = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    tmi_store_read_lock(store);
    locked = 1;
    mrc = tmi_store_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
        goto done;
    }
    mrc = mdb_cursor_open(txn, store->dbi[db], &cur);
    if (mrc != 0) {
        goto done;
    }
    int tagged = tmi_store_txn_tagged(store, txn);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        rc = tmi_store_untag(tagged, db, &k, &v);
        if (rc == 0) {
            rc = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
        }
        if (rc != 0) {
            break;
        }
    }
    if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
done:
    if (rc == 0 && mrc != 0) {
        rc = tmi_store_err(mrc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    if (locked) {
        tmi_store_read_unlock(store);
    }
    return rc;
}

int tm_store_count(tm_store_t *store, tm_store_db_t db, size_t *count)
{
    assert(store != NULL && count != NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    MDB_stat st;
    int mrc;
    *count = 0;
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    tmi_store_read_lock(store);
    mrc = tmi_store_txn_begin(store, MDB_RDONLY, &txn);
    if (mrc != 0) {
        txn = NULL;
    } else {
        mrc = mdb_stat(txn, store->dbi[db], &st);
        mdb_txn_abort(txn);
    }
    tmi_store_read_unlock(store);
    if (mrc == 0) {
        *count = st.ms_entries;
    } else {
        rc = tmi_store_err(mrc);
    }
done:
    return rc;
}

void tm_store_stats(tm_store_t *store, tm_store_stats_t *out)
{
    assert(store != NULL && out != NULL);
    MDB_envinfo info;
    MDB_txn *txn = NULL;
    MDB_stat st;
    memset(out, 0, sizeof(*out));
    out->commits = atomic_load(&store->commits);
    out->grows = atomic_load(&store->grows);
    out->reserve_bytes =
        atomic_load(&store->reserve) ? TMI_STORE_RESERVE_BYTES : 0;
    out->reserve_used = atomic_load(&store->reserve_used);
    tmi_store_read_lock(store);
    if (store->failed || mdb_env_info(store->env, &info) != 0) {
        goto done;
    }
    out->map_size = info.me_mapsize;
    if (tmi_store_txn_begin(store, MDB_RDONLY, &txn) != 0) {
        txn = NULL;
        goto done;
    }
    /* In use: the two meta pages plus the pages of the free list, the main
     * database (which names the others) and every named database. */
    uint64_t pages = 2;
    size_t psize = 0;
    MDB_dbi all[2 + TM_DB_COUNT];
    all[0] = 0; /* LMDB's free-page database */
    all[1] = 1; /* LMDB's main database */
    for (int i = 0; i < TM_DB_COUNT; i++) {
        all[2 + i] = store->dbi[i];
    }
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (mdb_stat(txn, all[i], &st) == 0) {
            psize = st.ms_psize;
            pages +=
                st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        }
    }
    out->used_bytes = (size_t)(pages * psize);
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    tmi_store_read_unlock(store);
}
