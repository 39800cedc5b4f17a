/* tm_pack: sticky-error MessagePack buffer and key/value helpers. */
#include "tm_pack.h"

#include "tm_err.h"

#include <string.h>

static int s_write(void *data, const char *buf, size_t len)
{
    tm_pack_t *p = data;
    if (p->failed) {
        return -1;
    }
    if (msgpack_sbuffer_write(&p->sbuf, buf, len) != 0) {
        p->failed = 1;
        return -1;
    }
    return 0;
}

void tm_pack_init(tm_pack_t *p)
{
    msgpack_sbuffer_init(&p->sbuf);
    msgpack_packer_init(&p->pk, p, s_write);
    p->failed = 0;
}

void tm_pack_clear(tm_pack_t *p)
{
    msgpack_sbuffer_clear(&p->sbuf);
    p->failed = 0;
}

void tm_pack_destroy(tm_pack_t *p)
{
    msgpack_sbuffer_destroy(&p->sbuf);
    msgpack_sbuffer_init(&p->sbuf);
    p->failed = 0;
}

int tm_pack_ok(const tm_pack_t *p)
{
    return p->failed ? TM_ERR_NOMEM : 0;
}

void tm_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void tm_pack_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    tm_pack_strn(pk, s, strlen(s));
}

void tm_pack_kv_str(msgpack_packer *pk, const char *key, const char *s)
{
    tm_pack_str(pk, key);
    tm_pack_str(pk, s);
}

void tm_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    tm_pack_str(pk, key);
    msgpack_pack_uint64(pk, v);
}

void tm_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t v)
{
    tm_pack_str(pk, key);
    msgpack_pack_int64(pk, v);
}

void tm_pack_kv_f64(msgpack_packer *pk, const char *key, double v)
{
    tm_pack_str(pk, key);
    msgpack_pack_double(pk, v);
}

void tm_pack_kv_bool(msgpack_packer *pk, const char *key, int v)
{
    tm_pack_str(pk, key);
    if (v) {
        msgpack_pack_true(pk);
    } else {
        msgpack_pack_false(pk);
    }
}

void tm_pack_kv_nil(msgpack_packer *pk, const char *key)
{
    tm_pack_str(pk, key);
    msgpack_pack_nil(pk);
}
