/* `icstr bench report`: gathers a results folder (results-*.csv from accuracy and peers,
 * speed-*.csv, peer-*.txt) into report.md (tables), report.csv (every row, plus the one-thread
 * milliseconds the plot uses) and SVG plots of accuracy against milliseconds per crop; with --pool,
 * a plot of accuracy against prompt-pool size, one line per shot count. */
#include "bench_svg.h"
#include "bench_util.h"
#include "cmd_bench.h"
#include "icstr_core.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr bench report [DIR] [--pool CSV] [--title TEXT]\n"
    "\n"
    "Gathers the results folder DIR (default " ICSTR_BENCH_DEFAULT_OUT ") that icstr bench accuracy,\n"
    "speed and peers wrote, and writes into it:\n"
    "  report.md                     accuracy (1-NED) per system and set under both protocols,\n"
    "                                milliseconds per crop on one thread, speed, peer versions\n"
    "  report.csv                    every results row plus ms_1t, the x of the plots\n"
    "  accuracy_vs_ms-standard.svg   accuracy against ms per crop (one thread, log scale), a\n"
    "  accuracy_vs_ms-cased.svg      panel per set, a colour per system\n"
    "  pool_curve.svg                with --pool: accuracy against prompt-pool size, a line per\n"
    "                                shot count\n"
    "\n"
    "  --pool CSV     a CSV with a header naming the columns pool_size, shots and accuracy\n"
    "  --title TEXT   the report's title (default \"icstr benchmarks\")\n"
    "\n"
    "Milliseconds per crop (one thread): the row's own when each crop was timed alone (the peers),\n"
    "else the system's speed-SYSTEM.csv (ms_mean_1t, icstr bench speed), else the row's when it\n"
    "ran on one thread in batches of one (icstr bench accuracy --threads 1 --batch 1, which also\n"
    "counts reading and decoding the files); a system with none of these is left off the plots.\n";

#define MAX_ROWS 4096
#define MAX_NAMES 64

typedef struct {
    char system[ICSTR_BENCH_NAME_CAP], set[ICSTR_BENCH_NAME_CAP];
    int cased;
    long n, skipped, unreadable;
    double acc, ned, ms, ms_median, ms_p95;
    int threads, batch;
} row;

typedef struct {
    char system[ICSTR_BENCH_NAME_CAP];
    double fields[16];
    int have;
} speed_info;

static const char *speed_cols[] = {"crops",        "load_ms", "ms_median_1t", "ms_p95_1t",     "ms_mean_1t",
                                   "crops_per_s",  "threads", "batch",        "peak_rss_mib",  "gflop_per_crop",
                                   "sgemm_gflops_1t", "efficiency_1t", "efficiency_all", "loadavg"};
enum { S_CROPS, S_LOAD, S_MED, S_P95, S_MEAN, S_CPS, S_THREADS, S_BATCH, S_RSS, S_GFLOP, S_SGEMM, S_EFF1, S_EFFALL,
       S_LOADAVG, S_N };

typedef struct {
    row *rows;
    int n_rows;
    char systems[MAX_NAMES][ICSTR_BENCH_NAME_CAP];
    int n_systems;
    char sets[MAX_NAMES][ICSTR_BENCH_NAME_CAP];
    int n_sets;
    speed_info speed[MAX_NAMES];
    int n_speed;
} report;

