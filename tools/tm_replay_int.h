/* tm_replay_int.h: the state a replay shares between tm_replay.c (the
 * session: node, console, sockets, outputs) and tm_replay_drive.c (the
 * paused and realtime drivers). Nothing else includes it. */
#ifndef TM_REPLAY_INT_H_INCLUDED
#define TM_REPLAY_INT_H_INCLUDED

#include "tm_client.h"
#include "tm_nodeproc.h"
#include "tm_replay.h"
#include "tm_outputs.h"
#include "tm_telem_wire.h"

#include <jansson.h>

#define TMI_K0_UNKNOWN INT64_MIN
#define TMI_EP_MAX     256

/* One file being replayed. Ticks of rows: k0 + step[r] * period. */
typedef struct {
    const tm_skab_file_t *f;
    tm_replay_file_t *res;
    int64_t *step;      /* per row: row steps after row 0 */
    uint64_t *ts;       /* per row: the ts sent (and expected back) */
    int64_t k0;         /* tick of row 0's step; TMI_K0_UNKNOWN */
    bool k0_seen;       /* k0 came from an output, not a guess */
    size_t sent;        /* rows sent */
    uint64_t last_tick; /* tick of the newest output */
    uint64_t max_ts;    /* greatest ts of an output */
    bool seen;          /* an output arrived */
    bool spawned;
    bool calibrated; /* calibrate was asked */
} tmi_rfile_t;

/* What `stats` says about the clock and telemetry. */
typedef struct {
    uint64_t tick;
    double h;
    double lag_s;
    char clock[16];
    char telemetry[TMI_EP_MAX]; /* "" without the telemetry service */
    char outputs[TMI_EP_MAX];
    uint64_t received;
    uint64_t accepted;
    uint64_t rejected;
    json_t *reasons; /* the rejected map (owned) or NULL */
} tmi_stats_t;

typedef struct {
    const tm_replay_opts_t *o;
    tm_replay_result_t *res;
    char *err;
    size_t errlen;
    int timeout_ms;
    volatile sig_atomic_t *stop; /* o->stop; NULL while cleaning up */
    tm_nodeproc_t *node;         /* the node started for the replay, or NULL */
    tm_client_t *client;
    void *zctx;
    void *push; /* telemetry */
    void *sub;  /* outputs */
    char console[TMI_EP_MAX];
    tmi_stats_t base; /* stats before the replay */
    uint64_t tick;    /* the node's tick as last heard */
    uint32_t period;  /* ticks per row step */
    double h;
    int64_t row_ns; /* ns between row steps as sent */
    tmi_rfile_t *files;
    size_t n;
    size_t *by_id;            /* indices of files sorted by id */
    tm_telem_sample_t *batch; /* the frame being built */
    size_t batch_n;
    size_t batch_cap;
    uint64_t sent;                  /* samples sent */
    int outputs_wait;               /* ms an output wait may take */
    char probe[TM_SKAB_ID_MAX + 1]; /* the probe twin's id */
    bool probe_live;                /* spawned and not killed yet */
    bool probe_seen;                /* an output of it arrived */
} tmi_replay_t;

/* ---- tm_replay.c --------------------------------------------------------- */

void tmi_replay_log(tmi_replay_t *rp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets rp->err; returns rc. */
int tmi_replay_fail(tmi_replay_t *rp, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Send a console request and wait for its final reply (a run's progress
 * items are skipped). *body (may be NULL) gets its JSON body or NULL.
 * Errors: TM_ERR_NODE_DOWN (no reply in time), TM_ERR_CLOSED (stop), the
 * node's status (rp->err has its message). */
int tmi_replay_cmd(tmi_replay_t *rp, int argc, const char *const *argv,
                   json_t **body);
int tmi_replay_stats(tmi_replay_t *rp, tmi_stats_t *st);
void tmi_replay_stats_free(tmi_stats_t *st);

/* Set the clock ("pause", "realtime", ...). */
int tmi_replay_clock(tmi_replay_t *rp, const char *mode);
/* run --ticks N; rp->tick gets the tick it ended on. */
int tmi_replay_run_ticks(tmi_replay_t *rp, uint64_t ticks);
int tmi_replay_spawn_all(tmi_replay_t *rp);
/* Kill the twins whose file's last row has its output: they would only
 * step on without data. */
int tmi_replay_retire(tmi_replay_t *rp);
/* Make sure outputs reach the SUB socket before any twin of a file steps
 * (a subscription takes effect some time after connecting): spawn a probe
 * twin, step one row step at a time until its output arrives, kill it. So
 * the file's twins all step the same ticks, run after run. */
int tmi_replay_probe(tmi_replay_t *rp);
/* calibrate ID --window STEPS (the node's window counts steps; a gap in
 * a file is a step without a row); rf->res->params gets the parameter
 * set. */
int tmi_replay_calibrate(tmi_replay_t *rp, tmi_rfile_t *rf, uint64_t steps);

/* Add row rf->sent of rf to the batch (and count it sent). */
int tmi_replay_queue_row(tmi_replay_t *rp, tmi_rfile_t *rf);
/* Send the batch as one frame (nothing if empty); it is sent as it grows
 * past a frame's limits too. */
int tmi_replay_flush(tmi_replay_t *rp);
/* Wait until the node's telemetry.received covers every sample sent. */
int tmi_replay_wait_received(tmi_replay_t *rp);

/* Steps sent ahead of the node at most: TM_REPLAY_CHUNK_STEPS, fewer with
 * many files so that one chunk's outputs stay well under a PUB socket's
 * high-water mark (10,000 messages). */
uint32_t tmi_replay_chunk(const tmi_replay_t *rp);

/* Read outputs: wait up to timeout_ms for the first, then take what is
 * queued. Returns how many were read (never an error: malformed ones are
 * counted). */
int tmi_replay_poll(tmi_replay_t *rp, int timeout_ms);

/* ---- tm_replay_drive.c --------------------------------------------------- */

int tmi_replay_paused(tmi_replay_t *rp);
int tmi_replay_realtime(tmi_replay_t *rp);

#endif
