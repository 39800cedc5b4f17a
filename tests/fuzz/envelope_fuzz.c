/* envelope_fuzz: tm_envelope_decode on arbitrary bytes; what decodes is
 * encoded, decoded again and must come back equal, and the second encoding
 * must be byte-identical to the first. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_encode(const tm_envelope_t *env, uint8_t **out, size_t *len)
{
    FUZZ_REQUIRE(
        tm_envelope_encode(env, env->payload, env->payload_len, out, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_envelope_t e1;
    tm_envelope_t e2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_envelope_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_envelope_t unused;
        FUZZ_REQUIRE(tm_envelope_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_envelope_decode(data, size, NULL, &e1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(e1.payload >= data &&
                 e1.payload + e1.payload_len == data + size);
    s_encode(&e1, &b1, &n1);
    FUZZ_REQUIRE(tm_envelope_decode(b1, n1, NULL, &e2) == 0);
    FUZZ_REQUIRE(e2.version == e1.version && e2.type == e1.type);
    FUZZ_REQUIRE(strcmp(e2.source, e1.source) == 0);
    FUZZ_REQUIRE(strcmp(e2.destination, e1.destination) == 0);
    FUZZ_REQUIRE(e2.tick == e1.tick && e2.seq == e1.seq);
    FUZZ_REQUIRE(e2.payload_len == e1.payload_len);
    FUZZ_REQUIRE(memcmp(e2.payload, e1.payload, e1.payload_len) == 0);
    s_encode(&e2, &b2, &n2);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
    return 0;
}
