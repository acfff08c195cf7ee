/* `icstr pool`: the prompt pool's command. create, add (one crop or a whole labelled set, in
 * chunks that each commit whole), ls, rm, stats, check (read and cross-check everything), export
 * (to a standard STR LMDB), reembed and view (the part of each crop the model reads).
 * Results to stdout, progress and per-crop warnings to stderr; exit 0 ok, 1 runtime failure
 * (or some crops refused), 2 usage. */
#include "cli.h"
#include "cli_args.h"
#include "icstr_data.h"
#include "icstr_pool.h"
#include "json.h"
#include "model_io.h"
#include "pool_view.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ADD_CHUNK 256

static void pool_usage(FILE *f) {
    fprintf(f,
            "usage: icstr pool SUBCOMMAND P [ARGS...]   (icstr pool SUBCOMMAND --help)\n\n"
            "The prompt pool P (a directory, an LMDB environment) holds labelled crops that\n"
            "`icstr recognize --pool P` and `icstr eval --pool P` put in front of each query.\n\n"
            "subcommands:\n"
            "  create P [--model M]                 an empty pool for model M\n"
            "  add P IMAGE LABEL [--tag T]          add one labelled crop\n"
            "  add P --data SET [--tag T]           add a gt.txt folder or an STR LMDB\n"
            "  ls P [--json]                        one line per record\n"
            "  rm P ID...                           remove records\n"
            "  stats P [--json]                     counts, sizes, tags, the model\n"
            "  check P [--list]                     read everything, report damaged records\n"
            "  export P OUT.lmdb                    images and labels as a standard STR LMDB\n"
            "  reembed P --model M                  recompute the embeddings for another model\n"
            "  view P [--auto | --set VIEW]         the part of each crop the model reads\n\n"
            "The pool remembers the model file it was made with; add uses it unless --model is given.\n");
}

