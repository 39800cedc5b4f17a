/* audit_test: the audit log (nodes/tm_audit) - records survive encode and
 * decode, damaged values are reported and never crash the decoder, the
 * decision queue is bounded, retention trims the oldest records with
 * bounded work, --since parses; and the mutation path writes one record
 * per acknowledged change in the change's own batch, none for a refused
 * one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_audit.h"
#include "tm_cmd.h"
#include "tm_console.h"
#include "tm_err.h"
#include "tm_models.h"
#include "tm_mut.h"
#include "tm_store.h"
#include "tm_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[512];
    tm_store_t *store;
    tm_rt_t *rt;
    tm_mut_t *mut;
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/audit_test_%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&f->store, f->dir, &o), 0);
    tm_rt_config_t rc = {.workers = 1, .h = 0.05, .seed = 1};
    assert_int_equal(tm_rt_open(&f->rt, &rc), 0);
    assert_int_equal(tm_mut_open(&f->mut, f->rt, f->store, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    tm_mut_destroy(&f->mut);
    tm_rt_destroy(&f->rt);
    tm_store_close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- records ------------------------------------------------------------ */

static void s_encode(const tm_audit_rec_t *r, uint8_t **out, size_t *len)
{
    tm_wire_buf_t buf;
    tm_wire_buf_init(&buf);
    assert_int_equal(tm_audit_encode(r, &buf), 0);
    assert_int_equal(tm_wire_buf_finish(&buf, out, len), 0);
    tm_wire_buf_destroy(&buf);
}

static void test_round_trip(void **state)
{
    (void)state;
    tm_audit_rec_t r, d;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_audit_rec_init(&r, 42, "set", "p1", "k=1", "k=2", "", "console");
    r.wall_ns = 1796040000123456789ull;
    s_encode(&r, &bytes, &len);
    memset(&d, 0x5a, sizeof d);
    d.seq = 7;
    assert_int_equal(tm_audit_decode(bytes, len, &d), 0);
    assert_false(d.damaged);
    assert_int_equal(d.seq, 7);
    assert_int_equal(d.wall_ns, 1796040000123456789ull);
    assert_int_equal(d.tick, 42);
    assert_string_equal(d.kind, "set");
    assert_true(d.has_actor && d.has_before && d.has_after);
    assert_string_equal(d.actor, "p1");
    assert_string_equal(d.before, "k=1");
    assert_string_equal(d.after, "k=2");
    assert_string_equal(d.reason, "");
    assert_string_equal(d.who, "console");
    assert_int_equal(d.count, 0);
    free(bytes);

    /* nil fields, and the spawn-many fields */
    tm_audit_rec_init(&r, 0, "spawn-many", NULL, NULL, "pump@1.0.0/high",
                      "spawned", "node b");
    snprintf(r.prefix, sizeof r.prefix, "m");
    r.count = 1000;
    s_encode(&r, &bytes, &len);
    assert_int_equal(tm_audit_decode(bytes, len, &d), 0);
    assert_false(d.has_actor);
    assert_false(d.has_before);
    assert_true(d.has_after);
    assert_string_equal(d.prefix, "m");
    assert_int_equal(d.count, 1000);
    assert_string_equal(d.who, "node b");
    free(bytes);
}

static void test_long_strings_cut(void **state)
{
    (void)state;
    char big[3000];
    tm_audit_rec_t r, d;
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[TM_AUDIT_REASON_MAX - 4] = (char)0xc3; /* a 2-byte character across */
    big[TM_AUDIT_REASON_MAX - 3] = (char)0xa9; /* the cut stays whole */
    tm_audit_rec_init(&r, 1, "apply", NULL, big, big, big, "console");
    /* cut before the character, not inside it */
    assert_int_equal(strlen(r.reason), TM_AUDIT_REASON_MAX - 1);
    assert_string_equal(r.reason + TM_AUDIT_REASON_MAX - 4, "...");
    assert_int_equal(strlen(r.kind), 5);
    s_encode(&r, &bytes, &len);
    assert_int_equal(tm_audit_decode(bytes, len, &d), 0);
    assert_string_equal(d.reason, r.reason);
    free(bytes);
}

static void test_who(void **state)
{
    (void)state;
    char buf[TM_AUDIT_WHO_MAX + 1];
    assert_string_equal(tm_audit_who(NULL, buf, sizeof buf), "console");
    assert_string_equal(tm_audit_who("site-b", buf, sizeof buf), "node site-b");
}

