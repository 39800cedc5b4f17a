/* tm_mesh_int: the mesh service's state, shared by its files - tm_mesh.c
 * (membership, heartbeats, the socket, the service), tm_mesh_req.c
 * (requests between nodes), tm_mesh_dir.c (the directory), tm_mesh_sync.c
 * (coupling across nodes), tm_mesh_ctl.c (mesh-wide commands),
 * tm_mesh_plan.c, tm_mesh_part.c and tm_mesh_export.c (plant files across
 * nodes). Not for other modules: they use tm_mesh.h. */
#ifndef TM_MESH_INT_H_INCLUDED
#define TM_MESH_INT_H_INCLUDED

#include "tm_dir.h"
#include "tm_lease.h"
#include "tm_mesh.h"
#include "tm_msg.h"
#include "tm_parked.h"
#include "tm_plan.h"
#include "tm_stage.h"
#include "tm_zwatch.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#define TMI_PEERS_MAX    64u
#define TMI_PENDING_MAX  1024u
#define TMI_BATCH_WINDOW 1024u /* ticks a source may run ahead */
#define TMI_FRAMES_MAX   32u   /* envelope frames in one message */
#define TMI_PLACED_MAX   240u  /* a node's placement note in a plant */
/* Values one link batch may carry: 8 bytes each plus up to 5 for its id
 * must stay under the 1 MiB frame limit (docs/protocol.md 7.5). */
#define TMI_BATCH_VALUES_MAX 80000u

typedef enum { TMI_JOINING, TMI_ALIVE, TMI_SUSPECT, TMI_DEAD } tmi_pstate_t;

/* A batch of values received for one tick, kept until it is imported. */
typedef struct {
    uint64_t tick;
    double *values; /* n_values of the subscription it was sent for */
    uint32_t n;
    bool have;
    bool done;          /* imported (values freed): still counts as had */
    uint32_t *degraded; /* positions in the list of degraded sources */
    uint32_t n_degraded;
} tmi_held_t;

/* Who asked for a change that waits for the checkpoint in flight
 * (tm_mesh_wait.c; the request is kept in a tm_parked_t). */
typedef struct {
    uint32_t peer; /* index in peers */
    uint64_t inc;  /* the peer's incarnation then: a restart drops it */
    uint64_t seq;
} tmi_parked_t;

/* The runtime handles of a list's ids (tm_rt_handle), kept while the
 * list and the runtime's kill count stay as they were (tm_mesh_sync.c). */
typedef struct {
    uint32_t *h;
    uint32_t n;     /* ids covered; 0: to be taken again */
    uint64_t kills; /* tm_rt_kills() when taken */
} tmi_handles_t;

/* What this node reads from a peer: the proxies of its actors. */
typedef struct {
    char (*ids)[TM_ID_MAX + 1];
    uint32_t *first;  /* per id: its first value in a batch */
    uint32_t *n_outs; /* per id: its outputs */
    uint32_t n_ids;
    uint32_t n_values;
    uint64_t epoch;   /* this list's number (in batches' seq) */
    tmi_handles_t hs; /* of ids, for the imports of each tick */
    /* lookahead: the smallest delay of the links that read these proxies
     * (tm_mesh_sync.c s_lookahead), valid while dmin_ok and the runtime's
     * link and kill counts are those it was taken at */
    uint32_t dmin;
    bool dmin_ok;
    uint64_t dmin_links, dmin_kills;
    uint64_t flags_tick; /* tick of the batch whose degraded flags hold */
    uint64_t req_seq;    /* the request in flight (0: none) */
    double req_at;       /* when it was sent */
    bool dirty;          /* proxies changed since it was sent */
    bool refused;        /* the source refused the list (too many values) */
    bool acked;          /* the peer confirmed it */
    uint64_t ack_tick;   /* tick of the last answer */
    uint64_t full_tick;  /* every value known up to it without batches */
    /* An append: the earlier list (a prefix of this one) is still read
     * from batches up to prev_until, the answer's tick. */
    uint64_t prev_epoch; /* 0: none */
    uint32_t prev_n_values;
    uint64_t prev_until;
    uint32_t pending_from; /* first id of the append in flight */
    tmi_held_t ring[TMI_BATCH_WINDOW];
    uint64_t batches, stale; /* received; refused (other epoch, too old) */
    /* realtime: late values */
    double late_since; /* monotonic time a batch was first missed, or 0 */
    bool holding;      /* stepping on with the last values */
    bool degraded;     /* the last imported batch flagged some proxy */
    uint64_t held_from, held_ticks;
    /* A batch lost on the way (a connection that broke and came back):
     * since when the peer was alive and past a tick whose values never
     * came (0: not so); then the list is subscribed again. */
    double lost_since;
    uint64_t resubscribed;
} tmi_in_t;

