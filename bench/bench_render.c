/* bench_render: how many synthetic crops the renderer makes per second, on one core and on N
 * threads, and where the time goes at each difficulty. Prints one line per measurement to stdout. */
#include "icstr_core.h"
#include "icstr_data.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: bench_render [--n N] [--threads T] [--episodes K] [--difficulty D]\n"
               "                    [--fonts DIRS] [--photos DIRS] [--input]\n\n"
               "Renders N crops (default 2000) on one thread, then on T threads (default all cores)\n"
               "and prints crops/second. --input also resizes each crop to the 3x32x128 model input.\n"
               "--episodes K renders episodes of K crops. --photos adds photo backgrounds (train\n"
               "images only).\n");
}

static double run(const icstr_renderer *r, long n, int threads, int K, const icstr_render_opts *o, int input,
                  double *px_out) {
    double t0 = icstr_now_seconds();
    long bad = 0;
    double px = 0;
    omp_set_num_threads(threads);
#pragma omp parallel reduction(+ : bad, px)
    {
        icstr_render_crop *c = calloc((size_t)K, sizeof *c);
        float *chw = malloc(3 * 32 * 128 * sizeof *chw);
        if (!c || !chw) bad++;
#pragma omp for schedule(dynamic, 8)
        for (long i = 0; i < n / K; i++) {
            if (!c || !chw) continue;
            int rc = input ? icstr_render_to_input(r, 7, (uint64_t)i, o, 32, 128, chw, c)
                           : icstr_render_episode_opts(r, 7, (uint64_t)i, K, o, c);
            if (rc)
                bad++;
            else
                for (int k = 0; k < (input ? 1 : K); k++) px += (double)c[k].w * c[k].h;
        }
        if (c)
            for (int k = 0; k < K; k++) icstr_render_crop_free(&c[k]);
        free(c);
        free(chw);
    }
    double dt = icstr_now_seconds() - t0;
    if (bad) fprintf(stderr, "bench_render: %ld renders failed: %s\n", bad, icstr_last_error());
    *px_out = px / (double)(n / K * (input ? 1 : K));
    return (double)(n / K * (input ? 1 : K)) / dt;
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* may run the program again: icstr_core.h */
    long n = 2000;
    int threads = omp_get_num_procs(), K = 1, input = 0;
    float diff = -1;
    icstr_render_params p = icstr_render_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--input")) {
            input = 1;
            continue;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--n"))
            n = atol(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--episodes"))
            K = atoi(v);
        else if (!strcmp(a, "--difficulty"))
            diff = (float)atof(v);
        else if (!strcmp(a, "--fonts"))
            p.font_dirs = v;
        else if (!strcmp(a, "--photos"))
            p.photo_dirs = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (n < 1 || threads < 1 || K < 1 || K > ICSTR_RENDER_MAX_EPISODE || n < K) {
        usage(stderr);
        return 2;
    }
    double t0 = icstr_now_seconds();
    icstr_renderer *r;
    int rc = icstr_render_create(&p, &r);
    if (rc) {
        fprintf(stderr, "bench_render: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    printf("setup: %d faces, %ld words, %d photos, %.2f s\n", icstr_render_font_count(r),
           icstr_render_word_count(r), icstr_render_photo_count(r), icstr_now_seconds() - t0);
    float diffs[3] = {0.0f, 0.5f, 1.0f};
    int nd = 3;
    if (diff >= 0) {
        diffs[0] = diff;
        nd = 1;
    }
    for (int k = 0; k < nd; k++) {
        icstr_render_opts o = icstr_render_default_opts(r);
        o.difficulty = diffs[k];
        double px;
        double one = run(r, n, 1, K, &o, input, &px);
        printf("difficulty %.1f: %.0f crops/s on 1 thread (mean %.0f px per crop)%s\n", (double)diffs[k], one,
               px, input ? ", with resize to 3x32x128" : "");
        if (threads > 1) {
            double many = run(r, n, threads, K, &o, input, &px);
            printf("difficulty %.1f: %.0f crops/s on %d threads\n", (double)diffs[k], many, threads);
        }
    }
    icstr_render_free(r);
    return 0;
}
