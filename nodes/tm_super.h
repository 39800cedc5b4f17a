/* tm_super: the node's supervisor - the runtime's fallback policy from the
 * catalog and the config, and what it did told to the log, the statistics
 * and whoever records decisions.
 *
 * The runtime acts within the tick (tm_rt_supervise: fallback to a lower
 * tier, shadow and promotion, quarantine); this service gives it the tiers
 * of each family@version (tm_models_find) and the thresholds of each family
 * ([supervisor], [supervisor.FAMILY]), and after every chunk of ticks
 * reads tm_rt_events.
 *
 * Threading: control thread only.
 */
#ifndef TM_SUPER_H_INCLUDED
#define TM_SUPER_H_INCLUDED

#include "tm_config.h"
#include "tm_sup_replay.h"
#include "tm_rt.h"
#include "tm_service.h"

typedef struct tm_super tm_super_t;

/* A decision to record: kind ("fallback", "promote", "hold",
 * "quarantine"), actor, tiers before and after, why, its tick. */
typedef void (*tm_super_note_fn)(void *arg, const char *kind, const char *id,
                                 const char *before, const char *after,
                                 const char *why, uint64_t tick);

/* Install the supervisor on rt (cfg is kept; it must outlive the
 * service). Errors: TM_ERR_NOMEM. */
int tm_super_open(tm_super_t **out, tm_rt_t *rt, const tm_config_t *cfg);

/* Who records decisions (NULL: nobody). */
void tm_super_on_note(tm_super_t *s, tm_super_note_fn fn, void *arg);

/* Replay the step-time fallbacks of the audit log in path (tm_sup_replay.h)
 * instead of measuring step times: each is applied after stepping its
 * tick, to the actor at the tier it was taken from, and recorded again;
 * records of ticks at or before the runtime's tick now are in the state
 * the node starts from and are skipped. path is kept (it must outlive the
 * service). Errors: those of tm_sup_replay_load (why says what). */
int tm_super_replay(tm_super_t *s, const char *path, char *why, size_t cap);

/* The next tick a recorded fallback is due after (0: none): for the
 * scheduler, which ends chunks on it (tm_sched_sub_t next_stop). */
uint64_t tm_super_next_stop(void *s);

/* The service: after_tick reads the events, stats "supervisor.*". */
tm_service_t tm_super_service(tm_super_t *s);

#endif