static const char *sub_usage(const char *sub) {
    if (!strcmp(sub, "create"))
        return "usage: icstr pool create P [--model M]\n\n"
               "Creates an empty pool in directory P (made if missing) for model M (default: $ICSTR_MODEL\n"
               "or " ICSTR_DEFAULT_MODEL "). Its embeddings only work with that model.\n";
    if (!strcmp(sub, "add"))
        return "usage: icstr pool add P IMAGE LABEL [--tag T] [--model M]\n"
               "       icstr pool add P --data SET [--tag T] [--model M] [--chunk N] [--threads N]\n\n"
               "Adds labelled crops: each image is encoded by the model and stored with its label,\n"
               "embedding, latents, bytes, tag (default: the SET path, or \"manual\") and time.\n"
               "An image whose bytes are already in the pool is not added again. Labels outside the\n"
               "model's charset or longer than its max_label are refused and reported by name.\n\n"
               "  --data SET   a folder with a gt.txt, a list file, or an STR LMDB\n"
               "  --chunk N    crops per transaction (default 256): an interrupted add keeps the\n"
               "               chunks already committed, never part of one\n"
               "  --model M    model file (default: the pool's, else $ICSTR_MODEL or the base model)\n"
               "  --threads N  threads (default: all cores)\n"
               "  --split-aspect A  with --data: a crop wider than A heights whose label has one word\n"
               "               more than the crop has gaps between words is also added as its pieces,\n"
               "               each under its words (\"NAME [piece J/N]\"), as long lines are read in\n"
               "               pieces (icstr recognize --help); default 3.6, 0: whole crops only\n\n"
               "Prints ID<TAB>LABEL for one crop, else a summary; exit 1 when any crop was refused.\n";
    if (!strcmp(sub, "ls"))
        return "usage: icstr pool ls P [--json]\n\n"
               "Lists the records: ID<TAB>LABEL<TAB>TAG<TAB>ADDED (UTC)<TAB>IMAGE_BYTES, in id order,\n"
               "or one JSON object per line with --json.\n";
    if (!strcmp(sub, "rm"))
        return "usage: icstr pool rm P ID...\n\n"
               "Removes records by id, in one transaction. Ids not in the pool are reported (exit 1).\n";
    if (!strcmp(sub, "stats"))
        return "usage: icstr pool stats P [--json]\n\n"
               "Records, image bytes, label lengths, tags, file size (cache_bytes: the --glyphs and --knn\n"
               "stores kept beside the records), and the model the pool is for.\n";
    if (!strcmp(sub, "check"))
        return "usage: icstr pool check P [--list]\n\n"
               "Reads the whole pool and checks it: every record in full (lengths, the CRC-32C of\n"
               "records written since record version 2, finite floats, the image against its hash),\n"
               "every search entry against its record, the duplicate index and next_id. Each problem\n"
               "goes to stderr naming the record, and the check goes on past it. A summary goes to\n"
               "stdout (to stderr with --list). Exit 0: the pool is intact; 1: something is wrong or\n"
               "the pool cannot be read.\n\n"
               "  --list   one line per intact record to stdout, in id order:\n"
               "           ID<TAB>IMAGE_HASH<TAB>DIGEST<TAB>LABEL (16 hex digits each; DIGEST covers\n"
               "           every field: label, tag, time, embedding, latents, image)\n";
    if (!strcmp(sub, "export"))
        return "usage: icstr pool export P OUT.lmdb\n\n"
               "Writes every record's image and label to a standard STR LMDB (num-samples,\n"
               "image-%09d, label-%09d), in id order. An existing data.mdb in OUT.lmdb is replaced.\n";
    if (!strcmp(sub, "reembed"))
        return "usage: icstr pool reembed P --model M [--chunk N] [--threads N]\n\n"
               "Recomputes every record's embedding and latents with model M from the stored images\n"
               "and makes M the pool's model. Works in chunks; the switch is one final transaction,\n"
               "so an interrupted reembed leaves the pool as it was (run it again to resume).\n";
    if (!strcmp(sub, "view"))
        return "usage: icstr pool view P                        print the pool's view\n"
               "       icstr pool view P --auto [--max-records N] [--model M] [--threads N]\n"
               "       icstr pool view P --set VIEW [--model M] [--threads N]\n\n"
               "The view is the part of every crop the model reads with this pool: rows TOP..BOTTOM\n"
               "and columns LEFT..RIGHT as fractions of the crop (VIEW = TOP,BOTTOM,LEFT,RIGHT, e.g.\n"
               "0.15,1,0,1; \"full\" is the whole crop, the default). The pool's records and every\n"
               "crop read with `--pool P` are cut to it before they are resized to the model's input.\n"
               "Crops that carry other text around the word (a plate's state name, a slogan) read\n"
               "better from a band of them.\n\n"
               "  --auto           read the pool's own records without prompts under each of 40\n"
               "                   candidate views (rows from 0, 0.1, 0.15, 0.2, 0.25 to 1, 0.9, 0.85,\n"
               "                   0.8; columns whole or 0.03..0.97), print how many each reads right\n"
               "                   (standard protocol) and how many it gains and loses against the\n"
               "                   whole crop, and keep the best of those that read clearly more:\n"
               "                   gained - lost at least 2 and at least 2.5 sqrt(gained + lost)\n"
               "                   (McNemar's test); else the whole crop\n"
               "  --max-records N  --auto reads at most N records, spread over the pool (default 500)\n"
               "                   When a view other than the whole crop is kept, the next 8 views\n"
               "                   by that count become the pool's alternates (printed last), for\n"
               "                   readings that vote over views (--views); else there are none\n"
               "  --set VIEW       use VIEW (a new view drops the alternates)\n\n"
               "A new view re-embeds every record from its stored image (as reembed does: an\n"
               "interrupted run leaves the pool as it was). Run --auto again after adding many crops.\n"
               "--auto is for a pool of a domain's crops: a pool of hard samples (crops the model\n"
               "misread whole, `icstr eval --errors`) reads none of them right in full by its making,\n"
               "so it would move to whatever view reads a few, for every crop; keep such a pool full.\n";
    return NULL;
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

static int usage_error(const char *sub, const char *fmt, const char *arg) {
    fprintf(stderr, "icstr pool %s: ", sub);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (icstr pool %s --help)\n", sub);
    return 2;
}

static int runtime_error(const char *sub, int rc) {
    fprintf(stderr, "icstr pool %s: %s: %s\n", sub, icstr_strerror(rc), icstr_last_error());
    return 1;
}

/* The options every subcommand shares, parsed in one place. */
typedef struct {
    const char *sub;
    const char *pool;
    const char *pos[2];     /* positional arguments after P */
    int n_pos;
    const char **ids;       /* rm: every positional after P */
    int n_ids;
    const char *model, *data, *tag;
    long chunk, threads, max_records;
    int json, list, view_auto;
    const char *view_set;
    icstr_line_split_params split; /* add --data: long lines are also added in pieces */
} pool_args;

/* The options each subcommand takes (others are usage errors). */
static const char *options_of(const char *sub) {
    if (!strcmp(sub, "create")) return " --model ";
    if (!strcmp(sub, "add")) return " --model --data --tag --chunk --threads --split-aspect ";
    if (!strcmp(sub, "ls") || !strcmp(sub, "stats")) return " --json ";
    if (!strcmp(sub, "reembed")) return " --model --chunk --threads ";
    if (!strcmp(sub, "check")) return " --list ";
    if (!strcmp(sub, "view")) return " --auto --set --max-records --model --threads ";
    return " ";
}

static int takes(const char *sub, const char *opt) {
    char key[32];
    snprintf(key, sizeof key, " %s ", opt);
    return strstr(options_of(sub), key) != NULL;
}

/* 0 ok, 1 --help printed, 2 usage error. */
static int parse_args(int argc, char **argv, int max_pos, int allow_ids, pool_args *a) {
    memset(a, 0, sizeof *a);
    a->sub = argv[0];
    a->chunk = ADD_CHUNK;
    a->max_records = 500;
    a->split = icstr_line_split_default_params();
    a->ids = calloc((size_t)argc, sizeof(char *));
    if (!a->ids) return 2;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int more = i + 1 < argc;
        if (is_help(s)) {
            fputs(sub_usage(a->sub), stdout);
            return 1;
        } else if (s[0] == '-' && s[1] == '-' && !takes(a->sub, s)) {
            return usage_error(a->sub, "unknown option %s", s);
        } else if (!strcmp(s, "--json")) {
            a->json = 1;
        } else if (!strcmp(s, "--list")) {
            a->list = 1;
        } else if (!strcmp(s, "--auto")) {
            a->view_auto = 1;
        } else if (!strcmp(s, "--set") && more) {
            a->view_set = argv[++i];
        } else if (!strcmp(s, "--max-records") && more) {
            if (icstr_cli_long("icstr pool view", s, argv[++i], 1, 100000000, &a->max_records)) return 2;
        } else if (!strcmp(s, "--model") && more) {
            a->model = argv[++i];
        } else if (!strcmp(s, "--data") && more) {
            a->data = argv[++i];
        } else if (!strcmp(s, "--tag") && more) {
            a->tag = argv[++i];
        } else if (!strcmp(s, "--split-aspect") && more) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "icstr pool %s", a->sub);
            if (icstr_cli_line_split(cmd, argc, argv, &i, &a->split) != 1) return 2;
        } else if ((!strcmp(s, "--chunk") || !strcmp(s, "--threads")) && more) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "icstr pool %s", a->sub);
            int chunk = !strcmp(s, "--chunk");
            if (icstr_cli_long(cmd, s, argv[++i], chunk ? 1 : 0, chunk ? 100000 : 1024,
                               chunk ? &a->chunk : &a->threads))
                return 2;
        } else if (s[0] == '-' && s[1]) {
            return usage_error(a->sub, "unknown option or missing value: %s", s);
        } else if (!a->pool) {
            a->pool = s;
        } else if (allow_ids) {
            a->ids[a->n_ids++] = s;
        } else if (a->n_pos < max_pos) {
            a->pos[a->n_pos++] = s;
        } else {
            return usage_error(a->sub, "unexpected argument %s", s);
        }
    }
    if (!a->pool) return usage_error(a->sub, "%s", "no pool path given");
    return 0;
}

