/* The whole training path can memorise: a tiny model trained with AdamW on 12 fixed drawn images
 * with fixed labels (half of them also behind a labelled prompt) reaches a near-zero loss and reads
 * every label back exactly (greedy, beam, and behind the prompt); two runs from the same seed give
 * bit-identical losses and weights. */
#include "check.h"
#include "icstr_core.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

enum { NIMG = 12, NPROMPTED = 6, H = 8, W = 32, STEPS = 300 };

static const char *labels[NIMG] = {"abc", "fed", "a",   "bb",   "cafe", "dab",
                                   "ec",  "fa",  "bed", "face", "d",    "cab"};

/* Each character fills an 8-pixel column band with its own pattern: a colour channel, a stripe
 * period and a phase, plus a little noise, so the label is written left to right. */
static void draw(float *img, const char *label, icstr_rng *r) {
    for (size_t i = 0; i < (size_t)3 * H * W; i++) img[i] = -0.8f + 0.1f * icstr_rng_normal(r);
    for (int k = 0; label[k]; k++) {
        int ch = label[k] - 'a';
        int chan = ch % 3, period = 2 + ch / 3;
        for (int y = 0; y < H; y++)
            for (int x = k * 8; x < k * 8 + 8 && x < W; x++) {
                float v = ((x + y * (ch % 2)) / period) % 2 ? 0.9f : -0.2f;
                img[((size_t)chan * H + y) * W + x] = v;
            }
    }
}

static icstr_model_config overfit_config(void) {
    icstr_model_config c = icstr_model_default_config();
    c.img_h = H;
    c.img_w = W;
    c.stem = 1;
    c.patch_h = 4;
    c.patch_w = 4;
    c.stem_channels = 8;
    c.enc_dim = 32;
    c.enc_layers = 1;
    c.enc_heads = 2;
    c.enc_mlp = 64;
    c.latents = 4;
    c.resampler_layers = 1;
    c.dec_dim = 32;
    c.dec_layers = 1;
    c.dec_heads = 2;
    c.dec_mlp = 64;
    c.max_label = 4;
    c.max_prompts = 1;
    strcpy(c.charset, "abcdef");
    c.ctc_weight = 0.5f;
    c.label_smoothing = 0.0f;
    return c;
}

static float images[NIMG * 3 * H * W];
static int tokens[NIMG * 4], lens[NIMG];

/* Trains from seed 1; writes the loss of every step; returns the model (caller frees). */
static icstr_model *train(float *losses) {
    icstr_model_config cfg = overfit_config();
    icstr_model *m = NULL;
    if (icstr_model_create(&cfg, 1, &m)) return NULL;
    icstr_model_init_weights(m, 1);
    for (int i = 0; i < NIMG; i++)
        CHECK(icstr_model_encode_label(m, labels[i], tokens + i * 4, &lens[i]) == ICSTR_OK);
    /* 12 plain sequences, then 6 with a prompt: image i+1 with its label before query i */
    enum { B = NIMG + NPROMPTED };
    static int chunk_image[B * 2], chunk_label[B * 2 * 4], chunk_len[B * 2], n_chunks[B];
    for (int q = 0; q < B; q++) {
        int i = q % NIMG, np = q >= NIMG;
        int img[2] = {(i + 1) % NIMG, i};
        n_chunks[q] = 1 + np;
        for (int c = 0; c <= np; c++) {
            int k = np ? img[c] : i;
            chunk_image[q * 2 + c] = k;
            chunk_len[q * 2 + c] = lens[k];
            memcpy(chunk_label + (q * 2 + c) * 4, tokens + k * 4, 4 * sizeof(int));
        }
    }
    icstr_batch b = {B, images, NIMG, chunk_image, chunk_label, chunk_len, n_chunks, 2, NULL};
    icstr_adamw_params ap = icstr_adamw_default_params();
    ap.weight_decay = 0.0f;
    icstr_slab *s = icstr_model_slab(m);
    icstr_rng r;
    icstr_rng_seed(&r, 3);
    for (int step = 0; step < STEPS; step++) {
        icstr_slab_zero_grad(s);
        icstr_loss_info li;
        if (icstr_model_train_step(m, &b, &r, &li)) {
            CHECK_MSG(0, "train_step: %s", icstr_last_error());
            break;
        }
        losses[step] = li.loss;
        icstr_clip_grad_norm(s, 1.0f);
        icstr_adamw_step(s, &ap, icstr_lr_schedule(step, 20, STEPS, 3e-3f, 3e-4f), step + 1);
    }
    return m;
}

