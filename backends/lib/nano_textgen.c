/*
 * The result of a text generation.
 */

#include <string.h>

#include "nano_textgen.h"

void
nano_textgen_res_init(nano_textgen_res_t *res)
{
    memset(res, 0, sizeof(*res));
    nano_buf_init(&res->text);
}

void
nano_textgen_res_cleanup(nano_textgen_res_t *res)
{
    if (res == NULL) {
        return;
    }
    nano_buf_cleanup(&res->text);
    nano_textgen_res_init(res);
}
