/* tm_itest_telem: telemetry helpers of the integration tests.
 *
 *   tm_itest telem-send ENDPOINT   send the frames described on stdin to a
 *                                  node's telemetry (PUSH) endpoint; one
 *                                  line per sample "ASSET SIGNAL TS VALUE
 *                                  [UNIT]" (VALUE may be nan or inf); a
 *                                  line "--" ends a frame (a frame of
 *                                  several samples is a batch); "raw HEX"
 *                                  is a frame of those bytes; "two-frames"
 *                                  a message of two frames
 *   tm_itest telem-sub ENDPOINT COUNT SECONDS
 *                                  subscribe to a node's outputs endpoint
 *                                  and print COUNT messages as JSON lines
 *                                  (exit 1 if fewer came within SECONDS)
 */
#include "tm_itest.h"

#include "tm_telem_wire.h"
#include "tm_wire.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_BATCH 4096

static int s_send(void *sock, const tm_telem_sample_t *s, size_t n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (n == 0) {
        return 0;
    }
    if (tm_telem_encode(s, n, n > 1, &buf, &len) != 0) {
        fprintf(stderr, "tm_itest telem-send: cannot encode\n");
        return 1;
    }
    int rc = zmq_send(sock, buf, len, 0) < 0;
    free(buf);
    return rc;
}

static int s_raw(void *sock, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (uint8_t)v;
    }
    int rc = zmq_send(sock, b, n, 0) < 0;
    free(b);
    return rc;
}

int tmi_it_telem_send(const char *endpoint)
{
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "tm_itest telem-send: cannot connect %s\n", endpoint);
        return 1;
    }
    static tm_telem_sample_t batch[S_BATCH];
    size_t n = 0;
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "--") == 0) {
            rc = s_send(sock, batch, n);
            n = 0;
            continue;
        }
        if (strncmp(line, "raw ", 4) == 0) {
            rc = s_raw(sock, line + 4);
            continue;
        }
        if (strcmp(line, "two-frames") == 0) {
            zmq_send(sock, "a", 1, ZMQ_SNDMORE);
            rc = zmq_send(sock, "b", 1, 0) < 0;
            continue;
        }
        tm_telem_sample_t *s = &batch[n];
        memset(s, 0, sizeof *s);
        char val[64];
        unsigned long long ts = 0;
        int k = sscanf(line, "%64s %31s %llu %63s %15s", s->asset, s->signal,
                       &ts, val, s->unit);
        if (k < 4) {
            fprintf(stderr, "tm_itest telem-send: bad line '%s'\n", line);
            rc = 1;
            break;
        }
        s->ts = ts;
        s->value = strtod(val, NULL);
        if (++n == S_BATCH) {
            rc = s_send(sock, batch, n);
            n = 0;
        }
    }
    if (rc == 0) {
        rc = s_send(sock, batch, n);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc;
}

static json_t *s_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_array_append_new(a, s_json(&o->via.array.ptr[i]));
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR) {
                char key[128];
                snprintf(key, sizeof key, "%.*s", (int)k->via.str.size,
                         k->via.str.ptr);
                json_object_set_new(m, key, s_json(&o->via.map.ptr[i].val));
            }
        }
        return m;
    }
    default:
        return json_null();
    }
}

int tmi_it_telem_sub(const char *endpoint, long count, double seconds)
{
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
    int tmo = 100;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    if (zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "tm_itest telem-sub: cannot connect %s\n", endpoint);
        return 1;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long got = 0;
    while (got < count) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((double)(t1.tv_sec - t0.tv_sec) +
                (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9 >
            seconds) {
            break;
        }
        zmq_msg_t topic;
        zmq_msg_t body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, sock, 0) < 0 ||
            zmq_msg_recv(&body, sock, 0) < 0) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            continue;
        }
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        msgpack_object obj;
        if (tm_wire_unpack(zmq_msg_data(&body), zmq_msg_size(&body), NULL,
                           &zone, &obj) == 0) {
            json_t *j = s_json(&obj);
            char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", txt);
            fflush(stdout);
            free(txt);
            json_decref(j);
            got++;
        }
        msgpack_zone_destroy(&zone);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return got == count ? 0 : 1;
}
