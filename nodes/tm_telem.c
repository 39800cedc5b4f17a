/* tm_telem: sockets, the data contract and time alignment (tm_telem.h). */
#include "tm_telem_int.h"

#include "tm_err.h"
#include "tm_log.h"
#include "tm_sock.h"
#include "tm_time.h"
#include "tm_units.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* ---- assets -------------------------------------------------------------- */

static int s_asset_eq(uint32_t handle, const void *key, void *arg)
{
    tm_telem_t *t = arg;
    return strcmp(t->assets[handle]->id, key) == 0;
}

tmi_telem_asset_t *tmi_telem_find(tm_telem_t *t, const char *id)
{
    uint32_t h =
        tm_index_find(&t->index, tm_hash64(id, strlen(id)), id, s_asset_eq, t);
    return h == TM_INDEX_NONE ? NULL : t->assets[h];
}

static void s_asset_free(tmi_telem_asset_t *a)
{
    if (a == NULL) {
        return;
    }
    free(a->slot_tick);
    free(a->slot_v);
    free(a->slot_ts);
    free(a->slot_n);
    free(a->slot_at);
    free(a->hist);
    free(a->last_v);
    free(a->last_ts);
    free(a->last_tick);
    free(a->count);
    free(a);
}

void tmi_telem_drop(tm_telem_t *t, size_t i)
{
    tmi_telem_asset_t *a = t->assets[i];
    size_t last = t->n_assets - 1;
    tm_index_remove(&t->index, a->hash, (uint32_t)i);
    if (i != last) {
        t->assets[i] = t->assets[last];
        tm_index_rename(&t->index, t->assets[i]->hash, (uint32_t)last,
                        (uint32_t)i);
    }
    t->n_assets--;
    s_asset_free(a);
}

static tmi_telem_asset_t *s_asset_new(tm_telem_t *t, const tm_rt_actor_t *v)
{
    size_t ni = v->model->n_inputs;
    size_t hz = t->horizon;
    tmi_telem_asset_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    snprintf(a->id, sizeof a->id, "%s", v->id);
    a->hash = tm_hash64(a->id, strlen(a->id));
    a->model = v->model;
    a->period = v->period ? v->period : 1;
    a->ni = (uint32_t)ni;
    a->slot_tick = calloc(hz, sizeof *a->slot_tick);
    a->slot_v = malloc(hz * ni * sizeof *a->slot_v);
    a->slot_ts = calloc(hz * ni, sizeof *a->slot_ts);
    a->slot_n = calloc(hz, sizeof *a->slot_n);
    a->slot_at = calloc(hz, sizeof *a->slot_at);
    for (uint32_t j = 0; j < ni; j++) {
        a->n_measured += (v->model->inputs[j].flags & TM_VAR_MEASURED) != 0;
    }
    a->hist = malloc((size_t)t->history * ni * sizeof *a->hist);
    a->last_v = calloc(ni, sizeof *a->last_v);
    a->last_ts = calloc(ni, sizeof *a->last_ts);
    a->last_tick = calloc(ni, sizeof *a->last_tick);
    a->count = calloc(ni, sizeof *a->count);
    if (a->slot_tick == NULL || a->slot_v == NULL || a->slot_ts == NULL ||
        a->slot_n == NULL || a->slot_at == NULL || a->hist == NULL ||
        a->last_v == NULL || a->last_ts == NULL || a->last_tick == NULL ||
        a->count == NULL) {
        s_asset_free(a);
        return NULL;
    }
    return a;
}

/* The asset record of actor id, made on its first sample. NULL and *why
 * when id is no local actor with measured inputs (or out of memory). */
