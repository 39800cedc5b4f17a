/* tm_render: the console's output - reply bodies as text or JSON.
 *
 * A reply body is MessagePack; it is converted once to a jansson value and
 * then either printed as JSON (--json: one document per reply, one line per
 * stream item) or rendered as text for the command that produced it. Long
 * lists arrive in parts (more = true); both outputs stream them: the text
 * table continues, the JSON array is closed by the last part.
 */
#ifndef TM_RENDER_H_INCLUDED
#define TM_RENDER_H_INCLUDED

#include "tm_cmd.h" /* the command table */
#include "tm_plant.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* MessagePack bytes to a new jansson value (NULL bytes: json null). Maps
 * with non-string keys get the key printed as text; non-finite doubles
 * become null. Errors: TM_ERR_WIRE_* (bytes not valid MessagePack),
 * TM_ERR_NOMEM. */
int tm_render_to_json(const uint8_t *body, size_t len, json_t **out);

typedef struct {
    tm_cmd_kind_t kind;
    bool json;
    bool tty; /* stdout is a terminal (top redraws the screen) */
    FILE *out;
    size_t parts;        /* replies rendered so far */
    size_t rows;         /* list rows printed so far */
    int widths[8];       /* column widths chosen at the first part */
    bool array_open;     /* JSON: "[" printed for a list in parts */
    bool progress_shown; /* a progress line is on stderr */
} tm_render_t;

void tm_render_init(tm_render_t *r, tm_cmd_kind_t kind, bool json, bool tty,
                    FILE *out);

/* Render one successful reply (or stream item) with its message and body
 * (may be NULL) with the command's renderer (the table's renderer column:
 * tmi_show_<renderer>). more: further parts or items follow. Progress
 * items of a long command (a run) go to stderr on a terminal, and never
 * into JSON. */
void tm_render_reply(tm_render_t *r, const char *message, json_t *body,
                     bool more);

/* Clear a progress line from stderr (before an error is printed). */
void tm_render_clear_progress(tm_render_t *r);

/* The renderers, one per renderer named in the table. */
#define TM_RENDER_X_DECL(kind, h, rn, name, al, fl, args, opts, usage, sum)    \
    void tmi_show_##rn(tm_render_t *r, const char *message, json_t *body,      \
                       bool more);
TM_CMD_TABLE(TM_RENDER_X_DECL)
#undef TM_RENDER_X_DECL

/* Print the command table (help) or one command's usage, locally. */
void tm_render_help(FILE *out, const char *topic, bool json);

/* Write a plant file to path (YAML, or JSON when it ends in .json; the
 * file is replaced only when whole), or to stdout when path is "" (YAML,
 * JSON with json). Errors: TM_ERR_IO with a message in err. */
int tm_render_plant(const tm_plant_t *plant, const char *path, bool json,
                    char *err, size_t errlen);

/* Format a double for text output ("%.6g", "-" for null). */
const char *tm_render_num(json_t *v, char *buf, size_t cap);

#endif
