/* tm_cmd: the console's command grammar - table, parser, completion. */
#include "tm_cmd.h"

#include "tm_err.h"

#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_POSITIONAL_MAX 64
#define S_TICKS_MAX      1000000000000ull /* run --ticks */
#define S_WORD_MAX       48               /* an option or argument type */

/* ---- the table ---------------------------------------------------------- */

static const tm_cmd_info_t s_table[] = {
#define S_ROW(kind, h, r, name, al, fl, args, opts, usage, sum)                \
    {TM_CMD_##kind, name, al, fl, args, opts, usage, sum},
    TM_CMD_TABLE(S_ROW)
#undef S_ROW
};

const tm_cmd_info_t *tm_cmd_table(size_t *count)
{
    *count = sizeof s_table / sizeof s_table[0];
    return s_table;
}

/* The n-th space-separated word of list into buf; false past the end. */
static bool s_word(const char *list, int n, char *buf, size_t cap)
{
    const char *p = list;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        if (*p == '\0') {
            return false;
        }
        size_t len = strcspn(p, " ");
        if (n-- == 0) {
            snprintf(buf, cap, "%.*s", (int)len, p);
            return true;
        }
        p += len;
    }
}

static bool s_in_list(const char *list, const char *w)
{
    char buf[S_WORD_MAX];
    for (int i = 0; s_word(list, i, buf, sizeof buf); i++) {
        if (strcmp(buf, w) == 0) {
            return true;
        }
    }
    return false;
}

/* The command argv names and how many words its name takes (1 or 2). */
static const tm_cmd_info_t *s_lookup_argv(int argc, const char *const *argv,
                                          int *words)
{
    *words = 1;
    if (argc >= 2 && argv[1] != NULL && argv[1][0] != '-' &&
        strlen(argv[0]) < 64 && strlen(argv[1]) < 64) {
        char two[128];
        snprintf(two, sizeof two, "%.63s %.63s", argv[0], argv[1]);
        const tm_cmd_info_t *c = tm_cmd_lookup(two);
        if (c != NULL) {
            *words = 2;
            return c;
        }
    }
    return tm_cmd_lookup(argv[0]);
}

const tm_cmd_info_t *tm_cmd_lookup(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++) {
        if (strcmp(s_table[i].name, name) == 0 ||
            (name[0] != '\0' && s_in_list(s_table[i].aliases, name))) {
            return &s_table[i];
        }
    }
    return NULL;
}

const char *tm_cmd_options(tm_cmd_kind_t kind)
{
    /* the opts column without its marks ("model!" -> "model") */
    static char names[TM_CMD_COUNT][128];
    if ((unsigned)kind >= TM_CMD_COUNT) {
        return "";
    }
    if (names[kind][0] == '\0') {
        char w[S_WORD_MAX];
        size_t off = 0;
        for (int i = 0; s_word(s_table[kind].opts, i, w, sizeof w); i++) {
            size_t n = strcspn(w, "!:~");
            if (w[n] == '~') {
                continue; /* hidden: between nodes only */
            }
            w[n] = '\0';
            off += (size_t)snprintf(names[kind] + off, sizeof names[kind] - off,
                                    "%s%s", off ? " " : "", w);
        }
    }
    return names[kind];
}

/* ---- clock modes -------------------------------------------------------- */

const char *tm_clock_name(tm_clock_t clock)
{
    switch (clock) {
    case TM_CLOCK_REALTIME:
        return "realtime";
    case TM_CLOCK_FAST:
        return "fast";
    case TM_CLOCK_PAUSED:
        return "paused";
    }
    return "?";
}

int tm_clock_parse(const char *name, tm_clock_t *out)
{
    if (name == NULL) {
        return TM_ERR_INVAL;
    }
    if (strcmp(name, "realtime") == 0) {
        *out = TM_CLOCK_REALTIME;
    } else if (strcmp(name, "fast") == 0) {
        *out = TM_CLOCK_FAST;
    } else if (strcmp(name, "paused") == 0 || strcmp(name, "pause") == 0) {
        *out = TM_CLOCK_PAUSED;
    } else {
        return TM_ERR_INVAL;
    }
    return 0;
}

/* ---- times --------------------------------------------------------------- */

