/* safetensors: exact round trips (F32 bit for bit, F16/BF16 equal to the core conversions),
 * metadata, the byte layout checked by hand, slab checkpoints with moments and their mismatch
 * errors, the JSON parser's edges, and a catalogue of malformed files that must each fail with a
 * detail naming the tensor, plus every truncation and random corruption of a valid file. Buffers
 * are allocated at their exact size so the sanitizer build catches any read past them. */
#include "check.h"
#include "icstr_core.h"
#include "json.h"
#include "read_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static int same_bits(float a, float b) { return !memcmp(&a, &b, sizeof a); }

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    if (n) fwrite(b, 1, n, fp);
    fclose(fp);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* A file image: the length field, the header as given, then data_len bytes of 0x11. Exact size. */
static unsigned char *make_image(const char *header, size_t data_len, size_t *len) {
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    memset(b + 8 + h, 0x11, data_len);
    return b;
}

/* Opens a header + data image from memory; it must fail with rc and a detail holding want. */
static void expect_bad(const char *what, const char *header, size_t data_len, int rc, const char *want) {
    size_t len;
    unsigned char *b = make_image(header, data_len, &len);
    icstr_st_file *f = (icstr_st_file *)1;
    int got = icstr_st_open_memory(b, len, &f);
    CHECK_MSG(got == rc, "%s: rc %d, expected %d (%s)", what, got, rc, icstr_last_error());
    CHECK_MSG(f == NULL, "%s: handle not NULL", what);
    CHECK_MSG(contains(icstr_last_error(), want), "%s: detail '%s' lacks '%s'", what, icstr_last_error(), want);
    if (got == ICSTR_OK) icstr_st_close(f);
    free(b);
}

