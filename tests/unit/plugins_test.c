/* plugins_test: the model catalog with plugins (actors/models/tm_models,
 * nodes/tm_plugins, tm_mut_plugin): built-in entries and their checksums;
 * the checks a plugin's models pass (ABI, descriptors, tiers with the
 * same ports, a version loaded once); FILE_CHUNK payloads and their
 * staging; "models load" parsed; restoring plugins from the store (a
 * changed file refused); loading the test plugins (tests/plugins/), each
 * broken one refused with its reason and nothing changed.
 *
 * The catalog is one per process: the tests run in the order listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_cmd.h"
#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_models.h"
#include "tm_mut.h"
#include "tm_plugins.h"
#include "tm_rt.h"
#include "tm_stage.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_dir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[1536];
    snprintf(out, cap, "%s/plugins_test_%ld_%s", base ? base : "/tmp",
             (long)getpid(), name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", out, out);
    assert_int_equal(system(cmd), 0);
}

static void s_rm(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static uint8_t *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint8_t *s_plugin(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TM_PLUGIN_DIR, name);
    return s_read(path, len);
}

/* Files in dir/plugins. */
static size_t s_files(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, TM_PLUGINS_DIR);
    DIR *d = opendir(path);
    size_t n = 0;
    if (d == NULL) {
        return 0;
    }
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* ---- built-ins ---------------------------------------------------------- */

static void test_builtin_entries(void **state)
{
    (void)state;
    size_t n = 0;
    const tm_models_entry_t *e = tm_models_entries(&n);
    assert_int_equal(n, 8); /* eight families, pumpmon at 1.2.0 */
    for (size_t i = 0; i < n; i++) {
        assert_true(e[i].builtin);
        assert_string_equal(e[i].origin, TM_MODELS_BUILTIN);
        assert_string_equal(e[i].version, strcmp(e[i].family, "pumpmon") == 0
                                              ? "1.2.0"
                                              : "1.0.0");
        /* the sum is the canonical one, recomputed */
        size_t count = 0;
        const tm_model_t *const *all = tm_models_all(&count);
        const tm_model_t *tiers[TM_FIDELITY_COUNT];
        size_t k = 0;
        for (size_t j = 0; j < count; j++) {
            if (strcmp(all[j]->family, e[i].family) == 0) {
                assert_true(e[i].tiers & (1u << all[j]->fidelity));
                tiers[k++] = all[j];
            }
        }
        uint8_t sum[TM_MODELS_SUM_BYTES];
        assert_int_equal(tm_models_builtin_sum(tiers, k, sum), 0);
        assert_memory_equal(sum, e[i].sum, sizeof sum);
        for (size_t j = 0; j < i; j++) {
            assert_memory_not_equal(e[j].sum, e[i].sum, sizeof sum);
        }
    }
    assert_ptr_equal(tm_models_entry("pump", "1.0.0"),
                     tm_models_entry("pump", "1.0.0"));
    assert_null(tm_models_entry("pump", "2.0.0"));
    assert_null(tm_models_entry("flaky", "1.0.0"));
}