static int find_name(char (*names)[ICSTR_BENCH_NAME_CAP], int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static int add_name(char (*names)[ICSTR_BENCH_NAME_CAP], int *n, const char *s) {
    int i = find_name(names, *n, s);
    if (i >= 0) return i;
    if (*n >= MAX_NAMES) return icstr_fail(ICSTR_ERR_LIMIT, "more than %d systems or sets", MAX_NAMES);
    snprintf(names[*n], ICSTR_BENCH_NAME_CAP, "%s", s);
    return (*n)++;
}

/* Splits line at commas in place; returns the number of fields (at most cap). */
static int split(char *line, char **f, int cap) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *p = line; n < cap;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static double num(const char *s) {
    if (!s || !*s) return -1.0;
    char *end;
    double v = strtod(s, &end);
    return *end ? -1.0 : v;
}

static int read_results(report *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    char line[2048];
    int rc = ICSTR_OK, first = 1;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (first) {
            first = 0;
            if (strcmp(line, ICSTR_BENCH_RESULTS_HEADER)) {
                ICSTR_WARN("%s: not a results file (header differs); skipped", path);
                break;
            }
            continue;
        }
        char *fl[16];
        if (!line[0]) continue;
        if (split(line, fl, 16) != 13 || !icstr_bench_name_ok(fl[0]) || !icstr_bench_name_ok(fl[1]) ||
            (strcmp(fl[2], "standard") && strcmp(fl[2], "cased"))) {
            ICSTR_WARN("%s: a malformed row skipped", path);
            continue;
        }
        if (r->n_rows >= MAX_ROWS) {
            rc = icstr_fail(ICSTR_ERR_LIMIT, "more than %d result rows", MAX_ROWS);
            break;
        }
        row *w = &r->rows[r->n_rows];
        snprintf(w->system, sizeof w->system, "%s", fl[0]);
        snprintf(w->set, sizeof w->set, "%s", fl[1]);
        w->cased = !strcmp(fl[2], "cased");
        w->n = (long)num(fl[3]);
        w->skipped = (long)num(fl[4]);
        w->unreadable = (long)num(fl[5]);
        w->acc = num(fl[6]);
        w->ned = num(fl[7]);
        w->ms = num(fl[8]);
        w->ms_median = num(fl[9]);
        w->ms_p95 = num(fl[10]);
        w->threads = (int)num(fl[11]);
        w->batch = (int)num(fl[12]);
        int a = add_name(r->systems, &r->n_systems, w->system);
        int b = strcmp(w->set, "overall") ? add_name(r->sets, &r->n_sets, w->set) : 0;
        if (a < 0) rc = a;
        else if (b < 0) rc = b;
        else r->n_rows++;
    }
    fclose(f);
    return rc;
}

static int read_speed(report *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    char head[2048], line[2048];
    char *hf[32], *fl[32];
    int nh = 0;
    if (fgets(head, sizeof head, f)) nh = split(head, hf, 32);
    while (fgets(line, sizeof line, f)) {
        int nf = split(line, fl, 32);
        if (nf != nh || nh < 2 || strcmp(hf[0], "system") || !icstr_bench_name_ok(fl[0])) continue;
        if (r->n_speed >= MAX_NAMES) break;
        speed_info *s = &r->speed[r->n_speed++];
        snprintf(s->system, sizeof s->system, "%s", fl[0]);
        for (int k = 0; k < S_N; k++) s->fields[k] = -1.0;
        for (int j = 1; j < nf; j++)
            for (int k = 0; k < S_N; k++)
                if (!strcmp(hf[j], speed_cols[k])) s->fields[k] = num(fl[j]);
        s->have = 1;
    }
    fclose(f);
    return ICSTR_OK;
}

static const speed_info *speed_of(const report *r, const char *system) {
    for (int i = 0; i < r->n_speed; i++)
        if (!strcmp(r->speed[i].system, system)) return &r->speed[i];
    return NULL;
}

static const row *find_row(const report *r, const char *system, const char *set, int cased) {
    for (int i = 0; i < r->n_rows; i++)
        if (r->rows[i].cased == cased && !strcmp(r->rows[i].system, system) && !strcmp(r->rows[i].set, set))
            return &r->rows[i];
    return NULL;
}

/* Milliseconds per crop on one thread for a row (see the usage), or -1. */
static double ms_1t(const report *r, const row *w) {
    if (w->ms_median >= 0 && w->threads == 1 && w->batch == 1 && w->ms >= 0) return w->ms; /* timed crop by crop */
    const speed_info *s = speed_of(r, w->system);
    if (s && s->fields[S_MEAN] > 0) return s->fields[S_MEAN];
    return w->threads == 1 && w->batch == 1 ? w->ms : -1.0;
}

