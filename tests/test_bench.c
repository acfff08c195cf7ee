/* Tests of `icstr bench`: the shared pieces (quantiles, set names, pooled scores) against values
 * worked out by hand, then the whole pipeline through the built binary on fixtures made here:
 * accuracy (compared with `icstr eval` and with a recount of its own predictions file), scoring
 * another system's predictions, speed, peers (fake peers with known answers, a failing one),
 * the report and its plots, and the usage errors. Real peers are not needed (and not run). */
#include "bench_util.h"
#include "check.h"
#include "cli_util.h"
#include "icstr_core.h"
#include "icstr_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char B[4096], T[4096];

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* The CSV row "system,set,protocol,..." -> accuracy, 1-NED and n; 0 when found. */
static int csv_row(const char *csv, const char *system, const char *set, const char *protocol, long *n, double *acc,
                   double *ned, double *ms) {
    char key[512];
    snprintf(key, sizeof key, "\n%s,%s,%s,", system, set, protocol);
    const char *p = csv ? strstr(csv, key) : NULL;
    if (!p) return -1;
    p += strlen(key);
    long skipped, unreadable;
    double m = -1;
    if (sscanf(p, "%ld,%ld,%ld,%lf,%lf,%lf", n, &skipped, &unreadable, acc, ned, &m) < 5) return -1;
    if (ms) *ms = m;
    return 0;
}

static void test_util(void) {
    double v[] = {5, 1, 4, 2, 3};
    CHECK(icstr_bench_quantile(v, 5, 0.5) == 3);
    CHECK(v[0] == 1 && v[4] == 5); /* sorted in place */
    CHECK(icstr_bench_quantile(v, 5, 0.95) == 5);
    CHECK(icstr_bench_quantile(v, 5, 0.0) == 1);
    double w[20];
    for (int i = 0; i < 20; i++) w[i] = 20 - i; /* 1..20 */
    CHECK(icstr_bench_quantile(w, 20, 0.95) == 19); /* ceil(0.95 * 20) = 19th smallest */
    CHECK(icstr_bench_quantile(w, 20, 0.5) == 10);
    CHECK(icstr_bench_quantile(w, 0, 0.5) == -1);

    char name[ICSTR_BENCH_NAME_CAP];
    icstr_bench_set_name("/data/benchmarks/svt_test/", name, sizeof name);
    CHECK(!strcmp(name, "svt_test"));
    icstr_bench_set_name("x/train.lmdb", name, sizeof name);
    CHECK(!strcmp(name, "train"));
    icstr_bench_set_name("my set,v2", name, sizeof name);
    CHECK(!strcmp(name, "my_set_v2"));
    icstr_bench_set_name("/", name, sizeof name);
    CHECK(!strcmp(name, "data"));
    CHECK(icstr_bench_name_ok("ppocrv4-nopad") && !icstr_bench_name_ok("a,b") && !icstr_bench_name_ok(""));

    char *paths[4] = {"a/svt", "b/svt/", "c/overall", "d/svt"};
    char names[4][ICSTR_BENCH_NAME_CAP];
    icstr_bench_set_names(paths, 4, names);
    CHECK(!strcmp(names[0], "svt") && !strcmp(names[1], "svt-2") && !strcmp(names[2], "overall-2") &&
          !strcmp(names[3], "svt-3"));

    /* Both protocols at once, and pooling: "Hello!" vs "hello" is right under standard, wrong
     * under cased; "!!" is skipped by standard only. */
    icstr_bench_score a, b;
    icstr_bench_score_init(&a);
    icstr_bench_score_init(&b);
    int res[2];
    CHECK(!icstr_bench_score_add(&a, "hello", "Hello!", res) && res[0] == ICSTR_SCORE_RIGHT &&
          res[1] == ICSTR_SCORE_WRONG);
    CHECK(!icstr_bench_score_add(&b, "!!", "!!", res) && res[0] == ICSTR_SCORE_SKIPPED && res[1] == ICSTR_SCORE_RIGHT);
    CHECK(!icstr_bench_score_add(&b, "abd", "abc", res) && res[0] == ICSTR_SCORE_WRONG);
    icstr_bench_score_merge(&a, &b);
    long n, skipped;
    double acc, ned;
    icstr_score_result(&a.std, &n, &skipped, &acc, &ned);
    CHECK(n == 2 && skipped == 1);
    CHECK_NEAR(acc, 0.5, 1e-12);
    CHECK_NEAR(ned, 1.0 - (0.0 + 1.0 / 3.0) / 2.0, 1e-12);
    icstr_score_result(&a.cased, &n, &skipped, &acc, NULL);
    CHECK(n == 3 && skipped == 0);
    CHECK_NEAR(acc, 1.0 / 3.0, 1e-12);
}

