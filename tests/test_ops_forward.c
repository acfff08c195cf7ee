/* Every fast op's forward against its naive double reference (tests/ops_ref.h) on small random
 * shapes: odd sizes, several heads, causal / padding / random masks with a fully masked row,
 * cross-attention with Tq != Tk, the strided (fused qkv) attention, label smoothing and the ignore
 * index, dropout statistics, CTC against brute-force enumeration of alignments, and reductions
 * that must not depend on the thread count. */
#include "check.h"
#include "icstr_core.h"
#include "ops_ref.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static icstr_rng rng;

static float *randf(size_t n, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = icstr_rng_range(&rng, lo, hi);
    return x;
}

static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* Every |got - ref| <= tol * (1 + |ref|); prints the worst element when not. */
static int close_to(const char *what, const float *got, const double *ref, size_t n, double tol) {
    double worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - ref[i]) / (1.0 + fabs(ref[i]));
        if (!(e <= worst)) { /* the negation also catches NaN */
            worst = isnan(e) ? INFINITY : e;
            wi = i;
        }
    }
    if (worst > tol)
        fprintf(stderr, "  %s: worst element %zu: got %.9g, reference %.9g (scaled error %.3g > %.3g)\n",
                what, wi, (double)got[wi], ref[wi], worst, tol);
    return worst <= tol;
}

static void test_linear(int N, int C, int OC, int bias) {
    size_t nx = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *x = randf(nx, -1, 1), *w = randf(nw, -1, 1), *b = randf(OC, -1, 1);
    float *out = randf(no, 5, 6); /* garbage: forward must overwrite it */
    double *xd = ref_to_double(x, nx), *wd = ref_to_double(w, nw), *bd = ref_to_double(b, OC);
    double *ref = dalloc(no);
    icstr_linear_forward(out, x, w, bias ? b : NULL, N, C, OC);
    ref_linear(ref, xd, wd, bias ? bd : NULL, N, C, OC);
    CHECK_MSG(close_to("linear", out, ref, no, 1e-5), "N=%d C=%d OC=%d bias=%d", N, C, OC, bias);
    free(x), free(w), free(b), free(out), free(xd), free(wd), free(bd), free(ref);
}

static void test_layernorm(int N, int C) {
    size_t n = (size_t)N * C;
    float *x = randf(n, -3, 5), *w = randf(C, 0.5f, 1.5f), *b = randf(C, -1, 1);
    float *out = randf(n, 0, 1), *mean = randf(N, 0, 1), *rstd = randf(N, 0, 1);
    double *xd = ref_to_double(x, n), *wd = ref_to_double(w, C), *bd = ref_to_double(b, C);
    double *ref = dalloc(n);
    ref_layernorm(ref, xd, wd, bd, N, C);
    icstr_layernorm_forward(out, mean, rstd, x, w, b, N, C);
    CHECK_MSG(close_to("layernorm", out, ref, n, 1e-5), "N=%d C=%d", N, C);
    int ok = 1;
    for (int r = 0; r < N; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += xd[r * C + i];
        m /= C;
        for (int i = 0; i < C; i++) v += (xd[r * C + i] - m) * (xd[r * C + i] - m);
        double rs = 1.0 / sqrt(v / C + 1e-5);
        ok &= fabs(mean[r] - m) <= 1e-5 * (1 + fabs(m)) && fabs(rstd[r] - rs) <= 1e-5 * rs;
    }
    CHECK_MSG(ok, "layernorm mean/rstd N=%d C=%d", N, C);
    /* in place, without weight and bias (NULL = identity), without saved statistics */
    ref_layernorm(ref, xd, NULL, NULL, N, C);
    icstr_layernorm_forward(x, NULL, NULL, x, NULL, NULL, N, C);
    CHECK_MSG(close_to("layernorm in place", x, ref, n, 1e-5), "N=%d C=%d", N, C);
    free(x), free(w), free(b), free(out), free(mean), free(rstd), free(xd), free(wd), free(bd), free(ref);
}

