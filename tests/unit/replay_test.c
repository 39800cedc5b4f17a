/* replay_test: the replay's drivers end to end against a fake node
 * (replay_fake.h) through real sockets: every row of every file reaches a
 * step (none late, none early, gaps in a file and steps of several ticks
 * included), each twin is calibrated after exactly `window` stepped rows
 * on the steps they span, every row gets its own output back by time, the
 * traced values are the twin's, the twins step the same ticks run after
 * run, and what the replay leaves behind on a node (no twins, the clock as
 * it was; also when interrupted). Then the refusals: an id in use, a tick
 * step that does not divide a row, a node without telemetry, no node at
 * all, a node binary that exits at once; and a realtime replay on the
 * fake's own clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay_fake.h"
#include "tm_nodeproc.h"
#include "tm_replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_HEADER                                                               \
    "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;"           \
    "Temperature;Thermocouple;Voltage;Volume Flow RateRMS"

/* A file to generate: rows 1 s apart except after row gap_after (gap s
 * more), anomalous rows [a0, a1) with a low flow. */
typedef struct {
    const char *rel;
    size_t rows;
    bool labelled;
    size_t gap_after[2];
    int gap_s[2];
    size_t a0, a1;
} s_spec_t;

typedef struct {
    char dir[512];
    tm_skab_file_t *files[8];
    size_t n;
    char err[2048];
    tm_replay_result_t res;
    fk_node_t fk;
} s_fx_t;

static void s_write_spec(const char *dir, const s_spec_t *sp)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, sp->rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s%s\r\n", S_HEADER,
            sp->labelled ? ";anomaly;changepoint" : "");
    int64_t t = 1583748873LL * 1000000000LL;
    for (size_t r = 0; r < sp->rows; r++) {
        char ts[32];
        bool anom = r >= sp->a0 && r < sp->a1;
        tm_skab_format_time(t, ts, sizeof ts);
        fprintf(f, "%s;%.6f;0.04;1.3;0.4;79;26;233;%g", ts, 0.02 + r * 1e-6,
                anom ? 10.0 : 32.0);
        if (sp->labelled) {
            fprintf(f, ";%d;%d", anom, anom && r == sp->a0);
        }
        fprintf(f, "\r\n");
        t += 1000000000LL;
        for (int g = 0; g < 2; g++) {
            if (sp->gap_s[g] > 0 && r == sp->gap_after[g]) {
                t += sp->gap_s[g] * 1000000000LL;
            }
        }
    }
    fclose(f);
}

static void s_setup_files(s_fx_t *fx, const s_spec_t *specs, size_t n)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    base = base != NULL && base[0] ? base : "/tmp";
    mkdir(base, 0700);
    snprintf(fx->dir, sizeof fx->dir, "%s/replay_test.XXXXXX", base);
    assert_non_null(mkdtemp(fx->dir));
    for (size_t i = 0; i < n; i++) {
        s_write_spec(fx->dir, &specs[i]);
    }
    char **paths = NULL;
    assert_int_equal(
        tm_skab_list(fx->dir, &paths, &fx->n, fx->err, sizeof fx->err), 0);
    assert_int_equal(fx->n, n);
    for (size_t i = 0; i < fx->n; i++) {
        assert_int_equal(tm_skab_load(fx->dir, paths[i], &fx->files[i], fx->err,
                                      sizeof fx->err),
                         0);
    }
    assert_int_equal(
        tm_skab_assign_ids(fx->files, fx->n, fx->err, sizeof fx->err), 0);
    tm_skab_list_free(paths, fx->n);
}

static void s_teardown(s_fx_t *fx, const s_spec_t *specs)
{
    char path[1024];
    tm_replay_result_free(&fx->res);
    for (size_t i = 0; i < fx->n; i++) {
        tm_skab_file_destroy(&fx->files[i]);
        snprintf(path, sizeof path, "%s/%s", fx->dir, specs[i].rel);
        assert_int_equal(remove(path), 0);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        if (strcmp(path, fx->dir) != 0) {
            rmdir(path); /* shared folders: the last file removes it */
        }
    }
    assert_int_equal(rmdir(fx->dir), 0);
}

static tm_replay_opts_t s_opts(const s_fx_t *fx, uint32_t window)
{
    tm_replay_opts_t o;
    memset(&o, 0, sizeof o);
    o.console = fx->fk.console;
    o.window = window;
    o.trace = -1;
    o.timeout_ms = 5000;
    o.log = getenv("TM_TEST_VERBOSE") ? stderr : NULL;
    return o;
}

