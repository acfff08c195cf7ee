/* icstr core: the one public header of the core module.
 *
 * Status codes and error details, logging, aligned memory, the scratch arena, the parameter slab,
 * the seeded RNG, thread control. The tensor operations (ops.h), the optimizer (optim.h) and the
 * safetensors reader/writer (safetensors.h) are part of this module and included at the end.
 *
 * Conventions (see ../shared/STYLE.md): fallible calls return int (ICSTR_OK or a negative code),
 * results go through out-parameters, and the reason behind a failure (the foreign library's words,
 * the file name, the line) is kept in a thread-local detail message read with icstr_last_error().
 * Library code never exits and never prints to stdout.
 */
#ifndef ICSTR_CORE_H
#define ICSTR_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: 0 is success, the library's own codes are -1 .. -99 ---- */
enum {
    ICSTR_OK = 0,
    ICSTR_ERR_NOMEM = -1,        /* an allocation failed */
    ICSTR_ERR_IO = -2,           /* open/read/write/mmap failed (detail has strerror) */
    ICSTR_ERR_FORMAT = -3,       /* a file or buffer is malformed */
    ICSTR_ERR_ARG = -4,          /* a caller passed an invalid argument */
    ICSTR_ERR_RANGE = -5,        /* a size or value is outside its allowed range */
    ICSTR_ERR_NOTFOUND = -6,     /* a named thing (tensor, key, file) does not exist */
    ICSTR_ERR_UNSUPPORTED = -7,  /* valid but not supported (dtype, image format) */
    ICSTR_ERR_IMAGE = -8,        /* an image could not be decoded (detail has stb's reason) */
    ICSTR_ERR_DB = -9,           /* LMDB failed (detail has mdb_strerror) */
    ICSTR_ERR_CONFIG = -10,      /* a YAML config is invalid (detail has line and column) */
    ICSTR_ERR_MISMATCH = -11,    /* model/pool/checkpoint do not belong together */
    ICSTR_ERR_INTERNAL = -12,    /* a bug: an invariant did not hold */
    ICSTR_ERR_LIMIT = -13,       /* a configured limit was exceeded (pixels, length) */
};

/* Words for a status code; never NULL. Unknown codes get "unknown error". */
const char *icstr_strerror(int rc);

/* Sets the thread-local detail message (printf-style) and returns rc, so a failure site reads
 * `return icstr_fail(ICSTR_ERR_IO, "open %s: %s", path, strerror(errno));`. */
