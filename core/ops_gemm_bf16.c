/* The matrix product behind linear and patch embedding, fp32 or bf16. Debian's OpenBLAS 0.3.21
 * declares cblas_sbgemm in cblas.h but is built without it, so the bf16 product is found at run
 * time: our AVX512_BF16 kernel (ops_gemm_avx512bf16.c) when the CPU has the instructions, else
 * cblas_sbgemm if the loaded OpenBLAS exports it, else an emulation (round to bf16, sgemm) that
 * gives the same numbers without the speed. */
#include "icstr_core.h"
#include "ops_internal.h"
#include "ops_gemm_avx512bf16.h"

#include <dlfcn.h>
#include <pthread.h>

typedef void (*sbgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                          blasint, blasint, float, const uint16_t *, blasint, const uint16_t *,
                          blasint, float, float *, blasint);

enum { PATH_EMULATED, PATH_OPENBLAS, PATH_KERNEL };
static int path;
static sbgemm_fn openblas_sbgemm;
static pthread_once_t path_once = PTHREAD_ONCE_INIT;

static void pick_path(void) {
    if (icstr_gemm_avx512bf16_available()) {
        path = PATH_KERNEL;
        return;
    }
    /* POSIX allows converting dlsym's object pointer to a function pointer */
    void *sym = dlsym(RTLD_DEFAULT, "cblas_sbgemm");
    if (sym) {
        *(void **)&openblas_sbgemm = sym;
        path = PATH_OPENBLAS;
    } else {
        path = PATH_EMULATED;
    }
}

const char *icstr_ops_bf16_path(void) {
    pthread_once(&path_once, pick_path);
    return path == PATH_KERNEL ? "avx512bf16" : path == PATH_OPENBLAS ? "openblas" : "emulated";
}

/* rows x cols block of a row-major matrix with leading dimension ld, stored densely (ld = cols)
 * as bf16 (u16 != NULL) or as floats rounded to bf16 precision (f32 != NULL). */
static void round_copy(uint16_t *u16, float *f32, const float *x, int rows, int cols, int ld) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols >= 4 * OPS_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *src = x + (size_t)r * ld;
        if (u16) {
            icstr_f32_to_bf16_n(u16 + (size_t)r * cols, src, (size_t)cols);
        } else {
            float *dst = f32 + (size_t)r * cols;
            for (int c = 0; c < cols; c++) dst[c] = icstr_bf16_to_f32(icstr_f32_to_bf16(src[c]));
        }
    }
}

void icstr_ops_gemm(int bf16, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N,
                    int K, const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc) {
    if (M <= 0 || N <= 0) return;
    if (bf16 && K > 0) {
        pthread_once(&path_once, pick_path);
        if (path == PATH_KERNEL) {
            int t = tb == CblasTrans;
            const uint32_t *packed = icstr_ops_frozen_packed(t, K, N, B, ldb);
            if (!icstr_gemm_avx512bf16(ta == CblasTrans, t, M, N, K, A, lda, B, ldb, packed, beta, C, ldc))
                return;
        }
        /* the stored shapes of op(A) (M,K) and op(B) (K,N) */
        int ar = ta == CblasTrans ? K : M, ac = ta == CblasTrans ? M : K;
        int br = tb == CblasTrans ? N : K, bc = tb == CblasTrans ? K : N;
        size_t esz = path == PATH_OPENBLAS ? sizeof(uint16_t) : sizeof(float);
        void *a = icstr_ops_scratch(OPS_SCRATCH_BF16_A, (size_t)ar * ac * esz);
        void *b = a ? icstr_ops_scratch(OPS_SCRATCH_BF16_B, (size_t)br * bc * esz) : NULL;
        if (a && b) {
            int u = path == PATH_OPENBLAS;
            round_copy(u ? a : NULL, u ? NULL : a, A, ar, ac, lda);
            round_copy(u ? b : NULL, u ? NULL : b, B, br, bc, ldb);
            if (u)
                openblas_sbgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, a, ac, b, bc, beta, C, ldc);
            else
                cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, a, ac, b, bc, beta, C, ldc);
            return;
        }
        /* no memory for the copies: the fp32 product is still right (the failure is recorded) */
    }
    /* fp32: OpenBLAS with its own threads. Splitting the rows over our OpenMP threads with a
     * single-threaded sgemm each (one thread pool instead of two) was measured no faster. */
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