#define S_NS        1000000000ull
#define S_SINCE_MAX (36525ull * 86400ull) /* 100 years, in seconds */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t s_days(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n decimal digits at s into *v; false if one is not a digit. */
static bool s_digits(const char *s, int n, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.F...]Z" -> ns since 1970. */
static bool s_rfc3339(const char *s, uint64_t *ns)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || !s_digits(s, 4, &y) || s[4] != '-' ||
        !s_digits(s + 5, 2, &mo) || s[7] != '-' || !s_digits(s + 8, 2, &d) ||
        s[10] != 'T' || !s_digits(s + 11, 2, &h) || s[13] != ':' ||
        !s_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !s_digits(s + 17, 2, &sec)) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    const char *f = s + 19;
    uint64_t frac = 0, scale = S_NS;
    if (*f == '.') {
        f++;
        if (*f < '0' || *f > '9') {
            return false;
        }
        for (; *f >= '0' && *f <= '9'; f++) {
            scale /= 10;
            frac += (uint64_t)(*f - '0') * scale;
        }
    }
    if (strcmp(f, "Z") != 0) {
        return false;
    }
    uint64_t secs =
        (uint64_t)s_days(y, mo, d) * 86400u + h * 3600u + mi * 60u + sec;
    *ns = secs * S_NS + frac;
    return true;
}

int tm_cmd_parse_since(const char *s, bool *relative, uint64_t *ns, char *why,
                       size_t whylen)
{
    size_t n = strlen(s);
    const char *units = "smhd";
    static const uint64_t mult[] = {1, 60, 3600, 86400};
    const char *u = n > 1 ? strchr(units, s[n - 1]) : NULL;
    if (u != NULL && s[n - 1] != '\0' && strspn(s, "0123456789") == n - 1) {
        char num[32];
        uint64_t v = 0;
        snprintf(num, sizeof num, "%.*s", (int)(n - 1), s);
        uint64_t k = mult[u - units];
        if (n - 1 < sizeof num &&
            tm_text_parse_u64(num, false, 0, S_SINCE_MAX / k, &v) == 0) {
            *relative = true;
            *ns = v * k * S_NS;
            return 0;
        }
        snprintf(why, whylen,
                 "--since '%.40s': a duration is at most 100 years", s);
        return TM_ERR_USAGE;
    }
    if (s_rfc3339(s, ns)) {
        *relative = false;
        return 0;
    }
    snprintf(why, whylen,
             "--since '%.40s' is neither an RFC 3339 UTC time "
             "(2026-11-30T12:00:00Z) nor a duration before now (30s, 10m, "
             "2h, 7d)",
             s);
    return TM_ERR_USAGE;
}

/* ---- messages ----------------------------------------------------------- */

/* What a parse is writing to: the command, its row, the error buffer. */
typedef struct {
    tm_cmd_t *cmd;
    const tm_cmd_info_t *c;
    char *err;
    size_t errlen;
    unsigned seen; /* options given (bit per option table entry) */
} s_parse_t;

