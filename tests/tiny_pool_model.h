/* The tiny model the pool tests share: 8x32 input, widths 16, one layer each, M=4 latents,
 * labels of up to 8 characters from TINY_POOL_CHARS. Header-only, like check.h. */
#ifndef ICSTR_TINY_POOL_MODEL_H
#define ICSTR_TINY_POOL_MODEL_H

#include "model.h"

#include <stdio.h>
#include <stdlib.h>

#define TINY_POOL_CHARS "abcdefghijklmnopqrstuvwxyz0123456789"

/* Exits the test when the model cannot be made: nothing after it could run. */
static inline icstr_model *tiny_model_with_chars(uint64_t seed, const char *charset) {
    icstr_model_config c = icstr_model_default_config();
    c.img_h = 8, c.img_w = 32, c.stem = 0, c.patch_h = 4, c.patch_w = 4;
    c.enc_dim = 16, c.enc_layers = 1, c.enc_heads = 2, c.enc_mlp = 32;
    c.latents = 4, c.resampler_layers = 1;
    c.dec_dim = 16, c.dec_layers = 1, c.dec_heads = 2, c.dec_mlp = 32;
    c.max_label = 8, c.max_prompts = 3;
    snprintf(c.charset, sizeof c.charset, "%s", charset);
    icstr_model *m = NULL;
    if (icstr_model_create(&c, 0, &m)) exit(1);
    icstr_model_init_weights(m, seed);
    return m;
}

static inline icstr_model *tiny_pool_model(uint64_t seed) { return tiny_model_with_chars(seed, TINY_POOL_CHARS); }

#endif
