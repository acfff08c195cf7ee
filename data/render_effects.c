/* Pixel effects of the renderer: blurs, resampling, low resolution, JPEG artefacts and mask
 * morphology, on small 8-bit images. Plain loops sized for word crops (a few thousand pixels),
 * deterministic (no threads, no global state). */
#include "render_internal.h"
#include "image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>

static uint64_t fmix64(uint64_t z) {
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdULL;
    z ^= z >> 33;
    z *= 0xc4ceb9fe1a85ec53ULL;
    z ^= z >> 33;
    return z;
}

uint64_t render_mix(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = fmix64(a ^ 0x9e3779b97f4a7c15ULL);
    h = fmix64(h ^ (b + 0x632be59bd9b4e019ULL));
    return fmix64(h ^ (c * 0x85ebca77c2b2ae63ULL + 0x27d4eb2f165667c5ULL));
}

static inline unsigned char clamp_u8(float v) {
    v += 0.5f;
    return (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : v);
}

void render_gaussian_blur(unsigned char *rgb, int w, int h, float sigma, float *tmp) {
    if (sigma < 0.2f) return;
    int rad = (int)ceilf(2.5f * sigma);
    if (rad > 24) rad = 24;
    float k[49], sum = 0;
    for (int i = -rad; i <= rad; i++) sum += k[i + rad] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
    for (int i = 0; i <= 2 * rad; i++) k[i] /= sum;
    int rw = 3 * w; /* floats per row */
    float *pad = malloc((size_t)(rw + 6 * rad + rw) * sizeof *pad);
    if (!pad) return; /* no memory: no blur */
    float *acc = pad + rw + 6 * rad;
    /* rows: a padded copy (edges repeated), then the kernel as whole-row multiply-adds */
    for (int y = 0; y < h; y++) {
        const unsigned char *row = rgb + (size_t)y * rw;
        for (int x = -rad; x < w + rad; x++) {
            int xx = x < 0 ? 0 : x >= w ? w - 1 : x;
            float *q = pad + 3 * (x + rad);
            q[0] = row[3 * xx];
            q[1] = row[3 * xx + 1];
            q[2] = row[3 * xx + 2];
        }
        float *out = tmp + (size_t)y * rw;
        for (int j = 0; j < rw; j++) out[j] = 0;
        for (int i = 0; i <= 2 * rad; i++) {
            const float *src = pad + 3 * i;
            float kk = k[i];
            for (int j = 0; j < rw; j++) out[j] += kk * src[j];
        }
    }
    /* columns: each output row sums kernel-weighted rows */
    for (int y = 0; y < h; y++) {
        for (int j = 0; j < rw; j++) acc[j] = 0;
        for (int i = -rad; i <= rad; i++) {
            int yy = y + i;
            yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
            const float *src = tmp + (size_t)yy * rw;
            float kk = k[i + rad];
            for (int j = 0; j < rw; j++) acc[j] += kk * src[j];
        }
        unsigned char *out = rgb + (size_t)y * rw;
        for (int j = 0; j < rw; j++) out[j] = clamp_u8(acc[j]);
    }
    free(pad);
}

