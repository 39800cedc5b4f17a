/* replay_fake.h: a fake node for replay_test, written from
 * docs/protocol.md section 8 and docs/console.md: a console ROUTER that
 * answers stats, spawn, clock, run, calibrate and kill; a telemetry PULL
 * socket that anchors each asset's time axis on its first sample, assigns
 * samples to steps and rejects late and early ones; an outputs PUB socket
 * that publishes every step of every twin that has had a sample, with its
 * time (0 before the anchor's step), as the node does. The twin is a
 * stand-in: it alarms when the measured flow is under 20 and echoes what
 * it measured. It runs on a thread of its own until fk_stop. Included
 * by replay_test.c only. */
#ifndef REPLAY_FAKE_H_INCLUDED
#define REPLAY_FAKE_H_INCLUDED

#include "tm_err.h"
#include "tm_msg.h"
#include "tm_skab.h"
#include "tm_sock.h"
#include "tm_time.h"
#include "tm_wire.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define FK_ASSETS 16
#define FK_PEND   256 /* steps of samples held per asset (> horizon) */

typedef struct {
    int64_t tick; /* the step these samples are for */
    uint32_t mask;
    double v[TM_SKAB_SIGNALS];
} fk_slot_t;

typedef struct {
    char id[65];
    bool live;
    uint32_t period;
    bool registered; /* has had a sample: its steps are published */
    bool anchored;
    uint64_t ts0;
    int64_t k0;
    uint64_t params;
    uint64_t spawn_tick;
    uint32_t rows_stepped;       /* steps that had samples */
    int64_t rows_at_calibration; /* -1: never calibrated */
    int64_t calib_window;        /* the --window it asked for */
    fk_slot_t pend[FK_PEND];
} fk_asset_t;

typedef struct {
    /* set before fk_start */
    double h;
    uint32_t window_ticks; /* anchor: first step at least this far on */
    uint32_t horizon;      /* steps */
    bool no_telemetry;     /* stats without a telemetry map */
    bool wildcard;         /* stats show a wildcard host */
    /* an interrupt (Ctrl-C) of the replay when the fake reaches a tick */
    volatile sig_atomic_t *interrupt;
    uint64_t interrupt_tick;
    char clock[16];
    /* the node */
    void *zctx;
    void *router;
    void *pull;
    void *pub;
    char console[64];
    char telemetry[64];
    char outputs[64];
    pthread_t thread;
    atomic_int stop;
    uint64_t tick;
    double rt_next;
    fk_asset_t assets[FK_ASSETS];
    /* counters (read after fk_stop) */
    uint64_t received;
    uint64_t accepted;
    uint64_t late;
    uint64_t early;
    uint64_t unknown;
    uint64_t published;
} fk_node_t;

static fk_asset_t *fk_find(fk_node_t *fk, const char *id, size_t len)
{
    for (size_t i = 0; i < FK_ASSETS; i++) {
        fk_asset_t *a = &fk->assets[i];
        if (a->live && strlen(a->id) == len && memcmp(a->id, id, len) == 0) {
            return a;
        }
    }
    return NULL;
}

static int fk_signal(const char *s, size_t len)
{
    for (int k = 0; k < TM_SKAB_SIGNALS; k++) {
        const char *name = tm_skab_signals[k].signal;
        if (strlen(name) == len && memcmp(name, s, len) == 0) {
            return k;
        }
    }
    return -1;
}

static int64_t fk_h_ns(const fk_node_t *fk)
{
    return llround(fk->h * 1e9);
}

/* ---- telemetry ----------------------------------------------------------- */

