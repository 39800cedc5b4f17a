/* tm_cmd_audit: audit - this node's audit log, filtered, oldest first;
 * in a mesh every node's (tm_mesh_rows), merged by wall time, a node that
 * is not alive read from its standby copy (tm_mesh_copy_audit) on the
 * node that holds it. */
#include "tm_console.h"

#include "tm_audit.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LIMIT_DEFAULT 100u
#define S_PER_PART      500u /* records per reply part */
#define S_SRC_MAX       8u   /* this node's log and the copies of dead ones */

/* The last `cap` matching records' sequence numbers (a ring). */
typedef struct {
    const char *actor; /* NULL: every actor */
    uint64_t cutoff;   /* wall_ns before which records are left out; 0 */
    uint64_t *ring;
    size_t cap;
    uint64_t matched, total, last;
} s_find_t;

bool tmi_audit_in_many(const tm_audit_rec_t *r, const char *id)
{
    size_t pl = strlen(r->prefix);
    uint64_t v = 0;
    if (strncmp(id, r->prefix, pl) != 0 || id[pl] == '\0' ||
        (id[pl] == '0' && id[pl + 1] != '\0')) {
        return false;
    }
    for (const char *d = id + pl; *d != '\0'; d++) {
        if (*d < '0' || *d > '9' || v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*d - '0');
    }
    return v < r->count;
}

/* A damaged record passes every filter: it may be the one looked for. */
static bool s_match(const s_find_t *f, const tm_audit_rec_t *r)
{
    if (r->damaged) {
        return true;
    }
    if (f->cutoff > 0 && r->wall_ns < f->cutoff) {
        return false;
    }
    if (f->actor == NULL) {
        return true;
    }
    return (r->has_actor && strcmp(r->actor, f->actor) == 0) ||
           (r->count > 0 && tmi_audit_in_many(r, f->actor));
}

static int s_find_cb(const tm_audit_rec_t *r, void *arg)
{
    s_find_t *f = arg;
    f->total++;
    f->last = r->seq;
    if (s_match(f, r)) {
        f->ring[f->matched % f->cap] = r->seq;
        f->matched++;
    }
    return 0;
}

/* Without filters only the keys are needed: no record is decoded. */
static int s_key_cb(const void *key, size_t klen, const void *val, size_t vlen,
                    void *arg)
{
    s_find_t *f = arg;
    uint64_t seq = 0;
    (void)val;
    (void)vlen;
    for (size_t i = 0; i < klen && i < 8; i++) {
        seq = seq << 8 | ((const uint8_t *)key)[i];
    }
    f->total++;
    f->last = seq;
    f->ring[f->matched % f->cap] = seq;
    f->matched++;
    return 0;
}

static void s_opt_str(tm_body_t *b, const char *key, bool has, const char *s)
{
    if (has) {
        tm_body_kv_str(b, key, s);
    } else {
        tm_body_kv_nil(b, key);
    }
}

/* Where records are read: this node's log, or the standby copy of a node
 * this node does not see alive. */
typedef struct {
    tm_store_t *store;
    const char *node;    /* the log's node in a mesh (NULL: none) */
    const char *copy_on; /* a copy's: the node holding it, else NULL */
    bool owned;          /* a set-aside copy opened here: closed after */
    s_find_t f;
} s_src_t;

/* A record of src. */
static void s_pack(tm_body_t *b, const tm_audit_rec_t *r, const s_src_t *src)
{
    char when[40];
    bool ok = !r->damaged;
    tm_body_map(b);
    if (src->node != NULL) {
        tm_body_kv_str(b, "node", src->node);
    }
    if (src->copy_on != NULL) {
        tm_body_kv_str(b, "copy_on", src->copy_on);
    }
    tm_body_kv_u64(b, "seq", r->seq);
    if (ok) {
        tm_body_kv_u64(b, "wall_ns", r->wall_ns);
        tm_body_kv_str(b, "time", tm_audit_time(r->wall_ns, when, sizeof when));
        tm_body_kv_u64(b, "tick", r->tick);
    } else {
        tm_body_kv_nil(b, "wall_ns");
        tm_body_kv_nil(b, "time");
        tm_body_kv_nil(b, "tick");
    }
    s_opt_str(b, "kind", ok, r->kind);
    s_opt_str(b, "actor", r->has_actor, r->actor);
    s_opt_str(b, "before", r->has_before, r->before);
    s_opt_str(b, "after", r->has_after, r->after);
    s_opt_str(b, "reason", ok, r->reason);
    s_opt_str(b, "who", ok, r->who);
    if (r->count > 0) {
        tm_body_kv_str(b, "prefix", r->prefix);
        tm_body_kv_u64(b, "count", r->count);
    }
    if (r->damaged) {
        tm_body_kv_str(b, "damaged", r->damage);
    }
    tm_body_end(b);
}