/* The model for a pool: --model, else the file the pool was made with, else the default. */
static const char *model_for(const pool_args *a, char *hint, size_t cap) {
    if (a->model) return a->model;
    icstr_pool *p;
    if (!icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p)) {
        icstr_pool_info info;
        struct stat st;
        int ok = !icstr_pool_get_info(p, &info) && info.model_path[0] && !stat(info.model_path, &st);
        icstr_pool_close(p);
        if (ok) {
            snprintf(hint, cap, "%s", info.model_path);
            return hint;
        }
    }
    return icstr_model_default_path();
}

static int load_model(const char *sub, const char *path, icstr_model **m) {
    int rc = icstr_model_load(path, 0, m);
    if (rc) fprintf(stderr, "icstr pool %s: cannot load the model %s: %s\n", sub, path, icstr_last_error());
    return rc;
}

/* ---- create ---- */

static int cmd_create(pool_args *a) {
    const char *mp = a->model ? a->model : icstr_model_default_path();
    icstr_model *m;
    if (load_model("create", mp, &m)) return 1;
    char abs[PATH_MAX];
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, realpath(mp, abs) ? abs : mp, &meta);
    icstr_model_free(m);
    int rc = icstr_pool_create(a->pool, &meta);
    if (rc) return runtime_error("create", rc);
    printf("created pool %s for model %s (fingerprint %.16s..., M %d, D %d)\n", a->pool, meta.model_path,
           meta.fingerprint, meta.M, meta.D);
    return 0;
}

/* ---- add ---- */

static int read_bytes(const char *path, unsigned char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    int rc = ICSTR_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    else if (size < 1 || (size_t)size > ICSTR_POOL_IMAGE_MAX)
        rc = icstr_fail(ICSTR_ERR_LIMIT, "%s: %ld bytes (a pool image is 1 byte to %zu MiB)", path, size,
                        ICSTR_POOL_IMAGE_MAX >> 20);
    else if (!(*out = malloc((size_t)size)))
        rc = icstr_fail(ICSTR_ERR_NOMEM, "%s", path);
    else if (fread(*out, 1, (size_t)size, f) != (size_t)size) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: short read", path);
        free(*out);
        *out = NULL;
    }
    fclose(f);
    if (!rc) *len = (size_t)size;
    return rc;
}

typedef struct {
    long added, dup, refused;
} add_counts;

static void report(const icstr_pool_item *items, const icstr_pool_add_result *res, int n, add_counts *c) {
    for (int i = 0; i < n; i++) {
        const char *name = items[i].name ? items[i].name : "?";
        if (res[i].status == ICSTR_POOL_ADDED) {
            c->added++;
        } else if (res[i].status == ICSTR_POOL_DUPLICATE) {
            c->dup++;
            if (res[i].reason[0]) fprintf(stderr, "icstr pool add: %s: %s (kept as it is)\n", name, res[i].reason);
            else ICSTR_DEBUG("%s: already in the pool as record %llu", name, (unsigned long long)res[i].id);
        } else {
            c->refused++;
            fprintf(stderr, "icstr pool add: %s refused: %s\n", name, res[i].reason[0] ? res[i].reason : icstr_strerror(res[i].status));
        }
    }
}

