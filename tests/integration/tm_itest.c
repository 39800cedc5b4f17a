/* tm_itest: small helpers for the integration test scripts.
 *
 *   tm_itest port                     print a free TCP port on 127.0.0.1
 *   tm_itest get PATH                 print the JSON value at PATH (stdin)
 *   tm_itest has PATH:TYPE...         check that stdin's JSON document has
 *                                     each PATH with that type (object,
 *                                     array, string, integer, real,
 *                                     number, bool, null); exit 1 if not
 *   tm_itest lines-json               check that every stdin line is one
 *                                     JSON document; print the count
 *   tm_itest bad ENDPOINT KIND        send one malformed request of KIND to
 *                                     a node's console and print the reply
 *                                     ("STATUS_NAME message (seq N)") or "no
 *                                     reply"
 *                                     (kinds: garbage bomb deep huge empty
 *                                     truncated version msgtype msgtype9
 *                                     twoframes manyframes: a request
 *                                     followed by 2,000,000 empty frames
 *                                     noargv argvtype unknown)
 *   tm_itest hostile-node ENDPOINT    bind a console endpoint and answer
 *                                     every request with a well-formed
 *                                     reply whose body has every field a
 *                                     console reads, of the wrong type or
 *                                     out of range (lists for list
 *                                     commands); exit after 2 s idle
 *   tm_itest endless-node ENDPOINT SECONDS
 *                                     bind a console endpoint, take one
 *                                     request and stream parts of its
 *                                     answer every 50 ms for SECONDS,
 *                                     ignoring cancels; print how many
 *                                     requests (cancels) came after it
 *
 *   tm_itest count | chain-ref | near | index | sorted (tm_itest_mesh.c)
 *
 * PATH: ".a.b[2].c"; "." is the document itself. Strings print raw,
 * everything else as compact JSON.
 */
#include "tm_itest.h"

#include "tm_err.h"
#include "tm_msg.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* Whether TCP port p on 127.0.0.1 can be bound now. */
static bool s_port_free(unsigned p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)p);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Hand port p out once in S_PORT_HOLD_S seconds, to every test on this
 * machine: a bindable port is not yet bound by the node it is meant for,
 * so two tests running side by side (or two calls of one test before its
 * nodes start) could otherwise both be given it. A file per port in
 * S_PORT_DIR, created exclusively; one older than a test may run is
 * stale and taken over. */
#define S_PORT_DIR    "/tmp/tm-itest-ports"
#define S_PORT_HOLD_S 900
static bool s_port_claim(unsigned p)
{
    char path[64];
    struct stat st;
    (void)mkdir(S_PORT_DIR, 0777);
    snprintf(path, sizeof path, S_PORT_DIR "/%u", p);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
    if (fd < 0 && stat(path, &st) == 0 &&
        time(NULL) - st.st_mtime > S_PORT_HOLD_S && unlink(path) == 0) {
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
    }
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
}

/* A free port below the kernel's ephemeral range (32768 and up by
 * default): ports from there are also the local ends of outgoing
 * connections - a node's connections to its peers - so one handed out by
 * bind(0) could be taken by such a connection before the node that is
 * to listen on it starts, with tests running side by side. */
static int s_port(void)
{
    unsigned seed =
        (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)clock();
    for (int i = 0; i < 500; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned p = 20000u + (seed >> 8) % 12000u;
        if (s_port_free(p) && s_port_claim(p)) {
            printf("%u\n", p);
            return 0;
        }
    }
    fprintf(stderr, "tm_itest port: no free port in 20000..31999\n");
    return 1;
}

/* Walk ".a.b[2]" from root; NULL if absent. */
static json_t *s_path(json_t *root, const char *path)
{
    json_t *cur = root;
    const char *p = path;
    if (*p == '.') {
        p++;
    }
    while (cur != NULL && *p != '\0') {
        if (*p == '[') {
            char *end = NULL;
            long i = strtol(p + 1, &end, 10);
            if (end == NULL || *end != ']') {
                return NULL;
            }
            cur = json_array_get(cur, (size_t)i);
            p = end + 1;
        } else {
            char key[256];
            size_t n = strcspn(p, ".[");
            if (n >= sizeof key) {
                return NULL;
            }
            memcpy(key, p, n);
            key[n] = '\0';
            cur = json_object_get(cur, key);
            p += n;
        }
        if (*p == '.') {
            p++;
        }
    }
    return cur;
}

