/* `icstr bench accuracy`: the model's (or another system's) word accuracy and 1-NED per set and
 * overall, under the standard and the cased protocol, through the same loop and scorer as
 * `icstr eval`; per-crop predictions and a contact sheet of misreads per set. */
#include "bench_util.h"
#include "cli_args.h"
#include "cmd_bench.h"
#include "eval_loop.h"
#include "icstr_core.h"
#include "model_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr bench accuracy --data PATH [--data PATH...] [--model M] [--out DIR] [--name NAME]\n"
    "                            [--errors] [--errors-max N] [--beam K] [--batch N] [--threads N]\n"
    "                            [--limit N] [--predictions-in TSV] " ICSTR_CLI_SPLIT_USAGE " " ICSTR_CLI_CTC_USAGE "\n"
    "\n"
    "Scores every labelled set (an STR LMDB or a folder with a gt.txt) under the standard protocol\n"
    "(lower-case [a-z0-9], labels longer than 25 skipped) and the cased one (94 printable ASCII\n"
    "and space), per set and overall (samples pooled over the sets). Prints a table and writes\n"
    "  DIR/results-NAME.csv         the table (see icstr bench report)\n"
    "  DIR/predictions-SET.tsv      NAME, LABEL, PREDICTION, CONFIDENCE, STANDARD, CASED per crop\n"
    "                               (right/wrong/skipped); predictions-NAME-SET.tsv when --name is\n"
    "                               not icstr\n"
    "  DIR/errors-SET.png           with --errors: the misread crops (standard protocol) as the\n"
    "                               model sees them, truth in black, prediction in red\n"
    "\n"
    "  --model M            model file (default: $ICSTR_MODEL or " ICSTR_DEFAULT_MODEL ")\n"
    "  --out DIR            results folder (default " ICSTR_BENCH_DEFAULT_OUT ")\n"
    "  --name NAME          system name in the results (default icstr)\n"
    "  --errors             write the contact sheets of misreads\n"
    "  --errors-max N       at most N crops per sheet (default 64)\n"
    "  --beam K             beam search with K beams (default 1: greedy)\n"
    "  --batch N            crops recognized together (default 64)\n"
    "  --threads N          threads (default: all cores; --threads 1 --batch 1 gives latency)\n"
    "  --limit N            score only the first N crops of each set\n"
    "  --predictions-in F   score another system instead of the model: F holds NAME<TAB>TEXT lines\n"
    "                       (more columns are ignored, lines starting with # too), NAME being the\n"
    "                       crop's path as icstr recognize prints it, or relative to the set folder;\n"
    "                       a crop missing from F counts as an empty prediction\n"
    ICSTR_CLI_SPLIT_HELP
    ICSTR_CLI_CTC_HELP
    "\n"
    "A crop that cannot be read counts as a wrong (empty) prediction and is reported on stderr.\n";

typedef struct {
    char *name, *text;
} pred_entry;

typedef struct {
    pred_entry *e;
    size_t n;
} pred_table;

typedef struct {
    icstr_image img;
    char *truth, *pred;
} err_cell;

typedef struct {
    const char *data;        /* the set's path */
    icstr_bench_score score;
    FILE *pred;
    err_cell *errs;
    int n_errs, max_errs;
    int H, W;
    long missing;            /* --predictions-in: crops the file does not name */
} set_ctx;

static void put_row(set_ctx *c, const char *name, const char *gt, const char *text, double conf, const int res[2]) {
    static const char *word[3] = {"skipped", "wrong", "right"};
    if (!c->pred) return;
    icstr_bench_put_field(c->pred, name);
    fputc('\t', c->pred);
    icstr_bench_put_field(c->pred, gt);
    fputc('\t', c->pred);
    icstr_bench_put_field(c->pred, text);
    if (conf >= 0) fprintf(c->pred, "\t%.4f", conf);
    else fputs("\t", c->pred);
    fprintf(c->pred, "\t%s\t%s\n", word[res[0]], word[res[1]]);
}

/* Keeps a misread crop for the sheet; img is taken over (zeroed in the caller's hands). */
static int keep_error(set_ctx *c, icstr_image *img, const char *gt, const char *text) {
    if (c->n_errs >= c->max_errs) {
        icstr_image_free(img);
        return ICSTR_OK;
    }
    err_cell *e = &c->errs[c->n_errs];
    e->truth = strdup(gt);
    e->pred = strdup(text);
    if (!e->truth || !e->pred) {
        free(e->truth);
        free(e->pred);
        icstr_image_free(img);
        return icstr_fail(ICSTR_ERR_NOMEM, "error sheet");
    }
    e->img = *img;
    memset(img, 0, sizeof *img);
    c->n_errs++;
    return ICSTR_OK;
}

