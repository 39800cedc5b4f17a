/* twinmesh-telemetry-bench: how many telemetry samples per second one node
 * accepts, and how long a sample takes to come out as a twin output.
 *
 *   twinmesh-telemetry-bench -c CONSOLE --prefix P --assets N
 *       [--rows R] [--batch B] [--repeat K] [--check-rate S]
 *   twinmesh-telemetry-bench -c CONSOLE --prefix P --latency N [--gap S]
 *       [--assets A] [--frames twin|round]
 *
 * The twins P0 .. P<N-1> (family pumpmon) must exist on the node (e.g.
 * `spawn-many P N --model pumpmon`). The telemetry and outputs endpoints
 * are read from `stats`.
 *
 * Throughput: R rows of the eight signals for every twin (R within the
 * node's horizon, so every sample is taken) are encoded in batches of B
 * samples first, then pushed as fast as the socket takes them; the time is
 * from the first send until `stats` shows every sample received (accepted
 * or rejected, polled every millisecond). Repeated K times (each repeat
 * steps the node over its rows first, with `run`), median reported;
 * --check-rate S: exit 3 when it is under S samples/s.
 *
 * Latency (--latency N [--gap S] [--assets A]): the node's clock runs in
 * real time; every S seconds (default 0.01) one row of each of the twins
 * P0 .. P<A-1> (default 1) is sent, a frame each, back to back (a
 * gateway's scan; A x 8 / S samples/s), or all in one frame (--frames
 * round: a gateway that batches its scan), N rounds, on the twins' own time
 * axis; each output is matched to its twin by topic and to its row by ts:
 * the time from sending the round to receiving the first output of the
 * row's step, p50 and p99; then the node's own figure (telemetry.latency
 * in stats: from reading a row's first sample to publishing its output). The
 * bench waits in zmq_poll (a spinning bench takes a core from the node it
 * measures); outputs of a row's step that come before the row was sent (the
 * node's clock ahead of the sender's) are counted apart. Its checks are
 * tools/bench-telemetry.sh's, over several nodes.
 */
#include "tm_client.h"
#include "tm_err.h"
#include "tm_telem_wire.h"
#include "tm_wire.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_SIGNALS 8

static const char *const s_sig[S_SIGNALS] = {"vib1",     "vib2",    "current",
                                             "pressure", "t_motor", "t_fluid",
                                             "voltage",  "flow"};
static const double s_val[S_SIGNALS] = {0.26, 0.39, 1.1,   35000.0,
                                        79.0, 26.0, 232.0, 5.3e-4};

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Run one console command; the reply body's map.key (key at the top level
 * when map is NULL) into out when key is given. */
static int s_cmd(tm_client_t *c, int argc, const char *const *argv,
                 const char *map, const char *key, char *out, size_t cap)
{
    tm_client_reply_t rep;
    if (tm_client_send(c, argc, argv) != 0 ||
        tm_client_recv(c, 60000, NULL, &rep) != 0) {
        fprintf(stderr, "bench: no reply to %s\n", argv[0]);
        return 1;
    }
    int rc = rep.status;
    if (rc != 0) {
        fprintf(stderr, "bench: %s: %s\n", argv[0], rep.message);
    }
    if (rc == 0 && key != NULL) {
        msgpack_zone z;
        msgpack_zone_init(&z, 4096);
        msgpack_object o;
        const msgpack_object *m = NULL;
        if (tm_wire_unpack(rep.body, rep.body_len, NULL, &z, &o) == 0) {
            m = map != NULL ? tm_wire_map_get(&o, map) : &o;
        }
        const msgpack_object *v = m != NULL ? tm_wire_map_get(m, key) : NULL;
        if (v != NULL && v->type == MSGPACK_OBJECT_STR) {
            snprintf(out, cap, "%.*s", (int)v->via.str.size, v->via.str.ptr);
        } else if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            snprintf(out, cap, "%llu", (unsigned long long)v->via.u64);
        } else if (v != NULL && v->type == MSGPACK_OBJECT_FLOAT64) {
            snprintf(out, cap, "%.17g", v->via.f64);
        } else {
            rc = 1;
        }
        msgpack_zone_destroy(&z);
    }
    tm_client_reply_free(&rep);
    return rc;
}