static tmi_telem_asset_t *s_asset(tm_telem_t *t, const char *id,
                                  tmi_telem_reason_t *why)
{
    tmi_telem_asset_t *a = tmi_telem_find(t, id);
    if (a != NULL) {
        return a;
    }
    tm_rt_actor_t v;
    *why = TMI_TELEM_UNKNOWN_ASSET;
    if (tm_rt_get(t->rt, id, &v) != 0 || v.remote) {
        return NULL;
    }
    bool measured = false;
    for (uint32_t j = 0; j < v.model->n_inputs; j++) {
        measured |= (v.model->inputs[j].flags & TM_VAR_MEASURED) != 0;
    }
    if (!measured) {
        *why = TMI_TELEM_UNKNOWN_SIGNAL; /* its family has no contract */
        return NULL;
    }
    if (t->n_assets == t->cap_assets) {
        size_t cap = t->cap_assets ? 2 * t->cap_assets : 64;
        void *p = realloc(t->assets, cap * sizeof *t->assets);
        if (p == NULL) {
            return NULL;
        }
        t->assets = p;
        t->cap_assets = cap;
    }
    a = s_asset_new(t, &v);
    if (a == NULL ||
        tm_index_insert(&t->index, a->hash, (uint32_t)t->n_assets) != 0) {
        s_asset_free(a);
        return NULL;
    }
    t->assets[t->n_assets++] = a;
    /* Anchor: the first sample is the first step at least `window` after
     * the current tick. */
    uint64_t tick = tm_rt_tick(t->rt);
    a->k0 = tmi_telem_next_step(a, tick + t->window_ticks);
    return a;
}

/* ---- samples ------------------------------------------------------------- */

/* Check s against a's contract; 0 and the input index and SI value, or
 * the rejection reason + 1. */
static int s_contract(const tmi_telem_asset_t *a, const tm_telem_sample_t *s,
                      uint32_t *input, double *value)
{
    int j = tm_model_var_index(a->model->inputs, a->model->n_inputs, s->signal);
    if (j < 0 || !(a->model->inputs[j].flags & TM_VAR_MEASURED)) {
        return TMI_TELEM_UNKNOWN_SIGNAL + 1;
    }
    const tm_var_t *var = &a->model->inputs[j];
    if (!isfinite(s->value)) {
        return TMI_TELEM_NON_FINITE + 1;
    }
    double v = 0;
    if (tm_unit_to(s->unit, var->unit, s->value, &v) != 0) {
        return TMI_TELEM_BAD_UNIT + 1;
    }
    if (!isfinite(v) || v < var->min || v > var->max) {
        return TMI_TELEM_OUT_OF_RANGE + 1;
    }
    *input = (uint32_t)j;
    *value = v;
    return 0;
}

/* The step tick a sample of time ts belongs to (0: before the anchor). */
static uint64_t s_step_of(const tm_telem_t *t, tmi_telem_asset_t *a,
                          uint64_t ts)
{
    if (!a->anchored) {
        a->ts0 = ts; /* the first accepted sample anchors the axis */
        a->anchored = true;
    }
    double h_ns = tm_rt_h(t->rt) * 1e9;
    double d = ts >= a->ts0 ? (double)(ts - a->ts0) : -(double)(a->ts0 - ts);
    double k = (double)a->k0 + nearbyint(d / h_ns);
    if (k < 1.0) {
        return 0;
    }
    if (k > 1.8e19) {
        return UINT64_MAX;
    }
    uint64_t kk = (uint64_t)k;
    uint64_t p = a->period;
    return kk % p == 0 ? kk : (kk / p + 1) * p;
}

/* File sample value v of input j at ts into the pending step `step`: the
 * greatest ts wins (equal ts: the greater value), whatever the order. */
