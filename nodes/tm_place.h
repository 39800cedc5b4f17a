/* tm_place: where a new actor should run - the load of the nodes of a
 * mesh and the choice among them. Pure: it knows no mesh, socket or
 * runtime; tm_mesh_place (nodes/tm_mesh.h) gathers what each node last
 * reported and asks here.
 *
 * The score (docs/architecture.md, "Placement"). A node reports its
 * actors and its step time per tick (the wall microseconds its steps
 * took, tm_sched_step_us). Its cost per actor is step_us / actors; the
 * score of a node is its projected step time per tick,
 *
 *   cost * (actors + pending + n)
 *
 * with pending the actors placed there since its report and n the actors
 * being placed. A node without actors has no cost of its own: it takes
 * the mean cost of the candidates that have one. When a candidate with
 * actors has no step time (0: its clock has not stepped yet, a node too
 * old to send one, or below a microsecond), step times cannot be compared
 * and every candidate's score is its actor count, actors + pending + n.
 * The least score wins; ties go to the smaller name.
 *
 * Step time is a wall-clock measurement and depends on the machine: it
 * decides where an actor runs, which never changes what it computes
 * (placement does not affect results; docs/architecture.md,
 * "Determinism").
 *
 * Threading: none (pure functions).
 */
#ifndef TM_PLACE_H_INCLUDED
#define TM_PLACE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_PLACE_WHY_MAX 600u /* bytes of a reason, NUL included */

/* One node as the placement sees it. Strings are borrowed. */
typedef struct {
    const char *name;
    const char *site; /* "" when not known */
    bool alive;       /* only alive nodes are chosen */
    uint64_t actors;  /* at its last report (this node: now) */
    uint64_t step_us; /* step time per tick at that report; 0: unknown */
    uint64_t pending; /* actors placed there since that report */
} tm_place_node_t;

/* The load of candidates nodes[k] for which pick[k] (NULL: every node):
 * load[k] its score before any new actor (cost * (actors + pending)),
 * cost[k] what each new actor adds; *by_time true when scores are step
 * times (microseconds per tick), false when they are actor counts. load
 * and cost of the nodes not picked are 0. */
void tm_place_loads(const tm_place_node_t *nodes, size_t n, const bool *pick,
                    double *load, double *cost, bool *by_time);

/* Choose the node for `extra` new actors (0 counts as 1) among the alive
 * nodes other than `exclude` (NULL: none) whose site is `site` (NULL or
 * "": any): the least score, ties by name. *chosen gets its index in
 * nodes; why (why_cap bytes, TM_PLACE_WHY_MAX is enough) one line, e.g.
 * "site east: least loaded by step time of b (120 actors, 0.40 ms/tick),
 * c (300 actors, 1.10 ms/tick)" (step times under 0.1 ms in us/tick).
 * Errors: TM_ERR_NOT_FOUND when no node qualifies, why "no alive node at
 * site X (known sites: ...)" or "no alive node to place on (...)";
 * TM_ERR_INVAL for NULL arguments. */
int tm_place_choose(const tm_place_node_t *nodes, size_t n, const char *site,
                    const char *exclude, uint64_t extra, size_t *chosen,
                    char *why, size_t why_cap);

/* Of `placed` actors placed on a node since it showed `base` actors, how
 * many it does not show yet now that it shows `actors`: its growth since
 * base takes as many off (a heartbeat sent before the spawns arrived
 * takes off nothing; kills meanwhile make it take off less, never more);
 * all of them once the last placement is more than keep_s old (age_s). */
uint64_t tm_place_pending(uint64_t placed, uint64_t base, uint64_t actors,
                          double age_s, double keep_s);

#endif