void render_motion_blur(unsigned char *rgb, int w, int h, float len, float ang, unsigned char *tmp) {
    int n = (int)ceilf(len) + 1;
    if (n < 2) return;
    if (n > 33) n = 33;
    int dx[33], dy[33];
    float c = cosf(ang), s = sinf(ang);
    for (int i = 0; i < n; i++) {
        float t = ((float)i / (float)(n - 1) - 0.5f) * len;
        dx[i] = (int)lrintf(t * c);
        dy[i] = (int)lrintf(t * s);
    }
    memcpy(tmp, rgb, (size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int a = 0, b = 0, d = 0;
            for (int i = 0; i < n; i++) {
                int xx = x + dx[i], yy = y + dy[i];
                xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
                const unsigned char *p = tmp + ((size_t)yy * w + xx) * 3;
                a += p[0];
                b += p[1];
                d += p[2];
            }
            unsigned char *o = rgb + ((size_t)y * w + x) * 3;
            o[0] = (unsigned char)((a + n / 2) / n);
            o[1] = (unsigned char)((b + n / 2) / n);
            o[2] = (unsigned char)((d + n / 2) / n);
        }
}

/* Weights of one axis: output i takes src[first[i] .. first[i]+count[i]) with wt. Shrinking
 * averages the covered span (area), enlarging interpolates between centres (bilinear). */
typedef struct {
    int *first, *count;
    float *wt;
    int maxc;
} axis_w;

static int axis_build(axis_w *a, int sn, int dn) {
    float scale = (float)sn / (float)dn;
    int maxc = scale > 1 ? (int)ceilf(scale) + 2 : 2;
    a->maxc = maxc;
    a->first = malloc((size_t)dn * sizeof(int));
    a->count = malloc((size_t)dn * sizeof(int));
    a->wt = malloc((size_t)dn * maxc * sizeof(float));
    if (!a->first || !a->count || !a->wt) return -1;
    for (int i = 0; i < dn; i++) {
        float *w = a->wt + (size_t)i * maxc;
        if (scale > 1) {
            float s0 = i * scale, s1 = (i + 1) * scale;
            int f = (int)floorf(s0), c = 0;
            float tot = 0;
            for (int j = f; j < s1 && j < sn && c < maxc; j++) {
                float lo = fmaxf(s0, (float)j), hi = fminf(s1, (float)(j + 1));
                if (hi <= lo) continue;
                if (c == 0) f = j;
                w[c++] = hi - lo;
                tot += hi - lo;
            }
            if (c == 0) {
                f = f < sn - 1 ? f : sn - 1;
                c = 1;
                w[0] = tot = 1;
            }
            for (int k = 0; k < c; k++) w[k] /= tot;
            a->first[i] = f;
            a->count[i] = c;
        } else {
            float src = (i + 0.5f) * scale - 0.5f;
            int f = (int)floorf(src);
            float t = src - f;
            if (f < 0) {
                f = 0;
                t = 0;
            }
            if (f >= sn - 1) {
                f = sn - 1;
                t = 0;
            }
            a->first[i] = f;
            a->count[i] = t > 0 ? 2 : 1;
            w[0] = 1 - t;
            w[1] = t;
        }
    }
    return 0;
}

static void axis_free(axis_w *a) {
    free(a->first);
    free(a->count);
    free(a->wt);
}

void render_resize_rgb(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh) {
    axis_w ax = {0}, ay = {0};
    float *tmp = malloc((size_t)sh * dw * 3 * sizeof *tmp);
    if (!tmp || axis_build(&ax, sw, dw) || axis_build(&ay, sh, dh)) {
        /* out of memory: nearest neighbour needs nothing */
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++)
                memcpy(dst + ((size_t)y * dw + x) * 3, src + ((size_t)(y * sh / dh) * sw + x * sw / dw) * 3,
                       3);
        free(tmp);
        axis_free(&ax);
        axis_free(&ay);
        return;
    }
    for (int y = 0; y < sh; y++) {
        const unsigned char *row = src + (size_t)y * sw * 3;
        float *o = tmp + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            const float *w = ax.wt + (size_t)x * ax.maxc;
            const unsigned char *p = row + (size_t)ax.first[x] * 3;
            float a = 0, b = 0, c = 0;
            for (int k = 0; k < ax.count[x]; k++) {
                a += w[k] * p[3 * k];
                b += w[k] * p[3 * k + 1];
                c += w[k] * p[3 * k + 2];
            }
            o[3 * x] = a;
            o[3 * x + 1] = b;
            o[3 * x + 2] = c;
        }
    }
    for (int y = 0; y < dh; y++) {
        const float *w = ay.wt + (size_t)y * ay.maxc;
        unsigned char *o = dst + (size_t)y * dw * 3;
        for (int x = 0; x < 3 * dw; x++) {
            float a = 0;
            for (int k = 0; k < ay.count[y]; k++) a += w[k] * tmp[(size_t)(ay.first[y] + k) * dw * 3 + x];
            o[x] = clamp_u8(a);
        }
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
}

void render_lowres(unsigned char *rgb, int w, int h, int dw, int dh, unsigned char *tmp) {
    if (dw < 1) dw = 1;
    if (dh < 1) dh = 1;
    render_resize_rgb(rgb, w, h, tmp, dw, dh);
    render_resize_rgb(tmp, dw, dh, rgb, w, h);
}


int render_jpeg_roundtrip(unsigned char *rgb, int w, int h, int quality) {
    icstr_byte_sink m = {0};
    if (!stbi_write_jpg_to_func(icstr_byte_sink_write, &m, w, h, 3, rgb, quality) || m.failed) {
        icstr_byte_sink_free(&m);
        return icstr_fail(ICSTR_ERR_NOMEM, "jpeg encode %d x %d", w, h);
    }
    int w2, h2, c2;
    unsigned char *dec = stbi_load_from_memory(m.buf, (int)m.len, &w2, &h2, &c2, 3);
    icstr_byte_sink_free(&m);
    if (!dec) return icstr_fail(ICSTR_ERR_IMAGE, "jpeg decode: %s", stbi_failure_reason());
    int rc = ICSTR_OK;
    if (w2 == w && h2 == h)
        memcpy(rgb, dec, (size_t)w * h * 3);
    else
        rc = icstr_fail(ICSTR_ERR_INTERNAL, "jpeg round trip changed the size");
    stbi_image_free(dec);
    return rc;
}

