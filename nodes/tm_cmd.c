/* tm_cmd: console command table, argv parser and executor. */
#include "tm_cmd.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rows per reply part for long lists: keeps every part far below the
 * 1 MiB wire limit (an actor row is at most about 250 bytes). */
#define S_ROWS_PER_PART  2048u
#define S_IDS_PER_PART   8192u
#define S_IDS_DEFAULT    1000u
#define S_TOP_DEFAULT    20u
#define S_TOP_MAX        1000u
#define S_INSPECT_LINKS  1000u /* links listed each way: about 40 KB */
#define S_POSITIONAL_MAX 64
#define S_TICKS_MAX      1000000000000ull /* run --ticks */

/* ---- the table ---------------------------------------------------------- */

static const tm_cmd_info_t s_table[] = {
    {TM_CMD_HELP, "help", "?", "[COMMAND]",
     "list the commands, or show how to use one", 0},
    {TM_CMD_NODES, "nodes", "", "", "list the nodes of the mesh", 0},
    {TM_CMD_ACTORS, "actors", "ls",
     "[--node NODE] [--model FAMILY[@VERSION]] [--limit N]",
     "list actors, sorted by id", 0},
    {TM_CMD_STATS, "stats", "", "",
     "node statistics: tick, clock, step rate, checkpoints, store", 0},
    {TM_CMD_MODELS, "models", "", "[FAMILY]",
     "list the model catalog with the ports of each model", 0},
    {TM_CMD_IDS, "ids", "", "[PREFIX] [--limit N]",
     "list actor ids that start with PREFIX", 0},
    {TM_CMD_SPAWN, "spawn", "",
     "ID --model FAMILY[@VERSION] [--fidelity high|medium|low] [--node NODE] "
     "[--period M] [--param NAME=VALUE]...",
     "create an actor", TM_CMD_F_MUTATES},
    {TM_CMD_SPAWN_MANY, "spawn-many", "",
     "PREFIX COUNT --model FAMILY[@VERSION] [--fidelity high|medium|low] "
     "[--node NODE] [--period M] [--param NAME=VALUE]...",
     "create PREFIX0 ... PREFIX<COUNT-1> in one batch", TM_CMD_F_MUTATES},
    {TM_CMD_INSPECT, "inspect", "show", "ID",
     "model, version, tier, states, inputs, outputs, links and health",
     TM_CMD_F_IDS},
    {TM_CMD_KILL, "kill", "rm", "ID", "remove an actor and its links",
     TM_CMD_F_MUTATES | TM_CMD_F_IDS},
    {TM_CMD_LINK, "link", "", "SRC.OUTPUT DST.INPUT",
     "feed an output into an input (one tick later)",
     TM_CMD_F_MUTATES | TM_CMD_F_IDS},
    {TM_CMD_UNLINK, "unlink", "", "SRC.OUTPUT DST.INPUT", "remove a link",
     TM_CMD_F_MUTATES | TM_CMD_F_IDS},
    {TM_CMD_SET, "set", "", "ID NAME=VALUE...",
     "set parameters, states or held input values",
     TM_CMD_F_MUTATES | TM_CMD_F_IDS},
    {TM_CMD_RUN, "run", "", "--ticks N",
     "step exactly N ticks as fast as possible, then pause the clock",
     TM_CMD_F_LONG},
    {TM_CMD_CLOCK, "clock", "", "[realtime|fast|pause]",
     "show or change the clock mode", 0},
    {TM_CMD_WATCH, "watch", "", "ID [SIGNAL...] [--count N]",
     "stream an actor's values every tick until interrupted",
     TM_CMD_F_STREAM | TM_CMD_F_LONG | TM_CMD_F_IDS},
    {TM_CMD_TOP, "top", "", "[--limit N] [--interval SECONDS] [--count N]",
     "live table of actors by step time, lag and health",
     TM_CMD_F_STREAM | TM_CMD_F_LONG},
    {TM_CMD_HASH, "hash", "digest", "",
     "mesh digest (BLAKE2b over actor ids and states) and its tick", 0},
    {TM_CMD_CANCEL, "cancel", "", "", "end this console's stream",
     TM_CMD_F_HIDDEN},
};

const tm_cmd_info_t *tm_cmd_table(size_t *count)
{
    *count = sizeof s_table / sizeof s_table[0];
    return s_table;
}

static int s_alias_match(const char *aliases, const char *name)
{
    size_t n = strlen(name);
    const char *p = aliases;
    while (*p != '\0') {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) {
            return 1;
        }
        p += len;
        while (*p == ' ') {
            p++;
        }
    }
    return 0;
}

const tm_cmd_info_t *tm_cmd_lookup(const char *name)
{
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0 || s_alias_match(t[i].aliases, name)) {
            return &t[i];
        }
    }
    return NULL;
}

/* ---- replies ------------------------------------------------------------ */

void tm_cmd_reply_init(tm_cmd_reply_t *rep)
{
    rep->status = 0;
    rep->message[0] = '\0';
    tm_wire_buf_init(&rep->body);
    rep->has_body = false;
}

void tm_cmd_reply_reset(tm_cmd_reply_t *rep)
{
    rep->status = 0;
    rep->message[0] = '\0';
    tm_wire_buf_clear(&rep->body);
    rep->has_body = false;
}

void tm_cmd_reply_destroy(tm_cmd_reply_t *rep)
{
    tm_wire_buf_destroy(&rep->body);
    rep->has_body = false;
}

static void s_vmsg(tm_cmd_reply_t *rep, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void s_vmsg(tm_cmd_reply_t *rep, const char *fmt, va_list ap)
{
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
}

int tm_cmd_reply_error(tm_cmd_reply_t *rep, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(rep, fmt, ap);
    va_end(ap);
    rep->status = status;
    tm_wire_buf_clear(&rep->body);
    rep->has_body = false;
    return status;
}

static void s_msg(tm_cmd_reply_t *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_msg(tm_cmd_reply_t *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vmsg(rep, fmt, ap);
    va_end(ap);
}

/* Start a fresh body; returns its packer. */
static msgpack_packer *s_body(tm_cmd_reply_t *rep)
{
    tm_wire_buf_clear(&rep->body);
    rep->has_body = true;
    return &rep->body.pk;
}

/* Final check of a built body. */
static int s_done(tm_cmd_reply_t *rep)
{
    if (tm_wire_buf_ok(&rep->body) != 0) {
        return tm_cmd_reply_error(rep, TM_ERR_NOMEM,
                                  "out of memory building the reply");
    }
    return rep->status;
}

/* ---- parsing ------------------------------------------------------------ */

static void s_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int s_usage(const tm_cmd_info_t *c, char *err, size_t errlen,
                   const char *why)
{
    s_err(err, errlen, "%s: %s (usage: %s%s%s)", c->name, why, c->name,
          c->usage[0] ? " " : "", c->usage);
    return TM_ERR_USAGE;
}

static int s_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }
    }
    return n > 0 && n < TM_MODEL_NAME_MAX;
}

/* A whole decimal number in [lo, hi]; what says what it is for the message
 * ("--limit takes a whole number"), which names the range and the value. */
static int s_number(const tm_cmd_info_t *c, const char *what, const char *v,
                    uint64_t lo, uint64_t hi, uint64_t *out, char *err,
                    size_t errlen)
{
    char why[256];
    if (tm_config_parse_u64(v, false, lo, hi, out) == 0) {
        return 0;
    }
    snprintf(why, sizeof why, "%s in %llu..%llu, got '%.40s'", what,
             (unsigned long long)lo, (unsigned long long)hi, v);
    return s_usage(c, err, errlen, why);
}

static int s_bad_id(const char *id, char *err, size_t errlen)
{
    s_err(err, errlen,
          "bad actor id '%.80s': ids are 1-%u letters, digits, '_' or '-'", id,
          TM_ID_MAX);
    return TM_ERR_BAD_ID;
}

/* NAME=VALUE into p. */
static int s_parse_assign(const tm_cmd_info_t *c, const char *a,
                          tm_cmd_param_t *p, char *err, size_t errlen)
{
    const char *eq = strchr(a, '=');
    if (eq == NULL || eq == a) {
        char why[160];
        snprintf(why, sizeof why, "expected NAME=VALUE, got '%.80s'", a);
        return s_usage(c, err, errlen, why);
    }
    size_t n = (size_t)(eq - a);
    if (n > TM_MODEL_NAME_MAX) {
        n = TM_MODEL_NAME_MAX;
    }
    memcpy(p->name, a, n);
    p->name[n] = '\0';
    if (!s_name_valid(p->name)) {
        s_err(err, errlen,
              "%s: bad name '%.40s' in '%.80s': names are letters, digits "
              "and '_'",
              c->name, p->name, a);
        return TM_ERR_USAGE;
    }
    int rc = tm_config_parse_f64(eq + 1, &p->value);
    if (rc == TM_ERR_RANGE) {
        s_err(err, errlen,
              "bad parameter value '%.80s': '%.40s' is out of the range of a "
              "double",
              a, eq + 1);
    } else if (rc != 0) {
        s_err(err, errlen,
              "bad parameter value '%.80s': '%.40s' is not a finite number%s",
              a, eq + 1,
              strpbrk(eq + 1, "xX") != NULL ? " (write it in decimal)" : "");
    }
    return rc != 0 ? TM_ERR_BAD_VALUE : 0;
}

/* NAME=VALUE into params[*n], refusing a name given before. */
static int s_add_assign(const tm_cmd_info_t *c, const char *a,
                        tm_cmd_param_t *params, size_t *n, char *err,
                        size_t errlen)
{
    int rc = s_parse_assign(c, a, &params[*n], err, errlen);
    for (size_t i = 0; i < *n && rc == 0; i++) {
        if (strcmp(params[i].name, params[*n].name) == 0) {
            s_err(err, errlen, "%s: parameter '%s' is given twice", c->name,
                  params[i].name);
            rc = TM_ERR_USAGE;
        }
    }
    if (rc == 0) {
        (*n)++;
    }
    return rc;
}

