/* Thread count for OpenBLAS and the project's own OpenMP loops, and a monotonic clock. */
#include "icstr_core.h"

#include <cblas.h>
#include <stdlib.h>
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
