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
 */
#ifndef TM_WIRE_H_INCLUDED
#define TM_WIRE_H_INCLUDED

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#define TM_WIRE_MAX_SIZE_DEFAULT  (1024u * 1024u) /* 1 MiB */
#define TM_WIRE_MAX_DEPTH_DEFAULT 32u

typedef struct {
    size_t max_size;    /* bytes in one message; 0 = default */
    uint32_t max_depth; /* array/map nesting; 0 = default */
} tm_wire_limits_t;

/* Validate that buf holds exactly one well-formed MessagePack object within
 * limits (NULL = defaults). Errors: TM_ERR_WIRE_TOO_LARGE,
 * TM_ERR_WIRE_TOO_DEEP, TM_ERR_WIRE_TRUNCATED, TM_ERR_WIRE_COUNT,
 * TM_ERR_WIRE_MALFORMED (reserved byte), TM_ERR_WIRE_TRAILING. Never
 * allocates; iterative (no recursion), so any depth is safe. */
int tm_wire_check(const uint8_t *buf, size_t len,
                  const tm_wire_limits_t *limits);

/* Length of the first object in buf (which may be followed by others),
 * validated as tm_wire_check does. Same errors except TRAILING. */
int tm_wire_object_len(const uint8_t *buf, size_t len,
                       const tm_wire_limits_t *limits, size_t *obj_len);

/* Check then unpack buf into a msgpack_object allocated in zone (the
 * caller owns the zone; the object borrows from zone and buf). */
int tm_wire_unpack(const uint8_t *buf, size_t len,
                   const tm_wire_limits_t *limits, msgpack_zone *zone,
                   msgpack_object *out);

/* Typed accessors for decoders: look a key up in a map object. Return
 * TM_ERR_WIRE_FIELD when missing, TM_ERR_WIRE_TYPE when of another type. */
const msgpack_object *tm_wire_map_get(const msgpack_object *map,
                                      const char *key);
int tm_wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int tm_wire_get_i64(const msgpack_object *map, const char *key, int64_t *out);
int tm_wire_get_bool(const msgpack_object *map, const char *key, int *out);
int tm_wire_get_f64(const msgpack_object *map, const char *key, double *out);
/* str: borrowed pointer and length (not NUL-terminated). */
int tm_wire_get_str(const msgpack_object *map, const char *key,
                    const char **out, size_t *len);

/* Helpers for encoders. */
void tm_wire_pack_str(msgpack_packer *pk, const char *s);
void tm_wire_pack_kv_str(msgpack_packer *pk, const char *key, const char *s);
void tm_wire_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void tm_wire_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void tm_wire_pack_kv_f64(msgpack_packer *pk, const char *key, double v);

#endif
