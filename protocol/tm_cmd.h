/* tm_cmd: the console's command grammar - table, parser, completion.
 *
 * The commands are the rows of tm_cmd_table.h. This module reads that
 * table for everything that needs no node: looking a command up, parsing
 * an argv into a tm_cmd_t (with every usage error's message made here, in
 * one place), the options a command takes and what a word at a position
 * completes to. The node (nodes/console/) parses requests with it before
 * running a handler; the console (tools/twinmesh) parses with it before
 * sending, so usage errors need no node, and renders with the table too.
 * Both link only protocol/ and core/'s text helpers for this.
 */
#ifndef TM_CMD_H_INCLUDED
#define TM_CMD_H_INCLUDED

#include "tm_cmd_table.h"
#include "tm_model.h"
#include "tm_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Command flags (the table's flags column). */
#define TM_CMD_F_MUTATES 0x1u   /* changes the mesh: committed before reply */
#define TM_CMD_F_STREAM  0x2u   /* replies with items (more = true) */
#define TM_CMD_F_LONG    0x4u   /* may take long: no reply timeout */
#define TM_CMD_F_IDS     0x8u   /* positional arguments are actor ids */
#define TM_CMD_F_HIDDEN  0x10u  /* internal; not listed by help */
#define TM_CMD_F_PARTS   0x20u  /* a list that may come in several parts */
#define TM_CMD_F_LOCAL   0x40u  /* the console answers it without a node */
#define TM_CMD_F_UPLOAD  0x80u  /* the console uploads FILE (a plant) first */
#define TM_CMD_F_FILE    0x100u /* the console uploads FILE's bytes first */

typedef enum {
#define TM_CMD_X_KIND(kind, h, r, name, al, fl, args, opts, usage, sum)        \
    TM_CMD_##kind,
    TM_CMD_TABLE(TM_CMD_X_KIND)
#undef TM_CMD_X_KIND
        TM_CMD_COUNT
} tm_cmd_kind_t;

typedef struct {
    tm_cmd_kind_t kind;
    const char *name;
    const char *aliases; /* space-separated, may be "" */
    unsigned flags;
    const char *args;    /* positional grammar (see tm_cmd_table.h) */
    const char *opts;    /* option grammar */
    const char *usage;   /* arguments after the name, for help */
    const char *summary; /* one line */
} tm_cmd_info_t;

/* Clock modes: the clock command's MODE and the node's config. */
typedef enum {
    TM_CLOCK_REALTIME = 0, /* tick k not before t0 + k*h */
    TM_CLOCK_FAST = 1,     /* as fast as the machine allows */
    TM_CLOCK_PAUSED = 2
} tm_clock_t;

/* "realtime", "fast" or "paused". */
const char *tm_clock_name(tm_clock_t clock);

/* Parse a clock name ("pause" is accepted for "paused"). 0 or
 * TM_ERR_INVAL. */
int tm_clock_parse(const char *name, tm_clock_t *out);

/* The command table, in help order (index = kind). */
const tm_cmd_info_t *tm_cmd_table(size_t *count);

/* Look a command up by name or alias; NULL if unknown. A command of two
 * words ("models load") is looked up by both, as one string. */
const tm_cmd_info_t *tm_cmd_lookup(const char *name);

/* Options a command accepts: space-separated names without "--" (static
 * string, "" when none). */
const char *tm_cmd_options(tm_cmd_kind_t kind);

#define TM_CMD_MAX_PARAMS  TM_MODEL_MAX_VARS
#define TM_CMD_MAX_SIGNALS TM_MODEL_MAX_VARS
#define TM_CMD_SPEC_MAX    96u   /* family@version */
#define TM_CMD_MSG_MAX     1024u /* bytes in a reply message */
#define TM_CMD_SPAWN_MAX   10000000u
#define TM_CMD_PATH_MAX    1023u /* bytes in a path argument */
/* link --delay: at most TM_RT_DELAY_MAX ticks (the console does not link
 * the runtime; nodes/console/tm_cmd_links.c asserts the two are equal). */
#define TM_CMD_DELAY_MAX  1000u
#define TM_CMD_PLACED_MAX 400u /* bytes of spawn --placed (a reason) */

typedef struct {
    char name[TM_MODEL_NAME_MAX + 1];
    double value;
} tm_cmd_param_t;

typedef struct {
    char actor[TM_ID_MAX + 1];
    char port[TM_MODEL_NAME_MAX + 1];
} tm_cmd_port_t;

