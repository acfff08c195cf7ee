/* Finite-difference gradient checks of every op's backward. For each op a scalar loss
 * L = sum(out * R) with a random R; the analytical gradient comes from the float backward, the
 * numerical one from central differences of the DOUBLE reference forward (tests/ops_ref.h).
 * Every element must satisfy |analytic - numeric| <= RTOL * max(|analytic|, |numeric|) + ATOL;
 * the worst element of each check is printed. The checker is shown to reject gradients with one
 * term dropped, backward is shown to accumulate, and the bf16 products are checked against fp32
 * and against an exact product of the bf16-rounded operands. */
#include "check.h"
#include "icstr_core.h"
#include "ops_ref.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-3
#define ATOL 1e-5
#define FD_H 1e-4

static icstr_rng rng;

static float *randf(size_t n, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = icstr_rng_range(&rng, lo, hi);
    return x;
}
static float *zerof(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Worst ratio |a - n| / (RTOL * max(|a|,|n|) + ATOL) over the n elements of x (perturbed in
 * place and restored); <= 1 passes. Prints the worst element. */
static double grad_worst(const char *what, double *x, size_t n, const float *an, loss_fn f,
                         void *ctx) {
    double worst = 0.0, wa = 0.0, wn = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + FD_H;
        double lp = f(ctx);
        x[i] = save - FD_H;
        double lm = f(ctx);
        x[i] = save;
        double num = (lp - lm) / (2 * FD_H), a = an[i];
        double r = fabs(a - num) / (RTOL * fmax(fabs(a), fabs(num)) + ATOL);
        if (!(r <= worst)) {
            worst = isnan(r) ? INFINITY : r;
            wi = i, wa = a, wn = num;
        }
    }
    fprintf(stderr, "  %-28s %5zu elements, worst [%zu]: analytic %+.8f numeric %+.8f ratio %.3f\n",
            what, n, wi, wa, wn, worst);
    return worst;
}

#define GRAD_OK(what, x, n, an, f, ctx) CHECK_MSG(grad_worst(what, x, n, an, f, ctx) <= 1.0, "%s", what)

/* twice == 2 * once: backward adds into its outputs */
static int doubled(const float *once, const float *twice, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(twice[i] - 2.0f * once[i]) <= 1e-6f * fabsf(2.0f * once[i]) + 1e-30f)) return 0;
    return 1;
}

/* ---------------- linear ---------------- */
typedef struct { int N, C, OC; double *x, *w, *b, *R, *out; } lin_ctx;
static double lin_loss(void *p) {
    lin_ctx *c = p;
    ref_linear(c->out, c->x, c->w, c->b, c->N, c->C, c->OC);
    return dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_linear(int N, int C, int OC) {
    size_t nx = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *x = randf(nx, -1, 1), *w = randf(nw, -1, 1), *b = randf(OC, -1, 1), *R = randf(no, -1, 1);
    float *dx = zerof(nx), *dw = zerof(nw), *db = zerof(OC);
    icstr_linear_backward(dx, dw, db, R, x, w, N, C, OC);
    lin_ctx c = {N, C, OC, ref_to_double(x, nx), ref_to_double(w, nw), ref_to_double(b, OC),
                 ref_to_double(R, no), dalloc(no)};
    GRAD_OK("linear dinp", c.x, nx, dx, lin_loss, &c);
    GRAD_OK("linear dw", c.w, nw, dw, lin_loss, &c);
    GRAD_OK("linear db", c.b, OC, db, lin_loss, &c);
    /* accumulates; NULL gradients are skipped */
    float *dx2 = zerof(nx), *dw2 = zerof(nw), *db2 = zerof(OC);
    icstr_linear_backward(dx2, dw2, db2, R, x, w, N, C, OC);
    icstr_linear_backward(dx2, NULL, NULL, R, x, w, N, C, OC);
    icstr_linear_backward(NULL, dw2, db2, R, x, w, N, C, OC);
    CHECK(doubled(dx, dx2, nx) && doubled(dw, dw2, nw) && doubled(db, db2, OC));
    free(x), free(w), free(b), free(R), free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out);
}

/* ---------------- layernorm ---------------- */
typedef struct { int N, C; double *x, *w, *b, *R, *out; } ln_ctx;
static double ln_loss(void *p) {
    ln_ctx *c = p;
    ref_layernorm(c->out, c->x, c->w, c->b, c->N, c->C);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}

