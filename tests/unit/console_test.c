/* console_test: the console command handlers against a real runtime and
 * store: each reply body is valid MessagePack of the documented shape, and
 * each mutation is in the store before the handler returns (through the
 * one mutation path, tm_mut). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_console.h"
#include "tm_models.h"
#include "tm_err.h"
#include "tm_persist.h"
#include "tm_store.h"
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

/* ---- execution ---------------------------------------------------------- */

typedef struct {
    char dir[512];
    tm_rt_t *rt;
    tm_store_t *store;
    tm_mut_t *mut;
    tm_stats_t *stats;
    tm_console_ctx_t ctx;
    tm_reply_t rep;
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
    assert_int_equal(tm_mut_open(&f->mut, f->rt, f->store, NULL, NULL), 0);
    f->stats = tm_stats_new();
    assert_non_null(f->stats);
    f->ctx.rt = f->rt;
    f->ctx.mut = f->mut;
    f->ctx.stats = f->stats;
    f->ctx.name = "unit";
    f->ctx.site = "lab";
    f->ctx.endpoint = "tcp://127.0.0.1:1";
    tm_reply_init(&f->rep);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    tm_reply_destroy(&f->rep);
    tm_stats_destroy(&f->stats);
    tm_mut_destroy(&f->mut);
    tm_rt_destroy(&f->rt);
    tm_store_close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int s_emit(tm_console_call_t *call)
{
    s_fix_t *f = call->server;
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(call->rep, &len);
    assert_non_null(body);
    assert_int_equal(tm_wire_check(body, len, NULL), 0);
    f->parts++;
    tm_wire_buf_clear(&call->rep->buf);
    call->rep->has_body = false;
    return 0;
}

/* The body of the last reply (valid until the next command). */
static const uint8_t *s_body(s_fix_t *f, size_t *len)
{
    const uint8_t *b = tm_reply_bytes(&f->rep, len);
    assert_non_null(b);
    return b;
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
    tm_console_call_t call = {.cmd = &c,
                              .rep = &f->rep,
                              .emit = s_emit,
                              .server = f,
                              .argc = argc,
                              .argv = argv};
    rc = tm_console_exec(&f->ctx, &call);
    assert_int_equal(rc, f->rep.status);
    if (rc == 0) {
        size_t len = 0;
        const uint8_t *body = s_body(f, &len);
        assert_int_equal(tm_wire_check(body, len, NULL), 0);
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
    /* commands that need the node's clock or streams are refused here */
    assert_int_equal(RUN(f, "run", "--ticks", "1"), TM_ERR_UNSUPPORTED);
    assert_int_equal(RUN(f, "watch", "t1"), TM_ERR_UNSUPPORTED);

    tm_cmd_t c;
    char err[256];
    size_t len = 0;
    const uint8_t *body = NULL;
    assert_int_equal(PARSE(&c, err, "watch", "t1"), 0);
    assert_int_equal(tmi_watch_check(&f->ctx, &c, &f->rep), 0);
    assert_int_equal(c.n_signals, 4); /* every output by default */
    assert_int_equal(tmi_watch_item(&f->ctx, &c, &f->rep), 0);
    body = s_body(f, &len);
    assert_int_equal(tm_wire_check(body, len, NULL), 0);
    assert_int_equal(PARSE(&c, err, "top", "--limit", "5"), 0);
    assert_int_equal(tmi_top_item(&f->ctx, &c, &f->rep), 0);
    body = s_body(f, &len);
    assert_int_equal(tm_wire_check(body, len, NULL), 0);
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

/* link --delay: the runtime and the stored record get the delay; another
 * delay for the same ends is the same link; a set of a source with a
 * delayed link stores its past outputs with it. */
static void test_link_delay(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "spawn", "o1", "--model", "oscillator"), 0);
    assert_int_equal(RUN(f, "spawn", "o2", "--model", "oscillator"), 0);
    assert_int_equal(RUN(f, "link", "o1.x", "o2.fl", "--delay", "3"), 0);
    assert_int_equal(RUN(f, "link", "o1.x", "o2.fl", "--delay", "2"),
                     TM_ERR_EXISTS);
    assert_non_null(strstr(f->rep.message, "(delay 3)"));
    void *val = NULL;
    size_t len = 0;
    assert_int_equal(
        tm_store_get(f->store, TM_DB_LINKS, "o1.x>o2.fl", 10, &val, &len), 0);
    tm_persist_link_key_t k;
    uint32_t delay = 0;
    assert_int_equal(tm_persist_link_decode(val, len, &k, &delay), 0);
    free(val);
    assert_int_equal(delay, 3);
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(f->rt, "o1", &a), 0);
    assert_int_equal(a.history, 3);
    assert_int_equal(tm_rt_step(f->rt, 5), 0);
    /* a set patches the stored record, its history as stored (none: the
     * spawn's); a change of tier writes the record anew, with the two past
     * ticks of its window */
    tm_persist_actor_t rec;
    char why[TM_MUT_WHY_MAX];
    assert_int_equal(RUN(f, "set", "o1", "k=20"), 0);
    assert_int_equal(tm_store_get(f->store, TM_DB_ACTORS, "o1", 2, &val, &len),
                     0);
    assert_int_equal(tm_persist_actor_decode(val, len, &rec), 0);
    free(val);
    assert_int_equal(rec.n_history, 0);
    const tm_model_t *lo = NULL;
    assert_int_equal(tm_models_find("oscillator", NULL, TM_FIDELITY_LOW, &lo),
                     0);
    assert_int_equal(tm_mut_set_model(f->mut, "o1", lo, why), 0);
    assert_int_equal(tm_store_get(f->store, TM_DB_ACTORS, "o1", 2, &val, &len),
                     0);
    assert_int_equal(tm_persist_actor_decode(val, len, &rec), 0);
    assert_int_equal(rec.n_history, 2);
    double past[2 * 2];
    const double *y = NULL;
    assert_int_equal(tm_persist_actor_history(val, len, past, 4), 0);
    free(val);
    assert_int_equal(tm_rt_outputs_at(f->rt, "o1", 4, &y, NULL), 0);
    assert_memory_equal(past + 2, y, 2 * sizeof(double));
    assert_int_equal(RUN(f, "unlink", "o1.x", "o2.fl"), 0);
    assert_int_equal(tm_rt_get(f->rt, "o1", &a), 0);
    assert_int_equal(a.history, 1);
    assert_int_equal(s_count(f, TM_DB_LINKS), 0);
}