static void s_err(s_parse_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_err(s_parse_t *p, const char *fmt, ...)
{
    if (p->err == NULL || p->errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

/* "CMD: why (usage: CMD USAGE)" */
static int s_usage(s_parse_t *p, const char *why)
{
    const tm_cmd_info_t *c = p->c;
    s_err(p, "%s: %s (usage: %s%s%s)", c->name, why, c->name,
          c->usage[0] ? " " : "", c->usage);
    return TM_ERR_USAGE;
}

static int s_bad_id(s_parse_t *p, const char *id)
{
    s_err(p, "bad actor id '%.80s': ids are 1-%u letters, digits, '_' or '-'",
          id, TM_ID_MAX);
    return TM_ERR_BAD_ID;
}

/* Letters, digits and '_': a parameter, port or signal name. */
static bool s_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char ch = s[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_')) {
            return false;
        }
    }
    return n > 0 && n < TM_MODEL_NAME_MAX;
}

/* A whole decimal number in [lo, hi]; what says what it is for the message
 * ("--limit takes a whole number"), which names the range and the value. */
static int s_number(s_parse_t *p, const char *what, const char *v, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
    char why[256];
    if (tm_text_parse_u64(v, false, lo, hi, out) == 0) {
        return 0;
    }
    snprintf(why, sizeof why, "%s in %llu..%llu, got '%.40s'", what,
             (unsigned long long)lo, (unsigned long long)hi, v);
    return s_usage(p, why);
}

/* NAME=VALUE into params[n_params], refusing a name given before. */
static int s_assign(s_parse_t *p, const char *a)
{
    tm_cmd_t *cmd = p->cmd;
    if (cmd->n_params >= TM_CMD_MAX_PARAMS) {
        return s_usage(p, cmd->kind == TM_CMD_SET ? "too many assignments"
                                                  : "too many --param values");
    }
    tm_cmd_param_t *pa = &cmd->params[cmd->n_params];
    const char *eq = strchr(a, '=');
    if (eq == NULL || eq == a) {
        char why[160];
        snprintf(why, sizeof why, "expected NAME=VALUE, got '%.80s'", a);
        return s_usage(p, why);
    }
    size_t n = (size_t)(eq - a);
    if (n > TM_MODEL_NAME_MAX) {
        n = TM_MODEL_NAME_MAX;
    }
    memcpy(pa->name, a, n);
    pa->name[n] = '\0';
    if (!s_name_valid(pa->name)) {
        s_err(p,
              "%s: bad name '%.40s' in '%.80s': names are letters, digits "
              "and '_'",
              p->c->name, pa->name, a);
        return TM_ERR_USAGE;
    }
    int rc = tm_text_parse_f64(eq + 1, &pa->value);
    if (rc == TM_ERR_RANGE) {
        s_err(p,
              "bad parameter value '%.80s': '%.40s' is out of the range of a "
              "double",
              a, eq + 1);
        return TM_ERR_BAD_VALUE;
    }
    if (rc != 0) {
        s_err(p,
              "bad parameter value '%.80s': '%.40s' is not a finite number%s",
              a, eq + 1,
              strpbrk(eq + 1, "xX") != NULL ? " (write it in decimal)" : "");
        return TM_ERR_BAD_VALUE;
    }
    for (size_t i = 0; i < cmd->n_params; i++) {
        if (strcmp(cmd->params[i].name, pa->name) == 0) {
            s_err(p, "%s: parameter '%s' is given twice", p->c->name, pa->name);
            return TM_ERR_USAGE;
        }
    }
    cmd->n_params++;
    return 0;
}

/* ---- options ------------------------------------------------------------ */

typedef struct s_opt s_opt_t;

struct s_opt {
    const char *name;
    int (*set)(s_parse_t *p, const s_opt_t *o, const char *val);
    size_t field;        /* offsetof(tm_cmd_t, ...) for numbers */
    size_t width;        /* its size: 4 or 8 bytes */
    uint64_t lo, hi;     /* range of a whole number */
    const char *what;    /* "--limit takes a whole number" */
    const char *missing; /* when required and not given */
    tm_cmd_complete_t complete;
    bool repeats;
};

/* The whole-number field of an option, 4 or 8 bytes wide. */
static uint64_t s_field_get(const s_parse_t *p, const s_opt_t *o)
{
    const char *f = (const char *)p->cmd + o->field;
    uint32_t v32 = 0;
    uint64_t v64 = 0;
    if (o->width == sizeof v32) {
        memcpy(&v32, f, sizeof v32);
        return v32;
    }
    memcpy(&v64, f, sizeof v64);
    return v64;
}

static int s_set_u64(s_parse_t *p, const s_opt_t *o, const char *val)
{
    uint64_t v = 0;
    int rc = s_number(p, o->what, val, o->lo, o->hi, &v);
    if (rc != 0) {
        return rc;
    }
    char *f = (char *)p->cmd + o->field;
    uint32_t v32 = (uint32_t)v; /* hi fits a 4-byte field */
    memcpy(f, o->width == sizeof v32 ? (const void *)&v32 : (const void *)&v,
           o->width);
    return 0;
}

static int s_set_model(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (val[0] == '\0' || strlen(val) > TM_CMD_SPEC_MAX) {
        return s_usage(p, "bad --model value");
    }
    snprintf(p->cmd->model, sizeof p->cmd->model, "%s", val);
    p->cmd->has_model = true;
    return 0;
}

static int s_set_node(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (!tm_text_name_valid(val)) {
        char why[200];
        snprintf(why, sizeof why, "bad node name '%.64s'", val);
        return s_usage(p, why);
    }
    snprintf(p->cmd->node, sizeof p->cmd->node, "%s", val);
    p->cmd->has_node = true;
    return 0;
}

static int s_set_site(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (!tm_text_name_valid(val)) {
        char why[200];
        snprintf(why, sizeof why, "bad site name '%.64s'", val);
        return s_usage(p, why);
    }
    snprintf(p->cmd->site, sizeof p->cmd->site, "%s", val);
    p->cmd->has_site = true;
    return 0;
}

/* --placed: why a node chose where a spawn runs (one line of text). */
static int s_set_placed(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    size_t n = strlen(val);
    bool one_line = true;
    for (size_t i = 0; i < n && one_line; i++) {
        one_line = (unsigned char)val[i] >= 0x20 && val[i] != 0x7f;
    }
    if (n == 0 || n > TM_CMD_PLACED_MAX || !one_line) {
        return s_usage(p, "bad --placed value");
    }
    snprintf(p->cmd->placed, sizeof p->cmd->placed, "%s", val);
    p->cmd->has_placed = true;
    return 0;
}

static int s_set_fidelity(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (tm_fidelity_parse(val, &p->cmd->fidelity) != 0) {
        s_err(p, "%s: unknown fidelity '%.40s' (high, medium or low)",
              p->c->name, val);
        return TM_ERR_UNKNOWN_FIDELITY;
    }
    p->cmd->has_fidelity = true;
    return 0;
}

static int s_set_param(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    return s_assign(p, val);
}

static int s_set_interval(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    double *iv = &p->cmd->interval;
    if (tm_text_parse_f64(val, iv) != 0 || *iv < 0.05 || *iv > 3600) {
        return s_usage(p, "--interval takes seconds in [0.05, 3600]");
    }
    return 0;
}

static int s_set_actor(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (!tm_text_id_valid(val)) {
        return s_bad_id(p, val);
    }
    snprintf(p->cmd->actor, sizeof p->cmd->actor, "%s", val);
    return 0;
}

static int s_set_since(s_parse_t *p, const s_opt_t *o, const char *val)
{
    char why[200];
    (void)o;
    if (tm_cmd_parse_since(val, &p->cmd->since_relative, &p->cmd->since_ns, why,
                           sizeof why) != 0) {
        return s_usage(p, why);
    }
    p->cmd->has_since = true;
    return 0;
}

/* rollout --budget RMSE=R,MAPE=M (either or both; each >= 0). */
static int s_set_budget(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    char buf[128];
    const char *bad = "--budget takes RMSE=R,MAPE=M (either or both, each a "
                      "number >= 0)";
    if (strlen(val) >= sizeof buf) {
        return s_usage(p, bad);
    }
    snprintf(buf, sizeof buf, "%s", val);
    p->cmd->budget_rmse = INFINITY;
    p->cmd->budget_mape = INFINITY;
    char *save = NULL;
    int n = 0;
    for (char *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save), n++) {
        double v = 0;
        char *eq = strchr(t, '=');
        if (eq == NULL || tm_text_parse_f64(eq + 1, &v) != 0 || !(v >= 0) ||
            !isfinite(v)) {
            return s_usage(p, bad);
        }
        *eq = '\0';
        if (strcasecmp(t, "rmse") == 0) {
            p->cmd->budget_rmse = v;
        } else if (strcasecmp(t, "mape") == 0) {
            p->cmd->budget_mape = v;
        } else {
            return s_usage(p, bad);
        }
    }
    if (n == 0) {
        return s_usage(p, bad);
    }
    p->cmd->has_budget = true;
    return 0;
}

