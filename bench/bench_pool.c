/* bench_pool: the prompt pool's speed. Retrieval over a pool of N synthetic records (random
 * embeddings written straight into an LMDB pool) for one query and for a batch, next to a bare
 * cblas_sgemv over the same matrix; and pool add throughput (decode + encode + one transaction
 * per chunk) with a random-init model (the default config, or a tiny one with --tiny).
 * Target: one query under 5 ms at 100,000 records of D = 192. */
#include "icstr_core.h"
#include "icstr_data.h"
#include "model_io.h"
#include "pool_internal.h"

#include <cblas.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *usage =
    "usage: bench_pool [--n N] [--dim D] [--latents M] [--top K] [--batch Q] [--reps R]\n"
    "                  [--add N] [--tiny | --model FILE] [--threads T] [--dir DIR]\n"
    "\n"
    "  --n N        synthetic records in the retrieval pool (default 100000)\n"
    "  --dim D      embedding width (default 192)\n"
    "  --latents M  latents stored per synthetic record (default 1: retrieval reads only the\n"
    "               embeddings, and 16 would write 1.2 GB for 100k records)\n"
    "  --top K      prompts retrieved per query (default 4)\n"
    "  --batch Q    queries in the batched search (default 64)\n"
    "  --reps R     timed repetitions (default 50 single queries, R/5 batches)\n"
    "  --add N      crops for the add throughput (default 512; 0 skips it)\n"
    "  --tiny       add with a tiny model instead of the default config's\n"
    "  --model F    add with this model file\n"
    "  --threads T  threads (default 1)\n"
    "  --dir DIR    where the temporary pools go (default $TMPDIR or /tmp)\n";

