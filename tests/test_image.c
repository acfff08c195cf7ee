/* Images: decoding every supported format from fixtures made here (stb_image_write for PNG, BMP,
 * TGA, JPEG; GIF, PNM and a 16-bit PNG by hand), colour conversion to RGB, refusal of bad and
 * oversized images, the resize filters against hand values and a naive reference, PNG writing
 * and contact sheets. */
#include "check.h"
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_image_write.h>

/* ---- growable byte buffer for the writers ---- */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void buf_byte(buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}
static void buf_be32(buf *b, uint32_t v) {
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    buf_put(b, c, 4);
}
static void write_cb(void *ctx, void *data, int size) { buf_put(ctx, data, (size_t)size); }

/* ---- hand-made PNG pieces ---- */
static uint32_t crc32_of(const unsigned char *d, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= d[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void png_chunk(buf *b, const char *type, const unsigned char *d, size_t n) {
    buf_be32(b, (uint32_t)n);
    buf t = {0};
    buf_put(&t, type, 4);
    if (n) buf_put(&t, d, n);
    buf_put(b, t.p, t.n);
    buf_be32(b, crc32_of(t.p, t.n));
    free(t.p);
}

static void png_ihdr(buf *b, uint32_t w, uint32_t h, int depth, int color) {
    buf_put(b, "\x89PNG\r\n\x1a\n", 8);
    unsigned char ih[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16), (unsigned char)(w >> 8),
                            (unsigned char)w, (unsigned char)(h >> 24), (unsigned char)(h >> 16),
                            (unsigned char)(h >> 8), (unsigned char)h, (unsigned char)depth,
                            (unsigned char)color, 0, 0, 0};
    png_chunk(b, "IHDR", ih, 13);
}

/* A 2x1 16-bit RGB PNG whose zlib stream is one stored (uncompressed) block. */
static buf png16(void) {
    buf b = {0};
    png_ihdr(&b, 2, 1, 16, 2);
    static const unsigned char raw[13] = {0, 0x12, 0x34, 0xAB, 0xCD, 0xFF, 0x00,
                                          0x00, 0x01, 0x80, 0x00, 0x7F, 0xFF};
    buf z = {0};
    buf_byte(&z, 0x78);
    buf_byte(&z, 0x01);
    buf_byte(&z, 0x01); /* final, stored */
    buf_byte(&z, 13);
    buf_byte(&z, 0);
    buf_byte(&z, (unsigned)~13 & 0xFF);
    buf_byte(&z, 0xFF);
    buf_put(&z, raw, 13);
    uint32_t a = 1, s = 0;
    for (int i = 0; i < 13; i++) {
        a = (a + raw[i]) % 65521;
        s = (s + a) % 65521;
    }
    buf_be32(&z, s << 16 | a);
    png_chunk(&b, "IDAT", z.p, z.n);
    png_chunk(&b, "IEND", NULL, 0);
    free(z.p);
    return b;
}

/* A 2x2 GIF89a with a 4-colour palette, pixels 0 1 / 2 3. The LZW stream sends a clear code
 * before every pixel so that every code stays 3 bits wide. */
static buf gif2x2(void) {
    buf b = {0};
    buf_put(&b, "GIF89a", 6);
    static const unsigned char screen[7] = {2, 0, 2, 0, 0x81, 0, 0};
    buf_put(&b, screen, 7);
    static const unsigned char pal[12] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220};
    buf_put(&b, pal, 12);
    static const unsigned char desc[10] = {0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0};
    buf_put(&b, desc, 10);
    buf_byte(&b, 2); /* LZW minimum code size */
    static const int codes[9] = {4, 0, 4, 1, 4, 2, 4, 3, 5};
    unsigned char packed[8] = {0};
    int bit = 0;
    for (int i = 0; i < 9; i++)
        for (int k = 0; k < 3; k++, bit++)
            if (codes[i] >> k & 1) packed[bit / 8] |= (unsigned char)(1 << (bit % 8));
    int nbytes = (bit + 7) / 8;
    buf_byte(&b, (unsigned)nbytes);
    buf_put(&b, packed, (size_t)nbytes);
    buf_byte(&b, 0);
    buf_byte(&b, 0x3B);
    return b;
}

