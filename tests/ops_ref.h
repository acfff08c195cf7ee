/* Naive double-precision references of every op in core/ops.h, forward only: plain loops that
 * follow the definitions, no BLAS, no tricks, no saved statistics. The tests compare the fast
 * float ops against these and differentiate them numerically for the gradient checks. Inputs
 * are doubles (converted from the float inputs the fast op saw); outputs are doubles. */
#ifndef ICSTR_OPS_REF_H
#define ICSTR_OPS_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void ref_linear(double *out, const double *inp, const double *w, const double *b,
                              int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0;
            for (int c = 0; c < C; c++) s += inp[n * C + c] * w[o * C + c];
            out[n * OC + o] = s;
        }
}

static inline void ref_layernorm(double *out, const double *inp, const double *w, const double *b,
                                 int N, int C) {
    for (int n = 0; n < N; n++) {
        const double *x = inp + n * C;
        double m = 0.0, v = 0.0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        for (int i = 0; i < C; i++)
            out[n * C + i] = (x[i] - m) / sqrt(v + 1e-5) * (w ? w[i] : 1.0) + (b ? b[i] : 0.0);
    }
}

static inline void ref_gelu(double *out, const double *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = inp[i];
        out[i] = 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    }
}

static inline void ref_softmax(double *out, const double *inp, int N, int V) {
    for (int n = 0; n < N; n++) {
        double mx = inp[n * V], s = 0.0;
        for (int j = 1; j < V; j++) mx = fmax(mx, inp[n * V + j]);
        for (int j = 0; j < V; j++) s += exp(inp[n * V + j] - mx);
        for (int j = 0; j < V; j++) out[n * V + j] = exp(inp[n * V + j] - mx) / s;
    }
}

/* q (B,Tq,C), k v (B,Tk,C), mask (B,Tq,Tk) or NULL; att (B,H,Tq,Tk) may be NULL. */
static inline void ref_attention(double *out, double *att, const double *q, const double *k,
                                 const double *v, const uint8_t *mask, int B, int Tq, int Tk,
                                 int C, int H) {
    int hs = C / H;
    double *p = malloc((size_t)(Tk > 0 ? Tk : 1) * sizeof *p);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                double mx = -INFINITY;
                int any = 0;
                for (int j = 0; j < Tk; j++) {
                    double s = 0.0;
                    for (int d = 0; d < hs; d++)
                        s += q[(b * Tq + i) * C + h * hs + d] * k[(b * Tk + j) * C + h * hs + d];
                    p[j] = s / sqrt((double)hs);
                    int allowed = !mask || mask[(b * Tq + i) * Tk + j];
                    if (allowed) {
                        any = 1;
                        mx = fmax(mx, p[j]);
                    }
                }
                double sum = 0.0;
                for (int j = 0; j < Tk; j++) {
                    int allowed = !mask || mask[(b * Tq + i) * Tk + j];
                    p[j] = allowed && any ? exp(p[j] - mx) : 0.0;
                    sum += p[j];
                }
                for (int j = 0; j < Tk; j++) {
                    if (any) p[j] /= sum;
                    if (att) att[((b * H + h) * Tq + i) * Tk + j] = p[j];
                }
                for (int d = 0; d < hs; d++) {
                    double s = 0.0;
                    for (int j = 0; j < Tk; j++) s += p[j] * v[(b * Tk + j) * C + h * hs + d];
                    out[(b * Tq + i) * C + h * hs + d] = s;
                }
            }
    free(p);
}

static inline void ref_embedding(double *out, const int *tokens, const double *table, int N,
                                 int C) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) out[n * C + c] = tokens[n] < 0 ? 0.0 : table[tokens[n] * C + c];
}

static inline void ref_posemb(double *out, const double *inp, const double *pos, int B, int T,
                              int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                out[(b * T + t) * C + c] = inp[(b * T + t) * C + c] + pos[t * C + c];
}

/* The convolution written out directly: out[b, py*PW+px, o] = b[o] + sum over (ci,ky,kx) of
 * img[b, ci, py*ph+ky, px*pw+kx] * w[o, ci, ky, kx]. */
static inline void ref_patch_embed(double *out, const double *img, const double *w,
                                   const double *bias, int B, int Cin, int Hi, int Wi, int ph,
                                   int pw, int C) {
    int PH = Hi / ph, PW = Wi / pw;
    for (int b = 0; b < B; b++)
        for (int py = 0; py < PH; py++)
            for (int px = 0; px < PW; px++)
                for (int o = 0; o < C; o++) {
                    double s = bias ? bias[o] : 0.0;
                    for (int ci = 0; ci < Cin; ci++)
                        for (int ky = 0; ky < ph; ky++)
                            for (int kx = 0; kx < pw; kx++)
                                s += img[((b * Cin + ci) * Hi + py * ph + ky) * Wi + px * pw + kx] *
                                     w[((o * Cin + ci) * ph + ky) * pw + kx];
                    out[((b * PH + py) * PW + px) * C + o] = s;
                }
}