/* A gt.txt set of 5 crops with known labels; the 5th file is not an image. */
static const char *gt_labels[5] = {"abc", "ABC", "x y", "abc!", "abc"};
static const int gt_w[4] = {40, 64, 30, 50}, gt_h[4] = {20, 16, 30, 25};

static int make_gt_set(const char *dir) {
    char path[8300];
    snprintf(path, sizeof path, "%s/images", dir);
    if (icstr_bench_mkdir_p(path)) return -1;
    snprintf(path, sizeof path, "%s/gt.txt", dir);
    FILE *gt = fopen(path, "w");
    if (!gt) return -1;
    for (int i = 0; i < 4; i++) {
        icstr_image im;
        unsigned char col[3] = {(unsigned char)(40 * i), 200, 90};
        if (icstr_image_alloc(gt_w[i], gt_h[i], col, &im)) return -1;
        snprintf(path, sizeof path, "%s/images/c%d.png", dir, i);
        int rc = icstr_image_write_png(path, im.w, im.h, 3, im.rgb);
        icstr_image_free(&im);
        if (rc) return -1;
        fprintf(gt, "images/c%d.png\t%s\n", i, gt_labels[i]);
    }
    fprintf(gt, "images/broken.png\t%s\n", gt_labels[4]);
    fclose(gt);
    snprintf(path, sizeof path, "%s/images/broken.png", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("not a png", f);
    fclose(f);
    return 0;
}

static void test_accuracy(const char *model) {
    CHECK(sh("'%s/icstr' bench accuracy --data '%s/synth.lmdb' --data '%s/synth.lmdb' --model '%s' --out '%s/out' "
             "--errors --threads 1 --batch 3 > '%s/acc.txt' 2>/dev/null",
             B, T, T, model, T, T) == 0);
    char *csv = slurp("%s/out/results-icstr.csv", T);
    CHECK(csv && !strncmp(csv, ICSTR_BENCH_RESULTS_HEADER "\n", strlen(ICSTR_BENCH_RESULTS_HEADER) + 1));
    CHECK(count_lines(csv) == 7); /* header, 2 sets x 2 protocols, overall x 2 */
    long n1 = -1, n2 = -1, no = -1;
    double a1 = -1, a2 = -1, ao = -1, e1, e2, eo;
    CHECK(!csv_row(csv, "icstr", "synth", "standard", &n1, &a1, &e1, NULL));
    CHECK(!csv_row(csv, "icstr", "synth-2", "standard", &n2, &a2, &e2, NULL));
    CHECK(!csv_row(csv, "icstr", "overall", "standard", &no, &ao, &eo, NULL));
    CHECK(n1 >= 1 && n1 <= 8 && n2 == n1 && no == 2 * n1);
    CHECK(a1 == a2 && ao == a1 && e1 == e2);

    /* The same numbers as icstr eval (same loop, same scorer). */
    CHECK(sh("'%s/icstr' eval --data '%s/synth.lmdb' --model '%s' --threads 1 --json > '%s/eval.json' 2>/dev/null", B,
             T, model, T) == 0);
    char *ej = slurp("%s/eval.json", T);
    const char *p = ej ? strstr(ej, "\"accuracy\": ") : NULL, *q = ej ? strstr(ej, "\"one_minus_ned\": ") : NULL;
    const char *pn = ej ? strstr(ej, "\"n\": ") : NULL;
    CHECK(p && q && pn);
    if (p && q && pn) {
        CHECK_NEAR(atof(p + 12), a1, 1e-9);
        CHECK_NEAR(atof(q + 17), e1, 1e-9);
        CHECK(atol(pn + 5) == n1);
    }
    free(ej);

    /* Recount the cased row from the predictions file. */
    char *pred = slurp("%s/out/predictions-synth.tsv", T);
    CHECK(count_lines(pred) == 8);
    icstr_score sc;
    icstr_score_init(&sc, ICSTR_SCORE_CASE94);
    int rights = 0, wrongs_std = 0;
    for (char *line = pred; line && *line;) {
        char *nl = strchr(line, '\n');
        *nl = 0;
        char *f[6] = {line};
        for (int k = 1; k < 6; k++) {
            f[k] = f[k - 1] ? strchr(f[k - 1], '\t') : NULL;
            if (f[k]) *f[k]++ = 0;
        }
        CHECK(f[5] != NULL);
        if (f[5]) {
            int r = icstr_score_add(&sc, f[2], f[1]);
            CHECK(!strcmp(f[5], r == ICSTR_SCORE_RIGHT ? "right" : r == ICSTR_SCORE_WRONG ? "wrong" : "skipped"));
            rights += r == ICSTR_SCORE_RIGHT;
            wrongs_std += !strcmp(f[4], "wrong");
        }
        line = nl + 1;
    }
    long nc = -1;
    double ac = -1, ec;
    CHECK(!csv_row(csv, "icstr", "synth", "cased", &nc, &ac, &ec, NULL));
    CHECK(nc == sc.n);
    CHECK_NEAR(ac, sc.n ? (double)rights / (double)sc.n : 0.0, 5e-5);
    /* A sheet exactly when something was misread under the standard protocol. */
    struct stat st;
    char sheet[8192];
    snprintf(sheet, sizeof sheet, "%s/out/errors-synth.png", T);
    CHECK((stat(sheet, &st) == 0) == (wrongs_std > 0));
    free(pred);
    free(csv);
}

static void test_predictions_in(void) {
    /* Names as printed by icstr recognize, or relative to the set folder; c3 is left out. */
    char path[8192];
    snprintf(path, sizeof path, "%s/other.tsv", T);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "# a comment\n%s/gt/images/c0.png\tabc\t0.9\nimages/c1.png\tabc\nimages/c2.png\tx y\n"
               "images/broken.png\tabc\n",
            T);
    fclose(f);
    CHECK(sh("'%s/icstr' bench accuracy --data '%s/gt' --predictions-in '%s' --name other --out '%s/out' --errors "
             "> /dev/null 2>&1",
             B, T, path, T) == 0);
    char *csv = slurp("%s/out/results-other.csv", T);
    long n;
    double acc, ned;
    /* standard: abc=abc right, ABC~abc right, "x y"~xy right, "abc!"~abc vs "" wrong, broken: right (the
     * file's prediction is used; decoding is not needed to score) -> 4/5. cased: abc right, ABC wrong,
     * "x y" right, "abc!" wrong, broken right -> 3/5. */
    CHECK(!csv_row(csv, "other", "gt", "standard", &n, &acc, &ned, NULL) && n == 5);
    CHECK_NEAR(acc, 0.8, 1e-9);
    CHECK(!csv_row(csv, "other", "gt", "cased", &n, &acc, &ned, NULL) && n == 5);
    CHECK_NEAR(acc, 0.6, 1e-9);
    char *pred = slurp("%s/out/predictions-other-gt.tsv", T);
    CHECK(count_lines(pred) == 5);
    CHECK(pred && strstr(pred, "images/c3.png\tabc!\t\t\twrong\twrong\n"));
    struct stat st;
    snprintf(path, sizeof path, "%s/out/errors-other-gt.png", T);
    CHECK(stat(path, &st) == 0);
    free(pred);
    free(csv);
}

