/* `icstr bench peers`: other recognizers on the same crops, scored by the same scorer.
 *
 * Each set's crops are decoded once by icstr's own decoder and written as binary PPM files into a
 * temporary folder, so every peer sees exactly the pixels icstr sees. A peer is any command that
 * reads PPM paths on stdin, one per line, and prints PATH<TAB>TEXT<TAB>MS per crop (MS: its
 * per-crop milliseconds, -1 if unknown) plus optional "#KEY<TAB>VALUE" lines (e.g. #load_ms,
 * #version); bench/peer_tesseract.c and bench/peer_ppocr.js are two. The peers run one after the
 * other with OMP_NUM_THREADS, OMP_THREAD_LIMIT and OPENBLAS_NUM_THREADS set to 1. */
#include "bench_util.h"
#include "cli_args.h"
#include "cmd_bench.h"
#include "icstr_core.h"
#include "inputs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *usage =
    "usage: icstr bench peers --data PATH [--data PATH...] --peer NAME=COMMAND [--peer ...]\n"
    "                         [--out DIR] [--limit N] [--keep]\n"
    "\n"
    "Runs each peer recognizer on every labelled set and scores it like icstr bench accuracy\n"
    "(standard and cased protocols). The crops are decoded by icstr and handed to the peer as\n"
    "binary PPM files: COMMAND (run by /bin/sh) reads their paths on stdin, one per line, and\n"
    "prints PATH<TAB>TEXT<TAB>MS per crop (MS = its milliseconds for that crop on one thread, -1\n"
    "when unknown); lines \"#load_ms<TAB>X\" and \"#version<TAB>V\" are recorded too. Peers get one\n"
    "thread (OMP_NUM_THREADS, OMP_THREAD_LIMIT, OPENBLAS_NUM_THREADS = 1). bench/run_peers.sh\n"
    "finds the installed peers (Tesseract, PP-OCRv4) and calls this.\n"
    "\n"
    "Writes DIR/results-NAME.csv, DIR/predictions-NAME-SET.tsv (NAME, LABEL, PREDICTION, MS,\n"
    "STANDARD, CASED per crop) and DIR/peer-NAME.txt (command, version, load time).\n"
    "\n"
    "  --peer NAME=COMMAND  a peer (NAME in [A-Za-z0-9._+-]); repeat for more\n"
    "  --out DIR            results folder (default " ICSTR_BENCH_DEFAULT_OUT ")\n"
    "  --limit N            only the first N crops of each set\n"
    "  --keep               keep the exported PPM crops (their folder is printed)\n"
    "\n"
    "A crop icstr cannot decode counts as a wrong (empty) prediction for every peer.\n";

typedef struct {
    char name[ICSTR_BENCH_NAME_CAP];
    const char *command;
    FILE *csv, *info;
    icstr_bench_score overall;
    double *all_ms;          /* per-crop ms over all sets, for the overall row */
    size_t n_ms, cap_ms;
    double sum_ms;
    int failed;
} peer;

typedef struct {
    long n;
    char **names, **labels;
    int *ok;                 /* 1 = exported as IIIIIII.ppm */
} crop_set;

static void set_free(crop_set *s) {
    for (long i = 0; i < s->n; i++) {
        free(s->names[i]);
        free(s->labels[i]);
    }
    free(s->names);
    free(s->labels);
    free(s->ok);
    memset(s, 0, sizeof *s);
}

/* snprintf that fails instead of cutting a path short. */
static int fmt_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fmt_path(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return icstr_fail(ICSTR_ERR_RANGE, "path too long: %.200s...", out);
    return ICSTR_OK;
}

