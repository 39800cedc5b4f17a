/* heartbeat_fuzz: tm_heartbeat_decode on arbitrary bytes; a decoded
 * heartbeat keeps its limits, re-encodes, decodes to the same fields
 * (members included), and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_same(const tm_heartbeat_t *a, const tm_heartbeat_t *b)
{
    FUZZ_REQUIRE(strcmp(a->node, b->node) == 0);
    FUZZ_REQUIRE(strcmp(a->site, b->site) == 0);
    FUZZ_REQUIRE(strcmp(a->state, b->state) == 0);
    FUZZ_REQUIRE(a->tick == b->tick && a->actors == b->actors);
    FUZZ_REQUIRE(strcmp(a->endpoint, b->endpoint) == 0);
    FUZZ_REQUIRE(strcmp(a->clock, b->clock) == 0);
    FUZZ_REQUIRE(a->incarnation == b->incarnation);
    FUZZ_REQUIRE(a->dir_seq == b->dir_seq);
    FUZZ_REQUIRE(a->n_members == b->n_members);
    for (uint32_t i = 0; i < a->n_members; i++) {
        FUZZ_REQUIRE(strcmp(a->members[i].name, b->members[i].name) == 0);
        FUZZ_REQUIRE(strcmp(a->members[i].endpoint, b->members[i].endpoint) ==
                     0);
    }
}

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
    FUZZ_REQUIRE(h1.n_members <= TM_MSG_MEMBERS_MAX);
    FUZZ_REQUIRE(memchr(h1.endpoint, '\0', sizeof h1.endpoint) != NULL);
    FUZZ_REQUIRE(tm_heartbeat_encode(&h1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_heartbeat_decode(b1, n1, NULL, &h2) == 0);
    s_same(&h1, &h2);
    FUZZ_REQUIRE(tm_heartbeat_encode(&h2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
    return 0;
}