static unsigned long long s_received(tm_client_t *c)
{
    const char *argv[] = {"stats"};
    char buf[64] = "0";
    s_cmd(c, 1, argv, "telemetry", "received", buf, sizeof buf);
    return strtoull(buf, NULL, 10);
}

typedef struct {
    uint8_t **frames;
    size_t *lens;
    size_t n;
    size_t samples;
} s_frames_t;

/* Rows [row0, row0 + rows) of every twin, in batches of `batch`. */
static int s_encode(s_frames_t *f, const char *prefix, size_t assets,
                    size_t row0, size_t rows, size_t batch)
{
    size_t total = assets * rows * S_SIGNALS;
    f->n = (total + batch - 1) / batch;
    f->frames = calloc(f->n, sizeof *f->frames);
    f->lens = calloc(f->n, sizeof *f->lens);
    tm_telem_sample_t *b = calloc(batch, sizeof *b);
    if (f->frames == NULL || f->lens == NULL || b == NULL) {
        free(b);
        return 1;
    }
    size_t k = 0;
    size_t fi = 0;
    for (size_t r = row0; r < row0 + rows; r++) {
        for (size_t a = 0; a < assets; a++) {
            for (int j = 0; j < S_SIGNALS; j++) {
                tm_telem_sample_t *s = &b[k++];
                snprintf(s->asset, sizeof s->asset, "%s%zu", prefix, a);
                snprintf(s->signal, sizeof s->signal, "%s", s_sig[j]);
                s->ts = 1600000000000000000ull + r * 1000000000ull;
                s->value = s_val[j] * (1.0 + 0.001 * (double)(r % 7));
                if (k == batch) {
                    tm_telem_encode(b, k, 1, &f->frames[fi], &f->lens[fi]);
                    fi++;
                    k = 0;
                }
            }
        }
    }
    if (k > 0) {
        tm_telem_encode(b, k, 1, &f->frames[fi], &f->lens[fi]);
        fi++;
    }
    f->n = fi;
    f->samples = total;
    free(b);
    return 0;
}

static void s_frames_free(s_frames_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->frames[i]);
    }
    free(f->frames);
    free(f->lens);
}

/* Throughput; *median: the median rate over the repeats. */
static int s_throughput(tm_client_t *c, void *push, const char *prefix,
                        size_t assets, size_t rows, size_t batch, int repeat,
                        double *median)
{
    double *rate = calloc((size_t)repeat, sizeof *rate);
    char ticks[32];
    snprintf(ticks, sizeof ticks, "%zu", rows + 2);
    const char *run[] = {"run", "--ticks", ticks};
    for (int k = 0; k < repeat; k++) {
        s_frames_t f = {0};
        if (s_encode(&f, prefix, assets, (size_t)k * (rows + 2), rows, batch) !=
            0) {
            return 1;
        }
        unsigned long long base = s_received(c);
        double t0 = s_now();
        for (size_t i = 0; i < f.n; i++) {
            zmq_send(push, f.frames[i], f.lens[i], 0);
        }
        double t1 = s_now();
        while (s_received(c) < base + f.samples) {
            struct timespec d = {0, 1000000};
            nanosleep(&d, NULL);
            if (s_now() - t0 > 120) {
                fprintf(stderr, "bench: samples not all received\n");
                return 1;
            }
        }
        double t2 = s_now();
        rate[k] = (double)f.samples / (t2 - t0);
        printf("repeat %d: %zu samples in %zu frames, sent in %.3f s, "
               "received in %.3f s: %.0f samples/s\n",
               k + 1, f.samples, f.n, t1 - t0, t2 - t0, rate[k]);
        s_frames_free(&f);
        if (s_cmd(c, 3, run, NULL, NULL, NULL, 0) != 0) {
            return 1;
        }
    }
    qsort(rate, (size_t)repeat, sizeof *rate, s_cmp);
    printf("median: %.0f samples/s accepted by one node (%zu twins, batches "
           "of %zu)\n",
           rate[repeat / 2], assets, batch);
    *median = rate[repeat / 2];
    free(rate);
    return 0;
}