int icstr_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends context to the current detail ("reading model.st: <old detail>") and returns rc. */
int icstr_fail_context(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The detail of this thread's latest failure, or "" when none. Owned by the library. */
const char *icstr_last_error(void);
void icstr_clear_error(void);

/* ---- logging to stderr ---- */
enum { ICSTR_LOG_ERROR = 0, ICSTR_LOG_WARN = 1, ICSTR_LOG_INFO = 2, ICSTR_LOG_DEBUG = 3 };
void icstr_log_set_level(int level);  /* default INFO; env ICSTR_LOG=error|warn|info|debug */
int icstr_log_get_level(void);
void icstr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ICSTR_ERROR(...) icstr_log(ICSTR_LOG_ERROR, __VA_ARGS__)
#define ICSTR_WARN(...) icstr_log(ICSTR_LOG_WARN, __VA_ARGS__)
#define ICSTR_INFO(...) icstr_log(ICSTR_LOG_INFO, __VA_ARGS__)
#define ICSTR_DEBUG(...) icstr_log(ICSTR_LOG_DEBUG, __VA_ARGS__)

/* ---- memory ---- */
#define ICSTR_ALIGN 64
/* 64-byte aligned, zero-filled; NULL on failure or overflow of n*size (sets the detail). */
void *icstr_alloc(size_t n, size_t size);
void icstr_free(void *p);
/* Checked n*size: returns 0 and sets *out, or ICSTR_ERR_RANGE on overflow. */
int icstr_mul_size(size_t n, size_t size, size_t *out);

/* Scratch arena: bump allocation, reset per step. */
typedef struct {
    unsigned char *base;
    size_t cap;
    size_t used;
    size_t peak;
} icstr_arena;
int icstr_arena_init(icstr_arena *a, size_t cap);
/* 64-byte aligned, zero-filled float/byte blocks; NULL when the arena is full (sets the detail). */
void *icstr_arena_alloc(icstr_arena *a, size_t bytes);
float *icstr_arena_floats(icstr_arena *a, size_t n);
void icstr_arena_reset(icstr_arena *a);
void icstr_arena_free(icstr_arena *a);

/* Parameter slab: named tensors packed into one float array. Parameters, gradients and the
 * AdamW moments use the same layout (four slabs of `total` floats), so zeroing, clipping, the
 * optimizer and checkpointing are flat loops over them. */
#define ICSTR_MAX_DIMS 4
#define ICSTR_NAME_MAX 96
typedef struct {
    char name[ICSTR_NAME_MAX];
    int ndim;
    int64_t shape[ICSTR_MAX_DIMS];
    size_t offset;  /* in floats, from the start of the slab */
    size_t numel;
    int decay;      /* 1 if AdamW weight decay applies (matrices), 0 for norms, biases */
} icstr_param;

typedef struct {
    icstr_param *params;
    int count;
    int cap;
    size_t total;   /* floats in each slab */
    float *data;    /* (total) parameters */
    float *grad;    /* (total) gradients, same layout */
    float *m;       /* (total) AdamW first moment */
    float *v;       /* (total) AdamW second moment */
} icstr_slab;

void icstr_slab_init(icstr_slab *s);
/* Declares a tensor before icstr_slab_alloc; *offset_out receives its float offset. */
int icstr_slab_declare(icstr_slab *s, const char *name, int ndim, const int64_t *shape, int decay,
                       size_t *offset_out);
/* Allocates data, grad, m, v (zeroed). with_train=0 allocates only data (inference). */
int icstr_slab_alloc(icstr_slab *s, int with_train);
const icstr_param *icstr_slab_find(const icstr_slab *s, const char *name);
void icstr_slab_zero_grad(icstr_slab *s);
void icstr_slab_free(icstr_slab *s);

/* ---- random numbers: xoshiro256**, fully determined by the seed, state is plain data ---- */
typedef struct icstr_rng { uint64_t s[4]; } icstr_rng;
void icstr_rng_seed(icstr_rng *r, uint64_t seed);
uint64_t icstr_rng_u64(icstr_rng *r);
uint32_t icstr_rng_below(icstr_rng *r, uint32_t n);     /* uniform in [0, n), n > 0 */
float icstr_rng_uniform(icstr_rng *r);                  /* uniform in [0, 1) */
float icstr_rng_range(icstr_rng *r, float lo, float hi);/* uniform in [lo, hi) */
float icstr_rng_normal(icstr_rng *r);                   /* standard normal */

/* ---- threads: OpenBLAS and the project's own threaded loops ---- */
/* n <= 0 means all cores. Also honours env ICSTR_THREADS at first use. */
void icstr_set_threads(int n);
int icstr_get_threads(void);
/* The kernels OpenBLAS chose when it loaded ("SkylakeX", "Haswell", "Prescott", ...). */
const char *icstr_blas_kernels(void);
/* Settings that OpenBLAS and libgomp read when they load, before main: where one is missing, sets
 * it and runs the program again (execv of /proc/self/exe; once, and on failure it goes on). A
 * program's main calls it first.
 * - OMP_WAIT_POLICY=passive: OpenMP threads that spin after a parallel region compete with
 *   OpenBLAS's own on few cores (2 cores: a training step 56-59 crops/s spinning, 71 passive).
 * - OPENBLAS_CORETYPE: OpenBLAS picks its kernels by the CPU's family and model; one it does not
 *   know (a virtual machine's "Intel(R) Xeon(R) Processor" with AVX512) gets the generic Prescott
 *   ones, 2.6x slower at reading a crop on such a machine. When that happened and the CPU has
 *   AVX512 (else AVX2 and FMA), the kernels for it: SkylakeX (else Haswell). */
void icstr_tune_runtime(char **argv);

/* ---- time ---- */
double icstr_now_seconds(void);  /* monotonic */

#ifdef __cplusplus
}
#endif

#include "ops.h"
#include "half.h"
#include "optim.h"
#include "safetensors.h"

#endif
