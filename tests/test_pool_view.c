/* Views (image.h icstr_view, pool_view.h): parsing and writing one, the rectangle it cuts
 * against a pixel-by-pixel reference, a pool re-embedded under a view (records, later adds,
 * an interrupted run resumed only for the same view), its alternate views, crops read with that
 * pool cut the same way (and under the alternates, voted), the scores of `icstr pool view
 * --auto` against a reading done by hand, the choice, and the vote. */
#include "check.h"
#include "crop_batch.h"
#include "icstr_data.h"
#include "icstr_pool.h"
#include "inputs.h"
#include "pool_internal.h"
#include "pool_view.h"
#include "tiny_pool_model.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

/* ---- parsing, writing, checking ---- */

static void test_view_text(void) {
    icstr_view v;
    CHECK(icstr_view_parse("0.15,0.85,0.03,0.97", &v) == ICSTR_OK);
    CHECK(v.top == 0.15f && v.bottom == 0.85f && v.left == 0.03f && v.right == 0.97f);
    char s[ICSTR_VIEW_TEXT];
    icstr_view_format(&v, s);
    CHECK_MSG(!strcmp(s, "0.15,0.85,0.03,0.97"), "%s", s);
    CHECK(icstr_view_parse("full", &v) == ICSTR_OK && icstr_view_is_full(&v));
    icstr_view_format(&v, s);
    CHECK(!strcmp(s, "full"));
    CHECK(icstr_view_parse("0,1,0,1", &v) == ICSTR_OK && icstr_view_is_full(&v));
    /* every candidate reads back as itself */
    icstr_view c[ICSTR_VIEW_CANDIDATES], back;
    int n = icstr_view_candidates(c, ICSTR_VIEW_CANDIDATES);
    CHECK(n == ICSTR_VIEW_CANDIDATES && icstr_view_is_full(&c[0]));
    for (int i = 0; i < n; i++) {
        icstr_view_format(&c[i], s);
        CHECK_MSG(icstr_view_parse(s, &back) == ICSTR_OK && icstr_view_equal(&back, &c[i]), "%s", s);
        for (int j = 0; j < i; j++) CHECK(!icstr_view_equal(&c[i], &c[j]));
    }
    icstr_view odd = {1.0f / 3.0f, 0.9f, 0.0f, 1.0f};
    icstr_view_format(&odd, s);
    CHECK(icstr_view_parse(s, &back) == ICSTR_OK && icstr_view_equal(&back, &odd));
    const char *bad[] = {"0.5,0.6,0,1", "0,1,0.5,0.7", "0,1,0", "0,1,0,1,0", "a,b,c,d", "0,1.5,0,1", "-0.1,1,0,1",
                         "0.8,0.2,0,1", "nan,1,0,1", "0,1,0,inf", "", "0 1 0 1", "0,1,0,1x"};
    v = icstr_view_full();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        icstr_view w = {0.1f, 0.9f, 0.1f, 0.9f};
        CHECK_MSG(icstr_view_parse(bad[i], &w) == ICSTR_ERR_ARG, "'%s' accepted", bad[i]);
        CHECK(w.top == 0.1f && w.right == 0.9f); /* untouched */
    }
    icstr_view least = {0.0f, ICSTR_VIEW_MIN, 1.0f - ICSTR_VIEW_MIN, 1.0f}, less = {0.0f, 0.24f, 0.0f, 1.0f};
    CHECK(icstr_view_check(&least) == ICSTR_OK && icstr_view_check(&less) == ICSTR_ERR_ARG);
}

/* ---- the rectangle ---- */