static void test_roundtrip_f32(void) {
    char path[128];
    path_in(path, sizeof path, "f32.safetensors");
    float w[15], b[7], s = 3.25f;
    icstr_rng r;
    icstr_rng_seed(&r, 1);
    for (int i = 0; i < 15; i++) w[i] = icstr_rng_normal(&r) * 100.0f;
    w[0] = -0.0f;
    w[1] = 1e-42f; /* subnormal */
    w[2] = INFINITY;
    w[3] = NAN;
    for (int i = 0; i < 7; i++) b[i] = (float)i - 3.5f;
    icstr_st_tensor t[4] = {
        {.name = "enc.w", .dtype = ICSTR_ST_F32, .ndim = 2, .shape = {3, 5}, .data = w},
        {.name = "scalar", .dtype = ICSTR_ST_F32, .ndim = 0, .data = &s},
        {.name = "empty", .dtype = ICSTR_ST_F32, .ndim = 2, .shape = {0, 4}, .data = NULL},
        {.name = "enc.b", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {7}, .data = b},
    };
    CHECK(icstr_st_write(path, t, 4, NULL, NULL, 0) == ICSTR_OK);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */

    icstr_st_file *f = NULL;
    CHECK(icstr_st_open(path, &f) == ICSTR_OK);
    if (!f) return;
    CHECK(icstr_st_count(f) == 4);
    CHECK(!strcmp(icstr_st_path(f), path));
    icstr_st_tensor_info info;
    for (int i = 0; i < 4; i++) {
        CHECK(icstr_st_info(f, i, &info) == ICSTR_OK);
        CHECK(!strcmp(info.name, t[i].name) && info.ndim == t[i].ndim && info.dtype == ICSTR_ST_F32);
        CHECK(((uintptr_t)info.data % 4) == 0);
    }
    CHECK(icstr_st_info(f, 4, &info) == ICSTR_ERR_RANGE);
    CHECK(icstr_st_info(f, -1, &info) == ICSTR_ERR_RANGE);
    CHECK(icstr_st_find(f, "empty", &info) == ICSTR_OK && info.numel == 0 && info.nbytes == 0 && info.shape[1] == 4);
    CHECK(icstr_st_find(f, "scalar", &info) == ICSTR_OK && info.numel == 1 && info.nbytes == 4 && info.ndim == 0);

    float got[15];
    int64_t sh[2] = {3, 5};
    CHECK(icstr_st_read_f32(f, "enc.w", 2, sh, got) == ICSTR_OK);
    int exact = 1;
    for (int i = 0; i < 15; i++) exact &= same_bits(got[i], w[i]);
    CHECK(exact);
    int64_t shb[1] = {7};
    CHECK(icstr_st_read_f32(f, "enc.b", 1, shb, got) == ICSTR_OK);
    exact = 1;
    for (int i = 0; i < 7; i++) exact &= same_bits(got[i], b[i]);
    CHECK(exact);
    CHECK(icstr_st_read_f32(f, "scalar", 0, NULL, got) == ICSTR_OK && got[0] == 3.25f);

    int64_t wrong[2] = {5, 3};
    CHECK(icstr_st_read_f32(f, "enc.w", 2, wrong, got) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(contains(icstr_last_error(), "tensor 'enc.w': expected shape [5, 3], found [3, 5]"), "%s", icstr_last_error());
    CHECK(icstr_st_read_f32(f, "enc.w", 1, wrong, got) == ICSTR_ERR_MISMATCH);
    CHECK(icstr_st_read_f32(f, "nope", 1, shb, got) == ICSTR_ERR_NOTFOUND);
    CHECK(contains(icstr_last_error(), "'nope'"));
    CHECK(icstr_st_meta(f, "anything") == NULL && icstr_st_meta_count(f) == 0);
    icstr_st_close(f);
    icstr_st_close(NULL);

    /* an empty file (no tensors, no metadata) is valid too */
    CHECK(icstr_st_write(path, NULL, 0, NULL, NULL, 0) == ICSTR_OK);
    CHECK(icstr_st_open(path, &f) == ICSTR_OK && icstr_st_count(f) == 0);
    CHECK(icstr_st_find(f, "x", &info) == ICSTR_ERR_NOTFOUND);
    icstr_st_close(f);
    unlink(path);
}

static void test_half(void) {
    char path[128];
    path_in(path, sizeof path, "half.safetensors");
    enum { N = 40 };
    float x[N];
    icstr_rng r;
    icstr_rng_seed(&r, 2);
    for (int i = 0; i < N; i++) x[i] = icstr_rng_normal(&r) * (float)(1 << (i % 12));
    x[0] = 65504.0f;      /* largest f16 */
    x[1] = 70000.0f;      /* f16 overflow: inf */
    x[2] = 1e-7f;         /* f16 subnormal */
    x[3] = 1.00390625f;   /* 1 + 2^-8: a tie for bf16 */
    x[4] = 1.00048828125f;/* 1 + 2^-11: a tie for f16 */
    x[5] = NAN;
    x[6] = -INFINITY;
    x[7] = 3.0e38f;
    float y[5] = {1, 2, 3, 4, 5};
    /* odd sizes on purpose: the 2-byte tensors must still leave the F32 one aligned */
    icstr_st_tensor t[3] = {
        {.name = "h", .dtype = ICSTR_ST_F16, .ndim = 1, .shape = {N - 1}, .data = x},
        {.name = "f", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {5}, .data = y},
        {.name = "bf", .dtype = ICSTR_ST_BF16, .ndim = 2, .shape = {3, 13}, .data = x},
    };
    CHECK(icstr_st_write(path, t, 3, NULL, NULL, 0) == ICSTR_OK);
    icstr_st_file *f = NULL;
    CHECK(icstr_st_open(path, &f) == ICSTR_OK);
    if (!f) return;
    icstr_st_tensor_info ih, iff, ib;
    CHECK(icstr_st_find(f, "h", &ih) == ICSTR_OK && ih.dtype == ICSTR_ST_F16 && ih.nbytes == 2 * (N - 1));
    CHECK(icstr_st_find(f, "f", &iff) == ICSTR_OK && iff.dtype == ICSTR_ST_F32);
    CHECK(icstr_st_find(f, "bf", &ib) == ICSTR_OK && ib.dtype == ICSTR_ST_BF16);
    /* the 4-byte tensor comes first in the data, then the 2-byte ones in order */
    CHECK((const unsigned char *)iff.data < (const unsigned char *)ih.data);
    CHECK((const unsigned char *)ih.data + ih.nbytes == (const unsigned char *)ib.data);
    CHECK((uintptr_t)iff.data % 8 == 0 && (uintptr_t)ih.data % 2 == 0 && (uintptr_t)ib.data % 2 == 0);

    float got[N];
    int64_t sh[1] = {N - 1};
    CHECK(icstr_st_read_f32(f, "h", 1, sh, got) == ICSTR_OK);
    int ok = 1, raw_ok = 1;
    const unsigned char *raw = ih.data;
    for (int i = 0; i < N - 1; i++) {
        uint16_t h = icstr_f32_to_f16(x[i]);
        ok &= same_bits(got[i], icstr_f16_to_f32(h));
        raw_ok &= raw[2 * i] == (h & 0xff) && raw[2 * i + 1] == (h >> 8);
    }
    CHECK(ok);
    CHECK(raw_ok);
    CHECK(isinf(got[1]) && isnan(got[5]) && got[0] == 65504.0f);
    int64_t shb[2] = {3, 13};
    CHECK(icstr_st_read_f32(f, "bf", 2, shb, got) == ICSTR_OK);
    ok = raw_ok = 1;
    raw = ib.data;
    for (int i = 0; i < 39; i++) {
        uint16_t h = icstr_f32_to_bf16(x[i]);
        ok &= same_bits(got[i], icstr_bf16_to_f32(h));
        raw_ok &= raw[2 * i] == (h & 0xff) && raw[2 * i + 1] == (h >> 8);
    }
    CHECK(ok);
    CHECK(raw_ok);
    CHECK(got[1] == 70144.0f); /* bf16 keeps the range: 70000 rounds to 70144 */
    /* shape equality does not depend on the dtype: an F16 tensor reads into a [39] float array */
    int64_t wrong[1] = {39};
    CHECK(icstr_st_read_f32(f, "bf", 1, wrong, got) == ICSTR_ERR_MISMATCH);
    CHECK(contains(icstr_last_error(), "expected shape [39], found [3, 13]"));
    icstr_st_close(f);
    unlink(path);
}

static void test_metadata(void) {
    char path[128];
    path_in(path, sizeof path, "meta.safetensors");
    const char *keys[] = {"format", "quote\"key\\", "ключ", "empty", "config"};
    const char *vals[] = {"pt", "line\nbreak\ttab\x01", "值 ✓ 😀", "", "{\"d\": 256, \"layers\": [1, 2]}"};
    float v = 1.0f;
    icstr_st_tensor t = {.name = "name with \"quotes\" and ü", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {1}, .data = &v};
    CHECK(icstr_st_write(path, &t, 1, keys, vals, 5) == ICSTR_OK);
    icstr_st_file *f = NULL;
    CHECK(icstr_st_open(path, &f) == ICSTR_OK);
    if (!f) return;
    for (int i = 0; i < 5; i++) CHECK_MSG(icstr_st_meta(f, keys[i]) && !strcmp(icstr_st_meta(f, keys[i]), vals[i]), "key %s", keys[i]);
    CHECK(icstr_st_meta(f, "missing") == NULL);
    CHECK(icstr_st_meta_count(f) == 5);
    const char *k, *val, *prev = "";
    int sorted = 1;
    for (int i = 0; i < 5; i++) {
        CHECK(icstr_st_meta_at(f, i, &k, &val) == ICSTR_OK);
        sorted &= strcmp(prev, k) < 0;
        prev = k;
    }
    CHECK(sorted);
    CHECK(icstr_st_meta_at(f, 5, &k, &val) == ICSTR_ERR_RANGE);
    icstr_st_tensor_info info;
    CHECK(icstr_st_find(f, t.name, &info) == ICSTR_OK);
    icstr_st_close(f);

    /* the writer refuses what a reader would refuse */
    const char *dup_keys[] = {"a", "a"}, *dup_vals[] = {"1", "2"};
    CHECK(icstr_st_write(path, &t, 1, dup_keys, dup_vals, 2) == ICSTR_ERR_ARG);
    const char *bad_utf8[] = {"\xff"};
    CHECK(icstr_st_write(path, &t, 1, bad_utf8, dup_vals, 1) == ICSTR_ERR_ARG);
    unlink(path);
}

/* The bytes a Python reader sees: the length, the exact JSON, the offsets, the raw values. */
static void test_layout(void) {
    char path[128];
    path_in(path, sizeof path, "layout.safetensors");
    float a[2] = {1.0f, -2.0f}, bv[3] = {0.5f, 3.0f, -1.0f};
    icstr_st_tensor t[2] = {
        {.name = "a", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {2}, .data = a},
        {.name = "b", .dtype = ICSTR_ST_BF16, .ndim = 2, .shape = {1, 3}, .data = bv},
    };
    const char *k[] = {"step"}, *v[] = {"7"};
    CHECK(icstr_st_write(path, t, 2, k, v, 1) == ICSTR_OK);
    size_t len;
    unsigned char *b = read_file(path, &len);
    CHECK(b != NULL);
    if (!b) return;
    const char *want = "{\"__metadata__\":{\"step\":\"7\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[8,14]}}";
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    size_t wl = strlen(want);
    CHECK(n % 8 == 0 && n >= wl && n < wl + 8);
    CHECK(len == 8 + n + 14); /* contiguous, nothing after the last tensor: what the reference reader demands */
    CHECK(len >= 8 + wl && !memcmp(b + 8, want, wl));
    int pad = 1;
    for (size_t i = wl; i < n && 8 + i < len; i++) pad &= b[8 + i] == ' ';
    CHECK(pad);
    /* the header is well-formed JSON on its own */
    icstr_json j;
    icstr_json_init(&j, b + 8, (size_t)n);
    CHECK(icstr_json_skip(&j) == ICSTR_OK && icstr_json_finish(&j) == ICSTR_OK);
    const unsigned char *d = b + 8 + n;
    static const unsigned char a_le[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}; /* 1.0f, -2.0f */
    static const unsigned char b_le[6] = {0x00, 0x3f, 0x40, 0x40, 0x80, 0xbf};             /* bf16 0.5, 3, -1 */
    CHECK(!memcmp(d, a_le, 8));
    CHECK(!memcmp(d + 8, b_le, 6));
    free(b);
    unlink(path);
}

static void declare_model(icstr_slab *s, int variant) {
    icstr_slab_init(s);
    int64_t w[2] = {4, 3}, wt[2] = {3, 4}, bb[1] = {3}, d[3] = {2, 2, 2};
    icstr_slab_declare(s, "enc.w", 2, variant == 2 ? wt : w, 1, NULL);
    icstr_slab_declare(s, "enc.b", 1, bb, 0, NULL);
    if (variant != 3) icstr_slab_declare(s, variant == 1 ? "dec.x" : "dec.w", 3, d, 1, NULL);
}

static int slab_equal(const icstr_slab *a, const float *x, const float *y) {
    for (int i = 0; i < a->count; i++)
        for (size_t e = 0; e < a->params[i].numel; e++)
            if (!same_bits(x[a->params[i].offset + e], y[a->params[i].offset + e])) return 0;
    return 1;
}

static void test_slab(void) {
    char path[128], p16[128];
    path_in(path, sizeof path, "ckpt.safetensors");
    path_in(p16, sizeof p16, "ckpt16.safetensors");
    icstr_slab s, t;
    declare_model(&s, 0);
    CHECK(icstr_slab_alloc(&s, 1) == ICSTR_OK);
    icstr_rng r;
    icstr_rng_seed(&r, 3);
    for (size_t i = 0; i < s.total; i++) {
        s.data[i] = icstr_rng_normal(&r);
        s.m[i] = icstr_rng_normal(&r) * 1e-3f;
        s.v[i] = icstr_rng_uniform(&r) * 1e-6f;
    }
    const char *k[] = {"step", "config"}, *v[] = {"1200", "tiny"};
    CHECK(icstr_slab_save(&s, path, ICSTR_ST_F32, ICSTR_ST_MOMENTS, k, v, 2) == ICSTR_OK);

    /* exact resume: parameters and both moments bit for bit */
    declare_model(&t, 0);
    icstr_slab_alloc(&t, 1);
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_MOMENTS) == ICSTR_OK);
    CHECK(slab_equal(&s, s.data, t.data) && slab_equal(&s, s.m, t.m) && slab_equal(&s, s.v, t.v));
    icstr_st_file *f = NULL;
    CHECK(icstr_st_open(path, &f) == ICSTR_OK);
    if (f) {
        CHECK(icstr_st_count(f) == 9);
        CHECK(icstr_st_meta(f, "step") && !strcmp(icstr_st_meta(f, "step"), "1200"));
        icstr_st_tensor_info info;
        CHECK(icstr_st_find(f, "adam_v/dec.w", &info) == ICSTR_OK && info.ndim == 3 && info.dtype == ICSTR_ST_F32);
        icstr_st_close(f);
    }
    icstr_slab_free(&t);

    /* inference: moments in the file are ignored, the slab has none */
    declare_model(&t, 0);
    icstr_slab_alloc(&t, 0);
    CHECK(icstr_slab_load_file(&t, path, 0) == ICSTR_OK);
    CHECK(slab_equal(&s, s.data, t.data));
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_MOMENTS) == ICSTR_ERR_ARG);
    CHECK(icstr_slab_save(&t, p16, ICSTR_ST_F32, ICSTR_ST_MOMENTS, NULL, NULL, 0) == ICSTR_ERR_ARG);
    icstr_slab_free(&t);

    /* BF16 weights load as the bf16 rounding of the originals; moments were not saved */
    CHECK(icstr_slab_save(&s, p16, ICSTR_ST_BF16, 0, NULL, NULL, 0) == ICSTR_OK);
    declare_model(&t, 0);
    icstr_slab_alloc(&t, 1);
    CHECK(icstr_slab_load_file(&t, p16, 0) == ICSTR_OK);
    int ok = 1;
    for (int i = 0; i < s.count; i++)
        for (size_t e = 0; e < s.params[i].numel; e++) {
            size_t o = s.params[i].offset + e;
            ok &= same_bits(t.data[o], icstr_bf16_to_f32(icstr_f32_to_bf16(s.data[o])));
        }
    CHECK(ok);
    CHECK(icstr_slab_load_file(&t, p16, ICSTR_ST_MOMENTS) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(contains(icstr_last_error(), "6 missing: 'adam_m/enc.w', 'adam_v/enc.w'"), "%s", icstr_last_error());
    /* with moments, bf16 weights still come with float32 moments: the resume stays exact */
    CHECK(icstr_slab_save(&s, p16, ICSTR_ST_BF16, ICSTR_ST_MOMENTS, NULL, NULL, 0) == ICSTR_OK);
    CHECK(icstr_slab_load_file(&t, p16, ICSTR_ST_MOMENTS) == ICSTR_OK);
    CHECK(slab_equal(&s, s.m, t.m) && slab_equal(&s, s.v, t.v));
    icstr_slab_free(&t);

    /* a model with a different tensor: missing and unexpected by name, and s untouched */
    declare_model(&t, 1);
    icstr_slab_alloc(&t, 1);
    CHECK(icstr_slab_load_file(&t, path, 0) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(contains(icstr_last_error(), "1 missing: 'dec.x'") && contains(icstr_last_error(), "1 unexpected: 'dec.w'"),
              "%s", icstr_last_error());
    CHECK(contains(icstr_last_error(), path));
    int zero = 1;
    for (size_t i = 0; i < t.total; i++) zero &= t.data[i] == 0.0f;
    CHECK(zero);
    /* allowed missing (a model grown by a tensor): the rest loads, dec.x keeps its value; the
     * file's dec.w is still unexpected unless that is allowed too */
    for (size_t i = 0; i < t.total; i++) t.data[i] = 7.0f;
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_ALLOW_MISSING) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(!contains(icstr_last_error(), "missing") && contains(icstr_last_error(), "1 unexpected: 'dec.w'"), "%s",
              icstr_last_error());
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_ALLOW_MISSING | ICSTR_ST_ALLOW_EXTRA | ICSTR_ST_MOMENTS) == ICSTR_OK);
    int kept = 1, loaded = 1;
    for (int i = 0; i < t.count; i++)
        for (size_t e = 0; e < t.params[i].numel; e++) {
            size_t o = t.params[i].offset + e;
            if (!strcmp(t.params[i].name, "dec.x")) kept &= t.data[o] == 7.0f && t.m[o] == 0.0f;
            else loaded &= same_bits(t.data[o], s.data[o]) && same_bits(t.m[o], s.m[o]);
        }
    CHECK_MSG(kept && loaded, "allow missing: kept %d loaded %d", kept, loaded);
    icstr_slab_free(&t);

    /* a transposed matrix: the shape error names it, expected vs found */
    declare_model(&t, 2);
    icstr_slab_alloc(&t, 1);
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_MOMENTS) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(contains(icstr_last_error(), "'enc.w': expected shape [3, 4], found [4, 3]"), "%s", icstr_last_error());
    CHECK(contains(icstr_last_error(), "'adam_m/enc.w': expected shape [3, 4], found [4, 3]"));
    zero = 1;
    for (size_t i = 0; i < t.total; i++) zero &= t.data[i] == 0.0f && t.m[i] == 0.0f;
    CHECK(zero);
    icstr_slab_free(&t);

    /* a smaller model: the extra tensor is an error unless allowed */
    declare_model(&t, 3);
    icstr_slab_alloc(&t, 1);
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_MOMENTS) == ICSTR_ERR_MISMATCH);
    CHECK_MSG(contains(icstr_last_error(), "3 unexpected: 'dec.w', 'adam_m/dec.w', 'adam_v/dec.w'"), "%s",
              icstr_last_error());
    CHECK(icstr_slab_load_file(&t, path, ICSTR_ST_MOMENTS | ICSTR_ST_ALLOW_EXTRA) == ICSTR_OK);
    CHECK(slab_equal(&t, s.data, t.data)); /* same offsets for the shared prefix of the layout */
    icstr_slab_free(&t);

    CHECK(icstr_slab_load_file(&s, "/nonexistent/dir/x.safetensors", 0) == ICSTR_ERR_IO);
    CHECK(contains(icstr_last_error(), "/nonexistent/dir/x.safetensors"));
    icstr_slab_free(&s);
    unlink(path);
    unlink(p16);
}