/* Decode must report damage, never crash or read out of bounds. */
static void s_damaged(const void *bytes, size_t len)
{
    tm_audit_rec_t d;
    memset(&d, 0, sizeof d);
    d.seq = 9;
    assert_int_not_equal(tm_audit_decode(bytes, len, &d), 0);
    assert_true(d.damaged);
    assert_true(d.damage[0] != '\0');
    assert_int_equal(d.seq, 9);
    assert_string_equal(d.kind, "");
}

static void s_pack_rec(tm_wire_buf_t *b, const char *skip, const char *key,
                       int type)
{
    static const char *const keys[] = {"wall_ns", "tick",  "kind",   "actor",
                                       "before",  "after", "reason", "who"};
    msgpack_packer *pk = &b->pk;
    tm_wire_buf_clear(b);
    msgpack_pack_map(pk, skip ? 7 : 8);
    for (size_t i = 0; i < 8; i++) {
        if (skip && strcmp(keys[i], skip) == 0) {
            continue;
        }
        tm_wire_pack_str(pk, keys[i]);
        if (key && strcmp(keys[i], key) == 0) {
            if (type == 0) {
                msgpack_pack_double(pk, 1.5);
            } else {
                tm_wire_pack_str(pk, "\x01\xff");
            }
        } else if (i < 2) {
            msgpack_pack_uint64(pk, 5);
        } else {
            tm_wire_pack_str(pk, "v");
        }
    }
}

static void test_damaged_input(void **state)
{
    (void)state;
    tm_audit_rec_t r;
    uint8_t *bytes = NULL;
    size_t len = 0;
    tm_audit_rec_init(&r, 3, "kill", "p1", "pump@1.0.0/high", NULL, "k",
                      "console");
    s_encode(&r, &bytes, &len);
    /* every truncation, and every single-byte change, of a good record */
    for (size_t n = 0; n < len; n++) {
        s_damaged(bytes, n);
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t save = bytes[i];
        for (int v = 0; v < 256; v += 37) {
            bytes[i] = (uint8_t)v;
            tm_audit_rec_t d;
            memset(&d, 0, sizeof d);
            if (tm_audit_decode(bytes, len, &d) != 0) {
                assert_true(d.damaged);
            }
        }
        bytes[i] = save;
    }
    free(bytes);
    static const uint8_t huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t an_int[] = {0x05};
    static const uint8_t reserved[] = {0xc1};
    s_damaged(huge_map, sizeof huge_map);
    s_damaged(an_int, sizeof an_int);
    s_damaged(reserved, sizeof reserved);
    s_damaged(NULL, 0);
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    s_pack_rec(&b, NULL, NULL, 0); /* the good one, as a control */
    tm_audit_rec_t d;
    assert_int_equal(tm_audit_decode(b.sbuf.data, b.sbuf.size, &d), 0);
    s_pack_rec(&b, "kind", NULL, 0);
    s_damaged(b.sbuf.data, b.sbuf.size);
    s_pack_rec(&b, "who", NULL, 0);
    s_damaged(b.sbuf.data, b.sbuf.size);
    s_pack_rec(&b, NULL, "tick", 0);
    s_damaged(b.sbuf.data, b.sbuf.size);
    s_pack_rec(&b, NULL, "actor", 0);
    s_damaged(b.sbuf.data, b.sbuf.size);
    s_pack_rec(&b, NULL, "reason", 1); /* not text */
    s_damaged(b.sbuf.data, b.sbuf.size);
    /* an actor longer than an id */
    tm_wire_buf_clear(&b);
    msgpack_pack_map(&b.pk, 6);
    tm_wire_pack_kv_u64(&b.pk, "wall_ns", 1);
    tm_wire_pack_kv_u64(&b.pk, "tick", 1);
    tm_wire_pack_kv_str(&b.pk, "kind", "set");
    tm_wire_pack_kv_str(&b.pk, "reason", "");
    tm_wire_pack_kv_str(&b.pk, "who", "x");
    tm_wire_pack_kv_str(
        &b.pk, "actor",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    s_damaged(b.sbuf.data, b.sbuf.size);
    tm_wire_buf_destroy(&b);
}

/* ---- --since ------------------------------------------------------------ */

static void test_since(void **state)
{
    (void)state;
    bool rel = true;
    uint64_t ns = 0;
    char why[256];
    assert_int_equal(
        tm_cmd_parse_since("2026-11-30T12:00:00Z", &rel, &ns, why, sizeof why),
        0);
    assert_false(rel);
    assert_int_equal(ns, 1796040000ull * 1000000000ull);
    assert_int_equal(tm_cmd_parse_since("2024-02-29T00:00:00.25Z", &rel, &ns,
                                        why, sizeof why),
                     0);
    assert_int_equal(ns, 1709164800ull * 1000000000ull + 250000000ull);
    assert_int_equal(tm_cmd_parse_since("30s", &rel, &ns, why, sizeof why), 0);
    assert_true(rel);
    assert_int_equal(ns, 30ull * 1000000000ull);
    assert_int_equal(tm_cmd_parse_since("7d", &rel, &ns, why, sizeof why), 0);
    assert_int_equal(ns, 7ull * 86400ull * 1000000000ull);
    assert_int_equal(tm_cmd_parse_since("10m", &rel, &ns, why, sizeof why), 0);
    assert_int_equal(ns, 600ull * 1000000000ull);
    static const char *const bad[] = {"",
                                      "s",
                                      "10",
                                      "10x",
                                      "-5m",
                                      "1.5h",
                                      "99999999999d",
                                      "2026-02-29T00:00:00Z",
                                      "2026-11-30T12:00:00",
                                      "2026-11-30 12:00:00Z",
                                      "2026-11-30T24:00:00Z",
                                      "2026-11-30T12:00:00+01:00",
                                      "1969-12-31T00:00:00Z",
                                      "2026-11-30T12:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_int_equal(tm_cmd_parse_since(bad[i], &rel, &ns, why, sizeof why),
                         TM_ERR_USAGE);
        assert_non_null(strstr(why, "--since"));
    }
}

