/* persist_test: actor records (with their history) and link records (with
 * their delay) round-trip bit for bit, bad records are refused, and a
 * checkpoint loads back into a fresh runtime with the same digest, links,
 * tick and past outputs, so that it steps on exactly alike. Ownership
 * epochs: in a record only when above 0, read back, refused beyond 32 bits,
 * kept by a snapshot, a put and a migration's pack, and loaded back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_models.h"
#include "tm_persist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_record_roundtrip(void **state)
{
    (void)state;
    tm_persist_actor_t a, b;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "pump");
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.fidelity = TM_FIDELITY_MEDIUM;
    a.period = 3;
    a.tick = 123456789012ull;
    a.n_params = 3;
    a.params[0] = 0.1;
    a.params[1] = -0.0;
    a.params[2] = 1e-310; /* subnormal */
    a.n_held = 1;
    a.held[0] = 42;
    a.n_states = 2;
    a.state[0] = nextafter(1.0, 2.0);
    a.state[1] = -1e300;
    a.n_outputs = 0;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b), 0);
    assert_string_equal(b.family, "pump");
    assert_string_equal(b.version, "1.0.0");
    assert_int_equal(b.fidelity, TM_FIDELITY_MEDIUM);
    assert_int_equal(b.period, 3);
    assert_int_equal(b.tick, a.tick);
    assert_int_equal(b.n_params, 3);
    assert_int_equal(b.n_states, 2);
    assert_int_equal(b.n_outputs, 0);
    /* bit for bit, including the sign of zero and subnormals */
    assert_memory_equal(a.params, b.params, 3 * sizeof(double));
    assert_memory_equal(a.state, b.state, 2 * sizeof(double));
    assert_true(b.held[0] == 42.0);

    /* every truncation of a valid record is refused, never crashes */
    for (size_t n = 0; n < p.sbuf.size; n++) {
        assert_int_not_equal(tm_persist_actor_decode(p.sbuf.data, n, &b), 0);
    }
    tm_wire_buf_destroy(&p);
}

/* A supervision record round-trips, with and without the residual
 * checks' run and shadow outputs; a record without them (written before
 * them) reads as 0 and none; shadow outputs without a seeded shadow or of
 * the wrong count are refused. */
static void test_sup_roundtrip(void **state)
{
    (void)state;
    tm_persist_actor_t a, b;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "pumpmon");
    snprintf(a.version, sizeof a.version, "1.2.0");
    a.fidelity = TM_FIDELITY_LOW;
    a.period = 1;
    a.has_sup = true;
    a.sup.target = TM_FIDELITY_HIGH;
    a.sup.shadow = TM_FIDELITY_HIGH;
    a.sup.seeded = true;
    a.sup.healthy = 2;
    a.sup.n_shadow_state = 2;
    a.sup.shadow_state[0] = 1.5;
    a.sup.shadow_state[1] = -0.0;
    a.sup.resid_run = 7;
    a.sup.n_shadow_out = 3;
    a.sup.shadow_out[0] = 0.25;
    a.sup.shadow_out[1] = 1e-310;
    a.sup.shadow_out[2] = -3.0;
    for (int round = 0; round < 2; round++) {
        tm_wire_buf_t p;
        tm_wire_buf_init(&p);
        assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
        assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                         0);
        tm_wire_buf_destroy(&p);
        assert_true(b.has_sup);
        assert_int_equal(b.sup.resid_run, a.sup.resid_run);
        assert_int_equal(b.sup.n_shadow_out, a.sup.n_shadow_out);
        assert_memory_equal(b.sup.shadow_out, a.sup.shadow_out,
                            a.sup.n_shadow_out * sizeof(double));
        assert_int_equal(b.sup.healthy, 2);
        a.sup.resid_run = 0; /* the second round: neither */
        a.sup.n_shadow_out = 0;
    }

    /* Through the view: the shadow's outputs need its model's count. */
    const tm_model_t *high = NULL;
    const tm_model_t *low = NULL;
    assert_int_equal(
        tm_models_find_spec("pumpmon@1.2.0", TM_FIDELITY_HIGH, &high), 0);
    assert_int_equal(
        tm_models_find_spec("pumpmon@1.2.0", TM_FIDELITY_LOW, &low), 0);
    tm_persist_sup_t ps;
    memset(&ps, 0, sizeof ps);
    ps.target = TM_FIDELITY_HIGH;
    ps.shadow = TM_FIDELITY_HIGH;
    ps.seeded = true;
    ps.n_shadow_state = high->n_states;
    ps.resid_run = 1;
    ps.n_shadow_out = high->n_outputs;
    tm_rt_sup_t v;
    assert_int_equal(tm_persist_sup_to_view(&ps, low, tm_models_tier, &v), 0);
    assert_true(v.shadow_y);
    assert_int_equal(v.resid_run, 1);
    ps.n_shadow_out = high->n_outputs - 1;
    assert_int_equal(tm_persist_sup_to_view(&ps, low, tm_models_tier, &v),
                     TM_ERR_STORE_CORRUPT);
}

