/* cmd_test: console command parsing (every command, option and error) and
 * execution against a real runtime and store: each reply body is valid
 * MessagePack of the documented shape, and each mutation is in the store
 * before the command returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_cmd.h"
#include "tm_err.h"
#include "tm_persist.h"
#include "tm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__})
#define ARGC(...) ((int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(const char *)))
#define PARSE(cmd, err, ...)                                                   \
    tm_cmd_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (cmd), (err),           \
                 sizeof(err))

/* ---- parsing ------------------------------------------------------------ */

static void test_table(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    assert_int_equal(n, TM_CMD_COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].kind, (tm_cmd_kind_t)i);
        assert_ptr_equal(tm_cmd_lookup(t[i].name), &t[i]);
    }
    assert_ptr_equal(tm_cmd_lookup("ls"), tm_cmd_lookup("actors"));
    assert_ptr_equal(tm_cmd_lookup("rm"), tm_cmd_lookup("kill"));
    assert_ptr_equal(tm_cmd_lookup("show"), tm_cmd_lookup("inspect"));
    assert_ptr_equal(tm_cmd_lookup("digest"), tm_cmd_lookup("hash"));
    assert_null(tm_cmd_lookup("nope"));
    assert_null(tm_cmd_lookup(""));
    assert_string_equal(tm_cmd_options(TM_CMD_SPAWN),
                        "model fidelity node period param");
}

static void test_parse_spawn(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(PARSE(&c, err, "spawn", "p1", "--model", "pump@1.0.0",
                           "--fidelity", "low", "--param", "head_rated=20",
                           "--param=shutoff=1.3", "--node", "n1", "--period",
                           "4"),
                     0);
    assert_int_equal(c.kind, TM_CMD_SPAWN);
    assert_string_equal(c.id, "p1");
    assert_string_equal(c.model, "pump@1.0.0");
    assert_true(c.has_fidelity);
    assert_int_equal(c.fidelity, TM_FIDELITY_LOW);
    assert_int_equal(c.n_params, 2);
    assert_string_equal(c.params[0].name, "head_rated");
    assert_true(c.params[0].value == 20.0);
    assert_string_equal(c.params[1].name, "shutoff");
    assert_true(c.params[1].value == 1.3);
    assert_string_equal(c.node, "n1");
    assert_int_equal(c.period, 4);

    assert_int_equal(PARSE(&c, err, "spawn", "p1"), TM_ERR_USAGE);
    assert_string_equal(err, "spawn: missing --model (usage: spawn ID "
                             "--model FAMILY[@VERSION] [--fidelity "
                             "high|medium|low] [--node NODE] [--period M] "
                             "[--param NAME=VALUE]...)");
    assert_int_equal(PARSE(&c, err, "spawn", "a b", "--model", "x"),
                     TM_ERR_BAD_ID);
    assert_string_equal(err, "bad actor id 'a b': ids are 1-64 letters, "
                             "digits, '_' or '-'");
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--param", "k=1e999"),
        TM_ERR_BAD_VALUE);
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--param", "k"),
        TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--fidelity", "top"),
        TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(PARSE(&c, err, "spawn", "p", "--model"), TM_ERR_USAGE);
    assert_string_equal(err, "spawn: --model needs a value (usage: spawn ID "
                             "--model FAMILY[@VERSION] [--fidelity "
                             "high|medium|low] [--node NODE] [--period M] "
                             "[--param NAME=VALUE]...)");
    assert_int_equal(PARSE(&c, err, "spawn", "p", "q", "--model", "x"),
                     TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--ticks", "3"),
        TM_ERR_USAGE);
    assert_non_null(strstr(err, "unknown option --ticks"));
}

