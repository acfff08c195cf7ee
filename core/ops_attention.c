/* Multi-head scaled dot-product attention, forward and backward. One OpenMP work item per
 * (batch, head): two small sgemm calls on strided head slices (leading dimension = row stride),
 * the masked softmax in between. OpenBLAS is kept to one thread inside the loop (see
 * ops_internal.h); bench/bench_ops.c measures this against a serial loop of threaded sgemm. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Softmax of one score row in place with the row's mask (NULL = all keys); a row allowing no key
 * becomes 0. SIMD reductions: fixed order for a given build. */
static void masked_softmax_row(float *a, const uint8_t *m, int Tk) {
    float mx = -INFINITY, s = 0.0f;
    if (m) {
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < Tk; j++) {
            float v = m[j] ? a[j] : -INFINITY;
            mx = v > mx ? v : mx;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < Tk; j++) mx = a[j] > mx ? a[j] : mx;
    }
    if (mx == -INFINITY) {
        memset(a, 0, (size_t)Tk * sizeof(float));
        return;
    }
    if (m) {
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < Tk; j++) {
            float e = m[j] ? ops_expf(a[j] - mx) : 0.0f;
            a[j] = e;
            s += e;
        }
    } else {
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < Tk; j++) {
            a[j] = ops_expf(a[j] - mx);
            s += a[j];
        }
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int j = 0; j < Tk; j++) a[j] *= inv;
}

void icstr_attention_forward_ld(float *out, float *att, const float *q, const float *k,
                                const float *v, const uint8_t *mask, int B, int Tq, int Tk,
                                int C, int H, int ldq, int ldkv) {
    if (B <= 0 || Tq <= 0 || H <= 0 || C <= 0) return;
    int hs = C / H, BH = B * H;
    float scale = 1.0f / sqrtf((float)hs);
    if (Tk <= 0) {
        for (size_t r = 0; r < (size_t)B * Tq; r++) memset(out + r * C, 0, (size_t)C * sizeof(float));
        return;
    }
    int par = BH > 1;
    int saved = icstr_ops_blas_serial_begin(par);
#pragma omp parallel for schedule(static) if (par)
    for (int bh = 0; bh < BH; bh++) {
        int b = bh / H, h = bh % H;
        const float *qb = q + (size_t)b * Tq * ldq + (size_t)h * hs;
        const float *kb = k + (size_t)b * Tk * ldkv + (size_t)h * hs;
        const float *vb = v + (size_t)b * Tk * ldkv + (size_t)h * hs;
        float *a = att + (size_t)bh * Tq * Tk;
        float *ob = out + (size_t)b * Tq * C + (size_t)h * hs;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hs, scale, qb, ldq, kb, ldkv,
                    0.0f, a, Tk);
        for (int i = 0; i < Tq; i++)
            masked_softmax_row(a + (size_t)i * Tk, mask ? mask + ((size_t)b * Tq + i) * Tk : NULL,
                               Tk);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hs, Tk, 1.0f, a, Tk, vb, ldkv,
                    0.0f, ob, C);
    }
    icstr_ops_blas_serial_end(saved);
}

/* Scratch failure: poison this head's gradients so the step cannot silently go on. */
static void poison(float *d, int rows, int ld, int hs) {
    if (!d) return;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < hs; j++) d[(size_t)r * ld + j] = NAN;
}

void icstr_attention_backward_ld(float *dq, float *dk, float *dv, const float *dout,
                                 const float *att, const float *q, const float *k,
                                 const float *v, int B, int Tq, int Tk, int C, int H, int ldq,
                                 int ldkv) {
    if (B <= 0 || Tq <= 0 || Tk <= 0 || H <= 0 || C <= 0) return;
    int hs = C / H, BH = B * H;
    float scale = 1.0f / sqrtf((float)hs);
    int par = BH > 1;
    int saved = icstr_ops_blas_serial_begin(par);
#pragma omp parallel for schedule(static) if (par)
    for (int bh = 0; bh < BH; bh++) {
        int b = bh / H, h = bh % H;
        size_t qo = (size_t)b * Tq * ldq + (size_t)h * hs;
        size_t ko = (size_t)b * Tk * ldkv + (size_t)h * hs;
        const float *a = att + (size_t)bh * Tq * Tk;
        const float *dob = dout + (size_t)b * Tq * C + (size_t)h * hs;
        float *da = icstr_ops_scratch(OPS_SCRATCH_ATT, (size_t)Tq * Tk * sizeof(float));
        if (!da) {
            poison(dq ? dq + qo : NULL, Tq, ldq, hs);
            poison(dk ? dk + ko : NULL, Tk, ldkv, hs);
            poison(dv ? dv + ko : NULL, Tk, ldkv, hs);
            continue;
        }
        if (dv)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hs, Tq, 1.0f, a, Tk, dob, C,
                        1.0f, dv + ko, ldkv);
        if (!dq && !dk) continue;
        /* d att = dout @ v^T, then through the softmax: d score = att * (d att - sum(att * d att)) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tq, Tk, hs, 1.0f, dob, C, v + ko, ldkv,
                    0.0f, da, Tk);
        for (int i = 0; i < Tq; i++) {
            const float *ar = a + (size_t)i * Tk;
            float *dr = da + (size_t)i * Tk;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < Tk; j++) s += ar[j] * dr[j];
#pragma omp simd
            for (int j = 0; j < Tk; j++) dr[j] = ar[j] * (dr[j] - s);
        }
        if (dq)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, hs, Tk, scale, da, Tk,
                        k + ko, ldkv, 1.0f, dq + qo, ldq);
        if (dk)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tk, hs, Tq, scale, da, Tk, q + qo,
                        ldq, 1.0f, dk + ko, ldkv);
    }
    icstr_ops_blas_serial_end(saved);
}

void icstr_attention_forward(float *out, float *att, const float *q, const float *k,
                             const float *v, const uint8_t *mask, int B, int Tq, int Tk, int C,
                             int H) {
    icstr_attention_forward_ld(out, att, q, k, v, mask, B, Tq, Tk, C, H, C, C);
}

void icstr_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int Tq, int Tk, int C, int H) {
    icstr_attention_backward_ld(dq, dk, dv, dout, att, q, k, v, B, Tq, Tk, C, H, C, C);
}