static void test_bad_records(void **state)
{
    (void)state;
    tm_persist_actor_t b;
    /* {"v": 2} - another record version */
    static const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    assert_int_equal(tm_persist_actor_decode(v2, sizeof v2, &b),
                     TM_ERR_STORE_CORRUPT);
    /* a bomb: array32 announcing 4 G elements */
    static const uint8_t bomb[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    assert_int_not_equal(tm_persist_actor_decode(bomb, sizeof bomb, &b), 0);
    /* a record without a family is refused */
    tm_persist_actor_t a;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                     TM_ERR_STORE_CORRUPT);
    /* period 0 is refused */
    snprintf(a.family, sizeof a.family, "x");
    a.period = 0;
    tm_wire_buf_clear(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                     TM_ERR_STORE_CORRUPT);
    tm_wire_buf_destroy(&p);
}

/* A minimal record with `"epoch": <h>` (n bytes of MessagePack) added. */
static int s_decode_with_epoch(const uint8_t *h, size_t n,
                               tm_persist_actor_t *out)
{
    tm_persist_actor_t a;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "x");
    snprintf(a.version, sizeof a.version, "1");
    a.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    uint8_t *buf = malloc(p.sbuf.size + 16 + n);
    assert_non_null(buf);
    memcpy(buf, p.sbuf.data, p.sbuf.size);
    assert_int_equal(buf[0], 0x8a); /* 10 entries, no epoch */
    buf[0] = 0x8b;
    size_t len = p.sbuf.size;
    buf[len++] = 0xa5;
    memcpy(buf + len, "epoch", 5);
    len += 5;
    memcpy(buf + len, h, n);
    len += n;
    int rc = tm_persist_actor_decode(buf, len, out);
    char why[200];
    int check = tm_persist_check_record(TM_DB_ACTORS, "a1", 2, buf, len, why,
                                        sizeof why, NULL);
    assert_int_equal(check, rc); /* the store's check says the same */
    free(buf);
    tm_wire_buf_destroy(&p);
    return rc;
}

static bool s_has_key(const tm_wire_buf_t *p, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i + n <= p->sbuf.size; i++) {
        if (memcmp(p->sbuf.data + i, key, n) == 0) {
            return true;
        }
    }
    return false;
}

/* The ownership epoch: written only when above 0, read back, 0 for a
 * record without it, damage when it is not a 32-bit unsigned integer. */
