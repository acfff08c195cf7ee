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

/* ---- settings and status shared by the ops ----
 * bf16: when on, the products of linear and patch embedding (forward and backward) round their
 * operands to bfloat16 (nearest even) and multiply them accumulating in float: about 3
 * significant digits per operand; on this machine's AVX512_BF16 about 1.5-2x the fp32 speed
 * (bench/bench_ops). Bias gradients stay fp32. Default off; a process-wide switch (set it
 * before training, not while ops run). Results do not depend on the thread count.
 * Scratch: ops that need temporary memory (the bf16 copies, attention backward, CTC) take it from
 * per-thread buffers that grow on demand and are kept for reuse; nothing is allocated per call
 * once the shapes have been seen. If such an allocation fails, the bf16 path falls back to fp32
 * and the other ops write NaN into their outputs; icstr_ops_error then returns ICSTR_ERR_NOMEM
 * (once, with the detail set) so a trainer can check it once per step.
 * Speed: the softmax, cross-entropy and GELU loops use a vectorised exp (relative error ~1e-7)
 * instead of libm's, so they differ from libm-based code in the last bits. */
void icstr_ops_set_bf16(int on);
int icstr_ops_get_bf16(void);
/* How bf16 products run on this machine: "avx512bf16" (our kernel, the CPU has AVX512_BF16),
 * "openblas" (cblas_sbgemm, when the loaded OpenBLAS exports it; Debian's 0.3.21 does not),
 * or "emulated" (operands rounded to bf16, then fp32 sgemm: same numbers, no speed-up). */
const char *icstr_ops_bf16_path(void);
int icstr_ops_error(void);
/* Frozen weights: the caller promises that the n floats at base do not change until
 * icstr_ops_thaw(base) (a model loaded for recognition, not one being trained). bf16 products
 * whose right operand (a weight matrix) lies inside then convert and pack it once, on first
 * use, and keep that copy (half the operand's bytes) instead of redoing it at every call: with
 * one or a few crops at a time that conversion was most of the time. Numbers are unchanged.
 * At most 16 ranges at once (ICSTR_ERR_LIMIT). Thaw before the floats change or are freed;
 * neither call may run while ops on the range do. */
int icstr_ops_freeze(const float *base, size_t n);
void icstr_ops_thaw(const float *base);
/* Frees the calling thread's scratch buffers (they are otherwise kept until the thread ends). */
void icstr_ops_free_scratch(void);

/* Threading: the loops that matter run under OpenMP (icstr_set_threads). Results are the same
 * from run to run for a fixed thread count: no float atomics, and every reduction across rows
 * (bias, norm and embedding gradients) runs in a fixed order independent of the thread count. */

/* Linear: out (N,OC) = inp (N,C) @ w^T + b, w (OC,C), b (OC) or NULL. cblas_sgemm (the bf16
 * product in bf16 mode). Backward: dinp += dout @ w, dw += dout^T @ inp, db += column sums of dout. */
void icstr_linear_forward(float *out, const float *inp, const float *w, const float *b,
                          int N, int C, int OC);
void icstr_linear_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int C, int OC);

/* Layer norm over the last dimension C. mean, rstd (N) are saved for backward (either may be
 * NULL at inference). eps = 1e-5. w NULL means all ones, b NULL all zeros. out may alias inp. */
void icstr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *w, const float *b, int N, int C);
void icstr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const float *mean,
                              const float *rstd, int N, int C);

/* GELU, tanh approximation, elementwise over n values. out may alias inp. */
void icstr_gelu_forward(float *out, const float *inp, size_t n);
void icstr_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* Softmax over the last dimension V of (N,V), float with max subtraction. Backward uses the
 * forward output: dinp += out * (dout - sum(out * dout)). */
void icstr_softmax_forward(float *out, const float *inp, int N, int V);
void icstr_softmax_backward(float *dinp, const float *out, const float *dout, int N, int V);

/* Multi-head scaled dot-product attention on already-projected q, k, v (C % H == 0; scale
 * 1/sqrt(C/H)). One OpenMP work item per (batch, head), OpenBLAS kept to one thread inside.
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
/* The same with row strides, so q, k and v can be column slices of a fused projection without a
 * copy: row t of batch b of q starts at q + (b*Tq + t) * ldq, of k and v at + (b*Tk + t) * ldkv
 * (e.g. qkv (B,T,3C): q = qkv, k = qkv + C, v = qkv + 2C, ldq = ldkv = 3C). dq uses ldq, dk and
 * dv use ldkv; out and dout stay (B,Tq,C). */
void icstr_attention_forward_ld(float *out, float *att, const float *q, const float *k,
                                const float *v, const uint8_t *mask, int B, int Tq, int Tk,
                                int C, int H, int ldq, int ldkv);
void icstr_attention_backward_ld(float *dq, float *dk, float *dv, const float *dout,
                                 const float *att, const float *q, const float *k,
                                 const float *v, int B, int Tq, int Tk, int C, int H, int ldq,
                                 int ldkv);

/* Token embedding lookup: out (N,C) = table[tokens[i]], table (V,C). A token < 0 gives a zero row
 * and no gradient. Tokens >= V are a caller bug (checked by the caller, not here). */
void icstr_embedding_forward(float *out, const int *tokens, const float *table, int N, int C);
void icstr_embedding_backward(float *dtable, const float *dout, const int *tokens, int N, int C);

/* Learned position embedding: out (B,T,C) = inp (B,T,C) + pos (T,C) (pos broadcast over B).
 * out may alias inp. Backward: dinp += dout, dpos += sum over B of dout. */
void icstr_posemb_forward(float *out, const float *inp, const float *pos, int B, int T, int C);
void icstr_posemb_backward(float *dinp, float *dpos, const float *dout, int B, int T, int C);

