/* `icstr eval`: accuracy and 1 - NED of a model on a labelled set, under the standard or the
 * case-sensitive protocol, with the mean milliseconds per crop (decode + preprocess + recognize). */
#include "cli.h"
#include "cli_args.h"
#include "crop_batch.h"
#include "eval_loop.h"
#include "icstr_data.h"
#include "json.h"
#include "model_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr eval --data PATH [--model M] [--protocol standard|cased] [--json]\n"
    "                  [--beam K] [--batch N] [--threads N] [--limit N] [--predictions OUT.tsv]\n"
    "                  [--pool P " ICSTR_CLI_POOL_READING_USAGE "]\n"
    "                  [--errors DIR] " ICSTR_CLI_SPLIT_USAGE " " ICSTR_CLI_CTC_USAGE "\n"
    "\n"
    "Scores the model on a labelled set: an STR LMDB or a folder with a gt.txt.\n"
    "\n"
    "  --data PATH          the labelled set (required)\n"
    "  --model M            model file (default: $ICSTR_MODEL or " ICSTR_DEFAULT_MODEL ")\n"
    "  --protocol P         standard (lower-case, [a-z0-9], skip empty or > 25; the default) or\n"
    "                       cased (the 94 printable ASCII characters and space, case-sensitive)\n"
    "  --json               print the summary as one JSON object on the last line of stdout:\n"
    "                       n, skipped, unreadable, accuracy, one_minus_ned, ms_per_crop\n"
    "  --beam K             beam search with K beams (default 1: greedy)\n"
    "  --batch N            crops recognized together (default 64)\n"
    "  --threads N          threads (default: all cores)\n"
    "  --limit N            score only the first N crops\n"
    "  --predictions F      write NAME<TAB>LABEL<TAB>PREDICTION<TAB>CONFIDENCE<TAB>RESULT per crop\n"
    "  --pool P             in-context: decode each crop with its most similar labelled crops from\n"
    "                       the prompt pool P (icstr pool) in front of it, the most similar nearest\n"
    ICSTR_CLI_POOL_READING_HELP
    "  --errors DIR         write the misread crops (original bytes) with their TRUE labels as a\n"
    "                       gt.txt folder: `icstr pool add P --data DIR` then teaches them in context\n"
    ICSTR_CLI_SPLIT_HELP
    ICSTR_CLI_CTC_HELP
    "\n"
    "A crop that cannot be read counts as a wrong (empty) prediction and is reported on stderr.\n";

typedef struct {
    icstr_score *sc;
    FILE *pred;
    const char *data;
    long unreadable;
    icstr_folder_writer *errors; /* NULL unless --errors */
} eval_ctx;

static int eval_visit(void *p, const icstr_crop_batch *cb, int i, const char *text, float confidence) {
    eval_ctx *c = p;
    const char *gt = cb->labels[i];
    if (!gt) return icstr_fail(ICSTR_ERR_FORMAT, "%s: the data has no labels", c->data);
    if (cb->ok_index[i] < 0) {
        c->unreadable++;
        fprintf(stderr, "icstr eval: %s\n", cb->reasons[i] ? cb->reasons[i] : cb->names[i]);
    }
    int res = icstr_score_add(c->sc, text, gt);
    if (res < 0) return res;
    if (c->errors && res == ICSTR_SCORE_WRONG && cb->bytes[i]) {
        int rc = icstr_folder_writer_add(c->errors, cb->bytes[i], cb->lens[i], gt);
        if (rc == ICSTR_ERR_IO) return rc;
        if (rc) fprintf(stderr, "icstr eval: --errors: %s: %s\n", cb->names[i], icstr_last_error());
    }
    if (c->pred)
        fprintf(c->pred, "%s\t%s\t%s\t%.4f\t%s\n", cb->names[i], gt, text, (double)confidence,
                res == ICSTR_SCORE_RIGHT ? "right" : res == ICSTR_SCORE_WRONG ? "wrong" : "skipped");
    return ICSTR_OK;
}

