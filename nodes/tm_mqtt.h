/* tm_mqtt: the MQTT bridge of the telemetry service - a client of a
 * site's broker (libmosquitto) inside the node's libev loop.
 *
 * It subscribes to "<site>/+/+" with QoS 1 and hands every sample of every
 * message (topic and JSON payload: protocol/tm_mqtt_wire.h,
 * docs/protocol.md section 8.3) to tm_telem_sample, so a sample from MQTT
 * meets the same data contract, alignment and counters as one from the
 * PULL socket; a message whose topic or payload is unreadable counts once
 * as malformed. Retained messages are old values the broker replays on
 * every subscription, not measurements: they are counted and dropped.
 *
 * No thread of its own. The client's socket is watched by an ev_io (reads
 * always, writes while libmosquitto has bytes queued); an ev_timer calls
 * mosquitto_loop_misc every second (keepalive pings, and a connection
 * that has had no CONNACK for 5 s is abandoned); connecting never waits
 * for the broker: mosquitto_connect_async and mosquitto_reconnect_async
 * start a non-blocking TCP connect, and the CONNACK arrives as a read.
 * When the broker is not there yet or goes away the bridge tries again
 * after a backoff (0.25 s, doubling up to 8 s; from 0.25 s again after a
 * connection that lasted 10 s) and logs each change of state once, not
 * each attempt. One exception to "never waits": a host name is resolved
 * by getaddrinfo at each attempt, which waits for the system's resolver -
 * give the broker as an address (or a name in /etc/hosts) where DNS may
 * be slow.
 *
 * The session is clean: what is published while the node is not
 * connected is a missing sample for the node, as for the PULL socket.
 *
 * Threading: control thread only (the callbacks of libmosquitto run
 * inside the loop's watchers).
 */
#ifndef TM_MQTT_H_INCLUDED
#define TM_MQTT_H_INCLUDED

#include "tm_service.h"
#include "tm_telem.h"

#include <stddef.h>

typedef struct tm_mqtt tm_mqtt_t;

typedef struct {
    const char *broker;    /* HOST:PORT or mqtt://HOST:PORT */
    const char *client_id; /* MQTT client id, 1-128 bytes */
    const char *site;      /* topics are <site>/<asset>/<signal> */
    tm_telem_t *telem;     /* borrowed; must outlive the bridge */
} tm_mqtt_opts_t;

/* Set up the client; it connects once the service is attached. Errors:
 * TM_ERR_INVAL (a bad broker address, client id or site, with why),
 * TM_ERR_NOMEM. */
int tm_mqtt_open(tm_mqtt_t **out, const tm_mqtt_opts_t *opts, char *why,
                 size_t cap);

/* The service: attach starts connecting, stats registers
 * "telemetry.mqtt" ({broker, client_id, connected, messages, retained,
 * reconnects}), stop disconnects, close frees. Add it right after the
 * telemetry service, so that `stats` shows it inside "telemetry". */
tm_service_t tm_mqtt_service(tm_mqtt_t *m);

#endif
