/* tm_rt_int: the runtime's internal layout, shared by its source files.
 *
 * tm_rt.c (groups, workers, spawn, kill, set, stepping, views),
 * tm_rt_link.c (link table, adjacency lists, the gather plan) and
 * tm_rt_digest.c (the mesh digest) see the same structures; nothing
 * outside core/tm_rt*.c includes this header.
 */
#ifndef TM_RT_INT_H_INCLUDED
#define TM_RT_INT_H_INCLUDED

#include "tm_index.h"
#include "tm_rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMI_RT_MAX_WORKERS 64u
#define TMI_RT_NONE        UINT32_MAX

typedef struct tmi_rt_group tmi_rt_group_t;
typedef struct tmi_rt_worker tmi_rt_worker_t;

/* Hot gather entry: in[dst >> 1] (=|+=) src->out[prev][src_off]. */
typedef struct {
    const tmi_rt_group_t *src;
    uint32_t src_off;
    uint32_t dst; /* input offset << 1 | add flag */
} tmi_rt_gather_t;

struct tmi_rt_group {
    const tm_model_t *model;
    uint32_t period;
    unsigned shard;
    bool remote; /* proxies: in no worker's list, never stepped */
    uint32_t ns, ni, no, np;
    size_t n, cap;
    double *state;
    double *prev;
    double *params;
    double *held;
    double *in;
    double *out[2];
    uint8_t *status;
    uint16_t *nlink; /* links into each input: n * ni */
    uint32_t *faults;
    uint64_t *last_fault;
    uint64_t *keys;
    uint32_t *actor; /* actor handle of each slot */
    tmi_rt_gather_t *gather;
    size_t n_gather;
    double step_ns;     /* per actor, last step of this group */
    uint32_t n_faulted; /* faults of its last step, until merged */
};

/* Directions of the adjacency lists: links out of / into an actor. */
enum { TMI_RT_OUT = 0, TMI_RT_IN = 1 };

typedef struct {
    char id[TM_ID_MAX + 1];
    uint32_t group; /* TMI_RT_NONE: free handle (slot = next free) */
    uint32_t slot;
    uint32_t head[2]; /* [TMI_RT_OUT], [TMI_RT_IN]: first link of each list,
                         TMI_RT_NONE */
    uint64_t hash;
    uint64_t spawned; /* tick of the spawn: last_stepped never precedes it */
} tmi_rt_actor_t;

/* The link record is also the key of the link index (hashed as bytes), so
 * the adjacency lives in the parallel tmi_rt_adj_t array. */
typedef struct {
    uint32_t src;
    uint32_t dst;
    uint16_t out;
    uint16_t in;
} tmi_rt_link_t;

/* Neighbours of a link in its source's out-list and destination's in-list;
 * both lists are circular (a lone link is its own neighbour). */
typedef struct {
    uint32_t prev[2];
    uint32_t next[2];
} tmi_rt_adj_t;

struct tm_rt {
    double h;
    uint64_t seed;
    uint64_t tick;
    size_t inline_actors;
    unsigned n_workers;
    void *zctx;
    tmi_rt_worker_t *workers;

    /* Actors refer to groups by index, so an emptied group is freed and
     * leaves a NULL hole that the next new group fills: memory follows
     * the live groups, however many models and periods come and go. */
    tmi_rt_group_t **groups;
    size_t n_groups; /* slots, holes included */

    tmi_rt_actor_t *actors;
    size_t n_actor_slots;
    size_t cap_actors;
    size_t n_actors; /* local actors, proxies not counted */
    size_t n_remote; /* proxies */
    uint32_t free_actor;
    tm_index_t actor_ix;

    tmi_rt_link_t *links;
    size_t n_links;
    size_t cap_links;
    tm_index_t link_ix;
    tmi_rt_adj_t *adj; /* parallel to links */
    size_t cap_adj;

    int plan_dirty;
    double last_tick_ns;

    /* Faults of the last tm_rt_step call: TM_RT_FAULTS_MAX entries once
     * the first fault is seen, sorted by (tick, id). */
    tm_rt_fault_t *faults;
    size_t n_faults;
    uint64_t faults_dropped;
};

/* ---- shared by the runtime's files ------------------------------------- */

/* Grow *p (cap elements of elem bytes) to hold need. TM_ERR_NOMEM. */
int tmi_rt_grow(void **p, size_t *cap, size_t need, size_t elem);

/* The handle of an actor or proxy, or TMI_RT_NONE. */
uint32_t tmi_rt_actor_find(const tm_rt_t *rt, const char *id);

/* tm_rt_link.c: remove link li (the last record moves into its place). */
void tmi_rt_link_remove_at(tm_rt_t *rt, uint32_t li);

/* tm_rt_link.c: resolve the links into per-group gather arrays.
 * TM_ERR_NOMEM. */
int tmi_rt_plan_rebuild(tm_rt_t *rt);

#endif
