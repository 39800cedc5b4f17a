/* tm_replay: a replay's session - the node, its console, the telemetry and
 * outputs sockets, and what the outputs say about each row. The drivers
 * that decide what to send and when are in tm_replay_drive.c. */
#include "tm_replay_int.h"

#include "tm_err.h"
#include "tm_render.h" /* tm_render_to_json */
#include "tm_score.h"
#include "tm_sock.h"
#include "tm_time.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_GAP_MS      10000 /* between a run's progress items at most */
#define S_SUB_HWM     200000
#define S_TICK_EPS    1e-9
#define S_ROW_NS      1000000000LL
#define S_SPEED_MAX   1000.0
#define S_CHUNK_MSGS  5000 /* outputs of one chunk, well under a PUB's HWM */
#define S_PROBE_STEPS 50   /* single steps to see the probe's output */
#define S_PROBE_MS    200  /* wait for outputs after each */
#define S_LEAVE_MS    3000 /* each request that cleans up a running node */
/* Samples in one frame at most: under TM_TELEM_BATCH_MAX, and at under
 * 180 bytes a sample, under TM_TELEM_FRAME_MAX. */
#define S_BATCH_MAX 40000

void tmi_replay_log(tmi_replay_t *rp, const char *fmt, ...)
{
    if (rp->o->log == NULL) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(rp->o->log, "twinmesh-replay: ");
    vfprintf(rp->o->log, fmt, ap);
    fputc('\n', rp->o->log);
    va_end(ap);
    fflush(rp->o->log);
}

