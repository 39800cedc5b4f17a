/* tm_plant: plant files - the desired state of a mesh, as a file.
 *
 * A plant file (YAML, or JSON; docs/plant.md) lists actors (id, model
 * family, version, fidelity, period, parameters, held inputs, initial state
 * and outputs, placement) and links (from SRC.OUTPUT to DST.INPUT with a
 * delay). This module holds the format and nothing that needs the model
 * catalog or the runtime, so the console links it:
 *
 *   - tm_plant_parse/load: text -> tm_plant_t, with every syntax and
 *     structure error named by file, line, column and field
 *     ("plant.yaml:12:7: actors[3].period: ...");
 *   - tm_plant_check: what needs the whole plant (duplicate ids, links to
 *     actors not in the file, a link given twice);
 *   - tm_plant_write: tm_plant_t -> YAML or JSON text that parses back to
 *     the same plant, doubles bit for bit;
 *   - tm_plant_place/part: which node each actor runs on, and each node's
 *     part of the plant (tm_plant_place.c); tm_plant_sort;
 *   - tm_plant_chunk_encode/decode: the plant in MessagePack chunks of at
 *     most one message each (PLANT_CHUNK, docs/protocol.md), positions
 *     included, so the node names the file's lines in its own errors.
 *
 * Model-level checks (families, versions, tiers, ports, ranges, placement)
 * are the node's: it has the catalog (nodes/tm_plan).
 */
#ifndef TM_PLANT_H_INCLUDED
#define TM_PLANT_H_INCLUDED

#include "tm_model.h"
#include "tm_text.h"
#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TM_PLANT_ACTORS_MAX  1000000u   /* actors in one plant */
#define TM_PLANT_LINKS_MAX   4000000u   /* links in one plant */
#define TM_PLANT_DELAY_MAX   1000u      /* ticks of a link (TM_RT_DELAY_MAX) */
#define TM_PLANT_FILE_MAX    255u       /* bytes of the file name kept */
#define TM_PLANT_VERSION_MAX 32u        /* bytes of a model version */
#define TM_PLANT_TEXT_MAX    (1u << 30) /* bytes of a plant file */
#define TM_PLANT_DEPTH_MAX   16u        /* nesting in a plant file */

typedef enum {
    TM_PLANT_AUTO = 0, /* by extension (.json, .yaml, .yml), else content */
    TM_PLANT_YAML = 1,
    TM_PLANT_JSON = 2
} tm_plant_format_t;

/* A place in the file (1-based; 0: not known, e.g. a plant made by the
 * node for export). */
typedef struct {
    uint32_t line, col;
} tm_plant_pos_t;

/* A named value of an actor (parameter, held input, state, output). */
typedef struct {
    const char *name; /* port name; owned by the plant */
    double value;     /* finite */
    tm_plant_pos_t pos;
} tm_plant_value_t;

/* The kinds of named values, as the file's keys. */
typedef enum {
    TM_PLANT_PARAMS = 0,  /* "params" */
    TM_PLANT_INPUTS = 1,  /* "inputs": held values of unlinked inputs */
    TM_PLANT_STATE = 2,   /* "state": initial state */
    TM_PLANT_OUTPUTS = 3, /* "outputs": initial outputs */
    TM_PLANT_NSETS = 4
} tm_plant_set_t;

/* Where each scalar field of an actor was (TM_PLANT_F_ITEM: the actor's
 * mapping itself). */
typedef enum {
    TM_PLANT_F_ITEM = 0,
    TM_PLANT_F_ID,
    TM_PLANT_F_MODEL,
    TM_PLANT_F_VERSION,
    TM_PLANT_F_FIDELITY,
    TM_PLANT_F_PERIOD,
    TM_PLANT_F_NODE,
    TM_PLANT_F_SITE,
    TM_PLANT_F_COUNT
} tm_plant_field_t;

typedef struct {
    const char *id;                 /* valid actor id */
    const char *model;              /* family name */
    const char *version;            /* NULL: the highest version */
    const char *node;               /* NULL: the node applying the plant */
    const char *site;               /* NULL: any */
    int fidelity;                   /* tm_fidelity_t, or -1: the highest tier */
    uint32_t period;                /* 0: not given (every tick) */
    uint32_t first[TM_PLANT_NSETS]; /* values[first .. first + count) */
    uint32_t count[TM_PLANT_NSETS];
    tm_plant_pos_t pos[TM_PLANT_F_COUNT];
    uint32_t index; /* its place in the file: actors[index] in messages */
} tm_plant_actor_t;

