/* core/ops_conv.c: conv2d forward against a naive direct convolution in double, and every
 * gradient (input, weight, bias) against central finite differences of
 * L = sum(out * R) evaluated in double, on shapes with stride, padding and odd sizes. */
#include "check.h"
#include "icstr_core.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int B, Cin, H, W, OC, kh, kw, stride, pad;
} shape;

static void naive_conv(double *out, const float *inp, const float *w, const float *b, const shape *s,
                       int Ho, int Wo) {
    for (int i = 0; i < s->B; i++)
        for (int oc = 0; oc < s->OC; oc++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double acc = b ? b[oc] : 0.0;
                    for (int c = 0; c < s->Cin; c++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                                acc += (double)w[((oc * s->Cin + c) * s->kh + ky) * s->kw + kx] *
                                       inp[(((size_t)i * s->Cin + c) * s->H + iy) * s->W + ix];
                            }
                    out[(((size_t)i * s->OC + oc) * Ho + oy) * Wo + ox] = acc;
                }
}

static double loss_of(const float *inp, const float *w, const float *b, const double *R, float *out,
                      float *cols, const shape *s, size_t n_out) {
    icstr_conv2d_forward(out, cols, inp, w, b, s->B, s->Cin, s->H, s->W, s->OC, s->kh, s->kw,
                         s->stride, s->pad);
    double L = 0.0;
    for (size_t i = 0; i < n_out; i++) L += out[i] * R[i];
    return L;
}

/* central difference of L w.r.t. x[i]; L is linear in every argument, so a large step is exact
 * up to rounding */
static double fd(float *x, size_t i, const float *inp, const float *w, const float *b,
                 const double *R, float *out, float *cols, const shape *s, size_t n_out) {
    const float h = 0.05f;
    float keep = x[i];
    x[i] = keep + h;
    double lp = loss_of(inp, w, b, R, out, cols, s, n_out);
    x[i] = keep - h;
    double lm = loss_of(inp, w, b, R, out, cols, s, n_out);
    x[i] = keep;
    return (lp - lm) / (2.0 * (double)h);
}

