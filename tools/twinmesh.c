/* twinmesh: the operator console of a twinmesh node.
 *
 *   twinmesh [-c ENDPOINT] [--json] [-t SECONDS] COMMAND [ARGS]
 *   twinmesh [-c ENDPOINT] [--json]          (interactive, libedit)
 *
 * Exit status: 0 ok, 1 the command failed (the node's message is printed),
 * 2 usage error, 3 node not reachable or not answering, 130 interrupted.
 */
#include "tm_client.h"
#include "tm_cmd.h"
#include "tm_err.h"
#include "tm_msg.h"
#include "tm_plant.h"
#include "tm_render.h"
#include "tm_time.h"

#include <errno.h>
#include <histedit.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EXIT_FAILED      1
#define S_EXIT_USAGE       2
#define S_EXIT_UNREACHABLE 3
#define S_EXIT_INTERRUPTED 130

#define S_DEFAULT_ENDPOINT "tcp://127.0.0.1:7700"
#define S_DEFAULT_TIMEOUT  10.0
#define S_STREAM_GAP_MS    10000 /* streams: keepalives come every second */
#define S_CANCEL_WAIT_MS   3000
#define S_COMPLETE_MS      1500
#define S_HISTORY_SIZE     1000

typedef struct {
    const char *endpoint;
    bool json;
    int timeout_ms;
    tm_client_t *client;
    EditLine *el;
    History *hist;
    Tokenizer *tok;
    char history_path[1024];
} s_console_t;

static volatile sig_atomic_t s_interrupted;

/* libedit (Debian 3.1-20221030) keeps wcsdup'ed copies of the name and
 * help text of every function added with EL_ADDFN and never frees them.
 * LeakSanitizer reads this hook in sanitizer builds; elsewhere it is an
 * unused function. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:wcsdup\n";
}

static void s_on_sigint(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: twinmesh [-c ENDPOINT] [--json] [-t SECONDS] COMMAND "
            "[ARGS]\n"
            "       twinmesh [-c ENDPOINT] [--json]    (interactive "
            "console)\n\n"
            "  -c, --connect ENDPOINT  node console endpoint (default "
            "$TWINMESH_CONSOLE or %s)\n"
            "  -j, --json              print replies as JSON, one document "
            "per reply\n"
            "  -t, --timeout SECONDS   wait this long for a reply (default "
            "%g; run waits as\n"
            "                          long as the node keeps reporting "
            "progress)\n"
            "  -h, --help              this text; `twinmesh help` lists the "
            "commands\n\n"
            "Exit status: 0 ok, 1 command failed, 2 usage error, 3 node not "
            "reachable.\n",
            S_DEFAULT_ENDPOINT, S_DEFAULT_TIMEOUT);
}

/* Print an error reply (or a local error). */
static void s_error(s_console_t *c, int status, const char *message)
{
    fprintf(stderr, "twinmesh: %s\n", message);
    if (c->json) {
        json_t *e = json_pack("{s:{s:i,s:s,s:s}}", "error", "status", status,
                              "code", tm_err_name(status), "message", message);
        char *s = json_dumps(e, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(e);
    }
    fflush(stdout);
}

static int s_connect(s_console_t *c)
{
    if (c->client != NULL) {
        return 0;
    }
    int rc = tm_client_open(&c->client, c->endpoint);
    if (rc != 0) {
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot use endpoint %s: %s", c->endpoint,
                 tm_err_str(rc));
        s_error(c, rc, msg);
    }
    return rc;
}

static void s_unreachable(s_console_t *c, bool first, bool mutates)
{
    char msg[1300];
    if (tm_client_lost(c->client)) {
        snprintf(msg, sizeof msg,
                 "the connection to the node at %s was lost while waiting "
                 "for the reply%s",
                 c->endpoint,
                 mutates ? "; the change may or may not have been applied: "
                           "check before repeating it"
                         : "");
    } else if (first && tm_client_connected(c->client)) {
        /* the node is there: it is busy, and may still do what was asked */
        snprintf(msg, sizeof msg,
                 "the node at %s is up but did not answer within %g s (it "
                 "is busy)%s",
                 c->endpoint, c->timeout_ms / 1000.0,
                 mutates ? "; the change may still be applied: check before "
                           "repeating it"
                         : "; try again, or give more time with -t SECONDS");
    } else if (first) {
        snprintf(msg, sizeof msg,
                 "node not reachable at %s (no reply within %g s; is "
                 "twinmesh-node running? use -c ENDPOINT to choose another)",
                 c->endpoint, c->timeout_ms / 1000.0);
    } else {
        snprintf(msg, sizeof msg, "node at %s stopped answering", c->endpoint);
    }
    s_error(c, TM_ERR_TIMEOUT, msg);
    /* drop the queued request, so a late node does not run it */
    tm_client_reset(c->client);
}

