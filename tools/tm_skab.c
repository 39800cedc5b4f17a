/* tm_skab: reading SKAB CSV files (header, rows, labels, ids, folders). */
#include "tm_skab.h"

#include "tm_err.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_FIELD_MAX    64 /* bytes of one numeric field */
#define S_DEPTH_MAX    32 /* folders below dir */
#define S_COL_TIME     TM_SKAB_SIGNALS
#define S_COL_ANOMALY  (TM_SKAB_SIGNALS + 1)
#define S_COL_CHANGE   (TM_SKAB_SIGNALS + 2)
#define S_COLS         (TM_SKAB_SIGNALS + 3)
#define S_NS_PER_S     1000000000LL
#define S_SECS_PER_DAY 86400LL

const tm_skab_signal_t tm_skab_signals[TM_SKAB_SIGNALS] = {
    {"Accelerometer1RMS", "vib1", "g"},
    {"Accelerometer2RMS", "vib2", "g"},
    {"Current", "current", "A"},
    {"Pressure", "pressure", "bar"},
    {"Temperature", "t_motor", "degC"},
    {"Thermocouple", "t_fluid", "degC"},
    {"Voltage", "voltage", "V"},
    {"Volume Flow RateRMS", "flow", "l/min"},
};

/* A parse in progress: the header's column of each known field (-1:
 * absent), the line being read and the arrays growing. */
typedef struct {
    const char *name;
    char *err;
    size_t errlen;
    size_t line; /* 1-based, of the line being read */
    int col[S_COLS];
    size_t ncols; /* fields of the header */
    tm_skab_file_t *f;
    size_t cap; /* rows allocated */
} s_parse_t;

/* A field of a line: [p, p + len), spaces around it trimmed. */
typedef struct {
    const char *p;
    size_t len;
} s_field_t;