/* A system's one-thread ms for the table: its overall row, else its first set's, else speed. */
static double system_ms(const report *r, const char *system) {
    const row *w = find_row(r, system, "overall", 0);
    for (int i = 0; !w && i < r->n_rows; i++)
        if (!strcmp(r->rows[i].system, system)) w = &r->rows[i];
    if (w) return ms_1t(r, w);
    const speed_info *s = speed_of(r, system);
    return s ? s->fields[S_MEAN] : -1.0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files in dir named PREFIX*SUFFIX, sorted. */
static int list_files(const char *dir, const char *prefix, const char *suffix, char ***out, int *n_out) {
    DIR *d = opendir(dir);
    if (!d) return icstr_fail(ICSTR_ERR_IO, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0, rc = ICSTR_OK;
    struct dirent *e;
    size_t lp = strlen(prefix), ls = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= lp + ls || strncmp(e->d_name, prefix, lp) || strcmp(e->d_name + l - ls, suffix)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "file list");
                break;
            }
            v = nv;
        }
        size_t need = strlen(dir) + l + 2;
        if (!(v[n] = malloc(need))) {
            rc = icstr_fail(ICSTR_ERR_NOMEM, "file list");
            break;
        }
        snprintf(v[n++], need, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return rc;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void md_cell_ms(FILE *f, double ms) {
    if (ms >= 0) fprintf(f, " %.2f |", ms);
    else fputs(" - |", f);
}

static void write_md_table(FILE *f, const report *r, int cased) {
    fprintf(f, "\n### %s protocol: word accuracy (1 - NED)\n\n",
            cased ? "Cased (94 printable ASCII + space, case-sensitive)"
                  : "Standard (lower-case [a-z0-9], labels <= 25)");
    fputs("| system | ms/crop, 1 thread |", f);
    for (int s = 0; s < r->n_sets; s++) fprintf(f, " %s |", r->sets[s]);
    fputs(" overall |\n|---|---:|", f);
    for (int s = 0; s <= r->n_sets; s++) fputs("---:|", f);
    fputc('\n', f);
    for (int y = 0; y < r->n_systems; y++) {
        fprintf(f, "| %s |", r->systems[y]);
        md_cell_ms(f, system_ms(r, r->systems[y]));
        for (int s = 0; s <= r->n_sets; s++) {
            const row *w = find_row(r, r->systems[y], s < r->n_sets ? r->sets[s] : "overall", cased);
            if (w) fprintf(f, " %.3f (%.3f) |", w->acc, w->ned);
            else fputs(" |", f);
        }
        fputc('\n', f);
    }
    /* Samples scored: the same column must count the same crops for every system. */
    fputs("| *samples scored* | |", f);
    for (int s = 0; s <= r->n_sets; s++) {
        long n = -1;
        int differ = 0;
        for (int y = 0; y < r->n_systems; y++) {
            const row *w = find_row(r, r->systems[y], s < r->n_sets ? r->sets[s] : "overall", cased);
            if (!w) continue;
            if (n >= 0 && w->n != n) differ = 1;
            if (n < 0) n = w->n;
        }
        if (n < 0) fputs(" |", f);
        else fprintf(f, " %ld%s |", n, differ ? " (differs between systems!)" : "");
    }
    fputc('\n', f);
}

static int write_md(const report *r, const char *path, const char *dir, const char *title, int have_pool) {
    FILE *f = fopen(path, "w");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "# %s\n\nGenerated by `icstr bench report %s`.\n", title, dir);
    fputs("\nEach cell: word accuracy, and 1 - mean normalised edit distance in parentheses, scored by icstr's "
          "scorer for every system. *overall* pools the samples of the sets that system ran. ms/crop: mean "
          "milliseconds per crop on one thread, decoded image in, text out (peers: batches of one, model "
          "loading not counted; icstr: `icstr bench speed` latency unless its accuracy run was single-thread).\n",
          f);
    write_md_table(f, r, 0);
    fputs("\n![accuracy against ms per crop, standard protocol](accuracy_vs_ms-standard.svg)\n", f);
    write_md_table(f, r, 1);
    fputs("\n![accuracy against ms per crop, cased protocol](accuracy_vs_ms-cased.svg)\n", f);
    /* Per-crop latency distribution where a system measured crops one by one. */
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) {
        const row *w = &r->rows[i];
        if (w->cased || w->ms_median < 0) continue;
        if (!any) fputs("\n### Per-crop latency, one thread (ms)\n\n| system | set | mean | median | p95 |\n"
                        "|---|---|---:|---:|---:|\n", f);
        any = 1;
        fprintf(f, "| %s | %s | %.2f | %.2f | %.2f |\n", w->system, w->set, w->ms, w->ms_median, w->ms_p95);
    }
    if (r->n_speed) {
        fputs("\n### Speed (`icstr bench speed`)\n\n| system | load ms | ms/crop 1 thread (median / p95 / mean) | "
              "crops/s (threads, batch) | peak RSS MiB | GFLOP/crop | sgemm GFLOP/s 1 thread | efficiency 1 thread "
              "/ all | load avg |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              f);
        for (int i = 0; i < r->n_speed; i++) {
            const double *v = r->speed[i].fields;
            fprintf(f,
                    "| %s | %.1f | %.3f / %.3f / %.3f | %.1f (%.0f, %.0f) | %.1f | %.4f | %.1f | %.1f%% / %.1f%% | "
                    "%.2f |\n",
                    r->speed[i].system, v[S_LOAD], v[S_MED], v[S_P95], v[S_MEAN], v[S_CPS], v[S_THREADS], v[S_BATCH],
                    v[S_RSS], v[S_GFLOP], v[S_SGEMM], 100 * v[S_EFF1], 100 * v[S_EFFALL], v[S_LOADAVG]);
        }
    }
    char **peers = NULL;
    int n_peers = 0;
    if (!list_files(dir, "peer-", ".txt", &peers, &n_peers) && n_peers) {
        fputs("\n### Peers\n\n| system | version | model load ms | command |\n|---|---|---:|---|\n", f);
        for (int i = 0; i < n_peers; i++) {
            FILE *p = fopen(peers[i], "r");
            if (!p) continue;
            char line[4096], version[512] = "", load[64] = "", command[2048] = "";
            while (fgets(line, sizeof line, p)) {
                line[strcspn(line, "\r\n")] = 0;
                char *tab = strchr(line, '\t');
                if (!tab) continue;
                *tab = 0;
                for (char *c = tab + 1; *c; c++)
                    if (*c == '|') *c = '/';
                if (!strcmp(line, "version")) snprintf(version, sizeof version, "%s", tab + 1);
                else if (!strcmp(line, "load_ms")) snprintf(load, sizeof load, "%s", tab + 1);
                else if (!strcmp(line, "command")) snprintf(command, sizeof command, "%s", tab + 1);
            }
            fclose(p);
            const char *base = strrchr(peers[i], '/');
            base = base ? base + 6 : peers[i] + 5;
            fprintf(f, "| %.*s | %s | %s | `%s` |\n", (int)(strlen(base) - 4), base, version, load, command);
        }
    }
    free_list(peers, n_peers);
    if (have_pool) fputs("\n### In-context: accuracy against prompt-pool size\n\n![pool curve](pool_curve.svg)\n", f);
    return fclose(f) ? icstr_fail(ICSTR_ERR_IO, "%s: write failed", path) : ICSTR_OK;
}

