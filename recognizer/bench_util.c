/* Shared pieces of the `icstr bench` subcommands (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void icstr_bench_score_init(icstr_bench_score *s) {
    icstr_score_init(&s->std, ICSTR_SCORE_STANDARD);
    icstr_score_init(&s->cased, ICSTR_SCORE_CASE94);
    s->unreadable = 0;
}

int icstr_bench_score_add(icstr_bench_score *s, const char *pred, const char *gt, int res[2]) {
    int a = icstr_score_add(&s->std, pred, gt);
    if (a < 0) return a;
    int b = icstr_score_add(&s->cased, pred, gt);
    if (b < 0) return b;
    if (res) {
        res[0] = a;
        res[1] = b;
    }
    return ICSTR_OK;
}

static void merge_one(icstr_score *into, const icstr_score *from) {
    into->n += from->n;
    into->skipped += from->skipped;
    into->correct += from->correct;
    into->ned_sum += from->ned_sum;
}

void icstr_bench_score_merge(icstr_bench_score *into, const icstr_bench_score *from) {
    merge_one(&into->std, &from->std);
    merge_one(&into->cased, &from->cased);
    into->unreadable += from->unreadable;
}

static void put_ms(FILE *f, double v) {
    if (v >= 0) fprintf(f, "%.4f", v);
}

static const char *protocol_label(int protocol) {
    return protocol == ICSTR_SCORE_STANDARD ? "standard" : "cased";
}

void icstr_bench_write_rows(FILE *f, const icstr_bench_row *r, const icstr_bench_score *s) {
    const icstr_score *sc[2] = {&s->std, &s->cased};
    for (int k = 0; k < 2; k++) {
        long n, skipped;
        double acc, ned;
        icstr_score_result(sc[k], &n, &skipped, &acc, &ned);
        fprintf(f, "%s,%s,%s,%ld,%ld,%ld,%.4f,%.4f,", r->system, r->set, protocol_label(sc[k]->protocol), n, skipped,
                s->unreadable, acc, ned);
        put_ms(f, r->ms_per_crop);
        fputc(',', f);
        put_ms(f, r->ms_median);
        fputc(',', f);
        put_ms(f, r->ms_p95);
        fprintf(f, ",%d,%d\n", r->threads, r->batch);
    }
}

void icstr_bench_print_header(FILE *f) {
    fprintf(f, "%-14s %-16s %-9s %6s %7s %10s %8s %6s %9s\n", "system", "set", "protocol", "n", "skipped",
                "unreadable", "accuracy", "1-NED", "ms/crop");
}

void icstr_bench_print_rows(FILE *f, const icstr_bench_row *r, const icstr_bench_score *s, int header) {
    if (header) icstr_bench_print_header(f);
    const icstr_score *sc[2] = {&s->std, &s->cased};
    for (int k = 0; k < 2; k++) {
        long n, skipped;
        double acc, ned;
        icstr_score_result(sc[k], &n, &skipped, &acc, &ned);
        fprintf(f, "%-14s %-16s %-9s %6ld %7ld %10ld %8.4f %6.4f ", r->system, r->set, protocol_label(sc[k]->protocol),
                n, skipped, s->unreadable, acc, ned);
        if (r->ms_per_crop >= 0) fprintf(f, "%9.3f\n", r->ms_per_crop);
        else fprintf(f, "%9s\n", "-");
    }
}

static int name_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '+' || c == '-';
}

int icstr_bench_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (!n || n >= ICSTR_BENCH_NAME_CAP) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)name[i])) return 0;
    return 1;
}

void icstr_bench_set_name(const char *path, char *out, size_t cap) {
    if (!cap) return;
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = end - start;
    if (len > 5 && !strncmp(path + end - 5, ".lmdb", 5)) len -= 5;
    if (len >= cap) len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[start + i];
        out[i] = name_char(c) ? (char)c : '_';
    }
    out[len] = 0;
    if (!len || (len == 1 && out[0] == '.') || (len == 2 && out[0] == '.' && out[1] == '.'))
        snprintf(out, cap, "data");
}

void icstr_bench_set_names(char *const *paths, int n, char (*names)[ICSTR_BENCH_NAME_CAP]) {
    for (int d = 0; d < n; d++) {
        char base[ICSTR_BENCH_NAME_CAP];
        icstr_bench_set_name(paths[d], base, 100);
        snprintf(names[d], ICSTR_BENCH_NAME_CAP, "%s", base);
        for (int k = 2, clash = 1; clash; k++) {
            clash = !strcmp(names[d], "overall");
            for (int e = 0; e < d && !clash; e++) clash = !strcmp(names[e], names[d]);
            if (clash) snprintf(names[d], ICSTR_BENCH_NAME_CAP, "%.100s-%d", base, k % 100000);
        }
    }
}

int icstr_bench_mkdir_p(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return icstr_fail(ICSTR_ERR_IO, "path too long: %s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0755) && errno != EEXIST)
            return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) && errno != EEXIST) return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) return icstr_fail(ICSTR_ERR_IO, "%s is not a folder", path);
    return ICSTR_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double icstr_bench_quantile(double *v, size_t n, double q) {
    if (!n) return -1.0;
    qsort(v, n, sizeof *v, cmp_double);
    if (q <= 0) return v[0];
    size_t rank = (size_t)ceil(q * (double)n - 1e-9); /* 0.95 * 20 must be rank 19 */
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

void icstr_bench_put_field(FILE *f, const char *s) {
    for (; s && *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}
