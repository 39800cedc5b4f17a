/* repl_fuzz: tm_repl_decode (a part of the standby stream) on arbitrary
 * bytes. A refused part is left zeroed; a decoded one keeps the rules of
 * tm_repl_wire.h (names, numbers, operations with keys and values inside
 * the part's own copy of the bytes), re-encodes, decodes to the same
 * fields and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_repl_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_inside(const tm_repl_t *r, const uint8_t *p, size_t n,
                     const uint8_t *data, size_t size)
{
    if (n == 0) {
        return;
    }
    FUZZ_REQUIRE(p >= r->owned && p + n <= r->owned + size);
    FUZZ_REQUIRE(memcmp(p, data + (p - r->owned), n) == 0);
}

static void s_check(const tm_repl_t *r, const uint8_t *data, size_t size)
{
    size_t n = strnlen(r->from, TM_REPL_NAME_MAX + 1);
    FUZZ_REQUIRE(n >= 1 && n <= TM_REPL_NAME_MAX);
    FUZZ_REQUIRE(r->seq >= 1 && r->parts >= 1 && r->part < r->parts);
    FUZZ_REQUIRE(r->parts <= TM_REPL_PARTS_MAX && r->n_ops <= TM_REPL_OPS_MAX);
    for (uint32_t i = 0; i < r->n_ops; i++) {
        const tm_repl_op_t *op = &r->ops[i];
        FUZZ_REQUIRE(op->db <= TM_REPL_AUDIT && op->kind <= TM_REPL_CLEAR);
        if (op->kind == TM_REPL_CLEAR) {
            FUZZ_REQUIRE(op->klen == 0 && op->vlen == 0);
            continue;
        }
        FUZZ_REQUIRE(op->klen >= 1 && op->klen <= TM_REPL_KEY_MAX);
        FUZZ_REQUIRE(op->db != TM_REPL_AUDIT || op->klen == 8);
        FUZZ_REQUIRE(op->vlen <= TM_REPL_VALUE_MAX);
        FUZZ_REQUIRE(op->kind == TM_REPL_PUT || op->vlen == 0);
        s_inside(r, op->key, op->klen, data, size);
        s_inside(r, op->val, op->vlen, data, size);
    }
}

static void s_same(const tm_repl_t *a, const tm_repl_t *b)
{
    FUZZ_REQUIRE(strcmp(a->from, b->from) == 0 && a->inc == b->inc);
    FUZZ_REQUIRE(a->seq == b->seq && a->part == b->part &&
                 a->parts == b->parts);
    FUZZ_REQUIRE(a->full == b->full && a->mutation == b->mutation);
    FUZZ_REQUIRE(a->n_ops == b->n_ops);
    for (uint32_t i = 0; i < a->n_ops; i++) {
        const tm_repl_op_t *x = &a->ops[i];
        const tm_repl_op_t *y = &b->ops[i];
        FUZZ_REQUIRE(x->db == y->db && x->kind == y->kind);
        FUZZ_REQUIRE(x->klen == y->klen && x->vlen == y->vlen);
        FUZZ_REQUIRE(x->klen == 0 || memcmp(x->key, y->key, x->klen) == 0);
        FUZZ_REQUIRE(x->vlen == 0 || memcmp(x->val, y->val, x->vlen) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tm_repl_t zero;
    tm_repl_t r1;
    tm_repl_t r2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    FUZZ_REQUIRE(tm_repl_decode(data, size, NULL) == TM_ERR_INVAL);
    memset(&r1, 0x5a, sizeof r1);
    int rc = tm_repl_decode(data, size, &r1);
    if (rc != 0) {
        FUZZ_REQUIRE(rc <= TM_ERR_WIRE_TRUNCATED &&
                     rc >= TM_ERR_WIRE_MALFORMED);
        FUZZ_REQUIRE(memcmp(&r1, &zero, sizeof zero) == 0);
        return 0;
    }
    s_check(&r1, data, size);
    FUZZ_REQUIRE(tm_repl_encode(&r1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_repl_decode(b1, n1, &r2) == 0);
    s_same(&r1, &r2);
    FUZZ_REQUIRE(tm_repl_encode(&r2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_repl_free(&r1);
    FUZZ_REQUIRE(memcmp(&r1, &zero, sizeof zero) == 0);
    tm_repl_free(&r2);
    free(b1);
    free(b2);
    return 0;
}
