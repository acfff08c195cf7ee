/* Speed of the recognizer model: training steps (forward + backward) and recognition
 * (encode + greedy decode) in crops per second, on random crops with random labels, for fp32 and
 * bf16 matrix products and 1 and 2 threads (or the ones given). Prints the analytic FLOPs per crop
 * too, and the achieved GFLOP/s. Results to stdout. */
#include "icstr_core.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: bench_model [--batch B] [--iters N] [--threads T] [--bf16 0|1] [--infer N]\n"
    "  --batch B    crops per training step (default 32)\n"
    "  --iters N    timed training steps per setting, after one warm-up step (default 5)\n"
    "  --threads T  thread count to measure (default: 1 and 2)\n"
    "  --bf16 X     0 = fp32 only, 1 = bf16 only (default: both)\n"
    "  --infer N    also time recognition of N crops (greedy, no prompts; default 0 = off)\n"
    "Measures the default model config (icstr_model_default_config).\n";

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* may run the program again: icstr_core.h */
    int B = 32, iters = 5, only_threads = 0, only_bf16 = -1, infer = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        int ok = i + 1 < argc;
        if (ok && !strcmp(a, "--batch")) ok = parse_int(argv[++i], 1, 4096, &B);
        else if (ok && !strcmp(a, "--iters")) ok = parse_int(argv[++i], 1, 100000, &iters);
        else if (ok && !strcmp(a, "--threads")) ok = parse_int(argv[++i], 1, 1024, &only_threads);
        else if (ok && !strcmp(a, "--bf16")) ok = parse_int(argv[++i], 0, 1, &only_bf16);
        else if (ok && !strcmp(a, "--infer")) ok = parse_int(argv[++i], 0, 1000000, &infer);
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "bench_model: bad argument '%s'\n%s", a, usage);
            return 2;
        }
    }

    icstr_model_config cfg = icstr_model_default_config();
    double fwd = 0, train = 0;
    icstr_model_flops(&cfg, &fwd, &train);
    icstr_model *m = NULL;
    int rc = icstr_model_create(&cfg, 1, &m);
    if (rc) {
        fprintf(stderr, "bench_model: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    icstr_model_init_weights(m, 1);
    icstr_vocab_info vi = icstr_model_vocab(m);
    printf("default config: %zu parameters, %.3f GFLOP forward and %.3f GFLOP training per crop\n",
           icstr_model_slab(m)->total, fwd * 1e-9, train * 1e-9);

    int n_img = B > infer ? B : infer;
    size_t img_floats = (size_t)3 * cfg.img_h * cfg.img_w;
    float *images = malloc((size_t)n_img * img_floats * sizeof(float));
    int *chunk_image = malloc((size_t)B * sizeof(int)), *lens = malloc((size_t)B * sizeof(int));
    int *labels = malloc((size_t)B * cfg.max_label * sizeof(int)), *n_chunks = malloc((size_t)B * sizeof(int));
    icstr_rng r;
    icstr_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)n_img * img_floats; i++) images[i] = icstr_rng_range(&r, -1, 1);
    for (int b = 0; b < B; b++) {
        chunk_image[b] = b;
        n_chunks[b] = 1;
        lens[b] = 3 + (int)icstr_rng_below(&r, 8); /* 3..10 characters, as real words */
        for (int j = 0; j < cfg.max_label; j++)
            labels[b * cfg.max_label + j] = (int)icstr_rng_below(&r, (uint32_t)vi.n_chars);
    }
    icstr_batch batch = {B, images, B, chunk_image, labels, lens, n_chunks, 1, NULL};

    int threads[2] = {1, 2}, n_threads = 2;
    if (only_threads) threads[0] = only_threads, n_threads = 1;
    for (int bf = 0; bf < 2; bf++) {
        if (only_bf16 >= 0 && bf != only_bf16) continue;
        icstr_ops_set_bf16(bf);
        for (int ti = 0; ti < n_threads; ti++) {
            icstr_set_threads(threads[ti]);
            icstr_loss_info li;
            icstr_slab_zero_grad(icstr_model_slab(m));
            if ((rc = icstr_model_train_step(m, &batch, &r, &li))) break;
            double t0 = icstr_now_seconds();
            for (int it = 0; it < iters && !rc; it++) {
                icstr_slab_zero_grad(icstr_model_slab(m));
                rc = icstr_model_train_step(m, &batch, &r, &li);
            }
            double dt = (icstr_now_seconds() - t0) / iters;
            if (rc) break;
            printf("train  %s threads %d batch %d: %.3f s/step, %.1f crops/s, %.1f GFLOP/s (loss %.6f)\n",
                   bf ? "bf16" : "fp32", threads[ti], B, dt, B / dt, train * B / dt * 1e-9, li.loss);
            fflush(stdout);
            if (infer > 0) {
                char *texts = malloc((size_t)infer * 32), **tp = malloc((size_t)infer * sizeof(char *));
                float *conf = malloc((size_t)infer * sizeof(float));
                for (int i = 0; i < infer; i++) tp[i] = texts + (size_t)i * 32;
                icstr_decode_params dp = icstr_decode_default_params();
                double s0 = icstr_now_seconds();
                rc = icstr_model_recognize(m, images, infer, &dp, tp, 32, conf);
                double sd = icstr_now_seconds() - s0;
                if (!rc)
                    printf("infer  %s threads %d: %d crops in %.3f s, %.1f crops/s\n",
                           bf ? "bf16" : "fp32", threads[ti], infer, sd, infer / sd);
                free(texts), free(tp), free(conf);
            }
        }
    }
    if (rc) {
        fprintf(stderr, "bench_model: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    icstr_model_free(m);
    free(images), free(chunk_image), free(lens), free(labels), free(n_chunks);
    return 0;
}
