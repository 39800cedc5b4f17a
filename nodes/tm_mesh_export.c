/* tm_mesh_export: the export of the whole mesh - this node's actors and
 * the links into them, then every other node's (a forwarded `export`,
 * whose parts are checked with the hardened decoder and relayed as they
 * come); the console sorts the whole (docs/plant.md, "export"). */
#include "tm_err.h"
#include "tm_mesh_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Relays one node's export parts into the export of slot. */
typedef struct {
    tm_console_later_t base;
    tm_mesh_t *m;
    size_t slot;
    uint64_t gen;
    char node[TM_MSG_NAME_MAX + 1];
} s_relay_t;

void tmi_export_end(tm_mesh_t *m, tmi_export_t *x, int status, const char *msg,
                    const uint8_t *body, size_t len)
{
    x->later->send(x->later, status, msg, false, body, len);
    x->later->free(x->later);
    memset(x, 0, sizeof *x);
    (void)m;
}

/* Every node's parts are there: the last part (empty) ends the reply. */
static void s_export_done(tm_mesh_t *m, tmi_export_t *x)
{
    tm_plant_t none;
    tm_plant_chunk_t h = {.upload = 0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    size_t na = 0;
    size_t nl = 0;
    char msg[TM_CMD_MSG_MAX];
    uint64_t lo = tm_rt_tick(m->rt);
    uint64_t hi = lo;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (!p->self && p->name[0] != '\0') {
            lo = p->tick < lo ? p->tick : lo;
            hi = p->tick > hi ? p->tick : hi;
        }
    }
    if (lo == hi) {
        snprintf(msg, sizeof msg,
                 "%zu actors, %zu links of %u nodes at tick %llu", x->actors,
                 x->links, x->nodes, (unsigned long long)lo);
    } else {
        snprintf(msg, sizeof msg,
                 "%zu actors, %zu links of %u nodes at ticks %llu to %llu "
                 "(for one tick, `clock pause` first)",
                 x->actors, x->links, x->nodes, (unsigned long long)lo,
                 (unsigned long long)hi);
    }
    tm_plant_init(&none, x->file);
    int rc = tm_plant_chunk_encode(&none, &h, &na, &nl, 4096, &bytes, &len);
    if (rc != 0) {
        tmi_export_end(m, x, rc, "cannot end the export", NULL, 0);
    } else {
        tmi_export_end(m, x, 0, msg, bytes, len);
    }
    free(bytes);
    tm_plant_free(&none);
}

static void s_relay_send(tm_console_later_t *l, int status, const char *msg,
                         bool more, const uint8_t *body, size_t len)
{
    s_relay_t *r = (s_relay_t *)l;
    tmi_export_t *x = &r->m->exports[r->slot];
    char err[TM_CMD_MSG_MAX];
    if (!x->used || x->gen != r->gen) {
        return;
    }
    if (status != 0) {
        snprintf(err, sizeof err, "node %s could not export its part: %.800s",
                 r->node, msg);
        tmi_export_end(r->m, x, status, err, NULL, 0);
        return;
    }
    if (body != NULL && len > 0) {
        tm_plant_t part;
        tm_plant_chunk_t h;
        tm_plant_init(&part, "part");
        int rc = tm_plant_chunk_decode(body, len, NULL, &h, &part);
        tm_plant_free(&part);
        if (rc != 0) {
            snprintf(err, sizeof err,
                     "node %s sent a malformed part of its export: %s", r->node,
                     tm_err_str(rc));
            tmi_export_end(r->m, x, rc, err, NULL, 0);
            return;
        }
        x->actors += h.actors;
        x->links += h.links;
        x->later->send(x->later, 0, "", true, body, len);
    }
    if (!more && --x->waiting == 0) {
        s_export_done(r->m, x);
    }
}

static void s_relay_free(tm_console_later_t *l)
{
    free(l);
}

/* own's parts to the console, as parts of the reply. */
static int s_export_own(tmi_export_t *x, const tm_plant_t *own)
{
    tm_plant_chunk_t h = {.upload = 0};
    size_t na = 0;
    size_t nl = 0;
    int rc = 0;
    while (rc == 0 && (na < own->n_actors || nl < own->n_links)) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = tm_plant_chunk_encode(own, &h, &na, &nl, 512u * 1024u, &bytes,
                                   &len);
        if (rc == 0) {
            x->later->send(x->later, 0, "", true, bytes, len);
        }
        free(bytes);
        h.index++;
    }
    x->actors = own->n_actors;
    x->links = own->n_links;
    return rc;
}

int tm_mesh_export(tm_mesh_t *m, const tm_plant_t *own,
                   tm_console_later_t *later, char *why, size_t cap)
{
    tmi_export_t *x = NULL;
    int rc = tmi_plan_all_alive(m, "an export reads", why, cap);
    for (size_t i = 0; rc == 0 && i < TMI_EXPORTS && x == NULL; i++) {
        x = m->exports[i].used ? NULL : &m->exports[i];
    }
    if (rc == 0 && x == NULL) {
        snprintf(why, cap, "too many exports in progress; try again");
        rc = TM_ERR_BUSY;
    }
    if (rc != 0) {
        return rc;
    }
    *x = (tmi_export_t){
        .used = true, .gen = ++m->export_gen, .later = later, .nodes = 1};
    snprintf(x->file, sizeof x->file, "%s", own->file);
    rc = s_export_own(x, own);
    for (uint32_t i = 0; rc == 0 && i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (p->self || p->name[0] == '\0') {
            continue;
        }
        s_relay_t *r = calloc(1, sizeof *r);
        if (r == NULL) {
            rc = TM_ERR_NOMEM;
            break;
        }
        *r = (s_relay_t){.base = {s_relay_send, s_relay_free, false},
                         .m = m,
                         .slot = (size_t)(x - m->exports),
                         .gen = x->gen};
        snprintf(r->node, sizeof r->node, "%s", p->name);
        const char *argv[] = {"export"};
        char fwhy[TM_CMD_MSG_MAX];
        rc = tm_mesh_forward(m, p->name, 1, argv, &r->base, fwhy, sizeof fwhy);
        if (rc != 0) {
            free(r);
            snprintf(why, cap, "%s", fwhy);
            break;
        }
        x->waiting++;
        x->nodes++;
    }
    if (rc != 0) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg, "export: %.900s",
                 why[0] != '\0' ? why : tm_err_str(rc));
        tmi_export_end(m, x, rc, msg, NULL, 0);
    } else if (x->waiting == 0) {
        s_export_done(m, x);
    }
    return 0;
}
