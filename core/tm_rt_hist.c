/* tm_rt_hist: output histories - the rings of past outputs that delayed
 * links read, each actor's window in them, import and export.
 *
 * Ring. A group keeps the outputs of its last `depth` ticks: out[j] is the
 * buffer of tick (current - j). Before each tick the control thread turns
 * every ring by one (the oldest buffer becomes out[0], to be written), so a
 * gather entry that points at out[d] reads tick k - d at every tick k
 * without any arithmetic on ticks; a depth of 2 is the double buffer of a
 * plain one-tick coupling. depth = 1 + the largest delay of the links
 * reading the group, at least 2: rings grow when a link needs it
 * (tmi_rt_history_widen) and shrink when the plan is rebuilt.
 *
 * Window. What a link reads must not depend on which group an actor shares
 * with others (worker count, shard placement). So each actor has its own
 * window, `history` = the largest delay of the links reading it (1
 * without): its outputs of the last `history` ticks are kept exactly.
 * Widening it to d fills the ticks it did not keep (from `history` to
 * d - 1 back) with its oldest kept outputs, whatever the group's ring
 * held there; ticks outside a window are never read.
 *
 * Proxies. A proxy's group is turned like any other and then carries each
 * proxy's outputs forward: a tick not imported holds the tick before.
 * tm_rt_import sets every tick of the ring, tm_rt_import_at one tick of the
 * window.
 */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <stdlib.h>
#include <string.h>

/* ---- rings -------------------------------------------------------------- */

int tmi_rt_ring_init(tmi_rt_group_t *g)
{
    g->out = calloc(2, sizeof *g->out);
    if (g->out == NULL) {
        return TM_ERR_NOMEM;
    }
    g->depth = 2;
    return 0;
}

void tmi_rt_ring_free(tmi_rt_group_t *g)
{
    for (uint32_t j = 0; g->out != NULL && j < g->depth; j++) {
        free(g->out[j]);
    }
    free(g->out);
    g->out = NULL;
}

/* A buffer of cap slots of g's outputs (at least one value). */
static double *s_buffer(const tmi_rt_group_t *g, size_t cap)
{
    size_t count = cap * g->no;
    return malloc((count ? count : 1) * sizeof(double));
}

int tmi_rt_ring_reserve(tmi_rt_group_t *g, size_t cap)
{
    size_t count = cap * g->no;
    for (uint32_t j = 0; j < g->depth; j++) {
        double *p = realloc(g->out[j], (count ? count : 1) * sizeof(double));
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        g->out[j] = p;
    }
    return 0;
}

int tmi_rt_ring_resize(tm_rt_t *rt, tmi_rt_group_t *g, uint32_t depth)
{
    if (depth == g->depth) {
        return 0;
    }
    if (depth < g->depth) {
        for (uint32_t j = depth; j < g->depth; j++) {
            free(g->out[j]);
        }
        g->depth = depth;
        double **ring = realloc(g->out, depth * sizeof *ring);
        g->out = ring != NULL ? ring : g->out; /* a smaller block: keep */
        rt->plan_dirty = 1;
        return 0;
    }
    double **ring = malloc(depth * sizeof *ring);
    if (ring == NULL) {
        return TM_ERR_NOMEM;
    }
    memcpy(ring, g->out, g->depth * sizeof *ring);
    for (uint32_t j = g->depth; j < depth; j++) {
        ring[j] = s_buffer(g, g->cap);
        if (ring[j] == NULL) {
            while (j-- > g->depth) {
                free(ring[j]);
            }
            free(ring);
            return TM_ERR_NOMEM;
        }
        if (g->n > 0) { /* a new group has no buffers yet */
            memcpy(ring[j], ring[g->depth - 1], g->n * g->no * sizeof(double));
        }
    }
    free(g->out);
    g->out = ring;
    g->depth = depth;
    rt->plan_dirty = 1;
    return 0;
}

void tmi_rt_ring_turn(tmi_rt_group_t *g)
{
    double **ring = g->out;
    double *oldest = ring[g->depth - 1];
    memmove(ring + 1, ring, (g->depth - 1) * sizeof *ring);
    ring[0] = oldest;
    if (g->remote && g->n > 0) {
        memcpy(ring[0], ring[1], g->n * g->no * sizeof(double));
    }
}

void tmi_rt_ring_fill(tmi_rt_group_t *g, size_t s, const double *outputs)
{
    for (uint32_t j = 0; j < g->depth; j++) {
        memcpy(g->out[j] + s * g->no, outputs, g->no * sizeof(double));
    }
}

/* ---- windows ------------------------------------------------------------ */

int tmi_rt_history_widen(tm_rt_t *rt, uint32_t a, uint32_t delay)
{
    tmi_rt_actor_t *ac = &rt->actors[a];
    if (delay <= ac->history) {
        return 0;
    }
    tmi_rt_group_t *g = rt->groups[ac->group];
    if (g->depth < delay + 1) {
        int rc = tmi_rt_ring_resize(rt, g, delay + 1);
        if (rc != 0) {
            return rc;
        }
    }
    const size_t off = (size_t)ac->slot * g->no;
    const double *oldest = g->out[ac->history - 1] + off;
    for (uint32_t j = ac->history; j < delay; j++) {
        memcpy(g->out[j] + off, oldest, g->no * sizeof(double));
    }
    ac->history = (uint16_t)delay;
    return 0;
}

