/* tm_msg: encoders and hardened decoders for the twinmesh wire messages.
 *
 * Every decoder first runs tm_wire_check() over its whole input, then walks
 * it with the bounded tm_wire_reader_t, checking the type of every field it
 * reads. Nothing is allocated before the input has been validated, and every
 * allocation is bounded by the input size. Payload maps may carry keys this
 * version does not know: they are skipped (forward compatibility); a known
 * key given twice is an error, since two decoders could pick different ones.
 */
#include "tm_msg.h"
#include "tm_msg_int.h"

#include "tm_err.h" /* error codes, tm_err_name */

#include <stdlib.h> /* malloc, free */
#include <stdbool.h>
#include <string.h> /* memcpy, memchr, strlen, strnlen */

/* Limits for checking an already-encoded object handed to an encoder: only
 * well-formedness matters there, the receiver applies its own limits. */
const tm_wire_limits_t tmi_msg_any_size = {SIZE_MAX, TM_WIRE_MAX_DEPTH_CAP};

/* A NUL-terminated string of at most max bytes. */
int tmi_msg_cstr_ok(const char *s, size_t max)
{
    return s != NULL && strnlen(s, max + 1) <= max;
}

/* A decoded str that may be used as a name: at most max bytes, no NUL. */
int tmi_msg_str_ok(const char *s, size_t len, size_t max)
{
    return len <= max && (len == 0 || memchr(s, '\0', len) == NULL);
}

int tmi_msg_read_name(tm_wire_reader_t *r, char *dst, size_t max)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = tm_wire_read_str(r, &s, &len);

    if (rc == 0) {
        if (!tmi_msg_str_ok(s, len, max)) {
            rc = TM_ERR_WIRE_FIELD;
        } else {
            memcpy(dst, s, len);
            dst[len] = '\0';
        }
    }
    return rc;
}

/* Read the next map key and look it up in keys[0..nkeys). *idx = its index,
 * or -1 for a key this version does not know. A known key seen before is
 * TM_ERR_WIRE_FIELD. */
int tmi_msg_read_key(tm_wire_reader_t *r, const char *const *keys, int nkeys,
                     unsigned *seen, int *idx)
{
    const char *k = NULL;
    size_t klen = 0;
    int rc = tm_wire_read_str(r, &k, &klen);

    if (rc != 0) {
        return rc;
    }
    *idx = -1;
    for (int i = 0; i < nkeys; i++) {
        if (strlen(keys[i]) == klen && memcmp(keys[i], k, klen) == 0) {
            if (*seen & (1u << i)) {
                return TM_ERR_WIRE_FIELD;
            }
            *seen |= 1u << i;
            *idx = i;
            break;
        }
    }
    return 0;
}

unsigned tmi_msg_all(int nkeys)
{
    return (1u << nkeys) - 1;
}

/* The frame of every payload decoder: check the whole payload, open its
 * map, hand each known key's value to field(), skip unknown keys, and
 * require every key in keys exactly once. */
int tmi_msg_decode_map(const uint8_t *payload, size_t len,
                       const tm_wire_limits_t *limits, const char *const *keys,
                       int nkeys, unsigned required, tmi_msg_field_fn field,
                       void *arg)
{
    tm_wire_reader_t r;
    uint32_t n = 0;
    unsigned seen = 0;
    int rc = tm_wire_check(payload, len, limits);

    if (rc == 0) {
        tm_wire_reader_init(&r, payload, len);
        rc = tm_wire_read_map(&r, &n);
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        int idx = -1;
        rc = tmi_msg_read_key(&r, keys, nkeys, &seen, &idx);
        if (rc == 0) {
            rc = idx < 0 ? tm_wire_read_skip(&r, NULL, NULL)
                         : field(&r, idx, arg);
        }
    }
    if (rc == 0 && (seen & required) != required) {
        rc = TM_ERR_WIRE_FIELD;
    }
    return rc;
}

/* The end of every encoder: hand the bytes over, free the buffer. */
int tmi_msg_finish(tm_wire_buf_t *b, uint8_t **out, size_t *out_len)
{
    int rc = tm_wire_buf_finish(b, out, out_len);

    tm_wire_buf_destroy(b);
    return rc;
}