static void test_gelu(void) {
    size_t n = 1003;
    float *x = randf(n, -6, 6), *out = randf(n, 0, 1);
    x[0] = 0.0f, x[1] = -20.0f, x[2] = 20.0f, x[3] = -1e-3f, x[4] = 3.0f;
    double *xd = ref_to_double(x, n), *ref = dalloc(n);
    ref_gelu(ref, xd, n);
    icstr_gelu_forward(out, x, n);
    CHECK(close_to("gelu", out, ref, n, 1e-6));
    CHECK(out[0] == 0.0f && out[2] == 20.0f && fabsf(out[1]) < 1e-30f);
    icstr_gelu_forward(x, x, n); /* in place */
    CHECK(close_to("gelu in place", x, ref, n, 1e-6));
    free(x), free(out), free(xd), free(ref);
}

static void test_softmax(int N, int V, float offset) {
    size_t n = (size_t)N * V;
    float *x = randf(n, offset - 4, offset + 4), *out = randf(n, 0, 1);
    double *xd = ref_to_double(x, n), *ref = dalloc(n);
    ref_softmax(ref, xd, N, V);
    icstr_softmax_forward(out, x, N, V);
    CHECK_MSG(close_to("softmax", out, ref, n, 1e-6), "N=%d V=%d offset=%g", N, V, offset);
    free(x), free(out), free(xd), free(ref);
}

enum { MASK_NONE, MASK_CAUSAL, MASK_PADDING, MASK_RANDOM };

/* A mask of the given kind; MASK_RANDOM also blocks every key of one query row. */
static uint8_t *make_mask(int kind, int B, int Tq, int Tk) {
    if (kind == MASK_NONE) return NULL;
    uint8_t *m = malloc((size_t)B * Tq * Tk);
    for (int b = 0; b < B; b++) {
        int valid = Tk - b % Tk; /* padding: batch b has its last b keys padded */
        for (int i = 0; i < Tq; i++)
            for (int j = 0; j < Tk; j++) {
                uint8_t *e = &m[((size_t)b * Tq + i) * Tk + j];
                if (kind == MASK_CAUSAL) *e = j <= i;
                else if (kind == MASK_PADDING) *e = j < valid;
                else *e = icstr_rng_below(&rng, 3) != 0;
            }
    }
    if (kind == MASK_RANDOM) memset(m + ((size_t)(B - 1) * Tq + Tq / 2) * Tk, 0, (size_t)Tk);
    return m;
}

