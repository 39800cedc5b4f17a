/* tm_mesh_repl: the stream that keeps a standby copy of this node's store
 * on another node (`replicas = 1`); the copies this node keeps for others
 * are tm_mesh_copy.c's.
 *
 * Origin. The store's commit hook (tm_store_on_commit) sees every commit
 * in commit order - a mutation's on the control thread, a checkpoint's on
 * the writer thread - and queues what it did to the meta, actors, links
 * and audit databases (the catalog stays here) as parts of at most a few MiB
 * (tm_repl_wire), numbered per commit. The control thread sends the queue in
 * order, one part at a time, to the standby (FILE_CHUNK messages named "repl"
 * on the data socket) and sends the next part when the standby has confirmed
 * this one (`mesh-repl-ack INC SEQ PART STATUS`). A standby that is new,
 * restarted, or lost a part gets a full copy first: the store read whole,
 * sent as one commit that clears the copy. A reply to a change waits until
 * the standby has confirmed the change's commit (tm_mesh_repl_hold), or
 * at most S_HOLD_S, and then says that the standby has not.
 *
 * Lock order: the store's write lock, then ours (the hook); the control
 * thread takes ours alone. */
#include "tm_ckpt.h"
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_repl_wire.h"
#include "tm_time.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ACK_S     10.0 /* a part unconfirmed this long: start again */
#define S_HOLD_S    10.0 /* a reply waits this long for the standby */
#define S_HELD_MAX  256u
#define S_QUEUE_MAX (512u * 1024u * 1024u) /* bytes queued, then copy again */

typedef struct s_part {
    struct s_part *next;
    uint64_t seq;
    uint32_t part, parts;
    bool mutation;
    uint8_t *bytes;
    size_t len;
} s_part_t;

typedef struct {
    tm_console_later_t *later;
    uint64_t mark;
    double deadline;
    int status;
    char msg[TM_CMD_MSG_MAX];
    uint8_t *body;
    size_t len;
} s_held_t;

struct tmi_repl {
    tm_mesh_t *m;
    tm_store_t *store;
    void (*barrier)(void *arg);
    void *barrier_arg;
    unsigned replicas;
    char standby[TM_MSG_NAME_MAX + 1]; /* configured, "" = by name */
    ev_async wake;
    /* the queue, filled by the hook (any thread) */
    pthread_mutex_t lock;
    struct ev_loop *loop; /* to wake once attached */
    bool active;          /* the hook queues commits */
    bool broken;          /* the hook could not queue one: copy again */
    uint64_t next_seq;    /* of the next commit */
    uint64_t mut_seq;     /* the last change queued */
    s_part_t *head, *tail;
    size_t queued_bytes; /* the commits queued after the full copy */
    uint64_t full_seq;   /* the full copy's commit (not counted above) */
    /* control thread */
    uint32_t target; /* peer number of the standby, UINT32_MAX: none */
    uint64_t target_inc;
    bool inflight;
    double sent_at;
    uint64_t acked; /* every commit up to it is on the standby */
    uint64_t full_copies, parts_sent, bytes_sent, unconfirmed;
    s_held_t held[S_HELD_MAX];
    size_t n_held;
};

/* ---- parts --------------------------------------------------------------- */

typedef struct {
    tm_repl_op_t *ops;
    size_t n, cap;
    int rc;
} s_ops_t;

static int s_ops_add(s_ops_t *o, const tm_repl_op_t *op)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        void *v = realloc(o->ops, cap * sizeof *o->ops);
        if (v == NULL) {
            o->rc = TM_ERR_NOMEM;
            return o->rc;
        }
        o->ops = v;
        o->cap = cap;
    }
    o->ops[o->n++] = *op;
    return 0;
}

static int s_db(tm_store_db_t db)
{
    return db == TM_DB_META     ? TM_REPL_META
           : db == TM_DB_ACTORS ? TM_REPL_ACTORS
           : db == TM_DB_LINKS  ? TM_REPL_LINKS
           : db == TM_DB_AUDIT  ? TM_REPL_AUDIT
                                : -1;
}

