/* xoshiro256** seeded through splitmix64: fast, reproducible, state is four plain words so it
 * goes into checkpoints as is. */
#include "icstr_core.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void icstr_rng_seed(icstr_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t icstr_rng_u64(icstr_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t icstr_rng_below(icstr_rng *r, uint32_t n) {
    /* Lemire's multiply-shift; the tiny bias is irrelevant here */
    return (uint32_t)(((icstr_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

float icstr_rng_uniform(icstr_rng *r) { return (float)(icstr_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float icstr_rng_range(icstr_rng *r, float lo, float hi) { return lo + (hi - lo) * icstr_rng_uniform(r); }

float icstr_rng_normal(icstr_rng *r) {
    /* Box-Muller in double so the result is identical across compilers' float contraction */
    double u1 = ((double)(icstr_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(icstr_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
