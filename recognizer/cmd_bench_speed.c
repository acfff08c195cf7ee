/* `icstr bench speed`: how fast the model reads crops on this machine. Latency is per crop on
 * one thread with batches of one (what a user waiting for one word sees); throughput is batched
 * on all threads. Both time decoded RGB in -> text out (preprocessing + encoder + greedy
 * decoding), not file reading or image decoding. FLOPs per crop against a large single-thread
 * cblas_sgemm measured here give the share of the machine's peak the model reaches. */
#include "bench_util.h"
#include "cli_args.h"
#include "cmd_bench.h"
#include "crop_batch.h"
#include "icstr_core.h"
#include "inputs.h"
#include "json.h"
#include "model_io.h"

#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *usage =
    "usage: icstr bench speed --data PATH [--model M] [--n N] [--warmup W] [--repeat R] [--batch B]\n"
    "                         [--threads T] [--out DIR] [--name NAME] [--no-sgemm]\n"
    "                         [--pool P " ICSTR_CLI_POOL_READING_USAGE " " ICSTR_CLI_CTC_USAGE "]\n"
    "\n"
    "Times the model on the first N crops of PATH (any input icstr recognize takes), greedy\n"
    "decoding, decoded RGB in -> text out:\n"
    "  load          milliseconds to load the model file\n"
    "  latency       ms per crop on ONE thread, batches of one: median, p95 and mean over\n"
    "                R passes over the N crops, after W warm-up crops\n"
    "  throughput    crops per second on T threads in batches of B (median of R passes)\n"
    "  memory        peak resident set size of the process (getrusage)\n"
    "  FLOPs         per crop (forward pass, a label of max_label characters), and the efficiency:\n"
    "                achieved FLOP/s over the FLOP/s of a 1536^3 cblas_sgemm on one thread (times\n"
    "                T for throughput); the count assumes a label of max_label characters, so on\n"
    "                shorter words the efficiency is somewhat over-stated\n"
    "With --pool, the same latency and throughput again with each crop decoded in context: its N\n"
    "most similar records of pool P retrieved (one matrix-vector product per query) and put in\n"
    "front of it (as icstr recognize --pool reads them, with the same options); the ratio of the\n"
    "in-context median latency to the plain one is printed.\n"
    "Prints a table and writes DIR/speed-NAME.json and DIR/speed-NAME.csv.\n"
    "\n"
    "  --model M            model file (default: $ICSTR_MODEL or " ICSTR_DEFAULT_MODEL ")\n"
    "  --pool P             also time in-context recognition with prompts from pool P\n"
    ICSTR_CLI_POOL_READING_HELP
    "  --n N                crops (default 200)\n"
    "  --warmup W           untimed crops first (default 20)\n"
    "  --repeat R           passes (default 3)\n"
    "  --batch B            throughput batch (default 64)\n"
    "  --threads T          throughput threads (default: all cores)\n"
    "  --out DIR            results folder (default " ICSTR_BENCH_DEFAULT_OUT ")\n"
    "  --name NAME          system name (default icstr)\n"
    "  --no-sgemm           skip the sgemm peak measurement (efficiency not reported)\n"
    "\n"
    "Other work on the machine slows every number down: the load average is reported with them.\n"
    "The matrix products are bf16 where the CPU has AVX512_BF16, else fp32; ICSTR_PRECISION=fp32\n"
    "or bf16 chooses (icstr --help).\n";

typedef struct {
    double ms_median, ms_p95, ms_mean, crops_per_s;
} speed_numbers;

typedef struct {
    double load_ms, rss_mib, gflop, sgemm_gflops, eff_1t, eff_all, loadavg;
    speed_numbers plain, context; /* context: with --pool only */
    long crops, pool_records;
    int threads, batch, shots, compare_plain, lexicon, knn, glyphs, lm, views; /* views: the crop batch's (1 + alternates) */
    char view[ICSTR_VIEW_TEXT];
    float ctc_weight;
    float min_similarity;
} speed_result;

static double sgemm_peak_gflops(void) {
    const int n = 1536;
    float *a = icstr_alloc((size_t)n * n, sizeof(float));
    float *b = icstr_alloc((size_t)n * n, sizeof(float));
    float *c = icstr_alloc((size_t)n * n, sizeof(float));
    double best = 0.0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) {
            a[i] = (float)(i % 7) * 0.125f - 0.375f;
            b[i] = (float)(i % 5) * 0.25f - 0.5f;
        }
        for (int r = 0; r < 4; r++) {
            double t0 = icstr_now_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double t = icstr_now_seconds() - t0;
            double g = 2.0 * n * (double)n * n / t * 1e-9;
            if (r > 0 && g > best) best = g; /* the first call pays for OpenBLAS's buffers */
        }
    }
    icstr_free(a);
    icstr_free(b);
    icstr_free(c);
    return best;
}

