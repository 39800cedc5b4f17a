/* tm_console: the dispatcher, replies and helpers shared by handlers. */
#include "tm_console.h"

#include "tm_err.h"
#include "tm_mesh.h"
#include "tm_models.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dispatch ----------------------------------------------------------- */

typedef int (*s_handler_fn)(tm_console_ctx_t *ctx, tm_console_call_t *req);

static const s_handler_fn s_handlers[TM_CMD_COUNT] = {
#define S_ROW(kind, h, r, name, al, fl, args, opts, usage, sum)                \
    [TM_CMD_##kind] = tmi_cmd_##h,
    TM_CMD_TABLE(S_ROW)
#undef S_ROW
};

/* The node that must answer a request, when it is another node of the
 * mesh (NULL: this one): the owner of the actor it is about (for a link,
 * of the destination, which holds the link), or the --node of a spawn. */
static const char *s_route(tm_console_ctx_t *ctx, const tm_cmd_t *cmd)
{
    const char *id = NULL;
    tm_rt_actor_t a;
    switch (cmd->kind) {
    case TM_CMD_SPAWN:
    case TM_CMD_SPAWN_MANY:
        return cmd->has_node && strcmp(cmd->node, ctx->name) != 0 &&
                       tm_mesh_knows(ctx->mesh, cmd->node)
                   ? cmd->node
                   : NULL;
    case TM_CMD_PLACE:
        if (cmd->id[0] == '\0') {
            return NULL; /* the overview: answered here */
        }
        id = cmd->id;
        break;
    case TM_CMD_AUDIT: /* one node's log: here when its copy is here */
        return cmd->has_node && strcmp(cmd->node, ctx->name) != 0 &&
                       tm_mesh_knows(ctx->mesh, cmd->node) &&
                       !tmi_audit_copy_here(ctx, cmd->node)
                   ? cmd->node
                   : NULL;
    case TM_CMD_DRAIN:
        return strcmp(cmd->node, ctx->name) != 0 &&
                       tm_mesh_knows(ctx->mesh, cmd->node)
                   ? cmd->node
                   : NULL;
    case TM_CMD_MIGRATE:
    case TM_CMD_INSPECT:
    case TM_CMD_CALIBRATE:
    case TM_CMD_KILL:
    case TM_CMD_SET:
    case TM_CMD_WATCH:
        id = cmd->id;
        break;
    case TM_CMD_LINK:
    case TM_CMD_UNLINK:
        id = cmd->dst.actor;
        break;
    default:
        return NULL;
    }
    if (tm_rt_get(ctx->rt, id, &a) == 0 && !a.remote) {
        return NULL;
    }
    return tm_mesh_owner(ctx->mesh, id, NULL);
}

/* Pass the request on to `node`, with n_more more arguments; its answer
 * comes later. */
static int s_forward_argv(tm_console_ctx_t *ctx, tm_console_call_t *req,
                          const char *node, int n_more, const char *const *more)
{
    char why[TM_CMD_MSG_MAX];
    tm_console_later_t *later = req->later != NULL ? req->later(req) : NULL;
    if (later == NULL) {
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "actor or node on %s: cannot pass the request "
                              "on from here",
                              node);
    }
    const char **argv = calloc((size_t)(req->argc + n_more + 1), sizeof *argv);
    if (argv == NULL) {
        later->free(later);
        return tm_reply_error(req->rep, TM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < req->argc; i++) {
        argv[i] = req->argv[i];
    }
    for (int i = 0; i < n_more; i++) {
        argv[req->argc + i] = more[i];
    }
    int rc = tm_mesh_forward(ctx->mesh, node, req->argc + n_more, argv, later,
                             why, sizeof why);
    free(argv);
    if (rc != 0) {
        later->free(later);
        return tm_reply_error(req->rep, rc, "%s", why);
    }
    return TM_CONSOLE_DEFERRED;
}

static int s_forward(tm_console_ctx_t *ctx, tm_console_call_t *req,
                     const char *node)
{
    return s_forward_argv(ctx, req, node, 0, NULL);
}

static const char *s_name(const tm_cmd_t *cmd)
{
    return cmd->info != NULL ? cmd->info->name : "spawn";
}

/* spawn and spawn-many without --node in a mesh: the least loaded node
 * (at --site) takes it (tm_mesh_place), this one or another, which is
 * told why (--placed, for its audit record). 0 to run it here, or the
 * reply's status. */
static int s_place(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_cmd_t *cmd = req->cmd;
    char node[TM_NAME_MAX + 1];
    char why[TM_PLACE_WHY_MAX];
    uint64_t n = cmd->kind == TM_CMD_SPAWN_MANY ? cmd->count : 1;
    const tm_model_t *model = NULL;
    if (tmi_find_model(cmd, &model, req->rep) != 0) {
        return req->rep->status; /* refused here, before it counts */
    }
    int rc = tm_mesh_place(ctx->mesh, cmd->has_site ? cmd->site : NULL, NULL, n,
                           node, sizeof node, why, sizeof why);
    if (rc != 0) {
        return tm_reply_error(req->rep, rc, "%s: %s (nothing was spawned)",
                              s_name(cmd), why);
    }
    why[TM_CMD_PLACED_MAX] = '\0'; /* what --placed takes */
    if (strcmp(node, ctx->name) == 0) {
        memcpy(cmd->placed, why, strlen(why) + 1);
        cmd->has_placed = true;
        return 0;
    }
    if (req->argv == NULL) {
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "placed on node %s: cannot pass the request "
                              "on from here",
                              node);
    }
    const char *more[] = {"--node", node, "--placed", why};
    return s_forward_argv(ctx, req, node, 4, more);
}

