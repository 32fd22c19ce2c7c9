/*
 * Logging for backends: timestamped lines on stderr.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nano_log.h"
#include "nano_utf8.h"

#define NANO_LOG_LINE_MAX  2048
#define NANO_LOG_CTX_MAX   512

static const char  *nano_log_name = "nano";

/* the request this thread serves, for every line it logs meanwhile */
static __thread char  nano_log_ctx[NANO_LOG_CTX_MAX];

/* stderr is the journal's stream (systemd's StandardError=journal) */
static int          nano_log_journal;

/*
 * systemd names the stream it connected as "<dev>:<ino>" in
 * JOURNAL_STREAM; stderr is that stream when the two agree (a child that
 * redirected its stderr inherits the variable, not the stream).
 */
static int
nano_log_to_journal(void)
{
    const char          *v = getenv("JOURNAL_STREAM");
    unsigned long long   dev, ino;
    struct stat          st;
    char                 end;

    if (v == NULL
        || sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2
        || fstat(STDERR_FILENO, &st) != 0)
    {
        return 0;
    }
    return (unsigned long long) st.st_dev == dev
           && (unsigned long long) st.st_ino == ino;
}

void
nano_log_init(const char *name)
{
    if (name != NULL && name[0] != '\0') {
        nano_log_name = name;
    }
    nano_log_journal = nano_log_to_journal();
}

/* A message cut at line[*len] may end inside a character, whose other
 * bytes were never written: the cut goes before that character. */
static void
nano_log_cut(const char *line, size_t head, size_t *len)
{
    size_t         start = *len, need;
    unsigned char  lead;

    while (start > head && *len - start < 3
           && ((unsigned char) line[start - 1] & 0xc0) == 0x80)
    {
        start--;
    }
    if (start == head) {
        return;
    }
    lead = (unsigned char) line[start - 1];
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (need > 1 && *len - (start - 1) < need) {
        *len = start - 1;
    }
}

void
nano_log_context(const char *ctx)
{
    size_t  n;

    if (ctx == NULL) {
        nano_log_ctx[0] = '\0';
        return;
    }
    n = strlen(ctx);
    if (n >= sizeof(nano_log_ctx)) {
        n = sizeof(nano_log_ctx) - 1;
    }
    memcpy(nano_log_ctx, ctx, n);
    nano_log_ctx[n] = '\0';
}

void
nano_log(nano_log_level_t level, const char *fmt, ...)
{
    static const char *const  levels[] = { "info", "warn", "error" };
    /* the journal reads a line's priority from a "<N>" before it
     * (SyslogLevelPrefix=, on by default): without it every line was
     * "info" there, and journalctl -p err showed no error */
    static const char *const  prio[] = { "<6>", "<4>", "<3>" };
    char                      line[NANO_LOG_LINE_MAX];
    struct timespec           ts;
    struct tm                 tm;
    va_list                   ap;
    size_t                    head, len, i, o, seq, ctx, room;
    unsigned char             c;
    int                       n, saved = errno;

    /* errno is kept: a caller may log a failure before it reads errno */
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    level = level <= NANO_LOG_ERROR ? level : NANO_LOG_ERROR;
    n = snprintf(line, sizeof(line),
                 "%s%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                 nano_log_journal ? prio[level] : "", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, nano_log_name,
                 levels[level]);
    if (n < 0) {
        goto out;
    }
    head = (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;

    /* the context's " [...]" (at most NANO_LOG_CTX_MAX + 2 bytes) is
     * kept whole: a long message is cut before it, not the context */
    ctx = strlen(nano_log_ctx);
    ctx = ctx > 0 ? ctx + 3 : 0;
    room = sizeof(line) - head - 1 - ctx;

    va_start(ap, fmt);
    n = vsnprintf(line + head, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        goto out;
    }
    len = head + ((size_t) n < room ? (size_t) n : room - 1);
    if ((size_t) n >= room) {
        nano_log_cut(line, head, &len);
    }
    if (ctx > 0) {
        line[len++] = ' ';
        line[len++] = '[';
        memcpy(line + len, nano_log_ctx, ctx - 3);
        len += ctx - 3;
        line[len++] = ']';
    }

    /* Request data ends up in messages: keep one event on one line, of
     * strict UTF-8.  Controls (C0, DEL, and C1: U+0085 is a line break
     * to some readers) and bytes that are not UTF-8 become one '?' each.
     * Nothing grows, so the line is rewritten in place. */
    for (i = head, o = head; i < len; i += seq) {
        seq = nano_utf8_seq((const unsigned char *) line + i, len - i);
        c = (unsigned char) line[i];
        if (seq == 0 || (seq == 1 && (c < 0x20 || c == 0x7f))
            || (seq == 2 && c == 0xc2 && (unsigned char) line[i + 1] < 0xa0))
        {
            line[o++] = '?';
            if (seq == 0) {
                seq = 1;
            }
            continue;
        }
        memmove(line + o, line + i, seq);
        o += seq;
    }
    len = o;
    line[len++] = '\n';

    /* One write per line; a short write to stderr is not worth a retry. */
    if (write(STDERR_FILENO, line, len) < 0) {
        goto out;
    }
out:
    errno = saved;
}
