/* tm_msg: twinmesh wire messages over MessagePack (spec: docs/protocol.md).
 *
 * Every message is one MessagePack array, the envelope:
 *
 *   [version, type, source, destination, tick, seq, payload]
 *
 * version uint (TM_PROTO_VERSION), type uint (tm_msg_type_t), source and
 * destination str (<= 64 bytes), tick and seq uint64, payload a
 * type-specific MessagePack object. Decoders never trust their input: the
 * whole buffer is validated by tm_wire_check() (size limit, nesting limit,
 * every count bounded by the bytes that remain, exactly one object) before
 * any field is read, and every malformed input yields a typed error.
 *
 * Common rules of the decoders:
 * - limits may be NULL (defaults: 1 MiB, depth 32); the errors of
 *   tm_wire_check() come first (TM_ERR_WIRE_TRUNCATED, _TOO_LARGE,
 *   _TOO_DEEP, _COUNT, _MALFORMED, _TRAILING);
 * - TM_ERR_WIRE_TYPE: a value (or the payload itself) of another MessagePack
 *   type; TM_ERR_WIRE_FIELD: a required key missing, a known key given twice,
 *   an integer out of range, a name too long or containing a NUL byte;
 * - payload maps may hold keys this version does not know: skipped;
 * - *out is written only on success; nothing is allocated before the input
 *   has been validated; TM_ERR_INVAL for a NULL out.
 */
#ifndef TM_MSG_H_INCLUDED
#define TM_MSG_H_INCLUDED

#include "tm_wire.h"

#include <stddef.h>
#include <stdint.h>

#define TM_PROTO_VERSION 1u
#define TM_MSG_NAME_MAX  64u /* bytes in source / destination */

typedef enum {
    TM_MSG_CONSOLE_REQ = 1, /* console -> node: one command */
    TM_MSG_CONSOLE_REP = 2, /* node -> console: reply (or one stream item) */
    TM_MSG_HEARTBEAT = 3,   /* node <-> node: liveness and progress */
    TM_MSG_LINK_BATCH = 4,  /* node -> node: linked output values of a tick */
    TM_MSG_DIRECTORY = 5,   /* node -> node: its actors (whole or a delta) */
    TM_MSG_PLANT_CHUNK = 6, /* console -> node: part of a plant upload */
    TM_MSG_FILE_CHUNK = 7,  /* console -> node: part of a file (a plugin) */
    TM_MSG_TYPE_MAX = 7
} tm_msg_type_t;

/* Decoded envelope. payload points into the decoded buffer (borrowed: valid
 * as long as that buffer is). */
typedef struct {
    uint32_t version;
    uint32_t type;
    char source[TM_MSG_NAME_MAX + 1];
    char destination[TM_MSG_NAME_MAX + 1];
    uint64_t tick;
    uint64_t seq;
    const uint8_t *payload;
    size_t payload_len;
} tm_envelope_t;

/* Encode an envelope around an already-encoded payload (one MessagePack
 * object, copied as it is; NULL/0 encodes nil). env->version,
 * env->payload and env->payload_len are ignored: the version is always
 * TM_PROTO_VERSION. *out is malloc'd; the caller frees it. The size limit
 * is the receiver's business.
 * Errors: TM_ERR_INVAL (names over TM_MSG_NAME_MAX bytes, unknown type,
 * payload not exactly one well-formed object), TM_ERR_NOMEM. */
int tm_envelope_encode(const tm_envelope_t *env, const uint8_t *payload,
                       size_t payload_len, uint8_t **out, size_t *out_len);

/* Decode and validate an envelope (and that its payload is well-formed
 * MessagePack within limits). limits may be NULL for the defaults. The
 * version is judged first, before the array length (a later version may
 * change the layout). Errors: TM_ERR_WIRE_TYPE (not an array, a field of
 * another type), TM_ERR_WIRE_VERSION (version not TM_PROTO_VERSION),
 * TM_ERR_WIRE_FIELD (not 7 elements, bad name, negative tick or seq),
 * TM_ERR_WIRE_MSGTYPE (type not a tm_msg_type_t: judged last, and *out
 * is filled with the rest, which is valid, so that a reply can carry the
 * request's seq), and the check errors. *out is written on success and on
 * TM_ERR_WIRE_MSGTYPE only. */
int tm_envelope_decode(const uint8_t *buf, size_t len,
                       const tm_wire_limits_t *limits, tm_envelope_t *out);

/* ---- console request: payload {"argv": [str, ...]} ---------------------- */

#define TM_CONSOLE_ARGC_MAX 1024u
#define TM_CONSOLE_ARG_MAX  4096u

