/* tm_audit: the node's audit log - record format, decision queue,
 * retention, reading. */
#include "tm_audit.h"

#include "tm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A record is a few short strings: anything larger is not one of ours. */
#define S_RECORD_MAX (16u * 1024u)

struct tm_audit {
    tm_audit_rec_t *queue; /* ring of TM_AUDIT_QUEUE_MAX */
    size_t head, n;
    uint64_t keep;    /* records kept */
    uint64_t days;    /* 0: no age limit */
    uint64_t written; /* records appended to batches */
    uint64_t dropped;
    uint64_t trimmed;
    tm_wire_buf_t buf;
};

/* ---- records ------------------------------------------------------------ */

/* Copy s into dst (cap bytes with the NUL), cut at a character boundary
 * with "..." when it does not fit. */
static void s_copy(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n < cap) {
        memcpy(dst, s, n + 1);
        return;
    }
    n = cap - 4;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        n--; /* not inside a UTF-8 sequence */
    }
    memcpy(dst, s, n);
    memcpy(dst + n, "...", 4);
}

uint64_t tm_audit_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tm_audit_rec_init(tm_audit_rec_t *r, uint64_t tick, const char *kind,
                       const char *actor, const char *before, const char *after,
                       const char *reason, const char *who)
{
    memset(r, 0, sizeof *r);
    r->wall_ns = tm_audit_now_ns();
    r->tick = tick;
    s_copy(r->kind, sizeof r->kind, kind);
    r->has_actor = actor != NULL;
    s_copy(r->actor, sizeof r->actor, actor ? actor : "");
    r->has_before = before != NULL;
    s_copy(r->before, sizeof r->before, before ? before : "");
    r->has_after = after != NULL;
    s_copy(r->after, sizeof r->after, after ? after : "");
    s_copy(r->reason, sizeof r->reason, reason ? reason : "");
    s_copy(r->who, sizeof r->who, who ? who : "");
}

const char *tm_audit_who(const char *peer_node, char *buf, size_t cap)
{
    if (peer_node == NULL) {
        snprintf(buf, cap, "console");
    } else {
        snprintf(buf, cap, "node %s", peer_node);
    }
    return buf;
}

static void s_pack_opt(msgpack_packer *pk, const char *key, bool has,
                       const char *s)
{
    if (has) {
        tm_wire_pack_kv_str(pk, key, s);
    } else {
        tm_wire_pack_kv_nil(pk, key);
    }
}

int tm_audit_encode(const tm_audit_rec_t *r, tm_wire_buf_t *buf)
{
    tm_wire_buf_clear(buf);
    msgpack_packer *pk = &buf->pk;
    msgpack_pack_map(pk, r->count > 0 ? 10 : 8);
    tm_wire_pack_kv_u64(pk, "wall_ns", r->wall_ns);
    tm_wire_pack_kv_u64(pk, "tick", r->tick);
    tm_wire_pack_kv_str(pk, "kind", r->kind);
    s_pack_opt(pk, "actor", r->has_actor, r->actor);
    s_pack_opt(pk, "before", r->has_before, r->before);
    s_pack_opt(pk, "after", r->has_after, r->after);
    tm_wire_pack_kv_str(pk, "reason", r->reason);
    tm_wire_pack_kv_str(pk, "who", r->who);
    if (r->count > 0) {
        tm_wire_pack_kv_str(pk, "prefix", r->prefix);
        tm_wire_pack_kv_u64(pk, "count", r->count);
    }
    return tm_wire_buf_ok(buf);
}

/* ---- decoding ----------------------------------------------------------- */

static int s_damaged(tm_audit_rec_t *out, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_damaged(tm_audit_rec_t *out, int rc, const char *fmt, ...)
{
    uint64_t seq = out->seq;
    va_list ap;
    memset(out, 0, sizeof *out);
    out->seq = seq;
    out->damaged = true;
    va_start(ap, fmt);
    vsnprintf(out->damage, sizeof out->damage, fmt, ap);
    va_end(ap);
    return rc;
}

/* Printable text: valid UTF-8 without control characters. */
static bool s_text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t more = c < 0x80             ? 0
                      : (c & 0xe0) == 0xc0 ? 1
                      : (c & 0xf0) == 0xe0 ? 2
                      : (c & 0xf8) == 0xf0 ? 3
                                           : 4;
        if (c < 0x20 || c == 0x7f || more == 4 || (more == 1 && c < 0xc2) ||
            (more > 0 && i + more >= n)) {
            return false;
        }
        for (size_t k = 1; k <= more; k++) {
            if (((unsigned char)s[i + k] & 0xc0) != 0x80) {
                return false;
            }
        }
        i += more + 1;
    }
    return true;
}

/* A string field into dst (cap bytes with the NUL). nil: *has = false
 * when has is not NULL (nil allowed), else an error; missing counts as
 * nil. */
