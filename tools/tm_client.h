/* tm_client: the console's side of the console protocol (DEALER socket).
 *
 * One request at a time: tm_client_send() sends argv in one envelope
 * (TM_MSG_CONSOLE_REQ) with a fresh sequence number; tm_client_recv()
 * returns the replies to it (TM_MSG_CONSOLE_REP), skipping stale replies
 * to earlier requests (e.g. one that timed out). A reply with more = true
 * is a part or stream item; more are coming.
 */
#ifndef TM_CLIENT_H_INCLUDED
#define TM_CLIENT_H_INCLUDED

#include "tm_plant.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_client tm_client_t;

typedef struct {
    int status;     /* 0 or a tm_err_t */
    char error[65]; /* tm_err_name of status */
    char *message;  /* NUL-terminated, owned */
    bool more;      /* more replies follow */
    uint8_t *body;  /* MessagePack object, owned; NULL if nil */
    size_t body_len;
    uint64_t tick; /* node tick when the reply was sent */
    char node[65]; /* envelope source */
} tm_client_reply_t;

/* Create the socket and connect (asynchronous: a node that is not there
 * shows up as a timeout in tm_client_recv). Errors: TM_ERR_INVAL (bad
 * endpoint), TM_ERR_NOMEM, TM_ERR_IO. */
int tm_client_open(tm_client_t **out, const char *endpoint);
void tm_client_destroy(tm_client_t **p);

/* Drop anything queued (e.g. a request nobody took) by reconnecting. */
int tm_client_reset(tm_client_t *c);

/* Send a request. Errors: TM_ERR_TOO_BIG (argv over the protocol limits),
 * TM_ERR_BUSY (could not queue it), TM_ERR_NOMEM. */
int tm_client_send(tm_client_t *c, int argc, const char *const *argv);

/* Send one plant chunk (a PLANT_CHUNK payload, protocol/tm_plant.h) as a
 * request of its own: its reply (CONSOLE_REP) comes through
 * tm_client_recv. Errors: as tm_client_send. */
int tm_client_send_chunk(tm_client_t *c, const uint8_t *payload, size_t len);

/* What an upload did. */
typedef struct {
    uint64_t upload; /* its id: the request's --upload */
    uint32_t chunks; /* chunks the node took */
    bool refused;    /* the node refused a chunk (status, message) */
    char message[1024];
} tm_client_upload_t;

/* Stage plant on the node: PLANT_CHUNK messages of at most one frame
 * each, the next sent when the node took the last (docs/protocol.md).
 * Errors: a chunk's refusal (out->refused, the node's message),
 * TM_ERR_TIMEOUT (no answer within timeout_ms), TM_ERR_CLOSED (*stop
 * became non-zero), TM_ERR_WIRE_* (a malformed reply), and those of
 * tm_client_send; out->message says what. */
int tm_client_upload(tm_client_t *c, const tm_plant_t *plant, int timeout_ms,
                     volatile sig_atomic_t *stop, tm_client_upload_t *out);

/* Read the file at path (at most TM_CLIENT_FILE_MAX bytes) and stage its
 * bytes on the node under its name without folder: FILE_CHUNK messages
 * (protocol/tm_file_wire.h) of at most TM_FILE_CHUNK_DATA_MAX bytes, the
 * next sent when the node took the last. Errors: as tm_client_upload; a
 * file that cannot be read sets out->refused too (TM_ERR_IO,
 * TM_ERR_NOT_FOUND, TM_ERR_TOO_BIG, TM_ERR_NOMEM). */
#define TM_CLIENT_FILE_MAX (64u * 1024u * 1024u)
int tm_client_upload_file(tm_client_t *c, const char *path, int timeout_ms,
                          volatile sig_atomic_t *stop, tm_client_upload_t *out);

/* Ask the node to end the stream (or run) of the last request. Sent with
 * that request's sequence number, so the stream's last reply (more =
 * false) still counts as an answer to it. Errors: as tm_client_send. */
int tm_client_cancel(tm_client_t *c);

/* Wait up to timeout_ms (-1: forever) for the next reply to the last
 * request. A keepalive (status 0, more, no body, no message: a stream
 * between items, a change waiting for a checkpoint) is not returned: it
 * starts the wait again. If *stop becomes non-zero while waiting (checked
 * every 100 ms; may be NULL), returns TM_ERR_CLOSED. The connection dropping
 * while waiting ends the wait too (TM_ERR_TIMEOUT, tm_client_lost() is true).
 * Errors: TM_ERR_TIMEOUT,
 * TM_ERR_CLOSED, TM_ERR_WIRE_* (a malformed reply), TM_ERR_IO. */
int tm_client_recv(tm_client_t *c, int timeout_ms, volatile sig_atomic_t *stop,
                   tm_client_reply_t *rep);

void tm_client_reply_free(tm_client_reply_t *rep);

const char *tm_client_endpoint(const tm_client_t *c);

/* true if a connection to the node is up (a node that does not answer in
 * time is then busy, not gone). */
bool tm_client_connected(tm_client_t *c);

/* true if the connection dropped since the last request was sent: no
 * reply to it will come (tm_client_recv then returns TM_ERR_TIMEOUT at
 * once instead of waiting out its timeout). */
bool tm_client_lost(tm_client_t *c);

#endif