/* The layernorm input gradient with the mean(g) term dropped: a plausible bug. */
static void layernorm_backward_wrong(float *dinp, const float *dout, const float *inp,
                                     const float *w, const float *mean, const float *rstd, int N,
                                     int C) {
    for (int n = 0; n < N; n++) {
        double sgx = 0.0;
        for (int i = 0; i < C; i++)
            sgx += (double)dout[n * C + i] * w[i] * (inp[n * C + i] - mean[n]) * rstd[n];
        for (int i = 0; i < C; i++) {
            float g = dout[n * C + i] * w[i], xh = (inp[n * C + i] - mean[n]) * rstd[n];
            dinp[n * C + i] += rstd[n] * (g - xh * (float)(sgx / C));
        }
    }
}

static void test_layernorm(int N, int C) {
    size_t n = (size_t)N * C;
    float *x = randf(n, -2, 3), *w = randf(C, 0.5f, 1.5f), *b = randf(C, -1, 1), *R = randf(n, -1, 1);
    float *y = zerof(n), *mean = zerof(N), *rstd = zerof(N), *dx = zerof(n), *dw = zerof(C), *db = zerof(C);
    icstr_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    icstr_layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C);
    ln_ctx c = {N, C, ref_to_double(x, n), ref_to_double(w, C), ref_to_double(b, C), ref_to_double(R, n),
                dalloc(n)};
    GRAD_OK("layernorm dinp", c.x, n, dx, ln_loss, &c);
    GRAD_OK("layernorm dw", c.w, C, dw, ln_loss, &c);
    GRAD_OK("layernorm db", c.b, C, db, ln_loss, &c);
    float *dx2 = zerof(n), *dw2 = zerof(C), *db2 = zerof(C);
    for (int t = 0; t < 2; t++) icstr_layernorm_backward(dx2, dw2, db2, R, x, w, mean, rstd, N, C);
    CHECK(doubled(dx, dx2, n) && doubled(dw, dw2, C) && doubled(db, db2, C));
    /* the checker must reject a gradient with one term dropped */
    float *bad = zerof(n);
    layernorm_backward_wrong(bad, R, x, w, mean, rstd, N, C);
    CHECK_MSG(grad_worst("layernorm dinp WRONG (expected to fail)", c.x, n, bad, ln_loss, &c) > 1.0,
              "the gradient checker accepted a wrong layernorm gradient");
    free(x), free(w), free(b), free(R), free(y), free(mean), free(rstd), free(dx), free(dw), free(db);
    free(dx2), free(dw2), free(db2), free(bad), free(c.x), free(c.w), free(c.b), free(c.R), free(c.out);
}

/* ---------------- gelu, softmax, residual, dropout ---------------- */
typedef struct { size_t n; int N, V; double *x, *y, *R, *out; const uint8_t *keep; double p; int op; } ew_ctx;
enum { EW_GELU, EW_SOFTMAX, EW_RESIDUAL, EW_DROPOUT };
static double ew_loss(void *p) {
    ew_ctx *c = p;
    if (c->op == EW_GELU) ref_gelu(c->out, c->x, c->n);
    else if (c->op == EW_SOFTMAX) ref_softmax(c->out, c->x, c->N, c->V);
    else if (c->op == EW_RESIDUAL) ref_residual(c->out, c->x, c->y, c->n);
    else ref_dropout(c->out, c->x, c->keep, c->n, c->p);
    return dot(c->out, c->R, c->n);
}

static void test_elementwise(void) {
    size_t n = 300;
    float *x = randf(n, -4, 4), *y = randf(n, -1, 1), *R = randf(n, -1, 1), *out = zerof(n);
    float *dx = zerof(n), *dy = zerof(n);
    uint8_t *keep = malloc(n);
    ew_ctx c = {n, 12, 25, ref_to_double(x, n), ref_to_double(y, n), ref_to_double(R, n), dalloc(n), NULL, 0, EW_GELU};
    icstr_gelu_backward(dx, x, R, n);
    GRAD_OK("gelu dinp", c.x, n, dx, ew_loss, &c);

    memset(dx, 0, n * sizeof *dx);
    icstr_softmax_forward(out, x, 12, 25);
    icstr_softmax_backward(dx, out, R, 12, 25);
    c.op = EW_SOFTMAX;
    GRAD_OK("softmax dinp", c.x, n, dx, ew_loss, &c);

    memset(dx, 0, n * sizeof *dx);
    icstr_residual_backward(dx, dy, R, n);
    c.op = EW_RESIDUAL;
    GRAD_OK("residual da", c.x, n, dx, ew_loss, &c);
    GRAD_OK("residual db", c.y, n, dy, ew_loss, &c);

    memset(dx, 0, n * sizeof *dx);
    icstr_dropout_forward(out, keep, x, n, 0.4f, &rng);
    icstr_dropout_backward(dx, R, keep, n, 0.4f);
    c.op = EW_DROPOUT, c.keep = keep, c.p = 0.4f;
    GRAD_OK("dropout dinp", c.x, n, dx, ew_loss, &c);
    free(x), free(y), free(R), free(out), free(dx), free(dy), free(keep), free(c.x), free(c.y), free(c.R), free(c.out);
}

