/*
 * nano-qwen: text with Alibaba's Qwen (DashScope compatible mode). Its
 * registry name, key and providers; the page, the API and the job runner
 * come from libnano (nano_module).
 */

#include "nano_textgen.h"
#include "nano_module.h"

static const nano_module_def_t  module = {
    .name = "qwen",
    .key_env = "DASHSCOPE_API_KEY",
    .text = &nano_textgen_dashscope,
    .text_offline = &nano_textgen_offline,
};

int
main(int argc, char **argv)
{
    return nano_module_main(argc, argv, &module);
}
