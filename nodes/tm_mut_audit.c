/* tm_mut_audit: the audit records of the mutation path - who asks, the
 * record of each change (in its batch), decision records of other
 * modules. */
#include "tm_mut.h"
#include "tm_mut_int.h"

#include "tm_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_mut_origin(tm_mut_t *m, const char *who)
{
    snprintf(m->who, sizeof m->who, "%s", who ? who : TM_AUDIT_WHO_NODE);
    m->kind[0] = '\0';
    m->reason[0] = '\0';
}

void tm_mut_reason(tm_mut_t *m, const char *kind, const char *reason)
{
    snprintf(m->kind, sizeof m->kind, "%s", kind ? kind : "");
    snprintf(m->reason, sizeof m->reason, "%s", reason ? reason : "");
}

tm_audit_t *tm_mut_audit(tm_mut_t *m)
{
    return m->audit;
}

int tm_mut_audit_note(tm_mut_t *m, const char *kind, const char *actor,
                      const char *before, const char *after, const char *reason)
{
    return tm_mut_audit_note_at(m, tm_rt_tick(m->rt), kind, actor, before,
                                after, reason);
}

int tm_mut_audit_note_at(tm_mut_t *m, uint64_t tick, const char *kind,
                         const char *actor, const char *before,
                         const char *after, const char *reason)
{
    tm_audit_rec_init(&m->rec, tick, kind, actor, before, after, reason,
                      m->who);
    return tm_audit_note(m->audit, &m->rec);
}

/* A record that could not be appended: the batch is not committed, so
 * the decision records put into it are lost. */
static int s_failed(tm_mut_t *m, int rc)
{
    if (rc != 0) {
        tm_audit_done(m->audit, 0, m->noted, rc);
        m->records = 0;
        m->noted = 0;
    }
    return rc;
}

const char *tmi_mut_spec(const tm_model_t *model, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s@%s/%s", model->family, model->version,
             tm_fidelity_name(model->fidelity));
    return buf;
}

int tmi_mut_audit(tm_mut_t *m, tm_store_batch_t *b, const char *kind,
                  const char *actor, const char *before, const char *after,
                  const char *reason)
{
    size_t notes = 0;
    int rc = tm_audit_flush(m->audit, b, &notes);
    m->noted += notes;
    if (rc == 0) {
        tm_audit_rec_init(&m->rec, tm_rt_tick(m->rt),
                          m->kind[0] ? m->kind : kind, actor, before, after,
                          m->reason[0] ? m->reason : reason, m->who);
        rc = tm_audit_append(m->audit, b, &m->rec);
    }
    m->records += notes + (rc == 0);
    return s_failed(m, rc);
}

/* The record of a change of actor id's model: spawn (before NULL, n the
 * period), kill (after NULL, n the links removed) or set-model. */
int tmi_mut_audit_models(tm_mut_t *m, tm_store_batch_t *b, const char *kind,
                         const char *id, const tm_model_t *before,
                         const tm_model_t *after, uint64_t n)
{
    char was[TM_AUDIT_VALUE_MAX + 1];
    char now[TM_AUDIT_VALUE_MAX + 1];
    char reason[96];
    if (before == NULL) {
        snprintf(reason, sizeof reason, "spawned with period %llu",
                 (unsigned long long)(n ? n : 1));
    } else if (after == NULL) {
        snprintf(reason, sizeof reason, "killed with %llu links",
                 (unsigned long long)n);
    } else {
        snprintf(reason, sizeof reason, "state mapped by the model");
    }
    return tmi_mut_audit(
        m, b, kind, id, before ? tmi_mut_spec(before, was, sizeof was) : NULL,
        after ? tmi_mut_spec(after, now, sizeof now) : NULL, reason);
}

/* The record of a spawn-many: one for the batch, naming its ids. */
int tmi_mut_audit_many(tm_mut_t *m, tm_store_batch_t *b, const char *prefix,
                       uint64_t count, const tm_model_t *model)
{
    char spec[TM_AUDIT_VALUE_MAX + 1];
    char reason[TM_AUDIT_REASON_MAX + 1];
    size_t notes = 0;
    snprintf(reason, sizeof reason, "spawned %s0 .. %s%llu (%llu actors)",
             prefix, prefix, (unsigned long long)(count - 1),
             (unsigned long long)count);
    int rc = tm_audit_flush(m->audit, b, &notes);
    m->noted += notes;
    if (rc == 0) {
        tm_audit_rec_init(&m->rec, tm_rt_tick(m->rt), "spawn-many", NULL, NULL,
                          tmi_mut_spec(model, spec, sizeof spec),
                          m->reason[0] ? m->reason : reason, m->who);
        snprintf(m->rec.prefix, sizeof m->rec.prefix, "%s", prefix);
        m->rec.count = count;
        rc = tm_audit_append(m->audit, b, &m->rec);
    }
    m->records += notes + (rc == 0);
    return s_failed(m, rc);
}

/* "name=value, ..." of n values, each the shortest text that reads back
 * as the same double; cut with "..." when it does not fit. */
const char *tmi_mut_values(size_t n, const char *const *names,
                           const double *values, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < n && off < cap; j++) {
        char num[32];
        int prec = 15;
        do {
            snprintf(num, sizeof num, "%.*g", prec, values[j]);
        } while (prec++ < 17 && strtod(num, NULL) != values[j]);
        int w = snprintf(buf + off, cap - off, "%s%s=%s", j ? ", " : "",
                         names[j], num);
        off += w > 0 ? (size_t)w : 0;
    }
    if (off >= cap && cap > 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
    return buf;
}
