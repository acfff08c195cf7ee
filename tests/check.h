/* A minimal test harness: CHECK records a failure with its line and goes on; check_finish prints
 * "N passed, N failed" and returns the process exit code, so a failing check always fails ctest. */
#ifndef ICSTR_CHECK_H
#define ICSTR_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) check_passed++;                                                    \
        else {                                                                       \
            check_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                  \
    do {                                                                      \
        if (cond) check_passed++;                                             \
        else {                                                                \
            check_failed++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* |a - b| <= tol, printing both values on failure */
#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double check_a_ = (double)(a), check_b_ = (double)(b);                             \
        if (fabs(check_a_ - check_b_) <= (tol)) check_passed++;                            \
        else {                                                                             \
            check_failed++;                                                                \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g, tol %g\n",    \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));       \
        }                                                                                  \
    } while (0)

static int check_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : (check_passed ? 0 : 1);
}

#endif