/* One step of an octagon: 3x3 square (odd steps) or plus-shaped cross (even steps). */
static void dilate_step(unsigned char *dst, const unsigned char *src, int w, int h, int square,
                        unsigned char *row) {
    for (int y = 0; y < h; y++) {
        const unsigned char *up = src + (size_t)(y > 0 ? y - 1 : y) * w, *mid = src + (size_t)y * w;
        const unsigned char *dn = src + (size_t)(y < h - 1 ? y + 1 : y) * w;
        for (int x = 0; x < w; x++) { /* vertical max first */
            unsigned char v = mid[x];
            if (up[x] > v) v = up[x];
            if (dn[x] > v) v = dn[x];
            row[x] = v;
        }
        unsigned char *o = dst + (size_t)y * w;
        const unsigned char *hs = square ? row : mid; /* the cross widens the middle row only */
        for (int x = 0; x < w; x++) {
            unsigned char v = row[x];
            if (x > 0 && hs[x - 1] > v) v = hs[x - 1];
            if (x < w - 1 && hs[x + 1] > v) v = hs[x + 1];
            o[x] = v;
        }
    }
}

void render_dilate(unsigned char *dst, const unsigned char *src, int w, int h, float rad) {
    memcpy(dst, src, (size_t)w * h);
    if (rad > 2.5f) {
        /* large radii: alternating square and cross steps grow an octagon, close to a disc, in
         * time linear in the radius; the fractional last step is blended */
        size_t n = (size_t)w * h;
        unsigned char *a = malloc(n), *row = malloc((size_t)w);
        if (!a || !row) {
            free(a);
            free(row);
            return;
        }
        int steps = (int)rad;
        float frac = rad - (float)steps;
        if (steps > 24) steps = 24;
        for (int i = 0; i < steps; i++) {
            dilate_step(a, dst, w, h, i % 2 == 0, row);
            memcpy(dst, a, n);
        }
        if (frac > 0.05f) {
            dilate_step(a, dst, w, h, steps % 2 == 0, row);
            for (size_t i = 0; i < n; i++) dst[i] = (unsigned char)(dst[i] + (int)((a[i] - dst[i]) * frac));
        }
        free(a);
        free(row);
        return;
    }
    int r = (int)ceilf(rad);
    if (r < 1) return;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            float d = sqrtf((float)(dx * dx + dy * dy));
            if ((dx == 0 && dy == 0) || d > rad + 0.5f) continue;
            /* the disc's edge is anti-aliased: a partly covered offset spreads a weaker copy */
            int wt = d <= rad - 0.5f ? 256 : (int)(256 * (rad + 0.5f - d));
            int y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? h - dy : h;
            int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? w - dx : w;
            for (int y = y0; y < y1; y++) {
                const unsigned char *sr = src + (size_t)(y + dy) * w + dx;
                unsigned char *o = dst + (size_t)y * w;
                for (int x = x0; x < x1; x++) {
                    int v = (sr[x] * wt) >> 8;
                    if (v > o[x]) o[x] = (unsigned char)v;
                }
            }
        }
}

void render_mask_blur(unsigned char *m, int w, int h, int r, unsigned char *tmp) {
    if (r < 1) return;
    int n = 2 * r + 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int y = 0; y < h; y++) { /* horizontal: m -> tmp */
            const unsigned char *row = m + (size_t)y * w;
            unsigned char *o = tmp + (size_t)y * w;
            int s = 0;
            for (int i = -r; i <= r; i++) s += row[i < 0 ? 0 : i >= w ? w - 1 : i];
            for (int x = 0; x < w; x++) {
                o[x] = (unsigned char)(s / n);
                int add = x + r + 1, sub = x - r;
                s += row[add >= w ? w - 1 : add] - row[sub < 0 ? 0 : sub];
            }
        }
        for (int x = 0; x < w; x++) { /* vertical: tmp -> m */
            int s = 0;
            for (int i = -r; i <= r; i++) s += tmp[(size_t)(i < 0 ? 0 : i >= h ? h - 1 : i) * w + x];
            for (int y = 0; y < h; y++) {
                m[(size_t)y * w + x] = (unsigned char)(s / n);
                int add = y + r + 1, sub = y - r;
                s += tmp[(size_t)(add >= h ? h - 1 : add) * w + x] - tmp[(size_t)(sub < 0 ? 0 : sub) * w + x];
            }
        }
    }
}
