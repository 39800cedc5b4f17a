/* tm_text: names, ids and numbers as operators type them. */
#include "tm_text.h"

#include "tm_err.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool tm_text_word_valid(const char *s, uint32_t max)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok || i >= max) {
            return false;
        }
    }
    return true;
}

bool tm_text_id_valid(const char *s)
{
    return tm_text_word_valid(s, TM_ID_MAX);
}

bool tm_text_name_valid(const char *s)
{
    return tm_text_word_valid(s, TM_NAME_MAX);
}

int tm_text_parse_u64(const char *s, bool hex, uint64_t lo, uint64_t hi,
                      uint64_t *out)
{
    int base = 10;
    const char *digits = s;
    if (s == NULL) {
        return TM_ERR_INVAL;
    }
    if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        digits = s + 2;
    }
    /* strtoull alone would take spaces, a sign and (base 0) octal */
    size_t n =
        strspn(digits, base == 16 ? "0123456789abcdefABCDEF" : "0123456789");
    if (n == 0 || digits[n] != '\0') {
        return TM_ERR_INVAL;
    }
    errno = 0;
    unsigned long long x = strtoull(digits, NULL, base);
    if (errno == ERANGE || x < lo || x > hi) {
        return TM_ERR_RANGE;
    }
    *out = (uint64_t)x;
    return 0;
}

int tm_text_parse_f64(const char *s, double *out)
{
    /* strtod alone would take spaces, hex, nan and inf */
    if (s == NULL || s[0] == '\0' || s[strspn(s, "0123456789+-.eE")] != '\0') {
        return TM_ERR_INVAL;
    }
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0') {
        return TM_ERR_INVAL;
    }
    /* ERANGE: overflow (inf), or underflow; a subnormal result is kept,
     * a number that became 0 is not */
    if (!isfinite(x) || (errno == ERANGE && x == 0)) {
        return TM_ERR_RANGE;
    }
    *out = x;
    return 0;
}
