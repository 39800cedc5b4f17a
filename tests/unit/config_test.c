/* config_test: node settings - defaults, INI parsing (inih) with
 * FILE:LINE: [section] key messages, value checks, flag overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tm_config.h"
#include "tm_err.h"
#include "tm_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_load(tm_config_t *c, const char *text, char *err, size_t len)
{
    tm_config_defaults(c);
    return tm_config_load_string(c, text, "t.ini", err, len);
}

static void test_defaults(void **state)
{
    (void)state;
    tm_config_t c;
    tm_config_defaults(&c);
    assert_string_equal(c.name, "node-1");
    assert_string_equal(c.site, "local");
    assert_string_equal(c.data, "./twinmesh-data");
    assert_string_equal(c.endpoint, "tcp://127.0.0.1:7700");
    assert_int_equal(c.clock, TM_CLOCK_REALTIME);
    assert_int_equal(c.workers, 0);
    assert_true(c.tick == 0.05);
    assert_int_equal(c.checkpoint, 100);
    assert_int_equal(c.seed, 1);
    assert_int_equal(c.log_level, TM_LOG_INFO);
    assert_int_equal(c.audit_retention, 1000000);
    assert_int_equal(c.audit_days, 0);
}

static void test_full_file(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    const char *text = "; comment\n"
                       "# another\n"
                       "[node]\n"
                       "name = node-a\n"
                       "site=plant_1\n"
                       "data = /var/lib/x ; inline comment\n"
                       "workers = 3\n"
                       "tick = 0.01\n"
                       "clock = fast\n"
                       "checkpoint = 0\n"
                       "seed = 0x10\n"
                       "log = warn\n"
                       "\n"
                       "[console]\n"
                       "endpoint = tcp://0.0.0.0:9000\n"
                       "[audit]\n"
                       "retention = 5000\n"
                       "retention_days = 30\n";
    assert_int_equal(s_load(&c, text, err, sizeof err), 0);
    assert_string_equal(c.name, "node-a");
    assert_string_equal(c.site, "plant_1");
    assert_string_equal(c.data, "/var/lib/x");
    assert_int_equal(c.workers, 3);
    assert_true(c.tick == 0.01);
    assert_int_equal(c.clock, TM_CLOCK_FAST);
    assert_int_equal(c.checkpoint, 0);
    assert_int_equal(c.seed, 16);
    assert_int_equal(c.log_level, TM_LOG_WARN);
    assert_string_equal(c.endpoint, "tcp://0.0.0.0:9000");
    assert_int_equal(c.audit_retention, 5000);
    assert_int_equal(c.audit_days, 30);
}

static void test_partial_keeps_defaults(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(s_load(&c, "[node]\nname = x\n", err, sizeof err), 0);
    assert_string_equal(c.name, "x");
    assert_string_equal(c.endpoint, "tcp://127.0.0.1:7700");
    assert_int_equal(s_load(&c, "", err, sizeof err), 0);
    assert_string_equal(c.name, "node-1");
}

/* Each bad file fails with TM_ERR_CONFIG and this exact message. */
static void test_errors_name_file_line_key(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[node]\ncolour = red\n",
         "t.ini:2: [node] colour: unknown key (known: name, site, data, "
         "workers, tick, clock, checkpoint, seed, log)"},
        {"[node]\nname = a\n[cluster]\npeers = x\n",
         "t.ini:4: [cluster] peers: unknown section (known: [node], "
         "[console], [mesh], [telemetry], [audit], [supervisor], "
         "[supervisor.FAMILY])"},
        {"[supervisor]\nmax_restarts = 16\n",
         "t.ini:2: [supervisor] max_restarts: '16' is not a number of "
         "faults (0 to 15)"},
        {"[supervisor.pump]\nrestart_window = 0\n",
         "t.ini:2: [supervisor.pump] restart_window: '0' is not a number of "
         "ticks (1 to 1000000)"},
        {"[supervisor.pump]\nresidual_limit = -1\n",
         "t.ini:2: [supervisor.pump] residual_limit: '-1' is not a number of "
         "standard deviations (0 = no residual checks, <= 10^6)"},
        {"[supervisor]\nresidual_limit = nan\n",
         "t.ini:2: [supervisor] residual_limit: 'nan' is not a number of "
         "standard deviations (0 = no residual checks, <= 10^6)"},
        {"[supervisor]\nbudget_steps = 0\n",
         "t.ini:2: [supervisor] budget_steps: '0' is not a number of checks "
         "(1 to 1000000)"},
        {"[supervisor]\nstep_budget = 1.5\n",
         "t.ini:2: [supervisor] step_budget: '1.5' is not a number of "
         "microseconds per actor step (0 = no budget, <= 10^9)"},
        {"[supervisor]\nresidual = 3\n",
         "t.ini:2: [supervisor] residual: unknown key (known: promote_after, "
         "max_restarts, restart_window, residual_limit, residual_steps, "
         "step_budget, budget_steps, replay)"},
        {"[supervisor.pump]\nresidual = 3\n",
         "t.ini:2: [supervisor.pump] residual: unknown key (known: "
         "promote_after, max_restarts, restart_window, residual_limit, "
         "residual_steps, step_budget, budget_steps)"},
        {"[supervisor.pump]\nreplay = a.json\n",
         "t.ini:2: [supervisor.pump] replay: replay is a key of [supervisor] "
         "only"},
        {"[supervisor]\nreplay = a.json\nreplay = b.json\n",
         "t.ini:3: [supervisor] replay: given twice (first on line 2)"},
        {"[supervisor.a b]\npromote_after = 1\n",
         "t.ini:2: [supervisor.a b] promote_after: 'a b' is not a model "
         "family name"},
        {"[supervisor.pump]\npromote_after = 1\npromote_after = 2\n",
         "t.ini:3: [supervisor.pump] promote_after: given twice (first on "
         "line 2)"},
        {"[audit]\nretention = 0\n",
         "t.ini:2: [audit] retention: '0' is not a number of audit records "
         "to keep (1 to 10^12)"},
        {"[audit]\nretention_days = 36501\n",
         "t.ini:2: [audit] retention_days: '36501' is not a number of days "
         "(0 = no age limit, at most 36500)"},
        {"[audit]\nkeep = 3\n",
         "t.ini:2: [audit] keep: unknown key (known: retention, "
         "retention_days)"},
        {"[telemetry]\nwindow = -1\n",
         "t.ini:2: [telemetry] window: '-1' is not a window for late "
         "samples (seconds, 0 to 3600)"},
        {"[telemetry]\nhorizon = 1\n",
         "t.ini:2: [telemetry] horizon: '1' is not a number of steps (2 to "
         "4096)"},
        {"[telemetry]\nendpoint = inproc://x\n",
         "t.ini:2: [telemetry] endpoint: 'inproc://x' is not a usable "
         "endpoint: "
         "use tcp://HOST:PORT "
         "or ipc://PATH (inproc:// and other transports reach no other "
         "process) (e.g. tcp://127.0.0.1:7600)"},
        {"[telemetry]\nports = 1\n",
         "t.ini:2: [telemetry] ports: unknown key (known: endpoint, outputs, "
         "window, horizon, history, mqtt, mqtt_id)"},
        {"[telemetry]\nmqtt = mqtts://b:8883\n",
         "t.ini:2: [telemetry] mqtt: 'mqtts://b:8883' is not an MQTT broker: "
         "only mqtt:// (MQTT over plain TCP) is supported (e.g. "
         "127.0.0.1:1883 or mqtt://broker.example:1883)"},
        {"[telemetry]\nmqtt = 127.0.0.1:0\n",
         "t.ini:2: [telemetry] mqtt: '127.0.0.1:0' is not an MQTT broker: the "
         "port must be a number in 1..65535 (e.g. 127.0.0.1:1883 or "
         "mqtt://broker.example:1883)"},
        {"[telemetry]\nmqtt = ::1:1883\n",
         "t.ini:2: [telemetry] mqtt: '::1:1883' is not an MQTT broker: an "
         "IPv6 address goes in brackets: [::1]:1883 (e.g. 127.0.0.1:1883 or "
         "mqtt://broker.example:1883)"},
        {"[telemetry]\nmqtt =\n",
         "t.ini:2: [telemetry] mqtt: '' is not an MQTT broker: empty (give "
         "HOST:PORT) (e.g. 127.0.0.1:1883 or mqtt://broker.example:1883)"},
        {"[telemetry]\nmqtt_id = node a\n",
         "t.ini:2: [telemetry] mqtt_id: 'node a' is not an MQTT client id "
         "(1-128 letters, digits, '_' or '-')"},
        {"[telemetry]\nmqtt = 127.0.0.1:1883\nmqtt = 127.0.0.1:1884\n",
         "t.ini:3: [telemetry] mqtt: given twice (first on line 2)"},
        {"[mesh]\npeers = x\n",
         "t.ini:2: [mesh] peers: unknown key (known: endpoint, peer, "
         "heartbeat, suspect, dead, wait, replicas, standby, etcd, "
         "lease_ttl, etcd_prefix, failover)"},
        {"[mesh]\netcd = 127.0.0.1:2379\n",
         "t.ini:2: [mesh] etcd: '127.0.0.1:2379' is not a list of etcd "
         "endpoints (http://HOST:PORT, comma-separated)"},
        {"[mesh]\nlease_ttl = 1\n",
         "t.ini:2: [mesh] lease_ttl: '1' is not a lease TTL in seconds (2 to "
         "3600)"},
        {"[mesh]\netcd_prefix = twinmesh\n",
         "t.ini:2: [mesh] etcd_prefix: 'twinmesh' is not a key prefix (it "
         "starts with '/', at most 128 bytes, no spaces)"},
        {"[mesh]\nfailover = sometimes\n",
         "t.ini:2: [mesh] failover: 'sometimes' is not a failover mode "
         "(manual or auto)"},
        {"[mesh]\nreplicas = 2\n",
         "t.ini:2: [mesh] replicas: '2' is not a number of standby copies (0 "
         "or 1)"},
        {"[mesh]\nstandby = b c\n",
         "t.ini:2: [mesh] standby: 'b c' is not a node name (1-64 letters, "
         "digits, '_' or '-')"},
        {"[mesh]\npeer = tcp://127.0.0.1:0\n",
         "t.ini:2: [mesh] peer: 'tcp://127.0.0.1:0' is not a usable "
         "endpoint: the port must be in 1..65535 (e.g. tcp://127.0.0.1:7800)"},
        {"[mesh]\nendpoint = tcp://127.0.0.1:0\n",
         "t.ini:2: [mesh] endpoint: a mesh endpoint is the address peers "
         "dial: give a host and a fixed port"},
        {"[mesh]\nsuspect = 0\n",
         "t.ini:2: [mesh] suspect: '0' is not a number of missed heartbeats "
         "(1 to 1000)"},
        {"[mesh]\nheartbeat = 0.001\n",
         "t.ini:2: [mesh] heartbeat: '0.001' is not a heartbeat interval "
         "(seconds, 0.01 to 60)"},
        {"name = a\n",
         "t.ini:1: name: key outside a section (put it under [node])"},
        {"[node]\nworkers = 65\n",
         "t.ini:2: [node] workers: '65' is not a worker count (0 = one per "
         "core, at most 64)"},
        {"[node]\nworkers = -1\n",
         "t.ini:2: [node] workers: '-1' is not a worker count (0 = one per "
         "core, at most 64)"},
        {"[node]\ntick = 0\n",
         "t.ini:2: [node] tick: '0' is not a tick step (seconds, > 0 and <= "
         "3600)"},
        {"[node]\ntick = nan\n",
         "t.ini:2: [node] tick: 'nan' is not a tick step (seconds, > 0 and "
         "<= 3600)"},
        {"[node]\nclock = soon\n",
         "t.ini:2: [node] clock: 'soon' is not a clock mode (realtime, fast "
         "or paused)"},
        {"[node]\ncheckpoint = 10x\n",
         "t.ini:2: [node] checkpoint: '10x' is not a checkpoint interval "
         "(ticks, 0 = only at exit)"},
        {"[node]\nseed = 18446744073709551616\n",
         "t.ini:2: [node] seed: '18446744073709551616' is not a seed "
         "(unsigned 64-bit integer)"},
        {"[node]\nname = a b\n",
         "t.ini:2: [node] name: 'a b' is not a valid name (1-64 letters, "
         "digits, '_' or '-')"},
        {"[node]\nlog = loud\n",
         "t.ini:2: [node] log: 'loud' is not a log level (debug, info, "
         "warn, error, off)"},
        {"[console]\nendpoint = 7700\n",
         "t.ini:2: [console] endpoint: '7700' is not a ZeroMQ endpoint "
         "(e.g. tcp://127.0.0.1:7700)"},
        {"[console]\nendpoint = inproc://x\n",
         "t.ini:2: [console] endpoint: 'inproc://x' is not a usable "
         "endpoint: use tcp://HOST:PORT or ipc://PATH (inproc:// and other "
         "transports reach no other process) (e.g. tcp://127.0.0.1:7700)"},
        {"[console]\nendpoint = tcp://127.0.0.1:99999\n",
         "t.ini:2: [console] endpoint: 'tcp://127.0.0.1:99999' is not a "
         "usable endpoint: the port must be in 0..65535 (e.g. "
         "tcp://127.0.0.1:7700)"},
        {"[console]\nendpoint = tcp://127.0.0.1:+80\n",
         "t.ini:2: [console] endpoint: 'tcp://127.0.0.1:+80' is not a "
         "usable endpoint: the port must be a number (e.g. "
         "tcp://127.0.0.1:7700)"},
        {"[console]\nport = 1\n",
         "t.ini:2: [console] port: unknown key (known: endpoint)"},
        {"[node]\nname = a\nthis is not ini\n",
         "t.ini:3: syntax error (expected [section], key = value or a "
         "comment)"},
        {"[node\n", "t.ini:1: syntax error (expected [section], key = "
                    "value or a comment)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_config_t c;
        char err[512] = "";
        assert_int_equal(s_load(&c, cases[i].text, err, sizeof err),
                         TM_ERR_CONFIG);
        assert_string_equal(err, cases[i].msg);
    }
}