tm_store_db_t tmi_repl_store_db(uint8_t db)
{
    return db == TM_REPL_META     ? TM_DB_META
           : db == TM_REPL_ACTORS ? TM_DB_ACTORS
           : db == TM_REPL_LINKS  ? TM_DB_LINKS
                                  : TM_DB_AUDIT;
}

static int s_hook_op(void *arg, const tm_store_op_t *op)
{
    int db = s_db(op->db);
    if (db < 0) {
        return 0; /* the catalog stays on its node */
    }
    tm_repl_op_t r = {.db = (uint8_t)db,
                      .kind = op->kind == TM_STORE_OP_PUT   ? TM_REPL_PUT
                              : op->kind == TM_STORE_OP_DEL ? TM_REPL_DEL
                                                            : TM_REPL_CLEAR,
                      .key = op->key,
                      .klen = op->klen,
                      .val = op->val,
                      .vlen = op->vlen};
    return s_ops_add(arg, &r);
}

/* The end of the part that starts at ops[from]: near TM_REPL_PART_AIM
 * bytes, at most TM_REPL_OPS_MAX operations, at least one. */
static size_t s_part_end(const s_ops_t *o, size_t from)
{
    size_t at = from, size = 0;
    while (at < o->n) {
        size_t s = tm_repl_op_size(&o->ops[at]);
        if (at > from &&
            (size + s > TM_REPL_PART_AIM || at - from == TM_REPL_OPS_MAX)) {
            break;
        }
        size += s;
        at++;
    }
    return at;
}

/* ops as the parts of commit seq, appended to *first .. *last. */
static int s_cut(const tmi_repl_t *r, const s_ops_t *o, uint64_t seq, bool full,
                 bool mutation, s_part_t **first, s_part_t **last)
{
    uint32_t parts = 0;
    for (size_t at = 0; at < o->n || parts == 0; at = s_part_end(o, at)) {
        parts++;
    }
    if (parts > TM_REPL_PARTS_MAX) {
        return TM_ERR_TOO_BIG;
    }
    tm_repl_t p = {.inc = r->m->inc,
                   .seq = seq,
                   .parts = parts,
                   .full = full,
                   .mutation = mutation};
    snprintf(p.from, sizeof p.from, "%s", r->m->name);
    size_t at = 0;
    for (uint32_t k = 0; k < parts; k++) {
        size_t from = at;
        at = s_part_end(o, from);
        p.part = k;
        p.ops = o->ops + from;
        p.n_ops = (uint32_t)(at - from);
        s_part_t *q = calloc(1, sizeof *q);
        int rc =
            q == NULL ? TM_ERR_NOMEM : tm_repl_encode(&p, &q->bytes, &q->len);
        if (rc != 0) {
            free(q);
            return rc;
        }
        q->seq = seq;
        q->part = k;
        q->parts = parts;
        q->mutation = mutation;
        if (*last != NULL) {
            (*last)->next = q;
        } else {
            *first = q;
        }
        *last = q;
    }
    return 0;
}

static void s_free_parts(s_part_t *q)
{
    while (q != NULL) {
        s_part_t *next = q->next;
        free(q->bytes);
        free(q);
        q = next;
    }
}

/* ---- origin: the hook (any thread) --------------------------------------- */

static void s_hook(void *arg, const tm_store_batch_t *b)
{
    tmi_repl_t *r = arg;
    s_ops_t o = {0};
    bool queued = false;
    pthread_mutex_lock(&r->lock);
    if (r->active) {
        int rc = tm_store_batch_ops(b, s_hook_op, &o);
        if (rc == 0 && o.n > 0) {
            bool mutation = tm_store_batch_get_tag(b) != TM_CKPT_TAG;
            s_part_t *first = NULL, *last = NULL;
            uint64_t seq = r->next_seq + 1;
            rc = r->queued_bytes > S_QUEUE_MAX
                     ? TM_ERR_TOO_BIG /* a standby far behind */
                     : s_cut(r, &o, seq, false, mutation, &first, &last);
            for (s_part_t *q = rc == 0 ? first : NULL; q != NULL; q = q->next) {
                r->queued_bytes += q->len;
            }
            if (rc == 0) {
                r->next_seq = seq;
                r->mut_seq = mutation ? seq : r->mut_seq;
                if (r->tail != NULL) {
                    r->tail->next = first;
                } else {
                    r->head = first;
                }
                r->tail = last;
                queued = true;
            } else {
                s_free_parts(first);
            }
        }
        if (rc != 0) {
            r->active = false; /* the standby gets a full copy again */
            r->broken = true;
        }
    }
    struct ev_loop *loop = r->loop;
    pthread_mutex_unlock(&r->lock);
    free(o.ops);
    if (queued && loop != NULL) {
        ev_async_send(loop, &r->wake);
    }
}