static void test_attention(int B, int Tq, int Tk, int C, int H, int kind) {
    size_t nq = (size_t)B * Tq * C, nk = (size_t)B * Tk * C, na = (size_t)B * H * Tq * Tk;
    float *q = randf(nq, -1.5f, 1.5f), *k = randf(nk, -1.5f, 1.5f), *v = randf(nk, -1, 1);
    float *out = randf(nq, 7, 8), *att = randf(na, 7, 8);
    uint8_t *mask = make_mask(kind, B, Tq, Tk);
    double *qd = ref_to_double(q, nq), *kd = ref_to_double(k, nk), *vd = ref_to_double(v, nk);
    double *rout = dalloc(nq), *ratt = dalloc(na);
    ref_attention(rout, ratt, qd, kd, vd, mask, B, Tq, Tk, C, H);
    icstr_attention_forward(out, att, q, k, v, mask, B, Tq, Tk, C, H);
    CHECK_MSG(close_to("attention out", out, rout, nq, 1e-5), "B=%d Tq=%d Tk=%d C=%d H=%d mask=%d", B,
              Tq, Tk, C, H, kind);
    CHECK_MSG(close_to("attention att", att, ratt, na, 1e-6), "B=%d Tq=%d Tk=%d C=%d H=%d mask=%d", B,
              Tq, Tk, C, H, kind);
    if (kind == MASK_RANDOM) {
        /* the fully masked row: probabilities and output exactly 0 */
        int b = B - 1, i = Tq / 2, zero = 1;
        for (int h = 0; h < H; h++)
            for (int j = 0; j < Tk; j++) zero &= att[(((size_t)b * H + h) * Tq + i) * Tk + j] == 0.0f;
        for (int c = 0; c < C; c++) zero &= out[((size_t)b * Tq + i) * C + c] == 0.0f;
        CHECK(zero);
    }
    if (mask) {
        int zero = 1; /* masked keys get exactly 0 */
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < Tq; i++)
                    for (int j = 0; j < Tk; j++)
                        if (!mask[((size_t)b * Tq + i) * Tk + j])
                            zero &= att[(((size_t)b * H + h) * Tq + i) * Tk + j] == 0.0f;
        CHECK(zero);
    }
    /* strided variant: q from a (B,Tq,2C) buffer, k and v from a fused (B,Tk,3C) one */
    float *qb = randf(nq * 2, 0, 1), *kvb = randf(nk * 3, 0, 1), *out2 = randf(nq, 7, 8), *att2 = randf(na, 7, 8);
    for (size_t r = 0; r < (size_t)B * Tq; r++) memcpy(qb + r * 2 * C + C, q + r * C, (size_t)C * sizeof(float));
    for (size_t r = 0; r < (size_t)B * Tk; r++) {
        memcpy(kvb + r * 3 * C + C, k + r * C, (size_t)C * sizeof(float));
        memcpy(kvb + r * 3 * C + 2 * C, v + r * C, (size_t)C * sizeof(float));
    }
    icstr_attention_forward_ld(out2, att2, qb + C, kvb + C, kvb + 2 * C, mask, B, Tq, Tk, C, H, 2 * C, 3 * C);
    CHECK_MSG(close_to("attention_ld out", out2, rout, nq, 1e-5), "B=%d Tq=%d Tk=%d", B, Tq, Tk);
    CHECK_MSG(close_to("attention_ld att", att2, ratt, na, 1e-6), "B=%d Tq=%d Tk=%d", B, Tq, Tk);
    free(q), free(k), free(v), free(out), free(att), free(mask), free(qd), free(kd), free(vd);
    free(rout), free(ratt), free(qb), free(kvb), free(out2), free(att2);
}

static void test_embeddings(void) {
    int N = 11, C = 7, V = 5;
    int tokens[11] = {0, 4, 2, -1, 2, 3, 1, 4, 4, 0, -1};
    float *table = randf((size_t)V * C, -1, 1), *out = randf((size_t)N * C, 5, 6);
    double *td = ref_to_double(table, (size_t)V * C), *ref = dalloc((size_t)N * C);
    ref_embedding(ref, tokens, td, N, C);
    icstr_embedding_forward(out, tokens, table, N, C);
    CHECK(close_to("embedding", out, ref, (size_t)N * C, 0.0));

    int B = 3, T = 5;
    size_t n = (size_t)B * T * C;
    float *x = randf(n, -1, 1), *pos = randf((size_t)T * C, -1, 1), *y = randf(n, 5, 6);
    double *xd = ref_to_double(x, n), *pd = ref_to_double(pos, (size_t)T * C), *r2 = dalloc(n);
    ref_posemb(r2, xd, pd, B, T, C);
    icstr_posemb_forward(y, x, pos, B, T, C);
    CHECK(close_to("posemb", y, r2, n, 1e-7));
    icstr_posemb_forward(x, x, pos, B, T, C);
    CHECK(close_to("posemb in place", x, r2, n, 1e-7));

    float *a = randf(n, -1, 1), *b = randf(n, -1, 1), *s = randf(n, 5, 6);
    double *ad = ref_to_double(a, n), *bd = ref_to_double(b, n);
    ref_residual(r2, ad, bd, n);
    icstr_residual_forward(s, a, b, n);
    CHECK(close_to("residual", s, r2, n, 1e-7));
    icstr_residual_forward(a, a, b, n);
    CHECK(close_to("residual in place", a, r2, n, 1e-7));
    free(table), free(out), free(td), free(ref), free(x), free(pos), free(y), free(xd), free(pd);
    free(r2), free(a), free(b), free(s), free(ad), free(bd);
}

