/* `icstr selfcheck`: proves the installation works: OpenBLAS agrees with a naive product, the
 * RNG is reproducible, threads are set. Prints one line per check to stdout. */
#include "cli.h"
#include "icstr_core.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr selfcheck\n"
    "Checks that OpenBLAS, the RNG and the thread settings work on this machine.\n";

int icstr_cmd_selfcheck(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "icstr selfcheck: unexpected argument '%s'\n%s", argv[1], usage);
        return 2;
    }
    int failures = 0;
    enum { M = 37, K = 53, N = 29 };
    static float a[M * K], b[K * N], c[M * N];
    icstr_rng rng;
    icstr_rng_seed(&rng, 1);
    for (int i = 0; i < M * K; i++) a[i] = icstr_rng_normal(&rng);
    for (int i = 0; i < K * N; i++) b[i] = icstr_rng_normal(&rng);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0.0;
            for (int k = 0; k < K; k++) ref += (double)a[i * K + k] * b[k * N + j];
            double err = fabs(ref - c[i * N + j]);
            if (err > worst) worst = err;
        }
    int ok = worst < 1e-3;
    failures += !ok;
    printf("openblas sgemm vs naive: max error %.2e %s (kernels: %s%s)\n", worst, ok ? "ok" : "FAILED",
           icstr_blas_kernels(), getenv("OPENBLAS_CORETYPE") ? ", named by OPENBLAS_CORETYPE" : "");

    icstr_rng r1, r2;
    icstr_rng_seed(&r1, 42);
    icstr_rng_seed(&r2, 42);
    ok = 1;
    for (int i = 0; i < 1000; i++) ok &= icstr_rng_u64(&r1) == icstr_rng_u64(&r2);
    failures += !ok;
    printf("rng reproducible: %s\n", ok ? "ok" : "FAILED");
    printf("threads: %d\n", icstr_get_threads());
    printf("selfcheck: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
