/* tm_sock: the one place that creates twinmesh's TCP-facing sockets.
 *
 * Every socket that may face another process (console ROUTER, the
 * console's DEALER, and later mesh, telemetry and output sockets) is made
 * here, so that message-size limits, high-water marks, ROUTER_MANDATORY,
 * linger and (later) CurveZMQ keys are applied in one place:
 *
 * - ZMQ_MAXMSGSIZE = the wire limit (TM_WIRE_MAX_SIZE_DEFAULT unless
 *   opts say otherwise): libzmq drops a peer that sends a bigger frame
 *   before the bytes reach a decoder;
 * - ZMQ_SNDHWM / ZMQ_RCVHWM (default 1000 messages);
 * - ZMQ_ROUTER_MANDATORY on ROUTER sockets: a reply to a peer that went
 *   away fails with EHOSTUNREACH instead of vanishing, so streams stop and
 *   drops are counted;
 * - ZMQ_LINGER (default 0 ms for ROUTER, 200 ms for others).
 *
 * Sockets use raw libzmq (void *), so libev can watch their ZMQ_FD.
 */
#ifndef TM_SOCK_H_INCLUDED
#define TM_SOCK_H_INCLUDED

#include <stddef.h>

typedef enum { TM_SOCK_BIND = 0, TM_SOCK_CONNECT = 1 } tm_sock_mode_t;

typedef struct {
    size_t max_msg; /* ZMQ_MAXMSGSIZE in bytes; 0 = wire default */
    int hwm;        /* send and receive high-water marks; 0 = 1000 */
    int linger_ms;  /* -1 = the default for the socket type */
    /* inproc address on which the socket reports these ZMQ_EVENT_* (0 or
     * NULL: none), set up before it binds or connects, so that no event
     * is missed; connect a PAIR to it first (inproc allows that). */
    const char *monitor;
    int monitor_events;
} tm_sock_opts_t;

/* Create a socket of zmq type `type` (ZMQ_ROUTER, ZMQ_DEALER, ...) in
 * context zctx and bind or connect it to endpoint (checked with
 * tm_sock_endpoint_check first). opts may be NULL.
 * Errors: TM_ERR_BUSY (address in use), TM_ERR_INVAL (bad endpoint),
 * TM_ERR_PERM, TM_ERR_IO; errors from zmq are translated. On error *out is
 * NULL and nothing is left open. */
int tm_sock_open(void **out, void *zctx, int type, const char *endpoint,
                 tm_sock_mode_t mode, const tm_sock_opts_t *opts);

/* Check an endpoint before it is used: "tcp://HOST:PORT" with a decimal
 * PORT in 1..65535 (or 0 or '*' when `bind`: a port chosen by the system,
 * see tm_sock_endpoint), or "ipc://PATH". Other transports (inproc://
 * reaches no other process) are refused. TM_ERR_INVAL with a one-line
 * reason in why (may be NULL). */
int tm_sock_endpoint_check(const char *endpoint, int bind, char *why,
                           size_t cap);

/* The address a socket is bound to (ZMQ_LAST_ENDPOINT: the real port when
 * 0 or '*' was asked for) into buf. Errors: TM_ERR_TOO_BIG, TM_ERR_IO. */
int tm_sock_endpoint(void *sock, char *buf, size_t cap);

/* Close a socket made by tm_sock_open. NULL-safe, sets *p to NULL. */
void tm_sock_close(void **p);

/* The most recent libzmq error as a tm_err_t (for send/recv failures). */
int tm_sock_err(void);

/* Frames of one message over which tm_sock_drain gives the memory libzmq
 * held for it back to the system (malloc_trim). */
#define TM_SOCK_TRIM_FRAMES 65536

/* Receive and drop the rest of the message whose last frame received had
 * `more` set; returns the frames dropped. libzmq delivers a message only
 * once every frame of it has arrived, and bounds a frame's size
 * (ZMQ_MAXMSGSIZE) but not the number of frames: a message of millions
 * of empty frames is held whole (about 64 bytes each) before the first
 * is read. Every receiver here takes messages of one or two frames, so
 * the rest is dropped, and after a message of more than
 * TM_SOCK_TRIM_FRAMES frames the freed memory is returned at once rather
 * than kept by the allocator. */
size_t tm_sock_drain(void *sock);

#endif
