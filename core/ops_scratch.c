/* Per-thread growable scratch for the ops, the sticky out-of-memory flag they report through
 * icstr_ops_error, the bf16 switch, and the OpenBLAS thread guard for our OpenMP loops. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    void *p;
    size_t cap;
} scratch_slot;

/* Thread-local so OpenMP workers never share or lock; the buffers live as long as the thread
 * (icstr_ops_free_scratch releases the calling thread's). */
static _Thread_local scratch_slot slots[OPS_SCRATCH_SLOTS];

static atomic_size_t nomem_bytes; /* 0 = no failure since the last icstr_ops_error */
static atomic_int use_bf16;

void icstr_ops_note_nomem(size_t bytes) {
    size_t expected = 0;
    atomic_compare_exchange_strong(&nomem_bytes, &expected, bytes ? bytes : 1);
}

void *icstr_ops_scratch(int slot, size_t bytes) {
    scratch_slot *s = &slots[slot];
    if (s->cap >= bytes && s->p) return s->p;
    /* grow by a quarter more than asked so slowly growing shapes do not reallocate every call */
    size_t cap = bytes + bytes / 4;
    if (cap < bytes) cap = bytes;
    cap = (cap + 4095) / 4096 * 4096;
    if (cap < bytes) {
        icstr_ops_note_nomem(bytes);
        return NULL;
    }
    void *p = aligned_alloc(ICSTR_ALIGN, cap);
    if (!p) {
        icstr_ops_note_nomem(bytes);
        return NULL;
    }
    free(s->p);
    s->p = p;
    s->cap = cap;
    return p;
}

void icstr_ops_free_scratch(void) {
    for (int i = 0; i < OPS_SCRATCH_SLOTS; i++) {
        free(slots[i].p);
        slots[i].p = NULL;
        slots[i].cap = 0;
    }
}

int icstr_ops_error(void) {
    size_t bytes = atomic_exchange(&nomem_bytes, 0);
    if (!bytes) return ICSTR_OK;
    return icstr_fail(ICSTR_ERR_NOMEM,
                      "an op could not allocate %zu bytes of scratch; its outputs are NaN", bytes);
}

void icstr_ops_set_bf16(int on) { atomic_store(&use_bf16, on ? 1 : 0); }
int icstr_ops_get_bf16(void) { return atomic_load(&use_bf16); }

int icstr_ops_blas_serial_begin(int loop_parallel) {
#ifdef _OPENMP
    if (!loop_parallel || omp_get_max_threads() < 2 || omp_in_parallel()) return 0;
    int n = openblas_get_num_threads();
    if (n > 1) {
        openblas_set_num_threads(1);
        return n;
    }
#else
    (void)loop_parallel;
#endif
    return 0;
}

void icstr_ops_blas_serial_end(int saved) {
    if (saved > 1) openblas_set_num_threads(saved);
}
