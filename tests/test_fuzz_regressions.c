/* The fuzz targets' inputs replayed in the normal build: every file under fuzz/regressions/<target>/
 * (inputs that once crashed a parser or broke one of its invariants) and fuzz/corpus/<target>/
 * (the seeds) goes through the same entry point the fuzzer calls, compiled in here from
 * fuzz/fuzz_<target>.c. An input passes when the parser returns (an error or success) and the
 * target's invariant checks hold; a crash or abort fails the test, and the ASan build of the suite
 * catches memory errors the way the fuzzer build does. */
#include "check.h"
#include "icstr_core.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLVMFuzzerInitialize image_init
#define LLVMFuzzerTestOneInput image_one
#include "../fuzz/fuzz_image.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize gt_init
#define LLVMFuzzerTestOneInput gt_one
#include "../fuzz/fuzz_gt.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize lmdb_init
#define LLVMFuzzerTestOneInput lmdb_one
#include "../fuzz/fuzz_lmdb.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize st_init
#define LLVMFuzzerTestOneInput st_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize config_init
#define LLVMFuzzerTestOneInput config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize record_init
#define LLVMFuzzerTestOneInput record_one
#include "../fuzz/fuzz_pool_record.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

typedef struct {
    const char *name;
    int (*init)(int *, char ***);
    int (*one)(const uint8_t *, size_t);
} target;

static const target targets[] = {
    {"fuzz_image", image_init, image_one},       {"fuzz_gt", gt_init, gt_one},
    {"fuzz_lmdb", lmdb_init, lmdb_one},          {"fuzz_safetensors", st_init, st_one},
    {"fuzz_config", config_init, config_one},    {"fuzz_pool_record", record_init, record_one},
};

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    size_t cap = 0, len = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *g = realloc(b, cap);
            if (!g) break;
            b = g;
        }
        got = fread(b + len, 1, cap - len, f);
        len += got;
    } while (got);
    fclose(f);
    /* exactly len bytes, as libFuzzer hands them over, so a read past the end is caught */
    unsigned char *exact = malloc(len ? len : 1);
    if (exact && len) memcpy(exact, b, len);
    free(b);
    *n = len;
    return exact;
}

/* Feeds every regular file of dir to t; the number of files, or -1 when dir is missing. */
static int replay(const target *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        unsigned char *b = read_all(path, &len);
        CHECK_MSG(b != NULL, "cannot read %s", path);
        if (!b) continue;
        t->one(b, len); /* returns 0 always; a broken invariant aborts */
        free(b);
        n++;
    }
    closedir(d);
    return n;
}

/* The in-memory list entry point the gt.txt fuzzer uses parses exactly as a list file does. */
static void test_list_memory(void) {
    static const char text[] = "\xEF\xBB\xBF" "a.png\tabc\r\n\nno tab\n\tempty\nsub/b.png\t\n/abs/c.png\tx y\nd\t\xFF\n";
    icstr_dataset *ds = NULL;
    CHECK(icstr_dataset_open_list_memory(text, sizeof text - 1, "mem.txt", "/data/set", &ds) == ICSTR_OK);
    if (!ds) return;
    CHECK(icstr_dataset_count(ds) == 3 && icstr_dataset_kind(ds) == ICSTR_DATASET_FOLDER);
    CHECK(!strcmp(icstr_dataset_path(ds), "mem.txt"));
    static const char *names[3] = {"/data/set/a.png", "/data/set/sub/b.png", "/abs/c.png"};
    static const char *labels[3] = {"abc", "", "x y"};
    for (long i = 0; i < 3; i++) {
        const char *label = NULL, *name = NULL;
        CHECK(icstr_dataset_get(ds, i, NULL, NULL, &label, &name) == ICSTR_OK);
        CHECK_MSG(label && name && !strcmp(label, labels[i]) && !strcmp(name, names[i]), "sample %ld: '%s' '%s'", i,
                  name ? name : "", label ? label : "");
    }
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    CHECK(bad.no_tab == 1 && bad.empty_path == 1 && bad.bad_utf8 == 1 && bad.blank == 1 && bad.total == 3);
    const unsigned char *bytes;
    size_t len;
    CHECK(icstr_dataset_get(ds, 0, &bytes, &len, NULL, NULL) == ICSTR_ERR_IO); /* no such file */
    CHECK(icstr_dataset_get(ds, 3, NULL, NULL, NULL, NULL) == ICSTR_ERR_RANGE);
    icstr_dataset_close(ds);
    /* not NUL-terminated input, an empty list, bad arguments */
    CHECK(icstr_dataset_open_list_memory("a\tb", 3, "m", ".", &ds) == ICSTR_OK && icstr_dataset_count(ds) == 1);
    const char *label = NULL;
    CHECK(ds && icstr_dataset_get(ds, 0, NULL, NULL, &label, NULL) == ICSTR_OK && label && !strcmp(label, "b"));
    icstr_dataset_close(ds);
    CHECK(icstr_dataset_open_list_memory(NULL, 0, "m", ".", &ds) == ICSTR_OK && icstr_dataset_count(ds) == 0);
    icstr_dataset_close(ds);
    CHECK(icstr_dataset_open_list_memory(NULL, 4, "m", ".", &ds) == ICSTR_ERR_ARG && ds == NULL);
    CHECK(icstr_dataset_open_list_memory("x", 1, "m", NULL, &ds) == ICSTR_ERR_ARG);
}

int main(void) {
    test_list_memory();
    const char *src = ICSTR_SOURCE_DIR;
    int total = 0;
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        const target *t = &targets[i];
        t->init(NULL, NULL);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", src, t->name);
        int seeds = replay(t, dir);
        CHECK_MSG(seeds > 0, "%s: no seeds in %s", t->name, dir);
        snprintf(dir, sizeof dir, "%s/fuzz/regressions/%s", src, t->name);
        int regs = replay(t, dir);
        printf("%-18s %3d seeds, %2d regressions\n", t->name, seeds, regs < 0 ? 0 : regs);
        total += (seeds > 0 ? seeds : 0) + (regs > 0 ? regs : 0);
    }
    icstr_log_set_level(ICSTR_LOG_INFO);
    CHECK(total >= 50);
    return check_finish("test_fuzz_regressions");
}