static int px_is(const icstr_image *im, int x, int y, int r, int g, int b) {
    const unsigned char *p = im->rgb + ((size_t)y * im->w + x) * 3;
    return p[0] == r && p[1] == g && p[2] == b;
}

static int over_white(int c, int a) { return (int)(c * a / 255.0 + 255.0 * (255 - a) / 255.0 + 0.5); }

static void test_formats(void) {
    /* a 3x2 RGB pattern written by every stb writer */
    static const unsigned char rgb[18] = {255, 0,  0,  0,  255, 0,   0,  0,  255,
                                          10,  20, 30, 40, 50,  60, 250, 128, 1};
    const char *names[3] = {"png", "bmp", "tga"};
    for (int f = 0; f < 3; f++) {
        buf b = {0};
        int ok = f == 0   ? stbi_write_png_to_func(write_cb, &b, 3, 2, 3, rgb, 9)
                 : f == 1 ? stbi_write_bmp_to_func(write_cb, &b, 3, 2, 3, rgb)
                          : stbi_write_tga_to_func(write_cb, &b, 3, 2, 3, rgb);
        CHECK(ok);
        icstr_image im;
        int rc = icstr_image_load_memory(b.p, b.n, names[f], &im);
        CHECK_MSG(rc == ICSTR_OK, "%s: %s", names[f], icstr_last_error());
        CHECK(im.w == 3 && im.h == 2);
        CHECK_MSG(im.rgb && !memcmp(im.rgb, rgb, 18), "%s pixels differ", names[f]);
        if (f == 0) CHECK(!strcmp(icstr_image_format_name(b.p, b.n), "png"));
        if (f == 1) CHECK(!strcmp(icstr_image_format_name(b.p, b.n), "bmp"));
        icstr_image_free(&im);
        CHECK(im.rgb == NULL && im.w == 0);
        free(b.p);
    }
    /* JPEG is lossy: a flat 16x16 colour comes back within a few levels */
    unsigned char flat[16 * 16 * 3];
    for (int i = 0; i < 256; i++) {
        flat[3 * i] = 100;
        flat[3 * i + 1] = 150;
        flat[3 * i + 2] = 200;
    }
    buf j = {0};
    CHECK(stbi_write_jpg_to_func(write_cb, &j, 16, 16, 3, flat, 95));
    icstr_image im;
    CHECK(icstr_image_load_memory(j.p, j.n, "jpg", &im) == ICSTR_OK);
    CHECK(im.w == 16 && im.h == 16);
    int worst = 0;
    for (int i = 0; im.rgb && i < 16 * 16 * 3; i++) {
        int d = abs((int)im.rgb[i] - flat[i]);
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(worst <= 4, "jpeg off by %d", worst);
    CHECK(!strcmp(icstr_image_format_name(j.p, j.n), "jpeg"));
    icstr_image_free(&im);
    free(j.p);

    /* GIF, first (only) frame */
    buf g = gif2x2();
    int rc = icstr_image_load_memory(g.p, g.n, "gif", &im);
    CHECK_MSG(rc == ICSTR_OK, "gif: %s", icstr_last_error());
    CHECK(im.w == 2 && im.h == 2);
    if (!rc) {
        CHECK(px_is(&im, 0, 0, 10, 20, 30));
        CHECK(px_is(&im, 1, 0, 40, 50, 60));
        CHECK(px_is(&im, 0, 1, 70, 80, 90));
        CHECK(px_is(&im, 1, 1, 200, 210, 220));
    }
    CHECK(!strcmp(icstr_image_format_name(g.p, g.n), "gif"));
    icstr_image_free(&im);
    free(g.p);

    /* PNM: P6 8-bit, P5 grey, P6 16-bit (high byte kept) */
    static const unsigned char p6[] = "P6\n2 1\n255\n\x01\x02\x03\xfa\xfb\xfc";
    CHECK(icstr_image_load_memory(p6, sizeof p6 - 1, "p6", &im) == ICSTR_OK);
    CHECK(im.w == 2 && im.h == 1 && px_is(&im, 0, 0, 1, 2, 3) && px_is(&im, 1, 0, 250, 251, 252));
    icstr_image_free(&im);
    static const unsigned char p5[] = "P5\n# a comment\n3 1\n255\n\x00\x80\xff";
    CHECK(icstr_image_load_memory(p5, sizeof p5 - 1, "p5", &im) == ICSTR_OK);
    CHECK(im.w == 3 && px_is(&im, 0, 0, 0, 0, 0) && px_is(&im, 1, 0, 128, 128, 128) &&
          px_is(&im, 2, 0, 255, 255, 255));
    icstr_image_free(&im);
    static const unsigned char p6_16[] = "P6\n1 1\n65535\n\x12\x34\xab\xcd\xff\x00";
    rc = icstr_image_load_memory(p6_16, sizeof p6_16 - 1, "p6-16", &im);
    CHECK_MSG(rc == ICSTR_OK, "16-bit pnm: %s", icstr_last_error());
    /* big-endian samples scaled by 255 / 65535: 0x1234 -> 18.1, 0xABCD -> 171.1, 0xFF00 -> 254.0 */
    CHECK(im.w == 1 && im.h == 1 && px_is(&im, 0, 0, 18, 171, 254));
    icstr_image_free(&im);
    static const unsigned char p5_12[] = "P5 2 1 4095 \x0f\xff\x08\x00"; /* 12-bit grey */
    rc = icstr_image_load_memory(p5_12, sizeof p5_12 - 1, "p5-12", &im);
    CHECK_MSG(rc == ICSTR_OK, "12-bit pnm: %s", icstr_last_error());
    /* 4095 -> 255; 2048 * 255 / 4095 = 127.5 -> 128 */
    CHECK(im.w == 2 && im.h == 1 && px_is(&im, 0, 0, 255, 255, 255) && px_is(&im, 1, 0, 128, 128, 128));
    icstr_image_free(&im);
    static const unsigned char p6_cut[] = "P6\n2 2\n65535\n\x12\x34";
    CHECK(icstr_image_load_memory(p6_cut, sizeof p6_cut - 1, "p6-cut", &im) == ICSTR_ERR_IMAGE);
    static const unsigned char p6_big[] = "P6\n100000 100000\n65535\n\x12\x34";
    CHECK(icstr_image_load_memory(p6_big, sizeof p6_big - 1, "p6-big", &im) == ICSTR_ERR_LIMIT);
    icstr_image_free(&im);

    /* 16-bit PNG made by hand */
    buf p16 = png16();
    rc = icstr_image_load_memory(p16.p, p16.n, "png16", &im);
    CHECK_MSG(rc == ICSTR_OK, "16-bit png: %s", icstr_last_error());
    CHECK(im.w == 2 && im.h == 1);
    if (!rc) CHECK(px_is(&im, 0, 0, 0x12, 0xAB, 0xFF) && px_is(&im, 1, 0, 0x00, 0x80, 0x7F));
    int w, h, ch;
    CHECK(icstr_image_info_memory(p16.p, p16.n, "png16", &w, &h, &ch) == ICSTR_OK);
    CHECK(w == 2 && h == 1 && ch == 3);
    icstr_image_free(&im);
    free(p16.p);
}

static void test_channels(void) {
    /* grey, grey+alpha, RGBA through PNG */
    static const unsigned char grey[4] = {0, 100, 200, 255};
    static const unsigned char ga[8] = {100, 0, 100, 255, 100, 128, 30, 77};
    static const unsigned char rgba[8] = {200, 100, 50, 255, 200, 100, 50, 10};
    buf b = {0};
    icstr_image im;
    CHECK(stbi_write_png_to_func(write_cb, &b, 4, 1, 1, grey, 4));
    CHECK(icstr_image_load_memory(b.p, b.n, "grey", &im) == ICSTR_OK);
    for (int x = 0; x < 4 && im.rgb; x++) CHECK(px_is(&im, x, 0, grey[x], grey[x], grey[x]));
    icstr_image_free(&im);
    b.n = 0;
    CHECK(stbi_write_png_to_func(write_cb, &b, 4, 1, 2, ga, 8));
    CHECK(icstr_image_load_memory(b.p, b.n, "grey+alpha", &im) == ICSTR_OK);
    for (int x = 0; x < 4 && im.rgb; x++) {
        int v = over_white(ga[2 * x], ga[2 * x + 1]);
        CHECK_MSG(px_is(&im, x, 0, v, v, v), "grey+alpha pixel %d: got %d want %d", x, im.rgb[3 * x], v);
    }
    CHECK(im.rgb && im.rgb[0] == 255 && im.rgb[3] == 100 && im.rgb[6] == 177); /* by hand */
    icstr_image_free(&im);
    b.n = 0;
    CHECK(stbi_write_png_to_func(write_cb, &b, 2, 1, 4, rgba, 8));
    CHECK(icstr_image_load_memory(b.p, b.n, "rgba", &im) == ICSTR_OK);
    CHECK(im.rgb && px_is(&im, 0, 0, 200, 100, 50));
    CHECK(im.rgb && px_is(&im, 1, 0, over_white(200, 10), over_white(100, 10), over_white(50, 10)));
    CHECK(im.rgb && px_is(&im, 1, 0, 253, 249, 247)); /* by hand: 255 - (255 - c) * 10 / 255 */
    icstr_image_free(&im);
    free(b.p);
}

static void test_bad(const char *dir) {
    icstr_image im;
    unsigned char junk[256];
    icstr_rng rng;
    icstr_rng_seed(&rng, 3);
    for (int i = 0; i < 256; i++) junk[i] = (unsigned char)icstr_rng_below(&rng, 256);
    junk[0] = 0x13; /* not any format's magic */
    CHECK(icstr_image_load_memory(junk, 0, "empty", &im) == ICSTR_ERR_IMAGE);
    CHECK(im.rgb == NULL && im.w == 0);
    CHECK(icstr_image_load_memory(junk, sizeof junk, "junk", &im) == ICSTR_ERR_IMAGE);
    CHECK(strstr(icstr_last_error(), "junk") != NULL);
    CHECK(icstr_image_load_memory(NULL, 10, "null", &im) == ICSTR_ERR_ARG);
    CHECK(icstr_image_load_memory(junk, 4, "x", NULL) == ICSTR_ERR_ARG);

    /* a truncated PNG: header intact, pixel data cut */
    unsigned char pix[64 * 64 * 3];
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (unsigned char)icstr_rng_below(&rng, 256);
    buf b = {0};
    CHECK(stbi_write_png_to_func(write_cb, &b, 64, 64, 3, pix, 64 * 3));
    CHECK(icstr_image_load_memory(b.p, b.n / 2, "cut.png", &im) == ICSTR_ERR_IMAGE);
    CHECK(strstr(icstr_last_error(), "cut.png") != NULL);
    /* a limit below the image's size refuses it */
    icstr_image_limits l = icstr_image_default_limits();
    l.max_pixels = 64 * 64 - 1;
    CHECK(icstr_image_load_memory_ex(b.p, b.n, "small-limit", &l, &im) == ICSTR_ERR_LIMIT);
    l = icstr_image_default_limits();
    l.max_side = 63;
    CHECK(icstr_image_load_memory_ex(b.p, b.n, "side-limit", &l, &im) == ICSTR_ERR_LIMIT);
    l.max_side = 64;
    CHECK(icstr_image_load_memory_ex(b.p, b.n, "at-limit", &l, &im) == ICSTR_OK);
    icstr_image_free(&im);
    free(b.p);

    /* PNG headers claiming huge or empty sizes, with no pixel data behind them: refused from
     * the header (decoding would need 30 GB and say "out of memory", not the limit) */
    struct { uint32_t w, h; } sizes[] = {{100000, 100000}, {40000, 10}, {0, 10}, {10, 0}};
    for (int i = 0; i < 4; i++) {
        buf p = {0};
        png_ihdr(&p, sizes[i].w, sizes[i].h, 8, 2);
        png_chunk(&p, "IEND", NULL, 0);
        int rc = icstr_image_load_memory(p.p, p.n, "huge.png", &im);
        CHECK_MSG(rc == ICSTR_ERR_LIMIT, "png %u x %u: rc %d (%s)", sizes[i].w, sizes[i].h, rc,
                  icstr_last_error());
        free(p.p);
    }
    /* a BMP header claiming 100000 x 100000, 24 bits */
    buf bm = {0};
    unsigned char hdr[54] = {'B', 'M'};
    uint32_t v[] = {54 + 16, 0, 54, 40, 100000, 100000};
    for (int i = 0; i < 6; i++) memcpy(hdr + 2 + 4 * i, &v[i], 4); /* little-endian host */
    hdr[26] = 1;  /* planes */
    hdr[28] = 24; /* bits per pixel */
    buf_put(&bm, hdr, 54);
    buf_put(&bm, junk, 16);
    int rc = icstr_image_load_memory(bm.p, bm.n, "huge.bmp", &im);
    CHECK_MSG(rc == ICSTR_ERR_LIMIT, "bmp: rc %d (%s)", rc, icstr_last_error());
    free(bm.p);

    /* files: a missing one and a junk one, both named in the detail */
    char path[512];
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK(icstr_image_load_file(path, &im) == ICSTR_ERR_IO);
    CHECK(strstr(icstr_last_error(), "missing.png") != NULL);
    snprintf(path, sizeof path, "%s/junk.png", dir);
    FILE *f = fopen(path, "wb");
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    CHECK(icstr_image_load_file(path, &im) == ICSTR_ERR_IMAGE);
    CHECK(strstr(icstr_last_error(), "junk.png") != NULL);
    CHECK(strstr(icstr_last_error(), "(") != NULL); /* stb's reason in parentheses */
    l = icstr_image_default_limits();
    l.max_file_bytes = 100;
    CHECK(icstr_image_load_file_ex(path, &l, &im) == ICSTR_ERR_LIMIT);
    unlink(path);
    CHECK(icstr_image_load_file(dir, &im) == ICSTR_ERR_IO); /* a directory */
}

static icstr_image random_image(icstr_rng *rng, int w, int h) {
    icstr_image im;
    icstr_image_alloc(w, h, NULL, &im);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) im.rgb[i] = (unsigned char)icstr_rng_below(rng, 256);
    return im;
}