/* ---- plants: apply, diff, export --------------------------------------- */

/* Read and check FILE, then stage it on the node in chunks (docs/
 * protocol.md, PLANT_CHUNK). *upload gets its id, *items its actors and
 * links. Returns an exit status. */
static int s_upload(s_console_t *c, const tm_cmd_t *cmd, uint64_t *upload,
                    size_t *items)
{
    tm_plant_t p;
    tm_client_upload_t up;
    char err[TM_CMD_MSG_MAX];
    if (cmd->upload != 0) {
        snprintf(err, sizeof err,
                 "%s: --upload is set by the console itself (usage: %s %s)",
                 cmd->info->name, cmd->info->name, cmd->info->usage);
        s_error(c, TM_ERR_USAGE, err);
        return S_EXIT_USAGE;
    }
    tm_plant_init(&p, cmd->path);
    int rc = tm_plant_load(&p, cmd->path, TM_PLANT_AUTO, err, sizeof err);
    if (rc != 0) {
        s_error(c, rc, err);
        return S_EXIT_FAILED;
    }
    *items = p.n_actors + p.n_links;
    rc = tm_client_upload(c->client, &p, c->timeout_ms, &s_interrupted, &up);
    tm_plant_free(&p);
    *upload = up.upload;
    if (rc == TM_ERR_CLOSED) {
        fprintf(stderr, "\ntwinmesh: interrupted (nothing was applied)\n");
        tm_client_reset(c->client);
        return S_EXIT_INTERRUPTED;
    }
    if (rc == TM_ERR_TIMEOUT) {
        s_unreachable(c, up.chunks == 0, false);
        return S_EXIT_UNREACHABLE;
    }
    if (rc != 0) {
        s_error(c, rc, up.message);
        return up.refused ? S_EXIT_FAILED : S_EXIT_UNREACHABLE;
    }
    return 0;
}

/* models load: read FILE and stage its bytes on the node (FILE_CHUNK).
 * *upload gets its id. Returns an exit status. */
static int s_upload_file(s_console_t *c, const tm_cmd_t *cmd, uint64_t *upload)
{
    char err[TM_CMD_MSG_MAX];
    if (cmd->upload != 0) {
        snprintf(err, sizeof err,
                 "%s: --upload is set by the console itself (usage: %s %s)",
                 cmd->info->name, cmd->info->name, cmd->info->usage);
        s_error(c, TM_ERR_USAGE, err);
        return S_EXIT_USAGE;
    }
    tm_client_upload_t up;
    int rc = tm_client_upload_file(c->client, cmd->path, c->timeout_ms,
                                   &s_interrupted, &up);
    *upload = up.upload;
    if (rc == TM_ERR_CLOSED) {
        fprintf(stderr, "\ntwinmesh: interrupted (nothing was loaded)\n");
        tm_client_reset(c->client);
        return S_EXIT_INTERRUPTED;
    }
    if (rc == TM_ERR_TIMEOUT) {
        s_unreachable(c, up.chunks == 0, false);
        return S_EXIT_UNREACHABLE;
    }
    if (rc != 0) {
        s_error(c, rc, up.message);
        return up.refused ? S_EXIT_FAILED : S_EXIT_UNREACHABLE;
    }
    return 0;
}

/* export: the parts (plant chunks) put together, then written. */
typedef struct {
    tm_plant_t plant;
    int status;
} s_export_t;

