/* The renderer's backgrounds, drawn in output pixels: flat, gradients, value noise, stripes, and
 * patches of real photos. */
#include "icstr_data.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- backgrounds (output space) ---- */

void render_fill_flat(unsigned char *rgb, int n, const float c[3]) {
    unsigned char v[3] = {(unsigned char)c[0], (unsigned char)c[1], (unsigned char)c[2]};
    for (int i = 0; i < n; i++) memcpy(rgb + 3 * i, v, 3);
}

void render_fill_gradient(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float ang) {
    float dx = cosf(ang), dy = sinf(ang);
    float span = fabsf(dx) * w + fabsf(dy) * h;
    if (span < 1) span = 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = ((x - 0.5f * w) * dx + (y - 0.5f * h) * dy) / span + 0.5f;
            unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            for (int k = 0; k < 3; k++) p[k] = (unsigned char)(c1[k] + (c2[k] - c1[k]) * t + 0.5f);
        }
}

/* Value noise: random values on a coarse grid, smoothly interpolated, two octaves. The grid
 * positions and smoothstep weights depend on x or y alone, so they are tabled per column/row. */
int render_fill_noise(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float cell,
                      icstr_rng *r) {
    int gw = (int)(w / cell) + 3, gh = (int)(h / cell) + 3;
    size_t ng = (size_t)gw * gh;
    float *g = malloc((ng * 2 + (size_t)(w + h) * 4) * sizeof *g);
    int *idx = malloc((size_t)(w + h) * 2 * sizeof *idx);
    if (!g || !idx) {
        free(g);
        free(idx);
        return icstr_fail(ICSTR_ERR_NOMEM, "noise background");
    }
    for (size_t i = 0; i < ng * 2; i++) g[i] = icstr_rng_uniform(r);
    float *tx = g + ng * 2, *ty = tx + (size_t)w * 2; /* [octave][pos] */
    int *ix = idx, *iy = idx + (size_t)w * 2;
    for (int o = 0; o < 2; o++) {
        float c = o ? cell * 0.5f : cell;
        for (int pass = 0; pass < 2; pass++) {
            int n = pass ? h : w, lim = pass ? gh : gw;
            float *t = pass ? ty + (size_t)o * h : tx + (size_t)o * w;
            int *id = pass ? iy + (size_t)o * h : ix + (size_t)o * w;
            for (int i = 0; i < n; i++) {
                float f = (float)i / c;
                int k = (int)f;
                if (k >= lim - 1) k = lim - 2;
                float u = f - (float)k;
                if (u > 1) u = 1;
                t[i] = u * u * (3 - 2 * u);
                id[i] = k;
            }
        }
    }
    for (int y = 0; y < h; y++) {
        unsigned char *p = rgb + (size_t)y * w * 3;
        for (int x = 0; x < w; x++, p += 3) {
            float t = 0;
            for (int o = 0; o < 2; o++) {
                const float *G = g + (size_t)o * ng;
                int gx = ix[o * w + x], gy = iy[o * h + y];
                float ax = tx[o * w + x], ay = ty[o * h + y];
                const float *r0 = G + (size_t)gy * gw + gx, *r1 = r0 + gw;
                float v = (r0[0] + (r0[1] - r0[0]) * ax) * (1 - ay) + (r1[0] + (r1[1] - r1[0]) * ax) * ay;
                t += o ? 0.35f * v : 0.65f * v;
            }
            for (int k = 0; k < 3; k++) p[k] = (unsigned char)(c1[k] + (c2[k] - c1[k]) * t + 0.5f);
        }
    }
    free(g);
    free(idx);
    return ICSTR_OK;
}

void render_fill_stripes(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float period,
                         float ang) {
    float dx = cosf(ang), dy = sinf(ang);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float t = fmodf(fabsf(x * dx + y * dy), period) / period;
            const float *c = t < 0.5f ? c1 : c2;
            unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            for (int k = 0; k < 3; k++) p[k] = (unsigned char)c[k];
        }
}

/* A random patch of a photo, flipped at random (so text in it rarely reads the right way),
 * its contrast scaled by var around its mean. */
int render_fill_photo(unsigned char *rgb, int w, int h, const icstr_photo *ph, float zoom, float var,
                      icstr_rng *r) {
    float aspect = (float)w / (float)h;
    int pw, phh;
    phh = (int)(zoom * ph->h);
    if (phh < 4) phh = ph->h < 4 ? ph->h : 4;
    pw = (int)(phh * aspect);
    if (pw > ph->w) {
        pw = ph->w;
        phh = (int)(pw / aspect);
        if (phh < 1) phh = 1;
        if (phh > ph->h) phh = ph->h;
    }
    if (pw < 1) pw = 1;
    int ox = (int)icstr_rng_below(r, (uint32_t)(ph->w - pw + 1)),
        oy = (int)icstr_rng_below(r, (uint32_t)(ph->h - phh + 1));
    int fx = chance(r, 0.5f), fy = chance(r, 0.5f);
    unsigned char *patch = malloc((size_t)pw * phh * 3);
    if (!patch) return icstr_fail(ICSTR_ERR_NOMEM, "photo patch");
    for (int y = 0; y < phh; y++)
        for (int x = 0; x < pw; x++) {
            int sx = ox + (fx ? pw - 1 - x : x), sy = oy + (fy ? phh - 1 - y : y);
            memcpy(patch + ((size_t)y * pw + x) * 3, ph->rgb + ((size_t)sy * ph->w + sx) * 3, 3);
        }
    render_resize_rgb(patch, pw, phh, rgb, w, h);
    free(patch);
    double m[3] = {0, 0, 0};
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) m[k] += rgb[3 * i + k];
    for (int k = 0; k < 3; k++) m[k] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            rgb[3 * i + k] = (unsigned char)clampf((float)(m[k] + (rgb[3 * i + k] - m[k]) * var), 0, 255);
    return ICSTR_OK;
}

/* Mean colour of the output rectangle [x0,x1) x [y0,y1). */
void render_mean_colour(const unsigned char *rgb, int w, int h, int x0, int y0, int x1, int y1,
                        float out[3]) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    if (x1 <= x0 || y1 <= y0) {
        x0 = y0 = 0;
        x1 = w;
        y1 = h;
    }
    double s[3] = {0, 0, 0};
    long n = 0;
    int step = (x1 - x0) * (y1 - y0) > 4096 ? 2 : 1;
    for (int y = y0; y < y1; y += step)
        for (int x = x0; x < x1; x += step) {
            const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            s[0] += p[0];
            s[1] += p[1];
            s[2] += p[2];
            n++;
        }
    for (int k = 0; k < 3; k++) out[k] = (float)(s[k] / (double)(n ? n : 1));
}