static void test_writer_errors(void) {
    char path[128];
    path_in(path, sizeof path, "w.safetensors");
    float x[4] = {0};
    icstr_st_tensor t[2] = {
        {.name = "a", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {4}, .data = x},
        {.name = "a", .dtype = ICSTR_ST_F32, .ndim = 1, .shape = {4}, .data = x},
    };
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG); /* duplicate */
    CHECK(contains(icstr_last_error(), "'a'"));
    t[1].name = "__metadata__";
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].name = "";
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].name = "b";
    t[1].dtype = 7;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].dtype = ICSTR_ST_F16;
    t[1].ndim = 5;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].ndim = 1;
    t[1].shape[0] = -4;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].shape[0] = 4;
    t[1].data = NULL;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].data = x;
    t[1].ndim = 3;
    t[1].shape[0] = t[1].shape[1] = t[1].shape[2] = INT64_C(1) << 31;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_RANGE);
    t[1].ndim = 1;
    t[1].shape[0] = 4;
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    t[1].name = longname;
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_ERR_ARG);
    t[1].name = "b";
    CHECK(access(path, F_OK) != 0); /* nothing written by a refused call */
    CHECK(icstr_st_write("/nonexistent/dir/w.safetensors", t, 2, NULL, NULL, 0) == ICSTR_ERR_IO);
    CHECK(contains(icstr_last_error(), "/nonexistent/dir/w.safetensors.tmp"));

    /* replacing a file that is open: the old map keeps the old bytes, a new open sees the new */
    CHECK(icstr_st_write(path, t, 2, NULL, NULL, 0) == ICSTR_OK);
    icstr_st_file *old = NULL, *cur = NULL;
    CHECK(icstr_st_open(path, &old) == ICSTR_OK);
    float y[4] = {9, 9, 9, 9};
    t[0].data = y;
    CHECK(icstr_st_write(path, t, 1, NULL, NULL, 0) == ICSTR_OK);
    CHECK(icstr_st_open(path, &cur) == ICSTR_OK);
    float got[4];
    int64_t sh[1] = {4};
    if (old && cur) {
        CHECK(icstr_st_count(old) == 2 && icstr_st_count(cur) == 1);
        CHECK(icstr_st_read_f32(old, "a", 1, sh, got) == ICSTR_OK && got[3] == 0.0f);
        CHECK(icstr_st_read_f32(cur, "a", 1, sh, got) == ICSTR_OK && got[3] == 9.0f);
    }
    icstr_st_close(old);
    icstr_st_close(cur);
    unlink(path);
}

