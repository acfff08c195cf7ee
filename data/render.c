/* The synthetic word renderer's public API (render.h): creation (fonts, words, photos), episodes
 * and samples, the trainer's input, and the boxes text format. The pieces: render_style.c (what
 * an episode shares), render_geom.c (layout and warp), render_bg.c (backgrounds), render_crop.c
 * (one crop), render_effects.c (pixel effects), fonts.c, words.c, render_photos.c.
 *
 * Randomness: the style of an episode comes from rng(seed, index, STYLE) and crop k's text and
 * per-crop jitter from rng(seed, index, TEXT + k) and rng(seed, index, CROP + k): crop k never
 * depends on other crops, on K, or on threads.
 */
#include "icstr_data.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_STYLE 0x5354594c45ULL
#define STREAM_TEXT 0x10000ULL
#define STREAM_CROP 0x20000ULL

icstr_render_params icstr_render_default_params(void) {
    icstr_render_params p;
    memset(&p, 0, sizeof p);
    p.font_dirs = NULL;
    p.max_photos = 3000;
    p.photo_max_side = 320;
    p.min_height = 20;
    p.max_height = 64;
    p.max_width = 1024;
    p.min_len = 1;
    p.max_len = ICSTR_RENDER_MAX_LEN;
    p.difficulty = 1.0f;
    p.p_photo = 0.3f;
    p.p_plate = 0.25f;
    p.p_outline = 0.12f;
    p.p_shadow = 0.15f;
    p.p_perspective = 0.5f;
    p.p_curve = 0.1f;
    p.p_rotate = 0.5f;
    p.p_blur = 0.45f;
    p.p_motion_blur = 0.08f;
    p.p_noise = 0.5f;
    p.p_jpeg = 0.4f;
    p.p_lowres = 0.3f;
    p.p_upper = 0.45f;
    p.p_document = 0.0f;
    return p;
}

/* ---- text for a face ---- */

/* A text that follows o->pattern (icstr_render_opts). */
static void text_from_pattern(const char *pattern, icstr_rng *r, char *out) {
    int n = 0;
    for (const char *p = pattern; *p && n < ICSTR_RENDER_MAX_LEN; p++) {
        char c = *p;
        if (c == 'A') c = (char)('A' + icstr_rng_below(r, 26));
        else if (c == 'a') c = (char)('a' + icstr_rng_below(r, 26));
        else if (c == '9') c = (char)('0' + icstr_rng_below(r, 10));
        out[n++] = c < 32 || c > 126 ? '?' : c;
    }
    out[n] = 0;
}

static void text_for_face(const icstr_renderer *R, const render_style *s, const icstr_face *f, icstr_rng *r,
                          const icstr_render_opts *o, char *out) {
    for (int t = 0; t < 16; t++) {
        if (o->pattern && *o->pattern) text_from_pattern(o->pattern, r, out);
        else icstr_words_generate(R->words, r, s->kind, s->casemode, R->p.p_upper, o->min_len, o->max_len, out);
        if (f->caps_only)
            for (char *p = out; *p; p++)
                if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
        if (icstr_face_covers(f, out)) return;
    }
    /* the face lacks something the text needs: swap those characters for letters it has */
    for (char *p = out; *p; p++)
        if (*p != ' ' && !f->glyph[(unsigned char)*p - 32]) *p = (char)('A' + icstr_rng_below(r, 26));
}

/* The text of an episode's twin crop (icstr_render_opts.twin): `of` itself, or `of` with one
 * character that has others of its kind in the face changed to one of them. */
static void twin_text(const icstr_face *f, icstr_rng *r, int twin, const char *of, char *out) {
    strcpy(out, of);
    if (twin != ICSTR_TWIN_EDITED) return;
    static const char *const kinds[] = {"0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"};
    int n = (int)strlen(out), start = n > 0 ? (int)icstr_rng_below(r, (uint32_t)n) : 0;
    for (int i = 0; i < n; i++) {
        char *c = out + (start + i) % n;
        for (int kd = 0; kd < 3; kd++) {
            const char *set = kinds[kd], *at = strchr(set, *c);
            if (!at) continue;
            int m = (int)strlen(set), from = (int)icstr_rng_below(r, (uint32_t)m);
            for (int j = 0; j < m; j++) {
                char alt = set[(from + j) % m];
                if (alt != *c && f->glyph[(unsigned char)alt - 32]) {
                    *c = alt;
                    return;
                }
            }
        }
    }
}

/* ---- public API ---- */