static int write_csv(const report *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "%s,ms_1t\n", ICSTR_BENCH_RESULTS_HEADER);
    for (int i = 0; i < r->n_rows; i++) {
        const row *w = &r->rows[i];
        fprintf(f, "%s,%s,%s,%ld,%ld,%ld,%.4f,%.4f,", w->system, w->set, w->cased ? "cased" : "standard", w->n,
                w->skipped, w->unreadable, w->acc, w->ned);
        double v[4] = {w->ms, w->ms_median, w->ms_p95, 0};
        for (int k = 0; k < 3; k++) {
            if (v[k] >= 0) fprintf(f, "%.4f", v[k]);
            fputc(',', f);
        }
        fprintf(f, "%d,%d,", w->threads, w->batch);
        double m = ms_1t(r, w);
        if (m >= 0) fprintf(f, "%.4f", m);
        fputc('\n', f);
    }
    return fclose(f) ? icstr_fail(ICSTR_ERR_IO, "%s: write failed", path) : ICSTR_OK;
}

static int write_scatter(const report *r, const char *path, int cased) {
    const char *titles[MAX_NAMES + 1], *names[MAX_NAMES];
    icstr_svg_point *pts = calloc((size_t)r->n_rows + 1, sizeof *pts);
    if (!pts) return icstr_fail(ICSTR_ERR_NOMEM, "plot");
    int n_panels = 0, n = 0;
    for (int s = 0; s < r->n_sets; s++) titles[n_panels++] = r->sets[s];
    int has_overall = 0;
    for (int i = 0; i < r->n_rows; i++) has_overall |= !strcmp(r->rows[i].set, "overall");
    if (has_overall) titles[n_panels++] = "overall";
    for (int y = 0; y < r->n_systems; y++) names[y] = r->systems[y];
    for (int i = 0; i < r->n_rows; i++) {
        const row *w = &r->rows[i];
        if (w->cased != cased) continue;
        int p = strcmp(w->set, "overall") ? find_name((char(*)[ICSTR_BENCH_NAME_CAP])r->sets, r->n_sets, w->set)
                                          : r->n_sets;
        double x = ms_1t(r, w);
        if (p < 0 || x <= 0 || w->n <= 0) continue;
        pts[n++] = (icstr_svg_point){p, find_name((char(*)[ICSTR_BENCH_NAME_CAP])r->systems, r->n_systems, w->system),
                                     x, w->acc};
    }
    FILE *f = fopen(path, "w");
    int rc = f ? ICSTR_OK : icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    if (!rc)
        rc = icstr_svg_scatter_panels(f,
                                      cased ? "Word accuracy (cased protocol) against speed"
                                            : "Word accuracy (standard protocol) against speed",
                                      "ms per crop, 1 thread (log scale)", "word accuracy", n_panels ? n_panels : 1,
                                      n_panels ? titles : (const char *[]){"(no sets)"}, r->n_systems, names, pts, n);
    if (f && fclose(f) && !rc) rc = icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
    free(pts);
    return rc;
}

