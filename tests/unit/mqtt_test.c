/* mqtt_test: MQTT topics, JSON payloads and broker addresses
 * (protocol/tm_mqtt_wire) - good ones, and hostile ones that must be
 * refused without crashing or reading past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_err.h"
#include "tm_mqtt_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NOW 1700000000123456789ull

/* ---- topics -------------------------------------------------------------- */

static void test_topic_good(void **state)
{
    (void)state;
    tm_telem_sample_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(tm_mqtt_topic_parse("plant/p1/flow", "plant", &s), 0);
    assert_string_equal(s.asset, "p1");
    assert_string_equal(s.signal, "flow");
    /* bytes the contract will judge (unknown asset), not the topic */
    assert_int_equal(
        tm_mqtt_topic_parse("plant/p\xc3\xbcmpe/t_motor", "plant", &s), 0);
    assert_string_equal(s.asset, "p\xc3\xbcmpe");
    assert_string_equal(s.signal, "t_motor");
    assert_int_equal(tm_mqtt_topic_parse("a/b/c", "a", &s), 0);
    assert_string_equal(s.asset, "b");
    assert_string_equal(s.signal, "c");
}

static void test_topic_limits(void **state)
{
    (void)state;
    tm_telem_sample_t s;
    char t[200];
    char asset[TM_TELEM_ASSET_MAX + 2];
    char signal[TM_TELEM_SIGNAL_MAX + 2];
    memset(asset, 'a', sizeof asset);
    memset(signal, 's', sizeof signal);
    /* the longest asset and signal */
    snprintf(t, sizeof t, "x/%.*s/%.*s", (int)TM_TELEM_ASSET_MAX, asset,
             (int)TM_TELEM_SIGNAL_MAX, signal);
    assert_int_equal(tm_mqtt_topic_parse(t, "x", &s), 0);
    assert_int_equal(strlen(s.asset), TM_TELEM_ASSET_MAX);
    assert_int_equal(strlen(s.signal), TM_TELEM_SIGNAL_MAX);
    /* one byte more of either */
    snprintf(t, sizeof t, "x/%.*s/f", (int)TM_TELEM_ASSET_MAX + 1, asset);
    assert_int_equal(tm_mqtt_topic_parse(t, "x", &s), TM_ERR_WIRE_FIELD);
    snprintf(t, sizeof t, "x/a/%.*s", (int)TM_TELEM_SIGNAL_MAX + 1, signal);
    assert_int_equal(tm_mqtt_topic_parse(t, "x", &s), TM_ERR_WIRE_FIELD);
}

static void test_topic_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "plant",
        "plant/",
        "plant/p1",
        "plant/p1/",
        "plant//flow",
        "plant///",
        "/p1/flow",
        "//p1/flow",
        "plan/p1/flow",
        "plantx/p1/flow",
        "Plant/p1/flow",
        "other/p1/flow",
        "$SYS/broker/uptime",
        "plant/p1/flow/extra",
        "plant/p1/flow/",
        "plant/p1/a/b/c/d/e/f",
        "plant/+/flow",
        "plant/p1/#",
        "plant/#",
        "plant/p\n1/flow",
        "plant/p1/fl\tow",
        "plant/p1/fl\x7fow",
        "plant/\x1b[2J/flow",
        " plant/p1/flow",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tm_telem_sample_t s;
        memset(&s, 0x5a, sizeof s);
        int rc = tm_mqtt_topic_parse(bad[i], "plant", &s);
        if (rc != TM_ERR_WIRE_FIELD) {
            fail_msg("topic '%s': %d", bad[i], rc);
        }
    }
    tm_telem_sample_t s;
    assert_int_equal(tm_mqtt_topic_parse(NULL, "plant", &s), TM_ERR_WIRE_FIELD);
    assert_int_equal(tm_mqtt_topic_parse("plant/p1/flow", NULL, &s),
                     TM_ERR_WIRE_FIELD);
    assert_int_equal(tm_mqtt_topic_parse("/p1/flow", "", &s),
                     TM_ERR_WIRE_FIELD);
}

