/* cmd_test: the console's command grammar (protocol/tm_cmd): the table,
 * parsing of every command, option and error, and what completion offers.
 * Execution is tested by console_test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_cmd.h"
#include "tm_err.h"

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
                        "model fidelity node site period param");
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
                             "high|medium|low] [--node NODE | --site SITE] "
                             "[--period M] [--param NAME=VALUE]...)");
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
                             "high|medium|low] [--node NODE | --site SITE] "
                             "[--period M] [--param NAME=VALUE]...)");
    assert_int_equal(PARSE(&c, err, "spawn", "p", "q", "--model", "x"),
                     TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "spawn", "p", "--model", "x", "--ticks", "3"),
        TM_ERR_USAGE);
    assert_non_null(strstr(err, "unknown option --ticks"));
}

/* --site places by load at a site; --placed (why another node placed it
 * here) is hidden from help and completion but parsed like any option. */
static void test_parse_spawn_site(void **state)
{
    (void)state;
    tm_cmd_t c;
    char err[512];
    assert_int_equal(
        PARSE(&c, err, "spawn", "p1", "--model", "pump", "--site", "east"), 0);
    assert_true(c.has_site);
    assert_string_equal(c.site, "east");
    assert_false(c.has_node);
    assert_false(c.has_placed);
    assert_int_equal(PARSE(&c, err, "spawn-many", "m", "3", "--model", "tank",
                           "--site=west", "--placed", "least loaded of b"),
                     0);
    assert_string_equal(c.site, "west");
    assert_true(c.has_placed);
    assert_string_equal(c.placed, "least loaded of b");
    assert_int_equal(
        PARSE(&c, err, "spawn", "p1", "--model", "pump", "--site", "a b"),
        TM_ERR_USAGE);
    assert_non_null(strstr(err, "bad site name 'a b'"));
    assert_int_equal(
        PARSE(&c, err, "spawn", "p1", "--model", "pump", "--placed", "a\nb"),
        TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "spawn", "p1", "--model", "pump", "--placed", ""),
        TM_ERR_USAGE);
    assert_int_equal(PARSE(&c, err, "kill", "p1", "--site", "east"),
                     TM_ERR_USAGE);
    assert_null(strstr(tm_cmd_options(TM_CMD_SPAWN_MANY), "placed"));
    assert_string_equal(tm_cmd_options(TM_CMD_SPAWN_MANY),
                        "model fidelity node site period param");
    assert_int_equal(PARSE(&c, err, "place"), 0);
    assert_int_equal(c.kind, TM_CMD_PLACE);
    assert_string_equal(c.id, "");
    assert_int_equal(PARSE(&c, err, "place", "p1"), 0);
    assert_string_equal(c.id, "p1");
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
    /* --delay: 0 when not given (one tick), 1 .. TM_CMD_DELAY_MAX */
    assert_int_equal(c.delay, 0);
    assert_int_equal(
        PARSE(&c, err, "link", "p1.flow", "t1.qin", "--delay", "1000"), 0);
    assert_int_equal(c.delay, 1000);
    assert_int_equal(PARSE(&c, err, "link", "--delay=7", "p1.flow", "t1.qin"),
                     0);
    assert_int_equal(c.delay, 7);
    assert_int_equal(
        PARSE(&c, err, "link", "p1.flow", "t1.qin", "--delay", "1001"),
        TM_ERR_USAGE);
    assert_string_equal(err, "link: --delay takes a whole number of ticks in "
                             "1..1000, got '1001' (usage: link SRC.OUTPUT "
                             "DST.INPUT [--delay D])");
    assert_int_equal(
        PARSE(&c, err, "link", "p1.flow", "t1.qin", "--delay", "0"),
        TM_ERR_USAGE);
    assert_int_equal(
        PARSE(&c, err, "unlink", "p1.flow", "t1.qin", "--delay", "2"),
        TM_ERR_USAGE);
    assert_string_equal(err, "unlink: unknown option --delay (usage: unlink "
                             "SRC.OUTPUT DST.INPUT)");

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

/* ---- completion --------------------------------------------------------- */

#define COMPLETE(word, ...)                                                    \
    tm_cmd_complete(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (word))

/* What a word completes to comes from the table's argument and option
 * types. */
static void test_complete(void **state)
{
    (void)state;
    assert_int_equal(tm_cmd_complete(0, NULL, "sp"), TM_CMD_COMPLETE_COMMANDS);
    assert_int_equal(COMPLETE("", "help"), TM_CMD_COMPLETE_COMMANDS);
    assert_int_equal(COMPLETE("p", "inspect"), TM_CMD_COMPLETE_IDS);
    assert_int_equal(COMPLETE("", "inspect", "p1"), TM_CMD_COMPLETE_NONE);
    assert_int_equal(COMPLETE("p1.", "link"), TM_CMD_COMPLETE_OUTPUT);
    assert_int_equal(COMPLETE("t", "link", "p1.flow"), TM_CMD_COMPLETE_INPUT);
    assert_int_equal(COMPLETE("", "link", "a.x", "b.y"), TM_CMD_COMPLETE_NONE);
    assert_int_equal(COMPLETE("a", "set", "t1"), TM_CMD_COMPLETE_SETTABLE);
    assert_int_equal(COMPLETE("a", "set", "t1", "x=1"),
                     TM_CMD_COMPLETE_SETTABLE);
    assert_int_equal(COMPLETE("f", "watch", "p1", "head"),
                     TM_CMD_COMPLETE_SIGNAL);
    assert_int_equal(COMPLETE("", "watch", "--count", "3"),
                     TM_CMD_COMPLETE_IDS);
    assert_int_equal(COMPLETE("fa", "clock"), TM_CMD_COMPLETE_CLOCK);
    assert_int_equal(COMPLETE("pu", "spawn", "p1", "--model"),
                     TM_CMD_COMPLETE_FAMILIES);
    assert_int_equal(COMPLETE("l", "spawn", "p1", "--fidelity"),
                     TM_CMD_COMPLETE_FIDELITIES);
    assert_int_equal(COMPLETE("--f", "spawn", "p1"), TM_CMD_COMPLETE_OPTIONS);
    assert_int_equal(COMPLETE("x", "nosuch"), TM_CMD_COMPLETE_NONE);
    assert_string_equal(tm_cmd_options(TM_CMD_TOP), "limit interval count");
    assert_string_equal(tm_cmd_options(TM_CMD_RUN), "ticks");
    assert_string_equal(tm_cmd_options(TM_CMD_HASH), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_parse_spawn),
        cmocka_unit_test(test_parse_spawn_site),
        cmocka_unit_test(test_parse_spawn_many),
        cmocka_unit_test(test_parse_links_and_set),
        cmocka_unit_test(test_parse_others),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_given_twice),
        cmocka_unit_test(test_parse_help_topic),
        cmocka_unit_test(test_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
