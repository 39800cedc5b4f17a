/* heartbeat_fuzz: tm_heartbeat_decode on arbitrary bytes; a decoded
 * heartbeat re-encodes, decodes to the same fields, and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_heartbeat_t h1;
    tm_heartbeat_t h2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_heartbeat_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_heartbeat_t unused;
        FUZZ_REQUIRE(tm_heartbeat_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_heartbeat_decode(data, size, NULL, &h1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(h1.node[0] != '\0');
    FUZZ_REQUIRE(tm_heartbeat_encode(&h1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_heartbeat_decode(b1, n1, NULL, &h2) == 0);
    FUZZ_REQUIRE(strcmp(h1.node, h2.node) == 0);
    FUZZ_REQUIRE(strcmp(h1.site, h2.site) == 0);
    FUZZ_REQUIRE(strcmp(h1.state, h2.state) == 0);
    FUZZ_REQUIRE(h1.tick == h2.tick && h1.actors == h2.actors);
    FUZZ_REQUIRE(tm_heartbeat_encode(&h2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
    return 0;
}
