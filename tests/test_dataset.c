/* Datasets: the STR LMDB writer read back with raw mdb calls (exact standard keys), map growth
 * and batch commits, the reader's checks of num-samples, gt.txt lists with odd lines, and the
 * detection of which kind a path is. */
#include "check.h"
#include "cli.h"
#include "icstr_data.h"

#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

static void path_of(char *out, size_t cap, const char *rel) { snprintf(out, cap, "%s/%s", tmp, rel); }

static void write_text(const char *rel, const char *text, size_t n) {
    char p[512];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

/* Raw LMDB access, independent of the code under test. */
typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
} raw_db;

static int raw_open(raw_db *r, const char *dir, int write) {
    if (mdb_env_create(&r->env)) return 0;
    mdb_env_set_mapsize(r->env, (size_t)16 << 20);
    if (mdb_env_open(r->env, dir, write ? 0 : MDB_RDONLY, 0664)) return 0;
    if (mdb_txn_begin(r->env, NULL, write ? 0 : MDB_RDONLY, &r->txn)) return 0;
    return !mdb_dbi_open(r->txn, NULL, 0, &r->dbi);
}

static void raw_close(raw_db *r, int commit) {
    if (commit) mdb_txn_commit(r->txn);
    else mdb_txn_abort(r->txn);
    mdb_env_close(r->env);
}

static int raw_get(raw_db *r, const char *key, const char *want, size_t wn) {
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(r->txn, r->dbi, &k, &v)) return 0;
    return v.mv_size == wn && !memcmp(v.mv_data, want, wn);
}

static void raw_put(raw_db *r, const char *key, const char *val) {
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
    mdb_put(r->txn, r->dbi, &k, &v, 0);
}