static void test_parse_spawn_many(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(
        PARSE(&c, err, "spawn-many", "m", "100000", "--model", "oscillator"),
        0);
    assert_string_equal(c.id, "m");
    assert_int_equal(c.count, 100000);
    assert_int_equal(PARSE(&c, err, "spawn-many", "m", "0", "--model", "x"),
                     TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "spawn-many", "m", "-3", "--model", "x"),
                     TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "spawn-many", "m", "10000001", "--model", "x"),
        TM_ERR_USAGE);
    char prefix[80];
    memset(prefix, 'a', 63);
    prefix[63] = '\0';
    /* prefix + "9" is 64 bytes: fine; + "10" is 65: too long */
    assert_int_equal(PARSE(&c, err, "spawn-many", prefix, "10", "--model", "x"),
                     0);
    assert_int_equal(PARSE(&c, err, "spawn-many", prefix, "11", "--model", "x"),
                     TM_ERR_BAD_ID);
    assert_int_equal(PARSE(&c, err, "spawn-many", "a.", "2", "--model", "x"),
                     TM_ERR_BAD_ID);
}

static void test_parse_links_and_set(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(PARSE(&c, err, "link", "p1.flow", "t1.qin"), 0);
    assert_string_equal(c.src.actor, "p1");
    assert_string_equal(c.src.port, "flow");
    assert_string_equal(c.dst.actor, "t1");
    assert_string_equal(c.dst.port, "qin");
    assert_int_equal(PARSE(&c, err, "unlink", "p1.flow", "t1"), TM_ERR_USAGE);
    assert_string_equal(err, "unlink: expected ACTOR.PORT, got 't1' (usage: "
                             "unlink SRC.OUTPUT DST.INPUT)");
    assert_int_equal(PARSE(&c, err, "link", "p 1.flow", "t1.qin"),
                     TM_ERR_BAD_ID);
    assert_int_equal(PARSE(&c, err, "link", "p1.fl-ow", "t1.qin"),
                     TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "link", "p1.flow"), TM_ERR_USAGE);

    assert_int_equal(PARSE(&c, err, "set", "o1", "k=3", "x=-0.5"), 0);
    assert_int_equal(c.n_params, 2);
    assert_true(c.params[1].value == -0.5);
    assert_int_equal(PARSE(&c, err, "set", "o1"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "set", "o1", "=3"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "set", "o1", "k=inf"), TM_ERR_BAD_VALUE);
    assert_string_equal(err, "bad parameter value 'k=inf': 'inf' is not a "
                             "finite number");
}

static void test_parse_others(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "1000"), 0);
    assert_int_equal(c.ticks, 1000);
    assert_int_equal(PARSE(&c, err, "run", "7"), 0);
    assert_int_equal(c.ticks, 7);
    assert_int_equal(PARSE(&c, err, "run"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "0"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "clock", "pause"), 0);
    assert_true(c.has_clock);
    assert_int_equal(c.clock, TM_CLOCK_PAUSED);
    assert_int_equal(PARSE(&c, err, "clock"), 0);
    assert_false(c.has_clock);
    assert_int_equal(PARSE(&c, err, "clock", "warp"), TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "watch", "p1", "flow", "head", "--count", "5"), 0);
    assert_int_equal(c.n_signals, 2);
    assert_string_equal(c.signals[1], "head");
    assert_int_equal(c.count, 5);
    assert_int_equal(PARSE(&c, err, "watch"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "top", "--limit", "5", "--interval", "0.5",
                           "--count", "2"),
                     0);
    assert_int_equal(c.limit, 5);
    assert_true(c.interval == 0.5);
    assert_int_equal(PARSE(&c, err, "top", "--interval", "0.001"),
                     TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "top", "--limit", "1001"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "actors", "--node", "n", "--model", "pump",
                           "--limit", "3"),
                     0);
    assert_true(c.has_node && c.has_model);
    assert_int_equal(c.limit, 3);
    assert_int_equal(PARSE(&c, err, "actors", "extra"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "hash", "x"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "ls"), 0);
    assert_int_equal(c.kind, TM_CMD_ACTORS);
    assert_int_equal(PARSE(&c, err, "help", "link"), 0);
    assert_string_equal(c.topic, "link");
    assert_int_equal(PARSE(&c, err, "inspect", "a", "b"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "frob"), TM_ERR_UNKNOWN_COMMAND);
    assert_string_equal(err, "unknown command 'frob' (try help)");
    assert_int_equal(tm_cmd_parse(0, NULL, &c, err, sizeof err), TM_ERR_USAGE);
}