static void s_export_part(s_console_t *c, s_export_t *e,
                          const tm_client_reply_t *rep)
{
    tm_plant_chunk_t h;
    if (e->status != 0) {
        return;
    }
    int rc =
        tm_plant_chunk_decode(rep->body, rep->body_len, NULL, &h, &e->plant);
    if (rc != 0) {
        char err[256];
        snprintf(err, sizeof err, "malformed export part: %s", tm_err_str(rc));
        s_error(c, rc, err);
        e->status = S_EXIT_UNREACHABLE;
    }
}

static int s_export_write(s_console_t *c, const tm_cmd_t *cmd, s_export_t *e,
                          const char *message)
{
    char err[TM_CMD_MSG_MAX];
    if (e->status != 0) {
        return e->status;
    }
    tm_plant_sort(&e->plant); /* the parts of several nodes: one order */
    int rc = tm_render_plant(&e->plant, cmd->path, c->json, err, sizeof err);
    if (rc != 0) {
        s_error(c, rc, err);
        return S_EXIT_FAILED;
    }
    if (cmd->path[0] != '\0') {
        printf("exported %s to %s\n", message, cmd->path);
    }
    return 0;
}

/* ---- requests ----------------------------------------------------------- */

/* Ctrl-C while waiting: 0 to go on waiting for a cancelled stream's end,
 * else the exit status. */
static int s_interrupt(s_console_t *c, const tm_cmd_t *cmd, bool first,
                       bool *cancelled, double *deadline)
{
    *cancelled = true;
    s_interrupted = 0;
    if (first || !(cmd->info->flags & TM_CMD_F_LONG)) {
        fprintf(stderr, "\ntwinmesh: interrupted%s\n",
                cmd->info->flags & TM_CMD_F_MUTATES
                    ? " (the request was sent: the node may still "
                      "apply it; check before repeating it)"
                    : "");
        tm_client_reset(c->client);
        return S_EXIT_INTERRUPTED;
    }
    if (isatty(STDOUT_FILENO)) {
        printf("\n");
    }
    tm_client_cancel(c->client);
    /* one deadline for the whole end, however many parts still come */
    *deadline = tm_time_now() + S_CANCEL_WAIT_MS / 1000.0;
    return 0;
}

/* One successful reply: rendered, or a part of an export. */
static int s_show(s_console_t *c, const tm_cmd_t *cmd, tm_render_t *r,
                  s_export_t *e, const tm_client_reply_t *rep, bool cancelled)
{
    json_t *body = NULL;
    if (cmd->kind == TM_CMD_EXPORT) {
        s_export_part(c, e, rep);
        return e->status;
    }
    int rc = tm_render_to_json(rep->body, rep->body_len, &body);
    if (rc != 0) {
        char err[256];
        snprintf(err, sizeof err, "malformed reply body: %s", tm_err_str(rc));
        s_error(c, rc, err);
        return S_EXIT_UNREACHABLE;
    }
    if (!(cancelled && !rep->more && (cmd->info->flags & TM_CMD_F_STREAM))) {
        tm_render_reply(r, rep->message, body, rep->more);
    } /* else the end of a cancelled stream: nothing to print */
    json_decref(body);
    return 0;
}

