/* outputs_test: twin output maps (docs/protocol.md section 8.2) decoded
 * as a subscriber reads them - every field, unknown keys, nil values,
 * limits, each kind of malformed map refused - and the endpoints a client
 * connects to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_outputs.h"
#include "tm_wire.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- outputs ------------------------------------------------------------- */

/* An output map as a node publishes it, with extras a decoder must skip. */
static void s_pack_output(tm_wire_buf_t *w, bool with_unknowns)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, with_unknowns ? 15 : 12);
    tm_wire_pack_kv_str(pk, "asset", "skab-valve1-0");
    tm_wire_pack_kv_u64(pk, "tick", 812);
    tm_wire_pack_kv_u64(pk, "ts", 1583748873000000000ULL);
    tm_wire_pack_kv_str(pk, "model", "pumpmon@1.0.0");
    tm_wire_pack_kv_u64(pk, "params", 3);
    tm_wire_pack_kv_str(pk, "fidelity", "high");
    tm_wire_pack_kv_bool(pk, "degraded", 0);
    tm_wire_pack_str(pk, "outputs");
    msgpack_pack_map(pk, 2);
    tm_wire_pack_kv_f64(pk, "flow", 0.000533);
    tm_wire_pack_kv_nil(pk, "vib1");
    tm_wire_pack_str(pk, "uncertainty");
    msgpack_pack_map(pk, 2);
    tm_wire_pack_kv_f64(pk, "flow", 1.5e-5);
    /* a name over TM_OUTPUTS_NAME_MAX is skipped */
    tm_wire_pack_kv_f64(pk, "a_name_that_is_longer_than_31_bytes", 1);
    tm_wire_pack_str(pk, "measured");
    msgpack_pack_map(pk, 1);
    tm_wire_pack_str(pk, "flow");
    msgpack_pack_int(pk, 1); /* an integer is a number too */
    tm_wire_pack_kv_f64(pk, "score", 1.25);
    tm_wire_pack_kv_bool(pk, "alarm", 1);
    if (with_unknowns) {
        tm_wire_pack_str(pk, "future");
        msgpack_pack_array(pk, 2);
        msgpack_pack_map(pk, 0);
        msgpack_pack_nil(pk);
        msgpack_pack_int(pk, 7); /* a key that is not a str */
        msgpack_pack_true(pk);
        tm_wire_pack_kv_str(pk, "note", "x");
    }
}

static void test_output_decode(void **state)
{
    (void)state;
    for (int unknowns = 0; unknowns < 2; unknowns++) {
        tm_wire_buf_t w;
        uint8_t *buf;
        size_t len;
        tm_outputs_t o;
        tm_wire_buf_init(&w);
        s_pack_output(&w, unknowns != 0);
        assert_int_equal(tm_wire_buf_finish(&w, &buf, &len), 0);
        assert_int_equal(tm_outputs_decode(buf, len, &o), 0);
        assert_string_equal(o.asset, "skab-valve1-0");
        assert_true(o.tick == 812);
        assert_true(o.ts == 1583748873000000000ULL);
        assert_true(o.params == 3);
        assert_true(o.score == 1.25);
        assert_true(o.alarm);
        assert_false(o.degraded);
        assert_int_equal(o.outputs.n, 2);
        assert_true(tm_outputs_value(&o.outputs, "flow") == 0.000533);
        assert_true(isnan(tm_outputs_value(&o.outputs, "vib1")));
        assert_true(isnan(tm_outputs_value(&o.outputs, "current")));
        assert_int_equal(o.uncertainty.n, 1);
        assert_true(tm_outputs_value(&o.uncertainty, "flow") == 1.5e-5);
        assert_true(tm_outputs_value(&o.measured, "flow") == 1.0);
        /* every strict prefix is refused */
        for (size_t cut = 0; cut < len; cut += 7) {
            assert_true(tm_outputs_decode(buf, cut, &o) != 0);
        }
        free(buf);
        tm_wire_buf_destroy(&w);
    }
}

/* Encode fn's map and expect rc from the decoder. */
static void s_expect(void (*fn)(msgpack_packer *), int rc)
{
    tm_wire_buf_t w;
    uint8_t *buf;
    size_t len;
    tm_outputs_t o;
    tm_wire_buf_init(&w);
    fn(&w.pk);
    assert_int_equal(tm_wire_buf_finish(&w, &buf, &len), 0);
    assert_int_equal(tm_outputs_decode(buf, len, &o), rc);
    free(buf);
    tm_wire_buf_destroy(&w);
}

