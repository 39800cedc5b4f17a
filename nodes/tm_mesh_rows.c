/* tm_mesh_rows: rows gathered from every node (tm_mesh_rows): each
 * member's answer to a console command whose body is an array (a long
 * one in parts), joined with this node's own; merged by a field when
 * asked (each node's rows keep their own order), the last N kept, and
 * sent on in parts. At most TMI_ROWS_BYTES_MAX bytes of answers are kept:
 * beyond, the request fails with a clear error. */
#include "tm_err.h"
#include "tm_mesh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PART_BYTES (512u * 1024u) /* a reply part sent on: under 1 MiB */

/* A part that only keeps the asking node waiting (more, a nil body). */
static bool s_keepalive(const tm_console_rep_t *rep)
{
    return rep->more && rep->status == 0 &&
           (rep->body_len == 0 || (rep->body_len == 1 && rep->body[0] == 0xc0));
}

int tmi_rows_part(tmi_gather_t *g, uint32_t i, const tm_console_rep_t *rep)
{
    bool own = i == UINT32_MAX;
    if (!own && s_keepalive(rep)) {
        return 0;
    }
    if (!own && (!rep->more || rep->status != 0)) {
        g->got[i] = true; /* its last part (an error ends it too) */
    }
    if (rep->status != 0 || rep->body_len == 0) {
        if (!own) { /* named in the message, with the error */
            g->statuses[i] = rep->status != 0 ? rep->status : TM_ERR_WIRE_FIELD;
        }
        return 0;
    }
    if (g->overflow || rep->body_len > TMI_ROWS_BYTES_MAX - g->rbytes) {
        g->overflow = true;
        return 0;
    }
    int rc = 0;
    if (g->n_rparts == g->cap_rparts) {
        size_t cap = g->cap_rparts ? 2 * g->cap_rparts : 8;
        tmi_rows_part_t *v = realloc(g->rparts, cap * sizeof *v);
        rc = v == NULL ? TM_ERR_NOMEM : 0;
        if (v != NULL) {
            g->rparts = v;
            g->cap_rparts = cap;
        }
    }
    uint8_t *copy = rc == 0 ? malloc(rep->body_len) : NULL;
    if (copy == NULL) {
        if (!own) {
            g->statuses[i] = TM_ERR_NOMEM;
        }
        return TM_ERR_NOMEM;
    }
    memcpy(copy, rep->body, rep->body_len);
    g->rparts[g->n_rparts++] = (tmi_rows_part_t){
        .body = copy, .len = rep->body_len, .from = own ? 0 : i + 1};
    g->rbytes += rep->body_len;
    return 0;
}

/* ---- the end ------------------------------------------------------------ */

typedef struct {
    const msgpack_object *obj;
    uint64_t key;
    uint32_t from;
    size_t order;
    size_t run; /* rows of one log: one node's answer, and within it one
                 * "node" (a node may answer with a dead node's rows) */
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    bool bad[TMI_PEERS_MAX + 1]; /* a node whose answer did not decode */
} s_rows_t;

static int s_by_node(const void *a, const void *b)
{
    const s_row_t *x = a;
    const s_row_t *y = b;
    if (x->from != y->from) {
        return x->from < y->from ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Whether node `from`'s rows are left out: it failed, or gave up midway
 * (its earlier parts do not make a whole answer). */
static bool s_failed(const tmi_gather_t *g, const s_rows_t *r, uint32_t from)
{
    return r->bad[from] ||
           (from > 0 && (!g->got[from - 1] || g->statuses[from - 1] != 0));
}

static int s_push(s_rows_t *r, const msgpack_object *obj, uint32_t from)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        s_row_t *v = realloc(r->rows, cap * sizeof *v);
        if (v == NULL) {
            return TM_ERR_NOMEM;
        }
        r->rows = v;
        r->cap = cap;
    }
    r->rows[r->n] = (s_row_t){.obj = obj, .from = from, .order = r->n};
    r->n++;
    return 0;
}

/* ---- one row per node and seq (opts.unique) ---------------------------- */

typedef struct {
    const char *node;
    size_t nlen;
    uint64_t seq;
    bool copy; /* read from a copy of the node's store */
    size_t at; /* in r->rows */
} s_ident_t;

static int s_by_ident(const void *a, const void *b)
{
    const s_ident_t *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->node, y->node, n);
    if (c != 0 || x->nlen != y->nlen) {
        return c != 0 ? c : x->nlen < y->nlen ? -1 : 1;
    }
    if (x->seq != y->seq) {
        return x->seq < y->seq ? -1 : 1;
    }
    if (x->copy != y->copy) {
        return x->copy ? 1 : -1; /* the node's own first */
    }
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Drop every row but one of each node and seq (rows without both stay),
 * keeping the order of the others. */
