/*
 * CSV cells: quoting and formula neutralising.
 */

#include <string.h>

#include "nano_csv.h"

int
nano_csv_cell(nano_buf_t *b, const char *s)
{
    const char  *p;
    int          formula, quote;

    if (s == NULL || s[0] == '\0') {
        return b->failed ? -1 : 0;
    }
    formula = strchr("=+-@\t\r", s[0]) != NULL;
    quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote) {
        nano_buf_puts(b, "\"");
    }
    if (formula) {
        nano_buf_puts(b, "'");
    }
    for (p = s; *p != '\0'; p++) {
        if (*p == '"') {
            nano_buf_puts(b, "\"\"");
        } else {
            nano_buf_append(b, p, 1);
        }
    }
    if (quote) {
        nano_buf_puts(b, "\"");
    }
    return b->failed ? -1 : 0;
}