/* ---------------- attention ---------------- */
typedef struct { int B, Tq, Tk, C, H; double *q, *k, *v, *R, *out; const uint8_t *mask; } att_ctx;
static double att_loss(void *p) {
    att_ctx *c = p;
    ref_attention(c->out, NULL, c->q, c->k, c->v, c->mask, c->B, c->Tq, c->Tk, c->C, c->H);
    return dot(c->out, c->R, (size_t)c->B * c->Tq * c->C);
}

/* dq by plain loops from the float forward's probabilities; drop_sum = 1 drops the softmax
 * Jacobian's row-sum term (a plausible bug), 0 is the right formula. */
static void attention_dq_naive(float *dq, const float *dout, const float *att, const float *q,
                               const float *k, const float *v, int B, int Tq, int Tk, int C, int H,
                               int drop_sum) {
    int hs = C / H;
    (void)q;
    double *da = dalloc((size_t)Tk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                const float *a = att + (((size_t)b * H + h) * Tq + i) * Tk;
                double s = 0.0;
                for (int j = 0; j < Tk; j++) {
                    da[j] = 0.0;
                    for (int d = 0; d < hs; d++)
                        da[j] += (double)dout[((size_t)b * Tq + i) * C + h * hs + d] * v[((size_t)b * Tk + j) * C + h * hs + d];
                    s += a[j] * da[j];
                }
                for (int d = 0; d < hs; d++) {
                    double g = 0.0;
                    for (int j = 0; j < Tk; j++)
                        g += a[j] * (da[j] - (drop_sum ? 0.0 : s)) * k[((size_t)b * Tk + j) * C + h * hs + d];
                    dq[((size_t)b * Tq + i) * C + h * hs + d] += (float)(g / sqrt((double)hs));
                }
            }
    free(da);
}

static uint8_t *make_mask(int kind, int B, int Tq, int Tk) {
    if (!kind) return NULL;
    uint8_t *m = malloc((size_t)B * Tq * Tk);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tq; i++)
            for (int j = 0; j < Tk; j++)
                m[((size_t)b * Tq + i) * Tk + j] = kind == 1 ? j <= i : icstr_rng_below(&rng, 3) != 0;
    if (kind == 2) memset(m + (size_t)Tq / 2 * Tk, 0, (size_t)Tk); /* a fully masked row */
    return m;
}