static int s_set_to(s_parse_t *p, const s_opt_t *o, const char *val)
{
    (void)o;
    if (tm_semver_valid(val) != 0) {
        char why[160];
        snprintf(why, sizeof why,
                 "--to takes a version MAJOR.MINOR.PATCH, got '%.40s'", val);
        return s_usage(p, why);
    }
    snprintf(p->cmd->to, sizeof p->cmd->to, "%s", val);
    return 0;
}

#define S_U64(f) s_set_u64, offsetof(tm_cmd_t, f), sizeof(((tm_cmd_t *)0)->f)

static const s_opt_t s_opts[] = {
    {"model", s_set_model, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_FAMILIES,
     false},
    {"fidelity", s_set_fidelity, 0, 0, 0, 0, NULL, NULL,
     TM_CMD_COMPLETE_FIDELITIES, false},
    {"node", s_set_node, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE, false},
    {"site", s_set_site, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE, false},
    {"placed", s_set_placed, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"period", S_U64(period), 1, UINT32_MAX,
     "--period takes a whole number of ticks", NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"delay", S_U64(delay), 1, TM_CMD_DELAY_MAX,
     "--delay takes a whole number of ticks", NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"limit", S_U64(limit), 1, UINT32_MAX, "--limit takes a whole number", NULL,
     TM_CMD_COMPLETE_NONE, false},
    {"count", S_U64(count), 1, UINT64_MAX / 2, "--count takes a whole number",
     NULL, TM_CMD_COMPLETE_NONE, false},
    {"ticks", S_U64(ticks), 1, S_TICKS_MAX,
     "--ticks takes a whole number of ticks", "missing --ticks N",
     TM_CMD_COMPLETE_NONE, false},
    {"window", S_U64(window), 1, 100000,
     "--window takes a number of steps (1 to 100000)", NULL,
     TM_CMD_COMPLETE_NONE, false},
    {"interval", s_set_interval, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"param", s_set_param, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE, true},
    {"actor", s_set_actor, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_IDS, false},
    {"since", s_set_since, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE, false},
    {"upload", S_U64(upload), 1, UINT64_MAX / 2,
     "--upload takes the number of a staged upload", NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"canary", S_U64(canary), 1, 100,
     "--canary takes a percentage of the family's actors (1 to 100)", NULL,
     TM_CMD_COMPLETE_NONE, false},
    {"shadow", S_U64(shadow), 1, 1000000,
     "--shadow takes a number of ticks (1 to 1000000)", NULL,
     TM_CMD_COMPLETE_NONE, false},
    {"budget", s_set_budget, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE,
     false},
    {"at", S_U64(at), 1, UINT64_MAX / 2, "--at takes a tick", NULL,
     TM_CMD_COMPLETE_NONE, false},
    {"to", s_set_to, 0, 0, 0, 0, NULL, NULL, TM_CMD_COMPLETE_NONE, false},
};

