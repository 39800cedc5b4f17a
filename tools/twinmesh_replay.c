/* twinmesh-replay: replay SKAB benchmark files through a twinmesh node and
 * score the twins' alarms.
 *
 *   twinmesh-replay --skab DIR [-c ENDPOINT] [--out FILE] [--speed X]
 *                   [--trace FILE --trace-asset NAME] [--goal F1,FAR]
 *                   [-t SECONDS] [-q]
 *
 * Exit status: 0 done (whatever the scores, unless --goal), 1 an error (bad
 * CSV, node unreachable or refusing, ...), 2 bad usage, 3 the pooled scores
 * miss --goal.
 */
#include "tm_err.h"
#include "tm_replay.h"
#include "tm_score.h"
#include "tm_skab.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EXIT_FAILED 1
#define S_EXIT_USAGE  2
#define S_EXIT_GOAL   3

static volatile sig_atomic_t s_stop;

typedef struct {
    const char *dir;
    const char *console;
    const char *out;
    const char *trace;
    const char *trace_asset;
    double speed;
    double timeout_s;
    double goal_f1;  /* --goal: pooled F1 at least this */
    double goal_far; /* and FAR (%) at most this; < 0: no goal */
    bool quiet;
} s_args_t;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: twinmesh-replay --skab DIR [-c ENDPOINT] [--out FILE] "
            "[--speed X]\n"
            "                       [--trace FILE --trace-asset NAME] "
            "[--goal F1,FAR]\n"
            "                       [-t SECONDS] [-q]\n\n"
            "Replays every .csv file under DIR (SKAB format, subfolders "
            "included)\nthrough a node: one pumpmon twin per file, each row "
            "sent as samples to\nthe node's telemetry endpoint, each twin "
            "calibrated on its first 400\nrows, alarms read from the outputs "
            "endpoint; prints TP, FP, FN, TN, F1,\nFAR and MAR over the rows "
            "after the first 400 of every file.\n\n"
            "  --skab DIR          the benchmark's files\n"
            "  -c, --connect EP    a running node's console (default: start a "
            "node,\n                      twinmesh-node beside this program, "
            "in ../nodes/ or on\n                      PATH, or "
            "$TWINMESH_NODE)\n"
            "  --out FILE          per-row predictions: file,row,alarm\n"
            "  --speed X           realtime: the node's clock runs, rows go at "
            "X per\n                      second per file (default: paused "
            "clock, stepped by\n                      the replay)\n"
            "  --trace FILE        per-row measured and predicted values of "
            "one twin\n"
            "  --trace-asset NAME  its file (path under DIR) or asset id\n"
            "  --goal F1,FAR       exit 3 unless the pooled F1 is at least F1 "
            "and the\n                      FAR at most FAR %%\n"
            "  -t, --timeout S     wait this long for the node each time "
            "(default 10)\n"
            "  -q, --quiet         no progress lines\n");
}

static int s_number(const char *s, double *v)
{
    char *end = NULL;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*v) ? 0 : -1;
}

/* --goal F1,FAR */
static int s_goal(const char *arg, s_args_t *a)
{
    char f1[64];
    const char *comma = strchr(arg, ',');
    size_t len = comma != NULL ? (size_t)(comma - arg) : 0;
    if (comma == NULL || len == 0 || len >= sizeof f1) {
        return -1;
    }
    memcpy(f1, arg, len);
    f1[len] = '\0';
    if (s_number(f1, &a->goal_f1) != 0 ||
        s_number(comma + 1, &a->goal_far) != 0 || a->goal_f1 < 0 ||
        a->goal_f1 > 1 || a->goal_far < 0 || a->goal_far > 100) {
        a->goal_far = -1.0;
        return -1;
    }
    return 0;
}