/* Link batches made and not sent yet, each a whole envelope frame: the
 * batches of ticks a node steps back to back leave as one message
 * (tm_mesh_sync_out.c). */
typedef struct {
    uint8_t *frames[TMI_FRAMES_MAX]; /* sent when it holds TMI_FRAMES_MAX */
    size_t lens[TMI_FRAMES_MAX];
    uint32_t n;
    size_t bytes;
    double first_at; /* when the oldest was made (monotonic s) */
} tmi_outq_t;

/* What a peer reads from this node. */
typedef struct {
    char (*ids)[TM_ID_MAX + 1];
    uint32_t *n_outs; /* outputs of each, as subscribed */
    uint32_t n_ids;
    tmi_handles_t hs; /* of ids, for the batches of each tick */
    uint64_t epoch;
    uint64_t from; /* batches from this tick on */
    uint64_t sent, dropped;
    tmi_outq_t q;    /* batches not sent yet */
    uint64_t bursts; /* messages that carried them */
} tmi_out_t;

typedef struct {
    char endpoint[TM_MSG_ENDPOINT_MAX + 1]; /* where this node dials it */
    char name[TM_MSG_NAME_MAX + 1];         /* "" until heard from */
    char site[TM_MSG_NAME_MAX + 1];
    char clock[TM_MSG_NAME_MAX + 1];
    char nstate[TM_MSG_NAME_MAX + 1]; /* the state it reports */
    uint64_t inc;                     /* incarnation, 0 = unknown */
    uint64_t tick, actors;
    double last_heard; /* monotonic seconds */
    uint64_t step_us;  /* its step time per tick, as it last said */
    /* placement (tm_mesh_place.c): actors placed there that its
     * heartbeats do not show yet, its actor count when the first of them
     * was placed, and when the last was */
    uint64_t placed, placed_base;
    double placed_at;
    tmi_pstate_t state;
    bool self; /* this node's own endpoint under this spelling */
    void *ctl, *data;
    /* directory: what this node sent it, and applied from it */
    uint64_t out_seq;
    bool dir_sent;
    uint64_t dir_inc, dir_seq;
    uint64_t hb_dir_seq; /* the directory seq its last heartbeat named */
    bool dir_synced;
    double dir_asked; /* when the whole directory was last asked for */
    /* plugins sent to it (tm_mesh_models.c): answers still expected to
     * loads from seq models_from on, when the last was sent, and whether
     * one came back without its file (sent before it knew this node) */
    uint64_t models_from;
    uint32_t models_left, models_rounds;
    double models_at;
    bool models_again;
    tmi_in_t in;
    tmi_out_t out;
} tmi_peer_t;

/* Why this node does not step its next tick (reason "" when nothing in
 * the mesh holds it). */
typedef struct {
    char node[TM_MSG_NAME_MAX + 1]; /* the peer it waits for, or "" */
    uint64_t tick;                  /* of that peer's values */
    char reason[600];
} tmi_why_t;

/* One node's answer to why-stuck. */
typedef struct {
    char node[TM_MSG_NAME_MAX + 1];
    char state[TM_MSG_NAME_MAX + 1];
    char clock[TM_MSG_NAME_MAX + 1];
    uint64_t tick;
    char waiting_for[TM_MSG_NAME_MAX + 1];
    uint64_t wait_tick;
    char reason[600];
} tmi_why_row_t;

#define TMI_ROWS_BYTES_MAX (64u << 20) /* rows one gather keeps */

/* One answer (or part of one: a long reply comes in parts) to a rows
 * gather: an array, and whose it is (0: this node's; i + 1: peer i). */
typedef struct {
    uint8_t *body;
    size_t len;
    uint32_t from;
} tmi_rows_part_t;

/* A mesh digest, why-stuck or rows (tm_mesh_rows) being gathered from
 * every member. */