static inline void ref_residual(double *out, const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* Returns the number of counted rows; losses of ignored rows are 0. */
static inline int ref_crossentropy(double *losses, const double *logits, const int *targets,
                                   int N, int V, double smoothing, int ignore_index) {
    int count = 0;
    for (int n = 0; n < N; n++) {
        const double *x = logits + n * V;
        int t = targets[n];
        losses[n] = 0.0;
        if (t == ignore_index || t < 0 || t >= V) continue;
        double mx = x[0], s = 0.0;
        for (int j = 1; j < V; j++) mx = fmax(mx, x[j]);
        for (int j = 0; j < V; j++) s += exp(x[j] - mx);
        for (int j = 0; j < V; j++) {
            double target = (j == t ? 1.0 - smoothing : 0.0) + smoothing / V;
            losses[n] -= target * (x[j] - mx - log(s));
        }
        count++;
    }
    return count;
}

static inline void ref_dropout(double *out, const double *inp, const uint8_t *keep, size_t n,
                               double p) {
    for (size_t i = 0; i < n; i++) out[i] = keep[i] ? inp[i] / (1.0 - p) : 0.0;
}

/* What a CTC path of T symbols (0 the blank) collapses to: repeats merged, blanks dropped; returns
 * the length written to out. */
static inline int ref_ctc_collapse(const int *path, int T, int *out) {
    int n = 0, prev = 0;
    for (int t = 0; t < T; t++) {
        if (path[t] && path[t] != prev) out[n++] = path[t];
        prev = path[t];
    }
    return n;
}

/* CTC by brute force: the probability of the label is the sum, over every one of the V^T frame
 * paths, of the path's probability when the path collapses (merge repeats, drop blanks) to the
 * label. Only for tiny T and V. Returns -log p, or INFINITY when no path collapses to it. */
static inline double ref_ctc_one(const double *logits, const int *label, int len, int T, int V) {
    double *lp = malloc((size_t)T * V * sizeof *lp);
    for (int t = 0; t < T; t++) {
        double mx = logits[t * V], s = 0.0;
        for (int k = 1; k < V; k++) mx = fmax(mx, logits[t * V + k]);
        for (int k = 0; k < V; k++) s += exp(logits[t * V + k] - mx);
        for (int k = 0; k < V; k++) lp[t * V + k] = logits[t * V + k] - mx - log(s);
    }
    int *path = calloc((size_t)T, sizeof *path);
    double total = 0.0;
    for (;;) {
        int n = 0, ok = 1, prev = -1;
        for (int t = 0; t < T && ok; t++) {
            if (path[t] != 0 && path[t] != prev) {
                if (n >= len || label[n] != path[t]) ok = 0;
                else n++;
            }
            prev = path[t];
        }
        if (ok && n == len) {
            double l = 0.0;
            for (int t = 0; t < T; t++) l += lp[t * V + path[t]];
            total += exp(l);
        }
        int t = 0;
        while (t < T && ++path[t] == V) path[t++] = 0;
        if (t == T) break;
    }
    free(path);
    free(lp);
    return total > 0.0 ? -log(total) : INFINITY;
}

/* CTC by the textbook forward recursion in probability space (no logs, no rescaling: only for
 * short sequences where p stays far above DBL_MIN). Checked against ref_ctc_one where both fit. */
static inline double ref_ctc_alpha(const double *logits, const int *label, int len, int T, int V) {
    int L = 2 * len + 1;
    double *y = calloc((size_t)T * V + 1, sizeof *y), *a = calloc((size_t)L, sizeof *a),
           *na = calloc((size_t)L, sizeof *na);
    for (int t = 0; t < T; t++) {
        double mx = logits[t * V], s = 0.0;
        for (int k = 1; k < V; k++) mx = fmax(mx, logits[t * V + k]);
        for (int k = 0; k < V; k++) s += exp(logits[t * V + k] - mx);
        for (int k = 0; k < V; k++) y[t * V + k] = exp(logits[t * V + k] - mx) / s;
    }
#define REF_EXT(s) (((s) % 2) ? label[(s) / 2] : 0)
    a[0] = y[0];
    if (L > 1) a[1] = y[REF_EXT(1)];
    for (int t = 1; t < T; t++) {
        for (int s = 0; s < L; s++) {
            double v = a[s] + (s >= 1 ? a[s - 1] : 0.0);
            if (s >= 2 && REF_EXT(s) != 0 && REF_EXT(s) != REF_EXT(s - 2)) v += a[s - 2];
            na[s] = v * y[t * V + REF_EXT(s)];
        }
        memcpy(a, na, (size_t)L * sizeof *a);
    }
#undef REF_EXT
    double p = a[L - 1] + (L > 1 ? a[L - 2] : 0.0);
    free(y), free(a), free(na);
    return p > 0.0 ? -log(p) : INFINITY;
}

/* ---- helpers ---- */
static inline double *ref_to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

#endif
