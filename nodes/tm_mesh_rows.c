/* tm_mesh_rows: rows gathered from every node (tm_mesh_rows): each
 * member's answer to a console command whose body is an array (a long
 * one in parts), joined after this node's own, sorted by a field when
 * asked, the last N kept. */
#include "tm_err.h"
#include "tm_mesh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tmi_rows_part(tmi_gather_t *g, uint32_t i, const tm_console_rep_t *rep)
{
    uint32_t from = i == UINT32_MAX ? 0 : i + 1;
    if (i != UINT32_MAX && !rep->more) {
        g->got[i] = true;
    }
    if (rep->status != 0 || rep->body_len == 0) {
        /* named in the message, with the error */
        if (i != UINT32_MAX) {
            g->statuses[i] = rep->status != 0 ? rep->status : TM_ERR_WIRE_FIELD;
        }
        return 0;
    }
    if (g->n_rparts == g->cap_rparts) {
        size_t cap = g->cap_rparts ? 2 * g->cap_rparts : 8;
        tmi_rows_part_t *v = realloc(g->rparts, cap * sizeof *v);
        if (v == NULL) {
            return TM_ERR_NOMEM;
        }
        g->rparts = v;
        g->cap_rparts = cap;
    }
    uint8_t *copy = malloc(rep->body_len);
    if (copy == NULL) {
        return TM_ERR_NOMEM;
    }
    memcpy(copy, rep->body, rep->body_len);
    g->rparts[g->n_rparts++] =
        (tmi_rows_part_t){.body = copy, .len = rep->body_len, .from = from};
    return 0;
}

/* Every row, in the order they came, and its sort key. */
typedef struct {
    const msgpack_object *obj;
    uint64_t key;
    size_t order;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    bool bad[TMI_PEERS_MAX + 1]; /* a part that is not an array */
} s_rows_t;

static int s_cmp(const void *a, const void *b)
{
    const s_row_t *x = a;
    const s_row_t *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The elements of every part into r (objects in zone). */
static int s_collect(const tmi_gather_t *g, msgpack_zone *zone, s_rows_t *r)
{
    for (size_t k = 0; k < g->n_rparts; k++) {
        const tmi_rows_part_t *pt = &g->rparts[k];
        msgpack_object *obj = msgpack_zone_malloc(zone, sizeof *obj);
        if (obj == NULL) {
            return TM_ERR_NOMEM;
        }
        if (tm_wire_unpack(pt->body, pt->len, NULL, zone, obj) != 0 ||
            obj->type != MSGPACK_OBJECT_ARRAY) {
            r->bad[pt->from] = true;
            continue;
        }
        for (uint32_t e = 0; e < obj->via.array.size; e++) {
            if (r->n == r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 64;
                s_row_t *v = realloc(r->rows, cap * sizeof *v);
                if (v == NULL) {
                    return TM_ERR_NOMEM;
                }
                r->rows = v;
                r->cap = cap;
            }
            s_row_t *row = &r->rows[r->n];
            row->obj = &obj->via.array.ptr[e];
            row->key = 0;
            row->order = r->n;
            if (g->sort_key != NULL) {
                (void)tm_wire_get_u64(row->obj, g->sort_key, &row->key);
            }
            r->n++;
        }
    }
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
    g->used = false;
}

void tmi_rows_finish(tm_mesh_t *m, tmi_gather_t *g)
{
    if (g->status != 0) { /* the node stops */
        g->later->send(g->later, g->status, g->why, false, NULL, 0);
        g->later->free(g->later);
        s_free(g);
        return;
    }
    tm_reply_t rep;
    tm_wire_buf_t w;
    msgpack_zone zone;
    s_rows_t r;
    char silent[TM_CMD_MSG_MAX];
    uint32_t answered = 1, asked = 1;
    memset(&r, 0, sizeof r);
    tm_reply_init(&rep);
    tm_wire_buf_init(&w);
    bool zoned = msgpack_zone_init(&zone, 4096);
    int rc = zoned ? s_collect(g, &zone, &r) : TM_ERR_NOMEM;
    if (rc == 0 && g->sort_key != NULL) {
        qsort(r.rows, r.n, sizeof *r.rows, s_cmp);
    }
    size_t first = g->limit > 0 && r.n > g->limit ? r.n - g->limit : 0;
    tm_body_t *b = tm_reply_body(&rep);
    tm_body_array(b);
    for (size_t k = first; rc == 0 && k < r.n; k++) {
        tm_wire_buf_clear(&w);
        msgpack_pack_object(&w.pk, *r.rows[k].obj);
        rc = tm_wire_buf_ok(&w);
        if (rc == 0) {
            tm_body_raw(b, (const uint8_t *)w.sbuf.data, w.sbuf.size);
        }
    }
    tm_body_end(b);
    s_silent(m, g, &r, silent, sizeof silent, &answered, &asked);
    if (rc != 0) {
        tm_reply_error(&rep, rc, "rows of the mesh: %s", tm_err_str(rc));
    } else if (answered == asked) {
        tm_reply_msg(&rep, "%zu of %zu rows from %u nodes", r.n - first, r.n,
                     answered);
    } else {
        tm_reply_msg(&rep, "%zu of %zu rows from %u of %u nodes; not: %s",
                     r.n - first, r.n, answered, asked, silent);
    }
    int status = rc != 0 ? rc : tm_reply_done(&rep);
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(&rep, &len);
    g->later->send(g->later, status, rep.message, false,
                   status == 0 ? body : NULL, status == 0 ? len : 0);
    g->later->free(g->later);
    tm_reply_destroy(&rep);
    tm_wire_buf_destroy(&w);
    free(r.rows);
    if (zoned) {
        msgpack_zone_destroy(&zone);
    }
    s_free(g);
}
