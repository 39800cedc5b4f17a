/* tm_wire: a bounded MessagePack reader that validates before msgpack-c.
 *
 * msgpack-c allocates room for every element an array or map header
 * announces before reading them (the 5 bytes dd ff 00 00 00 ask for about
 * 100 GB). So nothing reaches msgpack-c, or a typed decoder, before
 * tm_wire_check() has walked the buffer with its own bounded reader: total
 * size within limits, nesting within limits, every element count at most the
 * number of bytes that remain (each element takes at least one byte), every
 * str/bin/ext length within the buffer, no reserved byte (0xc1), and exactly
 * one object with no trailing bytes.
 *
 * Depth counts every array and map, empty ones included: a scalar has depth
 * 0, [1] depth 1, [[]] depth 2.
 */
#ifndef TM_WIRE_H_INCLUDED
#define TM_WIRE_H_INCLUDED

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define TM_WIRE_MAX_SIZE_DEFAULT  (1024u * 1024u) /* 1 MiB */
#define TM_WIRE_MAX_DEPTH_DEFAULT 32u
/* Hard ceiling on max_depth: the checker keeps one 8-byte counter per level
 * on the C stack. Larger configured values are clamped to it. */
#define TM_WIRE_MAX_DEPTH_CAP 256u

typedef struct {
    size_t max_size;    /* bytes in one message; 0 = default */
    uint32_t max_depth; /* array/map nesting; 0 = default; clamped to CAP */
} tm_wire_limits_t;

/* Validate that buf holds exactly one well-formed MessagePack object within
 * limits (NULL = defaults). Errors: TM_ERR_WIRE_TOO_LARGE,
 * TM_ERR_WIRE_TOO_DEEP, TM_ERR_WIRE_TRUNCATED (also for len == 0),
 * TM_ERR_WIRE_COUNT, TM_ERR_WIRE_MALFORMED (reserved byte),
 * TM_ERR_WIRE_TRAILING; TM_ERR_INVAL if buf is NULL and len > 0. Never
 * allocates; iterative (no recursion), so any depth is safe. */
int tm_wire_check(const uint8_t *buf, size_t len,
                  const tm_wire_limits_t *limits);

/* Length of the first object in buf (which may be followed by others),
 * validated as tm_wire_check does. Same errors except TRAILING; an object
 * that would run past max_size gives TM_ERR_WIRE_TOO_LARGE. */
int tm_wire_object_len(const uint8_t *buf, size_t len,
                       const tm_wire_limits_t *limits, size_t *obj_len);

/* Check then unpack buf into a msgpack_object allocated in zone (the
 * caller owns the zone; the object borrows from zone and buf: str, bin and
 * ext bodies point into buf). Nothing is allocated in zone unless the check
 * passed. msgpack-c itself nests at most MSGPACK_EMBED_STACK_SIZE (32)
 * levels, so max_depth is clamped to that here. Errors: those of
 * tm_wire_check, TM_ERR_NOMEM, TM_ERR_INVAL (NULL zone or out). */
int tm_wire_unpack(const uint8_t *buf, size_t len,
                   const tm_wire_limits_t *limits, msgpack_zone *zone,
                   msgpack_object *out);

/* Typed accessors for decoders: look a key up in a map object. Return
 * TM_ERR_WIRE_FIELD when missing, TM_ERR_WIRE_TYPE when of another type.
 * A key present more than once counts as missing (no guessing which one the
 * sender meant); tm_wire_map_get() returns NULL then, and when map is not a
 * map. An integer outside the range of the result type is
 * TM_ERR_WIRE_FIELD. tm_wire_get_f64() also accepts integers. */
const msgpack_object *tm_wire_map_get(const msgpack_object *map,
                                      const char *key);
int tm_wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int tm_wire_get_i64(const msgpack_object *map, const char *key, int64_t *out);
int tm_wire_get_bool(const msgpack_object *map, const char *key, int *out);
int tm_wire_get_f64(const msgpack_object *map, const char *key, double *out);
/* str: borrowed pointer and length (not NUL-terminated). */
int tm_wire_get_str(const msgpack_object *map, const char *key,
                    const char **out, size_t *len);