typedef struct {
    double pool, shots, acc;
} pool_pt;

static int cmp_pool(const void *a, const void *b) {
    const pool_pt *x = a, *y = b;
    if (x->shots != y->shots) return x->shots < y->shots ? -1 : 1;
    return x->pool < y->pool ? -1 : x->pool > y->pool;
}

static int write_pool(const char *csv, const char *path) {
    FILE *f = fopen(csv, "r");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", csv, strerror(errno));
    char line[2048];
    char *fl[32];
    int cp = -1, cs = -1, ca = -1, nf, n = 0, cap = 0, rc = ICSTR_OK;
    pool_pt *v = NULL;
    if (fgets(line, sizeof line, f)) {
        nf = split(line, fl, 32);
        for (int j = 0; j < nf; j++) {
            if (!strcmp(fl[j], "pool_size")) cp = j;
            if (!strcmp(fl[j], "shots")) cs = j;
            if (!strcmp(fl[j], "accuracy")) ca = j;
        }
    }
    if (cp < 0 || cs < 0 || ca < 0)
        rc = icstr_fail(ICSTR_ERR_FORMAT, "%s: the header must name pool_size, shots and accuracy", csv);
    while (!rc && fgets(line, sizeof line, f)) {
        nf = split(line, fl, 32);
        if (nf <= cp || nf <= cs || nf <= ca) continue;
        pool_pt p = {num(fl[cp]), num(fl[cs]), num(fl[ca])};
        if (p.pool < 0 || p.shots < 0 || p.acc < 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            if (cap > 1000000) {
                rc = icstr_fail(ICSTR_ERR_LIMIT, "%s: too many rows", csv);
                break;
            }
            pool_pt *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "pool rows");
                break;
            }
            v = nv;
        }
        v[n++] = p;
    }
    fclose(f);
    icstr_svg_point *pts = rc ? NULL : calloc((size_t)n + 1, sizeof *pts);
    if (!rc && !pts) rc = icstr_fail(ICSTR_ERR_NOMEM, "pool plot");
    char names[MAX_NAMES][ICSTR_BENCH_NAME_CAP];
    const char *np[MAX_NAMES];
    int ns = 0;
    if (!rc) {
        if (n) qsort(v, (size_t)n, sizeof *v, cmp_pool);
        for (int i = 0; i < n; i++) {
            char label[ICSTR_BENCH_NAME_CAP];
            snprintf(label, sizeof label, "%g shots", v[i].shots);
            int s = find_name(names, ns, label);
            if (s < 0 && ns < MAX_NAMES) {
                snprintf(names[ns], sizeof names[ns], "%s", label);
                np[ns] = names[ns];
                s = ns++;
            }
            pts[i] = (icstr_svg_point){0, s, v[i].pool, v[i].acc};
        }
        FILE *o = fopen(path, "w");
        if (!o) rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        else {
            rc = icstr_svg_lines(o, "Word accuracy against prompt-pool size", "labelled crops in the pool",
                                 "word accuracy", ns, np, pts, n);
            if (fclose(o) && !rc) rc = icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
        }
    }
    free(pts);
    free(v);
    return rc;
}

