/* The renderer's geometry: text layout with stb_truetype in nominal units (one unit = the face's
 * ink height) and the warp F = H o C from nominal text to the warped plane: C bends the baseline
 * (y += A u^2, exact to invert because it keeps x), H is a homography built from stretch, shear,
 * rotation, keystones and corner jitter. */
#include "icstr_data.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void render_layout_text(const icstr_face *f, const char *text, float tracking, render_layout *L) {
    const stbtt_fontinfo *info = &f->info;
    float pen = 0, prev_cx = -1e9f;
    int prev = 0;
    L->n = (int)strlen(text);
    L->X0 = L->Y0 = 1e9f;
    L->X1 = L->Y1 = -1e9f;
    for (int i = 0; i < L->n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ') {
            L->glyph[i] = 0;
            L->pen[i] = L->ix0[i] = L->ix1[i] = pen;
            pen += f->space_adv + tracking;
            prev = 0;
            continue;
        }
        int g = f->glyph[c - 32];
        if (prev) pen += (float)stbtt_GetGlyphKernAdvance(info, prev, g) * f->unit;
        int adv, lsb, x0, y0, x1, y1;
        stbtt_GetGlyphHMetrics(info, g, &adv, &lsb);
        stbtt_GetGlyphBox(info, g, &x0, &y0, &x1, &y1);
        float a = (float)x0 * f->unit, b = (float)x1 * f->unit;
        /* keep box centres in reading order: overlapping swashes or tight tracking could
         * otherwise put a glyph's centre left of its predecessor's */
        float cx = pen + 0.5f * (a + b);
        if (cx < prev_cx + 0.05f) pen += prev_cx + 0.05f - cx;
        L->pen[i] = pen;
        L->glyph[i] = g;
        L->ix0[i] = pen + a;
        L->ix1[i] = pen + b;
        prev_cx = pen + 0.5f * (a + b);
        float top = f->ascent - (float)y1 * f->unit, bot = f->ascent - (float)y0 * f->unit;
        if (L->ix0[i] < L->X0) L->X0 = L->ix0[i];
        if (L->ix1[i] > L->X1) L->X1 = L->ix1[i];
        if (top < L->Y0) L->Y0 = top;
        if (bot > L->Y1) L->Y1 = bot;
        pen += (float)adv * f->unit + tracking;
        prev = g;
    }
    if (L->X0 > L->X1) { /* no ink at all (cannot happen: texts are trimmed) */
        L->X0 = 0;
        L->X1 = pen > 0.1f ? pen : 0.1f;
        L->Y0 = 0;
        L->Y1 = 1;
    }
}

static int solve8(double A[8][9]) {
    for (int c = 0; c < 8; c++) {
        int piv = c;
        for (int r = c + 1; r < 8; r++)
            if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
        if (fabs(A[piv][c]) < 1e-12) return -1;
        if (piv != c)
            for (int k = 0; k < 9; k++) {
                double t = A[c][k];
                A[c][k] = A[piv][k];
                A[piv][k] = t;
            }
        for (int r = 0; r < 8; r++) {
            if (r == c) continue;
            double f = A[r][c] / A[c][c];
            for (int k = c; k < 9; k++) A[r][k] -= f * A[c][k];
        }
    }
    return 0;
}

/* Homography taking src[i] to dst[i]; 0 on success. */
static int homography(const double src[4][2], const double dst[4][2], double h[9]) {
    double A[8][9];
    for (int i = 0; i < 4; i++) {
        double x = src[i][0], y = src[i][1], u = dst[i][0], v = dst[i][1];
        double r0[9] = {x, y, 1, 0, 0, 0, -x * u, -y * u, u};
        double r1[9] = {0, 0, 0, x, y, 1, -x * v, -y * v, v};
        memcpy(A[2 * i], r0, sizeof r0);
        memcpy(A[2 * i + 1], r1, sizeof r1);
    }
    if (solve8(A)) return -1;
    for (int i = 0; i < 8; i++) h[i] = A[i][8] / A[i][i];
    h[8] = 1;
    return 0;
}