#define S_N_OPTS (sizeof s_opts / sizeof s_opts[0])

static const s_opt_t *s_opt_find(const char *name, unsigned *bit)
{
    for (unsigned i = 0; i < S_N_OPTS; i++) {
        if (strcmp(s_opts[i].name, name) == 0) {
            *bit = 1u << i;
            return &s_opts[i];
        }
    }
    return NULL;
}

/* The row's entry for an option: "limit:1000" -> present, cap 1000. */
static bool s_row_opt(const tm_cmd_info_t *c, const char *name, bool *required,
                      uint64_t *cap)
{
    char w[S_WORD_MAX];
    for (int i = 0; s_word(c->opts, i, w, sizeof w); i++) {
        size_t n = strcspn(w, "!:~");
        if (strlen(name) != n || strncmp(w, name, n) != 0) {
            continue;
        }
        *required = w[n] == '!';
        *cap = w[n] == ':' ? strtoull(w + n + 1, NULL, 10) : 0;
        return true;
    }
    return false;
}

/* --NAME[=VALUE] at argv[*i]. */
static int s_option(s_parse_t *p, int argc, const char *const *argv, int *i)
{
    const char *a = argv[*i];
    char opt[32];
    char why[256];
    unsigned bit = 0;
    bool required = false;
    uint64_t cap = 0;
    const char *eq = strchr(a + 2, '=');
    size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    if (n >= sizeof opt) {
        n = sizeof opt - 1;
    }
    memcpy(opt, a + 2, n);
    opt[n] = '\0';
    const s_opt_t *o = s_opt_find(opt, &bit);
    if (o == NULL || !s_row_opt(p->c, opt, &required, &cap)) {
        snprintf(why, sizeof why, "unknown option --%s", opt);
        return s_usage(p, why);
    }
    if ((p->seen & bit) && !o->repeats) {
        snprintf(why, sizeof why, "--%s is given twice", opt);
        return s_usage(p, why);
    }
    p->seen |= bit;
    const char *val = NULL;
    if (eq != NULL) {
        val = eq + 1;
    } else if (*i + 1 < argc && argv[*i + 1] != NULL) {
        val = argv[++*i];
    } else {
        snprintf(why, sizeof why, "--%s needs a value", opt);
        return s_usage(p, why);
    }
    int rc = o->set(p, o, val);
    if (rc == 0 && cap > 0 && o->set == s_set_u64) {
        uint64_t v = s_field_get(p, o);
        if (v > cap) {
            snprintf(why, sizeof why, "--%s is at most %llu", opt,
                     (unsigned long long)cap);
            return s_usage(p, why);
        }
    }
    return rc;
}

/* Required options of the row that were not given. */
static int s_required(s_parse_t *p)
{
    char w[S_WORD_MAX];
    for (int i = 0; s_word(p->c->opts, i, w, sizeof w); i++) {
        size_t n = strcspn(w, "!:");
        if (w[n] != '!') {
            continue;
        }
        w[n] = '\0';
        unsigned bit = 0;
        const s_opt_t *o = s_opt_find(w, &bit);
        if (o != NULL && !(p->seen & bit)) {
            char why[64];
            snprintf(why, sizeof why, "missing --%s", w);
            return s_usage(p, o->missing ? o->missing : why);
        }
    }
    return 0;
}

/* ---- positional arguments ----------------------------------------------- */

typedef struct {
    const char *token; /* as written in the args column, without [] ... */
    int (*take)(s_parse_t *p, const char *a);
    tm_cmd_complete_t complete;
} s_arg_t;

static int s_take_id(s_parse_t *p, const char *a)
{
    if (!tm_text_id_valid(a)) {
        return s_bad_id(p, a);
    }
    snprintf(p->cmd->id, sizeof p->cmd->id, "%s", a);
    return 0;
}

