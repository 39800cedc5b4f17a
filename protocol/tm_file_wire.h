/* tm_file_wire: FILE_CHUNK payloads - a file's bytes uploaded in chunks
 * (a model plugin for `models load`; docs/protocol.md section 3.7).
 *
 *   {"upload": uint, "index": uint, "final": bool, "file": str,
 *    "data": bin}
 *
 * upload is the console's id for the upload, index the chunk's number
 * from 0, final set on the last one, file the file's name (no folder, 1
 * to TM_FILE_NAME_MAX bytes, no NUL or '/'), data the chunk's bytes (at
 * most TM_FILE_CHUNK_DATA_MAX). Every key is required; unknown keys are
 * skipped. */
#ifndef TM_FILE_WIRE_H_INCLUDED
#define TM_FILE_WIRE_H_INCLUDED

#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_FILE_NAME_MAX       127u
#define TM_FILE_CHUNK_DATA_MAX (960u * 1024u) /* fits a 1 MiB message */

typedef struct {
    uint64_t upload;
    uint32_t index;
    bool final;
    char file[TM_FILE_NAME_MAX + 1];
    const uint8_t *data; /* decode: borrowed from the payload */
    size_t len;
} tm_file_chunk_t;

/* Errors: TM_ERR_INVAL (a bad file name, len over the limit), TM_ERR_NOMEM.
 * *out is malloc'd. */
int tm_file_chunk_encode(const tm_file_chunk_t *c, uint8_t **out,
                         size_t *out_len);

/* Decode (bounded: tm_wire_check first). Errors: TM_ERR_WIRE_* (a key
 * missing or twice, a bad name, data over the limit: TM_ERR_WIRE_FIELD).
 * *out is written on success only; out->data borrows from payload. */
int tm_file_chunk_decode(const uint8_t *payload, size_t len,
                         const tm_wire_limits_t *limits, tm_file_chunk_t *out);

#endif