/* The first n decodable crops of data (fewer if the data has fewer). */
static int load_crops(const char *data, long n, icstr_image **out, long *got) {
    icstr_image *imgs = calloc((size_t)n, sizeof *imgs);
    if (!imgs) return icstr_fail(ICSTR_ERR_NOMEM, "%ld crops", n);
    icstr_inputs *in = NULL;
    char *args[1] = {(char *)data};
    long k = 0;
    int rc = icstr_inputs_open(args, 1, &in);
    icstr_input_item item;
    while (!rc && k < n && (rc = icstr_inputs_next(in, &item)) > 0) {
        rc = ICSTR_OK;
        if (item.error) {
            fprintf(stderr, "icstr bench speed: %s\n", item.reason);
            continue;
        }
        if (icstr_image_load_memory(item.bytes, item.len, item.name, &imgs[k])) {
            fprintf(stderr, "icstr bench speed: %s\n", icstr_last_error());
            continue;
        }
        k++;
    }
    icstr_inputs_close(in);
    if (rc < 0 || !k) {
        for (long i = 0; i < k; i++) icstr_image_free(&imgs[i]);
        free(imgs);
        return rc < 0 ? rc : icstr_fail(ICSTR_ERR_NOTFOUND, "%s: no crop could be decoded", data);
    }
    *out = imgs;
    *got = k;
    return ICSTR_OK;
}

/* Puts crops [s, s + n) of imgs straight into the batch's model inputs, as decoded crops (cut to
 * the pool's view and its alternates, as icstr_crop_batch_read does). */
static int fill_batch(icstr_crop_batch *cb, const icstr_image *imgs, long s, int n) {
    for (int i = 0; i < n; i++) {
        int rc = icstr_crop_batch_put(cb, &imgs[s + i], i);
        if (rc) return rc;
    }
    cb->n_ok = n;
    return ICSTR_OK;
}

/* One pass over the crops in batches of `batch`, preprocessing + recognition timed per batch
 * into ms (may be NULL); *total_s the whole pass. */
static int timed_pass(icstr_crop_batch *cb, icstr_model *m, const icstr_decode_params *dp, const icstr_image *imgs,
                      long got, int batch, double *ms, double *total_s) {
    double t_pass = icstr_now_seconds();
    for (long s = 0, k = 0; s < got; s += batch, k++) {
        int nb = (int)(got - s < batch ? got - s : batch), rc;
        double t = icstr_now_seconds();
        if ((rc = fill_batch(cb, imgs, s, nb)) || (rc = icstr_crop_batch_recognize(cb, m, dp))) return rc;
        if (ms) ms[k] = 1e3 * (icstr_now_seconds() - t);
    }
    *total_s = icstr_now_seconds() - t_pass;
    return ICSTR_OK;
}

/* Latency (one thread, batches of one) and throughput (T threads, batches of B) of the model
 * with the batch's current pool setting. lat holds got * repeat doubles. */
static int measure(icstr_crop_batch *cb, icstr_model *m, const icstr_decode_params *dp, const icstr_image *imgs, long got,
                   long warmup, long repeat, long threads, double *lat, speed_numbers *out) {
    double t;
    int rc;
    icstr_set_threads(1);
    for (long w = 0; w < warmup; w += got)
        if ((rc = timed_pass(cb, m, dp, imgs, warmup - w < got ? warmup - w : got, 1, NULL, &t))) return rc;
    double sum = 0.0;
    for (long p = 0; p < repeat; p++) {
        if ((rc = timed_pass(cb, m, dp, imgs, got, 1, lat + p * got, &t))) return rc;
        sum += t;
    }
    size_t nl = (size_t)(got * repeat);
    out->ms_mean = 1e3 * sum / (double)nl;
    out->ms_p95 = icstr_bench_quantile(lat, nl, 0.95);
    out->ms_median = icstr_bench_quantile(lat, nl, 0.5);

    icstr_set_threads((int)threads);
    double pass[64];
    long np = repeat < 64 ? repeat : 64;
    for (long p = -1; p < np; p++) { /* pass -1 warms the threads and the batch-sized buffers up */
        if ((rc = timed_pass(cb, m, dp, imgs, got, cb->cap, NULL, &t))) return rc;
        if (p >= 0) pass[p] = t;
    }
    out->crops_per_s = (double)got / icstr_bench_quantile(pass, (size_t)np, 0.5);
    return ICSTR_OK;
}