/* Numbers are whole decimal strings; an out-of-range value names the range
 * and echoes what was given, instead of a bound that was not broken. */
static void test_parse_numbers(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "18446744073709551616"),
                     TM_ERR_USAGE);
    assert_string_equal(err, "run: --ticks takes a whole number of ticks in "
                             "1..1000000000000, got '18446744073709551616' "
                             "(usage: run --ticks N)");
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "1000000000001"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "in 1..1000000000000, got '1000000000001'"));
    static const char *const bad_ticks[] = {"-5", "1e3",  "",    " 5", "5 ",
                                            "+5", "0x10", "5.0", "\t5"};
    for (size_t i = 0; i < sizeof bad_ticks / sizeof bad_ticks[0]; i++) {
        assert_int_equal(PARSE(&c, err, "run", "--ticks", bad_ticks[i]),
                         TM_ERR_USAGE);
        assert_int_equal(PARSE(&c, err, "run", bad_ticks[i]), TM_ERR_USAGE);
    }
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "0010"), 0);
    assert_int_equal(c.ticks, 10); /* decimal, never octal */
    assert_int_equal(PARSE(&c, err, "run", "1000000000001"), TM_ERR_USAGE);
    assert_non_null(strstr(err, "in 1..1000000000000, got '1000000000001'"));
    assert_int_equal(PARSE(&c, err, "actors", "--limit", "5000000000"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "--limit takes a whole number in "
                                "1..4294967295, got '5000000000'"));
    assert_int_equal(PARSE(&c, err, "top", "--count", "99999999999999999999"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "got '99999999999999999999'"));
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--period", "4294967296"),
        TM_ERR_USAGE);
    assert_non_null(strstr(err, "--period takes a whole number of ticks in "
                                "1..4294967295, got '4294967296'"));
    assert_int_equal(PARSE(&c, err, "spawn-many", "m", "1e3", "--model", "x"),
                     TM_ERR_USAGE);

    /* values: finite decimal numbers only */
    static const char *const good[] = {"x=.5", "x=5.",     "x=+5",
                                       "x=-0", "x=1e-300", "x=1.5E3"};
    static const double want[] = {0.5, 5.0, 5.0, 0.0, 1e-300, 1500.0};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(PARSE(&c, err, "set", "o1", good[i]), 0);
        assert_true(c.params[0].value == want[i]);
    }
    static const char *const bad[] = {"x=nan", "x=-inf", "x=infinity",
                                      "x=1e",  "x= 5",   "x=\t5",
                                      "x=5 ",  "x=",     "x=1e5x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(PARSE(&c, err, "set", "o1", bad[i]), TM_ERR_BAD_VALUE);
        assert_non_null(strstr(err, "is not a finite number"));
    }
    assert_int_equal(PARSE(&c, err, "set", "o1", "x=0x10"), TM_ERR_BAD_VALUE);
    assert_string_equal(err, "bad parameter value 'x=0x10': '0x10' is not a "
                             "finite number (write it in decimal)");
    assert_int_equal(PARSE(&c, err, "set", "o1", "x=1e400"), TM_ERR_BAD_VALUE);
    assert_non_null(strstr(err, "'1e400' is out of the range of a double"));
    /* 1e-400 is not 0: refused rather than silently rounded */
    assert_int_equal(PARSE(&c, err, "set", "o1", "x=1e-400"), TM_ERR_BAD_VALUE);
    assert_string_equal(err, "bad parameter value 'x=1e-400': '1e-400' is out "
                             "of the range of a double");
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--param", "k=0x1p3"),
        TM_ERR_BAD_VALUE);
    assert_int_equal(PARSE(&c, err, "top", "--interval", "0x1"), TM_ERR_USAGE);
}