static void test_patch_embed(int B, int Cin, int Hi, int Wi, int ph, int pw, int C) {
    int P = (Hi / ph) * (Wi / pw), K = Cin * ph * pw;
    size_t ni = (size_t)B * Cin * Hi * Wi, nw = (size_t)C * K, no = (size_t)B * P * C;
    float *img = randf(ni, 0, 1), *w = randf(nw, -1, 1), *b = randf(C, -1, 1);
    float *out = randf(no, 5, 6), *cols = randf((size_t)B * P * K, 5, 6);
    double *id = ref_to_double(img, ni), *wd = ref_to_double(w, nw), *bd = ref_to_double(b, C), *ref = dalloc(no);
    ref_patch_embed(ref, id, wd, bd, B, Cin, Hi, Wi, ph, pw, C);
    icstr_patch_embed_forward(out, cols, img, w, b, B, Cin, Hi, Wi, ph, pw, C);
    CHECK_MSG(close_to("patch embed", out, ref, no, 1e-5), "B=%d Cin=%d %dx%d patch %dx%d C=%d", B, Cin, Hi,
              Wi, ph, pw, C);
    free(img), free(w), free(b), free(out), free(cols), free(id), free(wd), free(bd), free(ref);
}

static void test_crossentropy(float smoothing) {
    enum { N = 9, V = 6 };
    int targets[N] = {0, 5, -100, 3, 3, -100, 1, 2, 4};
    float *x = randf((size_t)N * V, -3, 3), *probs = randf((size_t)N * V, 5, 6), losses[N];
    x[0] += 50.0f; /* a large logit: needs the max subtraction */
    double *xd = ref_to_double(x, (size_t)N * V), rl[N], rp[N * V];
    int rc = ref_crossentropy(rl, xd, targets, N, V, smoothing, -100);
    int count = icstr_crossentropy_forward(losses, probs, x, targets, N, V, smoothing, -100);
    CHECK(count == rc && count == 7);
    CHECK_MSG(close_to("crossentropy", losses, rl, N, 1e-6), "smoothing %g", smoothing);
    CHECK(losses[2] == 0.0f && losses[5] == 0.0f);
    ref_softmax(rp, xd, N, V);
    CHECK(close_to("crossentropy probs", probs, rp, (size_t)N * V, 1e-6));
    /* an out-of-range target is treated as ignored, never read out of bounds */
    int bad[2] = {V, -7};
    CHECK(icstr_crossentropy_forward(losses, probs, x, bad, 2, V, smoothing, -100) == 0);
    CHECK(losses[0] == 0.0f && losses[1] == 0.0f);
    free(x), free(probs), free(xd);
}