static json_t *s_load_stdin(void)
{
    json_error_t e;
    json_t *doc = json_loadf(stdin, JSON_DECODE_ANY, &e);
    if (doc == NULL) {
        fprintf(stderr,
                "tm_itest: stdin is not one JSON document: %s "
                "(line %d)\n",
                e.text, e.line);
    }
    return doc;
}

static int s_get(const char *path)
{
    json_t *doc = s_load_stdin();
    if (doc == NULL) {
        return 1;
    }
    json_t *v = s_path(doc, path);
    int rc = 0;
    if (v == NULL) {
        fprintf(stderr, "tm_itest: no %s in the document\n", path);
        rc = 1;
    } else if (json_is_string(v)) {
        printf("%s\n", json_string_value(v));
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\n", s ? s : "?");
        free(s);
    }
    json_decref(doc);
    return rc;
}

static int s_type_ok(json_t *v, const char *t)
{
    if (strcmp(t, "object") == 0) {
        return json_is_object(v);
    }
    if (strcmp(t, "array") == 0) {
        return json_is_array(v);
    }
    if (strcmp(t, "string") == 0) {
        return json_is_string(v);
    }
    if (strcmp(t, "integer") == 0) {
        return json_is_integer(v);
    }
    if (strcmp(t, "real") == 0) {
        return json_is_real(v);
    }
    if (strcmp(t, "number") == 0) {
        return json_is_number(v);
    }
    if (strcmp(t, "bool") == 0) {
        return json_is_boolean(v);
    }
    if (strcmp(t, "null") == 0) {
        return json_is_null(v);
    }
    return 0;
}

static int s_has(int argc, char **argv)
{
    json_t *doc = s_load_stdin();
    int bad = 0;
    if (doc == NULL) {
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        char spec[512];
        snprintf(spec, sizeof spec, "%s", argv[i]);
        char *colon = strrchr(spec, ':');
        if (colon == NULL) {
            fprintf(stderr, "tm_itest: bad spec %s (PATH:TYPE)\n", spec);
            bad++;
            continue;
        }
        *colon = '\0';
        json_t *v = s_path(doc, spec);
        if (v == NULL || !s_type_ok(v, colon + 1)) {
            fprintf(stderr, "tm_itest: %s is %s, expected %s\n", spec,
                    v == NULL ? "missing" : "of another type", colon + 1);
            bad++;
        }
    }
    json_decref(doc);
    return bad ? 1 : 0;
}

static int s_lines_json(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    int bad = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        json_error_t e;
        json_t *doc = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &e);
        if (doc == NULL) {
            fprintf(stderr, "tm_itest: line %d is not JSON: %s\n", count + 1,
                    e.text);
            bad++;
        }
        json_decref(doc);
        count++;
    }
    free(line);
    printf("%d\n", count);
    return bad ? 1 : 0;
}

/* ---- malformed requests ------------------------------------------------- */

static int s_envelope(uint32_t version, uint32_t type, const uint8_t *payload,
                      size_t plen, uint8_t **out, size_t *out_len)
{
    /* Built by hand so that any version and type can be sent. */
    size_t cap = plen + 128;
    uint8_t *b = malloc(cap);
    size_t n = 0;
    if (b == NULL) {
        return TM_ERR_NOMEM;
    }
    b[n++] = 0x97; /* array of 7 */
    b[n++] = (uint8_t)(version & 0x7f);
    b[n++] = (uint8_t)(type & 0x7f);
    b[n++] = 0xa5;
    memcpy(b + n, "itest", 5);
    n += 5;
    b[n++] = 0xa4;
    memcpy(b + n, "node", 4);
    n += 4;
    b[n++] = 0x00; /* tick */
    b[n++] = 0x07; /* seq */
    memcpy(b + n, payload, plen);
    n += plen;
    *out = b;
    *out_len = n;
    return 0;
}