static void test_writer_roundtrip(void) {
    char dir[512];
    path_of(dir, sizeof dir, "a.lmdb");
    icstr_str_writer *w;
    CHECK(icstr_str_writer_open(dir, &w) == ICSTR_OK);
    long idx = 0;
    CHECK(icstr_str_writer_add(w, "IMG1", 4, "abc", &idx) == ICSTR_OK && idx == 1);
    /* refused without harming the writer */
    CHECK(icstr_str_writer_add(w, "IMG", 3, "bad\xff", &idx) == ICSTR_ERR_ARG);
    CHECK(icstr_str_writer_add(w, "IMG", 0, "x", &idx) == ICSTR_ERR_ARG);
    CHECK(icstr_str_writer_add(w, "IMG", 3, NULL, &idx) == ICSTR_ERR_ARG);
    CHECK(icstr_str_writer_put(w, "num-samples", "9", 1) == ICSTR_ERR_ARG);
    CHECK(icstr_str_writer_add(w, "IMAGE2", 6, "Caf\xc3\xa9", &idx) == ICSTR_OK && idx == 2);
    CHECK(icstr_str_writer_add(w, "I3", 2, "", NULL) == ICSTR_OK);
    CHECK(icstr_str_writer_put(w, "boxes-000000001", "0 0 4 4", 7) == ICSTR_OK);
    CHECK(icstr_str_writer_count(w) == 3);
    CHECK(icstr_str_writer_close(w) == ICSTR_OK);

    raw_db r;
    CHECK(raw_open(&r, dir, 0));
    CHECK(raw_get(&r, "num-samples", "3", 1));
    CHECK(raw_get(&r, "image-000000001", "IMG1", 4));
    CHECK(raw_get(&r, "label-000000001", "abc", 3));
    CHECK(raw_get(&r, "image-000000002", "IMAGE2", 6));
    CHECK(raw_get(&r, "label-000000002", "Caf\xc3\xa9", 5));
    CHECK(raw_get(&r, "image-000000003", "I3", 2));
    CHECK(raw_get(&r, "label-000000003", "", 0));
    CHECK(raw_get(&r, "boxes-000000001", "0 0 4 4", 7));
    /* exactly these keys, nothing else */
    static const char *keys[] = {"boxes-000000001", "image-000000001", "image-000000002",
                                 "image-000000003", "label-000000001", "label-000000002",
                                 "label-000000003", "num-samples"};
    MDB_cursor *c;
    MDB_val k, v;
    int n = 0, same = 1;
    mdb_cursor_open(r.txn, r.dbi, &c);
    while (!mdb_cursor_get(c, &k, &v, n ? MDB_NEXT : MDB_FIRST)) {
        same &= n < 8 && k.mv_size == strlen(keys[n]) && !memcmp(k.mv_data, keys[n], k.mv_size);
        n++;
    }
    mdb_cursor_close(c);
    CHECK(n == 8 && same);
    raw_close(&r, 0);

    /* the reader */
    icstr_dataset *ds;
    CHECK(icstr_dataset_open(dir, &ds) == ICSTR_OK);
    CHECK(icstr_dataset_kind(ds) == ICSTR_DATASET_LMDB);
    CHECK(icstr_dataset_count(ds) == 3);
    const unsigned char *bytes;
    size_t len;
    const char *label, *name;
    CHECK(icstr_dataset_get(ds, 1, &bytes, &len, &label, &name) == ICSTR_OK);
    CHECK(len == 6 && !memcmp(bytes, "IMAGE2", 6));
    CHECK(!strcmp(label, "Caf\xc3\xa9"));
    CHECK(strstr(name, "a.lmdb/image-000000002") != NULL);
    CHECK(icstr_dataset_get(ds, 2, &bytes, &len, &label, NULL) == ICSTR_OK && len == 2 && !*label);
    CHECK(icstr_dataset_get(ds, 3, &bytes, &len, &label, &name) == ICSTR_ERR_RANGE);
    CHECK(icstr_dataset_get(ds, -1, &bytes, &len, &label, &name) == ICSTR_ERR_RANGE);
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    CHECK(bad.total == 0);
    icstr_dataset_close(ds);
    /* the data.mdb file itself opens the same set */
    char mdb[600];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", dir);
    CHECK(icstr_dataset_open(mdb, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 3);
    icstr_dataset_close(ds);

    /* overwriting leaves only the new samples */
    CHECK(icstr_str_writer_open(dir, &w) == ICSTR_OK);
    CHECK(icstr_str_writer_add(w, "NEW", 3, "new", NULL) == ICSTR_OK);
    CHECK(icstr_str_writer_close(w) == ICSTR_OK);
    CHECK(raw_open(&r, dir, 0));
    MDB_stat st;
    mdb_stat(r.txn, r.dbi, &st);
    CHECK(st.ms_entries == 3);
    CHECK(raw_get(&r, "num-samples", "1", 1) && raw_get(&r, "label-000000001", "new", 3));
    raw_close(&r, 0);
}

/* Deterministic sample content for index i. */
static void fill_sample(unsigned char *b, size_t n, long i) {
    icstr_rng rng;
    icstr_rng_seed(&rng, (uint64_t)i + 1000);
    for (size_t k = 0; k < n; k++) b[k] = (unsigned char)icstr_rng_below(&rng, 256);
}

static void test_writer_growth(void) {
    char dir[512];
    path_of(dir, sizeof dir, "grow.lmdb");
    icstr_str_writer *w;
    /* 64 KiB map, 1,200 samples of 3 KB: the map must double about six times and two batches
     * of 1000 are committed */
    CHECK(icstr_str_writer_open_map(dir, 64 << 10, &w) == ICSTR_OK);
    unsigned char b[3000];
    int ok = 1;
    for (long i = 0; i < 1200; i++) {
        char label[32];
        snprintf(label, sizeof label, "w%ld", i);
        fill_sample(b, sizeof b, i);
        ok &= icstr_str_writer_add(w, b, sizeof b, label, NULL) == ICSTR_OK;
    }
    CHECK_MSG(ok, "add failed: %s", icstr_last_error());
    CHECK(icstr_str_writer_close(w) == ICSTR_OK);
    icstr_dataset *ds;
    CHECK(icstr_dataset_open(dir, &ds) == ICSTR_OK);
    CHECK(icstr_dataset_count(ds) == 1200);
    int same = 1;
    for (long i = 0; i < 1200; i++) {
        const unsigned char *bytes;
        size_t len;
        const char *label;
        char want[32];
        snprintf(want, sizeof want, "w%ld", i);
        fill_sample(b, sizeof b, i);
        same &= icstr_dataset_get(ds, i, &bytes, &len, &label, NULL) == ICSTR_OK &&
                len == sizeof b && !memcmp(bytes, b, len) && !strcmp(label, want);
    }
    CHECK(same);
    icstr_dataset_close(ds);
    CHECK(icstr_str_writer_open_map(dir, 100, &w) == ICSTR_ERR_ARG);
}

static void test_bad_lmdb(void) {
    char dir[512];
    icstr_dataset *ds;
    struct { const char *name, *num; int rc; } cases[] = {
        {"toomany.lmdb", "5", ICSTR_ERR_FORMAT},
        {"notnum.lmdb", "abc", ICSTR_ERR_FORMAT},
        {"nonum.lmdb", NULL, ICSTR_ERR_FORMAT},
        {"neg.lmdb", "-1", ICSTR_ERR_FORMAT},
        {"ok.lmdb", "1", ICSTR_OK},
    };
    for (int t = 0; t < 5; t++) {
        path_of(dir, sizeof dir, cases[t].name);
        mkdir(dir, 0775);
        raw_db r;
        CHECK(raw_open(&r, dir, 1));
        if (cases[t].num) raw_put(&r, "num-samples", cases[t].num);
        raw_put(&r, "image-000000001", "IMG");
        raw_put(&r, "other-1", "x"); /* no label-000000001 */
        raw_close(&r, 1);
        int rc = icstr_dataset_open(dir, &ds);
        CHECK_MSG(rc == cases[t].rc, "%s: rc %d (%s)", cases[t].name, rc, icstr_last_error());
        if (!rc) {
            const char *label;
            CHECK(icstr_dataset_count(ds) == 1);
            CHECK(icstr_dataset_get(ds, 0, NULL, NULL, &label, NULL) == ICSTR_ERR_NOTFOUND);
            CHECK(strstr(icstr_last_error(), "label-000000001") != NULL);
            const unsigned char *bytes;
            size_t len;
            CHECK(icstr_dataset_get(ds, 0, &bytes, &len, NULL, NULL) == ICSTR_OK && len == 3);
            icstr_dataset_close(ds);
        }
    }
}

static void test_folder(void) {
    char dir[512], p[600];
    path_of(dir, sizeof dir, "set");
    mkdir(dir, 0775);
    path_of(p, sizeof p, "set/images");
    mkdir(p, 0775);
    static const unsigned char px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    path_of(p, sizeof p, "set/images/a.png");
    CHECK(icstr_image_write_png(p, 2, 2, 3, px) == ICSTR_OK);
    char text[2048];
    int n = snprintf(text, sizeof text,
                     "\xEF\xBB\xBFimages/a.png\tHello\r\n" /* BOM, CRLF */
                     "images/b.png\t\n"                    /* empty label, missing file */
                     "no tab here\n"                       /* refused */
                     "\tlabel\n"                           /* refused: empty path */
                     "images/c.png\tbad\xff\n"             /* refused: not UTF-8 */
                     "\r\n"                                /* blank */
                     "%s/set/images/a.png\tabs\n"          /* absolute path */
                     "images/d.png\tlabel\twith tab\n"     /* the label keeps later tabs */
                     "images/e.png\tCaf\xc3\xa9",          /* no final newline */
                     tmp);
    write_text("set/gt.txt", text, (size_t)n);
    icstr_dataset *ds;
    CHECK(icstr_dataset_open(dir, &ds) == ICSTR_OK);
    CHECK(icstr_dataset_kind(ds) == ICSTR_DATASET_FOLDER);
    CHECK(icstr_dataset_count(ds) == 5);
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    CHECK(bad.no_tab == 1 && bad.empty_path == 1 && bad.bad_utf8 == 1 && bad.blank == 1 &&
          bad.total == 3);
    const unsigned char *bytes;
    size_t len;
    const char *label, *name;
    CHECK(icstr_dataset_get(ds, 0, &bytes, &len, &label, &name) == ICSTR_OK);
    CHECK(!strcmp(label, "Hello"));
    path_of(p, sizeof p, "set/images/a.png");
    CHECK(!strcmp(name, p));
    icstr_image im;
    CHECK(icstr_image_load_memory(bytes, len, name, &im) == ICSTR_OK && im.w == 2 &&
          !memcmp(im.rgb, px, 12));
    icstr_image_free(&im);
    /* a missing file: IO error, but label and name are there; without bytes no file is read */
    label = name = NULL;
    CHECK(icstr_dataset_get(ds, 1, &bytes, &len, &label, &name) == ICSTR_ERR_IO);
    CHECK(label && !strcmp(label, "") && name && strstr(name, "images/b.png"));
    CHECK(strstr(icstr_last_error(), "images/b.png") != NULL);
    CHECK(icstr_dataset_get(ds, 1, NULL, NULL, &label, NULL) == ICSTR_OK);
    CHECK(icstr_dataset_get(ds, 2, &bytes, &len, &label, &name) == ICSTR_OK);
    CHECK(!strcmp(label, "abs") && !strcmp(name, p) && len > 0);
    CHECK(icstr_dataset_get(ds, 3, NULL, NULL, &label, NULL) == ICSTR_OK &&
          !strcmp(label, "label\twith tab"));
    CHECK(icstr_dataset_get(ds, 4, NULL, NULL, &label, &name) == ICSTR_OK &&
          !strcmp(label, "Caf\xc3\xa9") && strstr(name, "set/images/e.png"));
    CHECK(icstr_dataset_get(ds, 5, NULL, NULL, &label, NULL) == ICSTR_ERR_RANGE);
    icstr_dataset_close(ds);

    /* the list file itself, and another name for a list */
    path_of(p, sizeof p, "set/gt.txt");
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 5);
    CHECK(icstr_dataset_kind(ds) == ICSTR_DATASET_FOLDER);
    CHECK(icstr_dataset_get(ds, 0, &bytes, &len, NULL, NULL) == ICSTR_OK);
    icstr_dataset_close(ds);
    write_text("set/test.txt", "images/a.png\tx\n", 15);
    path_of(p, sizeof p, "set/test.txt");
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 1);
    CHECK(icstr_dataset_get(ds, 0, &bytes, &len, NULL, NULL) == ICSTR_OK);
    icstr_dataset_close(ds);
    /* a BOM only counts at the start of the file */
    write_text("set/bom.txt", "a\tb\n\xEF\xBB\xBFimages/a.png\tx\n", 23);
    path_of(p, sizeof p, "set/bom.txt");
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 2);
    CHECK(icstr_dataset_get(ds, 1, &bytes, &len, NULL, &name) == ICSTR_ERR_IO);
    icstr_dataset_close(ds);
    /* an empty list is an empty dataset */
    write_text("set/empty.txt", "", 0);
    path_of(p, sizeof p, "set/empty.txt");
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 0);
    icstr_dataset_close(ds);
}

