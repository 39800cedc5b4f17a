/* msg_mesh_test: encoders and decoders of the mesh's messages in
 * protocol/tm_msg, link batches and directories: round trips, the largest
 * messages, and hostile inputs (wrong types, truncation, huge counts,
 * oversize) and ownership epochs. */
#include "msg_fixture.h"

static int s_batch_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                          void *out)
{
    return tm_link_batch_decode(b, n, l, out);
}

static int s_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void test_link_batch_round_trip(void **state)
{
    uint64_t ids[] = {1, 200, 70000, UINT64_MAX, 0};
    double values[] = {1.5, -0.0, INFINITY, NAN, 1e-310};
    tm_link_batch_t batch = {77, 5, ids, values, 0, NULL};
    tm_link_batch_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
    assert_true(got.tick == 77);
    assert_int_equal(got.count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        assert_true(got.ids[i] == ids[i]);
        assert_true(s_same_double(got.values[i], values[i]));
    }
    tm_link_batch_free(&got);
    assert_null(got.ids);
    tm_link_batch_free(&got);
    tm_link_batch_free(NULL);
    s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
    free(bytes);

    /* degraded positions travel with the values; more than values, or
     * positions beyond 32 bits, are refused */
    {
        uint32_t deg[] = {0, 4};
        tm_link_batch_t bd = {78, 5, ids, values, 2, deg};
        assert_rc(tm_link_batch_encode(&bd, &bytes, &len), 0);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
        assert_int_equal(got.n_degraded, 2);
        assert_int_equal(got.degraded[0], 0);
        assert_int_equal(got.degraded[1], 4);
        tm_link_batch_free(&got);
        assert_null(got.degraded);
        s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
        free(bytes);
        uint32_t many[6] = {0};
        tm_link_batch_t bm = {78, 5, ids, values, 6, many};
        assert_rc(tm_link_batch_encode(&bm, &bytes, &len), 0);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got),
                  TM_ERR_WIRE_FIELD);
        free(bytes);
        tm_link_batch_t bn = {78, 5, ids, values, 1, NULL};
        assert_rc(tm_link_batch_encode(&bn, &bytes, &len), TM_ERR_INVAL);
    }

    /* without ids the values are positional: no id on the wire */
    {
        size_t with_ids = 0;
        tm_link_batch_t bi = {79, 5, ids, values, 0, NULL};
        assert_rc(tm_link_batch_encode(&bi, &bytes, &len), 0);
        with_ids = len;
        free(bytes);
        tm_link_batch_t bp = {79, 5, NULL, values, 0, NULL};
        assert_rc(tm_link_batch_encode(&bp, &bytes, &len), 0);
        /* the key "ids" (4 bytes), its array header (1) and the ids
         * (1 + 2 + 5 + 9 + 1) are all that is left out */
        assert_int_equal(len + 4 + 1 + 18, with_ids);
        assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
        assert_true(got.tick == 79);
        assert_int_equal(got.count, 5);
        assert_null(got.ids);
        for (uint32_t i = 0; i < 5; i++) {
            assert_true(s_same_double(got.values[i], values[i]));
        }
        tm_link_batch_free(&got);
        s_assert_prefixes_fail(bytes, len, s_batch_decode, &got);
        free(bytes);
    }

    /* the wire order of values is little-endian */
    {
        double one = 1.0;
        tm_link_batch_t b1 = {0, 1, ids, &one, 0, NULL};
        static const uint8_t le_one[] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
        assert_rc(tm_link_batch_encode(&b1, &bytes, &len), 0);
        assert_true(len > sizeof le_one);
        assert_memory_equal(bytes + len - sizeof le_one, le_one, sizeof le_one);
        free(bytes);
    }

    /* the empty batch is the null message of a tick */
    batch.count = 0;
    batch.ids = NULL;
    batch.values = NULL;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got), 0);
    assert_int_equal(got.count, 0);
    assert_null(got.ids);
    assert_null(got.values);
    tm_link_batch_free(&got);
    free(bytes);

    batch.count = 2;
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_link_batch_encode(NULL, &bytes, &len), TM_ERR_INVAL);
}

