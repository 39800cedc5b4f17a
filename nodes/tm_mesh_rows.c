/* tm_mesh_rows: rows gathered from every node (tm_mesh_rows): each
 * member's answer to a console command whose body is an array, joined
 * into one array after this node's own. */
#include "tm_err.h"
#include "tm_mesh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tmi_rows_part(tmi_gather_t *g, uint32_t i, const tm_console_rep_t *rep)
{
    g->got[i] = true;
    if (rep->status != 0 || rep->body_len == 0) {
        /* named in the message, with the error */
        g->statuses[i] = rep->status != 0 ? rep->status : TM_ERR_WIRE_FIELD;
        return;
    }
    uint8_t *copy = malloc(rep->body_len);
    if (copy != NULL) {
        memcpy(copy, rep->body, rep->body_len);
        g->bodies[i + 1] = copy;
        g->lens[i + 1] = rep->body_len;
    }
}

/* The elements of one answer (an array) into b; false when it is not one
 * (a malformed answer: the node is named as one that did not answer). */
static bool s_elements(tm_body_t *b, tm_wire_buf_t *w, const uint8_t *body,
                       size_t len)
{
    msgpack_zone zone;
    msgpack_object obj;
    if (!msgpack_zone_init(&zone, 1024)) {
        return false;
    }
    bool ok = tm_wire_unpack(body, len, NULL, &zone, &obj) == 0 &&
              obj.type == MSGPACK_OBJECT_ARRAY;
    for (uint32_t k = 0; ok && k < obj.via.array.size; k++) {
        tm_wire_buf_clear(w);
        msgpack_pack_object(&w->pk, obj.via.array.ptr[k]);
        ok = tm_wire_buf_ok(w) == 0;
        if (ok) {
            tm_body_raw(b, (const uint8_t *)w->sbuf.data, w->sbuf.size);
        }
    }
    msgpack_zone_destroy(&zone);
    return ok;
}

static void s_free(tmi_gather_t *g)
{
    for (uint32_t i = 0; i <= TMI_PEERS_MAX; i++) {
        free(g->bodies[i]);
        g->bodies[i] = NULL;
    }
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
    char silent[TM_CMD_MSG_MAX] = "";
    size_t used = 0;
    uint32_t answered = 1, asked = 1;
    tm_reply_init(&rep);
    tm_wire_buf_init(&w);
    tm_body_t *b = tm_reply_body(&rep);
    tm_body_array(b);
    (void)s_elements(b, &w, g->bodies[0], g->lens[0]);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (p->self || p->name[0] == '\0' || p->state == TMI_DEAD) {
            continue; /* not asked (a dead node is not) */
        }
        asked++;
        if (g->bodies[i + 1] != NULL &&
            s_elements(b, &w, g->bodies[i + 1], g->lens[i + 1])) {
            answered++;
            continue;
        }
        const char *what = g->seqs[i] == 0  ? "not asked: cannot send"
                           : !g->got[i]     ? "no answer within 3 s"
                           : g->statuses[i] ? tm_err_str(g->statuses[i])
                                            : "a malformed answer";
        if (used < sizeof silent) {
            int n = snprintf(silent + used, sizeof silent - used, "%s%s (%s)",
                             used > 0 ? ", " : "", p->name, what);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    tm_body_end(b);
    if (answered == asked) {
        tm_reply_msg(&rep, "%u nodes", answered);
    } else {
        tm_reply_msg(&rep, "%u of %u nodes answered; not: %s", answered, asked,
                     silent);
    }
    int status = tm_reply_done(&rep);
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(&rep, &len);
    g->later->send(g->later, status, rep.message, false,
                   status == 0 ? body : NULL, status == 0 ? len : 0);
    g->later->free(g->later);
    tm_reply_destroy(&rep);
    tm_wire_buf_destroy(&w);
    s_free(g);
}
