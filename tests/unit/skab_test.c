/* skab_test: SKAB CSV files as the replay reads them - the header in any
 * order, CRLF, a byte order mark, blank lines, files with and without
 * labels; each kind of bad row rejected with its file and line; times
 * against values computed by hand; asset ids; the sorted recursive
 * listing of a folder tree built in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_skab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_HEADER                                                               \
    "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;"           \
    "Temperature;Thermocouple;Voltage;Volume Flow RateRMS;anomaly;"            \
    "changepoint"

static tm_skab_file_t *s_parse_ok(const char *text)
{
    tm_skab_file_t *f = NULL;
    char err[512] = "";
    int rc = tm_skab_parse(text, strlen(text), "t.csv", &f, err, sizeof err);
    if (rc != 0) {
        fail_msg("parse: %s", err);
    }
    assert_non_null(f);
    return f;
}

/* The parse fails with TM_ERR_INVAL and a message starting "t.csv:LINE:"
 * ("t.csv:" for line 0: no line) and containing want. */
static void s_parse_bad(const char *text, int line, const char *want)
{
    tm_skab_file_t *f = NULL;
    char err[512] = "";
    char prefix[32];
    int rc = tm_skab_parse(text, strlen(text), "t.csv", &f, err, sizeof err);
    assert_int_equal(rc, TM_ERR_INVAL);
    assert_null(f);
    if (line == 0) {
        snprintf(prefix, sizeof prefix, "t.csv: ");
    } else {
        snprintf(prefix, sizeof prefix, "t.csv:%d: ", line);
    }
    if (strncmp(err, prefix, strlen(prefix)) != 0 ||
        strstr(err, want) == NULL) {
        fail_msg("expected '%s...%s', got '%s'", prefix, want, err);
    }
}

static void test_parse_rows(void **state)
{
    (void)state;
    tm_skab_file_t *f = s_parse_ok(
        "\xef\xbb\xbf" S_HEADER "\r\n"
        "2020-03-09 10:14:33;0.0265878;0.0401113;1.3302;0.054711;79.3366;"
        "26.0199;233.062;32.0;0.0;0.0\r\n"
        "\r\n"
        "2020-03-09 10:14:35;0.1;0.2;1.5;-0.27;80;26;230;31.5;1.0;1.0\r\n"
        "2020-03-09 10:14:36;1e-3;2;3;4;5;6;7;8;1;0\r\n");
    assert_int_equal(f->rows, 3);
    assert_true(f->labelled);
    assert_string_equal(f->path, "t.csv");
    assert_true(f->ts[0] == 1583748873LL * 1000000000LL);
    assert_true(f->ts[1] - f->ts[0] == 2000000000LL); /* a gap of 2 s */
    assert_true(f->ts[2] - f->ts[1] == 1000000000LL);
    assert_true(f->values[0] == 0.0265878);
    assert_true(f->values[7] == 32.0);
    assert_true(f->values[TM_SKAB_SIGNALS + 3] == -0.27);
    assert_true(f->values[2 * TM_SKAB_SIGNALS] == 1e-3);
    assert_int_equal(f->anomaly[0], 0);
    assert_int_equal(f->anomaly[1], 1);
    assert_int_equal(f->changepoint[1], 1);
    assert_int_equal(f->changepoint[2], 0);
    tm_skab_file_destroy(&f);
    assert_null(f);
    tm_skab_file_destroy(&f); /* twice is fine */
}

/* The anomaly-free file has no label columns; columns may come in any
 * order, and unknown ones are ignored. */
static void test_parse_unlabelled_any_order(void **state)
{
    (void)state;
    tm_skab_file_t *f = s_parse_ok(
        "Voltage;datetime;extra;Volume Flow RateRMS;Current;Pressure;"
        "Temperature;Thermocouple;Accelerometer2RMS;Accelerometer1RMS\n"
        "238.8;2020-02-08 13:30:47;x;122.6;2.1;0.38;90.6;26.8;0.27;0.20\n"
        "227.9;2020-02-08 13:30:48;y;122.3;2.0;-0.2;90.7;26.9;0.28;0.21");
    assert_int_equal(f->rows, 2);
    assert_false(f->labelled);
    assert_int_equal(f->anomaly[0], 0);
    assert_int_equal(f->anomaly[1], 0);
    /* values in tm_skab_signals order: vib1 first, flow last */
    assert_true(f->values[0] == 0.20);
    assert_true(f->values[1] == 0.27);
    assert_true(f->values[6] == 238.8);
    assert_true(f->values[7] == 122.6);
    assert_true(f->values[TM_SKAB_SIGNALS + 3] == -0.2);
    tm_skab_file_destroy(&f);
}

