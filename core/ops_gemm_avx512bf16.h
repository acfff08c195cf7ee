/* The AVX512_BF16 matrix product (ops_gemm_avx512bf16.c), seen by ops_gemm_bf16.c and
 * ops_gemm_frozen.c only. */
#ifndef ICSTR_OPS_GEMM_AVX512BF16_H
#define ICSTR_OPS_GEMM_AVX512BF16_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this CPU can run the kernel. */
int icstr_gemm_avx512bf16_available(void);

/* C (M,N) = op(A) @ op(B) + beta * C with bf16-rounded operands. bpacked: op(B) packed ahead by
 * icstr_gemm_avx512bf16_pack_b (B is then not read), or NULL to pack it here. Returns 0 when
 * done, nonzero when it could not get its packing scratch (C is then untouched). */
int icstr_gemm_avx512bf16(int ta, int tb, int M, int N, int K, const float *A, int lda,
                          const float *B, int ldb, const uint32_t *bpacked, float beta, float *C,
                          int ldc);

/* The 32-bit words a packed op(B) of shape (K,N) takes, and the packing itself. */
size_t icstr_gemm_avx512bf16_packed_words(int K, int N);
void icstr_gemm_avx512bf16_pack_b(uint32_t *dst, int tb, int K, int N, const float *B, int ldb);

#endif