/* ID.PORT into p. */
static int s_parse_port(const tm_cmd_info_t *c, const char *a, tm_cmd_port_t *p,
                        char *err, size_t errlen)
{
    const char *dot = strchr(a, '.');
    if (dot == NULL || dot == a || dot[1] == '\0') {
        char why[160];
        snprintf(why, sizeof why, "expected ACTOR.PORT, got '%.80s'", a);
        return s_usage(c, err, errlen, why);
    }
    size_t n = (size_t)(dot - a);
    char id[TM_ID_MAX + 2];
    if (n > TM_ID_MAX) {
        n = TM_ID_MAX + 1;
    }
    memcpy(id, a, n);
    id[n] = '\0';
    if (!tm_rt_id_valid(id)) {
        return s_bad_id(id, err, errlen);
    }
    if (!s_name_valid(dot + 1)) {
        s_err(err, errlen,
              "%s: bad port name '%.40s': names are letters, digits and '_'",
              c->name, dot + 1);
        return TM_ERR_USAGE;
    }
    memcpy(p->actor, id, n + 1);
    memcpy(p->port, dot + 1, strlen(dot + 1) + 1);
    return 0;
}

const char *tm_cmd_options(tm_cmd_kind_t k)
{
    switch (k) {
    case TM_CMD_ACTORS:
        return "node model limit";
    case TM_CMD_IDS:
        return "limit";
    case TM_CMD_SPAWN:
    case TM_CMD_SPAWN_MANY:
        return "model fidelity node period param";
    case TM_CMD_RUN:
        return "ticks";
    case TM_CMD_WATCH:
        return "count";
    case TM_CMD_TOP:
        return "limit interval count";
    default:
        return "";
    }
}

static int s_option(tm_cmd_t *cmd, const char *opt, const char *val, char *err,
                    size_t errlen)
{
    const tm_cmd_info_t *c = cmd->info;
    char why[200];
    if (strcmp(opt, "model") == 0) {
        if (val[0] == '\0' || strlen(val) > TM_CMD_SPEC_MAX) {
            return s_usage(c, err, errlen, "bad --model value");
        }
        snprintf(cmd->model, sizeof cmd->model, "%s", val);
        cmd->has_model = true;
    } else if (strcmp(opt, "node") == 0) {
        if (!tm_config_name_valid(val)) {
            snprintf(why, sizeof why, "bad node name '%.64s'", val);
            return s_usage(c, err, errlen, why);
        }
        snprintf(cmd->node, sizeof cmd->node, "%s", val);
        cmd->has_node = true;
    } else if (strcmp(opt, "fidelity") == 0) {
        if (tm_fidelity_parse(val, &cmd->fidelity) != 0) {
            s_err(err, errlen,
                  "%s: unknown fidelity '%.40s' (high, medium or low)", c->name,
                  val);
            return TM_ERR_UNKNOWN_FIDELITY;
        }
        cmd->has_fidelity = true;
    } else if (strcmp(opt, "period") == 0) {
        uint64_t p = 0;
        int rc = s_number(c, "--period takes a whole number of ticks", val, 1,
                          UINT32_MAX, &p, err, errlen);
        if (rc != 0) {
            return rc;
        }
        cmd->period = (uint32_t)p;
    } else if (strcmp(opt, "param") == 0) {
        if (cmd->n_params >= TM_CMD_MAX_PARAMS) {
            return s_usage(c, err, errlen, "too many --param values");
        }
        return s_add_assign(c, val, cmd->params, &cmd->n_params, err, errlen);
    } else if (strcmp(opt, "limit") == 0) {
        return s_number(c, "--limit takes a whole number", val, 1, UINT32_MAX,
                        &cmd->limit, err, errlen);
    } else if (strcmp(opt, "count") == 0) {
        return s_number(c, "--count takes a whole number", val, 1,
                        UINT64_MAX / 2, &cmd->count, err, errlen);
    } else if (strcmp(opt, "ticks") == 0) {
        return s_number(c, "--ticks takes a whole number of ticks", val, 1,
                        S_TICKS_MAX, &cmd->ticks, err, errlen);
    } else if (strcmp(opt, "interval") == 0) {
        if (tm_config_parse_f64(val, &cmd->interval) != 0 ||
            cmd->interval < 0.05 || cmd->interval > 3600) {
            return s_usage(c, err, errlen,
                           "--interval takes seconds in [0.05, 3600]");
        }
    } else {
        return TM_ERR_INTERNAL;
    }
    return 0;
}

static int s_word_in(const char *list, const char *w)
{
    return s_alias_match(list, w);
}

/* Bit of an option in the set of options seen; --param may repeat. */
static unsigned s_option_bit(const char *opt)
{
    static const char *const all[] = {"model", "fidelity", "node",  "period",
                                      "limit", "count",    "ticks", "interval"};
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(all[i], opt) == 0) {
            return 1u << i;
        }
    }
    return 0;
}

/* min..max positional arguments; missing says what is missing. */
static int s_arg_count(const tm_cmd_info_t *c, int npos, int min, int max,
                       const char *missing, char *err, size_t errlen)
{
    if (npos < min) {
        return s_usage(c, err, errlen, missing);
    }
    if (npos > max) {
        return s_usage(c, err, errlen, "too many arguments");
    }
    return 0;
}

/* An actor id argument into out->id. */
static int s_take_id(const char *a, tm_cmd_t *out, char *err, size_t errlen)
{
    if (!tm_rt_id_valid(a)) {
        return s_bad_id(a, err, errlen);
    }
    snprintf(out->id, sizeof out->id, "%s", a);
    return 0;
}

/* spawn-many PREFIX COUNT: every id made, up to PREFIX<COUNT-1>, must be
 * a valid id. */
static int s_take_prefix(const tm_cmd_info_t *c, const char *prefix,
                         const char *count, tm_cmd_t *out, char *err,
                         size_t errlen)
{
    char last[TM_ID_MAX + 32];
    int rc = s_number(c, "COUNT must be a whole number", count, 1,
                      TM_CMD_SPAWN_MAX, &out->count, err, errlen);
    if (rc != 0) {
        return rc;
    }
    snprintf(last, sizeof last, "%.80s%llu", prefix,
             (unsigned long long)(out->count - 1));
    if (!tm_rt_id_valid(last)) {
        s_err(err, errlen,
              "bad actor id prefix '%.80s': PREFIX<N> must be 1-%u "
              "letters, digits, '_' or '-'",
              prefix, TM_ID_MAX);
        return TM_ERR_BAD_ID;
    }
    snprintf(out->id, sizeof out->id, "%s", prefix);
    return 0;
}

/* The positional arguments of each command, after the options. */
static int s_positional(const tm_cmd_info_t *c, tm_cmd_t *out,
                        const char *const *pos, int npos, char *err,
                        size_t errlen)
{
    char why[256];
    int rc = 0;
    switch (c->kind) {
    case TM_CMD_HELP: {
        rc = s_arg_count(c, npos, 0, 1, "", err, errlen);
        if (rc != 0 || npos == 0) {
            break;
        }
        const tm_cmd_info_t *topic = tm_cmd_lookup(pos[0]);
        if (topic == NULL || (topic->flags & TM_CMD_F_HIDDEN)) {
            s_err(err, errlen, "unknown command '%.64s' (try help)", pos[0]);
            return TM_ERR_UNKNOWN_COMMAND;
        }
        snprintf(out->topic, sizeof out->topic, "%s", pos[0]);
        break;
    }
    case TM_CMD_NODES:
    case TM_CMD_ACTORS:
    case TM_CMD_STATS:
    case TM_CMD_HASH:
    case TM_CMD_CANCEL:
    case TM_CMD_TOP:
        if (npos > 0) {
            snprintf(why, sizeof why, "unexpected argument '%.64s'", pos[0]);
            return s_usage(c, err, errlen, why);
        }
        if (c->kind == TM_CMD_TOP && out->limit > S_TOP_MAX) {
            return s_usage(c, err, errlen, "--limit is at most 1000");
        }
        break;
    case TM_CMD_MODELS:
        rc = s_arg_count(c, npos, 0, 1, "", err, errlen);
        if (rc == 0 && npos == 1) {
            if (strlen(pos[0]) > TM_CMD_SPEC_MAX) {
                snprintf(why, sizeof why, "bad model family '%.64s'", pos[0]);
                return s_usage(c, err, errlen, why);
            }
            snprintf(out->model, sizeof out->model, "%s", pos[0]);
        }
        break;
    case TM_CMD_IDS:
        rc = s_arg_count(c, npos, 0, 1, "", err, errlen);
        if (rc == 0 && npos == 1) {
            if (strlen(pos[0]) > TM_ID_MAX) {
                return s_bad_id(pos[0], err, errlen);
            }
            snprintf(out->id, sizeof out->id, "%s", pos[0]);
        }
        break;
    case TM_CMD_SPAWN:
    case TM_CMD_SPAWN_MANY: {
        int want = c->kind == TM_CMD_SPAWN ? 1 : 2;
        rc = s_arg_count(c, npos, want, want, "missing arguments", err, errlen);
        if (rc == 0 && !out->has_model) {
            rc = s_usage(c, err, errlen, "missing --model");
        }
        if (rc == 0) {
            rc = c->kind == TM_CMD_SPAWN
                     ? s_take_id(pos[0], out, err, errlen)
                     : s_take_prefix(c, pos[0], pos[1], out, err, errlen);
        }
        break;
    }
    case TM_CMD_INSPECT:
    case TM_CMD_KILL:
        rc = s_arg_count(c, npos, 1, 1, "missing ID", err, errlen);
        if (rc == 0) {
            rc = s_take_id(pos[0], out, err, errlen);
        }
        break;
    case TM_CMD_LINK:
    case TM_CMD_UNLINK:
        rc = s_arg_count(c, npos, 2, 2, "missing arguments", err, errlen);
        if (rc == 0) {
            rc = s_parse_port(c, pos[0], &out->src, err, errlen);
        }
        if (rc == 0) {
            rc = s_parse_port(c, pos[1], &out->dst, err, errlen);
        }
        break;
    case TM_CMD_SET:
        rc = s_arg_count(c, npos, 2, npos, "missing arguments", err, errlen);
        if (rc == 0) {
            rc = s_take_id(pos[0], out, err, errlen);
        }
        if (rc == 0 && npos - 1 > (int)TM_CMD_MAX_PARAMS) {
            rc = s_usage(c, err, errlen, "too many assignments");
        }
        for (int i = 1; i < npos && rc == 0; i++) {
            rc = s_add_assign(c, pos[i], out->params, &out->n_params, err,
                              errlen);
        }
        break;
    case TM_CMD_RUN:
        if (npos == 1 && out->ticks == 0) {
            rc = s_number(c, "N must be a whole number of ticks", pos[0], 1,
                          S_TICKS_MAX, &out->ticks, err, errlen);
            if (rc != 0) {
                return rc;
            }
        } else if (npos > 0) {
            return s_usage(c, err, errlen, "too many arguments");
        }
        if (out->ticks == 0) {
            return s_usage(c, err, errlen, "missing --ticks N");
        }
        break;
    case TM_CMD_CLOCK:
        rc = s_arg_count(c, npos, 0, 1, "", err, errlen);
        if (rc == 0 && npos == 1) {
            if (tm_clock_parse(pos[0], &out->clock) != 0) {
                snprintf(why, sizeof why, "unknown clock mode '%.40s'", pos[0]);
                return s_usage(c, err, errlen, why);
            }
            out->has_clock = true;
        }
        break;
    case TM_CMD_WATCH:
        rc = s_arg_count(c, npos, 1, npos, "missing ID", err, errlen);
        if (rc == 0) {
            rc = s_take_id(pos[0], out, err, errlen);
        }
        if (rc == 0 && npos - 1 > (int)TM_CMD_MAX_SIGNALS) {
            rc = s_usage(c, err, errlen, "too many signals");
        }
        for (int i = 1; i < npos && rc == 0; i++) {
            if (!s_name_valid(pos[i])) {
                snprintf(why, sizeof why, "bad signal name '%.40s'", pos[i]);
                return s_usage(c, err, errlen, why);
            }
            for (size_t j = 0; j < out->n_signals; j++) {
                if (strcmp(out->signals[j], pos[i]) == 0) {
                    snprintf(why, sizeof why, "signal '%s' is given twice",
                             pos[i]);
                    return s_usage(c, err, errlen, why);
                }
            }
            snprintf(out->signals[out->n_signals++], TM_MODEL_NAME_MAX + 1,
                     "%s", pos[i]);
        }
        break;
    case TM_CMD_COUNT:
        return TM_ERR_INTERNAL;
    }
    return rc;
}

