/* tm_client: console requests and replies over a DEALER socket. */
#include "tm_client.h"

#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_msg.h"
#include "tm_sock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_POLL_SLICE_MS 100
#define S_ENDPOINT_MAX  1024u

struct tm_client {
    void *zctx;
    void *sock;
    void *monitor;  /* PAIR receiving the socket's connection events */
    bool connected; /* a TCP connection to the node is up */
    bool lost;      /* the connection dropped since the last request */
    unsigned generation;
    char endpoint[S_ENDPOINT_MAX + 1];
    uint64_t seq;
    char name[TM_MSG_NAME_MAX + 1];
};

static void s_unmonitor(tm_client_t *c)
{
    if (c->sock != NULL) {
        zmq_socket_monitor(c->sock, NULL, 0);
    }
    if (c->monitor != NULL) {
        zmq_close(c->monitor);
        c->monitor = NULL;
    }
}

/* The socket reports its connection events from before it connects, so
 * that a node that is there but busy is told apart from a node that is not
 * there at all. */
static int s_connect(tm_client_t *c)
{
    char addr[64];
    int zero = 0;
    snprintf(addr, sizeof addr, "inproc://tm-client-%p-%u", (void *)c,
             ++c->generation);
    c->connected = false;
    c->monitor = zmq_socket(c->zctx, ZMQ_PAIR);
    if (c->monitor != NULL &&
        (zmq_setsockopt(c->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
         zmq_connect(c->monitor, addr) != 0)) {
        zmq_close(c->monitor);
        c->monitor = NULL;
    }
    /* linger 0: a console that gives up on a node must exit at once */
    tm_sock_opts_t opts = {.linger_ms = 0,
                           .monitor = c->monitor != NULL ? addr : NULL,
                           .monitor_events =
                               ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED};
    int rc = tm_sock_open(&c->sock, c->zctx, ZMQ_DEALER, c->endpoint,
                          TM_SOCK_CONNECT, &opts);
    if (rc != 0 && c->monitor != NULL) {
        zmq_close(c->monitor);
        c->monitor = NULL;
    }
    return rc;
}

bool tm_client_connected(tm_client_t *c)
{
    /* events: a frame of u16 event + u32 value, then the address */
    while (c->monitor != NULL) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            zmq_msg_close(&addr);
            break;
        }
        if (zmq_msg_more(&ev)) {
            zmq_msg_recv(&addr, c->monitor, ZMQ_DONTWAIT);
        }
        if (zmq_msg_size(&ev) >= 2) {
            uint16_t event = 0;
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
            if (event == ZMQ_EVENT_CONNECTED) {
                c->connected = true;
            } else if (event == ZMQ_EVENT_DISCONNECTED) {
                c->connected = false;
                c->lost = true;
            }
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
    }
    return c->connected;
}

int tm_client_open(tm_client_t **out, const char *endpoint)
{
    *out = NULL;
    if (endpoint == NULL || strlen(endpoint) > S_ENDPOINT_MAX) {
        return TM_ERR_INVAL;
    }
    tm_client_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return TM_ERR_NOMEM;
    }
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    snprintf(c->name, sizeof c->name, "console-%ld", (long)getpid());
    /* Sequence numbers start from the clock, so that replies meant for an
     * earlier console process are never taken for ours. */
    c->seq = (uint64_t)time(NULL) << 20;
    c->zctx = zmq_ctx_new();
    int rc = c->zctx == NULL ? TM_ERR_IO : s_connect(c);
    if (rc != 0) {
        tm_client_destroy(&c);
        return rc;
    }
    *out = c;
    return 0;
}

void tm_client_destroy(tm_client_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    tm_client_t *c = *p;
    s_unmonitor(c);
    tm_sock_close(&c->sock);
    if (c->zctx != NULL) {
        zmq_ctx_term(c->zctx);
    }
    free(c);
    *p = NULL;
}