static void test_speed(const char *model) {
    CHECK(sh("'%s/icstr' bench speed --data '%s/synth.lmdb' --model '%s' --n 4 --warmup 1 --repeat 2 --batch 3 "
             "--threads 1 --out '%s/out' > '%s/speed.txt' 2>/dev/null",
             B, T, model, T, T) == 0);
    char *js = slurp("%s/out/speed-icstr.json", T);
    CHECK(js != NULL);
    const char *keys[] = {"\"crops\": 4,", "\"ms_median_1t\": ", "\"ms_p95_1t\": ", "\"crops_per_s\": ",
                          "\"peak_rss_mib\": ", "\"gflop_per_crop\": ", "\"sgemm_gflops_1t\": ", "\"efficiency_1t\": "};
    for (size_t k = 0; js && k < sizeof keys / sizeof *keys; k++) {
        const char *p = strstr(js, keys[k]);
        CHECK_MSG(p != NULL, "%s", keys[k]);
        if (p && k) CHECK_MSG(atof(p + strlen(keys[k])) > 0, "%s", keys[k]);
    }
    const char *a = js ? strstr(js, "\"ms_median_1t\": ") : NULL, *b = js ? strstr(js, "\"ms_p95_1t\": ") : NULL;
    if (a && b) CHECK(atof(a + 16) <= atof(b + 13));
    CHECK_MSG(js && strstr(js, "\"blas_kernels\": \"") && !strstr(js, "\"blas_kernels\": \"\""),
              "speed names OpenBLAS's kernels");
    free(js);
    char *csv = slurp("%s/out/speed-icstr.csv", T);
    CHECK(count_lines(csv) == 2);
    free(csv);

    /* in context: the same timings again with prompts from a pool of the 8 synthetic crops */
    CHECK(sh("'%s/icstr' pool create '%s/speed-pool' --model '%s' > /dev/null && "
             "'%s/icstr' pool add '%s/speed-pool' --data '%s/synth.lmdb' > /dev/null 2>&1",
             B, T, model, B, T, T) == 0);
    CHECK(sh("'%s/icstr' bench speed --data '%s/synth.lmdb' --model '%s' --pool '%s/speed-pool' --shots 1 --n 4 "
             "--warmup 1 --repeat 2 --batch 3 --threads 1 --no-sgemm --out '%s/out-pool' > '%s/speed-pool.txt' "
             "2>/dev/null",
             B, T, model, T, T, T) == 0);
    js = slurp("%s/out-pool/speed-icstr.json", T);
    CHECK(js && strstr(js, "\"pool_records\": 8, \"shots\": 1,"));
    CHECK(js && strstr(js, "\"view\": \"full\", \"views\": 1}"));
    const char *ctx_keys[] = {"\"context_ms_median_1t\": ", "\"context_crops_per_s\": ", "\"context_cost_ratio\": "};
    for (size_t k = 0; js && k < sizeof ctx_keys / sizeof *ctx_keys; k++) {
        const char *p = strstr(js, ctx_keys[k]);
        CHECK_MSG(p && atof(p + strlen(ctx_keys[k])) > 0, "%s", ctx_keys[k]);
    }
    free(js);
    char *txt = slurp("%s/speed-pool.txt", T);
    CHECK(txt && strstr(txt, "in-context        1 shots from a pool of 8 records") && strstr(txt, "view full (1 views read)"));
    free(txt);
}

