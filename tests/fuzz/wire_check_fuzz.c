/* wire_check_fuzz: tm_wire_check and tm_wire_object_len on arbitrary bytes.
 * Properties: both agree; a smaller limit never accepts what the default
 * refuses; a depth limit above the cap is the cap; whatever is accepted unpacks
 * with msgpack-c, packs back into an accepted buffer, and packing is stable
 * from then on. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_wire.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Unpack bytes (already accepted) and pack the object again. */
static void s_repack(const uint8_t *bytes, size_t len, uint8_t **out,
                     size_t *out_len)
{
    msgpack_zone zone;
    msgpack_object obj;
    tm_wire_buf_t b;

    msgpack_zone_init(&zone, 1024);
    FUZZ_REQUIRE(tm_wire_unpack(bytes, len, NULL, &zone, &obj) == 0);
    tm_wire_buf_init(&b);
    FUZZ_REQUIRE(msgpack_pack_object(&b.pk, obj) == 0);
    FUZZ_REQUIRE(tm_wire_buf_finish(&b, out, out_len) == 0);
    tm_wire_buf_destroy(&b);
    msgpack_zone_destroy(&zone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tm_wire_limits_t small = {64, 4};
    static const tm_wire_limits_t at_cap = {0, TM_WIRE_MAX_DEPTH_CAP};
    static const tm_wire_limits_t over_cap = {0, TM_WIRE_MAX_DEPTH_CAP + 1};
    size_t n = 0;
    int rc = tm_wire_check(data, size, NULL);
    int lrc = tm_wire_object_len(data, size, NULL, &n);

    FUZZ_REQUIRE(rc <= 0 && rc >= TM_ERR_WIRE_MALFORMED);
    if (rc == 0) {
        FUZZ_REQUIRE(lrc == 0 && n == size);
    } else if (rc == TM_ERR_WIRE_TRAILING) {
        FUZZ_REQUIRE(lrc == 0 && n > 0 && n < size);
        FUZZ_REQUIRE(tm_wire_check(data, n, NULL) == 0);
    } else if (size <= TM_WIRE_MAX_SIZE_DEFAULT) {
        FUZZ_REQUIRE(lrc == rc); /* same walk over the same window */
    }
    if (tm_wire_check(data, size, &small) == 0) {
        FUZZ_REQUIRE(rc == 0);
    }
    size_t m = 0;
    if (tm_wire_object_len(data, size, &small, &m) == 0) {
        FUZZ_REQUIRE(lrc == 0 && m == n);
    }
    /* A depth limit above the cap counts as the cap. */
    FUZZ_REQUIRE(tm_wire_check(data, size, &over_cap) ==
                 tm_wire_check(data, size, &at_cap));
    if (lrc == 0) {
        /* The reader's skip walks the same object to the same end. */
        tm_wire_reader_t r;
        size_t skipped = 0;
        tm_wire_reader_init(&r, data, size);
        FUZZ_REQUIRE(tm_wire_read_skip(&r, NULL, &skipped) == 0);
        FUZZ_REQUIRE(skipped == n);
    }
    if (rc == 0) {
        uint8_t *b1 = NULL;
        uint8_t *b2 = NULL;
        size_t n1 = 0;
        size_t n2 = 0;
        s_repack(data, size, &b1, &n1);
        FUZZ_REQUIRE(tm_wire_check(b1, n1, NULL) == 0);
        s_repack(b1, n1, &b2, &n2);
        FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
        free(b1);
        free(b2);
    }
    return 0;
}
