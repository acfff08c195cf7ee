/* What the character-model tests share: a model counted from label strings, and random latents
 * for crops the tiny models read. Header-only, like check.h. */
#ifndef ICSTR_CHAR_LM_FIXTURES_H
#define ICSTR_CHAR_LM_FIXTURES_H

#include "char_lm.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

/* A character model of m (orders as p says) counted from n labels. */
static inline icstr_char_lm *char_lm_of_labels(icstr_model *m, const icstr_char_lm_params *p, const char **labels,
                                               int n) {
    icstr_char_lm *lm = NULL;
    CHECK(icstr_char_lm_create(m, p, &lm) == ICSTR_OK);
    for (int i = 0; i < n && lm; i++) {
        int tok[256], len;
        CHECK(icstr_model_encode_label(m, labels[i], tok, &len) == ICSTR_OK);
        CHECK(icstr_char_lm_add(lm, tok, len) == ICSTR_OK);
    }
    CHECK(lm && icstr_char_lm_labels(lm) == n);
    return lm;
}

/* n crops' latents (n, M, dec_dim) in [-1, 1) from seed s (a 64-bit LCG); the caller frees them */
static inline float *random_latents(const icstr_model *m, int n, uint64_t s) {
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t count = (size_t)n * c->latents * c->dec_dim;
    float *lat = malloc(count * sizeof *lat);
    if (!lat) exit(1);
    for (size_t i = 0; i < count; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        lat[i] = (float)((s >> 40) & 0xFFFF) / 32768.0f - 1.0f;
    }
    return lat;
}

#endif
