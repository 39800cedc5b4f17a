/* tm_mesh_copy: the standby copies this node keeps of other nodes'
 * stores (their `replicas = 1`; the stream is tm_mesh_repl.c's).
 *
 * The parts of one commit of the origin (protocol/tm_repl_wire) go into
 * one batch of the copy's own LMDB store, `<data>/replicas/<node>/`,
 * committed with the last part together with `standby_of` ("NODE INC
 * SEQ") in its meta: the copy is always the origin's store as of one of
 * its commits, which is what a restart of the origin would load. Each part
 * is confirmed to the origin (`mesh-repl-ack`); one out of order is
 * answered `gap` and nothing more is applied until a full copy.
 * `failover` (tm_mesh_failover.c) runs the actors of a copy here.
 * Control thread only. */
#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_persist.h"
#include "tm_repl_wire.h"
#include "tm_time.h"

#include "tm_text.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_META_KEY "standby_of" /* in a copy: "NODE INC SEQ" */

/* A copy of another node's store kept here. */
typedef struct {
    char from[TM_MSG_NAME_MAX + 1];
    tm_store_t *store;
    tm_store_batch_t *batch; /* the commit being received */
    uint64_t inc, next_seq, seq;
    uint32_t next_part;
    bool receiving; /* a stream is applied to it (next_* are valid) */
    uint64_t commits, parts;
} s_copy_t;

/* ---- standby: the copies kept here --------------------------------------- */

struct tmi_copies {
    tm_mesh_t *m;
    char data[TM_CONFIG_PATH_MAX + 1];
    s_copy_t copies[TMI_PEERS_MAX];
    size_t n_copies;
    tm_stage_t *stage;
};

static s_copy_t *s_copy(tmi_copies_t *r, const char *from, bool open_it)
{
    for (size_t i = 0; i < r->n_copies; i++) {
        if (strcmp(r->copies[i].from, from) == 0) {
            return &r->copies[i];
        }
    }
    if (!open_it || r->n_copies == TMI_PEERS_MAX || r->data[0] == '\0') {
        return NULL;
    }
    s_copy_t *c = &r->copies[r->n_copies];
    memset(c, 0, sizeof *c);
    snprintf(c->from, sizeof c->from, "%s", from);
    r->n_copies++;
    return c;
}

static int s_copy_open(tmi_copies_t *r, s_copy_t *c, bool create)
{
    char dir[TM_CONFIG_PATH_MAX + TM_MSG_NAME_MAX + 32];
    if (c->store != NULL) {
        return 0;
    }
    snprintf(dir, sizeof dir, "%s/replicas/%s", r->data, c->from);
    tm_store_opts_t o = {.create = create};
    int rc = tm_store_open(&c->store, dir, &o);
    if (rc != 0 && create) {
        tm_log(TM_LOG_ERROR,
               "mesh: cannot open the standby copy of %s in %s: "
               "%s",
               c->from, dir, tm_err_str(rc));
    }
    return rc;
}

static void s_ack(tmi_copies_t *r, tmi_peer_t *p, const tm_repl_t *x,
                  const char *status)
{
    char inc[24], seq[24], part[16];
    snprintf(inc, sizeof inc, "%" PRIu64, x->inc);
    snprintf(seq, sizeof seq, "%" PRIu64, x->seq);
    snprintf(part, sizeof part, "%u", x->part);
    const char *argv[] = {"mesh-repl-ack", inc, seq, part, status};
    uint8_t *payload = NULL;
    size_t len = 0;
    if (tm_console_req_encode(5, argv, &payload, &len) == 0) {
        (void)tmi_mesh_send(r->m, p, false, TM_MSG_CONSOLE_REQ, 0, payload,
                            len);
    }
    free(payload);
}

static int s_apply_ops(s_copy_t *c, const tm_repl_t *x)
{
    int rc = 0;
    for (uint32_t i = 0; i < x->n_ops && rc == 0; i++) {
        const tm_repl_op_t *op = &x->ops[i];
        tm_store_db_t db = tmi_repl_store_db(op->db);
        if (op->kind == TM_REPL_CLEAR) {
            rc = tm_store_batch_clear(c->batch, db);
        } else if (op->kind == TM_REPL_DEL) {
            rc = tm_store_batch_del(c->batch, db, op->key, op->klen);
        } else if (db == TM_DB_AUDIT) {
            /* the origin's record under its own number */
            rc = tm_store_batch_audit_at(c->batch, op->key, op->klen, op->val,
                                         op->vlen);
        } else {
            rc = tm_store_batch_put(c->batch, db, op->key, op->klen, op->val,
                                    op->vlen);
        }
    }
    return rc;
}