int tmi_replay_fail(tmi_replay_t *rp, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rp->err, rp->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static bool s_stopped(const tmi_replay_t *rp)
{
    return rp->o->stop != NULL && *rp->o->stop != 0;
}

/* ---- console ------------------------------------------------------------- */

/* "spawn skab-x --model ..." for messages, shortened. */
static void s_argv_text(int argc, const char *const *argv, char *buf,
                        size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && used + 1 < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? " " : "", argv[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

static int s_reply_error(tmi_replay_t *rp, const char *what,
                         const tm_client_reply_t *rep)
{
    return tmi_replay_fail(rp, rep->status, "'%s' refused by the node: %s (%s)",
                           what, rep->message ? rep->message : "", rep->error);
}

int tmi_replay_cmd(tmi_replay_t *rp, int argc, const char *const *argv,
                   json_t **body)
{
    char what[256];
    s_argv_text(argc, argv, what, sizeof what);
    if (body != NULL) {
        *body = NULL;
    }
    int rc = tm_client_send(rp->client, argc, argv);
    if (rc != 0) {
        return tmi_replay_fail(rp, rc, "cannot send '%s': %s", what,
                               tm_err_str(rc));
    }
    int timeout = rp->timeout_ms;
    for (;;) {
        tm_client_reply_t rep;
        rc = tm_client_recv(rp->client, timeout, rp->stop, &rep);
        if (rc == TM_ERR_CLOSED) {
            tm_client_cancel(rp->client);
            return tmi_replay_fail(rp, rc, "interrupted during '%s'", what);
        }
        if (rc != 0) {
            bool up = tm_client_connected(rp->client);
            tm_client_reset(rp->client);
            if (rc != TM_ERR_TIMEOUT) {
                return tmi_replay_fail(rp, rc, "'%s': bad reply from %s: %s",
                                       what, rp->console, tm_err_str(rc));
            }
            return tmi_replay_fail(rp, TM_ERR_NODE_DOWN,
                                   "no reply to '%s' from the node at %s "
                                   "within %g s (%s)",
                                   what, rp->console, timeout / 1000.0,
                                   up ? "it is up but busy" : "is it running?");
        }
        if (rep.status != 0) {
            rc = s_reply_error(rp, what, &rep);
        } else if (!rep.more && body != NULL && rep.body != NULL &&
                   tm_render_to_json(rep.body, rep.body_len, body) != 0) {
            rc = tmi_replay_fail(rp, TM_ERR_WIRE_MALFORMED,
                                 "'%s': malformed reply body", what);
        }
        bool more = rep.more;
        tm_client_reply_free(&rep);
        if (rc != 0 || !more) {
            return rc;
        }
        timeout = timeout > S_GAP_MS ? timeout : S_GAP_MS;
    }
}

static uint64_t s_json_u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        return (uint64_t)json_integer_value(v);
    }
    return 0;
}

static void s_json_str(json_t *o, const char *key, char *buf, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(buf, cap, "%s", s ? s : "");
}

int tmi_replay_stats(tmi_replay_t *rp, tmi_stats_t *st)
{
    static const char *const argv[] = {"stats"};
    json_t *b = NULL;
    memset(st, 0, sizeof *st);
    int rc = tmi_replay_cmd(rp, 1, argv, &b);
    if (rc != 0) {
        return rc;
    }
    json_t *h = json_object_get(b, "h");
    json_t *t = json_object_get(b, "telemetry");
    st->tick = s_json_u64(b, "tick");
    st->h = json_is_number(h) ? json_number_value(h) : 0;
    st->lag_s = json_number_value(json_object_get(b, "lag_s"));
    s_json_str(b, "clock", st->clock, sizeof st->clock);
    s_json_str(t, "endpoint", st->telemetry, sizeof st->telemetry);
    s_json_str(t, "outputs", st->outputs, sizeof st->outputs);
    st->received = s_json_u64(t, "received");
    st->accepted = s_json_u64(t, "accepted");
    json_t *rej = json_object_get(t, "rejected");
    if (json_is_object(rej)) {
        const char *k;
        json_t *v;
        json_object_foreach(rej, k, v)
        {
            st->rejected += json_is_integer(v) && json_integer_value(v) > 0
                                ? (uint64_t)json_integer_value(v)
                                : 0;
        }
        st->reasons = json_incref(rej);
    }
    json_decref(b);
    if (!(st->h > 0)) {
        return tmi_replay_fail(rp, TM_ERR_WIRE_FIELD,
                               "the node's stats have no tick step h");
    }
    rp->tick = st->tick;
    return 0;
}

void tmi_replay_stats_free(tmi_stats_t *st)
{
    json_decref(st->reasons);
    st->reasons = NULL;
}

int tmi_replay_clock(tmi_replay_t *rp, const char *mode)
{
    const char *argv[] = {"clock", mode};
    return tmi_replay_cmd(rp, 2, argv, NULL);
}

int tmi_replay_run_ticks(tmi_replay_t *rp, uint64_t ticks)
{
    char n[32];
    json_t *b = NULL;
    snprintf(n, sizeof n, "%" PRIu64, ticks);
    const char *argv[] = {"run", "--ticks", n};
    int rc = tmi_replay_cmd(rp, 3, argv, &b);
    if (rc == 0) {
        uint64_t t = s_json_u64(b, "tick");
        rp->tick = t > 0 ? t : rp->tick + ticks;
    }
    json_decref(b);
    return rc;
}

static int s_spawn(tmi_replay_t *rp, const char *id)
{
    char period[16];
    snprintf(period, sizeof period, "%" PRIu32, rp->period);
    const char *argv[] = {"spawn",         id,         "--model",
                          TM_REPLAY_MODEL, "--period", period};
    return tmi_replay_cmd(rp, 6, argv, NULL);
}

static int s_kill(tmi_replay_t *rp, const char *id)
{
    const char *argv[] = {"kill", id};
    return tmi_replay_cmd(rp, 2, argv, NULL);
}

int tmi_replay_retire(tmi_replay_t *rp)
{
    for (size_t i = 0; i < rp->n; i++) {
        tmi_rfile_t *rf = &rp->files[i];
        if (rf->spawned && rf->max_ts >= rf->ts[rf->f->rows - 1]) {
            int rc = s_kill(rp, rf->f->id);
            if (rc != 0) {
                return rc;
            }
            rf->spawned = false;
        }
    }
    return 0;
}

int tmi_replay_spawn_all(tmi_replay_t *rp)
{
    for (size_t i = 0; i < rp->n; i++) {
        tmi_rfile_t *rf = &rp->files[i];
        int rc = s_spawn(rp, rf->f->id);
        if (rc != 0) {
            return rc;
        }
        rf->spawned = true;
    }
    tmi_replay_log(rp, "spawned %zu %s twins (period %" PRIu32 " ticks)", rp->n,
                   TM_REPLAY_MODEL, rp->period);
    return 0;
}

/* The parameter set a calibration made: "paramset" in the body, else
 * "params@N" in the message. */
static uint64_t s_params_of(json_t *b, const char *message)
{
    uint64_t n = s_json_u64(b, "paramset");
    const char *at = message ? strstr(message, "params@") : NULL;
    if (n == 0 && at != NULL) {
        n = strtoull(at + 7, NULL, 10);
    }
    return n;
}

int tmi_replay_calibrate(tmi_replay_t *rp, tmi_rfile_t *rf, uint64_t steps)
{
    char window[24];
    json_t *b = NULL;
    snprintf(window, sizeof window, "%" PRIu64, steps);
    const char *argv[] = {"calibrate", rf->f->id, "--window", window};
    /* through the client itself: the reply's message and tick are wanted */
    int rc = tm_client_send(rp->client, 4, argv);
    tm_client_reply_t rep;
    memset(&rep, 0, sizeof rep);
    if (rc == 0) {
        rc = tm_client_recv(rp->client, rp->timeout_ms, rp->stop, &rep);
    }
    if (rc != 0) {
        tm_client_reset(rp->client);
        return tmi_replay_fail(rp, rc == TM_ERR_CLOSED ? rc : TM_ERR_NODE_DOWN,
                               "no reply to 'calibrate %s' from the node",
                               rf->f->id);
    }
    char what[128];
    snprintf(what, sizeof what, "calibrate %s --window %s", rf->f->id, window);
    if (rep.status != 0) {
        rc = s_reply_error(rp, what, &rep);
    } else if (rep.body != NULL) {
        tm_render_to_json(rep.body, rep.body_len, &b);
    }
    if (rc == 0) {
        rf->calibrated = true;
        rf->res->params = s_params_of(b, rep.message);
        tmi_replay_log(rp, "calibrate %s --window %s at tick %" PRIu64 ": %s",
                       rf->f->id, window, rep.tick,
                       rep.message ? rep.message : "");
    }
    json_decref(b);
    tm_client_reply_free(&rep);
    return rc;
}

/* ---- telemetry ----------------------------------------------------------- */

/* The 8 samples of one row of values under asset id, at time ts. */
static int s_queue(tmi_replay_t *rp, const char *id, uint64_t ts,
                   const double *v)
{
    if (rp->batch_n + TM_SKAB_SIGNALS > S_BATCH_MAX) {
        int rc = tmi_replay_flush(rp);
        if (rc != 0) {
            return rc;
        }
    }
    if (rp->batch_n + TM_SKAB_SIGNALS > rp->batch_cap) {
        size_t cap = rp->batch_cap ? 2 * rp->batch_cap : 1024;
        tm_telem_sample_t *b = realloc(rp->batch, cap * sizeof *b);
        if (b == NULL) {
            return tmi_replay_fail(rp, TM_ERR_NOMEM, "out of memory");
        }
        rp->batch = b;
        rp->batch_cap = cap;
    }
    for (size_t k = 0; k < TM_SKAB_SIGNALS; k++) {
        tm_telem_sample_t *s = &rp->batch[rp->batch_n++];
        snprintf(s->asset, sizeof s->asset, "%s", id);
        snprintf(s->signal, sizeof s->signal, "%s", tm_skab_signals[k].signal);
        snprintf(s->unit, sizeof s->unit, "%s", tm_skab_signals[k].unit);
        s->ts = ts;
        s->value = v[k];
    }
    return 0;
}

int tmi_replay_queue_row(tmi_replay_t *rp, tmi_rfile_t *rf)
{
    size_t r = rf->sent;
    int rc =
        s_queue(rp, rf->f->id, rf->ts[r], &rf->f->values[r * TM_SKAB_SIGNALS]);
    if (rc == 0) {
        rf->sent++;
    }
    return rc;
}

int tmi_replay_flush(tmi_replay_t *rp)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    if (rp->batch_n == 0) {
        return 0;
    }
    int rc = tm_telem_encode(rp->batch, rp->batch_n, 1, &frame, &len);
    if (rc != 0) {
        return tmi_replay_fail(rp, rc, "cannot encode a batch: %s",
                               tm_err_str(rc));
    }
    if (zmq_send(rp->push, frame, len, 0) < 0) {
        rc = tmi_replay_fail(
            rp, TM_ERR_NODE_DOWN, "the node does not take telemetry (%s)",
            errno == EAGAIN ? "send timed out" : zmq_strerror(errno));
    } else {
        rp->sent += rp->batch_n;
        rp->batch_n = 0;
    }
    free(frame);
    return rc;
}

