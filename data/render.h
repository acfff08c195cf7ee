/* icstr data: the synthetic word renderer (part of icstr_data.h).
 *
 * Renders word crops that look like detector crops of scene text: a word from the text sources
 * (dictionary words in scene-text casing, numbers, prices, dates, codes, plates, punctuation),
 * drawn with one of the installed fonts (stb_truetype, kerning, tracking), with colours of enough
 * contrast, outlines, shadows, sign plates, backgrounds (flat, gradients, noise textures, patches
 * of real photos), perspective/affine warps, curved baselines, rotation, blur, noise, JPEG
 * artefacts, low resolution and loose/tight crop margins. Every crop comes with the exact box of
 * each character in the output image.
 *
 * Determinism: a crop is a pure function of (renderer inputs, seed, index, opts): the same
 * fonts/photos/word lists, seed and index give the same bytes whatever the thread or call order.
 * icstr_render_sample(r, seed, i) is crop 0 of icstr_render_episode(r, seed, i, K) for any K.
 *
 * Thread-safety: after icstr_render_create the renderer is read-only; any number of threads may
 * render with one renderer at once, each into its own icstr_render_crop.
 *
 * Character boxes: one box per NON-SPACE character of the label, in label order (box_char[i] is
 * the byte index in label of box i; spaces get no box). A box is, in the nominal flat text, the
 * glyph's ink extent horizontally and the whole word's ink extent vertically (so all boxes of a
 * word share one baseline band and a box cut gives a full-height sub-word crop); its four corners
 * and edge midpoints are mapped through every geometric transform (curve, perspective, rotation,
 * crop, scale) and the box is their bounding box, clamped to [0, w] x [0, h] (pixel edges:
 * pixel x covers [x, x+1)). A character cut off by the crop margin may have a zero-width box.
 * Box x-centres are non-decreasing along the label (layout guarantees it).
 * Like detector crops, a crop may show slivers of neighbouring text at its edges (never a whole
 * glyph); they are not in the label and have no box.
 *
 * Contact sheets for judging realism: `icstr data synth --n 64 --sheet S.png [--draw-boxes]`.
 */
#ifndef ICSTR_RENDER_H
#define ICSTR_RENDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ICSTR_RENDER_MAX_LEN 25 /* label length in characters (bytes: the charset is ASCII) */
#define ICSTR_RENDER_MAX_EPISODE 64 /* K in icstr_render_episode */

typedef struct {
    /* sources */
    const char *font_dirs; /* ':'-separated dirs scanned recursively for .ttf/.otf/.ttc;
                                NULL = "/usr/share/fonts"; "" = none (font_list only) */
    const char *font_list; /* optional file: one font path per line ('#' comments) */
    int max_fonts; /* keep at most this many faces (0 = all), in sorted path order */
    const char *photo_dirs; /* ':'-separated dirs of images for background patches; NULL = none.
                                Use TRAIN images only, never benchmark sets. */
    int max_photos; /* photos loaded at most (default 3000), spread over the sorted list */
    int photo_max_side; /* photos larger than this are downscaled at load (default 320) */
    const char *word_lists; /* ':'-separated files, one word per line; NULL = the system dicts
                                /usr/share/dict/american-english and british-english */
    /* output */
    int min_height, max_height; /* crop height range in pixels (default 20..64); a crop whose
                                   width would pass max_width is scaled down to fit, so it can
                                   be lower than min_height (never lower than 8) */
    int max_width; /* crop width limit (default 1024) */
    int min_len, max_len; /* label length range (default 1..25) */
    float difficulty; /* 0 = clean flat renders, 1 = full augmentation (default 1) */
    /* probabilities at difficulty 1 (each scaled by difficulty; defaults in the .c) */
    float p_photo; /* photo background, when photos are loaded */
    float p_plate; /* a sign plate (flat rectangle warped with the text) */
    float p_outline, p_shadow;
    float p_perspective, p_curve, p_rotate;
    float p_blur, p_motion_blur, p_noise, p_jpeg, p_lowres;
    float p_upper; /* share of dictionary words in UPPER case (default 0.45) */
    float p_document; /* share of styles that are printed documents (receipts, forms): dark ink
                         on light paper, level, mostly upper case, 10..24 px high, often a fixed-
                         pitch face; the other probabilities do not apply to them (default 0) */
} icstr_render_params;

icstr_render_params icstr_render_default_params(void);

/* Per-call knobs (a curriculum changes them without a new renderer). */
typedef struct {
    int min_len, max_len; /* 1 <= min_len <= max_len <= ICSTR_RENDER_MAX_LEN */
    float difficulty; /* clamped to [0, 1] */
    /* NULL: words as the style picks them. Else every text follows this pattern (its length
     * replaces min_len/max_len, at most ICSTR_RENDER_MAX_LEN): 'A' a capital letter, 'a' a
     * lower-case one, '9' a digit, anything else itself. A face without lower case renders
     * 'a' as capitals. An episode rendered with one pattern is one format (plates, prices). */
    const char *pattern;
    /* An episode's last crop as a twin of the one before it (K >= 2): ICSTR_TWIN_SAME, crop K-1
     * shows crop K-2's very text (drawn again in the style: other placement, jitter and noise,
     * as the same word printed twice in one domain); ICSTR_TWIN_EDITED, that text with one
     * character changed to another of its kind the face has (digit for digit, capital for
     * capital, lower case for lower case): a lookalike that is another word. 0: neither. */
    int twin;
} icstr_render_opts;