static int run(const char *model_path, const char *data, const char *pool_path, const icstr_pool_reading *reading,
               const icstr_decode_params *pool_dp, long n, long warmup, long repeat, long batch, long threads, int sgemm,
               speed_result *r) {
    icstr_decode_params plain_dp = icstr_decode_default_params();
    icstr_image *imgs = NULL;
    long got = 0;
    icstr_model *m = NULL;
    icstr_pool *pool = NULL;
    icstr_crop_batch cb;
    memset(&cb, 0, sizeof cb);
    double *lat = NULL;
    int rc = load_crops(data, n, &imgs, &got);
    if (rc) return rc;
    r->crops = got;
    double t0 = icstr_now_seconds();
    if ((rc = icstr_model_load(model_path, 0, &m))) {
        icstr_fail_context(rc, "cannot load the model");
        goto out;
    }
    r->load_ms = 1e3 * (icstr_now_seconds() - t0);
    const icstr_model_config *mc = icstr_model_get_config(m);
    double fwd = 0.0;
    if ((rc = icstr_model_flops(mc, &fwd, NULL))) goto out;
    r->gflop = fwd * 1e-9;
    if (pool_path && (rc = icstr_pool_open(pool_path, m, ICSTR_POOL_RDONLY, &pool))) goto out;
    if ((rc = icstr_crop_batch_init(&cb, (int)batch, mc->img_h, mc->img_w))) goto out;
    if (!(lat = calloc((size_t)(got * repeat), sizeof *lat))) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "speed buffers");
        goto out;
    }
    icstr_set_threads(1);
    r->sgemm_gflops = sgemm ? sgemm_peak_gflops() : 0.0;
    if ((rc = measure(&cb, m, &plain_dp, imgs, got, warmup, repeat, threads, lat, &r->plain))) goto out;
    if (pool) {
        r->pool_records = icstr_pool_search_count(pool);
        if ((rc = icstr_crop_batch_set_pool(&cb, pool, reading)) ||
            (rc = measure(&cb, m, pool_dp, imgs, got, warmup, repeat, threads, lat, &r->context)))
            goto out;
        r->shots = reading->shots;
        r->compare_plain = reading->compare_plain;
        r->lexicon = reading->lexicon;
        r->knn = reading->knn;
        r->glyphs = reading->glyphs;
        r->lm = reading->lm;
        r->views = 1 + cb.n_alt;
        icstr_view_format(&cb.view, r->view);
        r->ctc_weight = pool_dp->ctc_weight;
        r->min_similarity = reading->min_similarity;
    }
    r->threads = icstr_get_threads();
    r->batch = (int)batch;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->rss_mib = (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
    double la[1] = {0.0};
    r->loadavg = getloadavg(la, 1) == 1 ? la[0] : -1.0;
    if (r->sgemm_gflops > 0) {
        r->eff_1t = fwd / (r->plain.ms_median * 1e-3) * 1e-9 / r->sgemm_gflops;
        r->eff_all = fwd * r->plain.crops_per_s * 1e-9 / (r->sgemm_gflops * r->threads);
    }
out:
    free(lat);
    icstr_crop_batch_free(&cb);
    icstr_pool_close(pool);
    icstr_model_free(m);
    for (long i = 0; i < got; i++) icstr_image_free(&imgs[i]);
    free(imgs);
    return rc;
}

/* the matrix products recognition ran with (ICSTR_PRECISION, see icstr --help) */
static const char *precision(void) {
    if (!icstr_ops_get_bf16()) return "fp32";
    return !strcmp(icstr_ops_bf16_path(), "emulated") ? "bf16 (emulated)" : "bf16";
}

