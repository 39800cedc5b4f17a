/* console_rep_fuzz: tm_console_rep_decode on arbitrary bytes; a decoded
 * reply re-encodes, decodes to the same fields, and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The borrowed, length-counted string as a C string (it holds no NUL). */
static char *s_cstr(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    FUZZ_REQUIRE(c != NULL);
    if (len > 0) {
        memcpy(c, s, len);
    }
    c[len] = '\0';
    return c;
}

static void s_encode(const tm_console_rep_t *rep, uint8_t **out, size_t *len)
{
    char *error = s_cstr(rep->error, rep->error_len);
    char *message = s_cstr(rep->message, rep->message_len);
    FUZZ_REQUIRE(tm_console_rep_encode(rep->status, error, message, rep->more,
                                       rep->body, rep->body_len, out,
                                       len) == 0);
    free(error);
    free(message);
}

static int s_same_str(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_console_rep_t r1;
    tm_console_rep_t r2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_console_rep_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_console_rep_t unused;
        FUZZ_REQUIRE(tm_console_rep_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_console_rep_decode(data, size, NULL, &r1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(r1.status <= 0);
    FUZZ_REQUIRE((r1.body == NULL) == (r1.body_len == 0));
    s_encode(&r1, &b1, &n1);
    FUZZ_REQUIRE(tm_console_rep_decode(b1, n1, NULL, &r2) == 0);
    FUZZ_REQUIRE(r2.status == r1.status && r2.more == r1.more);
    FUZZ_REQUIRE(s_same_str(r1.error, r1.error_len, r2.error, r2.error_len));
    FUZZ_REQUIRE(
        s_same_str(r1.message, r1.message_len, r2.message, r2.message_len));
    FUZZ_REQUIRE(s_same_str((const char *)r1.body, r1.body_len,
                            (const char *)r2.body, r2.body_len));
    s_encode(&r2, &b2, &n2);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    free(b1);
    free(b2);
    return 0;
}