/* The twin index of topic "<prefix><i>" (i < assets), or -1. */
static long s_twin_of(zmq_msg_t *topic, const char *prefix, size_t assets)
{
    size_t pl = strlen(prefix);
    size_t n = zmq_msg_size(topic);
    const char *d = zmq_msg_data(topic);
    if (n <= pl || n - pl > 9 || memcmp(d, prefix, pl) != 0) {
        return -1;
    }
    long i = 0;
    for (size_t k = pl; k < n; k++) {
        if (d[k] < '0' || d[k] > '9') {
            return -1;
        }
        i = i * 10 + (d[k] - '0');
    }
    return (size_t)i < assets ? i : -1;
}

/* The node's own figures, telemetry.latency in stats: p50_us, p99_us,
 * max_us, early_ticks and rows into v[0..4] (-1: not there). */
static void s_node_latency(tm_client_t *c, double v[5])
{
    static const char *const keys[] = {"p50_us", "p99_us", "max_us",
                                       "early_ticks", "rows"};
    const char *argv[] = {"stats"};
    tm_client_reply_t rep;
    for (int k = 0; k < 5; k++) {
        v[k] = -1;
    }
    if (tm_client_send(c, 1, argv) == 0 &&
        tm_client_recv(c, 60000, NULL, &rep) == 0) {
        msgpack_zone z;
        msgpack_zone_init(&z, 4096);
        msgpack_object o;
        const msgpack_object *t = NULL, *l = NULL;
        if (rep.status == 0 &&
            tm_wire_unpack(rep.body, rep.body_len, NULL, &z, &o) == 0) {
            t = tm_wire_map_get(&o, "telemetry");
        }
        l = t != NULL ? tm_wire_map_get(t, "latency") : NULL;
        for (int k = 0; l != NULL && k < 5; k++) {
            const msgpack_object *x = tm_wire_map_get(l, keys[k]);
            if (x != NULL && x->type == MSGPACK_OBJECT_FLOAT64) {
                v[k] = x->via.f64;
            } else if (x != NULL &&
                       x->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                v[k] = (double)x->via.u64;
            }
        }
        msgpack_zone_destroy(&z);
        tm_client_reply_free(&rep);
    }
}

/* One round of the latency bench: row r of each twin, a frame each sent
 * back to back, or all in one frame (round). */
static void s_send_round(void *push, const char *prefix, size_t assets,
                         uint64_t ts, bool round)
{
    size_t per = round ? assets * S_SIGNALS : S_SIGNALS;
    tm_telem_sample_t *b = calloc(per, sizeof *b);
    if (b == NULL) {
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < assets; i++) {
        for (int j = 0; j < S_SIGNALS; j++) {
            snprintf(b[k].asset, sizeof b[k].asset, "%s%zu", prefix, i);
            snprintf(b[k].signal, sizeof b[k].signal, "%s", s_sig[j]);
            b[k].ts = ts;
            b[k].value = s_val[j];
            k++;
        }
        if (k == per) {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (tm_telem_encode(b, k, 1, &buf, &len) != 0 ||
                zmq_send(push, buf, len, 0) < 0) {
                fprintf(stderr, "bench: a frame of the round not sent\n");
            }
            free(buf);
            k = 0;
        }
    }
    free(b);
}

/* Latency: every `gap` seconds one row of each twin prefix0 ..
 * prefix<assets-1> (s_send_round); each output matched to its twin by
 * topic and to its row by ts. */
