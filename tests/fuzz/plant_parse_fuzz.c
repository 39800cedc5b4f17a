/* plant_parse_fuzz: tm_plant_parse on arbitrary text (the first byte picks
 * YAML or JSON). A refused text leaves an empty plant and a message that
 * names the file; an accepted one is written, read back and written again
 * to the same text. */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_plant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *s_write(const tm_plant_t *p, tm_plant_format_t format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_REQUIRE(f != NULL);
    FUZZ_REQUIRE(tm_plant_write(p, f, format) == 0);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tm_plant_t p;
    tm_plant_t q;
    if (size < 1) {
        return 0;
    }
    tm_plant_format_t format = data[0] & 1 ? TM_PLANT_JSON : TM_PLANT_YAML;
    char *text = malloc(size);
    FUZZ_REQUIRE(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    tm_plant_init(&p, "f");
    tm_plant_init(&q, "f");
    err[0] = '\0';
    int rc = tm_plant_parse(&p, "f", text, size - 1, format, err, sizeof err);
    if (rc != 0) {
        FUZZ_REQUIRE(rc == TM_ERR_PLANT || rc == TM_ERR_TOO_BIG ||
                     rc == TM_ERR_NOMEM);
        FUZZ_REQUIRE(strncmp(err, "f:", 2) == 0);
        FUZZ_REQUIRE(p.n_actors == 0 && p.n_links == 0);
        free(text);
        return 0;
    }
    char *w1 = s_write(&p, format);
    FUZZ_REQUIRE(
        tm_plant_parse(&q, "f", w1, strlen(w1), format, err, sizeof err) == 0);
    char *w2 = s_write(&q, format);
    FUZZ_REQUIRE(strcmp(w1, w2) == 0);
    FUZZ_REQUIRE(q.n_actors == p.n_actors && q.n_links == p.n_links);
    free(w1);
    free(w2);
    free(text);
    tm_plant_free(&p);
    tm_plant_free(&q);
    return 0;
}