static int write_ppm(const char *path, const icstr_image *im) {
    FILE *f = fopen(path, "wb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "P6\n%d %d\n255\n", im->w, im->h);
    size_t n = (size_t)im->w * (size_t)im->h * 3;
    int bad = fwrite(im->rgb, 1, n, f) != n;
    if (fclose(f) || bad) return icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
    return ICSTR_OK;
}

/* Decodes every crop of data into dir as IIIIIII.ppm and lists the written files in dir/list.txt. */
static int export_set(const char *data, const char *dir, long limit, crop_set *s) {
    memset(s, 0, sizeof *s);
    icstr_inputs *in = NULL;
    char *args[1] = {(char *)data};
    char path[4200];
    long cap = 0;
    if (fmt_path(path, sizeof path, "%s/list.txt", dir)) return ICSTR_ERR_RANGE;
    FILE *list = fopen(path, "w");
    if (!list) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    int rc = icstr_inputs_open(args, 1, &in);
    icstr_input_item item;
    while (!rc && (!limit || s->n < limit) && (rc = icstr_inputs_next(in, &item)) > 0) {
        rc = ICSTR_OK;
        if (!item.label) {
            rc = item.error ? icstr_fail(ICSTR_ERR_IO, "%s", item.reason)
                            : icstr_fail(ICSTR_ERR_FORMAT, "no labels (a gt.txt folder or an STR LMDB is needed)");
            break;
        }
        if (s->n == cap) {
            long nc = cap ? 2 * cap : 1024;
            char **nn = realloc(s->names, (size_t)nc * sizeof *nn);
            if (nn) s->names = nn;
            char **nl = realloc(s->labels, (size_t)nc * sizeof *nl);
            if (nl) s->labels = nl;
            int *no = realloc(s->ok, (size_t)nc * sizeof *no);
            if (no) s->ok = no;
            if (!nn || !nl || !no) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "crop list");
                break;
            }
            cap = nc;
        }
        long i = s->n;
        s->names[i] = strdup(item.name);
        s->labels[i] = strdup(item.label);
        s->ok[i] = 0;
        s->n++;
        if (!s->names[i] || !s->labels[i]) {
            rc = icstr_fail(ICSTR_ERR_NOMEM, "crop list");
            break;
        }
        icstr_image im = {0, 0, NULL};
        int r = item.error ? item.error : icstr_image_load_memory(item.bytes, item.len, item.name, &im);
        if (r) {
            fprintf(stderr, "icstr bench peers: %s\n", item.error ? item.reason : icstr_last_error());
            continue;
        }
        rc = fmt_path(path, sizeof path, "%s/%07ld.ppm", dir, i);
        if (!rc) rc = write_ppm(path, &im);
        icstr_image_free(&im);
        if (rc) break;
        s->ok[i] = 1;
        fprintf(list, "%s\n", path);
    }
    icstr_inputs_close(in);
    if (fclose(list) && !rc) rc = icstr_fail(ICSTR_ERR_IO, "%s/list.txt: write failed", dir);
    return rc < 0 ? rc : ICSTR_OK;
}

static void remove_export(const char *dir, const crop_set *s) {
    char path[4200];
    for (long i = 0; i < s->n; i++)
        if (s->ok[i]) {
            if (!fmt_path(path, sizeof path, "%s/%07ld.ppm", dir, i)) unlink(path);
        }
    if (!fmt_path(path, sizeof path, "%s/list.txt", dir)) unlink(path);
}

/* The crop index from a PPM path ".../IIIIIII.ppm", or -1. */
static long index_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *end;
    long v = strtol(base, &end, 10);
    return end != base && !strcmp(end, ".ppm") && v >= 0 ? v : -1;
}

static int push_ms(peer *p, double ms) {
    if (p->n_ms == p->cap_ms) {
        size_t nc = p->cap_ms ? 2 * p->cap_ms : 4096;
        double *n = realloc(p->all_ms, nc * sizeof *n);
        if (!n) return icstr_fail(ICSTR_ERR_NOMEM, "timings");
        p->all_ms = n;
        p->cap_ms = nc;
    }
    p->all_ms[p->n_ms++] = ms;
    p->sum_ms += ms;
    return ICSTR_OK;
}