/* A node's name (migrate's destination, the node drain empties). */
static int s_take_node(s_parse_t *p, const char *a)
{
    return s_set_node(p, NULL, a);
}

/* A prefix of ids: checked whole by COUNT (spawn-many), or on its own. */
static int s_take_prefix(s_parse_t *p, const char *a)
{
    if (strlen(a) > TM_ID_MAX) {
        return s_bad_id(p, a);
    }
    snprintf(p->cmd->id, sizeof p->cmd->id, "%s", a);
    return 0;
}

/* spawn-many COUNT: every id made, up to PREFIX<COUNT-1>, must be valid. */
static int s_take_count(s_parse_t *p, const char *a)
{
    char last[TM_ID_MAX + 32];
    int rc = s_number(p, "COUNT must be a whole number", a, 1, TM_CMD_SPAWN_MAX,
                      &p->cmd->count);
    if (rc != 0) {
        return rc;
    }
    snprintf(last, sizeof last, "%.80s%llu", p->cmd->id,
             (unsigned long long)(p->cmd->count - 1));
    if (!tm_text_id_valid(last)) {
        s_err(p,
              "bad actor id prefix '%.80s': PREFIX<N> must be 1-%u "
              "letters, digits, '_' or '-'",
              p->cmd->id, TM_ID_MAX);
        return TM_ERR_BAD_ID;
    }
    return 0;
}

/* ID.PORT into port. */
static int s_take_port(s_parse_t *p, const char *a, tm_cmd_port_t *port)
{
    const char *dot = strchr(a, '.');
    if (dot == NULL || dot == a || dot[1] == '\0') {
        char why[160];
        snprintf(why, sizeof why, "expected ACTOR.PORT, got '%.80s'", a);
        return s_usage(p, why);
    }
    size_t n = (size_t)(dot - a);
    char id[TM_ID_MAX + 2];
    if (n > TM_ID_MAX) {
        n = TM_ID_MAX + 1;
    }
    memcpy(id, a, n);
    id[n] = '\0';
    if (!tm_text_id_valid(id)) {
        return s_bad_id(p, id);
    }
    if (!s_name_valid(dot + 1)) {
        s_err(p, "%s: bad port name '%.40s': names are letters, digits and '_'",
              p->c->name, dot + 1);
        return TM_ERR_USAGE;
    }
    memcpy(port->actor, id, n + 1);
    memcpy(port->port, dot + 1, strlen(dot + 1) + 1);
    return 0;
}

static int s_take_src(s_parse_t *p, const char *a)
{
    return s_take_port(p, a, &p->cmd->src);
}

static int s_take_dst(s_parse_t *p, const char *a)
{
    return s_take_port(p, a, &p->cmd->dst);
}

static int s_take_signal(s_parse_t *p, const char *a)
{
    char why[256];
    tm_cmd_t *cmd = p->cmd;
    if (cmd->n_signals >= TM_CMD_MAX_SIGNALS) {
        return s_usage(p, "too many signals");
    }
    if (!s_name_valid(a)) {
        snprintf(why, sizeof why, "bad signal name '%.40s'", a);
        return s_usage(p, why);
    }
    for (size_t j = 0; j < cmd->n_signals; j++) {
        if (strcmp(cmd->signals[j], a) == 0) {
            snprintf(why, sizeof why, "signal '%s' is given twice", a);
            return s_usage(p, why);
        }
    }
    snprintf(cmd->signals[cmd->n_signals++], TM_MODEL_NAME_MAX + 1, "%s", a);
    return 0;
}

static int s_take_topic(s_parse_t *p, const char *a)
{
    const tm_cmd_info_t *topic = tm_cmd_lookup(a);
    if (topic == NULL || (topic->flags & TM_CMD_F_HIDDEN)) {
        s_err(p, "unknown command '%.64s' (try help)", a);
        return TM_ERR_UNKNOWN_COMMAND;
    }
    snprintf(p->cmd->topic, sizeof p->cmd->topic, "%s", a);
    return 0;
}

static int s_take_family(s_parse_t *p, const char *a)
{
    if (strlen(a) > TM_CMD_SPEC_MAX) {
        char why[160];
        snprintf(why, sizeof why, "bad model family '%.64s'", a);
        return s_usage(p, why);
    }
    snprintf(p->cmd->model, sizeof p->cmd->model, "%s", a);
    return 0;
}

static int s_take_mode(s_parse_t *p, const char *a)
{
    if (tm_clock_parse(a, &p->cmd->clock) != 0) {
        char why[160];
        snprintf(why, sizeof why, "unknown clock mode '%.40s'", a);
        return s_usage(p, why);
    }
    p->cmd->has_clock = true;
    return 0;
}