#define TMI_GATHERS 4
typedef struct {
    bool used;
    bool is_why;  /* why-stuck rather than the digest */
    bool is_rows; /* rows: each member's reply bodies, kept (tm_mesh_rows.c) */
    tm_mesh_t *m;
    tmi_rows_part_t *rparts; /* this node's first, then as they come */
    size_t n_rparts, cap_rparts;
    size_t rbytes; /* their bytes: at most TMI_ROWS_BYTES_MAX */
    bool overflow; /* more came: the gather fails, nothing more is kept */
    int statuses[TMI_PEERS_MAX]; /* a member's error status, if any */
    const char *sort_key;        /* static: rows sorted by it, or NULL */
    bool unique;                 /* one row per "node" and "seq" */
    size_t limit;                /* the last `limit` rows only; 0: all */
    tm_console_later_t *later;
    uint64_t seqs[TMI_PEERS_MAX];
    tm_rt_digest_part_t parts[TMI_PEERS_MAX + 1];
    uint64_t ticks[TMI_PEERS_MAX + 1];
    bool got[TMI_PEERS_MAX];
    uint32_t expected, n;
    double deadline;
    int status;
    char why[TM_CMD_MSG_MAX];
    tmi_why_row_t *rows; /* why-stuck: one per node that answered */
} tmi_gather_t;

/* A reply that waits for subscriptions to be confirmed. */
#define TMI_SETTLE_MAX 64u
typedef struct {
    tm_console_later_t *later;
    char message[TM_CMD_MSG_MAX];
    uint8_t *body;
    size_t len;
    double deadline;
    bool announced; /* wait too until every proxy here is read */
} tmi_settle_t;

typedef struct {
    uint64_t seq;
    uint32_t peer;
    tm_console_later_t *later;
    double deadline;
    bool used;
} tmi_pending_t;

/* A plant this node carries out over the mesh (tm_mesh_plant): the
 * nodes' answers to prepare, then to commit. The node maps of the answers
 * are kept for the reply, indexed by peer; this node's own at
 * TMI_PEERS_MAX. */
typedef enum { TMI_PLAN_IDLE, TMI_PLAN_PREPARE, TMI_PLAN_COMMIT } tmi_phase_t;

typedef struct {
    tmi_phase_t phase;
    uint64_t id;
    bool apply; /* else diff */
    size_t shown;
    tm_console_later_t *later;
    char file[TM_PLANT_FILE_MAX + 1];
    size_t n_actors, n_links;
    double t0, deadline, commit_s;
    uint32_t waiting;            /* answers still expected */
    uint64_t seq[TMI_PEERS_MAX]; /* the request in flight, or 0 */
    bool asked[TMI_PEERS_MAX];   /* a node of this plan */
    uint8_t *body[TMI_PEERS_MAX + 1];
    size_t len[TMI_PEERS_MAX + 1];
    tm_plan_counts_t counts; /* over every node */
    tm_plant_t own;          /* this node's part */
    bool own_settled;
    char note[TM_CMD_MSG_MAX]; /* values not confirmed in time */
    /* why each node's new actors are there (indexed as body), "" */
    char placed[TMI_PEERS_MAX + 1][TMI_PLACED_MAX];
    char failed[TM_CMD_MSG_MAX]; /* commit: the nodes that did not */
    int fail_status;
} tmi_plan_job_t;

/* A part of another node's plant, prepared here and waiting for commit
 * (or this node's own part while it coordinates: peer UINT32_MAX). */
typedef struct {
    bool used;
    uint32_t peer;
    uint64_t id;
    tm_plant_t part;
    double expires;
} tmi_plan_held_t;

/* Actors moving off this node (tm_mesh_move.c). */
typedef struct tmi_move tmi_move_t;
/* Standby copies (tm_mesh_repl.c: the stream of this node's; tm_mesh_copy.c:
 * those kept here) and a failover (tm_mesh_failover.c). */
typedef struct tmi_repl tmi_repl_t;
typedef struct tmi_copies tmi_copies_t;
typedef struct tmi_failover tmi_failover_t;

/* An export of the whole mesh being relayed (tm_mesh_export). */
#define TMI_EXPORTS 2
typedef struct {
    bool used;
    uint64_t gen;
    tm_console_later_t *later;
    uint32_t waiting;
    size_t actors, links;
    uint32_t nodes;
    char file[TM_PLANT_FILE_MAX + 1];
} tmi_export_t;

