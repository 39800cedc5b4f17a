/* tm_plan: what applying a plant file changes on this node.
 *
 * tm_plan_build() checks a plant (protocol/tm_plant) against the model
 * catalog and this node - families, versions, tiers, ports, ranges,
 * placement, link delays, an input linked twice, parameters an initial
 * state refuses - naming the file's line, column and field on error, and
 * then compares it with the running mesh: the plant is the desired state
 * of the whole mesh, so an actor the mesh has and the plant lacks is
 * killed, and a link the mesh has and the plant lacks is removed.
 *
 * In a mesh of several nodes each node plans its part of the plant
 * (tm_plant_part): its actors, the links into them (a link is held by its
 * destination's node), and references to the actors of other nodes that
 * those links read (their `node` names another node): a reference is
 * checked against the catalog (its outputs) and never spawned or killed
 * here; a link from it reads the actor through a proxy. Actors do not
 * move between nodes: an actor the plant places elsewhere that runs here,
 * or one it places here that runs elsewhere, is an error.
 *
 * The plan of a node is one group (tm_plan_node_t); tm_mut_apply()
 * carries it out in one durable batch; the console handlers (apply,
 * diff) and the mesh (nodes/tm_mesh_plan.c) report it with
 * tm_plan_pack().
 *
 * Values not given in the plant: parameters and held inputs take the
 * model's defaults (they are configuration: the plant lists them all or
 * means the defaults); states and outputs are initial values, used when
 * an actor is spawned; a state given for an existing actor that differs
 * is set, outputs given for an existing actor are ignored.
 *
 * tm_plan_export() is the other direction: the running mesh as a plant
 * that tm_plan_build() turns back into exactly this mesh on a fresh node.
 *
 * Threading: control thread, between ticks; a plan refers to the runtime
 * as it was when built (apply it before the runtime changes).
 */
#ifndef TM_PLAN_H_INCLUDED
#define TM_PLAN_H_INCLUDED

#include "tm_body.h"
#include "tm_model.h"
#include "tm_plant.h"
#include "tm_rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One actor of the plant, resolved against the catalog. */
typedef struct {
    const tm_plant_actor_t *src; /* in the plant */
    const tm_model_t *model;
    uint32_t period;  /* >= 1 */
    double *params;   /* model->n_params: defaults, then the plant's */
    double *held;     /* model->n_inputs */
    double *state;    /* model->n_states: init(params), then the plant's */
    double *outputs;  /* model->n_outputs, or NULL: computed at spawn */
    bool state_given; /* the plant gives at least one state */
    bool replaced;    /* killed and spawned again (family or period) */
    bool foreign;     /* runs on another node (its `node`): a reference,
                       * the source of links into this node; only model
                       * is set */
} tm_plan_actor_t;

/* A value to set on an existing actor. kind: TM_MUT_PARAM/STATE/INPUT. */
typedef struct {
    uint32_t actor; /* index into plan->actors */
    uint8_t kind;
    uint16_t var; /* index in the model's list of that kind */
    double old, value;
} tm_plan_set_t;

typedef struct {
    const char *src, *output, *dst, *input;
    uint32_t delay;
    /* links added: the source's model when it runs on another node (the
     * runtime reads it through a proxy); NULL for a local source */
    const tm_model_t *remote;
} tm_plan_link_t;

/* Why an actor is replaced. */
#define TM_PLAN_R_FAMILY 0x1u
#define TM_PLAN_R_PERIOD 0x2u

typedef struct {
    uint32_t actor;
    uint32_t why;          /* TM_PLAN_R_* */
    const tm_model_t *was; /* its model before */
    uint32_t was_period;
} tm_plan_replace_t;

typedef struct {
    uint32_t actor;
    const tm_model_t *was;
} tm_plan_model_t;

/* The changes on one node. Strings of kills and removed links are the
 * plan's copies; added links point into the plant. */
typedef struct {
    char node[TM_NAME_MAX + 1];
    uint32_t *spawn; /* plan actor indices, new actors */
    size_t n_spawn;
    tm_plan_replace_t *replace;
    size_t n_replace;
    tm_plan_model_t *model; /* tier or version changes (tm_rt_set_model) */
    size_t n_model;
    tm_plan_set_t *set;
    size_t n_set;
    const char **kill;
    size_t n_kill;
    tm_plan_link_t *link; /* links added */
    size_t n_link;
    tm_plan_link_t *unlink; /* links removed (those of killed actors too) */
    size_t n_unlink;
    /* Links kept in the diff that touch a replaced actor: removed before
     * it is killed and made again after it is spawned. */
    tm_plan_link_t *relink;
    size_t n_relink;
} tm_plan_node_t;