/* fidelity ID TIER: a tier (has_fidelity) or "auto" (not). */
static int s_take_tier(s_parse_t *p, const char *a)
{
    if (strcmp(a, "auto") == 0) {
        p->cmd->has_fidelity = false;
        return 0;
    }
    if (tm_fidelity_parse(a, &p->cmd->fidelity) != 0) {
        char why[160];
        snprintf(why, sizeof why,
                 "unknown tier '%.40s' (high, medium, low or auto)", a);
        return s_usage(p, why);
    }
    p->cmd->has_fidelity = true;
    return 0;
}

/* run N: the same as --ticks N, which it may not repeat. */
static int s_take_ticks(s_parse_t *p, const char *a)
{
    unsigned bit = 0;
    const s_opt_t *o = s_opt_find("ticks", &bit);
    if (p->seen & bit) {
        return s_usage(p, "too many arguments");
    }
    p->seen |= bit;
    return s_number(p, "N must be a whole number of ticks", a, o->lo, o->hi,
                    &p->cmd->ticks);
}

/* An absolute path on the node's machine (a console's working directory
 * means nothing there). */
static int s_take_path(s_parse_t *p, const char *a)
{
    char why[160];
    if (a[0] != '/' || strlen(a) > TM_CMD_PATH_MAX) {
        snprintf(why, sizeof why,
                 "DEST must be an absolute path of at most %u bytes on the "
                 "node's machine, got '%.60s'",
                 TM_CMD_PATH_MAX, a);
        return s_usage(p, why);
    }
    snprintf(p->cmd->path, sizeof p->cmd->path, "%s", a);
    return 0;
}

/* A file on the console's machine (apply, diff, export). */
static int s_take_file(s_parse_t *p, const char *a)
{
    char why[160];
    if (a[0] == '\0' || strlen(a) > TM_CMD_PATH_MAX) {
        snprintf(why, sizeof why,
                 "FILE must be a path of 1 to %u bytes, got '%.60s'",
                 TM_CMD_PATH_MAX, a);
        return s_usage(p, why);
    }
    snprintf(p->cmd->path, sizeof p->cmd->path, "%s", a);
    return 0;
}

static int s_take_assign(s_parse_t *p, const char *a)
{
    return s_assign(p, a);
}

static const s_arg_t s_args[] = {
    {"ID", s_take_id, TM_CMD_COMPLETE_IDS},
    {"PREFIX", s_take_prefix, TM_CMD_COMPLETE_NONE},
    {"COUNT", s_take_count, TM_CMD_COMPLETE_NONE},
    {"SRC.OUTPUT", s_take_src, TM_CMD_COMPLETE_OUTPUT},
    {"DST.INPUT", s_take_dst, TM_CMD_COMPLETE_INPUT},
    {"NAME=VALUE", s_take_assign, TM_CMD_COMPLETE_SETTABLE},
    {"SIGNAL", s_take_signal, TM_CMD_COMPLETE_SIGNAL},
    {"COMMAND", s_take_topic, TM_CMD_COMPLETE_COMMANDS},
    {"FAMILY", s_take_family, TM_CMD_COMPLETE_FAMILIES},
    {"MODE", s_take_mode, TM_CMD_COMPLETE_CLOCK},
    {"TIER", s_take_tier, TM_CMD_COMPLETE_FIDELITIES},
    {"N", s_take_ticks, TM_CMD_COMPLETE_NONE},
    {"DEST", s_take_path, TM_CMD_COMPLETE_NONE},
    {"NODE", s_take_node, TM_CMD_COMPLETE_NONE},
    {"FILE", s_take_file, TM_CMD_COMPLETE_NONE},
};

/* The i-th argument of a row's args column: its type, whether optional,
 * whether it repeats. NULL past the end. */
static const s_arg_t *s_arg_at(const tm_cmd_info_t *c, int i, bool *optional,
                               bool *repeats)
{
    char w[S_WORD_MAX];
    if (!s_word(c->args, i, w, sizeof w)) {
        return NULL;
    }
    char *t = w;
    *optional = t[0] == '[';
    if (*optional) {
        t++;
        t[strcspn(t, "]")] = '\0';
    }
    size_t n = strlen(t);
    *repeats = n > 3 && strcmp(t + n - 3, "...") == 0;
    if (*repeats) {
        t[n - 3] = '\0';
    }
    for (size_t k = 0; k < sizeof s_args / sizeof s_args[0]; k++) {
        if (strcmp(s_args[k].token, t) == 0) {
            return &s_args[k];
        }
    }
    return NULL;
}

