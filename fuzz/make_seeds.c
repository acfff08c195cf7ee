/* Writes the fuzzers' seed corpus (fuzz/corpus/<target>/): small valid files made by the
 * project's own writers (PNG encoder, stb writers, safetensors writer, config writer, pool record
 * encoder) and broken variants of them. Deterministic, so the committed seeds can be remade.
 * Built and run by fuzz/make_corpus.sh. Usage: make_seeds CORPUS_DIR */
#include "config.h"
#include "icstr_core.h"
#include "icstr_data.h"
#include "icstr_pool.h"
#include "pool_internal.h"
#include "store_cache.h"

#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *root;
static int failures;

static void put(const char *target, const char *name, const void *bytes, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(bytes, 1, n, f) != n) || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        failures++;
    }
}

static void put_str(const char *target, const char *name, const char *s) { put(target, name, s, strlen(s)); }

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* A w x h picture with c channels: a gradient and a dark bar, so decoders have edges to work on. */
static unsigned char *pixels(int w, int h, int c) {
    unsigned char *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) {
                int v = (x * 255 / (w > 1 ? w - 1 : 1) + k * 60) & 255;
                if (x >= w / 3 && x < w / 2) v = 20;
                if (k == 3 || (c == 2 && k == 1)) v = 128 + y * 127 / (h > 1 ? h - 1 : 1); /* alpha */
                p[((size_t)y * w + x) * c + k] = (unsigned char)v;
            }
    return p;
}

static icstr_byte_sink sink;

static void images(void) {
    const char *T = "fuzz_image";
    for (int c = 1; c <= 4; c++) {
        unsigned char *px = pixels(12, 6, c), *png;
        size_t n;
        char name[32];
        if (icstr_image_encode_png(12, 6, c, px, &png, &n) == ICSTR_OK) {
            snprintf(name, sizeof name, "png_c%d.png", c);
            put(T, name, png, n);
            if (c == 3) {
                put(T, "png_truncated.png", png, n / 2);
                /* the same IHDR claiming 100000 x 100000 (the CRC is left wrong) */
                png[16] = 0, png[17] = 1, png[18] = 0x86, png[19] = 0xA0;
                png[20] = 0, png[21] = 1, png[22] = 0x86, png[23] = 0xA0;
                put(T, "png_huge_header.png", png, n);
            }
            free(png);
        }
        sink.len = 0;
        if (stbi_write_bmp_to_func(icstr_byte_sink_write, &sink, 12, 6, c, px)) {
            snprintf(name, sizeof name, "bmp_c%d.bmp", c);
            put(T, name, sink.buf, sink.len);
        }
        sink.len = 0;
        if (stbi_write_tga_to_func(icstr_byte_sink_write, &sink, 12, 6, c, px)) {
            snprintf(name, sizeof name, "tga_c%d.tga", c);
            put(T, name, sink.buf, sink.len);
        }
        sink.len = 0;
        if ((c == 1 || c == 3) && stbi_write_jpg_to_func(icstr_byte_sink_write, &sink, 12, 6, c, px, 60)) {
            snprintf(name, sizeof name, "jpg_c%d.jpg", c);
            put(T, name, sink.buf, sink.len);
            if (c == 3) put(T, "jpg_truncated.jpg", sink.buf, sink.len * 2 / 3);
        }
        free(px);
    }
    /* PNM: 8-bit colour, 16-bit grey (decoded by icstr itself), 16-bit colour with maxval 1000 */
    char hdr[64];
    unsigned char buf[256];
    int hl = snprintf(hdr, sizeof hdr, "P6\n# c\n4 2\n255\n");
    memcpy(buf, hdr, (size_t)hl);
    for (int i = 0; i < 24; i++) buf[hl + i] = (unsigned char)(i * 10);
    put(T, "p6.ppm", buf, (size_t)hl + 24);
    hl = snprintf(hdr, sizeof hdr, "P5 3 2 65535\n");
    memcpy(buf, hdr, (size_t)hl);
    for (int i = 0; i < 12; i++) buf[hl + i] = (unsigned char)(i * 21);
    put(T, "p5_16.pgm", buf, (size_t)hl + 12);
    put(T, "p5_16_truncated.pgm", buf, (size_t)hl + 5);
    hl = snprintf(hdr, sizeof hdr, "P6\n2 2\n1000\n");
    memcpy(buf, hdr, (size_t)hl);
    for (int i = 0; i < 24; i++) buf[hl + i] = (unsigned char)(i & 1 ? i * 9 : 3);
    put(T, "p6_16.ppm", buf, (size_t)hl + 24);
    { /* a line of three words of three bars (8-bit grey), for the long-line splitter */
        enum { LW = 90, LH = 12 };
        static unsigned char line[32 + LW * LH];
        int n = snprintf((char *)line, 32, "P5\n%d %d\n255\n", LW, LH);
        for (int y = 0; y < LH; y++)
            for (int x = 0; x < LW; x++)
                line[n + y * LW + x] = y >= 2 && y < 10 && x % 30 < 22 && x % 30 % 8 < 6 ? 20 : 255;
        put(T, "line_three_words.pgm", line, (size_t)n + LW * LH);
    }
    /* the smallest GIF: 1 x 1, one colour */
    static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255,
                                        255, 255, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};
    put(T, "gif_1x1.gif", gif, sizeof gif);
    put_str(T, "text.png", "this is not an image\n");
    put(T, "empty", "", 0);
}