static int write_outputs(const char *out_dir, const char *name, const char *model_path, const char *data,
                         const speed_result *r) {
    char path[4200];
    snprintf(path, sizeof path, "%s/speed-%s.json", out_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "{\"system\": \"%s\", \"model\": ", name);
    icstr_json_fprint_string(f, model_path);
    fprintf(f, ", \"data\": ");
    icstr_json_fprint_string(f, data);
    fprintf(f,
            ", \"crops\": %ld, \"load_ms\": %.3f, \"ms_median_1t\": %.4f, \"ms_p95_1t\": %.4f, "
            "\"ms_mean_1t\": %.4f, \"crops_per_s\": %.2f, \"threads\": %d, \"batch\": %d, "
            "\"peak_rss_mib\": %.1f, \"gflop_per_crop\": %.5f, \"sgemm_gflops_1t\": %.2f, "
            "\"efficiency_1t\": %.4f, \"efficiency_all\": %.4f, \"loadavg\": %.2f, \"precision\": \"%s\", "
            "\"blas_kernels\": \"%s\"",
            r->crops, r->load_ms, r->plain.ms_median, r->plain.ms_p95, r->plain.ms_mean, r->plain.crops_per_s,
            r->threads, r->batch, r->rss_mib, r->gflop, r->sgemm_gflops, r->eff_1t, r->eff_all, r->loadavg,
            precision(), icstr_blas_kernels());
    if (r->shots)
        fprintf(f,
                ", \"pool_records\": %ld, \"shots\": %d, \"context_ms_median_1t\": %.4f, "
                "\"context_ms_p95_1t\": %.4f, \"context_ms_mean_1t\": %.4f, \"context_crops_per_s\": %.2f, "
                "\"context_cost_ratio\": %.3f, \"min_similarity\": %.6f, \"compare_plain\": %s, "
                "\"lexicon\": %s, \"knn\": %s, \"glyphs\": %s, \"lm\": %s, \"ctc_weight\": %.3f, \"view\": \"%s\", "
                "\"views\": %d",
                r->pool_records, r->shots, r->context.ms_median, r->context.ms_p95, r->context.ms_mean,
                r->context.crops_per_s, r->context.ms_median / r->plain.ms_median, (double)r->min_similarity,
                r->compare_plain ? "true" : "false", r->lexicon ? "true" : "false", r->knn ? "true" : "false",
                r->glyphs ? "true" : "false", r->lm ? "true" : "false", (double)r->ctc_weight, r->view, r->views);
    fprintf(f, "}\n");
    if (fclose(f)) return icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
    snprintf(path, sizeof path, "%s/speed-%s.csv", out_dir, name);
    if (!(f = fopen(path, "w"))) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "system,crops,load_ms,ms_median_1t,ms_p95_1t,ms_mean_1t,crops_per_s,threads,batch,peak_rss_mib,"
               "gflop_per_crop,sgemm_gflops_1t,efficiency_1t,efficiency_all,loadavg\n");
    fprintf(f, "%s,%ld,%.3f,%.4f,%.4f,%.4f,%.2f,%d,%d,%.1f,%.5f,%.2f,%.4f,%.4f,%.2f\n", name, r->crops, r->load_ms,
            r->plain.ms_median, r->plain.ms_p95, r->plain.ms_mean, r->plain.crops_per_s, r->threads, r->batch,
            r->rss_mib, r->gflop, r->sgemm_gflops, r->eff_1t, r->eff_all, r->loadavg);
    if (fclose(f)) return icstr_fail(ICSTR_ERR_IO, "%s: write failed", path);
    return ICSTR_OK;
}