static void s_file(tm_telem_t *t, tmi_telem_asset_t *a, uint64_t step,
                   uint32_t j, uint64_t ts, double v)
{
    size_t slot = (size_t)((step / a->period) % t->horizon);
    double *sv = a->slot_v + slot * a->ni;
    uint64_t *sts = a->slot_ts + slot * a->ni;
    if (a->slot_tick[slot] != step) {
        a->slot_tick[slot] = step;
        a->slot_n[slot] = 0;
        a->slot_at[slot] = tm_time_now();
        for (uint32_t i = 0; i < a->ni; i++) {
            sv[i] = NAN;
            sts[i] = 0;
        }
    }
    if (sts[j] == 0 && ++a->slot_n[slot] == a->n_measured &&
        (t->complete == 0 || step < t->complete)) {
        t->complete = step; /* a complete row: tm_telem_arrived */
    }
    if (sts[j] == 0 || ts > sts[j] || (ts == sts[j] && v > sv[j])) {
        sv[j] = v;
        sts[j] = ts == 0 ? 1 : ts;
    }
    if (ts >= a->last_ts[j]) {
        a->last_v[j] = v;
        a->last_ts[j] = ts;
    }
    a->count[j]++;
}

static void s_on_sample(void *arg, const tm_telem_sample_t *s, int status)
{
    tm_telem_t *t = arg;
    t->received++;
    if (status != 0) {
        t->rejected[TMI_TELEM_MALFORMED]++;
        return;
    }
    tmi_telem_reason_t why = TMI_TELEM_UNKNOWN_ASSET;
    tmi_telem_asset_t *a = s_asset(t, s->asset, &why);
    if (a == NULL) {
        t->rejected[why]++;
        return;
    }
    uint32_t j = 0;
    double v = 0;
    int bad = s_contract(a, s, &j, &v);
    if (bad == 0) {
        uint64_t tick = tm_rt_tick(t->rt);
        uint64_t step = s_step_of(t, a, s->ts);
        if (step <= tick) {
            bad = TMI_TELEM_LATE + 1;
        } else if ((step - tick) / a->period >= t->horizon) {
            bad = TMI_TELEM_EARLY + 1;
        } else {
            s_file(t, a, step, j, s->ts, v);
            t->accepted++;
            return;
        }
    }
    t->rejected[bad - 1]++;
    a->rejected[bad - 1]++;
}

/* Whether a step in (tick, target] still waits for a row: an asset has
 * part of one (some measured inputs, not all), or has none where its
 * rows so far say one comes (last_row + row_gap). Those steps wait for
 * the clock, as the rest may still come. */
static bool s_awaited(const tm_telem_t *t, uint64_t tick, uint64_t target)
{
    for (size_t i = 0; i < t->n_assets; i++) {
        const tmi_telem_asset_t *a = t->assets[i];
        for (uint64_t s = tmi_telem_next_step(a, tick); s <= target;
             s += a->period) {
            size_t slot = (size_t)((s / a->period) % t->horizon);
            bool filed = a->slot_tick[slot] == s;
            if ((filed && a->slot_n[slot] < a->n_measured) ||
                (!filed && a->row_gap > 0 && a->last_row + a->row_gap == s)) {
                return true;
            }
        }
    }
    return false;
}

/* After a frame (or an MQTT message): with window = 0, a step whose rows
 * are complete runs now instead of when the clock reaches it, unless an
 * asset has only part of a row for it or an earlier step. */
static void s_arrived(tm_telem_t *t)
{
    uint64_t target = t->complete;
    t->complete = 0;
    if (target == 0 || t->window_ticks != 0 || t->sched == NULL) {
        return;
    }
    uint64_t tick = tm_rt_tick(t->rt);
    if (target <= tick || target - tick > TM_SCHED_EARLY_MAX + 1 ||
        t->n_assets > TMI_TELEM_EARLY_ASSETS || s_awaited(t, tick, target)) {
        return;
    }
    (void)tm_sched_step_early(t->sched, target);
}

void tm_telem_sample(tm_telem_t *t, const tm_telem_sample_t *s, int status)
{
    s_on_sample(t, status == 0 ? s : NULL, status);
    s_arrived(t);
}

void tm_telem_ingest(tm_telem_t *t, const uint8_t *buf, size_t len)
{
    t->frames++;
    if (tm_telem_decode(buf, len, s_on_sample, t) != 0) {
        t->received++;
        t->rejected[TMI_TELEM_MALFORMED]++;
    }
    s_arrived(t);
}

