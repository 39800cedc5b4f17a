/* tm_mesh_part: a node's part of a plant another node carries out over
 * the mesh (tm_mesh_plan.c): the part arrives as PLANT_CHUNK messages and
 * is staged; `mesh-plan prepare` plans and checks it and keeps it (one at
 * a time, S_HOLD_S at most), `mesh-plan commit` carries it out, `abort`
 * drops it. The coordinating node plans and carries out its own part with
 * the same functions (tmi_part_plan, tmi_part_apply). */
#include "tm_err.h"
#include "tm_log.h"
#include "tm_mesh_int.h"
#include "tm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HOLD_S 120.0      /* a prepared part waits this long for its commit */
#define S_SELF   UINT32_MAX /* held: the coordinating node's own part */

/* ---- one node's part ---------------------------------------------------- */

int tmi_part_plan(tm_mesh_t *m, const tm_plant_t *part, size_t shown,
                  uint8_t **body, size_t *len, tm_plan_counts_t *c, char *why)
{
    tm_plan_t plan;
    *body = NULL;
    *len = 0;
    int rc = tm_plan_build(m->rt, part, m->name, m->site, &plan, why);
    if (rc == 0) {
        rc = tm_mut_apply_check(m->mut, &plan, why);
    }
    if (rc == 0) {
        tm_wire_buf_t buf;
        tm_body_t b;
        tm_wire_buf_init(&buf);
        tm_body_start(&b, &buf);
        tm_plan_pack_node(&b, &plan, &plan.nodes[0], shown);
        rc = tm_body_done(&b);
        *body = rc == 0 ? malloc(buf.sbuf.size + 1) : NULL;
        if (*body != NULL) {
            memcpy(*body, buf.sbuf.data, buf.sbuf.size);
            *len = buf.sbuf.size;
        }
        rc = *body == NULL ? TM_ERR_NOMEM : 0;
        if (rc != 0) {
            snprintf(why, TM_MUT_WHY_MAX, "out of memory");
        }
        tm_wire_buf_destroy(&buf);
        tm_plan_node_counts(&plan.nodes[0], c);
    }
    tm_plan_free(&plan);
    return rc;
}

int tmi_part_apply(tm_mesh_t *m, const tm_plant_t *part, const char *from,
                   const char *placed, tm_mut_timing_t *t, char *sum,
                   size_t cap, char *why)
{
    char who[TM_AUDIT_WHO_MAX + 1];
    tm_plan_t plan;
    tm_plan_counts_t c;
    sum[0] = '\0';
    int rc = tm_plan_build(m->rt, part, m->name, m->site, &plan, why);
    if (rc == 0) {
        tm_plan_counts(&plan, &c);
        tm_plan_summary(&c, sum, cap);
        if (!tm_plan_empty(&plan)) {
            plan.placed = placed != NULL && placed[0] != '\0' ? placed : NULL;
            tm_mut_origin(m->mut, tm_audit_who(from, who, sizeof who));
            rc = tm_mut_apply(m->mut, &plan, t, why);
            tm_mut_origin(m->mut, NULL);
        }
    }
    tm_plan_free(&plan);
    return rc;
}

void tmi_part_free(tm_mesh_t *m)
{
    tm_plant_free(&m->held.part);
    memset(&m->held, 0, sizeof m->held);
}

const char *tmi_part_held_by(const tm_mesh_t *m)
{
    return m->held.peer == S_SELF ? m->name : m->peers[m->held.peer].name;
}

/* ---- the nodes' side: requests of the coordinating node ----------------- */

void tmi_plan_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    char why[TM_CMD_MSG_MAX];
    tm_plant_chunk_t h;
    int rc =
        tm_stage_chunk(m->stage, p->name, strlen(p->name), env->payload,
                       env->payload_len, tm_time_now(), &h, why, sizeof why);
    if (rc != 0) {
        /* a chunk that does not decode is malformed (section 7.8) */
        m->malformed +=
            rc <= TM_ERR_WIRE_TRUNCATED && rc >= TM_ERR_WIRE_MALFORMED;
        tm_log(TM_LOG_WARN, "mesh: part of a plant from %s refused: %s",
               p->name, why);
    }
}

static void s_req_prepare(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                          uint64_t id, size_t shown, bool keep)
{
    char why[TM_MUT_WHY_MAX];
    tm_plant_t part;
    tm_plan_counts_t c;
    uint8_t *body = NULL;
    size_t len = 0;
    uint32_t me = tmi_mesh_index(m, p);
    if (keep && m->held.used && m->held.peer != me) {
        snprintf(why, sizeof why,
                 "node %s is taking part in node %s's plant; try again when "
                 "it is done",
                 m->name, tmi_part_held_by(m));
        tmi_mesh_reply(m, p, seq, TM_ERR_BUSY, why, false, NULL, 0);
        return;
    }
    int rc = tm_stage_take(m->stage, p->name, strlen(p->name), id, &part, why,
                           sizeof why);
    if (rc != 0) {
        char msg[TM_CMD_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "node %s did not receive the whole of its part of plan "
                 "%llu: %.600s",
                 m->name, (unsigned long long)id, why);
        tmi_mesh_reply(m, p, seq, rc, msg, false, NULL, 0);
        return;
    }
    rc = tmi_part_plan(m, &part, shown, &body, &len, &c, why);
    tmi_mesh_reply(m, p, seq, rc, rc == 0 ? "" : why, false, body, len);
    free(body);
    if (rc == 0 && keep) {
        char sum[256];
        tm_log(TM_LOG_INFO, "mesh: %s's plant %s: part prepared here (%s)",
               p->name, part.file,
               tm_plan_summary(&c, sum, sizeof sum)[0] ? sum : "no change");
        tmi_part_free(m); /* an older plan of the same node */
        m->held = (tmi_plan_held_t){.used = true,
                                    .peer = me,
                                    .id = id,
                                    .part = part,
                                    .expires = tm_time_now() + S_HOLD_S};
        return;
    }
    tm_plant_free(&part);
}