int tm_cmd_parse(int argc, const char *const *argv, tm_cmd_t *out, char *err,
                 size_t errlen)
{
    const char *pos[S_POSITIONAL_MAX];
    int npos = 0;
    unsigned seen = 0; /* options given, to refuse one given twice */
    char why[256];
    memset(out, 0, sizeof *out);
    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        s_err(err, errlen, "empty command (try help)");
        return TM_ERR_USAGE;
    }
    const tm_cmd_info_t *c = tm_cmd_lookup(argv[0]);
    if (c == NULL) {
        s_err(err, errlen, "unknown command '%.64s' (try help)", argv[0]);
        return TM_ERR_UNKNOWN_COMMAND;
    }
    out->kind = c->kind;
    out->info = c;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a == NULL) {
            return s_usage(c, err, errlen, "missing argument");
        }
        if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
            char opt[32];
            const char *val = NULL;
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            if (n >= sizeof opt) {
                n = sizeof opt - 1;
            }
            memcpy(opt, a + 2, n);
            opt[n] = '\0';
            if (!s_word_in(tm_cmd_options(c->kind), opt)) {
                snprintf(why, sizeof why, "unknown option --%s", opt);
                return s_usage(c, err, errlen, why);
            }
            if (seen & s_option_bit(opt)) {
                snprintf(why, sizeof why, "--%s is given twice", opt);
                return s_usage(c, err, errlen, why);
            }
            seen |= s_option_bit(opt);
            if (eq != NULL) {
                val = eq + 1;
            } else if (i + 1 < argc && argv[i + 1] != NULL) {
                val = argv[++i];
            } else {
                snprintf(why, sizeof why, "--%s needs a value", opt);
                return s_usage(c, err, errlen, why);
            }
            int rc = s_option(out, opt, val, err, errlen);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (npos >= S_POSITIONAL_MAX) {
            return s_usage(c, err, errlen, "too many arguments");
        }
        pos[npos++] = a;
    }
    return s_positional(c, out, pos, npos, err, errlen);
}

/* ---- helpers for execution ---------------------------------------------- */

void tm_cmd_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

/* "a, b, c" of variable names into buf. */
static const char *s_names(const tm_var_t *v, uint32_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, cap, "none");
        return buf;
    }
    for (uint32_t i = 0; i < n && off < cap; i++) {
        int w =
            snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", v[i].name);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
    return buf;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Commit a batch after any checkpoint in flight, so the store sees writes
 * in the order the node made them. */
static int s_commit(tm_cmd_ctx_t *ctx, tm_store_batch_t *b)
{
    if (ctx->writer != NULL) {
        tm_writer_wait(ctx->writer);
    }
    return tm_store_batch_commit(b);
}

static int s_store_failed(tm_cmd_reply_t *rep, int rc)
{
    return tm_cmd_reply_error(rep, rc,
                              "could not store the change, nothing was "
                              "changed: %s",
                              tm_err_str(rc));
}

static int s_unknown_actor(tm_cmd_reply_t *rep, const char *id)
{
    return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'",
                              id);
}

static void s_pack_model(msgpack_packer *pk, const tm_model_t *m)
{
    tm_wire_pack_kv_str(pk, "model", m->family);
    tm_wire_pack_kv_str(pk, "version", m->version);
    tm_wire_pack_kv_str(pk, "fidelity", tm_fidelity_name(m->fidelity));
}

/* Catalog lists: the distinct families (family NULL), or the distinct
 * versions of one family. */
static bool s_listed(const tm_model_t *m, const char *family)
{
    return family == NULL || strcmp(m->family, family) == 0;
}

static const char *s_list_item(const tm_model_t *m, const char *family)
{
    return family != NULL ? m->version : m->family;
}

/* The list as "a, b, c" into buf. Returns whether any catalog entry was
 * listed (false: the family is unknown). */
static bool s_catalog_list(const char *family, char *buf, size_t cap)
{
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    size_t off = 0;
    bool found = false;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!s_listed(all[i], family)) {
            continue;
        }
        const char *item = s_list_item(all[i], family);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = s_listed(all[j], family) &&
                  strcmp(s_list_item(all[j], family), item) == 0;
        }
        found = true;
        if (!dup && off < cap) {
            int w =
                snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", item);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    return found;
}

int tm_cmd_find_model(const tm_cmd_t *cmd, const tm_model_t **out,
                      tm_cmd_reply_t *rep)
{
    char family[TM_CMD_SPEC_MAX + 1];
    const char *version = NULL;
    char known[512];
    snprintf(family, sizeof family, "%s", cmd->model);
    char *at = strchr(family, '@');
    if (at != NULL) {
        *at = '\0';
        version = at + 1;
    }
    if (!s_catalog_list(family, known, sizeof known)) {
        s_catalog_list(NULL, known, sizeof known);
        return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_MODEL,
                                  "unknown model family '%s' (known: %s)",
                                  family, known);
    }
    if (version != NULL && version[0] == '\0') {
        return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_VERSION,
                                  "empty version after '@' for model %s "
                                  "(known versions: %s)",
                                  family, known);
    }
    int rc = 0;
    if (cmd->has_fidelity) {
        rc = tm_models_find(family, version, cmd->fidelity, out);
    } else {
        rc = TM_ERR_UNKNOWN_FIDELITY;
        for (int f = TM_FIDELITY_HIGH; f < TM_FIDELITY_COUNT; f++) {
            rc = tm_models_find(family, version, (tm_fidelity_t)f, out);
            if (rc != TM_ERR_UNKNOWN_FIDELITY) {
                break;
            }
        }
    }
    if (rc == TM_ERR_UNKNOWN_VERSION) {
        return tm_cmd_reply_error(rep, rc,
                                  "unknown version %s of model %s (known "
                                  "versions: %s)",
                                  version, family, known);
    }
    if (rc == TM_ERR_UNKNOWN_FIDELITY) {
        return tm_cmd_reply_error(
            rep, rc, "model %s%s%s has no %s tier", family, version ? "@" : "",
            version ? version : "",
            cmd->has_fidelity ? tm_fidelity_name(cmd->fidelity) : "usable");
    }
    if (rc != 0) {
        return tm_cmd_reply_error(rep, rc, "model %s: %s", cmd->model,
                                  tm_err_str(rc));
    }
    return 0;
}

/* Check --node against this node (single-node mesh). */
static int s_check_node(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_cmd_reply_t *rep)
{
    if (cmd->has_node && strcmp(cmd->node, ctx->info.name) != 0) {
        return tm_cmd_reply_error(rep, TM_ERR_NOT_FOUND,
                                  "unknown node '%s' (this mesh has one "
                                  "node: %s)",
                                  cmd->node, ctx->info.name);
    }
    return 0;
}

/* Spawn parameters: model defaults overridden by --param, each checked. */
static int s_spawn_params(const tm_cmd_t *cmd, const tm_model_t *m,
                          double *params, tm_cmd_reply_t *rep)
{
    char names[512];
    for (uint32_t i = 0; i < m->n_params; i++) {
        params[i] = m->params[i].def;
    }
    for (size_t j = 0; j < cmd->n_params; j++) {
        const tm_cmd_param_t *p = &cmd->params[j];
        int i = tm_model_var_index(m->params, m->n_params, p->name);
        if (i < 0) {
            return tm_cmd_reply_error(
                rep, TM_ERR_UNKNOWN_PORT,
                "model %s@%s has no parameter '%s' (parameters: %s)", m->family,
                m->version, p->name,
                s_names(m->params, m->n_params, names, sizeof names));
        }
        const tm_var_t *v = &m->params[i];
        if (!(p->value >= v->min && p->value <= v->max)) {
            return tm_cmd_reply_error(
                rep, TM_ERR_BAD_VALUE,
                "bad parameter value: %s = %.17g is outside [%g, %g] %s "
                "for %s@%s",
                p->name, p->value, v->min, v->max, v->unit, m->family,
                m->version);
        }
        params[i] = p->value;
    }
    return 0;
}

/* What spawn and spawn-many check before they create anything: the
 * model, the node and the parameters (into params). */
static int s_spawn_check(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                         const tm_model_t **m, double *params,
                         tm_cmd_reply_t *rep)
{
    int rc = tm_cmd_find_model(cmd, m, rep);
    if (rc == 0) {
        rc = s_check_node(ctx, cmd, rep);
    }
    if (rc == 0) {
        rc = s_spawn_params(cmd, *m, params, rep);
    }
    return rc;
}