enum { ICSTR_TWIN_NONE = 0, ICSTR_TWIN_SAME = 1, ICSTR_TWIN_EDITED = 2 };

typedef struct {
    float x0, y0, x1, y1;
} icstr_render_box;

/* One rendered crop. rgb is owned by the crop and reused (grown) by later renders into the same
 * struct: zero-initialise the struct once, render many times, then icstr_render_crop_free. */
typedef struct {
    int w, h;
    unsigned char *rgb; /* (h, w, 3) */
    size_t rgb_cap; /* bytes allocated */
    char label[ICSTR_RENDER_MAX_LEN + 1]; /* printable ASCII (32..126), NUL-terminated */
    int n_boxes; /* number of non-space characters in label */
    icstr_render_box boxes[ICSTR_RENDER_MAX_LEN];
    int box_char[ICSTR_RENDER_MAX_LEN]; /* index in label of each box */
    int font_id; /* face used, 0 .. icstr_render_font_count() - 1 */
    uint64_t style_id; /* identical for the crops of one episode */
} icstr_render_crop;

typedef struct icstr_renderer icstr_renderer;

/* Discovers and validates the fonts (each must have non-empty glyphs for a-z A-Z 0-9 and common
 * punctuation; symbol, dingbat and non-Latin faces are dropped), loads the word lists and the
 * photos. Errors: ICSTR_ERR_ARG (bad params), ICSTR_ERR_NOTFOUND (no usable font, no words),
 * ICSTR_ERR_IO, ICSTR_ERR_NOMEM. */
int icstr_render_create(const icstr_render_params *p, icstr_renderer **out);
void icstr_render_free(icstr_renderer *r);

/* The opts the params asked for. */
icstr_render_opts icstr_render_default_opts(const icstr_renderer *r);

/* Renders crop `index` of `seed`. Errors: ICSTR_ERR_ARG, ICSTR_ERR_NOMEM. */
int icstr_render_sample(const icstr_renderer *r, uint64_t seed, uint64_t index, icstr_render_crop *out);
int icstr_render_sample_opts(const icstr_renderer *r, uint64_t seed, uint64_t index,
                             const icstr_render_opts *o, icstr_render_crop *out);

/* An episode: K (1..ICSTR_RENDER_MAX_EPISODE) crops of different words sharing one style (font,
 * colours, background source, distortion and effect parameters, with small per-crop jitter), as
 * crops from one domain would. outs[k].font_id and style_id are equal for all k. */
int icstr_render_episode(const icstr_renderer *r, uint64_t seed, uint64_t index, int K,
                         icstr_render_crop *outs);
int icstr_render_episode_opts(const icstr_renderer *r, uint64_t seed, uint64_t index, int K,
                              const icstr_render_opts *o, icstr_render_crop *outs);

void icstr_render_crop_free(icstr_render_crop *c);

/* Trainer convenience: renders crop (seed, index) into *scratch (reused) and writes it resized to
 * H x W as float CHW in [-1, 1] (icstr_image_to_input). The label is scratch->label. */
int icstr_render_to_input(const icstr_renderer *r, uint64_t seed, uint64_t index, const icstr_render_opts *o,
                          int H, int W, float *chw, icstr_render_crop *scratch);

/* Boxes as text for the "boxes-%09d" LMDB key: one line per box, "CHAR_INDEX X0 Y0 X1 Y1\n",
 * coordinates in output pixels with two decimals. Returns the length written (excluding the NUL)
 * or ICSTR_ERR_RANGE when cap is too small (1 + 48 bytes per box always suffice). */
int icstr_render_boxes_format(const icstr_render_crop *c, char *buf, size_t cap);
/* Parses that text (n bytes, need not be NUL-terminated) into at most max boxes.
 * Errors: ICSTR_ERR_FORMAT (malformed line), ICSTR_ERR_RANGE (more than max lines). */
int icstr_render_boxes_parse(const char *text, size_t n, icstr_render_box *boxes, int *box_char, int max,
                             int *count);

/* What the renderer loaded. */
int icstr_render_font_count(const icstr_renderer *r);
const char *icstr_render_font_path(const icstr_renderer *r, int font_id); /* NULL if out of range */
/* 1 for a fixed-pitch face (i, m, W and 0 advance alike within 2%), 0 otherwise or out of range. */
int icstr_render_font_fixed_pitch(const icstr_renderer *r, int font_id);
int icstr_render_photo_count(const icstr_renderer *r);
long icstr_render_word_count(const icstr_renderer *r);

#ifdef __cplusplus
}
#endif

#endif