static void test_builtin_sum_canonical(void **state)
{
    (void)state;
    const tm_model_t *hi = NULL;
    const tm_model_t *lo = NULL;
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_HIGH, &hi), 0);
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_LOW, &lo), 0);
    uint8_t a[TM_MODELS_SUM_BYTES];
    uint8_t b[TM_MODELS_SUM_BYTES];
    const tm_model_t *ab[] = {hi, lo};
    const tm_model_t *ba[] = {lo, hi};
    assert_int_equal(tm_models_builtin_sum(ab, 2, a), 0);
    assert_int_equal(tm_models_builtin_sum(ba, 2, b), 0);
    assert_memory_equal(a, b, sizeof a); /* tier order, not list order */
    /* a changed default changes the sum; the summary does not */
    tm_var_t params[TM_MODEL_MAX_VARS];
    tm_model_t copy = *hi;
    memcpy(params, hi->params, hi->n_params * sizeof params[0]);
    copy.summary = "another summary";
    const tm_model_t *cl[] = {&copy, lo};
    assert_int_equal(tm_models_builtin_sum(cl, 2, b), 0);
    assert_memory_equal(a, b, sizeof a);
    params[0].def += 1.0;
    copy.params = params;
    assert_int_equal(tm_models_builtin_sum(cl, 2, b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    /* tiers of two families are no version */
    const tm_model_t *osc = NULL;
    assert_int_equal(tm_models_find("oscillator", NULL, 0, &osc), 0);
    const tm_model_t *mixed[] = {hi, osc};
    assert_int_equal(tm_models_builtin_sum(mixed, 2, b), TM_ERR_INVAL);
    char hex[2 * TM_MODELS_SUM_BYTES + 1];
    uint8_t z[TM_MODELS_SUM_BYTES] = {0xab, 0x01};
    tm_models_sum_hex(z, hex);
    assert_int_equal(strlen(hex), 64);
    assert_memory_equal(hex, "ab0100", 6);
}

/* ---- checks of a plugin's models ------------------------------------ */

static void test_check_set(void **state)
{
    (void)state;
    char why[512];
    size_t before = 0;
    tm_models_all(&before);
    const tm_model_t *hi = NULL;
    const tm_model_t *lo = NULL;
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_HIGH, &hi), 0);
    assert_int_equal(tm_models_find("spring", NULL, TM_FIDELITY_LOW, &lo), 0);
    tm_model_t h2 = *hi;
    tm_model_t l2 = *lo;
    h2.version = "9.0.0";
    l2.version = "9.0.0";
    const tm_model_t *ok[] = {&h2, &l2};
    assert_int_equal(tm_models_check_set(ok, 2, why, sizeof why), 0);
    /* a version the catalog has */
    const tm_model_t *dup[] = {hi};
    assert_int_equal(tm_models_check_set(dup, 1, why, sizeof why),
                     TM_ERR_EXISTS);
    assert_non_null(strstr(why, "spring@1.0.0 is already in the catalog"));
    /* one tier twice */
    const tm_model_t *twice[] = {&h2, &h2};
    assert_int_equal(tm_models_check_set(twice, 2, why, sizeof why),
                     TM_ERR_INVAL);
    assert_non_null(strstr(why, "two high tiers"));
    /* tiers with other ports */
    tm_var_t outs[2];
    memcpy(outs, lo->outputs, sizeof outs);
    outs[1].name = "other";
    l2.outputs = outs;
    assert_int_equal(tm_models_check_set(ok, 2, why, sizeof why), TM_ERR_INVAL);
    assert_non_null(strstr(why, "different ports"));
    /* another ABI */
    l2 = *lo;
    l2.version = "9.0.0";
    l2.abi_version = TM_MODEL_ABI_VERSION + 1;
    assert_int_equal(tm_models_check_set(ok, 2, why, sizeof why),
                     TM_ERR_MODEL_ABI);
    assert_non_null(strstr(why, "model ABI version 2"));
    /* nothing, and too many */
    assert_int_equal(tm_models_check_set(ok, 0, why, sizeof why), TM_ERR_INVAL);
    assert_int_equal(tm_models_check_set(NULL, 2, why, sizeof why),
                     TM_ERR_INVAL);
    /* a bad descriptor */
    l2 = *lo;
    l2.version = "9.0.0";
    l2.step = NULL;
    assert_int_equal(tm_models_check_set(ok, 2, why, sizeof why), TM_ERR_INVAL);
    size_t after = 0;
    tm_models_all(&after);
    assert_int_equal(after, before); /* checks add nothing */
    assert_null(tm_models_entry("spring", "9.0.0"));
}

/* ---- FILE_CHUNK, staging, the command ----------------------------------- */

