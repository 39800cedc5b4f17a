/* tm_store_format: the store's on-disk format: the names of its
 * databases, the format marker in meta, the checksum (tag) after every
 * value (format 2), and the upgrade of a format 1 store.
 */
#include "tm_store.h"
#include "tm_store_int.h"

#include "tm_err.h"

#include <lmdb.h>   /* the storage engine */
#include <sodium.h> /* BLAKE2b checksums of records */

#include <errno.h>  /* ENOMEM from the upgrade */
#include <stdlib.h> /* realloc */
#include <string.h> /* memcmp, memcpy */

#define S_FORMAT_MAGIC     "twinmesh-store" /* meta "format" value prefix */
#define S_FORMAT_MAGIC_LEN 14               /* strlen(S_FORMAT_MAGIC) */

static const char *const s_db_names[TM_DB_COUNT] = {"meta", "actors", "links",
                                                    "catalog", "audit"};

const char *tm_store_db_name(tm_store_db_t db)
{
    if ((int)db < 0 || db >= TM_DB_COUNT) {
        return "unknown";
    }
    return s_db_names[db];
}

/* ---- big-endian numbers (audit keys, audit_next) ------------------------ */

void tmi_store_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t tmi_store_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* ---- record checksums (format 2) ------------------------------------------
 */

/* BLAKE2b-128 of (database, key length, key, value): a value moved to
 * another key or database does not match either. */
static void s_tag(int db, const void *key, size_t klen, const void *val,
                  size_t vlen, unsigned char out[TMI_STORE_TAG_LEN])
{
    crypto_generichash_state st;
    unsigned char head[3] = {(unsigned char)db, (unsigned char)(klen >> 8),
                             (unsigned char)klen};
    crypto_generichash_init(&st, NULL, 0, TMI_STORE_TAG_LEN);
    crypto_generichash_update(&st, head, sizeof(head));
    crypto_generichash_update(&st, key, klen);
    crypto_generichash_update(&st, val, vlen);
    crypto_generichash_final(&st, out, TMI_STORE_TAG_LEN);
}

/* The format marker is the one value without a tag: an older release
 * reads it to refuse a newer format. */
int tmi_store_is_marker(int db, const MDB_val *k)
{
    return db == TM_DB_META && k->mv_size == sizeof(TMI_STORE_KEY_FORMAT) - 1 &&
           memcmp(k->mv_data, TMI_STORE_KEY_FORMAT, k->mv_size) == 0;
}

/* Check and strip the tag of a value read through LMDB (format 2).
 * Returns 0 or TM_ERR_STORE_CORRUPT. */
int tmi_store_untag(int tagged, int db, const MDB_val *k, MDB_val *v)
{
    unsigned char t[TMI_STORE_TAG_LEN];
    if (!tagged || tmi_store_is_marker(db, k)) {
        return 0;
    }
    if (v->mv_size < TMI_STORE_TAG_LEN) {
        return TM_ERR_STORE_CORRUPT;
    }
    size_t n = v->mv_size - TMI_STORE_TAG_LEN;
    s_tag(db, k->mv_data, k->mv_size, v->mv_data, n, t);
    if (memcmp(t, (const unsigned char *)v->mv_data + n, TMI_STORE_TAG_LEN) !=
        0) {
        return TM_ERR_STORE_CORRUPT;
    }
    v->mv_size = n;
    return 0;
}

/* Put key = val (plus its tag when tagged) with MDB_RESERVE, so the value
 * is copied once, straight into its page. Returns an LMDB code. */
int tmi_store_put_tagged(MDB_txn *txn, MDB_dbi dbi, int db, int tagged,
                         const MDB_val *k, const void *val, size_t vlen,
                         unsigned flags)
{
    MDB_val v = {vlen + (tagged ? TMI_STORE_TAG_LEN : 0), NULL};
    int mrc = mdb_put(txn, dbi, (MDB_val *)k, &v, flags | MDB_RESERVE);
    if (mrc == 0) {
        unsigned char *p = v.mv_data;
        if (vlen > 0) {
            memcpy(p, val, vlen);
        }
        if (tagged) {
            s_tag(db, k->mv_data, k->mv_size, val, vlen, p + vlen);
        }
    }
    return mrc;
}