static int s_bad(const char *endpoint, const char *kind)
{
    uint8_t *frame = NULL;
    size_t flen = 0;
    uint8_t *payload = NULL;
    size_t plen = 0;
    uint8_t *extra = NULL;
    size_t elen = 0;
    size_t n_extra = 1;
    int rc = 0;
    if (strcmp(kind, "garbage") == 0) {
        static const uint8_t g[] = {0xc1, 0xff, 0x00, 0x13, 0x37};
        frame = malloc(sizeof g);
        memcpy(frame, g, sizeof g);
        flen = sizeof g;
    } else if (strcmp(kind, "bomb") == 0) {
        /* array32 announcing 4 billion elements in 5 bytes */
        static const uint8_t g[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
        frame = malloc(sizeof g);
        memcpy(frame, g, sizeof g);
        flen = sizeof g;
    } else if (strcmp(kind, "deep") == 0) {
        flen = 100000;
        frame = malloc(flen);
        memset(frame, 0x91, flen - 1); /* [[[[...]]]] */
        frame[flen - 1] = 0xc0;
    } else if (strcmp(kind, "huge") == 0) {
        flen = 2u << 20; /* over the node's 1 MiB ZMQ_MAXMSGSIZE */
        frame = malloc(flen);
        memset(frame, 0xc0, flen);
    } else if (strcmp(kind, "empty") == 0) {
        frame = malloc(1);
        flen = 0;
    } else if (strcmp(kind, "truncated") == 0) {
        const char *argv[] = {"nodes"};
        rc = tm_console_req_encode(1, argv, &payload, &plen);
        if (rc == 0) {
            rc = s_envelope(1, 1, payload, plen, &frame, &flen);
        }
        flen -= 3;
    } else if (strcmp(kind, "version") == 0 || strcmp(kind, "msgtype") == 0 ||
               strcmp(kind, "msgtype9") == 0 ||
               strcmp(kind, "twoframes") == 0 ||
               strcmp(kind, "manyframes") == 0 ||
               strcmp(kind, "unknown") == 0) {
        const char *argv[] = {strcmp(kind, "unknown") == 0 ? "frobnicate"
                                                           : "nodes"};
        rc = tm_console_req_encode(1, argv, &payload, &plen);
        uint32_t version = strcmp(kind, "version") == 0 ? 9 : 1;
        uint32_t type = strcmp(kind, "msgtype") == 0    ? 3
                        : strcmp(kind, "msgtype9") == 0 ? 9
                                                        : 1;
        if (rc == 0) {
            rc = s_envelope(version, type, payload, plen, &frame, &flen);
        }
        if (strcmp(kind, "twoframes") == 0) {
            extra = malloc(4);
            memcpy(extra, "junk", 4);
            elen = 4;
        }
        if (strcmp(kind, "manyframes") == 0) {
            extra = malloc(1);
            elen = 0;
            n_extra = 2000000;
        }
    } else if (strcmp(kind, "noargv") == 0) {
        static const uint8_t p[] = {0x81, 0xa1, 'x', 0x01}; /* {"x": 1} */
        rc = s_envelope(1, 1, p, sizeof p, &frame, &flen);
    } else if (strcmp(kind, "argvtype") == 0) {
        /* {"argv": [1, 2]} */
        static const uint8_t p[] = {0x81, 0xa4, 'a',  'r', 'g',
                                    'v',  0x92, 0x01, 0x02};
        rc = s_envelope(1, 1, p, sizeof p, &frame, &flen);
    } else {
        fprintf(stderr, "tm_itest: unknown kind %s\n", kind);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "tm_itest: cannot build %s: %s\n", kind,
                tm_err_str(rc));
        free(frame);
        free(payload);
        free(extra);
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    int timeout = n_extra > 1 ? 60000 : 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(s, endpoint);
    zmq_send(s, frame, flen, extra ? ZMQ_SNDMORE : 0);
    for (size_t i = 0; extra != NULL && i < n_extra; i++) {
        zmq_send(s, extra, elen, i + 1 < n_extra ? ZMQ_SNDMORE : 0);
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) < 0) {
        printf("no reply\n");
    } else {
        tm_envelope_t env;
        tm_console_rep_t rep;
        int d = tm_envelope_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), NULL,
                                   &env);
        if (d == 0) {
            d = tm_console_rep_decode(env.payload, env.payload_len, NULL, &rep);
        }
        if (d != 0) {
            printf("undecodable reply: %s\n", tm_err_name(d));
        } else {
            printf("%s %.*s (seq %llu)\n", tm_err_name(rep.status),
                   (int)rep.message_len, rep.message,
                   (unsigned long long)env.seq);
        }
    }
    zmq_msg_close(&msg);
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(frame);
    free(payload);
    free(extra);
    return 0;
}

/* ---- a node that sends hostile reply bodies ---------------------------- */

/* A map with every key a console renders, each of a type or range it does
 * not expect. depth > 0 nests the keys that hold maps or lists. */
