/* sup_replay_test: reading the step-time fallbacks of an audit log
 * (tm_sup_replay): only the node's "step slow" fallbacks are kept, in
 * order of tick, damaged and other records pass, bad files are refused
 * with the file and the record named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_sup_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_path(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    snprintf(out, cap, "%s/sup_replay_%ld_%s.json", base ? base : "/tmp",
             (long)getpid(), name);
}

static void s_write(const char *path, const char *text)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define S_FALL(seq, tick, id)                                                  \
    "{\"seq\": " #seq ", \"tick\": " #tick ", \"kind\": \"fallback\", "        \
    "\"actor\": \"" id "\", \"before\": \"flaky@1.0.0/high\", \"after\": "     \
    "\"flaky@1.0.0/low\", \"reason\": \"step slow: 1708.6 us per actor\", "    \
    "\"who\": \"node\"}"

static void test_keeps_step_time_fallbacks(void **state)
{
    (void)state;
    char path[512];
    s_path(path, sizeof path, "good");
    s_write(
        path,
        "[{\"seq\": 1, \"tick\": 0, \"kind\": \"spawn\", \"actor\": "
        "\"s1\", \"before\": null, \"after\": \"flaky@1.0.0/high\", "
        "\"reason\": \"spawned\", \"who\": \"console\"},\n" S_FALL(
            7, 10,
            "s2") ",\n" S_FALL(5, 2,
                               "s1") ",\n" S_FALL(6, 2,
                                                  "s2") ",\n"
                                                        /* a numerical fallback:
                                                           the runtime takes it
                                                           again itself */
                                                        "{\"seq\": 8, "
                                                        "\"tick\": 5, "
                                                        "\"kind\": "
                                                        "\"fallback\", "
                                                        "\"actor\": "
                                                        "\"f1\", \"before\": "
                                                        "\"flaky@1.0.0/high\", "
                                                        "\"after\": "
                                                        "\"flaky@1.0.0/low\", "
                                                        "\"reason\": \"step "
                                                        "failed at high; "
                                                        "stepped "
                                                        "again at low\", "
                                                        "\"who\": \"node\"},\n"
                                                        /* asked for by a
                                                           console, not measured
                                                         */
                                                        "{\"seq\": 9, "
                                                        "\"tick\": 5, "
                                                        "\"kind\": "
                                                        "\"fallback\", "
                                                        "\"actor\": "
                                                        "\"f1\", \"before\": "
                                                        "\"a\", \"after\": "
                                                        "\"b\", \"reason\": "
                                                        "\"step "
                                                        "slow: x\", \"who\": "
                                                        "\"console\"},\n"
                                                        /* damaged: every field
                                                           null */
                                                        "{\"seq\": null, "
                                                        "\"tick\": null, "
                                                        "\"kind\": null, "
                                                        "\"actor\": null, "
                                                        "\"before\": null, "
                                                        "\"after\": null, "
                                                        "\"reason\": null, "
                                                        "\"who\": "
                                                        "null, \"damaged\": "
                                                        "\"bad checksum\"}]\n");
    tm_sup_replay_t r;
    char why[512] = "";
    assert_int_equal(tm_sup_replay_load(&r, path, why, sizeof why), 0);
    assert_int_equal(r.records, 7);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.falls[0].tick, 2);
    assert_int_equal(r.falls[0].seq, 5);
    assert_string_equal(r.falls[0].id, "s1");
    assert_int_equal(r.falls[1].seq, 6);
    assert_string_equal(r.falls[1].id, "s2");
    assert_int_equal(r.falls[2].tick, 10);
    assert_string_equal(r.falls[2].before, "flaky@1.0.0/high");
    assert_string_equal(r.falls[2].after, "flaky@1.0.0/low");
    tm_sup_replay_free(&r);
    assert_null(r.falls);
    unlink(path);
}

static void test_no_fallbacks(void **state)
{
    (void)state;
    char path[512];
    s_path(path, sizeof path, "none");
    const char *logs[] = {
        "[]",
        "[{\"seq\": 1, \"tick\": 0, \"kind\": \"spawn\", \"actor\": \"a\", "
        "\"before\": null, \"after\": \"x\", \"reason\": \"r\", \"who\": "
        "\"console\"}]",
        "[" S_FALL(3, 4, "s1") "]"};
    for (size_t i = 0; i < 3; i++) {
        s_write(path, logs[i]);
        tm_sup_replay_t r;
        char why[512] = "";
        assert_int_equal(tm_sup_replay_load(&r, path, why, sizeof why), 0);
        assert_int_equal(r.n, i == 2 ? 1 : 0);
        assert_int_equal(r.records, i == 0 ? 0 : 1);
        tm_sup_replay_free(&r);
    }
    unlink(path);
}

static void s_refused(const char *name, const char *text, int want_rc,
                      const char *want)
{
    char path[512];
    s_path(path, sizeof path, name);
    if (text != NULL) {
        s_write(path, text);
    }
    tm_sup_replay_t r;
    char why[512] = "";
    assert_int_equal(tm_sup_replay_load(&r, path, why, sizeof why), want_rc);
    assert_null(r.falls);
    assert_int_equal(r.n, 0);
    if (strstr(why, want) == NULL || strstr(why, path) == NULL) {
        fail_msg("%s: got '%s', want '%s'", name, why, want);
    }
    unlink(path);
}

static void test_refuses_bad_files(void **state)
{
    (void)state;
    s_refused("missing", NULL, TM_ERR_IO, "No such file or directory");
    s_refused("object", "{\"kind\": \"fallback\"}", TM_ERR_CONFIG,
              "not a list of audit records");
    s_refused("syntax", "[{\"seq\": 1,", TM_ERR_CONFIG, ":1:");
    s_refused("notrec", "[1, 2]", TM_ERR_CONFIG, "record 0 is not an object");
    s_refused(
        "noactor",
        "[" S_FALL(1, 2,
                   "s1") ", {\"seq\": 2, \"tick\": 3, \"kind\": "
                         "\"fallback\", \"reason\": \"step slow: x\", \"who\": "
                         "\"node\"}]",
        TM_ERR_CONFIG,
        "record 1 (seq 2): a step-time fallback without "
        "its actor");
    s_refused("negtick",
              "[{\"seq\": 2, \"tick\": -3, \"kind\": \"fallback\", "
              "\"actor\": \"a\", \"before\": \"x\", \"after\": \"y\", "
              "\"reason\": \"step slow: x\", \"who\": \"node\"}]",
              TM_ERR_CONFIG, "record 0: a step-time fallback without its tick");
    s_refused("dup", "[{\"seq\": 1, \"seq\": 2}]", TM_ERR_CONFIG,
              "duplicate object key");
    /* a mesh's merged log: one node's only */
    s_refused("nodes",
              "[{\"node\": \"a\", \"seq\": 1}, {\"seq\": 2}, "
              "{\"node\": \"b\", \"seq\": 1}]",
              TM_ERR_CONFIG, "records of several nodes (a, b)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_step_time_fallbacks),
        cmocka_unit_test(test_no_fallbacks),
        cmocka_unit_test(test_refuses_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
