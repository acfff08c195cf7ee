/* Elementwise and row-wise ops: GELU, softmax, residual add, dropout. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <math.h>
#include <string.h>

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_C 0.044715f

void icstr_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + ops_tanhf_gelu(GELU_K * (x + GELU_C * x * x * x)));
    }
}

void icstr_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for simd schedule(static) if (n >= OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = ops_tanhf_gelu(GELU_K * (x + GELU_C * x * x * x));
        float sech2 = 1.0f - t * t;
        float grad = 0.5f * (1.0f + t) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
        dinp[i] += grad * dout[i];
    }
}

void icstr_softmax_forward(float *out, const float *inp, int N, int V) {
    if (V <= 0) return;
#pragma omp parallel for schedule(static) if ((size_t)N * V >= OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * V;
        float *y = out + (size_t)n * V;
        float mx = x[0], s = 0.0f;
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        /* a SIMD reduction has a fixed order for a given build, unlike a threaded one */
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < V; i++) {
            y[i] = ops_expf(x[i] - mx);
            s += y[i];
        }
        float inv = 1.0f / s;
#pragma omp simd
        for (int i = 0; i < V; i++) y[i] *= inv;
    }
}

void icstr_softmax_backward(float *dinp, const float *out, const float *dout, int N, int V) {
#pragma omp parallel for schedule(static) if ((size_t)N * V >= OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * V, *dy = dout + (size_t)n * V;
        float *dx = dinp + (size_t)n * V, s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < V; i++) s += y[i] * dy[i];
#pragma omp simd
        for (int i = 0; i < V; i++) dx[i] += y[i] * (dy[i] - s);
    }
}

void icstr_residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 4 * OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void icstr_residual_backward(float *da, float *db, const float *dout, size_t n) {
    if (da)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    if (db)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
}

void icstr_dropout_forward(float *out, uint8_t *keep, const float *inp, size_t n, float p,
                           struct icstr_rng *rng) {
    if (p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        memset(keep, 1, n);
        return;
    }
    if (p >= 1.0f) {
        memset(out, 0, n * sizeof(float));
        memset(keep, 0, n);
        return;
    }
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        keep[i] = icstr_rng_uniform(rng) >= p;
        out[i] = keep[i] ? inp[i] * scale : 0.0f;
    }
}

void icstr_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, size_t n,
                            float p) {
    if (p >= 1.0f) return;
    float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
#pragma omp parallel for schedule(static) if (n >= OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (keep[i]) dinp[i] += dout[i] * scale;
}
