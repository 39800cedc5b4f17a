/* tm_msg_int: helpers shared by the message codecs of protocol/ (tm_msg.c:
 * envelope and console messages; tm_msg_mesh.c: node-to-node messages).
 * Not part of the public API. */
#ifndef TM_MSG_INT_H_INCLUDED
#define TM_MSG_INT_H_INCLUDED

#include "tm_wire.h"

#include <stddef.h>

#define TMI_MSG_NKEYS(keys) ((int)(sizeof(keys) / sizeof((keys)[0])))

/* Limits for checking an already-encoded object handed to an encoder. */
extern const tm_wire_limits_t tmi_msg_any_size;

/* A NUL-terminated string of at most max bytes. */
int tmi_msg_cstr_ok(const char *s, size_t max);
/* A decoded str usable as a name: at most max bytes, no NUL. */
int tmi_msg_str_ok(const char *s, size_t len, size_t max);
/* Read a str into dst (max bytes + NUL); TM_ERR_WIRE_FIELD if too long or
 * holding a NUL. */
int tmi_msg_read_name(tm_wire_reader_t *r, char *dst, size_t max);
/* Next map key looked up in keys: *idx its index or -1 (unknown). */
int tmi_msg_read_key(tm_wire_reader_t *r, const char *const *keys, int nkeys,
                     unsigned *seen, int *idx);
/* The mask of the first nkeys keys. */
unsigned tmi_msg_all(int nkeys);

/* Read the value of known key keys[idx] at r. */
typedef int (*tmi_msg_field_fn)(tm_wire_reader_t *r, int idx, void *arg);

/* Check the payload, open its map, hand each known key's value to field(),
 * skip unknown keys; every key of the mask `required` must be present. */
int tmi_msg_decode_map(const uint8_t *payload, size_t len,
                       const tm_wire_limits_t *limits, const char *const *keys,
                       int nkeys, unsigned required, tmi_msg_field_fn field,
                       void *arg);

/* Hand the encoder's bytes over and free the buffer. */
int tmi_msg_finish(tm_wire_buf_t *b, uint8_t **out, size_t *out_len);

#endif
