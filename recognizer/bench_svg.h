/* icstr recognizer: the two plots of `icstr bench report`, written as SVG text (no plotting
 * library here): accuracy against milliseconds per crop, one panel per set and one colour per
 * system, and line charts (e.g. accuracy against prompt-pool size, one line per shot count). */
#ifndef ICSTR_BENCH_SVG_H
#define ICSTR_BENCH_SVG_H

#include <stdio.h>

typedef struct {
    int panel;       /* which panel (scatter) */
    int series;      /* which system / line: the colour and the legend entry */
    double x, y;
} icstr_svg_point;

/* Scatter panels in a grid, x on a log10 axis shared by all panels (points with x <= 0 are left
 * out), y from y_lo to 1 (y_lo: the lowest y rounded down to 0.1, at most 0.5, so close systems
 * stay apart). Each point is labelled with its series name. Errors: ICSTR_ERR_ARG, ICSTR_ERR_IO. */
int icstr_svg_scatter_panels(FILE *f, const char *title, const char *x_label, const char *y_label, int n_panels,
                             const char *const *panel_titles, int n_series, const char *const *series_names,
                             const icstr_svg_point *pts, int n_pts);

/* One line per series through its points in the given order (sort them by x first), linear axes
 * from the data's range (y clamped to [0, 1] when every y is). Errors: ICSTR_ERR_ARG, ICSTR_ERR_IO. */
int icstr_svg_lines(FILE *f, const char *title, const char *x_label, const char *y_label, int n_series,
                    const char *const *series_names, const icstr_svg_point *pts, int n_pts);

/* Writes s with &, <, >, " escaped for SVG text and attributes. */
void icstr_svg_text(FILE *f, const char *s);

#endif
