/* tm_cmd_actors: spawn, spawn-many, kill, set, actors, ids. */
#include "tm_console.h"

#include "tm_audit.h"
#include "tm_err.h"
#include "tm_mesh.h"
#include "tm_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per reply part for long lists: keeps every part far below the
 * 1 MiB wire limit (an actor row is at most about 250 bytes). */
#define S_ROWS_PER_PART 2048u
#define S_IDS_PER_PART  8192u
#define S_IDS_DEFAULT   1000u

/* --node against this node (requests for another node were passed on to
 * it before the handler ran). */
static int s_check_node(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_reply_t *rep)
{
    if (cmd->has_node && strcmp(cmd->node, ctx->name) != 0 &&
        ctx->mesh != NULL) {
        return tm_reply_error(rep, TM_ERR_UNKNOWN_NODE,
                              "no node '%s' in the mesh (see `nodes`)",
                              cmd->node);
    }
    if (cmd->has_node && strcmp(cmd->node, ctx->name) != 0) {
        return tm_reply_error(rep, TM_ERR_NOT_FOUND,
                              "unknown node '%s' (this mesh has one node: %s)",
                              cmd->node, ctx->name);
    }
    return 0;
}

/* Spawn parameters: model defaults overridden by --param, each checked. */
static int s_spawn_params(const tm_cmd_t *cmd, const tm_model_t *m,
                          double *params, tm_reply_t *rep)
{
    char names[512];
    for (uint32_t i = 0; i < m->n_params; i++) {
        params[i] = m->params[i].def;
    }
    for (size_t j = 0; j < cmd->n_params; j++) {
        const tm_cmd_param_t *p = &cmd->params[j];
        int i = tm_model_var_index(m->params, m->n_params, p->name);
        if (i < 0) {
            return tm_reply_error(
                rep, TM_ERR_UNKNOWN_PORT,
                "model %s@%s has no parameter '%s' (parameters: %s)", m->family,
                m->version, p->name,
                tm_mut_names(m->params, m->n_params, names, sizeof names));
        }
        const tm_var_t *v = &m->params[i];
        if (!(p->value >= v->min && p->value <= v->max)) {
            return tm_reply_error(
                rep, TM_ERR_BAD_VALUE,
                "bad parameter value: %s = %.17g is outside [%g, %g] %s for "
                "%s@%s",
                p->name, p->value, v->min, v->max, v->unit, m->family,
                m->version);
        }
        params[i] = p->value;
    }
    return 0;
}

/* --site against this node: a spawn placed in a mesh came to a node at
 * its site; a node alone takes only its own site. */
static int s_check_site(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                        tm_reply_t *rep)
{
    if (!cmd->has_site || strcmp(cmd->site, ctx->site) == 0) {
        return 0;
    }
    if (ctx->mesh == NULL) {
        return tm_reply_error(rep, TM_ERR_NOT_FOUND,
                              "no node at site '%s': this node (%s) is at "
                              "site '%s' and is not part of a mesh (nothing "
                              "was spawned)",
                              cmd->site, ctx->name, ctx->site);
    }
    return tm_reply_error(rep, TM_ERR_NOT_FOUND,
                          "node %s is at site '%s', not '%s' (nothing was "
                          "spawned)",
                          ctx->name, ctx->site, cmd->site);
}

/* The audit record of a placed spawn says why it runs here (cut to
 * TM_AUDIT_REASON_MAX bytes by the mutation path). */
static void s_placed_reason(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                            const char *what)
{
    char reason[TM_ID_MAX * 2 + 96 + TM_CMD_PLACED_MAX];
    if (!cmd->has_placed) {
        return;
    }
    snprintf(reason, sizeof reason, "%s; placed: %s", what, cmd->placed);
    tm_mut_reason(ctx->mut, NULL, reason);
}

/* What spawn and spawn-many check before they create anything. */
static int s_spawn_check(tm_console_ctx_t *ctx, const tm_cmd_t *cmd,
                         const tm_model_t **m, double *params, tm_reply_t *rep)
{
    int rc = tmi_find_model(cmd, m, rep);
    if (rc == 0) {
        rc = s_check_node(ctx, cmd, rep);
    }
    if (rc == 0) {
        rc = s_check_site(ctx, cmd, rep);
    }
    if (rc == 0) {
        rc = s_spawn_params(cmd, *m, params, rep);
    }
    return rc;
}