static void test_link_batch_bad_fields(void **state)
{
    tm_link_batch_t got;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    static const uint8_t zeros[24] = {0};

    (void)state;
    memset(&got, 0, sizeof got);
    for (int variant = 0; variant < 10; variant++) {
        static const int want[] = {
            TM_ERR_WIRE_FIELD, /* values 8 * count + 1 bytes */
            TM_ERR_WIRE_FIELD, /* values 8 * (count - 1) bytes */
            TM_ERR_WIRE_TYPE,  /* an id a str */
            TM_ERR_WIRE_FIELD, /* an id negative */
            TM_ERR_WIRE_TYPE,  /* values a str */
            TM_ERR_WIRE_TYPE,  /* values an array of floats */
            TM_ERR_WIRE_FIELD, /* tick missing */
            TM_ERR_WIRE_TYPE,  /* ids a bin */
            0,                 /* keys in another order */
            TM_ERR_WIRE_FIELD, /* ids twice */
        };
        pk = s_begin(&m);
        msgpack_pack_map(pk, variant == 6 ? 2 : variant == 9 ? 4 : 3);
        if (variant == 8) {
            msgpack_pack_str(pk, 6);
            msgpack_pack_str_body(pk, "values", 6);
            msgpack_pack_bin(pk, 16);
            msgpack_pack_bin_body(pk, zeros, 16);
        }
        if (variant != 6) {
            tm_wire_pack_kv_u64(pk, "tick", 9);
        }
        tm_wire_pack_str(pk, "ids");
        if (variant == 7) {
            msgpack_pack_bin(pk, 2);
            msgpack_pack_bin_body(pk, zeros, 2);
        } else {
            msgpack_pack_array(pk, 2);
            msgpack_pack_uint64(pk, 1);
            if (variant == 2) {
                tm_wire_pack_str(pk, "2");
            } else if (variant == 3) {
                msgpack_pack_int(pk, -2);
            } else {
                msgpack_pack_uint64(pk, 2);
            }
        }
        if (variant == 9) {
            tm_wire_pack_str(pk, "ids");
            msgpack_pack_array(pk, 0);
        }
        if (variant != 8) {
            tm_wire_pack_str(pk, "values");
            if (variant == 4) {
                tm_wire_pack_str(pk, "0000000000000000");
            } else if (variant == 5) {
                msgpack_pack_array(pk, 2);
                msgpack_pack_double(pk, 1.0);
                msgpack_pack_double(pk, 2.0);
            } else {
                size_t n = variant == 0 ? 17 : variant == 1 ? 8 : 16;
                msgpack_pack_bin(pk, n);
                msgpack_pack_bin_body(pk, zeros, n);
            }
        }
        s_end(&m);
        print_message("link_batch variant %d\n", variant);
        assert_rc(tm_link_batch_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(got.count, 2);
            assert_true(got.ids[1] == 2 && got.values[1] == 0.0);
            tm_link_batch_free(&got);
        } else {
            assert_null(got.ids); /* nothing handed over on failure */
        }
        s_free(&m);
    }

    /* without ids: values of 8 * k bytes are k positional values */
    for (int variant = 0; variant < 3; variant++) {
        static const int want[] = {0, TM_ERR_WIRE_FIELD, TM_ERR_WIRE_FIELD};
        pk = s_begin(&m);
        msgpack_pack_map(pk, variant == 2 ? 1 : 2);
        if (variant != 2) {
            tm_wire_pack_kv_u64(pk, "tick", 9);
        }
        tm_wire_pack_str(pk, "values");
        msgpack_pack_bin(pk, variant == 1 ? 15 : 16);
        msgpack_pack_bin_body(pk, zeros, variant == 1 ? 15 : 16);
        s_end(&m);
        assert_rc(tm_link_batch_decode(m.bytes, m.len, NULL, &got),
                  want[variant]);
        if (want[variant] == 0) {
            assert_int_equal(got.count, 2);
            assert_null(got.ids);
            assert_true(got.values[1] == 0.0);
            tm_link_batch_free(&got);
        }
        s_free(&m);
    }

    /* the classic huge header, bare and as the ids array */
    assert_rc(tm_link_batch_decode((const uint8_t *)"\xdd\xff\x00\x00\x00", 5,
                                   NULL, &got),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_link_batch_decode((const uint8_t *)"\x81\xa3"
                                                    "ids\xdd\xff\x00\x00\x00",
                                   10, NULL, &got),
              TM_ERR_WIRE_COUNT);
    assert_rc(tm_link_batch_decode((const uint8_t *)"\x81\xa6"
                                                    "values\xc6\xff\x00",
                                   11, NULL, &got),
              TM_ERR_WIRE_TRUNCATED);
    assert_rc(tm_link_batch_decode(NULL, 0, NULL, &got), TM_ERR_WIRE_TRUNCATED);
}

