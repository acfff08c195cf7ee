/* `icstr data`: dataset tools. pack (a gt.txt folder, or any dataset, to an STR LMDB), info
 * (counts, label lengths, charset, image sizes), show (a contact sheet PNG), and synth (the
 * renderer's command, dispatched to icstr_cmd_data_synth). Results to stdout, progress and
 * warnings to stderr; exit 0 ok, 1 runtime failure, 2 usage. */
#include "cli.h"
#include "cli_args.h"
#include "icstr_data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void data_usage(FILE *f) {
    fprintf(f,
            "usage: icstr data SUBCOMMAND [ARGS...]   (icstr data SUBCOMMAND --help)\n\n"
            "subcommands:\n"
            "  pack DIR OUT.lmdb     pack a gt.txt folder (or any dataset) into an STR LMDB\n"
            "  info PATH             count, label lengths, charset, image sizes of a dataset\n"
            "  show PATH --out PNG   a contact sheet of samples with their labels\n"
            "  unpack PATH OUTDIR    write a dataset out as image files and a gt.txt\n"
            "  synth ...             render synthetic word crops (see icstr data synth --help)\n\n"
            "PATH is an STR LMDB directory (holding data.mdb), a folder holding gt.txt, or a\n"
            "list file of `path<TAB>label` lines.\n");
}

static int is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "icstr data %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (icstr data %s --help)\n", cmd);
    return 2;
}

static int runtime_error(const char *cmd, int rc) {
    fprintf(stderr, "icstr data %s: %s: %s\n", cmd, icstr_strerror(rc), icstr_last_error());
    return 1;
}

/* ---- pack ---- */

static void pack_usage(FILE *f) {
    fprintf(f,
            "usage: icstr data pack DIR OUT.lmdb [--force] [--no-verify]\n\n"
            "Packs a dataset (a gt.txt folder, a list file or another STR LMDB) into an STR LMDB\n"
            "directory (num-samples, image-%%09d, label-%%09d). Every image is decoded first and\n"
            "samples that cannot be read, decoded or labelled are skipped, reported and counted.\n\n"
            "  --force      overwrite OUT.lmdb when it already holds a data.mdb\n"
            "  --no-verify  do not decode the images (faster; keeps undecodable ones)\n");
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int cmd_pack(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    int force = 0, verify = 1;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            pack_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--force")) force = 1;
        else if (!strcmp(argv[i], "--no-verify")) verify = 0;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("pack", "unknown option %s", argv[i]);
        else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else return usage_error("pack", "unexpected argument %s", argv[i]);
    }
    if (!in || !out) return usage_error("pack", "%s", "needs DIR and OUT.lmdb");
    char mdb[PATH_MAX];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", out);
    struct stat st;
    if (!force && !stat(mdb, &st)) {
        fprintf(stderr, "icstr data pack: %s already exists; --force overwrites it\n", mdb);
        return 1;
    }
    if (same_file(in, out) || same_file(in, mdb)) {
        fprintf(stderr, "icstr data pack: %s is the input itself\n", out);
        return 1;
    }
    icstr_dataset *ds;
    int rc = icstr_dataset_open(in, &ds);
    if (rc) return runtime_error("pack", rc);
    icstr_str_writer *w;
    if ((rc = icstr_str_writer_open(out, &w))) {
        icstr_dataset_close(ds);
        return runtime_error("pack", rc);
    }
    long n = icstr_dataset_count(ds), unreadable = 0, undecodable = 0, too_big = 0, bad_label = 0;
    double t0 = icstr_now_seconds(), last = t0;
    ICSTR_INFO("packing %ld samples from %s into %s", n, in, out);
    for (long i = 0; i < n && !rc; i++) {
        const unsigned char *bytes;
        size_t len;
        const char *label, *name;
        int grc = icstr_dataset_get(ds, i, &bytes, &len, &label, &name);
        if (grc) {
            ICSTR_WARN("skipped: %s", icstr_last_error());
            unreadable++;
            continue;
        }
        if (verify) {
            icstr_image img;
            grc = icstr_image_load_memory(bytes, len, name, &img);
            icstr_image_free(&img);
            if (grc) {
                ICSTR_WARN("skipped: %s", icstr_last_error());
                if (grc == ICSTR_ERR_LIMIT) too_big++;
                else undecodable++;
                continue;
            }
        }
        if (!icstr_utf8_valid(label, strlen(label))) {
            ICSTR_WARN("skipped: %s: label is not valid UTF-8", name);
            bad_label++;
            continue;
        }
        rc = icstr_str_writer_add(w, bytes, len, label, NULL);
        double now = icstr_now_seconds();
        if (now - last >= 2.0 || i + 1 == n) {
            ICSTR_INFO("%ld / %ld (%.0f samples/s)", i + 1, n, (i + 1) / (now - t0 + 1e-9));
            last = now;
        }
    }
    long packed = icstr_str_writer_count(w);
    if (rc) icstr_str_writer_close(w);
    else rc = icstr_str_writer_close(w);
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    icstr_dataset_close(ds);
    if (rc) return runtime_error("pack", rc);
    long skipped = bad.total + unreadable + undecodable + too_big + bad_label;
    printf("packed %ld samples into %s; skipped %ld: %ld bad list lines (no TAB %ld, empty path "
           "%ld, bad UTF-8 %ld), %ld unreadable files, %ld undecodable images, %ld over the size "
           "limits, %ld bad labels\n",
           packed, out, skipped, bad.total, bad.no_tab, bad.empty_path, bad.bad_utf8, unreadable,
           undecodable, too_big, bad_label);
    return packed == 0 && skipped > 0 ? 1 : 0;
}