/* Read record seq again and pack it; a record gone meanwhile (retention
 * at a checkpoint) is left out. */
static int s_pack_seq(const s_src_t *src, tm_body_t *b, uint64_t seq,
                      tm_audit_rec_t *r)
{
    uint8_t key[8];
    void *val = NULL;
    size_t len = 0;
    for (int i = 0; i < 8; i++) {
        key[i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    int rc = tm_store_get(src->store, TM_DB_AUDIT, key, sizeof key, &val, &len);
    if (rc == TM_ERR_NOT_FOUND) {
        return 0;
    }
    memset(r, 0, sizeof *r);
    r->seq = seq;
    if (rc == 0) {
        (void)tm_audit_decode(val, len, r);
    } else {
        r->damaged = true;
        snprintf(r->damage, sizeof r->damage, "%s", tm_err_str(rc));
    }
    free(val);
    s_pack(b, r, src);
    return 1;
}

/* The matches of every source, in parts of S_PER_PART (one part: one);
 * the last part is the reply. */
static int s_send(tm_console_call_t *req, const s_src_t *src, size_t n_src,
                  size_t *shown, bool one)
{
    tm_reply_t *rep = req->rep;
    size_t total = 0;
    for (size_t k = 0; k < n_src; k++) {
        const s_find_t *f = &src[k].f;
        total += f->matched < f->cap ? (size_t)f->matched : f->cap;
    }
    size_t per_part = req->emit != NULL && !one ? S_PER_PART : total + 1;
    size_t i = 0, k = 0, at = 0; /* rows sent, source, row in it */
    tm_audit_rec_t *r = malloc(sizeof *r);
    if (r == NULL) {
        return tm_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    *shown = 0;
    do {
        tm_body_t *b = tm_reply_body(rep);
        tm_body_array(b);
        for (size_t j = 0; j < per_part && i < total; j++, i++) {
            const s_find_t *f = &src[k].f;
            size_t n = f->matched < f->cap ? (size_t)f->matched : f->cap;
            while (at == n) { /* the next source with rows */
                f = &src[++k].f;
                n = f->matched < f->cap ? (size_t)f->matched : f->cap;
                at = 0;
            }
            size_t first =
                f->matched < f->cap ? 0 : (size_t)(f->matched % f->cap);
            *shown += (size_t)s_pack_seq(&src[k], b,
                                         f->ring[(first + at++) % f->cap], r);
        }
        tm_body_end(b);
        int rc = tm_reply_done(rep);
        if (rc == 0 && i < total) {
            rc = req->emit(req);
            if (rc != 0) {
                tm_reply_error(rep, rc, "reply aborted: %s", tm_err_str(rc));
            }
        }
        if (rc != 0) {
            free(r);
            return rc;
        }
    } while (i < total);
    free(r);
    return 0;
}

/* In a mesh: this node's records (the reply built), then every other
 * node's, merged by wall time, the last `limit` of them. */
static int s_gather(tm_console_ctx_t *ctx, tm_console_call_t *req, size_t limit)
{
    char why[TM_CMD_MSG_MAX];
    size_t len = 0;
    const uint8_t *own = tm_reply_bytes(req->rep, &len);
    tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
    tm_mesh_rows_opts_t o = {
        .sort_key = "wall_ns", .limit = limit, .unique = true};
    int rc = later == NULL ? TM_ERR_UNSUPPORTED
                           : tm_mesh_rows(ctx->mesh, req->argc, req->argv, own,
                                          len, &o, later, why, sizeof why);
    if (rc != 0) {
        if (later != NULL) {
            later->free(later);
        }
        return tm_reply_error(req->rep, rc, "audit of the mesh: %s",
                              later != NULL ? why : "not served here");
    }
    return TM_CONSOLE_DEFERRED;
}

/* The matching records of src's log into src->f (a ring of the last
 * `limit`). On error the reply says it (rep NULL: the log says it). */
static int s_find(const tm_cmd_t *cmd, s_src_t *src, tm_reply_t *rep)
{
    s_find_t *f = &src->f;
    memset(f, 0, sizeof *f);
    f->actor = cmd->actor[0] ? cmd->actor : NULL;
    if (cmd->has_since) {
        uint64_t now = tm_audit_now_ns();
        f->cutoff = !cmd->since_relative  ? cmd->since_ns
                    : cmd->since_ns < now ? now - cmd->since_ns
                                          : 1;
    }
    f->cap = cmd->limit > 0 ? (size_t)cmd->limit : S_LIMIT_DEFAULT;
    f->ring = malloc(f->cap * sizeof *f->ring);
    if (f->ring == NULL) {
        return rep != NULL ? tm_reply_error(rep, TM_ERR_NOMEM, "out of memory")
                           : TM_ERR_NOMEM;
    }
    int rc = f->actor == NULL && f->cutoff == 0
                 ? tm_store_foreach(src->store, TM_DB_AUDIT, s_key_cb, f)
                 : tm_audit_foreach(src->store, s_find_cb, f);
    if (rc != 0 && rep == NULL) {
        tm_log(TM_LOG_WARN,
               "console: audit: the copy of %s's log cannot be read after "
               "record %llu (%llu read): %s; left out",
               src->node, (unsigned long long)f->last,
               (unsigned long long)f->total, tm_err_str(rc));
        return rc;
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc,
                              "cannot read the audit log%s%s after record "
                              "%llu (%llu read): %s",
                              src->copy_on != NULL ? " of the copy of " : "",
                              src->copy_on != NULL ? src->node : "",
                              (unsigned long long)f->last,
                              (unsigned long long)f->total, tm_err_str(rc));
    }
    return 0;
}

static void s_close(s_src_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(src[i].f.ring);
        if (src[i].owned) {
            tm_store_close(&src[i].store);
        }
    }
}

/* Whether this node holds the copy of `node`, a node it does not see
 * alive (its log is read here, not asked of it). */
bool tmi_audit_copy_here(tm_console_ctx_t *ctx, const char *node)
{
    char names[S_SRC_MAX - 1][TM_MSG_NAME_MAX + 1];
    size_t n = ctx->mesh != NULL
                   ? tm_mesh_copies_gone(ctx->mesh, names, S_SRC_MAX - 1)
                   : 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], node) == 0) {
            return true;
        }
    }
    return false;
}

