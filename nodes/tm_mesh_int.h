/* tm_mesh_int: the mesh service's state, shared by tm_mesh.c (membership,
 * directory, forwarding) and tm_mesh_sync.c (coupling across nodes). Not
 * for other modules: they use tm_mesh.h. */
#ifndef TM_MESH_INT_H_INCLUDED
#define TM_MESH_INT_H_INCLUDED

#include "tm_dir.h"
#include "tm_mesh.h"
#include "tm_msg.h"
#include "tm_zwatch.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#define TMI_PEERS_MAX    64u
#define TMI_PENDING_MAX  1024u
#define TMI_BATCH_WINDOW 1024u /* ticks a source may run ahead */

typedef enum { TMI_JOINING, TMI_ALIVE, TMI_SUSPECT, TMI_DEAD } tmi_pstate_t;

/* A batch of values received for one tick, kept until it is imported. */
typedef struct {
    uint64_t tick;
    double *values; /* n_values of the subscription it was sent for */
    uint32_t n;
    bool have;
} tmi_held_t;

/* What this node reads from a peer: the proxies of its actors. */
typedef struct {
    char (*ids)[TM_ID_MAX + 1];
    uint32_t *first;  /* per id: its first value in a batch */
    uint32_t *n_outs; /* per id: its outputs */
    uint32_t n_ids;
    uint32_t n_values;
    uint64_t epoch;     /* this list's number (in batches' seq) */
    uint64_t req_seq;   /* the request in flight (0: none) */
    double req_at;      /* when it was sent */
    bool dirty;         /* proxies changed since it was sent */
    bool refused;       /* the source refused the list (too many values) */
    bool acked;         /* the peer confirmed it */
    uint64_t ack_tick;  /* tick of the last answer */
    uint64_t full_tick; /* every value known up to it without batches */
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
    uint64_t held_from, held_ticks;
    /* A batch lost on the way (a connection that broke and came back):
     * since when the peer was alive and past a tick whose values never
     * came (0: not so); then the list is subscribed again. */
    double lost_since;
    uint64_t resubscribed;
} tmi_in_t;

/* What a peer reads from this node. */
typedef struct {
    char (*ids)[TM_ID_MAX + 1];
    uint32_t *n_outs; /* outputs of each, as subscribed */
    uint32_t n_ids;
    uint64_t epoch;
    uint64_t from; /* batches from this tick on */
    uint64_t sent, dropped;
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
    tmi_pstate_t state;
    bool self; /* this node's own endpoint under this spelling */
    void *ctl, *data;
    /* directory: what this node sent it, and applied from it */
    uint64_t out_seq;
    bool dir_sent;
    uint64_t dir_inc, dir_seq;
    bool dir_synced;
    double dir_asked; /* when the whole directory was last asked for */
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

/* A mesh digest being gathered from every member. */
#define TMI_GATHERS 4
typedef struct {
    bool used;
    bool is_why; /* why-stuck rather than the digest */
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
} tmi_settle_t;

typedef struct {
    uint64_t seq;
    uint32_t peer;
    tm_console_later_t *later;
    double deadline;
    bool used;
} tmi_pending_t;

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
};

/* Send one message of `type` to peer p on its ctl (data = false) or data
 * socket. 0, TM_ERR_BUSY (high-water mark) or another send error. */
int tmi_mesh_send(tm_mesh_t *m, tmi_peer_t *p, bool data, uint32_t type,
                  uint64_t seq, const uint8_t *payload, size_t len);
/* A peer by name (alive or not), or NULL. */
tmi_peer_t *tmi_mesh_peer(tm_mesh_t *m, const char *name);

/* p's number in the peer table. */
uint32_t tmi_mesh_index(const tm_mesh_t *m, const tmi_peer_t *p);

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

/* ---- tm_mesh_sync.c ---------------------------------------------------- */

/* The proxies of p's actors changed: subscribe again. */
void tmi_sync_dirty(tm_mesh_t *m, tmi_peer_t *p);
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
/* p restarted, died or came back: its subscriptions start again. */
void tmi_sync_reset(tm_mesh_t *m, tmi_peer_t *p);
void tmi_sync_free(tmi_peer_t *p);
/* What holds this node's next tick. */
void tmi_sync_why(tm_mesh_t *m, tmi_why_t *w);
/* `mesh-sub EPOCH IDS...` from p: reply with the tick and the values. */
int tmi_sync_subscribe(tm_mesh_t *m, tmi_peer_t *p, int argc,
                       const char *const *argv, tm_reply_t *rep);
/* Scheduler hooks. */
bool tmi_sync_ready(void *arg, uint64_t next);
void tmi_sync_before(void *arg, uint64_t tick);
void tmi_sync_after(void *arg, uint64_t tick);

#endif