static void test_attention(int B, int Tq, int Tk, int C, int H, int mask_kind, int with_wrong) {
    size_t nq = (size_t)B * Tq * C, nk = (size_t)B * Tk * C, na = (size_t)B * H * Tq * Tk;
    float *q = randf(nq, -1, 1), *k = randf(nk, -1, 1), *v = randf(nk, -1, 1), *R = randf(nq, -1, 1);
    float *out = zerof(nq), *att = zerof(na), *dq = zerof(nq), *dk = zerof(nk), *dv = zerof(nk);
    uint8_t *mask = make_mask(mask_kind, B, Tq, Tk);
    icstr_attention_forward(out, att, q, k, v, mask, B, Tq, Tk, C, H);
    icstr_attention_backward(dq, dk, dv, R, att, q, k, v, B, Tq, Tk, C, H);
    att_ctx c = {B, Tq, Tk, C, H, ref_to_double(q, nq), ref_to_double(k, nk), ref_to_double(v, nk),
                 ref_to_double(R, nq), dalloc(nq), mask};
    char name[64];
    snprintf(name, sizeof name, "attention dq (mask %d, H %d)", mask_kind, H);
    GRAD_OK(name, c.q, nq, dq, att_loss, &c);
    snprintf(name, sizeof name, "attention dk (mask %d, H %d)", mask_kind, H);
    GRAD_OK(name, c.k, nk, dk, att_loss, &c);
    snprintf(name, sizeof name, "attention dv (mask %d, H %d)", mask_kind, H);
    GRAD_OK(name, c.v, nk, dv, att_loss, &c);
    if (mask_kind == 2) { /* the fully masked row gets no gradient */
        int zero = 1;
        for (int d = 0; d < C; d++) zero &= dq[(size_t)(Tq / 2) * C + d] == 0.0f;
        CHECK(zero);
    }
    /* accumulates */
    float *dq2 = zerof(nq), *dk2 = zerof(nk), *dv2 = zerof(nk);
    for (int t = 0; t < 2; t++) icstr_attention_backward(dq2, dk2, dv2, R, att, q, k, v, B, Tq, Tk, C, H);
    CHECK(doubled(dq, dq2, nq) && doubled(dk, dk2, nk) && doubled(dv, dv2, nk));
    /* the strided variant on fused buffers gives the same gradients */
    float *qkv = zerof(nq * 3 + nk * 3), *dqkv = zerof(nq * 3 + nk * 3);
    int ldq = 3 * C, ldkv = 3 * C;
    float *qs = qkv, *ks = qkv + nq * 3; /* q rows (B*Tq, 3C) then kv rows (B*Tk, 3C) */
    for (size_t r = 0; r < (size_t)B * Tq; r++) memcpy(qs + r * ldq + C, q + r * C, (size_t)C * sizeof(float));
    for (size_t r = 0; r < (size_t)B * Tk; r++) {
        memcpy(ks + r * ldkv, k + r * C, (size_t)C * sizeof(float));
        memcpy(ks + r * ldkv + 2 * C, v + r * C, (size_t)C * sizeof(float));
    }
    float *dqs = dqkv, *dks = dqkv + nq * 3;
    icstr_attention_backward_ld(dqs + C, dks, dks + 2 * C, R, att, qs + C, ks, ks + 2 * C, B, Tq, Tk, C, H,
                                ldq, ldkv);
    float worst = 0.0f;
    for (size_t r = 0; r < (size_t)B * Tq; r++)
        for (int d = 0; d < C; d++) worst = fmaxf(worst, fabsf(dqs[r * ldq + C + d] - dq[r * C + d]));
    for (size_t r = 0; r < (size_t)B * Tk; r++)
        for (int d = 0; d < C; d++) {
            worst = fmaxf(worst, fabsf(dks[r * ldkv + d] - dk[r * C + d]));
            worst = fmaxf(worst, fabsf(dks[r * ldkv + 2 * C + d] - dv[r * C + d]));
            worst = fmaxf(worst, fabsf(dks[r * ldkv + C + d])); /* untouched columns */
        }
    CHECK_MSG(worst <= 1e-6f, "attention_backward_ld differs by %g", (double)worst);
    if (with_wrong) {
        float *good = zerof(nq), *bad = zerof(nq);
        attention_dq_naive(good, R, att, q, k, v, B, Tq, Tk, C, H, 0);
        attention_dq_naive(bad, R, att, q, k, v, B, Tq, Tk, C, H, 1);
        CHECK_MSG(grad_worst("attention dq naive", c.q, nq, good, att_loss, &c) <= 1.0, "naive dq");
        CHECK_MSG(grad_worst("attention dq WRONG (expected to fail)", c.q, nq, bad, att_loss, &c) > 1.0,
                  "the gradient checker accepted a wrong attention gradient");
        free(good), free(bad);
    }
    free(q), free(k), free(v), free(R), free(out), free(att), free(dq), free(dk), free(dv), free(mask);
    free(dq2), free(dk2), free(dv2), free(qkv), free(dqkv), free(c.q), free(c.k), free(c.v), free(c.R), free(c.out);
}

/* ---------------- embeddings ---------------- */
typedef struct { int N, B, T, C, Cin, Hi, Wi, ph, pw; const int *tok; double *a, *b, *c, *R, *out; int op; } emb_ctx;
enum { EMB_TOKEN, EMB_POS, EMB_PATCH };
static double emb_loss(void *p) {
    emb_ctx *c = p;
    size_t n;
    if (c->op == EMB_TOKEN) {
        ref_embedding(c->out, c->tok, c->a, c->N, c->C);
        n = (size_t)c->N * c->C;
    } else if (c->op == EMB_POS) {
        ref_posemb(c->out, c->a, c->b, c->B, c->T, c->C);
        n = (size_t)c->B * c->T * c->C;
    } else {
        ref_patch_embed(c->out, c->a, c->b, c->c, c->B, c->Cin, c->Hi, c->Wi, c->ph, c->pw, c->C);
        n = (size_t)c->B * (c->Hi / c->ph) * (c->Wi / c->pw) * c->C;
    }
    return dot(c->out, c->R, n);
}

