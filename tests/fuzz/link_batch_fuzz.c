/* link_batch_fuzz: tm_link_batch_decode on arbitrary bytes; a decoded batch
 * re-encodes, decodes to the same ids, bit-identical values (NaN payloads
 * included) and the same degraded positions, and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_link_batch_t l1;
    tm_link_batch_t l2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_link_batch_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_link_batch_t unused;
        FUZZ_REQUIRE(tm_link_batch_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_link_batch_decode(data, size, NULL, &l1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(l1.count > 0 || l1.ids == NULL);
    FUZZ_REQUIRE((l1.count == 0) == (l1.values == NULL));
    FUZZ_REQUIRE(tm_link_batch_encode(&l1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_link_batch_decode(b1, n1, NULL, &l2) == 0);
    FUZZ_REQUIRE(l2.tick == l1.tick && l2.count == l1.count);
    if (l1.count > 0) {
        size_t bytes = (size_t)l1.count * 8;
        FUZZ_REQUIRE((l1.ids == NULL) == (l2.ids == NULL));
        FUZZ_REQUIRE(l1.ids == NULL || memcmp(l1.ids, l2.ids, bytes) == 0);
        FUZZ_REQUIRE(memcmp(l1.values, l2.values, bytes) == 0);
    }
    FUZZ_REQUIRE(l1.n_degraded <= l1.count);
    FUZZ_REQUIRE(l2.n_degraded == l1.n_degraded);
    if (l1.n_degraded > 0) {
        FUZZ_REQUIRE(memcmp(l1.degraded, l2.degraded,
                            (size_t)l1.n_degraded * sizeof(uint32_t)) == 0);
    }
    FUZZ_REQUIRE(tm_link_batch_encode(&l2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_link_batch_free(&l1);
    tm_link_batch_free(&l2);
    free(b1);
    free(b2);
    return 0;
}