/* ---- the queue ---------------------------------------------------------- */

static void test_queue_bounded(void **state)
{
    s_fix_t *f = *state;
    tm_audit_t *a = tm_audit_new();
    tm_audit_rec_t r;
    tm_audit_stats_t st;
    size_t n = 0;
    assert_non_null(a);
    tm_audit_rec_init(&r, 1, "fallback", "p1", "high", "low", "nan", "node");
    for (size_t i = 0; i < TM_AUDIT_QUEUE_MAX; i++) {
        assert_int_equal(tm_audit_note(a, &r), 0);
    }
    assert_int_equal(tm_audit_note(a, &r), TM_ERR_BUSY);
    tm_audit_stats(a, &st);
    assert_int_equal(st.queued, TM_AUDIT_QUEUE_MAX);
    assert_int_equal(st.dropped, 1);
    tm_store_batch_t *b = tm_store_batch_new(f->store);
    assert_int_equal(tm_audit_flush(a, b, &n), 0);
    assert_int_equal(n, TM_AUDIT_QUEUE_MAX);
    tm_audit_done(a, n, n, tm_store_batch_commit(b));
    tm_audit_stats(a, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.written, TM_AUDIT_QUEUE_MAX);
    size_t count = 0;
    assert_int_equal(tm_store_count(f->store, TM_DB_AUDIT, &count), 0);
    assert_int_equal(count, TM_AUDIT_QUEUE_MAX);
    tm_audit_done(a, 3, 2, TM_ERR_NOSPACE); /* a failed commit loses them */
    tm_audit_stats(a, &st);
    assert_int_equal(st.dropped, 3);
    tm_store_batch_destroy(&b);
    tm_audit_destroy(&a);
    tm_audit_destroy(&a); /* safe twice */
}

/* ---- retention ---------------------------------------------------------- */