static void test_embeddings(void) {
    int N = 13, C = 5, V = 6;
    int tok[13] = {1, 1, 0, -1, 5, 2, 1, 3, 3, -1, 0, 4, 1}; /* repeats and padding */
    float *table = randf((size_t)V * C, -1, 1), *R = randf((size_t)N * C, -1, 1), *dt = zerof((size_t)V * C);
    icstr_embedding_backward(dt, R, tok, N, C);
    emb_ctx c = {.N = N, .C = C, .tok = tok, .a = ref_to_double(table, (size_t)V * C),
                 .R = ref_to_double(R, (size_t)N * C), .out = dalloc((size_t)N * C), .op = EMB_TOKEN};
    GRAD_OK("embedding dtable", c.a, (size_t)V * C, dt, emb_loss, &c);
    free(table), free(R), free(dt), free(c.a), free(c.R), free(c.out);

    int B = 3, T = 4;
    size_t n = (size_t)B * T * C;
    float *x = randf(n, -1, 1), *pos = randf((size_t)T * C, -1, 1), *R2 = randf(n, -1, 1);
    float *dx = zerof(n), *dp = zerof((size_t)T * C);
    icstr_posemb_backward(dx, dp, R2, B, T, C);
    emb_ctx c2 = {.B = B, .T = T, .C = C, .a = ref_to_double(x, n), .b = ref_to_double(pos, (size_t)T * C),
                  .R = ref_to_double(R2, n), .out = dalloc(n), .op = EMB_POS};
    GRAD_OK("posemb dinp", c2.a, n, dx, emb_loss, &c2);
    GRAD_OK("posemb dpos", c2.b, (size_t)T * C, dp, emb_loss, &c2);
    free(x), free(pos), free(R2), free(dx), free(dp), free(c2.a), free(c2.b), free(c2.R), free(c2.out);

    /* patch embedding: 2 images 3x4x6, patches 2x3, 7 channels */
    int Cin = 3, Hi = 4, Wi = 6, ph = 2, pw = 3, Co = 7, P = (Hi / ph) * (Wi / pw), K = Cin * ph * pw;
    B = 2;
    size_t ni = (size_t)B * Cin * Hi * Wi, nw = (size_t)Co * K, no = (size_t)B * P * Co;
    float *img = randf(ni, 0, 1), *w = randf(nw, -1, 1), *bias = randf(Co, -1, 1), *R3 = randf(no, -1, 1);
    float *cols = randf((size_t)B * P * K, 9, 10), *out = zerof(no);
    float *di = zerof(ni), *dw = zerof(nw), *db = zerof(Co);
    icstr_patch_embed_forward(out, cols, img, w, bias, B, Cin, Hi, Wi, ph, pw, Co);
    for (size_t i = 0; i < (size_t)B * P * K; i++) cols[i] = 1e6f; /* backward must not need it */
    icstr_patch_embed_backward(di, dw, db, cols, R3, img, w, B, Cin, Hi, Wi, ph, pw, Co);
    emb_ctx c3 = {.B = B, .C = Co, .Cin = Cin, .Hi = Hi, .Wi = Wi, .ph = ph, .pw = pw,
                  .a = ref_to_double(img, ni), .b = ref_to_double(w, nw), .c = ref_to_double(bias, Co),
                  .R = ref_to_double(R3, no), .out = dalloc(no), .op = EMB_PATCH};
    GRAD_OK("patch embed dimg", c3.a, ni, di, emb_loss, &c3);
    GRAD_OK("patch embed dw", c3.b, nw, dw, emb_loss, &c3);
    GRAD_OK("patch embed db", c3.c, Co, db, emb_loss, &c3);
    free(img), free(w), free(bias), free(R3), free(cols), free(out), free(di), free(dw), free(db);
    free(c3.a), free(c3.b), free(c3.c), free(c3.R), free(c3.out);
}

/* ---------------- losses ---------------- */
typedef struct { int N, V, T, S; const int *tgt, *len; double smoothing, *x, *R, *out; int brute; } loss_ctx;
static double ce_loss(void *p) {
    loss_ctx *c = p;
    ref_crossentropy(c->out, c->x, c->tgt, c->N, c->V, c->smoothing, -1);
    return dot(c->out, c->R, (size_t)c->N);
}
static double ctc_loss(void *p) {
    loss_ctx *c = p;
    double s = 0.0;
    for (int b = 0; b < c->N; b++) {
        const double *x = c->x + (size_t)b * c->T * c->V;
        double l = c->brute ? ref_ctc_one(x, c->tgt + b * c->S, c->len[b], c->T, c->V)
                            : ref_ctc_alpha(x, c->tgt + b * c->S, c->len[b], c->T, c->V);
        s += c->R[b] * l;
    }
    return s;
}

