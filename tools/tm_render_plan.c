/* tm_render_plan: the text of apply and diff (a plan of changes) and of
 * rollout status (a change in stages). */
#include "tm_render.h"

#include "tm_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long s_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* "pump@1.0.0 (high)", with ", period N" when not 1. */
static const char *s_model(json_t *m, char *buf, size_t cap)
{
    long long period = s_int(m, "period");
    int w = snprintf(buf, cap, "%s@%s (%s)", s_str(m, "model"),
                     s_str(m, "version"), s_str(m, "fidelity"));
    if (period > 1 && w > 0 && (size_t)w < cap) {
        snprintf(buf + w, cap - (size_t)w, " every %lld ticks", period);
    }
    return buf;
}

static void s_more(FILE *out, json_t *counts, const char *key, json_t *list,
                   const char *what)
{
    long long total = s_int(counts, key);
    long long shown = (long long)json_array_size(list);
    if (total > shown) {
        fprintf(out, "  ... and %lld more %s (--limit N lists more)\n",
                total - shown, what);
    }
}

static void s_actors(FILE *out, json_t *nd, json_t *counts)
{
    size_t i;
    json_t *a;
    char m1[160];
    char m2[160];
    json_array_foreach(json_object_get(nd, "spawn"), i, a)
    {
        fprintf(out, "  + spawn   %s  %s\n", s_str(a, "id"),
                s_model(a, m1, sizeof m1));
    }
    s_more(out, counts, "spawn", json_object_get(nd, "spawn"), "spawns");
    json_array_foreach(json_object_get(nd, "kill"), i, a)
    {
        fprintf(out, "  - kill    %s\n", json_string_value(a));
    }
    s_more(out, counts, "kill", json_object_get(nd, "kill"), "kills");
    json_array_foreach(json_object_get(nd, "replace"), i, a)
    {
        fprintf(out, "  ~ replace %s  %s -> %s\n", s_str(a, "id"),
                s_model(json_object_get(a, "from"), m1, sizeof m1),
                s_model(json_object_get(a, "to"), m2, sizeof m2));
    }
    s_more(out, counts, "replace", json_object_get(nd, "replace"),
           "replacements");
    json_array_foreach(json_object_get(nd, "model"), i, a)
    {
        fprintf(out, "  ~ model   %s  %s -> %s\n", s_str(a, "id"),
                s_model(json_object_get(a, "from"), m1, sizeof m1),
                s_model(json_object_get(a, "to"), m2, sizeof m2));
    }
    s_more(out, counts, "model", json_object_get(nd, "model"), "model changes");
}

static void s_links(FILE *out, json_t *list, const char *sign, const char *verb)
{
    size_t i;
    json_t *l;
    json_array_foreach(list, i, l)
    {
        long long delay = s_int(l, "delay");
        fprintf(out, "  %s %-7s %s -> %s", sign, verb, s_str(l, "from"),
                s_str(l, "to"));
        if (delay > 1) {
            fprintf(out, " (delay %lld)", delay);
        }
        fputc('\n', out);
    }
}

void tmi_show_plan(tm_render_t *r, const char *message, json_t *body, bool more)
{
    (void)more;
    FILE *out = r->out;
    json_t *counts = json_object_get(body, "counts");
    size_t n;
    json_t *nd;
    char num[2][64];
    json_array_foreach(json_object_get(body, "nodes"), n, nd)
    {
        size_t i;
        json_t *s;
        const char *lists[] = {"spawn", "kill", "replace", "model",
                               "set",   "link", "unlink"};
        size_t items = 0;
        for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
            items += json_array_size(json_object_get(nd, lists[k]));
        }
        if (items == 0) {
            continue;
        }
        /* each node's own counts (replies of a mesh), else the totals */
        json_t *nc = json_object_get(nd, "counts");
        counts = nc != NULL ? nc : json_object_get(body, "counts");
        fprintf(out, "node %s\n", s_str(nd, "node"));
        s_actors(out, nd, counts);
        json_array_foreach(json_object_get(nd, "set"), i, s)
        {
            fprintf(out, "  ~ set     %s.%s = %s (%s, was %s)\n",
                    s_str(s, "id"), s_str(s, "name"),
                    tm_render_num(json_object_get(s, "value"), num[0], 64),
                    s_str(s, "kind"),
                    tm_render_num(json_object_get(s, "old"), num[1], 64));
        }
        s_more(out, counts, "set", json_object_get(nd, "set"), "values");
        s_links(out, json_object_get(nd, "link"), "+", "link");
        s_more(out, counts, "link", json_object_get(nd, "link"), "links");
        s_links(out, json_object_get(nd, "unlink"), "-", "unlink");
        s_more(out, counts, "unlink", json_object_get(nd, "unlink"),
               "link removals");
    }
    if (message != NULL && message[0] != '\0') {
        fprintf(out, "%s\n", message);
    }
}

