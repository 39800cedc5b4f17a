/* tm_telem: the client's side of telemetry and twin outputs
 * (docs/protocol.md section 8): batches of samples for a node's PULL
 * socket, and the decoder of the maps its PUB socket publishes.
 *
 * Neither message is enveloped. Outputs are checked by tm_wire_check
 * before anything reads them; a malformed one is an error returned, never
 * an assertion.
 */
#ifndef TM_TELEM_H_INCLUDED
#define TM_TELEM_H_INCLUDED

#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_TELEM_BATCH_MAX   65536u             /* samples in one frame */
#define TM_TELEM_FRAME_MAX   (8u * 1024 * 1024) /* bytes in one frame */
#define TM_TELEM_ASSET_MAX   64u
#define TM_TELEM_SIGNAL_MAX  31u
#define TM_TELEM_UNIT_MAX    15u
#define TM_TELEM_NAME_MAX    31u /* a name kept from an output's maps */
#define TM_TELEM_VALUES_MAX  32u /* entries kept per map of an output */
#define TM_TELEM_OUTPUT_SIZE (1024u * 1024u) /* an output map's limit */

/* ---- samples ------------------------------------------------------------- */

/* A batch being built: an array of sample maps. The frame is sent as it
 * is (tm_telem_batch_frame). Not thread-safe. */
typedef struct {
    tm_wire_buf_t body; /* the sample maps, without the array header */
    uint32_t count;
    uint8_t *frame; /* header + body, built by tm_telem_batch_frame */
    size_t frame_cap;
} tm_telem_batch_t;

void tm_telem_batch_init(tm_telem_batch_t *b);
/* Forget the samples added (keeps the memory). */
void tm_telem_batch_clear(tm_telem_batch_t *b);
void tm_telem_batch_destroy(tm_telem_batch_t *b);

/* Add {asset, signal, ts, value, unit} (unit NULL or "": none, the
 * contract's SI unit). Errors: TM_ERR_INVAL (asset 1-64 bytes, signal
 * 1-31, unit at most 15), TM_ERR_TOO_BIG (the batch has
 * TM_TELEM_BATCH_MAX samples: send it first), TM_ERR_NOMEM. */
int tm_telem_batch_add(tm_telem_batch_t *b, const char *asset,
                       const char *signal, uint64_t ts, double value,
                       const char *unit);

/* true when one more row of up to `samples` samples could take the frame
 * over TM_TELEM_BATCH_MAX samples or near TM_TELEM_FRAME_MAX bytes. */
bool tm_telem_batch_full(const tm_telem_batch_t *b, uint32_t samples);

/* The frame (array header and samples), borrowed until the batch changes.
 * Errors: TM_ERR_INVAL (no samples), TM_ERR_NOMEM. */
int tm_telem_batch_frame(tm_telem_batch_t *b, const uint8_t **frame,
                         size_t *len);

/* ---- outputs ------------------------------------------------------------- */

typedef struct {
    char name[TM_TELEM_NAME_MAX + 1];
    double value; /* NaN for nil */
} tm_telem_value_t;

typedef struct {
    tm_telem_value_t v[TM_TELEM_VALUES_MAX];
    uint32_t n;
} tm_telem_values_t;

typedef struct {
    char asset[TM_TELEM_ASSET_MAX + 1];
    uint64_t tick;
    uint64_t ts;     /* 0: before the asset's first sample */
    uint64_t params; /* parameter set (0 if absent) */
    double score;
    bool alarm;
    bool degraded;
    tm_telem_values_t outputs;     /* estimates */
    tm_telem_values_t uncertainty; /* their standard deviations */
    tm_telem_values_t measured;    /* samples the step used */
} tm_telem_output_t;

/* Decode one output map (the second frame of a message). Required: asset,
 * tick, ts, score, alarm; params, degraded and the three maps are read
 * when present (names over TM_TELEM_NAME_MAX bytes and entries beyond
 * TM_TELEM_VALUES_MAX are skipped). Unknown keys are ignored. Errors:
 * those of tm_wire_check (limit TM_TELEM_OUTPUT_SIZE), TM_ERR_WIRE_TYPE
 * (not a map, a field of another type), TM_ERR_WIRE_FIELD (a required
 * field missing, an asset over 64 bytes). */
int tm_telem_output_decode(const uint8_t *buf, size_t len,
                           tm_telem_output_t *out);

/* The value named name, NaN when absent. */
double tm_telem_value(const tm_telem_values_t *vals, const char *name);

/* ---- endpoints ----------------------------------------------------------- */

/* The endpoint to connect to for one a node bound (as its stats show it):
 * a wildcard host ("*", "0.0.0.0", "::", "[::]") is replaced by the host
 * of the console endpoint the client reached the node at. Errors:
 * TM_ERR_INVAL (bound is not tcp:// or ipc://, or has no port),
 * TM_ERR_TOO_BIG (cap too small). */
int tm_telem_connect_endpoint(const char *bound, const char *console, char *out,
                              size_t cap);

#endif
