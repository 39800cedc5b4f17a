/* tm_stage: plants uploaded by consoles, staged until apply or diff.
 *
 * A console uploads a plant in PLANT_CHUNK messages (docs/protocol.md):
 * chunk 0 starts an upload (replacing any earlier upload of that
 * console), the next chunks must come in order, the last one says final
 * (the whole plant is checked when it is planned: tm_plan_build). An
 * `apply` or `diff`
 * request of the same console names the upload (--upload ID) and takes
 * it; it is dropped after that request. Limits: TM_STAGE_MAX uploads at
 * once, TM_STAGE_BYTES_MAX bytes of chunks per upload, and an upload not
 * added to or used for TM_STAGE_IDLE_S seconds is dropped (a console
 * that went away leaves nothing behind for long).
 *
 * Consoles are told apart by their ROUTER routing id (peer bytes). The
 * mesh stages the parts of plants other nodes send this node the same
 * way, told apart by the sending node's name (nodes/tm_mesh_plan.c).
 * Threading: the control thread.
 */
#ifndef TM_STAGE_H_INCLUDED
#define TM_STAGE_H_INCLUDED

#include "tm_file_wire.h"
#include "tm_plant.h"

#include <stddef.h>
#include <stdint.h>

#define TM_STAGE_MAX       8u
#define TM_STAGE_BYTES_MAX (256u * 1024u * 1024u)
#define TM_STAGE_IDLE_S    60.0
#define TM_STAGE_FILE_MAX  (64u * 1024u * 1024u) /* bytes of a file upload */

typedef struct tm_stage tm_stage_t;

/* Errors: TM_ERR_NOMEM. */
int tm_stage_open(tm_stage_t **out);
void tm_stage_destroy(tm_stage_t **p); /* NULL-safe */

/* Add one chunk (a PLANT_CHUNK payload) from peer at time now (seconds).
 * hdr gets the chunk's header. Errors, with one line in why (cap bytes):
 * TM_ERR_WIRE_* (a chunk that does not decode; the upload is dropped),
 * TM_ERR_NOT_FOUND (a chunk after 0 of an upload this peer has not
 * started, or out of order; the upload is dropped), TM_ERR_BUSY
 * (TM_STAGE_MAX uploads from other consoles are staged), TM_ERR_TOO_BIG
 * (over TM_STAGE_BYTES_MAX or the plant limits), TM_ERR_NOMEM. */
int tm_stage_chunk(tm_stage_t *st, const void *peer, size_t peer_len,
                   const uint8_t *payload, size_t len, double now,
                   tm_plant_chunk_t *hdr, char *why, size_t cap);

/* The complete upload `upload` of peer, or NULL with why. */
const tm_plant_t *tm_stage_get(tm_stage_t *st, const void *peer,
                               size_t peer_len, uint64_t upload, double now,
                               char *why, size_t cap);

/* Take the complete upload `upload` of peer out of the staging area: the
 * plant moves into *out (the caller frees it with tm_plant_free).
 * TM_ERR_NOT_FOUND with why when there is no such complete upload. */
int tm_stage_take(tm_stage_t *st, const void *peer, size_t peer_len,
                  uint64_t upload, tm_plant_t *out, char *why, size_t cap);

/* Drop peer's upload (after it was used); nothing if there is none. */
void tm_stage_drop(tm_stage_t *st, const void *peer, size_t peer_len);

/* Drop uploads idle for more than TM_STAGE_IDLE_S at now. */
void tm_stage_expire(tm_stage_t *st, double now);

/* Files (a plugin for `models load`) are staged the same way, from
 * FILE_CHUNK payloads (tm_file_wire.h), in the same slots (a console has
 * one upload at a time, a plant or a file). Errors of a chunk, with why:
 * TM_ERR_WIRE_* (does not decode), TM_ERR_NOT_FOUND (out of order),
 * TM_ERR_BUSY, TM_ERR_TOO_BIG (over TM_STAGE_FILE_MAX), TM_ERR_NOMEM; the
 * upload is dropped on all but TM_ERR_BUSY. */
int tm_stage_file_chunk(tm_stage_t *st, const void *peer, size_t peer_len,
                        const uint8_t *payload, size_t len, double now,
                        tm_file_chunk_t *hdr, char *why, size_t cap);

/* The complete file upload `upload` of peer: its name and bytes (owned by
 * the stage until tm_stage_drop). TM_ERR_NOT_FOUND with why when there is
 * none. */
int tm_stage_file(tm_stage_t *st, const void *peer, size_t peer_len,
                  uint64_t upload, const char **name, const uint8_t **data,
                  size_t *len, char *why, size_t cap);

/* Uploads staged now. */
size_t tm_stage_count(const tm_stage_t *st);

#endif
