/* tm_file_wire: FILE_CHUNK payloads (see tm_file_wire.h). */
#include "tm_file_wire.h"

#include "tm_err.h"

#include <string.h>

static bool s_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > TM_FILE_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || s[i] == '/') {
            return false;
        }
    }
    return true;
}

int tm_file_chunk_encode(const tm_file_chunk_t *c, uint8_t **out,
                         size_t *out_len)
{
    if (c == NULL || out == NULL || out_len == NULL ||
        !s_name_ok(c->file, strlen(c->file)) ||
        c->len > TM_FILE_CHUNK_DATA_MAX || (c->len > 0 && c->data == NULL)) {
        return TM_ERR_INVAL;
    }
    tm_wire_buf_t b;
    tm_wire_buf_init(&b);
    msgpack_pack_map(&b.pk, 5);
    tm_wire_pack_kv_u64(&b.pk, "upload", c->upload);
    tm_wire_pack_kv_u64(&b.pk, "index", c->index);
    tm_wire_pack_kv_bool(&b.pk, "final", c->final);
    tm_wire_pack_kv_str(&b.pk, "file", c->file);
    tm_wire_pack_str(&b.pk, "data");
    msgpack_pack_bin(&b.pk, c->len);
    msgpack_pack_bin_body(&b.pk, c->data, c->len);
    int rc = tm_wire_buf_finish(&b, out, out_len);
    tm_wire_buf_destroy(&b);
    return rc;
}

static int s_field(tm_wire_reader_t *r, int idx, tm_file_chunk_t *c)
{
    uint64_t v = 0;
    int b = 0;
    const char *s = NULL;
    size_t n = 0;
    int rc = 0;
    switch (idx) {
    case 0:
        return tm_wire_read_u64(r, &c->upload);
    case 1:
        rc = tm_wire_read_u64(r, &v);
        c->index = (uint32_t)v;
        return rc == 0 && v > UINT32_MAX ? TM_ERR_WIRE_FIELD : rc;
    case 2:
        rc = tm_wire_read_bool(r, &b);
        c->final = b != 0;
        return rc;
    case 3:
        rc = tm_wire_read_str(r, &s, &n);
        if (rc == 0 && !s_name_ok(s, n)) {
            return TM_ERR_WIRE_FIELD;
        }
        if (rc == 0) {
            memcpy(c->file, s, n);
            c->file[n] = '\0';
        }
        return rc;
    case 4:
        rc = tm_wire_read_bin(r, &c->data, &c->len);
        return rc == 0 && c->len > TM_FILE_CHUNK_DATA_MAX ? TM_ERR_WIRE_FIELD
                                                          : rc;
    default:
        return tm_wire_read_skip(r, NULL, NULL);
    }
}

int tm_file_chunk_decode(const uint8_t *payload, size_t len,
                         const tm_wire_limits_t *limits, tm_file_chunk_t *out)
{
    static const char *const keys[] = {"upload", "index", "final", "file",
                                       "data"};
    if (out == NULL) {
        return TM_ERR_INVAL;
    }
    int rc = tm_wire_check(payload, len, limits);
    tm_wire_reader_t r;
    tm_file_chunk_t c;
    uint32_t n = 0;
    unsigned seen = 0;
    memset(&c, 0, sizeof c);
    tm_wire_reader_init(&r, payload, len);
    rc = rc == 0 ? tm_wire_read_map(&r, &n) : rc;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const char *k = NULL;
        size_t kl = 0;
        int idx = -1;
        rc = tm_wire_read_str(&r, &k, &kl);
        for (int j = 0; rc == 0 && j < 5; j++) {
            if (strlen(keys[j]) == kl && memcmp(keys[j], k, kl) == 0) {
                rc = seen & (1u << j) ? TM_ERR_WIRE_FIELD : 0;
                seen |= 1u << j;
                idx = j;
            }
        }
        rc = rc == 0 ? s_field(&r, idx, &c) : rc;
    }
    if (rc == 0 && seen != 0x1fu) {
        rc = TM_ERR_WIRE_FIELD;
    }
    if (rc == 0) {
        *out = c;
    }
    return rc;
}