/* A spawn-many the node's memory cannot hold is refused before anything is
 * created: a huge COUNT must not take the node down. */
static void test_spawn_many_memory(void **state)
{
    s_fix_t *f = *state;
    tm_mut_set_mem_available(f->mut, 4u << 20); /* as if 4 MiB were left */
    assert_int_equal(RUN(f, "spawn-many", "p", "1000000", "--model", "pump"),
                     TM_ERR_NOMEM);
    assert_non_null(strstr(f->rep.message, "spawn-many: 1000000 actors of "
                                           "pump@1.0.0 need about "));
    assert_non_null(strstr(f->rep.message, "available; nothing was spawned"));
    assert_int_equal(tm_rt_count(f->rt), 0);
    assert_int_equal(s_count(f, TM_DB_ACTORS), 0);
    assert_int_equal(RUN(f, "spawn-many", "p", "100", "--model", "pump"), 0);
    assert_int_equal(tm_rt_count(f->rt), 100);
    tm_mut_set_mem_available(f->mut, 0); /* what the system has */
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
    size_t len = 0;
    const uint8_t *body = s_body(f, &len);
    assert_true(len < TM_WIRE_MAX_SIZE_DEFAULT / 4);

    msgpack_zone zone;
    msgpack_object obj;
    uint64_t total = 0;
    assert_true(msgpack_zone_init(&zone, 4096));
    assert_int_equal(tm_wire_unpack(body, len, NULL, &zone, &obj), 0);
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
        {"ghost", "x", "o1", "fl", 1},  {"o1", "x", "ghost", "fr", 1},
        {"ghost", "x", "m3", "fl", 1},  {"ghost", "x", "m30", "fl", 2},
        {"ghost", "x", "m03", "fl", 1}, {"ghost", "x", "o10", "fl", 3}};
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

/* A node alone: --site must be its own; place shows it as the only
 * node; an actor whose record is not in the log says so; --placed comes
 * from peers only. */
static void test_spawn_site_alone(void **state)
{
    s_fix_t *f = *state;
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pump", "--site", "north"),
                     TM_ERR_NOT_FOUND);
    assert_string_equal(f->rep.message,
                        "no node at site 'north': this node (unit) is at "
                        "site 'lab' and is not part of a mesh (nothing was "
                        "spawned)");
    assert_int_equal(RUN(f, "inspect", "x"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(
        RUN(f, "spawn-many", "y", "2", "--model", "pump", "--site", "north"),
        TM_ERR_NOT_FOUND);
    assert_int_equal(RUN(f, "inspect", "y0"), TM_ERR_UNKNOWN_ACTOR);
    assert_int_equal(
        RUN(f, "spawn", "z", "--model", "pump", "--placed", "trust me"),
        TM_ERR_USAGE);
    assert_string_equal(f->rep.message,
                        "spawn: --placed is passed between nodes only");
    assert_int_equal(RUN(f, "spawn", "x", "--model", "pump", "--site", "lab"),
                     0);
    assert_int_equal(RUN(f, "place"), 0);
    assert_string_equal(f->rep.message, "1 node; load by actor count");
    assert_int_equal(RUN(f, "place", "x"), 0);
    assert_string_equal(f->rep.message, "x runs on node unit (site 'lab'): "
                                        "reason not recorded");
    assert_int_equal(RUN(f, "place", "ghost"), TM_ERR_UNKNOWN_ACTOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_every_command, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_exec_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_exec_parts, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_set_patches_record, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_link_delay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_many_memory, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_inspect_many_links, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_id_boundaries, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_site_alone, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_spawn_drops_stale_links, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