/* Append n records with wall times t0, t0 + 1 s, ... */
static void s_append(tm_store_t *s, size_t n, uint64_t t0)
{
    tm_store_batch_t *b = tm_store_batch_new(s);
    tm_wire_buf_t buf;
    tm_audit_rec_t r;
    tm_wire_buf_init(&buf);
    for (size_t i = 0; i < n; i++) {
        tm_audit_rec_init(&r, i, "set", "a", "x=1", "x=2", "", "console");
        r.wall_ns = t0 + i * 1000000000ull;
        assert_int_equal(tm_audit_encode(&r, &buf), 0);
        assert_int_equal(tm_store_batch_audit(b, buf.sbuf.data, buf.sbuf.size),
                         0);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_wire_buf_destroy(&buf);
}

static int s_first_cb(const tm_audit_rec_t *r, void *arg)
{
    *(uint64_t *)arg = r->seq;
    return 1;
}

static uint64_t s_first_seq(tm_store_t *s)
{
    uint64_t seq = 0;
    assert_int_equal(tm_audit_foreach(s, s_first_cb, &seq), 1);
    return seq;
}

/* One checkpoint's trim, committed; returns the records deleted. */
static size_t s_trim(tm_audit_t *a, tm_store_t *s, uint64_t now)
{
    size_t n = 0;
    tm_store_batch_t *b = tm_store_batch_new(s);
    assert_int_equal(tm_audit_trim(a, s, b, now, &n), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    return n;
}

static size_t s_count(tm_store_t *s)
{
    size_t n = 0;
    assert_int_equal(tm_store_count(s, TM_DB_AUDIT, &n), 0);
    return n;
}

static void test_retention_count(void **state)
{
    s_fix_t *f = *state;
    tm_audit_t *a = tm_audit_new();
    uint64_t now = tm_audit_now_ns();
    s_append(f->store, TM_AUDIT_TRIM_MAX + 70, now);
    tm_audit_retention(a, 20, 0);
    /* bounded work: one checkpoint deletes at most TM_AUDIT_TRIM_MAX */
    assert_int_equal(s_trim(a, f->store, now), TM_AUDIT_TRIM_MAX);
    assert_int_equal(s_count(f->store), 70);
    assert_int_equal(s_first_seq(f->store), TM_AUDIT_TRIM_MAX + 1);
    assert_int_equal(s_trim(a, f->store, now), 50);
    assert_int_equal(s_count(f->store), 20);
    assert_int_equal(s_first_seq(f->store), TM_AUDIT_TRIM_MAX + 51);
    assert_int_equal(s_trim(a, f->store, now), 0); /* nothing more */
    tm_audit_stats_t st;
    tm_audit_stats(a, &st);
    assert_int_equal(st.trimmed, TM_AUDIT_TRIM_MAX + 50);
    tm_audit_destroy(&a);
}

static void test_retention_days(void **state)
{
    s_fix_t *f = *state;
    tm_audit_t *a = tm_audit_new();
    uint64_t day = 86400ull * 1000000000ull;
    uint64_t now = tm_audit_now_ns();
    s_append(f->store, 10, now - 3 * day); /* 10 records three days old */
    tm_store_batch_t *b = tm_store_batch_new(f->store);
    static const uint8_t junk[] = {0x01}; /* a damaged record */
    assert_int_equal(tm_store_batch_audit(b, junk, sizeof junk), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    s_append(f->store, 5, now - 2 * day); /* 5 two days old */
    s_append(f->store, 5, now);           /* 5 new */
    tm_audit_retention(a, 1000, 4);
    assert_int_equal(s_trim(a, f->store, now), 0); /* none older than 4 d */
    tm_audit_retention(a, 1000, 1);
    /* the age limit stops at the damaged record (its age is unknown) */
    assert_int_equal(s_trim(a, f->store, now), 10);
    assert_int_equal(s_count(f->store), 11);
    assert_int_equal(s_first_seq(f->store), 11);
    /* the count limit removes it */
    tm_audit_retention(a, 10, 1);
    assert_int_equal(s_trim(a, f->store, now), 6);
    assert_int_equal(s_count(f->store), 5);
    tm_audit_destroy(&a);
}

/* ---- the mutation path -------------------------------------------------- */

typedef struct {
    tm_audit_rec_t v[16];
    size_t n;
} s_list_t;

static int s_list_cb(const tm_audit_rec_t *r, void *arg)
{
    s_list_t *l = arg;
    if (l->n < 16) {
        l->v[l->n++] = *r;
    }
    return 0;
}

static void test_mutations(void **state)
{
    s_fix_t *f = *state;
    const tm_model_t *pump = NULL, *tank = NULL;
    char why[TM_MUT_WHY_MAX];
    size_t links = 0;
    s_list_t *l = calloc(1, sizeof *l);
    assert_int_equal(tm_models_find("pump", NULL, TM_FIDELITY_HIGH, &pump), 0);
    assert_int_equal(tm_models_find("tank", NULL, TM_FIDELITY_HIGH, &tank), 0);
    double pp[TM_MODEL_MAX_VARS], tp[TM_MODEL_MAX_VARS];
    for (uint32_t i = 0; i < pump->n_params; i++) {
        pp[i] = pump->params[i].def;
    }
    for (uint32_t i = 0; i < tank->n_params; i++) {
        tp[i] = tank->params[i].def;
    }
    tm_mut_origin(f->mut, "console");
    assert_int_equal(tm_mut_spawn(f->mut, "p1", pump, pp, 1, why), 0);
    assert_int_equal(tm_mut_spawn(f->mut, "p1", pump, pp, 1, why),
                     TM_ERR_DUPLICATE_ACTOR); /* refused: no record */
    assert_int_equal(
        tm_mut_audit_note(f->mut, "fallback", "p1", "high", "low", "step time"),
        0);
    tm_mut_origin(f->mut, "node b");
    assert_int_equal(tm_mut_spawn(f->mut, "t1", tank, tp, 2, why), 0);
    tm_mut_origin(f->mut, NULL);
    assert_int_equal(
        tm_mut_link(f->mut, true, "p1", "flow", "t1", "qin", 1, why), 0);
    assert_int_equal(tm_mut_kill(f->mut, "t1", &links, why), 0);
    assert_int_equal(tm_audit_foreach(f->store, s_list_cb, l), 0);
    assert_int_equal(l->n, 5);
    assert_string_equal(l->v[0].kind, "spawn");
    assert_string_equal(l->v[0].actor, "p1");
    assert_false(l->v[0].has_before);
    assert_string_equal(l->v[0].after, "pump@1.0.0/high");
    assert_string_equal(l->v[0].who, "console");
    assert_string_equal(l->v[1].kind, "fallback"); /* before the next change */
    assert_string_equal(l->v[1].before, "high");
    assert_string_equal(l->v[1].who, "console");
    assert_string_equal(l->v[2].kind, "spawn");
    assert_string_equal(l->v[2].reason, "spawned with period 2");
    assert_string_equal(l->v[2].who, "node b");
    assert_string_equal(l->v[3].kind, "link");
    assert_string_equal(l->v[3].actor, "t1");
    assert_string_equal(l->v[3].after, "p1.flow to t1.qin, delay 1");
    assert_string_equal(l->v[3].who, "node");
    assert_string_equal(l->v[4].kind, "kill");
    assert_string_equal(l->v[4].before, "tank@1.0.0/high");
    assert_false(l->v[4].has_after);
    for (size_t i = 0; i < l->n; i++) {
        assert_int_equal(l->v[i].seq, i + 1);
        assert_false(l->v[i].damaged);
    }
    free(l);
}

/* ---- the audit command: a damaged record is shown, not skipped --------- */

static void test_command_shows_damaged(void **state)
{
    s_fix_t *f = *state;
    static const uint8_t junk[] = {0x92, 0x01}; /* a truncated array */
    s_append(f->store, 2, tm_audit_now_ns());
    tm_store_batch_t *b = tm_store_batch_new(f->store);
    assert_int_equal(tm_store_batch_audit(b, junk, sizeof junk), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    s_append(f->store, 1, tm_audit_now_ns());
    static const char *const argvs[2][3] = {{"audit", NULL, NULL},
                                            {"audit", "--actor", "zz"}};
    for (int k = 0; k < 2; k++) {
        tm_console_ctx_t ctx = {
            .rt = f->rt, .mut = f->mut, .store = f->store, .name = "unit"};
        tm_reply_t rep;
        tm_cmd_t c;
        char err[256];
        int argc = k == 0 ? 1 : 3;
        tm_reply_init(&rep);
        assert_int_equal(tm_cmd_parse(argc, argvs[k], &c, err, sizeof err), 0);
        tm_console_call_t call = {.cmd = &c, .rep = &rep};
        assert_int_equal(tm_console_exec(&ctx, &call), 0);
        size_t len = 0;
        const uint8_t *body = tm_reply_bytes(&rep, &len);
        msgpack_zone zone;
        msgpack_object o;
        assert_true(msgpack_zone_init(&zone, 4096));
        assert_int_equal(tm_wire_unpack(body, len, NULL, &zone, &o), 0);
        assert_int_equal(o.type, MSGPACK_OBJECT_ARRAY);
        /* every record, or (--actor zz) only the damaged one */
        assert_int_equal(o.via.array.size, k == 0 ? 4 : 1);
        const msgpack_object *d = &o.via.array.ptr[k == 0 ? 2 : 0];
        uint64_t seq = 0;
        const char *why = NULL;
        size_t wlen = 0;
        assert_int_equal(tm_wire_get_u64(d, "seq", &seq), 0);
        assert_int_equal(seq, 3);
        assert_int_equal(tm_wire_get_str(d, "damaged", &why, &wlen), 0);
        assert_true(wlen > 0);
        assert_int_equal(tm_wire_map_get(d, "kind")->type, MSGPACK_OBJECT_NIL);
        msgpack_zone_destroy(&zone);
        tm_reply_destroy(&rep);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_long_strings_cut),
        cmocka_unit_test(test_who),
        cmocka_unit_test(test_damaged_input),
        cmocka_unit_test(test_since),
        cmocka_unit_test_setup_teardown(test_queue_bounded, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_count, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_days, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_mutations, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_command_shows_damaged, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