int tm_client_reset(tm_client_t *c)
{
    c->lost = false;
    s_unmonitor(c);
    tm_sock_close(&c->sock);
    return s_connect(c);
}

const char *tm_client_endpoint(const tm_client_t *c)
{
    return c->endpoint;
}

static int s_send(tm_client_t *c, int argc, const char *const *argv,
                  uint64_t seq);

int tm_client_send(tm_client_t *c, int argc, const char *const *argv)
{
    tm_client_connected(c); /* events of before this request */
    c->lost = false;
    return s_send(c, argc, argv, ++c->seq);
}

bool tm_client_lost(tm_client_t *c)
{
    tm_client_connected(c);
    return c->lost;
}

int tm_client_cancel(tm_client_t *c)
{
    const char *argv[] = {"cancel"};
    return s_send(c, 1, argv, c->seq);
}

/* One envelope of type around payload, with sequence number seq. */
static int s_send_payload(tm_client_t *c, uint32_t type, const uint8_t *payload,
                          size_t plen, uint64_t seq)
{
    uint8_t *frame = NULL;
    size_t flen = 0;
    tm_envelope_t env;
    memset(&env, 0, sizeof env);
    env.version = TM_PROTO_VERSION;
    env.type = type;
    snprintf(env.source, sizeof env.source, "%s", c->name);
    snprintf(env.destination, sizeof env.destination, "node");
    env.seq = seq;
    int rc = tm_envelope_encode(&env, payload, plen, &frame, &flen);
    if (rc == 0 && flen > TM_WIRE_MAX_SIZE_DEFAULT) {
        rc = TM_ERR_TOO_BIG;
    }
    if (rc == 0 && zmq_send(c->sock, frame, flen, ZMQ_DONTWAIT) < 0) {
        rc = tm_sock_err();
    }
    free(frame);
    return rc;
}

static int s_send(tm_client_t *c, int argc, const char *const *argv,
                  uint64_t seq)
{
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (argc < 1) {
        return TM_ERR_INVAL;
    }
    int rc = tm_console_req_encode((uint32_t)argc, argv, &payload, &plen);
    if (rc == 0) {
        rc = s_send_payload(c, TM_MSG_CONSOLE_REQ, payload, plen, seq);
    }
    free(payload);
    return rc;
}

int tm_client_send_chunk(tm_client_t *c, const uint8_t *payload, size_t len)
{
    tm_client_connected(c);
    c->lost = false;
    return s_send_payload(c, TM_MSG_PLANT_CHUNK, payload, len, ++c->seq);
}

void tm_client_reply_free(tm_client_reply_t *rep)
{
    free(rep->message);
    free(rep->body);
    memset(rep, 0, sizeof *rep);
}