static void test_record_epoch(void **state)
{
    (void)state;
    tm_persist_actor_t a, b;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "pump");
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.period = 1;
    a.n_states = 1;
    a.state[0] = 2.5;
    tm_wire_buf_init(&p);
    const uint32_t epochs[] = {1, 7, 300, UINT32_MAX};
    for (size_t i = 0; i < sizeof epochs / sizeof epochs[0]; i++) {
        a.epoch = epochs[i];
        tm_wire_buf_clear(&p);
        assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
        assert_true(s_has_key(&p, "epoch"));
        memset(&b, 0x5a, sizeof b);
        assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b),
                         0);
        assert_true(b.epoch == epochs[i]);
        assert_string_equal(b.family, "pump");
        assert_true(b.state[0] == 2.5);
    }
    /* 0: no key, the record of earlier releases, read back as 0 */
    a.epoch = 0;
    tm_wire_buf_clear(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_false(s_has_key(&p, "epoch"));
    assert_int_equal(p.sbuf.data[0], (char)0x8a);
    memset(&b, 0x5a, sizeof b);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b), 0);
    assert_int_equal(b.epoch, 0);
    tm_wire_buf_destroy(&p);

    static const uint8_t zero[] = {0x00};
    static const uint8_t max[] = {0xce, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t over[] = {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}; /* 2^32 */
    static const uint8_t huge[] = {0xcf, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff};
    static const uint8_t negative[] = {0xff}; /* -1 */
    static const uint8_t text[] = {0xa1, '3'};
    static const uint8_t real[] = {0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nil[] = {0xc0};
    assert_int_equal(s_decode_with_epoch(zero, sizeof zero, &b), 0);
    assert_int_equal(b.epoch, 0);
    assert_int_equal(s_decode_with_epoch(max, sizeof max, &b), 0);
    assert_true(b.epoch == UINT32_MAX);
    assert_int_equal(s_decode_with_epoch(over, sizeof over, &b),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_epoch(huge, sizeof huge, &b),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_epoch(negative, sizeof negative, &b),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_epoch(text, sizeof text, &b),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_epoch(real, sizeof real, &b),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_epoch(nil, sizeof nil, &b),
                     TM_ERR_STORE_CORRUPT);
}

static void test_link_key(void **state)
{
    (void)state;
    char key[TM_PERSIST_KEY_MAX];
    size_t klen = 0;
    tm_rt_link_t l = {"p1", "flow", "t1", "qin", 1};
    assert_int_equal(tm_persist_link_key(&l, key, sizeof key, &klen), 0);
    assert_string_equal(key, "p1.flow>t1.qin");
    assert_int_equal(klen, strlen("p1.flow>t1.qin"));
    char small[8];
    assert_int_equal(tm_persist_link_key(&l, small, sizeof small, &klen),
                     TM_ERR_TOO_BIG);
}

/* History: the outputs of the ticks before the record's, bit for bit. */
static void test_history_roundtrip(void **state)
{
    (void)state;
    const double past[3][2] = {{1.5, -0.0}, {1e-310, 2.0}, {-7.25, 3e300}};
    tm_persist_actor_t a, b;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "oscillator");
    snprintf(a.version, sizeof a.version, "1.0.0");
    a.period = 1;
    a.n_outputs = 2;
    a.n_history = 3;
    a.history_width = 2;
    a.history = &past[0][0];
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b), 0);
    assert_int_equal(b.n_history, 3);
    assert_int_equal(b.history_width, 2);
    assert_null(b.history);
    double got[6];
    assert_int_equal(tm_persist_actor_history(p.sbuf.data, p.sbuf.size, got, 6),
                     0);
    assert_memory_equal(got, past, sizeof got);
    assert_int_equal(tm_persist_actor_history(p.sbuf.data, p.sbuf.size, got, 5),
                     TM_ERR_TOO_BIG);
    /* Without history: no key, nothing counted. */
    size_t with = p.sbuf.size;
    a.n_history = 0;
    tm_wire_buf_clear(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    assert_true(p.sbuf.size < with);
    for (size_t i = 0; i + 7 <= p.sbuf.size; i++) {
        assert_false(memcmp(p.sbuf.data + i, "history", 7) == 0);
    }
    assert_int_equal(tm_persist_actor_decode(p.sbuf.data, p.sbuf.size, &b), 0);
    assert_int_equal(b.n_history, 0);
    tm_wire_buf_destroy(&p);
}

/* A record's map with "history" set to the bytes h (n of them). */
static int s_decode_with_history(const uint8_t *h, size_t n)
{
    tm_persist_actor_t a, b;
    tm_wire_buf_t p;
    memset(&a, 0, sizeof a);
    snprintf(a.family, sizeof a.family, "x");
    snprintf(a.version, sizeof a.version, "1");
    a.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&a, &p), 0);
    /* 10 entries: fixmap 0x8a; one more with the history */
    uint8_t *buf = malloc(p.sbuf.size + 16 + n);
    assert_non_null(buf);
    memcpy(buf, p.sbuf.data, p.sbuf.size);
    assert_int_equal(buf[0], 0x8a);
    buf[0] = 0x8b;
    size_t len = p.sbuf.size;
    buf[len++] = 0xa7;
    memcpy(buf + len, "history", 7);
    len += 7;
    memcpy(buf + len, h, n);
    len += n;
    int rc = tm_persist_actor_decode(buf, len, &b);
    free(buf);
    tm_wire_buf_destroy(&p);
    return rc;
}

