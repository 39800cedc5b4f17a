/* tm_mesh: this node's membership of a mesh, as a service.
 *
 * Sockets (all through tm_sock): one ROUTER bound at the mesh endpoint
 * receives everything peers send; per peer, two DEALERs connect to that
 * peer's ROUTER - `ctl` (heartbeats, directory, forwarded console
 * requests and their replies, control) and `data` (link batches) - so a
 * burst of link values never queues in front of a heartbeat (see
 * docs/architecture.md, "The mesh").
 *
 * Membership: the configured peers, plus every member a heartbeat names
 * (a node that joins through one member learns the others); this node's
 * own endpoint among them is recognised and skipped. Failure detection:
 * a peer is alive while heard from within `suspect` heartbeat intervals,
 * suspect until `dead` intervals, then dead; a new incarnation number
 * tells a restarted peer from its old self (its directory is reloaded).
 *
 * Directory: each node sends its own actors (id, model, tier) to every
 * peer - the whole list when a peer appears or asks, then deltas as
 * actors are spawned and killed - and keeps the entries of the others
 * (tm_dir), so a console on any node finds any actor's owner.
 *
 * Coupling (tm_mesh_sync.c): links from actors on other nodes read
 * proxies; this node subscribes to their owners and imports the values of
 * every tick before stepping the next one.
 *
 * Control thread only.
 */
#ifndef TM_MESH_H_INCLUDED
#define TM_MESH_H_INCLUDED

#include "tm_config.h"
#include "tm_console.h"
#include "tm_plant.h"
#include "tm_msg.h"
#include "tm_mut.h"
#include "tm_place.h"
#include "tm_rt.h"
#include "tm_sched.h"
#include "tm_service.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_mesh tm_mesh_t;

typedef struct {
    const tm_config_t *cfg; /* name, site, mesh endpoint, peers, detector */
    tm_rt_t *rt;
    tm_sched_t *sched;
    tm_mut_t *mut;
    tm_console_ctx_t *ctx; /* runs requests from peers */
    /* Standby copies (cfg->replicas): the node's store and what waits
     * for a checkpoint in flight; NULL: none kept of this node. */
    tm_store_t *store;
    void (*barrier)(void *arg);
    void *barrier_arg;
} tm_mesh_opts_t;

/* Bind the mesh endpoint and connect to the peers. Errors with a message
 * in err: TM_ERR_CONFIG (bad settings), TM_ERR_BUSY (address in use),
 * TM_ERR_NOMEM, TM_ERR_IO. */
int tm_mesh_open(tm_mesh_t **out, void *zctx, const tm_mesh_opts_t *o,
                 char *err, size_t errlen);
tm_service_t tm_mesh_service(tm_mesh_t *m);

/* One node as this node sees it (self first). Strings are valid until the
 * loop runs again. */
typedef struct {
    const char *name; /* "" while not heard from yet */
    const char *site;
    const char *endpoint;
    const char *state; /* self: "up"/"stopping"; peers: joining, alive,
                        * suspect, dead */
    const char *clock;
    uint64_t incarnation;
    uint64_t tick;
    uint64_t actors;
    double heard_s; /* seconds since last heard (self: 0) */
    bool self;
} tm_mesh_node_t;

/* Fill up to cap nodes; returns how many there are. */
size_t tm_mesh_nodes(const tm_mesh_t *m, tm_mesh_node_t *out, size_t cap);

/* The node (name) that owns actor id elsewhere in the mesh, with its
 * model when known here; NULL if no other node has it. */
const char *tm_mesh_owner(const tm_mesh_t *m, const char *id,
                          const tm_model_t **model);

/* Whether the values of actor id (another node's) are held because its
 * node is late or dead (realtime: after the configured wait). */
bool tm_mesh_stale(const tm_mesh_t *m, const char *id);

/* Whether name is a node of the mesh this node knows (itself included). */
bool tm_mesh_knows(const tm_mesh_t *m, const char *name);

/* The store of the standby copy of node `from` held here, to read the
 * audit log of a node this node does not see alive (`audit`): the copy
 * kept up to date (owned by the mesh: *owned = false), else the newest
 * one a failover set aside, opened read-only (*owned = true: the caller
 * closes it). NULL: none, or `from` is alive. */
