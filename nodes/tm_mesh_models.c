/* tm_mesh_models: the model catalog over the mesh. A plugin loaded on one
 * node is sent to every peer (FILE_CHUNK messages, then `mesh-models-load
 * UPLOAD CHECKSUM`, on the data socket, in order); a peer that appears or
 * restarts receives every plugin this node has. The receiver checks the
 * bytes against the announced checksum and loads them through the
 * mutation path (tm_mut_plugin), so its catalog and store hold them too; a
 * version it has already with another checksum is refused and logged.
 * Each load is answered, and the sender sends every plugin again when an
 * answer does not come within S_RETRY_S or says the file is missing: a
 * peer drops the messages of a node it has not heard a heartbeat from yet
 * (heartbeats travel apart from the data), so the first plugins sent to a
 * node that just joined may be lost. A load that is refused for another
 * reason (another file under the same version) is not sent again. */
#include "tm_mesh_int.h"

#include "tm_err.h"
#include "tm_file_wire.h"
#include "tm_log.h"
#include "tm_plugins.h"
#include "tm_time.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RETRY_S    2.0
#define S_ROUNDS_MAX 5 /* then it is logged, and left to the operator */

/* Send the plugin `file` (bytes, checksum hex) to p; its load expects an
 * answer (seq = the upload's id). */
static int s_send(tm_mesh_t *m, tmi_peer_t *p, const char *file,
                  const char *hex, const uint8_t *bytes, size_t len)
{
    uint64_t upload = ++m->next_seq;
    int rc = tmi_mesh_send_file(m, p, upload, file, bytes, len);
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)upload);
    const char *argv[] = {"mesh-models-load", id, hex};
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (rc == 0) {
        rc = tm_console_req_encode(3, argv, &payload, &plen);
    }
    if (rc == 0) {
        rc = tmi_mesh_send(m, p, true, TM_MSG_CONSOLE_REQ, upload, payload,
                           plen);
    }
    free(payload);
    if (rc == 0) {
        if (p->models_left++ == 0) {
            p->models_from = upload;
        }
        p->models_at = tm_time_now();
    } else {
        p->models_again = true;
        tm_log(TM_LOG_WARN, "mesh: cannot send plugin %s to %s: %s", file,
               p->name, tm_err_str(rc));
    }
    return rc;
}

static bool s_reachable(const tmi_peer_t *p)
{
    return !p->self && p->name[0] != '\0' && p->state != TMI_DEAD;
}

size_t tm_mesh_models_loaded(tm_mesh_t *m, const char *file, const char *hex,
                             const uint8_t *bytes, size_t len)
{
    size_t sent = 0;
    for (uint32_t i = 0; m != NULL && i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (s_reachable(p) && s_send(m, p, file, hex, bytes, len) == 0) {
            sent++;
        }
    }
    return sent;
}

static void s_send_all(tm_mesh_t *m, tmi_peer_t *p)
{
    size_t n = 0;
    const tm_models_entry_t *e = tm_models_entries(&n);
    if (m->ctx == NULL || m->ctx->data == NULL || p->self) {
        return;
    }
    p->models_left = 0; /* a new round: answers to older loads are late */
    p->models_again = false;
    p->models_at = tm_time_now();
    for (size_t i = 0; i < n; i++) {
        bool seen = e[i].builtin;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = memcmp(e[j].sum, e[i].sum, sizeof e[i].sum) == 0;
        }
        if (seen) {
            continue; /* a built-in, or a plugin of several versions */
        }
        char hex[2 * TM_MODELS_SUM_BYTES + 1];
        uint8_t *bytes = NULL;
        size_t len = 0;
        tm_models_sum_hex(e[i].sum, hex);
        int rc = tm_plugins_read(m->ctx->data, hex, &bytes, &len);
        if (rc == 0) {
            s_send(m, p, e[i].origin, hex, bytes, len);
        } else {
            tm_log(TM_LOG_WARN, "mesh: cannot read plugin %s for %s: %s",
                   e[i].origin, p->name, tm_err_str(rc));
        }
        free(bytes);
    }
}

void tmi_models_send_all(tm_mesh_t *m, tmi_peer_t *p)
{
    p->models_rounds = 0;
    s_send_all(m, p);
}

void tmi_models_chunk(tm_mesh_t *m, tmi_peer_t *p, const tm_envelope_t *env)
{
    char why[TM_CMD_MSG_MAX];
    tm_file_chunk_t h;
    int rc = tm_stage_file_chunk(m->fstage, p->name, strlen(p->name),
                                 env->payload, env->payload_len, tm_time_now(),
                                 &h, why, sizeof why);
    if (rc != 0) {
        m->malformed +=
            rc <= TM_ERR_WIRE_TRUNCATED && rc >= TM_ERR_WIRE_MALFORMED;
        tm_log(TM_LOG_WARN, "mesh: plugin chunk from %s refused: %s", p->name,
               why);
    }
}