/* Patch embedding: a convolution whose stride equals its kernel (ph,pw).
 * img (B,Cin,Hi,Wi) with Hi % ph == 0 and Wi % pw == 0; w (C, Cin*ph*pw); b (C);
 * out (B, (Hi/ph)*(Wi/pw), C), tokens in row-major patch order (row of patches, then column).
 * cols is scratch of B*(Hi/ph)*(Wi/pw)*Cin*ph*pw floats (im2col); backward needs the same.
 * Column order inside a patch is (cin, ky, kx), as a PyTorch Conv2d weight (C,Cin,ph,pw).
 * Backward rebuilds cols from img itself (the caller need not keep the forward's), then reuses
 * it as scratch for d cols; its contents are clobbered. dimg may be NULL (the input image). */
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
 * Writes probs (N,V) (for every row, ignored ones too) and losses (N); returns the number of
 * rows counted. A target outside [0,V) other than ignore_index is a caller bug; such a row is
 * treated as ignored (never read out of bounds).
 * Backward: dlogits[i] += dloss[i] * (probs[i] - target_dist[i]) for counted rows; the caller
 * picks dloss (e.g. 1/count for the mean). */
int icstr_crossentropy_forward(float *losses, float *probs, const float *logits,
                               const int *targets, int N, int V, float smoothing,
                               int ignore_index);
void icstr_crossentropy_backward(float *dlogits, const float *dloss, const float *probs,
                                 const int *targets, int N, int V, float smoothing,
                                 int ignore_index);

/* Dropout (inverted): keep[i] = 1 with probability 1-p, out = inp * keep / (1-p).
 * p == 0 copies and sets keep to 1 (and draws nothing from rng); p >= 1 zeroes everything.
 * One uniform per element, serially, so the mask depends only on the rng state. out may alias
 * inp. Backward: dinp += dout * keep / (1-p). */
void icstr_dropout_forward(float *out, uint8_t *keep, const float *inp, size_t n, float p,
                           struct icstr_rng *rng);
void icstr_dropout_backward(float *dinp, const float *dout, const uint8_t *keep, size_t n,
                            float p);

/* CTC loss (blank = token 0) for an auxiliary head over encoder tokens.
 * logits (B,T,V); targets (B,S) padded, target_lengths (B) with each <= S and no blank inside.
 * Writes losses (B) (negative log-likelihood, +inf-safe: an impossible alignment gives a large
 * finite loss and zero gradient), and grad_scratch gets d loss_b / d logits (B,T,V) which
 * backward scales: dlogits += dloss[b] * grad. An impossible alignment (T too short for the
 * label and its repeats, a length outside [0,S], a label outside [1,V)) gives exactly
 * ICSTR_CTC_IMPOSSIBLE_LOSS and a zero gradient row. Log space, double accumulators. */
#define ICSTR_CTC_IMPOSSIBLE_LOSS 1.0e4f
void icstr_ctc_forward(float *losses, float *grad, const float *logits, const int *targets,
                       const int *target_lengths, int B, int T, int V, int S);
void icstr_ctc_backward(float *dlogits, const float *dloss, const float *grad, int B, int T,
                        int V);
/* Best path of T frames of log-probabilities (T, V) (symbol 0 the blank): the argmax per frame
 * (the lowest symbol on a tie), repeats merged, blanks dropped; writes at most cap symbols (1..V-1)
 * and returns their number. */
int icstr_ctc_best_path(const float *logp, int T, int V, int *symbols, int cap);
/* Viterbi alignment: the most likely path (T symbols, 0 blank) that collapses to label (len
 * symbols in 1..V-1) under logp (T, V); ties go to staying in a state, then to the state one
 * back. scratch holds T (2 len + 1) doubles and as many ints (ICSTR_CTC_ALIGN_SCRATCH). Returns
 * 0, or -1 when no path exists (T too short for the label and its repeats, a symbol outside
 * 1..V-1) and path is left as it was. */
#define ICSTR_CTC_ALIGN_SCRATCH(T, len) ((size_t)(T) * (2 * (size_t)(len) + 1) * (sizeof(double) + sizeof(int)))
int icstr_ctc_align(const float *logp, int T, int V, const int *label, int len, int *path, double *scratch);

/* ---- conv2d (owned by the recognizer model work: core/ops_conv.c) ----
 * 2-D convolution with stride and zero padding, for the conv stem: inp (B,Cin,H,W),
 * w (OC, Cin*kh*kw) with columns in (cin, ky, kx) order as a PyTorch Conv2d weight, b (OC) or NULL,
 * out (B,OC,Ho,Wo) with Ho = icstr_conv2d_out_size(H, kh, stride, pad) (0 when it does not fit).
 * cols is im2col scratch of B*Cin*kh*kw*Ho*Wo floats written by forward and read by backward
 * (keep it). Backward adds: dinp (may be NULL), dw, db (may be NULL); dcols is scratch of
 * Cin*kh*kw*Ho*Wo floats (one image), needed only when dinp is given. fp32 sgemm, one per image;
 * sums in a fixed order. */
int icstr_conv2d_out_size(int in, int k, int stride, int pad);
void icstr_conv2d_forward(float *out, float *cols, const float *inp, const float *w,
                          const float *b, int B, int Cin, int H, int W, int OC, int kh, int kw,
                          int stride, int pad);
void icstr_conv2d_backward(float *dinp, float *dw, float *db, float *dcols, const float *dout,
                           const float *cols, const float *w, int B, int Cin, int H, int W,
                           int OC, int kh, int kw, int stride, int pad);

#ifdef __cplusplus
}
#endif

#endif