static void fk_sample(fk_node_t *fk, const msgpack_object *m)
{
    const char *asset;
    const char *sig;
    size_t alen;
    size_t slen;
    uint64_t ts;
    double v;
    fk->received++;
    if (tm_wire_get_str(m, "asset", &asset, &alen) != 0 ||
        tm_wire_get_str(m, "signal", &sig, &slen) != 0 ||
        tm_wire_get_u64(m, "ts", &ts) != 0 ||
        tm_wire_get_f64(m, "value", &v) != 0) {
        fk->unknown++;
        return;
    }
    fk_asset_t *a = fk_find(fk, asset, alen);
    int k = fk_signal(sig, slen);
    if (a == NULL) {
        fk->unknown++;
        return;
    }
    int64_t p = a->period;
    if (!a->registered) { /* the first sample fixes the anchor's tick */
        int64_t first = (int64_t)fk->tick + fk->window_ticks;
        a->k0 = (first + p - 1) / p * p;
        a->registered = true;
    }
    if (k < 0) {
        fk->unknown++;
        return;
    }
    if (!a->anchored) { /* the first accepted one its time */
        a->ts0 = ts;
        a->anchored = true;
    }
    double d = (double)(int64_t)(ts - a->ts0) / 1e9;
    int64_t t = a->k0 + llround(d / fk->h);
    int64_t step = (t + p - 1) / p * p;
    if (step <= (int64_t)fk->tick) {
        fk->late++;
        return;
    }
    if ((step - (int64_t)fk->tick) / p > fk->horizon) {
        fk->early++;
        return;
    }
    fk_slot_t *s = &a->pend[(step / p) % FK_PEND];
    if (s->tick != step) {
        memset(s, 0, sizeof *s);
        s->tick = step;
    }
    s->v[k] = v;
    s->mask |= 1u << k;
    fk->accepted++;
}

static void fk_telemetry(fk_node_t *fk)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, fk->pull, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        tm_wire_limits_t lim = {8u << 20, 0};
        msgpack_zone zone;
        msgpack_object o;
        msgpack_zone_init(&zone, 4096);
        if (tm_wire_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg), &lim, &zone,
                           &o) == 0) {
            if (o.type == MSGPACK_OBJECT_ARRAY) {
                for (uint32_t i = 0; i < o.via.array.size; i++) {
                    fk_sample(fk, &o.via.array.ptr[i]);
                }
            } else {
                fk_sample(fk, &o);
            }
        }
        msgpack_zone_destroy(&zone);
        zmq_msg_close(&msg);
    }
}

/* ---- steps --------------------------------------------------------------- */

/* The samples of a step as a map: each value plus add, or the constant
 * -add when add < 0 (the uncertainty). */
static void fk_values(msgpack_packer *pk, const char *key, const fk_slot_t *s,
                      bool have, double add)
{
    int n = 0;
    for (int k = 0; k < TM_SKAB_SIGNALS; k++) {
        n += have && (s->mask & (1u << k));
    }
    tm_wire_pack_str(pk, key);
    msgpack_pack_map(pk, (size_t)n);
    for (int k = 0; have && k < TM_SKAB_SIGNALS; k++) {
        if (s->mask & (1u << k)) {
            tm_wire_pack_kv_f64(pk, tm_skab_signals[k].signal,
                                add < 0 ? -add : s->v[k] + add);
        }
    }
}

static void fk_publish(fk_node_t *fk, fk_asset_t *a, int64_t k)
{
    fk_slot_t *s = &a->pend[(k / a->period) % FK_PEND];
    bool have = s->tick == k && s->mask != 0;
    uint64_t ts = 0;
    if (a->anchored && k >= a->k0) { /* 0 before the first sample's step */
        ts = a->ts0 + (uint64_t)((k - a->k0) * fk_h_ns(fk));
    }
    double flow = have ? s->v[TM_SKAB_SIGNALS - 1] : NAN;
    a->rows_stepped += have;
    tm_wire_buf_t w;
    tm_wire_buf_init(&w);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_map(pk, 12);
    tm_wire_pack_kv_str(pk, "asset", a->id);
    tm_wire_pack_kv_u64(pk, "tick", (uint64_t)k);
    tm_wire_pack_kv_u64(pk, "ts", ts);
    tm_wire_pack_kv_str(pk, "model", "pumpmon@1.0.0");
    tm_wire_pack_kv_u64(pk, "params", a->params);
    tm_wire_pack_kv_str(pk, "fidelity", "high");
    tm_wire_pack_kv_bool(pk, "degraded", 0);
    fk_values(pk, "outputs", s, have, 0.5);
    fk_values(pk, "uncertainty", s, have, -0.25);
    fk_values(pk, "measured", s, have, 0);
    tm_wire_pack_kv_f64(pk, "score", have && flow < 20 ? 2.0 : 0.5);
    tm_wire_pack_kv_bool(pk, "alarm", have && flow < 20);
    zmq_send(fk->pub, a->id, strlen(a->id), ZMQ_SNDMORE);
    zmq_send(fk->pub, w.sbuf.data, w.sbuf.size, 0);
    tm_wire_buf_destroy(&w);
    fk->published++;
}