static void test_detect(void) {
    char p[512];
    icstr_dataset *ds = (icstr_dataset *)1;
    path_of(p, sizeof p, "nothing");
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_ERR_NOTFOUND && ds == NULL);
    mkdir(p, 0775);
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_ERR_NOTFOUND);
    CHECK(strstr(icstr_last_error(), "gt.txt") != NULL);
    CHECK(icstr_dataset_open(NULL, &ds) == ICSTR_ERR_ARG);
    CHECK(icstr_dataset_open("", &ds) == ICSTR_ERR_ARG);
    /* a directory with both: the LMDB wins */
    icstr_str_writer *w;
    path_of(p, sizeof p, "both");
    CHECK(icstr_str_writer_open(p, &w) == ICSTR_OK);
    CHECK(icstr_str_writer_add(w, "X", 1, "x", NULL) == ICSTR_OK);
    CHECK(icstr_str_writer_close(w) == ICSTR_OK);
    write_text("both/gt.txt", "a\tb\nc\td\n", 8);
    CHECK(icstr_dataset_open(p, &ds) == ICSTR_OK);
    CHECK(icstr_dataset_kind(ds) == ICSTR_DATASET_LMDB && icstr_dataset_count(ds) == 1);
    icstr_dataset_close(ds);
    icstr_dataset_close(NULL);
    CHECK(icstr_dataset_count(NULL) == 0);
}