static void test_peers(void) {
    /* const: "abc" for every crop in 1.5 ms; size: the PPM's "W H" line, proving the peer got the
     * decoded pixels' true size; silent: answers nothing; broken: fails. */
    char peers[8192];
    snprintf(peers, sizeof peers,
             "--peer 'const=while read p; do printf \"%%s\\tabc\\t1.5\\n\" \"$p\"; done' "
             "--peer 'size=while read p; do printf \"%%s\\t%%s\\t2\\n\" \"$p\" \"$(sed -n 2p \"$p\")\"; done' "
             "--peer 'silent=cat > /dev/null' --peer 'broken=exit 3'");
    int rc = sh("mkdir -p '%s/tmp' && TMPDIR='%s/tmp' '%s/icstr' bench peers --data '%s/gt' %s --out '%s/out' "
                "> '%s/peers.txt' 2>'%s/peers.err'",
                T, T, B, T, peers, T, T, T);
    CHECK(rc == 1); /* one peer failed: the others still ran */
    char *csv = slurp("%s/out/results-const.csv", T);
    long n;
    double acc, ned, ms;
    /* standard: abc, ABC, abc! right; "x y" wrong; the broken file unreadable (empty) -> 3/5.
     * cased: only "abc" right -> 1/5. */
    CHECK(!csv_row(csv, "const", "gt", "standard", &n, &acc, &ned, &ms) && n == 5);
    CHECK_NEAR(acc, 0.6, 1e-9);
    CHECK_NEAR(ms, 1.5, 1e-9);
    CHECK(!csv_row(csv, "const", "gt", "cased", &n, &acc, &ned, NULL) && n == 5);
    CHECK_NEAR(acc, 0.2, 1e-9);
    CHECK(csv && strstr(csv, "const,gt,standard,5,0,1,0.6000,"));
    free(csv);
    char *pred = slurp("%s/out/predictions-size-gt.tsv", T);
    char want[64];
    for (int i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "\t%s\t%d %d\t2.000\t", gt_labels[i], gt_w[i], gt_h[i]);
        CHECK_MSG(pred && strstr(pred, want), "%s", want);
    }
    CHECK(pred && strstr(pred, "broken.png\tabc\t\t-1.000\twrong\twrong\n"));
    free(pred);
    csv = slurp("%s/out/results-silent.csv", T);
    CHECK(!csv_row(csv, "silent", "gt", "standard", &n, &acc, &ned, &ms) && n == 5 && acc == 0 && ms < 0);
    free(csv);
    csv = slurp("%s/out/results-broken.csv", T);
    CHECK(count_lines(csv) == 1); /* header only */
    free(csv);
    char *err = slurp("%s/peers.err", T);
    CHECK(err && strstr(err, "peer broken failed"));
    free(err);
    /* a set that cannot be read fails the run and leaves nothing behind either */
    CHECK(sh("TMPDIR='%s/tmp' '%s/icstr' bench peers --data '%s/missing' --peer 'c=cat' --out '%s/out2' "
             "> /dev/null 2>&1",
             T, B, T, T) == 1);
    /* the exported crops are cleaned up */
    CHECK(sh("rmdir '%s/tmp'", T) == 0);
}