static int s_latency(void *push, void *sub, const char *prefix, size_t assets,
                     int n, double gap, bool round)
{
    size_t total = assets * (size_t)n;
    double *sent = calloc((size_t)n, sizeof *sent);
    double *lat = calloc(total, sizeof *lat);
    bool *seen = calloc(total, sizeof *seen);
    if (sent == NULL || lat == NULL || seen == NULL) {
        free(sent);
        free(lat);
        free(seen);
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    size_t got = 0;
    int early = 0;
    const uint64_t t0 = 1700000000000000000ull;
    const uint64_t gap_ns = (uint64_t)(gap * 1e9);
    double start = s_now();
    for (int r = 0; r < n || s_now() < sent[n - 1] + 1.0;) {
        double now = s_now();
        if (r < n && now >= start + (double)r * gap) {
            sent[r] = s_now();
            s_send_round(push, prefix, assets, t0 + (uint64_t)r * gap_ns,
                         round);
            r++;
        }
        /* wait for an output or the next row's time, without spinning:
         * a spinning bench takes a core from the node it measures */
        double until = r < n ? start + (double)r * gap : s_now() + 0.1;
        double wait_ms = (until - s_now()) * 1e3;
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, wait_ms > 0 ? (long)ceil(wait_ms) : 0) <= 0) {
            continue;
        }
        for (int k = 0; k < 256; k++) {
            zmq_msg_t topic;
            zmq_msg_t body;
            zmq_msg_init(&topic);
            zmq_msg_init(&body);
            bool ok = zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) >= 0 &&
                      zmq_msg_recv(&body, sub, 0) >= 0;
            double at = s_now();
            long twin = ok ? s_twin_of(&topic, prefix, assets) : -1;
            msgpack_zone z;
            msgpack_zone_init(&z, 2048);
            msgpack_object o;
            uint64_t ts = 0;
            if (twin >= 0 &&
                tm_wire_unpack(zmq_msg_data(&body), zmq_msg_size(&body), NULL,
                               &z, &o) == 0 &&
                tm_wire_get_u64(&o, "ts", &ts) == 0 && ts >= t0 &&
                (ts - t0) % gap_ns == 0 && (ts - t0) / gap_ns < (uint64_t)n) {
                /* the first output of a row's step once the row was sent
                 * (a step the node took before the row came published
                 * its prediction: not an answer to the row) */
                uint64_t row = (ts - t0) / gap_ns;
                size_t at_k = (size_t)twin * (size_t)n + row;
                if (sent[row] > 0 && !seen[at_k]) {
                    seen[at_k] = true;
                    lat[got++] = at - sent[row];
                } else if (sent[row] == 0) {
                    early++;
                }
            }
            msgpack_zone_destroy(&z);
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            if (!ok) {
                break;
            }
        }
    }
    qsort(lat, got, sizeof *lat, s_cmp);
    if (got > 0) {
        printf("latency of %zu rows of 8 samples (%zu twins, a row each every "
               "%.4f s: %.0f samples/s, %s): p50 %.1f us, p99 %.1f us, max "
               "%.1f us (round sent -> output received)\n",
               got, assets, gap, (double)(assets * S_SIGNALS) / gap,
               round ? "one frame per round" : "a frame per twin",
               lat[got / 2] * 1e6, lat[got * 99 / 100] * 1e6,
               lat[got - 1] * 1e6);
    }
    printf("outputs of a row's step before the row was sent: %d (the node "
           "stepped ahead; those rows are rejected as late); rows without "
           "an output after it: %zu of %zu\n",
           early, total - got, total);
    free(sent);
    free(lat);
    free(seen);
    return got > 0 ? 0 : 1; /* late rows are the node's rule, counted */
}

static int s_usage(const char *self)
{
    fprintf(stderr,
            "usage: %s -c CONSOLE [--prefix P] [--assets N] [--rows R] "
            "[--batch B]\n"
            "           [--repeat K] [--check-rate SAMPLES_PER_S]\n"
            "       %s -c CONSOLE [--prefix P] --latency N [--gap S] "
            "[--assets A]\n"
            "           [--frames twin|round]\n",
            self, self);
    return 2;
}