int tmi_replay_wait_received(tmi_replay_t *rp)
{
    double deadline = tm_time_now() + rp->timeout_ms / 1000.0;
    useconds_t pause = 500;
    for (;;) {
        tmi_stats_t st;
        int rc = tmi_replay_stats(rp, &st);
        tmi_replay_stats_free(&st);
        if (rc != 0) {
            return rc;
        }
        uint64_t got = st.received - rp->base.received;
        if (got >= rp->sent) {
            return 0;
        }
        if (s_stopped(rp)) {
            return tmi_replay_fail(rp, TM_ERR_CLOSED, "interrupted");
        }
        if (tm_time_now() > deadline) {
            return tmi_replay_fail(
                rp, TM_ERR_TIMEOUT,
                "the node received %" PRIu64 " of the %" PRIu64
                " samples sent within %g s (telemetry endpoint %s)",
                got, rp->sent, rp->timeout_ms / 1000.0, rp->base.telemetry);
        }
        usleep(pause);
        pause = pause < 32000 ? pause * 2 : pause;
    }
}

int tmi_replay_probe(tmi_replay_t *rp)
{
    snprintf(rp->probe, sizeof rp->probe, "replay-probe-%ld", (long)getpid());
    int rc = s_spawn(rp, rp->probe);
    rp->probe_live = rc == 0;
    /* a node publishes a twin's steps once it has had a sample: the first
     * row of the first file, under the probe's id */
    const tm_skab_file_t *f = rp->files[0].f;
    rc = rc == 0 ? s_queue(rp, rp->probe, (uint64_t)f->ts[0], f->values) : rc;
    rc = rc == 0 ? tmi_replay_flush(rp) : rc;
    rc = rc == 0 ? tmi_replay_wait_received(rp) : rc;
    for (int i = 0; rc == 0 && !rp->probe_seen; i++) {
        if (i == S_PROBE_STEPS) {
            rc = tmi_replay_fail(rp, TM_ERR_TIMEOUT,
                                 "no twin output arrived from the node's "
                                 "outputs endpoint %s in %d steps",
                                 rp->base.outputs, S_PROBE_STEPS);
            break;
        }
        rc = tmi_replay_run_ticks(rp, rp->period);
        if (rc == 0) {
            tmi_replay_poll(rp, S_PROBE_MS);
        }
    }
    if (rc == 0) {
        rc = s_kill(rp, rp->probe);
        rp->probe_live = rc != 0;
    }
    while (tmi_replay_poll(rp, 0) > 0) {
        /* the probe's last outputs */
    }
    return rc;
}