/* Runs one peer on one exported set, scores it and writes its rows. */
static int run_peer(peer *p, const char *set_name, const char *dir, const crop_set *s, const char *out_dir,
                    int first_set) {
    char out_path[4200], cmd[8800];
    if (fmt_path(out_path, sizeof out_path, "%s/out-%s.tsv", dir, p->name) ||
        fmt_path(cmd, sizeof cmd, "%s < '%s/list.txt' > '%s'", p->command, dir, out_path))
        return ICSTR_ERR_RANGE;
    ICSTR_INFO("%s on %s: %ld crops", p->name, set_name, s->n);
    double t0 = icstr_now_seconds();
    int st = system(cmd);
    double wall = icstr_now_seconds() - t0;
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(out_path);
        return icstr_fail(ICSTR_ERR_IO, "peer %s failed on %s (status %d): %s", p->name, set_name,
                          st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, p->command);
    }
    char **texts = calloc((size_t)s->n + 1, sizeof *texts);
    double *ms = malloc(((size_t)s->n + 1) * sizeof *ms);
    double *sorted = malloc(((size_t)s->n + 1) * sizeof *sorted);
    FILE *f = fopen(out_path, "r");
    int rc = texts && ms && sorted ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "peer output");
    if (!rc && !f) rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", out_path, strerror(errno));
    for (long i = 0; i < s->n && ms; i++) ms[i] = -1.0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long unknown = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        char *t1 = strchr(line, '\t');
        if (!len || !t1) continue;
        *t1 = 0;
        if (line[0] == '#') {
            if (first_set && p->info) fprintf(p->info, "%s\t%s\n", line + 1, t1 + 1);
            if (!strcmp(line, "#load_ms")) ICSTR_INFO("%s: model loaded in %s ms", p->name, t1 + 1);
            continue;
        }
        char *t2 = strchr(t1 + 1, '\t');
        if (t2) *t2 = 0;
        long i = index_of(line);
        if (i < 0 || i >= s->n || !s->ok[i]) {
            unknown++;
            continue;
        }
        free(texts[i]);
        if (!(texts[i] = strdup(t1 + 1))) rc = icstr_fail(ICSTR_ERR_NOMEM, "peer output");
        ms[i] = t2 ? strtod(t2 + 1, NULL) : -1.0;
    }
    free(line);
    if (f) fclose(f);
    unlink(out_path);
    if (unknown) ICSTR_WARN("%s: %ld output lines name no exported crop", p->name, unknown);
    char path[4400];
    if (!rc) rc = fmt_path(path, sizeof path, "%s/predictions-%s-%s.tsv", out_dir, p->name, set_name);
    FILE *pred = rc ? NULL : fopen(path, "w");
    if (!rc && !pred) rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    icstr_bench_score sc;
    icstr_bench_score_init(&sc);
    long missing = 0, n_ms = 0;
    double sum_ms = 0.0;
    static const char *word[3] = {"skipped", "wrong", "right"};
    for (long i = 0; !rc && i < s->n; i++) {
        const char *text = texts[i] ? texts[i] : "";
        if (!s->ok[i]) sc.unreadable++;
        else if (!texts[i]) missing++;
        int res[2];
        if ((rc = icstr_bench_score_add(&sc, text, s->labels[i], res))) break;
        icstr_bench_put_field(pred, s->names[i]);
        fputc('\t', pred);
        icstr_bench_put_field(pred, s->labels[i]);
        fputc('\t', pred);
        icstr_bench_put_field(pred, text);
        fprintf(pred, "\t%.3f\t%s\t%s\n", ms[i], word[res[0]], word[res[1]]);
        if (ms[i] >= 0) {
            sorted[n_ms++] = ms[i];
            sum_ms += ms[i];
            if ((rc = push_ms(p, ms[i]))) break;
        }
    }
    if (pred && fclose(pred) && !rc) rc = icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
    if (!rc) {
        if (missing) ICSTR_WARN("%s on %s: %ld crops got no answer (counted as empty)", p->name, set_name, missing);
        double mean = n_ms ? sum_ms / (double)n_ms : -1.0;
        double p95 = icstr_bench_quantile(sorted, (size_t)n_ms, 0.95);
        double med = icstr_bench_quantile(sorted, (size_t)n_ms, 0.5);
        icstr_bench_row row = {p->name, set_name, mean, med, p95, 1, 1};
        icstr_bench_write_rows(p->csv, &row, &sc);
        fflush(p->csv);
        icstr_bench_print_rows(stdout, &row, &sc, 0);
        fflush(stdout);
        icstr_bench_score_merge(&p->overall, &sc);
        ICSTR_INFO("%s on %s: %.1f s wall, %.2f ms per crop (mean of its own timings)", p->name, set_name, wall,
                   mean);
    }
    for (long i = 0; texts && i < s->n; i++) free(texts[i]);
    free(texts);
    free(ms);
    free(sorted);
    return rc;
}