struct tm_mesh {
    char name[TM_MSG_NAME_MAX + 1];
    char site[TM_MSG_NAME_MAX + 1];
    char endpoint[TM_MSG_ENDPOINT_MAX + 1];
    double hb_s;
    unsigned suspect, dead;
    double wait_s; /* realtime: wait for late values this long */
    tm_rt_t *rt;
    tm_sched_t *sched;
    tm_mut_t *mut;
    tm_console_ctx_t *ctx;
    void *zctx;
    void *router;
    struct ev_loop *loop;
    tm_zwatch_t watch;
    ev_timer beat;
    ev_prepare flush;
    uint64_t inc;
    tmi_peer_t *peers; /* TMI_PEERS_MAX */
    uint32_t n_peers;
    tm_dir_t dir;
    tm_dir_entry_t *d_add, *d_del; /* own changes not yet sent */
    size_t n_add, n_del, cap_add, cap_del;
    tmi_pending_t pending[TMI_PENDING_MAX];
    uint64_t next_seq;
    tm_reply_t rep; /* requests from peers */
    /* changes from peers that wait for the writer (tm_mesh_wait.c; who:
     * a tmi_parked_t) */
    tm_parked_t parked;
    bool (*busy)(void *arg);
    void *busy_arg;
    uint64_t received, malformed, forwarded;
    bool stopping;
    /* coupling */
    uint64_t sync_waits; /* ticks that had to wait for a batch */
    uint64_t held_ticks; /* ticks stepped with a late peer's values held */
    bool recount;        /* proxies or lists changed: count unread again */
    size_t unread;       /* proxies no subscription covers */
    uint64_t run_target; /* a mesh run this node started: 0 = none */
    tmi_gather_t gathers[TMI_GATHERS];
    tmi_settle_t settle[TMI_SETTLE_MAX];
    size_t n_settle;
    uint64_t beat_tick; /* tick of the last heartbeat sent */
    /* plants across nodes */
    tmi_plan_job_t job;
    tmi_plan_held_t held;
    tm_stage_t *stage;  /* parts of plants from peers */
    tm_stage_t *fstage; /* plugins from peers (tm_mesh_models.c) */
    uint64_t plan_seq;
    tmi_export_t exports[TMI_EXPORTS];
    uint64_t export_gen;
    tmi_move_t *move; /* actors moving off this node, or NULL */
    /* another node moves actors: this node does not step before it (or
     * a mesh-run or mesh-clock of it) says so, or this monotonic time */
    double move_hold_until;
    /* actors placed on this node not spawned yet (as tmi_peer_t) */
    uint64_t placed, placed_base;
    double placed_at;
    tmi_repl_t *repl;
    tmi_copies_t *copies;
    tmi_failover_t *failover;
    /* tm_mesh_lease.c: the lease in etcd (NULL: none) */
    tm_lease_t *lease;
    bool failover_auto;
    bool lease_stopped; /* not safe at the last check (logged) */
    double taken_seen;  /* when this node saw itself taken over; 0 */
    uint64_t lease_waits;
    uint64_t auto_failovers;
    double auto_next[TMI_PEERS_MAX]; /* next takeover attempt per peer */
    /* the start gate: a node that starts with actors of its own steps
     * only once every member it can reach has sent its directory (a copy
     * that was failed over meanwhile is fenced first), or at gate_until */
    bool gated;
    double gate_until;
};

/* Send one message of `type` to peer p on its ctl (data = false) or data
 * socket. 0, TM_ERR_BUSY (high-water mark) or another send error. */
int tmi_mesh_send(tm_mesh_t *m, tmi_peer_t *p, bool data, uint32_t type,
                  uint64_t seq, const uint8_t *payload, size_t len);
/* The envelope frame of such a message, to send later (*frame to free). */
int tmi_mesh_frame(tm_mesh_t *m, tmi_peer_t *p, uint32_t type, uint64_t seq,
                   const uint8_t *payload, size_t len, uint8_t **frame,
                   size_t *flen);
/* Send a file's bytes to p as FILE_CHUNK messages of upload `upload` on
 * its data socket. 0 or the first send error. */
int tmi_mesh_send_file(tm_mesh_t *m, tmi_peer_t *p, uint64_t upload,
                       const char *file, const uint8_t *bytes, size_t len);
/* A peer by name (alive or not), or NULL. */
tmi_peer_t *tmi_mesh_peer(tm_mesh_t *m, const char *name);