static void gt(void) {
    const char *T = "fuzz_gt";
    put_str(T, "plain.txt", "a.png\tabc\nb\tHello World\n/abs/c.png\t\n");
    put_str(T, "bom_crlf.txt", "\xEF\xBB\xBF" "a.png\tcaf\xC3\xA9\r\n\r\nb\t\xE4\xB8\xAD\xE6\x96\x87\r\n");
    put_str(T, "bad_lines.txt", "no tab here\n\tempty path\na.png\t\xC0\xAF overlong\na.png\t\xED\xA0\x80 surrogate\n"
                                "a.png\tok\n\n\nsub/dir/x.png\tx\ty\n");
    put(T, "nul.txt", "a.png\tab\0c\nb\td\n", 15);
}

/* records for fuzz_lmdb: u8 kind, u8 index, u16 LE length, value */
static size_t rec(unsigned char *b, size_t at, int kind, int idx, const void *v, size_t n) {
    b[at] = (unsigned char)kind;
    b[at + 1] = (unsigned char)idx;
    b[at + 2] = (unsigned char)(n & 255);
    b[at + 3] = (unsigned char)(n >> 8);
    memcpy(b + at + 4, v, n);
    return at + 4 + n;
}

static void lmdb_seeds(void) {
    const char *T = "fuzz_lmdb";
    unsigned char *px = pixels(6, 3, 3), *png;
    size_t pn;
    if (icstr_image_encode_png(6, 3, 3, px, &png, &pn)) return;
    unsigned char b[4096];
    size_t n = rec(b, 0, 0, 0, "2", 1);
    n = rec(b, n, 1, 1, png, pn);
    n = rec(b, n, 2, 1, "ab", 2);
    n = rec(b, n, 1, 2, "GIF89a", 6);
    n = rec(b, n, 2, 2, "", 0);
    put(T, "two.bin", b, n);
    b[4] = '5'; /* more samples than entries */
    put(T, "count_too_big.bin", b, n);
    b[4] = 'x';
    put(T, "count_not_decimal.bin", b, n);
    n = rec(b, 0, 0, 0, "1", 1);
    n = rec(b, n, 1, 1, png, pn);
    n = rec(b, n, 3, 5, "extra", 5); /* a raw key "extra" with an empty value: refused by LMDB */
    n = rec(b, n, 3, 9, "boxes-000000001[1,2]", 20);
    put(T, "label_missing.bin", b, n);
    n = rec(b, 0, 2, 1, "no count", 8);
    put(T, "no_count.bin", b, n);
    free(png);
    free(px);
}