static int s_spawn_error(tm_cmd_reply_t *rep, int rc, const char *id,
                         const tm_model_t *m)
{
    switch (rc) {
    case TM_ERR_DUPLICATE_ACTOR:
        return tm_cmd_reply_error(rep, rc, "actor id '%s' already exists", id);
    case TM_ERR_BAD_ID:
        return tm_cmd_reply_error(rep, rc,
                                  "bad actor id '%s': ids are 1-%u letters, "
                                  "digits, '_' or '-'",
                                  id, TM_ID_MAX);
    case TM_ERR_BAD_VALUE:
        return tm_cmd_reply_error(rep, rc,
                                  "bad parameter value: %s@%s refused the "
                                  "parameters of '%s' (initial state "
                                  "invalid)",
                                  m->family, m->version, id);
    default:
        return tm_cmd_reply_error(rep, rc, "cannot spawn '%s': %s", id,
                                  tm_err_str(rc));
    }
}

/* ---- commands ----------------------------------------------------------- */

static int s_help(const tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    const tm_cmd_info_t *one = NULL;
    if (cmd->topic[0] != '\0') {
        one = tm_cmd_lookup(cmd->topic);
        if (one == NULL) {
            return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_COMMAND,
                                      "unknown command '%s' (try help)",
                                      cmd->topic);
        }
    }
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        shown +=
            (one == NULL || one == &t[i]) && !(t[i].flags & TM_CMD_F_HIDDEN);
    }
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_array(pk, shown);
    for (size_t i = 0; i < n; i++) {
        if ((one != NULL && one != &t[i]) || (t[i].flags & TM_CMD_F_HIDDEN)) {
            continue;
        }
        msgpack_pack_map(pk, 4);
        tm_wire_pack_kv_str(pk, "name", t[i].name);
        tm_wire_pack_kv_str(pk, "aliases", t[i].aliases);
        tm_wire_pack_kv_str(pk, "usage", t[i].usage);
        tm_wire_pack_kv_str(pk, "summary", t[i].summary);
    }
    return s_done(rep);
}

static void s_pack_node(tm_cmd_ctx_t *ctx, msgpack_packer *pk)
{
    tm_rt_stats_t st;
    tm_rt_stats(ctx->rt, &st);
    msgpack_pack_map(pk, 9);
    tm_wire_pack_kv_str(pk, "name", ctx->info.name);
    tm_wire_pack_kv_str(pk, "site", ctx->info.site);
    tm_wire_pack_kv_str(pk, "state", ctx->info.state);
    tm_wire_pack_kv_u64(pk, "actors", st.actors);
    tm_wire_pack_kv_u64(pk, "tick", st.tick);
    tm_wire_pack_kv_str(pk, "clock", ctx->info.clock);
    tm_wire_pack_kv_str(pk, "endpoint", ctx->info.endpoint);
    tm_wire_pack_kv_u64(pk, "workers", st.workers);
    tm_wire_pack_kv_f64(pk, "h", tm_rt_h(ctx->rt));
}

static int s_nodes(tm_cmd_ctx_t *ctx, tm_cmd_reply_t *rep)
{
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_array(pk, 1);
    s_pack_node(ctx, pk);
    return s_done(rep);
}

static int s_stats(tm_cmd_ctx_t *ctx, tm_cmd_reply_t *rep)
{
    tm_rt_stats_t st;
    tm_store_stats_t ss;
    tm_rt_stats(ctx->rt, &st);
    tm_store_stats(ctx->store, &ss);
    const tm_cmd_node_info_t *in = &ctx->info;
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 22);
    tm_wire_pack_kv_str(pk, "node", in->name);
    tm_wire_pack_kv_str(pk, "site", in->site);
    tm_wire_pack_kv_str(pk, "state", in->state);
    tm_wire_pack_kv_u64(pk, "tick", st.tick);
    tm_wire_pack_kv_f64(pk, "t", (double)st.tick * tm_rt_h(ctx->rt));
    tm_wire_pack_kv_f64(pk, "h", tm_rt_h(ctx->rt));
    tm_wire_pack_kv_str(pk, "clock", in->clock);
    tm_wire_pack_kv_f64(pk, "lag_s", in->lag_s);
    tm_wire_pack_kv_u64(pk, "actors", st.actors);
    tm_wire_pack_kv_u64(pk, "links", st.links);
    tm_wire_pack_kv_u64(pk, "groups", st.groups);
    tm_wire_pack_kv_u64(pk, "workers", st.workers);
    tm_wire_pack_kv_u64(pk, "steps", st.steps);
    tm_wire_pack_kv_u64(pk, "faults", st.faults);
    tm_wire_pack_kv_f64(pk, "steps_per_s", in->steps_per_s);
    tm_wire_pack_kv_f64(pk, "ticks_per_s", in->ticks_per_s);
    tm_wire_pack_kv_f64(pk, "last_tick_us", st.last_tick_ns / 1e3);
    tm_wire_pack_kv_f64(pk, "uptime_s", in->uptime_s);
    tm_wire_pack_str(pk, "shards");
    unsigned nw = st.workers < 64 ? st.workers : 64;
    msgpack_pack_array(pk, nw);
    for (unsigned w = 0; w < nw; w++) {
        msgpack_pack_map(pk, 3);
        tm_wire_pack_kv_u64(pk, "worker", w);
        tm_wire_pack_kv_u64(pk, "actors", st.shard_actors[w]);
        tm_wire_pack_kv_f64(pk, "busy_us", st.busy_ns[w] / 1e3);
    }
    tm_wire_pack_str(pk, "checkpoint");
    msgpack_pack_map(pk, 6);
    tm_wire_pack_kv_u64(pk, "every", in->ckpt_every);
    tm_wire_pack_kv_u64(pk, "tick", in->ckpt_tick);
    tm_wire_pack_kv_u64(pk, "count", in->ckpt_count);
    tm_wire_pack_kv_u64(pk, "failed", in->ckpt_failed);
    tm_wire_pack_kv_f64(pk, "last_ms", in->ckpt_ms);
    tm_wire_pack_kv_bool(pk, "pending", in->ckpt_pending);
    tm_wire_pack_str(pk, "store");
    msgpack_pack_map(pk, 4);
    tm_wire_pack_kv_u64(pk, "map_size", ss.map_size);
    tm_wire_pack_kv_u64(pk, "used_bytes", ss.used_bytes);
    tm_wire_pack_kv_u64(pk, "commits", ss.commits);
    tm_wire_pack_kv_u64(pk, "grows", ss.grows);
    tm_wire_pack_str(pk, "console");
    msgpack_pack_map(pk, 4);
    tm_wire_pack_kv_u64(pk, "requests", in->requests);
    tm_wire_pack_kv_u64(pk, "errors", in->errors);
    tm_wire_pack_kv_u64(pk, "dropped", in->dropped);
    tm_wire_pack_kv_u64(pk, "streams", in->streams);
    return s_done(rep);
}

static void s_pack_var_names(msgpack_packer *pk, const char *key,
                             const tm_var_t *v, uint32_t n)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_map(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        tm_wire_pack_kv_str(pk, v[i].name, v[i].unit);
    }
}

static int s_models(const tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    const char *family = cmd->model; /* "" lists every family */
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        shown += family[0] == '\0' || strcmp(all[i]->family, family) == 0;
    }
    if (shown == 0) {
        /* the precise message for a bad family or version; a good
         * FAMILY@VERSION is still not a family name */
        const tm_model_t *m = NULL;
        char known[512];
        int rc = tm_cmd_find_model(cmd, &m, rep);
        if (rc == 0) {
            s_catalog_list(NULL, known, sizeof known);
            rc = tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_MODEL,
                                    "unknown model family '%s' (known: %s)",
                                    family, known);
        }
        return rc;
    }
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_array(pk, shown);
    for (size_t i = 0; i < n; i++) {
        const tm_model_t *m = all[i];
        if (family[0] != '\0' && strcmp(m->family, family) != 0) {
            continue;
        }
        msgpack_pack_map(pk, 8);
        s_pack_model(pk, m);
        tm_wire_pack_kv_str(pk, "summary", m->summary);
        s_pack_var_names(pk, "states", m->states, m->n_states);
        s_pack_var_names(pk, "inputs", m->inputs, m->n_inputs);
        s_pack_var_names(pk, "outputs", m->outputs, m->n_outputs);
        s_pack_var_names(pk, "params", m->params, m->n_params);
    }
    return s_done(rep);
}

/* Room for element n of a growing array *v of *cap elements of size
 * bytes (doubling, from first). TM_ERR_NOMEM leaves *v as it was. */
static int s_reserve(void **v, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap) {
        return 0;
    }
    size_t grown = *cap > 0 ? *cap * 2 : first;
    void *p = realloc(*v, grown * size);
    if (p == NULL) {
        return TM_ERR_NOMEM;
    }
    *v = p;
    *cap = grown;
    return 0;
}

/* Sorted list of actors (borrowed views, valid until the runtime
 * changes). */
typedef struct {
    const char *id;
    const tm_model_t *model;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    const tm_cmd_t *cmd;
    const char *family; /* --model filter */
    const char *version;
    const char *prefix;
    int rc;
} s_list_t;

static int s_list_cb(const tm_rt_actor_t *a, void *arg)
{
    s_list_t *l = arg;
    if (l->family != NULL && strcmp(a->model->family, l->family) != 0) {
        return 0;
    }
    if (l->version != NULL && strcmp(a->model->version, l->version) != 0) {
        return 0;
    }
    if (l->prefix != NULL &&
        strncmp(a->id, l->prefix, strlen(l->prefix)) != 0) {
        return 0;
    }
    void *rows = l->rows;
    l->rc = s_reserve(&rows, &l->cap, l->n, sizeof *l->rows, 1024);
    l->rows = rows;
    if (l->rc != 0) {
        return 1;
    }
    l->rows[l->n].id = a->id;
    l->rows[l->n].model = a->model;
    l->n++;
    return 0;
}

static int s_row_cmp(const void *a, const void *b)
{
    const s_row_t *x = a;
    const s_row_t *y = b;
    return strcmp(x->id, y->id);
}

static int s_collect(tm_cmd_ctx_t *ctx, s_list_t *l)
{
    tm_rt_foreach(ctx->rt, s_list_cb, l);
    if (l->rc != 0) {
        return l->rc;
    }
    if (l->n > 1) {
        qsort(l->rows, l->n, sizeof *l->rows, s_row_cmp);
    }
    return 0;
}