/* p's number in the peer table. */
uint32_t tmi_mesh_index(const tm_mesh_t *m, const tmi_peer_t *p);
/* This node's step time per tick for its heartbeats (tm_mesh_place.c). */
uint64_t tmi_mesh_step_us(const tm_mesh_t *m);

/* ---- tm_mesh_req.c ----------------------------------------------------- */

/* Send argv to p as a control request (on its data socket when data,
 * behind what was sent there); its seq, 0 when it could not be sent. */
uint64_t tmi_mesh_request(tm_mesh_t *m, tmi_peer_t *p, bool data, int argc,
                          const char *const *argv);
/* Answer request seq of p (a console reply on ctl). */
int tmi_mesh_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int status,
                   const char *msg, bool more, const uint8_t *body, size_t len);
/* An answer to request seq of p that comes later (NULL: out of memory). */
tm_console_later_t *tmi_mesh_later(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq);
/* A console request or a reply from p. */
void tmi_req_on_request(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
void tmi_req_on_reply(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
/* Fail every forwarded request waiting on p (on anyone: p NULL). */
void tmi_req_fail_pending(tm_mesh_t *m, const tmi_peer_t *p, int status,
                          const char *why);
/* Forwarded requests unanswered for too long fail. */
void tmi_req_expire(tm_mesh_t *m, double now);

/* tm_mesh_wait.c: a mutating request that must wait for the checkpoint
 * writer is kept (or refused BUSY when too many wait): true, answered
 * later by tm_mesh_run_waiting. */
bool tmi_wait_park(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env,
                   const tm_cmd_t *cmd);
/* Answer every waiting change "not made" and free them. */
void tmi_wait_stop(tm_mesh_t *m);
/* A keepalive to each waiting change's node every half second, which it
 * passes on to its console (a reply with more = true, empty, no body). */
void tmi_wait_keepalive(tm_mesh_t *m, double now);
/* p cancelled request seq (its console went away): true if that request
 * was waiting; it is dropped, not made. */
bool tmi_wait_cancel(tm_mesh_t *m, const tmi_peer_t *p, uint64_t seq);
int tmi_wait_stats(tm_mesh_t *m, tm_stats_t *reg);

/* ---- tm_mesh_plan.c ---------------------------------------------------- */

/* Every member is alive; else TM_ERR_NODE_DOWN with why ("... : WHAT
 * every node of the mesh"). */
int tmi_plan_all_alive(tm_mesh_t *m, const char *what, char *why, size_t cap);
/* A reply to a request of a plant this node carries out: consumed (true)
 * or not ours. */
bool tmi_plan_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep);
/* p restarted: what it staged or prepared here goes, and a plant this
 * node carries out learns it. */
void tmi_plan_peer_reset(tm_mesh_t *m, tmi_peer_t *p);
/* Timer work (timeouts, nodes lost meanwhile) and the end (the parts and
 * exports in progress too). */
void tmi_plan_beat(tm_mesh_t *m);
void tmi_plan_free(tm_mesh_t *m);

/* ---- tm_mesh_part.c: this node's part of a plant ----------------------- */

/* Plan part against this node and check it (tm_plan_build,
 * tm_mut_apply_check); its plan as a node map (tm_plan_pack_node) into
 * *body (malloc'd), its counts into c. why: TM_MUT_WHY_MAX bytes. */
int tmi_part_plan(tm_mesh_t *m, const tm_plant_t *part, size_t shown,
                  uint8_t **body, size_t *len, tm_plan_counts_t *c, char *why);
/* Plan part again (the actors may have changed since it was prepared)
 * and carry it out (tm_mut_apply); "3 spawns, ..." into sum. from: the
 * coordinating node, NULL for this one (its console): the audit record's
 * "who"; placed (NULL or ""): why its new actors are here, for the
 * record's reason. */
int tmi_part_apply(tm_mesh_t *m, const tm_plant_t *part, const char *from,
                   const char *placed, tm_mut_timing_t *t, char *sum,
                   size_t cap, char *why);
/* `mesh-plan VERB ID ...` from p (answered here, at once or later). */
void tmi_plan_request(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int argc,
                      const char *const *argv);
/* A PLANT_CHUNK from p: a part of its plant, staged. */
void tmi_plan_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
/* The node whose part is held here (this node's name for its own). */
const char *tmi_part_held_by(const tm_mesh_t *m);
/* Drop the part held here. */
void tmi_part_free(tm_mesh_t *m);
/* p restarted: its staged and held parts go. */
void tmi_part_peer_reset(tm_mesh_t *m, tmi_peer_t *p);
/* A held part not committed in time goes. */
void tmi_part_beat(tm_mesh_t *m);

/* ---- tm_mesh_export.c -------------------------------------------------- */

/* End export x with a last reply (status, msg, body) and free its slot. */
void tmi_export_end(tm_mesh_t *m, tmi_export_t *x, int status, const char *msg,
                    const uint8_t *body, size_t len);

/* ---- tm_mesh_models.c -------------------------------------------------- */

/* Every plugin of this node's catalog to p (p appeared or restarted). */
void tmi_models_send_all(tm_mesh_t *m, tmi_peer_t *p);
/* A FILE_CHUNK from p: part of a plugin, staged. */
void tmi_models_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
/* `mesh-models-load UPLOAD CHECKSUM` from p: load the staged plugin. */
void tmi_models_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                        const char *const *argv, tm_reply_t *rep);
/* p's answer to a load this node sent; false if seq is not one. */
bool tmi_models_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                      const tm_console_rep_t *rep);
/* Plugins not acknowledged within a few seconds are sent again. */
void tmi_models_beat(tm_mesh_t *m);