/* Render every reply to the request just sent. Returns an exit status. */
static int s_replies(s_console_t *c, const tm_cmd_t *cmd, int timeout)
{
    tm_render_t r;
    s_export_t e;
    int status = 0;
    bool first = true;
    bool cancelled = false;
    double deadline = 0; /* set once cancelled */
    memset(&e, 0, sizeof e);
    tm_plant_init(&e.plant, cmd->path[0] ? cmd->path : "export");
    tm_render_init(&r, cmd->kind, c->json, isatty(STDOUT_FILENO) != 0, stdout);
    for (;;) {
        tm_client_reply_t rep;
        if (cancelled) {
            double left = deadline - tm_time_now();
            timeout = left > 0 ? (int)(left * 1000.0) + 1 : 0;
        }
        int rc = cancelled && timeout == 0
                     ? TM_ERR_TIMEOUT
                     : tm_client_recv(c->client, timeout, &s_interrupted, &rep);
        if (rc == TM_ERR_CLOSED && !cancelled) {
            /* Ctrl-C: streams and runs are cancelled at the node, and
             * its last reply ends them; anything else stops waiting. */
            status = s_interrupt(c, cmd, first, &cancelled, &deadline);
            if (status != 0) {
                break;
            }
            continue;
        }
        if (rc == TM_ERR_TIMEOUT || rc == TM_ERR_CLOSED) {
            if (cancelled) {
                tm_client_reset(c->client);
                break;
            }
            s_unreachable(c, first, (cmd->info->flags & TM_CMD_F_MUTATES) != 0);
            status = S_EXIT_UNREACHABLE;
            break;
        }
        if (rc != 0) {
            char err[256];
            snprintf(err, sizeof err, "malformed reply from %s: %s",
                     c->endpoint, tm_err_str(rc));
            s_error(c, rc, err);
            tm_client_reset(c->client);
            status = S_EXIT_UNREACHABLE;
            break;
        }
        first = false;
        if (cmd->info->flags & TM_CMD_F_LONG && !cancelled) {
            timeout = c->timeout_ms > S_STREAM_GAP_MS ? c->timeout_ms
                                                      : S_STREAM_GAP_MS;
        }
        bool more = rep.more;
        if (rep.status != 0) {
            tm_render_clear_progress(&r);
            s_error(c, rep.status, rep.message);
            status = S_EXIT_FAILED;
        } else {
            int st = s_show(c, cmd, &r, &e, &rep, cancelled);
            status = st != 0 ? st : status;
        }
        if (!more && status == 0 && cmd->kind == TM_CMD_EXPORT) {
            status = s_export_write(c, cmd, &e, rep.message);
        }
        tm_client_reply_free(&rep);
        if (!more) {
            break;
        }
    }
    tm_plant_free(&e.plant);
    return status;
}

/* Send argv (after uploading its plant, for apply and diff) and render
 * every reply. Returns an exit status. */
static int s_execute(s_console_t *c, int argc, const char *const *argv)
{
    tm_cmd_t cmd;
    char err[TM_CMD_MSG_MAX];
    char id[32];
    const char *args[TM_CONSOLE_ARGC_MAX + 2];
    uint64_t upload = 0;
    size_t items = 0;
    int rc = tm_cmd_parse(argc, argv, &cmd, err, sizeof err);
    if (rc != 0) {
        s_error(c, rc, err);
        return rc == TM_ERR_USAGE || rc == TM_ERR_UNKNOWN_COMMAND
                   ? S_EXIT_USAGE
                   : S_EXIT_FAILED;
    }
    if (cmd.info->flags & TM_CMD_F_LOCAL) {
        tm_render_help(stdout, cmd.topic, c->json);
        return 0;
    }
    rc = s_connect(c);
    if (rc != 0) {
        /* a malformed endpoint is the user's to fix, not the node's */
        return rc == TM_ERR_INVAL ? S_EXIT_USAGE : S_EXIT_UNREACHABLE;
    }
    if (cmd.info->flags & (TM_CMD_F_UPLOAD | TM_CMD_F_FILE)) {
        int st = (cmd.info->flags & TM_CMD_F_FILE)
                     ? s_upload_file(c, &cmd, &upload)
                     : s_upload(c, &cmd, &upload, &items);
        if (st != 0 || argc > (int)TM_CONSOLE_ARGC_MAX - 2) {
            return st != 0 ? st : S_EXIT_USAGE;
        }
        memcpy(args, argv, (size_t)argc * sizeof *argv);
        snprintf(id, sizeof id, "%llu", (unsigned long long)upload);
        args[argc++] = "--upload";
        args[argc++] = id;
        argv = args;
    }
    if (s_interrupted) {
        /* Ctrl-C before the request left: the wait below would miss it */
        fprintf(stderr, "\ntwinmesh: interrupted (the request was not sent; "
                        "nothing was changed)\n");
        return S_EXIT_INTERRUPTED;
    }
    rc = tm_client_send(c->client, argc, argv);
    if (rc != 0) {
        snprintf(err, sizeof err, "cannot send the request: %s",
                 tm_err_str(rc));
        s_error(c, rc, err);
        return rc == TM_ERR_TOO_BIG ? S_EXIT_USAGE : S_EXIT_UNREACHABLE;
    }
    int timeout = c->timeout_ms;
    if (cmd.count > 0 && !(cmd.info->flags & TM_CMD_F_LONG)) {
        timeout += (int)(cmd.count / 20); /* 20 actors per ms, worst case */
    }
    timeout += (int)(items / 20); /* a plant: as many, actors and links */
    return s_replies(c, &cmd, timeout);
}

