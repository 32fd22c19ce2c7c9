/*
 * nano-wan-2.5: video with Alibaba's Wan 2.5 (DashScope asynchronous
 * tasks). Its registry name, key and providers; the page, the API and the
 * job runner come from libnano (nano_module).
 */

#include "nano_jobgen.h"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "wan-2.5",
    .key_env = "DASHSCOPE_API_KEY",
    .jobs = &nano_jobgen_wan,
    .jobs_offline = &nano_jobgen_offline_video,
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
