/* `icstr data synth`: renders synthetic word crops into an STR LMDB (PNG images, labels, and the
 * character boxes beside them), or into a contact sheet PNG for looking at them.
 *
 * Keys written, i = 1..N:
 *   image-%09d    PNG (RGB)
 *   label-%09d    UTF-8 (printable ASCII)
 *   boxes-%09d    text, one line per non-space character: "CHAR_INDEX X0 Y0 X1 Y1\n"
 *                 (icstr_render_boxes_format; coordinates in pixels of the stored image)
 *   episode-%09d  decimal episode number (0-based), only with --episodes K > 1; crops of one
 *                 episode share font, colours, background source and distortions
 * Crop i is a pure function of (--seed, i, K and the fonts/photos/word lists), whatever --threads. */
#include "cli.h"
#include "cli_args.h"
#include "icstr_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <stb_image_write.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: icstr data synth --n N (--out OUT.lmdb | --sheet SHEET.png) [options]\n\n"
            "Renders N synthetic word crops (fonts, colours, backgrounds, warps, blur, noise, JPEG\n"
            "artefacts) with their labels and character boxes.\n\n"
            "  --n N             crops to render (1..100000000)\n"
            "  --out DIR         STR LMDB to write (image-, label-, boxes-, episode- keys)\n"
            "  --sheet PNG       write a contact sheet of the crops instead (N <= 1024)\n"
            "  --draw-boxes      on the sheet, outline each character box\n"
            "  --episodes K      K crops per episode sharing one style (1..%d, default 1)\n"
            "  --seed S          random seed (default 1)\n"
            "  --fonts DIRS      ':'-separated font folders (default /usr/share/fonts)\n"
            "  --font-list FILE  extra font files, one path per line\n"
            "  --photos DIRS     ':'-separated folders of TRAIN images for background patches\n"
            "  --words FILES     ':'-separated word lists (default the system dictionaries)\n"
            "  --difficulty D    0 (clean) .. 1 (full augmentation, default)\n"
            "  --document P      share of styles that are printed documents (receipts, forms):\n"
            "                    dark ink on light paper (half of them thresholded to black and\n"
            "                    white), small, mostly upper case (0..1, default 0)\n"
            "  --min-len L, --max-len L     label length range (default 1..25)\n"
            "  --min-height H, --max-height H  crop height range in px (default 20..64)\n"
            "  --threads T       rendering threads (default: all cores)\n",
            ICSTR_RENDER_MAX_EPISODE);
}

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "icstr data synth: %s%s%s (icstr data synth --help)\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end) return 0;
    *out = (uint64_t)v;
    return 1;
}


/* Outlines every character box in alternating red and blue (for checking boxes by eye). */
static void outline_boxes(icstr_render_crop *c) {
    static const unsigned char col[2][3] = {{255, 0, 0}, {0, 80, 255}};
    for (int i = 0; i < c->n_boxes; i++) {
        const icstr_render_box *b = &c->boxes[i];
        int x0 = (int)b->x0, y0 = (int)b->y0, x1 = (int)b->x1 - 1, y1 = (int)b->y1 - 1;
        if (x1 < x0) x1 = x0;
        if (y1 < y0) y1 = y0;
        for (int y = y0; y <= y1 && y < c->h; y++)
            for (int x = x0; x <= x1 && x < c->w; x++)
                if (y == y0 || y == y1 || x == x0 || x == x1)
                    memcpy(c->rgb + ((size_t)y * c->w + x) * 3, col[i & 1], 3);
    }
}

typedef struct {
    icstr_render_crop crop[ICSTR_RENDER_MAX_EPISODE];
    icstr_byte_sink png[ICSTR_RENDER_MAX_EPISODE];
    int rc;
} episode_slot;