static int s_parse_args(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {
        {"skab", required_argument, NULL, 's'},
        {"connect", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"speed", required_argument, NULL, 'x'},
        {"trace", required_argument, NULL, 'r'},
        {"trace-asset", required_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"goal", required_argument, NULL, 'g'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    memset(a, 0, sizeof *a);
    a->goal_far = -1.0;
    while ((ch = getopt_long(argc, argv, "c:t:qh", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            a->dir = optarg;
            break;
        case 'c':
            a->console = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'x':
            if (s_number(optarg, &a->speed) != 0 || !(a->speed > 0)) {
                fprintf(stderr,
                        "twinmesh-replay: --speed %s: not a "
                        "positive number of rows per second\n",
                        optarg);
                return S_EXIT_USAGE;
            }
            break;
        case 'r':
            a->trace = optarg;
            break;
        case 'a':
            a->trace_asset = optarg;
            break;
        case 't':
            if (s_number(optarg, &a->timeout_s) != 0 || a->timeout_s <= 0 ||
                a->timeout_s > 3600) {
                fprintf(stderr,
                        "twinmesh-replay: -t %s: seconds in (0, "
                        "3600]\n",
                        optarg);
                return S_EXIT_USAGE;
            }
            break;
        case 'g':
            if (s_goal(optarg, a) != 0) {
                fprintf(stderr,
                        "twinmesh-replay: --goal %s: F1,FAR with F1 in [0, "
                        "1] and FAR in [0, 100] %%\n",
                        optarg);
                return S_EXIT_USAGE;
            }
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        default:
            s_usage(stderr);
            return S_EXIT_USAGE;
        }
    }
    if (optind < argc || a->dir == NULL) {
        fprintf(stderr, "twinmesh-replay: %s\n",
                a->dir == NULL ? "--skab DIR is required"
                               : "unexpected argument");
        s_usage(stderr);
        return S_EXIT_USAGE;
    }
    if ((a->trace == NULL) != (a->trace_asset == NULL)) {
        fprintf(stderr, "twinmesh-replay: --trace and --trace-asset go "
                        "together\n");
        return S_EXIT_USAGE;
    }
    return 0;
}

/* ---- files --------------------------------------------------------------- */

static void s_free_files(tm_skab_file_t **files, size_t n)
{
    for (size_t i = 0; files != NULL && i < n; i++) {
        tm_skab_file_destroy(&files[i]);
    }
    free(files);
}

static int s_load(const char *dir, tm_skab_file_t ***out, size_t *n)
{
    char err[1024];
    char **paths = NULL;
    size_t count = 0;
    int rc = tm_skab_list(dir, &paths, &count, err, sizeof err);
    tm_skab_file_t **files = rc == 0 ? calloc(count, sizeof *files) : NULL;
    if (rc == 0 && files == NULL) {
        snprintf(err, sizeof err, "out of memory");
        rc = TM_ERR_NOMEM;
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = tm_skab_load(dir, paths[i], &files[i], err, sizeof err);
    }
    if (rc == 0) {
        rc = tm_skab_assign_ids(files, count, err, sizeof err);
    }
    tm_skab_list_free(paths, count);
    if (rc != 0) {
        fprintf(stderr, "twinmesh-replay: %s\n", err);
        s_free_files(files, count);
        return rc;
    }
    *out = files;
    *n = count;
    return 0;
}

static int s_trace_index(const s_args_t *a, tm_skab_file_t **files, size_t n)
{
    if (a->trace_asset == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(files[i]->id, a->trace_asset) == 0 ||
            strcmp(files[i]->path, a->trace_asset) == 0) {
            return (int)i;
        }
    }
    return -2;
}

/* ---- outputs ------------------------------------------------------------- */

static int s_write_out(const char *path, tm_skab_file_t **files, size_t n,
                       const tm_replay_result_t *res)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "twinmesh-replay: %s: %s\n", path, strerror(errno));
        return S_EXIT_FAILED;
    }
    fprintf(f, "file,row,alarm\n");
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < files[i]->rows; r++) {
            fprintf(f, "%s,%zu,%d\n", files[i]->path, r,
                    res->files[i].alarm[r] > 0);
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "twinmesh-replay: %s: %s\n", path, strerror(errno));
        return S_EXIT_FAILED;
    }
    return 0;
}

static void s_num(FILE *f, double v)
{
    if (isfinite(v)) {
        fprintf(f, ",%.9g", v);
    } else {
        fputc(',', f);
    }
}