/* ---- origin: held replies ------------------------------------------------ */

static void s_release(tmi_repl_t *r, bool all, const char *note)
{
    size_t k = 0;
    double now = tm_time_now();
    for (size_t i = 0; i < r->n_held; i++) {
        s_held_t *h = &r->held[i];
        bool late = now >= h->deadline;
        if (h->mark <= r->acked || all || late) {
            if (h->mark > r->acked) {
                size_t n = strlen(h->msg);
                snprintf(h->msg + n, sizeof h->msg - n, " (%s)",
                         note != NULL ? note
                                      : "the standby has not confirmed it "
                                        "within 10 s");
                r->unconfirmed++;
            }
            h->later->send(h->later, h->status, h->msg, false, h->body, h->len);
            h->later->free(h->later);
            free(h->body);
        } else {
            r->held[k++] = *h;
        }
    }
    r->n_held = k;
}

uint64_t tm_mesh_repl_mark(tm_mesh_t *m)
{
    tmi_repl_t *r = m->repl;
    if (r == NULL || r->replicas == 0) {
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    uint64_t mark = r->active ? r->mut_seq : 0;
    pthread_mutex_unlock(&r->lock);
    return mark > r->acked ? mark : 0;
}

bool tm_mesh_repl_hold(tm_mesh_t *m, uint64_t mark, tm_console_later_t *later,
                       int status, const char *msg, const uint8_t *body,
                       size_t len)
{
    tmi_repl_t *r = m->repl;
    if (r == NULL || mark == 0 || mark <= r->acked || r->n_held == S_HELD_MAX) {
        return false;
    }
    s_held_t *h = &r->held[r->n_held];
    memset(h, 0, sizeof *h);
    if (len > 0) {
        h->body = malloc(len);
        if (h->body == NULL) {
            return false;
        }
        memcpy(h->body, body, len);
    }
    h->later = later;
    h->mark = mark;
    h->deadline = tm_time_now() + S_HOLD_S;
    h->status = status;
    h->len = len;
    snprintf(h->msg, sizeof h->msg, "%s", msg);
    r->n_held++;
    return true;
}

/* ---- origin: sending ----------------------------------------------------- */

static tmi_peer_t *s_target(tmi_repl_t *r)
{
    return r->target < r->m->n_peers ? &r->m->peers[r->target] : NULL;
}

/* The standby may be sent to: alive, and it knows this node (it sent its
 * directory, which it does once it has heard this node: before that it
 * would drop what this node sends). */
static bool s_usable(const tmi_peer_t *p)
{
    return p != NULL && !p->self && p->name[0] != '\0' && p->inc != 0 &&
           p->state == TMI_ALIVE && p->dir_synced;
}

/* A member that may hold the copy: heard from and not dead (a suspect
 * standby is kept, so that a slow beat does not start a full copy). */
static bool s_candidate(const tmi_peer_t *p)
{
    return p != NULL && !p->self && p->name[0] != '\0' && p->inc != 0 &&
           (p->state == TMI_ALIVE || p->state == TMI_SUSPECT);
}

/* The standby: the configured one, else the first member after this node
 * in name order (wrapping), so that in a mesh the copies spread evenly and
 * the choice does not depend on which node started first. */
static uint32_t s_choose(tmi_repl_t *r)
{
    tm_mesh_t *m = r->m;
    uint32_t best = UINT32_MAX, wrap = UINT32_MAX;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!s_candidate(p)) {
            continue;
        }
        if (r->standby[0] != '\0') {
            if (strcmp(p->name, r->standby) == 0) {
                return i;
            }
            continue;
        }
        if (strcmp(p->name, m->name) > 0 &&
            (best == UINT32_MAX || strcmp(p->name, m->peers[best].name) < 0)) {
            best = i;
        }
        if (wrap == UINT32_MAX || strcmp(p->name, m->peers[wrap].name) < 0) {
            wrap = i;
        }
    }
    return best != UINT32_MAX ? best : wrap;
}