int icstr_cmd_eval(int argc, char **argv) {
    const char *model_path = icstr_model_default_path(), *data = NULL, *pred_path = NULL, *pool_path = NULL,
               *errors_dir = NULL;
    int json = 0, protocol = ICSTR_SCORE_STANDARD, reading_given = 0, got;
    long batch = 64, threads = 0, limit = 0, beam = 1;
    icstr_pool_reading reading = icstr_pool_reading_default();
    icstr_line_split_params split = icstr_line_split_default_params();
    icstr_decode_params dp = icstr_decode_default_params();
    dp.ctc_weight = -1.0f; /* not given: icstr_cli_check_reading resolves it */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--data") && more) {
            data = argv[++i];
        } else if (!strcmp(a, "--model") && more) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--predictions") && more) {
            pred_path = argv[++i];
        } else if (!strcmp(a, "--errors") && more) {
            errors_dir = argv[++i];
        } else if (!strcmp(a, "--pool") && more) {
            pool_path = argv[++i];
        } else if ((got = icstr_cli_pool_reading("icstr eval", argc, argv, &i, &reading, &reading_given))) {
            if (got == 2) return 2;
        } else if ((got = icstr_cli_line_split("icstr eval", argc, argv, &i, &split))) {
            if (got == 2) return 2;
        } else if ((got = icstr_cli_ctc_weight("icstr eval", argc, argv, &i, &dp))) {
            if (got == 2) return 2;
        } else if (!strcmp(a, "--protocol") && more) {
            const char *p = argv[++i];
            if (!strcmp(p, "standard")) protocol = ICSTR_SCORE_STANDARD;
            else if (!strcmp(p, "cased")) protocol = ICSTR_SCORE_CASE94;
            else {
                fprintf(stderr, "icstr eval: --protocol is standard or cased, not '%s'\n", p);
                return 2;
            }
        } else if (!strcmp(a, "--beam") && more) {
            if (icstr_cli_long("icstr eval", a, argv[++i], 1, 64, &beam)) return 2;
        } else if (!strcmp(a, "--batch") && more) {
            if (icstr_cli_long("icstr eval", a, argv[++i], 1, 4096, &batch)) return 2;
        } else if (!strcmp(a, "--threads") && more) {
            if (icstr_cli_long("icstr eval", a, argv[++i], 0, 1024, &threads)) return 2;
        } else if (!strcmp(a, "--limit") && more) {
            if (icstr_cli_long("icstr eval", a, argv[++i], 1, 1L << 40, &limit)) return 2;
        } else {
            fprintf(stderr, "icstr eval: unexpected argument '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    if (!data) {
        fprintf(stderr, "icstr eval: --data is required\n\n%s", usage);
        return 2;
    }
    if (reading_given && !pool_path) {
        fprintf(stderr, "icstr eval: " ICSTR_CLI_POOL_READING_NEED_POOL);
        return 2;
    }
    dp.beam = (int)beam;
    if (icstr_cli_check_reading("icstr eval", &reading, &dp)) return 2;
    icstr_set_threads((int)threads);
    icstr_model *m = NULL;
    icstr_inputs *in = NULL;
    icstr_crop_batch cb = {0};
    icstr_pool *pool = NULL;
    FILE *pred = NULL;
    icstr_score sc;
    icstr_score_init(&sc, protocol);
    long unreadable = 0, seen = 0;
    double seconds = 0.0;
    char *args[1] = {(char *)data};
    int rc = icstr_model_load(model_path, 0, &m);
    if (rc) {
        fprintf(stderr, "icstr eval: cannot load the model: %s\n", icstr_last_error());
        return 1;
    }
    const icstr_model_config *mc = icstr_model_get_config(m);
    if ((rc = icstr_inputs_open(args, 1, &in)) || (rc = icstr_crop_batch_init(&cb, (int)batch, mc->img_h, mc->img_w)) ||
        (rc = icstr_crop_batch_set_split(&cb, &split)))
        goto out;
    if (pool_path && ((rc = icstr_pool_open(pool_path, m, ICSTR_POOL_RDONLY, &pool)) ||
                      (rc = icstr_crop_batch_set_pool(&cb, pool, &reading))))
        goto out;
    if (pred_path && !(pred = fopen(pred_path, "w"))) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", pred_path, strerror(errno));
        goto out;
    }
    eval_ctx ctx = {&sc, pred, data, 0, NULL};
    if (errors_dir && ((rc = icstr_crop_batch_keep_bytes(&cb)) || (rc = icstr_folder_writer_open(errors_dir, &ctx.errors))))
        goto out;
    icstr_eval_stats st;
    rc = icstr_eval_loop(m, in, &cb, &dp, limit, json ? NULL : "eval", eval_visit, &ctx, &st);
    seen = st.seen;
    seconds = st.seconds;
    unreadable = ctx.unreadable;
    if (ctx.errors) {
        long n_err = icstr_folder_writer_count(ctx.errors);
        int crc = icstr_folder_writer_close(ctx.errors);
        if (!rc) rc = crc;
        if (!rc) fprintf(stderr, "icstr eval: %ld misread crops written to %s\n", n_err, errors_dir);
    }
out:
    if (rc) {
        fprintf(stderr, "icstr eval: %s\n", icstr_last_error());
    } else {
        long n, skipped;
        double acc, ned;
        icstr_score_result(&sc, &n, &skipped, &acc, &ned);
        double ms = seen ? 1e3 * seconds / (double)seen : 0.0;
        if (json) {
            printf("{\"data\": ");
            icstr_json_fprint_string(stdout, data);
            printf(", \"protocol\": \"%s\", \"n\": %ld, \"skipped\": %ld, \"unreadable\": %ld, "
                   "\"accuracy\": %.4f, \"one_minus_ned\": %.4f, \"ms_per_crop\": %.3f}\n",
                   icstr_score_protocol_name(protocol), n, skipped, unreadable, acc, ned, ms);
        } else
            printf("data %s\nprotocol %s\nscored %ld\nskipped %ld\nunreadable %ld\naccuracy %.4f\none_minus_ned %.4f\n"
                   "ms_per_crop %.3f\n",
                   data, icstr_score_protocol_name(protocol), n, skipped, unreadable, acc, ned, ms);
    }
    if (pred) fclose(pred);
    icstr_crop_batch_free(&cb);
    icstr_pool_close(pool);
    icstr_inputs_close(in);
    icstr_model_free(m);
    return rc ? 1 : 0;
}