static void fk_step(fk_node_t *fk)
{
    int64_t k = (int64_t)++fk->tick;
    if (fk->interrupt != NULL && fk->tick == fk->interrupt_tick) {
        *fk->interrupt = 1;
    }
    for (size_t i = 0; i < FK_ASSETS; i++) {
        fk_asset_t *a = &fk->assets[i];
        if (a->live && a->registered && k % a->period == 0) {
            fk_publish(fk, a, k);
        }
    }
}

/* ---- console ------------------------------------------------------------- */

typedef struct {
    zmq_msg_t who;
    uint64_t seq;
} fk_req_t;

static void fk_reply(fk_node_t *fk, fk_req_t *rq, int status, const char *msg,
                     bool more, const tm_wire_buf_t *body)
{
    uint8_t *payload = NULL;
    uint8_t *frame = NULL;
    size_t plen = 0;
    size_t flen = 0;
    tm_console_rep_encode(status, NULL, msg, more,
                          body ? (const uint8_t *)body->sbuf.data : NULL,
                          body ? body->sbuf.size : 0, &payload, &plen);
    tm_envelope_t env;
    memset(&env, 0, sizeof env);
    env.type = TM_MSG_CONSOLE_REP;
    env.tick = fk->tick;
    env.seq = rq->seq;
    snprintf(env.source, sizeof env.source, "fake");
    snprintf(env.destination, sizeof env.destination, "console");
    tm_envelope_encode(&env, payload, plen, &frame, &flen);
    zmq_msg_t who;
    zmq_msg_init(&who);
    zmq_msg_copy(&who, &rq->who);
    zmq_msg_send(&who, fk->router, ZMQ_SNDMORE);
    zmq_send(fk->router, frame, flen, 0);
    free(payload);
    free(frame);
}

static void fk_stats(fk_node_t *fk, fk_req_t *rq)
{
    tm_wire_buf_t w;
    tm_wire_buf_init(&w);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_map(pk, fk->no_telemetry ? 4 : 5);
    tm_wire_pack_kv_f64(pk, "h", fk->h);
    tm_wire_pack_kv_u64(pk, "tick", fk->tick);
    tm_wire_pack_kv_str(pk, "clock", fk->clock);
    tm_wire_pack_kv_f64(pk, "lag_s", 0);
    if (!fk->no_telemetry) {
        char tel[64];
        char out[64];
        snprintf(tel, sizeof tel, "tcp://*%s", strrchr(fk->telemetry, ':'));
        snprintf(out, sizeof out, "tcp://*%s", strrchr(fk->outputs, ':'));
        tm_wire_pack_str(pk, "telemetry");
        msgpack_pack_map(pk, 5);
        tm_wire_pack_kv_str(pk, "endpoint", fk->wildcard ? tel : fk->telemetry);
        tm_wire_pack_kv_str(pk, "outputs", fk->wildcard ? out : fk->outputs);
        tm_wire_pack_kv_u64(pk, "received", fk->received);
        tm_wire_pack_kv_u64(pk, "accepted", fk->accepted);
        tm_wire_pack_str(pk, "rejected");
        msgpack_pack_map(pk, 3);
        tm_wire_pack_kv_u64(pk, "late", fk->late);
        tm_wire_pack_kv_u64(pk, "early", fk->early);
        tm_wire_pack_kv_u64(pk, "unknown_asset", fk->unknown);
    }
    fk_reply(fk, rq, 0, "", false, &w);
    tm_wire_buf_destroy(&w);
}

/* The value after --name in argv, or NULL. */
static const char *fk_opt(const tm_console_req_t *r, const char *name)
{
    for (uint32_t i = 0; i + 1 < r->argc; i++) {
        if (strcmp(r->argv[i], name) == 0) {
            return r->argv[i + 1];
        }
    }
    return NULL;
}