/* The model's input (3, H, W) in [-1, 1] back to 8-bit RGB: the sheet shows what the model saw. */
static int input_to_image(const float *chw, int H, int W, icstr_image *out) {
    int rc = icstr_image_alloc(W, H, NULL, out);
    if (rc) return rc;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int ch = 0; ch < 3; ch++) {
                float v = (chw[((size_t)ch * H + y) * W + x] * 0.5f + 0.5f) * 255.0f + 0.5f;
                out->rgb[((size_t)y * W + x) * 3 + ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return ICSTR_OK;
}

static int model_visit(void *p, const icstr_crop_batch *cb, int i, const char *text, float confidence) {
    set_ctx *c = p;
    const char *gt = cb->labels[i];
    int k = cb->ok_index[i];
    if (!gt && k < 0 && cb->reasons[i]) return icstr_fail(ICSTR_ERR_IO, "%s", cb->reasons[i]);
    if (!gt) return icstr_fail(ICSTR_ERR_FORMAT, "no labels (a gt.txt folder or an STR LMDB is needed)");
    if (k < 0) {
        c->score.unreadable++;
        fprintf(stderr, "icstr bench accuracy: %s\n", cb->reasons[i] ? cb->reasons[i] : cb->names[i]);
    }
    int res[2];
    int rc = icstr_bench_score_add(&c->score, text, gt, res);
    if (rc) return rc;
    put_row(c, cb->names[i], gt, text, k < 0 ? 0.0 : (double)confidence, res);
    if (c->errs && res[0] == ICSTR_SCORE_WRONG) {
        icstr_image img = {0, 0, NULL};
        if (k >= 0 && (rc = input_to_image(cb->images + (size_t)k * 3 * cb->H * cb->W, cb->H, cb->W, &img))) return rc;
        return keep_error(c, &img, gt, text);
    }
    return ICSTR_OK;
}

/* ---- --predictions-in ---- */

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const pred_entry *)a)->name, ((const pred_entry *)b)->name);
}

static void table_free(pred_table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].name);
        free(t->e[i].text);
    }
    free(t->e);
    memset(t, 0, sizeof *t);
}

static int table_load(const char *path, pred_table *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, room = 0;
    ssize_t len;
    int rc = ICSTR_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        const char *text = "";
        if (tab) {
            *tab = 0;
            text = tab + 1;
            char *end = strchr(tab + 1, '\t');
            if (end) *end = 0;
        }
        if (t->n == room) {
            size_t nr = room ? 2 * room : 1024;
            pred_entry *ne = realloc(t->e, nr * sizeof *ne);
            if (!ne) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "%s", path);
                break;
            }
            t->e = ne;
            room = nr;
        }
        pred_entry *e = &t->e[t->n];
        e->name = strdup(line);
        e->text = strdup(text);
        if (!e->name || !e->text) {
            free(e->name);
            free(e->text);
            rc = icstr_fail(ICSTR_ERR_NOMEM, "%s", path);
            break;
        }
        t->n++;
    }
    free(line);
    fclose(f);
    if (rc) {
        table_free(t);
        return rc;
    }
    qsort(t->e, t->n, sizeof *t->e, cmp_entry);
    return ICSTR_OK;
}

static const char *table_find(const pred_table *t, const char *name) {
    pred_entry key = {(char *)name, NULL};
    pred_entry *e = t->n ? bsearch(&key, t->e, t->n, sizeof *t->e, cmp_entry) : NULL;
    return e ? e->text : NULL;
}

/* The crop's name relative to the set folder ("images/1.jpg"), or NULL when it is not under it. */
static const char *relative_name(const char *name, const char *data) {
    size_t n = strlen(data);
    while (n > 1 && data[n - 1] == '/') n--;
    if (strncmp(name, data, n) || name[n] != '/') return NULL;
    return name + n + 1;
}

static int score_table(set_ctx *c, const pred_table *t, long limit) {
    icstr_inputs *in = NULL;
    char *args[1] = {(char *)c->data};
    int rc = icstr_inputs_open(args, 1, &in);
    if (rc) return rc;
    icstr_input_item item;
    long seen = 0;
    while ((!limit || seen < limit) && (rc = icstr_inputs_next(in, &item)) > 0) {
        seen++;
        if (!item.label) {
            rc = item.error ? icstr_fail(ICSTR_ERR_IO, "%s", item.reason)
                            : icstr_fail(ICSTR_ERR_FORMAT, "no labels (a gt.txt folder or an STR LMDB is needed)");
            break;
        }
        const char *text = table_find(t, item.name);
        const char *rel = relative_name(item.name, c->data);
        if (!text && rel) text = table_find(t, rel);
        if (!text) {
            c->missing++;
            text = "";
        }
        int res[2];
        if ((rc = icstr_bench_score_add(&c->score, text, item.label, res))) break;
        put_row(c, item.name, item.label, text, -1.0, res);
        if (c->errs && res[0] == ICSTR_SCORE_WRONG) {
            icstr_image img = {0, 0, NULL};
            if (!item.error) icstr_image_load_memory(item.bytes, item.len, item.name, &img); /* else a grey cell */
            if ((rc = keep_error(c, &img, item.label, text))) break;
        }
    }
    icstr_inputs_close(in);
    return rc < 0 ? rc : ICSTR_OK;
}

