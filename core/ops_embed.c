/* Embeddings: token lookup, learned positions, and the patch embedding of an image (a convolution
 * with stride = kernel, done as im2col + the linear layer's product, so bf16 mode applies).
 * Gradient reductions over rows run in a fixed order whatever the thread count. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <string.h>

#define EMB_CHUNK 32

void icstr_embedding_forward(float *out, const int *tokens, const float *table, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= 4 * OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *y = out + (size_t)n * C;
        if (tokens[n] < 0) memset(y, 0, (size_t)C * sizeof(float));
        else memcpy(y, table + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
    }
}

void icstr_embedding_backward(float *dtable, const float *dout, const int *tokens, int N, int C) {
    /* rows may repeat a token: each thread owns a band of columns and walks the rows in order */
    int chunks = (C + EMB_CHUNK - 1) / EMB_CHUNK;
#pragma omp parallel for schedule(static) if ((size_t)N * C >= OPS_PAR_MIN && chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        int c0 = ch * EMB_CHUNK, c1 = c0 + EMB_CHUNK < C ? c0 + EMB_CHUNK : C;
        for (int n = 0; n < N; n++) {
            if (tokens[n] < 0) continue;
            float *dst = dtable + (size_t)tokens[n] * C;
            const float *src = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}

void icstr_posemb_forward(float *out, const float *inp, const float *pos, int B, int T, int C) {
    size_t tc = (size_t)T * C;
#pragma omp parallel for schedule(static) if ((size_t)B * tc >= 4 * OPS_PAR_MIN)
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < tc; i++) out[b * tc + i] = inp[b * tc + i] + pos[i];
}

void icstr_posemb_backward(float *dinp, float *dpos, const float *dout, int B, int T, int C) {
    size_t tc = (size_t)T * C;
    if (dinp)
        for (size_t i = 0; i < (size_t)B * tc; i++) dinp[i] += dout[i];
    if (dpos) {
#pragma omp parallel for schedule(static) if ((size_t)B * tc >= OPS_PAR_MIN)
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                const float *src = dout + b * tc + (size_t)t * C;
                float *dst = dpos + (size_t)t * C;
                for (int c = 0; c < C; c++) dst[c] += src[c];
            }
    }
}

/* cols (B*PH*PW, Cin*ph*pw) from img (B,Cin,Hi,Wi); row = patch, column = (cin, ky, kx). */
static void im2col(float *cols, const float *img, int B, int Cin, int Hi, int Wi, int ph, int pw) {
    int PH = Hi / ph, PW = Wi / pw, K = Cin * ph * pw;
#pragma omp parallel for schedule(static) if ((size_t)B * Cin * Hi * Wi >= OPS_PAR_MIN)
    for (int r = 0; r < B * PH; r++) {
        int b = r / PH, py = r % PH;
        for (int px = 0; px < PW; px++) {
            float *dst = cols + ((size_t)r * PW + px) * K;
            for (int ci = 0; ci < Cin; ci++)
                for (int ky = 0; ky < ph; ky++) {
                    const float *src =
                        img + (((size_t)b * Cin + ci) * Hi + (size_t)py * ph + ky) * Wi + (size_t)px * pw;
                    memcpy(dst + (ci * ph + ky) * pw, src, (size_t)pw * sizeof(float));
                }
        }
    }
}

/* dimg += the patches in cols placed back (patches do not overlap, so rows are independent). */
static void col2im_add(float *dimg, const float *cols, int B, int Cin, int Hi, int Wi, int ph,
                       int pw) {
    int PH = Hi / ph, PW = Wi / pw, K = Cin * ph * pw;
#pragma omp parallel for schedule(static) if ((size_t)B * Cin * Hi * Wi >= OPS_PAR_MIN)
    for (int r = 0; r < B * PH; r++) {
        int b = r / PH, py = r % PH;
        for (int px = 0; px < PW; px++) {
            const float *src = cols + ((size_t)r * PW + px) * K;
            for (int ci = 0; ci < Cin; ci++)
                for (int ky = 0; ky < ph; ky++) {
                    float *dst =
                        dimg + (((size_t)b * Cin + ci) * Hi + (size_t)py * ph + ky) * Wi + (size_t)px * pw;
                    const float *s = src + (ci * ph + ky) * pw;
                    for (int kx = 0; kx < pw; kx++) dst[kx] += s[kx];
                }
        }
    }
}

void icstr_patch_embed_forward(float *out, float *cols, const float *img, const float *w,
                               const float *b, int B, int Cin, int Hi, int Wi, int ph, int pw,
                               int C) {
    if (ph <= 0 || pw <= 0) return;
    int P = (Hi / ph) * (Wi / pw), K = Cin * ph * pw;
    im2col(cols, img, B, Cin, Hi, Wi, ph, pw);
    icstr_linear_forward(out, cols, w, b, B * P, K, C);
}

void icstr_patch_embed_backward(float *dimg, float *dw, float *db, float *cols, const float *dout,
                                const float *img, const float *w, int B, int Cin, int Hi, int Wi,
                                int ph, int pw, int C) {
    if (ph <= 0 || pw <= 0) return;
    int P = (Hi / ph) * (Wi / pw), K = Cin * ph * pw, N = B * P;
    if (dw) im2col(cols, img, B, Cin, Hi, Wi, ph, pw);
    icstr_linear_backward(NULL, dw, db, dout, cols, w, N, K, C);
    if (dimg) {
        memset(cols, 0, (size_t)N * K * sizeof(float));
        icstr_linear_backward(cols, NULL, NULL, dout, NULL, w, N, K, C);
        col2im_add(dimg, cols, B, Cin, Hi, Wi, ph, pw);
    }
}