/* Link field positions. */
typedef enum {
    TM_PLANT_L_ITEM = 0,
    TM_PLANT_L_FROM,
    TM_PLANT_L_TO,
    TM_PLANT_L_DELAY,
    TM_PLANT_L_COUNT
} tm_plant_lfield_t;

typedef struct {
    const char *src, *output, *dst, *input;
    uint32_t delay; /* 1 .. TM_PLANT_DELAY_MAX; 1 when not given */
    tm_plant_pos_t pos[TM_PLANT_L_COUNT];
    uint32_t index; /* its place in the file: links[index] in messages */
} tm_plant_link_t;

typedef struct tm_plant_arena tm_plant_arena_t;

typedef struct {
    char file[TM_PLANT_FILE_MAX + 1]; /* for messages: "plant.yaml" */
    tm_plant_actor_t *actors;
    size_t n_actors, cap_actors;
    tm_plant_link_t *links;
    size_t n_links, cap_links;
    tm_plant_value_t *values;
    size_t n_values, cap_values;
    tm_plant_arena_t *arena; /* the strings */
} tm_plant_t;

void tm_plant_init(tm_plant_t *p, const char *file);
void tm_plant_free(tm_plant_t *p); /* NULL-safe; leaves p empty */

/* The named values of kind `set` of actor a. */
const tm_plant_value_t *tm_plant_values(const tm_plant_t *p,
                                        const tm_plant_actor_t *a,
                                        tm_plant_set_t set, uint32_t *n);

/* "params", "inputs", "state", "outputs". */
const char *tm_plant_set_name(tm_plant_set_t set);

/* Building (parser, decoder, the node's export): copy a string into the
 * plant (NULL on no memory), add an actor or link (copied; its strings
 * must be the plant's), add a value to the last actor's set (sets in
 * order, each set's values one after the other). Errors: TM_ERR_NOMEM,
 * TM_ERR_TOO_BIG (over TM_PLANT_ACTORS_MAX / TM_PLANT_LINKS_MAX). */
const char *tm_plant_strdup(tm_plant_t *p, const char *s, size_t len);
int tm_plant_add_actor(tm_plant_t *p, const tm_plant_actor_t *a);
int tm_plant_add_value(tm_plant_t *p, tm_plant_set_t set, const char *name,
                       double value, tm_plant_pos_t pos);
int tm_plant_add_link(tm_plant_t *p, const tm_plant_link_t *l);

/* Parse a plant file's text. file names it in messages. On error returns
 * TM_ERR_PLANT (syntax, structure, a value of the wrong type or range),
 * TM_ERR_TOO_BIG (over the limits) or TM_ERR_NOMEM, and writes one line
 * "FILE:LINE:COL: FIELD: why" into err; p then holds nothing. Runs
 * tm_plant_check on success. */
int tm_plant_parse(tm_plant_t *p, const char *file, const char *text,
                   size_t len, tm_plant_format_t format, char *err,
                   size_t errlen);

/* Read and parse a file ("-": stdin). Errors: those of tm_plant_parse,
 * TM_ERR_IO / TM_ERR_NOT_FOUND (cannot read it). */
int tm_plant_load(tm_plant_t *p, const char *path, tm_plant_format_t format,
                  char *err, size_t errlen);

/* Checks of the whole plant: ids unique, every link's actors in the
 * plant, no link twice. TM_ERR_PLANT with "FILE:LINE:COL: FIELD: why". */
int tm_plant_check(const tm_plant_t *p, char *err, size_t errlen);

/* The format a path names (.json -> JSON, else YAML). */
tm_plant_format_t tm_plant_format_of(const char *path);

/* Write p as YAML or JSON (never AUTO). Doubles are written in the
 * shortest form that reads back to the same bits. Errors: TM_ERR_IO. */
int tm_plant_write(const tm_plant_t *p, FILE *out, tm_plant_format_t format);

/* The shortest decimal text of a finite v that strtod reads back to the
 * same bits (at most 24 bytes with the NUL). */
const char *tm_plant_fmt_double(double v, char buf[32]);

/* "FILE:LINE:COL: " of a position (or "FILE: " when it is not known) into
 * buf. */
const char *tm_plant_where(const tm_plant_t *p, tm_plant_pos_t pos, char *buf,
                           size_t cap);

/* Write "FILE:LINE:COL: " (tm_plant_where) and the formatted reason into
 * err (errlen bytes); returns rc, for `return tm_plant_fail(...)`. */