static int s_fail(s_parse_t *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_fail(s_parse_t *ps, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (ps->line == 0) {
        snprintf(ps->err, ps->errlen, "%s: %s", ps->name, what);
    } else {
        snprintf(ps->err, ps->errlen, "%s:%zu: %s", ps->name, ps->line, what);
    }
    return TM_ERR_INVAL;
}

/* ---- time ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t s_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int s_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* n decimal digits at s into *v. */
static bool s_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

int tm_skab_parse_time(const char *s, size_t len, int64_t *ns)
{
    /* YYYY-MM-DD hh:mm:ss */
    int y, mo, d, h, mi, se;
    if (len != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
        s[13] != ':' || s[16] != ':' || !s_digits(s, 4, &y) ||
        !s_digits(s + 5, 2, &mo) || !s_digits(s + 8, 2, &d) ||
        !s_digits(s + 11, 2, &h) || !s_digits(s + 14, 2, &mi) ||
        !s_digits(s + 17, 2, &se)) {
        return TM_ERR_INVAL;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > s_days_in_month(y, mo) ||
        h > 23 || mi > 59 || se > 59) {
        return TM_ERR_INVAL;
    }
    int64_t secs = s_days_from_civil(y, mo, d) * S_SECS_PER_DAY + h * 3600LL +
                   mi * 60LL + se;
    *ns = secs * S_NS_PER_S;
    return 0;
}

void tm_skab_format_time(int64_t ns, char *buf, size_t cap)
{
    int64_t secs = ns / S_NS_PER_S;
    int64_t z = secs / S_SECS_PER_DAY + 719468;
    int64_t sod = secs % S_SECS_PER_DAY;
    /* civil_from_days */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", (int)y, (int)m, (int)d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

/* ---- lines and fields ---------------------------------------------------- */

/* Split [p, end) at ';' into at most max fields; returns the count, or
 * max + 1 when there are more. */
static size_t s_split(const char *p, const char *end, s_field_t *fields,
                      size_t max)
{
    size_t n = 0;
    for (;;) {
        const char *q = memchr(p, ';', (size_t)(end - p));
        const char *stop = q != NULL ? q : end;
        if (n == max) {
            return max + 1;
        }
        const char *a = p;
        const char *b = stop;
        while (a < b && (*a == ' ' || *a == '\t')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
            b--;
        }
        fields[n].p = a;
        fields[n].len = (size_t)(b - a);
        n++;
        if (q == NULL) {
            return n;
        }
        p = q + 1;
    }
}

static bool s_field_is(const s_field_t *f, const char *s)
{
    return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

/* A finite number filling the whole field. */
static bool s_number(const s_field_t *f, double *v)
{
    char buf[S_FIELD_MAX];
    if (f->len == 0 || f->len >= sizeof buf) {
        return false;
    }
    memcpy(buf, f->p, f->len);
    buf[f->len] = '\0';
    char *endp = NULL;
    errno = 0;
    *v = strtod(buf, &endp);
    return endp == buf + f->len && errno != ERANGE && isfinite(*v);
}

/* ---- header and rows ----------------------------------------------------- */

#define S_HEADER_MAX 256 /* fields of a header */

static int s_header(s_parse_t *ps, const char *p, const char *end)
{
    s_field_t fields[S_HEADER_MAX];
    size_t n = s_split(p, end, fields, S_HEADER_MAX);
    if (n > S_HEADER_MAX) {
        return s_fail(ps, "more than %d columns", S_HEADER_MAX);
    }
    static const char *const extra[3] = {"datetime", "anomaly", "changepoint"};
    for (size_t k = 0; k < S_COLS; k++) {
        ps->col[k] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < S_COLS; k++) {
            const char *want = k < TM_SKAB_SIGNALS ? tm_skab_signals[k].column
                                                   : extra[k - TM_SKAB_SIGNALS];
            if (!s_field_is(&fields[i], want)) {
                continue;
            }
            if (ps->col[k] >= 0) {
                return s_fail(ps, "column '%s' appears twice", want);
            }
            ps->col[k] = (int)i;
        }
    }
    for (size_t k = 0; k <= S_COL_TIME; k++) {
        if (ps->col[k] < 0) {
            return s_fail(ps,
                          "no column '%s' (a SKAB header: datetime;"
                          "Accelerometer1RMS;...;Volume Flow RateRMS, "
                          "separated by ';')",
                          k < TM_SKAB_SIGNALS ? tm_skab_signals[k].column
                                              : "datetime");
        }
    }
    ps->ncols = n;
    ps->f->labelled = ps->col[S_COL_ANOMALY] >= 0;
    return 0;
}

static int s_grow(s_parse_t *ps)
{
    tm_skab_file_t *f = ps->f;
    size_t cap = ps->cap ? ps->cap * 2 : 1024;
    int64_t *ts = realloc(f->ts, cap * sizeof *ts);
    if (ts != NULL) {
        f->ts = ts;
    }
    double *v = realloc(f->values, cap * TM_SKAB_SIGNALS * sizeof *v);
    if (v != NULL) {
        f->values = v;
    }
    uint8_t *a = realloc(f->anomaly, cap);
    if (a != NULL) {
        f->anomaly = a;
    }
    uint8_t *c = realloc(f->changepoint, cap);
    if (c != NULL) {
        f->changepoint = c;
    }
    if (ts == NULL || v == NULL || a == NULL || c == NULL) {
        return TM_ERR_NOMEM;
    }
    ps->cap = cap;
    return 0;
}

static int s_label(s_parse_t *ps, const s_field_t *fields, int col,
                   const char *what, uint8_t *out)
{
    double v = 0;
    *out = 0;
    if (col < 0) {
        return 0;
    }
    if (!s_number(&fields[col], &v) || (v != 0.0 && v != 1.0)) {
        return s_fail(ps, "%s label '%.*s' is not 0 or 1", what,
                      (int)(fields[col].len > 40 ? 40 : fields[col].len),
                      fields[col].p);
    }
    *out = (uint8_t)v;
    return 0;
}

static int s_row(s_parse_t *ps, const char *p, const char *end)
{
    s_field_t fields[S_HEADER_MAX];
    tm_skab_file_t *f = ps->f;
    size_t n = s_split(p, end, fields, ps->ncols);
    if (n != ps->ncols) {
        return s_fail(ps, "%s fields, the header has %zu",
                      n > ps->ncols ? "more" : "fewer", ps->ncols);
    }
    if (f->rows == ps->cap && s_grow(ps) != 0) {
        return TM_ERR_NOMEM;
    }
    size_t r = f->rows;
    const s_field_t *tf = &fields[ps->col[S_COL_TIME]];
    if (tm_skab_parse_time(tf->p, tf->len, &f->ts[r]) != 0) {
        return s_fail(ps, "datetime '%.*s' is not YYYY-MM-DD hh:mm:ss",
                      (int)(tf->len > 40 ? 40 : tf->len), tf->p);
    }
    if (r > 0 && f->ts[r] <= f->ts[r - 1]) {
        return s_fail(ps, "datetime '%.*s' is not after the row before",
                      (int)tf->len, tf->p);
    }
    for (size_t k = 0; k < TM_SKAB_SIGNALS; k++) {
        const s_field_t *vf = &fields[ps->col[k]];
        if (!s_number(vf, &f->values[r * TM_SKAB_SIGNALS + k])) {
            return s_fail(ps, "%s '%.*s' is not a finite number",
                          tm_skab_signals[k].column,
                          (int)(vf->len > 40 ? 40 : vf->len), vf->p);
        }
    }
    int rc =
        s_label(ps, fields, ps->col[S_COL_ANOMALY], "anomaly", &f->anomaly[r]);
    if (rc == 0) {
        rc = s_label(ps, fields, ps->col[S_COL_CHANGE], "changepoint",
                     &f->changepoint[r]);
    }
    if (rc == 0) {
        f->rows++;
    }
    return rc;
}

/* Every line of text: the header first, then rows. */
static int s_lines(s_parse_t *ps, const char *text, size_t len)
{
    const char *p = text;
    const char *end = text + len;
    bool header = true;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }
    while (p < end) {
        size_t left = (size_t)(end - p);
        const char *nl = memchr(p, '\n', left);
        size_t n = nl != NULL ? (size_t)(nl - p) : left;
        ps->line++;
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        const char *e = p + n;
        if (memchr(p, '\0', n) != NULL) {
            return s_fail(ps, "a NUL byte (not a text file)");
        }
        bool blank = true;
        for (const char *q = p; q < e && blank; q++) {
            blank = *q == ' ' || *q == '\t';
        }
        int rc = 0;
        if (!blank) {
            rc = header ? s_header(ps, p, e) : s_row(ps, p, e);
            header = false;
        }
        if (rc != 0) {
            return rc;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (ps->f->rows == 0) {
        return s_fail(ps, header ? "empty file (no header)" : "no data rows");
    }
    return 0;
}

int tm_skab_parse(const char *text, size_t len, const char *name,
                  tm_skab_file_t **out, char *err, size_t errlen)
{
    s_parse_t ps;
    memset(&ps, 0, sizeof ps);
    ps.name = name;
    ps.err = err;
    ps.errlen = errlen;
    *out = NULL;
    ps.f = calloc(1, sizeof *ps.f);
    if (ps.f == NULL || (ps.f->path = strdup(name)) == NULL) {
        tm_skab_file_destroy(&ps.f);
        snprintf(err, errlen, "%s: out of memory", name);
        return TM_ERR_NOMEM;
    }
    int rc = s_lines(&ps, text, len);
    if (rc == TM_ERR_NOMEM) {
        snprintf(err, errlen, "%s: out of memory", name);
    }
    if (rc != 0) {
        tm_skab_file_destroy(&ps.f);
        return rc;
    }
    *out = ps.f;
    return 0;
}

int tm_skab_load(const char *dir, const char *relpath, tm_skab_file_t **out,
                 char *err, size_t errlen)
{
    char path[4096];
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, relpath);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return TM_ERR_IO;
    }
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = TM_ERR_IO;
    } else if ((uint64_t)st.st_size > TM_SKAB_FILE_MAX) {
        snprintf(err, errlen, "%s: over %u MiB", path, TM_SKAB_FILE_MAX >> 20);
        rc = TM_ERR_TOO_BIG;
    } else if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = TM_ERR_NOMEM;
    } else {
        len = fread(text, 1, (size_t)st.st_size, fp);
        if (ferror(fp)) {
            snprintf(err, errlen, "%s: read error", path);
            rc = TM_ERR_IO;
        }
    }
    fclose(fp);
    if (rc == 0) {
        rc = tm_skab_parse(text, len, relpath, out, err, errlen);
    }
    free(text);
    return rc;
}