static int add_one(pool_args *a, icstr_pool *p) {
    icstr_pool_item it = {NULL, 0, a->pos[1], a->pos[0]};
    unsigned char *bytes = NULL;
    int rc = read_bytes(a->pos[0], &bytes, &it.image_len);
    if (rc) return runtime_error("add", rc);
    it.image = bytes;
    icstr_pool_add_result res;
    rc = icstr_pool_add(p, &it, 1, a->tag ? a->tag : "manual", &res);
    free(bytes);
    if (rc) return runtime_error("add", rc);
    add_counts c = {0, 0, 0};
    report(&it, &res, 1, &c);
    if (res.status == ICSTR_POOL_ADDED) printf("%llu\t%s\n", (unsigned long long)res.id, it.label);
    else if (res.status == ICSTR_POOL_DUPLICATE) printf("%llu\t%s\t(already in the pool)\n", (unsigned long long)res.id, it.label);
    return res.status < 0 ? 1 : 0;
}

/* The item just appended (items[*n - 1]) is also appended as its pieces when it is a long line
 * whose words match its gaps (icstr_line_split_labelled): each piece a PNG of its columns under
 * its words. A crop that does not decode is left to icstr_pool_add to report. Errors: NOMEM. */
static int add_pieces(const icstr_line_split_params *sp, icstr_pool_item *items, unsigned char **bytes, char **labels,
                      char **names, int *n, long *split) {
    const icstr_pool_item *whole = &items[*n - 1];
    icstr_image im;
    if (icstr_image_load_memory(whole->image, whole->image_len, whole->name, &im)) return ICSTR_OK;
    static char piece_labels[ICSTR_LINE_MAX_PIECES][ICSTR_POOL_LABEL_MAX + 1];
    int x0[ICSTR_LINE_MAX_PIECES], x1[ICSTR_LINE_MAX_PIECES];
    int pieces = icstr_line_split_labelled(&im, whole->label, sp, x0, x1, piece_labels[0], ICSTR_POOL_LABEL_MAX + 1,
                                           ICSTR_LINE_MAX_PIECES);
    int rc = pieces < 0 ? pieces : ICSTR_OK;
    for (int j = 0; pieces > 1 && j < pieces && !rc; j++) {
        icstr_image piece;
        int k = *n;
        char name[512];
        snprintf(name, sizeof name, "%s [piece %d/%d]", whole->name ? whole->name : "?", j + 1, pieces);
        if ((rc = icstr_image_crop(&im, x0[j], 0, x1[j] - x0[j], im.h, &piece))) break;
        rc = icstr_image_encode_png(piece.w, piece.h, 3, piece.rgb, &bytes[k], &items[k].image_len);
        icstr_image_free(&piece);
        labels[k] = strdup(piece_labels[j]);
        names[k] = strdup(name);
        if (rc || !labels[k] || !names[k]) {
            free(bytes[k]), free(labels[k]), free(names[k]);
            rc = rc ? rc : icstr_fail(ICSTR_ERR_NOMEM, "pool add: pieces");
            break;
        }
        items[k] = (icstr_pool_item){bytes[k], items[k].image_len, labels[k], names[k]};
        (*n)++;
    }
    if (pieces > 1 && !rc) (*split)++;
    icstr_image_free(&im);
    return rc;
}