static void test_image_view(void) {
    icstr_image im;
    CHECK(icstr_image_alloc(10, 7, NULL, &im) == ICSTR_OK);
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 10; x++)
            for (int c = 0; c < 3; c++) im.rgb[(y * 10 + x) * 3 + c] = (unsigned char)(y * 30 + x * 2 + c);
    /* rows floor(0.15*7) = 1 .. ceil(0.85*7) = 6, columns floor(0.2*10) = 2 .. ceil(0.9*10) = 9 */
    struct { icstr_view v; int x0, y0, w, h; } cases[] = {
        {{0.15f, 0.85f, 0.2f, 0.9f}, 2, 1, 7, 5},
        {{0.0f, 1.0f, 0.0f, 1.0f}, 0, 0, 10, 7},
        {{0.5f, 1.0f, 0.0f, 0.35f}, 0, 3, 4, 4},
        {{0.1f, 0.4f, 0.65f, 0.95f}, 6, 0, 4, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        icstr_image part;
        CHECK(icstr_image_view(&im, &cases[k].v, &part) == ICSTR_OK);
        CHECK_MSG(part.w == cases[k].w && part.h == cases[k].h, "case %zu: %d x %d", k, part.w, part.h);
        int same = part.w == cases[k].w && part.h == cases[k].h;
        for (int y = 0; same && y < part.h; y++)
            for (int x = 0; x < part.w; x++)
                for (int c = 0; c < 3; c++)
                    same &= part.rgb[(y * part.w + x) * 3 + c] ==
                            im.rgb[((y + cases[k].y0) * 10 + x + cases[k].x0) * 3 + c];
        CHECK_MSG(same, "case %zu: pixels", k);
        /* the model input of the view is that of the rectangle */
        float a[3 * 8 * 32], b[3 * 8 * 32];
        CHECK(icstr_image_view_to_input(&im, &cases[k].v, 8, 32, a) == ICSTR_OK);
        CHECK(icstr_image_to_input(&part, 8, 32, b) == ICSTR_OK);
        CHECK(!memcmp(a, b, sizeof a));
        icstr_image_free(&part);
    }
    /* a 1-pixel image keeps its pixel under any view */
    icstr_image dot, part;
    CHECK(icstr_image_alloc(1, 1, NULL, &dot) == ICSTR_OK);
    icstr_view v = {0.5f, 0.9f, 0.7f, 1.0f}, bad = {0.5f, 0.6f, 0.0f, 1.0f};
    CHECK(icstr_image_view(&dot, &v, &part) == ICSTR_OK && part.w == 1 && part.h == 1);
    icstr_image_free(&part);
    part.w = 5;
    CHECK(icstr_image_view(&im, &bad, &part) == ICSTR_ERR_ARG && part.rgb == NULL && part.w == 0);
    icstr_image_free(&dot);
    icstr_image_free(&im);
}

/* ---- a pool under a view ---- */

/* a crop with a line of text above and below the word, so views see different things */
static unsigned char *draw_crop(const char *label, int variant, size_t *len) {
    icstr_rng r;
    icstr_rng_seed(&r, (uint64_t)variant * 31 + 7);
    unsigned char bg[3] = {(unsigned char)(150 + icstr_rng_below(&r, 100)), 200, 220};
    unsigned char fg[3] = {10, (unsigned char)icstr_rng_below(&r, 90), 40};
    icstr_image im;
    if (icstr_image_alloc(64, 32, bg, &im)) exit(1);
    icstr_draw_text(&im, 1, 0, "top", 1, fg);
    icstr_draw_text(&im, 2 + (int)icstr_rng_below(&r, 4), 11, label, 1, fg);
    icstr_draw_text(&im, 1, 23, "low", 1, fg);
    for (int k = 0; k < 30; k++) im.rgb[icstr_rng_below(&r, 64 * 32 * 3)] = (unsigned char)icstr_rng_below(&r, 256);
    unsigned char *png = NULL;
    if (icstr_image_encode_png(im.w, im.h, 3, im.rgb, &png, len)) exit(1);
    icstr_image_free(&im);
    return png;
}

/* latents and embedding of an encoded crop under view v */
static void encode_view(icstr_model *m, const unsigned char *png, size_t len, const icstr_view *v, float *lat,
                        float *emb) {
    icstr_image im;
    float x[3 * 8 * 32];
    CHECK(icstr_image_load_memory(png, len, NULL, &im) == ICSTR_OK);
    CHECK(icstr_image_view_to_input(&im, v, 8, 32, x) == ICSTR_OK);
    CHECK(icstr_model_encode(m, x, 1, lat, emb) == ICSTR_OK);
    icstr_image_free(&im);
}

enum { N = 12 };
static unsigned char *png[N + 1];
static size_t png_len[N + 1];
static char labels[N + 1][8];

typedef struct {
    icstr_model *m;
    icstr_view v;
    long checked, wrong;
} view_check;

/* every record's latents and embedding are its image's under the view */
static int check_record(void *user, const icstr_pool_record *r) {
    view_check *c = user;
    int i = (int)r->id - 1;
    float lat[4 * 16], emb[16];
    double d = 1;
    if (i >= 0 && i <= N && r->image_len == png_len[i] && !memcmp(r->image, png[i], r->image_len)) {
        encode_view(c->m, png[i], png_len[i], &c->v, lat, emb);
        d = 0;
        for (int k = 0; k < 64; k++) d = fmax(d, fabs(lat[k] - r->latents[k]));
        for (int k = 0; k < 16; k++) d = fmax(d, fabs(emb[k] - r->embedding[k]));
    }
    c->checked++;
    c->wrong += d > 1e-6;
    return 0;
}