void tm_skab_file_destroy(tm_skab_file_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_skab_file_t *f = *p;
    free(f->path);
    free(f->ts);
    free(f->values);
    free(f->anomaly);
    free(f->changepoint);
    free(f);
    *p = NULL;
}

/* ---- folders ------------------------------------------------------------- */

typedef struct {
    char **paths;
    size_t count;
    size_t cap;
    char *err;
    size_t errlen;
} s_list_t;

static int s_push(s_list_t *l, const char *rel)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (p == NULL) {
            return TM_ERR_NOMEM;
        }
        l->paths = p;
        l->cap = cap;
    }
    if ((l->paths[l->count] = strdup(rel)) == NULL) {
        return TM_ERR_NOMEM;
    }
    l->count++;
    return 0;
}

static bool s_is_csv(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".csv") == 0;
}

/* Walk root/rel (rel "" for root itself). */
static int s_walk(s_list_t *l, const char *root, const char *rel, int depth)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(l->err, l->errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT || errno == ENOTDIR ? TM_ERR_NOT_FOUND
                                                   : TM_ERR_IO;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char sub[4096];
        char full[8192];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        if (stat(full, &st) != 0) {
            continue; /* a dangling link: not a file to replay */
        }
        if (S_ISDIR(st.st_mode) && depth < S_DEPTH_MAX) {
            rc = s_walk(l, root, sub, depth + 1);
        } else if (S_ISREG(st.st_mode) && s_is_csv(e->d_name)) {
            rc = s_push(l, sub);
            if (rc != 0) {
                snprintf(l->err, l->errlen, "out of memory");
            }
        }
    }
    closedir(d);
    return rc;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tm_skab_list(const char *dir, char ***paths, size_t *count, char *err,
                 size_t errlen)
{
    s_list_t l;
    memset(&l, 0, sizeof l);
    l.err = err;
    l.errlen = errlen;
    *paths = NULL;
    *count = 0;
    int rc = s_walk(&l, dir, "", 0);
    if (rc == 0 && l.count == 0) {
        snprintf(err, errlen, "%s: no .csv files in it or its subfolders", dir);
        rc = TM_ERR_NOT_FOUND;
    }
    if (rc != 0) {
        tm_skab_list_free(l.paths, l.count);
        return rc;
    }
    qsort(l.paths, l.count, sizeof *l.paths, s_cmp_str);
    *paths = l.paths;
    *count = l.count;
    return 0;
}