static void fk_spawn(fk_node_t *fk, fk_req_t *rq, const tm_console_req_t *r)
{
    const char *id = r->argc > 1 ? r->argv[1] : "";
    const char *model = fk_opt(r, "--model");
    const char *period = fk_opt(r, "--period");
    if (model == NULL || strcmp(model, "pumpmon") != 0) {
        fk_reply(fk, rq, TM_ERR_UNKNOWN_MODEL, "unknown model family", false,
                 NULL);
        return;
    }
    if (fk_find(fk, id, strlen(id)) != NULL) {
        fk_reply(fk, rq, TM_ERR_DUPLICATE_ACTOR, "actor id already exists",
                 false, NULL);
        return;
    }
    for (size_t i = 0; i < FK_ASSETS; i++) {
        fk_asset_t *a = &fk->assets[i];
        if (!a->live) {
            memset(a, 0, sizeof *a);
            snprintf(a->id, sizeof a->id, "%s", id);
            a->live = true;
            a->period = period ? (uint32_t)atoi(period) : 1;
            a->rows_at_calibration = -1;
            a->spawn_tick = fk->tick;
            fk_reply(fk, rq, 0, "spawned", false, NULL);
            return;
        }
    }
    fk_reply(fk, rq, TM_ERR_NOMEM, "fake node full", false, NULL);
}

static void fk_calibrate(fk_node_t *fk, fk_req_t *rq, const tm_console_req_t *r)
{
    const char *id = r->argc > 1 ? r->argv[1] : "";
    fk_asset_t *a = fk_find(fk, id, strlen(id));
    if (a == NULL || fk_opt(r, "--window") == NULL) {
        fk_reply(fk, rq, TM_ERR_UNKNOWN_ACTOR, "unknown actor", false, NULL);
        return;
    }
    char msg[128];
    tm_wire_buf_t w;
    a->params++;
    a->rows_at_calibration = a->rows_stepped;
    a->calib_window = atoll(fk_opt(r, "--window"));
    snprintf(msg, sizeof msg, "calibrated %s: params@%llu", id,
             (unsigned long long)a->params);
    tm_wire_buf_init(&w);
    msgpack_pack_map(&w.pk, 2);
    tm_wire_pack_kv_str(&w.pk, "id", id);
    tm_wire_pack_kv_u64(&w.pk, "params", a->params);
    fk_reply(fk, rq, 0, msg, false, &w);
    tm_wire_buf_destroy(&w);
}

static void fk_run(fk_node_t *fk, fk_req_t *rq, const tm_console_req_t *r)
{
    const char *n = fk_opt(r, "--ticks");
    uint64_t ticks = n ? strtoull(n, NULL, 10) : 0;
    tm_wire_buf_t w;
    fk_reply(fk, rq, 0, "running", true, NULL); /* a progress item */
    for (uint64_t i = 0; i < ticks; i++) {
        fk_step(fk);
    }
    snprintf(fk->clock, sizeof fk->clock, "paused");
    tm_wire_buf_init(&w);
    msgpack_pack_map(&w.pk, 2);
    tm_wire_pack_kv_u64(&w.pk, "ticks", ticks);
    tm_wire_pack_kv_u64(&w.pk, "tick", fk->tick);
    fk_reply(fk, rq, 0, "ran", false, &w);
    tm_wire_buf_destroy(&w);
}

static void fk_command(fk_node_t *fk, fk_req_t *rq, const tm_console_req_t *r)
{
    const char *cmd = r->argv[0];
    if (strcmp(cmd, "stats") == 0) {
        fk_stats(fk, rq);
    } else if (strcmp(cmd, "spawn") == 0) {
        fk_spawn(fk, rq, r);
    } else if (strcmp(cmd, "calibrate") == 0) {
        fk_calibrate(fk, rq, r);
    } else if (strcmp(cmd, "run") == 0) {
        fk_run(fk, rq, r);
    } else if (strcmp(cmd, "clock") == 0 && r->argc == 2) {
        bool pause = strcmp(r->argv[1], "pause") == 0;
        snprintf(fk->clock, sizeof fk->clock, "%s",
                 pause ? "paused" : r->argv[1]);
        fk->rt_next = tm_time_now() + fk->h;
        fk_reply(fk, rq, 0, "clock", false, NULL);
    } else if (strcmp(cmd, "kill") == 0 && r->argc == 2) {
        fk_asset_t *a = fk_find(fk, r->argv[1], strlen(r->argv[1]));
        if (a != NULL) {
            a->live = false;
        }
        fk_reply(fk, rq, a ? 0 : TM_ERR_UNKNOWN_ACTOR, "kill", false, NULL);
    } else {
        fk_reply(fk, rq, TM_ERR_UNKNOWN_COMMAND, "unknown command", false,
                 NULL);
    }
}