/* Many links: bounded by the configured size limit, not by a count. */
static void test_link_batch_large(void **state)
{
    const uint32_t n = 70000;
    uint64_t *ids = malloc(n * sizeof *ids);
    double *values = malloc(n * sizeof *values);
    tm_link_batch_t batch = {5, n, ids, values, 0, NULL};
    tm_link_batch_t got;
    tm_wire_limits_t lim = {0, 0};
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    assert_non_null(ids);
    assert_non_null(values);
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = (uint64_t)i * 2654435761u;
        values[i] = (double)i / 7.0;
    }
    assert_rc(tm_link_batch_encode(&batch, &bytes, &len), 0);
    assert_true(len > TM_WIRE_MAX_SIZE_DEFAULT);
    assert_rc(tm_link_batch_decode(bytes, len, NULL, &got),
              TM_ERR_WIRE_TOO_LARGE);
    lim.max_size = len;
    assert_rc(tm_link_batch_decode(bytes, len, &lim, &got), 0);
    assert_int_equal(got.count, n);
    assert_true(got.ids[n - 1] == ids[n - 1]);
    assert_true(s_same_double(got.values[n - 1], values[n - 1]));
    tm_link_batch_free(&got);
    free(bytes);
    free(ids);
    free(values);
}

/* ---- directory --------------------------------------------------------- */

static int s_dir_decode(const uint8_t *b, size_t n, const tm_wire_limits_t *l,
                        void *out)
{
    int rc = tm_directory_decode(b, n, l, out);
    if (rc == 0) {
        tm_directory_free(out);
    }
    return rc;
}

static void s_assert_dir_equal(const tm_directory_t *a, const tm_directory_t *b)
{
    assert_true(a->inc == b->inc);
    assert_true(a->seq == b->seq);
    assert_int_equal(!!a->reset, !!b->reset);
    assert_int_equal(a->n_add, b->n_add);
    assert_int_equal(a->n_del, b->n_del);
    for (uint32_t i = 0; i < a->n_add; i++) {
        assert_string_equal(a->add[i].id, b->add[i].id);
        assert_string_equal(a->add[i].model, b->add[i].model);
        assert_string_equal(a->add[i].tier, b->add[i].tier);
        assert_int_equal(a->add[i].epoch, b->add[i].epoch);
    }
    for (uint32_t i = 0; i < a->n_del; i++) {
        assert_string_equal(a->del[i].id, b->del[i].id);
    }
}

/* n entries "<prefix><i>", model "pump@1", tier "high"; calloc'd. */
static tm_dir_entry_t *s_entries(uint32_t n, const char *prefix)
{
    tm_dir_entry_t *e = calloc(n + 1, sizeof *e);
    assert_non_null(e);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(e[i].id, sizeof e[i].id, "%s%u", prefix, i);
        snprintf(e[i].model, sizeof e[i].model, "pump@1");
        snprintf(e[i].tier, sizeof e[i].tier, "high");
    }
    return e;
}