static void safetensors(const char *tmp) {
    const char *T = "fuzz_safetensors";
    float a[6] = {1, -2, 0.5f, 3e-5f, 65504, -0.0f}, s = 7;
    icstr_st_tensor t[4] = {
        {"enc.w", ICSTR_ST_F32, 2, {2, 3}, a},
        {"dec.b", ICSTR_ST_F16, 1, {6}, a},
        {"head", ICSTR_ST_BF16, 3, {1, 2, 3}, a},
        {"scalar", ICSTR_ST_F32, 0, {0}, &s},
    };
    /* the model config as icstr_model_save writes it, so the metadata reader is reached */
    const char *keys[130], *values[130];
    static char buf[1 << 16];
    icstr_model_config mc = icstr_model_default_config();
    int nm = icstr_config_model_to_meta(&mc, keys, values, 128, buf, sizeof buf);
    if (nm < 0) nm = 0;
    keys[nm] = "icstr.format";
    values[nm++] = "icstr-model-1";
    char path[4096];
    size_t n;
    unsigned char *b;
    snprintf(path, sizeof path, "%s/a.safetensors", tmp);
    if (icstr_st_write(path, t, 4, keys, values, nm) == ICSTR_OK && (b = slurp(path, &n))) {
        put(T, "model_meta.safetensors", b, n);
        free(b);
    }
    const char *k1[] = {"note"}, *v1[] = {"x"};
    if (icstr_st_write(path, t, 3, k1, v1, 1) == ICSTR_OK && (b = slurp(path, &n))) {
        put(T, "three.safetensors", b, n);
        put(T, "truncated.safetensors", b, n - 5);
        b[0] = 0xff, b[7] = 0x7f; /* a header length far past the end */
        put(T, "huge_header.safetensors", b, n);
        free(b);
    }
    static const char overlap[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}";
    unsigned char ob[256] = {0};
    size_t hl = sizeof overlap - 1;
    ob[0] = (unsigned char)hl;
    memcpy(ob + 8, overlap, hl);
    put(T, "overlap.safetensors", ob, 8 + hl + 8);
    static const char strs[] = "{\"__metadata__\":{\"k\\u00e9y\":\"v\\\"\\n\\\\\"},"
                               "\"t\\u0041\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]}}";
    hl = sizeof strs - 1;
    memset(ob, 0, sizeof ob);
    ob[0] = (unsigned char)hl;
    memcpy(ob + 8, strs, hl);
    put(T, "escapes.safetensors", ob, 8 + hl + 2);
}

static void configs(const char *tmp, const char *srcdir) {
    const char *T = "fuzz_config";
    char path[4096];
    size_t n;
    unsigned char *b;
    snprintf(path, sizeof path, "%s/configs/tiny.yaml", srcdir);
    if ((b = slurp(path, &n))) {
        put(T, "tiny.yaml", b, n);
        free(b);
    }
    snprintf(path, sizeof path, "%s/all.yaml", tmp);
    FILE *f = fopen(path, "w");
    icstr_model_config mc = icstr_model_default_config();
    icstr_train_config tc = icstr_train_default_config();
    if (f) {
        icstr_config_write_yaml(&mc, &tc, f);
        fclose(f);
        if ((b = slurp(path, &n))) {
            put(T, "all_keys.yaml", b, n);
            free(b);
        }
    }
    put_str(T, "sources.yaml", "train:\n  sources:\n    - path: /data/a.lmdb\n      weight: 2\n    - path: b\n"
                               "model:\n  charset: \"abc\\u00e9\"\n  dropout: 0.1\n");
    put_str(T, "unknown_key.yaml", "model:\n  enc_dimm: 3\n");
    put_str(T, "wrong_type.yaml", "model:\n  enc_dim: [1, 2]\ntrain:\n  lr: fast\n");
    put_str(T, "out_of_range.yaml", "model:\n  enc_heads: 0\n  latents: 99999999999\n");
    put_str(T, "bad_syntax.yaml", "model:\n  enc_dim: 3\n   stem: {\n");
    put_str(T, "anchors.yaml", "model: &m\n  enc_dim: 64\ntrain: *m\n");
    put_str(T, "empty_sections.yaml", "model:\ntrain:\n");
}

