/*
 * Logging for backends: one line per event on stderr, written with a
 * single write(2) so lines from worker threads never interleave.
 * Never pass secrets, tokens, passwords or cookie values to it.
 */

#ifndef NANO_LOG_H
#define NANO_LOG_H

typedef enum {
    NANO_LOG_INFO = 0,
    NANO_LOG_WARN,
    NANO_LOG_ERROR
} nano_log_level_t;

/* Sets the program name shown on every line; name is borrowed for the
 * life of the process. */
void nano_log_init(const char *name);

/* Logs one line of strict UTF-8.  Control characters (C0, DEL, C1) and
 * bytes that are not UTF-8 in the message become '?', so request data
 * cannot forge log lines; long lines are cut before a character, never
 * inside one.  errno is left as it was. */
void nano_log(nano_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Sets this thread's context: text appended as " [ctx]" to every line
 * the thread logs until it is set again or cleared (NULL or ""), so that
 * a failure logged deep inside a request names that request (its id,
 * user, method and path).  Copied; cut at 511 bytes.
 */
void nano_log_context(const char *ctx);

#define nano_log_info(...)   nano_log(NANO_LOG_INFO, __VA_ARGS__)
#define nano_log_warn(...)   nano_log(NANO_LOG_WARN, __VA_ARGS__)
#define nano_log_error(...)  nano_log(NANO_LOG_ERROR, __VA_ARGS__)

#endif /* NANO_LOG_H */