static size_t s_index(const s_fx_t *fx, const char *rel)
{
    for (size_t i = 0; i < fx->n; i++) {
        if (strcmp(fx->files[i]->path, rel) == 0) {
            return i;
        }
    }
    fail_msg("no file %s", rel);
    return 0;
}

/* Every row has its output, and the fake's alarm (low flow) is the
 * row's label. */
static void s_check_rows(const s_fx_t *fx)
{
    for (size_t i = 0; i < fx->n; i++) {
        const tm_skab_file_t *f = fx->files[i];
        assert_int_equal(fx->res.files[i].missing, 0);
        for (size_t r = 0; r < f->rows; r++) {
            if (fx->res.files[i].alarm[r] != (f->anomaly[r] ? 1 : 0)) {
                fail_msg("%s row %zu: alarm %d, label %d", f->path, r,
                         fx->res.files[i].alarm[r], f->anomaly[r]);
            }
        }
    }
}

static const s_spec_t s_paused_specs[] = {
    /* a gap of 2 s and one of 76 s (more than the horizon: nothing may
     * be sent that far ahead) */
    {"valve1/0.csv", 450, true, {100, 300}, {1, 75}, 410, 430},
    {"valve1/1.csv", 401, true, {0, 0}, {0, 0}, 400, 401},
    {"anomaly-free/anomaly-free.csv", 120, false, {5, 0}, {1, 0}, 0, 0},
};

static void test_paused(void **state)
{
    (void)state;
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    s_setup_files(fx, s_paused_specs, 3);
    fx->fk.window_ticks = 3;
    fx->fk.wildcard = true; /* stats name a wildcard host */
    snprintf(fx->fk.clock, sizeof fx->fk.clock, "fast");
    fk_start(&fx->fk);
    size_t v0 = s_index(fx, "valve1/0.csv");
    tm_replay_opts_t o = s_opts(fx, 400);
    o.trace = (int)v0;
    int rc =
        tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    fk_stop(&fx->fk);
    if (rc != 0) {
        fail_msg("replay: %s", fx->err);
    }
    s_check_rows(fx);
    size_t rows = 450 + 401 + 120;
    /* and one row to the probe twin */
    assert_true(fx->res.sent == (rows + 1) * TM_SKAB_SIGNALS);
    assert_true(fx->res.received == fx->res.sent);
    assert_true(fx->res.accepted == fx->res.sent);
    assert_true(fx->res.rejected == 0);
    assert_string_equal(fx->res.reasons, "");
    assert_true(fx->fk.late == 0 && fx->fk.early == 0);
    assert_true(fx->res.malformed == 0);
    assert_true(fx->res.h == 1.0 && fx->res.period == 1);
    /* calibrated after exactly 400 stepped rows, used from row 400 on */
    for (size_t i = 0; i < fx->n; i++) {
        const fk_asset_t *a = NULL;
        for (size_t j = 0; j < FK_ASSETS; j++) {
            if (strcmp(fx->fk.assets[j].id, fx->files[i]->id) == 0) {
                a = &fx->fk.assets[j];
            }
        }
        assert_non_null(a);
        assert_int_equal(a->rows_stepped, fx->files[i]->rows);
        bool calib = fx->files[i]->rows > 400;
        assert_int_equal(a->rows_at_calibration, calib ? 400 : -1);
        /* the window spans rows 0..399: 400 steps, and 76 more in
         * valve1/0.csv (gaps of 1 s and 75 s) */
        int64_t span = strcmp(fx->files[i]->path, "valve1/0.csv") ? 400 : 476;
        assert_int_equal(a->calib_window, calib ? span : 0);
        assert_int_equal(fx->res.files[i].params, calib ? 1 : 0);
        assert_int_equal(fx->res.files[i].calib_row, calib ? 400 : -1);
    }
    /* the trace holds the twin's values of each row */
    const tm_replay_trace_t *t = fx->res.trace;
    assert_non_null(t);
    assert_true(t[0].have && t[449].have);
    assert_true(t[7].measured[0] == 0.020007);
    assert_true(fabs(t[7].predicted[0] - 0.520007) < 1e-12);
    assert_true(t[7].sd[TM_SKAB_SIGNALS - 1] == 0.25);
    assert_true(t[415].alarm && t[415].score == 2.0 && t[415].params == 1);
    assert_true(!t[399].alarm && t[399].params == 0);
    /* the node as it was: no twins, its clock back */
    assert_int_equal(fk_live(&fx->fk), 0);
    assert_string_equal(fx->fk.clock, "fast");
    s_teardown(fx, s_paused_specs);
    free(fx);
}