static bool s_placeable(const tm_cmd_t *cmd)
{
    return (cmd->kind == TM_CMD_SPAWN || cmd->kind == TM_CMD_SPAWN_MANY) &&
           !cmd->has_node;
}

/* A change is acknowledged once it is on the standby too (replicas = 1):
 * the reply waits for the standby's confirmation of the change's commit
 * (tm_mesh_repl_hold). mark0: the unconfirmed change before the handler
 * ran; a reply to a request that changed nothing does not wait. */
static int s_after_standby(tm_console_ctx_t *ctx, tm_console_call_t *req,
                           uint64_t mark0)
{
    uint64_t mark = ctx->mesh != NULL ? tm_mesh_repl_mark(ctx->mesh) : 0;
    tm_console_later_t *(*make)(tm_console_call_t *) =
        req->later_raw != NULL ? req->later_raw : req->later;
    if (mark == 0 || mark == mark0 || make == NULL) {
        return req->rep->status;
    }
    tm_console_later_t *later = make(req);
    size_t len = 0;
    const uint8_t *body = tm_reply_bytes(req->rep, &len);
    if (later != NULL &&
        tm_mesh_repl_hold(ctx->mesh, mark, later, req->rep->status,
                          req->rep->message, body, len)) {
        return TM_CONSOLE_DEFERRED;
    }
    if (later != NULL) {
        later->free(later);
    }
    return req->rep->status;
}

/* An answer that comes later to a change (a link across nodes, apply,
 * migrate, drain, failover) waits for the standby like a direct one: its
 * last part is held (tm_mesh_repl_hold) while a change committed here
 * since the request came is not confirmed. */
typedef struct {
    tm_console_later_t base;
    tm_console_later_t *inner; /* NULL once a hold took it */
    tm_mesh_t *mesh;
    uint64_t mark0;
} s_acked_t;

static void s_acked_send(tm_console_later_t *l, int status, const char *msg,
                         bool more, const uint8_t *body, size_t len)
{
    s_acked_t *x = (s_acked_t *)l;
    if (x->inner == NULL) {
        return;
    }
    uint64_t mark = more ? 0 : tm_mesh_repl_mark(x->mesh);
    if (mark != 0 && mark != x->mark0 &&
        tm_mesh_repl_hold(x->mesh, mark, x->inner, status, msg, body, len)) {
        x->inner = NULL; /* the hold sends it, then frees it */
        return;
    }
    x->inner->send(x->inner, status, msg, more, body, len);
    l->gone = x->inner->gone;
}

static void s_acked_free(tm_console_later_t *l)
{
    s_acked_t *x = (s_acked_t *)l;
    if (x->inner != NULL) {
        x->inner->free(x->inner);
    }
    free(x);
}

static tm_console_later_t *s_acked_later(tm_console_call_t *req)
{
    tm_console_later_t *inner = req->later_raw(req);
    s_acked_t *x = inner != NULL ? calloc(1, sizeof *x) : NULL;
    if (x == NULL) {
        return inner;
    }
    x->base.send = s_acked_send;
    x->base.free = s_acked_free;
    x->inner = inner;
    x->mesh = req->acked_mesh;
    x->mark0 = req->acked_mark0;
    return &x->base;
}

