/* icstr core: safetensors reader and writer (part of icstr_core.h). Placeholder until the
 * safetensors work lands. */
#ifndef ICSTR_SAFETENSORS_H
#define ICSTR_SAFETENSORS_H
#endif
