/* tm_rt_link: the runtime's links - table, adjacency lists, gather plan.
 *
 * Links are (source actor, output, destination actor, input, delay)
 * records; their ends are the key of the link index (the delay is not part
 * of a link's identity). Each actor heads two circular
 * doubly linked lists threaded through a side array parallel to the link
 * table: the links out of it and the links into it, each in the order they
 * were made. Killing an actor or listing its links walks only its own
 * lists, and removing a link (swap with the last record) repoints at most a
 * few neighbours: no operation scans the whole table.
 *
 * Before a tick the runtime resolves the links, once per change, into
 * per-group gather arrays of (the source group's ring slot for the link's
 * delay, output offset, input offset, set-or-add), sorted by input offset,
 * source id and output, so summing inputs add in ascending source-id order
 * whatever the delays. Removing a link narrows its source's window; the
 * rebuild also fits each ring to the links left (tm_rt_hist.c).
 */
#include "tm_rt_int.h"

#include "tm_err.h"

#include <stdlib.h>
#include <string.h>

/* ---- link table --------------------------------------------------------- */

/* The identity of a link (src, dst, out, in), without its delay. */
static uint64_t s_link_hash(const tmi_rt_link_t *l)
{
    return tm_hash64(l, TMI_RT_LINK_KEY);
}

static int s_link_eq(uint32_t handle, const void *key, void *arg)
{
    const tm_rt_t *rt = arg;
    const tmi_rt_link_t *a = &rt->links[handle];
    const tmi_rt_link_t *b = key;
    return a->src == b->src && a->dst == b->dst && a->out == b->out &&
           a->in == b->in;
}

/* ---- adjacency ---------------------------------------------------------- */

/* The head of the list (dir) that link li belongs to. */
static uint32_t *s_adj_head(tm_rt_t *rt, uint32_t li, int dir)
{
    const tmi_rt_link_t *l = &rt->links[li];
    return &rt->actors[dir == TMI_RT_OUT ? l->src : l->dst].head[dir];
}

/* Append link li at the tail of its list (dir). */
static void s_adj_append(tm_rt_t *rt, uint32_t li, int dir)
{
    tmi_rt_adj_t *a = rt->adj;
    uint32_t *head = s_adj_head(rt, li, dir);
    if (*head == TMI_RT_NONE) {
        *head = li;
        a[li].prev[dir] = li;
        a[li].next[dir] = li;
        return;
    }
    uint32_t first = *head;
    uint32_t tail = a[first].prev[dir];
    a[li].prev[dir] = tail;
    a[li].next[dir] = first;
    a[tail].next[dir] = li;
    a[first].prev[dir] = li;
}

/* Take link li out of its list (dir). */
static void s_adj_unlink(tm_rt_t *rt, uint32_t li, int dir)
{
    tmi_rt_adj_t *a = rt->adj;
    uint32_t *head = s_adj_head(rt, li, dir);
    uint32_t p = a[li].prev[dir];
    uint32_t n = a[li].next[dir];
    if (n == li) {
        *head = TMI_RT_NONE;
        return;
    }
    a[p].next[dir] = n;
    a[n].prev[dir] = p;
    if (*head == li) {
        *head = n;
    }
}

/* The link that was at `from` is now at `to` (record and adjacency already
 * copied): repoint its neighbours, or itself when it is alone, and the
 * head. Its place in the list, hence the list's order, is unchanged. */
static void s_adj_moved(tm_rt_t *rt, uint32_t from, uint32_t to, int dir)
{
    tmi_rt_adj_t *a = rt->adj;
    if (a[to].next[dir] == from) {
        a[to].prev[dir] = to;
        a[to].next[dir] = to;
    } else {
        a[a[to].prev[dir]].next[dir] = to;
        a[a[to].next[dir]].prev[dir] = to;
    }
    uint32_t *head = s_adj_head(rt, to, dir);
    if (*head == from) {
        *head = to;
    }
}

