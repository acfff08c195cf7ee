/* icstr core: helpers shared by the ops_*.c files and nothing else (not part of the public API).
 * Per-thread scratch buffers, the sticky "an op ran out of memory" flag, the guard that keeps
 * OpenBLAS single-threaded inside our own OpenMP loops, and the fp32/bf16 matrix product. */
#ifndef ICSTR_OPS_INTERNAL_H
#define ICSTR_OPS_INTERNAL_H

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Scratch slots: a buffer per slot per thread, grown on demand and kept for the thread's life, so
 * ops called every step do not allocate. Two ops never hold the same slot at once. */
enum {
    OPS_SCRATCH_BF16_A = 0, /* bf16 copy (or packing) of a matrix product's left operand */
    OPS_SCRATCH_BF16_B = 1, /* ... of its right operand */
    OPS_SCRATCH_ATT = 2,    /* attention backward: d att of one (batch, head) */
    OPS_SCRATCH_CTC = 3,    /* CTC: log-probabilities, alpha and beta of one sequence */
    OPS_SCRATCH_SLOTS = 4
};

/* At least `bytes` of 64-byte aligned scratch in `slot` for the calling thread; contents are
 * undefined. NULL when the allocation fails: the failure is then recorded for icstr_ops_error. */
void *icstr_ops_scratch(int slot, size_t bytes);

/* Records an allocation failure of `bytes` for icstr_ops_error (callable from any thread). */
void icstr_ops_note_nomem(size_t bytes);

/* OpenBLAS (the pthreads build) would start its own threads for every sgemm called from inside
 * our OpenMP loops, fighting them for the cores. Around such loops call begin, which drops
 * OpenBLAS to one thread when the loop will run on more than one, and end with its result. */
int icstr_ops_blas_serial_begin(int loop_parallel);
void icstr_ops_blas_serial_end(int saved);

/* Work below this many floats is not worth waking OpenMP threads for. */
#define OPS_PAR_MIN 32768

/* e^x in float, relative error about 1e-7, branch-free so that `#pragma omp simd` loops vectorise
 * it (glibc's expf is a scalar call, and it was most of the time of attention). x < -87 gives 0,
 * x > 88 is clamped to e^88. Cody-Waite reduction by ln 2, then a degree-7 Taylor polynomial on
 * |r| <= ln2/2 (truncation error r^8/8! < 6e-9). */
static inline float ops_expf(float x) {
    float under = x < -87.0f ? 0.0f : 1.0f;
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f;     /* ln 2 split in a short high part ... */
    r = r + n * 2.12194440e-4f;         /* ... and the rest */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
              r * (1.0f / 720 + r * (1.0f / 5040)))))));
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale * under;
}

/* tanh for GELU: 1 - 2 / (1 + e^2u). Absolute error ~1e-7 (relative error grows near 0, where
 * GELU multiplies it by x/2 anyway). */
static inline float ops_tanhf_gelu(float u) { return 1.0f - 2.0f / (1.0f + ops_expf(2.0f * u)); }

/* C (M,N) = op(A) @ op(B) + beta * C, row-major, float operands. bf16 = 0: cblas_sgemm.
 * bf16 = 1: the operands are rounded to bfloat16 (nearest even) and multiplied with float
 * accumulation, by the fastest path this machine has (ops_gemm_bf16.c). */
void icstr_ops_gemm(int bf16, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N,
                    int K, const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc);

/* ops_gemm_frozen.c: op(B) (K,N) packed for the AVX512_BF16 kernel when B lies inside a range
 * given to icstr_ops_freeze (packed on first use, kept until thawed); NULL otherwise. */
const uint32_t *icstr_ops_frozen_packed(int tb, int K, int N, const float *B, int ldb);

#endif
