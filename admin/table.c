/*
 * Aligned columns for a terminal.  Values come from users (names,
 * emails), so control characters are shown as '?': an escape sequence
 * in a name must not reach the operator's terminal.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

#define ADMIN_CELL_MAX  60      /* characters shown of one value */

/* Characters (not bytes) of a UTF-8 string, up to max. */
static size_t
admin_width(const char *s, size_t max)
{
    size_t  n = 0;

    for (; *s != '\0' && n < max; s++) {
        if (((unsigned char) *s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Prints s padded to width characters, at most ADMIN_CELL_MAX. */
static void
admin_print_cell(const char *s, size_t width, int last)
{
    const unsigned char  *p = (const unsigned char *) s;
    size_t                n = 0;

    while (*p != '\0' && n < ADMIN_CELL_MAX) {
        if (*p < 0x20 || *p == 0x7F) {
            putchar('?');
            p++;
        } else if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            putchar('?');          /* C1 controls, U+0080-U+009F */
            p += 2;
        } else {
            do {
                putchar(*p++);
            } while ((*p & 0xC0) == 0x80);
        }
        n++;
    }
    if (*p != '\0') {
        fputs("\xe2\x80\xa6", stdout);
        n++;
    }
    if (!last) {
        for (; n < width + 2; n++) {
            putchar(' ');
        }
    }
}

void
admin_print_table(const PGresult *r)
{
    int      rows = PQntuples(r), cols = PQnfields(r), i, j;
    size_t  *width, w;

    width = calloc((size_t) cols + 1, sizeof(*width));
    if (width == NULL) {
        return;
    }
    for (j = 0; j < cols; j++) {
        width[j] = admin_width(PQfname(r, j), ADMIN_CELL_MAX + 1);
        for (i = 0; i < rows; i++) {
            w = admin_width(PQgetvalue(r, i, j), ADMIN_CELL_MAX + 1);
            width[j] = w > width[j] ? w : width[j];
        }
    }
    for (j = 0; j < cols; j++) {
        admin_print_cell(PQfname(r, j), width[j], j == cols - 1);
    }
    putchar('\n');
    for (i = 0; i < rows; i++) {
        for (j = 0; j < cols; j++) {
            admin_print_cell(PQgetisnull(r, i, j) ? "-" : PQgetvalue(r, i, j),
                             width[j], j == cols - 1);
        }
        putchar('\n');
    }
    free(width);
}