int icstr_bench_report(int argc, char **argv) {
    const char *dir = ICSTR_BENCH_DEFAULT_OUT, *pool = NULL, *title = "icstr benchmarks";
    int have_dir = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--pool") && more) {
            pool = argv[++i];
        } else if (!strcmp(a, "--title") && more) {
            title = argv[++i];
        } else if (a[0] != '-' && !have_dir) {
            dir = a;
            have_dir = 1;
        } else {
            fprintf(stderr, "icstr bench report: unexpected argument '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    report *r = calloc(1, sizeof *r);
    char **files = NULL, path[4200];
    int n_files = 0;
    int rc = r ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "report");
    if (!rc && !(r->rows = calloc(MAX_ROWS, sizeof *r->rows))) rc = icstr_fail(ICSTR_ERR_NOMEM, "report");
    if (!rc) rc = list_files(dir, "results-", ".csv", &files, &n_files);
    for (int i = 0; !rc && i < n_files; i++) rc = read_results(r, files[i]);
    free_list(files, n_files);
    files = NULL;
    n_files = 0;
    if (!rc) rc = list_files(dir, "speed-", ".csv", &files, &n_files);
    for (int i = 0; !rc && i < n_files; i++) rc = read_speed(r, files[i]);
    free_list(files, n_files);
    if (!rc && !r->n_rows && !r->n_speed)
        rc = icstr_fail(ICSTR_ERR_NOTFOUND, "%s holds no results-*.csv or speed-*.csv", dir);
    if (!rc && pool) {
        snprintf(path, sizeof path, "%s/pool_curve.svg", dir);
        rc = write_pool(pool, path);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/accuracy_vs_ms-standard.svg", dir);
        rc = write_scatter(r, path, 0);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/accuracy_vs_ms-cased.svg", dir);
        rc = write_scatter(r, path, 1);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.csv", dir);
        rc = write_csv(r, path);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.md", dir);
        rc = write_md(r, path, dir, title, pool != NULL);
    }
    if (!rc)
        printf("%s/report.md\n%s/report.csv\n%s/accuracy_vs_ms-standard.svg\n%s/accuracy_vs_ms-cased.svg\n", dir, dir,
               dir, dir);
    if (!rc && pool) printf("%s/pool_curve.svg\n", dir);
    if (rc) fprintf(stderr, "icstr bench report: %s\n", icstr_last_error());
    if (r) free(r->rows);
    free(r);
    return rc ? 1 : 0;
}