/* One message from the PULL socket (every frame of it; a message of
 * several frames is malformed). */
static int s_on_readable(void *arg, void *sock)
{
    tm_telem_t *t = arg;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return 1;
    }
    bool more = zmq_msg_more(&msg) != 0;
    if (!more) {
        tm_telem_ingest(t, zmq_msg_data(&msg), zmq_msg_size(&msg));
    }
    zmq_msg_close(&msg);
    if (more) {
        tm_sock_drain(sock);
        t->frames++;
        t->received++;
        t->rejected[TMI_TELEM_MALFORMED]++;
    }
    return 0;
}

/* ---- service ------------------------------------------------------------- */

static int s_attach(void *self, struct ev_loop *loop)
{
    tm_telem_t *t = self;
    if (t->pull != NULL) {
        tm_zwatch_start(&t->watch, loop);
        t->watching = true;
    }
    return 0;
}

static void s_stop(void *self)
{
    tm_telem_t *t = self;
    if (t->watching) {
        tm_zwatch_stop(&t->watch);
        t->watching = false;
    }
}

static void s_close(void *self)
{
    tm_telem_t *t = self;
    s_stop(t);
    for (size_t i = 0; i < t->n_assets; i++) {
        s_asset_free(t->assets[i]);
    }
    free(t->assets);
    free(t->lat);
    tm_index_free(&t->index);
    tm_wire_buf_destroy(&t->out);
    tm_sock_close(&t->pull);
    tm_sock_close(&t->pub);
    free(t);
}

#define S_GETTER(field)                                                        \
    static uint64_t s_get_##field(void *a)                                     \
    {                                                                          \
        return ((tm_telem_t *)a)->field;                                       \
    }
S_GETTER(frames)
S_GETTER(received)
S_GETTER(accepted)
S_GETTER(published)
S_GETTER(alarms)
S_GETTER(n_assets)
/* telemetry.rejected: a map reason -> count. */
static void s_get_rejected(void *a, tm_body_t *b)
{
    const tm_telem_t *t = a;
    tm_body_map(b);
#define X(e, n) tm_body_kv_u64(b, #n, t->rejected[TMI_TELEM_##e]);
    TMI_TELEM_REASONS(X)
#undef X
    tm_body_end(b);
}

static int s_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* telemetry.latency: from a row's first sample to its published output,
 * over the last rows: {"rows", "p50_us", "p99_us", "max_us"}. */
static void s_get_latency(void *arg, tm_body_t *b)
{
    const tm_telem_t *t = arg;
    size_t n = t->lat_n < TMI_TELEM_LAT_N ? (size_t)t->lat_n : TMI_TELEM_LAT_N;
    double *v = n > 0 ? malloc(n * sizeof *v) : NULL;
    if (v != NULL) {
        memcpy(v, t->lat, n * sizeof *v);
        qsort(v, n, sizeof *v, s_cmp_double);
    }
    tm_body_map(b);
    tm_body_kv_u64(b, "rows", t->lat_n);
    tm_body_kv_f64(b, "p50_us", v != NULL ? v[(n - 1) / 2] * 1e6 : 0.0);
    tm_body_kv_f64(b, "p99_us", v != NULL ? v[(n - 1) * 99 / 100] * 1e6 : 0.0);
    tm_body_kv_f64(b, "max_us", v != NULL ? v[n - 1] * 1e6 : 0.0);
    tm_body_kv_u64(b, "early_ticks",
                   t->sched != NULL ? tm_sched_early(t->sched) : 0);
    tm_body_end(b);
    free(v);
}

static const char *s_get_endpoint(void *a)
{
    return ((tm_telem_t *)a)->endpoint;
}

static const char *s_get_outputs(void *a)
{
    return ((tm_telem_t *)a)->outputs;
}