/* ---- format marker ---------------------------------------------------------
 */

static void s_marker(unsigned char out[S_FORMAT_MAGIC_LEN + 4], uint32_t v)
{
    memcpy(out, S_FORMAT_MAGIC, S_FORMAT_MAGIC_LEN);
    out[S_FORMAT_MAGIC_LEN + 0] = (unsigned char)(v >> 24);
    out[S_FORMAT_MAGIC_LEN + 1] = (unsigned char)(v >> 16);
    out[S_FORMAT_MAGIC_LEN + 2] = (unsigned char)(v >> 8);
    out[S_FORMAT_MAGIC_LEN + 3] = (unsigned char)v;
}

int tmi_store_put_marker(MDB_txn *txn, MDB_dbi meta, uint32_t version)
{
    unsigned char m[S_FORMAT_MAGIC_LEN + 4];
    MDB_val k = {sizeof(TMI_STORE_KEY_FORMAT) - 1,
                 (void *)TMI_STORE_KEY_FORMAT};
    MDB_val v = {sizeof(m), m};
    s_marker(m, version);
    return mdb_put(txn, meta, &k, &v, 0);
}

/* Do the first records of a database read back in order without an LMDB
 * error? A damaged page can hide our marker; only an environment that
 * reads cleanly is taken for someone else's. */
static int s_db_sane(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v, prev = {0, NULL};
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    int n = 0;
    for (mrc = mrc != 0 ? mrc : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
         mrc == 0 && n < 1000; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t m = k.mv_size < prev.mv_size ? k.mv_size : prev.mv_size;
        int c = m > 0 ? memcmp(prev.mv_data, k.mv_data, m) : 0;
        if (n > 0 && (c > 0 || (c == 0 && prev.mv_size >= k.mv_size))) {
            mrc = MDB_CORRUPTED;
            break;
        }
        prev = k;
        n++;
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    return mrc == 0 || mrc == MDB_NOTFOUND;
}

/* Check the marker through txn; *version gets its version. Returns a
 * tm_err_t. */
int tmi_store_check_marker(MDB_txn *txn, uint32_t *version)
{
    int rc = 0;
    MDB_dbi meta, main_dbi;
    int have_meta = 0;
    MDB_val k = {sizeof(TMI_STORE_KEY_FORMAT) - 1,
                 (void *)TMI_STORE_KEY_FORMAT};
    MDB_val v;
    int mrc = mdb_dbi_open(txn, s_db_names[TM_DB_META], 0, &meta);
    if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    have_meta = mrc == 0;
    if (mrc == 0) {
        mrc = mdb_get(txn, meta, &k, &v);
    }
    if (mrc == MDB_NOTFOUND) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    if (mrc != 0) {
        rc = tmi_store_err(mrc);
        goto done;
    }
    if (v.mv_size < S_FORMAT_MAGIC_LEN ||
        memcmp(v.mv_data, S_FORMAT_MAGIC, S_FORMAT_MAGIC_LEN) != 0) {
        rc = TM_ERR_STORE_FOREIGN;
        goto done;
    }
    if (v.mv_size != S_FORMAT_MAGIC_LEN + 4) {
        rc = TM_ERR_STORE_CORRUPT;
        goto done;
    }
    const unsigned char *p = (const unsigned char *)v.mv_data;
    uint32_t found = ((uint32_t)p[S_FORMAT_MAGIC_LEN] << 24) |
                     ((uint32_t)p[S_FORMAT_MAGIC_LEN + 1] << 16) |
                     ((uint32_t)p[S_FORMAT_MAGIC_LEN + 2] << 8) |
                     (uint32_t)p[S_FORMAT_MAGIC_LEN + 3];
    if (found == 0) {
        rc = TM_ERR_STORE_CORRUPT;
    } else if (found > TM_STORE_FORMAT_VERSION) {
        rc = TM_ERR_STORE_VERSION;
    }
    *version = found;
done:
    if (rc == TM_ERR_STORE_FOREIGN &&
        (mdb_dbi_open(txn, NULL, 0, &main_dbi) != 0 ||
         !s_db_sane(txn, main_dbi) || (have_meta && !s_db_sane(txn, meta)))) {
        rc = TM_ERR_STORE_CORRUPT;
    }
    return rc;
}

/* Do the values seen through txn carry tags? A read-only store opened in
 * format 1 may since have been upgraded by its writer: look again. */
int tmi_store_txn_tagged(tm_store_t *s, MDB_txn *txn)
{
    uint32_t v = atomic_load(&s->version);
    if (v < 2 && s->read_only) {
        uint32_t now = 0;
        if (tmi_store_check_marker(txn, &now) == 0 && now > v) {
            atomic_store(&s->version, now);
            v = now;
        }
    }
    return v >= 2;
}

/* ---- the upgrade from format 1 ------------------------------------------ */

/* Rewrite the records of one database with their tags (tmi_store_migrate). */
static int s_migrate_db(MDB_txn *txn, MDB_dbi dbi, int db, unsigned char **buf,
                        size_t *cap)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned char key[TM_STORE_MAX_KEY];
    int mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc != 0) {
        return mrc;
    }
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (tmi_store_is_marker(db, &k)) {
            continue;
        }
        MDB_val t = v;
        if (tmi_store_untag(1, db, &k, &t) == 0) {
            /* A format 1 value never ends in its own tag (2^-128): the
             * marker was damaged; tagging again would hide the data. */
            mrc = MDB_CORRUPTED;
            break;
        }
        size_t need = v.mv_size + TMI_STORE_TAG_LEN;
        if (need > *cap || k.mv_size > sizeof(key)) {
            unsigned char *nb =
                k.mv_size > sizeof(key) ? NULL : realloc(*buf, need);
            if (nb == NULL) {
                mrc = k.mv_size > sizeof(key) ? MDB_BAD_VALSIZE : ENOMEM;
                break;
            }
            *buf = nb;
            *cap = need;
        }
        /* Copies: the put may move the page both point into. */
        memcpy(key, k.mv_data, k.mv_size);
        if (v.mv_size > 0) {
            memcpy(*buf, v.mv_data, v.mv_size);
        }
        s_tag(db, key, k.mv_size, *buf, v.mv_size, *buf + v.mv_size);
        MDB_val nk = {k.mv_size, key};
        MDB_val nv = {need, *buf};
        mrc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
        if (mrc != 0) {
            break;
        }
    }
    if (mrc == MDB_NOTFOUND) {
        mrc = 0;
    }
    mdb_cursor_close(cur);
    return mrc;
}

