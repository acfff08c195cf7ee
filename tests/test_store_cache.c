/* The pool's store caches (store_cache.h): the glyph and kNN stores loaded from POOL/glyphs.cache
 * and POOL/knn.cache are the stores computed without them (to the bit as the files were written;
 * to rounding against a new computation, which may batch the records otherwise); a load computes
 * only the records the file lacks (none the second time, the ones added since) and drops the
 * removed ones; a damaged file, a file of another pool made at the same path and ICSTR_STORE_CACHE=0
 * cost the computing and nothing else. */
#include "check.h"
#include "pool_glyphs.h"
#include "pool_knn.h"
#include "tiny_pool_model.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_cache.h"

static char dir[256], pool_path[300], glyph_file[320], knn_file[320];

static unsigned char *draw(const char *label, int variant, size_t *len) {
    unsigned char bg[3] = {(unsigned char)(160 + 9 * variant % 90), 200, (unsigned char)(240 - 7 * variant % 80)};
    unsigned char fg[3] = {(unsigned char)(5 * variant % 60), 20, 40};
    icstr_image im;
    if (icstr_image_alloc(72, 16, bg, &im)) exit(1);
    icstr_draw_text(&im, 2 + variant % 4, 2 + variant % 3, label, 1, fg);
    unsigned char *png = NULL;
    if (icstr_image_encode_png(im.w, im.h, 3, im.rgb, &png, len)) exit(1);
    icstr_image_free(&im);
    return png;
}

/* adds crops showing drawn[from..to) (variant = index) under labels[from..to) */
static void add_drawn(icstr_pool *pool, const char *const *labels, const char *const *drawn, int from, int to) {
    for (int i = from; i < to; i++) {
        size_t len;
        unsigned char *png = draw(drawn[i], i, &len);
        icstr_pool_item it = {png, len, labels[i], NULL};
        CHECK(icstr_pool_add(pool, &it, 1, "cache", NULL) == ICSTR_OK);
        free(png);
    }
}

static void add(icstr_pool *pool, const char *const *labels, int from, int to) { add_drawn(pool, labels, labels, from, to); }

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* keys within tol of each other (0: to the bit) */
static int keys_match(const float *a, const float *b, size_t n, double tol) {
    if (tol == 0.0) return !memcmp(a, b, n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= tol)) return 0;
    return 1;
}

static int same_glyphs(const icstr_glyph_store *a, const icstr_glyph_store *b, double tol) {
    return a->n == b->n && a->records == b->records && a->T == b->T && a->E == b->E && a->V == b->V &&
           !memcmp(a->ids, b->ids, (size_t)a->records * sizeof *a->ids) &&
           keys_match(a->keys, b->keys, (size_t)a->n * a->E, tol) &&
           !memcmp(a->values, b->values, (size_t)a->n * sizeof(int));
}

static int same_knn(const icstr_pool_knn *a, const icstr_pool_knn *b, int D, double tol) {
    return a->knn.n == b->knn.n && a->records == b->records && keys_match(a->keys, b->keys, (size_t)a->knn.n * D, tol) &&
           keys_match(a->key_norm2, b->key_norm2, (size_t)a->knn.n, tol * 100) &&
           !memcmp(a->values, b->values, (size_t)a->knn.n * sizeof(int));
}

/* Loads both stores three times: with the caches off (every record computed, the files
 * untouched), with them (returns how many records that load computed), and with them again (the
 * files just written: nothing computed). The second load must match the first to rounding (a
 * record encoded in another batch may differ in its last bits, as when computed) and the third
 * the second to the bit. */
static void load_both(icstr_pool *pool, int D, int *glyphs_computed, int *knn_computed) {
    icstr_glyph_store g[3];
    icstr_pool_knn k[3];
    icstr_knn_params kp = icstr_knn_default_params();
    for (int i = 0; i < 3; i++) {
        if (i == 0) setenv("ICSTR_STORE_CACHE", "0", 1);
        CHECK(icstr_glyph_store_load(pool, &g[i]) == ICSTR_OK && icstr_pool_knn_load(pool, &kp, &k[i]) == ICSTR_OK);
        unsetenv("ICSTR_STORE_CACHE");
    }
    CHECK_MSG(g[0].computed == g[0].records && k[0].computed == k[0].records,
              "with the caches off every record is computed (%d of %d, %d of %d)", g[0].computed, g[0].records,
              k[0].computed, k[0].records);
    CHECK_MSG(g[2].computed == 0 && k[2].computed == 0, "a load after a load computes nothing (%d, %d)", g[2].computed,
              k[2].computed);
    CHECK_MSG(same_glyphs(&g[0], &g[1], 1e-6) && same_glyphs(&g[1], &g[2], 0.0),
              "glyph store from the cache: %d entries, computed %d", g[1].n, g[0].n);
    CHECK_MSG(same_knn(&k[0], &k[1], D, 1e-6) && same_knn(&k[1], &k[2], D, 0.0),
              "kNN store from the cache: %d entries, computed %d", k[1].knn.n, k[0].knn.n);
    *glyphs_computed = g[1].computed;
    *knn_computed = k[1].computed;
    for (int i = 0; i < 3; i++) icstr_glyph_store_free(&g[i]), icstr_pool_knn_free(&k[i]);
}