/* Decode one frame into rep. 1: a reply to an earlier request (skip). */
static int s_decode(tm_client_t *c, const uint8_t *buf, size_t len,
                    tm_client_reply_t *rep)
{
    tm_envelope_t env;
    tm_console_rep_t r;
    int rc = tm_envelope_decode(buf, len, NULL, &env);
    if (rc != 0) {
        return rc;
    }
    if (env.type != TM_MSG_CONSOLE_REP) {
        return TM_ERR_WIRE_MSGTYPE;
    }
    if (env.seq != c->seq) {
        return 1;
    }
    rc = tm_console_rep_decode(env.payload, env.payload_len, NULL, &r);
    if (rc != 0) {
        return rc;
    }
    memset(rep, 0, sizeof *rep);
    rep->status = r.status;
    size_t n = r.error_len < sizeof rep->error - 1 ? r.error_len
                                                   : sizeof rep->error - 1;
    memcpy(rep->error, r.error, n);
    rep->error[n] = '\0';
    rep->more = r.more != 0;
    rep->tick = env.tick;
    snprintf(rep->node, sizeof rep->node, "%s", env.source);
    rep->message = malloc(r.message_len + 1);
    if (rep->message == NULL) {
        return TM_ERR_NOMEM;
    }
    memcpy(rep->message, r.message, r.message_len);
    rep->message[r.message_len] = '\0';
    if (r.body != NULL && r.body_len > 0) {
        rep->body = malloc(r.body_len);
        if (rep->body == NULL) {
            tm_client_reply_free(rep);
            return TM_ERR_NOMEM;
        }
        memcpy(rep->body, r.body, r.body_len);
        rep->body_len = r.body_len;
    }
    return 0;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tm_client_recv(tm_client_t *c, int timeout_ms, volatile sig_atomic_t *stop,
                   tm_client_reply_t *rep)
{
    int64_t deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
    memset(rep, 0, sizeof *rep);
    for (;;) {
        if (stop != NULL && *stop) {
            return TM_ERR_CLOSED;
        }
        int64_t left = deadline < 0 ? S_POLL_SLICE_MS : deadline - s_now_ms();
        if (left <= 0) {
            return TM_ERR_TIMEOUT;
        }
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(
            &item, 1, (long)(left < S_POLL_SLICE_MS ? left : S_POLL_SLICE_MS));
        if (r < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            return TM_ERR_IO;
        }
        if (r == 0) {
            if (tm_client_lost(c)) {
                return TM_ERR_TIMEOUT; /* no reply will come on this one */
            }
            continue;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        /* The node sends one frame per reply; drop any extra parts. */
        while (zmq_msg_more(&msg)) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            int got = zmq_msg_recv(&extra, c->sock, ZMQ_DONTWAIT);
            int more = got >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more) {
                break;
            }
        }
        int rc = s_decode(c, zmq_msg_data(&msg), zmq_msg_size(&msg), rep);
        zmq_msg_close(&msg);
        if (rc == 1) {
            continue; /* stale */
        }
        if (rc == 0 && rep->status == 0 && rep->more && rep->body == NULL &&
            rep->message != NULL && rep->message[0] == '\0') {
            tm_client_reply_free(rep); /* a keepalive: the node has it */
            memset(rep, 0, sizeof *rep);
            deadline = timeout_ms < 0 ? -1 : s_now_ms() + timeout_ms;
            continue;
        }
        return rc;
    }
}

/* ---- plant uploads ------------------------------------------------------ */

/* An id for an upload: unlikely to repeat across consoles and runs, and
 * within the range of --upload. */
static uint64_t s_upload_id(void)
{
    static uint64_t n;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t id = ((uint64_t)getpid() << 40) ^ ((uint64_t)ts.tv_sec << 20) ^
                  (uint64_t)ts.tv_nsec ^ ++n;
    id &= (UINT64_MAX / 2) >> 1;
    return id != 0 ? id : 1;
}

/* The node's answer to one chunk. */
static int s_chunk_reply(tm_client_t *c, int timeout_ms,
                         volatile sig_atomic_t *stop, tm_client_upload_t *out)
{
    tm_client_reply_t rep;
    int rc = tm_client_recv(c, timeout_ms, stop, &rep);
    if (rc != 0) {
        snprintf(out->message, sizeof out->message,
                 "no answer to upload chunk %u: %s", out->chunks,
                 tm_err_str(rc));
        return rc;
    }
    rc = rep.status;
    if (rc != 0) {
        out->refused = true;
        snprintf(out->message, sizeof out->message, "%s", rep.message);
    } else {
        out->chunks++;
    }
    tm_client_reply_free(&rep);
    return rc;
}

int tm_client_upload(tm_client_t *c, const tm_plant_t *plant, int timeout_ms,
                     volatile sig_atomic_t *stop, tm_client_upload_t *out)
{
    memset(out, 0, sizeof *out);
    tm_plant_chunk_t h = {.upload = s_upload_id()};
    size_t na = 0;
    size_t nl = 0;
    int rc = 0;
    out->upload = h.upload;
    do {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = tm_plant_chunk_encode(
            plant, &h, &na, &nl, TM_WIRE_MAX_SIZE_DEFAULT - 4096, &bytes, &len);
        if (rc == 0) {
            rc = tm_client_send_chunk(c, bytes, len);
        }
        free(bytes);
        if (rc != 0) {
            snprintf(out->message, sizeof out->message,
                     "cannot send the plant: %s", tm_err_str(rc));
            return rc;
        }
        rc = s_chunk_reply(c, timeout_ms, stop, out);
        h.index++;
    } while (rc == 0 && !h.final);
    return rc;
}

