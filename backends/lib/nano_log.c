/*
 * Logging for backends: timestamped lines on stderr.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nano_log.h"

#define NANO_LOG_LINE_MAX  2048

static const char  *nano_log_name = "nano";

void
nano_log_init(const char *name)
{
    if (name != NULL && name[0] != '\0') {
        nano_log_name = name;
    }
}

void
nano_log(nano_log_level_t level, const char *fmt, ...)
{
    static const char *const  levels[] = { "info", "warn", "error" };
    char                      line[NANO_LOG_LINE_MAX];
    struct timespec           ts;
    struct tm                 tm;
    va_list                   ap;
    size_t                    head, len, i;
    int                       n, saved = errno;

    /* errno is kept: a caller may log a failure before it reads errno */
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, nano_log_name,
                 levels[level <= NANO_LOG_ERROR ? level : NANO_LOG_ERROR]);
    if (n < 0) {
        goto out;
    }
    head = (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;

    va_start(ap, fmt);
    n = vsnprintf(line + head, sizeof(line) - head - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        goto out;
    }
    len = head + ((size_t) n < sizeof(line) - head - 1
                  ? (size_t) n : sizeof(line) - head - 2);

    /* Request data ends up in messages: keep one event on one line. */
    for (i = head; i < len; i++) {
        if ((unsigned char) line[i] < 0x20 || line[i] == 0x7f) {
            line[i] = '?';
        }
    }
    line[len++] = '\n';

    /* One write per line; a short write to stderr is not worth a retry. */
    if (write(STDERR_FILENO, line, len) < 0) {
        goto out;
    }
out:
    errno = saved;
}