typedef struct {
    uint32_t argc;
    char **argv; /* argc NUL-terminated strings, then NULL */
} tm_console_req_t;

/* argc >= 1 strings. Errors: TM_ERR_INVAL (argc 0, a NULL argument),
 * TM_ERR_TOO_BIG (argc or an argument over the limits), TM_ERR_NOMEM. */
int tm_console_req_encode(uint32_t argc, const char *const *argv, uint8_t **out,
                          size_t *out_len);
/* Decode a payload (from tm_envelope_t). On success the caller owns *out
 * and frees it with tm_console_req_free() (argv is one allocation).
 * Errors: TM_ERR_WIRE_* (argv missing or empty, an argument not a str or
 * containing NUL), TM_ERR_TOO_BIG (argc or an argument over the limits),
 * TM_ERR_NOMEM. */
int tm_console_req_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits,
                          tm_console_req_t *out);
/* Frees argv and zeroes req; NULL and twice are fine. */
void tm_console_req_free(tm_console_req_t *req);

/* ---- console reply: payload {"status": int, "error": str, "message": str,
 *      "more": bool, "body": any} ----------------------------------------
 * status 0 = ok, else a tm_err_t code; error = tm_err_name(status);
 * message = human text; more = true for a stream item that others follow
 * (watch, top); body = any MessagePack object (the result document). */

typedef struct {
    int32_t status;
    const char *error;   /* borrowed from the payload buffer, NUL-less: */
    size_t error_len;    /*   use the _len fields */
    const char *message; /* borrowed */
    size_t message_len;
    int more;
    const uint8_t *body; /* borrowed: one MessagePack object */
    size_t body_len;
} tm_console_rep_t;

/* body may be NULL (encoded as nil); else exactly one well-formed object.
 * error NULL: tm_err_name(status); message NULL: "". Errors: TM_ERR_INVAL
 * (status > 0, error over TM_MSG_NAME_MAX bytes, bad body), TM_ERR_NOMEM.
 * Decoding: all five keys required; status must be <= 0; error at most
 * TM_MSG_NAME_MAX bytes; neither error nor message may contain NUL; a nil
 * body decodes as body NULL, body_len 0. The result borrows from payload. */
int tm_console_rep_encode(int32_t status, const char *error,
                          const char *message, int more, const uint8_t *body,
                          size_t body_len, uint8_t **out, size_t *out_len);
int tm_console_rep_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits,
                          tm_console_rep_t *out);

/* ---- heartbeat: payload {"node": str, "site": str, "tick": uint,
 *      "actors": uint, "state": str, and optionally "endpoint": str,
 *      "clock": str, "incarnation": uint, "dir_seq": uint, "members":
 *      [[name, endpoint], ...], "step_us": uint} ---------------------------
 * A node's liveness and progress, sent to every peer on its own socket
 * (apart from link batches). endpoint: the sender's mesh address;
 * incarnation: tells a restarted node from its old self; dir_seq: the last
 * directory delta it sent (a receiver that has not seen it asks for the
 * whole directory); members: the peers it knows, so that a node that joins
 * through one member learns the others; step_us: the wall time, in
 * microseconds, the sender's steps take per tick (measured over the last
 * seconds that stepped, scaled to its current actors; 0 = not known) -
 * with actors, the load placement weighs (nodes/tm_place.h). Optional
 * keys absent decode as
 * empty strings, 0 and no members. */

#define TM_MSG_ENDPOINT_MAX 256u        /* bytes in a mesh endpoint */
#define TM_MSG_MEMBERS_MAX  64u         /* members in a heartbeat */
#define TM_MSG_STEP_US_MAX  3600000000u /* step_us: at most an hour a tick */

typedef struct {
    char name[TM_MSG_NAME_MAX + 1];
    char endpoint[TM_MSG_ENDPOINT_MAX + 1];
} tm_member_t;

typedef struct {
    char node[TM_MSG_NAME_MAX + 1];
    char site[TM_MSG_NAME_MAX + 1];
    char state[TM_MSG_NAME_MAX + 1];
    uint64_t tick;
    uint64_t actors;
    char endpoint[TM_MSG_ENDPOINT_MAX + 1];
    char clock[TM_MSG_NAME_MAX + 1];
    uint64_t incarnation;
    uint64_t dir_seq;
    uint32_t n_members;
    tm_member_t members[TM_MSG_MEMBERS_MAX];
    uint64_t step_us; /* <= TM_MSG_STEP_US_MAX */
} tm_heartbeat_t;