static void fk_console(fk_node_t *fk)
{
    for (;;) {
        fk_req_t rq;
        zmq_msg_t frame;
        zmq_msg_init(&rq.who);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&rq.who, fk->router, ZMQ_DONTWAIT) < 0 ||
            zmq_msg_recv(&frame, fk->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rq.who);
            zmq_msg_close(&frame);
            return;
        }
        tm_envelope_t env;
        tm_console_req_t req;
        memset(&req, 0, sizeof req);
        if (tm_envelope_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), NULL,
                               &env) == 0 &&
            tm_console_req_decode(env.payload, env.payload_len, NULL, &req) ==
                0) {
            rq.seq = env.seq;
            fk_telemetry(fk); /* what came before the request counts */
            fk_command(fk, &rq, &req);
        }
        tm_console_req_free(&req);
        zmq_msg_close(&rq.who);
        zmq_msg_close(&frame);
    }
}

/* ---- thread -------------------------------------------------------------- */

static void *fk_main(void *arg)
{
    fk_node_t *fk = arg;
    while (!atomic_load(&fk->stop)) {
        zmq_pollitem_t items[2] = {{fk->router, 0, ZMQ_POLLIN, 0},
                                   {fk->pull, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 2);
        fk_telemetry(fk);
        fk_console(fk);
        bool rt = strcmp(fk->clock, "realtime") == 0;
        while (rt && tm_time_now() >= fk->rt_next) {
            fk_telemetry(fk);
            fk_step(fk);
            fk->rt_next += fk->h;
        }
    }
    return NULL;
}

static void fk_bind(fk_node_t *fk, void **s, int type, char *ep, size_t cap)
{
    tm_sock_opts_t o = {8u << 20, 100000, 0, NULL, 0};
    if (tm_sock_open(s, fk->zctx, type, "tcp://127.0.0.1:0", TM_SOCK_BIND,
                     &o) != 0 ||
        tm_sock_endpoint(*s, ep, cap) != 0) {
        fprintf(stderr, "fake node: cannot bind\n");
        abort();
    }
}

/* Bind the sockets and start the thread; fk's settings are filled in. */
static void fk_start(fk_node_t *fk)
{
    if (fk->h == 0) {
        fk->h = 1.0;
    }
    if (fk->horizon == 0) {
        fk->horizon = 64;
    }
    if (fk->clock[0] == '\0') {
        snprintf(fk->clock, sizeof fk->clock, "paused");
    }
    fk->zctx = zmq_ctx_new();
    fk_bind(fk, &fk->router, ZMQ_ROUTER, fk->console, sizeof fk->console);
    fk_bind(fk, &fk->pull, ZMQ_PULL, fk->telemetry, sizeof fk->telemetry);
    fk_bind(fk, &fk->pub, ZMQ_PUB, fk->outputs, sizeof fk->outputs);
    atomic_store(&fk->stop, 0);
    pthread_create(&fk->thread, NULL, fk_main, fk);
}

static void fk_stop(fk_node_t *fk)
{
    atomic_store(&fk->stop, 1);
    pthread_join(fk->thread, NULL);
    tm_sock_close(&fk->router);
    tm_sock_close(&fk->pull);
    tm_sock_close(&fk->pub);
    zmq_ctx_term(fk->zctx);
}

static size_t fk_live(const fk_node_t *fk)
{
    size_t n = 0;
    for (size_t i = 0; i < FK_ASSETS; i++) {
        n += fk->assets[i].live;
    }
    return n;
}

#endif