/* ---- tm_mesh_dir.c ----------------------------------------------------- */

/* This node's whole directory to p (after which deltas follow). */
void tmi_dir_send_whole(tm_mesh_t *m, tmi_peer_t *p);
/* Own changes since the last flush, to every peer that has the whole
 * directory. */
void tmi_dir_flush(tm_mesh_t *m);
/* The mutation path's observer (tm_mut_mesh). */
void tmi_dir_observe(void *arg, tm_mut_event_t ev, const char *id,
                     const tm_model_t *model);
/* Ask p for its whole directory (at most every second). */
void tmi_dir_ask(tm_mesh_t *m, tmi_peer_t *p);
/* A directory message from p. */
void tmi_dir_on_message(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
/* Heartbeats to every peer now. */
void tmi_mesh_beat(tm_mesh_t *m);

/* ---- tm_mesh_place.c --------------------------------------------------- */

/* A heartbeat from p says it has `actors`: the actors placed there that
 * it shows no longer count as pending. */
void tmi_place_heard(tm_mesh_t *m, tmi_peer_t *p, uint64_t actors);
/* n more actors were placed on node `name` (this one or a peer). */
void tmi_place_pending(tm_mesh_t *m, const char *name, uint64_t n);

/* ---- tm_mesh_ctl.c ----------------------------------------------------- */

/* A control request (argv[0] "mesh-...") from p: handled into rep, true;
 * false when argv[0] is no control request. */
bool tmi_ctl_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                     const char *const *argv, tm_reply_t *rep);
/* A reply to a control request of ours: consumed (true) or not ours. */
bool tmi_ctl_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                   const tm_console_rep_t *rep);
/* Scheduler hooks: a mesh run waits for the others; it ended. */
bool tmi_ctl_hold(void *arg);
void tmi_ctl_run_end(void *arg, int status, const char *why);
/* Timer work (expired gathers) and the end of everything. */
void tmi_ctl_beat(tm_mesh_t *m);
void tmi_ctl_free(tm_mesh_t *m);

/* ---- tm_mesh_rows.c ------------------------------------------------------ */

/* A part of a member's answer to a rows gather (its body kept; more: not
 * the last part), this node's own answer (i = UINT32_MAX), and the end of
 * one: the reply is sent to the gather's later (nodes that did not answer
 * are named in its message), everything freed. */
int tmi_rows_part(tmi_gather_t *g, uint32_t i, const tm_console_rep_t *rep);
void tmi_rows_finish(tm_mesh_t *m, tmi_gather_t *g);
/* The highest tick of this node and its live members (heartbeats). */
uint64_t tmi_ctl_max_tick(const tm_mesh_t *m);

/* ---- tm_mesh_move.c, tm_mesh_adopt.c ----------------------------------- */

/* The package (tm_move_wire) of actors ids[0..n) of this node at its
 * current tick, each with the epoch one above its own (into epochs), the
 * links into them and their sources' past outputs. Errors:
 * TM_ERR_UNKNOWN_ACTOR, TM_ERR_TOO_BIG, TM_ERR_NOMEM. */
int tmi_move_pack(tm_mesh_t *m, char (*ids)[TM_ID_MAX + 1], size_t n,
                  uint32_t *epochs, uint8_t **out, size_t *len);

