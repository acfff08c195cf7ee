/* Contact sheets: a grid of crops, each with its label (and for misreads the prediction) written
 * under it with stb_easy_font, for eyeballing datasets, renders and recognizer errors. */
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

/* stb_easy_font is all static functions and tables; some of them go unused here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#define TEXT_MAX 256    /* characters drawn per line at most */
#define LINE_PX 12      /* stb_easy_font line height at scale 1 */
#define PAD 4
#define SHEET_MAX_PIXELS ((int64_t)64 * 1024 * 1024)

/* The text as easy_font can draw it: printable ASCII, anything else one '?' per code point. */
static void to_ascii(const char *utf8, char *out, size_t cap) {
    size_t n = utf8 ? strlen(utf8) : 0, i = 0, o = 0;
    while (i < n && o + 1 < cap) {
        unsigned cp;
        i += icstr_utf8_next(utf8 + i, n - i, &cp);
        out[o++] = (cp >= 32 && cp < 127) ? (char)cp : '?';
    }
    out[o] = 0;
}

void icstr_text_size(const char *utf8, int scale, int *w, int *h) {
    char text[TEXT_MAX + 1];
    to_ascii(utf8, text, sizeof text);
    if (scale < 1) scale = 1;
    if (w) *w = stb_easy_font_width(text) * scale;
    if (h) *h = LINE_PX * scale;
}

static void fill_rect(icstr_image *img, int x0, int y0, int x1, int y1, const unsigned char c[3]) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->w) x1 = img->w;
    if (y1 > img->h) y1 = img->h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) memcpy(img->rgb + ((size_t)y * img->w + x) * 3, c, 3);
}

int icstr_draw_text(icstr_image *img, int x, int y, const char *utf8, int scale,
                    const unsigned char rgb[3]) {
    if (!img || !img->rgb || !utf8) return 0;
    static const unsigned char black[3] = {0, 0, 0};
    const unsigned char *c = rgb ? rgb : black;
    if (scale < 1) scale = 1;
    char text[TEXT_MAX + 1];
    to_ascii(utf8, text, sizeof text);
    /* glyph by glyph, so that a small buffer always holds one glyph's quads */
    float vbuf[1024]; /* 64 quads; the busiest glyph has fewer than 20 */
    int pen = 0;
    for (char *t = text; *t; t++) {
        char one[2] = {*t, 0};
        int quads = stb_easy_font_print(0, 0, one, NULL, vbuf, (int)sizeof vbuf);
        for (int q = 0; q < quads; q++) {
            const float *v0 = vbuf + q * 16; /* 4 vertices of 4 floats (x, y, z, rgba) */
            const float *v2 = v0 + 8;
            int qx0 = pen + (int)v0[0], qy0 = (int)v0[1], qx1 = pen + (int)v2[0], qy1 = (int)v2[1];
            fill_rect(img, x + qx0 * scale, y + qy0 * scale, x + qx1 * scale, y + qy1 * scale, c);
        }
        pen += stb_easy_font_width(one);
    }
    return pen * scale;
}

icstr_sheet_params icstr_sheet_default_params(void) {
    icstr_sheet_params p = {4, 256, 64, 1, 0};
    return p;
}

struct icstr_sheet {
    icstr_sheet_params p;
    int n_cells, used, pitch_w, pitch_h;
    icstr_image img;
};

int icstr_sheet_create(const icstr_sheet_params *params, int n_cells, icstr_sheet **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "sheet: NULL out");
    *out = NULL;
    icstr_sheet_params p = params ? *params : icstr_sheet_default_params();
    if (p.cols < 1 || p.cell_w < 8 || p.cell_h < 8 || p.cell_w > 4096 || p.cell_h > 4096 ||
        p.lines < 1 || p.lines > 2 || n_cells < 1)
        return icstr_fail(ICSTR_ERR_ARG,
                          "sheet: bad parameters (cols %d, cell %d x %d, lines %d, cells %d)",
                          p.cols, p.cell_w, p.cell_h, p.lines, n_cells);
    int cols = n_cells < p.cols ? n_cells : p.cols;
    int rows = (n_cells + p.cols - 1) / p.cols;
    int pitch_w = p.cell_w + 2 * PAD, pitch_h = p.cell_h + PAD + p.lines * 2 * LINE_PX + PAD;
    int64_t W = (int64_t)cols * pitch_w + PAD, H = (int64_t)rows * pitch_h + PAD;
    if (W * H > SHEET_MAX_PIXELS || W > 65535 || H > 65535)
        return icstr_fail(ICSTR_ERR_LIMIT, "sheet: %lld x %lld pixels is too big", (long long)W,
                          (long long)H);
    icstr_sheet *s = calloc(1, sizeof *s);
    if (!s) return icstr_fail(ICSTR_ERR_NOMEM, "sheet");
    static const unsigned char bg[3] = {255, 255, 255};
    int rc = icstr_image_alloc((int)W, (int)H, bg, &s->img);
    if (rc) {
        free(s);
        return rc;
    }
    s->p = p;
    s->n_cells = n_cells;
    s->pitch_w = pitch_w;
    s->pitch_h = pitch_h;
    *out = s;
    return ICSTR_OK;
}

