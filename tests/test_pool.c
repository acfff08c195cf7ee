/* The prompt pool: record encoding round trip and a fuzzed decoder; create/open and the model
 * fingerprint refusal; add with deduplication (also with every image forced into one hash
 * bucket), refused labels, rm, get, foreach; export read back with icstr_dataset; reembed for
 * another model (and its refusal of labels the new model cannot write); exact top-N retrieval
 * against a brute-force double-precision reference; and an in-context golden check: decoding
 * with prompts from the pool equals decoding with the same context built by hand, and a crop
 * batch with compare_plain keeps the more confident of the two readings.
 * Crash and concurrency tests are in test_pool_crash.c, the CLI in test_pool_cli.c. */
#include "check.h"
#include "crop_batch.h"
#include "icstr_data.h"
#include "ops_ref.h"
#include "pool_internal.h"

#include <ftw.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmp, name); }

/* ---- fixtures: a tiny model, crops drawn with the sheet font ---- */

static icstr_model_config tiny_config(const char *charset) {
    icstr_model_config c = icstr_model_default_config();
    c.img_h = 8;
    c.img_w = 32;
    c.stem = 0;
    c.patch_h = 4;
    c.patch_w = 4;
    c.enc_dim = 16;
    c.enc_layers = 1;
    c.enc_heads = 2;
    c.enc_mlp = 32;
    c.latents = 4;
    c.resampler_layers = 1;
    c.dec_dim = 16;
    c.dec_layers = 1;
    c.dec_heads = 2;
    c.dec_mlp = 32;
    c.max_label = 8;
    c.max_prompts = 3;
    snprintf(c.charset, sizeof c.charset, "%s", charset);
    return c;
}

static icstr_model *tiny_model(uint64_t seed, const char *charset) {
    icstr_model_config c = tiny_config(charset);
    icstr_model *m = NULL;
    if (icstr_model_create(&c, 0, &m)) {
        fprintf(stderr, "model: %s\n", icstr_last_error());
        exit(1);
    }
    icstr_model_init_weights(m, seed);
    return m;
}

/* A PNG of `label` drawn on a background that depends on `variant` (plus noise), so equal
 * (label, variant) give equal bytes and anything else differs. */
static unsigned char *draw_crop(const char *label, uint64_t variant, size_t *len) {
    icstr_rng r;
    icstr_rng_seed(&r, variant * 7919 + 13);
    unsigned char bg[3] = {(unsigned char)(150 + icstr_rng_below(&r, 100)), (unsigned char)(150 + icstr_rng_below(&r, 100)),
                           (unsigned char)(150 + icstr_rng_below(&r, 100))};
    unsigned char fg[3] = {(unsigned char)icstr_rng_below(&r, 90), (unsigned char)icstr_rng_below(&r, 90),
                           (unsigned char)icstr_rng_below(&r, 90)};
    icstr_image im;
    if (icstr_image_alloc(72, 16, bg, &im)) exit(1);
    icstr_draw_text(&im, 2 + (int)icstr_rng_below(&r, 4), 2 + (int)icstr_rng_below(&r, 3), label, 1, fg);
    for (int k = 0; k < 40; k++) im.rgb[icstr_rng_below(&r, (uint32_t)(72 * 16 * 3))] = (unsigned char)icstr_rng_below(&r, 256);
    unsigned char *png = NULL;
    if (icstr_image_encode_png(im.w, im.h, 3, im.rgb, &png, len)) exit(1);
    icstr_image_free(&im);
    return png;
}

/* The model input of an encoded crop, as the pool computes it. */
static void to_input(const icstr_model *m, const unsigned char *png, size_t len, float *chw) {
    const icstr_model_config *c = icstr_model_get_config(m);
    icstr_image im;
    CHECK(icstr_image_load_memory(png, len, NULL, &im) == ICSTR_OK);
    CHECK(icstr_image_to_input(&im, c->img_h, c->img_w, chw) == ICSTR_OK);
    icstr_image_free(&im);
}

static const char *CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

static void word(int i, char *out) {
    /* distinct short words: two letters from i, a digit */
    out[0] = CHARS[i % 26];
    out[1] = CHARS[(i / 26) % 26];
    out[2] = CHARS[26 + i % 10];
    out[3] = 0;
}

/* ---- records ---- */

static void fill_record(icstr_pool_record *r, icstr_rng *g, int M, int D, size_t image_len) {
    memset(r, 0, sizeof *r);
    r->id = icstr_rng_u64(g);
    r->time_added = (int64_t)(icstr_rng_u64(g) >> 1) - (INT64_MAX / 2);
    r->label = strdup("h\xc3\xa9llo w\xe2\x82\xacrld");
    r->tag = strdup("src/\xe2\x98\x83");
    r->M = M;
    r->D = D;
    r->embedding = malloc((size_t)D * sizeof(float));
    r->latents = malloc((size_t)M * D * sizeof(float));
    r->image = malloc(image_len);
    r->image_len = image_len;
    for (int i = 0; i < D; i++) r->embedding[i] = icstr_rng_normal(g);
    for (int i = 0; i < M * D; i++) r->latents[i] = icstr_rng_normal(g) * 100.0f;
    for (size_t i = 0; i < image_len; i++) r->image[i] = (unsigned char)icstr_rng_u64(g);
    r->image_hash = icstr_pool_hash(r->image, image_len);
}

static void free_filled(icstr_pool_record *r) {
    free(r->label);
    free(r->tag);
    free(r->embedding);
    free(r->latents);
    free(r->image);
}

/* Rewrites a version 2 record's checksum after a deliberate change, so that the change reaches
 * the checks behind the checksum. */
static void fix_crc(unsigned char *b, size_t n) {
    if (n >= 4) pool_put_u32(b + n - 4, pool_crc32c(0, b, n - 4));
}

static void test_record(void) {
    icstr_rng g;
    icstr_rng_seed(&g, 42);
    icstr_pool_record r;
    fill_record(&r, &g, 3, 5, 37);
    unsigned char *buf;
    size_t len;
    CHECK(icstr_pool_record_encode(&r, &buf, &len) == ICSTR_OK);
    CHECK(len == 40 + 4 + strlen(r.label) + 4 + strlen(r.tag) + 4 * 5 * 4 + 8 + 37 + 4);
    /* fields land where the layout says, little-endian; version 2 ends with the CRC-32C */
    CHECK(!memcmp(buf, "ICPR", 4) && buf[4] == 2 && buf[5] == 0);
    CHECK(pool_get_u32(buf + len - 4) == pool_crc32c(0, buf, len - 4));
    CHECK(pool_get_u64(buf + 8) == r.id && pool_get_u32(buf + 32) == 3 && pool_get_u32(buf + 36) == 5);
    icstr_pool_record d;
    CHECK(icstr_pool_record_decode(buf, len, ICSTR_POOL_WANT_ALL, &d) == ICSTR_OK);
    CHECK(d.id == r.id && d.time_added == r.time_added && d.image_hash == r.image_hash);
    CHECK(!strcmp(d.label, r.label) && !strcmp(d.tag, r.tag) && d.M == 3 && d.D == 5);
    CHECK(d.embedding && !memcmp(d.embedding, r.embedding, 5 * sizeof(float)));
    CHECK(d.latents && !memcmp(d.latents, r.latents, 15 * sizeof(float)));
    CHECK(d.image && d.image_len == 37 && !memcmp(d.image, r.image, 37));
    icstr_pool_record_free(&d);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_OK);
    CHECK(!d.embedding && !d.latents && !d.image && d.image_len == 37 && !strcmp(d.label, r.label));
    icstr_pool_record_free(&d);

    /* every truncation fails cleanly, on an exact-size heap copy (ASan sees any over-read) */
    int ok = 1;
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *c = malloc(cut ? cut : 1);
        memcpy(c, buf, cut);
        if (icstr_pool_record_decode(c, cut, ICSTR_POOL_WANT_ALL, &d) != ICSTR_ERR_FORMAT) ok = 0;
        free(c);
    }
    CHECK(ok);
    /* a wrong image hash (behind a valid checksum) is noticed when the image is read */
    buf[24] ^= 1;
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_ERR_FORMAT); /* the checksum */
    fix_crc(buf, len);
    CHECK(icstr_pool_record_decode(buf, len, ICSTR_POOL_WANT_IMAGE, &d) == ICSTR_ERR_FORMAT);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_OK);
    icstr_pool_record_free(&d);
    buf[24] ^= 1;
    buf[4] = 3;
    fix_crc(buf, len);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_ERR_UNSUPPORTED);
    buf[4] = 2;
    fix_crc(buf, len);
    /* a non-finite float and a label with a NUL are refused */
    size_t emb_at = 40 + 4 + strlen(r.label) + 4 + strlen(r.tag);
    unsigned char save[4];
    memcpy(save, buf + emb_at, 4);
    pool_put_f32(buf + emb_at, NAN);
    fix_crc(buf, len);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_ERR_FORMAT);
    CHECK(strstr(icstr_last_error(), "not finite") != NULL);
    memcpy(buf + emb_at, save, 4);
    buf[44] = 0;
    fix_crc(buf, len);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_ERR_FORMAT);
    CHECK(strstr(icstr_last_error(), "UTF-8") != NULL);
    buf[44] = r.label[0];
    fix_crc(buf, len);
    CHECK(icstr_pool_record_decode(buf, len, 0, &d) == ICSTR_OK);
    icstr_pool_record_free(&d);

    /* fuzz: random byte changes, length fields set to extremes, trailing garbage; every other
     * input gets its checksum rewritten so the changes reach the structural checks */
    int bad_rc = 0, decoded = 0;
    for (int it = 0; it < 3000; it++) {
        size_t n = len + (it % 7 == 0 ? icstr_rng_below(&g, 9) : 0);
        unsigned char *c = malloc(n);
        memcpy(c, buf, len < n ? len : n);
        for (size_t k = len; k < n; k++) c[k] = (unsigned char)icstr_rng_u64(&g);
        int flips = 1 + (int)icstr_rng_below(&g, 4);
        for (int f = 0; f < flips; f++) {
            size_t at = icstr_rng_below(&g, (uint32_t)n);
            switch (icstr_rng_below(&g, 3)) {
            case 0: c[at] ^= (unsigned char)(1u << icstr_rng_below(&g, 8)); break;
            case 1: c[at] = (unsigned char)icstr_rng_u64(&g); break;
            default: if (at + 4 <= n) pool_put_u32(c + at, icstr_rng_below(&g, 2) ? 0xffffffffu : (uint32_t)icstr_rng_below(&g, 64));
            }
        }
        if (it % 2) fix_crc(c, n);
        int rc = icstr_pool_record_decode(c, n, (int)icstr_rng_below(&g, 8), &d);
        if (rc == ICSTR_OK) {
            decoded++;
            icstr_pool_record_free(&d);
        } else if (rc != ICSTR_ERR_FORMAT && rc != ICSTR_ERR_UNSUPPORTED) {
            bad_rc++;
        }
        free(c);
    }
    CHECK_MSG(bad_rc == 0, "%d fuzzed records gave an unexpected status", bad_rc);
    CHECK(decoded > 0 && decoded < 3000);

    free(buf);
    /* the encoder refuses what the decoder would */
    icstr_pool_record e = r;
    e.M = 0;
    CHECK(icstr_pool_record_encode(&e, &buf, &len) == ICSTR_ERR_ARG && !buf);
    e = r;
    e.label = "\xff";
    CHECK(icstr_pool_record_encode(&e, &buf, &len) == ICSTR_ERR_ARG && !buf);
    e = r;
    e.image_len = 0;
    CHECK(icstr_pool_record_encode(&e, &buf, &len) == ICSTR_ERR_ARG && !buf);
    free_filled(&r);
    /* the hash: deterministic, sensitive to every byte and to length */
    unsigned char z[64] = {0};
    uint64_t h0 = icstr_pool_hash(z, 64);
    CHECK(h0 == icstr_pool_hash(z, 64) && h0 != icstr_pool_hash(z, 63));
    int distinct = 1;
    for (int i = 0; i < 64; i++) {
        z[i] = 1;
        if (icstr_pool_hash(z, 64) == h0) distinct = 0;
        z[i] = 0;
    }
    CHECK(distinct);
}

/* ---- create, open, fingerprints ---- */

