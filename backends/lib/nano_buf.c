/*
 * Growable byte buffers.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nano_buf.h"

void
nano_buf_init(nano_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void
nano_buf_cleanup(nano_buf_t *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    nano_buf_init(b);
}

/* Makes room for n more bytes plus the NUL. */
static int
nano_buf_reserve(nano_buf_t *b, size_t n)
{
    size_t   need, cap;
    char    *p;

    if (b->failed) {
        return -1;
    }
    if (n > ((size_t) -1) / 2 - b->len) {
        goto fail;
    }
    need = b->len + n + 1;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        goto fail;
    }
    b->data = p;
    b->cap = cap;
    return 0;

fail:
    b->failed = 1;
    return -1;
}

int
nano_buf_append(nano_buf_t *b, const char *s, size_t n)
{
    if (nano_buf_reserve(b, n) != 0) {
        return -1;
    }
    if (n > 0) {
        memcpy(b->data + b->len, s, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
nano_buf_puts(nano_buf_t *b, const char *s)
{
    return nano_buf_append(b, s, strlen(s));
}

int
nano_buf_printf(nano_buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || nano_buf_reserve(b, (size_t) n) != 0) {
        b->failed = 1;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
    return 0;
}

int
nano_buf_html(nano_buf_t *b, const char *s)
{
    const char  *run = s, *esc;

    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':  esc = "&amp;";  break;
        case '<':  esc = "&lt;";   break;
        case '>':  esc = "&gt;";   break;
        case '"':  esc = "&quot;"; break;
        case '\'': esc = "&#39;";  break;
        default:   continue;
        }
        nano_buf_append(b, run, (size_t) (s - run));
        nano_buf_puts(b, esc);
        run = s + 1;
    }
    return nano_buf_append(b, run, (size_t) (s - run));
}

int
nano_buf_urlencode(nano_buf_t *b, const char *s)
{
    static const char  hex[] = "0123456789ABCDEF";
    unsigned char      c;
    char               enc[3];

    for (; *s != '\0'; s++) {
        c = (unsigned char) *s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            nano_buf_append(b, (const char *) &c, 1);
            continue;
        }
        enc[0] = '%';
        enc[1] = hex[c >> 4];
        enc[2] = hex[c & 0x0f];
        nano_buf_append(b, enc, 3);
    }
    return b->failed ? -1 : 0;
}

char *
nano_buf_steal(nano_buf_t *b)
{
    char  *s;

    if (b->failed) {
        nano_buf_cleanup(b);
        return NULL;
    }
    if (b->data == NULL) {
        return strdup("");
    }
    s = b->data;
    nano_buf_init(b);
    return s;
}