int tmi_cmd_audit(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    s_src_t src[S_SRC_MAX];
    char names[S_SRC_MAX - 1][TM_MSG_NAME_MAX + 1];
    size_t n = 0, shown = 0;
    bool owned = false;
    if (ctx->store == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "this node keeps no audit log");
    }
    memset(src, 0, sizeof src);
    if (cmd->has_node && strcmp(cmd->node, ctx->name) != 0) {
        /* a node not seen alive whose standby copy is here */
        tm_store_t *copy =
            ctx->mesh != NULL ? tm_mesh_copy_audit(ctx->mesh, cmd->node, &owned)
                              : NULL;
        if (copy == NULL) {
            return tm_reply_error(
                rep, TM_ERR_UNKNOWN_NODE,
                ctx->mesh != NULL
                    ? "no node '%s' in the mesh that answers, nor a copy of "
                      "its store here (see `nodes`; `audit` shows a dead "
                      "node's log from its standby copy, with replicas = 1)"
                    : "unknown node '%s' (this node is not in a mesh)",
                cmd->node);
        }
        src[n++] = (s_src_t){.store = copy,
                             .node = cmd->node,
                             .copy_on = ctx->name,
                             .owned = owned};
    } else {
        src[n++] = (s_src_t){.store = ctx->store,
                             .node = ctx->mesh != NULL ? ctx->name : NULL};
        /* this node's part of every node's log: with the logs of the
         * nodes it does not see alive, from their copies here */
        size_t g = ctx->mesh != NULL && !cmd->has_node
                       ? tm_mesh_copies_gone(ctx->mesh, names, S_SRC_MAX - 1)
                       : 0;
        for (size_t i = 0; i < g; i++) {
            tm_store_t *copy = tm_mesh_copy_audit(ctx->mesh, names[i], &owned);
            if (copy != NULL) {
                src[n++] = (s_src_t){.store = copy,
                                     .node = names[i],
                                     .copy_on = ctx->name,
                                     .owned = owned};
            }
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* a dead node's copy that cannot be read is left out, not this
         * node's part with it */
        bool extra = i > 0;
        rc = s_find(cmd, &src[i], extra ? NULL : rep);
        if (rc != 0 && extra) {
            s_close(&src[i], 1);
            src[i--] = src[--n];
            rc = 0;
        }
    }
    /* every node's, unless one node's is asked (another's was passed on
     * to it before the handler ran) */
    bool mesh = ctx->mesh != NULL && !req->from_peer && !cmd->has_node;
    rc = rc ? rc : s_send(req, src, n, &shown, mesh);
    size_t cap = src[0].f.cap;
    uint64_t matched = src[0].f.matched, total = src[0].f.total;
    s_close(src, n);
    if (rc == 0 && mesh) {
        return s_gather(ctx, req, cap);
    }
    if (rc == 0 && cmd->has_node && src[0].copy_on != NULL) {
        tm_reply_msg(rep,
                     "%zu of %llu matching records (%llu in the log) of "
                     "node %s, from its standby copy on %s",
                     shown, (unsigned long long)matched,
                     (unsigned long long)total, cmd->node, ctx->name);
    } else if (rc == 0) {
        tm_reply_msg(rep, "%zu of %llu matching records (%llu in the log)",
                     shown, (unsigned long long)matched,
                     (unsigned long long)total);
    }
    return rc;
}