/* An option, a parameter, an assignment or a signal given twice is refused:
 * which one was meant cannot be guessed. --param itself may repeat. */
static void test_parse_given_twice(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "pump", "--model", "tank"),
        TM_ERR_USAGE);
    assert_non_null(strstr(err, "spawn: --model is given twice"));
    assert_int_equal(PARSE(&c, err, "run", "--ticks", "5", "--ticks=7"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "run: --ticks is given twice"));
    assert_int_equal(PARSE(&c, err, "actors", "--limit", "3", "--limit", "3"),
                     TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "spawn", "p", "--model", "pump", "--param",
                           "k=1", "--param", "k=2"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "spawn: parameter 'k' is given twice"));
    assert_int_equal(PARSE(&c, err, "spawn", "p", "--model", "pump", "--param",
                           "k=1", "--param", "m=2"),
                     0);
    assert_int_equal(c.n_params, 2);
    assert_int_equal(PARSE(&c, err, "set", "o1", "k=1", "x=2", "k=3"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "set: parameter 'k' is given twice"));
    assert_int_equal(PARSE(&c, err, "watch", "o1", "x", "v", "x"),
                     TM_ERR_USAGE);
    assert_non_null(strstr(err, "watch: signal 'x' is given twice"));
}

/* help TOPIC must name a command, at the console as at the node. */
static void test_parse_help_topic(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(PARSE(&c, err, "help", "nosuch"), TM_ERR_UNKNOWN_COMMAND);
    assert_string_equal(err, "unknown command 'nosuch' (try help)");
    char longname[100];
    memset(longname, 'a', 40);
    memcpy(longname, "spawn", 5);
    longname[40] = '\0';
    assert_int_equal(PARSE(&c, err, "help", longname), TM_ERR_UNKNOWN_COMMAND);
    assert_int_equal(PARSE(&c, err, "help", "ls"), 0);
    assert_string_equal(c.topic, "ls");
    /* models FAMILY: a long name is an unknown family, not a bad actor id */
    char family[80];
    memset(family, 'f', 70);
    family[70] = '\0';
    assert_int_equal(PARSE(&c, err, "models", family), 0);
    assert_string_equal(c.model, family);
}

/* ---- execution ---------------------------------------------------------- */

typedef struct {
    char dir[512];
    tm_rt_t *rt;
    tm_store_t *store;
    tm_cmd_ctx_t ctx;
    tm_cmd_reply_t rep;
    int parts;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/cmd_test_%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&f->store, f->dir, &o), 0);
    tm_rt_config_t rc = {.workers = 1, .h = 0.05, .seed = 1};
    assert_int_equal(tm_rt_open(&f->rt, &rc), 0);
    f->ctx.rt = f->rt;
    f->ctx.store = f->store;
    f->ctx.info.name = "unit";
    f->ctx.info.site = "lab";
    f->ctx.info.endpoint = "tcp://127.0.0.1:1";
    f->ctx.info.clock = "paused";
    f->ctx.info.state = "up";
    tm_cmd_reply_init(&f->rep);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    tm_cmd_reply_destroy(&f->rep);
    tm_rt_destroy(&f->rt);
    tm_store_close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int s_emit(void *arg, tm_cmd_reply_t *part)
{
    s_fix_t *f = arg;
    assert_int_equal(tm_wire_check((const uint8_t *)part->body.sbuf.data,
                                   part->body.sbuf.size, NULL),
                     0);
    f->parts++;
    tm_wire_buf_clear(&part->body);
    return 0;
}

/* Run argv; check the body is one valid MessagePack object. */
static int s_run(s_fix_t *f, int argc, const char *const *argv)
{
    tm_cmd_t c;
    char err[512];
    int rc = tm_cmd_parse(argc, argv, &c, err, sizeof err);
    if (rc != 0) {
        return rc;
    }
    f->parts = 0;
    rc = tm_cmd_exec(&f->ctx, &c, &f->rep, s_emit, f);
    assert_int_equal(rc, f->rep.status);
    if (rc == 0) {
        assert_true(f->rep.has_body);
        assert_int_equal(tm_wire_check((const uint8_t *)f->rep.body.sbuf.data,
                                       f->rep.body.sbuf.size, NULL),
                         0);
    } else {
        assert_true(f->rep.message[0] != '\0');
    }
    return rc;
}