int main(int argc, char **argv)
{
    const char *ep = "tcp://127.0.0.1:7700";
    const char *prefix = "tb";
    size_t assets = 0; /* 1000, or 1 for --latency */
    size_t rows = 50;
    size_t batch = 4096;
    int repeat = 5;
    int latency = 0;
    double gap = 0.01;
    bool round = false;
    double check_rate = 0;
    if ((argc - 1) % 2 != 0) {
        return s_usage(argv[0]);
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0) {
            ep = argv[i + 1];
        } else if (strcmp(argv[i], "--prefix") == 0) {
            prefix = argv[i + 1];
        } else if (strcmp(argv[i], "--assets") == 0) {
            assets = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--rows") == 0) {
            rows = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--repeat") == 0) {
            repeat = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--latency") == 0) {
            latency = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--gap") == 0) {
            gap = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--frames") == 0 &&
                   (strcmp(argv[i + 1], "twin") == 0 ||
                    strcmp(argv[i + 1], "round") == 0)) {
            round = strcmp(argv[i + 1], "round") == 0;
        } else if (strcmp(argv[i], "--check-rate") == 0) {
            check_rate = atof(argv[i + 1]);
        } else {
            return s_usage(argv[0]);
        }
    }
    if (assets == 0) {
        assets = latency > 0 ? 1 : 1000;
    }
    if (rows == 0 || batch == 0 || batch > TM_TELEM_BATCH_MAX || repeat < 1 ||
        latency < 0 || !(gap >= 1e-6 && gap <= 10) ||
        (round && assets * S_SIGNALS > TM_TELEM_BATCH_MAX)) {
        fprintf(stderr, "bench: bad arguments\n");
        return 2;
    }
    tm_client_t *c = NULL;
    if (tm_client_open(&c, ep) != 0) {
        fprintf(stderr, "bench: cannot open %s\n", ep);
        return 1;
    }
    const char *stats[] = {"stats"};
    char tel[300] = "";
    if (s_cmd(c, 1, stats, "telemetry", "endpoint", tel, sizeof tel) != 0 ||
        tel[0] == '\0') {
        fprintf(stderr, "bench: the node has no telemetry endpoint\n");
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int hwm = 100000;
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect(push, tel) != 0) {
        fprintf(stderr, "bench: cannot connect %s\n", tel);
        return 1;
    }
    int rc = 0;
    if (latency > 0) {
        char out[300] = "";
        void *sub = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        if (s_cmd(c, 1, stats, "telemetry", "outputs", out, sizeof out) != 0 ||
            out[0] == '\0' || zmq_connect(sub, out) != 0) {
            fprintf(stderr, "bench: the node has no outputs endpoint\n");
            return 1;
        }
        struct timespec d = {0, 300000000}; /* the subscription settles */
        nanosleep(&d, NULL);
        rc = s_latency(push, sub, prefix, assets, latency, gap, round);
        double nl[5];
        s_node_latency(c, nl);
        printf("node: row's first sample read -> output published (last "
               "4096 rows): p50 %.1f us, p99 %.1f us, max %.1f us; ticks "
               "stepped on arrival: %.0f; rows measured: %.0f\n",
               nl[0], nl[1], nl[2], nl[3], nl[4]);
        int linger = 0;
        zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(sub);
    } else {
        double median = 0;
        rc =
            s_throughput(c, push, prefix, assets, rows, batch, repeat, &median);
        if (rc == 0 && check_rate > 0) {
            bool ok = median >= check_rate;
            printf("check: median %.0f samples/s %s %.0f: %s\n", median,
                   ok ? ">=" : "<", check_rate, ok ? "met" : "NOT MET");
            rc = ok ? 0 : 3;
        }
    }
    int linger = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    zmq_ctx_term(ctx);
    tm_client_destroy(&c);
    return rc;
}