/* ---- the command ---- */

static int write_sheet(set_ctx *c, const char *path) {
    if (!c->n_errs) return ICSTR_OK;
    icstr_sheet_params sp = icstr_sheet_default_params();
    sp.lines = 2;
    icstr_sheet *sh = NULL;
    int rc = icstr_sheet_create(&sp, c->n_errs, &sh);
    for (int i = 0; !rc && i < c->n_errs; i++)
        rc = icstr_sheet_add(sh, c->errs[i].img.rgb ? &c->errs[i].img : NULL, c->errs[i].truth, c->errs[i].pred);
    if (!rc) rc = icstr_sheet_write_png(sh, path);
    icstr_sheet_free(sh);
    return rc;
}

static void free_errors(set_ctx *c) {
    for (int i = 0; i < c->n_errs; i++) {
        icstr_image_free(&c->errs[i].img);
        free(c->errs[i].truth);
        free(c->errs[i].pred);
    }
    free(c->errs);
    c->errs = NULL;
    c->n_errs = 0;
}

int icstr_bench_accuracy(int argc, char **argv) {
    const char *model_path = icstr_model_default_path(), *out_dir = ICSTR_BENCH_DEFAULT_OUT, *name = "icstr";
    const char *pred_in = NULL;
    char **data = calloc((size_t)argc + 1, sizeof(char *));
    int n_data = 0, errors = 0;
    long errors_max = 64, beam = 1, batch = 64, threads = 0, limit = 0;
    icstr_line_split_params split = icstr_line_split_default_params();
    icstr_decode_params dp = icstr_decode_default_params();
    if (!data) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            free(data);
            return 0;
        } else if (!strcmp(a, "--errors")) {
            errors = 1;
        } else if (!strcmp(a, "--data") && more) {
            data[n_data++] = argv[++i];
        } else if (!strcmp(a, "--model") && more) {
            model_path = argv[++i];
        } else if (!strcmp(a, "--out") && more) {
            out_dir = argv[++i];
        } else if (!strcmp(a, "--name") && more) {
            name = argv[++i];
            if (!icstr_bench_name_ok(name)) {
                fprintf(stderr, "icstr bench accuracy: --name wants [A-Za-z0-9._+-], got '%s'\n", name);
                bad = 1;
            }
        } else if (!strcmp(a, "--predictions-in") && more) {
            pred_in = argv[++i];
        } else if (!strcmp(a, "--errors-max") && more) {
            bad = icstr_cli_long("icstr bench accuracy", a, argv[++i], 1, 4096, &errors_max);
        } else if (!strcmp(a, "--beam") && more) {
            bad = icstr_cli_long("icstr bench accuracy", a, argv[++i], 1, 64, &beam);
        } else if (!strcmp(a, "--batch") && more) {
            bad = icstr_cli_long("icstr bench accuracy", a, argv[++i], 1, 4096, &batch);
        } else if (!strcmp(a, "--threads") && more) {
            bad = icstr_cli_long("icstr bench accuracy", a, argv[++i], 0, 1024, &threads);
        } else if (!strcmp(a, "--limit") && more) {
            bad = icstr_cli_long("icstr bench accuracy", a, argv[++i], 1, 1L << 40, &limit);
        } else if ((bad = icstr_cli_line_split("icstr bench accuracy", argc, argv, &i, &split))) {
            bad = bad == 2;
        } else if ((bad = icstr_cli_ctc_weight("icstr bench accuracy", argc, argv, &i, &dp))) {
            bad = bad == 2;
        } else {
            fprintf(stderr, "icstr bench accuracy: unexpected argument '%s'\n\n%s", a, usage);
            bad = 1;
        }
        if (bad) {
            free(data);
            return 2;
        }
    }
    if (!n_data) {
        fprintf(stderr, "icstr bench accuracy: --data is required\n\n%s", usage);
        free(data);
        return 2;
    }
    icstr_set_threads((int)threads);
    dp.beam = (int)beam;
    icstr_model *m = NULL;
    icstr_crop_batch cb = {0};
    pred_table table = {0};
    FILE *csv = NULL;
    icstr_bench_score overall;
    icstr_bench_score_init(&overall);
    double total_seconds = 0.0;
    long total_seen = 0;
    char (*set_names)[ICSTR_BENCH_NAME_CAP] = calloc((size_t)n_data, sizeof *set_names);
    char path[4096];
    int rc = set_names ? icstr_bench_mkdir_p(out_dir) : icstr_fail(ICSTR_ERR_NOMEM, "set names");
    if (rc) goto out;
    if (pred_in) {
        if ((rc = table_load(pred_in, &table))) goto out;
        ICSTR_INFO("%s: %zu predictions", pred_in, table.n);
    } else {
        if ((rc = icstr_model_load(model_path, 0, &m))) {
            icstr_fail_context(rc, "cannot load the model");
            goto out;
        }
        const icstr_model_config *mc = icstr_model_get_config(m);
        if ((rc = icstr_crop_batch_init(&cb, (int)batch, mc->img_h, mc->img_w)) ||
            (rc = icstr_crop_batch_set_split(&cb, &split)))
            goto out;
    }
    icstr_bench_set_names(data, n_data, set_names);
    snprintf(path, sizeof path, "%s/results-%s.csv", out_dir, name);
    if (!(csv = fopen(path, "w"))) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    fprintf(csv, "%s\n", ICSTR_BENCH_RESULTS_HEADER);
    int threads_used = pred_in ? 0 : icstr_get_threads();
    for (int d = 0; d < n_data; d++) {
        set_ctx c;
        memset(&c, 0, sizeof c);
        c.data = data[d];
        icstr_bench_score_init(&c.score);
        c.max_errs = (int)errors_max;
        if (errors && !(c.errs = calloc((size_t)errors_max, sizeof *c.errs))) {
            rc = icstr_fail(ICSTR_ERR_NOMEM, "error sheet");
            goto out;
        }
        if (!strcmp(name, "icstr")) snprintf(path, sizeof path, "%s/predictions-%s.tsv", out_dir, set_names[d]);
        else snprintf(path, sizeof path, "%s/predictions-%s-%s.tsv", out_dir, name, set_names[d]);
        if (!(c.pred = fopen(path, "w"))) {
            rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
            free_errors(&c);
            goto out;
        }
        icstr_eval_stats st = {0, 0.0};
        if (pred_in) {
            rc = score_table(&c, &table, limit);
        } else {
            icstr_inputs *in = NULL;
            char *args[1] = {data[d]};
            if (!(rc = icstr_inputs_open(args, 1, &in)))
                rc = icstr_eval_loop(m, in, &cb, &dp, limit, set_names[d], model_visit, &c, &st);
            icstr_inputs_close(in);
        }
        fclose(c.pred);
        if (!rc && errors) {
            snprintf(path, sizeof path, "%s/errors-%s%s%s.png", out_dir, strcmp(name, "icstr") ? name : "",
                     strcmp(name, "icstr") ? "-" : "", set_names[d]);
            if (c.n_errs && !(rc = write_sheet(&c, path))) ICSTR_INFO("%s: %d misreads on the sheet", path, c.n_errs);
        }
        free_errors(&c);
        if (rc) {
            if (strncmp(icstr_last_error(), data[d], strlen(data[d]))) icstr_fail_context(rc, "%s", data[d]);
            goto out;
        }
        if (c.missing) ICSTR_WARN("%s: %ld crops have no prediction in %s", data[d], c.missing, pred_in);
        icstr_bench_row row = {name, set_names[d], st.seen ? 1e3 * st.seconds / (double)st.seen : -1.0, -1.0, -1.0,
                               threads_used, pred_in ? 0 : (int)batch};
        icstr_bench_write_rows(csv, &row, &c.score);
        icstr_bench_print_rows(stdout, &row, &c.score, d == 0);
        icstr_bench_score_merge(&overall, &c.score);
        total_seconds += st.seconds;
        total_seen += st.seen;
    }
    if (n_data > 1) {
        icstr_bench_row row = {name, "overall", total_seen ? 1e3 * total_seconds / (double)total_seen : -1.0, -1.0,
                               -1.0, threads_used, pred_in ? 0 : (int)batch};
        icstr_bench_write_rows(csv, &row, &overall);
        icstr_bench_print_rows(stdout, &row, &overall, 0);
    }
    if (fclose(csv)) rc = icstr_fail(ICSTR_ERR_IO, "%s/results-%s.csv: write failed", out_dir, name);
    csv = NULL;
out:
    if (rc) fprintf(stderr, "icstr bench accuracy: %s\n", icstr_last_error());
    if (csv) fclose(csv);
    table_free(&table);
    icstr_crop_batch_free(&cb);
    icstr_model_free(m);
    free(set_names);
    free(data);
    return rc ? 1 : 0;
}