/* Load the staged plugin of p if its bytes have the announced checksum. */
static int s_load(tm_mesh_t *m, tmi_peer_t *p, const char *name,
                  const uint8_t *bytes, size_t len, const char *hex,
                  tm_reply_t *rep)
{
    uint8_t sum[TM_MODELS_SUM_BYTES];
    char got[2 * TM_MODELS_SUM_BYTES + 1];
    crypto_generichash(sum, sizeof sum, bytes, len, NULL, 0);
    tm_models_sum_hex(sum, got);
    if (strcmp(got, hex) != 0) {
        tm_log(TM_LOG_ERROR,
               "mesh: plugin %s from %s refused: its bytes have checksum "
               "%.16s..., not the announced %.16s...",
               name, p->name, got, hex);
        return tm_reply_error(rep, TM_ERR_PLUGIN, "bad checksum");
    }
    tm_plugins_prep_t prep;
    char why[TM_MUT_WHY_MAX];
    int rc = tm_mut_plugin(m->mut, m->ctx->data, name, bytes, len, &prep, why);
    if (rc != 0) {
        tm_log(TM_LOG_ERROR, "mesh: plugin %s from %s refused: %s", name,
               p->name, why);
        return tm_reply_error(rep, rc, "%s", why);
    }
    if (!prep.already) {
        tm_log(TM_LOG_INFO,
               "mesh: loaded plugin %s from %s: %s (checksum "
               "%.16s...)",
               name, p->name, prep.versions, prep.hex);
    }
    tm_reply_msg(rep, "loaded %s", name);
    return 0;
}

void tmi_models_request(tm_mesh_t *m, tmi_peer_t *p, int argc,
                        const char *const *argv, tm_reply_t *rep)
{
    char *end = NULL;
    unsigned long long id = argc == 3 ? strtoull(argv[1], &end, 10) : 0;
    if (argc != 3 || end == NULL || *end != '\0' ||
        strlen(argv[2]) != 2 * TM_MODELS_SUM_BYTES || m->ctx == NULL ||
        m->ctx->data == NULL) {
        tm_reply_error(rep, TM_ERR_USAGE, "mesh-models-load UPLOAD CHECKSUM");
        return;
    }
    const char *name = NULL;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    char why[TM_CMD_MSG_MAX];
    int rc = tm_stage_file(m->fstage, p->name, strlen(p->name), id, &name,
                           &bytes, &len, why, sizeof why);
    if (rc != 0) {
        tm_log(TM_LOG_WARN, "mesh: plugin from %s not loaded: %s", p->name,
               why);
        tm_reply_error(rep, rc, "%s", why);
        return;
    }
    s_load(m, p, name, bytes, len, argv[2], rep);
    tm_stage_drop(m->fstage, p->name, strlen(p->name));
}

bool tmi_models_reply(tm_mesh_t *m, tmi_peer_t *p, uint64_t seq,
                      const tm_console_rep_t *rep)
{
    if (p->models_left == 0 || seq < p->models_from || seq > m->next_seq) {
        return false;
    }
    p->models_left--;
    if (rep->status == TM_ERR_NOT_FOUND) {
        p->models_again = true; /* its file was dropped: all again */
    } else if (p->models_left == 0 && !p->models_again) {
        p->models_rounds = 0;
    }
    return true;
}

void tmi_models_beat(tm_mesh_t *m)
{
    double now = tm_time_now();
    for (uint32_t i = 0; i < m->n_peers; i++) {
        tmi_peer_t *p = &m->peers[i];
        if (!s_reachable(p) || p->state != TMI_ALIVE ||
            (p->models_left == 0 && !p->models_again) ||
            now - p->models_at <= S_RETRY_S) {
            continue;
        }
        if (++p->models_rounds > S_ROUNDS_MAX) {
            tm_log(TM_LOG_ERROR,
                   "mesh: %s did not load every plugin sent to it after %d "
                   "tries; load them there (models load FILE on %s)",
                   p->name, S_ROUNDS_MAX, p->name);
            p->models_left = 0;
            p->models_again = false;
            continue;
        }
        tm_log(TM_LOG_INFO,
               "mesh: %s did not load every plugin sent to it (%s); sending "
               "them again",
               p->name,
               p->models_left > 0 ? "no answer in time"
                                  : "a file did not arrive");
        s_send_all(m, p);
    }
}
