/* fuzz_check: the one assertion of the fuzz targets. A property that fails
 * aborts, so that libFuzzer records the input as a crash. */
#ifndef TM_FUZZ_CHECK_H_INCLUDED
#define TM_FUZZ_CHECK_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(cond)                                                     \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