static void pool_records(void) {
    const char *T = "fuzz_pool_record";
    float emb[4] = {0.5f, -0.5f, 0.5f, 0.5f}, lat[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    unsigned char *px = pixels(4, 2, 3), *png;
    size_t pn;
    if (icstr_image_encode_png(4, 2, 3, px, &png, &pn)) return;
    icstr_pool_record r = {.id = 7, .time_added = 1700000000, .image_hash = icstr_pool_hash(png, pn),
                           .label = "abc", .tag = "seed", .M = 2, .D = 4, .embedding = emb,
                           .latents = lat, .image = png, .image_len = pn};
    unsigned char *b;
    size_t n;
    if (icstr_pool_record_encode(&r, &b, &n) == ICSTR_OK) {
        put(T, "record.bin", b, n); /* version 2: ends with its CRC-32C */
        put(T, "truncated.bin", b, n - 3);
        b[4] = 1; /* the same record as version 1 wrote it: no checksum */
        put(T, "record_v1.bin", b, n - 4);
        b[4] = 2; /* a version 1 body that claims version 2: its last 4 image bytes are no checksum */
        put(T, "version2.bin", b, n - 4);
        b[4] = 3; /* a version from the future */
        pool_put_u32(b + n - 4, pool_crc32c(0, b, n - 4));
        put(T, "version3.bin", b, n);
        free(b);
    }
    r.label = "caf\xC3\xA9 \xE4\xB8\xAD";
    r.tag = "";
    if (icstr_pool_record_encode(&r, &b, &n) == ICSTR_OK) {
        put(T, "utf8_label.bin", b, n);
        b[n - 5] ^= 1; /* the last image byte: the checksum no longer matches */
        put(T, "bad_crc.bin", b, n);
        pool_put_u32(b + n - 4, pool_crc32c(0, b, n - 4)); /* behind a right checksum, the image hash */
        put(T, "bad_hash.bin", b, n);
        free(b);
    }
    free(png);
    free(px);
}

static void store_caches(void) {
    const char *T = "fuzz_store_cache";
    uint64_t ids[3] = {2, 5, 9}, keys_of[3] = {11, 22, 33};
    int counts[3] = {2, 0, 1}, values[3] = {1, 0, 7};
    float keys[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f};
    icstr_store_records r = {3, 3, ids, keys_of, counts};
    unsigned char *b;
    size_t n;
    if (icstr_store_cache_encode(0x1234, 4, &r, keys, values, &b, &n) == ICSTR_OK) {
        put(T, "three_records.bin", b, n);
        put(T, "truncated.bin", b, n - 5);
        b[40] = 9; /* ids out of order (9, 5, 9) behind a wrong checksum */
        put(T, "unsorted.bin", b, n);
        free(b);
    }
    r.n = 0;
    if (icstr_store_cache_encode(7, 1, &r, keys, values, &b, &n) == ICSTR_OK) {
        put(T, "empty.bin", b, n);
        free(b);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: make_seeds CORPUS_DIR TMP_DIR SOURCE_DIR\n");
        return 2;
    }
    root = argv[1];
    icstr_log_set_level(ICSTR_LOG_ERROR);
    images();
    gt();
    lmdb_seeds();
    safetensors(argv[2]);
    configs(argv[2], argv[3]);
    pool_records();
    store_caches();
    icstr_byte_sink_free(&sink);
    return failures ? 1 : 0;
}