static void test_crossentropy(float smoothing) {
    enum { N = 8, V = 7 };
    int tgt[N] = {3, -1, 0, 6, 6, -1, 2, 1};
    float *x = randf(N * V, -3, 3), *R = randf(N, 0.1f, 1), *probs = zerof(N * V), *dx = zerof(N * V), losses[N];
    icstr_crossentropy_forward(losses, probs, x, tgt, N, V, smoothing, -1);
    icstr_crossentropy_backward(dx, R, probs, tgt, N, V, smoothing, -1);
    loss_ctx c = {N, V, 0, 0, tgt, NULL, smoothing, ref_to_double(x, N * V), ref_to_double(R, N), dalloc(N), 0};
    GRAD_OK(smoothing > 0 ? "crossentropy dlogits (smooth)" : "crossentropy dlogits", c.x, N * V, dx, ce_loss, &c);
    free(x), free(R), free(probs), free(dx), free(c.x), free(c.R), free(c.out);
}

static void test_ctc(int brute) {
    /* brute force: T = 5, V = 4; alpha recursion: T = 12, V = 6 with longer labels */
    int B = 4, T = brute ? 5 : 12, V = brute ? 4 : 6, S = brute ? 3 : 5;
    int tgt_a[12] = {1, 2, 0, 2, 2, 0, 0, 0, 0, 3, 1, 3};
    int tgt_b[20] = {1, 2, 3, 4, 5, 5, 5, 1, 0, 0, 2, 0, 0, 0, 0, 3, 3, 1, 2, 2};
    int len_a[4] = {2, 2, 0, 3}, len_b[4] = {5, 3, 1, 5};
    const int *tgt = brute ? tgt_a : tgt_b, *len = brute ? len_a : len_b;
    size_t n = (size_t)B * T * V;
    float *x = randf(n, -2, 2), *R = randf(B, 0.2f, 1), *g = zerof(n), *dx = zerof(n), *losses = zerof(B);
    icstr_ctc_forward(losses, g, x, tgt, len, B, T, V, S);
    icstr_ctc_backward(dx, R, g, B, T, V);
    loss_ctx c = {B, V, T, S, tgt, len, 0, ref_to_double(x, n), ref_to_double(R, B), NULL, brute};
    GRAD_OK(brute ? "ctc dlogits (brute force)" : "ctc dlogits (alpha recursion)", c.x, n, dx, ctc_loss, &c);
    int agree = 1; /* the two references agree where both apply */
    for (int b = 0; b < B && brute; b++)
        agree &= fabs(ref_ctc_one(c.x + (size_t)b * T * V, tgt + b * S, len[b], T, V) -
                      ref_ctc_alpha(c.x + (size_t)b * T * V, tgt + b * S, len[b], T, V)) < 1e-12;
    CHECK(agree);
    float *dx2 = zerof(n);
    for (int t = 0; t < 2; t++) icstr_ctc_backward(dx2, R, g, B, T, V);
    CHECK(doubled(dx, dx2, n));
    free(x), free(R), free(g), free(dx), free(dx2), free(losses), free(c.x), free(c.R);
}

/* ---------------- bf16 products ---------------- */
static float round_bf16(float x) { return icstr_bf16_to_f32(icstr_f32_to_bf16(x)); }

/* got (M,N) vs the fp32 result and vs the exact product of bf16-rounded operands. A (M,K) and
 * B (N,K) given row-major as the products' operands; scale[i] = sum_k |a_ik b_jk| (+|bias|). */
