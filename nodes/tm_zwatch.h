/* tm_zwatch: a ZeroMQ socket watched from libev, with bounded work.
 *
 * ZMQ_FD is edge-triggered: it signals that the socket's state changed,
 * not that a message is there, and a send or receive can consume the edge
 * of messages still queued. The watcher therefore reads while ZMQ_EVENTS
 * has ZMQ_POLLIN, both when the fd fires and before the loop blocks (an
 * ev_prepare), so a message that arrived with no new edge is never left
 * behind. Each pass handles at most `budget` messages and stops after
 * about 5 ms of work (one long request may take longer); when more are
 * queued, an ev_idle keeps the loop from blocking and the rest is read in
 * the next iterations, after timers and signals had their turn. Every
 * service that owns a socket (console, peers, telemetry) uses this.
 */
#ifndef TM_ZWATCH_H_INCLUDED
#define TM_ZWATCH_H_INCLUDED

#include <ev.h>
#include <stdbool.h>

/* Read and handle one message from sock (all its frames). Return 0 to go
 * on, non-zero to stop this pass (e.g. the node is stopping). */
typedef int (*tm_zwatch_fn)(void *arg, void *sock);

typedef struct {
    ev_io io;
    ev_prepare prepare;
    ev_idle more; /* active while messages are left over */
    struct ev_loop *loop;
    void *sock;
    tm_zwatch_fn fn;
    void *arg;
    unsigned budget;
} tm_zwatch_t;

/* Set up a watcher of sock (not started). budget 0 = 64. Errors:
 * TM_ERR_IO (no ZMQ_FD). */
int tm_zwatch_init(tm_zwatch_t *w, void *sock, tm_zwatch_fn fn, void *arg,
                   unsigned budget);
void tm_zwatch_start(tm_zwatch_t *w, struct ev_loop *loop);
void tm_zwatch_stop(tm_zwatch_t *w);

/* true if the socket has a message to read now. */
bool tm_zwatch_readable(void *sock);

#endif