static int s_stats(void *self, tm_stats_t *reg)
{
    tm_telem_t *t = self;
    int rc = 0;
    rc |= tm_stats_add_str(reg, "telemetry.endpoint", s_get_endpoint, t);
    rc |= tm_stats_add_str(reg, "telemetry.outputs", s_get_outputs, t);
    rc |= tm_stats_add_u64(reg, "telemetry.assets", s_get_n_assets, t);
    rc |= tm_stats_add_u64(reg, "telemetry.frames", s_get_frames, t);
    rc |= tm_stats_add_u64(reg, "telemetry.received", s_get_received, t);
    rc |= tm_stats_add_u64(reg, "telemetry.accepted", s_get_accepted, t);
    rc |= tm_stats_add_body(reg, "telemetry.rejected", s_get_rejected, t);
    rc |= tm_stats_add_u64(reg, "telemetry.published", s_get_published, t);
    rc |= tm_stats_add_u64(reg, "telemetry.alarms", s_get_alarms, t);
    rc |= tm_stats_add_body(reg, "telemetry.latency", s_get_latency, t);
    return rc ? TM_ERR_NOMEM : 0;
}

tm_service_t tm_telem_service(tm_telem_t *t)
{
    return (tm_service_t){.name = "telemetry",
                          .self = t,
                          .attach = s_attach,
                          .stats = s_stats,
                          .stop = s_stop,
                          .close = s_close};
}

static int s_bind(void **sock, void *zctx, int type, const char *ep,
                  char *bound, const char *what, char *why, size_t cap)
{
    if (ep == NULL || ep[0] == '\0') {
        return 0;
    }
    tm_sock_opts_t o = {.max_msg = TM_TELEM_FRAME_MAX,
                        .hwm = type == ZMQ_PUB ? 10000 : 1000,
                        .linger_ms = 0};
    int rc = tm_sock_open(sock, zctx, type, ep, TM_SOCK_BIND, &o);
    if (rc == 0) {
        rc = tm_sock_endpoint(*sock, bound, 300);
    }
    if (rc != 0) {
        snprintf(why, cap, "cannot bind the %s endpoint %s: %s", what, ep,
                 tm_err_str(rc));
    }
    return rc;
}

int tm_telem_open(tm_telem_t **out, void *zctx, const tm_telem_opts_t *opts,
                  char *why, size_t cap)
{
    tm_telem_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return TM_ERR_NOMEM;
    }
    t->rt = opts->rt;
    t->sched = opts->sched;
    t->horizon = opts->horizon ? opts->horizon : 64;
    t->history = opts->history ? opts->history : 512;
    t->lat = calloc(TMI_TELEM_LAT_N, sizeof *t->lat);
    if (t->lat == NULL) {
        free(t);
        return TM_ERR_NOMEM;
    }
    /* window <= 3600 s, h > 0: clamp, a tiny h must not overflow */
    double wt = ceil(opts->window / tm_rt_h(opts->rt));
    t->window_ticks = wt < 1e12 ? (uint64_t)wt : (uint64_t)1e12;
    tm_index_init(&t->index);
    tm_wire_buf_init(&t->out);
    int rc = s_bind(&t->pull, zctx, ZMQ_PULL, opts->endpoint, t->endpoint,
                    "telemetry", why, cap);
    if (rc == 0) {
        rc = s_bind(&t->pub, zctx, ZMQ_PUB, opts->outputs, t->outputs,
                    "outputs", why, cap);
    }
    if (rc == 0 && t->pull != NULL) {
        rc = tm_zwatch_init(&t->watch, t->pull, s_on_readable, t, 256);
    }
    if (rc == 0) {
        tm_sched_sub_t sub = {.arg = t,
                              .before = tmi_telem_before,
                              .after = tmi_telem_after,
                              .next_stop = tmi_telem_next_stop};
        rc = tm_sched_subscribe(t->sched, &sub);
    }
    if (rc != 0) {
        s_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

const char *tm_telem_endpoint(const tm_telem_t *t)
{
    return t->endpoint;
}

const char *tm_telem_outputs(const tm_telem_t *t)
{
    return t->outputs;
}