tm_store_t *tm_mesh_copy_audit(tm_mesh_t *m, const char *from, bool *owned);

/* The nodes this node does not see alive and holds a copy of (kept up to
 * date or set aside): at most cap names. */
size_t tm_mesh_copies_gone(tm_mesh_t *m, char (*names)[TM_MSG_NAME_MAX + 1],
                           size_t cap);

/* Move actors of this node to other nodes at one tick of the whole mesh
 * (tm_mesh_move.c): the clocks pause, every node runs to the highest tick,
 * the actors go with their state, history and links, the clocks resume.
 * migrate: actor id to node `node`; drain: every actor of this node, each
 * where tm_mesh_place puts it (this node's site first, never this node). The
 * answer goes to later (which the mesh frees) when it is done. 0, or an error
 * with why (the caller frees later then): TM_ERR_BUSY (a move, a plant apply or
 * a run in progress), TM_ERR_NODE_DOWN (a member is not alive),
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_UNKNOWN_NODE, TM_ERR_EXISTS (already there),
 * TM_ERR_NOT_FOUND (nothing to drain), TM_ERR_NOMEM. */
int tm_mesh_migrate(tm_mesh_t *m, const char *id, const char *node,
                    tm_console_later_t *later, char *why, size_t cap);
int tm_mesh_drain(tm_mesh_t *m, tm_console_later_t *later, char *why,
                  size_t cap);

/* Pass a console request on to node `name`; its replies go to later
 * (which the mesh frees). 0, or an error with a message in why (the
 * caller frees later then): TM_ERR_UNKNOWN_NODE, TM_ERR_NODE_DOWN (the
 * node is dead), TM_ERR_NOMEM. */
int tm_mesh_forward(tm_mesh_t *m, const char *name, int argc,
                    const char *const *argv, tm_console_later_t *later,
                    char *why, size_t cap);

/* Start a run of the whole mesh: every node steps to tick `*target` = the
 * highest tick in the mesh + ticks (so the mesh ends on one tick); this
 * node's own run (tm_sched_run_to(*target)) ends when every live node is
 * there. TM_ERR_RANGE with why. */
int tm_mesh_run(tm_mesh_t *m, uint64_t ticks, uint64_t *target, char *why,
                size_t cap);
/* Send a console request to every live member, which runs it as a
 * request from a peer (its own part only); replies are not awaited.
 * Returns how many members it was sent to. */
uint32_t tm_mesh_broadcast(tm_mesh_t *m, int argc, const char *const *argv);

/* Change every live member's clock (this node's is the caller's). */
void tm_mesh_clock(tm_mesh_t *m, tm_clock_t mode);
/* The mesh digest: this node's part and every member's, combined, sent to
 * later (freed by the mesh) - body {tick, digest, actors, nodes}. Errors
 * (later not taken): TM_ERR_NODE_DOWN (a member is suspect or dead),
 * TM_ERR_BUSY. */
int tm_mesh_hash(tm_mesh_t *m, tm_console_later_t *later, char *why,
                 size_t cap);

/* What holds each node's next tick, as every member says (dead members
 * as this node sees them): body [{node, state, clock, tick, waiting_for,
 * wait_tick, reason}], to later (freed by the mesh). Errors (later not
 * taken): TM_ERR_BUSY, TM_ERR_NOMEM. */
int tm_mesh_why_stuck(tm_mesh_t *m, tm_console_later_t *later, char *why,
                      size_t cap);

/* Rows from every node: argv, a console command whose reply body is an
 * array (rollout status, audit), goes to every member not dead, which
 * answers for itself (a request from a peer; a long answer in parts);
 * the reply sent to later (freed by the mesh) is one array: own's
 * elements (this node's answer, own_len bytes), then each member's in
 * the order they came, within 3 s - sorted by the unsigned field sort_key
 * when it is not NULL (a static string; stable: ties keep that order),
 * and only the last `limit` of them when limit > 0. With `unique`, rows
 * with the same "node" and "seq" are one (a dead node's record from two
 * copies of its store, or from its copy and itself): the one without
 * "copy_on" stays, else the first. Its message says how many rows and
 * nodes answered and names those that did not. Errors (later not taken):
 * TM_ERR_BUSY, TM_ERR_NOMEM. */
