/* tm_writer: the node's checkpoint writer thread.
 *
 * The control loop takes a snapshot of every actor at one tick (a flat
 * copy) and hands it over with an empty batch; the writer encodes the
 * records into the batch (tm_writer_submit_fill) and commits it durably on
 * its own thread, so stepping waits neither for encoding nor for fsync. One
 * batch at a time: a submit while one is in flight is refused with TM_ERR_BUSY
 * and the node takes the checkpoint later. Console mutations commit on the
 * control thread, after tm_writer_wait(), so the store sees every write in the
 * order the node made it.
 *
 * The `done` callback runs on the writer thread after each commit (e.g.
 * ev_async_send to wake the control loop); results are collected with
 * tm_writer_poll() on the control thread.
 */
#ifndef TM_WRITER_H_INCLUDED
#define TM_WRITER_H_INCLUDED

#include "tm_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_writer tm_writer_t;

typedef void (*tm_writer_done_fn)(void *arg);

typedef struct {
    uint64_t tick;  /* checkpoint tick of the batch */
    size_t records; /* operations in the batch */
    int rc;         /* fill or tm_store_batch_commit result */
    double ms;      /* time spent filling and committing */
} tm_writer_result_t;

/* Start the thread. done may be NULL. Errors: TM_ERR_NOMEM, TM_ERR_IO. */
int tm_writer_open(tm_writer_t **out, tm_writer_done_fn done, void *arg);

/* Wait for the batch in flight, stop the thread, free. NULL-safe. */
void tm_writer_destroy(tm_writer_t **p);

/* Hand a batch over (the writer takes *batch and sets it to NULL on
 * success). TM_ERR_BUSY if a batch is still in flight. */
int tm_writer_submit(tm_writer_t *w, tm_store_batch_t **batch, uint64_t tick);

/* Like tm_writer_submit, but the writer thread first calls fill(arg,
 * batch) to complete the batch (e.g. encode a snapshot, so the control
 * thread only copies), then free_fn(arg) whatever happened; a fill error
 * is the result and nothing is committed. On TM_ERR_BUSY nothing is taken
 * (arg stays the caller's). */
typedef int (*tm_writer_fill_fn)(void *arg, tm_store_batch_t *batch);
int tm_writer_submit_fill(tm_writer_t *w, tm_store_batch_t **batch,
                          uint64_t tick, tm_writer_fill_fn fill,
                          void (*free_fn)(void *arg), void *arg);

/* true while a batch is in flight. */
bool tm_writer_busy(tm_writer_t *w);

/* Block until no batch is in flight. */
void tm_writer_wait(tm_writer_t *w);

/* Take the result of the last finished batch not yet polled: 1 if there
 * was one (copied to out), 0 otherwise. */
int tm_writer_poll(tm_writer_t *w, tm_writer_result_t *out);

#endif