static void test_file_chunks(void **state)
{
    (void)state;
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 7);
    }
    tm_stage_t *st = NULL;
    assert_int_equal(tm_stage_open(&st), 0);
    char why[256];
    for (uint32_t k = 0; k < 3; k++) {
        tm_file_chunk_t c = {.upload = 42,
                             .index = k,
                             .final = k == 2,
                             .data = data + 1000 * k,
                             .len = 1000};
        snprintf(c.file, sizeof c.file, "a.so");
        uint8_t *p = NULL;
        size_t n = 0;
        assert_int_equal(tm_file_chunk_encode(&c, &p, &n), 0);
        tm_file_chunk_t back;
        assert_int_equal(tm_file_chunk_decode(p, n, NULL, &back), 0);
        assert_int_equal(back.index, k);
        assert_int_equal(back.len, 1000);
        assert_memory_equal(back.data, c.data, 1000);
        assert_string_equal(back.file, "a.so");
        tm_file_chunk_t h;
        assert_int_equal(
            tm_stage_file_chunk(st, "p1", 2, p, n, 1.0, &h, why, sizeof why),
            0);
        if (k == 0) { /* not complete yet */
            const char *name = NULL;
            const uint8_t *d = NULL;
            size_t len = 0;
            assert_int_equal(tm_stage_file(st, "p1", 2, 42, &name, &d, &len,
                                           why, sizeof why),
                             TM_ERR_NOT_FOUND);
        }
        free(p);
    }
    const char *name = NULL;
    const uint8_t *d = NULL;
    size_t len = 0;
    assert_int_equal(
        tm_stage_file(st, "p1", 2, 42, &name, &d, &len, why, sizeof why), 0);
    assert_string_equal(name, "a.so");
    assert_int_equal(len, sizeof data);
    assert_memory_equal(d, data, sizeof data);
    /* another console, another upload id, a plant request: none */
    assert_int_equal(
        tm_stage_file(st, "p2", 2, 42, &name, &d, &len, why, sizeof why),
        TM_ERR_NOT_FOUND);
    assert_int_equal(
        tm_stage_file(st, "p1", 2, 43, &name, &d, &len, why, sizeof why),
        TM_ERR_NOT_FOUND);
    assert_null(tm_stage_get(st, "p1", 2, 42, 1.0, why, sizeof why));
    tm_stage_drop(st, "p1", 2);
    assert_int_equal(tm_stage_count(st), 0);
    /* a chunk out of order is refused */
    tm_file_chunk_t c = {.upload = 7, .index = 1, .data = data, .len = 10};
    snprintf(c.file, sizeof c.file, "b.so");
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(tm_file_chunk_encode(&c, &p, &n), 0);
    tm_file_chunk_t h;
    assert_int_equal(
        tm_stage_file_chunk(st, "p1", 2, p, n, 1.0, &h, why, sizeof why),
        TM_ERR_NOT_FOUND);
    free(p);
    /* names with a folder, and junk */
    snprintf(c.file, sizeof c.file, "x/b.so");
    assert_int_equal(tm_file_chunk_encode(&c, &p, &n), TM_ERR_INVAL);
    static const uint8_t junk[] = {0x81, 0xa4, 'f', 'i', 'l', 'e', 0x01};
    assert_int_equal(tm_file_chunk_decode(junk, sizeof junk, NULL, &h),
                     TM_ERR_WIRE_TYPE);
    tm_stage_destroy(&st);
}

static void test_cmd_models_load(void **state)
{
    (void)state;
    tm_cmd_t cmd;
    char err[256];
    const char *a[] = {"models", "load", "x/flaky1.so", "--upload", "9"};
    assert_int_equal(tm_cmd_parse(5, a, &cmd, err, sizeof err), 0);
    assert_int_equal(cmd.kind, TM_CMD_MODELS_LOAD);
    assert_string_equal(cmd.path, "x/flaky1.so");
    assert_int_equal(cmd.upload, 9);
    assert_true(cmd.info->flags & TM_CMD_F_FILE);
    const char *b[] = {"models", "pump"};
    assert_int_equal(tm_cmd_parse(2, b, &cmd, err, sizeof err), 0);
    assert_int_equal(cmd.kind, TM_CMD_MODELS);
    assert_string_equal(cmd.model, "pump");
    const char *c[] = {"models", "load"};
    assert_int_equal(tm_cmd_parse(2, c, &cmd, err, sizeof err), TM_ERR_USAGE);
    assert_non_null(strstr(err, "models load"));
}

/* ---- restore from the store --------------------------------------------- */

/* A catalog record for the file `name` of the bytes at src, the file
 * copied into dir/plugins (changed when tamper). */
static void s_record(tm_store_t *store, const char *dir, const char *name,
                     bool tamper)
{
    size_t len = 0;
    uint8_t *bytes = s_plugin(name, &len);
    tm_plugins_prep_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.file, sizeof p.file, "%s", name);
    crypto_generichash(p.sum, sizeof p.sum, bytes, len, NULL, 0);
    tm_models_sum_hex(p.sum, p.hex);
    snprintf(p.path, sizeof p.path, "%s/%s/%s.so", dir, TM_PLUGINS_DIR, p.hex);
    char folder[1024];
    snprintf(folder, sizeof folder, "%s/%s", dir, TM_PLUGINS_DIR);
    mkdir(folder, 0700);
    if (tamper) {
        bytes[len / 2] ^= 0x01;
    }
    FILE *f = fopen(p.path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
    char key[128];
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(tm_plugins_record(&p, key, sizeof key, &val, &vlen), 0);
    tm_store_batch_t *b = tm_store_batch_new(store);
    assert_int_equal(
        tm_store_batch_put(b, TM_DB_CATALOG, key, strlen(key), val, vlen), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    free(val);
}

static void test_restore(void **state)
{
    (void)state;
    char dir[700];
    s_dir(dir, sizeof dir, "restore");
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, dir, &o), 0);
    s_record(store, dir, "flaky2.so", false);
    s_record(store, dir, "flaky1.so", true); /* its file was changed */
    tm_plugins_restored_t r;
    assert_int_equal(tm_plugins_restore(store, dir, &r), 0);
    assert_int_equal(r.loaded, 1);
    assert_int_equal(r.refused, 1);
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find("flaky", "2.0.0", TM_FIDELITY_LOW, &m), 0);
    assert_int_equal(tm_models_find("flaky", "1.0.0", TM_FIDELITY_LOW, &m),
                     TM_ERR_UNKNOWN_VERSION);
    const tm_models_entry_t *e = tm_models_entry("flaky", "2.0.0");
    assert_non_null(e);
    assert_false(e->builtin);
    assert_string_equal(e->origin, "flaky2.so");
    assert_int_equal(e->tiers,
                     (1u << TM_FIDELITY_HIGH) | (1u << TM_FIDELITY_LOW));
    tm_store_close(&store);
    s_rm(dir);
}

