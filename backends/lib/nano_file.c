/*
 * Small files read whole (nano_file.h).
 */

#include <stdlib.h>

#include "nano_file.h"

int
nano_file_read(FILE *f, size_t max, char **out, size_t *len)
{
    char    *data;
    size_t   n;

    *out = NULL;
    data = malloc(max + 1);
    if (data == NULL) {
        return -2;
    }
    /* one byte more than allowed tells "too long" from "exactly max" */
    n = fread(data, 1, max + 1, f);
    if (ferror(f) || n > max) {
        free(data);
        return -1;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}
