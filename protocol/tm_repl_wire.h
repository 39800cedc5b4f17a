/* tm_repl_wire: a part of the stream that keeps a standby copy of a node's
 * store on another node (`replicas = 1`; nodes/tm_mesh_repl.c).
 *
 * Every commit of the origin's store (a mutation's or a checkpoint's) is
 * sent to its standby as one or more parts, in commit order; the standby
 * applies the parts of one commit in one commit of its copy, so the copy is
 * always the origin's store as of one of its commits. A full copy (the
 * standby is new, or lost a part) is one such commit that clears the copy
 * first.
 *
 *   {"v": 1, "from": str (the origin), "inc": uint (its incarnation),
 *    "seq": uint (the commit's number in this stream, from 1),
 *    "part": uint, "parts": uint (part < parts), "full": bool,
 *    "mutation": bool (a change the origin acknowledges once it is here),
 *    "ops": [[db, kind, key, value], ...]}
 *
 * db is 0 (meta), 1 (actors), 2 (links) or 3 (the audit log: a key is
 * the record's 8-byte big-endian number, not 0); kind 0 (put: key and
 * value bin), 1 (delete: key bin, value nil) or 2 (clear the database:
 * key and value nil). Keys are 1 .. TM_REPL_KEY_MAX bytes, values at most
 * TM_REPL_VALUE_MAX. Pure: no store, no sockets.
 */
#ifndef TM_REPL_WIRE_H_INCLUDED
#define TM_REPL_WIRE_H_INCLUDED

#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_REPL_KEY_MAX   511u                  /* TM_STORE_MAX_KEY */
#define TM_REPL_VALUE_MAX (1024u * 1024u)       /* one record */
#define TM_REPL_BYTES_MAX (16u * 1024u * 1024u) /* one part */
#define TM_REPL_PART_AIM  (4u * 1024u * 1024u)  /* a part is cut near it */
#define TM_REPL_OPS_MAX   (1024u * 1024u)       /* operations in one part */
#define TM_REPL_PARTS_MAX 65536u                /* parts of one commit */
#define TM_REPL_NAME_MAX  64u

typedef enum {
    TM_REPL_META = 0,
    TM_REPL_ACTORS,
    TM_REPL_LINKS,
    TM_REPL_AUDIT
} tm_repl_db_t;
typedef enum { TM_REPL_PUT = 0, TM_REPL_DEL, TM_REPL_CLEAR } tm_repl_kind_t;

typedef struct {
    uint8_t db;   /* tm_repl_db_t */
    uint8_t kind; /* tm_repl_kind_t */
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
} tm_repl_op_t;

typedef struct {
    char from[TM_REPL_NAME_MAX + 1];
    uint64_t inc, seq;
    uint32_t part, parts;
    bool full, mutation;
    uint32_t n_ops;
    tm_repl_op_t *ops;
    uint8_t *owned; /* decode only: the bytes ops borrow */
} tm_repl_t;

/* Encode r. Errors: TM_ERR_INVAL (a name, count, key or value out of the
 * rules above), TM_ERR_TOO_BIG (over TM_REPL_BYTES_MAX), TM_ERR_NOMEM. */
int tm_repl_encode(const tm_repl_t *r, uint8_t **out, size_t *out_len);

/* Bytes an operation adds to a part (an upper bound), to cut parts. */
size_t tm_repl_op_size(const tm_repl_op_t *op);

/* Decode a part (copied: buf may go after the call); free with
 * tm_repl_free. Errors: TM_ERR_WIRE_* (malformed, a key missing or of the
 * wrong type, a value out of the rules above), TM_ERR_WIRE_VERSION,
 * TM_ERR_WIRE_TOO_LARGE, TM_ERR_NOMEM; nothing to free on error. */
int tm_repl_decode(const uint8_t *buf, size_t len, tm_repl_t *out);
void tm_repl_free(tm_repl_t *r); /* NULL-safe; zeroes it */

#endif