int tmi_cmd_spawn(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    const tm_model_t *m = NULL;
    double params[TM_MODEL_MAX_VARS];
    char why[TM_MUT_WHY_MAX];
    int rc = s_spawn_check(ctx, cmd, &m, params, rep);
    if (rc != 0) {
        return rc;
    }
    char what[64];
    snprintf(what, sizeof what, "spawned with period %llu",
             (unsigned long long)(cmd->period ? cmd->period : 1));
    s_placed_reason(ctx, cmd, what);
    rc = tm_mut_spawn(ctx->mut, cmd->id, m, params, cmd->period, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_rt_actor_t view;
    tm_rt_get(ctx->rt, cmd->id, &view);
    uint64_t tick = tm_rt_tick(ctx->rt);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_str(b, "node", ctx->name);
    if (cmd->has_placed) {
        tm_body_kv_str(b, "placed", cmd->placed);
    }
    tmi_pack_model(b, m);
    tm_body_kv_u64(b, "period", view.period);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_end(b);
    tm_reply_msg(rep, "spawned %s (%s@%s, %s) at tick %llu%s%s%s%s", cmd->id,
                 m->family, m->version, tm_fidelity_name(m->fidelity),
                 (unsigned long long)tick, cmd->has_placed ? " on node " : "",
                 cmd->has_placed ? ctx->name : "", cmd->has_placed ? ": " : "",
                 cmd->has_placed ? cmd->placed : "");
    return tm_reply_done(rep);
}

int tmi_cmd_spawn_many(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    const tm_model_t *m = NULL;
    double params[TM_MODEL_MAX_VARS];
    char why[TM_MUT_WHY_MAX];
    char first[TM_ID_MAX + 32];
    char last[TM_ID_MAX + 32];
    tm_mut_timing_t t = {0, 0};
    int rc = s_spawn_check(ctx, cmd, &m, params, rep);
    if (rc != 0) {
        return rc;
    }
    uint64_t tick = tm_rt_tick(ctx->rt);
    char what[TM_ID_MAX * 2 + 80];
    snprintf(what, sizeof what, "spawned %s0 .. %s%llu (%llu actors)", cmd->id,
             cmd->id, (unsigned long long)(cmd->count - 1),
             (unsigned long long)cmd->count);
    s_placed_reason(ctx, cmd, what);
    rc = tm_mut_spawn_many(ctx->mut, cmd->id, cmd->count, m, params,
                           cmd->period, &t, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    double rate = t.elapsed_s > 0 ? (double)cmd->count / t.elapsed_s : 0;
    snprintf(first, sizeof first, "%s0", cmd->id);
    snprintf(last, sizeof last, "%s%llu", cmd->id,
             (unsigned long long)(cmd->count - 1));
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "prefix", cmd->id);
    tm_body_kv_u64(b, "count", cmd->count);
    tm_body_kv_str(b, "first", first);
    tm_body_kv_str(b, "last", last);
    tm_body_kv_str(b, "node", ctx->name);
    if (cmd->has_placed) {
        tm_body_kv_str(b, "placed", cmd->placed);
    }
    tmi_pack_model(b, m);
    tm_body_kv_u64(b, "tick", tick);
    tm_body_kv_f64(b, "elapsed_s", t.elapsed_s);
    tm_body_kv_f64(b, "commit_s", t.commit_s);
    tm_body_kv_f64(b, "rate", rate);
    tm_body_end(b);
    tm_reply_msg(rep,
                 "spawned %llu actors %s0..%s (%s@%s, %s) in %.3f s "
                 "(%.0f/s)%s%s%s%s",
                 (unsigned long long)cmd->count, cmd->id, last, m->family,
                 m->version, tm_fidelity_name(m->fidelity), t.elapsed_s, rate,
                 cmd->has_placed ? " on node " : "",
                 cmd->has_placed ? ctx->name : "", cmd->has_placed ? ": " : "",
                 cmd->has_placed ? cmd->placed : "");
    return tm_reply_done(rep);
}

int tmi_cmd_kill(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    char why[TM_MUT_WHY_MAX];
    size_t links = 0;
    int rc = tm_mut_kill(ctx->mut, cmd->id, &links, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_u64(b, "links_removed", links);
    tm_body_end(b);
    tm_reply_msg(rep, "killed %s (%zu link%s removed)", cmd->id, links,
                 links == 1 ? "" : "s");
    return tm_reply_done(rep);
}

int tmi_cmd_fidelity(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    char why[TM_MUT_WHY_MAX];
    int rc =
        tm_mut_pin(ctx->mut, cmd->id, !cmd->has_fidelity, cmd->fidelity, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_rt_actor_t a;
    if (tm_rt_get(ctx->rt, cmd->id, &a) != 0) {
        return tm_reply_error(rep, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'",
                              cmd->id);
    }
    const char *tier = tm_fidelity_name(a.model->fidelity);
    const char *target = tm_fidelity_name(a.sup.target);
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_str(b, "fidelity", tier);
    tm_body_kv_str(b, "target", target);
    tm_body_kv_str(b, "mode", a.sup.pinned ? "pinned" : "auto");
    tm_body_end(b);
    if (a.sup.pinned) {
        tm_reply_msg(rep, "%s pinned at %s", cmd->id, tier);
    } else if (a.sup.shadow != NULL) {
        tm_reply_msg(rep,
                     "%s runs %s, automatic: %s in shadow takes over after "
                     "its healthy steps",
                     cmd->id, tier, target);
    } else {
        tm_reply_msg(rep, "%s runs %s, automatic", cmd->id, tier);
    }
    return tm_reply_done(rep);
}

int tmi_cmd_set(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    const char *names[TM_CMD_MAX_PARAMS];
    double values[TM_CMD_MAX_PARAMS];
    tm_mut_kind_t kind[TM_CMD_MAX_PARAMS];
    double old[TM_CMD_MAX_PARAMS];
    char why[TM_MUT_WHY_MAX];
    for (size_t j = 0; j < cmd->n_params; j++) {
        names[j] = cmd->params[j].name;
        values[j] = cmd->params[j].value;
    }
    int rc = tm_mut_set(ctx->mut, cmd->id, cmd->n_params, names, values, kind,
                        old, why);
    if (rc != 0) {
        return tm_reply_error(rep, rc, "%s", why);
    }
    tm_body_t *b = tm_reply_body(rep);
    tm_body_map(b);
    tm_body_kv_str(b, "id", cmd->id);
    tm_body_kv_array(b, "values");
    size_t off =
        (size_t)snprintf(rep->message, sizeof rep->message, "%s:", cmd->id);
    for (size_t j = 0; j < cmd->n_params; j++) {
        tm_body_map(b);
        tm_body_kv_str(b, "name", names[j]);
        tm_body_kv_str(b, "kind", tm_mut_kind_name(kind[j]));
        tm_body_kv_f64(b, "old", old[j]);
        tm_body_kv_f64(b, "value", values[j]);
        tm_body_end(b);
        if (off < sizeof rep->message) {
            int w = snprintf(rep->message + off, sizeof rep->message - off,
                             " %s = %.10g (%s, was %.10g)", names[j], values[j],
                             tm_mut_kind_name(kind[j]), old[j]);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    tm_body_end(b);
    tm_body_end(b);
    return tm_reply_done(rep);
}

/* ---- lists -------------------------------------------------------------- */

/* Sorted list of actors (borrowed views, valid until the runtime
 * changes). */
typedef struct {
    const char *id;
    const tm_model_t *model;
    const char *node; /* NULL: this node */
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    const char *family; /* --model filter */
    const char *version;
    const char *prefix;
    const char *node; /* --node filter: NULL every node */
    int rc;
} s_list_t;

static int s_list_add(s_list_t *l, const char *id, const tm_model_t *model,
                      const char *node)
{
    if ((l->family != NULL && strcmp(model->family, l->family) != 0) ||
        (l->version != NULL && strcmp(model->version, l->version) != 0) ||
        (l->prefix != NULL && strncmp(id, l->prefix, strlen(l->prefix)) != 0)) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        s_row_t *rows = realloc(l->rows, cap * sizeof *rows);
        if (rows == NULL) {
            l->rc = TM_ERR_NOMEM;
            return 1;
        }
        l->rows = rows;
        l->cap = cap;
    }
    l->rows[l->n].id = id;
    l->rows[l->n].model = model;
    l->rows[l->n].node = node;
    l->n++;
    return 0;
}

static int s_list_cb(const tm_rt_actor_t *a, void *arg)
{
    return s_list_add(arg, a->id, a->model, NULL);
}

/* An actor another node owns (as this node's directory has it). */
static int s_remote_cb(void *arg, const char *id, const char *node,
                       const char *model, const char *tier)
{
    s_list_t *l = arg;
    const tm_model_t *m = NULL;
    tm_fidelity_t f;
    if ((l->node != NULL && strcmp(node, l->node) != 0) ||
        tm_fidelity_parse(tier, &f) != 0 ||
        tm_models_find_spec(model, f, &m) != 0) {
        return 0; /* a model this node does not know: not listed */
    }
    return s_list_add(l, id, m, node);
}

static int s_row_cmp(const void *a, const void *b)
{
    const s_row_t *x = a;
    const s_row_t *y = b;
    return strcmp(x->id, y->id);
}

/* Every actor of the mesh this node knows of (its own, and those of
 * other nodes when it is part of a mesh), filtered and sorted. */
static int s_collect(tm_console_ctx_t *ctx, s_list_t *l)
{
    if (l->node == NULL || strcmp(l->node, ctx->name) == 0) {
        tm_rt_foreach(ctx->rt, s_list_cb, l);
    }
    if (ctx->mesh != NULL && l->rc == 0 &&
        (l->node == NULL || strcmp(l->node, ctx->name) != 0)) {
        tm_mesh_foreach_remote(ctx->mesh, s_remote_cb, l);
    }
    if (l->rc != 0) {
        return l->rc;
    }
    if (l->n > 1) {
        qsort(l->rows, l->n, sizeof *l->rows, s_row_cmp);
    }
    return 0;
}

typedef void (*s_row_pack_fn)(tm_console_ctx_t *ctx, tm_body_t *b,
                              const s_row_t *row);

/* Send a list in parts of per_part rows; the last part is the reply. */
static int s_send_rows(tm_console_ctx_t *ctx, tm_console_call_t *req,
                       const s_row_t *rows, size_t n, size_t per_part,
                       s_row_pack_fn pack)
{
    tm_reply_t *rep = req->rep;
    size_t i = 0;
    if (req->emit == NULL) {
        per_part = n > 0 ? n : 1;
    }
    do {
        size_t k = n - i < per_part ? n - i : per_part;
        tm_body_t *b = tm_reply_body(rep);
        tm_body_array(b);
        for (size_t j = 0; j < k; j++) {
            pack(ctx, b, &rows[i + j]);
        }
        tm_body_end(b);
        i += k;
        int rc = tm_reply_done(rep);
        if (rc != 0) {
            return rc;
        }
        if (i < n) {
            rc = req->emit(req);
            if (rc != 0) {
                return tm_reply_error(rep, rc, "reply aborted: %s",
                                      tm_err_str(rc));
            }
        }
    } while (i < n);
    return 0;
}

static void s_pack_actor_row(tm_console_ctx_t *ctx, tm_body_t *b,
                             const s_row_t *row)
{
    tm_body_map(b);
    tm_body_kv_str(b, "id", row->id);
    tm_body_kv_str(b, "node", row->node != NULL ? row->node : ctx->name);
    tmi_pack_model(b, row->model);
    tm_body_end(b);
}

static void s_pack_id_row(tm_console_ctx_t *ctx, tm_body_t *b,
                          const s_row_t *row)
{
    (void)ctx;
    tm_body_str(b, row->id);
}

int tmi_cmd_actors(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    s_list_t l;
    char family[TM_CMD_SPEC_MAX + 1];
    memset(&l, 0, sizeof l);
    if (cmd->has_model) {
        const tm_model_t *m = NULL;
        snprintf(family, sizeof family, "%s", cmd->model);
        char *at = strchr(family, '@');
        if (at != NULL) {
            *at = '\0';
            l.version = at + 1;
        }
        l.family = family;
        /* a filter that names no model is a mistake, not "0 actors" */
        int rc = tmi_find_model(cmd, &m, rep);
        if (rc != 0) {
            return rc;
        }
    }
    l.node = cmd->has_node ? cmd->node : NULL;
    int rc = 0;
    if (l.node == NULL || strcmp(l.node, ctx->name) == 0 || ctx->mesh != NULL) {
        rc = s_collect(ctx, &l);
    }
    if (rc != 0) {
        free(l.rows);
        return tm_reply_error(rep, rc, "cannot list actors: %s",
                              tm_err_str(rc));
    }
    size_t n = l.n;
    if (cmd->limit > 0 && cmd->limit < n) {
        n = (size_t)cmd->limit;
    }
    rc = s_send_rows(ctx, req, l.rows, n, S_ROWS_PER_PART, s_pack_actor_row);
    if (rc == 0) {
        tm_reply_msg(rep, "%zu of %zu actors", n, l.n);
    }
    free(l.rows);
    return rc;
}

int tmi_cmd_ids(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    const tm_cmd_t *cmd = req->cmd;
    tm_reply_t *rep = req->rep;
    s_list_t l;
    memset(&l, 0, sizeof l);
    l.prefix = cmd->id[0] ? cmd->id : NULL;
    int rc = s_collect(ctx, &l);
    if (rc != 0) {
        free(l.rows);
        return tm_reply_error(rep, rc, "cannot list ids: %s", tm_err_str(rc));
    }
    size_t limit = cmd->limit > 0 ? (size_t)cmd->limit : S_IDS_DEFAULT;
    size_t n = l.n < limit ? l.n : limit;
    rc = s_send_rows(ctx, req, l.rows, n, S_IDS_PER_PART, s_pack_id_row);
    if (rc == 0) {
        tm_reply_msg(rep, "%zu of %zu ids", n, l.n);
    }
    free(l.rows);
    return rc;
}