static void test_directory_round_trip(void **state)
{
    tm_dir_entry_t *add = s_entries(4, "pump-");
    tm_dir_entry_t *del = s_entries(2, "tank-");
    tm_directory_t dir = {.inc = 1764547200123456789ull,
                          .seq = 1,
                          .reset = 1,
                          .n_add = 3,
                          .add = add};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    /* the first message of a whole directory */
    memset(add[1].id, 'i', TM_MSG_NAME_MAX); /* longest names */
    memset(add[1].model, 'm', TM_MSG_NAME_MAX);
    memset(add[1].tier, 't', TM_MSG_NAME_MAX);
    add[2].model[0] = '\0'; /* model and tier may be empty */
    add[2].tier[0] = '\0';
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_true(got.reset);
    assert_null(got.del);
    tm_directory_free(&got);
    assert_null(got.add);
    assert_int_equal(got.n_add, 0);
    tm_directory_free(&got);
    tm_directory_free(NULL);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* a delta: adds and deletes (a delete carries only the id) */
    dir.reset = 0;
    dir.seq = UINT64_MAX;
    dir.inc = UINT64_MAX;
    dir.n_add = 1;
    dir.n_del = 2;
    dir.del = del;
    del[1].model[0] = '\0';
    del[1].tier[TM_MSG_NAME_MAX] = 'x'; /* unused for a delete */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_false(got.reset);
    assert_string_equal(got.del[1].id, "tank-1");
    assert_string_equal(got.del[1].model, "");
    tm_directory_free(&got);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* nothing to add or delete: the whole directory of an empty node */
    dir = (tm_directory_t){.inc = 3, .seq = 1, .reset = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_null(got.add);
    assert_null(got.del);
    tm_directory_free(&got);
    free(bytes);
    free(add);
    free(del);
}

/* TM_MSG_DIR_MAX entries in add and del together, on both sides. */
static void test_directory_max(void **state)
{
    tm_dir_entry_t *add = s_entries(TM_MSG_DIR_MAX + 1, "a-");
    tm_dir_entry_t *del = s_entries(TM_MSG_DIR_MAX + 1, "d-");
    tm_directory_t dir = {.inc = 1, .seq = 2, .add = add, .del = del};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s_msg_t m;

    (void)state;
    for (uint32_t split = 0; split <= TM_MSG_DIR_MAX; split += 4096) {
        dir.n_add = split;
        dir.n_del = TM_MSG_DIR_MAX - split;
        assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
        assert_true(len < TM_WIRE_MAX_SIZE_DEFAULT);
        assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
        s_assert_dir_equal(&got, &dir);
        tm_directory_free(&got);
        free(bytes);
        /* one more, on either side, is refused by the encoder */
        dir.n_add += split > 0;
        dir.n_del += split == 0;
        assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_TOO_BIG);
    }
    dir.n_add = UINT32_MAX;
    dir.n_del = UINT32_MAX;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_TOO_BIG);

    /* and by the decoder: add alone, del alone, both together */
    for (int v = 0; v < 4; v++) {
        static const uint32_t n_add[] = {
            TM_MSG_DIR_MAX + 1, 0, TM_MSG_DIR_MAX / 2 + 1, TM_MSG_DIR_MAX - 1};
        static const uint32_t n_del[] = {0, TM_MSG_DIR_MAX + 1,
                                         TM_MSG_DIR_MAX / 2, 1};
        msgpack_packer *pk = s_begin(&m);
        msgpack_pack_map(pk, 5);
        tm_wire_pack_kv_u64(pk, "inc", 1);
        tm_wire_pack_kv_u64(pk, "seq", 2);
        tm_wire_pack_kv_bool(pk, "reset", 0);
        tm_wire_pack_str(pk, "add");
        msgpack_pack_array(pk, n_add[v]);
        for (uint32_t i = 0; i < n_add[v]; i++) {
            msgpack_pack_array(pk, 3);
            tm_wire_pack_str(pk, add[i % TM_MSG_DIR_MAX].id);
            tm_wire_pack_str(pk, "m@1");
            tm_wire_pack_str(pk, "low");
        }
        tm_wire_pack_str(pk, "del");
        msgpack_pack_array(pk, n_del[v]);
        for (uint32_t i = 0; i < n_del[v]; i++) {
            tm_wire_pack_str(pk, del[i % TM_MSG_DIR_MAX].id);
        }
        s_end(&m);
        print_message("directory count variant %d\n", v);
        memset(&got, 0x5a, sizeof got);
        assert_rc(tm_directory_decode(m.bytes, m.len, NULL, &got),
                  v == 3 ? 0 : TM_ERR_TOO_BIG);
        if (v == 3) {
            assert_int_equal(got.n_add, TM_MSG_DIR_MAX - 1);
            assert_int_equal(got.n_del, 1);
            assert_string_equal(got.add[TM_MSG_DIR_MAX - 2].tier, "low");
            tm_directory_free(&got);
        } else {
            assert_int_equal(got.n_add, 0x5a5a5a5a); /* out untouched */
        }
        s_free(&m);
    }
    free(add);
    free(del);
}

