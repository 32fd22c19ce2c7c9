/*
 * nano-seedream: images with ByteDance Seedream 4.0 (Ark). Its registry
 * name, key and providers; the page, the API and the job runner come from
 * libnano (nano_module).
 */

#include "nano_ark.h"
#include "nano_jobgen.h"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "seedream",
    .key_env = "ARK_API_KEY",
    .jobs = &nano_jobgen_ark,
    .jobs_offline = &nano_jobgen_offline_image,
    .rules = {
        /* Ark's request has a size and no aspect ratio */
        .no_ratio = 1,
        /* Ark's: a smaller size was charged, then failed by the runner */
        .size_ok = nano_ark_size_valid,
        .size_rule = "size must be 1K, 2K, 4K or WIDTHxHEIGHT (256 to"
                     " 4096) of 1280x720 to 4096x4096 pixels in all",
        /* what Ark makes without a size (nano_ark_request_body), so
         * that the offline image is as large */
        .default_size = "2K",
    },
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