/* Topics at and over MQTT's 65,535 bytes: the length is bounded before
 * anything is scanned. */
static void test_topic_huge(void **state)
{
    (void)state;
    tm_telem_sample_t s;
    size_t n = TM_MQTT_TOPIC_MAX + 100;
    char *t = malloc(n + 1);
    assert_non_null(t);
    memcpy(t, "plant/p1/", 9);
    memset(t + 9, 'f', n - 9);
    t[n] = '\0';
    assert_int_equal(tm_mqtt_topic_parse(t, "plant", &s),
                     TM_ERR_WIRE_TOO_LARGE);
    t[TM_MQTT_TOPIC_MAX] = '\0';
    assert_int_equal(tm_mqtt_topic_parse(t, "plant", &s), TM_ERR_WIRE_FIELD);
    /* a huge number of levels */
    for (size_t i = 0; i + 1 < TM_MQTT_TOPIC_MAX; i += 2) {
        t[i] = 'a';
        t[i + 1] = '/';
    }
    assert_int_equal(tm_mqtt_topic_parse(t, "a", &s), TM_ERR_WIRE_FIELD);
    free(t);
}

/* ---- payloads ------------------------------------------------------------ */

#define S_MAX_SEEN 8

typedef struct {
    size_t calls;
    size_t ok;
    int status[S_MAX_SEEN];
    tm_telem_sample_t s[S_MAX_SEEN];
} s_seen_t;

static void s_collect(void *arg, const tm_telem_sample_t *s, int status)
{
    s_seen_t *seen = arg;
    if (status == 0) {
        assert_non_null(s);
        seen->ok++;
    } else {
        assert_null(s);
    }
    if (seen->calls < S_MAX_SEEN) {
        seen->status[seen->calls] = status;
        if (s != NULL) {
            seen->s[seen->calls] = *s;
        }
    }
    seen->calls++;
}

static int s_decode(const char *json, s_seen_t *seen)
{
    tm_telem_sample_t topic;
    memset(&topic, 0, sizeof topic);
    memset(seen, 0, sizeof *seen);
    snprintf(topic.asset, sizeof topic.asset, "p1");
    snprintf(topic.signal, sizeof topic.signal, "flow");
    return tm_mqtt_decode(json, strlen(json), &topic, S_NOW, s_collect, seen);
}

static void test_payload_number(void **state)
{
    (void)state;
    s_seen_t seen;
    assert_int_equal(s_decode("42", &seen), 0);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.status[0], 0);
    assert_string_equal(seen.s[0].asset, "p1");
    assert_string_equal(seen.s[0].signal, "flow");
    assert_true(seen.s[0].value == 42.0);
    assert_true(seen.s[0].ts == S_NOW);
    assert_string_equal(seen.s[0].unit, "");
    assert_int_equal(s_decode(" -1.5e3\n", &seen), 0);
    assert_true(seen.s[0].value == -1500.0);
    assert_int_equal(s_decode("0", &seen), 0);
    assert_true(seen.s[0].value == 0.0);
}

static void test_payload_object(void **state)
{
    (void)state;
    s_seen_t seen;
    assert_int_equal(
        s_decode("{\"value\": 31.5, \"ts\": 1600000000000000000, "
                 "\"unit\": \"l/min\", \"quality\": [1, {\"x\": null}]}",
                 &seen),
        0);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.status[0], 0);
    assert_true(seen.s[0].value == 31.5);
    assert_true(seen.s[0].ts == 1600000000000000000ull);
    assert_string_equal(seen.s[0].unit, "l/min");
    assert_string_equal(seen.s[0].asset, "p1");
    /* ts and unit are optional */
    assert_int_equal(s_decode("{\"value\": 7}", &seen), 0);
    assert_true(seen.s[0].value == 7.0);
    assert_true(seen.s[0].ts == S_NOW);
    assert_string_equal(seen.s[0].unit, "");
    /* the largest ts JSON integers reach here */
    assert_int_equal(
        s_decode("{\"value\": 1, \"ts\": 9223372036854775807}", &seen), 0);
    assert_true(seen.s[0].ts == 9223372036854775807ull);
    assert_int_equal(s_decode("{\"value\": 1, \"ts\": 0}", &seen), 0);
    assert_true(seen.s[0].ts == 0);
}