/* ---- envelope ---------------------------------------------------------- */

int tm_envelope_encode(const tm_envelope_t *env, const uint8_t *payload,
                       size_t payload_len, uint8_t **out, size_t *out_len)
{
    static const uint8_t nil = 0xc0;
    tm_wire_buf_t b;

    if (env == NULL || out == NULL || out_len == NULL ||
        env->type < TM_MSG_CONSOLE_REQ || env->type > TM_MSG_TYPE_MAX ||
        !tmi_msg_cstr_ok(env->source, TM_MSG_NAME_MAX) ||
        !tmi_msg_cstr_ok(env->destination, TM_MSG_NAME_MAX) ||
        (payload == NULL && payload_len > 0)) {
        return TM_ERR_INVAL;
    }
    if (payload_len == 0) {
        payload = &nil;
        payload_len = 1;
    } else if (tm_wire_check(payload, payload_len, &tmi_msg_any_size) != 0) {
        return TM_ERR_INVAL;
    }

    tm_wire_buf_init(&b);
    msgpack_pack_array(&b.pk, 7);
    msgpack_pack_uint32(&b.pk, TM_PROTO_VERSION);
    msgpack_pack_uint32(&b.pk, env->type);
    tm_wire_pack_str(&b.pk, env->source);
    tm_wire_pack_str(&b.pk, env->destination);
    msgpack_pack_uint64(&b.pk, env->tick);
    msgpack_pack_uint64(&b.pk, env->seq);
    tm_wire_pack_raw(&b.pk, payload, payload_len);
    return tmi_msg_finish(&b, out, out_len);
}

int tm_envelope_decode(const uint8_t *buf, size_t len,
                       const tm_wire_limits_t *limits, tm_envelope_t *out)
{
    tm_envelope_t env;
    tm_wire_reader_t r;
    uint32_t n = 0;
    uint64_t v = 0;
    int rc = 0;

    memset(&env, 0, sizeof env);
    if (out == NULL) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    rc = tm_wire_check(buf, len, limits);
    if (rc != 0) {
        goto done;
    }
    tm_wire_reader_init(&r, buf, len);
    rc = tm_wire_read_array(&r, &n);
    if (rc != 0) {
        goto done;
    }
    if (n == 0) {
        rc = TM_ERR_WIRE_FIELD;
        goto done;
    }
    /* The version comes first and is judged before the layout: a later
     * version may change everything after it. */
    rc = tm_wire_read_u64(&r, &v);
    if (rc == TM_ERR_WIRE_FIELD || (rc == 0 && v != TM_PROTO_VERSION)) {
        rc = TM_ERR_WIRE_VERSION;
    }
    if (rc != 0) {
        goto done;
    }
    env.version = (uint32_t)v;
    if (n != 7) {
        rc = TM_ERR_WIRE_FIELD;
        goto done;
    }
    rc = tm_wire_read_u64(&r, &v);
    if (rc == TM_ERR_WIRE_FIELD) {
        rc = TM_ERR_WIRE_MSGTYPE;
    }
    if (rc != 0) {
        goto done;
    }
    /* An unknown type is judged after the rest is read, so that the
     * caller can still answer with the request's seq. */
    bool unknown = v < TM_MSG_CONSOLE_REQ || v > TM_MSG_TYPE_MAX;
    env.type = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    rc = tmi_msg_read_name(&r, env.source, TM_MSG_NAME_MAX);
    if (rc != 0) {
        goto done;
    }
    rc = tmi_msg_read_name(&r, env.destination, TM_MSG_NAME_MAX);
    if (rc != 0) {
        goto done;
    }
    rc = tm_wire_read_u64(&r, &env.tick);
    if (rc != 0) {
        goto done;
    }
    rc = tm_wire_read_u64(&r, &env.seq);
    if (rc != 0) {
        goto done;
    }
    rc = tm_wire_read_skip(&r, &env.payload, &env.payload_len);
    if (rc == 0 && tm_wire_reader_left(&r) != 0) {
        rc = TM_ERR_WIRE_TRAILING; /* excluded by the check; kept as a guard */
    }
    if (rc == 0 && unknown) {
        *out = env; /* all but the type is valid: for the reply's seq */
        return TM_ERR_WIRE_MSGTYPE;
    }
done:
    if (rc == 0) {
        *out = env;
    }
    return rc;
}

