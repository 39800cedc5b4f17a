/* tm_telem_wire: telemetry samples on the wire (docs/protocol.md section 8.1).
 *
 * A frame is one MessagePack object: a sample map {asset, signal, ts,
 * value, unit?} or an array of 1..TM_TELEM_BATCH_MAX of them. The decoder
 * checks the whole frame with tm_wire_check first, then walks it with the
 * bounded reader and reports every sample on its own: a sample that lacks
 * a key, has a key of the wrong type or a string too long is reported
 * malformed, and its neighbours are still decoded.
 */
#ifndef TM_TELEM_WIRE_H_INCLUDED
#define TM_TELEM_WIRE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_TELEM_FRAME_MAX  (8u << 20) /* bytes in one frame */
#define TM_TELEM_BATCH_MAX  65536u     /* samples in one frame */
#define TM_TELEM_ASSET_MAX  64u        /* bytes, like actor ids */
#define TM_TELEM_SIGNAL_MAX 31u
#define TM_TELEM_UNIT_MAX   15u

typedef struct {
    char asset[TM_TELEM_ASSET_MAX + 1];
    char signal[TM_TELEM_SIGNAL_MAX + 1];
    char unit[TM_TELEM_UNIT_MAX + 1]; /* "" when absent */
    uint64_t ts;                      /* ns since the Unix epoch */
    double value;                     /* as sent: may be non-finite */
} tm_telem_sample_t;

/* Called for every sample of a frame: status 0 and the sample, or
 * TM_ERR_WIRE_* (the sample is malformed; s is then NULL). */
typedef void (*tm_telem_fn)(void *arg, const tm_telem_sample_t *s, int status);

/* Decode one frame, calling fn per sample. Returns 0 when the frame is a
 * sample or a batch (whatever its samples held), or the error that makes
 * the whole frame unreadable (TM_ERR_WIRE_*: not MessagePack, too large,
 * trailing bytes, neither a map nor an array, an empty or oversized
 * batch); fn is then not called. */
int tm_telem_decode(const uint8_t *buf, size_t len, tm_telem_fn fn, void *arg);

/* Encode samples (one map when n == 1 and batch is 0, else an array) into
 * a malloc'd buffer. Errors: TM_ERR_INVAL (n == 0 or over the batch
 * limit, strings too long), TM_ERR_NOMEM. */
int tm_telem_encode(const tm_telem_sample_t *s, size_t n, int batch,
                    uint8_t **out, size_t *out_len);

#endif