/* A directory map with every key right but the one a variant spoils. */
static void test_directory_bad_fields(void **state)
{
    char long_name[TM_MSG_NAME_MAX + 1];
    tm_directory_t got;
    tm_directory_t before;
    s_msg_t m;
    msgpack_packer *pk = NULL;
    enum {
        V_UNKNOWN_KEYS,  /* unknown keys, nested values too: skipped */
        V_ADD_EMPTY_ID,  /* an added entry with an empty id */
        V_DEL_EMPTY_ID,  /* a deleted id empty */
        V_ADD_TWO,       /* an added entry [id, model] */
        V_ADD_FOUR,      /* an added entry [id, model, tier, "x"] */
        V_ADD_FIVE,      /* an added entry [id, model, tier, 1, x] */
        V_EPOCH_ZERO,    /* an epoch 0 (sent as a 3-array, never as 0) */
        V_EPOCH_OVER,    /* an epoch 2^32 */
        V_EPOCH_NEG,     /* an epoch -1 */
        V_EPOCH_MAX,     /* an epoch 2^32 - 1: fine */
        V_ADD_STR,       /* an added entry a bare str */
        V_ADD_MODEL_INT, /* an added entry's model an int */
        V_ADD_ID_NUL,    /* an id with a NUL */
        V_ADD_ID_LONG,   /* an id of 65 bytes */
        V_ADD_TIER_LONG, /* a tier of 65 bytes */
        V_DEL_ARRAY,     /* a deleted id given as an entry [id, m, t] */
        V_DEL_ID_LONG,   /* a deleted id of 65 bytes */
        V_ADD_MAP,       /* add a map */
        V_RESET_INT,     /* reset 1, not a bool */
        V_RESET_MISSING, /* reset missing */
        V_DEL_MISSING,   /* del missing */
        V_INC_NEGATIVE,  /* inc -1 */
        V_SEQ_STR,       /* seq a str */
        V_ADD_TWICE,     /* add given twice */
        V_SEQ_TWICE,     /* seq given twice */
        V_COUNT
    };
    static const int want[V_COUNT] = {
        [V_UNKNOWN_KEYS] = 0,
        [V_ADD_EMPTY_ID] = TM_ERR_WIRE_FIELD,
        [V_DEL_EMPTY_ID] = TM_ERR_WIRE_FIELD,
        [V_ADD_TWO] = TM_ERR_WIRE_FIELD,
        [V_ADD_FOUR] = TM_ERR_WIRE_TYPE, /* the 4th element is the epoch */
        [V_ADD_FIVE] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_ZERO] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_OVER] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_NEG] = TM_ERR_WIRE_FIELD,
        [V_EPOCH_MAX] = 0,
        [V_ADD_STR] = TM_ERR_WIRE_TYPE,
        [V_ADD_MODEL_INT] = TM_ERR_WIRE_TYPE,
        [V_ADD_ID_NUL] = TM_ERR_WIRE_FIELD,
        [V_ADD_ID_LONG] = TM_ERR_WIRE_FIELD,
        [V_ADD_TIER_LONG] = TM_ERR_WIRE_FIELD,
        [V_DEL_ARRAY] = TM_ERR_WIRE_TYPE,
        [V_DEL_ID_LONG] = TM_ERR_WIRE_FIELD,
        [V_ADD_MAP] = TM_ERR_WIRE_TYPE,
        [V_RESET_INT] = TM_ERR_WIRE_TYPE,
        [V_RESET_MISSING] = TM_ERR_WIRE_FIELD,
        [V_DEL_MISSING] = TM_ERR_WIRE_FIELD,
        [V_INC_NEGATIVE] = TM_ERR_WIRE_FIELD,
        [V_SEQ_STR] = TM_ERR_WIRE_TYPE,
        [V_ADD_TWICE] = TM_ERR_WIRE_FIELD,
        [V_SEQ_TWICE] = TM_ERR_WIRE_FIELD,
    };

    (void)state;
    memset(long_name, 'x', sizeof long_name);
    for (int v = 0; v < V_COUNT; v++) {
        uint32_t keys = 5;
        keys += v == V_UNKNOWN_KEYS ? 2 : 0;
        keys += v == V_ADD_TWICE || v == V_SEQ_TWICE ? 1 : 0;
        keys -= v == V_RESET_MISSING || v == V_DEL_MISSING ? 1 : 0;
        pk = s_begin(&m);
        msgpack_pack_map(pk, keys);
        if (v == V_UNKNOWN_KEYS) {
            tm_wire_pack_str(pk, "moved");
            msgpack_pack_array(pk, 2);
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "id", "x");
            msgpack_pack_nil(pk);
        }
        tm_wire_pack_str(pk, "inc");
        if (v == V_INC_NEGATIVE) {
            msgpack_pack_int64(pk, -1);
        } else {
            msgpack_pack_uint64(pk, 7);
        }
        tm_wire_pack_str(pk, "seq");
        if (v == V_SEQ_STR) {
            tm_wire_pack_str(pk, "3");
        } else {
            msgpack_pack_uint64(pk, 3);
        }
        if (v == V_SEQ_TWICE) {
            tm_wire_pack_kv_u64(pk, "seq", 4);
        }
        if (v == V_RESET_INT) {
            tm_wire_pack_kv_u64(pk, "reset", 1);
        } else if (v != V_RESET_MISSING) {
            tm_wire_pack_kv_bool(pk, "reset", 1);
        }
        tm_wire_pack_str(pk, "add");
        if (v == V_ADD_MAP) {
            msgpack_pack_map(pk, 1);
            tm_wire_pack_kv_str(pk, "pump-1", "pump@1");
        } else {
            msgpack_pack_array(pk, 2);
            msgpack_pack_array(pk, 3); /* a good one first */
            tm_wire_pack_str(pk, "pump-1");
            tm_wire_pack_str(pk, "pump@1");
            tm_wire_pack_str(pk, "high");
            if (v == V_ADD_STR) {
                tm_wire_pack_str(pk, "pump-2");
            } else {
                uint32_t n = 3;
                n = v == V_ADD_TWO ? 2 : v == V_ADD_FIVE ? 5 : n;
                n = v == V_ADD_FOUR || v == V_EPOCH_ZERO || v == V_EPOCH_OVER ||
                            v == V_EPOCH_NEG || v == V_EPOCH_MAX
                        ? 4
                        : n;
                msgpack_pack_array(pk, n);
                if (v == V_ADD_EMPTY_ID) {
                    tm_wire_pack_str(pk, "");
                } else if (v == V_ADD_ID_NUL) {
                    s_pack_bytes_str(pk, "pump\0-2", 7);
                } else if (v == V_ADD_ID_LONG) {
                    s_pack_bytes_str(pk, long_name, sizeof long_name);
                } else {
                    tm_wire_pack_str(pk, "pump-2");
                }
                if (v == V_ADD_MODEL_INT) {
                    msgpack_pack_uint64(pk, 1);
                } else {
                    tm_wire_pack_str(pk, "pump@1");
                }
                if (v == V_ADD_TIER_LONG) {
                    s_pack_bytes_str(pk, long_name, sizeof long_name);
                } else if (v != V_ADD_TWO) {
                    tm_wire_pack_str(pk, "low");
                }
                if (v == V_ADD_FOUR) {
                    tm_wire_pack_str(pk, "extra");
                } else if (v == V_ADD_FIVE) {
                    msgpack_pack_uint64(pk, 1);
                    tm_wire_pack_str(pk, "extra");
                } else if (v == V_EPOCH_ZERO) {
                    msgpack_pack_uint64(pk, 0);
                } else if (v == V_EPOCH_OVER) {
                    msgpack_pack_uint64(pk, UINT32_MAX + 1ull);
                } else if (v == V_EPOCH_NEG) {
                    msgpack_pack_int64(pk, -1);
                } else if (v == V_EPOCH_MAX) {
                    msgpack_pack_uint64(pk, UINT32_MAX);
                }
            }
        }
        if (v == V_ADD_TWICE) {
            tm_wire_pack_str(pk, "add");
            msgpack_pack_array(pk, 0);
        }
        if (v != V_DEL_MISSING) {
            tm_wire_pack_str(pk, "del");
            msgpack_pack_array(pk, 2);
            tm_wire_pack_str(pk, "tank-1");
            if (v == V_DEL_EMPTY_ID) {
                tm_wire_pack_str(pk, "");
            } else if (v == V_DEL_ARRAY) {
                msgpack_pack_array(pk, 3);
                tm_wire_pack_str(pk, "tank-2");
                tm_wire_pack_str(pk, "tank@1");
                tm_wire_pack_str(pk, "high");
            } else if (v == V_DEL_ID_LONG) {
                s_pack_bytes_str(pk, long_name, sizeof long_name);
            } else {
                tm_wire_pack_str(pk, "tank-2");
            }
        }
        if (v == V_UNKNOWN_KEYS) {
            tm_wire_pack_kv_u64(pk, "zone", 3);
        }
        s_end(&m);
        print_message("directory variant %d\n", v);
        memset(&got, 0x5a, sizeof got);
        memcpy(&before, &got, sizeof got);
        assert_rc(tm_directory_decode(m.bytes, m.len, NULL, &got), want[v]);
        if (want[v] == 0) {
            assert_true(got.inc == 7 && got.seq == 3 && got.reset);
            assert_int_equal(got.n_add, 2);
            assert_string_equal(got.add[1].id, "pump-2");
            assert_string_equal(got.add[1].tier, "low");
            assert_int_equal(got.add[0].epoch, 0);
            assert_true(got.add[1].epoch ==
                        (v == V_EPOCH_MAX ? UINT32_MAX : 0u));
            assert_int_equal(got.n_del, 2);
            assert_string_equal(got.del[1].id, "tank-2");
            tm_directory_free(&got);
        } else {
            /* nothing handed over on failure */
            assert_memory_equal(&got, &before, sizeof got);
        }
        s_free(&m);
    }
}