/* Bounds on the number of positional arguments. */
static void s_arg_bounds(const tm_cmd_info_t *c, int *min, int *max)
{
    bool optional = false;
    bool repeats = false;
    *min = 0;
    *max = 0;
    for (int i = 0; s_arg_at(c, i, &optional, &repeats) != NULL; i++) {
        *min += optional ? 0 : 1;
        *max = repeats ? S_POSITIONAL_MAX : *max + 1;
    }
}

static int s_positional(s_parse_t *p, const char *const *pos, int npos)
{
    const tm_cmd_info_t *c = p->c;
    int min = 0;
    int max = 0;
    char why[256];
    s_arg_bounds(c, &min, &max);
    if (npos < min) {
        bool optional = false;
        bool repeats = false;
        const s_arg_t *first = s_arg_at(c, 0, &optional, &repeats);
        bool one = min == 1 && first != NULL;
        snprintf(why, sizeof why, "missing %s",
                 one ? first->token : "arguments");
        return s_usage(p, why);
    }
    if (npos > max) {
        if (max == 0) {
            snprintf(why, sizeof why, "unexpected argument '%.64s'", pos[0]);
            return s_usage(p, why);
        }
        return s_usage(p, "too many arguments");
    }
    int k = 0;
    for (int i = 0; i < npos; i++) {
        bool optional = false;
        bool repeats = false;
        const s_arg_t *a = s_arg_at(c, k, &optional, &repeats);
        if (a == NULL) {
            return TM_ERR_INTERNAL; /* a table row names an unknown type */
        }
        int rc = a->take(p, pos[i]);
        if (rc != 0) {
            return rc;
        }
        k += repeats ? 0 : 1;
    }
    return 0;
}

int tm_cmd_parse(int argc, const char *const *argv, tm_cmd_t *out, char *err,
                 size_t errlen)
{
    const char *pos[S_POSITIONAL_MAX];
    int npos = 0;
    s_parse_t p = {out, NULL, err, errlen, 0};
    memset(out, 0, sizeof *out);
    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        s_err(&p, "empty command (try help)");
        return TM_ERR_USAGE;
    }
    int words = 1;
    p.c = s_lookup_argv(argc, argv, &words);
    if (p.c == NULL) {
        s_err(&p, "unknown command '%.64s' (try help)", argv[0]);
        return TM_ERR_UNKNOWN_COMMAND;
    }
    out->kind = p.c->kind;
    out->info = p.c;
    for (int i = words; i < argc; i++) {
        const char *a = argv[i];
        if (a == NULL) {
            return s_usage(&p, "missing argument");
        }
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            int rc = s_option(&p, argc, argv, &i);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (npos >= S_POSITIONAL_MAX) {
            return s_usage(&p, "too many arguments");
        }
        pos[npos++] = a;
    }
    int rc = s_positional(&p, pos, npos);
    if (rc == 0) {
        rc = s_required(&p);
    }
    return rc;
}

/* ---- completion --------------------------------------------------------- */

tm_cmd_complete_t tm_cmd_complete(int argc, const char *const *argv,
                                  const char *word)
{
    if (argc <= 0) {
        return TM_CMD_COMPLETE_COMMANDS;
    }
    int words = 1;
    const tm_cmd_info_t *c = s_lookup_argv(argc, argv, &words);
    if (c == NULL) {
        return TM_CMD_COMPLETE_NONE;
    }
    argc -= words - 1; /* the second word of the name is no argument */
    argv += words - 1;
    const char *prev = argv[argc - 1];
    if (prev[0] == '-' && prev[1] == '-' && strchr(prev, '=') == NULL) {
        unsigned bit = 0;
        const s_opt_t *o = s_opt_find(prev + 2, &bit);
        return o != NULL ? o->complete : TM_CMD_COMPLETE_NONE;
    }
    if (word[0] == '-') {
        return TM_CMD_COMPLETE_OPTIONS;
    }
    /* the index of this word among the positional arguments */
    int k = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            i += strchr(argv[i], '=') == NULL ? 1 : 0;
            continue;
        }
        k++;
    }
    bool optional = false;
    bool repeats = false;
    const s_arg_t *a = NULL;
    for (int i = 0; i <= k; i++) {
        const s_arg_t *next = s_arg_at(c, i, &optional, &repeats);
        if (next == NULL) {
            return repeats && a != NULL ? a->complete : TM_CMD_COMPLETE_NONE;
        }
        a = next;
        if (repeats) {
            break;
        }
    }
    return a != NULL ? a->complete : TM_CMD_COMPLETE_NONE;
}