static void test_create_open(icstr_model *A, icstr_model *B) {
    char p[300];
    path_in(p, sizeof p, "fp");
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(A, "/models/a.safetensors", &meta);
    CHECK(meta.M == 4 && meta.D == 16 && strlen(meta.fingerprint) == 64);
    CHECK(icstr_pool_create(p, &meta) == ICSTR_OK);
    CHECK(icstr_pool_create(p, &meta) == ICSTR_ERR_ARG); /* never overwrites */
    icstr_pool *pool = NULL;
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    icstr_pool_info info;
    CHECK(pool && icstr_pool_get_info(pool, &info) == ICSTR_OK);
    CHECK(info.count == 0 && info.next_id == 1 && info.M == 4 && info.D == 16 && info.format == 1);
    CHECK(!strcmp(info.model_path, "/models/a.safetensors") && !strcmp(info.fingerprint, meta.fingerprint));
    icstr_pool_close(pool);
    pool = NULL;
    CHECK(icstr_pool_open(p, B, 0, &pool) == ICSTR_ERR_MISMATCH && !pool);
    CHECK_MSG(strstr(icstr_last_error(), "icstr pool reembed") != NULL, "%s", icstr_last_error());
    CHECK(icstr_pool_open(p, NULL, ICSTR_POOL_RDONLY, &pool) == ICSTR_OK);
    icstr_pool_close(pool);
    char none[300];
    path_in(none, sizeof none, "no-such-pool");
    CHECK(icstr_pool_open(none, A, 0, &pool) == ICSTR_ERR_NOTFOUND);
    /* an STR LMDB is not a pool */
    char str[300];
    path_in(str, sizeof str, "plain.lmdb");
    icstr_str_writer *w;
    CHECK(icstr_str_writer_open(str, &w) == ICSTR_OK);
    CHECK(icstr_str_writer_add(w, "x", 1, "a", NULL) == ICSTR_OK);
    CHECK(icstr_str_writer_close(w) == ICSTR_OK);
    CHECK(icstr_pool_open(str, NULL, 0, &pool) == ICSTR_ERR_FORMAT);
    /* bad metadata is refused before anything is made */
    icstr_pool_meta bad = meta;
    bad.fingerprint[3] = 'X';
    char p2[300];
    path_in(p2, sizeof p2, "bad");
    CHECK(icstr_pool_create(p2, &bad) == ICSTR_ERR_ARG);
    bad = meta;
    bad.D = 0;
    CHECK(icstr_pool_create(p2, &bad) == ICSTR_ERR_ARG);
}

/* ---- add, dedup, refused labels, rm, get, foreach ---- */

typedef struct {
    long n;
    uint64_t last;
    int ordered;
} walk_acc;

static int walk_one(void *user, const icstr_pool_record *r) {
    walk_acc *w = user;
    if (r->id <= w->last) w->ordered = 0;
    w->last = r->id;
    w->n++;
    return 0;
}

static long count_of(icstr_pool *p) {
    icstr_pool_info info;
    return icstr_pool_get_info(p, &info) ? -1 : info.count;
}

static void test_add(icstr_model *A, int collide) {
    char p[300];
    path_in(p, sizeof p, collide ? "collide" : "add");
    icstr_pool_hash_mask_ = collide ? 0 : ~(uint64_t)0;
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(A, NULL, &meta);
    meta.map_bytes = 64 << 10; /* tiny: the map must grow during the adds */
    CHECK(icstr_pool_create(p, &meta) == ICSTR_OK);
    icstr_pool *pool;
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    enum { N = 40 };
    icstr_pool_item items[N + 6];
    unsigned char *png[N + 6];
    char labels[N + 6][16];
    for (int i = 0; i < N; i++) {
        word(i, labels[i]);
        png[i] = draw_crop(labels[i], (uint64_t)i, &items[i].image_len);
        items[i] = (icstr_pool_item){png[i], items[i].image_len, labels[i], labels[i]};
    }
    /* 40: same bytes as 3 (same label), 41: same bytes as 5 with another label,
     * 42: a code point outside the charset, 43: too long, 44: empty, 45: not an image */
    items[N] = items[3];
    items[N + 1] = items[5];
    items[N + 1].label = "zzz9";
    strcpy(labels[N + 2], "ab#c");
    strcpy(labels[N + 3], "abcdefghij");
    labels[N + 4][0] = 0;
    for (int k = 2; k < 6; k++) {
        if (k < 5) png[N + k] = draw_crop("q", 1000 + (uint64_t)k, &items[N + k].image_len);
        else {
            png[N + k] = (unsigned char *)strdup("not an image at all");
            items[N + k].image_len = strlen((char *)png[N + k]);
            strcpy(labels[N + k], "ok");
        }
        items[N + k].image = png[N + k];
        items[N + k].label = labels[N + k];
        items[N + k].name = "bad";
    }
    icstr_pool_add_result res[N + 6];
    /* first half in one call, then everything (the first half again: all duplicates) */
    CHECK(icstr_pool_add(pool, items, N / 2, "first", res) == ICSTR_OK);
    int ok = 1;
    for (int i = 0; i < N / 2; i++) ok &= res[i].status == ICSTR_POOL_ADDED && res[i].id == (uint64_t)i + 1;
    CHECK(ok);
    CHECK(count_of(pool) == N / 2);
    CHECK(icstr_pool_add(pool, items, N + 6, "second", res) == ICSTR_OK);
    ok = 1;
    for (int i = 0; i < N / 2; i++) ok &= res[i].status == ICSTR_POOL_DUPLICATE && res[i].id == (uint64_t)i + 1;
    for (int i = N / 2; i < N; i++) ok &= res[i].status == ICSTR_POOL_ADDED && res[i].id == (uint64_t)i + 1;
    CHECK(ok);
    CHECK(res[N].status == ICSTR_POOL_DUPLICATE && res[N].id == 4 && !res[N].reason[0]);
    CHECK(res[N + 1].status == ICSTR_POOL_DUPLICATE && res[N + 1].id == 6 && strstr(res[N + 1].reason, "zzz9"));
    CHECK_MSG(res[N + 2].status == ICSTR_ERR_RANGE && strstr(res[N + 2].reason, "ab#c"), "%d %s", res[N + 2].status,
              res[N + 2].reason);
    CHECK(res[N + 3].status == ICSTR_ERR_RANGE && strstr(res[N + 3].reason, "abcdefghij"));
    CHECK(res[N + 4].status == ICSTR_ERR_ARG && strstr(res[N + 4].reason, "empty"));
    CHECK(res[N + 5].status == ICSTR_ERR_IMAGE && res[N + 5].id == 0);
    CHECK(count_of(pool) == N);
    icstr_pool_info info;
    CHECK(icstr_pool_get_info(pool, &info) == ICSTR_OK && info.map_bytes > (64 << 10));

    /* a record holds what the model computes for its image */
    icstr_pool_record r;
    CHECK(icstr_pool_get(pool, 8, ICSTR_POOL_WANT_ALL, &r) == ICSTR_OK);
    CHECK(!strcmp(r.label, labels[7]) && !strcmp(r.tag, "first") && r.image_len == items[7].image_len &&
          !memcmp(r.image, png[7], r.image_len));
    float x[3 * 8 * 32], lat[4 * 16], emb[16];
    to_input(A, png[7], items[7].image_len, x);
    CHECK(icstr_model_encode(A, x, 1, lat, emb) == ICSTR_OK);
    double dl = 0, de = 0;
    for (int k = 0; k < 64; k++) dl = fmax(dl, fabs(lat[k] - r.latents[k]));
    for (int k = 0; k < 16; k++) de = fmax(de, fabs(emb[k] - r.embedding[k]));
    CHECK_NEAR(dl, 0.0, 1e-5);
    CHECK_NEAR(de, 0.0, 1e-5);
    icstr_pool_record_free(&r);
    CHECK(icstr_pool_get(pool, 999, 0, &r) == ICSTR_ERR_NOTFOUND);

    /* rm: present and absent ids; a removed image can come back under a new id */
    uint64_t ids[3] = {4, 999, 6};
    int found[3];
    long removed = 0;
    CHECK(icstr_pool_remove(pool, ids, 3, found, &removed) == ICSTR_OK);
    CHECK(found[0] == 1 && found[1] == 0 && found[2] == 1 && removed == 2);
    CHECK(count_of(pool) == N - 2);
    CHECK(icstr_pool_get(pool, 4, 0, &r) == ICSTR_ERR_NOTFOUND);
    CHECK(icstr_pool_add(pool, &items[3], 1, "back", res) == ICSTR_OK);
    CHECK(res[0].status == ICSTR_POOL_ADDED && res[0].id == N + 1);
    CHECK(icstr_pool_add(pool, &items[N], 1, "back", res) == ICSTR_OK);
    CHECK(res[0].status == ICSTR_POOL_DUPLICATE && res[0].id == N + 1);
    walk_acc w = {0, 0, 1};
    CHECK(icstr_pool_foreach(pool, ICSTR_POOL_WANT_ALL, walk_one, &w) == ICSTR_OK);
    CHECK(w.n == N - 1 && w.ordered && w.last == N + 1);
    /* a read-only handle refuses changes */
    icstr_pool *ro;
    CHECK(icstr_pool_open(p, A, ICSTR_POOL_RDONLY, &ro) == ICSTR_OK);
    CHECK(icstr_pool_add(ro, items, 1, "", res) == ICSTR_ERR_ARG);
    CHECK(icstr_pool_remove(ro, ids, 1, NULL, NULL) == ICSTR_ERR_ARG);
    icstr_pool_close(ro);
    /* a handle without a model cannot add crops */
    CHECK(icstr_pool_open(p, NULL, 0, &ro) == ICSTR_OK);
    CHECK(icstr_pool_add(ro, items, 1, "", res) == ICSTR_ERR_ARG);
    icstr_pool_close(ro);

    if (!collide) {
        /* export: the images and labels in id order, as a standard STR LMDB */
        char out[300];
        path_in(out, sizeof out, "export.lmdb");
        long n = 0;
        CHECK_MSG(icstr_pool_export(pool, out, &n) == ICSTR_OK && n == N - 1, "%s", icstr_last_error());
        icstr_dataset *ds;
        CHECK(icstr_dataset_open(out, &ds) == ICSTR_OK);
        CHECK(icstr_dataset_count(ds) == N - 1);
        int same = 1;
        for (long i = 0; i < icstr_dataset_count(ds); i++) {
            const unsigned char *b;
            size_t len;
            const char *label;
            /* ids 1..N without 4 and 6, then N+1 (item 3) */
            int item = i < 3 ? (int)i : i < 4 ? 4 : i < N - 2 ? (int)i + 2 : 3;
            if (icstr_dataset_get(ds, i, &b, &len, &label, NULL) || len != items[item].image_len ||
                memcmp(b, png[item], len) || strcmp(label, labels[item]))
                same = 0;
        }
        CHECK(same);
        icstr_dataset_close(ds);
    }
    icstr_pool_close(pool);
    for (int i = 0; i < N; i++) free(png[i]);
    for (int k = 2; k < 6; k++) free(png[N + k]);
    icstr_pool_hash_mask_ = ~(uint64_t)0;
}

/* ---- reembed ---- */

typedef struct {
    icstr_model *m;
    int n_items;
    unsigned char **png;
    const icstr_pool_item *items;
    long checked, wrong;
} reembed_check;

/* A record's latents are what the model computes for the image with the record's label. */
static int check_embedded(void *user, const icstr_pool_record *r) {
    reembed_check *c = user;
    int i = 0;
    while (i < c->n_items && strcmp(c->items[i].label, r->label)) i++;
    float x[3 * 8 * 32], lat[4 * 16];
    double d = 1;
    if (i < c->n_items && r->image_len == c->items[i].image_len && !memcmp(r->image, c->png[i], r->image_len)) {
        to_input(c->m, c->png[i], c->items[i].image_len, x);
        d = 0;
        if (icstr_model_encode(c->m, x, 1, lat, NULL)) d = 1;
        for (int k = 0; k < 64; k++) d = fmax(d, fabs(lat[k] - r->latents[k]));
    }
    c->checked++;
    c->wrong += d > 1e-5;
    return 0;
}

