/* Image decoding through stb_image into 8-bit RGB, with the size checked from the header before
 * any image-sized allocation, and PNG writing through stb_image_write. */
#include "icstr_data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_write.h>

icstr_image_limits icstr_image_default_limits(void) {
    icstr_image_limits l = {ICSTR_IMAGE_DEFAULT_MAX_PIXELS, ICSTR_IMAGE_DEFAULT_MAX_SIDE,
                            ICSTR_IMAGE_DEFAULT_MAX_FILE_BYTES};
    return l;
}

void icstr_image_free(icstr_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

int icstr_image_alloc(int w, int h, const unsigned char rgb[3], icstr_image *out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "image alloc: NULL out");
    memset(out, 0, sizeof *out);
    if (w < 1 || h < 1) return icstr_fail(ICSTR_ERR_ARG, "image alloc: size %d x %d", w, h);
    size_t n;
    if (icstr_mul_size((size_t)w * 3, (size_t)h, &n))
        return icstr_fail(ICSTR_ERR_RANGE, "image alloc: %d x %d overflows", w, h);
    out->rgb = malloc(n);
    if (!out->rgb) return icstr_fail(ICSTR_ERR_NOMEM, "image alloc: %d x %d", w, h);
    out->w = w;
    out->h = h;
    if (!rgb) memset(out->rgb, 255, n);
    else
        for (size_t i = 0; i < n; i += 3) memcpy(out->rgb + i, rgb, 3);
    return ICSTR_OK;
}

const char *icstr_image_format_name(const void *bytes, size_t n) {
    const unsigned char *b = bytes;
    if (!b) return "other";
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
    if (n >= 2 && b[0] == 'B' && b[1] == 'M') return "bmp";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "gif";
    if (n >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6')) return "pnm";
    return "other";
}

static const char *label_of(const char *name) { return name ? name : "<memory>"; }

/* stb's header parsers refuse some huge sizes themselves ("too large") before telling us the
 * size; a PNG's size is read here directly so such an image gets the limit error it deserves. */
static int png_peek_size(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h) {
    if (n < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return 0;
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    return 1;
}

static int check_limits(const char *name, uint64_t w, uint64_t h, const icstr_image_limits *l) {
    if (w == 0 || h == 0)
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: image has no pixels (%llu x %llu)", label_of(name),
                          (unsigned long long)w, (unsigned long long)h);
    if (w > (uint64_t)l->max_side || h > (uint64_t)l->max_side)
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: image %llu x %llu has a side over the limit %d",
                          label_of(name), (unsigned long long)w, (unsigned long long)h, l->max_side);
    if (w * h > (uint64_t)l->max_pixels)
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: image %llu x %llu has over %lld pixels",
                          label_of(name), (unsigned long long)w, (unsigned long long)h,
                          (long long)l->max_pixels);
    return ICSTR_OK;
}

/* stb's failure reason made readable. stb names an unknown PNG chunk by its four type bytes, so a
 * file cut inside a chunk header gives "IDA" or even "" (a NUL in the type ends the string); a cut
 * stream gives "outofdata"; and when a file with a known magic fails its header probe, stb tries
 * the other formats and reports the last one's "unknown image type". */
static const char *stb_reason(const void *bytes, size_t n, char *buf, size_t cap) {
    const char *why = stbi_failure_reason(), *fmt = icstr_image_format_name(bytes, n);
    if (!why) why = "";
    int known = strcmp(fmt, "other") != 0;
    if (strlen(why) < 4 || !strcmp(why, "outofdata"))
        snprintf(buf, cap, "truncated or corrupt %s data%s%s%s", known ? fmt : "image", *why ? " (stb: " : "", why,
                 *why ? ")" : "");
    else if (known && !strcmp(why, "unknown image type"))
        snprintf(buf, cap, "truncated or corrupt %s header", fmt);
    else
        snprintf(buf, cap, "%s", why);
    return buf;
}

int icstr_image_info_memory(const void *bytes, size_t n, const char *name, int *w, int *h,
                            int *channels) {
    if (!bytes && n) return icstr_fail(ICSTR_ERR_ARG, "%s: NULL image bytes", label_of(name));
    if (n == 0) return icstr_fail(ICSTR_ERR_IMAGE, "%s: empty image (0 bytes)", label_of(name));
    if (n > INT_MAX)
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: encoded image of %zu bytes is over 2 GiB",
                          label_of(name), n);
    int iw = 0, ih = 0, ic = 0;
    if (!stbi_info_from_memory(bytes, (int)n, &iw, &ih, &ic)) {
        char buf[128];
        const char *why = stb_reason(bytes, n, buf, sizeof buf);
        int rc = strstr(why, "too large") ? ICSTR_ERR_LIMIT : ICSTR_ERR_IMAGE;
        return icstr_fail(rc, "%s: cannot read the image header (%s)", label_of(name), why);
    }
    if (w) *w = iw;
    if (h) *h = ih;
    if (channels) *channels = ic;
    return ICSTR_OK;
}

