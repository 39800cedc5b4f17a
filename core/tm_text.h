/* tm_text: names, ids and numbers as operators type them.
 *
 * The node's config, the console's commands and the runtime read ids and
 * numbers through these functions, so that every entry point accepts and
 * refuses exactly the same things. Nothing here allocates or logs.
 */
#ifndef TM_TEXT_H_INCLUDED
#define TM_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define TM_ID_MAX   64u /* bytes in an actor id, without the NUL */
#define TM_NAME_MAX 64u /* bytes in a node or site name, without the NUL */

/* true if s is 1..max bytes of letters, digits, '_' and '-'. */
bool tm_text_word_valid(const char *s, uint32_t max);

/* An actor id: tm_text_word_valid(s, TM_ID_MAX). */
bool tm_text_id_valid(const char *s);

/* A node or site name: tm_text_word_valid(s, TM_NAME_MAX). */
bool tm_text_name_valid(const char *s);

/* The whole of s as an integer in [lo, hi]: decimal digits, or with hex
 * also "0x" and hex digits. No sign, no spaces, never octal ("0100" is one
 * hundred). Errors: TM_ERR_INVAL (not such a number), TM_ERR_RANGE (a
 * number outside [lo, hi]). *out is written only on success. */
int tm_text_parse_u64(const char *s, bool hex, uint64_t lo, uint64_t hi,
                      uint64_t *out);

/* The whole of s as a finite decimal number ("2", "-1.5e-3", ".5"): no
 * hex, nan, inf or spaces. Errors: TM_ERR_INVAL, TM_ERR_RANGE (beyond a
 * double: it overflows, or a number other than 0 would round to 0). */
int tm_text_parse_f64(const char *s, double *out);

#endif
