/* telemetry_fuzz: tm_telem_decode on arbitrary bytes. Whatever the bytes,
 * it returns or reports every sample; every sample it decodes has
 * NUL-terminated strings within their limits and re-encodes into a frame
 * that decodes to the same sample (value bits included). */
#include "fuzz_check.h"
#include "tm_err.h"
#include "tm_telem_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t ok;
    size_t bad;
    tm_telem_sample_t last;
} s_seen_t;

static void s_collect(void *arg, const tm_telem_sample_t *s, int status)
{
    s_seen_t *seen = arg;
    if (status != 0) {
        FUZZ_REQUIRE(s == NULL);
        seen->bad++;
        return;
    }
    FUZZ_REQUIRE(s != NULL);
    size_t la = strnlen(s->asset, sizeof s->asset);
    size_t ls = strnlen(s->signal, sizeof s->signal);
    size_t lu = strnlen(s->unit, sizeof s->unit);
    FUZZ_REQUIRE(la > 0 && la <= TM_TELEM_ASSET_MAX);
    FUZZ_REQUIRE(ls > 0 && ls <= TM_TELEM_SIGNAL_MAX);
    FUZZ_REQUIRE(lu <= TM_TELEM_UNIT_MAX);
    seen->ok++;
    seen->last = *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_seen_t seen = {0};
    int rc = tm_telem_decode(data, size, s_collect, &seen);
    if (rc != 0) {
        FUZZ_REQUIRE(seen.ok == 0 && seen.bad == 0);
        return 0;
    }
    FUZZ_REQUIRE(seen.ok + seen.bad >= 1);
    FUZZ_REQUIRE(seen.ok + seen.bad <= TM_TELEM_BATCH_MAX);
    if (seen.ok == 0) {
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    FUZZ_REQUIRE(tm_telem_encode(&seen.last, 1, 0, &buf, &len) == 0);
    s_seen_t again = {0};
    FUZZ_REQUIRE(tm_telem_decode(buf, len, s_collect, &again) == 0);
    FUZZ_REQUIRE(again.ok == 1 && again.bad == 0);
    FUZZ_REQUIRE(strcmp(again.last.asset, seen.last.asset) == 0);
    FUZZ_REQUIRE(strcmp(again.last.signal, seen.last.signal) == 0);
    FUZZ_REQUIRE(strcmp(again.last.unit, seen.last.unit) == 0);
    FUZZ_REQUIRE(again.last.ts == seen.last.ts);
    FUZZ_REQUIRE(memcmp(&again.last.value, &seen.last.value, sizeof(double)) ==
                 0);
    free(buf);
    return 0;
}