/* ---- info ---- */

/* Counts per code point: a direct table for ASCII, an open-addressing hash for the rest. */
typedef struct {
    long ascii[128];
    unsigned *keys; /* 0 = empty slot (U+0000 never reaches here: labels are C strings) */
    long *vals;
    size_t cap, used;
} cp_counts;

static int cp_add(cp_counts *c, unsigned cp) {
    if (cp < 128) {
        c->ascii[cp]++;
        return 0;
    }
    if (c->used * 2 >= c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        unsigned *nk = calloc(ncap, sizeof *nk);
        long *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return -1;
        }
        for (size_t i = 0; i < c->cap; i++)
            if (c->keys[i]) {
                size_t h = (c->keys[i] * 2654435761u) & (ncap - 1);
                while (nk[h]) h = (h + 1) & (ncap - 1);
                nk[h] = c->keys[i];
                nv[h] = c->vals[i];
            }
        free(c->keys);
        free(c->vals);
        c->keys = nk;
        c->vals = nv;
        c->cap = ncap;
    }
    size_t h = (cp * 2654435761u) & (c->cap - 1);
    while (c->keys[h] && c->keys[h] != cp) h = (h + 1) & (c->cap - 1);
    if (!c->keys[h]) {
        c->keys[h] = cp;
        c->used++;
    }
    c->vals[h]++;
    return 0;
}

typedef struct {
    unsigned cp;
    long n;
} cp_count;