static void test_reembed(icstr_model *A, icstr_model *B) {
    char p[300];
    path_in(p, sizeof p, "reembed");
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(A, "a.st", &meta);
    meta.map_bytes = 64 << 10;
    CHECK(icstr_pool_create(p, &meta) == ICSTR_OK);
    icstr_pool *pool;
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    enum { N = 23 };
    icstr_pool_item items[N];
    unsigned char *png[N];
    char labels[N][8];
    for (int i = 0; i < N; i++) {
        word(i * 3, labels[i]);
        png[i] = draw_crop(labels[i], 500 + (uint64_t)i, &items[i].image_len);
        items[i] = (icstr_pool_item){png[i], items[i].image_len, labels[i], NULL};
    }
    CHECK(icstr_pool_add(pool, items, N, "t", NULL) == ICSTR_OK);
    uint64_t gone = 5;
    CHECK(icstr_pool_remove(pool, &gone, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_record before;
    CHECK(icstr_pool_get(pool, 9, 0, &before) == ICSTR_OK);
    icstr_pool_close(pool);

    /* a model whose charset lacks some labels' characters: refused, nothing changes */
    icstr_model *C = tiny_model(3, "abcdefghijklmnopqrstuvwxyz");
    long n = 0;
    CHECK(icstr_pool_reembed(p, C, "c.st", NULL, 5, &n) == ICSTR_ERR_RANGE);
    CHECK_MSG(strstr(icstr_last_error(), "nothing was changed") != NULL, "%s", icstr_last_error());
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    icstr_pool_close(pool);
    icstr_model_free(C);

    /* a record whose image cannot be decoded (id N + 1, so in the last chunk): the reembed
     * stops after four chunks of 5 went into the new generation, and the pool is unchanged */
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    float e16[16] = {1}, l64[64] = {0};
    unsigned char junk[5] = {1, 2, 3, 4, 5};
    icstr_pool_record bad = {0, 0, 0, "junk", "", 4, 16, e16, l64, junk, 5};
    icstr_pool_add_result br;
    CHECK(icstr_pool_add_encoded(pool, &bad, 1, &br) == ICSTR_OK && br.status == ICSTR_POOL_ADDED && br.id == N + 1);
    icstr_pool_close(pool);
    CHECK(icstr_pool_reembed(p, B, "b.st", NULL, 5, &n) == ICSTR_ERR_IMAGE);
    CHECK_MSG(strstr(icstr_last_error(), "record 24") != NULL, "%s", icstr_last_error());
    CHECK(icstr_pool_open(p, B, 0, &pool) == ICSTR_ERR_MISMATCH);
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_OK);
    CHECK(count_of(pool) == N);
    uint64_t junk_id = N + 1;
    CHECK(icstr_pool_remove(pool, &junk_id, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_close(pool);
    /* run again: it resumes, re-embedding only the two records the first run did not reach */
    CHECK(icstr_pool_reembed(p, B, "b.st", NULL, 5, &n) == ICSTR_OK);
    CHECK_MSG(n == 2, "resumed reembed did %ld records", n);
    CHECK(icstr_pool_open(p, A, 0, &pool) == ICSTR_ERR_MISMATCH);
    CHECK(icstr_pool_open(p, B, 0, &pool) == ICSTR_OK);
    icstr_pool_info info;
    CHECK(icstr_pool_get_info(pool, &info) == ICSTR_OK);
    CHECK(info.count == N - 1 && info.generation == 1 && !strcmp(info.model_path, "b.st") && info.next_id == N + 2);
    icstr_pool_record after;
    CHECK(icstr_pool_get(pool, 9, ICSTR_POOL_WANT_ALL, &after) == ICSTR_OK);
    CHECK(!strcmp(after.label, before.label) && !strcmp(after.tag, "t") && after.time_added == before.time_added &&
          after.image_hash == before.image_hash);
    float x[3 * 8 * 32], lat[4 * 16], emb[16];
    to_input(B, png[8], items[8].image_len, x);
    CHECK(icstr_model_encode(B, x, 1, lat, emb) == ICSTR_OK);
    double d = 0;
    for (int k = 0; k < 64; k++) d = fmax(d, fabs(lat[k] - after.latents[k]));
    for (int k = 0; k < 16; k++) d = fmax(d, fabs(emb[k] - after.embedding[k]));
    CHECK_NEAR(d, 0.0, 1e-5);
    icstr_pool_record_free(&after);
    icstr_pool_record_free(&before);
    /* retrieval now uses B's embeddings: a pool image finds itself */
    uint64_t id;
    float score;
    int found;
    CHECK(icstr_pool_search(pool, emb, 1, 1, &id, &score, &found) == ICSTR_OK);
    CHECK(found == 1 && id == 9);
    CHECK_NEAR(score, 1.0, 1e-5);
    /* dedup still works (the hash index survives) and adds go on after the last id */
    icstr_pool_add_result res[2];
    CHECK(icstr_pool_add(pool, items, 2, "u", res) == ICSTR_OK);
    CHECK(res[0].status == ICSTR_POOL_DUPLICATE && res[0].id == 1 && res[1].status == ICSTR_POOL_DUPLICATE);
    CHECK(icstr_pool_add(pool, &items[4], 1, "u", res) == ICSTR_OK);
    CHECK(res[0].status == ICSTR_POOL_ADDED && res[0].id == N + 2);
    /* every record was re-embedded (the resumed ones too): each matches B on its own image */
    reembed_check rc = {B, N, png, items, 0, 0};
    CHECK(icstr_pool_foreach(pool, ICSTR_POOL_WANT_ALL, check_embedded, &rc) == ICSTR_OK);
    CHECK_MSG(rc.checked == N && rc.wrong == 0, "%ld records, %ld not B's", rc.checked, rc.wrong);
    icstr_pool_close(pool);
    /* re-embedding for the model it already has changes nothing */
    CHECK(icstr_pool_reembed(p, B, "b.st", NULL, 0, &n) == ICSTR_OK && n == N);
    for (int i = 0; i < N; i++) free(png[i]);
}

/* ---- retrieval against brute force ---- */

typedef struct {
    double s;
    uint64_t id;
} ref_hit;

static int ref_cmp(const void *a, const void *b) {
    const ref_hit *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* A new pool tmp/NAME for records of M latents of D floats (no model), opened. */
static icstr_pool *search_pool(const char *name, int M, int D) {
    char p[300];
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    icstr_pool_meta meta;
    memset(&meta, 0, sizeof meta);
    memset(meta.fingerprint, 'a', 64);
    meta.M = M;
    meta.D = D;
    CHECK(icstr_pool_create(p, &meta) == ICSTR_OK);
    icstr_pool *pool = NULL;
    CHECK(icstr_pool_open(p, NULL, 0, &pool) == ICSTR_OK);
    return pool;
}

/* Rows that all lie within half precision's rounding of each other (one direction, each moved by
 * 1e-4 per coordinate): the single query's half-precision first pass orders them wrongly, and the
 * float scores of its shortlist must still give exactly the float search's top N. */
static void test_search_near_ties(void) {
    enum { D = 192, N = 400, K = 8 };
    icstr_pool *pool = search_pool("search-near", 1, D);
    icstr_rng g;
    icstr_rng_seed(&g, 77);
    float *base = malloc(D * sizeof(float)), *E = malloc((size_t)N * D * sizeof(float));
    for (int k = 0; k < D; k++) base[k] = icstr_rng_normal(&g);
    icstr_pool_record *recs = calloc(N, sizeof *recs);
    uint64_t *img = malloc(N * sizeof *img);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < D; k++) E[(size_t)i * D + k] = base[k] + 1e-4f * icstr_rng_normal(&g);
        img[i] = (uint64_t)i * 40503u + 7;
        recs[i] = (icstr_pool_record){0, 0, 0, "w", "", 1, D, E + (size_t)i * D, E + (size_t)i * D,
                                      (unsigned char *)&img[i], sizeof img[i]};
    }
    icstr_pool_add_result *res = calloc(N, sizeof *res);
    CHECK(icstr_pool_add_encoded(pool, recs, N, res) == ICSTR_OK);
    uint64_t ids[2][K];
    float sc[2][K];
    int found[2], differs = 0;
    for (int q = 0; q < 20; q++) {
        float query[D];
        for (int k = 0; k < D; k++) query[k] = base[k] + 1e-4f * icstr_rng_normal(&g);
        for (int pass = 0; pass < 2; pass++) { /* float alone, then the half keys first */
            pool_half_rows_ = pass ? 1 : N + 1;
            CHECK(icstr_pool_search(pool, query, 1, K, ids[pass], sc[pass], &found[pass]) == ICSTR_OK);
        }
        differs |= found[0] != K || found[1] != K || memcmp(ids[0], ids[1], sizeof ids[0]) ||
                   memcmp(sc[0], sc[1], sizeof sc[0]);
    }
    CHECK_MSG(!differs, "near ties: the half-precision shortlist changed a single query's top %d", K);
    pool_half_rows_ = 4096;
    icstr_pool_close(pool);
    free(base), free(E), free(recs), free(img), free(res);
}

static void test_search(int D) {
    char name[32], p[300];
    snprintf(name, sizeof name, "search%d", D);
    snprintf(p, sizeof p, "%s/%s", tmp, name);
    icstr_pool *pool = search_pool(name, 2, D);
    enum { N = 700, Q = 37 };
    icstr_rng g;
    icstr_rng_seed(&g, (uint64_t)D);
    icstr_pool_record *recs = calloc(N, sizeof *recs);
    float *E = malloc((size_t)N * D * sizeof(float)), *lat = calloc((size_t)2 * D, sizeof(float));
    uint64_t *img = malloc(N * sizeof *img);
    for (int i = 0; i < N; i++) {
        float *e = E + (size_t)i * D;
        if (i % 50 == 49) memcpy(e, E + (size_t)(i - 7) * D, (size_t)D * sizeof(float)); /* exact ties */
        else
            for (int k = 0; k < D; k++) e[k] = icstr_rng_normal(&g) * (float)(1 + i % 3); /* not normalised */
        img[i] = (uint64_t)i * 2654435761u + 1;
        recs[i] = (icstr_pool_record){0, 0, 0, "w", "", 2, D, e, lat, (unsigned char *)&img[i], sizeof img[i]};
    }
    icstr_pool_add_result *res = calloc(N, sizeof *res);
    CHECK(icstr_pool_add_encoded(pool, recs, N, res) == ICSTR_OK);
    int all = 1;
    for (int i = 0; i < N; i++) all &= res[i].status == ICSTR_POOL_ADDED && res[i].id == (uint64_t)i + 1;
    CHECK(all);
    /* remove a few so ids and rows differ */
    uint64_t rm[3] = {1, 300, 700};
    CHECK(icstr_pool_remove(pool, rm, 3, NULL, NULL) == ICSTR_OK);
    CHECK(icstr_pool_search_count(pool) == N - 3);

    float *Qv = malloc((size_t)Q * D * sizeof(float));
    for (int i = 0; i < Q * D; i++) Qv[i] = icstr_rng_normal(&g);
    memcpy(Qv, E + (size_t)42 * D, (size_t)D * sizeof(float)); /* query 0 is the row of id 43, and of id 50 */
    ref_hit *ref = malloc(N * sizeof *ref);
    const int Ns[4] = {1, 5, N - 3, N + 10};
    for (int t = 0; t < 4; t++) {
        int K = Ns[t];
        uint64_t *ids = malloc((size_t)Q * K * sizeof *ids), *ids0 = malloc((size_t)Q * K * sizeof *ids0);
        float *sc = malloc((size_t)Q * K * sizeof *sc), *sc0 = malloc((size_t)Q * K * sizeof *sc0);
        for (int pass = 0; pass < 4; pass++) {
            /* pass 0: one query per call (the matrix-vector path); 1: all at once (sgemm);
             * 2: all at once in chunks of 3 queries; 3: one query per call, the half-precision
             * keys first (where compiled in), which must give pass 0's ids and scores exactly */
            pool_score_floats_ = pass == 2 ? (size_t)3 * (N - 3) : (size_t)8 << 20;
            pool_half_rows_ = pass == 3 ? 1 : N + 1;
            int found = -1, ok = 1;
            if (pass == 0 || pass == 3)
                for (int q = 0; q < Q; q++)
                    ok &= icstr_pool_search(pool, Qv + (size_t)q * D, 1, K, ids + (size_t)q * K, sc + (size_t)q * K,
                                            &found) == ICSTR_OK;
            else
                ok &= icstr_pool_search(pool, Qv, Q, K, ids, sc, &found) == ICSTR_OK;
            CHECK(ok && found == (K < N - 3 ? K : N - 3));
            int id_ok = 1, tail_ok = 1;
            double worst = 0;
            for (int q = 0; q < Q; q++) {
                const float *qv = Qv + (size_t)q * D;
                double qn = 0;
                for (int k = 0; k < D; k++) qn += (double)qv[k] * qv[k];
                int m = 0;
                for (int i = 0; i < N; i++) {
                    uint64_t id = (uint64_t)i + 1;
                    if (id == 1 || id == 300 || id == 700) continue;
                    const float *e = E + (size_t)i * D;
                    double dot = 0, en = 0;
                    for (int k = 0; k < D; k++) dot += (double)qv[k] * e[k], en += (double)e[k] * e[k];
                    ref[m++] = (ref_hit){dot / sqrt(qn * en), id};
                }
                qsort(ref, (size_t)m, sizeof *ref, ref_cmp);
                for (int j = 0; j < found; j++) {
                    double err = fabs(sc[(size_t)q * K + j] - ref[j].s);
                    worst = fmax(worst, err);
                    /* an id may differ from the reference only where float rounding can swap
                     * two nearly equal scores */
                    if (ids[(size_t)q * K + j] != ref[j].id &&
                        !((j + 1 < m && fabs(ref[j].s - ref[j + 1].s) < 1e-6) || (j > 0 && fabs(ref[j].s - ref[j - 1].s) < 1e-6)))
                        id_ok = 0;
                }
                for (int j = found; j < K; j++) tail_ok &= ids[(size_t)q * K + j] == 0 && sc[(size_t)q * K + j] == -1e30f;
            }
            CHECK_MSG(id_ok, "D %d N %d pass %d: ids differ from the reference", D, K, pass);
            CHECK(tail_ok);
            CHECK_NEAR(worst, 0.0, 2e-6);
            /* the tie: query 0 equals the rows of ids 43 and 50; the lower id comes first */
            CHECK(ids[0] == 43 && (K == 1 || ids[1] == 50));
            CHECK_NEAR(sc[0], 1.0, 1e-6);
            if (pass == 0) {
                memcpy(ids0, ids, (size_t)Q * K * sizeof *ids);
                memcpy(sc0, sc, (size_t)Q * K * sizeof *sc);
            }
            if (pass == 3)
                CHECK_MSG(!memcmp(ids0, ids, (size_t)Q * K * sizeof *ids) && !memcmp(sc0, sc, (size_t)Q * K * sizeof *sc),
                          "D %d N %d: the half-precision shortlist changed the single query's result", D, K);
        }
        free(ids), free(ids0);
        free(sc), free(sc0);
    }
    pool_score_floats_ = (size_t)8 << 20;
    pool_half_rows_ = 4096;
#if POOL_HALF_KEYS
    { /* made by pass 3: the half keys are the float keys rounded to nearest even, as
         icstr_f32_to_f16_n does */
        size_t cells = (size_t)(N - 3) * pool->Dp;
        uint16_t *want = malloc(cells * sizeof *want);
        icstr_f32_to_f16_n(want, pool->E, cells);
        CHECK(pool->E16 && !memcmp(want, pool->E16, cells * sizeof *want));
        free(want);
    }
#endif
    /* another handle's change is seen after a reload; a change through this handle at once */
    icstr_pool *other;
    CHECK(icstr_pool_open(p, NULL, 0, &other) == ICSTR_OK);
    uint64_t id43 = 43, got;
    float s;
    int found;
    CHECK(icstr_pool_remove(other, &id43, 1, NULL, NULL) == ICSTR_OK);
    icstr_pool_close(other);
    CHECK(icstr_pool_search(pool, Qv, 1, 1, &got, &s, &found) == ICSTR_OK && got == 43);
    icstr_pool_reload(pool);
    CHECK_MSG(icstr_pool_search(pool, Qv, 1, 1, &got, &s, &found) == ICSTR_OK && got == 50, "%s %llu", icstr_last_error(), (unsigned long long)got);
    uint64_t id50 = 50;
    CHECK(icstr_pool_remove(pool, &id50, 1, NULL, NULL) == ICSTR_OK);
    CHECK(icstr_pool_search(pool, Qv, 1, 1, &got, &s, &found) == ICSTR_OK && got != 50);
    /* bad queries */
    float zero[192] = {0};
    CHECK(icstr_pool_search(pool, zero, 1, 1, &got, &s, &found) == ICSTR_ERR_ARG);
    CHECK(icstr_pool_search(pool, Qv, 1, 0, &got, &s, &found) == ICSTR_ERR_ARG);
    icstr_pool_close(pool);
    free(ref);
    free(Qv);
    free(recs);
    free(E);
    free(lat);
    free(img);
    free(res);
}

/* ---- in-context golden: through the pool == by hand ---- */

/* A new empty pool for model m in the test directory, open read-write. */
static icstr_pool *new_pool(icstr_model *m, const char *name) {
    char p[300];
    path_in(p, sizeof p, name);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    icstr_pool *pool = NULL;
    CHECK(icstr_pool_create(p, &meta) == ICSTR_OK);
    CHECK(icstr_pool_open(p, m, 0, &pool) == ICSTR_OK);
    if (!pool) exit(1);
    return pool;
}

static void test_incontext(icstr_model *A) {
    icstr_pool *pool = new_pool(A, "golden");
    enum { NP = 10, NQ = 5, S = 2, M = 4, D = 16, L = 8 };
    icstr_pool_item items[NP];
    unsigned char *png[NP + NQ];
    size_t len[NP + NQ];
    char labels[NP + NQ][8];
    for (int i = 0; i < NP + NQ; i++) {
        word(i * 7 + 3, labels[i]);
        /* queries 0 and 1 are pool images 2 and 6 (a query may be in the pool) */
        int src = i == NP ? 2 : i == NP + 1 ? 6 : i;
        png[i] = draw_crop(labels[src], 900 + (uint64_t)src, &len[i]);
        if (i < NP) items[i] = (icstr_pool_item){png[i], len[i], labels[i], NULL};
    }
    CHECK(icstr_pool_add(pool, items, NP, "g", NULL) == ICSTR_OK);
    float x[(NP + NQ) * 3 * 8 * 32], lat[(NP + NQ) * M * D], emb[(NP + NQ) * D];
    for (int i = 0; i < NP + NQ; i++) to_input(A, png[i], len[i], x + (size_t)i * 3 * 8 * 32);
    /* by hand: one encode of everything, brute-force cosine, context in ascending similarity */
    CHECK(icstr_model_encode(A, x, NP + NQ, lat, emb) == ICSTR_OK);
    float ctx_lat[NQ][S][M * D];
    int ctx_lab[NQ][S][L], ctx_len[NQ][S];
    icstr_context hand[NQ];
    uint64_t hand_ids[NQ][S];
    double hand_scores[NQ][S]; /* best first */
    for (int q = 0; q < NQ; q++) {
        const float *qe = emb + (size_t)(NP + q) * D;
        ref_hit h[NP];
        for (int i = 0; i < NP; i++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += (double)qe[k] * emb[(size_t)i * D + k];
            h[i] = (ref_hit){s, (uint64_t)i + 1};
        }
        qsort(h, NP, sizeof *h, ref_cmp);
        for (int j = 0; j < S; j++) {
            int pos = S - 1 - j, i = (int)h[j].id - 1; /* the best goes last */
            hand_ids[q][pos] = h[j].id;
            hand_scores[q][j] = h[j].s;
            memcpy(ctx_lat[q][pos], lat + (size_t)i * M * D, sizeof ctx_lat[q][pos]);
            CHECK(icstr_model_encode_label(A, labels[i], ctx_lab[q][pos], &ctx_len[q][pos]) == ICSTR_OK);
        }
        hand[q] = (icstr_context){S, &ctx_lat[q][0][0], &ctx_lab[q][0][0], ctx_len[q]};
    }
    CHECK(hand_ids[0][S - 1] == 3 && hand_ids[1][S - 1] == 7); /* a pool image finds itself */
    icstr_decode_params dp = icstr_decode_default_params();
    char tb[NQ][64], tp[NQ][64], tn[NQ][64];
    char *hand_t[NQ], *pool_t[NQ], *none_t[NQ];
    float hand_c[NQ], pool_c[NQ], none_c[NQ];
    for (int q = 0; q < NQ; q++) hand_t[q] = tb[q], pool_t[q] = tp[q], none_t[q] = tn[q];
    const float *qlat = lat + (size_t)NP * M * D;
    CHECK(icstr_model_decode(A, qlat, NQ, hand, &dp, hand_t, 64, hand_c) == ICSTR_OK);
    /* through the pool */
    icstr_pool_prompts pp;
    CHECK(icstr_pool_prompts_init(&pp, pool, NQ, S) == ICSTR_OK);
    CHECK(icstr_pool_prompts_fill(pool, emb + (size_t)NP * D, NQ, &pp) == ICSTR_OK);
    int same_ids = 1;
    for (int q = 0; q < NQ; q++) {
        same_ids &= pp.ctx[q].n_prompts == S;
        for (int j = 0; j < S; j++) same_ids &= pp.ids[q * S + j] == hand_ids[q][j];
        same_ids &= pp.scores[q * S] <= pp.scores[q * S + 1];
    }
    CHECK(same_ids);
    CHECK_NEAR(pp.scores[1], 1.0, 1e-5);
    CHECK(icstr_model_decode(A, qlat, NQ, pp.ctx, &dp, pool_t, 64, pool_c) == ICSTR_OK);
    CHECK(icstr_model_decode(A, qlat, NQ, NULL, &dp, none_t, 64, none_c) == ICSTR_OK);
    int same = 1, differs = 0;
    for (int q = 0; q < NQ; q++) {
        same &= !strcmp(hand_t[q], pool_t[q]) && fabs(hand_c[q] - pool_c[q]) <= 1e-5 * hand_c[q];
        differs |= strcmp(none_t[q], pool_t[q]) || fabs(none_c[q] - pool_c[q]) > 1e-4 * none_c[q];
    }
    CHECK_MSG(same, "decoding with prompts from the pool differs from the hand-built context");
    CHECK_MSG(differs, "the context changed nothing: the check above would pass vacuously");
    /* a floor on the similarity leaves out the records under it, and only those */
    float floor = pp.scores[1] - 1e-4f;
    pp.min_score = floor;
    CHECK(icstr_pool_prompts_fill(pool, emb + (size_t)NP * D, NQ, &pp) == ICSTR_OK);
    int floored = 1, left_out = 0;
    for (int q = 0; q < NQ; q++) {
        int want = 0;
        for (int j = 0; j < S; j++) want += hand_scores[q][j] >= floor;
        floored &= pp.ctx[q].n_prompts == want;
        for (int j = 0; j < pp.ctx[q].n_prompts; j++) floored &= pp.scores[q * S + j] >= floor;
        left_out += S - want;
    }
    CHECK_MSG(floored && left_out > 0, "similarity floor: %d prompts left out", left_out);
    /* more shots than the model takes */
    icstr_pool_prompts bad;
    CHECK(icstr_pool_prompts_init(&bad, pool, 4, 4) == ICSTR_ERR_LIMIT);
    icstr_pool_prompts_free(&pp);
    /* shots 0: no prompts */
    CHECK(icstr_pool_prompts_init(&pp, pool, NQ, 0) == ICSTR_OK);
    CHECK(icstr_pool_prompts_fill(pool, emb + (size_t)NP * D, NQ, &pp) == ICSTR_OK && pp.ctx[0].n_prompts == 0);
    icstr_pool_prompts_free(&pp);
    icstr_pool_close(pool);
    for (int i = 0; i < NP + NQ; i++) free(png[i]);
}

/* Draws n crops of these labels (variants from `variant` on; png[i], len[i] to be freed) and adds
 * them to the pool under tag. */
static void add_labelled(icstr_pool *pool, const char *const *labels, int n, uint64_t variant, const char *tag,
                         unsigned char **png, size_t *len) {
    icstr_pool_item items[16];
    CHECK(n <= 16);
    for (int i = 0; i < n && i < 16; i++) {
        png[i] = draw_crop(labels[i], variant + (uint64_t)i, &len[i]);
        items[i] = (icstr_pool_item){png[i], len[i], labels[i], NULL};
    }
    CHECK(icstr_pool_add(pool, items, n, tag, NULL) == ICSTR_OK);
}

/* The pool's labels as a lexicon: load keeps each label once (sorted), and correct replaces a
 * reading by the likeliest label within max_ned exactly when that label's score (icstr_model_score,
 * any case) is at most margin below the reading's; a reading that is a label already, near none or
 * without a letter stays. */
static void test_lexicon(icstr_model *A) {
    icstr_pool *pool = new_pool(A, "lexicon");
    const char *labels[] = {"xyz12", "abc", "abd", "abc"};
    enum { NL = 4, NQ = 4, L = 8 };
    unsigned char *png[NL + NQ];
    size_t len[NL + NQ];
    add_labelled(pool, labels, NL, 500, "lx", png, len);
    icstr_pool_lexicon lx;
    CHECK(icstr_pool_lexicon_load(pool, &lx) == ICSTR_OK);
    CHECK_MSG(lx.n == 3 && !strcmp(lx.labels[0], "abc") && !strcmp(lx.labels[1], "abd") &&
                  !strcmp(lx.labels[2], "xyz12") && lx.len[2] == 5 && lx.clean_len[2] == 5,
              "lexicon of %d labels", lx.n);
    /* four readings of four crops: near abc/abd, a label already, near nothing, near xyz12 */
    const char *read[NQ] = {"abe", "abc", "qqqq", "xyz13"};
    float x[NQ * 3 * 8 * 32], lat[NQ * 4 * 16];
    for (int i = 0; i < NQ; i++) {
        png[NL + i] = draw_crop(read[i], 700 + (uint64_t)i, &len[NL + i]);
        to_input(A, png[NL + i], len[NL + i], x + (size_t)i * 3 * 8 * 32);
    }
    CHECK(icstr_model_encode(A, x, NQ, lat, NULL) == ICSTR_OK);
    /* the scores correct must compare: crop 0 as abe, abc, abd; crop 3 as xyz13, xyz12 */
    const char *cand[5] = {"abe", "abc", "abd", "xyz13", "xyz12"};
    int crop[5] = {0, 0, 0, 3, 3}, tok[5 * L], tl[5];
    float clat[5 * 4 * 16];
    for (int j = 0; j < 5; j++) {
        CHECK(icstr_model_encode_label(A, cand[j], tok + j * L, &tl[j]) == ICSTR_OK);
        memcpy(clat + j * 4 * 16, lat + crop[j] * 4 * 16, sizeof(float) * 4 * 16);
    }
    double lp[5];
    CHECK(icstr_model_score(A, clat, 5, NULL, tok, tl, 1, lp) == ICSTR_OK);
    int best0 = lp[1] >= lp[2] ? 1 : 2;
    double gap0 = lp[0] - lp[best0], gap3 = lp[3] - lp[4];
    /* margin 0 must go both ways here (one candidate above its reading, one below), or the check
     * below tells nothing */
    CHECK_MSG((gap0 <= 0) != (gap3 <= 0), "gaps %.4f and %.4f: pick other crops", gap0, gap3);
    for (int pass = 0; pass < 2; pass++) {
        /* margins: everything goes; only a label likelier than the reading goes */
        float margin = pass == 0 ? 1000.0f : 0.0f;
        char buf[NQ][64], *texts[NQ];
        float conf[NQ] = {0.5f, 0.5f, 0.5f, 0.5f};
        unsigned char fixed[NQ];
        for (int i = 0; i < NQ; i++) texts[i] = strcpy(buf[i], read[i]);
        icstr_lexicon_params lp_params = icstr_lexicon_default_params();
        lp_params.max_ned = 0.5f;
        lp_params.margin = margin;
        CHECK(icstr_pool_lexicon_correct(&lx, A, lat, NQ, &lp_params, texts, 64, conf, fixed) == ICSTR_OK);
        int want0 = gap0 <= margin, want3 = gap3 <= margin;
        CHECK_MSG(fixed[0] == want0 && !strcmp(texts[0], want0 ? cand[best0] : "abe"),
                  "margin %.3f: abe -> %s (gap %.3f)", (double)margin, texts[0], gap0);
        CHECK_MSG(fixed[3] == want3 && !strcmp(texts[3], want3 ? "xyz12" : "xyz13"),
                  "margin %.3f: xyz13 -> %s (gap %.3f)", (double)margin, texts[3], gap3);
        CHECK(!fixed[1] && !strcmp(texts[1], "abc") && !fixed[2] && !strcmp(texts[2], "qqqq"));
        if (want0) CHECK_NEAR(conf[0], exp(lp[best0]), 1e-5 * exp(lp[best0]) + 1e-9);
        CHECK(conf[1] == 0.5f && conf[2] == 0.5f);
    }
    /* max_ned 0.1: xyz13 is 0.2 from xyz12, so it stays even with every margin (the word pass
       off: xyz12 is a word of the labels too) */
    {
        char b3[64] = "xyz13", *t3 = b3;
        float c3 = 0.5f;
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.max_ned = 0.1f;
        q.margin = 1000.0f;
        q.word_ned = 0.0f;
        CHECK(icstr_pool_lexicon_correct(&lx, A, lat + 3 * 4 * 16, 1, &q, &t3, 64, &c3, NULL) == ICSTR_OK);
        CHECK(!strcmp(t3, "xyz13") && c3 == 0.5f);
    }
    /* a reading with no letter ("13", "1.3") stays whatever the distance and margin; one with a
       letter goes to a label then */
    {
        char b[3][64] = {"13", "1.3", "a13"}, *t[3] = {b[0], b[1], b[2]};
        float c[3] = {0.5f, 0.5f, 0.5f}, l3[3 * 4 * 16];
        unsigned char fixed[3];
        for (int i = 0; i < 3; i++) memcpy(l3 + i * 4 * 16, lat + 3 * 4 * 16, sizeof(float) * 4 * 16);
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.max_ned = 1.0f;
        q.margin = 1000.0f;
        CHECK(icstr_pool_lexicon_correct(&lx, A, l3, 3, &q, t, 64, c, fixed) == ICSTR_OK);
        CHECK_MSG(!fixed[0] && !strcmp(t[0], "13") && !fixed[1] && !strcmp(t[1], "1.3") && c[0] == 0.5f && c[1] == 0.5f,
                  "a reading of digits became '%s' / '%s'", t[0], t[1]);
        CHECK_MSG(fixed[2] && strcmp(t[2], "a13"), "a13 stayed");
    }
    /* a label two or more letters and digits shorter than the reading is no candidate by
       default ("abcde" stays; "abcd" -> a label), any with max_shorter -1; the word pass off */
    for (int any = 0; any < 2; any++) {
        char b[2][64] = {"abcde", "abcd"}, *t[2] = {b[0], b[1]};
        float c[2] = {0.5f, 0.5f}, l2[2 * 4 * 16];
        unsigned char fixed[2];
        for (int i = 0; i < 2; i++) memcpy(l2 + i * 4 * 16, lat, sizeof(float) * 4 * 16);
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.max_ned = 0.9f; /* not "xyz12", as long as "abcde" and as far as can be */
        q.margin = 1000.0f;
        q.word_ned = 0.0f;
        if (any) q.max_shorter = -1;
        CHECK(icstr_pool_lexicon_correct(&lx, A, l2, 2, &q, t, 64, c, fixed) == ICSTR_OK);
        CHECK_MSG(fixed[0] == any && (any ? strcmp(t[0], "abcde") != 0 : !strcmp(t[0], "abcde")) && fixed[1] &&
                      strcmp(t[1], "abcd"),
                  "max_shorter %d: abcde -> '%s', abcd -> '%s'", q.max_shorter, t[0], t[1]);
    }
    icstr_pool_lexicon_free(&lx);
    icstr_pool_close(pool);
    for (int i = 0; i < NL + NQ; i++) free(png[i]);
}

/* The pool as a kNN store (pool_knn.h): one entry per label token and EOC of every record, in id
 * order, keyed by the record's decoder states fed its label (icstr_model_states on its stored
 * latents); read through a crop batch with one neighbour and lambda 1, each pool crop reads its
 * own label exactly, which the plain reading does not. */
static int visit_states(void *user, const icstr_pool_record *r) {
    float *lat = user;
    static int at;
    if (r->id == 1) at = 0;
    memcpy(lat + (size_t)at++ * r->M * r->D, r->latents, (size_t)r->M * r->D * sizeof(float));
    return 0;
}


/* The lexicon's word pass, on a model that writes spaces: the labels' words of 3 or more letters
 * and digits with a letter, once each and sorted; a reading no label is near has each word that
 * is no label word put right by the nearest one within word_ned, alone or all at once, and the
 * likeliest candidate (icstr_model_score, any case) stays when at most margin below the reading;
 * a reading the line pass corrected, and every reading with word_ned 0, is left to it. */
static void test_lexicon_words(void) {
    icstr_model *W = tiny_model(3, "abcdefghijklmnopqrstuvwxyz0123456789 ");
    icstr_pool *pool = new_pool(W, "lexicon-words");
    const char *labels[] = {"kmq 12", "zeta kmq", "ab"};
    enum { NL = 3, L = 8 };
    unsigned char *png[NL + 1];
    size_t len[NL + 1];
    add_labelled(pool, labels, NL, 800, "lw", png, len);
    icstr_pool_lexicon lx;
    CHECK(icstr_pool_lexicon_load(pool, &lx) == ICSTR_OK);
    CHECK_MSG(lx.n_words == 2 && !strcmp(lx.words[0].word, "kmq") && !strcmp(lx.words[1].word, "zeta"),
              "%d words", lx.n_words);
    float x[3 * 8 * 32], lat[4 * 16];
    png[NL] = draw_crop("kmp zetb", 900, &len[NL]);
    to_input(W, png[NL], len[NL], x);
    CHECK(icstr_model_encode(W, x, 1, lat, NULL) == ICSTR_OK);
    /* the reading, then each word put right alone, then both */
    const char *cand[4] = {"kmp zetb", "kmq zetb", "kmp zeta", "kmq zeta"};
    int tok[4 * L], tl[4];
    float clat[4 * 4 * 16];
    for (int j = 0; j < 4; j++) {
        CHECK(icstr_model_encode_label(W, cand[j], tok + j * L, &tl[j]) == ICSTR_OK);
        memcpy(clat + j * 4 * 16, lat, sizeof lat);
    }
    double lp[4];
    CHECK(icstr_model_score(W, clat, 4, NULL, tok, tl, 1, lp) == ICSTR_OK);
    int best = 1;
    for (int j = 2; j < 4; j++)
        if (lp[j] > lp[best]) best = j;
    double gap = lp[0] - lp[best];
    static const float margins[] = {1000.0f, 0.0f, -1000.0f};
    for (int k = 0; k < 3; k++) {
        char buf[64] = "kmp zetb", *t = buf;
        float conf = 0.5f;
        unsigned char fixed = 9;
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.margin = margins[k];
        CHECK(icstr_pool_lexicon_correct(&lx, W, lat, 1, &q, &t, 64, &conf, &fixed) == ICSTR_OK);
        int want = gap <= margins[k];
        CHECK_MSG(fixed == want && !strcmp(buf, want ? cand[best] : cand[0]), "margin %g: '%s' (gap %.3f)",
                  (double)margins[k], buf, gap);
        if (want) CHECK_NEAR(conf, exp(lp[best]), 1e-5 * exp(lp[best]) + 1e-9);
        else CHECK(conf == 0.5f);
    }
    { /* no word pass; and a reading the line pass puts right ("zeta kmp" -> "zeta kmq") */
        char b[2][64] = {"kmp zetb", "zeta kmp"}, *t[2] = {b[0], b[1]};
        float conf[2] = {0.5f, 0.5f}, l2[2 * 4 * 16];
        memcpy(l2, lat, sizeof lat), memcpy(l2 + 4 * 16, lat, sizeof lat);
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.margin = 1000.0f;
        q.word_ned = 0.0f;
        CHECK(icstr_pool_lexicon_correct(&lx, W, l2, 2, &q, t, 64, conf, NULL) == ICSTR_OK);
        CHECK_MSG(!strcmp(b[0], "kmp zetb") && conf[0] == 0.5f && !strcmp(b[1], "zeta kmq"), "'%s' '%s'", b[0], b[1]);
    }
    { /* a long reading whose words all have a longer near word: the candidates that would not fit
         the text's cap are dropped, and a reading longer than the model can write stays */
        char b[64], *t = b;
        strcpy(b, "zet zet zet zet zet zet zet zet zet zet zet zet zet zet zet");
        float conf = 0.5f;
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.margin = 1000.0f;
        CHECK(icstr_pool_lexicon_correct(&lx, W, lat, 1, &q, &t, (int)sizeof b, &conf, NULL) == ICSTR_OK);
        CHECK(!strcmp(b, "zet zet zet zet zet zet zet zet zet zet zet zet zet zet zet") && conf == 0.5f);
    }
    icstr_pool_lexicon_free(&lx);
    icstr_pool_close(pool);
    icstr_model_free(W);
    for (int i = 0; i <= NL; i++) free(png[i]);
}

/* The lexicon on a line read in pieces (icstr_pool_lexicon_correct_pieces): the line's candidates
 * (a label near its joined reading; the joined reading with a word its pieces' edge cut put right)
 * are cut where they align with the edges between the pieces' readings, each part scored on its
 * own piece, and the sum stays when at most margin below the pieces' readings' sum; a candidate
 * that leaves a piece showing text with no part, and a line of one piece, are left alone. */
static double parts_logprob(icstr_model *W, const float *lat, const char *const *parts, int n) {
    enum { L = 8, PER = 4 * 16 };
    int tok[4 * L], tl[4];
    float pl[4 * PER];
    double lp[4], sum = 0.0;
    for (int j = 0; j < n; j++) {
        CHECK(icstr_model_encode_label(W, parts[j], tok + j * L, &tl[j]) == ICSTR_OK);
        memcpy(pl + j * PER, lat + j * PER, PER * sizeof(float));
    }
    CHECK(icstr_model_score(W, pl, n, NULL, tok, tl, 1, lp) == ICSTR_OK);
    for (int j = 0; j < n; j++) sum += lp[j];
    return sum;
}

static void test_lexicon_pieces(void) {
    icstr_model *W = tiny_model(3, "abcdefghijklmnopqrstuvwxyz0123456789 ");
    icstr_pool *pool = new_pool(W, "lexicon-pieces");
    const char *labels[] = {"kmq 12", "zeta kmq", "ab"};
    enum { NL = 3, PER = 4 * 16 };
    unsigned char *png[NL + 3];
    size_t len[NL + 3];
    add_labelled(pool, labels, NL, 1800, "lp", png, len);
    icstr_pool_lexicon lx;
    CHECK(icstr_pool_lexicon_load(pool, &lx) == ICSTR_OK);
    float x[3 * 8 * 32], lat[3 * PER];
    static const char *const drawn[3] = {"zeta", "kmq", "ab"};
    for (int j = 0; j < 3; j++) { /* three pieces' latents */
        png[NL + j] = draw_crop(drawn[j], 1900 + (uint64_t)j, &len[NL + j]);
        to_input(W, png[NL + j], len[NL + j], x);
        CHECK(icstr_model_encode(W, x, 1, lat + j * PER, NULL) == ICSTR_OK);
    }
    static const struct {
        const char *piece[2], *want;    /* the pieces' readings; the candidate */
        const char *part[2];            /* its parts, as cut */
        float max_ned;
    } cases[] = {
        {{"zeta", "kmp"}, "zeta kmq", {"zeta", "kmq"}, 0.5f},  /* a label */
        {{"ze", "tb kmq"}, "zeta kmq", {"ze", "ta kmq"}, 0.0f}, /* a word cut by the edge */
    };
    int first = 0, two = 2;
    for (int c = 0; c < 2; c++) {
        const char *const *part = cases[c].part;
        double own = parts_logprob(W, lat, cases[c].piece, 2), cand = parts_logprob(W, lat, part, 2);
        static const float margins[] = {1000.0f, -1000.0f};
        for (int k = 0; k < 2; k++) {
            char p0[16], p1[16], line[64], *pt[2] = {p0, p1}, *t = line;
            strcpy(p0, cases[c].piece[0]), strcpy(p1, cases[c].piece[1]);
            snprintf(line, sizeof line, "%s %s", p0, p1);
            float conf = 0.5f;
            unsigned char fixed = 9;
            icstr_lexicon_params q = icstr_lexicon_default_params();
            q.margin = margins[k];
            q.max_ned = cases[c].max_ned;
            CHECK(icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &two, pt, NULL, &q, &t, 64, &conf, &fixed) ==
                  ICSTR_OK);
            int want = own - cand <= margins[k];
            if (want) {
                CHECK_MSG(fixed == 1 && !strcmp(line, cases[c].want), "case %d margin %g: '%s'", c,
                          (double)margins[k], line);
                CHECK_NEAR(log(conf), cand, 1e-4); /* the parts' sum (the confidence is tiny) */
            } else {
                char joined[64];
                snprintf(joined, sizeof joined, "%s %s", cases[c].piece[0], cases[c].piece[1]);
                CHECK_MSG(fixed == 0 && !strcmp(line, joined) && conf == 0.5f, "case %d kept: '%s'", c, line);
            }
        }
    }
    { /* "x" + "zeta kmp": the label "zeta kmq" leaves the piece "x" no part; a part too short; one
         piece: alone */
        char p0[64] = "x", p1[64] = "zeta kmp", line[64] = "x zeta kmp", *pt[2] = {p0, p1}, *t = line;
        float conf = 0.5f;
        unsigned char fixed = 9;
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.margin = 1000.0f;
        CHECK(icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &two, pt, NULL, &q, &t, 64, &conf, &fixed) ==
              ICSTR_OK);
        CHECK_MSG(!fixed && !strcmp(line, "x zeta kmp") && conf == 0.5f, "a piece with no part: '%s'", line);
        /* "zeta" + "kmq 1234": the label's part "kmq" has less than half the piece's 7 characters */
        strcpy(p0, "zeta"), strcpy(p1, "kmq 1234"), strcpy(line, "zeta kmq 1234");
        CHECK(icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &two, pt, NULL, &q, &t, 64, &conf, &fixed) ==
              ICSTR_OK);
        CHECK_MSG(!fixed && !strcmp(line, "zeta kmq 1234") && conf == 0.5f, "a part too short: '%s'", line);
        int one = 1;
        conf = 0.5f;
        strcpy(line, "zeta kmp");
        strcpy(p0, "zeta kmp");
        CHECK(icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &one, pt, NULL, &q, &t, 64, &conf, &fixed) ==
              ICSTR_OK);
        CHECK_MSG(!fixed && !strcmp(line, "zeta kmp") && conf == 0.5f, "one piece: '%s'", line);
    }
    { /* "ze" + "tb" + "kmq", the last two cut between letters (glued): the word the first edge cut
         put right, "zeta", keeps the glue to "kmq" that follows it; with no glue, a space */
        static const unsigned char glue[3] = {0, 1, 1};
        const unsigned char *glued = glue;
        for (int g = 0; g < 2; g++) {
            char p0[16] = "ze", p1[16] = "tb", p2[16] = "kmq", line[64], *pt[3] = {p0, p1, p2}, *t = line;
            strcpy(line, g ? "ze tb kmq" : "zetbkmq");
            float conf = 0.5f;
            unsigned char fixed = 9;
            int three = 3;
            icstr_lexicon_params q = icstr_lexicon_default_params();
            q.margin = 1000.0f;
            q.max_ned = 0.0f; /* no label: the merged word alone */
            CHECK(icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &three, pt, g ? NULL : &glued, &q, &t, 64,
                                                    &conf, &fixed) == ICSTR_OK);
            const char *want = g ? "zeta kmq" : "zetakmq";
            CHECK_MSG(fixed == 1 && !strcmp(line, want), "glue %d: '%s', want '%s'", !g, line, want);
        }
    }
    icstr_pool_lexicon_free(&lx);
    icstr_pool_close(pool);
    icstr_model_free(W);
    for (int i = 0; i < NL + 3; i++) free(png[i]);
}