static void test_dropout(void) {
    size_t n = 200000;
    float *x = randf(n, -1, 1), *y = randf(n, 5, 6), *d = calloc(n, sizeof *d), *g = randf(n, -1, 1);
    uint8_t *keep = malloc(n);
    icstr_rng r = rng, r0 = rng;
    icstr_dropout_forward(y, keep, x, n, 0.0f, &r);
    int same = !memcmp(x, y, n * sizeof *x) && !memcmp(&r, &r0, sizeof r), all = 1;
    for (size_t i = 0; i < n; i++) all &= keep[i] == 1;
    CHECK(same && all); /* p = 0: a copy, all kept, no draws */
    icstr_dropout_backward(d, g, keep, n, 0.0f);
    CHECK(!memcmp(d, g, n * sizeof *d));

    float p = 0.3f;
    icstr_dropout_forward(y, keep, x, n, p, &r);
    size_t kept = 0;
    int exact = 1;
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        kept += keep[i];
        exact &= keep[i] <= 1 && y[i] == (keep[i] ? x[i] * (1.0f / (1.0f - p)) : 0.0f);
        sx += x[i];
        sy += y[i];
    }
    double frac = (double)kept / n; /* binomial sd = sqrt(0.21 / n) = 0.001 */
    CHECK_NEAR(frac, 1.0 - p, 0.006);
    CHECK(exact);
    CHECK_NEAR(sy / n, sx / n, 0.01); /* inverted dropout keeps the mean; sd of the mean ~ 0.0008 */
    /* the same rng state gives the same mask */
    icstr_rng r2 = r0;
    uint8_t *keep2 = malloc(n);
    float *y2 = malloc(n * sizeof *y2);
    icstr_dropout_forward(y2, keep2, x, n, 0.0f, &r2); /* p = 0 draws nothing */
    icstr_dropout_forward(y2, keep2, x, n, p, &r2);
    CHECK(!memcmp(keep, keep2, n) && !memcmp(y, y2, n * sizeof *y));
    /* backward: the same mask and scale; adds */
    memset(d, 0, n * sizeof *d);
    icstr_dropout_backward(d, g, keep, n, p);
    icstr_dropout_backward(d, g, keep, n, p);
    int consistent = 1;
    for (size_t i = 0; i < n; i++) {
        float one = keep[i] ? g[i] * (1.0f / (1.0f - p)) : 0.0f;
        consistent &= d[i] == one + one;
    }
    CHECK(consistent);
    /* p = 1: everything dropped, finite */
    icstr_dropout_forward(y, keep, x, 1000, 1.0f, &r);
    int zero = 1;
    for (size_t i = 0; i < 1000; i++) zero &= y[i] == 0.0f && keep[i] == 0;
    CHECK(zero);
    free(x), free(y), free(d), free(g), free(keep), free(keep2), free(y2);
}

static void test_ctc(void) {
    enum { B = 6, T = 5, V = 4, S = 3 };
    int targets[B * S] = {1, 2, 0, /* */ 2, 2, 0, /* repeat: needs a blank between */
                          0, 0, 0, /* empty */ 3, 1, 3, /* */ 1, 1, 1, /* needs T >= 5: just fits */
                          2, 0, 0};
    int lengths[B] = {2, 2, 0, 3, 3, 1};
    size_t n = (size_t)B * T * V;
    float *x = randf(n, -2, 2), *grad = randf(n, 5, 6), losses[B];
    double *xd = ref_to_double(x, n);
    icstr_ctc_forward(losses, grad, x, targets, lengths, B, T, V, S);
    int ok = 1;
    for (int b = 0; b < B; b++) {
        double r = ref_ctc_one(xd + (size_t)b * T * V, targets + b * S, lengths[b], T, V);
        ok &= isfinite(r) && fabs(losses[b] - r) <= 1e-5 * (1 + r);
        if (!(fabs(losses[b] - r) <= 1e-5 * (1 + r)))
            fprintf(stderr, "  ctc b=%d: %.9g vs brute force %.9g\n", b, (double)losses[b], r);
    }
    CHECK(ok);
    /* the gradient of each frame sums to 0 (softmax inside) */
    double worst = 0;
    for (int r = 0; r < B * T; r++) {
        double s = 0;
        for (int k = 0; k < V; k++) s += grad[r * V + k];
        worst = fmax(worst, fabs(s));
    }
    CHECK(worst < 1e-5);

    /* impossible: 3 repeats need 5 frames, T = 4; a blank inside the label range check; a length
     * above S. Loss is the documented constant and the gradient is exactly 0. */
    int t2[3 * S] = {1, 1, 1, 2, 9, 1, 1, 2, 3};
    int l2[3] = {3, 2, 4};
    float g2[3 * 4 * V], l2s[3];
    for (size_t i = 0; i < sizeof g2 / sizeof *g2; i++) g2[i] = 1.0f;
    icstr_ctc_forward(l2s, g2, x, t2, l2, 3, 4, V, S);
    int zero = 1;
    for (size_t i = 0; i < sizeof g2 / sizeof *g2; i++) zero &= g2[i] == 0.0f;
    CHECK(l2s[0] == ICSTR_CTC_IMPOSSIBLE_LOSS && l2s[1] == ICSTR_CTC_IMPOSSIBLE_LOSS &&
          l2s[2] == ICSTR_CTC_IMPOSSIBLE_LOSS && zero);
    CHECK(isinf(ref_ctc_one(xd, t2, 3, 4, V)));

    /* long sequences stay finite in log space (probabilities far below DBL_MIN) */
    int TL = 400, VL = 30, lab[20], len = 20;
    for (int i = 0; i < len; i++) lab[i] = 1 + i % (VL - 1);
    float *xl = randf((size_t)TL * VL, -30, 30), *gl = malloc((size_t)TL * VL * sizeof *gl), ll;
    icstr_ctc_forward(&ll, gl, xl, lab, &len, 1, TL, VL, len);
    int finite = isfinite(ll) && ll > 700.0f && ll < ICSTR_CTC_IMPOSSIBLE_LOSS;
    for (int i = 0; i < TL * VL; i++) finite &= isfinite(gl[i]);
    CHECK_MSG(finite, "long CTC loss %g", (double)ll);
    free(x), free(grad), free(xd), free(xl), free(gl);
}

