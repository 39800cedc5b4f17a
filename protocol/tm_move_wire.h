/* tm_move_wire: the package that moves actors from one node to another
 * (`migrate`, `drain`; nodes/tm_mesh_move.c).
 *
 * The old owner sends it, as FILE_CHUNK messages, to the new owner at a
 * tick boundary T that the whole mesh holds. It carries, per actor, its
 * stored record at T (opaque here: the store's actor record, which the node
 * decodes with tm_persist_actor_decode) and the links into it, which its
 * node holds (with each source's model, so that the new owner can make a
 * proxy of a source it does not run); and, per source of those links, the
 * outputs of the last ticks that the links' delays still read, so that the
 * new owner's proxies start with the history the old owner had.
 *
 *   {"v": 1, "from": str (the old owner), "tick": uint (T),
 *    "actors": [{"id": str, "record": bin,
 *                "links": [[src, output, input, delay, model, tier], ...]},
 *               ...],
 *    "sources": [[id, model, tier, first_tick, [[f64, ...], ...]], ...]}
 *
 * Names follow the actor id rule (1 .. TM_ID_MAX bytes: letters, digits,
 * '_', '-') and ports the model's (1 .. TM_MODEL_NAME_MAX - 1 bytes);
 * model is "family@version" and tier a fidelity name, each at most
 * TM_MOVE_NAME_MAX bytes. A source's rows are the outputs of first_tick,
 * first_tick + 1, ... (at most TM_RT_DELAY_MAX rows, all of one width of
 * at most TM_MODEL_MAX_VARS finite values). Pure: no runtime, no store.
 */
#ifndef TM_MOVE_WIRE_H_INCLUDED
#define TM_MOVE_WIRE_H_INCLUDED

#include "tm_text.h"
#include "tm_wire.h"

#include <stddef.h>
#include <stdint.h>

#define TM_MOVE_ACTORS_MAX  4096u  /* actors in one package */
#define TM_MOVE_LINKS_MAX   1024u  /* links into one actor */
#define TM_MOVE_SOURCES_MAX 65536u /* sources of one package */
#define TM_MOVE_ROWS_MAX    1000u  /* ticks of one source: TM_RT_DELAY_MAX */
#define TM_MOVE_WIDTH_MAX   32u    /* outputs: TM_MODEL_MAX_VARS */
#define TM_MOVE_NAME_MAX    64u    /* a model spec, tier or node name */
#define TM_MOVE_PORT_MAX    31u    /* a port name */
#define TM_MOVE_RECORD_MAX  (1024u * 1024u)       /* bytes of one record */
#define TM_MOVE_BYTES_MAX   (16u * 1024u * 1024u) /* one package */

typedef struct {
    char src[TM_ID_MAX + 1];
    char output[TM_MOVE_PORT_MAX + 1];
    char input[TM_MOVE_PORT_MAX + 1];
    uint32_t delay;                   /* 1 .. TM_MOVE_ROWS_MAX */
    char model[TM_MOVE_NAME_MAX + 1]; /* the source's family@version */
    char tier[TM_MOVE_NAME_MAX + 1];
} tm_move_link_t;

typedef struct {
    char id[TM_ID_MAX + 1];
    const uint8_t *record; /* borrowed: the store's record at T */
    size_t record_len;
    uint32_t n_links;
    tm_move_link_t *links;
} tm_move_actor_t;

typedef struct {
    char id[TM_ID_MAX + 1];
    char model[TM_MOVE_NAME_MAX + 1];
    char tier[TM_MOVE_NAME_MAX + 1];
    uint64_t first_tick;
    uint32_t n_rows, width;
    double *values; /* n_rows * width, oldest row first */
} tm_move_source_t;

typedef struct {
    char from[TM_MOVE_NAME_MAX + 1];
    uint64_t tick;
    uint32_t n_actors;
    tm_move_actor_t *actors;
    uint32_t n_sources;
    tm_move_source_t *sources;
    /* decode only: the bytes that records borrow */
    uint8_t *owned;
} tm_move_t;

/* Encode p (arrays as given; values must be finite). Errors:
 * TM_ERR_INVAL (a name or count out of the rules above, a value not
 * finite), TM_ERR_TOO_BIG (over TM_MOVE_BYTES_MAX), TM_ERR_NOMEM. */
int tm_move_encode(const tm_move_t *p, uint8_t **out, size_t *out_len);

/* Decode a package (copied: buf may go after the call); free with
 * tm_move_free(). Errors: TM_ERR_WIRE_* (malformed, a key missing or of
 * the wrong type, a name, count or value out of the rules above),
 * TM_ERR_WIRE_VERSION (v is not 1), TM_ERR_NOMEM. Nothing is left to free
 * on error. */
int tm_move_decode(const uint8_t *buf, size_t len, tm_move_t *out);
void tm_move_free(tm_move_t *p); /* NULL-safe; zeroes it */

#endif
