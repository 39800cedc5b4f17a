/* tm_telem_int: state shared by tm_telem.c (sockets, ingest, alignment)
 * and tm_telem_out.c (feeding steps, history, publishing). Internal to
 * nodes/. */
#ifndef TM_TELEM_INT_H_INCLUDED
#define TM_TELEM_INT_H_INCLUDED

#include "tm_index.h"
#include "tm_telem.h"
#include "tm_telem_wire.h"
#include "tm_wire.h"
#include "tm_zwatch.h"

#include <stdbool.h>
#include <stdint.h>

/* Rejection reasons, in the order stats lists them. */
#define TMI_TELEM_REASONS(X)                                                   \
    X(MALFORMED, malformed)                                                    \
    X(UNKNOWN_ASSET, unknown_asset)                                            \
    X(UNKNOWN_SIGNAL, unknown_signal)                                          \
    X(BAD_UNIT, bad_unit)                                                      \
    X(NON_FINITE, non_finite)                                                  \
    X(OUT_OF_RANGE, out_of_range)                                              \
    X(LATE, late)                                                              \
    X(EARLY, early)

typedef enum {
#define X(e, n) TMI_TELEM_##e,
    TMI_TELEM_REASONS(X)
#undef X
        TMI_TELEM_NREASONS
} tmi_telem_reason_t;

/* One asset (an actor with measured inputs that has had a sample). */
typedef struct {
    char id[TM_TELEM_ASSET_MAX + 1];
    uint64_t hash;
    const tm_model_t *model;
    uint32_t period;
    uint32_t ni;
    uint32_t n_measured; /* measured inputs: a complete row has them all */
    /* The last step with a complete row, and the steps between it and the
     * one before: a row is expected at last_row + row_gap. */
    uint64_t last_row, row_gap;
    /* Time axis: sample time ts0 is tick k0 (a step tick). */
    uint64_t ts0;
    uint64_t k0;
    bool anchored;
    /* Pending steps: slot s % horizon holds step tick slot_tick[s] (0:
     * empty), its values and their timestamps (ni each; ts 0: none). */
    uint64_t *slot_tick;
    double *slot_v;
    uint64_t *slot_ts;
    uint32_t *slot_n; /* inputs with a sample */
    double *slot_at;  /* when its first sample arrived (monotonic s) */
    /* Measurements of the last `history` steps (ring; ni per row). */
    double *hist;
    uint32_t hist_n;
    uint32_t hist_pos;
    /* Freshness per input: last value and time, tick it was stepped at,
     * samples accepted. */
    double *last_v;
    uint64_t *last_ts;
    uint64_t *last_tick;
    uint64_t *count;
    bool alarm; /* the alarm output at the last published step */
    /* Samples of this asset rejected, by reason (those known once the
     * asset is: unknown_signal .. early). */
    uint64_t rejected[TMI_TELEM_NREASONS];
} tmi_telem_asset_t;

struct tm_telem {
    void *pull;
    void *pub;
    char endpoint[300];
    char outputs[300];
    tm_zwatch_t watch;
    bool watching;
    tm_rt_t *rt;
    tm_sched_t *sched;
    uint64_t window_ticks;
    unsigned horizon;
    unsigned history;
    tmi_telem_asset_t **assets;
    size_t n_assets;
    size_t cap_assets;
    tm_index_t index;
    tm_wire_buf_t out; /* output messages are built here */
    /* Counters. */
    uint64_t frames;
    uint64_t received;
    uint64_t accepted;
    uint64_t rejected[TMI_TELEM_NREASONS];
    uint64_t published;
    uint64_t pub_failed;
    uint64_t alarms; /* alarms raised (changepoints) */
    /* Steps on arrival (window = 0): the first step whose row a frame
     * completed (0: none), and the latency from a row's first sample to
     * its published output, for the last TMI_TELEM_LAT_N rows. */
    uint64_t complete;
    double *lat;
    uint32_t lat_pos;
    uint64_t lat_n;
};

#define TMI_TELEM_LAT_N 4096u
/* Steps on arrival look at every asset for each completed row: on a node
 * with more assets than this, the clock alone steps. */
#define TMI_TELEM_EARLY_ASSETS 1024u

/* The asset of id, or NULL. */
tmi_telem_asset_t *tmi_telem_find(tm_telem_t *t, const char *id);

/* Forget asset at position i of the table. */
void tmi_telem_drop(tm_telem_t *t, size_t i);

/* Scheduler hooks (tm_telem_out.c). */
void tmi_telem_before(void *arg, uint64_t tick);
void tmi_telem_after(void *arg, uint64_t tick);
uint64_t tmi_telem_next_stop(void *arg);

/* The next step tick of a after `tick`. */
static inline uint64_t tmi_telem_next_step(const tmi_telem_asset_t *a,
                                           uint64_t tick)
{
    return (tick / a->period + 1) * a->period;
}

#endif