void tm_skab_list_free(char **paths, size_t count)
{
    for (size_t i = 0; paths != NULL && i < count; i++) {
        free(paths[i]);
    }
    free(paths);
}

/* ---- ids ----------------------------------------------------------------- */

int tm_skab_asset_id(const char *relpath, char *out, size_t cap)
{
    static const char prefix[] = "skab-";
    size_t n = strlen(relpath);
    if (n >= 4 && strcmp(relpath + n - 4, ".csv") == 0) {
        n -= 4;
    }
    if (n == 0) {
        return TM_ERR_INVAL;
    }
    size_t total = sizeof prefix - 1 + n;
    if (total > TM_SKAB_ID_MAX || total + 1 > cap) {
        return TM_ERR_TOO_BIG;
    }
    memcpy(out, prefix, sizeof prefix - 1);
    for (size_t i = 0; i < n; i++) {
        char c = relpath[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-';
        out[sizeof prefix - 1 + i] = ok ? c : '-';
    }
    out[total] = '\0';
    return 0;
}

int tm_skab_assign_ids(tm_skab_file_t **files, size_t n, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int rc =
            tm_skab_asset_id(files[i]->path, files[i]->id, sizeof files[i]->id);
        if (rc != 0) {
            snprintf(err, errlen,
                     "%s: its asset id (skab- and the path) would be %s",
                     files[i]->path,
                     rc == TM_ERR_TOO_BIG ? "over 64 characters" : "empty");
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(files[i]->id, files[j]->id) == 0) {
                snprintf(err, errlen, "%s and %s both map to asset id %s",
                         files[j]->path, files[i]->path, files[i]->id);
                return TM_ERR_EXISTS;
            }
        }
    }
    return 0;
}