/* Upgrade a format 1 store to format 2: every value but the marker gets
 * its tag and the marker says 2, in one write transaction, so a crash
 * leaves the store in format 1, untouched. The map grows as for a commit.
 * Called by tm_store_open only, before any other thread sees the store. */
int tmi_store_migrate(tm_store_t *s)
{
    int rc = 0;
    int mrc;
    unsigned char *buf = NULL;
    size_t cap = 0;
    MDB_envinfo info;
    for (;;) {
        MDB_txn *txn = NULL;
        mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        for (int db = 0; mrc == 0 && db < TM_DB_COUNT; db++) {
            mrc = s_migrate_db(txn, s->dbi[db], db, &buf, &cap);
        }
        if (mrc == 0) {
            mrc = tmi_store_put_marker(txn, s->dbi[TM_DB_META], 2);
        }
        if (mrc == 0) {
            mrc = mdb_txn_commit(txn);
            txn = NULL;
        }
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        if (mrc != MDB_MAP_FULL) {
            break;
        }
        mrc = mdb_env_info(s->env, &info);
        if (mrc == 0 && info.me_mapsize >= s->map_max) {
            rc = TM_ERR_STORE_FULL;
            break;
        }
        if (mrc == 0) {
            mrc = mdb_env_set_mapsize(s->env, info.me_mapsize > s->map_max / 2
                                                  ? s->map_max
                                                  : info.me_mapsize * 2);
        }
        if (mrc != 0) {
            break;
        }
    }
    if (rc == 0 && mrc != 0) {
        rc = tmi_store_err(mrc);
    }
    if (rc == 0) {
        atomic_store(&s->version, 2);
    }
    free(buf);
    return rc;
}