/* Send a list in parts: rows [from, to) per part. */
typedef void (*s_row_pack_fn)(tm_cmd_ctx_t *ctx, msgpack_packer *pk,
                              const s_row_t *row);

static int s_send_rows(tm_cmd_ctx_t *ctx, const s_row_t *rows, size_t n,
                       size_t per_part, s_row_pack_fn pack, tm_cmd_reply_t *rep,
                       tm_cmd_emit_fn emit, void *arg)
{
    size_t i = 0;
    if (emit == NULL) {
        per_part = n > 0 ? n : 1;
    }
    do {
        size_t k = n - i < per_part ? n - i : per_part;
        msgpack_packer *pk = s_body(rep);
        msgpack_pack_array(pk, k);
        for (size_t j = 0; j < k; j++) {
            pack(ctx, pk, &rows[i + j]);
        }
        i += k;
        if (tm_wire_buf_ok(&rep->body) != 0) {
            return s_done(rep);
        }
        if (i < n) {
            int rc = emit(arg, rep);
            if (rc != 0) {
                return tm_cmd_reply_error(rep, rc, "reply aborted: %s",
                                          tm_err_str(rc));
            }
        }
    } while (i < n);
    return s_done(rep);
}

static void s_pack_actor_row(tm_cmd_ctx_t *ctx, msgpack_packer *pk,
                             const s_row_t *row)
{
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "id", row->id);
    tm_wire_pack_kv_str(pk, "node", ctx->info.name);
    s_pack_model(pk, row->model);
}

static void s_pack_id_row(tm_cmd_ctx_t *ctx, msgpack_packer *pk,
                          const s_row_t *row)
{
    (void)ctx;
    tm_wire_pack_str(pk, row->id);
}

static int s_actors(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep,
                    tm_cmd_emit_fn emit, void *arg)
{
    s_list_t l;
    char family[TM_CMD_SPEC_MAX + 1];
    memset(&l, 0, sizeof l);
    l.cmd = cmd;
    if (cmd->has_model) {
        snprintf(family, sizeof family, "%s", cmd->model);
        char *at = strchr(family, '@');
        if (at != NULL) {
            *at = '\0';
            l.version = at + 1;
        }
        l.family = family;
    }
    int rc = 0;
    if (cmd->has_node && strcmp(cmd->node, ctx->info.name) != 0) {
        l.n = 0; /* no actor lives on another node (yet) */
    } else {
        rc = s_collect(ctx, &l);
    }
    if (rc != 0) {
        free(l.rows);
        return tm_cmd_reply_error(rep, rc, "cannot list actors: %s",
                                  tm_err_str(rc));
    }
    size_t n = l.n;
    if (cmd->limit > 0 && cmd->limit < n) {
        n = (size_t)cmd->limit;
    }
    rc = s_send_rows(ctx, l.rows, n, S_ROWS_PER_PART, s_pack_actor_row, rep,
                     emit, arg);
    if (rc == 0) {
        s_msg(rep, "%zu of %zu actors", n, l.n);
    }
    free(l.rows);
    return rc;
}

static int s_ids(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep,
                 tm_cmd_emit_fn emit, void *arg)
{
    s_list_t l;
    memset(&l, 0, sizeof l);
    l.cmd = cmd;
    l.prefix = cmd->id[0] ? cmd->id : NULL;
    int rc = s_collect(ctx, &l);
    if (rc != 0) {
        free(l.rows);
        return tm_cmd_reply_error(rep, rc, "cannot list ids: %s",
                                  tm_err_str(rc));
    }
    size_t limit = cmd->limit > 0 ? (size_t)cmd->limit : S_IDS_DEFAULT;
    size_t n = l.n < limit ? l.n : limit;
    rc = s_send_rows(ctx, l.rows, n, S_IDS_PER_PART, s_pack_id_row, rep, emit,
                     arg);
    if (rc == 0) {
        s_msg(rep, "%zu of %zu ids", n, l.n);
    }
    free(l.rows);
    return rc;
}

/* Stored links naming an actor that a spawn is creating. They are left by
 * an earlier actor of that id that was not restored at load (its records
 * stay in the store): the spawn replaces what was stored under the id, so
 * they are deleted with the same batch, or a restart would attach them to
 * the new actor. `many`: the ids are prefix0 .. prefix(count-1). */
typedef struct {
    const char *prefix;
    bool many;
    uint64_t count;
    tm_store_batch_t *b;
    int rc;
} s_stale_t;

static bool s_stale_id(const s_stale_t *st, const char *id, size_t n)
{
    size_t pl = strlen(st->prefix);
    if (n < pl || memcmp(id, st->prefix, pl) != 0) {
        return false;
    }
    if (!st->many) {
        return n == pl;
    }
    const char *d = id + pl;
    size_t dn = n - pl;
    if (dn == 0 || dn > 20 || (d[0] == '0' && dn > 1)) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < dn; i++) {
        if (d[i] < '0' || d[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(d[i] - '0');
        if (v > (UINT64_MAX - digit) / 10u) {
            return false;
        }
        v = v * 10u + digit;
    }
    return v < st->count;
}

static int s_stale_cb(const void *key, size_t klen, const void *val,
                      size_t vlen, void *arg)
{
    s_stale_t *st = arg;
    const char *k = key;
    (void)val;
    (void)vlen;
    const char *gt = memchr(k, '>', klen);
    const char *dot = memchr(k, '.', klen);
    if (gt == NULL || dot == NULL || dot > gt) {
        return 0;
    }
    const char *dst = gt + 1;
    const char *dot2 = memchr(dst, '.', klen - (size_t)(dst - k));
    if (dot2 == NULL) {
        return 0;
    }
    if (s_stale_id(st, k, (size_t)(dot - k)) ||
        s_stale_id(st, dst, (size_t)(dot2 - dst))) {
        st->rc = tm_store_batch_del(st->b, TM_DB_LINKS, key, klen);
        return st->rc != 0;
    }
    return 0;
}

static int s_del_stale_links(tm_cmd_ctx_t *ctx, tm_store_batch_t *b,
                             const char *prefix, bool many, uint64_t count)
{
    s_stale_t st = {prefix, many, count, b, 0};
    int rc = tm_store_foreach(ctx->store, TM_DB_LINKS, s_stale_cb, &st);
    return rc == 1 ? st.rc : rc;
}

static int s_spawn(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    const tm_model_t *m = NULL;
    double params[TM_MODEL_MAX_VARS];
    tm_wire_buf_t scratch;
    tm_rt_actor_t view;
    tm_store_batch_t *b = NULL;
    bool spawned = false;
    int rc = s_spawn_check(ctx, cmd, &m, params, rep);
    if (rc != 0) {
        return rc;
    }
    tm_wire_buf_init(&scratch);
    tm_rt_spawn_opts_t opts = {.params = params, .period = cmd->period};
    rc = tm_rt_spawn(ctx->rt, cmd->id, m, &opts);
    if (rc != 0) {
        s_spawn_error(rep, rc, cmd->id, m);
        goto done;
    }
    spawned = true;
    b = tm_store_batch_new(ctx->store);
    if (b == NULL) {
        rc = TM_ERR_NOMEM;
    }
    if (rc == 0) {
        rc = tm_rt_get(ctx->rt, cmd->id, &view);
    }
    if (rc == 0) {
        rc = tm_persist_put_actor(b, &view, tm_rt_tick(ctx->rt), &scratch);
    }
    if (rc == 0) {
        rc = s_del_stale_links(ctx, b, cmd->id, false, 0);
    }
    if (rc == 0) {
        rc = s_commit(ctx, b);
    }
    if (rc != 0) {
        s_store_failed(rep, rc);
        goto done;
    }
    spawned = false; /* acknowledged: keep it */
    uint64_t tick = tm_rt_tick(ctx->rt);
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 7);
    tm_wire_pack_kv_str(pk, "id", cmd->id);
    tm_wire_pack_kv_str(pk, "node", ctx->info.name);
    s_pack_model(pk, m);
    tm_wire_pack_kv_u64(pk, "period", view.period);
    tm_wire_pack_kv_u64(pk, "tick", tick);
    s_msg(rep, "spawned %s (%s@%s, %s) at tick %llu", cmd->id, m->family,
          m->version, tm_fidelity_name(m->fidelity), (unsigned long long)tick);
    rc = s_done(rep);
done:
    if (spawned) {
        tm_rt_kill(ctx->rt, cmd->id);
    }
    tm_store_batch_destroy(&b);
    tm_wire_buf_destroy(&scratch);
    return rc;
}

/* Bytes one actor of m takes at the peak of a spawn-many: the runtime's
 * arrays (state and previous state, parameters, held and current inputs,
 * two output buffers) and metadata, and its record about three times (the
 * batch, LMDB's dirty pages, the pages written). On the safe side: a pump
 * is estimated at 2.2 KB and measured at 1.4 KB. */
static uint64_t s_actor_bytes(const tm_model_t *m)
{
    uint64_t doubles =
        2u * m->n_states + m->n_params + 2u * m->n_inputs + 2u * m->n_outputs;
    uint64_t values =
        (uint64_t)m->n_states + m->n_params + m->n_inputs + m->n_outputs;
    uint64_t record =
        96 + 9 * values + strlen(m->family) + strlen(m->version) + TM_ID_MAX;
    return 512 + 8 * doubles + 3 * record;
}

/* MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read. */
static uint64_t s_mem_available(void)
{
    char line[128];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : (uint64_t)kb * 1024;
}

/* Refuse a spawn-many that the node's memory cannot hold. */
static int s_check_memory(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                          const tm_model_t *m, tm_cmd_reply_t *rep)
{
    uint64_t avail =
        ctx->mem_available > 0 ? ctx->mem_available : s_mem_available();
    uint64_t need = cmd->count * s_actor_bytes(m); /* count <= 1e7 */
    if (avail == 0 || need <= avail) {
        return 0;
    }
    return tm_cmd_reply_error(
        rep, TM_ERR_NOMEM,
        "spawn-many: %llu actors of %s@%s need about %.1f MiB, and the node "
        "has %.1f MiB available; nothing was spawned (spawn fewer at a "
        "time, or add memory)",
        (unsigned long long)cmd->count, m->family, m->version,
        (double)need / 1048576.0, (double)avail / 1048576.0);
}