/* [supervisor] sets every family's thresholds, [supervisor.FAMILY]
 * overrides the keys it sets; at most 16 families. */
static void test_supervisor(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(s_load(&c, "[node]\nname = a\n", err, sizeof err), 0);
    tm_config_sup_t d = tm_config_sup(&c, "pump");
    assert_int_equal(d.promote_after, 50);
    assert_int_equal(d.max_restarts, 3);
    assert_int_equal(d.restart_window, 100);
    assert_int_equal(s_load(&c,
                            "[supervisor.pump]\nmax_restarts = 0\n"
                            "[supervisor]\npromote_after = 7\n"
                            "restart_window = 9\n",
                            err, sizeof err),
                     0);
    d = tm_config_sup(&c, "pump");
    assert_int_equal(d.promote_after, 7); /* from [supervisor], given later */
    assert_int_equal(d.max_restarts, 0);
    assert_int_equal(d.restart_window, 9);
    assert_string_equal(d.family, "pump");
    d = tm_config_sup(&c, "tank");
    assert_int_equal(d.max_restarts, 3);
    /* residual checks and step budgets: off by default, per family */
    assert_true(d.residual_limit == 0.0);
    assert_int_equal(d.residual_steps, 10);
    assert_int_equal(d.step_budget, 0);
    assert_int_equal(d.budget_steps, 3);
    assert_int_equal(s_load(&c,
                            "[supervisor]\nresidual_steps = 4\n"
                            "step_budget = 100\n"
                            "[supervisor.pumpmon]\nresidual_limit = 6.5\n"
                            "budget_steps = 2\nstep_budget = 0\n",
                            err, sizeof err),
                     0);
    d = tm_config_sup(&c, "pumpmon");
    assert_true(d.residual_limit == 6.5);
    assert_int_equal(d.residual_steps, 4);
    assert_int_equal(d.step_budget, 0);
    assert_int_equal(d.budget_steps, 2);
    d = tm_config_sup(&c, "pump");
    assert_true(d.residual_limit == 0.0);
    assert_int_equal(d.step_budget, 100);
    assert_string_equal(c.replay, "");
    assert_int_equal(
        s_load(&c, "[supervisor]\nreplay = /var/tmp/a.json\n", err, sizeof err),
        0);
    assert_string_equal(c.replay, "/var/tmp/a.json");
    char text[2048] = "";
    for (int i = 0; i < 17; i++) {
        char sec[64];
        snprintf(sec, sizeof sec, "[supervisor.f%d]\nmax_restarts = 1\n", i);
        strcat(text, sec);
    }
    assert_int_equal(s_load(&c, text, err, sizeof err), TM_ERR_CONFIG);
    assert_non_null(strstr(err, "more than 16 [supervisor.FAMILY] sections"));
}

