/* `icstr recognize`: reads crops and prints path, text and confidence per crop. A crop that
 * cannot be read is reported by name with its reason and the others still go through; the exit
 * code is 1 when any crop failed. */
#include "cli.h"
#include "cli_args.h"
#include "crop_batch.h"
#include "icstr_core.h"
#include "json.h"
#include "model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr recognize [--model M] [--json] [--beam K] [--batch N] [--threads N]\n"
    "                       [--pool P " ICSTR_CLI_POOL_READING_USAGE "]\n"
    "                       " ICSTR_CLI_SPLIT_USAGE " " ICSTR_CLI_CTC_USAGE " INPUT...\n"
    "\n"
    "Recognizes the text of cropped word images. INPUT is an image file, a folder of images,\n"
    "a folder with a gt.txt, an STR LMDB (a folder holding data.mdb), or - for image paths on\n"
    "standard input, one per line.\n"
    "\n"
    "  --model M            model file (default: $ICSTR_MODEL or " ICSTR_DEFAULT_MODEL ")\n"
    "  --pool P             in-context: put each crop's most similar labelled crops from the prompt\n"
    "                       pool P (icstr pool) in front of it, the most similar nearest\n"
    ICSTR_CLI_POOL_READING_HELP
    ICSTR_CLI_SPLIT_HELP
    ICSTR_CLI_CTC_HELP
    "  --json               one JSON object per crop: {\"path\", \"text\", \"confidence\"} or\n"
    "                       {\"path\", \"error\"}; with --pool also \"prompts\": [{\"id\", \"similarity\"}...],\n"
    "                       the most similar first, \"trusted\": true where the crop was read with\n"
    "                       its near-copy alone (--trust-similarity), and \"kept_plain\": true where\n"
    "                       the reading without prompts won (not with --no-compare-plain); \"pieces\": N for a long line\n"
    "                       whose reading is that of its N pieces (--split-aspect)\n"
    "  --beam K             beam search with K beams (default 1: greedy)\n"
    "  --batch N            crops recognized together (default 64)\n"
    "  --threads N          threads (default: all cores)\n"
    "\n"
    "Output (default): PATH<TAB>TEXT<TAB>CONFIDENCE per crop, in input order. Crops that cannot\n"
    "be read are reported on stderr with the reason; the exit code is then 1. Images that decode but\n"
    "are no text crop are among them: a side under 4 pixels, or over 100 times as long as high.\n";

_Static_assert(ICSTR_CROP_MIN_SIDE == 4 && ICSTR_CROP_MAX_ASPECT == 100, "the help text names the crop limits");

/* The prompts crop k was read with, as JSON: the most similar first (the context holds them
 * the other way round); for a line read in pieces, each piece's in turn. */
static void print_prompts(const icstr_crop_batch *cb, int k) {
    const icstr_pool_prompts *pp = &cb->prompts;
    int count, first = icstr_crop_batch_inputs_of(cb, k, &count), kept_plain = 0, printed = 0;
    printf(", \"prompts\": [");
    for (int q = first; q < first + count; q++) {
        for (int j = pp->ctx[q].n_prompts - 1; j >= 0; j--) {
            size_t at = (size_t)q * pp->shots + j;
            printf("%s{\"id\": %llu, \"similarity\": %.6f}", printed++ ? ", " : "", (unsigned long long)pp->ids[at],
                   (double)pp->scores[at]);
        }
        if (cb->reading.compare_plain) kept_plain |= cb->kept_plain[q];
    }
    printf("], \"trusted\": %s", icstr_crop_batch_trusted(cb, k) ? "true" : "false");
    if (cb->reading.compare_plain) printf(", \"kept_plain\": %s", kept_plain ? "true" : "false");
}