void tmi_rt_history_narrow(tm_rt_t *rt, uint32_t a)
{
    tmi_rt_actor_t *ac = &rt->actors[a];
    uint32_t w = 1;
    uint32_t head = ac->head[TMI_RT_OUT];
    if (head != TMI_RT_NONE) {
        uint32_t li = head;
        do {
            if (rt->links[li].delay > w) {
                w = rt->links[li].delay;
            }
            li = rt->adj[li].next[TMI_RT_OUT];
        } while (li != head);
    }
    ac->history = (uint16_t)w;
}

/* ---- import and export -------------------------------------------------- */

/* The ring index of `tick` in the window of actor a (a handle).
 * Ticks count modulo 2^64, so the ticks of a window that reaches back
 * before tick 0 are UINT64_MAX, UINT64_MAX - 1, ... TM_ERR_UNKNOWN_ACTOR,
 * TM_ERR_RANGE (tick outside the window). */
static int s_at(const tm_rt_t *rt, uint32_t a, uint64_t tick, uint32_t *j)
{
    if (a >= rt->n_actor_slots || rt->actors[a].group == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR; /* TMI_RT_NONE included */
    }
    uint64_t back = rt->tick - tick;
    if (back >= rt->actors[a].history) {
        return TM_ERR_RANGE;
    }
    *j = (uint32_t)back;
    return 0;
}

/* Check outputs for ring index j (or every index when j = depth) of actor
 * a, which must be remote (or local), and write them. */
static int s_write(tm_rt_t *rt, uint32_t a, uint32_t j, bool remote,
                   const double *outputs)
{
    tmi_rt_actor_t *ac = &rt->actors[a];
    tmi_rt_group_t *g = rt->groups[ac->group];
    if (g->remote != remote) {
        return TM_ERR_INVAL;
    }
    if (g->no == 0) {
        ac->imported = remote;
        return 0;
    }
    if (outputs == NULL) {
        return TM_ERR_INVAL;
    }
    if (!tmi_rt_all_finite(outputs, g->no)) {
        return TM_ERR_BAD_VALUE;
    }
    if (j == g->depth) {
        tmi_rt_ring_fill(g, ac->slot, outputs);
    } else {
        memcpy(g->out[j] + (size_t)ac->slot * g->no, outputs,
               g->no * sizeof(double));
    }
    ac->imported = remote;
    return 0;
}

int tm_rt_import(tm_rt_t *rt, const char *id, const double *outputs)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    /* Every tick of the ring: the value is read at the next tick by links
     * of any delay, and held by the ticks that follow. */
    return s_write(rt, a, rt->groups[rt->actors[a].group]->depth, true,
                   outputs);
}

int tm_rt_import_at(tm_rt_t *rt, const char *id, uint64_t tick,
                    const double *outputs)
{
    return tm_rt_import_at_h(rt, tmi_rt_actor_find(rt, id), tick, outputs);
}

int tm_rt_import_at_h(tm_rt_t *rt, uint32_t h, uint64_t tick,
                      const double *outputs)
{
    uint32_t a = h;
    uint32_t j = 0;
    int rc = s_at(rt, a, tick, &j);
    if (rc == TM_ERR_RANGE && !rt->groups[rt->actors[a].group]->remote) {
        rc = TM_ERR_INVAL;
    }
    return rc != 0 ? rc : s_write(rt, a, j, true, outputs);
}

int tm_rt_restore_at(tm_rt_t *rt, const char *id, uint64_t tick,
                     const double *outputs)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    uint32_t j = 0;
    int rc = s_at(rt, a, tick, &j);
    if (rc == 0 && j == 0) {
        rc = TM_ERR_RANGE; /* the current tick's outputs follow the state */
    }
    if (rc == TM_ERR_RANGE && rt->groups[rt->actors[a].group]->remote) {
        rc = TM_ERR_INVAL;
    }
    return rc != 0 ? rc : s_write(rt, a, j, false, outputs);
}

int tm_rt_outputs_at(const tm_rt_t *rt, const char *id, uint64_t tick,
                     const double **out, const tm_model_t **model)
{
    return tm_rt_outputs_at_h(rt, tmi_rt_actor_find(rt, id), tick, out, model);
}

int tm_rt_outputs_at_h(const tm_rt_t *rt, uint32_t h, uint64_t tick,
                       const double **out, const tm_model_t **model)
{
    uint32_t a = h;
    uint32_t j = 0;
    int rc = s_at(rt, a, tick, &j);
    if (rc != 0) {
        return rc;
    }
    const tmi_rt_group_t *g = rt->groups[rt->actors[a].group];
    *out = g->out[j] + (size_t)rt->actors[a].slot * g->no;
    if (model != NULL) {
        *model = g->model;
    }
    return 0;
}

int tm_rt_outputs(const tm_rt_t *rt, const char *id, const double **out,
                  const tm_model_t **model)
{
    return tm_rt_outputs_at(rt, id, rt->tick, out, model);
}