static int s_write_trace(const char *path, const tm_skab_file_t *file,
                         const tm_replay_trace_t *trace)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "twinmesh-replay: %s: %s\n", path, strerror(errno));
        return S_EXIT_FAILED;
    }
    fprintf(f, "row,ts");
    for (size_t k = 0; k < TM_SKAB_SIGNALS; k++) {
        const char *s = tm_skab_signals[k].signal;
        fprintf(f, ",%s_measured,%s_predicted,%s_sd", s, s, s);
    }
    fprintf(f, ",score,alarm,label,output\n");
    for (size_t r = 0; r < file->rows; r++) {
        char ts[32];
        const tm_replay_trace_t *t = &trace[r];
        tm_skab_format_time(file->ts[r], ts, sizeof ts);
        fprintf(f, "%zu,%s", r, ts);
        for (size_t k = 0; k < TM_SKAB_SIGNALS; k++) {
            s_num(f, t->have ? t->measured[k] : NAN);
            s_num(f, t->have ? t->predicted[k] : NAN);
            s_num(f, t->have ? t->sd[k] : NAN);
        }
        s_num(f, t->have ? t->score : NAN);
        fprintf(f, ",%d,%d,%d\n", t->have && t->alarm, file->anomaly[r],
                t->have);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "twinmesh-replay: %s: %s\n", path, strerror(errno));
        return S_EXIT_FAILED;
    }
    return 0;
}

/* ---- report -------------------------------------------------------------- */

/* v with prec decimals, or "-" when undefined (NaN). */
static const char *s_fmt(double v, int prec, char *buf, size_t cap)
{
    if (!isfinite(v)) {
        return "-";
    }
    snprintf(buf, cap, "%.*f", prec, v);
    return buf;
}

static void s_score_cell(double v, int prec)
{
    char buf[32];
    printf(" %7s", s_fmt(v, prec, buf, sizeof buf));
}

static void s_score_line(const char *name, int width, size_t rows,
                         const tm_score_t *s, size_t missing)
{
    printf("%-*s %7zu %7llu %6llu %6llu %6llu %6llu", width, name, rows,
           (unsigned long long)tm_score_total(s), (unsigned long long)s->tp,
           (unsigned long long)s->fp, (unsigned long long)s->fn,
           (unsigned long long)s->tn);
    s_score_cell(tm_score_f1(s), 3);
    s_score_cell(tm_score_far(s), 2);
    s_score_cell(tm_score_mar(s), 2);
    printf(" %7zu\n", missing);
}

static void s_calibration_notes(tm_skab_file_t **files, size_t n,
                                const tm_replay_result_t *res)
{
    for (size_t i = 0; i < n; i++) {
        const tm_replay_file_t *fr = &res->files[i];
        if (files[i]->rows <= TM_SCORE_SKIP_ROWS) {
            printf("note: %s has %zu rows: not calibrated, nothing scored\n",
                   files[i]->path, files[i]->rows);
        } else if (fr->params == 0) {
            printf("note: %s: the calibration reply named no parameter "
                   "set\n",
                   files[i]->path);
        } else if (fr->calib_row != TM_SCORE_SKIP_ROWS) {
            printf("note: %s: calibrated parameters (params@%llu) first "
                   "used at row %lld, not %d\n",
                   files[i]->path, (unsigned long long)fr->params,
                   (long long)fr->calib_row, TM_SCORE_SKIP_ROWS);
        }
    }
}