int icstr_bench_peers(int argc, char **argv) {
    const char *out_dir = ICSTR_BENCH_DEFAULT_OUT;
    char **data = calloc((size_t)argc + 1, sizeof(char *));
    peer *peers = calloc((size_t)argc + 1, sizeof(peer));
    int n_data = 0, n_peers = 0, keep = 0, bad = 0;
    long limit = 0;
    if (!data || !peers) {
        free(data);
        free(peers);
        return 1;
    }
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            free(data);
            free(peers);
            return 0;
        } else if (!strcmp(a, "--keep")) {
            keep = 1;
        } else if (!strcmp(a, "--data") && more) {
            data[n_data++] = argv[++i];
        } else if (!strcmp(a, "--out") && more) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--limit") && more) {
            bad = icstr_cli_long("icstr bench peers", a, argv[++i], 1, 1L << 40, &limit);
        } else if (!strcmp(a, "--peer") && more) {
            const char *spec = argv[++i], *eq = strchr(spec, '=');
            peer *p = &peers[n_peers];
            size_t nl = eq ? (size_t)(eq - spec) : 0;
            if (eq && nl < sizeof p->name) {
                memcpy(p->name, spec, nl);
                p->name[nl] = 0;
            }
            if (!eq || !icstr_bench_name_ok(p->name) || !eq[1]) {
                fprintf(stderr, "icstr bench peers: --peer wants NAME=COMMAND, NAME in [A-Za-z0-9._+-], got '%s'\n",
                        spec);
                bad = 2;
            }
            p->command = eq ? eq + 1 : NULL;
            n_peers++;
        } else {
            fprintf(stderr, "icstr bench peers: unexpected argument '%s'\n\n%s", a, usage);
            bad = 2;
        }
    }
    if (!bad && (!n_data || !n_peers)) {
        fprintf(stderr, "icstr bench peers: %s\n\n%s",
                n_data ? "no --peer given (bench/run_peers.sh finds the installed peers)" : "--data is required",
                usage);
        bad = 2;
    }
    if (bad) {
        free(data);
        free(peers);
        return 2;
    }
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("OMP_THREAD_LIMIT", "1", 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    char tmp[4096], dir[4200], path[4400];
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/icstr-peers-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int rc = icstr_bench_mkdir_p(out_dir);
    int any_failed = 0;
    if (!rc && !mkdtemp(tmp)) rc = icstr_fail(ICSTR_ERR_IO, "mkdtemp %s: %s", tmp, strerror(errno));
    for (int k = 0; !rc && k < n_peers; k++) {
        peer *p = &peers[k];
        icstr_bench_score_init(&p->overall);
        if ((rc = fmt_path(path, sizeof path, "%s/results-%s.csv", out_dir, p->name))) break;
        if (!(p->csv = fopen(path, "w"))) {
            rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        fprintf(p->csv, "%s\n", ICSTR_BENCH_RESULTS_HEADER);
        if (!fmt_path(path, sizeof path, "%s/peer-%s.txt", out_dir, p->name) && (p->info = fopen(path, "w")))
            fprintf(p->info, "command\t%s\n", p->command);
    }
    char (*set_names)[ICSTR_BENCH_NAME_CAP] = calloc((size_t)n_data, sizeof *set_names);
    if (!rc && !set_names) rc = icstr_fail(ICSTR_ERR_NOMEM, "set names");
    int header = 1;
    if (!rc) icstr_bench_set_names(data, n_data, set_names);
    for (int d = 0; !rc && d < n_data; d++) {
        crop_set s = {0, NULL, NULL, NULL};
        if ((rc = fmt_path(dir, sizeof dir, "%s/%s", tmp, set_names[d])) || (rc = icstr_bench_mkdir_p(dir)) ||
            (rc = export_set(data[d], dir, limit, &s))) {
            if (strncmp(icstr_last_error(), data[d], strlen(data[d]))) icstr_fail_context(rc, "%s", data[d]);
            if (!keep) {
                remove_export(dir, &s);
                rmdir(dir);
            }
            set_free(&s);
            break;
        }
        if (header) {
            icstr_bench_print_header(stdout);
            header = 0;
        }
        for (int k = 0; k < n_peers; k++) {
            peer *p = &peers[k];
            if (p->failed) continue;
            if (run_peer(p, set_names[d], dir, &s, out_dir, d == 0)) {
                fprintf(stderr, "icstr bench peers: %s (skipping this peer)\n", icstr_last_error());
                p->failed = 1;
                any_failed = 1;
            }
        }
        if (!keep) {
            remove_export(dir, &s);
            rmdir(dir);
        }
        set_free(&s);
    }
    for (int k = 0; k < n_peers; k++) {
        peer *p = &peers[k];
        if (!rc && !p->failed && n_data > 1) {
            double mean = p->n_ms ? p->sum_ms / (double)p->n_ms : -1.0;
            double p95 = icstr_bench_quantile(p->all_ms, p->n_ms, 0.95);
            double med = icstr_bench_quantile(p->all_ms, p->n_ms, 0.5);
            icstr_bench_row row = {p->name, "overall", mean, med, p95, 1, 1};
            icstr_bench_write_rows(p->csv, &row, &p->overall);
            icstr_bench_print_rows(stdout, &row, &p->overall, 0);
        }
        if (p->csv) fclose(p->csv);
        if (p->info) fclose(p->info);
        free(p->all_ms);
    }
    if (keep) fprintf(stderr, "icstr bench peers: the exported crops are in %s\n", tmp);
    else rmdir(tmp);
    if (rc) fprintf(stderr, "icstr bench peers: %s\n", icstr_last_error());
    free(set_names);
    free(data);
    free(peers);
    return rc || any_failed ? 1 : 0;
}
