/* tm_telem: the telemetry service - measurements in, twin outputs out.
 *
 * Samples arrive on a PULL socket (protocol/tm_telem_wire.h,
 * docs/protocol.md section 8.1) or from the MQTT bridge (tm_mqtt.h, which
 * hands them to tm_telem_sample): one path for both. Each is checked against
 * the data contract of its actor's family - the model's measured inputs
 * (TM_VAR_MEASURED): signal name, unit (converted with tm_units), range - and
 * counted, accepted or rejected by reason. An accepted sample is aligned to a
 * step of its actor: the first sample of an asset anchors its time axis
 * `window` seconds ahead of the node's tick, later ones fall on ticks by their
 * timestamps; each asset keeps a ring of `horizon` pending steps, so
 * samples that arrive out of order are reordered. Before a chunk of ticks
 * the service feeds every asset's pending values for its next step into
 * the runtime (tm_rt_feed) and ends the chunk at the next step of any
 * asset (next_stop), so no asset steps twice in a chunk; after it, it
 * keeps the step's measurements (the last `history` steps, for
 * calibrate) and publishes the actor's outputs on the PUB socket.
 *
 * Nothing here is durable: a sample lost in a crash is a missing sample,
 * and anchors start afresh after a restart.
 *
 * Threading: control thread only.
 */
#ifndef TM_TELEM_H_INCLUDED
#define TM_TELEM_H_INCLUDED

#include "tm_body.h"
#include "tm_rt.h"
#include "tm_sched.h"
#include "tm_service.h"
#include "tm_telem_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct tm_telem tm_telem_t;

typedef struct {
    const char *endpoint; /* PULL; "" or NULL: no telemetry socket */
    const char *outputs;  /* PUB; "" or NULL: nothing published */
    double window;        /* seconds a late sample may still be used */
    unsigned horizon;     /* pending steps per asset */
    unsigned history;     /* steps of measurements kept per asset */
    tm_rt_t *rt;
    tm_sched_t *sched;
} tm_telem_opts_t;

/* Open the sockets (bound: the real endpoint of a :0 port is reported by
 * tm_telem_endpoint) and subscribe to the scheduler. Errors: those of
 * tm_sock_open (with why), TM_ERR_NOMEM. */
int tm_telem_open(tm_telem_t **out, void *zctx, const tm_telem_opts_t *opts,
                  char *why, size_t cap);

/* The service (attach, stats, stop, close). */
tm_service_t tm_telem_service(tm_telem_t *t);

/* Bound endpoints ("" when none). */
const char *tm_telem_endpoint(const tm_telem_t *t);
const char *tm_telem_outputs(const tm_telem_t *t);

/* Take one sample from another transport (the MQTT bridge): the same
 * contract, alignment and counters as a sample of the PULL socket. status
 * 0: s is the sample; otherwise a TM_ERR_WIRE_* code saying the message
 * (or this sample of it) was malformed, counted once, and s is not read
 * (may be NULL). */
void tm_telem_sample(tm_telem_t *t, const tm_telem_sample_t *s, int status);

/* Handle one frame as if it came from the socket (tests, benchmark). */
void tm_telem_ingest(tm_telem_t *t, const uint8_t *buf, size_t len);

/* The measurements of the last n steps of asset id (fewer if fewer were
 * kept), oldest first, one row of the model's n_inputs values per step
 * (NaN: missing), malloc'd into *rows. Errors: TM_ERR_UNKNOWN_ACTOR (no
 * telemetry for id), TM_ERR_NOMEM. */
int tm_telem_history(tm_telem_t *t, const char *id, size_t n, double **rows,
                     size_t *n_rows);

/* Pack the telemetry of asset id under key "telemetry" into the map open
 * in b: per signal its last value, unit, timestamp, age in steps and
 * count; and under "telemetry_rejected" its samples rejected by reason
 * (non-zero ones). Nothing when the asset has had no sample. */
void tm_telem_pack_asset(tm_telem_t *t, const char *id, tm_body_t *b);

#endif