static void test_bad_history(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x92, 0x91, 0x01, 0x91, 0x02};
    static const uint8_t empty[] = {0x90};
    static const uint8_t widths[] = {0x92, 0x91, 0x01, 0x92, 0x01, 0x02};
    static const uint8_t text[] = {0x91, 0x91, 0xa1, 'x'};
    static const uint8_t flat[] = {0x91, 0x01};
    assert_int_equal(s_decode_with_history(ok, sizeof ok), 0);
    assert_int_equal(s_decode_with_history(empty, sizeof empty),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_history(widths, sizeof widths),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_history(text, sizeof text),
                     TM_ERR_STORE_CORRUPT);
    assert_int_equal(s_decode_with_history(flat, sizeof flat),
                     TM_ERR_STORE_CORRUPT);
    /* more ticks than a window can hold: array16 of 1000 empty lists */
    uint8_t many[3 + 1000];
    many[0] = 0xdc;
    many[1] = 1000 >> 8;
    many[2] = 1000 & 0xff;
    memset(many + 3, 0x90, 1000);
    assert_int_equal(s_decode_with_history(many, sizeof many),
                     TM_ERR_STORE_CORRUPT);
    many[2] = 999 & 0xff; /* TM_PERSIST_HISTORY_MAX: fine */
    assert_int_equal(s_decode_with_history(many, sizeof many - 1), 0);
}

/* Link records: the delay is written only when it is not 1 (so a delay-1
 * record is the record of earlier releases), and read back; a bad delay
 * is damage. */
static void test_link_records(void **state)
{
    (void)state;
    static const uint8_t old[] = {0x84, 0xa3, 's', 'r', 'c',  0xa1, 'a',  0xa6,
                                  'o',  'u',  't', 'p', 'u',  't',  0xa1, 'x',
                                  0xa3, 'd',  's', 't', 0xa1, 'b',  0xa5, 'i',
                                  'n',  'p',  'u', 't', 0xa1, 'u'};
    tm_persist_link_key_t k;
    uint32_t delay = 0;
    assert_int_equal(tm_persist_link_decode(old, sizeof old, &k, &delay), 0);
    assert_string_equal(k.src, "a");
    assert_string_equal(k.input, "u");
    assert_int_equal(delay, 1);
    char why[200];
    assert_int_equal(tm_persist_check_record(TM_DB_LINKS, "a.x>b.u", 7, old,
                                             sizeof old, why, sizeof why, NULL),
                     0);
    /* with "delay": d */
    uint8_t rec[sizeof old + 16];
    memcpy(rec, old, sizeof old);
    rec[0] = 0x85;
    size_t n = sizeof old;
    rec[n++] = 0xa5;
    memcpy(rec + n, "delay", 5);
    n += 5;
    const struct {
        uint8_t bytes[3];
        size_t len;
        int rc;
        uint32_t delay;
    } cases[] = {{{0x07}, 1, 0, 7},
                 {{0xcd, 0x03, 0xe8}, 3, 0, 1000},
                 {{0x00}, 1, TM_ERR_STORE_CORRUPT, 0},
                 {{0xcd, 0x03, 0xe9}, 3, TM_ERR_STORE_CORRUPT, 0},
                 {{0xff}, 1, TM_ERR_STORE_CORRUPT, 0},
                 {{0xa1, '3'}, 2, TM_ERR_STORE_CORRUPT, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(rec + n, cases[i].bytes, cases[i].len);
        size_t len = n + cases[i].len;
        int rc = tm_persist_link_decode(rec, len, &k, &delay);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(delay, cases[i].delay);
        }
        rc = tm_persist_check_record(TM_DB_LINKS, "a.x>b.u", 7, rec, len, why,
                                     sizeof why, NULL);
        assert_int_equal(rc, cases[i].rc);
    }
}

typedef struct {
    char dir[512];
} s_fix_t;

