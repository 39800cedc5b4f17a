/* tm_mesh_place: placement of new actors over the mesh - each node's load
 * as this node knows it, the choice (tm_place), and the actors placed
 * since a node's last heartbeat (see tm_mesh.h, "placement"). */
#include "tm_err.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pending placements expire after this many heartbeat intervals, and not
 * sooner than S_PENDING_MIN_S (a spawn that failed on its node is never
 * shown by its heartbeats; one that takes long still counts). */
#define S_PENDING_BEATS 5.0
#define S_PENDING_MIN_S 5.0

uint64_t tmi_mesh_step_us(const tm_mesh_t *m)
{
    double us = m->sched != NULL ? tm_sched_step_us(m->sched) : 0;
    if (!(us > 0)) {
        return 0;
    }
    us = round(us);
    return us < (double)TM_MSG_STEP_US_MAX ? (uint64_t)us : TM_MSG_STEP_US_MAX;
}

/* What is still pending of `placed` once the node shows `actors`
 * (tm_place_pending). */
static uint64_t s_still(const tm_mesh_t *m, uint64_t placed, uint64_t base,
                        double at, uint64_t actors)
{
    double keep = S_PENDING_BEATS * m->hb_s;
    keep = keep > S_PENDING_MIN_S ? keep : S_PENDING_MIN_S;
    return tm_place_pending(placed, base, actors, tm_time_now() - at, keep);
}

void tmi_place_heard(tm_mesh_t *m, tmi_peer_t *p, uint64_t actors)
{
    p->placed = s_still(m, p->placed, p->placed_base, p->placed_at, actors);
    p->placed_base = actors;
}

size_t tm_mesh_loads(const tm_mesh_t *m, tm_place_node_t *out, size_t cap)
{
    size_t n = 0;
    uint64_t count = tm_rt_count(m->rt);
    if (cap > 0) {
        out[0] =
            (tm_place_node_t){.name = m->name,
                              .site = m->site,
                              .alive = !m->stopping,
                              .actors = count,
                              .step_us = tmi_mesh_step_us(m),
                              .pending = s_still(m, m->placed, m->placed_base,
                                                 m->placed_at, count)};
    }
    n++;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        const tmi_peer_t *p = &m->peers[i];
        if (p->self || p->name[0] == '\0') {
            continue;
        }
        if (n < cap) {
            out[n] = (tm_place_node_t){.name = p->name,
                                       .site = p->site,
                                       .alive = p->state == TMI_ALIVE,
                                       .actors = p->actors,
                                       .step_us = p->step_us,
                                       .pending =
                                           s_still(m, p->placed, p->placed_base,
                                                   p->placed_at, p->actors)};
        }
        n++;
    }
    return n;
}

void tmi_place_pending(tm_mesh_t *m, const char *name, uint64_t n)
{
    uint64_t *placed = &m->placed;
    uint64_t *base = &m->placed_base;
    double *at = &m->placed_at;
    uint64_t actors = tm_rt_count(m->rt);
    tmi_peer_t *p = strcmp(name, m->name) == 0 ? NULL : tmi_mesh_peer(m, name);
    if (p != NULL) {
        placed = &p->placed;
        base = &p->placed_base;
        at = &p->placed_at;
        actors = p->actors;
    }
    uint64_t still = s_still(m, *placed, *base, *at, actors);
    if (still == 0) {
        *base = actors; /* a fresh count from what it shows now */
    }
    *placed = still + n;
    *at = tm_time_now();
}

int tm_mesh_place(tm_mesh_t *m, const char *site, const char *exclude,
                  uint64_t extra_self, char *node, size_t node_cap, char *why,
                  size_t why_cap)
{
    tm_place_node_t nodes[TMI_PEERS_MAX + 1];
    size_t chosen = 0;
    if (m == NULL || node == NULL || node_cap <= TM_MSG_NAME_MAX ||
        why == NULL || why_cap == 0) {
        return TM_ERR_INVAL;
    }
    size_t n = tm_mesh_loads(m, nodes, TMI_PEERS_MAX + 1);
    if (n > TMI_PEERS_MAX + 1) {
        n = TMI_PEERS_MAX + 1;
    }
    int rc = tm_place_choose(nodes, n, site, exclude, extra_self, &chosen, why,
                             why_cap);
    if (rc != 0) {
        return rc;
    }
    snprintf(node, node_cap, "%s", nodes[chosen].name);
    tmi_place_pending(m, node, extra_self > 0 ? extra_self : 1);
    return 0;
}