static void test_payload_batch(void **state)
{
    (void)state;
    s_seen_t seen;
    assert_int_equal(s_decode("[{\"value\": 1, \"ts\": 10},"
                              " {\"value\": \"2\"},"
                              " {\"ts\": 5},"
                              " 3,"
                              " {\"value\": 2, \"ts\": -1},"
                              " {\"value\": 2, \"ts\": 1.5},"
                              " {\"value\": 2, \"unit\": \"\"},"
                              " {\"value\": 4, \"unit\": \"degC\"}]",
                              &seen),
                     0);
    assert_int_equal(seen.calls, 8);
    assert_int_equal(seen.ok, 2);
    assert_int_equal(seen.status[0], 0);
    assert_true(seen.s[0].value == 1.0 && seen.s[0].ts == 10);
    assert_int_equal(seen.status[1], TM_ERR_WIRE_TYPE);
    assert_int_equal(seen.status[2], TM_ERR_WIRE_FIELD);
    assert_int_equal(seen.status[3], TM_ERR_WIRE_TYPE);
    assert_int_equal(seen.status[4], TM_ERR_WIRE_FIELD);
    assert_int_equal(seen.status[5], TM_ERR_WIRE_TYPE);
    assert_int_equal(seen.status[6], TM_ERR_WIRE_FIELD);
    assert_int_equal(seen.status[7], 0);
    assert_string_equal(seen.s[7].unit, "degC");
    assert_true(seen.s[7].ts == S_NOW);
    /* samples of a batch do not inherit their neighbour's fields */
    assert_int_equal(s_decode("[{\"value\": 1, \"ts\": 10, \"unit\": \"bar\"}, "
                              "{\"value\": 2}]",
                              &seen),
                     0);
    assert_string_equal(seen.s[1].unit, "");
    assert_true(seen.s[1].ts == S_NOW);
    /* a unit of 15 bytes, then 16 */
    assert_int_equal(s_decode("[{\"value\": 1, \"unit\": \"0123456789abcde\"},"
                              " {\"value\": 1, \"unit\": \"0123456789abcdef\"},"
                              " {\"value\": 1, \"unit\": 5}]",
                              &seen),
                     0);
    assert_int_equal(seen.status[0], 0);
    assert_int_equal(seen.status[1], TM_ERR_WIRE_FIELD);
    assert_int_equal(seen.status[2], TM_ERR_WIRE_TYPE);
}

/* Payloads that are unreadable as a whole: refused once, fn never
 * called. */
