/* tm_replay_drive: what a replay sends when - the paused driver, which
 * steps the node with `run --ticks` once a chunk of rows was received, and
 * the realtime driver, which sends rows on a wall-clock schedule while the
 * node's clock runs (tm_replay.h). */
#include "tm_replay_int.h"

#include "tm_err.h"
#include "tm_time.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define S_DISCOVER_STEPS 4096 /* steps to see a row's time come back */
#define S_SLICE_MS       20   /* realtime: outputs are read this often */
#define S_START_S        0.1  /* realtime: the schedule starts this later */
#define S_SHORT_WAIT_MS  1000 /* an outputs wait after one timed out */

static bool s_stopped(const tmi_replay_t *rp)
{
    return rp->o->stop != NULL && *rp->o->stop != 0;
}

static int64_t s_tick_of(const tmi_replay_t *rp, const tmi_rfile_t *rf,
                         size_t r)
{
    return rf->k0 + rf->step[r] * (int64_t)rp->period;
}

/* Wait until every twin published a step in (e - period, e]. A wait that
 * times out is reported once and shortened from then on: the rows of the
 * outputs lost count as missing. */
static int s_wait_outputs(tmi_replay_t *rp, uint64_t e)
{
    double deadline = tm_time_now() + rp->outputs_wait / 1000.0;
    for (;;) {
        size_t behind = 0;
        for (size_t i = 0; i < rp->n; i++) {
            const tmi_rfile_t *rf = &rp->files[i];
            behind +=
                rf->spawned && (!rf->seen || rf->last_tick + rp->period <= e);
        }
        if (behind == 0) {
            return 0;
        }
        if (s_stopped(rp)) {
            return tmi_replay_fail(rp, TM_ERR_CLOSED, "interrupted");
        }
        double left = deadline - tm_time_now();
        if (left <= 0) {
            tmi_replay_log(rp,
                           "%zu twins published nothing for tick %" PRIu64
                           " within %g s; going on (their rows without an "
                           "output count as missing)",
                           behind, e, rp->outputs_wait / 1000.0);
            rp->outputs_wait = S_SHORT_WAIT_MS;
            return 0;
        }
        tmi_replay_poll(rp, (int)(left * 1000) + 1);
    }
}

/* Send row 0 of every file, then step one row step at a time until an
 * output carries a row's time: that fixes the tick of row 0 (k0). Files
 * whose row 0 was not taken (every sample rejected) get the same k0 for
 * now; their own outputs correct it later. */
static int s_discover(tmi_replay_t *rp)
{
    int rc = 0;
    for (size_t i = 0; i < rp->n && rc == 0; i++) {
        rc = tmi_replay_queue_row(rp, &rp->files[i]);
    }
    rc = rc == 0 ? tmi_replay_flush(rp) : rc;
    rc = rc == 0 ? tmi_replay_wait_received(rp) : rc;
    int64_t k0 = TMI_K0_UNKNOWN;
    for (int step = 0; rc == 0 && k0 == TMI_K0_UNKNOWN; step++) {
        if (step == S_DISCOVER_STEPS) {
            return tmi_replay_fail(rp, TM_ERR_TIMEOUT,
                                   "no twin output carried the time of a "
                                   "row in %d steps (were the samples "
                                   "rejected? see the node's stats)",
                                   S_DISCOVER_STEPS);
        }
        rc = tmi_replay_run_ticks(rp, rp->period);
        rc = rc == 0 ? s_wait_outputs(rp, rp->tick) : rc;
        for (size_t i = 0; rc == 0 && i < rp->n; i++) {
            if (rp->files[i].k0_seen && rp->files[i].k0 > k0) {
                k0 = rp->files[i].k0;
            }
        }
    }
    for (size_t i = 0; rc == 0 && i < rp->n; i++) {
        if (!rp->files[i].k0_seen) {
            tmi_replay_log(rp, "%s: no output with the time of row 0",
                           rp->files[i].f->path);
            rp->files[i].k0 = k0;
        }
    }
    return rc;
}