static int s_unique(s_rows_t *r)
{
    s_ident_t *id = malloc((r->n + 1) * sizeof *id);
    bool *drop = calloc(r->n + 1, sizeof *drop);
    size_t n = 0;
    if (id == NULL || drop == NULL) {
        free(id);
        free(drop);
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < r->n; k++) {
        s_ident_t *x = &id[n];
        if (tm_wire_get_str(r->rows[k].obj, "node", &x->node, &x->nlen) == 0 &&
            tm_wire_get_u64(r->rows[k].obj, "seq", &x->seq) == 0) {
            x->copy = tm_wire_map_get(r->rows[k].obj, "copy_on") != NULL;
            x->at = k;
            n++;
        }
    }
    qsort(id, n, sizeof *id, s_by_ident);
    for (size_t k = 1; k < n; k++) {
        drop[id[k].at] = id[k].nlen == id[k - 1].nlen &&
                         memcmp(id[k].node, id[k - 1].node, id[k].nlen) == 0 &&
                         id[k].seq == id[k - 1].seq;
    }
    size_t kept = 0;
    for (size_t k = 0; k < r->n; k++) {
        if (!drop[k]) {
            r->rows[kept++] = r->rows[k];
        }
    }
    r->n = kept;
    free(id);
    free(drop);
    return 0;
}

/* Whether two rows name the same node (or neither names one). */
static bool s_same_node(const msgpack_object *a, const msgpack_object *b)
{
    const char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    bool hx = tm_wire_get_str(a, "node", &x, &nx) == 0;
    bool hy = tm_wire_get_str(b, "node", &y, &ny) == 0;
    return hx == hy && (!hx || (nx == ny && memcmp(x, y, nx) == 0));
}

/* Every part decoded (objects in zone); then the rows of the nodes that
 * answered whole, grouped by node in their own order, each with its key
 * (a row without one - a damaged record - takes its predecessor's, so it
 * stays where its node put it). */
static int s_collect(const tmi_gather_t *g, msgpack_zone *zone, s_rows_t *r)
{
    msgpack_object *objs =
        msgpack_zone_malloc(zone, (g->n_rparts + 1) * sizeof *objs);
    if (objs == NULL) {
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < g->n_rparts; k++) {
        const tmi_rows_part_t *pt = &g->rparts[k];
        /* this node's own answer is one part of any size */
        tm_wire_limits_t lim = {.max_size = pt->from == 0 ? pt->len : 0};
        if (tm_wire_unpack(pt->body, pt->len, &lim, zone, &objs[k]) != 0 ||
            objs[k].type != MSGPACK_OBJECT_ARRAY) {
            r->bad[pt->from] = true;
        }
    }
    for (size_t k = 0; k < g->n_rparts; k++) {
        uint32_t from = g->rparts[k].from;
        for (uint32_t e = 0;
             !s_failed(g, r, from) && e < objs[k].via.array.size; e++) {
            if (s_push(r, &objs[k].via.array.ptr[e], from) != 0) {
                return TM_ERR_NOMEM;
            }
        }
    }
    qsort(r->rows, r->n, sizeof *r->rows, s_by_node);
    if (g->unique && s_unique(r) != 0) {
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < r->n; k++) {
        s_row_t *row = &r->rows[k];
        row->run = k == 0 ? 0
                          : r->rows[k - 1].run +
                                (r->rows[k - 1].from != row->from ||
                                 !s_same_node(r->rows[k - 1].obj, row->obj));
    }
    for (size_t k = 0; g->sort_key != NULL && k < r->n; k++) {
        s_row_t *row = &r->rows[k];
        bool first = k == 0 || r->rows[k - 1].run != row->run;
        if (tm_wire_get_u64(row->obj, g->sort_key, &row->key) != 0) {
            row->key = first ? 0 : r->rows[k - 1].key;
        }
    }
    return 0;
}

/* The rows by key, merging the logs' own orders (ties: the lower node
 * first): into out, r->n of them. TM_ERR_NOMEM. */
static int s_merge(const s_rows_t *r, const s_row_t **out)
{
    size_t runs = r->n > 0 ? r->rows[r->n - 1].run + 1 : 0;
    size_t *head = malloc((runs + 1) * sizeof *head);
    size_t *end = malloc((runs + 1) * sizeof *end);
    size_t nodes = 0;
    if (head == NULL || end == NULL) {
        free(head);
        free(end);
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < r->n; k++) {
        if (k == 0 || r->rows[k].run != r->rows[k - 1].run) {
            head[nodes] = k;
            end[nodes++] = k;
        }
        end[nodes - 1] = k + 1;
    }
    for (size_t o = 0; o < r->n; o++) {
        size_t best = nodes;
        for (size_t j = 0; j < nodes; j++) {
            if (head[j] < end[j] &&
                (best == nodes ||
                 r->rows[head[j]].key < r->rows[head[best]].key)) {
                best = j;
            }
        }
        out[o] = &r->rows[head[best]++];
    }
    free(head);
    free(end);
    return 0;
}

/* "a (no answer within 3 s), b (UNSUPPORTED)": members not dead that gave
 * no rows; how many nodes answered into *answered, were asked *asked. */