/* The `icstr data` command end to end (it lives in the library, so it is called directly). */
static int run_data(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5) {
    char *argv[8] = {"data"};
    const char *in[5] = {a1, a2, a3, a4, a5};
    int argc = 1;
    for (int i = 0; i < 5 && in[i]; i++) argv[argc++] = (char *)in[i];
    argv[argc] = NULL;
    fflush(stdout);
    return icstr_cmd_data(argc, argv);
}

static void test_cli(void) {
    char dir[512], p[600], out[600], sheet[600];
    path_of(dir, sizeof dir, "cli");
    mkdir(dir, 0775);
    static const unsigned char px[12] = {0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255};
    path_of(p, sizeof p, "cli/a.png");
    icstr_image_write_png(p, 2, 2, 3, px);
    path_of(p, sizeof p, "cli/b.png");
    icstr_image_write_png(p, 2, 2, 3, px);
    write_text("cli/junk.png", "not an image at all", 19);
    static const char gt[] = "a.png\tfirst\nb.png\tsecond\njunk.png\tjunk\nmissing.png\tgone\nno tab\n";
    write_text("cli/gt.txt", gt, sizeof gt - 1);
    path_of(out, sizeof out, "cli.lmdb");
    path_of(sheet, sizeof sheet, "sheet.png");
    CHECK(run_data("pack", dir, out, NULL, NULL) == 0);
    icstr_dataset *ds;
    CHECK(icstr_dataset_open(out, &ds) == ICSTR_OK && icstr_dataset_count(ds) == 2);
    const char *label;
    CHECK(icstr_dataset_get(ds, 1, NULL, NULL, &label, NULL) == ICSTR_OK && !strcmp(label, "second"));
    icstr_dataset_close(ds);
    CHECK(run_data("pack", dir, out, NULL, NULL) == 1);          /* exists */
    CHECK(run_data("pack", dir, out, "--force", NULL) == 0);
    CHECK(run_data("pack", out, out, "--force", NULL) == 1);     /* onto itself */
    CHECK(run_data("pack", dir, NULL, NULL, NULL) == 2);
    CHECK(run_data("pack", "--bogus", dir, out, NULL) == 2);
    CHECK(run_data("info", out, NULL, NULL, NULL) == 0);
    CHECK(run_data("info", dir, "--sample", "0", NULL) == 0);
    CHECK(run_data("info", dir, "--sample", "x", NULL) == 2);
    CHECK(run_data("show", dir, "--out", sheet, NULL) == 0);
    icstr_image im;
    CHECK(icstr_image_load_file(sheet, &im) == ICSTR_OK && im.w > 256);
    icstr_image_free(&im);
    CHECK(run_data("show", out, "--out", sheet, "--seed") == 2);
    CHECK(run_data("show", out, NULL, NULL, NULL) == 2);
    CHECK(run_data("show", "/nonexistent/x", "--out", sheet, NULL) == 1);
    CHECK(run_data("--help", NULL, NULL, NULL, NULL) == 0);
    CHECK(run_data("pack", "--help", NULL, NULL, NULL) == 0);
    CHECK(run_data("nope", NULL, NULL, NULL, NULL) == 2);
    CHECK(run_data(NULL, NULL, NULL, NULL, NULL) == 2);
    /* nothing packable: a runtime failure */
    write_text("cli/bad.txt", "junk.png\tjunk\n", 14);
    path_of(p, sizeof p, "cli/bad.txt");
    path_of(out, sizeof out, "cli2.lmdb");
    CHECK(run_data("pack", p, out, NULL, NULL) == 1);
}

static void rm_tree(const char *rel) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/%s'", tmp, rel);
    if (system(cmd)) fprintf(stderr, "cleanup failed: %s\n", cmd);
}

int main(void) {
    strcpy(tmp, "/tmp/icstr_test_dataset_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    icstr_log_set_level(ICSTR_LOG_ERROR); /* the bad lines are expected */
    test_writer_roundtrip();
    test_writer_growth();
    test_bad_lmdb();
    test_folder();
    test_detect();
    test_cli();
    rm_tree("");
    return check_finish("test_dataset");
}