typedef struct {
    const char *sort_key;
    size_t limit;
    bool unique;
} tm_mesh_rows_opts_t;
int tm_mesh_rows(tm_mesh_t *m, int argc, const char *const *argv,
                 const uint8_t *own, size_t own_len,
                 const tm_mesh_rows_opts_t *o, tm_console_later_t *later,
                 char *why, size_t cap);

/* Whether a change of the links from other nodes' actors is not yet
 * confirmed by their nodes (a subscription in flight). */
bool tm_mesh_unsettled(const tm_mesh_t *m);

/* Changes that other nodes forward here wait, instead of holding the
 * loop, while busy(arg) says the checkpoint writer is busy (tm_ckpt_busy),
 * and behind changes that already wait; tm_mesh_run_waiting runs them in order
 * once it is free, and no checkpoint should start while tm_mesh_waiting
 * (tm_ckpt_waiter). */
void tm_mesh_writer(tm_mesh_t *m, bool (*busy)(void *arg), void *arg);
void tm_mesh_run_waiting(void *m);
bool tm_mesh_waiting(void *m);
/* Send message and body (copied) to later once every subscription is
 * confirmed (or after 10 s, saying which node has not answered). */
void tm_mesh_settle(tm_mesh_t *m, tm_console_later_t *later,
                    const char *message, const uint8_t *body, size_t len);

/* ---- placement (tm_mesh_place.c) ------------------------------------------
 *
 * Where a new actor goes when no node is named: the alive node with the
 * least load (tm_place.h: projected step time per tick from the actors and
 * step time each node's last heartbeat reported, this node's own values
 * now; actor counts when a node's step time is not known).
 *
 * Heartbeats come once an interval, so placements within one interval
 * (spawn-many after spawn-many, an apply, a drain) would all see the same
 * loads: this node keeps, per node, the actors it placed there since that
 * node's last heartbeat ("pending"), and adds them to its load. A
 * heartbeat whose actor count has grown by them clears them; what it does
 * not show yet stays pending, for at most 5 heartbeat intervals (at
 * least 5 s) after the last placement (a spawn that failed there is
 * forgotten then). Other
 * nodes' placements are seen when their actors show in heartbeats. */

/* Every node this node knows (self first), as placement sees it: name,
 * site, alive (self: not stopping), actors, step time, pending. Strings
 * are valid until the loop runs again. Fills up to cap; returns how many
 * there are. */
size_t tm_mesh_loads(const tm_mesh_t *m, tm_place_node_t *out, size_t cap);

/* Choose the node for new actors: among the ALIVE nodes (this one
 * included; never `exclude`, never a joining, suspect or dead one) whose
 * site is `site` (NULL or "": any), the least loaded (tm_place_choose),
 * ties by name. extra_self: how many actors this one placement is for (a
 * spawn: 1, a spawn-many: its count; 0 counts as 1); they are projected
 * onto each candidate and added to the chosen node's pending count, so
 * the next placement before its next heartbeat sees them. The node's
 * name into node (node_cap bytes, at least 65: a name's 64 and NUL), a
 * one-line reason into why (why_cap bytes; TM_PLACE_WHY_MAX is enough):
 * "site east: least loaded by step time of b (120 actors, 0.40 ms/tick),
 * c (300 actors, 1.10 ms/tick)". Errors, with why: TM_ERR_NOT_FOUND ("no
 * alive node at site X (known sites: ...)"), TM_ERR_INVAL (NULL or too
 * small buffers), TM_ERR_NOMEM. */
int tm_mesh_place(tm_mesh_t *m, const char *site, const char *exclude,
                  uint64_t extra_self, char *node, size_t node_cap, char *why,
                  size_t why_cap);

/* ---- plant files over the mesh (tm_mesh_plan.c) ---------------------------
 *
 * This node coordinates: it places each actor of plant (tm_plant_place:
 * node, else where it runs, else the least loaded node at its site or of
 * all, with the loads of tm_mesh_loads), sends every other node its part
 * (tm_plant_part), and each node - this one too - plans and checks its
 * part; apply then commits, this node first, each node in one durable
 * batch, and each node answers once the values of its new links from
 * other nodes flow. Every member must be alive; a node that refuses or
 * fails before the commits leaves every node unchanged (see
 * docs/architecture.md, "Plant files over the mesh"). */