/* mesh-tick: this node's tick, whether its clock is paused, whether a run
 * is in progress. */
void tmi_move_tick_request(tm_mesh_t *m, tm_reply_t *rep);
/* mesh-adopt UPLOAD and mesh-moved NODE ID:EPOCH... from p (answered
 * once this node reads the moved actors' values from their new node). */
void tmi_move_request(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int argc,
                      const char *const *argv);
/* A reply to a request of the move in progress: consumed, or not ours. */
bool tmi_move_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep);
/* Whether a move (this node's, or another's that asked this node's tick)
 * holds this node's clock. */
bool tmi_move_holds(const tm_mesh_t *m);
/* Whether id is one of the actors this node is moving now. */
bool tmi_move_owns(const tm_mesh_t *m, const char *id);
/* The end: a move in progress fails. */
void tmi_move_free(tm_mesh_t *m);

/* ---- tm_mesh_repl.c, tm_mesh_failover.c -------------------------------- */

typedef struct {
    tm_store_t *store;          /* this node's; NULL: no standby copy */
    void (*barrier)(void *arg); /* waits for a checkpoint in flight */
    void *barrier_arg;
    unsigned replicas;   /* 1: stream this node's store */
    const char *standby; /* "" or NULL: the next member by name */
} tmi_repl_opts_t;

typedef struct {
    const char *standby; /* "" when none */
    uint64_t queued;     /* commits numbered so far */
    uint64_t acked;      /* every commit up to it is on the standby */
    uint64_t full_copies, parts_sent, bytes_sent;
    uint64_t unconfirmed; /* replies sent before the standby confirmed */
    size_t held;          /* replies waiting for the standby now */
} tmi_repl_stats_t;

/* Errors: TM_ERR_NOMEM. */
int tmi_repl_open(tm_mesh_t *m, const tmi_repl_opts_t *o);
void tmi_repl_attach(tm_mesh_t *m, struct ev_loop *loop);
void tmi_repl_stop(tm_mesh_t *m);
void tmi_repl_free(tm_mesh_t *m);
/* Timer work: the standby chosen again, parts not confirmed in time,
 * replies that waited too long. */
void tmi_repl_beat(tm_mesh_t *m);
/* mesh-repl-ack (no reply) and mesh-standby NODE (answered into rep). */
void tmi_repl_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                      const char *const *argv, tm_reply_t *rep);
void tmi_repl_stats(tm_mesh_t *m, tmi_repl_stats_t *out);
/* The store's database of a part's db number. */
tm_store_db_t tmi_repl_store_db(uint8_t db);
/* The file name of the stream's FILE_CHUNK uploads. */
#define TMI_REPL_FILE "repl"

/* ---- tm_mesh_copy.c: the copies kept here for other nodes -------------- */

/* Errors: TM_ERR_NOMEM. data: where the copies go ("" or NULL: none). */
int tmi_copy_open(tm_mesh_t *m, const char *data);
void tmi_copy_free(tm_mesh_t *m);
/* A FILE_CHUNK of a standby stream from p: true when it was one. */
bool tmi_copy_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env);
/* mesh-standby NODE: the copy of NODE kept here, into rep. */
void tmi_copy_request(tm_mesh_t *m, int argc, const char *const *argv,
                      tm_reply_t *rep);
/* p restarted: what it was sending here goes. */
void tmi_copy_peer_reset(tm_mesh_t *m, tmi_peer_t *p);
/* Timer work: uploads left half done go. */
void tmi_copy_beat(tm_mesh_t *m);
size_t tmi_copy_count(const tm_mesh_t *m);
/* The copy of `from` kept here: its origin's incarnation and last
 * commit, the checkpoint tick it holds and its actors; false when none.
 * Opens it (tmi_copy_store then gives its store). */
bool tmi_copy_local(tm_mesh_t *m, const char *from, uint64_t *inc,
                    uint64_t *seq, uint64_t *tick, size_t *actors);
tm_store_t *tmi_copy_store(tm_mesh_t *m, const char *from);
/* The copy of `from` was taken over: closed and set aside. */
void tmi_copy_done(tm_mesh_t *m, const char *from);

/* Run here the actors of the copy of dead node `node`; a one-line outcome
 * into msg. */
