/* tm_cmd_models: models (the catalog) and models load (a plugin). */
#include "tm_console.h"
#include "tm_mesh.h"

#include "tm_err.h"
#include "tm_models.h"
#include "tm_mut.h"
#include "tm_plugins.h"

#include <stdio.h>
#include <string.h>

/* Origin and checksum of m's family@version. */
static void s_pack_entry(tm_body_t *b, const tm_model_t *m)
{
    const tm_models_entry_t *e = tm_models_entry(m->family, m->version);
    char hex[2 * TM_MODELS_SUM_BYTES + 1] = "";
    if (e != NULL) {
        tm_models_sum_hex(e->sum, hex);
    }
    tm_body_kv_str(b, "origin", e != NULL ? e->origin : "?");
    tm_body_kv_bool(b, "builtin", e != NULL && e->builtin);
    tm_body_kv_str(b, "checksum", hex);
}

int tmi_cmd_models(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    const char *family = cmd->model; /* "" lists every family */
    size_t shown = 0;
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        shown += family[0] == '\0' || strcmp(all[i]->family, family) == 0;
    }
    if (shown == 0) {
        /* the precise message for a bad family or version; a good
         * FAMILY@VERSION is still not a family name */
        const tm_model_t *m = NULL;
        char known[512];
        int rc = tmi_find_model(cmd, &m, rep);
        if (rc == 0) {
            tmi_catalog_list(NULL, known, sizeof known);
            rc = tm_reply_error(rep, TM_ERR_UNKNOWN_MODEL,
                                "unknown model family '%s' (known: %s)", family,
                                known);
        }
        return rc;
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_array(b);
    for (size_t i = 0; i < n; i++) {
        const tm_model_t *m = all[i];
        if (family[0] != '\0' && strcmp(m->family, family) != 0) {
            continue;
        }
        tm_body_map(b);
        tmi_pack_model(b, m);
        tm_body_kv_str(b, "summary", m->summary);
        s_pack_entry(b, m);
        tmi_pack_units(b, "states", m->states, m->n_states);
        tmi_pack_units(b, "inputs", m->inputs, m->n_inputs);
        tmi_pack_units(b, "outputs", m->outputs, m->n_outputs);
        tmi_pack_units(b, "params", m->params, m->n_params);
        tm_body_end(b);
    }
    tm_body_end(b);
    return tm_reply_done(rep);
}

int tmi_cmd_models_load(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_t *rep = req->rep;
    if (ctx->data == NULL || ctx->mut == NULL) {
        return tm_reply_error(rep, TM_ERR_UNSUPPORTED,
                              "models load: this node loads no plugins (no "
                              "data directory)");
    }
    if (req->file_name == NULL) {
        return tm_reply_error(rep, TM_ERR_USAGE,
                              "models load: the console uploads FILE first "
                              "(no --upload of a complete file upload)");
    }
    tm_plugins_prep_t p;
    char why[TM_MUT_WHY_MAX];
    int rc = tm_mut_plugin(ctx->mut, ctx->data, req->file_name, req->file_data,
                           req->file_len, &p, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why); /* names the file */
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "file", p.file);
    tm_body_kv_str(b, "checksum", p.hex);
    tm_body_kv_str(b, "versions", p.versions);
    tm_body_kv_bool(b, "already", p.already);
    tm_body_end(b);
    if (p.already) {
        tm_reply_msg(rep,
                     "%s is loaded already (checksum %.16s): %s; nothing "
                     "changed",
                     p.file, p.hex, p.versions);
    } else {
        /* the mesh's other nodes load it too (they log what they did) */
        char sent[64] = "";
        if (ctx->mesh != NULL) {
            snprintf(sent, sizeof sent, "; sent to %zu other nodes",
                     tm_mesh_models_loaded(ctx->mesh, p.file, p.hex,
                                           req->file_data, req->file_len));
        }
        tm_reply_msg(rep, "loaded %s: %s (checksum %.16s)%s", p.file,
                     p.versions, p.hex, sent);
    }
    return tm_reply_done(rep);
}
