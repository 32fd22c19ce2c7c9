/*
 * CSV cells for downloads people open in spreadsheets: RFC 4180 quoting,
 * and no cell a spreadsheet would run as a formula.
 */

#ifndef NANO_CSV_H
#define NANO_CSV_H

#include "nano_buf.h"

/*
 * Appends s (NULL: an empty cell) as one cell.  A cell holding a comma,
 * a double quote, CR or LF is quoted, its quotes doubled (RFC 4180).  A
 * cell starting with = + - @, a tab or CR, which spreadsheets read as a
 * formula, gets a leading apostrophe and is quoted (OWASP's advice on
 * CSV injection).  Numbers the caller writes itself need neither.
 * Returns 0, or -1 when b failed.
 */
int nano_csv_cell(nano_buf_t *b, const char *s);

#endif /* NANO_CSV_H */
