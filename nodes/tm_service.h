/* tm_service: the one interface between the node's loop and its services.
 *
 * tm_node owns the libev loop and nothing else; the console server, the
 * clock, checkpoints (and later peers, telemetry, outputs, metrics) are
 * services. Each is created by its own open function (which takes what it
 * needs), then described to the node by a tm_service_t: the node attaches
 * it to the loop, tells it about ticks, lets it register statistics, asks
 * it to stop (end what consoles wait for, flush) and closes it, in the
 * order services were added (close: reverse order). Every member may be
 * NULL. A service reaches another only through that service's functions.
 */
#ifndef TM_SERVICE_H_INCLUDED
#define TM_SERVICE_H_INCLUDED

#include "tm_stats.h"

#include <ev.h>
#include <stdint.h>

typedef struct {
    const char *name;
    void *self;
    /* Start watchers on loop. Errors stop the node from starting. */
    int (*attach)(void *self, struct ev_loop *loop);
    /* Before stepping from tick `tick` (the last computed tick) and after
     * stepping up to tick `tick` (possibly several ticks in one chunk). */
    void (*before_tick)(void *self, uint64_t tick);
    void (*after_tick)(void *self, uint64_t tick);
    /* Register the service's statistics. */
    int (*stats)(void *self, tm_stats_t *reg);
    /* The node is stopping: answer what waits, stop watchers. */
    void (*stop)(void *self);
    /* Free everything (after every service stopped). */
    void (*close)(void *self);
} tm_service_t;

#endif