#define RUN(f, ...) s_run((f), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static size_t s_count(s_fix_t *f, tm_store_db_t db)
{
    size_t n = 0;
    assert_int_equal(tm_store_count(f->store, db, &n), 0);
    return n;
}

static void test_exec_every_command(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "help"), 0);
    assert_int_equal(RUN(f, "help", "spawn"), 0);
    assert_int_equal(RUN(f, "nodes"), 0);
    assert_int_equal(RUN(f, "stats"), 0);
    assert_int_equal(RUN(f, "models"), 0);
    assert_int_equal(RUN(f, "models", "pump"), 0);
    assert_int_equal(RUN(f, "spawn", "p1", "--model", "pump"), 0);
    assert_string_equal(f->rep.message,
                        "spawned p1 (pump@1.0.0, high) at tick 0");
    assert_int_equal(
        RUN(f, "spawn", "t1", "--model", "tank", "--param", "area=3"), 0);
    assert_int_equal(RUN(f, "spawn-many", "o", "30", "--model", "oscillator"),
                     0);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 32);
    assert_int_equal(RUN(f, "link", "p1.flow", "t1.qin"), 0);
    assert_int_equal(RUN(f, "link", "o0.x", "o1.fl"), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 2);
    assert_int_equal(RUN(f, "inspect", "p1"), 0);
    assert_int_equal(RUN(f, "actors"), 0);
    assert_int_equal(RUN(f, "actors", "--model", "tank"), 0);
    assert_int_equal(RUN(f, "ids", "o1"), 0);
    assert_int_equal(RUN(f, "hash"), 0);
    assert_int_equal(RUN(f, "set", "t1", "area=5", "h=0.5", "qout=0.01"), 0);
    assert_int_equal(RUN(f, "unlink", "o0.x", "o1.fl"), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 1);
    assert_int_equal(RUN(f, "kill", "p1"), 0);
    assert_string_equal(f->rep.message, "killed p1 (1 link removed)");
    assert_int_equal(s_count(f, TM_DB_ACTORS), 31);
    assert_int_equal(s_count(f, TM_DB_LINKS), 0);
    /* node-loop commands are refused here */
    assert_int_equal(RUN(f, "run", "--ticks", "1"), TM_ERR_UNSUPPORTED);

    tm_cmd_t c;
    char err[256];
    assert_int_equal(PARSE(&c, err, "watch", "t1"), 0);
    assert_int_equal(tm_cmd_watch_check(&f->ctx, &c, &f->rep), 0);
    assert_int_equal(c.n_signals, 4); /* every output by default */
    assert_int_equal(tm_cmd_watch_item(&f->ctx, &c, &f->rep), 0);
    assert_int_equal(tm_wire_check((const uint8_t *)f->rep.body.sbuf.data,
                                   f->rep.body.sbuf.size, NULL),
                     0);
    assert_int_equal(tm_cmd_top_item(&f->ctx, 5, &f->rep), 0);
    assert_int_equal(tm_wire_check((const uint8_t *)f->rep.body.sbuf.data,
                                   f->rep.body.sbuf.size, NULL),
                     0);
}