/* The first error wins, whichever kind it is. */
static void test_first_error_wins(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(
        s_load(&c, "[node]\nnot ini\nworkers = x\n", err, sizeof err),
        TM_ERR_CONFIG);
    assert_non_null(strstr(err, "t.ini:2: syntax error"));
    assert_int_equal(
        s_load(&c, "[node]\nworkers = x\nnot ini\n", err, sizeof err),
        TM_ERR_CONFIG);
    assert_non_null(strstr(err, "t.ini:2: [node] workers"));
}

static void test_long_line(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    char text[1024];
    char path[600];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(text, sizeof text, "[node]\ndata = %s\nname = ok\n", path);
    assert_int_equal(s_load(&c, text, err, sizeof err), TM_ERR_CONFIG);
    assert_non_null(strstr(err, "t.ini:2: line longer than"));
}

static void test_file(void **state)
{
    (void)state;
    char path[256];
    const char *dir = getenv("TM_TEST_TMPDIR");
    snprintf(path, sizeof path, "%s/config_test_%ld.ini", dir ? dir : "/tmp",
             (long)getpid());
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        /* the tmp dir may not exist yet when run by hand */
        snprintf(path, sizeof path, "/tmp/config_test_%ld.ini", (long)getpid());
        f = fopen(path, "w");
    }
    assert_non_null(f);
    fputs("[node]\nname = file-node\n\n[console]\nendpoint = x\n", f);
    fclose(f);
    tm_config_t c;
    char err[512] = "";
    tm_config_defaults(&c);
    assert_int_equal(tm_config_load(&c, path, err, sizeof err), TM_ERR_CONFIG);
    char want[600];
    snprintf(want, sizeof want,
             "%s:5: [console] endpoint: 'x' is not a ZeroMQ endpoint (e.g. "
             "tcp://127.0.0.1:7700)",
             path);
    assert_string_equal(err, want);
    assert_string_equal(c.name, "file-node");
    unlink(path);
    assert_int_equal(tm_config_load(&c, path, err, sizeof err),
                     TM_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "cannot read config file"));
}