static void s_no_alarm(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    tm_wire_pack_kv_str(pk, "asset", "a");
    tm_wire_pack_kv_u64(pk, "tick", 1);
    tm_wire_pack_kv_u64(pk, "ts", 1);
    tm_wire_pack_kv_f64(pk, "score", 0);
}

static void s_tick_str(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "asset", "a");
    tm_wire_pack_kv_str(pk, "tick", "1");
    tm_wire_pack_kv_u64(pk, "ts", 1);
    tm_wire_pack_kv_f64(pk, "score", 0);
    tm_wire_pack_kv_bool(pk, "alarm", 0);
}

static void s_long_asset(msgpack_packer *pk)
{
    char id[66];
    memset(id, 'x', 65);
    id[65] = '\0';
    msgpack_pack_map(pk, 5);
    tm_wire_pack_kv_str(pk, "asset", id);
    tm_wire_pack_kv_u64(pk, "tick", 1);
    tm_wire_pack_kv_u64(pk, "ts", 1);
    tm_wire_pack_kv_f64(pk, "score", 0);
    tm_wire_pack_kv_bool(pk, "alarm", 0);
}

static void s_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}

static void s_bad_outputs(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    tm_wire_pack_kv_str(pk, "asset", "a");
    tm_wire_pack_kv_u64(pk, "tick", 1);
    tm_wire_pack_kv_u64(pk, "ts", 1);
    tm_wire_pack_kv_f64(pk, "score", 0);
    tm_wire_pack_kv_bool(pk, "alarm", 0);
    tm_wire_pack_kv_str(pk, "outputs", "flow");
}

static void s_many_values(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    tm_wire_pack_kv_str(pk, "asset", "a");
    tm_wire_pack_kv_u64(pk, "tick", 1);
    tm_wire_pack_kv_u64(pk, "ts", 1);
    tm_wire_pack_kv_f64(pk, "score", 0);
    tm_wire_pack_kv_bool(pk, "alarm", 0);
    tm_wire_pack_str(pk, "measured");
    msgpack_pack_map(pk, 40);
    for (int i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "s%d", i);
        tm_wire_pack_kv_f64(pk, name, i);
    }
}

static void test_output_malformed(void **state)
{
    (void)state;
    s_expect(s_no_alarm, TM_ERR_WIRE_FIELD);
    s_expect(s_tick_str, TM_ERR_WIRE_TYPE);
    s_expect(s_long_asset, TM_ERR_WIRE_FIELD);
    s_expect(s_array, TM_ERR_WIRE_TYPE);
    s_expect(s_bad_outputs, TM_ERR_WIRE_TYPE);
    s_expect(s_many_values, 0); /* extra entries are skipped */
    tm_outputs_t o;
    const uint8_t reserved[] = {0x81, 0xc1, 0x00};
    assert_int_equal(tm_outputs_decode(reserved, sizeof reserved, &o),
                     TM_ERR_WIRE_MALFORMED);
    assert_int_equal(tm_outputs_decode(NULL, 0, &o), TM_ERR_WIRE_TRUNCATED);
}

static void test_endpoints(void **state)
{
    (void)state;
    char out[64];
    const char *con = "tcp://10.0.1.5:7700";
    assert_int_equal(tm_outputs_endpoint("tcp://*:7801", con, out, sizeof out),
                     0);
    assert_string_equal(out, "tcp://10.0.1.5:7801");
    assert_int_equal(
        tm_outputs_endpoint("tcp://0.0.0.0:1", con, out, sizeof out), 0);
    assert_string_equal(out, "tcp://10.0.1.5:1");
    assert_int_equal(tm_outputs_endpoint("tcp://[::]:9", con, out, sizeof out),
                     0);
    assert_string_equal(out, "tcp://10.0.1.5:9");
    assert_int_equal(
        tm_outputs_endpoint("tcp://127.0.0.1:9", con, out, sizeof out), 0);
    assert_string_equal(out, "tcp://127.0.0.1:9");
    assert_int_equal(
        tm_outputs_endpoint("ipc:///run/t.sock", con, out, sizeof out), 0);
    assert_string_equal(out, "ipc:///run/t.sock");
    assert_int_equal(tm_outputs_endpoint("inproc://x", con, out, sizeof out),
                     TM_ERR_INVAL);
    assert_int_equal(tm_outputs_endpoint("tcp://host", con, out, sizeof out),
                     TM_ERR_INVAL);
    assert_int_equal(tm_outputs_endpoint("tcp://*:7801", con, out, 10),
                     TM_ERR_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_decode),
        cmocka_unit_test(test_output_malformed),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
