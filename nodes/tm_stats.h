/* tm_stats: the node's one registry of statistics.
 *
 * Each service registers the figures it owns under dotted names
 * ("checkpoint.count", "console.dropped") with a getter; `stats` reads the
 * whole registry into one document (names split at the dot into nested
 * maps, in registration order), and the metrics endpoint reads the numeric
 * entries. A getter is called on the control thread whenever the registry
 * is read, so values are always current and nothing is copied between
 * services.
 */
#ifndef TM_STATS_H_INCLUDED
#define TM_STATS_H_INCLUDED

#include "tm_body.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_stats tm_stats_t;

typedef enum {
    TM_STAT_U64,
    TM_STAT_F64,
    TM_STAT_STR,
    TM_STAT_BOOL,
    TM_STAT_BODY /* packs its own value (an array, say) */
} tm_stat_kind_t;

typedef struct {
    const char *name; /* dotted path, static */
    tm_stat_kind_t kind;
    union {
        uint64_t (*u64)(void *arg);
        double (*f64)(void *arg);
        const char *(*str)(void *arg);
        bool (*b)(void *arg);
        void (*body)(void *arg, tm_body_t *body);
    } get;
    void *arg;
} tm_stat_t;

/* Errors: NULL only when out of memory. */
tm_stats_t *tm_stats_new(void);
void tm_stats_destroy(tm_stats_t **p);

/* Register one entry (copied), after the entries of its section if some
 * came before (the document has one map per section, however the
 * services' registrations interleave). Errors: TM_ERR_NOMEM,
 * TM_ERR_EXISTS (name registered before). */
int tm_stats_add(tm_stats_t *s, const tm_stat_t *entry);

int tm_stats_add_u64(tm_stats_t *s, const char *name, uint64_t (*get)(void *),
                     void *arg);
int tm_stats_add_f64(tm_stats_t *s, const char *name, double (*get)(void *),
                     void *arg);
int tm_stats_add_str(tm_stats_t *s, const char *name,
                     const char *(*get)(void *), void *arg);
int tm_stats_add_bool(tm_stats_t *s, const char *name, bool (*get)(void *),
                      void *arg);
int tm_stats_add_body(tm_stats_t *s, const char *name,
                      void (*get)(void *, tm_body_t *), void *arg);

/* Pack every entry as one map (nested by dotted names) into b. */
void tm_stats_pack(const tm_stats_t *s, tm_body_t *b);

/* Entries in registration order (borrowed until the next add). */
const tm_stat_t *tm_stats_entries(const tm_stats_t *s, size_t *n);

#endif
