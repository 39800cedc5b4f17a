/* tm_outputs: the subscriber's side of twin outputs (docs/protocol.md
 * section 8.2): the decoder of the maps a node's PUB socket publishes, and
 * the endpoint a client connects to for one a node bound. (Samples go the
 * other way through protocol/tm_telem_wire.)
 *
 * Output maps are not enveloped. They are checked by tm_wire_check before
 * anything reads them; a malformed one is an error returned, never an
 * assertion.
 */
#ifndef TM_OUTPUTS_H_INCLUDED
#define TM_OUTPUTS_H_INCLUDED

#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_OUTPUTS_ASSET_MAX  64u /* bytes, like actor ids */
#define TM_OUTPUTS_NAME_MAX   31u /* a name kept from an output's maps */
#define TM_OUTPUTS_VALUES_MAX 32u /* entries kept per map of an output */
#define TM_OUTPUTS_SIZE_MAX   (1024u * 1024u) /* an output map's limit */

typedef struct {
    char name[TM_OUTPUTS_NAME_MAX + 1];
    double value; /* NaN for nil */
} tm_outputs_value_t;

typedef struct {
    tm_outputs_value_t v[TM_OUTPUTS_VALUES_MAX];
    uint32_t n;
} tm_outputs_values_t;

typedef struct {
    char asset[TM_OUTPUTS_ASSET_MAX + 1];
    uint64_t tick;
    uint64_t ts;     /* 0: before the asset's first sample */
    uint64_t params; /* parameter set (0 if absent) */
    double score;
    bool alarm;
    bool degraded;
    tm_outputs_values_t outputs;     /* estimates */
    tm_outputs_values_t uncertainty; /* their standard deviations */
    tm_outputs_values_t measured;    /* samples the step used */
} tm_outputs_t;

/* Decode one output map (the second frame of a message). Required: asset,
 * tick, ts, score, alarm; params, degraded and the three maps are read
 * when present (names over TM_OUTPUTS_NAME_MAX bytes and entries beyond
 * TM_OUTPUTS_VALUES_MAX are skipped). Unknown keys are ignored. Errors:
 * those of tm_wire_check (limit TM_OUTPUTS_SIZE_MAX), TM_ERR_WIRE_TYPE
 * (not a map, a field of another type), TM_ERR_WIRE_FIELD (a required
 * field missing, an asset over 64 bytes). */
int tm_outputs_decode(const uint8_t *buf, size_t len, tm_outputs_t *out);

/* The value named name, NaN when absent. */
double tm_outputs_value(const tm_outputs_values_t *vals, const char *name);

/* The endpoint to connect to for one a node bound (as its stats show it):
 * a wildcard host ("*", "0.0.0.0", "::", "[::]") is replaced by the host
 * of the console endpoint the client reached the node at. Errors:
 * TM_ERR_INVAL (bound is not tcp:// or ipc://, or has no port),
 * TM_ERR_TOO_BIG (cap too small). */
int tm_outputs_endpoint(const char *bound, const char *console, char *out,
                        size_t cap);

#endif