/* Run the handler with the mutation path told who asks (the audit log's
 * "who"), and the node itself again afterwards. */
static int s_run(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    char why[TM_CMD_MSG_MAX];
    if ((req->cmd->info->flags & TM_CMD_F_MUTATES) &&
        !tm_mesh_may_change(ctx->mesh, why, sizeof why)) {
        return tm_reply_error(req->rep, TM_ERR_BUSY, "%s", why);
    }
    char who[TM_AUDIT_WHO_MAX + 1];
    const char *peer = req->from_node != NULL ? req->from_node : "?";
    if (ctx->mut != NULL) {
        tm_mut_origin(ctx->mut, tm_audit_who(req->from_peer ? peer : NULL, who,
                                             sizeof who));
    }
    uint64_t mark0 = ctx->mesh != NULL ? tm_mesh_repl_mark(ctx->mesh) : 0;
    if (ctx->mesh != NULL && req->later != NULL && req->later_raw == NULL &&
        (req->cmd->info->flags & TM_CMD_F_MUTATES)) {
        req->later_raw = req->later;
        req->later = s_acked_later;
        req->acked_mesh = ctx->mesh;
        req->acked_mark0 = mark0;
    }
    int rc = s_handlers[req->cmd->kind](ctx, req);
    if (ctx->mut != NULL) {
        tm_mut_origin(ctx->mut, NULL);
    }
    return rc == TM_CONSOLE_DEFERRED ? rc : s_after_standby(ctx, req, mark0);
}

int tm_console_exec(tm_console_ctx_t *ctx, tm_console_call_t *req)
{
    tm_reply_reset(req->rep);
    if ((unsigned)req->cmd->kind >= TM_CMD_COUNT) {
        return tm_reply_error(req->rep, TM_ERR_INTERNAL, "no such command");
    }
    if (req->cmd->has_placed && !req->from_peer) {
        return tm_reply_error(req->rep, TM_ERR_USAGE,
                              "%s: --placed is passed between nodes only",
                              s_name(req->cmd));
    }
    if (ctx->mesh != NULL && !req->from_peer && s_placeable(req->cmd)) {
        int rc = s_place(ctx, req);
        if (rc != 0) {
            return rc;
        }
    } else if (ctx->mesh != NULL && !req->from_peer && req->argv != NULL) {
        const char *node = s_route(ctx, req->cmd);
        if (node != NULL) {
            return s_forward(ctx, req, node);
        }
    }
    return s_run(ctx, req);
}

/* ---- replies ------------------------------------------------------------ */

void tm_reply_init(tm_reply_t *rep)
{
    memset(rep, 0, sizeof *rep);
    tm_wire_buf_init(&rep->buf);
}

void tm_reply_reset(tm_reply_t *rep)
{
    rep->status = 0;
    rep->message[0] = '\0';
    tm_wire_buf_clear(&rep->buf);
    rep->has_body = false;
}

void tm_reply_destroy(tm_reply_t *rep)
{
    tm_wire_buf_destroy(&rep->buf);
    rep->has_body = false;
}

int tm_reply_error(tm_reply_t *rep, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
    rep->status = status;
    tm_wire_buf_clear(&rep->buf);
    rep->has_body = false;
    return status;
}

void tm_reply_msg(tm_reply_t *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof rep->message, fmt, ap);
    va_end(ap);
}

tm_body_t *tm_reply_body(tm_reply_t *rep)
{
    tm_body_start(&rep->body, &rep->buf);
    rep->has_body = true;
    return &rep->body;
}

int tm_reply_done(tm_reply_t *rep)
{
    if (!rep->has_body) {
        return rep->status;
    }
    int rc = tm_body_done(&rep->body);
    if (rc == TM_ERR_NOMEM) {
        return tm_reply_error(rep, rc, "out of memory building the reply");
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc, "the node could not build its reply");
    }
    return rep->status;
}

const uint8_t *tm_reply_bytes(const tm_reply_t *rep, size_t *len)
{
    *len = 0;
    if (!rep->has_body || rep->status != 0 || rep->body.failed != 0) {
        return NULL;
    }
    *len = rep->buf.sbuf.size;
    return (const uint8_t *)rep->buf.sbuf.data;
}

/* ---- helpers ------------------------------------------------------------ */