typedef struct {
    const tm_plant_t *plant; /* borrowed: must outlive the plan */
    tm_plan_actor_t *actors; /* one per plant actor, same order */
    size_t n_actors;
    tm_plan_node_t *nodes;
    size_t n_nodes;
    double *values;     /* the actors' arrays */
    tm_plant_t strings; /* arena of the plan's copies */
    /* Why its new actors are on this node, for the apply's audit record
     * (set by the caller: a plant placed by load over a mesh); NULL. */
    const char *placed;
} tm_plan_t;

/* Check plant - this node's part, or a whole plant placed on this node
 * alone (tm_plant_place) - against the catalog and this node (name, site)
 * and compare it with rt. Actors whose `node` is another node's name are
 * references (above). Errors (with "FILE:LINE:COL: FIELD: why" in why,
 * TM_MUT_WHY_MAX bytes): TM_ERR_NOT_FOUND (an actor of this node given
 * another site), TM_ERR_UNKNOWN_MODEL / _VERSION / _FIDELITY,
 * TM_ERR_UNKNOWN_PORT, TM_ERR_BAD_VALUE (out of range, an initial state
 * refused), TM_ERR_RANGE (a delay outside 1 .. TM_RT_DELAY_MAX),
 * TM_ERR_INPUT_LINKED (an input that takes one link given two),
 * TM_ERR_EXISTS (an actor would move between nodes), TM_ERR_PLANT
 * (tm_plant_check; a link into a reference), TM_ERR_NOMEM. plan is empty
 * on error. */
int tm_plan_build(tm_rt_t *rt, const tm_plant_t *plant, const char *node,
                  const char *site, tm_plan_t *plan, char *why);

void tm_plan_free(tm_plan_t *plan); /* NULL-safe; twice is fine */

/* Whether two models have the same outputs (names, in order): a proxy of
 * one reads like a proxy of the other. */
bool tm_plan_same_outputs(const tm_model_t *a, const tm_model_t *b);

/* Totals over the nodes. */
typedef struct {
    size_t spawn, kill, replace, model, set, link, unlink;
} tm_plan_counts_t;

void tm_plan_counts(const tm_plan_t *plan, tm_plan_counts_t *out);
bool tm_plan_empty(const tm_plan_t *plan);

/* ---- reporting (tm_plan_pack.c): the bodies of apply and diff ----------- */

/* The counts of one node's changes. */
void tm_plan_node_counts(const tm_plan_node_t *nd, tm_plan_counts_t *out);
/* "3 spawns, 1 kill, ..." of the kinds that are not zero into buf ("" when
 * all are); returns buf. */
const char *tm_plan_summary(const tm_plan_counts_t *c, char *buf, size_t cap);
/* key: {"spawn", "kill", "replace", "model", "set", "link", "unlink"}. */
void tm_plan_pack_counts(tm_body_t *b, const char *key,
                         const tm_plan_counts_t *c);
/* One node's changes: {"node", "counts", "spawn": [{"id", "model",
 * "version", "fidelity", "period"}], "kill": [id], "replace": [{"id",
 * "from", "to"}], "model": [...], "set": [{"id", "name", "kind", "old",
 * "value"}], "link": [{"from", "to", "delay"}], "unlink": [...]}, at most
 * `shown` items of each kind (docs/plant.md). */
void tm_plan_pack_node(tm_body_t *b, const tm_plan_t *plan,
                       const tm_plan_node_t *nd, size_t shown);

/* This node's actors as a plant (file name `file`): actors sorted by id,
 * links (those into them, from proxies too, with their delays) by source,
 * output, destination, input; version, tier and period explicit;
 * parameters and held inputs that equal the model's defaults, a state
 * that equals init(params) and outputs that equal those computed at spawn
 * left out (they are what the plant means without them). Every actor's
 * `node` is node; NULL leaves placement out (the node that applies it).
 * Errors: TM_ERR_NOMEM. */
int tm_plan_export(tm_rt_t *rt, const char *file, const char *node,
                   tm_plant_t *out);

#endif
