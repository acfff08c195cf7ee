/* Linear layer forward and backward: three matrix products (fp32, or bf16 operands when bf16
 * mode is on; see ops_gemm_bf16.c) and the bias gradient, a column sum done in a fixed order. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <cblas.h>
#include <string.h>

/* Columns per chunk of the bias-gradient reduction: each chunk is one OpenMP work item that walks
 * every row in order, so the sum does not depend on the thread count. */
#define COLSUM_CHUNK 64

static void colsum_add(float *db, const float *x, int N, int OC) {
    int chunks = (OC + COLSUM_CHUNK - 1) / COLSUM_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)N * OC >= OPS_PAR_MIN && chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        int o0 = ch * COLSUM_CHUNK, o1 = o0 + COLSUM_CHUNK < OC ? o0 + COLSUM_CHUNK : OC;
        double acc[COLSUM_CHUNK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = x + (size_t)n * OC + o0;
#pragma omp simd
            for (int o = 0; o < o1 - o0; o++) acc[o] += row[o]; /* lanes are columns: no reordering */
        }
        for (int o = o0; o < o1; o++) db[o] += (float)acc[o - o0];
    }
}

void icstr_linear_forward(float *out, const float *inp, const float *w, const float *b, int N,
                          int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    float beta = 0.0f;
    if (b) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof(float));
        beta = 1.0f;
    }
    if (C <= 0) {
        if (!b) memset(out, 0, (size_t)N * OC * sizeof(float));
        return;
    }
    icstr_ops_gemm(icstr_ops_get_bf16(), CblasNoTrans, CblasTrans, N, OC, C, inp, C, w, C, beta,
                   out, OC);
}

void icstr_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) colsum_add(db, dout, N, OC);
    if (C <= 0) return;
    int bf16 = icstr_ops_get_bf16();
    if (dinp)
        icstr_ops_gemm(bf16, CblasNoTrans, CblasNoTrans, N, C, OC, dout, OC, w, C, 1.0f, dinp, C);
    if (dw)
        icstr_ops_gemm(bf16, CblasTrans, CblasNoTrans, OC, C, N, dout, OC, inp, C, 1.0f, dw, C);
}