int tmi_unknown_actor(tm_reply_t *rep, const char *id)
{
    return tm_reply_error(rep, TM_ERR_UNKNOWN_ACTOR, "unknown actor '%s'", id);
}

void tmi_pack_model(tm_body_t *b, const tm_model_t *m)
{
    tm_body_kv_str(b, "model", m->family);
    tm_body_kv_str(b, "version", m->version);
    tm_body_kv_str(b, "fidelity", tm_fidelity_name(m->fidelity));
}

void tmi_pack_units(tm_body_t *b, const char *key, const tm_var_t *v,
                    uint32_t n)
{
    tm_body_kv_map(b, key);
    for (uint32_t i = 0; i < n; i++) {
        tm_body_kv_str(b, v[i].name, v[i].unit);
    }
    tm_body_end(b);
}

int tmi_stream(tm_console_call_t *req, const tm_console_stream_t *def)
{
    if (req->stream == NULL) {
        return tm_reply_error(req->rep, TM_ERR_UNSUPPORTED,
                              "streams are not served here");
    }
    return req->stream(req, def);
}

void tmi_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

const char *tmi_clock_label(const tm_console_ctx_t *ctx)
{
    return ctx->sched != NULL ? tm_sched_label(ctx->sched) : "paused";
}

double tmi_lag(const tm_console_ctx_t *ctx)
{
    return ctx->sched != NULL ? tm_sched_lag(ctx->sched) : 0;
}

/* Catalog lists: the distinct families (family NULL), or the distinct
 * versions of one family. */
static bool s_listed(const tm_model_t *m, const char *family)
{
    return family == NULL || strcmp(m->family, family) == 0;
}

static const char *s_list_item(const tm_model_t *m, const char *family)
{
    return family != NULL ? m->version : m->family;
}

bool tmi_catalog_list(const char *family, char *buf, size_t cap)
{
    size_t n = 0;
    const tm_model_t *const *all = tm_models_all(&n);
    size_t off = 0;
    bool found = false;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!s_listed(all[i], family)) {
            continue;
        }
        const char *item = s_list_item(all[i], family);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = s_listed(all[j], family) &&
                  strcmp(s_list_item(all[j], family), item) == 0;
        }
        found = true;
        if (!dup && off < cap) {
            int w =
                snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", item);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    return found;
}

int tmi_find_model(const tm_cmd_t *cmd, const tm_model_t **out, tm_reply_t *rep)
{
    char family[TM_CMD_SPEC_MAX + 1];
    const char *version = NULL;
    char known[512];
    snprintf(family, sizeof family, "%s", cmd->model);
    char *at = strchr(family, '@');
    if (at != NULL) {
        *at = '\0';
        version = at + 1;
    }
    if (!tmi_catalog_list(family, known, sizeof known)) {
        tmi_catalog_list(NULL, known, sizeof known);
        return tm_reply_error(rep, TM_ERR_UNKNOWN_MODEL,
                              "unknown model family '%s' (known: %s)", family,
                              known);
    }
    if (version != NULL && version[0] == '\0') {
        return tm_reply_error(rep, TM_ERR_UNKNOWN_VERSION,
                              "empty version after '@' for model %s (known "
                              "versions: %s)",
                              family, known);
    }
    int rc = 0;
    if (cmd->has_fidelity) {
        rc = tm_models_find(family, version, cmd->fidelity, out);
    } else {
        rc = TM_ERR_UNKNOWN_FIDELITY;
        for (int f = TM_FIDELITY_HIGH; f < TM_FIDELITY_COUNT; f++) {
            rc = tm_models_find(family, version, (tm_fidelity_t)f, out);
            if (rc != TM_ERR_UNKNOWN_FIDELITY) {
                break;
            }
        }
    }
    if (rc == TM_ERR_UNKNOWN_VERSION) {
        return tm_reply_error(rep, rc,
                              "unknown version %s of model %s (known "
                              "versions: %s)",
                              version, family, known);
    }
    if (rc == TM_ERR_UNKNOWN_FIDELITY) {
        return tm_reply_error(
            rep, rc, "model %s%s%s has no %s tier", family, version ? "@" : "",
            version ? version : "",
            cmd->has_fidelity ? tm_fidelity_name(cmd->fidelity) : "usable");
    }
    if (rc != 0) {
        return tm_reply_error(rep, rc, "model %s: %s", cmd->model,
                              tm_err_str(rc));
    }
    return 0;
}
