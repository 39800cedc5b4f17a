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

int tm_plant_fail(const tm_plant_t *p, tm_plant_pos_t pos, int rc, char *err,
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
    return rc;
}

#define s_fail(p, pos, err, errlen, ...)                                       \
    tm_plant_fail(p, pos, TM_ERR_PLANT, err, errlen, __VA_ARGS__)

/* A set of indices (of actors or links) by a hash of their strings:
 * open addressing, linear probing, sized for its n entries. */
typedef struct {
    uint32_t *slot; /* index + 1; 0: empty */
    size_t mask;
} s_set_t;

static uint64_t s_hash(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    }
    return (h ^ 0xff) * 0x100000001b3ull; /* the end of a string counts */
}

static uint64_t s_hash_link(const tm_plant_link_t *l)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = s_hash(s_hash(s_hash(s_hash(h, l->src), l->output), l->dst), l->input);
    return h ^ (h >> 29);
}

static uint64_t s_hash_id(const char *id)
{
    uint64_t h = s_hash(0xcbf29ce484222325ull, id);
    return h ^ (h >> 29);
}

static int s_set_init(s_set_t *set, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n) {
        cap *= 2;
    }
    set->slot = calloc(cap, sizeof *set->slot);
    set->mask = cap - 1;
    return set->slot == NULL ? TM_ERR_NOMEM : 0;
}

static bool s_same_link(const tm_plant_link_t *a, const tm_plant_link_t *b)
{
    return strcmp(a->src, b->src) == 0 && strcmp(a->output, b->output) == 0 &&
           strcmp(a->dst, b->dst) == 0 && strcmp(a->input, b->input) == 0;
}

/* The actor of id, or -1. */
static long s_actor_of(const tm_plant_t *p, const s_set_t *ids, const char *id)
{
    for (size_t k = s_hash_id(id) & ids->mask; ids->slot[k] != 0;
         k = (k + 1) & ids->mask) {
        if (strcmp(p->actors[ids->slot[k] - 1].id, id) == 0) {
            return (long)ids->slot[k] - 1;
        }
    }
    return -1;
}

static int s_check_ids(const tm_plant_t *p, s_set_t *ids, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < p->n_actors; i++) {
        const tm_plant_actor_t *a = &p->actors[i];
        size_t k = s_hash_id(a->id) & ids->mask;
        for (; ids->slot[k] != 0; k = (k + 1) & ids->mask) {
            const tm_plant_actor_t *first = &p->actors[ids->slot[k] - 1];
            if (strcmp(first->id, a->id) == 0) {
                return s_fail(p, a->pos[TM_PLANT_F_ID], err, errlen,
                              "actors[%u].id: duplicate id '%s' (first at "
                              "line %u, actors[%u])",
                              a->index, a->id, first->pos[TM_PLANT_F_ID].line,
                              first->index);
            }
        }
        ids->slot[k] = (uint32_t)i + 1;
    }
    return 0;
}

static int s_check_ends(const tm_plant_t *p, const s_set_t *ids, size_t i,
                        char *err, size_t errlen)
{
    const tm_plant_link_t *l = &p->links[i];
    if (s_actor_of(p, ids, l->src) < 0) {
        return s_fail(p, l->pos[TM_PLANT_L_FROM], err, errlen,
                      "links[%u].from: actor '%s' is not in the plant (a "
                      "plant file lists every actor of the mesh)",
                      l->index, l->src);
    }
    if (s_actor_of(p, ids, l->dst) < 0) {
        return s_fail(p, l->pos[TM_PLANT_L_TO], err, errlen,
                      "links[%u].to: actor '%s' is not in the plant (a "
                      "plant file lists every actor of the mesh)",
                      l->index, l->dst);
    }
    return 0;
}

static int s_check_links(const tm_plant_t *p, const s_set_t *ids,
                         s_set_t *links, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n_links; i++) {
        const tm_plant_link_t *l = &p->links[i];
        int rc = s_check_ends(p, ids, i, err, errlen);
        if (rc != 0) {
            return rc;
        }
        size_t k = s_hash_link(l) & links->mask;
        for (; links->slot[k] != 0; k = (k + 1) & links->mask) {
            const tm_plant_link_t *first = &p->links[links->slot[k] - 1];
            if (s_same_link(first, l)) {
                return s_fail(p, l->pos[TM_PLANT_L_ITEM], err, errlen,
                              "links[%u]: link %s.%s -> %s.%s is given twice "
                              "(first at line %u, links[%u])",
                              l->index, l->src, l->output, l->dst, l->input,
                              first->pos[TM_PLANT_L_ITEM].line, first->index);
            }
        }
        links->slot[k] = (uint32_t)i + 1;
    }
    return 0;
}

int tm_plant_check(const tm_plant_t *p, char *err, size_t errlen)
{
    s_set_t ids = {NULL, 0};
    s_set_t links = {NULL, 0};
    int rc = s_set_init(&ids, p->n_actors);
    if (rc == 0) {
        rc = s_set_init(&links, p->n_links);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: out of memory", p->file);
    }
    if (rc == 0) {
        rc = s_check_ids(p, &ids, err, errlen);
    }
    if (rc == 0) {
        rc = s_check_links(p, &ids, &links, err, errlen);
    }
    free(ids.slot);
    free(links.slot);
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