static void check_bf16_product(const char *what, const float *got, const float *fp32, const float *A,
                               const float *Bm, const float *bias, const float *acc0, int M, int N, int K) {
    double worst_fp32 = 0.0, worst_exact = 0.0;
    int differs = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double exact = (bias ? bias[j] : 0.0) + (acc0 ? acc0[(size_t)i * N + j] : 0.0), scale = fabs(exact);
            for (int k = 0; k < K; k++) {
                double p = (double)round_bf16(A[(size_t)i * K + k]) * round_bf16(Bm[(size_t)j * K + k]);
                exact += p;
                scale += fabs((double)A[(size_t)i * K + k] * Bm[(size_t)j * K + k]);
            }
            size_t e = (size_t)i * N + j;
            worst_fp32 = fmax(worst_fp32, fabs(got[e] - fp32[e]) / (scale + 1e-30));
            worst_exact = fmax(worst_exact, fabs(got[e] - exact) / (scale + 1e-30));
            differs |= got[e] != fp32[e];
        }
    fprintf(stderr, "  %-28s vs fp32 %.2e, vs exact bf16 product %.2e (of sum |terms|)\n", what, worst_fp32,
            worst_exact);
    CHECK_MSG(worst_fp32 <= 1e-2, "%s: bf16 vs fp32 %g", what, worst_fp32);
    CHECK_MSG(worst_exact <= 1e-5, "%s: bf16 vs exact %g", what, worst_exact);
    CHECK_MSG(differs, "%s: bf16 mode gave exactly the fp32 result: bf16 not used?", what);
}

static float *transpose(const float *x, int rows, int cols) {
    float *t = malloc((size_t)rows * cols * sizeof *t);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) t[(size_t)c * rows + r] = x[(size_t)r * cols + c];
    return t;
}

static void test_bf16(int N, int C, int OC) {
    size_t nx = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *x = randf(nx, -1, 1), *w = randf(nw, -1, 1), *b = randf(OC, -1, 1), *dy = randf(no, -1, 1);
    float *y32 = zerof(no), *y16 = zerof(no), *dx32 = randf(nx, -1, 1), *dw32 = randf(nw, -1, 1), *db32 = zerof(OC);
    float *dx16 = malloc(nx * sizeof *dx16), *dw16 = malloc(nw * sizeof *dw16), *db16 = zerof(OC);
    float *dx0 = malloc(nx * sizeof *dx0), *dw0 = malloc(nw * sizeof *dw0);
    memcpy(dx16, dx32, nx * sizeof *dx16), memcpy(dx0, dx32, nx * sizeof *dx0);
    memcpy(dw16, dw32, nw * sizeof *dw16), memcpy(dw0, dw32, nw * sizeof *dw0);
    icstr_linear_forward(y32, x, w, b, N, C, OC);
    icstr_linear_backward(dx32, dw32, db32, dy, x, w, N, C, OC);
    icstr_ops_set_bf16(1);
    CHECK(icstr_ops_get_bf16() == 1);
    icstr_linear_forward(y16, x, w, b, N, C, OC);
    icstr_linear_backward(dx16, dw16, db16, dy, x, w, N, C, OC);
    icstr_ops_set_bf16(0);
    char name[64];
    snprintf(name, sizeof name, "bf16 linear fwd %dx%dx%d", N, C, OC);
    check_bf16_product(name, y16, y32, x, w, b, NULL, N, OC, C);
    /* dinp = dy @ w: rows of dy against columns of w (rows of w^T); accumulates onto dx0 */
    float *wt = transpose(w, OC, C), *dyt = transpose(dy, N, OC), *xt = transpose(x, N, C);
    snprintf(name, sizeof name, "bf16 linear dinp %dx%dx%d", N, C, OC);
    check_bf16_product(name, dx16, dx32, dy, wt, NULL, dx0, N, C, OC);
    snprintf(name, sizeof name, "bf16 linear dw %dx%dx%d", N, C, OC);
    check_bf16_product(name, dw16, dw32, dyt, xt, NULL, dw0, OC, C, N);
    CHECK(!memcmp(db16, db32, OC * sizeof *db16)); /* the bias gradient stays fp32 */
    free(x), free(w), free(b), free(dy), free(y32), free(y16), free(dx32), free(dw32), free(db32);
    free(dx16), free(dw16), free(db16), free(dx0), free(dw0), free(wt), free(dyt), free(xt);
}

/* The bf16 product splits work by output tile only, so its bits do not depend on the threads. */
static void test_bf16_threads(void) {
    int N = 301, C = 97, OC = 1601;
    float *x = randf((size_t)N * C, -1, 1), *w = randf((size_t)OC * C, -1, 1), *dy = randf((size_t)N * OC, -1, 1);
    float *y[3], *dw[3];
    int saved = omp_get_max_threads();
    icstr_ops_set_bf16(1);
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        y[t] = zerof((size_t)N * OC), dw[t] = zerof((size_t)OC * C);
        icstr_linear_forward(y[t], x, w, NULL, N, C, OC);
        icstr_linear_backward(NULL, dw[t], NULL, dy, x, w, N, C, OC);
    }
    icstr_ops_set_bf16(0);
    omp_set_num_threads(saved);
    CHECK(!memcmp(y[0], y[1], (size_t)N * OC * 4) && !memcmp(y[0], y[2], (size_t)N * OC * 4));
    CHECK(!memcmp(dw[0], dw[1], (size_t)OC * C * 4) && !memcmp(dw[0], dw[2], (size_t)OC * C * 4));
    for (int t = 0; t < 3; t++) free(y[t]), free(dw[t]);
    free(x), free(w), free(dy);
}

