/* tm_plant: the plant structure, its whole-plant checks and its writer. */
#include "tm_plant.h"

#include "tm_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_BLOCK 65536u /* bytes of an arena block */

struct tm_plant_arena {
    tm_plant_arena_t *next;
    size_t used, cap;
    char data[];
};

void tm_plant_init(tm_plant_t *p, const char *file)
{
    memset(p, 0, sizeof *p);
    snprintf(p->file, sizeof p->file, "%s", file != NULL ? file : "plant");
}

void tm_plant_free(tm_plant_t *p)
{
    if (p == NULL) {
        return;
    }
    while (p->arena != NULL) {
        tm_plant_arena_t *next = p->arena->next;
        free(p->arena);
        p->arena = next;
    }
    free(p->actors);
    free(p->links);
    free(p->values);
    char file[sizeof p->file];
    memcpy(file, p->file, sizeof file);
    tm_plant_init(p, file);
}

const char *tm_plant_strdup(tm_plant_t *p, const char *s, size_t len)
{
    tm_plant_arena_t *a = p->arena;
    if (a == NULL || a->cap - a->used < len + 1) {
        size_t cap = len + 1 > S_BLOCK ? len + 1 : S_BLOCK;
        a = malloc(sizeof *a + cap);
        if (a == NULL) {
            return NULL;
        }
        a->next = p->arena;
        a->used = 0;
        a->cap = cap;
        p->arena = a;
    }
    char *d = a->data + a->used;
    memcpy(d, s, len);
    d[len] = '\0';
    a->used += len + 1;
    return d;
}

/* Room for one more element of size `size` in *v (n used, *cap). */
static int s_grow(void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) {
        return 0;
    }
    size_t c = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, c * size);
    if (nv == NULL) {
        return TM_ERR_NOMEM;
    }
    *v = nv;
    *cap = c;
    return 0;
}

int tm_plant_add_actor(tm_plant_t *p, const tm_plant_actor_t *a)
{
    if (p->n_actors >= TM_PLANT_ACTORS_MAX) {
        return TM_ERR_TOO_BIG;
    }
    int rc = s_grow((void **)&p->actors, p->n_actors, &p->cap_actors,
                    sizeof *p->actors);
    if (rc == 0) {
        p->actors[p->n_actors] = *a;
        for (int s = 0; s < TM_PLANT_NSETS; s++) {
            p->actors[p->n_actors].first[s] = (uint32_t)p->n_values;
            p->actors[p->n_actors].count[s] = 0;
        }
        p->n_actors++;
    }
    return rc;
}

int tm_plant_add_value(tm_plant_t *p, tm_plant_set_t set, const char *name,
                       double value, tm_plant_pos_t pos)
{
    if (p->n_actors == 0 || (unsigned)set >= TM_PLANT_NSETS ||
        p->n_values >= UINT32_MAX) {
        return TM_ERR_INVAL;
    }
    tm_plant_actor_t *a = &p->actors[p->n_actors - 1];
    if (a->count[set] == 0) {
        a->first[set] = (uint32_t)p->n_values;
    } else if (a->first[set] + a->count[set] != p->n_values) {
        return TM_ERR_INVAL; /* a set's values are contiguous */
    }
    int rc = s_grow((void **)&p->values, p->n_values, &p->cap_values,
                    sizeof *p->values);
    if (rc == 0) {
        tm_plant_value_t *v = &p->values[p->n_values++];
        v->name = name;
        v->value = value;
        v->pos = pos;
        a->count[set]++;
    }
    return rc;
}

int tm_plant_add_link(tm_plant_t *p, const tm_plant_link_t *l)
{
    if (p->n_links >= TM_PLANT_LINKS_MAX) {
        return TM_ERR_TOO_BIG;
    }
    int rc =
        s_grow((void **)&p->links, p->n_links, &p->cap_links, sizeof *p->links);
    if (rc == 0) {
        p->links[p->n_links++] = *l;
    }
    return rc;
}

