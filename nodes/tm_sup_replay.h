/* tm_sup_replay: the machine's decisions of an audit log, to apply again.
 *
 * Every supervisor decision that depends only on the model's values
 * (a step error, non-finite values, a residual, a promotion) is taken
 * again by the runtime in a replayed run. A fallback for step time is not:
 * it depends on the machine that measured it. The node records each one
 * in its audit log with the tick it was applied at (kind `fallback`, who
 * `node`, reason "step slow: ..."), and a node started with `--replay
 * FILE` (FILE: the JSON of `twinmesh --json audit`) applies those records
 * at their ticks instead of measuring, so the run gives the same results
 * on any machine.
 *
 * This module reads such a file: it keeps the step-time fallbacks, in
 * order of tick then record number. Threading: control thread only.
 */
#ifndef TM_SUP_REPLAY_H_INCLUDED
#define TM_SUP_REPLAY_H_INCLUDED

#include "tm_text.h" /* TM_ID_MAX */

#include <stddef.h>
#include <stdint.h>

#define TM_SUP_REPLAY_SPEC_MAX   160u           /* bytes in before/after */
#define TM_SUP_REPLAY_FILE_MAX   (128ull << 20) /* bytes in a replay file */
#define TM_SUP_REPLAY_REASON_PFX "step slow:"   /* a step-time fallback */

typedef struct {
    uint64_t tick; /* applied after stepping this tick */
    uint64_t seq;  /* the record's number in the log it came from */
    char id[TM_ID_MAX + 1];
    char before[TM_SUP_REPLAY_SPEC_MAX + 1]; /* family@version/tier */
    char after[TM_SUP_REPLAY_SPEC_MAX + 1];
} tm_sup_fall_t;

typedef struct {
    tm_sup_fall_t *falls; /* sorted by tick, then seq */
    size_t n;
    size_t records; /* records in the file, of every kind */
} tm_sup_replay_t;

/* Read path. A file that is not a JSON array of audit records (larger
 * than TM_SUP_REPLAY_FILE_MAX, not JSON, a step-time fallback without its
 * tick, actor or tiers) is refused with why naming the file and the
 * record; damaged records (fields null) are not fallbacks and are
 * skipped. Errors: TM_ERR_IO (cannot read), TM_ERR_CONFIG (bad
 * content), TM_ERR_NOMEM. */
int tm_sup_replay_load(tm_sup_replay_t *out, const char *path, char *why,
                       size_t cap);

void tm_sup_replay_free(tm_sup_replay_t *r);

#endif
