/* assert_rc.h: assert_rc(expr, want) for cmocka tests: fails with both
 * return codes by name (tm_err_name) and the expression. Include after
 * cmocka.h. */
#ifndef TM_ASSERT_RC_H
#define TM_ASSERT_RC_H

#include "tm_err.h"

static inline void s_assert_rc(int got, int want, const char *expr,
                               const char *file, int line)
{
    if (got != want) {
        print_error("%s returned %s (%d), expected %s (%d)\n", expr,
                    tm_err_name(got), got, tm_err_name(want), want);
        _fail(file, line);
    }
}

#define assert_rc(expr, want)                                                  \
    s_assert_rc((expr), (want), #expr, __FILE__, __LINE__)

#endif