static const s_spec_t s_period_specs[] = {
    {"a.csv", 30, true, {12, 0}, {3, 0}, 20, 25},
};

/* h = 0.25 s: a twin steps every 4 ticks, a row every step; the anchor is
 * 10 ticks on, so row 0's step is found after several steps. Twice: the
 * twin steps the same ticks after its spawn both times (the probe, not
 * the twin, waits for the subscription). */
static void test_paused_period(void **state)
{
    (void)state;
    int64_t k0[2];
    uint64_t end[2];
    for (int run = 0; run < 2; run++) {
        s_fx_t *fx = calloc(1, sizeof *fx);
        assert_non_null(fx);
        s_setup_files(fx, s_period_specs, 1);
        fx->fk.h = 0.25;
        fx->fk.window_ticks = 10;
        fk_start(&fx->fk);
        tm_replay_opts_t o = s_opts(fx, 10);
        int rc = tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err,
                               sizeof fx->err);
        fk_stop(&fx->fk);
        if (rc != 0) {
            fail_msg("replay: %s", fx->err);
        }
        assert_int_equal(fx->res.period, 4);
        s_check_rows(fx);
        const fk_asset_t *a = &fx->fk.assets[0]; /* the probe's slot, again */
        assert_string_equal(a->id, "skab-a");
        assert_int_equal(a->rows_at_calibration, 10);
        assert_int_equal(fx->res.files[0].calib_row, 10);
        assert_true(fx->fk.late == 0 && fx->fk.early == 0);
        assert_true(fx->res.unmatched > 0); /* steps before row 0, the gap */
        assert_string_equal(fx->fk.clock, "paused");
        assert_int_equal(fk_live(&fx->fk), 0);
        k0[run] = a->k0 - (int64_t)a->spawn_tick;
        end[run] = fx->fk.tick - a->spawn_tick;
        s_teardown(fx, s_period_specs);
        free(fx);
    }
    assert_true(k0[0] == k0[1]);
    assert_true(end[0] == end[1]);
}

static const s_spec_t s_small_specs[] = {
    {"x/a.csv", 20, true, {0, 0}, {0, 0}, 0, 0},
    {"x/b.csv", 20, true, {0, 0}, {0, 0}, 0, 0},
};

static void test_refusals(void **state)
{
    (void)state;
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    s_setup_files(fx, s_small_specs, 2);
    /* an id in use: the node's refusal, and the twin spawned before it is
     * killed again */
    fx->fk.assets[0].live = true;
    snprintf(fx->fk.assets[0].id, sizeof fx->fk.assets[0].id, "skab-x-b");
    fx->fk.assets[0].period = 1;
    fk_start(&fx->fk);
    tm_replay_opts_t o = s_opts(fx, 400);
    int rc =
        tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    assert_int_equal(rc, TM_ERR_DUPLICATE_ACTOR);
    assert_non_null(strstr(fx->err, "'spawn skab-x-b --model pumpmon"));
    assert_non_null(strstr(fx->err, "actor id already exists"));
    tm_replay_result_free(&fx->res);
    fk_stop(&fx->fk);
    assert_int_equal(fk_live(&fx->fk), 1); /* only the one it had */

    /* h = 0.3 s: 1 s is no whole number of ticks */
    memset(&fx->fk, 0, sizeof fx->fk);
    fx->fk.h = 0.3;
    fk_start(&fx->fk);
    rc = tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    fk_stop(&fx->fk);
    assert_int_equal(rc, TM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fx->err, "h = 0.3 s does not divide"));
    tm_replay_result_free(&fx->res);

    /* a node without telemetry */
    memset(&fx->fk, 0, sizeof fx->fk);
    fx->fk.no_telemetry = true;
    fk_start(&fx->fk);
    rc = tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    fk_stop(&fx->fk);
    assert_int_equal(rc, TM_ERR_UNSUPPORTED);
    assert_non_null(strstr(fx->err, "no telemetry or outputs endpoint"));
    tm_replay_result_free(&fx->res);

    /* nobody there (the fake's port, closed) */
    o.timeout_ms = 300;
    rc = tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    assert_int_equal(rc, TM_ERR_NODE_DOWN);
    assert_non_null(strstr(fx->err, "no reply to 'stats'"));
    tm_replay_result_free(&fx->res);

    /* bad speeds */
    o.speed = 3;
    rc = tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    assert_int_equal(rc, TM_ERR_INVAL);
    assert_non_null(strstr(fx->err, "not a whole number of ns"));
    s_teardown(fx, s_small_specs);
    free(fx);
}