static int by_count(const void *a, const void *b) {
    const cp_count *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? 1 : -1;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

static void print_cp(unsigned cp) {
    if (cp == ' ') printf("SP");
    else if (cp > 32 && cp < 127) printf("%c", (char)cp);
    else if (cp < 32 || cp == 127 || (cp >= 0x80 && cp < 0xA0) || cp == 0xFFFD) printf("U+%04X", cp);
    else {
        char e[5] = {0};
        if (cp < 0x800) {
            e[0] = (char)(0xC0 | (cp >> 6));
            e[1] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            e[0] = (char)(0xE0 | (cp >> 12));
            e[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            e[2] = (char)(0x80 | (cp & 0x3F));
        } else {
            e[0] = (char)(0xF0 | (cp >> 18));
            e[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            e[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            e[3] = (char)(0x80 | (cp & 0x3F));
        }
        printf("%s(U+%04X)", e, cp);
    }
}

static void info_usage(FILE *f) {
    fprintf(f,
            "usage: icstr data info PATH [--sample N]\n\n"
            "Prints the number of samples, label lengths (code points), the charset with counts,\n"
            "how many labels leave the 94 printable ASCII characters + space, how many the\n"
            "standard protocol would skip, and image sizes over N evenly spaced samples\n"
            "(default 500; 0 for all).\n");
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    long sample = 500;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            info_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--sample")) {
            if (i + 1 >= argc) return usage_error("info", "%s", "--sample needs a count >= 0");
            if (icstr_cli_long("icstr data info", "--sample", argv[++i], 0, LONG_MAX, &sample)) return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) return usage_error("info", "unknown option %s", argv[i]);
        else if (!path) path = argv[i];
        else return usage_error("info", "unexpected argument %s", argv[i]);
    }
    if (!path) return usage_error("info", "%s", "needs PATH");
    icstr_dataset *ds;
    int rc = icstr_dataset_open(path, &ds);
    if (rc) return runtime_error("info", rc);
    long n = icstr_dataset_count(ds);
    cp_counts cc;
    memset(&cc, 0, sizeof cc);
    long min_len = LONG_MAX, max_len = 0, empty = 0, outside = 0, with_space = 0, bad_utf8 = 0,
         std_skip = 0;
    double sum_len = 0;
    unsigned *cps = NULL;
    size_t cps_cap = 0;
    for (long i = 0; i < n && !rc; i++) {
        const char *label;
        if ((rc = icstr_dataset_get(ds, i, NULL, NULL, &label, NULL))) break;
        size_t bl = strlen(label);
        if (!icstr_utf8_valid(label, bl)) bad_utf8++;
        size_t L = icstr_utf8_decode(label, bl, NULL, 0);
        if (L > cps_cap) {
            free(cps);
            cps_cap = L * 2;
            if (!(cps = malloc(cps_cap * sizeof *cps))) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "label of %zu characters", L);
                break;
            }
        }
        icstr_utf8_decode(label, bl, cps, L);
        int out94 = 0, sp = 0;
        for (size_t k = 0; k < L; k++) {
            if (cp_add(&cc, cps[k])) rc = icstr_fail(ICSTR_ERR_NOMEM, "charset table");
            if (cps[k] < 0x20 || cps[k] > 0x7E) out94 = 1;
            if (cps[k] == ' ') sp = 1;
        }
        outside += out94;
        with_space += sp;
        empty += L == 0;
        std_skip += icstr_score_skips(ICSTR_SCORE_STANDARD, label);
        if ((long)L < min_len) min_len = (long)L;
        if ((long)L > max_len) max_len = (long)L;
        sum_len += (double)L;
    }
    free(cps);
    if (rc) {
        free(cc.keys);
        free(cc.vals);
        icstr_dataset_close(ds);
        return runtime_error("info", rc);
    }
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    printf("path: %s\nkind: %s\nsamples: %ld\n", path,
           icstr_dataset_kind(ds) == ICSTR_DATASET_LMDB ? "STR LMDB" : "gt.txt folder", n);
    if (icstr_dataset_kind(ds) == ICSTR_DATASET_FOLDER)
        printf("bad list lines: %ld (no TAB %ld, empty path %ld, bad UTF-8 %ld), blank lines %ld\n",
               bad.total, bad.no_tab, bad.empty_path, bad.bad_utf8, bad.blank);
    if (n > 0)
        printf("label length (code points): min %ld, mean %.2f, max %ld\n", min_len, sum_len / n,
               max_len);
    printf("labels: %ld empty, %ld with a space, %ld with a character outside the 94 printable "
           "ASCII + space, %ld not valid UTF-8, %ld skipped by the standard protocol\n",
           empty, with_space, outside, bad_utf8, std_skip);
    /* charset, most frequent first */
    size_t distinct = cc.used;
    for (int c = 0; c < 128; c++) distinct += cc.ascii[c] > 0;
    cp_count *list = malloc((distinct ? distinct : 1) * sizeof *list);
    if (list) {
        size_t k = 0;
        for (int c = 0; c < 128; c++)
            if (cc.ascii[c]) list[k++] = (cp_count){(unsigned)c, cc.ascii[c]};
        for (size_t i = 0; i < cc.cap; i++)
            if (cc.keys[i]) list[k++] = (cp_count){cc.keys[i], cc.vals[i]};
        qsort(list, k, sizeof *list, by_count);
        printf("charset: %zu distinct characters\n", k);
        for (size_t i = 0; i < k; i++) {
            printf("  ");
            print_cp(list[i].cp);
            printf(" %ld", list[i].n);
            if (i % 10 == 9 || i + 1 == k) printf("\n");
        }
        free(list);
    }
    free(cc.keys);
    free(cc.vals);
    /* image sizes over evenly spaced samples (header only) */
    long m = sample == 0 || sample > n ? n : sample;
    long got = 0, failed = 0, wmin = LONG_MAX, wmax = 0, hmin = LONG_MAX, hmax = 0;
    double wsum = 0, hsum = 0, asum = 0;
    const char *fmts[6] = {"png", "jpeg", "bmp", "gif", "pnm", "other"};
    long fmt_n[6] = {0};
    for (long j = 0; j < m; j++) {
        long i = (long)((double)j * n / m);
        const unsigned char *bytes;
        size_t len;
        const char *name;
        int w, h;
        if (icstr_dataset_get(ds, i, &bytes, &len, NULL, &name) ||
            icstr_image_info_memory(bytes, len, name, &w, &h, NULL)) {
            if (failed++ < 5) ICSTR_WARN("%s", icstr_last_error());
            continue;
        }
        const char *f = icstr_image_format_name(bytes, len);
        for (int k = 0; k < 6; k++)
            if (!strcmp(f, fmts[k])) fmt_n[k]++;
        got++;
        wsum += w;
        hsum += h;
        asum += (double)w / h;
        if (w < wmin) wmin = w;
        if (w > wmax) wmax = w;
        if (h < hmin) hmin = h;
        if (h > hmax) hmax = h;
    }
    icstr_dataset_close(ds);
    printf("images (headers of %ld of %ld samples): %ld read, %ld failed\n", m, n, got, failed);
    if (got) {
        printf("  width  min %ld, mean %.1f, max %ld\n  height min %ld, mean %.1f, max %ld\n"
               "  aspect (w/h) mean %.2f\n  formats:",
               wmin, wsum / got, wmax, hmin, hsum / got, hmax, asum / got);
        for (int k = 0; k < 6; k++)
            if (fmt_n[k]) printf(" %s %ld", fmts[k], fmt_n[k]);
        printf("\n");
    }
    return 0;
}