/* The whole file at path into *bytes (malloc'd). */
static int s_read_file(const char *path, uint8_t **bytes, size_t *len,
                       tm_client_upload_t *out)
{
    FILE *f = fopen(path, "rb");
    int rc = f == NULL ? (errno == ENOENT ? TM_ERR_NOT_FOUND : TM_ERR_IO) : 0;
    long size = 0;
    if (rc == 0 && (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
                    fseek(f, 0, SEEK_SET) != 0)) {
        rc = TM_ERR_IO;
    }
    if (rc == 0 && (size == 0 || (unsigned long)size > TM_CLIENT_FILE_MAX)) {
        rc = TM_ERR_TOO_BIG;
    }
    uint8_t *b = rc == 0 ? malloc((size_t)size) : NULL;
    rc = rc == 0 && b == NULL ? TM_ERR_NOMEM : rc;
    if (rc == 0 && fread(b, 1, (size_t)size, f) != (size_t)size) {
        rc = TM_ERR_IO;
    }
    if (f != NULL) {
        fclose(f);
    }
    if (rc != 0) {
        free(b);
        out->refused = true;
        snprintf(
            out->message, sizeof out->message, "cannot read %.900s: %s", path,
            rc == TM_ERR_TOO_BIG ? "empty, or over 64 MiB" : tm_err_str(rc));
        return rc;
    }
    *bytes = b;
    *len = (size_t)size;
    return 0;
}

/* Send bytes as FILE_CHUNK messages, each after the last was taken. */
static int s_send_file(tm_client_t *c, tm_file_chunk_t *h, const uint8_t *bytes,
                       size_t len, int timeout_ms, volatile sig_atomic_t *stop,
                       tm_client_upload_t *out)
{
    size_t off = 0;
    int rc = 0;
    do {
        uint8_t *payload = NULL;
        size_t plen = 0;
        h->data = bytes + off;
        h->len = len - off > TM_FILE_CHUNK_DATA_MAX ? TM_FILE_CHUNK_DATA_MAX
                                                    : len - off;
        h->final = off + h->len == len;
        rc = tm_file_chunk_encode(h, &payload, &plen);
        if (rc == 0) {
            tm_client_connected(c);
            c->lost = false;
            rc = s_send_payload(c, TM_MSG_FILE_CHUNK, payload, plen, ++c->seq);
        }
        free(payload);
        if (rc != 0) {
            snprintf(out->message, sizeof out->message,
                     "cannot send the file: %s", tm_err_str(rc));
            return rc;
        }
        rc = s_chunk_reply(c, timeout_ms, stop, out);
        off += h->len;
        h->index++;
    } while (rc == 0 && !h->final);
    return rc;
}

int tm_client_upload_file(tm_client_t *c, const char *path, int timeout_ms,
                          volatile sig_atomic_t *stop, tm_client_upload_t *out)
{
    memset(out, 0, sizeof *out);
    tm_file_chunk_t h = {.upload = s_upload_id()};
    out->upload = h.upload;
    const char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    if (name[0] == '\0' || strlen(name) > TM_FILE_NAME_MAX) {
        out->refused = true;
        snprintf(out->message, sizeof out->message,
                 "%.900s: a file name of 1 to %u bytes is needed", path,
                 TM_FILE_NAME_MAX);
        return TM_ERR_INVAL;
    }
    snprintf(h.file, sizeof h.file, "%s", name);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = s_read_file(path, &bytes, &len, out);
    if (rc == 0) {
        rc = s_send_file(c, &h, bytes, len, timeout_ms, stop, out);
    }
    free(bytes);
    return rc;
}