/* Weight of source pixel j for output i along one axis, computed the slow way. */
static double ref_weight(int src, int dst, int i, int j) {
    if (src == dst) return i == j;
    double s = (double)src / dst;
    if (src > dst) {
        double lo = i * s > j ? i * s : j, hi = (i + 1) * s < j + 1 ? (i + 1) * s : j + 1;
        return hi > lo ? (hi - lo) / s : 0;
    }
    double x = (i + 0.5) * s - 0.5;
    if (x < 0) x = 0;
    if (x > src - 1) x = src - 1;
    int j0 = (int)x;
    double f = x - j0;
    return j == j0 ? 1 - f : j == j0 + 1 ? f : 0;
}

static void test_resize(void) {
    icstr_rng rng;
    icstr_rng_seed(&rng, 11);
    float *chw = malloc(3 * 32 * 128 * sizeof *chw);
    /* constant images stay constant, shrinking and enlarging */
    int sizes[3][2] = {{37, 11}, {300, 100}, {1000, 7}};
    for (int t = 0; t < 3; t++) {
        icstr_image im;
        const unsigned char c[3] = {200, 10, 128};
        icstr_image_alloc(sizes[t][0], sizes[t][1], c, &im);
        CHECK(icstr_image_to_input(&im, 32, 128, chw) == ICSTR_OK);
        double worst = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 32 * 128; i++) {
                double d = fabs(chw[ch * 32 * 128 + i] - (c[ch] / 255.0 - 0.5) / 0.5);
                worst = d > worst ? d : worst;
            }
        CHECK_MSG(worst < 1e-5, "constant %dx%d moved by %g", sizes[t][0], sizes[t][1], worst);
        icstr_image_free(&im);
    }
    /* 256x64 -> 128x32 is the exact mean of 2x2 blocks */
    icstr_image im = random_image(&rng, 256, 64);
    CHECK(icstr_image_to_input(&im, 32, 128, chw) == ICSTR_OK);
    double worst = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 128; x++) {
                double s = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        s += im.rgb[((size_t)(2 * y + dy) * 256 + 2 * x + dx) * 3 + ch];
                double want = (s / 4 / 255.0 - 0.5) / 0.5;
                double d = fabs(chw[(ch * 32 + y) * 128 + x] - want);
                worst = d > worst ? d : worst;
            }
    CHECK_MSG(worst < 1e-6, "2x2 means off by %g", worst);
    /* the 8-bit resize rounds the same means */
    icstr_image half;
    CHECK(icstr_image_resize(&im, 128, 32, &half) == ICSTR_OK);
    int bad = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 128; x++)
            for (int ch = 0; ch < 3; ch++) {
                int s = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        s += im.rgb[((size_t)(2 * y + dy) * 256 + 2 * x + dx) * 3 + ch];
                bad += half.rgb[((size_t)y * 128 + x) * 3 + ch] != (int)(s / 4.0 + 0.5);
            }
    CHECK_MSG(bad == 0, "%d rounded means differ", bad);
    icstr_image_free(&half);
    icstr_image_free(&im);
    /* identity: 128x32 is only normalised, channel planes in order */
    im = random_image(&rng, 128, 32);
    CHECK(icstr_image_to_input(&im, 32, 128, chw) == ICSTR_OK);
    bad = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < 32 * 128; i++)
            bad += chw[ch * 32 * 128 + i] != im.rgb[(size_t)i * 3 + ch] / 127.5f - 1.0f;
    CHECK_MSG(bad == 0, "identity resize changed %d values", bad);
    icstr_image_free(&im);
    /* hand values: bilinear 2 -> 4 along x, area 3 -> 2 along y */
    icstr_image hv;
    icstr_image_alloc(2, 3, NULL, &hv);
    static const unsigned char col[3] = {0, 90, 180}; /* rows */
    static const unsigned char row[2] = {0, 255};     /* columns (red only) */
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 2; x++) {
            unsigned char *p = hv.rgb + ((size_t)y * 2 + x) * 3;
            p[0] = row[x];
            p[1] = col[y];
            p[2] = 7;
        }
    float out[3 * 2 * 4];
    CHECK(icstr_image_to_input(&hv, 2, 4, out) == ICSTR_OK);
    static const double red[4] = {0, 63.75, 191.25, 255}, green[2] = {30, 150};
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 4; x++) {
            CHECK_NEAR(out[y * 4 + x], red[x] / 127.5 - 1, 1e-6);
            CHECK_NEAR(out[8 + y * 4 + x], green[y] / 127.5 - 1, 1e-5);
            CHECK_NEAR(out[16 + y * 4 + x], 7 / 127.5 - 1, 1e-6);
        }
    icstr_image_free(&hv);
    /* mixed (width enlarged, height shrunk by a non-integer factor) against a naive 2-D sum */
    int cases[3][4] = {{97, 41, 128, 32}, {300, 20, 128, 32}, {50, 50, 17, 9}};
    for (int t = 0; t < 3; t++) {
        int sw = cases[t][0], sh = cases[t][1], W = cases[t][2], H = cases[t][3];
        im = random_image(&rng, sw, sh);
        float *o = malloc((size_t)3 * H * W * sizeof *o);
        CHECK(icstr_image_to_input(&im, H, W, o) == ICSTR_OK);
        worst = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double s = 0;
                    for (int j = 0; j < sh; j++) {
                        double wy = ref_weight(sh, H, y, j);
                        if (wy == 0) continue;
                        for (int i = 0; i < sw; i++)
                            s += wy * ref_weight(sw, W, x, i) * im.rgb[((size_t)j * sw + i) * 3 + ch];
                    }
                    double d = fabs(o[(ch * H + y) * W + x] - (s / 127.5 - 1));
                    worst = d > worst ? d : worst;
                }
        CHECK_MSG(worst < 1e-4, "%dx%d -> %dx%d off by %g", sw, sh, W, H, worst);
        free(o);
        icstr_image_free(&im);
    }
    CHECK(icstr_image_to_input(NULL, 32, 128, chw) == ICSTR_ERR_ARG);
    im = random_image(&rng, 4, 4);
    CHECK(icstr_image_to_input(&im, 0, 128, chw) == ICSTR_ERR_ARG);
    icstr_image_free(&im);
    free(chw);
}