int icstr_render_create(const icstr_render_params *p, icstr_renderer **out) {
    if (!p || !out) return icstr_fail(ICSTR_ERR_ARG, "render create: NULL argument");
    *out = NULL;
    if (p->min_height < 8 || p->max_height < p->min_height || p->max_height > 1024)
        return icstr_fail(ICSTR_ERR_ARG, "render: height range %d..%d (need 8 <= min <= max <= 1024)",
                          p->min_height, p->max_height);
    if (p->max_width < 16 || p->max_width > 16384)
        return icstr_fail(ICSTR_ERR_ARG, "render: max_width %d (need 16..16384)", p->max_width);
    if (p->min_len < 1 || p->max_len < p->min_len || p->max_len > ICSTR_RENDER_MAX_LEN)
        return icstr_fail(ICSTR_ERR_ARG, "render: length range %d..%d (need 1 <= min <= max <= %d)",
                          p->min_len, p->max_len, ICSTR_RENDER_MAX_LEN);
    if (!(p->p_document >= 0.0f && p->p_document <= 1.0f))
        return icstr_fail(ICSTR_ERR_ARG, "render: p_document %g (need 0..1)", (double)p->p_document);
    icstr_renderer *R = calloc(1, sizeof *R);
    if (!R) return icstr_fail(ICSTR_ERR_NOMEM, "renderer");
    R->p = *p;
    R->p.font_dirs = R->p.font_list = R->p.photo_dirs = R->p.word_lists = NULL; /* not kept */
    int rc = icstr_fontset_load(p->font_dirs, p->font_list, p->max_fonts, &R->fonts);
    if (rc == ICSTR_OK) rc = icstr_words_load(p->word_lists, &R->words);
    if (rc == ICSTR_OK && p->photo_dirs && *p->photo_dirs)
        rc = icstr_photoset_load(p->photo_dirs, p->max_photos, p->photo_max_side, &R->photos);
    if (rc) {
        icstr_render_free(R);
        return rc;
    }
    ICSTR_INFO("renderer: %d font faces, %ld words, %d photos", R->fonts->n, icstr_words_count(R->words),
               R->photos ? R->photos->n : 0);
    *out = R;
    return ICSTR_OK;
}

void icstr_render_free(icstr_renderer *r) {
    if (!r) return;
    icstr_fontset_free(r->fonts);
    icstr_words_free(r->words);
    icstr_photoset_free(r->photos);
    free(r);
}

icstr_render_opts icstr_render_default_opts(const icstr_renderer *r) {
    icstr_render_opts o = {1, ICSTR_RENDER_MAX_LEN, 1.0f, NULL, ICSTR_TWIN_NONE};
    if (r) {
        o.min_len = r->p.min_len;
        o.max_len = r->p.max_len;
        o.difficulty = r->p.difficulty;
    }
    return o;
}

int icstr_render_episode_opts(const icstr_renderer *R, uint64_t seed, uint64_t index, int K,
                              const icstr_render_opts *o, icstr_render_crop *outs) {
    if (!R || !outs || K < 1 || K > ICSTR_RENDER_MAX_EPISODE)
        return icstr_fail(ICSTR_ERR_ARG, "render episode: bad arguments (K = %d)", K);
    icstr_render_opts opts = o ? *o : icstr_render_default_opts(R);
    if (opts.min_len < 1 || opts.max_len < opts.min_len || opts.max_len > ICSTR_RENDER_MAX_LEN)
        return icstr_fail(ICSTR_ERR_ARG, "render: length range %d..%d", opts.min_len, opts.max_len);
    opts.difficulty = clampf(opts.difficulty, 0, 1);
    uint64_t style_seed = render_mix(seed, index, STREAM_STYLE);
    icstr_rng sr;
    icstr_rng_seed(&sr, style_seed);
    render_style st;
    render_sample_style(R, &sr, &opts, &st);
    const icstr_face *f = &R->fonts->faces[st.font];
    for (int k = 0; k < K; k++) {
        icstr_rng tr, cr;
        icstr_rng_seed(&tr, render_mix(seed, index, STREAM_TEXT + (uint64_t)k));
        icstr_rng_seed(&cr, render_mix(seed, index, STREAM_CROP + (uint64_t)k));
        char text[ICSTR_RENDER_MAX_LEN + 1];
        if (opts.twin && K >= 2 && k == K - 1) twin_text(f, &tr, opts.twin, outs[k - 1].label, text);
        else
            for (int t = 0; t < 8; t++) { /* the words of an episode differ */
                text_for_face(R, &st, f, &tr, &opts, text);
                int dup = 0;
                for (int j = 0; j < k && !dup; j++) dup = !strcmp(outs[j].label, text);
                if (!dup) break;
            }
        int rc = render_one_crop(R, &st, &cr, opts.difficulty, text, &outs[k]);
        if (rc) return rc;
        outs[k].font_id = st.font;
        outs[k].style_id = style_seed;
    }
    return ICSTR_OK;
}