int main(void) {
    icstr_set_threads(1);
    icstr_rng r;
    icstr_rng_seed(&r, 9);
    for (int i = 0; i < NIMG; i++) draw(images + (size_t)i * 3 * H * W, labels[i], &r);

    static float l1[STEPS], l2[STEPS];
    double t0 = icstr_now_seconds();
    icstr_model *m = train(l1);
    double t1 = icstr_now_seconds();
    CHECK(m != NULL);
    if (!m) return check_finish("test_model_overfit");
    printf("loss: step 0 %.4f, step %d %.4f, last %.5f (%.2f s)\n", l1[0], STEPS / 2, l1[STEPS / 2],
           l1[STEPS - 1], t1 - t0);
    CHECK_MSG(l1[STEPS - 1] < 0.05f, "final loss %.4f", l1[STEPS - 1]);
    CHECK(l1[STEPS - 1] < 0.02f * l1[0]);

    /* every label comes back, greedy and beam */
    char texts[NIMG][16];
    char *tp[NIMG];
    float conf[NIMG];
    for (int i = 0; i < NIMG; i++) tp[i] = texts[i];
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_recognize(m, images, NIMG, &dp, tp, 16, conf) == ICSTR_OK);
    for (int i = 0; i < NIMG; i++) {
        CHECK_MSG(!strcmp(texts[i], labels[i]), "image %d: '%s', label '%s'", i, texts[i], labels[i]);
        CHECK_MSG(conf[i] > 0.9f, "image %d: confidence %.3f", i, conf[i]);
    }
    dp.beam = 3;
    CHECK(icstr_model_recognize(m, images, NIMG, &dp, tp, 16, conf) == ICSTR_OK);
    for (int i = 0; i < NIMG; i++) CHECK_MSG(!strcmp(texts[i], labels[i]), "beam, image %d: '%s'", i, texts[i]);

    /* with the trained prompt in front */
    {
        int M = 4, D = 32;
        static float lat[NIMG * 4 * 32];
        CHECK(icstr_model_encode(m, images, NIMG, lat, NULL) == ICSTR_OK);
        icstr_context ctx[NPROMPTED];
        for (int i = 0; i < NPROMPTED; i++) {
            int k = (i + 1) % NIMG;
            ctx[i].n_prompts = 1;
            ctx[i].latents = lat + (size_t)k * M * D;
            ctx[i].labels = tokens + k * 4;
            ctx[i].label_len = &lens[k];
        }
        dp.beam = 1;
        CHECK(icstr_model_decode(m, lat, NPROMPTED, ctx, &dp, tp, 16, conf) == ICSTR_OK);
        for (int i = 0; i < NPROMPTED; i++)
            CHECK_MSG(!strcmp(texts[i], labels[i]), "prompted %d: '%s'", i, texts[i]);
    }

    /* the same run again is the same, bit for bit */
    icstr_model *m2 = train(l2);
    CHECK(m2 != NULL);
    CHECK_MSG(memcmp(l1, l2, sizeof l1) == 0, "two runs differ");
    char f1[65], f2[65];
    icstr_model_fingerprint(m, f1);
    if (m2) icstr_model_fingerprint(m2, f2);
    CHECK(m2 && !strcmp(f1, f2));
    icstr_model_free(m);
    icstr_model_free(m2);
    return check_finish("test_model_overfit");
}