/* Ctrl-C in the middle of a run: the replay stops with TM_ERR_CLOSED and
 * still leaves the node as it found it. */
static void test_interrupted(void **state)
{
    (void)state;
    static volatile sig_atomic_t stop;
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    s_setup_files(fx, s_small_specs, 2);
    snprintf(fx->fk.clock, sizeof fx->fk.clock, "fast");
    stop = 0;
    fx->fk.interrupt = &stop;
    fx->fk.interrupt_tick = 8;
    fk_start(&fx->fk);
    tm_replay_opts_t o = s_opts(fx, 400);
    o.stop = &stop;
    int rc =
        tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    fk_stop(&fx->fk);
    assert_int_equal(rc, TM_ERR_CLOSED);
    assert_non_null(strstr(fx->err, "interrupted"));
    assert_int_equal(fk_live(&fx->fk), 0);
    assert_string_equal(fx->fk.clock, "fast");
    s_teardown(fx, s_small_specs);
    free(fx);
}

/* A node of its own: a binary that is not there, or exits at once. */
static void test_own_node(void **state)
{
    (void)state;
    tm_nodeproc_opts_t no;
    tm_nodeproc_t *p = NULL;
    char err[1024];
    memset(&no, 0, sizeof no);
    no.tick = "1";
    no.clock = "paused";
    no.binary = "/nonexistent/twinmesh-node";
    assert_int_equal(tm_nodeproc_start(&p, &no, err, sizeof err),
                     TM_ERR_NOT_FOUND);
    assert_null(p);
    assert_non_null(strstr(err, "/nonexistent/twinmesh-node: not an"));
    no.binary = "/bin/false";
    no.ready_ms = 5000;
    assert_int_equal(tm_nodeproc_start(&p, &no, err, sizeof err),
                     TM_ERR_CLOSED);
    assert_null(p);
    assert_non_null(strstr(err, "exited during start-up"));
    assert_int_equal(tm_nodeproc_stop(&p), 0); /* NULL is fine */
}

static const s_spec_t s_rt_specs[] = {
    {"rt/a.csv", 150, true, {40, 0}, {1, 0}, 120, 140},
};

/* Realtime: the fake's clock runs (h = 10 ms), rows go at 100 per second;
 * the anchor is 200 ms ahead, room for a loaded machine. */
static void test_realtime(void **state)
{
    (void)state;
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    s_setup_files(fx, s_rt_specs, 1);
    fx->fk.h = 0.01;
    fx->fk.window_ticks = 20;
    fk_start(&fx->fk);
    tm_replay_opts_t o = s_opts(fx, 100);
    o.speed = 100;
    int rc =
        tm_replay_run(fx->files, fx->n, &o, &fx->res, fx->err, sizeof fx->err);
    fk_stop(&fx->fk);
    if (rc != 0) {
        fail_msg("replay: %s", fx->err);
    }
    assert_int_equal(fx->res.period, 1);
    /* timing on a shared machine: most rows, not all, are asserted */
    assert_true(fx->res.files[0].missing <= 15);
    assert_int_equal(fx->res.files[0].params, 1);
    assert_true(fx->res.files[0].calib_row >= 100);
    assert_true(fx->res.sent == 151 * TM_SKAB_SIGNALS);
    assert_int_equal(fk_live(&fx->fk), 0);
    assert_string_equal(fx->fk.clock, "paused");
    size_t alarms = 0;
    for (size_t r = 120; r < 140; r++) {
        alarms += fx->res.files[0].alarm[r] == 1;
    }
    assert_true(alarms >= 10);
    s_teardown(fx, s_rt_specs);
    free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused),   cmocka_unit_test(test_paused_period),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_interrupted),
        cmocka_unit_test(test_own_node), cmocka_unit_test(test_realtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