static void test_set_as_flags(void **state)
{
    (void)state;
    tm_config_t c;
    char why[256];
    tm_config_defaults(&c);
    assert_int_equal(
        tm_config_set(&c, "node", "clock", "pause", why, sizeof why), 0);
    assert_int_equal(c.clock, TM_CLOCK_PAUSED);
    assert_int_equal(
        tm_config_set(&c, "node", "workers", "64", why, sizeof why), 0);
    assert_int_equal(c.workers, 64);
    assert_int_equal(tm_config_set(&c, "node", "tick", "3601", why, sizeof why),
                     TM_ERR_CONFIG);
    assert_string_equal(why,
                        "'3601' is not a tick step (seconds, > 0 and <= 3600)");
    char longname[80];
    memset(longname, 'n', 65);
    longname[65] = '\0';
    assert_int_equal(
        tm_config_set(&c, "node", "name", longname, why, sizeof why),
        TM_ERR_CONFIG);
    longname[64] = '\0';
    assert_int_equal(
        tm_config_set(&c, "node", "name", longname, why, sizeof why), 0);
    assert_string_equal(c.name, longname);
}

static void test_clock_names(void **state)
{
    (void)state;
    tm_clock_t k;
    assert_int_equal(tm_clock_parse("realtime", &k), 0);
    assert_int_equal(k, TM_CLOCK_REALTIME);
    assert_int_equal(tm_clock_parse("paused", &k), 0);
    assert_int_equal(k, TM_CLOCK_PAUSED);
    assert_int_equal(tm_clock_parse("Fast", &k), TM_ERR_INVAL);
    assert_int_equal(tm_clock_parse(NULL, &k), TM_ERR_INVAL);
    assert_string_equal(tm_clock_name(TM_CLOCK_FAST), "fast");
    assert_string_equal(tm_clock_name(TM_CLOCK_PAUSED), "paused");
}