/* The offset of needle in hay, or -1. */
static long s_find_bytes(const uint8_t *hay, size_t n, const void *needle,
                         size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Ownership epochs: an entry carries one (a 4-array) only when it is above
 * 0, so entries of actors that never moved are the 3-arrays they were;
 * every epoch of 1 .. 2^32 - 1 round-trips, and deletes carry none. */
static void test_directory_epoch(void **state)
{
    tm_dir_entry_t *add = s_entries(4, "pump-");
    tm_dir_entry_t *del = s_entries(1, "tank-");
    tm_directory_t dir = {
        .inc = 9, .seq = 4, .n_add = 4, .add = add, .n_del = 1, .del = del};
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;

    (void)state;
    add[1].epoch = 1;
    add[2].epoch = 7;
    add[3].epoch = UINT32_MAX;
    del[0].epoch = 3; /* a delete carries only its id */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    s_assert_dir_equal(&got, &dir);
    assert_true(got.add[3].epoch == UINT32_MAX);
    assert_int_equal(got.del[0].epoch, 0);
    tm_directory_free(&got);
    /* [id, model, tier] for epoch 0; [id, model, tier, epoch] above */
    assert_true(s_find_bytes(bytes, len, "\x93\xa6pump-0", 8) >= 0);
    assert_true(s_find_bytes(bytes, len, "\x94\xa6pump-0", 8) < 0);
    assert_true(s_find_bytes(bytes, len, "\x94\xa6pump-1", 8) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\x01", 5) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\x07", 5) >= 0);
    assert_true(s_find_bytes(bytes, len, "high\xce\xff\xff\xff\xff", 9) >= 0);
    s_assert_prefixes_fail(bytes, len, s_dir_decode, &got);
    free(bytes);

    /* without epochs: one 4-array fewer for each entry put back to 0 */
    size_t with = len;
    add[1].epoch = 0;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    assert_int_equal(len, with - 1); /* fixint 1 gone */
    assert_true(s_find_bytes(bytes, len, "\x93\xa6pump-1", 8) >= 0);
    assert_rc(tm_directory_decode(bytes, len, NULL, &got), 0);
    assert_int_equal(got.add[1].epoch, 0);
    tm_directory_free(&got);
    free(bytes);
    free(add);
    free(del);
}