/* Plan plant (borrowed for this call only) over every node, and carry it
 * out when apply; the answer (the body of apply or diff, docs/plant.md:
 * one node map per node, counts summed) or the first node's refusal
 * ("FILE:LINE:COL: FIELD: why (node N; nothing was changed on any node)")
 * goes to later, which the mesh frees. shown: items of each kind listed.
 * Errors (later not taken, why says why; nothing was sent):
 * TM_ERR_NOT_FOUND (placement), TM_ERR_NODE_DOWN (a member not alive),
 * TM_ERR_BUSY (a plant in progress here), the errors of this node's own
 * part (tm_plan_build, tm_mut_apply_check), TM_ERR_NOMEM. */
int tm_mesh_plant(tm_mesh_t *m, const tm_plant_t *plant, bool apply,
                  size_t shown, tm_console_later_t *later, char *why,
                  size_t cap);

/* The export of the whole mesh to later (which the mesh frees): own (this
 * node's export, borrowed for the call), then every other node's, as
 * parts (more = true) that are PLANT_CHUNK payloads, and a last, empty
 * part with the totals in its message. Errors (later not taken):
 * TM_ERR_NODE_DOWN (a member not alive), TM_ERR_BUSY. */
int tm_mesh_export(tm_mesh_t *m, const tm_plant_t *own,
                   tm_console_later_t *later, char *why, size_t cap);

/* Ids claimed by two nodes, seen here: fills up to cap "id: node-a and
 * node-b" lines; returns how many there are. */
size_t tm_mesh_conflicts(const tm_mesh_t *m, char (*out)[200], size_t cap);

/* Visit every actor other nodes own (id, owner, model "family@version",
 * tier); stop when fn returns non-zero. */
typedef int (*tm_mesh_actor_fn)(void *arg, const char *id, const char *node,
                                const char *model, const char *tier);
void tm_mesh_foreach_remote(const tm_mesh_t *m, tm_mesh_actor_fn fn, void *arg);

/* A plugin was loaded here (file, checksum hex, its bytes): send it to
 * every peer that is not dead, which checks and loads it
 * (tm_mesh_models.c). Returns the number of peers it was sent to. */
size_t tm_mesh_models_loaded(tm_mesh_t *m, const char *file, const char *hex,
                             const uint8_t *bytes, size_t len);

/* ---- standby copies and failover (tm_mesh_repl.c, tm_mesh_failover.c) --
 * With `replicas = 1` every commit of this node's store goes to its standby
 * node. tm_mesh_repl_mark: the number of the last change committed here
 * that the standby has not confirmed yet (0: none, or no standby).
 * tm_mesh_repl_hold: send an answer (copied) once the standby has
 * confirmed every commit up to mark, or after 10 s saying it has not;
 * false when there is nothing to wait for (the caller answers at once; it
 * keeps later then). */
uint64_t tm_mesh_repl_mark(tm_mesh_t *m);

/* A console's stream forwarded to another node (a watch of a remote
 * actor) whose answer goes to the later that match(later, key) picks:
 * the owner is asked to end it (its last reply ends the request). false
 * if there is none. */
bool tm_mesh_forward_cancel(tm_mesh_t *m,
                            bool (*match)(const tm_console_later_t *l,
                                          const void *key),
                            const void *key);

/* Whether this node may change its actors now: false while its lease in
 * etcd ([mesh] etcd) is not safe or its actors were taken over; why
 * says which. true without a lease (m may be NULL). */
bool tm_mesh_may_change(tm_mesh_t *m, char *why, size_t cap);
bool tm_mesh_repl_hold(tm_mesh_t *m, uint64_t mark, tm_console_later_t *later,
                       int status, const char *msg, const uint8_t *body,
                       size_t len);

/* `failover NODE`: run dead node NODE's actors on the live member that
 * holds its standby copy. The answer goes to later (which the mesh frees)
 * when done. 0, or an error with why (the caller frees later then):
 * TM_ERR_UNKNOWN_NODE, TM_ERR_BUSY (NODE is not dead, or a failover or
 * move is in progress), TM_ERR_NOMEM. */
int tm_mesh_failover(tm_mesh_t *m, const char *node, tm_console_later_t *later,
                     char *why, size_t cap);

#endif