static void s_kill_range(tm_rt_t *rt, const char *prefix, uint64_t n)
{
    char id[TM_ID_MAX + 32];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%llu", prefix, (unsigned long long)i);
        tm_rt_kill(rt, id);
    }
}

static int s_spawn_many(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_cmd_reply_t *rep)
{
    const tm_model_t *m = NULL;
    double params[TM_MODEL_MAX_VARS];
    char id[TM_ID_MAX + 32];
    tm_wire_buf_t scratch;
    tm_rt_actor_t view;
    tm_store_batch_t *b = NULL;
    uint64_t spawned = 0;
    double t0 = s_now();
    int rc = s_spawn_check(ctx, cmd, &m, params, rep);
    if (rc == 0) {
        rc = s_check_memory(ctx, cmd, m, rep);
    }
    if (rc != 0) {
        return rc;
    }
    tm_wire_buf_init(&scratch);
    b = tm_store_batch_new(ctx->store);
    if (b == NULL) {
        rc = tm_cmd_reply_error(rep, TM_ERR_NOMEM, "out of memory");
        goto done;
    }
    tm_rt_spawn_opts_t opts = {.params = params, .period = cmd->period};
    uint64_t tick = tm_rt_tick(ctx->rt);
    for (uint64_t i = 0; i < cmd->count; i++) {
        snprintf(id, sizeof id, "%s%llu", cmd->id, (unsigned long long)i);
        rc = tm_rt_spawn(ctx->rt, id, m, &opts);
        if (rc != 0) {
            s_spawn_error(rep, rc, id, m);
            snprintf(rep->message + strlen(rep->message),
                     sizeof rep->message - strlen(rep->message),
                     "; nothing was spawned");
            goto done;
        }
        spawned++;
        rc = tm_rt_get(ctx->rt, id, &view);
        if (rc == 0) {
            rc = tm_persist_put_actor(b, &view, tick, &scratch);
        }
        if (rc != 0) {
            s_store_failed(rep, rc);
            goto done;
        }
    }
    rc = s_del_stale_links(ctx, b, cmd->id, true, cmd->count);
    if (rc != 0) {
        s_store_failed(rep, rc);
        goto done;
    }
    double t1 = s_now();
    rc = s_commit(ctx, b);
    if (rc != 0) {
        s_store_failed(rep, rc);
        goto done;
    }
    double t2 = s_now();
    spawned = 0; /* acknowledged */
    double elapsed = t2 - t0;
    double rate = elapsed > 0 ? (double)cmd->count / elapsed : 0;
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 12);
    tm_wire_pack_kv_str(pk, "prefix", cmd->id);
    tm_wire_pack_kv_u64(pk, "count", cmd->count);
    snprintf(id, sizeof id, "%s0", cmd->id);
    tm_wire_pack_kv_str(pk, "first", id);
    snprintf(id, sizeof id, "%s%llu", cmd->id,
             (unsigned long long)(cmd->count - 1));
    tm_wire_pack_kv_str(pk, "last", id);
    tm_wire_pack_kv_str(pk, "node", ctx->info.name);
    s_pack_model(pk, m);
    tm_wire_pack_kv_u64(pk, "tick", tick);
    tm_wire_pack_kv_f64(pk, "elapsed_s", elapsed);
    tm_wire_pack_kv_f64(pk, "commit_s", t2 - t1);
    tm_wire_pack_kv_f64(pk, "rate", rate);
    s_msg(rep, "spawned %llu actors %s0..%s (%s@%s, %s) in %.3f s (%.0f/s)",
          (unsigned long long)cmd->count, cmd->id, id, m->family, m->version,
          tm_fidelity_name(m->fidelity), elapsed, rate);
    rc = s_done(rep);
done:
    if (spawned > 0) {
        s_kill_range(ctx->rt, cmd->id, spawned);
    }
    tm_store_batch_destroy(&b);
    tm_wire_buf_destroy(&scratch);
    return rc;
}

/* Links touching one actor, copied (the runtime's strings are borrowed). */
typedef struct {
    char src[TM_ID_MAX + 1];
    char output[TM_MODEL_NAME_MAX + 1];
    char dst[TM_ID_MAX + 1];
    char input[TM_MODEL_NAME_MAX + 1];
} s_link_copy_t;

typedef struct {
    const char *id;
    s_link_copy_t *v;
    size_t n, cap;
    int rc;
} s_links_t;

static int s_links_cb(const tm_rt_link_t *l, void *arg)
{
    s_links_t *ls = arg;
    if (strcmp(l->src, ls->id) != 0 && strcmp(l->dst, ls->id) != 0) {
        return 0;
    }
    void *v = ls->v;
    ls->rc = s_reserve(&v, &ls->cap, ls->n, sizeof *ls->v, 16);
    ls->v = v;
    if (ls->rc != 0) {
        return 1;
    }
    s_link_copy_t *c = &ls->v[ls->n++];
    snprintf(c->src, sizeof c->src, "%s", l->src);
    snprintf(c->output, sizeof c->output, "%s", l->output);
    snprintf(c->dst, sizeof c->dst, "%s", l->dst);
    snprintf(c->input, sizeof c->input, "%s", l->input);
    return 0;
}

static int s_links_of(tm_rt_t *rt, const char *id, s_links_t *ls)
{
    memset(ls, 0, sizeof *ls);
    ls->id = id;
    tm_rt_foreach_link(rt, s_links_cb, ls);
    return ls->rc;
}

static tm_rt_link_t s_link_view(const s_link_copy_t *c)
{
    tm_rt_link_t l = {c->src, c->output, c->dst, c->input};
    return l;
}

static void s_pack_values(msgpack_packer *pk, const char *key,
                          const tm_var_t *vars, uint32_t n, const double *v)
{
    tm_wire_pack_str(pk, key);
    msgpack_pack_map(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        tm_wire_pack_str(pk, vars[i].name);
        msgpack_pack_double(pk, v[i]);
    }
}

static int s_inspect(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                     tm_cmd_reply_t *rep)
{
    tm_rt_actor_t a;
    s_links_t ls;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return s_unknown_actor(rep, cmd->id);
    }
    int rc = s_links_of(ctx->rt, cmd->id, &ls);
    if (rc != 0) {
        free(ls.v);
        return tm_cmd_reply_error(rep, rc, "cannot list links: %s",
                                  tm_err_str(rc));
    }
    const tm_model_t *m = a.model;
    uint64_t tick = tm_rt_tick(ctx->rt);
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 19);
    tm_wire_pack_kv_str(pk, "id", a.id);
    tm_wire_pack_kv_str(pk, "node", ctx->info.name);
    s_pack_model(pk, m);
    tm_wire_pack_kv_str(pk, "summary", m->summary);
    tm_wire_pack_kv_u64(pk, "period", a.period);
    tm_wire_pack_kv_u64(pk, "shard", a.shard);
    tm_wire_pack_kv_u64(pk, "tick", tick);
    tm_wire_pack_kv_f64(pk, "t", (double)tick * tm_rt_h(ctx->rt));
    s_pack_values(pk, "state", m->states, m->n_states, a.state);
    s_pack_values(pk, "inputs", m->inputs, m->n_inputs, a.inputs);
    s_pack_values(pk, "outputs", m->outputs, m->n_outputs, a.outputs);
    s_pack_values(pk, "params", m->params, m->n_params, a.params);
    s_pack_values(pk, "held", m->inputs, m->n_inputs, a.held);
    tm_wire_pack_str(pk, "units");
    msgpack_pack_map(pk, 4);
    s_pack_var_names(pk, "state", m->states, m->n_states);
    s_pack_var_names(pk, "inputs", m->inputs, m->n_inputs);
    s_pack_var_names(pk, "outputs", m->outputs, m->n_outputs);
    s_pack_var_names(pk, "params", m->params, m->n_params);
    size_t n_in = 0;
    for (size_t i = 0; i < ls.n; i++) {
        n_in += strcmp(ls.v[i].dst, a.id) == 0;
    }
    size_t n_out = ls.n - n_in;
    size_t list_in = n_in < S_INSPECT_LINKS ? n_in : S_INSPECT_LINKS;
    size_t list_out = n_out < S_INSPECT_LINKS ? n_out : S_INSPECT_LINKS;
    tm_wire_pack_str(pk, "links");
    msgpack_pack_map(pk, 4);
    tm_wire_pack_str(pk, "in");
    msgpack_pack_array(pk, list_in);
    for (size_t i = 0, k = 0; i < ls.n && k < list_in; i++) {
        if (strcmp(ls.v[i].dst, a.id) == 0) {
            msgpack_pack_map(pk, 3);
            tm_wire_pack_kv_str(pk, "input", ls.v[i].input);
            tm_wire_pack_kv_str(pk, "src", ls.v[i].src);
            tm_wire_pack_kv_str(pk, "output", ls.v[i].output);
            k++;
        }
    }
    tm_wire_pack_str(pk, "out");
    msgpack_pack_array(pk, list_out);
    for (size_t i = 0, k = 0; i < ls.n && k < list_out; i++) {
        if (strcmp(ls.v[i].dst, a.id) != 0) {
            msgpack_pack_map(pk, 3);
            tm_wire_pack_kv_str(pk, "output", ls.v[i].output);
            tm_wire_pack_kv_str(pk, "dst", ls.v[i].dst);
            tm_wire_pack_kv_str(pk, "input", ls.v[i].input);
            k++;
        }
    }
    tm_wire_pack_kv_u64(pk, "in_total", n_in);
    tm_wire_pack_kv_u64(pk, "out_total", n_out);
    tm_wire_pack_str(pk, "health");
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "status",
                        tm_step_status_name(a.health.last_status));
    tm_wire_pack_kv_u64(pk, "faults", a.health.faults);
    tm_wire_pack_kv_u64(pk, "last_fault", a.health.last_fault);
    tm_wire_pack_kv_u64(pk, "last_stepped", a.health.last_stepped);
    tm_wire_pack_kv_f64(pk, "step_ns", a.step_ns);
    /* Fallbacks (tier changes by the supervisor) are not recorded yet. */
    tm_wire_pack_kv_nil(pk, "fallback");
    free(ls.v);
    return s_done(rep);
}