/* ---- queries for completion --------------------------------------------- */

/* Run a query quietly and return its body (list parts concatenated). */
static json_t *s_query(s_console_t *c, int argc, const char *const *argv)
{
    json_t *all = NULL;
    if (s_connect(c) != 0 || tm_client_send(c->client, argc, argv) != 0) {
        return NULL;
    }
    for (;;) {
        tm_client_reply_t rep;
        json_t *body = NULL;
        if (tm_client_recv(c->client, S_COMPLETE_MS, NULL, &rep) != 0) {
            tm_client_reset(c->client);
            json_decref(all);
            return NULL;
        }
        bool more = rep.more;
        if (rep.status == 0 &&
            tm_render_to_json(rep.body, rep.body_len, &body) == 0) {
            if (all == NULL) {
                all = body;
                body = NULL;
            } else if (json_is_array(all) && json_is_array(body)) {
                json_array_extend(all, body);
            }
        }
        json_decref(body);
        tm_client_reply_free(&rep);
        if (!more) {
            return all;
        }
    }
}

/* ---- completion --------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
} s_words_t;

static void s_add(s_words_t *w, const char *prefix, const char *s,
                  const char *suffix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0) {
        return;
    }
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        char **v = realloc(w->v, cap * sizeof *v);
        if (v == NULL) {
            return;
        }
        w->v = v;
        w->cap = cap;
    }
    size_t len = strlen(s) + strlen(suffix) + 1;
    char *copy = malloc(len);
    if (copy == NULL) {
        return;
    }
    snprintf(copy, len, "%s%s", s, suffix);
    w->v[w->n++] = copy;
}

static void s_words_free(s_words_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i]);
    }
    free(w->v);
    memset(w, 0, sizeof *w);
}

/* Space-separated list into candidates. */
static void s_add_list(s_words_t *w, const char *prefix, const char *list,
                       const char *pre, const char *suffix)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t != NULL;
         t = strtok_r(NULL, " ", &save)) {
        char item[128];
        snprintf(item, sizeof item, "%s%s", pre, t);
        s_add(w, prefix, item, suffix);
    }
}

/* The actor id a word starts with (up to '.' or '='), into id. */
static void s_id_part(const char *word, char id[TM_ID_MAX + 1])
{
    size_t n = strcspn(word, ".=");
    snprintf(id, TM_ID_MAX + 1, "%.*s", (int)(n < TM_ID_MAX ? n : TM_ID_MAX),
             word);
}

/* Every command the help lists. */
static void s_add_commands(s_words_t *w, const char *word)
{
    size_t n = 0;
    const tm_cmd_info_t *t = tm_cmd_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].flags & TM_CMD_F_HIDDEN)) {
            s_add(w, word, t[i].name, " ");
        }
    }
}

static void s_add_ids(s_console_t *c, s_words_t *w, const char *prefix,
                      const char *suffix)
{
    char id[TM_ID_MAX + 1];
    s_id_part(prefix, id);
    const char *with_prefix[] = {"ids", id, "--limit", "500"};
    const char *all[] = {"ids", "--limit", "500"};
    json_t *ids = id[0] ? s_query(c, 4, with_prefix) : s_query(c, 3, all);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        const char *found = json_string_value(v);
        if (found != NULL) {
            s_add(w, prefix, found, suffix);
        }
    }
    json_decref(ids);
}

/* Names of one kind of port ("outputs", "inputs", "state", "params") of an
 * actor, as "ID.NAME" (dotted) or "NAME". */
static void s_add_ports(s_console_t *c, s_words_t *w, const char *id,
                        const char *const *kinds, int nkinds,
                        const char *prefix, bool dotted, const char *suffix)
{
    const char *argv[] = {"inspect", id};
    json_t *b = s_query(c, 2, argv);
    json_t *units = json_object_get(b, "units");
    for (int k = 0; k < nkinds; k++) {
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(units, kinds[k]), name, v)
        {
            char item[TM_ID_MAX + TM_MODEL_NAME_MAX + 4];
            if (dotted) {
                snprintf(item, sizeof item, "%s.%s", id, name);
            } else {
                snprintf(item, sizeof item, "%s", name);
            }
            s_add(w, prefix, item, suffix);
        }
    }
    json_decref(b);
}

