/* The recognizer's transformer blocks, forward and backward: the pre-LN self-attention block
 * (encoder and decoder) and the resampler's cross-attention block (latents attend to encoder
 * tokens). llm.c style: backward ADDS into the slab's gradients; the caller's residual-stream
 * gradient buffer is updated in place from d(output) to d(input). Dropout, when on, sits on the
 * two residual branches. Scratch comes from m->g. */
#include "model_internal.h"

#include <string.h>

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* xout = xmid + drop(fc2(gelu(fc1(ln2(xmid))))) */
static void mlp_forward(icstr_model *m, size_t ln2_w, size_t ln2_b, size_t fc1_w, size_t fc1_b,
                        size_t fc2_w, size_t fc2_b, const float *xmid, float *ln2, float *mean,
                        float *rstd, float *h, float *hg, float *xout, uint8_t *keep, int R, int C,
                        int F, float dropout, icstr_rng *rng) {
    icstr_layernorm_forward(ln2, mean, rstd, xmid, mp(m, ln2_w), mp(m, ln2_b), R, C);
    icstr_linear_forward(h, ln2, mp(m, fc1_w), mp(m, fc1_b), R, C, F);
    icstr_gelu_forward(hg, h, (size_t)R * F);
    icstr_linear_forward(xout, hg, mp(m, fc2_w), mp(m, fc2_b), R, F, C);
    if (keep) icstr_dropout_forward(xout, keep, xout, (size_t)R * C, dropout, rng);
    icstr_residual_forward(xout, xout, xmid, (size_t)R * C);
}

/* dres: d xout in, d xmid out */
static void mlp_backward(icstr_model *m, size_t ln2_w, size_t ln2_b, size_t fc1_w, size_t fc1_b,
                         size_t fc2_w, size_t fc2_b, const float *xmid, const float *ln2,
                         const float *mean, const float *rstd, const float *h, const float *hg,
                         const uint8_t *keep, float *dres, int R, int C, int F, float dropout) {
    size_t RC = (size_t)R * C, RF = (size_t)R * F;
    const float *dbr = dres;
    if (keep) {
        zero(m->g.dtmp, RC);
        icstr_dropout_backward(m->g.dtmp, dres, keep, RC, dropout);
        dbr = m->g.dtmp;
    }
    zero(m->g.dhg, RF);
    icstr_linear_backward(m->g.dhg, mg(m, fc2_w), mg(m, fc2_b), dbr, hg, mp(m, fc2_w), R, F, C);
    zero(m->g.dh, RF);
    icstr_gelu_backward(m->g.dh, h, m->g.dhg, RF);
    zero(m->g.dln, RC);
    icstr_linear_backward(m->g.dln, mg(m, fc1_w), mg(m, fc1_b), m->g.dh, ln2, mp(m, fc1_w), R, C, F);
    icstr_layernorm_backward(dres, mg(m, ln2_w), mg(m, ln2_b), m->g.dln, xmid, mp(m, ln2_w), mean,
                             rstd, R, C);
}

void icstr_block_forward_(icstr_model *m, const blk_params *p, blk_acts *a, const float *x, int B,
                          int T, int C, int F, int H, const uint8_t *mask, float dropout,
                          icstr_rng *rng) {
    int R = B * T;
    icstr_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, mp(m, p->ln1_w), mp(m, p->ln1_b), R, C);
    icstr_linear_forward(a->qkv, a->ln1, mp(m, p->qkv_w), mp(m, p->qkv_b), R, C, 3 * C);
    icstr_attention_forward_ld(a->ao, a->att, a->qkv, a->qkv + C, a->qkv + 2 * C, mask, B, T, T, C,
                               H, 3 * C, 3 * C);
    icstr_linear_forward(a->xmid, a->ao, mp(m, p->proj_w), mp(m, p->proj_b), R, C, C);
    uint8_t *k1 = dropout > 0.0f ? a->keep1 : NULL, *k2 = dropout > 0.0f ? a->keep2 : NULL;
    if (k1) icstr_dropout_forward(a->xmid, k1, a->xmid, (size_t)R * C, dropout, rng);
    icstr_residual_forward(a->xmid, a->xmid, x, (size_t)R * C);
    mlp_forward(m, p->ln2_w, p->ln2_b, p->fc1_w, p->fc1_b, p->fc2_w, p->fc2_b, a->xmid, a->ln2,
                a->ln2_mean, a->ln2_rstd, a->h, a->hg, a->xout, k2, R, C, F, dropout, rng);
}

void icstr_block_backward_(icstr_model *m, const blk_params *p, const blk_acts *a, const float *x,
                           float *dres, int B, int T, int C, int F, int H, float dropout) {
    int R = B * T;
    size_t RC = (size_t)R * C;
    const uint8_t *k1 = dropout > 0.0f ? a->keep1 : NULL, *k2 = dropout > 0.0f ? a->keep2 : NULL;
    mlp_backward(m, p->ln2_w, p->ln2_b, p->fc1_w, p->fc1_b, p->fc2_w, p->fc2_b, a->xmid, a->ln2,
                 a->ln2_mean, a->ln2_rstd, a->h, a->hg, k2, dres, R, C, F, dropout);
    const float *dbr = dres;
    if (k1) {
        zero(m->g.dtmp, RC);
        icstr_dropout_backward(m->g.dtmp, dres, k1, RC, dropout);
        dbr = m->g.dtmp;
    }
    zero(m->g.dao, RC);
    icstr_linear_backward(m->g.dao, mg(m, p->proj_w), mg(m, p->proj_b), dbr, a->ao, mp(m, p->proj_w),
                          R, C, C);
    float *dqkv = m->g.dqkv;
    zero(dqkv, 3 * RC);
    icstr_attention_backward_ld(dqkv, dqkv + C, dqkv + 2 * C, m->g.dao, a->att, a->qkv, a->qkv + C,
                                a->qkv + 2 * C, B, T, T, C, H, 3 * C, 3 * C);
    zero(m->g.dln, RC);
    icstr_linear_backward(m->g.dln, mg(m, p->qkv_w), mg(m, p->qkv_b), dqkv, a->ln1, mp(m, p->qkv_w),
                          R, C, 3 * C);
    icstr_layernorm_backward(dres, mg(m, p->ln1_w), mg(m, p->ln1_b), m->g.dln, x, mp(m, p->ln1_w),
                             a->ln1_mean, a->ln1_rstd, R, C);
}

