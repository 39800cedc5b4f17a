/* tm_skab: the CSV files of the Skoltech Anomaly Benchmark (SKAB), read
 * for replay through a node (twinmesh-replay).
 *
 * A file is `;`-separated with a header line: `datetime` (YYYY-MM-DD
 * hh:mm:ss, read as UTC), the eight sensor columns of tm_skab_signals (any
 * order), and optionally the labels `anomaly` and `changepoint` (0 or 1;
 * a file without them, such as the anomaly-free one, has every label 0).
 * Other columns are ignored. Blank lines are skipped and do not count as
 * rows (row i is the i-th data row, 0-based, as the benchmark counts);
 * CRLF line ends and a UTF-8 byte order mark are accepted. Times must
 * increase strictly from row to row: a replay maps each twin output back
 * to its row by time.
 *
 * Every error message names the file and line ("valve1/3.csv:17: ...").
 * Nothing here is thread-safe; a loaded file is immutable.
 */
#ifndef TM_SKAB_H_INCLUDED
#define TM_SKAB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_SKAB_SIGNALS 8
#define TM_SKAB_ID_MAX  64 /* an actor id: 1 to 64 of [A-Za-z0-9_-] */
/* A file's size limit: the benchmark's largest file is under 1 MB. */
#define TM_SKAB_FILE_MAX (256u * 1024u * 1024u)

/* One sensor column and the signal of the pumpmon data contract it feeds
 * (docs/models.md), with the unit its values are in. */
typedef struct {
    const char *column;
    const char *signal;
    const char *unit;
} tm_skab_signal_t;

/* In the order of the values of a row (tm_skab_file_t.values). */
extern const tm_skab_signal_t tm_skab_signals[TM_SKAB_SIGNALS];

typedef struct {
    char *path;                  /* as given to tm_skab_parse (owned) */
    char id[TM_SKAB_ID_MAX + 1]; /* asset id (tm_skab_assign_ids) */
    size_t rows;                 /* data rows */
    int64_t *ts;                 /* ns since the epoch, strictly rising */
    double *values;              /* rows x TM_SKAB_SIGNALS, row-major */
    uint8_t *anomaly;            /* label per row, 0 or 1 */
    uint8_t *changepoint;        /* label per row, 0 or 1 */
    bool labelled;               /* the file has an `anomaly` column */
} tm_skab_file_t;

/* Parse len bytes of CSV text; name is the file's name in messages and
 * becomes out->path. On success *out is the caller's (tm_skab_file_
 * destroy). Errors: TM_ERR_INVAL (a bad header or row: err says which
 * line and why; a file without data rows is an error too), TM_ERR_NOMEM.
 */
int tm_skab_parse(const char *text, size_t len, const char *name,
                  tm_skab_file_t **out, char *err, size_t errlen);

/* Read and parse dir/relpath (name in messages and path: relpath).
 * Errors: TM_ERR_IO (cannot read; err has strerror), TM_ERR_TOO_BIG (over
 * TM_SKAB_FILE_MAX), and those of tm_skab_parse. */
int tm_skab_load(const char *dir, const char *relpath, tm_skab_file_t **out,
                 char *err, size_t errlen);

/* NULL-safe, sets *p to NULL. */
void tm_skab_file_destroy(tm_skab_file_t **p);

/* Every file under dir (subfolders included, to a depth of 32; entries
 * whose name starts with '.' are skipped) whose name ends in ".csv", as
 * paths relative to dir with '/' between folders, sorted by strcmp so a
 * replay is the same on every machine. *paths (count strings) is the
 * caller's: tm_skab_list_free. Errors: TM_ERR_NOT_FOUND (dir missing, or
 * no CSV file under it), TM_ERR_IO (a folder that cannot be read),
 * TM_ERR_NOMEM; err says which. */
int tm_skab_list(const char *dir, char ***paths, size_t *count, char *err,
                 size_t errlen);
void tm_skab_list_free(char **paths, size_t count);

/* The asset id of a file: "skab-" and its relative path without ".csv",
 * every character other than [A-Za-z0-9_-] replaced by '-'
 * ("valve1/0.csv" -> "skab-valve1-0"). Errors: TM_ERR_TOO_BIG (over
 * TM_SKAB_ID_MAX characters, or cap too small), TM_ERR_INVAL (empty). */
int tm_skab_asset_id(const char *relpath, char *out, size_t cap);

/* Give each file its id; two files that map to one id (e.g. "a/b.csv"
 * and "a-b.csv") are an error. Errors: TM_ERR_EXISTS (err names both
 * files), and those of tm_skab_asset_id (err names the file). */
int tm_skab_assign_ids(tm_skab_file_t **files, size_t n, char *err,
                       size_t errlen);

/* "YYYY-MM-DD hh:mm:ss" (exactly len bytes, UTC) to ns since the epoch,
 * and back (buf of at least 20 bytes). Years 1970 to 9999. Errors:
 * TM_ERR_INVAL (another format or a date that does not exist). */
int tm_skab_parse_time(const char *s, size_t len, int64_t *ns);
void tm_skab_format_time(int64_t ns, char *buf, size_t cap);

#endif