/* Model families, as the node's catalog lists them. */
static void s_add_families(s_console_t *c, s_words_t *w, const char *word)
{
    const char *argv[] = {"models"};
    json_t *all = s_query(c, 1, argv);
    size_t i;
    json_t *m;
    json_array_foreach(all, i, m)
    {
        const char *family = json_string_value(json_object_get(m, "model"));
        bool dup = false;
        for (size_t j = 0; j < i && family != NULL && !dup; j++) {
            const char *other = json_string_value(
                json_object_get(json_array_get(all, j), "model"));
            dup = other != NULL && strcmp(other, family) == 0;
        }
        if (family != NULL && !dup) {
            s_add(w, word, family, " ");
        }
    }
    json_decref(all);
}

/* Candidates for `word` after argv, by what the command table says the
 * word is. */
static void s_candidates(s_console_t *c, int argc, const char **argv,
                         const char *word, s_words_t *w)
{
    static const char *const settable[] = {"params", "state", "inputs"};
    static const char *const signals[] = {"outputs", "state", "inputs"};
    const char *kind = NULL;
    const tm_cmd_info_t *cmd = argc > 0 ? tm_cmd_lookup(argv[0]) : NULL;
    switch (tm_cmd_complete(argc, argv, word)) {
    case TM_CMD_COMPLETE_COMMANDS:
        s_add_commands(w, word);
        if (argc == 0) {
            s_add(w, word, "quit", " ");
        }
        break;
    case TM_CMD_COMPLETE_OPTIONS:
        if (cmd != NULL) {
            s_add_list(w, word, tm_cmd_options(cmd->kind), "--", " ");
        }
        break;
    case TM_CMD_COMPLETE_IDS:
        s_add_ids(c, w, word, " ");
        break;
    case TM_CMD_COMPLETE_OUTPUT:
    case TM_CMD_COMPLETE_INPUT:
        if (strchr(word, '.') == NULL) {
            s_add_ids(c, w, word, ".");
        } else {
            char id[TM_ID_MAX + 1];
            s_id_part(word, id);
            kind = tm_cmd_complete(argc, argv, word) == TM_CMD_COMPLETE_OUTPUT
                       ? "outputs"
                       : "inputs";
            s_add_ports(c, w, id, &kind, 1, word, true, " ");
        }
        break;
    case TM_CMD_COMPLETE_SETTABLE:
        s_add_ports(c, w, argv[1], settable, 3, word, false, "=");
        break;
    case TM_CMD_COMPLETE_SIGNAL:
        s_add_ports(c, w, argv[1], signals, 3, word, false, " ");
        break;
    case TM_CMD_COMPLETE_CLOCK:
        s_add_list(w, word, "realtime fast pause", "", " ");
        break;
    case TM_CMD_COMPLETE_FAMILIES:
        s_add_families(c, w, word);
        break;
    case TM_CMD_COMPLETE_FIDELITIES:
        s_add_list(w, word, "high medium low", "", " ");
        break;
    case TM_CMD_COMPLETE_NONE:
        break;
    }
}

