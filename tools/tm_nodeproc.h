/* tm_nodeproc: a twinmesh-node of a tool's own, on loopback, for as long
 * as the tool runs (twinmesh-replay without -c).
 *
 * The node gets a fresh temporary directory (its data and its log), free
 * loopback ports for its console, telemetry and outputs endpoints, and the
 * flags the caller gives; it is asked to exit with the tool (the kernel
 * sends it SIGTERM if the tool dies first). Stopping it sends SIGTERM,
 * waits, and removes the directory. Not thread-safe.
 */
#ifndef TM_NODEPROC_H_INCLUDED
#define TM_NODEPROC_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

typedef struct tm_nodeproc tm_nodeproc_t;

typedef struct {
    /* the node binary; NULL: $TWINMESH_NODE, else twinmesh-node beside
     * self_exe (or in ../nodes/ of it: the build tree), else on PATH */
    const char *binary;
    const char *self_exe; /* the tool's own path (argv[0] if no /proc) */
    const char *tick;     /* --tick value, e.g. "1" */
    const char *clock;    /* --clock value, e.g. "paused" */
    int ready_ms;         /* how long start-up may take (0: 30 s) */
} tm_nodeproc_opts_t;

/* Find the binary, start the node and wait until its console answers.
 * Errors: TM_ERR_NOT_FOUND (no binary), TM_ERR_IO (cannot make the
 * directory or start the process), TM_ERR_TIMEOUT (no answer in time),
 * TM_ERR_CLOSED (the node exited during start-up: err has the end of its
 * log); err says what. On error nothing is left running or on disk. */
int tm_nodeproc_start(tm_nodeproc_t **out, const tm_nodeproc_opts_t *opts,
                      char *err, size_t errlen);

/* Its endpoints (tcp://127.0.0.1:PORT), valid until destroy. */
const char *tm_nodeproc_console(const tm_nodeproc_t *p);
const char *tm_nodeproc_telemetry(const tm_nodeproc_t *p);
const char *tm_nodeproc_outputs(const tm_nodeproc_t *p);

/* The binary that was started. */
const char *tm_nodeproc_binary(const tm_nodeproc_t *p);

/* Write the last `lines` lines of the node's log to f. */
void tm_nodeproc_log_tail(const tm_nodeproc_t *p, FILE *f, int lines);

/* SIGTERM, wait up to 10 s (then SIGKILL), remove the directory. Returns
 * the node's exit status (0: clean), -1 if it had to be killed or was
 * gone. NULL-safe, sets *p to NULL. */
int tm_nodeproc_stop(tm_nodeproc_t **p);

/* Resolve the binary as tm_nodeproc_start does, into buf. Errors:
 * TM_ERR_NOT_FOUND (err lists where it looked). */
int tm_nodeproc_find(const tm_nodeproc_opts_t *opts, char *buf, size_t cap,
                     char *err, size_t errlen);

#endif
