/* tm_plant_place: which node each actor of a plant runs on, each node's
 * part of the plant, and the order of a plant put together from parts
 * (see tm_plant.h, "placement"). */
#include "tm_plant.h"

#include "tm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define s_fail(p, pos, err, errlen, ...)                                       \
    tm_plant_fail(p, pos, TM_ERR_NOT_FOUND, err, errlen, __VA_ARGS__)

/* "a, b, c" of the nodes' names (sites: "north (node a), ..."). */
static void s_list(const tm_plant_node_t *nodes, size_t n, bool sites,
                   char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        int w = sites ? snprintf(buf + off, cap - off, "%s'%s' (node %s)",
                                 i ? ", " : "", nodes[i].site, nodes[i].name)
                      : snprintf(buf + off, cap - off, "%s%s", i ? ", " : "",
                                 nodes[i].name);
        off += w > 0 ? (size_t)w : 0;
    }
}

static double s_cost(const tm_plant_node_t *x)
{
    return x->cost > 0 ? x->cost : 1;
}

/* The least loaded node at site (NULL: any) once one more actor is there,
 * ties by name; false when no node is at site. */
static bool s_least(const tm_plant_node_t *nodes, size_t n, const char *site,
                    const double *load, uint32_t *out)
{
    bool found = false;
    double best = 0;
    for (size_t k = 0; k < n; k++) {
        if (site != NULL && strcmp(nodes[k].site, site) != 0) {
            continue;
        }
        double score = load[k] + s_cost(&nodes[k]);
        if (!found || score < best ||
            (score == best && strcmp(nodes[k].name, nodes[*out].name) < 0)) {
            *out = (uint32_t)k;
            best = score;
            found = true;
        }
    }
    return found;
}

/* The node an actor names, or an error. */
static int s_by_name(const tm_plant_t *p, size_t i,
                     const tm_plant_node_t *nodes, size_t n, uint32_t *out,
                     char *err, size_t errlen)
{
    const tm_plant_actor_t *a = &p->actors[i];
    char known[512];
    for (size_t k = 0; k < n; k++) {
        if (strcmp(nodes[k].name, a->node) == 0) {
            *out = (uint32_t)k;
            return 0;
        }
    }
    if (n == 1) {
        return s_fail(p, a->pos[TM_PLANT_F_NODE], err, errlen,
                      "actors[%u].node: node '%s' is not part of this mesh "
                      "(it has one node: %s)",
                      a->index, a->node, nodes[0].name);
    }
    s_list(nodes, n, false, known, sizeof known);
    return s_fail(p, a->pos[TM_PLANT_F_NODE], err, errlen,
                  "actors[%u].node: node '%s' is not part of this mesh (its "
                  "nodes: %s)",
                  a->index, a->node, known);
}

/* The node an actor at `site` goes to (the least loaded of the nodes
 * there), or an error when no node is at that site. */
static int s_by_site(const tm_plant_t *p, size_t i,
                     const tm_plant_node_t *nodes, size_t n, const double *load,
                     uint32_t *out, char *err, size_t errlen)
{
    const tm_plant_actor_t *a = &p->actors[i];
    char known[512];
    if (s_least(nodes, n, a->site, load, out)) {
        return 0;
    }
    if (n == 1) {
        return s_fail(p, a->pos[TM_PLANT_F_SITE], err, errlen,
                      "actors[%u].site: site '%s' is not part of this mesh "
                      "(its node %s is at site '%s')",
                      a->index, a->site, nodes[0].name, nodes[0].site);
    }
    s_list(nodes, n, true, known, sizeof known);
    return s_fail(p, a->pos[TM_PLANT_F_SITE], err, errlen,
                  "actors[%u].site: site '%s' is not part of this mesh "
                  "(its sites: %s)",
                  a->index, a->site, known);
}

/* Where actor i goes: named node, else where it runs (when its site
 * allows), else by site, else the least loaded node. */
static int s_place_one(const tm_plant_t *p, size_t i,
                       const tm_plant_node_t *nodes, size_t n,
                       const double *load, uint32_t *k, char *err,
                       size_t errlen)
{
    const tm_plant_actor_t *a = &p->actors[i];
    if (a->node != NULL) {
        int rc = s_by_name(p, i, nodes, n, k, err, errlen);
        if (rc == 0 && a->site != NULL &&
            strcmp(nodes[*k].site, a->site) != 0) {
            return s_fail(p, a->pos[TM_PLANT_F_SITE], err, errlen,
                          "actors[%u].site: node %s is at site '%s', not '%s'",
                          a->index, nodes[*k].name, nodes[*k].site, a->site);
        }
        return rc;
    }
    if (*k < n && (a->site == NULL || strcmp(nodes[*k].site, a->site) == 0)) {
        return 0; /* it runs there: actors do not move */
    }
    if (a->site != NULL) {
        return s_by_site(p, i, nodes, n, load, k, err, errlen);
    }
    s_least(nodes, n, NULL, load, k);
    return 0;
}

int tm_plant_place(const tm_plant_t *p, const tm_plant_node_t *nodes, size_t n,
                   uint32_t *node_of, char *err, size_t errlen)
{
    double *load = malloc((n + 1) * sizeof *load);
    int rc = 0;
    if (load == NULL) {
        snprintf(err, errlen, "out of memory");
        return TM_ERR_NOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        load[k] = nodes[k].load;
    }
    for (size_t i = 0; rc == 0 && i < p->n_actors; i++) {
        uint32_t k = node_of[i];
        bool runs = k < n;
        rc = s_place_one(p, i, nodes, n, load, &k, err, errlen);
        if (rc == 0) {
            if (!runs) {
                load[k] += s_cost(&nodes[k]); /* a new actor there */
            }
            node_of[i] = k;
        }
    }
    free(load);
    return rc;
}

