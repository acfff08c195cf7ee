/* Long text lines: where to cut a crop that is much wider than the model's input (a receipt
 * line, a sign with several words) so that each piece is read at a legible size. The model sees
 * every crop squeezed to 32 x 128 pixels; a line of 25 characters would leave 5 pixels a
 * character. Cuts go only through blank column runs at least min_gap heights wide (the gaps
 * between words), never through ink, and pieces are kept at most piece_aspect heights wide
 * where the gaps allow. For the reader, a piece still wider (a long word, or words set closer
 * than min_gap) is cut again at the narrower blank runs between its letters (fine_gap); a
 * labelled crop (a pool's record) is cut at word gaps only, so its words can be told to its
 * pieces. */
#include "icstr_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

icstr_line_split_params icstr_line_split_default_params(void) {
    icstr_line_split_params p = {3.6f, 3.5f, 0.25f, 8.0f, 0.15f};
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

/* The ink per column of img (w ints, zeroed by the caller), the most ink a blank column may
 * hold (h/32: speckle of a scan) and the first and last inked columns. Returns 0 when the crop
 * has no contrast to tell ink by or no inked column, 1 otherwise, or ICSTR_ERR_NOMEM. */
static int column_ink(const icstr_image *img, int *ink, int *blank_max, int *first, int *last) {
    int w = img->w, h = img->h;
    size_t n = (size_t)w * h;
    unsigned char *grey = malloc(n);
    if (!grey) return icstr_fail(ICSTR_ERR_NOMEM, "line split: %d x %d", w, h);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *px = img->rgb + 3 * i;
        grey[i] = (unsigned char)((px[0] + px[1] + px[2]) / 3);
    }
    int dark = 1, thr = 0, contrast = ink_threshold(grey, w, h, &dark, &thr);
    for (int y = 0; contrast && y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = grey[(size_t)y * w + x];
            ink[x] += dark ? v <= thr : v > thr;
        }
    free(grey);
    *blank_max = h / 32;
    *first = *last = -1;
    for (int x = 0; contrast && x < w; x++)
        if (ink[x] > *blank_max) {
            if (*first < 0) *first = x;
            *last = x;
        }
    return *first >= 0;
}

/* The centres of the blank column runs at least gap columns wide that lie between inked columns
 * of [from, to), left to right, into cut. Returns how many. */
static int blank_run_cuts(const int *ink, int blank_max, int from, int to, float gap, int *cut) {
    while (from < to && ink[from] <= blank_max) from++;
    while (to > from && ink[to - 1] <= blank_max) to--;
    int n = 0;
    for (int x = from; x < to;) {
        if (ink[x] > blank_max) {
            x++;
            continue;
        }
        int s = x;
        while (x < to && ink[x] <= blank_max) x++;
        if ((float)(x - s) >= gap) cut[n++] = (s + x) / 2;
    }
    return n;
}

/* Checks the arguments and says whether img is wide enough to be cut at all. */
static int splittable(const icstr_image *img, const icstr_line_split_params *p, int *x0, int *x1, int max_pieces) {
    if (!img || !img->rgb || img->w < 1 || img->h < 1 || !p || !x0 || !x1 || max_pieces < 1)
        return icstr_fail(ICSTR_ERR_ARG, "line split: bad arguments");
    x0[0] = 0;
    x1[0] = img->w;
    return p->split_aspect > 0.0f && (float)img->w > p->split_aspect * (float)img->h && max_pieces > 1;
}

/* Greedy over the cuts (left to right) within [from, to): each piece runs to the farthest cut
 * that keeps it within span columns, or, when a word alone is wider, to the next cut. Piece i
 * ends at cut end_cut[i] (the last piece at `to`: n_cuts). Returns the number of pieces. */
static int group_cuts(const int *cut, int n_cuts, int from, int to, float span, int *x0, int *x1, int *end_cut,
                      int max_pieces) {
    int start = from, j = 0, pieces = 0;
    while (pieces < max_pieces - 1 && (float)(to - start) > span) {
        while (j < n_cuts && cut[j] <= start) j++;
        if (j == n_cuts) break;
        int pick = j;
        while (pick + 1 < n_cuts && (float)(cut[pick + 1] - start) <= span) pick++;
        x0[pieces] = start;
        x1[pieces] = cut[pick];
        end_cut[pieces++] = pick;
        start = cut[pick];
        j = pick + 1;
    }
    x0[pieces] = start;
    x1[pieces] = to;
    end_cut[pieces++] = n_cuts;
    return pieces;
}

/* The reader's second pass: a piece still wider than span (a word too long for one piece, or
 * words whose gaps are narrower than min_gap) is cut again at the blank runs at least fine_gap
 * heights wide inside it (the gaps between letters), grouped as the first pass groups, as far
 * as max_pieces allows; glued (NULL: not wanted) gets 1 for a piece that begins at such a cut,
 * 0 for the others. Returns the number of pieces. */
static int refine_wide_pieces(const int *ink, int blank_max, int h, const icstr_line_split_params *p, float span,
                              int *x0, int *x1, int pieces, int max_pieces, int *cut, unsigned char *glued) {
    int in0[ICSTR_LINE_MAX_PIECES], in1[ICSTR_LINE_MAX_PIECES], end_cut[ICSTR_LINE_MAX_PIECES], out = 0;
    memcpy(in0, x0, (size_t)pieces * sizeof *in0);
    memcpy(in1, x1, (size_t)pieces * sizeof *in1);
    for (int i = 0; i < pieces; i++) {
        int room = max_pieces - out - (pieces - 1 - i), k = 1;
        x0[out] = in0[i];
        x1[out] = in1[i];
        if (room > 1 && (float)(in1[i] - in0[i]) > span) {
            int n_cuts = blank_run_cuts(ink, blank_max, in0[i], in1[i], p->fine_gap * (float)h, cut);
            k = group_cuts(cut, n_cuts, in0[i], in1[i], span, x0 + out, x1 + out, end_cut, room);
        }
        for (int j = 0; glued && j < k; j++) glued[out + j] = j > 0;
        out += k;
    }
    return out;
}

