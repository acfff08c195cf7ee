/* Views of a crop (image.h): the rectangle of it the model reads. */
#include "icstr_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

icstr_view icstr_view_full(void) {
    icstr_view v = {0.0f, 1.0f, 0.0f, 1.0f};
    return v;
}

int icstr_view_equal(const icstr_view *a, const icstr_view *b) {
    return a->top == b->top && a->bottom == b->bottom && a->left == b->left && a->right == b->right;
}

int icstr_view_is_full(const icstr_view *v) {
    icstr_view f = icstr_view_full();
    return icstr_view_equal(v, &f);
}

static int side_ok(float a, float b) {
    return isfinite(a) && isfinite(b) && a >= 0.0f && b <= 1.0f && b - a >= ICSTR_VIEW_MIN;
}

int icstr_view_check(const icstr_view *v) {
    if (!v) return icstr_fail(ICSTR_ERR_ARG, "view: NULL");
    if (!side_ok(v->top, v->bottom))
        return icstr_fail(ICSTR_ERR_ARG, "view: rows %g..%g are not within 0..1 with at least %g kept", v->top,
                          v->bottom, ICSTR_VIEW_MIN);
    if (!side_ok(v->left, v->right))
        return icstr_fail(ICSTR_ERR_ARG, "view: columns %g..%g are not within 0..1 with at least %g kept", v->left,
                          v->right, ICSTR_VIEW_MIN);
    return ICSTR_OK;
}

int icstr_view_parse(const char *s, icstr_view *v) {
    if (!s || !v) return icstr_fail(ICSTR_ERR_ARG, "view: NULL");
    if (!strcmp(s, "full")) {
        *v = icstr_view_full();
        return ICSTR_OK;
    }
    float f[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *end;
        f[i] = strtof(p, &end);
        if (end == p || (i < 3 && *end != ',') || (i == 3 && *end)) {
            return icstr_fail(ICSTR_ERR_ARG, "view '%.80s': want TOP,BOTTOM,LEFT,RIGHT (fractions, e.g. "
                              "0.15,0.85,0,1) or full", s);
        }
        p = end + 1;
    }
    icstr_view w = {f[0], f[1], f[2], f[3]};
    int rc = icstr_view_check(&w);
    if (rc) return icstr_fail_context(rc, "view '%.80s'", s);
    *v = w;
    return ICSTR_OK;
}

/* the shortest %g that reads back as f */
static void shortest(float f, char *out, size_t cap) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, cap, "%.*g", prec, (double)f);
        if (strtof(out, NULL) == f) return;
    }
}

void icstr_view_format(const icstr_view *v, char *out) {
    if (icstr_view_is_full(v)) {
        snprintf(out, ICSTR_VIEW_TEXT, "full");
        return;
    }
    char a[4][16];
    const float f[4] = {v->top, v->bottom, v->left, v->right};
    for (int i = 0; i < 4; i++) shortest(f[i], a[i], sizeof a[i]);
    snprintf(out, ICSTR_VIEW_TEXT, "%s,%s,%s,%s", a[0], a[1], a[2], a[3]);
}

/* [first, end) of the span lo..hi of n pixels, at least one pixel */
static void span(float lo, float hi, int n, int *first, int *end) {
    int a = (int)floorf(lo * (float)n), b = (int)ceilf(hi * (float)n);
    if (a < 0) a = 0;
    if (b > n) b = n;
    if (a > n - 1) a = n - 1;
    if (b <= a) b = a + 1;
    *first = a;
    *end = b;
}

int icstr_image_view(const icstr_image *img, const icstr_view *v, icstr_image *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!img || !img->rgb || img->w < 1 || img->h < 1 || !out) return icstr_fail(ICSTR_ERR_ARG, "view: NULL or empty image");
    int rc = icstr_view_check(v);
    if (rc) return rc;
    int y0, y1, x0, x1;
    span(v->top, v->bottom, img->h, &y0, &y1);
    span(v->left, v->right, img->w, &x0, &x1);
    return icstr_image_crop(img, x0, y0, x1 - x0, y1 - y0, out);
}

int icstr_image_view_to_input(const icstr_image *img, const icstr_view *v, int H, int W, float *chw) {
    if (!v || icstr_view_is_full(v)) return icstr_image_to_input(img, H, W, chw);
    icstr_image part;
    int rc = icstr_image_view(img, v, &part);
    if (!rc) rc = icstr_image_to_input(&part, H, W, chw);
    icstr_image_free(&part);
    return rc;
}