/* A parsed command. Strings are copied: nothing borrows from argv. */
typedef struct {
    tm_cmd_kind_t kind;
    const tm_cmd_info_t *info;
    char id[TM_ID_MAX + 1];          /* ID, or PREFIX for spawn-many/ids */
    char model[TM_CMD_SPEC_MAX + 1]; /* FAMILY[@VERSION] */
    char node[TM_NAME_MAX + 1];
    char site[TM_NAME_MAX + 1]; /* spawn --site */
    bool has_model, has_node, has_fidelity, has_site;
    /* spawn --placed: why the node that placed it chose this node
     * (passed between nodes only: a console's is refused) */
    char placed[TM_CMD_PLACED_MAX + 1];
    bool has_placed;
    tm_fidelity_t fidelity;
    uint32_t period; /* spawn --period; 0 = every tick */
    uint32_t delay;  /* link --delay ticks; 0 = not given (1) */
    uint64_t count;  /* spawn-many COUNT, watch/top --count */
    uint64_t limit;  /* actors/top/ids --limit; 0 = default */
    uint64_t ticks;  /* run --ticks */
    uint64_t window; /* calibrate --window steps; 0 = every step kept */
    uint64_t canary; /* rollout --canary percent; 0 = not given (10) */
    uint64_t shadow; /* rollout --shadow ticks; 0 = not given (100) */
    uint64_t at;     /* rollout --at tick; 0 = not given (now) */
    bool has_budget; /* rollout --budget RMSE=R,MAPE=M */
    double budget_rmse, budget_mape; /* INFINITY when not given */
    char to[TM_CMD_SPEC_MAX + 1];    /* rollback --to VERSION */
    uint64_t upload; /* apply/diff/models load --upload: the staged plant
                        or file (the console sets it after uploading FILE) */
    double interval; /* top --interval seconds */
    bool has_clock;
    tm_clock_t clock;                         /* clock MODE */
    tm_cmd_port_t src, dst;                   /* link/unlink */
    tm_cmd_param_t params[TM_CMD_MAX_PARAMS]; /* spawn --param, set */
    size_t n_params;
    char signals[TM_CMD_MAX_SIGNALS][TM_MODEL_NAME_MAX + 1];
    size_t n_signals;
    char actor[TM_ID_MAX + 1]; /* audit --actor ("" = every actor) */
    bool has_since, since_relative;
    uint64_t since_ns; /* audit --since: wall time (ns since 1970), or
                          how long before now (since_relative) */
    char topic[32];    /* help TOPIC */
    char path[TM_CMD_PATH_MAX + 1]; /* backup DEST, apply/diff/export FILE */
} tm_cmd_t;

/* A time for audit --since: RFC 3339 UTC ("2026-11-30T12:00:00Z", with
 * an optional fraction of a second) into *ns since 1970 (*relative
 * false), or a duration before now ("30s", "10m", "2h", "7d", at most
 * 100 years) into *ns (*relative true). 0 or TM_ERR_USAGE with what is
 * wrong in why. */
int tm_cmd_parse_since(const char *s, bool *relative, uint64_t *ns, char *why,
                       size_t whylen);

/* Parse a console argv (argv[0] is the command name; argv[0] and argv[1]
 * when they name a command of two words, such as "models load"). On error
 * returns
 * TM_ERR_UNKNOWN_COMMAND, TM_ERR_USAGE, TM_ERR_BAD_ID, TM_ERR_BAD_VALUE or
 * TM_ERR_UNKNOWN_FIDELITY and writes a one-line message into err. */
int tm_cmd_parse(int argc, const char *const *argv, tm_cmd_t *out, char *err,
                 size_t errlen);

/* What a word completes to. */
typedef enum {
    TM_CMD_COMPLETE_NONE = 0,
    TM_CMD_COMPLETE_COMMANDS,   /* command names */
    TM_CMD_COMPLETE_OPTIONS,    /* --NAME of the command's options */
    TM_CMD_COMPLETE_IDS,        /* actor ids */
    TM_CMD_COMPLETE_OUTPUT,     /* ID.OUTPUT */
    TM_CMD_COMPLETE_INPUT,      /* ID.INPUT */
    TM_CMD_COMPLETE_SETTABLE,   /* NAME= of argv[1]'s params, states, inputs */
    TM_CMD_COMPLETE_SIGNAL,     /* argv[1]'s outputs, states, inputs */
    TM_CMD_COMPLETE_CLOCK,      /* realtime fast pause */
    TM_CMD_COMPLETE_FAMILIES,   /* model families */
    TM_CMD_COMPLETE_FIDELITIES, /* high medium low */
} tm_cmd_complete_t;

/* What `word` completes to after argv[0..argc-1] (argc >= 1: argv[0] is a
 * command name; argc == 0: the command itself). */
tm_cmd_complete_t tm_cmd_complete(int argc, const char *const *argv,
                                  const char *word);

#endif