/* The cuts of a splittable img, grouped into pieces (x0, x1, end_cut as group_cuts); *n_cuts
 * gets how many cut candidates there were. With refine (the reader's cuts, not a labelled
 * crop's), pieces still too wide are cut again (refine_wide_pieces, which sets glued; end_cut
 * is then not set). Returns the number of pieces (1 without candidates) or ICSTR_ERR_NOMEM. */
static int cut_and_group(const icstr_image *img, const icstr_line_split_params *p, int *x0, int *x1, int *end_cut,
                         int max_pieces, int *n_cuts, int refine, unsigned char *glued) {
    int *ink = calloc((size_t)img->w, sizeof *ink), *cut = malloc((size_t)img->w * sizeof *cut);
    int blank_max = 0, first = -1, last = -1;
    int rc = ink && cut ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "line split: %d columns", img->w);
    if (!rc) rc = column_ink(img, ink, &blank_max, &first, &last);
    *n_cuts = 0;
    if (rc > 0) {
        int room = max_pieces < ICSTR_LINE_MAX_PIECES ? max_pieces : ICSTR_LINE_MAX_PIECES;
        float span = (p->piece_aspect > 0.0f ? p->piece_aspect : p->split_aspect) * (float)img->h;
        *n_cuts = blank_run_cuts(ink, blank_max, first, last + 1, p->min_gap * (float)img->h, cut);
        rc = group_cuts(cut, *n_cuts, 0, img->w, span, x0, x1, end_cut, room);
        if (refine && p->fine_gap > 0.0f && p->fine_gap < p->min_gap)
            rc = refine_wide_pieces(ink, blank_max, img->h, p, span, x0, x1, rc, room, cut, glued);
    } else if (rc == 0) {
        rc = 1;
    }
    free(ink);
    free(cut);
    return rc;
}

int icstr_line_split(const icstr_image *img, const icstr_line_split_params *p, int *x0, int *x1, int max_pieces,
                     unsigned char *glued) {
    int rc = splittable(img, p, x0, x1, max_pieces), end_cut[ICSTR_LINE_MAX_PIECES], n_cuts;
    if (glued && max_pieces > 0) memset(glued, 0, (size_t)max_pieces);
    if (rc <= 0) return rc < 0 ? rc : 1;
    return cut_and_group(img, p, x0, x1, end_cut, max_pieces, &n_cuts, 1, glued);
}

int icstr_line_split_labelled(const icstr_image *img, const char *label, const icstr_line_split_params *p, int *x0,
                              int *x1, char *labels, int cap, int max_pieces) {
    if (!label || !labels || cap < 1) return icstr_fail(ICSTR_ERR_ARG, "line split: bad arguments");
    int rc = splittable(img, p, x0, x1, max_pieces);
    if (rc < 0) return rc;
    /* the words: maximal runs of non-spaces */
    int n_words = 0, word_at[ICSTR_LINE_MAX_WORDS], word_len[ICSTR_LINE_MAX_WORDS];
    for (int i = 0; label[i];) {
        if (label[i] == ' ') {
            i++;
            continue;
        }
        int s = i;
        while (label[i] && label[i] != ' ') i++;
        if (n_words == ICSTR_LINE_MAX_WORDS) {
            n_words = 0; /* too many words to match with gaps: whole */
            break;
        }
        word_at[n_words] = s;
        word_len[n_words++] = i - s;
    }
    int pieces = 1;
    if (rc && n_words > 1) {
        int end_cut[ICSTR_LINE_MAX_PIECES], n_cuts;
        pieces = cut_and_group(img, p, x0, x1, end_cut, max_pieces, &n_cuts, 0, NULL);
        if (pieces < 0) return pieces;
        /* only when every gap is one space of the label can the words be told to the pieces */
        if (n_cuts != n_words - 1) pieces = 1;
        for (int j = 0, wd = 0; j < pieces && pieces > 1; j++) {
            char *out = labels + (size_t)j * cap;
            int len = 0;
            for (; wd <= end_cut[j] && wd < n_words; wd++) {
                if (len + (len > 0) + word_len[wd] >= cap) {
                    pieces = 1; /* a piece's label would not fit: whole */
                    break;
                }
                if (len) out[len++] = ' ';
                memcpy(out + len, label + word_at[wd], (size_t)word_len[wd]);
                len += word_len[wd];
            }
            out[len] = 0;
        }
    }
    if (pieces == 1) {
        x0[0] = 0;
        x1[0] = img->w;
        snprintf(labels, (size_t)cap, "%s", label);
    }
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

size_t icstr_line_join(const char *const *texts, const unsigned char *glued, int count, char *out, size_t cap) {
    size_t len = 0;
    int gap = 0; /* some cut since the last reading written was between words */
    if (!cap) return 0;
    out[0] = 0;
    for (int j = 0; j < count; j++) {
        const char *t = texts[j];
        size_t n = strlen(t);
        while (n && t[0] == ' ') t++, n--;
        while (n && t[n - 1] == ' ') n--;
        if (!glued || !glued[j]) gap = 1;
        if (!n) continue;
        if (len && gap && len + 1 < cap) out[len++] = ' ';
        gap = 0;
        if (len + n >= cap) { /* too long: cut before the first UTF-8 sequence that does not fit */
            n = cap - 1 - len;
            while (n && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
        }
        memcpy(out + len, t, n);
        len += n;
        out[len] = 0;
    }
    return len;
}
