/* tm_pack: a reusable MessagePack output buffer with sticky errors.
 *
 * Reply bodies and store records are built with msgpack-c's packer. The
 * packer reports a failed write (out of memory) per call; tm_pack_t makes
 * the failure sticky, so a builder can pack a whole document and check
 * tm_pack_ok() once at the end. Key/value helpers write one map entry.
 */
#ifndef TM_PACK_H_INCLUDED
#define TM_PACK_H_INCLUDED

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk; /* writes into sbuf; the struct must not move */
    int failed;
} tm_pack_t;

void tm_pack_init(tm_pack_t *p);
/* Forget the bytes (keeps the allocation) and the failure flag. */
void tm_pack_clear(tm_pack_t *p);
void tm_pack_destroy(tm_pack_t *p);
/* 0, or TM_ERR_NOMEM if any write failed since init/clear. */
int tm_pack_ok(const tm_pack_t *p);

/* A NULL string packs as nil. */
void tm_pack_str(msgpack_packer *pk, const char *s);
void tm_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void tm_pack_kv_str(msgpack_packer *pk, const char *key, const char *s);
void tm_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v);
void tm_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v);
void tm_pack_kv_f64(msgpack_packer *pk, const char *key, double v);
void tm_pack_kv_bool(msgpack_packer *pk, const char *key, int v);
void tm_pack_kv_nil(msgpack_packer *pk, const char *key);

#endif
