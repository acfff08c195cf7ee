/* Decode + resize throughput on one core: every crop of a dataset (folder or STR LMDB) is read
 * into memory first, then decoded (stb_image) and resized to the model input (area/bilinear,
 * float CHW) repeatedly; prints crops per second for decode, resize and both. */
#include "icstr_core.h"
#include "icstr_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PATH "/work/shared/data/benchmarks/iiit5k_test"

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_decode [PATH] [--n N] [--repeat R] [--H 32] [--W 128]\n\n"
            "Decode + resize throughput on one core over a dataset (a gt.txt folder or an STR\n"
            "LMDB; default %s). The encoded crops are read into memory first, so disk speed is\n"
            "not measured. Prints crops/s for decode only, resize only and both, best of R\n"
            "passes (default 3) over N crops (default all).\n",
            DEFAULT_PATH);
}

static int arg_int(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* may run the program again: icstr_core.h */
    const char *path = DEFAULT_PATH;
    long n_max = 0, repeat = 3, H = 32, W = 128;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long *dst = !strcmp(a, "--n") ? &n_max : !strcmp(a, "--repeat") ? &repeat
                  : !strcmp(a, "--H") ? &H : !strcmp(a, "--W") ? &W : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (dst) {
            if (i + 1 >= argc || !arg_int(argv[++i], 1, 1L << 30, dst)) {
                fprintf(stderr, "bench_decode: %s needs a positive number\n", a);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "bench_decode: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            path = a;
        }
    }
    icstr_set_threads(1);
    icstr_dataset *ds;
    int rc = icstr_dataset_open(path, &ds);
    if (rc) {
        fprintf(stderr, "bench_decode: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    long n = icstr_dataset_count(ds);
    if (n_max && n_max < n) n = n_max;
    unsigned char **crops = calloc((size_t)n, sizeof *crops);
    size_t *lens = calloc((size_t)n, sizeof *lens), total_bytes = 0;
    long m = 0;
    for (long i = 0; i < n && crops && lens; i++) {
        const unsigned char *b;
        size_t len;
        if (icstr_dataset_get(ds, i, &b, &len, NULL, NULL)) {
            fprintf(stderr, "bench_decode: skipped: %s\n", icstr_last_error());
            continue;
        }
        crops[m] = malloc(len);
        memcpy(crops[m], b, len);
        lens[m++] = len;
        total_bytes += len;
    }
    icstr_dataset_close(ds);
    if (m == 0) {
        fprintf(stderr, "bench_decode: no crops read from %s\n", path);
        return 1;
    }
    icstr_image *imgs = calloc((size_t)m, sizeof *imgs);
    float *chw = malloc((size_t)3 * H * W * sizeof *chw);
    double best_dec = 1e30, best_rsz = 1e30, best_both = 1e30, pixels = 0;
    long failed = 0;
    for (long r = 0; r < repeat; r++) {
        /* decode only (kept for the resize-only pass) */
        double t0 = icstr_now_seconds();
        for (long i = 0; i < m; i++) {
            icstr_image_free(&imgs[i]);
            if (icstr_image_load_memory(crops[i], lens[i], NULL, &imgs[i]) && r == 0) failed++;
        }
        double t1 = icstr_now_seconds();
        for (long i = 0; i < m; i++)
            if (imgs[i].rgb) icstr_image_to_input(&imgs[i], (int)H, (int)W, chw);
        double t2 = icstr_now_seconds();
        /* both, as a data loader does it */
        for (long i = 0; i < m; i++) {
            icstr_image im;
            if (!icstr_image_load_memory(crops[i], lens[i], NULL, &im)) {
                icstr_image_to_input(&im, (int)H, (int)W, chw);
                icstr_image_free(&im);
            }
        }
        double t3 = icstr_now_seconds();
        if (t1 - t0 < best_dec) best_dec = t1 - t0;
        if (t2 - t1 < best_rsz) best_rsz = t2 - t1;
        if (t3 - t2 < best_both) best_both = t3 - t2;
    }
    for (long i = 0; i < m; i++) pixels += (double)imgs[i].w * imgs[i].h;
    printf("bench_decode: %s, %ld crops (%.1f MB encoded, mean %.0f source pixels), %ld undecodable, "
           "input %ldx%ld, best of %ld, 1 thread\n",
           path, m, total_bytes / 1e6, pixels / m, failed, H, W, repeat);
    printf("  decode only      %8.0f crops/s  (%.1f us/crop)\n", m / best_dec, 1e6 * best_dec / m);
    printf("  resize only      %8.0f crops/s  (%.1f us/crop)\n", m / best_rsz, 1e6 * best_rsz / m);
    printf("  decode + resize  %8.0f crops/s  (%.1f us/crop)\n", m / best_both, 1e6 * best_both / m);
    for (long i = 0; i < m; i++) {
        icstr_image_free(&imgs[i]);
        free(crops[i]);
    }
    free(imgs);
    free(crops);
    free(lens);
    free(chw);
    return 0;
}
