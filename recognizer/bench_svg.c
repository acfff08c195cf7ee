/* SVG plots for `icstr bench report`, built as text (see bench_svg.h). */
#include "bench_svg.h"
#include "icstr_core.h"

#include <math.h>
#include <string.h>

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
#define N_PALETTE ((int)(sizeof palette / sizeof *palette))

enum { PANEL_W = 330, PANEL_H = 260, ML = 52, MR = 16, MT = 30, MB = 42, TITLE_H = 34, LEGEND_ROW = 20 };

void icstr_svg_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void header(FILE *f, int w, int h, const char *title) {
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" font-size=\"16\" text-anchor=\"middle\" font-weight=\"bold\">",
            w, h, w, h, w / 2);
    icstr_svg_text(f, title);
    fputs("</text>\n", f);
}

/* Legend entries laid out in rows across the width; returns the rows used. */
static int legend(FILE *f, int w, int y0, int n_series, const char *const *names) {
    int x = 12, row = 0;
    for (int s = 0; s < n_series; s++) {
        int tw = 22 + 7 * (int)strlen(names[s]) + 16;
        if (x + tw > w - 8 && x > 12) {
            x = 12;
            row++;
        }
        int y = y0 + row * LEGEND_ROW;
        fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/>", x + 6, y - 4, palette[s % N_PALETTE]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", x + 16, y);
        icstr_svg_text(f, names[s]);
        fputs("</text>\n", f);
        x += tw;
    }
    return n_series ? row + 1 : 0;
}