void tmi_rt_link_remove_at(tm_rt_t *rt, uint32_t li, bool narrow)
{
    tmi_rt_link_t *l = &rt->links[li];
    rt->link_changes++;
    uint32_t src = l->src;
    narrow = narrow && l->delay > 1 && l->delay == rt->actors[src].history;
    tmi_rt_actor_t *dst = &rt->actors[l->dst];
    tmi_rt_group_t *g = rt->groups[dst->group];
    g->nlink[(size_t)dst->slot * g->ni + l->in]--;
    tm_index_remove(&rt->link_ix, s_link_hash(l), li);
    s_adj_unlink(rt, li, TMI_RT_OUT);
    s_adj_unlink(rt, li, TMI_RT_IN);
    uint32_t last = (uint32_t)(rt->n_links - 1);
    if (li != last) {
        rt->links[li] = rt->links[last];
        rt->adj[li] = rt->adj[last];
        s_adj_moved(rt, last, li, TMI_RT_OUT);
        s_adj_moved(rt, last, li, TMI_RT_IN);
        tm_index_rename(&rt->link_ix, s_link_hash(&rt->links[li]), last, li);
    }
    rt->n_links--;
    rt->plan_dirty = 1;
    if (narrow) {
        tmi_rt_history_narrow(rt, src);
    }
}

/* ---- links -------------------------------------------------------------- */

static int s_resolve_link(tm_rt_t *rt, const char *src, const char *output,
                          const char *dst, const char *input, tmi_rt_link_t *l)
{
    uint32_t s = tmi_rt_actor_find(rt, src);
    uint32_t d = tmi_rt_actor_find(rt, dst);
    if (s == TMI_RT_NONE || d == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    const tm_model_t *sm = rt->groups[rt->actors[s].group]->model;
    const tm_model_t *dm = rt->groups[rt->actors[d].group]->model;
    int o =
        output ? tm_model_var_index(sm->outputs, sm->n_outputs, output) : -1;
    int i = input ? tm_model_var_index(dm->inputs, dm->n_inputs, input) : -1;
    if (o < 0 || i < 0) {
        return TM_ERR_UNKNOWN_PORT;
    }
    l->src = s;
    l->dst = d;
    l->out = (uint16_t)o;
    l->in = (uint16_t)i;
    return 0;
}

int tm_rt_link(tm_rt_t *rt, const char *src, const char *output,
               const char *dst, const char *input)
{
    return tm_rt_link_delay(rt, src, output, dst, input, 1);
}

int tm_rt_link_delay(tm_rt_t *rt, const char *src, const char *output,
                     const char *dst, const char *input, uint32_t delay)
{
    tmi_rt_link_t l;
    memset(&l, 0, sizeof l);
    if (delay < 1 || delay > TM_RT_DELAY_MAX) {
        return TM_ERR_RANGE;
    }
    l.delay = (uint16_t)delay;
    int rc = s_resolve_link(rt, src, output, dst, input, &l);
    if (rc != 0) {
        return rc;
    }
    uint64_t hash = s_link_hash(&l);
    if (tm_index_find(&rt->link_ix, hash, &l, s_link_eq, rt) != TM_INDEX_NONE) {
        return TM_ERR_EXISTS;
    }
    tmi_rt_actor_t *d = &rt->actors[l.dst];
    tmi_rt_group_t *g = rt->groups[d->group];
    if (g->remote) {
        return TM_ERR_INVAL; /* a proxy's outputs only come by import */
    }
    if (g->model->inputs[l.in].flags & TM_VAR_MEASURED) {
        return TM_ERR_INVAL; /* fed by telemetry only */
    }
    uint16_t *nl = &g->nlink[(size_t)d->slot * g->ni + l.in];
    if (*nl > 0 && !(g->model->inputs[l.in].flags & TM_VAR_SUMMING)) {
        return TM_ERR_INPUT_LINKED;
    }
    if (*nl == UINT16_MAX) {
        return TM_ERR_TOO_BIG;
    }
    rc = tmi_rt_grow((void **)&rt->links, &rt->cap_links, rt->n_links + 1,
                     sizeof *rt->links);
    if (rc == 0) {
        rc = tmi_rt_grow((void **)&rt->adj, &rt->cap_adj, rt->n_links + 1,
                         sizeof *rt->adj);
    }
    if (rc != 0) {
        return rc;
    }
    uint16_t window = rt->actors[l.src].history;
    rc = tmi_rt_history_widen(rt, l.src, delay);
    if (rc != 0) {
        return rc;
    }
    uint32_t li = (uint32_t)rt->n_links;
    rc = tm_index_insert(&rt->link_ix, hash, li);
    if (rc != 0) {
        rt->actors[l.src].history = window; /* what it filled is unread */
        return rc;
    }
    rt->links[rt->n_links++] = l;
    rt->link_changes++;
    s_adj_append(rt, li, TMI_RT_OUT);
    s_adj_append(rt, li, TMI_RT_IN);
    (*nl)++;
    rt->plan_dirty = 1;
    return 0;
}

int tm_rt_unlink(tm_rt_t *rt, const char *src, const char *output,
                 const char *dst, const char *input)
{
    tmi_rt_link_t l;
    memset(&l, 0, sizeof l);
    int rc = s_resolve_link(rt, src, output, dst, input, &l);
    if (rc != 0) {
        return rc;
    }
    uint32_t li =
        tm_index_find(&rt->link_ix, s_link_hash(&l), &l, s_link_eq, rt);
    if (li == TM_INDEX_NONE) {
        return TM_ERR_NOT_LINKED;
    }
    tmi_rt_link_remove_at(rt, li, true);
    return 0;
}

/* Sort record used while building the gather plan. */
typedef struct {
    uint32_t dst;
    uint32_t src_off;
    double *const *src; /* &group->out[delay] */
    const char *src_id;
} s_plan_t;

static int s_plan_cmp(const void *a, const void *b)
{
    const s_plan_t *x = a;
    const s_plan_t *y = b;
    if (x->dst != y->dst) {
        return x->dst < y->dst ? -1 : 1;
    }
    int c = strcmp(x->src_id, y->src_id);
    if (c != 0) {
        return c;
    }
    /* Several outputs of one source: output order. Same id means same
     * actor and slot, so the offsets differ by the output index. Without
     * this tie-break the order would be the link table's (at best: qsort
     * need not be stable), and a sum of three or more links would depend
     * on the order in which they were made. */
    return (x->src_off > y->src_off) - (x->src_off < y->src_off);
}

/* Fit each group's ring to the largest delay of the links reading it: a
 * link grows its source's ring when it is made, rings shrink here. */
static void s_fit_rings(tm_rt_t *rt, size_t *need)
{
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        need[gi] = 2;
    }
    for (size_t li = 0; li < rt->n_links; li++) {
        const tmi_rt_link_t *l = &rt->links[li];
        size_t gi = rt->actors[l->src].group;
        if (need[gi] < (size_t)l->delay + 1) {
            need[gi] = (size_t)l->delay + 1;
        }
    }
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        tmi_rt_group_t *g = rt->groups[gi];
        if (g != NULL && g->depth > need[gi]) {
            (void)tmi_rt_ring_resize(rt, g, (uint32_t)need[gi]);
        }
    }
}