static void s_hostile_map(msgpack_packer *pk, int depth)
{
    static const char *const strs[] = {
        "id",      "name",     "site", "clock",   "endpoint", "model",
        "version", "fidelity", "node", "summary", "status",   "input",
        "src",     "output",   "dst",  "digest"};
    static const char *const nums[] = {
        "actors",       "tick",         "t",           "h",
        "lag_s",        "links",        "groups",      "workers",
        "steps",        "faults",       "steps_per_s", "ticks_per_s",
        "last_tick_us", "uptime_s",     "shard",       "period",
        "step_ns",      "lag",          "worker",      "busy_us",
        "every",        "count",        "failed",      "last_ms",
        "map_size",     "used_bytes",   "commits",     "grows",
        "requests",     "errors",       "dropped",     "streams",
        "last_fault",   "last_stepped", "done",        "ticks",
        "in_total",     "out_total"};
    static const char *const maps[] = {
        "checkpoint", "store", "console",     "health",  "values",
        "held",       "state", "inputs",      "outputs", "params",
        "states",     "units", "supervision", "pending"};
    size_t nstr = sizeof strs / sizeof strs[0];
    size_t nnum = sizeof nums / sizeof nums[0];
    size_t nmap = depth > 0 ? sizeof maps / sizeof maps[0] : 0;
    msgpack_pack_map(pk, nstr + nnum + nmap + (depth > 0 ? 3 : 0));
    for (size_t i = 0; i < nstr; i++) {
        tm_wire_pack_str(pk, strs[i]);
        if (i % 3 == 0) {
            msgpack_pack_int64(pk, -7);
        } else if (i % 3 == 1) {
            msgpack_pack_nil(pk);
        } else {
            msgpack_pack_double(pk, 1e300);
        }
    }
    for (size_t i = 0; i < nnum; i++) {
        tm_wire_pack_str(pk, nums[i]);
        if (i % 4 == 0) {
            msgpack_pack_double(pk, 1e300);
        } else if (i % 4 == 1) {
            msgpack_pack_double(pk, -1e300);
        } else if (i % 4 == 2) {
            tm_wire_pack_str(pk, "many");
        } else {
            msgpack_pack_uint64(pk, UINT64_MAX);
        }
    }
    for (size_t i = 0; i < nmap; i++) {
        tm_wire_pack_str(pk, maps[i]);
        s_hostile_map(pk, depth - 1);
    }
    if (depth > 0) {
        static const char *const lists[] = {"shards", "rows"};
        for (size_t i = 0; i < 2; i++) {
            tm_wire_pack_str(pk, lists[i]);
            msgpack_pack_array(pk, 3);
            s_hostile_map(pk, depth - 1);
            msgpack_pack_int64(pk, 3);
            msgpack_pack_nil(pk);
        }
        tm_wire_pack_str(pk, "links");
        msgpack_pack_map(pk, 2);
        tm_wire_pack_str(pk, "in");
        msgpack_pack_array(pk, 1);
        s_hostile_map(pk, 0);
        tm_wire_pack_str(pk, "out");
        msgpack_pack_double(pk, 2.5);
    }
}

/* The body for a request: a list for the list commands, else a map. */
static int s_hostile_body(const char *cmd, uint8_t **out, size_t *len)
{
    static const char *const lists[] = {"nodes", "actors", "ls", "ids",
                                        "models"};
    tm_wire_buf_t b;
    bool list = false;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        list = list || strcmp(cmd, lists[i]) == 0;
    }
    tm_wire_buf_init(&b);
    if (list) {
        msgpack_pack_array(&b.pk, 5);
        s_hostile_map(&b.pk, 1);
        msgpack_pack_int64(&b.pk, 42);
        msgpack_pack_nil(&b.pk);
        msgpack_pack_double(&b.pk, -1e300);
        tm_wire_pack_str(&b.pk, "id-ok");
    } else {
        s_hostile_map(&b.pk, 2);
    }
    int rc = tm_wire_buf_finish(&b, out, len);
    tm_wire_buf_destroy(&b);
    return rc;
}

/* Answer the request in env (from routing id `id`) with a console reply
 * of `body`, from `source`, with the more flag given. */
