/* icstr core: float16 and bfloat16 conversions (part of icstr_core.h). Round to nearest even;
 * NaN stays NaN, overflow becomes infinity. Used by safetensors and the bf16 matrix products. */
#ifndef ICSTR_HALF_H
#define ICSTR_HALF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint16_t icstr_f32_to_f16(float f);
float icstr_f16_to_f32(uint16_t h);
uint16_t icstr_f32_to_bf16(float f);
float icstr_bf16_to_f32(uint16_t h);
void icstr_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);
void icstr_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void icstr_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);
void icstr_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif
