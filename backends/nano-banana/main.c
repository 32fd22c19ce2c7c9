/*
 * nano-nano-banana: images with Google Gemini 2.5 Flash Image, also editing
 * an uploaded one. Its registry name, key and providers; the page, the API
 * and the job runner come from libnano (nano_module).
 */

#include "nano_jobgen.h"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "nano-banana",
    .key_env = "GEMINI_API_KEY",
    .jobs = &nano_jobgen_gemini,
    .jobs_offline = &nano_jobgen_offline_image,
    .rules = {
        .image_input = 1,
        /* Gemini's image config has an aspect ratio and no size */
        .no_size = 1,
    },
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
