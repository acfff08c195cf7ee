/* Resampling a crop to the model's input size: area (box) averaging when an axis shrinks, so no
 * source pixel is skipped and thin strokes survive; bilinear when it grows. Separable: the
 * weights of each axis are computed once, then rows are filtered, then columns. */
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUT_SIDE 65536

/* For each output index i: taps start[i] .. start[i] + count[i] - 1 with weights
 * w[i * maxk + k]. */
typedef struct {
    int *start;
    int *count;
    float *w;
    int maxk;
} axis_taps;

static void taps_free(axis_taps *t) {
    free(t->start);
    free(t->count);
    free(t->w);
}

static int taps_make(int src, int dst, axis_taps *t) {
    memset(t, 0, sizeof *t);
    double scale = (double)src / dst;
    t->maxk = src > dst ? (int)ceil(scale) + 1 : 2;
    t->start = malloc((size_t)dst * sizeof *t->start);
    t->count = malloc((size_t)dst * sizeof *t->count);
    t->w = malloc((size_t)dst * (size_t)t->maxk * sizeof *t->w);
    if (!t->start || !t->count || !t->w) {
        taps_free(t);
        return icstr_fail(ICSTR_ERR_NOMEM, "resize: taps for %d -> %d", src, dst);
    }
    for (int i = 0; i < dst; i++) {
        float *w = t->w + (size_t)i * t->maxk;
        if (src == dst) {
            t->start[i] = i;
            t->count[i] = 1;
            w[0] = 1.0f;
        } else if (src > dst) {
            /* output i covers source [a, b); pixel j covers [j, j + 1) */
            double a = i * scale, b = (i + 1) * scale;
            int j0 = (int)floor(a), j1 = (int)ceil(b);
            if (j1 > src) j1 = src;
            if (j1 - j0 > t->maxk) j1 = j0 + t->maxk; /* cannot happen; guards the buffer */
            int k = 0;
            for (int j = j0; j < j1; j++) {
                double lo = a > j ? a : j, hi = b < j + 1 ? b : j + 1;
                w[k++] = (float)((hi - lo) / scale);
            }
            t->start[i] = j0;
            t->count[i] = k;
        } else {
            double x = (i + 0.5) * scale - 0.5;
            if (x < 0) x = 0;
            int j0 = (int)floor(x);
            if (j0 > src - 1) j0 = src - 1;
            float f = (float)(x - j0);
            t->start[i] = j0;
            if (j0 + 1 < src && f > 0) {
                t->count[i] = 2;
                w[0] = 1.0f - f;
                w[1] = f;
            } else {
                t->count[i] = 1;
                w[0] = 1.0f;
            }
        }
    }
    return ICSTR_OK;
}

/* Resamples img to dw x dh into dst, float RGB interleaved (dh, dw, 3), values in [0, 255]. */
static int resample(const icstr_image *img, int dw, int dh, float *dst) {
    int sw = img->w, sh = img->h, rc;
    axis_taps tx, ty;
    if ((rc = taps_make(sw, dw, &tx))) return rc;
    if ((rc = taps_make(sh, dh, &ty))) {
        taps_free(&tx);
        return rc;
    }
    size_t nt;
    float *tmp = NULL;
    if (!icstr_mul_size((size_t)sh * 3, (size_t)dw, &nt)) tmp = malloc(nt * sizeof *tmp);
    if (!tmp) {
        taps_free(&tx);
        taps_free(&ty);
        return icstr_fail(ICSTR_ERR_NOMEM, "resize: %d x %d -> %d x %d", sw, sh, dw, dh);
    }
    /* rows: (sh, sw, 3) bytes -> (sh, dw, 3) floats */
    for (int y = 0; y < sh; y++) {
        const unsigned char *row = img->rgb + (size_t)y * sw * 3;
        float *out = tmp + (size_t)y * dw * 3;
        for (int x = 0; x < dw; x++) {
            const float *w = tx.w + (size_t)x * tx.maxk;
            const unsigned char *p = row + (size_t)tx.start[x] * 3;
            float r = 0, g = 0, b = 0;
            for (int k = 0; k < tx.count[x]; k++, p += 3) {
                r += w[k] * p[0];
                g += w[k] * p[1];
                b += w[k] * p[2];
            }
            out[3 * x] = r;
            out[3 * x + 1] = g;
            out[3 * x + 2] = b;
        }
    }
    /* columns: (sh, dw, 3) -> (dh, dw, 3) */
    size_t stride = (size_t)dw * 3;
    for (int y = 0; y < dh; y++) {
        const float *w = ty.w + (size_t)y * ty.maxk;
        float *out = dst + (size_t)y * stride;
        const float *src0 = tmp + (size_t)ty.start[y] * stride;
        for (size_t i = 0; i < stride; i++) out[i] = w[0] * src0[i];
        for (int k = 1; k < ty.count[y]; k++) {
            const float *src = src0 + (size_t)k * stride;
            for (size_t i = 0; i < stride; i++) out[i] += w[k] * src[i];
        }
    }
    free(tmp);
    taps_free(&tx);
    taps_free(&ty);
    return ICSTR_OK;
}

static int check_args(const icstr_image *img, int w, int h, const void *out) {
    if (!img || !img->rgb || img->w < 1 || img->h < 1 || !out)
        return icstr_fail(ICSTR_ERR_ARG, "resize: NULL or empty image");
    if (w < 1 || h < 1 || w > MAX_OUT_SIDE || h > MAX_OUT_SIDE)
        return icstr_fail(ICSTR_ERR_ARG, "resize: output size %d x %d outside 1..%d", w, h,
                          MAX_OUT_SIDE);
    return ICSTR_OK;
}

int icstr_image_to_input(const icstr_image *img, int H, int W, float *chw) {
    int rc = check_args(img, W, H, chw);
    if (rc) return rc;
    size_t plane = (size_t)H * W;
    float *hwc = malloc(plane * 3 * sizeof *hwc);
    if (!hwc) return icstr_fail(ICSTR_ERR_NOMEM, "resize: %d x %d input", W, H);
    if ((rc = resample(img, W, H, hwc))) {
        free(hwc);
        return rc;
    }
    /* float weights summed over many taps can land a hair outside [0, 255] (a 3584-wide row of
     * white gave 255.00009): clamp, so the input stays within the promised [-1, 1] */
    for (size_t i = 0; i < plane * 3; i++) hwc[i] = hwc[i] < 0 ? 0 : hwc[i] > 255 ? 255 : hwc[i];
    for (size_t i = 0; i < plane; i++) {
        chw[i] = hwc[3 * i] / 127.5f - 1.0f;
        chw[plane + i] = hwc[3 * i + 1] / 127.5f - 1.0f;
        chw[2 * plane + i] = hwc[3 * i + 2] / 127.5f - 1.0f;
    }
    free(hwc);
    return ICSTR_OK;
}

int icstr_image_resize(const icstr_image *img, int w, int h, icstr_image *out) {
    int rc = check_args(img, w, h, out);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    size_t n = (size_t)w * h * 3;
    float *hwc = malloc(n * sizeof *hwc);
    if (!hwc) return icstr_fail(ICSTR_ERR_NOMEM, "resize: %d x %d", w, h);
    if ((rc = resample(img, w, h, hwc)) || (rc = icstr_image_alloc(w, h, NULL, out))) {
        free(hwc);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        float v = hwc[i] + 0.5f;
        out->rgb[i] = (unsigned char)(v <= 0 ? 0 : v >= 255 ? 255 : v);
    }
    free(hwc);
    return ICSTR_OK;
}
