/* tm_replay: replay SKAB files through a node, end to end (twinmesh-
 * replay): one pumpmon twin per file, spawned and calibrated through the
 * console, every row streamed as samples through the node's telemetry
 * endpoint, and each row's alarm read back from its outputs endpoint.
 *
 * Time. Row r of a file is sent with its own time (ns since the epoch);
 * the node maps it to a tick (docs/protocol.md 8.1), and the output of
 * that step carries the same time, which maps it back to the row (exact
 * match). The twins step every M = round(1 s / h) ticks, and M * h must be
 * 1 s (within 1e-9 s) so that every row falls on a step.
 *
 * Paused replay (speed 0): the node's clock is paused and the replay
 * steps it with `run --ticks`: it sends the samples of the next steps (at
 * most TM_REPLAY_CHUNK_STEPS, well inside the node's horizon), waits until
 * the node's telemetry.received counter covers them, runs to the last of
 * those steps and reads the outputs of every twin up to it. Each twin is
 * calibrated when its rows 0..window-1 have been stepped and before row
 * `window` is, on exactly those rows (`calibrate ID --window S`, S the
 * steps they span: the node's window counts steps, and a gap in a file is
 * a step without a row). Before the twins are spawned a probe twin is
 * sent one row and stepped until its outputs arrive (a subscription takes
 * effect some time after it is made) and killed, so the twins step the
 * same ticks after their spawn in every run: the result does not depend
 * on timing. A twin whose last row has its output is killed.
 *
 * Realtime replay (speed X): the node's clock runs in real time, and rows
 * are sent at X rows per second per file, the file's time compressed X
 * times (ts' = ts0 + (ts - ts0) / X, so 1e9 / X must be a whole number of
 * ns and M = round(1 / (X h)) ticks per row). The twin then sees rows 1/X
 * s apart (and its time constants act on compressed time: the alarms
 * differ from a paused replay's unless X = 1). Calibration is asked for,
 * on the steps from row 0 to the newest output, as soon as the output of
 * row window-1 is seen; the row from which the new parameters were used
 * is reported.
 *
 * Not thread-safe; one replay per process at a time (it may start a node).
 */
#ifndef TM_REPLAY_H_INCLUDED
#define TM_REPLAY_H_INCLUDED

#include "tm_skab.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TM_REPLAY_CHUNK_STEPS 32    /* steps sent ahead of the node at most */
#define TM_REPLAY_TIMEOUT_MS  10000 /* default for every wait on the node */
#define TM_REPLAY_MODEL       "pumpmon"

typedef struct {
    const char *console;         /* a running node's console; NULL: start one */
    const char *node_binary;     /* to start (NULL: see tm_nodeproc.h) */
    const char *self_exe;        /* argv[0], to find the node beside it */
    double speed;                /* rows per second per file; 0: paused */
    uint32_t window;             /* calibration rows (TM_SCORE_SKIP_ROWS) */
    int trace;                   /* index of the file to trace, -1: none */
    int timeout_ms;              /* each wait on the node; 0: default */
    volatile sig_atomic_t *stop; /* set by a signal handler; may be NULL */
    FILE *log;                   /* progress and warnings; NULL: none */
} tm_replay_opts_t;

/* What the twin said about one row of the traced file. Values are in the
 * units of the data contract (SI); NaN where absent. */
typedef struct {
    bool have; /* an output mapped to this row */
    bool alarm;
    double score;
    uint64_t params;
    double measured[TM_SKAB_SIGNALS];
    double predicted[TM_SKAB_SIGNALS];
    double sd[TM_SKAB_SIGNALS];
} tm_replay_trace_t;

typedef struct {
    int8_t *alarm;     /* per row: 1, 0, or -1 (no output) */
    size_t missing;    /* rows without an output */
    uint64_t params;   /* what the calibration reply named (0: none) */
    int64_t calib_row; /* first row whose output had params > 0; -1 */
} tm_replay_file_t;

typedef struct {
    size_t nfiles;
    tm_replay_file_t *files;  /* in the order given */
    tm_replay_trace_t *trace; /* rows of the traced file, or NULL */
    char console[256];        /* the node's console endpoint */
    double h;                 /* the node's tick step, s */
    uint32_t period;          /* ticks per row step */
    uint64_t sent;            /* samples sent */
    uint64_t received;        /* telemetry.received / accepted since start */
    uint64_t accepted;
    uint64_t rejected;
    char reasons[512];  /* "late 3, out_of_range 2" or "" */
    uint64_t outputs;   /* output messages read */
    uint64_t unmatched; /* outputs whose ts is no row's */
    uint64_t malformed; /* outputs that did not decode */
    double elapsed_s;
} tm_replay_result_t;

/* Replay files (ids assigned: tm_skab_assign_ids) and fill res (free it
 * with tm_replay_result_free, on error too). Errors: TM_ERR_NODE_DOWN
 * (no answer from the node), TM_ERR_TIMEOUT (the node answered but did
 * not receive the samples sent, or a run did not end), a node's refusal
 * (its status; err has its message: an id in use, an unknown model, ...),
 * TM_ERR_UNSUPPORTED (a tick step M * h != 1 s, a node without telemetry
 * endpoints), TM_ERR_CLOSED (*stop was set), TM_ERR_INVAL (bad options);
 * err says what. The node started for the replay is stopped, and twins
 * spawned on a running node are killed, whatever the outcome. */
int tm_replay_run(tm_skab_file_t *const *files, size_t n,
                  const tm_replay_opts_t *opts, tm_replay_result_t *res,
                  char *err, size_t errlen);

void tm_replay_result_free(tm_replay_result_t *res);

#endif
