/* tm_place: the load score of nodes and the choice of a node for new
 * actors (see tm_place.h). */
#include "tm_place.h"

#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LISTED 6 /* candidates a reason names; more are counted */

static bool s_picked(const bool *pick, size_t k)
{
    return pick == NULL || pick[k];
}

void tm_place_loads(const tm_place_node_t *nodes, size_t n, const bool *pick,
                    double *load, double *cost, bool *by_time)
{
    double sum = 0;
    size_t known = 0;
    bool comparable = true;
    for (size_t k = 0; k < n; k++) {
        if (!s_picked(pick, k) || nodes[k].actors == 0) {
            continue;
        }
        if (nodes[k].step_us == 0) {
            comparable = false;
        } else {
            sum += (double)nodes[k].step_us / (double)nodes[k].actors;
            known++;
        }
    }
    *by_time = comparable && known > 0;
    double mean = known > 0 ? sum / (double)known : 0;
    for (size_t k = 0; k < n; k++) {
        const tm_place_node_t *x = &nodes[k];
        double c = 1;
        if (*by_time) {
            c = x->actors > 0 ? (double)x->step_us / (double)x->actors : mean;
        }
        cost[k] = s_picked(pick, k) ? c : 0;
        load[k] = cost[k] * (double)(x->actors + x->pending);
    }
}

static bool s_candidate(const tm_place_node_t *x, const char *site,
                        const char *exclude)
{
    return x->alive && (exclude == NULL || strcmp(x->name, exclude) != 0) &&
           (site == NULL || site[0] == '\0' || strcmp(x->site, site) == 0);
}

/* "a, b (site east, dead), ..." of every node, for a refusal. */
static void s_known(const tm_place_node_t *nodes, size_t n, const char *exclude,
                    char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && off < cap; k++) {
        const tm_place_node_t *x = &nodes[k];
        bool out = exclude != NULL && strcmp(x->name, exclude) == 0;
        int w = snprintf(buf + off, cap - off, "%s%s at '%s'%s", k ? ", " : "",
                         x->name, x->site,
                         !x->alive ? " (not alive)"
                         : out     ? " (excluded)"
                                   : "");
        off += w > 0 ? (size_t)w : 0;
    }
}

/* "'east', 'west'" of the sites of the alive nodes, each once. */
static void s_sites(const tm_place_node_t *nodes, size_t n, const char *exclude,
                    char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && off < cap; k++) {
        bool dup = false;
        if (!s_candidate(&nodes[k], NULL, exclude)) {
            continue;
        }
        for (size_t j = 0; j < k && !dup; j++) {
            dup = s_candidate(&nodes[j], NULL, exclude) &&
                  strcmp(nodes[j].site, nodes[k].site) == 0;
        }
        if (!dup) {
            int w = snprintf(buf + off, cap - off, "%s'%s'", off ? ", " : "",
                             nodes[k].site);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (off == 0) {
        snprintf(buf, cap, "none");
    }
}

static int s_none(const tm_place_node_t *nodes, size_t n, const char *site,
                  const char *exclude, char *why, size_t cap)
{
    char list[400];
    if (site != NULL && site[0] != '\0') {
        s_sites(nodes, n, exclude, list, sizeof list);
        snprintf(why, cap, "no alive node at site '%s' (known sites: %s)", site,
                 list);
    } else {
        s_known(nodes, n, exclude, list, sizeof list);
        snprintf(why, cap, "no alive node to place on (nodes: %s)", list);
    }
    return TM_ERR_NOT_FOUND;
}

/* One candidate in a reason: "b (120 actors, 0.40 ms/tick, +3 placed)". */
static int s_describe(const tm_place_node_t *x, char *buf, size_t cap)
{
    char placed[40] = "";
    char step[40] = "";
    if (x->pending > 0) {
        snprintf(placed, sizeof placed, ", +%llu placed",
                 (unsigned long long)x->pending);
    }
    if (x->step_us >= 100) {
        snprintf(step, sizeof step, ", %.2f ms/tick",
                 (double)x->step_us / 1000.0);
    } else if (x->step_us > 0) {
        snprintf(step, sizeof step, ", %llu us/tick",
                 (unsigned long long)x->step_us);
    }
    return snprintf(buf, cap, "%s (%llu actor%s%s%s)", x->name,
                    (unsigned long long)x->actors, x->actors == 1 ? "" : "s",
                    step, placed);
}

typedef struct {
    size_t k;
    double score;
    const char *name;
} s_rank_t;

static int s_rank_cmp(const void *a, const void *b)
{
    const s_rank_t *x = a;
    const s_rank_t *y = b;
    if (x->score != y->score) {
        return x->score < y->score ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static void s_why(const tm_place_node_t *nodes, const s_rank_t *r, size_t nr,
                  const char *site, bool by_time, char *why, size_t cap)
{
    size_t off = 0;
    int w = snprintf(why, cap, "%s%s%sleast loaded %s of ",
                     site != NULL && site[0] ? "site " : "",
                     site != NULL && site[0] ? site : "",
                     site != NULL && site[0] ? ": " : "",
                     by_time ? "by step time" : "by actor count");
    off = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < nr && i < S_LISTED && off < cap; i++) {
        if (i > 0) {
            w = snprintf(why + off, cap - off, ", ");
            off += w > 0 ? (size_t)w : 0;
        }
        if (off < cap) {
            w = s_describe(&nodes[r[i].k], why + off, cap - off);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (nr > S_LISTED && off < cap) {
        snprintf(why + off, cap - off, " and %zu more", nr - S_LISTED);
    }
}

int tm_place_choose(const tm_place_node_t *nodes, size_t n, const char *site,
                    const char *exclude, uint64_t extra, size_t *chosen,
                    char *why, size_t why_cap)
{
    if (nodes == NULL || chosen == NULL || why == NULL || why_cap == 0) {
        return TM_ERR_INVAL;
    }
    int rc = 0;
    bool by_time = false;
    bool *pick = calloc(n + 1, sizeof *pick);
    double *load = calloc(n + 1, sizeof *load);
    double *cost = calloc(n + 1, sizeof *cost);
    s_rank_t *r = calloc(n + 1, sizeof *r);
    size_t nr = 0;
    if (pick == NULL || load == NULL || cost == NULL || r == NULL) {
        snprintf(why, why_cap, "out of memory");
        rc = TM_ERR_NOMEM;
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        pick[k] = s_candidate(&nodes[k], site, exclude);
    }
    tm_place_loads(nodes, n, pick, load, cost, &by_time);
    for (size_t k = 0; k < n; k++) {
        if (pick[k]) {
            double more = (double)(extra > 0 ? extra : 1);
            r[nr++] = (s_rank_t){k, load[k] + cost[k] * more, nodes[k].name};
        }
    }
    if (nr == 0) {
        rc = s_none(nodes, n, site, exclude, why, why_cap);
        goto done;
    }
    qsort(r, nr, sizeof *r, s_rank_cmp);
    *chosen = r[0].k;
    s_why(nodes, r, nr, site, by_time, why, why_cap);
done:
    free(pick);
    free(load);
    free(cost);
    free(r);
    return rc;
}

uint64_t tm_place_pending(uint64_t placed, uint64_t base, uint64_t actors,
                          double age_s, double keep_s)
{
    uint64_t grown = actors > base ? actors - base : 0;
    if (placed == 0 || grown >= placed || !(age_s <= keep_s)) {
        return 0;
    }
    return placed - grown;
}