static int s_field(const msgpack_object *map, const char *key, char *dst,
                   size_t cap, bool *has, tm_audit_rec_t *out)
{
    const msgpack_object *o = tm_wire_map_get(map, key);
    if (has != NULL) {
        *has = false;
    }
    if ((o == NULL || o->type == MSGPACK_OBJECT_NIL) && has != NULL) {
        return 0;
    }
    if (o == NULL) {
        return s_damaged(out, TM_ERR_STORE_CORRUPT, "no %s", key);
    }
    if (o->type != MSGPACK_OBJECT_STR) {
        return s_damaged(out, TM_ERR_STORE_CORRUPT, "%s is not a string", key);
    }
    size_t n = o->via.str.size;
    if (n >= cap) {
        return s_damaged(out, TM_ERR_STORE_CORRUPT,
                         "%s is longer than %zu bytes", key, cap - 1);
    }
    if (!s_text_ok(o->via.str.ptr, n)) {
        return s_damaged(out, TM_ERR_STORE_CORRUPT,
                         "%s is not printable UTF-8 text", key);
    }
    memcpy(dst, o->via.str.ptr, n);
    dst[n] = '\0';
    if (has != NULL) {
        *has = true;
    }
    return 0;
}

static int s_fields(const msgpack_object *o, tm_audit_rec_t *out)
{
    if (tm_wire_get_u64(o, "wall_ns", &out->wall_ns) != 0 ||
        tm_wire_get_u64(o, "tick", &out->tick) != 0) {
        return s_damaged(out, TM_ERR_STORE_CORRUPT,
                         "no wall_ns or tick (unsigned integers)");
    }
    int rc = s_field(o, "kind", out->kind, sizeof out->kind, NULL, out);
    if (rc == 0 && out->kind[0] == '\0') {
        rc = s_damaged(out, TM_ERR_STORE_CORRUPT, "empty kind");
    }
    rc = rc ? rc
            : s_field(o, "actor", out->actor, sizeof out->actor,
                      &out->has_actor, out);
    rc = rc ? rc
            : s_field(o, "before", out->before, sizeof out->before,
                      &out->has_before, out);
    rc = rc ? rc
            : s_field(o, "after", out->after, sizeof out->after,
                      &out->has_after, out);
    rc = rc ? rc
            : s_field(o, "reason", out->reason, sizeof out->reason, NULL, out);
    rc = rc ? rc : s_field(o, "who", out->who, sizeof out->who, NULL, out);
    if (rc == 0 && tm_wire_map_get(o, "count") != NULL) {
        bool has = false;
        if (tm_wire_get_u64(o, "count", &out->count) != 0 || out->count == 0) {
            return s_damaged(out, TM_ERR_STORE_CORRUPT,
                             "count is not a positive integer");
        }
        rc = s_field(o, "prefix", out->prefix, sizeof out->prefix, &has, out);
        if (rc == 0 && !has) {
            rc = s_damaged(out, TM_ERR_STORE_CORRUPT, "count without prefix");
        }
    }
    return rc;
}

int tm_audit_decode(const void *val, size_t len, tm_audit_rec_t *out)
{
    uint64_t seq = out->seq;
    msgpack_zone zone;
    msgpack_object o;
    tm_wire_limits_t lim = {.max_size = S_RECORD_MAX, .max_depth = 2};
    memset(out, 0, sizeof *out);
    out->seq = seq;
    if (!msgpack_zone_init(&zone, 1024)) {
        return s_damaged(out, TM_ERR_NOMEM, "out of memory");
    }
    int rc = tm_wire_unpack(val, len, &lim, &zone, &o);
    if (rc != 0) {
        s_damaged(out, rc, "not a MessagePack record (%s)", tm_err_str(rc));
    } else if (o.type != MSGPACK_OBJECT_MAP) {
        rc = s_damaged(out, TM_ERR_STORE_CORRUPT, "not a map");
    } else {
        rc = s_fields(&o, out);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

const char *tm_audit_time(uint64_t wall_ns, char *buf, size_t cap)
{
    struct tm tmv;
    time_t sec = (time_t)(wall_ns / 1000000000u);
    unsigned ms = (unsigned)(wall_ns % 1000000000u / 1000000u);
    if (gmtime_r(&sec, &tmv) == NULL) {
        snprintf(buf, cap, "?");
        return buf;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour,
             tmv.tm_min, tmv.tm_sec, ms);
    return buf;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    tm_audit_visit_fn visit;
    void *arg;
    tm_audit_rec_t rec;
} s_walk_t;

static uint64_t s_key_seq(const void *key, size_t klen, bool *ok)
{
    const unsigned char *k = key;
    uint64_t v = 0;
    *ok = klen == 8;
    for (size_t i = 0; i < klen && i < 8; i++) {
        v = v << 8 | k[i];
    }
    return v;
}

static int s_walk_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    s_walk_t *w = arg;
    bool ok = false;
    w->rec.seq = s_key_seq(key, klen, &ok);
    if (!ok) {
        s_damaged(&w->rec, TM_ERR_STORE_CORRUPT, "key of %zu bytes", klen);
    } else {
        (void)tm_audit_decode(val, vlen, &w->rec);
    }
    return w->visit(&w->rec, w->arg);
}

int tm_audit_foreach(tm_store_t *store, tm_audit_visit_fn visit, void *arg)
{
    s_walk_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return TM_ERR_NOMEM;
    }
    w->visit = visit;
    w->arg = arg;
    int rc = tm_store_foreach(store, TM_DB_AUDIT, s_walk_cb, w);
    free(w);
    return rc;
}