/* Resolve links into per-group gather arrays (once per change). */
int tmi_rt_plan_rebuild(tm_rt_t *rt)
{
    size_t *count = calloc(rt->n_groups + 1, sizeof *count);
    s_plan_t *plan = malloc((rt->n_links + 1) * sizeof *plan);
    size_t *start = calloc(rt->n_groups + 1, sizeof *start);
    int rc = 0;
    if (count == NULL || plan == NULL || start == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    s_fit_rings(rt, count); /* before pointers into the rings are taken */
    memset(count, 0, (rt->n_groups + 1) * sizeof *count);
    for (size_t li = 0; li < rt->n_links; li++) {
        count[rt->actors[rt->links[li].dst].group]++;
    }
    for (size_t gi = 1; gi <= rt->n_groups; gi++) {
        start[gi] = start[gi - 1] + count[gi - 1];
    }
    memset(count, 0, (rt->n_groups + 1) * sizeof *count);
    for (size_t li = 0; li < rt->n_links; li++) {
        const tmi_rt_link_t *l = &rt->links[li];
        const tmi_rt_actor_t *sa = &rt->actors[l->src];
        const tmi_rt_actor_t *da = &rt->actors[l->dst];
        tmi_rt_group_t *sg = rt->groups[sa->group];
        const tmi_rt_group_t *dg = rt->groups[da->group];
        s_plan_t *p = &plan[start[da->group] + count[da->group]++];
        p->dst = da->slot * dg->ni + l->in;
        p->src_off = sa->slot * sg->no + l->out;
        p->src = &sg->out[l->delay];
        p->src_id = sa->id;
    }
    for (size_t gi = 0; gi < rt->n_groups; gi++) {
        tmi_rt_group_t *g = rt->groups[gi];
        if (g == NULL) {
            continue;
        }
        size_t n = count[gi];
        s_plan_t *p = plan + start[gi];
        qsort(p, n, sizeof *p, s_plan_cmp);
        tmi_rt_gather_t *ge = realloc(g->gather, (n + 1) * sizeof *ge);
        if (ge == NULL) {
            rc = TM_ERR_NOMEM;
            goto done;
        }
        g->gather = ge;
        for (size_t e = 0; e < n; e++) {
            uint32_t add = (e > 0 && p[e - 1].dst == p[e].dst) ? 1u : 0u;
            ge[e].src = p[e].src;
            ge[e].src_off = p[e].src_off;
            ge[e].dst = p[e].dst << 1 | add;
        }
        g->n_gather = n;
    }
    rt->plan_dirty = 0;
done:
    free(count);
    free(plan);
    free(start);
    return rc;
}

static tm_rt_link_t s_link_view(const tm_rt_t *rt, uint32_t li)
{
    const tmi_rt_link_t *l = &rt->links[li];
    const tmi_rt_actor_t *sa = &rt->actors[l->src];
    const tmi_rt_actor_t *da = &rt->actors[l->dst];
    const tm_model_t *sm = rt->groups[sa->group]->model;
    const tm_model_t *dm = rt->groups[da->group]->model;
    tm_rt_link_t v = {.src = sa->id,
                      .output = sm->outputs[l->out].name,
                      .dst = da->id,
                      .input = dm->inputs[l->in].name,
                      .delay = l->delay};
    return v;
}

int tm_rt_foreach_link(tm_rt_t *rt, int (*cb)(const tm_rt_link_t *, void *),
                       void *arg)
{
    for (size_t li = 0; li < rt->n_links; li++) {
        tm_rt_link_t v = s_link_view(rt, (uint32_t)li);
        int rc = cb(&v, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

uint64_t tm_rt_link_changes(const tm_rt_t *rt)
{
    return rt->link_changes;
}

uint32_t tm_rt_min_delay_h(const tm_rt_t *rt, uint32_t h)
{
    if (h >= rt->n_actor_slots || rt->actors[h].group == TMI_RT_NONE) {
        return 0;
    }
    uint32_t head = rt->actors[h].head[TMI_RT_OUT];
    uint32_t min = 0;
    if (head == TMI_RT_NONE) {
        return 0;
    }
    uint32_t li = head;
    do {
        uint32_t d = rt->links[li].delay;
        min = min == 0 || d < min ? d : min;
        li = rt->adj[li].next[TMI_RT_OUT];
    } while (li != head);
    return min;
}

int tm_rt_foreach_link_of(tm_rt_t *rt, const char *id,
                          int (*cb)(const tm_rt_link_t *, void *), void *arg)
{
    uint32_t a = tmi_rt_actor_find(rt, id);
    if (a == TMI_RT_NONE) {
        return TM_ERR_UNKNOWN_ACTOR;
    }
    for (int dir = TMI_RT_OUT; dir <= TMI_RT_IN; dir++) {
        uint32_t head = rt->actors[a].head[dir];
        if (head == TMI_RT_NONE) {
            continue;
        }
        uint32_t li = head;
        do {
            /* A link to itself was visited among the outgoing ones. */
            if (dir == TMI_RT_OUT || rt->links[li].src != a) {
                tm_rt_link_t v = s_link_view(rt, li);
                int rc = cb(&v, arg);
                if (rc != 0) {
                    return rc;
                }
            }
            li = rt->adj[li].next[dir];
        } while (li != head);
    }
    return 0;
}