/* Integers are decimal (a leading 0 is not octal) or 0x hex; tick is a
 * decimal number. */
static void test_numbers(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(s_load(&c,
                            "[node]\ncheckpoint = 0100\nworkers = 010\n"
                            "seed = 0X1f\n",
                            err, sizeof err),
                     0);
    assert_int_equal(c.checkpoint, 100);
    assert_int_equal(c.workers, 10);
    assert_int_equal(c.seed, 31);
    assert_int_equal(s_load(&c, "[node]\ncheckpoint = 08\n", err, sizeof err),
                     0);
    assert_int_equal(c.checkpoint, 8);
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[node]\ntick = 0x1p-4\n",
         "t.ini:2: [node] tick: '0x1p-4' is not a tick step (seconds, > 0 "
         "and <= 3600)"},
        {"[node]\ntick = 1e-400\n",
         "t.ini:2: [node] tick: '1e-400' is not a tick step (seconds, > 0 "
         "and <= 3600)"},
        {"[node]\nseed = 0x\n",
         "t.ini:2: [node] seed: '0x' is not a seed (unsigned 64-bit "
         "integer)"},
        {"[node]\nseed = 0x1g\n",
         "t.ini:2: [node] seed: '0x1g' is not a seed (unsigned 64-bit "
         "integer)"},
        {"[node]\nseed = +1\n",
         "t.ini:2: [node] seed: '+1' is not a seed (unsigned 64-bit "
         "integer)"},
        {"[node]\ncheckpoint = 4294967296\n",
         "t.ini:2: [node] checkpoint: '4294967296' is not a checkpoint "
         "interval (ticks, 0 = only at exit)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(s_load(&c, cases[i].text, err, sizeof err),
                         TM_ERR_CONFIG);
        assert_string_equal(err, cases[i].msg);
    }

    uint64_t u = 0;
    double d = 0;
    assert_int_equal(tm_text_parse_u64("42", false, 0, 100, &u), 0);
    assert_int_equal(u, 42);
    assert_int_equal(tm_text_parse_u64("0x2a", false, 0, 100, &u),
                     TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_u64("0x2a", true, 0, 100, &u), 0);
    assert_int_equal(u, 42);
    assert_int_equal(tm_text_parse_u64("101", false, 0, 100, &u), TM_ERR_RANGE);
    assert_int_equal(
        tm_text_parse_u64("18446744073709551616", false, 0, UINT64_MAX, &u),
        TM_ERR_RANGE);
    assert_int_equal(
        tm_text_parse_u64("18446744073709551615", false, 0, UINT64_MAX, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(tm_text_parse_u64("", false, 0, 1, &u), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_u64(NULL, false, 0, 1, &u), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_u64("-1", false, 0, 1, &u), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_f64("-2.5e-3", &d), 0);
    assert_true(d == -2.5e-3);
    assert_int_equal(tm_text_parse_f64("1e400", &d), TM_ERR_RANGE);
    assert_int_equal(tm_text_parse_f64("-1e-400", &d), TM_ERR_RANGE);
    assert_int_equal(tm_text_parse_f64("0e-400", &d), 0);
    assert_true(d == 0);
    assert_int_equal(tm_text_parse_f64("inf", &d), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_f64("0x10", &d), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_f64(" 1", &d), TM_ERR_INVAL);
    assert_int_equal(tm_text_parse_f64("", &d), TM_ERR_INVAL);
}

/* [telemetry] mqtt and mqtt_id, from a file and as flags; the client id
 * defaults to twinmesh-<name>. */
/* [mesh] etcd, lease_ttl, etcd_prefix, failover: defaults and values. */
static void test_lease(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(s_load(&c, "", err, sizeof err), 0);
    assert_string_equal(c.etcd, "");
    assert_true(c.lease_ttl == 5.0);
    assert_string_equal(c.etcd_prefix, "/twinmesh/");
    assert_false(c.failover_auto);
    assert_int_equal(
        s_load(&c,
               "[mesh]\netcd = http://10.0.0.1:2379,https://10.0.0.2:2379\n"
               "lease_ttl = 2.5\netcd_prefix = /plant-7/\nfailover = auto\n",
               err, sizeof err),
        0);
    assert_string_equal(c.etcd, "http://10.0.0.1:2379,https://10.0.0.2:2379");
    assert_true(c.lease_ttl == 2.5);
    assert_string_equal(c.etcd_prefix, "/plant-7/");
    assert_true(c.failover_auto);
    assert_int_equal(s_load(&c, "[mesh]\nfailover = manual\n", err, sizeof err),
                     0);
    assert_false(c.failover_auto);
}

static void test_mqtt(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    char id[TM_CONFIG_MQTT_ID_MAX + 1];
    assert_int_equal(s_load(&c, "", err, sizeof err), 0);
    assert_string_equal(c.mqtt, "");
    assert_string_equal(c.mqtt_id, "");
    assert_int_equal(s_load(&c,
                            "[node]\nname = node-a\n[telemetry]\n"
                            "mqtt = mqtt://broker.site-a:1883\n",
                            err, sizeof err),
                     0);
    assert_string_equal(c.mqtt, "mqtt://broker.site-a:1883");
    assert_string_equal(tm_config_mqtt_id(&c, id, sizeof id),
                        "twinmesh-node-a");
    assert_int_equal(s_load(&c,
                            "[telemetry]\nmqtt = [::1]:18830\n"
                            "mqtt_id = gateway_7\n",
                            err, sizeof err),
                     0);
    assert_string_equal(c.mqtt, "[::1]:18830");
    assert_string_equal(tm_config_mqtt_id(&c, id, sizeof id), "gateway_7");
    /* --mqtt goes through the same check */
    char why[256];
    assert_int_equal(
        tm_config_set(&c, "telemetry", "mqtt", "localhost", why, sizeof why),
        0);
    assert_string_equal(c.mqtt, "localhost");
    assert_int_equal(
        tm_config_set(&c, "telemetry", "mqtt", "h:99999", why, sizeof why),
        TM_ERR_CONFIG);
    assert_string_equal(why,
                        "'h:99999' is not an MQTT broker: the port must be a "
                        "number in 1..65535 (e.g. 127.0.0.1:1883 or "
                        "mqtt://broker.example:1883)");
    assert_string_equal(c.mqtt, "localhost");
    char longid[TM_CONFIG_MQTT_ID_MAX + 2];
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(
        tm_config_set(&c, "telemetry", "mqtt_id", longid, why, sizeof why),
        TM_ERR_CONFIG);
    longid[TM_CONFIG_MQTT_ID_MAX] = '\0';
    assert_int_equal(
        tm_config_set(&c, "telemetry", "mqtt_id", longid, why, sizeof why), 0);
    /* the longest node name still makes a valid default id */
    memset(c.name, 'n', TM_CONFIG_NAME_MAX);
    c.name[TM_CONFIG_NAME_MAX] = '\0';
    c.mqtt_id[0] = '\0';
    assert_int_equal(strlen(tm_config_mqtt_id(&c, id, sizeof id)),
                     9 + TM_CONFIG_NAME_MAX);
}

/* Every known key in one file, then one of them again: the repeat is
 * still seen after the first twenty keys. */
static void test_every_key_twice(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    const char *text = "[node]\nname = a\nsite = b\ndata = d\nworkers = 1\n"
                       "tick = 0.1\nclock = fast\ncheckpoint = 5\nseed = 2\n"
                       "log = warn\n"
                       "[console]\nendpoint = tcp://127.0.0.1:1\n"
                       "[mesh]\nendpoint = tcp://127.0.0.1:2\n"
                       "peer = tcp://127.0.0.1:3\npeer = tcp://127.0.0.1:4\n"
                       "heartbeat = 0.5\nsuspect = 2\ndead = 4\nwait = 1\n"
                       "[telemetry]\nendpoint = tcp://127.0.0.1:5\n"
                       "outputs = tcp://127.0.0.1:6\nwindow = 1\n"
                       "horizon = 8\nhistory = 32\nmqtt = 127.0.0.1:7\n"
                       "mqtt_id = x\n";
    assert_int_equal(s_load(&c, text, err, sizeof err), 0);
    assert_int_equal(c.n_peers, 2);
    assert_string_equal(c.mqtt_id, "x");
    char twice[2048];
    snprintf(twice, sizeof twice, "%smqtt_id = y\n", text);
    assert_int_equal(s_load(&c, twice, err, sizeof err), TM_ERR_CONFIG);
    assert_string_equal(
        err, "t.ini:29: [telemetry] mqtt_id: given twice (first on line 28)");
}

/* A key given twice in a file is refused, naming both lines: the first
 * value would otherwise be lost without a word. A section may reopen. */
static void test_key_twice(void **state)
{
    (void)state;
    tm_config_t c;
    char err[512] = "";
    assert_int_equal(s_load(&c, "[node]\ntick = 0.1\nname = a\ntick = 0.2\n",
                            err, sizeof err),
                     TM_ERR_CONFIG);
    assert_string_equal(err,
                        "t.ini:4: [node] tick: given twice (first on line 2)");
    assert_int_equal(s_load(&c,
                            "[node]\nname = a\n[console]\nendpoint = "
                            "tcp://127.0.0.1:1\n[node]\nsite = b\n",
                            err, sizeof err),
                     0);
    assert_string_equal(c.name, "a");
    assert_string_equal(c.site, "b");
    assert_int_equal(s_load(&c,
                            "[console]\nendpoint = tcp://a:1\n[console]\n"
                            "endpoint = tcp://b:1\n",
                            err, sizeof err),
                     TM_ERR_CONFIG);
    assert_string_equal(
        err, "t.ini:4: [console] endpoint: given twice (first on line 2)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_partial_keeps_defaults),
        cmocka_unit_test(test_errors_name_file_line_key),
        cmocka_unit_test(test_supervisor),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_set_as_flags),
        cmocka_unit_test(test_clock_names),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_key_twice),
        cmocka_unit_test(test_mqtt),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_every_key_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