static void flip_byte(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fseek(f, at, SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(c != EOF && fseek(f, at, SEEK_SET) == 0 && fputc(c ^ 0x10, f) != EOF);
    fclose(f);
}

static icstr_pool *make_pool(icstr_model *m) {
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    icstr_pool *pool = NULL;
    CHECK(icstr_pool_create(pool_path, &meta) == ICSTR_OK && icstr_pool_open(pool_path, m, 0, &pool) == ICSTR_OK);
    if (!pool) exit(1);
    return pool;
}

int main(void) {
    icstr_set_threads(1);
    snprintf(dir, sizeof dir, "%s/icstr-store-cache-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    snprintf(pool_path, sizeof pool_path, "%s/P", dir);
    snprintf(glyph_file, sizeof glyph_file, "%s/glyphs.cache", pool_path);
    snprintf(knn_file, sizeof knn_file, "%s/knn.cache", pool_path);
    icstr_model *m = tiny_pool_model(3);
    int D = icstr_model_get_config(m)->dec_dim;
    static const char *labels[] = {"ab1", "cd2", "aaaa", "ef3", "gh4", "ij5"};
    icstr_pool *pool = make_pool(m);
    add(pool, labels, 0, 4);
    int g, k;
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 4 && k == 4 && file_exists(glyph_file) && file_exists(knn_file),
              "first load computes every record and writes the files (computed %d / %d)", g, k);

    add(pool, labels, 4, 6); /* two more records: only they are computed */
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 2 && k == 2, "after adding 2 records: computed %d / %d", g, k);
    uint64_t ids[1] = {2}; /* remove one: nothing computed, the files written without it */
    int found = 0;
    long removed = 0;
    CHECK(icstr_pool_remove(pool, ids, 1, &found, &removed) == ICSTR_OK && removed == 1);
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 0 && k == 0, "after removing a record: computed %d / %d", g, k);

    flip_byte(glyph_file, 200); /* a damaged file is passed over and written anew */
    flip_byte(knn_file, 100);
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 5 && k == 5, "after damage: computed %d / %d (want 5 / 5)", g, k);

    CHECK(truncate(knn_file, 64) == 0); /* a truncated one too */
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 0 && k == 5, "after truncation: computed %d / %d", g, k);

    /* off: neither read nor written */
    remove(glyph_file), remove(knn_file);
    setenv("ICSTR_STORE_CACHE", "0", 1);
    icstr_glyph_store gs;
    CHECK(icstr_glyph_store_load(pool, &gs) == ICSTR_OK && gs.computed == 5 && !file_exists(glyph_file));
    icstr_glyph_store_free(&gs);
    unsetenv("ICSTR_STORE_CACHE");
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 5 && k == 5, "written again: computed %d / %d", g, k);

    /* a record's key covers its label as well as its image */
    icstr_pool_record ra = {0}, rb = {0};
    ra.image_hash = rb.image_hash = 42, ra.label = "ab1", rb.label = "ab2";
    CHECK(icstr_store_record_key(&ra) != icstr_store_record_key(&rb));
    rb.label = "ab1";
    CHECK(icstr_store_record_key(&ra) == icstr_store_record_key(&rb));

    /* another pool made at the same path (same model, same ids, the same images under other
       labels, maybe within the same second): the file is stale */
    icstr_pool_close(pool);
    char keep[340];
    snprintf(keep, sizeof keep, "%s/glyphs.keep", dir);
    CHECK(rename(glyph_file, keep) == 0);
    remove(knn_file);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pool_path);
    CHECK(system(cmd) == 0);
    pool = make_pool(m);
    CHECK(rename(keep, glyph_file) == 0);
    static const char *others[] = {"zz9", "yy8", "xx7", "ww6", "vv5", "uu4"};
    add_drawn(pool, others, labels, 0, 6);
    load_both(pool, D, &g, &k);
    CHECK_MSG(g == 6 && k == 6, "another pool at the same path: computed %d / %d (want 6 / 6)", g, k);

    icstr_pool_close(pool);
    icstr_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_finish("test_store_cache");
}
