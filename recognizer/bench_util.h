/* icstr recognizer: pieces shared by the `icstr bench` subcommands: scoring under both protocols
 * at once, the results CSV every bench writes and the report reads, set names, quantiles.
 *
 * Results CSV (one file per system, OUT/results-SYSTEM.csv), two rows per set (standard, cased):
 *   system,set,protocol,n,skipped,unreadable,accuracy,one_minus_ned,ms_per_crop,ms_median,ms_p95,threads,batch
 * ms_per_crop is the mean wall time per crop under `threads` and `batch`; ms_median and ms_p95
 * are per-crop latencies where a system measured each crop alone (peers), else empty. System and
 * set names are restricted to [A-Za-z0-9._+-], so no field needs quoting. */
#ifndef ICSTR_BENCH_UTIL_H
#define ICSTR_BENCH_UTIL_H

#include "icstr_data.h"

#include <stddef.h>
#include <stdio.h>

#define ICSTR_BENCH_RESULTS_HEADER                                                                          \
    "system,set,protocol,n,skipped,unreadable,accuracy,one_minus_ned,ms_per_crop,ms_median,ms_p95,threads," \
    "batch"
#define ICSTR_BENCH_NAME_CAP 128

/* The standard and the case-sensitive protocol side by side. */
typedef struct {
    icstr_score std, cased;
    long unreadable;
} icstr_bench_score;

void icstr_bench_score_init(icstr_bench_score *s);
/* Scores one sample under both protocols; res (may be NULL) receives ICSTR_SCORE_SKIPPED, _WRONG
 * or _RIGHT for each. Errors: those of icstr_score_add. */
int icstr_bench_score_add(icstr_bench_score *s, const char *pred, const char *gt, int res[2]);
/* Adds the counts of from into into (the "overall" row pools samples, not set means). */
void icstr_bench_score_merge(icstr_bench_score *into, const icstr_bench_score *from);

typedef struct {
    const char *system, *set;
    double ms_per_crop;           /* < 0: unknown */
    double ms_median, ms_p95;     /* < 0: not measured */
    int threads, batch;
} icstr_bench_row;

/* Writes the two CSV rows (standard, cased) of one set. */
void icstr_bench_write_rows(FILE *f, const icstr_bench_row *r, const icstr_bench_score *s);
/* Prints the two rows as aligned text (the human form of the same numbers); header first when
 * header is 1. */
void icstr_bench_print_header(FILE *f);
void icstr_bench_print_rows(FILE *f, const icstr_bench_row *r, const icstr_bench_score *s, int header);

/* A name for a data path: its last component ("benchmarks/svt_test/" -> "svt_test"; an LMDB's
 * folder name without ".lmdb"), characters outside [A-Za-z0-9._+-] replaced by '_'. */
void icstr_bench_set_name(const char *path, char *out, size_t cap);
/* Names for n data paths as above, made distinct ("svt_test", "svt_test-2") and never "overall"
 * (the name of the pooled row). */
void icstr_bench_set_names(char *const *paths, int n, char (*names)[ICSTR_BENCH_NAME_CAP]);
/* 1 when name is non-empty, at most ICSTR_BENCH_NAME_CAP - 1 bytes, all in [A-Za-z0-9._+-]. */
int icstr_bench_name_ok(const char *name);

/* Creates dir and its parents (like mkdir -p). Errors: ICSTR_ERR_IO. */
int icstr_bench_mkdir_p(const char *dir);

/* The q-quantile (0..1, nearest rank: the ceil(q*n)-th smallest) of v, which it sorts in place;
 * -1 when n == 0. */
double icstr_bench_quantile(double *v, size_t n, double q);

/* Writes s into f as one TSV field: tabs, CR and LF become spaces. */
void icstr_bench_put_field(FILE *f, const char *s);

#endif