static void test_directory_hostile(void **state)
{
    tm_dir_entry_t bad[2];
    tm_directory_t dir;
    tm_directory_t got;
    uint8_t *bytes = NULL;
    size_t len = 0;
    s_msg_t m;
    msgpack_packer *pk = NULL;

    (void)state;
    /* counts that announce far more entries than the bytes that follow:
     * refused by the frame check, before any field is read or anything
     * allocated (a decoder that trusted them would ask for 800 GB) */
    for (int v = 0; v < 2; v++) {
        pk = s_begin(&m);
        msgpack_pack_map(pk, 5);
        tm_wire_pack_kv_u64(pk, "inc", 1);
        tm_wire_pack_kv_u64(pk, "seq", 1);
        tm_wire_pack_kv_bool(pk, "reset", 1);
        tm_wire_pack_str(pk, v == 0 ? "add" : "del");
        s_end(&m);
        /* 4,294,967,295 entries, then the last key with an empty array */
        m.bytes = realloc(m.bytes, m.len + 10);
        assert_non_null(m.bytes);
        memcpy(m.bytes + m.len, "\xdd\xff\xff\xff\xff", 5);
        memcpy(m.bytes + m.len + 5,
               v == 0 ? "\xa3"
                        "del\x90"
                      : "\xa3"
                        "add\x90",
               5);
        assert_rc(tm_directory_decode(m.bytes, m.len + 10, NULL, &got),
                  TM_ERR_WIRE_COUNT);
        s_free(&m);
    }
    assert_rc(tm_directory_decode((const uint8_t *)"\xdd\xff\x00\x00\x00", 5,
                                  NULL, &got),
              TM_ERR_WIRE_COUNT);
    /* not a map; the size limit; no out */
    assert_rc(tm_directory_decode((const uint8_t *)"\x90", 1, NULL, &got),
              TM_ERR_WIRE_TYPE);
    assert_rc(tm_directory_decode(NULL, 0, NULL, &got), TM_ERR_WIRE_TRUNCATED);
    dir = (tm_directory_t){.inc = 1, .seq = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    tm_wire_limits_t tight = {len - 1, 0};
    assert_rc(tm_directory_decode(bytes, len, &tight, &got),
              TM_ERR_WIRE_TOO_LARGE);
    assert_rc(tm_directory_decode(bytes, len, NULL, NULL), TM_ERR_INVAL);
    free(bytes);

    /* the encoder refuses what the decoder would refuse */
    memset(bad, 0, sizeof bad);
    snprintf(bad[0].id, sizeof bad[0].id, "ok");
    dir.add = bad;
    dir.n_add = 2; /* bad[1] has an empty id */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir.n_add = 0;
    dir.del = bad;
    dir.n_del = 2;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    snprintf(bad[1].id, sizeof bad[1].id, "ok2");
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    free(bytes);
    bad[1].id[TM_MSG_NAME_MAX] = 'x';
    memset(bad[1].id, 'x', TM_MSG_NAME_MAX); /* 65 bytes, no NUL */
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir.n_del = 1;
    dir.add = bad;
    dir.n_add = 1;
    bad[0].model[TM_MSG_NAME_MAX] = 'm';
    memset(bad[0].model, 'm', TM_MSG_NAME_MAX);
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    bad[0].model[0] = '\0';
    assert_rc(tm_directory_encode(&dir, &bytes, &len), 0);
    free(bytes);
    dir.del = NULL;
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    dir = (tm_directory_t){.n_add = 1};
    assert_rc(tm_directory_encode(&dir, &bytes, &len), TM_ERR_INVAL);
    assert_rc(tm_directory_encode(NULL, &bytes, &len), TM_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_batch_round_trip),
        cmocka_unit_test(test_link_batch_bad_fields),
        cmocka_unit_test(test_link_batch_large),
        cmocka_unit_test(test_directory_round_trip),
        cmocka_unit_test(test_directory_max),
        cmocka_unit_test(test_directory_bad_fields),
        cmocka_unit_test(test_directory_epoch),
        cmocka_unit_test(test_directory_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