static char tmp[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void die(const char *what) {
    fprintf(stderr, "bench_pool: %s: %s\n", what, icstr_last_error());
    if (tmp[0]) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    exit(1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void bench_search(long N, int D, int M, int K, int Q, int reps) {
    char path[600];
    snprintf(path, sizeof path, "%s/search", tmp);
    icstr_pool_meta meta;
    memset(&meta, 0, sizeof meta);
    memset(meta.fingerprint, 'c', 64);
    meta.M = M;
    meta.D = D;
    meta.map_bytes = (size_t)1 << 30;
    if (icstr_pool_create(path, &meta)) die("create");
    icstr_pool *p;
    if (icstr_pool_open(path, NULL, 0, &p)) die("open");
    icstr_rng g;
    icstr_rng_seed(&g, 1);
    enum { CHUNK = 10000 };
    icstr_pool_record *r = calloc(CHUNK, sizeof *r);
    float *emb = malloc((size_t)CHUNK * D * sizeof(float)), *lat = calloc((size_t)M * D, sizeof(float));
    uint64_t *img = malloc(CHUNK * sizeof *img);
    double t0 = icstr_now_seconds();
    for (long c = 0; c < N; c += CHUNK) {
        int n = (int)(N - c < CHUNK ? N - c : CHUNK);
        for (int i = 0; i < n; i++) {
            float *e = emb + (size_t)i * D;
            double s = 0;
            for (int k = 0; k < D; k++) e[k] = icstr_rng_normal(&g), s += (double)e[k] * e[k];
            for (int k = 0; k < D; k++) e[k] = (float)(e[k] / sqrt(s));
            img[i] = (uint64_t)(c + i);
            r[i] = (icstr_pool_record){0, 0, 0, "word", "bench", M, D, e, lat, (unsigned char *)&img[i], 8};
        }
        if (icstr_pool_add_encoded(p, r, n, NULL)) die("add records");
    }
    double t_write = icstr_now_seconds() - t0;
    icstr_pool_close(p);
    printf("pool_records %ld\npool_dim %d\npool_latents %d\nwrite_records_per_s %.0f\n", N, D, M, N / t_write);

    if (icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p)) die("open");
    t0 = icstr_now_seconds();
    if (icstr_pool_search_count(p) != N) die("load");
    printf("load_matrix_ms %.1f\n", 1e3 * (icstr_now_seconds() - t0));
    float *q = malloc((size_t)Q * D * sizeof(float)), sc[64 * 64];
    uint64_t ids[64 * 64];
    for (int i = 0; i < Q * D; i++) q[i] = icstr_rng_normal(&g);
    double *t = malloc((size_t)reps * sizeof *t);
    int found;
    for (int w = 0; w < 3; w++) icstr_pool_search(p, q, 1, K, ids, sc, &found); /* warm */
    for (int i = 0; i < reps; i++) {
        double a = icstr_now_seconds();
        if (icstr_pool_search(p, q + (size_t)(i % Q) * D, 1, K, ids, sc, &found)) die("search");
        t[i] = 1e3 * (icstr_now_seconds() - a);
    }
    double sum = 0;
    for (int i = 0; i < reps; i++) sum += t[i];
    printf("search_1_query_ms median %.3f mean %.3f (top %d, %d reps)\n", median(t, reps), sum / reps, K, reps);
    int breps = reps / 5 > 2 ? reps / 5 : 2;
    double *u = malloc((size_t)breps * sizeof *u);
    uint64_t *bids = malloc((size_t)Q * K * sizeof *bids);
    float *bsc = malloc((size_t)Q * K * sizeof *bsc);
    for (int i = 0; i < breps; i++) {
        double a = icstr_now_seconds();
        if (icstr_pool_search(p, q, Q, K, bids, bsc, &found)) die("search");
        u[i] = 1e3 * (icstr_now_seconds() - a);
    }
    double mb = median(u, breps);
    printf("search_batch_%d_ms median %.3f (%.3f ms per query)\n", Q, mb, mb / Q);
    /* the bare BLAS matrix-vector product over the same rows, for comparison */
    float *s = malloc((size_t)N * sizeof *s);
    for (int i = 0; i < reps; i++) {
        double a = icstr_now_seconds();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, D, 1.0f, p->E, p->Dp, q, 1, 0.0f, s, 1);
        t[i] = 1e3 * (icstr_now_seconds() - a);
    }
    printf("cblas_sgemv_alone_ms median %.3f\n", median(t, reps));
    for (int i = 0; i < reps; i++) {
        double a = icstr_now_seconds();
        pool_scores_one(p->E, N, p->Dp, q, s);
        t[i] = 1e3 * (icstr_now_seconds() - a);
    }
    printf("pool_dot_loop_alone_ms median %.3f\n", median(t, reps));
#if POOL_HALF_KEYS
    for (int i = 0; i < reps; i++) {
        double a = icstr_now_seconds();
        pool_scores_one_half(p->E16, N, p->Dp, q, s);
        t[i] = 1e3 * (icstr_now_seconds() - a);
    }
    printf("pool_half_dot_loop_alone_ms median %.3f (the single query's first pass from %ld rows)\n", median(t, reps),
           pool_half_rows_);
#endif
    icstr_pool_close(p);
    free(s), free(t), free(u), free(q), free(bids), free(bsc), free(r), free(emb), free(lat), free(img);
}

static void bench_add(int n_add, const char *model_path, int tiny) {
    icstr_model *m = NULL;
    if (model_path) {
        if (icstr_model_load(model_path, 0, &m)) die("load the model");
    } else {
        icstr_model_config c = icstr_model_default_config();
        if (tiny) {
            c.stem = 0, c.patch_h = 8, c.patch_w = 16, c.enc_dim = 32, c.enc_layers = 1, c.enc_heads = 2;
            c.enc_mlp = 64, c.latents = 8, c.dec_dim = 32, c.dec_layers = 1, c.dec_heads = 2, c.dec_mlp = 64;
        }
        if (icstr_model_create(&c, 0, &m)) die("create the model");
        icstr_model_init_weights(m, 7);
    }
    const icstr_model_config *c = icstr_model_get_config(m);
    char path[600];
    snprintf(path, sizeof path, "%s/add", tmp);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, model_path, &meta);
    if (icstr_pool_create(path, &meta)) die("create");
    icstr_pool *p;
    if (icstr_pool_open(path, m, 0, &p)) die("open");
    /* crops like a detector's: 100 x 32 PNGs of short words */
    unsigned char **png = calloc((size_t)n_add, sizeof *png);
    size_t *len = calloc((size_t)n_add, sizeof *len);
    char (*labels)[12] = calloc((size_t)n_add, sizeof *labels);
    icstr_rng g;
    icstr_rng_seed(&g, 3);
    size_t bytes = 0;
    for (int i = 0; i < n_add; i++) {
        int L = 3 + (int)icstr_rng_below(&g, 7);
        for (int k = 0; k < L; k++) labels[i][k] = (char)('a' + icstr_rng_below(&g, 26));
        unsigned char bg[3] = {(unsigned char)(128 + icstr_rng_below(&g, 128)), 220, 200}, fg[3] = {20, 20, 60};
        icstr_image im;
        if (icstr_image_alloc(100, 32, bg, &im)) die("image");
        icstr_draw_text(&im, 4, 6, labels[i], 2, fg);
        for (int k = 0; k < 200; k++) im.rgb[icstr_rng_below(&g, 100 * 32 * 3)] = (unsigned char)icstr_rng_below(&g, 256);
        if (icstr_image_encode_png(100, 32, 3, im.rgb, &png[i], &len[i])) die("png");
        bytes += len[i];
        icstr_image_free(&im);
    }
    enum { CHUNK = 256 };
    icstr_pool_item items[CHUNK];
    double t0 = icstr_now_seconds();
    for (int c0 = 0; c0 < n_add; c0 += CHUNK) {
        int n = n_add - c0 < CHUNK ? n_add - c0 : CHUNK;
        for (int i = 0; i < n; i++) items[i] = (icstr_pool_item){png[c0 + i], len[c0 + i], labels[c0 + i], NULL};
        if (icstr_pool_add(p, items, n, "bench", NULL)) die("add");
    }
    double t_add = icstr_now_seconds() - t0;
    /* the model's share: the encoder alone on the same crops */
    size_t img = (size_t)3 * c->img_h * c->img_w;
    float *x = icstr_alloc((size_t)CHUNK * img, sizeof(float));
    float *lat = icstr_alloc((size_t)CHUNK * c->latents * c->dec_dim, sizeof(float));
    t0 = icstr_now_seconds();
    for (int c0 = 0; c0 < n_add; c0 += CHUNK) {
        int n = n_add - c0 < CHUNK ? n_add - c0 : CHUNK;
        for (int i = 0; i < n; i++) {
            icstr_image im;
            if (icstr_image_load_memory(png[c0 + i], len[c0 + i], NULL, &im) ||
                icstr_image_to_input(&im, c->img_h, c->img_w, x + (size_t)i * img))
                die("decode");
            icstr_image_free(&im);
        }
        if (icstr_model_encode(m, x, n, lat, NULL)) die("encode");
    }
    double t_enc = icstr_now_seconds() - t0;
    icstr_pool_info info;
    if (icstr_pool_get_info(p, &info)) die("info");
    printf("add_model %s (enc %d x %d, dec %d, M %d)\n", model_path ? model_path : tiny ? "tiny random-init" : "default random-init",
           c->enc_dim, c->enc_layers, c->dec_dim, c->latents);
    printf("add_crops %d (%.1f KB PNG each)\nadd_crops_per_s %.1f (chunks of %d, one transaction each)\n"
           "decode_encode_only_crops_per_s %.1f\npool_bytes_per_record %.0f\n",
           n_add, bytes / 1e3 / n_add, n_add / t_add, CHUNK, n_add / t_enc, (double)info.used_bytes / (double)info.count);
    icstr_pool_close(p);
    for (int i = 0; i < n_add; i++) free(png[i]);
    free(png), free(len), free(labels);
    icstr_free(x), icstr_free(lat);
    icstr_model_free(m);
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* may run the program again: icstr_core.h */
    long N = 100000, v;
    int D = 192, M = 1, K = 4, Q = 64, reps = 50, n_add = 512, threads = 1, tiny = 0;
    const char *model = NULL, *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--tiny")) {
            tiny = 1;
        } else if (i + 1 < argc && !strcmp(a, "--model")) {
            model = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--dir")) {
            dir = argv[++i];
        } else if (i + 1 < argc && (v = strtol(argv[i + 1], &end, 10), end && !*end && v >= 0 && v <= 100000000)) {
            i++;
            if (!strcmp(a, "--n") && v >= 1) N = v;
            else if (!strcmp(a, "--dim") && v >= 1 && v <= ICSTR_POOL_D_MAX) D = (int)v;
            else if (!strcmp(a, "--latents") && v >= 1 && v <= 64) M = (int)v;
            else if (!strcmp(a, "--top") && v >= 1 && v <= 64) K = (int)v;
            else if (!strcmp(a, "--batch") && v >= 1 && v <= 64) Q = (int)v;
            else if (!strcmp(a, "--reps") && v >= 1) reps = (int)v;
            else if (!strcmp(a, "--add")) n_add = (int)v;
            else if (!strcmp(a, "--threads")) threads = (int)v;
            else {
                fprintf(stderr, "bench_pool: bad %s %s\n\n%s", a, argv[i], usage);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_pool: unexpected '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    icstr_set_threads(threads);
    snprintf(tmp, sizeof tmp, "%s/icstr-bench-pool-XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "bench_pool: cannot make a directory in %s\n", dir);
        return 1;
    }
    printf("threads %d\n", icstr_get_threads());
    bench_search(N, D, M, K, Q, reps);
    if (n_add) bench_add(n_add, model, tiny);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