static int s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    const char *base = getenv("TM_TEST_TMPDIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base ? base : "/tmp");
    assert_int_equal(system(cmd), 0);
    snprintf(f->dir, sizeof f->dir, "%s/persist_test_%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *f = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void s_spawn(tm_rt_t *rt, const char *id, const char *family)
{
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find(family, NULL, TM_FIDELITY_HIGH, &m), 0);
    assert_int_equal(tm_rt_spawn(rt, id, m, NULL), 0);
}

static int s_count_links(const tm_rt_link_t *l, void *arg)
{
    (void)l;
    (*(size_t *)arg)++;
    return 0;
}

static void test_checkpoint_load(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, f->dir, &o), 0);
    tm_rt_config_t rc = {.workers = 1, .h = 0.05, .seed = 7};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    s_spawn(rt, "o1", "oscillator");
    s_spawn(rt, "o2", "oscillator");
    s_spawn(rt, "s1", "spring");
    const char *links[4][4] = {{"o1", "x", "s1", "xa"},
                               {"o2", "x", "s1", "xb"},
                               {"s1", "fa", "o1", "fr"},
                               {"s1", "fb", "o2", "fl"}};
    tm_store_batch_t *b = tm_store_batch_new(store);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            tm_rt_link(rt, links[i][0], links[i][1], links[i][2], links[i][3]),
            0);
        tm_rt_link_t l = {links[i][0], links[i][1], links[i][2], links[i][3],
                          1};
        assert_int_equal(tm_persist_put_link(b, &l), 0);
    }
    assert_int_equal(tm_rt_step(rt, 57), 0);
    assert_int_equal(tm_persist_checkpoint(rt, b), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    uint8_t d1[32];
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    tm_rt_destroy(&rt);

    tm_persist_meta_t meta;
    assert_int_equal(tm_persist_read_meta(store, &meta), 0);
    assert_true(meta.have_checkpoint);
    assert_int_equal(meta.tick, 57);
    assert_int_equal(meta.seed, 7);
    assert_true(meta.h == 0.05);

    rc.tick = meta.tick;
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    tm_persist_load_t ld;
    assert_int_equal(tm_persist_load(store, rt, &ld), 0);
    assert_int_equal(ld.actors, 3);
    assert_int_equal(ld.links, 4);
    assert_int_equal(ld.actors_skipped + ld.links_skipped, 0);
    uint8_t d2[32];
    assert_int_equal(tm_rt_digest(rt, d2), 0);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(tm_rt_tick(rt), 57);
    size_t nl = 0;
    tm_rt_foreach_link(rt, s_count_links, &nl);
    assert_int_equal(nl, 4);

    /* a record of an unknown model is skipped and left in the store */
    tm_persist_actor_t bad;
    tm_wire_buf_t p;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.family, sizeof bad.family, "warp-drive");
    snprintf(bad.version, sizeof bad.version, "9.9.9");
    bad.period = 1;
    tm_wire_buf_init(&p);
    assert_int_equal(tm_persist_actor_encode(&bad, &p), 0);
    b = tm_store_batch_new(store);
    assert_int_equal(
        tm_store_batch_put(b, TM_DB_ACTORS, "zz", 2, p.sbuf.data, p.sbuf.size),
        0);
    assert_int_equal(tm_store_batch_put(b, TM_DB_ACTORS, "yy", 2, "\xc1", 1),
                     0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_wire_buf_destroy(&p);
    tm_rt_destroy(&rt);
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    assert_int_equal(tm_persist_load(store, rt, &ld), 0);
    assert_int_equal(ld.actors, 3);
    assert_int_equal(ld.actors_skipped, 2);
    size_t n = 0;
    assert_int_equal(tm_store_count(store, TM_DB_ACTORS, &n), 0);
    assert_int_equal(n, 5);
    tm_rt_destroy(&rt);
    tm_store_close(&store);
}

static tm_rt_t *s_open_at(uint64_t tick, unsigned workers)
{
    tm_rt_config_t rc = {
        .workers = workers, .h = 0.05, .seed = 7, .tick = tick};
    tm_rt_t *rt = NULL;
    assert_int_equal(tm_rt_open(&rt, &rc), 0);
    return rt;
}

/* A set after the checkpoint patches o1's record (read by links of delay
 * up to 4): its history stays and loads back. */
