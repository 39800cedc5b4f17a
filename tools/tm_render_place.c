/* tm_render_place: the text of place - each node's load and where the
 * next spawn goes, or where one actor runs and why. */
#include "tm_render.h"

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

/* "0.42 ms" or "37 us" of microseconds, "-" when not measured. */
static const char *s_ms(long long us, char *buf, size_t cap)
{
    if (us <= 0) {
        snprintf(buf, cap, "-");
    } else if (us < 100) {
        snprintf(buf, cap, "%lld us", us);
    } else {
        snprintf(buf, cap, "%.2f ms", (double)us / 1000.0);
    }
    return buf;
}

static void s_overview(FILE *out, const char *message, json_t *body)
{
    size_t i;
    json_t *n;
    char step[32];
    char load[32];
    bool by_time = strcmp(s_str(body, "score"), "step_us") == 0;
    fprintf(out, "%-16s %-16s %-8s %10s %8s %12s %12s\n", "NAME", "SITE",
            "STATE", "ACTORS", "PENDING", "STEP/TICK",
            by_time ? "LOAD (us)" : "LOAD");
    json_array_foreach(json_object_get(body, "nodes"), i, n)
    {
        json_t *l = json_object_get(n, "load");
        if (json_is_number(l)) {
            snprintf(load, sizeof load, "%.*f", by_time ? 1 : 0,
                     json_number_value(l));
        } else {
            snprintf(load, sizeof load, "-");
        }
        fprintf(out, "%-16s %-16s %-8s %10lld %8lld %12s %12s\n",
                s_str(n, "name"), s_str(n, "site"), s_str(n, "state"),
                s_int(n, "actors"), s_int(n, "pending"),
                s_ms(s_int(n, "step_us"), step, sizeof step), load);
    }
    fprintf(out, "\nnext spawn without --node:\n");
    json_array_foreach(json_object_get(body, "next"), i, n)
    {
        json_t *site = json_object_get(n, "site");
        fprintf(out, "  %-22s -> %-16s %s\n",
                json_is_string(site) ? json_string_value(site) : "(any site)",
                s_str(n, "node"), s_str(n, "why"));
    }
    if (message != NULL && message[0] != '\0') {
        fprintf(out, "%s\n", message);
    }
}

void tmi_show_place(tm_render_t *r, const char *message, json_t *body,
                    bool more)
{
    (void)more;
    if (json_object_get(body, "nodes") != NULL) {
        s_overview(r->out, message, body);
        return;
    }
    fprintf(r->out, "%s\n", message != NULL ? message : "");
}
