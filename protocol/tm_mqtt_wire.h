/* tm_mqtt_wire: telemetry over MQTT - topics, JSON payloads and broker
 * addresses (docs/protocol.md section 8.3).
 *
 * A sample travels as one MQTT message: the topic "<site>/<asset>/<signal>"
 * names the asset and the signal, the payload is JSON - a number (the
 * value, measured on arrival, in the contract's unit), an object
 * {"value": number, "ts": integer ns since the epoch (optional: arrival),
 * "unit": string (optional: the contract's)}, or an array of 1 to
 * TM_TELEM_BATCH_MAX such objects. Everything here is pure: no socket, no
 * clock (the arrival time is an argument), no logging, so that the node's
 * MQTT client (nodes/tm_mqtt) stays a thin transport and hostile topics
 * and payloads can be tested without a broker.
 */
#ifndef TM_MQTT_WIRE_H_INCLUDED
#define TM_MQTT_WIRE_H_INCLUDED

#include "tm_telem_wire.h"

#include <stddef.h>
#include <stdint.h>

#define TM_MQTT_PAYLOAD_MAX  (1u << 20) /* bytes in one payload */
#define TM_MQTT_TOPIC_MAX    65535u     /* bytes in a topic (MQTT's limit) */
#define TM_MQTT_HOST_MAX     253u       /* bytes in a broker's host name */
#define TM_MQTT_DEFAULT_PORT 1883u

/* Read topic "<site>/<asset>/<signal>" into s->asset and s->signal (the
 * rest of s is left alone). topic is NUL-terminated. Errors:
 * TM_ERR_WIRE_TOO_LARGE (over TM_MQTT_TOPIC_MAX bytes), TM_ERR_WIRE_FIELD
 * (site empty or not the first level, not exactly three levels, an empty
 * level, an asset over TM_TELEM_ASSET_MAX or a signal over
 * TM_TELEM_SIGNAL_MAX bytes, a wildcard '+' or '#' or a control
 * character in the asset or the signal). */
int tm_mqtt_topic_parse(const char *topic, const char *site,
                        tm_telem_sample_t *s);

/* Decode one payload of len bytes for the asset and signal of `topic`
 * (from tm_mqtt_topic_parse), calling fn per sample as tm_telem_decode
 * does: status 0 and the sample, or TM_ERR_WIRE_* and NULL for a sample
 * of a batch that is malformed (not an object, "value" missing or not a
 * number, "ts" not an integer >= 0, "unit" not a string of 1 to
 * TM_TELEM_UNIT_MAX bytes). Other keys are ignored. A sample without "ts"
 * gets now_ns, one without "unit" the unit "" (the contract's). Returns 0
 * when the payload is a sample or a batch (whatever its samples held), or
 * the error that makes the whole payload unreadable, fn then not called:
 * TM_ERR_WIRE_TOO_LARGE (over TM_MQTT_PAYLOAD_MAX), TM_ERR_WIRE_TRUNCATED
 * (empty), TM_ERR_WIRE_MALFORMED (not JSON; duplicate keys; nesting over
 * jansson's depth limit), TM_ERR_WIRE_TYPE (neither a number, an object
 * nor an array), TM_ERR_WIRE_COUNT (an empty or oversized batch). */
int tm_mqtt_decode(const void *payload, size_t len,
                   const tm_telem_sample_t *topic, uint64_t now_ns,
                   tm_telem_fn fn, void *arg);

/* A broker address "HOST:PORT", "mqtt://HOST:PORT", "[IPV6]:PORT" or
 * without ":PORT" (TM_MQTT_DEFAULT_PORT): host into host (cap bytes with
 * the NUL), port into *port. HOST is a name or an IPv4 address (letters,
 * digits, '-', '.'; at most TM_MQTT_HOST_MAX bytes) or an IPv6 address in
 * brackets. Errors: TM_ERR_INVAL with why (another scheme, a bad host or
 * port, trailing text). */
int tm_mqtt_broker_parse(const char *text, char *host, size_t cap,
                         uint16_t *port, char *why, size_t why_cap);

#endif