static unsigned char s_complete(EditLine *el, int ch)
{
    (void)ch;
    s_console_t *c = NULL;
    el_get(el, EL_CLIENTDATA, &c);
    const LineInfo *li = el_line(el);
    size_t len = (size_t)(li->cursor - li->buffer);
    char *line = malloc(len + 1);
    if (line == NULL || c == NULL) {
        free(line);
        return CC_ERROR;
    }
    memcpy(line, li->buffer, len);
    line[len] = '\0';
    /* the word being completed: from the last space to the cursor */
    char *word = strrchr(line, ' ');
    word = word ? word + 1 : line;
    const char *argv[64];
    int argc = 0;
    char *save = NULL;
    char saved = *word;
    *word = '\0';
    for (char *t = strtok_r(line, " \t", &save); t && argc < 64;
         t = strtok_r(NULL, " \t", &save)) {
        argv[argc++] = t;
    }
    *word = saved;
    s_words_t w;
    memset(&w, 0, sizeof w);
    s_candidates(c, argc, argv, word, &w);
    unsigned char res = CC_ERROR;
    size_t wl = strlen(word);
    if (w.n == 1) {
        el_insertstr(el, w.v[0] + wl);
        res = CC_REFRESH;
    } else if (w.n > 1) {
        /* extend to the longest common prefix, else list the choices */
        size_t common = strlen(w.v[0]);
        for (size_t i = 1; i < w.n; i++) {
            size_t k = 0;
            while (k < common && w.v[i][k] == w.v[0][k]) {
                k++;
            }
            common = k;
        }
        if (common > wl) {
            char *ext = strndup(w.v[0] + wl, common - wl);
            if (ext != NULL) {
                el_insertstr(el, ext);
                free(ext);
            }
            res = CC_REFRESH;
        } else {
            fprintf(stdout, "\n");
            for (size_t i = 0; i < w.n; i++) {
                fprintf(stdout, "%s%s", w.v[i], (i + 1) % 6 == 0 ? "\n" : "  ");
            }
            fprintf(stdout, "\n");
            fflush(stdout);
            res = CC_REDISPLAY;
        }
    }
    s_words_free(&w);
    free(line);
    return res;
}

/* ---- interactive -------------------------------------------------------- */

static char *s_prompt(EditLine *el)
{
    (void)el;
    static char prompt[] = "twinmesh> ";
    return prompt;
}

static bool s_is_quit(const char *w)
{
    return strcmp(w, "quit") == 0 || strcmp(w, "exit") == 0;
}

/* Commands from a pipe or file, one per line. */
static int s_batch(s_console_t *c)
{
    char *line = NULL;
    size_t cap = 0;
    int status = 0;
    Tokenizer *tok = tok_init(NULL);
    while (tok != NULL && getline(&line, &cap, stdin) >= 0) {
        int argc = 0;
        const char **argv = NULL;
        tok_reset(tok);
        if (tok_str(tok, line, &argc, &argv) != 0) {
            s_error(c, TM_ERR_USAGE, "unbalanced quotes");
            status = S_EXIT_USAGE;
            continue;
        }
        if (argc == 0 || argv[0][0] == '#') {
            continue;
        }
        if (s_is_quit(argv[0])) {
            break;
        }
        int st = s_execute(c, argc, argv);
        if (st != 0) {
            status = st;
        }
        if (st == S_EXIT_INTERRUPTED) {
            break; /* Ctrl-C stops the batch */
        }
    }
    if (tok != NULL) {
        tok_end(tok);
    }
    free(line);
    return status;
}

/* A string field of a reply, "-" when missing or of another type. */
static const char *s_field(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "-";
}

static void s_banner(s_console_t *c)
{
    const char *argv[] = {"nodes"};
    json_t *nodes = s_query(c, 1, argv);
    json_t *n = json_array_get(nodes, 0);
    if (n == NULL) {
        printf("twinmesh console: node not reachable at %s (commands will "
               "time out until it is up)\n",
               c->endpoint);
    } else {
        printf("twinmesh console: node %s (site %s) at %s, %lld actors, "
               "tick %lld, clock %s\n",
               s_field(n, "name"), s_field(n, "site"), c->endpoint,
               (long long)json_integer_value(json_object_get(n, "actors")),
               (long long)json_integer_value(json_object_get(n, "tick")),
               s_field(n, "clock"));
    }
    printf("Type help for the commands, Tab to complete, quit or Ctrl-D to "
           "leave.\n");
    json_decref(nodes);
}

