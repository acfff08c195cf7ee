/* `icstr pool ...`, `icstr recognize --pool` and `icstr eval --pool` end to end, with two tiny
 * models saved to temporary files: exit codes (0 ok, 1 runtime, 2 usage), what goes to stdout
 * and stderr, the model hint kept in the pool, the fingerprint refusal that points at reembed,
 * and export read back with icstr_dataset. Runs the icstr binary of the build directory
 * ($ICSTR_BUILD_DIR, set by ctest; else next to this test's directory). */
#include "check.h"
#include "tiny_pool_model.h"
#include "icstr_data.h"
#include "model_io.h"
#include "icstr_pool.h"

#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256], icstr_bin[PATH_MAX], out_txt[300], err_txt[300];
static char out[65536], err[65536];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void slurp(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs `icstr ARGS` (ARGS already shell-quoted) in tmp; returns the exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char args[2048], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd %s && %s %s > %s 2> %s", tmp, icstr_bin, args, out_txt, err_txt);
    int st = system(cmd);
    slurp(out_txt, out, sizeof out);
    slurp(err_txt, err, sizeof err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* occurrences of what in s */
static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *at = s; (at = strstr(at, what)); at += strlen(what)) n++;
    return n;
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void save_model(uint64_t seed, const char *name) {
    icstr_model *m = tiny_pool_model(seed);
    char p[300];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    if (icstr_model_save(m, p, ICSTR_ST_F32, NULL, NULL, 0)) exit(1);
    icstr_model_free(m);
}

static void write_crop(const char *rel, const char *label, int variant) {
    icstr_rng r;
    icstr_rng_seed(&r, (uint64_t)variant);
    unsigned char bg[3] = {(unsigned char)(150 + icstr_rng_below(&r, 100)), 210, 230};
    unsigned char fg[3] = {10, (unsigned char)icstr_rng_below(&r, 90), 30};
    icstr_image im;
    if (icstr_image_alloc(60, 14, bg, &im)) exit(1);
    icstr_draw_text(&im, 2, 3, label, 1, fg);
    char p[300];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    if (icstr_image_write_png(p, im.w, im.h, 3, im.rgb)) exit(1);
    icstr_image_free(&im);
}

static void find_binary(void) {
    const char *bd = getenv("ICSTR_BUILD_DIR");
    if (bd && *bd) {
        snprintf(icstr_bin, sizeof icstr_bin, "%s/icstr", bd);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) n = 0;
    self[n] = 0;
    snprintf(icstr_bin, sizeof icstr_bin, "%s/../icstr", dirname(self));
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/icstr-pool-cli-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    find_binary();
    if (access(icstr_bin, X_OK)) {
        fprintf(stderr, "no icstr binary at %s\n", icstr_bin);
        return 1;
    }
    snprintf(out_txt, sizeof out_txt, "%s/out.txt", tmp);
    snprintf(err_txt, sizeof err_txt, "%s/err.txt", tmp);
    setenv("ICSTR_THREADS", "1", 1);
    save_model(1, "a.safetensors");
    save_model(2, "b.safetensors");
    /* a labelled folder: 8 crops, one a copy of single.png's bytes, one with a label the
     * model cannot write */
    char d[300];
    snprintf(d, sizeof d, "%s/set", tmp);
    CHECK(mkdir(d, 0775) == 0);
    const char *labels[8] = {"abc", "shop", "a#b", "open", "x1y2", "cafe", "exit", "abc"};
    char gtp[320];
    snprintf(gtp, sizeof gtp, "%s/gt.txt", d);
    FILE *gt = fopen(gtp, "w");
    if (!gt) return 1;
    for (int i = 0; i < 8; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "set/%d.png", i);
        write_crop(rel, labels[i], i == 7 ? 100 : i); /* 7 is drawn like single.png */
        fprintf(gt, "%d.png\t%s\n", i, labels[i]);
    }
    fclose(gt);
    write_crop("single.png", "abc", 100);

    /* usage */
    CHECK(run("pool --help") == 0 && strstr(out, "reembed"));
    CHECK(run("pool add --help") == 0 && strstr(out, "--chunk"));
    CHECK(run("pool frob P") == 2);
    CHECK(run("pool") == 2);
    CHECK(run("pool add P") == 2);
    CHECK(run("pool ls") == 2 && strstr(err, "no pool path"));
    CHECK(run("pool create P --bogus") == 2);
    CHECK(run("pool ls P --data x") == 2 && strstr(err, "unknown option --data"));
    CHECK(run("recognize --model a.safetensors --shots 2 single.png") == 2 && strstr(err, "need --pool"));
    CHECK(run("eval --data set --model a.safetensors --shots 2") == 2 && strstr(err, "need --pool"));
    /* create; never over an existing pool */
    CHECK_MSG(run("pool create P --model a.safetensors") == 0, "%s", err);
    CHECK(strstr(out, "created pool P"));
    CHECK(run("pool create P --model a.safetensors") == 1 && strstr(err, "already"));
    /* add one crop without --model: the pool remembers a.safetensors */
    CHECK_MSG(run("pool add P single.png abc") == 0, "%s", err);
    CHECK(!strcmp(out, "1\tabc\n"));
    CHECK(run("pool add P single.png abc") == 0 && strstr(out, "already in the pool"));
    CHECK(run("pool add P single.png 'a b'") == 1 && strstr(err, "'a b'"));
    /* a set in chunks of 3: the refused label is named, the copy is not added twice */
    CHECK(run("pool add P --data set --chunk 3 --tag shop") == 1);
    CHECK_MSG(strstr(out, "added 6, already present 1, refused 1, unreadable 0 (of 8)"), "%s", out);
    CHECK_MSG(strstr(err, "a#b"), "%s", err);
    CHECK(run("pool ls P") == 0 && lines(out) == 7 && !strncmp(out, "1\tabc\tmanual\t", 13));
    CHECK(strstr(out, "\tshop\tshop\t"));
    CHECK(run("pool ls P --json") == 0 && lines(out) == 7 && !strncmp(out, "{\"id\": 1, \"label\": \"abc\", ", 26));
    CHECK(run("pool stats P") == 0 && strstr(out, "records 7\n") && strstr(out, "tag shop\t6") && strstr(out, "M 4\nD 16"));
    CHECK(run("pool stats P --json") == 0 && strstr(out, "\"records\": 7"));
    CHECK(run("pool stats P") == 0 && strstr(out, "\ncache_bytes 0\n")); /* no --glyphs / --knn reading yet */
    /* rm */
    CHECK(run("pool rm P 2 99") == 1 && strstr(out, "removed 1") && strstr(err, "no record 99"));
    CHECK(run("pool rm P x") == 2);
    CHECK(run("pool ls P") == 0 && lines(out) == 6);
    /* export */
    CHECK(run("pool export P out.lmdb") == 0 && strstr(out, "exported 6"));
    char o[300];
    snprintf(o, sizeof o, "%s/out.lmdb", tmp);
    icstr_dataset *ds;
    CHECK(icstr_dataset_open(o, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 6);
    const char *lab;
    CHECK(icstr_dataset_get(ds, 0, NULL, NULL, &lab, NULL) == ICSTR_OK && !strcmp(lab, "abc"));
    icstr_dataset_close(ds);
    /* recognize and eval with the pool */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 2 set") == 0, "%s", err);
    CHECK(lines(out) == 8);
    /* a --knn reading keeps its store beside the pool, which stats counts */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --knn single.png") == 0, "%s", err);
    CHECK(run("pool stats P") == 0 && strstr(out, "\ncache_bytes ") && !strstr(out, "\ncache_bytes 0\n"));
    CHECK(run("recognize --model a.safetensors --pool P --shots 9 single.png") == 1 && strstr(err, "prompts"));
    CHECK(run("recognize --model a.safetensors --pool P --shots x single.png") == 2);
    /* --json names the prompts, the most similar first: single.png finds itself (record 1) */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 2 --json single.png") == 0, "%s", err);
    CHECK_MSG(strstr(out, "\"prompts\": [{\"id\": 1, \"similarity\": 1.0000") || strstr(out, "\"prompts\": [{\"id\": 1, \"similarity\": 0.9999"), "%s", out);
    CHECK(count(out, "\"similarity\"") == 2);
    /* ... so it is read with that record alone and says so; with the trust off it is not */
    CHECK_MSG(strstr(out, "\"trusted\": true"), "%s", out);
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 2 --trust-similarity 2 --json single.png") == 0, "%s", err);
    CHECK_MSG(strstr(out, "\"trusted\": false"), "%s", out);
    /* a similarity floor keeps only the records above it: here the crop itself */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 2 --min-similarity 0.9999 --json single.png") == 0, "%s", err);
    CHECK_MSG(count(out, "\"similarity\"") == 1 && strstr(out, "{\"id\": 1, "), "%s", out);
    CHECK(run("recognize --model a.safetensors --pool P --min-similarity 1.5 single.png") == 2 && strstr(err, "[-1, 1]"));
    CHECK(run("recognize --model a.safetensors --min-similarity 0.5 single.png") == 2 && strstr(err, "need --pool"));
    /* --compare-plain says per crop whether the reading without prompts won (the choice itself:
     * test_pool), and needs a pool */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --compare-plain --json set") == 0, "%s", err);
    CHECK_MSG(lines(out) == 8 && count(out, "\"kept_plain\": ") == 8, "%s", out);
    CHECK(run("recognize --model a.safetensors --compare-plain single.png") == 2 && strstr(err, "need --pool"));
    CHECK(run("eval --data set --model a.safetensors --compare-plain") == 2 && strstr(err, "need --pool"));
    CHECK_MSG(run("eval --data set --model a.safetensors --pool P --compare-plain --json") == 0, "%s", err);
    CHECK(run("eval --data set --model a.safetensors --min-similarity 0.5") == 2 && strstr(err, "need --pool"));
    /* --knn: needs a pool, greedy only, lambda in [0, 1]; with one neighbour and lambda 1 a crop
     * of the pool reads its own label (single.png is record 1, "abc"), which the model alone
     * does not */
    CHECK(run("recognize --model a.safetensors --knn single.png") == 2 && strstr(err, "need --pool"));
    CHECK(run("recognize --model a.safetensors --pool P --knn --beam 2 single.png") == 2 && strstr(err, "greedily"));
    CHECK(run("eval --data set --model a.safetensors --pool P --knn --beam 2") == 2 && strstr(err, "greedily"));
    CHECK(run("eval --data set --model a.safetensors --pool P --knn --knn-lambda 2") == 2 && strstr(err, "[0, 1]"));
    CHECK_MSG(run("recognize --model a.safetensors single.png") == 0 && !strstr(out, "\tabc\t"), "%s", out);
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 0 --knn --knn-k 1 --knn-lambda 1 single.png") == 0 &&
                  strstr(out, "\tabc\t1.0000"),
              "%s%s", out, err);
    CHECK_MSG(run("eval --data set --model a.safetensors --pool P --knn --json") == 0, "%s", err);
    /* --lm: needs a pool, greedy only, orders in [1, 6], weight >= 0; weight 0 reads as without it */
    CHECK(run("recognize --model a.safetensors --lm single.png") == 2 && strstr(err, "need --pool"));
    CHECK(run("eval --data set --model a.safetensors --pool P --lm --beam 2") == 2 && strstr(err, "greedy"));
    CHECK(run("eval --data set --model a.safetensors --pool P --lm --lm-order 7") == 2 && strstr(err, "[1, 6]"));
    CHECK(run("eval --data set --model a.safetensors --pool P --lm --lm-weight -1") == 2 && strstr(err, "--lm-weight"));
    CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 0 set") == 0, "%s", err);
    {
        char *plain = strdup(out);
        CHECK_MSG(run("recognize --model a.safetensors --pool P --shots 0 --lm --lm-weight 0 set") == 0, "%s", err);
        CHECK_MSG(plain && !strcmp(plain, out), "--lm-weight 0:\n%s\nwithout --lm:\n%s", out, plain);
        free(plain);
    }
    CHECK_MSG(run("eval --data set --model a.safetensors --pool P --lm --json") == 0, "%s", err);
    /* --lookalikes: needs --lm (and so a pool), a weight >= 0 */
    CHECK(run("eval --data set --model a.safetensors --pool P --lookalikes") == 2 && strstr(err, "needs --lm"));
    CHECK(run("recognize --model a.safetensors --lookalikes single.png") == 2 && strstr(err, "need --pool"));
    CHECK(run("eval --data set --model a.safetensors --pool P --lm --lookalikes --lookalike-weight -1") == 2 &&
          strstr(err, "--lookalike-weight"));
    CHECK_MSG(run("eval --data set --model a.safetensors --pool P --lm --lookalikes --json") == 0 &&
                  strstr(out, "\"accuracy\""),
              "%s", err);
    CHECK(run("recognize --help") == 0 && strstr(out, "--lookalikes"));
    /* compare-plain is the default; --no-compare-plain drops kept_plain; --trust-similarity range */
    CHECK_MSG(run("recognize --model a.safetensors --pool P --json set") == 0, "%s", err);
    CHECK_MSG(count(out, "\"kept_plain\": ") == 8, "%s", out);
    CHECK_MSG(run("recognize --model a.safetensors --pool P --no-compare-plain --json set") == 0, "%s", err);
    CHECK_MSG(lines(out) == 8 && count(out, "\"kept_plain\": ") == 0, "%s", out);
    CHECK_MSG(run("recognize --model a.safetensors --pool P --trust-similarity 2 --json set") == 0, "%s", err);
    CHECK(run("recognize --model a.safetensors --pool P --trust-similarity 3 single.png") == 2 && strstr(err, "[-2, 2]"));
    CHECK(run("recognize --model a.safetensors --trust-similarity 1 single.png") == 2 && strstr(err, "need --pool"));
    /* --split-aspect: a number in [0, 1000] */
    CHECK(run("recognize --model a.safetensors --split-aspect -1 single.png") == 2 && strstr(err, "[0, 1000]"));
    CHECK(run("eval --data set --model a.safetensors --split-aspect x") == 2 && strstr(err, "--split-aspect"));
    CHECK_MSG(run("recognize --model a.safetensors --split-aspect 0 single.png") == 0, "%s", err);
    CHECK(run("recognize --model a.safetensors --pool nowhere single.png") == 1 && strstr(err, "pool create"));
    /* another model is refused until the pool is re-embedded */
    CHECK(run("recognize --model b.safetensors --pool P single.png") == 1);
    CHECK_MSG(strstr(err, "icstr pool reembed P"), "%s", err);
    CHECK(run("eval --data set --model b.safetensors --pool P") == 1 && strstr(err, "reembed"));
    CHECK(run("pool reembed P") == 2);
    CHECK_MSG(run("pool reembed P --model b.safetensors --chunk 4") == 0, "%s", err);
    CHECK(strstr(out, "re-embedded 6"));
    CHECK(run("recognize --model b.safetensors --pool P single.png") == 0 && lines(out) == 1);
    CHECK(run("recognize --model a.safetensors --pool P single.png") == 1);
    CHECK_MSG(run("eval --data set --model b.safetensors --pool P --shots 1") == 0, "%s", err);
    CHECK(strstr(out, "accuracy"));
    /* the hint followed the reembed: add without --model uses b */
    write_crop("new.png", "zz9", 55);
    CHECK_MSG(run("pool add P new.png zz9") == 0, "%s", err);
    CHECK(!strcmp(out, "8\tzz9\n"));
    CHECK(run("pool stats P") == 0 && strstr(out, "records 7\n") && strstr(out, "b.safetensors"));
    /* view: prints it, --set re-embeds under it (and crops read with the pool are cut to it:
     * the prompts' similarities change), --auto prints every candidate and keeps one */
    CHECK(run("pool view --help") == 0 && strstr(out, "--auto") && strstr(out, "TOP,BOTTOM,LEFT,RIGHT"));
    CHECK(run("pool view P") == 0 && !strcmp(out, "view full\n"));
    CHECK(run("pool stats P") == 0 && strstr(out, "\nview full\n"));
    CHECK(run("pool view P --set 0.5,0.6,0,1") == 2 && strstr(err, "at least 0.25"));
    CHECK(run("pool view P --set x") == 2 && strstr(err, "TOP,BOTTOM,LEFT,RIGHT"));
    CHECK(run("pool view P --auto --set full") == 2 && strstr(err, "exclude"));
    CHECK(run("pool view P --auto --max-records 0") == 2);
    CHECK(run("pool view nowhere --auto") == 1);
    CHECK_MSG(run("recognize --model b.safetensors --pool P --json set/1.png") == 0, "%s", err);
    {
        char *whole = strdup(out);
        CHECK_MSG(run("pool view P --set 0.2,0.9,0,1 --model b.safetensors") == 0, "%s", err);
        CHECK_MSG(!strcmp(out, "view 0.2,0.9,0,1 (7 records re-embedded)\n"), "%s", out);
        CHECK(run("pool view P") == 0 && !strcmp(out, "view 0.2,0.9,0,1\n"));
        CHECK(run("pool stats P --json") == 0 && strstr(out, "\"view\": \"0.2,0.9,0,1\""));
        CHECK_MSG(run("recognize --model b.safetensors --pool P --json set/1.png") == 0, "%s", err);
        CHECK_MSG(whole && strstr(out, "\"similarity\": 1.0000") && strcmp(whole, out), "%s", out);
        free(whole);
    }
    CHECK_MSG(run("pool view P --auto --max-records 4") == 0, "%s", err);
    CHECK_MSG(lines(out) == 42 && !strncmp(out, "view\tright\tscored\taccuracy\t1-NED\tgained\tlost\nfull\t", 50) &&
                  count(out, "\tchosen\n") == 1 && count(out, "\t4\t") == 40,
              "%s", out);
    /* this model reads none of them right under any view: the whole crop stays, no alternates */
    CHECK_MSG(strstr(out, "\nview full (7 records re-embedded)\n") && !strstr(out, "alternates"), "%s", out);
    CHECK(run("pool view P") == 0 && !strcmp(out, "view full\n"));
    /* --views without alternates reads as without it; with two (set here as --auto sets them
     * when it keeps a band) it reads the crops under three views, and `pool view` lists them */
    CHECK_MSG(run("recognize --model b.safetensors --pool P set") == 0, "%s", err);
    {
        char *one = strdup(out);
        CHECK_MSG(run("recognize --model b.safetensors --pool P --views 3 set") == 0, "%s", err);
        CHECK(one && !strcmp(one, out));
        free(one);
    }
    {
        char pp[300];
        snprintf(pp, sizeof pp, "%s/P", tmp);
        icstr_model *b = tiny_pool_model(2);
        icstr_pool *p;
        icstr_view alt[2] = {{0.25f, 0.75f, 0.0f, 1.0f}, {0.0f, 0.8f, 0.03f, 0.97f}};
        CHECK(icstr_pool_open(pp, b, 0, &p) == ICSTR_OK);
        CHECK(icstr_pool_set_alternates(p, alt, 2) == ICSTR_OK);
        icstr_pool_close(p);
        icstr_model_free(b);
    }
    CHECK_MSG(run("pool view P") == 0 && !strcmp(out, "view full\nalternates 0.25,0.75,0,1 0,0.8,0.03,0.97\n"), "%s", out);
    CHECK_MSG(run("recognize --model b.safetensors --pool P --views 3 set") == 0 && lines(out) == 8, "%s", err);
    CHECK(run("recognize --model b.safetensors --pool P --views 11 set") == 2 && strstr(err, "[1, 9]"));
    CHECK(run("recognize --model b.safetensors --views 2 set") == 2 && strstr(err, "need --pool"));
    CHECK(run("pool view P --set full") == 0 && strstr(out, "view full"));
    /* a long line whose words match its gaps is also added as its pieces, each under its word
     * (the tiny charset has no space: the whole line is refused) */
    char ld[300];
    snprintf(ld, sizeof ld, "%s/lines", tmp);
    CHECK(mkdir(ld, 0775) == 0);
    {
        icstr_image im;
        unsigned char white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
        if (icstr_image_alloc(120, 14, white, &im)) exit(1);
        icstr_draw_text(&im, 2, 3, "ab   cd   ef", 1, black);
        char p[320];
        snprintf(p, sizeof p, "%s/0.png", ld);
        if (icstr_image_write_png(p, im.w, im.h, 3, im.rgb)) exit(1);
        icstr_image_free(&im);
        snprintf(p, sizeof p, "%s/gt.txt", ld);
        FILE *f = fopen(p, "w");
        if (!f) exit(1);
        fputs("0.png\tab cd ef\n", f);
        fclose(f);
    }
    CHECK(run("pool create L --model b.safetensors") == 0);
    CHECK_MSG(run("pool add L --data lines") == 1 && strstr(out, "1 of them long lines also added in pieces"), "%s%s", out, err);
    CHECK_MSG(run("pool ls L") == 0 && lines(out) == 3 && strstr(out, "\tab\t") && strstr(out, "\tcd\t") &&
                  strstr(out, "\tef\t"), "%s", out);
    CHECK_MSG(run("pool add L --data lines --split-aspect 0") == 1 && !strstr(out, "pieces"), "%s", out);
    CHECK(run("pool add L --data lines --split-aspect x") == 2);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_pool_cli");
}