static int s_fake_reply(void *s, zmq_msg_t *id, const tm_envelope_t *env,
                        const char *source, int more, const uint8_t *body,
                        size_t blen)
{
    uint8_t *payload = NULL, *reply = NULL;
    size_t plen = 0, rlen = 0;
    int rc = tm_console_rep_encode(0, NULL, source, more, body, blen, &payload,
                                   &plen);
    if (rc == 0) {
        tm_envelope_t out = *env;
        out.type = TM_MSG_CONSOLE_REP;
        snprintf(out.source, sizeof out.source, "%s", source);
        snprintf(out.destination, sizeof out.destination, "%s", env->source);
        rc = tm_envelope_encode(&out, payload, plen, &reply, &rlen);
    }
    if (rc == 0) {
        zmq_send(s, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
        zmq_send(s, reply, rlen, 0);
    }
    free(payload);
    free(reply);
    return rc;
}

static int s_hostile_node(const char *endpoint)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    int idle_ms = 2000;
    int answered = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &idle_ms, sizeof idle_ms);
    if (zmq_bind(s, endpoint) != 0) {
        fprintf(stderr, "tm_itest: cannot bind %s\n", endpoint);
        zmq_close(s);
        zmq_ctx_term(ctx);
        return 2;
    }
    for (;;) {
        zmq_msg_t id, frame;
        zmq_msg_init(&id);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&id, s, 0) < 0 || zmq_msg_recv(&frame, s, 0) < 0) {
            zmq_msg_close(&id);
            zmq_msg_close(&frame);
            break; /* idle: the test is done */
        }
        tm_envelope_t env;
        tm_console_req_t req;
        uint8_t *body = NULL;
        size_t blen = 0;
        memset(&req, 0, sizeof req);
        int rc = tm_envelope_decode(zmq_msg_data(&frame), zmq_msg_size(&frame),
                                    NULL, &env);
        if (rc == 0) {
            rc =
                tm_console_req_decode(env.payload, env.payload_len, NULL, &req);
        }
        if (rc == 0) {
            rc = s_hostile_body(req.argv[0], &body, &blen);
        }
        if (rc == 0) {
            rc = s_fake_reply(s, &id, &env, "hostile", 0, body, blen);
        }
        if (rc == 0) {
            answered++;
        } else {
            fprintf(stderr, "tm_itest: hostile-node: %s\n", tm_err_str(rc));
        }
        tm_console_req_free(&req);
        free(body);
        zmq_msg_close(&id);
        zmq_msg_close(&frame);
    }
    printf("%d\n", answered);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

/* ---- a node that never ends a stream ----------------------------------- */

/* One part of an answer to env (a watch item {"tick": tick}). */
static int s_endless_part(void *s, zmq_msg_t *id, const tm_envelope_t *env,
                          uint64_t tick)
{
    tm_wire_buf_t b;
    uint8_t *body = NULL;
    size_t blen = 0;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 1);
    tm_wire_pack_str(&b.pk, "tick");
    msgpack_pack_uint64(&b.pk, tick);
    int rc = tm_wire_buf_finish(&b, &body, &blen);
    tm_wire_buf_destroy(&b);
    if (rc == 0) {
        rc = s_fake_reply(s, id, env, "endless", 1, body, blen);
    }
    free(body);
    return rc;
}

static int s_endless_node(const char *endpoint, double seconds)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    int wait_ms = 10000;
    int later = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
    zmq_msg_t id, frame;
    zmq_msg_init(&id);
    zmq_msg_init(&frame);
    tm_envelope_t env;
    int rc = zmq_bind(s, endpoint) == 0 ? 0 : TM_ERR_IO;
    if (rc == 0 &&
        (zmq_msg_recv(&id, s, 0) < 0 || zmq_msg_recv(&frame, s, 0) < 0)) {
        rc = TM_ERR_TIMEOUT;
    }
    if (rc == 0) {
        rc = tm_envelope_decode(zmq_msg_data(&frame), zmq_msg_size(&frame),
                                NULL, &env);
    }
    for (uint64_t t = 1; rc == 0 && t * 0.05 <= seconds; t++) {
        rc = s_endless_part(s, &id, &env, t);
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        while (rc == 0 && zmq_poll(&it, 1, 50) > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0) {
                later += !zmq_msg_more(&m); /* a cancel: ignored */
            }
            zmq_msg_close(&m);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "tm_itest: endless-node: %s\n", tm_err_str(rc));
    }
    printf("%d\n", later);
    zmq_msg_close(&id);
    zmq_msg_close(&frame);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc != 0;
}

/* ---- floods ------------------------------------------------------------- */