/* The pieces pass on random readings (letters of either case, digits, spaces, punctuation, a
 * two-byte character; 1 to 12 pieces, some near the texts' cap), every candidate within reach at
 * any margin: no failure, a reading no candidate replaced stays as it was, a replaced one is
 * valid UTF-8 that fits the cap. Under the ASan build this is where buffer mistakes show. */
static void test_lexicon_pieces_random(void) {
    icstr_model *W = tiny_model(3, "abcdefghijklmnopqrstuvwxyz0123456789 ");
    icstr_pool *pool = new_pool(W, "lexicon-pieces-random");
    const char *labels[] = {"kmq 12", "zeta kmq", "ab", "rounding", "total qty"};
    enum { NL = 5, PER = 4 * 16, P = ICSTR_LINE_MAX_PIECES };
    unsigned char *png[NL];
    size_t len[NL];
    add_labelled(pool, labels, NL, 2100, "lr", png, len);
    icstr_pool_lexicon lx;
    CHECK(icstr_pool_lexicon_load(pool, &lx) == ICSTR_OK);
    static float lat[P * PER];
    icstr_rng g;
    icstr_rng_seed(&g, 77);
    for (int i = 0; i < P * PER; i++) lat[i] = icstr_rng_range(&g, -1.0f, 1.0f);
    /* what the model writes, and (one time in 50) what it cannot: another case, punctuation, UTF-8 */
    static const char *const bits[] = {"a", "b", "k", "m", "q", "z", "e", "t", "1", "2", " ", " ",
                                       "ro", "und", "ing", "tot", "al", "qty"};
    static const char *const odd[] = {"Z", "K", ".", ":", "(", "\xc3\xa9"};
    enum { NB = sizeof bits / sizeof *bits, NO = sizeof odd / sizeof *odd };
    static char piece[P][ICSTR_TEXT_CAP], line[ICSTR_TEXT_CAP], before[ICSTR_TEXT_CAP];
    char *pt[P], *t = line;
    for (int j = 0; j < P; j++) pt[j] = piece[j];
    int ok = 1, replaced = 0;
    for (int it = 0; it < 400 && ok; it++) {
        int count = 1 + (int)icstr_rng_below(&g, P), first = 0, longest = it % 10 == 0 ? 240 : 8; /* the model writes 8 at most */
        line[0] = 0;
        for (int j = 0; j < count; j++) {
            size_t n = 0, want = icstr_rng_below(&g, (uint32_t)longest) + 1;
            piece[j][0] = 0;
            while (n < want) {
                const char *b = icstr_rng_below(&g, 50) ? bits[icstr_rng_below(&g, NB)] : odd[icstr_rng_below(&g, NO)];
                if (n + strlen(b) >= ICSTR_TEXT_CAP) break;
                strcpy(piece[j] + n, b), n += strlen(b);
            }
            size_t at = strlen(line), pl = strlen(piece[j]);
            if (at + 1 + pl < sizeof line) { /* the batch cuts a joined reading at the cap too */
                if (at) line[at++] = ' ';
                memcpy(line + at, piece[j], pl + 1);
            }
        }
        strcpy(before, line);
        float conf = 0.25f;
        unsigned char fixed = 9;
        icstr_lexicon_params q = icstr_lexicon_default_params();
        q.max_ned = 1.0f, q.margin = 1000.0f, q.word_ned = 1.0f, q.max_shorter = it % 2 ? 1 : -1;
        ok = icstr_pool_lexicon_correct_pieces(&lx, W, lat, 1, &first, &count, pt, NULL, &q, &t, ICSTR_TEXT_CAP, &conf,
                                               &fixed) == ICSTR_OK;
        size_t n = strlen(line);
        if (fixed) replaced++;
        ok = ok && fixed <= 1 && n < ICSTR_TEXT_CAP && icstr_utf8_valid(line, n) &&
             (fixed || (!strcmp(line, before) && conf == 0.25f));
        CHECK_MSG(ok, "random pieces %d: '%s' -> '%s' (fixed %d)", it, before, line, fixed);
    }
    CHECK_MSG(replaced > 20, "random pieces: only %d of 400 lines replaced: the check is vacuous", replaced);
    icstr_pool_lexicon_free(&lx);
    icstr_pool_close(pool);
    icstr_model_free(W);
    for (int i = 0; i < NL; i++) free(png[i]);
}