/* One part from p: into the commit being received; the last commits. */
static const char *s_apply(tmi_copies_t *r, tmi_peer_t *p, const tm_repl_t *x)
{
    s_copy_t *c = s_copy(r, x->from, true);
    if (c == NULL || strcmp(x->from, p->name) != 0) {
        return "refused";
    }
    if (x->full && x->part == 0) {
        if (s_copy_open(r, c, true) != 0) {
            return "store";
        }
        tm_store_batch_destroy(&c->batch);
        c->batch = tm_store_batch_new(c->store);
        c->inc = x->inc;
        c->next_seq = x->seq;
        c->next_part = 0;
        c->receiving = c->batch != NULL;
    }
    if (!c->receiving || c->store == NULL || x->inc != c->inc ||
        x->seq != c->next_seq || x->part != c->next_part) {
        c->receiving = false; /* nothing more until a full copy */
        return "gap";
    }
    int rc = s_apply_ops(c, x);
    c->parts++;
    if (rc == 0 && x->part + 1 == x->parts) {
        char meta[TM_MSG_NAME_MAX + 64];
        int n = snprintf(meta, sizeof meta, "%s %" PRIu64 " %" PRIu64, x->from,
                         x->inc, x->seq);
        rc = tm_store_batch_put(c->batch, TM_DB_META, S_META_KEY,
                                strlen(S_META_KEY), meta, (size_t)n);
        rc = rc ? rc : tm_store_batch_commit(c->batch);
        if (rc == 0) {
            c->seq = x->seq;
            c->commits++;
            c->next_seq = x->seq + 1;
            c->next_part = 0;
        }
    } else if (rc == 0) {
        c->next_part++;
    }
    if (rc != 0) {
        tm_log(TM_LOG_ERROR,
               "mesh: standby copy of %s: commit %" PRIu64 " not kept: %s",
               x->from, x->seq, tm_err_str(rc));
        c->receiving = false;
        return "store";
    }
    return "ok";
}

bool tmi_copy_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    tmi_copies_t *r = m->copies;
    tm_file_chunk_t h;
    char why[TM_CMD_MSG_MAX];
    if (r == NULL ||
        tm_file_chunk_decode(env->payload, env->payload_len, NULL, &h) != 0 ||
        strcmp(h.file, TMI_REPL_FILE) != 0) {
        return false; /* a plugin's, or malformed: tm_mesh_models.c */
    }
    int rc = tm_stage_file_chunk(r->stage, p->name, strlen(p->name),
                                 env->payload, env->payload_len, tm_time_now(),
                                 &h, why, sizeof why);
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: standby copy of %s: %s", p->name, why);
        return true; /* the origin times out and copies again */
    }
    if (!h.final) {
        return true;
    }
    const char *name = NULL;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    tm_repl_t x;
    rc = tm_stage_file(r->stage, p->name, strlen(p->name), h.upload, &name,
                       &bytes, &len, why, sizeof why);
    rc = rc ? rc : tm_repl_decode(bytes, len, &x);
    tm_stage_drop(r->stage, p->name, strlen(p->name));
    if (rc != 0) {
        m->malformed++;
        tm_log(TM_LOG_WARN,
               "mesh: standby copy of %s: a part does not "
               "decode: %s",
               p->name, tm_err_str(rc));
        return true;
    }
    s_ack(r, p, &x, s_apply(r, p, &x));
    tm_repl_free(&x);
    return true;
}

/* What a copy of `from` holds: its origin's incarnation and commit, the
 * checkpoint tick and the actors. false when there is none here. */
static bool s_copy_info(tmi_copies_t *r, const char *from, uint64_t *inc,
                        uint64_t *seq, uint64_t *tick, size_t *actors)
{
    s_copy_t *c = s_copy(r, from, true);
    if (c == NULL || s_copy_open(r, c, false) != 0) {
        return false;
    }
    void *v = NULL;
    size_t n = 0;
    char text[TM_MSG_NAME_MAX + 64];
    char name[TM_MSG_NAME_MAX + 1];
    tm_persist_meta_t meta;
    if (tm_store_get(c->store, TM_DB_META, S_META_KEY, strlen(S_META_KEY), &v,
                     &n) != 0) {
        return false;
    }
    snprintf(text, sizeof text, "%.*s", (int)n, (const char *)v);
    free(v);
    if (sscanf(text, "%64s %" SCNu64 " %" SCNu64, name, inc, seq) != 3 ||
        tm_persist_read_meta(c->store, &meta) != 0 ||
        tm_store_count(c->store, TM_DB_ACTORS, actors) != 0) {
        return false;
    }
    *tick = meta.have_checkpoint ? meta.tick : 0;
    return true;
}