/* A "nice" tick step for a range split in about n parts: 1, 2 or 5 times a power of ten. */
static double nice_step(double range, int n) {
    double raw = range / n, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void fmt_num(char *out, size_t cap, double v) {
    if (fabs(v) >= 100 || v == floor(v)) snprintf(out, cap, "%.0f", v);
    else if (fabs(v) >= 1) snprintf(out, cap, "%.1f", v);
    else snprintf(out, cap, "%.2g", v);
}

int icstr_svg_scatter_panels(FILE *f, const char *title, const char *x_label, const char *y_label, int n_panels,
                             const char *const *panel_titles, int n_series, const char *const *series_names,
                             const icstr_svg_point *pts, int n_pts) {
    if (!f || n_panels < 1 || n_series < 0 || (n_pts && !pts)) return icstr_fail(ICSTR_ERR_ARG, "scatter plot");
    double xmin = INFINITY, xmax = -INFINITY, ymin = 1.0;
    for (int i = 0; i < n_pts; i++) {
        if (pts[i].x <= 0) continue;
        if (pts[i].x < xmin) xmin = pts[i].x;
        if (pts[i].x > xmax) xmax = pts[i].x;
        if (pts[i].y < ymin) ymin = pts[i].y;
    }
    if (!(xmin <= xmax)) xmin = 1, xmax = 10;
    double lx0 = floor(log10(xmin)), lx1 = ceil(log10(xmax));
    if (lx1 <= lx0) lx1 = lx0 + 1;
    double y0 = floor(ymin * 10.0) / 10.0;
    if (y0 > 0.5) y0 = 0.5;
    if (y0 < 0) y0 = 0;
    if (1.0 - y0 > 0.6) y0 = floor(y0 * 5.0 + 1e-9) / 5.0; /* the grid steps by 0.2 then */
    int cols = n_panels < 3 ? n_panels : 3, rows = (n_panels + cols - 1) / cols;
    int W = cols * PANEL_W;
    /* Legend height depends on the layout: draw it into a scratch pass first to count rows. */
    FILE *null = fopen("/dev/null", "w");
    int lrows = null ? legend(null, W, 0, n_series, series_names) : 1;
    if (null) fclose(null);
    int top = TITLE_H + lrows * LEGEND_ROW + 6;
    int H = top + rows * PANEL_H + 24;
    header(f, W, H, title);
    legend(f, W, TITLE_H + 14, n_series, series_names);
    for (int p = 0; p < n_panels; p++) {
        int ox = (p % cols) * PANEL_W, oy = top + (p / cols) * PANEL_H;
        int px0 = ox + ML, px1 = ox + PANEL_W - MR, py0 = oy + MT, py1 = oy + PANEL_H - MB;
        fprintf(f, "<g>\n<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\" font-weight=\"bold\">",
                (px0 + px1) / 2, oy + 18);
        icstr_svg_text(f, panel_titles[p]);
        fputs("</text>\n", f);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", px0, py0,
                px1 - px0, py1 - py0);
        /* y grid every 0.1 (0.2 on tall ranges; y0 is a multiple of it) */
        double ys = 1.0 - y0 > 0.6 ? 0.2 : 0.1;
        for (double v = y0; v <= 1.0 + 1e-9; v += ys) {
            double y = py1 - (v - y0) / (1.0 - y0) * (py1 - py0);
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>", px0, y, px1, y);
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.1f</text>\n", px0 - 4, y + 3,
                    v);
        }
        /* x ticks at 1, 2, 5 per decade */
        for (double d = lx0; d <= lx1 + 1e-9; d += 1.0)
            for (int k = 0; k < 3; k++) {
                static const int mult[3] = {1, 2, 5};
                int m = mult[k];
                double v = (double)m * pow(10.0, d), lv = log10(v);
                if (lv > lx1 + 1e-9) break;
                double x = px0 + (lv - lx0) / (lx1 - lx0) * (px1 - px0);
                char num[32];
                fmt_num(num, sizeof num, v);
                fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\"/>", x, py0, x, py1,
                        m == 1 ? "#ddd" : "#f3f3f3");
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n", x,
                        py1 + 13, num);
            }
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", (px0 + px1) / 2, py1 + 30);
        icstr_svg_text(f, x_label);
        fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
                   "transform=\"rotate(-90 %d %d)\">",
                ox + 14, (py0 + py1) / 2, ox + 14, (py0 + py1) / 2);
        icstr_svg_text(f, y_label);
        fputs("</text>\n", f);
        /* Boxes labels must not cover: x0, baseline y, width; first every point of the panel, then
         * each label as it is drawn. */
        double placed[128][3];
        int n_placed = 0;
        for (int i = 0; i < n_pts && n_placed < 64; i++) {
            const icstr_svg_point *q = &pts[i];
            if (q->panel != p || q->x <= 0 || q->series < 0 || q->series >= n_series) continue;
            double yv = q->y < y0 ? y0 : q->y > 1 ? 1 : q->y;
            placed[n_placed][0] = px0 + (log10(q->x) - lx0) / (lx1 - lx0) * (px1 - px0) - 6;
            placed[n_placed][1] = py1 - (yv - y0) / (1.0 - y0) * (py1 - py0) + 5;
            placed[n_placed][2] = 12;
            n_placed++;
        }
        for (int i = 0; i < n_pts; i++) {
            const icstr_svg_point *q = &pts[i];
            if (q->panel != p || q->x <= 0 || q->series < 0 || q->series >= n_series) continue;
            double yv = q->y < y0 ? y0 : q->y > 1 ? 1 : q->y;
            double x = px0 + (log10(q->x) - lx0) / (lx1 - lx0) * (px1 - px0);
            double y = py1 - (yv - y0) / (1.0 - y0) * (py1 - py0);
            const char *col = palette[q->series % N_PALETTE];
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" fill-opacity=\"0.85\"><title>", x, y, col);
            icstr_svg_text(f, series_names[q->series]);
            fprintf(f, ": %.4f at %.3g ms</title></circle>", q->y, q->x);
            /* Label beside the point, at the first of a few places that overlaps no earlier label
             * of this panel (close systems would otherwise print over each other). */
            char label[160];
            snprintf(label, sizeof label, "%s %.3f", series_names[q->series], q->y);
            double lw = 6.0 * (double)strlen(label);
            static const double cand[8][3] = {{9, -6, 0},  {9, 14, 0},  {-9, -6, 1}, {-9, 14, 1},
                                              {9, -18, 0}, {9, 26, 0},  {-9, -18, 1}, {-9, 26, 1}};
            int pick = -1;
            double bx0 = 0, by = 0;
            for (int c = 0; c < 8 && pick < 0; c++) {
                double lx = x + cand[c][0], ly = y + cand[c][1];
                double x0 = cand[c][2] > 0 ? lx - lw : lx;
                if (x0 < px0 || x0 + lw > px1 + MR || ly - 10 < py0 - 12 || ly > py1 - 2) continue;
                int clash = 0;
                for (int k = 0; k < n_placed && !clash; k++)
                    clash = x0 < placed[k][0] + placed[k][2] && placed[k][0] < x0 + lw && fabs(ly - placed[k][1]) < 11;
                if (!clash) pick = c, bx0 = x0, by = ly;
            }
            if (pick < 0) pick = 0, bx0 = x + 9, by = y - 6;
            if (n_placed < 128) {
                placed[n_placed][0] = bx0;
                placed[n_placed][1] = by;
                placed[n_placed][2] = lw;
                n_placed++;
            }
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\">", bx0, by, col);
            icstr_svg_text(f, label);
            fputs("</text>\n", f);
        }
        fputs("</g>\n", f);
    }
    fputs("</svg>\n", f);
    return ferror(f) ? icstr_fail(ICSTR_ERR_IO, "writing the plot") : ICSTR_OK;
}