static void test_png_and_sheet(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/out.png", dir);
    static const unsigned char rgb[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252, 0, 0, 0, 255, 255, 255};
    CHECK(icstr_image_write_png(path, 3, 2, 3, rgb) == ICSTR_OK);
    icstr_image im;
    CHECK(icstr_image_load_file(path, &im) == ICSTR_OK);
    CHECK(im.w == 3 && im.h == 2 && im.rgb && !memcmp(im.rgb, rgb, 18));
    icstr_image_free(&im);
    unlink(path);
    snprintf(path, sizeof path, "%s/no/such/dir/out.png", dir);
    CHECK(icstr_image_write_png(path, 3, 2, 3, rgb) == ICSTR_ERR_IO);
    CHECK(strstr(icstr_last_error(), "out.png") != NULL);

    /* text: drawn pixels appear; a non-ASCII letter is drawn exactly as '?' */
    icstr_image a, q;
    icstr_image_alloc(40, 30, NULL, &a);
    icstr_image_alloc(40, 30, NULL, &q);
    int wa = icstr_draw_text(&a, 2, 2, "\xc3\xa9", 2, NULL);
    int wq = icstr_draw_text(&q, 2, 2, "?", 2, NULL);
    CHECK(wa == wq && wa > 0);
    CHECK(!memcmp(a.rgb, q.rgb, 40 * 30 * 3));
    int dark = 0;
    for (int i = 0; i < 40 * 30 * 3; i += 3) dark += a.rgb[i] == 0;
    CHECK(dark > 10);
    icstr_draw_text(&a, 35, 25, "WWWWWWWW", 3, NULL); /* clipped, must not write outside */
    icstr_image_free(&a);
    icstr_image_free(&q);
    int tw, th;
    icstr_text_size("ab", 2, &tw, &th);
    CHECK(tw > 0 && th == 24);

    /* sheet: 3 cells in 2 columns; a flat image fills its cell; the 4th add is refused */
    icstr_sheet_params p = icstr_sheet_default_params();
    p.cols = 2;
    p.lines = 2;
    icstr_sheet *s;
    CHECK(icstr_sheet_create(&p, 3, &s) == ICSTR_OK);
    const icstr_image *si = icstr_sheet_image(s);
    CHECK(si->w > 2 * p.cell_w && si->h > 2 * p.cell_h);
    const unsigned char green[3] = {0, 200, 0};
    icstr_image flat;
    icstr_image_alloc(30, 10, green, &flat);
    CHECK(icstr_sheet_add(s, &flat, "truth", "pred") == ICSTR_OK);
    CHECK(icstr_sheet_add(s, NULL, "bad", NULL) == ICSTR_OK);
    CHECK(icstr_sheet_add(s, &flat, "Caf\xc3\xa9 a very long label that cannot fit in one cell", NULL) == ICSTR_OK);
    CHECK(icstr_sheet_add(s, &flat, "x", NULL) == ICSTR_ERR_RANGE);
    int greens = 0, reds = 0;
    for (size_t i = 0; i < (size_t)si->w * si->h * 3; i += 3) {
        greens += si->rgb[i] == 0 && si->rgb[i + 1] == 200 && si->rgb[i + 2] == 0;
        reds += si->rgb[i] == 190 && si->rgb[i + 1] == 0;
    }
    CHECK(greens == 2 * p.cell_w * p.cell_h);
    CHECK(reds > 0); /* the prediction line */
    snprintf(path, sizeof path, "%s/sheet.png", dir);
    CHECK(icstr_sheet_write_png(s, path) == ICSTR_OK);
    CHECK(icstr_image_load_file(path, &im) == ICSTR_OK && im.w == si->w && im.h == si->h);
    icstr_image_free(&im);
    unlink(path);
    icstr_sheet_free(s);
    icstr_image_free(&flat);
    CHECK(icstr_sheet_create(&p, 0, &s) == ICSTR_ERR_ARG);
}

int main(void) {
    char dir[] = "/tmp/icstr_test_image_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_formats();
    test_channels();
    test_bad(dir);
    test_resize();
    test_png_and_sheet(dir);
    rmdir(dir);
    return check_finish("test_image");
}
