/* plant_chunk_fuzz: tm_plant_chunk_decode on arbitrary bytes. Nothing is
 * appended on error; a decoded chunk re-encodes, decodes to the same
 * plant (positions and file places included) and encodes stably. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_plant.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_encode(const tm_plant_t *p, const tm_plant_chunk_t *h,
                     uint8_t **out, size_t *len)
{
    tm_plant_chunk_t hdr = *h;
    size_t na = 0;
    size_t nl = 0;
    FUZZ_REQUIRE(
        tm_plant_chunk_encode(p, &hdr, &na, &nl, SIZE_MAX / 2, out, len) == 0);
    FUZZ_REQUIRE(hdr.final && na == p->n_actors && nl == p->n_links);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_plant_t p1;
    tm_plant_t p2;
    tm_plant_chunk_t h1;
    tm_plant_chunk_t h2;
    uint8_t *b1 = NULL;
    uint8_t *b2 = NULL;
    size_t n1 = 0;
    size_t n2 = 0;

    tm_plant_init(&p1, "fuzz");
    tm_plant_init(&p2, "fuzz");
    FUZZ_REQUIRE(tm_plant_chunk_decode(data, size, NULL, NULL, &p1) ==
                 TM_ERR_INVAL);
    if (size > 1) {
        tm_wire_limits_t tight = {size - 1, 0};
        FUZZ_REQUIRE(tm_plant_chunk_decode(data, size, &tight, &h1, &p1) ==
                     TM_ERR_WIRE_TOO_LARGE);
    }
    if (tm_plant_chunk_decode(data, size, NULL, &h1, &p1) != 0) {
        /* nothing appended */
        FUZZ_REQUIRE(p1.n_actors == 0 && p1.n_links == 0 && p1.n_values == 0);
        tm_plant_free(&p1);
        return 0;
    }
    FUZZ_REQUIRE(p1.n_actors == h1.actors && p1.n_links == h1.links);
    snprintf(p1.file, sizeof p1.file, "%s", h1.file); /* as the node does */
    s_encode(&p1, &h1, &b1, &n1);
    FUZZ_REQUIRE(tm_plant_chunk_decode(b1, n1, NULL, &h2, &p2) == 0);
    FUZZ_REQUIRE(h2.upload == h1.upload && h2.index == h1.index);
    FUZZ_REQUIRE(strcmp(h2.file, h1.file) == 0);
    FUZZ_REQUIRE(p2.n_actors == p1.n_actors && p2.n_links == p1.n_links &&
                 p2.n_values == p1.n_values);
    for (size_t i = 0; i < p1.n_values; i++) {
        FUZZ_REQUIRE(memcmp(&p1.values[i].value, &p2.values[i].value,
                            sizeof(double)) == 0);
    }
    for (size_t i = 0; i < p1.n_actors; i++) { /* file places, given or not */
        FUZZ_REQUIRE(p1.actors[i].index == p2.actors[i].index &&
                     p1.actors[i].index < TM_PLANT_ACTORS_MAX);
    }
    for (size_t i = 0; i < p1.n_links; i++) {
        FUZZ_REQUIRE(p1.links[i].index == p2.links[i].index &&
                     p1.links[i].delay >= 1 &&
                     p1.links[i].delay <= TM_PLANT_DELAY_MAX);
    }
    snprintf(p2.file, sizeof p2.file, "%s", h2.file);
    s_encode(&p2, &h2, &b2, &n2);
    FUZZ_REQUIRE(n1 == n2 && memcmp(b1, b2, n1) == 0);
    tm_plant_free(&p1);
    tm_plant_free(&p2);
    free(b1);
    free(b2);
    return 0;
}
