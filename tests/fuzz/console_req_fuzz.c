/* console_req_fuzz: tm_console_req_decode on arbitrary bytes; a decoded
 * request re-encodes, decodes to the same arguments, and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_encode(const tm_console_req_t *req, uint8_t **out, size_t *len)
{
    FUZZ_REQUIRE(tm_console_req_encode(
                     req->argc, (const char *const *)req->argv, out, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_console_req_t r1;
    tm_console_req_t r2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_console_req_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_console_req_t unused;
        FUZZ_REQUIRE(tm_console_req_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_console_req_decode(data, size, NULL, &r1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(r1.argc >= 1 && r1.argc <= TM_CONSOLE_ARGC_MAX);
    FUZZ_REQUIRE(r1.argv[r1.argc] == NULL);
    s_encode(&r1, &b1, &n1);
    FUZZ_REQUIRE(tm_console_req_decode(b1, n1, NULL, &r2) == 0);
    FUZZ_REQUIRE(r2.argc == r1.argc);
    for (uint32_t i = 0; i < r1.argc; i++) {
        FUZZ_REQUIRE(strcmp(r1.argv[i], r2.argv[i]) == 0);
    }
    s_encode(&r2, &b2, &n2);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_console_req_free(&r1);
    tm_console_req_free(&r2);
    free(b1);
    free(b2);
    return 0;
}