/* ---- sequential reader ---------------------------------------------------
 * A cursor over a buffer, for decoders that need byte positions (borrowed
 * sub-objects) or want no allocation at all. Meant for buffers that already
 * passed tm_wire_check(), but every call is bounded by the bytes that remain
 * on its own. A call that fails leaves the cursor where it was. Errors:
 * TM_ERR_WIRE_TYPE (another type is next), TM_ERR_WIRE_FIELD (integer out
 * of range), TM_ERR_WIRE_TRUNCATED, TM_ERR_WIRE_COUNT, TM_ERR_WIRE_MALFORMED.
 */
typedef struct {
    const uint8_t *pos; /* next byte to read */
    const uint8_t *end; /* one past the last byte */
} tm_wire_reader_t;

void tm_wire_reader_init(tm_wire_reader_t *r, const uint8_t *buf, size_t len);
/* Bytes not read yet. */
size_t tm_wire_reader_left(const tm_wire_reader_t *r);
/* Container headers: the elements (maps: count key/value pairs) follow. */
int tm_wire_read_array(tm_wire_reader_t *r, uint32_t *count);
int tm_wire_read_map(tm_wire_reader_t *r, uint32_t *count);
int tm_wire_read_nil(tm_wire_reader_t *r);
int tm_wire_read_bool(tm_wire_reader_t *r, int *out);
/* Any integer encoding whose value fits the result type. */
int tm_wire_read_u64(tm_wire_reader_t *r, uint64_t *out);
int tm_wire_read_i64(tm_wire_reader_t *r, int64_t *out);
/* float32, float64, or an integer (converted). */
int tm_wire_read_f64(tm_wire_reader_t *r, double *out);
/* str and bin: borrowed pointer into the buffer and length. */
int tm_wire_read_str(tm_wire_reader_t *r, const char **out, size_t *len);
int tm_wire_read_bin(tm_wire_reader_t *r, const uint8_t **out, size_t *len);
/* Step over one whole object (any type, any depth up to
 * TM_WIRE_MAX_DEPTH_CAP); obj and len (both may be NULL) get its bytes. */
int tm_wire_read_skip(tm_wire_reader_t *r, const uint8_t **obj, size_t *len);

/* ---- encoding ------------------------------------------------------------
 * tm_wire_buf_t is a growing buffer with a packer writing into it. The
 * packer's errors are sticky: once a write failed (out of memory), every
 * later write fails too and tm_wire_buf_finish() reports TM_ERR_NOMEM, so
 * encoders can pack a whole message and check once. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    int failed;
} tm_wire_buf_t;

/* The buffer must not move while in use (pk points to it). */
void tm_wire_buf_init(tm_wire_buf_t *b);
/* On success hands the bytes to the caller (*out malloc'd; free() it; never
 * NULL on success) and leaves b empty. Errors: TM_ERR_NOMEM (a write
 * failed), TM_ERR_INVAL (nothing was packed). */
int tm_wire_buf_finish(tm_wire_buf_t *b, uint8_t **out, size_t *out_len);
/* Forget the bytes packed so far (the allocation is kept for reuse) and a
 * failure, so b can build another message. */
void tm_wire_buf_clear(tm_wire_buf_t *b);
/* 0, or TM_ERR_NOMEM if a write failed since init or clear; for builders
 * that use the bytes in place (b->sbuf) instead of finishing. */
int tm_wire_buf_ok(const tm_wire_buf_t *b);
/* Frees what b still holds; safe after finish and twice. */
void tm_wire_buf_destroy(tm_wire_buf_t *b);

/* Helpers for encoders. A NULL string packs as "". */
void tm_wire_pack_str(msgpack_packer *pk, const char *s);
/* Append one already-encoded object (or any bytes) as they are. */
void tm_wire_pack_raw(msgpack_packer *pk, const uint8_t *bytes, size_t len);
void tm_wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *s);
void tm_wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void tm_wire_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void tm_wire_pack_kv_f64(msgpack_packer *pk, const char *key, double v);
void tm_wire_pack_kv_bool(msgpack_packer *pk, const char *key, int v);
void tm_wire_pack_kv_nil(msgpack_packer *pk, const char *key);

#endif
