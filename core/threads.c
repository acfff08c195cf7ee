/* Thread count for OpenBLAS and the project's own OpenMP loops, OpenBLAS's kernels, and a
 * monotonic clock. */
#include "icstr_core.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int threads = 0;

void icstr_set_threads(int n) {
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    threads = n;
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int icstr_get_threads(void) {
    if (!threads) {
        const char *e = getenv("ICSTR_THREADS");
        icstr_set_threads(e ? atoi(e) : 0);
    }
    return threads;
}

double icstr_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *icstr_blas_kernels(void) {
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

/* the kernels to name in OPENBLAS_CORETYPE, or NULL where OpenBLAS's own choice stands */
static const char *kernels_to_name(void) {
    if (getenv("OPENBLAS_CORETYPE") || strcasecmp(icstr_blas_kernels(), "prescott")) return NULL;
    __builtin_cpu_init(); /* libgcc's flags: set only where the OS saves the registers too */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void icstr_tune_runtime(char **argv) {
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        again = 1;
    }
    const char *kernels = kernels_to_name();
    if (kernels) {
        setenv("OPENBLAS_CORETYPE", kernels, 1);
        again = 1;
    }
    if (again) execv("/proc/self/exe", argv);
}
