/* tm_log: levelled logging to stderr with printf-format checking.
 *
 * Thread-safe: each call writes one whole line with a single write(2).
 * core/ and protocol/ return errors and leave logging to actors and nodes.
 */
#ifndef TM_LOG_H_INCLUDED
#define TM_LOG_H_INCLUDED

typedef enum {
    TM_LOG_DEBUG = 0,
    TM_LOG_INFO = 1,
    TM_LOG_WARN = 2,
    TM_LOG_ERROR = 3,
    TM_LOG_OFF = 4
} tm_log_level_t;

/* Messages below this level are dropped. Default TM_LOG_INFO, or the value
 * of the TM_LOG environment variable (debug, info, warn, error, off) read
 * on the first call. */
void tm_log_set_level(tm_log_level_t level);
tm_log_level_t tm_log_get_level(void);

/* Parse "debug", "info", "warn", "error" or "off"; -1 if not one of them. */
int tm_log_level_parse(const char *name);

/* Tag put in front of every line (e.g. the node name); copied, may be NULL.
 * Not thread-safe: set it before starting threads. */
void tm_log_set_tag(const char *tag);

/* Write "<time> <LEVEL> [tag] message\n" to stderr. */
void tm_log(tm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
