/* icstr core: tensor operations, forward and backward (part of icstr_core.h).
 *
 * llm.c style: plain float arrays, shapes as int arguments, outputs first. Every backward ADDS
 * into its gradient outputs (callers zero gradients once per step), and any gradient output may
 * be NULL when that gradient is not needed. Row-major everywhere; dimension letters: B batch,
 * T/Tq/Tk tokens, C channels, OC output channels, H heads, V vocabulary, N rows.
 * Every op has a naive reference in tests/ and a finite-difference gradient check.
 */
#ifndef ICSTR_OPS_H
#define ICSTR_OPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct icstr_rng;

/* Linear: out (N,OC) = inp (N,C) @ w^T + b, w (OC,C), b (OC) or NULL. cblas_sgemm. */
void icstr_linear_forward(float *out, const float *inp, const float *w, const float *b,
                          int N, int C, int OC);
void icstr_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int C, int OC);

/* Layer norm over the last dimension C. mean, rstd (N) are saved for backward. eps = 1e-5. */
void icstr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C);
void icstr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const float *mean,
                              const float *rstd, int N, int C);

/* GELU, tanh approximation, elementwise over n values. */
void icstr_gelu_forward(float *out, const float *inp, size_t n);
void icstr_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* Softmax over the last dimension V of (N,V). Backward uses the forward output. */
void icstr_softmax_forward(float *out, const float *inp, int N, int V);
void icstr_softmax_backward(float *dinp, const float *out, const float *dout, int N, int V);

/* Multi-head scaled dot-product attention on already-projected q, k, v.
 * q (B,Tq,C), k and v (B,Tk,C), C = H * head size. mask (B,Tq,Tk): 1 = query may attend to the
 * key, 0 = not; NULL = every key allowed. Self-attention passes the same sequence for q/k/v
 * (Tq == Tk) with a causal or any other mask; cross-attention passes another sequence's k/v.
 * att (B,H,Tq,Tk) receives the probabilities (needed by backward). A query row whose mask allows
 * no key gets probabilities 0 and output 0. out (B,Tq,C). */
void icstr_attention_forward(float *out, float *att, const float *q, const float *k,
                             const float *v, const uint8_t *mask, int B, int Tq, int Tk, int C,
                             int H);
void icstr_attention_backward(float *dq, float *dk, float *dv, const float *dout,
                              const float *att, const float *q, const float *k, const float *v,
                              int B, int Tq, int Tk, int C, int H);

/* Token embedding lookup: out (N,C) = table[tokens[i]], table (V,C). A token < 0 gives a zero row
 * and no gradient. Tokens >= V are a caller bug (checked by the caller, not here). */
void icstr_embedding_forward(float *out, const int *tokens, const float *table, int N, int C);
void icstr_embedding_backward(float *dtable, const float *dout, const int *tokens, int N, int C);

/* Learned position embedding: out (B,T,C) = inp (B,T,C) + pos (T,C) (pos broadcast over B).
 * out may alias inp. */
void icstr_posemb_forward(float *out, const float *inp, const float *pos, int B, int T, int C);
void icstr_posemb_backward(float *dinp, float *dpos, const float *dout, int B, int T, int C);

/* Patch embedding: a convolution whose stride equals its kernel (ph,pw).
 * img (B,Cin,Hi,Wi) with Hi % ph == 0 and Wi % pw == 0; w (C, Cin*ph*pw); b (C);
 * out (B, (Hi/ph)*(Wi/pw), C), tokens in row-major patch order (row of patches, then column).
 * cols is scratch of B*(Hi/ph)*(Wi/pw)*Cin*ph*pw floats (im2col); backward needs the same. */
void icstr_patch_embed_forward(float *out, float *cols, const float *img, const float *w,
                               const float *b, int B, int Cin, int Hi, int Wi, int ph, int pw,
                               int C);
void icstr_patch_embed_backward(float *dimg, float *dw, float *db, float *cols, const float *dout,
                                const float *img, const float *w, int B, int Cin, int Hi, int Wi,
                                int ph, int pw, int C);

/* Residual add: out = a + b over n values. out may alias a or b. */
void icstr_residual_forward(float *out, const float *a, const float *b, size_t n);
void icstr_residual_backward(float *da, float *db, const float *dout, size_t n);

/* Cross-entropy over a vocabulary with label smoothing and an ignore index.
 * logits (N,V), targets (N). The target distribution is (1-smoothing) one-hot + smoothing/V.
 * Rows whose target equals ignore_index get loss 0 and no gradient.
 * Writes probs (N,V) and losses (N); returns the number of rows counted.
 * Backward: dlogits[i] += dloss[i] * (probs[i] - target_dist[i]) for counted rows; the caller
 * picks dloss (e.g. 1/count for the mean). */
int icstr_crossentropy_forward(float *losses, float *probs, const float *logits,
                               const int *targets, int N, int V, float smoothing,
                               int ignore_index);
void icstr_crossentropy_backward(float *dlogits, const float *dloss, const float *probs,
                                 const int *targets, int N, int V, float smoothing,
                                 int ignore_index);

/* Dropout (inverted): keep[i] = 1 with probability 1-p, out = inp * keep / (1-p).
 * p == 0 copies and sets keep to 1. */
void icstr_dropout_forward(float *out, uint8_t *keep, const float *inp, size_t n, float p,
                           struct icstr_rng *rng);
void icstr_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, size_t n,
                            float p);

/* CTC loss (blank = token 0) for an auxiliary head over encoder tokens.
 * logits (B,T,V); targets (B,S) padded, target_lengths (B) with each <= S and no blank inside.
 * Writes losses (B) (negative log-likelihood, +inf-safe: an impossible alignment gives a large
 * finite loss and zero gradient), and grad_scratch gets d loss_b / d logits (B,T,V) which
 * backward scales: dlogits += dloss[b] * grad. */
void icstr_ctc_forward(float *losses, float *grad, const float *logits, const int *targets,
                       const int *target_lengths, int B, int T, int V, int S);
void icstr_ctc_backward(float *dlogits, const float *dloss, const float *grad, int B, int T,
                        int V);

#ifdef __cplusplus
}
#endif

#endif
