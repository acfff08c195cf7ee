/* Layer normalisation over the channel dimension, forward and backward. Rows are independent
 * (one OpenMP work item each); the weight and bias gradients are column sums over the rows done
 * in chunks of columns, each walking the rows in order, so they do not depend on thread count. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <math.h>

#define LN_EPS 1e-5
#define LN_CHUNK 32

void icstr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C) {
    if (C <= 0) return;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        /* float sums in vector lanes (the double loops were a tenth of a crop's recognition
         * time); two passes keep the variance free of cancellation */
        float s = 0.0f, v = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < C; i++) s += x[i];
        float mf = s / C;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) v += (x[i] - mf) * (x[i] - mf);
        float r = 1.0f / sqrtf(v / C + (float)LN_EPS);
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - mf) * r;
            y[i] = xh * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
        }
        if (mean) mean[n] = mf;
        if (rstd) rstd[n] = r;
    }
}

void icstr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const float *mean,
                              const float *rstd, int N, int C) {
    if (C <= 0 || N <= 0) return;
    int par = (size_t)N * C >= OPS_PAR_MIN;
    if (dinp) {
#pragma omp parallel for schedule(static) if (par)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            /* dx = r * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w */
            float sg = 0.0f, sgx = 0.0f; /* float lanes, as forward: one row's C terms */
#pragma omp simd reduction(+ : sg, sgx)
            for (int i = 0; i < C; i++) {
                float g = dy[i] * (w ? w[i] : 1.0f);
                sg += g;
                sgx += g * ((x[i] - m) * r);
            }
            float mg = sg / C, mgx = sgx / C;
            for (int i = 0; i < C; i++) {
                float g = dy[i] * (w ? w[i] : 1.0f), xh = (x[i] - m) * r;
                dx[i] += r * (g - mg - xh * mgx);
            }
        }
    }
    if (dw || db) {
        int chunks = (C + LN_CHUNK - 1) / LN_CHUNK;
#pragma omp parallel for schedule(static) if (par && chunks > 1)
        for (int ch = 0; ch < chunks; ch++) {
            int c0 = ch * LN_CHUNK, c1 = c0 + LN_CHUNK < C ? c0 + LN_CHUNK : C;
            double aw[LN_CHUNK] = {0}, ab[LN_CHUNK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                float m = mean[n], r = rstd[n];
#pragma omp simd
                for (int i = c0; i < c1; i++) {
                    aw[i - c0] += (double)dy[i] * ((x[i] - m) * r);
                    ab[i - c0] += dy[i];
                }
            }
            for (int i = c0; i < c1; i++) {
                if (dw) dw[i] += (float)aw[i - c0];
                if (db) db[i] += (float)ab[i - c0];
            }
        }
    }
}