/* ---- console request --------------------------------------------------- */

int tm_console_req_encode(uint32_t argc, const char *const *argv, uint8_t **out,
                          size_t *out_len)
{
    tm_wire_buf_t b;

    if (argv == NULL || argc == 0 || out == NULL || out_len == NULL) {
        return TM_ERR_INVAL;
    }
    if (argc > TM_CONSOLE_ARGC_MAX) {
        return TM_ERR_TOO_BIG;
    }
    for (uint32_t i = 0; i < argc; i++) {
        if (argv[i] == NULL) {
            return TM_ERR_INVAL;
        }
        if (!tmi_msg_cstr_ok(argv[i], TM_CONSOLE_ARG_MAX)) {
            return TM_ERR_TOO_BIG;
        }
    }

    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 1);
    tm_wire_pack_str(&b.pk, "argv");
    msgpack_pack_array(&b.pk, argc);
    for (uint32_t i = 0; i < argc; i++) {
        tm_wire_pack_str(&b.pk, argv[i]);
    }
    return tmi_msg_finish(&b, out, out_len);
}

/* Walk argc strings at r; with dst == NULL only validate and add up the
 * bytes they need (NUL included) in *bytes, else copy them there. */
static int s_req_args(tm_wire_reader_t *r, uint32_t argc, char **argv,
                      char *dst, size_t *bytes)
{
    for (uint32_t i = 0; i < argc; i++) {
        const char *s = NULL;
        size_t len = 0;
        int rc = tm_wire_read_str(r, &s, &len);
        if (rc != 0) {
            return rc;
        }
        if (len > TM_CONSOLE_ARG_MAX) {
            return TM_ERR_TOO_BIG;
        }
        if (!tmi_msg_str_ok(s, len, TM_CONSOLE_ARG_MAX)) {
            return TM_ERR_WIRE_FIELD;
        }
        if (dst != NULL) {
            argv[i] = dst;
            memcpy(dst, s, len);
            dst[len] = '\0';
            dst += len + 1;
        } else {
            *bytes += len + 1;
        }
    }
    return 0;
}

/* Decoding state of a request: the argv array is validated and measured
 * first, then copied into one allocation. */
typedef struct {
    uint32_t argc;
    tm_wire_reader_t args; /* at the first argument */
    size_t bytes;          /* the arguments' bytes, NULs included */
} s_req_t;

static int s_req_field(tm_wire_reader_t *r, int idx, void *arg)
{
    s_req_t *q = arg;
    int rc = tm_wire_read_array(r, &q->argc);

    (void)idx; /* "argv" is the only key */
    if (rc == 0 && q->argc > TM_CONSOLE_ARGC_MAX) {
        rc = TM_ERR_TOO_BIG;
    } else if (rc == 0 && q->argc == 0) {
        rc = TM_ERR_WIRE_FIELD; /* a request is at least a command */
    }
    if (rc == 0) {
        q->args = *r;
        rc = s_req_args(r, q->argc, NULL, NULL, &q->bytes);
    }
    return rc;
}

int tm_console_req_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits, tm_console_req_t *out)
{
    static const char *const keys[] = {"argv"};
    s_req_t q;
    char **argv = NULL;
    int rc = 0;

    memset(&q, 0, sizeof q);
    if (out == NULL) {
        rc = TM_ERR_INVAL;
        goto done;
    }
    rc = tmi_msg_decode_map(payload, len, limits, keys, TMI_MSG_NKEYS(keys),
                            tmi_msg_all(TMI_MSG_NKEYS(keys)), s_req_field, &q);
    if (rc != 0) {
        goto done;
    }
    /* One block: argc + 1 pointers, then the strings. bytes <= len + argc. */
    argv = malloc((q.argc + (size_t)1) * sizeof *argv + q.bytes);
    if (argv == NULL) {
        rc = TM_ERR_NOMEM;
        goto done;
    }
    rc = s_req_args(&q.args, q.argc, argv, (char *)(argv + q.argc + 1),
                    &q.bytes);
    if (rc != 0) {
        goto done;
    }
    argv[q.argc] = NULL;
    out->argc = q.argc;
    out->argv = argv;
    argv = NULL;
done:
    free(argv);
    return rc;
}