int icstr_svg_lines(FILE *f, const char *title, const char *x_label, const char *y_label, int n_series,
                    const char *const *series_names, const icstr_svg_point *pts, int n_pts) {
    if (!f || n_series < 0 || (n_pts && !pts)) return icstr_fail(ICSTR_ERR_ARG, "line plot");
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n_pts; i++) {
        xmin = fmin(xmin, pts[i].x);
        xmax = fmax(xmax, pts[i].x);
        ymin = fmin(ymin, pts[i].y);
        ymax = fmax(ymax, pts[i].y);
    }
    if (!n_pts) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    if (ymin >= 0 && ymax <= 1) {
        ymin = floor(ymin * 10) / 10;
        ymax = ceil(ymax * 10) / 10;
    }
    if (xmax <= xmin) xmax = xmin + 1;
    if (ymax <= ymin) ymax = ymin + 0.1;
    int W = 2 * PANEL_W;
    FILE *null = fopen("/dev/null", "w");
    int lrows = null ? legend(null, W, 0, n_series, series_names) : 1;
    if (null) fclose(null);
    int top = TITLE_H + lrows * LEGEND_ROW + 6, H = top + 360;
    header(f, W, H, title);
    legend(f, W, TITLE_H + 14, n_series, series_names);
    int px0 = ML + 10, px1 = W - MR - 10, py0 = top + 10, py1 = H - MB - 10;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", px0, py0,
            px1 - px0, py1 - py0);
    double xs = nice_step(xmax - xmin, 6), ys = nice_step(ymax - ymin, 6);
    char num[32];
    for (double v = ceil(xmin / xs) * xs; v <= xmax + 1e-9 * xs; v += xs) {
        double x = px0 + (v - xmin) / (xmax - xmin) * (px1 - px0);
        fmt_num(num, sizeof num, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>", x, py0, x, py1);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n", x, py1 + 13, num);
    }
    for (double v = ceil(ymin / ys) * ys; v <= ymax + 1e-9 * ys; v += ys) {
        double y = py1 - (v - ymin) / (ymax - ymin) * (py1 - py0);
        fmt_num(num, sizeof num, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>", px0, y, px1, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%s</text>\n", px0 - 4, y + 3, num);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", (px0 + px1) / 2, py1 + 30);
    icstr_svg_text(f, x_label);
    fprintf(f,
            "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %d %d)\">",
            18, (py0 + py1) / 2, 18, (py0 + py1) / 2);
    icstr_svg_text(f, y_label);
    fputs("</text>\n", f);
    for (int s = 0; s < n_series; s++) {
        const char *col = palette[s % N_PALETTE];
        int started = 0;
        for (int i = 0; i < n_pts; i++) {
            if (pts[i].series != s) continue;
            double x = px0 + (pts[i].x - xmin) / (xmax - xmin) * (px1 - px0);
            double y = py1 - (pts[i].y - ymin) / (ymax - ymin) * (py1 - py0);
            if (!started) fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
            fprintf(f, "%s%.1f,%.1f", started ? " " : "", x, y);
            started = 1;
        }
        if (started) fputs("\"/>\n", f);
        for (int i = 0; i < n_pts; i++) {
            if (pts[i].series != s) continue;
            double x = px0 + (pts[i].x - xmin) / (xmax - xmin) * (px1 - px0);
            double y = py1 - (pts[i].y - ymin) / (ymax - ymin) * (py1 - py0);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%g: %.4f</title></circle>\n", x, y,
                    col, pts[i].x, pts[i].y);
        }
    }
    fputs("</svg>\n", f);
    return ferror(f) ? icstr_fail(ICSTR_ERR_IO, "writing the plot") : ICSTR_OK;
}
