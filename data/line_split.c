/* Long text lines: where to cut a crop that is much wider than the model's input (a receipt
 * line, a sign with several words) so that each piece is read at a legible size. The model sees
 * every crop squeezed to 32 x 128 pixels; a line of 25 characters would leave 5 pixels a
 * character. Cuts go only through blank column runs at least min_gap heights wide (the gaps
 * between words), never through ink, and pieces are kept at most piece_aspect heights wide
 * where the gaps allow (a single word wider than that stays whole). */
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

icstr_line_split_params icstr_line_split_default_params(void) {
    icstr_line_split_params p = {4.5f, 3.5f, 0.25f, 8.0f};
    return p;
}

/* Which grey values are ink: Otsu's threshold splits the histogram in two classes, and the
 * background is the class that holds most of the border (the first and last rows and columns),
 * so that a crop mostly covered by bold text is still told right. Returns 0 when the classes'
 * means are too close to tell ink from background. */
static int ink_threshold(const unsigned char *grey, int w, int h, int *dark, int *thr) {
    double hist[256] = {0}, n = (double)w * h, total = 0.0;
    for (size_t i = 0; i < (size_t)w * h; i++) hist[grey[i]]++;
    for (int v = 0; v < 256; v++) total += v * hist[v];
    double best = -1.0, below_n = 0.0, below_sum = 0.0, mean_lo = 0.0, mean_hi = 0.0;
    for (int t = 0; t < 255; t++) { /* class "low" is v <= t */
        below_n += hist[t];
        below_sum += t * hist[t];
        if (below_n == 0.0 || below_n == n) continue;
        double m0 = below_sum / below_n, m1 = (total - below_sum) / (n - below_n);
        double between = below_n * (n - below_n) * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            *thr = t;
            mean_lo = m0;
            mean_hi = m1;
        }
    }
    if (best < 0.0 || mean_hi - mean_lo < 24.0) return 0;
    long border = 0, border_low = 0;
    for (int x = 0; x < w; x++) {
        border_low += (grey[x] <= *thr) + (grey[(size_t)(h - 1) * w + x] <= *thr);
        border += 2;
    }
    for (int y = 0; y < h; y++) {
        border_low += (grey[(size_t)y * w] <= *thr) + (grey[(size_t)y * w + w - 1] <= *thr);
        border += 2;
    }
    *dark = 2 * border_low < border; /* a light border: the ink is the dark class */
    /* ink: 65% of the way from the background's mean to the ink's (the blur around strokes is
     * not ink, so that the gaps between words stay blank) */
    const double f = 0.65;
    *thr = *dark ? (int)(mean_hi - f * (mean_hi - mean_lo)) : (int)(mean_lo + f * (mean_hi - mean_lo));
    return 1;
}

int icstr_line_split(const icstr_image *img, const icstr_line_split_params *p, int *x0, int *x1, int max_pieces) {
    if (!img || !img->rgb || img->w < 1 || img->h < 1 || !p || !x0 || !x1 || max_pieces < 1)
        return icstr_fail(ICSTR_ERR_ARG, "line split: bad arguments");
    int w = img->w, h = img->h;
    x0[0] = 0;
    x1[0] = w;
    if (p->split_aspect <= 0.0f || (float)w <= p->split_aspect * (float)h || max_pieces == 1) return 1;

    size_t n = (size_t)w * h;
    unsigned char *grey = malloc(n);
    int *ink = calloc((size_t)w, sizeof *ink), *cut = malloc((size_t)w * sizeof *cut);
    if (!grey || !ink || !cut) {
        free(grey);
        free(ink);
        free(cut);
        return icstr_fail(ICSTR_ERR_NOMEM, "line split: %d x %d", w, h);
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *px = img->rgb + 3 * i;
        grey[i] = (unsigned char)((px[0] + px[1] + px[2]) / 3);
    }
    int dark = 1, thr = 0, pieces = 1;
    if (!ink_threshold(grey, w, h, &dark, &thr)) goto done;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = grey[(size_t)y * w + x];
            ink[x] += dark ? v <= thr : v > thr;
        }
    /* a column is blank with at most h/32 ink pixels (speckle of a scan) */
    int blank_max = h / 32, first = -1, last = -1;
    for (int x = 0; x < w; x++)
        if (ink[x] > blank_max) {
            if (first < 0) first = x;
            last = x;
        }
    if (first < 0) goto done;

    /* the cut candidates: centres of the interior blank runs at least min_gap heights wide */
    int n_cuts = 0;
    float min_gap = p->min_gap * (float)h;
    for (int x = first; x <= last;) {
        if (ink[x] > blank_max) {
            x++;
            continue;
        }
        int s = x;
        while (x <= last && ink[x] <= blank_max) x++;
        if ((float)(x - s) >= min_gap) cut[n_cuts++] = (s + x) / 2;
    }

    /* greedy: each piece runs to the farthest cut that keeps it within piece_aspect heights,
     * or, when a word alone is wider, to the next cut */
    float span = (p->piece_aspect > 0.0f ? p->piece_aspect : p->split_aspect) * (float)h;
    int start = 0, j = 0;
    pieces = 0;
    while (pieces < max_pieces - 1 && (float)(w - start) > span) {
        while (j < n_cuts && cut[j] <= start) j++;
        if (j == n_cuts) break;
        int pick = j;
        while (pick + 1 < n_cuts && (float)(cut[pick + 1] - start) <= span) pick++;
        x0[pieces] = start;
        x1[pieces] = cut[pick];
        pieces++;
        start = cut[pick];
        j = pick + 1;
    }
    x0[pieces] = start;
    x1[pieces] = w;
    pieces++;
done:
    free(grey);
    free(ink);
    free(cut);
    return pieces;
}

int icstr_image_crop(const icstr_image *img, int x, int y, int w, int h, icstr_image *out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "image crop: NULL out");
    memset(out, 0, sizeof *out);
    if (!img || !img->rgb || x < 0 || y < 0 || w < 1 || h < 1 || x > img->w - w || y > img->h - h)
        return icstr_fail(ICSTR_ERR_ARG, "image crop: %d x %d at (%d, %d) outside %d x %d", w, h, x, y,
                          img ? img->w : 0, img ? img->h : 0);
    int rc = icstr_image_alloc(w, h, NULL, out);
    if (rc) return rc;
    for (int r = 0; r < h; r++)
        memcpy(out->rgb + (size_t)r * w * 3, img->rgb + ((size_t)(y + r) * img->w + x) * 3, (size_t)w * 3);
    return ICSTR_OK;
}