int icstr_cmd_recognize(int argc, char **argv) {
    const char *model_path = icstr_model_default_path();
    const char *pool_path = NULL;
    int json = 0, batch = 64, threads = 0, reading_given = 0, got;
    icstr_pool_reading reading = icstr_pool_reading_default();
    icstr_line_split_params split = icstr_line_split_default_params();
    icstr_decode_params dp = icstr_decode_default_params();
    dp.ctc_weight = -1.0f; /* not given: icstr_cli_check_reading resolves it */
    char **inputs = calloc((size_t)argc, sizeof(char *));
    int n_inputs = 0;
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--model") && more) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--pool") && more) {
            pool_path = argv[++i];
        } else if ((got = icstr_cli_pool_reading("icstr recognize", argc, argv, &i, &reading, &reading_given))) {
            if (got == 2) {
                free(inputs);
                return 2;
            }
        } else if ((got = icstr_cli_line_split("icstr recognize", argc, argv, &i, &split))) {
            if (got == 2) {
                free(inputs);
                return 2;
            }
        } else if ((got = icstr_cli_ctc_weight("icstr recognize", argc, argv, &i, &dp))) {
            if (got == 2) {
                free(inputs);
                return 2;
            }
        } else if ((!strcmp(a, "--beam") || !strcmp(a, "--batch") || !strcmp(a, "--threads")) && more) {
            long v, lo = strcmp(a, "--threads") ? 1 : 0;
            long hi = !strcmp(a, "--beam") ? 64 : !strcmp(a, "--batch") ? 4096 : 1024;
            if (icstr_cli_long("icstr recognize", a, argv[++i], lo, hi, &v)) {
                free(inputs);
                return 2;
            }
            if (!strcmp(a, "--beam")) dp.beam = (int)v;
            else if (!strcmp(a, "--batch")) batch = (int)v;
            else threads = (int)v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "icstr recognize: unknown option '%s'\n\n%s", a, usage);
            free(inputs);
            return 2;
        } else {
            inputs[n_inputs++] = argv[i];
        }
    }
    if (reading_given && !pool_path) {
        fprintf(stderr, "icstr recognize: " ICSTR_CLI_POOL_READING_NEED_POOL);
        free(inputs);
        return 2;
    }
    if (icstr_cli_check_reading("icstr recognize", &reading, &dp)) {
        free(inputs);
        return 2;
    }
    if (!n_inputs) {
        fprintf(stderr, "icstr recognize: no INPUT given\n\n%s", usage);
        free(inputs);
        return 2;
    }
    icstr_set_threads(threads);
    double t0 = icstr_now_seconds();
    icstr_model *m = NULL;
    icstr_inputs *in = NULL;
    icstr_crop_batch cb = {0};
    icstr_pool *pool = NULL;
    int rc = icstr_model_load(model_path, 0, &m);
    if (rc) {
        fprintf(stderr, "icstr recognize: cannot load the model: %s\n", icstr_last_error());
        free(inputs);
        return 1;
    }
    ICSTR_DEBUG("model %s loaded in %.1f ms", model_path, 1e3 * (icstr_now_seconds() - t0));
    const icstr_model_config *mc = icstr_model_get_config(m);
    long done = 0, failed = 0;
    if ((rc = icstr_inputs_open(inputs, n_inputs, &in)) || (rc = icstr_crop_batch_init(&cb, batch, mc->img_h, mc->img_w)) ||
        (rc = icstr_crop_batch_set_split(&cb, &split)))
        goto out;
    if (pool_path && ((rc = icstr_pool_open(pool_path, m, ICSTR_POOL_RDONLY, &pool)) ||
                      (rc = icstr_crop_batch_set_pool(&cb, pool, &reading))))
        goto out;
    int n;
    while ((n = icstr_crop_batch_read(&cb, in)) > 0) {
        if ((rc = icstr_crop_batch_recognize(&cb, m, &dp))) goto out;
        for (int i = 0; i < cb.n; i++) {
            int k = cb.ok_index[i];
            if (k < 0) {
                failed++;
                fprintf(stderr, "icstr recognize: %s\n", cb.reasons[i] ? cb.reasons[i] : cb.names[i]);
                if (json) {
                    printf("{\"path\": ");
                    icstr_json_fprint_string(stdout, cb.names[i]);
                    printf(", \"error\": ");
                    icstr_json_fprint_string(stdout, cb.reasons[i] ? cb.reasons[i] : "unreadable");
                    printf("}\n");
                }
                continue;
            }
            done++;
            if (json) {
                printf("{\"path\": ");
                icstr_json_fprint_string(stdout, cb.names[i]);
                printf(", \"text\": ");
                icstr_json_fprint_string(stdout, cb.texts[k]);
                printf(", \"confidence\": %.4f", (double)cb.confidence[k]);
                int pieces;
                icstr_crop_batch_inputs_of(&cb, k, &pieces);
                if (pieces > 1) printf(", \"pieces\": %d", pieces);
                if (pool) print_prompts(&cb, k);
                printf("}\n");
            } else {
                printf("%s\t%s\t%.4f\n", cb.names[i], cb.texts[k], (double)cb.confidence[k]);
            }
        }
        fflush(stdout);
    }
    if (n < 0) rc = n;
out:
    if (rc) fprintf(stderr, "icstr recognize: %s\n", icstr_last_error());
    if (failed) fprintf(stderr, "icstr recognize: %ld of %ld crops could not be read\n", failed, done + failed);
    icstr_crop_batch_free(&cb);
    icstr_pool_close(pool);
    icstr_inputs_close(in);
    icstr_model_free(m);
    free(inputs);
    return rc || failed ? 1 : 0;
}