/* Draws n crops of labels (variants variant0...), adds them to pool and puts their inputs in cb
 * (initialised here for n crops); png/len get the encoded crops for the caller to free. */
static void add_drawn_crops(icstr_model *m, icstr_pool *pool, icstr_crop_batch *cb, int n, char labels[][8],
                            uint64_t variant0, unsigned char **png, size_t *len) {
    icstr_pool_item items[16];
    CHECK(n <= 16 && icstr_crop_batch_init(cb, n, 8, 32) == ICSTR_OK);
    for (int i = 0; i < n; i++) {
        png[i] = draw_crop(labels[i], variant0 + (uint64_t)i, &len[i]);
        items[i] = (icstr_pool_item){png[i], len[i], labels[i], NULL};
        to_input(m, png[i], len[i], cb->images + (size_t)i * 3 * 8 * 32);
    }
    CHECK(icstr_pool_add(pool, items, n, "drawn", NULL) == ICSTR_OK);
}

/* Reads the batch's n crops with pool as rd says; returns how many read their label. */
static int batch_right(icstr_crop_batch *cb, icstr_pool *pool, icstr_model *m, const icstr_pool_reading *rd,
                       const icstr_decode_params *dp, char labels[][8], int n) {
    CHECK(icstr_crop_batch_set_pool(cb, pool, rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(cb, m, dp) == ICSTR_OK);
    int right = 0;
    for (int i = 0; i < n; i++) right += !strcmp(cb->texts[i], labels[i]);
    return right;
}

/* Whether the batch reads its n crops with the lexicon (every label within reach, any margin) as
 * icstr_pool_lexicon_correct turns its readings without it (the reading rd otherwise): texts
 * and confidences; *n_fixed counts the corrections. Leaves rd->lexicon off. */
static int batch_as_lexicon(icstr_crop_batch *cb, icstr_pool *pool, icstr_model *m, icstr_pool_reading *rd,
                            const icstr_decode_params *dp, int n, int *n_fixed) {
    enum { MAXN = 64 };
    static char want[MAXN][ICSTR_TEXT_CAP];
    char *p[MAXN];
    float c[MAXN];
    unsigned char fixed[MAXN];
    CHECK(n <= MAXN);
    rd->lexicon = 0;
    CHECK(icstr_crop_batch_set_pool(cb, pool, rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(cb, m, dp) == ICSTR_OK);
    for (int i = 0; i < n && i < MAXN; i++) p[i] = strcpy(want[i], cb->texts[i]), c[i] = cb->confidence[i];
    icstr_pool_lexicon lx;
    CHECK(icstr_pool_lexicon_load(pool, &lx) == ICSTR_OK);
    rd->lexicon_params.max_ned = 1.0f;
    rd->lexicon_params.margin = 1000.0f;
    rd->lexicon_params.max_shorter = -1;
    CHECK(icstr_pool_lexicon_correct(&lx, m, cb->latents, n, &rd->lexicon_params, p, ICSTR_TEXT_CAP, c, fixed) ==
          ICSTR_OK);
    rd->lexicon = 1;
    CHECK(icstr_crop_batch_set_pool(cb, pool, rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(cb, m, dp) == ICSTR_OK);
    int same = 1;
    *n_fixed = 0;
    for (int i = 0; i < n && i < MAXN; i++) {
        same &= !strcmp(cb->texts[i], want[i]) && fabsf(cb->confidence[i] - c[i]) <= 1e-5f * c[i];
        *n_fixed += fixed[i];
    }
    icstr_pool_lexicon_free(&lx);
    rd->lexicon = 0;
    return same;
}

/* The end of a greedy-only reading's test: beam search through the batch is refused; the batch,
 * the pool and the n drawn crops are freed. */
static void refuse_beam_and_free(icstr_crop_batch *cb, icstr_pool *pool, icstr_model *m, icstr_decode_params dp,
                                 unsigned char **png, int n) {
    dp.beam = 2;
    CHECK(icstr_crop_batch_recognize(cb, m, &dp) == ICSTR_ERR_ARG);
    icstr_clear_error();
    icstr_crop_batch_free(cb);
    icstr_pool_close(pool);
    for (int i = 0; i < n; i++) free(png[i]);
}

static void test_knn_store(icstr_model *A) {
    icstr_pool *pool = new_pool(A, "knn");
    enum { NP = 6, M = 4, D = 16, L = 8, T = ICSTR_TEXT_CAP };
    unsigned char *png[NP];
    size_t len[NP];
    char labels[NP][8];
    icstr_crop_batch cb;
    for (int i = 0; i < NP; i++) word(i * 11 + 2, labels[i]);
    add_drawn_crops(A, pool, &cb, NP, labels, 300, png, len);
    icstr_knn_params kp = {1, 1.0f, 1.0f};
    icstr_pool_knn st;
    CHECK(icstr_pool_knn_load(pool, &kp, &st) == ICSTR_OK);
    /* by hand: the stored latents, their states fed the labels */
    static float lat[NP * M * D], states[NP * (L + 1) * D];
    int tok[NP * L], tl[NP], want_n = 0;
    CHECK(icstr_pool_foreach(pool, ICSTR_POOL_WANT_LATENTS, visit_states, lat) == ICSTR_OK);
    for (int i = 0; i < NP; i++) {
        CHECK(icstr_model_encode_label(A, labels[i], tok + i * L, &tl[i]) == ICSTR_OK);
        want_n += tl[i] + 1;
    }
    CHECK(icstr_model_states(A, lat, NP, tok, tl, states) == ICSTR_OK);
    int same = st.records == NP && st.knn.n == want_n && st.knn.k == 1 && st.knn.lambda == 1.0f, e = 0;
    for (int i = 0; i < NP && same; i++)
        for (int j = 0; j <= tl[i]; j++, e++) {
            same &= st.knn.values[e] == (j < tl[i] ? tok[i * L + j] : icstr_model_vocab(A).eoc);
            same &= !memcmp(st.knn.keys + (size_t)e * D, states + ((size_t)i * (L + 1) + j) * D, D * sizeof(float));
        }
    CHECK_MSG(same, "kNN store: %d records, %d entries (want %d)", st.records, st.knn.n, want_n);
    icstr_pool_knn_free(&st);
    /* through a crop batch, without prompts (no record reaches the floor) */
    cb.n = cb.n_ok = NP;
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_pool_reading rd = icstr_pool_reading_default();
    rd.min_similarity = 1.5f;
    rd.compare_plain = 0;
    int plain_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP), knn_right = 0;
    rd.knn = 1;
    rd.knn_params = kp;
    CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK && cb.knn.knn.n == want_n);
    CHECK(icstr_crop_batch_recognize(&cb, A, &dp) == ICSTR_OK);
    for (int i = 0; i < NP; i++) knn_right += !strcmp(cb.texts[i], labels[i]) && fabsf(cb.confidence[i] - 1.0f) < 1e-6f;
    CHECK_MSG(knn_right == NP && plain_right < NP, "kNN through the batch: %d of %d pool crops read their label (plain %d)",
              knn_right, NP, plain_right);
    refuse_beam_and_free(&cb, pool, A, dp, png, NP); /* greedy only */
}

/* The pool's labels as a character model (pool_lm.h): every record counted once (the same label
 * drawn twice counts twice), the model the same as one made by hand from the labels; through a
 * crop batch, weight 0 reads as without it and a heavy weight (of which a pool of 5 labels gets
 * 5 / ICSTR_LM_FULL_LABELS) makes every crop read the pool's one label, which the plain reading
 * does not. */
static void test_pool_lm(icstr_model *A) {
    icstr_pool *pool = new_pool(A, "lm");
    enum { NP = 5 };
    unsigned char *png[NP];
    size_t len[NP];
    char labels[NP][8];
    icstr_crop_batch cb;
    for (int i = 0; i < NP; i++) snprintf(labels[i], 8, "%s", "k3m");
    add_drawn_crops(A, pool, &cb, NP, labels, 500, png, len);
    icstr_char_lm *lm = NULL, *ref = NULL;
    CHECK(icstr_pool_lm_load(pool, NULL, &lm) == ICSTR_OK && lm && icstr_char_lm_labels(lm) == NP);
    CHECK(icstr_char_lm_create(A, NULL, &ref) == ICSTR_OK);
    int tok[8], n;
    CHECK(icstr_model_encode_label(A, "k3m", tok, &n) == ICSTR_OK);
    for (int i = 0; i < NP; i++) CHECK(icstr_char_lm_add(ref, tok, n) == ICSTR_OK);
    double a[ICSTR_CHARSET_MAX + 3], b[ICSTR_CHARSET_MAX + 3];
    int V = icstr_model_vocab(A).vocab, same = 1;
    for (int h = 0; h <= n && lm && ref; h++) {
        icstr_char_lm_next(lm, tok, h, a);
        icstr_char_lm_next(ref, tok, h, b);
        same &= !memcmp(a, b, (size_t)V * sizeof *a);
    }
    CHECK(same);
    icstr_char_lm_free(lm);
    icstr_char_lm_free(ref);
    cb.n = cb.n_ok = NP;
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_pool_reading rd = icstr_pool_reading_default();
    rd.min_similarity = 1.5f; /* no prompts: the model alone */
    rd.compare_plain = 0;
    int plain_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    char plain[NP][ICSTR_TEXT_CAP];
    float plain_c[NP];
    for (int i = 0; i < NP; i++) snprintf(plain[i], sizeof plain[i], "%s", cb.texts[i]), plain_c[i] = cb.confidence[i];
    rd.lm = 1;
    rd.lm_weight = 0.0f;
    CHECK(batch_right(&cb, pool, A, &rd, &dp, labels, NP) == plain_right && cb.lm);
    for (int i = 0; i < NP; i++) CHECK(!strcmp(cb.texts[i], plain[i]) && cb.confidence[i] == plain_c[i]);
    rd.lm_weight = 500.0f;
    int lm_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    CHECK_NEAR(cb.lm_weight, 500.0 * NP / ICSTR_LM_FULL_LABELS, 1e-3); /* a small pool's share */
    CHECK_MSG(lm_right == NP && plain_right < NP, "%d of %d crops read the pool's label with the model (plain %d)",
              lm_right, NP, plain_right);
    /* --lookalikes: the batch's last step, the same as icstr_lookalikes_correct on its readings
       (the plain ones: the model with weight 0 in decoding) */
    rd.lm_weight = 0.0f;
    batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    char *before[NP];
    float before_c[NP];
    for (int i = 0; i < NP; i++) before[i] = strdup(cb.texts[i]), before_c[i] = cb.confidence[i];
    /* records labelled as the readings with their digits written as lookalike letters: the
       pool's character model then has something to say about them */
    char twins[NP][8];
    unsigned char *twin_png[NP];
    icstr_pool_item twin_items[NP];
    for (int i = 0; i < NP; i++) {
        snprintf(twins[i], sizeof twins[i], "%s", before[i]);
        for (char *c = twins[i]; *c; c++)
            if (isdigit((unsigned char)*c) && *icstr_lookalikes_of(*c)) *c = icstr_lookalikes_of(*c)[0];
        twin_png[i] = draw_crop(twins[i], 900 + (uint64_t)i, &len[i]);
        twin_items[i] = (icstr_pool_item){twin_png[i], len[i], twins[i], NULL};
    }
    CHECK(icstr_pool_add(pool, twin_items, NP, "twins", NULL) == ICSTR_OK);
    for (int i = 0; i < NP; i++) free(twin_png[i]);
    rd.lookalikes = 1;
    rd.lookalike_params.weight = 50.0f;
    batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    int changed = -1;
    CHECK(icstr_lookalikes_correct(A, cb.lm, cb.latents, NP, &rd.lookalike_params, NULL, before, ICSTR_TEXT_CAP,
                                   before_c, &changed) == ICSTR_OK);
    CHECK_MSG(changed > 0, "no reading has a lookalike the pool's model changes: %s", cb.texts[0]);
    for (int i = 0; i < NP; i++) {
        CHECK_MSG(!strcmp(cb.texts[i], before[i]) && cb.confidence[i] == before_c[i], "crop %d: '%s', alone '%s'", i,
                  cb.texts[i], before[i]);
        free(before[i]);
    }
    rd.lookalikes = 0;
    refuse_beam_and_free(&cb, pool, A, dp, png, NP);
}

/* compare_plain through a crop batch (what `recognize --compare-plain` runs), with a pool made
 * for model m: each crop keeps its reading with prompts where that one's confidence is at least
 * compare_margin times the plain one's, else the plain reading (the batch's own two other modes);
 * a crop that gets no prompt (a floor
 * no record reaches) is read once. Returns how many of the crops the plain reading won. */
static int check_compare_plain(icstr_model *m, const char *name) {
    icstr_pool *pool = new_pool(m, name);
    enum { NP = 8, NB = 12, T = ICSTR_TEXT_CAP };
    icstr_pool_item items[NP];
    unsigned char *png[NB];
    size_t len[NB];
    char labels[NB][8];
    icstr_crop_batch cb;
    CHECK(icstr_crop_batch_init(&cb, NB, 8, 32) == ICSTR_OK);
    for (int i = 0; i < NB; i++) { /* the first NP crops are the pool, the batch reads all */
        word(i * 5 + 1, labels[i]);
        png[i] = draw_crop(labels[i], 500 + (uint64_t)i, &len[i]);
        if (i < NP) items[i] = (icstr_pool_item){png[i], len[i], labels[i], NULL};
        to_input(m, png[i], len[i], cb.images + (size_t)i * 3 * 8 * 32);
    }
    CHECK(icstr_pool_add(pool, items, NP, "c", NULL) == ICSTR_OK);
    cb.n = cb.n_ok = NB;
    static char plain_t[NB][T], ctx_t[NB][T];
    float plain_c[NB], ctx_c[NB];
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_pool_reading rd = icstr_pool_reading_default();
    rd.trust_similarity = 2.0f; /* compare every crop: no prompt is that similar */
    rd.compare_margin = 1.0f;    /* the surer reading; the default margin below */
    for (int mode = 0; mode < 3; mode++) { /* no pool, prompts, prompts compared with plain */
        rd.compare_plain = mode == 2;
        CHECK(icstr_crop_batch_set_pool(&cb, mode ? pool : NULL, &rd) == ICSTR_OK);
        CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
        for (int q = 0; q < NB && mode < 2; q++) {
            snprintf(mode ? ctx_t[q] : plain_t[q], T, "%s", cb.texts[q]);
            (mode ? ctx_c : plain_c)[q] = cb.confidence[q];
        }
    }
    int picked = 1, plain_won = 0;
    for (int q = 0; q < NB; q++) {
        int plain = plain_c[q] * rd.compare_margin > ctx_c[q];
        picked &= cb.kept_plain[q] == plain && !strcmp(cb.texts[q], plain ? plain_t[q] : ctx_t[q]) &&
                  cb.confidence[q] == (plain ? plain_c[q] : ctx_c[q]) && cb.prompts.ctx[q].n_prompts == 2;
        plain_won += plain;
    }
    CHECK_MSG(picked, "compare_plain kept the wrong reading (%s)", name);
    /* the default margin (prompts kept only when 1.25 times surer), one no reading with prompts
     * reaches (every crop keeps its plain reading), then 1 again for the checks below */
    const float margins[3] = {icstr_pool_reading_default().compare_margin, 1000.0f, 1.0f};
    for (int t = 0; t < 3; t++) {
        rd.compare_margin = margins[t];
        CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK);
        CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
        int margin_ok = 1;
        for (int q = 0; q < NB; q++) {
            int plain = t == 1 || plain_c[q] * margins[t] > ctx_c[q];
            margin_ok &= cb.kept_plain[q] == plain && !strcmp(cb.texts[q], plain ? plain_t[q] : ctx_t[q]);
        }
        CHECK_MSG(margin_ok, "compare_margin %g kept the wrong reading (%s)", (double)margins[t], name);
    }

    /* the default trust: the first NP crops are in the pool, their own nearest prompt (similarity
     * 1): they are read with that prompt alone and keep that reading, unread again; the others
     * are compared as above */
    static char cmp_t[NB][T];
    float cmp_c[NB];
    for (int q = 0; q < NB; q++) snprintf(cmp_t[q], T, "%s", cb.texts[q]), cmp_c[q] = cb.confidence[q];
    rd.trust_similarity = icstr_pool_reading_default().trust_similarity;
    CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
    int trusted = 1, n_trusted = 0, alone_differs = 0;
    size_t per = (size_t)cb.prompts.M * cb.prompts.D;
    for (int q = 0; q < NB; q++) {
        /* trusted: the most similar prompt (the last) reaches the threshold, as every pool crop's
         * own record does (a tiny random model may find another crop that similar too) */
        int np = cb.prompts.ctx[q].n_prompts, trust = np == 2 && cb.prompts.scores[q * 2 + 1] >= rd.trust_similarity;
        n_trusted += trust;
        char alone_t[T], *alone_p = alone_t;
        float alone_c = 0.0f;
        if (trust) { /* the reference: the crop decoded by hand with its nearest prompt alone */
            icstr_context one = cb.prompts.ctx[q];
            one.latents += per;
            one.labels += cb.prompts.max_label;
            one.label_len += 1;
            one.n_prompts = 1;
            CHECK(icstr_model_decode(m, cb.latents + (size_t)q * per, 1, &one, &dp, &alone_p, T, &alone_c) == ICSTR_OK);
            alone_differs |= strcmp(alone_t, ctx_t[q]) || alone_c != ctx_c[q];
        }
        /* a compared crop's plain reading came from a smaller plain batch than before, and the
         * reference above from a batch of one: confidences may differ in the last bits (BLAS
         * picks kernels by batch size) */
        float want_c = trust ? alone_c : cmp_c[q];
        trusted &= (q >= NP || trust) && !strcmp(cb.texts[q], trust ? alone_t : cmp_t[q]) &&
                   fabsf(cb.confidence[q] - want_c) <= 1e-5f * want_c && (!trust || !cb.kept_plain[q]);
    }
    CHECK_MSG(trusted && n_trusted >= NP, "near-copies were not read alone and trusted (%s): %d trusted", name, n_trusted);
    CHECK_MSG(alone_differs, "the nearest prompt alone reads as the two do (%s): the check is vacuous", name);
    rd.trust_similarity = 2.0f;
    rd.min_similarity = 1.5f;
    CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
    int plain_only = 1;
    for (int q = 0; q < NB; q++)
        plain_only &= !cb.kept_plain[q] && cb.prompts.ctx[q].n_prompts == 0 && !strcmp(cb.texts[q], plain_t[q]) &&
                      cb.confidence[q] == plain_c[q];
    CHECK(plain_only);
    /* the lexicon (reading.lexicon) corrects the batch's readings as icstr_pool_lexicon_correct
     * does on their latents; every label within reach and any margin, so corrections happen */
    rd.min_similarity = -1.0f;
    int n_fixed = 0, as_lexicon = batch_as_lexicon(&cb, pool, m, &rd, &dp, NB, &n_fixed);
    CHECK_MSG(as_lexicon && n_fixed > 0, "lexicon through the batch (%s): %d readings corrected", name, n_fixed);
    icstr_crop_batch_free(&cb);
    icstr_pool_close(pool);
    for (int i = 0; i < NB; i++) free(png[i]);
    return plain_won;
}