const tm_plant_value_t *tm_plant_values(const tm_plant_t *p,
                                        const tm_plant_actor_t *a,
                                        tm_plant_set_t set, uint32_t *n)
{
    *n = a->count[set];
    return *n > 0 ? &p->values[a->first[set]] : NULL;
}

const char *tm_plant_set_name(tm_plant_set_t set)
{
    static const char *const names[] = {"params", "inputs", "state", "outputs"};
    return (unsigned)set < TM_PLANT_NSETS ? names[set] : "?";
}

const char *tm_plant_where(const tm_plant_t *p, tm_plant_pos_t pos, char *buf,
                           size_t cap)
{
    if (pos.line > 0) {
        snprintf(buf, cap, "%s:%u:%u: ", p->file, pos.line, pos.col);
    } else {
        snprintf(buf, cap, "%s: ", p->file);
    }
    return buf;
}

tm_plant_format_t tm_plant_format_of(const char *path)
{
    size_t n = path != NULL ? strlen(path) : 0;
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) {
        return TM_PLANT_JSON;
    }
    return TM_PLANT_YAML;
}

/* ---- whole-plant checks ------------------------------------------------- */

static int s_fail(const tm_plant_t *p, tm_plant_pos_t pos, char *err,
                  size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int s_fail(const tm_plant_t *p, tm_plant_pos_t pos, char *err,
                  size_t errlen, const char *fmt, ...)
{
    char where[TM_PLANT_FILE_MAX + 48];
    tm_plant_where(p, pos, where, sizeof where);
    size_t off = (size_t)snprintf(err, errlen, "%s", where);
    if (off < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + off, errlen - off, fmt, ap);
        va_end(ap);
    }
    return TM_ERR_PLANT;
}

/* Sorting by id with the index kept, for duplicates and lookups. */
typedef struct {
    const char *key;
    size_t i;
} s_sorted_t;

static int s_sorted_cmp(const void *a, const void *b)
{
    const s_sorted_t *x = a;
    const s_sorted_t *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

static bool s_has_id(const s_sorted_t *ids, size_t n, const char *id)
{
    size_t lo = 0;
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ids[mid].key, id);
        if (c == 0) {
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static int s_check_ids(const tm_plant_t *p, s_sorted_t *ids, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < p->n_actors; i++) {
        ids[i].key = p->actors[i].id;
        ids[i].i = i;
    }
    if (p->n_actors > 1) {
        qsort(ids, p->n_actors, sizeof *ids, s_sorted_cmp);
    }
    for (size_t i = 1; i < p->n_actors; i++) {
        if (strcmp(ids[i - 1].key, ids[i].key) == 0) {
            const tm_plant_actor_t *a = &p->actors[ids[i].i];
            const tm_plant_actor_t *first = &p->actors[ids[i - 1].i];
            return s_fail(p, a->pos[TM_PLANT_F_ID], err, errlen,
                          "actors[%zu].id: duplicate id '%s' (first at line "
                          "%u, actors[%zu])",
                          ids[i].i, a->id, first->pos[TM_PLANT_F_ID].line,
                          ids[i - 1].i);
        }
    }
    return 0;
}

/* The key "src.output>dst.input" of a link for sorting. */
static char *s_link_key(const tm_plant_link_t *l)
{
    size_t n = strlen(l->src) + strlen(l->output) + strlen(l->dst) +
               strlen(l->input) + 3;
    char *k = malloc(n + 1);
    if (k != NULL) {
        snprintf(k, n + 1, "%s.%s>%s.%s", l->src, l->output, l->dst, l->input);
    }
    return k;
}

static int s_check_links(const tm_plant_t *p, const s_sorted_t *ids, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < p->n_links; i++) {
        const tm_plant_link_t *l = &p->links[i];
        if (!s_has_id(ids, p->n_actors, l->src)) {
            return s_fail(p, l->pos[TM_PLANT_L_FROM], err, errlen,
                          "links[%zu].from: actor '%s' is not in the plant "
                          "(a plant file lists every actor of the mesh)",
                          i, l->src);
        }
        if (!s_has_id(ids, p->n_actors, l->dst)) {
            return s_fail(p, l->pos[TM_PLANT_L_TO], err, errlen,
                          "links[%zu].to: actor '%s' is not in the plant "
                          "(a plant file lists every actor of the mesh)",
                          i, l->dst);
        }
    }
    s_sorted_t *keys = calloc(p->n_links + 1, sizeof *keys);
    int rc = keys == NULL ? TM_ERR_NOMEM : 0;
    size_t made = 0;
    for (; rc == 0 && made < p->n_links; made++) {
        keys[made].key = s_link_key(&p->links[made]);
        keys[made].i = made;
        rc = keys[made].key == NULL ? TM_ERR_NOMEM : 0;
    }
    if (rc == 0 && p->n_links > 1) {
        qsort(keys, p->n_links, sizeof *keys, s_sorted_cmp);
    }
    for (size_t i = 1; rc == 0 && i < p->n_links; i++) {
        if (strcmp(keys[i - 1].key, keys[i].key) == 0) {
            const tm_plant_link_t *l = &p->links[keys[i].i];
            rc = s_fail(p, l->pos[TM_PLANT_L_ITEM], err, errlen,
                        "links[%zu]: link %s.%s -> %s.%s is given twice (first "
                        "at line %u, links[%zu])",
                        keys[i].i, l->src, l->output, l->dst, l->input,
                        p->links[keys[i - 1].i].pos[TM_PLANT_L_ITEM].line,
                        keys[i - 1].i);
        }
    }
    for (size_t i = 0; keys != NULL && i < made; i++) {
        free((char *)keys[i].key);
    }
    free(keys);
    if (rc == TM_ERR_NOMEM) {
        snprintf(err, errlen, "%s: out of memory", p->file);
    }
    return rc;
}

