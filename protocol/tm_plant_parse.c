/* tm_plant_parse: plant files (YAML with libyaml, JSON checked with
 * jansson) into a tm_plant_t.
 *
 * The text becomes a small tree first: libyaml's events (which give every
 * scalar, sequence and mapping with its line and column) are collected
 * into flat nodes, at most TM_PLANT_DEPTH_MAX deep, aliases refused. A
 * JSON file is checked by jansson first (strict JSON: no comments, no
 * trailing commas, no duplicate keys), then read the same way: JSON is
 * YAML's flow style, so both formats give the same tree and the same
 * messages. Then the tree is walked against the grammar.
 */
#include "tm_plant.h"

#include "tm_err.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { S_SCALAR = 1, S_SEQ = 2, S_MAP = 3 };

#define S_NONE UINT32_MAX

typedef struct {
    uint8_t type;
    bool quoted;    /* a scalar written in quotes */
    uint32_t line;  /* 1-based */
    uint32_t col;   /* 1-based */
    uint32_t n;     /* children (a map: keys and values alternate) */
    uint32_t first; /* first child, S_NONE */
    uint32_t last;  /* last child while building */
    uint32_t next;  /* next sibling, S_NONE */
    uint32_t off;   /* scalar: text offset in the text buffer */
} s_node_t;

typedef struct {
    tm_plant_t *p;
    bool json;
    s_node_t *nodes;
    size_t n_nodes, cap_nodes;
    char *text;
    size_t text_len, text_cap;
    char *err;
    size_t errlen;
} s_parse_t;

