/*
 * nano-seedream: images with ByteDance Seedream 4.0 (Ark). Its registry
 * name, key and providers; the page, the API and the job runner come from
 * libnano (nano_module).
 */

#include "nano_jobgen.h"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "seedream",
    .key_env = "ARK_API_KEY",
    .jobs = &nano_jobgen_ark,
    .jobs_offline = &nano_jobgen_offline_image,
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