/* Prints the report; *pooled: the scores pooled over every file. */
static void s_report(tm_skab_file_t **files, size_t n,
                     const tm_replay_result_t *res, tm_score_t *pooled)
{
    int width = 6;
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(files[i]->path);
        width = w > width ? w : width;
    }
    printf("%-*s %7s %7s %6s %6s %6s %6s %7s %7s %7s %7s\n", width, "file",
           "rows", "scored", "TP", "FP", "FN", "TN", "F1", "FAR%", "MAR%",
           "missing");
    tm_score_t all = {0, 0, 0, 0};
    size_t rows = 0;
    size_t missing = 0;
    size_t missing_scored = 0;
    for (size_t i = 0; i < n; i++) {
        tm_score_t s = {0, 0, 0, 0};
        const tm_replay_file_t *fr = &res->files[i];
        tm_score_rows(&s, fr->alarm, files[i]->anomaly, files[i]->rows,
                      TM_SCORE_SKIP_ROWS);
        s_score_line(files[i]->path, width, files[i]->rows, &s, fr->missing);
        tm_score_merge(&all, &s);
        rows += files[i]->rows;
        missing += fr->missing;
        for (size_t r = TM_SCORE_SKIP_ROWS; r < files[i]->rows; r++) {
            missing_scored += fr->alarm[r] < 0;
        }
    }
    s_score_line("pooled", width, rows, &all, missing);
    char f1[32], far[32], mar[32];
    printf("pooled over %zu files: F1 %s, FAR %s %%, MAR %s %%\n", n,
           s_fmt(tm_score_f1(&all), 3, f1, sizeof f1),
           s_fmt(tm_score_far(&all), 2, far, sizeof far),
           s_fmt(tm_score_mar(&all), 2, mar, sizeof mar));
    printf("telemetry: %llu samples sent, %llu received, %llu accepted, "
           "%llu rejected%s%s%s\n",
           (unsigned long long)res->sent, (unsigned long long)res->received,
           (unsigned long long)res->accepted, (unsigned long long)res->rejected,
           res->reasons[0] ? " (" : "", res->reasons,
           res->reasons[0] ? ")" : "");
    printf("outputs: %llu read, %llu not of a row (the probe's, steps "
           "before row 0 or in a gap of a file), %llu malformed\n",
           (unsigned long long)res->outputs, (unsigned long long)res->unmatched,
           (unsigned long long)res->malformed);
    printf("rows without an output: %zu (%zu of them scored)\n", missing,
           missing_scored);
    s_calibration_notes(files, n, res);
    printf("node %s, h %g s, period %u ticks, %.1f s\n", res->console, res->h,
           res->period, res->elapsed_s);
    *pooled = all;
}

/* --goal: S_EXIT_GOAL, with the reason, when the pooled scores miss it (an
 * F1 or FAR that cannot be computed misses it too). */
static int s_check_goal(const s_args_t *a, const tm_score_t *all)
{
    double f1 = tm_score_f1(all);
    double far = tm_score_far(all);
    if (a->goal_far < 0) {
        return 0;
    }
    if (!(f1 >= a->goal_f1) || !(far <= a->goal_far)) {
        fflush(stdout);
        fprintf(stderr,
                "twinmesh-replay: goal not met: F1 %.3f (goal at least %g), "
                "FAR %.2f %% (goal at most %g %%)\n",
                f1, a->goal_f1, far, a->goal_far);
        return S_EXIT_GOAL;
    }
    printf("goal met: F1 %.3f >= %g, FAR %.2f %% <= %g %%\n", f1, a->goal_f1,
           far, a->goal_far);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int s_replay(const s_args_t *a, const char *self, tm_skab_file_t **files,
                    size_t n, int trace)
{
    char err[2048];
    tm_replay_result_t res;
    tm_replay_opts_t o;
    memset(&o, 0, sizeof o);
    o.console = a->console;
    o.self_exe = self;
    o.speed = a->speed;
    o.window = TM_SCORE_SKIP_ROWS;
    o.trace = trace;
    o.timeout_ms = (int)(a->timeout_s * 1000);
    o.stop = &s_stop;
    o.log = a->quiet ? NULL : stderr;
    int rc = tm_replay_run(files, n, &o, &res, err, sizeof err);
    int status = 0;
    if (rc != 0) {
        fprintf(stderr, "twinmesh-replay: %s\n", err);
        status = S_EXIT_FAILED;
    } else {
        tm_score_t all;
        s_report(files, n, &res, &all);
        if (a->out != NULL) {
            status = s_write_out(a->out, files, n, &res);
        }
        if (status == 0 && a->trace != NULL) {
            status = s_write_trace(a->trace, files[trace], res.trace);
        }
        if (status == 0) {
            status = s_check_goal(a, &all);
        }
    }
    tm_replay_result_free(&res);
    return status;
}

int main(int argc, char **argv)
{
    s_args_t a;
    int status = s_parse_args(argc, argv, &a);
    if (status != 0) {
        return status;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    tm_skab_file_t **files = NULL;
    size_t n = 0;
    if (s_load(a.dir, &files, &n) != 0) {
        return S_EXIT_FAILED;
    }
    int trace = s_trace_index(&a, files, n);
    if (trace == -2) {
        fprintf(stderr,
                "twinmesh-replay: --trace-asset %s: no such file under %s "
                "(give its path there or its id, skab-...)\n",
                a.trace_asset, a.dir);
        s_free_files(files, n);
        return S_EXIT_USAGE;
    }
    status = s_replay(&a, argv[0], files, n, trace);
    s_free_files(files, n);
    return status;
}