/* ---- show ---- */

static void show_usage(FILE *f) {
    fprintf(f,
            "usage: icstr data show PATH --out SHEET.png [--n 64] [--start K] [--seed S]\n"
            "                       [--cols 4] [--keep-aspect]\n\n"
            "Writes a contact sheet: n samples, each resized to a 256 x 64 cell (the model input\n"
            "at 2x, aspect not kept unless --keep-aspect) with its label under it (non-ASCII\n"
            "characters drawn as '?'). Samples K, K+1, ... by default; --seed S picks n random\n"
            "samples instead. Undecodable images are drawn as a crossed grey cell.\n");
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int cmd_show(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    long n = 64, start = 0, seed = -1, cols = 4;
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            show_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--out")) {
            if (i + 1 >= argc) return usage_error("show", "%s", "--out needs a file");
            out = argv[++i];
        } else if (!strcmp(a, "--n")) {
            if (i + 1 >= argc) return usage_error("show", "%s", "--n needs a count in 1..1024");
            if (icstr_cli_long("icstr data show", "--n", argv[++i], 1, 1024, &n)) return 2;
        } else if (!strcmp(a, "--start")) {
            if (i + 1 >= argc) return usage_error("show", "%s", "--start needs an index >= 0");
            if (icstr_cli_long("icstr data show", "--start", argv[++i], 0, LONG_MAX, &start)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (i + 1 >= argc) return usage_error("show", "%s", "--seed needs a number >= 0");
            if (icstr_cli_long("icstr data show", "--seed", argv[++i], 0, LONG_MAX, &seed)) return 2;
        } else if (!strcmp(a, "--cols")) {
            if (i + 1 >= argc) return usage_error("show", "%s", "--cols needs a count in 1..64");
            if (icstr_cli_long("icstr data show", "--cols", argv[++i], 1, 64, &cols)) return 2;
        } else if (!strcmp(a, "--keep-aspect")) keep = 1;
        else if (a[0] == '-' && a[1]) return usage_error("show", "unknown option %s", a);
        else if (!path) path = a;
        else return usage_error("show", "unexpected argument %s", a);
    }
    if (!path || !out) return usage_error("show", "%s", "needs PATH and --out SHEET.png");
    icstr_dataset *ds;
    int rc = icstr_dataset_open(path, &ds);
    if (rc) return runtime_error("show", rc);
    long count = icstr_dataset_count(ds);
    long idx[1024], k = 0;
    if (seed >= 0) {
        if (n > count) n = count;
        icstr_rng rng;
        icstr_rng_seed(&rng, (uint64_t)seed);
        while (k < n) { /* distinct indices by rejection: n <= 1024 */
            long c = (long)(icstr_rng_u64(&rng) % (uint64_t)count);
            int dup = 0;
            for (long j = 0; j < k && !dup; j++) dup = idx[j] == c;
            if (!dup) idx[k++] = c;
        }
        qsort(idx, (size_t)k, sizeof *idx, cmp_long);
    } else {
        for (long i = start; i < count && k < n; i++) idx[k++] = i;
    }
    if (k == 0) {
        icstr_dataset_close(ds);
        fprintf(stderr, "icstr data show: %s has no samples from %ld (it holds %ld)\n", path, start,
                count);
        return 1;
    }
    icstr_sheet_params sp = icstr_sheet_default_params();
    sp.cols = (int)cols;
    sp.keep_aspect = keep;
    icstr_sheet *sheet;
    if ((rc = icstr_sheet_create(&sp, (int)k, &sheet))) {
        icstr_dataset_close(ds);
        return runtime_error("show", rc);
    }
    long bad = 0;
    for (long j = 0; j < k && !rc; j++) {
        const unsigned char *bytes;
        size_t len;
        const char *label = NULL, *name = NULL;
        icstr_image img = {0, 0, NULL};
        int grc = icstr_dataset_get(ds, idx[j], &bytes, &len, &label, &name);
        if (!grc) grc = icstr_image_load_memory(bytes, len, name, &img);
        if (grc) {
            ICSTR_WARN("%s", icstr_last_error());
            bad++;
        }
        rc = icstr_sheet_add(sheet, grc ? NULL : &img, label, NULL);
        icstr_image_free(&img);
    }
    if (!rc) rc = icstr_sheet_write_png(sheet, out);
    const icstr_image *si = icstr_sheet_image(sheet);
    if (!rc)
        printf("wrote %s: %ld samples of %s (%ld undecodable), %d x %d pixels\n", out, k, path, bad,
               si->w, si->h);
    icstr_sheet_free(sheet);
    icstr_dataset_close(ds);
    return rc ? runtime_error("show", rc) : 0;
}

int icstr_cmd_data(int argc, char **argv) {
    if (argc < 2) {
        data_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (is_help(sub) || !strcmp(sub, "help")) {
        data_usage(stdout);
        return 0;
    }
    if (!strcmp(sub, "pack")) return cmd_pack(argc - 1, argv + 1);
    if (!strcmp(sub, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(sub, "show")) return cmd_show(argc - 1, argv + 1);
    if (!strcmp(sub, "synth")) return icstr_cmd_data_synth(argc - 1, argv + 1);
    if (!strcmp(sub, "unpack")) return icstr_cmd_data_unpack(argc - 1, argv + 1);
    fprintf(stderr, "icstr data: unknown subcommand '%s'\n\n", sub);
    data_usage(stderr);
    return 2;
}