static void test_exec_errors(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "spawn", "p1", "--model", "pump"), 0);
    assert_int_equal(RUN(f, "spawn", "p1", "--model", "pump"),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_string_equal(f->rep.message, "actor id 'p1' already exists");
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pmp"),
                     TM_ERR_UNKNOWN_MODEL);
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pump@2.0.0"),
                     TM_ERR_UNKNOWN_VERSION);
    assert_string_equal(f->rep.message, "unknown version 2.0.0 of model pump "
                                        "(known versions: 1.0.0)");
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pump@"),
                     TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(
        RUN(f, "spawn", "x", "--model", "spring", "--fidelity", "medium"),
        TM_ERR_UNKNOWN_FIDELITY);
    assert_int_equal(
        RUN(f, "spawn", "x", "--model", "pump", "--param", "nope=1"),
        TM_ERR_UNKNOWN_PORT);
    assert_int_equal(
        RUN(f, "spawn", "x", "--model", "pump", "--param", "voltage=0"),
        TM_ERR_BAD_VALUE);
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pump", "--node", "other"),
                     TM_ERR_NOT_FOUND);
    /* models takes a family: an existing FAMILY@VERSION is no family */
    assert_int_equal(RUN(f, "models", "pump@1.0.0"), TM_ERR_UNKNOWN_MODEL);
    assert_non_null(
        strstr(f->rep.message, "unknown model family 'pump@1.0.0' (known: "));
    assert_int_equal(RUN(f, "models", "pump@9"), TM_ERR_UNKNOWN_VERSION);
    assert_int_equal(RUN(f, "inspect", "ghost"), TM_ERR_UNKNOWN_ACTOR);
    assert_string_equal(f->rep.message, "unknown actor 'ghost'");
    assert_int_equal(RUN(f, "kill", "ghost"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(RUN(f, "set", "p1", "zz=1"), TM_ERR_UNKNOWN_PORT);
    assert_int_equal(RUN(f, "set", "p1", "voltage=-1"), TM_ERR_BAD_VALUE);
    assert_int_equal(RUN(f, "spawn", "t1", "--model", "tank"), 0);
    assert_int_equal(RUN(f, "link", "p1.nope", "t1.qin"), TM_ERR_UNKNOWN_PORT);
    assert_int_equal(RUN(f, "link", "p1.flow", "t1.nope"), TM_ERR_UNKNOWN_PORT);
    assert_non_null(strstr(f->rep.message, "missing input"));
    assert_int_equal(RUN(f, "link", "t1.level", "p1.h_suction"), 0);
    assert_int_equal(RUN(f, "link", "t1.volume", "p1.h_suction"),
                     TM_ERR_INPUT_LINKED);
    assert_int_equal(RUN(f, "link", "t1.level", "p1.h_suction"), TM_ERR_EXISTS);
    assert_int_equal(RUN(f, "unlink", "t1.volume", "p1.h_suction"),
                     TM_ERR_NOT_LINKED);
    /* a failed set changes nothing, even when its first value was fine */
    assert_int_equal(RUN(f, "set", "p1", "voltage=230", "zz=1"),
                     TM_ERR_UNKNOWN_PORT);
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(f->rt, "p1", &a), 0);
    int vi = tm_model_var_index(a.model->params, a.model->n_params, "voltage");
    assert_true(a.params[vi] == 400.0);
    /* spawn-many with a clash spawns nothing */
    assert_int_equal(RUN(f, "spawn-many", "t", "3", "--model", "tank"),
                     TM_ERR_DUPLICATE_ACTOR);
    assert_int_equal(tm_rt_count(f->rt), 2);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 2);
}

/* A list longer than one part is sent in parts. */
static void test_exec_parts(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "spawn-many", "a", "5000", "--model", "spring"), 0);
    assert_int_equal(RUN(f, "actors"), 0);
    assert_int_equal(f->parts, 2); /* 2048 + 2048 + 904 */
    assert_string_equal(f->rep.message, "5000 of 5000 actors");
    assert_int_equal(RUN(f, "actors", "--limit", "10"), 0);
    assert_int_equal(f->parts, 0);
    assert_int_equal(RUN(f, "ids", "a", "--limit", "9000"), 0);
    assert_int_equal(f->parts, 0);
}