static void s_patch_keeps_history(tm_store_t *store, tm_rt_t *rt)
{
    void *val = NULL;
    size_t vlen = 0;
    const double *y2 = NULL;
    tm_persist_load_t ld;
    tm_store_batch_t *b = tm_store_batch_new(store);
    const char *names[1] = {"k"};
    const double values[1] = {12.5};
    tm_rt_actor_t a;
    assert_int_equal(tm_rt_get(rt, "o1", &a), 0);
    assert_int_equal(
        tm_persist_patch(store, b, "o1", a.model, names, values, 1), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    assert_int_equal(tm_store_get(store, TM_DB_ACTORS, "o1", 2, &val, &vlen),
                     0);
    tm_persist_actor_t rec;
    double past[3 * 2];
    assert_int_equal(tm_persist_actor_decode(val, vlen, &rec), 0);
    assert_int_equal(rec.n_history, 3);
    assert_int_equal(rec.n_outputs, 0); /* stale, recomputed on load */
    assert_int_equal(tm_persist_actor_history(val, vlen, past, 6), 0);
    free(val);
    tm_rt_t *back = s_open_at(57, 1);
    assert_int_equal(tm_persist_load(store, back, &ld), 0);
    assert_int_equal(tm_rt_outputs_at(back, "o1", 56, &y2, NULL), 0);
    assert_memory_equal(y2, past + 4, 2 * sizeof(double));
    tm_rt_destroy(&back);
}

/* A checkpoint of a mesh with links of delays 1 to 4 loads back with its
 * links, delays and past outputs (the history is not in the digest, so
 * the proof is stepping on): both step on to the same digest. A set after
 * the checkpoint patches the record and keeps its history. */
static void test_checkpoint_delays(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, f->dir, &o), 0);
    tm_rt_t *rt = s_open_at(0, 2);
    s_spawn(rt, "o1", "oscillator");
    s_spawn(rt, "o2", "oscillator");
    s_spawn(rt, "s1", "spring");
    assert_int_equal(tm_rt_set(rt, "o1", "x", 0.3), 0);
    const tm_rt_link_t links[4] = {{"o1", "x", "s1", "xa", 4},
                                   {"o2", "x", "s1", "xb", 1},
                                   {"s1", "fa", "o1", "fr", 2},
                                   {"s1", "fb", "o2", "fl", 3}};
    tm_store_batch_t *b = tm_store_batch_new(store);
    for (int i = 0; i < 4; i++) {
        const tm_rt_link_t *l = &links[i];
        assert_int_equal(
            tm_rt_link_delay(rt, l->src, l->output, l->dst, l->input, l->delay),
            0);
        assert_int_equal(tm_persist_put_link(b, l), 0);
    }
    assert_int_equal(tm_rt_step(rt, 57), 0);
    assert_int_equal(tm_persist_checkpoint(rt, b), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    /* the delay-1 record is the 4-entry map of earlier releases */
    void *val = NULL;
    size_t vlen = 0;
    assert_int_equal(
        tm_store_get(store, TM_DB_LINKS, "o2.x>s1.xb", 10, &val, &vlen), 0);
    assert_int_equal(((const uint8_t *)val)[0], 0x84);
    free(val);

    tm_rt_t *back = s_open_at(57, 1);
    tm_persist_load_t ld;
    assert_int_equal(tm_persist_load(store, back, &ld), 0);
    assert_int_equal(ld.actors, 3);
    assert_int_equal(ld.links, 4);
    assert_int_equal(ld.histories, 2); /* o1 (4 ticks), s1 (3) */
    const double *y1 = NULL, *y2 = NULL;
    for (uint64_t t = 54; t <= 57; t++) {
        assert_int_equal(tm_rt_outputs_at(rt, "o1", t, &y1, NULL), 0);
        assert_int_equal(tm_rt_outputs_at(back, "o1", t, &y2, NULL), 0);
        assert_memory_equal(y1, y2, 2 * sizeof(double));
    }
    uint8_t d1[32], d2[32];
    assert_int_equal(tm_rt_step(rt, 30), 0);
    assert_int_equal(tm_rt_step(back, 30), 0);
    assert_int_equal(tm_rt_digest(rt, d1), 0);
    assert_int_equal(tm_rt_digest(back, d2), 0);
    assert_memory_equal(d1, d2, 32);

    tm_rt_destroy(&back);
    s_patch_keeps_history(store, rt);
    tm_rt_destroy(&rt);
    tm_store_close(&store);
}

static uint32_t s_stored_epoch(tm_store_t *store, const char *id)
{
    void *val = NULL;
    size_t vlen = 0;
    tm_persist_actor_t rec;
    assert_int_equal(
        tm_store_get(store, TM_DB_ACTORS, id, strlen(id), &val, &vlen), 0);
    assert_int_equal(tm_persist_actor_decode(val, vlen, &rec), 0);
    free(val);
    return rec.epoch;
}

/* Epochs through the store: a snapshot keeps each actor's (snapshot ->
 * fill -> decode), a put writes the view's, the load spawns with it; a
 * migration's pack writes the epoch it is given, history included. */