typedef struct {
    s_ops_t *o;
    tm_repl_db_t db;
} s_read_t;

static int s_read_cb(const void *key, size_t klen, const void *val, size_t vlen,
                     void *arg)
{
    s_read_t *rd = arg;
    if (rd->db == TM_REPL_META &&
        ((klen == 6 && memcmp(key, "format", 6) == 0) ||
         (klen == 10 && memcmp(key, "audit_next", 10) == 0))) {
        return 0; /* the store's own */
    }
    if (klen == 0 || klen > TM_REPL_KEY_MAX || vlen > TM_REPL_VALUE_MAX) {
        return TM_ERR_TOO_BIG;
    }
    tm_repl_op_t op = {.db = (uint8_t)rd->db,
                       .kind = TM_REPL_PUT,
                       .key = key,
                       .klen = klen,
                       .val = val,
                       .vlen = vlen};
    return s_ops_add(rd->o, &op);
}

/* Copies of a read: ops borrow from the store only during its walk. */
static int s_read_db(tmi_repl_t *r, tm_repl_db_t db, s_ops_t *o,
                     uint8_t **owned, size_t *n_owned)
{
    size_t first = o->n;
    s_read_t rd = {.o = o, .db = db};
    int rc = tm_store_foreach(r->store, tmi_repl_store_db(db), s_read_cb, &rd);
    if (rc != 0) {
        return rc;
    }
    /* keep the bytes: one buffer per record walked */
    for (size_t i = first; i < o->n; i++) {
        tm_repl_op_t *op = &o->ops[i];
        uint8_t *copy = malloc(op->klen + op->vlen + 1);
        if (copy == NULL) {
            return TM_ERR_NOMEM;
        }
        memcpy(copy, op->key, op->klen);
        if (op->vlen > 0) {
            memcpy(copy + op->klen, op->val, op->vlen);
        }
        op->key = copy;
        op->val = copy + op->klen;
        owned[(*n_owned)++] = copy;
    }
    return 0;
}

/* The whole store as one commit that clears the copy first. */
static int s_full(tmi_repl_t *r, s_part_t **first, s_part_t **last,
                  uint64_t seq)
{
    s_ops_t o = {0};
    int rc = 0;
    for (int db = TM_REPL_META; db <= TM_REPL_AUDIT && rc == 0; db++) {
        tm_repl_op_t clear = {.db = (uint8_t)db, .kind = TM_REPL_CLEAR};
        rc = s_ops_add(&o, &clear);
    }
    size_t n_records = 0;
    for (int db = TM_REPL_META; db <= TM_REPL_AUDIT && rc == 0; db++) {
        size_t c = 0;
        rc = tm_store_count(r->store, tmi_repl_store_db((uint8_t)db), &c);
        n_records += c;
    }
    uint8_t **owned = rc == 0 ? calloc(n_records + 1, sizeof *owned) : NULL;
    size_t n_owned = 0;
    rc = rc ? rc : owned == NULL ? TM_ERR_NOMEM : 0;
    for (int db = TM_REPL_META; db <= TM_REPL_AUDIT && rc == 0; db++) {
        /* the count may grow by nothing: no commit runs meanwhile */
        rc = s_read_db(r, (tm_repl_db_t)db, &o, owned, &n_owned);
    }
    rc = rc ? rc : s_cut(r, &o, seq, true, false, first, last);
    for (size_t i = 0; i < n_owned; i++) {
        free(owned[i]);
    }
    free(owned);
    free(o.ops);
    return rc;
}

/* Start the stream to the standby again with a full copy (the standby is
 * new, restarted, or lost a part), or stop it when there is none. */