static int add_set(pool_args *a, icstr_pool *p) {
    icstr_dataset *ds;
    int rc = icstr_dataset_open(a->data, &ds);
    if (rc) return runtime_error("add", rc);
    long total = icstr_dataset_count(ds), chunk = a->chunk;
    size_t cap = (size_t)chunk * (a->split.split_aspect > 0.0f ? 1 + ICSTR_LINE_MAX_PIECES : 1);
    icstr_pool_item *items = calloc(cap, sizeof *items);
    icstr_pool_add_result *res = calloc(cap, sizeof *res);
    unsigned char **bytes = calloc(cap, sizeof *bytes);
    char **labels = calloc(cap, sizeof *labels), **names = calloc(cap, sizeof *names);
    add_counts c = {0, 0, 0};
    long unreadable = 0, committed = 0, split = 0;
    if (!items || !res || !bytes || !labels || !names) rc = icstr_fail(ICSTR_ERR_NOMEM, "pool add");
    if (!rc && total > chunk)
        ICSTR_INFO("adding %ld crops in transactions of %ld: an interrupted add keeps the whole chunks already "
                   "committed", total, chunk);
    for (long i0 = 0; !rc && i0 < total; i0 += chunk) {
        int n = 0;
        for (long i = i0; i < total && i < i0 + chunk; i++) {
            const unsigned char *b;
            size_t len;
            const char *label, *name;
            int r = icstr_dataset_get(ds, i, &b, &len, &label, &name);
            if (r == ICSTR_ERR_NOMEM || r == ICSTR_ERR_DB) {
                rc = r;
                break;
            }
            if (r) {
                unreadable++;
                fprintf(stderr, "icstr pool add: %s\n", icstr_last_error());
                continue;
            }
            bytes[n] = malloc(len ? len : 1);
            labels[n] = strdup(label ? label : "");
            names[n] = strdup(name ? name : "?");
            if (!bytes[n] || !labels[n] || !names[n]) {
                free(bytes[n]), free(labels[n]), free(names[n]);
                rc = icstr_fail(ICSTR_ERR_NOMEM, "pool add");
                break;
            }
            memcpy(bytes[n], b, len);
            items[n] = (icstr_pool_item){bytes[n], len, labels[n], names[n]};
            n++;
            if (a->split.split_aspect > 0.0f && (rc = add_pieces(&a->split, items, bytes, labels, names, &n, &split)))
                break;
        }
        if (!rc && n && !(rc = icstr_pool_add(p, items, n, a->tag ? a->tag : a->data, res))) {
            report(items, res, n, &c);
            committed++;
        }
        for (int k = 0; k < n; k++) free(bytes[k]), free(labels[k]), free(names[k]);
        if (!rc && total > chunk)
            fprintf(stderr, "\radd: %ld of %ld crops (%ld records added, pieces of long lines included)",
                    i0 + chunk < total ? i0 + chunk : total, total, c.added);
    }
    if (total > chunk) fputc('\n', stderr);
    icstr_dataset_close(ds);
    free(items), free(res), free(bytes), free(labels), free(names);
    if (rc) {
        fprintf(stderr, "icstr pool add: %ld chunks were committed before this failure\n", committed);
        return runtime_error("add", rc);
    }
    printf("added %ld, already present %ld, refused %ld, unreadable %ld (of %ld", c.added, c.dup, c.refused,
           unreadable, total);
    if (split) printf(" crops, %ld of them long lines also added in pieces", split);
    printf(")\n");
    return c.refused || unreadable ? 1 : 0;
}

static int cmd_add(pool_args *a) {
    if (a->data && a->n_pos) return usage_error("add", "%s", "give IMAGE LABEL or --data SET, not both");
    if (!a->data && a->n_pos != 2) return usage_error("add", "%s", "wants IMAGE LABEL or --data SET");
    icstr_set_threads((int)a->threads);
    char hint[ICSTR_POOL_PATH_MAX];
    const char *mp = model_for(a, hint, sizeof hint);
    icstr_model *m;
    if (load_model("add", mp, &m)) return 1;
    icstr_pool *p;
    int rc = icstr_pool_open(a->pool, m, 0, &p), ret;
    if (rc) {
        ret = runtime_error("add", rc);
    } else {
        ret = a->data ? add_set(a, p) : add_one(a, p);
        icstr_pool_close(p);
    }
    icstr_model_free(m);
    return ret;
}

/* ---- ls ---- */

static void format_time(int64_t t, char out[32]) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "%lld", (long long)t);
}

static int ls_one(void *user, const icstr_pool_record *r) {
    int json = *(int *)user;
    char when[32];
    format_time(r->time_added, when);
    if (json) {
        printf("{\"id\": %llu, \"label\": ", (unsigned long long)r->id);
        icstr_json_fprint_string(stdout, r->label);
        printf(", \"tag\": ");
        icstr_json_fprint_string(stdout, r->tag);
        printf(", \"added\": \"%s\", \"image_bytes\": %zu}\n", when, r->image_len);
    } else {
        printf("%llu\t%s\t%s\t%s\t%zu\n", (unsigned long long)r->id, r->label, r->tag, when, r->image_len);
    }
    return 0;
}

static int cmd_ls(pool_args *a) {
    icstr_pool *p;
    int rc = icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p);
    if (!rc) {
        rc = icstr_pool_foreach(p, 0, ls_one, &a->json);
        icstr_pool_close(p);
    }
    return rc ? runtime_error("ls", rc) : 0;
}

/* ---- rm ---- */

static int cmd_rm(pool_args *a) {
    if (!a->n_ids) return usage_error("rm", "%s", "no ID given");
    uint64_t *ids = calloc((size_t)a->n_ids, sizeof *ids);
    int *found = calloc((size_t)a->n_ids, sizeof *found);
    if (!ids || !found) return 1;
    for (int i = 0; i < a->n_ids; i++) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(a->ids[i], &end, 10);
        if (!*a->ids[i] || *end || errno || a->ids[i][0] == '-') {
            free(ids), free(found);
            return usage_error("rm", "'%s' is not a record id", a->ids[i]);
        }
        ids[i] = v;
    }
    icstr_pool *p;
    long removed = 0;
    int rc = icstr_pool_open(a->pool, NULL, 0, &p), missing = 0;
    if (!rc) {
        rc = icstr_pool_remove(p, ids, a->n_ids, found, &removed);
        icstr_pool_close(p);
    }
    if (!rc)
        for (int i = 0; i < a->n_ids; i++)
            if (!found[i]) {
                missing++;
                fprintf(stderr, "icstr pool rm: no record %llu\n", (unsigned long long)ids[i]);
            }
    free(ids), free(found);
    if (rc) return runtime_error("rm", rc);
    printf("removed %ld\n", removed);
    return missing ? 1 : 0;
}