int tm_plant_check(const tm_plant_t *p, char *err, size_t errlen)
{
    s_sorted_t *ids = calloc(p->n_actors + 1, sizeof *ids);
    if (ids == NULL) {
        snprintf(err, errlen, "%s: out of memory", p->file);
        return TM_ERR_NOMEM;
    }
    int rc = s_check_ids(p, ids, err, errlen);
    if (rc == 0) {
        rc = s_check_links(p, ids, err, errlen);
    }
    free(ids);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

const char *tm_plant_fmt_double(double v, char buf[32])
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (back == v && signbit(back) == signbit(v)) {
            break;
        }
    }
    /* no exponent for numbers that need none: 20, not 2e+01 */
    double mag = fabs(v);
    if (mag >= 1 && mag < 1e17) {
        int digits = (int)floor(log10(mag)) + 1;
        prec = digits > prec ? digits : prec;
    }
    snprintf(buf, 32, "%.*g", prec, v);
    return buf;
}

/* A string that YAML reads as a string when unquoted: letters, digits,
 * '_', '-', '.', '@', not a number and not a YAML 1.1 word (yes, off...). */
static bool s_plain_ok(const char *s)
{
    static const char *const words[] = {"null", "true", "false", "yes", "no",
                                        "on",   "off",  "y",     "n",   "~"};
    double d = 0;
    if (s[0] == '\0' || tm_text_parse_f64(s, &d) != TM_ERR_INVAL ||
        s[0] == '-' || s[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(s, words[i]) == 0) {
            return false;
        }
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_-.@") == strlen(s);
}

static void s_put_str(FILE *out, const char *s, bool json)
{
    if (!json && s_plain_ok(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *c = s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            fputc('\\', out);
        }
        fputc(*c, out);
    }
    fputc('"', out);
}

static void s_put_values(FILE *out, const tm_plant_t *p,
                         const tm_plant_actor_t *a, tm_plant_set_t set,
                         bool json)
{
    uint32_t n = 0;
    const tm_plant_value_t *v = tm_plant_values(p, a, set, &n);
    char num[32];
    if (n == 0) {
        return;
    }
    fprintf(out, json ? ", \"%s\": {" : "    %s: {", tm_plant_set_name(set));
    for (uint32_t i = 0; i < n; i++) {
        if (json) {
            fprintf(out, "%s\"%s\": %s", i ? ", " : "", v[i].name,
                    tm_plant_fmt_double(v[i].value, num));
        } else {
            fprintf(out, "%s%s: %s", i ? ", " : "", v[i].name,
                    tm_plant_fmt_double(v[i].value, num));
        }
    }
    fprintf(out, json ? "}" : "}\n");
}

static void s_put_field(FILE *out, const char *key, const char *s, bool json)
{
    if (s == NULL) {
        return;
    }
    if (json) {
        fprintf(out, ", \"%s\": ", key);
    } else {
        fprintf(out, "    %s: ", key);
    }
    s_put_str(out, s, json);
    if (!json) {
        fputc('\n', out);
    }
}

static void s_put_actor(FILE *out, const tm_plant_t *p,
                        const tm_plant_actor_t *a, bool json)
{
    const char *fid =
        a->fidelity >= 0 ? tm_fidelity_name((tm_fidelity_t)a->fidelity) : NULL;
    if (json) {
        fprintf(out, "    {\"id\": ");
        s_put_str(out, a->id, json);
    } else {
        fprintf(out, "  - id: ");
        s_put_str(out, a->id, json);
        fputc('\n', out);
    }
    s_put_field(out, "model", a->model, json);
    s_put_field(out, "version", a->version, json);
    s_put_field(out, "fidelity", fid, json);
    if (a->period > 0) {
        fprintf(out, json ? ", \"period\": %u" : "    period: %u\n", a->period);
    }
    s_put_field(out, "node", a->node, json);
    s_put_field(out, "site", a->site, json);
    for (int s = 0; s < TM_PLANT_NSETS; s++) {
        s_put_values(out, p, a, (tm_plant_set_t)s, json);
    }
    if (json) {
        fputc('}', out);
    }
}

static void s_put_link(FILE *out, const tm_plant_link_t *l, bool json)
{
    const char *q = json ? "\"" : "";
    fprintf(out, "%s{%sfrom%s: %s%s.%s%s, %sto%s: %s%s.%s%s",
            json ? "    " : "  - ", q, q, q, l->src, l->output, q, q, q, q,
            l->dst, l->input, q);
    if (l->delay != 1) {
        fprintf(out, ", %sdelay%s: %u", q, q, l->delay);
    }
    fputc('}', out);
}

int tm_plant_write(const tm_plant_t *p, FILE *out, tm_plant_format_t format)
{
    bool json = format == TM_PLANT_JSON;
    if (json) {
        fprintf(out, "{\n  \"plant\": 1,\n  \"actors\": [\n");
    } else {
        fprintf(out, "# twinmesh plant (docs/plant.md)\nplant: 1\n");
        fprintf(out, p->n_actors ? "actors:\n" : "actors: []\n");
    }
    for (size_t i = 0; i < p->n_actors; i++) {
        s_put_actor(out, p, &p->actors[i], json);
        if (json) {
            fprintf(out, "%s\n", i + 1 < p->n_actors ? "," : "");
        }
    }
    if (json) {
        fprintf(out, "  ],\n  \"links\": [\n");
    } else {
        fprintf(out, p->n_links ? "links:\n" : "links: []\n");
    }
    for (size_t i = 0; i < p->n_links; i++) {
        s_put_link(out, &p->links[i], json);
        fprintf(out, "%s\n", json && i + 1 < p->n_links ? "," : "");
    }
    if (json) {
        fprintf(out, "  ]\n}\n");
    }
    fflush(out);
    return ferror(out) ? TM_ERR_IO : 0;
}