static int s_err_at(s_parse_t *s, uint32_t line, uint32_t col, int rc,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int s_err_at(s_parse_t *s, uint32_t line, uint32_t col, int rc,
                    const char *fmt, ...)
{
    size_t off = (size_t)snprintf(s->err, s->errlen, "%s:%u:%u: ", s->p->file,
                                  line, col);
    if (off < s->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err + off, s->errlen - off, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- events into a tree ------------------------------------------------- */

static int s_text(s_parse_t *s, const char *t, size_t len, uint32_t *off)
{
    if (s->text_len + len + 1 > s->text_cap) {
        size_t cap = s->text_cap ? s->text_cap : 4096;
        while (cap < s->text_len + len + 1) {
            cap *= 2;
        }
        char *nt = realloc(s->text, cap);
        if (nt == NULL) {
            return TM_ERR_NOMEM;
        }
        s->text = nt;
        s->text_cap = cap;
    }
    if (s->text_len > UINT32_MAX - len - 1) {
        return TM_ERR_TOO_BIG;
    }
    *off = (uint32_t)s->text_len;
    memcpy(s->text + s->text_len, t, len);
    s->text[s->text_len + len] = '\0';
    s->text_len += len + 1;
    return 0;
}

/* A new node as the last child of parent (S_NONE: the root). */
static int s_node(s_parse_t *s, uint32_t parent, uint8_t type,
                  const yaml_mark_t *mark, uint32_t *out)
{
    if (s->n_nodes == s->cap_nodes) {
        size_t cap = s->cap_nodes ? s->cap_nodes * 2 : 1024;
        s_node_t *nn = realloc(s->nodes, cap * sizeof *nn);
        if (nn == NULL) {
            return TM_ERR_NOMEM;
        }
        s->nodes = nn;
        s->cap_nodes = cap;
    }
    if (s->n_nodes >= S_NONE) {
        return TM_ERR_TOO_BIG;
    }
    uint32_t i = (uint32_t)s->n_nodes++;
    s_node_t *n = &s->nodes[i];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->line = (uint32_t)mark->line + 1;
    n->col = (uint32_t)mark->column + 1;
    n->first = n->last = n->next = S_NONE;
    if (parent != S_NONE) {
        s_node_t *p = &s->nodes[parent];
        if (p->first == S_NONE) {
            p->first = i;
        } else {
            s->nodes[p->last].next = i;
        }
        p->last = i;
        p->n++;
    }
    *out = i;
    return 0;
}

/* One event: open, add to or close the container on top of stack. */
static int s_event(s_parse_t *s, const yaml_event_t *e, uint32_t *stack,
                   int *depth, bool *done)
{
    uint32_t parent = *depth > 0 ? stack[*depth - 1] : S_NONE;
    uint32_t i = 0;
    int rc = 0;
    const yaml_mark_t *m = &e->start_mark;
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        rc = s_node(s, parent, S_SCALAR, m, &i);
        if (rc == 0) {
            s->nodes[i].quoted =
                e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            rc = s_text(s, (const char *)e->data.scalar.value,
                        e->data.scalar.length, &s->nodes[i].off);
        }
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (*depth >= (int)TM_PLANT_DEPTH_MAX) {
            return s_err_at(s, (uint32_t)m->line + 1, (uint32_t)m->column + 1,
                            TM_ERR_PLANT, "nested deeper than %u levels",
                            TM_PLANT_DEPTH_MAX);
        }
        rc = s_node(s, parent,
                    e->type == YAML_MAPPING_START_EVENT ? S_MAP : S_SEQ, m, &i);
        if (rc == 0) {
            stack[(*depth)++] = i;
        }
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        (*depth)--;
        break;
    case YAML_ALIAS_EVENT:
        return s_err_at(s, (uint32_t)m->line + 1, (uint32_t)m->column + 1,
                        TM_ERR_PLANT,
                        "aliases (*name) are not supported in plant files");
    case YAML_DOCUMENT_START_EVENT:
        if (s->n_nodes > 0) {
            return s_err_at(s, (uint32_t)m->line + 1, (uint32_t)m->column + 1,
                            TM_ERR_PLANT,
                            "a plant file holds one document, this is a "
                            "second one");
        }
        break;
    case YAML_STREAM_END_EVENT:
        *done = true;
        break;
    default:
        break;
    }
    if (rc == TM_ERR_NOMEM) {
        snprintf(s->err, s->errlen, "%s: out of memory", s->p->file);
    } else if (rc == TM_ERR_TOO_BIG) {
        snprintf(s->err, s->errlen, "%s: too big", s->p->file);
    }
    return rc;
}

static int s_tree(s_parse_t *s, const char *text, size_t len)
{
    yaml_parser_t yp;
    uint32_t stack[TM_PLANT_DEPTH_MAX];
    int depth = 0;
    bool done = false;
    int rc = 0;
    if (!yaml_parser_initialize(&yp)) {
        snprintf(s->err, s->errlen, "%s: out of memory", s->p->file);
        return TM_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    while (rc == 0 && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&yp, &e)) {
            const char *kind = s->json ? "JSON" : "YAML";
            rc = s_err_at(s, (uint32_t)yp.problem_mark.line + 1,
                          (uint32_t)yp.problem_mark.column + 1, TM_ERR_PLANT,
                          "%s: %s%s%s", kind,
                          yp.problem ? yp.problem : "syntax error",
                          yp.context ? " " : "", yp.context ? yp.context : "");
            break;
        }
        rc = s_event(s, &e, stack, &depth, &done);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&yp);
    return rc;
}

/* Strict JSON first: what libyaml would also accept as YAML (comments,
 * unquoted keys, trailing text) is refused in a .json file. */
static int s_json_check(s_parse_t *s, const char *text, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(
        text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (j == NULL) {
        return s_err_at(s, je.line > 0 ? (uint32_t)je.line : 1,
                        je.column > 0 ? (uint32_t)je.column : 1, TM_ERR_PLANT,
                        "JSON: %s", je.text);
    }
    json_decref(j);
    return 0;
}

/* ---- the grammar -------------------------------------------------------- */

static const s_node_t *s_at(const s_parse_t *s, uint32_t i)
{
    return i == S_NONE ? NULL : &s->nodes[i];
}

static const char *s_str(const s_parse_t *s, const s_node_t *n)
{
    return s->text + n->off;
}

static const char *s_type_name(const s_node_t *n)
{
    return n->type == S_MAP   ? "a mapping"
           : n->type == S_SEQ ? "a list"
                              : "a scalar";
}

static int s_expect(s_parse_t *s, const s_node_t *n, uint8_t type,
                    const char *field)
{
    if (n->type == type) {
        return 0;
    }
    return s_err_at(s, n->line, n->col, TM_ERR_PLANT, "%s: expected %s, got %s",
                    field,
                    type == S_MAP   ? "a mapping"
                    : type == S_SEQ ? "a list"
                                    : "a value",
                    s_type_name(n));
}

/* A string value: any scalar in YAML but null, true, false and nothing;
 * a quoted string in JSON. */
static int s_get_str(s_parse_t *s, const s_node_t *n, const char *field,
                     const char **out)
{
    int rc = s_expect(s, n, S_SCALAR, field);
    if (rc != 0) {
        return rc;
    }
    const char *v = s_str(s, n);
    bool word = strcmp(v, "null") == 0 || strcmp(v, "~") == 0 ||
                strcmp(v, "true") == 0 || strcmp(v, "false") == 0 ||
                v[0] == '\0';
    if (!n->quoted && (s->json || word)) {
        return s_err_at(s, n->line, n->col, TM_ERR_PLANT,
                        "%s: expected a string, got '%.40s'", field, v);
    }
    *out = v;
    return 0;
}

/* A number: an unquoted finite decimal. */
static int s_get_num(s_parse_t *s, const s_node_t *n, const char *field,
                     double *out)
{
    int rc = s_expect(s, n, S_SCALAR, field);
    if (rc != 0) {
        return rc;
    }
    const char *v = s_str(s, n);
    if (n->quoted) {
        return s_err_at(s, n->line, n->col, TM_ERR_PLANT,
                        "%s: expected a number, got the string \"%.40s\"",
                        field, v);
    }
    rc = tm_text_parse_f64(v, out);
    if (rc == TM_ERR_RANGE) {
        return s_err_at(s, n->line, n->col, TM_ERR_PLANT,
                        "%s: %.40s is out of the range of a double", field, v);
    }
    if (rc != 0) {
        return s_err_at(s, n->line, n->col, TM_ERR_PLANT,
                        "%s: expected a finite number, got '%.40s'", field, v);
    }
    return 0;
}

/* A whole number in [lo, hi]. */
static int s_get_uint(s_parse_t *s, const s_node_t *n, const char *field,
                      uint64_t lo, uint64_t hi, uint64_t *out)
{
    int rc = s_expect(s, n, S_SCALAR, field);
    if (rc != 0) {
        return rc;
    }
    const char *v = s_str(s, n);
    if (n->quoted || tm_text_parse_u64(v, false, lo, hi, out) != 0) {
        return s_err_at(s, n->line, n->col, TM_ERR_PLANT,
                        "%s: expected a whole number in %llu..%llu, got "
                        "%s%.40s%s",
                        field, (unsigned long long)lo, (unsigned long long)hi,
                        n->quoted ? "\"" : "'", v, n->quoted ? "\"" : "'");
    }
    return 0;
}

/* Walk a map: for each key, its index in keys (or an error naming the
 * known keys), refusing a key given twice. */
typedef int (*s_key_fn)(s_parse_t *s, int key, const s_node_t *val,
                        const char *field, void *arg);

static int s_map(s_parse_t *s, const s_node_t *m, const char *field,
                 const char *const *keys, int nkeys, s_key_fn fn, void *arg)
{
    char sub[160];
    char known[256];
    unsigned seen = 0;
    int rc = s_expect(s, m, S_MAP, field);
    for (const s_node_t *k = s_at(s, m->first); rc == 0 && k != NULL;
         k = s_at(s, s_at(s, k->next)->next)) {
        const s_node_t *v = s_at(s, k->next);
        const char *name = k->type == S_SCALAR ? s_str(s, k) : "";
        int idx = -1;
        for (int i = 0; i < nkeys && k->type == S_SCALAR; i++) {
            idx = strcmp(keys[i], name) == 0 ? i : idx;
        }
        if (idx < 0) {
            size_t off = 0;
            for (int i = 0; i < nkeys && off < sizeof known; i++) {
                off += (size_t)snprintf(known + off, sizeof known - off, "%s%s",
                                        i ? ", " : "", keys[i]);
            }
            return s_err_at(s, k->line, k->col, TM_ERR_PLANT,
                            "%s%sunknown key '%.40s' (known: %s)", field,
                            field[0] ? ": " : "", name, known);
        }
        if (seen & (1u << idx)) {
            return s_err_at(s, k->line, k->col, TM_ERR_PLANT,
                            "%s%skey '%s' is given twice", field,
                            field[0] ? ": " : "", name);
        }
        seen |= 1u << idx;
        snprintf(sub, sizeof sub, "%s%s%s", field, field[0] ? "." : "", name);
        rc = fn(s, idx, v, sub, arg);
    }
    return rc;
}

static tm_plant_pos_t s_pos(const s_node_t *n)
{
    tm_plant_pos_t p = {n->line, n->col};
    return p;
}

static int s_nomem(s_parse_t *s, int rc)
{
    if (rc == TM_ERR_NOMEM) {
        snprintf(s->err, s->errlen, "%s: out of memory", s->p->file);
    }
    return rc;
}

static const char *s_dup(s_parse_t *s, const char *v)
{
    return tm_plant_strdup(s->p, v, strlen(v));
}

/* Port, state and parameter names: letters, digits and '_'. */
static bool s_port_name(const char *v)
{
    size_t n = 0;
    for (; v[n] != '\0'; n++) {
        char c = v[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return n > 0 && n < TM_MODEL_NAME_MAX;
}

/* params / inputs / state / outputs: {name: number, ...} */
static int s_values(s_parse_t *s, const s_node_t *m, const char *field,
                    tm_plant_set_t set)
{
    char sub[200];
    int rc = s_expect(s, m, S_MAP, field);
    if (rc == 0 && m->n / 2 > TM_MODEL_MAX_VARS) {
        return s_err_at(s, m->line, m->col, TM_ERR_PLANT,
                        "%s: more than %u values", field, TM_MODEL_MAX_VARS);
    }
    const tm_plant_actor_t *a = &s->p->actors[s->p->n_actors - 1];
    for (const s_node_t *k = s_at(s, m->first); rc == 0 && k != NULL;
         k = s_at(s, s_at(s, k->next)->next)) {
        const s_node_t *v = s_at(s, k->next);
        const char *name = k->type == S_SCALAR ? s_str(s, k) : "";
        double x = 0;
        if (!s_port_name(name)) {
            return s_err_at(s, k->line, k->col, TM_ERR_PLANT,
                            "%s: bad name '%.40s': names are letters, digits "
                            "and '_'",
                            field, name);
        }
        uint32_t n = 0;
        const tm_plant_value_t *done = tm_plant_values(s->p, a, set, &n);
        for (uint32_t j = 0; j < n; j++) {
            if (strcmp(done[j].name, name) == 0) {
                return s_err_at(s, k->line, k->col, TM_ERR_PLANT,
                                "%s: key '%s' is given twice", field, name);
            }
        }
        snprintf(sub, sizeof sub, "%s.%s", field, name);
        rc = s_get_num(s, v, sub, &x);
        const char *nm = rc == 0 ? s_dup(s, name) : NULL;
        if (rc == 0) {
            rc = s_nomem(
                s, nm == NULL ? TM_ERR_NOMEM
                              : tm_plant_add_value(s->p, set, nm, x, s_pos(v)));
        }
    }
    return rc;
}

enum {
    S_A_ID,
    S_A_MODEL,
    S_A_VERSION,
    S_A_FIDELITY,
    S_A_PERIOD,
    S_A_NODE,
    S_A_SITE,
    S_A_PARAMS,
    S_A_INPUTS,
    S_A_STATE,
    S_A_OUTPUTS
};

static const char *const s_actor_keys[] = {
    "id",   "model",  "version", "fidelity", "period", "node",
    "site", "params", "inputs",  "state",    "outputs"};

/* A string field that must be a word: valid(v) or the message. */
static int s_word(s_parse_t *s, const s_node_t *v, const char *field, bool ok,
                  const char *what, const char *str)
{
    if (ok) {
        return 0;
    }
    return s_err_at(s, v->line, v->col, TM_ERR_PLANT, "%s: bad %s '%.80s'%s",
                    field, what, str,
                    strcmp(what, "actor id") == 0
                        ? ": ids are 1-64 letters, digits, '_' or '-'"
                        : "");
}

static int s_actor_str(s_parse_t *s, int key, const s_node_t *v,
                       const char *field, tm_plant_actor_t *a)
{
    const char *str = NULL;
    int rc = s_get_str(s, v, field, &str);
    if (rc != 0) {
        return rc;
    }
    switch (key) {
    case S_A_ID:
        rc = s_word(s, v, field, tm_text_id_valid(str), "actor id", str);
        a->pos[TM_PLANT_F_ID] = s_pos(v);
        a->id = str;
        break;
    case S_A_MODEL:
        rc = s_word(s, v, field, tm_text_word_valid(str, TM_MODEL_NAME_MAX - 1),
                    "model family", str);
        a->pos[TM_PLANT_F_MODEL] = s_pos(v);
        a->model = str;
        break;
    case S_A_VERSION:
        rc = s_word(s, v, field,
                    strlen(str) <= TM_PLANT_VERSION_MAX &&
                        tm_semver_valid(str) == 0,
                    "version (MAJOR.MINOR.PATCH)", str);
        a->pos[TM_PLANT_F_VERSION] = s_pos(v);
        a->version = str;
        break;
    case S_A_FIDELITY: {
        tm_fidelity_t f = TM_FIDELITY_HIGH;
        if (tm_fidelity_parse(str, &f) != 0) {
            return s_err_at(s, v->line, v->col, TM_ERR_PLANT,
                            "%s: unknown fidelity '%.40s' (high, medium or "
                            "low)",
                            field, str);
        }
        a->pos[TM_PLANT_F_FIDELITY] = s_pos(v);
        a->fidelity = (int)f;
        break;
    }
    default: /* node, site */
        rc = s_word(s, v, field, tm_text_name_valid(str),
                    key == S_A_NODE ? "node name" : "site name", str);
        a->pos[key == S_A_NODE ? TM_PLANT_F_NODE : TM_PLANT_F_SITE] = s_pos(v);
        *(key == S_A_NODE ? &a->node : &a->site) = str;
        break;
    }
    return rc;
}

/* Scalar fields of an actor (first pass; the value sets come after the
 * actor is added). */
static int s_actor_key(s_parse_t *s, int key, const s_node_t *v,
                       const char *field, void *arg)
{
    tm_plant_actor_t *a = arg;
    if (key >= S_A_PARAMS) {
        return 0;
    }
    if (key == S_A_PERIOD) {
        uint64_t period = 0;
        int rc = s_get_uint(s, v, field, 1, UINT32_MAX, &period);
        a->period = (uint32_t)period;
        a->pos[TM_PLANT_F_PERIOD] = s_pos(v);
        return rc;
    }
    return s_actor_str(s, key, v, field, a);
}

static int s_actor_sets(s_parse_t *s, int key, const s_node_t *v,
                        const char *field, void *arg)
{
    (void)arg;
    if (key < S_A_PARAMS) {
        return 0;
    }
    return s_values(s, v, field, (tm_plant_set_t)(key - S_A_PARAMS));
}

/* The strings of a into the plant's arena. */
static int s_actor_own(s_parse_t *s, tm_plant_actor_t *a)
{
    const char **f[] = {&a->id, &a->model, &a->version, &a->node, &a->site};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (*f[i] != NULL && (*f[i] = s_dup(s, *f[i])) == NULL) {
            return s_nomem(s, TM_ERR_NOMEM);
        }
    }
    return 0;
}

static int s_actor(s_parse_t *s, const s_node_t *m, size_t i)
{
    char field[48];
    tm_plant_actor_t a;
    memset(&a, 0, sizeof a);
    a.fidelity = -1;
    a.index = (uint32_t)i;
    snprintf(field, sizeof field, "actors[%zu]", i);
    a.pos[TM_PLANT_F_ITEM] = s_pos(m);
    int rc = s_map(s, m, field, s_actor_keys, 11, s_actor_key, &a);
    if (rc == 0 && (a.id == NULL || a.model == NULL)) {
        return s_err_at(s, m->line, m->col, TM_ERR_PLANT, "%s: missing '%s'",
                        field, a.id == NULL ? "id" : "model");
    }
    if (rc == 0) {
        rc = s_actor_own(s, &a);
    }
    if (rc == 0) {
        rc = tm_plant_add_actor(s->p, &a);
        if (rc == TM_ERR_TOO_BIG) {
            return s_err_at(s, m->line, m->col, rc,
                            "%s: more than %u actors in one plant", field,
                            TM_PLANT_ACTORS_MAX);
        }
        rc = s_nomem(s, rc);
    }
    if (rc == 0) {
        rc = s_map(s, m, field, s_actor_keys, 11, s_actor_sets, NULL);
    }
    return rc;
}

/* "ID.PORT" of a link end. */
static int s_end(s_parse_t *s, const s_node_t *v, const char *field,
                 const char **id, const char **port)
{
    const char *str = NULL;
    char buf[TM_ID_MAX + TM_MODEL_NAME_MAX + 2];
    int rc = s_get_str(s, v, field, &str);
    if (rc != 0) {
        return rc;
    }
    const char *dot = strchr(str, '.');
    size_t n = dot != NULL ? (size_t)(dot - str) : 0;
    if (dot == NULL || n == 0 || n > TM_ID_MAX || strlen(str) >= sizeof buf) {
        return s_err_at(s, v->line, v->col, TM_ERR_PLANT,
                        "%s: expected ACTOR.PORT, got '%.80s'", field, str);
    }
    memcpy(buf, str, n);
    buf[n] = '\0';
    if (!tm_text_id_valid(buf) || !s_port_name(dot + 1)) {
        return s_err_at(s, v->line, v->col, TM_ERR_PLANT,
                        "%s: bad %s in '%.80s'", field,
                        tm_text_id_valid(buf) ? "port name" : "actor id", str);
    }
    *id = tm_plant_strdup(s->p, buf, n);
    *port = s_dup(s, dot + 1);
    return s_nomem(s, *id == NULL || *port == NULL ? TM_ERR_NOMEM : 0);
}

static int s_link_key(s_parse_t *s, int key, const s_node_t *v,
                      const char *field, void *arg)
{
    tm_plant_link_t *l = arg;
    if (key == 0) {
        l->pos[TM_PLANT_L_FROM] = s_pos(v);
        return s_end(s, v, field, &l->src, &l->output);
    }
    if (key == 1) {
        l->pos[TM_PLANT_L_TO] = s_pos(v);
        return s_end(s, v, field, &l->dst, &l->input);
    }
    uint64_t d = 1;
    int rc = s_get_uint(s, v, field, 1, TM_PLANT_DELAY_MAX, &d);
    l->delay = (uint32_t)d;
    l->pos[TM_PLANT_L_DELAY] = s_pos(v);
    return rc;
}

static int s_link(s_parse_t *s, const s_node_t *m, size_t i)
{
    static const char *const keys[] = {"from", "to", "delay"};
    char field[48];
    tm_plant_link_t l;
    memset(&l, 0, sizeof l);
    l.delay = 1;
    l.index = (uint32_t)i;
    l.pos[TM_PLANT_L_ITEM] = s_pos(m);
    snprintf(field, sizeof field, "links[%zu]", i);
    int rc = s_map(s, m, field, keys, 3, s_link_key, &l);
    if (rc == 0 && (l.src == NULL || l.dst == NULL)) {
        return s_err_at(s, m->line, m->col, TM_ERR_PLANT, "%s: missing '%s'",
                        field, l.src == NULL ? "from" : "to");
    }
    if (rc == 0) {
        rc = tm_plant_add_link(s->p, &l);
        if (rc == TM_ERR_TOO_BIG) {
            return s_err_at(s, m->line, m->col, rc,
                            "%s: more than %u links in one plant", field,
                            TM_PLANT_LINKS_MAX);
        }
        rc = s_nomem(s, rc);
    }
    return rc;
}

static int s_top_key(s_parse_t *s, int key, const s_node_t *v,
                     const char *field, void *arg)
{
    *(bool *)arg |= key == 1; /* actors given */
    if (key == 0) {
        uint64_t version = 0;
        return s_get_uint(s, v, field, 1, 1, &version);
    }
    int rc = s_expect(s, v, S_SEQ, field);
    size_t i = 0;
    for (const s_node_t *e = s_at(s, v->first); rc == 0 && e != NULL;
         e = s_at(s, e->next), i++) {
        rc = key == 1 ? s_actor(s, e, i) : s_link(s, e, i);
    }
    return rc;
}

static int s_walk(s_parse_t *s)
{
    static const char *const keys[] = {"plant", "actors", "links"};
    const s_node_t *root = s->n_nodes > 0 ? &s->nodes[0] : NULL;
    if (root == NULL || root->type != S_MAP) {
        return s_err_at(s, root ? root->line : 1, root ? root->col : 1,
                        TM_ERR_PLANT,
                        "expected a mapping with 'actors' and 'links'%s",
                        root == NULL ? " (the file is empty)" : "");
    }
    bool actors = false;
    int rc = s_map(s, root, "", keys, 3, s_top_key, &actors);
    if (rc == 0 && !actors) {
        /* a plant is the whole mesh: no actors would kill every one */
        rc = s_err_at(s, root->line, root->col, TM_ERR_PLANT,
                      "missing 'actors' (the plant lists every actor of the "
                      "mesh; write 'actors: []' for an empty mesh)");
    }
    return rc;
}

int tm_plant_parse(tm_plant_t *p, const char *file, const char *text,
                   size_t len, tm_plant_format_t format, char *err,
                   size_t errlen)
{
    s_parse_t s;
    memset(&s, 0, sizeof s);
    tm_plant_free(p);
    tm_plant_init(p, file);
    s.p = p;
    s.err = err;
    s.errlen = errlen;
    if (format == TM_PLANT_AUTO) {
        size_t k = strspn(text, " \t\r\n");
        format = tm_plant_format_of(file);
        if (format == TM_PLANT_YAML && k < len && text[k] == '{' &&
            (file == NULL || strstr(file, ".y") == NULL)) {
            format = TM_PLANT_JSON; /* no telling extension: by content */
        }
    }
    s.json = format == TM_PLANT_JSON;
    int rc = len > TM_PLANT_TEXT_MAX
                 ? s_err_at(&s, 1, 1, TM_ERR_TOO_BIG, "file over %u bytes",
                            TM_PLANT_TEXT_MAX)
                 : 0;
    if (rc == 0 && s.json) {
        rc = s_json_check(&s, text, len);
    }
    if (rc == 0) {
        rc = s_tree(&s, text, len);
    }
    if (rc == 0) {
        rc = s_walk(&s);
    }
    free(s.nodes);
    free(s.text);
    if (rc == 0) {
        rc = tm_plant_check(p, err, errlen);
    }
    if (rc != 0) {
        tm_plant_free(p);
    }
    return rc;
}

int tm_plant_load(tm_plant_t *p, const char *path, tm_plant_format_t format,
                  char *err, size_t errlen)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read plant file %s: %s", path,
                 strerror(errno));
        return errno == ENOENT ? TM_ERR_NOT_FOUND : TM_ERR_IO;
    }
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = cap > (size_t)TM_PLANT_TEXT_MAX + 65536
                           ? NULL
                           : realloc(buf, cap + 1);
            if (nb == NULL) {
                rc = TM_ERR_TOO_BIG;
                snprintf(err, errlen, "%s: file over %u bytes", path,
                         TM_PLANT_TEXT_MAX);
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        rc = TM_ERR_IO;
        snprintf(err, errlen, "cannot read plant file %s", path);
    }
    if (!in) {
        fclose(f);
    }
    if (rc == 0) {
        buf[len] = '\0';
        rc = tm_plant_parse(p, in ? "stdin" : path, buf, len, format, err,
                            errlen);
    }
    free(buf);
    return rc;
}
