/* tm_body: MessagePack documents built from declared fields.
 *
 * Reply bodies are maps and arrays whose sizes depend on what is in them.
 * Instead of counting entries by hand before packing a header, a builder
 * opens a container, declares its fields (a key and a value each, or array
 * elements) and closes it; the header is written on close with the count
 * seen, in the smallest MessagePack encoding (fixmap/fixarray, 16 or 32
 * bits), so the bytes are those a hand-counted encoder would produce.
 *
 * Counting: in a map each key counts one entry; in an array each value
 * (a container opened inside it included) counts one element. Errors are
 * sticky, as in tm_wire_buf_t: tm_body_done() reports the first.
 */
#ifndef TM_BODY_H_INCLUDED
#define TM_BODY_H_INCLUDED

#include "tm_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_BODY_DEPTH_MAX 16

typedef struct {
    tm_wire_buf_t *buf;
    struct {
        size_t at;  /* offset of the header's reserved bytes */
        uint32_t n; /* entries so far */
        bool map;
    } open[TM_BODY_DEPTH_MAX];
    int depth;
    int failed; /* first error (tm_err_t), sticky */
} tm_body_t;

/* Start a document in buf (emptied first). */
void tm_body_start(tm_body_t *b, tm_wire_buf_t *buf);

/* Open a map or an array as the next value. */
void tm_body_map(tm_body_t *b);
void tm_body_array(tm_body_t *b);
/* Close the innermost open container. */
void tm_body_end(tm_body_t *b);

/* The next key of the innermost map. */
void tm_body_key(tm_body_t *b, const char *key);

/* Values (an array element, or the value after a key). NULL str: "". */
void tm_body_str(tm_body_t *b, const char *s);
void tm_body_u64(tm_body_t *b, uint64_t v);
void tm_body_f64(tm_body_t *b, double v);
void tm_body_bool(tm_body_t *b, bool v);
void tm_body_nil(tm_body_t *b);
/* One already-encoded MessagePack object (checked by the caller) as the
 * next value. */
void tm_body_raw(tm_body_t *b, const uint8_t *obj, size_t len);

/* key + value. */
void tm_body_kv_str(tm_body_t *b, const char *key, const char *s);
void tm_body_kv_u64(tm_body_t *b, const char *key, uint64_t v);
void tm_body_kv_f64(tm_body_t *b, const char *key, double v);
void tm_body_kv_bool(tm_body_t *b, const char *key, bool v);
void tm_body_kv_nil(tm_body_t *b, const char *key);
/* key + an opened map or array (closed with tm_body_end). */
void tm_body_kv_map(tm_body_t *b, const char *key);
void tm_body_kv_array(tm_body_t *b, const char *key);

/* 0 when every container is closed and every write succeeded; else
 * TM_ERR_NOMEM (a write failed) or TM_ERR_INTERNAL (unbalanced, too deep,
 * a key outside a map). */
int tm_body_done(tm_body_t *b);

#endif
