/* float16 / bfloat16 <-> float32, bit-exact round-to-nearest-even. */
#include "icstr_core.h"

#include <string.h>

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t icstr_f32_to_bf16(float f) {
    uint32_t u = bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float icstr_bf16_to_f32(uint16_t h) { return float_of((uint32_t)h << 16); }

uint16_t icstr_f32_to_f16(float f) {
    uint32_t u = bits_of(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);           /* NaN */
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);          /* rounds past 65504: inf */
    if (abs < 0x38800000u) {                                            /* subnormal or zero in f16 */
        /* add 0.5 (as a float) so the FPU does the rounding into the subnormal grid */
        float r = float_of(abs) + 0.5f;
        return (uint16_t)(sign | (bits_of(r) - 0x3f000000u));
    }
    uint32_t mant_odd = (abs >> 13) & 1u;
    abs += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round to nearest even */
    return (uint16_t)(sign | (abs >> 13));
}

float icstr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return float_of(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        float m = (float)mant * (1.0f / 16777216.0f); /* mant * 2^-24 */
        return sign ? -m : m;
    }
    return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
}

void icstr_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = icstr_f32_to_bf16(src[i]);
}

void icstr_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = icstr_bf16_to_f32(src[i]);
}

void icstr_f32_to_f16_n(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = icstr_f32_to_f16(src[i]);
}

void icstr_f16_to_f32_n(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = icstr_f16_to_f32(src[i]);
}