/* ---- 16-bit PNM: stb_image 2.27 reads its samples in host byte order (they are big-endian),
 * so binary P5/P6 with a maxval above 255 is decoded here. ---- */

/* Next header integer after whitespace and # comments; 0 on a malformed header. */
static int pnm_int(const unsigned char *b, size_t n, size_t *pos, uint32_t *out) {
    size_t i = *pos;
    for (;;) {
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' ||
                         b[i] == '\f' || b[i] == '\v'))
            i++;
        if (i < n && b[i] == '#') {
            while (i < n && b[i] != '\n') i++;
            continue;
        }
        break;
    }
    if (i >= n || b[i] < '0' || b[i] > '9') return 0;
    uint64_t v = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9') {
        v = v * 10 + (b[i++] - '0');
        if (v > 0xFFFFFFFFu) return 0;
    }
    *out = (uint32_t)v;
    *pos = i;
    return 1;
}

/* 1 and the header fields when bytes are a binary PNM with maxval > 255, else 0. */
static int pnm16_header(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h,
                        uint32_t *maxval, int *ch, size_t *data) {
    if (n < 3 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return 0;
    size_t pos = 2;
    if (!pnm_int(b, n, &pos, w) || !pnm_int(b, n, &pos, h) || !pnm_int(b, n, &pos, maxval))
        return 0;
    if (*maxval <= 255 || pos >= n) return 0;
    *ch = b[1] == '6' ? 3 : 1;
    *data = pos + 1; /* exactly one whitespace character ends the header */
    return 1;
}

static int pnm16_decode(const unsigned char *b, size_t n, const char *name,
                        const icstr_image_limits *l, icstr_image *out) {
    uint32_t w, h, maxval;
    int ch, rc;
    size_t data;
    pnm16_header(b, n, &w, &h, &maxval, &ch, &data);
    if (maxval > 65535)
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: PNM maxval %u is over 65535", label_of(name), maxval);
    if ((rc = check_limits(name, w, h, l))) return rc;
    size_t np = (size_t)w * h, need = np * (size_t)ch * 2;
    if (data > n || n - data < need)
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: PNM data truncated (%zu of %zu bytes)",
                          label_of(name), data > n ? 0 : n - data, need);
    unsigned char *rgb = malloc(np * 3);
    if (!rgb) return icstr_fail(ICSTR_ERR_NOMEM, "%s: %u x %u image", label_of(name), w, h);
    const unsigned char *s = b + data;
    for (size_t i = 0; i < np; i++)
        for (int c = 0; c < 3; c++) {
            const unsigned char *p = s + (i * (size_t)ch + (ch == 3 ? (size_t)c : 0)) * 2;
            uint32_t v = (uint32_t)p[0] << 8 | p[1];
            if (v > maxval) v = maxval;
            rgb[i * 3 + c] = (unsigned char)((v * 255u + maxval / 2) / maxval);
        }
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = rgb;
    return ICSTR_OK;
}

/* Composites c over white with alpha a, rounded. */
static inline unsigned char over_white(unsigned c, unsigned a) {
    return (unsigned char)((c * a + 255u * (255u - a) + 127u) / 255u);
}

int icstr_image_load_memory_ex(const void *bytes, size_t n, const char *name,
                               const icstr_image_limits *limits, icstr_image *out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "%s: NULL output image", label_of(name));
    memset(out, 0, sizeof *out);
    icstr_image_limits dl = icstr_image_default_limits();
    const icstr_image_limits *l = limits ? limits : &dl;
    uint32_t pw, ph;
    int rc;
    if (bytes && png_peek_size(bytes, n, &pw, &ph) && (rc = check_limits(name, pw, ph, l)))
        return rc;
    uint32_t qw, qh, qmax;
    int qch;
    size_t qdata;
    if (bytes && pnm16_header(bytes, n, &qw, &qh, &qmax, &qch, &qdata))
        return pnm16_decode(bytes, n, name, l, out);
    int w, h, comp;
    if ((rc = icstr_image_info_memory(bytes, n, name, &w, &h, &comp))) return rc;
    if ((rc = check_limits(name, (uint64_t)(w < 0 ? 0 : w), (uint64_t)(h < 0 ? 0 : h), l)))
        return rc;
    int dw, dh, dc;
    unsigned char *pix = stbi_load_from_memory(bytes, (int)n, &dw, &dh, &dc, 0);
    if (!pix) {
        char buf[128];
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: cannot decode the image (%s)", label_of(name),
                          stb_reason(bytes, n, buf, sizeof buf));
    }
    if (dw != w || dh != h || dc < 1 || dc > 4) {
        stbi_image_free(pix);
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: decoder gave %d x %d x %d, header said %d x %d",
                          label_of(name), dw, dh, dc, w, h);
    }
    size_t np = (size_t)w * (size_t)h; /* <= max_pixels: checked above */
    unsigned char *rgb = dc == 3 ? pix : malloc(np * 3);
    if (!rgb) {
        stbi_image_free(pix);
        return icstr_fail(ICSTR_ERR_NOMEM, "%s: %d x %d image", label_of(name), w, h);
    }
    if (dc != 3) {
        const unsigned char *s = pix;
        unsigned char *d = rgb;
        for (size_t i = 0; i < np; i++, d += 3) {
            switch (dc) {
            case 1: d[0] = d[1] = d[2] = s[0]; s += 1; break;
            case 2: d[0] = d[1] = d[2] = over_white(s[0], s[1]); s += 2; break;
            default:
                d[0] = over_white(s[0], s[3]);
                d[1] = over_white(s[1], s[3]);
                d[2] = over_white(s[2], s[3]);
                s += 4;
                break;
            }
        }
        stbi_image_free(pix);
    }
    out->w = w;
    out->h = h;
    out->rgb = rgb; /* stb allocates with malloc (its default STBI_MALLOC), so free() owns it */
    return ICSTR_OK;
}