static void test_report(void) {
    char path[8192];
    snprintf(path, sizeof path, "%s/pool.csv", T);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("pool_size,shots,accuracy\n0,0,0.40\n10,2,0.55\n100,2,0.70\n", f);
        fclose(f);
    }
    CHECK(sh("'%s/icstr' bench report '%s/out' --pool '%s' > /dev/null 2>&1", B, T, path) == 0);
    char *md = slurp("%s/out/report.md", T);
    CHECK(md && strstr(md, "| const | 1.50 |"));
    CHECK(md && strstr(md, " 0.600 (")); /* const's standard accuracy on gt */
    CHECK(md && strstr(md, "### Speed"));
    CHECK(md && strstr(md, "pool_curve.svg"));
    free(md);
    const char *svgs[] = {"accuracy_vs_ms-standard.svg", "accuracy_vs_ms-cased.svg", "pool_curve.svg"};
    for (int i = 0; i < 3; i++) {
        char *s = slurp("%s/out/%s", T, svgs[i]);
        CHECK_MSG(s && !strncmp(s, "<svg ", 5) && strstr(s, "</svg>\n"), "%s", svgs[i]);
        if (i < 2) CHECK(s && strstr(s, ">const 0.")); /* the peer's point is labelled */
        free(s);
    }
    char *csv = slurp("%s/out/report.csv", T);
    CHECK(csv && strstr(csv, ",ms_1t\n") &&
          strstr(csv, "const,gt,standard,5,0,1,0.6000,0.6000,1.5000,1.5000,1.5000,1,1,1.5000"));
    free(csv);
}