static int s_interactive(s_console_t *c, const char *prog)
{
    HistEvent ev;
    int status = 0;
    c->el = el_init(prog, stdin, stdout, stderr);
    c->hist = history_init();
    c->tok = tok_init(NULL);
    if (c->el == NULL || c->hist == NULL || c->tok == NULL) {
        fprintf(stderr, "twinmesh: cannot start line editing\n");
        return S_EXIT_FAILED;
    }
    history(c->hist, &ev, H_SETSIZE, S_HISTORY_SIZE);
    history(c->hist, &ev, H_SETUNIQUE, 1);
    const char *home = getenv("HOME");
    const char *hf = getenv("TWINMESH_HISTORY");
    if (hf != NULL) {
        snprintf(c->history_path, sizeof c->history_path, "%s", hf);
    } else if (home != NULL) {
        snprintf(c->history_path, sizeof c->history_path,
                 "%s/.twinmesh_history", home);
    }
    if (c->history_path[0] != '\0') {
        history(c->hist, &ev, H_LOAD, c->history_path);
    }
    el_set(c->el, EL_EDITOR, "emacs");
    el_set(c->el, EL_PROMPT, s_prompt);
    el_set(c->el, EL_HIST, history, c->hist);
    el_set(c->el, EL_CLIENTDATA, c);
    el_set(c->el, EL_ADDFN, "tm-complete",
           "complete commands, actor ids and ports", s_complete);
    el_set(c->el, EL_BIND, "^I", "tm-complete", NULL);
    s_banner(c);
    for (;;) {
        int count = 0;
        s_interrupted = 0;
        const char *line = el_gets(c->el, &count);
        if (line == NULL) {
            if (count < 0 && (errno == EINTR || s_interrupted)) {
                printf("\n");
                continue; /* Ctrl-C at the prompt: a fresh line */
            }
            printf("\n");
            break; /* Ctrl-D */
        }
        int argc = 0;
        const char **argv = NULL;
        tok_reset(c->tok);
        if (tok_str(c->tok, line, &argc, &argv) != 0) {
            fprintf(stderr, "twinmesh: unbalanced quotes\n");
            continue;
        }
        if (argc == 0) {
            continue;
        }
        history(c->hist, &ev, H_ENTER, line);
        if (s_is_quit(argv[0])) {
            break;
        }
        status = s_execute(c, argc, argv);
    }
    if (c->history_path[0] != '\0') {
        history(c->hist, &ev, H_SAVE, c->history_path);
    }
    return status == S_EXIT_INTERRUPTED ? 0 : status;
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    s_console_t c;
    int i = 1;
    int status = 0;
    memset(&c, 0, sizeof c);
    c.endpoint = getenv("TWINMESH_CONSOLE");
    if (c.endpoint == NULL || c.endpoint[0] == '\0') {
        c.endpoint = S_DEFAULT_ENDPOINT;
    }
    c.timeout_ms = (int)(S_DEFAULT_TIMEOUT * 1000);
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
            c.json = true;
            continue;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--connect") == 0 ||
            strcmp(a, "-t") == 0 || strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "twinmesh: %s needs a value\n", a);
                return S_EXIT_USAGE;
            }
            val = argv[++i];
        } else if (strncmp(a, "--connect=", 10) == 0) {
            val = a + 10;
            a = "-c";
        } else if (strncmp(a, "--timeout=", 10) == 0) {
            val = a + 10;
            a = "-t";
        } else {
            fprintf(stderr, "twinmesh: unknown option %s (see --help)\n", a);
            return S_EXIT_USAGE;
        }
        if (a[1] == 'c' || strcmp(a, "--connect") == 0) {
            c.endpoint = val;
        } else {
            double s = 0;
            if (tm_text_parse_f64(val, &s) != 0 || !(s > 0) || s > 86400) {
                fprintf(stderr,
                        "twinmesh: --timeout: '%s' is not a number of "
                        "seconds in (0, 86400]\n",
                        val);
                return S_EXIT_USAGE;
            }
            c.timeout_ms = (int)(s * 1000);
            if (c.timeout_ms < 1) {
                c.timeout_ms = 1;
            }
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: waits wake up */

    if (i < argc) {
        status = s_execute(&c, argc - i, (const char *const *)(argv + i));
    } else if (isatty(STDIN_FILENO)) {
        status = s_interactive(&c, argv[0]);
    } else {
        status = s_batch(&c);
    }
    if (c.tok != NULL) {
        tok_end(c.tok);
    }
    if (c.el != NULL) {
        el_end(c.el);
    }
    if (c.hist != NULL) {
        history_end(c.hist);
    }
    tm_client_destroy(&c.client);
    return status;
}