static void test_parse_errors(void **state)
{
    (void)state;
    const char *row = "2020-03-09 10:14:33;1;2;3;4;5;6;7;8;0;0\n";
    char buf[1024];
    s_parse_bad("", 0, "empty file");
    s_parse_bad(S_HEADER "\n", 1, "no data rows");
    s_parse_bad("datetime;Current\n", 1, "no column 'Accelerometer1RMS'");
    s_parse_bad("datetime;Current;Current\n", 1, "'Current' appears twice");
    snprintf(buf, sizeof buf, S_HEADER "\n%s2020-03-09 10:14:34;1;2;3\n", row);
    s_parse_bad(buf, 3, "fewer fields");
    snprintf(buf, sizeof buf, S_HEADER "\n%s%s", row, row);
    s_parse_bad(buf, 3, "is not after the row before");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-02-30 10:14:33;1;2;3;4;5;6;7;8;0;0\n");
    s_parse_bad(buf, 2, "datetime '2020-02-30 10:14:33'");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-03-09T10:14:33;1;2;3;4;5;6;7;8;0;0\n");
    s_parse_bad(buf, 2, "is not YYYY-MM-DD hh:mm:ss");
    snprintf(buf, sizeof buf,
             S_HEADER "\n\n%s2020-03-09 10:14:34;1;2;x3;4;5;6;7;8;0;0\n", row);
    s_parse_bad(buf, 4, "Current 'x3' is not a finite number");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-03-09 10:14:34;1;2;3;nan;5;6;7;8;0;0\n");
    s_parse_bad(buf, 2, "Pressure 'nan'");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-03-09 10:14:34;1;2;3;4;5;6;;8;0;0\n");
    s_parse_bad(buf, 2, "Voltage ''");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-03-09 10:14:34;1;2;3;4;5;6;7;8;2;0\n");
    s_parse_bad(buf, 2, "anomaly label '2' is not 0 or 1");
    snprintf(buf, sizeof buf,
             S_HEADER "\n2020-03-09 10:14:34;1;2;3;4;5;6;7;8;0;0;9\n");
    s_parse_bad(buf, 2, "more fields");
}

static void test_time(void **state)
{
    (void)state;
    int64_t ns = -1;
    char buf[32];
    assert_int_equal(tm_skab_parse_time("1970-01-01 00:00:00", 19, &ns), 0);
    assert_true(ns == 0);
    /* 2020-02-29 is a leap day: 18321 days after the epoch */
    assert_int_equal(tm_skab_parse_time("2020-02-29 23:59:59", 19, &ns), 0);
    assert_true(ns == (18321LL * 86400 + 86399) * 1000000000LL);
    tm_skab_format_time(ns, buf, sizeof buf);
    assert_string_equal(buf, "2020-02-29 23:59:59");
    assert_int_equal(tm_skab_parse_time("2019-02-29 00:00:00", 19, &ns),
                     TM_ERR_INVAL);
    assert_int_equal(tm_skab_parse_time("1969-12-31 23:59:59", 19, &ns),
                     TM_ERR_INVAL);
    assert_int_equal(tm_skab_parse_time("2020-01-01 24:00:00", 19, &ns),
                     TM_ERR_INVAL);
    assert_int_equal(tm_skab_parse_time("2020-01-01 00:00:00x", 20, &ns),
                     TM_ERR_INVAL);
    /* every day of 2000-2030 goes there and back */
    for (int64_t d = 10957; d < 10957 + 31 * 366; d++) {
        int64_t t = (d * 86400 + 3723) * 1000000000LL;
        int64_t back = 0;
        tm_skab_format_time(t, buf, sizeof buf);
        assert_int_equal(tm_skab_parse_time(buf, strlen(buf), &back), 0);
        assert_true(back == t);
    }
}

