/* 2-D convolution with stride and zero padding, forward and backward, for the recognizer's conv
 * stem: im2col into a (Cin*kh*kw, Ho*Wo) matrix per image, then one sgemm per image. The
 * column order (cin, ky, kx) matches a PyTorch Conv2d weight (OC, Cin, kh, kw). */
#include "icstr_core.h"
#include "ops_internal.h"

#include <cblas.h>
#include <string.h>

int icstr_conv2d_out_size(int in, int k, int stride, int pad) {
    if (in <= 0 || k <= 0 || stride <= 0 || pad < 0 || in + 2 * pad < k) return 0;
    return (in + 2 * pad - k) / stride + 1;
}

/* cols (K, Ho*Wo) of one image, K = Cin*kh*kw; taps that fall into the padding read 0. */
static void im2col(float *cols, const float *img, int Cin, int H, int W, int kh, int kw,
                   int stride, int pad, int Ho, int Wo) {
    for (int c = 0; c < Cin; c++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                float *row = cols + ((size_t)(c * kh + ky) * kw + kx) * Ho * Wo;
                const float *plane = img + (size_t)c * H * W;
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * stride - pad + ky;
                    float *dst = row + (size_t)oy * Wo;
                    if (iy < 0 || iy >= H) {
                        memset(dst, 0, (size_t)Wo * sizeof(float));
                        continue;
                    }
                    const float *src = plane + (size_t)iy * W;
                    for (int ox = 0; ox < Wo; ox++) {
                        int ix = ox * stride - pad + kx;
                        dst[ox] = (ix >= 0 && ix < W) ? src[ix] : 0.0f;
                    }
                }
            }
}

/* img += col2im(cols): every tap adds its gradient back to the pixel it read. */
static void col2im_add(float *img, const float *cols, int Cin, int H, int W, int kh, int kw,
                       int stride, int pad, int Ho, int Wo) {
    for (int c = 0; c < Cin; c++)
        for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
                const float *row = cols + ((size_t)(c * kh + ky) * kw + kx) * Ho * Wo;
                float *plane = img + (size_t)c * H * W;
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *src = row + (size_t)oy * Wo;
                    float *dst = plane + (size_t)iy * W;
                    for (int ox = 0; ox < Wo; ox++) {
                        int ix = ox * stride - pad + kx;
                        if (ix >= 0 && ix < W) dst[ix] += src[ox];
                    }
                }
            }
}

void icstr_conv2d_forward(float *out, float *cols, const float *inp, const float *w,
                          const float *b, int B, int Cin, int H, int W, int OC, int kh, int kw,
                          int stride, int pad) {
    int Ho = icstr_conv2d_out_size(H, kh, stride, pad), Wo = icstr_conv2d_out_size(W, kw, stride, pad);
    if (B <= 0 || OC <= 0 || Ho <= 0 || Wo <= 0) return;
    size_t K = (size_t)Cin * kh * kw, P = (size_t)Ho * Wo;
#pragma omp parallel for schedule(static) if ((size_t)B * K * P >= OPS_PAR_MIN)
    for (int i = 0; i < B; i++)
        im2col(cols + (size_t)i * K * P, inp + (size_t)i * Cin * H * W, Cin, H, W, kh, kw, stride,
               pad, Ho, Wo);
    for (int i = 0; i < B; i++) {
        float *o = out + (size_t)i * OC * P;
        float beta = 0.0f;
        if (b) {
            for (int oc = 0; oc < OC; oc++)
                for (size_t p = 0; p < P; p++) o[(size_t)oc * P + p] = b[oc];
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)P, (int)K, 1.0f, w,
                    (int)K, cols + (size_t)i * K * P, (int)P, beta, o, (int)P);
    }
}

void icstr_conv2d_backward(float *dinp, float *dw, float *db, float *dcols, const float *dout,
                           const float *cols, const float *w, int B, int Cin, int H, int W,
                           int OC, int kh, int kw, int stride, int pad) {
    int Ho = icstr_conv2d_out_size(H, kh, stride, pad), Wo = icstr_conv2d_out_size(W, kw, stride, pad);
    if (B <= 0 || OC <= 0 || Ho <= 0 || Wo <= 0) return;
    size_t K = (size_t)Cin * kh * kw, P = (size_t)Ho * Wo;
    if (db) {
        /* fixed order: image by image, pixel by pixel, in double */
#pragma omp parallel for schedule(static) if ((size_t)B * OC * P >= OPS_PAR_MIN)
        for (int oc = 0; oc < OC; oc++) {
            double acc = 0.0;
            for (int i = 0; i < B; i++) {
                const float *d = dout + ((size_t)i * OC + oc) * P;
                for (size_t p = 0; p < P; p++) acc += d[p];
            }
            db[oc] += (float)acc;
        }
    }
    for (int i = 0; i < B; i++) {
        const float *d = dout + (size_t)i * OC * P;
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, (int)K, (int)P, 1.0f, d,
                        (int)P, cols + (size_t)i * K * P, (int)P, 1.0f, dw, (int)K);
        if (dinp) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, OC, 1.0f, w,
                        (int)K, d, (int)P, 0.0f, dcols, (int)P);
            col2im_add(dinp + (size_t)i * Cin * H * W, dcols, Cin, H, W, kh, kw, stride, pad, Ho,
                       Wo);
        }
    }
}