static int invert3(const double m[9], double o[9]) {
    double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8];
    double A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
    double det = a * A + b * B + c * C;
    if (fabs(det) < 1e-15) return -1;
    double id = 1.0 / det;
    o[0] = A * id;
    o[1] = -(b * i - c * h) * id;
    o[2] = (b * f - c * e) * id;
    o[3] = B * id;
    o[4] = (a * i - c * g) * id;
    o[5] = -(a * f - c * d) * id;
    o[6] = C * id;
    o[7] = -(a * h - b * g) * id;
    o[8] = (a * e - b * d) * id;
    return 0;
}

void render_mat3_mul(const double a[9], const double b[9], double o[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            o[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

void render_warp_fwd(const render_warp *w, double x, double y, double *u, double *v) {
    double t = (x - w->cx) / w->ha;
    y += w->curve * t * t;
    const double *h = w->h;
    double z = h[6] * x + h[7] * y + h[8];
    if (fabs(z) < 1e-9) z = z < 0 ? -1e-9 : 1e-9;
    *u = (h[0] * x + h[1] * y + h[2]) / z;
    *v = (h[3] * x + h[4] * y + h[5]) / z;
}

/* Builds the warp of a word whose nominal line box is [X0, X1] x [0, 1]. */
void render_warp_build(const render_style *s, icstr_rng *r, float d_jit, float X0, float X1, render_warp *w) {
    double cx = 0.5 * (X0 + X1), cy = 0.5;
    double a = 0.5 * (X1 - X0), b = 0.5;
    if (a < 0.25) a = 0.25;
    w->cx = cx;
    w->ha = a;
    /* a bend of the same height reads as much stronger on a short word: scale by its length */
    double len_scale = a / 3.0 < 1.0 ? a / 3.0 : 1.0;
    w->curve = s->curve * len_scale;
    double rot = s->rot + d_jit * uni(r, -0.02f, 0.02f);
    double yaw = (s->yaw + d_jit * uni(r, -0.01f, 0.01f)) * 2 * a, pitch = s->pitch;
    if (yaw > 0.3) yaw = 0.3;
    if (yaw < -0.3) yaw = -0.3;
    double cs = cos(rot), sn = sin(rot);
    double src[4][2], dst[4][2];
    static const int sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
    for (int i = 0; i < 4; i++) {
        src[i][0] = cx + sx[i] * a;
        src[i][1] = cy + sy[i] * b;
        double x = sx[i] * a * (1 - pitch * sy[i]);
        double y = sy[i] * b * (1 + yaw * sx[i]);
        x *= s->stretch;
        x += s->shear * y;
        x += s->corner_jit * b * icstr_rng_normal(r);
        y += s->corner_jit * b * icstr_rng_normal(r);
        dst[i][0] = cx + cs * x - sn * y;
        dst[i][1] = cy + sn * x + cs * y;
    }
    if (homography(src, dst, w->h) || invert3(w->h, w->hi)) {
        static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(w->h, id, sizeof id);
        memcpy(w->hi, id, sizeof id);
    }
}

/* Bounding box of the nominal rectangle [x0,x1] x [y0,y1] after the warp (edges sampled, so the
 * curve's bulge is included). */
void render_warp_rect_bbox(const render_warp *w, double x0, double y0, double x1, double y1, int steps,
                           double bb[4]) {
    bb[0] = bb[1] = 1e30;
    bb[2] = bb[3] = -1e30;
    for (int i = 0; i <= steps; i++) {
        double x = x0 + (x1 - x0) * i / steps;
        for (int k = 0; k < 4; k++) {
            double px = k < 2 ? x : (k == 2 ? x0 : x1), py = k == 0   ? y0
                                                             : k == 1 ? y1
                                                                      : y0 + (y1 - y0) * i / steps;
            double u, v;
            render_warp_fwd(w, px, py, &u, &v);
            if (u < bb[0]) bb[0] = u;
            if (v < bb[1]) bb[1] = v;
            if (u > bb[2]) bb[2] = u;
            if (v > bb[3]) bb[3] = v;
        }
    }
}