int icstr_render_episode(const icstr_renderer *r, uint64_t seed, uint64_t index, int K,
                         icstr_render_crop *outs) {
    return icstr_render_episode_opts(r, seed, index, K, NULL, outs);
}

int icstr_render_sample_opts(const icstr_renderer *r, uint64_t seed, uint64_t index,
                             const icstr_render_opts *o, icstr_render_crop *out) {
    return icstr_render_episode_opts(r, seed, index, 1, o, out);
}

int icstr_render_sample(const icstr_renderer *r, uint64_t seed, uint64_t index, icstr_render_crop *out) {
    return icstr_render_episode_opts(r, seed, index, 1, NULL, out);
}

void icstr_render_crop_free(icstr_render_crop *c) {
    if (!c) return;
    free(c->rgb);
    memset(c, 0, sizeof *c);
}

int icstr_render_to_input(const icstr_renderer *r, uint64_t seed, uint64_t index, const icstr_render_opts *o,
                          int H, int W, float *chw, icstr_render_crop *scratch_crop) {
    if (!chw || !scratch_crop) return icstr_fail(ICSTR_ERR_ARG, "render to input: NULL argument");
    int rc = icstr_render_sample_opts(r, seed, index, o, scratch_crop);
    if (rc) return rc;
    icstr_image img = {scratch_crop->w, scratch_crop->h, scratch_crop->rgb};
    return icstr_image_to_input(&img, H, W, chw);
}

int icstr_render_boxes_format(const icstr_render_crop *c, char *buf, size_t cap) {
    if (!c || !buf || cap == 0) return icstr_fail(ICSTR_ERR_ARG, "boxes format: NULL argument");
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < c->n_boxes; i++) {
        const icstr_render_box *b = &c->boxes[i];
        int k = snprintf(buf + n, cap - n, "%d %.2f %.2f %.2f %.2f\n", c->box_char[i], (double)b->x0,
                         (double)b->y0, (double)b->x1, (double)b->y1);
        if (k < 0 || (size_t)k >= cap - n) {
            buf[n] = 0;
            return icstr_fail(ICSTR_ERR_RANGE, "boxes format: buffer of %zu bytes too small", cap);
        }
        n += (size_t)k;
    }
    return (int)n;
}

int icstr_render_boxes_parse(const char *text, size_t n, icstr_render_box *boxes, int *box_char, int max,
                             int *count) {
    if (!text || !boxes || !box_char || !count)
        return icstr_fail(ICSTR_ERR_ARG, "boxes parse: NULL argument");
    *count = 0;
    size_t i = 0;
    int line = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && text[j] != '\n') j++;
        line++;
        if (j > i) {
            char tmp[160];
            if (j - i >= sizeof tmp) return icstr_fail(ICSTR_ERR_FORMAT, "boxes line %d: too long", line);
            memcpy(tmp, text + i, j - i);
            tmp[j - i] = 0;
            if (*count >= max) return icstr_fail(ICSTR_ERR_RANGE, "boxes: more than %d lines", max);
            int ci, used = 0;
            float x0, y0, x1, y1;
            if (sscanf(tmp, "%d %f %f %f %f %n", &ci, &x0, &y0, &x1, &y1, &used) != 5 || tmp[used] != 0 ||
                ci < 0 || !(x1 >= x0) || !(y1 >= y0))
                return icstr_fail(ICSTR_ERR_FORMAT, "boxes line %d: '%s'", line, tmp);
            boxes[*count] = (icstr_render_box){x0, y0, x1, y1};
            box_char[*count] = ci;
            (*count)++;
        }
        i = j + 1;
    }
    return ICSTR_OK;
}

int icstr_render_font_count(const icstr_renderer *r) { return r ? r->fonts->n : 0; }

const char *icstr_render_font_path(const icstr_renderer *r, int id) {
    if (!r || id < 0 || id >= r->fonts->n) return NULL;
    return r->fonts->faces[id].path;
}

int icstr_render_font_fixed_pitch(const icstr_renderer *r, int id) {
    return r && id >= 0 && id < r->fonts->n && r->fonts->faces[id].mono;
}

int icstr_render_photo_count(const icstr_renderer *r) { return r && r->photos ? r->photos->n : 0; }

long icstr_render_word_count(const icstr_renderer *r) { return r ? icstr_words_count(r->words) : 0; }