static void s_silent(tm_mesh_t *m, const tmi_gather_t *g, const s_rows_t *r,
                     char *out, size_t cap, uint32_t *answered, uint32_t *asked)
{
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (p->self || p->name[0] == '\0' || p->state == TMI_DEAD) {
            continue; /* not asked (a dead node is not) */
        }
        (*asked)++;
        const char *what = g->seqs[i] == 0  ? "not asked: cannot send"
                           : !g->got[i]     ? "no answer within 3 s"
                           : g->statuses[i] ? tm_err_str(g->statuses[i])
                           : r->bad[i + 1]  ? "a malformed answer"
                                            : NULL;
        if (what == NULL) {
            (*answered)++;
        } else if (used < cap) {
            int n = snprintf(out + used, cap - used, "%s%s (%s)",
                             used > 0 ? ", " : "", p->name, what);
            used += n > 0 ? (size_t)n : 0;
        }
    }
}

static void s_free(tmi_gather_t *g)
{
    for (size_t k = 0; k < g->n_rparts; k++) {
        free(g->rparts[k].body);
    }
    free(g->rparts);
    g->rparts = NULL;
    g->n_rparts = g->cap_rparts = 0;
    g->rbytes = 0;
    g->used = false;
}

static void s_fail(tmi_gather_t *g, int status, const char *msg)
{
    g->later->send(g->later, status, msg, false, NULL, 0);
    g->later->free(g->later);
    s_free(g);
}

/* Rows first .. n of order into parts of about S_PART_BYTES, sent on with
 * more; the last with message. */
static int s_send(tmi_gather_t *g, const s_row_t *const *order, size_t first,
                  size_t n, const char *message)
{
    tm_reply_t rep;
    tm_wire_buf_t w;
    int rc = 0;
    size_t k = first;
    tm_reply_init(&rep);
    tm_wire_buf_init(&w);
    do {
        tm_body_t *b = tm_reply_body(&rep);
        tm_body_array(b);
        while (rc == 0 && k < n && rep.buf.sbuf.size < S_PART_BYTES) {
            tm_wire_buf_clear(&w);
            msgpack_pack_object(&w.pk, *order[k++]->obj);
            rc = tm_wire_buf_ok(&w);
            if (rc == 0) {
                tm_body_raw(b, (const uint8_t *)w.sbuf.data, w.sbuf.size);
            }
        }
        tm_body_end(b);
        if (rc == 0) {
            tm_reply_msg(&rep, "%s", k < n ? "" : message);
            rc = tm_reply_done(&rep);
        }
        size_t len = 0;
        const uint8_t *body = tm_reply_bytes(&rep, &len);
        if (rc == 0) {
            g->later->send(g->later, 0, rep.message, k < n, body, len);
        }
        tm_reply_reset(&rep);
    } while (rc == 0 && k < n);
    tm_reply_destroy(&rep);
    tm_wire_buf_destroy(&w);
    return rc;
}

void tmi_rows_finish(tm_mesh_t *m, tmi_gather_t *g)
{
    if (g->status != 0) { /* the node stops */
        s_fail(g, g->status, g->why);
        return;
    }
    if (g->overflow) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "the nodes' answers came to more than %u MiB: ask for "
                 "fewer (--limit, --since, --actor, or --node NODE)",
                 TMI_ROWS_BYTES_MAX >> 20);
        s_fail(g, TM_ERR_TOO_BIG, msg);
        return;
    }
    msgpack_zone zone;
    s_rows_t r;
    const s_row_t **order = NULL;
    char silent[TM_CMD_MSG_MAX];
    char msg[TM_CMD_MSG_MAX];
    uint32_t answered = 1, asked = 1;
    memset(&r, 0, sizeof r);
    bool zoned = msgpack_zone_init(&zone, 4096);
    int rc = zoned ? s_collect(g, &zone, &r) : TM_ERR_NOMEM;
    order = rc == 0 ? malloc((r.n + 1) * sizeof *order) : NULL;
    rc = rc == 0 && order == NULL ? TM_ERR_NOMEM : rc;
    if (rc == 0 && g->sort_key != NULL) {
        rc = s_merge(&r, order);
    }
    for (size_t k = 0; rc == 0 && g->sort_key == NULL && k < r.n; k++) {
        order[k] = &r.rows[k]; /* by node, each in its own order */
    }
    size_t first = g->limit > 0 && r.n > g->limit ? r.n - g->limit : 0;
    s_silent(m, g, &r, silent, sizeof silent, &answered, &asked);
    if (answered == asked) {
        snprintf(msg, sizeof msg, "%zu of %zu rows from %u nodes", r.n - first,
                 r.n, answered);
    } else {
        snprintf(msg, sizeof msg,
                 "%zu of %zu rows from %u of %u nodes; not: %s", r.n - first,
                 r.n, answered, asked, silent);
    }
    rc = rc ? rc : s_send(g, order, first, r.n, msg);
    if (rc != 0) {
        snprintf(msg, sizeof msg, "rows of the mesh: %s", tm_err_str(rc));
        g->later->send(g->later, rc, msg, false, NULL, 0);
    }
    g->later->free(g->later);
    free(order);
    free(r.rows);
    if (zoned) {
        msgpack_zone_destroy(&zone);
    }
    s_free(g);
}