int icstr_bench_speed(int argc, char **argv) {
    const char *model_path = icstr_model_default_path(), *data = NULL, *out_dir = ICSTR_BENCH_DEFAULT_OUT;
    const char *name = "icstr", *pool_path = NULL;
    long n = 200, warmup = 20, repeat = 3, batch = 64, threads = 0;
    int sgemm = 1, reading_given = 0, got;
    icstr_pool_reading reading = icstr_pool_reading_default();
    icstr_decode_params dp = icstr_decode_default_params(); /* the in-context pass's */
    dp.ctc_weight = -1.0f; /* not given: icstr_cli_check_reading resolves it */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--no-sgemm")) {
            sgemm = 0;
        } else if (!strcmp(a, "--data") && more) {
            data = argv[++i];
        } else if (!strcmp(a, "--model") && more) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--pool") && more) {
            pool_path = argv[++i];
        } else if ((got = icstr_cli_pool_reading("icstr bench speed", argc, argv, &i, &reading, &reading_given))) {
            bad = got == 2;
        } else if ((got = icstr_cli_ctc_weight("icstr bench speed", argc, argv, &i, &dp))) {
            bad = got == 2;
        } else if (!strcmp(a, "--out") && more) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--name") && more) {
            name = argv[++i];
            if (!icstr_bench_name_ok(name)) {
                fprintf(stderr, "icstr bench speed: --name wants [A-Za-z0-9._+-], got '%s'\n", name);
                bad = 2;
            }
        } else if (!strcmp(a, "--n") && more) {
            bad = icstr_cli_long("icstr bench speed", a, argv[++i], 1, 1000000, &n);
        } else if (!strcmp(a, "--warmup") && more) {
            bad = icstr_cli_long("icstr bench speed", a, argv[++i], 0, 1000000, &warmup);
        } else if (!strcmp(a, "--repeat") && more) {
            bad = icstr_cli_long("icstr bench speed", a, argv[++i], 1, 64, &repeat);
        } else if (!strcmp(a, "--batch") && more) {
            bad = icstr_cli_long("icstr bench speed", a, argv[++i], 1, 4096, &batch);
        } else if (!strcmp(a, "--threads") && more) {
            bad = icstr_cli_long("icstr bench speed", a, argv[++i], 0, 1024, &threads);
        } else {
            fprintf(stderr, "icstr bench speed: unexpected argument '%s'\n\n%s", a, usage);
            bad = 2;
        }
        if (bad) return 2;
    }
    if (!data) {
        fprintf(stderr, "icstr bench speed: --data is required\n\n%s", usage);
        return 2;
    }
    if (reading_given && !pool_path) {
        fprintf(stderr, "icstr bench speed: " ICSTR_CLI_POOL_READING_NEED_POOL);
        return 2;
    }
    if (icstr_cli_check_reading("icstr bench speed", &reading, &dp)) return 2;
    if (dp.ctc_weight > 0.0f && !pool_path) {
        fprintf(stderr, "icstr bench speed: --ctc-weight times the in-context pass: it needs --pool\n");
        return 2;
    }
    if (pool_path && reading.shots < 1) {
        fprintf(stderr, "icstr bench speed: --shots must be at least 1 to time in-context reading\n");
        return 2;
    }
    speed_result r;
    memset(&r, 0, sizeof r);
    int rc = icstr_bench_mkdir_p(out_dir);
    if (!rc) rc = run(model_path, data, pool_path, &reading, &dp, n, warmup, repeat, batch, threads, sgemm, &r);
    if (!rc) rc = write_outputs(out_dir, name, model_path, data, &r);
    if (rc) {
        fprintf(stderr, "icstr bench speed: %s\n", icstr_last_error());
        return 1;
    }
    printf("model             %s\n", model_path);
    printf("crops             %ld from %s\n", r.crops, data);
    printf("precision         %s matrix products (ICSTR_PRECISION), OpenBLAS kernels %s\n", precision(),
           icstr_blas_kernels());
    printf("load              %.1f ms\n", r.load_ms);
    printf("latency, 1 thread %.3f ms median, %.3f ms p95, %.3f ms mean per crop\n", r.plain.ms_median,
           r.plain.ms_p95, r.plain.ms_mean);
    printf("throughput        %.1f crops/s on %d threads, batch %d\n", r.plain.crops_per_s, r.threads, r.batch);
    if (r.shots) {
        printf("in-context        %d shots from a pool of %ld records (%s), view %s (%d views read)%s%s%s%s%s\n", r.shots,
               r.pool_records, pool_path, r.view, r.views,
               r.compare_plain ? ", each also read plain (compare-plain)" : ", no plain comparison (--no-compare-plain)",
               r.lexicon ? ", with the lexicon" : "", r.knn ? ", with the kNN store (--knn)" : "",
               r.glyphs ? ", with the glyph store (--glyphs)" : r.ctc_weight > 0 ? ", the joint reading" : "",
               r.lm ? ", with the character model (--lm)" : "");
        printf("  latency         %.3f ms median, %.3f ms p95, %.3f ms mean per crop: %.2fx plain (medians)\n",
               r.context.ms_median, r.context.ms_p95, r.context.ms_mean, r.context.ms_median / r.plain.ms_median);
        printf("  throughput      %.1f crops/s on %d threads, batch %d\n", r.context.crops_per_s, r.threads, r.batch);
    }
    printf("peak memory       %.1f MiB resident\n", r.rss_mib);
    printf("FLOPs             %.4f GFLOP per crop\n", r.gflop);
    if (r.sgemm_gflops > 0) {
        printf("sgemm peak        %.1f GFLOP/s on 1 thread (1536^3)\n", r.sgemm_gflops);
        printf("efficiency        %.1f%% of peak at 1 thread, %.1f%% on %d threads\n", 100 * r.eff_1t,
               100 * r.eff_all, r.threads);
    }
    printf("load average      %.2f (other work slows these numbers down)\n", r.loadavg);
    return 0;
}