int tm_plant_fail(const tm_plant_t *p, tm_plant_pos_t pos, int rc, char *err,
                  size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- placement: a plant over the nodes of a mesh --------------------------
 *
 * Every actor runs on one node: the one its `node` names; else the node it
 * runs on already (actors never move in an apply), when that node is at
 * its `site` or it names none; else the least loaded node at its `site`;
 * else the least loaded node of all. "Least loaded" is the least load +
 * cost, ties by name, and each new actor placed on a node (by any rule)
 * adds that node's cost to its load, so a file's actors spread over the
 * nodes rather than all going to one. The loads come from the caller
 * (nodes/tm_place.h: projected step time per tick, or actor counts);
 * this module only adds. Each node then gets its part of the plant
 * (tm_plant_part): the links into its actors are its own (a link is held
 * by its destination's node). */

typedef struct {
    const char *name; /* the node's name */
    const char *site; /* its site ("" when not known) */
    double load;      /* its load before the plant (0: none) */
    double cost;      /* what each new actor adds to it (<= 0: 1) */
} tm_plant_node_t;

/* No node yet: an actor that does not run anywhere (node_of). */
#define TM_PLANT_NEW UINT32_MAX

/* node_of (p->n_actors entries) holds, on entry, the index in
 * nodes[0..n) of the node each actor runs on now, or TM_PLANT_NEW; on
 * success, the node each runs on (the rules above). Errors (TM_ERR_NOT_FOUND,
 * one line "FILE:LINE:COL: FIELD: why" in err): a node not in nodes, a
 * site no node is at, a node and a site that do not go together;
 * TM_ERR_NOMEM. node_of may be partly written on error. */
int tm_plant_place(const tm_plant_t *p, const tm_plant_node_t *nodes, size_t n,
                   uint32_t *node_of, char *err, size_t errlen);

/* The part of p for node k (node_of from tm_plant_place) into out (fresh;
 * tm_plant_free it): the actors of node k, their `node` set to its name;
 * the links into them, in file order; and the actors of other nodes that
 * those links read, as references (id, model, version, fidelity and
 * `node` only, no values). File name and positions are kept, so that the
 * node names the file's lines in its errors. Errors: TM_ERR_NOMEM. */
int tm_plant_part(const tm_plant_t *p, const tm_plant_node_t *nodes,
                  const uint32_t *node_of, size_t k, tm_plant_t *out);

/* Sort actors by id and links by source, output, destination and input
 * (the parts of several nodes put together: one file, whichever node
 * sent what first). */
void tm_plant_sort(tm_plant_t *p);

/* ---- chunks (PLANT_CHUNK payloads and export parts) -----------------------
 *
 * {"upload": uint, "index": uint, "final": bool, "file": str,
 *  "actors": [actor...], "links": [link...]}
 *
 * actor = [id, model, version|nil, fidelity|nil, period, node|nil,
 *          site|nil, params, inputs, state, outputs, pos, index]
 *   where each value set is [[name, f64, line, col], ...] and pos is
 *   2 * TM_PLANT_F_COUNT uints (line, col of each tm_plant_field_t);
 * link = [src, output, dst, input, delay, pos (2 * TM_PLANT_L_COUNT),
 *         index].
 * index (the item's place in the file) may be left out: an item without
 * one is at its place in the payloads of the upload. */

typedef struct {
    uint64_t upload; /* the console's id for the upload */
    uint32_t index;  /* chunk number, from 0 */
    bool final;      /* the last chunk */
    char file[TM_PLANT_FILE_MAX + 1];
    uint32_t actors, links; /* how many this chunk held */
} tm_plant_chunk_t;

/* Encode the actors from *next_actor and then the links from *next_link
 * that fit in about max_bytes (at least one item when any is left) into
 * a payload (*out malloc'd); advance both; hdr->final is set when
 * nothing is left. Errors: TM_ERR_NOMEM, TM_ERR_TOO_BIG (one item over
 * max_bytes). */
int tm_plant_chunk_encode(const tm_plant_t *p, tm_plant_chunk_t *hdr,
                          size_t *next_actor, size_t *next_link,
                          size_t max_bytes, uint8_t **out, size_t *out_len);

/* Decode a payload (bounded: tm_wire_check first, every count checked
 * against the bytes left) and append its actors and links to into; hdr
 * gets the header. Every string is checked (ids, names, fidelity) and
 * every value is finite; nothing is appended on error. Errors:
 * TM_ERR_WIRE_* (TM_ERR_WIRE_FIELD: a bad id, name or value),
 * TM_ERR_TOO_BIG (into would exceed the limits), TM_ERR_NOMEM. */
int tm_plant_chunk_decode(const uint8_t *payload, size_t len,
                          const tm_wire_limits_t *limits, tm_plant_chunk_t *hdr,
                          tm_plant_t *into);

#endif