int tm_render_plant(const tm_plant_t *plant, const char *path, bool json,
                    char *err, size_t errlen)
{
    char tmp[1100];
    if (path[0] == '\0') {
        return tm_plant_write(plant, stdout,
                              json ? TM_PLANT_JSON : TM_PLANT_YAML);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = f == NULL ? TM_ERR_IO
                       : tm_plant_write(plant, f, tm_plant_format_of(path));
    if (f != NULL && fclose(f) != 0) {
        rc = TM_ERR_IO;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = TM_ERR_IO;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %.900s: %s", path, strerror(errno));
        remove(tmp);
    }
    return rc;
}

static void s_num(char *buf, size_t cap, json_t *v, const char *none)
{
    if (json_is_number(v)) {
        snprintf(buf, cap, "%.4g", json_number_value(v));
    } else {
        snprintf(buf, cap, "%s", none);
    }
}

void tmi_show_rollout(tm_render_t *r, const char *message, json_t *body,
                      bool more)
{
    (void)more;
    FILE *out = r->out;
    size_t i;
    json_t *ro;
    /* a node of a mesh: every node's rows, each naming its node, and a
     * message that says how many nodes answered */
    bool mesh = message != NULL && message[0] != '\0';
    if (json_array_size(body) == 0) {
        if (mesh) {
            fprintf(out, "no rollouts (%s)\n", message);
        } else {
            fprintf(out, "no rollouts on this node\n");
        }
        return;
    }
    if (mesh) {
        fprintf(out, "%-12s ", "NODE");
    }
    fprintf(out, "%-12s %-17s %-11s %-9s %-10s %-19s %s\n", "FAMILY",
            "VERSIONS", "STAGE", "CANARY", "TICKS", "RMSE / MAPE %",
            "DECISION");
    json_array_foreach(body, i, ro)
    {
        char versions[80], canary[48], ticks[48], score[96], rb[16], mb[16];
        char rs[16], ms[16];
        snprintf(versions, sizeof versions, "%s -> %s", s_str(ro, "from"),
                 s_str(ro, "to"));
        if (json_is_string(json_object_get(ro, "actor"))) {
            /* a parameter set's rollout: its actor is the canary */
            snprintf(canary, sizeof canary, "%s", s_str(ro, "actor"));
        } else {
            snprintf(canary, sizeof canary, "%lld (%lld%%)",
                     s_int(ro, "canary"), s_int(ro, "canary_pct"));
        }
        snprintf(ticks, sizeof ticks, "%lld/%lld", s_int(ro, "stage_ticks"),
                 s_int(ro, "shadow"));
        s_num(rs, sizeof rs, json_object_get(ro, "rmse"), "-");
        s_num(ms, sizeof ms, json_object_get(ro, "mape"), "-");
        s_num(rb, sizeof rb, json_object_get(ro, "budget_rmse"), "any");
        s_num(mb, sizeof mb, json_object_get(ro, "budget_mape"), "any");
        snprintf(score, sizeof score, "%s/%s of %s/%s", rs, ms, rb, mb);
        if (mesh) {
            fprintf(out, "%-12s ", s_str(ro, "node"));
        }
        fprintf(out, "%-12s %-17s %-11s %-9s %-10s %-19s %s\n",
                s_str(ro, "family"), versions, s_str(ro, "stage"), canary,
                ticks, score, s_str(ro, "decision"));
    }
    if (mesh) {
        fprintf(out, "(%s)\n", message);
    }
}