static void test_payload_hostile(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int rc;
    } bad[] = {
        {"not json", TM_ERR_WIRE_MALFORMED},
        {"{\"value\": 1", TM_ERR_WIRE_MALFORMED},
        {"{\"value\": 1} {\"value\": 2}", TM_ERR_WIRE_MALFORMED},
        {"42 43", TM_ERR_WIRE_MALFORMED},
        {"{\"value\": 1, \"value\": 2}", TM_ERR_WIRE_MALFORMED},
        {"1e400", TM_ERR_WIRE_MALFORMED},
        {"NaN", TM_ERR_WIRE_MALFORMED},
        {"Infinity", TM_ERR_WIRE_MALFORMED},
        {"{\"value\": 1, \"ts\": 9223372036854775808}", TM_ERR_WIRE_MALFORMED},
        {"[{\"value\": 1}, ]", TM_ERR_WIRE_MALFORMED},
        {"{\"value\": 1, \"unit\": \"\xff\xfe\"}", TM_ERR_WIRE_MALFORMED},
        {"\"42\"", TM_ERR_WIRE_TYPE},
        {"true", TM_ERR_WIRE_TYPE},
        {"null", TM_ERR_WIRE_TYPE},
        {"[]", TM_ERR_WIRE_COUNT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_seen_t seen;
        int rc = s_decode(bad[i].json, &seen);
        if (rc != bad[i].rc || seen.calls != 0) {
            fail_msg("payload '%s': %d, %zu calls", bad[i].json, rc,
                     seen.calls);
        }
    }
    s_seen_t seen;
    tm_telem_sample_t topic;
    memset(&topic, 0, sizeof topic);
    assert_int_equal(tm_mqtt_decode("", 0, &topic, S_NOW, s_collect, &seen),
                     TM_ERR_WIRE_TRUNCATED);
    assert_int_equal(tm_mqtt_decode(NULL, 0, &topic, S_NOW, s_collect, &seen),
                     TM_ERR_WIRE_TRUNCATED);
    /* a NUL inside, and bytes after what looks like the end */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(tm_mqtt_decode("4\0"
                                    "2",
                                    3, &topic, S_NOW, s_collect, &seen),
                     TM_ERR_WIRE_MALFORMED);
    assert_int_equal(seen.calls, 0);
    /* the length is what counts, not a NUL: "42" of one byte is 4 */
    assert_int_equal(tm_mqtt_decode("42", 1, &topic, S_NOW, s_collect, &seen),
                     0);
    assert_true(seen.s[0].value == 4.0);
}

/* Deep nesting, the batch limit and the size limit. */
static void test_payload_big(void **state)
{
    (void)state;
    s_seen_t seen;
    tm_telem_sample_t topic;
    memset(&topic, 0, sizeof topic);
    size_t cap = TM_MQTT_PAYLOAD_MAX + 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    /* 100,000 opening brackets */
    memset(buf, '[', 100000);
    buf[100000] = '\0';
    assert_int_equal(s_decode(buf, &seen), TM_ERR_WIRE_MALFORMED);
    /* a batch of exactly the limit, then one more */
    size_t n = 0;
    buf[n++] = '[';
    for (size_t i = 0; i < TM_TELEM_BATCH_MAX; i++) {
        memcpy(buf + n, "{\"value\":1},", 12);
        n += 12;
    }
    buf[n - 1] = ']';
    assert_true(n <= TM_MQTT_PAYLOAD_MAX);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(tm_mqtt_decode(buf, n, &topic, S_NOW, s_collect, &seen),
                     0);
    assert_int_equal(seen.calls, TM_TELEM_BATCH_MAX);
    assert_int_equal(seen.ok, TM_TELEM_BATCH_MAX);
    memcpy(buf + n - 1, ",{\"value\":1}]", 13);
    n += 12;
    memset(&seen, 0, sizeof seen);
    assert_int_equal(tm_mqtt_decode(buf, n, &topic, S_NOW, s_collect, &seen),
                     TM_ERR_WIRE_COUNT);
    assert_int_equal(seen.calls, 0);
    /* one byte over the payload limit: refused before parsing */
    memset(buf, ' ', TM_MQTT_PAYLOAD_MAX + 1);
    buf[0] = '1';
    assert_int_equal(tm_mqtt_decode(buf, TM_MQTT_PAYLOAD_MAX + 1, &topic, S_NOW,
                                    s_collect, &seen),
                     TM_ERR_WIRE_TOO_LARGE);
    assert_int_equal(tm_mqtt_decode(buf, TM_MQTT_PAYLOAD_MAX, &topic, S_NOW,
                                    s_collect, &seen),
                     0);
    free(buf);
}

/* ---- broker addresses ---------------------------------------------------- */

