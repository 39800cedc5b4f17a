/* tm_log: one line per call, written atomically to stderr. */
#include "tm_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int s_level = -1;
static char s_tag[64];

static const char *const s_names[] = {"debug", "info", "warn", "error", "off"};

int tm_log_level_parse(const char *name)
{
    if (name == NULL) {
        return -1;
    }
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, s_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

tm_log_level_t tm_log_get_level(void)
{
    int level = atomic_load(&s_level);
    if (level < 0) {
        level = tm_log_level_parse(getenv("TM_LOG"));
        if (level < 0) {
            level = TM_LOG_INFO;
        }
        atomic_store(&s_level, level);
    }
    return (tm_log_level_t)level;
}

void tm_log_set_level(tm_log_level_t level)
{
    atomic_store(&s_level, (int)level);
}

void tm_log_set_tag(const char *tag)
{
    if (tag == NULL) {
        s_tag[0] = '\0';
    } else {
        snprintf(s_tag, sizeof s_tag, "%s", tag);
    }
}

void tm_log(tm_log_level_t level, const char *fmt, ...)
{
    if (level < tm_log_get_level() || level >= TM_LOG_OFF) {
        return;
    }
    char line[2048];
    struct timespec ts;
    struct tm tmv;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tmv);
    static const char *const upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    int n =
        snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                 tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour,
                 tmv.tm_min, tmv.tm_sec, ts.tv_nsec / 1000000L, upper[level]);
    if (s_tag[0] != '\0' && n > 0 && (size_t)n < sizeof line) {
        n += snprintf(line + n, sizeof line - (size_t)n, "[%s] ", s_tag);
    }
    if (n > 0 && (size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0) {
            n += m;
        }
    }
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof line - 1) {
        n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, line + off, (size_t)(n - off));
        if (w <= 0) {
            break;
        }
        off += w;
    }
}