/* ---- loading through the mutation path ---------------------------------- */

static int s_load(tm_mut_t *m, const char *dir, const char *name,
                  tm_plugins_prep_t *p, char *why)
{
    size_t len = 0;
    uint8_t *bytes = name[0] == '/' ? s_read(name, &len) : s_plugin(name, &len);
    const char *base = strrchr(name, '/');
    int rc = tm_mut_plugin(m, dir, base ? base + 1 : name, bytes, len, p, why);
    free(bytes);
    return rc;
}

static void test_load(void **state)
{
    (void)state;
    char dir[700];
    s_dir(dir, sizeof dir, "load");
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, dir, &o), 0);
    tm_rt_t *rt = NULL;
    tm_rt_config_t rcfg = {.workers = 1, .h = 0.1};
    assert_int_equal(tm_rt_open(&rt, &rcfg), 0);
    tm_mut_t *m = NULL;
    assert_int_equal(tm_mut_open(&m, rt, store, NULL, NULL), 0);
    tm_plugins_prep_t p;
    char why[TM_MUT_WHY_MAX];
    assert_int_equal(s_load(m, dir, "flaky1.so", &p, why), 0);
    assert_false(p.already);
    assert_string_equal(p.versions, "flaky@1.0.0 (high, low)");
    struct stat st;
    assert_int_equal(stat(p.path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const tm_model_t *hi = NULL;
    assert_int_equal(tm_models_find("flaky", "1.0.0", TM_FIDELITY_HIGH, &hi),
                     0);
    assert_int_equal(hi->n_states, 2);
    size_t n_entries = 0;
    size_t n_models = 0;
    tm_models_entries(&n_entries);
    tm_models_all(&n_models);
    size_t files = s_files(dir);
    assert_int_equal(files, 1);
    /* the same bytes again: nothing changes */
    assert_int_equal(s_load(m, dir, "flaky1.so", &p, why), 0);
    assert_true(p.already);
    /* the restored flaky2.so too (same checksum) */
    assert_int_equal(s_load(m, dir, "flaky2.so", &p, why), 0);
    assert_true(p.already);
    /* every broken plugin refused with its reason, nothing changed */
    static const struct {
        const char *name;
        int rc;
        const char *why;
    } bad[] = {
        {"bad_abi.so", TM_ERR_MODEL_ABI, "model ABI version 99"},
        {"no_symbol.so", TM_ERR_PLUGIN, "does not export tm_plugin_v1()"},
        {"bad_ports.so", TM_ERR_INVAL, "different ports"},
        {TM_PLUGIN_NOT_ELF, TM_ERR_PLUGIN, "not a loadable shared object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_load(m, dir, bad[i].name, &p, why), bad[i].rc);
        if (strstr(why, bad[i].why) == NULL) {
            fail_msg("%s: '%s' lacks '%s'", bad[i].name, why, bad[i].why);
        }
        size_t n = 0;
        tm_models_entries(&n);
        assert_int_equal(n, n_entries);
        tm_models_all(&n);
        assert_int_equal(n, n_models);
        assert_int_equal(s_files(dir), files);
    }
    size_t records = 0;
    assert_int_equal(tm_store_count(store, TM_DB_CATALOG, &records), 0);
    assert_int_equal(records, 1); /* flaky1 only: flaky2 was loaded before */
    tm_mut_destroy(&m);
    tm_rt_destroy(&rt);
    tm_store_close(&store);
    s_rm(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_entries),
        cmocka_unit_test(test_builtin_sum_canonical),
        cmocka_unit_test(test_check_set),
        cmocka_unit_test(test_file_chunks),
        cmocka_unit_test(test_cmd_models_load),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