/* Draws text centred under a cell: scale 2 if it fits, else 1, else cut with "..". */
static void cell_text(icstr_image *img, int x, int y, int width, const char *text,
                      const unsigned char c[3]) {
    char buf[TEXT_MAX + 1];
    to_ascii(text, buf, sizeof buf);
    int scale = 2, w;
    icstr_text_size(buf, 2, &w, NULL);
    if (w > width) {
        scale = 1;
        icstr_text_size(buf, 1, &w, NULL);
    }
    size_t n = strlen(buf);
    while (w > width && n > 2) {
        n--;
        buf[n - 2] = '.';
        buf[n - 1] = '.';
        buf[n] = 0;
        icstr_text_size(buf, 1, &w, NULL);
    }
    icstr_draw_text(img, x + (width - w) / 2, y + (scale == 1 ? LINE_PX / 2 : 0), buf, scale, c);
}

int icstr_sheet_add(icstr_sheet *s, const icstr_image *img, const char *text, const char *text2) {
    if (!s) return icstr_fail(ICSTR_ERR_ARG, "sheet: NULL sheet");
    if (s->used >= s->n_cells)
        return icstr_fail(ICSTR_ERR_RANGE, "sheet: all %d cells are used", s->n_cells);
    int col = s->used % s->p.cols, row = s->used / s->p.cols;
    int x0 = PAD + col * s->pitch_w + PAD, y0 = PAD + row * s->pitch_h;
    int cw = s->p.cell_w, ch = s->p.cell_h;
    static const unsigned char grey[3] = {200, 200, 200}, frame[3] = {150, 150, 150};
    fill_rect(&s->img, x0 - 1, y0 - 1, x0 + cw + 1, y0 + ch + 1, frame);
    if (img && img->rgb && img->w > 0 && img->h > 0) {
        int tw = cw, th = ch;
        if (s->p.keep_aspect) {
            /* fit inside the cell, keeping the aspect */
            if ((int64_t)img->w * ch > (int64_t)img->h * cw) {
                th = (int)((int64_t)img->h * cw / img->w);
                th = th < 1 ? 1 : th;
            } else {
                tw = (int)((int64_t)img->w * ch / img->h);
                tw = tw < 1 ? 1 : tw;
            }
        }
        icstr_image r;
        int rc = icstr_image_resize(img, tw, th, &r);
        if (rc) return rc;
        static const unsigned char white[3] = {255, 255, 255};
        fill_rect(&s->img, x0, y0, x0 + cw, y0 + ch, white);
        int ox = x0 + (cw - tw) / 2, oy = y0 + (ch - th) / 2;
        for (int y = 0; y < th; y++)
            memcpy(s->img.rgb + ((size_t)(oy + y) * s->img.w + ox) * 3,
                   r.rgb + (size_t)y * tw * 3, (size_t)tw * 3);
        icstr_image_free(&r);
    } else {
        fill_rect(&s->img, x0, y0, x0 + cw, y0 + ch, grey);
        for (int t = 0; t < cw; t++) { /* a cross: no image here */
            int y = y0 + (int)((int64_t)t * (ch - 1) / (cw > 1 ? cw - 1 : 1));
            fill_rect(&s->img, x0 + t, y, x0 + t + 1, y + 1, frame);
            fill_rect(&s->img, x0 + t, y0 + ch - 1 - (y - y0), x0 + t + 1, y0 + ch - (y - y0), frame);
        }
    }
    static const unsigned char black[3] = {0, 0, 0}, red[3] = {190, 0, 0};
    int ty = y0 + ch + PAD;
    if (text) cell_text(&s->img, x0, ty, cw, text, black);
    if (text2 && s->p.lines >= 2) cell_text(&s->img, x0, ty + 2 * LINE_PX, cw, text2, red);
    s->used++;
    return ICSTR_OK;
}

const icstr_image *icstr_sheet_image(const icstr_sheet *s) { return s ? &s->img : NULL; }

int icstr_sheet_write_png(const icstr_sheet *s, const char *path) {
    if (!s) return icstr_fail(ICSTR_ERR_ARG, "sheet: NULL sheet");
    return icstr_image_write_png(path, s->img.w, s->img.h, 3, s->img.rgb);
}

void icstr_sheet_free(icstr_sheet *s) {
    if (!s) return;
    icstr_image_free(&s->img);
    free(s);
}