/* node non-empty; names at most TM_MSG_NAME_MAX bytes and endpoints
 * TM_MSG_ENDPOINT_MAX, without NUL; at most TM_MSG_MEMBERS_MAX members,
 * each a 2-array of str; step_us at most TM_MSG_STEP_US_MAX (decoding:
 * TM_ERR_WIRE_FIELD). Encoding errors: TM_ERR_INVAL, TM_ERR_NOMEM. */
int tm_heartbeat_encode(const tm_heartbeat_t *hb, uint8_t **out,
                        size_t *out_len);
int tm_heartbeat_decode(const uint8_t *payload, size_t len,
                        const tm_wire_limits_t *limits, tm_heartbeat_t *out);

/* ---- link batch: payload {"tick": uint, "ids": [uint...] (optional),
 * "values": bin, "degraded": [uint...] (optional)}
 * values holds count IEEE 754 doubles, little-endian, one per link id: its
 * length must be exactly 8 * count, count being the length of ids. Without
 * ids (ids NULL here) the values are positional, count = bytes / 8: what
 * nodes send each other, the order being the reader's subscription. count
 * 0 is the empty batch (the null message of a tick): ids and values NULL.
 * degraded lists the positions, in the reader's subscription, of the
 * actors whose outputs are degraded (below their target tier or
 * quarantined); absent when none is. */

typedef struct {
    uint64_t tick;
    uint32_t count;
    uint64_t *ids;  /* count link ids, or NULL: positions 0 .. count - 1 */
    double *values; /* count values */
    uint32_t n_degraded;
    uint32_t *degraded; /* n_degraded positions, NULL when 0 */
} tm_link_batch_t;

/* Errors: TM_ERR_INVAL (count > 0 with NULL arrays), TM_ERR_TOO_BIG
 * (count > UINT32_MAX / 8), TM_ERR_NOMEM. */
int tm_link_batch_encode(const tm_link_batch_t *batch, uint8_t **out,
                         size_t *out_len);
/* On success the caller frees with tm_link_batch_free(). Errors:
 * TM_ERR_WIRE_* (TM_ERR_WIRE_FIELD when values is not 8 * count bytes),
 * TM_ERR_NOMEM. */
int tm_link_batch_decode(const uint8_t *payload, size_t len,
                         const tm_wire_limits_t *limits, tm_link_batch_t *out);
/* Frees ids, values and degraded and zeroes the counts; NULL and twice
 * are fine. */
void tm_link_batch_free(tm_link_batch_t *batch);

/* ---- directory: payload {"inc": uint, "seq": uint, "reset": bool,
 *      "add": [[id, model, tier (, epoch)], ...], "del": [id, ...]} ------
 * The sender's own actors (it is their authority): with reset, the first
 * part of its whole directory (the receiver forgets what it had of this
 * sender); otherwise a delta. seq numbers a sender's messages from 1 within
 * one incarnation `inc`; a receiver that misses one asks for the whole
 * directory again. model is "family@version", tier a fidelity name, epoch
 * (optional, 1 .. 2^32 - 1) the actor's ownership epoch: how many times it
 * changed node; the claim with the higher epoch wins. At
 * most TM_MSG_DIR_MAX entries in add and del together. */

#define TM_MSG_DIR_MAX 8192u

typedef struct {
    char id[TM_MSG_NAME_MAX + 1];
    char model[TM_MSG_NAME_MAX + 1];
    char tier[TM_MSG_NAME_MAX + 1];
    uint32_t epoch; /* ownership epoch; 0 is sent as a 3-array */
} tm_dir_entry_t;

typedef struct {
    uint64_t inc;
    uint64_t seq;
    int reset;
    uint32_t n_add;
    tm_dir_entry_t *add;
    uint32_t n_del;
    tm_dir_entry_t *del; /* only id is used */
} tm_directory_t;

/* Errors: TM_ERR_INVAL (names too long or empty id, counts with NULL
 * arrays), TM_ERR_TOO_BIG (more than TM_MSG_DIR_MAX entries),
 * TM_ERR_NOMEM. */
int tm_directory_encode(const tm_directory_t *dir, uint8_t **out,
                        size_t *out_len);
/* On success the caller frees with tm_directory_free(). Errors:
 * TM_ERR_WIRE_* (an entry not [str, str, str] or an empty id),
 * TM_ERR_TOO_BIG (over TM_MSG_DIR_MAX entries), TM_ERR_NOMEM. */
int tm_directory_decode(const uint8_t *payload, size_t len,
                        const tm_wire_limits_t *limits, tm_directory_t *out);
void tm_directory_free(tm_directory_t *dir);

#endif