int icstr_cmd_data_synth(int argc, char **argv) {
    long n = -1, K = 1, threads = 0;
    uint64_t seed = 1;
    const char *out = NULL, *sheet_path = NULL;
    int draw_boxes = 0;
    icstr_render_params p = icstr_render_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--draw-boxes")) {
            draw_boxes = 1;
            continue;
        }
        if (i + 1 >= argc) return usage_error("missing value or unknown option", a);
        const char *v = argv[++i];
        long l;
        if (!strcmp(a, "--n")) {
            if (icstr_cli_long("icstr data synth", a, v, 1, 100000000, &n)) return 2;
        } else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--sheet"))
            sheet_path = v;
        else if (!strcmp(a, "--episodes")) {
            if (icstr_cli_long("icstr data synth", a, v, 1, ICSTR_RENDER_MAX_EPISODE, &K)) return 2;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(v, &seed)) return usage_error("--seed needs a non-negative integer", v);
        } else if (!strcmp(a, "--fonts"))
            p.font_dirs = v;
        else if (!strcmp(a, "--font-list"))
            p.font_list = v;
        else if (!strcmp(a, "--photos"))
            p.photo_dirs = v;
        else if (!strcmp(a, "--words"))
            p.word_lists = v;
        else if (!strcmp(a, "--difficulty")) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d >= 0 && d <= 1)) return usage_error("--difficulty needs 0..1", v);
            p.difficulty = (float)d;
        } else if (!strcmp(a, "--document")) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d >= 0 && d <= 1)) return usage_error("--document needs 0..1", v);
            p.p_document = (float)d;
        } else if (!strcmp(a, "--min-len") || !strcmp(a, "--max-len")) {
            if (icstr_cli_long("icstr data synth", a, v, 1, ICSTR_RENDER_MAX_LEN, &l)) return 2;
            if (a[2] == 'm' && a[3] == 'i')
                p.min_len = (int)l;
            else
                p.max_len = (int)l;
        } else if (!strcmp(a, "--min-height") || !strcmp(a, "--max-height")) {
            if (icstr_cli_long("icstr data synth", a, v, 8, 1024, &l)) return 2;
            if (a[3] == 'i')
                p.min_height = (int)l;
            else
                p.max_height = (int)l;
        } else if (!strcmp(a, "--threads")) {
            if (icstr_cli_long("icstr data synth", a, v, 0, 1024, &threads)) return 2;
        } else
            return usage_error("unknown option", a);
    }
    if (n < 0) return usage_error("--n is required", NULL);
    if (!out == !sheet_path) return usage_error("give exactly one of --out and --sheet", NULL);
    if (sheet_path && n > 1024) return usage_error("--sheet takes at most 1024 crops", NULL);
    if (p.min_len > p.max_len) return usage_error("--min-len is above --max-len", NULL);
    if (p.min_height > p.max_height) return usage_error("--min-height is above --max-height", NULL);
    if (threads > 0) omp_set_num_threads((int)threads);

    icstr_renderer *r;
    int rc = icstr_render_create(&p, &r);
    if (rc) {
        fprintf(stderr, "icstr data synth: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    icstr_str_writer *wr = NULL;
    icstr_sheet *sheet = NULL;
    if (out)
        rc = icstr_str_writer_open(out, &wr);
    else {
        icstr_sheet_params sp = icstr_sheet_default_params();
        sp.keep_aspect = 1;
        rc = icstr_sheet_create(&sp, (int)n, &sheet);
    }
    long n_ep = (n + K - 1) / K, batch = 64;
    episode_slot *slots = rc ? NULL : calloc((size_t)batch, sizeof *slots);
    if (!rc && !slots) rc = icstr_fail(ICSTR_ERR_NOMEM, "synth: buffers");
    double t0 = icstr_now_seconds(), last = t0;
    long done = 0;
    for (long e0 = 0; rc == ICSTR_OK && e0 < n_ep; e0 += batch) {
        long nb = n_ep - e0 < batch ? n_ep - e0 : batch;
#pragma omp parallel for schedule(dynamic, 1)
        for (long b = 0; b < nb; b++) {
            episode_slot *s = &slots[b];
            s->rc = icstr_render_episode(r, seed, (uint64_t)(e0 + b), (int)K, s->crop);
            if (s->rc) {
                s->rc = icstr_fail_context(s->rc, "episode %ld", e0 + b);
                fprintf(stderr, "icstr data synth: %s: %s\n", icstr_strerror(s->rc), icstr_last_error());
                continue;
            }
            if (!wr) continue;
            for (long k = 0; k < K; k++) {
                s->png[k].len = 0;
                s->png[k].failed = 0;
                const icstr_render_crop *c = &s->crop[k];
                if (!stbi_write_png_to_func(icstr_byte_sink_write, &s->png[k], c->w, c->h, 3, c->rgb, c->w * 3) ||
                    s->png[k].failed)
                    s->rc = ICSTR_ERR_NOMEM;
            }
        }
        for (long b = 0; b < nb && rc == ICSTR_OK; b++) {
            episode_slot *s = &slots[b];
            if (s->rc) {
                rc = s->rc;
                break;
            }
            for (long k = 0; k < K && done < n && rc == ICSTR_OK; k++) {
                const icstr_render_crop *c = &s->crop[k];
                if (sheet) {
                    if (draw_boxes) outline_boxes((icstr_render_crop *)c);
                    icstr_image img = {c->w, c->h, c->rgb};
                    rc = icstr_sheet_add(sheet, &img, c->label, NULL);
                } else {
                    long idx;
                    char key[32], boxes[ICSTR_RENDER_MAX_LEN * 48 + 1];
                    rc = icstr_str_writer_add(wr, s->png[k].buf, s->png[k].len, c->label, &idx);
                    int bl = rc ? 0 : icstr_render_boxes_format(c, boxes, sizeof boxes);
                    if (!rc && bl < 0) rc = bl;
                    if (!rc) {
                        snprintf(key, sizeof key, "boxes-%09ld", idx);
                        rc = icstr_str_writer_put(wr, key, boxes, (size_t)bl);
                    }
                    if (!rc && K > 1) {
                        char ep[24];
                        int el = snprintf(ep, sizeof ep, "%ld", e0 + b);
                        snprintf(key, sizeof key, "episode-%09ld", idx);
                        rc = icstr_str_writer_put(wr, key, ep, (size_t)el);
                    }
                }
                done++;
            }
        }
        double now = icstr_now_seconds();
        if (now - last > 2.0 || done == n) {
            fprintf(stderr, "synth: %ld/%ld crops, %.0f crops/s\n", done, n, done / (now - t0 + 1e-9));
            last = now;
        }
    }
    if (slots)
        for (long b = 0; b < batch; b++)
            for (int k = 0; k < ICSTR_RENDER_MAX_EPISODE; k++) {
                icstr_render_crop_free(&slots[b].crop[k]);
                icstr_byte_sink_free(&slots[b].png[k]);
            }
    free(slots);
    if (wr) {
        int crc = icstr_str_writer_close(wr);
        if (!rc) rc = crc;
    }
    if (sheet) {
        if (!rc) rc = icstr_sheet_write_png(sheet, sheet_path);
        icstr_sheet_free(sheet);
    }
    icstr_render_free(r);
    if (rc) {
        fprintf(stderr, "icstr data synth: %s: %s\n", icstr_strerror(rc), icstr_last_error());
        return 1;
    }
    fprintf(stderr, "synth: wrote %ld crops to %s in %.1f s\n", done, out ? out : sheet_path,
            icstr_now_seconds() - t0);
    return 0;
}