static void test_ids(void **state)
{
    (void)state;
    char id[TM_SKAB_ID_MAX + 1];
    assert_int_equal(tm_skab_asset_id("valve1/0.csv", id, sizeof id), 0);
    assert_string_equal(id, "skab-valve1-0");
    assert_int_equal(tm_skab_asset_id("a b/c.d_e-f.csv", id, sizeof id), 0);
    assert_string_equal(id, "skab-a-b-c-d_e-f");
    assert_int_equal(tm_skab_asset_id(".csv", id, sizeof id), TM_ERR_INVAL);
    char longname[80];
    memset(longname, 'x', 59);
    strcpy(longname + 59, ".csv");
    assert_int_equal(tm_skab_asset_id(longname, id, sizeof id), 0);
    assert_int_equal(strlen(id), 64);
    memset(longname, 'x', 60);
    strcpy(longname + 60, ".csv");
    assert_int_equal(tm_skab_asset_id(longname, id, sizeof id), TM_ERR_TOO_BIG);

    /* two paths that map to one id */
    const char *text = S_HEADER "\n2020-03-09 10:14:33;1;2;3;4;5;6;7;8;0;0\n";
    tm_skab_file_t *f[3] = {NULL, NULL, NULL};
    char err[256];
    const char *names[3] = {"a/b.csv", "c.csv", "a-b.csv"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            tm_skab_parse(text, strlen(text), names[i], &f[i], err, sizeof err),
            0);
    }
    assert_int_equal(tm_skab_assign_ids(f, 2, err, sizeof err), 0);
    assert_string_equal(f[0]->id, "skab-a-b");
    assert_string_equal(f[1]->id, "skab-c");
    assert_int_equal(tm_skab_assign_ids(f, 3, err, sizeof err), TM_ERR_EXISTS);
    assert_non_null(strstr(err, "a/b.csv and a-b.csv"));
    for (int i = 0; i < 3; i++) {
        tm_skab_file_destroy(&f[i]);
    }
}

/* ---- folders ------------------------------------------------------------- */

static void s_write(const char *dir, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_tmpdir(char *dir, size_t cap)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    base = base != NULL && base[0] ? base : "/tmp";
    mkdir(base, 0700);
    snprintf(dir, cap, "%s/skab_test.XXXXXX", base);
    assert_non_null(mkdtemp(dir));
}

static void s_rm(const char *dir, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    assert_int_equal(remove(path), 0);
}

static void test_list_and_load(void **state)
{
    (void)state;
    char dir[512];
    char sub[600];
    char err[1024];
    char **paths = NULL;
    size_t n = 0;
    s_tmpdir(dir, sizeof dir);
    assert_int_equal(tm_skab_list(dir, &paths, &n, err, sizeof err),
                     TM_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no .csv files"));
    const char *good = S_HEADER "\n2020-03-09 10:14:33;1;2;3;4;5;6;7;8;0;0\n"
                                "2020-03-09 10:14:34;1;2;3;4;5;6;7;8;1;1\n";
    const char *dirs[] = {"b", "c", "c/d"};
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, dirs[i]);
        assert_int_equal(mkdir(sub, 0700), 0);
    }
    s_write(dir, "b/1.csv", good);
    s_write(dir, "a.csv", good);
    s_write(dir, ".hidden.csv", good);
    s_write(dir, "c/notes.txt", "not a csv");
    s_write(dir, "c/d/2.csv", S_HEADER "\n2020-03-09 10:14:33;1;2\n");
    s_write(dir, "b/10.csv", good);
    assert_int_equal(tm_skab_list(dir, &paths, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(paths[0], "a.csv");
    assert_string_equal(paths[1], "b/1.csv");
    assert_string_equal(paths[2], "b/10.csv");
    assert_string_equal(paths[3], "c/d/2.csv");

    tm_skab_file_t *f = NULL;
    assert_int_equal(tm_skab_load(dir, paths[1], &f, err, sizeof err), 0);
    assert_int_equal(f->rows, 2);
    assert_string_equal(f->path, "b/1.csv");
    tm_skab_file_destroy(&f);
    assert_int_equal(tm_skab_load(dir, paths[3], &f, err, sizeof err),
                     TM_ERR_INVAL);
    assert_string_equal(err, "c/d/2.csv:2: fewer fields, the header has 11");
    assert_int_equal(tm_skab_load(dir, "missing.csv", &f, err, sizeof err),
                     TM_ERR_IO);
    assert_non_null(strstr(err, "missing.csv: No such file"));
    tm_skab_list_free(paths, n);

    const char *files[] = {"b/1.csv",     "b/10.csv",    "a.csv",
                           ".hidden.csv", "c/notes.txt", "c/d/2.csv"};
    for (int i = 0; i < 6; i++) {
        s_rm(dir, files[i]);
    }
    s_rm(dir, "c/d");
    s_rm(dir, "c");
    s_rm(dir, "b");
    assert_int_equal(rmdir(dir), 0);
    snprintf(sub, sizeof sub, "%s/gone", dir);
    assert_int_equal(tm_skab_list(sub, &paths, &n, err, sizeof err),
                     TM_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rows),
        cmocka_unit_test(test_parse_unlabelled_any_order),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_list_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