/* set patches the stored record: a later checkpoint-free restart sees it. */
static void test_set_patches_record(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "spawn", "o1", "--model", "oscillator"), 0);
    assert_int_equal(RUN(f, "set", "o1", "k=42", "v=1.5", "fl=2"), 0);
    void *val = NULL;
    size_t len = 0;
    assert_int_equal(tm_store_get(f->store, TM_DB_ACTORS, "o1", 2, &val, &len),
                     0);
    tm_persist_actor_t rec;
    assert_int_equal(tm_persist_actor_decode(val, len, &rec), 0);
    free(val);
    assert_true(rec.params[1] == 42.0); /* k */
    assert_true(rec.state[1] == 1.5);   /* v */
    assert_true(rec.held[0] == 2.0);    /* fl */
    assert_true(rec.state[0] == 0.1);   /* x: spawn state, untouched */
}

/* A spawn-many the node's memory cannot hold is refused before anything is
 * created: a huge COUNT must not take the node down. */
static void test_spawn_many_memory(void **state)
{
    s_fix_t *f = *state;
    f->ctx.mem_available = 4u << 20; /* as if 4 MiB were left */
    assert_int_equal(RUN(f, "spawn-many", "p", "1000000", "--model", "pump"),
                     TM_ERR_NOMEM);
    assert_non_null(strstr(f->rep.message, "spawn-many: 1000000 actors of "
                                           "pump@1.0.0 need about "));
    assert_non_null(strstr(f->rep.message, "available; nothing was spawned"));
    assert_int_equal(tm_rt_count(f->rt), 0);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 0);
    assert_int_equal(RUN(f, "spawn-many", "p", "100", "--model", "pump"), 0);
    assert_int_equal(tm_rt_count(f->rt), 100);
    f->ctx.mem_available = 0; /* what the system has */
    assert_int_equal(RUN(f, "spawn-many", "q", "1000", "--model", "spring"), 0);
    assert_int_equal(tm_rt_count(f->rt), 1100);
}

/* An actor with very many links: inspect lists a bounded number of them
 * with the totals, so the reply stays far below the 1 MiB wire limit (a
 * larger frame makes the console's socket drop the connection). */