static void test_broker_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host;
        unsigned port;
    } good[] = {
        {"127.0.0.1:1883", "127.0.0.1", 1883},
        {"mqtt://127.0.0.1:18830", "127.0.0.1", 18830},
        {"broker.site-a.example:1", "broker.site-a.example", 1},
        {"localhost", "localhost", 1883},
        {"mqtt://localhost", "localhost", 1883},
        {"[::1]:1884", "::1", 1884},
        {"[::1]", "::1", 1883},
        {"mqtt://[fe80::1]:65535", "fe80::1", 65535},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char host[TM_MQTT_HOST_MAX + 1];
        uint16_t port = 0;
        char why[128] = "";
        int rc = tm_mqtt_broker_parse(good[i].text, host, sizeof host, &port,
                                      why, sizeof why);
        if (rc != 0) {
            fail_msg("'%s': %s", good[i].text, why);
        }
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
}

static void test_broker_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "empty (give HOST:PORT)"},
        {"mqtts://h:8883", "only mqtt:// (MQTT over plain TCP) is supported"},
        {"tcp://h:1883", "only mqtt:// (MQTT over plain TCP) is supported"},
        {"h:0", "the port must be a number in 1..65535"},
        {"h:65536", "the port must be a number in 1..65535"},
        {"h:", "the port must be a number in 1..65535"},
        {"h:18x", "the port must be a number in 1..65535"},
        {"h:+1", "the port must be a number in 1..65535"},
        {"h:1/topic", "the port must be a number in 1..65535"},
        {":1883", "no host"},
        {"mqtt://", "no host"},
        {"[]:1", "no host"},
        {"::1:1883", "an IPv6 address goes in brackets: [::1]:1883"},
        {"[::1", "'[' without ']'"},
        {"[::1]x", "text after the address"},
        {"[g::1]:1", "not an IPv6 address"},
        {"h h:1", "the host may hold letters, digits, '-' and '.'"},
        {"h/x:1", "the host may hold letters, digits, '-' and '.'"},
        {"user@h:1", "the host may hold letters, digits, '-' and '.'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[TM_MQTT_HOST_MAX + 1] = "unchanged";
        uint16_t port = 7;
        char why[128] = "";
        int rc = tm_mqtt_broker_parse(bad[i].text, host, sizeof host, &port,
                                      why, sizeof why);
        if (rc != TM_ERR_INVAL || strcmp(why, bad[i].why) != 0) {
            fail_msg("'%s': %d '%s'", bad[i].text, rc, why);
        }
        assert_string_equal(host, "unchanged");
        assert_int_equal(port, 7);
    }
    char longhost[TM_MQTT_HOST_MAX + 8];
    memset(longhost, 'h', TM_MQTT_HOST_MAX + 1);
    longhost[TM_MQTT_HOST_MAX + 1] = '\0';
    char host[TM_MQTT_HOST_MAX + 1];
    uint16_t port = 0;
    char why[128];
    assert_int_equal(tm_mqtt_broker_parse(longhost, host, sizeof host, &port,
                                          why, sizeof why),
                     TM_ERR_INVAL);
    assert_string_equal(why, "host name too long");
    longhost[TM_MQTT_HOST_MAX] = '\0';
    assert_int_equal(tm_mqtt_broker_parse(longhost, host, sizeof host, &port,
                                          why, sizeof why),
                     0);
    assert_int_equal(port, 1883);
    assert_int_equal(
        tm_mqtt_broker_parse(NULL, host, sizeof host, &port, NULL, 0),
        TM_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_good),
        cmocka_unit_test(test_topic_limits),
        cmocka_unit_test(test_topic_hostile),
        cmocka_unit_test(test_topic_huge),
        cmocka_unit_test(test_payload_number),
        cmocka_unit_test(test_payload_object),
        cmocka_unit_test(test_payload_batch),
        cmocka_unit_test(test_payload_hostile),
        cmocka_unit_test(test_payload_big),
        cmocka_unit_test(test_broker_good),
        cmocka_unit_test(test_broker_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
