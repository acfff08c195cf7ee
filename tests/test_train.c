/* The trainer end to end on a tiny config: a handful of rendered words in an STR LMDB, a few
 * hundred steps: the loss falls and the model then reads every word back; two runs give
 * bit-identical checkpoints; a run stopped halfway and resumed equals an uninterrupted one. */
#include "check.h"
#include "icstr_data.h"
#include "model_io.h"
#include "train.h"
#include "read_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_WORDS 8
static char words[N_WORDS][32];
static char tmpdir[] = "/tmp/icstr_test_train_XXXXXX";

static int make_words_lmdb(const char *path) {
    icstr_render_params rp = icstr_render_default_params();
    rp.max_fonts = 3;
    rp.min_len = 3;
    rp.max_len = 5;
    rp.difficulty = 0.0f;
    icstr_renderer *r = NULL;
    if (icstr_render_create(&rp, &r)) return -1;
    icstr_str_writer *w = NULL;
    if (icstr_str_writer_open(path, &w)) return -1;
    icstr_render_crop crop = {0};
    for (int i = 0; i < N_WORDS; i++) {
        unsigned char *png;
        size_t len;
        if (icstr_render_sample(r, 7, (uint64_t)i, &crop)) return -1;
        if (icstr_image_encode_png(crop.w, crop.h, 3, crop.rgb, &png, &len)) return -1;
        snprintf(words[i], sizeof words[i], "%s", crop.label);
        int rc = icstr_str_writer_add(w, png, len, crop.label, NULL);
        free(png);
        if (rc) return -1;
    }
    icstr_render_crop_free(&crop);
    icstr_render_free(r);
    return icstr_str_writer_close(w);
}

static void configure(icstr_model_config *mc, icstr_train_config *tc, const char *out, long steps) {
    *mc = icstr_model_default_config();
    mc->img_h = 16;
    mc->img_w = 64;
    mc->stem = 0;
    mc->patch_h = 4;
    mc->patch_w = 8;
    mc->enc_dim = mc->dec_dim = 32;
    mc->enc_layers = mc->dec_layers = 1;
    mc->enc_heads = mc->dec_heads = 2;
    mc->enc_mlp = mc->dec_mlp = 64;
    mc->latents = 8;
    mc->max_label = 8;
    *tc = icstr_train_default_config();
    tc->steps = steps;
    tc->batch_size = 8;
    tc->lr = 3e-3f;
    tc->warmup = 20;
    tc->threads = 1;
    tc->synth_fraction = 0.0f;
    tc->n_sources = 1;
    snprintf(tc->sources[0].path, sizeof tc->sources[0].path, "%s/words.lmdb", tmpdir);
    tc->sources[0].weight = 1.0f;
    tc->augment = 0;
    tc->val_size = 0;
    tc->log_every = 50;
    tc->eval_every = 0;
    tc->checkpoint_every = 0;
    snprintf(tc->out_dir, sizeof tc->out_dir, "%s/%s", tmpdir, out);
}