/* best path and Viterbi alignment against enumerating every path of V^T */
static void test_ctc_paths(void) {
    enum { T = 6, V = 4 };
    float *x = randf((size_t)T * V, -3, 3);
    for (int t = 0; t < T; t++) { /* rows of log-probabilities */
        double z = 0;
        for (int v = 0; v < V; v++) z += exp(x[t * V + v]);
        for (int v = 0; v < V; v++) x[t * V + v] -= (float)log(z);
    }
    /* best path: the argmax path collapsed */
    int arg[T], want[T], got[T + 1];
    for (int t = 0; t < T; t++) {
        arg[t] = 0;
        for (int v = 1; v < V; v++) arg[t] = x[t * V + v] > x[t * V + arg[t]] ? v : arg[t];
    }
    int nw = ref_ctc_collapse(arg, T, want), ng = icstr_ctc_best_path(x, T, V, got, T + 1);
    CHECK(ng == nw && !memcmp(got, want, (size_t)nw * sizeof(int)));
    CHECK(icstr_ctc_best_path(x, T, V, got, 0) == 0);
    /* the alignment: the highest-scoring of the paths that collapse to the label */
    int labels[][3] = {{1, 2, 3}, {2, 2, 0}, {3, 0, 0}, {1, 1, 1}, {0, 0, 0}};
    int lens[] = {3, 2, 1, 3, 0};
    double *scratch = malloc(ICSTR_CTC_ALIGN_SCRATCH(T, 3));
    for (int c = 0; c < 5; c++) {
        double best = -INFINITY;
        int path[T], col[T];
        for (long code = 0; code < 4096; code++) { /* V^T = 4^6 */
            long k = code;
            for (int t = 0; t < T; t++) path[t] = (int)(k % V), k /= V;
            int n = ref_ctc_collapse(path, T, col);
            if (n != lens[c] || memcmp(col, labels[c], (size_t)n * sizeof(int))) continue;
            double s = 0;
            for (int t = 0; t < T; t++) s += x[t * V + path[t]];
            best = fmax(best, s);
        }
        int rc = icstr_ctc_align(x, T, V, labels[c], lens[c], path, scratch);
        double s = 0;
        for (int t = 0; t < T && !rc; t++) s += x[t * V + path[t]];
        int n = rc ? -1 : ref_ctc_collapse(path, T, col);
        CHECK_MSG(!rc && n == lens[c] && !memcmp(col, labels[c], (size_t)lens[c] * sizeof(int)) &&
                      fabs(s - best) < 1e-6,
                  "align case %d: rc %d, score %g vs brute force %g", c, rc, s, best);
    }
    /* 1 1 1 needs 5 frames; T = 4 has no path; a blank or out-of-range symbol in the label */
    int path[T] = {7, 7, 7, 7, 7, 7}, rep[3] = {1, 1, 1}, bad[2] = {1, V};
    CHECK(icstr_ctc_align(x, 4, V, rep, 3, path, scratch) == -1 && path[0] == 7);
    CHECK(icstr_ctc_align(x, T, V, bad, 2, path, scratch) == -1);
    free(scratch), free(x);
}