static void s_req_commit(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, uint64_t id,
                         const char *placed)
{
    char why[TM_MUT_WHY_MAX];
    char sum[256];
    tm_mut_timing_t t = {0, 0};
    uint32_t me = tmi_mesh_index(m, p);
    if (!m->held.used || m->held.peer != me || m->held.id != id) {
        snprintf(why, sizeof why,
                 "node %s holds no prepared part of plan %llu (it keeps one "
                 "%.0f s, and not across a restart): its part was not "
                 "applied",
                 m->name, (unsigned long long)id, S_HOLD_S);
        tmi_mesh_reply(m, p, seq, TM_ERR_NOT_FOUND, why, false, NULL, 0);
        return;
    }
    tm_plant_t part = m->held.part;
    memset(&m->held, 0, sizeof m->held);
    int rc =
        tmi_part_apply(m, &part, p->name, placed, &t, sum, sizeof sum, why);
    tm_log(rc == 0 ? TM_LOG_INFO : TM_LOG_WARN,
           "mesh: %s's plant %s: part %s%s%s", p->name, part.file,
           rc == 0 ? "applied here (" : "refused here: ",
           rc == 0 ? (sum[0] ? sum : "no change") : why, rc == 0 ? ")" : "");
    tm_plant_free(&part);
    if (rc != 0) {
        tmi_mesh_reply(m, p, seq, rc, why, false, NULL, 0);
        return;
    }
    tm_wire_buf_t buf;
    tm_body_t b;
    tm_wire_buf_init(&buf);
    tm_body_start(&b, &buf);
    tm_body_map(&b);
    tm_body_kv_f64(&b, "commit_s", t.commit_s);
    tm_body_end(&b);
    const uint8_t *body = (const uint8_t *)buf.sbuf.data;
    size_t len = tm_body_done(&b) == 0 ? buf.sbuf.size : 0;
    tm_console_later_t *later = tmi_mesh_later(m, p, seq);
    if (later == NULL) {
        tmi_mesh_reply(m, p, seq, 0, "", false, len ? body : NULL, len);
    } else {
        /* answered when the values of its links from other nodes flow */
        tmi_sync_settle(m, later, "", len ? body : NULL, len, true);
    }
    tm_wire_buf_destroy(&buf);
}

static int s_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9') {
        return TM_ERR_USAGE;
    }
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return *end == '\0' ? 0 : TM_ERR_USAGE;
}

void tmi_plan_request(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq, int argc,
                      const char *const *argv)
{
    uint64_t id = 0;
    uint64_t shown = 1000;
    const char *verb = argc > 1 ? argv[1] : "";
    bool prep = strcmp(verb, "prepare") == 0 || strcmp(verb, "diff") == 0;
    if (argc < 3 || s_u64(argv[2], &id) != 0 ||
        (prep && (argc < 4 || s_u64(argv[3], &shown) != 0))) {
        tmi_mesh_reply(m, p, seq, TM_ERR_USAGE,
                       "mesh-plan prepare|diff ID SHOWN, mesh-plan "
                       "commit ID [PLACED], mesh-plan abort ID",
                       false, NULL, 0);
        return;
    }
    if (prep) {
        s_req_prepare(m, p, seq, id, (size_t)shown, verb[0] == 'p');
    } else if (strcmp(verb, "commit") == 0) {
        s_req_commit(m, p, seq, id, argc > 3 ? argv[3] : NULL);
    } else if (strcmp(verb, "abort") == 0) {
        if (m->held.used && m->held.peer == tmi_mesh_index(m, p) &&
            m->held.id == id) {
            tm_log(TM_LOG_INFO, "mesh: %s's plant %s: part dropped here",
                   p->name, m->held.part.file);
            tmi_part_free(m);
        }
        tm_stage_drop(m->stage, p->name, strlen(p->name));
        if (seq != 0) {
            tmi_mesh_reply(m, p, seq, 0, "dropped", false, NULL, 0);
        }
    } else {
        tmi_mesh_reply(m, p, seq, TM_ERR_USAGE, "mesh-plan: unknown verb",
                       false, NULL, 0);
    }
}

void tmi_part_peer_reset(tm_mesh_t *m, tmi_peer_t *p)
{
    tm_stage_drop(m->stage, p->name, strlen(p->name));
    if (m->held.used && m->held.peer == tmi_mesh_index(m, p)) {
        tmi_part_free(m);
    }
}

void tmi_part_beat(tm_mesh_t *m)
{
    if (m->held.used && m->held.peer != S_SELF &&
        tm_time_now() > m->held.expires) {
        tm_log(TM_LOG_WARN,
               "mesh: %s's plant %s: the part prepared here was not "
               "committed within %.0f s; dropped (nothing changed here)",
               tmi_part_held_by(m), m->held.part.file, S_HOLD_S);
        tmi_part_free(m);
    }
}