static int s_kill(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    tm_rt_actor_t a;
    s_links_t ls;
    tm_store_batch_t *b = NULL;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return s_unknown_actor(rep, cmd->id);
    }
    int rc = s_links_of(ctx->rt, cmd->id, &ls);
    if (rc == 0) {
        b = tm_store_batch_new(ctx->store);
        rc = b == NULL ? TM_ERR_NOMEM : 0;
    }
    if (rc == 0) {
        rc = tm_persist_del_actor(b, cmd->id);
    }
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        tm_rt_link_t l = s_link_view(&ls.v[i]);
        rc = tm_persist_del_link(b, &l);
    }
    /* Commit first: removing from the runtime cannot fail afterwards. */
    if (rc == 0) {
        rc = s_commit(ctx, b);
    }
    if (rc != 0) {
        s_store_failed(rep, rc);
        goto done;
    }
    rc = tm_rt_kill(ctx->rt, cmd->id);
    if (rc != 0) {
        tm_cmd_reply_error(rep, rc, "kill %s: %s", cmd->id, tm_err_str(rc));
        goto done;
    }
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 2);
    tm_wire_pack_kv_str(pk, "id", cmd->id);
    tm_wire_pack_kv_u64(pk, "links_removed", ls.n);
    s_msg(rep, "killed %s (%zu link%s removed)", cmd->id, ls.n,
          ls.n == 1 ? "" : "s");
    rc = s_done(rep);
done:
    free(ls.v);
    tm_store_batch_destroy(&b);
    return rc;
}

typedef struct {
    const char *dst;
    const char *input;
    char found[TM_ID_MAX + TM_MODEL_NAME_MAX + 2];
} s_feeder_t;

static int s_feeder_cb(const tm_rt_link_t *l, void *arg)
{
    s_feeder_t *f = arg;
    if (strcmp(l->dst, f->dst) == 0 && strcmp(l->input, f->input) == 0) {
        snprintf(f->found, sizeof f->found, "%s.%s", l->src, l->output);
        return 1;
    }
    return 0;
}

/* Check both ends of a link with precise messages. */
static int s_check_link(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_cmd_reply_t *rep)
{
    tm_rt_actor_t s, d;
    char names[512];
    if (tm_rt_get(ctx->rt, cmd->src.actor, &s) != 0) {
        return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                                  "unknown actor '%s' (link source)",
                                  cmd->src.actor);
    }
    if (tm_rt_get(ctx->rt, cmd->dst.actor, &d) != 0) {
        return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                                  "unknown actor '%s' (link destination)",
                                  cmd->dst.actor);
    }
    const tm_model_t *sm = s.model;
    const tm_model_t *dm = d.model;
    if (tm_model_var_index(sm->outputs, sm->n_outputs, cmd->src.port) < 0) {
        return tm_cmd_reply_error(
            rep, TM_ERR_UNKNOWN_PORT,
            "unknown port: actor %s (%s) has no output '%s' (outputs: %s)",
            s.id, sm->family, cmd->src.port,
            s_names(sm->outputs, sm->n_outputs, names, sizeof names));
    }
    if (tm_model_var_index(dm->inputs, dm->n_inputs, cmd->dst.port) < 0) {
        return tm_cmd_reply_error(
            rep, TM_ERR_UNKNOWN_PORT,
            "unknown port: cannot link to a missing input: actor %s (%s) "
            "has no input '%s' (inputs: %s)",
            d.id, dm->family, cmd->dst.port,
            s_names(dm->inputs, dm->n_inputs, names, sizeof names));
    }
    return 0;
}

static int s_link(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep,
                  bool add)
{
    tm_store_batch_t *b = NULL;
    const char *S = cmd->src.actor, *O = cmd->src.port;
    const char *D = cmd->dst.actor, *I = cmd->dst.port;
    int rc = s_check_link(ctx, cmd, rep);
    if (rc != 0) {
        return rc;
    }
    rc = add ? tm_rt_link(ctx->rt, S, O, D, I)
             : tm_rt_unlink(ctx->rt, S, O, D, I);
    if (rc == TM_ERR_INPUT_LINKED) {
        s_feeder_t f = {D, I, "?"};
        tm_rt_foreach_link(ctx->rt, s_feeder_cb, &f);
        return tm_cmd_reply_error(rep, rc,
                                  "input %s.%s is already linked (from %s); "
                                  "unlink it first",
                                  D, I, f.found);
    }
    if (rc == TM_ERR_EXISTS) {
        return tm_cmd_reply_error(rep, rc,
                                  "link %s.%s -> %s.%s already "
                                  "exists",
                                  S, O, D, I);
    }
    if (rc == TM_ERR_NOT_LINKED) {
        return tm_cmd_reply_error(rep, rc, "no link %s.%s -> %s.%s", S, O, D,
                                  I);
    }
    if (rc != 0) {
        return tm_cmd_reply_error(rep, rc, "%s %s.%s -> %s.%s: %s",
                                  add ? "link" : "unlink", S, O, D, I,
                                  tm_err_str(rc));
    }
    tm_rt_link_t l = {S, O, D, I};
    b = tm_store_batch_new(ctx->store);
    rc = b == NULL ? TM_ERR_NOMEM : 0;
    if (rc == 0) {
        rc = add ? tm_persist_put_link(b, &l) : tm_persist_del_link(b, &l);
    }
    if (rc == 0) {
        rc = s_commit(ctx, b);
    }
    tm_store_batch_destroy(&b);
    if (rc != 0) {
        /* undo in the runtime, so it matches what is stored */
        if (add) {
            tm_rt_unlink(ctx->rt, S, O, D, I);
        } else {
            tm_rt_link(ctx->rt, S, O, D, I);
        }
        return s_store_failed(rep, rc);
    }
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 4);
    tm_wire_pack_kv_str(pk, "src", S);
    tm_wire_pack_kv_str(pk, "output", O);
    tm_wire_pack_kv_str(pk, "dst", D);
    tm_wire_pack_kv_str(pk, "input", I);
    s_msg(rep, "%s %s.%s -> %s.%s", add ? "linked" : "unlinked", S, O, D, I);
    return s_done(rep);
}

typedef enum { S_KIND_PARAM, S_KIND_STATE, S_KIND_INPUT } s_kind_t;

static const char *const s_kind_names[] = {"param", "state", "input"};

static int s_set(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    tm_rt_actor_t a;
    s_kind_t kind[TM_CMD_MAX_PARAMS];
    double old[TM_CMD_MAX_PARAMS];
    const char *names[TM_CMD_MAX_PARAMS];
    double values[TM_CMD_MAX_PARAMS];
    char list[3][512];
    size_t applied = 0;
    tm_store_batch_t *b = NULL;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return s_unknown_actor(rep, cmd->id);
    }
    const tm_model_t *m = a.model;
    /* Validate everything before changing anything. */
    for (size_t j = 0; j < cmd->n_params; j++) {
        const tm_cmd_param_t *p = &cmd->params[j];
        const tm_var_t *v = NULL;
        int i = tm_model_var_index(m->params, m->n_params, p->name);
        if (i >= 0) {
            kind[j] = S_KIND_PARAM;
            v = &m->params[i];
            old[j] = a.params[i];
        } else if ((i = tm_model_var_index(m->states, m->n_states, p->name)) >=
                   0) {
            kind[j] = S_KIND_STATE;
            v = &m->states[i];
            old[j] = a.state[i];
        } else if ((i = tm_model_var_index(m->inputs, m->n_inputs, p->name)) >=
                   0) {
            kind[j] = S_KIND_INPUT;
            v = &m->inputs[i];
            old[j] = a.held[i];
        } else {
            return tm_cmd_reply_error(
                rep, TM_ERR_UNKNOWN_PORT,
                "unknown port: actor %s (%s) has no parameter, state or "
                "input '%s' (parameters: %s; states: %s; inputs: %s)",
                a.id, m->family, p->name,
                s_names(m->params, m->n_params, list[0], sizeof list[0]),
                s_names(m->states, m->n_states, list[1], sizeof list[1]),
                s_names(m->inputs, m->n_inputs, list[2], sizeof list[2]));
        }
        bool ok = kind[j] == S_KIND_STATE
                      ? isfinite(p->value)
                      : (p->value >= v->min && p->value <= v->max);
        if (!ok) {
            return tm_cmd_reply_error(
                rep, TM_ERR_BAD_VALUE,
                "bad parameter value: %s.%s = %.17g is outside [%g, %g] %s",
                a.id, p->name, p->value, v->min, v->max, v->unit);
        }
        names[j] = p->name;
        values[j] = p->value;
    }
    int rc = 0;
    for (; applied < cmd->n_params && rc == 0; applied++) {
        rc = tm_rt_set(ctx->rt, cmd->id, names[applied], values[applied]);
    }
    if (rc != 0) {
        applied--; /* the failed one changed nothing */
        tm_cmd_reply_error(rep, rc, "set %s.%s: %s", cmd->id, names[applied],
                           tm_err_str(rc));
        goto done;
    }
    b = tm_store_batch_new(ctx->store);
    rc = b == NULL ? TM_ERR_NOMEM : 0;
    if (rc == 0 && ctx->writer != NULL) {
        tm_writer_wait(ctx->writer); /* the patch reads the stored record */
    }
    if (rc == 0) {
        rc = tm_persist_patch(ctx->store, b, cmd->id, m, names, values,
                              cmd->n_params);
    }
    if (rc == TM_ERR_NOT_FOUND) {
        tm_wire_buf_t scratch;
        tm_wire_buf_init(&scratch);
        rc = tm_rt_get(ctx->rt, cmd->id, &a);
        if (rc == 0) {
            rc = tm_persist_put_actor(b, &a, tm_rt_tick(ctx->rt), &scratch);
        }
        tm_wire_buf_destroy(&scratch);
    }
    if (rc == 0) {
        rc = s_commit(ctx, b);
    }
    if (rc != 0) {
        s_store_failed(rep, rc);
        goto done;
    }
    applied = 0; /* acknowledged */
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 2);
    tm_wire_pack_kv_str(pk, "id", cmd->id);
    tm_wire_pack_str(pk, "values");
    msgpack_pack_array(pk, cmd->n_params);
    size_t off = 0;
    off += (size_t)snprintf(rep->message, sizeof rep->message, "%s:", cmd->id);
    for (size_t j = 0; j < cmd->n_params; j++) {
        msgpack_pack_map(pk, 4);
        tm_wire_pack_kv_str(pk, "name", names[j]);
        tm_wire_pack_kv_str(pk, "kind", s_kind_names[kind[j]]);
        tm_wire_pack_kv_f64(pk, "old", old[j]);
        tm_wire_pack_kv_f64(pk, "value", values[j]);
        if (off < sizeof rep->message) {
            int w = snprintf(rep->message + off, sizeof rep->message - off,
                             " %s = %.10g (%s, was %.10g)", names[j], values[j],
                             s_kind_names[kind[j]], old[j]);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    rc = s_done(rep);
done:
    /* Undo what was applied and not acknowledged, newest first. */
    while (applied > 0) {
        applied--;
        tm_rt_set(ctx->rt, cmd->id, names[applied], old[applied]);
    }
    tm_store_batch_destroy(&b);
    return rc;
}

static int s_hash(tm_cmd_ctx_t *ctx, tm_cmd_reply_t *rep)
{
    uint8_t d[32];
    char hex[65];
    int rc = tm_rt_digest(ctx->rt, d);
    if (rc != 0) {
        return tm_cmd_reply_error(rep, rc, "digest: %s", tm_err_str(rc));
    }
    tm_cmd_hex(d, sizeof d, hex);
    uint64_t tick = tm_rt_tick(ctx->rt);
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 3);
    tm_wire_pack_kv_u64(pk, "tick", tick);
    tm_wire_pack_kv_str(pk, "digest", hex);
    tm_wire_pack_kv_u64(pk, "actors", tm_rt_count(ctx->rt));
    s_msg(rep, "tick %llu digest %s", (unsigned long long)tick, hex);
    return s_done(rep);
}