/* Gradient reductions over rows must give the same bits whatever the thread count. */
static void test_thread_independence(void) {
    int N = 517, C = 192, V = 50;
    size_t n = (size_t)N * C;
    float *x = randf(n, -1, 1), *dy = randf(n, -1, 1), *w = randf(C, 0.5f, 1.5f), *b = randf(C, -1, 1);
    float *y = malloc(n * sizeof *y), *mean = malloc(N * sizeof *mean), *rstd = malloc(N * sizeof *rstd);
    int *tok = malloc(N * sizeof *tok);
    for (int i = 0; i < N; i++) tok[i] = (int)icstr_rng_below(&rng, V) - 1;
    icstr_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    float *res[3];
    int threads[3] = {1, 2, 3};
    int saved = omp_get_max_threads();
    size_t m = 2 * C + C + (size_t)V * C + (size_t)N * C;
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        float *r = res[t] = calloc(m, sizeof(float));
        icstr_layernorm_backward(r + 3 * C, r, r + C, dy, x, w, mean, rstd, N, C);
        icstr_linear_backward(NULL, NULL, r + 2 * C, dy, x, w, N, 1, C); /* bias gradient only */
        icstr_embedding_backward(r + 3 * C, dy, tok, N, C);
        icstr_posemb_backward(NULL, r + 3 * C + (size_t)V * C, dy, 1, N, C);
    }
    omp_set_num_threads(saved);
    CHECK(!memcmp(res[0], res[1], m * sizeof(float)) && !memcmp(res[0], res[2], m * sizeof(float)));
    for (int t = 0; t < 3; t++) free(res[t]);
    free(x), free(dy), free(w), free(b), free(y), free(mean), free(rstd), free(tok);
}

int main(void) {
    icstr_rng_seed(&rng, 12345);
    test_linear(1, 1, 1, 1);
    test_linear(5, 7, 3, 0);
    test_linear(33, 17, 65, 1);
    test_linear(64, 192, 96, 1);
    test_layernorm(1, 1);
    test_layernorm(4, 7);
    test_layernorm(37, 192);
    test_gelu();
    test_softmax(1, 1, 0);
    test_softmax(7, 13, 0);
    test_softmax(5, 300, 1000);
    test_attention(2, 5, 5, 12, 3, MASK_NONE);
    test_attention(2, 6, 6, 8, 2, MASK_CAUSAL);
    test_attention(3, 4, 4, 15, 3, MASK_PADDING);     /* head size 5 */
    test_attention(2, 7, 7, 12, 2, MASK_RANDOM);
    test_attention(2, 3, 7, 12, 4, MASK_RANDOM);      /* cross-attention Tq != Tk */
    test_attention(1, 9, 2, 6, 1, MASK_PADDING);      /* one head, Tq > Tk */
    test_attention(2, 17, 33, 64, 4, MASK_NONE);
    test_embeddings();
    test_patch_embed(2, 3, 4, 6, 2, 3, 5);
    test_patch_embed(1, 3, 32, 128, 4, 8, 16); /* the model's image and patch size */
    test_patch_embed(3, 1, 5, 5, 5, 5, 2);     /* one patch per image */
    test_crossentropy(0.0f);
    test_crossentropy(0.1f);
    test_dropout();
    test_ctc();
    test_ctc_paths();
    test_thread_independence();
    return check_finish("test_ops_forward");
}