/* ---- parts -------------------------------------------------------------- */

/* The actors by id: (id, index) sorted, searched by bisection. */
typedef struct {
    const char *id;
    uint32_t i;
} s_key_t;

typedef struct {
    s_key_t *v;
    size_t n;
} s_ids_t;

static int s_key_cmp(const void *a, const void *b)
{
    return strcmp(((const s_key_t *)a)->id, ((const s_key_t *)b)->id);
}

static int s_ids_init(s_ids_t *ix, const tm_plant_t *p)
{
    ix->n = p->n_actors;
    ix->v = malloc((p->n_actors + 1) * sizeof *ix->v);
    if (ix->v == NULL) {
        return TM_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n_actors; i++) {
        ix->v[i] = (s_key_t){p->actors[i].id, (uint32_t)i};
    }
    qsort(ix->v, ix->n, sizeof *ix->v, s_key_cmp);
    return 0;
}

/* The index of actor id, or -1. */
static long s_ids_find(const s_ids_t *ix, const char *id)
{
    s_key_t key = {id, 0};
    const s_key_t *k =
        ix->n > 0 ? bsearch(&key, ix->v, ix->n, sizeof *ix->v, s_key_cmp)
                  : NULL;
    return k != NULL ? (long)k->i : -1;
}

static const char *s_dup(tm_plant_t *out, const char *s, int *rc)
{
    if (s == NULL || *rc != 0) {
        return NULL;
    }
    const char *d = tm_plant_strdup(out, s, strlen(s));
    *rc = d == NULL ? TM_ERR_NOMEM : 0;
    return d;
}

/* Actor i of p into out; with its values unless it is a reference. */
static int s_copy_actor(const tm_plant_t *p, size_t i, const char *node,
                        bool ref, tm_plant_t *out)
{
    const tm_plant_actor_t *a = &p->actors[i];
    tm_plant_actor_t c = *a;
    int rc = 0;
    c.id = s_dup(out, a->id, &rc);
    c.model = s_dup(out, a->model, &rc);
    c.version = s_dup(out, a->version, &rc);
    c.node = s_dup(out, node, &rc);
    c.site = ref ? NULL : s_dup(out, a->site, &rc);
    if (ref) {
        c.period = 0;
    }
    if (rc == 0) {
        rc = tm_plant_add_actor(out, &c);
    }
    for (int s = 0; rc == 0 && !ref && s < TM_PLANT_NSETS; s++) {
        uint32_t n = 0;
        const tm_plant_value_t *v = tm_plant_values(p, a, s, &n);
        for (uint32_t j = 0; rc == 0 && j < n; j++) {
            const char *name = s_dup(out, v[j].name, &rc);
            if (rc == 0) {
                rc = tm_plant_add_value(out, (tm_plant_set_t)s, name,
                                        v[j].value, v[j].pos);
            }
        }
    }
    return rc;
}

static int s_copy_link(const tm_plant_link_t *l, tm_plant_t *out)
{
    tm_plant_link_t c = *l;
    int rc = 0;
    c.src = s_dup(out, l->src, &rc);
    c.output = s_dup(out, l->output, &rc);
    c.dst = s_dup(out, l->dst, &rc);
    c.input = s_dup(out, l->input, &rc);
    return rc == 0 ? tm_plant_add_link(out, &c) : rc;
}

int tm_plant_part(const tm_plant_t *p, const tm_plant_node_t *nodes,
                  const uint32_t *node_of, size_t k, tm_plant_t *out)
{
    s_ids_t ix = {NULL, 0};
    uint8_t *ref = calloc(p->n_actors + 1, 1); /* a reference is needed */
    tm_plant_init(out, p->file);
    int rc = ref == NULL ? TM_ERR_NOMEM : s_ids_init(&ix, p);
    for (size_t j = 0; rc == 0 && j < p->n_links; j++) {
        long s = s_ids_find(&ix, p->links[j].src);
        long d = s_ids_find(&ix, p->links[j].dst);
        if (s >= 0 && d >= 0 && node_of[d] == k && node_of[s] != k) {
            ref[s] = 1;
        }
    }
    for (size_t i = 0; rc == 0 && i < p->n_actors; i++) {
        if (node_of[i] == k || ref[i]) {
            rc = s_copy_actor(p, i, nodes[node_of[i]].name, node_of[i] != k,
                              out);
        }
    }
    for (size_t j = 0; rc == 0 && j < p->n_links; j++) {
        long d = s_ids_find(&ix, p->links[j].dst);
        if (d >= 0 && node_of[d] == k) {
            rc = s_copy_link(&p->links[j], out);
        }
    }
    free(ix.v);
    free(ref);
    if (rc != 0) {
        tm_plant_free(out);
    }
    return rc;
}

/* ---- order -------------------------------------------------------------- */

static int s_actor_cmp(const void *a, const void *b)
{
    return strcmp(((const tm_plant_actor_t *)a)->id,
                  ((const tm_plant_actor_t *)b)->id);
}

static int s_link_cmp(const void *a, const void *b)
{
    const tm_plant_link_t *x = a;
    const tm_plant_link_t *y = b;
    int c = strcmp(x->src, y->src);
    c = c != 0 ? c : strcmp(x->output, y->output);
    c = c != 0 ? c : strcmp(x->dst, y->dst);
    return c != 0 ? c : strcmp(x->input, y->input);
}

void tm_plant_sort(tm_plant_t *p)
{
    /* an actor's values are found through its first/count: they stay */
    if (p->n_actors > 1) {
        qsort(p->actors, p->n_actors, sizeof *p->actors, s_actor_cmp);
    }
    if (p->n_links > 1) {
        qsort(p->links, p->n_links, sizeof *p->links, s_link_cmp);
    }
}