/* ---- stats ---- */

#define MAX_TAGS 64
typedef struct {
    long n, label_chars, label_min, label_max;
    size_t image_bytes;
    int64_t first, last;
    char *tags[MAX_TAGS];
    long tag_count[MAX_TAGS];
    int n_tags;
    long other_tags;
} stats_acc;

static int stats_one(void *user, const icstr_pool_record *r) {
    stats_acc *s = user;
    long len = 0;
    for (const unsigned char *c = (const unsigned char *)r->label; *c; c++) len += (*c & 0xc0) != 0x80;
    if (!s->n || len < s->label_min) s->label_min = len;
    if (!s->n || len > s->label_max) s->label_max = len;
    if (!s->n || r->time_added < s->first) s->first = r->time_added;
    if (!s->n || r->time_added > s->last) s->last = r->time_added;
    s->n++;
    s->label_chars += len;
    s->image_bytes += r->image_len;
    for (int t = 0; t < s->n_tags; t++)
        if (!strcmp(s->tags[t], r->tag)) {
            s->tag_count[t]++;
            return 0;
        }
    if (s->n_tags < MAX_TAGS && (s->tags[s->n_tags] = strdup(r->tag))) s->tag_count[s->n_tags++] = 1;
    else s->other_tags++;
    return 0;
}

/* The size of dir/name, or -1 when there is none. */
static long long file_size(const char *dir, const char *name) {
    char f[PATH_MAX];
    struct stat st;
    snprintf(f, sizeof f, "%s/%s", dir, name);
    return stat(f, &st) ? -1 : (long long)st.st_size;
}

/* The bytes of the stores the readings keep beside the pool (store_cache.h). */
static long long cache_bytes(const char *dir) {
    long long g = file_size(dir, "glyphs.cache"), k = file_size(dir, "knn.cache");
    return (g > 0 ? g : 0) + (k > 0 ? k : 0);
}

static int cmd_stats(pool_args *a) {
    icstr_pool *p;
    icstr_pool_info info;
    stats_acc s;
    memset(&s, 0, sizeof s);
    int rc = icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p);
    if (!rc) {
        if (!(rc = icstr_pool_get_info(p, &info))) rc = icstr_pool_foreach(p, 0, stats_one, &s);
        icstr_pool_close(p);
    }
    if (!rc) {
        char created[32], first[32], last[32];
        format_time(info.created, created);
        format_time(s.first, first);
        format_time(s.last, last);
        double mean = s.n ? (double)s.label_chars / (double)s.n : 0.0;
        char vs[ICSTR_VIEW_TEXT];
        icstr_view_format(&info.view, vs);
        if (a->json) {
            printf("{\"pool\": ");
            icstr_json_fprint_string(stdout, a->pool);
            printf(", \"format\": %d, \"generation\": %d, \"fingerprint\": \"%s\", \"M\": %d, \"D\": %d, \"view\": \"%s\", \"model\": ",
                   info.format, info.generation, info.fingerprint, info.M, info.D, vs);
            icstr_json_fprint_string(stdout, info.model_path);
            printf(", \"created\": \"%s\", \"records\": %ld, \"next_id\": %llu, \"image_bytes\": %zu, "
                   "\"label_mean\": %.2f, \"label_min\": %ld, \"label_max\": %ld, \"file_bytes\": %lld, "
                   "\"map_bytes\": %zu, \"cache_bytes\": %lld, \"tags\": {",
                   created, s.n, (unsigned long long)info.next_id, s.image_bytes, mean, s.label_min, s.label_max,
                   file_size(a->pool, "data.mdb"), info.map_bytes, cache_bytes(a->pool));
            for (int t = 0; t < s.n_tags; t++) {
                if (t) printf(", ");
                icstr_json_fprint_string(stdout, s.tags[t]);
                printf(": %ld", s.tag_count[t]);
            }
            printf("}}\n");
        } else {
            printf("pool %s\nformat %d\ngeneration %d\nmodel %s\nfingerprint %s\nM %d\nD %d\ncreated %s\n"
                   "records %ld\nnext_id %llu\nimage_bytes %zu\nlabel_chars mean %.2f min %ld max %ld\n",
                   a->pool, info.format, info.generation, info.model_path[0] ? info.model_path : "(unknown)",
                   info.fingerprint, info.M, info.D, created, s.n, (unsigned long long)info.next_id, s.image_bytes,
                   mean, s.label_min, s.label_max);
            if (s.n) printf("added %s .. %s\n", first, last);
            printf("file_bytes %lld\nmap_bytes %zu\nused_bytes %zu\ncache_bytes %lld\n", file_size(a->pool, "data.mdb"),
                   info.map_bytes, info.used_bytes, cache_bytes(a->pool));
            printf("view %s\n", vs);
            for (int t = 0; t < s.n_tags; t++) printf("tag %s\t%ld\n", s.tags[t], s.tag_count[t]);
            if (s.other_tags) printf("tag (%d+ others)\t%ld\n", MAX_TAGS, s.other_tags);
        }
    }
    for (int t = 0; t < s.n_tags; t++) free(s.tags[t]);
    return rc ? runtime_error("stats", rc) : 0;
}

