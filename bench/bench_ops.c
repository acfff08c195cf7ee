/* bench_ops: speed of the ops at the model's shapes. GFLOP/s of linear forward and backward
 * (fp32 and bf16) beside plain cblas_sgemm calls doing the same products, and of attention
 * forward and backward beside a serial loop of the same per-head sgemm calls left to OpenBLAS's
 * own threads (the alternative to our OpenMP loop over batch x head). Median of --repeat runs
 * after --warmup runs. Results to stdout, one row per op and shape. */
#include "icstr_core.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: bench_ops [--threads N] [--repeat R] [--warmup W] [--batch B] [--quick]\n"
    "Times the tensor ops at the model's shapes and prints GFLOP/s (median of R runs).\n"
    "  --threads N   OpenMP and OpenBLAS threads (default 1)\n"
    "  --repeat R    timed runs per measurement (default 7)\n"
    "  --warmup W    untimed runs first (default 2)\n"
    "  --batch B     batch size (default 32; tokens per batch = B x T)\n"
    "  --quick       fewer shapes\n";

static int repeat = 7, warmup = 2;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void (*bench_fn)(void *ctx);

static double median_seconds(bench_fn f, void *ctx) {
    double t[64];
    for (int i = 0; i < warmup; i++) f(ctx);
    for (int i = 0; i < repeat; i++) {
        double t0 = icstr_now_seconds();
        f(ctx);
        t[i] = icstr_now_seconds() - t0;
    }
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    return t[repeat / 2];
}

static float *randf(size_t n, icstr_rng *r) {
    float *x = icstr_alloc(n, sizeof(float));
    if (!x) {
        fprintf(stderr, "bench_ops: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) x[i] = icstr_rng_range(r, -1, 1);
    return x;
}

/* ---- linear ---- */
typedef struct { int N, C, OC; float *x, *w, *b, *y, *dy, *dx, *dw, *db; } lin;

static void lin_fwd(void *p) {
    lin *l = p;
    icstr_linear_forward(l->y, l->x, l->w, l->b, l->N, l->C, l->OC);
}
static void lin_bwd(void *p) {
    lin *l = p;
    icstr_linear_backward(l->dx, l->dw, l->db, l->dy, l->x, l->w, l->N, l->C, l->OC);
}
static void sgemm_fwd(void *p) {
    lin *l = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->N, l->OC, l->C, 1.0f, l->x, l->C, l->w, l->C, 0.0f,
                l->y, l->OC);
}
static void sgemm_bwd(void *p) {
    lin *l = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->N, l->C, l->OC, 1.0f, l->dy, l->OC, l->w, l->C, 1.0f,
                l->dx, l->C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->OC, l->C, l->N, 1.0f, l->dy, l->OC, l->x, l->C, 1.0f,
                l->dw, l->C);
}

static void bench_linear(int N, int C, int OC, icstr_rng *r) {
    lin l = {N, C, OC, randf((size_t)N * C, r), randf((size_t)OC * C, r), randf(OC, r), randf((size_t)N * OC, r),
             randf((size_t)N * OC, r), randf((size_t)N * C, r), randf((size_t)OC * C, r), randf(OC, r)};
    double f = 2.0 * N * C * OC;
    double s_sg_f = median_seconds(sgemm_fwd, &l), s_sg_b = median_seconds(sgemm_bwd, &l);
    double s_f = median_seconds(lin_fwd, &l), s_b = median_seconds(lin_bwd, &l);
    icstr_ops_set_bf16(1);
    double s_hf = median_seconds(lin_fwd, &l), s_hb = median_seconds(lin_bwd, &l);
    icstr_ops_set_bf16(0);
    printf("linear    N=%-5d C=%-4d OC=%-4d  fwd %7.1f  bwd %7.1f | sgemm fwd %7.1f bwd %7.1f | bf16 fwd %7.1f "
           "bwd %7.1f GFLOP/s\n",
           N, C, OC, f / s_f * 1e-9, 2 * f / s_b * 1e-9, f / s_sg_f * 1e-9, 2 * f / s_sg_b * 1e-9, f / s_hf * 1e-9,
           2 * f / s_hb * 1e-9);
    fflush(stdout);
    icstr_free(l.x), icstr_free(l.w), icstr_free(l.b), icstr_free(l.y), icstr_free(l.dy), icstr_free(l.dx);
    icstr_free(l.dw), icstr_free(l.db);
}