int tm_cmd_exec(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd, tm_cmd_reply_t *rep,
                tm_cmd_emit_fn emit, void *arg)
{
    tm_cmd_reply_reset(rep);
    switch (cmd->kind) {
    case TM_CMD_HELP:
        return s_help(cmd, rep);
    case TM_CMD_NODES:
        return s_nodes(ctx, rep);
    case TM_CMD_ACTORS:
        return s_actors(ctx, cmd, rep, emit, arg);
    case TM_CMD_STATS:
        return s_stats(ctx, rep);
    case TM_CMD_MODELS:
        return s_models(cmd, rep);
    case TM_CMD_IDS:
        return s_ids(ctx, cmd, rep, emit, arg);
    case TM_CMD_SPAWN:
        return s_spawn(ctx, cmd, rep);
    case TM_CMD_SPAWN_MANY:
        return s_spawn_many(ctx, cmd, rep);
    case TM_CMD_INSPECT:
        return s_inspect(ctx, cmd, rep);
    case TM_CMD_KILL:
        return s_kill(ctx, cmd, rep);
    case TM_CMD_LINK:
        return s_link(ctx, cmd, rep, true);
    case TM_CMD_UNLINK:
        return s_link(ctx, cmd, rep, false);
    case TM_CMD_SET:
        return s_set(ctx, cmd, rep);
    case TM_CMD_HASH:
        return s_hash(ctx, rep);
    default:
        return tm_cmd_reply_error(rep, TM_ERR_UNSUPPORTED,
                                  "%s is handled by the node loop",
                                  cmd->info ? cmd->info->name : "command");
    }
}

/* ---- streams ------------------------------------------------------------ */

/* Where a watched signal lives: outputs, then states, then inputs. */
static int s_signal(const tm_model_t *m, const char *name, int *kind)
{
    int i = tm_model_var_index(m->outputs, m->n_outputs, name);
    if (i >= 0) {
        *kind = 0;
        return i;
    }
    i = tm_model_var_index(m->states, m->n_states, name);
    if (i >= 0) {
        *kind = 1;
        return i;
    }
    i = tm_model_var_index(m->inputs, m->n_inputs, name);
    *kind = 2;
    return i;
}

int tm_cmd_watch_check(tm_cmd_ctx_t *ctx, tm_cmd_t *cmd, tm_cmd_reply_t *rep)
{
    tm_rt_actor_t a;
    char list[3][512];
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return s_unknown_actor(rep, cmd->id);
    }
    const tm_model_t *m = a.model;
    if (cmd->n_signals == 0) {
        for (uint32_t i = 0; i < m->n_outputs && i < TM_CMD_MAX_SIGNALS; i++) {
            snprintf(cmd->signals[i], sizeof cmd->signals[i], "%s",
                     m->outputs[i].name);
        }
        cmd->n_signals = m->n_outputs;
        return 0;
    }
    for (size_t j = 0; j < cmd->n_signals; j++) {
        int kind = 0;
        if (s_signal(m, cmd->signals[j], &kind) < 0) {
            return tm_cmd_reply_error(
                rep, TM_ERR_UNKNOWN_PORT,
                "unknown port: actor %s (%s) has no signal '%s' (outputs: "
                "%s; states: %s; inputs: %s)",
                a.id, m->family, cmd->signals[j],
                s_names(m->outputs, m->n_outputs, list[0], sizeof list[0]),
                s_names(m->states, m->n_states, list[1], sizeof list[1]),
                s_names(m->inputs, m->n_inputs, list[2], sizeof list[2]));
        }
    }
    return 0;
}

int tm_cmd_watch_item(tm_cmd_ctx_t *ctx, const tm_cmd_t *cmd,
                      tm_cmd_reply_t *rep)
{
    tm_rt_actor_t a;
    tm_cmd_reply_reset(rep);
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return tm_cmd_reply_error(rep, TM_ERR_UNKNOWN_ACTOR,
                                  "unknown actor '%s' (it was killed)",
                                  cmd->id);
    }
    const tm_model_t *m = a.model;
    uint64_t tick = tm_rt_tick(ctx->rt);
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "id", a.id);
    tm_wire_pack_kv_u64(pk, "tick", tick);
    tm_wire_pack_kv_f64(pk, "t", (double)tick * tm_rt_h(ctx->rt));
    for (int pass = 0; pass < 2; pass++) {
        tm_wire_pack_str(pk, pass == 0 ? "values" : "units");
        msgpack_pack_map(pk, cmd->n_signals);
        for (size_t j = 0; j < cmd->n_signals; j++) {
            int kind = 0;
            int i = s_signal(m, cmd->signals[j], &kind);
            const tm_var_t *vars = kind == 0   ? m->outputs
                                   : kind == 1 ? m->states
                                               : m->inputs;
            const double *vals = kind == 0   ? a.outputs
                                 : kind == 1 ? a.state
                                             : a.inputs;
            tm_wire_pack_str(pk, cmd->signals[j]);
            if (i < 0) {
                msgpack_pack_nil(pk);
            } else if (pass == 0) {
                msgpack_pack_double(pk, vals[i]);
            } else {
                tm_wire_pack_str(pk, vars[i].unit);
            }
        }
    }
    return s_done(rep);
}

typedef struct {
    tm_rt_actor_t *top; /* copies of views, sorted by cost (desc) */
    size_t n, limit;
    uint64_t tick;
} s_top_t;

/* true if a ranks before b: higher step cost, then more faults, then id */
static bool s_top_before(const tm_rt_actor_t *a, const tm_rt_actor_t *b)
{
    if (a->step_ns != b->step_ns) {
        return a->step_ns > b->step_ns;
    }
    if (a->health.faults != b->health.faults) {
        return a->health.faults > b->health.faults;
    }
    return strcmp(a->id, b->id) < 0;
}

static int s_top_cb(const tm_rt_actor_t *a, void *arg)
{
    s_top_t *t = arg;
    if (t->n == t->limit && !s_top_before(a, &t->top[t->n - 1])) {
        return 0;
    }
    size_t i = t->n < t->limit ? t->n++ : t->n - 1;
    while (i > 0 && s_top_before(a, &t->top[i - 1])) {
        t->top[i] = t->top[i - 1];
        i--;
    }
    t->top[i] = *a;
    return 0;
}

int tm_cmd_top_item(tm_cmd_ctx_t *ctx, uint64_t limit, tm_cmd_reply_t *rep)
{
    tm_rt_stats_t st;
    s_top_t t;
    tm_cmd_reply_reset(rep);
    if (limit == 0) {
        limit = S_TOP_DEFAULT;
    }
    if (limit > S_TOP_MAX) {
        limit = S_TOP_MAX;
    }
    memset(&t, 0, sizeof t);
    t.limit = (size_t)limit;
    t.top = malloc(t.limit * sizeof *t.top);
    if (t.top == NULL) {
        return tm_cmd_reply_error(rep, TM_ERR_NOMEM, "out of memory");
    }
    t.tick = tm_rt_tick(ctx->rt);
    tm_rt_foreach(ctx->rt, s_top_cb, &t);
    tm_rt_stats(ctx->rt, &st);
    msgpack_packer *pk = s_body(rep);
    msgpack_pack_map(pk, 12);
    tm_wire_pack_kv_str(pk, "node", ctx->info.name);
    tm_wire_pack_kv_u64(pk, "tick", st.tick);
    tm_wire_pack_kv_f64(pk, "t", (double)st.tick * tm_rt_h(ctx->rt));
    tm_wire_pack_kv_str(pk, "clock", ctx->info.clock);
    tm_wire_pack_kv_f64(pk, "lag_s", ctx->info.lag_s);
    tm_wire_pack_kv_u64(pk, "actors", st.actors);
    tm_wire_pack_kv_u64(pk, "links", st.links);
    tm_wire_pack_kv_u64(pk, "workers", st.workers);
    tm_wire_pack_kv_f64(pk, "steps_per_s", ctx->info.steps_per_s);
    tm_wire_pack_kv_f64(pk, "last_tick_us", st.last_tick_ns / 1e3);
    tm_wire_pack_kv_u64(pk, "faults", st.faults);
    tm_wire_pack_str(pk, "rows");
    msgpack_pack_array(pk, t.n);
    for (size_t i = 0; i < t.n; i++) {
        const tm_rt_actor_t *a = &t.top[i];
        uint64_t lag = st.tick > a->health.last_stepped
                           ? st.tick - a->health.last_stepped
                           : 0;
        msgpack_pack_map(pk, 9);
        tm_wire_pack_kv_str(pk, "id", a->id);
        s_pack_model(pk, a->model);
        tm_wire_pack_kv_u64(pk, "shard", a->shard);
        tm_wire_pack_kv_f64(pk, "step_ns", a->step_ns);
        tm_wire_pack_kv_u64(pk, "lag", lag);
        tm_wire_pack_kv_u64(pk, "faults", a->health.faults);
        tm_wire_pack_kv_str(pk, "status",
                            tm_step_status_name(a->health.last_status));
    }
    free(t.top);
    return s_done(rep);
}