/* ---- the node's log ----------------------------------------------------- */

tm_audit_t *tm_audit_new(void)
{
    tm_audit_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    a->queue = calloc(TM_AUDIT_QUEUE_MAX, sizeof *a->queue);
    if (a->queue == NULL) {
        free(a);
        return NULL;
    }
    a->keep = TM_AUDIT_DEFAULT_RETENTION;
    tm_wire_buf_init(&a->buf);
    return a;
}

void tm_audit_destroy(tm_audit_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_wire_buf_destroy(&(*p)->buf);
    free((*p)->queue);
    free(*p);
    *p = NULL;
}

void tm_audit_retention(tm_audit_t *a, uint64_t records, uint64_t days)
{
    a->keep = records > 0 ? records : 1;
    a->days = days;
}

int tm_audit_note(tm_audit_t *a, const tm_audit_rec_t *r)
{
    if (a->n == TM_AUDIT_QUEUE_MAX) {
        a->dropped++;
        return TM_ERR_BUSY;
    }
    a->queue[(a->head + a->n) % TM_AUDIT_QUEUE_MAX] = *r;
    a->n++;
    return 0;
}

int tm_audit_flush(tm_audit_t *a, tm_store_batch_t *b, size_t *n)
{
    int rc = 0;
    size_t done = 0;
    for (; a->n > 0 && rc == 0; done++) {
        rc = tm_audit_append(a, b, &a->queue[a->head]);
        a->head = (a->head + 1) % TM_AUDIT_QUEUE_MAX;
        a->n--;
        a->dropped += rc != 0;
    }
    if (rc != 0) {
        done--;
        a->dropped += a->n; /* the rest: dropped, not kept for a retry */
        a->n = 0;
    }
    if (n != NULL) {
        *n = done;
    }
    return rc;
}

typedef struct {
    tm_store_batch_t *b;
    uint64_t excess; /* records beyond the count limit */
    uint64_t cutoff; /* wall_ns before which records go; 0: none */
    size_t n;
    int rc;
    tm_audit_rec_t rec;
} s_trim_t;

static int s_trim_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    s_trim_t *t = arg;
    bool old = false;
    if (t->n >= TM_AUDIT_TRIM_MAX) {
        return 1;
    }
    if (t->cutoff > 0 && tm_audit_decode(val, vlen, &t->rec) == 0) {
        old = t->rec.wall_ns < t->cutoff;
    }
    if (t->n >= t->excess && !old) {
        return 1; /* the oldest record kept: the rest are newer */
    }
    t->rc = tm_store_batch_del(t->b, TM_DB_AUDIT, key, klen);
    if (t->rc != 0) {
        return 1;
    }
    t->n++;
    return 0;
}

int tm_audit_trim(tm_audit_t *a, tm_store_t *store, tm_store_batch_t *b,
                  uint64_t now_ns, size_t *n)
{
    size_t count = 0;
    uint64_t span = a->days * 86400u * 1000000000u;
    if (n != NULL) {
        *n = 0;
    }
    int rc = tm_store_count(store, TM_DB_AUDIT, &count);
    if (rc != 0) {
        return rc;
    }
    s_trim_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return TM_ERR_NOMEM;
    }
    t->b = b;
    t->excess = count > a->keep ? count - a->keep : 0;
    t->cutoff = a->days > 0 && now_ns > span ? now_ns - span : 0;
    if (t->excess > 0 || t->cutoff > 0) {
        rc = tm_store_foreach(store, TM_DB_AUDIT, s_trim_cb, t);
        rc = rc == 1 ? t->rc : rc;
    }
    if (rc == 0) {
        a->trimmed += t->n;
        if (n != NULL) {
            *n = t->n;
        }
    }
    free(t);
    return rc;
}

void tm_audit_stats(const tm_audit_t *a, tm_audit_stats_t *out)
{
    out->queued = a->n;
    out->written = a->written;
    out->dropped = a->dropped;
    out->trimmed = a->trimmed;
}

int tm_audit_append(tm_audit_t *a, tm_store_batch_t *b, const tm_audit_rec_t *r)
{
    int rc = tm_audit_encode(r, &a->buf);
    if (rc == 0) {
        rc = tm_store_batch_audit(b, a->buf.sbuf.data, a->buf.sbuf.size);
    }
    return rc;
}

void tm_audit_done(tm_audit_t *a, size_t records, size_t notes, int rc)
{
    if (rc == 0) {
        a->written += records;
    } else {
        a->dropped += notes;
    }
}