static int same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    unsigned char *x = read_file(a, &la), *y = read_file(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

/* first and last loss in the run's CSV */
static void csv_losses(const char *dir, double *first, double *last) {
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    FILE *f = fopen(path, "r");
    *first = *last = -1;
    if (!f) return;
    int row = 0;
    while (fgets(line, sizeof line, f)) {
        if (row++ == 0) continue;
        double loss = atof(strchr(line, ',') + 1);
        if (*first < 0) *first = loss;
        *last = loss;
    }
    fclose(f);
}

int main(void) {
    icstr_log_set_level(ICSTR_LOG_WARN);
    if (!mkdtemp(tmpdir)) return 1;
    char path[1024], path2[1024];
    snprintf(path, sizeof path, "%s/words.lmdb", tmpdir);
    CHECK(make_words_lmdb(path) == ICSTR_OK);

    const long steps = 300;
    icstr_model_config mc;
    icstr_train_config tc;
    icstr_train_options opt = {.resume = 1, .max_steps_now = 0, .quiet = 1};
    configure(&mc, &tc, "a", steps);
    CHECK_MSG(icstr_train_run(&mc, &tc, &opt) == ICSTR_OK, "%s", icstr_last_error());
    double first, last;
    csv_losses(tc.out_dir, &first, &last);
    CHECK_MSG(first > 0 && last < 0.5 * first, "loss %g -> %g", first, last);

    /* the trained model reads every word back */
    icstr_model *m = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", tc.out_dir);
    CHECK(icstr_model_load(path, 0, &m) == ICSTR_OK);
    if (m) {
        icstr_dataset *ds = NULL;
        snprintf(path2, sizeof path2, "%s/words.lmdb", tmpdir);
        CHECK(icstr_dataset_open(path2, &ds) == ICSTR_OK);
        float *img = malloc(sizeof(float) * 3 * mc.img_h * mc.img_w * N_WORDS);
        for (int i = 0; i < N_WORDS && ds; i++) {
            const unsigned char *bytes;
            size_t len;
            icstr_image im;
            CHECK(icstr_dataset_get(ds, i, &bytes, &len, NULL, NULL) == ICSTR_OK);
            CHECK(icstr_image_load_memory(bytes, len, "w", &im) == ICSTR_OK);
            icstr_image_to_input(&im, mc.img_h, mc.img_w, img + (size_t)i * 3 * mc.img_h * mc.img_w);
            icstr_image_free(&im);
        }
        char text[N_WORDS][64], *texts[N_WORDS];
        float conf[N_WORDS];
        for (int i = 0; i < N_WORDS; i++) texts[i] = text[i];
        icstr_decode_params dp = icstr_decode_default_params();
        CHECK(icstr_model_recognize(m, img, N_WORDS, &dp, texts, 64, conf) == ICSTR_OK);
        int right = 0;
        for (int i = 0; i < N_WORDS; i++) {
            right += !strcmp(texts[i], words[i]);
            if (strcmp(texts[i], words[i])) fprintf(stderr, "word %d: '%s' read as '%s'\n", i, words[i], texts[i]);
        }
        CHECK_MSG(right == N_WORDS, "%d of %d words read back", right, N_WORDS);
        free(img);
        icstr_dataset_close(ds);
        icstr_model_free(m);
    }

    /* same config, same seed: the same checkpoint, bit for bit */
    configure(&mc, &tc, "b", steps);
    CHECK(icstr_train_run(&mc, &tc, &opt) == ICSTR_OK);
    snprintf(path, sizeof path, "%s/a/checkpoint.safetensors", tmpdir);
    snprintf(path2, sizeof path2, "%s/b/checkpoint.safetensors", tmpdir);
    CHECK(same_file(path, path2));

    /* stopped at 120 steps, resumed to the end: equal to the uninterrupted run */
    configure(&mc, &tc, "c", steps);
    opt.max_steps_now = 120;
    CHECK(icstr_train_run(&mc, &tc, &opt) == ICSTR_OK);
    snprintf(path2, sizeof path2, "%s/c/checkpoint.safetensors", tmpdir);
    CHECK(!same_file(path, path2));
    opt.max_steps_now = 0;
    CHECK(icstr_train_run(&mc, &tc, &opt) == ICSTR_OK);
    CHECK(same_file(path, path2));

    /* resuming from a half-precision snapshot without moments: goes on from its step, and the
     * bias-corrected restart keeps what was learnt (the loss stays near where it was) */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/d' && cp '%s/a/model.safetensors' '%s/d/checkpoint.safetensors'", tmpdir,
             tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    configure(&mc, &tc, "d", steps + 50);
    CHECK_MSG(icstr_train_run(&mc, &tc, &opt) == ICSTR_OK, "%s", icstr_last_error());
    double dfirst, dlast;
    csv_losses(tc.out_dir, &dfirst, &dlast);
    CHECK_MSG(dfirst > 0 && dfirst < 2.0 * last + 0.1, "loss after the snapshot restart %g (before %g)", dfirst, last);
    snprintf(path, sizeof path, "%s/d/log.csv", tmpdir);
    char *log = NULL;
    FILE *lf = fopen(path, "r");
    if (lf) {
        char row[256];
        if (fgets(row, sizeof row, lf) && fgets(row, sizeof row, lf)) log = strdup(row);
        fclose(lf);
    }
    CHECK_MSG(log && atol(log) > steps && atol(log) <= steps + 50, "first logged step %s", log ? log : "none");
    free(log);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_finish("test_train");
}