/* Frozen weights (icstr_ops_freeze): the packed copy gives the same bits as packing at every
 * call, for tiles of every height (the 1- and 4-row kernels too), and thawing drops the copy, so
 * changed weights are seen. The weight sits inside a larger frozen buffer, as in a model. */
static void test_bf16_frozen(int N, int C, int OC) {
    size_t nw = (size_t)OC * C, no = (size_t)N * OC, pad = 37;
    float *x = randf((size_t)N * C, -1, 1), *buf = randf(nw + 2 * pad, -1, 1), *w = buf + pad;
    float *b = randf(OC, -1, 1), *y32 = zerof(no), *plain = zerof(no), *frozen = zerof(no), *again = zerof(no);
    icstr_linear_forward(y32, x, w, b, N, C, OC);
    icstr_ops_set_bf16(1);
    icstr_linear_forward(plain, x, w, b, N, C, OC);
    CHECK(icstr_ops_freeze(buf, nw + 2 * pad) == ICSTR_OK);
    icstr_linear_forward(frozen, x, w, b, N, C, OC); /* packs */
    icstr_linear_forward(again, x, w, b, N, C, OC);  /* reuses */
    CHECK_MSG(!memcmp(plain, frozen, no * sizeof *plain) && !memcmp(plain, again, no * sizeof *plain),
              "frozen bf16 linear %dx%dx%d differs from the per-call packing", N, C, OC);
    char name[64];
    snprintf(name, sizeof name, "bf16 frozen fwd %dx%dx%d", N, C, OC);
    check_bf16_product(name, frozen, y32, x, w, b, NULL, N, OC, C);
    icstr_ops_thaw(buf);
    for (size_t i = 0; i < nw; i++) w[i] = -w[i];
    icstr_linear_forward(again, x, w, b, N, C, OC);
    icstr_ops_set_bf16(0);
    int negated = 1; /* y = x.(-w) + b: the bias cancels in y + y' = 2b */
    for (size_t i = 0; i < no && negated; i++)
        negated = fabsf(again[i] + plain[i] - 2 * b[i % OC]) <= 1e-4f * (1 + fabsf(plain[i]));
    CHECK_MSG(negated, "after thaw %dx%dx%d: stale packed weights used", N, C, OC);
    free(x), free(buf), free(b), free(y32), free(plain), free(frozen), free(again);
}

int main(void) {
    icstr_rng_seed(&rng, 2024);
    fprintf(stderr, "gradient checks: pass when |a - n| <= %g * max(|a|,|n|) + %g for every element\n", RTOL, ATOL);
    test_linear(5, 7, 3);
    test_linear(17, 16, 9);
    test_layernorm(5, 8);
    test_layernorm(3, 33);
    test_elementwise();
    test_attention(2, 5, 5, 8, 2, 1, 1);  /* causal, 2 heads; also the wrong-gradient check */
    test_attention(2, 3, 6, 12, 3, 2, 0); /* cross-attention, random mask, a fully masked row */
    test_attention(1, 4, 4, 6, 1, 0, 0);  /* no mask, one head */
    test_embeddings();
    test_crossentropy(0.0f);
    test_crossentropy(0.1f);
    test_ctc(1);
    test_ctc(0);
    fprintf(stderr, "bf16 products run as: %s\n", icstr_ops_bf16_path());
    test_bf16(37, 64, 48);
    test_bf16(128, 192, 200);
    test_bf16(3, 5, 7);
    test_bf16(301, 97, 1601); /* several K blocks with an odd tail, N past one block, ragged tiles */
    test_bf16_threads();
    for (int rows = 1; rows <= 13; rows += 3) test_bf16_frozen(rows, 192, 576); /* 1, 4, 7, 10, 13 */
    test_bf16_frozen(2, 301, 1601); /* K blocks with an odd tail, two N blocks, ragged tiles */
    test_bf16_frozen(37, 5, 33);
    return check_finish("test_ops_grad");
}
