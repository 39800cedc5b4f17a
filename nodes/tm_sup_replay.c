/* tm_sup_replay: read the step-time fallbacks of an audit log
 * (tm_sup_replay.h). */
#include "tm_sup_replay.h"

#include "tm_err.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int s_why(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_why(char *why, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return rc;
}

static int s_cmp(const void *a, const void *b)
{
    const tm_sup_fall_t *x = a;
    const tm_sup_fall_t *y = b;
    if (x->tick != y->tick) {
        return x->tick < y->tick ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A string member of at most max bytes into dst; false if absent or long. */
static bool s_str(const json_t *rec, const char *key, char *dst, size_t max)
{
    const char *s = json_string_value(json_object_get(rec, key));
    if (s == NULL || strlen(s) > max) {
        return false;
    }
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* Whether record rec is the node's step-time fallback. */
static bool s_is_fall(const json_t *rec)
{
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    const char *who = json_string_value(json_object_get(rec, "who"));
    const char *reason = json_string_value(json_object_get(rec, "reason"));
    return kind != NULL && who != NULL && reason != NULL &&
           strcmp(kind, "fallback") == 0 && strcmp(who, "node") == 0 &&
           strncmp(reason, TM_SUP_REPLAY_REASON_PFX,
                   strlen(TM_SUP_REPLAY_REASON_PFX)) == 0;
}

/* Record i (a step-time fallback) into f. */
static int s_fall(const json_t *rec, size_t i, tm_sup_fall_t *f,
                  const char *path, char *why, size_t cap)
{
    json_t *tick = json_object_get(rec, "tick");
    json_t *seq = json_object_get(rec, "seq");
    if (!json_is_integer(tick) || json_integer_value(tick) < 0 ||
        !json_is_integer(seq) || json_integer_value(seq) < 0) {
        return s_why(why, cap, TM_ERR_CONFIG,
                     "%s: record %zu: a step-time fallback without its tick "
                     "or seq (whole numbers)",
                     path, i);
    }
    f->tick = (uint64_t)json_integer_value(tick);
    f->seq = (uint64_t)json_integer_value(seq);
    if (!s_str(rec, "actor", f->id, TM_ID_MAX) ||
        !s_str(rec, "before", f->before, TM_SUP_REPLAY_SPEC_MAX) ||
        !s_str(rec, "after", f->after, TM_SUP_REPLAY_SPEC_MAX)) {
        return s_why(why, cap, TM_ERR_CONFIG,
                     "%s: record %zu (seq %llu): a step-time fallback "
                     "without its actor or its tiers before and after",
                     path, i, (unsigned long long)f->seq);
    }
    return 0;
}

static int s_read(tm_sup_replay_t *out, const json_t *root, const char *path,
                  char *why, size_t cap)
{
    if (!json_is_array(root)) {
        return s_why(why, cap, TM_ERR_CONFIG,
                     "%s: not a list of audit records (the output of "
                     "`twinmesh --json audit`)",
                     path);
    }
    size_t n = json_array_size(root);
    const char *node = NULL; /* the node a mesh's records name */
    out->records = n;
    for (size_t i = 0; i < n; i++) {
        const json_t *rec = json_array_get(root, i);
        if (!json_is_object(rec)) {
            return s_why(why, cap, TM_ERR_CONFIG,
                         "%s: record %zu is not an object", path, i);
        }
        const char *from = json_string_value(json_object_get(rec, "node"));
        if (from != NULL && node != NULL && strcmp(from, node) != 0) {
            return s_why(why, cap, TM_ERR_CONFIG,
                         "%s: records of several nodes (%.64s, %.64s): "
                         "replay one node's log (`twinmesh --json audit "
                         "--node NODE`)",
                         path, node, from);
        }
        node = from != NULL ? from : node;
        if (!s_is_fall(rec)) {
            continue;
        }
        if (out->falls == NULL) {
            out->falls = calloc(n - i, sizeof *out->falls);
            if (out->falls == NULL) {
                return TM_ERR_NOMEM;
            }
        }
        int rc = s_fall(rec, i, &out->falls[out->n], path, why, cap);
        if (rc != 0) {
            return rc;
        }
        out->n++;
    }
    if (out->n > 1) {
        qsort(out->falls, out->n, sizeof *out->falls, s_cmp);
    }
    return 0;
}

int tm_sup_replay_load(tm_sup_replay_t *out, const char *path, char *why,
                       size_t cap)
{
    *out = (tm_sup_replay_t){0};
    struct stat st;
    if (stat(path, &st) != 0) {
        return s_why(why, cap, TM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > TM_SUP_REPLAY_FILE_MAX) {
        return s_why(why, cap, TM_ERR_CONFIG, "%s: %s", path,
                     S_ISREG(st.st_mode) ? "larger than 128 MiB"
                                         : "not a regular file");
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        return s_why(why, cap, TM_ERR_CONFIG, "%s:%d:%d: %s", path, je.line,
                     je.column, je.text);
    }
    int rc = s_read(out, root, path, why, cap);
    json_decref(root);
    if (rc != 0) {
        tm_sup_replay_free(out);
    }
    return rc;
}

void tm_sup_replay_free(tm_sup_replay_t *r)
{
    if (r != NULL) {
        free(r->falls);
        *r = (tm_sup_replay_t){0};
    }
}
