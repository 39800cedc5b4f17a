/* directory_fuzz: tm_directory_decode on arbitrary bytes; a decoded
 * directory keeps its limits, re-encodes, decodes to the same fields
 * (ownership epochs included), and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_msg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An entry as the decoder must hand it over: an id of 1 to
 * TM_MSG_NAME_MAX bytes, model and tier (add only) of at most that. */
static void s_check_entry(const tm_dir_entry_t *e, int full)
{
    FUZZ_REQUIRE(e->id[0] != '\0');
    FUZZ_REQUIRE(memchr(e->id, '\0', sizeof e->id) != NULL);
    if (full) {
        FUZZ_REQUIRE(memchr(e->model, '\0', sizeof e->model) != NULL);
        FUZZ_REQUIRE(memchr(e->tier, '\0', sizeof e->tier) != NULL);
    } else {
        FUZZ_REQUIRE(e->model[0] == '\0' && e->tier[0] == '\0');
    }
}

static void s_same(const tm_directory_t *a, const tm_directory_t *b)
{
    FUZZ_REQUIRE(a->inc == b->inc && a->seq == b->seq);
    FUZZ_REQUIRE(a->reset == b->reset);
    FUZZ_REQUIRE(a->n_add == b->n_add && a->n_del == b->n_del);
    for (uint32_t i = 0; i < a->n_add; i++) {
        FUZZ_REQUIRE(strcmp(a->add[i].id, b->add[i].id) == 0);
        FUZZ_REQUIRE(strcmp(a->add[i].model, b->add[i].model) == 0);
        FUZZ_REQUIRE(strcmp(a->add[i].tier, b->add[i].tier) == 0);
        FUZZ_REQUIRE(a->add[i].epoch == b->add[i].epoch);
    }
    for (uint32_t i = 0; i < a->n_del; i++) {
        FUZZ_REQUIRE(strcmp(a->del[i].id, b->del[i].id) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_directory_t d1;
    tm_directory_t d2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    /* Whatever the bytes: no out is refused, and so is a size limit one
     * byte short of the message (checked before anything is decoded). */
    FUZZ_REQUIRE(tm_directory_decode(data, size, NULL, NULL) == TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        tm_directory_t unused;
        FUZZ_REQUIRE(tm_directory_decode(data, size, &tight, &unused) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_directory_decode(data, size, NULL, &d1) != 0) {
        return 0;
    }
    FUZZ_REQUIRE(d1.reset == 0 || d1.reset == 1);
    FUZZ_REQUIRE((uint64_t)d1.n_add + d1.n_del <= TM_MSG_DIR_MAX);
    FUZZ_REQUIRE((d1.n_add == 0) == (d1.add == NULL));
    FUZZ_REQUIRE((d1.n_del == 0) == (d1.del == NULL));
    for (uint32_t i = 0; i < d1.n_add; i++) {
        s_check_entry(&d1.add[i], 1);
    }
    for (uint32_t i = 0; i < d1.n_del; i++) {
        s_check_entry(&d1.del[i], 0);
        FUZZ_REQUIRE(d1.del[i].epoch == 0); /* deletes carry no epoch */
    }
    FUZZ_REQUIRE(tm_directory_encode(&d1, &b1, &n1) == 0);
    FUZZ_REQUIRE(tm_directory_decode(b1, n1, NULL, &d2) == 0);
    s_same(&d1, &d2);
    FUZZ_REQUIRE(tm_directory_encode(&d2, &b2, &n2) == 0);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_directory_free(&d1);
    tm_directory_free(&d2);
    FUZZ_REQUIRE(d1.add == NULL && d1.n_add == 0 && d1.del == NULL);
    free(b1);
    free(b2);
    return 0;
}
