/* tm_parked: changes that wait for the checkpoint writer.
 *
 * A mutating request that comes while a checkpoint is being written (or
 * behind requests that already wait) is kept - its frame as it came and
 * who asked - instead of holding the loop until the writer is free; the
 * loop goes on serving everything else, and the requests run in the order
 * they came once the writer is free (no checkpoint starts while some
 * wait, so the store sees the writes in the node's order). The console
 * server and the mesh service keep one each (tm_console_srv.c: consoles'
 * requests; tm_mesh_wait.c: those other nodes forward); who asked, how
 * a request is answered, kept alive and run is theirs (callbacks). At most
 * TM_PARKED_MAX requests and TM_PARKED_BYTES bytes of frames wait.
 *
 * Threading: control thread only.
 */
#ifndef TM_PARKED_H_INCLUDED
#define TM_PARKED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_PARKED_MAX         1024u
#define TM_PARKED_BYTES       (64u << 20)
#define TM_PARKED_KEEPALIVE_S 0.5 /* keepalives to whoever waits */

typedef struct {
    void *who; /* a copy of the owner's description of who asked */
    uint8_t *frame;
    size_t len;
    double last_sent; /* its last keepalive (monotonic seconds) */
    bool gone;        /* whoever asked went away: not run */
} tm_parked_req_t;

/* Zero-initialised: empty. */
typedef struct {
    tm_parked_req_t *q;
    size_t n, bytes;
    uint64_t total; /* requests that ever waited */
    bool draining;  /* tm_parked_drain runs them: none is kept */
} tm_parked_t;

typedef void (*tm_parked_fn)(void *arg, tm_parked_req_t *r);

/* Keep frame (len bytes) and who (who_len bytes), both copied, at the end;
 * *out (may be NULL) points at it until the next call. Errors:
 * TM_ERR_BUSY (TM_PARKED_MAX requests or TM_PARKED_BYTES bytes wait:
 * nothing kept), TM_ERR_NOMEM. */
int tm_parked_push(tm_parked_t *p, const void *who, size_t who_len,
                   const uint8_t *frame, size_t len, tm_parked_req_t **out);

/* Run the requests in order, run(arg, r) each, for as long as busy(arg)
 * is false; each is freed after its run. While they run p->draining is
 * true: a request that comes then is not kept but run at once. */
void tm_parked_drain(tm_parked_t *p, bool (*busy)(void *arg), void *busy_arg,
                     tm_parked_fn run, void *arg);

/* fn(arg, r) for every request whose last keepalive is at least
 * TM_PARKED_KEEPALIVE_S old (its time set to now first). */
void tm_parked_keepalive(tm_parked_t *p, double now, tm_parked_fn fn,
                         void *arg);

/* Drop the first request for which match(r, key) holds; whether one was. */
bool tm_parked_cancel(tm_parked_t *p,
                      bool (*match)(const tm_parked_req_t *r, const void *key),
                      const void *key);

/* Stopping: fn(arg, r) for each (it answers "not made"), then everything
 * is freed; p is empty and may be used again. */
void tm_parked_clear(tm_parked_t *p, tm_parked_fn fn, void *arg);

#endif
