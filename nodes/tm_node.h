/* tm_node: the node's control loop - console, clock, checkpoints, signals.
 *
 * One libev loop (the default loop, for ev_signal) on the control thread
 * owns the console ROUTER socket, the runtime (which steps on its own
 * worker threads inside tm_rt_step) and the store; a writer thread commits
 * checkpoints (tm_writer).
 *
 * Console: the ROUTER socket is watched through ZMQ_FD. ZMQ_FD is
 * edge-triggered, so the loop drains while ZMQ_EVENTS has ZMQ_POLLIN, and
 * checks again from an ev_prepare watcher before every poll (a send or a
 * receive may have consumed the edge of messages that are still queued).
 *
 * Clock: realtime steps tick k not before t0 + (k - k0) * h (an ev_timer);
 * fast steps chunks of ticks sized to about 10 ms from an ev_idle watcher,
 * so requests are served between chunks; paused does nothing. `run --ticks
 * N` steps exactly N ticks in such chunks, replies when done and leaves the
 * clock paused. Chunks end on checkpoint ticks; a checkpoint (every actor
 * record plus meta tick) is built on the control thread and committed by
 * the writer thread, so stepping does not wait for fsync.
 *
 * SIGTERM or SIGINT: stop stepping, end streams and a pending run, write a
 * final checkpoint, return from tm_node_run() with 0.
 */
#ifndef TM_NODE_H_INCLUDED
#define TM_NODE_H_INCLUDED

#include "tm_config.h"

#include <stddef.h>

typedef struct tm_node tm_node_t;

/* Open the store (creating it if needed), bind the console, start the
 * runtime at the last checkpoint's tick and restore every stored actor
 * and link. On error returns a tm_err_t and writes a one-line message for
 * the operator into err; *out is NULL. */
int tm_node_open(tm_node_t **out, const tm_config_t *cfg, char *err,
                 size_t errlen);

/* Run until SIGTERM/SIGINT, then checkpoint. 0 on a clean stop; a
 * tm_err_t if the runtime failed or the final checkpoint could not be
 * written (message in err). */
int tm_node_run(tm_node_t *node, char *err, size_t errlen);

/* Free everything. NULL-safe, sets *p to NULL. */
void tm_node_destroy(tm_node_t **p);

#endif