/* The glyph store (pool_glyphs.h): one entry per CTC frame of every record, unit keys, values
 * that collapse to the record's label; through a crop batch with the joint reading, one vote
 * with all the weight makes every pool crop read its label, which the plain model does not. */
static void test_glyph_store(icstr_model *A) {
    icstr_pool *pool = new_pool(A, "glyphs");
    enum { NP = 5, L = 8 };
    unsigned char *png[NP];
    size_t len[NP];
    char labels[NP][8];
    icstr_crop_batch cb;
    for (int i = 0; i < NP; i++) word(i * 7 + 3, labels[i]);
    strcpy(labels[1], "aaaa"); /* a repeated symbol needs blanks between in the alignment */
    add_drawn_crops(A, pool, &cb, NP, labels, 900, png, len);
    icstr_glyph_store gs;
    CHECK(icstr_glyph_store_load(pool, &gs) == ICSTR_OK);
    int T = icstr_model_ctc_frame_count(A), E = icstr_model_get_config(A)->enc_dim;
    int ok = gs.records == NP && gs.n == NP * T && gs.E == E && gs.V == icstr_model_vocab(A).n_chars + 1;
    for (int i = 0; i < NP && ok; i++) { /* records come in id order, as they were added */
        int sym[64], tok[L], tl, k = ref_ctc_collapse(gs.values + (size_t)i * T, T, sym);
        CHECK(icstr_model_encode_label(A, labels[i], tok, &tl) == ICSTR_OK);
        ok &= k == tl;
        for (int j = 0; j < k && ok; j++) ok &= sym[j] == tok[j] + 1;
        for (int t = 0; t < T; t++) {
            double n2 = 0.0;
            for (int e = 0; e < E; e++) n2 += (double)gs.keys[((size_t)i * T + t) * E + e] * gs.keys[((size_t)i * T + t) * E + e];
            ok &= fabs(n2 - 1.0) < 1e-4;
        }
    }
    CHECK_MSG(ok, "glyph store: %d records, %d entries", gs.records, gs.n);
    icstr_glyph_store_free(&gs);
    /* through a crop batch: no prompt is trusted, so every crop gets the joint reading */
    cb.n = cb.n_ok = NP;
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_pool_reading rd = icstr_pool_reading_default();
    rd.compare_plain = 0;
    rd.trust_similarity = 2.0f;
    int plain_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    rd.glyphs = 1;
    rd.glyph_params.k = 1, rd.glyph_params.lambda = 1.0f;
    dp.ctc_weight = 1.0f;
    int glyph_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    CHECK(cb.glyphs.n == NP * T);
    CHECK_MSG(glyph_right == NP && plain_right < NP, "glyphs through the batch: %d of %d pool crops read their label (plain %d)",
              glyph_right, NP, plain_right);
    /* only the most similar record's glyphs (the crop's own) vote: the same */
    rd.glyph_params.records = 1;
    glyph_right = batch_right(&cb, pool, A, &rd, &dp, labels, NP);
    CHECK_MSG(glyph_right == NP, "glyphs of the most similar record: %d of %d", glyph_right, NP);
    rd.glyph_params.records = 0;
    /* the lexicon comes after the joint reading (which would undo a label it put in): the batch's
       reading is icstr_pool_lexicon_correct on the joint reading's, with corrections made */
    rd.glyph_params.lambda = 0.0f; /* the head alone: readings the lexicon has work on */
    int n_fixed = 0, after_joint = batch_as_lexicon(&cb, pool, A, &rd, &dp, NP, &n_fixed);
    CHECK_MSG(after_joint && n_fixed > 0, "lexicon after the joint reading: %d corrected", n_fixed);
    rd.glyph_params.lambda = 1.0f;
    /* a trusted prompt (the crop itself) keeps its reading with prompts: the joint reading skips it */
    rd.trust_similarity = 0.998f;
    rd.glyph_params.lambda = 0.0f; /* the head alone would read these crops otherwise */
    CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK);
    CHECK(icstr_crop_batch_recognize(&cb, A, &dp) == ICSTR_OK);
    static char with_trust[NP][ICSTR_TEXT_CAP];
    for (int i = 0; i < NP; i++) strcpy(with_trust[i], cb.texts[i]);
    dp.ctc_weight = 0.0f;
    CHECK(icstr_crop_batch_recognize(&cb, A, &dp) == ICSTR_OK);
    int kept = 1;
    for (int i = 0; i < NP; i++) kept &= !strcmp(with_trust[i], cb.texts[i]);
    CHECK_MSG(kept, "the joint reading changed a trusted crop's reading");
    icstr_crop_batch_free(&cb);
    icstr_pool_close(pool);
    for (int i = 0; i < NP; i++) free(png[i]);
}