/* ---- check ---- */

#define MAX_PROBLEM_LINES 50

typedef struct {
    long shown, hidden;
    int list;
} check_out;

static void check_problem(void *user, uint64_t id, const char *what) {
    check_out *c = user;
    if (c->shown >= MAX_PROBLEM_LINES) {
        c->hidden++;
        return;
    }
    c->shown++;
    if (id) fprintf(stderr, "icstr pool check: record %llu: %s\n", (unsigned long long)id, what);
    else fprintf(stderr, "icstr pool check: %s\n", what);
}

static int check_list(void *user, const icstr_pool_record *r) {
    (void)user;
    /* the digest of the canonical encoding: every field, whatever version the record was stored in */
    unsigned char *b;
    size_t n;
    int rc = icstr_pool_record_encode(r, &b, &n);
    if (rc) return icstr_fail_context(rc, "record %llu", (unsigned long long)r->id);
    printf("%llu\t%016llx\t%016llx\t%s\n", (unsigned long long)r->id, (unsigned long long)r->image_hash,
           (unsigned long long)icstr_pool_hash(b, n), r->label);
    free(b);
    return 0;
}

static int cmd_check(pool_args *a) {
    icstr_pool *p;
    icstr_pool_check_report rep;
    check_out c = {0, 0, a->list};
    int rc = icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p);
    if (!rc) {
        rc = icstr_pool_check(p, a->list ? check_list : NULL, check_problem, &c, &rep);
        icstr_pool_close(p);
    }
    if (rc) return runtime_error("check", rc);
    if (c.hidden) fprintf(stderr, "icstr pool check: ... and %ld more problems\n", c.hidden);
    FILE *f = a->list ? stderr : stdout;
    fprintf(f, "pool %s: %ld records intact (%ld with a checksum, %ld older without), %ld bad records, %ld bad "
               "search entries, %ld duplicate index problems (%ld stale entries), next_id %s: %s\n",
            a->pool, rep.records, rep.checksummed, rep.records - rep.checksummed, rep.bad_records, rep.bad_entries,
            rep.bad_index, rep.stale_index, rep.next_id_ok ? "ok" : "WRONG", rep.problems ? "DAMAGED" : "intact");
    return rep.problems ? 1 : 0;
}

/* ---- export, reembed ---- */

static int cmd_export(pool_args *a) {
    if (a->n_pos != 1) return usage_error("export", "%s", "wants P OUT.lmdb");
    icstr_pool *p;
    long n = 0;
    int rc = icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p);
    if (!rc) {
        rc = icstr_pool_export(p, a->pos[0], &n);
        icstr_pool_close(p);
    }
    if (rc) return runtime_error("export", rc);
    printf("exported %ld records to %s\n", n, a->pos[0]);
    return 0;
}

static int cmd_reembed(pool_args *a) {
    if (!a->model) return usage_error("reembed", "%s", "--model M is required");
    icstr_set_threads((int)a->threads);
    icstr_model *m;
    if (load_model("reembed", a->model, &m)) return 1;
    char abs[PATH_MAX];
    long n = 0;
    int rc = icstr_pool_reembed(a->pool, m, realpath(a->model, abs) ? abs : a->model, NULL, (int)a->chunk, &n);
    icstr_model_free(m);
    if (rc) return runtime_error("reembed", rc);
    printf("re-embedded %ld records of %s for %s\n", n, a->pool, a->model);
    return 0;
}

/* ---- view ---- */

static int set_view(pool_args *a, const char *model_path, icstr_model *m, const icstr_view *v) {
    char abs[PATH_MAX], vs[ICSTR_VIEW_TEXT];
    long n = 0;
    int rc = icstr_pool_reembed(a->pool, m, realpath(model_path, abs) ? abs : model_path, v, (int)a->chunk, &n);
    if (rc) return runtime_error("view", rc);
    icstr_view_format(v, vs);
    printf("view %s (%ld records re-embedded)\n", vs, n);
    return 0;
}

/* "alternates V1 V2 ..." (nothing when there are none) */
static void print_alternates(const icstr_view *alt, int k) {
    for (int i = 0; i < k; i++) {
        char vs[ICSTR_VIEW_TEXT];
        icstr_view_format(&alt[i], vs);
        printf("%s%s", i ? " " : "alternates ", vs);
    }
    if (k) printf("\n");
}

/* the best views but the chosen one (most right, then 1 - NED, then the earlier); none when the
 * whole crop stays: its crops are tight word crops, which every cut view reads worse (receipt
 * lines, where the pool of short lines cannot show it: alternates as good on the 143 records
 * of the 100-line pool read 0.53 where the whole line reads 0.67) */