static void test_json(void) {
    icstr_json j;
    char s[64];
    size_t len;
    int64_t v;
    const char *txt = "\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\"";
    icstr_json_init(&j, txt, strlen(txt));
    CHECK(icstr_json_string(&j, s, sizeof s, &len) == ICSTR_OK);
    CHECK(len == 13 && !memcmp(s, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80", 14));
    icstr_json_init(&j, txt, strlen(txt));
    CHECK(icstr_json_string(&j, s, 5, &len) == ICSTR_ERR_FORMAT); /* longer than the buffer */

    static const struct {
        const char *text;
        int ok;
        int64_t value;
    } ints[] = {
        {"0", 1, 0}, {"-0", 1, 0}, {"42", 1, 42}, {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN}, {"9223372036854775808", 0, 0}, {"-9223372036854775809", 0, 0},
        {"18446744073709551616", 0, 0}, {"01", 0, 0}, {"1.0", 0, 0}, {"1e3", 0, 0}, {"-", 0, 0}, {"+1", 0, 0},
        {"1.", 0, 0}, {"1e", 0, 0},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        icstr_json_init(&j, ints[i].text, strlen(ints[i].text));
        int rc = icstr_json_int64(&j, &v);
        if (rc == ICSTR_OK) rc = icstr_json_finish(&j);
        CHECK_MSG((rc == ICSTR_OK) == ints[i].ok && (!ints[i].ok || v == ints[i].value), "int '%s'", ints[i].text);
    }

    static const struct {
        const char *text;
        int ok;
    } docs[] = {
        {"{\"a\": [1, 2.5e-3, -0.0, true, false, null, \"x\", {}, []], \"b\": {\"c\": \"\"}}", 1},
        {" \t\r\n[ ] ", 1},
        {"[1,]", 0}, {"{\"a\":1,}", 0}, {"[1 2]", 0}, {"{\"a\" 1}", 0}, {"{1:2}", 0}, {"[", 0}, {"", 0},
        {"[tru]", 0}, {"[nul]", 0}, {"[NaN]", 0}, {"\"\\x\"", 0}, {"\"\\u12\"", 0}, {"\"\\ud800\"", 0},
        {"\"\\udc00\"", 0}, {"\"\\u0000\"", 0}, {"\"tab\there\"", 0}, {"\"\xc0\xaf\"", 0}, {"\"\xed\xa0\x80\"", 0},
        {"\"\xf4\x90\x80\x80\"", 0}, {"\"\xe2\x82\"", 0}, {"[1]x", 0}, {"{\"a\":1}}", 0}, {"\f[]", 0},
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        icstr_json_init(&j, docs[i].text, strlen(docs[i].text));
        int rc = icstr_json_skip(&j);
        if (rc == ICSTR_OK) rc = icstr_json_finish(&j);
        CHECK_MSG((rc == ICSTR_OK) == docs[i].ok, "doc %zu '%s': rc %d", i, docs[i].text, rc);
    }

    /* 10000 levels: one error at the limit, on a fixed stack */
    enum { DEEP = 10000 };
    char *deep = malloc(2 * DEEP);
    memset(deep, '[', DEEP);
    memset(deep + DEEP, ']', DEEP);
    icstr_json_init(&j, deep, 2 * DEEP);
    CHECK(icstr_json_skip(&j) == ICSTR_ERR_FORMAT);
    CHECK(contains(icstr_last_error(), "nested deeper"));
    icstr_json_init(&j, deep, ICSTR_JSON_MAX_DEPTH);
    CHECK(icstr_json_skip(&j) == ICSTR_ERR_FORMAT); /* 64 levels, never closed */
    memset(deep + ICSTR_JSON_MAX_DEPTH, ']', ICSTR_JSON_MAX_DEPTH);
    icstr_json_init(&j, deep, 2 * ICSTR_JSON_MAX_DEPTH);
    CHECK(icstr_json_skip(&j) == ICSTR_OK && icstr_json_finish(&j) == ICSTR_OK); /* 64 levels is allowed */
    free(deep);
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix) {
    size_t a = strlen(prefix), b = strlen(suffix);
    char *s = malloc(a + n + b + 1);
    memcpy(s, prefix, a);
    memset(s + a, c, n);
    memcpy(s + a + n, suffix, b + 1);
    return s;
}

static void test_malformed(void) {
    const int F = ICSTR_ERR_FORMAT, U = ICSTR_ERR_UNSUPPORTED;
    /* too short for the length field, from memory and from disk */
    unsigned char seven[7] = {0};
    icstr_st_file *f = (icstr_st_file *)1;
    CHECK(icstr_st_open_memory(seven, 0, &f) == F && f == NULL);
    CHECK(icstr_st_open_memory(NULL, 0, &f) == F && f == NULL);
    CHECK(icstr_st_open_memory(seven, 7, &f) == F && contains(icstr_last_error(), "7 bytes"));
    CHECK(icstr_st_open_memory(NULL, 5, &f) == ICSTR_ERR_ARG);
    char path[128];
    path_in(path, sizeof path, "bad.safetensors");
    write_bytes(path, seven, 0);
    CHECK(icstr_st_open(path, &f) == F && contains(icstr_last_error(), path));
    write_bytes(path, seven, 7);
    CHECK(icstr_st_open(path, &f) == F && f == NULL);
    CHECK(icstr_st_open(tmpdir, &f) == ICSTR_ERR_IO); /* a directory */
    path_in(path, sizeof path, "absent.safetensors");
    CHECK(icstr_st_open(path, &f) == ICSTR_ERR_IO && contains(icstr_last_error(), "absent.safetensors"));

    /* header lengths that lie: past the end, 2^63, all ones */
    unsigned char h[16] = {0};
    h[0] = 9;
    CHECK(icstr_st_open_memory(h, 16, &f) == F && contains(icstr_last_error(), "past the end"));
    memset(h, 0, 8);
    h[7] = 0x80;
    CHECK(icstr_st_open_memory(h, 16, &f) == F && contains(icstr_last_error(), "9223372036854775808"));
    memset(h, 0xff, 8);
    CHECK(icstr_st_open_memory(h, 16, &f) == F);
    /* a length inside a (sparse) 200 MB file but over the cap: refused before any allocation */
    path_in(path, sizeof path, "sparse.safetensors");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        unsigned char len8[8];
        uint64_t big = 150000000;
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(big >> (8 * i));
        CHECK(write(fd, len8, 8) == 8 && ftruncate(fd, 200000000) == 0);
        close(fd);
        CHECK(icstr_st_open(path, &f) == F && contains(icstr_last_error(), "over the limit"));
        unlink(path);
    }
    path_in(path, sizeof path, "bad.safetensors");
    unlink(path);

    const char *ok1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t len;
    unsigned char *img = make_image(ok1, 8, &len);
    CHECK(icstr_st_open_memory(img, len, &f) == ICSTR_OK); /* the control case opens */
    icstr_st_close(f);
    free(img);

    static const struct {
        const char *what, *header;
        size_t data;
        int rc;
        const char *want;
    } cases[] = {
        {"empty header", "", 0, ICSTR_ERR_FORMAT, "not a JSON object"},
        {"truncated JSON", "{\"a\":{\"dtype\":\"F32\"", 8, ICSTR_ERR_FORMAT, "tensor 'a'"},
        {"trailing garbage", "{} x", 0, ICSTR_ERR_FORMAT, "trailing characters"},
        {"unterminated string", "{\"a", 0, ICSTR_ERR_FORMAT, "unterminated string"},
        {"not an object (array)", "[1, 2]", 0, ICSTR_ERR_FORMAT, "not a JSON object"},
        {"not an object (string)", "\"x\"", 0, ICSTR_ERR_FORMAT, "not a JSON object"},
        {"entry not an object", "{\"a\":[0,8]}", 8, ICSTR_ERR_FORMAT, "tensor 'a': entry is not a JSON object"},
        {"unknown dtype", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ICSTR_ERR_FORMAT,
         "tensor 'a': unknown dtype 'Q7'"},
        {"unsupported dtype", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, U,
         "tensor 'a': dtype I64 is not supported"},
        {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "tensor 'a': dtype"},
        {"negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,8]}}", 8, F,
         "tensor 'w': shape dim 0 is negative (-1)"},
        {"overflowing shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, F,
         "tensor 'w': shape [4294967296, 4294967296] has too many elements"},
        {"overflowing bytes", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, F,
         "tensor 'w': shape [4611686018427387904] has too many elements"},
        {"dim past int64", "{\"w\":{\"dtype\":\"F32\",\"shape\":[18446744073709551617],\"data_offsets\":[0,8]}}", 8, F,
         "tensor 'w': shape dim 0"},
        {"fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, F, "tensor 'w'"},
        {"string dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, F, "tensor 'w'"},
        {"five dims", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, U, "tensor 'w': more than 4 dims"},
        {"shape not an array", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, F, "tensor 'w': shape"},
        {"offsets past the file", "{\"w\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[0,1000]}}", 8, F,
         "tensor 'w': data_offsets [0, 1000] run past the data section (8 bytes)"},
        {"offsets far past", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[9223372036854775799,9223372036854775807]}}",
         8, F, "tensor 'w'"},
        {"end before begin", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, F,
         "tensor 'w': data_offsets [8, 0] end before they begin"},
        {"negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, F, "tensor 'w'"},
        {"size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, F,
         "tensor 'w': data_offsets [0, 4] hold 4 bytes, but shape [2] of F32 needs 8"},
        {"three offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, F, "tensor 'w'"},
        {"one offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, F, "tensor 'w'"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, F, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'"},
        {"overlap inside", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                           "\"c\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]},"
                           "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[2,6]}}",
         16, F, "overlap tensor 'a'"},
        {"duplicate name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, F, "tensor 'a': name appears twice"},
        {"duplicate key", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F,
         "tensor 'a': key 'dtype' appears twice"},
        {"unknown key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, F,
         "tensor 'a': unknown key 'x'"},
        {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, F, "tensor 'a': missing 'data_offsets'"},
        {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "tensor 'a': missing 'dtype'"},
        {"empty name", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "empty name"},
        {"NUL in name", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "\\u0000"},
        {"bad UTF-8 name", "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, F, "UTF-8"},
        {"metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, F, "__metadata__ is not a JSON object"},
        {"metadata value not a string", "{\"__metadata__\":{\"k\":1}}", 0, F, "__metadata__ 'k': value is not a string"},
        {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, F, "__metadata__ appears twice"},
        {"metadata key twice", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, F, "__metadata__ key 'k' appears twice"},
        {"trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],}}", 4, F, "trailing comma"},
        {"leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, F, "tensor 'a'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_bad(cases[i].what, cases[i].header, cases[i].data, cases[i].rc, cases[i].want);
    /* NUL padding instead of spaces (a C string literal cannot carry it through make_image) */
    {
        const char hdr[] = "{}\0\0\0\0\0\0";
        unsigned char b[16];
        memset(b, 0, 8);
        b[0] = 8;
        memcpy(b + 8, hdr, 8);
        CHECK(icstr_st_open_memory(b, 16, &f) == F && contains(icstr_last_error(), "trailing characters"));
    }

    /* deep nesting, 10000 levels, at the root, as an entry, as metadata, as a shape */
    char *deep = repeat("", '[', 10000, "");
    expect_bad("deep root", deep, 0, F, "not a JSON object");
    free(deep);
    deep = repeat("{\"a\":", '[', 10000, "");
    expect_bad("deep entry", deep, 0, F, "tensor 'a'");
    free(deep);
    deep = repeat("{\"a\":{\"dtype\":\"F32\",\"shape\":", '[', 10000, "");
    expect_bad("deep shape", deep, 0, F, "tensor 'a'");
    free(deep);
    deep = repeat("{\"__metadata__\":{\"k\":", '{', 10000, "");
    expect_bad("deep metadata", deep, 0, F, "__metadata__ 'k'");
    free(deep);
    char *longname = repeat("{\"", 'n', 300, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
    expect_bad("long name", longname, 4, F, "longer than 255 bytes");
    free(longname);
    char *okname = repeat("{\"", 'n', 255, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
    img = make_image(okname, 4, &len);
    CHECK(icstr_st_open_memory(img, len, &f) == ICSTR_OK);
    icstr_st_close(f);
    free(img);
    free(okname);

    /* gaps and trailing bytes are accepted (the reference refuses them, but they are harmless) */
    img = make_image("{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]}}", 10, &len);
    CHECK(icstr_st_open_memory(img, len, &f) == ICSTR_OK);
    icstr_st_close(f);
    free(img);
}

/* A valid file with metadata and mixed dtypes, as bytes. */
static unsigned char *valid_image(size_t *len) {
    char path[128];
    path_in(path, sizeof path, "valid.safetensors");
    float x[20];
    for (int i = 0; i < 20; i++) x[i] = (float)i * 0.25f - 2.0f;
    icstr_st_tensor t[4] = {
        {.name = "emb", .dtype = ICSTR_ST_F32, .ndim = 2, .shape = {4, 5}, .data = x},
        {.name = "ln.g", .dtype = ICSTR_ST_F16, .ndim = 1, .shape = {3}, .data = x},
        {.name = "s", .dtype = ICSTR_ST_F32, .ndim = 0, .data = x},
        {.name = "last", .dtype = ICSTR_ST_BF16, .ndim = 3, .shape = {1, 2, 3}, .data = x},
    };
    const char *k[] = {"model", "step"}, *v[] = {"icstr-tiny", "42"};
    if (icstr_st_write(path, t, 4, k, v, 2)) return NULL;
    unsigned char *b = read_file(path, len);
    unlink(path);
    return b;
}

static void touch_all(icstr_st_file *f) {
    for (int i = 0; i < icstr_st_count(f); i++) {
        icstr_st_tensor_info info;
        if (icstr_st_info(f, i, &info)) continue;
        float *dst = malloc(info.numel ? info.numel * sizeof(float) : 1);
        icstr_st_to_f32(&info, dst);
        free(dst);
    }
    for (int i = 0; i < icstr_st_meta_count(f); i++) {
        const char *k, *v;
        icstr_st_meta_at(f, i, &k, &v);
        (void)strlen(k);
        (void)strlen(v);
    }
}

static void test_truncation_and_fuzz(void) {
    size_t len;
    unsigned char *full = valid_image(&len);
    CHECK(full != NULL);
    if (!full) return;
    icstr_st_file *f = NULL;
    CHECK(icstr_st_open_memory(full, len, &f) == ICSTR_OK && icstr_st_count(f) == 4);
    icstr_st_close(f);

    /* every prefix from memory, each in a buffer of exactly that size */
    int all_fail = 1, named = 1;
    for (size_t n = 0; n < len; n++) {
        unsigned char *b = malloc(n ? n : 1);
        memcpy(b, full, n);
        f = NULL;
        int rc = icstr_st_open_memory(b, n, &f);
        all_fail &= rc != ICSTR_OK && f == NULL;
        if (rc == ICSTR_OK) icstr_st_close(f);
        /* once the whole header is there, the cut data is blamed on a tensor by name */
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = h << 8 | full[i];
        if (n >= 8 + h) named &= contains(icstr_last_error(), "tensor '");
        free(b);
    }
    CHECK(all_fail);
    CHECK(named);

    /* every prefix from disk */
    char path[128];
    path_in(path, sizeof path, "trunc.safetensors");
    all_fail = 1;
    for (size_t n = 0; n < len; n++) {
        write_bytes(path, full, n);
        f = NULL;
        int rc = icstr_st_open(path, &f);
        all_fail &= rc != ICSTR_OK && f == NULL;
        if (rc == ICSTR_OK) icstr_st_close(f);
    }
    CHECK(all_fail);
    write_bytes(path, full, len);
    CHECK(icstr_st_open(path, &f) == ICSTR_OK);
    icstr_st_close(f);
    unlink(path);

    /* random corruption: flip a few bytes; any outcome but a crash (or a sanitizer report) is fine */
    icstr_rng r;
    icstr_rng_seed(&r, 4);
    int opened = 0, refused = 0;
    unsigned char *b = malloc(len);
    for (int it = 0; it < 3000; it++) {
        memcpy(b, full, len);
        int flips = 1 + (int)icstr_rng_below(&r, 4);
        for (int k = 0; k < flips; k++) {
            size_t at = icstr_rng_below(&r, (uint32_t)len);
            uint32_t mode = icstr_rng_below(&r, 4);
            static const char interesting[] = "{}[]\",:-09e.\\ ";
            if (mode == 0) b[at] ^= (unsigned char)(1u << icstr_rng_below(&r, 8));
            else if (mode == 1) b[at] = (unsigned char)icstr_rng_below(&r, 256);
            else b[at] = (unsigned char)interesting[icstr_rng_below(&r, sizeof interesting - 1)];
        }
        f = NULL;
        if (icstr_st_open_memory(b, len, &f) == ICSTR_OK) {
            opened++;
            touch_all(f);
            icstr_st_close(f);
        } else {
            refused++;
        }
    }
    free(b);
    CHECK(opened > 0 && refused > 0);
    fprintf(stderr, "fuzz: %d corrupted files opened, %d refused\n", opened, refused);
    free(full);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/icstr-st-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip_f32();
    test_half();
    test_metadata();
    test_layout();
    test_slab();
    test_writer_errors();
    test_json();
    test_malformed();
    test_truncation_and_fuzz();
    rmdir(tmpdir);
    return check_finish("test_safetensors");
}