int main(void) {
    icstr_set_threads(1);
    snprintf(tmp, sizeof tmp, "%s/icstr-pool-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    icstr_model *A = tiny_model(1, CHARS), *B = tiny_model(2, CHARS);
    double t0 = icstr_now_seconds();
    test_record();
    test_create_open(A, B);
    test_add(A, 0);
    test_add(A, 1);
    test_reembed(A, B);
    test_search(40);
    test_search(192);
    test_search_near_ties();
    test_incontext(A);
    test_lexicon(A);
    test_lexicon_words();
    test_lexicon_pieces();
    test_lexicon_pieces_random();
    test_glyph_store(A);
    test_knn_store(A);
    test_pool_lm(A);
    /* with these two random models the plain reading wins for all crops, then for none: the
     * choice is checked both ways */
    icstr_model *C = tiny_model(3, CHARS);
    int won_a = check_compare_plain(A, "compare-a"), won_c = check_compare_plain(C, "compare-c");
    CHECK_MSG(won_a > 0 && won_c < 12, "plain won %d and %d of 12: both outcomes must occur", won_a, won_c);
    icstr_model_free(C);
    fprintf(stderr, "test_pool: %.2f s\n", icstr_now_seconds() - t0);
    icstr_model_free(A);
    icstr_model_free(B);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_pool");
}