static long wrong_records(const char *path, icstr_model *m, const icstr_view *v) {
    icstr_pool *p;
    view_check c = {m, *v, 0, 0};
    CHECK(icstr_pool_open(path, m, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    CHECK(icstr_pool_foreach(p, ICSTR_POOL_WANT_ALL, check_record, &c) == ICSTR_OK);
    icstr_pool_close(p);
    return c.checked ? c.wrong : -1;
}

static icstr_view pool_view_of(const char *path) {
    icstr_pool *p;
    icstr_view v = {0, 0, 0, 0};
    icstr_pool_info info;
    if (icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p)) return v;
    CHECK(icstr_pool_get_info(p, &info) == ICSTR_OK);
    v = icstr_pool_view(p);
    CHECK(icstr_view_equal(&v, &info.view));
    icstr_pool_close(p);
    return v;
}

/* a new pool for model m at tmp/name (path gets it), opened for writing */
static icstr_pool *new_pool(icstr_model *m, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", tmp, name);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, "a.st", &meta);
    CHECK(icstr_pool_create(path, &meta) == ICSTR_OK);
    icstr_pool *p = NULL;
    CHECK(icstr_pool_open(path, m, 0, &p) == ICSTR_OK);
    return p;
}

static void test_pool_reembed_view(icstr_model *A, icstr_model *B) {
    char path[300];
    icstr_pool *p = new_pool(A, "pool", path, sizeof path);
    icstr_pool_item items[N];
    for (int i = 0; i < N; i++) items[i] = (icstr_pool_item){png[i], png_len[i], labels[i], NULL};
    CHECK(icstr_pool_add(p, items, N, "t", NULL) == ICSTR_OK);
    icstr_pool_close(p);
    icstr_view full = icstr_view_full(), band = {0.25f, 0.75f, 0.0f, 1.0f}, other = {0.0f, 0.75f, 0.1f, 0.9f};
    icstr_view got = pool_view_of(path);
    CHECK(icstr_view_is_full(&got));
    CHECK(wrong_records(path, A, &full) == 0);
    CHECK(wrong_records(path, A, &band) == N); /* the views differ for every crop */

    long n = 0;
    icstr_view bad = {0.5f, 0.6f, 0.0f, 1.0f};
    CHECK(icstr_pool_reembed(path, A, "a.st", &bad, 0, &n) == ICSTR_ERR_ARG);
    /* the same model under a band: every record is re-read from its image under it */
    CHECK(icstr_pool_reembed(path, A, "a.st", &band, 5, &n) == ICSTR_OK && n == N);
    got = pool_view_of(path);
    CHECK(icstr_view_equal(&got, &band));
    CHECK(wrong_records(path, A, &band) == 0);
    CHECK(icstr_pool_reembed(path, A, "a.st", &band, 5, &n) == ICSTR_OK && n == N); /* nothing to do */
    /* an add reads its crop under the pool's view, and a query under it finds the record */
    CHECK(icstr_pool_open(path, A, 0, &p) == ICSTR_OK);
    icstr_pool_item extra = {png[N], png_len[N], labels[N], NULL};
    icstr_pool_add_result res;
    CHECK(icstr_pool_add(p, &extra, 1, "t", &res) == ICSTR_OK && res.status == ICSTR_POOL_ADDED && res.id == N + 1);
    float lat[4 * 16], emb[16];
    encode_view(A, png[3], png_len[3], &band, lat, emb);
    uint64_t id;
    float score;
    int found;
    CHECK(icstr_pool_search(p, emb, 1, 1, &id, &score, &found) == ICSTR_OK && found == 1 && id == 4);
    CHECK_NEAR(score, 1.0, 1e-5);
    icstr_pool_close(p);
    CHECK(wrong_records(path, A, &band) == 0);
    /* another model with no view given keeps the pool's */
    CHECK(icstr_pool_reembed(path, B, "b.st", NULL, 5, &n) == ICSTR_OK && n == N + 1);
    got = pool_view_of(path);
    CHECK(icstr_view_equal(&got, &band));
    CHECK(wrong_records(path, B, &band) == 0);

    /* a reembed stopped midway (a record whose image cannot be decoded, last in id order)
     * resumes only for the same view: for another one it starts over */
    CHECK(icstr_pool_open(path, B, 0, &p) == ICSTR_OK);
    float e16[16] = {1}, l64[64] = {0};
    unsigned char junk[5] = {1, 2, 3, 4, 5};
    icstr_pool_record bad_rec = {0, 0, 0, "junk", "", 4, 16, e16, l64, junk, 5};
    icstr_pool_add_result br;
    CHECK(icstr_pool_add_encoded(p, &bad_rec, 1, &br) == ICSTR_OK && br.id == N + 2);
    icstr_pool_close(p);
    CHECK(icstr_pool_reembed(path, B, "b.st", &other, 5, &n) == ICSTR_ERR_IMAGE);
    got = pool_view_of(path);
    CHECK(icstr_view_equal(&got, &band)); /* unchanged */
    CHECK(icstr_pool_open(path, B, 0, &p) == ICSTR_OK);
    uint64_t junk_id = N + 2;
    CHECK(icstr_pool_remove(p, &junk_id, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_close(p);
    CHECK(icstr_pool_reembed(path, B, "b.st", &full, 5, &n) == ICSTR_OK);
    CHECK_MSG(n == N + 1, "a reembed for another view resumed: %ld records", n);
    got = pool_view_of(path);
    CHECK(icstr_view_is_full(&got));
    CHECK(wrong_records(path, B, &full) == 0);
    /* the same view as the interrupted run resumes: only the records it had not reached */
    CHECK(icstr_pool_open(path, B, 0, &p) == ICSTR_OK);
    CHECK(icstr_pool_add_encoded(p, &bad_rec, 1, &br) == ICSTR_OK && br.id == N + 3);
    icstr_pool_close(p);
    CHECK(icstr_pool_reembed(path, B, "b.st", &other, 5, &n) == ICSTR_ERR_IMAGE);
    CHECK(icstr_pool_open(path, B, 0, &p) == ICSTR_OK);
    junk_id = N + 3;
    CHECK(icstr_pool_remove(p, &junk_id, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_close(p);
    CHECK(icstr_pool_reembed(path, B, "b.st", &other, 5, &n) == ICSTR_OK);
    CHECK_MSG(n == (N + 1) % 5, "the resumed reembed did %ld records", n);
    CHECK(wrong_records(path, B, &other) == 0);
}

/* crops read with a pool are cut to its view; without one they are whole */
static void test_crop_batch_view(icstr_model *A) {
    char path[300], pv[300], crop[300];
    snprintf(path, sizeof path, "%s/query.png", tmp);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(png[5], 1, png_len[5], f) == png_len[5]);
    if (f) fclose(f);
    icstr_pool *p = new_pool(A, "pv", pv, sizeof pv);
    icstr_pool_item item = {png[0], png_len[0], labels[0], NULL};
    CHECK(icstr_pool_add(p, &item, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_close(p);
    icstr_view band = {0.3f, 0.8f, 0.05f, 1.0f}, full = icstr_view_full();
    long n;
    CHECK(icstr_pool_reembed(pv, A, "a.st", &band, 0, &n) == ICSTR_OK);
    CHECK(icstr_pool_open(pv, A, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    float want_band[3 * 8 * 32], want_full[3 * 8 * 32];
    icstr_image im;
    CHECK(icstr_image_load_memory(png[5], png_len[5], NULL, &im) == ICSTR_OK);
    CHECK(icstr_image_view_to_input(&im, &band, 8, 32, want_band) == ICSTR_OK);
    CHECK(icstr_image_view_to_input(&im, &full, 8, 32, want_full) == ICSTR_OK);
    icstr_image_free(&im);
    CHECK(memcmp(want_band, want_full, sizeof want_band) != 0);
    icstr_crop_batch cb;
    CHECK(icstr_crop_batch_init(&cb, 4, 8, 32) == ICSTR_OK);
    icstr_pool_reading rd = icstr_pool_reading_default();
    snprintf(crop, sizeof crop, "%s", path);
    char *args[1] = {crop};
    for (int round = 0; round < 3; round++) {
        /* round 0 without the pool, 1 with it, 2 after it was unset */
        if (round == 1) CHECK(icstr_crop_batch_set_pool(&cb, p, &rd) == ICSTR_OK);
        if (round == 2) CHECK(icstr_crop_batch_set_pool(&cb, NULL, NULL) == ICSTR_OK);
        icstr_inputs *in;
        CHECK(icstr_inputs_open(args, 1, &in) == ICSTR_OK);
        CHECK(icstr_crop_batch_read(&cb, in) == 1 && cb.n_ok == 1);
        CHECK_MSG(!memcmp(cb.images, round == 1 ? want_band : want_full, sizeof want_band), "round %d", round);
        icstr_inputs_close(in);
    }
    icstr_crop_batch_free(&cb);
    icstr_pool_close(p);
}

/* the pool's alternate views: stored, read back on opening, dropped when the view changes */
static void test_alternates(icstr_model *A) {
    char path[300];
    icstr_pool *p = new_pool(A, "alt", path, sizeof path);
    icstr_pool_item item = {png[1], png_len[1], labels[1], NULL};
    CHECK(icstr_pool_add(p, &item, 1, NULL, NULL) == ICSTR_OK);
    icstr_view got[ICSTR_POOL_ALTERNATES_MAX + 1];
    CHECK(icstr_pool_alternates(p, got, ICSTR_POOL_ALTERNATES_MAX) == 0);
    icstr_view c[ICSTR_VIEW_CANDIDATES];
    icstr_view_candidates(c, ICSTR_VIEW_CANDIDATES);
    CHECK(icstr_pool_set_alternates(p, c + 3, ICSTR_POOL_ALTERNATES_MAX + 1) == ICSTR_ERR_ARG);
    icstr_view bad = {0.5f, 0.6f, 0.0f, 1.0f};
    CHECK(icstr_pool_set_alternates(p, &bad, 1) == ICSTR_ERR_ARG);
    CHECK(icstr_pool_set_alternates(p, c + 3, ICSTR_POOL_ALTERNATES_MAX) == ICSTR_OK);
    CHECK(icstr_pool_alternates(p, got, 2) == ICSTR_POOL_ALTERNATES_MAX);
    CHECK(icstr_view_equal(&got[0], &c[3]) && icstr_view_equal(&got[1], &c[4]));
    icstr_pool_close(p);
    CHECK(icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    CHECK(icstr_pool_alternates(p, got, ICSTR_POOL_ALTERNATES_MAX) == ICSTR_POOL_ALTERNATES_MAX);
    int same = 1;
    for (int i = 0; i < ICSTR_POOL_ALTERNATES_MAX; i++) same &= icstr_view_equal(&got[i], &c[3 + i]);
    CHECK(same);
    CHECK(icstr_pool_set_alternates(p, c, 1) == ICSTR_ERR_ARG); /* read-only */
    icstr_pool_close(p);
    long n;
    /* another model, the same view: kept; another view: dropped */
    icstr_model *B = tiny_pool_model(2);
    CHECK(icstr_pool_reembed(path, B, "b.st", NULL, 0, &n) == ICSTR_OK);
    CHECK(icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    CHECK(icstr_pool_alternates(p, got, 1) == ICSTR_POOL_ALTERNATES_MAX);
    icstr_pool_close(p);
    CHECK(icstr_pool_reembed(path, B, "b.st", &c[5], 0, &n) == ICSTR_OK);
    CHECK(icstr_pool_open(path, B, 0, &p) == ICSTR_OK);
    CHECK(icstr_pool_alternates(p, got, 1) == 0);
    CHECK(icstr_pool_set_alternates(p, c, 2) == ICSTR_OK && icstr_pool_set_alternates(p, NULL, 0) == ICSTR_OK);
    icstr_pool_close(p);
    CHECK(icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    CHECK(icstr_pool_alternates(p, got, 1) == 0);
    icstr_pool_close(p);
    icstr_model_free(B);
}

static const char *bad_key, *bad_value;

static int put_bad(icstr_pool *p, MDB_txn *txn, void *arg) {
    (void)arg;
    return pool_meta_put_str(txn, p->meta, bad_key, bad_value);
}

/* a pool whose view or alternates in the metadata do not parse is refused on opening */
static void test_bad_metadata(icstr_model *A) {
    const char *keys[] = {"view", "view", "view.alternates", "view.alternates"};
    const char *values[] = {"0.5,0.6,0,1", "wide", "full;x", "full;0,1,0,1;0.1,0.9,0,1;full;full;full;full;full;full"};
    for (int i = 0; i < 4; i++) {
        char name[16], path[300];
        snprintf(name, sizeof name, "bad%d", i);
        icstr_pool *p = new_pool(A, name, path, sizeof path);
        bad_key = keys[i], bad_value = values[i];
        CHECK(p && pool_write(p, put_bad, NULL) == ICSTR_OK);
        icstr_pool_close(p);
        CHECK_MSG(icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_ERR_FORMAT, "%s = %s", keys[i], values[i]);
        CHECK_MSG(strstr(icstr_last_error(), keys[i]) != NULL, "%s", icstr_last_error());
    }
}

static void test_view_vote(void) {
    char a[4][16] = {"ab 12", "ab12", "xy", "ab 1 2"}, *t[4] = {a[0], a[1], a[2], a[3]};
    float c[4] = {0.1f, 0.5f, 0.9f, 0.6f};
    CHECK(icstr_view_vote(t, c, 4) == 0);     /* three read "ab12" but for spaces, the first among them */
    char *t2[3] = {a[2], a[1], a[3]};
    float c2[3] = {0.9f, 0.5f, 0.6f};
    CHECK(icstr_view_vote(t2, c2, 3) == 2); /* "xy" alone against two: the side of "ab12", its surer */
    CHECK(icstr_view_vote(t + 1, c + 1, 2) == 1); /* one each: the higher confidence */
    float even[2] = {0.5f, 0.5f};
    CHECK(icstr_view_vote(t + 1, even, 2) == 0); /* a full tie: the pool's own view */
    CHECK(icstr_view_vote(t, c, 1) == 0);
    char b[3][8] = {"q", "r", "r"}, *u[3] = {b[0], b[1], b[2]};
    float d[3] = {0.99f, 0.2f, 0.1f};
    CHECK(icstr_view_vote(u, d, 3) == 1); /* two low votes beat one sure one */
}

/* a crop batch reading under the pool's view and its alternates: the inputs are the crop under
 * each, and each crop's text is the vote over the pool view's reading (as a batch without
 * alternates reads it) and the alternates' */
static void test_crop_batch_alternates(icstr_model *A) {
    char path[300];
    icstr_pool *p = new_pool(A, "votes", path, sizeof path);
    icstr_pool_item items[6];
    for (int i = 0; i < 6; i++) items[i] = (icstr_pool_item){png[i], png_len[i], labels[i], NULL};
    CHECK(icstr_pool_add(p, items, 6, NULL, NULL) == ICSTR_OK);
    /* the same band twice: where it reads otherwise than the whole crop, it outvotes it */
    icstr_view alt[2] = {{0.25f, 0.75f, 0.0f, 1.0f}, {0.25f, 0.75f, 0.0f, 1.0f}};
    CHECK(icstr_pool_set_alternates(p, alt, 2) == ICSTR_OK);
    icstr_pool_close(p);
    CHECK(icstr_pool_open(path, A, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_crop_batch one, three;
    CHECK(icstr_crop_batch_init(&one, 8, 8, 32) == ICSTR_OK && icstr_crop_batch_init(&three, 8, 8, 32) == ICSTR_OK);
    icstr_pool_reading rd = icstr_pool_reading_default();
    rd.shots = 0; /* this random model reads every crop alike with prompts; without, views differ */
    CHECK(icstr_crop_batch_set_pool(&one, p, &rd) == ICSTR_OK && one.n_alt == 0);
    rd.views = 9; /* more than the pool has: its two */
    CHECK(icstr_crop_batch_set_pool(&three, p, &rd) == ICSTR_OK && three.n_alt == 2);
    /* queries: crops the model reads otherwise under the band than whole (plain readings) */
    int q = 0;
    icstr_image query[8];
    for (int i = 0; i < 200 && q < 8; i++) {
        char w[8];
        size_t len;
        snprintf(w, sizeof w, "q%c%d", 'a' + i % 26, i % 7);
        unsigned char *b = draw_crop(w, 700 + i, &len);
        CHECK(icstr_image_load_memory(b, len, NULL, &query[q]) == ICSTR_OK);
        free(b);
        float x[2][3 * 8 * 32], lat[2][4 * 16];
        char r[2][ICSTR_TEXT_CAP], *rt[2] = {r[0], r[1]};
        icstr_view full = icstr_view_full();
        CHECK(icstr_image_view_to_input(&query[q], &full, 8, 32, x[0]) == ICSTR_OK);
        CHECK(icstr_image_view_to_input(&query[q], &alt[0], 8, 32, x[1]) == ICSTR_OK);
        CHECK(icstr_model_encode(A, &x[0][0], 2, &lat[0][0], NULL) == ICSTR_OK);
        CHECK(icstr_model_decode(A, &lat[0][0], 2, NULL, &dp, rt, ICSTR_TEXT_CAP, NULL) == ICSTR_OK);
        if (strcmp(r[0], r[1])) q++;
        else icstr_image_free(&query[q]);
    }
    CHECK_MSG(q >= 2, "only %d crops read otherwise under the band", q);
    for (int i = 0; i < q; i++) {
        CHECK(icstr_crop_batch_put(&one, &query[i], i) == ICSTR_OK && icstr_crop_batch_put(&three, &query[i], i) == ICSTR_OK);
        float want[3 * 8 * 32];
        for (int v = 0; v < 2; v++) {
            CHECK(icstr_image_view_to_input(&query[i], &alt[v], 8, 32, want) == ICSTR_OK);
            CHECK(!memcmp(three.alt_images + ((size_t)v * three.cap + i) * 3 * 8 * 32, want, sizeof want));
        }
        icstr_image_free(&query[i]);
    }
    CHECK(!memcmp(one.images, three.images, (size_t)q * 3 * 8 * 32 * sizeof(float)));
    one.n_ok = three.n_ok = q;
    CHECK(icstr_crop_batch_recognize(&one, A, &dp) == ICSTR_OK && icstr_crop_batch_recognize(&three, A, &dp) == ICSTR_OK);
    int changed = 0;
    for (int k = 0; k < q; k++) {
        char *t[3] = {one.texts[k], three.alt_texts[k], three.alt_texts[three.cap + k]};
        float c[3] = {one.confidence[k], three.alt_confidence[k], three.alt_confidence[three.cap + k]};
        int w = icstr_view_vote(t, c, 3);
        CHECK_MSG(!strcmp(three.texts[k], t[w]) && three.confidence[k] == c[w], "crop %d: '%s', the vote '%s'", k,
                  three.texts[k], t[w]);
        changed += w != 0;
    }
    CHECK_MSG(changed > 0, "the vote changed none of %d readings", q);
    icstr_crop_batch_free(&one);
    icstr_crop_batch_free(&three);
    icstr_pool_close(p);
}

/* ---- scoring views on the pool's records, and the choice ---- */

/* The scores of three views on a pool whose labels are the model's own readings of the crops
 * under the second view (so that view reads all of them right), against a reading by hand of
 * the records --max-records keeps (every second, in id order). */
static void test_view_scores(icstr_model *A) {
    icstr_view views[3] = {icstr_view_full(), {0.25f, 0.75f, 0.0f, 1.0f}, {0.0f, 0.6f, 0.0f, 1.0f}};
    enum { K = 24 };
    unsigned char *img[K];
    size_t len[K];
    char read[K][ICSTR_TEXT_CAP], *texts[K];
    float x[K][3 * 8 * 32], lat[K][4 * 16];
    icstr_decode_params dp = icstr_decode_default_params();
    for (int i = 0; i < K; i++) {
        char w[8];
        snprintf(w, sizeof w, "%c%c%d", 'a' + i % 26, 'a' + (i * 7) % 26, i % 10);
        img[i] = draw_crop(w, 300 + i, &len[i]);
        texts[i] = read[i];
        icstr_image im;
        CHECK(icstr_image_load_memory(img[i], len[i], NULL, &im) == ICSTR_OK);
        CHECK(icstr_image_view_to_input(&im, &views[1], 8, 32, x[i]) == ICSTR_OK);
        icstr_image_free(&im);
    }
    CHECK(icstr_model_encode(A, &x[0][0], K, &lat[0][0], NULL) == ICSTR_OK);
    CHECK(icstr_model_decode(A, &lat[0][0], K, NULL, &dp, texts, ICSTR_TEXT_CAP, NULL) == ICSTR_OK);
    char path[300];
    icstr_pool *p = new_pool(A, "scores", path, sizeof path);
    icstr_view_score sc[3];
    CHECK(icstr_pool_view_scores(p, views, 3, 0, ICSTR_SCORE_STANDARD, sc) == ICSTR_ERR_NOTFOUND); /* empty */
    icstr_pool_item items[K];
    int n = 0;
    int kept[K];
    for (int i = 0; i < K; i++) /* the random model's empty or over-long readings cannot be labels */
        if (read[i][0] && strlen(read[i]) <= 8) {
            kept[n] = i;
            items[n++] = (icstr_pool_item){img[i], len[i], read[i], NULL};
        }
    CHECK_MSG(n >= 8, "only %d usable readings", n);
    CHECK(icstr_pool_add(p, items, n, NULL, NULL) == ICSTR_OK);
    CHECK(icstr_pool_view_scores(p, views, 3, (n + 1) / 2, ICSTR_SCORE_STANDARD, sc) == ICSTR_OK);
    unsigned char right0[K];
    for (int v = 0; v < 3; v++) {
        /* by hand: records 1, 3, 5, ... (ids follow the add order) */
        icstr_score ref;
        icstr_score_init(&ref, ICSTR_SCORE_STANDARD);
        int k = 0;
        for (int j = 0; j < n; j += 2, k++) {
            icstr_image im;
            CHECK(icstr_image_load_memory(img[kept[j]], len[kept[j]], NULL, &im) == ICSTR_OK);
            CHECK(icstr_image_view_to_input(&im, &views[v], 8, 32, x[k]) == ICSTR_OK);
            icstr_image_free(&im);
        }
        char got[K][ICSTR_TEXT_CAP], *gt[K];
        for (int j = 0; j < k; j++) gt[j] = got[j];
        CHECK(icstr_model_encode(A, &x[0][0], k, &lat[0][0], NULL) == ICSTR_OK);
        CHECK(icstr_model_decode(A, &lat[0][0], k, NULL, &dp, gt, ICSTR_TEXT_CAP, NULL) == ICSTR_OK);
        long gained = 0, lost = 0;
        for (int j = 0; j < k; j++) {
            int r = icstr_score_add(&ref, got[j], read[kept[2 * j]]) == ICSTR_SCORE_RIGHT;
            if (v == 0) right0[j] = (unsigned char)r;
            gained += r && !right0[j];
            lost += right0[j] && !r;
        }
        CHECK_MSG(sc[v].gained == gained && sc[v].lost == lost, "view %d: gained %ld lost %ld, by hand %ld %ld", v,
                  sc[v].gained, sc[v].lost, gained, lost);
        double one;
        icstr_score_result(&ref, NULL, NULL, NULL, &one);
        CHECK_MSG(sc[v].n == ref.n && sc[v].right == ref.correct && sc[v].one_minus_ned == one,
                  "view %d: %ld/%ld %.6f, by hand %ld/%ld %.6f", v, sc[v].right, sc[v].n, sc[v].one_minus_ned,
                  ref.correct, ref.n, one);
        CHECK(icstr_view_equal(&sc[v].view, &views[v]));
    }
    CHECK(sc[1].right == sc[1].n && sc[1].n == (n + 1) / 2);
    CHECK_MSG(sc[0].right <= sc[1].n - 3, "the full view reads %ld of %ld", sc[0].right, sc[1].n);
    CHECK(sc[1].lost == 0 && sc[1].gained == sc[1].n - sc[0].right && sc[0].gained == 0 && sc[0].lost == 0);
    /* every record when max_records is 0 */
    CHECK(icstr_pool_view_scores(p, views, 1, 0, ICSTR_SCORE_STANDARD, sc) == ICSTR_OK && sc[0].n == n);
    icstr_pool_close(p);
    /* a pool opened without a model cannot read */
    CHECK(icstr_pool_open(path, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    CHECK(icstr_pool_view_scores(p, views, 3, 0, ICSTR_SCORE_STANDARD, sc) == ICSTR_ERR_ARG);
    icstr_pool_close(p);
    for (int i = 0; i < K; i++) free(img[i]);
}

static void set_score(icstr_view_score *s, long right, long gained, long lost) {
    s->n = 100, s->right = right, s->gained = gained, s->lost = lost, s->one_minus_ned = 0.5;
}

static void test_view_choose(void) {
    icstr_view_score s[4];
    memset(s, 0, sizeof s);
    set_score(&s[0], 50, 0, 0);
    set_score(&s[1], 54, 4, 0);  /* 4 >= 2.5 * 2 fails */
    set_score(&s[2], 55, 8, 3);  /* 5 >= 2.5 * sqrt(11) = 8.3 fails */
    set_score(&s[3], 53, 3, 0);
    CHECK(icstr_view_choose(s, 4) == 0);
    set_score(&s[1], 57, 7, 0);  /* 7 >= 6.6: clearly better */
    CHECK(icstr_view_choose(s, 4) == 1);
    set_score(&s[2], 60, 10, 0);
    CHECK(icstr_view_choose(s, 4) == 2);
    set_score(&s[3], 61, 20, 9); /* reads more, but 11 < 2.5 * sqrt(29) = 13.5 */
    CHECK(icstr_view_choose(s, 4) == 2);
    set_score(&s[3], 60, 10, 0);
    s[3].one_minus_ned = 0.6;
    CHECK(icstr_view_choose(s, 4) == 3); /* a tie goes to the closer reading */
    s[2].one_minus_ned = 0.6;
    CHECK(icstr_view_choose(s, 4) == 2); /* then to the earlier */
    set_score(&s[1], 52, 2, 0);  /* gained - lost 2 would need sqrt(2) * 2.5 = 3.5 */
    set_score(&s[2], 51, 1, 0);
    set_score(&s[3], 51, 1, 0);
    CHECK(icstr_view_choose(s, 4) == 0);
    CHECK(icstr_view_choose(s, 1) == 0);
}

int main(void) {
    icstr_set_threads(1);
    snprintf(tmp, sizeof tmp, "%s/icstr-pool-view-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    for (int i = 0; i <= N; i++) {
        snprintf(labels[i], sizeof labels[i], "w%c%d", 'a' + i, i % 10);
        png[i] = draw_crop(labels[i], i, &png_len[i]);
    }
    icstr_model *A = tiny_pool_model(1), *B = tiny_pool_model(2);
    test_view_text();
    test_image_view();
    test_view_choose();
    test_pool_reembed_view(A, B);
    test_crop_batch_view(A);
    test_alternates(A);
    test_view_vote();
    test_bad_metadata(A);
    /* most random tiny models read every crop alike whatever the view; seed 7's readings change */
    icstr_model *S = tiny_pool_model(7);
    test_view_scores(S);
    test_crop_batch_alternates(S);
    icstr_model_free(S);
    icstr_model_free(A);
    icstr_model_free(B);
    for (int i = 0; i <= N; i++) free(png[i]);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_pool_view");
}