bool tmi_copy_local(tm_mesh_t *m, const char *from, uint64_t *inc,
                    uint64_t *seq, uint64_t *tick, size_t *actors)
{
    return m->copies != NULL &&
           s_copy_info(m->copies, from, inc, seq, tick, actors);
}

tm_store_t *tmi_copy_store(tm_mesh_t *m, const char *from)
{
    s_copy_t *c = m->copies != NULL ? s_copy(m->copies, from, false) : NULL;
    return c != NULL ? c->store : NULL;
}

void tmi_copy_done(tm_mesh_t *m, const char *from)
{
    tmi_copies_t *r = m->copies;
    s_copy_t *c = r != NULL ? s_copy(r, from, false) : NULL;
    if (c == NULL) {
        return;
    }
    char dir[TM_CONFIG_PATH_MAX + TM_MSG_NAME_MAX + 32];
    char to[sizeof dir + 32];
    tm_store_batch_destroy(&c->batch);
    tm_store_close(&c->store);
    c->receiving = false;
    snprintf(dir, sizeof dir, "%s/replicas/%s", r->data, from);
    snprintf(to, sizeof to, "%s.taken-over.%" PRIu64, dir, tm_rt_tick(m->rt));
    if (rename(dir, to) != 0) {
        tm_log(TM_LOG_WARN, "mesh: cannot set the copy of %s aside (%s)", from,
               dir);
    }
    *c = r->copies[--r->n_copies];
}

void tmi_copy_request(tm_mesh_t *m, int argc, const char *const *argv,
                      tm_reply_t *rep)
{
    uint64_t inc = 0, seq = 0, tick = 0;
    size_t actors = 0;
    bool has =
        argc == 2 && tmi_copy_local(m, argv[1], &inc, &seq, &tick, &actors);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_bool(b, "has", has);
    tm_body_kv_u64(b, "inc", inc);
    tm_body_kv_u64(b, "seq", seq);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_u64(b, "actors", actors);
    tm_body_end(b);
    tm_reply_msg(rep, "node %s %s a copy of %s", m->name,
                 has ? "holds" : "holds no", argc == 2 ? argv[1] : "?");
    tm_reply_done(rep);
}

void tmi_copy_peer_reset(tm_mesh_t *m, tmi_peer_t *p)
{
    tmi_copies_t *r = m->copies;
    if (r == NULL) {
        return;
    }
    tm_stage_drop(r->stage, p->name, strlen(p->name));
    s_copy_t *c = s_copy(r, p->name, false);
    if (c != NULL) {
        c->receiving = false; /* its new stream starts with a full copy */
    }
}

void tmi_copy_beat(tm_mesh_t *m)
{
    if (m->copies != NULL) {
        tm_stage_expire(m->copies->stage, tm_time_now());
    }
}

size_t tmi_copy_count(const tm_mesh_t *m)
{
    return m->copies != NULL ? m->copies->n_copies : 0;
}

int tmi_copy_open(tm_mesh_t *m, const char *data)
{
    tmi_copies_t *r = calloc(1, sizeof *r);
    if (r == NULL || tm_stage_open(&r->stage) != 0) {
        free(r);
        return TM_ERR_NOMEM;
    }
    r->m = m;
    snprintf(r->data, sizeof r->data, "%s", data != NULL ? data : "");
    m->copies = r;
    return 0;
}

void tmi_copy_free(tm_mesh_t *m)
{
    tmi_copies_t *r = m->copies;
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n_copies; i++) {
        tm_store_batch_destroy(&r->copies[i].batch);
        tm_store_close(&r->copies[i].store);
    }
    tm_stage_destroy(&r->stage);
    free(r);
    m->copies = NULL;
}

/* ---- a dead node's audit log, from its copy ------------------------------ */

/* Whether this node does not see `from` alive: its copy's log is then the
 * one to read. */
static bool s_gone(tm_mesh_t *m, const char *from)
{
    tmi_peer_t *p = tmi_mesh_peer(m, from);
    return p == NULL || p->state == TMI_DEAD;
}

/* The node a directory under replicas/ is a copy of: NAME or
 * NAME.taken-over.TICK (names hold no dots); *aside: the latter, *tick:
 * TICK (0 for the former). */