int tmi_failover_take(tm_mesh_t *m, const char *node, char *msg, size_t cap);
/* mesh-takeover NODE from p. */
void tmi_failover_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                          const char *const *argv, tm_reply_t *rep);
/* A reply to a request of the failover in progress: consumed or not. */
bool tmi_failover_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                        const tm_console_rep_t *rep);
void tmi_failover_beat(tm_mesh_t *m);
void tmi_failover_free(tm_mesh_t *m);

/* ---- tm_mesh_lease.c: the lease in etcd, automatic failover ----------- */

/* Open the lease of [mesh] etcd (none without it). */
int tmi_lease_open(tm_mesh_t *m, const tm_config_t *c, char *err,
                   size_t errlen);
void tmi_lease_close(tm_mesh_t *m);
/* Whether the node may step now (no lease, or a safe one). */
bool tmi_lease_ready(tm_mesh_t *m);
/* Before a takeover of node: its marker in etcd (0 without a lease). */
int tmi_lease_take(tm_mesh_t *m, const char *node, char *msg, size_t cap);
/* Every heartbeat: automatic failover, release after a takeover. */
void tmi_lease_beat(tm_mesh_t *m);
int tmi_lease_stats(tm_mesh_t *m, tm_stats_t *reg);

/* ---- tm_mesh_sync.c ---------------------------------------------------- */

/* The proxies of p's actors changed: subscribe again. */
void tmi_sync_dirty(tm_mesh_t *m, tmi_peer_t *p);
/* What p reads from this node stops until p subscribes again (an actor of
 * its list moved away). */
void tmi_sync_stop_out(tmi_peer_t *p);
/* Send what is due: subscriptions; answer settled waiters (from the
 * heartbeat timer and before the loop blocks). */
void tmi_sync_beat(tm_mesh_t *m);
void tmi_sync_flush(tm_mesh_t *m);
/* A link batch from p. */
void tmi_sync_batch(tm_mesh_t *m, tmi_peer_t *p, uint64_t epoch,
                    const uint8_t *payload, size_t len);
/* The reply to a subscription request (seq) from p. */
bool tmi_sync_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                    const tm_console_rep_t *rep);
/* p came back after it was dead: this node subscribes again to what it
 * reads there; restarted (a new incarnation): what p read here goes too. */
void tmi_sync_reset(tm_mesh_t *m, tmi_peer_t *p, bool restarted);
void tmi_sync_free(tmi_peer_t *p);
/* What holds this node's next tick. */
void tmi_sync_why(tm_mesh_t *m, tmi_why_t *w);
/* `mesh-sub EPOCH IDS...` from p: reply with the tick and the values. */
int tmi_sync_subscribe(tm_mesh_t *m, tmi_peer_t *p, int argc,
                       const char *const *argv, tm_reply_t *rep);
/* As tm_mesh_settle; announced: wait too until every proxy here is read
 * (a plant's links from actors that their nodes have not announced yet). */
void tmi_sync_settle(tm_mesh_t *m, tm_console_later_t *later,
                     const char *message, const uint8_t *body, size_t len,
                     bool announced);
/* tm_mesh_sync_out.c: the handles of ids[0..n) (TM_RT_NO_HANDLE for an
 * id not here), kept while nothing is killed; NULL without memory. */
const uint32_t *tmi_sync_handles(tm_mesh_t *m, tmi_handles_t *hs,
                                 char (*ids)[TM_ID_MAX + 1], uint32_t n);
void tmi_sync_handles_free(tmi_handles_t *hs);
/* A list peers read here, emptied (with the batches not sent yet). */
void tmi_sync_out_free(tmi_out_t *o);
/* Send p's batches not sent yet, as one message. */
void tmi_sync_send_queued(tmi_peer_t *p);
/* Send every peer's batches not sent yet, unless the clock steps again
 * at once (then they go with the next ticks' batches, within limits). */
void tmi_sync_send_idle(tm_mesh_t *m);
/* Whether this node holds every live peer's link batches of the ticks up
 * to `tick` (with lookahead, those of the last ticks may still be on
 * their way after the steps of their ticks); a move packs the proxies'
 * past outputs only then, once tmi_sync_before(m, tick) has imported
 * them. */
bool tmi_sync_held(tm_mesh_t *m, uint64_t tick);
/* Scheduler hooks. */
bool tmi_sync_ready(void *arg, uint64_t next);
void tmi_sync_before(void *arg, uint64_t tick);
void tmi_sync_after(void *arg, uint64_t tick);

#endif