/* ---- outputs ------------------------------------------------------------- */

static tmi_rfile_t *s_find(tmi_replay_t *rp, const char *asset)
{
    size_t lo = 0;
    size_t hi = rp->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        tmi_rfile_t *rf = &rp->files[rp->by_id[mid]];
        int c = strcmp(asset, rf->f->id);
        if (c == 0) {
            return rf;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* The row whose sent ts is ts, or -1. */
static int64_t s_row_of(const tmi_rfile_t *rf, uint64_t ts)
{
    size_t lo = 0;
    size_t hi = rf->f->rows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rf->ts[mid] == ts) {
            return (int64_t)mid;
        }
        if (rf->ts[mid] < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

static void s_trace(tmi_replay_t *rp, int64_t row, const tm_outputs_t *o)
{
    tm_replay_trace_t *t = &rp->res->trace[row];
    t->have = true;
    t->alarm = o->alarm;
    t->score = o->score;
    t->params = o->params;
    for (size_t k = 0; k < TM_SKAB_SIGNALS; k++) {
        const char *sig = tm_skab_signals[k].signal;
        t->measured[k] = tm_outputs_value(&o->measured, sig);
        t->predicted[k] = tm_outputs_value(&o->outputs, sig);
        t->sd[k] = tm_outputs_value(&o->uncertainty, sig);
    }
}

static void s_output(tmi_replay_t *rp, const tm_outputs_t *o)
{
    tmi_rfile_t *rf = s_find(rp, o->asset);
    rp->res->outputs++;
    if (rf == NULL) {
        rp->probe_seen |= strcmp(o->asset, rp->probe) == 0;
        rp->res->unmatched++; /* the probe, or another asset on that node */
        return;
    }
    if (!rf->seen || o->tick > rf->last_tick) {
        rf->last_tick = o->tick;
    }
    rf->seen = true;
    if (o->ts == 0) {
        rp->res->unmatched++; /* stepped before its first sample */
        return;
    }
    rf->max_ts = o->ts > rf->max_ts ? o->ts : rf->max_ts;
    /* the asset's time axis: ts = ts(row 0) + (tick - k0) h */
    double d = (double)((int64_t)(o->ts - rf->ts[0])) / 1e9;
    rf->k0 = (int64_t)o->tick - llround(d / rp->h);
    rf->k0_seen = true;
    int64_t row = s_row_of(rf, o->ts);
    if (row < 0) {
        rp->res->unmatched++; /* a step between rows (a gap in the file) */
        return;
    }
    tm_replay_file_t *fr = rf->res;
    fr->alarm[row] = o->alarm ? 1 : 0;
    if (o->params > 0 && (fr->calib_row < 0 || row < fr->calib_row)) {
        fr->calib_row = row;
    }
    if (rp->res->trace != NULL && rf == &rp->files[rp->o->trace]) {
        s_trace(rp, row, o);
    }
}

/* One message: topic, then the map. 1 if one was read. */
static int s_read_one(tmi_replay_t *rp)
{
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    int got = 0;
    if (zmq_msg_recv(&topic, rp->sub, ZMQ_DONTWAIT) >= 0) {
        got = 1;
        bool ok = zmq_msg_more(&topic) &&
                  zmq_msg_recv(&body, rp->sub, ZMQ_DONTWAIT) >= 0 &&
                  !zmq_msg_more(&body);
        while (zmq_msg_more(&body) || (!ok && zmq_msg_more(&topic))) {
            zmq_msg_close(&body); /* drop extra frames */
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, rp->sub, ZMQ_DONTWAIT) < 0) {
                break;
            }
            ok = false;
        }
        tm_outputs_t o;
        if (ok && tm_outputs_decode(zmq_msg_data(&body), zmq_msg_size(&body),
                                    &o) == 0) {
            s_output(rp, &o);
        } else {
            rp->res->malformed++;
        }
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return got;
}

int tmi_replay_poll(tmi_replay_t *rp, int timeout_ms)
{
    zmq_pollitem_t it = {rp->sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        return 0;
    }
    int n = 0;
    while (s_read_one(rp)) {
        n++;
    }
    return n;
}

/* ---- open and close ------------------------------------------------------ */

static int s_start_node(tmi_replay_t *rp)
{
    char tick[32];
    tm_nodeproc_opts_t no;
    memset(&no, 0, sizeof no);
    no.binary = rp->o->node_binary;
    no.self_exe = rp->o->self_exe;
    no.clock = "paused";
    /* realtime: one tick per row at 1/X s, see tm_replay.h */
    snprintf(tick, sizeof tick, "%.9g",
             rp->o->speed > 0 ? 1.0 / rp->o->speed : 1.0);
    no.tick = tick;
    int rc = tm_nodeproc_start(&rp->node, &no, rp->err, rp->errlen);
    if (rc == 0) {
        snprintf(rp->console, sizeof rp->console, "%s",
                 tm_nodeproc_console(rp->node));
        tmi_replay_log(rp, "started %s (console %s, --tick %s)",
                       tm_nodeproc_binary(rp->node), rp->console, tick);
    }
    return rc;
}

/* The tick step and period: M * h must be one row step. */
static int s_period(tmi_replay_t *rp)
{
    double row_s = (double)rp->row_ns / 1e9;
    rp->h = rp->base.h;
    double m = round(row_s / rp->h);
    if (m < 1 || m > 1e9 || fabs(m * rp->h - row_s) > S_TICK_EPS) {
        return tmi_replay_fail(
            rp, TM_ERR_UNSUPPORTED,
            "the node's tick step h = %g s does not divide the row step of "
            "%g s: rows could not fall on the twins' steps (use a node with "
            "h = 1/M s)",
            rp->h, row_s);
    }
    rp->period = (uint32_t)m;
    rp->res->h = rp->h;
    rp->res->period = rp->period;
    return 0;
}

static int s_sockets(tmi_replay_t *rp)
{
    char tel[TMI_EP_MAX];
    char out[TMI_EP_MAX];
    if (rp->base.telemetry[0] == '\0' || rp->base.outputs[0] == '\0') {
        return tmi_replay_fail(
            rp, TM_ERR_UNSUPPORTED,
            "the node at %s has no telemetry or outputs endpoint (its stats "
            "show none: start it with --telemetry and --outputs)",
            rp->console);
    }
    if (tm_outputs_endpoint(rp->base.telemetry, rp->console, tel, sizeof tel) !=
            0 ||
        tm_outputs_endpoint(rp->base.outputs, rp->console, out, sizeof out) !=
            0) {
        return tmi_replay_fail(rp, TM_ERR_INVAL,
                               "cannot use the node's endpoints %s and %s",
                               rp->base.telemetry, rp->base.outputs);
    }
    tm_sock_opts_t po = {TM_TELEM_FRAME_MAX, 0, -1, NULL, 0};
    tm_sock_opts_t so = {TM_OUTPUTS_SIZE_MAX, S_SUB_HWM, -1, NULL, 0};
    int rc =
        tm_sock_open(&rp->push, rp->zctx, ZMQ_PUSH, tel, TM_SOCK_CONNECT, &po);
    if (rc == 0) {
        rc = tm_sock_open(&rp->sub, rp->zctx, ZMQ_SUB, out, TM_SOCK_CONNECT,
                          &so);
    }
    if (rc != 0) {
        return tmi_replay_fail(rp, rc, "cannot connect to %s or %s: %s", tel,
                               out, tm_err_str(rc));
    }
    int ms = rp->timeout_ms;
    zmq_setsockopt(rp->push, ZMQ_SNDTIMEO, &ms, sizeof ms);
    zmq_setsockopt(rp->sub, ZMQ_SUBSCRIBE, "", 0);
    return 0;
}

static int s_open(tmi_replay_t *rp)
{
    int rc = 0;
    if (rp->o->console == NULL) {
        rc = s_start_node(rp);
    } else {
        snprintf(rp->console, sizeof rp->console, "%s", rp->o->console);
    }
    snprintf(rp->res->console, sizeof rp->res->console, "%s", rp->console);
    if (rc == 0 && (rc = tm_client_open(&rp->client, rp->console)) != 0) {
        return tmi_replay_fail(rp, rc, "cannot use console endpoint %s: %s",
                               rp->console, tm_err_str(rc));
    }
    if (rc == 0 && (rp->zctx = zmq_ctx_new()) == NULL) {
        return tmi_replay_fail(rp, TM_ERR_NOMEM, "no ZeroMQ context");
    }
    rc = rc == 0 ? tmi_replay_stats(rp, &rp->base) : rc;
    rc = rc == 0 ? s_period(rp) : rc;
    rc = rc == 0 ? s_sockets(rp) : rc;
    if (rc == 0 && strcmp(rp->base.clock, "paused") != 0) {
        rc = tmi_replay_clock(rp, "pause");
    }
    return rc;
}

/* Kill the twins spawned on someone's node, put its clock back. */
static void s_leave_node(tmi_replay_t *rp)
{
    char err[512];
    char *keep = rp->err;
    size_t keeplen = rp->errlen;
    rp->err = err; /* the first error stays the one reported */
    rp->errlen = sizeof err;
    for (size_t i = 0; i < rp->n; i++) {
        if (rp->files[i].spawned && s_kill(rp, rp->files[i].f->id) != 0) {
            tmi_replay_log(rp, "%s", err);
        }
    }
    if (rp->probe_live && s_kill(rp, rp->probe) != 0) {
        tmi_replay_log(rp, "%s", err);
    }
    const char *c = rp->base.clock;
    if (strcmp(c, "realtime") == 0 || strcmp(c, "fast") == 0) {
        tmi_replay_clock(rp, c);
    } else if (rp->o->speed > 0) {
        tmi_replay_clock(rp, "pause");
    }
    rp->err = keep;
    rp->errlen = keeplen;
}

static void s_close(tmi_replay_t *rp, int rc)
{
    if (rp->client != NULL && rp->node == NULL && rc != TM_ERR_NODE_DOWN) {
        /* after Ctrl-C too: a running node is left as it was found, with
         * a short patience */
        rp->stop = NULL;
        rp->timeout_ms =
            rp->timeout_ms < S_LEAVE_MS ? rp->timeout_ms : S_LEAVE_MS;
        s_leave_node(rp);
    }
    if (rp->node != NULL && rc != 0 && rp->o->log != NULL) {
        tmi_replay_log(rp, "the end of the node's log:");
        tm_nodeproc_log_tail(rp->node, rp->o->log, 20);
    }
    tm_sock_close(&rp->push);
    tm_sock_close(&rp->sub);
    if (rp->zctx != NULL) {
        zmq_ctx_term(rp->zctx);
        rp->zctx = NULL;
    }
    tm_client_destroy(&rp->client);
    if (rp->node != NULL && tm_nodeproc_stop(&rp->node) != 0) {
        tmi_replay_log(rp, "the node did not stop cleanly");
    }
    tmi_replay_stats_free(&rp->base);
    for (size_t i = 0; rp->files != NULL && i < rp->n; i++) {
        free(rp->files[i].step);
        free(rp->files[i].ts);
    }
    free(rp->files);
    free(rp->by_id);
    free(rp->batch);
}

/* ---- files --------------------------------------------------------------- */

static tmi_replay_t *s_sort_ctx;

static int s_cmp_id(const void *a, const void *b)
{
    const tmi_rfile_t *fa = &s_sort_ctx->files[*(const size_t *)a];
    const tmi_rfile_t *fb = &s_sort_ctx->files[*(const size_t *)b];
    return strcmp(fa->f->id, fb->f->id);
}

/* Row steps and the ts to send (compressed by the speed in realtime). */
static int s_rows(tmi_replay_t *rp, tmi_rfile_t *rf)
{
    const tm_skab_file_t *f = rf->f;
    rf->step = malloc(f->rows * sizeof *rf->step);
    rf->ts = malloc(f->rows * sizeof *rf->ts);
    if (rf->step == NULL || rf->ts == NULL) {
        return tmi_replay_fail(rp, TM_ERR_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < f->rows; r++) {
        rf->step[r] = (f->ts[r] - f->ts[0]) / S_ROW_NS;
        rf->ts[r] = (uint64_t)f->ts[0] + (uint64_t)(rf->step[r] * rp->row_ns);
    }
    rf->k0 = TMI_K0_UNKNOWN;
    return 0;
}

static int s_files(tmi_replay_t *rp, tm_skab_file_t *const *files, size_t n)
{
    tm_replay_result_t *res = rp->res;
    rp->n = n;
    rp->files = calloc(n, sizeof *rp->files);
    rp->by_id = calloc(n, sizeof *rp->by_id);
    res->files = calloc(n, sizeof *res->files);
    res->nfiles = n;
    if (rp->files == NULL || rp->by_id == NULL || res->files == NULL) {
        return tmi_replay_fail(rp, TM_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        tm_replay_file_t *fr = &res->files[i];
        fr->calib_row = -1;
        fr->alarm = malloc(files[i]->rows);
        if (fr->alarm == NULL) {
            return tmi_replay_fail(rp, TM_ERR_NOMEM, "out of memory");
        }
        memset(fr->alarm, -1, files[i]->rows);
        rp->files[i].f = files[i];
        rp->files[i].res = fr;
        rp->by_id[i] = i;
        int rc = s_rows(rp, &rp->files[i]);
        if (rc != 0) {
            return rc;
        }
    }
    s_sort_ctx = rp;
    qsort(rp->by_id, n, sizeof *rp->by_id, s_cmp_id);
    s_sort_ctx = NULL;
    if (rp->o->trace >= 0 && (size_t)rp->o->trace < n) {
        res->trace = calloc(files[rp->o->trace]->rows, sizeof *res->trace);
        if (res->trace == NULL) {
            return tmi_replay_fail(rp, TM_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static int s_check_opts(tmi_replay_t *rp, size_t n)
{
    double x = rp->o->speed;
    if (n == 0) {
        return tmi_replay_fail(rp, TM_ERR_INVAL, "no files to replay");
    }
    if (x < 0 || x > S_SPEED_MAX || !isfinite(x)) {
        return tmi_replay_fail(
            rp, TM_ERR_INVAL, "--speed must be in (0, %g] rows/s", S_SPEED_MAX);
    }
    rp->row_ns = S_ROW_NS;
    if (x > 0) {
        double ns = 1e9 / x;
        rp->row_ns = llround(ns);
        if (fabs(ns - (double)rp->row_ns) > 1e-6) {
            return tmi_replay_fail(rp, TM_ERR_INVAL,
                                   "--speed %g: 1 s / %g is not a whole "
                                   "number of ns (use 1, 2, 4, 5, 10, ...)",
                                   x, x);
        }
    }
    if (rp->o->window == 0) {
        return tmi_replay_fail(rp, TM_ERR_INVAL, "calibration window is 0");
    }
    return 0;
}

static void s_result(tmi_replay_t *rp, int rc)
{
    tmi_stats_t st;
    tm_replay_result_t *res = rp->res;
    res->sent = rp->sent;
    for (size_t i = 0; i < rp->n; i++) {
        tm_replay_file_t *fr = &res->files[i];
        for (size_t r = 0; r < rp->files[i].f->rows; r++) {
            fr->missing += fr->alarm[r] < 0;
        }
    }
    if (rc != 0 || tmi_replay_stats(rp, &st) != 0) {
        return;
    }
    res->received = st.received - rp->base.received;
    res->accepted = st.accepted - rp->base.accepted;
    res->rejected = st.rejected - rp->base.rejected;
    size_t used = 0;
    const char *k;
    json_t *v;
    json_object_foreach(st.reasons, k, v)
    {
        json_int_t was =
            json_integer_value(json_object_get(rp->base.reasons, k));
        json_int_t d = json_integer_value(v) - was;
        if (d > 0 && used < sizeof res->reasons) {
            int w = snprintf(res->reasons + used, sizeof res->reasons - used,
                             "%s%s %lld", used ? ", " : "", k, (long long)d);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    if (rp->o->speed > 0) {
        tmi_replay_log(rp, "realtime lag at the end: %.3f s", st.lag_s);
    }
    tmi_replay_stats_free(&st);
}

int tm_replay_run(tm_skab_file_t *const *files, size_t n,
                  const tm_replay_opts_t *o, tm_replay_result_t *res, char *err,
                  size_t errlen)
{
    tmi_replay_t rp;
    memset(&rp, 0, sizeof rp);
    memset(res, 0, sizeof *res);
    rp.o = o;
    rp.res = res;
    rp.err = err;
    rp.errlen = errlen;
    rp.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : TM_REPLAY_TIMEOUT_MS;
    rp.outputs_wait = rp.timeout_ms;
    rp.stop = o->stop;
    double t0 = tm_time_now();
    int rc = s_check_opts(&rp, n);
    rc = rc == 0 ? s_files(&rp, files, n) : rc;
    rc = rc == 0 ? s_open(&rp) : rc;
    if (rc == 0) {
        rc = o->speed > 0 ? tmi_replay_realtime(&rp) : tmi_replay_paused(&rp);
    }
    if (res->files != NULL) {
        s_result(&rp, rc);
    }
    res->elapsed_s = tm_time_now() - t0;
    s_close(&rp, rc);
    return rc;
}

void tm_replay_result_free(tm_replay_result_t *res)
{
    for (size_t i = 0; res->files != NULL && i < res->nfiles; i++) {
        free(res->files[i].alarm);
    }
    free(res->files);
    free(res->trace);
    memset(res, 0, sizeof *res);
}

uint32_t tmi_replay_chunk(const tmi_replay_t *rp)
{
    size_t c = S_CHUNK_MSGS / (rp->n ? rp->n : 1);
    return c > TM_REPLAY_CHUNK_STEPS ? TM_REPLAY_CHUNK_STEPS
                                     : (c < 1 ? 1 : (uint32_t)c);
}