static void test_inspect_many_links(void **state)
{
    s_fix_t *f = *state;
    char id[32];
    assert_int_equal(RUN(f, "spawn", "src", "--model", "oscillator"), 0);
    assert_int_equal(
        RUN(f, "spawn-many", "d", "40000", "--model", "oscillator"), 0);
    for (int i = 0; i < 40000; i++) {
        snprintf(id, sizeof id, "d%d", i);
        assert_int_equal(tm_rt_link(f->rt, "src", "x", id, "fl"), 0);
    }
    assert_int_equal(tm_rt_link(f->rt, "d0", "x", "src", "fl"), 0);
    assert_int_equal(RUN(f, "inspect", "src"), 0);
    assert_true(f->rep.body.sbuf.size < TM_WIRE_MAX_SIZE_DEFAULT / 4);

    msgpack_zone zone;
    msgpack_object obj;
    uint64_t total = 0;
    assert_true(msgpack_zone_init(&zone, 4096));
    assert_int_equal(tm_wire_unpack((const uint8_t *)f->rep.body.sbuf.data,
                                    f->rep.body.sbuf.size, NULL, &zone, &obj),
                     0);
    const msgpack_object *links = tm_wire_map_get(&obj, "links");
    assert_non_null(links);
    const msgpack_object *out = tm_wire_map_get(links, "out");
    assert_non_null(out);
    assert_int_equal(out->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(out->via.array.size, 1000);
    assert_int_equal(tm_wire_get_u64(links, "out_total", &total), 0);
    assert_int_equal(total, 40000);
    const msgpack_object *in = tm_wire_map_get(links, "in");
    assert_non_null(in);
    assert_int_equal(in->via.array.size, 1);
    assert_int_equal(tm_wire_get_u64(links, "in_total", &total), 0);
    assert_int_equal(total, 1);
    msgpack_zone_destroy(&zone);
}

/* Ids of exactly 64 bytes work everywhere (spawn, link, inspect, kill, the
 * store's link keys); 65 bytes and empty strings are refused with a
 * message. */
static void test_id_boundaries(void **state)
{
    s_fix_t *f = *state;
    char a64[65], b64[65], a65[66], src[80], dst[80];
    tm_cmd_t c;
    char err[512];
    memset(a64, 'a', 64);
    a64[64] = '\0';
    memset(b64, 'b', 64);
    b64[64] = '\0';
    memset(a65, 'a', 65);
    a65[65] = '\0';
    snprintf(src, sizeof src, "%s.x", a64);
    snprintf(dst, sizeof dst, "%s.fl", b64);
    assert_int_equal(RUN(f, "spawn", a64, "--model", "oscillator"), 0);
    assert_int_equal(RUN(f, "spawn", b64, "--model", "oscillator"), 0);
    assert_int_equal(RUN(f, "link", src, dst), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 1);
    assert_int_equal(RUN(f, "inspect", b64), 0);
    assert_int_equal(RUN(f, "ids", a64), 0);
    assert_int_equal(RUN(f, "set", a64, "k=2"), 0);
    assert_int_equal(RUN(f, "kill", a64), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 0);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 1);

    assert_int_equal(RUN(f, "spawn", a65, "--model", "oscillator"),
                     TM_ERR_BAD_ID);
    assert_int_equal(RUN(f, "ids", a65), TM_ERR_BAD_ID);
    snprintf(src, sizeof src, "%s.x", a65);
    assert_int_equal(RUN(f, "link", src, dst), TM_ERR_BAD_ID);
    assert_int_equal(RUN(f, "watch", a65), TM_ERR_BAD_ID);
    assert_int_equal(PARSE(&c, err, "spawn", "", "--model", "x"),
                     TM_ERR_BAD_ID);
    assert_string_equal(err, "bad actor id '': ids are 1-64 letters, "
                             "digits, '_' or '-'");
    assert_int_equal(PARSE(&c, err, "spawn", "p", "--model", ""), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "spawn", "p", "--model", "x", "--node", ""),
                     TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "set", "p", ""), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "link", ".x", "p.fl"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "link", "p.", "q.fl"), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "inspect", ""), TM_ERR_BAD_ID);
    assert_int_equal(PARSE(&c, err, "actors", "--limit="), TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "actors", "--", "x"), TM_ERR_USAGE);
    assert_int_equal(tm_rt_count(f->rt), 1);
}

/* Links of an actor that was not restored (its record skipped at load)
 * stay in the store. A spawn that reuses the id replaces what was stored
 * under it, links included: otherwise a restart would attach the old
 * actor's links to the new one. */
static void test_spawn_drops_stale_links(void **state)
{
    s_fix_t *f = *state;
    tm_store_batch_t *b = tm_store_batch_new(f->store);
    const tm_rt_link_t stale[] = {
        {"ghost", "x", "o1", "fl"},  {"o1", "x", "ghost", "fr"},
        {"ghost", "x", "m3", "fl"},  {"ghost", "x", "m30", "fl"},
        {"ghost", "x", "m03", "fl"}, {"ghost", "x", "o10", "fl"}};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        assert_int_equal(tm_persist_put_link(b, &stale[i]), 0);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    assert_int_equal(RUN(f, "spawn", "o1", "--model", "oscillator"), 0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 4);
    assert_int_equal(RUN(f, "spawn-many", "m", "5", "--model", "oscillator"),
                     0);
    assert_int_equal(s_count(f, TM_DB_LINKS), 3); /* m30, m03, o10 stay */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_parse_spawn),
        cmocka_unit_test(test_parse_spawn_many),
        cmocka_unit_test(test_parse_links_and_set),
        cmocka_unit_test(test_parse_others),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_given_twice),
        cmocka_unit_test(test_parse_help_topic),
        cmocka_unit_test_setup_teardown(test_exec_every_command, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_exec_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_exec_parts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_set_patches_record, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_many_memory, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_inspect_many_links, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_id_boundaries, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_drops_stale_links, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