/* ---- attention ---- */
typedef struct { int B, T, C, H; float *q, *k, *v, *out, *att, *dout, *dq, *dk, *dv; uint8_t *mask; } attn;

static void att_fwd(void *p) {
    attn *a = p;
    icstr_attention_forward(a->out, a->att, a->q, a->k, a->v, a->mask, a->B, a->T, a->T, a->C, a->H);
}
static void att_bwd(void *p) {
    attn *a = p;
    icstr_attention_backward(a->dq, a->dk, a->dv, a->dout, a->att, a->q, a->k, a->v, a->B, a->T, a->T, a->C, a->H);
}
/* the same two forward products per (batch, head), serially, OpenBLAS threading each call */
static void att_fwd_serial_sgemm(void *p) {
    attn *a = p;
    int hs = a->C / a->H, T = a->T, C = a->C;
    for (int bh = 0; bh < a->B * a->H; bh++) {
        int b = bh / a->H, h = bh % a->H;
        size_t off = (size_t)b * T * C + (size_t)h * hs;
        float *s = a->att + (size_t)bh * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, a->q + off, C, a->k + off, C, 0.0f, s, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, s, T, a->v + off, C, 0.0f, a->out + off,
                    C);
    }
}

static void bench_attention(int B, int T, int C, int H, int causal, icstr_rng *r) {
    size_t n = (size_t)B * T * C, na = (size_t)B * H * T * T;
    attn a = {B, T, C, H, randf(n, r), randf(n, r), randf(n, r), randf(n, r), randf(na, r), randf(n, r),
              randf(n, r), randf(n, r), randf(n, r), NULL};
    if (causal) {
        a.mask = malloc((size_t)B * T * T);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) a.mask[((size_t)b * T + i) * T + j] = j <= i;
    }
    double f = 4.0 * B * T * T * C; /* two products forward, four backward; masks not discounted */
    double s_f = median_seconds(att_fwd, &a), s_b = median_seconds(att_bwd, &a);
    double s_s = median_seconds(att_fwd_serial_sgemm, &a);
    printf("attention B=%-3d T=%-4d C=%-4d H=%d %-6s  fwd %7.1f  bwd %7.1f | serial sgemm loop fwd %7.1f GFLOP/s\n",
           B, T, C, H, causal ? "causal" : "full", f / s_f * 1e-9, 2 * f / s_b * 1e-9, f / s_s * 1e-9);
    fflush(stdout);
    icstr_free(a.q), icstr_free(a.k), icstr_free(a.v), icstr_free(a.out), icstr_free(a.att), icstr_free(a.dout);
    icstr_free(a.dq), icstr_free(a.dk), icstr_free(a.dv), free(a.mask);
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* may run the program again: icstr_core.h */
    int threads = 1, batch = 32, quick = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--quick")) {
            quick = 1;
            continue;
        }
        int *dst = !strcmp(a, "--threads") ? &threads : !strcmp(a, "--repeat") ? &repeat
                  : !strcmp(a, "--warmup") ? &warmup : !strcmp(a, "--batch") ? &batch : NULL;
        char *end = NULL;
        long v = dst && i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
        if (!dst || !end || *end || v < (dst == &warmup ? 0 : 1) || v > (dst == &repeat ? 64 : 4096)) {
            fprintf(stderr, "bench_ops: bad argument '%s'\n%s", a, usage);
            return 2;
        }
        *dst = (int)v;
        i++;
    }
    icstr_set_threads(threads);
    printf("bench_ops: %d thread(s), batch %d, median of %d after %d warm-up; bf16 products: %s\n", threads, batch,
           repeat, warmup, icstr_ops_bf16_path());
    icstr_rng r;
    icstr_rng_seed(&r, 1);
    int N = batch * 128;
    bench_linear(N, 192, 192, &r);
    bench_linear(N, 192, 768, &r);
    if (!quick) {
        bench_linear(N, 192, 576, &r);
        bench_linear(N, 768, 192, &r);
    }
    bench_attention(batch, 128, 192, 6, 0, &r);
    bench_attention(batch, 64, 192, 6, 1, &r);
    if (!quick) {
        bench_attention(batch, 128, 192, 6, 1, &r);
        bench_attention(batch, 256, 192, 6, 1, &r);
    }
    if (icstr_ops_error()) {
        fprintf(stderr, "bench_ops: %s\n", icstr_last_error());
        return 1;
    }
    return 0;
}