static void s_restart(tmi_repl_t *r, uint32_t target, const char *why)
{
    tm_mesh_t *m = r->m;
    s_part_t *old = NULL;
    /* no commit runs while this runs: mutations are on this thread and
     * the checkpoint in flight is waited for */
    r->barrier(r->barrier_arg);
    pthread_mutex_lock(&r->lock);
    r->active = false;
    r->broken = false;
    old = r->head;
    r->head = r->tail = NULL;
    r->queued_bytes = 0;
    uint64_t seq = ++r->next_seq;
    r->full_seq = seq;
    pthread_mutex_unlock(&r->lock);
    s_free_parts(old);
    r->inflight = false;
    r->target = target;
    tmi_peer_t *p = s_target(r);
    if (p == NULL) {
        r->target_inc = 0;
        s_release(r, true, "no standby node is alive to hold a copy");
        return;
    }
    r->target_inc = p->inc;
    s_part_t *first = NULL, *last = NULL;
    int rc = s_full(r, &first, &last, seq);
    if (rc != 0) {
        s_free_parts(first);
        tm_log(TM_LOG_ERROR, "mesh: cannot copy this node's store to %s: %s",
               p->name, tm_err_str(rc));
        r->target = UINT32_MAX; /* tried again at the next beat */
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->head = first;
    r->tail = last;
    /* the full copy is not a backlog: whatever its size (the audit log
     * is in it), only the commits queued behind it count (S_QUEUE_MAX) */
    r->active = true;
    pthread_mutex_unlock(&r->lock);
    r->full_copies++;
    tm_log(TM_LOG_INFO,
           "mesh: standby copy of this node on %s: %s; full copy "
           "as commit %" PRIu64,
           p->name, why, seq);
    (void)m;
}

static void s_send_head(tmi_repl_t *r)
{
    tm_mesh_t *m = r->m;
    tmi_peer_t *p = s_target(r);
    pthread_mutex_lock(&r->lock);
    s_part_t *q = r->active ? r->head : NULL;
    pthread_mutex_unlock(&r->lock);
    if (r->inflight || q == NULL || !s_usable(p)) {
        return;
    }
    /* q stays at the head until it is confirmed; only this thread takes
     * parts off, so it stays valid */
    int rc = tmi_mesh_send_file(m, p, ++m->next_seq, TMI_REPL_FILE, q->bytes,
                                q->len);
    if (rc != 0) {
        tm_log(TM_LOG_WARN,
               "mesh: standby %s: cannot send commit %" PRIu64
               ": %s (tried again)",
               p->name, q->seq, tm_err_str(rc));
        r->sent_at = tm_time_now();
        r->inflight = true; /* the timeout starts it again */
        return;
    }
    r->inflight = true;
    r->sent_at = tm_time_now();
    r->parts_sent++;
    r->bytes_sent += q->len;
}

static void s_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    s_send_head(w->data);
}

/* mesh-repl-ack INC SEQ PART STATUS from the standby. */
static void s_on_ack(tmi_repl_t *r, tmi_peer_t *p, int argc,
                     const char *const *argv)
{
    uint64_t inc = 0, seq = 0, part = 0;
    if (argc != 5 || tm_text_parse_u64(argv[1], false, 0, UINT64_MAX, &inc) ||
        tm_text_parse_u64(argv[2], false, 0, UINT64_MAX, &seq) ||
        tm_text_parse_u64(argv[3], false, 0, UINT32_MAX, &part)) {
        return;
    }
    if (inc != r->m->inc || s_target(r) != p || !r->inflight) {
        return; /* an old stream's */
    }
    pthread_mutex_lock(&r->lock);
    s_part_t *q = r->head;
    bool match = q != NULL && q->seq == seq && q->part == part;
    bool ok = match && strcmp(argv[4], "ok") == 0;
    if (ok) {
        r->head = q->next;
        if (r->head == NULL) {
            r->tail = NULL;
        }
        r->queued_bytes -= q->seq != r->full_seq ? q->len : 0;
    }
    pthread_mutex_unlock(&r->lock);
    if (!match) {
        return;
    }
    r->inflight = false;
    if (!ok) {
        tm_log(TM_LOG_WARN, "mesh: standby %s refused commit %" PRIu64 " (%s)",
               p->name, seq, argv[4]);
        s_restart(r, r->target, "it lost a part");
        s_send_head(r);
        return;
    }
    if (q->part + 1 == q->parts) {
        r->acked = q->seq;
        s_release(r, false, NULL);
    }
    free(q->bytes);
    free(q);
    s_send_head(r);
}