void icstr_xblock_forward_(icstr_model *m, const xblk_params *p, xblk_acts *a, const float *xq,
                           const float *enc, int n, int M, int N, int D, int E, int F, int H,
                           float dropout, icstr_rng *rng) {
    int Rq = n * M, Rk = n * N;
    icstr_layernorm_forward(a->lnq, a->lnq_mean, a->lnq_rstd, xq, mp(m, p->lnq_w), mp(m, p->lnq_b), Rq, D);
    icstr_linear_forward(a->q, a->lnq, mp(m, p->q_w), mp(m, p->q_b), Rq, D, D);
    icstr_layernorm_forward(a->lnkv, a->lnkv_mean, a->lnkv_rstd, enc, mp(m, p->lnkv_w),
                            mp(m, p->lnkv_b), Rk, E);
    icstr_linear_forward(a->kv, a->lnkv, mp(m, p->kv_w), mp(m, p->kv_b), Rk, E, 2 * D);
    icstr_attention_forward_ld(a->ao, a->att, a->q, a->kv, a->kv + D, NULL, n, M, N, D, H, D, 2 * D);
    icstr_linear_forward(a->xmid, a->ao, mp(m, p->proj_w), mp(m, p->proj_b), Rq, D, D);
    uint8_t *k1 = dropout > 0.0f ? a->keep1 : NULL, *k2 = dropout > 0.0f ? a->keep2 : NULL;
    if (k1) icstr_dropout_forward(a->xmid, k1, a->xmid, (size_t)Rq * D, dropout, rng);
    icstr_residual_forward(a->xmid, a->xmid, xq, (size_t)Rq * D);
    mlp_forward(m, p->ln2_w, p->ln2_b, p->fc1_w, p->fc1_b, p->fc2_w, p->fc2_b, a->xmid, a->ln2,
                a->ln2_mean, a->ln2_rstd, a->h, a->hg, a->xout, k2, Rq, D, F, dropout, rng);
}

void icstr_xblock_backward_(icstr_model *m, const xblk_params *p, const xblk_acts *a,
                            const float *xq, const float *enc, float *dres, float *denc, int n,
                            int M, int N, int D, int E, int F, int H, float dropout) {
    int Rq = n * M, Rk = n * N;
    const uint8_t *k1 = dropout > 0.0f ? a->keep1 : NULL, *k2 = dropout > 0.0f ? a->keep2 : NULL;
    mlp_backward(m, p->ln2_w, p->ln2_b, p->fc1_w, p->fc1_b, p->fc2_w, p->fc2_b, a->xmid, a->ln2,
                 a->ln2_mean, a->ln2_rstd, a->h, a->hg, k2, dres, Rq, D, F, dropout);
    const float *dbr = dres;
    if (k1) {
        zero(m->g.dtmp, (size_t)Rq * D);
        icstr_dropout_backward(m->g.dtmp, dres, k1, (size_t)Rq * D, dropout);
        dbr = m->g.dtmp;
    }
    zero(m->g.dao, (size_t)Rq * D);
    icstr_linear_backward(m->g.dao, mg(m, p->proj_w), mg(m, p->proj_b), dbr, a->ao,
                          mp(m, p->proj_w), Rq, D, D);
    float *dq = m->g.dqkv, *dkv = m->g.dqkv + (size_t)Rq * D;
    zero(dq, (size_t)Rq * D + (size_t)Rk * 2 * D);
    icstr_attention_backward_ld(dq, dkv, dkv + D, m->g.dao, a->att, a->q, a->kv, a->kv + D, n, M, N,
                                D, H, D, 2 * D);
    zero(m->g.dln, (size_t)Rq * D);
    icstr_linear_backward(m->g.dln, mg(m, p->q_w), mg(m, p->q_b), dq, a->lnq, mp(m, p->q_w), Rq, D, D);
    icstr_layernorm_backward(dres, mg(m, p->lnq_w), mg(m, p->lnq_b), m->g.dln, xq, mp(m, p->lnq_w),
                             a->lnq_mean, a->lnq_rstd, Rq, D);
    zero(m->g.dkv_in, (size_t)Rk * E);
    icstr_linear_backward(m->g.dkv_in, mg(m, p->kv_w), mg(m, p->kv_b), dkv, a->lnkv, mp(m, p->kv_w),
                          Rk, E, 2 * D);
    icstr_layernorm_backward(denc, mg(m, p->lnkv_w), mg(m, p->lnkv_b), m->g.dkv_in, enc,
                             mp(m, p->lnkv_w), a->lnkv_mean, a->lnkv_rstd, Rk, E);
}
