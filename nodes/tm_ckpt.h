/* tm_ckpt: the node's checkpoints, as a service.
 *
 * Every `every` ticks the runtime is copied (tm_persist_snapshot, on the
 * control thread: stepping stalls only for the copy) and handed to the
 * writer thread, which encodes and commits it. Chunks of ticks end on
 * checkpoint ticks (the scheduler asks tm_ckpt_next_stop); if the writer is
 * still busy the checkpoint is put off, never waited for, and taken at the
 * first chunk end or service tick after the writer is free. Stopping takes
 * a final checkpoint and waits for it.
 *
 * tm_ckpt_barrier() waits for a checkpoint in flight: the mutation path
 * calls it before each commit, so the store sees writes in the node's
 * order. Console changes do not reach it while a checkpoint is in flight:
 * they wait in the console server (tm_ckpt_waiter), and the loop goes on.
 *
 * With an audit log (tm_ckpt_audit), every checkpoint batch also carries
 * the decision records queued since the last commit and the deletes of
 * the oldest audit records past the retention (at most
 * TM_AUDIT_TRIM_MAX per checkpoint).
 */
#ifndef TM_CKPT_H_INCLUDED
#define TM_CKPT_H_INCLUDED

#include "tm_audit.h"
#include "tm_rt.h"
#include "tm_service.h"
#include "tm_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tm_ckpt tm_ckpt_t;

/* The tag of checkpoint batches (tm_store_batch_tag): a store's commit
 * hook tells them from changes. */
#define TM_CKPT_TAG 1u

/* every = 0: no periodic checkpoints (a final one is still taken).
 * last_tick: tick of the checkpoint found in the store. Errors:
 * TM_ERR_NOMEM, TM_ERR_IO (writer thread). */
int tm_ckpt_open(tm_ckpt_t **out, tm_rt_t *rt, tm_store_t *store,
                 uint64_t every, uint64_t last_tick);

/* The service (attach, after_tick, stats, close). */
tm_service_t tm_ckpt_service(tm_ckpt_t *c);

/* The next checkpoint tick (0: none due). */
uint64_t tm_ckpt_next_stop(void *c);

/* Wait until no checkpoint is in flight (and count it). */
void tm_ckpt_barrier(void *c);

/* Whether a checkpoint is in flight. */
bool tm_ckpt_busy(void *c);

/* Writes that wait for the writer instead of holding the loop (the
 * console's changes, tm_console_srv_writer): while held(arg) no checkpoint
 * starts, and once one in flight is durable ready(arg) runs them, on the
 * control thread, from the loop (never inside a checkpoint). */
void tm_ckpt_waiter(tm_ckpt_t *c, bool (*held)(void *arg),
                    void (*ready)(void *arg), void *arg);

/* Take a checkpoint of the current tick now and wait for it to be
 * durable. Errors: those of the snapshot and the commit. */
int tm_ckpt_final(tm_ckpt_t *c);

/* Write and trim this audit log with every checkpoint (NULL: none). */
void tm_ckpt_audit(tm_ckpt_t *c, tm_audit_t *audit);

/* Tick of the last durable checkpoint. */
uint64_t tm_ckpt_tick(const tm_ckpt_t *c);

#endif