/* OpenBLAS's kernels (icstr_tune_runtime): icstr names the kernels for a CPU OpenBLAS does not
 * know. This test program does not (it reads OpenBLAS's own choice); where that choice is the
 * generic Prescott and the CPU has AVX2 and FMA, `icstr selfcheck` must report other kernels.
 * Kernels the user names stay named. */
static void test_kernels(void) {
    CHECK(sh("env -u OPENBLAS_CORETYPE '%s/icstr' selfcheck > '%s/selfcheck.txt' 2>&1", B, T) == 0);
    char *out = slurp("%s/selfcheck.txt", T);
    const char *k = out ? strstr(out, "(kernels: ") : NULL;
    CHECK_MSG(k != NULL, "selfcheck names OpenBLAS's kernels");
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k && avx2 && !getenv("OPENBLAS_CORETYPE") && !strcmp(icstr_blas_kernels(), "Prescott"))
        CHECK_MSG(strncmp(k, "(kernels: Prescott", 18) != 0, "icstr kept the generic kernels on an AVX2 CPU");
    free(out);
    if (avx2) {
        CHECK(sh("OPENBLAS_CORETYPE=Haswell '%s/icstr' selfcheck > '%s/selfcheck.txt' 2>&1", B, T) == 0);
        out = slurp("%s/selfcheck.txt", T);
        CHECK(out && strstr(out, "(kernels: Haswell, named by OPENBLAS_CORETYPE)"));
        free(out);
    }
}

static void test_usage(void) {
    CHECK(sh("'%s/icstr' bench > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench --help > /dev/null 2>&1", B) == 0);
    CHECK(sh("'%s/icstr' bench nonsense > /dev/null 2>&1", B) == 2);
    const char *subs[] = {"accuracy", "speed", "peers", "report"};
    for (int i = 0; i < 4; i++) CHECK(sh("'%s/icstr' bench %s --help | grep -q usage", B, subs[i]) == 0);
    CHECK(sh("'%s/icstr' bench accuracy > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench accuracy --data x --limit 0 > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench peers --data x > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench peers --data x --peer 'a,b=cat' > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench speed --data x --n 0 > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench speed --data x --shots 2 > /dev/null 2>&1", B) == 2);
    CHECK(sh("'%s/icstr' bench accuracy --data '%s/gt' --model '%s/none.safetensors' --out '%s/o2' > /dev/null 2>&1", B,
             T, T, T) == 1);
    CHECK(sh("'%s/icstr' bench report '%s/empty-dir-missing' > /dev/null 2>&1", B, T) == 1);
}

int main(void) {
    test_util();
    const char *b = getenv("ICSTR_BUILD_DIR");
    snprintf(B, sizeof B, "%s", b && *b ? b : ".");
    snprintf(T, sizeof T, "%s/icstr-test-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(T)) {
        perror("mkdtemp");
        return 1;
    }
    char model[8192];
    snprintf(model, sizeof model, "%s/tiny/model.safetensors", T);
    int ok = sh("'%s/icstr' data synth --n 8 --seed 5 --threads 1 --out '%s/synth.lmdb' > /dev/null 2>&1", B, T) == 0 &&
             sh("'%s/icstr' train --config '%s/configs/tiny.yaml' --steps-now 2 --threads 1 --out '%s/tiny' "
                "> /dev/null 2>&1",
                B, ICSTR_SOURCE_DIR, T) == 0;
    char gt[4200];
    snprintf(gt, sizeof gt, "%s/gt", T);
    CHECK_MSG(ok, "fixtures: icstr data synth / icstr train in %s", B);
    CHECK(make_gt_set(gt) == 0);
    if (ok) {
        test_accuracy(model);
        test_predictions_in();
        test_speed(model);
        test_peers();
        test_report();
        test_usage();
        test_kernels();
    }
    if (sh("rm -rf '%s'", T)) fprintf(stderr, "could not remove %s\n", T);
    return check_finish("test_bench");
}