static bool s_wants_calibration(const tmi_replay_t *rp, const tmi_rfile_t *rf)
{
    return !rf->calibrated && rf->f->rows > rp->o->window;
}

/* Calibrate the twins whose rows 0..window-1 were stepped (and, by the
 * chunk ends, row window was not yet). */
static int s_calibrations_due(tmi_replay_t *rp)
{
    for (size_t i = 0; i < rp->n; i++) {
        tmi_rfile_t *rf = &rp->files[i];
        if (s_wants_calibration(rp, rf) &&
            s_tick_of(rp, rf, rp->o->window - 1) <= (int64_t)rp->tick) {
            /* the steps of rows 0..window-1, no more, no fewer */
            uint64_t steps = (uint64_t)rf->step[rp->o->window - 1] + 1;
            int rc = tmi_replay_calibrate(rp, rf, steps);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* The last tick of the next chunk: a chunk ahead at most, not past the
 * last row, and short of a row `window` not calibrated for yet. */
static int64_t s_chunk_end(const tmi_replay_t *rp, int64_t *last)
{
    int64_t e =
        (int64_t)rp->tick + (int64_t)tmi_replay_chunk(rp) * (int64_t)rp->period;
    *last = INT64_MIN;
    for (size_t i = 0; i < rp->n; i++) {
        const tmi_rfile_t *rf = &rp->files[i];
        int64_t t = s_tick_of(rp, rf, rf->f->rows - 1);
        *last = t > *last ? t : *last;
        if (s_wants_calibration(rp, rf)) {
            int64_t cut = s_tick_of(rp, rf, rp->o->window) - 1;
            e = cut < e ? cut : e;
        }
    }
    return *last < e ? *last : e;
}

/* Send every row not sent yet whose tick is at most e: one frame per
 * step, with that step's rows of every file. */
static int s_send_until(tmi_replay_t *rp, int64_t e)
{
    for (;;) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < rp->n; i++) {
            const tmi_rfile_t *rf = &rp->files[i];
            if (rf->sent < rf->f->rows && s_tick_of(rp, rf, rf->sent) < next) {
                next = s_tick_of(rp, rf, rf->sent);
            }
        }
        if (next > e) {
            return 0;
        }
        for (size_t i = 0; i < rp->n; i++) {
            tmi_rfile_t *rf = &rp->files[i];
            if (rf->sent < rf->f->rows && s_tick_of(rp, rf, rf->sent) == next) {
                int rc = tmi_replay_queue_row(rp, rf);
                if (rc != 0) {
                    return rc;
                }
            }
        }
        int rc = tmi_replay_flush(rp);
        if (rc != 0) {
            return rc;
        }
    }
}

/* A line every tenth of the way. */
static void s_progress(tmi_replay_t *rp, int64_t first, int64_t last,
                       int *shown)
{
    if (last <= first || rp->o->log == NULL) {
        return;
    }
    int pct = (int)(100 * ((int64_t)rp->tick - first) / (last - first));
    if (pct / 10 > *shown / 10) {
        *shown = pct;
        tmi_replay_log(rp, "%d%% (tick %" PRIu64 ", %" PRIu64 " samples)", pct,
                       rp->tick, rp->sent);
    }
}

int tmi_replay_paused(tmi_replay_t *rp)
{
    int rc = tmi_replay_probe(rp);
    rc = rc == 0 ? tmi_replay_spawn_all(rp) : rc;
    rc = rc == 0 ? s_discover(rp) : rc;
    int64_t first = (int64_t)rp->tick;
    int shown = 0;
    while (rc == 0) {
        int64_t last;
        if (s_stopped(rp)) {
            return tmi_replay_fail(rp, TM_ERR_CLOSED, "interrupted");
        }
        rc = s_calibrations_due(rp);
        int64_t e = s_chunk_end(rp, &last);
        if (rc != 0 || e <= (int64_t)rp->tick) {
            break;
        }
        rc = s_send_until(rp, e);
        rc = rc == 0 ? tmi_replay_wait_received(rp) : rc;
        rc = rc == 0 ? tmi_replay_run_ticks(rp, (uint64_t)e - rp->tick) : rc;
        rc = rc == 0 ? s_wait_outputs(rp, rp->tick) : rc;
        rc = rc == 0 ? tmi_replay_retire(rp) : rc;
        s_progress(rp, first, last, &shown);
    }
    return rc;
}

/* ---- realtime ------------------------------------------------------------ */

/* A twin whose output of row window-1 was seen is calibrated at once. */
static int s_rt_calibrations(tmi_replay_t *rp)
{
    for (size_t i = 0; i < rp->n; i++) {
        tmi_rfile_t *rf = &rp->files[i];
        if (s_wants_calibration(rp, rf) && rf->seen &&
            rf->max_ts >= rf->ts[rp->o->window - 1]) {
            /* from row 0 to the newest step seen: rows after row
             * window-1 too if the outputs came late */
            uint64_t steps =
                (rf->max_ts - rf->ts[0]) / (uint64_t)rp->row_ns + 1;
            int rc = tmi_replay_calibrate(rp, rf, steps);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* Read outputs and calibrate until the wall clock reaches due. */
static int s_rt_until(tmi_replay_t *rp, double due)
{
    for (;;) {
        int rc = s_rt_calibrations(rp);
        rc = rc == 0 ? tmi_replay_retire(rp) : rc;
        if (rc != 0) {
            return rc;
        }
        if (s_stopped(rp)) {
            return tmi_replay_fail(rp, TM_ERR_CLOSED, "interrupted");
        }
        double left = due - tm_time_now();
        if (left <= 0) {
            return 0;
        }
        int ms = (int)(left * 1000) + 1;
        tmi_replay_poll(rp, ms < S_SLICE_MS ? ms : S_SLICE_MS);
    }
}

/* true when every file's last row has an output (or a later step has). */
static bool s_rt_done(const tmi_replay_t *rp)
{
    for (size_t i = 0; i < rp->n; i++) {
        const tmi_rfile_t *rf = &rp->files[i];
        if (rf->max_ts < rf->ts[rf->f->rows - 1]) {
            return false;
        }
    }
    return true;
}

static int s_rt_start(tmi_replay_t *rp)
{
    int rc = tmi_replay_probe(rp);
    rc = rc == 0 ? tmi_replay_spawn_all(rp) : rc;
    rc = rc == 0 ? tmi_replay_clock(rp, "realtime") : rc;
    size_t samples = rp->n * TM_SKAB_SIGNALS;
    tmi_replay_log(rp,
                   "realtime: %g rows/s per file, %zu files: %.0f samples/s; "
                   "every twin step must be done within h = %g s",
                   rp->o->speed, rp->n, (double)samples * rp->o->speed, rp->h);
    return rc;
}

int tmi_replay_realtime(tmi_replay_t *rp)
{
    int rc = s_rt_start(rp);
    double row_s = (double)rp->row_ns / 1e9;
    double t0 = tm_time_now() + S_START_S;
    while (rc == 0) {
        int64_t s = INT64_MAX;
        for (size_t i = 0; i < rp->n; i++) {
            const tmi_rfile_t *rf = &rp->files[i];
            if (rf->sent < rf->f->rows && rf->step[rf->sent] < s) {
                s = rf->step[rf->sent];
            }
        }
        if (s == INT64_MAX) {
            break;
        }
        rc = s_rt_until(rp, t0 + (double)s * row_s);
        for (size_t i = 0; rc == 0 && i < rp->n; i++) {
            tmi_rfile_t *rf = &rp->files[i];
            if (rf->sent < rf->f->rows && rf->step[rf->sent] == s) {
                rc = tmi_replay_queue_row(rp, rf);
            }
        }
        rc = rc == 0 ? tmi_replay_flush(rp) : rc;
    }
    /* the last rows: their steps run up to the node's window later */
    double deadline = tm_time_now() + rp->timeout_ms / 1000.0;
    while (rc == 0 && !s_rt_done(rp) && tm_time_now() < deadline) {
        rc = s_rt_until(rp, tm_time_now() + S_SLICE_MS / 1000.0);
    }
    return rc == 0 ? tmi_replay_clock(rp, "pause") : rc;
}