static void test_snapshot_epoch(void **state)
{
    s_fix_t *f = *state;
    tm_store_t *store = NULL;
    tm_store_opts_t o = {.create = 1};
    assert_int_equal(tm_store_open(&store, f->dir, &o), 0);
    tm_rt_t *rt = s_open_at(0, 1);
    const tm_model_t *m = NULL;
    assert_int_equal(tm_models_find("oscillator", NULL, TM_FIDELITY_HIGH, &m),
                     0);
    const char *ids[3] = {"never-moved", "moved-5", "moved-max"};
    const uint32_t epochs[3] = {0, 5, UINT32_MAX};
    for (int i = 0; i < 3; i++) {
        tm_rt_spawn_opts_t opts = {.epoch = epochs[i]};
        assert_int_equal(tm_rt_spawn(rt, ids[i], m, &opts), 0);
    }
    /* a delay-3 link: moved-5's record has a history */
    assert_int_equal(
        tm_rt_link_delay(rt, "moved-5", "x", "never-moved", "fr", 3), 0);
    assert_int_equal(tm_rt_step(rt, 10), 0);

    tm_persist_snap_t *snap = NULL;
    assert_int_equal(tm_persist_snapshot(rt, &snap), 0);
    assert_int_equal(tm_persist_snapshot_count(snap), 3);
    /* the epochs change after the snapshot: the snapshot's are written */
    assert_int_equal(tm_rt_set_epoch(rt, "never-moved", 8), 0);
    assert_int_equal(tm_rt_set_epoch(rt, "moved-5", 0), 0);
    tm_store_batch_t *b = tm_store_batch_new(store);
    assert_int_equal(tm_persist_snapshot_fill(snap, b), 0);
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    tm_persist_snapshot_free(snap);
    for (int i = 0; i < 3; i++) {
        assert_true(s_stored_epoch(store, ids[i]) == epochs[i]);
    }

    /* loaded back: each actor has its record's epoch */
    tm_rt_t *back = s_open_at(10, 1);
    tm_persist_load_t ld;
    assert_int_equal(tm_persist_load(store, back, &ld), 0);
    assert_int_equal(ld.actors, 3);
    for (int i = 0; i < 3; i++) {
        tm_rt_actor_t v;
        assert_int_equal(tm_rt_get(back, ids[i], &v), 0);
        assert_true(v.epoch == epochs[i]);
    }
    tm_rt_destroy(&back);

    /* a put writes the view's epoch (changed above) */
    tm_wire_buf_t scratch;
    tm_wire_buf_init(&scratch);
    b = tm_store_batch_new(store);
    for (int i = 0; i < 2; i++) {
        tm_rt_actor_t v;
        assert_int_equal(tm_rt_get(rt, ids[i], &v), 0);
        assert_int_equal(tm_persist_put_actor(b, rt, &v, &scratch), 0);
    }
    assert_int_equal(tm_store_batch_commit(b), 0);
    tm_store_batch_destroy(&b);
    assert_int_equal(s_stored_epoch(store, "never-moved"), 8);
    assert_int_equal(s_stored_epoch(store, "moved-5"), 0);

    /* a migration's pack: the epoch given, not the view's; with history */
    tm_rt_actor_t v;
    tm_persist_actor_t rec;
    assert_int_equal(tm_rt_get(rt, "moved-5", &v), 0);
    tm_wire_buf_clear(&scratch);
    assert_int_equal(tm_persist_actor_pack(rt, &v, 6, &scratch), 0);
    assert_int_equal(
        tm_persist_actor_decode(scratch.sbuf.data, scratch.sbuf.size, &rec), 0);
    assert_int_equal(rec.epoch, 6);
    assert_int_equal(rec.tick, 10);
    assert_int_equal(rec.n_history, 2);
    assert_memory_equal(rec.state, v.state, m->n_states * sizeof(double));
    tm_wire_buf_destroy(&scratch);

    tm_rt_destroy(&rt);
    tm_store_close(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_sup_roundtrip),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_record_epoch),
        cmocka_unit_test(test_link_key),
        cmocka_unit_test(test_history_roundtrip),
        cmocka_unit_test(test_bad_history),
        cmocka_unit_test(test_link_records),
        cmocka_unit_test_setup_teardown(test_checkpoint_load, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_delays, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_epoch, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