static bool s_copy_dir(const char *entry, char *name, size_t cap, bool *aside,
                       uint64_t *tick)
{
    const char *dot = strchr(entry, '.');
    size_t n = dot != NULL ? (size_t)(dot - entry) : strlen(entry);
    char *end = NULL;
    *tick = 0;
    *aside = dot != NULL;
    if (n == 0 || n >= cap) {
        return false;
    }
    if (dot != NULL) {
        if (strncmp(dot, ".taken-over.", 12) != 0) {
            return false;
        }
        *tick = strtoull(dot + 12, &end, 10);
        if (end == dot + 12 || *end != '\0') {
            return false;
        }
    }
    memcpy(name, entry, n);
    name[n] = '\0';
    return tm_text_name_valid(name);
}

/* fn for every copy directory under <data>/replicas, until it returns
 * false. */
typedef bool (*s_dir_fn)(void *arg, const char *entry, const char *name,
                         bool aside, uint64_t tick);
static void s_scan(const tmi_copies_t *r, s_dir_fn fn, void *arg)
{
    char base[TM_CONFIG_PATH_MAX + 16];
    snprintf(base, sizeof base, "%s/replicas", r->data);
    DIR *d = opendir(base);
    for (struct dirent *e = d != NULL ? readdir(d) : NULL; e != NULL;
         e = readdir(d)) {
        char name[TM_MSG_NAME_MAX + 1];
        bool aside = false;
        uint64_t tick = 0;
        if (s_copy_dir(e->d_name, name, sizeof name, &aside, &tick) &&
            !fn(arg, e->d_name, name, aside, tick)) {
            break;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

typedef struct {
    const char *from;
    bool found;
    uint64_t best;
    char entry[TM_MSG_NAME_MAX + 40];
} s_aside_t;

static bool s_aside_cb(void *arg, const char *entry, const char *name,
                       bool aside, uint64_t tick)
{
    s_aside_t *a = arg;
    if (aside && strcmp(name, a->from) == 0 && (!a->found || tick >= a->best)) {
        a->best = tick;
        a->found = true;
        snprintf(a->entry, sizeof a->entry, "%s", entry);
    }
    return true;
}

/* The newest copy of `from` a failover set aside, into dir. */
static bool s_aside(const tmi_copies_t *r, const char *from, char *dir,
                    size_t cap)
{
    s_aside_t a = {.from = from};
    s_scan(r, s_aside_cb, &a);
    if (a.found) {
        snprintf(dir, cap, "%s/replicas/%s", r->data, a.entry);
    }
    return a.found;
}

tm_store_t *tm_mesh_copy_audit(tm_mesh_t *m, const char *from, bool *owned)
{
    tmi_copies_t *r = m != NULL ? m->copies : NULL;
    *owned = false;
    if (r == NULL || r->data[0] == '\0' || !s_gone(m, from) ||
        !tm_text_name_valid(from)) {
        return NULL;
    }
    char dir[TM_CONFIG_PATH_MAX + 128];
    s_copy_t *c = s_copy(r, from, false);
    if (c != NULL && s_copy_open(r, c, false) == 0) {
        return c->store; /* the copy kept up to date, open here */
    }
    /* not open in this process: read-only for this request, the copy
     * kept up to date (its origin has not streamed since this node
     * started), else the newest one set aside */
    tm_store_t *s = NULL;
    tm_store_opts_t o = {.read_only = 1};
    snprintf(dir, sizeof dir, "%s/replicas/%s", r->data, from);
    if (c == NULL && access(dir, F_OK) == 0 &&
        tm_store_open(&s, dir, &o) == 0) {
        *owned = true;
        return s;
    }
    if (!s_aside(r, from, dir, sizeof dir) || tm_store_open(&s, dir, &o) != 0) {
        return NULL;
    }
    *owned = true;
    return s;
}

typedef struct {
    tm_mesh_t *m;
    char (*names)[TM_MSG_NAME_MAX + 1];
    size_t n, cap;
} s_gone_t;

static bool s_gone_cb(void *arg, const char *entry, const char *name,
                      bool aside, uint64_t tick)
{
    s_gone_t *g = arg;
    (void)entry;
    (void)aside;
    (void)tick;
    if (strcmp(name, g->m->name) == 0 || !s_gone(g->m, name)) {
        return true;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->names[i], name) == 0) {
            return true;
        }
    }
    snprintf(g->names[g->n++], TM_MSG_NAME_MAX + 1, "%s", name);
    return g->n < g->cap;
}

size_t tm_mesh_copies_gone(tm_mesh_t *m, char (*names)[TM_MSG_NAME_MAX + 1],
                           size_t cap)
{
    s_gone_t g = {.m = m, .names = names, .cap = cap};
    if (m != NULL && m->copies != NULL && m->copies->data[0] != '\0' &&
        cap > 0) {
        s_scan(m->copies, s_gone_cb, &g);
    }
    return g.n;
}