static void check_shape(const shape *s, icstr_rng *rng) {
    int Ho = icstr_conv2d_out_size(s->H, s->kh, s->stride, s->pad);
    int Wo = icstr_conv2d_out_size(s->W, s->kw, s->stride, s->pad);
    CHECK(Ho > 0 && Wo > 0);
    size_t K = (size_t)s->Cin * s->kh * s->kw, P = (size_t)Ho * Wo;
    size_t n_in = (size_t)s->B * s->Cin * s->H * s->W, n_w = (size_t)s->OC * K,
           n_out = (size_t)s->B * s->OC * P;
    float *inp = malloc(n_in * sizeof(float)), *w = malloc(n_w * sizeof(float));
    float *b = malloc((size_t)s->OC * sizeof(float)), *out = malloc(n_out * sizeof(float));
    float *cols = malloc((size_t)s->B * K * P * sizeof(float)), *dcols = malloc(K * P * sizeof(float));
    float *dinp = calloc(n_in, sizeof(float)), *dw = calloc(n_w, sizeof(float));
    float *db = calloc((size_t)s->OC, sizeof(float)), *dout = malloc(n_out * sizeof(float));
    double *R = malloc(n_out * sizeof(double)), *ref = malloc(n_out * sizeof(double));
    for (size_t i = 0; i < n_in; i++) inp[i] = icstr_rng_normal(rng);
    for (size_t i = 0; i < n_w; i++) w[i] = icstr_rng_normal(rng);
    for (int i = 0; i < s->OC; i++) b[i] = icstr_rng_normal(rng);
    for (size_t i = 0; i < n_out; i++) {
        R[i] = icstr_rng_normal(rng);
        dout[i] = (float)R[i];
    }

    /* forward, with and without bias */
    for (int with_b = 0; with_b < 2; with_b++) {
        const float *bb = with_b ? b : NULL;
        icstr_conv2d_forward(out, cols, inp, w, bb, s->B, s->Cin, s->H, s->W, s->OC, s->kh, s->kw,
                             s->stride, s->pad);
        naive_conv(ref, inp, w, bb, s, Ho, Wo);
        double worst = 0.0;
        for (size_t i = 0; i < n_out; i++) {
            double e = fabs(out[i] - ref[i]);
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 1e-4, "forward max error %g (bias %d)", worst, with_b);
    }

    /* backward (gradients add: start from a known non-zero value and subtract it) */
    icstr_conv2d_forward(out, cols, inp, w, b, s->B, s->Cin, s->H, s->W, s->OC, s->kh, s->kw,
                         s->stride, s->pad);
    for (size_t i = 0; i < n_in; i++) dinp[i] = 1.0f;
    icstr_conv2d_backward(dinp, dw, db, dcols, dout, cols, w, s->B, s->Cin, s->H, s->W, s->OC,
                          s->kh, s->kw, s->stride, s->pad);
    for (size_t i = 0; i < n_in; i++) dinp[i] -= 1.0f;

    int bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n_in; i++) {
        double g = fd(inp, i, inp, w, b, R, out, cols, s, n_out);
        double e = fabs(g - dinp[i]) / (1.0 + fabs(g));
        if (e > worst) worst = e;
        bad += e > 2e-3;
    }
    CHECK_MSG(bad == 0, "dinp: %d wrong, worst relative error %g", bad, worst);
    bad = 0;
    worst = 0.0;
    for (size_t i = 0; i < n_w; i++) {
        double g = fd(w, i, inp, w, b, R, out, cols, s, n_out);
        double e = fabs(g - dw[i]) / (1.0 + fabs(g));
        if (e > worst) worst = e;
        bad += e > 2e-3;
    }
    CHECK_MSG(bad == 0, "dw: %d wrong, worst relative error %g", bad, worst);
    bad = 0;
    for (int i = 0; i < s->OC; i++) {
        double g = fd(b, (size_t)i, inp, w, b, R, out, cols, s, n_out);
        bad += fabs(g - db[i]) / (1.0 + fabs(g)) > 2e-3;
    }
    CHECK_MSG(bad == 0, "db: %d wrong", bad);

    /* the input gradient is optional */
    memset(dw, 0, n_w * sizeof(float));
    float *dw2 = calloc(n_w, sizeof(float));
    icstr_conv2d_backward(NULL, dw2, NULL, NULL, dout, cols, w, s->B, s->Cin, s->H, s->W, s->OC,
                          s->kh, s->kw, s->stride, s->pad);
    icstr_conv2d_backward(NULL, dw, NULL, NULL, dout, cols, w, s->B, s->Cin, s->H, s->W, s->OC,
                          s->kh, s->kw, s->stride, s->pad);
    CHECK(memcmp(dw, dw2, n_w * sizeof(float)) == 0);

    free(dw2);
    free(inp), free(w), free(b), free(out), free(cols), free(dcols), free(dinp), free(dw);
    free(db), free(dout), free(R), free(ref);
}

int main(void) {
    CHECK(icstr_conv2d_out_size(32, 3, 2, 1) == 16);
    CHECK(icstr_conv2d_out_size(16, 3, 2, 1) == 8);
    CHECK(icstr_conv2d_out_size(7, 3, 1, 0) == 5);
    CHECK(icstr_conv2d_out_size(2, 3, 1, 0) == 0);
    CHECK(icstr_conv2d_out_size(5, 2, 3, 2) == 3);
    CHECK(icstr_conv2d_out_size(5, 0, 1, 0) == 0);

    icstr_rng rng;
    icstr_rng_seed(&rng, 7);
    const shape shapes[] = {
        {2, 3, 8, 12, 4, 3, 3, 2, 1},  /* the stem's conv: 3x3, stride 2, pad 1 */
        {1, 2, 7, 9, 3, 3, 3, 2, 1},   /* odd sizes */
        {2, 2, 6, 5, 3, 3, 3, 1, 0},   /* no padding */
        {1, 3, 5, 6, 2, 2, 3, 3, 2},   /* rectangular kernel, stride 3, pad 2 */
        {3, 4, 4, 4, 5, 1, 1, 1, 0},   /* 1x1 */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) check_shape(&shapes[i], &rng);
    return check_finish("test_conv_grad");
}