void tm_console_req_free(tm_console_req_t *req)
{
    if (req != NULL) {
        free(req->argv);
        req->argv = NULL;
        req->argc = 0;
    }
}

/* ---- console reply ----------------------------------------------------- */

int tm_console_rep_encode(int32_t status, const char *error,
                          const char *message, int more, const uint8_t *body,
                          size_t body_len, uint8_t **out, size_t *out_len)
{
    tm_wire_buf_t b;

    if (error == NULL) {
        error = tm_err_name(status);
    }
    if (message == NULL) {
        message = "";
    }
    if (status > 0 || out == NULL || out_len == NULL ||
        !tmi_msg_cstr_ok(error, TM_MSG_NAME_MAX) ||
        (body == NULL && body_len > 0) ||
        (body_len > 0 &&
         tm_wire_check(body, body_len, &tmi_msg_any_size) != 0)) {
        return TM_ERR_INVAL;
    }

    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 5);
    tm_wire_pack_kv_i64(&b.pk, "status", status);
    tm_wire_pack_kv_str(&b.pk, "error", error);
    tm_wire_pack_kv_str(&b.pk, "message", message);
    tm_wire_pack_kv_bool(&b.pk, "more", more);
    tm_wire_pack_str(&b.pk, "body");
    if (body_len == 0) {
        msgpack_pack_nil(&b.pk);
    } else {
        tm_wire_pack_raw(&b.pk, body, body_len);
    }
    return tmi_msg_finish(&b, out, out_len);
}

enum { S_REP_STATUS, S_REP_ERROR, S_REP_MESSAGE, S_REP_MORE, S_REP_BODY };

static int s_rep_field(tm_wire_reader_t *r, int idx, void *arg)
{
    tm_console_rep_t *rep = arg;
    int64_t status = 0;
    int rc = 0;

    switch (idx) {
    case S_REP_STATUS:
        rc = tm_wire_read_i64(r, &status);
        if (rc == 0 && (status > 0 || status < INT32_MIN)) {
            rc = TM_ERR_WIRE_FIELD; /* 0 or a negative tm_err_t */
        }
        rep->status = (int32_t)status;
        break;
    case S_REP_ERROR:
        rc = tm_wire_read_str(r, &rep->error, &rep->error_len);
        if (rc == 0 &&
            !tmi_msg_str_ok(rep->error, rep->error_len, TM_MSG_NAME_MAX)) {
            rc = TM_ERR_WIRE_FIELD;
        }
        break;
    case S_REP_MESSAGE:
        rc = tm_wire_read_str(r, &rep->message, &rep->message_len);
        if (rc == 0 &&
            !tmi_msg_str_ok(rep->message, rep->message_len, SIZE_MAX)) {
            rc = TM_ERR_WIRE_FIELD;
        }
        break;
    case S_REP_MORE:
        rc = tm_wire_read_bool(r, &rep->more);
        break;
    default: /* S_REP_BODY */
        if (tm_wire_read_nil(r) == 0) {
            rep->body = NULL; /* nil: no body */
            rep->body_len = 0;
        } else {
            rc = tm_wire_read_skip(r, &rep->body, &rep->body_len);
        }
        break;
    }
    return rc;
}

int tm_console_rep_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits, tm_console_rep_t *out)
{
    static const char *const keys[] = {"status", "error", "message", "more",
                                       "body"};
    tm_console_rep_t rep;
    int rc = TM_ERR_INVAL;

    memset(&rep, 0, sizeof rep);
    if (out != NULL) {
        rc = tmi_msg_decode_map(payload, len, limits, keys, TMI_MSG_NKEYS(keys),
                                tmi_msg_all(TMI_MSG_NKEYS(keys)), s_rep_field,
                                &rep);
    }
    if (rc == 0) {
        *out = rep;
    }
    return rc;
}