static int set_alternates(pool_args *a, icstr_model *m, const icstr_view_score *sc, int n, int chosen) {
    icstr_view alt[ICSTR_POOL_ALTERNATES_MAX];
    unsigned char taken[ICSTR_VIEW_CANDIDATES] = {0};
    int k = 0;
    taken[chosen] = 1;
    for (; chosen && k < ICSTR_POOL_ALTERNATES_MAX && k < n - 1; k++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || sc[i].right > sc[best].right ||
                              (sc[i].right == sc[best].right && sc[i].one_minus_ned > sc[best].one_minus_ned)))
                best = i;
        taken[best] = 1;
        alt[k] = sc[best].view;
    }
    icstr_pool *p;
    int rc = icstr_pool_open(a->pool, m, 0, &p);
    if (!rc) {
        rc = icstr_pool_set_alternates(p, alt, k);
        icstr_pool_close(p);
    }
    if (rc) return runtime_error("view", rc);
    print_alternates(alt, k);
    return 0;
}

static int cmd_view(pool_args *a) {
    if (a->view_auto && a->view_set) return usage_error("view", "%s", "--auto and --set exclude each other");
    char vs[ICSTR_VIEW_TEXT], hint[PATH_MAX];
    if (!a->view_auto && !a->view_set) {
        icstr_pool *p;
        int rc = icstr_pool_open(a->pool, NULL, ICSTR_POOL_RDONLY, &p);
        if (rc) return runtime_error("view", rc);
        icstr_view v = icstr_pool_view(p), alt[ICSTR_POOL_ALTERNATES_MAX];
        int k = icstr_pool_alternates(p, alt, ICSTR_POOL_ALTERNATES_MAX);
        icstr_pool_close(p);
        icstr_view_format(&v, vs);
        printf("view %s\n", vs);
        print_alternates(alt, k);
        return 0;
    }
    icstr_view v;
    if (a->view_set && icstr_view_parse(a->view_set, &v)) return usage_error("view", "%s", icstr_last_error());
    icstr_set_threads((int)a->threads);
    const char *mp = model_for(a, hint, sizeof hint);
    icstr_model *m;
    if (load_model("view", mp, &m)) return 1;
    int ret;
    if (a->view_set) {
        ret = set_view(a, mp, m, &v);
    } else {
        icstr_view cand[ICSTR_VIEW_CANDIDATES];
        icstr_view_score sc[ICSTR_VIEW_CANDIDATES];
        int n = icstr_view_candidates(cand, ICSTR_VIEW_CANDIDATES);
        icstr_pool *p;
        int rc = icstr_pool_open(a->pool, m, ICSTR_POOL_RDONLY, &p);
        if (!rc) {
            rc = icstr_pool_view_scores(p, cand, n, a->max_records, ICSTR_SCORE_STANDARD, sc);
            icstr_pool_close(p);
        }
        if (rc) {
            icstr_model_free(m);
            return runtime_error("view", rc);
        }
        int best = icstr_view_choose(sc, n);
        printf("view\tright\tscored\taccuracy\t1-NED\tgained\tlost\n");
        for (int i = 0; i < n; i++) {
            icstr_view_format(&sc[i].view, vs);
            printf("%s\t%ld\t%ld\t%.4f\t%.4f\t%ld\t%ld%s\n", vs, sc[i].right, sc[i].n,
                   sc[i].n ? (double)sc[i].right / (double)sc[i].n : 0.0, sc[i].one_minus_ned, sc[i].gained, sc[i].lost,
                   i == best ? "\tchosen" : "");
        }
        ret = set_view(a, mp, m, &cand[best]);
        if (!ret) ret = set_alternates(a, m, sc, n, best);
    }
    icstr_model_free(m);
    return ret;
}

int icstr_cmd_pool(int argc, char **argv) {
    if (argc < 2) {
        pool_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (is_help(sub) || !strcmp(sub, "help")) {
        pool_usage(stdout);
        return 0;
    }
    if (!sub_usage(sub)) {
        fprintf(stderr, "icstr pool: unknown subcommand '%s'\n\n", sub);
        pool_usage(stderr);
        return 2;
    }
    pool_args a;
    int r = parse_args(argc - 1, argv + 1, !strcmp(sub, "add") ? 2 : !strcmp(sub, "export") ? 1 : 0,
                       !strcmp(sub, "rm"), &a);
    int ret;
    if (r == 1) ret = 0;
    else if (r) ret = 2;
    else if (!strcmp(sub, "create")) ret = cmd_create(&a);
    else if (!strcmp(sub, "add")) ret = cmd_add(&a);
    else if (!strcmp(sub, "ls")) ret = cmd_ls(&a);
    else if (!strcmp(sub, "rm")) ret = cmd_rm(&a);
    else if (!strcmp(sub, "stats")) ret = cmd_stats(&a);
    else if (!strcmp(sub, "export")) ret = cmd_export(&a);
    else if (!strcmp(sub, "check")) ret = cmd_check(&a);
    else if (!strcmp(sub, "view")) ret = cmd_view(&a);
    else ret = cmd_reembed(&a);
    free(a.ids);
    return ret;
}