/* `clients` consoles each send `requests` copies of one command and never
 * read a reply; they stay connected for `hold` seconds, then go away. */
static int s_flood(const char *endpoint, int clients, int requests, double hold,
                   const char *cmd)
{
    const char *argv[] = {cmd};
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (clients < 1 || clients > 256 || requests < 1 ||
        tm_console_req_encode(1, argv, &payload, &plen) != 0) {
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *socks[256];
    int sent = 0;
    for (int c = 0; c < clients; c++) {
        int zero = 0;
        int hwm = 0; /* no limit: the whole backlog reaches the node */
        socks[c] = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(socks[c], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(socks[c], ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_connect(socks[c], endpoint);
    }
    for (int r = 0; r < requests; r++) {
        for (int c = 0; c < clients; c++) {
            tm_envelope_t env;
            uint8_t *frame = NULL;
            size_t flen = 0;
            memset(&env, 0, sizeof env);
            env.version = TM_PROTO_VERSION;
            env.type = TM_MSG_CONSOLE_REQ;
            snprintf(env.source, sizeof env.source, "flood%d", c);
            env.seq = (uint64_t)r + 1;
            if (tm_envelope_encode(&env, payload, plen, &frame, &flen) == 0 &&
                zmq_send(socks[c], frame, flen, 0) >= 0) {
                sent++;
            }
            free(frame);
        }
    }
    printf("%d\n", sent);
    fflush(stdout);
    struct timespec ts = {(time_t)hold,
                          (long)((hold - (double)(time_t)hold) * 1e9)};
    nanosleep(&ts, NULL);
    for (int c = 0; c < clients; c++) {
        zmq_close(socks[c]);
    }
    zmq_ctx_term(ctx);
    free(payload);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "port") == 0) {
        return s_port();
    }
    if (argc == 3 && strcmp(argv[1], "get") == 0) {
        return s_get(argv[2]);
    }
    if (argc >= 3 && strcmp(argv[1], "has") == 0) {
        return s_has(argc - 2, argv + 2);
    }
    if (argc == 2 && strcmp(argv[1], "lines-json") == 0) {
        return s_lines_json();
    }
    if (argc == 4 && strcmp(argv[1], "bad") == 0) {
        return s_bad(argv[2], argv[3]);
    }
    if (argc == 3 && strcmp(argv[1], "hostile-node") == 0) {
        return s_hostile_node(argv[2]);
    }
    if (argc == 4 && strcmp(argv[1], "endless-node") == 0) {
        return s_endless_node(argv[2], atof(argv[3]));
    }
    if (argc == 7 && strcmp(argv[1], "flood") == 0) {
        return s_flood(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]),
                       argv[6]);
    }
    if (argc >= 2 && argc <= 3 && strcmp(argv[1], "count") == 0) {
        return tmi_it_count(argc - 2, argv + 2);
    }
    if (argc == 5 && strcmp(argv[1], "chain-ref") == 0) {
        return tmi_it_chain(atoi(argv[2]), atol(argv[3]), atof(argv[4]));
    }
    if (argc == 4 && strcmp(argv[1], "index") == 0) {
        return tmi_it_index(argv[2], argv[3]);
    }
    if (argc == 3 && strcmp(argv[1], "sorted") == 0) {
        return tmi_it_sorted(argv[2]);
    }
    if (argc == 5 && strcmp(argv[1], "near") == 0) {
        return tmi_it_near(argv[2], argv[3], atof(argv[4]));
    }
    if (argc == 3 && strcmp(argv[1], "telem-send") == 0) {
        return tmi_it_telem_send(argv[2]);
    }
    if (argc == 5 && strcmp(argv[1], "telem-sub") == 0) {
        return tmi_it_telem_sub(argv[2], atol(argv[3]), atof(argv[4]));
    }
    fprintf(stderr, "usage: tm_itest port | get PATH | has PATH:TYPE... | "
                    "flood ENDPOINT CLIENTS REQUESTS SECONDS COMMAND | "
                    "lines-json | bad ENDPOINT KIND | hostile-node "
                    "ENDPOINT | endless-node ENDPOINT SECONDS | count "
                    "[KEY=VALUE] | chain-ref N TICKS H | near "
                    "FILE FILE TOL | index KEY VALUE | sorted KEY | telem-send "
                    "ENDPOINT | "
                    "telem-sub ENDPOINT COUNT SECONDS\n");
    return 2;
}
