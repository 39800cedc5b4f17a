/* tm_stats: the node's one registry of statistics. */
#include "tm_stats.h"

#include "tm_err.h"

#include <stdlib.h>
#include <string.h>

struct tm_stats {
    tm_stat_t *v;
    size_t n, cap;
};

tm_stats_t *tm_stats_new(void)
{
    return calloc(1, sizeof(tm_stats_t));
}

void tm_stats_destroy(tm_stats_t **p)
{
    if (p == NULL || *p == NULL) {
        return;
    }
    free((*p)->v);
    free(*p);
    *p = NULL;
}

/* Length of the section part of a name ("checkpoint" of
 * "checkpoint.count"); 0 for a top-level name. */
static size_t s_section(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot != NULL ? (size_t)(dot - name) : 0;
}

int tm_stats_add(tm_stats_t *s, const tm_stat_t *entry)
{
    size_t sl = s_section(entry->name);
    size_t at = s->n; /* after the last entry of its section, if any */
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].name, entry->name) == 0) {
            return TM_ERR_EXISTS;
        }
        if (sl > 0 && s_section(s->v[i].name) == sl &&
            strncmp(s->v[i].name, entry->name, sl) == 0) {
            at = i + 1;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        tm_stat_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            return TM_ERR_NOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof *s->v);
    s->v[at] = *entry;
    s->n++;
    return 0;
}

int tm_stats_add_u64(tm_stats_t *s, const char *name, uint64_t (*get)(void *),
                     void *arg)
{
    tm_stat_t e = {.name = name, .kind = TM_STAT_U64, .arg = arg};
    e.get.u64 = get;
    return tm_stats_add(s, &e);
}

int tm_stats_add_f64(tm_stats_t *s, const char *name, double (*get)(void *),
                     void *arg)
{
    tm_stat_t e = {.name = name, .kind = TM_STAT_F64, .arg = arg};
    e.get.f64 = get;
    return tm_stats_add(s, &e);
}

int tm_stats_add_str(tm_stats_t *s, const char *name,
                     const char *(*get)(void *), void *arg)
{
    tm_stat_t e = {.name = name, .kind = TM_STAT_STR, .arg = arg};
    e.get.str = get;
    return tm_stats_add(s, &e);
}

int tm_stats_add_bool(tm_stats_t *s, const char *name, bool (*get)(void *),
                      void *arg)
{
    tm_stat_t e = {.name = name, .kind = TM_STAT_BOOL, .arg = arg};
    e.get.b = get;
    return tm_stats_add(s, &e);
}

int tm_stats_add_body(tm_stats_t *s, const char *name,
                      void (*get)(void *, tm_body_t *), void *arg)
{
    tm_stat_t e = {.name = name, .kind = TM_STAT_BODY, .arg = arg};
    e.get.body = get;
    return tm_stats_add(s, &e);
}

const tm_stat_t *tm_stats_entries(const tm_stats_t *s, size_t *n)
{
    *n = s->n;
    return s->v;
}

static void s_value(const tm_stat_t *e, tm_body_t *b)
{
    switch (e->kind) {
    case TM_STAT_U64:
        tm_body_u64(b, e->get.u64(e->arg));
        break;
    case TM_STAT_F64:
        tm_body_f64(b, e->get.f64(e->arg));
        break;
    case TM_STAT_STR:
        tm_body_str(b, e->get.str(e->arg));
        break;
    case TM_STAT_BOOL:
        tm_body_bool(b, e->get.b(e->arg));
        break;
    case TM_STAT_BODY:
        e->get.body(e->arg, b);
        break;
    }
}

void tm_stats_pack(const tm_stats_t *s, tm_body_t *b)
{
    const char *open = NULL; /* the section whose map is open */
    size_t open_len = 0;
    tm_body_map(b);
    for (size_t i = 0; i < s->n; i++) {
        const tm_stat_t *e = &s->v[i];
        size_t sl = s_section(e->name);
        bool same =
            open != NULL && sl == open_len && strncmp(open, e->name, sl) == 0;
        if (open != NULL && !same) {
            tm_body_end(b);
            open = NULL;
        }
        if (sl > 0 && open == NULL) {
            char key[64];
            size_t kl = sl < sizeof key - 1 ? sl : sizeof key - 1;
            memcpy(key, e->name, kl);
            key[kl] = '\0';
            tm_body_kv_map(b, key);
            open = e->name;
            open_len = sl;
        }
        tm_body_key(b, e->name + (sl > 0 ? sl + 1 : 0));
        s_value(e, b);
    }
    if (open != NULL) {
        tm_body_end(b);
    }
    tm_body_end(b);
}