/* ---- requests ------------------------------------------------------------ */

void tmi_repl_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                      const char *const *argv, tm_reply_t *rep)
{
    tmi_repl_t *r = m->repl;
    if (strcmp(argv[0], "mesh-repl-ack") == 0) {
        if (r != NULL) {
            s_on_ack(r, p, argc, argv);
        }
        return;
    }
    tmi_copy_request(m, argc, argv, rep); /* mesh-standby NODE */
}

/* ---- the service's part -------------------------------------------------- */

void tmi_repl_beat(tm_mesh_t *m)
{
    tmi_repl_t *r = m->repl;
    if (r == NULL) {
        return;
    }
    if (r->replicas == 0 || m->stopping) {
        return;
    }
    uint32_t want = s_choose(r);
    pthread_mutex_lock(&r->lock);
    bool broken = r->broken;
    pthread_mutex_unlock(&r->lock);
    const tmi_peer_t *cur = s_target(r);
    if (want != r->target || broken ||
        (cur != NULL && cur->inc != r->target_inc)) {
        s_restart(r, want, broken ? "a commit could not be queued" : "new");
    } else if (r->inflight && tm_time_now() - r->sent_at > S_ACK_S) {
        s_restart(r, want, "a part was not confirmed in time");
    }
    s_release(r, false, NULL);
    s_send_head(r);
}

void tmi_repl_stats(tm_mesh_t *m, tmi_repl_stats_t *out)
{
    tmi_repl_t *r = m->repl;
    memset(out, 0, sizeof *out);
    if (r == NULL) {
        return;
    }
    const tmi_peer_t *p = s_target(r);
    out->standby = r->replicas > 0 && p != NULL ? p->name : "";
    pthread_mutex_lock(&r->lock);
    out->queued = r->next_seq;
    pthread_mutex_unlock(&r->lock);
    out->acked = r->acked;
    out->full_copies = r->full_copies;
    out->parts_sent = r->parts_sent;
    out->bytes_sent = r->bytes_sent;
    out->unconfirmed = r->unconfirmed;
    out->held = r->n_held;
}

int tmi_repl_open(tm_mesh_t *m, const tmi_repl_opts_t *o)
{
    tmi_repl_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return TM_ERR_NOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->m = m;
    r->store = o->store;
    r->barrier = o->barrier;
    r->barrier_arg = o->barrier_arg;
    r->replicas = o->store != NULL && o->barrier != NULL ? o->replicas : 0;
    r->target = UINT32_MAX;
    snprintf(r->standby, sizeof r->standby, "%s",
             o->standby != NULL ? o->standby : "");
    ev_async_init(&r->wake, s_wake_cb);
    r->wake.data = r;
    m->repl = r;
    if (r->replicas > 0) {
        tm_store_on_commit(r->store, s_hook, r);
    }
    return 0;
}

void tmi_repl_attach(tm_mesh_t *m, struct ev_loop *loop)
{
    tmi_repl_t *r = m->repl;
    if (r != NULL) {
        ev_async_start(loop, &r->wake);
        pthread_mutex_lock(&r->lock);
        r->loop = loop;
        pthread_mutex_unlock(&r->lock);
    }
}

void tmi_repl_stop(tm_mesh_t *m)
{
    tmi_repl_t *r = m->repl;
    if (r == NULL) {
        return;
    }
    if (r->replicas > 0) {
        tm_store_on_commit(r->store, NULL, NULL);
    }
    pthread_mutex_lock(&r->lock);
    r->loop = NULL;
    pthread_mutex_unlock(&r->lock);
    if (m->loop != NULL) {
        ev_async_stop(m->loop, &r->wake);
    }
    s_release(r, true, "the node is stopping");
}

void tmi_repl_free(tm_mesh_t *m)
{
    tmi_repl_t *r = m->repl;
    if (r == NULL) {
        return;
    }
    if (r->replicas > 0) {
        tm_store_on_commit(r->store, NULL, NULL);
    }
    for (size_t i = 0; i < r->n_held; i++) {
        r->held[i].later->free(r->held[i].later);
        free(r->held[i].body);
    }
    s_free_parts(r->head);
    pthread_mutex_destroy(&r->lock);
    free(r);
    m->repl = NULL;
}