int icstr_image_load_memory(const void *bytes, size_t n, const char *name, icstr_image *out) {
    return icstr_image_load_memory_ex(bytes, n, name, NULL, out);
}

int icstr_image_load_file_ex(const char *path, const icstr_image_limits *limits, icstr_image *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return icstr_fail(ICSTR_ERR_ARG, "image load: NULL argument");
    icstr_image_limits dl = icstr_image_default_limits();
    const icstr_image_limits *l = limits ? limits : &dl;
    FILE *f = fopen(path, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st)) {
        int e = errno;
        fclose(f);
        return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > (uint64_t)l->max_file_bytes) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: file of %lld bytes is over the limit %zu", path,
                          (long long)st.st_size, l->max_file_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_NOMEM, "%s: %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int read_err = ferror(f);
    fclose(f);
    int rc;
    if (got != n || read_err)
        rc = icstr_fail(ICSTR_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    else
        rc = icstr_image_load_memory_ex(buf, n, path, l, out);
    free(buf);
    return rc;
}

int icstr_image_load_file(const char *path, icstr_image *out) {
    return icstr_image_load_file_ex(path, NULL, out);
}

void icstr_byte_sink_write(void *ctx, void *data, int size) {
    icstr_byte_sink *s = ctx;
    if (s->failed || size <= 0) return;
    if (s->len + (size_t)size > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + (size_t)size) cap *= 2;
        unsigned char *grown = realloc(s->buf, cap);
        if (!grown) {
            s->failed = 1;
            return;
        }
        s->buf = grown;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, (size_t)size);
    s->len += (size_t)size;
}

void icstr_byte_sink_free(icstr_byte_sink *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

int icstr_image_encode_png(int w, int h, int channels, const unsigned char *pixels, unsigned char **out,
                           size_t *len) {
    *out = NULL;
    *len = 0;
    if (!pixels || w < 1 || h < 1 || channels < 1 || channels > 4 || (int64_t)w * channels > INT_MAX ||
        (int64_t)w * h > INT_MAX / 4)
        return icstr_fail(ICSTR_ERR_ARG, "encode png: bad arguments (%d x %d x %d)", w, h, channels);
    icstr_byte_sink s = {0};
    int ok = stbi_write_png_to_func(icstr_byte_sink_write, &s, w, h, channels, pixels, w * channels);
    if (!ok || s.failed) {
        free(s.buf);
        return icstr_fail(ICSTR_ERR_NOMEM, "PNG encoding of %d x %d failed", w, h);
    }
    *out = s.buf;
    *len = s.len;
    return ICSTR_OK;
}

int icstr_image_write_png(const char *path, int w, int h, int channels,
                          const unsigned char *pixels) {
    if (!path) return icstr_fail(ICSTR_ERR_ARG, "write png: no path");
    unsigned char *png;
    size_t len;
    int rc = icstr_image_encode_png(w, h, channels, pixels, &png, &len);
    if (rc) return icstr_fail_context(rc, "%s", path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(png);
        return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t put = fwrite(png, 1, len, f);
    int close_err = fclose(f);
    free(png);
    if (put != len || close_err) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    return ICSTR_OK;
}

int icstr_image_check_crop(const icstr_image *img, const char *name) {
    int lo = img->w < img->h ? img->w : img->h, hi = img->w < img->h ? img->h : img->w;
    if (lo < ICSTR_CROP_MIN_SIDE)
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: image %d x %d is too small to hold text (a side under %d pixels)",
                          label_of(name), img->w, img->h, ICSTR_CROP_MIN_SIDE);
    if ((int64_t)hi > (int64_t)ICSTR_CROP_MAX_ASPECT * lo)
        return icstr_fail(ICSTR_ERR_IMAGE, "%s: image %d x %d is %d times as %s as %s: not a text crop (at most %d; "
                          "cut it into lines or words)", label_of(name), img->w, img->h, hi / lo,
                          img->w > img->h ? "wide" : "tall", img->w > img->h ? "tall" : "wide", ICSTR_CROP_MAX_ASPECT);
    return ICSTR_OK;
}
